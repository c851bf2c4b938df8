/* SPDX-License-Identifier: MIT */
/*
 * ahead.c - hashing a checkpoint's files while CRIU writes them.
 *
 * A thread follows the images directory with inotify and, whenever a file
 * grew, feeds what was added since its last visit to that file's digest,
 * reading behind CRIU's write offset on the other CPU. When CRIU is done,
 * the manifest only has the tails left to hash.
 *
 * A digest computed this way is the digest of the file's final content only
 * if every byte it read stayed as it was: that holds for a file written
 * front to back through one open, as CRIU writes its images (buffered
 * writes and splice into a file it created). crpc does not take that on
 * trust; a file is hashed again in full at the end when anything says it
 * may have been written otherwise: it was modified after a close of a
 * writer (rewritten, or reopened with O_TRUNC), created, renamed or
 * removed again under the same name, it shrank below what was hashed, its
 * inode changed, or the kernel dropped events (queue overflow).
 *
 * What it has read it also hands to the disk (sync_file_range), so that
 * writing the checkpoint back overlaps with CRIU's writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "manifest_int.h"

/*
 * gcc 12's -fanalyzer loses track of the names stored into the file array
 * of an mf_ahead (v[i].name) and reports each store as a leak; test_ahead
 * runs these paths under AddressSanitizer's leak checker instead.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif

#define AH_MAX_FILES 4096
#define AH_MAX_OPEN 64
#define AH_PAGE 4096u
#define AH_WB_MIN (1u << 20)
#define AH_MIN_EXPECTED ((uint64_t)8 << 20) /* see mf_ahead_pays() */
#define AH_EVENTS (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)

struct ah_file {
	char *name;
	int fd; /* open while the file is being written */
	dev_t dev;
	ino_t ino;
	uint64_t off;  /* bytes hashed so far */
	uint64_t seen; /* its size when last looked at */
	uint64_t wb;   /* bytes whose write-back was started */
	crpc__digest *sh;
	bool pending;    /* modified since it was last read */
	bool close_seen; /* a writer closed it: read it to the end, then close fd */
	bool closed;     /* read up to the close of its writer */
	bool dirty;      /* may have changed under the digest: hash it in full */
};

struct mf_ahead {
	int dirfd;
	crpc_digest alg;
	int in_fd;
	int stop_fd;
	pthread_t thread;
	bool running;
	pthread_t closer; /* closing in_fd (see ah_close_watch) */
	bool closing;
	bool lost; /* events were lost: trust nothing */
	struct ah_file *v;
	size_t n;
	size_t n_open;
	uint8_t *buf;
	_Atomic uint64_t bytes; /* hashed ahead so far */
	uint64_t written;       /* bytes the files had when last looked at */
	crpc_checkpoint_progress_fn progress;
	void *progress_data;
	uint64_t expected;
	double t0, last;
};

static struct ah_file *ah_find(mf_ahead *a, const char *name, bool add)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, name) == 0)
			return &a->v[i];
	if (!add || a->n >= AH_MAX_FILES || !mf_safe_name(name))
		return NULL;
	if (ARRAY_RESIZE(a->v, a->n + 1) < 0)
		return NULL;
	memset(&a->v[a->n], 0, sizeof(a->v[a->n]));
	a->v[a->n].fd = -1;
	a->v[a->n].name = strdup(name);
	if (!a->v[a->n].name)
		return NULL;
	return &a->v[a->n++];
}

static void ah_close_fd(mf_ahead *a, struct ah_file *f)
{
	if (f->fd < 0)
		return;
	close(f->fd);
	f->fd = -1;
	a->n_open--;
}

static void ah_set_dirty(mf_ahead *a, struct ah_file *f)
{
	f->dirty = true;
	ah_close_fd(a, f);
}

/* One event of the directory: what it says about the file it names. */
static void ah_event(mf_ahead *a, const struct inotify_event *ev)
{
	struct ah_file *f;

	if (ev->mask & IN_Q_OVERFLOW) {
		a->lost = true;
		return;
	}
	if (!ev->len || !ev->name[0])
		return;
	f = ah_find(a, ev->name, true);
	if (!f)
		return; /* not followed: hashed in full at the end */
	if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
		/* a file seen before under this name is another file now */
		if (f->sh || f->pending || f->close_seen)
			ah_set_dirty(a, f);
		f->pending = true;
	}
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
		ah_set_dirty(a, f);
	if (ev->mask & IN_MODIFY) {
		if (f->close_seen || f->closed)
			ah_set_dirty(a, f); /* written again after a writer closed it */
		f->pending = true;
	}
	if (ev->mask & IN_CLOSE_WRITE) {
		f->close_seen = true;
		f->pending = true;
	}
}

/* Take every event queued now. false when the queue cannot be read. */
static bool ah_drain(mf_ahead *a)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(a->in_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			ah_event(a, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* What f has grown to, for the progress. */
static void ah_seen(mf_ahead *a, struct ah_file *f, int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > f->seen) {
		a->written += (uint64_t)st.st_size - f->seen;
		f->seen = (uint64_t)st.st_size;
	}
}

/* The progress, when it is time. */
static void ah_tick(mf_ahead *a)
{
	double now = crpc__now();

	if (!a->progress || now - a->t0 < 1.0 || now - a->last < 0.25)
		return;
	a->last = now;
	a->progress(a->written, a->expected, now - a->t0, a->progress_data);
}

/* Hash f from its offset up to `upto` bytes (or EOF). -1 when it cannot be read. */
static int ah_read(mf_ahead *a, struct ah_file *f, int fd, uint64_t upto, bool count)
{
	while (f->off < upto) {
		size_t want = upto - f->off < IO_HASH_BUF ? (size_t)(upto - f->off) : IO_HASH_BUF;
		ssize_t n = io_pread_full(fd, a->buf, want, (off_t)f->off);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (crpc__digest_update(f->sh, a->buf, (size_t)n) < 0) {
			errno = EIO;
			return -1;
		}
		f->off += (uint64_t)n;
		if (count) {
			atomic_fetch_add(&a->bytes, (uint64_t)n);
			if (a->progress)
				ah_seen(a, f, fd);
			ah_tick(a);
		}
	}
	return 0;
}

/*
 * Start the write-back of what f's digest has read since the last time: the
 * whole pages of it (CRIU may still append to the last one), at least
 * AH_WB_MIN at a time; all of it once the writer closed the file. Then most
 * of the checkpoint is on its way to the disk when CRIU answers, and the
 * sync before crpc.json (manifest_write.c) finds little left to wait for.
 * Only a hint: a failure is no error (that sync reports what did not reach
 * the disk).
 */
static void ah_writeback(struct ah_file *f, int fd, bool all)
{
	uint64_t end = all ? f->off : f->off & ~(uint64_t)(AH_PAGE - 1);

	if (end <= f->wb || (!all && end - f->wb < AH_WB_MIN))
		return;
	(void)sync_file_range(fd, (off_t)f->wb, (off_t)(end - f->wb), SYNC_FILE_RANGE_WRITE);
	f->wb = end;
}

/* Catch up with one file that changed: hash what was added. */
static void ah_catch_up(mf_ahead *a, struct ah_file *f)
{
	struct stat st;

	f->pending = false;
	if (f->dirty || f->closed)
		return;
	if (f->fd < 0) {
		if (f->sh || a->n_open >= AH_MAX_OPEN) {
			/* it was open before, or too many are: the end hashes it */
			f->dirty = true;
			return;
		}
		f->fd = io_open_regular_at(a->dirfd, f->name, NULL);
		if (f->fd < 0) {
			f->dirty = true;
			return;
		}
		a->n_open++;
		if (fstat(f->fd, &st) < 0 || crpc__digest_new(a->alg, &f->sh, NULL) < 0) {
			ah_set_dirty(a, f);
			return;
		}
		f->dev = st.st_dev;
		f->ino = st.st_ino;
	}
	ah_seen(a, f, f->fd);
	if (fstat(f->fd, &st) < 0 || st.st_nlink == 0 || (uint64_t)st.st_size < f->off ||
	    ah_read(a, f, f->fd, (uint64_t)st.st_size, true) < 0) {
		ah_set_dirty(a, f);
		return;
	}
	ah_writeback(f, f->fd, f->close_seen);
	if (f->close_seen) {
		f->closed = true;
		ah_close_fd(a, f);
	}
}

static void *ah_main(void *arg)
{
	mf_ahead *a = arg;
	struct pollfd p[2] = { { .fd = a->in_fd, .events = POLLIN }, { .fd = a->stop_fd, .events = POLLIN } };
	crpc__digest *probe = NULL;

	/* the files' digest (and crpc.json's of itself): without it the end hashes (and reports) */
	if (crpc__digest_new(a->alg, &probe, NULL) < 0)
		a->lost = true;
	crpc__digest_free(probe);

	for (;;) {
		ah_tick(a);
		if (poll(p, 2, a->progress ? 250 : -1) < 0) {
			if (errno == EINTR)
				continue;
			a->lost = true;
			break;
		}
		/* the events up to now, whether or not the end was asked for */
		if (!ah_drain(a))
			a->lost = true;
		if (a->lost || (p[1].revents & POLLIN))
			break;
		for (size_t i = 0; i < a->n; i++) {
			if (a->v[i].pending)
				ah_catch_up(a, &a->v[i]);
			ah_tick(a);
		}
	}
	return NULL;
}

bool mf_ahead_pays(uint64_t expected)
{
	return !expected || expected >= AH_MIN_EXPECTED;
}

mf_ahead *mf_ahead_start(int dirfd, crpc_digest d, crpc_checkpoint_progress_fn fn, void *data,
			 uint64_t expected, double t0)
{
	mf_ahead *a = calloc(1, sizeof(*a));
	char path[64];

	if (!a)
		return NULL;
	a->in_fd = a->stop_fd = -1;
	a->dirfd = dirfd;
	a->alg = d;
	a->progress = fn;
	a->progress_data = data;
	a->expected = expected;
	a->t0 = t0;
	a->buf = io_hash_buffer_new();
	a->in_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	a->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	if (!a->buf || a->in_fd < 0 || a->stop_fd < 0 ||
	    inotify_add_watch(a->in_fd, path, AH_EVENTS | IN_ONLYDIR) < 0)
		goto fail;
	if (crpc__thread_start(&a->thread, ah_main, a, 0) != 0)
		goto fail;
	a->running = true;
	return a;
fail:
	mf_ahead_free(a);
	return NULL;
}

static void *ah_closer(void *arg)
{
	close((int)(intptr_t)arg);
	return NULL;
}

/*
 * Close the inotify instance on a thread of its own, joined by
 * mf_ahead_free(): the kernel's last close of an inotify instance waits for
 * an SRCU grace period (about 15 ms here) before it returns, which would
 * otherwise be added to the dump; this way it passes while the manifest is
 * written.
 */
static void ah_close_watch(mf_ahead *a)
{
	if (a->in_fd < 0)
		return;
	if (crpc__thread_start(&a->closer, ah_closer, (void *)(intptr_t)a->in_fd, 0) == 0)
		a->closing = true;
	else
		close(a->in_fd);
	a->in_fd = -1;
}

void mf_ahead_stop(mf_ahead *a)
{
	uint64_t one = 1;

	if (!a || !a->running)
		return;
	while (write(a->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(a->thread, NULL);
	a->running = false;
	/* events queued after the thread's last look */
	if (!ah_drain(a))
		a->lost = true;
	ah_close_watch(a);
}

uint64_t mf_ahead_bytes(const mf_ahead *a)
{
	return a ? atomic_load(&((mf_ahead *)a)->bytes) : 0;
}

int mf_ahead_finish(mf_ahead *a, int dirfd, const char *name, uint64_t *size, char hex[65])
{
	struct ah_file *f;
	struct stat st, by_name;
	int fd, r = 0;

	if (!a || a->running || a->lost)
		return 0;
	f = ah_find(a, name, false);
	if (!f || f->dirty || !f->sh)
		return 0;
	fd = f->fd >= 0 ? f->fd : io_open_regular_at(dirfd, name, NULL);
	if (fd < 0)
		return 0;
	/* the same file as the one hashed, still under its name, not shorter */
	if (fstat(fd, &st) == 0 && fstatat(dirfd, name, &by_name, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == f->dev && st.st_ino == f->ino && by_name.st_dev == f->dev &&
	    by_name.st_ino == f->ino && st.st_nlink > 0 && (uint64_t)st.st_size >= f->off) {
		if (ah_read(a, f, fd, UINT64_MAX, false) == 0 && crpc__digest_final(f->sh, hex) == 0) {
			*size = f->off;
			r = 1;
		}
	}
	if (fd != f->fd)
		close(fd);
	else
		ah_close_fd(a, f);
	f->dirty = true; /* its digest is spent */
	return r;
}

void mf_ahead_free(mf_ahead *a)
{
	if (!a)
		return;
	mf_ahead_stop(a);
	for (size_t i = 0; i < a->n; i++) {
		ah_close_fd(a, &a->v[i]);
		crpc__digest_free(a->v[i].sh);
		free(a->v[i].name);
	}
	free(a->v);
	io_hash_buffer_free(a->buf);
	if (a->closing)
		pthread_join(a->closer, NULL);
	if (a->in_fd >= 0)
		close(a->in_fd);
	if (a->stop_fd >= 0)
		close(a->stop_fd);
	free(a);
}
