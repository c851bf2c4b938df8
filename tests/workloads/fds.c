/*
 * fds DIR: an eventfd, a signalfd, a timerfd and an inotify watch in one
 * process. On SIGUSR1:
 *   eventfd   its counter holds the value set at setup (read, compared,
 *             written back)
 *   signalfd  its mask is still {SIGUSR2, SIGRTMIN+1} (fdinfo); the
 *             SIGRTMIN+1 queued and left pending before is read from it with
 *             its value; a SIGUSR2 sent now is read from it
 *   timerfd   still armed with its 2 s interval; expirations keep coming
 *             (the main loop reads them as they come and writes the count to
 *             DIR/fds.ticks, so that a test can checkpoint right after one:
 *             CRIU restores a periodic timerfd disarmed when an expiration
 *             is pending, unread, at the time of the dump, CRIU issue 3162)
 *   inotify   a file created now in the watched directory is reported, with
 *             the watch descriptor of setup
 */
#include "zoo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EVENTFD_VALUE 0x5eed1234ULL
#define TIMER_S 2

static int efd, sfd, tfd, ifd, wd;
static int token = 1000; /* value of the SIGRTMIN+1 left pending */
static unsigned seq;
static unsigned long long ticks;

static void queue_token(void)
{
	union sigval v = { .sival_int = ++token };

	if (sigqueue(getpid(), SIGRTMIN + 1, v) < 0)
		zoo_die("sigqueue: %s", strerror(errno));
}

/* The signalfd's mask as its fdinfo shows it, e.g. "0000000000000800". */
static bool fdinfo_sigmask(int fd, unsigned long long *mask)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "sigmask: %llx", mask) == 1)
			found = true;
	fclose(f);
	return found;
}

static bool wait_readable(int fd, int timeout_ms)
{
	int64_t end = zoo_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - zoo_now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return true;
		if (r == 0 || (r < 0 && errno != EINTR))
			return false;
	}
}

static void check_eventfd(void)
{
	uint64_t v = 0, back = EVENTFD_VALUE;
	ssize_t n;

	n = read(efd, &v, sizeof(v));
	zoo_check(n == sizeof(v), "eventfd read: %s", n < 0 ? strerror(errno) : "short read");
	zoo_check(v == EVENTFD_VALUE, "eventfd counter is %#llx, expected %#llx", (unsigned long long)v,
		  EVENTFD_VALUE);
	n = write(efd, &back, sizeof(back));
	zoo_check(n == sizeof(back), "eventfd write: %s", n < 0 ? strerror(errno) : "short write");
}

static void check_signalfd(void)
{
	unsigned long long want = (1ULL << (SIGUSR2 - 1)) | (1ULL << (SIGRTMIN + 1 - 1)), mask = 0;
	struct signalfd_siginfo si;
	ssize_t n;

	zoo_check(fdinfo_sigmask(sfd, &mask), "no sigmask in the signalfd's fdinfo");
	zoo_check(mask == want, "signalfd mask is %#llx, expected %#llx", mask, want);
	/* the pending signal queued before (and before the checkpoint) */
	n = read(sfd, &si, sizeof(si));
	if (zoo_check(n == (ssize_t)sizeof(si), "no pending signal on the signalfd: %s",
		      n < 0 ? strerror(errno) : "short read"))
		zoo_check(si.ssi_signo == (uint32_t)(SIGRTMIN + 1) && si.ssi_int == token,
			  "signalfd gave signal %u value %d, expected %d value %d", si.ssi_signo, si.ssi_int,
			  SIGRTMIN + 1, token);
	/* a new one */
	kill(getpid(), SIGUSR2);
	n = read(sfd, &si, sizeof(si));
	if (zoo_check(n == (ssize_t)sizeof(si), "SIGUSR2 sent now is not on the signalfd: %s",
		      n < 0 ? strerror(errno) : "short read"))
		zoo_check(si.ssi_signo == SIGUSR2 && si.ssi_pid == (uint32_t)getpid(),
			  "signalfd gave signal %u from %u, expected SIGUSR2 from %ld", si.ssi_signo,
			  si.ssi_pid, (long)getpid());
	queue_token(); /* pending again for the next round */
}

/* Read the expirations pending, if any; count them in DIR/fds.ticks. */
static void read_ticks(void)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], text[32];
	uint64_t n = 0;
	int fd;

	if (read(tfd, &n, sizeof(n)) != sizeof(n))
		return;
	ticks += n;
	zoo_path(path, sizeof(path), "ticks");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(text, sizeof(text), "%llu\n", ticks);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		zoo_write_all(fd, text, strlen(text));
		close(fd);
		rename(tmp, path);
	}
}

static void check_timerfd(void)
{
	unsigned long long ticks_before = ticks;
	struct itimerspec its;

	if (timerfd_gettime(tfd, &its) < 0) {
		zoo_check(false, "timerfd_gettime: %s", strerror(errno));
		return;
	}
	zoo_check(its.it_interval.tv_sec == TIMER_S && its.it_interval.tv_nsec == 0,
		  "timer interval is %ld.%09ld s, expected %d s", (long)its.it_interval.tv_sec,
		  its.it_interval.tv_nsec, TIMER_S);
	zoo_check(its.it_value.tv_sec != 0 || its.it_value.tv_nsec != 0, "the timer is disarmed");
	zoo_check(its.it_value.tv_sec < TIMER_S ||
			  (its.it_value.tv_sec == TIMER_S && its.it_value.tv_nsec == 0),
		  "next expiration in %ld.%09ld s, more than the interval", (long)its.it_value.tv_sec,
		  its.it_value.tv_nsec);
	/* the next expiration must come within an interval */
	if (zoo_check(wait_readable(tfd, TIMER_S * 1000 + 500), "no timer expiration within %d ms",
		      TIMER_S * 1000 + 500))
		read_ticks();
	zoo_check(ticks > ticks_before, "no timer expiration read");
}

static void check_inotify(void)
{
	char path[PATH_MAX], name[32], buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool seen = false;
	int fd;

	snprintf(name, sizeof(name), "f%u", seq);
	snprintf(path, sizeof(path), "%s/watched/%s", zoo_dir(), name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (!zoo_check(fd >= 0, "create %s: %s", path, strerror(errno)))
		return;
	close(fd);
	while (!seen && wait_readable(ifd, 1000)) {
		ssize_t n = read(ifd, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len && strcmp(ev->name, name) == 0) {
				zoo_check(ev->wd == wd, "inotify event for watch %d, expected %d", ev->wd,
					  wd);
				zoo_check(ev->mask & IN_CREATE, "inotify event mask %#x lacks IN_CREATE",
					  ev->mask);
				seen = true;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	zoo_check(seen, "inotify did not report the creation of %s", path);
	unlink(path);
}

int main(int argc, char **argv)
{
	struct itimerspec its = { .it_interval = { TIMER_S, 0 }, .it_value = { TIMER_S, 0 } };
	char path[PATH_MAX];
	uint64_t v = EVENTFD_VALUE;
	sigset_t set;

	zoo_init("fds", argc, argv);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0 || write(efd, &v, sizeof(v)) != sizeof(v))
		zoo_die("eventfd: %s", strerror(errno));

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN + 1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		zoo_die("sigprocmask: %s", strerror(errno));
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		zoo_die("signalfd: %s", strerror(errno));
	queue_token();

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0)
		zoo_die("timerfd: %s", strerror(errno));

	snprintf(path, sizeof(path), "%s/watched", zoo_dir());
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		zoo_die("mkdir %s: %s", path, strerror(errno));
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		zoo_die("inotify_init1: %s", strerror(errno));
	wd = inotify_add_watch(ifd, path, IN_CREATE);
	if (wd < 0)
		zoo_die("inotify_add_watch %s: %s", path, strerror(errno));

	zoo_ready();
	for (;;) {
		if (zoo_verify_requested()) {
			++seq;
			check_eventfd();
			check_signalfd();
			check_timerfd();
			check_inotify();
			zoo_finish("seq %u timer ticks %llu", seq, ticks);
		}
		if (wait_readable(tfd, 50))
			read_ticks();
	}
}
