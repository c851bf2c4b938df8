/* SPDX-License-Identifier: MIT */
/*
 * hooks_int.h - private declarations shared by the hook runner's files:
 * hooks.c (the runner and a step's outcome), hooks_log.c (hooks.log),
 * hooks_env.c (a step's environment), hooks_exec.c (the executable and its
 * trust check), hooks_step.c (starting and supervising a step).
 */
#ifndef CRPC_HOOKS_INT_H
#define CRPC_HOOKS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "crpc/hooks.h"

/* Output lines longer than this are cut (and continued on the next line). */
#define LINE_MAX_BYTES 4096
/* How many of a step's last output lines a failure message quotes. */
#define LAST_LINES 5
/* How much of each of those lines it quotes. */
#define LAST_LINE_SHOWN 200
/* Output drained after the main process exited while something holds the pipe. */
#define DRAIN_MS 100
/* SIGTERM -> SIGKILL grace when the context gives none. */
#define DEFAULT_GRACE_MS 2000u
/* Polling interval for the main process's exit where pidfds are missing. */
#define POLL_TICK_MS 10
/* Output of one step written to hooks.log (and echoed) at most. */
#define OUTPUT_LOG_MAX (1u << 20)
/* Most external entries one query-ext-files step may print. */
#define MAX_ENTRIES 4096
/* The fd number a step gets the pty master as (orphan-pts-master). */
#define PTS_FD 3

struct crpc_hook_runner {
	const crpc_hooks *hooks;
	char *operation;  /* "dump" or "restore" */
	char *images_dir; /* real path, NULL if unknown */
	char *log_path;   /* images_dir/hooks.log, NULL if none */
	int log_fd;       /* hooks.log, -1 if none */
	FILE *verbose;
	unsigned grace_ms;
	pid_t pid;       /* CRPC_PID: dump target or restored root, 0 unknown */
	char **warnings; /* NULL-terminated */
	size_t n_warnings;
};

/* How many variables crpc sets for steps (hooks_env.c's managed_vars). */
#define HK_N_MANAGED 9

struct step_env {
	char **envp; /* NULL-terminated; points into environ, ours and the step's */
	char *ours[HK_N_MANAGED];
	size_t n_ours;
};

enum child_stage {
	STAGE_NONE = 0,
	STAGE_CHDIR,
	STAGE_EXEC
};

/* Why a step could not be started in its cwd or executed (STAGE_NONE: it was). */
struct child_report {
	int stage;
	int err;
};

struct stream {
	int fd;
	bool entries;  /* query-ext-files stdout: lines are external entries */
	bool skipping; /* the rest of an overlong entry is dropped */
	size_t len;
	char buf[LINE_MAX_BYTES];
};

struct step_run {
	const crpc_hook_runner *r;
	const char *cb;   /* callback name */
	const char *name; /* step name */
	struct stream streams[2];
	size_t n_streams;
	char last[LAST_LINES][LAST_LINE_SHOWN + 1];
	unsigned n_lines; /* output lines seen (the ring index is n_lines % LAST_LINES) */
	size_t logged;    /* bytes of output written to hooks.log */
	char **entries;
	size_t n_entries;
	const char *entry_error; /* why the entries are unusable, NULL if they are fine */

	/* outcome */
	pid_t pid;
	int status;
	bool waited; /* status is valid */
	bool timed_out;
	bool sigkilled; /* SIGKILL sent after the grace */
	struct child_report rep;
	double secs;
};

/* hooks_log.c: append to buf at *pos, never past sz (the result stays NUL-terminated). */
void hk_bprintf(char *buf, size_t sz, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* hooks_log.c: control characters (but tabs) of src become '?' in dst; returns len. */
size_t hk_sanitize(char *dst, const char *src, size_t len);

/* hooks_log.c: an event line of hooks.log, "[time] callback step: text" (step may be NULL). */
void hk_log_event(const crpc_hook_runner *r, const char *cb, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* hooks_log.c: a line of a step's output, to hooks.log and the verbose stream. */
void hk_output_line(const crpc_hook_runner *r, const char *cb, const char *step, const char *text,
		    size_t len);

/* hooks_env.c: the value of name in envp, NULL if unset. */
const char *hk_env_get(char *const *envp, const char *name);

/* hooks_env.c: build the environment of step st for notification n (pts: it gets the pty master). -1 on ENOMEM. */
int hk_build_env(const crpc_hook_runner *r, const crpc_notify *n, const crpc_hook_step *st, bool pts,
		 struct step_env *e);
void hk_step_env_release(struct step_env *e);

/* hooks_exec.c: path as seen from crpc's cwd when the step runs in cwd ("" if too long). */
void hk_from_step_cwd(const char *cwd, const char *path, char *buf, size_t sz);

/* hooks_exec.c: the path execvp() would run for argv0 with this PATH, from the step's cwd; false if none. */
bool hk_resolve_exec(const char *argv0, const char *path_env, const char *cwd, char *out, size_t outsz);

/* hooks_exec.c: as root, is this executable safe to run? Else why not, in why. */
bool hk_trusted_executable(const char *path, char *why, size_t whysz);

/* hooks_exec.c: the script an interpreter in argv runs, if it names a file (from cwd). */
bool hk_script_operand(char *const *argv, char *out, size_t outsz, const char *cwd);

/*
 * hooks_step.c: start the step (posix_spawn). 0: it runs; 1: its cwd or
 * executable failed (sr->rep says which, no process is left); -1: crpc could
 * not start it, why says why.
 */
int hk_spawn_step(struct step_run *sr, const crpc_hook_step *st, const crpc_notify *n,
		  const struct step_env *env, const char *exec_path, bool two_pipes, char *why, size_t whysz);

/* hooks_step.c: read the step's output until it is over, then reap it. */
void hk_supervise(struct step_run *sr, int pidfd, unsigned timeout_ms, unsigned grace_ms);

#endif /* CRPC_HOOKS_INT_H */
