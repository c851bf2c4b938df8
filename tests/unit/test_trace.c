/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the JSON-lines trace, decoding real CriuReq / CriuResp
 * messages through protobuf-c's descriptors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "helpers.h"
#include "internal.h"

static char trace_path[] = "/tmp/crpc-test-trace.XXXXXX";

/* Read all lines of the trace file as JSON objects. */
static json_t *read_lines(void)
{
	FILE *f = fopen(trace_path, "r");
	json_t *arr = json_array();
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	assert_non_null(f);
	while ((n = getline(&line, &cap, f)) > 0) {
		json_error_t je;
		json_t *o;

		assert_true(line[n - 1] == '\n');
		o = json_loads(line, 0, &je);
		if (!o)
			fail_msg("line does not parse: %s (%s)", line, je.text);
		json_array_append_new(arr, o);
	}
	free(line);
	fclose(f);
	return arr;
}

static void base64_decode_check(const char *b64, const uint8_t *want, size_t len)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(b64), o = 0;
	uint8_t *out = malloc(n);
	uint32_t acc = 0;
	int bits = 0;

	assert_non_null(out);
	assert_int_equal(n % 4, 0);
	for (size_t i = 0; i < n && b64[i] != '='; i++) {
		const char *p = strchr(tbl, b64[i]);

		assert_non_null(p);
		acc = (acc << 6) | (uint32_t)(p - tbl);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	assert_int_equal(o, len);
	assert_memory_equal(out, want, len);
	free(out);
}

static int setup(void **state)
{
	int fd = mkstemp(trace_path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(trace_path);
	return 0;
}

static void test_trace_messages(void **state)
{
	crpc_trace *t = NULL;
	crpc_error *err = NULL;
	char *argv[] = { "crpc", "dump", "1234", "/tmp/x", NULL };
	crpc_trace_header h = { .operation = "dump", .target = "1234", .argc = 4, .argv = argv };
	struct stat st;
	json_t *lines, *l, *fl, *opts;
	uint8_t *b1, *b2, *b3, *b4, *b5;
	size_t n1, n2, n3, n4, n5;

	(void)state;
	/* a DUMP request with options */
	CriuReq req = CRIU_REQ__INIT;
	CriuOpts o = CRIU_OPTS__INIT;
	char *ext[] = { "mnt[/a]:x", "dev[1/2]:y" };
	req.type = CRIU_REQ_TYPE__DUMP;
	req.opts = &o;
	o.images_dir_fd = 7;
	o.has_pid = true;
	o.pid = 1234;
	o.log_file = "dump.log";
	o.has_network_lock = true;
	o.network_lock = CRIU_NETWORK_LOCK_METHOD__NFTABLES;
	o.n_external = 2;
	o.external = ext;
	b1 = pack(&req.base, &n1);

	/* a NOTIFY response */
	CriuResp nr = CRIU_RESP__INIT;
	CriuNotify no = CRIU_NOTIFY__INIT;
	nr.type = CRIU_REQ_TYPE__NOTIFY;
	nr.success = true;
	nr.notify = &no;
	no.script = "post-dump";
	no.has_pid = true;
	no.pid = 99;
	b2 = pack(&nr.base, &n2);

	/* a VERSION response */
	CriuResp vr = CRIU_RESP__INIT;
	CriuVersion v = CRIU_VERSION__INIT;
	vr.type = CRIU_REQ_TYPE__VERSION;
	vr.success = true;
	vr.version = &v;
	v.major_number = 4;
	v.minor_number = 2;
	v.gitid = "abc";
	b3 = pack(&vr.base, &n3);

	/* the VERSION response plus field 99 (varint 5) it does not know */
	b4 = pack(&vr.base, &n4);
	b4[n4++] = 0x98; /* key (99 << 3) | 0 = 0x318 as a varint */
	b4[n4++] = 0x06;
	b4[n4++] = 0x05;

	/* garbage */
	b5 = malloc(4);
	assert_non_null(b5);
	memcpy(b5, "\xff\xff\xff\xff", 4);
	n5 = 4;

	assert_int_equal(crpc_trace_open(&t, trace_path, &h, &err), 0);
	assert_non_null(t);
	assert_int_equal(stat(trace_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	crpc_trace_set_criu(t, "/usr/sbin/criu", "4.2");
	crpc_trace_message(CRPC_TO_CRIU, b1, n1, -1, t);
	crpc_trace_message(CRPC_FROM_CRIU, b2, n2, 5, t);
	crpc_trace_message(CRPC_FROM_CRIU, b3, n3, -1, t);
	crpc_trace_message(CRPC_FROM_CRIU, b4, n4, -1, t);
	crpc_trace_message(CRPC_FROM_CRIU, b5, n5, -1, t);
	assert_int_equal(crpc_trace_count(t), 5);
	assert_int_equal(crpc_trace_write_errno(t), 0);
	crpc_trace_close(t);

	lines = read_lines();
	assert_int_equal(json_array_size(lines), 7);

	l = json_array_get(lines, 0);
	assert_string_equal(json_string_value(json_object_get(l, "type")), "header");
	assert_string_equal(json_string_value(json_object_get(l, "crpc_version")), crpc_version_string());
	assert_string_equal(json_string_value(json_object_get(l, "operation")), "dump");
	assert_string_equal(json_string_value(json_object_get(l, "target")), "1234");
	assert_int_equal(json_array_size(json_object_get(l, "argv")), 4);
	assert_string_equal(json_string_value(json_array_get(json_object_get(l, "argv"), 3)), "/tmp/x");

	l = json_array_get(lines, 1);
	assert_string_equal(json_string_value(json_object_get(l, "type")), "criu");
	assert_string_equal(json_string_value(json_object_get(l, "path")), "/usr/sbin/criu");
	assert_string_equal(json_string_value(json_object_get(l, "version")), "4.2");

	/* DUMP request */
	l = json_array_get(lines, 2);
	assert_string_equal(json_string_value(json_object_get(l, "type")), "message");
	assert_int_equal(json_integer_value(json_object_get(l, "seq")), 1);
	assert_string_equal(json_string_value(json_object_get(l, "dir")), "to_criu");
	assert_string_equal(json_string_value(json_object_get(l, "message")), "criu_req");
	assert_string_equal(json_string_value(json_object_get(l, "msg_type")), "DUMP");
	assert_true(json_is_integer(json_object_get(l, "since_prev_us")));
	assert_true(json_is_real(json_object_get(l, "mono")));
	{
		const char *w = json_string_value(json_object_get(l, "wall"));

		assert_non_null(w);
		assert_int_equal(strlen(w), strlen("2024-01-02T03:04:05.123456Z"));
		assert_int_equal(w[10], 'T');
		assert_int_equal(w[19], '.');
		assert_int_equal(w[26], 'Z');
	}
	assert_true(json_is_null(json_object_get(l, "fd")));
	fl = json_object_get(l, "fields");
	assert_string_equal(json_string_value(json_object_get(fl, "type")), "DUMP");
	opts = json_object_get(fl, "opts");
	assert_true(json_is_object(opts));
	assert_int_equal(json_integer_value(json_object_get(opts, "images_dir_fd")), 7);
	assert_int_equal(json_integer_value(json_object_get(opts, "pid")), 1234);
	assert_string_equal(json_string_value(json_object_get(opts, "log_file")), "dump.log");
	assert_string_equal(json_string_value(json_object_get(opts, "network_lock")), "NFTABLES");
	assert_true(json_is_array(json_object_get(opts, "external")));
	assert_int_equal(json_array_size(json_object_get(opts, "external")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(opts, "external"), 1)),
			    "dev[1/2]:y");
	/* unset optional fields are left out */
	assert_null(json_object_get(opts, "shell_job"));
	assert_null(json_object_get(opts, "veths"));
	assert_null(json_object_get(fl, "notify_success"));
	assert_null(json_object_get(fl, "unknown"));
	base64_decode_check(json_string_value(json_object_get(l, "raw")), b1, n1);

	/* NOTIFY response, with an fd */
	l = json_array_get(lines, 3);
	assert_int_equal(json_integer_value(json_object_get(l, "seq")), 2);
	assert_string_equal(json_string_value(json_object_get(l, "dir")), "from_criu");
	assert_string_equal(json_string_value(json_object_get(l, "message")), "criu_resp");
	assert_string_equal(json_string_value(json_object_get(l, "msg_type")), "NOTIFY");
	assert_int_equal(json_integer_value(json_object_get(l, "fd")), 5);
	fl = json_object_get(l, "fields");
	assert_true(json_is_true(json_object_get(fl, "success")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(fl, "notify"), "script")),
			    "post-dump");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(fl, "notify"), "pid")), 99);
	base64_decode_check(json_string_value(json_object_get(l, "raw")), b2, n2);

	/* VERSION response */
	l = json_array_get(lines, 4);
	assert_string_equal(json_string_value(json_object_get(l, "msg_type")), "VERSION");
	fl = json_object_get(json_object_get(l, "fields"), "version");
	assert_int_equal(json_integer_value(json_object_get(fl, "major_number")), 4);
	assert_int_equal(json_integer_value(json_object_get(fl, "minor_number")), 2);
	assert_string_equal(json_string_value(json_object_get(fl, "gitid")), "abc");
	assert_null(json_object_get(fl, "sublevel"));
	base64_decode_check(json_string_value(json_object_get(l, "raw")), b3, n3);

	/* unknown field 99 */
	l = json_array_get(lines, 5);
	assert_string_equal(json_string_value(json_object_get(l, "msg_type")), "VERSION");
	fl = json_object_get(json_object_get(l, "fields"), "unknown");
	assert_true(json_is_array(fl));
	assert_int_equal(json_array_size(fl), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(fl, 0), "number")), 99);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(fl, 0), "wire_type")), 0);
	base64_decode_check(json_string_value(json_object_get(l, "raw")), b4, n4);

	/* garbage: decode_error and the raw bytes only */
	l = json_array_get(lines, 6);
	assert_true(json_is_string(json_object_get(l, "decode_error")));
	assert_null(json_object_get(l, "fields"));
	assert_null(json_object_get(l, "msg_type"));
	assert_string_equal(json_string_value(json_object_get(l, "raw")), "/////w==");
	base64_decode_check(json_string_value(json_object_get(l, "raw")), b5, n5);

	json_decref(lines);
	free(b1);
	free(b2);
	free(b3);
	free(b4);
	free(b5);
}

static void test_trace_open_fails(void **state)
{
	crpc_trace *t = NULL;
	crpc_error *err = NULL;

	(void)state;
	assert_int_equal(crpc_trace_open(&t, "/nonexistent-dir/x.trace", NULL, &err), -1);
	assert_null(t);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_USAGE);
	assert_non_null(strstr(err->message, "/nonexistent-dir/x.trace"));
	crpc_error_free(err);
	/* NULL trace is ignored */
	crpc_trace_message(CRPC_TO_CRIU, (const uint8_t *)"", 0, -1, NULL);
	crpc_trace_set_criu(NULL, NULL, NULL);
	crpc_trace_close(NULL);
}

/* Events between messages: written, read back in file order, ignored by the replay checks. */
static void test_trace_events(void **state)
{
	crpc_trace *t = NULL;
	crpc_trace_file *f = NULL;
	crpc_error *err = NULL;
	crpc_trace_header h = { .operation = "dump" };
	CriuResp nr = CRIU_RESP__INIT;
	CriuNotify no = CRIU_NOTIFY__INIT;
	CriuReq ack = CRIU_REQ__INIT;
	const crpc_trace_event_record *e;
	json_t *lines, *l;
	uint8_t *b1, *b2;
	size_t n1, n2;

	(void)state;
	nr.type = CRIU_REQ_TYPE__NOTIFY;
	nr.success = true;
	nr.notify = &no;
	no.script = "pre-dump";
	b1 = pack(&nr.base, &n1);
	ack.type = CRIU_REQ_TYPE__NOTIFY;
	ack.has_notify_success = true;
	ack.notify_success = false;
	b2 = pack(&ack.base, &n2);

	assert_int_equal(crpc_trace_open(&t, trace_path, &h, &err), 0);
	crpc_trace_message(CRPC_FROM_CRIU, b1, n1, -1, t);
	crpc_trace_event(t, "hook-failed", "pre-dump", "step 'policy' failed: refused");
	crpc_trace_message(CRPC_TO_CRIU, b2, n2, -1, t);
	crpc_trace_event(t, "reply-rewritten", "pre-dump", "crpc hook at pre-dump failed: refused");
	crpc_trace_event(t, "shim-reply", NULL, NULL);
	crpc_trace_event(t, NULL, "x", "y"); /* no name: nothing */
	crpc_trace_event(NULL, "hook-failed", NULL, NULL);
	/* events are no messages */
	assert_int_equal(crpc_trace_count(t), 2);
	assert_int_equal(crpc_trace_write_errno(t), 0);
	crpc_trace_close(t);

	lines = read_lines();
	assert_int_equal(json_array_size(lines), 6);
	l = json_array_get(lines, 2);
	assert_string_equal(json_string_value(json_object_get(l, "type")), "event");
	assert_string_equal(json_string_value(json_object_get(l, "event")), "hook-failed");
	assert_string_equal(json_string_value(json_object_get(l, "callback")), "pre-dump");
	assert_string_equal(json_string_value(json_object_get(l, "text")), "step 'policy' failed: refused");
	assert_true(json_is_real(json_object_get(l, "mono")));
	assert_true(json_is_string(json_object_get(l, "wall")));
	assert_true(json_is_integer(json_object_get(l, "since_prev_us")));
	assert_true(json_integer_value(json_object_get(l, "since_prev_us")) >= 0);
	assert_null(json_object_get(l, "seq"));
	/* the message after an event still has the next seq */
	l = json_array_get(lines, 3);
	assert_string_equal(json_string_value(json_object_get(l, "type")), "message");
	assert_int_equal(json_integer_value(json_object_get(l, "seq")), 2);
	l = json_array_get(lines, 5);
	assert_string_equal(json_string_value(json_object_get(l, "event")), "shim-reply");
	assert_true(json_is_null(json_object_get(l, "callback")));
	assert_true(json_is_null(json_object_get(l, "text")));
	json_decref(lines);

	/* read back: two messages, three events in file order, nothing damaged */
	assert_int_equal(crpc_trace_file_read(&f, trace_path, &err), 0);
	assert_int_equal(crpc_trace_file_count(f), 2);
	assert_int_equal(crpc_trace_file_problem_count(f), 0);
	assert_int_equal(crpc_trace_file_event_count(f), 3);
	e = crpc_trace_file_event(f, 0);
	assert_int_equal(e->line, 3);
	assert_string_equal(e->event, "hook-failed");
	assert_string_equal(e->callback, "pre-dump");
	assert_string_equal(e->text, "step 'policy' failed: refused");
	assert_true(e->mono > 0);
	assert_true(e->mono >= crpc_trace_file_record(f, 0)->mono);
	assert_true(e->mono <= crpc_trace_file_record(f, 1)->mono);
	assert_non_null(strstr(e->json, "\"type\":\"event\""));
	e = crpc_trace_file_event(f, 1);
	assert_int_equal(e->line, 5);
	assert_string_equal(e->event, "reply-rewritten");
	assert_string_equal(e->text, "crpc hook at pre-dump failed: refused");
	e = crpc_trace_file_event(f, 2);
	assert_int_equal(e->line, 6);
	assert_string_equal(e->event, "shim-reply");
	assert_null(e->callback);
	assert_null(e->text);
	assert_null(crpc_trace_file_event(f, 3));
	assert_int_equal(crpc_trace_file_record(f, 1)->line, 4);
	assert_int_equal(crpc_trace_file_record(f, 1)->seq, 2);
	/* the events do not get in the way of a replay */
	assert_int_equal(crpc_replay_check(f, &err), 0);
	crpc_trace_file_free(f);
	free(b1);
	free(b2);
}

/* Damaged event lines are problems with their line number; the rest is kept. */
static void test_trace_events_damaged(void **state)
{
	static const char text[] =
		"{\"type\":\"header\",\"format\":1}\n"
		"{\"type\":\"event\",\"mono\":1.5,\"callback\":\"pre-dump\",\"text\":\"x\"}\n"
		"{\"type\":\"event\",\"event\":\"hook-failed\",\"mono\":\"soon\"}\n"
		"{\"type\":\"event\",\"event\":\"hook-failed\",\"mono\":2,\"text\":7}\n"
		"{\"type\":\"event\",\"event\":\"hook-failed\",\"mono\":2.5,\"callback\":null}\n";
	crpc_trace_file *f = NULL;
	crpc_error *err = NULL;
	FILE *fp = fopen(trace_path, "w");

	(void)state;
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(crpc_trace_file_read(&f, trace_path, &err), 0);
	assert_int_equal(crpc_trace_file_problem_count(f), 3);
	assert_int_equal(crpc_trace_file_problem(f, 0)->line, 2);
	assert_string_equal(crpc_trace_file_problem(f, 0)->error, "event without a string \"event\"");
	assert_int_equal(crpc_trace_file_problem(f, 1)->line, 3);
	assert_string_equal(crpc_trace_file_problem(f, 1)->error, "event without a number \"mono\"");
	assert_int_equal(crpc_trace_file_problem(f, 2)->line, 4);
	assert_non_null(strstr(crpc_trace_file_problem(f, 2)->error, "\"text\""));
	assert_int_equal(crpc_trace_file_event_count(f), 1);
	assert_int_equal(crpc_trace_file_event(f, 0)->line, 5);
	assert_true(crpc_trace_file_event(f, 0)->mono == 2.5);
	assert_null(crpc_trace_file_event(f, 0)->callback);
	assert_null(crpc_trace_file_event(f, 0)->text);
	crpc_trace_file_free(f);
}

/* Summarize a packed message, return the line. */
static const char *summary(crpc_direction dir, const ProtobufCMessage *m, int fd)
{
	static char line[320];
	size_t len;
	uint8_t *buf = pack(m, &len);
	size_t n = crpc_message_summary(dir, buf, len, fd, line, sizeof(line));

	assert_int_equal(n, strlen(line));
	free(buf);
	return line;
}

static void test_message_summary(void **state)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuResp resp = CRIU_RESP__INIT;
	CriuNotify notify = CRIU_NOTIFY__INIT;
	CriuRestoreResp rr = CRIU_RESTORE_RESP__INIT;
	char small[12];
	uint8_t junk[] = { 0xff, 0xff, 0xff };
	(void)state;

	req.type = CRIU_REQ_TYPE__VERSION;
	req.has_keep_open = true;
	req.keep_open = true;
	assert_string_equal(summary(CRPC_TO_CRIU, &req.base, -1), "-> VERSION keep_open (4 B)");

	req = (CriuReq)CRIU_REQ__INIT;
	req.type = CRIU_REQ_TYPE__DUMP;
	req.opts = &opts;
	opts.has_pid = true;
	opts.pid = 42;
	opts.has_notify_scripts = true;
	opts.notify_scripts = true;
	opts.log_file = "dump.log";
	assert_non_null(strstr(summary(CRPC_TO_CRIU, &req.base, -1), "-> DUMP pid=42 notify opts=3 ("));

	resp.type = CRIU_REQ_TYPE__NOTIFY;
	resp.success = true;
	resp.notify = &notify;
	notify.script = "post-restore";
	notify.has_pid = true;
	notify.pid = 77;
	assert_non_null(
		strstr(summary(CRPC_FROM_CRIU, &resp.base, 5), "<- NOTIFY post-restore pid=77 +fd ("));

	resp = (CriuResp)CRIU_RESP__INIT;
	resp.type = CRIU_REQ_TYPE__RESTORE;
	resp.success = true;
	resp.restore = &rr;
	rr.pid = 1234;
	assert_non_null(strstr(summary(CRPC_FROM_CRIU, &resp.base, -1), "<- RESTORE ok pid=1234 ("));

	resp = (CriuResp)CRIU_RESP__INIT;
	resp.type = CRIU_REQ_TYPE__DUMP;
	resp.success = false;
	resp.has_cr_errno = true;
	resp.cr_errno = 3;
	resp.cr_errmsg = "Can't seize\nsecond line";
	assert_non_null(strstr(summary(CRPC_FROM_CRIU, &resp.base, -1),
			       "<- DUMP FAILED errno=ESRCH: Can't seize ("));

	assert_non_null(strstr(summary(CRPC_FROM_CRIU, &resp.base, -1), "FAILED"));
	crpc_message_summary(CRPC_TO_CRIU, junk, sizeof(junk), -1, small, sizeof(small));
	/* cut to the buffer, still terminated */
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "-> undecoda", sizeof(small) - 1);
	assert_int_equal(crpc_message_summary(CRPC_TO_CRIU, junk, sizeof(junk), -1, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_messages),  cmocka_unit_test(test_trace_open_fails),
		cmocka_unit_test(test_trace_events),    cmocka_unit_test(test_trace_events_damaged),
		cmocka_unit_test(test_message_summary),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
