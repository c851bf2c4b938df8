/* SPDX-License-Identifier: MIT */
/*
 * timing.c - CRPC_TIMING=1: phases and moments of a command on stderr.
 *
 * The origin is taken by a constructor, that is once the dynamic linker
 * has loaded and relocated the program's libraries and before main():
 * what comes before it (exec, dynamic linking) is LD_DEBUG=statistics'.
 * One line per phase is written with a single write(2), so lines from the
 * threads of a dump do not mix.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static double origin;
static int on = -1;

double crpc__timing_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((constructor)) static void timing_origin(void)
{
	const char *v = getenv("CRPC_TIMING");

	origin = crpc__timing_now();
	on = v && *v && strcmp(v, "0") != 0;
}

bool crpc__timing_on(void)
{
	if (on < 0) /* a program that ran no constructors of ours */
		timing_origin();
	return on;
}

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	/* stderr is unbuffered; one write keeps the line whole; a short write loses only timing */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void crpc__timing(const char *phase, double start)
{
	double now;

	if (!crpc__timing_on())
		return;
	now = crpc__timing_now();
	put("crpc: timing: %-44s +%8.2f ms %8.2f ms\n", phase, (start - origin) * 1e3, (now - start) * 1e3);
}

void crpc__timing_mark(const char *what)
{
	if (!crpc__timing_on())
		return;
	put("crpc: timing: %-44s +%8.2f ms\n", what, (crpc__timing_now() - origin) * 1e3);
}
