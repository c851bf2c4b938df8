/* SPDX-License-Identifier: MIT */
/*
 * ck_int.h - what the parts of crpc_checkpoint_dump() and
 * crpc_checkpoint_restore() share: the state of one operation, its events,
 * the session with its trace and hooks.
 */
#ifndef CRPC_CK_INT_H
#define CRPC_CK_INT_H

#include <limits.h>

#include <jansson.h>

#include "internal.h"

/* One dump or restore on its way. */
typedef struct ck_op {
	crpc_checkpoint_params p;    /* the caller's, completed with the defaults */
	crpc_checkpoint_result *res; /* what the caller gets */
	const char *kind;            /* "dump" or "restore" */
	char op[PATH_MAX + 32];      /* "dump of PID 42", "restore from DIR": errors' operation */
	crpc_opts opts;              /* the options in effect: the caller's over the configuration's */
	bool log_level_given;        /* by the caller (else configuration or default) */
	bool log_file_given;
	crpc_config extra; /* holds the extra hook steps (p.hooks) */
	bool have_extra;
	crpc_hooks hooks;                     /* the configuration's steps, then the extra ones */
	bool hooks_owned[CRPC_NOTIFY__COUNT]; /* hooks.steps[k] allocated here (else the configuration's) */
	char **step_names; /* names of the extra steps, numbered after the configuration's */
	size_t n_step_names;
	crpc_session *s;
	crpc_dispatcher *d;
	crpc_hook_runner *runner;
	crpc_trace *trace; /* the session's trace: p.trace, or opened (then res->trace) */
	char criu_path[PATH_MAX];
	int dirfd;              /* the images directory */
	char *dir_real;         /* its real path */
	double t0;              /* when the session started */
	crpc_manifest manifest; /* restore: what crpc.json recorded */
	bool have_manifest;
	struct mf_pending *late; /* restore: page images verified while CRIU restores */
	bool late_done;          /* their verdict is in res->check */
	uint64_t expect_bytes;   /* dump: the tree's memory CRIU will write, as inspected (0: unknown) */
	crpc_ns_tree nst;        /* dump: the tree's own namespaces, for crpc.json */
	uint64_t *out_pipes;     /* dump: inodes of the pipes the tree shares with outside processes */
	size_t n_out_pipes;
	pid_t *tree_pids; /* dump: the tree's processes, as inspected (with out_pipes) */
	size_t n_tree_pids;
	int *ns_fds; /* restore: files of another mount namespace opened again for CRIU */
	size_t n_ns_fds;
	char **ns_ext; /* restore: the external veth entries added to opts */
	size_t n_ns_ext;
	bool uns_granted; /* restore: the images are readable by the tree's user namespace */
	int uns_fd;       /* its record (UNS_GRANT_FILE), share-locked while it is in place */
	gid_t uns_gid;    /* its gid 0 as crpc sees it */
} ck_op;

/* ---- a tree's own namespaces at restore (restore_ns.c) ---- */

/*
 * From the checkpoint's "namespaces": the root CRIU needs for a mount
 * namespace, the files of another mount namespace opened again and passed
 * as inherit_fd, the veth pairs' outside ends as external veth[...] (what the
 * user gave wins). -1 with an error when a file cannot be given back.
 */
int ck_restore_ns(ck_op *o, crpc_error **err);

/*
 * Close the fds ck_restore_ns() opened (CRIU has its own copies once it
 * runs) and take back the user namespace's access to the images, unless
 * another restore of the same directory still needs it.
 */
void ck_restore_ns_close(ck_op *o);

/*
 * Take back the access to the images that a restore killed before it could
 * (its record is in the directory, locked by no live restore), saying so.
 */
void ck_restore_ns_leftover(ck_op *o);

/* ---- events (operation.c) ---- */

void ck_event(const ck_op *o, crpc_checkpoint_event kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define ck_info(o, ...) ck_event((o), CRPC_CHECKPOINT_INFO, __VA_ARGS__)
#define ck_notice(o, ...) ck_event((o), CRPC_CHECKPOINT_NOTICE, __VA_ARGS__)
#define ck_warn(o, ...) ck_event((o), CRPC_CHECKPOINT_WARNING, __VA_ARGS__)

/* ---- the steps both operations take (operation.c) ---- */

/*
 * Take the caller's parameters (only the first p->size bytes) and allocate
 * the result. -1 with a USAGE error when they cannot be used.
 */
int ck_begin(ck_op *o, const crpc_checkpoint_params *p, const char *operation, crpc_error **err);

/*
 * The options in effect: the caller's, the configuration's section under
 * them, log level and file filled in; and the hook steps, the
 * configuration's then p.hooks.
 */
int ck_options(ck_op *o, const crpc_opts *section, const char *default_log, crpc_error **err);

/*
 * Signatures: the trusted keys' directory (p.trusted_keys, $CRPC_TRUSTED_KEYS,
 * the configuration's, the default), whether one is required, and the
 * signing key's path (p.signing_key, $CRPC_SIGNING_KEY, the configuration's,
 * the default when it exists; NULL: none).
 */
const char *ck_trusted_keys(const ck_op *o);
bool ck_require_signature(const ck_op *o);
const char *ck_signing_key_path(const ck_op *o);
/* The digest of a dump's manifest: p.digest, the configuration's, BLAKE3. */
crpc_digest ck_digest(const ck_op *o);

/* A dispatcher when the caller wants notifications. */
int ck_dispatcher(ck_op *o, crpc_error **err);

/* Resolve CRIU, open the trace (trace_path) and the session. */
int ck_session_open(ck_op *o, crpc_error **err);
/*
 * The CRIU binary into o->criu_path: the caller's, $CRPC_CRIU, the
 * configuration's, else the one on $PATH. -1 with err (o->criu_path empty).
 */
int ck_criu_path(ck_op *o, crpc_error **err);
/*
 * ck_session_open() in two: the session opened without an event (it may
 * run on a thread of its own, see dump.c), then the event saying which
 * CRIU answered.
 */
int ck_session_start(ck_op *o, crpc_error **err);
void ck_session_opened(ck_op *o);

/*
 * ck_session_start() on a thread of its own while the main thread does
 * the checks that come before the request (restore.c): ck_early_take()
 * then gives the session to the operation, or, when CRIU must start only
 * now (it has to inherit fds opened since), closes it and opens a fresh
 * one; ck_early_end() closes one that was never taken. Only without a
 * trace: a trace holds the messages of the session that served.
 */
typedef struct ck_early {
	pthread_t thread;
	bool started; /* the thread runs or ran */
	bool pending; /* a session (or its error) not yet taken */
	bool taken;   /* the operation runs on this session */
	double t0;    /* when it began to start (crpc__now()) */
	int rc;
	crpc_error *err;
} ck_early;
void ck_early_start(ck_op *o, ck_early *e);
int ck_early_take(ck_op *o, ck_early *e, bool fresh, crpc_error **err);
void ck_early_end(ck_op *o, ck_early *e);

/* When there are hook steps: a runner, added to the dispatcher (made if need be). */
int ck_hooks_attach(ck_op *o, const char *operation, pid_t pid, const char *images_dir, crpc_error **err);

/* After the request: the dispatcher's and the hooks' warnings, as events and in the result. */
void ck_hook_warnings(ck_op *o);

/* The request's options, as info events. */
void ck_print_opts(const ck_op *o, const char *request, const char *dir);

/* Size of the checkpoint in dirfd: its files without CRIU's logs. */
int ck_images_bytes(int dirfd, uint64_t *bytes, crpc_error **err);

/*
 * Before ck_end(): the result's strings: the images directory's real path
 * (dir_real, else `dir`), the log file, the CRIU binary, the hooks' warnings.
 */
void ck_result_fill(ck_op *o, const char *dir);

/* Free what the operation holds (not the result, which keeps the trace it opened). */
void ck_end(ck_op *o);

/* Store the result in *out (or free it when out is NULL). */
void ck_give_result(ck_op *o, crpc_checkpoint_result **out);

/* ---- a dump's directory (dir.c) ---- */

/* A dump on its way. */
typedef struct ck_dump {
	ck_op o;
	bool dir_existed;
	bool created_dir;
	bool marker;
	char state_before; /* the target's state before the dump */
	char **pre_files;  /* checkpoint-like files DIR held before this dump */
	size_t n_pre_files;
	char *tmp_path;         /* DIR.crpc-tmp-XXXXXX the dump runs in (DIR did not exist), or NULL */
	char *tmp_real;         /* its real path, as CRIU and the hooks saw it */
	struct mf_ahead *ahead; /* hashing the files while CRIU writes them (manifest_int.h) */
	struct mf_pipe_scan *pipe_scan; /* the outside holders of out_pipes, found while CRIU dumps */
	crpc_signing_key *key;          /* the key crpc.json is signed with, or NULL */
} ck_dump;

/* Checks on DIR that change nothing (besides a probe file created and removed). */
int ck_dir_check(ck_dump *c, const char *op, crpc_error **err);

/* A DIR that does not exist: create its temporary stand-in DIR.crpc-tmp-XXXXXX. */
int ck_dir_create(ck_dump *c, const char *op, crpc_error **err);

/* Once CRIU runs: clear an old checkpoint (--force), set the marker. */
int ck_dir_prepare(ck_dump *c, const char *op, crpc_error **err);

/* Every regular file of dirfd private (0600): CRIU writes its images 0644. */
void ck_files_private(int dirfd);

/*
 * Replace dirfd/name with a file holding text and a newline: written as
 * dirfd/tmp (a stale one removed first; 0600, O_EXCL), fsync()ed when sync,
 * then renamed over name, so that name never goes away or holds half of it.
 */
int ck_file_replace(int dirfd, const char *tmp, const char *name, const char *text, bool sync,
		    const char *op, crpc_error **err);

/*
 * Replace the in-progress marker of dirfd with one holding text (a
 * temporary file renamed over it: the marker never goes away meanwhile).
 */
int ck_marker_write(int dirfd, const char *text, const char *op, crpc_error **err);

/* Rename the temporary directory to DIR (on failure it stays, with a warning). */
int ck_dir_move_into_place(ck_dump *c);

/* After a failed dump: leave nothing that looks like a checkpoint. */
void ck_dir_cleanup_failed(ck_dump *c);

/* ---- a dump's end (dump.c) ---- */

/*
 * CRIU succeeded: write the manifest (with the container's record when
 * container_json is not NULL), drop the marker, move a temporary
 * directory into place as DIR.
 */
int ck_dump_finalize(ck_dump *c, double criu_seconds, const char *op, const char *criu_version,
		     const char *criu_path, const char *container_json, crpc_error **err);
/*
 * Right before CRIU (or a container's engine) is asked: what the manifest
 * will say, into the in-progress marker (engine_call: a container's, see
 * mf_intent_json()), for `crpc recover`.
 */
int ck_dump_intent(ck_dump *c, const char *op, const char *criu_version, const char *criu_path,
		   const char *container_json, json_t *engine_call, crpc_error **err);
/* The dump failed at step: clean up DIR (cleanup), look at the target. Returns -1. */
int ck_dump_failed(ck_dump *c, crpc_checkpoint_step step, bool cleanup, crpc_error **err);
/* The summary's figures: the size and CRIU's statistics. */
void ck_dump_figures(ck_dump *c);

/* ---- containers (container.c) ---- */

/* crpc_checkpoint_dump() of p.target: through the container's engine. */
int ck_container_dump(ck_dump *c, crpc_error **err);
/*
 * crpc_checkpoint_restore() of a checkpoint whose crpc.json records a
 * container: 1 when it does not (a PID restore), else 0 or -1 once the
 * engine restored it (or failed to).
 */
int ck_container_restore(ck_op *o, crpc_error **err);

struct mf_intent;
/*
 * `crpc recover` of a container's dump (the intent has an engine_call):
 * wait until the engine's call has ended, then take what the engine's
 * finished checkpoint left outside the leftover (podman's export, Docker's
 * checkpoint) into it, with CRIU's log; the intent's container record is
 * brought up to date. 1 when the engine's checkpoint succeeded (the dump
 * saw it, or it was collected now), 0 when that is not known, -1 with
 * *err (nothing removed).
 */
int ck_container_recover_collect(ck_op *o, struct mf_intent *in, crpc_error **err);
/*
 * The engine's checkpoint did not finish (why, taken): the leftover (a
 * temporary directory when tmp) and the call directory are removed only
 * when the container is running (nothing lost), else kept; *err says in
 * plain words what state the container is in and how its engine gets it
 * back. Returns -1.
 */
int ck_container_unfinished(ck_op *o, struct mf_intent *in, bool tmp, crpc_error *why, crpc_error **err);
/* After a recovered container's checkpoint: the call directory removed. */
void ck_container_recovered(ck_op *o, struct mf_intent *in);

/* ---- the dump's target (target.c) ---- */

/* Refuse PID 1, crpc itself and its ancestors, threads, zombies, kernel threads. */
int ck_target_check(ck_op *o, char *state_before, crpc_error **err);

/* After a failed request: what became of the target (a stopped one gets SIGCONT). */
void ck_target_after(ck_op *o, char state_before);

/* ---- the automatic options of a dump (auto.c) ---- */

/*
 * Inspect the tree, stop on blockers, add the options it needs to o->opts
 * (the caller's and the configuration's win), with an event for each one
 * added. With p.no_auto only lists the options already in effect.
 */
int ck_auto_dump(ck_op *o, crpc_error **err);

/* ---- dumpdir.c: the temporary directory of a dump into a new DIR ---- */

/*
 * Create the temporary sibling of `dir` a dump runs in:
 * DIR.crpc-tmp-XXXXXX, mode 0700, on the same file system, holding the
 * in-progress marker from the start. *tmp_path gets its malloc'ed path.
 */
int ck_dumpdir_create(const char *dir, char **tmp_path, crpc_error **err);

/*
 * Move a finished temporary directory into place: rename tmp_path to dir
 * (dir must not exist, or be an empty directory), then fsync the directory
 * itself (dirfd, when >= 0: what changed in it since its last sync) and
 * its parent. -1 when it stayed where it was, -2 when it was moved but
 * dirfd could not be synced (err says which).
 */
int ck_dumpdir_commit(const char *tmp_path, const char *dir, int dirfd, crpc_error **err);

/*
 * A temporary sibling of `dir` an interrupted dump left (DIR.crpc-tmp-*),
 * as a malloc'ed path, or NULL when there is none.
 */
char *ck_dumpdir_leftover(const char *dir);

/*
 * Whether CRIU finished the dump in dirfd (its statistics, written last and
 * only on success, are there): the images are whole even when crpc was
 * stopped before it wrote crpc.json.
 */
bool ck_dumpdir_criu_finished(int dirfd);

/*
 * Give e the hint for an unfinished dump: in `leftover` (the temporary
 * sibling of dir, see ck_dumpdir_leftover()), or in dir itself when
 * leftover is NULL. A dump CRIU finished is said to be whole and how to
 * restore it; nothing is ever suggested that would remove the only copy.
 */
void ck_dumpdir_hint(crpc_error *e, const char *dir, const char *leftover);
/*
 * Whether the in-progress marker in the directory fd records a container's
 * dump (an engine call, see mf_intent_json()): "ENGINE:NAME" into buf.
 */
bool ck_dumpdir_container_intent(int fd, char *buf, size_t size);

#endif /* CRPC_CK_INT_H */
