/* SPDX-License-Identifier: MIT */
/*
 * crpc/shim.h - standing in for CRIU between an RPC client and the real CRIU.
 *
 * A client that starts `criu swrk N` (runc, crun through libcriu, go-criu,
 * crpc itself) can be pointed at crpc instead (a symlink named `criu`, or
 * `crpc shim swrk N`). The shim starts the real `criu swrk` with the
 * session (while the client prepares its first request; a CRIU the first
 * request cannot take, one outside the cgroups runc moved the shim into
 * meanwhile that cannot follow, is replaced by one started then) and
 * forwards every message both ways, file descriptors included, while it
 *
 * - makes the client's fd fields work: CRIU resolves images_dir_fd,
 *   work_dir_fd and status_fd through /proc/PEER/fd/N and takes
 *   pidfd_store_sk from PEER with pidfd_getfd(), where PEER is whoever
 *   created its socket pair, i.e. the shim. The shim duplicates each such fd
 *   of a request out of the client (pidfd_getfd(), else /proc/CLIENT/fd/N),
 *   rewrites the numbers in the request it forwards and keeps them open
 *   until CRIU's reply to it. inherit_fd[].fd and ps.fd are numbers in
 *   CRIU's own fd table: every fd the shim inherited is passed on to CRIU
 *   unchanged, at the same number (the shim's own fds are close-on-exec);
 * - runs the configured hook steps at each notification before the client
 *   sees it. A step that aborts where CRIU can abort makes the shim answer
 *   CRIU "failure" itself (the client never sees that notification), and
 *   the reason is put into cr_errmsg of CRIU's final reply to the client.
 *   A client that did not ask for notifications never sees any: when hooks
 *   are configured the shim turns them on for DUMP and RESTORE and answers
 *   them itself;
 * - records the session in a trace file (see crpc/trace.h), one file per
 *   session in a directory whose number of files and total size are
 *   bounded (oldest removed first); a single file stops growing at a limit
 *   with a final {"type":"truncated"} line.
 *
 * What it never does: write to stdout (clients parse CRIU's stdout and pass
 * their own stdio to CRIU), touch an fd it inherited, or wait for any child
 * but the CRIU it started (with rst_sibling a restored tree becomes the
 * shim's child and must be re-parented to the client's subreaper when the
 * shim exits, which it does as soon as CRIU has ended).
 *
 * Faults, each answered so that no side waits forever:
 * - the client hangs up: the shim closes its end to CRIU (CRIU notices at
 *   its next notification or reply and aborts, resuming the tasks), waits
 *   for CRIU to end (bounded) and exits;
 * - CRIU ends before replying: the client gets a failed reply of its
 *   request's type whose cr_errmsg says how CRIU ended;
 * - a client message that is not a valid criu_req, or an fd field that
 *   cannot be taken from the client: the client gets a failed reply naming
 *   the problem and the session ends (a request the shim cannot read cannot
 *   be made safe to forward);
 * - a CRIU message that is not a valid criu_resp: forwarded unchanged (the
 *   shim is transparent) and recorded in the trace with "decode_error".
 */
#ifndef CRPC_SHIM_H
#define CRPC_SHIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "crpc/config.h"
#include "crpc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Environment variable the shim sets for the CRIU it runs: a shim that
 * finds it set was started by that CRIU (a loop) and refuses to run. */
#define CRPC_SHIM_DEPTH_ENV "CRPC_SHIM_DEPTH"

/**
 * How one shim session runs. Initialise with crpc_shim_config_init();
 * members may be added at the end in later versions (the library reads only
 * the first `size` bytes).
 */
typedef struct crpc_shim_config {
	size_t size;               /**< sizeof(crpc_shim_config), set by the init function */
	const char *criu_path;     /**< the real CRIU (see crpc_shim_resolve_criu()) */
	char *const *criu_options; /**< arguments before `swrk` to pass on, NULL-terminated; may be NULL */
	const crpc_hooks *hooks;   /**< steps to run at notifications; NULL: none */
	const char *trace_dir;     /**< directory for the session's trace; NULL: no trace */
	unsigned trace_max_files;  /**< most trace files kept in trace_dir (0: default) */
	uint64_t trace_max_total;  /**< most bytes of trace files kept (0: default) */
	uint64_t trace_max_file_size; /**< one trace file stops growing here (0: default) */
	FILE *verbose;                /**< one line per message and hook output; NULL: quiet */
	int argc;                     /**< the shim's command line, for the trace header */
	char *const *argv;
	/**
	 * CRIU options to add to a DUMP or RESTORE request, "NAME=VALUE"
	 * (NULL-terminated; may be NULL): fields of criu_opts by their RPC
	 * name, booleans ("true") and numbers. The client's own value wins
	 * unless it is the field's default (false, 0, unset). From a container
	 * operation's call (crpc_shim_call_request_options()).
	 */
	char *const *request_options;
	/**
	 * Where to write the restored tree's root PID (a line of decimal
	 * digits, mode 0600) once CRIU's RESTORE succeeded; NULL: nowhere.
	 * From a container operation's call (crpc_shim_call_restored_pid_file()).
	 */
	const char *restored_pid_file;
	/**
	 * Where to copy CRIU's log of a DUMP or RESTORE request once CRIU
	 * replied (criu-dump.log, criu-restore.log, mode 0600), before the
	 * engine removes it; NULL: nowhere. From a container operation's call
	 * (crpc_shim_call_log_dir()).
	 */
	const char *log_copy_dir;
} crpc_shim_config;

/** Set c->size, everything else 0 / NULL (the defaults). */
void crpc_shim_config_init(crpc_shim_config *c);

/**
 * A container operation's instructions for the shim it runs as CRIU: crpc
 * points the engine at `criu` in a private call directory (root's, 0700)
 * that also holds call.json. Opaque; see the accessors.
 */
typedef struct crpc_shim_call crpc_shim_call;

/**
 * When argv0 (the path the shim was started as) lies in such a call
 * directory, load its instructions into *call: 1. 0 when it is an ordinary
 * `criu`; -1 with a CRPC_EXIT_ENV error when the directory or its
 * call.json cannot be trusted (not root's, open to others) or read.
 */
int crpc_shim_call_find(const char *argv0, crpc_shim_call **call, crpc_error **err);

/**
 * The call of a shim started as an ordinary `criu` (crpc shim install) by
 * runc for a docker container: when the parent is `runc ... checkpoint|
 * restore ... ID` and a call directory below $CRPC_RUNTIME_DIR (default
 * /run/crpc) is crpc's dump or restore of that docker container (or of the
 * container the engine recreated for it), load it as crpc_shim_call_find()
 * does and put the container's identity into the environment (the one
 * running now: no crpc_shim_call_setenv() after this): 1. 0 when there is
 * none.
 */
int crpc_shim_call_find_parent(crpc_shim_call **call, crpc_error **err);

/** The real CRIU crpc resolved for the call. */
const char *crpc_shim_call_criu(const crpc_shim_call *call);

/** The configuration file the operation read, or NULL: none. */
const char *crpc_shim_call_config(const crpc_shim_call *call);

/** The --hook steps ("CALLBACK=COMMAND"), NULL-terminated. */
char *const *crpc_shim_call_hooks(const crpc_shim_call *call);

/** Where the session's trace goes (the call directory's traces/). */
const char *crpc_shim_call_trace_dir(const crpc_shim_call *call);

/** The call directory's restored.pid (for crpc_shim_config.restored_pid_file). */
const char *crpc_shim_call_restored_pid_file(const crpc_shim_call *call);

/** The call directory, where CRIU's logs are copied (for crpc_shim_config.log_copy_dir). */
const char *crpc_shim_call_log_dir(const crpc_shim_call *call);

/** The options for the DUMP or RESTORE request, "NAME=VALUE", NULL-terminated (for crpc_shim_config). */
char *const *crpc_shim_call_request_options(const crpc_shim_call *call);

/**
 * Put the container's identity into the environment the hooks inherit:
 * CRPC_CONTAINER_ENGINE, CRPC_CONTAINER_ID, CRPC_CONTAINER_NAME.
 */
int crpc_shim_call_setenv(const crpc_shim_call *call);

/** Free a call (NULL is fine). */
void crpc_shim_call_free(crpc_shim_call *call);

/**
 * Find the real CRIU for the shim: `explicit_path` (crpc --criu PATH shim)
 * if not NULL, else $CRPC_CRIU if set, else `config_binary` (the
 * configuration's criu: binary) if not NULL, else the first `criu` on $PATH
 * that is not crpc itself. A path that names crpc itself (the same file as
 * /proc/self/exe) is refused with CRPC_EXIT_ENV: the shim would run itself
 * forever. Writes the path into buf.
 */
int crpc_shim_resolve_criu(const char *explicit_path, const char *config_binary, char *buf, size_t bufsz,
			   crpc_error **err);

/**
 * Refuse to run when $CRPC_SHIM_DEPTH says this process was started by a
 * CRIU a shim started (an indirect loop: the "real" CRIU leads back to
 * crpc). -1 with a CRPC_EXIT_ENV error then, else 0.
 */
int crpc_shim_check_depth(crpc_error **err);

/**
 * Serve the client on `client_fd` (the N of `swrk N`) until the session
 * ends, as described above. Installs handlers for SIGTERM, SIGINT and
 * SIGHUP (unless ignored) that pass the signal on to CRIU, and restores them
 * before returning. Returns the exit status the shim should exit with:
 * CRIU's exit code, 128 + the signal that ended it, or 1 when the session
 * failed before or around CRIU (then *err says why, for a log; the client
 * was already told through a failed reply when it was waiting for one).
 */
int crpc_shim_run(const crpc_shim_config *cfg, int client_fd, crpc_error **err);

/**
 * When the shim cannot serve at all (configuration error, no real CRIU):
 * wait up to wait_ms for the client's first request and answer it with a
 * failed reply of its type whose cr_errmsg is `message`, so that the client
 * reports the reason rather than a bare EOF. Never fails; closes client_fd.
 */
void crpc_shim_refuse(int client_fd, const char *message, unsigned wait_ms);

/* ---- installing the shim for an engine (shim_install.c) ------------------ */

/** Default prefix of crpc_shim_install(): the shim is PREFIX/sbin/criu. */
#define CRPC_SHIM_PREFIX "/usr/local"
/** Default configuration that gets the real CRIU as criu: binary. */
#define CRPC_SHIM_CONFIG "/etc/crpc/config.yaml"

/** What crpc_shim_install() and crpc_shim_uninstall() are to do. Initialise with crpc_shim_install_params_init(). */
typedef struct crpc_shim_install_params {
	size_t size;             /**< sizeof(crpc_shim_install_params), set by the init function */
	const char *engine;      /**< "docker", "podman" or "runc"; NULL: "docker" (recorded only) */
	const char *prefix;      /**< the shim is PREFIX/sbin/criu; NULL: CRPC_SHIM_PREFIX */
	const char *config_path; /**< configuration to record the real CRIU in; NULL: CRPC_SHIM_CONFIG */
	const char *real_criu; /**< the real CRIU; NULL: as the shim would find it, passing over PREFIX/sbin/criu */
	const char *crpc_path; /**< what the link points to; NULL: this executable */
	bool force;            /**< install: replace a criu that is not crpc's (kept aside);
				      uninstall: also undo what was changed since */
} crpc_shim_install_params;

/** Set p->size, everything else 0 / NULL (the defaults). */
void crpc_shim_install_params_init(crpc_shim_install_params *p);

/** What crpc_shim_install() or crpc_shim_uninstall() did. */
typedef struct crpc_shim_install_result {
	char link[PATH_MAX];      /**< PREFIX/sbin/criu */
	char real_criu[PATH_MAX]; /**< the real CRIU recorded */
	char config[PATH_MAX];    /**< the configuration file */
	char record[PATH_MAX];    /**< PREFIX/lib/crpc/shim-install.json: what to undo */
	char saved[PATH_MAX];     /**< where a criu that was replaced is kept; "" when none */
	const char *config_action; /**< "created", "edited", "kept" (install); "removed", "restored", "kept" (uninstall) */
	bool changed;   /**< false: nothing had to change */
	char left[512]; /**< uninstall: what was left in place and why; "" when all was undone */
} crpc_shim_install_result;

/**
 * Install crpc as `criu` where an engine that runs the criu on its PATH
 * finds it: a symbolic link PREFIX/sbin/criu -> crpc (PREFIX/sbin comes
 * before /usr/sbin and /usr/bin in the PATH systemd gives its services, so
 * dockerd, containerd and runc pick it up without a restart; podman and a
 * runc run by hand find it on a usual root PATH). The real CRIU is recorded
 * as criu: binary in the configuration (created when missing, edited when it
 * has no criu: binary, kept when it names one), so the shim never runs
 * itself. A PREFIX/sbin/criu that is not crpc's is refused unless force, and
 * then kept as PREFIX/sbin/criu.crpc-saved. What was done is recorded in
 * PREFIX/lib/crpc/shim-install.json (with the configuration as it was), so
 * that crpc_shim_uninstall() puts back exactly what was there. Installing
 * again changes nothing. Errors: CRPC_EXIT_USAGE for a refusal (a foreign
 * criu, a configuration crpc cannot edit), CRPC_EXIT_ENV when no real CRIU
 * is found, CRPC_EXIT_FAIL for a failed file operation.
 */
int crpc_shim_install(const crpc_shim_install_params *p, crpc_shim_install_result *r, crpc_error **err);

/**
 * Undo crpc_shim_install() under p->prefix as its record says: remove the
 * link (when it still leads to crpc) and put back a criu it replaced, remove
 * a configuration it created or put back the one it edited (when unchanged
 * since, or with force), remove the directories it made when empty, then the
 * record. What cannot be undone safely is left and said in r->left (and the
 * call returns -1, CRPC_EXIT_FAIL). Without a record: 0 with r->changed false
 * when there is no crpc link, else a refusal unless force (then the link is
 * removed).
 */
int crpc_shim_uninstall(const crpc_shim_install_params *p, crpc_shim_install_result *r, crpc_error **err);

/** Whether an engine's checkpoints go through crpc (crpc_shim_engines()). */
typedef struct crpc_shim_engine {
	char engine[16];  /**< "docker", "podman", "runc" */
	pid_t pid;        /**< the daemon whose PATH counts (dockerd, or the containerd it uses); 0: none */
	char path_of[64]; /**< whose PATH was searched: "dockerd 1234's PATH", "this PATH" */
	bool found;       /**< the engine is installed (docker: a dockerd runs) */
	char criu[PATH_MAX]; /**< the criu it runs; "" when none on its PATH */
	bool via_crpc;       /**< that criu is crpc */
} crpc_shim_engine;

/**
 * The engines present and whether each runs crpc as its criu: one entry per
 * dockerd running (its own PATH, with containerd's /opt/containerd/bin in
 * front as containerd gives it to runc; the containerd's when dockerd uses
 * an outside one), or one docker entry with found false when none runs;
 * podman and runc by the PATH of the caller (they have no daemon). Returns
 * how many entries were written (at most max).
 */
size_t crpc_shim_engines(crpc_shim_engine *out, size_t max);

/**
 * The criu an engine whose processes have this PATH runs: the first
 * executable `criu` in its directories into buf. true when one was found,
 * with *via_crpc when it is crpc (the same file as crpc_path, or as this
 * executable when crpc_path is NULL).
 */
bool crpc_shim_criu_on_path(const char *path_value, const char *crpc_path, char *buf, size_t bufsz,
			    bool *via_crpc);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_SHIM_H */
