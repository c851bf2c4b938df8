/* SPDX-License-Identifier: MIT */
/*
 * replay.c - stand in for `criu swrk`: answer a client with the messages of
 * a recorded trace and compare what it sends with what was recorded.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "crpc/replay.h"
#include "internal.h"
#include "pbdiff.h"

CRPC_API const char *const crpc_replay_default_ignore[] = {
	"opts.images_dir_fd",  "opts.work_dir_fd", "opts.status_fd",
	"opts.pidfd_store_sk", "opts.ps.fd",       NULL,
};

static const char *const outcome_names[] = {
	[CRPC_REPLAY_MATCHED] = "matched",           [CRPC_REPLAY_DIVERGED] = "diverged",
	[CRPC_REPLAY_CLIENT_ENDED] = "client-ended", [CRPC_REPLAY_EXTRA_MESSAGE] = "extra-message",
	[CRPC_REPLAY_TIMEOUT] = "timeout",           [CRPC_REPLAY_TRACE_ENDS] = "trace-ends",
	[CRPC_REPLAY_IO_ERROR] = "io-error",
};

CRPC_API const char *crpc_replay_outcome_name(crpc_replay_outcome o)
{
	return ENUM_NAME(outcome_names, o, "?");
}

CRPC_API int crpc_replay_field_check(const char *path, crpc_error **err)
{
	char why[256];

	if (!path || !crpc__pb_path_valid(&criu_req__descriptor, path ? path : "", why, sizeof(why)))
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "replay", "invalid field %s",
				      path ? why : "(null)");
	return 0;
}

/* ---- comparing ---- */

static const ProtobufCMessageDescriptor *desc_of(crpc_direction dir)
{
	return dir == CRPC_TO_CRIU ? &criu_req__descriptor : &criu_resp__descriptor;
}

/* "DUMP" for a packed message of that direction, "" when it does not decode. */
static void type_of(crpc_direction dir, const uint8_t *msg, size_t len, char *buf, size_t bufsz)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc_of(dir), NULL, len, msg);
	const ProtobufCFieldDescriptor *f0;
	const ProtobufCEnumValue *ev = NULL;
	int v;

	buf[0] = '\0';
	if (!m)
		return;
	/* the type is the first field of both criu_req and criu_resp */
	f0 = protobuf_c_message_descriptor_get_field(desc_of(dir), 1);
	if (f0 && f0->type == PROTOBUF_C_TYPE_ENUM) {
		memcpy(&v, (const char *)m + f0->offset, sizeof(v));
		ev = protobuf_c_enum_descriptor_get_value(f0->descriptor, v);
		if (ev)
			snprintf(buf, bufsz, "%s", ev->name);
		else
			snprintf(buf, bufsz, "type %d", v);
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

int crpc__replay_compare(crpc_direction dir, const uint8_t *recorded, size_t recorded_len,
			 const uint8_t *received, size_t received_len, const char *const *ignore,
			 size_t n_ignore, crpc_replay_diff *diff)
{
	const ProtobufCMessageDescriptor *d = desc_of(dir);
	ProtobufCMessage *a, *b;
	crpc__pb_difference pd;
	int rc;

	if (!diff || (!recorded && recorded_len) || (!received && received_len))
		return -1;
	memset(diff, 0, sizeof(*diff));
	a = protobuf_c_message_unpack(d, NULL, recorded_len, recorded);
	b = protobuf_c_message_unpack(d, NULL, received_len, received);
	if (!a || !b) {
		/* what does not decode can still be the same bytes */
		rc = recorded_len == received_len &&
				     (recorded_len == 0 || memcmp(recorded, received, recorded_len) == 0)
			     ? 0
			     : 1;
		if (rc) {
			char t[64];

			type_of(dir, recorded, recorded_len, t, sizeof(t));
			if (a)
				snprintf(diff->recorded, sizeof(diff->recorded), "a valid %s (%s)", d->name,
					 t);
			else
				snprintf(diff->recorded, sizeof(diff->recorded),
					 "%zu bytes that are not a valid %s", recorded_len, d->name);
			type_of(dir, received, received_len, t, sizeof(t));
			if (b)
				snprintf(diff->received, sizeof(diff->received), "a valid %s (%s)", d->name,
					 t);
			else
				snprintf(diff->received, sizeof(diff->received),
					 "%zu bytes that are not a valid %s", received_len, d->name);
		}
		if (a)
			protobuf_c_message_free_unpacked(a, NULL);
		if (b)
			protobuf_c_message_free_unpacked(b, NULL);
		return rc;
	}
	rc = crpc__pb_diff(a, b, ignore, n_ignore, &pd);
	if (rc == 1) {
		snprintf(diff->field, sizeof(diff->field), "%s", pd.path);
		snprintf(diff->recorded, sizeof(diff->recorded), "%s", pd.expected);
		snprintf(diff->received, sizeof(diff->received), "%s", pd.actual);
	}
	protobuf_c_message_free_unpacked(a, NULL);
	protobuf_c_message_free_unpacked(b, NULL);
	return rc;
}

/* ---- checking a trace ---- */

CRPC_API int crpc_replay_check(const crpc_trace_file *t, crpc_error **err)
{
	size_t n = crpc_trace_file_count(t), np = crpc_trace_file_problem_count(t);
	const char *path = crpc_trace_file_path(t);

	if (np) {
		const crpc_trace_problem *p = crpc_trace_file_problem(t, 0);

		crpc_error_set(err, CRPC_EXIT_USAGE, 0, "replay", "trace %s is damaged: line %lu: %s%s",
			       path, p->line, p->error, np > 1 ? " (and more damaged lines)" : "");
		if (err && *err)
			crpc_error_set_hint(*err,
					    "'crpc trace show %s' lists every damaged line; a trace "
					    "can only be replayed whole",
					    path);
		return -1;
	}
	if (n == 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, "replay",
				      "trace %s holds no messages: nothing to replay", path);
	for (size_t i = 0; i < n; i++) {
		const crpc_trace_record *r = crpc_trace_file_record(t, i);

		if (r->seq != i + 1)
			return crpc_error_set(err, CRPC_EXIT_USAGE, 0, "replay",
					      "trace %s: line %lu: message seq %lu where %zu was expected: "
					      "messages are missing or out of order",
					      path, r->line, r->seq, i + 1);
		if (!r->raw)
			return crpc_error_set(err, CRPC_EXIT_USAGE, 0, "replay",
					      "trace %s: line %lu: message %lu has no \"raw\" bytes to replay",
					      path, r->line, r->seq);
	}
	return 0;
}

/* ---- the wire ---- */

/* A fresh pty master to pass where CRIU passed one; /dev/null without ptys. */
static int stand_in_fd(void)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd >= 0 && (grantpt(fd) < 0 || unlockpt(fd) < 0)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	return fd;
}

CRPC_API int crpc_replay_send_failure(int sk, const char *errmsg, crpc_error **err)
{
	CriuResp r = CRIU_RESP__INIT;
	uint8_t *buf;
	size_t len;
	int rc = 0;

	r.type = CRIU_REQ_TYPE__EMPTY;
	r.success = 0;
	r.cr_errmsg = (char *)(errmsg ? errmsg : "crpc replay: cannot answer this request");
	len = criu_resp__get_packed_size(&r);
	buf = malloc(len ? len : 1);
	if (!buf)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "replay", "out of memory");
	criu_resp__pack(&r, buf);
	if (crpc__record_send(sk, buf, len, NULL, 0) < 0)
		rc = crpc_error_set(err, CRPC_EXIT_FAIL, errno, "replay",
				    "cannot send the failure reply to the client");
	free(buf);
	return rc;
}

/* Wait until sk is readable (or hung up) or timeout_ms passed: 1, 0 on timeout, -1 on error. */
static int wait_readable(int sk, unsigned timeout_ms)
{
	double deadline = crpc__now() + timeout_ms / 1000.0;

	for (;;) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		double left = deadline - crpc__now();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)(left * 1000.0) + 1);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* ---- the replay ---- */

typedef struct serve {
	const crpc_trace_file *t;
	int sk;
	crpc_replay_report *rep;
	const char **ignore;
	size_t n_ignore;
} serve;

static void describe(char *buf, size_t bufsz, const crpc_trace_record *r)
{
	snprintf(buf, bufsz, "%s %s",
		 r->dir == CRPC_TO_CRIU ? "to CRIU:" : "from CRIU:", r->msg_type ? r->msg_type : "?");
}

/* Stop at record r with this outcome; text formatted after "... message K of N (...)". */
static void stop_at(serve *s, crpc_replay_outcome o, const crpc_trace_record *r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void stop_at(serve *s, crpc_replay_outcome o, const crpc_trace_record *r, const char *fmt, ...)
{
	crpc_replay_report *rep = s->rep;
	char what[96];
	va_list ap;
	int n = 0;

	rep->outcome = o;
	if (r) {
		rep->at = r->seq;
		rep->line = r->line;
		rep->dir = r->dir;
		snprintf(rep->msg_type, sizeof(rep->msg_type), "%s", r->msg_type ? r->msg_type : "");
		describe(what, sizeof(what), r);
		n = snprintf(rep->text, sizeof(rep->text),
			     "message %lu of %zu (%s, trace line %lu): ", r->seq, rep->total, what, r->line);
		if (n < 0 || (size_t)n >= sizeof(rep->text))
			n = 0;
	}
	va_start(ap, fmt);
	vsnprintf(rep->text + n, sizeof(rep->text) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Tell the client why the replay stopped (best effort: it may be gone). */
static void answer_failure(serve *s)
{
	char msg[sizeof(s->rep->text) + 32];

	snprintf(msg, sizeof(msg), "crpc replay: %s", s->rep->text);
	crpc_replay_send_failure(s->sk, msg, NULL);
}

/* Receive one message from the client. 0 with *buf, 1 on EOF, -1 on error (report filled). */
static int receive(serve *s, const crpc_trace_record *r, unsigned timeout_ms, uint8_t **buf, size_t *len)
{
	crpc_error *e = NULL;
	int fd = -1, rc;

	rc = wait_readable(s->sk, timeout_ms);
	if (rc == 0) {
		stop_at(s, CRPC_REPLAY_TIMEOUT, r, "the client sent nothing within %.1f s",
			timeout_ms / 1000.0);
		answer_failure(s);
		return -1;
	}
	rc = crpc__msg_recv(s->sk, CRPC_MSG_MAX, buf, len, &fd, &e);
	if (fd >= 0)
		close(fd); /* nothing the client sends carries an fd; not part of the compare */
	if (rc == CRPC__RECV_OK || rc == CRPC__RECV_EOF)
		return rc == CRPC__RECV_OK ? 0 : 1;
	if (e && e->sys_errno == EMSGSIZE)
		stop_at(s, CRPC_REPLAY_IO_ERROR, r,
			"the client sent a message larger than the %u bytes crpc accepts",
			(unsigned)CRPC_MSG_MAX);
	else
		stop_at(s, CRPC_REPLAY_IO_ERROR, r, "cannot receive the client's message: %s",
			e && e->sys_errno ? strerror(e->sys_errno) : "unknown error");
	crpc_error_free(e);
	answer_failure(s);
	return -1;
}

static int serve_to_criu(serve *s, const crpc_trace_record *r, unsigned timeout_ms)
{
	crpc_replay_diff *d = &s->rep->diff;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = receive(s, r, timeout_ms, &buf, &len);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		stop_at(s, CRPC_REPLAY_CLIENT_ENDED, r, "the client hung up before sending it");
		return -1;
	}
	rc = crpc__replay_compare(CRPC_TO_CRIU, r->raw, r->raw_len, buf, len, s->ignore, s->n_ignore, d);
	free(buf);
	if (rc == 0)
		return 0;
	if (d->field[0])
		stop_at(s, CRPC_REPLAY_DIVERGED, r, "%s: recorded %s, received %s", d->field, d->recorded,
			d->received);
	else
		stop_at(s, CRPC_REPLAY_DIVERGED, r, "recorded %s, received %s", d->recorded, d->received);
	answer_failure(s);
	return -1;
}

static int serve_from_criu(serve *s, const crpc_trace_record *r)
{
	int fd = r->fd >= 0 ? stand_in_fd() : -1;
	int rc = crpc__record_send(s->sk, r->raw, r->raw_len, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	int e = errno;

	if (fd >= 0)
		close(fd);
	if (rc == 0)
		return 0;
	if (e == EPIPE || e == ECONNRESET || e == ENOTCONN)
		stop_at(s, CRPC_REPLAY_CLIENT_ENDED, r, "the client hung up before it was sent");
	else
		stop_at(s, CRPC_REPLAY_IO_ERROR, r, "cannot send it to the client: %s", strerror(e));
	return -1;
}

/* After the last message: the client hangs up, stays, or sends more. */
static void serve_end(serve *s, unsigned eof_timeout_ms)
{
	crpc_replay_report *rep = s->rep;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1, rc;
	crpc_error *e = NULL;
	char t[64];

	rc = wait_readable(s->sk, eof_timeout_ms);
	if (rc <= 0) {
		/* still connected: nothing more was recorded, and nothing more came */
		snprintf(rep->text, sizeof(rep->text),
			 "all %zu messages replayed as recorded (the client was still connected %.1f s "
			 "after the last one)",
			 rep->total, eof_timeout_ms / 1000.0);
		return;
	}
	rc = crpc__msg_recv(s->sk, CRPC_MSG_MAX, &buf, &len, &fd, &e);
	if (fd >= 0)
		close(fd);
	crpc_error_free(e);
	if (rc == CRPC__RECV_EOF) {
		snprintf(rep->text, sizeof(rep->text), "all %zu messages replayed as recorded", rep->total);
		return;
	}
	rep->outcome = CRPC_REPLAY_EXTRA_MESSAGE;
	rep->at = rep->total + 1;
	rep->line = 0;
	rep->dir = CRPC_TO_CRIU;
	if (rc == CRPC__RECV_OK) {
		type_of(CRPC_TO_CRIU, buf, len, t, sizeof(t));
		memcpy(rep->msg_type, t, sizeof(rep->msg_type) - 1);
		rep->msg_type[sizeof(rep->msg_type) - 1] = '\0';
		snprintf(rep->diff.recorded, sizeof(rep->diff.recorded), "(no message)");
		if (t[0])
			snprintf(rep->diff.received, sizeof(rep->diff.received), "a %s request (%zu bytes)",
				 t, len);
		else
			snprintf(rep->diff.received, sizeof(rep->diff.received),
				 "%zu bytes that are not a valid criu_req", len);
	}
	snprintf(rep->text, sizeof(rep->text),
		 "the client sent more than recorded: message %lu (%s) after the %zu of the trace", rep->at,
		 rc == CRPC__RECV_OK ? rep->diff.received : "unreadable", rep->total);
	free(buf);
	answer_failure(s);
}

CRPC_API void crpc_replay_options_init(crpc_replay_options *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
}

CRPC_API int crpc_replay_serve(const crpc_trace_file *t, int sk, const crpc_replay_options *options,
			       crpc_replay_report *rep, crpc_error **err)
{
	crpc_replay_options given;
	const crpc_replay_options *opts = &given;
	serve s = { .t = t, .sk = sk, .rep = rep };
	unsigned timeout_ms, eof_ms;
	size_t n, n_def = 0;

	if (!t || sk < 0 || !rep)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "replay", "invalid arguments");
	crpc_replay_options_init(&given);
	if (options) {
		if (crpc__sized_take(&given, sizeof(given), options, offsetof(crpc_replay_options, ignore),
				     "replay", "crpc_replay_options_init", err) < 0)
			return -1;
	}
	memset(rep, 0, sizeof(*rep));
	n = crpc_trace_file_count(t);
	rep->total = n;
	timeout_ms = opts->timeout_ms ? opts->timeout_ms : CRPC_REPLAY_TIMEOUT_DEFAULT * 1000u;
	eof_ms = opts->eof_timeout_ms ? opts->eof_timeout_ms : 10000u;

	if (!opts->no_default_ignore)
		while (crpc_replay_default_ignore[n_def])
			n_def++;
	s.ignore = calloc(n_def + opts->n_ignore + 1, sizeof(*s.ignore));
	if (!s.ignore)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "replay", "out of memory");
	for (size_t i = 0; i < n_def; i++)
		s.ignore[s.n_ignore++] = crpc_replay_default_ignore[i];
	for (size_t i = 0; i < opts->n_ignore; i++)
		if (opts->ignore[i])
			s.ignore[s.n_ignore++] = opts->ignore[i];

	for (size_t i = 0; i < n; i++) {
		const crpc_trace_record *r = crpc_trace_file_record(t, i);
		int rc = r->dir == CRPC_TO_CRIU ? serve_to_criu(&s, r, timeout_ms) : serve_from_criu(&s, r);

		if (rc < 0)
			goto out;
		rep->matched++;
		if (opts->on_message)
			opts->on_message(r, opts->on_message_data);
		if (i + 1 == n && r->dir == CRPC_TO_CRIU) {
			/* the client waits for an answer the trace does not hold: hang up as CRIU did */
			stop_at(&s, CRPC_REPLAY_TRACE_ENDS, r,
				"the trace ends here, without CRIU's answer (CRIU ended without one, or "
				"the trace is cut short)");
			goto out;
		}
	}
	serve_end(&s, eof_ms);
out:
	free(s.ignore);
	return rep->outcome == CRPC_REPLAY_MATCHED ? 0 : 1;
}
