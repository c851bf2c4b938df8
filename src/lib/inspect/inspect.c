/* SPDX-License-Identifier: MIT */
/*
 * inspect.c - crpc_inspect_tree(): the process tree, its threads, memory,
 * namespaces, cgroups and file locks, read from /proc. The fds are read by
 * inspect_fd.c, sockets and pipe peers resolved by inspect_net.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
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

#define PF_KTHREAD_BIT 0x00200000UL
#define INS_BUFSZ (64 * 1024)
#define INS_MAX_PROCS 100000
#define LOCKS_MAX (16u << 20)

/* ---- hash map ---------------------------------------------------------------- */

static size_t map_slot(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

static int map_rehash(ins_map *m, size_t ncap)
{
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	uint64_t *nv = calloc(ncap, sizeof(*nv));

	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t s;

		if (!m->keys[i])
			continue;
		s = map_slot(m->keys[i], ncap);
		while (nk[s])
			s = (s + 1) & (ncap - 1);
		nk[s] = m->keys[i];
		nv[s] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
	return 0;
}

int ins_map_put(ins_map *m, uint64_t key, uint64_t val)
{
	size_t s;

	if (!key)
		return 0;
	if ((m->n + 1) * 2 > m->cap && map_rehash(m, m->cap ? m->cap * 2 : 64) < 0)
		return -1;
	s = map_slot(key, m->cap);
	while (m->keys[s] && m->keys[s] != key)
		s = (s + 1) & (m->cap - 1);
	if (!m->keys[s])
		m->n++;
	m->keys[s] = key;
	m->vals[s] = val;
	return 0;
}

bool ins_map_get(const ins_map *m, uint64_t key, uint64_t *val)
{
	size_t s;

	if (!m->cap || !key)
		return false;
	s = map_slot(key, m->cap);
	while (m->keys[s]) {
		if (m->keys[s] == key) {
			if (val)
				*val = m->vals[s];
			return true;
		}
		s = (s + 1) & (m->cap - 1);
	}
	return false;
}

void ins_map_free(ins_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- small helpers -------------------------------------------------------------- */

/*
 * Read from fd into buf until EOF or `room` bytes; with stop_short, also
 * stop after a read that leaves more than 8 KiB of room. Returns the bytes
 * read, or -1 with errno (fd is left open).
 */
static ssize_t read_into(int fd, char *buf, size_t room, bool stop_short)
{
	size_t used = 0;

	while (used < room) {
		ssize_t n = io_read(fd, buf + used, room - used);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		used += (size_t)n;
		/*
		 * /proc files are seq_files: a read stops short only at EOF or
		 * before a record that does not fit; with more room left than
		 * any record takes, a short read was the end.
		 */
		if (stop_short && room - used > 8192)
			break;
	}
	return (ssize_t)used;
}

ssize_t ins_read_at(int dirfd, const char *name, char *buf, size_t bufsz)
{
	ssize_t n;
	int e;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	n = read_into(fd, buf, bufsz ? bufsz - 1 : 0, true);
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/* Read a whole /proc file of unknown size (at most max bytes). */
static int read_all_at(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	size_t cap = 16384, used = 0;
	char *buf = malloc(cap);
	int fd;

	*out = NULL;
	if (!buf)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		free(buf);
		errno = e;
		return -1;
	}
	for (;;) {
		ssize_t n = read_into(fd, buf + used, cap - 1 - used, false);
		char *nb;

		if (n < 0) {
			int e = errno;

			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		used += (size_t)n;
		if (used + 1 < cap || cap >= max)
			break; /* EOF, or bounded: the rest is dropped */
		nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			close(fd);
			errno = ENOMEM;
			return -1;
		}
		buf = nb;
		cap *= 2;
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

int ins_pid_add(pid_t **v, size_t *n, pid_t pid)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == pid)
			return 0;
	if (ARRAY_RESIZE(*v, *n + 1) < 0)
		return -1;
	(*v)[(*n)++] = pid;
	return 0;
}

int ins_strv_addf(char ***v, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0) {
			free(s);
			return 0;
		}
	if (ARRAY_RESIZE(*v, *n + 1) < 0) {
		free(s);
		return -1;
	}
	(*v)[*n] = s;
	*n += 1;
	return 0;
}

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

/* ---- parsers ------------------------------------------------------------------------ */

int ins_parse_stat(const char *buf, ins_stat *out)
{
	const char *lp = strchr(buf, '('), *rp = strrchr(buf, ')'), *p;
	long v[7];

	memset(out, 0, sizeof(*out));
	if (!lp || !rp || rp < lp || rp[1] != ' ' || !rp[2])
		return -1;
	snprintf(out->comm, sizeof(out->comm), "%.*s", (int)(rp - lp - 1), lp + 1);
	p = rp + 2;
	out->state = *p++;
	/* ppid pgrp session tty_nr tpgid flags */
	for (int i = 0; i < 6; i++) {
		char *end;

		if (*p != ' ')
			return -1;
		p++;
		errno = 0;
		v[i] = strtol(p, &end, 10);
		if (end == p)
			return -1;
		if (i == 5)
			v[i] = (long)strtoul(p, &end, 10);
		p = end;
	}
	out->ppid = (pid_t)v[0];
	out->pgid = (pid_t)v[1];
	out->sid = (pid_t)v[2];
	out->tty_nr = (int)v[3];
	out->flags = (unsigned long)v[5];
	return 0;
}

/* Value of "Key:\t..." in status-like text; NULL if absent. */
static const char *status_field(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	const char *p = buf;

	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static uint64_t status_kb(const char *buf, const char *key)
{
	const char *v = status_field(buf, key);

	return v ? strtoull(v, NULL, 10) * 1024 : 0;
}

void ins_parse_status(const char *buf, ins_status *out)
{
	const char *v;

	memset(out, 0, sizeof(*out));
	if ((v = status_field(buf, "State")))
		out->state = *v;
	if ((v = status_field(buf, "PPid")))
		out->ppid = (pid_t)strtol(v, NULL, 10);
	if ((v = status_field(buf, "Threads")))
		out->threads = (unsigned)strtoul(v, NULL, 10);
	if ((v = status_field(buf, "Tgid")))
		out->tgid = (pid_t)strtol(v, NULL, 10);
	if ((v = status_field(buf, "TracerPid")))
		out->tracer_pid = (pid_t)strtol(v, NULL, 10);
	if ((v = status_field(buf, "Kthread")))
		out->kthread = *v == '1';
	if ((v = status_field(buf, "NSpid"))) {
		/* the last number: the PID in the innermost namespace */
		const char *end = strchr(v, '\n');
		const char *last = v;

		if (!end)
			end = v + strlen(v);
		for (const char *q = v; q < end; q++)
			if ((*q == '\t' || *q == ' ') && q + 1 < end && isdigit((unsigned char)q[1]))
				last = q + 1;
		out->ns_pid = (pid_t)strtol(last, NULL, 10);
	}
	out->mem.rss = status_kb(buf, "VmRSS");
	out->mem.anon = status_kb(buf, "RssAnon");
	out->mem.file = status_kb(buf, "RssFile");
	out->mem.shmem = status_kb(buf, "RssShmem");
}

int ins_parse_lock_line(const char *line, crpc_lock_info *l, bool *blocked)
{
	char cls[16], kind[16], mode[16], endbuf[32];
	unsigned maj, min;
	unsigned long long ino, start;
	int pid, n;
	const char *p;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	*blocked = false;
	p = strchr(line, ':');
	if (!p)
		return -1;
	p++;
	while (*p == ' ')
		p++;
	if (strncmp(p, "->", 2) == 0) {
		*blocked = true;
		p += 2;
	}
	n = sscanf(p, "%15s %15s %15s %d %x:%x:%llu %llu %31s", cls, kind, mode, &pid, &maj, &min, &ino,
		   &start, endbuf);
	if (n != 9)
		return -1;
	snprintf(l->lock_class, sizeof(l->lock_class), "%s", cls);
	snprintf(l->kind, sizeof(l->kind), "%s", kind);
	snprintf(l->mode, sizeof(l->mode), "%s", mode);
	l->pid = pid;
	l->dev_major = maj;
	l->dev_minor = min;
	l->inode = ino;
	l->start = start;
	l->end = strcmp(endbuf, "EOF") == 0 ? -1 : (int64_t)strtoll(endbuf, NULL, 10);
	return 0;
}

/* ---- the tree ---------------------------------------------------------------------- */

typedef struct pid_entry {
	pid_t pid, ppid;
	ins_stat st;
} pid_entry;

typedef struct scan {
	pid_entry *v;
	size_t n, cap;
	ins_map by_pid; /* pid -> index + 1 */
} scan;

/*
 * Read every /proc/PID/stat once: parents, and the stat of each process.
 * /proc/PID/task/TID/children would be cheaper for a small tree but needs
 * CONFIG_PROC_CHILDREN (not set on the kernels crpc is developed on) and is
 * only reliable for stopped tasks; the scan needs neither.
 */
static int scan_proc(ins_ctx *c, scan *s, crpc_error **err)
{
	int fd = openat(c->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "inspect", "cannot read /proc");
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "inspect", "cannot read /proc");
	}
	while ((de = readdir(d)) != NULL) {
		char path[64];
		ins_stat st;
		char *end;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "%ld/stat", pid);
		if (ins_read_at(c->proc_fd, path, c->buf, c->bufsz) < 0 || ins_parse_stat(c->buf, &st) < 0)
			continue; /* exited meanwhile */
		if (INS_GROW(s->v, &s->cap, s->n) < 0 ||
		    ins_map_put(&s->by_pid, (uint64_t)pid, s->n + 1) < 0) {
			closedir(d);
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		}
		s->v[s->n].pid = (pid_t)pid;
		s->v[s->n].ppid = st.ppid;
		s->v[s->n].st = st;
		s->n++;
	}
	closedir(d);
	return 0;
}

static int cmp_pid_entry_desc(const void *a, const void *b)
{
	const pid_entry *x = *(const pid_entry *const *)a, *y = *(const pid_entry *const *)b;

	return (x->pid < y->pid) - (x->pid > y->pid);
}

/* Name of a controlling terminal from its device number. */
static void tty_name(int tty_nr, char *buf, size_t bufsz)
{
	unsigned maj = ((unsigned)tty_nr >> 8) & 0xfff;
	unsigned min = ((unsigned)tty_nr & 0xff) | (((unsigned)tty_nr >> 12) & 0xfff00);

	buf[0] = '\0';
	if (tty_nr == 0)
		return;
	if (maj >= 136 && maj <= 143)
		snprintf(buf, bufsz, "pts/%u", (maj - 136) * 256 + min);
	else if (maj == 4 && min < 64)
		snprintf(buf, bufsz, "tty%u", min);
	else if (maj == 4)
		snprintf(buf, bufsz, "ttyS%u", min - 64);
	else if (maj == 5 && min == 1)
		snprintf(buf, bufsz, "console");
	else
		snprintf(buf, bufsz, "tty %u:%u", maj, min);
}

static bool gone_errno(int e)
{
	return e == ENOENT || e == ESRCH;
}

/* Parse "net:[4026531840]". */
static uint64_t ns_inode(const char *link)
{
	const char *b = strchr(link, '[');

	return b ? strtoull(b + 1, NULL, 10) : 0;
}

static void read_ns(int dirfd, const char *prefix, uint64_t ns[CRPC_NS__COUNT])
{
	for (int t = 0; t < CRPC_NS__COUNT; t++) {
		char path[64], link[64];
		ssize_t n;

		snprintf(path, sizeof(path), "%s%s", prefix, ns_names[t]);
		n = readlinkat(dirfd, path, link, sizeof(link) - 1);
		if (n <= 0) {
			ns[t] = 0;
			continue;
		}
		link[n] = '\0';
		ns[t] = ns_inode(link);
	}
}

static int read_cgroups(ins_ctx *c, crpc_proc_info *p, int piddir)
{
	size_t cap = 0;
	char *line, *save = NULL;

	if (ins_read_at(piddir, "cgroup", c->buf, c->bufsz) < 0)
		return 0;
	for (line = strtok_r(c->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *a = strchr(line, ':'), *b;
		crpc_cgroup_entry *e;

		if (!a)
			continue;
		b = strchr(a + 1, ':');
		if (!b)
			continue;
		if (INS_GROW(p->cgroups, &cap, p->n_cgroups) < 0)
			return -1;
		e = &p->cgroups[p->n_cgroups];
		e->hierarchy = atoi(line);
		e->controllers = strndup(a + 1, (size_t)(b - a - 1));
		e->path = strdup(b + 1);
		if (!e->controllers || !e->path) {
			free(e->controllers);
			free(e->path);
			return -1;
		}
		p->n_cgroups++;
	}
	return 0;
}

static int read_threads(ins_ctx *c, crpc_proc_info *p, int piddir, unsigned n_threads)
{
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int fd;

	if (n_threads == 1) { /* only the leader: no need to list task/ */
		p->threads = calloc(1, sizeof(*p->threads));
		if (!p->threads)
			return -1;
		p->threads[0].tid = p->pid;
		snprintf(p->threads[0].comm, sizeof(p->threads[0].comm), "%s", p->comm);
		p->threads[0].state = p->state;
		p->threads[0].tracer_pid = p->tracer_pid;
		p->n_threads = 1;
		return 0;
	}
	fd = openat(piddir, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		if (gone_errno(errno))
			p->gone = true;
		return 0;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		crpc_thread_info *t;
		char path[96];
		long tid;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		tid = strtol(de->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		if (INS_GROW(p->threads, &cap, p->n_threads) < 0) {
			closedir(d);
			return -1;
		}
		t = &p->threads[p->n_threads];
		memset(t, 0, sizeof(*t));
		t->tid = (pid_t)tid;
		if (tid == p->pid) {
			snprintf(t->comm, sizeof(t->comm), "%s", p->comm);
			t->state = p->state;
			t->tracer_pid = p->tracer_pid;
		} else {
			ins_stat st;
			ins_status ss;

			snprintf(path, sizeof(path), "task/%ld/stat", tid);
			if (ins_read_at(piddir, path, c->buf, c->bufsz) < 0 ||
			    ins_parse_stat(c->buf, &st) < 0)
				continue; /* the thread ended meanwhile */
			snprintf(t->comm, sizeof(t->comm), "%s", st.comm);
			t->state = st.state;
			snprintf(path, sizeof(path), "task/%ld/status", tid);
			if (ins_read_at(piddir, path, c->buf, c->bufsz) >= 0) {
				ins_parse_status(c->buf, &ss);
				t->tracer_pid = ss.tracer_pid;
			}
		}
		if (t->tracer_pid)
			p->traced = true;
		p->n_threads++;
	}
	closedir(d);
	return 0;
}

/* Read one process (its stat already known). */
static int read_proc(ins_ctx *c, size_t idx, crpc_error **err)
{
	crpc_proc_info *p = &c->r->procs[idx];
	char name[32];
	ins_status ss;
	int piddir;

	snprintf(name, sizeof(name), "%d", (int)p->pid);
	piddir = openat(c->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (piddir < 0) {
		if (gone_errno(errno)) {
			p->gone = true;
			return 0;
		}
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "inspect", "cannot open /proc/%d",
				      (int)p->pid);
	}
	/* fresh state through the dirfd (bound to this process); the rest of stat from the scan */
	if (ins_read_at(piddir, "status", c->buf, c->bufsz) < 0) {
		p->gone = true;
		close(piddir);
		return 0;
	}
	ins_parse_status(c->buf, &ss);
	if (ss.state)
		p->state = ss.state;
	if (ss.ppid || p->pid == 1)
		p->ppid = ss.ppid;
	p->tracer_pid = ss.tracer_pid;
	p->ns_pid = ss.ns_pid;
	p->mem = ss.mem;
	if (ss.kthread)
		p->kernel_thread = true;
	p->zombie = p->state == 'Z' || p->state == 'X' || p->state == 'x';
	p->stopped = p->state == 'T';
	p->traced = p->tracer_pid != 0 || p->state == 't';
	tty_name(p->tty_nr, p->tty, sizeof(p->tty));
	read_ns(piddir, "ns/", p->ns);
	if (p->kernel_thread || p->zombie) {
		close(piddir);
		return 0;
	}
	if (read_threads(c, p, piddir, ss.threads) < 0 || ins_read_fds(c, idx, piddir, err) < 0 ||
	    read_cgroups(c, p, piddir) < 0) {
		close(piddir);
		if (err && *err)
			return -1;
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
	}
	close(piddir);
	return 0;
}

/*
 * Read every process of the tree. Big trees are read by a few threads (one
 * per CPU, at most 4): the time goes into /proc system calls, which run in
 * parallel. Each worker has its own scratch buffer and only writes into the
 * processes it takes.
 */
typedef struct worker {
	ins_ctx c;
	atomic_size_t *next;
	crpc_error *err;
	int rc;
} worker;

#define MAX_WORKERS 4
#define PROCS_PER_WORKER 24

static void *worker_main(void *arg)
{
	worker *w = arg;

	for (;;) {
		size_t i = atomic_fetch_add(w->next, 1);

		if (i >= w->c.r->n_procs)
			break;
		if (read_proc(&w->c, i, &w->err) < 0) {
			w->rc = -1;
			atomic_store(w->next, w->c.r->n_procs); /* the others stop too */
			break;
		}
	}
	return NULL;
}

static int read_procs(ins_ctx *c, crpc_error **err)
{
	worker ws[MAX_WORKERS];
	pthread_t th[MAX_WORKERS];
	bool started[MAX_WORKERS] = { false };
	atomic_size_t next;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nw = c->r->n_procs / PROCS_PER_WORKER;
	int rc = 0;

	if (nw > (size_t)(cpus > 0 ? cpus : 1))
		nw = (size_t)(cpus > 0 ? cpus : 1);
	if (nw > MAX_WORKERS)
		nw = MAX_WORKERS;
	if (nw <= 1) {
		for (size_t i = 0; i < c->r->n_procs; i++)
			if (read_proc(c, i, err) < 0)
				return -1;
		return 0;
	}
	atomic_init(&next, 0);
	memset(ws, 0, sizeof(ws));
	for (size_t k = 0; k < nw; k++) {
		ws[k].c = *c;
		ws[k].next = &next;
		if (k > 0) {
			ws[k].c.buf = malloc(c->bufsz);
			if (!ws[k].c.buf)
				continue; /* one worker fewer */
			started[k] = pthread_create(&th[k], NULL, worker_main, &ws[k]) == 0;
			if (!started[k]) {
				free(ws[k].c.buf);
				ws[k].c.buf = NULL;
			}
		}
	}
	worker_main(&ws[0]);
	for (size_t k = 1; k < nw; k++) {
		if (started[k])
			pthread_join(th[k], NULL);
		free(ws[k].c.buf);
	}
	for (size_t k = 0; k < nw; k++) {
		if (ws[k].rc < 0 && !rc) {
			rc = -1;
			if (err && !*err)
				*err = ws[k].err;
			else
				crpc_error_free(ws[k].err);
		} else {
			crpc_error_free(ws[k].err);
		}
	}
	return rc;
}

/* Build the tree in pre-order from the scan, children in ascending PID order. */
static int build_tree(ins_ctx *c, scan *s, pid_t root, crpc_error **err)
{
	crpc_inspect_result *r = c->r;
	size_t cap = 0, scap = 0, sn = 0;
	struct item {
		size_t si, parent; /* scan index, parent's index in r->procs */
		unsigned depth;
	} *stack = NULL;
	ins_map first_child = { 0 }; /* ppid -> scan index + 1 of its lowest-pid child */
	pid_entry **order = NULL;
	size_t *next = NULL;
	bool *seen = NULL;
	uint64_t root_si;
	int rc = -1;

	if (!ins_map_get(&s->by_pid, (uint64_t)root, &root_si))
		return 1; /* not listed in /proc: it exited meanwhile */
	order = malloc((s->n ? s->n : 1) * sizeof(*order));
	next = malloc((s->n ? s->n : 1) * sizeof(*next));
	seen = calloc(s->n ? s->n : 1, sizeof(*seen));
	if (!order || !next || !seen)
		goto oom;
	for (size_t i = 0; i < s->n; i++)
		order[i] = &s->v[i];
	qsort(order, s->n, sizeof(*order), cmp_pid_entry_desc);
	/* linked lists of children: pids arrive in descending order, pushed in front */
	for (size_t i = 0; i < s->n; i++) {
		pid_entry *e = order[i];
		size_t ei = (size_t)(e - s->v);
		uint64_t head;

		next[ei] = (size_t)-1;
		if (e->ppid <= 0 || e->pid == e->ppid)
			continue;
		if (ins_map_get(&first_child, (uint64_t)e->ppid, &head))
			next[ei] = (size_t)head - 1;
		if (ins_map_put(&first_child, (uint64_t)e->ppid, ei + 1) < 0)
			goto oom;
	}
	if (INS_GROW(stack, &scap, sn) < 0)
		goto oom;
	stack[sn++] = (struct item){ (size_t)root_si - 1, (size_t)-1, 0 };
	while (sn) {
		struct item it = stack[--sn];
		pid_entry *e = &s->v[it.si];
		crpc_proc_info *p;
		uint64_t head;
		size_t pi, base;

		if (seen[it.si])
			continue; /* a PID reused while /proc was read could make a loop */
		seen[it.si] = true;
		if (r->n_procs >= INS_MAX_PROCS)
			break;
		if (INS_GROW(r->procs, &cap, r->n_procs) < 0)
			goto oom;
		pi = r->n_procs++;
		p = &r->procs[pi];
		memset(p, 0, sizeof(*p));
		p->pid = e->pid;
		p->ppid = e->ppid;
		p->pgid = e->st.pgid;
		p->sid = e->st.sid;
		p->state = e->st.state;
		p->tty_nr = e->st.tty_nr;
		p->kernel_thread = (e->st.flags & PF_KTHREAD_BIT) != 0;
		snprintf(p->comm, sizeof(p->comm), "%s", e->st.comm);
		p->parent = it.parent;
		p->depth = it.depth;
		if (e->st.flags & PF_KTHREAD_BIT)
			continue; /* kthreadd's children are kernel threads: no tree to dump */
		if (!ins_map_get(&first_child, (uint64_t)e->pid, &head))
			continue;
		/* the children come in ascending pid order: push them, then reverse
		 * them on the stack so that the lowest pid is visited first */
		base = sn;
		for (size_t k = (size_t)head - 1; k != (size_t)-1; k = next[k]) {
			if (INS_GROW(stack, &scap, sn) < 0)
				goto oom;
			stack[sn++] = (struct item){ k, pi, it.depth + 1 };
		}
		for (size_t a = base, b = sn; a + 1 < b; a++, b--) {
			struct item t = stack[a];

			stack[a] = stack[b - 1];
			stack[b - 1] = t;
		}
	}
	rc = 0;
	goto out;
oom:
	rc = crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
out:
	free(stack);
	free(order);
	free(next);
	free(seen);
	ins_map_free(&first_child);
	return rc;
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

/* Whether OFD lock l is among r->locks[from..]: the same lock seen through another fd of its description. */
static bool seen_ofd_lock(const crpc_inspect_result *r, size_t from, const crpc_lock_info *l)
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
 * The locks /proc/locks shows with the pid of a process of the tree: POSIX
 * and flock locks, leases. OFD locks show pid -1 there, whoever holds them:
 * they come from the tree's fdinfo (add_ofd_locks), never from a match of
 * the inode, which would give the tree the locks of any process on a file
 * the tree has open too (/dev/null).
 */
static int add_pid_locks(ins_ctx *c, ins_map *by_pid, size_t *cap, crpc_error **err)
{
	crpc_inspect_result *r = c->r;
	char *data = NULL, *line, *save = NULL;

	if (read_all_at(c->proc_fd, "locks", LOCKS_MAX, &data, NULL) < 0) {
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
 * The OFD locks the fdinfo files of the tree list, each once: processes
 * sharing one open file description (after fork, or dup) all show its locks.
 */
static int add_ofd_locks(ins_ctx *c, size_t *cap, crpc_error **err)
{
	crpc_inspect_result *r = c->r;
	size_t from = r->n_locks;

	for (size_t pi = 0; pi < c->n_ofd_locks && pi < r->n_procs; pi++) {
		const ins_ofd_locks *o = &c->ofd_locks[pi];

		for (size_t k = 0; k < o->n; k++) {
			if (seen_ofd_lock(r, from, &o->v[k]))
				continue;
			if (add_lock(r, cap, pi, find_fd(&r->procs[pi], o->v[k].fd), o->v[k]) < 0)
				return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect",
						      "out of memory");
		}
	}
	return 0;
}

static int read_locks(ins_ctx *c, ins_map *by_pid, crpc_error **err)
{
	size_t cap = 0;

	if (add_pid_locks(c, by_pid, &cap, err) < 0 || add_ofd_locks(c, &cap, err) < 0)
		return -1;
	return 0;
}

/* Free the OFD locks read from fdinfo. */
static void free_ofd_locks(ins_ctx *c)
{
	for (size_t i = 0; i < c->n_ofd_locks; i++)
		free(c->ofd_locks[i].v);
	free(c->ofd_locks);
	c->ofd_locks = NULL;
	c->n_ofd_locks = 0;
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
	scan s = { 0 };
	ins_map by_pid = { 0 };
	crpc_inspect_result *r = NULL;
	double t0 = crpc__now();
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
	read_ns(c.proc_fd, "self/ns/", r->self_ns);

	/* the root must exist and be a process, not a thread */
	snprintf(name, sizeof(name), "%d/status", (int)pid);
	if (ins_read_at(c.proc_fd, name, c.buf, c.bufsz) < 0) {
		if (gone_errno(errno))
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

	if (scan_proc(&c, &s, err) < 0)
		goto out;
	tr = build_tree(&c, &s, pid, err);
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
	c.ofd_locks = calloc(r->n_procs, sizeof(*c.ofd_locks));
	if (!c.ofd_locks) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		goto out;
	}
	c.n_ofd_locks = r->n_procs;
	if (read_procs(&c, err) < 0)
		goto out;
	if (r->procs[0].gone) {
		no_process(err, pid, "exited while being inspected");
		goto out;
	}
	if (ins_index_fds(&c) < 0) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		goto out;
	}
	if (ins_resolve_net(&c, err) < 0 || ins_resolve_files(&c, err) < 0 ||
	    read_locks(&c, &by_pid, err) < 0)
		goto out;
	if (summarize_ns(r) < 0) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "inspect", "out of memory");
		goto out;
	}
	if (!(flags & CRPC_INSPECT_NO_KERNEL_CHECKS))
		check_kernel(&c);
	/* the root may have exited at the very end: say so rather than report a ghost */
	snprintf(name, sizeof(name), "%d", (int)pid);
	if (faccessat(c.proc_fd, name, F_OK, 0) < 0 && gone_errno(errno)) {
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
	crpc_inspect_free(r);
	ins_net_free(&c);
	ins_mnt_free(&c);
	free_ofd_locks(&c);
	ins_map_free(&c.sock_owner);
	ins_map_free(&c.pipe_ends);
	ins_map_free(&c.fifo_ends);
	ins_map_free(&by_pid);
	ins_map_free(&s.by_pid);
	free(s.v);
	free(c.buf);
	if (c.proc_fd >= 0)
		close(c.proc_fd);
	return rc;
}
