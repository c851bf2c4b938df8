/* SPDX-License-Identifier: MIT */
/*
 * pbdiff.h - compare two protobuf-c messages of the same type field by
 * field, through their descriptors, and name the first difference.
 *
 * Private to libcrpc and its unit tests (it works on protobuf-c types,
 * which the public headers do not expose). crpc__replay_compare() (replay.c)
 * compares packed messages with it.
 */
#ifndef CRPC_PBDIFF_H
#define CRPC_PBDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "crpc/replay.h"

/* Longest field path and value text kept; longer ones are cut with "...". */
#define CRPC__PB_PATH_MAX 256
#define CRPC__PB_TEXT_MAX 256

/* The first difference found. */
typedef struct crpc__pb_difference {
	/*
	 * Path of the field: .proto names joined with '.', "[i]" for an
	 * element of a repeated field ("opts.external[1]"), "#N" for a field
	 * this build does not know ("opts.#72").
	 */
	char path[CRPC__PB_PATH_MAX];
	char expected[CRPC__PB_TEXT_MAX]; /* value in the first message, "(not set)" when absent */
	char actual[CRPC__PB_TEXT_MAX];   /* value in the second */
} crpc__pb_difference;

/*
 * Compare `expected` and `actual` (same descriptor) and every message nested
 * in them: scalar values, strings, bytes, enums (shown by name), presence
 * of optional fields, repeated fields element by element, then their
 * lengths, and unknown fields (number, wire type and bytes). Fields whose
 * path matches an entry of `ignore` (see crpc__pb_path_ignored()) are
 * skipped. Returns 0 when equal, 1 when they differ (*out describes the
 * first difference in field order), -1 when the descriptors differ.
 */
int crpc__pb_diff(const ProtobufCMessage *expected, const ProtobufCMessage *actual,
		  const char *const *ignore, size_t n_ignore, crpc__pb_difference *out);

/*
 * Does `path` match one of the patterns? A pattern matches the path with
 * or without its "[i]" indices ("opts.inherit_fd.fd" matches
 * "opts.inherit_fd[2].fd"), and everything under it ("opts.ps" matches
 * "opts.ps.fd").
 */
bool crpc__pb_path_ignored(const char *path, const char *const *ignore, size_t n_ignore);

/*
 * Is `path` a field of messages of type `desc` (indices and "#N" allowed)?
 * On false, buf says what is wrong with it.
 */
bool crpc__pb_path_valid(const ProtobufCMessageDescriptor *desc, const char *path, char *buf, size_t bufsz);

/* replay.c: */
/*
 * Compare two packed messages: criu_req when dir is CRPC_TO_CRIU, else
 * criu_resp. Fields covered by `ignore` (n_ignore patterns, see
 * crpc_replay_field_check()) are skipped; the default ignore list is not
 * added here. Returns 0 when they are equal, 1 when they differ (*diff
 * says where; a message that does not decode gives an empty field and says
 * so in its value), -1 on bad arguments.
 */
int crpc__replay_compare(crpc_direction dir, const uint8_t *recorded, size_t recorded_len,
			 const uint8_t *received, size_t received_len, const char *const *ignore,
			 size_t n_ignore, crpc_replay_diff *diff);

#endif /* CRPC_PBDIFF_H */
