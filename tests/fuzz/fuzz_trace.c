/* SPDX-License-Identifier: MIT */
/*
 * fuzz_trace.c - a trace file (JSON lines, see crpc/trace.h): read with
 * crpc_trace_file_read(), every record, event and problem looked at,
 * crpc_replay_check(), and the replay's per-message work on the recorded
 * raw bytes (summary, field-by-field compare with the next message of the
 * same direction).
 */
#include <string.h>

#include "crpc/crpc.h"
#include "crpc/replay.h"
#include "crpc/trace.h"
#include "fuzz_common.h"
#include "trace/pbdiff.h"

static size_t fz_len(const char *s)
{
	return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[128];
	crpc_trace_file *t = NULL;
	crpc_error *err = NULL;
	size_t n, sum = 0;
	int dirfd = fz_dir();

	if (!path[0])
		snprintf(path, sizeof(path), "%s/fuzz.trace", fz_dir_path);
	fz_write_at(dirfd, "fuzz.trace", data, size);
	if (crpc_trace_file_read(&t, path, &err) < 0) {
		fz_drop_error(&err);
		return 0;
	}
	sum += fz_len(crpc_trace_file_path(t)) + fz_len(crpc_trace_file_header(t)) +
	       fz_len(crpc_trace_file_criu(t)) + fz_len(crpc_trace_file_truncated(t));
	for (size_t i = 0; i < crpc_trace_file_problem_count(t); i++)
		sum += fz_len(crpc_trace_file_problem(t, i)->error);
	for (size_t i = 0; i < crpc_trace_file_event_count(t); i++) {
		const crpc_trace_event_record *e = crpc_trace_file_event(t, i);

		sum += fz_len(e->event) + fz_len(e->callback) + fz_len(e->text) + fz_len(e->json);
	}
	if (crpc_trace_file_event(t, crpc_trace_file_event_count(t)))
		abort();
	n = crpc_trace_file_count(t);
	if (crpc_trace_file_record(t, n))
		abort();
	for (size_t i = 0; i < n; i++) {
		const crpc_trace_record *r = crpc_trace_file_record(t, i);
		char line[200];

		sum += fz_len(r->msg_type) + fz_len(r->json);
		if (!r->raw && r->raw_len)
			abort();
		crpc_message_summary(r->dir, r->raw, r->raw_len, r->fd, line, sizeof(line));
		for (size_t j = i + 1; j < n; j++) {
			const crpc_trace_record *o = crpc_trace_file_record(t, j);
			crpc_replay_diff diff;

			if (o->dir != r->dir)
				continue;
			crpc__replay_compare(r->dir, r->raw, r->raw_len, o->raw, o->raw_len,
					     crpc_replay_default_ignore, 5, &diff);
			break;
		}
	}
	if (crpc_replay_check(t, &err) < 0)
		fz_drop_error(&err);
	crpc_trace_file_free(t);
	(void)sum;
	return 0;
}
