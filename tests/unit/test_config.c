/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - the YAML configuration: every kind of malformed file is
 * refused with its position, a full file is read into the right fields,
 * the file is located in the documented order, files and hook programs are
 * refused when running as root and unsafe, --hook arguments, durations, and
 * the example config/crpc.yaml.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
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

#include "crpc/config.h"
#include "parse.h"

#ifndef CRPC_TEST_DATA
#error "CRPC_TEST_DATA must name the tests/data directory"
#endif

#define DATA CRPC_TEST_DATA "/config/"
#define EXAMPLE CRPC_TEST_DATA "/../../config/crpc.yaml"

#define NOBODY 65534

/* ---- helpers ------------------------------------------------------------ */

/* Scratch directory of the whole run (mode 0700, owned by whoever runs us). */
static char tmpdir[] = "/tmp/crpc-test-config.XXXXXX";

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	(void)state;
	umask(022);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/name, in a static buffer per call site (callers copy if needed). */
static char *tmp_path(char *buf, size_t bufsz, const char *name)
{
	int n = snprintf(buf, bufsz, "%s/%s", tmpdir, name);

	assert_true(n > 0 && (size_t)n < bufsz);
	return buf;
}

/* a + b into buf, which must be large enough. */
static void cat_path(char *buf, size_t bufsz, const char *a, const char *b)
{
	int n = snprintf(buf, bufsz, "%s%s", a, b);

	assert_true(n > 0 && (size_t)n < bufsz);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_whole(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	buf[st.st_size] = '\0';
	fclose(f);
	*len = (size_t)st.st_size;
	return buf;
}

/*
 * Copy tests/data/config/name into the scratch directory: when the tests run
 * as root, the file must be owned by root and not group-writable, whoever
 * owns the checkout.
 */
static void copy_data(const char *name, char *out, size_t outsz)
{
	char src[PATH_MAX];
	size_t len;
	char *text;

	snprintf(src, sizeof(src), DATA "%s", name);
	text = read_whole(src, &len);
	tmp_path(out, outsz, name);
	write_file(out, text, len, 0644);
	free(text);
}

/* Position "PATH:LINE:COL: " at the start of a message; 0:0 if there is none. */
static void message_pos(const char *msg, const char *path, unsigned *line, unsigned *col)
{
	size_t n = strlen(path);

	*line = 0;
	*col = 0;
	if (strncmp(msg, path, n) == 0 && msg[n] == ':')
		assert_int_equal(sscanf(msg + n + 1, "%u:%u:", line, col), 2);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

/* A configuration with nothing in it: what every failed load must leave. */
static void assert_pristine(const crpc_config *c)
{
	assert_null(c->path);
	assert_null(c->priv);
	assert_null(c->criu_binary);
	assert_int_equal(c->criu_log_level, -1);
	assert_int_equal(c->dump.log_level, -1);
	assert_int_equal(c->dump.n_external, 0);
	assert_null(c->dump.external);
	assert_null(c->restore.inherit_fd);
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++) {
		assert_null(c->hooks.steps[k]);
		assert_int_equal(c->hooks.n_steps[k], 0);
	}
}

/* Load path, expect a usage error containing `want` (and `also`) at line:col. */
static void expect_load_error(const char *path, const char *want, const char *also, unsigned line,
			      unsigned col)
{
	crpc_config c;
	crpc_error *err = NULL;
	unsigned l, cl;

	assert_int_equal(crpc_config_load(&c, path, &err), -1);
	assert_non_null(err);
	assert_non_null(err->message);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_contains(err->message, want);
	if (also)
		assert_contains(err->message, also);
	message_pos(err->message, path, &l, &cl);
	if (l != line || cl != col)
		fail_msg("%s: expected position %u:%u, got %u:%u", err->message, line, col, l, cl);
	assert_pristine(&c);
	crpc_config_release(&c); /* releasing again is harmless */
	crpc_error_free(err);
}

static const crpc_hook_step *step(const crpc_config *c, crpc_notify_kind k, size_t i)
{
	assert_true(i < c->hooks.n_steps[k]);
	return &c->hooks.steps[k][i];
}

/* ---- malformed files ------------------------------------------------------ */

static const struct bad_case {
	const char *file;
	const char *want;
	const char *also;
	unsigned line, col;
} bad_cases[] = {
	{ "bad-unknown-key.yaml", "unknown key 'tcp_establised' in dump", "did you mean 'tcp_established'?",
	  4, 3 },
	{ "bad-unknown-section.yaml", "unknown section 'hook'", "did you mean 'hooks'?", 1, 1 },
	{ "bad-step-key.yaml", "unknown key 'tiemout' in a hook step", "did you mean 'timeout'?", 4, 7 },
	{ "bad-wrong-section.yaml", "key 'root' only applies to restore", "restore: section", 3, 3 },
	{ "bad-wrong-section-restore.yaml", "key 'leave_running' only applies to dump", NULL, 2, 3 },
	{ "bad-bool.yaml", "key 'leave_running': expected true or false, got 'yes please'", NULL, 2, 18 },
	{ "bad-bool-quoted.yaml", "key 'shell_job': expected true or false", "quoted string \"true\"", 2,
	  14 },
	{ "bad-int.yaml", "key 'log_level': expected an integer from 0 to 4, got 'verbose'", NULL, 2, 14 },
	{ "bad-int-range.yaml", "expected an integer from 0 to 4, got '7'", NULL, 2, 14 },
	{ "bad-list.yaml", "key 'external': expected a list of strings, got 'mnt[]:sm'", NULL, 2, 13 },
	{ "bad-list-item.yaml", "key 'skip_mnt', item 2: expected a non-empty string", "got a mapping", 4,
	  7 },
	{ "bad-mapping.yaml", "section 'criu': expected a mapping", "got '/usr/sbin/criu'", 1, 7 },
	{ "bad-null-string.yaml", "key 'root': expected a string, got an empty value", NULL, 2, 8 },
	{ "bad-duration.yaml", "key 'timeout': invalid duration '5 minutes'", "500ms", 4, 16 },
	{ "bad-size.yaml", "key 'ghost_limit': invalid size '10X'", NULL, 2, 16 },
	{ "bad-size-range.yaml", "key 'ghost_limit': size '8G' is too large", NULL, 2, 16 },
	{ "bad-duplicate-key.yaml", "duplicate key 'tcp_established'", "first at line 2, column 3", 4, 3 },
	{ "bad-duplicate-callback.yaml", "duplicate key 'pre-dump'", "first at line 2, column 3", 6, 3 },
	{ "bad-tab.yaml", "tabs are not allowed for indentation", NULL, 2, 1 },
	{ "bad-tab-after-spaces.yaml", "tabs are not allowed for indentation", NULL, 4, 3 },
	{ "bad-callback.yaml", "unknown callback 'pre-dumpp'", "did you mean 'pre-dump'?", 2, 3 },
	{ "bad-callback-unrelated.yaml", "unknown callback 'before-checkpoint'",
	  "pre-stream, pre-dump, post-dump, pre-restore, post-restore, network-lock, "
	  "network-unlock, setup-namespaces, post-setup-namespaces, pre-resume, post-resume, "
	  "orphan-pts-master, status-ready, query-ext-files",
	  2, 3 },
	{ "bad-empty.yaml", "bad-empty.yaml is empty", NULL, 0, 0 },
	{ "bad-blank.yaml", "bad-blank.yaml is empty", NULL, 0, 0 },
	{ "bad-comments.yaml", "holds only comments and blank lines", NULL, 0, 0 },
	{ "bad-utf8.yaml", "invalid UTF-8 (byte 0xe9)", NULL, 2, 17 },
	{ "bad-alias.yaml", "anchors and aliases (&ext, *ext) are not supported", NULL, 2, 13 },
	{ "bad-alias-only.yaml", "aliases (*ext) are not supported", NULL, 2, 13 },
	{ "bad-tag.yaml", "YAML tags (!!str) are not supported", NULL, 2, 9 },
	{ "bad-two-documents.yaml", "a second YAML document starts here", NULL, 3, 1 },
	{ "bad-top-level-list.yaml", "the top level must be a mapping of sections", "got a list", 1, 1 },
	{ "bad-top-level-scalar.yaml", "the top level must be a mapping of sections", "got 'leave_running'",
	  1, 1 },
	{ "bad-empty-document.yaml", "the top level must be a mapping", "got an empty document", 2, 1 },
	{ "bad-syntax.yaml", "invalid YAML: did not find expected key", "line 1, column 1", 3, 2 },
	{ "bad-run-and-shell.yaml", "a step takes either run: or shell:, not both", NULL, 4, 7 },
	{ "bad-step-neither.yaml", "post-restore step 1 has neither run: nor shell:", NULL, 3, 7 },
	{ "bad-step-string.yaml",
	  "post-resume step 1: expected a mapping with run: or shell:", "write shell:", 3, 7 },
	{ "bad-steps-mapping.yaml", "callback 'pre-dump': expected a list of steps", "got a mapping", 3, 5 },
	{ "bad-run-empty.yaml", "key 'run': the list is empty", NULL, 3, 12 },
	{ "bad-run-string.yaml", "key 'run': expected a list of strings", "use shell:", 3, 12 },
	{ "bad-on-failure.yaml", "key 'on_failure': expected abort, warn or ignore, got 'retry'", NULL, 4,
	  19 },
	{ "bad-env-not-mapping.yaml", "key 'env': expected a mapping", "got a list", 4, 12 },
	{ "bad-env-name.yaml", "env: '2FAST' is not a valid variable name", NULL, 6, 9 },
	{ "bad-timeout-zero.yaml", "key 'timeout': must be more than 0", NULL, 4, 16 },
	{ "bad-log-file.yaml", "key 'log_file': expected a file name without '/'", NULL, 2, 13 },
	{ "bad-empty-ns.yaml", "key 'empty_ns': expected net or false, got 'true'", NULL, 2, 13 },
	{ "bad-cg-mode.yaml", "key 'manage_cgroups_mode': invalid cgroup mode 'loose'",
	  "expected none, props, soft, full, strict, ignore or default", 2, 24 },
	{ "bad-network-lock.yaml", "key 'network_lock': invalid network lock method 'ebtables'",
	  "expected iptables, nftables or skip", 2, 17 },
	{ "bad-inherit-fd.yaml", "key 'inherit_fd', item 2: needs both key: and fd:", NULL, 5, 7 },
	{ "bad-cg-root.yaml", "key 'cg_root', item 1: needs path:", NULL, 3, 7 },
	{ "bad-first-error.yaml", "key 'tcp_established': expected true or false, got 'maybe'", NULL, 3, 20 },
	{ "bad-nul-escape.yaml", "the value contains a NUL character", NULL, 2, 9 },
};

static void test_bad_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		char path[PATH_MAX];

		copy_data(bc->file, path, sizeof(path));
		expect_load_error(path, bc->want, bc->also, bc->line, bc->col);
	}
}

/* Every bad-*.yaml in the data directory has a case above. */
static void test_bad_files_all_covered(void **state)
{
	DIR *d = opendir(DATA);
	struct dirent *de;
	size_t n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		bool found = false;

		if (strncmp(de->d_name, "bad-", 4) != 0 || len < 5 ||
		    strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]) && !found; i++)
			found = strcmp(bad_cases[i].file, de->d_name) == 0;
		if (!found)
			fail_msg("%s has no case in bad_cases[]", de->d_name);
		n++;
	}
	closedir(d);
	assert_int_equal(n, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

static void test_binary_file(void **state)
{
	static const char bin[] = "dump:\n  leave_running: true\n\x7f"
				  "ELF\x02\x01\x01\0\0\0\0";
	char path[PATH_MAX];

	(void)state;
	tmp_path(path, sizeof(path), "binary.yaml");
	write_file(path, bin, sizeof(bin) - 1, 0644);
	expect_load_error(path, "NUL byte", "binary file", 3, 8);
}

static void test_too_large(void **state)
{
	size_t max = CRPC_CONFIG_MAX_SIZE;
	char *text = malloc(max + 2);
	char path[PATH_MAX];
	crpc_config c;
	crpc_error *err = NULL;

	(void)state;
	assert_non_null(text);
	/* exactly the limit is accepted ... */
	memset(text, '#', max);
	memcpy(text, "dump: {}\n", 9);
	for (size_t i = 100; i < max; i += 100)
		text[i] = '\n';
	tmp_path(path, sizeof(path), "large.yaml");
	write_file(path, text, max, 0644);
	assert_int_equal(crpc_config_load(&c, path, NULL), 0);
	crpc_config_release(&c);
	/* ... one byte more is not, from a file or from memory */
	text[max] = '\n';
	write_file(path, text, max + 1, 0644);
	expect_load_error(path, "is too large", "at most 1 MiB", 0, 0);
	assert_int_equal(crpc_config_parse(&c, "mem.yaml", text, max + 1, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_contains(err->message, "mem.yaml is too large");
	assert_pristine(&c);
	crpc_error_free(err);
	free(text);
}

static void test_not_regular(void **state)
{
	char path[PATH_MAX];
	crpc_config c;
	crpc_error *err = NULL;

	(void)state;
	expect_load_error(tmpdir, "is a directory, not a regular file", NULL, 0, 0);
	tmp_path(path, sizeof(path), "fifo.yaml");
	assert_int_equal(mkfifo(path, 0644), 0);
	/* must not block waiting for a writer */
	expect_load_error(path, "is a special file, not a regular file", NULL, 0, 0);
	tmp_path(path, sizeof(path), "missing.yaml");
	assert_int_equal(crpc_config_load(&c, path, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_int_equal(err->sys_errno, ENOENT);
	assert_contains(err->message, "cannot open configuration file");
	assert_pristine(&c);
	crpc_error_free(err);
}

/* ---- good files ----------------------------------------------------------- */

static void assert_strv(const crpc_strv *l, size_t n, ...)
{
	va_list ap;

	assert_int_equal(l->n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->v[i], va_arg(ap, const char *));
	va_end(ap);
}

static void test_full_config(void **state)
{
	char path[PATH_MAX];
	const crpc_hook_step *s;
	const crpc_opts *d, *r;
	crpc_config c;
	crpc_error *err = NULL;

	(void)state;
	copy_data("good-full.yaml", path, sizeof(path));
	if (crpc_config_load(&c, path, &err) < 0)
		fail_msg("%s", err->message);
	assert_string_equal(c.path, path);
	assert_string_equal(c.criu_binary, "/usr/local/sbin/criu");
	assert_int_equal(c.criu_log_level, 3);
	assert_string_equal(c.criu_log_file, "criu.log");
	assert_string_equal(c.trace_dir, "/var/log/crpc/trace");

	d = &c.dump;
	assert_true(d->leave_running);
	assert_false(d->leave_stopped);
	assert_true(d->tcp_established);
	assert_true(d->tcp_close);
	assert_true(d->tcp_skip_in_flight);
	assert_true(d->ext_unix_sk);
	assert_true(d->shell_job);
	assert_true(d->file_locks);
	assert_true(d->link_remap);
	assert_true(d->evasive_devices);
	assert_false(d->orphan_pts_master);
	assert_true(d->ghost_limit_set);
	assert_int_equal(d->ghost_limit, 10u << 20);
	assert_true(d->manage_cgroups);
	assert_int_equal(d->manage_cgroups_mode, CRPC_CG_SOFT);
	assert_int_equal(d->network_lock, CRPC_NETLOCK_NFTABLES);
	assert_int_equal(d->timeout, 2); /* 1.5s rounded up to whole seconds */
	assert_null(d->root);
	assert_int_equal(d->n_external, 2);
	assert_string_equal(d->external[0], "mnt[]:sm");
	assert_string_equal(d->external[1], "dev[8/1]:disk");
	assert_strv(&d->skip_mnt, 1, "/proc/sys/fs/binfmt_misc");
	assert_strv(&d->enable_fs, 2, "fuse", "nfs");
	assert_strv(&d->irmap_scan_paths, 1, "/var/lib");
	assert_strv(&d->cgroup_dump_controller, 2, "cpu", "memory");
	assert_int_equal(d->n_cg_root, 1);
	assert_null(d->cg_root[0].ctrl);
	assert_string_equal(d->cg_root[0].path, "/machine.slice");
	assert_true(d->auto_ext_mnt);
	assert_true(d->ext_sharing);
	assert_true(d->ext_masters);
	assert_true(d->force_irmap);
	assert_true(d->auto_dedup);
	assert_int_equal(d->empty_ns, CLONE_NEWNET);
	assert_string_equal(d->parent_img, "../pre");
	assert_string_equal(d->cgroup_props,
			    "\"cpu\": {\"strategy\": \"merge\", \"properties\": [\"cpu.shares\"]}");
	assert_string_equal(d->cgroup_props_file, "/etc/crpc/cgroup-props.yaml");
	assert_string_equal(d->cgroup_yard, "/run/crpc/yard");
	assert_string_equal(d->freeze_cgroup, "/sys/fs/cgroup/app");
	assert_int_equal(d->log_level, 4);
	assert_string_equal(d->log_file, "dump.log");
	assert_int_equal(d->pid, 0);
	assert_int_equal(d->images_dir_fd, -1);

	r = &c.restore;
	assert_false(r->leave_running);
	assert_true(r->leave_stopped);
	assert_true(r->tcp_established);
	assert_false(r->tcp_close);
	assert_true(r->ext_unix_sk);
	assert_true(r->shell_job);
	assert_true(r->file_locks);
	assert_true(r->link_remap);
	assert_true(r->orphan_pts_master);
	assert_true(r->skip_file_rwx_check);
	assert_false(r->ghost_limit_set);
	assert_false(r->manage_cgroups);
	assert_int_equal(r->manage_cgroups_mode, CRPC_CG_FULL);
	assert_int_equal(r->network_lock, CRPC_NETLOCK_SKIP);
	assert_int_equal(r->timeout, 120);
	assert_string_equal(r->root, "/srv/rootfs");
	assert_int_equal(r->n_external, 1);
	assert_string_equal(r->external[0], "veth[eth0]:veth-app@br0");
	assert_int_equal(r->n_inherit_fd, 2);
	assert_string_equal(r->inherit_fd[0].key, "pipe:[4242]");
	assert_int_equal(r->inherit_fd[0].fd, 3);
	assert_string_equal(r->inherit_fd[1].key, "file[14:2801]");
	assert_int_equal(r->inherit_fd[1].fd, 7);
	assert_int_equal(r->n_cg_root, 2);
	assert_string_equal(r->cg_root[0].ctrl, "cpu");
	assert_string_equal(r->cg_root[0].path, "/restored");
	assert_null(r->cg_root[1].ctrl);
	assert_string_equal(r->cg_root[1].path, "/all");
	assert_true(r->auto_ext_mnt);
	assert_true(r->weak_sysctls);
	assert_true(r->mntns_compat_mode);
	assert_int_equal(r->empty_ns, 0);
	assert_string_equal(r->lsm_profile, "apparmor:crpc-restored");
	assert_string_equal(r->lsm_mount_context, "system_u:object_r:container_file_t:s0");
	assert_string_equal(r->cgroup_yard, "/run/crpc/yard");
	assert_int_equal(r->log_level, 2);
	assert_string_equal(r->log_file, "restore.log");
	assert_int_equal(r->skip_mnt.n, 0);

	/* hooks, in file order, with everything they carry */
	assert_int_equal(c.hooks.n_steps[CRPC_NOTIFY_PRE_DUMP], 2);
	s = step(&c, CRPC_NOTIFY_PRE_DUMP, 0);
	assert_string_equal(s->name, "quiesce");
	assert_int_equal(s->kind, CRPC_STEP_RUN);
	assert_string_equal(s->argv[0], "/usr/local/sbin/app-quiesce");
	assert_string_equal(s->argv[1], "--timeout");
	assert_string_equal(s->argv[2], "5");
	assert_null(s->argv[3]);
	assert_null(s->shell);
	assert_int_equal(s->timeout_ms, 10000);
	assert_int_equal(s->on_failure, CRPC_ON_FAILURE_ABORT);
	assert_non_null(s->env);
	assert_string_equal(s->env[0], "APP_MODE=checkpoint");
	assert_string_equal(s->env[1], "EMPTY=");
	assert_null(s->env[2]);
	assert_string_equal(s->cwd, "/var/lib/app");
	{
		char origin[PATH_MAX + 32];

		snprintf(origin, sizeof(origin), "%s:83:7", path);
		assert_string_equal(s->origin, origin);
	}
	s = step(&c, CRPC_NOTIFY_PRE_DUMP, 1);
	assert_string_equal(s->name, "pre-dump[2]");
	assert_int_equal(s->kind, CRPC_STEP_SHELL);
	assert_null(s->argv);
	assert_string_equal(s->shell, "logger -t crpc \"dump of $CRPC_PID starting\"");
	assert_int_equal(s->timeout_ms, CRPC_HOOK_DEFAULT_TIMEOUT_MS);
	assert_int_equal(s->on_failure, CRPC_ON_FAILURE_IGNORE);
	assert_null(s->env);
	assert_null(s->cwd);
	assert_non_null(strstr(s->origin, ":91:7"));

	s = step(&c, CRPC_NOTIFY_POST_DUMP, 0);
	assert_string_equal(s->name, "post-dump[1]");
	assert_string_equal(s->argv[0], "sync");
	assert_null(s->argv[1]);
	assert_int_equal(s->on_failure, CRPC_ON_FAILURE_WARN);
	assert_int_equal(s->timeout_ms, 500);
	assert_non_null(strstr(s->origin, ":94:7"));

	s = step(&c, CRPC_NOTIFY_NETWORK_UNLOCK, 0);
	assert_string_equal(s->shell, "echo unlocked");
	assert_int_equal(s->on_failure, CRPC_ON_FAILURE_DEFAULT);

	s = step(&c, CRPC_NOTIFY_POST_RESUME, 0);
	assert_int_equal(s->timeout_ms, 3600000);
	assert_int_equal(c.hooks.n_steps[CRPC_NOTIFY_QUERY_EXT_FILES], 1);
	assert_int_equal(c.hooks.n_steps[CRPC_NOTIFY_PRE_RESTORE], 0);
	assert_null(c.hooks.steps[CRPC_NOTIFY_PRE_RESTORE]);

	crpc_config_release(&c);
	assert_pristine(&c);
}

static void test_minimal_config(void **state)
{
	char path[PATH_MAX];
	crpc_config c;
	size_t total = 0;

	(void)state;
	copy_data("good-minimal.yaml", path, sizeof(path));
	assert_int_equal(crpc_config_load(&c, path, NULL), 0);
	assert_true(c.dump.leave_running);
	assert_null(c.criu_binary);
	assert_int_equal(c.criu_log_level, -1);
	assert_null(c.trace_dir);
	assert_int_equal(c.dump.log_level, -1);
	assert_int_equal(c.dump.manage_cgroups_mode, CRPC_CG_UNSET);
	assert_int_equal(c.dump.network_lock, CRPC_NETLOCK_UNSET);
	assert_false(c.restore.shell_job);
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++)
		total += c.hooks.n_steps[k];
	assert_int_equal(total, 0);
	crpc_config_release(&c);

	copy_data("good-empty-sections.yaml", path, sizeof(path));
	assert_int_equal(crpc_config_load(&c, path, NULL), 0);
	assert_null(c.criu_binary);
	assert_int_equal(c.hooks.n_steps[CRPC_NOTIFY_PRE_DUMP], 0);
	crpc_config_release(&c);
}

static void test_parse_from_memory(void **state)
{
	static const char text[] = "\xef\xbb\xbf" /* a UTF-8 BOM is fine */
				   "restore:\n  shell_job: ON\n  root: \"/srv/caf\xc3\xa9\"\n";
	const char *text2;
	crpc_config c;
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc_config_parse(&c, "inline", text, sizeof(text) - 1, NULL), 0);
	assert_true(c.restore.shell_job);
	assert_string_equal(c.restore.root, "/srv/caf\xc3\xa9");
	assert_null(c.path);
	crpc_config_release(&c);

	/* the name given is used in messages; columns count characters, not bytes */
	text2 = "restore:\n  root: \xc3\xa9\n  bad: 1\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text2, strlen(text2), &err), -1);
	assert_contains(err->message, "inline:3:3: unknown key 'bad' in restore");
	crpc_error_free(err);
	err = NULL;
	text2 = "dump:\n  external: [\xc3\xa9, [x]]\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text2, strlen(text2), &err), -1);
	assert_contains(err->message, "inline:2:17: key 'external', item 2");
	crpc_error_free(err);
}

static void test_signing_section(void **state)
{
	const char *text = "signing:\n  key: /root/k\n  trusted_keys: /srv/keys\n  require: yes\n";
	crpc_config c;
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), NULL), 0);
	assert_string_equal(c.signing_key, "/root/k");
	assert_string_equal(c.trusted_keys, "/srv/keys");
	assert_true(c.require_signature);
	crpc_config_release(&c);
	/* an empty key: sign nothing */
	text = "signing:\n  key: \"\"\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), NULL), 0);
	assert_string_equal(c.signing_key, "");
	assert_null(c.trusted_keys);
	assert_false(c.require_signature);
	crpc_config_release(&c);
	text = "signing:\n  requre: true\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), &err), -1);
	assert_contains(err->message, "inline:2:3: unknown key 'requre' in signing");
	crpc_error_free(err);
	err = NULL;
	text = "signing:\n  require: 3\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), &err), -1);
	assert_contains(err->message, "require");
	crpc_error_free(err);
}

static void test_integrity_section(void **state)
{
	const char *text = "integrity:\n  digest: sha256\n";
	crpc_config c;
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), NULL), 0);
	assert_int_equal(c.digest, CRPC_DIGEST_SHA256);
	crpc_config_release(&c);
	text = "integrity:\n  digest: blake3\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), NULL), 0);
	assert_int_equal(c.digest, CRPC_DIGEST_BLAKE3);
	crpc_config_release(&c);
	/* unset: the default, which a dump resolves to BLAKE3 */
	text = "integrity: {}\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), NULL), 0);
	assert_int_equal(c.digest, CRPC_DIGEST_DEFAULT);
	crpc_config_release(&c);
	text = "integrity:\n  digest: md5\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), &err), -1);
	assert_contains(err->message, "inline:2:11: key 'digest': blake3 or sha256, got 'md5'");
	crpc_error_free(err);
	err = NULL;
	text = "integrity:\n  digests: sha256\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), &err), -1);
	assert_contains(err->message, "inline:2:3: unknown key 'digests' in integrity");
	crpc_error_free(err);
	err = NULL;
	text = "integrity: sha256\n";
	assert_int_equal(crpc_config_parse(&c, "inline", text, strlen(text), &err), -1);
	assert_contains(err->message, "section 'integrity'");
	crpc_error_free(err);
}

/* ---- permissions (root only) --------------------------------------------- */

static void test_permissions_file(void **state)
{
	char path[PATH_MAX];
	crpc_config c;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	copy_data("good-minimal.yaml", path, sizeof(path));
	assert_int_equal(crpc_config_load(&c, path, NULL), 0);
	crpc_config_release(&c);

	assert_int_equal(chmod(path, 0666), 0);
	expect_load_error(path,
			  "is writable by group/others; refusing it when running as root "
			  "(like sudo and ssh): chmod go-w",
			  NULL, 0, 0);
	assert_int_equal(chmod(path, 0664), 0);
	expect_load_error(path, "is writable by group/others", NULL, 0, 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	expect_load_error(path, "is owned by uid 65534, not root; refusing it when running as root",
			  "chown root", 0, 0);

	/* the same text from memory is not checked: there is no file */
	assert_int_equal(crpc_config_parse(&c, path, "dump: {}\n", 9, NULL), 0);
	crpc_config_release(&c);
}

static void test_permissions_symlink(void **state)
{
	char path[PATH_MAX], link[PATH_MAX];
	crpc_config c;

	(void)state;
	copy_data("good-minimal.yaml", path, sizeof(path));
	tmp_path(link, sizeof(link), "link.yaml");
	unlink(link);
	assert_int_equal(symlink(path, link), 0);
	/* a symlink is followed; its target is what gets checked */
	assert_int_equal(crpc_config_load(&c, link, NULL), 0);
	assert_string_equal(c.path, link);
	crpc_config_release(&c);
	if (geteuid() != 0)
		return;
	assert_int_equal(chmod(path, 0646), 0);
	expect_load_error(link, "is writable by group/others", NULL, 0, 0);
}

static void test_permissions_run(void **state)
{
	char prog[PATH_MAX], path[PATH_MAX], text[2 * PATH_MAX];
	crpc_config c;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	tmp_path(prog, sizeof(prog), "hook.sh");
	write_file(prog, "#!/bin/sh\nexit 0\n", 17, 0755);
	snprintf(text, sizeof(text), "hooks:\n  post-dump:\n    - run: [%s, --flag]\n", prog);
	tmp_path(path, sizeof(path), "run.yaml");
	write_file(path, text, strlen(text), 0644);
	assert_int_equal(crpc_config_load(&c, path, NULL), 0);
	assert_string_equal(c.hooks.steps[CRPC_NOTIFY_POST_DUMP][0].argv[0], prog);
	crpc_config_release(&c);

	assert_int_equal(chmod(prog, 0777), 0);
	expect_load_error(path, "is writable by group/others; refusing to run it as root", prog, 3, 13);
	/* from memory there are no checks, as documented */
	assert_int_equal(crpc_config_parse(&c, "mem", text, strlen(text), NULL), 0);
	crpc_config_release(&c);

	assert_int_equal(chmod(prog, 0755), 0);
	assert_int_equal(chown(prog, NOBODY, NOBODY), 0);
	expect_load_error(path, "is owned by uid 65534, not root; refusing to run it as root", NULL, 3, 13);

	/* a program looked up on PATH, or one that does not exist yet, is the runner's business */
	snprintf(text, sizeof(text), "hooks:\n  post-dump:\n    - run: [true]\n    - run: [%s.none]\n", prog);
	write_file(path, text, strlen(text), 0644);
	assert_int_equal(crpc_config_load(&c, path, NULL), 0);
	crpc_config_release(&c);
}

/* ---- locating the file ---------------------------------------------------- */

static void touch(const char *path)
{
	write_file(path, "dump: {}\n", 9, 0644);
}

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
}

static void expect_located(const crpc_config_source *src, const char *want)
{
	char buf[PATH_MAX];
	crpc_error *err = NULL;

	if (crpc_config_locate(src, buf, sizeof(buf), &err) < 0)
		fail_msg("%s", err->message);
	assert_string_equal(buf, want);
}

static void test_locate(void **state)
{
	char xdg[PATH_MAX], home[PATH_MAX], env_file[PATH_MAX], xdg_file[PATH_MAX];
	char home_file[PATH_MAX], buf[PATH_MAX], missing[PATH_MAX];
	const char *etc = access("/etc/crpc/config.yaml", F_OK) == 0 ? "/etc/crpc/config.yaml" : "";
	crpc_config_source src;
	crpc_error *err = NULL;

	(void)state;
	crpc_config_source_init(&src);
	tmp_path(xdg, sizeof(xdg), "xdg");
	tmp_path(home, sizeof(home), "home");
	cat_path(xdg_file, sizeof(xdg_file), xdg, "/crpc/config.yaml");
	cat_path(home_file, sizeof(home_file), home, "/.config/crpc/config.yaml");
	tmp_path(env_file, sizeof(env_file), "from-env.yaml");
	mkdirs(xdg);
	mkdirs(home);
	unsetenv("CRPC_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", home, 1);

	/* nothing anywhere: /etc or none, and no error */
	expect_located(&src, etc);
	expect_located(NULL, etc);

	/* ~/.config when XDG_CONFIG_HOME is unset, empty or relative */
	cat_path(buf, sizeof(buf), home, "/.config/crpc");
	mkdirs(buf);
	touch(home_file);
	expect_located(&src, home_file);
	setenv("XDG_CONFIG_HOME", "", 1);
	expect_located(&src, home_file);
	setenv("XDG_CONFIG_HOME", "relative/dir", 1);
	expect_located(&src, home_file);

	/* $XDG_CONFIG_HOME replaces ~/.config, even when it has no crpc/config.yaml */
	setenv("XDG_CONFIG_HOME", xdg, 1);
	expect_located(&src, etc);
	cat_path(buf, sizeof(buf), xdg, "/crpc");
	mkdirs(buf);
	touch(xdg_file);
	expect_located(&src, xdg_file);

	/* $CRPC_CONFIG comes first; naming no file is a mistake, not "none" */
	setenv("CRPC_CONFIG", env_file, 1);
	assert_int_equal(crpc_config_locate(&src, buf, sizeof(buf), &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_contains(err->message, "$CRPC_CONFIG");
	crpc_error_free(err);
	err = NULL;
	touch(env_file);
	expect_located(&src, env_file);
	setenv("CRPC_CONFIG", "", 1);
	expect_located(&src, xdg_file);
	setenv("CRPC_CONFIG", env_file, 1);

	/* --config wins over everything, and must exist */
	src.explicit_path = home_file;
	expect_located(&src, home_file);
	tmp_path(missing, sizeof(missing), "no-such.yaml");
	src.explicit_path = missing;
	assert_int_equal(crpc_config_locate(&src, buf, sizeof(buf), &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_int_equal(err->sys_errno, ENOENT);
	assert_contains(err->message, "does not exist");
	assert_string_equal(buf, "");
	crpc_error_free(err);
	err = NULL;

	/* --no-config: none at all, even with everything else set */
	src.explicit_path = NULL;
	src.none = true;
	expect_located(&src, "");
	src.explicit_path = env_file;
	assert_int_equal(crpc_config_locate(&src, buf, sizeof(buf), &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	crpc_error_free(err);
	err = NULL;
	src.explicit_path = NULL;
	src.none = false;

	/* without HOME (and XDG_CONFIG_HOME) that candidate is skipped */
	unsetenv("CRPC_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HOME");
	expect_located(&src, etc);
	setenv("HOME", "relative-home", 1);
	expect_located(&src, etc);

	/* a path that does not fit the buffer is an error, not a truncated path */
	setenv("CRPC_CONFIG", env_file, 1);
	assert_int_equal(crpc_config_locate(&src, buf, 8, &err), -1);
	assert_int_equal(err->sys_errno, ENAMETOOLONG);
	crpc_error_free(err);
	unsetenv("CRPC_CONFIG");
}

/* ---- --hook --------------------------------------------------------------- */

static void test_add_hook_arg(void **state)
{
	static const struct {
		const char *arg;
		const char *want;
	} bad[] = {
		{ "post-dump", "expected CALLBACK=COMMAND" },
		{ "=echo hi", "expected CALLBACK=COMMAND" },
		{ "post-dump=", "the command is empty" },
		{ "post-dump=   ", "the command is empty" },
		{ "post-dumpp=echo hi", "did you mean 'post-dump'?" },
		{ "after-dump=echo hi", "the callbacks are: pre-stream, pre-dump" },
	};
	const crpc_hook_step *s;
	char path[PATH_MAX];
	crpc_config c;
	crpc_error *err = NULL;

	(void)state;
	crpc_config_init(&c);
	assert_int_equal(crpc_config_add_hook_arg(&c, "post-dump=echo hi", NULL), 0);
	assert_int_equal(crpc_config_add_hook_arg(&c, "post-dump=echo 'a=b'", NULL), 0);
	s = step(&c, CRPC_NOTIFY_POST_DUMP, 0);
	assert_int_equal(s->kind, CRPC_STEP_SHELL);
	assert_string_equal(s->shell, "echo hi");
	assert_null(s->argv);
	assert_string_equal(s->origin, "--hook");
	assert_string_equal(s->name, "post-dump[1]");
	assert_int_equal(s->timeout_ms, CRPC_HOOK_DEFAULT_TIMEOUT_MS);
	assert_int_equal(s->on_failure, CRPC_ON_FAILURE_DEFAULT);
	s = step(&c, CRPC_NOTIFY_POST_DUMP, 1);
	assert_string_equal(s->shell, "echo 'a=b'");
	assert_string_equal(s->name, "post-dump[2]");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(crpc_config_add_hook_arg(&c, bad[i].arg, &err), -1);
		assert_non_null(err);
		assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
		assert_contains(err->message, bad[i].want);
		crpc_error_free(err);
		err = NULL;
	}
	assert_int_equal(c.hooks.n_steps[CRPC_NOTIFY_POST_DUMP], 2);
	crpc_config_release(&c);

	/* after the file's steps */
	copy_data("good-full.yaml", path, sizeof(path));
	assert_int_equal(crpc_config_load(&c, path, NULL), 0);
	assert_int_equal(crpc_config_add_hook_arg(&c, "pre-dump=touch /tmp/x", NULL), 0);
	assert_int_equal(c.hooks.n_steps[CRPC_NOTIFY_PRE_DUMP], 3);
	assert_string_equal(step(&c, CRPC_NOTIFY_PRE_DUMP, 0)->name, "quiesce");
	assert_string_equal(step(&c, CRPC_NOTIFY_PRE_DUMP, 2)->name, "pre-dump[3]");
	assert_string_equal(step(&c, CRPC_NOTIFY_PRE_DUMP, 2)->origin, "--hook");
	crpc_config_release(&c);
}

/* ---- durations ------------------------------------------------------------ */

static void test_parse_duration(void **state)
{
	static const struct {
		const char *in;
		unsigned ms;
	} ok[] = {
		{ "0", 0 },
		{ "30", 30000 },
		{ "500ms", 500 },
		{ "2s", 2000 },
		{ "1.5s", 1500 },
		{ "1m", 60000 },
		{ "0.5m", 30000 },
		{ "1h", 3600000 },
		{ "0.001s", 1 },
		{ "1.0001s", 1001 }, /* fractions of a millisecond round up */
		{ "1.5ms", 2 },
		{ "1193h", 4294800000u },
		{ "4294967295ms", UINT_MAX },
		{ "4294967.295", UINT_MAX },
	};
	static const char *const bad[] = {
		"",
		"-1s",
		"+1s",
		"1x",
		"1 s",
		" 1s",
		"1s ",
		".5s",
		"1.",
		"1.s",
		"s",
		"ms",
		"1S",
		"1sec",
		"1m30s",
		"0x10",
		"1e3",
		"1,5s",
		"1194h",
		"4294967296ms",
		"4294968",
		"99999999999999999999s",
		"1.0000000001s",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		unsigned ms = 12345;
		crpc_error *err = NULL;

		if (crpc__parse_duration(ok[i].in, &ms, &err) < 0)
			fail_msg("'%s': %s", ok[i].in, err->message);
		if (ms != ok[i].ms)
			fail_msg("'%s': %u ms, expected %u", ok[i].in, ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned ms = 77;
		crpc_error *err = NULL;

		if (crpc__parse_duration(bad[i], &ms, &err) == 0)
			fail_msg("'%s' was accepted as %u ms", bad[i], ms);
		assert_non_null(err);
		assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
		assert_int_equal(ms, 77);
		crpc_error_free(err);
	}
	assert_int_equal(crpc__parse_duration(NULL, &(unsigned){ 0 }, NULL), -1);
}

/* ---- the example configuration -------------------------------------------- */

/*
 * config/crpc.yaml explains each setting in "# " comments and shows it
 * switched off: an example starts with a '#' directly followed by YAML
 * ("#key: value") and goes on with the "#  ..." lines right after it.
 * Dropping those '#' must give a valid file that uses every section, so the
 * example cannot rot.
 */
static char *uncomment(const char *text)
{
	char *out = malloc(strlen(text) + 1), *o = out;
	bool in_example = false;

	assert_non_null(out);
	while (*text) {
		const char *eol = strchr(text, '\n');
		size_t n = eol ? (size_t)(eol - text) + 1 : strlen(text);
		size_t ind = strspn(text, " ");
		const char *h = text + ind;
		bool starts = *h == '#' && h[1] && !strchr(" #\n", h[1]);
		bool goes_on = in_example && *h == '#' && h[1] == ' ' && h[2] == ' ';

		in_example = starts || goes_on;
		if (in_example) {
			memcpy(o, text, ind);
			memcpy(o + ind, h + 1, n - ind - 1);
			o += n - 1;
		} else {
			memcpy(o, text, n);
			o += n;
		}
		text += n;
	}
	*o = '\0';
	return out;
}

static void test_example_config(void **state)
{
	size_t len;
	char *text = read_whole(EXAMPLE, &len), *all;
	crpc_config c;
	crpc_error *err = NULL;

	(void)state;
	/* as shipped: valid, and changes nothing */
	if (crpc_config_parse(&c, EXAMPLE, text, len, &err) < 0)
		fail_msg("%s", err->message);
	assert_null(c.criu_binary);
	assert_false(c.dump.leave_running);
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++)
		assert_int_equal(c.hooks.n_steps[k], 0);
	crpc_config_release(&c);

	/* with every example switched on: still valid, and every callback has a step */
	all = uncomment(text);
	if (crpc_config_parse(&c, "crpc.yaml (uncommented)", all, strlen(all), &err) < 0)
		fail_msg("%s", err->message);
	assert_non_null(c.criu_binary);
	assert_true(c.criu_log_level >= 0);
	assert_non_null(c.criu_log_file);
	assert_non_null(c.trace_dir);
	assert_true(c.dump.leave_running);
	assert_true(c.dump.ghost_limit_set);
	assert_true(c.dump.timeout > 0);
	assert_true(c.dump.n_external > 0);
	assert_true(c.dump.skip_mnt.n > 0);
	assert_non_null(c.dump.parent_img);
	assert_non_null(c.restore.root);
	assert_true(c.restore.orphan_pts_master);
	assert_true(c.restore.n_inherit_fd > 0);
	assert_true(c.restore.n_cg_root > 0);
	assert_non_null(c.restore.lsm_profile);
	for (int k = CRPC_NOTIFY_UNKNOWN + 1; k < CRPC_NOTIFY__COUNT; k++)
		if (c.hooks.n_steps[k] == 0)
			fail_msg("the example shows no step for %s",
				 crpc_notify_kind_name((crpc_notify_kind)k));
	crpc_config_release(&c);
	free(all);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_files),         cmocka_unit_test(test_bad_files_all_covered),
		cmocka_unit_test(test_binary_file),       cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_not_regular),       cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_minimal_config),    cmocka_unit_test(test_parse_from_memory),
		cmocka_unit_test(test_permissions_file),  cmocka_unit_test(test_permissions_symlink),
		cmocka_unit_test(test_permissions_run),   cmocka_unit_test(test_locate),
		cmocka_unit_test(test_add_hook_arg),      cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_example_config),    cmocka_unit_test(test_signing_section),
		cmocka_unit_test(test_integrity_section),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
