/* SPDX-License-Identifier: MIT */
/*
 * exec.c - running an engine's CLI: stdout captured whole (bounded), the
 * tail of stderr kept for the error message, stdin /dev/null.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engines/engine.h"
#include "internal.h"

extern char **environ;

#define OUT_MAX (16u << 20)
#define ERR_KEEP 4096u

bool crpc__engine_cli(const char *envvar, const char *name, char *buf, size_t size)
{
	const char *v = envvar ? getenv(envvar) : NULL;
	const char *path;
	struct stat st;

	if (v && *v) {
		if (snprintf(buf, size, "%s", v) >= (int)size)
			return false;
		return stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0;
	}
	path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);

		if (len > 0 && (int)len < (int)size &&
		    snprintf(buf, size, "%.*s/%s", (int)len, path, name) < (int)size &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

void crpc__argv_add(crpc__argv *a, const char *s)
{
	if (a->n + 1 >= sizeof(a->v) / sizeof(a->v[0])) {
		a->overflow = true;
		return;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

int crpc__argv_run(const crpc__argv *a, char *const envp[], crpc__cmd_out *out, crpc_error **err)
{
	memset(out, 0, sizeof(*out));
	if (a->overflow || a->n == 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, E2BIG, "run", "command line too long");
	return crpc__cmd_run((char *const *)a->v, envp, out, err);
}

int crpc__argv_run_ok(const crpc__argv *a, char *const envp[], crpc__cmd_out *out, const char *operation,
		      crpc_error **err)
{
	int st = crpc__argv_run(a, envp, out, err);

	if (st < 0)
		return -1;
	if (st != 0) {
		crpc__cmd_fail(err, operation, (char *const *)a->v, st, out);
		crpc__cmd_out_release(out);
		return -1;
	}
	return 0;
}

void crpc__cmd_out_release(crpc__cmd_out *o)
{
	if (!o)
		return;
	free(o->out);
	free(o->err);
	memset(o, 0, sizeof(*o));
}

/* Append what fd has to read into *buf (bounded at max, the rest dropped:
 * keep_tail keeps the last max bytes instead). 1 at EOF. */
static int drain(int fd, char **buf, size_t *len, size_t max, bool keep_tail)
{
	char chunk[8192];
	ssize_t n;

	for (;;) {
		n = io_read(fd, chunk, sizeof(chunk));
		if (n < 0)
			return errno == EAGAIN ? 0 : 1;
		if (n == 0)
			return 1;
		if (keep_tail) {
			size_t keep = *len + (size_t)n > max ? max - ((size_t)n > max ? max : (size_t)n)
							     : *len;
			size_t take = (size_t)n > max ? max : (size_t)n;

			if (keep < *len)
				memmove(*buf, *buf + (*len - keep), keep);
			memcpy(*buf + keep, chunk + ((size_t)n - take), take);
			*len = keep + take;
		} else if (*len < max) {
			size_t take = (size_t)n < max - *len ? (size_t)n : max - *len;

			memcpy(*buf + *len, chunk, take);
			*len += take;
		}
	}
}

static char *trim(char *s, size_t len)
{
	s[len] = '\0';
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

int crpc__cmd_run(char *const argv[], char *const envp[], crpc__cmd_out *o, crpc_error **err)
{
	posix_spawn_file_actions_t fa;
	int op[2] = { -1, -1 }, ep[2] = { -1, -1 };
	size_t olen = 0, elen = 0;
	bool oeof = false, eeof = false, exited = false;
	int status = 0, rc, pidfd = -1;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	o->out = malloc(OUT_MAX + 1);
	o->err = malloc(ERR_KEEP + 1);
	if (!o->out || !o->err) {
		crpc__cmd_out_release(o);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "run", "out of memory");
	}
	if (pipe2(op, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
		int e = errno;

		if (op[0] >= 0) {
			close(op[0]);
			close(op[1]);
		}
		crpc__cmd_out_release(o);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "run", "cannot make a pipe for %s", argv[0]);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	close(op[1]);
	close(ep[1]);
	if (rc != 0) {
		close(op[0]);
		close(ep[0]);
		crpc__cmd_out_release(o);
		return crpc_error_set(err, CRPC_EXIT_ENV, rc, "run", "cannot execute %s", argv[0]);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	/*
	 * Read until both pipes end; a daemon the command leaves behind (conmon)
	 * may hold them open, so once the command itself exited only what is
	 * already there is read.
	 */
	while (!(oeof && eeof)) {
		struct pollfd pf[3];
		nfds_t n = 0;
		int io = -1, ie = -1, ip = -1;

		if (!oeof) {
			pf[n] = (struct pollfd){ .fd = op[0], .events = POLLIN };
			io = (int)n++;
		}
		if (!eeof) {
			pf[n] = (struct pollfd){ .fd = ep[0], .events = POLLIN };
			ie = (int)n++;
		}
		if (!exited && pidfd >= 0) {
			pf[n] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
			ip = (int)n++;
		}
		rc = poll(pf, n, exited ? 0 : (pidfd >= 0 ? -1 : 100));
		if (rc < 0 && errno == EINTR)
			continue;
		if (io >= 0 && (pf[io].revents || exited))
			oeof = drain(op[0], &o->out, &olen, OUT_MAX, false) == 1 || exited;
		if (ie >= 0 && (pf[ie].revents || exited))
			eeof = drain(ep[0], &o->err, &elen, ERR_KEEP, true) == 1 || exited;
		if (!exited && ((ip >= 0 && pf[ip].revents) || pidfd < 0)) {
			pid_t w = waitpid(pid, &status, pidfd >= 0 ? 0 : WNOHANG);

			if (w == pid)
				exited = true;
		}
	}
	close(op[0]);
	close(ep[0]);
	while (!exited) {
		if (waitpid(pid, &status, 0) == pid)
			exited = true;
		else if (errno != EINTR)
			break;
	}
	if (pidfd >= 0)
		close(pidfd);
	o->out[olen] = '\0';
	o->out_len = olen;
	trim(o->err, elen);
	return status;
}

int crpc__cmd_fail(crpc_error **err, const char *operation, char *const argv[], int status,
		   const crpc__cmd_out *o)
{
	char how[64];
	const char *sub = argv[1] ? argv[1] : "";

	/* the subcommand: the first argument that is not an option or its value */
	for (size_t i = 1; argv[i]; i++)
		if (argv[i][0] != '-' && (i == 1 || argv[i - 1][0] != '-' || strchr(argv[i - 1], '='))) {
			sub = argv[i];
			break;
		}
	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "failed");
	return crpc_error_set(err, CRPC_EXIT_FAIL, 0, operation, "%s %s %s%s%s", argv[0], sub, how,
			      o && o->err && o->err[0] ? ": " : "", o && o->err ? o->err : "");
}

/* "dev ino size mtime_sec mtime_nsec" of path, "" when it cannot be read. */
static void file_key(const char *path, char *key, size_t size)
{
	struct stat st;

	key[0] = '\0';
	if (stat(path, &st) == 0)
		snprintf(key, size, "%llu %llu %lld %lld %ld", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
			 (long)st.st_mtim.tv_nsec);
}

void crpc__tool_version(char *const argv[], const char *prefix, char *buf, size_t size)
{
	char key[128], name[NAME_MAX + 1];
	crpc__cmd_out o;
	crpc_error *e = NULL;
	const char *v;
	int st;

	buf[0] = '\0';
	file_key(argv[0], key, sizeof(key));
	crpc__runtime_record_name("", argv[0], name, sizeof(name));
	if (key[0] && crpc__runtime_record_get(name, key, buf, size))
		return;
	st = crpc__cmd_run(argv, NULL, &o, &e);
	crpc_error_free(e);
	if (st < 0)
		return;
	if (st == 0 && (v = strstr(o.out, prefix))) {
		v += strlen(prefix);
		snprintf(buf, size, "%.*s", (int)strcspn(v, " \n"), v);
	}
	crpc__cmd_out_release(&o);
	/* kept for the next operation */
	if (buf[0] && key[0])
		crpc__runtime_record_put(name, key, buf);
}
