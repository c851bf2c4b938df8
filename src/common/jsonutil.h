/* SPDX-License-Identifier: MIT */
/*
 * jsonutil.h - JSON values both libcrpc (the manifest) and the crpc tool
 * build the same way. Private: not installed.
 */
#ifndef CRPC_JSONUTIL_H
#define CRPC_JSONUTIL_H

#include <jansson.h>

/*
 * A JSON string for s (json null for NULL). Text that is not UTF-8 (file
 * names, CRIU's log lines) is kept with such bytes and control characters
 * other than newline and tab replaced by '?'. NULL only on ENOMEM.
 */
json_t *crpc__json_text(const char *s);

/*
 * An option's value as recorded in text: "true"/"false" become booleans,
 * plain decimal numbers integers, anything else a string (NULL: null).
 */
json_t *crpc__json_option_value(const char *v);

#endif /* CRPC_JSONUTIL_H */
