/* SPDX-License-Identifier: MIT */
/*
 * crpc/replay.h - read a trace back and replay it: answer a client with
 * the messages CRIU sent in the recording, without CRIU.
 *
 * A trace (see crpc/trace.h) holds one session: the messages crpc sent to
 * CRIU and CRIU's answers, in order, with their raw bytes. Replaying it
 * stands in for `criu swrk`: each recorded message to CRIU is received
 * from the client and compared with the recorded one field by field; each
 * recorded message from CRIU is sent as recorded. The first message that
 * differs is a divergence, reported with the path of the field, the
 * recorded and the received value; the client then gets a failure reply.
 * This tests a client, or a hook pipeline, with no root and no CRIU.
 *
 * Typical use (the other end of `sk` is the client's CRIU socket):
 *
 *     crpc_trace_file *t = NULL;
 *     if (crpc_trace_file_read(&t, "dump.trace", &err) < 0 ||
 *         crpc_replay_check(t, &err) < 0) ...
 *     crpc_replay_report rep;
 *     if (crpc_replay_serve(t, sk, NULL, &rep, &err) < 0) ...
 *     if (rep.outcome != CRPC_REPLAY_MATCHED)
 *         fprintf(stderr, "%s\n", rep.text);
 *     crpc_trace_file_free(t);
 *
 * `crpc trace replay FILE -- CLIENT ARGS...` does all of this for a client
 * that starts CRIU itself.
 */
#ifndef CRPC_REPLAY_H
#define CRPC_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crpc/error.h"
#include "crpc/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reading a trace ---- */

typedef struct crpc_trace_file crpc_trace_file;

/** One {"type":"message"} line of a trace. */
typedef struct crpc_trace_record {
	unsigned long line;   /**< its line number in the file (from 1) */
	unsigned long seq;    /**< "seq": 1 for the first message */
	double mono;          /**< "mono": monotonic time in seconds */
	crpc_direction dir;   /**< "dir" */
	const char *msg_type; /**< "msg_type" ("DUMP", "NOTIFY", ...), NULL if absent */
	bool decode_error;    /**< the recorder could not decode the message */
	const uint8_t *raw;   /**< "raw" decoded from base64, NULL when absent */
	size_t raw_len;
	int fd;           /**< "fd": the fd number passed with it, -1 if none */
	const char *json; /**< the whole line, JSON text */
} crpc_trace_record;

/**
 * One {"type":"event"} line of a trace (see crpc_trace_event()): something
 * the recorder noted between messages, such as a hook that failed. Events
 * are kept apart from the messages and play no part in a replay.
 */
typedef struct crpc_trace_event_record {
	unsigned long line;   /**< its line number in the file (from 1) */
	double mono;          /**< "mono": monotonic time in seconds */
	const char *event;    /**< "event": "hook-failed", "reply-rewritten", "shim-reply", ... */
	const char *callback; /**< "callback": the notification, NULL when null or absent */
	const char *text;     /**< "text", NULL when null or absent */
	const char *json;     /**< the whole line, JSON text */
} crpc_trace_event_record;

/** A line of the file that could not be used. */
typedef struct crpc_trace_problem {
	unsigned long line; /**< line number (from 1) */
	const char *error;  /**< what is wrong with it */
} crpc_trace_problem;

/**
 * Read the trace file `path` (lines of at most 1 MiB) into *out. Damaged
 * lines (not JSON, not an object, unknown type, a message missing a key,
 * an event without a string "event" or a number "mono",
 * a "raw" that is not base64, a second header, a cut-off last line) do not
 * fail the read: they are listed as problems and the rest is kept. Fails
 * with CRPC_EXIT_USAGE only when the file cannot be opened or read.
 */
int crpc_trace_file_read(crpc_trace_file **out, const char *path, crpc_error **err);

/** The path the trace was read from. */
const char *crpc_trace_file_path(const crpc_trace_file *t);

/** The header line and the criu line as JSON text, NULL when absent. */
const char *crpc_trace_file_header(const crpc_trace_file *t);
const char *crpc_trace_file_criu(const crpc_trace_file *t);

/** Number of usable message lines, and the i-th of them (NULL past the end). */
size_t crpc_trace_file_count(const crpc_trace_file *t);
const crpc_trace_record *crpc_trace_file_record(const crpc_trace_file *t, size_t i);

/**
 * Number of usable event lines, and the i-th of them in file order (NULL
 * past the end). Their line numbers place them between the messages.
 */
size_t crpc_trace_file_event_count(const crpc_trace_file *t);
const crpc_trace_event_record *crpc_trace_file_event(const crpc_trace_file *t, size_t i);

/**
 * Why the recorder stopped before the session ended (a {"type":"truncated"}
 * line, written when a trace reaches its size limit), NULL when the
 * recording is whole. Such a line is not counted as a problem.
 */
const char *crpc_trace_file_truncated(const crpc_trace_file *t);

/** Number of damaged lines, and the i-th of them in file order. */
size_t crpc_trace_file_problem_count(const crpc_trace_file *t);
const crpc_trace_problem *crpc_trace_file_problem(const crpc_trace_file *t, size_t i);

/** Free a trace. NULL is fine. */
void crpc_trace_file_free(crpc_trace_file *t);

/* ---- reading a trace line by line ---- */

/**
 * A trace read one line at a time, in bounded memory whatever its size
 * (`crpc trace show`): the same checks as crpc_trace_file_read(), which
 * keeps every line and so refuses files over 256 MiB.
 */
typedef struct crpc_trace_reader crpc_trace_reader;

/** What a line of a trace is. */
typedef enum crpc_trace_line_kind {
	CRPC_TRACE_LINE_HEADER = 1, /**< the header line (json) */
	CRPC_TRACE_LINE_CRIU,       /**< the criu line (json) */
	CRPC_TRACE_LINE_MESSAGE,    /**< a usable message line (message, json) */
	CRPC_TRACE_LINE_EVENT,      /**< a usable event line (event, json) */
	CRPC_TRACE_LINE_TRUNCATED,  /**< the recorder stopped on purpose (text: its reason) */
	CRPC_TRACE_LINE_PROBLEM,    /**< a damaged line (text: what is wrong) */
} crpc_trace_line_kind;

/** One line; everything it points to is valid until the next call. */
typedef struct crpc_trace_line {
	crpc_trace_line_kind kind;
	unsigned long line;                   /**< its number in the file (from 1) */
	const char *json;                     /**< the line's text (not for PROBLEM) */
	const crpc_trace_record *message;     /**< MESSAGE */
	const crpc_trace_event_record *event; /**< EVENT */
	const char *text;                     /**< TRUNCATED, PROBLEM */
} crpc_trace_line;

/** Open `path` for reading line by line. Fails (CRPC_EXIT_USAGE) when it cannot be opened. */
int crpc_trace_reader_open(crpc_trace_reader **out, const char *path, crpc_error **err);

/**
 * The next line: 1 with *line filled in, 0 at the end of the file, -1 with
 * err when the file cannot be read at all (CRPC_EXIT_USAGE) or memory ran
 * out. A read error after the first line is a PROBLEM, then the end.
 */
int crpc_trace_reader_next(crpc_trace_reader *r, crpc_trace_line *line, crpc_error **err);

/** Close a reader. NULL is fine. */
void crpc_trace_reader_close(crpc_trace_reader *r);

/* ---- comparing messages ---- */

/** Longest field path and value text kept in a crpc_replay_diff. */
#define CRPC_REPLAY_TEXT_MAX 256

/** The first field that differs between two messages. */
typedef struct crpc_replay_diff {
	/**
	 * Path of the field, .proto names joined with '.': "opts.leave_running",
	 * "opts.external[1]" for an element, "opts.#72" for a field number this
	 * build of crpc does not know. Empty when a message did not decode.
	 */
	char field[CRPC_REPLAY_TEXT_MAX];
	char recorded[CRPC_REPLAY_TEXT_MAX]; /**< its recorded value, "(not set)" when absent */
	char received[CRPC_REPLAY_TEXT_MAX]; /**< its received value */
} crpc_replay_diff;

/**
 * Fields ignored by default: fd numbers, which differ from run to run
 * (opts.images_dir_fd, opts.work_dir_fd, opts.status_fd,
 * opts.pidfd_store_sk, opts.ps.fd). NULL-terminated.
 */
extern const char *const crpc_replay_default_ignore[];

/**
 * Is `path` a field of criu_req, in the syntax of crpc_replay_diff.field
 * ("opts.ps.fd", "opts.external[0]", "opts.#72")? An ignore pattern also
 * covers every element ("opts.inherit_fd.fd" covers "opts.inherit_fd[3].fd")
 * and everything below it ("opts.ps"). Fails with CRPC_EXIT_USAGE naming
 * what is wrong.
 */
int crpc_replay_field_check(const char *path, crpc_error **err);

/* ---- replaying ---- */

/** How long to wait for each message of the client by default (seconds). */
#define CRPC_REPLAY_TIMEOUT_DEFAULT 120

/**
 * Options of crpc_replay_serve(), initialised by crpc_replay_options_init(),
 * which sets `size` and makes every other member 0 / NULL (the defaults).
 * Members may be added at the end in later versions: the library reads only
 * the first `size` bytes.
 */
typedef struct crpc_replay_options {
	size_t size;               /**< sizeof(crpc_replay_options), set by the init function */
	const char *const *ignore; /**< fields to ignore besides crpc_replay_default_ignore */
	size_t n_ignore;
	bool no_default_ignore;  /**< compare the fd-number fields too */
	unsigned timeout_ms;     /**< per client message (0: CRPC_REPLAY_TIMEOUT_DEFAULT s) */
	unsigned eof_timeout_ms; /**< after the last message, wait this long for the
				     client to hang up (0: 10 s) */
	/** Called after each message replayed as recorded (sent, or received equal). */
	void (*on_message)(const crpc_trace_record *r, void *data);
	void *on_message_data;
} crpc_replay_options;

/** Set o->size and the defaults (every other member 0 / NULL). */
void crpc_replay_options_init(crpc_replay_options *o);

/** How a replay ended. */
typedef enum crpc_replay_outcome {
	CRPC_REPLAY_MATCHED = 0,   /**< every message as recorded; the client hung up */
	CRPC_REPLAY_DIVERGED,      /**< a message from the client differs (diff) */
	CRPC_REPLAY_CLIENT_ENDED,  /**< the client hung up before message `at` */
	CRPC_REPLAY_EXTRA_MESSAGE, /**< the client sent more than the trace holds */
	CRPC_REPLAY_TIMEOUT,       /**< the client did not send message `at` in time */
	CRPC_REPLAY_TRACE_ENDS,    /**< the trace stops before CRIU's answer to message `at` */
	CRPC_REPLAY_IO_ERROR,      /**< the connection failed (text says how) */
} crpc_replay_outcome;

/** What a replay did. */
typedef struct crpc_replay_report {
	crpc_replay_outcome outcome;
	size_t total;          /**< messages in the trace */
	size_t matched;        /**< messages replayed as recorded */
	unsigned long at;      /**< seq of the message where it stopped (0 when matched;
				   total + 1 for a message past the end) */
	unsigned long line;    /**< that message's line in the trace (0 if none) */
	crpc_direction dir;    /**< its direction */
	char msg_type[32];     /**< its recorded type ("DUMP"), or the received one past the end */
	crpc_replay_diff diff; /**< DIVERGED: the field; EXTRA_MESSAGE: what came */
	char text[768];        /**< one line saying what happened */
} crpc_replay_report;

/** Name of an outcome: "matched", "diverged", "client-ended", ... */
const char *crpc_replay_outcome_name(crpc_replay_outcome o);

/**
 * Check that a trace can be replayed: no damaged line, at least one
 * message, seq 1, 2, 3... without a gap, and the raw bytes of every
 * message. Fails with CRPC_EXIT_USAGE naming the first bad line.
 */
int crpc_replay_check(const crpc_trace_file *t, crpc_error **err);

/**
 * Replay trace `t` (checked with crpc_replay_check()) to the client at the
 * other end of the SOCK_SEQPACKET socket `sk`, standing in for CRIU (opts
 * NULL: the defaults; else set up with crpc_replay_options_init()):
 *
 * - a recorded message to CRIU: one message is received (bounded in size,
 *   at most opts->timeout_ms) and compared with the recorded one;
 * - a recorded message from CRIU is sent as recorded; when the recording
 *   passed an fd with it (orphan-pts-master), a fresh pty master is sent
 *   along (/dev/null when no pty can be opened);
 * - after the last message the client is expected to hang up (at most
 *   opts->eof_timeout_ms; a client that stays connected is not a failure).
 *
 * On a divergence, an extra message, a timeout or a trace that stops
 * before CRIU's answer, the client gets the failure reply CRIU sends for a
 * request it cannot serve (type EMPTY, success false) with cr_errmsg
 * "crpc replay: ..." saying why. The outcome is in *rep either way.
 * Returns 0 when the replay matched, 1 when it did not, -1 (with *err)
 * only on bad arguments (options without their size among them). `sk` is
 * not closed.
 */
int crpc_replay_serve(const crpc_trace_file *t, int sk, const crpc_replay_options *opts,
		      crpc_replay_report *rep, crpc_error **err);

/**
 * Answer a client with the failure reply crpc_replay_serve() sends (type
 * EMPTY, success false, cr_errmsg = errmsg).
 */
int crpc_replay_send_failure(int sk, const char *errmsg, crpc_error **err);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_REPLAY_H */
