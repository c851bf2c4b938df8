/* SPDX-License-Identifier: MIT */
/*
 * crpc/notify.h - CRIU's notifications and the dispatcher that answers them.
 *
 * When a request runs with notifications on, CRIU stops at each of its
 * action-script points (pre-dump, post-restore, ...) and waits for an answer.
 * libcrpc passes every notification through one dispatcher; trace, hooks and
 * the shim register themselves as its listeners. Listeners run in the order
 * they were added; the first one that fails makes the answer "failure" and
 * the later ones are not called.
 */
#ifndef CRPC_NOTIFY_H
#define CRPC_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "crpc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The 14 notifications CRIU knows, plus UNKNOWN for a name it may add later. */
typedef enum crpc_notify_kind {
	CRPC_NOTIFY_UNKNOWN = 0,
	CRPC_NOTIFY_PRE_STREAM,
	CRPC_NOTIFY_PRE_DUMP,
	CRPC_NOTIFY_POST_DUMP,
	CRPC_NOTIFY_PRE_RESTORE,
	CRPC_NOTIFY_POST_RESTORE,
	CRPC_NOTIFY_NETWORK_LOCK,
	CRPC_NOTIFY_NETWORK_UNLOCK,
	CRPC_NOTIFY_SETUP_NAMESPACES,
	CRPC_NOTIFY_POST_SETUP_NAMESPACES,
	CRPC_NOTIFY_PRE_RESUME,
	CRPC_NOTIFY_POST_RESUME,
	CRPC_NOTIFY_ORPHAN_PTS_MASTER,
	CRPC_NOTIFY_STATUS_READY,
	CRPC_NOTIFY_QUERY_EXT_FILES,
	CRPC_NOTIFY__COUNT
} crpc_notify_kind;

/** One notification, as handed to listeners. */
typedef struct crpc_notify {
	crpc_notify_kind kind;
	const char *name;      /**< CRIU's name, e.g. "post-dump" (also for UNKNOWN) */
	int pid;               /**< pid CRIU sent along (setup-namespaces, post-restore), else 0 */
	int fd;                /**< fd received with it (orphan-pts-master), else -1; owned by libcrpc */
	const char *operation; /**< "dump", "restore", ... */
	unsigned seq;          /**< 1 for the first notification of the request */
	double elapsed;        /**< seconds since the request was sent */

	/* Reply extras a listener may fill in (query-ext-files only). */
	char **external; /**< malloc'ed strings, freed by libcrpc */
	size_t n_external;
} crpc_notify;

/**
 * A listener. Return 0 to let CRIU go on, -1 (setting *err) to make CRIU
 * fail the step. For notifications CRIU cannot abort on (network-unlock,
 * pre-resume, post-resume) a failure is reported back as a warning only.
 */
typedef int (*crpc_notify_fn)(crpc_notify *n, void *userdata, crpc_error **err);

typedef struct crpc_dispatcher crpc_dispatcher;

/** Create an empty dispatcher. NULL on ENOMEM. */
crpc_dispatcher *crpc_dispatcher_new(void);

/** Free a dispatcher (NULL is fine); the listeners' userdata are not freed. */
void crpc_dispatcher_free(crpc_dispatcher *d);

/** Add a listener at the end. -1 on ENOMEM. */
int crpc_dispatcher_add(crpc_dispatcher *d, const char *name, crpc_notify_fn fn, void *userdata);

/**
 * Run the listeners for one notification. Returns 0 if all succeeded; else
 * -1 with *err set by the failing listener (its name is added to the error).
 */
int crpc_dispatcher_dispatch(crpc_dispatcher *d, crpc_notify *n, crpc_error **err);

/**
 * Warnings collected from listeners that failed where CRIU cannot abort;
 * NULL-terminated array owned by the dispatcher (never NULL).
 */
const char *const *crpc_dispatcher_warnings(const crpc_dispatcher *d);

/** Record a warning (formatted). */
void crpc_dispatcher_warn(crpc_dispatcher *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Name <-> kind. crpc_notify_kind_from_name() gives UNKNOWN for other names. */
const char *crpc_notify_kind_name(crpc_notify_kind k);
crpc_notify_kind crpc_notify_kind_from_name(const char *name);

/** Whether CRIU aborts the operation when the answer to `k` is failure. */
bool crpc_notify_can_abort(crpc_notify_kind k);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_NOTIFY_H */
