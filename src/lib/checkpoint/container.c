/* SPDX-License-Identifier: MIT */
/*
 * container.c - a dump and a restore of a container, through its engine
 * with crpc as the CRIU of the engine's call (src/lib/engines/).
 *
 * The dump resolves the container, inspects its tree (stopping on
 * blockers before the engine is touched), makes DIR's temporary stand-in,
 * writes the call directory the shim reads (the real CRIU, the
 * configuration, the --hook steps, the container's identity for the hooks,
 * the options the inspection found necessary), has the engine checkpoint
 * into DIR, keeps the DUMP session's trace as DIR/dump.trace and writes
 * crpc.json with the container's record. The restore verifies DIR (done by
 * the caller), then asks the engine crpc.json names to restore.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "checkpoint/ck_int.h"
#include "checkpoint/manifest_int.h"
#include "engines/engine.h"

#define DUMP_LOG "dump.log"
#define TRACE_COPY_MAX (64u << 20)

/* The CRIU the engine's call goes to, resolved as for a PID (ck_session_open()). */
static int resolve_criu(ck_op *o, crpc_error **err)
{
	const char *criu = o->p.criu_path;

	if (!criu && !(getenv("CRPC_CRIU") && *getenv("CRPC_CRIU")) && o->p.config)
		criu = o->p.config->criu_binary;
	return crpc_criu_resolve(criu, o->criu_path, sizeof(o->criu_path), err);
}

/* `CRIU --version`'s "Version: X" into buf ("" when it says nothing). */
static void criu_version(const char *criu, char *buf, size_t size)
{
	char *argv[] = { (char *)criu, "--version", NULL };

	crpc__tool_version(argv, "Version: ", buf, size);
}

static json_t *env_json(const crpc_container *ci)
{
	json_t *env = json_object();

	json_object_set_new(env, "CRPC_CONTAINER_ENGINE", json_string(ci->engine));
	json_object_set_new(env, "CRPC_CONTAINER_ID", json_string(ci->id));
	json_object_set_new(env, "CRPC_CONTAINER_NAME", json_string(ci->name));
	return env;
}

/* The shim's instructions for this call (see engine.h). */
static json_t *call_context(ck_op *o, const crpc_container *ci, const char *operation, bool with_options)
{
	json_t *ctx = json_object(), *hooks = json_array(), *opts = json_array();

	if (!ctx || !hooks || !opts) {
		json_decref(ctx);
		json_decref(hooks);
		json_decref(opts);
		return NULL;
	}
	json_object_set_new(ctx, "operation", json_string(operation));
	json_object_set_new(ctx, "criu", json_string(o->criu_path));
	json_object_set_new(ctx, "config",
			    o->p.config && o->p.config->path ? json_string(o->p.config->path) : json_null());
	for (size_t i = 0; i < o->p.n_hooks; i++)
		json_array_append_new(hooks, json_string(o->p.hooks[i]));
	json_object_set_new(ctx, "hooks", hooks);
	json_object_set_new(ctx, "env", env_json(ci));
	/*
	 * dump: every option in effect the inspection knows; restore: the
	 * restore-side counterparts of the dump's. The shim sets those the
	 * engine left unset.
	 */
	for (size_t i = 0; with_options && !o->have_manifest && i < o->res->options.n; i++) {
		const crpc_opt_reason *x = &o->res->options.v[i];
		json_t *e = json_object();

		json_object_set_new(e, "name", json_string(x->option));
		json_object_set_new(e, "value", json_string(x->value));
		json_object_set_new(e, "source", json_string(crpc_opt_source_name(x->source)));
		json_object_set_new(e, "reason", json_string(x->reason ? x->reason : ""));
		json_array_append_new(opts, e);
	}
	for (size_t i = 0; with_options && o->have_manifest && i < o->res->applied.n; i++) {
		const crpc_manifest_option *x = &o->res->applied.v[i];
		json_t *e = json_object();

		json_object_set_new(e, "name", json_string(x->option));
		json_object_set_new(e, "value", json_string(x->value ? x->value : ""));
		json_object_set_new(e, "source", json_string(x->source ? x->source : ""));
		json_object_set_new(e, "reason", json_string(x->reason ? x->reason : ""));
		json_array_append_new(opts, e);
	}
	json_object_set_new(ctx, "request_options", opts);
	return ctx;
}

/*
 * The shim's trace of the session with request `type` ("dump", "restore")
 * in the call's trace directory: copied to dirfd/name (when dirfd >= 0)
 * and to path (when not NULL). false when the shim left none: the
 * engine did not run crpc as its CRIU.
 */
static bool keep_trace(ck_op *o, const crpc__engine_call *call, const char *type, int dirfd,
		       const char *name, const char *path)
{
	char tdir[PATH_MAX + 16], suffix[32];
	cleanup_free uint8_t *data = NULL;
	size_t len = 0;
	int tfd;
	DIR *d;
	struct dirent *de;
	char found[256] = "";

	snprintf(tdir, sizeof(tdir), "%s/traces", call->dir);
	snprintf(suffix, sizeof(suffix), "-%s.trace", type);
	tfd = open(tdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return false;
	d = io_opendir_at(tfd, ".");
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name), k = strlen(suffix);

		if (n > k && strcmp(de->d_name + n - k, suffix) == 0 && strlen(de->d_name) < sizeof(found))
			snprintf(found, sizeof(found), "%s", de->d_name);
	}
	if (d)
		closedir(d);
	if (!found[0] || crpc__read_whole_at(tfd, found, TRACE_COPY_MAX, &data, &len) < 0) {
		if (found[0])
			ck_warn(o, "cannot read the %s session's trace %s/%s", type, tdir, found);
		close(tfd);
		return found[0] != '\0';
	}
	close(tfd);
	if (dirfd >= 0) {
		int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd < 0 || io_write_full(fd, data, len) < 0 || fsync(fd) < 0)
			ck_warn(o, "cannot write %s into the checkpoint: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (path) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd < 0 || io_write_full(fd, data, len) < 0)
			ck_warn(o, "cannot write the trace %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return true;
}

/*
 * CRIU's log of the call's `type` session as the shim copied it
 * (criu-TYPE.log in the call directory) into DIR as name, in place of one
 * the engine left there (runc's work directory is DIR: the same log) or an
 * earlier restore's.
 */
static void keep_log(ck_op *o, const crpc__engine_call *call, const char *type, const char *name)
{
	char src[64];
	cleanup_free uint8_t *data = NULL;
	size_t len = 0;
	int fd;

	if (o->dirfd < 0)
		return;
	snprintf(src, sizeof(src), CRPC__CALL_LOG_PREFIX "%s.log", type);
	if (crpc__read_whole_at(call->dirfd, src, TRACE_COPY_MAX, &data, &len) < 0)
		return; /* the engine's CRIU was not the shim, or CRIU wrote no log */
	(void)unlinkat(o->dirfd, name, 0);
	fd = openat(o->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || io_write_full(fd, data, len) < 0)
		ck_warn(o, "cannot keep CRIU's log as %s in the checkpoint: %s", name, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The options the inspection added ("NAME=VALUE (REASON), ..."), into buf. */
static void auto_options(const ck_op *o, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < o->res->options.n && n < size; i++) {
		const crpc_opt_reason *x = &o->res->options.v[i];

		if (x->source != CRPC_OPT_SOURCE_AUTO)
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s=%s (%s)", n ? ", " : "", x->option, x->value,
				      x->reason ? x->reason : "");
	}
}

/*
 * The engine's CRIU was not crpc (no session trace came back: Docker without
 * `crpc shim install`): say what the operation went without.
 */
static void not_through_crpc(ck_op *o, const char *engine, const char *what)
{
	char opts[1024];

	auto_options(o, opts, sizeof(opts));
	ck_warn(o,
		"%s's %s did not run crpc as its CRIU (crpc shim install --engine %s puts it there): no hook "
		"ran, no session trace was kept%s%s",
		engine, what, engine, opts[0] ? ", and these options were not added: " : "", opts);
}

/* The same as the hint of a failure that has none. */
static void not_through_crpc_hint(ck_op *o, crpc_error *e, const char *engine)
{
	char opts[1024];

	if (!e || e->hint)
		return;
	auto_options(o, opts, sizeof(opts));
	crpc_error_set_hint(
		e, "%s did not run crpc as its CRIU (crpc shim install --engine %s puts it there)%s%s",
		engine, engine, opts[0] ? "; the checkpoint needed options it could not add: " : "", opts);
}

/* Make the call directory's traces/ for the shim. */
static int call_traces(const crpc__engine_call *call, crpc_error **err)
{
	if (mkdirat(call->dirfd, "traces", 0700) < 0)
		return crpc_error_set(err, CRPC_EXIT_ENV, errno, "call directory", "cannot create %s/traces",
				      call->dir);
	return 0;
}

static int open_call(ck_op *o, const crpc_container *ci, const char *operation, bool with_options,
		     crpc__engine_call *call, crpc_error **err)
{
	json_t *ctx = call_context(o, ci, operation, with_options);
	int rc;

	if (!ctx)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, o->op, "out of memory");
	rc = crpc__engine_call_open(call, ctx, err);
	json_decref(ctx);
	if (rc < 0)
		return -1;
	/* the shim's trace directory: the call directory's traces/ */
	if (call_traces(call, err) < 0) {
		crpc__engine_call_close(call);
		return -1;
	}
	ck_info(o, "%s runs %s as its CRIU (%s)", ci->engine, call->shim, o->criu_path);
	return 0;
}

/* The container's record for crpc.json. */
static char *container_record(const crpc__container *c)
{
	json_t *j = json_object();
	char *text;

	json_object_set_new(j, "engine", json_string(c->info.engine));
	json_object_set_new(j, "engine_version", json_string(c->info.engine_version));
	json_object_set_new(j, "id", json_string(c->info.id));
	json_object_set_new(j, "name", json_string(c->info.name));
	json_object_set_new(j, "image", json_string(c->info.image));
	json_object_set_new(j, "runtime", json_string(c->info.runtime));
	json_object_set_new(j, "pid", json_integer(c->info.pid));
	json_object_set_new(j, "recreate", c->recreate ? json_incref(c->recreate) : json_null());
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return text;
}

/*
 * After a failed engine call into a DIR crpc created: the engine's own
 * files (runc's descriptors.json, a partial export) go too, CRIU's and the
 * hooks' logs stay.
 */
static void remove_engine_files(ck_dump *c)
{
	DIR *d;
	struct dirent *de;

	if (!c->created_dir || c->o.dirfd < 0 || !(d = io_opendir_at(c->o.dirfd, ".")))
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, DUMP_LOG) == 0 || strcmp(de->d_name, "hooks.log") == 0 ||
		    strcmp(de->d_name, CRPC_INPROGRESS_MARKER) == 0)
			continue;
		if (fstatat(c->o.dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			(void)unlinkat(c->o.dirfd, de->d_name, 0);
	}
	closedir(d);
}

/* After a failed engine call: is the container still running? */
static void container_after(ck_op *o, const crpc__engine *e, const crpc__engine_ctx *ctx, const char *id)
{
	crpc__container now = { 0 };
	crpc_error *x = NULL;

	o->res->target.checked = true;
	if (e->resolve(ctx, id, &now, &x) == CRPC__ENGINE_FOUND) {
		o->res->target.exists = true;
		o->res->target.running = now.info.running;
		if (!now.info.running)
			ck_warn(o, "%s:%s is %s after the failed checkpoint", e->name, id, now.info.state);
	}
	crpc__container_release(&now);
	crpc_error_free(x);
}

/*
 * What `crpc recover` needs of a container's dump besides the manifest's
 * part of the intent: the engine and the container, the call directory
 * (podman's export lands there, the engine's command line names it), DIR
 * and where the images go, and the step reached: "engine" (the engine is
 * asked, or may have finished) or "images" (DIR's stand-in holds them).
 */
static json_t *engine_call_json(const ck_dump *c, const crpc__container *ct, const crpc__engine_ctx *ctx,
				const crpc__engine_call *call, const char *step)
{
	const ck_op *o = &c->o;

	return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:b, s:s, s:i}", "engine", ct->info.engine,
			 "id", ct->info.id, "name", ct->info.name, "runc_root", ctx->env->runc_root,
			 "call_dir", call->dir, "dir", o->p.dir, "images_dir",
			 o->dir_real ? o->dir_real : o->p.dir, "leave_running", o->opts.leave_running,
			 "step", step, "crpc_pid", (int)getpid());
}

/* The intent (manifest's part, the container's record, engine_call_json()) into the marker. */
static int write_intent(ck_dump *c, const crpc__container *ct, const crpc__engine_ctx *ctx,
			const crpc__engine_call *call, const char *ver, const char *step, crpc_error **err)
{
	cleanup_free char *record = container_record(ct);
	json_t *ec = engine_call_json(c, ct, ctx, call, step);
	int rc;

	if (!record || !ec)
		rc = crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, c->o.op, "out of memory");
	else
		rc = ck_dump_intent(c, c->o.op, ver[0] ? ver : NULL, c->o.criu_path, record, ec, err);
	json_decref(ec);
	return rc;
}

int ck_container_dump(ck_dump *c, crpc_error **err)
{
	ck_op *o = &c->o;
	crpc_checkpoint_result *r = o->res;
	const char *op = o->op;
	crpc_engine_env own;
	crpc__engine_ctx ctx = { 0 };
	const crpc__engine *engine = NULL;
	crpc__container ct = { 0 };
	crpc__engine_call call = { .dirfd = -1 };
	crpc__target t;
	cleanup_free char *record = NULL;
	char ver[96];
	double t0, tp = crpc__timing_now();
	int rc = -1;

	if (crpc__engine_env_take(&own, o->p.engine_env, op, err) < 0)
		return -1;
	ctx.env = &own;
	if (crpc__target_parse(o->p.target, &t, err) < 0 ||
	    crpc__target_resolve(&ctx, &t, &engine, &ct, err) < 0)
		return -1;
	crpc__timing("container dump: the engine's container", tp);
	r->is_container = true;
	r->container = ct.info;
	if (!ct.info.running || ct.info.pid <= 0) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ESRCH, op, "%s:%s is not running (%s)", engine->name,
			       ct.info.name[0] ? ct.info.name : ct.info.id, ct.info.state);
		if (*err)
			crpc_error_set_hint(*err,
					    "a container is checkpointed while it runs; start it first");
		goto out;
	}
	o->p.pid = ct.info.pid;
	r->pid = ct.info.pid;
	o->opts.pid = ct.info.pid;
	ck_info(o, "%s:%s is %s, init PID %d, %s %s", engine->name, ct.info.name, ct.info.id,
		(int)ct.info.pid, engine->name, ct.info.engine_version);
	if (ck_options(o, o->p.config ? &o->p.config->dump : NULL, DUMP_LOG, err) < 0)
		goto out;
	if (crpc_require_root(op, err) < 0 || ck_dir_check(c, op, err) < 0)
		goto out;
	{
		crpc_task_status ts;

		if (crpc_task_status_read(ct.info.pid, &ts) == 0)
			snprintf(r->comm, sizeof(r->comm), "%s", ts.comm);
	}
	/* the tree, before the engine is touched: blockers stop here */
	tp = crpc__timing_now();
	if (ck_auto_dump(o, err) < 0)
		goto out;
	crpc__timing("container dump: inspection and verdict", tp);
	tp = crpc__timing_now();
	if (resolve_criu(o, err) < 0)
		goto out;
	r->failed_step = CRPC_CHECKPOINT_SETUP;
	if (ck_dir_create(c, op, err) < 0) {
		ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
		goto out;
	}
	if (open_call(o, &ct.info, "dump", true, &call, err) < 0 || ck_dir_prepare(c, op, err) < 0) {
		ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
		goto out;
	}
	for (size_t i = 0; i < r->options.n; i++)
		if (r->options.v[i].source == CRPC_OPT_SOURCE_AUTO)
			ck_info(o, "the shim adds %s=%s to %s's DUMP request", r->options.v[i].option,
				r->options.v[i].value, engine->name);
	ctx.shim_path = call.shim;
	ctx.call_dir = call.dir;
	r->leave_running = o->opts.leave_running;
	ck_info(o, "%s checkpoint of %s into %s", engine->name, ct.info.id,
		o->dir_real ? o->dir_real : o->p.dir);
	/* what `crpc recover` finishes or cleans up should crpc die from here on */
	criu_version(o->criu_path, ver, sizeof(ver));
	if (write_intent(c, &ct, &ctx, &call, ver, "engine", err) < 0) {
		ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
		goto out;
	}

	t0 = o->t0 = crpc__now();
	r->failed_step = CRPC_CHECKPOINT_REQUEST;
	/*
	 * The images land in DIR as the engine's CRIU writes them or its tar
	 * extracts them (each file front to back): hashed and handed to the
	 * disk while that goes on, as for a PID's dump (ahead.c), unless the
	 * inspection expects few of them.
	 */
	if (mf_ahead_pays(o->expect_bytes))
		c->ahead = mf_ahead_start(o->dirfd, ck_digest(o), NULL, NULL, 0, t0);
	crpc__timing("container dump: CRIU, DIR, call directory, intent", tp);
	tp = crpc__timing_now();
	if (engine->checkpoint(&ctx, &ct, o->dir_real ? o->dir_real : o->p.dir, o->opts.leave_running, err) <
	    0) {
		char log[PATH_MAX + 16];

		/* the engine's CRIU log, when it wrote one into DIR or the shim kept one */
		keep_log(o, &call, "dump", DUMP_LOG);
		if (*err &&
		    snprintf(log, sizeof(log), "%s/%s", o->dir_real ? o->dir_real : o->p.dir, DUMP_LOG) <
			    (int)sizeof(log) &&
		    access(log, R_OK) == 0)
			crpc_error_attach_log(*err, log);
		if (!keep_trace(o, &call, "dump", -1, NULL, o->p.trace_path))
			not_through_crpc_hint(o, *err, engine->name);
		remove_engine_files(c);
		ck_dump_failed(c, CRPC_CHECKPOINT_REQUEST, true, err);
		container_after(o, engine, &ctx, ct.info.id);
		goto out;
	}
	crpc__timing("container dump: the engine's checkpoint", tp);
	tp = crpc__timing_now();
	if (!keep_trace(o, &call, "dump", o->dirfd, "dump.trace", o->p.trace_path))
		not_through_crpc(o, engine->name, "checkpoint");
	keep_log(o, &call, "dump", DUMP_LOG);
	{
		crpc_error *e = NULL;

		/* the images are in DIR's stand-in now: the call directory (podman's export) can go */
		if (write_intent(c, &ct, &ctx, &call, ver, "images", &e) < 0) {
			ck_warn(o, "cannot record that the images are complete: %s",
				e && e->message ? e->message : "?");
			crpc_error_free(e);
		} else {
			crpc__engine_call_close(&call);
			call.dir[0] = '\0';
		}
	}
	record = container_record(&ct);
	if (!record) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
		ck_dump_failed(c, CRPC_CHECKPOINT_FINISH, false, err);
		goto out;
	}
	if (ck_dump_finalize(c, crpc__now() - t0, op, ver[0] ? ver : NULL, o->criu_path, record, err) < 0) {
		ck_dump_failed(c, CRPC_CHECKPOINT_FINISH, false, err);
		goto out;
	}
	crpc__timing("container dump: trace, log, intent, manifest, DIR in place", tp);
	r->wall_seconds = crpc__now() - t0;
	snprintf(r->criu_version, sizeof(r->criu_version), "%s", ver);
	ck_dump_figures(c);
	r->failed_step = CRPC_CHECKPOINT_DONE;
	rc = 0;
out:
	if (call.dir[0])
		crpc__engine_call_close(&call);
	crpc__container_release(&ct);
	return rc;
}

/* crpc.json's "container" record, or NULL (a PID's checkpoint). */
static json_t *recorded_container(ck_op *o, crpc_error **err, bool *failed)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	json_t *root, *ct;
	json_error_t jerr;

	*failed = false;
	if (crpc_manifest_read(o->dirfd, &text, &len, NULL) < 0)
		return NULL; /* no manifest (--force): a PID's */
	root = json_loadb(text, len, 0, &jerr);
	ct = json_object_get(root, "container");
	if (!ct) {
		json_decref(root);
		return NULL;
	}
	if (!json_is_object(ct)) {
		json_decref(root);
		*failed = true;
		crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, o->op,
			       "crpc.json: \"container\" is not an object");
		return NULL;
	}
	json_incref(ct);
	json_decref(root);
	return ct;
}

static void str_field(json_t *j, const char *key, char *buf, size_t size)
{
	const char *s = json_string_value(json_object_get(j, key));

	snprintf(buf, size, "%s", s ? s : "");
}

int ck_container_restore(ck_op *o, crpc_error **err)
{
	crpc_checkpoint_result *r = o->res;
	bool bad;
	json_t *rec_j = recorded_container(o, err, &bad);
	crpc__container rec = { 0 }, out = { 0 };
	crpc__engine_call call = { .dirfd = -1 };
	crpc_engine_env own;
	crpc__engine_ctx ctx = { 0 };
	const crpc__engine *engine;
	char why[256] = "";
	double tp = crpc__timing_now();
	int rc = -1;

	if (!rec_j) {
		if (!bad && o->p.new_name)
			return crpc_error_set(
				err, CRPC_EXIT_USAGE, EINVAL, o->op,
				"--name is for a container's checkpoint; %s holds a process tree's",
				o->p.dir);
		return bad ? -1 : 1;
	}
	if (o->p.wait) {
		json_decref(rec_j);
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, o->op,
				      "--wait: a restored container is its engine's to wait for, not crpc's");
	}
	str_field(rec_j, "engine", rec.info.engine, sizeof(rec.info.engine));
	str_field(rec_j, "engine_version", rec.info.engine_version, sizeof(rec.info.engine_version));
	str_field(rec_j, "id", rec.info.id, sizeof(rec.info.id));
	str_field(rec_j, "name", rec.info.name, sizeof(rec.info.name));
	str_field(rec_j, "image", rec.info.image, sizeof(rec.info.image));
	str_field(rec_j, "runtime", rec.info.runtime, sizeof(rec.info.runtime));
	rec.recreate = json_incref(json_object_get(rec_j, "recreate"));
	json_decref(rec_j);
	r->is_container = true;
	r->container = rec.info;
	if (crpc__engine_env_take(&own, o->p.engine_env, o->op, err) < 0)
		goto out;
	ctx.env = &own;
	/* runc's root as the dump had it, unless the caller names one */
	if (!ctx.env->runc_root && strcmp(rec.info.engine, "runc") == 0 &&
	    json_is_string(json_object_get(rec.recreate, "root"))) {
		own.runc_root = json_string_value(json_object_get(rec.recreate, "root"));
	}
	engine = crpc__engine_find(rec.info.engine);
	if (!engine) {
		crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, o->op,
			       "the checkpoint is of a %s container, an engine this crpc does not know",
			       rec.info.engine);
		goto out;
	}
	if (!engine->present(&ctx, why, sizeof(why))) {
		crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, o->op, "the checkpoint is of a %s container: %s",
			       engine->name, why);
		goto out;
	}
	if (o->p.new_name) {
		crpc__target t;
		char name[300];

		snprintf(name, sizeof(name), "%s:%s", engine->name, o->p.new_name);
		if (crpc__target_parse(name, &t, err) < 0)
			goto out;
	}
	if (resolve_criu(o, err) < 0)
		goto out;
	/* the restore-side counterparts of the dump's options (tcp_established, ...) */
	if (!o->p.no_checkpoint_options && crpc_manifest_load(o->dirfd, &o->manifest, NULL) == 0) {
		o->have_manifest = true;
		if (crpc_manifest_restore_opts(&o->manifest, &o->opts, &r->applied, &r->not_applied, err) < 0)
			goto out;
		for (size_t i = 0; i < r->applied.n; i++)
			ck_notice(o, "from the checkpoint: %s=%s (dump: %s)", r->applied.v[i].option,
				  r->applied.v[i].value ? r->applied.v[i].value : "",
				  r->applied.v[i].reason ? r->applied.v[i].reason : r->applied.v[i].source);
	}
	r->failed_step = CRPC_CHECKPOINT_SETUP;
	if (open_call(o, &rec.info, "restore", true, &call, err) < 0)
		goto out;
	ctx.shim_path = call.shim;
	ctx.call_dir = call.dir;
	ck_info(o, "%s restore of %s%s%s from %s", engine->name, rec.info.id, o->p.new_name ? " as " : "",
		o->p.new_name ? o->p.new_name : "", o->dir_real ? o->dir_real : o->p.dir);
	crpc__timing("container restore: engine, CRIU, options, call directory", tp);
	tp = crpc__timing_now();
	o->t0 = crpc__now();
	r->failed_step = CRPC_CHECKPOINT_REQUEST;
	if (engine->restore(&ctx, &rec, o->dir_real ? o->dir_real : o->p.dir, o->p.new_name, &out, err) < 0) {
		char log[PATH_MAX + 16];

		keep_log(o, &call, "restore", "restore.log");
		if (*err &&
		    snprintf(log, sizeof(log), "%s/restore.log", o->dir_real ? o->dir_real : o->p.dir) <
			    (int)sizeof(log) &&
		    access(log, R_OK) == 0)
			crpc_error_attach_log(*err, log);
		if (!keep_trace(o, &call, "restore", -1, NULL, o->p.trace_path))
			not_through_crpc_hint(o, *err, engine->name);
		goto out;
	}
	crpc__timing("container restore: the engine's restore", tp);
	tp = crpc__timing_now();
	if (!keep_trace(o, &call, "restore", -1, NULL, o->p.trace_path))
		not_through_crpc(o, engine->name, "restore");
	keep_log(o, &call, "restore", "restore.log");
	r->wall_seconds = crpc__now() - o->t0;
	r->container = out.info;
	r->pid = out.info.pid;
	snprintf(r->criu_path, sizeof(r->criu_path), "%s", o->criu_path);
	criu_version(o->criu_path, r->criu_version, sizeof(r->criu_version));
	crpc__timing("container restore: trace, log, result", tp);
	r->failed_step = CRPC_CHECKPOINT_DONE;
	rc = 0;
out:
	if (call.dir[0])
		crpc__engine_call_close(&call);
	crpc__container_release(&rec);
	crpc__container_release(&out);
	return rc;
}

/* ---- `crpc recover` of a container's dump ------------------------------------ */

#define BUSY_WAIT_SECONDS 120

static const char *ec_str(const struct mf_intent *in, const char *key)
{
	return json_string_value(json_object_get(in->engine_call, key));
}

/* The container as the intent records it (its record, else the engine_call's names). */
static void intent_container(const struct mf_intent *in, crpc__container *out)
{
	json_t *rec = json_object_get(in->root, "container");
	json_t *pid = json_object_get(rec, "pid");

	memset(out, 0, sizeof(*out));
	str_field(rec, "engine", out->info.engine, sizeof(out->info.engine));
	str_field(rec, "engine_version", out->info.engine_version, sizeof(out->info.engine_version));
	str_field(rec, "id", out->info.id, sizeof(out->info.id));
	str_field(rec, "name", out->info.name, sizeof(out->info.name));
	str_field(rec, "image", out->info.image, sizeof(out->info.image));
	str_field(rec, "runtime", out->info.runtime, sizeof(out->info.runtime));
	if (!out->info.engine[0])
		str_field(in->engine_call, "engine", out->info.engine, sizeof(out->info.engine));
	if (!out->info.id[0])
		str_field(in->engine_call, "id", out->info.id, sizeof(out->info.id));
	if (!out->info.name[0])
		str_field(in->engine_call, "name", out->info.name, sizeof(out->info.name));
	out->info.pid = json_is_integer(pid) ? (pid_t)json_integer_value(pid) : 0;
	if (json_is_object(json_object_get(rec, "recreate")))
		out->recreate = json_deep_copy(json_object_get(rec, "recreate"));
}

/* Whether the dump that wrote the intent (crpc PID pid) still runs: pid runs this crpc's program. */
static bool dump_alive(pid_t pid)
{
	char path[64], self[PATH_MAX], other[PATH_MAX];
	ssize_t a, b;

	if (pid <= 0 || pid == getpid())
		return false;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	a = readlink("/proc/self/exe", self, sizeof(self) - 1);
	b = readlink(path, other, sizeof(other) - 1);
	if (a <= 0 || b <= 0)
		return false;
	self[a] = other[b] = '\0';
	return strcmp(self, other) == 0;
}

static int wait_engine(ck_op *o, const char *engine, const char *call_dir, crpc_error **err)
{
	double t0 = crpc__now();
	pid_t pid;
	bool said = false;

	while ((pid = crpc__engine_call_busy(call_dir)) > 0) {
		if (!said) {
			ck_info(o,
				"%s's checkpoint of the interrupted dump is still running (PID %d): waiting for it",
				engine, (int)pid);
			said = true;
		}
		if (crpc__now() - t0 > BUSY_WAIT_SECONDS) {
			crpc_error_set(
				err, CRPC_EXIT_FAIL, EBUSY, o->op,
				"%s's checkpoint of the interrupted dump is still running after %d s (PID %d)",
				engine, BUSY_WAIT_SECONDS, (int)pid);
			if (*err)
				crpc_error_set_hint(*err, "run `crpc recover %s` again once it ended",
						    o->p.dir);
			return -1;
		}
		usleep(100 * 1000);
	}
	return 0;
}

static int intent_engine(ck_op *o, const struct mf_intent *in, const crpc__engine **engine,
			 crpc_engine_env *own, crpc__engine_ctx *ctx, crpc_error **err)
{
	const char *name = ec_str(in, "engine"), *call_dir = ec_str(in, "call_dir");

	if (!name || !call_dir || call_dir[0] != '/')
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, o->op,
				      "the in-progress marker of %s names no engine or call directory",
				      o->p.dir);
	*engine = crpc__engine_find(name);
	if (!*engine)
		return crpc_error_set(
			err, CRPC_EXIT_ENV, ENOENT, o->op,
			"the interrupted dump went through %s, an engine this crpc does not know", name);
	if (crpc__engine_env_take(own, o->p.engine_env, o->op, err) < 0)
		return -1;
	if (!own->runc_root)
		own->runc_root = ec_str(in, "runc_root");
	memset(ctx, 0, sizeof(*ctx));
	ctx->env = own;
	ctx->call_dir = call_dir;
	return 0;
}

int ck_container_recover_collect(ck_op *o, struct mf_intent *in, crpc_error **err)
{
	const crpc__engine *engine;
	crpc_engine_env own;
	crpc__engine_ctx ctx;
	crpc__engine_call call = { .dirfd = -1 };
	crpc__container ct;
	const char *step = ec_str(in, "step");
	bool done;
	int rc;

	if (intent_engine(o, in, &engine, &own, &ctx, err) < 0)
		return -1;
	intent_container(in, &ct);
	o->res->is_container = true;
	o->res->container = ct.info;
	ck_info(o, "the dump of %s:%s (%s) into %s, interrupted at step \"%s\"", engine->name, ct.info.name,
		ct.info.id, ec_str(in, "dir") ? ec_str(in, "dir") : "?", step ? step : "?");
	{
		json_t *pid = json_object_get(in->engine_call, "crpc_pid");

		if (json_is_integer(pid) && dump_alive((pid_t)json_integer_value(pid))) {
			crpc__container_release(&ct);
			crpc_error_set(
				err, CRPC_EXIT_FAIL, EBUSY, o->op,
				"the dump that left %s is still running (crpc PID %d): nothing to recover",
				o->p.dir, (int)json_integer_value(pid));
			if (*err)
				crpc_error_set_hint(
					*err,
					"wait for it to end, then run crpc recover again if %s is still there",
					o->p.dir);
			return -1;
		}
	}
	if (wait_engine(o, engine->name, ctx.call_dir, err) < 0) {
		crpc__container_release(&ct);
		return -1;
	}
	rc = crpc__engine_call_reopen(&call, ctx.call_dir, err);
	if (rc < 0) {
		crpc__container_release(&ct);
		return -1;
	}
	/* the dump saw the engine succeed, or its checkpoint is collected now */
	done = step && strcmp(step, "images") == 0;
	/* Docker's checkpoint is in its data root, named after the call: taken even without the call directory */
	if (step && strcmp(step, "engine") == 0 && engine->collect) {
		rc = engine->collect(&ctx, &ct, o->dir_real ? o->dir_real : o->p.dir, err);
		if (rc < 0) {
			if (call.dirfd >= 0)
				close(call.dirfd);
			crpc__container_release(&ct);
			return -1;
		}
		if (rc == 0) {
			char *record = container_record(&ct);

			ck_info(o, "took %s's finished checkpoint into %s", engine->name, o->p.dir);
			if (!record) {
				if (call.dirfd >= 0)
					close(call.dirfd);
				crpc__container_release(&ct);
				return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, o->op, "out of memory");
			}
			free(in->container);
			in->container = record;
			in->info.container_json = record;
			done = true;
		}
	}
	/* CRIU's log as the shim kept it, where the dump would have put it */
	if (call.dirfd >= 0) {
		keep_log(o, &call, "dump", DUMP_LOG);
		close(call.dirfd);
	}
	crpc__container_release(&ct);
	return done ? 1 : 0;
}

void ck_container_recovered(ck_op *o, struct mf_intent *in)
{
	crpc__engine_call call;
	crpc_error *e = NULL;
	const char *dir = ec_str(in, "call_dir");

	if (dir && crpc__engine_call_reopen(&call, dir, &e) == 0)
		crpc__engine_call_close(&call);
	else if (e)
		ck_warn(o, "%s", e->message ? e->message : "cannot remove the call directory");
	crpc_error_free(e);
}

/* Whether dirfd (or its checkpoint/, podman's export unpacked) holds CRIU images. */
static bool holds_images(int dirfd)
{
	int sub = openat(dirfd, "checkpoint", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool found = crpc_images_present(dirfd) || (sub >= 0 && crpc_images_present(sub));

	if (sub >= 0)
		close(sub);
	return found;
}

/* Remove the temporary directory path (crpc's: its files, and one level of directories). */
static void remove_tmp(ck_op *o, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? io_opendir_at(fd, ".") : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		int sub;
		DIR *sd;
		struct dirent *se;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0 || errno != EISDIR)
			continue;
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		sd = sub >= 0 ? io_opendir_at(sub, ".") : NULL;
		while (sd && (se = readdir(sd)))
			if (strcmp(se->d_name, ".") != 0 && strcmp(se->d_name, "..") != 0)
				(void)unlinkat(sub, se->d_name, 0);
		if (sd)
			closedir(sd);
		if (sub >= 0)
			close(sub);
		(void)unlinkat(fd, de->d_name, AT_REMOVEDIR);
	}
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	if (rmdir(path) < 0)
		ck_warn(o, "cannot remove %s: %s", path, strerror(errno));
}

/* How the engine brings back a container it stopped, for the hint. */
static void engine_restore_hint(const crpc__container *ct, const char *leftover, const char *export,
				char *buf, size_t size)
{
	const char *ref = ct->info.name[0] ? ct->info.name : ct->info.id;

	if (strcmp(ct->info.engine, "podman") == 0 && export)
		snprintf(buf, size,
			 "podman's export of the checkpoint is kept in %s: `podman container restore --import %s` "
			 "brings the container back",
			 export, export);
	else if (strcmp(ct->info.engine, "podman") == 0)
		snprintf(buf, size,
			 "`podman container restore %s` brings it back if podman kept its checkpoint, else "
			 "`podman start %s` starts it afresh",
			 ref, ref);
	else if (strcmp(ct->info.engine, "runc") == 0)
		snprintf(buf, size,
			 "the images CRIU wrote are kept in %s: `runc restore --image-path %s --bundle %s %s` "
			 "tries them; else start the container afresh from its bundle",
			 leftover, leftover,
			 json_string_value(json_object_get(ct->recreate, "bundle"))
				 ? json_string_value(json_object_get(ct->recreate, "bundle"))
				 : "BUNDLE",
			 ct->info.id);
	else
		snprintf(buf, size, "`%s start %s` starts it again", ct->info.engine, ref);
}

int ck_container_unfinished(ck_op *o, struct mf_intent *in, bool tmp, crpc_error *why, crpc_error **err)
{
	const crpc__engine *engine;
	crpc_engine_env own;
	crpc__engine_ctx ctx;
	crpc__container ct, now = { 0 };
	crpc_error *x = NULL;
	char state[64] = "gone", export[PATH_MAX + 16] = "", hint[2 * PATH_MAX + 512];
	/* why's text is a PID's (the tree left running): said here of the container */
	const char *reason = ck_dumpdir_criu_finished(o->dirfd)
				     ? "CRIU wrote its statistics but its log does not say it finished"
				     : "CRIU wrote no statistics";
	bool running = false, images = holds_images(o->dirfd), have_export = false;
	struct stat st;

	intent_container(in, &ct);
	if (intent_engine(o, in, &engine, &own, &ctx, &x) == 0) {
		int f = engine->resolve(&ctx, ct.info.id, &now, &x);

		if (f == CRPC__ENGINE_FOUND) {
			running = now.info.running;
			snprintf(state, sizeof(state), "%s", now.info.state[0] ? now.info.state : "stopped");
		} else if (f < 0) {
			snprintf(state, sizeof(state), "unknown (%s)", engine->name);
		}
		snprintf(export, sizeof(export), "%s/export.tar", ctx.call_dir);
		have_export = lstat(export, &st) == 0 && S_ISREG(st.st_mode);
	}
	o->res->target.checked = true;
	o->res->target.exists = strcmp(state, "gone") != 0;
	o->res->target.running = running;
	if (running) {
		/* nothing of the container is lost: the engine's leftovers are no checkpoint */
		if (tmp)
			remove_tmp(o, o->p.dir);
		ck_container_recovered(o, in);
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, o->op,
			       "the interrupted dump of %s:%s did not finish (%s): the container is running, "
			       "nothing was lost%s",
			       ct.info.engine, ct.info.name[0] ? ct.info.name : ct.info.id, reason,
			       tmp ? "; its temporary directory and call directory are removed" : "");
		if (*err && tmp)
			crpc_error_set_hint(*err, "dump again");
		else if (*err)
			crpc_error_set_hint(*err, "dump again with --force (%s holds the unfinished dump)",
					    o->p.dir);
	} else {
		engine_restore_hint(&ct, o->p.dir, have_export ? export : NULL, hint, sizeof(hint));
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, o->op,
			       "the interrupted dump of %s:%s did not finish (%s) and the container is %s "
			       "(%s): crpc removed nothing%s",
			       ct.info.engine, ct.info.name[0] ? ct.info.name : ct.info.id, reason,
			       strcmp(state, "gone") == 0 ? "gone" : state,
			       strcmp(state, "gone") == 0 ? "its engine no longer lists it"
							  : "stopped by its engine's checkpoint",
			       images ? ", the images are kept" : "");
		if (*err)
			crpc_error_set_hint(*err, "%s", hint);
	}
	crpc_error_free(why);
	crpc_error_free(x);
	crpc__container_release(&ct);
	crpc__container_release(&now);
	return -1;
}
