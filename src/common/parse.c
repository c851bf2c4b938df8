/* SPDX-License-Identifier: MIT */
/*
 * parse.c - the values the configuration and the command line both give as
 * text: sizes, durations, the cgroup mode, the network lock method.
 * Compiled into the library; the tool reaches it through
 * src/common/parse.h, never through a library header.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "crpc/error.h"
#include "crpc/opts.h"
#include "parse.h"

int crpc__parse_size(const char *s, uint64_t max, uint64_t *out, crpc_error **err)
{
	const char *p = s;
	uint64_t value = 0, mult = 1;

	if (!s || !isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (value > (UINT64_MAX - d) / 10)
			goto too_big;
		value = value * 10 + d;
	}
	switch (toupper((unsigned char)*p)) {
	case '\0':
		break;
	case 'K':
		mult = 1ull << 10;
		p++;
		break;
	case 'M':
		mult = 1ull << 20;
		p++;
		break;
	case 'G':
		mult = 1ull << 30;
		p++;
		break;
	case 'T':
		mult = 1ull << 40;
		p++;
		break;
	case 'B':
		break;
	default:
		goto bad;
	}
	/* accept "10M", "10MB", "10MiB", "100B" */
	if (mult > 1 && (*p == 'i' || *p == 'I') && toupper((unsigned char)p[1]) == 'B')
		p += 2;
	else if (toupper((unsigned char)*p) == 'B')
		p++;
	if (*p)
		goto bad;
	if (value > UINT64_MAX / mult)
		goto too_big;
	value *= mult;
	if (value > max)
		goto too_big;
	*out = value;
	return 0;
bad:
	return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "options",
			      "invalid size '%s': expected a number with an optional unit K, M, G or T "
			      "(e.g. 512K, 10M)",
			      s ? s : "");
too_big:
	return crpc_error_set(err, CRPC_EXIT_USAGE, ERANGE, "options",
			      "size '%s' is too large (at most %" PRIu64 " bytes)", s, max);
}

int crpc__parse_duration(const char *s, unsigned *ms, crpc_error **err)
{
	uint64_t ip = 0, frac = 0, fdiv = 1, unit, total, num;
	const char *p = s;
	unsigned nfrac = 0;

	if (!s || !isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		ip = ip * 10 + (uint64_t)(*p - '0');
		if (ip > UINT_MAX)
			goto too_long;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		for (; isdigit((unsigned char)*p); p++) {
			if (++nfrac > 9)
				goto bad;
			frac = frac * 10 + (uint64_t)(*p - '0');
			fdiv *= 10;
		}
	}
	if (*p == '\0' || strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		unit = 60 * 60 * 1000;
	else
		goto bad;
	/* ip <= UINT_MAX and unit <= 3.6e6: no overflow in 64 bits */
	total = ip * unit;
	/* the fraction is rounded up to a whole millisecond */
	num = frac * unit;
	total += num / fdiv + (num % fdiv ? 1 : 0);
	if (total > UINT_MAX)
		goto too_long;
	*ms = (unsigned)total;
	return 0;
bad:
	return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
			      "invalid duration '%s': expected a number with an optional unit ms, "
			      "s, m or h (e.g. 500ms, 2s, 1.5m); a plain number is seconds",
			      s ? s : "");
too_long:
	return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
			      "duration '%s' is too long (at most %u ms, about 49 days)", s, UINT_MAX);
}

int crpc__parse_cg_mode(const char *s, crpc_cg_mode *out, crpc_error **err)
{
	if (!s) {
		*out = CRPC_CG_UNSET;
		return 0;
	}
	for (int m = CRPC_CG_IGNORE; m <= CRPC_CG_DEFAULT; m++)
		if (strcasecmp(s, crpc_cg_mode_name((crpc_cg_mode)m)) == 0) {
			*out = (crpc_cg_mode)m;
			return 0;
		}
	return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "options",
			      "invalid cgroup mode '%s': expected none, props, soft, full, strict, "
			      "ignore or default",
			      s);
}

int crpc__parse_network_lock(const char *s, crpc_network_lock *out, crpc_error **err)
{
	for (int m = CRPC_NETLOCK_IPTABLES; s && m <= CRPC_NETLOCK_SKIP; m++)
		if (strcasecmp(s, crpc_network_lock_name((crpc_network_lock)m)) == 0) {
			*out = (crpc_network_lock)m;
			return 0;
		}
	return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "options",
			      "invalid network lock method '%s': expected iptables, nftables or skip",
			      s ? s : "");
}
