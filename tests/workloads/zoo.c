/* Shared plumbing of the checkpoint/restore workloads: see zoo.h. */
#include "zoo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_name = "workload";
static const char *g_dir = ".";
static volatile sig_atomic_t g_verify;
static char g_failure[512];

static void on_usr1(int sig)
{
	(void)sig;
	g_verify = 1;
}

void zoo_init(const char *name, int argc, char **argv)
{
	struct sigaction sa;

	g_name = name;
	if (argc < 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: %s DIR [ARGS...]\n", name);
		exit(2);
	}
	g_dir = argv[1];
	/* only what the workload opens itself: no fd of whoever started it */
	close_range(3, ~0U, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1; /* no SA_RESTART: blocking calls return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		zoo_die("sigaction(SIGUSR1): %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

const char *zoo_dir(void)
{
	return g_dir;
}

void zoo_path(char *buf, size_t size, const char *suffix)
{
	int n;

	if (suffix[0] == '/')
		n = snprintf(buf, size, "%s%s", g_dir, suffix);
	else
		n = snprintf(buf, size, "%s/%s.%s", g_dir, g_name, suffix);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "%s: path too long under %s\n", g_name, g_dir);
		exit(2);
	}
}

/* Write text to DIR/NAME.SUFFIX through a temporary name and rename(). */
static int write_file_atomic(const char *suffix, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd, rc = 0;

	zoo_path(path, sizeof(path), suffix);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (zoo_write_all(fd, text, strlen(text)) < 0)
		rc = -1;
	if (close(fd) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	return rc;
}

void zoo_ready(void)
{
	char line[32];

	snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (write_file_atomic("ready", line) < 0)
		zoo_die("cannot write the ready file: %s", strerror(errno));
}

void zoo_setup_done(void)
{
	if (zoo_failed())
		zoo_finish("-");
	else
		zoo_ready();
}

bool zoo_verify_requested(void)
{
	if (!g_verify)
		return false;
	g_verify = 0;
	return true;
}

int64_t zoo_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void zoo_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL); /* EINTR: a verification request, handled by the caller */
}

bool zoo_check(bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return true;
	if (g_failure[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(g_failure, sizeof(g_failure), fmt, ap);
		va_end(ap);
		if (g_failure[0] == '\0')
			snprintf(g_failure, sizeof(g_failure), "check failed");
	}
	return false;
}

bool zoo_failed(void)
{
	return g_failure[0] != '\0';
}

bool zoo_take_failure(char *buf, size_t size)
{
	if (g_failure[0] == '\0')
		return false;
	snprintf(buf, size, "%s", g_failure);
	g_failure[0] = '\0';
	return true;
}

void zoo_finish(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (g_failure[0]) {
		snprintf(line, sizeof(line), "FAIL: %s\n", g_failure);
	} else {
		n = snprintf(line, sizeof(line), "ok ");
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		va_end(ap);
		strcat(line, "\n");
	}
	for (char *p = line; *p && p[1]; p++) /* one line */
		if (*p == '\n')
			*p = ' ';
	g_failure[0] = '\0';
	if (write_file_atomic("result", line) < 0)
		fprintf(stderr, "%s: cannot write the result file: %s\n", g_name, strerror(errno));
}

void zoo_die(const char *fmt, ...)
{
	char msg[512], line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", g_name, msg);
	snprintf(line, sizeof(line), "FAIL: %s\n", msg);
	write_file_atomic("result", line);
	exit(1);
}

int zoo_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t zoo_read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	int64_t end = zoo_now_ms() + timeout_ms;
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = end - zoo_now_ms();
		ssize_t n;
		char c;
		int r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			continue;
		n = read(fd, &c, 1);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (c == '\r')
			continue;
		if (c == '\n') {
			buf[len] = '\0';
			return (ssize_t)len;
		}
		if (len + 1 >= size) {
			errno = EMSGSIZE;
			return -1;
		}
		buf[len++] = c;
	}
}

bool zoo_ping(int rfd, int wfd, unsigned seq, int timeout_ms)
{
	char line[128], want[64];
	unsigned got_seq, count;
	ssize_t n;

	snprintf(line, sizeof(line), "ping %u\n", seq);
	if (zoo_write_all(wfd, line, strlen(line)) < 0)
		return zoo_check(false, "sending ping %u: %s", seq, strerror(errno));
	n = zoo_read_line(rfd, line, sizeof(line), timeout_ms);
	if (!zoo_check(n >= 0, "no answer to ping %u: %s", seq, strerror(errno)))
		return false;
	snprintf(want, sizeof(want), "pong %u ", seq);
	if (!zoo_check(strncmp(line, want, strlen(want)) == 0, "ping %u answered with '%s'", seq, line))
		return false;
	if (!zoo_check(sscanf(line, "pong %u %u", &got_seq, &count) == 2, "ping %u answered with '%s'", seq,
		       line))
		return false;
	return zoo_check(count == seq, "ping %u: the peer counted %u pings ('%s')", seq, count, line);
}

int zoo_pong(int fd, unsigned *count, int timeout_ms)
{
	char line[128];
	unsigned seq;
	ssize_t n;

	n = zoo_read_line(fd, line, sizeof(line), timeout_ms);
	if (n < 0)
		return errno == ETIMEDOUT ? 0 : -1;
	if (sscanf(line, "ping %u", &seq) != 1)
		snprintf(line, sizeof(line), "pong 0 bad line\n");
	else if (seq != *count + 1)
		snprintf(line, sizeof(line), "pong %u bad expected %u\n", seq, *count + 1);
	else
		snprintf(line, sizeof(line), "pong %u %u\n", seq, ++*count);
	return zoo_write_all(fd, line, strlen(line)) == 0 ? 1 : -1;
}
