/* SPDX-License-Identifier: MIT */
/*
 * crpc/config.h - crpc's YAML configuration: CRIU settings, dump and
 * restore options, and the hook steps to run at each CRIU notification.
 *
 * The file format is documented in docs/crpc.yaml.5 and config/crpc.yaml.
 * Every error names the file, line and column, the key and what was
 * expected; a configuration with any error is refused as a whole.
 */
#ifndef CRPC_CONFIG_H
#define CRPC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crpc/error.h"
#include "crpc/manifest.h"
#include "crpc/notify.h"
#include "crpc/opts.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest configuration file accepted. */
#define CRPC_CONFIG_MAX_SIZE (1u << 20)

/** Default timeout of a hook step. */
#define CRPC_HOOK_DEFAULT_TIMEOUT_MS 60000u

/** Defaults of the shim: section. */
#define CRPC_SHIM_TRACE_DIR "/var/log/crpc"
#define CRPC_SHIM_TRACE_MAX_FILES 100u
#define CRPC_SHIM_TRACE_MAX_TOTAL (64ull << 20)
#define CRPC_SHIM_TRACE_MAX_FILE_SIZE (8ull << 20)

/** How a step runs. */
typedef enum crpc_step_kind {
	CRPC_STEP_RUN,   /**< `run: [argv...]`: execve, no shell */
	CRPC_STEP_SHELL, /**< `shell: "..."`: /bin/sh -c */
} crpc_step_kind;

/** What a failing step does to the operation. */
typedef enum crpc_on_failure {
	CRPC_ON_FAILURE_DEFAULT = 0, /**< abort where CRIU can abort, else warn */
	CRPC_ON_FAILURE_ABORT,
	CRPC_ON_FAILURE_WARN,
	CRPC_ON_FAILURE_IGNORE,
} crpc_on_failure;

/** One hook step. All strings are owned by the configuration. */
typedef struct crpc_hook_step {
	char *name; /**< `name:`, else generated ("pre-dump[1]") */
	crpc_step_kind kind;
	char **argv;         /**< run: NULL-terminated argv */
	char *shell;         /**< shell: the command line */
	unsigned timeout_ms; /**< default CRPC_HOOK_DEFAULT_TIMEOUT_MS */
	crpc_on_failure on_failure;
	char **env;   /**< NULL-terminated "K=V" strings, may be NULL */
	char *cwd;    /**< may be NULL */
	char *origin; /**< "FILE:LINE:COL" or "--hook" */
} crpc_hook_step;

/** The steps of every notification. */
typedef struct crpc_hooks {
	crpc_hook_step *steps[CRPC_NOTIFY__COUNT];
	size_t n_steps[CRPC_NOTIFY__COUNT];
} crpc_hooks;

/**
 * A loaded configuration. Its size is fixed for a major version: members
 * added later take their room from `reserved`, which crpc_config_init()
 * zeroes.
 */
typedef struct crpc_config {
	char *path;          /**< file it was read from, NULL when none */
	char *criu_binary;   /**< criu: binary */
	int criu_log_level;  /**< criu: log_level, -1 unset */
	char *criu_log_file; /**< criu: log_file */
	crpc_opts dump;      /**< dump: section (strings owned by the config) */
	crpc_opts restore;   /**< restore: section */
	crpc_hooks hooks;    /**< hooks: section */
	char *trace_dir;     /**< shim: trace_dir, NULL unset (the shim then uses CRPC_SHIM_TRACE_DIR) */
	bool shim_trace;     /**< shim: trace (default true) */
	unsigned shim_trace_max_files;     /**< shim: trace_max_files */
	uint64_t shim_trace_max_total;     /**< shim: trace_max_total (bytes) */
	uint64_t shim_trace_max_file_size; /**< shim: trace_max_file_size (bytes) */
	bool shim_verbose;                 /**< shim: verbose */
	void *priv;                        /**< storage owned by the configuration */
	char *signing_key;                 /**< signing: key, NULL unset */
	char *trusted_keys;                /**< signing: trusted_keys, NULL unset */
	bool require_signature;            /**< signing: require (default false) */
	crpc_digest digest;                /**< integrity: digest (CRPC_DIGEST_DEFAULT unset) */
	uint64_t reserved[8];              /**< room for later members; zero */
} crpc_config;

/** Where the configuration comes from (see crpc_config_locate()). Initialise with crpc_config_source_init(). */
typedef struct crpc_config_source {
	size_t size;               /**< sizeof(crpc_config_source), set by the init function */
	const char *explicit_path; /**< --config FILE */
	bool none;                 /**< --no-config */
} crpc_config_source;

/** Set s->size, everything else 0 / NULL (the defaults: the usual search). */
void crpc_config_source_init(crpc_config_source *s);

/** An empty configuration (no file, defaults everywhere). */
void crpc_config_init(crpc_config *c);

/** Free everything a configuration holds. */
void crpc_config_release(crpc_config *c);

/**
 * Find the configuration file: --config FILE, else $CRPC_CONFIG, else
 * $XDG_CONFIG_HOME/crpc/config.yaml (~/.config/... when unset), else
 * /etc/crpc/config.yaml. Never the current directory implicitly. Writes the
 * path to buf, or an empty string when there is none (no error then). An
 * explicit file that does not exist is an error (CRPC_EXIT_USAGE).
 */
int crpc_config_locate(const crpc_config_source *src, char *buf, size_t bufsz, crpc_error **err);

/**
 * Load and validate a configuration file into c (initialised by the call).
 * When running as root, a file not owned by root or writable by group or
 * others is refused. Errors have class CRPC_EXIT_USAGE and a message of the
 * form "FILE:LINE:COL: key 'x': expected ..., got ..." (with "did you mean"
 * for misspelt keys).
 */
int crpc_config_load(crpc_config *c, const char *path, crpc_error **err);

/** Same, from a memory buffer; `name` is used in messages. No permission checks. */
int crpc_config_parse(crpc_config *c, const char *name, const char *text, size_t len, crpc_error **err);

/**
 * Add a one-off shell step from the command line: "CALLBACK=COMMAND"
 * (--hook). Unknown callbacks are refused, listing the valid ones.
 */
int crpc_config_add_hook_arg(crpc_config *c, const char *arg, crpc_error **err);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_CONFIG_H */
