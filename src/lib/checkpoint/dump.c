/* SPDX-License-Identifier: MIT */
/*
 * dump.c - crpc_checkpoint_dump(): a dump that ends as a complete,
 * verifiable checkpoint in DIR, or leaves nothing restore accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/ck_int.h"
#include "checkpoint/manifest_int.h"

#define DUMP_LOG "dump.log"

/*
 * The CRIU log options filled in when the caller did not set
 * them: recorded as coming from the configuration or as crpc's default,
 * not as the user's.
 */
static int log_option_sources(const ck_dump *c, crpc_manifest_options *l, crpc_error **err)
{
	const crpc_config *cfg = c->o.p.config;
	char level[16];

	if (!c->o.log_level_given && c->o.opts.log_level >= 0) {
		bool from_cfg = cfg && (cfg->dump.log_level >= 0 || cfg->criu_log_level >= 0);

		snprintf(level, sizeof(level), "%d", c->o.opts.log_level);
		if (crpc_manifest_options_add(l, "log_level", level, from_cfg ? "config" : "default", NULL,
					      err) < 0)
			return -1;
	}
	if (!c->o.log_file_given && c->o.opts.log_file) {
		bool from_cfg = cfg && (cfg->dump.log_file || cfg->criu_log_file);

		if (crpc_manifest_options_add(l, "log_file", c->o.opts.log_file,
					      from_cfg ? "config" : "default", NULL, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * CRIU succeeded and the post-dump hooks passed: write the manifest
 * (every file hashed and synced, crpc.json written atomically), drop the
 * marker, and move a temporary directory into place as DIR. On failure the
 * images are kept (without crpc.json: restore --force takes them).
 */
/*
 * What the manifest says of the dump: its info, its options into `options`
 * (released by the caller).
 */
static int dump_info(ck_dump *c, crpc_manifest_info *mi, crpc_manifest_options *options,
		     const char *const *logs, const char *criu_version, const char *criu_path,
		     const char *container_json, crpc_error **err)
{
	const crpc_opt_reasons *why = &c->o.res->options;
	int rc = 0;

	memset(mi, 0, sizeof(*mi));
	mi->pid = c->o.p.pid;
	mi->command = c->o.res->comm[0] ? c->o.res->comm : NULL;
	mi->criu_version = criu_version;
	mi->criu_path = criu_path;
	mi->container_json = container_json;
	mi->leave_running = c->o.opts.leave_running;
	mi->log_files = logs;
	mi->options = options;
	mi->ns = &c->o.nst;
	mi->digest = ck_digest(&c->o);
	/* the options the inspection knows, with their reasons; then every other one set */
	for (size_t i = 0; why && i < why->n && rc == 0; i++)
		rc = crpc_manifest_options_add(options, why->v[i].option, why->v[i].value,
					       crpc_opt_source_name(why->v[i].source), why->v[i].reason, err);
	if (rc == 0)
		rc = log_option_sources(c, options, err);
	if (rc == 0)
		rc = crpc_manifest_options_from_opts(options, &c->o.opts,
						     c->o.p.config ? &c->o.p.config->dump : NULL, err);
	return rc;
}

/*
 * Right before the request: what the manifest will say, into the marker, so
 * that `crpc recover` can complete a dump CRIU finished after crpc died.
 */
int ck_dump_intent(ck_dump *c, const char *op, const char *criu_version, const char *criu_path,
		   const char *container_json, json_t *engine_call, crpc_error **err)
{
	const char *const logs[] = { c->o.opts.log_file ? c->o.opts.log_file : DUMP_LOG, "hooks.log", NULL };
	crpc_manifest_options options = { 0 };
	crpc_manifest_info mi;
	char *text = NULL;
	int rc;

	rc = dump_info(c, &mi, &options, logs, criu_version, criu_path, container_json, err);
	if (rc == 0 && !(text = mf_intent_json(&mi, engine_call)))
		rc = crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	if (rc == 0)
		rc = ck_marker_write(c->o.dirfd, text, op, err);
	free(text);
	crpc_manifest_options_release(&options);
	return rc;
}

int ck_dump_finalize(ck_dump *c, double criu_seconds, const char *op, const char *criu_version,
		     const char *criu_path, const char *container_json, crpc_error **err)
{
	const char *const logs[] = { c->o.opts.log_file ? c->o.opts.log_file : DUMP_LOG, "hooks.log", NULL };
	crpc_manifest_options options = { 0 };
	crpc_manifest_info mi;
	int rc;

	rc = dump_info(c, &mi, &options, logs, criu_version, criu_path, container_json, err);
	mi.criu_seconds = criu_seconds;
	if (rc == 0) {
		ck_files_private(c->o.dirfd);
		rc = mf_write(c->o.dirfd, &mi, &c->o.res->manifest, c->ahead, c->pipe_scan, true, err);
	}
	/*
	 * The signature before the checkpoint counts as complete (the marker
	 * removed, the rename into place); if it cannot be written, crpc.json
	 * goes too and the images stay as a dump crpc did not finish.
	 */
	if (rc == 0 && c->key) {
		rc = crpc_manifest_sign(c->o.dirfd, c->key, err);
		if (rc < 0)
			(void)unlinkat(c->o.dirfd, CRPC_MANIFEST_NAME, 0);
		else
			snprintf(c->o.res->signing_key_sha256, sizeof(c->o.res->signing_key_sha256), "%s",
				 crpc_signing_key_fingerprint(c->key));
	}
	crpc_manifest_options_release(&options);
	if (rc < 0) {
		const char *where = c->tmp_path ? c->o.p.dir : (c->o.dir_real ? c->o.dir_real : c->o.p.dir);

		if (*err)
			crpc_error_set_hint(*err,
					    "the images are kept in %s without %s: `crpc recover %s` completes "
					    "the checkpoint once the cause is fixed",
					    where, CRPC_MANIFEST_NAME, where);
		if (c->tmp_path)
			ck_dir_move_into_place(c);
		return -1;
	}
	ck_info(&c->o, "%s: %zu files, %llu bytes, %s in %.1f ms, sync in %.1f ms", CRPC_MANIFEST_NAME,
		c->o.res->manifest.files, (unsigned long long)c->o.res->manifest.bytes,
		crpc_digest_name(ck_digest(&c->o)), c->o.res->manifest.hash_seconds * 1e3,
		c->o.res->manifest.sync_seconds * 1e3);
	if (unlinkat(c->o.dirfd, CRPC_INPROGRESS_MARKER, 0) < 0 && errno != ENOENT)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op,
				      "the dump succeeded but the marker %s/%s cannot be removed",
				      c->o.dir_real ? c->o.dir_real : c->o.p.dir, CRPC_INPROGRESS_MARKER);
	c->marker = false;
	/* the marker's removal and crpc.json's entry on disk: in place now, or with the rename below */
	if (!c->tmp_path && fsync(c->o.dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot sync %s",
				      c->o.dir_real ? c->o.dir_real : c->o.p.dir);
	if (c->tmp_path && (rc = ck_dumpdir_commit(c->tmp_path, c->o.p.dir, c->o.dirfd, err)) < 0) {
		if (*err && rc == -1)
			crpc_error_set_hint(*err,
					    "the complete checkpoint is in %s: move it where you want it",
					    c->tmp_path);
		else if (*err)
			crpc_error_set_hint(*err,
					    "the checkpoint is complete but may not be on disk yet: "
					    "`sync -f %s` before relying on it",
					    c->o.p.dir);
		if (rc == -2) {
			free(c->tmp_path);
			c->tmp_path = NULL;
		}
		return -1;
	}
	if (c->tmp_path) {
		free(c->tmp_path);
		c->tmp_path = NULL;
		free(c->o.dir_real);
		c->o.dir_real = realpath(c->o.p.dir, NULL);
	}
	return 0;
}

/* In *s, replace the first "FROM/" with "TO/" (a path that moved). */
static void repath(char **s, const char *from, const char *to)
{
	size_t n = strlen(from);
	char *at = *s ? strstr(*s, from) : NULL, *moved = NULL;

	if (!at || at[n] != '/')
		return;
	if (asprintf(&moved, "%.*s%s%s", (int)(at - *s), *s, to, at + n) < 0)
		return;
	free(*s);
	*s = moved;
}

/* The dump failed at `step`: clean up (once DIR was touched) and look at the target (after CRIU ran). */
int ck_dump_failed(ck_dump *c, crpc_checkpoint_step step, bool cleanup, crpc_error **err)
{
	if (cleanup)
		ck_dir_cleanup_failed(c);
	if (step >= CRPC_CHECKPOINT_REQUEST)
		ck_target_after(&c->o, c->state_before);
	/* the logs written into the temporary directory are now in DIR */
	if (err && *err && c->tmp_real && !c->tmp_path && c->o.dir_real) {
		repath(&(*err)->log_path, c->tmp_real, c->o.dir_real);
		repath(&(*err)->hint, c->tmp_real, c->o.dir_real);
	}
	if (c->o.res->failed_step < step)
		c->o.res->failed_step = step;
	return -1;
}

/* What the summary shows besides the manifest: the size and CRIU's statistics. */
void ck_dump_figures(ck_dump *c)
{
	crpc_checkpoint_result *r = c->o.res;
	crpc_error *e = NULL;

	r->have_image_bytes = ck_images_bytes(c->o.dirfd, &r->image_bytes, &e) == 0;
	if (!r->have_image_bytes) {
		ck_warn(&c->o, "cannot compute the checkpoint's size: %s",
			e && e->message ? e->message : "?");
		crpc_error_free(e);
		e = NULL;
	}
	r->have_stats = crpc_stats_read(c->o.dirfd, "stats-dump", &r->stats, &e) == 0 && r->stats.have_dump;
	if (!r->have_stats)
		ck_info(&c->o, "no CRIU statistics: %s", e && e->message ? e->message : "none in stats-dump");
	crpc_error_free(e);
}

/*
 * The session opened on a thread of its own while the tree is inspected;
 * `ready` once it is open (or failed), the thread going on to set up the
 * digests' libraries while CRIU dumps.
 */
struct early {
	ck_op *o;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
	bool ready;
	double t0;
	int rc;
	crpc_error *err;
};

static void *early_session(void *arg)
{
	struct early *e = arg;
	crpc__digest *probe = NULL;

	e->rc = ck_session_start(e->o, &e->err);
	pthread_mutex_lock(&e->lock);
	e->ready = true;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
	/*
	 * The files' digest is readied here, beside the request, rather than
	 * before it or when the manifest is written (SHA-256 loads libcrypto,
	 * 2-3 ms; the hash-ahead thread does the same for the checkpoints it
	 * follows). At SCHED_IDLE: neither the main thread just woken (the
	 * scheduler tends to wake it on this CPU, behind this thread) nor CRIU
	 * waits for this CPU. crpc.json's checksum of itself takes the same
	 * digest; a signing key loaded libcrypto before anything else.
	 */
	crpc__thread_background();
	if (crpc__digest_new(ck_digest(e->o), &probe, NULL) == 0)
		crpc__digest_free(probe);
	return NULL;
}

static bool early_start(struct early *e, ck_op *o)
{
	memset(e, 0, sizeof(*e));
	e->o = o;
	e->t0 = crpc__now();
	if (pthread_mutex_init(&e->lock, NULL) != 0)
		return false;
	if (pthread_cond_init(&e->cond, NULL) != 0) {
		pthread_mutex_destroy(&e->lock);
		return false;
	}
	e->started = crpc__thread_start(&e->thread, early_session, e, CRPC__THREAD_URGENT) == 0;
	if (!e->started) {
		pthread_cond_destroy(&e->cond);
		pthread_mutex_destroy(&e->lock);
	}
	return e->started;
}

/* Until the session is open (or failed); the thread goes on. */
static void early_wait(struct early *e)
{
	pthread_mutex_lock(&e->lock);
	while (!e->ready)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
}

/* The end of the thread, before its struct goes (idempotent). */
static void early_join(struct early *e)
{
	if (!e->started)
		return;
	pthread_join(e->thread, NULL);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	e->started = false;
}

/*
 * The outside holders of the pipes the tree shares with outside processes,
 * for crpc.json: looked for while CRIU starts and dumps, instead of a scan
 * of /proc after it. crpc and its children (CRIU, which receives the
 * tree's fds while it dumps) hold none of them: left out with the tree.
 */
static void start_pipe_scan(ck_dump *c)
{
	ck_op *o = &c->o;
	pid_t *skip;
	size_t n = 0;

	if (!o->n_out_pipes)
		return;
	skip = calloc(o->n_tree_pids + 1, sizeof(*skip));
	if (!skip)
		return;
	for (size_t i = 0; i < o->n_tree_pids; i++)
		skip[n++] = o->tree_pids[i];
	skip[n++] = getpid();
	c->pipe_scan = mf_pipe_scan_start(o->out_pipes, o->n_out_pipes, skip, n);
	free(skip);
}

static int dump_steps(ck_dump *c, struct early *early, crpc_error **err)
{
	ck_op *o = &c->o;
	crpc_checkpoint_result *r = o->res;
	const char *op = o->op;
	crpc_dump_result dr;
	char ver[96];
	bool criu_known; /* o->criu_path found here: the session's thread leaves it as it is */
	int rc;

	double tp = crpc__timing_now();

	/* the configuration: its dump: options under the caller's */
	o->opts.pid = o->p.pid;
	if (ck_options(o, o->p.config ? &o->p.config->dump : NULL, DUMP_LOG, err) < 0)
		return -1;
	/* everything that can be checked without touching anything */
	if (ck_target_check(o, &c->state_before, err) < 0 || crpc_require_root(op, err) < 0 ||
	    ck_dir_check(c, op, err) < 0)
		return -1;
	crpc__timing("dump: options, target and DIR checks", tp);
	/*
	 * Inspect the tree (stop on blockers, add the options it needs, auto.c)
	 * while CRIU starts: its start-up and VERSION answer take as long as
	 * a small tree's inspection. CRIU is asked nothing else before the
	 * inspection passed. CRIU's path is found before its thread starts,
	 * for the intent record below; not found, the thread fails with the
	 * reason once the inspection passed.
	 */
	criu_known = ck_criu_path(o, NULL) == 0;
	early_start(early, o);
	tp = crpc__timing_now();
	rc = ck_auto_dump(o, err);
	crpc__timing("dump: inspection and verdict", tp);
	if (rc < 0)
		return -1; /* the session (if any) is closed by ck_end() */
	r->failed_step = CRPC_CHECKPOINT_SETUP;
	/* DIR's temporary directory while CRIU may still be starting */
	tp = crpc__timing_now();
	if (ck_dispatcher(o, err) < 0 || ck_dir_create(c, op, err) < 0)
		return ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
	crpc__timing("dump: temporary DIR", tp);
	/*
	 * In a temporary directory (nothing there before), the marker and the
	 * intent record too, still while CRIU starts: the intent names no CRIU
	 * version (`crpc recover` takes it from CRIU's log). In DIR itself, only
	 * once CRIU's version accepted the options: --force removes the
	 * checkpoint that was there.
	 */
	if (c->tmp_path) {
		tp = crpc__timing_now();
		if (ck_dir_prepare(c, op, err) < 0 ||
		    ck_dump_intent(c, op, NULL, criu_known ? o->criu_path : NULL, NULL, NULL, err) < 0)
			return ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
		crpc__timing("dump: marker, intent record", tp);
	}
	/* last before the wait: the new thread may take this CPU for a while */
	start_pipe_scan(c);
	tp = crpc__timing_now();
	if (early->started)
		early_wait(early);
	else
		early->rc = ck_session_start(o, &early->err);
	crpc__timing("dump: wait for CRIU's start", tp);
	tp = crpc__timing_now();
	o->t0 = early->t0;
	if (early->rc < 0) {
		if (err && !*err) {
			*err = early->err;
			early->err = NULL;
		}
		return ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
	}
	ck_session_opened(o);
	if (crpc_opts_check_version(&o->opts, crpc_session_version(o->s), err) < 0 ||
	    (!c->tmp_path && ck_dir_prepare(c, op, err) < 0))
		return ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
	o->opts.images_dir_fd = o->dirfd;
	if (ck_hooks_attach(o, "dump", o->p.pid, o->dir_real ? o->dir_real : o->p.dir, err) < 0)
		return ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
	ck_print_opts(o, "dump", o->dir_real ? o->dir_real : o->p.dir);
	ck_info(o, "dumping PID %d (%s) into %s", (int)o->p.pid, r->comm, o->p.dir);
	r->leave_running = o->opts.leave_running;

	/* what the manifest will say, for `crpc recover` should crpc die from here on */
	crpc_version_format(crpc_session_version(o->s), ver, sizeof(ver));
	if (!c->tmp_path && ck_dump_intent(c, op, ver, crpc_session_criu_path(o->s), NULL, NULL, err) < 0)
		return ck_dump_failed(c, CRPC_CHECKPOINT_SETUP, true, err);
	crpc__timing(c->tmp_path ? "dump: options for CRIU's version, hooks"
				 : "dump: DIR, hooks, intent record",
		     tp);

	/* hash the images as CRIU writes them, on the other CPU (unless they are few) */
	if (mf_ahead_pays(o->expect_bytes))
		c->ahead = mf_ahead_start(o->dirfd, ck_digest(o), o->p.on_progress, o->p.on_progress_data,
					  o->expect_bytes, o->t0);
	memset(&dr, 0, sizeof(dr));
	if (crpc_session_dump(o->s, &o->opts, o->d, &dr, err) < 0) {
		r->notifications = dr.notifications;
		ck_hook_warnings(o);
		/* libcrpc attached CRIU's log and classified the failure */
		return ck_dump_failed(c, CRPC_CHECKPOINT_REQUEST, true, err);
	}
	r->notifications = dr.notifications;
	ck_hook_warnings(o);
	/* complete: the manifest, then DIR in place */
	tp = crpc__timing_now();
	early_join(early); /* the digests are set up */
	if (ck_dump_finalize(c, crpc__now() - o->t0, op, ver, crpc_session_criu_path(o->s), NULL, err) < 0)
		return ck_dump_failed(c, CRPC_CHECKPOINT_FINISH, false, err);
	crpc__timing("dump: manifest, sync, DIR in place", tp);
	r->wall_seconds = crpc__now() - o->t0;
	tp = crpc__timing_now();
	ck_dump_figures(c);
	crpc__timing("dump: size and CRIU's statistics", tp);
	r->failed_step = CRPC_CHECKPOINT_DONE;
	return 0;
}

static int dump(ck_dump *c, crpc_error **err)
{
	struct early early = { 0 };
	int rc = dump_steps(c, &early, err);

	early_join(&early);
	crpc_error_free(early.err);
	return rc;
}

CRPC_API int crpc_checkpoint_dump(const crpc_checkpoint_params *p, crpc_checkpoint_result **res,
				  crpc_error **err)
{
	crpc_error *local = NULL;
	const char *key_path;
	ck_dump c;
	int rc;

	memset(&c, 0, sizeof(c));
	if (!err)
		err = &local; /* the steps look at the error they set */
	if (res)
		*res = NULL;
	snprintf(c.o.op, sizeof(c.o.op), "dump of PID %d", p ? (int)p->pid : 0);
	if (ck_begin(&c.o, p, c.o.op, err) < 0) {
		ck_end(&c.o);
		crpc_checkpoint_result_free(c.o.res);
		crpc_error_free(local);
		return -1;
	}
	c.o.kind = "dump";
	c.o.res->pid = c.o.p.pid;
	/* the signing key before anything else: a key that cannot be used changes nothing */
	key_path = ck_signing_key_path(&c.o);
	rc = 0;
	if (key_path) {
		rc = crpc_signing_key_load(key_path, &c.key, err);
		if (rc == 0)
			ck_info(&c.o, "signing with %s (key %s)", key_path,
				crpc_signing_key_fingerprint(c.key));
	}
	if (rc == 0) {
		if (c.o.p.target) {
			snprintf(c.o.op, sizeof(c.o.op), "dump of %s", c.o.p.target);
			rc = ck_container_dump(&c, err);
		} else if (c.o.p.pid <= 0)
			rc = crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, c.o.op, "no process to checkpoint");
		else
			rc = dump(&c, err);
	}
	double tp = crpc__timing_now();
	mf_ahead_free(c.ahead);
	mf_pipe_scan_free(c.pipe_scan);
	ck_result_fill(&c.o, c.o.p.dir);
	crpc__timing("dump: result", tp);
	tp = crpc__timing_now();
	ck_end(&c.o);
	crpc__timing("dump: session end, CRIU's exit", tp);
	ck_give_result(&c.o, res);
	crpc_signing_key_free(c.key);
	for (size_t i = 0; i < c.n_pre_files; i++)
		free(c.pre_files[i]);
	free(c.pre_files);
	free(c.tmp_path);
	free(c.tmp_real);
	crpc_error_free(local);
	return rc;
}
