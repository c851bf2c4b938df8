/* SPDX-License-Identifier: MIT */
/* cmd_restore.c - crpc restore DIR, detached or --wait. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "jsonutil.h"

const char crpc_help_restore[] =
	"Usage: crpc restore [OPTIONS] DIR\n"
	"\n"
	"Restore the process tree checkpointed in DIR, with the PIDs it had. By default\n"
	"the tree runs detached and crpc prints the restored root's PID. With --wait,\n"
	"crpc stays the tree's parent, forwards SIGINT, SIGTERM and SIGHUP to the\n"
	"restored root and exits with the root's exit status (128+N if signal N ended\n"
	"it). Must run as root.\n"
	"\n"
	"Before calling CRIU, crpc verifies the checkpoint against its manifest,\n"
	"DIR/crpc.json, written by crpc dump once the dump was complete: every image\n"
	"file must be there with the size and digest the manifest lists, and no image\n"
	"file may be added. A checkpoint without crpc.json (an interrupted dump, a\n"
	"plain `criu dump`) or with a changed file is refused (exit 1) unless --force\n"
	"is given. crpc also checks that every PID of the tree is free; a PID held by\n"
	"a zombie is waited for (see --pid-wait), a PID held by a live process fails\n"
	"at once, naming its command. A tree whose root was the init of a PID\n"
	"namespace of its own comes back in new namespaces instead (the init's PID\n"
	"outside them is new), with the root, the files it held from outside its\n"
	"mount namespace and the outside ends of its veth pairs recorded in\n"
	"crpc.json given back to CRIU (--inherit-fd and --external override them).\n"
	"\n"
	"The options the dump needed are taken from crpc.json: the restore-side\n"
	"counterparts of tcp_established, tcp_close, ext_unix_sk, shell_job,\n"
	"file_locks, manage_cgroups, network_lock, empty_ns and the mount namespace's\n"
	"auto_ext_mnt, ext_sharing, ext_masters, each printed as\n"
	"'crpc: from the checkpoint: OPTION (dump: REASON)'. What you set on the\n"
	"command line or in the configuration wins (--tcp-close keeps\n"
	"tcp_established off); --no-checkpoint-options turns this off. A pipe the\n"
	"tree shared with a process outside it (e.g. its stdout read by `cat`) is\n"
	"given back to the restored tree when that process still holds it. A UNIX\n"
	"socket the dump declared external (its peer was outside the tree) needs a\n"
	"replacement: --inherit-fd 'fd[N]:socket:[INODE]'; without one the restore\n"
	"is refused before CRIU runs.\n"
	"\n"
	"Options:\n"
	"  -w, --wait              stay the tree's parent and exit with the root's status\n"
	"      --pid-wait SECONDS  how long to wait for zombies holding the tree's PIDs\n"
	"                          (default 5, decimals allowed, 0 to not wait)\n" CRPC_OPTS_TABLE(
		CLI_HELP_RESTORE) "      --no-checkpoint-options\n"
				  "                          take no option from the checkpoint's crpc.json and\n"
				  "                          re-attach no pipe: only what is given here and in\n"
				  "                          the configuration\n" CRPC_OPTS_TABLE(
					  CLI_HELP_RESTORE_LAST) "      --force             restore without verifying the checkpoint against its\n"
								 "                          manifest (crpc.json): missing, unfinished or modified\n"
								 "                          checkpoints are accepted\n"
								 "      --trust-owner USER  also trust DIR and files of USER (name or uid); by\n"
								 "                          default everything in DIR must be root's or yours and\n"
								 "                          writable by nobody else, even with --force\n"
								 "      --trusted-keys DIR  the public keys (DIR/NAME.pub) a signature of the\n"
								 "                          checkpoint is checked against (default:\n"
								 "                          $CRPC_TRUSTED_KEYS, signing: trusted_keys in the\n"
								 "                          configuration, else " CRPC_TRUSTED_KEYS_DEFAULT
								 ")\n"
								 "      --require-signature refuse a checkpoint not signed by a trusted key (a\n"
								 "                          bad signature is always refused); not with --force\n"
								 "      --hook CALLBACK=COMMAND\n"
								 "                          also run COMMAND (through /bin/sh) at CRIU's CALLBACK,\n"
								 "                          e.g. --hook post-restore='logger restored' (repeatable)\n"
								 "      --name NEW          a container's checkpoint: restore it as a new container\n"
								 "                          named NEW\n"
								 "      --runc-root DIR     runc's state directory (default: the one of the dump)\n" CRPC_CLI_HELP_COMMON
								 "\n"
								 "A container's checkpoint (crpc dump CONTAINER DIR) is restored through the\n"
								 "engine crpc.json names, with crpc as the CRIU of that call: into the same\n"
								 "container when it exists and is stopped, else recreated from what crpc.json\n"
								 "recorded (runc: its bundle; podman: its export), or as --name NEW. It runs\n"
								 "detached, managed by its engine (--wait is refused).\n"
								 "\n"
								 "Examples:\n"
								 "  crpc restore /var/tmp/ckpt\n"
								 "  crpc restore --wait /var/tmp/ckpt; echo \"exit status $?\"\n"
								 "  crpc restore --json --pid-wait 10 /var/tmp/ckpt\n"
								 "  crpc restore --force /var/tmp/images-of-criu-dump\n"
								 "  crpc restore --name web2 /var/tmp/web\n"
								 "\n" CRPC_CLI_HELP_EXIT_CODES
								 "With --wait, once the tree is restored the exit code is the restored root's.\n"
								 "A signal crpc was started with as ignored (e.g. SIGINT in a background job of\n"
								 "a script) stays ignored and is not forwarded.\n";

enum {
	OPT_PID_WAIT = CLI_OPT_FIRST_CMD,
	OPT_HOOK,
	OPT_FORCE,
	OPT_NO_CKPT_OPTS,
	OPT_TRUST_OWNER,
	OPT_NAME,
	OPT_RUNC_ROOT,
	OPT_TRUSTED_KEYS,
	OPT_REQUIRE_SIG,
};

static const struct option restore_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "wait", no_argument, NULL, 'w' },
	{ "pid-wait", required_argument, NULL, OPT_PID_WAIT },
	CRPC_OPTS_TABLE(CLI_LONGOPTS_RESTORE)
		CRPC_OPTS_TABLE(CLI_LONGOPTS_RESTORE_LAST){ "hook", required_argument, NULL, OPT_HOOK },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "no-checkpoint-options", no_argument, NULL, OPT_NO_CKPT_OPTS },
	{ "trust-owner", required_argument, NULL, OPT_TRUST_OWNER },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "runc-root", required_argument, NULL, OPT_RUNC_ROOT },
	{ "trusted-keys", required_argument, NULL, OPT_TRUSTED_KEYS },
	{ "require-signature", no_argument, NULL, OPT_REQUIRE_SIG },
	{ NULL, 0, NULL, 0 },
};

#define PID_WAIT_MAX_S 3600.0

typedef struct restore_ctx {
	crpc_cli *cli;
	const char *dir;
	bool wait;
	unsigned pid_wait_ms;
	crpc_opts opts;    /* the command line's */
	bool force;        /* --force: no verification */
	bool no_ckpt_opts; /* --no-checkpoint-options */
	uid_t trust_owner; /* --trust-owner, (uid_t)-1 if none */
	const char *name;  /* --name */
	crpc_engine_env engines;
	const char *trusted_keys; /* --trusted-keys */
	bool require_signature;   /* --require-signature */
} restore_ctx;

/* "5", "0.5", "2.", ".25": digits and at most one dot, nothing else. */
static int parse_seconds(const char *s, unsigned *ms)
{
	bool digit = false, dot = false;
	char *end;
	double v;

	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digit = true;
		else if (*p == '.' && !dot)
			dot = true;
		else
			return -1;
	}
	if (!digit)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > PID_WAIT_MAX_S)
		return -1;
	*ms = (unsigned)(v * 1000.0 + 0.5);
	return 0;
}

static json_t *pids_json(const crpc_pstree *t)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < t->n_tasks; i++)
		crpc_cli_jappend(a, json_integer(t->tasks[i].pid));
	return a;
}

/* [{"option", "value", "source", "reason"}]: reason is the dump's, or why not applied. */
static json_t *ckpt_options_json(const crpc_manifest_options *l, const char *why_key)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < l->n; i++) {
		json_t *o = crpc_cli_jobj();

		crpc_cli_jset(o, "option", crpc_cli_jstr(l->v[i].option));
		crpc_cli_jset(o, "value", crpc__json_option_value(l->v[i].value));
		crpc_cli_jset(o, "source", crpc_cli_jstr(l->v[i].source));
		crpc_cli_jset(o, why_key, crpc_cli_jstr(l->v[i].reason));
		crpc_cli_jappend(a, o);
	}
	return a;
}

static json_t *holder_json(const crpc_manifest_pipe_holder *h)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "pid", json_integer(h->pid));
	crpc_cli_jset(o, "fd", json_integer(h->fd));
	crpc_cli_jset(o, "comm", crpc_cli_jstr(h->comm[0] ? h->comm : NULL));
	return o;
}

/* The outside pipes: [{"key", "inode", "tree_end", "reattached", "holder", "why"}]. */
static json_t *pipes_json(const crpc_pipe_attachments *p)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < p->n; i++) {
		const crpc_pipe_attach *x = &p->v[i];
		json_t *o = crpc_cli_jobj();

		crpc_cli_jset(o, "key", crpc_cli_jstr(x->key));
		crpc_cli_jset(o, "inode", json_integer(x->inode));
		crpc_cli_jset(o, "tree_end", crpc_cli_jstr(x->tree_writes ? "write" : "read"));
		crpc_cli_jset(o, "reattached", json_boolean(x->reattached));
		crpc_cli_jset(o, "by_user", json_boolean(x->user));
		crpc_cli_jset(o, "holder", x->holder.pid > 0 ? holder_json(&x->holder) : json_null());
		crpc_cli_jset(o, "why", crpc_cli_jstr(!x->reattached && !x->user ? x->why : NULL));
		crpc_cli_jappend(a, o);
	}
	return a;
}

/* What the restore took from the checkpoint, into a JSON document (r may be NULL). */
static void ckpt_json(const crpc_checkpoint_result *r, json_t *doc)
{
	static const crpc_manifest_options none;
	static const crpc_pipe_attachments no_pipes;

	crpc_cli_jset(doc, "checkpoint_options", ckpt_options_json(r ? &r->applied : &none, "reason"));
	crpc_cli_jset(doc, "checkpoint_options_not_applied",
		      ckpt_options_json(r ? &r->not_applied : &none, "why"));
	crpc_cli_jset(doc, "outside_pipes", pipes_json(r ? &r->pipes : &no_pipes));
}

static json_t *base_json(restore_ctx *c, const crpc_checkpoint_result *r)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "images_dir", crpc_cli_jstr(r ? r->images_dir : c->dir));
	if (r && r->verified && r->check.verdict != CRPC_MANIFEST_OK)
		crpc_cli_jset(o, "verification", crpc_cli_check_json(&r->check));
	ckpt_json(r, o);
	return o;
}

/* Every problem after the first (the error names that one), for stderr. */
static void print_more_problems(const crpc_checkpoint_result *r)
{
	for (size_t i = 1; i < r->check.n_mismatches; i++) {
		const crpc_file_mismatch *m = &r->check.mismatches[i];

		switch (m->problem) {
		case CRPC_FILE_CHECKSUM:
			if (strcmp(m->name, CRPC_MANIFEST_NAME) == 0)
				fprintf(stderr,
					"  also: %s was changed after the dump (it records the checksum "
					"%s of its content, the content has %s)\n",
					m->name, m->expected_sha256, m->sha256);
			else
				fprintf(stderr, "  also: %s %s mismatch (expected %s, got %s)\n", m->name,
					r->check.digest ? r->check.digest : "sha256", m->expected_sha256,
					m->sha256);
			break;
		case CRPC_FILE_SIZE:
			fprintf(stderr, "  also: %s has %llu bytes, crpc.json lists %llu\n", m->name,
				(unsigned long long)m->size, (unsigned long long)m->expected_size);
			break;
		default:
			fprintf(stderr, "  also: %s: %s\n", m->name, crpc_file_problem_name(m->problem));
			break;
		}
	}
}

/* Report a failure (r may be NULL: the configuration failed) and free err. */
static int fail(restore_ctx *c, const crpc_checkpoint_result *r, crpc_error *err)
{
	int rc;

	if (r && r->verified && r->check.n_mismatches > 1 && !c->cli->json)
		print_more_problems(r);
	rc = crpc_cli_fail(c->cli, err, base_json(c, r), NULL);

	crpc_error_free(err);
	return rc;
}

/* --inherit-fd fd[N]:KEY (CRIU's form): N must be open, 3 or above. */
static int parse_inherit_fd(restore_ctx *c, char *arg)
{
	char *end;
	long fd;
	int fl;

	if (strncmp(arg, "fd[", 3) != 0 || arg[3] < '0' || arg[3] > '9') {
		crpc_cli_usage_errorf(c->cli,
				      "invalid --inherit-fd '%s': expected fd[N]:KEY, e.g. "
				      "'fd[3]:socket:[12345]'",
				      arg);
		return -1;
	}
	errno = 0;
	fd = strtol(arg + 3, &end, 10);
	if (errno || fd > INT_MAX || strncmp(end, "]:", 2) != 0 || !end[2]) {
		crpc_cli_usage_errorf(c->cli,
				      "invalid --inherit-fd '%s': expected fd[N]:KEY, e.g. "
				      "'fd[3]:socket:[12345]'",
				      arg);
		return -1;
	}
	if (fd < 3) {
		crpc_cli_usage_errorf(c->cli,
				      "--inherit-fd '%s': fd %ld cannot be passed (CRIU's stdin, "
				      "stdout and stderr are its own): use 3 or above",
				      arg, fd);
		return -1;
	}
	fl = fcntl((int)fd, F_GETFD);
	if (fl < 0) {
		crpc_cli_usage_errorf(c->cli,
				      "--inherit-fd '%s': fd %ld is not open in crpc (open it in "
				      "the shell, e.g. %ld<>PATH)",
				      arg, fd, fd);
		return -1;
	}
	/* CRIU, started later, must inherit it */
	if ((fl & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, fl & ~FD_CLOEXEC) < 0) {
		crpc_cli_usage_errorf(c->cli, "--inherit-fd '%s': cannot pass fd %ld: %s", arg, fd,
				      strerror(errno));
		return -1;
	}
	if (crpc_opts_add_inherit_fd(&c->opts, end + 2, (int)fd, NULL) < 0) {
		crpc_cli_usage_errorf(c->cli, "cannot add --inherit-fd '%s': out of memory", arg);
		return -1;
	}
	return 0;
}

static void summary(restore_ctx *c, const crpc_checkpoint_result *r, json_t **doc_out)
{
	const char *dir = r->images_dir;
	char logp[PATH_MAX + 16], sz[32], tm[32];
	FILE *out = c->wait ? stderr : stdout;

	snprintf(logp, sizeof(logp), "%s/%s", dir, r->log_file);

	if (c->cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "operation", crpc_cli_jstr("restore"));
		crpc_cli_jset(doc, "pid", json_integer(r->pid));
		if (r->is_container)
			crpc_cli_jset(doc, "container", crpc_cli_container_json(&r->container));
		crpc_cli_jset(doc, "pids", pids_json(&r->tree));
		crpc_cli_jset(doc, "images_dir", crpc_cli_jstr(dir));
		crpc_cli_jset(doc, "image_bytes",
			      r->have_image_bytes ? json_integer((json_int_t)r->image_bytes) : json_null());
		crpc_cli_jset(doc, "wall_time_ms", json_real(r->wall_seconds * 1e3));
		crpc_cli_jset(doc, "log_file", crpc_cli_jstr(logp));
		crpc_cli_jset(doc, "notifications", json_integer(r->notifications));
		crpc_cli_jset(doc, "criu", crpc_cli_result_criu_json(r));
		crpc_cli_jset(doc, "stats",
			      r->have_stats ? crpc_cli_stats_json(&r->stats, true) : json_null());
		crpc_cli_jset(doc, "wait", json_boolean(c->wait));
		ckpt_json(r, doc);
		if (r->verified) {
			json_t *v = crpc_cli_jobj();

			crpc_cli_jset(v, "files", json_integer((json_int_t)r->check.st.files));
			crpc_cli_jset(v, "bytes", json_integer((json_int_t)r->check.st.bytes));
			crpc_cli_jset(v, "hash_time_ms", json_real(r->check.st.hash_seconds * 1e3));
			crpc_cli_jset(doc, "verified", v);
			crpc_cli_jset(doc, "signature", crpc_cli_signature_json(&r->signature));
		} else {
			crpc_cli_jset(doc, "verified", json_null());
		}
		*doc_out = doc;
		return;
	}
	crpc_cli_fmt_figures(r, tm, sizeof(tm), sz, sizeof(sz));
	if (r->is_container) {
		char label[300];

		fprintf(out, "Restored %s (%s, init PID %d) from %s\n",
			crpc_cli_container_label(&r->container, label, sizeof(label)), r->container.id,
			(int)r->pid, dir);
		fprintf(out, "  engine:        %s %s, container %s\n", r->container.engine,
			r->container.engine_version, r->container.state);
	} else {
		fprintf(out, "Restored PID %d from %s\n", (int)r->pid, dir);
	}
	if (r->tree.n_tasks > 1) {
		fprintf(out, "  processes:     %zu (", r->tree.n_tasks);
		for (size_t i = 0; i < r->tree.n_tasks; i++)
			fprintf(out, "%s%d", i ? " " : "", (int)r->tree.tasks[i].pid);
		fprintf(out, ")\n");
	}
	fprintf(out, "  image size:    %s\n", sz);
	if (r->verified) {
		char vb[32], vt[32];

		crpc_cli_fmt_size(r->check.st.bytes, vb, sizeof(vb));
		crpc_cli_fmt_seconds(r->check.st.hash_seconds, vt, sizeof(vt));
		fprintf(out, "  verified:      %zu files (%s) against %s, %s in %s\n", r->check.st.files, vb,
			CRPC_MANIFEST_NAME, r->check.digest ? r->check.digest : "sha256", vt);
		crpc_cli_signature_print(out, &r->signature, NULL);
	} else {
		fprintf(out, "  verified:      no (--force)\n");
	}
	fprintf(out, "  wall time:     %s\n", tm);
	if (r->have_stats)
		crpc_cli_stats_print(out, &r->stats, true);
	/* an engine's restore may keep CRIU's log elsewhere (docker: containerd's work directory) */
	if (!r->is_container || access(logp, F_OK) == 0)
		fprintf(out, "  log:           %s\n", logp);
	fflush(out);
}

/* Record the exit of the root in the JSON document; return the exit code. */
static int root_status(restore_ctx *c, pid_t root, int status, json_t *doc)
{
	int code;

	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
		crpc_cli_info(c->cli, "PID %d exited with status %d", (int)root, code);
		crpc_cli_jset(doc, "exit_status", json_integer(code));
		crpc_cli_jset(doc, "signal", json_null());
	} else {
		int sig = WTERMSIG(status);
		const char *abbrev = sigabbrev_np(sig);
		char name[32];

		code = 128 + sig;
		snprintf(name, sizeof(name), "SIG%s", abbrev ? abbrev : "?");
		crpc_cli_info(c->cli, "PID %d was killed by signal %d (%s)", (int)root, sig, name);
		crpc_cli_jset(doc, "exit_status", json_integer(code));
		crpc_cli_jset(doc, "signal", crpc_cli_jstr(name));
	}
	return code;
}

int crpc_cmd_restore(crpc_cli *cli, int argc, char **argv)
{
	restore_ctx c;
	crpc_checkpoint_params p;
	crpc_checkpoint_result *res = NULL;
	crpc_error *err = NULL;
	json_t *doc = NULL;
	int rc, opt, status;

	memset(&c, 0, sizeof(c));
	c.cli = cli;
	c.pid_wait_ms = 5000;
	c.trust_owner = (uid_t)-1;
	crpc_opts_init(&c.opts); /* log level and file: defaults once the configuration is read */
	crpc_engine_env_init(&c.engines);
	cli->usage = "crpc restore [OPTIONS] DIR";

	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hvw", restore_options)) != -1) {
		switch (opt) {
		case 'w':
			c.wait = true;
			break;
		case OPT_PID_WAIT:
			if (parse_seconds(optarg, &c.pid_wait_ms) < 0)
				crpc_cli_usage_errorf(cli,
						      "invalid --pid-wait '%s': must be a number of "
						      "seconds from 0 to %.0f",
						      optarg, PID_WAIT_MAX_S);
			break;
		case OPT_HOOK:
			crpc_cli_add_hook_arg(cli, optarg);
			break;
		case OPT_FORCE:
			c.force = true;
			break;
		case OPT_TRUSTED_KEYS:
			c.trusted_keys = optarg;
			break;
		case OPT_REQUIRE_SIG:
			c.require_signature = true;
			break;
		case OPT_TRUST_OWNER:
			if (crpc_cli_parse_user(optarg, &c.trust_owner) < 0)
				crpc_cli_usage_errorf(cli, "--trust-owner: no user '%s'", optarg);
			break;
		case CLI_OPT_ID(inherit_fd):
			parse_inherit_fd(&c, optarg);
			break;
		case OPT_NO_CKPT_OPTS:
			c.no_ckpt_opts = true;
			break;
		case OPT_NAME:
			c.name = optarg;
			break;
		case OPT_RUNC_ROOT:
			c.engines.runc_root = optarg;
			break;
		default:
			if (!cli_opt_apply(cli, "restore", &c.opts, opt, optarg))
				crpc_cli_usage_errorf(cli, "unhandled option");
			break;
		}
	}
	if (crpc_cli_early_exit(cli, crpc_help_restore, &rc))
		goto out;
	rc = crpc_cli_operand(cli, argc, argv, "DIR", &c.dir);
	if (rc)
		goto out;
	snprintf(cli->trace_target, sizeof(cli->trace_target), "%s", c.dir);
	/* the configuration; the library does the rest (crpc/checkpoint.h) */
	if (crpc_cli_checkpoint_params(cli, &p, &err) < 0) {
		rc = fail(&c, NULL, err);
		goto out;
	}
	p.dir = c.dir;
	p.opts = &c.opts;
	p.force = c.force;
	p.no_checkpoint_options = c.no_ckpt_opts;
	p.trust_owner = c.trust_owner;
	p.trusted_keys = c.trusted_keys;
	p.require_signature = c.require_signature;
	p.wait = c.wait;
	p.pid_wait_ms = c.pid_wait_ms;
	p.new_name = c.name;
	p.engine_env = &c.engines;
	rc = crpc_checkpoint_restore(&p, &res, &err);
	crpc_cli_checkpoint_taken(cli, res, rc < 0 ? err : NULL);
	if (rc < 0) {
		rc = fail(&c, res, err);
		goto out;
	}
	summary(&c, res, &doc);

	if (!c.wait) {
		rc = res->hook_failed ? CLI_EXIT_HOOK_WARNING : 0;
		if (doc && crpc_cli_emit(doc) < 0)
			rc = CRPC_EXIT_FAIL;
		doc = NULL;
		goto out;
	}
	if (!doc)
		doc = crpc_cli_jobj(); /* collects the exit status; printed only with --json */
	if (crpc_checkpoint_wait(res, &p, &status, &err) < 0) {
		json_decref(doc);
		doc = NULL;
		rc = fail(&c, res, err);
		goto out;
	}
	rc = root_status(&c, res->pid, status, doc);
	if (cli->json && crpc_cli_emit(doc) < 0 && rc == 0)
		rc = CRPC_EXIT_FAIL;
	if (!cli->json)
		json_decref(doc);
	doc = NULL;

out:
	json_decref(doc);
	crpc_checkpoint_result_free(res);
	crpc_cli_config_release(cli);
	crpc_opts_release(&c.opts);
	return rc;
}
