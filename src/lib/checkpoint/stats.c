/* SPDX-License-Identifier: MIT */
/*
 * stats.c - CRIU's statistics files (stats-dump, stats-restore).
 *
 * Layout: two host-endian u32 magics (service image, stats), a u32 length
 * and then one packed stats_entry of that length.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "stats.pb-c.h"

#define IMG_SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC 0x57093306u
#define STATS_MAX (64u * 1024)
#define STATS_HDR (3 * sizeof(uint32_t))

static void fill_dump(const DumpStatsEntry *d, crpc_stats *st)
{
	st->have_dump = true;
	st->freezing_time = d->freezing_time;
	st->frozen_time = d->frozen_time;
	st->memdump_time = d->memdump_time;
	st->memwrite_time = d->memwrite_time;
	st->pages_scanned = d->pages_scanned;
	st->pages_skipped_parent = d->pages_skipped_parent;
	st->pages_written = d->pages_written;
	st->pages_lazy = d->pages_lazy;
}

static void fill_restore(const RestoreStatsEntry *r, crpc_stats *st)
{
	st->have_restore = true;
	st->pages_compared = r->pages_compared;
	st->pages_skipped_cow = r->pages_skipped_cow;
	st->pages_restored = r->has_pages_restored ? r->pages_restored : 0;
	st->forking_time = r->forking_time;
	st->restore_time = r->restore_time;
}

CRPC_API int crpc_stats_read(int dirfd, const char *name, crpc_stats *st, crpc_error **err)
{
	cleanup_free uint8_t *buf = NULL;
	cleanup_free char *op = NULL;
	uint32_t hdr[3];
	StatsEntry *se;
	size_t len;

	if (asprintf(&op, "reading CRIU's statistics (%s)", name) < 0) {
		op = NULL;
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "reading CRIU's statistics",
				      "out of memory");
	}
	if (crpc__read_whole_at(dirfd, name, STATS_MAX, &buf, &len) < 0) {
		switch (errno) {
		case ENOENT:
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, op, "%s is missing", name);
		case EFBIG:
			return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
					      "%s is larger than %u KiB; it is not a CRIU "
					      "statistics file",
					      name, STATS_MAX / 1024);
		case EINVAL:
		case ELOOP:
			return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is not a regular file", name);
		default:
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s", name);
		}
	}
	if (len < 2 * sizeof(uint32_t))
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is not a CRIU statistics file (only %zu bytes)", name, len);
	memcpy(hdr, buf, 2 * sizeof(uint32_t));
	if (hdr[0] != IMG_SERVICE_MAGIC || hdr[1] != STATS_MAGIC)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is not a CRIU statistics file (bad magic 0x%08" PRIx32
				      " 0x%08" PRIx32 ", expected 0x%08x 0x%08x)",
				      name, hdr[0], hdr[1], IMG_SERVICE_MAGIC, STATS_MAGIC);
	if (len < STATS_HDR)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is truncated: it ends before the entry's length", name);
	memcpy(&hdr[2], buf + 2 * sizeof(uint32_t), sizeof(uint32_t));
	if (hdr[2] > len - STATS_HDR)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is truncated: its entry needs %" PRIu32
				      " bytes but only %zu are left",
				      name, hdr[2], len - STATS_HDR);

	se = stats_entry__unpack(NULL, hdr[2], buf + STATS_HDR);
	if (!se)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is corrupt: its entry cannot be decoded", name);
	if (!se->dump && !se->restore) {
		stats_entry__free_unpacked(se, NULL);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s holds neither dump nor restore statistics", name);
	}
	if (se->dump)
		fill_dump(se->dump, st);
	if (se->restore)
		fill_restore(se->restore, st);
	stats_entry__free_unpacked(se, NULL);
	return 0;
}
