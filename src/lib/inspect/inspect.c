/* SPDX-License-Identifier: MIT */
/*
 * inspect.c - crpc_inspect_tree(): the process tree, its threads, memory,
 * namespaces, cgroups and file locks, read from /proc, and the names of what
 * it reports. The tree is walked by inspect_tree.c, /proc files read and
 * parsed by inspect_proc.c, the fds read by inspect_fd.c, sockets and pipe
 * peers resolved by inspect_net.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "inspect_int.h"
#include "internal.h"

/*
 * gcc 12's -fanalyzer loses track of memory stored into arrays that hang off
 * other heap objects (result->procs[i].fds[j].path and the like) and reports
 * each such store as a leak. The unit and integration tests run these paths
 * under AddressSanitizer's leak checker instead.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif

#define INS_BUFSZ (64 * 1024)
#define LOCKS_MAX (16u << 20)

/* ---- names ------------------------------------------------------------------------ */

static const char *const fd_type_names[CRPC_FD__COUNT] = {
	[CRPC_FD_UNKNOWN] = "unknown",
	[CRPC_FD_TCP] = "tcp",
	[CRPC_FD_UDP] = "udp",
	[CRPC_FD_RAW] = "raw",
	[CRPC_FD_UNIX] = "unix",
	[CRPC_FD_NETLINK] = "netlink",
	[CRPC_FD_PACKET] = "packet",
	[CRPC_FD_SOCKET] = "socket",
	[CRPC_FD_PIPE] = "pipe",
	[CRPC_FD_FIFO] = "fifo",
	[CRPC_FD_EVENTFD] = "eventfd",
	[CRPC_FD_SIGNALFD] = "signalfd",
	[CRPC_FD_TIMERFD] = "timerfd",
	[CRPC_FD_INOTIFY] = "inotify",
	[CRPC_FD_FANOTIFY] = "fanotify",
	[CRPC_FD_EPOLL] = "epoll",
	[CRPC_FD_IO_URING] = "io_uring",
	[CRPC_FD_PIDFD] = "pidfd",
	[CRPC_FD_USERFAULTFD] = "userfaultfd",
	[CRPC_FD_ANON] = "anon",
	[CRPC_FD_MEMFD] = "memfd",
	[CRPC_FD_FILE] = "file",
	[CRPC_FD_DIR] = "dir",
	[CRPC_FD_DEVICE] = "device",
	[CRPC_FD_TTY] = "tty",
	[CRPC_FD_PTY] = "pty",
	[CRPC_FD_NSFILE] = "nsfile",
};

CRPC_API const char *crpc_fd_type_name(crpc_fd_type t)
{
	return ENUM_NAME(fd_type_names, t, "unknown");
}

static const char *const peer_names[] = {
	[CRPC_PEER_NONE] = "none",
	[CRPC_PEER_INSIDE] = "inside",
	[CRPC_PEER_OUTSIDE] = "outside",
	[CRPC_PEER_REMOTE] = "remote",
};

CRPC_API const char *crpc_peer_name(crpc_peer p)
{
	return ENUM_NAME(peer_names, p, "unknown");
}

static const char *const ns_names[CRPC_NS__COUNT] = {
	"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts",
};

CRPC_API const char *crpc_ns_type_name(crpc_ns_type t)
{
	return ENUM_NAME(ns_names, t, "?");
}

CRPC_API const char *crpc_tcp_state_name(int state)
{
	static const char *const names[] = {
		"?",     "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV",
	};

	if (state <= 0 || (size_t)state >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[state];
}

static const char *const sock_type_names[] = {
	[1] = "stream",    [2] = "dgram", [3] = "raw",     [4] = "rdm",
	[5] = "seqpacket", [6] = "dccp",  [10] = "packet",
};

CRPC_API const char *crpc_sock_type_name(int t)
{
	return ENUM_NAME(sock_type_names, t, "?");
}

/* ---- locks ------------------------------------------------------------------------ */

static int match_lock_fd(const crpc_proc_info *p, const crpc_lock_info *l)
{
	for (size_t f = 0; f < p->n_fds; f++) {
		const crpc_fd_info *fi = &p->fds[f];

		if (fi->inode == l->inode && major(fi->dev) == l->dev_major &&
		    minor(fi->dev) == l->dev_minor &&
		    (fi->type == CRPC_FD_FILE || fi->type == CRPC_FD_DIR || fi->type == CRPC_FD_MEMFD ||
		     fi->type == CRPC_FD_FIFO || fi->type == CRPC_FD_DEVICE))
			return (int)f;
	}
	return -1;
}

/* Index of fd number fd in p->fds, -1 if absent. */
static int find_fd(const crpc_proc_info *p, int fd)
{
	for (size_t f = 0; f < p->n_fds; f++)
		if (p->fds[f].fd == fd)
			return (int)f;
	return -1;
}

/* Append l, held by procs[pi] through fds[fdi] (-1: not found), to the result's locks. -1 on ENOMEM. */
static int add_lock(crpc_inspect_result *r, size_t *cap, size_t pi, int fdi, crpc_lock_info l)
{
	const crpc_proc_info *p = &r->procs[pi];

	l.pid = p->pid;
	l.fd = fdi >= 0 ? p->fds[fdi].fd : -1;
	l.path = NULL;
	if (fdi >= 0 && p->fds[fdi].path) {
		l.path = strdup(p->fds[fdi].path);
		if (!l.path)
			return -1;
	}
	if (INS_GROW(r->locks, cap, r->n_locks) < 0) {
		free(l.path);
		return -1;
	}
	r->locks[r->n_locks++] = l;
	return 0;
}

/*
 * Whether fd a of process pa and fd b of process pb are one open file
 * description (kcmp). True when kcmp cannot tell: two descriptions with the
 * very same lock are then counted once.
 */
static bool same_description(pid_t pa, int a, pid_t pb, int b)
{
#ifdef SYS_kcmp
	long rc = syscall(SYS_kcmp, (long)pa, (long)pb, 0L /* KCMP_FILE */, (long)a, (long)b);

	if (rc >= 0)
		return rc == 0;
#else
	(void)pa, (void)a, (void)pb, (void)b;
#endif
	return true;
}

/* Whether lock l (from fdinfo) is among r->locks[from..]: the same lock seen through another fd of its description. */
static bool seen_fd_lock(const crpc_inspect_result *r, size_t from, const crpc_lock_info *l)
{
	for (size_t i = from; i < r->n_locks; i++) {
		const crpc_lock_info *o = &r->locks[i];

		if (o->inode == l->inode && o->dev_major == l->dev_major && o->dev_minor == l->dev_minor &&
		    o->start == l->start && o->end == l->end && strcmp(o->mode, l->mode) == 0 &&
		    strcmp(o->kind, l->kind) == 0 && same_description(o->pid, o->fd, l->pid, l->fd))
			return true;
	}
	return false;
}

/*
 * /proc/locks, read on a thread of its own from the start of the inspection:
 * the kernel takes its file-lock table's lock for writing to show it, which
 * waits for an RCU grace period (10 to 20 ms here) during which the thread
 * sleeps while the tree is read.
 */
typedef struct locks_read {
	pthread_t thread;
	bool started;
	int proc_fd;
	char *data;
	int rc, errnum;
} locks_read;

static void locks_read_now(locks_read *lr)
{
	lr->rc = ins_read_all_at(lr->proc_fd, "locks", LOCKS_MAX, &lr->data, NULL);
	lr->errnum = lr->rc < 0 ? errno : 0;
}

static void *locks_read_main(void *arg)
{
	locks_read_now(arg);
	return NULL;
}

static void locks_read_start(locks_read *lr, int proc_fd)
{
	memset(lr, 0, sizeof(*lr));
	lr->proc_fd = proc_fd;
	lr->started = crpc__thread_start(&lr->thread, locks_read_main, lr, CRPC__THREAD_URGENT) == 0;
}

/* Its result: 0 with the text in *data (the caller's to free), or -1 and errno. */
static int locks_read_take(locks_read *lr, char **data)
{
	if (lr->started) {
		pthread_join(lr->thread, NULL);
		lr->started = false;
	} else if (!lr->data && lr->rc == 0) {
		locks_read_now(lr);
	}
	*data = lr->data;
	lr->data = NULL;
	errno = lr->errnum;
	return lr->rc;
}

/*
 * The locks /proc/locks shows with the pid of a process of the tree: POSIX
 * and flock locks, leases. OFD locks show pid -1 there, whoever holds them:
 * they come from the tree's fdinfo (add_fd_locks), never from a match of
 * the inode, which would give the tree the locks of any process on a file
 * the tree has open too (/dev/null).
 */
static int add_pid_locks(ins_ctx *c, locks_read *lr, ins_map *by_pid, size_t *cap, crpc_error **err)
{
	crpc_inspect_result *r = c->r;
	char *data = NULL, *line, *save = NULL;

	if (locks_read_take(lr, &data) < 0) {
		if (errno == ENOMEM)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		ins_strv_addf(&r->notes, &r->n_notes, "cannot read /proc/locks: %s", strerror(errno));
		return 0;
	}
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		crpc_lock_info l;
		bool blocked;
		uint64_t pi = 0;

		if (ins_parse_lock_line(line, &l, &blocked) < 0 || blocked ||
		    strcmp(l.lock_class, "OFDLCK") == 0)
			continue;
		if (l.pid <= 0 || !ins_map_get(by_pid, (uint64_t)l.pid, &pi))
			continue;
		if (add_lock(r, cap, (size_t)pi - 1, match_lock_fd(&r->procs[pi - 1], &l), l) < 0) {
			free(data);
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		}
	}
	free(data);
	return 0;
}

/*
 * The OFD locks the fdinfo files of the tree list (every lock they list with
 * CRPC_INSPECT_FDINFO_LOCKS), each once: processes sharing one open file
 * description (after fork, or dup) all show its locks.
 */
static int add_fd_locks(ins_ctx *c, size_t *cap, crpc_error **err)
{
	crpc_inspect_result *r = c->r;
	size_t from = r->n_locks;

	for (size_t pi = 0; pi < c->n_fd_locks && pi < r->n_procs; pi++) {
		const ins_fd_locks *o = &c->fd_locks[pi];

		for (size_t k = 0; k < o->n; k++) {
			if (seen_fd_lock(r, from, &o->v[k]))
				continue;
			if (add_lock(r, cap, pi, find_fd(&r->procs[pi], o->v[k].fd), o->v[k]) < 0)
				return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect",
						      "out of memory");
		}
	}
	return 0;
}

static int read_locks(ins_ctx *c, locks_read *lr, ins_map *by_pid, crpc_error **err)
{
	size_t cap = 0;

	/* with CRPC_INSPECT_FDINFO_LOCKS, every lock was kept from fdinfo */
	if ((!(c->flags & CRPC_INSPECT_FDINFO_LOCKS) && add_pid_locks(c, lr, by_pid, &cap, err) < 0) ||
	    add_fd_locks(c, &cap, err) < 0)
		return -1;
	return 0;
}

/* Free the locks kept from fdinfo. */
static void free_fd_locks(ins_ctx *c)
{
	for (size_t i = 0; i < c->n_fd_locks; i++)
		free(c->fd_locks[i].v);
	free(c->fd_locks);
	c->fd_locks = NULL;
	c->n_fd_locks = 0;
}

/* ---- namespaces --------------------------------------------------------------------- */

static int summarize_ns(crpc_inspect_result *r)
{
	size_t cap = 0;

	for (size_t i = 0; i < r->n_procs; i++) {
		const crpc_proc_info *p = &r->procs[i];

		if (p->gone && !p->ns[CRPC_NS_PID])
			continue;
		for (int t = 0; t < CRPC_NS__COUNT; t++) {
			size_t k;

			if (!p->ns[t] || p->ns[t] == r->self_ns[t])
				continue;
			for (k = 0; k < r->n_ns; k++)
				if (r->ns[k].type == (crpc_ns_type)t && r->ns[k].inode == p->ns[t])
					break;
			if (k == r->n_ns) {
				if (INS_GROW(r->ns, &cap, r->n_ns) < 0)
					return -1;
				r->ns[k].type = (crpc_ns_type)t;
				r->ns[k].inode = p->ns[t];
				r->n_ns++;
			}
			if (ins_pid_add(&r->ns[k].pids, &r->ns[k].n_pids, p->pid) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- kernel features ------------------------------------------------------------------ */

static void check_kernel(ins_ctx *c)
{
	crpc_inspect_result *r = c->r;
	long rc;

	if (faccessat(c->proc_fd, "self/map_files", F_OK, 0) < 0 && errno == ENOENT)
		ins_strv_addf(&r->missing_features, &r->n_missing_features,
			      "/proc/PID/map_files (kernel built without CONFIG_CHECKPOINT_RESTORE)");
#ifdef SYS_kcmp
	rc = syscall(SYS_kcmp, (long)getpid(), (long)getpid(), 0L /* KCMP_FILE */, 0L, 0L);
	if (rc < 0 && errno == ENOSYS)
		ins_strv_addf(&r->missing_features, &r->n_missing_features,
			      "the kcmp system call (kernel built without CONFIG_KCMP)");
#else
	(void)rc;
#endif
	ins_check_net_features(c);
}

/* ---- public ---------------------------------------------------------------------------- */

void ins_fd_release(crpc_fd_info *fi)
{
	free(fi->target);
	free(fi->protocol);
	free(fi->name);
	free(fi->peer_name);
	free(fi->peer_pids);
	free(fi->path);
	free(fi->mount);
	free(fi->fstype);
	free(fi->targets);
}

CRPC_API void crpc_inspect_free(crpc_inspect_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_procs; i++) {
		crpc_proc_info *p = &r->procs[i];

		for (size_t f = 0; f < p->n_fds; f++)
			ins_fd_release(&p->fds[f]);
		free(p->fds);
		for (size_t f = 0; f < p->n_mapped_deleted; f++)
			ins_fd_release(&p->mapped_deleted[f]);
		free(p->mapped_deleted);
		free(p->threads);
		for (size_t k = 0; k < p->n_cgroups; k++) {
			free(p->cgroups[k].controllers);
			free(p->cgroups[k].path);
		}
		free(p->cgroups);
	}
	free(r->procs);
	for (size_t i = 0; i < r->n_locks; i++)
		free(r->locks[i].path);
	free(r->locks);
	for (size_t i = 0; i < r->n_ns; i++)
		free(r->ns[i].pids);
	free(r->ns);
	for (size_t i = 0; i < r->n_missing_features; i++)
		free(r->missing_features[i]);
	free(r->missing_features);
	for (size_t i = 0; i < r->n_notes; i++)
		free(r->notes[i]);
	free(r->notes);
	crpc__ns_tree_free(&r->nst);
	free(r);
}

static int no_process(crpc_error **err, pid_t pid, const char *what)
{
	crpc_error_set(err, CRPC_EXIT_FAIL, ESRCH, "inspect", "no such process: PID %d %s", (int)pid, what);
	if (err && *err) {
		(*err)->cause = CRPC_CAUSE_NO_PROCESS;
		crpc_error_set_hint(*err, "check the PID (ps -p %d)", (int)pid);
	}
	return -1;
}

CRPC_API int crpc_inspect_tree(pid_t pid, unsigned flags, crpc_inspect_result **result, crpc_error **err)
{
	ins_ctx c;
	ins_map by_pid = { 0 };
	locks_read lr = { .started = false };
	crpc_inspect_result *r = NULL;
	double t0 = crpc__now(), tp;
	char name[32];
	int rc = -1, tr;

	*result = NULL;
	memset(&c, 0, sizeof(c));
	c.proc_fd = -1;
	if (pid <= 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "inspect", "invalid PID %d", (int)pid);
	c.flags = flags;
	c.bufsz = INS_BUFSZ;
	c.buf = malloc(c.bufsz);
	r = calloc(1, sizeof(*r));
	if (!c.buf || !r) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		goto out;
	}
	c.r = r;
	r->root = pid;
	c.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.proc_fd < 0) {
		crpc_error_set(err, CRPC_EXIT_ENV, errno, "inspect", "cannot open /proc");
		goto out;
	}
	if (!(flags & CRPC_INSPECT_FDINFO_LOCKS))
		locks_read_start(&lr, c.proc_fd);
	ins_read_ns(c.proc_fd, "self/ns/", r->self_ns);

	/* the root must exist and be a process, not a thread */
	snprintf(name, sizeof(name), "%d/status", (int)pid);
	if (ins_read_at(c.proc_fd, name, c.buf, c.bufsz) < 0) {
		if (ins_gone_errno(errno))
			no_process(err, pid, "does not exist");
		else
			crpc_error_set(err, CRPC_EXIT_FAIL, errno, "inspect", "cannot read /proc/%d/status",
				       (int)pid);
		goto out;
	}
	{
		ins_status ss;

		ins_parse_status(c.buf, &ss);
		if (ss.tgid > 0 && ss.tgid != pid) {
			crpc_error_set(err, CRPC_EXIT_USAGE, 0, "inspect",
				       "%d is a thread of process %d, not a process; give the process ID %d",
				       (int)pid, (int)ss.tgid, (int)ss.tgid);
			goto out;
		}
	}

	crpc__timing("inspect: namespaces, root's status", t0);
	tp = crpc__timing_now();
	tr = ins_build_tree(&c, pid, err);
	crpc__timing("inspect: scan of /proc, the tree", tp);
	if (tr < 0)
		goto out;
	if (tr > 0) {
		no_process(err, pid, "exited while being inspected");
		goto out;
	}
	for (size_t i = 0; i < r->n_procs; i++)
		if (ins_map_put(&by_pid, (uint64_t)r->procs[i].pid, i + 1) < 0) {
			crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
			goto out;
		}
	c.fd_locks = calloc(r->n_procs, sizeof(*c.fd_locks));
	if (!c.fd_locks) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		goto out;
	}
	c.n_fd_locks = r->n_procs;
	tp = crpc__timing_now();
	if (ins_read_procs(&c, err) < 0)
		goto out;
	crpc__timing("inspect: each process, its fds", tp);
	if (r->procs[0].gone) {
		no_process(err, pid, "exited while being inspected");
		goto out;
	}
	if (ins_index_fds(&c) < 0) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		goto out;
	}
	tp = crpc__timing_now();
	if (ins_resolve_net(&c, err) < 0 || ins_resolve_files(&c, err) < 0)
		goto out;
	crpc__timing("inspect: sockets, pipes, files", tp);
	tp = crpc__timing_now();
	if (read_locks(&c, &lr, &by_pid, err) < 0)
		goto out;
	crpc__timing(flags & CRPC_INSPECT_FDINFO_LOCKS ? "inspect: file locks (fdinfo)"
						       : "inspect: wait for /proc/locks",
		     tp);
	tp = crpc__timing_now();
	if (summarize_ns(r) < 0) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		goto out;
	}
	if (ins_ns_inspect(&c, err) < 0)
		goto out;
	crpc__timing("inspect: namespaces of the tree", tp);
	tp = crpc__timing_now();
	if (!(flags & CRPC_INSPECT_NO_KERNEL_CHECKS))
		check_kernel(&c);
	crpc__timing("inspect: kernel checks", tp);
	/* the root may have exited at the very end: say so rather than report a ghost */
	snprintf(name, sizeof(name), "%d", (int)pid);
	if (faccessat(c.proc_fd, name, F_OK, 0) < 0 && ins_gone_errno(errno)) {
		no_process(err, pid, "exited while being inspected");
		goto out;
	}
	for (size_t i = 0; i < r->n_procs; i++) {
		const crpc_proc_info *p = &r->procs[i];

		r->n_threads += p->n_threads;
		r->n_fds += p->n_fds;
		r->mem.rss += p->mem.rss;
		r->mem.anon += p->mem.anon;
		r->mem.file += p->mem.file;
		r->mem.shmem += p->mem.shmem;
	}
	r->elapsed = crpc__now() - t0;
	*result = r;
	r = NULL;
	rc = 0;
out:
	if (lr.started)
		pthread_join(lr.thread, NULL);
	free(lr.data);
	crpc_inspect_free(r);
	ins_net_free(&c);
	ins_mnt_free(&c);
	free_fd_locks(&c);
	ins_map_free(&c.sock_owner);
	ins_map_free(&c.pipe_ends);
	ins_map_free(&c.fifo_ends);
	ins_map_free(&by_pid);
	free(c.buf);
	if (c.proc_fd >= 0)
		close(c.proc_fd);
	return rc;
}
