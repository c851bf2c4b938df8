/* SPDX-License-Identifier: MIT */
/*
 * shim_version.c - CRIU's VERSION reply, remembered between sessions.
 *
 * runc, podman and go-criu ask for CRIU's version in a session of its own
 * before each checkpoint and restore: a `criu swrk` started, one VERSION
 * request, EOF. Through the shim that costs CRIU's start (15-25 ms) each
 * time for an answer that only changes with the binary. The shim keeps
 * the reply CRIU last gave, byte for byte, in the runtime directory
 * (versions/, root's and 0700), with the identity of the binary it came
 * from (device, inode, size, modification and change times). A VERSION
 * request that comes before any CRIU serves the session is answered with
 * it while the binary is unchanged; anything else, or a record that is
 * not root's, not private or not a successful VERSION reply, goes to
 * CRIU as before. A VERSION without keep_open ends the session, as CRIU
 * ends it (status 0): no CRIU is started ahead for it when it is already
 * waiting as the session begins.
 *
 * File: "crpc-swrk-version 1 DEV INO SIZE MTIME CTIME LEN\n", then the
 * LEN bytes of the reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engines/engine.h"
#include "shim_int.h"

#define MAGIC "crpc-swrk-version 1 "
/* A VERSION reply is a few dozen bytes; the file is read up to this much. */
#define FILE_MAX 4096u

/* The identity of the CRIU binary at path into buf; false if it cannot be read. */
static bool criu_identity(const char *path, char *buf, size_t size)
{
	struct stat st;

	if (!path || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	snprintf(buf, size, "%ju %ju %jd %jd.%09ld %jd.%09ld", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
		 (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		 (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	return true;
}

/* The record's name in versions/: "swrk" and the CRIU path with '/' made '_'. */
static void file_name(const char *criu, char *buf, size_t size)
{
	crpc__runtime_record_name("swrk", criu, buf, size);
}

/* A successful VERSION reply with a version in it. */
static bool is_version_reply(const uint8_t *buf, size_t len)
{
	CriuResp *r = criu_resp__unpack(NULL, len, buf);
	bool ok = r && r->type == CRIU_REQ_TYPE__VERSION && r->success && r->version;

	if (r)
		criu_resp__free_unpacked(r, NULL);
	return ok;
}

bool shim_version_parse(const uint8_t *buf, size_t n, const char *id, size_t *off, size_t *len)
{
	const uint8_t *nl = memchr(buf, '\n', n);
	size_t ml = strlen(MAGIC), idlen = strlen(id), hlen;
	char head[256], *end;
	unsigned long long want;

	if (!nl || (hlen = (size_t)(nl - buf)) >= sizeof(head))
		return false;
	memcpy(head, buf, hlen);
	head[hlen] = '\0';
	/* MAGIC ID LEN: the length in digits alone */
	if (strncmp(head, MAGIC, ml) != 0 || strncmp(head + ml, id, idlen) != 0 || head[ml + idlen] != ' ' ||
	    head[ml + idlen + 1] < '0' || head[ml + idlen + 1] > '9')
		return false;
	errno = 0;
	want = strtoull(head + ml + idlen + 1, &end, 10);
	if (errno || *end || want != n - hlen - 1 || !is_version_reply(nl + 1, (size_t)want))
		return false;
	*off = hlen + 1;
	*len = (size_t)want;
	return true;
}

/* Load the remembered reply into s->version_reply once; false when there is none fit to use. */
static bool load(struct shim *s)
{
	char id[160], name[NAME_MAX + 1];
	uint8_t buf[FILE_MAX + 1];
	struct stat st;
	size_t off, body;
	ssize_t n;
	int dfd, fd;

	if (s->version_tried)
		return s->version_len > 0;
	s->version_tried = true;
	if (!criu_identity(s->cfg->criu_path, id, sizeof(id)) || (dfd = crpc__runtime_versions_dir()) < 0)
		return false;
	file_name(s->cfg->criu_path, name, sizeof(name));
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return false;
	/* written by root alone: the answer goes to root's clients */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022)) {
		close(fd);
		return false;
	}
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0 || (size_t)n > FILE_MAX || !shim_version_parse(buf, (size_t)n, id, &off, &body) ||
	    body > sizeof(s->version_reply))
		return false;
	memcpy(s->version_reply, buf + off, body);
	s->version_len = body;
	return true;
}

bool shim_version_known(struct shim *s)
{
	return load(s);
}

bool shim_version_string(struct shim *s, char *ver, size_t size)
{
	CriuResp *r;
	crpc_version cv;

	if (!load(s) || !(r = criu_resp__unpack(NULL, s->version_len, s->version_reply)))
		return false;
	crpc__version_from_rpc(r->version, &cv);
	criu_resp__free_unpacked(r, NULL);
	crpc_version_format(&cv, ver, size);
	return true;
}

bool shim_version_first(struct shim *s)
{
	uint8_t buf[256];
	ssize_t n;
	CriuReq *req;
	bool version;

	if (!load(s))
		return false;
	do
		n = recv(s->client, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return false;
	req = criu_req__unpack(NULL, (size_t)n, buf);
	version = req && req->type == CRIU_REQ_TYPE__VERSION && !req->keep_open;
	if (req)
		criu_req__free_unpacked(req, NULL);
	return version;
}

void shim_version_remember(struct shim *s, const uint8_t *buf, size_t len)
{
	char id[160], name[NAME_MAX + 1];
	uint8_t rec[FILE_MAX];
	int hl;

	if (len == 0 || len > sizeof(s->version_reply) ||
	    (s->version_len == len && memcmp(s->version_reply, buf, len) == 0) ||
	    !criu_identity(s->cfg->criu_path, id, sizeof(id)))
		return;
	hl = snprintf((char *)rec, sizeof(rec), MAGIC "%s %zu\n", id, len);
	if (hl < 0 || (size_t)hl + len > sizeof(rec))
		return;
	memcpy(rec + hl, buf, len);
	file_name(s->cfg->criu_path, name, sizeof(name));
	crpc__runtime_record_write(name, rec, (size_t)hl + len);
	memcpy(s->version_reply, buf, len);
	s->version_len = len;
	s->version_tried = true;
}
