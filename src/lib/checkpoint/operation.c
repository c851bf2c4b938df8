/* SPDX-License-Identifier: MIT */
/*
 * operation.c - the steps crpc_checkpoint_dump() and crpc_checkpoint_restore()
 * share: parameters and result, the options in effect, the session with its
 * trace, the dispatcher and the hooks, events.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/ck_int.h"

CRPC_API void crpc_checkpoint_params_init(crpc_checkpoint_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->pid_wait_ms = 5000;
	p->trust_owner = (uid_t)-1;
}

/* An environment variable, not taken from a process that gained privileges at exec. */
static const char *env(const char *name)
{
	return secure_getenv(name);
}

CRPC_API const char *crpc_checkpoint_trusted_keys(const crpc_checkpoint_params *p)
{
	const char *e = env("CRPC_TRUSTED_KEYS");

	if (p->trusted_keys && *p->trusted_keys)
		return p->trusted_keys;
	if (e && *e)
		return e;
	if (p->config && p->config->trusted_keys)
		return p->config->trusted_keys;
	return CRPC_TRUSTED_KEYS_DEFAULT;
}

CRPC_API bool crpc_checkpoint_require_signature(const crpc_checkpoint_params *p)
{
	return p->require_signature || (p->config && p->config->require_signature);
}

const char *ck_trusted_keys(const ck_op *o)
{
	return crpc_checkpoint_trusted_keys(&o->p);
}

bool ck_require_signature(const ck_op *o)
{
	return crpc_checkpoint_require_signature(&o->p);
}

const char *ck_signing_key_path(const ck_op *o)
{
	const char *e = env("CRPC_SIGNING_KEY");
	struct stat st;

	if (o->p.signing_key)
		return *o->p.signing_key ? o->p.signing_key : NULL;
	if (e)
		return *e ? e : NULL;
	if (o->p.config && o->p.config->signing_key)
		return o->p.config->signing_key;
	/* the default only when it is there (a dangling link is reported, not ignored) */
	if (lstat(CRPC_SIGNING_KEY_DEFAULT, &st) < 0 && errno == ENOENT)
		return NULL;
	return CRPC_SIGNING_KEY_DEFAULT;
}

crpc_digest ck_digest(const ck_op *o)
{
	if (o->p.digest != CRPC_DIGEST_DEFAULT)
		return o->p.digest;
	if (o->p.config && o->p.config->digest != CRPC_DIGEST_DEFAULT)
		return o->p.config->digest;
	return CRPC_DIGEST_BLAKE3;
}

void ck_event(const ck_op *o, crpc_checkpoint_event kind, const char *fmt, ...)
{
	cleanup_free char *text = NULL;
	va_list ap;
	int n;

	if (!o->p.on_event)
		return;
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		text = NULL;
		return;
	}
	o->p.on_event(kind, text, o->p.on_event_data);
}

int ck_begin(ck_op *o, const crpc_checkpoint_params *p, const char *operation, crpc_error **err)
{
	char opbuf[sizeof(o->op)];

	snprintf(opbuf, sizeof(opbuf), "%s", operation);
	memset(o, 0, sizeof(*o));
	memcpy(o->op, opbuf, sizeof(o->op));
	operation = o->op;
	o->dirfd = -1;
	o->uns_fd = -1;
	crpc_opts_init(&o->opts);
	crpc_checkpoint_params_init(&o->p);
	if (!p)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, operation, "no parameters given");
	if (crpc__sized_take(&o->p, sizeof(o->p), p, CRPC__END_OF(crpc_checkpoint_params, dir), operation,
			     "crpc_checkpoint_params_init", err) < 0)
		return -1;
	if (!o->p.dir || !*o->p.dir)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, operation,
				      "no checkpoint directory given");
	o->res = calloc(1, sizeof(*o->res));
	if (o->res)
		o->res->images_dir = strdup(o->p.dir);
	if (!o->res || !o->res->images_dir)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, operation, "out of memory");
	o->res->failed_step = CRPC_CHECKPOINT_PREPARE;
	return 0;
}

/* The extra steps after the configuration's, named as if they were added to it. */
static int build_hooks(ck_op *o, crpc_error **err)
{
	const crpc_hooks *cfg = o->p.config ? &o->p.config->hooks : NULL;

	if (o->p.n_hooks) {
		crpc_config_init(&o->extra);
		o->have_extra = true;
		for (size_t i = 0; i < o->p.n_hooks; i++)
			if (crpc_config_add_hook_arg(&o->extra, o->p.hooks[i], err) < 0)
				return -1;
	}
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++) {
		size_t nc = cfg ? cfg->n_steps[k] : 0, nx = o->have_extra ? o->extra.hooks.n_steps[k] : 0;
		crpc_hook_step *v;

		if (!nx) {
			/* the configuration's alone: used as they are */
			o->hooks.steps[k] = nc ? cfg->steps[k] : NULL;
			o->hooks.n_steps[k] = nc;
			continue;
		}
		v = calloc(nc + nx, sizeof(*v));
		if (!v)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "hooks", "out of memory");
		o->hooks.steps[k] = v;
		o->hooks.n_steps[k] = nc + nx;
		o->hooks_owned[k] = true;
		if (nc)
			memcpy(v, cfg->steps[k], nc * sizeof(*v));
		memcpy(v + nc, o->extra.hooks.steps[k], nx * sizeof(*v));
		for (size_t i = nc; nc && i < nc + nx; i++) {
			char *name = crpc__strdup_printf("%s[%zu]",
							 crpc_notify_kind_name((crpc_notify_kind)k), i + 1);

			if (crpc__strv_push(&o->step_names, &o->n_step_names, name) < 0)
				return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "hooks", "out of memory");
			v[i].name = name;
		}
	}
	return 0;
}

static bool have_hooks(const crpc_hooks *h)
{
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++)
		if (h->n_steps[k])
			return true;
	return false;
}

int ck_options(ck_op *o, const crpc_opts *section, const char *default_log, crpc_error **err)
{
	const crpc_config *cfg = o->p.config;

	if (build_hooks(o, err) < 0)
		return -1;
	if (o->p.opts && crpc_opts_merge(&o->opts, o->p.opts, err) < 0)
		return -1;
	o->log_level_given = o->opts.log_level >= 0;
	o->log_file_given = o->opts.log_file != NULL;
	if (section && crpc_opts_merge(&o->opts, section, err) < 0)
		return -1;
	if (o->opts.log_level < 0)
		o->opts.log_level = cfg && cfg->criu_log_level >= 0 ? cfg->criu_log_level : 4;
	if (!o->opts.log_file)
		o->opts.log_file = cfg && cfg->criu_log_file ? cfg->criu_log_file : default_log;
	return 0;
}

CRPC_API int crpc_require_root(const char *operation, crpc_error **err)
{
	if (geteuid() == 0)
		return 0;
	crpc_error_set(err, CRPC_EXIT_ENV, EPERM, operation,
		       "crpc must run as root (CRIU needs CAP_SYS_ADMIN and other privileges to "
		       "checkpoint and restore processes)");
	if (err && *err) {
		(*err)->cause = CRPC_CAUSE_NOT_ROOT;
		crpc_error_set_hint(*err, "run it as root, e.g. with sudo");
	}
	return -1;
}

int ck_dispatcher(ck_op *o, crpc_error **err)
{
	if (!o->p.notifications || o->d)
		return 0;
	o->d = crpc_dispatcher_new();
	if (!o->d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "notifications", "out of memory");
	return 0;
}

/* Every message of the session: into the trace, then to the caller's observer. */
static void on_message(crpc_direction dir, const uint8_t *msg, size_t len, int fd, void *userdata)
{
	ck_op *o = userdata;

	if (o->trace)
		crpc_trace_message(dir, msg, len, fd, o->trace);
	if (o->p.on_message)
		o->p.on_message(dir, msg, len, fd, o->p.on_message_data);
}

int ck_criu_path(ck_op *o, crpc_error **err)
{
	const char *criu = o->p.criu_path;

	/* the caller's, then $CRPC_CRIU (resolved by crpc_criu_resolve()), then the configuration's */
	if (!criu && !(getenv("CRPC_CRIU") && *getenv("CRPC_CRIU")) && o->p.config)
		criu = o->p.config->criu_binary;
	if (crpc_criu_resolve(criu, o->criu_path, sizeof(o->criu_path), err) < 0) {
		o->criu_path[0] = '\0';
		return -1;
	}
	return 0;
}

int ck_session_start(ck_op *o, crpc_error **err)
{
	crpc_session_config cfg;
	char ver[96];

	crpc_session_config_init(&cfg);
	cfg.timeout_ms = o->p.timeout_ms;
	if (!o->criu_path[0] && ck_criu_path(o, err) < 0)
		return -1;
	cfg.criu_path = o->criu_path;
	if (o->p.trace) {
		o->trace = o->p.trace;
	} else if (o->p.trace_path) {
		char target[PATH_MAX];
		crpc_trace_header h = { .operation = o->kind, .target = target };

		if (strcmp(o->kind, "dump") == 0)
			snprintf(target, sizeof(target), "%d", (int)o->p.pid);
		else
			snprintf(target, sizeof(target), "%s", o->p.dir);
		if (crpc_trace_open(&o->res->trace, o->p.trace_path,
				    o->p.trace_header ? o->p.trace_header : &h, err) < 0)
			return -1;
		o->trace = o->res->trace;
	}
	if (o->trace || o->p.on_message) {
		cfg.on_message = on_message;
		cfg.on_message_data = o;
	}
	{
		double t = crpc__timing_now();
		int rc = crpc_session_open(&o->s, &cfg, err);

		crpc__timing("CRIU started, VERSION answered", t);
		if (rc < 0)
			return -1;
	}
	/* the same path but when crpc_session_open() found another (the dump's main thread reads it meanwhile) */
	if (strcmp(o->criu_path, crpc_session_criu_path(o->s)) != 0)
		snprintf(o->criu_path, sizeof(o->criu_path), "%s", crpc_session_criu_path(o->s));
	crpc_version_format(crpc_session_version(o->s), ver, sizeof(ver));
	snprintf(o->res->criu_version, sizeof(o->res->criu_version), "%s", ver);
	crpc_trace_set_criu(o->trace, crpc_session_criu_path(o->s), ver);
	return 0;
}

void ck_session_opened(ck_op *o)
{
	ck_info(o, "CRIU %s at %s (worker pid %d)", o->res->criu_version, crpc_session_criu_path(o->s),
		(int)crpc_session_criu_pid(o->s));
}

struct early_arg {
	ck_op *o;
	ck_early *e;
};

static void *early_main(void *arg)
{
	struct early_arg *a = arg;

	a->e->rc = ck_session_start(a->o, &a->e->err);
	free(a);
	return NULL;
}

void ck_early_start(ck_op *o, ck_early *e)
{
	struct early_arg *a;

	memset(e, 0, sizeof(*e));
	if (o->p.trace || o->p.trace_path || o->s)
		return;
	a = malloc(sizeof(*a));
	if (!a)
		return;
	a->o = o;
	a->e = e;
	e->t0 = crpc__now();
	e->started = crpc__thread_start(&e->thread, early_main, a, CRPC__THREAD_URGENT) == 0;
	if (!e->started)
		free(a);
	e->pending = e->started;
}

static void early_join(ck_early *e)
{
	if (e->started) {
		pthread_join(e->thread, NULL);
		e->started = false;
	}
}

static void early_discard(ck_op *o, ck_early *e)
{
	early_join(e);
	if (!e->pending)
		return;
	e->pending = false;
	crpc_error_free(e->err);
	e->err = NULL;
	if (o->s) {
		crpc_session_close(o->s);
		o->s = NULL;
	}
}

int ck_early_take(ck_op *o, ck_early *e, bool fresh, crpc_error **err)
{
	early_join(e);
	if (!e->pending || fresh) {
		early_discard(o, e);
		return ck_session_open(o, err);
	}
	e->pending = false;
	if (e->rc < 0) {
		if (err && !*err)
			*err = e->err;
		else
			crpc_error_free(e->err);
		e->err = NULL;
		return -1;
	}
	e->taken = true;
	ck_session_opened(o);
	return 0;
}

void ck_early_end(ck_op *o, ck_early *e)
{
	early_discard(o, e);
}

int ck_session_open(ck_op *o, crpc_error **err)
{
	if (ck_session_start(o, err) < 0)
		return -1;
	ck_session_opened(o);
	return 0;
}

/*
 * With a trace the hooks' listener also notes a hook that made a
 * notification fail (CRIU is answered with failure and aborts) as a
 * "hook-failed" event of the trace, next to the messages.
 */
static int hooks_traced(crpc_notify *n, void *userdata, crpc_error **err)
{
	ck_op *o = userdata;
	int rc;

	rc = crpc_hook_runner_notify(n, o->runner, err);
	if (rc != 0 && crpc_notify_can_abort(n->kind) && o->trace)
		crpc_trace_event(o->trace, "hook-failed", n->name,
				 err && *err && (*err)->message ? (*err)->message : "failed");
	return rc;
}

int ck_hooks_attach(ck_op *o, const char *operation, pid_t pid, const char *images_dir, crpc_error **err)
{
	crpc_hook_context ctx;

	if (!have_hooks(&o->hooks))
		return 0;
	crpc_hook_context_init(&ctx);
	ctx.operation = operation;
	ctx.pid = pid;
	ctx.images_dir = images_dir;
	ctx.images_dir_fd = o->dirfd;
	ctx.verbose = o->p.hook_output;
	if (!o->d) {
		o->d = crpc_dispatcher_new();
		if (!o->d)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "hooks", "out of memory");
	}
	if (crpc_hook_runner_new(&o->runner, &o->hooks, &ctx, err) < 0)
		return -1;
	if (o->trace) {
		if (crpc_dispatcher_add(o->d, "hooks", hooks_traced, o) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "hooks", "out of memory");
	} else if (crpc_dispatcher_add(o->d, "hooks", crpc_hook_runner_notify, o->runner) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "hooks", "out of memory");
	return 0;
}

/* The warnings of the dispatcher (not those the runner tells in more detail), then the runner's. */
static size_t hook_warnings(const ck_op *o, const char **out)
{
	size_t n = 0;

	if (o->d)
		for (const char *const *w = crpc_dispatcher_warnings(o->d); w && *w; w++) {
			/* the runner says the same about its own steps, in more detail */
			if (o->runner && strstr(*w, ": hooks failed: "))
				continue;
			if (out)
				out[n] = *w;
			n++;
		}
	if (o->runner)
		for (const char *const *w = crpc_hook_runner_warnings(o->runner); w && *w; w++) {
			if (out)
				out[n] = *w;
			n++;
		}
	return n;
}

void ck_hook_warnings(ck_op *o)
{
	size_t n_runner = 0;

	if (o->runner)
		for (const char *const *w = crpc_hook_runner_warnings(o->runner); w && *w; w++)
			n_runner++;
	o->res->hook_failed = n_runner > 0;
	if (o->d)
		for (const char *const *w = crpc_dispatcher_warnings(o->d); w && *w; w++) {
			/* the runner says the same about its own steps, in more detail */
			if (o->runner && strstr(*w, ": hooks failed: "))
				continue;
			ck_warn(o, "%s", *w);
		}
	if (o->runner)
		for (const char *const *w = crpc_hook_runner_warnings(o->runner); w && *w; w++)
			ck_warn(o, "%s", *w);
}

static const char *yn(bool b)
{
	return b ? "yes" : "no";
}

/* One option line of -v: "  LABEL             VALUE". */
static void print_opt(const ck_op *o, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void print_opt(const ck_op *o, const char *label, const char *fmt, ...)
{
	char value[PATH_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	ck_info(o, "  %-17s %s", label, value);
}

void ck_print_opts(const ck_op *o, const char *request, const char *dir)
{
	const crpc_opts *x = &o->opts;

	if (!o->p.on_event)
		return;
	ck_info(o, "%s request options:", request);
	if (x->pid)
		ck_info(o, "  pid               %d", x->pid);
	ck_info(o, "  images dir        %s (fd %d)", dir, x->images_dir_fd);
	ck_info(o, "  log               %s, level %d", x->log_file ? x->log_file : "(CRIU default)",
		x->log_level);
	/* every other option that is set (some always), in the table's order */
	for (size_t i = 0; i < n_opt_descs; i++) {
		const struct opt_desc *d = &opt_descs[i];
		const void *p = (const char *)x + d->off;
		char label[64];
		size_t n;

		if (d->flags & CRPC_OPTF_NOT_LISTED)
			continue;
		snprintf(label, sizeof(label), "%s", d->name);
		for (char *c = label; *c; c++)
			if (*c == '_')
				*c = ' ';
		switch (d->kind) {
		case OPTK_BOOL:
			if ((d->flags & CRPC_OPTF_SHOWN) || *(const bool *)p)
				print_opt(o, label, "%s", yn(*(const bool *)p));
			break;
		case OPTK_SIZE:
			if (*(const bool *)((const char *)x + d->off_set))
				print_opt(o, label, "%u bytes", (unsigned)*(const uint32_t *)p);
			break;
		case OPTK_U32:
			if (*(const uint32_t *)p)
				print_opt(o, label, "%u", (unsigned)*(const uint32_t *)p);
			break;
		case OPTK_LEVEL:
			if (*(const int *)p >= 0)
				print_opt(o, label, "%d", *(const int *)p);
			break;
		case OPTK_STR:
			if (*(const char *const *)p)
				print_opt(o, label, "%s", *(const char *const *)p);
			break;
		case OPTK_STRV: {
			const crpc_strv *l = p;

			for (size_t k = 0; k < l->n; k++)
				print_opt(o, label, "%s", l->v[k]);
			break;
		}
		case OPTK_EXTERNAL:
			for (size_t k = 0; k < x->n_external; k++)
				print_opt(o, label, "%s", x->external[k]);
			break;
		case OPTK_CGMODE: {
			crpc_cg_mode m = *(const crpc_cg_mode *)p;

			/* shown as manage_cgroups, with its mode */
			n = strlen(label);
			if (n > 5 && strcmp(label + n - 5, " mode") == 0)
				label[n - 5] = '\0';
			if (x->manage_cgroups)
				print_opt(o, label, "%s",
					  m == CRPC_CG_UNSET ? "(CRIU default mode)" : crpc_cg_mode_name(m));
			break;
		}
		case OPTK_NETLOCK: {
			crpc_network_lock m = *(const crpc_network_lock *)p;

			if (m != CRPC_NETLOCK_UNSET)
				print_opt(o, label, "%s", crpc_network_lock_name(m));
			break;
		}
		case OPTK_INHERIT_FD:
			for (size_t k = 0; k < x->n_inherit_fd; k++)
				print_opt(o, label, "%s (fd %d)", x->inherit_fd[k].key, x->inherit_fd[k].fd);
			break;
		case OPTK_CG_ROOT:
			for (size_t k = 0; k < x->n_cg_root; k++)
				print_opt(o, label, "%s %s",
					  x->cg_root[k].ctrl ? x->cg_root[k].ctrl : "(all)",
					  x->cg_root[k].path);
			break;
		}
	}
}

int ck_images_bytes(int dirfd, uint64_t *bytes, crpc_error **err)
{
	static const char *const logs[] = { "dump.log", "restore.log", "check.log" };

	if (crpc_images_size(dirfd, bytes, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		struct stat st;

		if (fstatat(dirfd, logs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size <= *bytes)
			*bytes -= (uint64_t)st.st_size;
	}
	return 0;
}

/*
 * gcc 12's analyzer loses track of strings stored into the heap result and
 * reports them as leaked; the result owns them (freed by
 * crpc_checkpoint_result_free(), checked under ASan's leak checker).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
void ck_result_fill(ck_op *o, const char *dir)
{
	crpc_checkpoint_result *r = o->res;
	size_t n = hook_warnings(o, NULL), got = 0;
	char **warnings = NULL, *copy;

	if (!r)
		return;
	snprintf(r->log_file, sizeof(r->log_file), "%s", o->opts.log_file ? o->opts.log_file : "");
	snprintf(r->criu_path, sizeof(r->criu_path), "%s", o->criu_path);
	if (n) {
		const char **v = calloc(n, sizeof(*v));

		warnings = v ? calloc(n, sizeof(*warnings)) : NULL;
		if (warnings) {
			hook_warnings(o, v);
			for (size_t i = 0; i < n; i++) {
				warnings[got] = strdup(v[i]);
				if (warnings[got])
					got++;
			}
		}
		free(v);
	}
	r->n_hook_warnings = got;
	r->hook_warnings = warnings;
	copy = strdup(o->dir_real ? o->dir_real : dir);
	if (copy) { /* else the previous one stays */
		free(r->images_dir);
		r->images_dir = copy;
	}
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void ck_end(ck_op *o)
{
	crpc_session_close(o->s);
	o->s = NULL;
	crpc_dispatcher_free(o->d);
	crpc_hook_runner_free(o->runner);
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++)
		if (o->hooks_owned[k])
			free(o->hooks.steps[k]);
	for (size_t i = 0; i < o->n_step_names; i++)
		free(o->step_names[i]);
	free(o->step_names);
	if (o->have_extra)
		crpc_config_release(&o->extra);
	crpc_opts_release(&o->opts);
	crpc_manifest_release(&o->manifest);
	crpc__ns_tree_free(&o->nst);
	free(o->out_pipes);
	free(o->tree_pids);
	ck_restore_ns_close(o);
	for (size_t i = 0; i < o->n_ns_ext; i++)
		free(o->ns_ext[i]);
	free(o->ns_ext);
	if (o->dirfd >= 0)
		close(o->dirfd);
	free(o->dir_real);
}

void ck_give_result(ck_op *o, crpc_checkpoint_result **out)
{
	if (out)
		*out = o->res;
	else
		crpc_checkpoint_result_free(o->res);
	o->res = NULL;
}

CRPC_API void crpc_checkpoint_result_free(crpc_checkpoint_result *r)
{
	if (!r)
		return;
	free(r->images_dir);
	crpc_opt_reasons_release(&r->options);
	crpc_verdict_release(&r->verdict);
	for (size_t i = 0; i < r->n_hook_warnings; i++)
		free(r->hook_warnings[i]);
	free(r->hook_warnings);
	if (r->have_tree)
		crpc_pstree_release(&r->tree);
	crpc_manifest_check_release(&r->check);
	crpc_manifest_options_release(&r->applied);
	crpc_manifest_options_release(&r->not_applied);
	crpc_pipe_attachments_release(&r->pipes);
	crpc_trace_close(r->trace);
	free(r);
}

CRPC_API void crpc_checkpoint_result_freep(crpc_checkpoint_result **r)
{
	if (r) {
		crpc_checkpoint_result_free(*r);
		*r = NULL;
	}
}
