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
	assert_true(crpc_target_is_container("web"));
	assert_true(crpc_target_is_container("12a"));
	assert_true(crpc_target_is_container("runc:12"));
}

static void test_expected_warnings(void **state)
{
	(void)state;
	assert_true(crpc_container_expected_warning("namespace"));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_engines), cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_is_container),  cmocka_unit_test(test_expected_warnings),
		cmocka_unit_test(test_engine_table),  cmocka_unit_test(test_resolve_no_engine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
