/* SPDX-License-Identifier: MIT */
/*
 * io.c - open(), read(), pread() and write() retried when a signal
 * interrupts them, and the directory streams and regular files crpc opens.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

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
