/* SPDX-License-Identifier: MIT */
/*
 * crpc/opts.h - the CRIU options of a request, in plain C.
 *
 * crpc_opts is what a caller fills in; libcrpc turns it into CRIU's wire
 * message when the request is sent, after checking that the running CRIU
 * understands every option that is set (an option CRIU is too old for would
 * otherwise be dropped silently).
 */
#ifndef CRPC_OPTS_H
#define CRPC_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crpc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** CRIU's cgroup modes (criu_cg_mode on the wire). */
typedef enum crpc_cg_mode {
	CRPC_CG_UNSET = -1,
	CRPC_CG_IGNORE = 0,
	CRPC_CG_NONE = 1,
	CRPC_CG_PROPS = 2,
	CRPC_CG_SOFT = 3,
	CRPC_CG_FULL = 4,
	CRPC_CG_STRICT = 5,
	CRPC_CG_DEFAULT = 6,
} crpc_cg_mode;

/** Network locking methods (criu_network_lock_method on the wire). */
typedef enum crpc_network_lock {
	CRPC_NETLOCK_UNSET = 0,
	CRPC_NETLOCK_IPTABLES = 1,
	CRPC_NETLOCK_NFTABLES = 2,
	CRPC_NETLOCK_SKIP = 3,
} crpc_network_lock;

/** A CRIU version as major.minor.sublevel; `code` = major*10000+minor*100+sublevel. */
typedef struct crpc_version {
	int major;
	int minor;
	int sublevel;
	int extra;
	char gitid[64]; /**< empty unless a git build */
	int code;
} crpc_version;

/** A list of strings that are not owned by the list. */
typedef struct crpc_strv {
	const char **v;
	size_t n;
} crpc_strv;

/** Append s (not copied) to l. -1 on ENOMEM. */
int crpc_strv_add(crpc_strv *l, const char *s, crpc_error **err);

/** Free the list's array (not the strings) and empty it. */
void crpc_strv_release(crpc_strv *l);

/** An fd crpc's CRIU inherits, and the resource CRIU should use it for. */
typedef struct crpc_inherit_fd {
	const char *key; /**< e.g. "pipe:[12345]" or "file[...]" */
	int fd;          /**< fd number, open in crpc without FD_CLOEXEC */
} crpc_inherit_fd;

/** A cgroup root for restore: controller (NULL: all) and path. */
typedef struct crpc_cg_root {
	const char *ctrl;
	const char *path;
} crpc_cg_root;

/**
 * Options of one request. Initialise with crpc_opts_init(). The library
 * fills these in place and crpc_config holds two, so their size is fixed
 * for a major version: members added later take their room from
 * `reserved`, which the init function zeroes.
 */
typedef struct crpc_opts {
	int pid;              /**< dump: target pid (0: unset) */
	int images_dir_fd;    /**< images directory, an fd of the calling process */
	int log_level;        /**< 0-4, -1: CRIU's default */
	const char *log_file; /**< log name inside the images dir, NULL: CRIU's default */

	bool leave_running;
	bool tcp_established;
	bool tcp_close;
	bool tcp_skip_in_flight;
	bool ext_unix_sk;
	bool shell_job;
	bool file_locks;
	bool link_remap;
	bool evasive_devices;
	bool orphan_pts_master;
	bool rst_sibling;         /**< restore: the root becomes the caller's child */
	bool notify_scripts;      /**< set by the request when a dispatcher is given */
	bool leave_stopped;       /**< since CRIU 3.19 */
	bool skip_file_rwx_check; /**< since CRIU 3.19 */

	bool ghost_limit_set;
	uint32_t ghost_limit; /**< bytes */

	bool manage_cgroups;
	crpc_cg_mode manage_cgroups_mode;
	crpc_network_lock network_lock;
	uint32_t timeout; /**< seconds, 0: CRIU's default */
	const char *root; /**< restore: root directory */

	const char **external; /**< --external resources */
	size_t n_external;

	/* Less common options, settable from the configuration file. */
	bool auto_ext_mnt;
	bool ext_sharing;
	bool ext_masters;
	bool force_irmap;
	bool weak_sysctls;
	bool auto_dedup;
	bool mntns_compat_mode;
	uint32_t empty_ns;      /**< CLONE_NEWNET or 0 */
	const char *parent_img; /**< relative to the images dir */
	const char *lsm_profile;
	const char *lsm_mount_context;
	const char *cgroup_props;
	const char *cgroup_props_file;
	const char *cgroup_yard;
	const char *freeze_cgroup;
	crpc_strv skip_mnt;
	crpc_strv enable_fs;
	crpc_strv irmap_scan_paths;
	crpc_strv cgroup_dump_controller;
	crpc_inherit_fd *inherit_fd;
	size_t n_inherit_fd;
	crpc_cg_root *cg_root;
	size_t n_cg_root;

	uint64_t reserved[8]; /**< room for later members; zero */
} crpc_opts;

/** Reset o to "nothing set". */
void crpc_opts_init(crpc_opts *o);

/** Append an external resource (the string is not copied). -1 on ENOMEM. */
int crpc_opts_add_external(crpc_opts *o, const char *res, crpc_error **err);

/** Append an inherited fd / a cgroup root (strings not copied). -1 on ENOMEM. */
int crpc_opts_add_inherit_fd(crpc_opts *o, const char *key, int fd, crpc_error **err);
int crpc_opts_add_cg_root(crpc_opts *o, const char *ctrl, const char *path, crpc_error **err);

/** Free the arrays the crpc_opts_add_*() and list fields hold (not the strings). */
void crpc_opts_release(crpc_opts *o);

/**
 * Fill in dst the options it leaves unset from `under` (e.g. the
 * configuration file under the command line): a flag set in either is set,
 * a value set in dst wins, lists get under's entries appended. Strings are
 * shared, not copied. -1 on ENOMEM.
 */
int crpc_opts_merge(crpc_opts *dst, const crpc_opts *under, crpc_error **err);

/**
 * Check that every option set in o is understood by CRIU version v (NULL:
 * unknown, accept all). On refusal, the error names the option, the version
 * that introduced it and the running version; its exit class is
 * CRPC_EXIT_ENV since the remedy is a newer CRIU.
 */
int crpc_opts_check_version(const crpc_opts *o, const crpc_version *v, crpc_error **err);

/** Name of a cgroup mode / network lock method (for summaries). */
const char *crpc_cg_mode_name(crpc_cg_mode m);
const char *crpc_network_lock_name(crpc_network_lock m);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_OPTS_H */
