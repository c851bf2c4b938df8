/*
 * Shared plumbing of the checkpoint/restore workloads (tests/workloads).
 *
 * Every workload is started as `NAME DIR [ARGS...]`, DIR being the test's
 * private temporary directory. Once set up it writes its PID to
 * DIR/NAME.ready. On SIGUSR1 it checks its own state (kernel objects, peers,
 * counters) and writes one line to DIR/NAME.result, atomically (written
 * aside, then renamed): "ok DETAILS" or "FAIL: REASON". The result file is
 * opened anew each time, so nothing about it is part of a checkpoint.
 */
#ifndef ZOO_H
#define ZOO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Parse `NAME DIR ...`, close every inherited fd but 0-2, install the
 * SIGUSR1 handler, ignore SIGPIPE.
 */
void zoo_init(const char *name, int argc, char **argv);

/* The test's directory (argv[1]). */
const char *zoo_dir(void);

/* Format DIR/NAME.SUFFIX (or DIR/SUFFIX when SUFFIX starts with '/') into buf. */
void zoo_path(char *buf, size_t size, const char *suffix);

/* Write "PID\n" to DIR/NAME.ready. */
void zoo_ready(void);

/* True once per SIGUSR1 received since the last call. */
bool zoo_verify_requested(void);

/* Sleep for ms milliseconds; returns early when a signal arrives. */
void zoo_sleep_ms(int ms);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t zoo_now_ms(void);

/*
 * A verification round: zoo_check() records the first failed condition,
 * zoo_finish() writes "ok DETAILS" (the printf-style arguments) or the
 * first failure to DIR/NAME.result and starts a new round.
 */
bool zoo_check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool zoo_failed(void);
/* Copy the first failure of the round into buf and start a new round. */
bool zoo_take_failure(char *buf, size_t size);
void zoo_finish(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The end of the setup: when a zoo_check() of it failed, that failure as
 * the first result (and no ready file), else zoo_ready().
 */
void zoo_setup_done(void);

/* Report a setup error on stderr and in DIR/NAME.result, then exit 1. */
void zoo_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Write all of buf; -1 with errno on failure. EINTR is retried. */
int zoo_write_all(int fd, const void *buf, size_t len);

/*
 * Read one '\n'-terminated line (without the '\n') into buf within
 * timeout_ms, byte by byte so that nothing after the line is consumed.
 * Returns the length, or -1 with errno (ETIMEDOUT, EMSGSIZE, ECONNRESET for
 * end of file, or the read error).
 */
ssize_t zoo_read_line(int fd, char *buf, size_t size, int timeout_ms);

/*
 * The ping/pong exchange with a peer (zoo_peer, or the other end inside the
 * tree): send "ping SEQ\n" on wfd, expect "pong SEQ COUNT\n" on rfd, where
 * COUNT is how many pings the peer has answered, which must be SEQ as well.
 * Records a failed check (zoo_check) and returns false when anything
 * differs.
 */
bool zoo_ping(int rfd, int wfd, unsigned seq, int timeout_ms);

/*
 * The answering side: read one "ping SEQ" line within timeout_ms; answer
 * "pong SEQ COUNT" with COUNT = ++*count, or "pong SEQ bad expected N" when
 * SEQ is not *count + 1. Returns 1 when a ping was answered, 0 on timeout,
 * -1 when the connection is broken.
 */
int zoo_pong(int fd, unsigned *count, int timeout_ms);

#endif
