/*
 * zoo_peer DIR MODE [CMD ARGS...]: the far end of a workload's connection,
 * a process outside the checkpointed tree.
 *
 *   tcp    listen on 127.0.0.1 (port written to DIR/peer.port), accept one
 *          connection and answer pings (see zoo_pong) until it breaks
 *   unix   the same on the UNIX stream socket DIR/peer.sock
 *   pipe   run CMD with its stdout on a pipe (CMD in a session of its own)
 *          and append every line read from the pipe to DIR/peer.lines;
 *          keeps reading after end of file, in case a writer comes back
 *
 * What happened to the connection is appended to DIR/peer.log. Runs until
 * killed.
 */
#include "zoo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void peer_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void peer_log(const char *fmt, ...)
{
	char path[PATH_MAX], line[512];
	va_list ap;
	int fd, n;

	zoo_path(path, sizeof(path), "log");
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		zoo_write_all(fd, line, (size_t)n);
		close(fd);
	}
}

static void serve(int lfd)
{
	unsigned count = 0;
	int fd;

	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		zoo_die("accept: %s", strerror(errno));
	peer_log("accepted");
	for (;;) {
		int r = zoo_pong(fd, &count, 1000);

		if (r < 0) {
			peer_log("connection broken after %u pings: %s", count, strerror(errno));
			break;
		}
		if (r > 0)
			peer_log("answered ping %u", count);
	}
	close(fd);
	for (;;)
		pause();
}

static void serve_tcp(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char path[PATH_MAX], tmp[PATH_MAX + 8], text[32];
	int lfd, fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		zoo_die("tcp listener: %s", strerror(errno));
	zoo_path(path, sizeof(path), "port");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(text, sizeof(text), "%u\n", ntohs(sa.sin_port));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || zoo_write_all(fd, text, strlen(text)) < 0 || close(fd) < 0 || rename(tmp, path) < 0)
		zoo_die("writing %s: %s", path, strerror(errno));
	serve(lfd);
}

static void serve_unix(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX];
	int lfd;

	zoo_path(path, sizeof(path), "sock");
	if (strlen(path) >= sizeof(sa.sun_path))
		zoo_die("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0)
		zoo_die("unix listener %s: %s", path, strerror(errno));
	serve(lfd);
}

static void run_pipe(char **cmd)
{
	char path[PATH_MAX], buf[4096];
	int p[2], out, eof_logged = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		zoo_die("pipe: %s", strerror(errno));
	zoo_path(path, sizeof(path), "lines");
	out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		zoo_die("%s: %s", path, strerror(errno));
	pid = fork();
	if (pid < 0)
		zoo_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		signal(SIGPIPE, SIG_DFL);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(p[1], STDOUT_FILENO) < 0 || setsid() < 0)
			_exit(127);
		execv(cmd[0], cmd);
		fprintf(stderr, "zoo_peer: exec %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	peer_log("started %s as %ld", cmd[0], (long)pid);
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof(buf));

		while (waitpid(-1, NULL, WNOHANG) > 0) /* the checkpointed child ends */
			;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			zoo_die("read: %s", strerror(errno));
		if (n == 0) {
			if (!eof_logged)
				peer_log("end of file: no writer left");
			eof_logged = 1;
			zoo_sleep_ms(50);
			continue;
		}
		if (eof_logged)
			peer_log("a writer is back");
		eof_logged = 0;
		if (zoo_write_all(out, buf, (size_t)n) < 0)
			zoo_die("%s: %s", path, strerror(errno));
	}
}

int main(int argc, char **argv)
{
	zoo_init("peer", argc, argv);
	if (argc >= 3 && strcmp(argv[2], "tcp") == 0)
		serve_tcp();
	else if (argc >= 3 && strcmp(argv[2], "unix") == 0)
		serve_unix();
	else if (argc >= 4 && strcmp(argv[2], "pipe") == 0)
		run_pipe(argv + 3);
	fprintf(stderr, "usage: zoo_peer DIR tcp|unix|pipe CMD [ARGS...]\n");
	return 2;
}
