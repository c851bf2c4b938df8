/* SPDX-License-Identifier: MIT */
/*
 * inspect_proc.c - reading and parsing /proc files for the inspection: the
 * hash map it indexes by, bounded reads of /proc files, and the parsers of
 * /proc/PID/stat, /proc/PID/status and /proc/locks (pure, unit tested).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "inspect_int.h"
#include "internal.h"

/* ---- hash map ---------------------------------------------------------------- */

static size_t map_slot(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

static int map_rehash(ins_map *m, size_t ncap)
{
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	uint64_t *nv = calloc(ncap, sizeof(*nv));

	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t s;

		if (!m->keys[i])
			continue;
		s = map_slot(m->keys[i], ncap);
		while (nk[s])
			s = (s + 1) & (ncap - 1);
		nk[s] = m->keys[i];
		nv[s] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
	return 0;
}

int ins_map_put(ins_map *m, uint64_t key, uint64_t val)
{
	size_t s;

	if (!key)
		return 0;
	if ((m->n + 1) * 2 > m->cap && map_rehash(m, m->cap ? m->cap * 2 : 64) < 0)
		return -1;
	s = map_slot(key, m->cap);
	while (m->keys[s] && m->keys[s] != key)
		s = (s + 1) & (m->cap - 1);
	if (!m->keys[s])
		m->n++;
	m->keys[s] = key;
	m->vals[s] = val;
	return 0;
}

bool ins_map_get(const ins_map *m, uint64_t key, uint64_t *val)
{
	size_t s;

	if (!m->cap || !key)
		return false;
	s = map_slot(key, m->cap);
	while (m->keys[s]) {
		if (m->keys[s] == key) {
			if (val)
				*val = m->vals[s];
			return true;
		}
		s = (s + 1) & (m->cap - 1);
	}
	return false;
}

void ins_map_free(ins_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- small helpers -------------------------------------------------------------- */

/*
 * Read from fd into buf until EOF or `room` bytes; with stop_short, also
 * stop after a read that leaves more than 8 KiB of room. Returns the bytes
 * read, or -1 with errno (fd is left open).
 */
static ssize_t read_into(int fd, char *buf, size_t room, bool stop_short)
{
	size_t used = 0;

	while (used < room) {
		ssize_t n = io_read(fd, buf + used, room - used);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		used += (size_t)n;
		/*
		 * /proc files are seq_files: a read stops short only at EOF or
		 * before a record that does not fit; with more room left than
		 * any record takes, a short read was the end.
		 */
		if (stop_short && room - used > 8192)
			break;
	}
	return (ssize_t)used;
}

ssize_t ins_read_at(int dirfd, const char *name, char *buf, size_t bufsz)
{
	ssize_t n;
	int e;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	n = read_into(fd, buf, bufsz ? bufsz - 1 : 0, true);
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/* Read a whole /proc file of unknown size (at most max bytes). */
int ins_read_all_at(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	cleanup_close int fd = io_openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	crpc__buf buf = { 0 };

	*out = NULL;
	if (fd < 0)
		return -1;
	/* bounded: what lies past max is dropped */
	if (crpc__buf_reserve(&buf, 16384) < 0 || crpc__buf_read_fd(&buf, fd, max, true) < 0) {
		int e = errno;

		crpc__buf_release(&buf);
		errno = e;
		return -1;
	}
	*out = buf.data;
	if (len)
		*len = buf.len;
	return 0;
}

int ins_pid_add(pid_t **v, size_t *n, pid_t pid)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == pid)
			return 0;
	if (ARRAY_RESIZE(*v, *n + 1) < 0)
		return -1;
	(*v)[(*n)++] = pid;
	return 0;
}

int ins_strv_addf(char ***v, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = crpc__strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!s)
		return -1;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0) {
			free(s);
			return 0;
		}
	return crpc__strv_push(v, n, s);
}

/* ---- parsers ------------------------------------------------------------------------ */

int ins_parse_stat(const char *buf, ins_stat *out)
{
	const char *lp = strchr(buf, '('), *rp = strrchr(buf, ')'), *p;
	long v[7];

	memset(out, 0, sizeof(*out));
	if (!lp || !rp || rp < lp || rp[1] != ' ' || !rp[2])
		return -1;
	snprintf(out->comm, sizeof(out->comm), "%.*s", (int)(rp - lp - 1), lp + 1);
	p = rp + 2;
	out->state = *p++;
	/* ppid pgrp session tty_nr tpgid flags */
	for (int i = 0; i < 6; i++) {
		char *end;

		if (*p != ' ')
			return -1;
		p++;
		errno = 0;
		v[i] = strtol(p, &end, 10);
		if (end == p)
			return -1;
		if (i == 5)
			v[i] = (long)strtoul(p, &end, 10);
		p = end;
	}
	out->ppid = (pid_t)v[0];
	out->pgid = (pid_t)v[1];
	out->sid = (pid_t)v[2];
	out->tty_nr = (int)v[3];
	out->flags = (unsigned long)v[5];
	return 0;
}

/* Value of "Key:\t..." in status-like text; NULL if absent. */
static const char *status_field(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	const char *p = buf;

	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static uint64_t status_kb(const char *buf, const char *key)
{
	const char *v = status_field(buf, key);

	return v ? strtoull(v, NULL, 10) * 1024 : 0;
}

void ins_parse_status(const char *buf, ins_status *out)
{
	const char *v;

	memset(out, 0, sizeof(*out));
	if ((v = status_field(buf, "State")))
		out->state = *v;
	if ((v = status_field(buf, "PPid")))
		out->ppid = (pid_t)strtol(v, NULL, 10);
	if ((v = status_field(buf, "Threads")))
		out->threads = (unsigned)strtoul(v, NULL, 10);
	if ((v = status_field(buf, "Tgid")))
		out->tgid = (pid_t)strtol(v, NULL, 10);
	if ((v = status_field(buf, "TracerPid")))
		out->tracer_pid = (pid_t)strtol(v, NULL, 10);
	if ((v = status_field(buf, "Kthread")))
		out->kthread = *v == '1';
	if ((v = status_field(buf, "NSpid"))) {
		/* the last number: the PID in the innermost namespace */
		const char *end = strchr(v, '\n');
		const char *last = v;

		if (!end)
			end = v + strlen(v);
		for (const char *q = v; q < end; q++)
			if ((*q == '\t' || *q == ' ') && q + 1 < end && isdigit((unsigned char)q[1]))
				last = q + 1;
		out->ns_pid = (pid_t)strtol(last, NULL, 10);
	}
	out->mem.rss = status_kb(buf, "VmRSS");
	out->mem.anon = status_kb(buf, "RssAnon");
	out->mem.file = status_kb(buf, "RssFile");
	out->mem.shmem = status_kb(buf, "RssShmem");
}

int ins_parse_lock_line(const char *line, crpc_lock_info *l, bool *blocked)
{
	char cls[16], kind[16], mode[16], endbuf[32];
	unsigned maj, min;
	unsigned long long ino, start;
	int pid, n;
	const char *p;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	*blocked = false;
	p = strchr(line, ':');
	if (!p)
		return -1;
	p++;
	while (*p == ' ')
		p++;
	if (strncmp(p, "->", 2) == 0) {
		*blocked = true;
		p += 2;
	}
	n = sscanf(p, "%15s %15s %15s %d %x:%x:%llu %llu %31s", cls, kind, mode, &pid, &maj, &min, &ino,
		   &start, endbuf);
	if (n != 9)
		return -1;
	snprintf(l->lock_class, sizeof(l->lock_class), "%s", cls);
	snprintf(l->kind, sizeof(l->kind), "%s", kind);
	snprintf(l->mode, sizeof(l->mode), "%s", mode);
	l->pid = pid;
	l->dev_major = maj;
	l->dev_minor = min;
	l->inode = ino;
	l->start = start;
	l->end = strcmp(endbuf, "EOF") == 0 ? -1 : (int64_t)strtoll(endbuf, NULL, 10);
	return 0;
}
