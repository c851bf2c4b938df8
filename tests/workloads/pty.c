/*
 * pty DIR: runs on a pty in a session that is not its own (zoo_pty_session,
 * outside the tree, is the session leader and holds the master). On SIGUSR1:
 * stdin, stdout and stderr are a terminal, it is the controlling terminal
 * (/dev/tty opens), the process is still no session leader and is in the
 * terminal's foreground process group, and a "ping N" written to the
 * terminal is answered "pong N N" by whoever holds the master.
 */
#include "zoo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void check_tty(void)
{
	int fd;

	zoo_check(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO),
		  "stdin, stdout and stderr are not all a terminal");
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	zoo_check(fd >= 0, "no controlling terminal: /dev/tty: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	zoo_check(getsid(0) != getpid(), "the process leads its own session");
	zoo_check(tcgetpgrp(STDIN_FILENO) == getpgrp(),
		  "not in the terminal's foreground group (%ld, own %ld)", (long)tcgetpgrp(STDIN_FILENO),
		  (long)getpgrp());
}

int main(int argc, char **argv)
{
	unsigned seq = 0;

	zoo_init("pty", argc, argv);
	check_tty();
	zoo_setup_done();
	for (;;) {
		if (zoo_verify_requested()) {
			++seq;
			check_tty();
			if (!zoo_failed()) {
				tcflush(STDIN_FILENO, TCIFLUSH);
				zoo_ping(STDIN_FILENO, STDOUT_FILENO, seq, 3000);
			}
			zoo_finish("seq %u sid %ld pgrp %ld tty %s", seq, (long)getsid(0), (long)getpgrp(),
				   ttyname(STDIN_FILENO) ? ttyname(STDIN_FILENO) : "?");
		}
		zoo_sleep_ms(50);
	}
}
