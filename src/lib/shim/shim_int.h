/* SPDX-License-Identifier: MIT */
/*
 * shim_int.h - the state of a shim session and what its parts share: the
 * session (shim.c), passing messages on (shim_forward.c) and the trace
 * (shim_trace.c). Private to src/lib/shim/.
 */
#ifndef CRPC_SHIM_INT_H
#define CRPC_SHIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crpc/hooks.h"
#include "crpc/notify.h"
#include "crpc/shim.h"
#include "crpc/trace.h"
#include "internal.h"

/* Largest record accepted from either side (CRIU's are below 2 KiB). */
#define SHIM_MSG_MAX (1u << 20)
/* Longest cr_errmsg the shim writes (go-criu reads replies into 8 KiB). */
#define SHIM_ERRMSG_MAX 2000

/* The trace of a session and its size bound. */
struct shim_trace {
	crpc_trace *t;
	int dirfd;      /* the trace directory */
	int fd;         /* the file, O_APPEND: sizes, and the final "truncated" line */
	char name[256]; /* current name in dirfd */
	char stamp[64]; /* TIME-PID part of the name */
	bool named_op;  /* the name carries an operation other than version/feature-check */
	bool stopped;   /* truncated or failed: nothing more is recorded */
	uint64_t max_size;
};

struct shim {
	const crpc_shim_config *cfg;
	double t0;

	int client; /* the client's socket */
	bool client_gone;
	pid_t client_pid;
	int client_pidfd; /* -1 if none */
	char client_comm[64];

	int criu_sk;    /* -1 until CRIU runs and after it hung up */
	pid_t criu_pid; /* 0 until started */
	int criu_pidfd; /* -1 if none */
	bool criu_reaped;
	int criu_status;

	/* the CRIU started with the session, not yet given a request (shim_spare.c) */
	pid_t spare_pid; /* 0 if none */
	int spare_sk;
	int spare_pidfd;
	char *spare_cgroups; /* /proc/self/cgroup when it started */

	/* the request in flight */
	bool outstanding;
	int req_type;
	int held[4]; /* fds taken from the client for it */
	size_t n_held;
	int log_dirfd;      /* CRIU's work dir for it (one of held), -1 if none */
	char *log_name;     /* CRIU's log file in there */
	bool client_notify; /* the client asked for notifications */
	bool await_ack;     /* a notification went to the client; its answer is due */
	char **ext;         /* hook entries for the query-ext-files the client answers */
	size_t n_ext;
	crpc_dispatcher *disp;
	crpc_hook_runner *runner;
	crpc_error *abort_reason; /* a hook made a notification fail */
	char abort_cb[64];
	unsigned seq;
	double req_t0;

	char *broken; /* why a message could not be passed on: the session ends */

	struct shim_trace tr;
	bool trace_tried;
	bool warned_trace;

	/* CRIU's VERSION reply remembered for this binary (shim_version.c) */
	bool version_tried;
	size_t version_len; /* 0: none */
	uint8_t version_reply[512];
};

/* ---- the real CRIU (shim.c, shim_spare.c) ---- */

/* Start `criu swrk` for s: its pid, our socket to it, a pidfd (-1 if none). -1 with errno. */
int shim_spawn_criu(struct shim *s, pid_t *pidp, int *skp, int *pidfdp);
/* s->criu_pid now serves the session: signals are passed on to it. */
void shim_criu_adopted(struct shim *s);
/* Start the spare CRIU, before the first request (nothing if it cannot be). */
void shim_spare_start(struct shim *s);
/* Make the spare s's CRIU if it is still fit for the first request (0); else end it (-1). */
int shim_spare_adopt(struct shim *s);
/* End the spare, if any (SIGKILL, reaped). */
void shim_spare_discard(struct shim *s);

/* ---- small helpers (shim.c) ---- */

/* A line on the verbose stream (if any), with the time since the session started. */
void __attribute__((format(printf, 2, 3))) shim_vlog(const struct shim *s, const char *fmt, ...);
/* A problem worth a line in the system log (and the verbose stream). */
void __attribute__((format(printf, 3, 4))) shim_note(const struct shim *s, int prio, const char *fmt, ...);
/* The name of a request type ("DUMP"; "UNKNOWN" for one this build does not know). */
const char *shim_type_name(int type);
/* The request type as a word: "dump", "pre-dump", "feature-check". */
void shim_op_word(int type, char *buf, size_t sz);
/* Keep a message fit for cr_errmsg: printable ASCII, one line, bounded. */
void shim_sanitize(char *s);
/*
 * Read one record with its fds. CRPC__RECV_OK, CRPC__RECV_EOF (peer closed or
 * an empty record) or -1 with errno (EMSGSIZE: larger than SHIM_MSG_MAX, the
 * record was consumed; EBADMSG: cut short).
 */
int shim_record_recv(int sk, crpc__record *r);
/* A failed reply of `type` carrying text (already fit for cr_errmsg) sent on fd. -1 with errno. */
int shim_send_failure(int fd, int type, char *text);

/* ---- CRIU (shim.c) ---- */

/* Start the real `criu swrk` for the session. -1 with *err. */
int shim_start_criu(struct shim *s, crpc_error **err);
/*
 * Close our end (CRIU stops at its next read) and wait for CRIU to end: at
 * most timeout_ms, then kill it; 0: as long as it takes (a CRIU between
 * requests ends at once, one running exec_cmd has become that command).
 */
void shim_criu_wait(struct shim *s, unsigned timeout_ms);
/* The shim's exit status for how CRIU ended. */
int shim_criu_exit_code(const struct shim *s);

/* ---- passing messages on (shim_forward.c) ---- */

/* The request in flight is over: its fds, hooks and notification state go. */
void shim_request_end(struct shim *s);
/*
 * A message from the client. 0: go on; 1: the session is over (client
 * gone); -1: failed (the client was told).
 */
int shim_from_client(struct shim *s, crpc_error **err);
/* A message from CRIU. 0: go on; 1: CRIU hung up. */
int shim_from_criu(struct shim *s, crpc_error **err);
/* CRIU hung up or exited: tell a waiting client how it ended. The shim's exit status. */
int shim_criu_gone(struct shim *s, crpc_error **err);

/* ---- the trace (shim_trace.c) ---- */

/* Open the session's trace at its first request. Failures only cost the trace. */
void shim_trace_start(struct shim *s, int first_type);
/* The first operation after VERSION/FEATURE_CHECK names the file. */
void shim_trace_name_op(struct shim *s, int type);
/* A message passed on (fd: the first fd passed with it, -1 if none), also on the verbose stream. */
void shim_trace_msg(struct shim *s, crpc_direction dir, const uint8_t *buf, size_t len, int fd);
/* Something the shim did on its own: an event line (see crpc_trace_event()). */
void shim_trace_event(struct shim *s, const char *event, const char *callback, const char *text);
/* Close the trace at the end of the session. */
void shim_trace_end(struct shim *s);

/* ---- CRIU's VERSION reply, remembered between sessions (shim_version.c) ---- */

/* Whether a reply of this CRIU binary is remembered (read once per session). */
bool shim_version_known(struct shim *s);
/*
 * A record's bytes (n of buf): its header names CRIU id (criu_identity())
 * and the length of what follows, which is CRIU's successful VERSION
 * reply. true with the reply's offset and length.
 */
bool shim_version_parse(const uint8_t *buf, size_t n, const char *id, size_t *off, size_t *len);
/* The remembered reply's version ("4.2.1") into ver; false when none. */
bool shim_version_string(struct shim *s, char *ver, size_t size);
/* The client's first message, already waiting, is a VERSION request (no keep_open) that can be answered. */
bool shim_version_first(struct shim *s);
/* Remember CRIU's VERSION reply (buf, len) for this binary (a temporary file renamed into place). */
void shim_version_remember(struct shim *s, const uint8_t *buf, size_t len);

#endif /* CRPC_SHIM_INT_H */
