/* SPDX-License-Identifier: MIT */
/*
 * docker_api.c - dockerd's HTTP API through libcurl (docker_api.h).
 *
 * libcurl is opened with dlopen() on first use, as libcrypto is: loading
 * it and the libraries it needs takes about 10 ms, which only commands
 * that reach dockerd should pay. It is initialised without TLS (only
 * plain HTTP on a unix socket is spoken), and one easy handle is kept for
 * the process so that its connection serves the next request.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "base/dlib.h"
#include "engines/docker_api.h"
#include "internal.h"

static crpc__dlib libcurl = CRPC__DLIB_INIT("libcurl.so.4");

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_reset)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	char why[256];
	bool tried, ok;
	CURL *h;
} cu;

static pthread_mutex_t cu_lock = PTHREAD_MUTEX_INITIALIZER;

#define LOAD(field, name) CRPC__DLIB_LOAD(&libcurl, cu, field, name)

/* Under cu_lock. */
static bool cu_load(void)
{
	if (cu.tried)
		return cu.ok;
	cu.tried = true;
	LOAD(global_init, "curl_global_init");
	LOAD(easy_init, "curl_easy_init");
	LOAD(easy_setopt, "curl_easy_setopt");
	LOAD(easy_perform, "curl_easy_perform");
	LOAD(easy_getinfo, "curl_easy_getinfo");
	LOAD(easy_reset, "curl_easy_reset");
	LOAD(easy_strerror, "curl_easy_strerror");
	LOAD(slist_append, "curl_slist_append");
	LOAD(slist_free_all, "curl_slist_free_all");
	if (cu.why[0])
		return false;
	/* no TLS to set up: only HTTP on a unix socket is spoken */
	if (cu.global_init(CURL_GLOBAL_NOTHING) != CURLE_OK || !(cu.h = cu.easy_init())) {
		snprintf(cu.why, sizeof(cu.why), "libcurl cannot be initialised");
		return false;
	}
	cu.ok = true;
	return true;
}

bool crpc__docker_api_ready(char *why, size_t whysz)
{
	bool ok;

	pthread_mutex_lock(&cu_lock);
	ok = cu_load();
	if (!ok && why && whysz)
		snprintf(why, whysz, "%s", cu.why);
	pthread_mutex_unlock(&cu_lock);
	return ok;
}

typedef struct sink {
	crpc__buf b;
	bool too_big, nomem;
} sink;

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	sink *s = arg;
	size_t len = size * n;

	if (s->b.len + len > CRPC__DOCKER_REPLY_MAX) {
		s->too_big = true;
		return 0;
	}
	if (crpc__buf_add(&s->b, p, len) < 0) {
		s->nomem = true;
		return 0;
	}
	return len;
}

void crpc__docker_reply_release(crpc__docker_reply *r)
{
	json_decref(r->json);
	r->json = NULL;
}

/* The reply's message: the failure dockerd describes, else its body's first line. */
static void failure_message(crpc__docker_reply *r, const sink *s)
{
	const char *m = json_string_value(json_object_get(r->json, "message"));

	if (m)
		snprintf(r->message, sizeof(r->message), "%s", m);
	else if (s->b.len)
		snprintf(r->message, sizeof(r->message), "%.*s", (int)strcspn(s->b.data, "\r\n"), s->b.data);
	else
		snprintf(r->message, sizeof(r->message), "HTTP status %ld", r->status);
}

/* Under cu_lock: one request on cu.h. CURLE_OK or libcurl's failure; *oserr its errno. */
static CURLcode perform(const char *sock, const char *method, const char *url, const char *body,
			struct curl_slist *hdr, sink *s, long *status, long *oserr)
{
	CURLcode rc;

	cu.easy_reset(cu.h);
	cu.easy_setopt(cu.h, CURLOPT_URL, url);
	cu.easy_setopt(cu.h, CURLOPT_UNIX_SOCKET_PATH, sock);
	/* no other protocol, no redirect, no signals (crpc's own handlers stay) */
	cu.easy_setopt(cu.h, CURLOPT_PROTOCOLS_STR, "http");
	cu.easy_setopt(cu.h, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(cu.h, CURLOPT_CONNECTTIMEOUT, 30L);
	cu.easy_setopt(cu.h, CURLOPT_WRITEFUNCTION, take);
	cu.easy_setopt(cu.h, CURLOPT_WRITEDATA, s);
	if (strcmp(method, "GET") != 0) {
		cu.easy_setopt(cu.h, CURLOPT_POSTFIELDS, body ? body : "");
		cu.easy_setopt(cu.h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
		cu.easy_setopt(cu.h, CURLOPT_CUSTOMREQUEST, method);
	}
	if (hdr)
		cu.easy_setopt(cu.h, CURLOPT_HTTPHEADER, hdr);
	rc = cu.easy_perform(cu.h);
	*status = 0;
	*oserr = 0;
	cu.easy_getinfo(cu.h, CURLINFO_RESPONSE_CODE, status);
	cu.easy_getinfo(cu.h, CURLINFO_OS_ERRNO, oserr);
	return rc;
}

int crpc__docker_api(const char *sock, const char *method, const char *path, json_t *body,
		     crpc__docker_reply *r, crpc_error **err)
{
	char url[1024];
	char *text = NULL;
	struct curl_slist *hdr = NULL;
	sink s = { 0 };
	long oserr = 0;
	CURLcode rc;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if ((size_t)snprintf(url, sizeof(url), "http://docker/" CRPC__DOCKER_API_VERSION "%s", path) >=
	    sizeof(url))
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENAMETOOLONG, "docker", "request too long: %s %s",
				      method, path);
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "docker", "out of memory");
	pthread_mutex_lock(&cu_lock);
	if (!cu_load()) {
		pthread_mutex_unlock(&cu_lock);
		free(text);
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "docker", "cannot load libcurl: %s",
				      cu.why);
	}
	if (text)
		hdr = cu.slist_append(NULL, "Content-Type: application/json");
	rc = perform(sock, method, url, text, hdr, &s, &r->status, &oserr);
	if (hdr)
		cu.slist_free_all(hdr);
	pthread_mutex_unlock(&cu_lock);
	free(text);

	if (rc == CURLE_COULDNT_CONNECT) {
		crpc_error_set(err, CRPC_EXIT_ENV, oserr ? (int)oserr : ECONNREFUSED, "docker",
			       "dockerd does not answer at %s", sock);
		ret = -1;
	} else if (s.too_big) {
		crpc_error_set(err, CRPC_EXIT_FAIL, EFBIG, "docker",
			       "dockerd's answer to %s %s exceeds %u MiB", method, path,
			       CRPC__DOCKER_REPLY_MAX >> 20);
		ret = -1;
	} else if (s.nomem) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "docker", "out of memory");
		ret = -1;
	} else if (rc != CURLE_OK) {
		crpc_error_set(err, CRPC_EXIT_FAIL, oserr ? (int)oserr : EIO, "docker", "%s %s on %s: %s",
			       method, path, sock, cu.easy_strerror(rc));
		ret = -1;
	} else {
		if (s.b.len)
			r->json = json_loadb(s.b.data, s.b.len, 0, NULL);
		if (r->status >= 400)
			failure_message(r, &s);
	}
	crpc__buf_release(&s.b);
	return ret;
}
