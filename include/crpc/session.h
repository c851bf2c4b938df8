/* SPDX-License-Identifier: MIT */
/*
 * crpc/session.h - one `criu swrk` worker and the requests sent to it.
 *
 * A session forks `CRIU swrk <fd>` over a SOCK_SEQPACKET socketpair, asks
 * CRIU for its version (keeping the worker open) and then carries one
 * operation: check, features, dump or restore. CRIU's worker ends after
 * an operation, so a session serves exactly one of those; VERSION and
 * FEATURE_CHECK keep it open and can precede the operation.
 *
 * Typical use:
 *
 *     crpc_session *s = NULL;
 *     crpc_session_config cfg = { .criu_path = "/usr/sbin/criu" };
 *     if (crpc_session_open(&s, &cfg, &err) < 0) ...
 *     crpc_dump_result res;
 *     if (crpc_session_dump(s, &opts, dispatcher, &res, &err) < 0) ...
 *     crpc_session_close(s);
 */
#ifndef CRPC_SESSION_H
#define CRPC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crpc/error.h"
#include "crpc/notify.h"
#include "crpc/opts.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest message libcrpc accepts from CRIU (real ones are below 2 KiB). */
#define CRPC_MSG_MAX (256u << 10)

typedef struct crpc_session crpc_session;

/** Which way a message went. */
typedef enum crpc_direction {
	CRPC_TO_CRIU = 0,
	CRPC_FROM_CRIU = 1
} crpc_direction;

/**
 * Observer of every raw message of a session (for tracing). `msg` is the
 * packed protobuf, `fd` an fd passed along with it or -1. Must not fail.
 */
typedef void (*crpc_message_fn)(crpc_direction dir, const uint8_t *msg, size_t len, int fd, void *userdata);

/**
 * How to start CRIU. Initialise with crpc_session_config_init(); members may
 * be added at the end in later versions (the library reads only the first
 * `size` bytes, so older callers keep working).
 */
typedef struct crpc_session_config {
	size_t size;                /**< sizeof(crpc_session_config), set by the init function */
	const char *criu_path;      /**< binary to run as `PATH swrk N`; NULL: resolve */
	crpc_message_fn on_message; /**< optional raw message observer */
	void *on_message_data;
	unsigned timeout_ms; /**< give up on a request after this long (0: never) */
} crpc_session_config;

/** Set c->size, everything else 0 / NULL (the defaults). */
void crpc_session_config_init(crpc_session_config *c);

/** Result of CRIU's FEATURE_CHECK, read from the reply. */
typedef struct crpc_features {
	bool mem_track;
	bool lazy_pages;
	bool pidfd_store;
	bool has_pidfd_store; /**< CRIU answered about pidfd_store at all */
} crpc_features;

/** CRIU's statistics (from stats-dump / stats-restore), times in microseconds. */
typedef struct crpc_stats {
	bool have_dump;
	uint32_t freezing_time, frozen_time, memdump_time, memwrite_time;
	uint64_t pages_scanned, pages_skipped_parent, pages_written, pages_lazy;
	bool have_restore;
	uint64_t pages_compared, pages_skipped_cow, pages_restored;
	uint32_t forking_time, restore_time;
} crpc_stats;

/** What a dump gave back. */
typedef struct crpc_dump_result {
	bool restored;          /**< CRIU's dump.restored (self-dump only) */
	unsigned notifications; /**< how many notifications were answered */
} crpc_dump_result;

/** What a restore gave back. */
typedef struct crpc_restore_result {
	pid_t pid; /**< the restored root's real pid */
	unsigned notifications;
} crpc_restore_result;

/**
 * Resolve the CRIU binary: `explicit_path` if not NULL, else $CRPC_CRIU,
 * else `criu` on $PATH. Writes an absolute or given path into buf.
 * Fails with CRPC_EXIT_ENV when nothing is found or it is not executable.
 */
int crpc_criu_resolve(const char *explicit_path, char *buf, size_t bufsz, crpc_error **err);

/**
 * Start `criu swrk` and ask it its version (keep_open). On failure nothing
 * is left running. A binary that cannot be executed gives CRPC_EXIT_ENV.
 *
 * The worker is the caller's child and libcrpc reaps exactly its pid (never
 * waitpid(-1)): the caller must not ignore SIGCHLD (SIG_IGN or SA_NOCLDWAIT
 * make the kernel reap children itself, and how CRIU ended could not be
 * told: the open then fails with CRPC_EXIT_USAGE), nor reap children it does
 * not know while a session is open.
 */
int crpc_session_open(crpc_session **out, const crpc_session_config *cfg, crpc_error **err);

/** CRIU's version as reported at open. */
const crpc_version *crpc_session_version(const crpc_session *s);

/** The pid of the CRIU worker (for diagnostics; tests use it to kill CRIU). */
pid_t crpc_session_criu_pid(const crpc_session *s);

/** Path of the CRIU binary this session runs. */
const char *crpc_session_criu_path(const crpc_session *s);

/**
 * Close the socket, wait for CRIU (killing it if it does not exit within a
 * short grace) and free the session. NULL is fine.
 */
void crpc_session_close(crpc_session *s);

/** For __attribute__((cleanup)). */
void crpc_session_closep(crpc_session **s);

/** FEATURE_CHECK (keeps the session open). */
int crpc_session_features(crpc_session *s, crpc_features *out, crpc_error **err);

/**
 * CHECK: CRIU's own kernel check. `images_dir_fd` must be a directory CRIU
 * may write its log into (CRIU <= 4.1.1 crashes without one). Ends the session's
 * worker. Fails with CRPC_EXIT_ENV when the check fails.
 */
int crpc_session_check(crpc_session *s, int images_dir_fd, crpc_error **err);

/**
 * Run CRIU's own kernel check with a new worker started as `cfg` says
 * (NULL: resolve the binary as crpc_criu_resolve() does) in a private
 * temporary directory, removed afterwards. The worker's version is stored in
 * *version when not NULL. Returns 0 when the check passes, else -1 with an
 * error of class CRPC_EXIT_ENV carrying the lines of CRIU's check log that
 * explain it. Used by `crpc check` and to tell "this CRIU cannot work here"
 * from an operation's failure.
 */
int crpc_criu_check(const crpc_session_config *cfg, crpc_version *version, crpc_error **err);

/**
 * DUMP with the given options. With a dispatcher, notifications are turned
 * on and each one goes through it. Ends the session's worker.
 */
int crpc_session_dump(crpc_session *s, const crpc_opts *opts, crpc_dispatcher *d, crpc_dump_result *res,
		      crpc_error **err);

/** RESTORE, like crpc_session_dump(). */
int crpc_session_restore(crpc_session *s, const crpc_opts *opts, crpc_dispatcher *d,
			 crpc_restore_result *res, crpc_error **err);

/**
 * Read CRIU's statistics file `name` ("stats-dump" or "stats-restore") from
 * the directory dirfd into *st (fields of the other kind are left alone).
 * Bounded: refuses files over 64 KiB.
 */
int crpc_stats_read(int dirfd, const char *name, crpc_stats *st, crpc_error **err);

/** Parse a CRIU version string "4.2", "4.1.1" into v (code computed). */
int crpc_version_parse(const char *s, crpc_version *v);

/** Format a version as "4.2.1" (plus " (git ID)" when set) into buf. */
void crpc_version_format(const crpc_version *v, char *buf, size_t bufsz);

/**
 * -1 with an error (CRPC_EXIT_ENV, cause CRPC_CAUSE_NOT_ROOT, a hint) unless
 * the caller runs as root, which CRIU needs to checkpoint and restore;
 * operation names what was refused.
 */
int crpc_require_root(const char *operation, crpc_error **err);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_SESSION_H */
