/* SPDX-License-Identifier: MIT */
/*
 * dir.c - the directory a dump writes: the checks made before anything is
 * touched, the temporary stand-in for a DIR that does not exist yet, the
 * in-progress marker and --force in an existing one, and the clean-up of a
 * failed dump.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "checkpoint/ck_int.h"

#define DUMP_LOG "dump.log"

/* Which files a cleanup removes. */
typedef enum clean_mode {
	CLEAN_FORCE,  /* --force: an old checkpoint, its stats and logs */
	CLEAN_FAILED, /* a failed dump: what CRIU wrote, the log is kept */
} clean_mode;

/* The files of a checkpoint directory besides the images (*.img). */
static const struct ckpt_file {
	const char *name;
	bool failed; /* removed after a failed dump: this dump wrote it */
	bool force;  /* removed by --force: part of the old checkpoint */
	bool log;    /* a log or CRIU's statistics: may stand beside a checkpoint */
} ckpt_files[] = {
	{ CRPC_INPROGRESS_MARKER, true, true, false },
	{ CRPC_MANIFEST_NAME, true, true, false },
	{ CRPC_MANIFEST_NAME ".tmp", true, true, false },
	{ CRPC_SIGNATURE_NAME, true, true, false },
	{ CRPC_SIGNATURE_NAME ".tmp", true, true, false },
	{ CRPC_INPROGRESS_MARKER ".tmp", true, true, false },
	{ "stats-dump", true, true, true },
	{ "stats-restore", false, true, true },
	{ DUMP_LOG, false, true, true },
	{ "restore.log", false, true, true },
	{ "hooks.log", false, false, true },
};

static const struct ckpt_file *ckpt_file(const char *name)
{
	for (size_t i = 0; i < sizeof(ckpt_files) / sizeof(ckpt_files[0]); i++)
		if (strcmp(name, ckpt_files[i].name) == 0)
			return &ckpt_files[i];
	return NULL;
}

static bool is_ckpt_file(const char *name, clean_mode mode)
{
	const struct ckpt_file *f = ckpt_file(name);
	size_t len = strlen(name);

	if (len > 4 && strcmp(name + len - 4, ".img") == 0)
		return true;
	return f && (mode == CLEAN_FAILED ? f->failed : f->force);
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
	DIR *d = io_opendir_at(dirfd, ".");
	struct dirent *de;
	int failed = 0, first_errno = 0;
	char first[256] = "";

	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "dump", "cannot read the images directory");
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
			if (crpc__strv_push(keep, n_keep, strdup(de->d_name)) < 0) {
				closedir(d);
				return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "dump", "out of memory");
			}
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
	DIR *d = io_opendir_at(dirfd, ".");
	struct dirent *de;
	int only = 1;

	if (!d)
		return -1;
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
static int open_dir(ck_dump *c, const char *op, crpc_error **err)
{
	const char *path = c->tmp_path ? c->tmp_path : c->o.p.dir;

	c->o.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->o.dirfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot open %s", path);
	free(c->o.dir_real);
	c->o.dir_real = realpath(path, NULL);
	if (c->tmp_path) {
		free(c->tmp_real);
		c->tmp_real = c->o.dir_real ? strdup(c->o.dir_real) : NULL;
	}
	return 0;
}

/* crpc.json of dirfd, parsed (NULL when there is none or it cannot be read). */
static json_t *manifest_json(int dirfd)
{
	char *text = NULL;
	json_t *root;

	if (crpc_manifest_read(dirfd, &text, NULL, NULL) < 0 || !text)
		return NULL;
	root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	return root;
}

/* Whether the manifest root lists `name` under "files". */
static bool manifest_lists(json_t *root, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(root, "files"), i, f) {
		const char *n = json_string_value(json_object_get(f, "name"));

		if (n && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

/*
 * What an existing DIR may hold: nothing, a crpc checkpoint (crpc.json and
 * the files it lists, with the logs), or the remains of a crpc dump (the
 * in-progress marker with what CRIU and crpc write). Anything else belongs
 * to someone else: a dump would mix with it and --force would remove it.
 */
static int check_contents(ck_dump *c, const char *op, crpc_error **err)
{
	bool marker = file_exists_at(c->o.dirfd, CRPC_INPROGRESS_MARKER);
	json_t *manifest = NULL;
	char others[3][64];
	size_t n_listed = 0, n_others = 0;
	DIR *d = io_opendir_at(c->o.dirfd, ".");
	struct dirent *de;

	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s", c->o.p.dir);
	if (file_exists_at(c->o.dirfd, CRPC_MANIFEST_NAME))
		manifest = manifest_json(c->o.dirfd);
	n_listed = json_array_size(json_object_get(manifest, "files"));
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		struct stat st;
		const struct ckpt_file *f = ckpt_file(name);
		bool own;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		own = fstatat(c->o.dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		      ((n_listed &&
			(strcmp(name, CRPC_MANIFEST_NAME) == 0 || strcmp(name, CRPC_SIGNATURE_NAME) == 0 ||
			 manifest_lists(manifest, name))) ||
		       (marker && is_ckpt_file(name, CLEAN_FORCE)));
		if (!own)
			own = (marker || n_listed) && f && f->log;
		if (!own && n_others++ < 3)
			snprintf(others[n_others - 1], sizeof(others[0]), "%.60s", name);
	}
	closedir(d);
	json_decref(manifest);
	if (n_others) {
		crpc_error_set(err, CRPC_EXIT_USAGE, EEXIST, op,
			       "%s holds %zu file%s that %s not part of a crpc checkpoint (%s%s%s%s%s%s): a dump "
			       "would mix with %s",
			       c->o.p.dir, n_others, n_others == 1 ? "" : "s", n_others == 1 ? "is" : "are",
			       others[0], n_others > 1 ? ", " : "", n_others > 1 ? others[1] : "",
			       n_others > 2 ? ", " : "", n_others > 2 ? others[2] : "",
			       n_others > 3 ? ", ..." : "", n_others == 1 ? "it" : "them");
		if (err && *err)
			crpc_error_set_hint(*err, "dump into a new or empty directory (--force replaces only "
						  "a crpc checkpoint, never other files)");
		return -1;
	}
	return 0;
}

/*
 * The images hold the tree's memory: an existing DIR must be the caller's,
 * and is made private (0700) when others could read or enter it.
 */
static int make_private(ck_dump *c, bool apply, const char *op, crpc_error **err)
{
	struct stat st;

	if (fstat(c->o.dirfd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot stat %s", c->o.p.dir);
	if (!apply && st.st_uid != geteuid()) {
		crpc_error_set(err, CRPC_EXIT_USAGE, EPERM, op,
			       "%s belongs to uid %u: its owner could read or change the checkpoint",
			       c->o.p.dir, (unsigned)st.st_uid);
		if (err && *err)
			crpc_error_set_hint(*err, "dump into a directory of your own, or a new one");
		return -1;
	}
	if (apply && (st.st_mode & 077)) {
		if (fchmod(c->o.dirfd, 0700) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot make %s private",
					      c->o.p.dir);
		ck_notice(&c->o, "made %s private (mode %04o -> 0700): it holds the memory of PID %d",
			  c->o.p.dir, (unsigned)(st.st_mode & 07777), (int)c->o.p.pid);
	}
	return 0;
}

/* Checks on DIR that change nothing (besides a probe file created and removed). */
int ck_dir_check(ck_dump *c, const char *op, crpc_error **err)
{
	struct stat st;

	if (stat(c->o.p.dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op, "%s is not a directory",
					      c->o.p.dir);
		c->dir_existed = true;
		if (open_dir(c, op, err) < 0 || check_contents(c, op, err) < 0 ||
		    make_private(c, false, op, err) < 0 ||
		    probe_writable(c->o.dirfd, c->o.p.dir, op, err) < 0)
			return -1;
		if (file_exists_at(c->o.dirfd, CRPC_INPROGRESS_MARKER) && !c->o.p.force) {
			char ct[512];

			crpc_error_set(err, CRPC_EXIT_FAIL, EEXIST, op,
				       "%s holds an unfinished dump (%s is present): another crpc "
				       "dump may be writing into it, or one was interrupted",
				       c->o.p.dir, CRPC_INPROGRESS_MARKER);
			if (*err && (ck_dumpdir_container_intent(c->o.dirfd, ct, sizeof(ct)) ||
				     ck_dumpdir_criu_finished(c->o.dirfd)))
				ck_dumpdir_hint(*err, c->o.p.dir, NULL); /* it may be the only copy */
			else if (*err)
				crpc_error_set_hint(*err,
						    "use --force to overwrite it, or choose another DIR");
			return -1;
		}
		if ((crpc_images_present(c->o.dirfd) || file_exists_at(c->o.dirfd, CRPC_MANIFEST_NAME)) &&
		    !c->o.p.force) {
			crpc_error_set(err, CRPC_EXIT_FAIL, EEXIST, op, "%s already holds a checkpoint",
				       c->o.p.dir);
			if (*err)
				crpc_error_set_hint(*err,
						    "use --force to overwrite it, or choose another DIR");
			return -1;
		}
		return 0;
	}
	if (errno == ENOTDIR)
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, op,
				      "%s: a component of the path is not a directory", c->o.p.dir);
	if (errno != ENOENT)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot access %s", c->o.p.dir);

	/* DIR will be created: its parent must be an existing directory */
	{
		char *copy = strdup(c->o.p.dir);
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
						    c->o.p.dir, parent);
			else
				rc = crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot access %s",
						    parent);
		} else if (!S_ISDIR(st.st_mode)) {
			rc = crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op,
					    "cannot create %s: %s is not a directory", c->o.p.dir, parent);
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
int ck_dir_create(ck_dump *c, const char *op, crpc_error **err)
{
	if (c->dir_existed)
		return 0;
	if (ck_dumpdir_create(c->o.p.dir, &c->tmp_path, err) < 0)
		return -1;
	c->created_dir = true;
	ck_info(&c->o, "writing the checkpoint into %s until it is complete", c->tmp_path);
	return open_dir(c, op, err);
}

/* Once CRIU runs: clear an old checkpoint (--force), set the marker. */
int ck_dir_prepare(ck_dump *c, const char *op, crpc_error **err)
{
	int fd;

	if (c->dir_existed) {
		if (make_private(c, true, op, err) < 0)
			return -1;
		if (c->o.p.force) {
			/* the manifest first: the old checkpoint stops counting as whole at once */
			if (unlinkat(c->o.dirfd, CRPC_MANIFEST_NAME, 0) < 0 && errno != ENOENT)
				return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot remove %s/%s",
						      c->o.p.dir, CRPC_MANIFEST_NAME);
			if (walk_ckpt_files(c->o.dirfd, CLEAN_FORCE, NULL, 0, NULL, NULL, err) < 0)
				return -1;
			ck_info(&c->o, "--force: removed the previous checkpoint files from %s", c->o.p.dir);
		}
		/* files a failed dump must not remove: they were there before */
		if (walk_ckpt_files(c->o.dirfd, CLEAN_FAILED, NULL, 0, &c->pre_files, &c->n_pre_files, err) <
		    0)
			return -1;
	}
	/* a temporary directory has it from its creation (ck_dumpdir_create()) */
	fd = openat(c->o.dirfd, CRPC_INPROGRESS_MARKER,
		    O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (c->created_dir ? O_TRUNC : O_CREAT | O_EXCL), 0600);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot create %s/%s", c->o.p.dir,
				      CRPC_INPROGRESS_MARKER);
	c->marker = true;
	if (dprintf(fd, "crpc dump of PID %d by crpc PID %d\n", (int)c->o.p.pid, (int)getpid()) < 0 ||
	    close(fd) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot write %s/%s", c->o.p.dir,
				      CRPC_INPROGRESS_MARKER);
	return 0;
}

/*
 * CRIU writes its images 0644: private (0600) they stay wherever DIR goes
 * later; until now DIR (0700) kept them from everyone else.
 */
void ck_files_private(int dirfd)
{
	DIR *d = io_opendir_at(dirfd, ".");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_mode & 077))
			(void)fchmodat(dirfd, de->d_name, st.st_mode & 0700, 0);
	}
	closedir(d);
}

int ck_file_replace(int dirfd, const char *tmp, const char *name, const char *text, bool sync,
		    const char *op, crpc_error **err)
{
	int fd, e;

	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot remove a stale %s", tmp);
	do
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot create %s", tmp);
	if (io_write_full(fd, text, strlen(text)) < 0 || io_write_full(fd, "\n", 1) < 0 ||
	    (sync && fsync(fd) < 0)) {
		e = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", tmp);
	}
	if (close(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		e = errno;
		unlinkat(dirfd, tmp, 0);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", name);
	}
	return 0;
}

int ck_marker_write(int dirfd, const char *text, const char *op, crpc_error **err)
{
	return ck_file_replace(dirfd, CRPC_INPROGRESS_MARKER ".tmp", CRPC_INPROGRESS_MARKER, text, false, op,
			       err);
}

/* Rename the temporary directory to DIR (on failure it stays, with a warning). */
int ck_dir_move_into_place(ck_dump *c)
{
	crpc_error *e = NULL;

	if (ck_dumpdir_commit(c->tmp_path, c->o.p.dir, c->o.dirfd, &e) < 0) {
		ck_warn(&c->o, "%s; what the dump left is in %s", e && e->message ? e->message : "?",
			c->tmp_path);
		crpc_error_free(e);
		return -1;
	}
	free(c->tmp_path);
	c->tmp_path = NULL;
	free(c->o.dir_real);
	c->o.dir_real = realpath(c->o.p.dir, NULL);
	return 0;
}

/* After a failed dump: leave nothing that looks like a checkpoint. */
void ck_dir_cleanup_failed(ck_dump *c)
{
	static const char *const nothing[] = { NULL };
	crpc_error *e = NULL;

	if (c->o.dirfd < 0 || (!c->marker && !c->created_dir))
		return; /* DIR was not touched */
	if (walk_ckpt_files(c->o.dirfd, CLEAN_FAILED, c->pre_files, c->n_pre_files, NULL, NULL, &e) < 0) {
		ck_warn(&c->o, "%s", e && e->message ? e->message : "cleanup failed");
		crpc_error_free(e);
	}
	c->marker = false;
	if (c->created_dir && dir_only_holds(c->o.dirfd, nothing) == 1) {
		const char *path = c->tmp_path ? c->tmp_path : c->o.p.dir;

		if (rmdir(path) < 0)
			ck_warn(&c->o, "cannot remove %s: %s", path, strerror(errno));
		else {
			free(c->o.dir_real);
			c->o.dir_real = NULL;
		}
		return;
	}
	/* what is left (CRIU's log, hooks.log) goes where the user looks: DIR */
	if (c->tmp_path)
		ck_dir_move_into_place(c);
}
