/* SPDX-License-Identifier: MIT */
/*
 * helpers.c - see helpers.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

int make_tmpdir(char *tmpl, int *dirfd)
{
	if (!mkdtemp(tmpl))
		return -1;
	*dirfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0) {
		rmdir(tmpl);
		return -1;
	}
	return 0;
}

void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char p[PATH_MAX];

	if (d) {
		while ((de = readdir(d)) != NULL) {
			struct stat st;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				rm_tree(p);
			else
				unlink(p);
		}
		closedir(d);
	}
	rmdir(path);
}

void buf_put(struct buf *b, const void *data, size_t len)
{
	uint8_t *np = realloc(b->p, b->len + len + 1);

	if (!np)
		abort();
	b->p = np;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

void buf_u32(struct buf *b, uint32_t v)
{
	buf_put(b, &v, sizeof(v));
}

void write_file(int dirfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void write_buf(int dirfd, const char *name, struct buf *b)
{
	write_file(dirfd, name, b->p, b->len);
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf = malloc(*len + 16);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), *len);
	return buf;
}

int count_open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}
