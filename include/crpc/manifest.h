/* SPDX-License-Identifier: MIT */
/*
 * crpc/manifest.h - complete, verifiable checkpoints.
 *
 * A dump becomes a checkpoint only once CRIU reported success and the
 * post-dump hooks passed: then crpc writes a manifest, `crpc.json`, into the
 * images directory. It records who made the checkpoint (crpc and CRIU
 * versions, kernel, time), how (the options in effect and why each is set),
 * what it holds (the process tree, every file with its size and digest,
 * BLAKE3 by default or SHA-256 (crpc_digest), CRIU's statistics). The
 * manifest is written last and atomically (a temporary file fsync'ed and
 * renamed), after the data of every image file reached the disk (an
 * fdatasync of each file and an fsync of the directory), so a directory
 * holding `crpc.json` holds a whole checkpoint.
 *
 * A dump into a directory that does not exist yet runs in a temporary
 * sibling, `DIR.crpc-tmp-XXXXXX`, renamed to DIR once the manifest is
 * written: DIR appears complete or not at all. A dump into an existing
 * directory (an empty one, a mount point, or an old checkpoint replaced
 * with --force) writes in place, with the in-progress marker
 * (CRPC_INPROGRESS_MARKER) present and no `crpc.json` until it completes.
 * Either way a dump that fails or is killed (SIGKILL included) leaves
 * nothing crpc_manifest_verify() accepts.
 *
 * Checksums detect damaged, truncated, partly copied or edited checkpoints;
 * they are not a signature (whoever can write the images can rewrite the
 * manifest too). The manifest also records the digest of its own content
 * ("manifest_blake3", or "manifest_sha256" for SHA-256 files; see
 * crpc_manifest_verify()), since a restore takes
 * options from it: an edit of crpc.json itself is refused like an edit of
 * an image.
 *
 * A restore reads back what the dump recorded (crpc_manifest_load()):
 * the options the dump ran with, of which it applies the restore-side
 * counterparts (crpc_manifest_restore_opts()), and the pipes the tree
 * shared with processes outside it, which it gives back to the restored
 * tree when those processes still hold them (crpc_manifest_reattach_pipes()).
 */
#ifndef CRPC_MANIFEST_H
#define CRPC_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crpc/error.h"
#include "crpc/inspect.h"
#include "crpc/opts.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Name of the manifest inside a checkpoint directory. */
#define CRPC_MANIFEST_NAME "crpc.json"
/** Value of the manifest's "format" key. */
#define CRPC_MANIFEST_FORMAT "crpc-checkpoint"
/**
 * Version of the manifest's layout this libcrpc writes (it reads every
 * version up to it). Version 2 names the files' digest ("digest"); version
 * 1 has SHA-256 only.
 */
#define CRPC_MANIFEST_VERSION 2

/**
 * The digest of every file a manifest lists. Both are 256 bits, written as
 * 64 lowercase hex digits under the algorithm's name ("blake3": ... or
 * "sha256": ...), the same digits as b3sum and sha256sum print.
 */
typedef enum crpc_digest {
	CRPC_DIGEST_DEFAULT = 0, /**< the configuration's integrity: digest, else BLAKE3 */
	CRPC_DIGEST_BLAKE3,      /**< BLAKE3 (more than twice as fast as SHA-256 here) */
	CRPC_DIGEST_SHA256,      /**< SHA-256 */
} crpc_digest;

/** "blake3", "sha256" (CRPC_DIGEST_DEFAULT: "blake3"); NULL for a value out of range. */
const char *crpc_digest_name(crpc_digest d);

/** The digest of that name ("blake3", "sha256"). -1 for another name. */
int crpc_digest_parse(const char *name, crpc_digest *out);
/** Infix of the temporary sibling a dump into a new directory runs in. */
#define CRPC_DUMPDIR_TMP_INFIX ".crpc-tmp-"

/** One option of a dump as the manifest records it. Strings are owned by the list. */
typedef struct crpc_manifest_option {
	char *option; /**< CRIU RPC field name, e.g. "tcp_established" */
	char *value;  /**< as text: "true", "10485760", "unix[123]" */
	char *source; /**< "user" (command line), "config" or "auto" */
	char *reason; /**< why it is set, NULL when none was given */
} crpc_manifest_option;

/** A list of options (see crpc_manifest_options_add()). */
typedef struct crpc_manifest_options {
	crpc_manifest_option *v;
	size_t n;
} crpc_manifest_options;

/**
 * Append an option (strings copied; value and reason may be NULL). An
 * option with the same name and value already in the list is not added
 * again. -1 on ENOMEM.
 */
int crpc_manifest_options_add(crpc_manifest_options *l, const char *option, const char *value,
			      const char *source, const char *reason, crpc_error **err);

/**
 * Append every option set in `eff` (the options a dump ran with) that the
 * list does not hold yet: source "config" when the configuration file's
 * section `config` (may be NULL) sets it too, else "user". Log level and
 * log file are included; the target pid and images fd are not.
 */
int crpc_manifest_options_from_opts(crpc_manifest_options *l, const crpc_opts *eff, const crpc_opts *config,
				    crpc_error **err);

/** Free the options and empty the list. */
void crpc_manifest_options_release(crpc_manifest_options *l);

/** What the caller knows about the dump; everything else is found in the directory. */
typedef struct crpc_manifest_info {
	pid_t pid;                /**< the dumped tree's root */
	const char *command;      /**< its command name (NULL: taken from the core image) */
	const char *criu_version; /**< "4.2.1" (NULL: unknown) */
	const char *criu_path;    /**< CRIU binary (NULL: unknown) */
	bool leave_running;
	const crpc_manifest_options *options; /**< may be NULL */
	/**
	 * Files recorded with kind "log" (NULL-terminated, may be NULL): files
	 * later operations may append to (the dump's log, hooks.log). Their
	 * size and checksum are recorded but not verified.
	 */
	const char *const *log_files;
	double criu_seconds; /**< how long CRIU took (0: unknown) */
	/**
	 * A container's dump: its record as a JSON object text (engine, its
	 * version, id, name, image, and what recreates it), written as
	 * "container" (NULL: none).
	 */
	const char *container_json;
	const crpc_ns_tree *ns; /**< the tree's own namespaces as inspected (NULL: not inspected) */
	/**
	 * When ns is NULL: the "namespaces" object as JSON text, as the dump
	 * recorded it before CRIU ran (crpc_checkpoint_recover()), or NULL.
	 */
	const char *namespaces_json;
	crpc_digest digest; /**< of the files (CRPC_DIGEST_DEFAULT: BLAKE3) */
} crpc_manifest_info;

/** Files and bytes hashed by a write or a verification, and how long it took. */
typedef struct crpc_manifest_stats {
	size_t files;
	uint64_t bytes;
	double hash_seconds; /**< reading and hashing */
	double sync_seconds; /**< syncing the files and the directory once CRIU answered, beside the hashing, and crpc.json (write only) */
	const char *digest;  /**< the files' digest, "blake3" or "sha256" (static; NULL: none yet) */
} crpc_manifest_stats;

/**
 * Write dirfd/crpc.json for the dump described by info: hash every regular
 * file of the directory (except the manifest and the in-progress marker),
 * sync them to disk, read the process tree and command names from the images and
 * CRIU's statistics from stats-dump (each omitted when absent: a dump that
 * wrote no images still gets a manifest), find the pipes of which the tree
 * held one end while other processes held them too ("outside_pipes": the
 * pipes of files.img, looked for in every other process's /proc/PID/fd;
 * call it once the dump is complete), record the manifest's own digest
 * ("manifest_blake3", "manifest_sha256" for SHA-256 files), write
 * crpc.json.tmp, fsync it, rename it to
 * crpc.json and fsync the directory. `st` may be NULL.
 */
int crpc_manifest_write(int dirfd, const crpc_manifest_info *info, crpc_manifest_stats *st, crpc_error **err);

/**
 * Read dirfd/crpc.json (bounded: 64 MiB) into a malloc'ed, NUL-terminated
 * string after checking it is a JSON object with this format. A missing
 * manifest fails with sys_errno ENOENT.
 */
int crpc_manifest_read(int dirfd, char **text, size_t *len, crpc_error **err);

/** What crpc_manifest_verify() found. */
typedef enum crpc_manifest_verdict {
	CRPC_MANIFEST_OK = 0,
	CRPC_MANIFEST_UNFINISHED,     /**< the in-progress marker is present */
	CRPC_MANIFEST_NOT_CHECKPOINT, /**< no crpc.json and no usable CRIU images either */
	CRPC_MANIFEST_MISSING,        /**< CRIU images but no crpc.json (e.g. a plain criu dump) */
	CRPC_MANIFEST_INVALID,        /**< crpc.json cannot be read, parsed, or is a newer format */
	CRPC_MANIFEST_MODIFIED,       /**< a file is missing, differs, or an image is not listed */
	CRPC_MANIFEST_UNTRUSTED,      /**< others could have written it (crpc_manifest_check_trust()) */
} crpc_manifest_verdict;

/** What is wrong with one file. */
typedef enum crpc_file_problem {
	CRPC_FILE_MISSING = 1, /**< listed, not there */
	CRPC_FILE_SIZE,        /**< another size than listed */
	CRPC_FILE_CHECKSUM,    /**< same size, another digest */
	CRPC_FILE_UNLISTED,    /**< an image file the manifest does not list */
	CRPC_FILE_UNREADABLE,  /**< not a regular file, or cannot be read */
} crpc_file_problem;

/** One file that does not match the manifest. */
typedef struct crpc_file_mismatch {
	crpc_file_problem problem;
	char name[256]; /**< the file's name in the directory */
	uint64_t expected_size, size;
	/**
	 * The digests, hex, empty when not known: of the manifest's algorithm
	 * (crpc_manifest_check.digest) despite the names, kept for
	 * compatibility; SHA-256 for crpc.json itself.
	 */
	char expected_sha256[65], sha256[65];
	int sys_errno; /**< CRPC_FILE_UNREADABLE */
} crpc_file_mismatch;

/** Result of a verification. Free with crpc_manifest_check_release(). */
typedef struct crpc_manifest_check {
	crpc_manifest_verdict verdict;
	crpc_manifest_stats st;         /**< files and bytes checked */
	crpc_file_mismatch *mismatches; /**< CRPC_MANIFEST_MODIFIED: every file found wrong */
	size_t n_mismatches;
	char *leftover;     /**< a DIR.crpc-tmp-* sibling left by a killed dump, or NULL */
	const char *digest; /**< the files' digest, "blake3" or "sha256" (static; NULL: not read) */
} crpc_manifest_check;

/**
 * Verify the checkpoint in dirfd (named dir_name in messages) against its
 * manifest: no in-progress marker, crpc.json present and of a known
 * format, every file it lists (except logs) present with the listed size
 * and digest (of the algorithm its "digest" names, SHA-256 when it names
 * none), no image file (*.img) it does not list, and crpc.json itself
 * unchanged: its "manifest_blake3" must be the BLAKE3 (its
 * "manifest_sha256", as older crpc wrote it, the SHA-256) of its content in
 * canonical form (the JSON object without those keys, compact, keys sorted,
 * ASCII only), so reformatting it does not count but changing a value does
 * (reported as a CRPC_FILE_CHECKSUM mismatch of CRPC_MANIFEST_NAME, after
 * the other files' problems; a manifest without the key, written by an
 * older crpc, is not checked). Files named in
 * `ignore` (NULL-terminated, may be NULL) are never reported as unlisted,
 * e.g. what a restore writes. A directory without crpc.json that is not a
 * checkpoint at all fails with crpc_images_check()'s message. Returns 0
 * when the checkpoint is whole; else -1 with an error (CRPC_EXIT_FAIL)
 * naming the first problem and a hint, and `out` (may be NULL) saying all.
 */
int crpc_manifest_verify(int dirfd, const char *dir_name, const char *const *ignore,
			 crpc_manifest_check *out, crpc_error **err);

/** Free what a verification allocated. */
void crpc_manifest_check_release(crpc_manifest_check *c);

/**
 * Whether the caller may trust what checkpoint directory dirfd (named
 * dir_name in messages) holds, before verifying or restoring it: the
 * directory and every entry in it must belong to root, to the caller or to
 * also_trusted ((uid_t)-1: nobody else), none may be writable by group or
 * others, and none may be a symbolic link. Whoever can change the images can
 * change crpc.json with them, so a checksum alone proves nothing about a
 * directory others can write. Returns 0, or -1 (CRPC_EXIT_FAIL) naming the
 * first entry and its owner or mode, with a hint.
 */
int crpc_manifest_check_trust(int dirfd, const char *dir_name, uid_t also_trusted, crpc_error **err);

/** Short name of a verdict: "ok", "unfinished", "not-checkpoint", "missing", "invalid", "modified", "untrusted". */
const char *crpc_manifest_verdict_name(crpc_manifest_verdict v);

/** Short name of a file problem: "missing", "size", "checksum", "unlisted", "unreadable". */
const char *crpc_file_problem_name(crpc_file_problem p);

/**
 * SHA-256 of the regular file dirfd/name (symlinks not followed), read in
 * bounded chunks: the size read into *size and the digest as 64 lowercase hex
 * digits into hex. With `sync`, the file is also fsync'ed.
 */
int crpc_sha256_file_at(int dirfd, const char *name, bool sync, uint64_t *size, char hex[65],
			crpc_error **err);

/** crpc_sha256_file_at() with the digest d (CRPC_DIGEST_DEFAULT: BLAKE3). */
int crpc_digest_file_at(int dirfd, const char *name, crpc_digest d, bool sync, uint64_t *size, char hex[65],
			crpc_error **err);

/* ---- signatures ---------------------------------------------------------- */

/**
 * Checksums show that a checkpoint is whole; a signature shows who made it.
 * A dump made with a signing key (an Ed25519 private key, PEM as `crpc key
 * generate` or `openssl genpkey -algorithm ed25519` write it) signs the
 * exact bytes of crpc.json, which lists the digest of every file and its
 * algorithm: the
 * signature, in CRPC_SIGNATURE_NAME next to it, is written before the dump
 * is complete (before the marker goes, before the rename into place). A
 * restore or `crpc show --verify` checks it against the public keys of a
 * trusted directory (`NAME.pub`, the signer is then called NAME) after
 * checking every file against crpc.json. A signature does not replace the
 * ownership rule of crpc_manifest_check_trust(): a directory others can
 * write can change after it was verified.
 */

/** Name of the signature of crpc.json inside a checkpoint directory. */
#define CRPC_SIGNATURE_NAME "crpc.json.sig"
/** Value of the signature file's "format" key. */
#define CRPC_SIGNATURE_FORMAT "crpc-signature"
/** The signing key a dump uses when none is named and it exists. */
#define CRPC_SIGNING_KEY_DEFAULT "/etc/crpc/signing-key"
/** The directory of trusted public keys when none is named. */
#define CRPC_TRUSTED_KEYS_DEFAULT "/etc/crpc/trusted-keys"

/** A private key to sign checkpoints with. */
typedef struct crpc_signing_key crpc_signing_key;

/**
 * Generate an Ed25519 key pair: the private key into private_path (PEM
 * PKCS#8, created with O_EXCL and mode 0600: an existing file is never
 * overwritten) and the public key into private_path + ".pub" (mode 0644,
 * O_EXCL too). fingerprint (may be NULL) gets the public key's SHA-256 in
 * hex, as signatures name it. Nothing is left behind on failure.
 */
int crpc_key_generate(const char *private_path, char fingerprint[65], crpc_error **err);

/**
 * Load a signing key. The file must be a regular file (not a symbolic
 * link) of root or the caller that nobody else may read or write (mode
 * 0600 or 0400), in a directory of root or the caller that neither group
 * nor others may write. Errors name the file and what is wrong
 * (CRPC_EXIT_FAIL; ENOENT when it does not exist).
 */
int crpc_signing_key_load(const char *path, crpc_signing_key **out, crpc_error **err);

/** The SHA-256 of the key's public half, 64 hex digits. */
const char *crpc_signing_key_fingerprint(const crpc_signing_key *k);

/** Free a key (NULL is fine). */
void crpc_signing_key_free(crpc_signing_key *k);

/**
 * Sign dirfd/crpc.json: write CRPC_SIGNATURE_NAME (a temporary file,
 * fsync'ed and renamed; mode 0600) naming the key by its fingerprint.
 */
int crpc_manifest_sign(int dirfd, const crpc_signing_key *k, crpc_error **err);

/** What crpc_manifest_check_signature() found. */
typedef enum crpc_signature_verdict {
	CRPC_SIGNATURE_NONE = 0,    /**< not signed (no CRPC_SIGNATURE_NAME) */
	CRPC_SIGNATURE_VALID,       /**< signed by a trusted key, and it matches */
	CRPC_SIGNATURE_UNKNOWN_KEY, /**< signed by a key not among the trusted ones */
	CRPC_SIGNATURE_BAD,         /**< damaged, or not the trusted key's signature of crpc.json */
} crpc_signature_verdict;

/** Outcome of a signature check. */
typedef struct crpc_signature_check {
	crpc_signature_verdict verdict;
	bool checked;        /**< the check ran */
	char key_sha256[65]; /**< the signing key's fingerprint ("" when not signed) */
	char signer[256];    /**< VALID: the trusted key's name (its file name without .pub) */
} crpc_signature_check;

/**
 * Check the signature of dirfd/crpc.json (dir_name names it in messages)
 * against the public keys in trusted_dir (NULL: CRPC_TRUSTED_KEYS_DEFAULT;
 * a directory that does not exist holds none). The directory and every
 * `*.pub` in it must belong to root or the caller and be writable by
 * nobody else, none a symbolic link, else the check fails naming it. A
 * BAD signature always fails; an unsigned checkpoint or an unknown key
 * fails only with `require`. *out (may be NULL) says what was found.
 * Call it after crpc_manifest_verify(): the signature covers the files
 * only through the checksums crpc.json lists. -1 with err (CRPC_EXIT_FAIL).
 */
int crpc_manifest_check_signature(int dirfd, const char *dir_name, const char *trusted_dir, bool require,
				  crpc_signature_check *out, crpc_error **err);

/** Short name of a verdict: "unsigned", "valid", "unknown-key", "bad". */
const char *crpc_signature_verdict_name(crpc_signature_verdict v);

/* ---- what a restore takes from the manifest --------------------------- */

/** A process outside the tree that held a pipe of the tree when the dump completed. */
typedef struct crpc_manifest_pipe_holder {
	pid_t pid;
	int fd;        /**< its descriptor of the pipe */
	bool writes;   /**< it held the write end (else the read end) */
	char comm[64]; /**< its command name, "" if unknown */
} crpc_manifest_pipe_holder;

/**
 * A pipe of which the tree held one end only while processes outside the
 * tree held it too (e.g. the tree's stdout read by `cat`). Found by the
 * manifest writer from files.img and /proc (the tree's own PIDs left out).
 */
typedef struct crpc_manifest_pipe {
	uint32_t inode;                     /**< pipe:[INODE], CRIU's inherit_fd key */
	bool tree_writes;                   /**< the tree held the write end (else the read end) */
	crpc_manifest_pipe_holder *holders; /**< those at the other end first */
	size_t n_holders;
} crpc_manifest_pipe;

/** A file of another mount namespace the tree held open ("namespaces"."external_files"). */
typedef struct crpc_manifest_ext_file {
	char *key;  /**< CRIU's name of it, "file[MNT:INODE]" */
	char *path; /**< where crpc opens it again at restore */
	unsigned flags;
	uint64_t dev, inode; /**< what it was: the file opened again must be the same */
} crpc_manifest_ext_file;

/** A veth of the tree whose other end was in crpc's network namespace ("namespaces"."veths"). */
typedef struct crpc_manifest_veth {
	char *name;       /**< the tree's end */
	char *peer;       /**< the other end's name */
	char *bridge;     /**< the bridge the other end was a port of, NULL if none */
	char *peer_addrs; /**< its IPv4 addresses, NULL if none */
} crpc_manifest_veth;

/** A mount of the tree bound at restore from crpc's namespace ("namespaces"."external_mounts"). */
typedef struct crpc_manifest_ext_mount {
	char *mountpoint;      /**< in the tree */
	char *source;          /**< where crpc's namespace showed the same directory at the dump */
	unsigned major, minor; /**< its file system's device */
} crpc_manifest_ext_mount;

/** The tree's own namespaces ("namespaces"), for the restore. */
typedef struct crpc_manifest_ns {
	unsigned own; /**< bit (1 << crpc_ns_type) per namespace the tree had of its own */
	char *root;   /**< the tree's root directory as crpc saw it */
	crpc_manifest_ext_mount *mounts;
	size_t n_mounts;
	crpc_manifest_ext_file *files;
	size_t n_files;
	crpc_manifest_veth *veths;
	size_t n_veths;
	int64_t userns_uid0; /**< a user namespace of its own: the uid outside of its uid 0, else -1 */
	int64_t userns_gid0; /**< likewise its gid 0 (the restored tasks read the images as it) */
} crpc_manifest_ns;

/** What a restore reads from crpc.json. Free with crpc_manifest_release(). */
typedef struct crpc_manifest {
	crpc_manifest_options options;     /**< the options the dump ran with ("options") */
	crpc_manifest_pipe *outside_pipes; /**< "outside_pipes" */
	size_t n_outside_pipes;
	crpc_manifest_ns ns; /**< "namespaces" (own == 0: the tree shared crpc's) */
} crpc_manifest;

/**
 * Read dirfd/crpc.json (see crpc_manifest_read()) into out: its options
 * (values as text: "true", "10485760", "unix[123]") and outside pipes.
 * Entries of the wrong shape are skipped. A missing manifest fails with
 * sys_errno ENOENT. Does not verify anything (crpc_manifest_verify() does).
 */
int crpc_manifest_load(int dirfd, crpc_manifest *out, crpc_error **err);

/** Free what crpc_manifest_load() allocated and empty m. */
void crpc_manifest_release(crpc_manifest *m);

/**
 * Apply to `o` (a restore's options, holding what the user set on the
 * command line and in the configuration) the restore-side counterparts of
 * the options the dump ran with: tcp_established, tcp_close, ext_unix_sk,
 * shell_job, file_locks, manage_cgroups (with its mode), network_lock and
 * empty_ns. An option the user set wins, and so does any user setting of
 * its group (tcp_established/tcp_close; manage_cgroups and its mode).
 * Every option applied is appended to `applied` (the dump's value, source
 * and reason); every other one of the dump to `not_applied` (may be NULL)
 * with, as its reason, why not: the user's own setting, a dump-only option
 * (ghost_limit, link_remap, ...), or an external resource, which the
 * restore needs given back (--inherit-fd, --external with the restore's
 * form). -1 only on ENOMEM.
 */
int crpc_manifest_restore_opts(const crpc_manifest *m, crpc_opts *o, crpc_manifest_options *applied,
			       crpc_manifest_options *not_applied, crpc_error **err);

/**
 * Refuse a restore that CRIU would fail, or complete with a broken
 * connection: a UNIX socket the dump declared external (`external`
 * "unix[INODE]": its peer was outside the tree and lost its end when the
 * tree was dumped) needs a replacement passed as inherit_fd
 * "socket:[INODE]". Returns 0 when every such socket has one in `o`, or
 * `o` sets ext_unix_sk (the user accepts an unconnected socket); else -1
 * with an error naming the inode, the dump's reason and the remedy
 * (cause CRPC_CAUSE_EXT_UNIX_SK).
 */
int crpc_manifest_check_externals(const crpc_manifest *m, const crpc_opts *o, crpc_error **err);

/** One outside pipe at a restore: re-attached, or why not. */
typedef struct crpc_pipe_attach {
	char key[32]; /**< "pipe:[INODE]" */
	uint32_t inode;
	bool tree_writes;                 /**< the tree's end is the write end */
	bool reattached;                  /**< an fd of the pipe was opened and passed as inherit_fd */
	int fd;                           /**< that fd (inheritable), -1 when not re-attached or closed */
	crpc_manifest_pipe_holder holder; /**< whose descriptor it was opened from (or the first recorded) */
	char why[160];                    /**< not re-attached: why ("" if the user passed the pipe) */
	bool user;                        /**< the user passed this pipe with inherit_fd already */
} crpc_pipe_attach;

/** The outside pipes of a restore (crpc_manifest_reattach_pipes()). */
typedef struct crpc_pipe_attachments {
	crpc_pipe_attach *v;
	size_t n;
} crpc_pipe_attachments;

/**
 * Give the restored tree back its pipes to processes outside it: for every
 * outside pipe of the manifest that `o` does not pass with inherit_fd
 * already, find a recorded holder of the other end (the reader of the
 * tree's write end, or the writer of its read end) that still has it
 * (/proc/PID/fd/N links to the same "pipe:[INODE]"), open that descriptor
 * with the tree's access mode (an open file of its own; the holder's is
 * not touched) and add it to `o` as inherit_fd "pipe:[INODE]", so CRIU
 * connects the tree to the same pipe.
 * The fds are open without FD_CLOEXEC, since CRIU, started after this,
 * must inherit them: call it right before the session opens and free
 * `out` (which closes them, and holds the keys `o` points to) after the
 * request. A pipe whose other end nobody holds any more is listed with
 * fd -1 and why.
 * -1 only on ENOMEM.
 */
int crpc_manifest_reattach_pipes(const crpc_manifest *m, crpc_opts *o, crpc_pipe_attachments *out,
				 crpc_error **err);

/** Close the fds of `a` and free it. */
void crpc_pipe_attachments_release(crpc_pipe_attachments *a);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_MANIFEST_H */
