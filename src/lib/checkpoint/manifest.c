/* SPDX-License-Identifier: MIT */
/*
 * manifest.c - crpc.json: writing it once a dump is complete, reading it,
 * and verifying a checkpoint against it; and the temporary directory a
 * dump into a new DIR runs in. See crpc/manifest.h.
 *
 * Files are hashed with OpenSSL's SHA-256 (EVP interface), streamed through
 * one bounded buffer. Before hashing, the write-back of every file is
 * started, so that the sync after the hashes mostly finds the data already
 * on its way to the disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "crpc/manifest.h"
#include "imgfile.h"
#include "internal.h"
#include "base/sha256.h"
#include "base/jsonutil.h"

#define MANIFEST_TMP CRPC_MANIFEST_NAME ".tmp"
#define MANIFEST_MAX (64u << 20)
#define HASH_BUF (1u << 20)
#define NAME_MAX_LEN 255

/* ---- small helpers ------------------------------------------------------ */

static char *xstrdup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static bool utf8_valid(const char *s)
{
	json_t *j = json_string(s);

	if (!j)
		return false;
	json_decref(j);
	return true;
}

static int mf_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool mf_safe_name(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len <= NAME_MAX_LEN && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..");
}

static bool mf_in_strv(const char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Files of a checkpoint crpc itself keeps out of the manifest. */
static bool crpc_own_file(const char *name)
{
	return strcmp(name, CRPC_MANIFEST_NAME) == 0 || strcmp(name, MANIFEST_TMP) == 0 ||
	       strcmp(name, CRPC_INPROGRESS_MARKER) == 0;
}

static bool mf_is_image_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".img") == 0;
}

/* What the manifest calls a file: "log" (not verified), "image" (CRIU's) or "other". */
static const char *file_kind(const char *const *logs, const char *name)
{
	if (mf_in_strv(logs, name))
		return "log";
	if (mf_is_image_name(name) || strcmp(name, "stats-dump") == 0)
		return "image";
	return "other";
}

/* ---- options -------------------------------------------------------------- */

/*
 * gcc 12's analyzer loses track of strings stored into a slot of a heap
 * array and reports them as leaked; the array owns them (freed by
 * crpc_manifest_options_release(), checked under ASan's leak checker).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
CRPC_API int crpc_manifest_options_add(crpc_manifest_options *l, const char *option,
				       const char *value, const char *source, const char *reason,
				       crpc_error **err)
{
	crpc_manifest_option *nv, *slot;
	bool oom = false;

	if (!option)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "recording the options", "no option name");
	for (size_t i = 0; i < l->n; i++) {
		const crpc_manifest_option *e = &l->v[i];

		if (strcmp(e->option, option) == 0 &&
		    ((!e->value && !value) || (e->value && value && strcmp(e->value, value) == 0)))
			return 0;
	}
	/* grow the array first, then fill the new slot in place */
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "recording the options", "out of memory");
	l->v = nv;
	slot = &l->v[l->n];
	slot->option = xstrdup_or_null(option, &oom);
	slot->value = xstrdup_or_null(value, &oom);
	slot->source = xstrdup_or_null(source ? source : "user", &oom);
	slot->reason = xstrdup_or_null(reason, &oom);
	if (oom) {
		free(slot->option);
		free(slot->value);
		free(slot->source);
		free(slot->reason);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "recording the options", "out of memory");
	}
	l->n++;
	return 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

CRPC_API void crpc_manifest_options_release(crpc_manifest_options *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].option);
		free(l->v[i].value);
		free(l->v[i].source);
		free(l->v[i].reason);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int add_bool(crpc_manifest_options *l, const char *name, bool eff, bool cfg, crpc_error **err)
{
	if (!eff)
		return 0;
	return crpc_manifest_options_add(l, name, "true", cfg ? "config" : "user", NULL, err);
}

static int add_u64(crpc_manifest_options *l, const char *name, bool set, uint64_t v, bool cfg_set,
		   uint64_t cfg_v, crpc_error **err)
{
	char buf[32];

	if (!set)
		return 0;
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return crpc_manifest_options_add(l, name, buf, cfg_set && cfg_v == v ? "config" : "user", NULL,
					 err);
}

static int add_str(crpc_manifest_options *l, const char *name, const char *v, const char *cfg,
		   crpc_error **err)
{
	if (!v)
		return 0;
	return crpc_manifest_options_add(l, name, v, cfg && strcmp(cfg, v) == 0 ? "config" : "user",
					 NULL, err);
}

static int add_list(crpc_manifest_options *l, const char *name, const char *const *v, size_t n,
		    const char *const *cfg, size_t n_cfg, crpc_error **err)
{
	for (size_t i = 0; i < n; i++) {
		bool from_cfg = false;

		for (size_t j = 0; j < n_cfg && !from_cfg; j++)
			from_cfg = cfg[j] && v[i] && strcmp(cfg[j], v[i]) == 0;
		if (v[i] && crpc_manifest_options_add(l, name, v[i], from_cfg ? "config" : "user", NULL,
						      err) < 0)
			return -1;
	}
	return 0;
}

CRPC_API int crpc_manifest_options_from_opts(crpc_manifest_options *l, const crpc_opts *o,
					     const crpc_opts *config, crpc_error **err)
{
	crpc_opts none;
	const crpc_opts *c = config;
	int r = 0;

	if (!c) {
		crpc_opts_init(&none);
		c = &none;
	}
#define B(field) r = r < 0 ? r : add_bool(l, #field, o->field, c->field, err)
	B(leave_running);
	B(tcp_established);
	B(tcp_close);
	B(tcp_skip_in_flight);
	B(ext_unix_sk);
	B(shell_job);
	B(file_locks);
	B(link_remap);
	B(evasive_devices);
	B(orphan_pts_master);
	B(leave_stopped);
	B(skip_file_rwx_check);
	B(auto_ext_mnt);
	B(ext_sharing);
	B(ext_masters);
	B(force_irmap);
	B(weak_sysctls);
	B(auto_dedup);
	B(mntns_compat_mode);
#undef B
	if (r < 0)
		return -1;
	if (add_u64(l, "ghost_limit", o->ghost_limit_set, o->ghost_limit, c->ghost_limit_set,
		    c->ghost_limit, err) < 0 ||
	    add_u64(l, "timeout", o->timeout != 0, o->timeout, c->timeout != 0, c->timeout, err) < 0 ||
	    add_u64(l, "empty_ns", o->empty_ns != 0, o->empty_ns, c->empty_ns != 0, c->empty_ns, err) < 0 ||
	    add_u64(l, "log_level", o->log_level >= 0, (uint64_t)(o->log_level < 0 ? 0 : o->log_level),
		    c->log_level >= 0, (uint64_t)(c->log_level < 0 ? 0 : c->log_level), err) < 0)
		return -1;
	if (o->manage_cgroups &&
	    (add_bool(l, "manage_cgroups", true, c->manage_cgroups, err) < 0 ||
	     (o->manage_cgroups_mode != CRPC_CG_UNSET &&
	      add_str(l, "manage_cgroups_mode", crpc_cg_mode_name(o->manage_cgroups_mode),
		      c->manage_cgroups_mode == o->manage_cgroups_mode
			      ? crpc_cg_mode_name(c->manage_cgroups_mode)
			      : NULL,
		      err) < 0)))
		return -1;
	if (o->network_lock != CRPC_NETLOCK_UNSET &&
	    add_str(l, "network_lock", crpc_network_lock_name(o->network_lock),
		    c->network_lock == o->network_lock ? crpc_network_lock_name(c->network_lock) : NULL,
		    err) < 0)
		return -1;
	if (add_str(l, "log_file", o->log_file, c->log_file, err) < 0 ||
	    add_str(l, "root", o->root, c->root, err) < 0 ||
	    add_str(l, "parent_img", o->parent_img, c->parent_img, err) < 0 ||
	    add_str(l, "lsm_profile", o->lsm_profile, c->lsm_profile, err) < 0 ||
	    add_str(l, "lsm_mount_context", o->lsm_mount_context, c->lsm_mount_context, err) < 0 ||
	    add_str(l, "cgroup_props", o->cgroup_props, c->cgroup_props, err) < 0 ||
	    add_str(l, "cgroup_props_file", o->cgroup_props_file, c->cgroup_props_file, err) < 0 ||
	    add_str(l, "cgroup_yard", o->cgroup_yard, c->cgroup_yard, err) < 0 ||
	    add_str(l, "freeze_cgroup", o->freeze_cgroup, c->freeze_cgroup, err) < 0)
		return -1;
	if (add_list(l, "external", o->external, o->n_external, c->external, c->n_external, err) < 0 ||
	    add_list(l, "skip_mnt", o->skip_mnt.v, o->skip_mnt.n, c->skip_mnt.v, c->skip_mnt.n, err) < 0 ||
	    add_list(l, "enable_fs", o->enable_fs.v, o->enable_fs.n, c->enable_fs.v, c->enable_fs.n, err) < 0 ||
	    add_list(l, "irmap_scan_paths", o->irmap_scan_paths.v, o->irmap_scan_paths.n,
		     c->irmap_scan_paths.v, c->irmap_scan_paths.n, err) < 0 ||
	    add_list(l, "cgroup_dump_controller", o->cgroup_dump_controller.v,
		     o->cgroup_dump_controller.n, c->cgroup_dump_controller.v,
		     c->cgroup_dump_controller.n, err) < 0)
		return -1;
	/* inherited fds: the resource only, the fd number means nothing later */
	for (size_t i = 0; i < o->n_inherit_fd; i++)
		if (o->inherit_fd[i].key &&
		    crpc_manifest_options_add(l, "inherit_fd", o->inherit_fd[i].key, "user", NULL, err) < 0)
			return -1;
	return 0;
}

/* ---- hashing ---------------------------------------------------------------- */

/* Hash an open file through buf; size read into *size. -1 with errno. */
static int hash_fd(int fd, crpc_sha256 *sh, uint8_t *buf, size_t bufsz, uint64_t *size, char hex[65])
{
	uint64_t total = 0;

	if (crpc_sha256_reset(sh) < 0) {
		errno = EIO;
		return -1;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = read(fd, buf, bufsz);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (crpc_sha256_update(sh, buf, (size_t)n) < 0) {
			errno = EIO;
			return -1;
		}
		total += (uint64_t)n;
	}
	if (crpc_sha256_final(sh, hex) < 0) {
		errno = EIO;
		return -1;
	}
	*size = total;
	return 0;
}

/* Open a regular file of dirfd for reading. -1 with errno (EINVAL: not a regular file). */
static int mf_open_regular(int dirfd, const char *name)
{
	struct stat st;
	int fd;

	do
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		if (errno == ELOOP)
			errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISREG(st.st_mode) ? errno : EINVAL;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A hashing context with its buffer (one for all the files). */
struct mf_hasher {
	crpc_sha256 *sh;
	uint8_t *buf;
};

/* -1 with *err: libcrypto could not be loaded, or no memory. */
static int mf_hasher_init(struct mf_hasher *h, const char *op, crpc_error **err)
{
	memset(h, 0, sizeof(*h));
	if (crpc_sha256_new(&h->sh, err) < 0)
		return -1;
	h->buf = malloc(HASH_BUF);
	if (!h->buf) {
		crpc_sha256_free(h->sh);
		h->sh = NULL;
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	}
	return 0;
}

static void mf_hasher_release(struct mf_hasher *h)
{
	crpc_sha256_free(h->sh);
	free(h->buf);
}

/* Hash dirfd/name (fsync'ed with sync). -1 with errno. */
static int mf_hash_file(struct mf_hasher *h, int dirfd, const char *name, bool sync, uint64_t *size,
			char hex[65])
{
	int fd = mf_open_regular(dirfd, name);
	int r;

	if (fd < 0)
		return -1;
	r = hash_fd(fd, h->sh, h->buf, HASH_BUF, size, hex);
	if (r == 0 && sync && fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
		r = -1;
	if (r < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

CRPC_API int crpc_sha256_file_at(int dirfd, const char *name, bool sync, uint64_t *size, char hex[65],
				 crpc_error **err)
{
	struct mf_hasher h;
	int r;

	if (mf_hasher_init(&h, "hashing", err) < 0)
		return -1;
	r = mf_hash_file(&h, dirfd, name, sync, size, hex);
	if (r < 0)
		crpc_error_set(err, CRPC_EXIT_FAIL, errno, "hashing", "cannot %s %s",
			       errno == EINVAL ? "hash (not a regular file)" : "read", name);
	mf_hasher_release(&h);
	return r;
}

/* ---- pipes the tree shared with processes outside it ------------------------- */

#define FILES_IMG "files.img"
#define FILES_MAGIC 0x56303138u
#define FILES_MAX (64u << 20)
#define FD_TYPE_PIPE 2u
#define FE_FIELD_TYPE 1u  /* file_entry.type */
#define FE_FIELD_PIPE 18u /* file_entry.pipe (pipe_entry) */
#define PE_FIELD_PIPE_ID 2u
#define PE_FIELD_FLAGS 3u
#define HOLDERS_MAX 16

/* A varint at *p (not past end). */
static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

/* Skip the value of a field of wire type wt. */
static bool pb_skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t v;

	switch (wt) {
	case 0:
		return pb_varint(p, end, &v);
	case 1:
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	case 2:
		if (!pb_varint(p, end, &v) || v > (uint64_t)(end - *p))
			return false;
		*p += v;
		return true;
	case 5:
		if (end - *p < 4)
			return false;
		*p += 4;
		return true;
	default:
		return false;
	}
}

/*
 * The pipe of a files.img entry: its inode (pipe_id) and open flags. Read
 * with a few lines of wire format rather than crpc's fdinfo.proto, which
 * leaves the pipe part out. false: not a pipe, or not decodable.
 */
static bool file_entry_pipe(const uint8_t *data, size_t len, uint32_t *inode, uint32_t *flags)
{
	const uint8_t *p = data, *end = data + len, *sub = NULL, *sub_end = NULL;
	uint64_t type = 0, key, v;
	bool have_id = false, have_flags = false;

	while (p < end) {
		if (!pb_varint(&p, end, &key))
			return false;
		if ((key >> 3) == FE_FIELD_TYPE && (key & 7) == 0) {
			if (!pb_varint(&p, end, &type))
				return false;
		} else if ((key >> 3) == FE_FIELD_PIPE && (key & 7) == 2) {
			if (!pb_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			sub = p;
			sub_end = p + v;
			p += v;
		} else if (!pb_skip(&p, end, (unsigned)(key & 7))) {
			return false;
		}
	}
	if (type != FD_TYPE_PIPE || !sub)
		return false;
	for (p = sub; p < sub_end;) {
		if (!pb_varint(&p, sub_end, &key))
			return false;
		if (((key >> 3) == PE_FIELD_PIPE_ID || (key >> 3) == PE_FIELD_FLAGS) && (key & 7) == 0) {
			if (!pb_varint(&p, sub_end, &v) || v > UINT32_MAX)
				return false;
			if ((key >> 3) == PE_FIELD_PIPE_ID) {
				*inode = (uint32_t)v;
				have_id = true;
			} else {
				*flags = (uint32_t)v;
				have_flags = true;
			}
		} else if (!pb_skip(&p, sub_end, (unsigned)(key & 7))) {
			return false;
		}
	}
	return have_id && have_flags;
}

/* One pipe of the tree, and which of its ends the tree holds. */
struct tree_pipe {
	uint32_t inode;
	bool reads, writes;
	crpc_manifest_pipe_holder holders[HOLDERS_MAX];
	size_t n_holders;
};

static int tree_pipe_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct tree_pipe *)a)->inode, y = ((const struct tree_pipe *)b)->inode;

	return x < y ? -1 : x > y;
}

/*
 * The pipes of files.img of which the tree holds one end only, sorted by
 * inode. 0 with *n = 0 when there is no such pipe or files.img cannot be
 * read (nothing to record then); -1 only on ENOMEM.
 */
static int tree_half_pipes(int dirfd, struct tree_pipe **out, size_t *n)
{
	struct blob b = { 0 };
	struct cursor c;
	struct tree_pipe *v = NULL;
	size_t cnt = 0, keep = 0;
	crpc_error *e = NULL;

	*out = NULL;
	*n = 0;
	if (crpc_img_open(dirfd, FILES_IMG, FILES_MAX, CRPC_IMG_COMMON_MAGIC, FILES_MAGIC,
			  "reading files.img", &b, &c, &e) < 0) {
		crpc_error_free(e);
		free(b.data);
		return 0;
	}
	for (size_t i = 0;; i++) {
		const uint8_t *data;
		size_t len, j;
		uint32_t ino = 0, flags = 0;
		int r = crpc_img_next(&c, FILES_IMG, i, "reading files.img", &data, &len, &e);

		if (r <= 0) {
			crpc_error_free(e);
			break;
		}
		if (!file_entry_pipe(data, len, &ino, &flags))
			continue;
		for (j = 0; j < cnt && v[j].inode != ino; j++)
			;
		if (j == cnt) {
			struct tree_pipe *nv = realloc(v, (cnt + 1) * sizeof(*nv));

			if (!nv) {
				free(v);
				free(b.data);
				return -1;
			}
			v = nv;
			memset(&v[cnt], 0, sizeof(v[cnt]));
			v[cnt++].inode = ino;
		}
		if ((flags & O_ACCMODE) == O_WRONLY)
			v[j].writes = true;
		else if ((flags & O_ACCMODE) == O_RDONLY)
			v[j].reads = true;
		else
			v[j].reads = v[j].writes = true;
	}
	free(b.data);
	for (size_t i = 0; i < cnt; i++)
		if (v[i].reads != v[i].writes)
			v[keep++] = v[i];
	if (!keep) {
		free(v);
		return 0;
	}
	qsort(v, keep, sizeof(*v), tree_pipe_cmp);
	*out = v;
	*n = keep;
	return 0;
}

static bool in_tree(const crpc_images_info *info, pid_t pid)
{
	for (size_t i = 0; info && i < info->n_tasks; i++) {
		if (info->tasks[i].task.pid == pid)
			return true;
		for (size_t j = 0; j < info->tasks[i].task.n_threads; j++)
			if (info->tasks[i].task.threads[j] == pid)
				return true;
	}
	return false;
}

/* Open flags of /proc/PID/fdinfo/FD (octal "flags:" line); -1 if unknown. */
static long fd_flags(int procfd, pid_t pid, const char *fd)
{
	char path[320], buf[512], *f;
	ssize_t n;
	int ffd;

	snprintf(path, sizeof(path), "%d/fdinfo/%s", (int)pid, fd);
	do
		ffd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	while (ffd < 0 && errno == EINTR);
	if (ffd < 0)
		return -1;
	do
		n = read(ffd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(ffd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	f = strstr(buf, "flags:");
	return f ? strtol(f + 6, NULL, 8) : -1;
}

/* "pipe:[N]" -> N; false for anything else. */
static bool mf_pipe_link_inode(const char *link, uint32_t *ino)
{
	char *end;
	unsigned long v;

	if (strncmp(link, "pipe:[", 6) != 0 || link[6] < '0' || link[6] > '9')
		return false;
	errno = 0;
	v = strtoul(link + 6, &end, 10);
	if (errno || strcmp(end, "]") != 0 || v > UINT32_MAX)
		return false;
	*ino = (uint32_t)v;
	return true;
}

/* Every process but the tree's: which of the pipes in v it holds. */
static void find_pipe_holders(const crpc_images_info *info, struct tree_pipe *v, size_t n)
{
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *proc = procfd >= 0 ? fdopendir(dup(procfd)) : NULL;
	struct dirent *de;

	if (!proc) {
		if (procfd >= 0)
			close(procfd);
		return;
	}
	while ((de = readdir(proc)) != NULL) {
		char path[64], link[64];
		struct dirent *fe;
		pid_t pid;
		DIR *fds;
		int dfd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (in_tree(info, pid))
			continue;
		snprintf(path, sizeof(path), "%d/fd", (int)pid);
		dfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		fds = fdopendir(dfd);
		if (!fds) {
			close(dfd);
			continue;
		}
		while ((fe = readdir(fds)) != NULL) {
			struct tree_pipe key, *tp;
			crpc_manifest_pipe_holder *h;
			ssize_t len = readlinkat(dirfd(fds), fe->d_name, link, sizeof(link) - 1);
			long fl;

			if (len <= 0 || fe->d_name[0] == '.')
				continue;
			link[len] = '\0';
			if (!mf_pipe_link_inode(link, &key.inode))
				continue;
			tp = bsearch(&key, v, n, sizeof(*v), tree_pipe_cmp);
			if (!tp || tp->n_holders >= HOLDERS_MAX)
				continue;
			h = &tp->holders[tp->n_holders++];
			memset(h, 0, sizeof(*h));
			h->pid = pid;
			h->fd = (int)strtol(fe->d_name, NULL, 10);
			fl = fd_flags(procfd, pid, fe->d_name);
			/* an end of unknown mode counts as the other end than the tree's */
			h->writes = fl >= 0 ? (fl & O_ACCMODE) != O_RDONLY : tp->reads;
			crpc_proc_comm(pid, h->comm, sizeof(h->comm));
		}
		closedir(fds);
	}
	closedir(proc);
	close(procfd);
}

/* Those at the other end of the pipe than the tree come first. */
static void order_holders(crpc_manifest_pipe_holder *h, size_t n, bool tree_writes)
{
	size_t front = 0;

	for (size_t i = 0; i < n; i++) {
		if (h[i].writes != tree_writes) {
			crpc_manifest_pipe_holder t = h[i];

			memmove(&h[front + 1], &h[front], (i - front) * sizeof(*h));
			h[front++] = t;
		}
	}
}

/*
 * "outside_pipes": the pipes of which the tree holds one end and processes
 * outside it hold the pipe too. Called once the dump is complete: a tree
 * that was not left running is gone (its PIDs are left out anyway).
 */
static json_t *outside_pipes_json(int dirfd, const crpc_images_info *info)
{
	struct tree_pipe *v = NULL;
	size_t n = 0;
	json_t *a = json_array();

	if (!a || tree_half_pipes(dirfd, &v, &n) < 0 || !n) {
		free(v);
		return a;
	}
	find_pipe_holders(info, v, n);
	for (size_t i = 0; i < n; i++) {
		json_t *o, *ha;

		if (!v[i].n_holders)
			continue; /* nobody else has it: the other end is closed */
		order_holders(v[i].holders, v[i].n_holders, v[i].writes);
		o = json_object();
		ha = json_array();
		json_object_set_new(o, "inode", json_integer(v[i].inode));
		json_object_set_new(o, "tree_end", json_string(v[i].writes ? "write" : "read"));
		for (size_t j = 0; j < v[i].n_holders; j++) {
			const crpc_manifest_pipe_holder *h = &v[i].holders[j];
			json_t *ho = json_object();

			json_object_set_new(ho, "pid", json_integer(h->pid));
			json_object_set_new(ho, "fd", json_integer(h->fd));
			json_object_set_new(ho, "end", json_string(h->writes ? "write" : "read"));
			json_object_set_new(ho, "comm", crpc_json_text(h->comm));
			json_array_append_new(ha, ho);
		}
		json_object_set_new(o, "holders", ha);
		json_array_append_new(a, o);
	}
	free(v);
	return a;
}

/* ---- the manifest's own checksum ---------------------------------------------- */

#define MF_SELF_SHA_KEY "manifest_sha256"

/*
 * SHA-256 of the manifest's content in canonical form: the object without
 * its own checksum, compact, keys sorted, ASCII only. -1 on ENOMEM.
 */
static int mf_self_sha256(json_t *root, char hex[65])
{
	json_t *copy = json_copy(root); /* shallow: the values are shared */
	char *text;
	int rc = -1;

	if (!copy)
		return -1;
	json_object_del(copy, MF_SELF_SHA_KEY);
	text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(copy);
	if (!text)
		return -1;
	if (crpc_sha256_buffer(text, strlen(text), hex, NULL) == 0)
		rc = 0;
	free(text);
	return rc;
}


/* ---- writing ---------------------------------------------------------------- */

/* Names of the regular files of dirfd the manifest lists, sorted. */
static int list_files(int dirfd, char ***names, size_t *n, crpc_error **err)
{
	const char *op = "writing the checkpoint's manifest";
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0;
	DIR *d;

	*names = NULL;
	*n = 0;
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read the images directory");
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot read the images directory");
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char **nv;

		if (crpc_own_file(de->d_name) || !mf_safe_name(de->d_name) || !utf8_valid(de->d_name))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*nv));
		if (!nv || !(nv[cnt] = strdup(de->d_name))) {
			if (nv)
				v = nv;
			for (size_t i = 0; i < cnt; i++)
				free(v[i]);
			free(v);
			closedir(d);
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
		}
		v = nv;
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), mf_name_cmp);
	*names = v;
	*n = cnt;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Ask the kernel to start writing every file back, so the fsyncs later wait less. */
static void start_writeback(int dirfd, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fd = mf_open_regular(dirfd, names[i]);

		if (fd < 0)
			continue;
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
	}
}

static void iso_time(char *buf, size_t bufsz)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, bufsz, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

static json_t *stats_json(const crpc_stats *st)
{
	json_t *o = json_object();

	json_object_set_new(o, "freezing_time_us", json_integer(st->freezing_time));
	json_object_set_new(o, "frozen_time_us", json_integer(st->frozen_time));
	json_object_set_new(o, "memdump_time_us", json_integer(st->memdump_time));
	json_object_set_new(o, "memwrite_time_us", json_integer(st->memwrite_time));
	json_object_set_new(o, "pages_scanned", json_integer((json_int_t)st->pages_scanned));
	json_object_set_new(o, "pages_skipped_parent", json_integer((json_int_t)st->pages_skipped_parent));
	json_object_set_new(o, "pages_written", json_integer((json_int_t)st->pages_written));
	json_object_set_new(o, "pages_lazy", json_integer((json_int_t)st->pages_lazy));
	return o;
}

static json_t *tree_json(const crpc_images_info *info)
{
	json_t *a = json_array();

	for (size_t i = 0; i < info->n_tasks; i++) {
		const crpc_task_info *t = &info->tasks[i];
		json_t *o = json_object(), *th = json_array();

		json_object_set_new(o, "pid", json_integer(t->task.pid));
		json_object_set_new(o, "ppid", json_integer(t->task.ppid));
		json_object_set_new(o, "pgid", json_integer(t->task.pgid));
		json_object_set_new(o, "sid", json_integer(t->task.sid));
		json_object_set_new(o, "comm", t->comm[0] ? crpc_json_text(t->comm) : json_null());
		for (size_t j = 0; j < t->task.n_threads; j++)
			json_array_append_new(th, json_integer(t->task.threads[j]));
		json_object_set_new(o, "threads", th);
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *options_json(const crpc_manifest_options *l)
{
	json_t *a = json_array();

	for (size_t i = 0; l && i < l->n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "option", crpc_json_text(l->v[i].option));
		json_object_set_new(o, "value", crpc_json_option_value(l->v[i].value));
		json_object_set_new(o, "source", crpc_json_text(l->v[i].source));
		json_object_set_new(o, "reason", crpc_json_text(l->v[i].reason));
		json_array_append_new(a, o);
	}
	return a;
}

/* Write all of buf to fd. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write text as dirfd/crpc.json: a temporary file, fsync'ed and renamed, then the directory fsync'ed. */
static int write_manifest_file(int dirfd, const char *text, crpc_error **err)
{
	const char *op = "writing the checkpoint's manifest";
	int fd, e;

	if (unlinkat(dirfd, MANIFEST_TMP, 0) < 0 && errno != ENOENT)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot remove a stale %s", MANIFEST_TMP);
	do
		fd = openat(dirfd, MANIFEST_TMP, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot create %s", MANIFEST_TMP);
	if (write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlinkat(dirfd, MANIFEST_TMP, 0);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", MANIFEST_TMP);
	}
	if (close(fd) < 0) {
		e = errno;
		unlinkat(dirfd, MANIFEST_TMP, 0);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", MANIFEST_TMP);
	}
	if (renameat(dirfd, MANIFEST_TMP, dirfd, CRPC_MANIFEST_NAME) < 0) {
		e = errno;
		unlinkat(dirfd, MANIFEST_TMP, 0);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot rename %s to %s", MANIFEST_TMP,
				      CRPC_MANIFEST_NAME);
	}
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot sync the images directory");
	return 0;
}

CRPC_API int crpc_manifest_write(int dirfd, const crpc_manifest_info *mi, crpc_manifest_stats *st,
				 crpc_error **err)
{
	const char *op = "writing the checkpoint's manifest";
	crpc_manifest_stats s = { 0 };
	crpc_images_info info;
	bool have_info = false;
	struct mf_hasher h;
	struct utsname un;
	char **names = NULL, now[64], host[HOST_NAME_MAX + 1];
	size_t n = 0;
	json_t *root = NULL, *files, *kernel, *criu;
	char *text = NULL;
	crpc_error *ie = NULL;
	bool synced;
	double t0;
	int rc = -1;

	if (st)
		memset(st, 0, sizeof(*st));
	iso_time(now, sizeof(now));
	if (list_files(dirfd, &names, &n, err) < 0)
		return -1;
	if (mf_hasher_init(&h, op, err) < 0) {
		free_names(names, n);
		return -1;
	}
	root = json_object();
	files = json_array();
	if (!root || !files)
		goto oom;

	/* every file: size and SHA-256 */
	t0 = crpc_now();
	start_writeback(dirfd, names, n);
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_object();
		char hex[65];
		uint64_t size;
		double ts = crpc_now();

		if (!f)
			goto oom;
		if (mf_hash_file(&h, dirfd, names[i], false, &size, hex) < 0) {
			json_decref(f);
			crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s to hash it", names[i]);
			goto out;
		}
		s.hash_seconds += crpc_now() - ts;
		s.files++;
		s.bytes += size;
		json_object_set_new(f, "name", json_string(names[i]));
		json_object_set_new(f, "size", json_integer((json_int_t)size));
		json_object_set_new(f, "sha256", json_string(hex));
		json_object_set_new(f, "kind", json_string(file_kind(mi->log_files, names[i])));
		json_array_append_new(files, f);
	}
	/*
	 * The data of every file is on disk before the manifest says it is
	 * whole: one syncfs() of the images' file system (one journal commit
	 * instead of one per file: on an idle ext4 3 ms against 20 to 80 ms for
	 * a small checkpoint), or an fsync per file where syncfs() fails.
	 */
	synced = syncfs(dirfd) == 0;
	for (size_t i = 0; i < (synced ? 0 : n); i++) {
		int fd = mf_open_regular(dirfd, names[i]);

		if (fd < 0)
			continue;
		if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS) {
			int e = errno;

			close(fd);
			crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot sync %s", names[i]);
			goto out;
		}
		close(fd);
	}
	s.sync_seconds = crpc_now() - t0 - s.hash_seconds;

	json_object_set_new(root, "format", json_string(CRPC_MANIFEST_FORMAT));
	json_object_set_new(root, "format_version", json_integer(CRPC_MANIFEST_VERSION));
	json_object_set_new(root, "crpc_version", json_string(crpc_version_string()));
	criu = json_object();
	json_object_set_new(criu, "version", crpc_json_text(mi->criu_version));
	json_object_set_new(criu, "path", crpc_json_text(mi->criu_path));
	json_object_set_new(root, "criu", criu);
	kernel = json_object();
	if (uname(&un) == 0) {
		json_object_set_new(kernel, "sysname", crpc_json_text(un.sysname));
		json_object_set_new(kernel, "release", crpc_json_text(un.release));
		json_object_set_new(kernel, "version", crpc_json_text(un.version));
		json_object_set_new(kernel, "machine", crpc_json_text(un.machine));
	}
	json_object_set_new(root, "kernel", kernel);
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		json_object_set_new(root, "hostname", crpc_json_text(host));
	}
	json_object_set_new(root, "created", json_string(now));
	json_object_set_new(root, "pid", json_integer(mi->pid));

	/* what the images say: the tree with command names, and CRIU's statistics */
	have_info = crpc_images_info_read(dirfd, &info, &ie) == 0;
	json_object_set_new(root, "command",
			    crpc_json_text(mi->command ? mi->command
					     : have_info && info.n_tasks && info.tasks[0].comm[0] ? info.tasks[0].comm
												 : NULL));
	json_object_set_new(root, "leave_running", json_boolean(mi->leave_running));
	json_object_set_new(root, "options", options_json(mi->options));
	if (have_info)
		json_object_set_new(root, "process_tree", tree_json(&info));
	json_object_set_new(root, "files", files);
	files = NULL;
	json_object_set_new(root, "files_count", json_integer((json_int_t)s.files));
	json_object_set_new(root, "files_bytes", json_integer((json_int_t)s.bytes));
	if (have_info && info.have_stats)
		json_object_set_new(root, "stats", stats_json(&info.stats));
	if (mi->criu_seconds > 0)
		json_object_set_new(root, "criu_time_ms", json_real(mi->criu_seconds * 1e3));
	json_object_set_new(root, "hash_time_ms", json_real(s.hash_seconds * 1e3));
	/* pipes to processes outside the tree, for the restore to give back */
	json_object_set_new(root, "outside_pipes", outside_pipes_json(dirfd, have_info ? &info : NULL));
	/* last: the checksum of all of the above */
	{
		char self[65];

		if (mf_self_sha256(root, self) < 0)
			goto oom;
		json_object_set_new(root, MF_SELF_SHA_KEY, json_string(self));
	}

	text = json_dumps(root, JSON_INDENT(2));
	if (!text)
		goto oom;
	t0 = crpc_now();
	if (write_manifest_file(dirfd, text, err) < 0)
		goto out;
	s.sync_seconds += crpc_now() - t0;
	if (st)
		*st = s;
	rc = 0;
	goto out;
oom:
	crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
out:
	if (have_info)
		crpc_images_info_release(&info);
	crpc_error_free(ie);
	free(text);
	json_decref(files);
	json_decref(root);
	mf_hasher_release(&h);
	free_names(names, n);
	return rc;
}

/* ---- reading -------------------------------------------------------------- */

static int mf_load(int dirfd, json_t **out, char **text, size_t *len, crpc_error **err)
{
	const char *op = "reading the checkpoint's manifest";
	uint8_t *data = NULL;
	size_t size = 0;
	json_error_t je;
	json_t *root, *fmt, *ver;
	char *t;

	*out = NULL;
	if (crpc_read_whole_at(dirfd, CRPC_MANIFEST_NAME, MANIFEST_MAX, &data, &size) < 0) {
		switch (errno) {
		case ENOENT:
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, op, "%s is missing",
					      CRPC_MANIFEST_NAME);
		case EFBIG:
			return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is larger than %u MiB",
					      CRPC_MANIFEST_NAME, MANIFEST_MAX >> 20);
		case EINVAL:
			return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is not a regular file",
					      CRPC_MANIFEST_NAME);
		default:
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s",
					      CRPC_MANIFEST_NAME);
		}
	}
	/*
	 * jansson lets some NUL bytes through (one right after a literal such as
	 * null): refused, since JSON has none and *text would end at the first
	 * (crpc show parses *text).
	 */
	if (memchr(data, '\0', size)) {
		free(data);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is not valid JSON (it contains a NUL byte)", CRPC_MANIFEST_NAME);
	}
	root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		free(data);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is not valid JSON (line %d: %s)",
				      CRPC_MANIFEST_NAME, je.line, je.text);
	}
	fmt = json_object_get(root, "format");
	ver = json_object_get(root, "format_version");
	if (!json_is_object(root) || !json_is_string(fmt) ||
	    strcmp(json_string_value(fmt), CRPC_MANIFEST_FORMAT) != 0 || !json_is_integer(ver)) {
		json_decref(root);
		free(data);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is not a crpc checkpoint manifest (no \"format\": \"%s\" "
				      "with a format_version)",
				      CRPC_MANIFEST_NAME, CRPC_MANIFEST_FORMAT);
	}
	if (json_integer_value(ver) < 1 || json_integer_value(ver) > CRPC_MANIFEST_VERSION) {
		json_int_t v = json_integer_value(ver);

		json_decref(root);
		free(data);
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "%s has format version %" JSON_INTEGER_FORMAT
			       "; this crpc reads version %d",
			       CRPC_MANIFEST_NAME, v, CRPC_MANIFEST_VERSION);
		if (err && *err && v > CRPC_MANIFEST_VERSION)
			crpc_error_set_hint(*err, "it was written by a newer crpc: use that one");
		return -1;
	}
	if (text) {
		t = realloc(data, size + 1);
		if (!t) {
			json_decref(root);
			free(data);
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
		}
		t[size] = '\0';
		*text = t;
		if (len)
			*len = size;
	} else {
		free(data);
	}
	*out = root;
	return 0;
}

CRPC_API int crpc_manifest_read(int dirfd, char **text, size_t *len, crpc_error **err)
{
	json_t *root = NULL;

	*text = NULL;
	if (len)
		*len = 0;
	if (mf_load(dirfd, &root, text, len, err) < 0)
		return -1;
	json_decref(root);
	return 0;
}

/* ---- verifying -------------------------------------------------------------- */

CRPC_API const char *crpc_manifest_verdict_name(crpc_manifest_verdict v)
{
	switch (v) {
	case CRPC_MANIFEST_OK:
		return "ok";
	case CRPC_MANIFEST_UNFINISHED:
		return "unfinished";
	case CRPC_MANIFEST_NOT_CHECKPOINT:
		return "not-checkpoint";
	case CRPC_MANIFEST_MISSING:
		return "missing";
	case CRPC_MANIFEST_INVALID:
		return "invalid";
	case CRPC_MANIFEST_MODIFIED:
		return "modified";
	}
	return "?";
}

CRPC_API const char *crpc_file_problem_name(crpc_file_problem p)
{
	switch (p) {
	case CRPC_FILE_MISSING:
		return "missing";
	case CRPC_FILE_SIZE:
		return "size";
	case CRPC_FILE_CHECKSUM:
		return "checksum";
	case CRPC_FILE_UNLISTED:
		return "unlisted";
	case CRPC_FILE_UNREADABLE:
		return "unreadable";
	}
	return "?";
}

CRPC_API void crpc_manifest_check_release(crpc_manifest_check *c)
{
	if (!c)
		return;
	free(c->mismatches);
	free(c->leftover);
	memset(c, 0, sizeof(*c));
}

/* Append a mismatch for file `name`; NULL on ENOMEM. */
static crpc_file_mismatch *add_mismatch(crpc_manifest_check *c, crpc_file_problem p, const char *name)
{
	crpc_file_mismatch *nv = realloc(c->mismatches, (c->n_mismatches + 1) * sizeof(*nv)), *m;

	if (!nv)
		return NULL;
	c->mismatches = nv;
	m = &nv[c->n_mismatches++];
	memset(m, 0, sizeof(*m));
	m->problem = p;
	snprintf(m->name, sizeof(m->name), "%s", name);
	return m;
}

/* One line about a mismatch, e.g. "pages-1.img sha256 mismatch (expected ..., got ...)". */
static void describe(const crpc_file_mismatch *m, char *buf, size_t bufsz)
{
	switch (m->problem) {
	case CRPC_FILE_MISSING:
		snprintf(buf, bufsz, "%s is missing", m->name);
		break;
	case CRPC_FILE_SIZE:
		snprintf(buf, bufsz, "%s has %" PRIu64 " bytes, %s lists %" PRIu64, m->name, m->size,
			 CRPC_MANIFEST_NAME, m->expected_size);
		break;
	case CRPC_FILE_CHECKSUM:
		if (strcmp(m->name, CRPC_MANIFEST_NAME) == 0)
			snprintf(buf, bufsz,
				 "%s was changed after the dump (it records sha256 %s of its content, "
				 "the content has %s)",
				 m->name, m->expected_sha256, m->sha256);
		else
			snprintf(buf, bufsz, "%s sha256 mismatch (expected %s, got %s)", m->name,
				 m->expected_sha256, m->sha256);
		break;
	case CRPC_FILE_UNLISTED:
		snprintf(buf, bufsz, "%s is an image file %s does not list", m->name, CRPC_MANIFEST_NAME);
		break;
	case CRPC_FILE_UNREADABLE:
		if (m->sys_errno == EINVAL)
			snprintf(buf, bufsz, "%s is not a regular file", m->name);
		else
			snprintf(buf, bufsz, "%s cannot be read (%s: %s)", m->name,
				 crpc_errno_name(m->sys_errno) ? crpc_errno_name(m->sys_errno) : "?",
				 strerror(m->sys_errno));
		break;
	}
}

static bool hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* Check every listed file; record mismatches. -1 only for an invalid manifest or ENOMEM. */
static int check_files(int dirfd, json_t *files, const char *const *ignore, crpc_manifest_check *c,
		       const char *op, crpc_error **err)
{
	struct mf_hasher h;
	size_t n = json_array_size(files), i;
	const char **listed;
	json_t *f;
	int rc = -1;
	DIR *d;
	int fd;
	struct dirent *de;

	listed = calloc(n ? n : 1, sizeof(*listed));
	if (!listed)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	if (mf_hasher_init(&h, op, err) < 0) {
		free(listed);
		return -1;
	}
	json_array_foreach(files, i, f) {
		json_t *jn = json_object_get(f, "name"), *js = json_object_get(f, "size"),
		       *jh = json_object_get(f, "sha256"), *jk = json_object_get(f, "kind");
		const char *name;
		crpc_file_mismatch *m;
		char hex[65];
		uint64_t size;
		double t0;

		if (!json_is_string(jn) || !mf_safe_name(json_string_value(jn)) || !json_is_integer(js) ||
		    json_integer_value(js) < 0 || !json_is_string(jh) || !hex64(json_string_value(jh)) ||
		    (jk && !json_is_string(jk))) {
			crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				       "%s is damaged: entry %zu of \"files\" is not {name, size, sha256}",
				       CRPC_MANIFEST_NAME, i + 1);
			goto out;
		}
		name = json_string_value(jn);
		listed[i] = name;
		if (jk && strcmp(json_string_value(jk), "log") == 0)
			continue; /* logs may grow after the dump (hooks.log on restore) */
		t0 = crpc_now();
		if (mf_hash_file(&h, dirfd, name, false, &size, hex) < 0) {
			int e = errno;

			m = add_mismatch(c, e == ENOENT ? CRPC_FILE_MISSING : CRPC_FILE_UNREADABLE, name);
			if (!m)
				goto oom;
			m->sys_errno = e;
			m->expected_size = (uint64_t)json_integer_value(js);
			snprintf(m->expected_sha256, sizeof(m->expected_sha256), "%s", json_string_value(jh));
			continue;
		}
		c->st.hash_seconds += crpc_now() - t0;
		c->st.files++;
		c->st.bytes += size;
		if (size != (uint64_t)json_integer_value(js) || strcmp(hex, json_string_value(jh)) != 0) {
			m = add_mismatch(c, size != (uint64_t)json_integer_value(js) ? CRPC_FILE_SIZE
										: CRPC_FILE_CHECKSUM,
					 name);
			if (!m)
				goto oom;
			m->expected_size = (uint64_t)json_integer_value(js);
			m->size = size;
			snprintf(m->expected_sha256, sizeof(m->expected_sha256), "%s", json_string_value(jh));
			snprintf(m->sha256, sizeof(m->sha256), "%s", hex);
		}
	}
	qsort(listed, n, sizeof(*listed), mf_name_cmp);

	/* image files the manifest does not know: CRIU would read them */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot read the checkpoint directory");
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		const char *key = de->d_name;

		if (!mf_is_image_name(de->d_name) || mf_in_strv(ignore, de->d_name) ||
		    bsearch(&key, listed, n, sizeof(*listed), mf_name_cmp))
			continue;
		if (!add_mismatch(c, CRPC_FILE_UNLISTED, de->d_name)) {
			closedir(d);
			goto oom;
		}
	}
	closedir(d);
	rc = 0;
	goto out;
oom:
	crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
out:
	mf_hasher_release(&h);
	free(listed);
	return rc;
}

/*
 * crpc.json itself: its content must still have the SHA-256 it records
 * (appended as a mismatch of CRPC_MANIFEST_NAME). A manifest without the
 * key (an older crpc's) is not checked. -1 for a damaged key or ENOMEM.
 */
static int check_self(json_t *root, crpc_manifest_check *c, const char *op, crpc_error **err)
{
	json_t *k = json_object_get(root, MF_SELF_SHA_KEY);
	crpc_file_mismatch *m;
	char hex[65];

	if (!k)
		return 0;
	if (!json_is_string(k) || !hex64(json_string_value(k)))
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is damaged: \"%s\" is not a SHA-256 in hex", CRPC_MANIFEST_NAME,
				      MF_SELF_SHA_KEY);
	if (mf_self_sha256(root, hex) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	if (strcmp(hex, json_string_value(k)) == 0)
		return 0;
	m = add_mismatch(c, CRPC_FILE_CHECKSUM, CRPC_MANIFEST_NAME);
	if (!m)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	snprintf(m->expected_sha256, sizeof(m->expected_sha256), "%s", json_string_value(k));
	snprintf(m->sha256, sizeof(m->sha256), "%s", hex);
	return 0;
}

CRPC_API int crpc_manifest_verify(int dirfd, const char *dir_name, const char *const *ignore,
				  crpc_manifest_check *out, crpc_error **err)
{
	crpc_manifest_check c;
	const char *dn = dir_name ? dir_name : ".";
	cleanup_free char *op = NULL;
	crpc_error *e = NULL;
	json_t *root = NULL, *files;
	struct stat st;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	if (out)
		memset(out, 0, sizeof(*out));
	if (asprintf(&op, "verifying the checkpoint in %s", dn) < 0) {
		op = NULL;
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "verifying the checkpoint", "out of memory");
	}
	if (dir_name)
		c.leftover = crpc_dumpdir_leftover(dir_name);

	/* a dump still running, or killed */
	if (fstatat(dirfd, CRPC_INPROGRESS_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		c.verdict = CRPC_MANIFEST_UNFINISHED;
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
			       "the checkpoint in %s is incomplete: a dump into it did not complete "
			       "(%s is present%s): it was interrupted, or is still running",
			       dn, CRPC_INPROGRESS_MARKER,
			       fstatat(dirfd, CRPC_MANIFEST_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0
				       ? ""
				       : ", " CRPC_MANIFEST_NAME " is missing");
		crpc_error_set_hint(e, "dump again; remove %s once no crpc dump uses it", dn);
		goto out;
	}

	if (mf_load(dirfd, &root, NULL, NULL, &e) < 0) {
		if (e && e->sys_errno == ENOENT) {
			crpc_error_free(e);
			e = NULL;
			if (crpc_images_validate(dirfd, dir_name, false, &e) < 0) {
				/* not even CRIU's images: that says more */
				c.verdict = CRPC_MANIFEST_NOT_CHECKPOINT;
				if (e && c.leftover)
					crpc_error_set_hint(e,
							    "an interrupted dump left %s, which is not a usable "
							    "checkpoint either: dump again",
							    c.leftover);
				goto out;
			}
			c.verdict = CRPC_MANIFEST_MISSING;
			if (c.leftover)
				crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
					       "the checkpoint in %s is incomplete: no %s (was the dump "
					       "interrupted? it left %s)",
					       dn, CRPC_MANIFEST_NAME, c.leftover);
			else
				crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
					       "%s holds CRIU images but no %s: it was not made by crpc "
					       "dump (e.g. a plain `criu dump`, or a copy without %s), or "
					       "its dump did not finish",
					       dn, CRPC_MANIFEST_NAME, CRPC_MANIFEST_NAME);
			crpc_error_set_hint(e,
					    "crpc restore --force restores it without verification, if "
					    "you trust the images");
			goto out;
		}
		c.verdict = CRPC_MANIFEST_INVALID;
		if (e && !e->hint)
			crpc_error_set_hint(e,
					    "dump again, or restore --force to restore the images without "
					    "verification");
		goto out;
	}
	files = json_object_get(root, "files");
	if (!json_is_array(files)) {
		c.verdict = CRPC_MANIFEST_INVALID;
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op, "%s is damaged: it has no \"files\" list",
			       CRPC_MANIFEST_NAME);
		crpc_error_set_hint(e, "dump again, or restore --force to restore the images without "
				       "verification");
		goto out;
	}
	if (check_files(dirfd, files, ignore, &c, op, &e) < 0 || check_self(root, &c, op, &e) < 0) {
		c.verdict = CRPC_MANIFEST_INVALID;
		if (e && !e->hint)
			crpc_error_set_hint(e, "dump again, or restore --force to restore the images "
					       "without verification");
		goto out;
	}
	if (c.n_mismatches) {
		char first[PATH_MAX + 256];

		c.verdict = CRPC_MANIFEST_MODIFIED;
		describe(&c.mismatches[0], first, sizeof(first));
		if (c.n_mismatches == 1)
			crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op, "checkpoint modified: %s", first);
		else
			crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
				       "checkpoint modified: %s (and %zu more problem%s)", first,
				       c.n_mismatches - 1, c.n_mismatches == 2 ? "" : "s");
		if (c.n_mismatches == 1 && strcmp(c.mismatches[0].name, CRPC_MANIFEST_NAME) == 0)
			crpc_error_set_hint(e,
					    "%s records how the dump was made and the options a restore "
					    "takes from it: dump again; to restore with other options, give "
					    "them on the command line (they win over the checkpoint's; "
					    "--no-checkpoint-options drops all of these); restore --force "
					    "skips the verification",
					    CRPC_MANIFEST_NAME);
		else
			crpc_error_set_hint(e,
					    "the images were changed or damaged after the dump: dump again, or "
					    "restore --force to restore them anyway");
		goto out;
	}
	c.verdict = CRPC_MANIFEST_OK;
	rc = 0;
out:
	json_decref(root);
	if (rc < 0) {
		if (err && !*err)
			*err = e;
		else
			crpc_error_free(e);
	}
	if (out)
		*out = c;
	else
		crpc_manifest_check_release(&c);
	return rc;
}

/* ---- the temporary directory of a dump ------------------------------------- */

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

CRPC_API int crpc_dumpdir_create(const char *dir, char **tmp_path, crpc_error **err)
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
			crpc_error_set_hint(*err, "the parent of %s must be writable; or create %s first "
						  "(an existing directory is written in place)",
					    base, base);
		free(t);
		return -1;
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

CRPC_API int crpc_dumpdir_commit(const char *tmp_path, const char *dir, crpc_error **err)
{
	cleanup_free char *base = trim_slashes(dir);

	if (!base)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "completing the checkpoint", "out of memory");
	if (rename(tmp_path, base) < 0) {
		int e = errno;

		crpc_error_set(err, CRPC_EXIT_FAIL, e, "completing the checkpoint", "cannot rename %s to %s%s",
			       tmp_path, base,
			       e == EEXIST || e == ENOTEMPTY ? ": something else created it meanwhile" : "");
		return -1;
	}
	sync_parent(base);
	return 0;
}

CRPC_API char *crpc_dumpdir_leftover(const char *dir)
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


/* ---- what a restore takes from the manifest ---------------------------------- */

/* An option's value as text, as crpc_manifest_options holds it; NULL for null. */
static char *value_text(json_t *v, bool *oom)
{
	char *t = NULL;

	if (json_is_true(v))
		t = strdup("true");
	else if (json_is_false(v))
		t = strdup("false");
	else if (json_is_integer(v)) {
		if (asprintf(&t, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			t = NULL;
	} else if (json_is_string(v))
		t = strdup(json_string_value(v));
	else
		return NULL;
	if (!t)
		*oom = true;
	return t;
}

static const char *jstring_or_null(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

CRPC_API void crpc_manifest_release(crpc_manifest *m)
{
	if (!m)
		return;
	crpc_manifest_options_release(&m->options);
	for (size_t i = 0; i < m->n_outside_pipes; i++)
		free(m->outside_pipes[i].holders);
	free(m->outside_pipes);
	memset(m, 0, sizeof(*m));
}

static int load_pipes(json_t *a, crpc_manifest *m)
{
	size_t i, n = json_array_size(a);
	json_t *p;

	if (!n)
		return 0;
	m->outside_pipes = calloc(n, sizeof(*m->outside_pipes));
	if (!m->outside_pipes)
		return -1;
	json_array_foreach(a, i, p) {
		json_t *ino = json_object_get(p, "inode"), *hs = json_object_get(p, "holders"), *h;
		const char *end = jstring_or_null(p, "tree_end");
		crpc_manifest_pipe_holder *holders;
		size_t j, nh = 0;

		if (!json_is_integer(ino) || json_integer_value(ino) <= 0 ||
		    json_integer_value(ino) > (json_int_t)UINT32_MAX || !end ||
		    (strcmp(end, "write") && strcmp(end, "read")) || !json_is_array(hs))
			continue;
		holders = calloc(json_array_size(hs) ? json_array_size(hs) : 1, sizeof(*holders));
		if (!holders)
			return -1;
		json_array_foreach(hs, j, h) {
			json_t *pid = json_object_get(h, "pid"), *fd = json_object_get(h, "fd");
			const char *hend = jstring_or_null(h, "end"), *comm = jstring_or_null(h, "comm");

			if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
			    json_integer_value(pid) > INT32_MAX || !json_is_integer(fd) ||
			    json_integer_value(fd) < 0 || json_integer_value(fd) > INT32_MAX)
				continue;
			holders[nh].pid = (pid_t)json_integer_value(pid);
			holders[nh].fd = (int)json_integer_value(fd);
			holders[nh].writes = hend && strcmp(hend, "write") == 0;
			snprintf(holders[nh].comm, sizeof(holders[nh].comm), "%s", comm ? comm : "");
			nh++;
		}
		m->outside_pipes[m->n_outside_pipes++] = (crpc_manifest_pipe){
			.inode = (uint32_t)json_integer_value(ino),
			.tree_writes = strcmp(end, "write") == 0,
			.holders = holders,
			.n_holders = nh,
		};
	}
	return 0;
}

CRPC_API int crpc_manifest_load(int dirfd, crpc_manifest *out, crpc_error **err)
{
	const char *op = "reading the checkpoint's manifest";
	json_t *root = NULL, *opts, *o;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (mf_load(dirfd, &root, NULL, NULL, err) < 0)
		return -1;
	opts = json_object_get(root, "options");
	json_array_foreach(opts, i, o) {
		const char *name = jstring_or_null(o, "option");
		bool oom = false;
		cleanup_free char *value = NULL;

		if (!name)
			continue;
		value = value_text(json_object_get(o, "value"), &oom);
		if (oom || crpc_manifest_options_add(&out->options, name, value, jstring_or_null(o, "source"),
						     jstring_or_null(o, "reason"), NULL) < 0)
			goto oom;
	}
	if (load_pipes(json_object_get(root, "outside_pipes"), out) < 0)
		goto oom;
	json_decref(root);
	return 0;
oom:
	json_decref(root);
	crpc_manifest_release(out);
	return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
}

/* What a restore does with each option of the dump. */
enum restore_kind {
	RK_BOOL,         /* the same flag at the restore */
	RK_TCP,          /* tcp_established / tcp_close: one group */
	RK_CGROUPS,      /* manage_cgroups and manage_cgroups_mode: one group */
	RK_NETLOCK,      /* the same method unlocks what it locked */
	RK_EMPTY_NS,     /* namespaces the dump left empty are created empty */
	RK_EXTERNAL,     /* given back by the user, in the restore's form */
	RK_RESTORE_OWN,  /* the restore has its own (log) */
	RK_DUMP_ONLY,    /* means nothing at a restore */
};

static const struct restore_rule {
	const char *option;
	enum restore_kind kind;
	size_t field; /* RK_BOOL, RK_TCP: offsetof(crpc_opts, FLAG) */
} restore_rules[] = {
	{ "tcp_established", RK_TCP, offsetof(crpc_opts, tcp_established) },
	{ "tcp_close", RK_TCP, offsetof(crpc_opts, tcp_close) },
	{ "ext_unix_sk", RK_BOOL, offsetof(crpc_opts, ext_unix_sk) },
	{ "shell_job", RK_BOOL, offsetof(crpc_opts, shell_job) },
	{ "file_locks", RK_BOOL, offsetof(crpc_opts, file_locks) },
	{ "manage_cgroups", RK_CGROUPS, 0 },
	{ "manage_cgroups_mode", RK_CGROUPS, 0 },
	{ "network_lock", RK_NETLOCK, 0 },
	{ "empty_ns", RK_EMPTY_NS, 0 },
	{ "external", RK_EXTERNAL, 0 },
	{ "inherit_fd", RK_EXTERNAL, 0 },
	{ "log_level", RK_RESTORE_OWN, 0 },
	{ "log_file", RK_RESTORE_OWN, 0 },
};

static const struct restore_rule *restore_rule(const char *option)
{
	for (size_t i = 0; i < sizeof(restore_rules) / sizeof(restore_rules[0]); i++)
		if (strcmp(restore_rules[i].option, option) == 0)
			return &restore_rules[i];
	return NULL;
}

static bool *opt_flag(crpc_opts *o, size_t off)
{
	return (bool *)((char *)o + off);
}

static bool opt_flag_get(const crpc_opts *o, size_t off)
{
	return *(const bool *)((const char *)o + off);
}

/* The dump's value of option `name` in m, or NULL. */
static const char *dump_value(const crpc_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->options.n; i++)
		if (strcmp(m->options.v[i].option, name) == 0)
			return m->options.v[i].value;
	return NULL;
}

static bool is_true(const char *v)
{
	return v && strcmp(v, "true") == 0;
}

/*
 * Apply one option of the dump to o, unless the user set it (user: o as
 * the user gave it). Returns NULL when applied, else why not (for
 * not_applied; "not set" for an option that is off).
 */
static const char *restore_one(const crpc_manifest *m, const crpc_manifest_option *d, const crpc_opts *user,
			       crpc_opts *o, char *buf, size_t bufsz)
{
	const struct restore_rule *r = restore_rule(d->option);
	const char *v = d->value;

	if (!r)
		return "used by the dump only (nothing to do at a restore)";
	switch (r->kind) {
	case RK_BOOL:
		if (!is_true(v))
			return "not set";
		if (opt_flag_get(user, r->field))
			return "set by you already";
		*opt_flag(o, r->field) = true;
		return NULL;
	case RK_TCP:
		if (!is_true(v))
			return "not set";
		/* the user's choice for TCP connections, either way, wins */
		if (user->tcp_close && !opt_flag_get(user, r->field))
			return "your tcp_close wins";
		if (user->tcp_established && !opt_flag_get(user, r->field))
			return "your tcp_established wins";
		if (user->tcp_established || user->tcp_close)
			return "set by you already";
		*opt_flag(o, r->field) = true;
		return NULL;
	case RK_CGROUPS:
		if (strcmp(d->option, "manage_cgroups") == 0 && !is_true(v))
			return "not set";
		if (user->manage_cgroups || user->manage_cgroups_mode != CRPC_CG_UNSET)
			return "your cgroup setting wins";
		if (strcmp(d->option, "manage_cgroups_mode") == 0) {
			crpc_cg_mode mode;

			if (!is_true(dump_value(m, "manage_cgroups")))
				return "not set";
			if (crpc_parse_cg_mode(v, &mode, NULL) < 0 || mode == CRPC_CG_UNSET)
				return "a mode this crpc does not know";
			/* applied together with manage_cgroups, below */
			return NULL;
		}
		o->manage_cgroups = true;
		{
			const char *mv = dump_value(m, "manage_cgroups_mode");
			crpc_cg_mode mode;

			if (mv && crpc_parse_cg_mode(mv, &mode, NULL) == 0)
				o->manage_cgroups_mode = mode;
		}
		return NULL;
	case RK_NETLOCK: {
		crpc_network_lock nl;

		if (user->network_lock != CRPC_NETLOCK_UNSET)
			return "your network_lock wins";
		if (crpc_parse_network_lock(v, &nl, NULL) < 0)
			return "a method this crpc does not know";
		o->network_lock = nl;
		return NULL;
	}
	case RK_EMPTY_NS: {
		char *end;
		unsigned long ns;

		if (user->empty_ns)
			return "your empty_ns wins";
		errno = 0;
		ns = v ? strtoul(v, &end, 10) : 0;
		if (!v || errno || *end || !ns || ns > UINT32_MAX)
			return "not a namespace mask";
		o->empty_ns = (uint32_t)ns;
		return NULL;
	}
	case RK_EXTERNAL:
		if (strcmp(d->option, "inherit_fd") == 0)
			return "a descriptor given to that dump (a restore needs its own)";
		if (v && strncmp(v, "unix[", 5) == 0) {
			snprintf(buf, bufsz,
				 "a UNIX socket connected outside the tree: a restore needs a replacement, "
				 "inherit_fd 'socket:[%.*s]'",
				 (int)strcspn(v + 5, "]"), v + 5);
			return buf;
		}
		return "an external resource of the dump: a restore needs it given back (--inherit-fd, "
		       "or --external in the restore's form)";
	case RK_RESTORE_OWN:
		return "the restore has its own";
	case RK_DUMP_ONLY:
		break;
	}
	return "used by the dump only (nothing to do at a restore)";
}

CRPC_API int crpc_manifest_restore_opts(const crpc_manifest *m, crpc_opts *o, crpc_manifest_options *applied,
					crpc_manifest_options *not_applied, crpc_error **err)
{
	const crpc_opts user = *o; /* what the user set, before anything is applied */

	for (size_t i = 0; i < m->options.n; i++) {
		const crpc_manifest_option *d = &m->options.v[i];
		char buf[160];
		const char *why = restore_one(m, d, &user, o, buf, sizeof(buf));

		if (!why) {
			if (crpc_manifest_options_add(applied, d->option, d->value, d->source, d->reason, err) < 0)
				return -1;
		} else if (not_applied && strcmp(why, "not set") != 0) {
			if (crpc_manifest_options_add(not_applied, d->option, d->value, d->source, why, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* Does o pass a descriptor for `key` with inherit_fd? */
static bool inherits(const crpc_opts *o, const char *key)
{
	for (size_t i = 0; i < o->n_inherit_fd; i++)
		if (o->inherit_fd[i].key && strcmp(o->inherit_fd[i].key, key) == 0)
			return true;
	return false;
}

CRPC_API int crpc_manifest_check_externals(const crpc_manifest *m, const crpc_opts *o, crpc_error **err)
{
	size_t missing = 0;
	const crpc_manifest_option *first = NULL;
	unsigned long first_ino = 0;

	if (o->ext_unix_sk)
		return 0;
	for (size_t i = 0; i < m->options.n; i++) {
		const crpc_manifest_option *d = &m->options.v[i];
		char key[48], *end;
		unsigned long ino;

		if (strcmp(d->option, "external") != 0 || !d->value || strncmp(d->value, "unix[", 5) != 0)
			continue;
		errno = 0;
		ino = strtoul(d->value + 5, &end, 10);
		if (errno || strcmp(end, "]") != 0 || !ino)
			continue;
		snprintf(key, sizeof(key), "socket:[%lu]", ino);
		if (inherits(o, key))
			continue;
		if (!missing++) {
			first = d;
			first_ino = ino;
		}
	}
	if (!missing)
		return 0;
	crpc_error_set(err, CRPC_EXIT_FAIL, 0, "restore",
		       "UNIX socket inode %lu of the checkpoint was connected to a process outside the "
		       "tree%s%s%s: that end closed when the tree was dumped, so the socket cannot be "
		       "restored connected%s",
		       first_ino, first->reason ? " (dump: " : "", first->reason ? first->reason : "",
		       first->reason ? ")" : "",
		       missing > 1 ? " (and more sockets like it)" : "");
	if (err && *err) {
		(*err)->cause = CRPC_CAUSE_EXT_UNIX_SK;
		crpc_error_set_hint(*err,
				    "give the restore a replacement socket connected to the new peer: "
				    "crpc restore --inherit-fd 'fd[N]:socket:[%lu]' with N open in crpc "
				    "(or inherit_fd in the configuration); --ext-unix-sk restores it "
				    "unconnected instead",
				    first_ino);
	}
	return -1;
}

CRPC_API void crpc_pipe_attachments_release(crpc_pipe_attachments *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].fd >= 0)
			close(a->v[i].fd);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

/* Does PID still hold the pipe as FD? */
static bool still_holds(const crpc_manifest_pipe_holder *h, uint32_t inode)
{
	char path[64], link[64];
	uint32_t ino;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)h->pid, h->fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return mf_pipe_link_inode(link, &ino) && ino == inode;
}

/*
 * Open the pipe through /proc/PID/fd/FD with the tree's access mode: a new
 * open file of the same pipe. Non-blocking while opening (an anonymous
 * pipe never waits for its other end, but be sure), blocking after.
 * Inheritable: CRIU must get it. -1 with errno.
 */
static int open_pipe_of(const crpc_manifest_pipe_holder *h, bool writes)
{
	char path[64];
	int fd, fl;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)h->pid, h->fd);
	do
		fd = open(path, (writes ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_NOCTTY); /* no O_CLOEXEC: for CRIU */
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

CRPC_API int crpc_manifest_reattach_pipes(const crpc_manifest *m, crpc_opts *o, crpc_pipe_attachments *out,
					  crpc_error **err)
{
	const char *op = "re-attaching the checkpoint's pipes";

	out->v = NULL;
	out->n = 0;
	if (!m->n_outside_pipes)
		return 0;
	/* allocated once: o's inherit_fd keys point into it */
	out->v = calloc(m->n_outside_pipes, sizeof(*out->v));
	if (!out->v)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	for (size_t i = 0; i < m->n_outside_pipes; i++) {
		const crpc_manifest_pipe *p = &m->outside_pipes[i];
		crpc_pipe_attach *a = &out->v[out->n++];
		int last_errno = 0;
		bool held = false, other_end = false;

		a->fd = -1;
		a->inode = p->inode;
		a->tree_writes = p->tree_writes;
		snprintf(a->key, sizeof(a->key), "pipe:[%" PRIu32 "]", p->inode);
		if (p->n_holders)
			a->holder = p->holders[0];
		if (inherits(o, a->key)) {
			a->user = true;
			continue;
		}
		/*
		 * Only a holder of the other end counts: a pipe whose reader (or
		 * writer) is gone is no better than the new one CRIU would make.
		 */
		for (size_t j = 0; j < p->n_holders && a->fd < 0; j++) {
			if (!still_holds(&p->holders[j], p->inode))
				continue;
			held = true;
			if (p->holders[j].writes == p->tree_writes)
				continue;
			other_end = true;
			a->fd = open_pipe_of(&p->holders[j], p->tree_writes);
			if (a->fd < 0)
				last_errno = errno;
			else
				a->holder = p->holders[j];
		}
		if (a->fd >= 0) {
			a->reattached = true;
			if (crpc_opts_add_inherit_fd(o, a->key, a->fd, err) < 0)
				return -1;
			continue;
		}
		if (!held)
			snprintf(a->why, sizeof(a->why), "%s", p->n_holders == 1 ? "its holder is gone or closed it"
									      : "its holders are gone or closed it");
		else if (!other_end)
			snprintf(a->why, sizeof(a->why), "nobody %s it any more",
				 p->tree_writes ? "reads" : "writes to");
		else
			snprintf(a->why, sizeof(a->why), "cannot open it (%s: %s)",
				 crpc_errno_name(last_errno) ? crpc_errno_name(last_errno) : "?",
				 strerror(last_errno));
	}
	return 0;
}
