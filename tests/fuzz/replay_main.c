/* SPDX-License-Identifier: MIT */
/*
 * replay_main.c - run a fuzz harness without libFuzzer: every file named
 * on the command line (for a directory: every regular file in it, in name
 * order) is read and passed to LLVMFuzzerTestOneInput() once. This is how
 * the corpus is replayed as a regression test, with gcc or clang, with or
 * without sanitizers. Exit status 0 when every input ran, 1 when a file
 * could not be read (a crash of the harness ends the process anyway).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input replayed; corpus files are far smaller. */
#define REPLAY_MAX (16u << 20)

static int run_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > REPLAY_MAX) {
		fprintf(stderr, "replay: %s: not a regular file of at most %u bytes\n", path, REPLAY_MAX);
		close(fd);
		return -1;
	}
	/* an exact-size buffer (at least 1 byte), so ASan sees any read past the input */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "replay: %s: %s\n", path, n < 0 ? strerror(errno) : "short read");
			free(buf);
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	DIR *d = opendir(dir);

	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));

			if (!nn) {
				rc = -1;
				break;
			}
			names = nn;
			cap = cap ? cap * 2 : 64;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t sz = strlen(dir) + strlen(names[i]) + 2;
		char *p = malloc(sz);

		if (!p) {
			rc = -1;
		} else {
			snprintf(p, sz, "%s/%s", dir, names[i]);
			if (run_file(p) < 0)
				rc = -1;
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0, count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i]) < 0)
				rc = 1;
		} else if (run_file(argv[i]) < 0) {
			rc = 1;
		}
		count++;
	}
	if (!count)
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
	return count ? rc : 2;
}
