/* SPDX-License-Identifier: MIT */
/*
 * shim_install.c - crpc put where an engine looks for `criu`, and taken
 * away again: crpc_shim_install(), crpc_shim_uninstall(), and which criu
 * each engine present would run (crpc_shim_engines()).
 *
 * The engines that cannot be given a CRIU per call (dockerd -> containerd
 * -> runc, podman -> runc or conmon -> runc) run the first `criu` on their
 * PATH. A link PREFIX/sbin/criu -> crpc (default /usr/local/sbin, ahead of
 * /usr/sbin in every usual PATH) reaches them all without touching the
 * engine's configuration or restarting it. Everything the install changes
 * is written down in PREFIX/lib/crpc/shim-install.json first-hand (the
 * configuration's former bytes kept beside it), and the uninstall undoes
 * exactly that, leaving alone whatever was changed since.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sha256.h"
#include "crpc/shim.h"
#include "internal.h"

#define OP "shim install"
#define OP_UN "shim uninstall"
#define RECORD_MAX (64 * 1024)
#define CONFIG_MAX (1024 * 1024)
#define ENVIRON_MAX (256 * 1024)
#define MAX_DIRS 8

/* containerd's runc shim puts this in front of the PATH runc gets */
#define CONTAINERD_PATH_DIR "/opt/containerd/bin"

/* ---- small file helpers --------------------------------------------------- */

static bool same_file(const char *a, const char *b)
{
	struct stat x, y;

	return a && b && stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* dst = a followed by b (both fit: the caller checked the lengths). */
static void path_cat(char *dst, size_t sz, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb + 1 > sz) {
		dst[0] = '\0';
		return;
	}
	memcpy(dst, a, la);
	memcpy(dst + la, b, lb + 1);
}

/* The directory part of path into buf ("/" for "/x"). */
static void dir_of(const char *path, char *buf, size_t sz)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n == 0)
		snprintf(buf, sz, "/");
	else
		snprintf(buf, sz, "%.*s", (int)n, path);
}

/* An existing directory crpc may change things in: not a symlink, root's or the caller's, not writable by others. */
static int dir_trusted(const char *path, const char *op, crpc_error **err)
{
	int fd = util_open_private_dir(path, op, "directory", err);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* mkdir -p of path (mode 0755), remembering the directories it made. */
static int make_dirs(const char *path, char made[][PATH_MAX], size_t *n_made, const char *op,
		     crpc_error **err)
{
	char parent[PATH_MAX];
	struct stat st;

	if (lstat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? dir_trusted(path, op, err)
					   : crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op,
							    "%s exists and is not a directory", path);
	if (errno != ENOENT)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot look at %s", path);
	dir_of(path, parent, sizeof(parent));
	if (strcmp(parent, path) != 0 && make_dirs(parent, made, n_made, op, err) < 0)
		return -1;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot create the directory %s", path);
	if (*n_made < MAX_DIRS)
		snprintf(made[(*n_made)++], PATH_MAX, "%s", path);
	return 0;
}

/* Read a small file crpc wrote (a regular file of the caller's, not a symlink). */
static int read_own_file(const char *path, size_t max, char **out, size_t *len, const char *op,
			 crpc_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	*out = NULL;
	if (fd < 0)
		return crpc_error_set(err, errno == ENOENT ? CRPC_EXIT_FAIL : CRPC_EXIT_USAGE, errno, op,
				      "cannot open %s", path);
	if (fstat(fd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return crpc_error_set(err, CRPC_EXIT_USAGE, EPERM, op,
				      "refusing to read %s: not a regular file of this user that only it "
				      "can write",
				      path);
	if ((uint64_t)st.st_size > max)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EFBIG, op, "%s is larger than %zu bytes", path,
				      max);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	n = io_read_full(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		free(buf);
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s", path);
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* Write path as a whole (a temporary file renamed into place) with this mode and owner. */
static int write_file(const char *path, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid,
		      const char *op, crpc_error **err)
{
	char tmp[PATH_MAX];
	int fd, e;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.crpc-XXXXXX", path) >= sizeof(tmp))
		return crpc_error_set(err, CRPC_EXIT_USAGE, ENAMETOOLONG, op, "path too long: %s", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot create a file next to %s",
				      path);
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode & 07777) < 0 || io_write_full(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot put %s in place", path);
	}
	return 0;
}

static int sha256_of(const char *data, size_t len, char hex[65], crpc_error **err)
{
	return crpc__sha256_buffer(data, len, hex, err);
}

/* ---- which criu a PATH leads to ------------------------------------------- */

CRPC_API bool crpc_shim_criu_on_path(const char *path_value, const char *crpc_path, char *buf, size_t bufsz,
				     bool *via_crpc)
{
	const char *p = path_value ? path_value : "";

	if (via_crpc)
		*via_crpc = false;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char cand[PATH_MAX];

		/* an empty or relative entry depends on the engine's cwd: passed over */
		if (n > 0 && p[0] == '/' && n + sizeof("/criu") <= sizeof(cand)) {
			snprintf(cand, sizeof(cand), "%.*s/criu", (int)n, p);
			if (is_executable(cand)) {
				snprintf(buf, bufsz, "%s", cand);
				if (via_crpc)
					*via_crpc = same_file(cand, crpc_path ? crpc_path : "/proc/self/exe");
				return true;
			}
		}
		p += n;
		if (*p == ':')
			p++;
	}
	if (bufsz)
		buf[0] = '\0';
	return false;
}

/* PATH= of a process's environment into buf ("" when it has none). */
static bool proc_path(pid_t pid, char *buf, size_t sz)
{
	char file[64], *env = NULL;
	size_t len = 0;

	buf[0] = '\0';
	snprintf(file, sizeof(file), "/proc/%d/environ", (int)pid);
	if (crpc__read_file_at(AT_FDCWD, file, ENVIRON_MAX, &env, &len, NULL) < 0)
		return false;
	for (size_t i = 0; i < len; i += strlen(env + i) + 1)
		if (strncmp(env + i, "PATH=", 5) == 0) {
			snprintf(buf, sz, "%s", env + i + 5);
			break;
		}
	free(env);
	return true;
}

/* Does the command line of pid have an argument starting with prefix? */
static bool cmdline_has(pid_t pid, const char *prefix)
{
	char file[64], *cmd = NULL;
	size_t len = 0;
	bool found = false;

	snprintf(file, sizeof(file), "/proc/%d/cmdline", (int)pid);
	if (crpc__read_file_at(AT_FDCWD, file, ENVIRON_MAX, &cmd, &len, NULL) < 0)
		return false;
	for (size_t i = 0; i < len && !found; i += strlen(cmd + i) + 1)
		found = strncmp(cmd + i, prefix, strlen(prefix)) == 0;
	free(cmd);
	return found;
}

/* The PIDs of the processes whose comm is name, at most max. */
static size_t procs_named(const char *name, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		char comm[32];
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		crpc__proc_comm((pid_t)pid, comm, sizeof(comm));
		if (strcmp(comm, name) == 0)
			out[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}

static void engine_on_path(crpc_shim_engine *e, const char *path_value)
{
	e->via_crpc = false;
	crpc_shim_criu_on_path(path_value, NULL, e->criu, sizeof(e->criu), &e->via_crpc);
}

CRPC_API size_t crpc_shim_engines(crpc_shim_engine *out, size_t max)
{
	pid_t dockerd[16], ctrd[16];
	size_t n = 0, nd = procs_named("dockerd", dockerd, 16);
	const char *mine = getenv("PATH");
	char path[8192], full[8192 + sizeof(CONTAINERD_PATH_DIR)];

	for (size_t i = 0; i < nd && n < max; i++) {
		crpc_shim_engine *e = &out[n++];
		pid_t pid = dockerd[i];

		memset(e, 0, sizeof(*e));
		snprintf(e->engine, sizeof(e->engine), "docker");
		e->found = true;
		snprintf(e->path_of, sizeof(e->path_of), "dockerd %d's PATH", (int)pid);
		/* dockerd started with --containerd uses a containerd of its own starting */
		if (cmdline_has(pid, "--containerd")) {
			size_t nc = procs_named("containerd", ctrd, 16);

			for (size_t k = 0; k < nc; k++) {
				crpc_task_status ts;

				if (crpc_task_status_read(ctrd[k], &ts) == 0 && ts.ppid == pid)
					continue;
				pid = ctrd[k];
				snprintf(e->path_of, sizeof(e->path_of), "containerd %d's PATH", (int)pid);
				break;
			}
		}
		e->pid = pid;
		proc_path(pid, path, sizeof(path));
		snprintf(full, sizeof(full), "%s:%s", CONTAINERD_PATH_DIR, path);
		engine_on_path(e, full);
	}
	if (nd == 0 && n < max) {
		crpc_shim_engine *e = &out[n++];

		memset(e, 0, sizeof(*e));
		snprintf(e->engine, sizeof(e->engine), "docker");
		snprintf(e->path_of, sizeof(e->path_of), "no dockerd running");
	}
	for (int k = 0; k < 2 && n < max; k++) {
		crpc_shim_engine *e = &out[n++];
		const char *name = k == 0 ? "podman" : "runc";
		char bin[PATH_MAX];

		memset(e, 0, sizeof(*e));
		snprintf(e->engine, sizeof(e->engine), "%s", name);
		snprintf(e->path_of, sizeof(e->path_of), "this PATH");
		/* found: the engine's binary on this PATH */
		for (const char *p = mine ? mine : ""; *p && !e->found;) {
			size_t len = strcspn(p, ":");

			if (len > 0 && p[0] == '/' && len + strlen(name) + 2 <= sizeof(bin)) {
				snprintf(bin, sizeof(bin), "%.*s/%s", (int)len, p, name);
				e->found = is_executable(bin);
			}
			p += len;
			if (*p == ':')
				p++;
		}
		engine_on_path(e, mine ? mine : "");
	}
	return n;
}

/* ---- the configuration ---------------------------------------------------- */

/*
 * text with criu: binary REAL added: after a block `criu:` line, indented as
 * the line after it, else as a new section at the end. NULL when the file's
 * criu: is not a block mapping crpc can add a line to.
 */
static char *config_add_binary(const char *text, size_t len, const char *real)
{
	const char *line = text, *criu_line = NULL, *end = text + len;
	char indent[32] = "  ", entry[PATH_MAX + 64];
	char *out;
	size_t n;

	snprintf(entry, sizeof(entry), "binary: \"%s\"  # crpc shim install\n", real);
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *next = nl ? nl + 1 : end;

		if (strncmp(line, "criu:", 5) == 0) {
			const char *rest = line + 5;

			while (rest < next && (*rest == ' ' || *rest == '\t'))
				rest++;
			if (rest < next && *rest != '#' && *rest != '\n' && *rest != '\r')
				return NULL; /* criu: {...} or a scalar */
			criu_line = next;
			/* the indentation of the section's first entry */
			for (const char *l = next; l < end;) {
				const char *l_nl = memchr(l, '\n', (size_t)(end - l));
				const char *l_next = l_nl ? l_nl + 1 : end;
				size_t ws = strspn(l, " ");

				if (l + ws < l_next && l[ws] != '\n' && l[ws] != '#') {
					if (ws > 0 && ws < sizeof(indent)) {
						memset(indent, ' ', ws);
						indent[ws] = '\0';
					}
					break;
				}
				l = l_next;
			}
			break;
		}
		line = next;
	}
	n = len + strlen(indent) + strlen(entry) + 16;
	out = malloc(n);
	if (!out)
		return NULL;
	if (criu_line) {
		size_t head = (size_t)(criu_line - text);
		bool nl = head > 0 && text[head - 1] == '\n';

		snprintf(out, n, "%.*s%s%s%s%.*s", (int)head, text, nl ? "" : "\n", indent, entry,
			 (int)(len - head), criu_line);
	} else {
		snprintf(out, n, "%.*s%s\ncriu:\n%s%s", (int)len, text,
			 len > 0 && text[len - 1] != '\n' ? "\n" : "", indent, entry);
	}
	return out;
}

/* The configuration's criu: binary (NULL: none) into *binary; 0 when the text parses. */
static int config_binary_of(const char *path, const char *text, size_t len, char **binary, crpc_error **err)
{
	crpc_config c;
	int r;

	crpc_config_init(&c);
	*binary = NULL;
	r = crpc_config_parse(&c, path, text, len, err);
	if (r == 0 && c.criu_binary)
		*binary = strdup(c.criu_binary);
	crpc_config_release(&c);
	return r;
}

/* ---- the record ------------------------------------------------------------ */

typedef struct {
	char prefix[PATH_MAX - 64], sbin[PATH_MAX], link[PATH_MAX], libdir[PATH_MAX], record[PATH_MAX];
	char saved[PATH_MAX], config_saved[PATH_MAX];
} install_paths;

static int paths_of(const char *prefix, install_paths *ip, const char *op, crpc_error **err)
{
	size_t n;

	if (!prefix || prefix[0] != '/')
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, op,
				      "the prefix must be an absolute path: %s", prefix ? prefix : "(none)");
	n = strlen(prefix);
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n >= sizeof(ip->prefix) - 64)
		return crpc_error_set(err, CRPC_EXIT_USAGE, ENAMETOOLONG, op, "prefix too long");
	memcpy(ip->prefix, prefix, n);
	ip->prefix[n] = '\0';
	path_cat(ip->sbin, sizeof(ip->sbin), ip->prefix, "/sbin");
	path_cat(ip->link, sizeof(ip->link), ip->sbin, "/criu");
	path_cat(ip->saved, sizeof(ip->saved), ip->sbin, "/criu.crpc-saved");
	path_cat(ip->libdir, sizeof(ip->libdir), ip->prefix, "/lib/crpc");
	path_cat(ip->record, sizeof(ip->record), ip->libdir, "/shim-install.json");
	path_cat(ip->config_saved, sizeof(ip->config_saved), ip->libdir, "/config.yaml.before-install");
	return 0;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *record_load(const install_paths *ip, const char *op, crpc_error **err)
{
	char *text = NULL;
	size_t len = 0;
	json_error_t je;
	json_t *doc;

	if (read_own_file(ip->record, RECORD_MAX, &text, &len, op, err) < 0)
		return NULL;
	doc = json_loadb(text, len, 0, &je);
	free(text);
	if (!json_is_object(doc) || !jstr(doc, "link") || !jstr(doc, "config")) {
		json_decref(doc);
		crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, op,
			       "%s is not a record crpc shim install wrote", ip->record);
		return NULL;
	}
	return doc;
}

static int record_write(const install_paths *ip, json_t *doc, const char *op, crpc_error **err)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	int r;

	if (!text)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	r = write_file(ip->record, text, strlen(text), 0600, geteuid(), getegid(), op, err);
	free(text);
	return r;
}

/* ---- install --------------------------------------------------------------- */

static bool engine_known(const char *e)
{
	return strcmp(e, "docker") == 0 || strcmp(e, "podman") == 0 || strcmp(e, "runc") == 0;
}

/* The real CRIU when none is given: $CRPC_CRIU, else the first criu on PATH that is neither crpc nor the link. */
static int find_real(const install_paths *ip, const char *crpc_path, char *buf, size_t sz, crpc_error **err)
{
	const char *env = getenv("CRPC_CRIU");
	const char *p = getenv("PATH");

	if (env && *env) {
		snprintf(buf, sz, "%s", env);
		return 0;
	}
	for (p = p ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; *p;) {
		size_t len = strcspn(p, ":");
		char cand[PATH_MAX];

		if (len > 0 && p[0] == '/' && len + 6 <= sizeof(cand)) {
			snprintf(cand, sizeof(cand), "%.*s/criu", (int)len, p);
			if (strcmp(cand, ip->link) != 0 && is_executable(cand) &&
			    !same_file(cand, crpc_path) && !same_file(cand, ip->link)) {
				snprintf(buf, sz, "%s", cand);
				return 0;
			}
		}
		p += len;
		if (*p == ':')
			p++;
	}
	crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, OP, "no real CRIU found on PATH to record");
	if (err && *err)
		crpc_error_set_hint(*err, "name it with --criu PATH (e.g. /usr/sbin/criu)");
	return -1;
}

/* Put the link in place: a new symlink renamed over whatever is at ip->link. */
static int link_create(const install_paths *ip, const char *target, crpc_error **err)
{
	char tmp[PATH_MAX];

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.crpc-new-%d", ip->link, (int)getpid()) >= sizeof(tmp))
		return crpc_error_set(err, CRPC_EXIT_USAGE, ENAMETOOLONG, OP, "path too long");
	unlink(tmp);
	if (symlink(target, tmp) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, OP, "cannot create the symlink %s", tmp);
	if (rename(tmp, ip->link) < 0) {
		int e = errno;

		unlink(tmp);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, OP, "cannot put the symlink %s in place",
				      ip->link);
	}
	return 0;
}

static void result_paths(crpc_shim_install_result *r, const install_paths *ip, const char *config)
{
	snprintf(r->link, sizeof(r->link), "%s", ip->link);
	snprintf(r->record, sizeof(r->record), "%s", ip->record);
	snprintf(r->config, sizeof(r->config), "%s", config);
}

/* Already installed under this prefix: put back a link that went missing, add the engine. */
static int install_again(const crpc_shim_install_params *p, const install_paths *ip, json_t *rec,
			 const char *crpc_path, const char *engine, crpc_shim_install_result *r,
			 crpc_error **err)
{
	json_t *engines = json_object_get(rec, "engines");
	struct stat st;
	bool listed = false;
	size_t i;
	json_t *v;

	snprintf(r->real_criu, sizeof(r->real_criu), "%s",
		 jstr(rec, "real_criu") ? jstr(rec, "real_criu") : "");
	snprintf(r->config, sizeof(r->config), "%s", jstr(rec, "config"));
	snprintf(r->saved, sizeof(r->saved), "%s", jstr(rec, "saved") ? jstr(rec, "saved") : "");
	r->config_action = "kept";
	if (p->config_path && strcmp(p->config_path, r->config) != 0)
		return crpc_error_set(
			err, CRPC_EXIT_USAGE, EEXIST, OP,
			"the shim is already installed under %s with the configuration %s, not %s",
			ip->prefix, r->config, p->config_path);
	if (lstat(ip->link, &st) < 0) {
		if (link_create(ip, crpc_path, err) < 0)
			return -1;
		r->changed = true;
	} else if (!S_ISLNK(st.st_mode) || !same_file(ip->link, crpc_path)) {
		return crpc_error_set(err, CRPC_EXIT_USAGE, EEXIST, OP,
				      "%s was replaced since crpc shim install put crpc there; run crpc shim "
				      "uninstall first",
				      ip->link);
	}
	json_array_foreach(engines, i, v)
		listed |= json_is_string(v) && strcmp(json_string_value(v), engine) == 0;
	if (!listed) {
		if (!json_is_array(engines)) {
			engines = json_array();
			json_object_set_new(rec, "engines", engines);
		}
		json_array_append_new(engines, json_string(engine));
		if (record_write(ip, rec, OP, err) < 0)
			return -1;
		r->changed = true;
	}
	return 0;
}

CRPC_API void crpc_shim_install_params_init(crpc_shim_install_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
}

/* The caller's parameters copied into *own (see crpc__sized_take()); 0 or -1. */
static int take_params(crpc_shim_install_params *own, const crpc_shim_install_params *given, const char *op,
		       crpc_error **err)
{
	crpc_shim_install_params_init(own);
	if (!given)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, op, "no parameters given");
	return crpc__sized_take(own, sizeof(*own), given, CRPC__END_OF(crpc_shim_install_params, force), op,
				"crpc_shim_install_params_init", err);
}

CRPC_API int crpc_shim_install(const crpc_shim_install_params *given, crpc_shim_install_result *r,
			       crpc_error **err)
{
	crpc_shim_install_params own;
	const crpc_shim_install_params *p = &own;
	const char *engine, *config;
	char crpc_path[PATH_MAX], real[PATH_MAX], cfg_dir[PATH_MAX], made[MAX_DIRS][PATH_MAX], hex[65] = "";
	char *text = NULL, *newtext = NULL, *binary = NULL;
	size_t len = 0, n_made = 0, done_dirs;
	bool cfg_exists, link_ours = false, link_there = false, moved = false, cfg_written = false;
	struct stat st, cst;
	install_paths ip;
	json_t *rec = NULL, *dirs;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->config_action = "kept";
	if (take_params(&own, given, OP, err) < 0)
		return -1;
	engine = p->engine ? p->engine : "docker";
	config = p->config_path ? p->config_path : CRPC_SHIM_CONFIG;
	if (!engine_known(engine))
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, OP,
				      "unknown engine '%s' (docker, podman, runc)", engine);
	if (config[0] != '/')
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, OP,
				      "the configuration must be an absolute path: %s", config);
	if (paths_of(p->prefix ? p->prefix : CRPC_SHIM_PREFIX, &ip, OP, err) < 0)
		return -1;
	result_paths(r, &ip, config);
	if (p->crpc_path)
		snprintf(crpc_path, sizeof(crpc_path), "%s", p->crpc_path);
	else if (!realpath("/proc/self/exe", crpc_path))
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, OP, "cannot tell where crpc itself is");

	/* installed before under this prefix */
	if (lstat(ip.record, &st) == 0) {
		rec = record_load(&ip, OP, err);
		if (!rec)
			return -1;
		rc = install_again(p, &ip, rec, crpc_path, engine, r, err);
		json_decref(rec);
		return rc;
	}

	/* what is at PREFIX/sbin/criu now */
	if (lstat(ip.link, &st) == 0) {
		link_there = true;
		link_ours = S_ISLNK(st.st_mode) && same_file(ip.link, crpc_path);
		if (!link_ours && !p->force) {
			char to[PATH_MAX];
			ssize_t k = S_ISLNK(st.st_mode) ? readlink(ip.link, to, sizeof(to) - 1) : -1;

			to[k > 0 ? k : 0] = '\0';
			crpc_error_set(err, CRPC_EXIT_USAGE, EEXIST, OP, "%s exists and is not crpc%s%s%s",
				       ip.link, k > 0 ? " (a symlink to " : "", to, k > 0 ? ")" : "");
			if (err && *err)
				crpc_error_set_hint(
					*err,
					"--force keeps it as %s and crpc shim uninstall puts it back; "
					"or choose another --prefix",
					ip.saved);
			return -1;
		}
	} else if (errno != ENOENT) {
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, OP, "cannot look at %s", ip.link);
	}

	/* the configuration as it is */
	cfg_exists = lstat(config, &cst) == 0;
	if (cfg_exists) {
		if (read_own_file(config, CONFIG_MAX, &text, &len, OP, err) < 0 ||
		    config_binary_of(config, text, len, &binary, err) < 0)
			goto out;
	}

	/* the real CRIU */
	if (binary && p->real_criu && !same_file(binary, p->real_criu)) {
		crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, OP,
			       "%s already names %s as criu: binary, not %s; change it there first", config,
			       binary, p->real_criu);
		goto out;
	}
	if (binary)
		snprintf(real, sizeof(real), "%s", binary);
	else if (p->real_criu)
		snprintf(real, sizeof(real), "%s", p->real_criu);
	else if (find_real(&ip, crpc_path, real, sizeof(real), err) < 0)
		goto out;
	if (real[0] != '/' || !is_executable(real)) {
		crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, OP, "the real CRIU %s is not an executable file",
			       real);
		goto out;
	}
	if (same_file(real, crpc_path)) {
		crpc_error_set(err, CRPC_EXIT_USAGE, ELOOP, OP, "%s is crpc itself, not the real CRIU", real);
		goto out;
	}
	if (link_there && !link_ours && same_file(real, ip.link)) {
		crpc_error_set(err, CRPC_EXIT_USAGE, EEXIST, OP,
			       "%s is the real CRIU itself; install the shim under another --prefix",
			       ip.link);
		goto out;
	}
	if (strchr(real, '"') || strchr(real, '\\') || strchr(real, '\n')) {
		crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, OP,
			       "the real CRIU's path %s has characters crpc "
			       "does not write into a configuration",
			       real);
		goto out;
	}
	snprintf(r->real_criu, sizeof(r->real_criu), "%s", real);

	/* the new configuration, checked before anything changes */
	if (!binary) {
		if (cfg_exists) {
			newtext = config_add_binary(text, len, real);
		} else {
			size_t n = strlen(real) + 160;

			newtext = malloc(n);
			if (newtext)
				snprintf(newtext, n,
					 "# The real CRIU the shim runs (crpc shim install; crpc shim uninstall "
					 "removes this file).\ncriu:\n  binary: \"%s\"\n",
					 real);
		}
		if (newtext) {
			char *check = NULL;
			crpc_error *e2 = NULL;

			if (config_binary_of(config, newtext, strlen(newtext), &check, &e2) < 0 || !check ||
			    strcmp(check, real) != 0) {
				free(newtext);
				newtext = NULL;
			}
			free(check);
			crpc_error_free(e2);
		}
		if (!newtext) {
			crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, OP, "cannot add criu: binary to %s",
				       config);
			if (err && *err)
				crpc_error_set_hint(
					*err, "add it by hand (criu:\\n  binary: %s), then install again",
					real);
			goto out;
		}
	}

	/* make the changes, each undone when a later one fails */
	if (make_dirs(ip.sbin, made, &n_made, OP, err) < 0 ||
	    make_dirs(ip.libdir, made, &n_made, OP, err) < 0)
		goto undo;
	if (newtext) {
		dir_of(config, cfg_dir, sizeof(cfg_dir));
		if (make_dirs(cfg_dir, made, &n_made, OP, err) < 0)
			goto undo;
		if (cfg_exists &&
		    write_file(ip.config_saved, text, len, cst.st_mode, cst.st_uid, cst.st_gid, OP, err) < 0)
			goto undo;
		if (write_file(config, newtext, strlen(newtext), cfg_exists ? cst.st_mode : 0600,
			       cfg_exists ? cst.st_uid : geteuid(), cfg_exists ? cst.st_gid : getegid(), OP,
			       err) < 0 ||
		    sha256_of(newtext, strlen(newtext), hex, err) < 0)
			goto undo;
		cfg_written = true;
		r->config_action = cfg_exists ? "edited" : "created";
	}
	if (link_there && !link_ours) {
		if (rename(ip.link, ip.saved) < 0) {
			crpc_error_set(err, CRPC_EXIT_FAIL, errno, OP, "cannot keep %s as %s", ip.link,
				       ip.saved);
			goto undo;
		}
		moved = true;
		snprintf(r->saved, sizeof(r->saved), "%s", ip.saved);
	}
	if (!link_ours && link_create(&ip, crpc_path, err) < 0)
		goto undo;

	rec = json_object();
	dirs = json_array();
	for (size_t i = 0; i < n_made; i++)
		json_array_append_new(dirs, json_string(made[i]));
	json_object_set_new(rec, "version", json_integer(1));
	json_object_set_new(rec, "engines", json_pack("[s]", engine));
	json_object_set_new(rec, "prefix", json_string(ip.prefix));
	json_object_set_new(rec, "link", json_string(ip.link));
	json_object_set_new(rec, "target", json_string(crpc_path));
	json_object_set_new(rec, "link_was_there", json_boolean(link_ours));
	json_object_set_new(rec, "saved", moved ? json_string(ip.saved) : json_null());
	json_object_set_new(rec, "config", json_string(config));
	json_object_set_new(rec, "config_action", json_string(r->config_action));
	json_object_set_new(rec, "config_saved",
			    cfg_written && cfg_exists ? json_string(ip.config_saved) : json_null());
	json_object_set_new(rec, "config_sha256", cfg_written ? json_string(hex) : json_null());
	json_object_set_new(rec, "real_criu", json_string(real));
	json_object_set_new(rec, "created_dirs", dirs);
	if (record_write(&ip, rec, OP, err) < 0)
		goto undo;
	r->changed = moved || !link_ours || cfg_written;
	rc = 0;
	goto out;

undo:
	if (!link_ours && lstat(ip.link, &st) == 0 && S_ISLNK(st.st_mode) && same_file(ip.link, crpc_path))
		unlink(ip.link);
	if (moved)
		rename(ip.saved, ip.link);
	if (cfg_written) {
		if (cfg_exists)
			rename(ip.config_saved, config);
		else
			unlink(config);
	} else if (cfg_exists) {
		unlink(ip.config_saved);
	}
	done_dirs = n_made;
	while (done_dirs > 0)
		rmdir(made[--done_dirs]);
	r->config_action = "kept";
	r->saved[0] = '\0';
out:
	json_decref(rec);
	free(text);
	free(newtext);
	free(binary);
	return rc;
}

/* ---- uninstall ------------------------------------------------------------- */

static void __attribute__((format(printf, 2, 3))) left(crpc_shim_install_result *r, const char *fmt, ...)
{
	size_t n = strlen(r->left);
	va_list ap;

	if (n + 3 >= sizeof(r->left))
		return;
	if (n) {
		memcpy(r->left + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->left + n, sizeof(r->left) - n, fmt, ap);
	va_end(ap);
}

CRPC_API int crpc_shim_uninstall(const crpc_shim_install_params *given, crpc_shim_install_result *r,
				 crpc_error **err)
{
	crpc_shim_install_params own;
	const crpc_shim_install_params *p = &own;
	char crpc_path[PATH_MAX], hex[65], *text = NULL;
	const char *target, *config, *action, *saved, *config_saved, *sha;
	size_t len = 0, i;
	struct stat st;
	install_paths ip;
	json_t *rec, *v;
	bool link_gone;

	memset(r, 0, sizeof(*r));
	r->config_action = "kept";
	if (take_params(&own, given, OP_UN, err) < 0)
		return -1;
	if (paths_of(p->prefix ? p->prefix : CRPC_SHIM_PREFIX, &ip, OP_UN, err) < 0)
		return -1;
	result_paths(r, &ip, p->config_path ? p->config_path : CRPC_SHIM_CONFIG);
	if (p->crpc_path)
		snprintf(crpc_path, sizeof(crpc_path), "%s", p->crpc_path);
	else if (!realpath("/proc/self/exe", crpc_path))
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, OP_UN, "cannot tell where crpc itself is");

	if (lstat(ip.record, &st) < 0) {
		if (lstat(ip.link, &st) < 0 || !S_ISLNK(st.st_mode) || !same_file(ip.link, crpc_path))
			return 0; /* nothing of crpc's there */
		if (!p->force) {
			crpc_error_set(err, CRPC_EXIT_USAGE, ENOENT, OP_UN,
				       "%s leads to crpc but crpc shim install did not put it there (no %s)",
				       ip.link, ip.record);
			if (err && *err)
				crpc_error_set_hint(*err, "--force removes the link (and nothing else)");
			return -1;
		}
		if (unlink(ip.link) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, OP_UN, "cannot remove %s", ip.link);
		r->changed = true;
		return 0;
	}
	rec = record_load(&ip, OP_UN, err);
	if (!rec)
		return -1;
	target = jstr(rec, "target");
	config = jstr(rec, "config");
	action = jstr(rec, "config_action");
	saved = jstr(rec, "saved");
	config_saved = jstr(rec, "config_saved");
	sha = jstr(rec, "config_sha256");
	snprintf(r->config, sizeof(r->config), "%s", config);
	snprintf(r->real_criu, sizeof(r->real_criu), "%s",
		 jstr(rec, "real_criu") ? jstr(rec, "real_criu") : "");

	/* the link: removed while it still leads to crpc */
	link_gone = lstat(ip.link, &st) < 0;
	if (!link_gone && S_ISLNK(st.st_mode) &&
	    (same_file(ip.link, crpc_path) || same_file(ip.link, target))) {
		if (json_is_true(json_object_get(rec, "link_was_there"))) {
			left(r, "%s was there before the install: kept", ip.link);
		} else if (unlink(ip.link) == 0) {
			link_gone = true;
			r->changed = true;
		} else {
			left(r, "cannot remove %s: %s", ip.link, strerror(errno));
		}
	} else if (!link_gone) {
		left(r, "%s is no longer crpc's link: left as it is", ip.link);
	}
	if (saved) {
		if (lstat(saved, &st) < 0)
			left(r, "the criu kept as %s is gone", saved);
		else if (!link_gone)
			left(r, "the former criu stays at %s (%s is taken)", saved, ip.link);
		else if (rename(saved, ip.link) < 0)
			left(r, "cannot put %s back as %s", saved, ip.link);
		else
			snprintf(r->saved, sizeof(r->saved), "%s", saved);
	}

	/* the configuration: undone when it is as the install left it */
	if (action && strcmp(action, "kept") != 0 && config) {
		bool same = false;

		if (lstat(config, &st) == 0 &&
		    read_own_file(config, CONFIG_MAX, &text, &len, OP_UN, NULL) == 0 &&
		    sha256_of(text, len, hex, NULL) == 0)
			same = sha && strcmp(hex, sha) == 0;
		free(text);
		if (lstat(config, &st) < 0 && errno == ENOENT) {
			left(r, "%s was removed since the install", config);
		} else if (!same && !p->force) {
			left(r,
			     "%s was changed since the install: left as it is (--force undoes the install's "
			     "change anyway)",
			     config);
		} else if (strcmp(action, "created") == 0) {
			if (unlink(config) == 0)
				r->config_action = "removed";
			else
				left(r, "cannot remove %s: %s", config, strerror(errno));
		} else if (config_saved && rename(config_saved, config) == 0) {
			r->config_action = "restored";
		} else {
			left(r, "cannot put the former %s back from %s", config,
			     config_saved ? config_saved : "(nothing kept)");
		}
		if (strcmp(r->config_action, "kept") != 0)
			r->changed = true;
	}

	if (r->left[0]) {
		json_decref(rec);
		return crpc_error_set(err, CRPC_EXIT_FAIL, EBUSY, OP_UN, "not everything was undone: %s",
				      r->left);
	}
	unlink(ip.record);
	/* the directories the install made, deepest first, when empty */
	for (i = json_array_size(json_object_get(rec, "created_dirs")); i > 0; i--) {
		v = json_array_get(json_object_get(rec, "created_dirs"), i - 1);
		if (json_is_string(v))
			rmdir(json_string_value(v));
	}
	json_decref(rec);
	r->changed = true;
	return 0;
}
