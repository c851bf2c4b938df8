/*
 * lock DIR: holds an flock() lock on DIR/flock.lck and a POSIX (fcntl)
 * write lock on bytes 100-199 of DIR/posix.lck. On SIGUSR1 a short-lived
 * child opens both files anew and must fail to take either lock, and
 * F_GETLK must name this process as the owner of the POSIX lock.
 */
#include "zoo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child: 0 when both locks are held by someone else, else a code. */
static int probe(const char *fpath, const char *ppath, pid_t owner)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 150, .l_len = 10 };
	int f = open(fpath, O_RDWR | O_CLOEXEC), p = open(ppath, O_RDWR | O_CLOEXEC);

	if (f < 0 || p < 0)
		return 10;
	if (flock(f, LOCK_EX | LOCK_NB) == 0)
		return 11; /* took the flock: nobody held it */
	if (errno != EWOULDBLOCK)
		return 12;
	if (fcntl(p, F_SETLK, &fl) == 0)
		return 13; /* took the POSIX lock */
	if (errno != EAGAIN && errno != EACCES)
		return 14;
	fl.l_type = F_WRLCK;
	if (fcntl(p, F_GETLK, &fl) < 0)
		return 15;
	if (fl.l_type != F_WRLCK || fl.l_pid != owner || fl.l_start != 100 || fl.l_len != 100)
		return 16;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const why[] = {
		[10] = "cannot open the lock files",
		[11] = "the flock lock is not held",
		[12] = "flock probe failed",
		[13] = "the POSIX lock is not held",
		[14] = "fcntl probe failed",
		[15] = "F_GETLK failed",
		[16] = "F_GETLK shows another lock or owner",
	};
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 100 };
	char fpath[PATH_MAX], ppath[PATH_MAX];
	unsigned seq = 0;
	int f, p;

	zoo_init("lock", argc, argv);
	zoo_path(fpath, sizeof(fpath), "/flock.lck");
	zoo_path(ppath, sizeof(ppath), "/posix.lck");
	f = open(fpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	p = open(ppath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0 || p < 0)
		zoo_die("open lock files: %s", strerror(errno));
	if (flock(f, LOCK_EX | LOCK_NB) < 0)
		zoo_die("flock %s: %s", fpath, strerror(errno));
	if (fcntl(p, F_SETLK, &fl) < 0)
		zoo_die("F_SETLK %s: %s", ppath, strerror(errno));
	zoo_ready();
	for (;;) {
		if (zoo_verify_requested()) {
			pid_t self = getpid(), child;
			int status = 0;

			++seq;
			child = fork();
			if (child == 0)
				_exit(probe(fpath, ppath, self));
			if (zoo_check(child > 0, "fork: %s", strerror(errno))) {
				while (waitpid(child, &status, 0) < 0 && errno == EINTR)
					;
				if (WIFEXITED(status) && WEXITSTATUS(status) < sizeof(why) / sizeof(why[0]) &&
				    why[WEXITSTATUS(status)])
					zoo_check(false, "%s", why[WEXITSTATUS(status)]);
				else
					zoo_check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
						  "probe ended with status %#x", status);
			}
			zoo_finish("seq %u", seq);
		}
		zoo_sleep_ms(50);
	}
}
