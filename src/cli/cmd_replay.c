/* SPDX-License-Identifier: MIT */
/*
 * cmd_replay.c - crpc trace replay FILE -- CLIENT [ARGS...]: run a client
 * with a recorded session standing in for CRIU.
 *
 * Two halves live here. The command makes a private directory holding a
 * symlink `criu` to crpc itself, runs CLIENT with that directory first on
 * PATH and $CRPC_CRIU pointing at the symlink, waits for it and reports.
 * Whatever CRIU the client starts is then crpc in replay mode ($CRPC_REPLAY
 * set, `... swrk FD`): it answers from the trace through libcrpc's
 * crpc_replay_serve() and leaves a report (JSON) in the directory, one per
 * CRIU the client started.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The environment the stand-in reads. */
#define ENV_REPLAY "CRPC_REPLAY"          /* the trace to answer from */
#define ENV_STATE "CRPC_REPLAY_STATE"     /* directory for the reports */
#define ENV_IGNORE "CRPC_REPLAY_IGNORE"   /* extra ignored fields, comma-separated */
#define ENV_TIMEOUT "CRPC_REPLAY_TIMEOUT" /* seconds to wait for each client message */

/* At most this many CRIU starts are told apart (the trace holds one). */
#define MAX_SESSIONS 64
/* How long to wait for the stand-ins' reports once the client has ended. */
#define REPORT_WAIT_S 15
/* Largest part of the client's stdout kept in the --json document. */
#define CLIENT_OUT_MAX (1024 * 1024)

const char crpc_help_trace_replay[] =
	"Usage: crpc trace replay [OPTIONS] FILE -- CLIENT [ARGS...]\n"
	"\n"
	"Run CLIENT with the session recorded in FILE (by --trace FILE) standing in\n"
	"for CRIU: no CRIU runs and no root is needed for CRIU's part. Every request\n"
	"the client sends is compared, field by field, with the recorded one; every\n"
	"answer CRIU gave is sent back as recorded, notifications included, so the\n"
	"client's hooks run again. The first request that differs is a divergence:\n"
	"crpc names the message, the field (e.g. opts.leave_running), the recorded\n"
	"and the received value; the client gets a failure reply and the replay fails.\n"
	"\n"
	"CLIENT runs with a private directory first on PATH and $CRPC_CRIU pointing\n"
	"at crpc itself under the name criu, so `crpc ...` and other clients that\n"
	"find CRIU there start the stand-in (a client given --criu PATH would bypass\n"
	"it). It runs as the same user, with stdin, stdout and stderr inherited;\n"
	"SIGINT, SIGTERM and SIGHUP sent to crpc are passed on to it. The result of\n"
	"the replay goes to stderr, so stdout is the client's own.\n"
	"\n"
	"Fields ignored by default (fd numbers, different in every run):\n"
	"  opts.images_dir_fd, opts.work_dir_fd, opts.status_fd, opts.pidfd_store_sk,\n"
	"  opts.ps.fd\n"
	"\n"
	"Options:\n"
	"      --ignore FIELD      do not compare FIELD (and what is below it) either;\n"
	"                          repeatable; e.g. opts.pid, opts.external,\n"
	"                          opts.inherit_fd.fd (every element), opts.#72 (a field\n"
	"                          known by number only)\n"
	"      --timeout SECONDS   wait at most this long for each message of the\n"
	"                          client (default 120)\n"
	"      --json              print one JSON document with the result (the\n"
	"                          client's stdout is in it as client_stdout)\n"
	"  -v, --verbose           list the messages replayed\n"
	"  -h, --help              show this help and exit\n"
	"\n"
	"When a recorded answer carried an fd (orphan-pts-master), the client gets a\n"
	"fresh pty master in its place (/dev/null if no pty can be opened).\n"
	"The stand-in can also be used without this command: run a client with\n"
	"CRPC_REPLAY=FILE in its environment and crpc as its CRIU (crpc answers\n"
	"`criu swrk FD` from FILE and reports on stderr).\n"
	"\n"
	"Examples:\n"
	"  crpc dump --trace dump.trace --leave-running 1234 /var/tmp/ckpt\n"
	"  crpc trace replay dump.trace -- crpc dump --leave-running 1234 /tmp/ckpt2\n"
	"  crpc trace replay --ignore opts.pid dump.trace -- ./my-client\n"
	"\n"
	"Exit codes:\n"
	"  the client's exit status when the replay matched (128+N: killed by signal N)\n"
	"  1  the replay did not match: a divergence, the client ended early, sent\n"
	"     more than recorded, started CRIU twice or never (also when the client\n"
	"     itself exited 0)\n"
	"  2  usage error, FILE cannot be read or is damaged (the line is named), or\n"
	"     CLIENT cannot be run\n";

enum {
	OPT_IGNORE = CLI_OPT_FIRST_CMD,
	OPT_TIMEOUT,
};

static const struct option replay_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "ignore", required_argument, NULL, OPT_IGNORE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ NULL, 0, NULL, 0 },
};

/* ======================================================================
 * The stand-in: crpc started in CRIU's place
 * ====================================================================== */

bool crpc_cli_replay_peer_wanted(int argc, char **argv)
{
	const char *trace = getenv(ENV_REPLAY);
	const char *base;

	if (!trace || !*trace || argc < 1 || !argv[0])
		return false;
	if (argc >= 2 && strcmp(argv[1], "swrk") == 0)
		return true;
	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	return strcmp(base, "criu") == 0;
}

/* Claim the next session number in the state directory: 1, 2, ...; 0 on failure. */
static unsigned claim_session(const char *state)
{
	for (unsigned n = 1; n <= MAX_SESSIONS; n++) {
		char path[PATH_MAX], pid[32];
		int fd, len;

		if ((size_t)snprintf(path, sizeof(path), "%s/session-%u.pid", state, n) >= sizeof(path))
			return 0;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			return 0;
		}
		len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (write(fd, pid, (size_t)len) != len) {
			close(fd);
			return 0;
		}
		close(fd);
		return n;
	}
	return 0;
}

/* Write the report of session n as state/session-N.json (atomically). */
static void write_report(const char *state, unsigned n, json_t *doc)
{
	char tmp[PATH_MAX], path[PATH_MAX];

	if (!state || !*state || !n || !doc)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/session-%u.json", state, n) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/session-%u.json.tmp", state, n) >= sizeof(tmp))
		return;
	if (json_dump_file(doc, tmp, JSON_COMPACT) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
}

static json_t *peer_doc(unsigned session, const char *outcome, const char *text)
{
	json_t *doc = json_object();

	if (!doc)
		return NULL;
	json_object_set_new(doc, "session", json_integer(session));
	json_object_set_new(doc, "pid", json_integer(getpid()));
	json_object_set_new(doc, "outcome", json_string(outcome));
	json_object_set_new(doc, "text", json_string(text));
	return doc;
}

/* The report of an error before the replay could start; the client is told too. */
static int peer_fail(const char *state, unsigned session, int sk, const char *outcome, const char *text,
		     int rc)
{
	char msg[1024];
	json_t *doc = peer_doc(session, outcome, text);

	fprintf(stderr, "crpc replay: %s\n", text);
	write_report(state, session, doc);
	json_decref(doc);
	if (sk >= 0) {
		snprintf(msg, sizeof(msg), "crpc replay: %s", text);
		crpc_replay_send_failure(sk, msg, NULL);
	}
	return rc;
}

static void log_message(const crpc_trace_record *r, void *data)
{
	json_t *log = data;

	json_array_append_new(log, json_pack("{s:I,s:s,s:s}", "seq", (json_int_t)r->seq, "dir",
					     r->dir == CRPC_TO_CRIU ? "to_criu" : "from_criu", "type",
					     r->msg_type ? r->msg_type : "?"));
}

/* Split $CRPC_REPLAY_IGNORE ("a,b,c") into *list; the strings point into buf. */
static size_t split_ignore(char *buf, const char **list, size_t max)
{
	size_t n = 0;

	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save))
		list[n++] = tok;
	return n;
}

/* Wait (bounded) for the first message of a second session, then refuse it. */
static int peer_extra_session(const char *state, unsigned session, int sk)
{
	char text[256];
	double deadline = crpc_cli_now() + 10.0;

	snprintf(text, sizeof(text),
		 "the client started CRIU again (start number %u); the trace holds the messages of one "
		 "session",
		 session);
	/* its first request (VERSION, usually): at most 10 s, then answer anyway */
	for (;;) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		double left = deadline - crpc_cli_now();

		if (left <= 0 || poll(&p, 1, (int)(left * 1000.0) + 1) >= 0 || errno != EINTR)
			break;
	}
	return peer_fail(state, session, sk, "extra-session", text, CRPC_EXIT_FAIL);
}

int crpc_cli_replay_peer(int argc, char **argv)
{
	const char *trace_path = getenv(ENV_REPLAY);
	const char *state = getenv(ENV_STATE);
	const char *ignore_env = getenv(ENV_IGNORE);
	const char *timeout_env = getenv(ENV_TIMEOUT);
	const char *ignore[MAX_SESSIONS];
	char *ignore_buf = NULL;
	crpc_replay_options o;
	crpc_replay_report rep;
	crpc_trace_file *t = NULL;
	crpc_error *err = NULL;
	unsigned long v;
	unsigned session = 1;
	json_t *doc, *log;
	char text[1024];
	int sk, rc;

	crpc_replay_options_init(&o);
	if (state && !*state)
		state = NULL;
	if (argc != 3 || strcmp(argv[1], "swrk") != 0) {
		fprintf(stderr,
			"crpc: replay mode ($%s=%s): crpc stands in for `criu swrk FD` only; '%s%s%s' "
			"cannot be answered from a trace\n",
			ENV_REPLAY, trace_path, argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
		return CRPC_EXIT_FAIL;
	}
	if (crpc_cli_parse_ulong(argv[2], INT_MAX, &v) < 0 || fcntl((int)v, F_GETFD) < 0) {
		fprintf(stderr, "crpc: replay mode ($%s=%s): '%s' is not an open fd (usage: criu swrk FD)\n",
			ENV_REPLAY, trace_path, argv[2]);
		return CRPC_EXIT_FAIL;
	}
	sk = (int)v;
	fcntl(sk, F_SETFD, FD_CLOEXEC);
	if (state) {
		session = claim_session(state);
		if (session == 0) {
			fprintf(stderr, "crpc replay: cannot record this session in %s: %s\n", state,
				strerror(errno));
			state = NULL;
			session = 1;
		} else if (session > 1) {
			return peer_extra_session(state, session, sk);
		}
	}

	if (crpc_trace_file_read(&t, trace_path, &err) < 0 || crpc_replay_check(t, &err) < 0) {
		snprintf(text, sizeof(text), "%s%s%s",
			 err && err->message ? err->message : "cannot read the trace",
			 err && err->sys_errno ? ": " : "",
			 err && err->sys_errno ? strerror(err->sys_errno) : "");
		crpc_error_free(err);
		crpc_trace_file_free(t);
		return peer_fail(state, session, sk, "trace-error", text, CRPC_EXIT_USAGE);
	}
	if (ignore_env && *ignore_env) {
		ignore_buf = strdup(ignore_env);
		if (!ignore_buf) {
			crpc_trace_file_free(t);
			return peer_fail(state, session, sk, "error", "out of memory", CRPC_EXIT_FAIL);
		}
		o.n_ignore = split_ignore(ignore_buf, ignore, sizeof(ignore) / sizeof(ignore[0]));
		o.ignore = ignore;
		for (size_t i = 0; i < o.n_ignore; i++) {
			if (crpc_replay_field_check(ignore[i], &err) < 0) {
				snprintf(text, sizeof(text), "$%s: %s", ENV_IGNORE, err->message);
				crpc_error_free(err);
				free(ignore_buf);
				crpc_trace_file_free(t);
				return peer_fail(state, session, sk, "usage", text, CRPC_EXIT_USAGE);
			}
		}
	}
	if (timeout_env && *timeout_env && crpc_cli_parse_ulong(timeout_env, 86400, &v) == 0 && v > 0)
		o.timeout_ms = (unsigned)v * 1000u;
	log = json_array();
	o.on_message = log_message;
	o.on_message_data = log;

	rc = crpc_replay_serve(t, sk, &o, &rep, &err);
	if (rc < 0) {
		snprintf(text, sizeof(text), "%s", err && err->message ? err->message : "replay failed");
		crpc_error_free(err);
		json_decref(log);
		free(ignore_buf);
		crpc_trace_file_free(t);
		return peer_fail(state, session, sk, "error", text, CRPC_EXIT_FAIL);
	}
	doc = peer_doc(session, crpc_replay_outcome_name(rep.outcome), rep.text);
	if (doc) {
		json_object_set_new(doc, "total", json_integer((json_int_t)rep.total));
		json_object_set_new(doc, "matched", json_integer((json_int_t)rep.matched));
		if (rep.outcome != CRPC_REPLAY_MATCHED) {
			json_object_set_new(doc, "at", json_integer((json_int_t)rep.at));
			json_object_set_new(doc, "line",
					    rep.line ? json_integer((json_int_t)rep.line) : json_null());
			json_object_set_new(doc, "dir",
					    json_string(rep.dir == CRPC_TO_CRIU ? "to_criu" : "from_criu"));
			json_object_set_new(doc, "msg_type", json_string(rep.msg_type));
		}
		if (rep.outcome == CRPC_REPLAY_DIVERGED || rep.outcome == CRPC_REPLAY_EXTRA_MESSAGE) {
			json_object_set_new(doc, "field",
					    rep.diff.field[0] ? json_string(rep.diff.field) : json_null());
			json_object_set_new(doc, "recorded", json_string(rep.diff.recorded));
			json_object_set_new(doc, "received", json_string(rep.diff.received));
		}
		json_object_set_new(doc, "messages", log ? json_incref(log) : json_null());
	}
	write_report(state, session, doc);
	json_decref(doc);
	json_decref(log);
	if (rep.outcome != CRPC_REPLAY_MATCHED)
		fprintf(stderr, "crpc replay: %s\n", rep.text);
	free(ignore_buf);
	crpc_trace_file_free(t);
	return rep.outcome == CRPC_REPLAY_MATCHED ? 0 : CRPC_EXIT_FAIL;
}

/* ======================================================================
 * The command: crpc trace replay FILE -- CLIENT [ARGS...]
 * ====================================================================== */

typedef struct replay_ctx {
	crpc_cli *cli;
	const char *file;
	char trace_abs[PATH_MAX];
	char dir[PATH_MAX]; /* the private directory, "" until made */
	const char **ignore;
	size_t n_ignore;
	unsigned long timeout_s;
	char **client; /* argv of the client, NULL-terminated */
	crpc_trace_file *t;
	json_t *header;           /* the trace's header line */
	char what[PATH_MAX + 64]; /* "dump 1234": what the trace recorded */
	int status;               /* the client's wait status */
} replay_ctx;

/* Remove the private directory and what is in it (it holds no subdirectory). */
static void remove_dir(replay_ctx *c)
{
	DIR *d;
	struct dirent *de;

	if (!c->dir[0])
		return;
	d = opendir(c->dir);
	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	if (rmdir(c->dir) < 0 && errno != ENOENT)
		crpc_cli_warn(c->cli, "cannot remove %s: %s", c->dir, strerror(errno));
	c->dir[0] = '\0';
}

static int make_dir(replay_ctx *c, crpc_error **err)
{
	const char *tmp = getenv("TMPDIR");
	char self[PATH_MAX], link[PATH_MAX + 8];
	ssize_t n;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || (size_t)n >= sizeof(self) - 1)
		return crpc_error_set(err, CRPC_EXIT_FAIL, n < 0 ? errno : ENAMETOOLONG, "replay",
				      "cannot find crpc's own executable in /proc/self/exe");
	self[n] = '\0';
	if ((size_t)snprintf(c->dir, sizeof(c->dir), "%s/crpc-replay.XXXXXX", tmp) >= sizeof(c->dir) ||
	    !mkdtemp(c->dir)) {
		int e = errno;

		c->dir[0] = '\0';
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "replay",
				      "cannot create a private directory in %s", tmp);
	}
	snprintf(link, sizeof(link), "%s/criu", c->dir);
	if (symlink(self, link) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "replay", "cannot create %s", link);
	return 0;
}

/* In the child: the environment that leads the client's CRIU to the stand-in. */
static void __attribute__((noreturn)) exec_client(replay_ctx *c, const sigset_t *mask, int out_fd, int errfd)
{
	const char *path = getenv("PATH");
	char *newpath = NULL, crui[PATH_MAX + 8], timeout[32], *ignore = NULL;
	size_t len = 0;
	int e;

	sigprocmask(SIG_SETMASK, mask, NULL);
	if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
		goto fail;
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	if (asprintf(&newpath, "%s:%s", c->dir, path) < 0)
		goto fail;
	snprintf(crui, sizeof(crui), "%s/criu", c->dir);
	for (size_t i = 0; i < c->n_ignore; i++)
		len += strlen(c->ignore[i]) + 1;
	ignore = calloc(1, len + 1);
	if (!ignore)
		goto fail;
	for (size_t i = 0; i < c->n_ignore; i++) {
		if (i)
			strcat(ignore, ",");
		strcat(ignore, c->ignore[i]);
	}
	snprintf(timeout, sizeof(timeout), "%lu", c->timeout_s);
	if (setenv("PATH", newpath, 1) < 0 || setenv("CRPC_CRIU", crui, 1) < 0 ||
	    setenv(ENV_REPLAY, c->trace_abs, 1) < 0 || setenv(ENV_STATE, c->dir, 1) < 0 ||
	    setenv(ENV_TIMEOUT, timeout, 1) < 0 ||
	    (c->n_ignore ? setenv(ENV_IGNORE, ignore, 1) : unsetenv(ENV_IGNORE)) < 0)
		goto fail;
	execvp(c->client[0], c->client);
fail:
	e = errno;
	while (write(errfd, &e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(127);
}

/*
 * Run the client and wait for it, passing SIGINT, SIGTERM and SIGHUP on
 * (those from the terminal reach it directly: it is in crpc's process group).
 */
static int run_client(replay_ctx *c, int out_fd, crpc_error **err)
{
	static const int fwd[] = { SIGINT, SIGTERM, SIGHUP };
	sigset_t set, old;
	bool ignored[3] = { false, false, false };
	int ep[2], child_errno = 0;
	ssize_t n;
	pid_t pid;

	sigemptyset(&set);
	for (size_t i = 0; i < 3; i++) {
		struct sigaction sa;

		/* a signal crpc was started with as ignored stays ignored (and the client inherits that) */
		if (sigaction(fwd[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			ignored[i] = true;
		else
			sigaddset(&set, fwd[i]);
	}
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "replay", "cannot block signals");
	if (pipe2(ep, O_CLOEXEC) < 0) {
		int e = errno;

		sigprocmask(SIG_SETMASK, &old, NULL);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "replay", "pipe failed");
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(ep[0]);
		close(ep[1]);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "replay", "fork failed");
	}
	if (pid == 0) {
		close(ep[0]);
		exec_client(c, &old, out_fd, ep[1]);
	}
	close(ep[1]);
	do
		n = read(ep[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	crpc_cli_info(c->cli, "client %s started (pid %d)", c->client[0], (int)pid);

	for (;;) {
		siginfo_t si;
		int sig, st;
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid) {
			c->status = st;
			break;
		}
		if (w < 0 && errno != EINTR) {
			int e = errno;

			sigprocmask(SIG_SETMASK, &old, NULL);
			return crpc_error_set(err, CRPC_EXIT_FAIL, e, "replay", "lost track of the client");
		}
		sig = sigwaitinfo(&set, &si);
		if (sig < 0 || sig == SIGCHLD)
			continue;
		if (si.si_code == SI_KERNEL)
			continue; /* from the terminal: the client got it as well */
		for (size_t i = 0; i < 3; i++)
			if (fwd[i] == sig && !ignored[i] && kill(pid, sig) == 0)
				crpc_cli_info(c->cli, "passed SIG%s on to the client", sigabbrev_np(sig));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (n == (ssize_t)sizeof(child_errno)) {
		crpc_error_set(err, CRPC_EXIT_USAGE, child_errno, "replay", "cannot run the client %s",
			       c->client[0]);
		if (err && *err)
			crpc_error_set_hint(*err, "give the client's command after --, e.g. "
						  "'crpc trace replay FILE -- crpc dump PID DIR'");
		return -1;
	}
	return 0;
}

/* Is pid gone (or a zombie)? */
static bool pid_gone(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	char *p;
	bool gone = true;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		gone = p[2] == 'Z' || p[2] == 'X';
	fclose(f);
	return gone;
}

/*
 * The reports of the stand-ins, in session order: wait (bounded) for each
 * claimed session to leave its report or to end without one. *n_sessions
 * gets the number of CRIU starts.
 */
static json_t *collect_reports(replay_ctx *c, unsigned *n_sessions)
{
	json_t *all = crpc_cli_jarray();
	double deadline = crpc_cli_now() + REPORT_WAIT_S;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	*n_sessions = 0;
	for (unsigned n = 1; n <= MAX_SESSIONS; n++) {
		char claim[PATH_MAX + 32], report[PATH_MAX + 32], text[128];
		unsigned long pid = 0;
		json_t *doc = NULL;
		FILE *f;

		snprintf(claim, sizeof(claim), "%s/session-%u.pid", c->dir, n);
		snprintf(report, sizeof(report), "%s/session-%u.json", c->dir, n);
		f = fopen(claim, "re");
		if (!f)
			break;
		if (fscanf(f, "%lu", &pid) != 1)
			pid = 0;
		fclose(f);
		(*n_sessions)++;
		for (;;) {
			doc = json_load_file(report, 0, NULL);
			if (doc || pid == 0 || pid_gone((pid_t)pid))
				break;
			if (crpc_cli_now() > deadline)
				break;
			nanosleep(&ts, NULL);
		}
		if (!doc)
			doc = json_load_file(report, 0, NULL); /* written just before it ended */
		if (!doc) {
			bool gone = pid == 0 || pid_gone((pid_t)pid);

			snprintf(text, sizeof(text), "the stand-in for CRIU (pid %lu) %s", pid,
				 gone ? "ended without a report (was it killed?)"
				      : "has not finished after the client ended");
			doc = crpc_cli_jobj();
			crpc_cli_jset(doc, "session", json_integer(n));
			crpc_cli_jset(doc, "pid", json_integer((json_int_t)pid));
			crpc_cli_jset(doc, "outcome", crpc_cli_jstr("no-report"));
			crpc_cli_jset(doc, "text", crpc_cli_jstr(text));
		}
		crpc_cli_jappend(all, doc);
	}
	return all;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "exited with status 1" / "was killed by SIGKILL"; the exit code that stands for it. */
static int client_status(const replay_ctx *c, char *buf, size_t bufsz, json_t *doc)
{
	if (WIFEXITED(c->status)) {
		snprintf(buf, bufsz, "exited with status %d", WEXITSTATUS(c->status));
		crpc_cli_jset(doc, "exit_status", json_integer(WEXITSTATUS(c->status)));
		crpc_cli_jset(doc, "signal", json_null());
		return WEXITSTATUS(c->status);
	}
	if (WIFSIGNALED(c->status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(c->status));
		char name[32];

		snprintf(name, sizeof(name), "SIG%s", abbrev ? abbrev : "?");
		snprintf(buf, bufsz, "was killed by %s", name);
		crpc_cli_jset(doc, "exit_status", json_integer(128 + WTERMSIG(c->status)));
		crpc_cli_jset(doc, "signal", crpc_cli_jstr(name));
		return 128 + WTERMSIG(c->status);
	}
	snprintf(buf, bufsz, "ended");
	return CRPC_EXIT_FAIL;
}

/* The client's stdout captured for --json (bounded). */
static json_t *client_output(replay_ctx *c, int fd)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	json_t *j;

	if (fd < 0)
		return json_null();
	buf = malloc(CLIENT_OUT_MAX + 1);
	if (!buf)
		return json_null();
	while (len < CLIENT_OUT_MAX) {
		n = pread(fd, buf + len, CLIENT_OUT_MAX - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len == CLIENT_OUT_MAX)
		crpc_cli_warn(c->cli, "the client's stdout is cut to its first %d bytes", CLIENT_OUT_MAX);
	j = crpc_cli_jstr(buf);
	free(buf);
	return j;
}

/* What the trace recorded, for messages: "dump 1234". */
static void describe_trace(replay_ctx *c)
{
	const char *op, *target;

	c->header = crpc_trace_file_header(c->t) ? json_loads(crpc_trace_file_header(c->t), 0, NULL) : NULL;
	op = jstr(c->header, "operation");
	target = jstr(c->header, "target");
	snprintf(c->what, sizeof(c->what), "%s%s%s", op ? op : "the recorded session", target ? " " : "",
		 target ? target : "");
}

/* The report that decides: the first session's, unless it matched and another one followed. */
static json_t *deciding_report(json_t *reports)
{
	json_t *first = json_array_get(reports, 0);
	const char *o = jstr(first, "outcome");

	if (o && strcmp(o, "matched") == 0 && json_array_size(reports) > 1)
		return json_array_get(reports, 1);
	return first;
}

static void print_log(replay_ctx *c, json_t *first)
{
	json_t *log = json_object_get(first, "messages"), *m;
	size_t i;

	if (!c->cli->verbose || c->cli->json)
		return;
	json_array_foreach(log, i, m) {
		bool in = strcmp(jstr(m, "dir") ? jstr(m, "dir") : "", "to_criu") == 0;

		fprintf(stderr, "crpc: replay: message %lld %s %s %s as recorded\n",
			(long long)json_integer_value(json_object_get(m, "seq")), in ? "->" : "<-",
			jstr(m, "type") ? jstr(m, "type") : "?", in ? "received" : "sent");
	}
}

static int report(replay_ctx *c, json_t *reports, unsigned n_sessions, int out_fd)
{
	crpc_cli *cli = c->cli;
	json_t *first = json_array_get(reports, 0), *decide = deciding_report(reports);
	json_t *client = crpc_cli_jobj(), *argv = crpc_cli_jarray(), *extra;
	const char *outcome = decide ? jstr(decide, "outcome") : "no-session";
	bool matched = outcome && strcmp(outcome, "matched") == 0;
	size_t total = crpc_trace_file_count(c->t);
	json_int_t done = first ? json_integer_value(json_object_get(first, "matched")) : 0;
	char how[96], op[PATH_MAX + 96], human[2048];
	crpc_error *e = NULL;
	int code;

	for (char **a = c->client; *a; a++)
		crpc_cli_jappend(argv, crpc_cli_jstr(*a));
	crpc_cli_jset(client, "argv", argv);
	code = client_status(c, how, sizeof(how), client);
	print_log(c, first);

	if (matched) {
		if (cli->json) {
			json_t *doc = crpc_cli_jobj();

			crpc_cli_jset(doc, "ok", json_true());
			crpc_cli_jset(doc, "trace", crpc_cli_jstr(c->trace_abs));
			crpc_cli_jset(doc, "recorded", crpc_cli_jstr(c->what));
			crpc_cli_jset(doc, "outcome", crpc_cli_jstr("matched"));
			crpc_cli_jset(doc, "messages_total", json_integer((json_int_t)total));
			crpc_cli_jset(doc, "messages_matched", json_integer(done));
			crpc_cli_jset(doc, "sessions", json_integer(n_sessions));
			crpc_cli_jset(doc, "client", client);
			crpc_cli_jset(doc, "client_stdout", client_output(c, out_fd));
			crpc_cli_jset(doc, "reports", json_incref(reports));
			crpc_cli_emit(doc);
		} else {
			json_decref(client);
			fflush(stdout);
			fprintf(stderr, "crpc: replay of %s matched: %s; the client %s\n", c->what,
				jstr(first, "text") ? jstr(first, "text")
						    : "all messages replayed as recorded",
				how);
		}
		return code;
	}

	/* not matched: say where, and what the client made of it */
	snprintf(op, sizeof(op), "replay of %s", c->what);
	human[0] = '\0';
	if (!decide) {
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
			       "the client never started CRIU: none of the %zu messages was replayed", total);
		if (e)
			crpc_error_set_hint(e, "the client must find CRIU through $CRPC_CRIU or PATH (a "
					       "client given --criu PATH bypasses the replay), or it "
					       "failed before it started CRIU: see its output above");
	} else {
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op, "%s",
			       jstr(decide, "text") ? jstr(decide, "text") : "the replay failed");
		if (e && outcome && strcmp(outcome, "diverged") == 0)
			crpc_error_set_hint(e,
					    "the client's request differs from the recorded one; if "
					    "this field differs from run to run by nature, add "
					    "--ignore %s",
					    jstr(decide, "field") ? jstr(decide, "field") : "FIELD");
	}
	if (decide && jstr(decide, "recorded") && jstr(decide, "received")) {
		snprintf(human, sizeof(human), "  field:     %s\n  recorded:  %s\n  received:  %s\n",
			 jstr(decide, "field") ? jstr(decide, "field") : "(whole message)",
			 jstr(decide, "recorded"), jstr(decide, "received"));
	}
	snprintf(human + strlen(human), sizeof(human) - strlen(human),
		 "  replayed:  %lld of %zu messages as recorded%s\n  client:    %s%s\n", (long long)done,
		 total, n_sessions > 1 ? " (first session)" : "", how,
		 code == 0 ? " (the replay failed all the same)" : "");
	extra = crpc_cli_jobj();
	crpc_cli_jset(extra, "trace", crpc_cli_jstr(c->trace_abs));
	crpc_cli_jset(extra, "recorded", crpc_cli_jstr(c->what));
	crpc_cli_jset(extra, "outcome", crpc_cli_jstr(outcome ? outcome : "unknown"));
	crpc_cli_jset(extra, "messages_total", json_integer((json_int_t)total));
	crpc_cli_jset(extra, "messages_matched", json_integer(done));
	crpc_cli_jset(extra, "sessions", json_integer(n_sessions));
	if (decide) {
		json_t *dv = crpc_cli_jobj();
		static const char *const keys[] = { "at",    "line",     "dir",      "msg_type",
						    "field", "recorded", "received", "text" };

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_t *v = json_object_get(decide, keys[i]);

			crpc_cli_jset(dv, strcmp(keys[i], "at") == 0 ? "message" : keys[i],
				      v ? json_incref(v) : json_null());
		}
		crpc_cli_jset(extra, "divergence", dv);
	} else {
		crpc_cli_jset(extra, "divergence", json_null());
	}
	crpc_cli_jset(extra, "client", client);
	if (cli->json)
		crpc_cli_jset(extra, "client_stdout", client_output(c, out_fd));
	crpc_cli_jset(extra, "reports", json_incref(reports));
	if (cli->json) {
		code = crpc_cli_fail(cli, e, extra, human);
	} else {
		/* the details before the hint */
		json_decref(extra);
		fflush(stdout);
		fprintf(stderr, "crpc: %s failed: %s\n%s", op, e && e->message ? e->message : "?", human);
		if (e && e->hint)
			fprintf(stderr, "  hint: %s\n", e->hint);
		code = CRPC_EXIT_FAIL;
	}
	crpc_error_free(e);
	return code;
}

int crpc_cli_trace_replay(crpc_cli *cli, int argc, char **argv)
{
	replay_ctx c;
	crpc_error *err = NULL;
	json_t *reports = NULL;
	unsigned n_sessions = 0;
	int dd = -1, rc, opt, out_fd = -1;
	unsigned long v;

	memset(&c, 0, sizeof(c));
	c.cli = cli;
	c.timeout_s = CRPC_REPLAY_TIMEOUT_DEFAULT;
	cli->cmd = "trace replay";
	cli->usage = "crpc trace replay [OPTIONS] FILE -- CLIENT [ARGS...]";
	c.ignore = calloc((size_t)argc + 1, sizeof(*c.ignore));
	if (!c.ignore)
		return crpc_cli_usage(cli, false, "out of memory");

	/* our options end at "--": what follows is the client's command line */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	while ((opt = crpc_cli_getopt(cli, dd >= 0 ? dd : argc, argv, ":hv", replay_options)) != -1) {
		crpc_error *perr = NULL;

		switch (opt) {
		case OPT_IGNORE:
			if (crpc_replay_field_check(optarg, &perr) < 0)
				crpc_cli_usage_errorf(cli, "--ignore: %s", perr->message);
			else
				c.ignore[c.n_ignore++] = optarg;
			break;
		case OPT_TIMEOUT:
			if (crpc_cli_parse_ulong(optarg, 86400, &v) < 0 || v == 0)
				crpc_cli_usage_errorf(cli, "invalid --timeout '%s': seconds, 1 to 86400",
						      optarg);
			else
				c.timeout_s = v;
			break;
		default:
			crpc_cli_usage_errorf(cli, "unhandled option");
			break;
		}
		crpc_error_free(perr);
	}
	if (crpc_cli_early_exit(cli, crpc_help_trace_replay, &rc))
		goto out;
	if (cli->criu || cli->trace_file) {
		rc = crpc_cli_usage(cli, true,
				    "%s does not apply to trace replay: no CRIU runs (give the "
				    "client its own options after --)",
				    cli->criu ? "--criu" : "--trace");
		goto out;
	}
	if (optind >= (dd >= 0 ? dd : argc)) {
		rc = crpc_cli_usage(cli, true, "missing FILE");
		goto out;
	}
	if (optind + 1 < (dd >= 0 ? dd : argc)) {
		rc = crpc_cli_usage(cli, true,
				    "unexpected argument '%s' (the client's command goes after --)",
				    argv[optind + 1]);
		goto out;
	}
	if (dd < 0 || dd + 1 >= argc) {
		rc = crpc_cli_usage(cli, true,
				    "missing '-- CLIENT [ARGS...]': the command to run against the "
				    "recording");
		goto out;
	}
	c.file = argv[optind];
	c.client = argv + dd + 1;

	/* the trace must be whole before anything runs */
	if (crpc_trace_file_read(&c.t, c.file, &err) < 0) {
		json_t *extra = crpc_cli_jobj();

		crpc_cli_jset(extra, "trace", crpc_cli_jstr(c.file));
		rc = crpc_cli_fail(cli, err, extra, NULL);
		goto out;
	}
	if (crpc_replay_check(c.t, &err) < 0) {
		json_t *extra = crpc_cli_jobj(), *probs = crpc_cli_jarray();

		for (size_t i = 0; i < crpc_trace_file_problem_count(c.t); i++) {
			const crpc_trace_problem *p = crpc_trace_file_problem(c.t, i);
			json_t *o = crpc_cli_jobj();

			crpc_cli_jset(o, "line", json_integer((json_int_t)p->line));
			crpc_cli_jset(o, "error", crpc_cli_jstr(p->error));
			crpc_cli_jappend(probs, o);
			fprintf(stderr, "crpc: %s:%lu: %s\n", c.file, p->line, p->error);
		}
		crpc_cli_jset(extra, "trace", crpc_cli_jstr(c.file));
		crpc_cli_jset(extra, "problems", probs);
		rc = crpc_cli_fail(cli, err, extra, NULL);
		goto out;
	}
	if (!realpath(c.file, c.trace_abs)) {
		crpc_error_set(&err, CRPC_EXIT_USAGE, errno, "replay", "cannot resolve %s", c.file);
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		goto out;
	}
	describe_trace(&c);

	if (make_dir(&c, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		goto out;
	}
	if (cli->json) {
		char path[PATH_MAX + 16];

		snprintf(path, sizeof(path), "%s/client.out", c.dir);
		out_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out_fd < 0) {
			crpc_error_set(&err, CRPC_EXIT_FAIL, errno, "replay", "cannot create %s", path);
			rc = crpc_cli_fail(cli, err, NULL, NULL);
			goto out;
		}
	}
	crpc_cli_info(cli, "replaying %s (%zu messages from %s) to: %s", c.what, crpc_trace_file_count(c.t),
		      c.trace_abs, c.client[0]);
	if (run_client(&c, out_fd, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		goto out;
	}
	reports = collect_reports(&c, &n_sessions);
	rc = report(&c, reports, n_sessions, out_fd);

out:
	if (out_fd >= 0)
		close(out_fd);
	remove_dir(&c);
	json_decref(reports);
	json_decref(c.header);
	crpc_trace_file_free(c.t);
	crpc_error_free(err);
	free(c.ignore);
	return rc;
}
