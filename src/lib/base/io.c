/* SPDX-License-Identifier: MIT */
/*
 * io.c - read(), pread() and write() retried when a signal interrupts them.
 */
#include <errno.h>
#include <unistd.h>

#include "internal.h"

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
