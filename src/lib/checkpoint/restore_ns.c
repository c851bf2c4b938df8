/* SPDX-License-Identifier: MIT */
/*
 * restore_ns.c - a restore of a tree that had namespaces of its own: CRIU
 * recreates the namespaces from the images; crpc gives it what lay outside
 * them, as crpc.json recorded it at the dump. The root (CRIU binds the new
 * mount namespace's root from it), the files the tree held open on mounts
 * of another mount namespace (opened again by path, checked to be the same
 * file, passed as inherit_fd under CRIU's key) and the outside ends of veth
 * pairs (external veth[NAME]:PEER@BRIDGE, so the pair comes back with the
 * same names and bridge). What the user passed wins over each.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "checkpoint/ck_int.h"

static bool user_inherits(const crpc_opts *o, const char *key)
{
	for (size_t i = 0; i < o->n_inherit_fd; i++)
		if (o->inherit_fd[i].key && strcmp(o->inherit_fd[i].key, key) == 0)
			return true;
	return false;
}

static bool user_external_prefix(const crpc_opts *o, const char *prefix)
{
	size_t l = strlen(prefix);

	for (size_t i = 0; i < o->n_external; i++)
		if (o->external[i] && strncmp(o->external[i], prefix, l) == 0)
			return true;
	return false;
}

/* Open path again as the tree had it (inheritable: for CRIU). -1 with errno. */
static int reopen(const crpc_manifest_ext_file *f)
{
	struct stat st;
	int fd, fl;

	do
		fd = open(f->path, (int)(f->flags & (O_ACCMODE | O_APPEND)) | O_NONBLOCK | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != f->inode ||
	    (f->dev && (uint64_t)st.st_dev != f->dev)) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, (fl & ~O_NONBLOCK) | (int)(f->flags & O_NONBLOCK)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * For each image file CRIU wrote in the images directory (NAME.img, a
 * regular file of root's, not a link), set its group to gid and let the
 * group read it (grant), or put back root's group and take that away
 * (!grant) from the files that have gid.
 */
static int images_group(int dirfd, gid_t gid, bool grant)
{
	DIR *d;
	struct dirent *de;
	int fd, rc = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(d))) {
		size_t l = strlen(de->d_name);
		struct stat st;
		int f;

		if (l < 5 || strcmp(de->d_name + l - 4, ".img") != 0)
			continue;
		f = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (f < 0) {
			rc = -1;
			continue;
		}
		if (fstat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0) {
			if (grant &&
			    (fchown(f, (uid_t)-1, gid) < 0 || fchmod(f, (st.st_mode & 07777) | S_IRGRP) < 0))
				rc = -1;
			if (!grant && st.st_gid == gid &&
			    (fchown(f, (uid_t)-1, 0) < 0 ||
			     fchmod(f, st.st_mode & 07777 & ~(mode_t)S_IRWXG) < 0))
				rc = -1;
		}
		close(f);
	}
	if (errno)
		rc = -1;
	closedir(d);
	return rc;
}

/*
 * The grant is recorded in the images directory before it is made: the
 * gid, and the directory's group and mode to put back. Every restore that
 * relies on it holds a shared lock on the record; the last one out (the
 * one that gets the lock exclusively) takes the grant back and removes the
 * record. A record that no live restore locks was left by a killed crpc:
 * the next restore of the directory takes the grant back first.
 */
#define UNS_GRANT_FILE ".crpc-uns-grant"

struct uns_grant {
	unsigned gid, dir_gid, dir_mode;
};

/*
 * Open the record (creating it when asked), lock it with flock(how) and
 * make sure it is still the directory's: a regular file of root's, that
 * nobody else can write, not removed while the lock was awaited. -1 with
 * errno (ENOENT: no record; EWOULDBLOCK: locked by a live restore).
 */
static int grant_lock(int dirfd, bool create, int how)
{
	for (int tries = 0; tries < 8; tries++) {
		int fd = openat(dirfd, UNS_GRANT_FILE,
				O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
		struct stat st;
		int e;

		if (fd < 0)
			return -1;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
			e = errno;
			if (fstat(fd, &st) == 0)
				e = EPERM;
			close(fd);
			errno = e;
			return -1;
		}
		while (flock(fd, how) < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (fstat(fd, &st) == 0 && st.st_nlink > 0)
			return fd;
		close(fd); /* taken back and removed while we waited: open anew */
	}
	errno = EAGAIN;
	return -1;
}

/* 1 with the record read, 0 when it is empty (nothing was granted), -1 when it is not ours */
static int grant_read(int fd, struct uns_grant *g)
{
	char buf[128];
	ssize_t n = io_pread_full(fd, buf, sizeof(buf) - 1, 0);
	int end = 0;

	if (n <= 0)
		return n == 0 ? 0 : -1;
	buf[n] = '\0';
	if (sscanf(buf, "gid %u dir_gid %u dir_mode %o\n%n", &g->gid, &g->dir_gid, &g->dir_mode, &end) != 3 ||
	    end != n || g->dir_mode > 07777 || g->gid == 0) {
		errno = EBADMSG;
		return -1;
	}
	return 1;
}

static int grant_write(int fd, const struct uns_grant *g)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "gid %u dir_gid %u dir_mode %o\n", g->gid, g->dir_gid,
			 g->dir_mode);

	if (ftruncate(fd, 0) < 0 || io_write_full(fd, buf, (size_t)n) < 0)
		return -1;
	return fsync(fd);
}

/* Take the grant back, then the record (the caller holds it exclusively). */
static int grant_undo(int dirfd, int fd, const struct uns_grant *g)
{
	if (g && (images_group(dirfd, (gid_t)g->gid, false) < 0 || fchmod(dirfd, (mode_t)g->dir_mode) < 0 ||
		  fchown(dirfd, (uid_t)-1, (gid_t)g->dir_gid) < 0))
		return -1;
	if (ftruncate(fd, 0) < 0 || (unlinkat(dirfd, UNS_GRANT_FILE, 0) < 0 && errno != ENOENT))
		return -1;
	return 0;
}

/*
 * A tree in a user namespace of its own: CRIU's restored tasks are uid and
 * gid 0 of the new namespace (the ids the dump recorded outside) when they
 * open their images, without any right over root's files. Let that gid
 * search the images directory and read the images, for the time of the
 * restore (ck_restore_ns_close() takes it back).
 */
static int grant_userns(ck_op *o, gid_t gid, crpc_error **err)
{
	struct uns_grant g = { 0 };
	struct stat st;
	int fd, r;

	fd = grant_lock(o->dirfd, true, LOCK_EX | LOCK_NB);
	if (fd >= 0) {
		/* alone: a record here is a killed restore's, whose directory mode is the one to keep */
		o->uns_fd = fd;
		r = grant_read(fd, &g);
		if (r > 0 && g.gid != gid && grant_undo(o->dirfd, fd, &g) < 0)
			goto fail;
		if (r <= 0 || g.gid != gid) {
			if (fstat(o->dirfd, &st) < 0)
				goto fail;
			g = (struct uns_grant){ gid, st.st_gid, st.st_mode & 07777 };
			if (grant_write(fd, &g) < 0)
				goto fail;
		}
		o->uns_granted = true;
		if (fchown(o->dirfd, (uid_t)-1, gid) < 0 ||
		    fchmod(o->dirfd, ((mode_t)g.dir_mode & ~(mode_t)S_IRWXG) | S_IXGRP) < 0 ||
		    images_group(o->dirfd, gid, true) < 0 || flock(fd, LOCK_SH) < 0)
			goto fail;
	} else if (errno == EWOULDBLOCK) {
		/* another restore of this directory holds the grant: share it */
		fd = grant_lock(o->dirfd, false, LOCK_SH);
		if (fd < 0)
			goto fail;
		o->uns_fd = fd;
		if (grant_read(fd, &g) <= 0 || g.gid != gid) {
			errno = EBUSY;
			goto fail;
		}
		o->uns_granted = true;
	} else {
		goto fail;
	}
	o->uns_gid = gid;
	ck_notice(o,
		  "the tree has a user namespace of its own: gid %u (its gid 0) may read the images "
		  "until the restore is done",
		  (unsigned)gid);
	return 0;
fail:
	crpc_error_set(err, CRPC_EXIT_FAIL, errno, o->op,
		       "cannot let gid %u (the tree's user namespace's gid 0) read the images",
		       (unsigned)gid);
	if (err && *err)
		crpc_error_set_hint(*err,
				    "the tasks CRIU restores in the tree's user namespace read their images "
				    "as that gid; restore from a directory on a file system that allows chown, "
				    "and where crpc alone (root) can write " UNS_GRANT_FILE);
	o->uns_gid = gid;
	return -1;
}

void ck_restore_ns_leftover(ck_op *o)
{
	struct uns_grant g;
	int fd = grant_lock(o->dirfd, false, LOCK_EX | LOCK_NB);
	int r;

	if (fd < 0) {
		if (errno != ENOENT && errno != EWOULDBLOCK)
			ck_warn(o, "%s in the images directory is not crpc's (%s): left as it is",
				UNS_GRANT_FILE, strerror(errno));
		return;
	}
	r = grant_read(fd, &g);
	if (r < 0)
		ck_warn(o, "%s in the images directory cannot be read (%s): left as it is", UNS_GRANT_FILE,
			strerror(errno));
	else if (grant_undo(o->dirfd, fd, r > 0 ? &g : NULL) < 0)
		ck_warn(o, "could not take back the access to the images a killed restore gave (%s)",
			strerror(errno));
	else if (r > 0)
		ck_warn(o,
			"a restore of this checkpoint was killed while gid %u could read its images: that access "
			"is taken back",
			g.gid);
	close(fd);
}

int ck_restore_ns(ck_op *o, crpc_error **err)
{
	const crpc_manifest_ns *ns = &o->manifest.ns;

	if (!o->have_manifest || o->p.no_checkpoint_options || !ns->own)
		return 0;
	/*
	 * CRIU binds the external mounts back from where they were: one that is
	 * gone fails the restore halfway, so say which before CRIU runs
	 */
	for (size_t i = 0; i < ns->n_mounts; i++) {
		const crpc_manifest_ext_mount *m = &ns->mounts[i];
		char key[PATH_MAX + 8];
		struct stat st;

		if (strcmp(m->mountpoint, "/") == 0)
			continue; /* the root: given as root below */
		snprintf(key, sizeof(key), "mnt[%s]", m->source);
		if (user_external_prefix(&o->opts, key))
			continue;
		if (stat(m->source, &st) == 0) {
			if (major(st.st_dev) != m->major || minor(st.st_dev) != m->minor)
				ck_warn(o,
					"mount %s of the tree was bound at the dump from %s, then on device %u:%u; it "
					"is on %u:%u now: the tree gets what is there now",
					m->mountpoint, m->source, m->major, m->minor, major(st.st_dev),
					minor(st.st_dev));
			continue;
		}
		crpc_error_set(err, CRPC_EXIT_FAIL, errno, o->op,
			       "mount %s of the tree was bound at the dump from %s in crpc's mount namespace, "
			       "which is gone: CRIU cannot bind it back",
			       m->mountpoint, m->source);
		if (err && *err)
			crpc_error_set_hint(*err,
					    "make %s exist again (mount what was there), or give another "
					    "directory: crpc restore --external 'mnt[%s]:DIR'",
					    m->source, m->source);
		return -1;
	}
	if ((ns->own & (1u << CRPC_NS_USER)) && ns->userns_gid0 > 0 && ns->userns_gid0 <= UINT32_MAX - 1 &&
	    grant_userns(o, (gid_t)ns->userns_gid0, err) < 0)
		return -1;
	if ((ns->own & (1u << CRPC_NS_MNT)) && !o->opts.root) {
		o->opts.root = ns->root ? ns->root : "/";
		ck_notice(o, "from the checkpoint: root=%s (the root of the tree's own mount namespace)",
			  o->opts.root);
	}
	if (ns->n_files && !(o->ns_fds = calloc(ns->n_files, sizeof(*o->ns_fds))))
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, o->op, "out of memory");
	for (size_t i = 0; i < ns->n_files; i++) {
		const crpc_manifest_ext_file *f = &ns->files[i];
		int fd;

		if (user_inherits(&o->opts, f->key)) {
			ck_notice(o, "%s: passed by you with inherit_fd", f->key);
			continue;
		}
		fd = reopen(f);
		if (fd < 0) {
			int e = errno;

			crpc_error_set(err, CRPC_EXIT_FAIL, e, o->op,
				       "cannot give the tree back %s, which it held open as %s from outside its "
				       "mount namespace%s",
				       f->path, f->key,
				       e == ESTALE ? ": that path now names another file" : "");
			if (err && *err)
				crpc_error_set_hint(
					*err,
					"open the file it should get in crpc and pass it: crpc restore "
					"--inherit-fd 'fd[N]:%s'",
					f->key);
			return -1;
		}
		o->ns_fds[o->n_ns_fds++] = fd;
		if (crpc_opts_add_inherit_fd(&o->opts, f->key, fd, err) < 0)
			return -1;
		ck_notice(o, "gave back %s as %s (open outside the tree's mount namespace at the dump)",
			  f->path, f->key);
	}
	for (size_t i = 0; i < ns->n_veths; i++) {
		const crpc_manifest_veth *v = &ns->veths[i];
		char prefix[40], *e;

		snprintf(prefix, sizeof(prefix), "veth[%s]", v->name);
		if (user_external_prefix(&o->opts, prefix)) {
			ck_notice(o, "%s: given by you with --external", prefix);
			continue;
		}
		e = crpc__strdup_printf("%s:%s%s%s", prefix, v->peer, v->bridge ? "@" : "",
					v->bridge ? v->bridge : "");
		if (crpc__strv_push(&o->ns_ext, &o->n_ns_ext, e) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, o->op, "out of memory");
		if (crpc_opts_add_external(&o->opts, e, err) < 0)
			return -1;
		ck_notice(o,
			  "from the checkpoint: external=%s (the veth's other end, in crpc's network namespace)",
			  e);
		if (v->peer_addrs)
			ck_warn(o,
				"veth %s comes back without the addresses it had outside the tree (%s): add them "
				"again once the restore is done, e.g. ip addr add %.*s dev %s",
				v->peer, v->peer_addrs, (int)strcspn(v->peer_addrs, " "), v->peer_addrs,
				v->peer);
	}
	return 0;
}

void ck_restore_ns_close(ck_op *o)
{
	if (o->uns_fd >= 0) {
		struct uns_grant g;

		/* the last restore relying on the grant takes it back; another holding it, when it ends */
		if (o->uns_granted && o->dirfd >= 0 && flock(o->uns_fd, LOCK_EX | LOCK_NB) == 0 &&
		    (grant_read(o->uns_fd, &g) <= 0 || grant_undo(o->dirfd, o->uns_fd, &g) < 0))
			ck_warn(o,
				"could not take back gid %u's access to the images (%s): check the "
				"group and mode of the images directory",
				(unsigned)o->uns_gid, strerror(errno));
		close(o->uns_fd);
		o->uns_fd = -1;
		o->uns_granted = false;
	}
	for (size_t i = 0; i < o->n_ns_fds; i++)
		if (o->ns_fds[i] >= 0)
			close(o->ns_fds[i]);
	free(o->ns_fds);
	o->ns_fds = NULL;
	o->n_ns_fds = 0;
}
