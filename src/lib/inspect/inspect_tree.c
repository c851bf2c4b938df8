/* SPDX-License-Identifier: MIT */
/*
 * inspect_tree.c - walking the process tree: one scan of /proc for every
 * process's parent, the tree of the root in pre-order, and each task of it
 * read from /proc (status, threads, memory, namespaces, cgroups, its fds
 * through inspect_fd.c), by several threads for a large tree.
 */
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
#define INS_MAX_PROCS 100000

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
	DIR *d = io_opendir_at(c->proc_fd, ".");
	struct dirent *de;

	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "inspect", "cannot read /proc");
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

bool ins_gone_errno(int e)
{
	return e == ENOENT || e == ESRCH;
}

/* Parse "net:[4026531840]". */
static uint64_t ns_inode(const char *link)
{
	const char *b = strchr(link, '[');

	return b ? strtoull(b + 1, NULL, 10) : 0;
}

void ins_read_ns(int dirfd, const char *prefix, uint64_t ns[CRPC_NS__COUNT])
{
	for (int t = 0; t < CRPC_NS__COUNT; t++) {
		char path[64], link[64];
		ssize_t n;

		snprintf(path, sizeof(path), "%s%s", prefix, crpc_ns_type_name((crpc_ns_type)t));
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
	d = io_opendir_at(piddir, "task");
	if (!d) {
		if (ins_gone_errno(errno))
			p->gone = true;
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
		if (ins_gone_errno(errno)) {
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
	ins_read_ns(piddir, "ns/", p->ns);
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

int ins_read_procs(ins_ctx *c, crpc_error **err)
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
	next = calloc(s->n ? s->n : 1, sizeof(*next)); /* every entry is set below; calloc for the analyzer */
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

int ins_build_tree(ins_ctx *c, pid_t root, crpc_error **err)
{
	scan s = { 0 };
	int rc = scan_proc(c, &s, err);

	if (rc == 0)
		rc = build_tree(c, &s, root, err);
	ins_map_free(&s.by_pid);
	free(s.v);
	return rc;
}
