/* SPDX-License-Identifier: MIT */
/*
 * crpc/images.h - what libcrpc knows about a checkpoint directory.
 *
 * Enough of CRIU's image format to tell whether a directory holds a
 * checkpoint, which PIDs its process tree needs, and whether those PIDs
 * are free on this machine.
 */
#ifndef CRPC_IMAGES_H
#define CRPC_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crpc/error.h"
#include "crpc/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Marker file crpc keeps in a directory while a dump into it is running. */
#define CRPC_INPROGRESS_MARKER ".crpc-dump-in-progress"

/** One task of a checkpointed tree (from pstree.img). */
typedef struct crpc_task {
	pid_t pid, ppid, pgid, sid;
	pid_t *threads; /**< thread ids, including pid itself */
	size_t n_threads;
} crpc_task;

/** A checkpoint's process tree. */
typedef struct crpc_pstree {
	crpc_task *tasks; /**< tasks[0] is the root */
	size_t n_tasks;
} crpc_pstree;

/**
 * Whether dirfd holds something that looks like a checkpoint (inventory.img
 * present). Used to refuse dumping over one.
 */
bool crpc_images_present(int dirfd);

/**
 * Check that dirfd holds a complete checkpoint: inventory.img and pstree.img
 * present and readable, with CRIU's magic numbers, and no in-progress marker.
 * The error (CRPC_EXIT_FAIL) says what is missing or wrong.
 */
int crpc_images_check(int dirfd, const char *dir_name, crpc_error **err);

/** Read pstree.img from dirfd. Bounded (refuses files over 16 MiB). */
int crpc_pstree_read(int dirfd, crpc_pstree *out, crpc_error **err);

/** Free what crpc_pstree_read() allocated. */
void crpc_pstree_release(crpc_pstree *t);

/**
 * Make sure every PID (and thread id) of the tree is free. A PID held by a
 * zombie is waited for up to `wait_ms`; a live process fails at once with an
 * error naming the PID and its command (cause CRPC_CAUSE_PID_IN_USE).
 */
int crpc_pstree_pids_available(const crpc_pstree *t, unsigned wait_ms, crpc_error **err);

/** Total size in bytes of the regular files in dirfd (not recursive). */
int crpc_images_size(int dirfd, uint64_t *bytes, crpc_error **err);

/**
 * Like crpc_images_check(); with `allow_unfinished` an in-progress marker
 * is not an error (restore --force).
 */
int crpc_images_validate(int dirfd, const char *dir_name, bool allow_unfinished, crpc_error **err);

/** Slots of crpc_fd_counts.by_type: CRIU's fd type numbers below this; larger ones count in the last. */
#define CRPC_FD_TYPE_SLOTS 32

/** Descriptors (fdinfo images) or open files (files.img) counted by CRIU's fd type. */
typedef struct crpc_fd_counts {
	uint64_t total;
	uint64_t by_type[CRPC_FD_TYPE_SLOTS];
} crpc_fd_counts;

/** Pages of the pagemap images. */
typedef struct crpc_page_counts {
	uint64_t pages;   /**< every page the pagemaps describe */
	uint64_t present; /**< pages stored in this checkpoint's pages-*.img */
	uint64_t parent;  /**< pages left in a parent checkpoint */
	uint64_t lazy;    /**< pages that may be restored lazily */
} crpc_page_counts;

/** Command name of one thread (from its core image). */
typedef struct crpc_thread_comm {
	char comm[64]; /**< "" if unknown */
} crpc_thread_comm;

/** One task of a checkpoint, as `crpc show` describes it. */
typedef struct crpc_task_info {
	crpc_task task;                /**< from pstree.img (threads owned by this struct) */
	char comm[64];                 /**< command name from core-PID.img, "" if unknown */
	crpc_thread_comm *thread_comm; /**< one per entry of task.threads */
	bool have_files_id;
	uint32_t files_id; /**< which fd table (fdinfo-ID.img) the task uses */
	bool have_fds;
	crpc_fd_counts fds; /**< its descriptors */
	bool have_pages;
	crpc_page_counts pages;
	uint32_t pages_id; /**< pages-ID.img its pagemap names */
} crpc_task_info;

/** What a checkpoint holds, read from its images (crpc_images_info_read()). */
typedef struct crpc_images_info {
	crpc_task_info *tasks; /**< pstree order, tasks[0] is the root */
	size_t n_tasks;
	crpc_fd_counts fds; /**< descriptors of every distinct fd table */
	size_t n_fd_tables;
	bool have_files;
	crpc_fd_counts files;   /**< open files (files.img) */
	crpc_page_counts pages; /**< sum over the tasks */
	uint64_t page_size;
	uint64_t pages_bytes; /**< size of the pages-*.img files */
	size_t n_pages_files;
	uint64_t image_bytes; /**< all regular files of the directory */
	size_t n_files;
	bool have_stats;
	crpc_stats stats; /**< from stats-dump */
	char **warnings;  /**< images that could not be read, one message each */
	size_t n_warnings;
} crpc_images_info;

/**
 * Read what a checkpoint holds: the process tree (pstree.img, required)
 * with each task's command name (core images), descriptors by type
 * (ids/core and fdinfo images), open files by type (files.img), pages
 * (pagemap images), sizes and CRIU's statistics. A task image that is
 * missing or damaged is reported in out->warnings, not as an error.
 */
int crpc_images_info_read(int dirfd, crpc_images_info *out, crpc_error **err);

/** Free what crpc_images_info_read() allocated. */
void crpc_images_info_release(crpc_images_info *info);

/**
 * crpc's name of one of CRIU's fd type numbers ("reg", "pipe", "unixsk",
 * ...), or NULL for a number it does not know.
 */
const char *crpc_criu_fd_type_name(unsigned type);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_IMAGES_H */
