/* SPDX-License-Identifier: MIT */
/*
 * parse.h - values given as text by the configuration and the command line
 * alike (parse.c). Private: not installed. Each fails with -1 and a
 * CRPC_EXIT_USAGE error naming the value and what was expected.
 */
#ifndef CRPC_PARSE_H
#define CRPC_PARSE_H

#include <stdint.h>

#include "crpc/error.h"
#include "crpc/opts.h"

/*
 * A size such as "1048576", "512K", "10M", "1G" (binary units, an optional
 * trailing "B"/"iB") in bytes, at most max.
 */
int crpc__parse_size(const char *s, uint64_t max, uint64_t *out, crpc_error **err);

/*
 * A duration in milliseconds: "500ms", "2s", "1m", "1h", "1.5s", or a plain
 * number of seconds. Refuses negative, empty and overflowing values.
 */
int crpc__parse_duration(const char *s, unsigned *ms, crpc_error **err);

/* "none|props|soft|full|strict|ignore|default" (or NULL: CRIU's default mode). */
int crpc__parse_cg_mode(const char *s, crpc_cg_mode *out, crpc_error **err);

/* "iptables|nftables|skip". */
int crpc__parse_network_lock(const char *s, crpc_network_lock *out, crpc_error **err);

#endif /* CRPC_PARSE_H */
