/* SPDX-License-Identifier: MIT */
/*
 * swrk.c - spawning `criu swrk <fd>`, framing messages on its socket and
 * reaping it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "internal.h"

/* Up to this many fds are accepted in one message; CRIU sends at most one. */
#define MAX_FDS_PER_MSG 8

int crpc__msg_send(int sk, const uint8_t *buf, size_t len, crpc_error **err)
{
	ssize_t n;

	do
		n = send(sk, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "send to CRIU",
				      "cannot send a %zu-byte message to CRIU", len);
	if ((size_t)n != len)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EIO, "send to CRIU",
				      "short send to CRIU (%zd of %zu bytes)", n, len);
	return 0;
}

void crpc__record_release(crpc__record *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	r->nfds = 0;
}

int crpc__record_send(int sk, const uint8_t *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CRPC__RECORD_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint8_t empty = 0;
	ssize_t n;

	if (nfds > CRPC__RECORD_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	if (!len)
		iov.iov_base = &empty; /* an empty record: the peer reads it as EOF */
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		if (!c) { /* cannot be: the buffer holds a header */
			errno = EINVAL;
			return -1;
		}
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sk, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EMSGSIZE) {
		/* a record must fit the send buffer whole: make room once */
		int want = len > (size_t)(INT_MAX / 2 - 65536) ? INT_MAX : (int)(2 * len + 65536);

		if (setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
			(void)setsockopt(sk, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
		do
			n = sendmsg(sk, &mh, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
	}
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int crpc__record_recv(int sk, size_t max, size_t max_fds, crpc__record *r)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CRPC__RECORD_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { 0 };
	struct iovec iov;
	ssize_t size, n;
	char discard;

	memset(r, 0, sizeof(*r));
	if (max_fds > CRPC__RECORD_MAX_FDS)
		max_fds = CRPC__RECORD_MAX_FDS;
	do
		size = recv(sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (size < 0 && errno == EINTR);
	if (size < 0 && errno == ECONNRESET) {
		/*
		 * The peer closed its end with something of ours unread: the kernel
		 * reports that once, before the messages it sent us first (a final
		 * reply saying why it ends). Those are still to be read.
		 */
		do
			size = recv(sk, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		while (size < 0 && errno == EINTR);
		if (size < 0)
			return CRPC__RECV_EOF;
	}
	if (size < 0)
		return -1;
	/* too large (or empty): the record is consumed with its fds, then refused */
	if (size > 0 && (size_t)size <= max) {
		r->buf = malloc((size_t)size);
		if (!r->buf) {
			errno = ENOMEM;
			return -1;
		}
	}
	iov.iov_base = r->buf ? (void *)r->buf : (void *)&discard;
	iov.iov_len = r->buf ? (size_t)size : 0;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
	do
		n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		crpc__record_release(r);
		errno = e;
		return e == ECONNRESET ? CRPC__RECV_EOF : -1;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (r->nfds < max_fds)
				r->fds[r->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (size == 0) {
		/* a zero-length record, or the peer closed its end */
		crpc__record_release(r);
		return CRPC__RECV_EOF;
	}
	if (!r->buf) {
		crpc__record_release(r);
		r->len = (size_t)size;
		errno = EMSGSIZE;
		return -1;
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n != size) {
		crpc__record_release(r);
		r->len = (size_t)size;
		r->got = (size_t)n;
		r->ctrunc = (mh.msg_flags & MSG_CTRUNC) != 0;
		errno = EBADMSG;
		return -1;
	}
	r->len = (size_t)n;
	return CRPC__RECV_OK;
}

int crpc__msg_recv(int sk, size_t max, uint8_t **buf, size_t *len, int *fd, crpc_error **err)
{
	crpc__record r;
	int rc;

	*buf = NULL;
	*len = 0;
	*fd = -1;
	rc = crpc__record_recv(sk, max, MAX_FDS_PER_MSG, &r);
	if (rc == CRPC__RECV_EOF)
		return CRPC__RECV_EOF;
	if (rc < 0) {
		switch (errno) {
		case ENOMEM:
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "receive from CRIU",
					      "out of memory");
		case EMSGSIZE:
			return crpc_error_set(err, CRPC_EXIT_FAIL, EMSGSIZE, "receive from CRIU",
					      "CRIU sent a %zu-byte message, more than the %zu bytes crpc "
					      "accepts; the message was dropped",
					      r.len, max);
		case EBADMSG:
			return crpc_error_set(err, CRPC_EXIT_FAIL, EBADMSG, "receive from CRIU",
					      "CRIU's message was truncated (%zu of %zu bytes%s)", r.got,
					      r.len, r.ctrunc ? ", control data cut" : "");
		default:
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "receive from CRIU",
					      "cannot read CRIU's reply");
		}
	}
	/* CRIU passes at most one fd: keep the first, close the rest */
	for (size_t i = 0; i < r.nfds; i++) {
		if (*fd < 0)
			*fd = r.fds[i];
		else
			close(r.fds[i]);
	}
	*buf = r.buf;
	*len = r.len;
	return CRPC__RECV_OK;
}

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

bool crpc__criu_search_path(char *buf, size_t bufsz, bool (*skip)(const char *path))
{
	const char *path_env = getenv("PATH");

	if (!path_env || !*path_env)
		path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path_env; *p;) {
		const char *colon = strchr(p, ':');
		size_t dirlen = colon ? (size_t)(colon - p) : strlen(p);

		if (dirlen > 0 && (size_t)snprintf(buf, bufsz, "%.*s/criu", (int)dirlen, p) < bufsz &&
		    is_executable_file(buf) && !(skip && skip(buf)))
			return true;
		p += dirlen;
		if (*p == ':')
			p++;
	}
	return false;
}

CRPC_API int crpc_criu_resolve(const char *explicit_path, char *buf, size_t bufsz, crpc_error **err)
{
	const char *want = explicit_path;
	const char *from = "--criu or the configuration";
	struct stat st;

	if (!want || !*want) {
		want = getenv("CRPC_CRIU");
		from = "$CRPC_CRIU";
	}
	if (want && *want) {
		if (stat(want, &st) < 0) {
			crpc_error_set(err, CRPC_EXIT_ENV, errno, "find CRIU",
				       "CRIU binary %s (from %s) does not exist", want, from);
			if (err && *err)
				crpc_error_set_hint(*err, "give the path of a working criu with --criu "
							  "PATH, or run scripts/setup to provision one");
			return -1;
		}
		if (!S_ISREG(st.st_mode) || access(want, X_OK) < 0) {
			crpc_error_set(err, CRPC_EXIT_ENV, S_ISREG(st.st_mode) ? EACCES : EISDIR, "find CRIU",
				       "CRIU binary %s (from %s) is not an executable file", want, from);
			if (err && *err)
				crpc_error_set_hint(*err, "check its permissions, or run scripts/setup");
			return -1;
		}
		if ((size_t)snprintf(buf, bufsz, "%s", want) >= bufsz)
			return crpc_error_set(err, CRPC_EXIT_ENV, ENAMETOOLONG, "find CRIU",
					      "CRIU path too long");
		return 0;
	}

	if (crpc__criu_search_path(buf, bufsz, NULL))
		return 0;
	crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "find CRIU", "no criu binary found on $PATH");
	if (err && *err)
		crpc_error_set_hint(*err, "install CRIU (scripts/setup provisions one that works on this "
					  "kernel) and pass it with --criu PATH or $CRPC_CRIU");
	return -1;
}

pid_t crpc__spawn(const char *path, char *const argv[], char *const envp[], const crpc__spawn_how *how,
		  const char **failed)
{
	/* what crpc ignores or catches that CRIU must meet as the default */
	static const int reset_signals[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	pid_t pid = -1;
	int rc;

	*failed = "setup";
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		errno = rc;
		return -1;
	}
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		errno = rc;
		return -1;
	}
	/* dup2 of an fd onto itself clears its close-on-exec flag in the child */
	if (how->keep_fd >= 0)
		rc = posix_spawn_file_actions_adddup2(&fa, how->keep_fd, how->keep_fd);
	if (rc == 0 && how->out_fd >= 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, how->out_fd, STDOUT_FILENO)) == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, how->out_fd, STDERR_FILENO);
	if (rc == 0 && how->clean_signals) {
		sigemptyset(&none);
		sigemptyset(&dfl);
		for (size_t i = 0; i < sizeof(reset_signals) / sizeof(reset_signals[0]); i++)
			sigaddset(&dfl, reset_signals[i]);
		if ((rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
		    (rc = posix_spawnattr_setsigdefault(&attr, &dfl)) == 0)
			rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	}
	if (rc == 0) {
		rc = posix_spawn(&pid, path, &fa, &attr, argv, envp ? envp : environ);
		if (rc != 0)
			*failed = "exec";
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	*failed = NULL;
	return pid;
}

static int spawn_criu(crpc_session *s, crpc_error **err)
{
	crpc__spawn_how how;
	int sv[2];
	const char *failed;
	char fdstr[16];
	char *argv[4];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "start CRIU", "socketpair failed");
	s->out_fd = memfd_create("crpc-criu-output", MFD_CLOEXEC);
	if (s->out_fd < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "start CRIU", "cannot set up CRIU's output");
	}
	snprintf(fdstr, sizeof(fdstr), "%d", sv[1]);
	argv[0] = s->criu_path;
	argv[1] = (char *)"swrk";
	argv[2] = fdstr;
	argv[3] = NULL;
	how.keep_fd = sv[1];
	/*
	 * CRIU's own messages (before its log is open, and its complaint when a
	 * kept-open worker sees us hang up) go to a file the session reads on
	 * failure: crpc's stdout and stderr stay its own.
	 */
	how.out_fd = s->out_fd;
	how.clean_signals = true;
	pid = crpc__spawn(s->criu_path, argv, NULL, &how, &failed);
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		if (failed && strcmp(failed, "exec") == 0) {
			crpc_error_set(err, CRPC_EXIT_ENV, e, "start CRIU", "cannot execute %s",
				       s->criu_path);
			if (err && *err)
				crpc_error_set_hint(*err, "check the CRIU binary, or run scripts/setup to "
							  "provision a working one");
			return -1;
		}
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "start CRIU", "cannot start it (%s)",
				      failed ? failed : "spawn");
	}
	{
		struct stat st;

		if (fstat(sv[1], &st) == 0)
			s->criu_sk_ino = (uint64_t)st.st_ino;
	}
	/* Our copy of CRIU's end must go, or a dead CRIU would never read as EOF. */
	close(sv[1]);
	s->sk = sv[0];
	s->criu_pid = pid;
	/* the worker's death wakes a wait for its messages even when a child of
	 * its keeps the socket open (pidfds are close-on-exec) */
	s->criu_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
}

void crpc__session_attach_output(const crpc_session *s, crpc_error *e)
{
	enum {
		TAIL = 64 * 1024
	};
	char *buf, *excerpt;
	struct stat st;
	off_t off;
	ssize_t n;

	if (!e || (e->log_excerpt && *e->log_excerpt) || s->out_fd < 0 || fstat(s->out_fd, &st) < 0 ||
	    st.st_size == 0)
		return;
	off = st.st_size > TAIL ? st.st_size - TAIL : 0;
	buf = malloc(TAIL);
	if (!buf)
		return;
	n = io_pread_full(s->out_fd, buf, TAIL, off);
	excerpt = n > 0 ? crpc_log_excerpt(buf, (size_t)n, 3, 3) : NULL;
	if (excerpt && !*excerpt && n > 0) {
		/* nothing that reads as an error: its last lines then */
		size_t start = (size_t)n, lines = 0;

		free(excerpt);
		while (start > 0 && lines < 6)
			if (buf[--start] == '\n' && start + 1 < (size_t)n)
				lines++;
		if (buf[start] == '\n')
			start++;
		excerpt = strndup(buf + start, (size_t)n - start);
	}
	free(buf);
	if (!excerpt || !*excerpt) {
		free(excerpt);
		return;
	}
	crpc__error_take_excerpt(e, excerpt, "CRIU's output");
}

/*
 * Wait up to timeout_ms for pid to exit, woken the moment it does (a pidfd
 * becomes readable). Returns false when the kernel has no pidfds: the caller
 * then polls.
 */
static bool wait_exit_pidfd(pid_t pid, unsigned timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;
	double deadline = crpc__now() + timeout_ms / 1000.0;

	if (fd < 0)
		return false;
	p.fd = fd;
	p.events = POLLIN;
	for (;;) {
		double left = deadline - crpc__now();
		int n;

		if (left <= 0)
			break;
		n = poll(&p, 1, (int)(left * 1000.0) + 1);
		if (n >= 0 || errno != EINTR)
			break;
	}
	close(fd);
	return true;
}

void crpc__session_reap(crpc_session *s, unsigned timeout_ms)
{
	unsigned waited = 0;
	int status;

	if (s->reaped || s->criu_pid <= 0)
		return;
	if (wait_exit_pidfd(s->criu_pid, timeout_ms))
		waited = timeout_ms; /* one more look below, then SIGKILL if still there */
	for (;;) {
		pid_t r = io_waitpid(s->criu_pid, &status, WNOHANG);

		if (r == s->criu_pid) {
			s->criu_status = status;
			s->reaped = true;
			return;
		}
		if (r < 0) {
			/* not our child any more (should not happen): give up on it */
			s->reaped = true;
			s->criu_status = 0;
			return;
		}
		if (waited >= timeout_ms)
			break;
		poll(NULL, 0, 10);
		waited += 10;
	}
	kill(s->criu_pid, SIGKILL);
	(void)io_waitpid(s->criu_pid, &status, 0);
	s->criu_status = status;
	s->reaped = true;
}

/* Whether process pid (its /proc/PID/fd dir at fddir) holds socket inode ino. */
static bool holds_socket(int fddir, const char *want)
{
	DIR *d = fdopendir(fddir);
	struct dirent *e;
	bool found = false;

	if (!d) {
		close(fddir);
		return false;
	}
	while (!found && (e = readdir(d))) {
		char link[64];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(d);
	return found;
}

size_t swrk_end_leftovers(const crpc_session *s, pid_t *pids, size_t max)
{
	char want[48], path[64];
	DIR *proc;
	struct dirent *e;
	size_t n = 0;

	if (!s->criu_sk_ino)
		return 0;
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)s->criu_sk_ino);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while ((e = readdir(proc))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		int fddir;

		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "%ld/fd", pid);
		fddir = openat(dirfd(proc), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fddir < 0 || !holds_socket(fddir, want))
			continue;
		kill((pid_t)pid, SIGKILL);
		if (n < max)
			pids[n] = (pid_t)pid;
		n++;
	}
	closedir(proc);
	return n;
}

static int parse_version_reply(crpc_session *s, const CriuResp *r, crpc_error **err)
{
	const CriuVersion *v = r->version;

	if (r->type != CRIU_REQ_TYPE__VERSION || !r->success || !v) {
		crpc_error_set(err, CRPC_EXIT_ENV, 0, "start CRIU",
			       "CRIU did not answer the VERSION request (reply type %d, %s)", (int)r->type,
			       r->success ? "success" : "failure");
		/* what the worker said instead (a shim that could not start CRIU says why) */
		if (err && *err && r->cr_errmsg && *r->cr_errmsg)
			crpc__error_set_criu(*err, r->has_cr_errno ? r->cr_errno : 0, r->cr_errmsg);
		return -1;
	}
	crpc__version_from_rpc(v, &s->version);
	return 0;
}

void crpc__version_from_rpc(const CriuVersion *v, crpc_version *out)
{
	memset(out, 0, sizeof(*out));
	out->major = v->major_number;
	out->minor = v->minor_number;
	out->sublevel = v->has_sublevel ? v->sublevel : 0;
	out->extra = v->has_extra ? v->extra : 0;
	if (v->gitid)
		snprintf(out->gitid, sizeof(out->gitid), "%s", v->gitid);
	out->code = out->major * 10000 + out->minor * 100 + out->sublevel;
}

/* Whether the kernel reaps this process's children by itself (SIGCHLD ignored, SA_NOCLDWAIT). */
static bool children_autoreaped(void)
{
	struct sigaction sa;

	if (sigaction(SIGCHLD, NULL, &sa) < 0)
		return false;
	return sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT);
}

CRPC_API void crpc_session_config_init(crpc_session_config *c)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
}

CRPC_API int crpc_session_open(crpc_session **out, const crpc_session_config *given, crpc_error **err)
{
	crpc_session_config cfg;
	char path[PATH_MAX];
	CriuReq req = CRIU_REQ__INIT;
	CriuResp *resp = NULL;
	crpc_session *s;
	int rc;

	*out = NULL;
	crpc_session_config_init(&cfg);
	if (given && crpc__sized_take(&cfg, sizeof(cfg), given, CRPC__END_OF(crpc_session_config, timeout_ms),
				      "start CRIU", "crpc_session_config_init", err) < 0)
		return -1;
	if (children_autoreaped())
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, "start CRIU",
				      "SIGCHLD is ignored (or SA_NOCLDWAIT set) in this process: the kernel "
				      "would reap CRIU itself and how it ended could not be told; set "
				      "SIGCHLD back to SIG_DFL (or a handler without SA_NOCLDWAIT) first");
	if (crpc_criu_resolve(cfg.criu_path, path, sizeof(path), err) < 0)
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->criu_path = strdup(path))) {
		free(s);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "start CRIU", "out of memory");
	}
	s->sk = -1;
	s->out_fd = -1;
	s->criu_pidfd = -1;
	s->on_message = cfg.on_message;
	s->on_message_data = cfg.on_message_data;
	s->timeout_ms = cfg.timeout_ms;
	if (spawn_criu(s, err) < 0) {
		crpc_session_close(s);
		return -1;
	}
	req.type = CRIU_REQ_TYPE__VERSION;
	req.has_keep_open = 1;
	req.keep_open = 1;
	rc = crpc__session_call(s, &req, NULL, "version", NULL, &resp, err);
	if (rc == 0)
		rc = parse_version_reply(s, resp, err);
	if (resp)
		criu_resp__free_unpacked(resp, NULL);
	if (rc < 0) {
		if (err && *err) {
			(*err)->exit_class = CRPC_EXIT_ENV;
			crpc__session_attach_output(s, *err);
			if (!(*err)->hint)
				crpc_error_set_hint(*err,
						    "%s does not work as a CRIU swrk worker; run "
						    "'%s check' or scripts/setup",
						    s->criu_path, s->criu_path);
		}
		crpc_session_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

CRPC_API const crpc_version *crpc_session_version(const crpc_session *s)
{
	return &s->version;
}

CRPC_API pid_t crpc_session_criu_pid(const crpc_session *s)
{
	return s->criu_pid;
}

CRPC_API const char *crpc_session_criu_path(const crpc_session *s)
{
	return s->criu_path;
}

CRPC_API void crpc_session_close(crpc_session *s)
{
	if (!s)
		return;
	if (s->sk >= 0)
		close(s->sk); /* EOF makes an idle worker exit */
	s->sk = -1;
	crpc__session_reap(s, 3000);
	if (s->out_fd >= 0)
		close(s->out_fd);
	if (s->criu_pidfd >= 0)
		close(s->criu_pidfd);
	free(s->criu_path);
	free(s);
}

CRPC_API void crpc_session_closep(crpc_session **s)
{
	crpc_session_close(*s);
	*s = NULL;
}

CRPC_API int crpc_version_parse(const char *str, crpc_version *v)
{
	int n = 0;

	memset(v, 0, sizeof(*v));
	if (!str || sscanf(str, "%d.%d%n", &v->major, &v->minor, &n) != 2)
		return -1;
	if (str[n] == '.' && sscanf(str + n + 1, "%d", &v->sublevel) != 1)
		return -1;
	/* a major past 9999 would overflow the code (e.g. "1100100.0" from a damaged reply) */
	if (v->major < 0 || v->major > 9999 || v->minor < 0 || v->minor > 99 || v->sublevel < 0 ||
	    v->sublevel > 99)
		return -1;
	v->code = v->major * 10000 + v->minor * 100 + v->sublevel;
	return 0;
}

CRPC_API void crpc_version_format(const crpc_version *v, char *buf, size_t bufsz)
{
	int n;

	if (v->sublevel)
		n = snprintf(buf, bufsz, "%d.%d.%d", v->major, v->minor, v->sublevel);
	else
		n = snprintf(buf, bufsz, "%d.%d", v->major, v->minor);
	if (v->gitid[0] && n > 0 && (size_t)n < bufsz)
		snprintf(buf + n, bufsz - (size_t)n, " (git %s)", v->gitid);
}
