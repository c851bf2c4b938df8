/* SPDX-License-Identifier: MIT */
/*
 * manifest_restore.c - what a restore takes from crpc.json: the dump's
 * options (those that apply to a restore, unless the user set them), the
 * UNIX sockets connected outside the tree, which need a replacement, and
 * the pipes the tree shared with processes outside it, opened again through
 * a process that still holds them. See crpc/manifest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crpc/manifest.h"
#include "internal.h"
#include "manifest_int.h"
#include "parse.h"

/* An option's value as text, as crpc_manifest_options holds it; NULL for null. */
static char *value_text(json_t *v, bool *oom)
{
	char *t = NULL;

	if (json_is_true(v))
		t = strdup("true");
	else if (json_is_false(v))
		t = strdup("false");
	else if (json_is_integer(v)) {
		if (asprintf(&t, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			t = NULL;
	} else if (json_is_string(v))
		t = strdup(json_string_value(v));
	else
		return NULL;
	if (!t)
		*oom = true;
	return t;
}

static const char *jstring_or_null(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

CRPC_API void crpc_manifest_release(crpc_manifest *m)
{
	if (!m)
		return;
	crpc_manifest_options_release(&m->options);
	for (size_t i = 0; i < m->n_outside_pipes; i++)
		free(m->outside_pipes[i].holders);
	free(m->outside_pipes);
	mf_ns_release(&m->ns);
	memset(m, 0, sizeof(*m));
}

static int load_pipes(json_t *a, crpc_manifest *m)
{
	size_t i, n = json_array_size(a);
	json_t *p;

	if (!n)
		return 0;
	m->outside_pipes = calloc(n, sizeof(*m->outside_pipes));
	if (!m->outside_pipes)
		return -1;
	json_array_foreach(a, i, p) {
		json_t *ino = json_object_get(p, "inode"), *hs = json_object_get(p, "holders"), *h;
		const char *end = jstring_or_null(p, "tree_end");
		crpc_manifest_pipe_holder *holders;
		size_t j, nh = 0;

		if (!json_is_integer(ino) || json_integer_value(ino) <= 0 ||
		    json_integer_value(ino) > (json_int_t)UINT32_MAX || !end ||
		    (strcmp(end, "write") && strcmp(end, "read")) || !json_is_array(hs))
			continue;
		holders = calloc(json_array_size(hs) ? json_array_size(hs) : 1, sizeof(*holders));
		if (!holders)
			return -1;
		json_array_foreach(hs, j, h) {
			json_t *pid = json_object_get(h, "pid"), *fd = json_object_get(h, "fd");
			const char *hend = jstring_or_null(h, "end"), *comm = jstring_or_null(h, "comm");

			if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
			    json_integer_value(pid) > INT32_MAX || !json_is_integer(fd) ||
			    json_integer_value(fd) < 0 || json_integer_value(fd) > INT32_MAX)
				continue;
			holders[nh].pid = (pid_t)json_integer_value(pid);
			holders[nh].fd = (int)json_integer_value(fd);
			holders[nh].writes = hend && strcmp(hend, "write") == 0;
			snprintf(holders[nh].comm, sizeof(holders[nh].comm), "%s", comm ? comm : "");
			nh++;
		}
		m->outside_pipes[m->n_outside_pipes++] = (crpc_manifest_pipe){
			.inode = (uint32_t)json_integer_value(ino),
			.tree_writes = strcmp(end, "write") == 0,
			.holders = holders,
			.n_holders = nh,
		};
	}
	return 0;
}

int mf_options_from_json(json_t *opts, crpc_manifest_options *out)
{
	json_t *o;
	size_t i;

	json_array_foreach(opts, i, o) {
		const char *name = jstring_or_null(o, "option");
		bool oom = false;
		cleanup_free char *value = NULL;

		if (!name)
			continue;
		value = value_text(json_object_get(o, "value"), &oom);
		if (oom || crpc_manifest_options_add(out, name, value, jstring_or_null(o, "source"),
						     jstring_or_null(o, "reason"), NULL) < 0)
			return -1;
	}
	return 0;
}

CRPC_API int crpc_manifest_load(int dirfd, crpc_manifest *out, crpc_error **err)
{
	const char *op = "reading the checkpoint's manifest";
	json_t *root = NULL;

	memset(out, 0, sizeof(*out));
	if (mf_load(dirfd, &root, NULL, NULL, err) < 0)
		return -1;
	if (mf_options_from_json(json_object_get(root, "options"), &out->options) < 0)
		goto oom;
	if (load_pipes(json_object_get(root, "outside_pipes"), out) < 0 ||
	    mf_ns_load(json_object_get(root, "namespaces"), &out->ns) < 0)
		goto oom;
	json_decref(root);
	return 0;
oom:
	json_decref(root);
	crpc_manifest_release(out);
	return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
}

/* What a restore does with an option of the dump: the table's RESTORE column. */
static const struct opt_desc *restore_rule(const char *option)
{
	const struct opt_desc *d = opt_desc_find(option);

	return d && (d->flags & CRPC_OPTF_RECORD) ? d : NULL;
}

static bool *opt_flag(crpc_opts *o, size_t off)
{
	return (bool *)((char *)o + off);
}

static bool opt_flag_get(const crpc_opts *o, size_t off)
{
	return *(const bool *)((const char *)o + off);
}

/* The dump's value of option `name` in m, or NULL. */
static const char *dump_value(const crpc_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->options.n; i++)
		if (strcmp(m->options.v[i].option, name) == 0)
			return m->options.v[i].value;
	return NULL;
}

static bool is_true(const char *v)
{
	return v && strcmp(v, "true") == 0;
}

/*
 * Apply one option of the dump to o, unless the user set it (user: o as
 * the user gave it). Returns NULL when applied, else why not (for
 * not_applied; "not set" for an option that is off).
 */
static const char *restore_one(const crpc_manifest *m, const crpc_manifest_option *d, const crpc_opts *user,
			       crpc_opts *o, char *buf, size_t bufsz)
{
	const struct opt_desc *r = restore_rule(d->option);
	const char *v = d->value;

	if (!r)
		return "used by the dump only (nothing to do at a restore)";
	switch (r->restore) {
	case RK_BOOL:
		if (!is_true(v))
			return "not set";
		if (opt_flag_get(user, r->off))
			return "set by you already";
		*opt_flag(o, r->off) = true;
		return NULL;
	case RK_TCP:
		if (!is_true(v))
			return "not set";
		/* the user's choice for TCP connections, either way, wins */
		if (user->tcp_close && !opt_flag_get(user, r->off))
			return "your tcp_close wins";
		if (user->tcp_established && !opt_flag_get(user, r->off))
			return "your tcp_established wins";
		if (user->tcp_established || user->tcp_close)
			return "set by you already";
		*opt_flag(o, r->off) = true;
		return NULL;
	case RK_CGROUPS:
		if (strcmp(d->option, "manage_cgroups") == 0 && !is_true(v))
			return "not set";
		if (user->manage_cgroups || user->manage_cgroups_mode != CRPC_CG_UNSET)
			return "your cgroup setting wins";
		if (strcmp(d->option, "manage_cgroups_mode") == 0) {
			crpc_cg_mode mode;

			if (!is_true(dump_value(m, "manage_cgroups")))
				return "not set";
			if (crpc__parse_cg_mode(v, &mode, NULL) < 0 || mode == CRPC_CG_UNSET)
				return "a mode this crpc does not know";
			/* applied together with manage_cgroups, below */
			return NULL;
		}
		o->manage_cgroups = true;
		{
			const char *mv = dump_value(m, "manage_cgroups_mode");
			crpc_cg_mode mode;

			if (mv && crpc__parse_cg_mode(mv, &mode, NULL) == 0)
				o->manage_cgroups_mode = mode;
		}
		return NULL;
	case RK_NETLOCK: {
		crpc_network_lock nl;

		if (user->network_lock != CRPC_NETLOCK_UNSET)
			return "your network_lock wins";
		if (crpc__parse_network_lock(v, &nl, NULL) < 0)
			return "a method this crpc does not know";
		o->network_lock = nl;
		return NULL;
	}
	case RK_EMPTY_NS: {
		char *end;
		unsigned long ns;

		if (user->empty_ns)
			return "your empty_ns wins";
		errno = 0;
		ns = v ? strtoul(v, &end, 10) : 0;
		if (!v || errno || *end || !ns || ns > UINT32_MAX)
			return "not a namespace mask";
		o->empty_ns = (uint32_t)ns;
		return NULL;
	}
	case RK_FD:
		return "a descriptor given to that dump (a restore needs its own)";
	case RK_EXTERNAL:
		if (v && strncmp(v, "unix[", 5) == 0) {
			snprintf(buf, bufsz,
				 "a UNIX socket connected outside the tree: a restore needs a replacement, "
				 "inherit_fd 'socket:[%.*s]'",
				 (int)strcspn(v + 5, "]"), v + 5);
			return buf;
		}
		return "an external resource of the dump: a restore needs it given back (--inherit-fd, "
		       "or --external in the restore's form)";
	case RK_RESTORE_OWN:
		return "the restore has its own";
	case RK_DUMP_ONLY:
		break;
	}
	return "used by the dump only (nothing to do at a restore)";
}

CRPC_API int crpc_manifest_restore_opts(const crpc_manifest *m, crpc_opts *o, crpc_manifest_options *applied,
					crpc_manifest_options *not_applied, crpc_error **err)
{
	const crpc_opts user = *o; /* what the user set, before anything is applied */

	for (size_t i = 0; i < m->options.n; i++) {
		const crpc_manifest_option *d = &m->options.v[i];
		char buf[160];
		const char *why = restore_one(m, d, &user, o, buf, sizeof(buf));

		if (!why) {
			if (crpc_manifest_options_add(applied, d->option, d->value, d->source, d->reason,
						      err) < 0)
				return -1;
		} else if (not_applied && strcmp(why, "not set") != 0) {
			if (crpc_manifest_options_add(not_applied, d->option, d->value, d->source, why, err) <
			    0)
				return -1;
		}
	}
	return 0;
}

/* Does o pass a descriptor for `key` with inherit_fd? */
static bool inherits(const crpc_opts *o, const char *key)
{
	for (size_t i = 0; i < o->n_inherit_fd; i++)
		if (o->inherit_fd[i].key && strcmp(o->inherit_fd[i].key, key) == 0)
			return true;
	return false;
}

CRPC_API int crpc_manifest_check_externals(const crpc_manifest *m, const crpc_opts *o, crpc_error **err)
{
	size_t missing = 0;
	const crpc_manifest_option *first = NULL;
	unsigned long first_ino = 0;

	if (o->ext_unix_sk)
		return 0;
	for (size_t i = 0; i < m->options.n; i++) {
		const crpc_manifest_option *d = &m->options.v[i];
		char key[48], *end;
		unsigned long ino;

		if (strcmp(d->option, "external") != 0 || !d->value || strncmp(d->value, "unix[", 5) != 0)
			continue;
		errno = 0;
		ino = strtoul(d->value + 5, &end, 10);
		if (errno || strcmp(end, "]") != 0 || !ino)
			continue;
		snprintf(key, sizeof(key), "socket:[%lu]", ino);
		if (inherits(o, key))
			continue;
		if (!missing++) {
			first = d;
			first_ino = ino;
		}
	}
	if (!missing)
		return 0;
	crpc_error_set(err, CRPC_EXIT_FAIL, 0, "restore",
		       "UNIX socket inode %lu of the checkpoint was connected to a process outside the "
		       "tree%s%s%s: that end closed when the tree was dumped, so the socket cannot be "
		       "restored connected%s",
		       first_ino, first->reason ? " (dump: " : "", first->reason ? first->reason : "",
		       first->reason ? ")" : "", missing > 1 ? " (and more sockets like it)" : "");
	if (err && *err) {
		(*err)->cause = CRPC_CAUSE_EXT_UNIX_SK;
		crpc_error_set_hint(*err,
				    "give the restore a replacement socket connected to the new peer: "
				    "crpc restore --inherit-fd 'fd[N]:socket:[%lu]' with N open in crpc "
				    "(or inherit_fd in the configuration); --ext-unix-sk restores it "
				    "unconnected instead",
				    first_ino);
	}
	return -1;
}

CRPC_API void crpc_pipe_attachments_release(crpc_pipe_attachments *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].fd >= 0)
			close(a->v[i].fd);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

/* Does PID still hold the pipe as FD? */
static bool still_holds(const crpc_manifest_pipe_holder *h, uint32_t inode)
{
	char path[64], link[64];
	uint32_t ino;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)h->pid, h->fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return mf_pipe_link_inode(link, &ino) && ino == inode;
}

/*
 * Open the pipe through /proc/PID/fd/FD with the tree's access mode: a new
 * open file of the same pipe. Non-blocking while opening (an anonymous
 * pipe never waits for its other end, but be sure), blocking after.
 * Inheritable: CRIU must get it. -1 with errno.
 */
static int open_pipe_of(const crpc_manifest_pipe_holder *h, bool writes)
{
	char path[64];
	int fd, fl;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)h->pid, h->fd);
	fd = io_openat(AT_FDCWD, path,
		       (writes ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_NOCTTY); /* no O_CLOEXEC: for CRIU */
	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

CRPC_API int crpc_manifest_reattach_pipes(const crpc_manifest *m, crpc_opts *o, crpc_pipe_attachments *out,
					  crpc_error **err)
{
	const char *op = "re-attaching the checkpoint's pipes";

	out->v = NULL;
	out->n = 0;
	if (!m->n_outside_pipes)
		return 0;
	/* allocated once: o's inherit_fd keys point into it */
	out->v = calloc(m->n_outside_pipes, sizeof(*out->v));
	if (!out->v)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	for (size_t i = 0; i < m->n_outside_pipes; i++) {
		const crpc_manifest_pipe *p = &m->outside_pipes[i];
		crpc_pipe_attach *a = &out->v[out->n++];
		int last_errno = 0;
		bool held = false, other_end = false;

		a->fd = -1;
		a->inode = p->inode;
		a->tree_writes = p->tree_writes;
		snprintf(a->key, sizeof(a->key), "pipe:[%" PRIu32 "]", p->inode);
		if (p->n_holders)
			a->holder = p->holders[0];
		if (inherits(o, a->key)) {
			a->user = true;
			continue;
		}
		/*
		 * Only a holder of the other end counts: a pipe whose reader (or
		 * writer) is gone is no better than the new one CRIU would make.
		 */
		for (size_t j = 0; j < p->n_holders && a->fd < 0; j++) {
			if (!still_holds(&p->holders[j], p->inode))
				continue;
			held = true;
			if (p->holders[j].writes == p->tree_writes)
				continue;
			other_end = true;
			a->fd = open_pipe_of(&p->holders[j], p->tree_writes);
			if (a->fd < 0)
				last_errno = errno;
			else
				a->holder = p->holders[j];
		}
		if (a->fd >= 0) {
			a->reattached = true;
			if (crpc_opts_add_inherit_fd(o, a->key, a->fd, err) < 0)
				return -1;
			continue;
		}
		if (!held)
			snprintf(a->why, sizeof(a->why), "%s",
				 p->n_holders == 1 ? "its holder is gone or closed it"
						   : "its holders are gone or closed it");
		else if (!other_end)
			snprintf(a->why, sizeof(a->why), "nobody %s it any more",
				 p->tree_writes ? "reads" : "writes to");
		else
			snprintf(a->why, sizeof(a->why), "cannot open it (%s: %s)",
				 crpc_errno_name(last_errno) ? crpc_errno_name(last_errno) : "?",
				 strerror(last_errno));
	}
	return 0;
}
