/* SPDX-License-Identifier: MIT */
/*
 * test_docker_api.c - dockerd's API client (engines/docker_api.c) against a
 * responder of the test's own on a unix socket: what a real dockerd cannot
 * be made to answer (a failure with a body that is no JSON, a chunked
 * reply, a reply past the size limit), a request's method, path and body,
 * one connection kept for several requests, and no listener at all.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "engines/docker_api.h"
#include "internal.h"

static struct {
	char dir[64];
	char sock[100];
	int lfd;
	pthread_t thread;
	pthread_mutex_t lock;
	const char *reply; /* the next answer's head and body, sent as is */
	size_t big;        /* else: a 200 reply of this many body bytes */
	char request[4096];
	unsigned accepts;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* One request (head and Content-Length body) into srv.request; false at the end of the connection. */
static bool read_request(int fd)
{
	char buf[sizeof(srv.request)];
	size_t len = 0, want = 0;
	char *end = NULL;

	while (!end || len < want) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "Content-Length:");

			want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
		}
	}
	pthread_mutex_lock(&srv.lock);
	memcpy(srv.request, buf, len + 1);
	pthread_mutex_unlock(&srv.lock);
	return true;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		/* no SIGPIPE when the client hangs up early */
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void *serve(void *arg)
{
	int cfd;

	(void)arg;
	while ((cfd = accept(srv.lfd, NULL, NULL)) >= 0) {
		pthread_mutex_lock(&srv.lock);
		srv.accepts++;
		pthread_mutex_unlock(&srv.lock);
		while (read_request(cfd)) {
			if (srv.big) {
				char head[128];
				char *body = malloc(srv.big);

				snprintf(head, sizeof(head),
					 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", srv.big);
				write_all(cfd, head, strlen(head));
				if (body) {
					memset(body, ' ', srv.big);
					write_all(cfd, body, srv.big);
					free(body);
				}
			} else {
				write_all(cfd, srv.reply, strlen(srv.reply));
			}
		}
		close(cfd);
	}
	return NULL;
}

static int setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	(void)state;
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/crpc-dockerapi.XXXXXX");
	if (!mkdtemp(srv.dir))
		return -1;
	snprintf(srv.sock, sizeof(srv.sock), "%s/docker.sock", srv.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", srv.sock);
	srv.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(srv.lfd, 4) < 0)
		return -1;
	return pthread_create(&srv.thread, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	shutdown(srv.lfd, SHUT_RDWR);
	pthread_join(srv.thread, NULL);
	close(srv.lfd);
	unlink(srv.sock);
	rmdir(srv.dir);
	return 0;
}

/* The next answer, as is. */
static void answer_raw(const char *reply)
{
	srv.big = 0;
	srv.reply = reply;
}

/* The next answer: status line STATUS, body with its Content-Length. */
static void answer(const char *status, const char *body)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", status,
		 strlen(body), body);
	answer_raw(buf);
}

static void skip_without_libcurl(void)
{
	char why[256] = "";

	if (!crpc__docker_api_ready(why, sizeof(why))) {
		print_message("no libcurl: %s\n", why);
		skip();
	}
}

static void test_success_json(void **state)
{
	crpc__docker_reply r;
	crpc_error *err = NULL;

	(void)state;
	skip_without_libcurl();
	answer("200 OK", "{\"Version\":\"20.10\",\"Id\":\"abc123\"}");
	assert_int_equal(crpc__docker_api(srv.sock, "GET", "/containers/web/json", NULL, &r, &err), 0);
	assert_null(err);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "Id")), "abc123");
	assert_string_equal(r.message, "");
	crpc__docker_reply_release(&r);
	assert_non_null(
		strstr(srv.request, "GET /" CRPC__DOCKER_API_VERSION "/containers/web/json HTTP/1.1"));
}

static void test_failures(void **state)
{
	crpc__docker_reply r;
	crpc_error *err = NULL;

	(void)state;
	skip_without_libcurl();
	/* dockerd's own form: {"message": ...} */
	answer("404 Not Found", "{\"message\":\"No such container: nosuch\"}");
	assert_int_equal(crpc__docker_api(srv.sock, "GET", "/containers/nosuch/json", NULL, &r, &err), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.message, "No such container: nosuch");
	crpc__docker_reply_release(&r);
	/* a body that is no JSON: its first line */
	answer("500 Internal Server Error", "something broke\nmore");
	assert_int_equal(crpc__docker_api(srv.sock, "POST", "/containers/x/start", NULL, &r, &err), 0);
	assert_int_equal(r.status, 500);
	assert_null(r.json);
	assert_string_equal(r.message, "something broke");
	crpc__docker_reply_release(&r);
	/* no body at all: the status */
	answer("409 Conflict", "");
	assert_int_equal(crpc__docker_api(srv.sock, "DELETE", "/containers/x", NULL, &r, &err), 0);
	assert_string_equal(r.message, "HTTP status 409");
	crpc__docker_reply_release(&r);
	assert_null(err);
}

static void test_post_body_and_chunks(void **state)
{
	crpc__docker_reply r;
	crpc_error *err = NULL;
	json_t *body = json_pack("{s:s, s:b}", "CheckpointID", "crpc-1-0", "Exit", 1);

	(void)state;
	skip_without_libcurl();
	/* Go's server sends a reply it did not hold whole in chunks */
	answer_raw("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "7\r\n{\"Id\":\"\r\n8\r\nnew-id\"}\r\n0\r\n\r\n");
	assert_int_equal(crpc__docker_api(srv.sock, "POST", "/containers/create?name=web2", body, &r, &err),
			 0);
	json_decref(body);
	assert_null(err);
	assert_int_equal(r.status, 201);
	assert_string_equal(json_string_value(json_object_get(r.json, "Id")), "new-id");
	crpc__docker_reply_release(&r);
	assert_non_null(
		strstr(srv.request, "POST /" CRPC__DOCKER_API_VERSION "/containers/create?name=web2 "));
	assert_non_null(strstr(srv.request, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(srv.request, "\r\n\r\n{\"CheckpointID\":\"crpc-1-0\",\"Exit\":true}"));
}

static void test_connection_kept(void **state)
{
	crpc__docker_reply r;
	crpc_error *err = NULL;
	unsigned before;

	(void)state;
	skip_without_libcurl();
	answer("200 OK", "{}");
	assert_int_equal(crpc__docker_api(srv.sock, "GET", "/version", NULL, &r, &err), 0);
	crpc__docker_reply_release(&r);
	pthread_mutex_lock(&srv.lock);
	before = srv.accepts;
	pthread_mutex_unlock(&srv.lock);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(crpc__docker_api(srv.sock, "GET", "/version", NULL, &r, &err), 0);
		assert_int_equal(r.status, 200);
		crpc__docker_reply_release(&r);
	}
	pthread_mutex_lock(&srv.lock);
	assert_int_equal(srv.accepts, before);
	pthread_mutex_unlock(&srv.lock);
	assert_null(err);
}

static void test_too_big(void **state)
{
	crpc__docker_reply r;
	crpc_error *err = NULL;

	(void)state;
	skip_without_libcurl();
	srv.big = CRPC__DOCKER_REPLY_MAX + 1;
	assert_int_equal(crpc__docker_api(srv.sock, "GET", "/containers/json?all=1", NULL, &r, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->sys_errno, EFBIG);
	assert_int_equal(err->exit_class, CRPC_EXIT_FAIL);
	crpc_error_free(err);
	srv.big = 0;
}

static void test_no_daemon(void **state)
{
	crpc__docker_reply r;
	crpc_error *err = NULL;
	char path[160];

	(void)state;
	skip_without_libcurl();
	snprintf(path, sizeof(path), "%s/none.sock", srv.dir);
	assert_int_equal(crpc__docker_api(path, "GET", "/version", NULL, &r, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->exit_class, CRPC_EXIT_ENV);
	assert_int_equal(err->sys_errno, ENOENT);
	assert_non_null(strstr(err->message, "dockerd does not answer at"));
	crpc_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_json),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_post_body_and_chunks),
		cmocka_unit_test(test_connection_kept),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_no_daemon),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
