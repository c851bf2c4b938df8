/* SPDX-License-Identifier: MIT */
/*
 * io.c - open(), read(), pread() and write() retried when a signal
 * interrupts them, and the directory streams and regular files crpc opens.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

int crpc__buf_reserve(crpc__buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1) {
		errno = ENOMEM;
		return -1;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int crpc__buf_add(crpc__buf *b, const void *p, size_t n)
{
	if (crpc__buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void crpc__buf_release(crpc__buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int crpc__buf_read_fd(crpc__buf *b, int fd, size_t max, bool truncate)
{
	for (;;) {
		size_t room;
		ssize_t n;

		if (b->len >= max) {
			char probe;

			/* at the bound: is there more? */
			n = io_read(fd, &probe, 1);
			if (n < 0)
				return -1;
			if (n == 0)
				return 0;
			if (truncate)
				return 1;
			errno = EFBIG;
			return -1;
		}
		if (b->cap - (b->data ? b->len + 1 : 0) < 4096 &&
		    crpc__buf_reserve(b, b->cap ? b->cap : 4096) < 0)
			return -1;
		room = b->cap - b->len - 1;
		if (room > max - b->len)
			room = max - b->len;
		n = io_read(fd, b->data + b->len, room);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
}

int io_openat(int dirfd, const char *name, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	do
		fd = openat(dirfd, name, flags, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

DIR *io_opendir_at(int dirfd, const char *name)
{
	int fd = io_openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

int io_open_regular_at(int dirfd, const char *name, struct stat *st)
{
	struct stat own;
	int fd = io_openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	int e;

	if (!st)
		st = &own;
	if (fd < 0) {
		if (errno == ELOOP)
			errno = EINVAL;
		return -1;
	}
	if (fstat(fd, st) < 0)
		e = errno;
	else if (!S_ISREG(st->st_mode))
		e = EINVAL;
	else
		return fd;
	close(fd);
	errno = e;
	return -1;
}

pid_t io_waitpid(pid_t pid, int *status, int options)
{
	pid_t r;

	do
		r = waitpid(pid, status, options);
	while (r < 0 && errno == EINTR);
	return r;
}

void *io_hash_buffer_new(void)
{
	void *p = mmap(NULL, IO_HASH_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void io_hash_buffer_free(void *buf)
{
	if (buf)
		(void)munmap(buf, IO_HASH_BUF);
}

ssize_t io_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Read until len bytes or EOF, with pread() from off when at is true. */
static ssize_t read_full(int fd, char *buf, size_t len, bool at, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = at ? pread(fd, buf + done, len - done, off + (off_t)done)
			       : read(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t io_read_full(int fd, void *buf, size_t len)
{
	return read_full(fd, buf, len, false, 0);
}

ssize_t io_pread_full(int fd, void *buf, size_t len, off_t off)
{
	return read_full(fd, buf, len, true, off);
}

int io_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}
