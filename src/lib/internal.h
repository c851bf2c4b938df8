/* SPDX-License-Identifier: MIT */
/*
 * internal.h - libcrpc's private declarations, shared by its sources and
 * its unit tests. Nothing here is installed.
 */
#ifndef CRPC_INTERNAL_H
#define CRPC_INTERNAL_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crpc/crpc.h"
#include "rpc.pb-c.h"
#include "timing.h"

#define CRPC_API __attribute__((visibility("default")))

/* ---- cleanup helpers (crun style) ---- */
static inline void crpc__freep(void *p)
{
	free(*(void **)p);
}
static inline void crpc__closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}
#define cleanup_free __attribute__((cleanup(crpc__freep)))
#define cleanup_close __attribute__((cleanup(crpc__closep)))

/*
 * The name of enum value v in a table of names indexed by value
 * (designated initialisers), or dflt for a value the table has no name for.
 */
#define ENUM_NAME(table, v, dflt)                                                               \
	((unsigned long)(v) < sizeof(table) / sizeof((table)[0]) && (table)[(unsigned long)(v)] \
		 ? (table)[(unsigned long)(v)]                                                  \
		 : (dflt))

/* ---- message framing (swrk.c) ---- */

/* Result of crpc__msg_recv() besides errors. */
#define CRPC__RECV_OK 0
#define CRPC__RECV_EOF 1

/* Send one packed message as one SOCK_SEQPACKET record (EINTR-safe). */
int crpc__msg_send(int sk, const uint8_t *buf, size_t len, crpc_error **err);

/*
 * Receive one record. Its size is read first with MSG_PEEK|MSG_TRUNC and a
 * record larger than `max` is consumed and refused. At most one fd passed
 * with SCM_RIGHTS is returned in *fd (O_CLOEXEC), extra ones are closed;
 * *fd is -1 if none. Returns CRPC__RECV_OK with a malloc'ed *buf, CRPC__RECV_EOF
 * on a zero-length record or closed peer, -1 on error.
 */
int crpc__msg_recv(int sk, size_t max, uint8_t **buf, size_t *len, int *fd, crpc_error **err);

/* ---- records and the worker process (swrk.c, shim.c) ---- */

/* Most fds crpc__record_recv() takes from one record. */
#define CRPC__RECORD_MAX_FDS 16

/* One SOCK_SEQPACKET record and the fds passed with it. */
typedef struct crpc__record {
	uint8_t *buf;                  /* the payload (malloc'ed) */
	size_t len;                    /* its length; after EMSGSIZE or EBADMSG the record's size */
	size_t got;                    /* after EBADMSG: the bytes that arrived */
	bool ctrunc;                   /* after EBADMSG: some of its fds were cut */
	int fds[CRPC__RECORD_MAX_FDS]; /* O_CLOEXEC */
	size_t nfds;
} crpc__record;

/*
 * Receive one record whole into r, its size peeked first, with up to
 * max_fds (at most CRPC__RECORD_MAX_FDS) of the fds passed with it; any
 * further fds are closed. Returns CRPC__RECV_OK (r holds the record),
 * CRPC__RECV_EOF (the peer closed or reset, or an empty record), or -1 with
 * errno: EMSGSIZE (larger than max: consumed and dropped), EBADMSG (cut
 * short), ENOMEM, or recv's. Only with CRPC__RECV_OK does r hold anything.
 */
int crpc__record_recv(int sk, size_t max, size_t max_fds, crpc__record *r);
/* Free r's payload and close its fds. */
void crpc__record_release(crpc__record *r);

/*
 * Send one record of len bytes (0: an empty record, which the peer reads
 * as EOF) with nfds fds (at most CRPC__RECORD_MAX_FDS) as SCM_RIGHTS. A
 * record too large for the send buffer grows the buffer once. 0, or -1
 * with errno.
 */
int crpc__record_send(int sk, const uint8_t *buf, size_t len, const int *fds, size_t nfds);

/* A VERSION reply's version as crpc_version (code: major*10000 + minor*100 + sublevel). */
void crpc__version_from_rpc(const CriuVersion *v, crpc_version *out);

/* How crpc__spawn() sets its child up. */
typedef struct crpc__spawn_how {
	int keep_fd;        /* inherited at its number (close-on-exec cleared there); -1: none */
	int out_fd;         /* the child's stdout and stderr; -1: ours */
	bool clean_signals; /* an empty signal mask, and the signals crpc ignores back to default */
} crpc__spawn_how;

/*
 * Start path with argv and envp (NULL: this environment) as `how` says,
 * with posix_spawn(): no copy of crpc's address space, the caller waits
 * only for the exec. Handlers crpc installed are the default again in the
 * child, as after any exec. The child's pid, or -1 with errno and *failed
 * naming the step: "setup", or "exec" when path could not be executed
 * (errno says why; no child is left).
 */
pid_t crpc__spawn(const char *path, char *const argv[], char *const envp[], const crpc__spawn_how *how,
		  const char **failed);

/*
 * Look for an executable regular file named criu in the directories of
 * $PATH (a usual list when it is unset), passing over those for which
 * skip(path) (if given) is true. true with its path in buf.
 */
bool crpc__criu_search_path(char *buf, size_t bufsz, bool (*skip)(const char *path));

/* ---- options (opts.c) ---- */

/* Fill a CriuOpts (already initialised) from o; strings point into o. */
int crpc__opts_to_wire(const crpc_opts *o, CriuOpts *w, crpc_error **err);
/* Free what crpc__opts_to_wire() allocated (arrays, not strings). */
void crpc__opts_wire_release(CriuOpts *w);

/*
 * The options of crpc_opts as data, one entry per row of CRPC_OPTS_TABLE
 * (crpc/opts_table.h), in its order: what the configuration, the manifest
 * and the inspection look options up in.
 */
enum opt_kind {
	OPTK_BOOL,
	OPTK_SIZE,
	OPTK_U32,
	OPTK_LEVEL,
	OPTK_STR,
	OPTK_STRV,
	OPTK_EXTERNAL,
	OPTK_CGMODE,
	OPTK_NETLOCK,
	OPTK_INHERIT_FD,
	OPTK_CG_ROOT,
};

/* How the configuration spells a value (config_schema.c parses them). */
enum opt_yaml {
	OT_NONE,
	OT_BOOL,
	OT_STR,
	OT_STRV,
	OT_SIZE,
	OT_LOG_LEVEL,
	OT_LOG_FILE,
	OT_DURATION,
	OT_CG_MODE,
	OT_NETLOCK,
	OT_EMPTY_NS,
	OT_EXTERNAL,
	OT_INHERIT_FD,
	OT_CG_ROOT,
};

/* The sections an option is a key of. */
#define OP_DUMP 1u
#define OP_RESTORE 2u
#define OP_BOTH (OP_DUMP | OP_RESTORE)

/* What a restore does with each option of the dump (manifest_restore.c). */
enum restore_kind {
	RK_BOOL,        /* the same flag at the restore */
	RK_TCP,         /* tcp_established / tcp_close: one group */
	RK_CGROUPS,     /* manage_cgroups and manage_cgroups_mode: one group */
	RK_NETLOCK,     /* the same method unlocks what it locked */
	RK_EMPTY_NS,    /* namespaces the dump left empty are created empty */
	RK_EXTERNAL,    /* given back by the user, in the restore's form */
	RK_FD,          /* a descriptor given to the dump: the restore needs its own */
	RK_RESTORE_OWN, /* the restore has its own (log) */
	RK_DUMP_ONLY,   /* means nothing at a restore */
};

struct opt_desc {
	const char *name; /* first: cfg_closest() reads the entries' names */
	enum opt_kind kind;
	enum opt_yaml yaml;
	unsigned ops;          /* OP_*, 0: not a key of the configuration */
	unsigned flags;        /* CRPC_OPTF_* */
	int since;             /* 0, or the CRIU version the option needs ... */
	const char *gate_name; /* ... spelt so ... */
	int gate_value;        /* ... when its value is this (see opt_value()) */
	enum restore_kind restore;
	size_t off;     /* offsetof(crpc_opts, field) */
	size_t off_set; /* OPTK_SIZE: offsetof(crpc_opts, field_set) */
};

extern const struct opt_desc opt_descs[];
extern const size_t n_opt_descs;

/* The entry of option `name`, or NULL. */
const struct opt_desc *opt_desc_find(const char *name);

/* The value of a BOOL, U32, LEVEL, CGMODE or NETLOCK option as an int (else 0). */
int opt_value(const struct opt_desc *d, const crpc_opts *o);

/* ---- errors (error.c) ---- */

/* Record CRIU's own errno and message (copied) in e. */
void crpc__error_set_criu(crpc_error *e, int cr_errno, const char *cr_errmsg);

/* Give e the excerpt (taken over, freed on failure) and where it came from. */
void crpc__error_take_excerpt(crpc_error *e, char *excerpt, const char *source);

/* ---- misc (util.c) ---- */

/* Monotonic time in seconds. */
double crpc__now(void);

/* How crpc__thread_start() starts a thread. */
enum {
	/*
	 * The thread is on the critical path (CRIU's start, a sync): the
	 * caller yields its CPU once, since the scheduler often queues a new
	 * thread behind its busy creator for 2-3 ms before moving it to the
	 * other CPU.
	 */
	CRPC__THREAD_URGENT = 1,
	/*
	 * Work beside CRIU's that nobody waits for soon (a scan of /proc):
	 * SCHED_IDLE from its start, it takes only a CPU that neither CRIU nor
	 * crpc's other threads want. Its creation may still cost the caller
	 * the CPU for a moment: started where the caller waits anyway.
	 */
	CRPC__THREAD_BACKGROUND = 2,
};

/*
 * pthread_create() of a thread with every signal blocked, so that signals
 * meant for the process (SIGCHLD, SIGTERM, ... waited for with
 * sigwaitinfo() by a restore's wait) never land in a helper thread;
 * flags: CRPC__THREAD_*. 0 or an errno value.
 */
int crpc__thread_start(pthread_t *t, void *(*fn)(void *), void *arg, unsigned flags);

/*
 * The calling thread to SCHED_IDLE for the rest of its life (best effort),
 * giving up the CPU once, since the change alone lets it run on.
 */
void crpc__thread_background(void);

/*
 * Public structs a caller fills in and hands to the library begin with
 * `size_t size`, which their init function sets to the sizeof the caller
 * was compiled with. crpc__sized_take() copies such a struct: `dst`
 * (dst_size bytes) holds this version's defaults, the first
 * min(src->size, dst_size) bytes of src go over them, and dst's size
 * becomes dst_size, so members an older caller does not know keep their
 * defaults. A size below `min_size`, the end of the struct's first
 * version (CRPC__END_OF), means it was not initialised: EINVAL naming
 * `init`, under `operation`.
 */
/* n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void crpc__hex_encode(const uint8_t *in, size_t n, char *out);

int crpc__sized_take(void *dst, size_t dst_size, const void *src, size_t min_size, const char *operation,
		     const char *init, crpc_error **err);
#define CRPC__END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
/*
 * Read the whole regular file dirfd/name (symlinks not followed, FIFOs never
 * waited on) into a malloc'ed *data followed by a NUL, refusing more than
 * max bytes. -1 with
 * errno: ENOENT missing, EFBIG too large, EINVAL not a regular file (images.c).
 */
int crpc__read_whole_at(int dirfd, const char *name, size_t max, uint8_t **data, size_t *size);
/* Read a whole small file at dirfd/name, at most max bytes (+NUL). */
int crpc__read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len, crpc_error **err);
/* A malloc'ed formatted string, NULL on ENOMEM. */
char *crpc__strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *crpc__strdup_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/*
 * Append s (taken over; NULL fails) to the list *v of *n strings, which is
 * kept NULL-terminated. 0, or -1 (ENOMEM) with s freed and the list as it was.
 */
int crpc__strv_push(char ***v, size_t *n, char *s);
/* What the ownership rule says of a file or directory (crpc__owner_check()). */
typedef enum crpc__owner_verdict {
	CRPC__OWNER_OK = 0,
	CRPC__OWNER_FOREIGN,  /* it belongs to neither root, the caller nor the user also trusted */
	CRPC__OWNER_WRITABLE, /* its group or others can write it */
} crpc__owner_verdict;
/*
 * The one rule for what crpc trusts as root (sshd's StrictModes, as sudo
 * has it too): st belongs to root, to the caller (effective uid) or to
 * also_trusted ((uid_t)-1: nobody else), and neither its group nor others
 * can write it. The owner is looked at first. Each caller words the refusal
 * its own way; crpc__writable_by() names who can write.
 */
crpc__owner_verdict crpc__owner_check(const struct stat *st, uid_t also_trusted);
/* "others" when others can write st, else "its group". */
const char *crpc__writable_by(const struct stat *st);
/* A user for a message: "NAME (uid UID)", or "uid UID" when it has no name. */
void crpc__user_name(uid_t uid, char *buf, size_t size);
/*
 * Open dirfd/name for writing as a private file of the caller, whoever could
 * write the directory it is in: created with mode 0600 when it does not
 * exist (O_EXCL); an existing one must be a regular file (not a symlink, a
 * FIFO or a block device) with a single link, owned by the caller, and is
 * then truncated (unless append) and made 0600; a character device (e.g.
 * /dev/null) is written as it is. Returns the fd (close-on-exec),
 * or -1 with err saying what was refused, what: "trace file", "hooks.log".
 */
int util_open_private(int dirfd, const char *name, bool append, const char *op, const char *what,
		      crpc_error **err);
/*
 * Open the directory path as one only the caller (or root) can change: not a
 * symlink, owned by the caller or root, not writable by group or others.
 * Returns the fd or -1 with err set.
 */
int util_open_private_dir(const char *path, const char *op, const char *what, crpc_error **err);
/* crpc_trace_open() of path relative to dirfd (trace.c). */
int trace_open_at(crpc_trace **out, int dirfd, const char *path, const crpc_trace_header *hdr,
		  crpc_error **err);
/* Describe a wait status: "exited with status 1", "killed by signal 9 (SIGKILL)". */
void crpc__wait_status_str(int status, char *buf, size_t bufsz);
/* Command name of a pid from /proc/PID/comm (buf gets "?" if unknown). */
void crpc__proc_comm(pid_t pid, char *buf, size_t bufsz);

/* inspect/inspect_ns.c: free what a crpc_ns_tree holds and empty it. */
void crpc__ns_tree_free(crpc_ns_tree *t);
/* State letter of a pid from /proc/PID/stat, 0 if the pid does not exist. */
char crpc__proc_state(pid_t pid);

/* ---- /proc text (mountinfo.c) ---- */

/*
 * The next line of NUL-terminated, newline-separated text: *line and *len
 * (without the newline), *cur moved past it. false at the end.
 */
bool crpc__line_next(const char **cur, const char **line, size_t *len);

/*
 * One line of /proc/PID/mountinfo: its numbers and fields, each string
 * NUL-terminated with the kernel's \ooo escapes (a blank is \040)
 * decoded, all in the one allocation buf.
 */
typedef struct crpc__mount {
	int id, parent;
	unsigned major, minor;
	const char *root;       /* the directory of the file system mounted here */
	const char *mountpoint; /* in the reader's root */
	const char *options;    /* the mount's own */
	const char *fstype;
	const char *source;
	const char *super; /* the super block's options */
	char *buf;
} crpc__mount;

/* Parse the line [line, line + len) (a newline at its end is ignored). 0, or -1 (EINVAL, ENOMEM). */
int crpc__mountinfo_parse(const char *line, size_t len, crpc__mount *m);
/* Free what crpc__mountinfo_parse() gave m and empty it. */
void crpc__mount_free(crpc__mount *m);

/* ---- protobuf-c descriptor helpers (util.c) ---- */

/* Size of one element of a repeated field of this type (0 if unknown). */
size_t crpc__pb_elem_size(ProtobufCType type);

/* A value of a numeric field, as crpc__pb_number() read it. */
typedef struct crpc__pb_num {
	enum {
		CRPC__PB_SIGNED,
		CRPC__PB_UNSIGNED,
		CRPC__PB_REAL,
		CRPC__PB_BOOL
	} kind;
	int64_t i;  /* CRPC__PB_SIGNED (enums too), CRPC__PB_BOOL (0 or 1) */
	uint64_t u; /* CRPC__PB_UNSIGNED */
	double d;   /* CRPC__PB_REAL */
} crpc__pb_num;
/*
 * Read the value of field f stored at p when its type is a number: the
 * integers, float and double, bool, enum (its number). false for strings,
 * bytes and messages.
 */
bool crpc__pb_number(const ProtobufCFieldDescriptor *f, const void *p, crpc__pb_num *out);
/*
 * Is the non-repeated field f set in the message at base? Oneof members by
 * their case, strings and messages by a non-NULL pointer (an optional string
 * left at its default counts as unset), optional scalars by has_*; required
 * fields and proto3 fields without presence always count as set.
 */
bool crpc__pb_field_present(const ProtobufCFieldDescriptor *f, const char *base);

/* ---- growable arrays ---- */

/*
 * Resize the array arr to n elements (n > 0), the size overflow-checked.
 * 0, or -1 with errno ENOMEM and arr untouched. Macros, so that the realloc
 * is typed: the static analyzer then follows what the array owns.
 */
#define ARRAY_RESIZE(arr, n)                                             \
	__extension__({                                                  \
		size_t ar_n_ = (n);                                      \
		__typeof__(arr) ar_np_ = NULL;                           \
		if (ar_n_ <= SIZE_MAX / sizeof(*(arr)))                  \
			ar_np_ = realloc((arr), ar_n_ * sizeof(*(arr))); \
		if (ar_np_)                                              \
			(arr) = ar_np_;                                  \
		else                                                     \
			errno = ENOMEM;                                  \
		ar_np_ ? 0 : -1;                                         \
	})

/*
 * Make room in arr (capacity *capp elements) for at least need elements:
 * the capacity doubles, from first (> 0) when it is 0. 0, or -1 with errno
 * ENOMEM and arr and *capp untouched. New elements are not initialised.
 */
#define ARRAY_GROW(arr, capp, need, first)                                  \
	__extension__({                                                     \
		size_t ag_need_ = (need), ag_nc_ = *(capp);                 \
		int ag_rc_ = 0;                                             \
		if (ag_need_ > ag_nc_) {                                    \
			if (!ag_nc_)                                        \
				ag_nc_ = (first);                           \
			while (ag_nc_ < ag_need_ && ag_nc_ <= SIZE_MAX / 2) \
				ag_nc_ *= 2;                                \
			if (ag_nc_ < ag_need_)                              \
				ag_nc_ = ag_need_;                          \
			ag_rc_ = ARRAY_RESIZE(arr, ag_nc_);                 \
			if (!ag_rc_)                                        \
				*(capp) = ag_nc_;                           \
		}                                                           \
		ag_rc_;                                                     \
	})

/* ---- a growable buffer (io.c) ---- */

/*
 * Bytes that grow: data holds len bytes and a NUL after them (data is NULL
 * while nothing was added). Start from { 0 }; free with crpc__buf_release().
 */
typedef struct crpc__buf {
	char *data;
	size_t len;
	size_t cap;
} crpc__buf;
/* Make room for extra more bytes (and the NUL). 0, or -1 with errno ENOMEM, b as it was. */
int crpc__buf_reserve(crpc__buf *b, size_t extra);
/* Append n bytes of p. 0, or -1 with errno ENOMEM, b as it was. */
int crpc__buf_add(crpc__buf *b, const void *p, size_t n);
/* Free what b holds; b is empty again. */
void crpc__buf_release(crpc__buf *b);
/*
 * Append what fd has to read until its end, bounded: b->len stays at most
 * max. What lies past max is left unread (truncate: 1 is returned) or fails
 * (-1 with errno EFBIG). 0 at the end, -1 with errno on a read error or
 * ENOMEM; b keeps what was read either way.
 */
int crpc__buf_read_fd(crpc__buf *b, int fd, size_t max, bool truncate);

/* ---- I/O retried on EINTR (io.c) ---- */

/* openat() retried while a signal interrupts it (the mode follows O_CREAT). */
int io_openat(int dirfd, const char *name, int flags, ...);
/*
 * A directory stream of dirfd/name of its own (name "." reads dirfd without
 * moving dirfd's offset), close-on-exec. NULL with errno.
 */
DIR *io_opendir_at(int dirfd, const char *name);
/*
 * Open the regular file dirfd/name for reading: symlinks not followed and
 * never waited on (a FIFO), close-on-exec; *st (st may be NULL) gets its
 * stat. -1 with errno, EINVAL when it is a symlink or not a regular file.
 */
int io_open_regular_at(int dirfd, const char *name, struct stat *st);

/* waitpid(), retried while a signal interrupts it. */
pid_t io_waitpid(pid_t pid, int *status, int options);
/* One read(), retried while a signal interrupts it. */
ssize_t io_read(int fd, void *buf, size_t len);
/* Read until len bytes or EOF: the bytes read, or -1 with errno. */
ssize_t io_read_full(int fd, void *buf, size_t len);
/* io_read_full() with pread() from offset off. */
ssize_t io_pread_full(int fd, void *buf, size_t len, off_t off);
/* Write all of buf: 0, or -1 with errno (EIO when a write wrote nothing). */
int io_write_full(int fd, const void *buf, size_t len);

/*
 * The buffer files are read through to be hashed (the manifest, the
 * hash-ahead thread, the late verification): IO_HASH_BUF bytes. A 1 GiB
 * dump hashed through it is no slower than through 1 MiB, and a small
 * checkpoint maps less (docs/benchmarks.md).
 */
#define IO_HASH_BUF (256u << 10)
/*
 * A buffer of IO_HASH_BUF bytes with its pages mapped up front: one
 * mmap(MAP_POPULATE) costs far less than a page fault per page on first
 * use, about 12 us each on the benchmark's VM (docs/benchmarks.md). NULL
 * with errno.
 */
void *io_hash_buffer_new(void);
void io_hash_buffer_free(void *buf);

/* ---- the session (swrk.c, rpc.c) ---- */
struct crpc_session {
	int sk;          /* our end of the socketpair */
	int out_fd;      /* memfd holding CRIU's stdout and stderr */
	pid_t criu_pid;  /* the swrk worker, 0 once reaped */
	int criu_status; /* its wait status once reaped */
	bool reaped;
	bool worker_done; /* the worker ended (after a one-shot request) */
	char *criu_path;
	crpc_version version;
	crpc_message_fn on_message;
	void *on_message_data;
	unsigned timeout_ms;  /* per request, 0: none */
	int criu_pidfd;       /* pidfd of the worker (-1 without pidfds): its death wakes a wait */
	uint64_t criu_sk_ino; /* inode of CRIU's end of the socketpair */
};

/*
 * After the worker died: SIGKILL every process still holding CRIU's end of
 * the socketpair (a child CRIU started, stopped or traced, would keep the
 * socket from reading EOF forever). Writes up to max of their PIDs to pids;
 * returns how many there were.
 */
size_t swrk_end_leftovers(const crpc_session *s, pid_t *pids, size_t max);

/*
 * When e has no log excerpt yet, give it the lines of CRIU's own output
 * (stdout/stderr, captured by the session) that explain the failure.
 */
void crpc__session_attach_output(const crpc_session *s, crpc_error *e);

/* Wait for the worker to exit, at most timeout_ms, then SIGKILL it. */
void crpc__session_reap(crpc_session *s, unsigned timeout_ms);

/*
 * Send req and read replies until the one that is not a notification,
 * answering every notification through d (NULL: acknowledge them all).
 * On EOF the worker is reaped and its fate reported.
 */
int crpc__session_call(crpc_session *s, const CriuReq *req, crpc_dispatcher *d, const char *op,
		       unsigned *n_notify, CriuResp **out, crpc_error **err);

#endif /* CRPC_INTERNAL_H */
