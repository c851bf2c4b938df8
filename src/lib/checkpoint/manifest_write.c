/* SPDX-License-Identifier: MIT */
/*
 * manifest_write.c - crpc.json written once a dump is complete: the options
 * the dump was given, every file of the checkpoint with its size and
 * digest, what the images say of the tree, and the pipes the tree shared
 * with processes outside it. See crpc/manifest.h.
 *
 * The data reaches the disk before crpc.json says the checkpoint is whole:
 * see "Durability" below for the order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "crpc/manifest.h"
#include "imgfile.h"
#include "internal.h"
#include "manifest_int.h"
#include "jsonutil.h"

#define MANIFEST_TMP CRPC_MANIFEST_NAME ".tmp"

/* ---- small helpers ------------------------------------------------------ */

static bool utf8_valid(const char *s)
{
	json_t *j = json_string(s);

	if (!j)
		return false;
	json_decref(j);
	return true;
}
/* Files of a checkpoint crpc itself keeps out of the manifest. */
static bool crpc_own_file(const char *name)
{
	return strcmp(name, CRPC_MANIFEST_NAME) == 0 || strcmp(name, MANIFEST_TMP) == 0 ||
	       strcmp(name, CRPC_INPROGRESS_MARKER) == 0 || strcmp(name, CRPC_SIGNATURE_NAME) == 0 ||
	       strcmp(name, CRPC_SIGNATURE_NAME ".tmp") == 0 ||
	       strcmp(name, CRPC_INPROGRESS_MARKER ".tmp") == 0;
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
CRPC_API int crpc_manifest_options_add(crpc_manifest_options *l, const char *option, const char *value,
				       const char *source, const char *reason, crpc_error **err)
{
	crpc_manifest_option *slot;
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
	if (ARRAY_RESIZE(l->v, l->n + 1) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "recording the options", "out of memory");
	slot = &l->v[l->n];
	slot->option = mf_strdup(option, &oom);
	slot->value = mf_strdup(value, &oom);
	slot->source = mf_strdup(source ? source : "user", &oom);
	slot->reason = mf_strdup(reason, &oom);
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
	return crpc_manifest_options_add(l, name, buf, cfg_set && cfg_v == v ? "config" : "user", NULL, err);
}

static int add_str(crpc_manifest_options *l, const char *name, const char *v, const char *cfg,
		   crpc_error **err)
{
	if (!v)
		return 0;
	return crpc_manifest_options_add(l, name, v, cfg && strcmp(cfg, v) == 0 ? "config" : "user", NULL,
					 err);
}

static int add_list(crpc_manifest_options *l, const char *name, const char *const *v, size_t n,
		    const char *const *cfg, size_t n_cfg, crpc_error **err)
{
	for (size_t i = 0; i < n; i++) {
		bool from_cfg = false;

		for (size_t j = 0; j < n_cfg && !from_cfg; j++)
			from_cfg = cfg[j] && v[i] && strcmp(cfg[j], v[i]) == 0;
		if (v[i] &&
		    crpc_manifest_options_add(l, name, v[i], from_cfg ? "config" : "user", NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* inherited fds: the resource only, the fd number means nothing later */
static int add_inherit_fd(crpc_manifest_options *l, const char *name, const crpc_inherit_fd *v, size_t n,
			  crpc_error **err)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].key && crpc_manifest_options_add(l, name, v[i].key, "user", NULL, err) < 0)
			return -1;
	return 0;
}

/* How each kind of option is recorded: an expression, negative on failure. */
#define RECORD_BOOL(f) add_bool(l, #f, o->f, c->f, err)
#define RECORD_SIZE(f) add_u64(l, #f, o->f##_set, o->f, c->f##_set, c->f, err)
#define RECORD_U32(f) add_u64(l, #f, o->f != 0, o->f, c->f != 0, c->f, err)
#define RECORD_LEVEL(f)                                                       \
	add_u64(l, #f, o->f >= 0, (uint64_t)(o->f < 0 ? 0 : o->f), c->f >= 0, \
		(uint64_t)(c->f < 0 ? 0 : c->f), err)
#define RECORD_STR(f) add_str(l, #f, o->f, c->f, err)
#define RECORD_STRV(f) add_list(l, #f, o->f.v, o->f.n, c->f.v, c->f.n, err)
#define RECORD_EXTERNAL(f) add_list(l, #f, o->f, o->n_##f, c->f, c->n_##f, err)
/* the mode only with manage_cgroups itself */
#define RECORD_CGMODE(f)                                                                                  \
	(o->manage_cgroups && o->f != CRPC_CG_UNSET                                                       \
		 ? add_str(l, #f, crpc_cg_mode_name(o->f), c->f == o->f ? crpc_cg_mode_name(c->f) : NULL, \
			   err)                                                                           \
		 : 0)
#define RECORD_NETLOCK(f)                                                                              \
	(o->f != CRPC_NETLOCK_UNSET ? add_str(l, #f, crpc_network_lock_name(o->f),                     \
					      c->f == o->f ? crpc_network_lock_name(c->f) : NULL, err) \
				    : 0)
#define RECORD_INHERIT_FD(f) add_inherit_fd(l, #f, o->f, o->n_##f, err)
#define RECORD_CG_ROOT(f) 0
#define X_RECORD(field, kind, yaml, ops, flags, ...)                \
	if (((flags)&CRPC_OPTF_RECORD) && RECORD_##kind(field) < 0) \
		return -1;

CRPC_API int crpc_manifest_options_from_opts(crpc_manifest_options *l, const crpc_opts *o,
					     const crpc_opts *config, crpc_error **err)
{
	crpc_opts none;
	const crpc_opts *c = config;

	if (!c) {
		crpc_opts_init(&none);
		c = &none;
	}
	CRPC_OPTS_TABLE(X_RECORD)
	return 0;
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
	bool unknown[HOLDERS_MAX]; /* the holder's end is not known (taken as the other one) */
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
	if (crpc__img_open(dirfd, FILES_IMG, FILES_MAX, CRPC__IMG_COMMON_MAGIC, FILES_MAGIC,
			   "reading files.img", &b, &c, &e) < 0) {
		crpc_error_free(e);
		free(b.data);
		return 0;
	}
	for (size_t i = 0;; i++) {
		const uint8_t *data;
		size_t len, j;
		uint32_t ino = 0, flags = 0;
		int r = crpc__img_next(&c, FILES_IMG, i, "reading files.img", &data, &len, &e);

		if (r <= 0) {
			crpc_error_free(e);
			break;
		}
		if (!file_entry_pipe(data, len, &ino, &flags))
			continue;
		for (j = 0; j < cnt && v[j].inode != ino; j++)
			;
		if (j == cnt) {
			if (ARRAY_RESIZE(v, cnt + 1) < 0) {
				free(v);
				free(b.data);
				return -1;
			}
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

static bool in_tree(const void *arg, pid_t pid)
{
	const crpc_images_info *info = arg;

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
	ffd = io_openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (ffd < 0)
		return -1;
	n = io_read(ffd, buf, sizeof(buf) - 1);
	close(ffd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	f = strstr(buf, "flags:");
	return f ? strtol(f + 6, NULL, 8) : -1;
}

/*
 * Every process but the tree's: which of the pipes in v it holds. A child
 * of a tree process is the tree's too, though the tree was known before it
 * forked (a shell's short-lived `sleep` inherits its pipes); a child of
 * crpc's (CRIU, which receives the tree's fds while it dumps, a hook step)
 * is no holder either, as crpc is not.
 */
static void find_pipe_holders(bool (*in_tree_fn)(const void *, pid_t), const void *tree, struct tree_pipe *v,
			      size_t n)
{
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *proc = procfd >= 0 ? io_opendir_at(procfd, ".") : NULL;
	struct dirent *de;

	if (!proc) {
		if (procfd >= 0)
			close(procfd);
		return;
	}
	while ((de = readdir(proc)) != NULL) {
		char path[64], link[64];
		struct dirent *fe;
		pid_t pid, ppid = -1;
		DIR *fds;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (in_tree_fn(tree, pid))
			continue;
		snprintf(path, sizeof(path), "%d/fd", (int)pid);
		fds = io_opendir_at(procfd, path);
		if (!fds)
			continue;
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
			if (ppid < 0) {
				crpc_task_status ts;

				ppid = crpc_task_status_read(pid, &ts) == 0 ? ts.ppid : 0;
			}
			if (ppid > 0 && (in_tree_fn(tree, ppid) || ppid == getpid()))
				break;
			h = &tp->holders[tp->n_holders++];
			memset(h, 0, sizeof(*h));
			h->pid = pid;
			h->fd = (int)strtol(fe->d_name, NULL, 10);
			fl = fd_flags(procfd, pid, fe->d_name);
			/* an end of unknown mode counts as the other end than the tree's */
			h->writes = fl >= 0 ? (fl & O_ACCMODE) != O_RDONLY : tp->reads;
			tp->unknown[tp->n_holders - 1] = fl < 0;
			crpc__proc_comm(pid, h->comm, sizeof(h->comm));
		}
		closedir(fds);
	}
	closedir(proc);
	close(procfd);
}

struct mf_pipe_scan {
	pthread_t thread;
	bool thread_live;
	struct tree_pipe *v; /* the pipes, by inode */
	size_t n;
	pid_t *tree; /* sorted */
	size_t n_tree;
};

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static bool in_pids(const void *arg, pid_t pid)
{
	const mf_pipe_scan *ps = arg;

	return bsearch(&pid, ps->tree, ps->n_tree, sizeof(pid), pid_cmp) != NULL;
}

static void *pipe_scan_main(void *arg)
{
	mf_pipe_scan *ps = arg;
	double t = crpc__timing_now();

	find_pipe_holders(in_pids, ps, ps->v, ps->n);
	crpc__timing("manifest: pipe holders scan (thread)", t);
	return NULL;
}

mf_pipe_scan *mf_pipe_scan_start(const uint64_t *inodes, size_t n, const pid_t *tree, size_t n_tree)
{
	mf_pipe_scan *ps;
	size_t k = 0;

	if (!n)
		return NULL;
	ps = calloc(1, sizeof(*ps));
	if (!ps || !(ps->v = calloc(n, sizeof(*ps->v))) ||
	    !(ps->tree = malloc((n_tree ? n_tree : 1) * sizeof(*ps->tree))))
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (inodes[i] <= UINT32_MAX)
			ps->v[k++].inode = (uint32_t)inodes[i];
	qsort(ps->v, k, sizeof(*ps->v), tree_pipe_cmp);
	for (size_t i = 0; i < k; i++) /* without duplicates, for bsearch */
		if (!ps->n || ps->v[ps->n - 1].inode != ps->v[i].inode)
			ps->v[ps->n++] = ps->v[i];
	if (n_tree)
		memcpy(ps->tree, tree, n_tree * sizeof(*tree));
	ps->n_tree = n_tree;
	qsort(ps->tree, n_tree, sizeof(*tree), pid_cmp);
	if (ps->n && crpc__thread_start(&ps->thread, pipe_scan_main, ps, CRPC__THREAD_BACKGROUND) == 0) {
		ps->thread_live = true;
		return ps;
	}
fail:
	if (ps) {
		free(ps->v);
		free(ps->tree);
	}
	free(ps);
	return NULL;
}

void mf_pipe_scan_free(mf_pipe_scan *ps)
{
	if (!ps)
		return;
	if (ps->thread_live)
		pthread_join(ps->thread, NULL);
	free(ps->v);
	free(ps->tree);
	free(ps);
}

/*
 * The holders of the pipes in v from the scan made during the dump: false
 * (v untouched) when the scan does not cover every pipe of v (the tree
 * opened one after the inspection): then /proc is scanned now. The scan
 * knew the tree as inspected; a child the tree forked before CRIU froze
 * it is in the images' tree (info) and is left out here.
 */
static bool pipes_from_scan(mf_pipe_scan *scan, struct tree_pipe *v, size_t n, const crpc_images_info *info)
{
	if (!scan)
		return false;
	if (scan->thread_live) {
		pthread_join(scan->thread, NULL);
		scan->thread_live = false;
	}
	for (size_t i = 0; i < n; i++)
		if (!bsearch(&v[i], scan->v, scan->n, sizeof(*v), tree_pipe_cmp))
			return false;
	for (size_t i = 0; i < n; i++) {
		const struct tree_pipe *s = bsearch(&v[i], scan->v, scan->n, sizeof(*v), tree_pipe_cmp);

		v[i].n_holders = 0;
		for (size_t j = 0; j < s->n_holders; j++) {
			size_t k = v[i].n_holders;

			if (in_tree(info, s->holders[j].pid))
				continue;
			v[i].holders[k] = s->holders[j];
			v[i].unknown[k] = s->unknown[j];
			/* an end of unknown mode counts as the other end than the tree's */
			if (s->unknown[j])
				v[i].holders[k].writes = v[i].reads;
			v[i].n_holders++;
		}
	}
	return true;
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
 * that was not left running is gone (its PIDs are left out anyway). The
 * holders come from the scan made while CRIU dumped when it covers every
 * such pipe, else from a scan of /proc now.
 */
static json_t *outside_pipes_json(int dirfd, const crpc_images_info *info, mf_pipe_scan *scan)
{
	struct tree_pipe *v = NULL;
	size_t n = 0;
	json_t *a = json_array();

	if (!a || tree_half_pipes(dirfd, &v, &n) < 0 || !n) {
		free(v);
		return a;
	}
	if (!pipes_from_scan(scan, v, n, info))
		find_pipe_holders(in_tree, info, v, n);
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
			json_object_set_new(ho, "comm", crpc__json_text(h->comm));
			json_array_append_new(ha, ho);
		}
		json_object_set_new(o, "holders", ha);
		json_array_append_new(a, o);
	}
	free(v);
	return a;
}

/* ---- writing ---------------------------------------------------------------- */

/*
 * gcc 12's analyzer loses track of strings stored into a slot of a heap
 * array and reports them as leaked; the array owns them (freed here on
 * failure, else by free_names(), checked under ASan's leak checker).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
/* Names of the regular files of dirfd the manifest lists, sorted. */
static int list_files(int dirfd, char ***names, size_t *n, crpc_error **err)
{
	const char *op = "writing the checkpoint's manifest";
	DIR *d = io_opendir_at(dirfd, ".");
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read the images directory");
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (crpc_own_file(de->d_name) || !mf_safe_name(de->d_name) || !utf8_valid(de->d_name))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (crpc__strv_push(&v, &cnt, strdup(de->d_name)) < 0) {
			for (size_t i = 0; i < cnt; i++)
				free(v[i]);
			free(v);
			closedir(d);
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
		}
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), mf_name_cmp);
	*names = v;
	*n = cnt;
	return 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Durability of a checkpoint, in this order; nothing says a checkpoint is
 * complete before all of it is on disk:
 *
 *  1. While CRIU writes, the hash-ahead thread starts the write-back of
 *     every range it has hashed (ahead.c), so that most of the data is
 *     already on its way to the disk when CRIU answers.
 *  2. Once CRIU answered, sync_files() runs on a thread of its own while
 *     the tails are hashed and the rest of the manifest is put together: it
 *     starts the write-back of what is still dirty (the tails, the files the
 *     ahead did not follow), then fdatasync()s every file the manifest lists
 *     (an error is the dump's error, naming the file), then fsyncs the
 *     images directory (the files' entries).
 *  3. crpc.json (write_manifest_file()): in a directory that is complete
 *     only once its writer removed the in-progress marker (a dump's), it
 *     is written under its own name and fdatasync'ed; elsewhere (the
 *     public crpc_manifest_write()) as crpc.json.tmp, fsync'ed, renamed to
 *     crpc.json and the directory fsync'ed, after that thread succeeded.
 *  4. The dump removes the in-progress marker, renames the temporary
 *     directory into place as DIR, fsyncs it (crpc.json's and the marker's
 *     entries, and on a journaling file system the rename, in one commit)
 *     and DIR's parent (ck_dump_finalize(), ck_dumpdir_commit()). A crash
 *     before that leaves the marker or the temporary name: a dump crpc
 *     did not finish, whose data is on disk.
 *
 * A file of its own each rather than one syncfs(): syncfs() also waits for
 * every other process's dirty data on the file system, so what a dump costs
 * would depend on what else the machine writes; with the write-back started
 * early, the fdatasyncs mostly find their data written and share one
 * journal commit (measured in docs/benchmarks.md).
 */
struct sync_job {
	int dirfd;
	char *const *names;
	size_t n;
	int err;            /* errno of a failed sync */
	const char *failed; /* of that file (NULL: the directory) */
	double seconds;
};

/* Whether a sync's errno says the file system has nothing to sync (not an error). */
static bool sync_unsupported(int e)
{
	return e == EINVAL || e == EROFS;
}

/* Opened anew for each pass: a checkpoint may have more files than crpc may keep open. */
static void sync_files(struct sync_job *j)
{
	double t0 = crpc__now();
	int fd;

	/* what is still dirty, all of it on its way before the first wait */
	for (size_t i = 0; i < j->n; i++) {
		fd = io_open_regular_at(j->dirfd, j->names[i], NULL);
		if (fd >= 0) {
			(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
			close(fd);
		}
	}
	for (size_t i = 0; i < j->n && !j->err; i++) {
		fd = io_open_regular_at(j->dirfd, j->names[i], NULL);
		if (fd < 0 || (fdatasync(fd) < 0 && !sync_unsupported(errno))) {
			j->err = errno;
			j->failed = j->names[i];
		}
		if (fd >= 0)
			close(fd);
	}
	if (!j->err && fsync(j->dirfd) < 0 && !sync_unsupported(errno))
		j->err = errno;
	j->seconds = crpc__now() - t0;
}

static void *sync_main(void *arg)
{
	sync_files(arg);
	return NULL;
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
		json_object_set_new(o, "comm", t->comm[0] ? crpc__json_text(t->comm) : json_null());
		for (size_t j = 0; j < t->task.n_threads; j++)
			json_array_append_new(th, json_integer(t->task.threads[j]));
		json_object_set_new(o, "threads", th);
		json_array_append_new(a, o);
	}
	return a;
}

json_t *mf_options_json(const crpc_manifest_options *l)
{
	json_t *a = json_array();

	for (size_t i = 0; l && i < l->n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "option", crpc__json_text(l->v[i].option));
		json_object_set_new(o, "value", crpc__json_option_value(l->v[i].value));
		json_object_set_new(o, "source", crpc__json_text(l->v[i].source));
		json_object_set_new(o, "reason", crpc__json_text(l->v[i].reason));
		json_array_append_new(a, o);
	}
	return a;
}

/* Write text as dirfd/crpc.json: a temporary file, fsync'ed and renamed, then the directory fsync'ed. */
/*
 * Write text and a newline into dirfd/name, a new file of mode 0600 (a stale
 * one removed first), synced with fdatasync() (data_only; a file system
 * with nothing to sync passes) or fsync(). The file is removed again when
 * that fails.
 */
static int write_synced(int dirfd, const char *name, const char *text, bool data_only, const char *op,
			crpc_error **err)
{
	int fd, e;

	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot remove a stale %s", name);
	fd = io_openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot create %s", name);
	if (io_write_full(fd, text, strlen(text)) < 0 || io_write_full(fd, "\n", 1) < 0 ||
	    (data_only ? fdatasync(fd) < 0 && !sync_unsupported(errno) : fsync(fd) < 0)) {
		e = errno;
		close(fd);
		unlinkat(dirfd, name, 0);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", name);
	}
	if (close(fd) < 0) {
		e = errno;
		unlinkat(dirfd, name, 0);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", name);
	}
	return 0;
}

static int write_manifest_file(int dirfd, const char *text, bool unpublished, crpc_error **err)
{
	const char *op = "writing the checkpoint's manifest";
	int e;

	/* unpublished: the marker says the directory is incomplete until its writer removes it and syncs it */
	if (unpublished)
		return write_synced(dirfd, CRPC_MANIFEST_NAME, text, true, op, err);
	if (write_synced(dirfd, MANIFEST_TMP, text, false, op, err) < 0)
		return -1;
	if (renameat(dirfd, MANIFEST_TMP, dirfd, CRPC_MANIFEST_NAME) < 0) {
		e = errno;
		unlinkat(dirfd, MANIFEST_TMP, 0);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot rename %s to %s", MANIFEST_TMP,
				      CRPC_MANIFEST_NAME);
	}
	if (fsync(dirfd) < 0 && !sync_unsupported(errno))
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot sync the images directory");
	return 0;
}

CRPC_API int crpc_manifest_write(int dirfd, const crpc_manifest_info *mi, crpc_manifest_stats *st,
				 crpc_error **err)
{
	return mf_write(dirfd, mi, st, NULL, NULL, false, err);
}

int mf_write(int dirfd, const crpc_manifest_info *mi, crpc_manifest_stats *st, mf_ahead *ahead,
	     mf_pipe_scan *pipes, bool unpublished, crpc_error **err)
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
	double t0;
	uint64_t ahead_bytes;
	size_t n_ahead = 0;
	struct sync_job sj = { .dirfd = -1 };
	pthread_t sync_thread;
	bool sync_started = false;
	crpc_digest alg = crpc__digest_resolve(mi->digest);
	int rc = -1;

	s.digest = crpc_digest_name(alg);

	if (st)
		memset(st, 0, sizeof(*st));
	if (!crpc_digest_name(alg))
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, op, "unknown digest %d", (int)mi->digest);
	iso_time(now, sizeof(now));
	if (list_files(dirfd, &names, &n, err) < 0)
		return -1;
	if (mf_hasher_init(&h, alg, op, err) < 0) {
		free_names(names, n);
		return -1;
	}
	root = json_object();
	files = json_array();
	if (!root || !files)
		goto oom;

	/* every file: size and digest, most of it hashed while CRIU wrote */
	mf_ahead_stop(ahead);
	ahead_bytes = mf_ahead_bytes(ahead);
	/* every file's data and entry to disk, while the tails are hashed (see sync_files()) */
	sj = (struct sync_job){ .dirfd = dirfd, .names = names, .n = n };
	sync_started = crpc__thread_start(&sync_thread, sync_main, &sj, CRPC__THREAD_URGENT) == 0;
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_object();
		char hex[65];
		uint64_t size;
		double ts = crpc__now();

		if (!f)
			goto oom;
		if (mf_ahead_finish(ahead, dirfd, names[i], &size, hex) == 1) {
			n_ahead++;
		} else if (mf_hash_file(&h, dirfd, names[i], false, &size, hex) < 0) {
			json_decref(f);
			crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s to hash it", names[i]);
			goto out;
		}
		s.hash_seconds += crpc__now() - ts;
		s.files++;
		s.bytes += size;
		json_object_set_new(f, "name", json_string(names[i]));
		json_object_set_new(f, "size", json_integer((json_int_t)size));
		json_object_set_new(f, crpc_digest_name(alg), json_string(hex));
		json_object_set_new(f, "kind", json_string(file_kind(mi->log_files, names[i])));
		json_array_append_new(files, f);
	}
	if (!sync_started)
		sync_files(&sj);

	json_object_set_new(root, "format", json_string(CRPC_MANIFEST_FORMAT));
	json_object_set_new(root, "format_version", json_integer(CRPC_MANIFEST_VERSION));
	json_object_set_new(root, "digest", json_string(crpc_digest_name(alg)));
	json_object_set_new(root, "crpc_version", json_string(crpc_version_string()));
	criu = json_object();
	json_object_set_new(criu, "version", crpc__json_text(mi->criu_version));
	json_object_set_new(criu, "path", crpc__json_text(mi->criu_path));
	json_object_set_new(root, "criu", criu);
	kernel = json_object();
	if (uname(&un) == 0) {
		json_object_set_new(kernel, "sysname", crpc__json_text(un.sysname));
		json_object_set_new(kernel, "release", crpc__json_text(un.release));
		json_object_set_new(kernel, "version", crpc__json_text(un.version));
		json_object_set_new(kernel, "machine", crpc__json_text(un.machine));
	}
	json_object_set_new(root, "kernel", kernel);
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		json_object_set_new(root, "hostname", crpc__json_text(host));
	}
	json_object_set_new(root, "created", json_string(now));
	json_object_set_new(root, "pid", json_integer(mi->pid));

	/* what the images say: the tree with command names, and CRIU's statistics */
	have_info = crpc_images_info_read(dirfd, &info, &ie) == 0;
	json_object_set_new(root, "command",
			    crpc__json_text(mi->command ? mi->command
					    : have_info && info.n_tasks && info.tasks[0].comm[0]
						    ? info.tasks[0].comm
						    : NULL));
	json_object_set_new(root, "leave_running", json_boolean(mi->leave_running));
	if (mi->container_json) {
		json_error_t jerr;
		json_t *ct = json_loads(mi->container_json, 0, &jerr);

		if (!json_is_object(ct)) {
			json_decref(ct);
			crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, op,
				       "the container's record is no JSON object: %s", jerr.text);
			goto out;
		}
		json_object_set_new(root, "container", ct);
	}
	json_object_set_new(root, "options", mf_options_json(mi->options));
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
	if (ahead) {
		/* how much was hashed while CRIU wrote, in how many of the files */
		json_object_set_new(root, "hash_ahead_bytes", json_integer((json_int_t)ahead_bytes));
		json_object_set_new(root, "hash_ahead_files", json_integer((json_int_t)n_ahead));
	}
	/* pipes to processes outside the tree, for the restore to give back */
	{
		double t = crpc__timing_now();

		json_object_set_new(root, "outside_pipes",
				    outside_pipes_json(dirfd, have_info ? &info : NULL, pipes));
		crpc__timing("manifest: outside pipes", t);
	}
	/* the tree's own namespaces, for the restore to give back what they used outside */
	{
		json_t *ns = !mi->ns && mi->namespaces_json ? json_loads(mi->namespaces_json, 0, NULL) : NULL;

		if (!json_is_object(ns)) {
			json_decref(ns);
			ns = mf_ns_json(mi->ns);
		}
		if (!ns)
			goto oom;
		json_object_set_new(root, "namespaces", ns);
	}
	/* last: the checksum of all of the above */
	{
		char self[65];

		if (mf_self_digest(root, alg, self) < 0)
			goto oom;
		json_object_set_new(root, mf_self_key(alg), json_string(self));
	}

	text = json_dumps(root, JSON_INDENT(2));
	if (!text)
		goto oom;
	t0 = crpc__now();
	if (sync_started) {
		pthread_join(sync_thread, NULL);
		sync_started = false;
	}
	s.sync_seconds += sj.seconds;
	if (sj.err) {
		crpc_error_set(err, CRPC_EXIT_FAIL, sj.err, op, "cannot sync %s to disk",
			       sj.failed ? sj.failed : "the images directory");
		goto out;
	}
	if (write_manifest_file(dirfd, text, unpublished, err) < 0)
		goto out;
	s.sync_seconds += crpc__now() - t0;
	if (st)
		*st = s;
	rc = 0;
	goto out;
oom:
	crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
out:
	if (sync_started)
		pthread_join(sync_thread, NULL);
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
