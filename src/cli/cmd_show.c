/* SPDX-License-Identifier: MIT */
/*
 * cmd_show.c - crpc show DIR: what a checkpoint holds. The manifest
 * (crpc.json: who made it, when, with which options and why), the process
 * tree from pstree.img with the command names from the core images,
 * descriptors by type, memory pages from the pagemap images, and CRIU's
 * dump statistics. With --verify, the checkpoint is also checked against
 * its manifest as crpc restore would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char crpc_help_show[] =
	"Usage: crpc show [OPTIONS] DIR\n"
	"\n"
	"Show what the checkpoint in DIR holds: its manifest (crpc.json: crpc and\n"
	"CRIU versions, kernel, time, the options of the dump and why each was set),\n"
	"the process tree with each task's command name, threads, descriptors and\n"
	"memory pages, descriptors and open files by type, the pages stored in the\n"
	"images, and CRIU's dump statistics. Reads the images only; needs no CRIU and\n"
	"no root (beyond read access to DIR). A checkpoint without crpc.json (a plain\n"
	"`criu dump`, or a dump that did not finish) is shown from its images alone.\n"
	"\n"
	"Options:\n"
	"      --verify            also verify every file against crpc.json (sizes and\n"
	"                          digests) as crpc restore does; exit 1 if it fails,\n"
	"                          also when DIR or a file in it is another user's or\n"
	"                          writable by others (a restore would refuse it)\n"
	"      --trust-owner USER  with --verify: also trust files of USER (name or uid)\n"
	"      --trusted-keys DIR  with --verify: check the signature against DIR/*.pub\n"
	"                          (default: $CRPC_TRUSTED_KEYS, signing: trusted_keys in\n"
	"                          the configuration, else " CRPC_TRUSTED_KEYS_DEFAULT ")\n"
	"      --require-signature with --verify: fail unless a trusted key signed it\n" CRPC_CLI_HELP_COMMON
	"\n"
	"Examples:\n"
	"  crpc show /var/tmp/ckpt\n"
	"  crpc show --json /var/tmp/ckpt\n"
	"  crpc show --verify /var/tmp/ckpt\n"
	"\n"
	"Exit codes:\n"
	"  0  shown (and with --verify: the checkpoint matches its manifest)\n"
	"  1  DIR holds no checkpoint, or --verify found it incomplete, modified, badly\n"
	"     signed (or not signed by a trusted key, with --require-signature)\n"
	"  2  usage error\n";

enum {
	OPT_VERIFY = CLI_OPT_FIRST_CMD,
	OPT_TRUST_OWNER,
	OPT_TRUSTED_KEYS,
	OPT_REQUIRE_SIG,
};

static const struct option show_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "trust-owner", required_argument, NULL, OPT_TRUST_OWNER },
	{ "trusted-keys", required_argument, NULL, OPT_TRUSTED_KEYS },
	{ "require-signature", no_argument, NULL, OPT_REQUIRE_SIG },
	{ NULL, 0, NULL, 0 },
};

typedef struct show_ctx {
	crpc_cli *cli;
	const char *dir;
	char *dir_real;
	int dirfd;
	bool verify;
	uid_t trust_owner;        /* --trust-owner, (uid_t)-1 if none */
	bool unfinished;          /* the in-progress marker is there */
	json_t *manifest;         /* crpc.json, NULL when absent or unreadable */
	crpc_error *manifest_err; /* why it could not be read (NULL: absent or fine) */
	bool have_info;
	crpc_images_info info;
	crpc_error *info_err; /* why the images could not be read */
	bool verified;
	crpc_manifest_check check;
	crpc_error *verify_err;
	crpc_checkpoint_params sigp; /* --trusted-keys, --require-signature, the configuration */
	crpc_signature_check sig;    /* with --verify, once the files matched */
	crpc_error *sig_err;
} show_ctx;

/* "reg", or "type 42" for a number crpc does not know. */
static void type_name(unsigned t, char *buf, size_t bufsz)
{
	const char *n = crpc_criu_fd_type_name(t);

	if (t == CRPC_FD_TYPE_SLOTS - 1 && !n)
		snprintf(buf, bufsz, "other");
	else if (n)
		snprintf(buf, bufsz, "%s", n);
	else
		snprintf(buf, bufsz, "type %u", t);
}

static json_t *counts_json(const crpc_fd_counts *c)
{
	json_t *o = crpc_cli_jobj(), *by = crpc_cli_jobj();

	crpc_cli_jset(o, "total", json_integer((json_int_t)c->total));
	for (unsigned t = 0; t < CRPC_FD_TYPE_SLOTS; t++) {
		char n[32];

		if (!c->by_type[t])
			continue;
		type_name(t, n, sizeof(n));
		crpc_cli_jset(by, n, json_integer((json_int_t)c->by_type[t]));
	}
	crpc_cli_jset(o, "by_type", by);
	return o;
}

/* "6 (reg 5, pipe 1)" */
static void counts_text(const crpc_fd_counts *c, char *buf, size_t bufsz)
{
	size_t used;
	bool first = true;

	used = (size_t)snprintf(buf, bufsz, "%llu", (unsigned long long)c->total);
	for (unsigned t = 0; t < CRPC_FD_TYPE_SLOTS && used < bufsz; t++) {
		char n[32];

		if (!c->by_type[t])
			continue;
		type_name(t, n, sizeof(n));
		used += (size_t)snprintf(buf + used, bufsz - used, "%s%s %llu", first ? " (" : ", ", n,
					 (unsigned long long)c->by_type[t]);
		first = false;
	}
	if (!first && used < bufsz)
		snprintf(buf + used, bufsz - used, ")");
}

static json_t *pages_json(const crpc_page_counts *p, uint64_t ps)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "pages", json_integer((json_int_t)p->pages));
	crpc_cli_jset(o, "bytes", json_integer((json_int_t)(p->pages * ps)));
	crpc_cli_jset(o, "present_pages", json_integer((json_int_t)p->present));
	crpc_cli_jset(o, "present_bytes", json_integer((json_int_t)(p->present * ps)));
	crpc_cli_jset(o, "parent_pages", json_integer((json_int_t)p->parent));
	crpc_cli_jset(o, "lazy_pages", json_integer((json_int_t)p->lazy));
	return o;
}

static json_t *processes_json(const crpc_images_info *info)
{
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < info->n_tasks; i++) {
		const crpc_task_info *t = &info->tasks[i];
		json_t *o = crpc_cli_jobj(), *th = crpc_cli_jarray();

		crpc_cli_jset(o, "pid", json_integer(t->task.pid));
		crpc_cli_jset(o, "ppid", json_integer(t->task.ppid));
		crpc_cli_jset(o, "pgid", json_integer(t->task.pgid));
		crpc_cli_jset(o, "sid", json_integer(t->task.sid));
		crpc_cli_jset(o, "comm", t->comm[0] ? crpc_cli_jstr(t->comm) : json_null());
		for (size_t j = 0; j < t->task.n_threads; j++) {
			json_t *x = crpc_cli_jobj();

			crpc_cli_jset(x, "tid", json_integer(t->task.threads[j]));
			crpc_cli_jset(x, "comm",
				      t->thread_comm && t->thread_comm[j].comm[0]
					      ? crpc_cli_jstr(t->thread_comm[j].comm)
					      : json_null());
			crpc_cli_jappend(th, x);
		}
		crpc_cli_jset(o, "threads", th);
		crpc_cli_jset(o, "files_id", t->have_files_id ? json_integer(t->files_id) : json_null());
		crpc_cli_jset(o, "fds", t->have_fds ? counts_json(&t->fds) : json_null());
		crpc_cli_jset(o, "memory",
			      t->have_pages ? pages_json(&t->pages, info->page_size) : json_null());
		crpc_cli_jappend(a, o);
	}
	return a;
}

static json_t *verify_json(const show_ctx *c)
{
	json_t *o = crpc_cli_check_json(&c->check);

	crpc_cli_jset(o, "ok", json_boolean(c->check.verdict == CRPC_MANIFEST_OK));
	crpc_cli_jset(o, "message", c->verify_err ? crpc_cli_jstr(c->verify_err->message) : json_null());
	crpc_cli_jset(o, "signature", crpc_cli_signature_json(&c->sig));
	crpc_cli_jset(o, "signature_message", c->sig_err ? crpc_cli_jstr(c->sig_err->message) : json_null());
	if (c->sig_err)
		crpc_cli_jset(o, "ok", json_false());
	return o;
}

static void emit_json(show_ctx *c)
{
	json_t *doc = crpc_cli_jobj(), *w = crpc_cli_jarray();
	const crpc_images_info *in = &c->info;

	crpc_cli_jset(doc, "ok", json_true());
	crpc_cli_jset(doc, "operation", crpc_cli_jstr("show"));
	crpc_cli_jset(doc, "images_dir", crpc_cli_jstr(c->dir_real ? c->dir_real : c->dir));
	crpc_cli_jset(doc, "complete", json_boolean(c->manifest && !c->unfinished));
	crpc_cli_jset(doc, "unfinished", json_boolean(c->unfinished));
	crpc_cli_jset(doc, "manifest", c->manifest ? json_incref(c->manifest) : json_null());
	crpc_cli_jset(doc, "manifest_error",
		      c->manifest_err ? crpc_cli_jstr(c->manifest_err->message) : json_null());
	if (c->have_info) {
		json_t *fds = counts_json(&in->fds), *mem = pages_json(&in->pages, in->page_size);

		crpc_cli_jset(fds, "tables", json_integer((json_int_t)in->n_fd_tables));
		crpc_cli_jset(mem, "page_size", json_integer((json_int_t)in->page_size));
		crpc_cli_jset(mem, "pages_files", json_integer((json_int_t)in->n_pages_files));
		crpc_cli_jset(mem, "pages_files_bytes", json_integer((json_int_t)in->pages_bytes));
		crpc_cli_jset(doc, "processes", processes_json(in));
		crpc_cli_jset(doc, "fds", fds);
		crpc_cli_jset(doc, "files", in->have_files ? counts_json(&in->files) : json_null());
		crpc_cli_jset(doc, "memory", mem);
		crpc_cli_jset(doc, "image_files", json_integer((json_int_t)in->n_files));
		crpc_cli_jset(doc, "image_bytes", json_integer((json_int_t)in->image_bytes));
		crpc_cli_jset(doc, "stats",
			      in->have_stats ? crpc_cli_stats_json(&in->stats, false) : json_null());
		for (size_t i = 0; i < in->n_warnings; i++)
			crpc_cli_jappend(w, crpc_cli_jstr(in->warnings[i]));
	} else {
		crpc_cli_jset(doc, "processes", json_null());
		crpc_cli_jset(doc, "images_error", crpc_cli_jstr(c->info_err ? c->info_err->message : NULL));
	}
	crpc_cli_jset(doc, "warnings", w);
	if (c->verify)
		crpc_cli_jset(doc, "verify", verify_json(c));
	crpc_cli_emit(doc);
}

/* A string member of the manifest, or NULL. */
static const char *mstr(json_t *o, const char *key)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void print_manifest(const show_ctx *c)
{
	json_t *m = c->manifest, *criu, *kernel, *opts, *v;
	const char *s;
	size_t i;

	if (c->unfinished)
		printf("  status:        incomplete: a dump into it did not finish (%s is there)\n",
		       CRPC_INPROGRESS_MARKER);
	else if (m)
		printf("  status:        complete (%s, format %lld, %s digests)\n", CRPC_MANIFEST_NAME,
		       (long long)json_integer_value(json_object_get(m, "format_version")),
		       mstr(m, "digest") ? mstr(m, "digest") : "sha256");
	else if (c->manifest_err)
		printf("  status:        %s cannot be read: %s\n", CRPC_MANIFEST_NAME,
		       c->manifest_err->message);
	else
		printf("  status:        no %s: not made by crpc dump, or its dump did not finish\n",
		       CRPC_MANIFEST_NAME);
	if (!m)
		return;
	criu = json_object_get(m, "criu");
	printf("  made:          %s by crpc %s with CRIU %s\n", mstr(m, "created") ? mstr(m, "created") : "?",
	       mstr(m, "crpc_version") ? mstr(m, "crpc_version") : "?",
	       mstr(criu, "version") ? mstr(criu, "version") : "?");
	kernel = json_object_get(m, "kernel");
	printf("  kernel:        %s %s %s", mstr(kernel, "sysname") ? mstr(kernel, "sysname") : "?",
	       mstr(kernel, "release") ? mstr(kernel, "release") : "?",
	       mstr(kernel, "machine") ? mstr(kernel, "machine") : "");
	if ((s = mstr(m, "hostname")))
		printf(" (host %s)", s);
	printf("\n");
	v = json_object_get(m, "pid");
	printf("  target:        PID %lld (%s), %s\n", (long long)json_integer_value(v),
	       mstr(m, "command") ? mstr(m, "command") : "?",
	       json_is_true(json_object_get(m, "leave_running")) ? "left running" : "ended after the dump");
	opts = json_object_get(m, "options");
	json_array_foreach(opts, i, v) {
		json_t *val = json_object_get(v, "value");
		char *vt = val ? json_dumps(val, JSON_ENCODE_ANY) : NULL;
		const char *reason = mstr(v, "reason");

		printf("  %s %s=%s (%s%s%s)\n", i == 0 ? "options:      " : "              ",
		       mstr(v, "option") ? mstr(v, "option") : "?", vt ? vt : "?",
		       mstr(v, "source") ? mstr(v, "source") : "?", reason ? ": " : "", reason ? reason : "");
		free(vt);
	}
	if (json_array_size(opts) == 0)
		printf("  options:       none\n");
}

static void print_human(const show_ctx *c)
{
	const crpc_images_info *in = &c->info;
	char a[64], b[64], line[512];

	printf("Checkpoint %s\n", c->dir_real ? c->dir_real : c->dir);
	print_manifest(c);
	if (!c->have_info) {
		printf("  images:        cannot be read: %s\n",
		       c->info_err && c->info_err->message ? c->info_err->message : "?");
	} else {
		crpc_cli_fmt_size(in->image_bytes, a, sizeof(a));
		crpc_cli_fmt_size(in->pages_bytes, b, sizeof(b));
		printf("  files:         %zu, %s (memory pages: %s in %zu pages-*.img)\n", in->n_files, a, b,
		       in->n_pages_files);
	}
	if (c->verify) {
		if (c->check.verdict == CRPC_MANIFEST_OK) {
			crpc_cli_fmt_size(c->check.st.bytes, a, sizeof(a));
			crpc_cli_fmt_seconds(c->check.st.hash_seconds, b, sizeof(b));
			printf("  verified:      ok: %zu files (%s) match %s, %s in %s\n", c->check.st.files,
			       a, CRPC_MANIFEST_NAME, c->check.digest ? c->check.digest : "sha256", b);
		} else {
			printf("  verified:      FAILED (%s): %s\n",
			       crpc_manifest_verdict_name(c->check.verdict),
			       c->verify_err && c->verify_err->message ? c->verify_err->message : "?");
		}
		if (c->sig_err)
			printf("  signed by:     FAILED: %s\n",
			       c->sig_err->message ? c->sig_err->message : "?");
		else
			crpc_cli_signature_print(stdout, &c->sig, crpc_checkpoint_trusted_keys(&c->sigp));
	}
	if (!c->have_info)
		return;

	printf("\nProcess tree (%zu process%s):\n", in->n_tasks, in->n_tasks == 1 ? "" : "es");
	printf("  %-8s %-8s %-7s %-5s %-22s %s\n", "PID", "PPID", "THREADS", "FDS", "PAGES", "COMMAND");
	for (size_t i = 0; i < in->n_tasks; i++) {
		const crpc_task_info *t = &in->tasks[i];
		unsigned depth = 0;
		pid_t p = t->task.ppid;
		char fds[32], pages[128], indent[64] = "";

		/* depth in the tree, from the parents recorded in pstree.img */
		for (size_t guard = 0; guard < in->n_tasks && p; guard++) {
			size_t j;

			for (j = 0; j < in->n_tasks && in->tasks[j].task.pid != p; j++)
				;
			if (j == in->n_tasks)
				break;
			depth++;
			p = in->tasks[j].task.ppid;
		}
		for (unsigned d = 1; d < depth && strlen(indent) + 4 < sizeof(indent); d++)
			strcat(indent, "   ");
		if (depth)
			strcat(indent, "\\_ ");
		if (t->have_fds)
			snprintf(fds, sizeof(fds), "%llu", (unsigned long long)t->fds.total);
		else
			snprintf(fds, sizeof(fds), "?");
		if (t->have_pages) {
			crpc_cli_fmt_size(t->pages.present * in->page_size, a, sizeof(a));
			snprintf(pages, sizeof(pages), "%llu (%s)", (unsigned long long)t->pages.present, a);
		} else {
			snprintf(pages, sizeof(pages), "?");
		}
		printf("  %-8d %-8d %-7zu %-5s %-22s %s%s\n", (int)t->task.pid, (int)t->task.ppid,
		       t->task.n_threads, fds, pages, indent, t->comm[0] ? t->comm : "?");
	}

	counts_text(&in->fds, line, sizeof(line));
	printf("\nDescriptors:     %s in %zu fd table%s\n", line, in->n_fd_tables,
	       in->n_fd_tables == 1 ? "" : "s");
	if (in->have_files) {
		counts_text(&in->files, line, sizeof(line));
		printf("Open files:      %s\n", line);
	}
	crpc_cli_fmt_size(in->pages.present * in->page_size, a, sizeof(a));
	crpc_cli_fmt_size(in->pages.pages * in->page_size, b, sizeof(b));
	printf("Memory:          %llu pages (%s) in the images, of %llu pages (%s) mapped",
	       (unsigned long long)in->pages.present, a, (unsigned long long)in->pages.pages, b);
	if (in->pages.parent)
		printf(", %llu in a parent checkpoint", (unsigned long long)in->pages.parent);
	if (in->pages.lazy)
		printf(", %llu may be restored lazily", (unsigned long long)in->pages.lazy);
	printf("\n");
	if (in->have_stats) {
		printf("Dump statistics:\n");
		crpc_cli_stats_print(stdout, &in->stats, false);
	}
	for (size_t i = 0; i < in->n_warnings; i++)
		printf("%s%s\n", i == 0 ? "Warnings:\n  " : "  ", in->warnings[i]);
}

static void release(show_ctx *c)
{
	json_decref(c->manifest);
	crpc_error_free(c->manifest_err);
	crpc_error_free(c->info_err);
	crpc_error_free(c->verify_err);
	crpc_error_free(c->sig_err);
	if (c->have_info)
		crpc_images_info_release(&c->info);
	crpc_manifest_check_release(&c->check);
	if (c->dirfd >= 0)
		close(c->dirfd);
	free(c->dir_real);
}

static json_t *base_json(const show_ctx *c)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "images_dir", crpc_cli_jstr(c->dir_real ? c->dir_real : c->dir));
	return o;
}

int crpc_cmd_show(crpc_cli *cli, int argc, char **argv)
{
	show_ctx c;
	crpc_error *err = NULL;
	struct stat st;
	char *text = NULL;
	const char *op;
	int rc, opt;

	memset(&c, 0, sizeof(c));
	c.cli = cli;
	c.dirfd = -1;
	c.trust_owner = (uid_t)-1;
	crpc_checkpoint_params_init(&c.sigp);
	cli->usage = "crpc show [OPTIONS] DIR";
	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hv", show_options)) != -1) {
		switch (opt) {
		case OPT_VERIFY:
			c.verify = true;
			break;
		case OPT_TRUSTED_KEYS:
			c.sigp.trusted_keys = optarg;
			break;
		case OPT_REQUIRE_SIG:
			c.sigp.require_signature = true;
			break;
		case OPT_TRUST_OWNER:
			if (crpc_cli_parse_user(optarg, &c.trust_owner) < 0)
				crpc_cli_usage_errorf(cli, "--trust-owner: no user '%s'", optarg);
			break;
		default:
			crpc_cli_usage_errorf(cli, "unhandled option");
			break;
		}
	}
	if (crpc_cli_early_exit(cli, crpc_help_show, &rc))
		goto out;
	rc = crpc_cli_operand(cli, argc, argv, "DIR", &c.dir);
	if (rc)
		goto out;
	op = "showing the checkpoint";

	c.dirfd = crpc_checkpoint_dir_open(c.dir, op, &err);
	if (c.dirfd < 0) {
		rc = crpc_cli_fail(cli, err, base_json(&c), NULL);
		goto out;
	}
	c.dir_real = realpath(c.dir, NULL);
	c.unfinished = fstatat(c.dirfd, CRPC_INPROGRESS_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0;

	/* the manifest, then the images; either alone is worth showing */
	if (crpc_manifest_read(c.dirfd, &text, NULL, &c.manifest_err) == 0) {
		c.manifest = json_loads(text, 0, NULL);
		free(text);
	} else if (c.manifest_err && c.manifest_err->sys_errno == ENOENT) {
		crpc_error_free(c.manifest_err);
		c.manifest_err = NULL;
	}
	c.have_info = crpc_images_info_read(c.dirfd, &c.info, &c.info_err) == 0;
	if (!c.have_info && !c.manifest) {
		/* nothing to show: say why, as restore would */
		crpc_error *e = NULL;

		if (crpc_images_validate(c.dirfd, c.dir, true, &e) < 0) {
			crpc_error_free(c.info_err);
			c.info_err = NULL;
			rc = crpc_cli_fail(cli, e, base_json(&c), NULL);
			crpc_error_free(e);
		} else {
			rc = crpc_cli_fail(cli, c.info_err, base_json(&c), NULL);
		}
		goto out;
	}
	if (c.verify) {
		c.verified = true;
		/* as a restore would: nobody else could have written it, then the digests */
		if (crpc_manifest_check_trust(c.dirfd, c.dir, c.trust_owner, &c.verify_err) < 0)
			c.check.verdict = CRPC_MANIFEST_UNTRUSTED;
		else if (crpc_manifest_verify(c.dirfd, c.dir, NULL, &c.check, &c.verify_err) == 0) {
			/* who signed it, now that the files match crpc.json */
			if (crpc_cli_config_read(cli, &c.sig_err) == 0) {
				c.sigp.config = &cli->config;
				(void)crpc_manifest_check_signature(
					c.dirfd, c.dir, crpc_checkpoint_trusted_keys(&c.sigp),
					crpc_checkpoint_require_signature(&c.sigp), &c.sig, &c.sig_err);
			}
		}
	}

	if (cli->json)
		emit_json(&c);
	else
		print_human(&c);
	rc = c.verify && (c.check.verdict != CRPC_MANIFEST_OK || c.sig_err)
		     ? (c.sig_err && c.sig_err->exit_class == CRPC_EXIT_USAGE ? CRPC_EXIT_USAGE
									      : CRPC_EXIT_FAIL)
		     : 0;
out:
	crpc_error_free(err);
	release(&c);
	return rc;
}
