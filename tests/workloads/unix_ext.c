/*
 * unix_ext DIR: a UNIX stream socket connected to DIR/peer.sock, where
 * zoo_peer (started by the test, outside the tree) listens. On SIGUSR1:
 * "ping N" out, "pong N N" back, both sides checking the sequence.
 */
#include "zoo.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX];
	unsigned seq = 0;
	int fd;

	zoo_init("unix_ext", argc, argv);
	zoo_path(path, sizeof(path), "/peer.sock");
	if (strlen(path) >= sizeof(sa.sun_path))
		zoo_die("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		zoo_die("connect to %s: %s", path, strerror(errno));
	zoo_ping(fd, fd, ++seq, 3000);
	if (zoo_failed())
		zoo_finish("-");
	zoo_ready();
	for (;;) {
		if (zoo_verify_requested()) {
			++seq;
			zoo_ping(fd, fd, seq, 3000);
			zoo_finish("seq %u", seq);
		}
		zoo_sleep_ms(50);
	}
}
