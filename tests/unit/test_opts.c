/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: SIZE parsing, option parsing, version gating, the mapping of
 * crpc_opts onto CRIU's wire message, and the notify dispatcher.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "parse.h"

static void test_parse_size_ok(void **state)
{
	static const struct {
		const char *in;
		uint64_t want;
	} cases[] = {
		{ "0", 0 },
		{ "1048576", 1048576 },
		{ "512K", 512ull << 10 },
		{ "512k", 512ull << 10 },
		{ "10M", 10ull << 20 },
		{ "10MB", 10ull << 20 },
		{ "10MiB", 10ull << 20 },
		{ "1G", 1ull << 30 },
		{ "3g", 3ull << 30 },
		{ "100B", 100 },
		{ "2T", 2ull << 40 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 1234;

		assert_int_equal(crpc__parse_size(cases[i].in, UINT64_MAX, &v, NULL), 0);
		assert_int_equal(v, cases[i].want);
	}
}

static void test_parse_size_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"M",
		"-1",
		"10X",
		"10 M",
		"1.5M",
		"10Mi",
		"10MBB",
		" 10",
		"0x10",
		"99999999999999999999999"
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		crpc_error *err = NULL;
		uint64_t v = 77;

		assert_int_equal(crpc__parse_size(bad[i], UINT64_MAX, &v, &err), -1);
		assert_non_null(err);
		assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
		assert_int_equal(v, 77); /* untouched */
		crpc_error_free(err);
	}
}

static void test_parse_size_max(void **state)
{
	crpc_error *err = NULL;
	uint64_t v;

	(void)state;
	assert_int_equal(crpc__parse_size("4095M", UINT32_MAX, &v, NULL), 0);
	assert_int_equal(crpc__parse_size("4G", UINT32_MAX, &v, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err->message, "too large"));
	crpc_error_free(err);
	/* overflow of the multiplication itself */
	err = NULL;
	assert_int_equal(crpc__parse_size("20000000T", UINT64_MAX, &v, &err), -1);
	crpc_error_free(err);
}

static void test_parse_enums(void **state)
{
	crpc_cg_mode m;
	crpc_network_lock l;
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc__parse_cg_mode("soft", &m, NULL), 0);
	assert_int_equal(m, CRPC_CG_SOFT);
	assert_int_equal(crpc__parse_cg_mode("FULL", &m, NULL), 0);
	assert_int_equal(m, CRPC_CG_FULL);
	assert_int_equal(crpc__parse_cg_mode(NULL, &m, NULL), 0);
	assert_int_equal(m, CRPC_CG_UNSET);
	assert_int_equal(crpc__parse_cg_mode("hard", &m, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(crpc__parse_network_lock("nftables", &l, NULL), 0);
	assert_int_equal(l, CRPC_NETLOCK_NFTABLES);
	assert_int_equal(crpc__parse_network_lock("skip", &l, NULL), 0);
	assert_int_equal(l, CRPC_NETLOCK_SKIP);
	assert_int_equal(crpc__parse_network_lock("pf", &l, &err), -1);
	crpc_error_free(err);
	assert_string_equal(crpc_cg_mode_name(CRPC_CG_STRICT), "strict");
	assert_string_equal(crpc_network_lock_name(CRPC_NETLOCK_IPTABLES), "iptables");
}

static void test_version_parse(void **state)
{
	crpc_version v;
	char buf[64];

	(void)state;
	assert_int_equal(crpc_version_parse("4.2.1", &v), 0);
	assert_int_equal(v.code, 40201);
	assert_int_equal(crpc_version_parse("3.17", &v), 0);
	assert_int_equal(v.code, 31700);
	crpc_version_format(&v, buf, sizeof(buf));
	assert_string_equal(buf, "3.17");
	assert_int_equal(crpc_version_parse("x.1", &v), -1);
	assert_int_equal(crpc_version_parse("4.100", &v), -1);
}

static void test_version_gating(void **state)
{
	crpc_version old, v319, cur;
	crpc_opts o;
	crpc_error *err = NULL;

	(void)state;
	crpc_version_parse("3.17.1", &old);
	crpc_version_parse("3.19", &v319);
	crpc_version_parse("4.2.1", &cur);

	crpc_opts_init(&o);
	o.tcp_established = true;
	o.network_lock = CRPC_NETLOCK_NFTABLES;
	assert_int_equal(crpc_opts_check_version(&o, &old, NULL), 0);

	/* skip is an enum value 3.17 does not know */
	o.network_lock = CRPC_NETLOCK_SKIP;
	assert_int_equal(crpc_opts_check_version(&o, &old, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_non_null(strstr(err->message, "--network-lock skip"));
	assert_non_null(strstr(err->message, "3.19"));
	assert_non_null(strstr(err->message, "3.17.1"));
	assert_non_null(err->hint);
	crpc_error_free(err);
	err = NULL;
	assert_int_equal(crpc_opts_check_version(&o, &v319, NULL), 0);
	assert_int_equal(crpc_opts_check_version(&o, &cur, NULL), 0);

	/* a field 3.17 would drop silently: killing instead of leaving stopped */
	crpc_opts_init(&o);
	o.leave_stopped = true;
	assert_int_equal(crpc_opts_check_version(&o, &old, &err), -1);
	assert_non_null(strstr(err->message, "--leave-stopped"));
	crpc_error_free(err);
	assert_int_equal(crpc_opts_check_version(&o, &cur, NULL), 0);
	/* unknown version: nothing to hold against */
	assert_int_equal(crpc_opts_check_version(&o, NULL, NULL), 0);
}

static void test_opts_to_wire(void **state)
{
	crpc_opts o;
	CriuOpts w = CRIU_OPTS__INIT;
	CriuOpts *back;
	uint8_t *buf;
	size_t len;

	(void)state;
	crpc_opts_init(&o);
	o.pid = 4242;
	o.images_dir_fd = 9;
	o.log_level = 4;
	o.log_file = "dump.log";
	o.leave_running = true;
	o.tcp_established = true;
	o.shell_job = true;
	o.ghost_limit_set = true;
	o.ghost_limit = 10u << 20;
	o.manage_cgroups_mode = CRPC_CG_SOFT;
	o.network_lock = CRPC_NETLOCK_NFTABLES;
	assert_int_equal(crpc_opts_add_external(&o, "unix[1234]", NULL), 0);
	assert_int_equal(crpc_opts_add_external(&o, "net[4026531992]:extnet", NULL), 0);
	assert_int_equal(crpc__opts_to_wire(&o, &w, NULL), 0);

	/* through the real wire format and back */
	len = criu_opts__get_packed_size(&w);
	buf = malloc(len);
	assert_non_null(buf);
	criu_opts__pack(&w, buf);
	back = criu_opts__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->images_dir_fd, 9);
	assert_true(back->has_pid);
	assert_int_equal(back->pid, 4242);
	assert_int_equal(back->log_level, 4);
	assert_string_equal(back->log_file, "dump.log");
	assert_true(back->has_leave_running && back->leave_running);
	assert_true(back->has_tcp_established && back->tcp_established);
	assert_true(back->has_shell_job && back->shell_job);
	assert_false(back->has_ext_unix_sk);
	assert_false(back->has_tcp_close);
	assert_false(back->has_notify_scripts);
	assert_int_equal(back->ghost_limit, 10u << 20);
	assert_true(back->has_manage_cgroups && back->manage_cgroups);
	assert_int_equal(back->manage_cgroups_mode, CRIU_CG_MODE__SOFT);
	assert_true(back->has_network_lock);
	assert_int_equal(back->network_lock, CRIU_NETWORK_LOCK_METHOD__NFTABLES);
	assert_int_equal(back->n_external, 2);
	assert_string_equal(back->external[0], "unix[1234]");
	assert_string_equal(back->external[1], "net[4026531992]:extnet");
	criu_opts__free_unpacked(back, NULL);
	free(buf);
	crpc__opts_wire_release(&w);
	crpc_opts_release(&o);
}

static void test_opts_lists_to_wire(void **state)
{
	crpc_opts o;
	CriuOpts w = CRIU_OPTS__INIT;
	CriuOpts *back;
	uint8_t *buf;
	size_t len;

	(void)state;
	crpc_opts_init(&o);
	o.images_dir_fd = 3;
	o.auto_ext_mnt = true;
	o.empty_ns = 0x40000000;
	o.parent_img = "../pre1";
	o.freeze_cgroup = "/sys/fs/cgroup/freezer/job";
	assert_int_equal(crpc_strv_add(&o.skip_mnt, "/proc/sys", NULL), 0);
	assert_int_equal(crpc_strv_add(&o.enable_fs, "fuse", NULL), 0);
	assert_int_equal(crpc_strv_add(&o.enable_fs, "nfs", NULL), 0);
	assert_int_equal(crpc_opts_add_inherit_fd(&o, "pipe:[123]", 5, NULL), 0);
	assert_int_equal(crpc_opts_add_cg_root(&o, "cpu", "/restored", NULL), 0);
	assert_int_equal(crpc_opts_add_cg_root(&o, NULL, "/all", NULL), 0);
	assert_int_equal(crpc__opts_to_wire(&o, &w, NULL), 0);
	len = criu_opts__get_packed_size(&w);
	buf = malloc(len);
	assert_non_null(buf);
	criu_opts__pack(&w, buf);
	back = criu_opts__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_true(back->has_auto_ext_mnt && back->auto_ext_mnt);
	assert_int_equal(back->empty_ns, 0x40000000);
	assert_string_equal(back->parent_img, "../pre1");
	assert_string_equal(back->freeze_cgroup, "/sys/fs/cgroup/freezer/job");
	assert_int_equal(back->n_skip_mnt, 1);
	assert_string_equal(back->skip_mnt[0], "/proc/sys");
	assert_int_equal(back->n_enable_fs, 2);
	assert_string_equal(back->enable_fs[1], "nfs");
	assert_int_equal(back->n_inherit_fd, 1);
	assert_string_equal(back->inherit_fd[0]->key, "pipe:[123]");
	assert_int_equal(back->inherit_fd[0]->fd, 5);
	assert_int_equal(back->n_cg_root, 2);
	assert_string_equal(back->cg_root[0]->ctrl, "cpu");
	assert_null(back->cg_root[1]->ctrl);
	assert_string_equal(back->cg_root[1]->path, "/all");
	criu_opts__free_unpacked(back, NULL);
	free(buf);
	crpc__opts_wire_release(&w);
	crpc_opts_release(&o);
}

static void test_opts_defaults_on_wire(void **state)
{
	crpc_opts o;
	CriuOpts w = CRIU_OPTS__INIT;
	CriuOpts *back;
	uint8_t buf[256];
	size_t len;

	(void)state;
	crpc_opts_init(&o);
	assert_int_equal(crpc__opts_to_wire(&o, &w, NULL), 0);
	/* nothing set: only the required images_dir_fd (-1) goes out */
	len = criu_opts__pack(&w, buf);
	back = criu_opts__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->images_dir_fd, -1);
	assert_false(back->has_pid);
	assert_false(back->has_log_level);
	assert_int_equal(back->log_level, 2); /* CRIU's default as declared */
	assert_false(back->has_ghost_limit);
	assert_false(back->has_manage_cgroups);
	assert_false(back->has_network_lock);
	criu_opts__free_unpacked(back, NULL);
}

/* ---- dispatcher ---- */

struct rec {
	int calls;
	int fail_on; /* crpc_notify_kind to fail on, 0 never */
};

static int listener(crpc_notify *n, void *ud, crpc_error **err)
{
	struct rec *r = ud;

	r->calls++;
	if ((int)n->kind == r->fail_on)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, n->name, "hook refused %s", n->name);
	return 0;
}

static void test_dispatcher_order_and_abort(void **state)
{
	crpc_dispatcher *d = crpc_dispatcher_new();
	struct rec a = { 0, CRPC_NOTIFY_POST_DUMP }, b = { 0, 0 };
	crpc_notify n = { .kind = CRPC_NOTIFY_PRE_DUMP, .name = "pre-dump", .fd = -1 };
	crpc_error *err = NULL;

	(void)state;
	assert_non_null(d);
	assert_int_equal(crpc_dispatcher_add(d, "a", listener, &a), 0);
	assert_int_equal(crpc_dispatcher_add(d, "b", listener, &b), 0);
	assert_int_equal(crpc_dispatcher_dispatch(d, &n, NULL), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);

	n.kind = CRPC_NOTIFY_POST_DUMP;
	n.name = "post-dump";
	assert_int_equal(crpc_dispatcher_dispatch(d, &n, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err->message, "hook refused post-dump"));
	assert_int_equal(b.calls, 1); /* later listeners not run after a failure */
	crpc_error_free(err);
	assert_null(crpc_dispatcher_warnings(d)[0]);
	crpc_dispatcher_free(d);
}

static void test_dispatcher_non_abortable_warns(void **state)
{
	crpc_dispatcher *d = crpc_dispatcher_new();
	struct rec a = { 0, CRPC_NOTIFY_POST_RESUME };
	crpc_notify n = { .kind = CRPC_NOTIFY_POST_RESUME, .name = "post-resume", .fd = -1 };
	const char *const *w;

	(void)state;
	crpc_dispatcher_add(d, "hooks", listener, &a);
	assert_int_equal(crpc_dispatcher_dispatch(d, &n, NULL), 0);
	w = crpc_dispatcher_warnings(d);
	assert_non_null(w[0]);
	assert_non_null(strstr(w[0], "post-resume"));
	assert_non_null(strstr(w[0], "hooks"));
	assert_null(w[1]);
	crpc_dispatcher_free(d);
}

static void test_notify_names(void **state)
{
	static const char *const all[] = {
		"pre-stream",     "pre-dump",         "post-dump",
		"pre-restore",    "post-restore",     "network-lock",
		"network-unlock", "setup-namespaces", "post-setup-namespaces",
		"pre-resume",     "post-resume",      "orphan-pts-master",
		"status-ready",   "query-ext-files",
	};
	(void)state;
	assert_int_equal(sizeof(all) / sizeof(all[0]), CRPC_NOTIFY__COUNT - 1);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		crpc_notify_kind k = crpc_notify_kind_from_name(all[i]);

		assert_int_not_equal(k, CRPC_NOTIFY_UNKNOWN);
		assert_string_equal(crpc_notify_kind_name(k), all[i]);
	}
	assert_int_equal(crpc_notify_kind_from_name("pre-teleport"), CRPC_NOTIFY_UNKNOWN);
	assert_int_equal(crpc_notify_kind_from_name(NULL), CRPC_NOTIFY_UNKNOWN);
	assert_false(crpc_notify_can_abort(CRPC_NOTIFY_PRE_RESUME));
	assert_false(crpc_notify_can_abort(CRPC_NOTIFY_NETWORK_UNLOCK));
	assert_true(crpc_notify_can_abort(CRPC_NOTIFY_POST_DUMP));
	assert_true(crpc_notify_can_abort(CRPC_NOTIFY_PRE_DUMP));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_ok),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_parse_size_max),
		cmocka_unit_test(test_parse_enums),
		cmocka_unit_test(test_version_parse),
		cmocka_unit_test(test_version_gating),
		cmocka_unit_test(test_opts_to_wire),
		cmocka_unit_test(test_opts_lists_to_wire),
		cmocka_unit_test(test_opts_defaults_on_wire),
		cmocka_unit_test(test_dispatcher_order_and_abort),
		cmocka_unit_test(test_dispatcher_non_abortable_warns),
		cmocka_unit_test(test_notify_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
