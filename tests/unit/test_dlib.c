/* SPDX-License-Identifier: MIT */
/*
 * test_dlib.c - libraries opened on first use (base/dlib.c): a library
 * that cannot be opened, or lacks a function, yields NULL and says why in
 * the caller's first empty message; it is opened once per process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/dlib.h"

/* A library that is not there: NULL, dlerror()'s words, and no second attempt. */
static void missing_library(void **state)
{
	static crpc__dlib lib = CRPC__DLIB_INIT("libcrpc-test-no-such-library.so.0");
	char why[256] = "";

	(void)state;
	assert_null(crpc__dlib_sym(&lib, "anything", why, sizeof(why)));
	assert_true(lib.tried);
	assert_null(lib.dl);
	assert_non_null(strstr(why, "libcrpc-test-no-such-library.so.0"));
	/* a message already set stays the caller's first */
	strcpy(why, "earlier");
	assert_null(crpc__dlib_sym(&lib, "other", why, sizeof(why)));
	assert_string_equal(why, "earlier");
	/* no room for a message: none written */
	assert_null(crpc__dlib_sym(&lib, "other", NULL, 0));
}

/* A library without the function: NULL and its name; with it: the function itself. */
static void symbols(void **state)
{
	static crpc__dlib lib = CRPC__DLIB_INIT("libc.so.6");
	struct {
		pid_t (*getpid)(void);
		int (*absent)(void);
		char why[128];
	} t = { 0 };
	char why[128] = "";

	(void)state;
	assert_null(crpc__dlib_sym(&lib, "crpc_test_no_such_function", why, sizeof(why)));
	assert_string_equal(why, "libc.so.6 has no crpc_test_no_such_function");
	CRPC__DLIB_LOAD(&lib, t, getpid, "getpid");
	assert_non_null(t.getpid);
	assert_int_equal(t.getpid(), getpid());
	assert_string_equal(t.why, "");
	CRPC__DLIB_LOAD(&lib, t, absent, "crpc_test_absent");
	assert_null(t.absent);
	assert_string_equal(t.why, "libc.so.6 has no crpc_test_absent");
	/* the library stays open, the same handle for every lookup */
	{
		void *dl = lib.dl;

		assert_non_null(crpc__dlib_sym(&lib, "getppid", NULL, 0));
		assert_ptr_equal(lib.dl, dl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_library),
		cmocka_unit_test(symbols),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
