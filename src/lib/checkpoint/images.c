/* SPDX-License-Identifier: MIT */
/*
 * images.c - the little of CRIU's image format libcrpc needs: is a directory
 * a complete checkpoint, which PIDs does its process tree use, and are those
 * PIDs free here.
 *
 * An image file is a sequence of u32 magics followed by entries, each entry
 * a host-endian u32 length and then that many bytes of a packed protobuf
 * message. Every length read from a file is checked against what is left of
 * the file and against a fixed maximum before it is used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "checkpoint/ck_int.h"
#include "imgfile.h"
#include "internal.h"
#include "inventory.pb-c.h"
#include "pstree.pb-c.h"

#define IMG_COMMON_MAGIC CRPC__IMG_COMMON_MAGIC
#define INVENTORY_MAGIC 0x58313116u
#define PSTREE_MAGIC 0x50273030u

#define INVENTORY_NAME "inventory.img"
#define PSTREE_NAME "pstree.img"

#define INVENTORY_MAX (1u << 20)
#define PSTREE_MAX (16u << 20)
/* Largest single entry accepted; a pstree entry with 1M threads is ~5 MiB. */
#define ENTRY_MAX (8u << 20)

#define ZOMBIE_POLL_MS 20

/*
 * Store a newly made error with a hint in *err. The first error stored is
 * kept, so a new one (and its hint) is dropped if *err is already set.
 */
static int __attribute__((format(printf, 5, 6)))
fail(crpc_error **err, int sys_errno, const char *op, const char *hint, const char *fmt, ...)
{
	crpc_error *e = NULL;
	va_list ap;

	va_start(ap, fmt);
	crpc_error_setv(&e, CRPC_EXIT_FAIL, sys_errno, op, fmt, ap);
	va_end(ap);
	if (e && hint)
		crpc_error_set_hint(e, "%s", hint);
	if (err && !*err)
		*err = e;
	else
		crpc_error_free(e);
	return -1;
}

/*
 * Read the whole file dirfd/name (a regular file, not followed if a symlink;
 * opened non-blocking so a FIFO cannot hang us) into b, refusing more than
 * max bytes; a NUL follows the data. Files whose st_size is 0 (as in /proc)
 * are read until end of file. Returns 0, or -1 with errno set: ENOENT when
 * missing, EFBIG when larger than max, EINVAL when not a regular file.
 */
static int read_whole(int dirfd, const char *name, size_t max, struct blob *b);

int crpc__read_whole_at(int dirfd, const char *name, size_t max, uint8_t **data, size_t *size)
{
	struct blob blob = { NULL, 0 }, *b = &blob;
	int r = read_whole(dirfd, name, max, b);

	*data = blob.data;
	*size = blob.len;
	return r;
}

static int read_whole(int dirfd, const char *name, size_t max, struct blob *b)
{
	cleanup_close int fd = -1;
	crpc__buf buf = { 0 };
	struct stat st;

	b->data = NULL;
	b->len = 0;
	fd = io_open_regular_at(dirfd, name, &st);
	if (fd < 0)
		return -1;
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		errno = EFBIG;
		return -1;
	}
	/* the size it has now, and more while it grows (or has none, as in /proc) */
	if (crpc__buf_reserve(&buf, (size_t)st.st_size) < 0 || crpc__buf_read_fd(&buf, fd, max, false) < 0) {
		int e = errno;

		crpc__buf_release(&buf);
		errno = e;
		return -1;
	}
	b->data = (uint8_t *)buf.data;
	b->len = buf.len;
	return 0;
}

static int cursor_u32(struct cursor *c, uint32_t *v)
{
	if (c->left < sizeof(*v))
		return -1;
	memcpy(v, c->p, sizeof(*v));
	c->p += sizeof(*v);
	c->left -= sizeof(*v);
	return 0;
}

/* See imgfile.h. */
int crpc__img_open(int dirfd, const char *name, size_t max, uint32_t magic1, uint32_t magic2, const char *op,
		   struct blob *b, struct cursor *c, crpc_error **err)
{
	uint32_t m;

	if (read_whole(dirfd, name, max, b) < 0) {
		int e = errno;

		switch (e) {
		case ENOENT:
			return fail(err, e, op, NULL, "%s is missing", name);
		case EFBIG:
			return fail(err, 0, op, NULL,
				    "%s is larger than %zu MiB; it is not an image crpc can read", name,
				    max >> 20);
		case EINVAL:
			return fail(err, 0, op, NULL, "%s is not a regular file", name);
		default:
			return fail(err, e, op, NULL, "cannot read %s", name);
		}
	}
	c->p = b->data;
	c->left = b->len;

	if (cursor_u32(c, &m) < 0)
		return fail(err, 0, op, NULL,
			    "%s is not a CRIU image (only %zu bytes, too short for its magic)", name, b->len);
	if (m != magic1) {
		if (magic2 == 0)
			return fail(err, 0, op, NULL,
				    "%s is not a CRIU image (bad magic 0x%08" PRIx32
				    ", expected 0x%08" PRIx32 ")",
				    name, m, magic1);
		return fail(err, 0, op, NULL, "%s is not a CRIU image (bad magic 0x%08" PRIx32 ")", name, m);
	}
	if (magic2 == 0)
		return 0;
	if (cursor_u32(c, &m) < 0)
		return fail(err, 0, op, NULL, "%s is truncated: it ends before its second magic number",
			    name);
	if (m != magic2)
		return fail(err, 0, op, NULL,
			    "%s is a CRIU image of another kind (type magic 0x%08" PRIx32
			    ", expected 0x%08" PRIx32 ")",
			    name, m, magic2);
	return 0;
}

/* See imgfile.h. */
int crpc__img_next(struct cursor *c, const char *name, size_t index, const char *op, const uint8_t **data,
		   size_t *len, crpc_error **err)
{
	uint32_t n;

	if (c->left == 0)
		return 0;
	if (cursor_u32(c, &n) < 0)
		return fail(err, 0, op, NULL,
			    "%s is truncated: %zu stray bytes where entry %zu's length should be", name,
			    c->left, index + 1);
	if (n > ENTRY_MAX)
		return fail(err, 0, op, NULL, "%s is corrupt: entry %zu claims %" PRIu32 " bytes (limit %u)",
			    name, index + 1, n, ENTRY_MAX);
	if (n > c->left)
		return fail(err, 0, op, NULL,
			    "%s is truncated: entry %zu needs %" PRIu32 " bytes but only %zu are left", name,
			    index + 1, n, c->left);
	*data = c->p;
	*len = n;
	c->p += n;
	c->left -= n;
	return 1;
}

CRPC_API bool crpc_images_present(int dirfd)
{
	struct stat st;

	return fstatat(dirfd, INVENTORY_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Number of entries in dirfd besides . and .., -1 if it cannot be read. */
static long dir_count(int dirfd)
{
	struct dirent *de;
	long n = 0;
	DIR *d = io_opendir_at(dirfd, ".");

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	}
	closedir(d);
	return n;
}

static int inventory_check(int dirfd, const char *op, crpc_error **err)
{
	struct blob b = { 0 };
	struct cursor c;
	const uint8_t *data;
	size_t len;
	InventoryEntry *ie;
	int r;

	r = crpc__img_open(dirfd, INVENTORY_NAME, INVENTORY_MAX, INVENTORY_MAGIC, 0, op, &b, &c, err);
	if (r < 0)
		goto out;
	r = crpc__img_next(&c, INVENTORY_NAME, 0, op, &data, &len, err);
	if (r == 0) {
		r = fail(err, 0, op, NULL, "%s holds no entry", INVENTORY_NAME);
		goto out;
	}
	if (r < 0)
		goto out;
	ie = inventory_entry__unpack(NULL, len, data);
	if (!ie) {
		r = fail(err, 0, op, NULL, "%s is corrupt: its entry cannot be decoded", INVENTORY_NAME);
		goto out;
	}
	inventory_entry__free_unpacked(ie, NULL);
	r = 0;
out:
	free(b.data);
	return r;
}

static int pid_from_wire(uint32_t v, pid_t *out)
{
	if (v == 0 || v > INT_MAX)
		return -1;
	*out = (pid_t)v;
	return 0;
}

/* Fill t from one decoded entry. */
static int task_from_entry(const PstreeEntry *pe, crpc_task *t, size_t index, const char *op,
			   crpc_error **err)
{
	size_t n = pe->n_threads ? pe->n_threads : 1;

	if (pid_from_wire(pe->pid, &t->pid) < 0)
		return fail(err, 0, op, NULL, "%s is corrupt: task %zu has PID %" PRIu32, PSTREE_NAME,
			    index + 1, pe->pid);
	/* The root's parent is 0; pgid and sid may be outside the tree. */
	t->ppid = pe->ppid <= INT_MAX ? (pid_t)pe->ppid : 0;
	t->pgid = pe->pgid <= INT_MAX ? (pid_t)pe->pgid : 0;
	t->sid = pe->sid <= INT_MAX ? (pid_t)pe->sid : 0;

	t->threads = calloc(n, sizeof(*t->threads));
	if (!t->threads)
		return fail(err, ENOMEM, op, NULL, "out of memory");
	t->n_threads = n;
	if (pe->n_threads == 0) {
		/* No thread list: the task is its own single thread. */
		t->threads[0] = t->pid;
		return 0;
	}
	/*
	 * A zombie has no threads left to record and CRIU leaves whatever
	 * value happens to be there. Ids that cannot be PIDs are skipped, a
	 * list without the task's own PID is ignored, and the task's own PID
	 * always stands for it.
	 */
	t->n_threads = 0;
	for (size_t i = 0; i < n; i++)
		if (pid_from_wire(pe->threads[i], &t->threads[t->n_threads]) == 0)
			t->n_threads++;
	/* A real thread list holds the task itself; anything else is filler. */
	for (size_t i = 0; i < t->n_threads; i++)
		if (t->threads[i] == t->pid)
			goto have_self;
	t->n_threads = 0;
have_self:
	if (t->n_threads == 0) {
		t->threads[0] = t->pid;
		t->n_threads = 1;
	}
	return 0;
}

static int pstree_read(int dirfd, const char *op, crpc_pstree *out, crpc_error **err)
{
	struct blob b = { 0 };
	struct cursor c;
	crpc_pstree t = { 0 };
	size_t cap = 0;
	int r;

	r = crpc__img_open(dirfd, PSTREE_NAME, PSTREE_MAX, IMG_COMMON_MAGIC, PSTREE_MAGIC, op, &b, &c, err);
	if (r < 0)
		goto out;

	for (;;) {
		const uint8_t *data;
		size_t len;
		PstreeEntry *pe;

		r = crpc__img_next(&c, PSTREE_NAME, t.n_tasks, op, &data, &len, err);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		pe = pstree_entry__unpack(NULL, len, data);
		if (!pe) {
			r = fail(err, 0, op, NULL, "%s is corrupt: entry %zu cannot be decoded", PSTREE_NAME,
				 t.n_tasks + 1);
			goto out;
		}
		if (ARRAY_GROW(t.tasks, &cap, t.n_tasks + 1, 8) < 0) {
			pstree_entry__free_unpacked(pe, NULL);
			r = fail(err, ENOMEM, op, NULL, "out of memory");
			goto out;
		}
		memset(&t.tasks[t.n_tasks], 0, sizeof(t.tasks[0]));
		r = task_from_entry(pe, &t.tasks[t.n_tasks], t.n_tasks, op, err);
		/* Counted even on failure so its threads array is released. */
		t.n_tasks++;
		pstree_entry__free_unpacked(pe, NULL);
		if (r < 0)
			goto out;
	}
	if (t.n_tasks == 0) {
		r = fail(err, 0, op, NULL, "%s holds no task", PSTREE_NAME);
		goto out;
	}
	*out = t;
	t = (crpc_pstree){ 0 };
	r = 0;
out:
	crpc_pstree_release(&t);
	free(b.data);
	return r;
}

CRPC_API int crpc_images_check(int dirfd, const char *dir_name, crpc_error **err)
{
	return crpc_images_validate(dirfd, dir_name, false, err);
}

CRPC_API int crpc_images_validate(int dirfd, const char *dir_name, bool allow_unfinished, crpc_error **err)
{
	const char *top = "checking the checkpoint";
	const char *redo = "check the path: it should be a directory `crpc dump` wrote into";
	cleanup_free char *op = NULL;
	crpc_error *e = NULL;
	crpc_pstree t = { 0 };
	struct stat st;
	const char *dn = dir_name ? dir_name : ".";

	if (!allow_unfinished && fstatat(dirfd, CRPC_INPROGRESS_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		bool whole = ck_dumpdir_criu_finished(dirfd);

		fail(err, 0, top, NULL, "a dump into %s did not complete (found %s)%s", dn,
		     CRPC_INPROGRESS_MARKER,
		     whole ? ": crpc was stopped after CRIU had finished it" : "; the images are not usable");
		if (err && *err)
			ck_dumpdir_hint(*err, dn, NULL);
		return -1;
	}

	if (fstatat(dirfd, INVENTORY_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return fail(err, errno, top, NULL, "cannot access %s in %s", INVENTORY_NAME, dn);
		if (dir_count(dirfd) == 0)
			return fail(err, 0, top, redo, "%s holds no checkpoint: the directory is empty", dn);
		return fail(err, 0, top, redo, "%s holds no checkpoint: %s is missing", dn, INVENTORY_NAME);
	}

	if (asprintf(&op, "checking the checkpoint in %s", dn) < 0) {
		op = NULL;
		return fail(err, ENOMEM, top, NULL, "out of memory");
	}
	if (inventory_check(dirfd, op, &e) < 0) {
		crpc_error_set_hint(e, "%s is damaged or is not a CRIU checkpoint; dump again", dn);
		goto fail;
	}
	if (pstree_read(dirfd, op, &t, &e) < 0) {
		crpc_error_set_hint(e, "the checkpoint in %s is incomplete or damaged; dump again", dn);
		goto fail;
	}
	crpc_pstree_release(&t);
	return 0;
fail:
	if (err && !*err)
		*err = e;
	else
		crpc_error_free(e);
	return -1;
}

CRPC_API int crpc_pstree_read(int dirfd, crpc_pstree *out, crpc_error **err)
{
	*out = (crpc_pstree){ 0 };
	return pstree_read(dirfd, "reading the process tree of the checkpoint", out, err);
}

CRPC_API void crpc_pstree_release(crpc_pstree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_tasks; i++)
		free(t->tasks[i].threads);
	free(t->tasks);
	t->tasks = NULL;
	t->n_tasks = 0;
}

/*
 * Thread group id, parent and number of threads of pid, from
 * /proc/PID/status (0 when unknown). For a thread id, the tgid is the
 * process it belongs to.
 */
static void proc_ids(pid_t pid, pid_t *tgid, pid_t *ppid, long *threads)
{
	char path[64];
	struct blob b;
	char *s, *line;

	*tgid = 0;
	*ppid = 0;
	*threads = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_whole(AT_FDCWD, path, 64 * 1024, &b) < 0)
		return;
	s = (char *)b.data; /* NUL-terminated */
	for (line = s; *line; line++) {
		long v;

		if (sscanf(line, "Tgid: %ld", &v) == 1 && v > 0 && v <= INT_MAX)
			*tgid = (pid_t)v;
		else if (sscanf(line, "PPid: %ld", &v) == 1 && v >= 0 && v <= INT_MAX)
			*ppid = (pid_t)v;
		else if (sscanf(line, "Threads: %ld", &v) == 1 && v >= 0)
			*threads = v;
		line = strchr(line, '\n');
		if (!line)
			break;
	}
	free(s);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int pid_in_use(pid_t pid, const char *op, crpc_error **err)
{
	char comm[64];
	pid_t tgid, ppid;
	long threads;
	crpc_error *e = NULL;

	proc_ids(pid, &tgid, &ppid, &threads);
	if (tgid > 0 && tgid != pid) {
		crpc__proc_comm(tgid, comm, sizeof(comm));
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
			       "PID %d needed by the checkpoint is in use by a thread of a running "
			       "process: %s (PID %d)",
			       (int)pid, comm, (int)tgid);
	} else {
		crpc__proc_comm(pid, comm, sizeof(comm));
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
			       "PID %d needed by the checkpoint is in use by a running process: "
			       "%s (PID %d)",
			       (int)pid, comm, (int)pid);
		tgid = pid;
	}
	if (e) {
		e->cause = CRPC_CAUSE_PID_IN_USE;
		crpc_error_set_hint(e,
				    "end %s (PID %d) and restore again, or restore into a new PID "
				    "namespace",
				    comm, (int)tgid);
	}
	if (err && !*err)
		*err = e;
	else
		crpc_error_free(e);
	return -1;
}

static int pid_zombie(pid_t pid, unsigned wait_ms, const char *op, crpc_error **err)
{
	char comm[64], pcomm[64];
	pid_t tgid, ppid;
	long threads;
	crpc_error *e = NULL;

	crpc__proc_comm(pid, comm, sizeof(comm));
	proc_ids(pid, &tgid, &ppid, &threads);
	if (ppid > 0)
		crpc__proc_comm(ppid, pcomm, sizeof(pcomm));
	else
		snprintf(pcomm, sizeof(pcomm), "?");
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
		       "PID %d is held by a zombie (%s, parent PID %d) that was not reaped "
		       "within %g s",
		       (int)pid, comm, (int)ppid, wait_ms / 1000.0);
	if (e) {
		e->cause = CRPC_CAUSE_PID_IN_USE;
		crpc_error_set_hint(e,
				    "the zombie's parent %s (PID %d) has to reap it: make it wait "
				    "for its child or end it; or restore into a new PID namespace",
				    pcomm, (int)ppid);
	}
	if (err && !*err)
		*err = e;
	else
		crpc_error_free(e);
	return -1;
}

static bool zombie_has_threads(pid_t pid)
{
	pid_t tgid, ppid;
	long threads;

	proc_ids(pid, &tgid, &ppid, &threads);
	return threads > 1;
}

static bool pid_needed(const crpc_pstree *t, pid_t pid)
{
	for (size_t i = 0; i < t->n_tasks; i++) {
		if (t->tasks[i].pid == pid)
			return true;
		for (size_t j = 0; j < t->tasks[i].n_threads; j++)
			if (t->tasks[i].threads[j] == pid)
				return true;
	}
	return false;
}

/* State, process group and session of a process, from /proc/PID/stat. */
static bool proc_group_ids(const char *pid, char *state, pid_t *pgid, pid_t *sid)
{
	char path[64], buf[1024];
	const char *rp;
	int fd, pg, se, pp;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = io_read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 1, " %c %d %d %d", state, &pp, &pg, &se) != 4)
		return false;
	*pgid = pg;
	*sid = se;
	return true;
}

/*
 * A PID is also held by a process group or session that carries its number:
 * the kernel refuses to hand it out again until the last member is gone. Find
 * a process outside the tree still using a needed PID that way. Returns 0 when
 * none, 1 when only zombies do (they may be reaped soon), -1 with *err set
 * when a live process does.
 */
static int group_holder(const crpc_pstree *t, const char *op, pid_t *zombie_pid, pid_t *held,
			crpc_error **err)
{
	struct dirent *de;
	bool leaders = false;
	int found = 0;
	DIR *d;

	/* only a PID that led a session or group can outlive its task that way */
	for (size_t i = 0; i < t->n_tasks && !leaders; i++)
		leaders = t->tasks[i].pid == t->tasks[i].sid || t->tasks[i].pid == t->tasks[i].pgid;
	if (!leaders)
		return 0;
	d = opendir("/proc");
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char state, comm[64];
		pid_t pgid, sid, pid, which;
		crpc_error *e = NULL;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (!proc_group_ids(de->d_name, &state, &pgid, &sid))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (pid_needed(t, pid))
			continue;
		which = pid_needed(t, sid) ? sid : pid_needed(t, pgid) ? pgid : 0;
		if (!which)
			continue;
		if (state == 'Z' || state == 'X') {
			*zombie_pid = pid;
			*held = which;
			found = 1;
			continue;
		}
		closedir(d);
		crpc__proc_comm(pid, comm, sizeof(comm));
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
			       "PID %d needed by the checkpoint is still in use as the %s ID of a "
			       "running process: %s (PID %d)",
			       (int)which, which == sid ? "session" : "process group", comm, (int)pid);
		if (e) {
			e->cause = CRPC_CAUSE_PID_IN_USE;
			crpc_error_set_hint(e,
					    "end %s (PID %d) and restore again, or restore into a "
					    "new PID namespace",
					    comm, (int)pid);
		}
		if (err && !*err)
			*err = e;
		else
			crpc_error_free(e);
		return -1;
	}
	closedir(d);
	return found;
}

CRPC_API int crpc_pstree_pids_available(const crpc_pstree *t, unsigned wait_ms, crpc_error **err)
{
	const char *op = "checking the checkpoint's PIDs are free";
	double deadline = crpc__now() + wait_ms / 1000.0;

	if (!t)
		return 0;
	for (size_t i = 0; i < t->n_tasks; i++) {
		const crpc_task *task = &t->tasks[i];

		/* The task's pid first, then its threads (which include it). */
		for (size_t j = 0; j <= task->n_threads; j++) {
			pid_t pid = j == 0 ? task->pid : task->threads[j - 1];

			if (j > 0 && pid == task->pid)
				continue;
			for (bool first = true;; first = false) {
				char state = crpc__proc_state(pid);
				double left;

				if (state == 0)
					break;
				if (state != 'Z' && state != 'X')
					return pid_in_use(pid, op, err);
				/*
				 * A thread group leader that ended while its other
				 * threads run shows as a zombie too: that process
				 * is alive and will not go away by waiting.
				 */
				if (first && zombie_has_threads(pid))
					return pid_in_use(pid, op, err);
				left = deadline - crpc__now();
				if (left <= 0)
					return pid_zombie(pid, wait_ms, op, err);
				sleep_ms(left * 1000 < ZOMBIE_POLL_MS ? (unsigned)(left * 1000) + 1
								      : ZOMBIE_POLL_MS);
			}
		}
	}
	for (;;) {
		pid_t zombie = 0, held = 0;
		int r = group_holder(t, op, &zombie, &held, err);
		double left;

		if (r <= 0)
			return r;
		left = deadline - crpc__now();
		if (left <= 0) {
			crpc_error *e = NULL;

			pid_zombie(zombie, wait_ms, op, &e);
			if (e) {
				char *m = NULL;

				if (asprintf(&m,
					     "PID %d needed by the checkpoint is still the session "
					     "or process group ID of a zombie (PID %d) that was not "
					     "reaped within %g s",
					     (int)held, (int)zombie, wait_ms / 1000.0) >= 0) {
					free(e->message);
					e->message = m;
				}
			}
			if (err && !*err)
				*err = e;
			else
				crpc_error_free(e);
			return -1;
		}
		sleep_ms(left * 1000 < ZOMBIE_POLL_MS ? (unsigned)(left * 1000) + 1 : ZOMBIE_POLL_MS);
	}
}

CRPC_API int crpc_images_size(int dir_fd, uint64_t *bytes, crpc_error **err)
{
	struct dirent *de;
	uint64_t sum = 0;
	int saved;
	DIR *d;

	*bytes = 0;
	d = io_opendir_at(dir_fd, ".");
	if (!d)
		return fail(err, errno, "measuring the checkpoint", NULL,
			    "cannot read the checkpoint directory");
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT) {
				errno = 0;
				continue;
			}
			saved = errno;
			closedir(d);
			return fail(err, saved, "measuring the checkpoint", NULL, "cannot stat %s",
				    de->d_name);
		}
		if (S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
		errno = 0;
	}
	if (errno) {
		saved = errno;
		closedir(d);
		return fail(err, saved, "measuring the checkpoint", NULL,
			    "cannot read the checkpoint directory");
	}
	closedir(d);
	*bytes = sum;
	return 0;
}
