/* SPDX-License-Identifier: MIT */
/*
 * crpc/error.h - the one error object libcrpc carries up to its caller.
 *
 * Every fallible libcrpc function takes a `crpc_error **err` as its last
 * argument. On failure it returns a negative value and, when err is not NULL,
 * stores a newly allocated error there (the caller frees it with
 * crpc_error_free()). The object says what failed (operation), why (errno,
 * CRIU's own message and the CRIU log lines that explain it) and what to do
 * about it (a hint for known causes), and it carries the exit class the
 * command line tool turns into its exit code.
 */
#ifndef CRPC_ERROR_H
#define CRPC_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Exit classes; the numeric values are the crpc tool's exit codes. */
typedef enum crpc_exit {
	CRPC_EXIT_OK = 0,    /**< success */
	CRPC_EXIT_FAIL = 1,  /**< the operation failed */
	CRPC_EXIT_USAGE = 2, /**< bad usage or configuration */
	CRPC_EXIT_ENV = 3,   /**< environment: no working CRIU, not root, ... */
} crpc_exit;

/** Known causes a failure can be classified as (see crpc_error_classify()). */
typedef enum crpc_cause {
	CRPC_CAUSE_UNKNOWN = 0,
	CRPC_CAUSE_PID_IN_USE,      /**< restore: a PID of the tree is taken */
	CRPC_CAUSE_TCP_ESTABLISHED, /**< established TCP, tcp_established not set */
	CRPC_CAUSE_EXT_UNIX_SK,     /**< UNIX socket peer outside the tree */
	CRPC_CAUSE_SHELL_JOB,       /**< tty/session from outside, shell_job unset */
	CRPC_CAUSE_NOT_ROOT,        /**< missing privileges */
	CRPC_CAUSE_KERNEL,          /**< a kernel feature CRIU needs is missing */
	CRPC_CAUSE_NO_PROCESS,      /**< the target process does not exist */
	CRPC_CAUSE_CRIU_DIED,       /**< CRIU exited or was killed mid-request */
	CRPC_CAUSE_SESSION_ZERO,    /**< a task in session 0 (its leader not visible) */
} crpc_cause;

/** A failure, as carried up from where it happened. All strings may be NULL. */
typedef struct crpc_error {
	crpc_exit exit_class; /**< what kind of failure (tool exit code) */
	crpc_cause cause;     /**< classified cause, CRPC_CAUSE_UNKNOWN if none */
	int sys_errno;        /**< errno of the failing call, 0 if none */
	char *operation;      /**< what was being done, e.g. "dump of PID 42" */
	char *message;        /**< one-line description of the failure */
	int criu_errno;       /**< CRIU's cr_errno, 0 if absent */
	char *criu_errmsg;    /**< CRIU's cr_errmsg, verbatim */
	char *log_path;       /**< the CRIU log file that explains it */
	char *log_excerpt;    /**< the lines of that log that explain it */
	char *hint;           /**< what the user can do about it */
} crpc_error;

/**
 * Create an error and store it in *err (if err is not NULL and *err is NULL;
 * an error already stored is kept, the first failure being the cause).
 * Always returns -1 so callers can `return crpc_error_set(...)`.
 */
int crpc_error_set(crpc_error **err, crpc_exit exit_class, int sys_errno, const char *operation,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** va_list variant of crpc_error_set(). */
int crpc_error_setv(crpc_error **err, crpc_exit exit_class, int sys_errno, const char *operation,
		    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/** Replace the hint of an error (formatted). No-op when e is NULL. */
void crpc_error_set_hint(crpc_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Free an error (NULL is fine). */
void crpc_error_free(crpc_error *e);

/** Free *e and set it to NULL; for __attribute__((cleanup)). */
void crpc_error_freep(crpc_error **e);

/**
 * Name of an errno value ("ENOENT"), or NULL if unknown. Unlike strerror()
 * this gives the symbolic name users can search for.
 */
const char *crpc_errno_name(int errnum);

/**
 * Fill in e->cause, e->hint (unless already set) and possibly e->exit_class
 * from what the error carries: errno, CRIU's errno and message and the log
 * excerpt. `op` is the CRIU request ("dump", "restore", ...).
 */
void crpc_error_classify(crpc_error *e, const char *op);

/**
 * Select the lines of a CRIU log that explain a failure: the first lines
 * reporting an error, each with up to `context` lines before it, skipping
 * known noise (e.g. the harmless RLIMIT_NOFILE line), plus the last error
 * line when it differs. Returns a newly allocated string (empty string when
 * nothing was found), NULL on allocation failure.
 */
char *crpc_log_excerpt(const char *log, size_t len, unsigned context, unsigned max_errors);

/**
 * Read the log file at `path` (bounded: only its last 4 MiB) and attach its
 * excerpt and path to e. Silently does nothing if the file cannot be read.
 */
void crpc_error_attach_log(crpc_error *e, const char *path);

/**
 * Render the error for a human, several lines, each ending with '\n':
 * "crpc: <operation>: <message> (<ERRNO>: <strerror>)", CRIU's message,
 * the log excerpt (indented) and the hint. Returns a malloc'ed string.
 */
char *crpc_error_format(const crpc_error *e);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_ERROR_H */
