/* SPDX-License-Identifier: MIT */
/*
 * inspect_int.h - private declarations shared by inspect.c, inspect_proc.c,
 * inspect_tree.c, inspect_fd.c, inspect_net.c and inspect_verdict.c (and
 * their unit tests).
 */
#ifndef CRPC_INSPECT_INT_H
#define CRPC_INSPECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "crpc/inspect.h"
#include "internal.h"

/* ---- a u64 -> u64 hash map (key 0 is reserved: inode numbers are never 0) ---- */

typedef struct ins_map {
	uint64_t *keys;
	uint64_t *vals;
	size_t cap; /* power of two, 0 when empty */
	size_t n;
} ins_map;

/* Insert or replace. -1 on ENOMEM. */
int ins_map_put(ins_map *m, uint64_t key, uint64_t val);
/* Lookup; true when found (*val set if val is not NULL). */
bool ins_map_get(const ins_map *m, uint64_t key, uint64_t *val);
void ins_map_free(ins_map *m);

/* ---- small helpers ---- */

/*
 * Grow the array `arr` (capacity *capp) so that it holds at least n+1
 * elements, new ones zeroed. -1 on ENOMEM (arr untouched), else 0.
 */
#define INS_GROW(arr, capp, n)                                                          \
	__extension__({                                                                 \
		size_t ins_oc_ = *(capp);                                               \
		int ins_rc_ = ARRAY_GROW(arr, capp, (size_t)(n) + 1, 8);                \
		if (!ins_rc_ && *(capp) > ins_oc_)                                      \
			memset((arr) + ins_oc_, 0, (*(capp)-ins_oc_) * sizeof(*(arr))); \
		ins_rc_;                                                                \
	})

/*
 * Read dirfd/name (a /proc file) into buf (NUL-terminated), at most bufsz-1
 * bytes. Returns the length, or -1 with errno.
 */
ssize_t ins_read_at(int dirfd, const char *name, char *buf, size_t bufsz);

/*
 * Read a whole /proc file of unknown size, at most max bytes (the rest is
 * dropped), into a malloc'ed NUL-terminated *out of *len bytes (len may be
 * NULL). -1 with errno.
 */
int ins_read_all_at(int dirfd, const char *name, size_t max, char **out, size_t *len);

/* Append a pid to a list unless present. -1 on ENOMEM. */
int ins_pid_add(pid_t **v, size_t *n, pid_t pid);

/* Add a note/missing feature (formatted) to a string list. -1 on ENOMEM. */
int ins_strv_addf(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- parsers (pure; unit tested) ---- */

/* The fields of /proc/PID/stat inspect uses. */
typedef struct ins_stat {
	char comm[64];
	char state;
	pid_t ppid, pgid, sid;
	int tty_nr;
	unsigned long flags;
} ins_stat;

/* Parse a /proc/PID/stat line. -1 if malformed. */
int ins_parse_stat(const char *buf, ins_stat *out);

/* The fields of /proc/PID/status inspect uses. */
typedef struct ins_status {
	char state; /* 0 if absent */
	pid_t tgid, ppid, tracer_pid, ns_pid;
	unsigned threads; /* 0 if absent */
	bool kthread;     /* "Kthread: 1" (newer kernels) */
	crpc_mem_info mem;
} ins_status;

void ins_parse_status(const char *buf, ins_status *out);

/* One socket of /proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6}. */
typedef struct ins_inet_sock {
	uint64_t inode;
	int family;
	crpc_inet_endpoint local, remote;
	uint8_t lraw[16], rraw[16]; /* addresses in network order (v4: first 4 bytes) */
	int state;
	uint32_t tx_queue, rx_queue;
} ins_inet_sock;

/* Parse one data line of a /proc/net inet table. -1 for the header or a bad line. */
int ins_parse_inet_line(const char *line, int family, ins_inet_sock *out);

/* Parse one line of /proc/locks into l (path NULL, pid/fd not matched). *blocked: a "->" waiter. */
int ins_parse_lock_line(const char *line, crpc_lock_info *l, bool *blocked);

/* What fdinfo holds besides the crpc_fd_info fields. */
typedef struct ins_fdinfo_extra {
	int tty_index;         /* -1 if absent */
	crpc_lock_info *locks; /* the "lock:" lines: locks held through this open file (path NULL, fd -1) */
	size_t n_locks, cap_locks;
} ins_fdinfo_extra;

/*
 * Parse /proc/PID/fdinfo/N into fi (pos, flags, mnt_id and the type's own
 * lines: eventfd-count, sigmask, clockid/ticks, tfd, inotify wd, fanotify
 * marks, tty-index, lock). x is overwritten: free it with
 * ins_fdinfo_extra_free() whatever the result. Epoll targets and locks are
 * allocated (-1 on ENOMEM).
 */
int ins_parse_fdinfo(const char *buf, crpc_fd_info *fi, ins_fdinfo_extra *x);

/* Free what ins_parse_fdinfo() allocated in x. */
void ins_fdinfo_extra_free(ins_fdinfo_extra *x);

/* Classify an fd by its link target alone (anon inodes, pipes, sockets, memfd). */
crpc_fd_type ins_classify_link(const char *target);

/* Map a sockfs protocol name ("TCP", "UDPv6", "UNIX", ...) to a type and family. */
crpc_fd_type ins_classify_proto(const char *proto, int *family);

/* ---- the inspection's shared state ---- */

typedef struct ins_netns ins_netns;
typedef struct ins_mntns ins_mntns;

/* The locks kept from the fdinfo files of one process (pid and fd set, path NULL): OFD ones, or all
 * with CRPC_INSPECT_FDINFO_LOCKS. */
typedef struct ins_fd_locks {
	crpc_lock_info *v;
	size_t n, cap;
} ins_fd_locks;

typedef struct ins_ctx {
	unsigned flags;
	crpc_inspect_result *r;
	char *buf; /* scratch buffer of bufsz bytes */
	size_t bufsz;
	int proc_fd;            /* /proc */
	ins_map sock_owner;     /* socket inode -> (proc index << 32 | fd index) + 1, tree only */
	ins_map pipe_ends;      /* pipe inode -> bit 0 read end, bit 1 write end seen in the tree */
	ins_map fifo_ends;      /* the same for FIFOs, keyed by (st_dev, st_ino) */
	ins_fd_locks *fd_locks; /* one per process of the tree, each written by the reader of that process */
	size_t n_fd_locks;      /* n_procs once the tree is built */
	ins_netns *netns;
	size_t n_netns, cap_netns;
	ins_mntns *mntns;
	size_t n_mntns, cap_mntns;
	bool kernel_checks_done;
	int unix_diag_errno; /* errno of the sock_diag UNIX dump, 0 if it worked */
} ins_ctx;

/*
 * inspect_tree.c: scan /proc and fill c->r->procs with the tree of root in
 * pre-order (children in ascending PID order), their stat read. 1 when root
 * is not there (any more), -1 on error.
 */
int ins_build_tree(ins_ctx *c, pid_t root, crpc_error **err);

/* inspect_tree.c: read every process of the tree (threads for a large tree). */
int ins_read_procs(ins_ctx *c, crpc_error **err);

/* inspect_tree.c: the namespaces' inodes under dirfd/prefix ("ns/", "self/ns/"), 0 if unreadable. */
void ins_read_ns(int dirfd, const char *prefix, uint64_t ns[CRPC_NS__COUNT]);

/* Does this errno mean the process is gone? */
bool ins_gone_errno(int e);

/* inspect_fd.c: read and classify the fds of procs[pi] (pidfd = /proc/PID dirfd). */
int ins_read_fds(ins_ctx *c, size_t pi, int piddir, crpc_error **err);

/* inspect_fd.c: index the tree's sockets, pipe and FIFO ends (after every process was read). */
int ins_index_fds(ins_ctx *c);

/* inspect_fd.c: the fifo_ends key of a FIFO. */
uint64_t ins_fifo_key(uint64_t dev, uint64_t ino);

/* inspect_fd.c: resolve mount ids and check deleted files' paths. */
int ins_resolve_files(ins_ctx *c, crpc_error **err);

/* inspect_net.c: fill in sockets from /proc/net and sock_diag, peers of pipes and sockets. */
int ins_resolve_net(ins_ctx *c, crpc_error **err);

struct nlmsghdr;

/* A callback of ins_netlink_dump(): one answer; -1 stops the dump with ENOMEM. */
typedef int (*ins_netlink_cb)(const struct nlmsghdr *h, void *arg);

/*
 * inspect_net.c: send the netlink dump request req (reqlen bytes, starting
 * with its nlmsghdr, filled in here with type and the dump flags) on sk and
 * feed every answer to cb (may be NULL) until the dump is done. 0 or an
 * errno (the kernel's, or EPROTO when sk closed).
 */
int ins_netlink_dump(int sk, int type, void *req, size_t reqlen, char *buf, size_t bufsz, ins_netlink_cb cb,
		     void *arg);

/* inspect_net.c: free the per-netns state. */
void ins_net_free(ins_ctx *c);

/* inspect_fd.c: free the per-mntns state. */
void ins_mnt_free(ins_ctx *c);

/*
 * inspect_fd.c: the mounts of /proc/WHO/mountinfo (WHO: a PID or "self"),
 * read up to max bytes, into *v and *n (lines the parser refuses are left
 * out). -1 with errno (ENOMEM, or why the file could not be read).
 */
int ins_read_mounts(ins_ctx *c, const char *who, size_t max, crpc__mount **v, size_t *n);
/* Free n mounts of ins_read_mounts() and their array. */
void ins_mounts_free(crpc__mount *v, size_t n);

/* inspect_net.c: check the kernel features the sockets of the tree need. */
void ins_check_net_features(ins_ctx *c);

/* ---- the verdict, shared with inspect_ns.c ---- */

typedef struct vbuild ins_vbuild;

enum {
	INS_V_OPTION,
	INS_V_BLOCKER,
	INS_V_WARNING
};

/* inspect_verdict.c: add an option, blocker or warning (one with the same name and value counts as more). */
void ins_vadd(ins_vbuild *vb, int list, const char *name, crpc_value_kind kind, bool b, uint64_t u,
	      const char *s, pid_t pid, int fd, const char *fmt, ...) __attribute__((format(printf, 10, 11)));

/* inspect_ns.c: the tree's own namespaces into r->nst (after the fds were resolved). */
int ins_ns_inspect(ins_ctx *c, crpc_error **err);

/* inspect_ns.c: the options, blockers and warnings of the tree's own namespaces. */
void ins_ns_verdict(ins_vbuild *vb, const crpc_inspect_result *r);

/* Free one fd's allocations. */
void ins_fd_release(crpc_fd_info *fi);

#endif /* CRPC_INSPECT_INT_H */
