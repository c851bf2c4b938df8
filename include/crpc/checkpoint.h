/* SPDX-License-Identifier: MIT */
/*
 * crpc/checkpoint.h - whole checkpoint operations: a dump into a directory
 * that ends as a complete, verifiable checkpoint, and a restore from one.
 *
 * crpc_checkpoint_dump() does everything `crpc dump PID DIR` does, in this
 * order: the configuration's dump: options under the caller's, the checks
 * of the target (PID 1, the caller itself and its ancestors, kernel
 * threads, zombies, threads) and of DIR, the inspection of the tree and
 * the options it needs (stopping before CRIU on a blocker), DIR's
 * temporary stand-in DIR.crpc-tmp-XXXXXX (DIR did not exist) or the
 * in-progress marker (DIR existed), the CRIU session with its trace and
 * hooks, the request, the manifest crpc.json and the rename into place;
 * on failure it removes what CRIU wrote (keeping its log) and says what
 * became of the target.
 *
 * crpc_checkpoint_restore() does what `crpc restore DIR` does: the
 * configuration's restore: options under the caller's, the verification
 * of DIR against crpc.json (unless forced), the options the dump recorded,
 * the PIDs of the tree (zombies waited for), the pipes shared with
 * processes outside the tree, the session, its trace and hooks, and the
 * request. crpc_checkpoint_wait() then waits for the restored root as its
 * parent, forwarding signals.
 *
 * What the operation says on the way (automatic options, warnings,
 * progress) reaches the caller through an event callback; every message to
 * and from CRIU through the message observer. Both are optional.
 *
 * Typical use:
 *
 *     crpc_checkpoint_params p;
 *     crpc_checkpoint_result *res = NULL;
 *     crpc_error *err = NULL;
 *
 *     crpc_checkpoint_params_init(&p);
 *     p.pid = 1234;
 *     p.dir = "/var/tmp/ckpt";
 *     if (crpc_checkpoint_dump(&p, &res, &err) < 0) ...
 *     printf("%s: %zu files\n", res->images_dir, res->manifest.files);
 *     crpc_checkpoint_result_free(res);
 */
#ifndef CRPC_CHECKPOINT_H
#define CRPC_CHECKPOINT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "crpc/config.h"
#include "crpc/container.h"
#include "crpc/error.h"
#include "crpc/images.h"
#include "crpc/inspect.h"
#include "crpc/manifest.h"
#include "crpc/opts.h"
#include "crpc/session.h"
#include "crpc/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What an event tells. */
typedef enum crpc_checkpoint_event {
	/** Progress and detail (the crpc tool shows these with -v). */
	CRPC_CHECKPOINT_INFO = 0,
	/**
	 * Something the operation decided on its own: an automatic option
	 * ("auto: tcp_established (REASON)"), an option taken from the
	 * checkpoint ("from the checkpoint: ..."), a re-attached pipe (the tool
	 * shows these unless --json).
	 */
	CRPC_CHECKPOINT_NOTICE,
	/** Something the caller should know (the tool always shows these). */
	CRPC_CHECKPOINT_WARNING,
} crpc_checkpoint_event;

/** Receives each event as it happens: one line of text, without a newline. */
typedef void (*crpc_checkpoint_event_fn)(crpc_checkpoint_event kind, const char *message, void *userdata);

/**
 * Receives the progress of a dump or restore that runs longer than a
 * second, about four times a second, on a thread of the library: `done`
 * bytes so far (dump: the images as CRIU writes them; restore: the page
 * images verified), `expected` bytes in all (dump: the tree's anonymous
 * and shared memory as inspected, 0 when unknown; restore: the page
 * images' size), `seconds` since CRIU started. A dump the inspection
 * expects to write less than 8 MiB reports none: its images are hashed
 * once CRIU is done, not followed as they are written.
 */
typedef void (*crpc_checkpoint_progress_fn)(uint64_t done, uint64_t expected, double seconds, void *userdata);

/**
 * Parameters of an operation. Initialise with crpc_checkpoint_params_init(),
 * which sets `size` and the defaults below; members may be added at the end
 * in later versions (the library reads only the first `size` bytes, so
 * older callers keep working). Nothing is copied: everything pointed to
 * must stay valid during the call.
 */
typedef struct crpc_checkpoint_params {
	size_t size; /**< sizeof(crpc_checkpoint_params), set by the init function */

	pid_t pid;       /**< dump: the root of the tree (required) */
	const char *dir; /**< the checkpoint directory (required); dump: its parent must exist */

	/**
	 * The caller's CRIU options (NULL: none), not changed. The
	 * configuration's dump: or restore: section goes under them; log
	 * level and file default to the configuration's criu: settings, else
	 * 4 and "dump.log" / "restore.log". Dump: `pid` and `images_dir_fd`
	 * are set by the library. Restore: inherit_fd entries must be open and
	 * inheritable.
	 */
	const crpc_opts *opts;
	/** A loaded configuration (NULL: none): options, criu: settings, hooks. */
	const crpc_config *config;
	/** Extra hook steps "CALLBACK=COMMAND" (run with /bin/sh after the configuration's). */
	const char *const *hooks;
	size_t n_hooks;

	/** Dump: overwrite a checkpoint in DIR. Restore: do not verify DIR against crpc.json. */
	bool force;
	/** Dump: neither inspect the tree nor add the options it needs (default false). */
	bool no_auto;
	/** Restore: take no option from crpc.json and re-attach no pipe (default false). */
	bool no_checkpoint_options;
	/**
	 * Restore: the caller will wait for the restored root with
	 * crpc_checkpoint_wait(). Before the tree is restored SIGINT, SIGTERM,
	 * SIGHUP and SIGCHLD are blocked in the calling thread (they stay
	 * blocked on return), the caller becomes a child subreaper and the
	 * root becomes its child (rst_sibling). Default false.
	 */
	bool wait;
	/** Restore: how long to wait for zombies holding the tree's PIDs (default 5000 ms). */
	unsigned pid_wait_ms;

	/**
	 * The CRIU binary. NULL (the default): $CRPC_CRIU, else the
	 * configuration's criu: binary, else criu on $PATH.
	 */
	const char *criu_path;
	/** Give up on a request after this long (default 0: never). */
	unsigned timeout_ms;

	/**
	 * Record every message in this trace file (created with mode 0600 when
	 * the session starts; NULL, the default: none), with this header (NULL:
	 * the operation's name and target). The result holds the open trace.
	 */
	const char *trace_path;
	const crpc_trace_header *trace_header;
	/** Or record into this open trace (not closed); trace_path is then ignored. */
	crpc_trace *trace;

	/** Observer of every message to and from CRIU (after the trace), or NULL. */
	crpc_message_fn on_message;
	void *on_message_data;
	/** Receiver of the events, or NULL. */
	crpc_checkpoint_event_fn on_event;
	void *on_event_data;
	/**
	 * Kept for callers that set it: CRIU's notifications are always asked
	 * for (a crpc that dies then makes CRIU give up at its next step).
	 */
	bool notifications;
	/** Where hook steps' output is echoed besides hooks.log (NULL, the default: nowhere). */
	FILE *hook_output;
	/**
	 * Restore: a user besides root and the caller whose files in DIR are
	 * trusted (default (uid_t)-1: nobody). DIR and every file in it must
	 * belong to one of them and be writable by nobody else, see
	 * crpc_manifest_check_trust(); --force does not lift this.
	 */
	uid_t trust_owner;

	/**
	 * Dump: a container instead of p->pid ("runc:ID", "podman:NAME",
	 * "docker:NAME" or a bare name, see crpc/container.h; NULL, the
	 * default: dump p->pid). The container is resolved and its tree
	 * inspected (its own namespaces, mounts and cgroups expected), then
	 * its engine checkpoints it with crpc as the CRIU of that call: the
	 * hooks, the trace and the options the inspection found necessary
	 * apply to the engine's CRIU session. opts->leave_running keeps it
	 * running. A restore of such a checkpoint goes through the engine
	 * crpc.json names.
	 */
	const char *target;
	/** How to reach the engines (NULL: the defaults). */
	const crpc_engine_env *engine_env;
	/** Restore of a container: restore it as a new container of this name (NULL: the recorded one). */
	const char *new_name;
	/** Receiver of the progress (see crpc_checkpoint_progress_fn), or NULL. */
	crpc_checkpoint_progress_fn on_progress;
	void *on_progress_data;
	/**
	 * Dump: sign crpc.json with this Ed25519 private key (see
	 * crpc_signing_key_load() for the rules it must meet). NULL (the
	 * default): $CRPC_SIGNING_KEY, else the configuration's signing: key,
	 * else CRPC_SIGNING_KEY_DEFAULT when that file exists. "" (also as
	 * $CRPC_SIGNING_KEY): do not sign. The key is loaded before CRIU runs,
	 * so a key that cannot be used fails the dump with nothing changed.
	 */
	const char *signing_key;
	/**
	 * Restore: the directory of trusted public keys (NULL: $CRPC_TRUSTED_KEYS,
	 * else the configuration's signing: trusted_keys, else
	 * CRPC_TRUSTED_KEYS_DEFAULT), see crpc_manifest_check_signature().
	 */
	const char *trusted_keys;
	/**
	 * Restore: refuse a checkpoint that is not signed by a trusted key (also
	 * when the configuration's signing: require is true). A bad signature
	 * is always refused. Cannot be combined with force.
	 */
	bool require_signature;
	/**
	 * Dump: the digest crpc.json lists every file with (CRPC_DIGEST_DEFAULT,
	 * the default: the configuration's integrity: digest, else BLAKE3).
	 * A restore verifies with the digest the checkpoint names.
	 */
	crpc_digest digest;
} crpc_checkpoint_params;

/**
 * The directory of trusted public keys p names or implies: p->trusted_keys,
 * else $CRPC_TRUSTED_KEYS, else p->config's signing: trusted_keys, else
 * CRPC_TRUSTED_KEYS_DEFAULT.
 */
const char *crpc_checkpoint_trusted_keys(const crpc_checkpoint_params *p);

/** Whether p asks for a signature: p->require_signature or p->config's signing: require. */
bool crpc_checkpoint_require_signature(const crpc_checkpoint_params *p);

/** Set p->size and the defaults: everything zero or NULL, pid_wait_ms 5000, trust_owner (uid_t)-1. */
void crpc_checkpoint_params_init(crpc_checkpoint_params *p);

/** Where an operation stopped. */
typedef enum crpc_checkpoint_step {
	CRPC_CHECKPOINT_DONE = 0, /**< it did not fail */
	CRPC_CHECKPOINT_PREPARE,  /**< parameters, configuration, checks: nothing changed */
	CRPC_CHECKPOINT_INSPECT,  /**< dump: the inspection failed: nothing changed */
	CRPC_CHECKPOINT_BLOCKED,  /**< dump: the inspection found blockers: nothing changed */
	CRPC_CHECKPOINT_SETUP,    /**< directory, session, hooks: before the request */
	CRPC_CHECKPOINT_REQUEST,  /**< CRIU's request failed */
	CRPC_CHECKPOINT_FINISH,   /**< dump: CRIU succeeded, the manifest or the rename failed */
} crpc_checkpoint_step;

/** What became of a dump's target after a failed request (dump only). */
typedef struct crpc_checkpoint_target {
	bool checked;      /**< looked at (the request was made) */
	bool exists;       /**< the process is still there (not a zombie) */
	bool running;      /**< it is not stopped */
	bool sent_sigcont; /**< it was left stopped and the library sent it SIGCONT */
	char comm[64];     /**< its command name when it exists */
} crpc_checkpoint_target;

/**
 * What an operation did, also after a failure (as far as it got). Allocated
 * by the library, freed with crpc_checkpoint_result_free(); members may be
 * added at the end in later versions.
 */
typedef struct crpc_checkpoint_result {
	crpc_checkpoint_step failed_step; /**< CRPC_CHECKPOINT_DONE on success */
	pid_t pid;                /**< dump: the target; restore: the restored root (0 until known) */
	char comm[64];            /**< dump: the target's command name ("" until known) */
	char *images_dir;         /**< the directory's real path (as given until it is known) */
	char log_file[PATH_MAX];  /**< CRIU's log file's name in the directory ("dump.log") */
	char criu_path[PATH_MAX]; /**< the CRIU binary of the session ("" until resolved) */
	char criu_version[96];    /**< its version, "" until the session opened */
	bool leave_running;       /**< dump: the tree was left running */
	unsigned notifications;   /**< notifications CRIU sent and the operation answered */
	double wall_seconds; /**< from the session's start until the checkpoint was complete / restored */

	bool have_image_bytes;
	uint64_t image_bytes; /**< the checkpoint's size without CRIU's logs */
	bool have_stats;
	crpc_stats stats; /**< CRIU's stats-dump / stats-restore */

	/* dump */
	bool auto_ran;                 /**< the options were worked out (also with no_auto) */
	crpc_opt_reasons options;      /**< every inspected option in effect, with source and reason */
	crpc_verdict verdict;          /**< the inspection's options, blockers and warnings */
	crpc_manifest_stats manifest;  /**< writing crpc.json */
	crpc_checkpoint_target target; /**< after a failed request or manifest */

	/* both */
	bool hook_failed;     /**< a hook failed where CRIU cannot abort (the operation went on) */
	char **hook_warnings; /**< what the dispatcher and the hooks reported, in order */
	size_t n_hook_warnings;

	/* restore */
	bool have_tree;
	crpc_pstree tree;                  /**< the checkpoint's process tree */
	bool verified;                     /**< DIR was checked against crpc.json (not forced) */
	crpc_manifest_check check;         /**< the outcome, also when it failed */
	crpc_manifest_options applied;     /**< options taken from the checkpoint */
	crpc_manifest_options not_applied; /**< the dump's other options, each with why not */
	crpc_pipe_attachments pipes;       /**< the outside pipes: re-attached or why not (fds closed) */
	bool waiting;                      /**< restored for crpc_checkpoint_wait() */

	/**
	 * The trace opened from trace_path, still open (to add to it or check
	 * crpc_trace_write_errno()); the caller may take it over by setting
	 * this to NULL, else crpc_checkpoint_result_free() closes it.
	 */
	crpc_trace *trace;

	/** The operation was on a container: which one (dump: as found; restore: as restored). */
	bool is_container;
	crpc_container container;
	/** Dump: crpc.json was signed, by the key of this fingerprint ("" when not signed). */
	char signing_key_sha256[65];
	/** Restore: the checkpoint's signature (signature.checked false when not checked, e.g. force). */
	crpc_signature_check signature;
} crpc_checkpoint_result;

/**
 * Checkpoint the tree rooted at p->pid into p->dir (see the top of this
 * header). Must run as root. *res (res may be NULL) gets a newly allocated
 * result, also on failure, except when the parameters are unusable.
 * Returns 0 when the checkpoint is complete (also when a hook failed where
 * CRIU cannot abort: res->hook_failed), else -1 with the error (its cause
 * and hint set when known, CRIU's log excerpt attached, paths naming DIR).
 */
int crpc_checkpoint_dump(const crpc_checkpoint_params *p, crpc_checkpoint_result **res, crpc_error **err);

/**
 * Restore the tree checkpointed in p->dir (see the top of this header).
 * Must run as root. The restored root's PID is res->pid. Results and errors
 * as crpc_checkpoint_dump(). CRIU's worker has ended when it returns.
 */
int crpc_checkpoint_restore(const crpc_checkpoint_params *p, crpc_checkpoint_result **res, crpc_error **err);

/**
 * Complete the checkpoint a `crpc dump` that was killed left in p->dir: a
 * temporary DIR.crpc-tmp-XXXXXX (moved to `dir`, NULL: the DIR it stands
 * in for, which must not exist or be an empty directory) or a DIR written
 * in place holding the in-progress marker (completed in place; `dir` must
 * be NULL). Only when CRIU finished that dump, as its statistics
 * (stats-dump, written last and only on success) and its log ("Dumping
 * finished successfully") show; else nothing changes and the error says
 * why. The directory must pass crpc_manifest_check_trust() (p->trust_owner).
 * Then, as the dump would have: crpc.json with what the dump recorded in
 * the marker before CRIU ran (its options with their sources and reasons),
 * signed when a signing key is configured (p->signing_key and its
 * defaults), the marker removed, the rename into place. Must run as root.
 * res->images_dir is where the checkpoint now is.
 */
int crpc_checkpoint_recover(const crpc_checkpoint_params *p, const char *dir, crpc_checkpoint_result **res,
			    crpc_error **err);

/**
 * After crpc_checkpoint_restore() with p->wait: wait for the restored root,
 * forwarding SIGINT, SIGTERM and SIGHUP to it and reaping the orphans of
 * the tree the caller adopts as subreaper along the way. *status gets the
 * root's wait status. p gives the event callback (may be NULL).
 */
int crpc_checkpoint_wait(const crpc_checkpoint_result *res, const crpc_checkpoint_params *p, int *status,
			 crpc_error **err);

/**
 * Open the checkpoint directory dir for reading (O_DIRECTORY, close-on-exec)
 * and return its fd, or -1 with an error that `op` names: a dir that does
 * not exist (with, when an interrupted dump left its temporary sibling
 * DIR.crpc-tmp-*, a hint saying what that holds), a path that is not a
 * directory (CRPC_EXIT_USAGE), one that cannot be opened. The restore opens
 * its DIR with it.
 */
int crpc_checkpoint_dir_open(const char *dir, const char *op, crpc_error **err);

/** Free a result (NULL is fine); closes the trace it still holds. */
void crpc_checkpoint_result_free(crpc_checkpoint_result *res);

/** For __attribute__((cleanup)). */
void crpc_checkpoint_result_freep(crpc_checkpoint_result **res);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_CHECKPOINT_H */
