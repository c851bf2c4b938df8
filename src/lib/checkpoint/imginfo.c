/* SPDX-License-Identifier: MIT */
/*
 * imginfo.c - what a checkpoint holds, read from CRIU's images for
 * `crpc show` and the manifest: the process tree with command names,
 * descriptors and open files by type, and memory pages.
 *
 * Which images say what (CRIU's layout, read with crpc's own minimal
 * .proto files: core.proto, fdinfo.proto, pagemap.proto):
 *   pstree.img          the tasks and their threads
 *   core-TID.img        per thread; the leader's entry names the task
 *                       (task part, comm), every entry names its thread
 *   ids-PID.img         which fd table the task uses (files id); older
 *                       CRIU put these ids into the core entry
 *   fdinfo-ID.img       one entry per descriptor of fd table ID, with type
 *   files.img           one entry per open file, with type
 *   pagemap-PID.img     a head (which pages-ID.img holds the data), then
 *                       runs of pages with flags saying where they are
 *
 * Everything besides pstree.img is optional: an image that is missing or
 * damaged becomes a warning and the rest is still reported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "imgfile.h"
#include "internal.h"
#include "pagemap.pb-c.h"

#define CORE_MAGIC 0x55053847u
#define IDS_MAGIC 0x54432030u
#define FDINFO_MAGIC 0x56213732u
#define FILES_MAGIC 0x56303138u
#define PAGEMAP_MAGIC 0x56084025u

#define CORE_MAX (16u << 20)
#define TABLE_MAX (64u << 20)

/* Flags of a pagemap entry. */
#define PAGE_IN_PARENT 0x1u
#define PAGE_LAZY 0x2u
#define PAGE_PRESENT 0x4u

#define OP "reading the checkpoint's images"

static const char *const fd_type_names[] = {
	[0] = "undefined", [1] = "reg",     [2] = "pipe",      [3] = "fifo",       [4] = "inetsk",
	[5] = "unixsk",    [6] = "eventfd", [7] = "eventpoll", [8] = "inotify",    [9] = "signalfd",
	[10] = "packetsk", [11] = "tty",    [12] = "fanotify", [13] = "netlinksk", [14] = "ns",
	[15] = "tunf",     [16] = "ext",    [17] = "timerfd",  [18] = "memfd",     [19] = "bpfmap",
	[20] = "pidfd",
};

CRPC_API const char *crpc_criu_fd_type_name(unsigned type)
{
	return ENUM_NAME(fd_type_names, type, NULL);
}

static void count_fd(crpc_fd_counts *c, uint32_t type)
{
	c->total++;
	c->by_type[type < CRPC_FD_TYPE_SLOTS ? type : CRPC_FD_TYPE_SLOTS - 1]++;
}

static void add_counts(crpc_fd_counts *to, const crpc_fd_counts *from)
{
	to->total += from->total;
	for (size_t i = 0; i < CRPC_FD_TYPE_SLOTS; i++)
		to->by_type[i] += from->by_type[i];
}

/* Record a warning (ENOMEM: dropped silently, the info is still useful). */
static void __attribute__((format(printf, 2, 3))) warn(crpc_images_info *info, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = crpc__strdup_vprintf(fmt, ap);
	va_end(ap);
	(void)crpc__strv_push(&info->warnings, &info->n_warnings, msg);
}

/* Turn an error into a warning and free it. */
static void warn_error(crpc_images_info *info, crpc_error *e)
{
	warn(info, "%s", e && e->message ? e->message : "out of memory");
	crpc_error_free(e);
}

/*
 * Open image `name` with the common magic and `magic`: 1 with the blob and
 * cursor set, 0 when the file does not exist (nothing stored), -1 with a
 * warning when it cannot be read or is not such an image.
 */
static int img_open_opt(int dirfd, crpc_images_info *info, const char *name, size_t max, uint32_t magic,
			struct blob *b, struct cursor *c)
{
	crpc_error *e = NULL;

	b->data = NULL;
	if (crpc__img_open(dirfd, name, max, CRPC__IMG_COMMON_MAGIC, magic, OP, b, c, &e) == 0)
		return 1;
	free(b->data);
	b->data = NULL;
	if (e && e->sys_errno == ENOENT) {
		crpc_error_free(e);
		return 0;
	}
	warn_error(info, e);
	return -1;
}

/*
 * The first entry of image `name`, decoded as desc; NULL with a warning
 * when the image is missing ("NAME is missing" and `missing`), holds no
 * entry or is damaged.
 */
static ProtobufCMessage *first_entry(int dirfd, crpc_images_info *info, const char *name, uint32_t magic,
				     const ProtobufCMessageDescriptor *desc, const char *missing)
{
	struct blob b;
	struct cursor c;
	const uint8_t *data;
	size_t len;
	crpc_error *e = NULL;
	ProtobufCMessage *m = NULL;
	int r;

	r = img_open_opt(dirfd, info, name, CORE_MAX, magic, &b, &c);
	if (r == 0)
		warn(info, "%s is missing%s", name, missing);
	if (r <= 0)
		return NULL;
	r = crpc__img_next(&c, name, 0, OP, &data, &len, &e);
	if (r == 0)
		warn(info, "%s holds no entry", name);
	else if (r < 0)
		warn_error(info, e);
	else if (!(m = protobuf_c_message_unpack(desc, NULL, len, data)))
		warn(info, "%s is corrupt: its entry cannot be decoded", name);
	free(b.data);
	return m;
}

/* The entry of core-TID.img, NULL when missing (a warning) or damaged. */
static CoreEntry *core_read(int dirfd, crpc_images_info *info, pid_t tid)
{
	char name[64];

	snprintf(name, sizeof(name), "core-%d.img", (int)tid);
	return (CoreEntry *)first_entry(dirfd, info, name, CORE_MAGIC, &core_entry__descriptor, "");
}

static void copy_comm(char *dst, size_t dstsz, const char *src)
{
	snprintf(dst, dstsz, "%s", src ? src : "");
}

/* files id of a task from ids-PID.img (newer CRIU) when the core entry had none. */
static void ids_read(int dirfd, crpc_images_info *info, crpc_task_info *t)
{
	char name[64];
	CoreIds *ids;

	snprintf(name, sizeof(name), "ids-%d.img", (int)t->task.pid);
	ids = (CoreIds *)first_entry(dirfd, info, name, IDS_MAGIC, &core_ids__descriptor,
				     ": the task's descriptors are not known");
	if (!ids)
		return;
	if (ids->has_files_id) {
		t->have_files_id = true;
		t->files_id = ids->files_id;
	}
	core_ids__free_unpacked(ids, NULL);
}

/* Names and files id of a task and its threads. */
static int task_names(int dirfd, crpc_images_info *info, crpc_task_info *t)
{
	CoreEntry *ce;

	t->thread_comm = calloc(t->task.n_threads ? t->task.n_threads : 1, sizeof(*t->thread_comm));
	if (!t->thread_comm)
		return -1;
	for (size_t i = 0; i < t->task.n_threads; i++) {
		pid_t tid = t->task.threads[i];

		ce = core_read(dirfd, info, tid);
		if (!ce)
			continue;
		if (tid == t->task.pid) {
			if (ce->tc && ce->tc->comm)
				copy_comm(t->comm, sizeof(t->comm), ce->tc->comm);
			if (ce->ids && ce->ids->has_files_id) {
				t->have_files_id = true;
				t->files_id = ce->ids->files_id;
			}
		}
		if (ce->thread_core && ce->thread_core->comm)
			copy_comm(t->thread_comm[i].comm, sizeof(t->thread_comm[i].comm),
				  ce->thread_core->comm);
		core_entry__free_unpacked(ce, NULL);
	}
	/* a leader whose task part lacks a name: its thread name is the same */
	if (!t->comm[0] && t->task.n_threads && t->thread_comm[0].comm[0] &&
	    t->task.threads[0] == t->task.pid)
		copy_comm(t->comm, sizeof(t->comm), t->thread_comm[0].comm);
	if (!t->have_files_id)
		ids_read(dirfd, info, t);
	return 0;
}

/*
 * Decode every entry of image `name` (opened in c): the first as head_desc
 * (if not NULL), the others as desc, and hand each to fn(m, index, arg).
 * 0 at the end of the image, -1 with a warning when it is truncated or an
 * entry cannot be decoded.
 */
static int each_entry(crpc_images_info *info, const char *name, struct cursor *c,
		      const ProtobufCMessageDescriptor *head_desc, const ProtobufCMessageDescriptor *desc,
		      void (*fn)(const ProtobufCMessage *m, size_t index, void *arg), void *arg)
{
	crpc_error *e = NULL;

	for (size_t i = 0;; i++) {
		const uint8_t *data;
		size_t len;
		bool head = i == 0 && head_desc;
		ProtobufCMessage *m;
		int r = crpc__img_next(c, name, i, OP, &data, &len, &e);

		if (r == 0)
			return 0;
		if (r < 0) {
			warn_error(info, e);
			return -1;
		}
		m = protobuf_c_message_unpack(head ? head_desc : desc, NULL, len, data);
		if (!m) {
			if (head)
				warn(info, "%s is corrupt: its head cannot be decoded", name);
			else
				warn(info, "%s is corrupt: entry %zu cannot be decoded", name, i + 1);
			return -1;
		}
		fn(m, i, arg);
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

/* Count one fdinfo or files entry by its type. */
static void count_entry(const ProtobufCMessage *m, size_t index, void *arg)
{
	(void)index;
	if (m->descriptor == &file_entry__descriptor)
		count_fd(arg, ((const FileEntry *)m)->type);
	else
		count_fd(arg, ((const FdinfoEntry *)m)->type);
}

/* Count the entries of fdinfo-ID.img or files.img by type. 1 ok, 0 missing, -1 damaged. */
static int count_table(int dirfd, crpc_images_info *info, const char *name, uint32_t magic, bool files,
		       crpc_fd_counts *out)
{
	struct blob b;
	struct cursor c;
	int r;

	memset(out, 0, sizeof(*out));
	r = img_open_opt(dirfd, info, name, TABLE_MAX, magic, &b, &c);
	if (r <= 0)
		return r;
	r = each_entry(info, name, &c, NULL, files ? &file_entry__descriptor : &fdinfo_entry__descriptor,
		       count_entry, out);
	free(b.data);
	return r < 0 ? -1 : 1;
}

/* Descriptors of every task; each distinct fd table counted once in the totals. */
static void tasks_fds(int dirfd, crpc_images_info *info)
{
	for (size_t i = 0; i < info->n_tasks; i++) {
		crpc_task_info *t = &info->tasks[i];
		char name[64];
		bool seen = false;
		int r;

		if (!t->have_files_id)
			continue;
		for (size_t j = 0; j < i && !seen; j++) {
			if (info->tasks[j].have_fds && info->tasks[j].have_files_id &&
			    info->tasks[j].files_id == t->files_id) {
				t->fds = info->tasks[j].fds;
				t->have_fds = true;
				seen = true;
			}
		}
		if (seen)
			continue;
		snprintf(name, sizeof(name), "fdinfo-%" PRIu32 ".img", t->files_id);
		r = count_table(dirfd, info, name, FDINFO_MAGIC, false, &t->fds);
		if (r == 0)
			warn(info, "%s (the descriptors of PID %d) is missing", name, (int)t->task.pid);
		if (r <= 0)
			continue;
		t->have_fds = true;
		add_counts(&info->fds, &t->fds);
		info->n_fd_tables++;
	}
}

/* What task_pages() gathers from a pagemap image. */
struct pages_acc {
	crpc_task_info *t;
	crpc_page_counts pc;
};

/* Take in the head (its pages id) or one run of pages of a pagemap image. */
static void pages_entry(const ProtobufCMessage *m, size_t index, void *arg)
{
	struct pages_acc *a = arg;
	const PagemapEntry *pe;
	uint64_t n;

	if (index == 0) {
		a->t->pages_id = ((const PagemapHead *)m)->pages_id;
		return;
	}
	pe = (const PagemapEntry *)m;
	n = pe->has_nr_pages_64 ? pe->nr_pages_64 : pe->nr_pages_32;
	a->pc.pages += n;
	if (pe->has_flags) {
		if (pe->flags & PAGE_PRESENT)
			a->pc.present += n;
		if (pe->flags & PAGE_IN_PARENT)
			a->pc.parent += n;
		if (pe->flags & PAGE_LAZY)
			a->pc.lazy += n;
	} else if (pe->has_in_parent && pe->in_parent) {
		a->pc.parent += n;
	} else {
		a->pc.present += n;
	}
}

/* Pages of one task from pagemap-PID.img. */
static void task_pages(int dirfd, crpc_images_info *info, crpc_task_info *t)
{
	char name[64];
	struct blob b;
	struct cursor c;
	struct pages_acc a = { .t = t };
	int r;

	snprintf(name, sizeof(name), "pagemap-%d.img", (int)t->task.pid);
	r = img_open_opt(dirfd, info, name, TABLE_MAX, PAGEMAP_MAGIC, &b, &c);
	if (r == 0)
		warn(info, "%s is missing", name);
	if (r <= 0)
		return;
	if (each_entry(info, name, &c, &pagemap_head__descriptor, &pagemap_entry__descriptor, pages_entry,
		       &a) == 0) {
		t->pages = a.pc;
		t->have_pages = true;
		info->pages.pages += a.pc.pages;
		info->pages.present += a.pc.present;
		info->pages.parent += a.pc.parent;
		info->pages.lazy += a.pc.lazy;
	}
	free(b.data);
}

static bool name_is(const char *name, const char *prefix, const char *suffix)
{
	size_t n = strlen(name), p = strlen(prefix), s = strlen(suffix);

	return n > p + s && strncmp(name, prefix, p) == 0 && strcmp(name + n - s, suffix) == 0;
}

/* Sizes of the directory's regular files and of its pages images. */
static int dir_sizes(int dirfd, crpc_images_info *info, crpc_error **err)
{
	DIR *d = io_opendir_at(dirfd, ".");
	struct dirent *de;

	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, OP, "cannot read the checkpoint directory");
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		info->n_files++;
		info->image_bytes += (uint64_t)st.st_size;
		if (name_is(de->d_name, "pages-", ".img")) {
			info->n_pages_files++;
			info->pages_bytes += (uint64_t)st.st_size;
		}
	}
	closedir(d);
	return 0;
}

CRPC_API int crpc_images_info_read(int dirfd, crpc_images_info *out, crpc_error **err)
{
	crpc_images_info info;
	crpc_pstree tree = { 0 };
	crpc_error *e = NULL;
	long ps = sysconf(_SC_PAGESIZE);

	memset(&info, 0, sizeof(info));
	memset(out, 0, sizeof(*out));
	info.page_size = ps > 0 ? (uint64_t)ps : 4096;
	if (crpc_pstree_read(dirfd, &tree, err) < 0)
		return -1;
	info.tasks = calloc(tree.n_tasks, sizeof(*info.tasks));
	if (!info.tasks) {
		crpc_pstree_release(&tree);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, OP, "out of memory");
	}
	/* the tasks' thread arrays move over to info */
	for (size_t i = 0; i < tree.n_tasks; i++)
		info.tasks[i].task = tree.tasks[i];
	info.n_tasks = tree.n_tasks;
	free(tree.tasks);

	for (size_t i = 0; i < info.n_tasks; i++) {
		if (task_names(dirfd, &info, &info.tasks[i]) < 0) {
			crpc_images_info_release(&info);
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, OP, "out of memory");
		}
		task_pages(dirfd, &info, &info.tasks[i]);
	}
	tasks_fds(dirfd, &info);
	if (count_table(dirfd, &info, "files.img", FILES_MAGIC, true, &info.files) > 0)
		info.have_files = true;
	if (dir_sizes(dirfd, &info, err) < 0) {
		crpc_images_info_release(&info);
		return -1;
	}
	if (crpc_stats_read(dirfd, "stats-dump", &info.stats, &e) == 0 && info.stats.have_dump)
		info.have_stats = true;
	else if (e && e->sys_errno != ENOENT)
		warn_error(&info, e), e = NULL;
	crpc_error_free(e);
	*out = info;
	return 0;
}

CRPC_API void crpc_images_info_release(crpc_images_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->n_tasks; i++) {
		crpc_task_info *t = &info->tasks[i];

		free(t->thread_comm);
		free(t->task.threads);
	}
	free(info->tasks);
	for (size_t i = 0; i < info->n_warnings; i++)
		free(info->warnings[i]);
	free(info->warnings);
	memset(info, 0, sizeof(*info));
}
