/* SPDX-License-Identifier: MIT */
/*
 * recover.c - crpc_checkpoint_recover(): the checkpoint a killed `crpc dump`
 * did not finish, completed. When crpc dies after answering CRIU's
 * post-dump notification, CRIU finishes the dump and ends the tree: the
 * images in DIR.crpc-tmp-XXXXXX (or in DIR, with the in-progress marker)
 * are then the only copy of the tree, lacking only crpc.json. What the
 * manifest says of the dump was written into the marker before CRIU was
 * asked (mf_intent_json()); CRIU's own statistics and log say whether it
 * finished. Only then is the manifest written, the checkpoint signed and
 * the directory moved into place, as the dump would have.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/ck_int.h"
#include "checkpoint/manifest_int.h"
#include "engines/engine.h"
#include "jsonutil.h"

#define INTENT_FORMAT "crpc-dump-intent"
#define INTENT_MAX (1u << 20)
#define LOG_TAIL 65536
#define DEFAULT_LOG "dump.log"
/* What CRIU logs (at log level 3 and up) once a dump succeeded, after its statistics. */
#define CRIU_DUMP_DONE "Dumping finished successfully"

/* ---- the marker's record ------------------------------------------------- */

char *mf_intent_json(const crpc_manifest_info *mi, json_t *engine_call)
{
	json_t *o = json_object(), *logs = json_array();
	char *text;

	if (!o || !logs) {
		json_decref(o);
		json_decref(logs);
		return NULL;
	}
	json_object_set_new(o, "format", json_string(INTENT_FORMAT));
	json_object_set_new(o, "pid", json_integer(mi->pid));
	json_object_set_new(o, "command", crpc__json_text(mi->command));
	json_object_set_new(o, "criu_version", crpc__json_text(mi->criu_version));
	json_object_set_new(o, "criu_path", crpc__json_text(mi->criu_path));
	json_object_set_new(o, "leave_running", json_boolean(mi->leave_running));
	json_object_set_new(o, "digest", json_string(crpc_digest_name(mi->digest)));
	json_object_set_new(o, "options", mf_options_json(mi->options));
	json_object_set_new(o, "namespaces", mf_ns_json(mi->ns));
	for (size_t i = 0; mi->log_files && mi->log_files[i]; i++)
		json_array_append_new(logs, crpc__json_text(mi->log_files[i]));
	json_object_set_new(o, "log_files", logs);
	if (mi->container_json) {
		json_t *ct = json_loads(mi->container_json, 0, NULL);

		if (!json_is_object(ct)) {
			json_decref(ct);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "container", ct);
	}
	if (engine_call)
		json_object_set(o, "engine_call", engine_call);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int mf_intent_parse(const char *text, size_t len, struct mf_intent *in)
{
	const char *format;
	json_t *pid, *logs, *v;
	size_t i, n = 0;

	memset(in, 0, sizeof(*in));
	in->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	format = json_is_object(in->root) ? jstr(in->root, "format") : NULL;
	if (!format || strcmp(format, INTENT_FORMAT) != 0) {
		mf_intent_release(in);
		return -1;
	}
	pid = json_object_get(in->root, "pid");
	if (json_is_integer(pid) && json_integer_value(pid) > 0 && json_integer_value(pid) <= INT32_MAX)
		in->info.pid = (pid_t)json_integer_value(pid);
	in->info.command = jstr(in->root, "command");
	in->info.criu_version = jstr(in->root, "criu_version");
	in->info.criu_path = jstr(in->root, "criu_path");
	in->info.leave_running = json_is_true(json_object_get(in->root, "leave_running"));
	if (crpc_digest_parse(jstr(in->root, "digest"), &in->info.digest) < 0)
		in->info.digest = CRPC_DIGEST_DEFAULT; /* an older crpc's record: as a dump now would */
	if (mf_options_from_json(json_object_get(in->root, "options"), &in->options) < 0) {
		mf_intent_release(in);
		return -1;
	}
	in->info.options = &in->options;
	v = json_object_get(in->root, "namespaces");
	if (json_is_object(v) && !(in->namespaces = json_dumps(v, JSON_COMPACT))) {
		mf_intent_release(in);
		return -1;
	}
	in->info.namespaces_json = in->namespaces;
	v = json_object_get(in->root, "container");
	if (json_is_object(v) && !(in->container = json_dumps(v, JSON_COMPACT))) {
		mf_intent_release(in);
		return -1;
	}
	in->info.container_json = in->container;
	v = json_object_get(in->root, "engine_call");
	in->engine_call = json_is_object(v) ? v : NULL;
	logs = json_object_get(in->root, "log_files");
	json_array_foreach(logs, i, v)
		if (json_is_string(v) && mf_safe_name(json_string_value(v)) &&
		    n + 1 < sizeof(in->logs) / sizeof(in->logs[0]))
			in->logs[n++] = json_string_value(v);
	in->info.log_files = n ? in->logs : NULL;
	return 0;
}

void mf_intent_release(struct mf_intent *in)
{
	crpc_manifest_options_release(&in->options);
	free(in->namespaces);
	free(in->container);
	json_decref(in->root);
	memset(in, 0, sizeof(*in));
}

/* ---- CRIU's proof ------------------------------------------------------------ */

/* Does the last LOG_TAIL bytes of dirfd/name hold needle? (no symlink, a regular file) */
static bool log_says(int dirfd, const char *name, const char *needle)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char buf[LOG_TAIL + 1];
	struct stat st;
	off_t from;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	from = st.st_size > LOG_TAIL ? st.st_size - LOG_TAIL : 0;
	n = io_pread_full(fd, buf, LOG_TAIL, from);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* a NUL in the log must not hide what follows it */
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	return strstr(buf, needle) != NULL;
}

/* The CRIU log level the dump ran with, from its record (-1: unknown). */
static int recorded_log_level(const crpc_manifest_options *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->v[i].option, "log_level") == 0 && l->v[i].value)
			return atoi(l->v[i].value);
	return -1;
}

static const char *recorded_log_file(const crpc_manifest_options *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->v[i].option, "log_file") == 0 && l->v[i].value && mf_safe_name(l->v[i].value))
			return l->v[i].value;
	return DEFAULT_LOG;
}

/*
 * Whether CRIU finished the dump in dirfd: its statistics (written only
 * when the dump succeeded, after the post-dump step) with the dump's
 * figures, and its log's last word. -1 with err saying which is missing.
 */
static int criu_finished(ck_op *o, const struct mf_intent *in, const char *op, crpc_error **err)
{
	const crpc_manifest_options *opts = in->root ? &in->options : NULL;
	const char *log = recorded_log_file(opts);
	int level = recorded_log_level(opts);
	crpc_stats st;
	crpc_error *e = NULL;

	if (crpc_stats_read(o->dirfd, "stats-dump", &st, &e) < 0 || !st.have_dump) {
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "refusing to recover %s: CRIU did not finish this dump (%s; CRIU writes its "
			       "statistics last, only when a dump succeeded): the images are not whole and "
			       "the tree was left running",
			       o->p.dir,
			       e && e->sys_errno == ENOENT ? "there is no stats-dump"
							   : "its stats-dump holds no dump statistics");
		crpc_error_free(e);
		if (*err)
			crpc_error_set_hint(*err, "it is not a checkpoint: dump again (%s can go)", o->p.dir);
		return -1;
	}
	if (level >= 0 && level < 3) {
		ck_info(o, "the dump logged at level %d: CRIU's statistics alone say it finished", level);
		return 0;
	}
	if (!log_says(o->dirfd, log, CRIU_DUMP_DONE)) {
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "refusing to recover %s: it holds CRIU's statistics but %s does not end with "
			       "\"%s\"",
			       o->p.dir, log, CRIU_DUMP_DONE);
		if (*err)
			crpc_error_set_hint(*err,
					    "look at %s/%s: if CRIU did finish and you trust the images, "
					    "`crpc restore --force %s` restores them without a manifest",
					    o->p.dir, log, o->p.dir);
		return -1;
	}
	ck_info(o, "CRIU finished the dump: stats-dump holds its statistics and %s ends with \"%s\"", log,
		CRIU_DUMP_DONE);
	return 0;
}

/* ---- the recovery ------------------------------------------------------------ */

/* The DIR a temporary directory DIR.crpc-tmp-XXXXXX stands in for (malloc'ed), or NULL when it is none. */
static char *tmp_target(const char *path)
{
	cleanup_free char *copy = strdup(path);
	size_t n, ilen = strlen(CRPC_DUMPDIR_TMP_INFIX);
	char *t;

	if (!copy)
		return NULL;
	n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	if (n < ilen + 7 || strncmp(copy + n - 6 - ilen, CRPC_DUMPDIR_TMP_INFIX, ilen) != 0 ||
	    strchr(copy + n - 6, '/'))
		return NULL;
	t = strndup(copy, n - 6 - ilen);
	if (t && (!*t || t[strlen(t) - 1] == '/')) {
		free(t);
		return NULL;
	}
	return t;
}

/* An empty directory (rename() may replace it)? */
static bool empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* DIR may be where the checkpoint goes: it does not exist, or is an empty directory. */
static int check_dest(ck_op *o, const char *dest, crpc_error **err)
{
	struct stat st;

	if (lstat(dest, &st) < 0 || (S_ISDIR(st.st_mode) && empty_dir(dest)))
		return 0;
	crpc_error_set(err, CRPC_EXIT_FAIL, EEXIST, o->op,
		       "refusing to recover %s into %s: %s exists (and is no empty directory)", o->p.dir,
		       dest, dest);
	if (*err)
		crpc_error_set_hint(*err, "name another DIR: crpc recover %s DIR", o->p.dir);
	return -1;
}

/*
 * The dump was killed after it completed the checkpoint (crpc.json written,
 * the marker gone) but before the rename into place: verify it, then move it.
 */
static int move_complete(ck_op *o, const char *dest, crpc_error **err)
{
	crpc_checkpoint_result *r = o->res;
	crpc_pstree tree = { 0 };

	if (check_dest(o, dest, err) < 0)
		return -1;
	r->verified = true;
	if (crpc_manifest_verify(o->dirfd, o->p.dir, NULL, &r->check, err) < 0)
		return -1;
	r->manifest = r->check.st;
	if (crpc_pstree_read(o->dirfd, &tree, NULL) == 0 && tree.n_tasks)
		r->pid = tree.tasks[0].pid;
	crpc_pstree_release(&tree);
	ck_info(o,
		"%s is a complete checkpoint (%zu files match its %s): only the rename into place was missing",
		o->p.dir, r->check.st.files, CRPC_MANIFEST_NAME);
	r->failed_step = CRPC_CHECKPOINT_FINISH;
	if (ck_dumpdir_commit(o->p.dir, dest, o->dirfd, err) < 0)
		return -1;
	free(o->dir_real);
	o->dir_real = realpath(dest, NULL);
	r->failed_step = CRPC_CHECKPOINT_DONE;
	return 0;
}

static int recover(ck_op *o, const char *dest_given, crpc_signing_key **key, crpc_error **err)
{
	const char *op = o->op, *dest = NULL, *const default_logs[] = { DEFAULT_LOG, "hooks.log", NULL };
	cleanup_free char *derived = NULL, *marker = NULL;
	crpc_checkpoint_result *r = o->res;
	struct mf_intent in = { 0 };
	crpc_manifest_info mi;
	crpc_pstree tree = { 0 };
	char log_version[96] = "";
	size_t marker_len = 0;
	struct stat st;
	int rc = -1;

	if (crpc_require_root(op, err) < 0)
		return -1;
	if (stat(o->p.dir, &st) < 0)
		return crpc_error_set(err, errno == ENOENT ? CRPC_EXIT_USAGE : CRPC_EXIT_FAIL, errno, op,
				      "cannot access %s", o->p.dir);
	if (!S_ISDIR(st.st_mode))
		return crpc_error_set(err, CRPC_EXIT_USAGE, ENOTDIR, op, "%s is not a directory", o->p.dir);
	o->dirfd = open(o->p.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dirfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot open %s", o->p.dir);
	o->dir_real = realpath(o->p.dir, NULL);
	/* nobody else could have changed what is about to be vouched for */
	if (crpc_manifest_check_trust(o->dirfd, o->p.dir, o->p.trust_owner, err) < 0)
		return -1;

	/* what it is: a dump's temporary directory, or DIR written in place */
	derived = tmp_target(o->p.dir);
	if (fstatat(o->dirfd, CRPC_INPROGRESS_MARKER, &st, AT_SYMLINK_NOFOLLOW) < 0 && derived &&
	    fstatat(o->dirfd, CRPC_MANIFEST_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return move_complete(o, dest_given ? dest_given : derived, err);
	if (fstatat(o->dirfd, CRPC_INPROGRESS_MARKER, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (fstatat(o->dirfd, CRPC_MANIFEST_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && !derived)
			return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
					      "nothing to recover: %s is a complete checkpoint (it has %s and no "
					      "%s)",
					      o->p.dir, CRPC_MANIFEST_NAME, CRPC_INPROGRESS_MARKER);
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "refusing to recover %s: it is not what an interrupted crpc dump leaves (it has no "
			       "%s)",
			       o->p.dir, CRPC_INPROGRESS_MARKER);
		if (*err)
			crpc_error_set_hint(*err,
					    "crpc restore --force restores CRIU images without a manifest");
		return -1;
	}
	if (derived) {
		dest = dest_given ? dest_given : derived;
		if (check_dest(o, dest, err) < 0)
			return -1;
	} else if (dest_given) {
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, op,
				      "%s was written in place (it is no %sXXXXXX directory): it is completed "
				      "where it is, give no DIR",
				      o->p.dir, CRPC_DUMPDIR_TMP_INFIX);
	}

	/* what the dump recorded before CRIU ran */
	if (crpc__read_whole_at(o->dirfd, CRPC_INPROGRESS_MARKER, INTENT_MAX, (uint8_t **)&marker,
				&marker_len) < 0 ||
	    mf_intent_parse(marker, marker_len, &in) < 0) {
		/* a container's dump killed this early leaves a call directory its engine never saw */
		crpc__engine_calls_sweep();
		ck_warn(o,
			"%s holds no record of the dump (it was interrupted before CRIU ran, or made by an "
			"older crpc): the manifest lists no options; give a restore the dump's options",
			CRPC_INPROGRESS_MARKER);
	}
	if (in.engine_call) {
		/* a container's: the engine's output first, then CRIU's proof as for a PID */
		crpc_error *why = NULL;
		int engine_done = ck_container_recover_collect(o, &in, err);

		if (engine_done < 0)
			goto out;
		/*
		 * Docker's CRIU writes its statistics into containerd's work
		 * directory, not with the images: there the engine's own success
		 * (its checkpoint taken) and CRIU's log are the proof
		 */
		if (criu_finished(o, &in, op, &why) < 0 && engine_done &&
		    log_says(o->dirfd, recorded_log_file(&in.options), CRIU_DUMP_DONE)) {
			ck_info(o, "%s's checkpoint is complete and CRIU's log ends with \"%s\"",
				json_string_value(json_object_get(in.engine_call, "engine")), CRIU_DUMP_DONE);
			crpc_error_free(why);
			why = NULL;
		}
		if (why) {
			ck_container_unfinished(o, &in, derived != NULL, why, err);
			goto out;
		}
	} else if (criu_finished(o, &in, op, err) < 0) {
		goto out;
	}

	/* a signing key, as the dump would have used; loaded before anything changes */
	if (ck_signing_key_path(o)) {
		if (crpc_signing_key_load(ck_signing_key_path(o), key, err) < 0)
			goto out;
		ck_info(o, "signing with %s (key %s)", ck_signing_key_path(o),
			crpc_signing_key_fingerprint(*key));
	}

	mi = in.info;
	if (!in.root)
		memset(&mi, 0, sizeof(mi));
	if (!mi.criu_version) {
		/*
		 * CRIU's log names its version in one of its first lines (a dump
		 * records its intent before CRIU answered VERSION)
		 */
		char head[4097];
		ssize_t len = -1;
		int fd = io_open_regular_at(o->dirfd, recorded_log_file(&in.options), NULL);

		if (fd >= 0) {
			len = io_read_full(fd, head, sizeof(head) - 1);
			close(fd);
		}
		if (len > 0) {
			const char *v;

			head[len] = '\0';
			v = strstr(head, "Version: ");
			if (v)
				sscanf(v + 9, "%95[0-9.]", log_version);
		}
		mi.criu_version = log_version[0] ? log_version : NULL;
	}
	if (!mi.log_files)
		mi.log_files = default_logs;
	if (mi.pid <= 0 && crpc_pstree_read(o->dirfd, &tree, NULL) == 0 && tree.n_tasks)
		mi.pid = tree.tasks[0].pid;
	r->pid = mi.pid;
	r->leave_running = mi.leave_running;
	if (mi.command)
		snprintf(r->comm, sizeof(r->comm), "%s", mi.command);
	if (in.root)
		ck_info(o, "the dump's record: PID %d (%s), %zu option(s), CRIU %s", (int)mi.pid,
			mi.command ? mi.command : "?", in.options.n, mi.criu_version ? mi.criu_version : "?");

	/* as the dump would have finished */
	r->failed_step = CRPC_CHECKPOINT_FINISH;
	ck_files_private(o->dirfd);
	(void)unlinkat(o->dirfd, CRPC_INPROGRESS_MARKER ".tmp", 0);
	/* the digest the dump recorded, else the one a dump would use now */
	if (mi.digest == CRPC_DIGEST_DEFAULT)
		mi.digest = ck_digest(o);
	if (crpc_manifest_write(o->dirfd, &mi, &r->manifest, err) < 0)
		goto out;
	if (*key) {
		if (crpc_manifest_sign(o->dirfd, *key, err) < 0) {
			(void)unlinkat(o->dirfd, CRPC_MANIFEST_NAME, 0);
			goto out;
		}
		snprintf(r->signing_key_sha256, sizeof(r->signing_key_sha256), "%s",
			 crpc_signing_key_fingerprint(*key));
	}
	if (unlinkat(o->dirfd, CRPC_INPROGRESS_MARKER, 0) < 0 && errno != ENOENT) {
		crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot remove %s/%s", o->p.dir,
			       CRPC_INPROGRESS_MARKER);
		goto out;
	}
	if (fsync(o->dirfd) < 0 && errno != EINVAL && errno != EROFS) {
		crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot sync %s", o->p.dir);
		goto out;
	}
	if (dest) {
		if (ck_dumpdir_commit(o->p.dir, dest, o->dirfd, err) < 0) {
			if (*err)
				crpc_error_set_hint(
					*err, "the complete checkpoint is in %s: move it where you want it",
					o->p.dir);
			goto out;
		}
		free(o->dir_real);
		o->dir_real = realpath(dest, NULL);
	}
	if (in.engine_call)
		ck_container_recovered(o, &in);
	r->failed_step = CRPC_CHECKPOINT_DONE;
	rc = 0;
out:
	crpc_pstree_release(&tree);
	mf_intent_release(&in);
	return rc;
}

CRPC_API int crpc_checkpoint_recover(const crpc_checkpoint_params *p, const char *dir,
				     crpc_checkpoint_result **res, crpc_error **err)
{
	crpc_signing_key *key = NULL;
	crpc_error *local = NULL;
	ck_op o;
	int rc;

	if (!err)
		err = &local;
	if (res)
		*res = NULL;
	memset(&o, 0, sizeof(o));
	snprintf(o.op, sizeof(o.op), "recovering %s", p && p->dir ? p->dir : "?");
	if (ck_begin(&o, p, o.op, err) < 0) {
		ck_end(&o);
		crpc_checkpoint_result_free(o.res);
		crpc_error_free(local);
		return -1;
	}
	o.kind = "recover";
	rc = recover(&o, dir && *dir ? dir : NULL, &key, err);
	ck_result_fill(&o, o.p.dir);
	ck_end(&o);
	ck_give_result(&o, res);
	crpc_signing_key_free(key);
	crpc_error_free(local);
	return rc;
}
