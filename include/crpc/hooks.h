/* SPDX-License-Identifier: MIT */
/*
 * crpc/hooks.h - running the configured hook steps at CRIU's notifications.
 *
 * A hook runner is a listener of the notify dispatcher. For each
 * notification it runs that callback's steps in order, each in its own
 * process group with stdin from /dev/null, its output captured line by line
 * into hooks.log (and to stderr when verbose), killed with its whole group
 * past its timeout. A failing step fails the notification according to its
 * on_failure setting, which makes CRIU abort where it can.
 */
#ifndef CRPC_HOOKS_H
#define CRPC_HOOKS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "crpc/config.h"
#include "crpc/error.h"
#include "crpc/notify.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crpc_hook_runner crpc_hook_runner;

/**
 * Context of the operation the hooks run for. Initialise with
 * crpc_hook_context_init(); members may be added at the end in later
 * versions (the library reads only the first `size` bytes).
 */
typedef struct crpc_hook_context {
	size_t size;            /**< sizeof(crpc_hook_context), set by the init function */
	const char *operation;  /**< "dump" or "restore" */
	pid_t pid;              /**< dump: target; restore: 0 until known */
	const char *images_dir; /**< real path of the images directory */
	int images_dir_fd;      /**< its fd (hooks.log is created in it), or -1 */
	FILE *verbose;          /**< where to echo step output (NULL: nowhere) */
	unsigned grace_ms;      /**< SIGTERM -> SIGKILL grace, 0: 2000 */
} crpc_hook_context;

/** Set c->size and the defaults: images_dir_fd -1, everything else 0 / NULL. */
void crpc_hook_context_init(crpc_hook_context *c);

/** Create a runner for hooks (`hooks` is not copied: it must outlive the runner; ctx may be NULL). */
int crpc_hook_runner_new(crpc_hook_runner **out, const crpc_hooks *hooks, const crpc_hook_context *ctx,
			 crpc_error **err);

/** Free a runner (NULL is fine); closes hooks.log. */
void crpc_hook_runner_free(crpc_hook_runner *r);

/** The dispatcher listener: pass the runner as userdata. */
int crpc_hook_runner_notify(crpc_notify *n, void *runner, crpc_error **err);

/** Set the pid hooks see as CRPC_PID (e.g. once the restored root is known). */
void crpc_hook_runner_set_pid(crpc_hook_runner *r, pid_t pid);

/** Warnings from steps that failed with on_failure warn or where CRIU cannot abort. */
const char *const *crpc_hook_runner_warnings(const crpc_hook_runner *r);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_HOOKS_H */
