/* SPDX-License-Identifier: MIT */
/*
 * runc.c - runc, through its CLI: `runc state`, `runc list`, and
 * `runc --criu SHIM checkpoint|restore` with crpc as the CRIU of the call.
 * A container is its ID under runc's root (--root, default /run/runc);
 * what recreates it is its bundle (the path, and config.json as it was).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#include "engines/engine.h"
#include "internal.h"

static bool runc_cli(char *buf, size_t size)
{
	return crpc__engine_cli("CRPC_RUNC", "runc", buf, size);
}

/* runc [--root R] */
static void runc_base(const crpc__engine_ctx *ctx, const char *cli, crpc__argv *a)
{
	crpc__argv_add(a, cli);
	if (ctx->env && ctx->env->runc_root) {
		crpc__argv_add(a, "--root");
		crpc__argv_add(a, ctx->env->runc_root);
	}
}

static bool runc_present(const crpc__engine_ctx *ctx, char *why, size_t size)
{
	char cli[PATH_MAX];

	if (runc_cli(cli, sizeof(cli)))
		return true;
	snprintf(why, size, "runc not found (%s)", getenv("CRPC_RUNC") ? "$CRPC_RUNC" : "not on PATH");
	return false;
}

static int runc_version(const crpc__engine_ctx *ctx, char *buf, size_t size, crpc_error **err)
{
	char cli[PATH_MAX];
	char *argv[] = { cli, "--version", NULL };

	if (!runc_cli(cli, sizeof(cli)))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "runc", "runc not found");
	/* "runc version 1.1.5+ds1\ncommit: ..." */
	crpc__tool_version(argv, "runc version ", buf, size);
	return buf[0] ? 0
		      : crpc_error_set(err, CRPC_EXIT_ENV, EINVAL, "runc", "%s --version says no version",
				       cli);
}

static void cpy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* One entry of `runc state` / `runc list --format json`. */
static void fill(const crpc__engine_ctx *ctx, json_t *j, crpc__container *c)
{
	const char *status = json_string_value(json_object_get(j, "status"));

	cpy(c->info.engine, sizeof(c->info.engine), "runc");
	cpy(c->info.id, sizeof(c->info.id), json_string_value(json_object_get(j, "id")));
	cpy(c->info.name, sizeof(c->info.name), c->info.id);
	cpy(c->info.state, sizeof(c->info.state), status);
	c->info.running = status && strcmp(status, "running") == 0;
	c->info.pid = c->info.running ? (pid_t)json_integer_value(json_object_get(j, "pid")) : 0;
	cpy(c->info.runtime, sizeof(c->info.runtime), "runc");
}

/* {"bundle": B, "root": R|null, "config": config.json} */
static json_t *recreate_of(const crpc__engine_ctx *ctx, const char *bundle)
{
	json_t *r = json_object(), *cfg = NULL;
	char path[PATH_MAX];
	json_error_t jerr;

	if (!r)
		return NULL;
	json_object_set_new(r, "bundle", json_string(bundle ? bundle : ""));
	json_object_set_new(r, "root",
			    ctx->env && ctx->env->runc_root ? json_string(ctx->env->runc_root) : json_null());
	if (bundle && snprintf(path, sizeof(path), "%s/config.json", bundle) < (int)sizeof(path))
		cfg = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	json_object_set_new(r, "config", cfg ? cfg : json_null());
	return r;
}

int crpc__runc_parse_state(const char *text, size_t len, crpc__container *out, crpc_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr);
	const char *bundle;

	if (!json_is_object(j) || !json_is_string(json_object_get(j, "id"))) {
		json_decref(j);
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "runc",
				      "runc state: unreadable output: %s", jerr.text);
	}
	fill(NULL, j, out);
	bundle = json_string_value(json_object_get(j, "bundle"));
	out->recreate = json_pack("{s:s}", "bundle", bundle ? bundle : "");
	json_decref(j);
	return 0;
}

int crpc__runc_parse_list(const char *text, size_t len, crpc__container **out, size_t *n, crpc_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &jerr), *e;
	size_t i;

	*out = NULL;
	*n = 0;
	if (json_is_null(j)) { /* no container */
		json_decref(j);
		return 0;
	}
	if (!json_is_array(j)) {
		json_decref(j);
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "runc",
				      "runc list: unreadable output: %s", jerr.text);
	}
	*out = calloc(json_array_size(j) + 1, sizeof(**out));
	if (!*out) {
		json_decref(j);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "runc", "out of memory");
	}
	json_array_foreach(j, i, e) {
		if (!json_is_object(e))
			continue;
		fill(NULL, e, &(*out)[*n]);
		(*n)++;
	}
	json_decref(j);
	return 0;
}

static int runc_resolve(const crpc__engine_ctx *ctx, const char *ref, crpc__container *out, crpc_error **err)
{
	char cli[PATH_MAX];
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	json_t *parsed;
	int st, rc;

	if (!runc_cli(cli, sizeof(cli)))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "runc", "runc not found");
	runc_base(ctx, cli, &a);
	crpc__argv_add(&a, "state");
	crpc__argv_add(&a, ref);
	st = crpc__argv_run(&a, NULL, &o, err);
	if (st < 0)
		return -1;
	if (st != 0) {
		rc = strstr(o.err, "does not exist")
			     ? CRPC__ENGINE_NOT_FOUND
			     : crpc__cmd_fail(err, "runc", (char *const *)a.v, st, &o);
		crpc__cmd_out_release(&o);
		return rc;
	}
	rc = crpc__runc_parse_state(o.out, o.out_len, out, err);
	crpc__cmd_out_release(&o);
	if (rc < 0)
		return -1;
	/* what recreates it: the bundle, runc's root, its config.json as it is now */
	parsed = out->recreate;
	out->recreate = recreate_of(ctx, json_string_value(json_object_get(parsed, "bundle")));
	json_decref(parsed);
	runc_version(ctx, out->info.engine_version, sizeof(out->info.engine_version), NULL);
	return CRPC__ENGINE_FOUND;
}

static int runc_list(const crpc__engine_ctx *ctx, crpc__container **out, size_t *n, crpc_error **err)
{
	char cli[PATH_MAX], ver[64] = "";
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	int rc;

	*out = NULL;
	*n = 0;
	if (!runc_cli(cli, sizeof(cli)))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "runc", "runc not found");
	runc_base(ctx, cli, &a);
	crpc__argv_add(&a, "list");
	crpc__argv_add(&a, "--format");
	crpc__argv_add(&a, "json");
	if (crpc__argv_run_ok(&a, NULL, &o, "runc", err) < 0)
		return -1;
	rc = crpc__runc_parse_list(o.out, o.out_len, out, n, err);
	crpc__cmd_out_release(&o);
	if (rc < 0)
		return -1;
	runc_version(ctx, ver, sizeof(ver), NULL);
	for (size_t i = 0; i < *n; i++)
		cpy((*out)[i].info.engine_version, sizeof((*out)[i].info.engine_version), ver);
	return 0;
}

static int runc_checkpoint(const crpc__engine_ctx *ctx, crpc__container *c, const char *images_dir,
			   bool leave_running, crpc_error **err)
{
	char cli[PATH_MAX];
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	int st;

	if (!runc_cli(cli, sizeof(cli)))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "runc", "runc not found");
	runc_base(ctx, cli, &a);
	if (ctx->shim_path) {
		crpc__argv_add(&a, "--criu");
		crpc__argv_add(&a, ctx->shim_path);
	}
	crpc__argv_add(&a, "checkpoint");
	crpc__argv_add(&a, "--image-path");
	crpc__argv_add(&a, images_dir);
	crpc__argv_add(&a, "--work-path");
	crpc__argv_add(&a, ctx->work_dir ? ctx->work_dir : images_dir);
	if (leave_running)
		crpc__argv_add(&a, "--leave-running");
	crpc__argv_add(&a, c->info.id);
	st = crpc__argv_run(&a, NULL, &o, err);
	if (st < 0)
		return -1;
	if (st != 0)
		crpc__cmd_fail(err, "runc checkpoint", (char *const *)a.v, st, &o);
	crpc__cmd_out_release(&o);
	return st == 0 ? 0 : -1;
}

static int runc_restore(const crpc__engine_ctx *ctx, const crpc__container *rec, const char *images_dir,
			const char *new_name, crpc__container *out, crpc_error **err)
{
	const char *id = new_name ? new_name : rec->info.id;
	const char *bundle = json_string_value(json_object_get(rec->recreate, "bundle"));
	crpc__container cur = { 0 };
	char cli[PATH_MAX], pidfile[PATH_MAX];
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	struct stat sb;
	int st, rc;

	if (!runc_cli(cli, sizeof(cli)))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "runc", "runc not found");
	if (!bundle || !*bundle)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "runc restore",
				      "the checkpoint records no bundle for runc:%s", rec->info.id);
	if (stat(bundle, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		crpc_error_set(err, CRPC_EXIT_FAIL, errno ? errno : ENOTDIR, "runc restore",
			       "the container's bundle %s is gone", bundle);
		if (err && *err)
			crpc_error_set_hint(*err,
					    "runc restores a container from its bundle (config.json and "
					    "rootfs); crpc.json's container.recreate.config holds the "
					    "config.json it had");
		return -1;
	}
	if (!ctx->call_dir ||
	    snprintf(pidfile, sizeof(pidfile), "%s/restored.pid", ctx->call_dir) >= (int)sizeof(pidfile))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "runc restore", "no call directory");
	/*
	 * runc restores only into a container of the ID that does not exist
	 * yet: usually the dump removed it. When runc finds one, it must be
	 * stopped, and goes first.
	 */
	for (int attempt = 0;; attempt++) {
		a = (crpc__argv){ 0 };
		runc_base(ctx, cli, &a);
		if (ctx->shim_path) {
			crpc__argv_add(&a, "--criu");
			crpc__argv_add(&a, ctx->shim_path);
		}
		crpc__argv_add(&a, "restore");
		crpc__argv_add(&a, "--detach");
		crpc__argv_add(&a, "--pid-file");
		crpc__argv_add(&a, pidfile);
		crpc__argv_add(&a, "--image-path");
		crpc__argv_add(&a, images_dir);
		crpc__argv_add(&a, "--work-path");
		crpc__argv_add(&a, ctx->work_dir ? ctx->work_dir : images_dir);
		crpc__argv_add(&a, "--bundle");
		crpc__argv_add(&a, bundle);
		crpc__argv_add(&a, id);
		st = crpc__argv_run(&a, NULL, &o, err);
		if (st < 0)
			return -1;
		if (st == 0)
			break;
		if (attempt > 0 || !strstr(o.err, "exists")) {
			crpc__cmd_fail(err, "runc restore", (char *const *)a.v, st, &o);
			crpc__cmd_out_release(&o);
			return -1;
		}
		crpc__cmd_out_release(&o);
		rc = runc_resolve(ctx, id, &cur, err);
		if (rc < 0)
			return -1;
		if (rc == CRPC__ENGINE_FOUND) {
			bool stopped = strcmp(cur.info.state, "stopped") == 0;

			crpc__container_release(&cur);
			if (!stopped)
				return crpc_error_set(
					err, CRPC_EXIT_FAIL, EEXIST, "runc restore",
					"runc:%s exists and is %s: restore it only when stopped or gone", id,
					cur.info.state);
			a = (crpc__argv){ 0 };
			runc_base(ctx, cli, &a);
			crpc__argv_add(&a, "delete");
			crpc__argv_add(&a, id);
			st = crpc__argv_run(&a, NULL, &o, err);
			if (st < 0)
				return -1;
			if (st != 0) {
				crpc__cmd_fail(err, "runc restore", (char *const *)a.v, st, &o);
				crpc__cmd_out_release(&o);
				return -1;
			}
			crpc__cmd_out_release(&o);
		}
	}
	crpc__cmd_out_release(&o);
	/* the restored container as runc started it: its init from --pid-file */
	{
		cleanup_free char *text = NULL;
		size_t len = 0;
		long pid;
		char *end;

		if (crpc__read_file_at(AT_FDCWD, pidfile, 64, &text, &len, err) < 0)
			return -1;
		errno = 0;
		pid = strtol(text, &end, 10);
		if (errno || end == text || pid <= 0 || pid > INT32_MAX)
			return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "runc restore",
					      "runc restore wrote no PID into %s", pidfile);
		out->info = rec->info;
		cpy(out->info.id, sizeof(out->info.id), id);
		cpy(out->info.name, sizeof(out->info.name), id);
		cpy(out->info.state, sizeof(out->info.state), "running");
		out->info.running = true;
		out->info.pid = (pid_t)pid;
		runc_version(ctx, out->info.engine_version, sizeof(out->info.engine_version), NULL);
		out->recreate = json_incref(rec->recreate);
	}
	return 0;
}

const crpc__engine crpc__engine_runc = {
	.name = "runc",
	.present = runc_present,
	.version = runc_version,
	.resolve = runc_resolve,
	.list = runc_list,
	.checkpoint = runc_checkpoint,
	.restore = runc_restore,
};
