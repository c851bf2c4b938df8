/* SPDX-License-Identifier: MIT */
/*
 * bench_notify - what crpc adds per CRIU notification.
 *
 * 1. Notify round trip without hooks: a peer thread plays CRIU's side of a
 *    swrk socket and sends NOTIFY messages; each one goes through crpc's
 *    receive, decode, dispatcher and acknowledgement path. The time from
 *    sending a notification to reading its answer is measured.
 * 2. One trivial hook step: crpc_hook_runner_notify() with `run: [/bin/true]`,
 *    next to a bare fork+exec+wait and a bare posix_spawn+wait of /bin/true.
 *
 * Prints the median and the 90th percentile of each in microseconds.
 * Usage: bench_notify [-n ROUNDS]   (not a test: goals live in docs/benchmarks.md)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

static int rounds = 2000;
static double *rtt;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n, double goal_us)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%-36s median %9.1f us   p90 %9.1f us   (goal <= %.0f us, n=%d)\n", what, v[n / 2] * 1e6,
	       v[n * 9 / 10] * 1e6, goal_us, n);
}

static ssize_t send_packed(int sk, const CriuResp *r)
{
	uint8_t buf[256];
	size_t len = criu_resp__pack(r, buf);

	return send(sk, buf, len, MSG_NOSIGNAL);
}

/* CRIU's side: notifications, one at a time, then the final DUMP reply. */
static void *peer(void *arg)
{
	int sk = *(int *)arg;
	CriuNotify n = CRIU_NOTIFY__INIT;
	CriuResp r = CRIU_RESP__INIT;
	uint8_t buf[1024];

	n.script = (char *)"post-dump";
	r.type = CRIU_REQ_TYPE__NOTIFY;
	r.success = 1;
	r.notify = &n;
	if (recv(sk, buf, sizeof(buf), 0) <= 0) /* the DUMP request */
		return NULL;
	for (int i = 0; i < rounds; i++) {
		double t0 = crpc__now();

		if (send_packed(sk, &r) < 0 || recv(sk, buf, sizeof(buf), 0) <= 0)
			return NULL;
		rtt[i] = crpc__now() - t0;
	}
	r.type = CRIU_REQ_TYPE__DUMP;
	r.notify = NULL;
	send_packed(sk, &r);
	return NULL;
}

static int nothing(crpc_notify *n, void *ud, crpc_error **err)
{
	(void)n;
	(void)ud;
	(void)err;
	return 0;
}

static int bench_roundtrip(void)
{
	crpc_session s = { 0 };
	crpc_dispatcher *d = crpc_dispatcher_new();
	CriuReq req = CRIU_REQ__INIT;
	CriuOpts opts = CRIU_OPTS__INIT;
	CriuResp *out = NULL;
	crpc_error *err = NULL;
	pthread_t th;
	int sv[2];

	if (!d || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	crpc_dispatcher_add(d, "listener", nothing, NULL);
	s.sk = sv[0];
	s.out_fd = -1;
	s.criu_pid = 0;
	s.criu_pidfd = -1; /* no worker process to watch */
	s.criu_path = (char *)"in-process peer";
	req.type = CRIU_REQ_TYPE__DUMP;
	req.opts = &opts;
	pthread_create(&th, NULL, peer, &sv[1]);
	if (crpc__session_call(&s, &req, d, "dump", NULL, &out, &err) < 0) {
		fprintf(stderr, "bench: %s\n", err && err->message ? err->message : "failed");
		return -1;
	}
	pthread_join(th, NULL);
	criu_resp__free_unpacked(out, NULL);
	crpc_dispatcher_free(d);
	close(sv[0]);
	close(sv[1]);
	report("notify round trip, no hooks", rtt, rounds, 100);
	return 0;
}

/* One step through the hook runner: `run: [/bin/true]`, or `shell: true` (what --hook gives). */
static int bench_hook(int n, bool shell)
{
	char dir[] = "/tmp/crpc-bench.XXXXXX";
	char *argv[] = { (char *)"/bin/true", NULL };
	crpc_hook_step step = { .name = (char *)"true",
				.kind = shell ? CRPC_STEP_SHELL : CRPC_STEP_RUN,
				.argv = shell ? NULL : argv,
				.shell = shell ? (char *)"true" : NULL,
				.timeout_ms = 10000,
				.origin = (char *)"bench" };
	crpc_hooks hooks = { 0 };
	crpc_hook_context ctx = { .size = sizeof(ctx), .operation = "dump", .pid = getpid() };
	crpc_hook_runner *r = NULL;
	crpc_error *err = NULL;
	double *t = calloc((size_t)n, sizeof(*t));
	int dirfd;

	if (!t || !mkdtemp(dir))
		return -1;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ctx.images_dir = dir;
	ctx.images_dir_fd = dirfd;
	hooks.steps[CRPC_NOTIFY_POST_DUMP] = &step;
	hooks.n_steps[CRPC_NOTIFY_POST_DUMP] = 1;
	if (crpc_hook_runner_new(&r, &hooks, &ctx, &err) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		crpc_notify note = { .kind = CRPC_NOTIFY_POST_DUMP,
				     .name = "post-dump",
				     .fd = -1,
				     .operation = "dump" };
		double t0 = crpc__now();

		if (crpc_hook_runner_notify(&note, r, &err) < 0) {
			fprintf(stderr, "bench: hook failed: %s\n", err ? err->message : "?");
			return -1;
		}
		t[i] = crpc__now() - t0;
	}
	crpc_hook_runner_free(r);
	unlinkat(dirfd, "hooks.log", 0);
	close(dirfd);
	rmdir(dir);
	report(shell ? "one `shell: true` step" : "one `run: [/bin/true]` step", t, n, 2000);
	free(t);
	return 0;
}

/* The floor a step cannot beat on this machine: fork, exec and wait, bare. */
static int bench_bare(int n)
{
	double *t = calloc((size_t)n, sizeof(*t));

	if (!t)
		return -1;
	for (int i = 0; i < n; i++) {
		double t0 = crpc__now();
		pid_t pid = fork();

		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			return -1;
		t[i] = crpc__now() - t0;
	}
	report("bare fork+exec+wait of /bin/true", t, n, 2000);
	free(t);
	return 0;
}

/* The same with posix_spawn() (glibc: clone(CLONE_VM|CLONE_VFORK), no page-table copy). */
static int bench_bare_spawn(int n, bool shell)
{
	char *argv[] = { (char *)"true", NULL };
	char *sh_argv[] = { (char *)"sh", (char *)"-c", (char *)"true", NULL };
	double *t = calloc((size_t)n, sizeof(*t));

	if (!t)
		return -1;
	for (int i = 0; i < n; i++) {
		double t0 = crpc__now();
		pid_t pid;

		if (posix_spawn(&pid, shell ? "/bin/sh" : "/bin/true", NULL, NULL, shell ? sh_argv : argv,
				environ) != 0 ||
		    waitpid(pid, NULL, 0) != pid)
			return -1;
		t[i] = crpc__now() - t0;
	}
	report(shell ? "bare posix_spawn+wait of sh -c true" : "bare posix_spawn+wait of /bin/true", t, n,
	       2000);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	int opt, k;

	while ((opt = getopt(argc, argv, "n:")) != -1)
		if (opt == 'n')
			rounds = atoi(optarg);
	if (rounds < 10)
		rounds = 10;
	rtt = calloc((size_t)rounds, sizeof(*rtt));
	if (!rtt)
		return 1;
	k = rounds / 10 > 50 ? 200 : 50;
	if (bench_roundtrip() < 0 || bench_hook(k, false) < 0 || bench_bare(k) < 0 ||
	    bench_bare_spawn(k, false) < 0 || bench_hook(k, true) < 0 || bench_bare_spawn(k, true) < 0)
		return 1;
	free(rtt);
	return 0;
}
