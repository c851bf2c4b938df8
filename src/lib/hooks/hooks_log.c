/* SPDX-License-Identifier: MIT */
/*
 * hooks_log.c - the hook runner's hooks.log and verbose stream: one line per
 * event or line of a step's output, time-stamped, control characters
 * replaced so that a step cannot drive a terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crpc/hooks.h"
#include "hooks_int.h"
#include "internal.h"

/* Append to buf at *pos, never past sz (the result stays NUL-terminated). */
void __attribute__((format(printf, 4, 5))) hk_bprintf(char *buf, size_t sz, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= sz)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, sz - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*pos = (size_t)n >= sz - *pos ? sz - 1 : *pos + (size_t)n;
}

/* ------------------------------------------------------------------------ */
/* hooks.log and the verbose stream                                         */

static void wall_time(char *buf, size_t sz)
{
	struct timespec ts;
	struct tm tm;
	size_t k;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!localtime_r(&ts.tv_sec, &tm)) {
		snprintf(buf, sz, "%lld", (long long)ts.tv_sec);
		return;
	}
	k = strftime(buf, sz, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + k, sz - k, ".%03ld", ts.tv_nsec / 1000000L);
}

/* Control characters (but tabs) become '?': a step cannot drive a terminal. */
size_t hk_sanitize(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	return len;
}

/* One line of hooks.log: "[time] callback step: text" ("[time] callback: text"). */
static void log_text(const crpc_hook_runner *r, const char *cb, const char *step, const char *text,
		     size_t len)
{
	char line[LINE_MAX_BYTES + 512];
	char ts[64];
	size_t pos = 0;

	if (r->log_fd < 0)
		return;
	wall_time(ts, sizeof(ts));
	/* names are bounded so that the prefix always fits */
	hk_bprintf(line, sizeof(line), &pos, "[%.63s] %.64s%s%.200s: ", ts, cb, step ? " " : "",
		   step ? step : "");
	if (len > sizeof(line) - pos - 1)
		len = sizeof(line) - pos - 1;
	pos += hk_sanitize(line + pos, text, len);
	line[pos++] = '\n';
	(void)io_write_full(r->log_fd, line, pos);
}

void __attribute__((format(printf, 4, 5)))
hk_log_event(const crpc_hook_runner *r, const char *cb, const char *step, const char *fmt, ...)
{
	char buf[LINE_MAX_BYTES];
	va_list ap;
	int n;

	if (r->log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	log_text(r, cb, step, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* A line of a step's output: to hooks.log, and to the verbose stream. */
void hk_output_line(const crpc_hook_runner *r, const char *cb, const char *step, const char *text, size_t len)
{
	log_text(r, cb, step, text, len);
	if (r->verbose) {
		char clean[LINE_MAX_BYTES];

		if (len > sizeof(clean))
			len = sizeof(clean);
		hk_sanitize(clean, text, len);
		fprintf(r->verbose, "crpc: hook %s/%s: %.*s\n", cb, step, (int)len, clean);
		fflush(r->verbose);
	}
}
