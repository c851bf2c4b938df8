/* SPDX-License-Identifier: MIT */
/*
 * crpc/trace.h - record every message of a session as JSON lines.
 *
 * A trace file holds one JSON object per line. The first line is a header
 * ({"type":"header", crpc version, operation, target, argv}); once the
 * session knows its CRIU, a {"type":"criu", path, version} line follows.
 * Then each message to or from CRIU is one {"type":"message", ...} line:
 * sequence number, monotonic and wall clock times, direction, time since
 * the previous message, the message decoded field by field with the names
 * of proto/rpc.proto, the raw bytes in base64 and any fd passed with it.
 * Things that happened between messages and are no message themselves (a
 * hook that failed, a reply that was changed or written by crpc itself)
 * are {"type":"event", ...} lines (crpc_trace_event()).
 *
 * Every line is written with one write(2), so a crash leaves only whole
 * lines behind.
 *
 * Typical use:
 *
 *     crpc_trace *t = NULL;
 *     crpc_trace_header h = { .operation = "dump", .argc = argc, .argv = argv };
 *     if (crpc_trace_open(&t, "dump.trace", &h, &err) < 0) ...
 *     crpc_session_config cfg = { .on_message = crpc_trace_message, .on_message_data = t };
 *     ... crpc_session_open(&s, &cfg, &err) ...
 *     crpc_trace_set_criu(t, crpc_session_criu_path(s), "4.2");
 *     ...
 *     crpc_session_close(s);
 *     crpc_trace_close(t);
 */
#ifndef CRPC_TRACE_H
#define CRPC_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "crpc/error.h"
#include "crpc/session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crpc_trace crpc_trace;

/** What the header line says. Every member may be NULL / 0. */
typedef struct crpc_trace_header {
	const char *operation; /**< "dump", "restore", ... */
	const char *target;    /**< pid or directory the operation is about */
	int argc;              /**< command line, recorded as an array */
	char *const *argv;
} crpc_trace_header;

/**
 * Create (or truncate) the trace file `path` with mode 0600 and write the
 * header line. Fails with CRPC_EXIT_USAGE naming the file when it cannot
 * be created or written.
 */
int crpc_trace_open(crpc_trace **out, const char *path, const crpc_trace_header *hdr, crpc_error **err);

/**
 * Record which CRIU the session runs: a {"type":"criu","path","version"}
 * line. Either may be NULL. NULL trace is fine.
 */
void crpc_trace_set_criu(crpc_trace *t, const char *criu_path, const char *criu_version);

/**
 * Record one message (a crpc_message_fn: pass it as
 * crpc_session_config.on_message with the trace as on_message_data).
 * Messages to CRIU are decoded as criu_req, messages from CRIU as
 * criu_resp; one that does not decode is recorded with "decode_error" and
 * its raw bytes. Never fails the session: write errors are remembered
 * (see crpc_trace_write_errno()).
 */
void crpc_trace_message(crpc_direction dir, const uint8_t *msg, size_t len, int fd, void *trace);

/**
 * Record something that happened in the session and is not a message: a
 * {"type":"event"} line with "mono" and "wall" as message lines have,
 * "since_prev_us" (the time since the previous message, or the header: an
 * event does not change the "since_prev_us" of the message after it), then
 * "event" (its name), "callback" (the notification it belongs to, or null)
 * and "text" (what happened, or null). Events do not count as messages:
 * they take no "seq". The names crpc writes:
 *
 * - "hook-failed": a hook failed at notification `callback`, so CRIU was
 *   answered with failure; `text` is the hook's reason.
 * - "reply-rewritten": CRIU's final reply was changed before the client got
 *   it; `text` is the cr_errmsg the client got, `callback` the notification
 *   whose hook failed.
 * - "shim-reply": the shim answered the client with a failure reply of its
 *   own; `text` is "TYPE: message" (TYPE the request type name, "DUMP").
 *
 * `event` NULL records nothing; NULL trace is fine. Never fails, as
 * crpc_trace_message() does not.
 */
void crpc_trace_event(crpc_trace *t, const char *event, const char *callback, const char *text);

/**
 * Describe one raw message in a line for people watching a session (-v):
 * "-> DUMP pid=42 notify opts=7 (118 B)", "<- NOTIFY post-dump",
 * "<- DUMP FAILED errno=ESRCH: ...". Writes at most `bufsz` bytes including
 * the NUL and returns the length written. Never fails: a message that does
 * not decode is called undecodable.
 */
size_t crpc_message_summary(crpc_direction dir, const uint8_t *msg, size_t len, int fd, char *buf,
			    size_t bufsz);

/** Number of messages recorded so far. */
unsigned long crpc_trace_count(const crpc_trace *t);

/** The errno of the first line that could not be written, 0 if none did fail. */
int crpc_trace_write_errno(const crpc_trace *t);

/** Close the file and free the trace. NULL is fine. */
void crpc_trace_close(crpc_trace *t);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_TRACE_H */
