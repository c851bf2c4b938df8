/* SPDX-License-Identifier: MIT */
/* Unit tests: message framing on a SOCK_SEQPACKET socket (swrk.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "internal.h"

static int pair[2];

static int setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair);
}

static int teardown(void **state)
{
	(void)state;
	if (pair[0] >= 0)
		close(pair[0]);
	if (pair[1] >= 0)
		close(pair[1]);
	return 0;
}

static void send_with_fds(int sk, const void *data, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		if (!c) {
			fail_msg("no room for the control message");
			return;
		}
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(sk, &mh, 0), (ssize_t)len);
}

static void test_roundtrip(void **state)
{
	const uint8_t msg[] = { 0x08, 0x0a, 0x10, 0x01 };
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = 7;

	(void)state;
	assert_int_equal(crpc__msg_send(pair[1], msg, sizeof(msg), NULL), 0);
	assert_int_equal(crpc__msg_recv(pair[0], 1024, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	assert_int_equal(len, sizeof(msg));
	assert_memory_equal(buf, msg, sizeof(msg));
	assert_int_equal(fd, -1);
	free(buf);
}

static void test_records_stay_separate(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	assert_int_equal(crpc__msg_send(pair[1], (const uint8_t *)"abc", 3, NULL), 0);
	assert_int_equal(crpc__msg_send(pair[1], (const uint8_t *)"defgh", 5, NULL), 0);
	assert_int_equal(crpc__msg_recv(pair[0], 1024, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "abc", 3);
	free(buf);
	assert_int_equal(crpc__msg_recv(pair[0], 1024, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "defgh", 5);
	free(buf);
}

static void test_oversize_refused_then_next_ok(void **state)
{
	uint8_t big[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1, p[2];
	crpc_error *err = NULL;
	int before;

	(void)state;
	memset(big, 0x5a, sizeof(big));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	before = count_open_fds();
	/* an oversize record carrying an fd: both must be dropped */
	send_with_fds(pair[1], big, sizeof(big), &p[0], 1);
	assert_int_equal(crpc__msg_send(pair[1], (const uint8_t *)"ok", 2, NULL), 0);

	assert_int_equal(crpc__msg_recv(pair[0], 1000, &buf, &len, &fd, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->sys_errno, EMSGSIZE);
	assert_non_null(strstr(err->message, "4096-byte"));
	assert_null(buf);
	assert_int_equal(fd, -1);
	assert_int_equal(count_open_fds(), before); /* the passed fd did not leak */
	crpc_error_free(err);

	assert_int_equal(crpc__msg_recv(pair[0], 1000, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	assert_int_equal(len, 2);
	free(buf);
	close(p[0]);
	close(p[1]);
}

static void test_exactly_max_accepted(void **state)
{
	uint8_t msg[1000];
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	memset(msg, 1, sizeof(msg));
	assert_int_equal(crpc__msg_send(pair[1], msg, sizeof(msg), NULL), 0);
	assert_int_equal(crpc__msg_recv(pair[0], sizeof(msg), &buf, &len, &fd, NULL), CRPC__RECV_OK);
	assert_int_equal(len, sizeof(msg));
	free(buf);
}

static void test_eof_on_close(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	close(pair[1]);
	pair[1] = -1;
	assert_int_equal(crpc__msg_recv(pair[0], 1024, &buf, &len, &fd, NULL), CRPC__RECV_EOF);
	assert_null(buf);
}

static void test_empty_record_is_eof(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	assert_int_equal(send(pair[1], "", 0, 0), 0);
	assert_int_equal(crpc__msg_recv(pair[0], 1024, &buf, &len, &fd, NULL), CRPC__RECV_EOF);
}

static void test_fd_received_cloexec(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1, p[2];
	char c = 0;

	(void)state;
	assert_int_equal(pipe(p), 0); /* deliberately without O_CLOEXEC */
	send_with_fds(pair[1], "pts", 3, &p[1], 1);
	assert_int_equal(crpc__msg_recv(pair[0], 1024, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* it really is the pipe's write end */
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	close(fd);
	close(p[0]);
	close(p[1]);
	free(buf);
}

static void test_extra_fds_closed(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1, p[2], q[2], fds[3];
	int before;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe2(q, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = q[0];
	before = count_open_fds();
	send_with_fds(pair[1], "m", 1, fds, 3);
	assert_int_equal(crpc__msg_recv(pair[0], 1024, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	assert_true(fd >= 0);
	assert_int_equal(count_open_fds(), before + 1); /* one kept, two closed */
	close(fd);
	free(buf);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void *late_sender(void *arg)
{
	(void)arg;
	usleep(200000);
	crpc__msg_send(pair[1], (const uint8_t *)"late", 4, NULL);
	return NULL;
}

static void test_eintr_retried(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	struct itimerval it = { .it_interval = { 0, 20000 }, .it_value = { 0, 20000 } };
	struct itimerval off = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;
	pthread_t th;

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, late_sender, NULL), 0);
	assert_int_equal(crpc__msg_recv(pair[0], 1024, &buf, &len, &fd, NULL), CRPC__RECV_OK);
	setitimer(ITIMER_REAL, &off, NULL);
	pthread_join(th, NULL);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "late", 4);
	free(buf);
}

static void test_send_to_closed_peer(void **state)
{
	crpc_error *err = NULL;

	(void)state;
	close(pair[0]);
	pair[0] = -1;
	/* MSG_NOSIGNAL: an error, not a SIGPIPE that kills us */
	assert_int_equal(crpc__msg_send(pair[1], (const uint8_t *)"x", 1, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->sys_errno, EPIPE);
	crpc_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_stay_separate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_refused_then_next_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exactly_max_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_on_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_record_is_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_received_cloexec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extra_fds_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eintr_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_to_closed_peer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
