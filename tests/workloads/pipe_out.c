/*
 * pipe_out DIR: writes lines to its stdout, a pipe whose reader (zoo_peer
 * pipe, which started it) is outside the tree. One "line N" at setup; on
 * SIGUSR1 "verify N" must be written without error (the test checks that
 * the reader received it, in DIR/peer.lines).
 */
#include "zoo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[64];
	unsigned seq = 0;
	struct stat st;

	zoo_init("pipe_out", argc, argv);
	if (fstat(STDOUT_FILENO, &st) < 0 || !S_ISFIFO(st.st_mode))
		zoo_die("stdout is not a pipe");
	snprintf(line, sizeof(line), "line %u\n", seq);
	if (zoo_write_all(STDOUT_FILENO, line, strlen(line)) < 0)
		zoo_die("write to the pipe: %s", strerror(errno));
	zoo_ready();
	for (;;) {
		if (zoo_verify_requested()) {
			++seq;
			zoo_check(fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode),
				  "stdout is no longer a pipe");
			snprintf(line, sizeof(line), "verify %u\n", seq);
			if (zoo_write_all(STDOUT_FILENO, line, strlen(line)) < 0)
				zoo_check(false, "write to the pipe: %s", strerror(errno));
			zoo_finish("seq %u pipe:[%lu]", seq, (unsigned long)st.st_ino);
		}
		zoo_sleep_ms(50);
	}
}
