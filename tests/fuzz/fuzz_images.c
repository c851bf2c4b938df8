/* SPDX-License-Identifier: MIT */
/*
 * fuzz_images.c - a checkpoint directory: the input is a list of files,
 * each written into the harness's own directory (emptied first), then every
 * image reader runs on it: crpc_images_present(), crpc_images_check(),
 * crpc_images_validate(), crpc_pstree_read(), crpc_images_info_read()
 * (core, ids, fdinfo, files, pagemap images), crpc_images_size() and
 * crpc_stats_read().
 *
 * Input: a sequence of
 *     u8 kind | u32 number (little endian) | u16 length (little endian) | data
 * where kind (modulo FZ_KINDS) picks the file name, number fills in the
 * PID or id of names that have one, and kind bit 0x80 makes a directory of
 * that name instead of a file. A length past the end takes what is left.
 */
#include <sys/stat.h>

#include "crpc/crpc.h"
#include "crpc/images.h"
#include "fuzz_common.h"

static const char *const fz_names[] = {
	"pstree.img",    "inventory.img", "core-%u.img",          "ids-%u.img",
	"fdinfo-%u.img", "files.img",     "pagemap-%u.img",       "pages-%u.img",
	"stats-dump",    "stats-restore", CRPC_INPROGRESS_MARKER, "mm-%u.img",
};
#define FZ_KINDS (sizeof(fz_names) / sizeof(fz_names[0]))

static void fz_put_file(int dirfd, uint8_t kind, uint32_t num, const uint8_t *data, size_t len)
{
	const char *fmt = fz_names[(kind & 0x7f) % FZ_KINDS];
	char name[64];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(name, sizeof(name), fmt, (unsigned)num);
#pragma GCC diagnostic pop
	unlinkat(dirfd, name, 0);
	unlinkat(dirfd, name, AT_REMOVEDIR);
	if (kind & 0x80)
		mkdirat(dirfd, name, 0700);
	else
		fz_write_at(dirfd, name, data, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	crpc_images_info info;
	crpc_pstree tree;
	crpc_stats st;
	crpc_error *err = NULL;
	uint64_t bytes;
	int dirfd = fz_dir();

	fz_clear_dir(dirfd);
	while (size >= 7) {
		uint8_t kind = data[0];
		uint32_t num = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
			       (uint32_t)data[4] << 24;
		size_t len = (size_t)data[5] | (size_t)data[6] << 8;

		data += 7;
		size -= 7;
		if (len > size)
			len = size;
		fz_put_file(dirfd, kind, num, data, len);
		data += len;
		size -= len;
	}

	(void)crpc_images_present(dirfd);
	if (crpc_images_check(dirfd, "fuzz", &err) < 0)
		fz_drop_error(&err);
	if (crpc_images_validate(dirfd, "fuzz", true, &err) < 0)
		fz_drop_error(&err);

	if (crpc_pstree_read(dirfd, &tree, &err) == 0) {
		for (size_t i = 0; i < tree.n_tasks; i++)
			if (tree.tasks[i].n_threads && !tree.tasks[i].threads)
				abort();
		crpc_pstree_release(&tree);
	}
	fz_drop_error(&err);

	if (crpc_images_info_read(dirfd, &info, &err) == 0) {
		for (size_t i = 0; i < info.n_tasks; i++) {
			const crpc_task_info *t = &info.tasks[i];

			if (strnlen(t->comm, sizeof(t->comm)) == sizeof(t->comm))
				abort();
			for (size_t j = 0; t->thread_comm && j < t->task.n_threads; j++)
				if (strnlen(t->thread_comm[j].comm, sizeof(t->thread_comm[j].comm)) ==
				    sizeof(t->thread_comm[j].comm))
					abort();
			for (unsigned k = 0; k < CRPC_FD_TYPE_SLOTS; k++)
				(void)crpc_criu_fd_type_name(k);
		}
		for (size_t i = 0; i < info.n_warnings; i++)
			if (!info.warnings[i])
				abort();
		crpc_images_info_release(&info);
	}
	fz_drop_error(&err);

	if (crpc_images_size(dirfd, &bytes, &err) < 0)
		fz_drop_error(&err);
	memset(&st, 0, sizeof(st));
	if (crpc_stats_read(dirfd, "stats-dump", &st, &err) < 0)
		fz_drop_error(&err);
	memset(&st, 0, sizeof(st));
	if (crpc_stats_read(dirfd, "stats-restore", &st, &err) < 0)
		fz_drop_error(&err);
	return 0;
}
