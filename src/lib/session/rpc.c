/* SPDX-License-Identifier: MIT */
/*
 * rpc.c - requests to the CRIU worker and the notify loop.
 *
 * Every request goes out through crpc__session_call(), which reads replies
 * until the one that ends the request, answering each notification on the
 * way through the caller's dispatcher.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "internal.h"

static const char *req_type_name(CriuReqType t)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&criu_req_type__descriptor, t);

	return v ? v->name : "?";
}

/*
 * The worker hung up or died: end what it left holding its socket, find out
 * how it ended and say so.
 */
static int report_criu_gone(crpc_session *s, const char *op, crpc_error **err)
{
	char how[96], left[160] = "";
	pid_t pids[8];
	size_t n;

	close(s->sk);
	s->sk = -1;
	s->worker_done = true;
	crpc__session_reap(s, 5000);
	n = swrk_end_leftovers(s, pids, sizeof(pids) / sizeof(pids[0]));
	if (n) {
		int len = snprintf(left, sizeof(left),
				   "; %zu process%s it started still held its socket "
				   "and %s ended (PID",
				   n, n == 1 ? "" : "es", n == 1 ? "was" : "were");

		for (size_t i = 0; i < n && i < sizeof(pids) / sizeof(pids[0]) && len > 0 &&
				   (size_t)len < sizeof(left) - 16;
		     i++)
			len += snprintf(left + len, sizeof(left) - (size_t)len, " %d", (int)pids[i]);
		if (len > 0 && (size_t)len < sizeof(left) - 2)
			snprintf(left + len, sizeof(left) - (size_t)len, ")");
	}
	crpc__wait_status_str(s->criu_status, how, sizeof(how));
	crpc_error_set(err, CRPC_EXIT_FAIL, ECONNRESET, op,
		       "CRIU (%s, pid %d) %s before it answered the %s request%s", s->criu_path,
		       (int)s->criu_pid, how, op, left);
	if (err && *err) {
		(*err)->cause = CRPC_CAUSE_CRIU_DIED;
		crpc__session_attach_output(s, *err);
	}
	return -1;
}

/*
 * Wait for the next message, until the request's deadline if it has one.
 * Returns 0 when the socket is to be read, -1 when the deadline passed and 1
 * when the worker died with nothing left to read: a process it started may
 * hold its end of the socket open, so no EOF would ever come.
 */
static int wait_readable(crpc_session *s, double t0)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = s->sk, .events = POLLIN },
				       { .fd = s->criu_pidfd, .events = POLLIN } };
		int ms = -1, n;

		if (s->timeout_ms) {
			double left = (double)s->timeout_ms / 1000.0 - (crpc__now() - t0);

			if (left <= 0)
				return -1;
			ms = (int)(left * 1000.0) + 1;
		}
		n = poll(p, s->criu_pidfd >= 0 ? 2 : 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || p[0].revents)
			return 0; /* a message, EOF or an error: the read reports it */
		if (n > 0 && p[1].revents)
			return 1;
	}
}

/* The request overran its deadline: stop CRIU and say so. */
static int report_timeout(crpc_session *s, const char *op, crpc_error **err)
{
	if (s->criu_pid > 0 && !s->reaped)
		kill(s->criu_pid, SIGKILL);
	close(s->sk);
	s->sk = -1;
	s->worker_done = true;
	crpc__session_reap(s, 5000);
	crpc_error_set(err, CRPC_EXIT_FAIL, ETIMEDOUT, op,
		       "CRIU (pid %d) did not finish the %s request within %.1f s and was stopped",
		       (int)s->criu_pid, op, (double)s->timeout_ms / 1000.0);
	if (err && *err) {
		(*err)->cause = CRPC_CAUSE_CRIU_DIED;
		crpc_error_set_hint(*err, "see CRIU's log for where it was stuck; raise --timeout if "
					  "the operation needs longer");
	}
	return -1;
}

static int send_req(crpc_session *s, const CriuReq *req, crpc_error **err)
{
	size_t len = criu_req__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	if (!buf)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "send to CRIU", "out of memory");
	criu_req__pack(req, buf);
	if (s->on_message)
		s->on_message(CRPC_TO_CRIU, buf, len, -1, s->on_message_data);
	rc = crpc__msg_send(s->sk, buf, len, err);
	free(buf);
	return rc;
}

/*
 * Answer one notification: run the dispatcher, then ack with the verdict.
 * 1 when the worker is gone and the answer could not be sent.
 */
static int answer_notify(crpc_session *s, const CriuResp *r, int fd, crpc_dispatcher *d, const char *op,
			 unsigned seq, double t0, crpc_error **err)
{
	crpc_notify n = { 0 };
	CriuReq ack = CRIU_REQ__INIT;
	CriuOpts ext = CRIU_OPTS__INIT;
	crpc_error *lerr = NULL;
	bool ok = true;
	int rc;

	n.name = r->notify && r->notify->script ? r->notify->script : "";
	n.kind = crpc_notify_kind_from_name(n.name);
	n.pid = r->notify && r->notify->has_pid ? r->notify->pid : 0;
	n.fd = fd;
	n.operation = op;
	n.seq = seq;
	n.elapsed = crpc__now() - t0;

	if (d) {
		if (n.kind == CRPC_NOTIFY_UNKNOWN)
			crpc_dispatcher_warn(d,
					     "CRIU sent notification '%s' crpc does not know; "
					     "acknowledged it",
					     n.name);
		if (crpc_dispatcher_dispatch(d, &n, &lerr) < 0)
			ok = false;
	}

	ack.type = CRIU_REQ_TYPE__NOTIFY;
	ack.has_notify_success = 1;
	ack.notify_success = ok;
	if (ok && n.kind == CRPC_NOTIFY_QUERY_EXT_FILES && n.n_external) {
		ext.external = n.external;
		ext.n_external = n.n_external;
		ack.opts = &ext;
	}
	rc = send_req(s, &ack, err);
	for (size_t i = 0; i < n.n_external; i++)
		free(n.external[i]);
	free(n.external);
	if (rc < 0 && err && *err && ((*err)->sys_errno == EPIPE || (*err)->sys_errno == ECONNRESET)) {
		/* the worker is gone, but what it sent before (a final reply saying
		 * why, from a shim) may still wait in the socket: read on */
		crpc_error_free(*err);
		*err = NULL;
		crpc_error_free(lerr);
		return 1;
	}
	if (rc < 0) {
		crpc_error_free(lerr);
		return -1;
	}
	if (!ok) {
		/* Keep the listener's reason: it explains CRIU's failure to come. */
		if (err && !*err)
			*err = lerr;
		else
			crpc_error_free(lerr);
	}
	return 0;
}

int crpc__session_call(crpc_session *s, const CriuReq *req, crpc_dispatcher *d, const char *op,
		       unsigned *n_notify, CriuResp **out, crpc_error **err)
{
	crpc_error *reason = NULL; /* why a listener failed, if one did */
	unsigned seq = 0;
	double t0 = crpc__now();

	*out = NULL;
	if (s->sk < 0 || s->worker_done)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EPIPE, op,
				      "the CRIU worker already ended; a session serves one operation");
	if (send_req(s, req, err) < 0) {
		if (err && *err && (*err)->sys_errno == EPIPE) {
			crpc_error_free(*err);
			*err = NULL;
			return report_criu_gone(s, op, err);
		}
		return -1;
	}
	crpc__timing_mark("request sent to CRIU");
	for (;;) {
		uint8_t *buf = NULL;
		size_t len = 0;
		int fd = -1;
		CriuResp *r;
		int rc;

		rc = wait_readable(s, t0);
		if (rc < 0) {
			crpc_error_free(reason);
			return report_timeout(s, op, err);
		}
		if (rc > 0) {
			crpc_error_free(reason);
			return report_criu_gone(s, op, err);
		}
		rc = crpc__msg_recv(s->sk, CRPC_MSG_MAX, &buf, &len, &fd, err);

		if (rc == CRPC__RECV_EOF) {
			crpc_error_free(reason);
			return report_criu_gone(s, op, err);
		}
		if (rc < 0) {
			crpc_error_free(reason);
			return -1;
		}
		if (s->on_message)
			s->on_message(CRPC_FROM_CRIU, buf, len, fd, s->on_message_data);
		r = criu_resp__unpack(NULL, len, buf);
		free(buf);
		if (!r) {
			if (fd >= 0)
				close(fd);
			crpc_error_free(reason);
			return crpc_error_set(err, CRPC_EXIT_FAIL, EBADMSG, op,
					      "CRIU sent a %zu-byte message that is not a valid criu_resp",
					      len);
		}
		if (r->type != CRIU_REQ_TYPE__NOTIFY) {
			if (fd >= 0)
				close(fd);
			if (n_notify)
				*n_notify = seq;
			/* a listener's failure is the root cause of CRIU's */
			if (reason) {
				if (err && !*err)
					*err = reason;
				else
					crpc_error_free(reason);
			}
			*out = r;
			crpc__timing("CRIU: request to answer", t0);
			return 0;
		}
		rc = answer_notify(s, r, fd, d, op, ++seq, t0, reason ? NULL : &reason);
		if (fd >= 0)
			close(fd);
		criu_resp__free_unpacked(r, NULL);
		if (rc > 0)
			continue; /* the answer could not go: the reply or EOF comes next */
		if (rc < 0) {
			crpc_error_free(reason);
			return report_criu_gone(s, op, err);
		}
	}
}

/* The images directory of a request as a path, for the log. */
static void log_path_of(int dirfd, const char *log_file, char *buf, size_t bufsz)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	buf[0] = '\0';
	if (dirfd < 0)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n <= 0)
		return;
	dir[n] = '\0';
	snprintf(buf, bufsz, "%s/%s", dir, log_file ? log_file : "criu.log");
}

/*
 * CRIU's reply says only "failed": the first error line of the log excerpt
 * that is not known noise says why, so it becomes the message.
 */
static void use_log_reason(crpc_error *e)
{
	const char *line = e->log_excerpt;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *tag = memmem(line, len, "Error (", 7);
		const char *text = tag ? memmem(tag, len - (size_t)(tag - line), "): ", 3) : NULL;

		if (text && !memmem(line, len, "RLIMIT_NOFILE", 13)) {
			char *msg;

			text += 3;
			msg = strndup(text, len - (size_t)(text - line));
			if (msg) {
				free(e->message);
				e->message = msg;
			}
			return;
		}
		line = end ? end + 1 : NULL;
	}
}

/* Turn a failed reply (or a dead worker) into a full error. */
static int fail_request(crpc_session *s, const CriuResp *r, const char *op, const char *what, int dirfd,
			const char *log_file, crpc_error **err)
{
	char logp[PATH_MAX + 64];
	/* A listener (a hook) refused a notification: its reason is the cause. */
	bool listener_failed = r && err && *err;
	crpc_error *e;

	if (r && !listener_failed) {
		int cr_errno = r->has_cr_errno ? r->cr_errno : 0;

		if (r->type == CRIU_REQ_TYPE__EMPTY)
			crpc_error_set(err, CRPC_EXIT_FAIL, EBADRQC, what,
				       "CRIU rejected the %s request as malformed", op);
		else
			crpc_error_set(err, CRPC_EXIT_FAIL, cr_errno, what, "CRIU reported failure");
		if (err)
			crpc__error_set_criu(*err, cr_errno, r->cr_errmsg);
	}
	e = err ? *err : NULL;
	if (!e)
		return -1;
	if (s->worker_done || r) {
		log_path_of(dirfd, log_file, logp, sizeof(logp));
		if (logp[0])
			crpc_error_attach_log(e, logp);
	}
	if (listener_failed) {
		if (r->has_cr_errno || r->cr_errmsg)
			crpc__error_set_criu(e, r->has_cr_errno ? r->cr_errno : 0, r->cr_errmsg);
		return -1;
	}
	crpc__session_attach_output(s, e);
	crpc_error_classify(e, op);
	if (r && r->type != CRIU_REQ_TYPE__EMPTY)
		use_log_reason(e);
	return -1;
}

static int one_shot(crpc_session *s, CriuReq *req, crpc_dispatcher *d, const char *op, unsigned *n_notify,
		    CriuResp **out, crpc_error **err)
{
	int rc = crpc__session_call(s, req, d, op, n_notify, out, err);

	/* DUMP, RESTORE and CHECK end the worker: reap it now. */
	s->worker_done = true;
	if (s->sk >= 0) {
		close(s->sk);
		s->sk = -1;
	}
	crpc__session_reap(s, 5000);
	return rc;
}

CRPC_API int crpc_session_features(crpc_session *s, crpc_features *out, crpc_error **err)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuFeatures want = CRIU_FEATURES__INIT;
	CriuResp *r = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	want.has_mem_track = want.mem_track = 1;
	want.has_lazy_pages = want.lazy_pages = 1;
	want.has_pidfd_store = want.pidfd_store = 1;
	req.type = CRIU_REQ_TYPE__FEATURE_CHECK;
	req.features = &want;
	req.has_keep_open = req.keep_open = 1;
	if (crpc__session_call(s, &req, NULL, "features", NULL, &r, err) < 0)
		return -1;
	if (r->type != CRIU_REQ_TYPE__FEATURE_CHECK || !r->success || !r->features) {
		rc = crpc_error_set(err, CRPC_EXIT_ENV, r->has_cr_errno ? r->cr_errno : 0, "features",
				    "CRIU could not check its features (reply %s, %s)",
				    req_type_name(r->type), r->success ? "success" : "failure");
		criu_resp__free_unpacked(r, NULL);
		return rc;
	}
	/* Read the answer from the reply, never from what was asked. */
	out->mem_track = r->features->has_mem_track && r->features->mem_track;
	out->lazy_pages = r->features->has_lazy_pages && r->features->lazy_pages;
	out->has_pidfd_store = r->features->has_pidfd_store;
	out->pidfd_store = r->features->has_pidfd_store && r->features->pidfd_store;
	criu_resp__free_unpacked(r, NULL);
	return 0;
}

CRPC_API int crpc_session_check(crpc_session *s, int images_dir_fd, crpc_error **err)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuOpts o = CRIU_OPTS__INIT;
	CriuResp *r = NULL;
	int rc = 0;

	o.images_dir_fd = images_dir_fd;
	o.has_log_level = 1;
	o.log_level = 4;
	o.log_file = (char *)"check.log";
	req.type = CRIU_REQ_TYPE__CHECK;
	req.opts = &o;
	if (one_shot(s, &req, NULL, "check", NULL, &r, err) < 0)
		return fail_request(s, NULL, "check", "check", images_dir_fd, o.log_file, err);
	if (r->type != CRIU_REQ_TYPE__CHECK || !r->success) {
		fail_request(s, r, "check", "CRIU's kernel check", images_dir_fd, o.log_file, err);
		if (err && *err) {
			(*err)->exit_class = CRPC_EXIT_ENV;
			crpc_error_set_hint(*err,
					    "%s cannot checkpoint on this kernel; run scripts/setup "
					    "to provision a CRIU that can (it keeps a working "
					    "system criu)",
					    s->criu_path);
		}
		rc = -1;
	}
	criu_resp__free_unpacked(r, NULL);
	return rc;
}

/* Remove a flat temporary directory and what CRIU wrote into it. */
static void remove_tmpdir(const char *path, int dirfd)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		rmdir(path);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
	rmdir(path);
}

CRPC_API int crpc_criu_check(const crpc_session_config *cfg, crpc_version *version, crpc_error **err)
{
	const char *tmp = getenv("TMPDIR");
	crpc_session *s = NULL;
	char dir[PATH_MAX];
	int dirfd, rc;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/crpc-check.XXXXXX", tmp) >= sizeof(dir) || !mkdtemp(dir))
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, "check",
				      "cannot create a temporary directory in %s", tmp);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		int e = errno;

		rmdir(dir);
		return crpc_error_set(err, CRPC_EXIT_ENV, e, "check", "cannot open %s", dir);
	}
	rc = crpc_session_open(&s, cfg, err);
	if (rc == 0 && version)
		*version = s->version;
	if (rc == 0)
		rc = crpc_session_check(s, dirfd, err);
	if (rc < 0 && err && *err && (*err)->log_path && strncmp((*err)->log_path, dir, strlen(dir)) == 0) {
		/* the log is about to go away with the directory */
		free((*err)->log_path);
		(*err)->log_path = strdup("CRIU's check log");
	}
	crpc_session_close(s);
	remove_tmpdir(dir, dirfd);
	return rc;
}

/* Common part of DUMP and RESTORE. */
static int run_operation(crpc_session *s, CriuReqType type, const crpc_opts *opts, crpc_dispatcher *d,
			 const char *op, const char *what, unsigned *n_notify, CriuResp **out,
			 crpc_error **err)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuOpts w = CRIU_OPTS__INIT;
	crpc_opts o = *opts;
	int rc;

	*out = NULL;
	/*
	 * Notifications always on, with or without listeners: CRIU then waits
	 * for an answer at each step, and when crpc is gone (killed) it learns
	 * so at the next one and gives up, the tree left running, instead of
	 * completing a dump nobody will record (post-dump comes before the tree
	 * is killed).
	 */
	o.notify_scripts = true;
	if (crpc_opts_check_version(&o, &s->version, err) < 0)
		return -1;
	if (crpc__opts_to_wire(&o, &w, err) < 0)
		return -1;
	req.type = type;
	req.opts = &w;
	rc = one_shot(s, &req, d, op, n_notify, out, err);
	crpc__opts_wire_release(&w);
	if (rc < 0 || !*out)
		return fail_request(s, NULL, op, what, o.images_dir_fd, o.log_file, err);
	if ((*out)->type != type || !(*out)->success) {
		fail_request(s, *out, op, what, o.images_dir_fd, o.log_file, err);
		criu_resp__free_unpacked(*out, NULL);
		*out = NULL;
		return -1;
	}
	return 0;
}

CRPC_API int crpc_session_dump(crpc_session *s, const crpc_opts *opts, crpc_dispatcher *d,
			       crpc_dump_result *res, crpc_error **err)
{
	char what[64];
	CriuResp *r = NULL;

	memset(res, 0, sizeof(*res));
	if (opts->pid <= 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "dump",
				      "no target PID given (crpc does not dump itself)");
	if (opts->images_dir_fd < 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EBADF, "dump", "no images directory given");
	snprintf(what, sizeof(what), "dump of PID %d", opts->pid);
	if (run_operation(s, CRIU_REQ_TYPE__DUMP, opts, d, "dump", what, &res->notifications, &r, err) < 0)
		return -1;
	res->restored = r->dump && r->dump->has_restored && r->dump->restored;
	criu_resp__free_unpacked(r, NULL);
	return 0;
}

CRPC_API int crpc_session_restore(crpc_session *s, const crpc_opts *opts, crpc_dispatcher *d,
				  crpc_restore_result *res, crpc_error **err)
{
	CriuResp *r = NULL;

	memset(res, 0, sizeof(*res));
	if (opts->images_dir_fd < 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EBADF, "restore", "no images directory given");
	if (run_operation(s, CRIU_REQ_TYPE__RESTORE, opts, d, "restore", "restore", &res->notifications, &r,
			  err) < 0)
		return -1;
	if (!r->restore || r->restore->pid <= 0) {
		criu_resp__free_unpacked(r, NULL);
		return crpc_error_set(err, CRPC_EXIT_FAIL, EBADMSG, "restore",
				      "CRIU reported success but no restored PID");
	}
	res->pid = r->restore->pid;
	criu_resp__free_unpacked(r, NULL);
	return 0;
}
