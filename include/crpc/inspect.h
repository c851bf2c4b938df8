/* SPDX-License-Identifier: MIT */
/*
 * crpc/inspect.h - what a process tree holds, and what CRIU needs to dump it.
 *
 * crpc_inspect_tree() reads /proc for the tree rooted at a PID: its
 * processes and threads, every open file descriptor classified (TCP, UDP,
 * UNIX sockets with their peers, pipes, eventfd, timerfd, epoll, io_uring,
 * memfd, regular and deleted files, devices, terminals, ...), file locks,
 * namespaces that differ from the caller's, cgroups and memory use. It reads
 * each /proc/net table once per network namespace and finds UNIX socket peers
 * with the sock_diag netlink interface.
 *
 * crpc_inspect_verdict() turns a result into the CRIU options the tree needs
 * (each with the reason) and the blockers that make a dump impossible or
 * unsafe; crpc_inspect_apply() adds the needed options to a request's
 * crpc_opts, options the user gave winning over automatic ones.
 *
 * The tree is read while it runs: a process may exit or change while it is
 * inspected. A process that vanishes is marked `gone`; when the root itself
 * does not exist (or exits before its tree could be read), crpc_inspect_tree()
 * fails with ESRCH and the cause CRPC_CAUSE_NO_PROCESS.
 */
#ifndef CRPC_INSPECT_H
#define CRPC_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crpc/error.h"
#include "crpc/opts.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What an open file descriptor refers to. Names: crpc_fd_type_name(). */
typedef enum crpc_fd_type {
	CRPC_FD_UNKNOWN = 0, /**< "unknown" */
	CRPC_FD_TCP,         /**< "tcp" */
	CRPC_FD_UDP,         /**< "udp" (also UDP-Lite) */
	CRPC_FD_RAW,         /**< "raw" (inet raw and ping sockets) */
	CRPC_FD_UNIX,        /**< "unix" */
	CRPC_FD_NETLINK,     /**< "netlink" */
	CRPC_FD_PACKET,      /**< "packet" */
	CRPC_FD_SOCKET,      /**< "socket": any other family or protocol */
	CRPC_FD_PIPE,        /**< "pipe" */
	CRPC_FD_FIFO,        /**< "fifo": a named pipe */
	CRPC_FD_EVENTFD,     /**< "eventfd" */
	CRPC_FD_SIGNALFD,    /**< "signalfd" */
	CRPC_FD_TIMERFD,     /**< "timerfd" */
	CRPC_FD_INOTIFY,     /**< "inotify" */
	CRPC_FD_FANOTIFY,    /**< "fanotify" */
	CRPC_FD_EPOLL,       /**< "epoll" */
	CRPC_FD_IO_URING,    /**< "io_uring" */
	CRPC_FD_PIDFD,       /**< "pidfd" */
	CRPC_FD_USERFAULTFD, /**< "userfaultfd" */
	CRPC_FD_ANON,        /**< "anon": another anon inode (perf_event, bpf-map, ...) */
	CRPC_FD_MEMFD,       /**< "memfd" */
	CRPC_FD_FILE,        /**< "file": a regular file */
	CRPC_FD_DIR,         /**< "dir" */
	CRPC_FD_DEVICE,      /**< "device": character or block device, not a terminal */
	CRPC_FD_TTY,         /**< "tty": a terminal that is not a pseudo-terminal */
	CRPC_FD_PTY,         /**< "pty": /dev/ptmx (master) or /dev/pts/N (slave) */
	CRPC_FD_NSFILE,      /**< "nsfile": a namespace file (/proc/PID/ns/...) */
	CRPC_FD__COUNT
} crpc_fd_type;

/** Where the other end of a connection, pipe or socket pair is. */
typedef enum crpc_peer {
	CRPC_PEER_NONE = 0, /**< "none": not connected, or no other end exists */
	CRPC_PEER_INSIDE,   /**< "inside": held by a process of the tree */
	CRPC_PEER_OUTSIDE,  /**< "outside": held by a process outside the tree */
	CRPC_PEER_REMOTE,   /**< "remote": a TCP/UDP peer not found on this host (netns) */
	CRPC_PEER_UNKNOWN,  /**< "unknown": could not be found out */
} crpc_peer;

/** Namespace types, in /proc/PID/ns order. Names: crpc_ns_type_name(). */
typedef enum crpc_ns_type {
	CRPC_NS_CGROUP = 0,
	CRPC_NS_IPC,
	CRPC_NS_MNT,
	CRPC_NS_NET,
	CRPC_NS_PID,
	CRPC_NS_PID_FOR_CHILDREN,
	CRPC_NS_TIME,
	CRPC_NS_TIME_FOR_CHILDREN,
	CRPC_NS_USER,
	CRPC_NS_UTS,
	CRPC_NS__COUNT
} crpc_ns_type;

/** An IPv4/IPv6 endpoint in text form. */
typedef struct crpc_inet_endpoint {
	char addr[46]; /**< "127.0.0.1", "::1" */
	uint16_t port;
} crpc_inet_endpoint;

/**
 * One open file descriptor. Fields that do not apply to the type are zero,
 * NULL or -1 as noted.
 */
typedef struct crpc_fd_info {
	int fd;
	crpc_fd_type type;
	char *target;     /**< readlink of /proc/PID/fd/N */
	uint64_t inode;   /**< inode number of the open file (socket, pipe, file) */
	bool have_fdinfo; /**< flags, pos and mnt_id were read from fdinfo */
	unsigned flags;   /**< open flags (O_*) */
	uint64_t pos;     /**< file position */

	/* sockets */
	int family;     /**< AF_INET, AF_INET6, AF_UNIX, ... ; 0 if not a socket */
	char *protocol; /**< kernel protocol name ("TCP", "UDPv6", "UNIX", "MPTCP", ...) */
	int sock_type;  /**< SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW; 0: unknown */
	int state;      /**< kernel TCP state number (1 ESTABLISHED .. 10 LISTEN); 0: unknown */
	crpc_inet_endpoint local, remote; /**< tcp, udp, raw */
	uint32_t rx_queue, tx_queue;      /**< tcp, udp; for LISTEN, rx_queue = pending connections */
	char *name;                       /**< unix: bound name ("/path" or "@abstract"); memfd: its name */
	bool abstract;                    /**< unix: name is in the abstract namespace */
	uint64_t peer_inode; /**< unix, tcp, udp: inode of the peer socket, 0 if none or unknown */
	char *peer_name;     /**< unix: the peer's bound name, NULL if none */
	crpc_peer peer;      /**< sockets, pipes and fifos */
	pid_t *peer_pids;    /**< outside holders of the peer (CRPC_INSPECT_PEER_PIDS) */
	size_t n_peer_pids;

	/* files, devices */
	char *path;            /**< file, dir, fifo, device, tty, pty, nsfile: the path */
	int64_t size;          /**< st_size; -1 if unknown */
	uint64_t blocks_bytes; /**< st_blocks * 512: what a ghost copy of a deleted file takes */
	uint64_t nlink;
	bool deleted;      /**< file: unlinked while open (" (deleted)") */
	bool path_reused;  /**< deleted: its old path now names another file */
	uint64_t dev;      /**< st_dev of the open file */
	uint64_t rdev;     /**< device, tty, pty: st_rdev */
	bool block_device; /**< device: a block device */
	int mount_id;      /**< mount the file is on (fdinfo mnt_id), -1 if unknown */
	char *mount;       /**< that mount's mount point, NULL if unknown */
	char *fstype;      /**< that mount's file system type, NULL if unknown */
	bool pty_master;   /**< pty: /dev/ptmx side */
	int pty_index;     /**< pty: the N of /dev/pts/N, -1 if unknown */

	/* anon inodes */
	uint64_t count;       /**< eventfd: counter */
	int clockid;          /**< timerfd */
	uint64_t ticks;       /**< timerfd: expirations not read yet */
	uint64_t interval_ns; /**< timerfd: period, 0 for a one-shot or disarmed timer */
	uint64_t value_ns;    /**< timerfd: time to the next expiration, 0 if disarmed */
	char sigmask[24];     /**< signalfd: hex mask as shown by the kernel */
	unsigned watches;     /**< inotify watches, fanotify marks, epoll targets */
	int *targets;         /**< epoll: the target fd numbers */
	size_t n_targets;

	/* ptys (added after the fields above, which keep their offsets) */
	bool pty_master_closed; /**< pty slave whose master is closed in every process: the
	                             kernel refuses to reopen it (EIO); CRIU restores it with a
	                             master of its own, no shell_job needed */
} crpc_fd_info;

/** One thread. */
typedef struct crpc_thread_info {
	pid_t tid;
	char comm[64];
	char state; /**< R, S, D, T, t, Z, X, I, ... ; 0 if gone */
	pid_t tracer_pid;
} crpc_thread_info;

/** One line of /proc/PID/cgroup. */
typedef struct crpc_cgroup_entry {
	int hierarchy;     /**< 0 for cgroup v2 */
	char *controllers; /**< "cpu,cpuacct", "" for v2 */
	char *path;
} crpc_cgroup_entry;

/** Memory use, in bytes, from /proc/PID/status. */
typedef struct crpc_mem_info {
	uint64_t rss, anon, file, shmem;
} crpc_mem_info;

/** One process (thread group) of the tree. */
typedef struct crpc_proc_info {
	pid_t pid, ppid, pgid, sid;
	char comm[64];
	char state;       /**< state letter of /proc/PID/stat */
	pid_t tracer_pid; /**< TracerPid of the thread group leader */
	bool kernel_thread;
	bool zombie;         /**< Z or X */
	bool stopped;        /**< T (job control stop) */
	bool traced;         /**< some thread has a tracer */
	bool gone;           /**< exited while being inspected; what follows may be partial */
	bool fds_unreadable; /**< its fd table could not be read (see fds_errno) */
	int fds_errno;
	int tty_nr;     /**< controlling terminal (device number), 0 if none */
	char tty[32];   /**< "pts/3", "tty1", ... ; empty if none */
	pid_t ns_pid;   /**< its PID in its own (innermost) PID namespace */
	size_t parent;  /**< index of its parent in the result's procs; (size_t)-1 for the root */
	unsigned depth; /**< 0 for the root */
	crpc_thread_info *threads;
	size_t n_threads;
	crpc_fd_info *fds;
	size_t n_fds;
	crpc_fd_info *mapped_deleted; /**< deleted files mapped into memory (fd -1, type file) */
	size_t n_mapped_deleted;
	crpc_mem_info mem;
	uint64_t ns[CRPC_NS__COUNT]; /**< namespace inode numbers, 0 if unknown */
	crpc_cgroup_entry *cgroups;
	size_t n_cgroups;
} crpc_proc_info;

/** A file lock held by a process of the tree: POSIX and flock locks and
 *  leases from /proc/locks by their pid; OFD locks, which /proc/locks shows
 *  without a pid, from the "lock:" lines of the tree's /proc/PID/fdinfo. */
typedef struct crpc_lock_info {
	pid_t pid;           /**< holder; for OFD locks a process of the tree holding the open file */
	int fd;              /**< fd of the locked file in that process, -1 if not found */
	char lock_class[16]; /**< "POSIX", "FLOCK", "OFDLCK", "LEASE", ... */
	char kind[16];       /**< "ADVISORY", "MANDATORY", "ACTIVE", ... */
	char mode[16];       /**< "READ", "WRITE", ... */
	unsigned dev_major, dev_minor;
	uint64_t inode;
	uint64_t start;
	int64_t end; /**< -1: to the end of the file (EOF) */
	char *path;  /**< path of the locked file when known */
} crpc_lock_info;

/** A namespace some process of the tree is in that crpc itself is not in. */
typedef struct crpc_ns_info {
	crpc_ns_type type;
	uint64_t inode;
	pid_t *pids;
	size_t n_pids;
} crpc_ns_info;

/** How CRIU deals with one mount of a tree's own mount namespace. */
typedef enum crpc_ns_mount_how {
	CRPC_NS_MOUNT_RECREATED =
		0, /**< "recreated": CRIU mounts it anew (proc, sysfs, tmpfs with its files, ...) */
	CRPC_NS_MOUNT_EXTERNAL, /**< "external": bound at restore from the same mount of crpc's namespace */
	CRPC_NS_MOUNT_UNSUPPORTED, /**< "unsupported": neither (a blocker) */
} crpc_ns_mount_how;

/** One mount of the tree's own mount namespace. */
typedef struct crpc_ns_mount {
	int id;
	char *mountpoint;
	char *fstype;
	char *root; /**< the directory of its file system it shows (mountinfo's root field) */
	unsigned major, minor;
	crpc_ns_mount_how how;
	char *source;  /**< external: where crpc's namespace shows the same directory (a mount
			   point of the same file system, with the rest of the path) */
	char *beneath; /**< external: the first mount crpc's namespace has beneath source, NULL
			    if none (CRIU cannot bind such a source into a new user namespace) */
} crpc_ns_mount;

/**
 * A file the tree holds open on a mount of another mount namespace than its
 * own (typically stdio inherited from the program that created the
 * namespaces): CRIU dumps it as the external `file[MNT:INODE]` and a restore
 * gives it back with inherit_fd.
 */
typedef struct crpc_ns_file {
	pid_t pid;
	int fd;
	int mount_id;
	uint64_t inode, dev;
	unsigned flags; /**< open flags */
	char *path;     /**< as /proc/PID/fd shows it */
	char key[48];   /**< "file[18:3]": mount id and inode in hex, as CRIU names it */
} crpc_ns_file;

/** A network device of the tree's own network namespace. */
typedef struct crpc_ns_netdev {
	char name[16];
	char kind[16]; /**< "veth", "bridge", ...; "" for a device without a kind (lo) */
	int ifindex;
	bool peer_outside; /**< veth: the other end is in another network namespace */
	bool peer_here;    /**< that namespace is crpc's own */
	char peer_name[16];
	char peer_master[16]; /**< the bridge the peer is a port of, "" if none */
	char peer_addrs[160]; /**< the peer's IPv4 addresses ("10.1.0.1/24 ..."), "" if none */
} crpc_ns_netdev;

/** A process outside the tree in one of the tree's own namespaces. */
typedef struct crpc_ns_sharer {
	crpc_ns_type type;
	pid_t pid;
	char comm[64];
	bool ancestor; /**< an ancestor of the root (the program that created the namespace) */
} crpc_ns_sharer;

/** What a tree in namespaces of its own needs (crpc_inspect_result.nst). */
typedef struct crpc_ns_tree {
	unsigned own;      /**< bit (1 << crpc_ns_type): the root's namespace differs from crpc's */
	bool pid_init;     /**< the root is the init (PID 1) of its own PID namespace */
	pid_t pid_ns_init; /**< the root is in a PID namespace it is not the init of: that
				    init's PID as crpc sees it, 0 if not found */
	char pid_ns_init_comm[64];
	char *root; /**< the root directory of the tree as crpc sees it (/proc/PID/root) */
	crpc_ns_mount *mounts;
	size_t n_mounts;
	crpc_ns_file *files;
	size_t n_files;
	crpc_ns_netdev *netdevs;
	size_t n_netdevs;
	crpc_ns_sharer *sharers;
	size_t n_sharers;
	int netdev_errno;          /**< errno when the network devices could not be read, else 0 */
	pid_t session_outside_pid; /**< a process of the tree whose session leader lives outside the
					tree's PID namespace (CRIU sees session 0), 0 if none */
	pid_t session_outside_sid;
	size_t n_session_outside; /**< how many processes of the tree are in such sessions */
	char *root_beneath;       /**< own mount namespace: the first mount crpc's namespace has beneath
			     root (what a restore binds as the tree's root), NULL if none */
	int64_t userns_uid0;      /**< own user namespace: the uid crpc sees for its uid 0 (-1: unmapped) */
	int64_t userns_gid0;      /**< own user namespace: the gid crpc sees for its gid 0 (-1: unmapped) */
} crpc_ns_tree;

/** Everything crpc_inspect_tree() found. Free with crpc_inspect_free(). */
typedef struct crpc_inspect_result {
	pid_t root;
	crpc_proc_info *procs; /**< procs[0] is the root, then the tree in pre-order */
	size_t n_procs;
	size_t n_threads, n_fds; /**< totals over the tree */
	crpc_lock_info *locks;
	size_t n_locks;
	crpc_ns_info *ns;
	size_t n_ns;
	uint64_t self_ns[CRPC_NS__COUNT]; /**< the calling process's namespaces */
	crpc_mem_info mem;                /**< sums over the tree (shared pages counted per process) */
	char **missing_features;          /**< kernel features the tree needs that are missing */
	size_t n_missing_features;
	char **notes; /**< things the inspection could not read, for the verdict */
	size_t n_notes;
	double elapsed;   /**< seconds the inspection took */
	crpc_ns_tree nst; /**< the tree's own namespaces (own == 0: it shares crpc's) */
} crpc_inspect_result;

/** Flags of crpc_inspect_tree(). */
enum {
	/** Scan the other processes of the system to name the outside holders of
	 *  pipes and sockets connected to the tree (peer_pids); costs a walk of
	 *  every process's fds, done only when the tree has such a peer. */
	CRPC_INSPECT_PEER_PIDS = 1 << 0,
	/** Skip the kernel feature checks (kcmp, map_files, sock_diag, TCP repair). */
	CRPC_INSPECT_NO_KERNEL_CHECKS = 1 << 1,
	/** Take the tree's file locks from the fdinfo of its descriptors only,
	 *  without /proc/locks (whose read waits for an RCU grace period, 5-15
	 *  ms): the locks CRIU dumps, since it finds a lock's holder the same
	 *  way. A flock kept only by a mapping or a descriptor in flight, which
	 *  CRIU leaves out in any case, is then not listed. Used by crpc's dump. */
	CRPC_INSPECT_FDINFO_LOCKS = 1 << 2,
};

/**
 * Inspect the process tree rooted at `pid`. On success *result is a newly
 * allocated result (free with crpc_inspect_free()). Fails with ESRCH
 * (cause CRPC_CAUSE_NO_PROCESS) when the root does not exist or exits before
 * its tree was read. Reading other processes' files needs root (or
 * CAP_SYS_PTRACE); a process whose fds cannot be read is reported with
 * fds_unreadable rather than failing the whole inspection.
 */
int crpc_inspect_tree(pid_t pid, unsigned flags, crpc_inspect_result **result, crpc_error **err);

/** Free a result (NULL is fine). */
void crpc_inspect_free(crpc_inspect_result *r);

/** Name of how a mount is handled: "recreated", "external", "unsupported". */
const char *crpc_ns_mount_how_name(crpc_ns_mount_how h);

/** Stable name of an fd type ("tcp", "pipe", ...). */
const char *crpc_fd_type_name(crpc_fd_type t);

/** Stable name of a peer location ("inside", "outside", ...). */
const char *crpc_peer_name(crpc_peer p);

/** Name of a namespace type as in /proc/PID/ns ("net", "pid_for_children", ...). */
const char *crpc_ns_type_name(crpc_ns_type t);

/** Kernel name of a TCP state number ("ESTABLISHED", "LISTEN", ...), "?" if unknown. */
const char *crpc_tcp_state_name(int state);

/** Name of a socket type ("stream", "dgram", "seqpacket", "raw", ...). */
const char *crpc_sock_type_name(int sock_type);

/* ---- the verdict ----------------------------------------------------------- */

/** Kind of a verdict value. */
typedef enum crpc_value_kind {
	CRPC_VALUE_BOOL = 0,
	CRPC_VALUE_UINT,
	CRPC_VALUE_STRING,
} crpc_value_kind;

/**
 * One entry of a verdict: an option (name is the CRIU RPC option name,
 * e.g. "tcp_established", "ghost_limit", "external"), a blocker or a
 * warning (name is a stable identifier such as "zombie-root"; see
 * docs/crpc.1 for the list). `pid` and `fd` point at the first cause
 * (0 and -1 when none).
 */
typedef struct crpc_verdict_item {
	char *name;
	crpc_value_kind kind; /**< options only */
	bool b;
	uint64_t u;
	char *s;
	char *reason; /**< one line, for humans */
	pid_t pid;
	int fd;
} crpc_verdict_item;

/** A verdict. Free with crpc_verdict_release(). */
typedef struct crpc_verdict {
	crpc_verdict_item *options;
	size_t n_options;
	crpc_verdict_item *blockers;
	size_t n_blockers;
	crpc_verdict_item *warnings;
	size_t n_warnings;
} crpc_verdict;

/**
 * Work out from r which CRIU options a dump of the tree needs, what blocks
 * it, and what is worth a warning. *v is overwritten (no need to initialise
 * it). -1 only on ENOMEM.
 */
int crpc_inspect_verdict(const crpc_inspect_result *r, crpc_verdict *v, crpc_error **err);

/** Free what a verdict holds and empty it. */
void crpc_verdict_release(crpc_verdict *v);

/** Render an option's value as text ("true", "10485760", "unix[123]") into buf. */
void crpc_verdict_value_str(const crpc_verdict_item *it, char *buf, size_t bufsz);

/* ---- applying it ------------------------------------------------------------ */

/** Who set an option in effect. */
typedef enum crpc_opt_source {
	CRPC_OPT_SOURCE_USER = 0, /**< the command line (or the library caller) */
	CRPC_OPT_SOURCE_CONFIG,   /**< the configuration file */
	CRPC_OPT_SOURCE_AUTO,     /**< the inspection */
} crpc_opt_source;

/** Name of a source: "user", "config", "auto". */
const char *crpc_opt_source_name(crpc_opt_source s);

/** One option in effect and why. */
typedef struct crpc_opt_reason {
	char *option; /**< CRIU RPC option name */
	char *value;  /**< as text: "true", "10485760", "unix[123]" */
	char *reason; /**< why it is set ("given on the command line", inspection's reason, ...) */
	crpc_opt_source source;
	bool overrides; /**< user/config value kept where the inspection wanted another */
} crpc_opt_reason;

/** The options in effect with their reasons (e.g. for a checkpoint's manifest). */
typedef struct crpc_opt_reasons {
	crpc_opt_reason *v;
	size_t n;
} crpc_opt_reasons;

/** Free the entries and empty the list. */
void crpc_opt_reasons_release(crpc_opt_reasons *l);

/**
 * Add the options of verdict v to `effective` (the request's options, where
 * the caller's own ones are already set) and list every inspected option in
 * effect with its source in *reasons (may be NULL; entries are appended).
 *
 * `user` and `config` (either may be NULL) are the options as given on the
 * command line and by the configuration file, before they were merged into
 * `effective`; they only tell where an option came from. Options that are
 * already set win over the automatic ones: a flag already on stays on, a
 * ghost_limit already set is kept even when smaller than needed (noted in the
 * reason), tcp_close set means tcp_established is not added, and an
 * `external` entry already given is not added twice.
 *
 * The strings added to effective->external point into v: v must outlive
 * effective. -1 only on ENOMEM.
 */
int crpc_inspect_apply(const crpc_verdict *v, const crpc_opts *user, const crpc_opts *config,
		       crpc_opts *effective, crpc_opt_reasons *reasons, crpc_error **err);

/* ---- one task ---- */

/** What /proc says of one task: for the checks made before a process is touched. */
typedef struct crpc_task_status {
	pid_t pid;
	pid_t tgid; /**< the process it belongs to (differs from pid for a thread) */
	pid_t ppid, pgid, sid;
	char state;         /**< as in /proc/PID/stat: 'R', 'S', 'D', 'T', 't', 'Z', 'X', ... */
	bool kernel_thread; /**< a kernel thread (PF_KTHREAD), not a user process */
	char comm[64];
} crpc_task_status;

/**
 * Read /proc/PID/stat and /proc/PID/status into *st. -1 with errno
 * (ENOENT or ESRCH: there is no such task; EINVAL: /proc said something
 * unreadable).
 */
int crpc_task_status_read(pid_t pid, crpc_task_status *st);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_INSPECT_H */
