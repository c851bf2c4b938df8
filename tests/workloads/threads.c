/*
 * threads DIR: a process with 4 threads besides the main one, each
 * counting in its own slot and blocking its own signal (SIGRTMIN+2+i).
 * On SIGUSR1: the thread IDs in /proc/self/task are those of setup, each
 * thread's blocked signals are its own, and every counter advances.
 */
#include "zoo.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 4

static atomic_ulong counters[NTHREADS];
static atomic_int tids[NTHREADS];
static atomic_int broken = -1; /* a thread whose own stack state went wrong */

static void *worker(void *arg)
{
	int i = (int)(intptr_t)arg;
	volatile unsigned long mine = 0; /* on this thread's stack */
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1); /* the main thread handles verification */
	sigaddset(&set, SIGRTMIN + 2 + i);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	atomic_store(&tids[i], (int)syscall(SYS_gettid));
	for (;;) {
		mine++;
		atomic_fetch_add(&counters[i], 1);
		if (atomic_load(&counters[i]) != mine)
			atomic_store(&broken, i);
		zoo_sleep_ms(10);
	}
	return NULL;
}

/* SigBlk of one thread, from /proc/self/task/TID/status. */
static bool sigblk(int tid, unsigned long long *mask)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", mask) == 1)
			found = true;
	fclose(f);
	return found;
}

static void verify(unsigned seq)
{
	unsigned long before[NTHREADS];
	int main_tid = (int)syscall(SYS_gettid), seen = 0, other = 0;
	struct dirent *de;
	DIR *d;

	for (int i = 0; i < NTHREADS; i++)
		before[i] = atomic_load(&counters[i]);
	d = opendir("/proc/self/task");
	if (zoo_check(d != NULL, "opendir /proc/self/task: %s", strerror(errno))) {
		while ((de = readdir(d))) {
			int tid = atoi(de->d_name), known = tid == main_tid;

			if (de->d_name[0] == '.')
				continue;
			for (int i = 0; i < NTHREADS; i++)
				known |= tid == atomic_load(&tids[i]);
			if (known)
				seen++;
			else
				other = tid;
		}
		closedir(d);
	}
	zoo_check(other == 0, "unknown thread %d in /proc/self/task", other);
	zoo_check(seen == NTHREADS + 1, "%d of the %d threads of setup are there", seen, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++) {
		unsigned long long mask = 0, want = 1ULL << (SIGRTMIN + 2 + i - 1);

		if (zoo_check(sigblk(atomic_load(&tids[i]), &mask), "no SigBlk for thread %d", tids[i]))
			zoo_check((mask & ~(1ULL << (SIGUSR1 - 1))) == want,
				  "thread %d blocks %#llx, expected %#llx (and SIGUSR1)", tids[i], mask,
				  want);
	}
	zoo_check(atomic_load(&broken) < 0, "thread %d lost its own count", atomic_load(&broken));
	zoo_sleep_ms(200);
	for (int i = 0; i < NTHREADS; i++)
		zoo_check(atomic_load(&counters[i]) > before[i], "thread %d (tid %d) does not count: %lu", i,
			  tids[i], before[i]);
	zoo_finish("seq %u counters %lu %lu %lu %lu", seq, atomic_load(&counters[0]),
		   atomic_load(&counters[1]), atomic_load(&counters[2]), atomic_load(&counters[3]));
}

int main(int argc, char **argv)
{
	unsigned seq = 0;

	zoo_init("threads", argc, argv);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_t t;
		int e = pthread_create(&t, NULL, worker, (void *)(intptr_t)i);

		if (e)
			zoo_die("pthread_create: %s", strerror(e));
	}
	for (int i = 0; i < NTHREADS; i++)
		while (atomic_load(&tids[i]) == 0 || atomic_load(&counters[i]) == 0)
			zoo_sleep_ms(5);
	zoo_ready();
	for (;;) {
		if (zoo_verify_requested())
			verify(++seq);
		zoo_sleep_ms(50);
	}
}
