/* SPDX-License-Identifier: MIT */
/*
 * signature.c - who made a checkpoint: Ed25519 keys, the signature of
 * crpc.json a dump writes next to it, and its check against the public
 * keys of a trusted directory. See crpc/manifest.h.
 *
 * What is signed is crpc.json byte for byte; it lists the size and SHA-256
 * of every file, so once crpc_manifest_verify() found the files to match
 * it, a valid signature covers them too. Keys are files, and a key others
 * could replace proves nothing: the private key must be private, the
 * trusted keys and their directory writable by root or the caller alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sha256.h"
#include "base/sign.h"
#include "checkpoint/ck_int.h"
#include "crpc/manifest.h"
#include "internal.h"

#define KEY_MAX (64u << 10)      /* a PEM key is a few hundred bytes */
#define SIG_MAX (64u << 10)      /* the signature file: about 400 bytes */
#define MANIFEST_MAX (64u << 20) /* as crpc_manifest_read() */
#define SIG_TMP CRPC_SIGNATURE_NAME ".tmp"
#define SIG_FORMAT_VERSION 1

struct crpc_signing_key {
	crpc__pkey *k;
	char fingerprint[65];
};

static const char *const verdict_names[] = {
	[CRPC_SIGNATURE_NONE] = "unsigned",
	[CRPC_SIGNATURE_VALID] = "valid",
	[CRPC_SIGNATURE_UNKNOWN_KEY] = "unknown-key",
	[CRPC_SIGNATURE_BAD] = "bad",
};

CRPC_API const char *crpc_signature_verdict_name(crpc_signature_verdict v)
{
	return ENUM_NAME(verdict_names, v, "?");
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly 2*n lowercase hex digits into n bytes. */
static bool hex_decode(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* The SHA-256 of a key's raw public half, as hex. */
static int fingerprint(const crpc__pkey *k, char hex[65], crpc_error **err)
{
	uint8_t raw[CRPC__ED25519_KEY_LEN];

	if (crpc__pkey_public_raw(k, raw, err) < 0)
		return -1;
	return crpc__sha256_buffer(raw, sizeof(raw), hex, err);
}

/*
 * The ownership rule for a key file or a key directory: root's or the
 * caller's, writable by nobody else (`secret`: also readable by nobody
 * else). -1 with err naming path.
 */
static int check_key_object(const struct stat *st, const char *path, const char *what, bool secret,
			    const char *op, crpc_error **err)
{
	char who[160];

	switch (crpc__owner_check(st, (uid_t)-1)) {
	case CRPC__OWNER_FOREIGN:
		crpc__user_name(st->st_uid, who, sizeof(who));
		crpc_error_set(err, CRPC_EXIT_FAIL, EPERM, op,
			       "refusing %s %s: it belongs to %s, neither root nor the caller: whoever owns "
			       "it can replace the key",
			       what, path, who);
		if (err && *err)
			crpc_error_set_hint(*err, "chown root %s, once you know its content is right", path);
		return -1;
	case CRPC__OWNER_WRITABLE:
		crpc_error_set(err, CRPC_EXIT_FAIL, EPERM, op,
			       "refusing %s %s: it is writable by %s (mode %04o)", what, path,
			       crpc__writable_by(st), (unsigned)(st->st_mode & 07777));
		if (err && *err)
			crpc_error_set_hint(*err, "chmod %s %s", secret ? "600" : "go-w", path);
		return -1;
	default:
		break;
	}
	/* a private key: nobody else may read it either */
	if (secret && (st->st_mode & 077)) {
		crpc_error_set(err, CRPC_EXIT_FAIL, EPERM, op,
			       "refusing %s %s: it is readable by %s (mode %04o)", what, path,
			       (st->st_mode & 007) ? "others" : "its group", (unsigned)(st->st_mode & 07777));
		if (err && *err)
			crpc_error_set_hint(*err,
					    "chmod 600 %s, and make a new key if others could have read it",
					    path);
		return -1;
	}
	return 0;
}

/*
 * Open the regular file path (no symbolic link) and read it whole, at most
 * max bytes, after checking its owner and mode and those of the directory
 * it is in. -1 with err (sys_errno ENOENT when it does not exist).
 */
static int read_key_file(const char *path, bool secret, const char *what, const char *op, char **out,
			 size_t *len, crpc_error **err)
{
	cleanup_free char *copy = strdup(path);
	cleanup_close int fd = -1, dfd = -1;
	struct stat st;
	char *buf;
	ssize_t n;

	*out = NULL;
	if (!copy)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ELOOP)
			return crpc_error_set(err, CRPC_EXIT_FAIL, e, op,
					      "refusing %s %s: it is a symbolic link", what, path);
		crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot open %s %s", what, path);
		if (err && *err && e == ENOENT && secret)
			crpc_error_set_hint(*err, "make one with `crpc key generate %s`", path);
		return -1;
	}
	if (fstat(fd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, op, "refusing %s %s: not a regular file",
				      what, path);
	if (check_key_object(&st, path, what, secret, op, err) < 0)
		return -1;
	/* whoever may write the directory may swap the file */
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot stat the directory of %s",
				      path);
	if (check_key_object(&st, copy, "the directory of a key,", false, op, err) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot stat %s", path);
	if ((uint64_t)st.st_size > KEY_MAX)
		return crpc_error_set(err, CRPC_EXIT_FAIL, EFBIG, op,
				      "refusing %s %s: larger than %u KiB (a key "
				      "is a few hundred bytes)",
				      what, path, KEY_MAX >> 10);
	buf = malloc(KEY_MAX + 1);
	if (!buf)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	n = io_read_full(fd, buf, KEY_MAX + 1);
	if (n < 0 || (size_t)n > KEY_MAX) {
		int e = n < 0 ? errno : EFBIG;

		free(buf);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot read %s %s", what, path);
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* ---- keys ------------------------------------------------------------------ */

/* Create path with O_EXCL and write text to it, fsync'ed. -1 with err (the file removed). */
static int write_new_file(const char *path, const char *text, mode_t mode, const char *op, crpc_error **err)
{
	int fd, e;

	do
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		e = errno;
		crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot create %s", path);
		if (err && *err && e == EEXIST)
			crpc_error_set_hint(*err,
					    "a key is never overwritten: remove the old one first if it "
					    "really is to go, or choose another file");
		return -1;
	}
	/* the umask may have taken bits away; set exactly these */
	if (fchmod(fd, mode) < 0 || io_write_full(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlink(path);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", path);
	}
	if (close(fd) < 0) {
		e = errno;
		unlink(path);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot write %s", path);
	}
	return 0;
}

CRPC_API int crpc_key_generate(const char *private_path, char fp_out[65], crpc_error **err)
{
	const char *op = "generating a signing key";
	cleanup_free char *pub_path = NULL, *priv_pem = NULL, *pub_pem = NULL;
	crpc__pkey *k = NULL;
	char fp[65];
	struct stat st;
	int rc = -1;

	if (!private_path || !*private_path)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, op, "no file named for the key");
	if (asprintf(&pub_path, "%s.pub", private_path) < 0) {
		pub_path = NULL;
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	}
	/* both names free before anything is written */
	if (lstat(pub_path, &st) == 0) {
		crpc_error_set(err, CRPC_EXIT_FAIL, EEXIST, op, "%s exists already", pub_path);
		if (err && *err)
			crpc_error_set_hint(*err, "a key is never overwritten: choose another file");
		return -1;
	}
	if (crpc__pkey_generate(&k, err) < 0)
		return -1;
	if (crpc__pkey_to_pem(k, true, &priv_pem, err) < 0 ||
	    crpc__pkey_to_pem(k, false, &pub_pem, err) < 0 || fingerprint(k, fp, err) < 0)
		goto out;
	if (write_new_file(private_path, priv_pem, 0600, op, err) < 0)
		goto out;
	if (write_new_file(pub_path, pub_pem, 0644, op, err) < 0) {
		unlink(private_path);
		goto out;
	}
	if (fp_out)
		memcpy(fp_out, fp, sizeof(fp));
	rc = 0;
out:
	if (priv_pem)
		explicit_bzero(priv_pem, strlen(priv_pem));
	crpc__pkey_free(k);
	return rc;
}

CRPC_API int crpc_signing_key_load(const char *path, crpc_signing_key **out, crpc_error **err)
{
	const char *op = "loading the signing key";
	crpc_signing_key *sk;
	char *pem = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (read_key_file(path, true, "the signing key", op, &pem, &len, err) < 0)
		return -1;
	sk = calloc(1, sizeof(*sk));
	if (!sk) {
		explicit_bzero(pem, len);
		free(pem);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	}
	rc = crpc__pkey_from_pem(pem, len, true, path, &sk->k, err);
	explicit_bzero(pem, len);
	free(pem);
	if (rc == 0)
		rc = fingerprint(sk->k, sk->fingerprint, err);
	if (rc < 0) {
		crpc_signing_key_free(sk);
		return -1;
	}
	*out = sk;
	return 0;
}

CRPC_API const char *crpc_signing_key_fingerprint(const crpc_signing_key *k)
{
	return k ? k->fingerprint : "";
}

CRPC_API void crpc_signing_key_free(crpc_signing_key *k)
{
	if (!k)
		return;
	crpc__pkey_free(k->k);
	free(k);
}

/* ---- signing ------------------------------------------------------------- */

/* dirfd/crpc.json as it is on disk. -1 with err. */
static int read_manifest_bytes(int dirfd, const char *op, uint8_t **data, size_t *size, crpc_error **err)
{
	if (crpc__read_whole_at(dirfd, CRPC_MANIFEST_NAME, MANIFEST_MAX, data, size) == 0)
		return 0;
	if (errno == EFBIG)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is larger than %u MiB",
				      CRPC_MANIFEST_NAME, MANIFEST_MAX >> 20);
	if (errno == EINVAL)
		return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is not a regular file",
				      CRPC_MANIFEST_NAME);
	return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read %s", CRPC_MANIFEST_NAME);
}

CRPC_API int crpc_manifest_sign(int dirfd, const crpc_signing_key *k, crpc_error **err)
{
	const char *op = "signing the checkpoint";
	cleanup_free uint8_t *data = NULL;
	cleanup_free char *text = NULL;
	uint8_t sig[CRPC__ED25519_SIG_LEN];
	char sig_hex[2 * CRPC__ED25519_SIG_LEN + 1], sha[65];
	size_t size = 0;
	json_t *o;

	if (!k)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, op, "no key");
	if (read_manifest_bytes(dirfd, op, &data, &size, err) < 0 ||
	    crpc__sha256_buffer(data, size, sha, err) < 0 || crpc__pkey_sign(k->k, data, size, sig, err) < 0)
		return -1;
	crpc__hex_encode(sig, sizeof(sig), sig_hex);
	o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "format", CRPC_SIGNATURE_FORMAT,
		      "format_version", SIG_FORMAT_VERSION, "algorithm", "ed25519", "key_sha256",
		      k->fingerprint, "signed", CRPC_MANIFEST_NAME, "signed_sha256", sha, "signature",
		      sig_hex);
	text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (!text)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");

	if (ck_file_replace(dirfd, SIG_TMP, CRPC_SIGNATURE_NAME, text, true, op, err) < 0)
		return -1;
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot sync the images directory");
	return 0;
}

/* ---- checking ------------------------------------------------------------ */

/*
 * The trusted key whose fingerprint is fp, from dir: its name into
 * name and the key into *out, or *out NULL when none matches. Every *.pub
 * in dir is checked for its owner and mode. -1 with err.
 */
static int find_trusted(const char *dir, const char *fp, char *name, size_t namesz, crpc__pkey **out,
			const char *op, crpc_error **err)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	*out = NULL;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* no trusted keys */
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, op,
				      "cannot open the trusted keys' directory %s", dir);
	}
	if (fstat(fd, &st) < 0 ||
	    check_key_object(&st, dir, "the trusted keys' directory", false, op, err) < 0) {
		if (err && !*err)
			crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot stat %s", dir);
		close(fd);
		return -1;
	}
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "cannot read %s", dir);
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char path[PATH_MAX], kfp[65];
		cleanup_free char *pem = NULL;
		crpc__pkey *k = NULL;
		size_t len = 0;

		if (n <= 4 || strcmp(de->d_name + n - 4, ".pub") != 0 || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path)) {
			rc = crpc_error_set(err, CRPC_EXIT_FAIL, ENAMETOOLONG, op, "%s/%s: path too long",
					    dir, de->d_name);
			break;
		}
		if (read_key_file(path, false, "the trusted key", op, &pem, &len, err) < 0 ||
		    crpc__pkey_from_pem(pem, len, false, path, &k, err) < 0 || fingerprint(k, kfp, err) < 0) {
			crpc__pkey_free(k);
			rc = -1;
			break;
		}
		if (strcmp(kfp, fp) == 0 && !*out) {
			*out = k;
			snprintf(name, namesz, "%.*s", (int)(n - 4), de->d_name);
		} else {
			crpc__pkey_free(k);
		}
	}
	closedir(d);
	if (rc < 0) {
		crpc__pkey_free(*out);
		*out = NULL;
	}
	return rc;
}

/* A string member of the signature file, or NULL. */
static const char *sig_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

CRPC_API int crpc_manifest_check_signature(int dirfd, const char *dir_name, const char *trusted_dir,
					   bool require, crpc_signature_check *out, crpc_error **err)
{
	const char *dn = dir_name ? dir_name : ".",
		   *td = trusted_dir ? trusted_dir : CRPC_TRUSTED_KEYS_DEFAULT;
	const char *fp, *alg, *sig_hex, *signed_sha, *fmt;
	cleanup_free uint8_t *sig_data = NULL, *data = NULL;
	cleanup_free char *op = NULL;
	crpc_signature_check c;
	uint8_t sig[CRPC__ED25519_SIG_LEN];
	crpc__pkey *k = NULL;
	size_t sig_size = 0, size = 0;
	json_t *o = NULL;
	json_error_t je;
	char sha[65];
	int rc = -1, ok;

	memset(&c, 0, sizeof(c));
	c.checked = true;
	if (out)
		memset(out, 0, sizeof(*out));
	if (asprintf(&op, "checking the signature of %s", dn) < 0) {
		op = NULL;
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "checking the signature", "out of memory");
	}
	if (crpc__read_whole_at(dirfd, CRPC_SIGNATURE_NAME, SIG_MAX, &sig_data, &sig_size) < 0) {
		if (errno != ENOENT) {
			c.verdict = CRPC_SIGNATURE_BAD;
			crpc_error_set(err, CRPC_EXIT_FAIL, errno == EFBIG || errno == EINVAL ? 0 : errno,
				       op, "refusing %s: its %s cannot be read (%s)", dn, CRPC_SIGNATURE_NAME,
				       errno == EFBIG    ? "too large"
				       : errno == EINVAL ? "not a regular file"
							 : strerror(errno));
			goto out;
		}
		c.verdict = CRPC_SIGNATURE_NONE;
		if (!require) {
			rc = 0;
			goto out;
		}
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "refusing %s: it is not signed (it has no %s) and a signature is required",
			       dn, CRPC_SIGNATURE_NAME);
		if (err && *err)
			crpc_error_set_hint(
				*err, "dump it with a signing key (`crpc key generate`, then --sign-key or "
				      "signing: key in the configuration), or restore without "
				      "--require-signature if you trust where it comes from");
		goto out;
	}
	c.verdict = CRPC_SIGNATURE_BAD;
	o = memchr(sig_data, '\0', sig_size)
		    ? NULL
		    : json_loadb((const char *)sig_data, sig_size, JSON_REJECT_DUPLICATES, &je);
	fmt = o ? sig_str(o, "format") : NULL;
	fp = o ? sig_str(o, "key_sha256") : NULL;
	alg = o ? sig_str(o, "algorithm") : NULL;
	sig_hex = o ? sig_str(o, "signature") : NULL;
	signed_sha = o ? sig_str(o, "signed_sha256") : NULL;
	if (!fmt || strcmp(fmt, CRPC_SIGNATURE_FORMAT) != 0 || !alg || strcmp(alg, "ed25519") != 0 || !fp ||
	    strlen(fp) != 64 || strspn(fp, "0123456789abcdef") != 64 || !sig_hex ||
	    !hex_decode(sig_hex, sig, sizeof(sig)) ||
	    !json_is_integer(json_object_get(o, "format_version")) ||
	    json_integer_value(json_object_get(o, "format_version")) != SIG_FORMAT_VERSION) {
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "refusing %s: %s is damaged (not an ed25519 signature in the %s format "
			       "version %d)",
			       dn, CRPC_SIGNATURE_NAME, CRPC_SIGNATURE_FORMAT, SIG_FORMAT_VERSION);
		goto out;
	}
	snprintf(c.key_sha256, sizeof(c.key_sha256), "%s", fp);
	if (find_trusted(td, fp, c.signer, sizeof(c.signer), &k, op, err) < 0) {
		c.verdict = CRPC_SIGNATURE_NONE;
		c.checked = false;
		goto out;
	}
	if (!k) {
		c.verdict = CRPC_SIGNATURE_UNKNOWN_KEY;
		if (!require) {
			rc = 0;
			goto out;
		}
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "refusing %s: it is signed by key %s, which is not among the trusted keys "
			       "(%s/*.pub)",
			       dn, fp, td);
		if (err && *err)
			crpc_error_set_hint(*err,
					    "if you trust the host that made it, copy its public key (the "
					    "signing key's .pub) into %s as NAME.pub, owned by root, mode 0644",
					    td);
		goto out;
	}
	if (read_manifest_bytes(dirfd, op, &data, &size, err) < 0 ||
	    crpc__sha256_buffer(data, size, sha, err) < 0)
		goto out;
	ok = crpc__pkey_verify(k, data, size, sig, err);
	if (ok < 0)
		goto out;
	if (!ok || (signed_sha && strcmp(signed_sha, sha) != 0)) {
		crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
			       "refusing %s: %s is not the signature of this %s by %s (the trusted key %s): "
			       "%s or the signature was changed after the dump",
			       dn, CRPC_SIGNATURE_NAME, CRPC_MANIFEST_NAME, c.signer, fp, CRPC_MANIFEST_NAME);
		if (err && *err)
			crpc_error_set_hint(*err, "do not restore it: dump again from the original");
		c.signer[0] = '\0';
		goto out;
	}
	c.verdict = CRPC_SIGNATURE_VALID;
	rc = 0;
out:
	json_decref(o);
	crpc__pkey_free(k);
	if (out)
		*out = c;
	return rc;
}
