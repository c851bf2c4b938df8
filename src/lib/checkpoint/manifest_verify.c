/* SPDX-License-Identifier: MIT */
/*
 * manifest_verify.c - a checkpoint verified against its crpc.json: every
 * file listed with its size and digest (BLAKE3 or SHA-256, as crpc.json
 * names it), image files the manifest does not list, the manifest's own
 * checksum, and what a checkpoint without a manifest (or with a dump's
 * marker left in it) is. See crpc/manifest.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint/ck_int.h"
#include "crpc/manifest.h"
#include "internal.h"
#include "manifest_int.h"

static const char *const verdict_names[] = {
	[CRPC_MANIFEST_OK] = "ok",
	[CRPC_MANIFEST_UNFINISHED] = "unfinished",
	[CRPC_MANIFEST_NOT_CHECKPOINT] = "not-checkpoint",
	[CRPC_MANIFEST_MISSING] = "missing",
	[CRPC_MANIFEST_INVALID] = "invalid",
	[CRPC_MANIFEST_MODIFIED] = "modified",
	[CRPC_MANIFEST_UNTRUSTED] = "untrusted",
};

CRPC_API const char *crpc_manifest_verdict_name(crpc_manifest_verdict v)
{
	return ENUM_NAME(verdict_names, v, "?");
}

static const char *const file_problem_names[] = {
	[CRPC_FILE_MISSING] = "missing",       [CRPC_FILE_SIZE] = "size",
	[CRPC_FILE_CHECKSUM] = "checksum",     [CRPC_FILE_UNLISTED] = "unlisted",
	[CRPC_FILE_UNREADABLE] = "unreadable",
};

CRPC_API const char *crpc_file_problem_name(crpc_file_problem p)
{
	return ENUM_NAME(file_problem_names, p, "?");
}

CRPC_API void crpc_manifest_check_release(crpc_manifest_check *c)
{
	if (!c)
		return;
	free(c->mismatches);
	free(c->leftover);
	memset(c, 0, sizeof(*c));
}

/* Append a mismatch for file `name`; NULL on ENOMEM. */
static crpc_file_mismatch *add_mismatch(crpc_manifest_check *c, crpc_file_problem p, const char *name)
{
	crpc_file_mismatch *m;

	if (ARRAY_RESIZE(c->mismatches, c->n_mismatches + 1) < 0)
		return NULL;
	m = &c->mismatches[c->n_mismatches++];
	memset(m, 0, sizeof(*m));
	m->problem = p;
	snprintf(m->name, sizeof(m->name), "%s", name);
	return m;
}

/* One line about a mismatch, e.g. "pages-1.img blake3 mismatch (expected ..., got ...)" (alg: the digest). */
static void describe(const crpc_file_mismatch *m, const char *alg, char *buf, size_t bufsz)
{
	switch (m->problem) {
	case CRPC_FILE_MISSING:
		snprintf(buf, bufsz, "%s is missing", m->name);
		break;
	case CRPC_FILE_SIZE:
		snprintf(buf, bufsz, "%s has %" PRIu64 " bytes, %s lists %" PRIu64, m->name, m->size,
			 CRPC_MANIFEST_NAME, m->expected_size);
		break;
	case CRPC_FILE_CHECKSUM:
		if (strcmp(m->name, CRPC_MANIFEST_NAME) == 0)
			snprintf(buf, bufsz,
				 "%s was changed after the dump (it records the checksum %s of its "
				 "content, the content has %s)",
				 m->name, m->expected_sha256, m->sha256);
		else
			snprintf(buf, bufsz, "%s %s mismatch (expected %s, got %s)", m->name,
				 alg ? alg : "sha256", m->expected_sha256, m->sha256);
		break;
	case CRPC_FILE_UNLISTED:
		snprintf(buf, bufsz, "%s is an image file %s does not list", m->name, CRPC_MANIFEST_NAME);
		break;
	case CRPC_FILE_UNREADABLE:
		if (m->sys_errno == EINVAL)
			snprintf(buf, bufsz, "%s is not a regular file", m->name);
		else
			snprintf(buf, bufsz, "%s cannot be read (%s: %s)", m->name,
				 crpc_errno_name(m->sys_errno) ? crpc_errno_name(m->sys_errno) : "?",
				 strerror(m->sys_errno));
		break;
	}
}

static bool hex64(const char *s)
{
	return crpc__digest_is_hex(s);
}

/* Check every listed file; record mismatches. -1 only for an invalid manifest or ENOMEM. */
static int check_files(int dirfd, json_t *files, crpc_digest alg, const char *const *ignore,
		       crpc_manifest_check *c, mf_pending *defer, const char *op, crpc_error **err)
{
	const char *key = crpc_digest_name(alg);
	struct mf_hasher h;
	size_t n = json_array_size(files), i;
	const char **listed;
	json_t *f;
	int rc = -1;
	DIR *d;
	struct dirent *de;

	listed = calloc(n ? n : 1, sizeof(*listed));
	if (!listed)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
	if (mf_hasher_init(&h, alg, op, err) < 0) {
		free(listed);
		return -1;
	}
	json_array_foreach(files, i, f) {
		json_t *jn = json_object_get(f, "name"), *js = json_object_get(f, "size"),
		       *jh = json_object_get(f, key), *jk = json_object_get(f, "kind");
		const char *name;
		crpc_file_mismatch *m;
		char hex[65];
		uint64_t size;
		double t0;

		if (!json_is_string(jn) || !mf_safe_name(json_string_value(jn)) || !json_is_integer(js) ||
		    json_integer_value(js) < 0 || !json_is_string(jh) || !hex64(json_string_value(jh)) ||
		    (jk && !json_is_string(jk))) {
			crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
				       "%s is damaged: entry %zu of \"files\" is not {name, size, %s}",
				       CRPC_MANIFEST_NAME, i + 1, key);
			goto out;
		}
		name = json_string_value(jn);
		listed[i] = name;
		if (jk && strcmp(json_string_value(jk), "log") == 0)
			continue; /* logs may grow after the dump (hooks.log on restore) */
		if (defer && mf_pending_wanted(name)) {
			/* there and of its size now; its content is checked while CRIU restores */
			int r = mf_pending_add(defer, dirfd, name, (uint64_t)json_integer_value(js), alg,
					       json_string_value(jh), &size);

			if (r == 0)
				continue;
			if (r < 0 && errno == ENOMEM)
				goto oom;
			m = add_mismatch(c,
					 r > 0             ? CRPC_FILE_SIZE
					 : errno == ENOENT ? CRPC_FILE_MISSING
							   : CRPC_FILE_UNREADABLE,
					 name);
			if (!m)
				goto oom;
			m->sys_errno = r > 0 ? 0 : errno;
			m->size = r > 0 ? size : 0;
			m->expected_size = (uint64_t)json_integer_value(js);
			snprintf(m->expected_sha256, sizeof(m->expected_sha256), "%s", json_string_value(jh));
			continue;
		}
		t0 = crpc__now();
		if (mf_hash_file(&h, dirfd, name, false, &size, hex) < 0) {
			int e = errno;

			m = add_mismatch(c, e == ENOENT ? CRPC_FILE_MISSING : CRPC_FILE_UNREADABLE, name);
			if (!m)
				goto oom;
			m->sys_errno = e;
			m->expected_size = (uint64_t)json_integer_value(js);
			snprintf(m->expected_sha256, sizeof(m->expected_sha256), "%s", json_string_value(jh));
			continue;
		}
		c->st.hash_seconds += crpc__now() - t0;
		c->st.files++;
		c->st.bytes += size;
		if (size != (uint64_t)json_integer_value(js) || strcmp(hex, json_string_value(jh)) != 0) {
			m = add_mismatch(c,
					 size != (uint64_t)json_integer_value(js) ? CRPC_FILE_SIZE
										  : CRPC_FILE_CHECKSUM,
					 name);
			if (!m)
				goto oom;
			m->expected_size = (uint64_t)json_integer_value(js);
			m->size = size;
			snprintf(m->expected_sha256, sizeof(m->expected_sha256), "%s", json_string_value(jh));
			snprintf(m->sha256, sizeof(m->sha256), "%s", hex);
		}
	}
	qsort(listed, n, sizeof(*listed), mf_name_cmp);
	/* one entry per file: a second one could carry another size and digest */
	for (i = 1; i < n; i++)
		if (strcmp(listed[i - 1], listed[i]) == 0) {
			crpc_error_set(err, CRPC_EXIT_FAIL, 0, op, "%s is damaged: \"files\" lists %s twice",
				       CRPC_MANIFEST_NAME, listed[i]);
			goto out;
		}

	/* image files the manifest does not know: CRIU would read them */
	d = io_opendir_at(dirfd, ".");
	if (!d) {
		crpc_error_set(err, CRPC_EXIT_FAIL, errno, op, "cannot read the checkpoint directory");
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		const char *dname = de->d_name;

		if (!mf_is_image_name(de->d_name) || mf_in_strv(ignore, de->d_name) ||
		    bsearch(&dname, listed, n, sizeof(*listed), mf_name_cmp))
			continue;
		if (!add_mismatch(c, CRPC_FILE_UNLISTED, de->d_name)) {
			closedir(d);
			goto oom;
		}
	}
	closedir(d);
	rc = 0;
	goto out;
oom:
	crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
out:
	mf_hasher_release(&h);
	free(listed);
	return rc;
}

/*
 * crpc.json itself: its content must still have the checksum it records,
 * BLAKE3 ("manifest_blake3") or SHA-256 ("manifest_sha256", crpc before
 * the BLAKE3 key): appended as a mismatch of CRPC_MANIFEST_NAME. A
 * manifest with neither key (an older crpc's) is not checked. -1 for a
 * damaged key, ENOMEM, or a SHA-256 libcrypto cannot compute.
 */
static int check_self(json_t *root, crpc_manifest_check *c, const char *op, crpc_error **err)
{
	static const crpc_digest algs[] = { CRPC_DIGEST_BLAKE3, CRPC_DIGEST_SHA256 };

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		const char *key = mf_self_key(algs[i]);
		json_t *k = json_object_get(root, key);
		crpc_file_mismatch *m;
		char hex[65];

		if (!k)
			continue;
		if (!json_is_string(k) || !hex64(json_string_value(k)))
			return crpc_error_set(err, CRPC_EXIT_FAIL, 0, op,
					      "%s is damaged: \"%s\" is not a %s in hex", CRPC_MANIFEST_NAME,
					      key, crpc_digest_name(algs[i]));
		if (mf_self_digest(root, algs[i], hex) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "cannot compute the %s of %s",
					      crpc_digest_name(algs[i]), CRPC_MANIFEST_NAME);
		if (strcmp(hex, json_string_value(k)) == 0)
			continue;
		m = add_mismatch(c, CRPC_FILE_CHECKSUM, CRPC_MANIFEST_NAME);
		if (!m)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
		snprintf(m->expected_sha256, sizeof(m->expected_sha256), "%s", json_string_value(k));
		snprintf(m->sha256, sizeof(m->sha256), "%s", hex);
		return 0; /* one mismatch of crpc.json is enough */
	}
	return 0;
}

/* "pages-1.img blake3 mismatch (...)", with "(and N more problems)" after it if there are more. */
static void describe_all(crpc_manifest_check *c, char *buf, size_t bufsz)
{
	size_t n;

	c->verdict = CRPC_MANIFEST_MODIFIED;
	describe(&c->mismatches[0], c->digest, buf, bufsz);
	n = strlen(buf);
	if (c->n_mismatches > 1 && n < bufsz)
		snprintf(buf + n, bufsz - n, " (and %zu more problem%s)", c->n_mismatches - 1,
			 c->n_mismatches == 2 ? "" : "s");
}

void mf_modified_error(crpc_manifest_check *c, const char *op, crpc_error **e)
{
	char what[PATH_MAX + 320];

	describe_all(c, what, sizeof(what));
	crpc_error_set(e, CRPC_EXIT_FAIL, 0, op, "checkpoint modified: %s", what);
	if (c->n_mismatches == 1 && strcmp(c->mismatches[0].name, CRPC_MANIFEST_NAME) == 0)
		crpc_error_set_hint(*e,
				    "%s records how the dump was made and the options a restore "
				    "takes from it: dump again; to restore with other options, give "
				    "them on the command line (they win over the checkpoint's; "
				    "--no-checkpoint-options drops all of these); restore --force "
				    "skips the verification",
				    CRPC_MANIFEST_NAME);
	else
		crpc_error_set_hint(*e, "the images were changed or damaged after the dump: dump again, or "
					"restore --force to restore them anyway");
}

void mf_modified_note(crpc_manifest_check *c, crpc_error *e)
{
	char what[PATH_MAX + 320];

	describe_all(c, what, sizeof(what));
	if (!e)
		return;
	crpc_error_set_hint(e,
			    "%s%sthe checkpoint proved modified, too: %s; the images were changed or damaged "
			    "after the dump: dump again",
			    e->hint ? e->hint : "", e->hint ? "; " : "", what);
}

CRPC_API int crpc_manifest_verify(int dirfd, const char *dir_name, const char *const *ignore,
				  crpc_manifest_check *out, crpc_error **err)
{
	return mf_verify(dirfd, dir_name, ignore, out, NULL, err);
}

int mf_verify(int dirfd, const char *dir_name, const char *const *ignore, crpc_manifest_check *out,
	      mf_pending *defer, crpc_error **err)
{
	crpc_manifest_check c;
	const char *dn = dir_name ? dir_name : ".";
	cleanup_free char *op = NULL;
	crpc_error *e = NULL;
	json_t *root = NULL, *files, *jd;
	crpc_digest alg = CRPC_DIGEST_SHA256;
	struct stat st;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	if (out)
		memset(out, 0, sizeof(*out));
	if (asprintf(&op, "verifying the checkpoint in %s", dn) < 0) {
		op = NULL;
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "verifying the checkpoint",
				      "out of memory");
	}
	if (dir_name)
		c.leftover = ck_dumpdir_leftover(dir_name);

	/* a dump still running, or killed */
	if (fstatat(dirfd, CRPC_INPROGRESS_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		c.verdict = CRPC_MANIFEST_UNFINISHED;
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
			       "the checkpoint in %s is incomplete: a dump into it did not complete "
			       "(%s is present%s): it was interrupted, or is still running",
			       dn, CRPC_INPROGRESS_MARKER,
			       fstatat(dirfd, CRPC_MANIFEST_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0
				       ? ""
				       : ", " CRPC_MANIFEST_NAME " is missing");
		ck_dumpdir_hint(e, dn, NULL);
		goto out;
	}

	if (mf_load(dirfd, &root, NULL, NULL, &e) < 0) {
		if (e && e->sys_errno == ENOENT) {
			crpc_error_free(e);
			e = NULL;
			if (crpc_images_validate(dirfd, dir_name, false, &e) < 0) {
				/* not even CRIU's images: that says more */
				c.verdict = CRPC_MANIFEST_NOT_CHECKPOINT;
				if (e && c.leftover)
					ck_dumpdir_hint(e, dn, c.leftover);
				goto out;
			}
			c.verdict = CRPC_MANIFEST_MISSING;
			if (c.leftover)
				crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
					       "the checkpoint in %s is incomplete: no %s (was the dump "
					       "interrupted? it left %s)",
					       dn, CRPC_MANIFEST_NAME, c.leftover);
			else
				crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
					       "%s holds CRIU images but no %s: it was not made by crpc "
					       "dump (e.g. a plain `criu dump`, or a copy without %s), or "
					       "its dump did not finish",
					       dn, CRPC_MANIFEST_NAME, CRPC_MANIFEST_NAME);
			crpc_error_set_hint(e, "crpc restore --force restores it without verification, if "
					       "you trust the images");
			goto out;
		}
		c.verdict = CRPC_MANIFEST_INVALID;
		if (e && !e->hint)
			crpc_error_set_hint(e, "dump again, or restore --force to restore the images without "
					       "verification");
		goto out;
	}
	files = json_object_get(root, "files");
	if (!json_is_array(files)) {
		c.verdict = CRPC_MANIFEST_INVALID;
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op, "%s is damaged: it has no \"files\" list",
			       CRPC_MANIFEST_NAME);
		crpc_error_set_hint(e, "dump again, or restore --force to restore the images without "
				       "verification");
		goto out;
	}
	/* the files' digest: "digest" names it; a manifest without one has SHA-256 */
	jd = json_object_get(root, "digest");
	if (jd && (!json_is_string(jd) || crpc_digest_parse(json_string_value(jd), &alg) < 0)) {
		c.verdict = CRPC_MANIFEST_INVALID;
		crpc_error_set(&e, CRPC_EXIT_FAIL, 0, op,
			       "%s lists its files with a digest this crpc does not know (\"digest\": %s%s%s; "
			       "it knows blake3 and sha256)",
			       CRPC_MANIFEST_NAME, json_is_string(jd) ? "\"" : "",
			       json_is_string(jd) ? json_string_value(jd) : "not a string",
			       json_is_string(jd) ? "\"" : "");
		crpc_error_set_hint(
			e, "it was written by a newer crpc, or damaged: verify it with the crpc that "
			   "wrote it, or restore --force to restore the images without verification");
		goto out;
	}
	c.digest = c.st.digest = crpc_digest_name(alg);
	if (check_files(dirfd, files, alg, ignore, &c, defer, op, &e) < 0 ||
	    check_self(root, &c, op, &e) < 0) {
		c.verdict = CRPC_MANIFEST_INVALID;
		if (e && !e->hint)
			crpc_error_set_hint(e, "dump again, or restore --force to restore the images "
					       "without verification");
		goto out;
	}
	if (c.n_mismatches && mf_pending_count(defer)) {
		/* found modified anyway: the deferred files now, to name every problem, crpc.json's last */
		bool self = strcmp(c.mismatches[c.n_mismatches - 1].name, CRPC_MANIFEST_NAME) == 0;
		crpc_file_mismatch last = c.mismatches[c.n_mismatches - 1];

		if (self)
			c.n_mismatches--;
		if (mf_pending_finish(defer, &c, false) < 0 ||
		    (self && !add_mismatch(&c, last.problem, last.name))) {
			crpc_error_set(&e, CRPC_EXIT_FAIL, ENOMEM, op, "out of memory");
			goto out;
		}
		if (self)
			c.mismatches[c.n_mismatches - 1] = last;
	}
	if (c.n_mismatches) {
		mf_modified_error(&c, op, &e);
		goto out;
	}
	c.verdict = CRPC_MANIFEST_OK;
	rc = 0;
out:
	json_decref(root);
	if (rc < 0) {
		if (err && !*err)
			*err = e;
		else
			crpc_error_free(e);
	}
	if (out)
		*out = c;
	else
		crpc_manifest_check_release(&c);
	return rc;
}
