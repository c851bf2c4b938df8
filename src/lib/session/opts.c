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

CRPC_API void crpc_opts_init(crpc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->images_dir_fd = -1;
	o->log_level = -1;
	o->manage_cgroups_mode = CRPC_CG_UNSET;
	o->network_lock = CRPC_NETLOCK_UNSET;
}

CRPC_API int crpc_opts_add_external(crpc_opts *o, const char *res, crpc_error **err)
{
	const char **v = realloc(o->external, (o->n_external + 1) * sizeof(*v));

	if (!v)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
	o->external = v;
	v[o->n_external++] = res;
	return 0;
}

CRPC_API int crpc_strv_add(crpc_strv *l, const char *s, crpc_error **err)
{
	const char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
	l->v = v;
	v[l->n++] = s;
	return 0;
}

CRPC_API void crpc_strv_release(crpc_strv *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

CRPC_API int crpc_opts_add_inherit_fd(crpc_opts *o, const char *key, int fd, crpc_error **err)
{
	crpc_inherit_fd *v = realloc(o->inherit_fd, (o->n_inherit_fd + 1) * sizeof(*v));

	if (!v)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
	o->inherit_fd = v;
	v[o->n_inherit_fd].key = key;
	v[o->n_inherit_fd++].fd = fd;
	return 0;
}

CRPC_API int crpc_opts_add_cg_root(crpc_opts *o, const char *ctrl, const char *path, crpc_error **err)
{
	crpc_cg_root *v = realloc(o->cg_root, (o->n_cg_root + 1) * sizeof(*v));

	if (!v)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
	o->cg_root = v;
	v[o->n_cg_root].ctrl = ctrl;
	v[o->n_cg_root++].path = path;
	return 0;
}

CRPC_API void crpc_opts_release(crpc_opts *o)
{
	free(o->external);
	o->external = NULL;
	o->n_external = 0;
	crpc_strv_release(&o->skip_mnt);
	crpc_strv_release(&o->enable_fs);
	crpc_strv_release(&o->irmap_scan_paths);
	crpc_strv_release(&o->cgroup_dump_controller);
	free(o->inherit_fd);
	o->inherit_fd = NULL;
	o->n_inherit_fd = 0;
	free(o->cg_root);
	o->cg_root = NULL;
	o->n_cg_root = 0;
}

#define MERGE_FLAG(f) dst->f = dst->f || under->f
#define MERGE_PTR(f)                  \
	do {                          \
		if (!dst->f)          \
			dst->f = under->f; \
	} while (0)

static int merge_strv(crpc_strv *dst, const crpc_strv *under, crpc_error **err)
{
	for (size_t i = 0; i < under->n; i++)
		if (crpc_strv_add(dst, under->v[i], err) < 0)
			return -1;
	return 0;
}

CRPC_API int crpc_opts_merge(crpc_opts *dst, const crpc_opts *under, crpc_error **err)
{
	if (dst->pid <= 0)
		dst->pid = under->pid;
	if (dst->images_dir_fd < 0)
		dst->images_dir_fd = under->images_dir_fd;
	if (dst->log_level < 0)
		dst->log_level = under->log_level;
	MERGE_PTR(log_file);
	MERGE_FLAG(leave_running);
	MERGE_FLAG(tcp_established);
	MERGE_FLAG(tcp_close);
	MERGE_FLAG(tcp_skip_in_flight);
	MERGE_FLAG(ext_unix_sk);
	MERGE_FLAG(shell_job);
	MERGE_FLAG(file_locks);
	MERGE_FLAG(link_remap);
	MERGE_FLAG(evasive_devices);
	MERGE_FLAG(orphan_pts_master);
	MERGE_FLAG(rst_sibling);
	MERGE_FLAG(notify_scripts);
	MERGE_FLAG(leave_stopped);
	MERGE_FLAG(skip_file_rwx_check);
	if (!dst->ghost_limit_set && under->ghost_limit_set) {
		dst->ghost_limit_set = true;
		dst->ghost_limit = under->ghost_limit;
	}
	MERGE_FLAG(manage_cgroups);
	if (dst->manage_cgroups_mode == CRPC_CG_UNSET)
		dst->manage_cgroups_mode = under->manage_cgroups_mode;
	if (dst->network_lock == CRPC_NETLOCK_UNSET)
		dst->network_lock = under->network_lock;
	if (!dst->timeout)
		dst->timeout = under->timeout;
	MERGE_PTR(root);
	MERGE_FLAG(auto_ext_mnt);
	MERGE_FLAG(ext_sharing);
	MERGE_FLAG(ext_masters);
	MERGE_FLAG(force_irmap);
	MERGE_FLAG(weak_sysctls);
	MERGE_FLAG(auto_dedup);
	MERGE_FLAG(mntns_compat_mode);
	if (!dst->empty_ns)
		dst->empty_ns = under->empty_ns;
	MERGE_PTR(parent_img);
	MERGE_PTR(lsm_profile);
	MERGE_PTR(lsm_mount_context);
	MERGE_PTR(cgroup_props);
	MERGE_PTR(cgroup_props_file);
	MERGE_PTR(cgroup_yard);
	MERGE_PTR(freeze_cgroup);
	for (size_t i = 0; i < under->n_external; i++)
		if (crpc_opts_add_external(dst, under->external[i], err) < 0)
			return -1;
	if (merge_strv(&dst->skip_mnt, &under->skip_mnt, err) < 0 ||
	    merge_strv(&dst->enable_fs, &under->enable_fs, err) < 0 ||
	    merge_strv(&dst->irmap_scan_paths, &under->irmap_scan_paths, err) < 0 ||
	    merge_strv(&dst->cgroup_dump_controller, &under->cgroup_dump_controller, err) < 0)
		return -1;
	for (size_t i = 0; i < under->n_inherit_fd; i++)
		if (crpc_opts_add_inherit_fd(dst, under->inherit_fd[i].key, under->inherit_fd[i].fd,
					     err) < 0)
			return -1;
	for (size_t i = 0; i < under->n_cg_root; i++)
		if (crpc_opts_add_cg_root(dst, under->cg_root[i].ctrl, under->cg_root[i].path, err) < 0)
			return -1;
	return 0;
}

/*
 * Options newer CRIU versions understand. An older CRIU skips fields it does
 * not know without a word, which would turn e.g. "leave the tree stopped"
 * into "kill the tree", so such options are refused up front.
 */
struct gated_opt {
	const char *name; /* as the user spells it */
	int since;        /* major*10000 + minor*100 + sublevel */
	bool (*is_set)(const crpc_opts *o);
};

static bool set_leave_stopped(const crpc_opts *o)
{
	return o->leave_stopped;
}
static bool set_skip_rwx(const crpc_opts *o)
{
	return o->skip_file_rwx_check;
}
static bool set_netlock_skip(const crpc_opts *o)
{
	return o->network_lock == CRPC_NETLOCK_SKIP;
}

static const struct gated_opt gated_opts[] = {
	{ "--leave-stopped", 31900, set_leave_stopped },
	{ "--skip-file-rwx-check", 31900, set_skip_rwx },
	{ "--network-lock skip", 31900, set_netlock_skip },
};

CRPC_API int crpc_opts_check_version(const crpc_opts *o, const crpc_version *v, crpc_error **err)
{
	if (!v || v->code == 0)
		return 0;
	for (size_t i = 0; i < sizeof(gated_opts) / sizeof(gated_opts[0]); i++) {
		const struct gated_opt *g = &gated_opts[i];

		if (!g->is_set(o) || v->code >= g->since)
			continue;
		crpc_error_set(err, CRPC_EXIT_ENV, 0, "options",
			       "%s needs CRIU %d.%d or newer, but the CRIU in use is %d.%d.%d and would ignore it",
			       g->name, g->since / 10000, g->since / 100 % 100, v->major, v->minor,
			       v->sublevel);
		if (err && *err)
			crpc_error_set_hint(*err, "drop %s, or point crpc at a newer CRIU (--criu PATH, "
						  "or run scripts/setup)", g->name);
		return -1;
	}
	return 0;
}

CRPC_API int crpc_parse_size(const char *s, uint64_t max, uint64_t *out, crpc_error **err)
{
	const char *p = s;
	uint64_t value = 0, mult = 1;

	if (!s || !isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (value > (UINT64_MAX - d) / 10)
			goto too_big;
		value = value * 10 + d;
	}
	switch (toupper((unsigned char)*p)) {
	case '\0':
		break;
	case 'K':
		mult = 1ull << 10;
		p++;
		break;
	case 'M':
		mult = 1ull << 20;
		p++;
		break;
	case 'G':
		mult = 1ull << 30;
		p++;
		break;
	case 'T':
		mult = 1ull << 40;
		p++;
		break;
	case 'B':
		break;
	default:
		goto bad;
	}
	/* accept "10M", "10MB", "10MiB", "100B" */
	if (mult > 1 && (*p == 'i' || *p == 'I') && toupper((unsigned char)p[1]) == 'B')
		p += 2;
	else if (toupper((unsigned char)*p) == 'B')
		p++;
	if (*p)
		goto bad;
	if (value > UINT64_MAX / mult)
		goto too_big;
	value *= mult;
	if (value > max)
		goto too_big;
	*out = value;
	return 0;
bad:
	return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "options",
			      "invalid size '%s': expected a number with an optional unit K, M, G or T "
			      "(e.g. 512K, 10M)", s ? s : "");
too_big:
	return crpc_error_set(err, CRPC_EXIT_USAGE, ERANGE, "options",
			      "size '%s' is too large (at most %" PRIu64 " bytes)", s, max);
}

static const char *const cg_mode_names[] = {
	[CRPC_CG_IGNORE] = "ignore", [CRPC_CG_NONE] = "none",	[CRPC_CG_PROPS] = "props",
	[CRPC_CG_SOFT] = "soft",     [CRPC_CG_FULL] = "full",	[CRPC_CG_STRICT] = "strict",
	[CRPC_CG_DEFAULT] = "default",
};

CRPC_API int crpc_parse_cg_mode(const char *s, crpc_cg_mode *out, crpc_error **err)
{
	if (!s) {
		*out = CRPC_CG_UNSET;
		return 0;
	}
	for (int m = CRPC_CG_IGNORE; m <= CRPC_CG_DEFAULT; m++)
		if (strcasecmp(s, cg_mode_names[m]) == 0) {
			*out = (crpc_cg_mode)m;
			return 0;
		}
	return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "options",
			      "invalid cgroup mode '%s': expected none, props, soft, full, strict, "
			      "ignore or default", s);
}

CRPC_API const char *crpc_cg_mode_name(crpc_cg_mode m)
{
	if (m < CRPC_CG_IGNORE || m > CRPC_CG_DEFAULT)
		return "unset";
	return cg_mode_names[m];
}

static const char *const netlock_names[] = {
	[CRPC_NETLOCK_UNSET] = "unset",
	[CRPC_NETLOCK_IPTABLES] = "iptables",
	[CRPC_NETLOCK_NFTABLES] = "nftables",
	[CRPC_NETLOCK_SKIP] = "skip",
};

CRPC_API int crpc_parse_network_lock(const char *s, crpc_network_lock *out, crpc_error **err)
{
	for (int m = CRPC_NETLOCK_IPTABLES; s && m <= CRPC_NETLOCK_SKIP; m++)
		if (strcasecmp(s, netlock_names[m]) == 0) {
			*out = (crpc_network_lock)m;
			return 0;
		}
	return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "options",
			      "invalid network lock method '%s': expected iptables, nftables or skip",
			      s ? s : "");
}

CRPC_API const char *crpc_network_lock_name(crpc_network_lock m)
{
	if (m < CRPC_NETLOCK_UNSET || m > CRPC_NETLOCK_SKIP)
		return "unset";
	return netlock_names[m];
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

#define SET_BOOL(field)                              \
	do {                                         \
		if (o->field) {                      \
			w->has_##field = 1;          \
			w->field = 1;                \
		}                                    \
	} while (0)

int crpc_opts_to_wire(const crpc_opts *o, CriuOpts *w, crpc_error **err)
{
	w->images_dir_fd = o->images_dir_fd;
	if (o->pid > 0) {
		w->has_pid = 1;
		w->pid = o->pid;
	}
	if (o->log_level >= 0) {
		w->has_log_level = 1;
		w->log_level = o->log_level;
	}
	w->log_file = (char *)o->log_file;
	SET_BOOL(leave_running);
	SET_BOOL(tcp_established);
	SET_BOOL(tcp_close);
	SET_BOOL(tcp_skip_in_flight);
	SET_BOOL(ext_unix_sk);
	SET_BOOL(shell_job);
	SET_BOOL(file_locks);
	SET_BOOL(link_remap);
	SET_BOOL(evasive_devices);
	SET_BOOL(orphan_pts_master);
	SET_BOOL(rst_sibling);
	SET_BOOL(notify_scripts);
	SET_BOOL(leave_stopped);
	SET_BOOL(skip_file_rwx_check);
	if (o->ghost_limit_set) {
		w->has_ghost_limit = 1;
		w->ghost_limit = o->ghost_limit;
	}
	if (o->manage_cgroups || o->manage_cgroups_mode != CRPC_CG_UNSET) {
		w->has_manage_cgroups = 1;
		w->manage_cgroups = 1;
	}
	if (o->manage_cgroups_mode != CRPC_CG_UNSET) {
		w->has_manage_cgroups_mode = 1;
		w->manage_cgroups_mode = (CriuCgMode)o->manage_cgroups_mode;
	}
	if (o->network_lock != CRPC_NETLOCK_UNSET) {
		w->has_network_lock = 1;
		w->network_lock = (CriuNetworkLockMethod)o->network_lock;
	}
	if (o->timeout) {
		w->has_timeout = 1;
		w->timeout = o->timeout;
	}
	w->root = (char *)o->root;
	SET_BOOL(auto_ext_mnt);
	SET_BOOL(ext_sharing);
	SET_BOOL(ext_masters);
	SET_BOOL(force_irmap);
	SET_BOOL(weak_sysctls);
	SET_BOOL(auto_dedup);
	SET_BOOL(mntns_compat_mode);
	if (o->empty_ns) {
		w->has_empty_ns = 1;
		w->empty_ns = o->empty_ns;
	}
	w->parent_img = (char *)o->parent_img;
	w->lsm_profile = (char *)o->lsm_profile;
	w->lsm_mount_context = (char *)o->lsm_mount_context;
	w->cgroup_props = (char *)o->cgroup_props;
	w->cgroup_props_file = (char *)o->cgroup_props_file;
	w->cgroup_yard = (char *)o->cgroup_yard;
	w->freeze_cgroup = (char *)o->freeze_cgroup;

	/* The wire arrays only point at o's strings; crpc_opts_wire_release() frees them. */
	if (strv_to_wire(o->external, o->n_external, &w->external, &w->n_external) < 0 ||
	    strv_to_wire(o->skip_mnt.v, o->skip_mnt.n, &w->skip_mnt, &w->n_skip_mnt) < 0 ||
	    strv_to_wire(o->enable_fs.v, o->enable_fs.n, &w->enable_fs, &w->n_enable_fs) < 0 ||
	    strv_to_wire(o->irmap_scan_paths.v, o->irmap_scan_paths.n, &w->irmap_scan_paths,
			 &w->n_irmap_scan_paths) < 0 ||
	    strv_to_wire(o->cgroup_dump_controller.v, o->cgroup_dump_controller.n,
			 &w->cgroup_dump_controller, &w->n_cgroup_dump_controller) < 0)
		goto nomem;
	/* The messages of each list live in one block, pointed at by the array. */
	if (o->n_inherit_fd) {
		InheritFd *items = calloc(o->n_inherit_fd, sizeof(*items));
		InheritFd **ptrs = calloc(o->n_inherit_fd, sizeof(*ptrs));

		if (!items || !ptrs) {
			free(items);
			free(ptrs);
			goto nomem;
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
	}
	if (o->n_cg_root) {
		CgroupRoot *items = calloc(o->n_cg_root, sizeof(*items));
		CgroupRoot **ptrs = calloc(o->n_cg_root, sizeof(*ptrs));

		if (!items || !ptrs) {
			free(items);
			free(ptrs);
			goto nomem;
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
	}
	return 0;
nomem:
	crpc_opts_wire_release(w);
	return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "options", "out of memory");
}

void crpc_opts_wire_release(CriuOpts *w)
{
	free(w->external);
	w->external = NULL;
	w->n_external = 0;
	free(w->skip_mnt);
	w->skip_mnt = NULL;
	w->n_skip_mnt = 0;
	free(w->enable_fs);
	w->enable_fs = NULL;
	w->n_enable_fs = 0;
	free(w->irmap_scan_paths);
	w->irmap_scan_paths = NULL;
	w->n_irmap_scan_paths = 0;
	free(w->cgroup_dump_controller);
	w->cgroup_dump_controller = NULL;
	w->n_cgroup_dump_controller = 0;
	if (w->inherit_fd && w->n_inherit_fd)
		free(w->inherit_fd[0]); /* the block of messages */
	free(w->inherit_fd);
	w->inherit_fd = NULL;
	w->n_inherit_fd = 0;
	if (w->cg_root && w->n_cg_root)
		free(w->cg_root[0]);
	free(w->cg_root);
	w->cg_root = NULL;
	w->n_cg_root = 0;
}
