/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h - helpers shared by the fuzz harnesses: a private
 * temporary directory per process (removed at exit), writing and clearing
 * files in it, and dropping errors.
 */
#ifndef CRPC_FUZZ_COMMON_H
#define CRPC_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crpc/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Remove every entry of the directory dirfd (flat: the harnesses make no subdirectories). */
static inline void fz_clear_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) < 0 && errno == EISDIR)
			unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

static char fz_dir_path[64];
static int fz_dir_fd = -1;

static inline void fz_dir_remove(void)
{
	if (fz_dir_fd < 0)
		return;
	fz_clear_dir(fz_dir_fd);
	close(fz_dir_fd);
	fz_dir_fd = -1;
	rmdir(fz_dir_path);
}

/*
 * The harness's own temporary directory, created on first use under
 * $TMPDIR (else /tmp) and removed at exit. Aborts when it cannot be made:
 * a harness without it would test nothing.
 */
static inline int fz_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (fz_dir_fd >= 0)
		return fz_dir_fd;
	if (!tmp || !*tmp || strlen(tmp) > sizeof(fz_dir_path) - 24)
		tmp = "/tmp";
	snprintf(fz_dir_path, sizeof(fz_dir_path), "%s/crpc-fuzz-XXXXXX", tmp);
	if (!mkdtemp(fz_dir_path)) {
		perror("mkdtemp");
		abort();
	}
	fz_dir_fd = open(fz_dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fz_dir_fd < 0) {
		perror(fz_dir_path);
		rmdir(fz_dir_path);
		abort();
	}
	atexit(fz_dir_remove);
	return fz_dir_fd;
}

/* Write (create or replace) dirfd/name with len bytes of data, mode 0600. */
static inline void fz_write_at(int dirfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	const uint8_t *p = data;

	if (fd < 0) {
		perror(name);
		abort();
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror(name);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

/* Render an error as a user would see it, then free it (exercises the formatting). */
static inline void fz_drop_error(crpc_error **err)
{
	if (*err) {
		char *s = crpc_error_format(*err);

		free(s);
		crpc_error_free(*err);
		*err = NULL;
	}
}

/* A NUL-terminated copy of data (malloc'ed; aborts on ENOMEM). */
static inline char *fz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif /* CRPC_FUZZ_COMMON_H */
