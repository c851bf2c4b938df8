/* SPDX-License-Identifier: MIT */
/*
 * shim_spare.c - the real CRIU started with the session, before the
 * client's first request.
 *
 * A client starts `criu swrk`, prepares, then sends its request: runc
 * moves the process into the container's cgroups and looks at its fds
 * first (10-15 ms for a restore), go-criu asks for VERSION at once. CRIU
 * itself takes 5-7 ms to start. The shim starts it at once, as the spare,
 * so that both overlap, and takes it for the first request (adopts it)
 * only if it is still the CRIU that request would have started:
 *
 *  - it is alive (it waits for its first message, nothing else);
 *  - it is in the cgroups the shim is in now. runc moves its `criu` into
 *    the container's cgroups before a RESTORE; every cgroup the shim was
 *    moved into since the spare started gets the spare too, as runc would
 *    have done had it started CRIU itself (cgroup v1 hierarchies and v2,
 *    found in /proc/self/mountinfo).
 *
 * Otherwise the spare is killed (SIGKILL: a CRIU that reads EOF prints an
 * error on the client's stderr) and CRIU is started for the request, as
 * without a spare. A session that ends before any request kills it too.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "shim_int.h"

/* /proc/self/cgroup and mountinfo are small; more than this is not read. */
#define CGROUP_FILE_MAX (64u << 10)
#define MOUNTINFO_MAX (4u << 20)

/* A whole /proc file as text (NULL on failure). */
static char *read_proc(const char *path, size_t max)
{
	char *text = NULL;

	return crpc__read_file_at(AT_FDCWD, path, max, &text, NULL, NULL) < 0 ? NULL : text;
}

void shim_spare_start(struct shim *s)
{
	char *cg = read_proc("/proc/self/cgroup", CGROUP_FILE_MAX);

	if (!cg)
		return; /* without the cgroups to compare, no spare */
	if (shim_spawn_criu(s, &s->spare_pid, &s->spare_sk, &s->spare_pidfd) < 0) {
		free(cg);
		return;
	}
	s->spare_cgroups = cg;
	shim_vlog(s, "started %s (pid %d) ahead of the first request", s->cfg->criu_path, (int)s->spare_pid);
}

void shim_spare_discard(struct shim *s)
{
	int status;

	if (s->spare_pid > 0) {
		kill(s->spare_pid, SIGKILL);
		(void)io_waitpid(s->spare_pid, &status, 0);
	}
	if (s->spare_sk >= 0)
		close(s->spare_sk);
	if (s->spare_pidfd >= 0)
		close(s->spare_pidfd);
	s->spare_pid = 0;
	s->spare_sk = -1;
	s->spare_pidfd = -1;
	free(s->spare_cgroups);
	s->spare_cgroups = NULL;
}

/* Whether line (one of /proc/self/cgroup, without its newline) is among the lines of text. */
static bool has_line(const char *text, const char *line, size_t len)
{
	const char *l;
	size_t n;

	for (const char *cur = text; crpc__line_next(&cur, &l, &n);)
		if (n == len && memcmp(l, line, len) == 0)
			return true;
	return false;
}

/* Whether every comma-separated word of want is among those of have. */
static bool all_words_in(const char *want, size_t wlen, const char *have)
{
	for (size_t i = 0; i < wlen;) {
		size_t j = i;
		bool found = false;

		while (j < wlen && want[j] != ',')
			j++;
		for (const char *h = have; *h && !found;) {
			size_t k = strcspn(h, ",");

			found = k == j - i && memcmp(h, want + i, k) == 0;
			h += k;
			if (*h == ',')
				h++;
		}
		if (!found)
			return false;
		i = j + 1;
	}
	return true;
}

/*
 * The directory of cgroup `path` in the hierarchy that has the controllers
 * ctrl ("" for cgroup v2), from mountinfo: a mount of that hierarchy whose
 * root is / or above path. 0, or -1 when there is none.
 */
static int cgroup_dir(const char *mountinfo, const char *ctrl, size_t clen, const char *path, char *out,
		      size_t outsz)
{
	const char *l;
	size_t n;

	for (const char *cur = mountinfo; crpc__line_next(&cur, &l, &n);) {
		crpc__mount m;
		size_t rl;
		bool match;

		if (crpc__mountinfo_parse(l, n, &m) < 0)
			continue; /* ENOMEM too: then the fresh CRIU */
		rl = strcmp(m.root, "/") == 0 ? 0 : strlen(m.root);
		match = clen ? strcmp(m.fstype, "cgroup") == 0 && all_words_in(ctrl, clen, m.super)
			     : strcmp(m.fstype, "cgroup2") == 0;
		match = match && strncmp(path, m.root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0') &&
			(size_t)snprintf(out, outsz, "%s%s", m.mountpoint, path + rl) < outsz;
		crpc__mount_free(&m);
		if (match)
			return 0;
	}
	return -1;
}

/* Write pid into dir/cgroup.procs. */
static int cgroup_enter(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 16], num[24];
	int fd, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path))
		return -1;
	fd = io_openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	snprintf(num, sizeof(num), "%d\n", (int)pid);
	rc = io_write_full(fd, num, strlen(num));
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/*
 * The spare into every cgroup the shim entered since the spare started
 * (each line of /proc/self/cgroup that changed). 0, or -1 with a reason.
 */
static int follow_cgroups(struct shim *s, const char **why)
{
	char *now, *mi;
	size_t n;
	int rc = 0;

	now = read_proc("/proc/self/cgroup", CGROUP_FILE_MAX);
	if (!now) {
		*why = "cannot read /proc/self/cgroup";
		return -1;
	}
	if (strcmp(now, s->spare_cgroups) == 0) {
		free(now);
		return 0;
	}
	mi = read_proc("/proc/self/mountinfo", MOUNTINFO_MAX);
	if (!mi) {
		*why = "cannot read /proc/self/mountinfo";
		free(now);
		return -1;
	}
	for (const char *cur = now, *p; rc == 0 && crpc__line_next(&cur, &p, &n);) {
		/* "HIERARCHY-ID:CONTROLLERS:PATH" */
		const char *c1 = memchr(p, ':', n);
		const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - p)) : NULL;
		char path[PATH_MAX], dir[PATH_MAX];
		size_t plen = c2 ? n - (size_t)(c2 + 1 - p) : 0;

		if (!n || has_line(s->spare_cgroups, p, n))
			continue;
		if (!c2 || plen == 0 || plen >= sizeof(path)) {
			*why = "a line of /proc/self/cgroup that does not parse";
			rc = -1;
			continue;
		}
		memcpy(path, c2 + 1, plen);
		path[plen] = '\0';
		if (cgroup_dir(mi, c1 + 1, (size_t)(c2 - c1 - 1), path, dir, sizeof(dir)) < 0) {
			*why = "a cgroup the shim was moved into is not mounted here";
			rc = -1;
		} else if (cgroup_enter(dir, s->spare_pid) < 0) {
			*why = "cannot move it into the shim's cgroups";
			rc = -1;
		} else {
			shim_vlog(s, "CRIU (pid %d) moved into %s, as the shim was", (int)s->spare_pid, dir);
		}
	}
	free(now);
	free(mi);
	return rc;
}

int shim_spare_adopt(struct shim *s)
{
	const char *why = NULL;
	int status;

	if (s->spare_pid <= 0)
		return -1;
	if (io_waitpid(s->spare_pid, &status, WNOHANG) != 0) {
		s->spare_pid = 0; /* reaped (or not ours) */
		why = "it has ended";
	} else if (follow_cgroups(s, &why) == 0) {
		s->criu_pid = s->spare_pid;
		s->criu_sk = s->spare_sk;
		s->criu_pidfd = s->spare_pidfd;
		s->spare_pid = 0;
		s->spare_sk = -1;
		s->spare_pidfd = -1;
		free(s->spare_cgroups);
		s->spare_cgroups = NULL;
		shim_criu_adopted(s);
		return 0;
	}
	shim_vlog(s, "not using the CRIU started ahead (%s): starting one for the request", why);
	shim_spare_discard(s);
	return -1;
}
