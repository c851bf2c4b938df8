/* SPDX-License-Identifier: MIT */
/*
 * shim_forward.c - the shim passing messages on: a client's request with
 * the fds CRIU resolves through its peer taken into the shim, the hooks of
 * a DUMP or RESTORE run at CRIU's notifications, CRIU's notifications and
 * replies passed back, and the failure replies the shim writes itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>

#include "crpc/hooks.h"
#include "crpc/notify.h"
#include "internal.h"
#include "shim_int.h"

/* How long CRIU may take to end once it hung up on us (it is exiting). */
#define CRIU_EXIT_WAIT_MS 5000u

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* ---- small helpers ------------------------------------------------------ */

static void close_fds(int *fds, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	*n = 0;
}

/* ---- replies the shim writes itself ---------------------------------------- */

/* A failed reply of `type` carrying `msg` to the client. */
static void reply_failure(struct shim *s, int type, const char *msg)
{
	char text[SHIM_ERRMSG_MAX + 1], ev[SHIM_ERRMSG_MAX + 64];

	snprintf(text, sizeof(text), "%s", msg);
	shim_sanitize(text);
	shim_vlog(s, "-> client: %s failed: %s", shim_type_name(type), text);
	snprintf(ev, sizeof(ev), "%s: %s", shim_type_name(type), text);
	shim_trace_event(s, "shim-reply", NULL, ev);
	if (!s->client_gone && shim_send_failure(s->client, type, text) < 0)
		shim_note(s, LOG_WARNING, "cannot send the failure reply to the client: %s", strerror(errno));
}

/* Answer a notification to CRIU ourselves. */
static int ack_criu(struct shim *s, bool ok, char **ext, size_t n_ext)
{
	CriuReq ack = CRIU_REQ__INIT;
	CriuOpts o = CRIU_OPTS__INIT;
	uint8_t *buf;
	size_t len;
	int rc;

	ack.type = CRIU_REQ_TYPE__NOTIFY;
	ack.has_notify_success = 1;
	ack.notify_success = ok;
	if (ok && n_ext) {
		o.external = ext;
		o.n_external = n_ext;
		ack.opts = &o;
	}
	len = criu_req__get_packed_size(&ack);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	criu_req__pack(&ack, buf);
	shim_trace_msg(s, CRPC_TO_CRIU, buf, len, -1);
	rc = crpc__record_send(s->criu_sk, buf, len, NULL, 0);
	free(buf);
	return rc;
}

/* ---- the request in flight ------------------------------------------------- */

static void free_ext(struct shim *s)
{
	for (size_t i = 0; i < s->n_ext; i++)
		free(s->ext[i]);
	free(s->ext);
	s->ext = NULL;
	s->n_ext = 0;
}

void shim_request_end(struct shim *s)
{
	if (s->runner) {
		for (const char *const *w = crpc_hook_runner_warnings(s->runner); w && *w; w++)
			shim_note(s, LOG_WARNING, "hook warning: %s", *w);
	}
	close_fds(s->held, &s->n_held);
	s->log_dirfd = -1;
	free(s->log_name);
	s->log_name = NULL;
	crpc_hook_runner_free(s->runner);
	s->runner = NULL;
	crpc_dispatcher_free(s->disp);
	s->disp = NULL;
	crpc_error_free(s->abort_reason);
	s->abort_reason = NULL;
	s->abort_cb[0] = '\0';
	free_ext(s);
	s->outstanding = false;
	s->await_ack = false;
	s->client_notify = false;
	s->seq = 0;
}

/*
 * Take fd number `n` of the client into the shim: pidfd_getfd() (the very
 * same open file), else reopening /proc/CLIENT/fd/N with `flags`.
 */
static int take_client_fd(struct shim *s, int n, int flags)
{
	char path[64];
	int fd = -1;

	if (s->client_pidfd >= 0)
		fd = (int)syscall(SYS_pidfd_getfd, s->client_pidfd, n, 0);
	if (fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	if (flags < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)s->client_pid, n);
	return open(path, flags | O_CLOEXEC);
}

/*
 * Rewrite the fd fields CRIU resolves through its peer so that they name
 * the shim's copies. -1 with a message for the client when one cannot be
 * taken (forwarding the number would let CRIU open one of the shim's fds).
 */
static int translate_fds(struct shim *s, CriuOpts *o, char *why, size_t whysz)
{
	struct {
		const char *name;
		int32_t *val;
		bool present;
		int flags; /* for reopening; -1: only pidfd_getfd */
	} f[] = {
		{ "images_dir_fd", &o->images_dir_fd, o->images_dir_fd >= 0, O_RDONLY },
		{ "work_dir_fd", &o->work_dir_fd, o->has_work_dir_fd && o->work_dir_fd >= 0, O_RDONLY },
		{ "status_fd", &o->status_fd, o->has_status_fd && o->status_fd >= 0, O_WRONLY },
		{ "pidfd_store_sk", &o->pidfd_store_sk, o->has_pidfd_store_sk && o->pidfd_store_sk >= 0, -1 },
	};
	int orig[4];

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int fd = -1;

		orig[i] = *f[i].val;
		if (!f[i].present)
			continue;
		for (size_t j = 0; j < i; j++)
			if (f[j].present && orig[j] == orig[i])
				fd = *f[j].val; /* the same client fd: one copy */
		if (fd < 0) {
			fd = take_client_fd(s, orig[i], f[i].flags);
			if (fd < 0) {
				int e = errno;

				snprintf(why, whysz,
					 "crpc shim: cannot take %s %d from the client (pid %d, %s): %s (%s); "
					 "the request was not passed to CRIU",
					 f[i].name, orig[i], (int)s->client_pid, s->client_comm,
					 crpc_errno_name(e) ? crpc_errno_name(e) : "?", strerror(e));
				return -1;
			}
			s->held[s->n_held++] = fd;
		}
		shim_vlog(s, "%s: client fd %d is fd %d here", f[i].name, orig[i], fd);
		*f[i].val = fd;
	}
	return 0;
}

/* Where CRIU writes its log for a request: its work dir (as CRIU does). */
static void log_location(struct shim *s, const CriuOpts *o)
{
	const char *name = o->log_file ? o->log_file : "criu.log";

	s->log_dirfd = o->has_work_dir_fd && o->work_dir_fd >= 0 ? o->work_dir_fd : o->images_dir_fd;
	if (s->log_dirfd >= 0 && !strchr(name, '/'))
		s->log_name = strdup(name);
	if (!s->log_name)
		s->log_dirfd = -1;
}

/*
 * Add the shim's reason for a failure as the last line of CRIU's log: the
 * file a client names in its error ("log file: ...") and the one people
 * read; not every client shows cr_errmsg (runc 1.1 does not). Only an
 * existing regular file is appended to.
 */
static void log_append(const struct shim *s, const char *msg)
{
	struct stat st;
	char *line = NULL;
	int fd, n;

	if (s->log_dirfd < 0 || !s->log_name)
		return;
	if (strncmp(msg, "crpc shim: ", 11) == 0)
		msg += 11;
	fd = openat(s->log_dirfd, s->log_name,
		    O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? asprintf(&line, "Error (crpc shim): %s\n", msg) : -1;
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		shim_vlog(s, "cannot add to CRIU's log %s: %s", s->log_name, strerror(errno));
	free(line);
	close(fd);
}

static bool have_hooks(const crpc_hooks *h)
{
	if (!h)
		return false;
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++)
		if (h->n_steps[k])
			return true;
	return false;
}

/*
 * The dispatcher and hook runner of a DUMP or RESTORE request. -1 with a
 * message for the client when they cannot be set up: the operation must not
 * run without the steps configured for it.
 */
static int request_hooks(struct shim *s, const CriuReq *req, char *why, size_t whysz)
{
	const CriuOpts *o = req->opts;
	crpc_hook_context ctx;
	crpc_error *e = NULL;
	char op[32];

	if (!have_hooks(s->cfg->hooks) || !o)
		return 0;
	crpc_hook_context_init(&ctx);
	shim_op_word(req->type, op, sizeof(op));
	ctx.operation = op;
	ctx.pid = req->type == CRIU_REQ_TYPE__DUMP && o->has_pid ? o->pid : 0;
	ctx.images_dir_fd = o->images_dir_fd;
	ctx.verbose = s->cfg->verbose;
	s->disp = crpc_dispatcher_new();
	if (!s->disp || crpc_hook_runner_new(&s->runner, s->cfg->hooks, &ctx, &e) < 0 ||
	    crpc_dispatcher_add(s->disp, "hooks", crpc_hook_runner_notify, s->runner) < 0) {
		snprintf(why, whysz,
			 "crpc shim: cannot set up the hooks of the %s: %s%s%s; the request "
			 "was not passed to CRIU",
			 op, e && e->message ? e->message : "out of memory", e && e->sys_errno ? ": " : "",
			 e && e->sys_errno ? strerror(e->sys_errno) : "");
		crpc_error_free(e);
		return -1;
	}
	return 0;
}

/* ---- messages from the client --------------------------------------------- */

/* The session is over because of the client: a reason for the log. */
static int session_fail(struct shim *s, int type, const char *why, crpc_error **err)
{
	reply_failure(s, type, why);
	crpc_error_set(err, CRPC_EXIT_FAIL, 0, "shim", "%s", why);
	return -1;
}

/*
 * A record from `who` ("the client", "CRIU") that could not be received
 * (errno e; rec_len its size after EMSGSIZE): ends the session. -1.
 */
static int recv_failed(struct shim *s, const char *who, int e, size_t rec_len, crpc_error **err)
{
	char why[512];

	if (e == EMSGSIZE)
		snprintf(why, sizeof(why),
			 "crpc shim: %s sent a %zu-byte message, more than the %u bytes the shim accepts; the "
			 "session was ended",
			 who, rec_len, SHIM_MSG_MAX);
	else
		snprintf(why, sizeof(why), "crpc shim: cannot read %s's message: %s", who, strerror(e));
	return session_fail(s, s->outstanding ? s->req_type : CRIU_REQ_TYPE__EMPTY, why, err);
}

/* A NOTIFY answer of the client for a notification it was given. */
static int client_ack(struct shim *s, crpc__record *rec, CriuReq *req)
{
	uint8_t *buf = rec->buf;
	size_t len = rec->len;
	int rc;

	s->await_ack = false;
	if (s->n_ext && req->has_notify_success && req->notify_success) {
		/* the hooks' entries join the client's own */
		CriuOpts own = CRIU_OPTS__INIT;
		CriuOpts *o = req->opts ? req->opts : &own;
		size_t total = o->n_external + s->n_ext;
		char **all = calloc(total, sizeof(char *));
		char **keep = o->external;
		size_t keep_n = o->n_external;

		if (all) {
			if (o->n_external)
				memcpy(all, o->external, o->n_external * sizeof(char *));
			memcpy(all + o->n_external, s->ext, s->n_ext * sizeof(char *));
			o->external = all;
			o->n_external = total;
			req->opts = o;
			len = criu_req__get_packed_size(req);
			buf = malloc(len ? len : 1);
			if (buf)
				criu_req__pack(req, buf);
			o->external = keep;
			o->n_external = keep_n;
			if (o == &own)
				req->opts = NULL;
			free(all);
		}
		if (!buf) {
			buf = rec->buf;
			len = rec->len;
		}
	}
	free_ext(s);
	shim_trace_msg(s, CRPC_TO_CRIU, buf, len, rec->nfds ? rec->fds[0] : -1);
	rc = crpc__record_send(s->criu_sk, buf, len, rec->fds, rec->nfds);
	if (buf != rec->buf)
		free(buf);
	return rc;
}

/*
 * A message from the client. 0: go on; 1: the session is over (client
 * gone); -1: failed (the client was told).
 */
/*
 * A container operation's options (crpc_shim_config.request_options,
 * "NAME=VALUE") into the client's DUMP or RESTORE request: booleans and numbers of criu_opts by
 * their field name, where the client left the field at its default.
 */
static void add_request_options(struct shim *s, CriuOpts *o)
{
	for (char *const *p = s->cfg->request_options; p && *p; p++) {
		const char *eq = strchr(*p, '=');
		char name[64];
		const ProtobufCFieldDescriptor *f;
		char *base = (char *)o;
		unsigned long long v;
		char *end;

		if (!eq || (size_t)(eq - *p) >= sizeof(name))
			continue;
		memcpy(name, *p, (size_t)(eq - *p));
		name[eq - *p] = '\0';
		f = protobuf_c_message_descriptor_get_field_by_name(&criu_opts__descriptor, name);
		if (!f || f->label != PROTOBUF_C_LABEL_OPTIONAL || !f->quantifier_offset)
			continue;
		if (f->type == PROTOBUF_C_TYPE_BOOL) {
			protobuf_c_boolean *val = (protobuf_c_boolean *)(base + f->offset);

			if (strcmp(eq + 1, "true") != 0 || *val)
				continue;
			*val = 1;
		} else if (f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_INT32 ||
			   f->type == PROTOBUF_C_TYPE_UINT64) {
			errno = 0;
			v = strtoull(eq + 1, &end, 10);
			if (errno || end == eq + 1 || *end)
				continue;
			if (f->type == PROTOBUF_C_TYPE_UINT64) {
				if (*(uint64_t *)(base + f->offset))
					continue;
				*(uint64_t *)(base + f->offset) = v;
			} else {
				if (v > INT32_MAX || *(uint32_t *)(base + f->offset))
					continue;
				*(uint32_t *)(base + f->offset) = (uint32_t)v;
			}
		} else {
			continue;
		}
		*(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
		shim_vlog(s, "added %s to the %s request", *p, shim_type_name(s->req_type));
	}
}

static void to_client(struct shim *s, const uint8_t *buf, size_t len, const int *fds, size_t nfds);

/*
 * A VERSION request before any CRIU serves the session, answered with the
 * reply this CRIU binary gave before (shim_version.c): no CRIU is started
 * for it. Recorded as if passed on, with an event saying so.
 */
static void answer_remembered(struct shim *s, const crpc__record *rec)
{
	shim_trace_msg(s, CRPC_TO_CRIU, rec->buf, rec->len, -1);
	shim_trace_event(s, "version-remembered", NULL,
			 "answered with the VERSION reply this CRIU binary gave before; no CRIU was started");
	shim_vlog(s, "VERSION answered with %s's remembered reply", s->cfg->criu_path);
	shim_trace_msg(s, CRPC_FROM_CRIU, s->version_reply, s->version_len, -1);
	to_client(s, s->version_reply, s->version_len, NULL, 0);
}

int shim_from_client(struct shim *s, crpc_error **err)
{
	crpc__record rec;
	CriuReq *req;
	char why[1024];
	uint8_t *out = NULL;
	size_t outlen;
	int rc;

	rc = shim_record_recv(s->client, &rec);
	if (rc == CRPC__RECV_EOF) {
		s->client_gone = true;
		shim_vlog(s, "the client closed its socket%s",
			  s->outstanding ? " with a request in flight" : "");
		return 1;
	}
	if (rc < 0)
		return recv_failed(s, "the client", errno, rec.len, err);
	req = criu_req__unpack(NULL, rec.len, rec.buf);
	if (!req) {
		if (!s->trace_tried)
			shim_trace_start(s, CRIU_REQ_TYPE__EMPTY);
		shim_trace_msg(s, CRPC_TO_CRIU, rec.buf, rec.len, -1);
		snprintf(why, sizeof(why),
			 "crpc shim: the client sent a %zu-byte message that is not a valid criu_req; it "
			 "was not passed to CRIU and the session was ended",
			 rec.len);
		crpc__record_release(&rec);
		return session_fail(s, s->outstanding ? s->req_type : CRIU_REQ_TYPE__EMPTY, why, err);
	}
	if (!s->trace_tried)
		shim_trace_start(s, req->type);

	if (req->type == CRIU_REQ_TYPE__NOTIFY && s->criu_sk >= 0) {
		/* the answer to a notification (expected or not): on to CRIU */
		if (client_ack(s, &rec, req) < 0)
			shim_vlog(s, "cannot pass the client's answer on to CRIU: %s", strerror(errno));
		criu_req__free_unpacked(req, NULL);
		crpc__record_release(&rec);
		return 0; /* a dead CRIU shows up on its socket */
	}

	/* a new request */
	if (s->outstanding)
		shim_request_end(s); /* e.g. PRE_DUMP after PRE_DUMP: each brings its own fds */
	if (req->type == CRIU_REQ_TYPE__VERSION && s->criu_pid == 0 && rec.nfds == 0 &&
	    shim_version_known(s)) {
		bool last = !req->keep_open;

		answer_remembered(s, &rec);
		criu_req__free_unpacked(req, NULL);
		crpc__record_release(&rec);
		if (last) {
			/* CRIU ends a session after a request without keep_open (status 0) */
			s->client_gone = true;
			return 1;
		}
		return 0;
	}
	if (req->type == CRIU_REQ_TYPE__DUMP && (!req->opts || !req->opts->has_pid || req->opts->pid <= 0)) {
		snprintf(why, sizeof(why),
			 "crpc shim: a DUMP without a pid (CRIU dumping its client) cannot go through "
			 "the shim: CRIU would dump the shim; give the pid to dump");
		criu_req__free_unpacked(req, NULL);
		crpc__record_release(&rec);
		return session_fail(s, CRIU_REQ_TYPE__DUMP, why, err);
	}
	s->req_type = req->type;
	s->req_t0 = crpc__now();
	if (req->opts) {
		if (translate_fds(s, req->opts, why, sizeof(why)) < 0) {
			int t = req->type;

			criu_req__free_unpacked(req, NULL);
			crpc__record_release(&rec);
			return session_fail(s, t, why, err);
		}
		log_location(s, req->opts);
		if (req->type == CRIU_REQ_TYPE__DUMP || req->type == CRIU_REQ_TYPE__RESTORE)
			add_request_options(s, req->opts);
		s->client_notify = req->opts->has_notify_scripts && req->opts->notify_scripts;
		if ((req->type == CRIU_REQ_TYPE__DUMP || req->type == CRIU_REQ_TYPE__RESTORE) &&
		    have_hooks(s->cfg->hooks)) {
			if (request_hooks(s, req, why, sizeof(why)) < 0) {
				int t = req->type;

				criu_req__free_unpacked(req, NULL);
				crpc__record_release(&rec);
				return session_fail(s, t, why, err);
			}
			if (!s->client_notify) {
				req->opts->has_notify_scripts = 1;
				req->opts->notify_scripts = 1;
				shim_vlog(s,
					  "notifications turned on for the hooks; the client does not see them");
			}
		}
	}
	shim_trace_name_op(s, req->type);
	if (s->criu_pid == 0 && shim_start_criu(s, err) < 0) {
		int t = req->type;

		snprintf(why, sizeof(why), "crpc shim: cannot start CRIU %s: %s", s->cfg->criu_path,
			 err && *err && (*err)->sys_errno ? strerror((*err)->sys_errno) : "failed");
		criu_req__free_unpacked(req, NULL);
		crpc__record_release(&rec);
		reply_failure(s, t, why);
		return -1;
	}
	outlen = criu_req__get_packed_size(req);
	out = malloc(outlen ? outlen : 1);
	if (!out) {
		int t = req->type;

		criu_req__free_unpacked(req, NULL);
		crpc__record_release(&rec);
		return session_fail(s, t, "crpc shim: out of memory", err);
	}
	criu_req__pack(req, out);
	s->outstanding = true;
	criu_req__free_unpacked(req, NULL);
	shim_trace_msg(s, CRPC_TO_CRIU, out, outlen, rec.nfds ? rec.fds[0] : -1);
	if (s->criu_sk >= 0 && crpc__record_send(s->criu_sk, out, outlen, rec.fds, rec.nfds) < 0) {
		int e = errno;

		shim_vlog(s, "cannot send the request to CRIU: %s", strerror(e));
		if (e != EPIPE && e != ECONNRESET) {
			/* a CRIU that hung up shows on its socket; anything else ends here */
			snprintf(why, sizeof(why),
				 "crpc shim: the %zu-byte %s request could not be passed to CRIU (%s)",
				 outlen, shim_type_name(s->req_type), strerror(e));
			free(out);
			crpc__record_release(&rec);
			return session_fail(s, s->req_type, why, err);
		}
	}
	free(out);
	crpc__record_release(&rec);
	return 0;
}

/* ---- messages from CRIU ------------------------------------------------------ */

/* Forward a record from CRIU to the client as it came. */
static void to_client(struct shim *s, const uint8_t *buf, size_t len, const int *fds, size_t nfds)
{
	if (s->client_gone)
		return;
	if (crpc__record_send(s->client, buf, len, fds, nfds) < 0) {
		int e = errno;

		shim_vlog(s, "cannot forward to the client: %s", strerror(e));
		if (e == EPIPE || e == ECONNRESET) {
			s->client_gone = true;
		} else if (!s->broken) {
			/* the client waits for this message: tell it and end */
			if (asprintf(&s->broken,
				     "crpc shim: CRIU's %zu-byte message could not be passed to the client "
				     "(%s); the session was ended",
				     len, strerror(e)) < 0)
				s->broken = NULL;
			reply_failure(s, s->outstanding ? s->req_type : CRIU_REQ_TYPE__EMPTY,
				      s->broken ? s->broken : "crpc shim: a message could not be passed on");
			if (!s->broken)
				s->broken = strdup("");
		}
	}
}

/* A notification: hooks first, then the client (if it asked) or our own answer. */
static int criu_notify(struct shim *s, crpc__record *rec, const CriuResp *r)
{
	crpc_notify n = { 0 };
	crpc_error *lerr = NULL;
	bool ok = true;
	char op[32];
	int rc = 0;

	n.name = r->notify && r->notify->script ? r->notify->script : "";
	n.kind = crpc_notify_kind_from_name(n.name);
	n.pid = r->notify && r->notify->has_pid ? r->notify->pid : 0;
	n.fd = rec->nfds ? rec->fds[0] : -1;
	shim_op_word(s->req_type, op, sizeof(op));
	n.operation = op;
	n.seq = ++s->seq;
	n.elapsed = crpc__now() - s->req_t0;
	if (s->disp && crpc_dispatcher_dispatch(s->disp, &n, &lerr) < 0)
		ok = false;

	if (!ok) {
		/* CRIU aborts; the client never sees this notification */
		shim_note(s, LOG_NOTICE, "hook failed at %s: %s; answering CRIU with failure", n.name,
			  lerr && lerr->message ? lerr->message : "failed");
		shim_trace_event(s, "hook-failed", n.name, lerr && lerr->message ? lerr->message : "failed");
		if (!s->abort_reason) {
			s->abort_reason = lerr;
			snprintf(s->abort_cb, sizeof(s->abort_cb), "%s", n.name);
			lerr = NULL;
		}
		crpc_error_free(lerr);
		rc = ack_criu(s, false, NULL, 0);
	} else if (s->client_notify) {
		free_ext(s);
		s->ext = n.external;
		s->n_ext = n.n_external;
		n.external = NULL;
		n.n_external = 0;
		s->await_ack = true;
		to_client(s, rec->buf, rec->len, rec->fds, rec->nfds);
		if (s->client_gone)
			rc = -1;
	} else {
		rc = ack_criu(s, true, n.external, n.n_external);
	}
	for (size_t i = 0; i < n.n_external; i++)
		free(n.external[i]);
	free(n.external);
	return rc;
}

#define LOG_COPY_MAX (16u << 20)

/*
 * CRIU's log of a DUMP or RESTORE request into the call directory
 * (criu-dump.log, criu-restore.log): engines remove it from their work
 * directory (podman once its checkpoint is done), crpc keeps it with the
 * checkpoint. At most LOG_COPY_MAX bytes, the file's start.
 */
static void log_copy(const struct shim *s, int type)
{
	char name[64], buf[65536];
	cleanup_close int in = -1, dfd = -1, out = -1;
	struct stat st;
	size_t left = LOG_COPY_MAX;
	ssize_t n;

	if (!s->cfg->log_copy_dir || s->log_dirfd < 0 || !s->log_name ||
	    (type != CRIU_REQ_TYPE__DUMP && type != CRIU_REQ_TYPE__RESTORE))
		return;
	snprintf(name, sizeof(name), "criu-%s.log", type == CRIU_REQ_TYPE__DUMP ? "dump" : "restore");
	in = openat(s->log_dirfd, s->log_name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	dfd = open(s->cfg->log_copy_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || dfd < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	(void)unlinkat(dfd, name, 0);
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		shim_vlog(s, "cannot copy CRIU's log to %s/%s: %s", s->cfg->log_copy_dir, name,
			  strerror(errno));
		return;
	}
	while (left && (n = read(in, buf, left < sizeof(buf) ? left : sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || io_write_full(out, buf, (size_t)n) < 0) {
			shim_vlog(s, "cannot copy CRIU's log to %s/%s: %s", s->cfg->log_copy_dir, name,
				  strerror(errno));
			return;
		}
		left -= (size_t)n;
	}
}

/* CRIU's final reply to a request: the hook's reason goes into cr_errmsg. */
static void criu_reply(struct shim *s, crpc__record *rec, CriuResp *r)
{
	uint8_t *buf = rec->buf;
	size_t len = rec->len;

	if (s->abort_reason) {
		char *keep = r->cr_errmsg;
		char msg[SHIM_ERRMSG_MAX + 1];
		const char *why = s->abort_reason->message ? s->abort_reason->message : "failed";

		/*
		 * The hook is the cause; CRIU's own message is only the consequence
		 * (or its first logged line, often the harmless RLIMIT_NOFILE one).
		 */
		snprintf(msg, sizeof(msg), "crpc hook at %s failed: %s", s->abort_cb, why);
		shim_sanitize(msg);
		log_append(s, msg);
		r->cr_errmsg = msg;
		len = criu_resp__get_packed_size(r);
		buf = malloc(len ? len : 1);
		if (buf) {
			criu_resp__pack(r, buf);
			shim_trace_event(s, "reply-rewritten", s->abort_cb, msg);
		} else {
			buf = rec->buf;
			len = rec->len;
		}
		r->cr_errmsg = keep;
	}
	/* a container operation learns the restored init's PID without asking its engine */
	if (s->cfg->restored_pid_file && r->type == CRIU_REQ_TYPE__RESTORE && r->success && r->restore &&
	    r->restore->pid > 0) {
		int fd = open(s->cfg->restored_pid_file,
			      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd < 0 || dprintf(fd, "%d\n", (int)r->restore->pid) < 0)
			shim_vlog(s, "cannot write %s: %s", s->cfg->restored_pid_file, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	log_copy(s, r->type);
	to_client(s, buf, len, rec->fds, rec->nfds);
	if (buf != rec->buf)
		free(buf);
	shim_request_end(s);
}

/* A message from CRIU. 0: go on; 1: CRIU hung up. */
int shim_from_criu(struct shim *s, crpc_error **err)
{
	crpc__record rec;
	CriuResp *r;
	int rc;

	rc = shim_record_recv(s->criu_sk, &rec);
	if (rc == CRPC__RECV_EOF)
		return 1;
	if (rc < 0)
		return recv_failed(s, "CRIU", errno, rec.len, err);
	shim_trace_msg(s, CRPC_FROM_CRIU, rec.buf, rec.len, rec.nfds ? rec.fds[0] : -1);
	r = criu_resp__unpack(NULL, rec.len, rec.buf);
	if (!r) {
		/* transparent: the client gets what CRIU sent */
		shim_note(s, LOG_NOTICE,
			  "CRIU sent a %zu-byte message that is not a valid criu_resp; "
			  "forwarded unchanged",
			  rec.len);
		to_client(s, rec.buf, rec.len, rec.fds, rec.nfds);
		crpc__record_release(&rec);
		return 0;
	}
	if (r->type == CRIU_REQ_TYPE__VERSION && r->success && r->version)
		shim_version_remember(s, rec.buf, rec.len);
	if (r->type == CRIU_REQ_TYPE__NOTIFY) {
		if (criu_notify(s, &rec, r) < 0)
			shim_vlog(s, "could not pass the %s notification on",
				  r->notify && r->notify->script ? r->notify->script : "?");
	} else if (s->outstanding) {
		criu_reply(s, &rec, r);
	} else {
		to_client(s, rec.buf, rec.len, rec.fds, rec.nfds);
	}
	criu_resp__free_unpacked(r, NULL);
	crpc__record_release(&rec);
	return 0;
}

/* CRIU hung up or exited: tell a waiting client how it ended. */
int shim_criu_gone(struct shim *s, crpc_error **err)
{
	char how[96], why[SHIM_ERRMSG_MAX + 1];
	int type = s->req_type;

	shim_criu_wait(s, s->outstanding ? CRIU_EXIT_WAIT_MS : 0);
	crpc__wait_status_str(s->criu_status, how, sizeof(how));
	shim_vlog(s, "CRIU (pid %d) %s", (int)s->criu_pid, how);
	if (!s->outstanding || s->client_gone) {
		shim_request_end(s);
		return shim_criu_exit_code(s);
	}
	if (s->abort_reason)
		snprintf(why, sizeof(why),
			 "crpc hook at %s failed: %s; then CRIU (%s, pid %d) %s before it replied to the "
			 "%s request",
			 s->abort_cb, s->abort_reason->message ? s->abort_reason->message : "failed",
			 s->cfg->criu_path, (int)s->criu_pid, how, shim_type_name(type));
	else
		snprintf(why, sizeof(why),
			 "crpc shim: CRIU (%s, pid %d) %s before it replied to the %s request",
			 s->cfg->criu_path, (int)s->criu_pid, how, shim_type_name(type));
	reply_failure(s, type, why);
	log_append(s, why);
	shim_note(s, LOG_WARNING, "%s", why);
	crpc_error_set(err, CRPC_EXIT_FAIL, ECONNRESET, "shim", "%s", why);
	shim_request_end(s);
	return shim_criu_exit_code(s) ? shim_criu_exit_code(s) : 1;
}
