/* SPDX-License-Identifier: MIT */
/*
 * dumpdir.c - the temporary directory a dump into a new DIR runs in: made
 * next to DIR, renamed to DIR once the checkpoint is complete, and found
 * again when an interrupted dump left it behind (see crpc/manifest.h), and
 * crpc_checkpoint_dir_open(), which names such a leftover.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/ck_int.h"
#include "crpc/manifest.h"
#include "internal.h"

/* dir without trailing slashes (at least one character), malloc'ed. */
static char *trim_slashes(const char *dir)
{
	char *d = strdup(dir);
	size_t n;

	if (!d)
		return NULL;
	n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}

int ck_dumpdir_create(const char *dir, char **tmp_path, crpc_error **err)
{
	cleanup_free char *base = trim_slashes(dir);
	char *t = NULL;

	*tmp_path = NULL;
	if (!base || asprintf(&t, "%s%sXXXXXX", base, CRPC_DUMPDIR_TMP_INFIX) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "preparing the images directory",
				      "out of memory");
	if (!mkdtemp(t)) {
		int e = errno;

		crpc_error_set(err, CRPC_EXIT_FAIL, e, "preparing the images directory",
			       "cannot create %s (as %s until the checkpoint is complete)", base, t);
		if (err && *err && e == EROFS)
			crpc_error_set_hint(*err, "choose a directory on a writable file system");
		else if (err && *err && (e == EACCES || e == EPERM))
			crpc_error_set_hint(*err,
					    "the parent of %s must be writable; or create %s first "
					    "(an existing directory is written in place)",
					    base, base);
		free(t);
		return -1;
	}
	/* unfinished from the start: a crpc killed right now leaves a directory that says so */
	{
		char marker[PATH_MAX];
		int fd;

		snprintf(marker, sizeof(marker), "%s/%s", t, CRPC_INPROGRESS_MARKER);
		fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			int e = errno;

			rmdir(t);
			crpc_error_set(err, CRPC_EXIT_FAIL, e, "preparing the images directory",
				       "cannot create %s", marker);
			free(t);
			return -1;
		}
		close(fd);
	}
	*tmp_path = t;
	return 0;
}

static void sync_parent(const char *path)
{
	cleanup_free char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

int ck_dumpdir_commit(const char *tmp_path, const char *dir, int dirfd, crpc_error **err)
{
	cleanup_free char *base = trim_slashes(dir);

	if (!base)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "completing the checkpoint",
				      "out of memory");
	if (rename(tmp_path, base) < 0) {
		int e = errno;

		crpc_error_set(err, CRPC_EXIT_FAIL, e, "completing the checkpoint",
			       "cannot rename %s to %s%s", tmp_path, base,
			       e == EEXIST || e == ENOTEMPTY ? ": something else created it meanwhile" : "");
		return -1;
	}
	if (dirfd >= 0 && fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS) {
		crpc_error_set(err, CRPC_EXIT_FAIL, errno, "completing the checkpoint",
			       "%s is in place but cannot be synced to disk", base);
		return -2;
	}
	sync_parent(base);
	return 0;
}

char *ck_dumpdir_leftover(const char *dir)
{
	cleanup_free char *base = trim_slashes(dir);
	cleanup_free char *c1 = NULL, *c2 = NULL;
	const char *parent, *name;
	char *found = NULL;
	struct dirent *de;
	size_t nlen, ilen = strlen(CRPC_DUMPDIR_TMP_INFIX);
	DIR *d;

	if (!base || !(c1 = strdup(base)) || !(c2 = strdup(base)))
		return NULL;
	parent = dirname(c1);
	name = basename(c2);
	nlen = strlen(name);
	d = opendir(parent);
	if (!d)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, name, nlen) == 0 &&
		    strncmp(de->d_name + nlen, CRPC_DUMPDIR_TMP_INFIX, ilen) == 0 &&
		    strlen(de->d_name + nlen + ilen) == 6) {
			if (!strchr(base, '/'))
				found = strdup(de->d_name); /* as relative as DIR was given */
			else if (asprintf(&found, "%s/%s", strcmp(parent, "/") ? parent : "", de->d_name) < 0)
				found = NULL;
			break;
		}
	}
	closedir(d);
	return found;
}

bool ck_dumpdir_criu_finished(int dirfd)
{
	struct stat st;

	/* CRIU writes its statistics last, after the post-dump step and only
	 * when the dump succeeded: the images are whole and the tree was ended
	 * (or left running with --leave-running) */
	return fstatat(dirfd, "stats-dump", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

bool ck_dumpdir_container_intent(int fd, char *buf, size_t size)
{
	cleanup_free uint8_t *text = NULL;
	size_t len = 0;
	json_t *root, *ec;
	const char *engine, *name;
	bool found = false;

	if (fd < 0 || crpc__read_whole_at(fd, CRPC_INPROGRESS_MARKER, 1u << 20, &text, &len) < 0)
		return false;
	root = json_loadb((const char *)text, len, 0, NULL);
	ec = json_object_get(root, "engine_call");
	engine = json_string_value(json_object_get(ec, "engine"));
	name = json_string_value(json_object_get(ec, "name"));
	if (!name || !*name)
		name = json_string_value(json_object_get(ec, "id"));
	if (engine && name) {
		snprintf(buf, size, "%s:%s", engine, name);
		found = true;
	}
	json_decref(root);
	return found;
}

void ck_dumpdir_hint(crpc_error *e, const char *dir, const char *leftover)
{
	char ct[512];
	bool container;
	const char *where = leftover ? leftover : dir;
	struct stat st;
	bool finished, whole;
	int fd;

	if (!e || !where)
		return;
	fd = open(where, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	finished = fd >= 0 && ck_dumpdir_criu_finished(fd);
	/* crpc.json written and the marker gone: only the rename into place is missing */
	whole = finished && fstatat(fd, CRPC_MANIFEST_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		fstatat(fd, CRPC_INPROGRESS_MARKER, &st, AT_SYMLINK_NOFOLLOW) < 0;
	container = !whole && ck_dumpdir_container_intent(fd, ct, sizeof(ct));
	if (fd >= 0)
		close(fd);
	/*
	 * A container's engine carries on without crpc: its checkpoint may
	 * have stopped the container and be the only copy, outside the
	 * leftover (podman's export) or in it.
	 */
	if (container)
		crpc_error_set_hint(
			e,
			"an interrupted dump of %s into %s left %s: the engine may have finished "
			"the checkpoint and stopped the container, and then this is its only copy. "
			"Keep it: `crpc recover %s` completes the checkpoint%s%s if the engine "
			"finished it, else says the container runs on and removes what the dump left",
			ct, dir, where, where, leftover ? " as " : " in place", leftover ? dir : "");
	else if (whole && leftover)
		crpc_error_set_hint(e,
				    "an interrupted dump into %s left %s, which holds a dump CRIU finished "
				    "before crpc was stopped, complete with its crpc.json: only the rename "
				    "into place is missing. Keep it: `crpc recover %s` verifies it and moves "
				    "it to %s, then `crpc restore %s`",
				    dir, leftover, leftover, dir, dir);
	else if (finished && leftover)
		crpc_error_set_hint(e,
				    "an interrupted dump into %s left %s, which holds a dump CRIU finished "
				    "before crpc was stopped: its images are whole (the tree ended with the "
				    "dump, unless it was left running), only crpc.json is missing. Keep it: "
				    "`crpc recover %s` completes it as %s, then `crpc restore %s`",
				    dir, leftover, leftover, dir, dir);
	else if (finished)
		crpc_error_set_hint(e,
				    "%s holds a dump CRIU finished before crpc was stopped: its images are "
				    "whole (the tree ended with the dump, unless it was left running), only "
				    "crpc.json is missing. Keep it: `crpc recover %s` completes it in place, "
				    "then `crpc restore %s`",
				    dir, dir, dir);
	else if (leftover)
		crpc_error_set_hint(e,
				    "an interrupted dump into %s left %s, in which CRIU did not finish (the "
				    "tree was left running): not a checkpoint; dump again",
				    dir, leftover);
	else
		crpc_error_set_hint(e,
				    "CRIU did not finish the dump into %s (the tree was left running): "
				    "dump again, into an empty directory",
				    dir);
}

CRPC_API int crpc_checkpoint_dir_open(const char *dir, const char *op, crpc_error **err)
{
	struct stat st;
	int fd;

	if (stat(dir, &st) < 0) {
		if (errno == ENOENT) {
			cleanup_free char *left = ck_dumpdir_leftover(dir);

			crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, op, "%s does not exist", dir);
			if (left && err && *err)
				ck_dumpdir_hint(*err, dir, left);
			return -1;
		}
		if (errno == ENOTDIR)
			return crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op,
					      "%s: a component of the path is not a directory", dir);
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot access %s", dir);
	}
	if (!S_ISDIR(st.st_mode))
		return crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op, "%s is not a directory", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot open %s", dir);
	return fd;
}
