/* SPDX-License-Identifier: MIT */
/*
 * manifest.c - crpc.json: what writing it, verifying a checkpoint against
 * it and restoring from it share (file names, hashing, the manifest's own
 * checksum, pipe links), and reading it. Writing is in manifest_write.c,
 * verifying in manifest_verify.c, what a restore takes from it in
 * manifest_restore.c, the temporary directory of a dump in dumpdir.c. See
 * crpc/manifest.h.
 *
 * Files are hashed with the manifest's digest (base/digest.h: BLAKE3 or
 * SHA-256), streamed through one bounded buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crpc/manifest.h"
#include "internal.h"
#include "manifest_int.h"
#include "base/digest.h"
#include "base/sha256.h"

#define MANIFEST_MAX (64u << 20)
#define NAME_MAX_LEN 255

/* ---- small helpers ------------------------------------------------------ */

char *mf_strdup(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int mf_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool mf_safe_name(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len <= NAME_MAX_LEN && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..");
}

bool mf_in_strv(const char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool mf_is_image_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".img") == 0;
}

/* ---- hashing ---------------------------------------------------------------- */

/* Hash an open file through buf; size read into *size. -1 with errno. */
static int hash_fd(int fd, crpc__digest *sh, uint8_t *buf, size_t bufsz, uint64_t *size, char hex[65])
{
	uint64_t total = 0;

	if (crpc__digest_reset(sh) < 0) {
		errno = EIO;
		return -1;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = io_read(fd, buf, bufsz);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (crpc__digest_update(sh, buf, (size_t)n) < 0) {
			errno = EIO;
			return -1;
		}
		total += (uint64_t)n;
	}
	if (crpc__digest_final(sh, hex) < 0) {
		errno = EIO;
		return -1;
	}
	*size = total;
	return 0;
}

int mf_hasher_init(struct mf_hasher *h, crpc_digest d, const char *op, crpc_error **err)
{
	memset(h, 0, sizeof(*h));
	if (crpc__digest_new(d, &h->sh, err) < 0)
		return -1;
	h->buf = io_hash_buffer_new();
	if (!h->buf) {
		crpc__digest_free(h->sh);
		h->sh = NULL;
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	}
	return 0;
}

void mf_hasher_release(struct mf_hasher *h)
{
	crpc__digest_free(h->sh);
	io_hash_buffer_free(h->buf);
}

int mf_hash_file(struct mf_hasher *h, int dirfd, const char *name, bool sync, uint64_t *size, char hex[65])
{
	int fd = io_open_regular_at(dirfd, name, NULL);
	int r;

	if (fd < 0)
		return -1;
	r = hash_fd(fd, h->sh, h->buf, IO_HASH_BUF, size, hex);
	if (r == 0 && sync && fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
		r = -1;
	if (r < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

CRPC_API int crpc_sha256_file_at(int dirfd, const char *name, bool sync, uint64_t *size, char hex[65],
				 crpc_error **err)
{
	return crpc_digest_file_at(dirfd, name, CRPC_DIGEST_SHA256, sync, size, hex, err);
}

CRPC_API int crpc_digest_file_at(int dirfd, const char *name, crpc_digest d, bool sync, uint64_t *size,
				 char hex[65], crpc_error **err)
{
	struct mf_hasher h;
	int r;

	if (mf_hasher_init(&h, d, "hashing", err) < 0)
		return -1;
	r = mf_hash_file(&h, dirfd, name, sync, size, hex);
	if (r < 0)
		crpc_error_set(err, CRPC_EXIT_FAIL, errno, "hashing", "cannot %s %s",
			       errno == EINVAL ? "hash (not a regular file)" : "read", name);
	mf_hasher_release(&h);
	return r;
}

/* ---- pipes ------------------------------------------------------------------- */

bool mf_pipe_link_inode(const char *link, uint32_t *ino)
{
	char *end;
	unsigned long v;

	if (strncmp(link, "pipe:[", 6) != 0 || link[6] < '0' || link[6] > '9')
		return false;
	errno = 0;
	v = strtoul(link + 6, &end, 10);
	if (errno || strcmp(end, "]") != 0 || v > UINT32_MAX)
		return false;
	*ino = (uint32_t)v;
	return true;
}

/* ---- the manifest's own checksum ---------------------------------------------- */

const char *mf_self_key(crpc_digest alg)
{
	return alg == CRPC_DIGEST_SHA256 ? MF_SELF_SHA_KEY : MF_SELF_B3_KEY;
}

int mf_self_digest(json_t *root, crpc_digest alg, char hex[65])
{
	json_t *copy = json_copy(root); /* shallow: the values are shared */
	crpc__digest *h = NULL;
	char *text;
	int rc = -1;

	if (!copy)
		return -1;
	json_object_del(copy, MF_SELF_SHA_KEY);
	json_object_del(copy, MF_SELF_B3_KEY);
	text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(copy);
	if (!text)
		return -1;
	if (crpc__digest_new(alg, &h, NULL) == 0 && crpc__digest_update(h, text, strlen(text)) == 0 &&
	    crpc__digest_final(h, hex) == 0)
		rc = 0;
	crpc__digest_free(h);
	free(text);
	return rc;
}

/* ---- reading -------------------------------------------------------------- */

int mf_load(int dirfd, json_t **out, char **text, size_t *len, crpc_error **err)
{
	const char *op = "reading the checkpoint's manifest";
	uint8_t *data = NULL;
	size_t size = 0;
	json_error_t je;
	json_t *root, *fmt, *ver;

	*out = NULL;
	if (crpc__read_whole_at(dirfd, CRPC_MANIFEST_NAME, MANIFEST_MAX, &data, &size) < 0) {
		switch (errno) {
		case ENOENT:
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, op, "%s is missing",
					      CRPC_MANIFEST_NAME);
		case EFBIG:
			return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is larger than %u MiB",
					      CRPC_MANIFEST_NAME, MANIFEST_MAX >> 20);
		case EINVAL:
			return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is not a regular file",
					      CRPC_MANIFEST_NAME);
		default:
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s",
					      CRPC_MANIFEST_NAME);
		}
	}
	/*
	 * jansson lets some NUL bytes through (one right after a literal such as
	 * null): refused, since JSON has none and *text would end at the first
	 * (crpc show parses *text).
	 */
	if (memchr(data, '\0', size)) {
		free(data);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is not valid JSON (it contains a NUL byte)", CRPC_MANIFEST_NAME);
	}
	root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		free(data);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is not valid JSON (line %d: %s)",
				      CRPC_MANIFEST_NAME, je.line, je.text);
	}
	fmt = json_object_get(root, "format");
	ver = json_object_get(root, "format_version");
	if (!json_is_object(root) || !json_is_string(fmt) ||
	    strcmp(json_string_value(fmt), CRPC_MANIFEST_FORMAT) != 0 || !json_is_integer(ver)) {
		json_decref(root);
		free(data);
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				      "%s is not a crpc checkpoint manifest (no \"format\": \"%s\" "
				      "with a format_version)",
				      CRPC_MANIFEST_NAME, CRPC_MANIFEST_FORMAT);
	}
	if (json_integer_value(ver) < 1 || json_integer_value(ver) > CRPC_MANIFEST_VERSION) {
		json_int_t v = json_integer_value(ver);

		json_decref(root);
		free(data);
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "%s has format version %" JSON_INTEGER_FORMAT "; this crpc reads version %d",
			       CRPC_MANIFEST_NAME, v, CRPC_MANIFEST_VERSION);
		if (err && *err && v > CRPC_MANIFEST_VERSION)
			crpc_error_set_hint(*err, "it was written by a newer crpc: use that one");
		return -1;
	}
	if (text) {
		*text = (char *)data; /* NUL-terminated */
		if (len)
			*len = size;
	} else {
		free(data);
	}
	*out = root;
	return 0;
}

CRPC_API int crpc_manifest_read(int dirfd, char **text, size_t *len, crpc_error **err)
{
	json_t *root = NULL;

	*text = NULL;
	if (len)
		*len = 0;
	if (mf_load(dirfd, &root, text, len, err) < 0)
		return -1;
	json_decref(root);
	return 0;
}
