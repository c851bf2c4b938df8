/* SPDX-License-Identifier: MIT */
/*
 * cause.c - classification of failures: rules that recognise known causes
 * in CRIU's message, the log excerpt and libcrpc's own message, and the
 * hint given for each cause.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error_int.h"
#include "internal.h"

/* Where a rule's pattern is looked for. */
#define IN_ERRMSG 0x1u  /* CRIU's cr_errmsg */
#define IN_LOG 0x2u     /* the error lines of the log excerpt */
#define IN_MESSAGE 0x4u /* libcrpc's own message */
#define IN_LOG_ALL 0x8u /* any line of the excerpt (CRIU's output may have no error lines) */
#define IN_CRIU (IN_ERRMSG | IN_LOG)
#define IN_TEXT (IN_ERRMSG | IN_LOG | IN_MESSAGE)
#define IN_ANY (IN_ERRMSG | IN_LOG_ALL | IN_MESSAGE)

/* Rule flags. */
#define ONLY_NONROOT 0x1u /* only when the caller is not root */

struct cause_rule {
	const char *op;      /* request the rule applies to, NULL: any */
	int errnum;          /* errno (ours or CRIU's) that must match, 0: none */
	const char *pattern; /* text that must be found, NULL: none */
	unsigned where;      /* where the text is looked for */
	unsigned flags;
	crpc_cause cause;
	crpc_exit exit_class;  /* CRPC_EXIT_OK: keep the error's exit class */
	const char *hint;      /* NULL: the cause's default hint */
	const char *pid_after; /* a PID follows this text; the hint shows it as {pid} */
	/*
	 * With hint_ino: a socket's inode follows this text in the last log line
	 * before the error that has it; hint_ino shows it as {ino}, else hint
	 * (without an inode) is used.
	 */
	const char *ino_before;
	const char *hint_ino;
};

static const char hint_pid_in_use[] =
	"PID {pid} is taken by another process; wait for it to exit or end it, then restore again "
	"(a tree dumped without --leave-running can linger as zombies for a second or two)";

static const char hint_ext_unix_restore_ino[] =
	"UNIX socket inode {ino} of the tree was connected to a process outside it, whose end "
	"closed when the tree was dumped; CRIU cannot connect it again. Give the restore a "
	"replacement socket connected to the new peer: crpc restore --inherit-fd "
	"'fd[N]:socket:[{ino}]' with N open in crpc (or inherit_fd in the configuration's restore "
	"section); --ext-unix-sk would restore it unconnected";

static const char hint_ext_unix_restore[] =
	"a UNIX socket of the tree was connected to a process outside it, whose end closed when "
	"the tree was dumped; CRIU cannot connect it again. Give the restore a replacement socket "
	"connected to the new peer: crpc restore --inherit-fd 'fd[N]:socket:[INODE]' with N open "
	"in crpc (or inherit_fd in the configuration's restore section), INODE from `external "
	"unix[INODE]` in crpc.json or the log's 'Opening standalone' line (--log-level 4); "
	"--ext-unix-sk would restore it unconnected";

/*
 * First match wins: specific messages of CRIU come first, bare errno
 * values and vague words last.
 */
#define PID_IN_USE CRPC_CAUSE_PID_IN_USE
#define TCP CRPC_CAUSE_TCP_ESTABLISHED
#define EXT_UNIX CRPC_CAUSE_EXT_UNIX_SK
#define SHELL_JOB CRPC_CAUSE_SHELL_JOB
#define NOT_ROOT CRPC_CAUSE_NOT_ROOT
#define KERNEL CRPC_CAUSE_KERNEL
#define NO_PROCESS CRPC_CAUSE_NO_PROCESS
#define ENV CRPC_EXIT_ENV

static const struct cause_rule cause_rules[] = {
	/* PID in use on restore: CRIU answers EEXIST and logs "Can't fork for N: File exists" */
	{ .pattern = "Can't fork for ",
	  .where = IN_CRIU,
	  .cause = PID_IN_USE,
	  .hint = hint_pid_in_use,
	  .pid_after = "Can't fork for " },
	{ .op = "restore", .errnum = EEXIST, .cause = PID_IN_USE },

	/* established TCP connections */
	{ .pattern = "Connected TCP socket", .where = IN_CRIU, .cause = TCP },
	{ .pattern = "tcp-established", .where = IN_CRIU, .cause = TCP },

	/*
	 * UNIX sockets whose peer is outside the tree. At a restore the peer's
	 * end is gone for good (it closed when the tree was dumped): the only
	 * remedy is a replacement socket; --ext-unix-sk would restore it
	 * unconnected and --external is the dump's declaration.
	 */
	{ .op = "restore",
	  .pattern = "External socket found in image",
	  .where = IN_CRIU,
	  .cause = EXT_UNIX,
	  .hint = hint_ext_unix_restore,
	  .ino_before = " ino ",
	  .hint_ino = hint_ext_unix_restore_ino },
	{ .pattern = "External socket is used", .where = IN_CRIU, .cause = EXT_UNIX },
	{ .pattern = "ext-unix-sk", .where = IN_CRIU, .cause = EXT_UNIX },
	{ .pattern = "half of stream unix", .where = IN_CRIU, .cause = EXT_UNIX },

	/*
	 * A task in session 0 (no leader visible: an init that never called
	 * setsid started it, or the leader lives in a parent PID namespace):
	 * CRIU refuses it whatever the options (shell_job too).
	 */
	{ .pattern = "is outside of its pid namespace", .where = IN_CRIU, .cause = CRPC_CAUSE_SESSION_ZERO },

	/* terminals and sessions from outside the tree */
	{ .pattern = "shell-job", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "shell_job", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "is not a session leader", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "session leader of", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "Found dangling tty", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "without correspond master peer", .where = IN_CRIU, .cause = SHELL_JOB },
	{ .pattern = "Can't dump tty", .where = IN_CRIU, .cause = SHELL_JOB },

	/* kernels without memory change tracking (CONFIG_MEM_SOFT_DIRTY) */
	{ .pattern = "BUG at criu/mem.c",
	  .where = IN_CRIU,
	  .cause = KERNEL,
	  .exit_class = ENV,
	  .hint = "this kernel cannot track memory changes (CONFIG_MEM_SOFT_DIRTY is off): "
		  "pre-dump and --track-mem do not work here; dump in one step instead" },

	/* privileges: CRIU's own capability check */
	{ .pattern = "CAP_SYS_ADMIN", .where = IN_ANY, .cause = NOT_ROOT, .exit_class = ENV },
	{ .pattern = "CAP_CHECKPOINT_RESTORE", .where = IN_ANY, .cause = NOT_ROOT, .exit_class = ENV },
	{ .pattern = "Effective capability", .where = IN_ANY, .cause = NOT_ROOT, .exit_class = ENV },

	/* CRIU's own ptrace probe failed: it is being traced, or ptrace is restricted */
	{ .pattern = "ptrace(PTRACE_TRACEME)",
	  .where = IN_CRIU,
	  .cause = CRPC_CAUSE_UNKNOWN, /* not the kernel's fault: say what it is instead */
	  .hint = "CRIU cannot use ptrace here: is crpc running under a tracer (strace, gdb), "
		  "or does a ptrace restriction apply (kernel.yama.ptrace_scope, seccomp, an "
		  "LSM policy)?" },

	/* the target is gone */
	{ .errnum = ESRCH, .cause = NO_PROCESS },
	{ .pattern = "No such process", .where = IN_TEXT, .cause = NO_PROCESS },
	{ .pattern = "Can't seize",
	  .where = IN_CRIU,
	  .cause = NO_PROCESS,
	  .hint = "CRIU could not attach to the process: check the PID, and that no debugger or "
		  "tracer (gdb, strace) is attached to it" },

	/* permission errors mean missing privileges only for non-root callers */
	{ .errnum = EPERM, .flags = ONLY_NONROOT, .cause = NOT_ROOT, .exit_class = ENV },
	{ .errnum = EACCES, .flags = ONLY_NONROOT, .cause = NOT_ROOT, .exit_class = ENV },
	{ .pattern = "Operation not permitted",
	  .where = IN_TEXT,
	  .flags = ONLY_NONROOT,
	  .cause = NOT_ROOT,
	  .exit_class = ENV },
	{ .pattern = "Permission denied",
	  .where = IN_TEXT,
	  .flags = ONLY_NONROOT,
	  .cause = NOT_ROOT,
	  .exit_class = ENV },

	/* kernel features CRIU needs, or a CRIU too old for the kernel */
	{ .pattern = "not supported", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "ENOTSUP", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "Looks bad", .where = IN_ANY, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "vDSO", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "kerndat", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .pattern = "kernel", .where = IN_CRIU, .cause = KERNEL, .exit_class = ENV },
	{ .errnum = EOPNOTSUPP, .cause = KERNEL, .exit_class = ENV },

	/* last resort for a restore: something of the tree exists already */
	{ .op = "restore", .pattern = "File exists", .where = IN_CRIU, .cause = PID_IN_USE },
};

#undef PID_IN_USE
#undef TCP
#undef EXT_UNIX
#undef SHELL_JOB
#undef NOT_ROOT
#undef KERNEL
#undef NO_PROCESS
#undef ENV

static const char *const cause_hints[] = {
	[CRPC_CAUSE_UNKNOWN] = NULL,
	[CRPC_CAUSE_PID_IN_USE] =
		"a PID of the saved tree is taken by another process; wait for it to exit or end "
		"it, then restore again (a tree dumped without --leave-running can linger as "
		"zombies for a second or two)",
	[CRPC_CAUSE_TCP_ESTABLISHED] = "the process has an established TCP connection; add --tcp-established",
	[CRPC_CAUSE_EXT_UNIX_SK] =
		"a UNIX socket of the process is connected to a peer outside the dumped tree; add "
		"--ext-unix-sk, or --external unix[INODE] for that one socket",
	[CRPC_CAUSE_SHELL_JOB] = "the process uses a terminal or session from outside the dumped tree (a shell "
				 "job); add --shell-job (for the restore too)",
	[CRPC_CAUSE_NOT_ROOT] = "CRIU needs root (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE); run crpc as root",
	[CRPC_CAUSE_KERNEL] = "this CRIU lacks support for this kernel or the kernel lacks a "
			      "feature CRIU needs; run scripts/setup to provision a CRIU that "
			      "works on this kernel",
	[CRPC_CAUSE_NO_PROCESS] = "the process does not exist (any more); check the PID",
	[CRPC_CAUSE_CRIU_DIED] = "CRIU ended before it answered; its log may tell why",
	[CRPC_CAUSE_SESSION_ZERO] =
		"the process is in session 0 (/proc shows no session leader: it was started by an "
		"init or service manager that never called setsid, or its leader lives in a parent "
		"PID namespace); no option makes CRIU take it, --shell-job neither: start it with "
		"setsid",
};

static const char *cause_hint(crpc_cause c)
{
	if ((size_t)c < sizeof(cause_hints) / sizeof(cause_hints[0]))
		return cause_hints[c];
	return NULL;
}

/* Is `pattern` in a (error) line of the excerpt? Sets *found to that line. */
static bool excerpt_has(const char *excerpt, const char *pattern, bool errors_only, struct err_line *found)
{
	struct err_line_walk w;
	enum err_line_kind k;
	struct err_line l;

	if (!excerpt)
		return false;
	err_walk_init(&w, excerpt, strlen(excerpt));
	while (err_walk_next(&w, &l, &k)) {
		if (errors_only && k != ERR_LINE_ERROR && k != ERR_LINE_SUMMARY)
			continue;
		if (k != ERR_LINE_NOISE && err_line_has(l, pattern)) {
			*found = l;
			return true;
		}
	}
	return false;
}

/* Does the rule's pattern occur where it should? *found is the text it is in. */
static bool rule_text_matches(const struct cause_rule *r, const crpc_error *e, struct err_line *found)
{
	const char *msg = err_useful_errmsg(e);

	if ((r->where & IN_ERRMSG) && msg && strstr(msg, r->pattern)) {
		*found = (struct err_line){ msg, strlen(msg) };
		return true;
	}
	if ((r->where & (IN_LOG | IN_LOG_ALL)) &&
	    excerpt_has(e->log_excerpt, r->pattern, !(r->where & IN_LOG_ALL), found))
		return true;
	if ((r->where & IN_MESSAGE) && e->message && strstr(e->message, r->pattern)) {
		*found = (struct err_line){ e->message, strlen(e->message) };
		return true;
	}
	return false;
}

static bool rule_matches(const struct cause_rule *r, const crpc_error *e, const char *op, bool root,
			 struct err_line *found)
{
	if (r->op && (!op || strcmp(r->op, op) != 0))
		return false;
	if ((r->flags & ONLY_NONROOT) && root)
		return false;
	if (r->errnum && r->errnum != err_errno_abs(e->sys_errno) &&
	    r->errnum != err_errno_abs(e->criu_errno))
		return false;
	found->p = NULL;
	found->n = 0;
	if (r->pattern && !rule_text_matches(r, e, found))
		return false;
	return r->errnum || r->pattern;
}

/* The decimal number right after `after` in l, 0 if none or above max. */
static long number_after_max(struct err_line l, const char *after, long max)
{
	const char *p;
	size_t i, alen = strlen(after);
	long v = 0;

	if (!l.p)
		return 0;
	p = memmem(l.p, l.n, after, alen);
	if (!p)
		return 0;
	i = (size_t)(p - l.p) + alen;
	for (; i < l.n && l.p[i] >= '0' && l.p[i] <= '9'; i++) {
		v = v * 10 + (l.p[i] - '0');
		if (v > max)
			return 0;
	}
	return v;
}

static long number_after(struct err_line l, const char *after)
{
	return number_after_max(l, after, INT_MAX);
}

/*
 * The number after `after` in the last line of the excerpt that has one,
 * before the first error line holding `pattern`; 0 if none.
 */
static long number_before_error(const char *excerpt, const char *pattern, const char *after)
{
	struct err_line_walk w;
	enum err_line_kind k;
	struct err_line l;
	long last = 0;

	if (!excerpt)
		return 0;
	err_walk_init(&w, excerpt, strlen(excerpt));
	while (err_walk_next(&w, &l, &k)) {
		long v;

		if ((k == ERR_LINE_ERROR || k == ERR_LINE_SUMMARY) && err_line_has(l, pattern))
			return last;
		v = number_after_max(l, after, (long)UINT32_MAX);
		if (v > 0)
			last = v;
	}
	return 0;
}

/* Set the hint from a template, "{ino}" (every one) replaced by ino. */
static void set_hint_ino(crpc_error *e, const char *tmpl, long ino)
{
	char num[24];
	size_t nlen, n = 0, cap = strlen(tmpl) + 1;
	const char *p = tmpl, *at;
	char *out;

	nlen = (size_t)snprintf(num, sizeof(num), "%ld", ino);
	for (at = strstr(p, "{ino}"); at; at = strstr(at + 5, "{ino}"))
		cap += nlen;
	out = malloc(cap);
	if (!out)
		return;
	while ((at = strstr(p, "{ino}")) != NULL) {
		memcpy(out + n, p, (size_t)(at - p));
		n += (size_t)(at - p);
		memcpy(out + n, num, nlen);
		n += nlen;
		p = at + 5;
	}
	memcpy(out + n, p, strlen(p) + 1);
	crpc_error_set_hint(e, "%s", out);
	free(out);
}

/* Set the hint from a template, "{pid}" replaced by pid. */
static void set_hint_pid(crpc_error *e, const char *tmpl, long pid)
{
	const char *at = strstr(tmpl, "{pid}");

	if (!at) {
		crpc_error_set_hint(e, "%s", tmpl);
		return;
	}
	crpc_error_set_hint(e, "%.*s%ld%s", (int)(at - tmpl), tmpl, pid, at + strlen("{pid}"));
}

CRPC_API void crpc_error_classify(crpc_error *e, const char *op)
{
	bool root = geteuid() == 0;
	const struct cause_rule *r = NULL;
	struct err_line found = { NULL, 0 };
	size_t i;

	if (!e)
		return;
	if (e->cause != CRPC_CAUSE_UNKNOWN) {
		/* the caller knows better (e.g. CRIU died) */
		if (!e->hint && cause_hint(e->cause))
			crpc_error_set_hint(e, "%s", cause_hint(e->cause));
		return;
	}
	for (i = 0; i < sizeof(cause_rules) / sizeof(cause_rules[0]); i++) {
		if (rule_matches(&cause_rules[i], e, op, root, &found)) {
			r = &cause_rules[i];
			break;
		}
	}
	if (!r)
		return;
	e->cause = r->cause;
	if (r->exit_class != CRPC_EXIT_OK)
		e->exit_class = r->exit_class;
	if (e->hint)
		return;
	if (r->hint_ino) {
		long ino = number_before_error(e->log_excerpt, r->pattern, r->ino_before);

		if (ino > 0)
			set_hint_ino(e, r->hint_ino, ino);
		else
			crpc_error_set_hint(e, "%s", r->hint);
	} else if (r->hint && r->pid_after) {
		long pid = number_after(found, r->pid_after);

		if (pid > 0)
			set_hint_pid(e, r->hint, pid);
		else if (cause_hint(r->cause))
			crpc_error_set_hint(e, "%s", cause_hint(r->cause));
	} else if (r->hint) {
		crpc_error_set_hint(e, "%s", r->hint);
	} else if (cause_hint(r->cause)) {
		crpc_error_set_hint(e, "%s", cause_hint(r->cause));
	}
}
