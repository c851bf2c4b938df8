/* SPDX-License-Identifier: MIT */
/*
 * engine.h - container engines: how crpc reaches a container by name.
 *
 * An engine is a table of operations (crpc__engine) in a file of its own
 * (runc.c, podman.c, docker.c, ...), listed once in engines.c's
 * registration table. crpc talks to each engine through the engine's own
 * stable interface (its CLI, its API socket): it never re-implements a
 * runtime and the container stays managed by its engine after a restore.
 *
 * A target is "ENGINE:REF" (runc:ID, podman:NAME|ID, docker:NAME|ID) or a
 * bare REF that is not a number, which every present engine is asked to
 * resolve (crpc__target_parse(), crpc__target_resolve()).
 *
 * For a checkpoint or a restore crpc makes a private call directory
 * (crpc__engine_call_open()): 0700, root's, below the runtime directory
 * ($CRPC_RUNTIME_DIR, default /run/crpc), holding `criu`, a symbolic link
 * to crpc itself, and `call.json`, the call's context. The engine is
 * pointed at that `criu` (runc --criu, podman --runtime-flag criu=...,
 * or wherever the engine looks): crpc then runs as the shim, finds the
 * directory it was started from, trusts it only when it is root's and
 * private, and takes from call.json the real CRIU, the configuration,
 * the --hook steps, the container's identity (CRPC_CONTAINER_ID,
 * CRPC_CONTAINER_NAME, CRPC_CONTAINER_ENGINE in the hooks' environment),
 * the trace directory and the CRIU options to add to the engine's DUMP
 * request (the inspection's) or RESTORE request (their restore-side
 * counterparts); it writes the restored init's PID into restored.pid.
 */
#ifndef CRPC_ENGINE_H
#define CRPC_ENGINE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "crpc/container.h"
#include "crpc/error.h"

/* Name of the per-call context file in a call directory. */
#define CRPC__CALL_FILE "call.json"
/* Where the shim of a call writes the restored init's PID (see crpc__engine_restored_pid()). */
#define CRPC__RESTORED_PID_FILE "restored.pid"
/* In a call directory: the shim's copies of CRIU's logs ("criu-dump.log", "criu-restore.log"). */
#define CRPC__CALL_LOG_PREFIX "criu-"
/* In a call directory: the container an engine started for a restore
 * ({"id", "name"}), when it is not the one call.json names (recreated). */
#define CRPC__CALL_STARTED "container.json"
/* Default runtime directory (call directories live in its calls/). */
#define CRPC__RUNTIME_DIR "/run/crpc"

/*
 * One container as its engine describes it. `recreate` is what the
 * engine needs to recreate the container elsewhere or after it was
 * removed (runc: bundle and root; podman: nothing beyond its export;
 * docker: image and configuration), recorded in crpc.json as is.
 */
typedef struct crpc__container {
	crpc_container info; /* engine, id, name, image, state, pid, runtime, version */
	json_t *recreate;    /* owned; NULL: nothing recorded */
} crpc__container;

void crpc__container_release(crpc__container *c);

/*
 * What an engine operation is given besides the container. Strings are
 * borrowed for the call.
 */
typedef struct crpc__engine_ctx {
	const crpc_engine_env *env; /* the caller's settings (runc root, ...); never NULL */
	/*
	 * The call directory's `criu` (crpc as the shim of this call), or NULL:
	 * let the engine use its own CRIU (inspect, ps, and a docker without
	 * the shim installed).
	 */
	const char *shim_path;
	const char *call_dir; /* the private call directory, or NULL */
	/* Where the engine's CRIU logs go when the engine takes a work directory. */
	const char *work_dir;
} crpc__engine_ctx;

/* Result of resolve(): found, or no such container at this engine. */
#define CRPC__ENGINE_FOUND 0
#define CRPC__ENGINE_NOT_FOUND 1

typedef struct crpc__engine {
	const char *name; /* "runc", "podman", "docker": the target's prefix */

	/*
	 * Whether the engine can be asked at all: its CLI is installed (and,
	 * for a daemon, answers). false with *why (static or malloc'ed into
	 * why_buf) for `crpc ps` and the error of an explicit target.
	 * Exit class of an explicit target at an absent engine: CRPC_EXIT_ENV.
	 */
	bool (*present)(const crpc__engine_ctx *ctx, char *why_buf, size_t why_size);

	/* The engine's version ("4.3.1"), for crpc.json and ps. */
	int (*version)(const crpc__engine_ctx *ctx, char *buf, size_t size, crpc_error **err);

	/*
	 * Find the container `ref` (a name, an ID or an unambiguous ID prefix
	 * as the engine accepts them) and fill *out (zeroed by the caller).
	 * CRPC__ENGINE_FOUND, CRPC__ENGINE_NOT_FOUND, or -1 with *err.
	 */
	int (*resolve)(const crpc__engine_ctx *ctx, const char *ref, crpc__container *out, crpc_error **err);

	/* Every container the engine knows, running or not. */
	int (*list)(const crpc__engine_ctx *ctx, crpc__container **out, size_t *n, crpc_error **err);

	/*
	 * Checkpoint the running container c into images_dir (an empty
	 * directory crpc made; the engine's CRIU images and any file the
	 * engine needs to restore end up directly in it), with the engine's
	 * CRIU being ctx->shim_path. leave_running: the container keeps
	 * running. What the restore will need besides the images (a layout,
	 * a path) goes into c->recreate, which crpc.json records. On failure
	 * the container must be left as it was found (running) whenever the
	 * engine allows.
	 */
	int (*checkpoint)(const crpc__engine_ctx *ctx, crpc__container *c, const char *images_dir,
			  bool leave_running, crpc_error **err);

	/*
	 * After a crpc killed while checkpoint() ran (`crpc recover`): move
	 * into images_dir what the engine's finished checkpoint left where
	 * only checkpoint() would have taken it from (podman's export in
	 * ctx->call_dir, Docker's checkpoint in its data root), filling
	 * c->recreate as checkpoint() does. 0 once collected, 1 when there is
	 * nothing to collect, -1 with *err. NULL: the engine writes straight
	 * into images_dir (runc).
	 */
	int (*collect)(const crpc__engine_ctx *ctx, crpc__container *c, const char *images_dir,
		       crpc_error **err);

	/*
	 * Restore the container recorded as `rec` (as crpc.json holds it:
	 * info + recreate) from images_dir, a verified checkpoint crpc will
	 * not change afterwards: into the same container when it exists and is
	 * stopped, else recreated from rec->recreate; as new_name when not
	 * NULL. On success *out describes the running container.
	 */
	int (*restore)(const crpc__engine_ctx *ctx, const crpc__container *rec, const char *images_dir,
		       const char *new_name, crpc__container *out, crpc_error **err);
} crpc__engine;

/*
 * The engines' readers of their CLIs' output (outside input: the fuzz
 * harness fuzz_engines feeds them). `runc state` and `runc list --format
 * json`; `podman container inspect` (its first object into *obj, or
 * CRPC__ENGINE_NOT_FOUND for an empty array) and `podman ps --format json`;
 * the member list of podman's export (`tar -x -v`, text changed in place)
 * into {files, dirs, images}. 0 (or FOUND) or -1 with *err; lists are
 * calloc'ed (release each container, free the array).
 */
int crpc__runc_parse_state(const char *text, size_t len, crpc__container *out, crpc_error **err);
int crpc__runc_parse_list(const char *text, size_t len, crpc__container **out, size_t *n, crpc_error **err);
int crpc__podman_parse_inspect(const char *text, size_t len, json_t **obj, crpc_error **err);
int crpc__podman_parse_ps(const char *text, size_t len, crpc__container **out, size_t *n, crpc_error **err);
int crpc__podman_parse_listing(char *text, json_t **layout, crpc_error **err);

/* The registration table (engines.c), NULL-terminated, in resolution order. */
extern const crpc__engine *const crpc__engines[];

extern const crpc__engine crpc__engine_runc;
extern const crpc__engine crpc__engine_podman;
extern const crpc__engine crpc__engine_docker;

/* The engine named `name`, or NULL. */
const crpc__engine *crpc__engine_find(const char *name);

/* ---- targets (target_parse.c) ---- */

typedef struct crpc__target {
	char engine[16]; /* "" for a bare name */
	char ref[256];   /* the name or ID */
} crpc__target;

/* The caller's engine settings (NULL: the defaults) copied into *own, see crpc__sized_take(). */
int crpc__engine_env_take(crpc_engine_env *own, const crpc_engine_env *env, const char *operation,
			  crpc_error **err);

/*
 * Parse a dump/inspect target that is not a PID: "ENGINE:REF" with a
 * registered ENGINE and a REF of [A-Za-z0-9][A-Za-z0-9_.-]*, or a bare
 * REF that is not all digits. -1 with a CRPC_EXIT_USAGE error naming the
 * problem (an unknown engine lists the known ones).
 */
int crpc__target_parse(const char *arg, crpc__target *out, crpc_error **err);

/* A container name or ID as engines allow them: [A-Za-z0-9][A-Za-z0-9_.-]* */
bool crpc__engine_valid_ref(const char *s);

/*
 * Resolve a parsed target: at its engine, or at every present engine for
 * a bare name (exactly one match, else a CRPC_EXIT_USAGE error listing
 * the candidates or saying none has it). An explicit engine that is not
 * present is CRPC_EXIT_ENV; no such container is CRPC_EXIT_USAGE.
 * *engine gets the engine, *out the container (release it).
 */
int crpc__target_resolve(const crpc__engine_ctx *ctx, const crpc__target *t, const crpc__engine **engine,
			 crpc__container *out, crpc_error **err);

/* ---- running an engine's CLI (exec.c) ---- */

/* A command line being built; the strings are borrowed. */
typedef struct crpc__argv {
	const char *v[64];
	size_t n;
	bool overflow;
} crpc__argv;

/* Append s (NULL-terminated; too many arguments set overflow). */
void crpc__argv_add(crpc__argv *a, const char *s);

/*
 * Run argv[0] (a path or a name looked up in $PATH) with argv and the
 * environment envp (NULL: crpc's), stdin /dev/null, stdout captured
 * (at most 16 MiB) and stderr captured (last 4 KiB kept). Returns the
 * exit status as from waitpid(), -1 with *err when it could not run.
 */
typedef struct crpc__cmd_out {
	char *out; /* NUL-terminated stdout, malloc'ed */
	size_t out_len;
	char *err; /* NUL-terminated tail of stderr, malloc'ed, whitespace trimmed */
} crpc__cmd_out;

int crpc__cmd_run(char *const argv[], char *const envp[], crpc__cmd_out *out, crpc_error **err);
/* crpc__cmd_run() of a built command line (refused when it overflowed). */
int crpc__argv_run(const crpc__argv *a, char *const envp[], crpc__cmd_out *out, crpc_error **err);
/*
 * crpc__argv_run() that also takes a failed exit as an error (crpc__cmd_fail()
 * named operation): 0 with *out to release, or -1 with *err (out released).
 */
int crpc__argv_run_ok(const crpc__argv *a, char *const envp[], crpc__cmd_out *out, const char *operation,
		      crpc_error **err);
void crpc__cmd_out_release(crpc__cmd_out *o);

/*
 * The engine's CLI: $ENVVAR when set (e.g. CRPC_PODMAN), else `name` found
 * in $PATH. false when neither names an executable file.
 */
bool crpc__engine_cli(const char *envvar, const char *name, char *buf, size_t size);

/*
 * A tool's version: the first word after `prefix` in the output of argv
 * (e.g. "runc version "), kept in the runtime directory's versions/ for as
 * long as argv[0] is the same file (device, inode, size, mtime), so that
 * each operation does not pay for a start of the engine's CLI. "" in buf
 * when it cannot be found out.
 */
void crpc__tool_version(char *const argv[], const char *prefix, char *buf, size_t size);

/*
 * A failed command as an error: "OPERATION: ARGV0 SUBCOMMAND exited with
 * status N: STDERR-TAIL", class CRPC_EXIT_FAIL.
 */
int crpc__cmd_fail(crpc_error **err, const char *operation, char *const argv[], int status,
		   const crpc__cmd_out *o);

/* ---- the call directory (call.c) ---- */

/*
 * Open (making it when missing) the runtime directory's subdirectory `sub`
 * ($CRPC_RUNTIME_DIR, default /run/crpc; both root's and 0700, else
 * refused), its path into path. The fd, or -1 with *err.
 */
int crpc__runtime_subdir(const char *sub, char *path, size_t size, crpc_error **err);

/*
 * The runtime directory's versions/ keeps what crpc learnt of a program or
 * a daemon that only changes with it (a CLI's version, dockerd's version,
 * CRIU's VERSION reply), each under a name made of a prefix and the
 * program's path with '/' made '_' (cut to leave room for a writer's
 * temporary name), valid while a key (the file's identity) is the same.
 */
void crpc__runtime_record_name(const char *prefix, const char *path, char *buf, size_t size);
/* versions/ opened (made when missing, private, root's), or -1. */
int crpc__runtime_versions_dir(void);
/*
 * The value of versions/NAME when its first line is key (a file of crpc's
 * user, writable by no one else; the value is its second line): true with
 * it in value.
 */
bool crpc__runtime_record_get(const char *name, const char *key, char *value, size_t size);
/* The same of a record's text (NUL-terminated). */
bool crpc__runtime_record_parse(const char *text, const char *key, char *value, size_t size);
/* Write versions/NAME as "KEY\nVALUE\n" (crpc__runtime_record_write()). */
void crpc__runtime_record_put(const char *name, const char *key, const char *value);
/* Write len bytes of data as versions/NAME: aside, then renamed into place; nothing on failure. */
void crpc__runtime_record_write(const char *name, const void *data, size_t len);

typedef struct crpc__engine_call {
	char dir[PATH_MAX];  /* the call directory */
	char shim[PATH_MAX]; /* dir/criu */
	int dirfd;
} crpc__engine_call;

/*
 * Make a call directory with its `criu` link and write `context` (the
 * shim's instructions, see crpc__call_context_*) as call.json (0600,
 * O_EXCL). Closed with crpc__engine_call_close(), which removes it.
 */
int crpc__engine_call_open(crpc__engine_call *call, json_t *context, crpc_error **err);
void crpc__engine_call_close(crpc__engine_call *call);

/*
 * The call directory `dir` an earlier crpc made and left (it was killed):
 * reopened when it lies directly in the runtime directory's calls/ and is
 * root's and private, for crpc__engine_call_close() to remove. 1 when it
 * no longer exists, 0, or -1 with *err.
 */
int crpc__engine_call_reopen(crpc__engine_call *call, const char *dir, crpc_error **err);

/*
 * Remove the call directories of crpcs that no longer run (named PID-N)
 * and were killed before they asked their engine: holding only what the
 * setup makes (criu, call.json, an empty traces/) and named by no running
 * process. Any other (an engine's output, a log) stays for `crpc recover`. Made by crpc__engine_call_open()
 * and `crpc recover`.
 */
void crpc__engine_calls_sweep(void);

/*
 * A process other than crpc itself whose command line names the call
 * directory call_dir (an engine's CLI, its runtime, the shim) or Docker's
 * checkpoint name of that call: its PID, or 0 when the call is over.
 */
pid_t crpc__engine_call_busy(const char *call_dir);

/*
 * After an engine's restore through the call's shim: the restored init's
 * PID as CRIU's RESTORE reply gave it (the shim wrote it into the call
 * directory), or 0 when there is none.
 */
pid_t crpc__engine_restored_pid(const char *call_dir);

/*
 * In the shim: when argv0 (the path it was started as) lies in a call
 * directory that is root's and private, load its call.json into *context
 * (1). 0 when argv0 is not in a call directory, -1 with *err when it is
 * one that cannot be trusted or read.
 */
int crpc__engine_call_find(const char *argv0, json_t **context, crpc_error **err);

#endif /* CRPC_ENGINE_H */
