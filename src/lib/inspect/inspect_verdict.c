/* SPDX-License-Identifier: MIT */
/*
 * inspect_verdict.c - from an inspection to the CRIU options a dump needs,
 * the blockers that stop it, and applying the options to a request with the
 * user's own options winning.
 *
 * The rules follow what CRIU 4.x refuses without an option: connected TCP
 * sockets (tcp_established), connections waiting to be accepted
 * (tcp_skip_in_flight), UNIX sockets whose peer is not dumped (ext_unix_sk
 * for named datagram peers, an external unix[INODE] otherwise), a root that
 * is not a session leader or a terminal whose master is outside the tree
 * (shell_job), file locks (file_locks), deleted files larger than the ghost
 * limit (ghost_limit, 1 MiB by default) and unlinked files still linked
 * elsewhere (link_remap).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

#define CRIU_DEFAULT_GHOST_LIMIT (1u << 20)
#define MIB (1u << 20)

typedef struct vlist {
	crpc_verdict_item **v;
	size_t *n;
	size_t cap;
	unsigned *more; /* how many merged into each entry */
	size_t more_cap;
} vlist;

typedef struct vbuild {
	crpc_verdict *v;
	vlist opts, blocks, warns;
	bool oom;
} vbuild;

/* Which end of a pipe or FIFO an fd with these open flags is. */
static const char *end_name(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return "read";
	case O_WRONLY:
		return "write";
	default:
		return "both";
	}
}

static void fmt_size(uint64_t b, char *buf, size_t bufsz)
{
	if (b >= (1ULL << 30))
		snprintf(buf, bufsz, "%.1f GiB", (double)b / (double)(1ULL << 30));
	else if (b >= MIB)
		snprintf(buf, bufsz, "%.1f MiB", (double)b / MIB);
	else if (b >= 1024)
		snprintf(buf, bufsz, "%.1f KiB", (double)b / 1024);
	else
		snprintf(buf, bufsz, "%" PRIu64 " bytes", b);
}

static bool same_value(const crpc_verdict_item *a, crpc_value_kind kind, bool b, uint64_t u, const char *s)
{
	if (a->kind != kind)
		return false;
	switch (kind) {
	case CRPC_VALUE_BOOL:
		return a->b == b;
	case CRPC_VALUE_UINT:
		return a->u == u;
	case CRPC_VALUE_STRING:
		return a->s && s && strcmp(a->s, s) == 0;
	}
	return false;
}

/* Add an entry; one with the same name and value only counts as "more". */
static crpc_verdict_item *vadd(vbuild *vb, vlist *l, const char *name, crpc_value_kind kind, bool b,
			       uint64_t u, const char *s, pid_t pid, int fd, const char *fmt, ...)
	__attribute__((format(printf, 10, 11)));

static crpc_verdict_item *vadd(vbuild *vb, vlist *l, const char *name, crpc_value_kind kind, bool b,
			       uint64_t u, const char *s, pid_t pid, int fd, const char *fmt, ...)
{
	crpc_verdict_item *it;
	va_list ap;
	size_t i;

	if (vb->oom)
		return NULL;
	for (i = 0; *l->v && i < *l->n; i++)
		if (strcmp((*l->v)[i].name, name) == 0 && same_value(&(*l->v)[i], kind, b, u, s)) {
			if (l->more)
				l->more[i]++;
			return &(*l->v)[i];
		}
	if (INS_GROW((*l->v), &l->cap, *l->n) < 0 || INS_GROW(l->more, &l->more_cap, *l->n) < 0)
		goto oom;
	it = &(*l->v)[*l->n];
	memset(it, 0, sizeof(*it));
	it->name = strdup(name);
	it->kind = kind;
	it->b = b;
	it->u = u;
	it->s = s ? strdup(s) : NULL;
	it->pid = pid;
	it->fd = fd;
	va_start(ap, fmt);
	if (vasprintf(&it->reason, fmt, ap) < 0)
		it->reason = NULL;
	va_end(ap);
	if (!it->name || !it->reason || (s && !it->s)) {
		free(it->name);
		free(it->s);
		free(it->reason);
		goto oom;
	}
	l->more[*l->n] = 0;
	(*l->n)++;
	return it;
oom:
	vb->oom = true;
	return NULL;
}

void ins_vadd(ins_vbuild *vb, int list, const char *name, crpc_value_kind kind, bool b, uint64_t u,
	      const char *s, pid_t pid, int fd, const char *fmt, ...)
{
	vlist *l = list == INS_V_OPTION ? &vb->opts : list == INS_V_BLOCKER ? &vb->blocks : &vb->warns;
	char *text = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		vb->oom = true;
		return;
	}
	vadd(vb, l, name, kind, b, u, s, pid, fd, "%s", text);
	free(text);
}

#define OPT_BOOL(vb, name, pid, fd, ...) \
	vadd(vb, &(vb)->opts, name, CRPC_VALUE_BOOL, true, 0, NULL, pid, fd, __VA_ARGS__)
#define BLOCK(vb, name, pid, fd, ...) \
	vadd(vb, &(vb)->blocks, name, CRPC_VALUE_BOOL, true, 0, NULL, pid, fd, __VA_ARGS__)
#define WARN(vb, name, pid, fd, ...) \
	vadd(vb, &(vb)->warns, name, CRPC_VALUE_BOOL, true, 0, NULL, pid, fd, __VA_ARGS__)

/* Append " (and N more)" to entries that stand for several causes. */
static void finish_list(vbuild *vb, vlist *l)
{
	for (size_t i = 0; i < *l->n && !vb->oom; i++) {
		crpc_verdict_item *it = &(*l->v)[i];
		char *s = NULL;

		if (!l->more || !l->more[i])
			continue;
		if (asprintf(&s, "%s (and %u more)", it->reason, l->more[i]) < 0) {
			vb->oom = true;
			break;
		}
		free(it->reason);
		it->reason = s;
	}
	free(l->more);
	l->more = NULL;
}

static const char *who(const crpc_proc_info *p, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "PID %d (%s)", (int)p->pid, p->comm);
	return buf;
}

static void proc_comm(pid_t pid, char *buf, size_t bufsz)
{
	crpc__proc_comm(pid, buf, bufsz);
}

static bool tcp_connected_state(int st)
{
	/* ESTABLISHED SYN_SENT FIN_WAIT1 FIN_WAIT2 CLOSE_WAIT LAST_ACK CLOSING */
	return st == 1 || st == 2 || st == 4 || st == 5 || st == 8 || st == 9 || st == 11;
}

static void endpoint(const crpc_inet_endpoint *e, int family, char *buf, size_t bufsz)
{
	if (family == AF_INET6 && strchr(e->addr, ':'))
		snprintf(buf, bufsz, "[%s]:%u", e->addr, (unsigned)e->port);
	else
		snprintf(buf, bufsz, "%s:%u", e->addr, (unsigned)e->port);
}

static const crpc_proc_info *find_proc(const crpc_inspect_result *r, pid_t pid)
{
	for (size_t i = 0; i < r->n_procs; i++)
		if (r->procs[i].pid == pid)
			return &r->procs[i];
	return NULL;
}

static void peer_desc(const crpc_fd_info *fi, char *buf, size_t bufsz)
{
	char comm[64];

	if (!fi->n_peer_pids) {
		snprintf(buf, bufsz, "a process outside the tree");
		return;
	}
	proc_comm(fi->peer_pids[0], comm, sizeof(comm));
	snprintf(buf, bufsz, "PID %d (%s) outside the tree", (int)fi->peer_pids[0], comm);
}

typedef struct ghost {
	uint64_t max;
	const crpc_proc_info *p;
	const crpc_fd_info *fi;
} ghost;

static void deleted_file(vbuild *vb, const crpc_proc_info *p, const crpc_fd_info *fi, ghost *g)
{
	char w[96], sz[32];
	const char *how = fi->fd >= 0 ? "open" : "mapped";

	who(p, w, sizeof(w));
	if (fi->nlink == 0) {
		fmt_size(fi->blocks_bytes, sz, sizeof(sz));
		if (fi->blocks_bytes > UINT32_MAX) {
			BLOCK(vb, "ghost-too-large", p->pid, fi->fd,
			      "deleted file %s (%s) %s in %s is larger than the largest ghost limit CRIU accepts "
			      "(4 GiB)",
			      fi->path ? fi->path : "?", sz, how, w);
			return;
		}
		if (fi->blocks_bytes > g->max) {
			g->max = fi->blocks_bytes;
			g->p = p;
			g->fi = fi;
		}
		return;
	}
	if (fi->path_reused) {
		BLOCK(vb, "path-reused", p->pid, fi->fd,
		      "file %s %s in %s was unlinked, and its path now names another file: CRIU cannot "
		      "restore it under that name",
		      fi->path ? fi->path : "?", how, w);
		return;
	}
	OPT_BOOL(vb, "link_remap", p->pid, fi->fd,
		 "file %s %s in %s was unlinked but is still linked elsewhere; CRIU links it back under "
		 "its old name until the restore",
		 fi->path ? fi->path : "?", how, w);
}

static void check_fd(vbuild *vb, const crpc_inspect_result *r, const crpc_proc_info *p,
		     const crpc_fd_info *fi, ghost *g)
{
	char w[96], a[80], b[80], peer[128];
	unsigned maj = major(fi->rdev), min = minor(fi->rdev);

	(void)r;
	who(p, w, sizeof(w));
	switch (fi->type) {
	case CRPC_FD_TCP:
		endpoint(&fi->local, fi->family, a, sizeof(a));
		endpoint(&fi->remote, fi->family, b, sizeof(b));
		if (tcp_connected_state(fi->state))
			OPT_BOOL(vb, "tcp_established", p->pid, fi->fd,
				 "%s TCP connection %s -> %s in %s fd %d",
				 fi->state == 1   ? "established"
				 : fi->state == 2 ? "connecting"
						  : "closing",
				 a, b, w, fi->fd);
		else if (fi->state == 7 && fi->remote.port)
			OPT_BOOL(vb, "tcp_established", p->pid, fi->fd,
				 "closed TCP connection %s -> %s in %s fd %d (shut down by both ends, still "
				 "open): CRIU restores it as a connection",
				 a, b, w, fi->fd);
		else if (fi->state == 10 && fi->rx_queue > 0)
			OPT_BOOL(vb, "tcp_skip_in_flight", p->pid, fi->fd,
				 "%u connection(s) waiting to be accepted on %s in %s fd %d", fi->rx_queue,
				 a, w, fi->fd);
		break;
	case CRPC_FD_UNIX:
		if (fi->peer == CRPC_PEER_UNKNOWN) {
			WARN(vb, "unix-peer-unknown", p->pid, fi->fd,
			     "the peer of UNIX socket fd %d of %s could not be found (sock_diag unavailable); "
			     "CRIU may need --ext-unix-sk",
			     fi->fd, w);
			break;
		}
		if (fi->peer != CRPC_PEER_OUTSIDE)
			break;
		peer_desc(fi, peer, sizeof(peer));
		if (fi->sock_type == SOCK_DGRAM && fi->peer_name) {
			OPT_BOOL(vb, "ext_unix_sk", p->pid, fi->fd,
				 "UNIX datagram socket fd %d of %s is connected to %s, held by %s", fi->fd,
				 w, fi->peer_name, peer);
		} else {
			char ext[40];

			snprintf(ext, sizeof(ext), "unix[%" PRIu64 "]", fi->inode);
			vadd(vb, &vb->opts, "external", CRPC_VALUE_STRING, false, 0, ext, p->pid, fi->fd,
			     "UNIX %s socket fd %d of %s is connected to %s%s%s",
			     crpc_sock_type_name(fi->sock_type), fi->fd, w, peer,
			     fi->peer_name ? " at " : "", fi->peer_name ? fi->peer_name : "");
			WARN(vb, "unix-external", p->pid, fi->fd,
			     "UNIX socket fd %d of %s (socket:[%" PRIu64
			     "]): its peer outside the tree loses "
			     "the connection when the dump ends the tree; a restore needs a replacement socket "
			     "(--inherit-fd 'fd[N]:socket:[%" PRIu64 "]')",
			     fi->fd, w, fi->inode, fi->inode);
		}
		break;
	case CRPC_FD_SOCKET:
		if (!fi->protocol) {
			WARN(vb, "socket-unknown", p->pid, fi->fd,
			     "the protocol of socket fd %d of %s is unknown", fi->fd, w);
		} else if (strncmp(fi->protocol, "MPTCP", 5) == 0) {
			BLOCK(vb, "unsupported-fd", p->pid, fi->fd,
			      "MPTCP socket fd %d of %s: CRIU cannot checkpoint multipath TCP", fi->fd, w);
		} else {
			BLOCK(vb, "unsupported-fd", p->pid, fi->fd,
			      "%s socket fd %d of %s: CRIU only checkpoints UNIX, TCP, UDP, raw, packet and "
			      "netlink sockets",
			      fi->protocol, fi->fd, w);
		}
		break;
	case CRPC_FD_PIPE:
	case CRPC_FD_FIFO:
		if (fi->peer != CRPC_PEER_OUTSIDE)
			break;
		peer_desc(fi, peer, sizeof(peer));
		if (fi->type == CRPC_FD_PIPE)
			WARN(vb, "pipe-outside", p->pid, fi->fd,
			     "pipe fd %d of %s (%s end) is shared with %s: crpc restore re-attaches it while "
			     "that process holds it, else the tree gets a pipe of its own (or one given with "
			     "--inherit-fd)",
			     fi->fd, w, end_name(fi->flags), peer);
		else
			WARN(vb, "fifo-outside", p->pid, fi->fd,
			     "FIFO fd %d of %s (%s end) is shared with %s: CRIU reopens the FIFO by its path "
			     "at restore, whoever holds it then",
			     fi->fd, w, end_name(fi->flags), peer);
		break;
	case CRPC_FD_TIMERFD:
		/* CRIU restores a periodic timer whose expiration is pending (fdinfo then
		 * shows it_value 0) disarmed; short periods hit that during the freeze */
		if (fi->interval_ns && (fi->ticks > 0 || fi->value_ns == 0 || fi->interval_ns < 100000000ULL))
			WARN(vb, "timerfd", p->pid, fi->fd,
			     "periodic timerfd fd %d of %s (every %.3f s%s): an expiration pending when the "
			     "tree is frozen makes CRIU restore the timer disarmed",
			     fi->fd, w, (double)fi->interval_ns / 1e9,
			     fi->ticks ? ", expirations not read yet" : "");
		break;
	case CRPC_FD_IO_URING:
		BLOCK(vb, "io_uring", p->pid, fi->fd,
		      "io_uring instance fd %d of %s: CRIU cannot checkpoint io_uring (its rings and "
		      "in-flight requests live in the kernel)",
		      fi->fd, w);
		break;
	case CRPC_FD_USERFAULTFD:
		BLOCK(vb, "userfaultfd", p->pid, fi->fd,
		      "userfaultfd fd %d of %s: CRIU cannot checkpoint userfaultfd", fi->fd, w);
		break;
	case CRPC_FD_ANON:
		if (fi->target && strstr(fi->target, "bpf-map"))
			WARN(vb, "bpf-map", p->pid, fi->fd,
			     "BPF map fd %d of %s: checkpointed only by a CRIU built with libbpf", fi->fd, w);
		else
			BLOCK(vb, "unsupported-fd", p->pid, fi->fd,
			      "%s fd %d of %s: CRIU cannot checkpoint it",
			      fi->target ? fi->target : "anon inode", fi->fd, w);
		break;
	case CRPC_FD_FILE:
		if (fi->deleted)
			deleted_file(vb, p, fi, g);
		break;
	case CRPC_FD_DEVICE:
		if (!fi->block_device && (maj == 1 || (maj == 10 && (min == 200 || min == 235))))
			break; /* /dev/null & co, /dev/net/tun, autofs */
		BLOCK(vb, "unsupported-fd", p->pid, fi->fd,
		      "%s device %u:%u (%s) open as fd %d of %s: CRIU cannot "
		      "checkpoint it",
		      fi->block_device ? "block" : "character", maj, min, fi->path ? fi->path : "?", fi->fd,
		      w);
		break;
	case CRPC_FD_TTY:
		if (maj == 5 || maj == 188 || maj == 204 || (maj == 4 && min >= 1 && min <= 63))
			break;
		BLOCK(vb, "unsupported-fd", p->pid, fi->fd,
		      "terminal %u:%u (%s) open as fd %d of %s: CRIU cannot "
		      "checkpoint this kind of terminal",
		      maj, min, fi->path ? fi->path : "?", fi->fd, w);
		break;
	case CRPC_FD_PTY:
		if (!fi->pty_master && maj != 136 && maj >= 137 && maj <= 143)
			BLOCK(vb, "unsupported-fd", p->pid, fi->fd,
			      "pseudo-terminal %s (index %d) of %s: CRIU handles only the first 256 ones",
			      fi->path ? fi->path : "?", fi->pty_index, w);
		break;
	default:
		break;
	}
}

/* Terminals: slaves whose master is not in the tree, and the session. */
static void check_ttys(vbuild *vb, const crpc_inspect_result *r)
{
	const crpc_proc_info *root = &r->procs[0];
	int ext_index = -1;
	bool several = false;
	char w[96];

	/*
	 * Session 0: no session leader to be seen from here (or from the CRIU
	 * crpc starts). Tasks of an init or service manager that never called
	 * setsid are in it, and so is a session whose leader lives in a parent
	 * PID namespace. CRIU refuses such a task whatever the options, zombies
	 * included.
	 */
	size_t outside = 0;
	const crpc_proc_info *first = NULL;

	for (size_t i = 0; i < r->n_procs; i++)
		if (r->procs[i].sid == 0 && !r->procs[i].gone) {
			if (!first)
				first = &r->procs[i];
			outside++;
		}
	if (first) {
		char more[48] = "";

		if (outside > 1)
			snprintf(more, sizeof(more), " (and %zu more of the tree)", outside - 1);
		BLOCK(vb, "session-zero", first->pid, -1,
		      "%s%s is in session 0, which has no session leader CRIU can see (started by an "
		      "init that never called setsid, or led from a parent PID namespace): CRIU cannot "
		      "checkpoint it with any option; start it with setsid",
		      who(first, w, sizeof(w)), more);
	} else if (root->sid != root->pid) {
		char comm[64];

		proc_comm(root->sid, comm, sizeof(comm));
		OPT_BOOL(vb, "shell_job", root->pid, -1,
			 "%s is not a session leader: its session %d is led by PID %d (%s) outside the tree "
			 "(started from a shell)",
			 who(root, w, sizeof(w)), (int)root->sid, (int)root->sid, comm);
	}
	for (size_t i = 0; i < r->n_procs; i++) {
		const crpc_proc_info *p = &r->procs[i];

		for (size_t f = 0; f < p->n_fds; f++) {
			const crpc_fd_info *fi = &p->fds[f];
			bool paired = false;

			/* a slave whose master is closed everywhere is restored with a master of CRIU's own */
			if (fi->type != CRPC_FD_PTY || fi->pty_master || fi->pty_index < 0 ||
			    fi->pty_master_closed)
				continue;
			for (size_t j = 0; j < r->n_procs && !paired; j++)
				for (size_t k = 0; k < r->procs[j].n_fds && !paired; k++) {
					const crpc_fd_info *m = &r->procs[j].fds[k];

					paired = m->type == CRPC_FD_PTY && m->pty_master &&
						 m->pty_index == fi->pty_index;
				}
			if (paired)
				continue;
			OPT_BOOL(vb, "shell_job", p->pid, fi->fd,
				 "terminal %s (fd %d of %s) comes from outside the tree: its master side is not "
				 "in the tree",
				 fi->path ? fi->path : "?", fi->fd, who(p, w, sizeof(w)));
			if (ext_index >= 0 && ext_index != fi->pty_index)
				several = true;
			ext_index = fi->pty_index;
		}
	}
	if (several)
		BLOCK(vb, "external-ttys", root->pid, -1,
		      "the tree uses more than one terminal from outside the tree; CRIU restores at most one");
}

static void check_ns(vbuild *vb, const crpc_inspect_result *r)
{
	static const crpc_ns_type nested_forbidden[] = { CRPC_NS_CGROUP, CRPC_NS_IPC,  CRPC_NS_PID,
							 CRPC_NS_TIME,   CRPC_NS_USER, CRPC_NS_UTS };
	const crpc_proc_info *root = &r->procs[0];
	char w[96];

	ins_ns_verdict(vb, r);
	for (size_t i = 0; i < r->n_procs; i++) {
		const crpc_proc_info *p = &r->procs[i];

		if (p->gone || p->zombie)
			continue;
		if (p->ns[CRPC_NS_TIME] && p->ns[CRPC_NS_TIME_FOR_CHILDREN] &&
		    p->ns[CRPC_NS_TIME] != p->ns[CRPC_NS_TIME_FOR_CHILDREN])
			BLOCK(vb, "nested-namespace", p->pid, -1,
			      "%s has set up a new time namespace for its children: CRIU cannot checkpoint "
			      "nested time namespaces",
			      who(p, w, sizeof(w)));
		if (i == 0)
			continue;
		for (size_t k = 0; k < sizeof(nested_forbidden) / sizeof(nested_forbidden[0]); k++) {
			crpc_ns_type t = nested_forbidden[k];

			if (p->ns[t] && p->ns[t] != root->ns[t] && p->ns[t] != r->self_ns[t])
				BLOCK(vb, "nested-namespace", p->pid, -1,
				      "%s is in a %s namespace of its own inside the tree: CRIU cannot checkpoint "
				      "nested %s namespaces",
				      who(p, w, sizeof(w)), crpc_ns_type_name(t), crpc_ns_type_name(t));
		}
	}
}

CRPC_API int crpc_inspect_verdict(const crpc_inspect_result *r, crpc_verdict *v, crpc_error **err)
{
	vbuild vb;
	ghost g = { 0 };
	const crpc_proc_info *root;
	char w[96];

	memset(v, 0, sizeof(*v));
	memset(&vb, 0, sizeof(vb));
	vb.v = v;
	vb.opts = (vlist){ .v = &v->options, .n = &v->n_options };
	vb.blocks = (vlist){ .v = &v->blockers, .n = &v->n_blockers };
	vb.warns = (vlist){ .v = &v->warnings, .n = &v->n_warnings };
	if (!r || !r->n_procs)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "inspect", "no inspection result");
	root = &r->procs[0];
	who(root, w, sizeof(w));

	if (root->pid == 1)
		BLOCK(&vb, "init", 1, -1, "PID 1 (%s) is the system's init: it cannot be checkpointed",
		      root->comm);
	if (root->zombie)
		BLOCK(&vb, "zombie-root", root->pid, -1,
		      "%s is a zombie: it has exited and waits to be reaped by its parent PID %d; there is "
		      "nothing to checkpoint",
		      w, (int)root->ppid);
	if (root->kernel_thread)
		BLOCK(&vb, "kernel-thread", root->pid, -1,
		      "%s is a kernel thread: kernel threads cannot be checkpointed, only user processes", w);
	if (root->zombie || root->kernel_thread)
		goto done;

	for (size_t i = 0; i < r->n_procs; i++) {
		const crpc_proc_info *p = &r->procs[i];

		who(p, w, sizeof(w));
		if (p->pid == getpid())
			BLOCK(&vb, "crpc", p->pid, -1,
			      "the tree contains the inspecting process itself (%s): it would checkpoint itself",
			      w);
		if (p->gone) {
			WARN(&vb, "gone", p->pid, -1, "%s exited while it was inspected", w);
			continue;
		}
		if (p->fds_unreadable)
			WARN(&vb, "unreadable", p->pid, -1, "the open files of %s could not be read (%s)", w,
			     strerror(p->fds_errno));
		for (size_t t = 0; t < p->n_threads; t++) {
			const crpc_thread_info *th = &p->threads[t];
			char comm[64];

			if (!th->tracer_pid)
				continue;
			proc_comm(th->tracer_pid, comm, sizeof(comm));
			if (th->tid == p->pid)
				BLOCK(&vb, "traced", p->pid, -1,
				      "%s is traced by PID %d (%s): CRIU must attach to every task with ptrace and "
				      "cannot while another tracer is attached",
				      w, (int)th->tracer_pid, comm);
			else
				BLOCK(&vb, "traced", p->pid, -1,
				      "thread %d of %s is traced by PID %d (%s): CRIU must attach to every task "
				      "with ptrace and cannot while another tracer is attached",
				      (int)th->tid, w, (int)th->tracer_pid, comm);
		}
		if (p->stopped)
			WARN(&vb, "stopped", p->pid, -1,
			     "%s is stopped (job control); it is checkpointed and restored "
			     "stopped",
			     w);
		if (p->zombie && i > 0)
			continue;
		for (size_t f = 0; f < p->n_fds; f++)
			check_fd(&vb, r, p, &p->fds[f], &g);
		for (size_t f = 0; f < p->n_mapped_deleted; f++)
			deleted_file(&vb, p, &p->mapped_deleted[f], &g);
	}
	check_ttys(&vb, r);
	check_ns(&vb, r);
	if (r->n_locks) {
		const crpc_lock_info *l = &r->locks[0];
		const crpc_proc_info *p = find_proc(r, l->pid);

		OPT_BOOL(&vb, "file_locks", l->pid, l->fd, "%s %s lock on %s held by %s%s", l->lock_class,
			 l->mode, l->path ? l->path : "a file", p ? who(p, w, sizeof(w)) : "the tree",
			 r->n_locks > 1 ? " and others" : "");
	}
	if (g.max > CRIU_DEFAULT_GHOST_LIMIT) {
		uint64_t lim = (g.max + MIB - 1) / MIB * MIB;
		char sz[32];

		if (lim > UINT32_MAX)
			lim = UINT32_MAX;
		fmt_size(g.max, sz, sizeof(sz));
		char how[32];

		if (g.fi->fd >= 0)
			snprintf(how, sizeof(how), "open as fd %d", g.fi->fd);
		else
			snprintf(how, sizeof(how), "mapped");
		vadd(&vb, &vb.opts, "ghost_limit", CRPC_VALUE_UINT, false, lim, NULL, g.p->pid, g.fi->fd,
		     "deleted file %s (%s) %s in %s is copied into the checkpoint; CRIU's default limit is 1 MiB",
		     g.fi->path ? g.fi->path : "?", sz, how, who(g.p, w, sizeof(w)));
	}
	for (size_t i = 0; i < r->n_missing_features; i++)
		BLOCK(&vb, "kernel-feature", 0, -1, "the kernel lacks %s", r->missing_features[i]);
	for (size_t i = 0; i < r->n_notes; i++)
		WARN(&vb, "inspect", 0, -1, "%s", r->notes[i]);
done:
	finish_list(&vb, &vb.opts);
	finish_list(&vb, &vb.blocks);
	finish_list(&vb, &vb.warns);
	if (vb.oom) {
		crpc_verdict_release(v);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
	}
	return 0;
}

static void release_items(crpc_verdict_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].s);
		free(v[i].reason);
	}
	free(v);
}

CRPC_API void crpc_verdict_release(crpc_verdict *v)
{
	if (!v)
		return;
	release_items(v->options, v->n_options);
	release_items(v->blockers, v->n_blockers);
	release_items(v->warnings, v->n_warnings);
	memset(v, 0, sizeof(*v));
}

CRPC_API void crpc_verdict_value_str(const crpc_verdict_item *it, char *buf, size_t bufsz)
{
	switch (it->kind) {
	case CRPC_VALUE_BOOL:
		snprintf(buf, bufsz, "%s", it->b ? "true" : "false");
		return;
	case CRPC_VALUE_UINT:
		snprintf(buf, bufsz, "%" PRIu64, it->u);
		return;
	case CRPC_VALUE_STRING:
		snprintf(buf, bufsz, "%s", it->s ? it->s : "");
		return;
	}
	snprintf(buf, bufsz, "?");
}

/* ---- apply -------------------------------------------------------------------------- */

static const char *const opt_source_names[] = {
	[CRPC_OPT_SOURCE_USER] = "user",
	[CRPC_OPT_SOURCE_CONFIG] = "config",
	[CRPC_OPT_SOURCE_AUTO] = "auto",
};

CRPC_API const char *crpc_opt_source_name(crpc_opt_source s)
{
	return ENUM_NAME(opt_source_names, s, "?");
}

CRPC_API void crpc_opt_reasons_release(crpc_opt_reasons *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].option);
		free(l->v[i].value);
		free(l->v[i].reason);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int reason_add(crpc_opt_reasons *l, const char *option, const char *value, crpc_opt_source src,
		      bool overrides, const char *reason)
{
	crpc_opt_reason *e;

	if (!l)
		return 0;
	if (ARRAY_RESIZE(l->v, l->n + 1) < 0)
		return -1;
	e = &l->v[l->n];
	e->option = strdup(option);
	e->value = strdup(value);
	e->reason = strdup(reason);
	e->source = src;
	e->overrides = overrides;
	if (!e->option || !e->value || !e->reason) {
		free(e->option);
		free(e->value);
		free(e->reason);
		return -1;
	}
	l->n++;
	return 0;
}

static bool has_external(const crpc_opts *o, const char *s)
{
	if (!o)
		return false;
	for (size_t i = 0; i < o->n_external; i++)
		if (o->external[i] && strcmp(o->external[i], s) == 0)
			return true;
	return false;
}

/* Which of user/config set a flag or value (user first). */
static crpc_opt_source source_of(bool in_user, bool in_config)
{
	if (in_user)
		return CRPC_OPT_SOURCE_USER;
	if (in_config)
		return CRPC_OPT_SOURCE_CONFIG;
	return CRPC_OPT_SOURCE_USER;
}

static const char *source_reason(crpc_opt_source s)
{
	return s == CRPC_OPT_SOURCE_CONFIG ? "set in the configuration file" : "given on the command line";
}

/* The bool options the verdict may name (CRPC_OPTF_AUTO), with their crpc_opts fields. */
static bool is_auto_bool(const struct opt_desc *d)
{
	return d && d->kind == OPTK_BOOL && (d->flags & CRPC_OPTF_AUTO);
}

static bool *bool_field(crpc_opts *o, const char *name)
{
	const struct opt_desc *d = opt_desc_find(name);

	return is_auto_bool(d) ? (bool *)((char *)o + d->off) : NULL;
}

static bool cbool(const crpc_opts *o, const char *name)
{
	bool *f;

	if (!o)
		return false;
	f = bool_field((crpc_opts *)o, name);
	return f && *f;
}

CRPC_API int crpc_inspect_apply(const crpc_verdict *v, const crpc_opts *user, const crpc_opts *config,
				crpc_opts *effective, crpc_opt_reasons *reasons, crpc_error **err)
{
	bool listed_ghost = false;
	char val[64];

	/* what the verdict asks for */
	for (size_t i = 0; v && i < v->n_options; i++) {
		const crpc_verdict_item *it = &v->options[i];
		bool *f = bool_field(effective, it->name);

		if (f) {
			if (*f)
				continue; /* already set: listed below with its source */
			if (strcmp(it->name, "tcp_established") == 0 && effective->tcp_close) {
				char *s = NULL;

				if (asprintf(&s, "not set: tcp_close was given instead (%s)", it->reason) < 0)
					goto oom;
				if (reason_add(reasons, "tcp_established", "false",
					       source_of(cbool(user, "tcp_close"), cbool(config, "tcp_close")),
					       true, s) < 0) {
					free(s);
					goto oom;
				}
				free(s);
				continue;
			}
			*f = true;
			if (reason_add(reasons, it->name, "true", CRPC_OPT_SOURCE_AUTO, false, it->reason) <
			    0)
				goto oom;
		} else if (strcmp(it->name, "ghost_limit") == 0) {
			if (effective->ghost_limit_set) {
				crpc_opt_source src = source_of(user && user->ghost_limit_set,
								config && config->ghost_limit_set);
				bool smaller = effective->ghost_limit < it->u;
				char *s = NULL;

				snprintf(val, sizeof(val), "%" PRIu32, effective->ghost_limit);
				if (asprintf(&s, "%s%s%" PRIu64 " bytes: %s", source_reason(src),
					     smaller ? "; kept although the inspection asks for "
						     : "; the inspection asks for ",
					     it->u, it->reason) < 0)
					goto oom;
				if (reason_add(reasons, "ghost_limit", val, src, smaller, s) < 0) {
					free(s);
					goto oom;
				}
				free(s);
				listed_ghost = true;
				continue;
			}
			effective->ghost_limit_set = true;
			effective->ghost_limit = (uint32_t)(it->u > UINT32_MAX ? UINT32_MAX : it->u);
			snprintf(val, sizeof(val), "%" PRIu32, effective->ghost_limit);
			if (reason_add(reasons, "ghost_limit", val, CRPC_OPT_SOURCE_AUTO, false,
				       it->reason) < 0)
				goto oom;
			listed_ghost = true;
		} else if (strcmp(it->name, "external") == 0 && it->s) {
			if (has_external(effective, it->s))
				continue;
			if (crpc_opts_add_external(effective, it->s, err) < 0)
				return -1;
			if (reason_add(reasons, "external", it->s, CRPC_OPT_SOURCE_AUTO, false, it->reason) <
			    0)
				goto oom;
		}
	}

	/* what the user or the configuration set themselves */
	for (size_t k = 0; k < n_opt_descs; k++) {
		const char *name = opt_descs[k].name;
		bool in_user, in_config;
		crpc_opt_source src;

		if (!is_auto_bool(&opt_descs[k]))
			continue;
		in_user = cbool(user, name);
		in_config = cbool(config, name);
		if (!(in_user || in_config))
			continue;
		src = source_of(in_user, in_config);
		if (reason_add(reasons, name, "true", src, false, source_reason(src)) < 0)
			goto oom;
	}
	if (!listed_ghost && effective->ghost_limit_set &&
	    ((user && user->ghost_limit_set) || (config && config->ghost_limit_set))) {
		crpc_opt_source src = source_of(user && user->ghost_limit_set,
						config && config->ghost_limit_set);

		snprintf(val, sizeof(val), "%" PRIu32, effective->ghost_limit);
		if (reason_add(reasons, "ghost_limit", val, src, false, source_reason(src)) < 0)
			goto oom;
	}
	for (size_t k = 0; k < effective->n_external; k++) {
		const char *e = effective->external[k];
		bool in_user = has_external(user, e), in_config = has_external(config, e);
		crpc_opt_source src;

		if (!(in_user || in_config))
			continue;
		src = source_of(in_user, in_config);
		if (reason_add(reasons, "external", e, src, false, source_reason(src)) < 0)
			goto oom;
	}
	return 0;
oom:
	return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
}
