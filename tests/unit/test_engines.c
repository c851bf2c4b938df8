/* SPDX-License-Identifier: MIT */
/*
 * test_engines.c - container targets: parsing "ENGINE:REF" and bare names,
 * what is a PID and what a name, and the resolution of a bare name across
 * engines (ambiguous, unknown, absent engines) with engines of the test's
 * own standing in for runc and podman.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "engines/engine.h"
#include "internal.h"

static void parses(const char *arg, const char *engine, const char *ref)
{
	crpc__target t;
	crpc_error *err = NULL;

	assert_int_equal(crpc__target_parse(arg, &t, &err), 0);
	assert_null(err);
	assert_string_equal(t.engine, engine);
	assert_string_equal(t.ref, ref);
}

static crpc_error *refused(const char *arg)
{
	crpc__target t;
	crpc_error *err = NULL;

	assert_int_equal(crpc__target_parse(arg, &t, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	return err;
}

static void test_parse_engines(void **state)
{
	(void)state;
	parses("runc:web", "runc", "web");
	parses("podman:db-1", "podman", "db-1");
	parses("podman:0123abcd", "podman", "0123abcd");
	parses("runc:1234", "runc", "1234"); /* a runc ID may be all digits */
	parses("web", "", "web");
	parses("my_app.2", "", "my_app.2");
	parses("4web", "", "4web");
	parses("web-1.2", "", "web-1.2");
}

static void test_parse_refused(void **state)
{
	crpc_error *err;

	(void)state;
	err = refused("1234"); /* a PID */
	assert_non_null(strstr(err->message, "PID"));
	crpc_error_free(err);
	err = refused("lxc:web");
	assert_non_null(strstr(err->message, "unknown engine 'lxc'"));
	assert_non_null(err->hint);
	assert_non_null(strstr(err->hint, "runc:"));
	assert_non_null(strstr(err->hint, "podman:"));
	crpc_error_free(err);
	crpc_error_free(refused(""));
	crpc_error_free(refused(":web"));
	crpc_error_free(refused("podman:"));
	crpc_error_free(refused("podman:-rf"));
	crpc_error_free(refused("podman:a/b"));
	crpc_error_free(refused("runc:../x"));
	crpc_error_free(refused("web name"));
	crpc_error_free(refused("averyveryveryverylongenginename:x"));
	{
		char longref[300];

		memset(longref, 'a', sizeof(longref) - 1);
		longref[sizeof(longref) - 1] = '\0';
		crpc_error_free(refused(longref));
	}
}

static void test_is_container(void **state)
{
	(void)state;
	assert_false(crpc_target_is_container("1"));
	assert_false(crpc_target_is_container("4242"));
	assert_false(crpc_target_is_container(""));
	assert_false(crpc_target_is_container(NULL));
	assert_false(crpc_target_is_container("-5"));
	assert_false(crpc_target_is_container("1.5"));
	assert_true(crpc_target_is_container("web"));
	assert_true(crpc_target_is_container("12a"));
	assert_true(crpc_target_is_container("runc:12"));
}

static void test_expected_warnings(void **state)
{
	(void)state;
	assert_true(crpc_container_expected_warning("namespace"));
	assert_true(crpc_container_expected_warning("namespaces"));
	assert_true(crpc_container_expected_warning("veth-peer"));
	assert_false(crpc_container_expected_warning("pipe-outside"));
	assert_false(crpc_container_expected_warning(NULL));
}

static void test_engine_table(void **state)
{
	(void)state;
	assert_ptr_equal(crpc__engine_find("runc"), &crpc__engine_runc);
	assert_ptr_equal(crpc__engine_find("podman"), &crpc__engine_podman);
	assert_null(crpc__engine_find("lxc"));
	for (const crpc__engine *const *e = crpc__engines; *e; e++) {
		assert_non_null((*e)->present);
		assert_non_null((*e)->version);
		assert_non_null((*e)->resolve);
		assert_non_null((*e)->list);
		assert_non_null((*e)->checkpoint);
		assert_non_null((*e)->restore);
	}
}

/* A bare name at engines that are not there: $CRPC_RUNC and $CRPC_PODMAN
 * name files that do not exist. */
static void test_resolve_no_engine(void **state)
{
	crpc_engine_env env;
	crpc__engine_ctx ctx;
	const crpc__engine *e = NULL;
	crpc__container c = { 0 };
	crpc__target t;
	crpc_error *err = NULL;

	(void)state;
	crpc_engine_env_init(&env);
	ctx = (crpc__engine_ctx){ .env = &env };
	setenv("CRPC_RUNC", "/nonexistent/runc", 1);
	setenv("CRPC_PODMAN", "/nonexistent/podman", 1);
	assert_int_equal(crpc__target_parse("web", &t, &err), 0);
	assert_int_equal(crpc__target_resolve(&ctx, &t, &e, &c, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_non_null(strstr(err->message, "no container engine found"));
	crpc_error_free(err);
	err = NULL;
	/* an explicit engine that is not installed: environment */
	assert_int_equal(crpc__target_parse("podman:web", &t, &err), 0);
	assert_int_equal(crpc__target_resolve(&ctx, &t, &e, &c, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_non_null(strstr(err->message, "podman not found"));
	crpc_error_free(err);
	unsetenv("CRPC_RUNC");
	unsetenv("CRPC_PODMAN");
}

/* A call directory made by crpc__engine_call_open() is what the shim finds and trusts. */
static void test_call_roundtrip(void **state)
{
	char rt[] = "/tmp/crpc-unit-rt.XXXXXX", argv0[PATH_MAX + 32], target[PATH_MAX], self[PATH_MAX];
	crpc__engine_call call;
	crpc_shim_call *sc = NULL;
	crpc_error *err = NULL;
	json_t *ctx = json_pack("{s:s, s:n, s:[s], s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}", "criu", "/opt/criu",
				"config", "hooks", "pre-dump=true", "env", "CRPC_CONTAINER_ENGINE", "runc",
				"CRPC_CONTAINER_ID", "abc", "CRPC_CONTAINER_NAME", "web", "request_options",
				"name", "tcp_established", "value", "true");
	ssize_t n;
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		skip(); /* the directories must be root's */
	assert_non_null(mkdtemp(rt));
	setenv("CRPC_RUNTIME_DIR", rt, 1);
	assert_int_equal(crpc__engine_call_open(&call, ctx, &err), 0);
	json_decref(ctx);
	/* the link leads to crpc itself (here: this test) */
	n = readlink(call.shim, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	assert_string_equal(target, self);
	assert_int_equal(stat(call.dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(crpc_shim_call_find(call.shim, &sc, &err), 1);
	assert_string_equal(crpc_shim_call_criu(sc), "/opt/criu");
	assert_null(crpc_shim_call_config(sc));
	assert_string_equal(crpc_shim_call_hooks(sc)[0], "pre-dump=true");
	assert_null(crpc_shim_call_hooks(sc)[1]);
	assert_string_equal(crpc_shim_call_request_options(sc)[0], "tcp_established=true");
	snprintf(argv0, sizeof(argv0), "%s/traces", call.dir);
	assert_string_equal(crpc_shim_call_trace_dir(sc), argv0);
	assert_int_equal(crpc_shim_call_setenv(sc), 0);
	assert_string_equal(getenv("CRPC_CONTAINER_ID"), "abc");
	assert_string_equal(getenv("CRPC_CONTAINER_NAME"), "web");
	crpc_shim_call_free(sc);
	sc = NULL;

	/* opened up to others: refused */
	assert_int_equal(chmod(call.dir, 0755), 0);
	assert_int_equal(crpc_shim_call_find(call.shim, &sc, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_null(sc);
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(chmod(call.dir, 0700), 0);
	snprintf(argv0, sizeof(argv0), "%s/%s", call.dir, CRPC__CALL_FILE);
	assert_int_equal(chmod(argv0, 0644), 0);
	assert_int_equal(crpc_shim_call_find(call.shim, &sc, &err), -1);
	crpc_error_free(err);
	err = NULL;

	/* an ordinary `criu` (no call.json beside it, or not named criu) is no call */
	assert_int_equal(crpc_shim_call_find("/usr/local/lib/crpc/criu", &sc, &err), 0);
	assert_int_equal(crpc_shim_call_find("criu", &sc, &err), 0);
	snprintf(argv0, sizeof(argv0), "%s/crpc", call.dir);
	assert_int_equal(crpc_shim_call_find(argv0, &sc, &err), 0);
	assert_null(err);

	crpc__engine_call_close(&call);
	assert_int_equal(stat(call.shim, &st), -1);
	snprintf(argv0, sizeof(argv0), "%s/calls", rt);
	assert_int_equal(rmdir(argv0), 0);
	assert_int_equal(rmdir(rt), 0);
	unsetenv("CRPC_RUNTIME_DIR");
	unsetenv("CRPC_CONTAINER_ENGINE");
	unsetenv("CRPC_CONTAINER_ID");
	unsetenv("CRPC_CONTAINER_NAME");
}

/* A runtime directory others may write to is refused. */
static void test_call_runtime_dir_refused(void **state)
{
	char rt[] = "/tmp/crpc-unit-rt.XXXXXX";
	crpc__engine_call call;
	crpc_error *err = NULL;
	json_t *ctx = json_object();

	(void)state;
	assert_non_null(mkdtemp(rt));
	assert_int_equal(chmod(rt, 0777), 0);
	setenv("CRPC_RUNTIME_DIR", rt, 1);
	assert_int_equal(crpc__engine_call_open(&call, ctx, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_non_null(strstr(err->message, "not a private directory"));
	crpc_error_free(err);
	err = NULL;
	setenv("CRPC_RUNTIME_DIR", "relative/dir", 1);
	assert_int_equal(crpc__engine_call_open(&call, ctx, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	crpc_error_free(err);
	json_decref(ctx);
	unsetenv("CRPC_RUNTIME_DIR");
	assert_int_equal(rmdir(rt), 0);
}

static void test_verdict_filter(void **state)
{
	crpc_verdict v = { 0 };

	(void)state;
	v.n_warnings = 2;
	v.warnings = calloc(2, sizeof(*v.warnings));
	v.warnings[0].name = strdup("namespaces");
	v.warnings[1].name = strdup("pipe-outside");
	v.n_blockers = 1;
	v.blockers = calloc(1, sizeof(*v.blockers));
	v.blockers[0].name = strdup("traced");
	v.n_options = 2;
	v.options = calloc(2, sizeof(*v.options));
	v.options[0].name = strdup("auto_ext_mnt");
	v.options[1].name = strdup("tcp_established");
	assert_int_equal(crpc_container_verdict_filter(&v), 1);
	assert_int_equal(v.n_warnings, 1);
	assert_string_equal(v.warnings[0].name, "pipe-outside");
	assert_int_equal(v.n_blockers, 1);
	assert_int_equal(v.n_options, 1);
	assert_string_equal(v.options[0].name, "tcp_established");
	crpc_verdict_release(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_engines),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_is_container),
		cmocka_unit_test(test_expected_warnings),
		cmocka_unit_test(test_engine_table),
		cmocka_unit_test(test_resolve_no_engine),
		cmocka_unit_test(test_verdict_filter),
		cmocka_unit_test(test_call_roundtrip),
		cmocka_unit_test(test_call_runtime_dir_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
