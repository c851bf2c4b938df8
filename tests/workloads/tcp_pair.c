/*
 * tcp_pair DIR: both ends of an established TCP connection on loopback,
 * inside the tree. The parent accepted the connection its child made (the
 * listening socket stays open too). On SIGUSR1 the parent sends "ping N"
 * and the child answers "pong N N" (each side checks the other's sequence
 * number); both sides' addresses must be those of the connection made at
 * setup.
 */
#include "zoo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static void addrs(int fd, struct sockaddr_in *local, struct sockaddr_in *peer)
{
	socklen_t len = sizeof(*local);

	memset(local, 0, sizeof(*local));
	memset(peer, 0, sizeof(*peer));
	getsockname(fd, (struct sockaddr *)local, &len);
	len = sizeof(*peer);
	getpeername(fd, (struct sockaddr *)peer, &len);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, local0, peer0, local, peer;
	socklen_t len = sizeof(sa);
	unsigned seq = 0;
	int lfd, cfd, sfd;
	pid_t child;

	zoo_init("tcp_pair", argc, argv);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		zoo_die("listener: %s", strerror(errno));
	child = fork();
	if (child < 0)
		zoo_die("fork: %s", strerror(errno));
	if (child == 0) {
		unsigned count = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(lfd);
		cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			zoo_die("connect: %s", strerror(errno));
		/* answer pings for as long as the connection works */
		while (zoo_pong(cfd, &count, 1000) >= 0)
			;
		zoo_die("child: connection broken after %u pings: %s", count, strerror(errno));
	}
	do
		sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (sfd < 0 && errno == EINTR);
	if (sfd < 0)
		zoo_die("accept: %s", strerror(errno));
	addrs(sfd, &local0, &peer0);
	zoo_ready();
	for (;;) {
		if (zoo_verify_requested()) {
			addrs(sfd, &local, &peer);
			zoo_check(same_addr(&local, &local0) && same_addr(&peer, &peer0),
				  "the connection's addresses changed: port %u->%u, was %u->%u",
				  ntohs(local.sin_port), ntohs(peer.sin_port), ntohs(local0.sin_port),
				  ntohs(peer0.sin_port));
			zoo_check(kill(child, 0) == 0, "the child %ld is gone", (long)child);
			++seq;
			zoo_ping(sfd, sfd, seq, 3000);
			zoo_finish("seq %u port %u->%u", seq, ntohs(local.sin_port), ntohs(peer.sin_port));
		}
		zoo_sleep_ms(50);
	}
}
