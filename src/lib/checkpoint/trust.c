/* SPDX-License-Identifier: MIT */
/*
 * trust.c - whether the caller may restore what a checkpoint directory holds.
 *
 * Restoring runs the checkpointed tree on the memory, registers and files
 * of the images: whoever can change them before a restore as root has root.
 * The rule is sshd's StrictModes: the directory and everything in it must
 * belong to the caller or to root (or to a user the caller names), and no
 * group or other may write any of it. A checksum proves nothing here: who
 * can rewrite an image can rewrite crpc.json with it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Check one object (name NULL: the directory itself). -1 with err when it is not trusted. */
static int check_one(const struct stat *st, const char *dir, const char *name, uid_t also, const char *op,
		     crpc_error **err)
{
	crpc__owner_verdict v = crpc__owner_check(st, also);
	char who[160], what[PATH_MAX + 64];

	if (name)
		snprintf(what, sizeof(what), "%s/%s", dir, name);
	else
		snprintf(what, sizeof(what), "%s", dir);
	if (v == CRPC__OWNER_FOREIGN) {
		crpc__user_name(st->st_uid, who, sizeof(who));
		crpc_error_set(err, CRPC_EXIT_FAIL, EPERM, op,
			       "refusing to restore from %s: %s belongs to %s, neither root nor the caller: "
			       "whoever owns it could have changed what the restore runs",
			       dir, what, who);
		if (err && *err)
			crpc_error_set_hint(*err, "check where the checkpoint comes from; "
						  "--trust-owner USER accepts files of that user");
		return -1;
	}
	if (name && S_ISLNK(st->st_mode)) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ELOOP, op,
			       "refusing to restore from %s: %s is a symbolic link (a checkpoint has none)",
			       dir, what);
		return -1;
	}
	/* a symbolic link's mode says nothing: it is refused above */
	if (v == CRPC__OWNER_WRITABLE) {
		crpc_error_set(err, CRPC_EXIT_FAIL, EPERM, op,
			       "refusing to restore from %s: %s is writable by %s (mode %04o)", dir, what,
			       crpc__writable_by(st), (unsigned)(st->st_mode & 07777));
		if (err && *err)
			crpc_error_set_hint(*err,
					    "make it private (chmod go-w) once you know nobody changed it");
		return -1;
	}
	return 0;
}

CRPC_API int crpc_manifest_check_trust(int dirfd, const char *dir_name, uid_t also_trusted, crpc_error **err)
{
	const char *op = "restore";
	struct stat st;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (fstat(dirfd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot stat %s", dir_name);
	if (check_one(&st, dir_name, NULL, also_trusted, op, err) < 0)
		return -1;
	d = io_opendir_at(dirfd, ".");
	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s", dir_name);
	while (rc == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			rc = crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot stat %s/%s", dir_name,
					    e->d_name);
			break;
		}
		rc = check_one(&st, dir_name, e->d_name, also_trusted, op, err);
	}
	closedir(d);
	return rc;
}
