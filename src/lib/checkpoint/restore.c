/* SPDX-License-Identifier: MIT */
/*
 * restore.c - crpc_checkpoint_restore() and crpc_checkpoint_wait(): a
 * checkpoint verified against its manifest, restored with the options the
 * dump recorded and its pipes to the outside given back.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/ck_int.h"
#include "checkpoint/manifest_int.h"

#define RESTORE_LOG "restore.log"

/* The signals a waiting restore forwards, and SIGCHLD. */
static void wait_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
}

/*
 * Whether CRIU may start before the files are verified: when the tree gets
 * no pipe re-attached and no namespace of its own back from crpc.json, CRIU
 * inherits no fd that is opened later (needs_late_criu() checks again).
 */
static bool early_criu_fits(const ck_op *o)
{
	crpc_manifest m;
	bool fits;

	if (o->p.no_checkpoint_options)
		return true;
	memset(&m, 0, sizeof(m));
	if (crpc_manifest_load(o->dirfd, &m, NULL) < 0)
		return true; /* nothing to re-attach (verification fails first if it must) */
	fits = m.n_outside_pipes == 0 && m.ns.own == 0;
	crpc_manifest_release(&m);
	return fits;
}

/* Checks that change nothing: DIR, its images, the tree's PIDs. */
static int check_dir(ck_op *o, ck_early *early, const char *op, crpc_error **err)
{
	if (o->p.force && ck_require_signature(o)) {
		crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, op,
			       "a signature is required, and --force skips the verification of the files "
			       "against %s through which the signature covers them",
			       CRPC_MANIFEST_NAME);
		if (*err)
			crpc_error_set_hint(*err, "restore without --force%s",
					    o->p.require_signature
						    ? ""
						    : " (the configuration's signing: require is on)");
		return -1;
	}
	o->dirfd = crpc_checkpoint_dir_open(o->p.dir, op, err);
	if (o->dirfd < 0)
		return -1;
	o->dir_real = realpath(o->p.dir, NULL);
	/* who could have written what is about to run: before anything is read */
	if (crpc_manifest_check_trust(o->dirfd, o->p.dir, o->p.trust_owner, err) < 0)
		return -1;
	/* CRIU starts while the files are verified */
	if (early_criu_fits(o))
		ck_early_start(o, early);
	ck_restore_ns_leftover(o);
	if (!o->p.force) {
		/* what the restore itself writes into DIR is no image the manifest lacks */
		const char *const ignore[] = { o->opts.log_file ? o->opts.log_file : RESTORE_LOG, NULL };

		o->res->verified = true;
		/* the page images are hashed while CRIU restores (NULL: now, with the rest) */
		o->late = mf_pending_new(o->dirfd);
		if (mf_verify(o->dirfd, o->p.dir, ignore, &o->res->check, o->late, err) < 0)
			return -1;
		ck_info(o, "verified %zu files (%llu bytes) against %s in %.1f ms%s", o->res->check.st.files,
			(unsigned long long)o->res->check.st.bytes, CRPC_MANIFEST_NAME,
			o->res->check.st.hash_seconds * 1e3,
			mf_pending_count(o->late) ? "; the page images while CRIU restores" : "");
		/* who made it: crpc.json's signature, now that the files match it (the page images: as they are hashed) */
		if (crpc_manifest_check_signature(o->dirfd, o->p.dir, ck_trusted_keys(o),
						  ck_require_signature(o), &o->res->signature, err) < 0)
			return -1;
		switch (o->res->signature.verdict) {
		case CRPC_SIGNATURE_VALID:
			ck_notice(o, "signed by %s (key %s)", o->res->signature.signer,
				  o->res->signature.key_sha256);
			break;
		case CRPC_SIGNATURE_UNKNOWN_KEY:
			ck_warn(o, "%s is signed by key %s, which is not among the trusted keys in %s",
				o->p.dir, o->res->signature.key_sha256, ck_trusted_keys(o));
			break;
		default:
			ck_info(o, "%s is not signed", o->p.dir);
			break;
		}
		mf_pending_start(o->late, o->p.on_progress, o->p.on_progress_data, crpc__now());
	} else {
		ck_info(o, "--force: not verifying %s against %s", o->p.dir, CRPC_MANIFEST_NAME);
	}
	if (crpc_images_validate(o->dirfd, o->p.dir, o->p.force, err) < 0)
		return -1;
	if (crpc_pstree_read(o->dirfd, &o->res->tree, err) < 0)
		return -1;
	o->res->have_tree = true;
	if (o->res->tree.n_tasks == 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, op, "%s/pstree.img holds no process",
				      o->p.dir);
	return 0;
}

/* "given by the user", "from the configuration", "automatic": how the dump got an option. */
static const char *source_words(const char *source)
{
	if (source && strcmp(source, "config") == 0)
		return "from the configuration";
	if (source && strcmp(source, "auto") == 0)
		return "set automatically";
	if (source && strcmp(source, "default") == 0)
		return "crpc's default";
	return "given by the user";
}

/*
 * The options the dump needed: read crpc.json (when there is one) and
 * apply the restore-side counterparts of its options that the user did
 * not set; refuse a socket the dump declared external that has no
 * replacement. Printed for humans; listed in the JSON.
 */
static int checkpoint_options(ck_op *o, crpc_error **err)
{
	crpc_error *e = NULL;

	if (crpc_manifest_load(o->dirfd, &o->manifest, &e) < 0) {
		/* only --force gets here without a readable manifest */
		if (e && e->sys_errno == ENOENT)
			ck_info(o, "no options from the checkpoint: it has no %s", CRPC_MANIFEST_NAME);
		else
			ck_warn(o, "no options from the checkpoint: %s",
				e && e->message ? e->message : "its manifest cannot be read");
		crpc_error_free(e);
		return 0;
	}
	o->have_manifest = true;
	if (o->p.no_checkpoint_options) {
		ck_info(o,
			"--no-checkpoint-options: %zu option(s) of the dump and %zu outside "
			"pipe(s) in %s are left alone",
			o->manifest.options.n, o->manifest.n_outside_pipes, CRPC_MANIFEST_NAME);
		return 0;
	}
	if (crpc_manifest_check_externals(&o->manifest, &o->opts, err) < 0)
		return -1;
	if (o->opts.ext_unix_sk)
		for (size_t i = 0; i < o->manifest.options.n; i++) {
			const crpc_manifest_option *x = &o->manifest.options.v[i];

			if (strcmp(x->option, "external") == 0 && x->value &&
			    strncmp(x->value, "unix[", 5) == 0)
				ck_warn(o,
					"--ext-unix-sk: socket %s of the checkpoint, connected outside the "
					"tree at the dump, is restored unconnected",
					x->value);
		}
	if (crpc_manifest_restore_opts(&o->manifest, &o->opts, &o->res->applied, &o->res->not_applied, err) <
	    0)
		return -1;
	for (size_t i = 0; i < o->res->applied.n; i++) {
		const crpc_manifest_option *x = &o->res->applied.v[i];
		bool flag = x->value && strcmp(x->value, "true") == 0;

		ck_notice(o, "from the checkpoint: %s%s%s (dump: %s)", x->option, flag ? "" : "=",
			  flag ? "" : (x->value ? x->value : ""),
			  x->reason ? x->reason : source_words(x->source));
	}
	for (size_t i = 0; i < o->res->not_applied.n; i++) {
		const crpc_manifest_option *x = &o->res->not_applied.v[i];

		ck_info(o, "not from the checkpoint: %s=%s: %s", x->option, x->value ? x->value : "",
			x->reason);
	}
	return 0;
}

/*
 * Right before CRIU starts: give the tree back the pipes it shared with
 * processes outside it, from those that still hold them.
 */
static int reattach_pipes(ck_op *o, crpc_error **err)
{
	if (!o->have_manifest || o->p.no_checkpoint_options)
		return 0;
	if (crpc_manifest_reattach_pipes(&o->manifest, &o->opts, &o->res->pipes, err) < 0)
		return -1;
	for (size_t i = 0; i < o->res->pipes.n; i++) {
		const crpc_pipe_attach *a = &o->res->pipes.v[i];
		const char *end = a->tree_writes ? "write" : "read";

		if (a->user) {
			ck_info(o, "%s: passed by you with inherit_fd", a->key);
		} else if (a->reattached) {
			ck_notice(o,
				  "re-attached %s (the tree's %s end) to the pipe of PID %d (%s) "
				  "fd %d, as at the dump",
				  a->key, end, (int)a->holder.pid, a->holder.comm[0] ? a->holder.comm : "?",
				  a->holder.fd);
		} else {
			ck_warn(o,
				"%s (the tree's %s end, shared with PID %d (%s) at the dump) is not "
				"re-attached: %s; the restored tree gets a new pipe with no %s",
				a->key, end, (int)a->holder.pid, a->holder.comm[0] ? a->holder.comm : "?",
				a->why, a->tree_writes ? "reader" : "writer");
		}
	}
	for (size_t i = 0; i < o->opts.n_inherit_fd; i++)
		ck_info(o, "inherit fd %d as %s", o->opts.inherit_fd[i].fd, o->opts.inherit_fd[i].key);
	return 0;
}

/*
 * CRIU's post-restore: the tree is restored but none of its tasks has run
 * yet, and a failure here makes CRIU kill it. The page images must have
 * checked out by now.
 */
static int late_gate(crpc_notify *n, void *userdata, crpc_error **err)
{
	ck_op *o = userdata;
	int bad;

	if (n->kind != CRPC_NOTIFY_POST_RESTORE || o->late_done || !o->late)
		return 0;
	o->late_done = true;
	bad = mf_pending_finish(o->late, &o->res->check, false);
	if (bad < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, o->op, "out of memory");
	if (bad == 0)
		return 0;
	mf_modified_error(&o->res->check, o->op, err);
	return -1;
}

/*
 * After CRIU: the page images' verdict if the gate did not take it (CRIU
 * failed before post-restore, or never sent it). A restore that succeeded
 * without the gate and then proves modified: its tree is killed. A failed
 * one stops the hashing (an interrupted restore of many GiB must not wait
 * for it) and keeps its error, which also names the files already found
 * modified (a changed checkpoint is to be dumped again, whatever else
 * failed).
 */
static int late_after(ck_op *o, bool restored, crpc_error **err)
{
	int bad;

	if (!o->late || o->late_done)
		return 0;
	o->late_done = true;
	bad = mf_pending_finish(o->late, &o->res->check, !restored);
	if (!restored) {
		if (bad > 0 && err)
			mf_modified_note(&o->res->check, *err);
		return 0;
	}
	if (bad == 0)
		return 0;
	for (size_t i = 0; i < o->res->tree.n_tasks; i++)
		if (o->res->tree.tasks[i].pid > 0)
			kill(o->res->tree.tasks[i].pid, SIGKILL);
	if (bad < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, o->op, "out of memory");
	mf_modified_error(&o->res->check, o->op, err);
	if (*err)
		crpc_error_set_hint(*err, "CRIU sent no post-restore notification: the restored tree was "
					  "killed once the images proved modified");
	return -1;
}

/*
 * Whether CRIU must start only now, after DIR was checked: it inherits the
 * fds of re-attached pipes and of files given back from outside the tree's
 * namespaces, which are opened right before it starts.
 */
static bool needs_late_criu(const ck_op *o)
{
	for (size_t i = 0; i < o->res->pipes.n; i++)
		if (o->res->pipes.v[i].fd >= 0)
			return true;
	return o->n_ns_fds > 0 || o->uns_fd >= 0;
}

static int restore(ck_op *o, ck_early *early, crpc_error **err)
{
	crpc_checkpoint_result *r = o->res;
	const char *op = o->op;
	crpc_restore_result rr;
	crpc_error *e = NULL;
	double tp = crpc__timing_now();

	/* the configuration: its restore: options under the caller's */
	if (ck_options(o, o->p.config ? &o->p.config->restore : NULL, RESTORE_LOG, err) < 0)
		return -1;
	if (crpc_require_root(op, err) < 0 || check_dir(o, early, op, err) < 0)
		return -1;
	crpc__timing("restore: DIR, trust, verification", tp);
	tp = crpc__timing_now();
	/* a container's checkpoint goes back through its engine */
	{
		int c = ck_container_restore(o, err);

		if (c <= 0)
			return c;
	}
	if (checkpoint_options(o, err) < 0 || ck_dispatcher(o, err) < 0)
		return -1;
	/* first of the listeners: no hook runs on a tree whose images proved modified */
	if (mf_pending_count(o->late) && ((!o->d && !(o->d = crpc_dispatcher_new())) ||
					  crpc_dispatcher_add(o->d, "verification", late_gate, o) < 0))
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	r->failed_step = CRPC_CHECKPOINT_SETUP;
	if (o->p.wait) {
		sigset_t set;

		/*
		 * Block the signals to forward (and SIGCHLD) before anything is
		 * restored, so none is lost; crpc_checkpoint_wait() takes them
		 * with sigwaitinfo(). CRIU starts with a clean mask (the session
		 * resets it in the child).
		 */
		wait_set(&set);
		if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot block signals");
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot become a subreaper");
		o->opts.rst_sibling = true;
		r->waiting = true;
	}
	/*
	 * every PID of the tree must be free (zombies are waited for), unless
	 * the tree comes back in a PID namespace of its own, where its PIDs are
	 * its own
	 */
	if (!(o->have_manifest && (o->manifest.ns.own & (1u << CRPC_NS_PID))) &&
	    crpc_pstree_pids_available(&r->tree, o->p.pid_wait_ms, err) < 0)
		return -1;
	crpc__timing("restore: options, PIDs free", tp);
	o->t0 = crpc__now();
	tp = o->t0;
	/* the fds of re-attached pipes are inheritable: open them right before CRIU starts */
	if (reattach_pipes(o, err) < 0 || ck_restore_ns(o, err) < 0 ||
	    ck_early_take(o, early, needs_late_criu(o), err) < 0 ||
	    crpc_opts_check_version(&o->opts, crpc_session_version(o->s), err) < 0)
		return -1;
	if (early->taken)
		o->t0 = early->t0; /* CRIU's start counts as before */
	o->opts.images_dir_fd = o->dirfd;
	if (ck_hooks_attach(o, "restore", 0, o->dir_real ? o->dir_real : o->p.dir, err) < 0)
		return -1;
	crpc__timing("restore: pipes, namespaces, CRIU start, hooks", tp);
	ck_print_opts(o, "restore", o->dir_real ? o->dir_real : o->p.dir);
	ck_info(o, "restoring %zu process(es) from %s, root PID %d", r->tree.n_tasks, o->p.dir,
		(int)r->tree.tasks[0].pid);

	memset(&rr, 0, sizeof(rr));
	r->failed_step = CRPC_CHECKPOINT_REQUEST;
	if (crpc_session_restore(o->s, &o->opts, o->d, &rr, err) < 0) {
		late_after(o, false, err);
		r->notifications = rr.notifications;
		r->waiting = false;
		/* CRIU has made its own copies of the re-attached pipes: ours would keep them open */
		for (size_t i = 0; i < r->pipes.n; i++)
			if (r->pipes.v[i].fd >= 0) {
				close(r->pipes.v[i].fd);
				r->pipes.v[i].fd = -1;
			}
		ck_restore_ns_close(o);
		ck_hook_warnings(o);
		return -1;
	}
	ck_restore_ns_close(o);
	for (size_t i = 0; i < r->pipes.n; i++)
		if (r->pipes.v[i].fd >= 0) {
			close(r->pipes.v[i].fd);
			r->pipes.v[i].fd = -1;
		}
	ck_hook_warnings(o);
	tp = crpc__timing_now();
	if (late_after(o, true, err) < 0)
		return -1;
	r->wall_seconds = crpc__now() - o->t0;
	r->pid = rr.pid;
	r->notifications = rr.notifications;
	r->failed_step = CRPC_CHECKPOINT_DONE;
	/* the figures of the summary */
	r->have_image_bytes = ck_images_bytes(o->dirfd, &r->image_bytes, &e) == 0;
	crpc_error_free(e);
	e = NULL;
	r->have_stats = crpc_stats_read(o->dirfd, "stats-restore", &r->stats, &e) == 0 &&
			r->stats.have_restore;
	if (!r->have_stats)
		ck_info(o, "no CRIU statistics: %s", e && e->message ? e->message : "none in stats-restore");
	crpc_error_free(e);
	crpc__timing("restore: after CRIU's answer", tp);
	return 0;
}

CRPC_API int crpc_checkpoint_restore(const crpc_checkpoint_params *p, crpc_checkpoint_result **res,
				     crpc_error **err)
{
	char op[PATH_MAX + 32];
	crpc_error *local = NULL;
	ck_early early;
	ck_op o;
	int rc;

	if (!err)
		err = &local; /* the steps look at the error they set */
	if (res)
		*res = NULL;
	snprintf(op, sizeof(op), "restore from %s",
		 p && p->size > offsetof(crpc_checkpoint_params, dir) && p->dir ? p->dir : "?");
	if (ck_begin(&o, p, op, err) < 0) {
		ck_end(&o);
		crpc_checkpoint_result_free(o.res);
		crpc_error_free(local);
		return -1;
	}
	o.kind = "restore";
	memset(&early, 0, sizeof(early));
	rc = restore(&o, &early, err);
	ck_early_end(&o, &early);
	mf_pending_free(o.late);
	ck_result_fill(&o, o.p.dir);
	/* CRIU has ended; closing the session reaps it before the caller waits for anything */
	ck_end(&o);
	ck_give_result(&o, res);
	crpc_error_free(local);
	return rc;
}

CRPC_API int crpc_checkpoint_wait(const crpc_checkpoint_result *res, const crpc_checkpoint_params *p,
				  int *status, crpc_error **err)
{
	pid_t root = res ? res->pid : 0, w;
	ck_op ev; /* only for the events */
	sigset_t set;

	memset(&ev, 0, sizeof(ev));
	crpc_checkpoint_params_init(&ev.p);
	if (p && crpc__sized_take(&ev.p, sizeof(ev.p), p, CRPC__END_OF(crpc_checkpoint_params, dir),
				  "restore", "crpc_checkpoint_params_init", err) < 0)
		return -1;
	if (!res || !res->waiting || root <= 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "restore",
				      "nothing to wait for: restore with the wait parameter first");
	wait_set(&set);
	*status = 0;

	w = waitpid(root, status, WNOHANG);
	if (w < 0 && errno == ECHILD)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ECHILD, "restore",
				      "the restored PID %d is not crpc's child; cannot wait for it",
				      (int)root);
	if (w == root)
		return 0;
	for (;;) {
		siginfo_t si;
		int sig;

		/* reap whatever ended: the root, or adopted orphans of the tree */
		for (;;) {
			int st;

			w = io_waitpid(-1, &st, WNOHANG);
			if (w <= 0)
				break;
			if (w == root) {
				*status = st;
				return 0;
			}
			ck_info(&ev, "reaped adopted process %d", (int)w);
		}
		if (w < 0 && errno == ECHILD)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ECHILD, "restore",
					      "lost track of the restored PID %d", (int)root);
		sig = sigwaitinfo(&set, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "restore", "sigwaitinfo failed");
		}
		if (sig == SIGCHLD)
			continue;
		if (kill(root, sig) < 0) {
			if (errno != ESRCH)
				ck_warn(&ev, "cannot forward SIG%s to PID %d: %s", sigabbrev_np(sig),
					(int)root, strerror(errno));
		} else {
			ck_info(&ev, "forwarded SIG%s to PID %d", sigabbrev_np(sig), (int)root);
		}
	}
}
