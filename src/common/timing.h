/* SPDX-License-Identifier: MIT */
/*
 * timing.h - CRPC_TIMING=1: each phase of a command's critical path with
 * its start and length on stderr (timing.c), for finding where a dump's or
 * a restore's time goes. Private: not installed; the tool and the library
 * share it.
 */
#ifndef CRPC_TIMING_H
#define CRPC_TIMING_H

#include <stdbool.h>

/* Whether CRPC_TIMING is set to a value other than "" and "0". */
bool crpc__timing_on(void);

/* CLOCK_MONOTONIC in seconds (the phases' clock). */
double crpc__timing_now(void);

/*
 * One phase that began at start (crpc__timing_now()) and ends now:
 * "crpc: timing: PHASE  +START ms  LENGTH ms", START counted from when the
 * program's libraries were loaded (before main()). Nothing when timing is off.
 */
void crpc__timing(const char *phase, double start);

/* A moment rather than a phase ("DUMP request sent"): its time only. */
void crpc__timing_mark(const char *what);

#endif
