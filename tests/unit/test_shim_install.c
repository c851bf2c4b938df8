/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: installing the shim (crpc/shim.h, shim_install.c) in a
 * private temporary directory: which criu a PATH leads to, an install and
 * its exact undoing, a configuration that gets one line and gets its bytes
 * back, a foreign criu refused and kept aside with force, a record that
 * cannot be trusted. Needs neither root nor CRIU.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crpc/shim.h"

static char top[64];

static void path(char *buf, const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%.200s", top, rel);
}

static void write_text(const char *rel, const char *text, mode_t mode)
{
	char p[PATH_MAX];
	FILE *f;

	path(p, rel);
	f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static char *read_text(const char *rel)
{
	static char buf[4096];
	char p[PATH_MAX];
	size_t n;
	FILE *f;

	path(p, rel);
	f = fopen(p, "re");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	path(p, rel);
	return lstat(p, &st) == 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/crpc-unit-shim-install.XXXXXX");
	assert_non_null(mkdtemp(top));
	/* a real CRIU and a crpc to link to: two executables */
	write_text("real-criu", "#!/bin/sh\n", 0755);
	write_text("crpc", "#!/bin/sh\n", 0755);
	return 0;
}

static int teardown(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", "--", top, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	return 0;
}

static crpc_shim_install_params params(const char *cfg_rel)
{
	static char prefix[PATH_MAX], cfg[PATH_MAX], real[PATH_MAX], crpc[PATH_MAX];
	crpc_shim_install_params p;

	crpc_shim_install_params_init(&p);
	path(prefix, "prefix");
	path(cfg, cfg_rel);
	path(real, "real-criu");
	path(crpc, "crpc");
	p.prefix = prefix;
	p.config_path = cfg;
	p.real_criu = real;
	p.crpc_path = crpc;
	return p;
}

static void test_criu_on_path(void **state)
{
	char dirs[PATH_MAX * 3], found[PATH_MAX + 8], a[PATH_MAX], b[PATH_MAX], crpc[PATH_MAX],
		want[PATH_MAX];
	bool via = true;

	(void)state;
	path(a, "a");
	path(b, "b");
	path(crpc, "crpc");
	path(want, "b/criu");
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	/* a/criu not executable: passed over; b/criu leads to "crpc" */
	write_text("a/criu", "x", 0644);
	assert_int_equal(symlink("../crpc", want), 0);
	snprintf(dirs, sizeof(dirs), "relative:%s::%s", a, b);
	assert_true(crpc_shim_criu_on_path(dirs, crpc, found, sizeof(found), &via));
	assert_string_equal(found, want);
	assert_true(via);
	/* the real one first: found, and not crpc */
	path(want, "real-criu");
	assert_int_equal(symlink(want, strcat(strcpy(found, a), "/real")), 0);
	snprintf(dirs, sizeof(dirs), "%s", top);
	write_text("criu", "#!/bin/sh\n", 0755);
	assert_true(crpc_shim_criu_on_path(dirs, crpc, found, sizeof(found), &via));
	assert_false(via);
	assert_false(crpc_shim_criu_on_path("/nonexistent:relative", NULL, found, sizeof(found), &via));
	assert_string_equal(found, "");
	assert_false(via);
}

static void test_install_created_config_undone(void **state)
{
	crpc_shim_install_params p = params("crpc.yaml");
	crpc_shim_install_result r;
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc_shim_install(&p, &r, &err), 0);
	assert_null(err);
	assert_true(r.changed);
	assert_string_equal(r.config_action, "created");
	assert_non_null(strstr(read_text("crpc.yaml"), "binary: \""));
	assert_true(exists("prefix/sbin/criu"));
	assert_true(exists("prefix/lib/crpc/shim-install.json"));
	/* again: nothing changes */
	assert_int_equal(crpc_shim_install(&p, &r, &err), 0);
	assert_false(r.changed);
	assert_int_equal(crpc_shim_uninstall(&p, &r, &err), 0);
	assert_null(err);
	assert_string_equal(r.config_action, "removed");
	assert_false(exists("crpc.yaml"));
	assert_false(exists("prefix"));
	/* nothing left to undo */
	assert_int_equal(crpc_shim_uninstall(&p, &r, &err), 0);
	assert_false(r.changed);
}

static void test_install_edits_and_restores(void **state)
{
	const char *before = "# mine\nhooks: {}\ncriu:\n    log_level: 4\n";
	crpc_shim_install_params p = params("edit.yaml");
	crpc_shim_install_result r;
	crpc_error *err = NULL;
	char *after;

	(void)state;
	write_text("edit.yaml", before, 0640);
	assert_int_equal(crpc_shim_install(&p, &r, &err), 0);
	assert_string_equal(r.config_action, "edited");
	after = read_text("edit.yaml");
	/* one line, indented as the section's own */
	assert_non_null(strstr(after, "criu:\n    binary: \""));
	assert_non_null(strstr(after, "    log_level: 4\n"));
	assert_int_equal(crpc_shim_uninstall(&p, &r, &err), 0);
	assert_string_equal(r.config_action, "restored");
	assert_string_equal(read_text("edit.yaml"), before);
}

static void test_changed_config_left(void **state)
{
	crpc_shim_install_params p = params("changed.yaml");
	crpc_shim_install_result r;
	crpc_error *err = NULL;
	char cfg[PATH_MAX];
	FILE *f;

	(void)state;
	assert_int_equal(crpc_shim_install(&p, &r, &err), 0);
	path(cfg, "changed.yaml");
	f = fopen(cfg, "ae");
	assert_non_null(f);
	fputs("# by hand\n", f);
	fclose(f);
	assert_int_equal(crpc_shim_uninstall(&p, &r, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_FAIL);
	assert_non_null(strstr(r.left, "was changed since the install"));
	crpc_error_free(err);
	err = NULL;
	assert_true(exists("changed.yaml"));
	p.force = true;
	assert_int_equal(crpc_shim_uninstall(&p, &r, &err), 0);
	assert_false(exists("changed.yaml"));
}

static void test_foreign_criu(void **state)
{
	crpc_shim_install_params p = params("foreign.yaml");
	crpc_shim_install_result r;
	crpc_error *err = NULL;
	char sbin[PATH_MAX];

	(void)state;
	path(sbin, "prefix");
	assert_int_equal(mkdir(sbin, 0755), 0);
	path(sbin, "prefix/sbin");
	assert_int_equal(mkdir(sbin, 0755), 0);
	write_text("prefix/sbin/criu", "#!/bin/sh\necho other\n", 0755);
	assert_int_equal(crpc_shim_install(&p, &r, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_non_null(strstr(err->message, "is not crpc"));
	crpc_error_free(err);
	err = NULL;
	assert_false(exists("foreign.yaml"));
	p.force = true;
	assert_int_equal(crpc_shim_install(&p, &r, &err), 0);
	assert_string_equal(read_text("prefix/sbin/criu.crpc-saved"), "#!/bin/sh\necho other\n");
	p.force = false;
	assert_int_equal(crpc_shim_uninstall(&p, &r, &err), 0);
	assert_string_equal(read_text("prefix/sbin/criu"), "#!/bin/sh\necho other\n");
	assert_false(exists("prefix/sbin/criu.crpc-saved"));
	assert_false(exists("foreign.yaml"));
}

static void test_untrusted_record(void **state)
{
	crpc_shim_install_params p = params("rec.yaml");
	crpc_shim_install_result r;
	crpc_error *err = NULL;
	char rec[PATH_MAX];

	(void)state;
	/* what test_foreign_criu put back goes */
	path(rec, "prefix/sbin/criu");
	unlink(rec);
	assert_int_equal(crpc_shim_install(&p, &r, &err), 0);
	/* a record others may write is not followed */
	path(rec, "prefix/lib/crpc/shim-install.json");
	assert_int_equal(chmod(rec, 0666), 0);
	assert_int_equal(crpc_shim_uninstall(&p, &r, &err), -1);
	assert_non_null(strstr(err->message, "refusing to read"));
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(chmod(rec, 0600), 0);
	assert_int_equal(crpc_shim_uninstall(&p, &r, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_criu_on_path),
		cmocka_unit_test(test_install_created_config_undone),
		cmocka_unit_test(test_install_edits_and_restores),
		cmocka_unit_test(test_changed_config_left),
		cmocka_unit_test(test_foreign_criu),
		cmocka_unit_test(test_untrusted_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
