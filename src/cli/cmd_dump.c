/* SPDX-License-Identifier: MIT */
/* cmd_dump.c - crpc dump PID DIR (alias checkpoint). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_dump[] =
	"Usage: crpc dump [OPTIONS] PID DIR\n"
	"       crpc checkpoint [OPTIONS] PID DIR\n"
	"\n"
	"Checkpoint the process tree rooted at PID into the directory DIR. DIR is\n"
	"created (mode 0700) if it does not exist; its parent must exist. By default\n"
	"the process tree is killed once its checkpoint is complete. Must run as root.\n"
	"\n"
	"Options:\n"
	CRPC_OPTS_TABLE(CLI_HELP_DUMP)
	CRPC_OPTS_TABLE(CLI_HELP_DUMP_LAST)
	"      --force             overwrite a checkpoint already in DIR\n"
	"      --hook CALLBACK=COMMAND\n"
	"                          also run COMMAND (through /bin/sh) at CRIU's CALLBACK,\n"
	"                          e.g. --hook post-dump='sync' (repeatable; see crpc.yaml(5))\n"
	"      --no-auto           do not inspect the tree first nor add the options it needs\n"
	CRPC_CLI_HELP_COMMON
	"\n"
	"First crpc inspects the tree as 'crpc inspect' does and adds the CRIU options\n"
	"it needs (tcp_established, ext_unix_sk, shell_job, file_locks, ghost_limit,\n"
	"link_remap, ...), printing each with its reason ('crpc: auto: ...'); options\n"
	"given here or in the configuration win. A blocker (a traced task, io_uring, a\n"
	"missing kernel feature, ...) stops the dump before CRIU is started, the tree\n"
	"untouched (exit 1). --no-auto turns this off.\n"
	"Before calling CRIU, crpc refuses PID 1, its own PID and its ancestors,\n"
	"kernel threads, zombies and threads (give the process ID), a DIR that is not a\n"
	"writable directory, and a DIR that already holds a checkpoint (unless --force).\n"
	"A dump is complete only once CRIU succeeded and the post-dump hooks passed:\n"
	"then crpc writes DIR/crpc.json, a manifest of the checkpoint (versions,\n"
	"options, process tree, every file's size and SHA-256) that crpc restore\n"
	"verifies. A DIR that does not exist yet is written as DIR.crpc-tmp-XXXXXX and\n"
	"renamed to DIR once complete; an existing DIR is written in place, marked\n"
	"unfinished until then. If the dump fails, the image files are removed and\n"
	"DIR/dump.log is kept; a dump that is killed leaves no DIR restore accepts.\n"
	"Options from the configuration file's dump: section apply under those given\n"
	"here; its hooks run at CRIU's notifications, their output in DIR/hooks.log.\n"
	"\n"
	"Examples:\n"
	"  crpc dump 1234 /var/tmp/ckpt\n"
	"  crpc dump --leave-running --tcp-established 1234 /var/tmp/ckpt\n"
	"  crpc checkpoint --force --json -v 1234 /var/tmp/ckpt\n"
	"\n" CRPC_CLI_HELP_EXIT_CODES;

enum {
	OPT_FORCE = CLI_OPT_FIRST_CMD,
	OPT_HOOK,
	OPT_NO_AUTO,
};

static const struct option dump_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	CRPC_OPTS_TABLE(CLI_LONGOPTS_DUMP)
	CRPC_OPTS_TABLE(CLI_LONGOPTS_DUMP_LAST)
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "hook", required_argument, NULL, OPT_HOOK },
	{ "no-auto", no_argument, NULL, OPT_NO_AUTO },
	{ NULL, 0, NULL, 0 },
};

#define DUMP_LOG "dump.log"

typedef struct dump_ctx {
	crpc_cli *cli;
	pid_t pid;
	const char *dir;    /* as given */
	char *dir_real;     /* realpath, once DIR exists */
	int dirfd;
	bool dir_existed;
	bool created_dir;
	bool marker;
	bool force;
	char state_before;  /* target's state before the dump */
	char comm[64];
	char **pre_files;   /* checkpoint-like files DIR held before this dump */
	size_t n_pre_files;
	crpc_opts opts;
	crpc_cli_auto autoopt; /* the inspection's options and every option's reason (auto.c) */
	char *tmp_path;     /* DIR.crpc-tmp-XXXXXX the dump runs in (DIR did not exist), or NULL */
	char *tmp_real;     /* its real path, as CRIU and the hooks saw it */
	crpc_manifest_stats manifest; /* what writing crpc.json took */
	bool log_level_given; /* on the command line (else configuration or crpc's default) */
	bool log_file_given;
} dump_ctx;

/* ---- the target process ---- */

/* Whether pid is crpc's parent, grandparent, ... */
static bool is_ancestor(pid_t pid)
{
	pid_t p = getppid();

	for (int i = 0; i < 4096 && p > 1; i++) {
		crpc_task_status st;

		if (p == pid)
			return true;
		if (crpc_task_status_read(p, &st) < 0)
			break;
		p = st.ppid;
	}
	return false;
}

static int refuse(crpc_error **err, crpc_cause cause, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(crpc_error **err, crpc_cause cause, const char *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	crpc_error_setv(err, CRPC_EXIT_FAIL, 0, op, fmt, ap);
	va_end(ap);
	if (*err)
		(*err)->cause = cause;
	return -1;
}

static int check_target(dump_ctx *c, const char *op, crpc_error **err)
{
	crpc_task_status pi;

	if (c->pid == 1)
		return refuse(err, CRPC_CAUSE_UNKNOWN, op, "refusing to checkpoint PID 1 (init)");
	if (c->pid == getpid())
		return refuse(err, CRPC_CAUSE_UNKNOWN, op, "refusing to checkpoint crpc itself (PID %d)",
			      (int)c->pid);
	if (crpc_task_status_read(c->pid, &pi) < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return refuse(err, CRPC_CAUSE_NO_PROCESS, op, "no process with PID %d", (int)c->pid);
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot inspect PID %d",
				      (int)c->pid);
	}
	snprintf(c->comm, sizeof(c->comm), "%s", pi.comm);
	if (pi.tgid != c->pid)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, op,
				      "%d is a thread of process %d (%s), not a process; give the "
				      "process ID %d",
				      (int)c->pid, (int)pi.tgid, pi.comm, (int)pi.tgid);
	if (pi.state == 'Z' || pi.state == 'X' || pi.state == 'x')
		return refuse(err, CRPC_CAUSE_NO_PROCESS, op,
			      "PID %d (%s) is a zombie: it has exited and waits to be reaped by its "
			      "parent, there is nothing to checkpoint",
			      (int)c->pid, pi.comm);
	/* the flag, not PID 2's children: in a PID namespace PID 2 is a user process */
	if (pi.kernel_thread)
		return refuse(err, CRPC_CAUSE_UNKNOWN, op,
			      "PID %d (%s) is a kernel thread; only user processes can be "
			      "checkpointed",
			      (int)c->pid, pi.comm);
	if (is_ancestor(c->pid))
		return refuse(err, CRPC_CAUSE_UNKNOWN, op,
			      "refusing to checkpoint PID %d (%s): it is an ancestor of crpc, so "
			      "crpc and CRIU would be part of the tree to checkpoint",
			      (int)c->pid, pi.comm);
	c->state_before = pi.state;
	return 0;
}

/* ---- the images directory ---- */

/* Which files a cleanup removes. */
typedef enum clean_mode {
	CLEAN_FORCE,  /* --force: an old checkpoint, its stats and logs */
	CLEAN_FAILED, /* a failed dump: what CRIU wrote, the log is kept */
} clean_mode;

static bool is_ckpt_file(const char *name, clean_mode mode)
{
	size_t len = strlen(name);

	if (len > 4 && strcmp(name + len - 4, ".img") == 0)
		return true;
	if (strcmp(name, "stats-dump") == 0 || strcmp(name, CRPC_INPROGRESS_MARKER) == 0 ||
	    strcmp(name, CRPC_MANIFEST_NAME) == 0 || strcmp(name, CRPC_MANIFEST_NAME ".tmp") == 0)
		return true;
	if (mode == CLEAN_FORCE && (strcmp(name, "stats-restore") == 0 || strcmp(name, DUMP_LOG) == 0 ||
				    strcmp(name, "restore.log") == 0))
		return true;
	return false;
}

static bool in_list(char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/*
 * Walk the regular files of dirfd that `mode` selects: remove them, or
 * (keep != NULL) record their names. Names in skip[] are left alone.
 */
static int walk_ckpt_files(int dirfd, clean_mode mode, char *const *skip, size_t n_skip, char ***keep,
			   size_t *n_keep, crpc_error **err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	int failed = 0, first_errno = 0;
	char first[256] = "";
	DIR *d;

	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "dump", "cannot read the images directory");
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "dump", "cannot read the images directory");
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (!is_ckpt_file(de->d_name, mode) || in_list(skip, n_skip, de->d_name))
			continue;
		if (keep) {
			char *name = strdup(de->d_name);
			char **nk = name ? realloc(*keep, (*n_keep + 1) * sizeof(**keep)) : NULL;

			if (!nk) {
				free(name);
				closedir(d);
				return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "dump", "out of memory");
			}
			nk[(*n_keep)++] = name;
			*keep = nk;
			continue;
		}
		if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT) {
			if (!failed) {
				first_errno = errno;
				snprintf(first, sizeof(first), "%s", de->d_name);
			}
			failed++;
		}
	}
	closedir(d);
	if (failed)
		return crpc_error_set(err, CRPC_EXIT_FAIL, first_errno, "dump",
				      "cannot remove %d checkpoint file(s), first %s", failed, first);
	return 0;
}

/* Whether dirfd holds only entries in `allowed` (NULL-terminated). -1 on error. */
static int dir_only_holds(int dirfd, const char *const *allowed)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	int only = 1;
	DIR *d;

	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		bool ok = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;

		for (size_t i = 0; !ok && allowed[i]; i++)
			ok = strcmp(de->d_name, allowed[i]) == 0;
		if (!ok) {
			only = 0;
			break;
		}
	}
	closedir(d);
	return only;
}

static bool file_exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Try to create and remove a file: the only test that holds for root too. */
static int probe_writable(int dirfd, const char *dir, const char *op, crpc_error **err)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), ".crpc-write-test.%d", (int)getpid());
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot write into %s", dir);
		if (*err)
			crpc_error_set_hint(*err, "choose a directory on a writable file system");
		return -1;
	}
	close(fd);
	if (unlinkat(dirfd, name, 0) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot remove %s/%s", dir, name);
	return 0;
}

/* Open where the images go: DIR, or the temporary directory standing in for it. */
static int open_dir(dump_ctx *c, const char *op, crpc_error **err)
{
	const char *path = c->tmp_path ? c->tmp_path : c->dir;

	c->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot open %s", path);
	free(c->dir_real);
	c->dir_real = realpath(path, NULL);
	if (c->tmp_path) {
		free(c->tmp_real);
		c->tmp_real = c->dir_real ? strdup(c->dir_real) : NULL;
	}
	return 0;
}

/* Checks on DIR that change nothing (besides a probe file created and removed). */
static int check_dir(dump_ctx *c, const char *op, crpc_error **err)
{
	struct stat st;

	if (stat(c->dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op, "%s is not a directory",
					      c->dir);
		c->dir_existed = true;
		if (open_dir(c, op, err) < 0 || probe_writable(c->dirfd, c->dir, op, err) < 0)
			return -1;
		if (file_exists_at(c->dirfd, CRPC_INPROGRESS_MARKER) && !c->force) {
			crpc_error_set(err, CRPC_EXIT_FAIL, EEXIST, op,
				       "%s holds an unfinished dump (%s is present): another crpc "
				       "dump may be writing into it, or one was interrupted",
				       c->dir, CRPC_INPROGRESS_MARKER);
			if (*err)
				crpc_error_set_hint(*err, "use --force to overwrite it, or choose another DIR");
			return -1;
		}
		if ((crpc_images_present(c->dirfd) || file_exists_at(c->dirfd, CRPC_MANIFEST_NAME)) &&
		    !c->force) {
			crpc_error_set(err, CRPC_EXIT_FAIL, EEXIST, op, "%s already holds a checkpoint",
				       c->dir);
			if (*err)
				crpc_error_set_hint(*err, "use --force to overwrite it, or choose another DIR");
			return -1;
		}
		return 0;
	}
	if (errno == ENOTDIR)
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, op,
				      "%s: a component of the path is not a directory", c->dir);
	if (errno != ENOENT)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot access %s", c->dir);

	/* DIR will be created: its parent must be an existing directory */
	{
		char *copy = strdup(c->dir);
		const char *parent;
		int rc = 0;

		if (!copy)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
		parent = dirname(copy);
		if (stat(parent, &st) < 0) {
			if (errno == ENOENT)
				rc = crpc_error_set(err, CRPC_EXIT_USAGE, ENOENT, op,
						    "cannot create %s: its parent directory %s does "
						    "not exist",
						    c->dir, parent);
			else
				rc = crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot access %s",
						    parent);
		} else if (!S_ISDIR(st.st_mode)) {
			rc = crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op,
					    "cannot create %s: %s is not a directory", c->dir, parent);
		}
		free(copy);
		return rc;
	}
}

/*
 * When DIR does not exist (before CRIU is started): create its temporary
 * stand-in DIR.crpc-tmp-XXXXXX (mode 0700), renamed to DIR once the
 * checkpoint is complete, so that DIR never holds half a checkpoint.
 */
static int create_dir(dump_ctx *c, const char *op, crpc_error **err)
{
	if (c->dir_existed)
		return 0;
	if (crpc_dumpdir_create(c->dir, &c->tmp_path, err) < 0)
		return -1;
	c->created_dir = true;
	crpc_cli_info(c->cli, "writing the checkpoint into %s until it is complete", c->tmp_path);
	return open_dir(c, op, err);
}

/* Once CRIU runs: clear an old checkpoint (--force), set the marker. */
static int prepare_dir(dump_ctx *c, const char *op, crpc_error **err)
{
	int fd;

	if (c->dir_existed) {
		if (c->force) {
			/* the manifest first: the old checkpoint stops counting as whole at once */
			if (unlinkat(c->dirfd, CRPC_MANIFEST_NAME, 0) < 0 && errno != ENOENT)
				return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot remove %s/%s",
						      c->dir, CRPC_MANIFEST_NAME);
			if (walk_ckpt_files(c->dirfd, CLEAN_FORCE, NULL, 0, NULL, NULL, err) < 0)
				return -1;
			crpc_cli_info(c->cli, "--force: removed the previous checkpoint files from %s",
				      c->dir);
		}
		/* files a failed dump must not remove: they were there before */
		if (walk_ckpt_files(c->dirfd, CLEAN_FAILED, NULL, 0, &c->pre_files, &c->n_pre_files,
				    err) < 0)
			return -1;
	}
	fd = openat(c->dirfd, CRPC_INPROGRESS_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot create %s/%s", c->dir,
				      CRPC_INPROGRESS_MARKER);
	c->marker = true;
	if (dprintf(fd, "crpc dump of PID %d by crpc PID %d\n", (int)c->pid, (int)getpid()) < 0 ||
	    close(fd) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot write %s/%s", c->dir,
				      CRPC_INPROGRESS_MARKER);
	return 0;
}

/* Rename the temporary directory to DIR (on failure it stays, with a warning). */
static int move_into_place(dump_ctx *c)
{
	crpc_error *e = NULL;

	if (crpc_dumpdir_commit(c->tmp_path, c->dir, &e) < 0) {
		crpc_cli_warn(c->cli, "%s; what the dump left is in %s", e && e->message ? e->message : "?",
			      c->tmp_path);
		crpc_error_free(e);
		return -1;
	}
	free(c->tmp_path);
	c->tmp_path = NULL;
	free(c->dir_real);
	c->dir_real = realpath(c->dir, NULL);
	return 0;
}

/*
 * The CRIU log options crpc fills in when the command line did not set
 * them: recorded as coming from the configuration or as crpc's default,
 * not as the user's.
 */
static int log_option_sources(const dump_ctx *c, crpc_manifest_options *l, crpc_error **err)
{
	const crpc_config *cfg = &c->cli->config;
	char level[16];

	if (!c->log_level_given && c->opts.log_level >= 0) {
		bool from_cfg = cfg->dump.log_level >= 0 || cfg->criu_log_level >= 0;

		snprintf(level, sizeof(level), "%d", c->opts.log_level);
		if (crpc_manifest_options_add(l, "log_level", level, from_cfg ? "config" : "default", NULL,
					      err) < 0)
			return -1;
	}
	if (!c->log_file_given && c->opts.log_file) {
		bool from_cfg = cfg->dump.log_file || cfg->criu_log_file;

		if (crpc_manifest_options_add(l, "log_file", c->opts.log_file, from_cfg ? "config" : "default",
					      NULL, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * CRIU succeeded and the post-dump hooks passed: write the manifest
 * (every file hashed and synced, crpc.json written atomically), drop the
 * marker, and move a temporary directory into place as DIR. On failure the
 * images are kept (without crpc.json: restore --force takes them).
 */
static int finalize(dump_ctx *c, crpc_session *s, double criu_seconds, const char *op, crpc_error **err)
{
	const char *const logs[] = { c->opts.log_file ? c->opts.log_file : DUMP_LOG, "hooks.log", NULL };
	crpc_manifest_options options = { 0 };
	const crpc_opt_reasons *why;
	crpc_manifest_info mi = { 0 };
	char ver[96];
	int rc;

	crpc_version_format(crpc_session_version(s), ver, sizeof(ver));
	mi.pid = c->pid;
	mi.command = c->comm;
	mi.criu_version = ver;
	mi.criu_path = crpc_session_criu_path(s);
	mi.leave_running = c->opts.leave_running;
	mi.log_files = logs;
	mi.criu_seconds = criu_seconds;
	mi.options = &options;
	/* the options the inspection knows, with their reasons; then every other one set */
	why = crpc_cli_auto_effective(&c->autoopt);
	rc = 0;
	for (size_t i = 0; why && i < why->n && rc == 0; i++)
		rc = crpc_manifest_options_add(&options, why->v[i].option, why->v[i].value,
					       crpc_opt_source_name(why->v[i].source), why->v[i].reason, err);
	if (rc == 0)
		rc = log_option_sources(c, &options, err);
	if (rc == 0)
		rc = crpc_manifest_options_from_opts(&options, &c->opts, &c->cli->config.dump, err);
	if (rc == 0)
		rc = crpc_manifest_write(c->dirfd, &mi, &c->manifest, err);
	crpc_manifest_options_release(&options);
	if (rc < 0) {
		if (*err)
			crpc_error_set_hint(*err,
					    "the images are kept in %s without %s: crpc restore --force "
					    "restores them unverified",
					    c->tmp_path ? c->dir : (c->dir_real ? c->dir_real : c->dir),
					    CRPC_MANIFEST_NAME);
		if (c->tmp_path)
			move_into_place(c);
		return -1;
	}
	crpc_cli_info(c->cli, "%s: %zu files, %llu bytes, sha256 in %.1f ms, sync in %.1f ms",
		      CRPC_MANIFEST_NAME, c->manifest.files, (unsigned long long)c->manifest.bytes,
		      c->manifest.hash_seconds * 1e3, c->manifest.sync_seconds * 1e3);
	if (unlinkat(c->dirfd, CRPC_INPROGRESS_MARKER, 0) < 0 && errno != ENOENT)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op,
				      "the dump succeeded but the marker %s/%s cannot be removed",
				      c->dir_real ? c->dir_real : c->dir, CRPC_INPROGRESS_MARKER);
	c->marker = false;
	if (fsync(c->dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot sync %s",
				      c->dir_real ? c->dir_real : c->dir);
	if (c->tmp_path && crpc_dumpdir_commit(c->tmp_path, c->dir, err) < 0) {
		if (*err)
			crpc_error_set_hint(*err, "the complete checkpoint is in %s: move it where you want it",
					    c->tmp_path);
		return -1;
	}
	if (c->tmp_path) {
		free(c->tmp_path);
		c->tmp_path = NULL;
		free(c->dir_real);
		c->dir_real = realpath(c->dir, NULL);
	}
	return 0;
}

/* After a failed dump: leave nothing that looks like a checkpoint. */
static void cleanup_failed(dump_ctx *c)
{
	static const char *const nothing[] = { NULL };
	crpc_error *e = NULL;

	if (c->dirfd < 0 || (!c->marker && !c->created_dir))
		return; /* DIR was not touched */
	if (walk_ckpt_files(c->dirfd, CLEAN_FAILED, c->pre_files, c->n_pre_files, NULL, NULL, &e) < 0) {
		crpc_cli_warn(c->cli, "%s", e && e->message ? e->message : "cleanup failed");
		crpc_error_free(e);
	}
	c->marker = false;
	if (c->created_dir && dir_only_holds(c->dirfd, nothing) == 1) {
		const char *path = c->tmp_path ? c->tmp_path : c->dir;

		if (rmdir(path) < 0)
			crpc_cli_warn(c->cli, "cannot remove %s: %s", path, strerror(errno));
		else {
			free(c->dir_real);
			c->dir_real = NULL;
		}
		return;
	}
	/* what is left (CRIU's log, hooks.log) goes where the user looks: DIR */
	if (c->tmp_path)
		move_into_place(c);
}

/* After a failed dump: what became of the target? Appends to human/json. */
static void inspect_target(dump_ctx *c, json_t *extra, char *human, size_t humansz)
{
	json_t *t = crpc_cli_jobj();
	crpc_task_status pi;
	bool resumed = false;

	crpc_cli_jset(t, "pid", json_integer(c->pid));
	if (crpc_task_status_read(c->pid, &pi) < 0 || pi.state == 'Z' || pi.state == 'X') {
		snprintf(human, humansz, "crpc: target PID %d no longer exists\n", (int)c->pid);
		crpc_cli_jset(t, "running", json_false());
		crpc_cli_jset(t, "exists", json_boolean(false));
	} else {
		if (pi.state == 'T' && c->state_before != 'T') {
			if (kill(c->pid, SIGCONT) == 0) {
				resumed = true;
				if (crpc_task_status_read(c->pid, &pi) < 0)
					pi.state = '?';
			}
		}
		if (pi.state == 'T')
			snprintf(human, humansz, "crpc: target PID %d (%s) exists but is stopped\n", (int)c->pid,
				 pi.comm);
		else if (resumed)
			snprintf(human, humansz,
				 "crpc: target PID %d (%s) was left stopped; crpc sent it SIGCONT and it "
				 "is running again\n",
				 (int)c->pid, pi.comm);
		else
			snprintf(human, humansz, "crpc: target PID %d (%s) is still running\n", (int)c->pid,
				 pi.comm);
		crpc_cli_jset(t, "exists", json_true());
		crpc_cli_jset(t, "running", json_boolean(pi.state != 'T'));
	}
	crpc_cli_jset(t, "sent_sigcont", json_boolean(resumed));
	crpc_cli_jset(extra, "target", t);
}

/* In *s, replace the first "FROM/" with "TO/" (a path that moved). */
static void repath(char **s, const char *from, const char *to)
{
	size_t n = strlen(from);
	char *at = *s ? strstr(*s, from) : NULL, *moved = NULL;

	if (!at || at[n] != '/')
		return;
	if (asprintf(&moved, "%.*s%s%s", (int)(at - *s), *s, to, at + n) < 0)
		return;
	free(*s);
	*s = moved;
}

static int fail(dump_ctx *c, crpc_error *err, bool inspect)
{
	json_t *extra = crpc_cli_jobj();
	char human[512] = "";
	int rc;

	/* the logs written into the temporary directory are now in DIR */
	if (err && c->tmp_real && !c->tmp_path && c->dir_real) {
		repath(&err->log_path, c->tmp_real, c->dir_real);
		repath(&err->hint, c->tmp_real, c->dir_real);
	}
	crpc_cli_jset(extra, "pid", json_integer(c->pid));
	crpc_cli_jset(extra, "images_dir", crpc_cli_jstr(c->dir_real ? c->dir_real : c->dir));
	if (c->autoopt.ran)
		crpc_cli_jset(extra, "auto", crpc_cli_auto_json(&c->autoopt, false));
	if (inspect)
		inspect_target(c, extra, human, sizeof(human));
	rc = crpc_cli_fail(c->cli, err, extra, human);
	crpc_error_free(err);
	return rc;
}

/* Hashing speed in MB/s (10^6 bytes). */
static double hash_rate(const crpc_manifest_stats *m)
{
	return m->hash_seconds > 0 ? (double)m->bytes / m->hash_seconds / 1e6 : 0.0;
}

static json_t *manifest_json(const dump_ctx *c, const char *dir)
{
	json_t *o = crpc_cli_jobj();
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, CRPC_MANIFEST_NAME);
	crpc_cli_jset(o, "path", crpc_cli_jstr(path));
	crpc_cli_jset(o, "files", json_integer((json_int_t)c->manifest.files));
	crpc_cli_jset(o, "bytes", json_integer((json_int_t)c->manifest.bytes));
	crpc_cli_jset(o, "hash_time_ms", json_real(c->manifest.hash_seconds * 1e3));
	crpc_cli_jset(o, "sync_time_ms", json_real(c->manifest.sync_seconds * 1e3));
	crpc_cli_jset(o, "hash_mb_per_s", json_real(hash_rate(&c->manifest)));
	return o;
}

static void summary(dump_ctx *c, crpc_session *s, double wall, const crpc_dump_result *res)
{
	crpc_error *e = NULL;
	crpc_stats st;
	uint64_t bytes = 0;
	bool have_size, have_stats;
	const char *dir = c->dir_real ? c->dir_real : c->dir;
	char logp[PATH_MAX + 16], sz[32], tm[32];

	memset(&st, 0, sizeof(st));
	have_size = crpc_cli_images_bytes(c->dirfd, &bytes, &e) == 0;
	if (!have_size) {
		crpc_cli_warn(c->cli, "cannot compute the checkpoint's size: %s",
			      e && e->message ? e->message : "?");
		crpc_error_free(e);
		e = NULL;
	}
	have_stats = crpc_stats_read(c->dirfd, "stats-dump", &st, &e) == 0 && st.have_dump;
	if (!have_stats) {
		crpc_cli_info(c->cli, "no CRIU statistics: %s", e && e->message ? e->message : "none in stats-dump");
		crpc_error_free(e);
	}
	snprintf(logp, sizeof(logp), "%s/%s", dir, c->opts.log_file);

	if (c->cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "operation", crpc_cli_jstr("dump"));
		crpc_cli_jset(doc, "pid", json_integer(c->pid));
		crpc_cli_jset(doc, "command", crpc_cli_jstr(c->comm));
		crpc_cli_jset(doc, "images_dir", crpc_cli_jstr(dir));
		crpc_cli_jset(doc, "image_bytes", have_size ? json_integer((json_int_t)bytes) : json_null());
		crpc_cli_jset(doc, "wall_time_ms", json_real(wall * 1e3));
		crpc_cli_jset(doc, "leave_running", json_boolean(c->opts.leave_running));
		crpc_cli_jset(doc, "log_file", crpc_cli_jstr(logp));
		crpc_cli_jset(doc, "notifications", json_integer(res->notifications));
		crpc_cli_jset(doc, "criu", crpc_cli_json_criu(s));
		crpc_cli_jset(doc, "stats", have_stats ? crpc_cli_stats_json(&st, false) : json_null());
		crpc_cli_jset(doc, "auto", crpc_cli_auto_json(&c->autoopt, false));
		crpc_cli_jset(doc, "inspect_warnings", crpc_cli_auto_warnings_json(&c->autoopt));
		crpc_cli_jset(doc, "manifest", manifest_json(c, dir));
		crpc_cli_emit(doc);
		return;
	}
	crpc_cli_fmt_seconds(wall, tm, sizeof(tm));
	if (have_size)
		crpc_cli_fmt_size(bytes, sz, sizeof(sz));
	else
		snprintf(sz, sizeof(sz), "unknown");
	printf("Checkpointed PID %d (%s) into %s\n", (int)c->pid, c->comm, dir);
	printf("  process:       %s\n", c->opts.leave_running ? "left running" : "ended after the dump");
	printf("  image size:    %s\n", sz);
	printf("  wall time:     %s\n", tm);
	if (have_stats)
		crpc_cli_stats_print(stdout, &st, false);
	{
		char mb[32], mt[32];

		crpc_cli_fmt_size(c->manifest.bytes, mb, sizeof(mb));
		crpc_cli_fmt_seconds(c->manifest.hash_seconds, mt, sizeof(mt));
		printf("  manifest:      %s/%s: %zu files (%s), sha256 in %s (%.0f MB/s)\n", dir,
		       CRPC_MANIFEST_NAME, c->manifest.files, mb, mt, hash_rate(&c->manifest));
	}
	printf("  log:           %s\n", logp);
}

int crpc_cmd_dump(crpc_cli *cli, int argc, char **argv)
{
	dump_ctx c;
	crpc_session *s = NULL;
	crpc_dispatcher *d = NULL;
	crpc_error *err = NULL;
	crpc_dump_result res;
	crpc_hook_runner *runner = NULL;
	bool hook_failed = false;
	char op[64];
	double t0, wall;
	unsigned long pidv;
	int rc, opt;

	memset(&c, 0, sizeof(c));
	c.cli = cli;
	c.dirfd = -1;
	crpc_opts_init(&c.opts); /* log level and file: defaults once the configuration is read */
	cli->usage = "crpc dump [OPTIONS] PID DIR";

	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hvR", dump_options)) != -1) {
		switch (opt) {
		case OPT_FORCE:
			c.force = true;
			break;
		case OPT_HOOK:
			crpc_cli_add_hook_arg(cli, optarg);
			break;
		case OPT_NO_AUTO:
			c.autoopt.disabled = true;
			break;
		default:
			if (!cli_opt_apply(cli, "dump", &c.opts, opt, optarg))
				crpc_cli_usage_errorf(cli, "unhandled option");
			break;
		}
	}
	if (crpc_cli_early_exit(cli, crpc_help_dump, &rc))
		goto out;

	if (argc - optind < 2) {
		rc = crpc_cli_usage(cli, true, "missing %s", argc - optind == 0 ? "PID and DIR" : "DIR");
		goto out;
	}
	if (argc - optind > 2) {
		rc = crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 2]);
		goto out;
	}
	if (crpc_cli_parse_ulong(argv[optind], INT32_MAX, &pidv) < 0 || pidv == 0) {
		rc = crpc_cli_usage(cli, true, "invalid PID '%s': must be a positive integer", argv[optind]);
		goto out;
	}
	c.pid = (pid_t)pidv;
	c.dir = argv[optind + 1];
	snprintf(cli->trace_target, sizeof(cli->trace_target), "%d", (int)c.pid);
	if (!*c.dir) {
		rc = crpc_cli_usage(cli, true, "DIR must not be empty");
		goto out;
	}
	c.opts.pid = c.pid;
	snprintf(op, sizeof(op), "dump of PID %d", (int)c.pid);

	/* the configuration: its dump: options under the command line's */
	crpc_cli_auto_snapshot(&c.autoopt, &c.opts);
	c.log_level_given = c.opts.log_level >= 0;
	c.log_file_given = c.opts.log_file != NULL;
	if (crpc_cli_effective_opts(cli, &c.opts, &cli->config.dump, DUMP_LOG, &err) < 0) {
		rc = fail(&c, err, false);
		goto out;
	}

	/* everything that can be checked without touching anything */
	if (check_target(&c, op, &err) < 0 || crpc_cli_need_root(cli, op, &err) < 0 ||
	    check_dir(&c, op, &err) < 0) {
		rc = fail(&c, err, false);
		goto out;
	}
	/* inspect the tree: stop on blockers, add the options it needs (auto.c) */
	rc = crpc_cli_auto_dump(cli, &c.autoopt, &c.opts, c.dir);
	if (rc)
		goto out;
	if (crpc_cli_dispatcher(cli, &d, &err) < 0 || create_dir(&c, op, &err) < 0) {
		cleanup_failed(&c);
		rc = fail(&c, err, false);
		goto out;
	}

	t0 = crpc_cli_now();
	if (crpc_cli_session_open(cli, &s, &err) < 0 ||
	    crpc_opts_check_version(&c.opts, crpc_session_version(s), &err) < 0 ||
	    prepare_dir(&c, op, &err) < 0) {
		cleanup_failed(&c);
		rc = fail(&c, err, false);
		goto out;
	}
	c.opts.images_dir_fd = c.dirfd;
	if (crpc_cli_hooks_attach(cli, &d, "dump", c.pid, c.dir_real ? c.dir_real : c.dir, c.dirfd,
				  &runner, &err) < 0) {
		cleanup_failed(&c);
		rc = fail(&c, err, false);
		goto out;
	}
	crpc_cli_print_opts(cli, "dump", &c.opts, c.dir_real ? c.dir_real : c.dir);
	crpc_cli_info(cli, "dumping PID %d (%s) into %s", (int)c.pid, c.comm, c.dir);

	rc = crpc_session_dump(s, &c.opts, d, &res, &err);
	hook_failed = crpc_cli_hook_warnings(cli, d, runner);
	if (rc < 0) {
		/* libcrpc attached CRIU's log and classified the failure */
		crpc_cli_diagnose_criu(cli, err);
		cleanup_failed(&c);
		rc = fail(&c, err, true);
		goto out;
	}
	/* complete: the manifest, then DIR in place */
	if (finalize(&c, s, crpc_cli_now() - t0, op, &err) < 0) {
		rc = fail(&c, err, true);
		goto out;
	}
	wall = crpc_cli_now() - t0;
	summary(&c, s, wall, &res);
	rc = hook_failed ? CLI_EXIT_HOOK_WARNING : 0;

out:
	crpc_session_close(s);
	crpc_dispatcher_free(d);
	crpc_hook_runner_free(runner);
	crpc_cli_config_release(cli);
	crpc_opts_release(&c.opts);
	crpc_cli_auto_release(&c.autoopt);
	if (c.dirfd >= 0)
		close(c.dirfd);
	free(c.dir_real);
	free(c.tmp_path);
	free(c.tmp_real);
	for (size_t i = 0; i < c.n_pre_files; i++)
		free(c.pre_files[i]);
	free(c.pre_files);
	return rc;
}
