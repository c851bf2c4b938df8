/*
 * ghost DIR [KIB]: holds open a file it deleted (DIR/ghost.dat, KIB KiB of
 * a known pattern, default 256). On SIGUSR1: the file is still deleted
 * (no links), its size, content and file offset are those of setup.
 */
#include "zoo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OFFSET 12345

static unsigned char pattern(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	return (unsigned char)(x >> 24 ^ i >> 7);
}

int main(int argc, char **argv)
{
	static unsigned char buf[65536];
	char path[PATH_MAX];
	size_t size, done;
	unsigned seq = 0;
	int fd;

	zoo_init("ghost", argc, argv);
	size = (size_t)(argc >= 3 ? strtoul(argv[2], NULL, 10) : 256) * 1024;
	if (size < OFFSET)
		zoo_die("size below %d bytes", OFFSET);
	zoo_path(path, sizeof(path), "/ghost.dat");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		zoo_die("%s: %s", path, strerror(errno));
	for (done = 0; done < size;) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(done + i);
		if (zoo_write_all(fd, buf, n) < 0)
			zoo_die("write %s: %s", path, strerror(errno));
		done += n;
	}
	if (unlink(path) < 0 || lseek(fd, OFFSET, SEEK_SET) != OFFSET)
		zoo_die("unlink/lseek %s: %s", path, strerror(errno));
	zoo_ready();
	for (;;) {
		if (zoo_verify_requested()) {
			struct stat st;
			off_t pos = lseek(fd, 0, SEEK_CUR);
			size_t bad = SIZE_MAX;

			++seq;
			if (fstat(fd, &st) < 0) {
				zoo_check(false, "fstat: %s", strerror(errno));
			} else {
				zoo_check(st.st_nlink == 0, "the file has %lu links, expected none (deleted)",
					  (unsigned long)st.st_nlink);
				zoo_check((size_t)st.st_size == size, "the file has %lld bytes, expected %zu",
					  (long long)st.st_size, size);
			}
			zoo_check(pos == OFFSET, "file offset is %lld, expected %d", (long long)pos, OFFSET);
			for (done = 0; done < size && bad == SIZE_MAX;) {
				ssize_t n = pread(fd, buf, sizeof(buf), (off_t)done);

				if (n < 0 && errno == EINTR)
					continue;
				if (!zoo_check(n > 0, "read at %zu: %s", done,
					       n < 0 ? strerror(errno) : "end of file"))
					break;
				for (ssize_t i = 0; i < n; i++)
					if (buf[i] != pattern(done + (size_t)i)) {
						bad = done + (size_t)i;
						break;
					}
				done += (size_t)n;
			}
			zoo_check(bad == SIZE_MAX, "content differs at byte %zu", bad);
			zoo_finish("seq %u size %zu", seq, size);
		}
		zoo_sleep_ms(50);
	}
}
