/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the generic message compare (pbdiff.c), reading traces back
 * (trace_read.c) and the replay itself (replay.c) over a socketpair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "helpers.h"
#include "internal.h"
#include "trace/pbdiff.h"

#define TRACES CRPC_TEST_DATA "/traces/"

/* ---- helpers ---- */

/* Compare two requests with an ignore list; returns the crpc__pb_diff result. */
static int diff_req(const CriuReq *a, const CriuReq *b, const char *const *ignore, size_t n,
		    crpc__pb_difference *d)
{
	return crpc__pb_diff(&a->base, &b->base, ignore, n, d);
}

/* A DUMP request as crpc sends it. */
static void dump_req(CriuReq *r, CriuOpts *o)
{
	criu_req__init(r);
	criu_opts__init(o);
	r->type = CRIU_REQ_TYPE__DUMP;
	r->opts = o;
	o->images_dir_fd = 3;
	o->has_pid = 1;
	o->pid = 1234;
	o->has_leave_running = 1;
	o->leave_running = 1;
	o->has_log_level = 1;
	o->log_level = 4;
	o->log_file = "dump.log";
}

/* ---- the compare ---- */

static void test_diff_equal(void **state)
{
	CriuReq a, b;
	CriuOpts oa, ob;
	crpc__pb_difference d;

	(void)state;
	dump_req(&a, &oa);
	dump_req(&b, &ob);
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 0);
	assert_string_equal(d.path, "");
	/* a different descriptor is refused */
	assert_int_equal(crpc__pb_diff(&a.base, &oa.base, NULL, 0, &d), -1);
}

static void test_diff_bool(void **state)
{
	CriuReq a, b;
	CriuOpts oa, ob;
	crpc__pb_difference d;

	(void)state;
	dump_req(&a, &oa);
	dump_req(&b, &ob);
	ob.leave_running = 0; /* set, but false */
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.leave_running");
	assert_string_equal(d.expected, "true");
	assert_string_equal(d.actual, "false");

	ob.has_leave_running = 0; /* not set at all */
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.leave_running");
	assert_string_equal(d.actual, "(not set)");

	/* a flag that only the second one sets */
	dump_req(&b, &ob);
	ob.has_tcp_established = 1;
	ob.tcp_established = 1;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.tcp_established");
	assert_string_equal(d.expected, "(not set)");
	assert_string_equal(d.actual, "true");
}

static void test_diff_string(void **state)
{
	CriuReq a, b;
	CriuOpts oa, ob;
	crpc__pb_difference d;

	(void)state;
	dump_req(&a, &oa);
	dump_req(&b, &ob);
	ob.log_file = "other \"x\".log";
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.log_file");
	assert_string_equal(d.expected, "\"dump.log\"");
	assert_string_equal(d.actual, "\"other \\\"x\\\".log\"");
	ob.log_file = NULL; /* unset */
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.actual, "(not set)");
}

static void test_diff_repeated(void **state)
{
	CriuReq a, b;
	CriuOpts oa, ob;
	crpc__pb_difference d;
	char *ea[] = { "mnt[/a]:x", "dev[1/2]:y" };
	char *eb[] = { "mnt[/a]:x", "dev[1/3]:y" };
	CgroupRoot ra = CGROUP_ROOT__INIT, rb = CGROUP_ROOT__INIT;
	CgroupRoot *pa[] = { &ra }, *pb[] = { &rb };

	(void)state;
	dump_req(&a, &oa);
	dump_req(&b, &ob);
	/* one element more */
	oa.external = ea;
	oa.n_external = 1;
	ob.external = ea;
	ob.n_external = 2;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.external");
	assert_string_equal(d.expected, "1 element [\"mnt[/a]:x\"]");
	assert_string_equal(d.actual, "2 elements [\"mnt[/a]:x\", \"dev[1/2]:y\"]");

	/* same length, the second element differs */
	oa.n_external = 2;
	ob.external = eb;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.external[1]");
	assert_string_equal(d.expected, "\"dev[1/2]:y\"");
	assert_string_equal(d.actual, "\"dev[1/3]:y\"");

	/* repeated messages: the path goes into the element */
	ob.external = ea;
	ra.ctrl = rb.ctrl = "cpu";
	ra.path = "/a";
	rb.path = "/b";
	oa.cg_root = pa;
	oa.n_cg_root = 1;
	ob.cg_root = pb;
	ob.n_cg_root = 1;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.cg_root[0].path");
	assert_string_equal(d.expected, "\"/a\"");
	assert_string_equal(d.actual, "\"/b\"");

	/* ignored in every element by the path without its index */
	{
		const char *ign[] = { "opts.cg_root.path" };

		assert_int_equal(diff_req(&a, &b, ign, 1, &d), 0);
	}
}

static void test_diff_nested_missing(void **state)
{
	CriuReq a, b;
	CriuOpts oa, ob;
	CriuPageServerInfo ps = CRIU_PAGE_SERVER_INFO__INIT;
	crpc__pb_difference d;

	(void)state;
	dump_req(&a, &oa);
	dump_req(&b, &ob);
	ps.has_port = 1;
	ps.port = 1234;
	ps.address = "127.0.0.1";
	oa.ps = &ps;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.ps");
	assert_string_equal(d.expected, "{address: \"127.0.0.1\", port: 1234}");
	assert_string_equal(d.actual, "(not set)");

	/* the whole opts missing */
	b.opts = NULL;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts");
	assert_string_equal(d.actual, "(not set)");
	assert_true(strncmp(d.expected, "{images_dir_fd: 3, pid: 1234,", 29) == 0);
}

static void test_diff_enum(void **state)
{
	CriuReq a, b;
	CriuOpts oa, ob;
	crpc__pb_difference d;

	(void)state;
	dump_req(&a, &oa);
	dump_req(&b, &ob);
	oa.has_manage_cgroups_mode = ob.has_manage_cgroups_mode = 1;
	oa.manage_cgroups_mode = CRIU_CG_MODE__SOFT;
	ob.manage_cgroups_mode = CRIU_CG_MODE__FULL;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.manage_cgroups_mode");
	assert_string_equal(d.expected, "SOFT");
	assert_string_equal(d.actual, "FULL");

	/* the message type is a field like any other, first of all */
	b.type = CRIU_REQ_TYPE__RESTORE;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "type");
	assert_string_equal(d.expected, "DUMP");
	assert_string_equal(d.actual, "RESTORE");
	/* a value the enum does not have */
	b.type = (CriuReqType)77;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.actual, "77 (not a value of criu_req_type)");
}

static void test_diff_ignored(void **state)
{
	CriuReq a, b;
	CriuOpts oa, ob;
	crpc__pb_difference d;
	const char *fds[] = { "opts.images_dir_fd" };
	const char *sub[] = { "opts" };

	(void)state;
	dump_req(&a, &oa);
	dump_req(&b, &ob);
	ob.images_dir_fd = 5;
	assert_int_equal(diff_req(&a, &b, NULL, 0, &d), 1);
	assert_string_equal(d.path, "opts.images_dir_fd");
	assert_string_equal(d.expected, "3");
	assert_string_equal(d.actual, "5");
	assert_int_equal(diff_req(&a, &b, fds, 1, &d), 0);

	/* the next difference shows once the first one is ignored */
	ob.pid = 99;
	assert_int_equal(diff_req(&a, &b, fds, 1, &d), 1);
	assert_string_equal(d.path, "opts.pid");
	/* a pattern covers everything below it */
	assert_int_equal(diff_req(&a, &b, sub, 1, &d), 0);

	/* matching rules */
	assert_true(crpc__pb_path_ignored("opts.ps.fd", sub, 1));
	assert_true(crpc__pb_path_ignored("opts", sub, 1));
	assert_false(crpc__pb_path_ignored("optsx", sub, 1));
	{
		const char *p[] = { "opts.ps" };
		const char *idx[] = { "opts.external[1]" };

		assert_false(crpc__pb_path_ignored("opts.pid", p, 1));
		assert_true(crpc__pb_path_ignored("opts.ps.fd", p, 1));
		assert_true(crpc__pb_path_ignored("opts.external[1]", idx, 1));
		assert_false(crpc__pb_path_ignored("opts.external[0]", idx, 1));
	}
}

static void test_diff_unknown_fields(void **state)
{
	CriuReq r = CRIU_REQ__INIT;
	crpc_replay_diff d;
	uint8_t *x, *y, *z;
	size_t nx, ny, nz;
	const char *ign[] = { "#200" };

	(void)state;
	r.type = CRIU_REQ_TYPE__VERSION;
	x = pack(&r.base, &nx);
	y = pack(&r.base, &ny);
	z = pack(&r.base, &nz);
	/* field 200 (key 200 << 3 = 1600 = varint c0 0c), value 1 and 2 */
	y[ny++] = 0xc0;
	y[ny++] = 0x0c;
	y[ny++] = 0x01;
	z[nz++] = 0xc0;
	z[nz++] = 0x0c;
	z[nz++] = 0x02;

	assert_int_equal(crpc__replay_compare(CRPC_TO_CRIU, x, nx, x, nx, NULL, 0, &d), 0);
	assert_int_equal(crpc__replay_compare(CRPC_TO_CRIU, x, nx, y, ny, NULL, 0, &d), 1);
	assert_string_equal(d.field, "#200");
	assert_string_equal(d.recorded, "(not set)");
	assert_string_equal(d.received, "unknown field 200 (varint, 1 byte: 01)");
	assert_int_equal(crpc__replay_compare(CRPC_TO_CRIU, y, ny, z, nz, NULL, 0, &d), 1);
	assert_string_equal(d.field, "#200");
	assert_string_equal(d.recorded, "unknown field 200 (varint, 1 byte: 01)");
	assert_string_equal(d.received, "unknown field 200 (varint, 1 byte: 02)");
	assert_int_equal(crpc__replay_compare(CRPC_TO_CRIU, y, ny, z, nz, ign, 1, &d), 0);

	/* bytes that do not decode */
	assert_int_equal(crpc__replay_compare(CRPC_TO_CRIU, x, nx, (const uint8_t *)"\xff\xff", 2, NULL, 0,
					      &d),
			 1);
	assert_string_equal(d.field, "");
	assert_string_equal(d.recorded, "a valid criu_req (VERSION)");
	assert_string_equal(d.received, "2 bytes that are not a valid criu_req");
	free(x);
	free(y);
	free(z);
}

static void test_field_check(void **state)
{
	crpc_error *err = NULL;
	static const char *const good[] = {
		"type",
		"opts",
		"opts.leave_running",
		"opts.ps.fd",
		"opts.external[0]",
		"opts.inherit_fd.fd",
		"opts.#72",
		"#200",
		"opts.cg_root[2].path"
	};
	static const char *const bad[] = {
		"",       "opts.leave_runing", "opts.leave_running[0]", "type.x",   "opts.",
		"opts.#", "opts.#7x",          "opts.external[x]",      "opts..pid"
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (crpc_replay_field_check(good[i], &err) != 0)
			fail_msg("'%s' refused: %s", good[i], err->message);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (crpc_replay_field_check(bad[i], &err) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
		crpc_error_free(err);
		err = NULL;
	}
	assert_int_equal(crpc_replay_field_check("opts.leave_runing", &err), -1);
	assert_non_null(strstr(err->message, "criu_opts has no field 'leave_runing'"));
	crpc_error_free(err);
}

/* ---- reading traces ---- */

static void test_read_crafted(void **state)
{
	crpc_trace_file *t = NULL;
	crpc_error *err = NULL;
	const crpc_trace_record *r;

	(void)state;
	assert_int_equal(crpc_trace_file_read(&t, TRACES "version.trace", &err), 0);
	assert_int_equal(crpc_trace_file_count(t), 2);
	assert_int_equal(crpc_trace_file_problem_count(t), 0);
	assert_non_null(strstr(crpc_trace_file_header(t), "\"operation\":\"version\""));
	assert_non_null(strstr(crpc_trace_file_criu(t), "4.2.1"));
	r = crpc_trace_file_record(t, 1);
	assert_int_equal(r->line, 3);
	assert_int_equal(r->seq, 2);
	assert_int_equal(r->dir, CRPC_FROM_CRIU);
	assert_string_equal(r->msg_type, "VERSION");
	assert_int_equal(r->raw_len, 12);
	assert_int_equal(r->fd, -1);
	assert_null(crpc_trace_file_record(t, 2));
	assert_int_equal(crpc_replay_check(t, &err), 0);
	crpc_trace_file_free(t);

	/* cut off: read, the last line listed by number; not replayable */
	assert_int_equal(crpc_trace_file_read(&t, TRACES "cut.trace", &err), 0);
	assert_int_equal(crpc_trace_file_count(t), 2);
	assert_int_equal(crpc_trace_file_problem_count(t), 1);
	assert_int_equal(crpc_trace_file_problem(t, 0)->line, 4);
	assert_int_equal(crpc_replay_check(t, &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_non_null(strstr(err->message, "line 4: last line is cut off"));
	crpc_error_free(err);
	err = NULL;
	crpc_trace_file_free(t);

	assert_int_equal(crpc_trace_file_read(&t, TRACES "gap.trace", &err), 0);
	assert_int_equal(crpc_replay_check(t, &err), -1);
	assert_non_null(strstr(err->message, "line 3: message seq 3 where 2 was expected"));
	crpc_error_free(err);
	err = NULL;
	crpc_trace_file_free(t);

	assert_int_equal(crpc_trace_file_read(&t, TRACES "bad-raw.trace", &err), 0);
	assert_int_equal(crpc_trace_file_count(t), 1);
	assert_int_equal(crpc_trace_file_problem(t, 0)->line, 3);
	assert_string_equal(crpc_trace_file_problem(t, 0)->error,
			    "message whose \"raw\" is not valid base64");
	crpc_trace_file_free(t);

	assert_int_equal(crpc_trace_file_read(&t, TRACES "no-raw.trace", &err), 0);
	assert_int_equal(crpc_trace_file_count(t), 2);
	assert_int_equal(crpc_trace_file_problem_count(t), 0);
	assert_null(crpc_trace_file_record(t, 1)->raw);
	assert_int_equal(crpc_replay_check(t, &err), -1);
	assert_non_null(strstr(err->message, "line 3: message 2 has no \"raw\" bytes"));
	crpc_error_free(err);
	err = NULL;
	crpc_trace_file_free(t);

	assert_int_equal(crpc_trace_file_read(&t, TRACES "no-such.trace", &err), -1);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	crpc_error_free(err);
}

/* ---- replaying over a socketpair ---- */

static char trace_path[] = "/tmp/crpc-test-replay.XXXXXX";

/* The messages of a small recorded dump with one notification carrying an fd. */
static uint8_t *m_vreq, *m_vresp, *m_dreq, *m_notify, *m_ack, *m_dresp;
static size_t n_vreq, n_vresp, n_dreq, n_notify, n_ack, n_dresp;

static void make_messages(void)
{
	CriuReq vreq = CRIU_REQ__INIT, ack = CRIU_REQ__INIT, dreq;
	CriuOpts o;
	CriuResp vresp = CRIU_RESP__INIT, notify = CRIU_RESP__INIT, dresp = CRIU_RESP__INIT;
	CriuVersion v = CRIU_VERSION__INIT;
	CriuNotify nt = CRIU_NOTIFY__INIT;
	CriuDumpResp dr = CRIU_DUMP_RESP__INIT;

	vreq.type = CRIU_REQ_TYPE__VERSION;
	vreq.has_keep_open = vreq.keep_open = 1;
	m_vreq = pack(&vreq.base, &n_vreq);
	vresp.type = CRIU_REQ_TYPE__VERSION;
	vresp.success = 1;
	vresp.version = &v;
	v.major_number = 4;
	v.minor_number = 2;
	m_vresp = pack(&vresp.base, &n_vresp);
	dump_req(&dreq, &o);
	o.has_notify_scripts = o.notify_scripts = 1;
	m_dreq = pack(&dreq.base, &n_dreq);
	notify.type = CRIU_REQ_TYPE__NOTIFY;
	notify.success = 1;
	notify.notify = &nt;
	nt.script = "orphan-pts-master";
	m_notify = pack(&notify.base, &n_notify);
	ack.type = CRIU_REQ_TYPE__NOTIFY;
	ack.has_notify_success = ack.notify_success = 1;
	m_ack = pack(&ack.base, &n_ack);
	dresp.type = CRIU_REQ_TYPE__DUMP;
	dresp.success = 1;
	dresp.dump = &dr;
	m_dresp = pack(&dresp.base, &n_dresp);
}

/* Write the trace with libcrpc's own recorder; `upto` messages of the six. */
static crpc_trace_file *write_trace(int upto)
{
	crpc_trace *t = NULL;
	crpc_trace_file *f = NULL;
	crpc_error *err = NULL;
	crpc_trace_header h = { .operation = "dump", .target = "1234" };

	assert_int_equal(crpc_trace_open(&t, trace_path, &h, &err), 0);
	if (upto > 0)
		crpc_trace_message(CRPC_TO_CRIU, m_vreq, n_vreq, -1, t);
	if (upto > 1)
		crpc_trace_message(CRPC_FROM_CRIU, m_vresp, n_vresp, -1, t);
	crpc_trace_set_criu(t, "/usr/sbin/criu", "4.2");
	if (upto > 2)
		crpc_trace_message(CRPC_TO_CRIU, m_dreq, n_dreq, -1, t);
	if (upto > 3) {
		crpc_trace_message(CRPC_FROM_CRIU, m_notify, n_notify, 9, t);
		/* events between the messages play no part in the replay */
		crpc_trace_event(t, "hook-failed", "orphan-pts-master", "noted only");
	}
	if (upto > 4)
		crpc_trace_message(CRPC_TO_CRIU, m_ack, n_ack, -1, t);
	if (upto > 5) {
		crpc_trace_message(CRPC_FROM_CRIU, m_dresp, n_dresp, -1, t);
		crpc_trace_event(t, "reply-rewritten", NULL, "noted only");
	}
	crpc_trace_close(t);
	assert_int_equal(crpc_trace_file_read(&f, trace_path, &err), 0);
	assert_int_equal(crpc_trace_file_event_count(f), upto > 5 ? 2 : upto > 3 ? 1 : 0);
	assert_int_equal(crpc_replay_check(f, &err), 0);
	return f;
}

/*
 * Serve the trace in a child (the stand-in), the test being the client on
 * the other end. The child exits with the outcome, its report in a pipe.
 */
typedef struct peer {
	pid_t pid;
	int sk;     /* the client's end */
	int rep_fd; /* where the child writes its report */
} peer;

static peer start_peer(crpc_trace_file *f, unsigned timeout_ms)
{
	int sv[2], p[2];
	peer pe;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	pe.pid = fork();
	assert_true(pe.pid >= 0);
	if (pe.pid == 0) {
		crpc_replay_options o;
		crpc_replay_report rep;
		ssize_t w;

		crpc_replay_options_init(&o);
		o.timeout_ms = timeout_ms;
		o.eof_timeout_ms = 2000;
		close(sv[0]);
		close(p[0]);
		if (crpc_replay_serve(f, sv[1], &o, &rep, NULL) < 0)
			_exit(100);
		w = write(p[1], &rep, sizeof(rep));
		_exit(w == (ssize_t)sizeof(rep) ? (int)rep.outcome : 101);
	}
	close(sv[1]);
	close(p[1]);
	pe.sk = sv[0];
	pe.rep_fd = p[0];
	return pe;
}

static crpc_replay_outcome end_peer(peer *pe, crpc_replay_report *rep)
{
	int st;

	if (pe->sk >= 0)
		close(pe->sk);
	assert_int_equal(waitpid(pe->pid, &st, 0), pe->pid);
	assert_true(WIFEXITED(st));
	assert_true(WEXITSTATUS(st) < 100);
	assert_int_equal(read(pe->rep_fd, rep, sizeof(*rep)), sizeof(*rep));
	close(pe->rep_fd);
	return (crpc_replay_outcome)WEXITSTATUS(st);
}

static void send_msg(int sk, const uint8_t *m, size_t n)
{
	assert_int_equal(crpc__msg_send(sk, m, n, NULL), 0);
}

/* Receive one message; it must be `want`. Returns the fd passed with it. */
static int expect_msg(int sk, const uint8_t *want, size_t n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1;

	assert_int_equal(crpc__msg_recv(sk, CRPC_MSG_MAX, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	assert_int_equal(len, n);
	assert_memory_equal(buf, want, n);
	free(buf);
	return fd;
}

/* Receive the replay's failure reply; returns its cr_errmsg (malloc'ed). */
static char *expect_failure(int sk)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1;
	CriuResp *r;
	char *msg;

	assert_int_equal(crpc__msg_recv(sk, CRPC_MSG_MAX, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	r = criu_resp__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(r);
	assert_int_equal(r->type, CRIU_REQ_TYPE__EMPTY);
	assert_false(r->success);
	assert_non_null(r->cr_errmsg);
	msg = strdup(r->cr_errmsg);
	criu_resp__free_unpacked(r, NULL);
	return msg;
}

static int replay_setup(void **state)
{
	int fd = mkstemp(trace_path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	make_messages();
	return 0;
}

static int replay_teardown(void **state)
{
	(void)state;
	unlink(trace_path);
	free(m_vreq);
	free(m_vresp);
	free(m_dreq);
	free(m_notify);
	free(m_ack);
	free(m_dresp);
	return 0;
}

static void test_serve_matched(void **state)
{
	crpc_trace_file *f = write_trace(6);
	crpc_replay_report rep;
	peer pe = start_peer(f, 5000);
	int fd;

	(void)state;
	send_msg(pe.sk, m_vreq, n_vreq);
	assert_int_equal(expect_msg(pe.sk, m_vresp, n_vresp), -1);
	send_msg(pe.sk, m_dreq, n_dreq);
	/* the recorded pty master: a fresh one stands in for it */
	fd = expect_msg(pe.sk, m_notify, n_notify);
	assert_true(fd >= 0);
	assert_true(isatty(fd) || access("/dev/ptmx", F_OK) != 0);
	close(fd);
	send_msg(pe.sk, m_ack, n_ack);
	assert_int_equal(expect_msg(pe.sk, m_dresp, n_dresp), -1);
	assert_int_equal(end_peer(&pe, &rep), CRPC_REPLAY_MATCHED);
	/* the trace also holds two events: only the six messages count */
	assert_int_equal(crpc_trace_file_event_count(f), 2);
	assert_int_equal(rep.total, 6);
	assert_int_equal(rep.matched, 6);
	assert_int_equal(rep.at, 0);
	crpc_trace_file_free(f);
}

/* Options not set up by crpc_replay_options_init() are refused, not half read. */
static void test_serve_options_size(void **state)
{
	crpc_trace_file *f = write_trace(6);
	crpc_replay_options o = { .timeout_ms = 1 };
	crpc_replay_report rep;
	crpc_error *err = NULL;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(crpc_replay_serve(f, sv[1], &o, &rep, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_non_null(strstr(err->message, "crpc_replay_options_init"));
	crpc_error_free(err);
	close(sv[0]);
	close(sv[1]);
	crpc_trace_file_free(f);
}

static void test_serve_divergence(void **state)
{
	crpc_trace_file *f = write_trace(6);
	crpc_replay_report rep;
	peer pe = start_peer(f, 5000);
	CriuReq r;
	CriuOpts o;
	uint8_t *b;
	size_t n;
	char *msg;

	(void)state;
	dump_req(&r, &o);
	o.has_notify_scripts = o.notify_scripts = 1;
	o.images_dir_fd = 8; /* ignored by default */
	o.has_leave_running = 0;
	b = pack(&r.base, &n);
	send_msg(pe.sk, m_vreq, n_vreq);
	expect_msg(pe.sk, m_vresp, n_vresp);
	send_msg(pe.sk, b, n);
	msg = expect_failure(pe.sk);
	assert_non_null(strstr(msg, "crpc replay: message 3 of 6"));
	assert_non_null(strstr(msg, "opts.leave_running: recorded true, received (not set)"));
	free(msg);
	assert_int_equal(end_peer(&pe, &rep), CRPC_REPLAY_DIVERGED);
	assert_int_equal(rep.matched, 2);
	assert_int_equal(rep.at, 3);
	assert_int_equal(rep.line, 5); /* header, 2 messages, criu line, then this one */
	assert_int_equal(rep.dir, CRPC_TO_CRIU);
	assert_string_equal(rep.msg_type, "DUMP");
	assert_string_equal(rep.diff.field, "opts.leave_running");
	assert_string_equal(rep.diff.recorded, "true");
	assert_string_equal(rep.diff.received, "(not set)");
	free(b);
	crpc_trace_file_free(f);
}

static void test_serve_client_ended(void **state)
{
	crpc_trace_file *f = write_trace(6);
	crpc_replay_report rep;
	peer pe = start_peer(f, 5000);

	(void)state;
	send_msg(pe.sk, m_vreq, n_vreq);
	expect_msg(pe.sk, m_vresp, n_vresp);
	assert_int_equal(end_peer(&pe, &rep), CRPC_REPLAY_CLIENT_ENDED);
	assert_int_equal(rep.at, 3);
	assert_int_equal(rep.matched, 2);
	assert_non_null(strstr(rep.text, "hung up"));
	crpc_trace_file_free(f);
}

static void test_serve_extra_and_short(void **state)
{
	crpc_trace_file *f = write_trace(2);
	crpc_replay_report rep;
	peer pe = start_peer(f, 5000);
	char *msg;

	(void)state;
	/* the client sends more than the trace holds */
	send_msg(pe.sk, m_vreq, n_vreq);
	expect_msg(pe.sk, m_vresp, n_vresp);
	send_msg(pe.sk, m_dreq, n_dreq);
	msg = expect_failure(pe.sk);
	assert_non_null(strstr(msg, "more than recorded"));
	free(msg);
	assert_int_equal(end_peer(&pe, &rep), CRPC_REPLAY_EXTRA_MESSAGE);
	assert_int_equal(rep.at, 3);
	assert_string_equal(rep.msg_type, "DUMP");
	crpc_trace_file_free(f);

	/* the trace stops after a request: the client is hung up on, never left waiting */
	f = write_trace(3);
	pe = start_peer(f, 5000);
	send_msg(pe.sk, m_vreq, n_vreq);
	expect_msg(pe.sk, m_vresp, n_vresp);
	send_msg(pe.sk, m_dreq, n_dreq);
	{
		uint8_t *buf = NULL;
		size_t len = 0;
		int fd = -1;

		assert_int_equal(crpc__msg_recv(pe.sk, CRPC_MSG_MAX, &buf, &len, &fd, NULL), CRPC__RECV_EOF);
	}
	assert_int_equal(end_peer(&pe, &rep), CRPC_REPLAY_TRACE_ENDS);
	assert_int_equal(rep.at, 3);
	assert_int_equal(rep.matched, 3);
	crpc_trace_file_free(f);

	/* a client that sends nothing: bounded by the timeout */
	f = write_trace(6);
	pe = start_peer(f, 300);
	msg = expect_failure(pe.sk);
	assert_non_null(strstr(msg, "the client sent nothing within 0.3 s"));
	free(msg);
	assert_int_equal(end_peer(&pe, &rep), CRPC_REPLAY_TIMEOUT);
	assert_int_equal(rep.at, 1);
	crpc_trace_file_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_equal),          cmocka_unit_test(test_diff_bool),
		cmocka_unit_test(test_diff_string),         cmocka_unit_test(test_diff_repeated),
		cmocka_unit_test(test_diff_nested_missing), cmocka_unit_test(test_diff_enum),
		cmocka_unit_test(test_diff_ignored),        cmocka_unit_test(test_diff_unknown_fields),
		cmocka_unit_test(test_field_check),         cmocka_unit_test(test_read_crafted),
		cmocka_unit_test(test_serve_matched),       cmocka_unit_test(test_serve_divergence),
		cmocka_unit_test(test_serve_client_ended),  cmocka_unit_test(test_serve_extra_and_short),
		cmocka_unit_test(test_serve_options_size),
	};

	return cmocka_run_group_tests(tests, replay_setup, replay_teardown);
}
