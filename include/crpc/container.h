/* SPDX-License-Identifier: MIT */
/*
 * crpc/container.h - containers as targets: "runc:ID", "podman:NAME",
 * "docker:NAME", or a bare name that is not a number, resolved across the
 * container engines installed.
 *
 * crpc reaches a container through its engine's own interface (its CLI or
 * its API socket) and becomes the CRIU of the engine's checkpoint and
 * restore: crpc_checkpoint_dump() with `target` set dumps a container,
 * crpc_checkpoint_restore() restores one through the engine crpc.json
 * names. This header lists and resolves containers (for `crpc ps` and
 * `crpc inspect ENGINE:NAME`).
 */
#ifndef CRPC_CONTAINER_H
#define CRPC_CONTAINER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "crpc/error.h"
#include "crpc/inspect.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * How to reach the engines. Initialise with crpc_engine_env_init(); members
 * may be added at the end. The engines' CLIs are $CRPC_RUNC, $CRPC_PODMAN,
 * $CRPC_DOCKER when set, else runc, podman, docker on $PATH.
 */
typedef struct crpc_engine_env {
	size_t size;
	/** runc's --root (NULL: runc's default, /run/runc). */
	const char *runc_root;
} crpc_engine_env;

/** Set e->size, everything else NULL. */
void crpc_engine_env_init(crpc_engine_env *e);

/** One container as its engine describes it. */
typedef struct crpc_container {
	char engine[16];         /**< "runc", "podman", "docker" */
	char id[128];            /**< the engine's full ID */
	char name[256];          /**< its name ("" when the engine has none: runc's is its ID) */
	char image[512];         /**< its image ("" when none: runc) */
	char state[32];          /**< the engine's word: running, exited, paused, created, stopped */
	bool running;            /**< state says running */
	pid_t pid;               /**< the init process's PID on this host (0 when not running) */
	char runtime[PATH_MAX];  /**< the OCI runtime (podman, docker: "runc", "crun", ...) */
	char engine_version[64]; /**< the engine's version */

	/* filled by crpc_containers_list() with inspect set, for running containers */
	bool inspected;      /**< the tree was inspected */
	bool checkpointable; /**< no blocker was found */
	size_t blockers;     /**< how many blockers */
	size_t warnings;     /**< how many warnings (the container's own namespaces not counted) */
} crpc_container;

/**
 * Whether `arg` is meant as a container target rather than a PID: anything
 * with a character other than a digit, '-', '+' or '.' ("-5" and "1.5" are
 * bad PIDs, "web" and "4web" names).
 */
bool crpc_target_is_container(const char *arg);

/**
 * Resolve a container target (see the top of this header) into *out. An
 * unknown engine, no such container, or a bare name that several
 * containers carry (the candidates listed) is a CRPC_EXIT_USAGE error; an
 * engine that is not installed or not running, CRPC_EXIT_ENV.
 */
int crpc_container_resolve(const char *target, const crpc_engine_env *env, crpc_container *out,
			   crpc_error **err);

/** Which engines are present, for crpc_containers_list(). */
typedef struct crpc_engine_status {
	char name[16];
	bool present;
	char version[64];
	char why[256]; /**< why not present */
} crpc_engine_status;

/**
 * Every container of every engine present (*out malloc'ed, free() it),
 * and each registered engine's status (*engines, malloc'ed, may be NULL).
 * With inspect, each running container's tree is inspected and its
 * verdict summarised (needs root). An engine that fails to list is
 * reported in its status (present false, why) rather than failing all.
 */
int crpc_containers_list(const crpc_engine_env *env, bool inspect, crpc_container **out, size_t *n,
			 crpc_engine_status **engines, size_t *n_engines, crpc_error **err);

/**
 * Whether a verdict warning or blocker is expected of a container, its
 * engine setting up and restoring it itself: its own namespaces
 * ("namespace", "namespaces"), a veth pair to the host ("veth-peer"), a
 * namespace it shares ("namespace-shared").
 */
bool crpc_container_expected_warning(const char *name);

/**
 * Take what is expected of a container (crpc_container_expected_warning())
 * out of a verdict's warnings and blockers, and the options for a tree's
 * own mounts its engine gives CRIU itself (auto_ext_mnt, ext_sharing,
 * ext_masters); returns how many warnings and blockers were taken out.
 */
size_t crpc_container_verdict_filter(crpc_verdict *v);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_CONTAINER_H */
