/* SPDX-License-Identifier: MIT */
/*
 * call.c - the private directory of one engine call: `criu` (crpc as the
 * shim of that call) and call.json (what the shim needs to know), below
 * the runtime directory, root's and 0700 all the way.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engines/engine.h"
#include "internal.h"

#define CALL_MAX (1u << 20)
#define CMDLINE_MAX 65536

/* A directory that is root's (or ours), no symlink, writable by nobody else. */
static int private_dir(int fd, const char *path, crpc_error **err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory", "cannot stat %s", path);
	if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 0077))
		return crpc_error_set(err, CRPC_EXIT_ENV, EPERM, "call directory",
				      "%s is not a private directory of root's (owner %u, mode %04o)", path,
				      (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Open (making it 0700 when missing) the directory `name` below dirfd. */
static int open_private(int dirfd, const char *name, const char *shown, crpc_error **err)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory", "cannot create %s", shown);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory", "cannot open %s", shown);
	if (private_dir(fd, shown, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* crpc's runtime directory: $CRPC_RUNTIME_DIR, else CRPC__RUNTIME_DIR (absolute, or NULL). */
static const char *runtime_dir(void)
{
	const char *rt = getenv("CRPC_RUNTIME_DIR");

	if (!rt || !*rt)
		rt = CRPC__RUNTIME_DIR;
	return rt[0] == '/' ? rt : NULL;
}

int crpc__runtime_subdir(const char *sub, char *path, size_t size, crpc_error **err)
{
	const char *rt = runtime_dir();
	cleanup_close int rtfd = -1;

	if (!rt)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "call directory",
				      "CRPC_RUNTIME_DIR must be an absolute path, not '%s'",
				      getenv("CRPC_RUNTIME_DIR"));
	if (mkdir(rt, 0700) < 0 && errno != EEXIST)
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory", "cannot create %s", rt);
	rtfd = open(rt, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rtfd < 0)
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory", "cannot open %s", rt);
	if (private_dir(rtfd, rt, err) < 0)
		return -1;
	if (snprintf(path, size, "%s/%s", rt, sub) >= (int)size)
		return crpc_error_set(err, CRPC_EXIT_ENV, ENAMETOOLONG, "call directory",
				      "%s: path too long", rt);
	return open_private(rtfd, sub, path, err);
}

void crpc__runtime_record_name(const char *prefix, const char *path, char *buf, size_t size)
{
	/* room for ".NAME.PID" beside it */
	size_t k = (size_t)snprintf(buf, size, "%s", prefix),
	       max = size < NAME_MAX - 16 ? size : NAME_MAX - 16;

	for (const char *p = path; *p && k + 1 < max; p++)
		buf[k++] = *p == '/' ? '_' : *p;
	buf[k < max ? k : max - 1] = '\0';
}

int crpc__runtime_versions_dir(void)
{
	char path[PATH_MAX];
	crpc_error *e = NULL;
	int fd = crpc__runtime_subdir("versions", path, sizeof(path), &e);

	crpc_error_free(e);
	return fd;
}

#define RECORD_MAX 512

bool crpc__runtime_record_get(const char *name, const char *key, char *value, size_t size)
{
	char line[RECORD_MAX];
	cleanup_close int dfd = crpc__runtime_versions_dir();
	cleanup_close int fd = -1;
	struct stat fs;
	ssize_t n;

	if (dfd < 0 || !key[0] || (fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, line, sizeof(line) - 1);
	if (n <= 0 || fstat(fd, &fs) < 0 || fs.st_uid != geteuid() || (fs.st_mode & 0022))
		return false;
	line[n] = '\0';
	return crpc__runtime_record_parse(line, key, value, size);
}

bool crpc__runtime_record_parse(const char *text, const char *key, char *value, size_t size)
{
	size_t kl = strlen(key);

	if (!kl || strncmp(text, key, kl) != 0 || text[kl] != '\n' || !text[kl + 1] || text[kl + 1] == '\n')
		return false;
	snprintf(value, size, "%.*s", (int)strcspn(text + kl + 1, "\n"), text + kl + 1);
	return true;
}

void crpc__runtime_record_write(const char *name, const void *data, size_t len)
{
	char tmp[NAME_MAX + 1];
	cleanup_close int dfd = crpc__runtime_versions_dir();
	int fd;
	bool ok;

	if (dfd < 0 || (size_t)snprintf(tmp, sizeof(tmp), ".%s.%d", name, (int)getpid()) >= sizeof(tmp))
		return;
	/* a leftover of a killed writer whose PID this is now */
	(void)unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	ok = io_write_full(fd, data, len) == 0;
	if (close(fd) < 0)
		ok = false;
	/* a reader sees the old record or the new one, whole */
	if (!ok || renameat(dfd, tmp, dfd, name) < 0)
		(void)unlinkat(dfd, tmp, 0);
}

void crpc__runtime_record_put(const char *name, const char *key, const char *value)
{
	char text[RECORD_MAX];
	int n;

	if (strchr(key, '\n') || strchr(value, '\n'))
		return;
	n = snprintf(text, sizeof(text), "%s\n%s\n", key, value);
	if (n > 0 && (size_t)n < sizeof(text))
		crpc__runtime_record_write(name, text, (size_t)n);
}

int crpc__engine_call_open(crpc__engine_call *call, json_t *context, crpc_error **err)
{
	char self[PATH_MAX], calls[PATH_MAX], name[32];
	cleanup_free char *text = NULL;
	cleanup_close int callsfd = -1;
	ssize_t n;
	int fd;

	memset(call, 0, sizeof(*call));
	call->dirfd = -1;
	callsfd = crpc__runtime_subdir("calls", calls, sizeof(calls), err);
	if (callsfd < 0)
		return -1;
	crpc__engine_calls_sweep();

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory",
				      "cannot read /proc/self/exe (crpc's own path)");
	self[n] = '\0';

	for (int tries = 0;; tries++) {
		snprintf(name, sizeof(name), "%d-%u", (int)getpid(), (unsigned)tries);
		if (mkdirat(callsfd, name, 0700) == 0)
			break;
		if (errno != EEXIST || tries > 1000)
			return crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory",
					      "cannot create a directory in %s", calls);
	}
	if (snprintf(call->dir, sizeof(call->dir), "%s/%s", calls, name) >= (int)sizeof(call->dir) ||
	    snprintf(call->shim, sizeof(call->shim), "%s/criu", call->dir) >= (int)sizeof(call->shim))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENAMETOOLONG, "call directory",
				      "%s: path too long", calls);
	call->dirfd = openat(callsfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (call->dirfd < 0) {
		int e = errno;

		unlinkat(callsfd, name, AT_REMOVEDIR);
		call->dir[0] = '\0';
		return crpc_error_set(err, CRPC_EXIT_ENV, e, "call directory", "cannot open %s", call->dir);
	}
	if (fchmod(call->dirfd, 0700) < 0 || symlinkat(self, call->dirfd, "criu") < 0) {
		int e = errno;

		crpc__engine_call_close(call);
		return crpc_error_set(err, CRPC_EXIT_ENV, e, "call directory", "cannot set up %s", calls);
	}
	text = json_dumps(context, JSON_COMPACT);
	if (!text) {
		crpc__engine_call_close(call);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "call directory", "out of memory");
	}
	fd = openat(call->dirfd, CRPC__CALL_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || io_write_full(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		crpc__engine_call_close(call);
		return crpc_error_set(err, CRPC_EXIT_ENV, e, "call directory", "cannot write %s/%s", calls,
				      CRPC__CALL_FILE);
	}
	close(fd);
	return 0;
}

/* Remove what the directory dirfd holds, subdirectories (made by the
 * engine's CRIU or the shim, never followed through a symlink) down to
 * `depth` levels. */
static void remove_contents(int dirfd, int depth)
{
	DIR *d = io_opendir_at(dirfd, ".");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0 || errno != EISDIR)
			continue;
		if (depth > 0) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				remove_contents(sub, depth - 1);
				close(sub);
			}
		}
		unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

void crpc__engine_call_close(crpc__engine_call *call)
{
	if (call->dirfd >= 0) {
		remove_contents(call->dirfd, 3);
		close(call->dirfd);
		call->dirfd = -1;
	}
	if (call->dir[0])
		rmdir(call->dir);
	call->dir[0] = '\0';
}

int crpc__engine_call_find(const char *argv0, json_t **context, crpc_error **err)
{
	char dir[PATH_MAX];
	const char *slash;
	cleanup_close int dfd = -1;
	cleanup_close int fd = -1;
	cleanup_free char *text = NULL;
	size_t len = 0;
	struct stat st;
	json_error_t jerr;

	*context = NULL;
	if (!argv0 || argv0[0] != '/' || !(slash = strrchr(argv0, '/')) || strcmp(slash + 1, "criu") != 0)
		return 0;
	if ((size_t)(slash - argv0) >= sizeof(dir) || slash == argv0)
		return 0;
	memcpy(dir, argv0, (size_t)(slash - argv0));
	dir[slash - argv0] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	fd = openat(dfd, CRPC__CALL_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0; /* an ordinary installation of the shim */
	if (private_dir(dfd, dir, err) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0077))
		return crpc_error_set(err, CRPC_EXIT_ENV, EPERM, "call directory",
				      "%s/%s is not a private file of root's", dir, CRPC__CALL_FILE);
	if (crpc__read_file_at(dfd, CRPC__CALL_FILE, CALL_MAX, &text, &len, err) < 0)
		return -1;
	*context = json_loadb(text, len, 0, &jerr);
	if (!*context || !json_is_object(*context)) {
		json_decref(*context);
		*context = NULL;
		return crpc_error_set(err, CRPC_EXIT_ENV, EINVAL, "call directory", "%s/%s: %s", dir,
				      CRPC__CALL_FILE, jerr.text);
	}
	return 1;
}

pid_t crpc__engine_restored_pid(const char *call_dir)
{
	cleanup_close int dfd = call_dir ? open(call_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
					 : -1;
	cleanup_free char *text = NULL;
	size_t len = 0;
	crpc_error *e = NULL;
	long pid;
	char *end;

	if (dfd < 0 || crpc__read_file_at(dfd, CRPC__RESTORED_PID_FILE, 32, &text, &len, &e) < 0) {
		crpc_error_free(e);
		return 0;
	}
	errno = 0;
	pid = strtol(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n') || pid <= 0 || pid > INT32_MAX)
		return 0;
	return (pid_t)pid;
}

/* ---- the shim's side ---- */

struct crpc_shim_call {
	json_t *ctx;
	char *criu;
	char *config;
	char *trace_dir;
	char *pid_file;
	char *dir;
	char **hooks;
	char **request_options;
};

static char **string_list(json_t *a, bool options)
{
	size_t n = json_array_size(a), k = 0, i;
	char **v = calloc(n + 1, sizeof(char *));
	json_t *e;

	if (!v)
		return NULL;
	json_array_foreach(a, i, e) {
		const char *s = options ? json_string_value(json_object_get(e, "name"))
					: json_string_value(e);
		const char *val = options ? json_string_value(json_object_get(e, "value")) : NULL;

		if (!s)
			continue;
		if (options ? asprintf(&v[k], "%s=%s", s, val ? val : "") < 0 : !(v[k] = strdup(s))) {
			v[k] = NULL;
			break;
		}
		k++;
	}
	return v;
}

static void free_list(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

CRPC_API void crpc_shim_call_free(crpc_shim_call *call)
{
	if (!call)
		return;
	json_decref(call->ctx);
	free(call->criu);
	free(call->config);
	free(call->trace_dir);
	free(call->pid_file);
	free(call->dir);
	free_list(call->hooks);
	free_list(call->request_options);
	free(call);
}

CRPC_API int crpc_shim_call_find(const char *argv0, crpc_shim_call **out, crpc_error **err)
{
	json_t *ctx = NULL;
	crpc_shim_call *call;
	const char *criu, *cfg;
	const char *slash;
	int rc;

	*out = NULL;
	rc = crpc__engine_call_find(argv0, &ctx, err);
	if (rc <= 0)
		return rc;
	call = calloc(1, sizeof(*call));
	if (!call) {
		json_decref(ctx);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "call directory", "out of memory");
	}
	call->ctx = ctx;
	criu = json_string_value(json_object_get(ctx, "criu"));
	cfg = json_string_value(json_object_get(ctx, "config"));
	slash = strrchr(argv0, '/');
	call->criu = criu ? strdup(criu) : NULL;
	call->config = cfg ? strdup(cfg) : NULL;
	if (asprintf(&call->trace_dir, "%.*s/traces", (int)(slash - argv0), argv0) < 0)
		call->trace_dir = NULL;
	if (asprintf(&call->pid_file, "%.*s/%s", (int)(slash - argv0), argv0, CRPC__RESTORED_PID_FILE) < 0)
		call->pid_file = NULL;
	call->dir = strndup(argv0, (size_t)(slash - argv0));
	call->hooks = string_list(json_object_get(ctx, "hooks"), false);
	call->request_options = string_list(json_object_get(ctx, "request_options"), true);
	if (!call->criu || !*call->criu || (cfg && !call->config) || !call->trace_dir || !call->pid_file ||
	    !call->dir || !call->hooks || !call->request_options) {
		crpc_shim_call_free(call);
		return crpc_error_set(err, CRPC_EXIT_ENV, EINVAL, "call directory",
				      "%s: call.json names no CRIU, or out of memory", argv0);
	}
	*out = call;
	return 1;
}

CRPC_API const char *crpc_shim_call_criu(const crpc_shim_call *call)
{
	return call->criu;
}

CRPC_API const char *crpc_shim_call_config(const crpc_shim_call *call)
{
	return call->config;
}

CRPC_API char *const *crpc_shim_call_hooks(const crpc_shim_call *call)
{
	return call->hooks;
}

CRPC_API const char *crpc_shim_call_trace_dir(const crpc_shim_call *call)
{
	return call->trace_dir;
}

CRPC_API const char *crpc_shim_call_restored_pid_file(const crpc_shim_call *call)
{
	return call->pid_file;
}

CRPC_API const char *crpc_shim_call_log_dir(const crpc_shim_call *call)
{
	return call->dir;
}

CRPC_API char *const *crpc_shim_call_request_options(const crpc_shim_call *call)
{
	return call->request_options;
}

CRPC_API int crpc_shim_call_setenv(const crpc_shim_call *call)
{
	json_t *env = json_object_get(call->ctx, "env"), *v;
	const char *k;

	json_object_foreach(env, k, v) {
		if (strncmp(k, "CRPC_CONTAINER_", 15) != 0 || !json_is_string(v))
			continue;
		if (setenv(k, json_string_value(v), 1) < 0)
			return -1;
	}
	return 0;
}

int crpc__engine_call_reopen(crpc__engine_call *call, const char *dir, crpc_error **err)
{
	char calls[PATH_MAX];
	cleanup_close int callsfd = -1;
	const char *name;
	size_t n;

	memset(call, 0, sizeof(*call));
	call->dirfd = -1;
	callsfd = crpc__runtime_subdir("calls", calls, sizeof(calls), err);
	if (callsfd < 0)
		return -1;
	n = strlen(calls);
	name = dir + n + 1;
	if (strncmp(dir, calls, n) != 0 || dir[n] != '/' || !*name || strchr(name, '/') ||
	    strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "call directory",
				      "%s is not a call directory of %s", dir, calls);
	call->dirfd = openat(callsfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (call->dirfd < 0)
		return errno == ENOENT ? 1
				       : crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory",
							"cannot open %s", dir);
	if (private_dir(call->dirfd, dir, err) < 0) {
		close(call->dirfd);
		call->dirfd = -1;
		return -1;
	}
	snprintf(call->dir, sizeof(call->dir), "%s", dir);
	snprintf(call->shim, sizeof(call->shim), "%.*s/criu", (int)(sizeof(call->shim) - 6), dir);
	return 0;
}

/* Whether the directory fd holds only what a call's setup makes: criu, call.json, an empty traces/. */
static bool setup_only(int fd)
{
	DIR *d = io_opendir_at(fd, ".");
	struct dirent *de;
	bool only = d != NULL;

	while (only && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "criu") == 0 || strcmp(de->d_name, CRPC__CALL_FILE) == 0)
			continue;
		if (strcmp(de->d_name, "traces") == 0) {
			int t = openat(fd, "traces", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			DIR *td = t >= 0 ? io_opendir_at(t, ".") : NULL;
			struct dirent *te;

			while (td && (te = readdir(td)))
				if (strcmp(te->d_name, ".") != 0 && strcmp(te->d_name, "..") != 0)
					only = false;
			if (td)
				closedir(td);
			if (t >= 0)
				close(t);
			if (!td)
				only = false;
			continue;
		}
		only = false;
	}
	if (d)
		closedir(d);
	return only;
}

/*
 * A process other than crpc itself whose command line names the call
 * directory (the engine's CLI, its runtime, the shim) or Docker's
 * checkpoint name of the call: its PID, or 0.
 */
pid_t crpc__engine_call_busy(const char *call_dir)
{
	const char *base = strrchr(call_dir, '/');
	char dockname[300];
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		return 0;
	snprintf(dockname, sizeof(dockname), "crpc-%s", base ? base + 1 : call_dir);
	while (!found && (de = readdir(d))) {
		char path[64];
		cleanup_free uint8_t *data = NULL;
		size_t len = 0;
		char *text;
		long pid = strtol(de->d_name, &text, 10);

		if (pid <= 0 || *text || pid == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		if (crpc__read_whole_at(AT_FDCWD, path, CMDLINE_MAX, &data, &len) < 0 || !len)
			continue;
		text = (char *)data;
		for (size_t i = 0; i + 1 < len; i++)
			if (!text[i])
				text[i] = ' ';
		text[len - 1] = '\0';
		if (strstr(text, call_dir) || strstr(text, dockname))
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

void crpc__engine_calls_sweep(void)
{
	const char *rt = runtime_dir();
	char calls[PATH_MAX];
	cleanup_close int callsfd = -1;
	DIR *d;
	struct dirent *de;

	/* never creates the runtime directory: nothing to sweep where there is none */
	if (!rt || snprintf(calls, sizeof(calls), "%s/calls", rt) >= (int)sizeof(calls))
		return;
	callsfd = open(calls, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (callsfd < 0 || private_dir(callsfd, calls, NULL) < 0 || !(d = io_opendir_at(callsfd, ".")))
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int fd;

		/* PID-N of a crpc that no longer runs */
		if (pid <= 0 || pid > INT32_MAX || *end != '-' || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		fd = openat(callsfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (private_dir(fd, de->d_name, NULL) == 0 && setup_only(fd)) {
			char path[PATH_MAX + 300];

			/* an engine a killed crpc started may not have reached the shim yet */
			snprintf(path, sizeof(path), "%s/%s", calls, de->d_name);
			if (crpc__engine_call_busy(path) > 0) {
				close(fd);
				continue;
			}
			(void)unlinkat(fd, "criu", 0);
			(void)unlinkat(fd, CRPC__CALL_FILE, 0);
			(void)unlinkat(fd, "traces", AT_REMOVEDIR);
			(void)unlinkat(callsfd, de->d_name, AT_REMOVEDIR);
		}
		close(fd);
	}
	closedir(d);
}
