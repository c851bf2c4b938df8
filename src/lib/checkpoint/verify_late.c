/* SPDX-License-Identifier: MIT */
/*
 * verify_late.c - the page images of a checkpoint verified while CRIU
 * restores.
 *
 * pages-*.img hold the memory of the tree, most of a checkpoint's bytes;
 * CRIU copies them into the restored tasks without interpreting them. A
 * restore checks every other file, and the presence and size of these,
 * before CRIU starts; the content of these is hashed by a thread of its
 * own while CRIU restores, and the restore waits for it at CRIU's
 * post-restore notification: the restored tasks have not run a single
 * instruction of their own then, and a failure there makes CRIU kill them
 * and fail the restore (restore.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crpc/manifest.h"
#include "internal.h"
#include "manifest_int.h"

struct late_file {
	char *name;
	uint64_t size; /* listed */
	char digest[65];
	bool done;
	int sys_errno; /* it could not be read */
	uint64_t got_size;
	char got[65];
	double seconds;
};

struct mf_pending {
	int dirfd;
	crpc_digest alg; /* of every file */
	struct late_file *v;
	size_t n;
	pthread_t thread;
	bool started;
	atomic_bool cancel;
	crpc_checkpoint_progress_fn progress;
	void *progress_data;
	uint64_t total, done_bytes;
	double t0, last;
};

mf_pending *mf_pending_new(int dirfd)
{
	mf_pending *p = calloc(1, sizeof(*p));

	if (p)
		p->dirfd = dirfd;
	return p;
}

bool mf_pending_wanted(const char *name)
{
	return strncmp(name, "pages-", 6) == 0 && mf_is_image_name(name);
}

/*
 * gcc 12's -fanalyzer loses track of the name stored into the array
 * (p->v[n].name) and reports it as a leak, as in ahead.c; the restore
 * tests run this path under AddressSanitizer's leak checker instead.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
int mf_pending_add(mf_pending *p, int dirfd, const char *name, uint64_t size, crpc_digest d,
		   const char *digest, uint64_t *got)
{
	struct stat st;
	int fd = io_open_regular_at(dirfd, name, &st);

	if (fd < 0)
		return -1;
	close(fd);
	if ((uint64_t)st.st_size != size) {
		*got = (uint64_t)st.st_size;
		return 1;
	}
	if (ARRAY_RESIZE(p->v, p->n + 1) < 0)
		return -1;
	memset(&p->v[p->n], 0, sizeof(p->v[p->n]));
	p->v[p->n].name = strdup(name);
	if (!p->v[p->n].name) {
		errno = ENOMEM;
		return -1;
	}
	p->v[p->n].size = size;
	snprintf(p->v[p->n].digest, sizeof(p->v[p->n].digest), "%s", digest);
	p->alg = d;
	p->n++;
	return 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

size_t mf_pending_count(const mf_pending *p)
{
	return p ? p->n : 0;
}

/* The progress, when it is time. */
static void late_tick(mf_pending *p)
{
	double now = crpc__now();

	if (!p->progress || now - p->t0 < 1.0 || now - p->last < 0.25)
		return;
	p->last = now;
	p->progress(p->done_bytes, p->total, now - p->t0, p->progress_data);
}

/* Hash one file (stops early when cancelled). */
static void late_hash(mf_pending *p, struct late_file *f, crpc__digest *sh, uint8_t *buf)
{
	double t0 = crpc__now();
	int fd = io_open_regular_at(p->dirfd, f->name, NULL);

	if (fd < 0) {
		f->sys_errno = errno;
		f->done = true;
		return;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (crpc__digest_reset(sh) < 0) {
		f->sys_errno = EIO;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (atomic_load(&p->cancel)) {
			close(fd);
			return; /* not done */
		}
		n = io_read(fd, buf, IO_HASH_BUF);
		if (n < 0) {
			f->sys_errno = errno;
			goto out;
		}
		if (n == 0)
			break;
		if (crpc__digest_update(sh, buf, (size_t)n) < 0) {
			f->sys_errno = EIO;
			goto out;
		}
		f->got_size += (uint64_t)n;
		p->done_bytes += (uint64_t)n;
		late_tick(p);
	}
	if (crpc__digest_final(sh, f->got) < 0)
		f->sys_errno = EIO;
out:
	close(fd);
	f->seconds = crpc__now() - t0;
	f->done = true;
}

static void late_all(mf_pending *p)
{
	struct mf_hasher h;
	crpc_error *e = NULL;

	if (mf_hasher_init(&h, p->alg, "verifying the page images", &e) < 0) {
		/* no memory for the buffer, or the digest cannot be had (libcrypto) */
		for (size_t i = 0; i < p->n; i++) {
			p->v[i].sys_errno = e && e->sys_errno == ENOMEM ? ENOMEM : EIO;
			p->v[i].done = true;
		}
		crpc_error_free(e);
		return;
	}
	for (size_t i = 0; i < p->n && !atomic_load(&p->cancel); i++)
		late_hash(p, &p->v[i], h.sh, h.buf);
	mf_hasher_release(&h);
}

static void *late_main(void *arg)
{
	late_all(arg);
	return NULL;
}

void mf_pending_start(mf_pending *p, crpc_checkpoint_progress_fn fn, void *data, double t0)
{
	if (!p || !p->n || p->started)
		return;
	p->progress = fn;
	p->progress_data = data;
	p->t0 = t0;
	for (size_t i = 0; i < p->n; i++)
		p->total += p->v[i].size;
	/* without a thread, mf_pending_finish() hashes them itself */
	p->started = crpc__thread_start(&p->thread, late_main, p, CRPC__THREAD_URGENT) == 0;
}

int mf_pending_finish(mf_pending *p, crpc_manifest_check *c, bool cancel)
{
	size_t before = c->n_mismatches;

	if (!p)
		return 0;
	if (cancel)
		atomic_store(&p->cancel, true);
	if (p->started) {
		pthread_join(p->thread, NULL);
		p->started = false;
	} else if (!cancel) {
		p->progress = NULL; /* on the caller's thread: no progress */
		late_all(p);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct late_file *f = &p->v[i];
		crpc_file_mismatch *m;
		crpc_file_problem kind;

		if (!f->done)
			continue;
		f->done = false; /* counted once */
		if (!f->sys_errno && f->got_size == f->size && strcmp(f->got, f->digest) == 0) {
			c->st.files++;
			c->st.bytes += f->got_size;
			c->st.hash_seconds += f->seconds;
			continue;
		}
		kind = f->sys_errno ? (f->sys_errno == ENOENT ? CRPC_FILE_MISSING : CRPC_FILE_UNREADABLE)
		       : f->got_size != f->size ? CRPC_FILE_SIZE
						: CRPC_FILE_CHECKSUM;
		if (ARRAY_RESIZE(c->mismatches, c->n_mismatches + 1) < 0)
			return -1;
		m = &c->mismatches[c->n_mismatches++];
		memset(m, 0, sizeof(*m));
		m->problem = kind;
		snprintf(m->name, sizeof(m->name), "%s", f->name);
		m->sys_errno = f->sys_errno;
		m->size = f->got_size;
		m->expected_size = f->size;
		snprintf(m->expected_sha256, sizeof(m->expected_sha256), "%s", f->digest);
		if (kind == CRPC_FILE_CHECKSUM)
			snprintf(m->sha256, sizeof(m->sha256), "%s", f->got);
	}
	return (int)(c->n_mismatches - before);
}

void mf_pending_free(mf_pending *p)
{
	if (!p)
		return;
	if (p->started) {
		atomic_store(&p->cancel, true);
		pthread_join(p->thread, NULL);
	}
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].name);
	free(p->v);
	free(p);
}
