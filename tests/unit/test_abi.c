/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: public structures grow without breaking callers. A caller
 * built against an older, shorter version of a structure gets the defaults
 * for the members it does not know; a structure never initialised is
 * refused; the structures the library fills in place keep their size.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* sizeof(crpc_opts) and sizeof(crpc_config) of major version 0 under LP64 */
#define CRPC_TEST_SIZEOF_OPTS 320
#define CRPC_TEST_SIZEOF_CONFIG 1048

/* Two versions of one structure, as a library and an older caller see it. */
struct v2 {
	size_t size;
	int a;
	const char *b;
	unsigned c; /* added in version 2, default 7 */
};
struct v1 {
	size_t size;
	int a;
	const char *b;
};

static void test_older_caller_gets_defaults(void **state)
{
	struct v1 old = { .size = sizeof(old), .a = 3, .b = "x" };
	struct v2 got = { .size = 0, .c = 7 };
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc__sized_take(&got, sizeof(got), &old, CRPC__END_OF(struct v1, b), "test",
					  "v_init", &err),
			 0);
	assert_null(err);
	assert_int_equal(got.size, sizeof(got));
	assert_int_equal(got.a, 3);
	assert_string_equal(got.b, "x");
	assert_int_equal(got.c, 7);
}

static void test_newer_caller_is_cut(void **state)
{
	struct v2 newer = { .size = sizeof(newer), .a = 1, .b = "y", .c = 9 };
	struct v1 got = { 0 };
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc__sized_take(&got, sizeof(got), &newer, CRPC__END_OF(struct v1, b), "test",
					  "v_init", &err),
			 0);
	assert_int_equal(got.size, sizeof(got));
	assert_int_equal(got.a, 1);
	assert_string_equal(got.b, "y");
}

static void test_uninitialised_refused(void **state)
{
	struct v1 none = { .a = 3 };
	struct v2 got = { .c = 7 };
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc__sized_take(&got, sizeof(got), &none, CRPC__END_OF(struct v1, b), "test",
					  "v_init", &err),
			 -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_int_equal(err->sys_errno, EINVAL);
	assert_non_null(strstr(err->message, "v_init()"));
	assert_int_equal(got.c, 7);
	crpc_error_free(err);
}

/* rc and *err of an entry point given a structure whose size was never set; *err freed */
static void assert_refused(int rc, crpc_error **err, const char *init)
{
	assert_int_equal(rc, -1);
	assert_non_null(*err);
	assert_int_equal((*err)->exit_class, CRPC_EXIT_USAGE);
	assert_int_equal((*err)->sys_errno, EINVAL);
	assert_non_null(strstr((*err)->message, init));
	crpc_error_free(*err);
	*err = NULL;
}

/* The library's entry points refuse a structure whose size was never set. */
static void test_entry_points_refuse_size_zero(void **state)
{
	crpc_session_config sc = { .criu_path = "/bin/false" };
	crpc_hook_context hc = { .operation = "dump", .images_dir_fd = -1 };
	crpc_session *s = NULL;
	crpc_hook_runner *r = NULL;
	crpc_hooks hooks = { 0 };
	crpc_checkpoint_params p = { .dir = "/nonexistent" };
	crpc_checkpoint_result *res = NULL, waiting = { .pid = 1, .waiting = true };
	crpc_config_source cs = { .none = true };
	crpc_shim_install_params ip = { .prefix = "/nonexistent" };
	crpc_shim_install_result ir;
	char path[64];
	int status = 0;
	crpc_error *err = NULL;

	(void)state;
	assert_refused(crpc_session_open(&s, &sc, &err), &err, "crpc_session_config_init()");
	assert_null(s);
	assert_refused(crpc_hook_runner_new(&r, &hooks, &hc, &err), &err, "crpc_hook_context_init()");
	assert_null(r);
	assert_refused(crpc_checkpoint_restore(&p, &res, &err), &err, "crpc_checkpoint_params_init()");
	assert_null(res);
	assert_refused(crpc_checkpoint_wait(&waiting, &p, &status, &err), &err,
		       "crpc_checkpoint_params_init()");
	assert_refused(crpc_config_locate(&cs, path, sizeof(path), &err), &err, "crpc_config_source_init()");
	assert_refused(crpc_shim_install(&ip, &ir, &err), &err, "crpc_shim_install_params_init()");
	assert_refused(crpc_shim_uninstall(&ip, &ir, &err), &err, "crpc_shim_install_params_init()");
	crpc_config_source_init(&cs);
	cs.none = true;
	assert_int_equal(crpc_config_locate(&cs, path, sizeof(path), &err), 0);
	assert_string_equal(path, "");
	crpc_hook_context_init(&hc);
	assert_int_equal(hc.size, sizeof(hc));
	assert_int_equal(hc.images_dir_fd, -1);
	assert_int_equal(crpc_hook_runner_new(&r, &hooks, &hc, &err), 0);
	crpc_hook_runner_free(r);
}

/* A checkpoint's parameters from an older caller: the later members keep their defaults. */
static void test_checkpoint_params_older(void **state)
{
	crpc_checkpoint_params p, got;
	crpc_error *err = NULL;

	(void)state;
	crpc_checkpoint_params_init(&p);
	p.dir = "/nonexistent";
	p.pid_wait_ms = 1;
	p.size = offsetof(crpc_checkpoint_params, pid_wait_ms);
	crpc_checkpoint_params_init(&got);
	assert_int_equal(crpc__sized_take(&got, sizeof(got), &p, CRPC__END_OF(crpc_checkpoint_params, dir),
					  "test", "crpc_checkpoint_params_init", &err),
			 0);
	assert_string_equal(got.dir, "/nonexistent");
	assert_int_equal(got.pid_wait_ms, 5000);
	assert_int_equal(got.trust_owner, (uid_t)-1);
}

/*
 * crpc_opts and crpc_config are filled in place and embedded, so their size
 * is fixed for a major version: a member added takes room from `reserved`.
 * The figures are those of the LP64 ABI of x86-64 and arm64.
 */
static void test_in_place_sizes_fixed(void **state)
{
	(void)state;
#if defined(__LP64__)
	assert_int_equal(sizeof(crpc_opts), CRPC_TEST_SIZEOF_OPTS);
	assert_int_equal(sizeof(crpc_config), CRPC_TEST_SIZEOF_CONFIG);
#else
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_older_caller_gets_defaults),
		cmocka_unit_test(test_newer_caller_is_cut),
		cmocka_unit_test(test_uninitialised_refused),
		cmocka_unit_test(test_entry_points_refuse_size_zero),
		cmocka_unit_test(test_checkpoint_params_older),
		cmocka_unit_test(test_in_place_sizes_fixed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
