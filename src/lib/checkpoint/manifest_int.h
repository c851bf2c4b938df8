/* SPDX-License-Identifier: MIT */
/*
 * manifest_int.h - what writing crpc.json (manifest_write.c), verifying a
 * checkpoint against it (manifest_verify.c) and restoring from it
 * (manifest_restore.c) share, defined in manifest.c. Private to
 * src/lib/checkpoint/.
 */
#ifndef CRPC_MANIFEST_INT_H
#define CRPC_MANIFEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/digest.h"
#include "crpc/checkpoint.h"
#include "crpc/error.h"
#include "crpc/manifest.h"

/* ---- file names ---- */

/* strcmp() of two char * array elements, for qsort() and bsearch(). */
int mf_name_cmp(const void *a, const void *b);
/* A copy of s (NULL for NULL); on ENOMEM NULL with *oom set. */
char *mf_strdup(const char *s, bool *oom);
/* A plain file name: not empty, not too long, no '/', not "." or "..". */
bool mf_safe_name(const char *n);
/* Is s one of the strings of the NULL-terminated v (NULL: none)? */
bool mf_in_strv(const char *const *v, const char *s);
/* Does name end in ".img"? */
bool mf_is_image_name(const char *name);

/* ---- hashing ---- */

/* A hashing context with its buffer (one for all the files). */
struct mf_hasher {
	crpc__digest *sh;
	uint8_t *buf;
};

/* A hasher of digest d. -1 with *err: libcrypto could not be loaded, or no memory. */
int mf_hasher_init(struct mf_hasher *h, crpc_digest d, const char *op, crpc_error **err);
void mf_hasher_release(struct mf_hasher *h);
/* Hash dirfd/name (fsync'ed with sync). -1 with errno. */
int mf_hash_file(struct mf_hasher *h, int dirfd, const char *name, bool sync, uint64_t *size, char hex[65]);

/* ---- hashing while CRIU writes (ahead.c) ---- */

typedef struct mf_ahead mf_ahead;

/*
 * Whether following pays for a checkpoint expected to hold `expected`
 * bytes of page images (0: unknown, it does): the end of the directory's
 * watch costs an SRCU grace period in the kernel (10-20 ms here), more than
 * hashing a few MiB once the writer is done.
 */
bool mf_ahead_pays(uint64_t expected);
/*
 * Follow dirfd's files from now on and hash them as they grow, on a thread
 * of their own. NULL when that cannot be done (no inotify, no libcrypto,
 * no memory): the manifest then hashes every file at the end.
 */
/* fn (may be NULL) gets the bytes written so far, see crpc_checkpoint_progress_fn; t0: when CRIU started. */
/* d: the digest of the manifest (CRPC_DIGEST_DEFAULT: BLAKE3). */
mf_ahead *mf_ahead_start(int dirfd, crpc_digest d, crpc_checkpoint_progress_fn fn, void *data,
			 uint64_t expected, double t0);
/* Stop following (the thread ends; what it hashed is kept). NULL is fine. */
void mf_ahead_stop(mf_ahead *a);
/* Bytes hashed so far by the thread (any thread may ask). */
uint64_t mf_ahead_bytes(const mf_ahead *a);
/*
 * After mf_ahead_stop(): finish the digest of dirfd/name by hashing what
 * was added since (1, with *size and hex), or 0 when it must be hashed
 * in full: it was not followed, or it may have changed under the digest.
 * Each file's digest can be finished once.
 */
int mf_ahead_finish(mf_ahead *a, int dirfd, const char *name, uint64_t *size, char hex[65]);
/* Stop and free. NULL is fine. */
void mf_ahead_free(mf_ahead *a);

/*
 * The holders outside the tree of the pipes the inspection found the tree
 * shares with outside processes: the scan of /proc that "outside_pipes"
 * needs, run on a thread of its own while CRIU dumps rather than after.
 * inodes: the pipes; tree: the tree's PIDs (left out). NULL on ENOMEM or
 * when there is no pipe (crpc.json's writer then scans by itself).
 */
typedef struct mf_pipe_scan mf_pipe_scan;
mf_pipe_scan *mf_pipe_scan_start(const uint64_t *inodes, size_t n, const pid_t *tree, size_t n_tree);
/* Wait for the scan and free it. NULL is fine. */
void mf_pipe_scan_free(mf_pipe_scan *ps);

struct crpc_manifest_info;
struct crpc_manifest_stats;
/*
 * crpc_manifest_write() taking the digests `ahead` (may be NULL) has begun;
 * stops it. pipes (may be NULL): the outside holders found during the dump.
 * unpublished: dirfd holds the in-progress marker, which the caller removes
 * before it fsyncs the directory; crpc.json is then written in place and
 * only fdatasync'ed (see sync_files()).
 */
int mf_write(int dirfd, const struct crpc_manifest_info *mi, struct crpc_manifest_stats *st, mf_ahead *ahead,
	     mf_pipe_scan *pipes, bool unpublished, crpc_error **err);

/* ---- page images verified while CRIU restores (verify_late.c) ---- */

typedef struct mf_pending mf_pending;
struct crpc_manifest_check;

/* An empty list of files to check later, read from dirfd. NULL on ENOMEM. */
mf_pending *mf_pending_new(int dirfd);
/* Is name a file whose content may be checked while CRIU restores (pages-*.img)? */
bool mf_pending_wanted(const char *name);
/*
 * Check now that dirfd/name is a regular file of `size` bytes and put it on
 * the list, to be checked against `digest` of algorithm d (the same for
 * every file of the list): 0; 1 when its size differs (*got); -1 with errno when it cannot
 * be opened (ENOMEM: no memory).
 */
int mf_pending_add(mf_pending *p, int dirfd, const char *name, uint64_t size, crpc_digest d,
		   const char *digest, uint64_t *got);
/* How many files are on the list. */
size_t mf_pending_count(const mf_pending *p);
/* Hash them on a thread of their own (without one, mf_pending_finish() does); fn: its progress since t0. */
void mf_pending_start(mf_pending *p, crpc_checkpoint_progress_fn fn, void *data, double t0);
/*
 * Wait for the hashing (cancel: stop it instead, counting only the files
 * already hashed) and add every file found wrong to c->mismatches, every
 * good one to c->st. The number of files found wrong; -1 on ENOMEM.
 */
int mf_pending_finish(mf_pending *p, struct crpc_manifest_check *c, bool cancel);
/* Stop the hashing (if any) and free. NULL is fine. */
void mf_pending_free(mf_pending *p);

/*
 * crpc_manifest_verify() that leaves the content of the files
 * mf_pending_wanted() names to `defer` (NULL: checks everything), after
 * checking their presence and size.
 */
int mf_verify(int dirfd, const char *dir_name, const char *const *ignore, struct crpc_manifest_check *out,
	      mf_pending *defer, crpc_error **err);
/* The error of a checkpoint found modified (c->mismatches not empty); sets c->verdict. */
void mf_modified_error(struct crpc_manifest_check *c, const char *op, crpc_error **e);
/* The same, added to the hint of e, an error of its own (c->mismatches not empty); sets c->verdict. */
void mf_modified_note(struct crpc_manifest_check *c, crpc_error *e);

/* ---- the manifest's own checksum ---- */

/*
 * The key of the manifest's checksum of itself, named by its algorithm:
 * the files' digest (BLAKE3 since format 2, no libcrypto needed), or
 * SHA-256 (crpc before this key, and manifests whose files are SHA-256).
 */
#define MF_SELF_SHA_KEY "manifest_sha256"
#define MF_SELF_B3_KEY "manifest_blake3"

/* The key of the checksum of alg (CRPC_DIGEST_SHA256 or CRPC_DIGEST_BLAKE3). */
const char *mf_self_key(crpc_digest alg);

/*
 * The digest alg of the manifest's content in canonical form: the object
 * without its checksums of itself, compact, keys sorted, ASCII only. -1 on
 * ENOMEM or when alg cannot be computed (libcrypto missing for SHA-256).
 */
int mf_self_digest(json_t *root, crpc_digest alg, char hex[65]);

/* ---- reading ---- */

/*
 * Read and parse dirfd/crpc.json and check its format and version: the
 * JSON object in *out; with text, the file's content (NUL-terminated) in
 * *text and its length in *len. -1 with *err.
 */
int mf_load(int dirfd, json_t **out, char **text, size_t *len, crpc_error **err);

/* ---- what a dump records before CRIU runs (recover.c) ---- */

/* The options of a dump as crpc.json lists them, and back (entries of the wrong shape skipped; -1 on ENOMEM). */
json_t *mf_options_json(const crpc_manifest_options *l);
int mf_options_from_json(json_t *opts, crpc_manifest_options *out);

/*
 * What a dump is about to do, as the in-progress marker holds it: the
 * manifest's info (without CRIU's time), JSON text (malloc'ed), NULL on
 * ENOMEM. A container's dump adds engine_call (borrowed, NULL for a PID's):
 * the engine, the container, the call directory, DIR and the step reached
 * (see ck_container_recover()).
 */
char *mf_intent_json(const crpc_manifest_info *mi, json_t *engine_call);

/* The info read back from a marker; its strings and options belong to it. */
struct mf_intent {
	json_t *root;
	crpc_manifest_options options;
	const char *logs[8];
	char *namespaces;    /* the "namespaces" object as JSON text, or NULL */
	char *container;     /* the "container" record as JSON text, or NULL */
	json_t *engine_call; /* a container's dump: its "engine_call" object (borrowed from root), or NULL */
	crpc_manifest_info info;
};

/* Parse a marker's text into in (the info's fields NULL where absent). -1 when it holds none. */
int mf_intent_parse(const char *text, size_t len, struct mf_intent *in);
void mf_intent_release(struct mf_intent *in);

/* ---- pipes ---- */

/* "pipe:[N]" -> N; false for anything else. */
bool mf_pipe_link_inode(const char *link, uint32_t *ino);

/* manifest_ns.c: the "namespaces" object (json null when the tree had none of its own; NULL on ENOMEM). */
json_t *mf_ns_json(const crpc_ns_tree *t);

/* manifest_ns.c: read "namespaces" into ns (zeroed first). -1 on ENOMEM. */
int mf_ns_load(json_t *j, crpc_manifest_ns *ns);

/* manifest_ns.c: free what mf_ns_load() allocated. */
void mf_ns_release(crpc_manifest_ns *ns);

#endif /* CRPC_MANIFEST_INT_H */
