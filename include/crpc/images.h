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
int crpc_pstree_pids_free(const crpc_pstree *t, unsigned wait_ms, crpc_error **err);

/** Total size in bytes of the regular files in dirfd (not recursive). */
int crpc_images_size(int dirfd, uint64_t *bytes, crpc_error **err);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_IMAGES_H */
