/* SPDX-License-Identifier: MIT */
/* cmd_dump.c - crpc dump PID DIR (alias checkpoint). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_dump[] =
	"Usage: crpc dump [OPTIONS] PID|CONTAINER DIR\n"
	"       crpc checkpoint [OPTIONS] PID|CONTAINER DIR\n"
	"\n"
	"Checkpoint the process tree rooted at PID into the directory DIR. DIR is\n"
	"created (mode 0700) if it does not exist; its parent must exist. By default\n"
	"the process tree is killed once its checkpoint is complete. Must run as root.\n"
	"\n"
	"Options:\n" CRPC_OPTS_TABLE(CLI_HELP_DUMP) CRPC_OPTS_TABLE(
		CLI_HELP_DUMP_LAST) "      --digest blake3|sha256\n"
				    "                          the digest crpc.json lists every file with (default:\n"
				    "                          integrity: digest in the configuration, else blake3;\n"
				    "                          check with b3sum or sha256sum)\n"
				    "      --force             overwrite a checkpoint already in DIR\n"
				    "      --hook CALLBACK=COMMAND\n"
				    "                          also run COMMAND (through /bin/sh) at CRIU's CALLBACK,\n"
				    "                          e.g. --hook post-dump='sync' (repeatable; see crpc.yaml(5))\n"
				    "      --no-auto           do not inspect the tree first nor add the options it needs\n"
				    "      --runc-root DIR     runc's state directory for runc:ID (runc --root)\n"
				    "      --sign-key FILE     sign crpc.json with this Ed25519 private key (default:\n"
				    "                          $CRPC_SIGNING_KEY, signing: key in the configuration,\n"
				    "                          else " CRPC_SIGNING_KEY_DEFAULT
				    " if it exists; \"\" signs\n"
				    "                          nothing); see crpc key generate\n" CRPC_CLI_HELP_COMMON
				    "\n"
				    "First crpc inspects the tree as 'crpc inspect' does and adds the CRIU options\n"
				    "it needs (tcp_established, ext_unix_sk, shell_job, file_locks, ghost_limit,\n"
				    "link_remap, ...), printing each with its reason ('crpc: auto: ...'); options\n"
				    "given here or in the configuration win. A blocker (a traced task, io_uring, a\n"
				    "missing kernel feature, ...) stops the dump before CRIU is started, the tree\n"
				    "untouched (exit 1). --no-auto turns this off.\n"
				    "Before calling CRIU, crpc refuses PID 1, its own PID and its ancestors,\n"
				    "kernel threads, zombies and threads (give the process ID), a DIR that is not a\n"
				    "writable directory, a DIR of another user, a DIR that holds other files than\n"
				    "a crpc checkpoint's, and a DIR that already holds a checkpoint (unless\n"
				    "--force, which replaces only the files its crpc.json lists). An existing DIR\n"
				    "is made private (mode 0700): it will hold the tree's memory.\n"
				    "A dump is complete only once CRIU succeeded and the post-dump hooks passed:\n"
				    "then crpc writes DIR/crpc.json, a manifest of the checkpoint (versions,\n"
				    "options, process tree, every file's size and BLAKE3 or SHA-256) that crpc restore\n"
				    "verifies. A DIR that does not exist yet is written as DIR.crpc-tmp-XXXXXX and\n"
				    "renamed to DIR once complete; an existing DIR is written in place, marked\n"
				    "unfinished until then. If the dump fails, the image files are removed and\n"
				    "DIR/dump.log is kept; a dump that is killed leaves no DIR restore accepts.\n"
				    "Options from the configuration file's dump: section apply under those given\n"
				    "here; its hooks run at CRIU's notifications, their output in DIR/hooks.log.\n"
				    "A CONTAINER is runc:ID, podman:NAME|ID, docker:NAME|ID, or a name that is not\n"
				    "a number, looked up at every engine installed. crpc inspects the container's\n"
				    "tree, then has its engine checkpoint it with crpc as the CRIU of that call:\n"
				    "the hooks, --hook, --trace and the automatic options apply to it, hooks see\n"
				    "CRPC_CONTAINER_ENGINE, CRPC_CONTAINER_ID, CRPC_CONTAINER_NAME. DIR also gets\n"
				    "the session's trace (dump.trace) and the container's record in crpc.json;\n"
				    "crpc restore DIR restores it through its engine.\n"
				    "\n"
				    "Examples:\n"
				    "  crpc dump 1234 /var/tmp/ckpt\n"
				    "  crpc dump --leave-running --tcp-established 1234 /var/tmp/ckpt\n"
				    "  crpc checkpoint --force --json -v 1234 /var/tmp/ckpt\n"
				    "  crpc dump --leave-running podman:web /var/tmp/web\n"
				    "\n" CRPC_CLI_HELP_EXIT_CODES;

enum {
	OPT_FORCE = CLI_OPT_FIRST_CMD,
	OPT_DIGEST,
	OPT_HOOK,
	OPT_NO_AUTO,
	OPT_RUNC_ROOT,
	OPT_SIGN_KEY,
};

static const struct option dump_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	CRPC_OPTS_TABLE(CLI_LONGOPTS_DUMP)
		CRPC_OPTS_TABLE(CLI_LONGOPTS_DUMP_LAST){ "digest", required_argument, NULL, OPT_DIGEST },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "hook", required_argument, NULL, OPT_HOOK },
	{ "no-auto", no_argument, NULL, OPT_NO_AUTO },
	{ "runc-root", required_argument, NULL, OPT_RUNC_ROOT },
	{ "sign-key", required_argument, NULL, OPT_SIGN_KEY },
	{ NULL, 0, NULL, 0 },
};

typedef struct dump_ctx {
	crpc_cli *cli;
	pid_t pid;
	const char *target; /* a container, or NULL */
	const char *dir;    /* as given */
	crpc_engine_env engines;
	bool force;
	const char *sign_key; /* --sign-key, NULL if not given */
	crpc_digest digest;   /* --digest, CRPC_DIGEST_DEFAULT if not given */
	crpc_opts opts;       /* the command line's */
	struct {
		bool disabled; /* --no-auto */
	} autoopt;
} dump_ctx;

/* ---- the JSON and human forms of the result ---- */

static json_t *value_json(const char *v)
{
	const char *p = v;

	if (strcmp(v, "true") == 0)
		return json_true();
	if (strcmp(v, "false") == 0)
		return json_false();
	while (*p && isdigit((unsigned char)*p))
		p++;
	if (*v && !*p && p - v < 19)
		return json_integer((json_int_t)strtoll(v, NULL, 10));
	return crpc_cli_jstr(v);
}

/* [{"option", "value", "reason", "source": "auto"}]: the automatic options in effect. */
static json_t *auto_json(const crpc_checkpoint_result *r)
{
	json_t *arr = crpc_cli_jarray();

	for (size_t i = 0; i < r->options.n; i++) {
		const crpc_opt_reason *e = &r->options.v[i];
		json_t *o;

		if (e->source != CRPC_OPT_SOURCE_AUTO)
			continue;
		o = crpc_cli_jobj();
		crpc_cli_jset(o, "option", crpc_cli_jstr(e->option));
		crpc_cli_jset(o, "value", value_json(e->value));
		crpc_cli_jset(o, "reason", crpc_cli_jstr(e->reason));
		crpc_cli_jset(o, "source", crpc_cli_jstr(crpc_opt_source_name(e->source)));
		if (e->overrides)
			crpc_cli_jset(o, "overrides_auto", json_true());
		crpc_cli_jappend(arr, o);
	}
	return arr;
}

/* After a failed dump: what became of the target. Appends to human/json. */
static void target_json(const crpc_checkpoint_result *r, json_t *extra, char *human, size_t humansz)
{
	const crpc_checkpoint_target *x = &r->target;
	json_t *t = crpc_cli_jobj();

	crpc_cli_jset(t, "pid", json_integer(r->pid));
	if (!x->exists) {
		snprintf(human, humansz, "crpc: target PID %d no longer exists\n", (int)r->pid);
		crpc_cli_jset(t, "running", json_false());
		crpc_cli_jset(t, "exists", json_boolean(false));
	} else {
		if (!x->running)
			snprintf(human, humansz, "crpc: target PID %d (%s) exists but is stopped\n",
				 (int)r->pid, x->comm);
		else if (x->sent_sigcont)
			snprintf(human, humansz,
				 "crpc: target PID %d (%s) was left stopped; crpc sent it SIGCONT and it "
				 "is running again\n",
				 (int)r->pid, x->comm);
		else
			snprintf(human, humansz, "crpc: target PID %d (%s) is still running\n", (int)r->pid,
				 x->comm);
		crpc_cli_jset(t, "exists", json_true());
		crpc_cli_jset(t, "running", json_boolean(x->running));
	}
	crpc_cli_jset(t, "sent_sigcont", json_boolean(x->sent_sigcont));
	crpc_cli_jset(extra, "target", t);
}

/* The blockers that stopped the dump before CRIU: the failure with one line per reason. */
static int fail_blocked(dump_ctx *c, const crpc_checkpoint_result *r, const crpc_error *err)
{
	const crpc_verdict *v = &r->verdict;
	json_t *extra = crpc_cli_jobj();
	char *human = NULL;
	size_t hlen = 0;
	FILE *hf;
	int rc;

	hf = open_memstream(&human, &hlen);
	if (hf) {
		for (size_t i = 0; i < v->n_blockers; i++)
			fprintf(hf, "  blocker: %s: %s\n", v->blockers[i].name, v->blockers[i].reason);
		fclose(hf);
	}
	crpc_cli_jset(extra, "pid", json_integer(r->pid));
	if (c->target)
		crpc_cli_jset(extra, "target", crpc_cli_jstr(c->target));
	if (r->is_container)
		crpc_cli_jset(extra, "container", crpc_cli_container_json(&r->container));
	crpc_cli_jset(extra, "images_dir", crpc_cli_jstr(c->dir));
	crpc_cli_jset(extra, "blockers",
		      crpc_cli_verdict_items_json(v->blockers, v->n_blockers, "blocker", false));
	crpc_cli_jset(extra, "auto", crpc_cli_verdict_items_json(v->options, v->n_options, "option", true));
	rc = crpc_cli_fail(c->cli, err, extra, human);
	free(human);
	return rc ? rc : CRPC_EXIT_FAIL;
}

/* Report a failure (r may be NULL: the configuration failed) and free err. */
static int fail(dump_ctx *c, const crpc_checkpoint_result *r, crpc_error *err)
{
	crpc_checkpoint_step step = r ? r->failed_step : CRPC_CHECKPOINT_PREPARE;
	json_t *extra = NULL;
	char human[512] = "";
	int rc;

	if (step == CRPC_CHECKPOINT_BLOCKED) {
		rc = fail_blocked(c, r, err);
		crpc_error_free(err);
		return rc;
	}
	if (step != CRPC_CHECKPOINT_INSPECT || (err && err->cause == CRPC_CAUSE_NO_PROCESS)) {
		extra = crpc_cli_jobj();
		crpc_cli_jset(extra, "pid", c->target && r ? json_integer(r->pid) : json_integer(c->pid));
		if (c->target)
			crpc_cli_jset(extra, "target", crpc_cli_jstr(c->target));
		if (r && r->is_container)
			crpc_cli_jset(extra, "container", crpc_cli_container_json(&r->container));
		/* the inspection names DIR as given */
		crpc_cli_jset(extra, "images_dir",
			      crpc_cli_jstr(r && step != CRPC_CHECKPOINT_INSPECT ? r->images_dir : c->dir));
	}
	if (r && r->auto_ran && step != CRPC_CHECKPOINT_INSPECT)
		crpc_cli_jset(extra, "auto", auto_json(r));
	if (r && r->target.checked)
		target_json(r, extra, human, sizeof(human));
	rc = crpc_cli_fail(c->cli, err, extra, human);
	crpc_error_free(err);
	return rc;
}

/* Hashing speed in MB/s (10^6 bytes). */
static double hash_rate(const crpc_manifest_stats *m)
{
	return m->hash_seconds > 0 ? (double)m->bytes / m->hash_seconds / 1e6 : 0.0;
}

static json_t *manifest_json(const crpc_checkpoint_result *r)
{
	json_t *o = crpc_cli_jobj();
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", r->images_dir, CRPC_MANIFEST_NAME);
	crpc_cli_jset(o, "path", crpc_cli_jstr(path));
	crpc_cli_jset(o, "files", json_integer((json_int_t)r->manifest.files));
	crpc_cli_jset(o, "bytes", json_integer((json_int_t)r->manifest.bytes));
	crpc_cli_jset(o, "digest", crpc_cli_jstr(r->manifest.digest));
	crpc_cli_jset(o, "hash_time_ms", json_real(r->manifest.hash_seconds * 1e3));
	crpc_cli_jset(o, "sync_time_ms", json_real(r->manifest.sync_seconds * 1e3));
	crpc_cli_jset(o, "hash_mb_per_s", json_real(hash_rate(&r->manifest)));
	return o;
}

static void summary(dump_ctx *c, const crpc_checkpoint_result *r)
{
	const char *dir = r->images_dir;
	char logp[PATH_MAX + 16], sz[32], tm[32];

	snprintf(logp, sizeof(logp), "%s/%s", dir, r->log_file);
	if (c->cli->json) {
		json_t *doc = crpc_cli_jobj();

		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "operation", crpc_cli_jstr("dump"));
		crpc_cli_jset(doc, "pid", json_integer(r->pid));
		crpc_cli_jset(doc, "command", crpc_cli_jstr(r->comm));
		if (r->is_container)
			crpc_cli_jset(doc, "container", crpc_cli_container_json(&r->container));
		crpc_cli_jset(doc, "images_dir", crpc_cli_jstr(dir));
		crpc_cli_jset(doc, "image_bytes",
			      r->have_image_bytes ? json_integer((json_int_t)r->image_bytes) : json_null());
		crpc_cli_jset(doc, "wall_time_ms", json_real(r->wall_seconds * 1e3));
		crpc_cli_jset(doc, "leave_running", json_boolean(r->leave_running));
		crpc_cli_jset(doc, "log_file", crpc_cli_jstr(logp));
		crpc_cli_jset(doc, "notifications", json_integer(r->notifications));
		crpc_cli_jset(doc, "criu", crpc_cli_result_criu_json(r));
		crpc_cli_jset(doc, "stats",
			      r->have_stats ? crpc_cli_stats_json(&r->stats, false) : json_null());
		crpc_cli_jset(doc, "auto", auto_json(r));
		crpc_cli_jset(doc, "inspect_warnings",
			      crpc_cli_verdict_items_json(r->verdict.warnings, r->verdict.n_warnings,
							  "warning", false));
		crpc_cli_jset(doc, "manifest", manifest_json(r));
		crpc_cli_jset(doc, "signing_key_sha256",
			      r->signing_key_sha256[0] ? crpc_cli_jstr(r->signing_key_sha256) : json_null());
		crpc_cli_emit(doc);
		return;
	}
	crpc_cli_fmt_figures(r, tm, sizeof(tm), sz, sizeof(sz));
	if (r->is_container) {
		char label[300];

		printf("Checkpointed %s (%s, init PID %d) into %s\n",
		       crpc_cli_container_label(&r->container, label, sizeof(label)), r->container.id,
		       (int)r->pid, dir);
		printf("  engine:        %s %s\n", r->container.engine, r->container.engine_version);
		printf("  container:     %s\n", r->leave_running ? "left running" : "stopped after the dump");
	} else {
		printf("Checkpointed PID %d (%s) into %s\n", (int)r->pid, r->comm, dir);
		printf("  process:       %s\n", r->leave_running ? "left running" : "ended after the dump");
	}
	printf("  image size:    %s\n", sz);
	printf("  wall time:     %s\n", tm);
	if (r->have_stats)
		crpc_cli_stats_print(stdout, &r->stats, false);
	{
		char mb[32], mt[32];

		crpc_cli_fmt_size(r->manifest.bytes, mb, sizeof(mb));
		crpc_cli_fmt_seconds(r->manifest.hash_seconds, mt, sizeof(mt));
		printf("  manifest:      %s/%s: %zu files (%s), %s in %s (%.0f MB/s)\n", dir,
		       CRPC_MANIFEST_NAME, r->manifest.files, mb,
		       r->manifest.digest ? r->manifest.digest : "sha256", mt, hash_rate(&r->manifest));
	}
	if (r->signing_key_sha256[0])
		printf("  signed:        %s/%s, key %s\n", dir, CRPC_SIGNATURE_NAME, r->signing_key_sha256);
	if (!r->is_container || access(logp, F_OK) == 0)
		printf("  log:           %s\n", logp);
}

int crpc_cmd_dump(crpc_cli *cli, int argc, char **argv)
{
	dump_ctx c;
	crpc_checkpoint_params p;
	crpc_checkpoint_result *res = NULL;
	crpc_error *err = NULL;
	unsigned long pidv;
	int rc, opt;

	memset(&c, 0, sizeof(c));
	c.cli = cli;
	crpc_opts_init(&c.opts); /* log level and file: defaults once the configuration is read */
	crpc_engine_env_init(&c.engines);
	cli->usage = "crpc dump [OPTIONS] PID|CONTAINER DIR";

	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hvR", dump_options)) != -1) {
		switch (opt) {
		case OPT_FORCE:
			c.force = true;
			break;
		case OPT_HOOK:
			crpc_cli_add_hook_arg(cli, optarg);
			break;
		case OPT_SIGN_KEY:
			c.sign_key = optarg;
			break;
		case OPT_DIGEST:
			if (crpc_digest_parse(optarg, &c.digest) < 0)
				crpc_cli_usage_errorf(cli, "--digest: blake3 or sha256, got '%s'", optarg);
			break;
		case OPT_NO_AUTO:
			c.autoopt.disabled = true;
			break;
		case OPT_RUNC_ROOT:
			c.engines.runc_root = optarg;
			break;
		default:
			if (!cli_opt_apply(cli, "dump", &c.opts, opt, optarg))
				crpc_cli_usage_errorf(cli, "unhandled option");
			break;
		}
	}
	if (crpc_cli_early_exit(cli, crpc_help_dump, &rc))
		goto out;

	if (argc - optind < 2) {
		rc = crpc_cli_usage(cli, true, "missing %s", argc - optind == 0 ? "PID and DIR" : "DIR");
		goto out;
	}
	if (argc - optind > 2) {
		rc = crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind + 2]);
		goto out;
	}
	if (crpc_target_is_container(argv[optind])) {
		c.target = argv[optind];
		snprintf(cli->trace_target, sizeof(cli->trace_target), "%s", c.target);
	} else if (crpc_cli_parse_ulong(argv[optind], INT32_MAX, &pidv) < 0 || pidv == 0) {
		rc = crpc_cli_usage(cli, true, "invalid PID '%s': must be a positive integer", argv[optind]);
		goto out;
	} else {
		c.pid = (pid_t)pidv;
		snprintf(cli->trace_target, sizeof(cli->trace_target), "%d", (int)c.pid);
	}
	c.dir = argv[optind + 1];
	if (!*c.dir) {
		rc = crpc_cli_usage(cli, true, "DIR must not be empty");
		goto out;
	}
	/* the configuration; the library does the rest (crpc/checkpoint.h) */
	if (crpc_cli_checkpoint_params(cli, &p, &err) < 0) {
		rc = fail(&c, NULL, err);
		goto out;
	}
	p.pid = c.pid;
	p.target = c.target;
	p.engine_env = &c.engines;
	p.dir = c.dir;
	p.opts = &c.opts;
	p.force = c.force;
	p.signing_key = c.sign_key;
	p.digest = c.digest;
	p.no_auto = c.autoopt.disabled;
	rc = crpc_checkpoint_dump(&p, &res, &err);
	crpc_cli_checkpoint_taken(cli, res, rc < 0 ? err : NULL);
	if (rc < 0) {
		rc = fail(&c, res, err);
		goto out;
	}
	summary(&c, res);
	rc = res->hook_failed ? CLI_EXIT_HOOK_WARNING : 0;

out:
	crpc_checkpoint_result_free(res);
	crpc_cli_config_release(cli);
	crpc_opts_release(&c.opts);
	return rc;
}
