/*
 * tcp_ext DIR PORT: one end of an established TCP connection whose other
 * end, zoo_peer (started by the test, outside the tree), listens on
 * 127.0.0.1:PORT. On SIGUSR1: "ping N" out, "pong N N" back (both sides
 * check the sequence), and the connection's addresses are unchanged.
 */
#include "zoo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, local0, local, peer;
	socklen_t len;
	unsigned seq = 0;
	int fd;

	zoo_init("tcp_ext", argc, argv);
	if (argc < 3)
		zoo_die("usage: tcp_ext DIR PORT");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		zoo_die("connect to port %s: %s", argv[2], strerror(errno));
	len = sizeof(local0);
	getsockname(fd, (struct sockaddr *)&local0, &len);
	zoo_ping(fd, fd, ++seq, 3000); /* the connection works before anything else */
	if (zoo_failed())
		zoo_finish("-");
	zoo_ready();
	for (;;) {
		if (zoo_verify_requested()) {
			len = sizeof(local);
			getsockname(fd, (struct sockaddr *)&local, &len);
			len = sizeof(peer);
			getpeername(fd, (struct sockaddr *)&peer, &len);
			zoo_check(local.sin_port == local0.sin_port && peer.sin_port == sa.sin_port,
				  "the connection's ports changed: %u->%u, was %u->%u", ntohs(local.sin_port),
				  ntohs(peer.sin_port), ntohs(local0.sin_port), ntohs(sa.sin_port));
			++seq;
			zoo_ping(fd, fd, seq, 3000);
			zoo_finish("seq %u port %u->%u", seq, ntohs(local.sin_port), ntohs(peer.sin_port));
		}
		zoo_sleep_ms(50);
	}
}
