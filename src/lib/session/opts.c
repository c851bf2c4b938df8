/* SPDX-License-Identifier: MIT */
/*
 * opts.c - crpc_opts: parsing helpers, version gating and the mapping onto
 * CRIU's criu_opts wire message.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/*
 * What each kind of option does, by name: the rows of CRPC_OPTS_TABLE call
 * KIND_field(...) through the X macros below.
 */
#define INIT_BOOL(f)
#define INIT_SIZE(f)
#define INIT_U32(f)
#define INIT_LEVEL(f) o->f = -1;
#define INIT_STR(f)
#define INIT_STRV(f)
#define INIT_EXTERNAL(f)
#define INIT_CGMODE(f) o->f = CRPC_CG_UNSET;
#define INIT_NETLOCK(f) o->f = CRPC_NETLOCK_UNSET;
#define INIT_INHERIT_FD(f)
#define INIT_CG_ROOT(f)
#define X_INIT(field, kind, ...) INIT_##kind(field)

CRPC_API void crpc_opts_init(crpc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->images_dir_fd = -1;
	CRPC_OPTS_TABLE(X_INIT)
}

/* Append s to the array *v of *n strings. */
static int ptrv_add(const char ***v, size_t *n, const char *s, crpc_error **err)
{
	if (ARRAY_RESIZE(*v, *n + 1) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
	(*v)[(*n)++] = s;
	return 0;
}

CRPC_API int crpc_opts_add_external(crpc_opts *o, const char *res, crpc_error **err)
{
	return ptrv_add(&o->external, &o->n_external, res, err);
}

CRPC_API int crpc_strv_add(crpc_strv *l, const char *s, crpc_error **err)
{
	return ptrv_add(&l->v, &l->n, s, err);
}

CRPC_API void crpc_strv_release(crpc_strv *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

CRPC_API int crpc_opts_add_inherit_fd(crpc_opts *o, const char *key, int fd, crpc_error **err)
{
	if (ARRAY_RESIZE(o->inherit_fd, o->n_inherit_fd + 1) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
	o->inherit_fd[o->n_inherit_fd].key = key;
	o->inherit_fd[o->n_inherit_fd++].fd = fd;
	return 0;
}

CRPC_API int crpc_opts_add_cg_root(crpc_opts *o, const char *ctrl, const char *path, crpc_error **err)
{
	if (ARRAY_RESIZE(o->cg_root, o->n_cg_root + 1) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
	o->cg_root[o->n_cg_root].ctrl = ctrl;
	o->cg_root[o->n_cg_root++].path = path;
	return 0;
}

#define RELEASE_BOOL(f)
#define RELEASE_SIZE(f)
#define RELEASE_U32(f)
#define RELEASE_LEVEL(f)
#define RELEASE_STR(f)
#define RELEASE_STRV(f) crpc_strv_release(&o->f);
#define RELEASE_ARRAY(f) \
	free(o->f);      \
	o->f = NULL;     \
	o->n_##f = 0;
#define RELEASE_EXTERNAL(f) RELEASE_ARRAY(f)
#define RELEASE_CGMODE(f)
#define RELEASE_NETLOCK(f)
#define RELEASE_INHERIT_FD(f) RELEASE_ARRAY(f)
#define RELEASE_CG_ROOT(f) RELEASE_ARRAY(f)
#define X_RELEASE(field, kind, ...) RELEASE_##kind(field)

CRPC_API void crpc_opts_release(crpc_opts *o)
{
	CRPC_OPTS_TABLE(X_RELEASE)
}

static int merge_strv(crpc_strv *dst, const crpc_strv *under, crpc_error **err)
{
	for (size_t i = 0; i < under->n; i++)
		if (crpc_strv_add(dst, under->v[i], err) < 0)
			return -1;
	return 0;
}

/* A flag set in either is set, a value set in dst wins, lists are appended. */
#define MERGE_BOOL(f) dst->f = dst->f || under->f;
#define MERGE_SIZE(f)                          \
	if (!dst->f##_set && under->f##_set) { \
		dst->f##_set = true;           \
		dst->f = under->f;             \
	}
#define MERGE_U32(f) \
	if (!dst->f) \
		dst->f = under->f;
#define MERGE_LEVEL(f)  \
	if (dst->f < 0) \
		dst->f = under->f;
#define MERGE_STR(f) \
	if (!dst->f) \
		dst->f = under->f;
#define MERGE_STRV(f)                                \
	if (merge_strv(&dst->f, &under->f, err) < 0) \
		return -1;
#define MERGE_EXTERNAL(f)                                                 \
	for (size_t i = 0; i < under->n_##f; i++)                         \
		if (ptrv_add(&dst->f, &dst->n_##f, under->f[i], err) < 0) \
			return -1;
#define MERGE_CGMODE(f)              \
	if (dst->f == CRPC_CG_UNSET) \
		dst->f = under->f;
#define MERGE_NETLOCK(f)                  \
	if (dst->f == CRPC_NETLOCK_UNSET) \
		dst->f = under->f;
#define MERGE_INHERIT_FD(f)                                                                  \
	for (size_t i = 0; i < under->n_##f; i++)                                            \
		if (crpc_opts_add_inherit_fd(dst, under->f[i].key, under->f[i].fd, err) < 0) \
			return -1;
#define MERGE_CG_ROOT(f)                                                                     \
	for (size_t i = 0; i < under->n_##f; i++)                                            \
		if (crpc_opts_add_cg_root(dst, under->f[i].ctrl, under->f[i].path, err) < 0) \
			return -1;
#define X_MERGE(field, kind, ...) MERGE_##kind(field)

CRPC_API int crpc_opts_merge(crpc_opts *dst, const crpc_opts *under, crpc_error **err)
{
	if (dst->pid <= 0)
		dst->pid = under->pid;
	if (dst->images_dir_fd < 0)
		dst->images_dir_fd = under->images_dir_fd;
	CRPC_OPTS_TABLE(X_MERGE)
	return 0;
}

/* ---- the table as data ---- */

#define OPS_NONE 0u
#define OPS_DUMP OP_DUMP
#define OPS_RESTORE OP_RESTORE
#define OPS_BOTH OP_BOTH
#define GATE_NOGATE 0, NULL, 0
#define GATE_SINCE(code, name, value) code, name, value
#define OFF_SET_BOOL(f) 0
#define OFF_SET_SIZE(f) offsetof(crpc_opts, f##_set)
#define OFF_SET_U32(f) 0
#define OFF_SET_LEVEL(f) 0
#define OFF_SET_STR(f) 0
#define OFF_SET_STRV(f) 0
#define OFF_SET_EXTERNAL(f) 0
#define OFF_SET_CGMODE(f) 0
#define OFF_SET_NETLOCK(f) 0
#define OFF_SET_INHERIT_FD(f) 0
#define OFF_SET_CG_ROOT(f) 0
#define X_DESC(field, kind, yaml, ops, flags, gate, restore, ...) \
	{ #field,                                                 \
	  OPTK_##kind,                                            \
	  OT_##yaml,                                              \
	  OPS_##ops,                                              \
	  flags,                                                  \
	  GATE_##gate,                                            \
	  restore,                                                \
	  offsetof(crpc_opts, field),                             \
	  OFF_SET_##kind(field) },

const struct opt_desc opt_descs[] = { CRPC_OPTS_TABLE(X_DESC) };
const size_t n_opt_descs = sizeof(opt_descs) / sizeof(opt_descs[0]);

const struct opt_desc *opt_desc_find(const char *name)
{
	for (size_t i = 0; name && i < n_opt_descs; i++)
		if (strcmp(opt_descs[i].name, name) == 0)
			return &opt_descs[i];
	return NULL;
}

int opt_value(const struct opt_desc *d, const crpc_opts *o)
{
	const char *p = (const char *)o + d->off;

	switch (d->kind) {
	case OPTK_BOOL:
		return *(const bool *)p;
	case OPTK_U32:
		return (int)*(const uint32_t *)p;
	case OPTK_LEVEL:
		return *(const int *)p;
	case OPTK_CGMODE:
		return (int)*(const crpc_cg_mode *)(const void *)p;
	case OPTK_NETLOCK:
		return (int)*(const crpc_network_lock *)(const void *)p;
	default:
		return 0;
	}
}

/*
 * Options newer CRIU versions understand (the rows with SINCE()). An older
 * CRIU skips fields it does not know without a word, which would turn e.g.
 * "leave the tree stopped" into "kill the tree", so such options are
 * refused up front.
 */
CRPC_API int crpc_opts_check_version(const crpc_opts *o, const crpc_version *v, crpc_error **err)
{
	if (!v || v->code == 0)
		return 0;
	for (size_t i = 0; i < n_opt_descs; i++) {
		const struct opt_desc *g = &opt_descs[i];

		if (!g->since || opt_value(g, o) != g->gate_value || v->code >= g->since)
			continue;
		crpc_error_set(
			err, CRPC_EXIT_ENV, 0, "options",
			"%s needs CRIU %d.%d or newer, but the CRIU in use is %d.%d.%d and would ignore it",
			g->gate_name, g->since / 10000, g->since / 100 % 100, v->major, v->minor,
			v->sublevel);
		if (err && *err)
			crpc_error_set_hint(*err,
					    "drop %s, or point crpc at a newer CRIU (--criu PATH, "
					    "or run scripts/setup)",
					    g->gate_name);
		return -1;
	}
	return 0;
}

static const char *const cg_mode_names[] = {
	[CRPC_CG_IGNORE] = "ignore",   [CRPC_CG_NONE] = "none", [CRPC_CG_PROPS] = "props",
	[CRPC_CG_SOFT] = "soft",       [CRPC_CG_FULL] = "full", [CRPC_CG_STRICT] = "strict",
	[CRPC_CG_DEFAULT] = "default",
};

CRPC_API const char *crpc_cg_mode_name(crpc_cg_mode m)
{
	return ENUM_NAME(cg_mode_names, m, "unset");
}

static const char *const netlock_names[] = {
	[CRPC_NETLOCK_UNSET] = "unset",
	[CRPC_NETLOCK_IPTABLES] = "iptables",
	[CRPC_NETLOCK_NFTABLES] = "nftables",
	[CRPC_NETLOCK_SKIP] = "skip",
};

CRPC_API const char *crpc_network_lock_name(crpc_network_lock m)
{
	return ENUM_NAME(netlock_names, m, "unset");
}

/* Point a wire string array at a list of strings (the strings are shared). */
static int strv_to_wire(const char *const *v, size_t n, char ***out, size_t *n_out)
{
	if (!n)
		return 0;
	*out = calloc(n, sizeof(char *));
	if (!*out)
		return -1;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = (char *)v[i];
	*n_out = n;
	return 0;
}

/* The messages of a list live in one block, pointed at by the array. */
static int inherit_fd_to_wire(const crpc_opts *o, CriuOpts *w)
{
	InheritFd *items;
	InheritFd **ptrs;

	if (!o->n_inherit_fd)
		return 0;
	items = calloc(o->n_inherit_fd, sizeof(*items));
	ptrs = calloc(o->n_inherit_fd, sizeof(*ptrs));
	if (!items || !ptrs) {
		free(items);
		free(ptrs);
		return -1;
	}
	ptrs[0] = items; /* owns the block (n > 0) */
	for (size_t i = 0; i < o->n_inherit_fd; i++) {
		inherit_fd__init(&items[i]);
		items[i].key = (char *)o->inherit_fd[i].key;
		items[i].fd = o->inherit_fd[i].fd;
		ptrs[i] = &items[i];
	}
	w->inherit_fd = ptrs;
	w->n_inherit_fd = o->n_inherit_fd;
	return 0;
}

static int cg_root_to_wire(const crpc_opts *o, CriuOpts *w)
{
	CgroupRoot *items;
	CgroupRoot **ptrs;

	if (!o->n_cg_root)
		return 0;
	items = calloc(o->n_cg_root, sizeof(*items));
	ptrs = calloc(o->n_cg_root, sizeof(*ptrs));
	if (!items || !ptrs) {
		free(items);
		free(ptrs);
		return -1;
	}
	ptrs[0] = items; /* owns the block (n > 0) */
	for (size_t i = 0; i < o->n_cg_root; i++) {
		cgroup_root__init(&items[i]);
		items[i].ctrl = (char *)o->cg_root[i].ctrl;
		items[i].path = (char *)o->cg_root[i].path;
		ptrs[i] = &items[i];
	}
	w->cg_root = ptrs;
	w->n_cg_root = o->n_cg_root;
	return 0;
}

/* Each option onto the criu_opts field of the same name. */
#define WIRE_SCALAR(f, cond, value) \
	if (cond) {                 \
		w->has_##f = 1;     \
		w->f = value;       \
	}
#define WIRE_BOOL(f) WIRE_SCALAR(f, o->f, 1)
#define WIRE_SIZE(f) WIRE_SCALAR(f, o->f##_set, o->f)
#define WIRE_U32(f) WIRE_SCALAR(f, o->f, o->f)
#define WIRE_LEVEL(f) WIRE_SCALAR(f, o->f >= 0, o->f)
#define WIRE_STR(f) w->f = (char *)o->f;
/* The wire arrays only point at o's strings; crpc__opts_wire_release() frees them. */
#define WIRE_STRV(f)                                            \
	if (strv_to_wire(o->f.v, o->f.n, &w->f, &w->n_##f) < 0) \
		goto nomem;
#define WIRE_EXTERNAL(f)                                        \
	if (strv_to_wire(o->f, o->n_##f, &w->f, &w->n_##f) < 0) \
		goto nomem;
/* a cgroup mode implies manage_cgroups */
#define WIRE_CGMODE(f)                     \
	if (o->f != CRPC_CG_UNSET) {       \
		w->has_manage_cgroups = 1; \
		w->manage_cgroups = 1;     \
	}                                  \
	WIRE_SCALAR(f, o->f != CRPC_CG_UNSET, (CriuCgMode)o->f)
#define WIRE_NETLOCK(f) WIRE_SCALAR(f, o->f != CRPC_NETLOCK_UNSET, (CriuNetworkLockMethod)o->f)
#define WIRE_INHERIT_FD(f)                \
	if (inherit_fd_to_wire(o, w) < 0) \
		goto nomem;
#define WIRE_CG_ROOT(f)                \
	if (cg_root_to_wire(o, w) < 0) \
		goto nomem;
#define X_WIRE(field, kind, ...) WIRE_##kind(field)

int crpc__opts_to_wire(const crpc_opts *o, CriuOpts *w, crpc_error **err)
{
	w->images_dir_fd = o->images_dir_fd;
	if (o->pid > 0) {
		w->has_pid = 1;
		w->pid = o->pid;
	}
	CRPC_OPTS_TABLE(X_WIRE)
	return 0;
nomem:
	crpc__opts_wire_release(w);
	return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
}

#define WIRE_RELEASE_BOOL(f)
#define WIRE_RELEASE_SIZE(f)
#define WIRE_RELEASE_U32(f)
#define WIRE_RELEASE_LEVEL(f)
#define WIRE_RELEASE_STR(f)
#define WIRE_RELEASE_ARRAY(f) \
	free(w->f);           \
	w->f = NULL;          \
	w->n_##f = 0;
#define WIRE_RELEASE_STRV(f) WIRE_RELEASE_ARRAY(f)
#define WIRE_RELEASE_EXTERNAL(f) WIRE_RELEASE_ARRAY(f)
#define WIRE_RELEASE_CGMODE(f)
#define WIRE_RELEASE_NETLOCK(f)
/* the first pointer owns the block of messages */
#define WIRE_RELEASE_BLOCK(f)  \
	if (w->f && w->n_##f)  \
		free(w->f[0]); \
	WIRE_RELEASE_ARRAY(f)
#define WIRE_RELEASE_INHERIT_FD(f) WIRE_RELEASE_BLOCK(f)
#define WIRE_RELEASE_CG_ROOT(f) WIRE_RELEASE_BLOCK(f)
#define X_WIRE_RELEASE(field, kind, ...) WIRE_RELEASE_##kind(field)

void crpc__opts_wire_release(CriuOpts *w)
{
	CRPC_OPTS_TABLE(X_WIRE_RELEASE)
}
