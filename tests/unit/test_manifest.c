/* SPDX-License-Identifier: MIT */
/*
 * test_manifest.c - crpc.json: written for a crafted checkpoint directory,
 * read back, verified, and refused once the directory is changed in each
 * way that matters (a byte of an image, its size, a missing or an added
 * image, the marker of an unfinished dump, a damaged or newer manifest);
 * the options with their sources; the temporary directory of a dump; and
 * the image reader behind `crpc show` on crafted core, ids, fdinfo, files
 * and pagemap images.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint/ck_int.h"
#include "core.pb-c.h"
#include "crpc/crpc.h"
#include "helpers.h"
#include "fdinfo.pb-c.h"
#include "inventory.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"
#include "base/sha256.h"
#include "checkpoint/manifest_int.h"

#define IMG_COMMON_MAGIC 0x54564319u
#define INVENTORY_MAGIC 0x58313116u
#define PSTREE_MAGIC 0x50273030u
#define CORE_MAGIC 0x55053847u
#define IDS_MAGIC 0x54432030u
#define FDINFO_MAGIC 0x56213732u
#define FILES_MAGIC 0x56303138u
#define PAGEMAP_MAGIC 0x56084025u

struct fixture {
	char path[64];
	int dirfd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "/tmp/crpc-test-manifest-XXXXXX");
	if (make_tmpdir(f->path, &f->dirfd) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->dirfd);
	rm_tree(f->path);
	free(f);
	return 0;
}

/* ---- crafted files ---- */

/* Append one entry (length, packed message) packed by `pack` into a scratch buffer. */
#define BUF_MSG(b, type, msg)                             \
	do {                                              \
		size_t n_ = type##__get_packed_size(msg); \
		uint8_t *t_ = malloc(n_ ? n_ : 1);        \
		assert_non_null(t_);                      \
		type##__pack(msg, t_);                    \
		buf_u32(b, (uint32_t)n_);                 \
		buf_put(b, t_, n_);                       \
		free(t_);                                 \
	} while (0)

static void write_str(int dirfd, const char *name, const char *s)
{
	write_file(dirfd, name, s, strlen(s));
}

static void append_str(int dirfd, const char *name, const char *s)
{
	int fd = openat(dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static void write_inventory(int dirfd)
{
	InventoryEntry ie = INVENTORY_ENTRY__INIT;
	struct buf b = { 0 };

	ie.img_version = 2;
	buf_u32(&b, INVENTORY_MAGIC);
	BUF_MSG(&b, inventory_entry, &ie);
	write_buf(dirfd, "inventory.img", &b);
}

/* Tree: 100 (threads 100, 103) -> 101 -> 102; 101 shares 100's fd table. */
static void write_pstree(int dirfd)
{
	uint32_t t0[] = { 100, 103 }, t1[] = { 101 }, t2[] = { 102 };
	uint32_t *th[] = { t0, t1, t2 };
	size_t nth[] = { 2, 1, 1 };
	uint32_t pid[] = { 100, 101, 102 }, ppid[] = { 0, 100, 101 };
	struct buf b = { 0 };

	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, PSTREE_MAGIC);
	for (int i = 0; i < 3; i++) {
		PstreeEntry pe = PSTREE_ENTRY__INIT;

		pe.pid = pid[i];
		pe.ppid = ppid[i];
		pe.pgid = 100;
		pe.sid = 100;
		pe.threads = th[i];
		pe.n_threads = nth[i];
		BUF_MSG(&b, pstree_entry, &pe);
	}
	write_buf(dirfd, "pstree.img", &b);
}

/* core-TID.img: the leader's with a task part (and, for 102, the ids inside, as older CRIU). */
static void write_core(int dirfd, uint32_t tid, const char *task_comm, const char *thread_comm,
		       int files_id_in_core)
{
	CoreEntry ce = CORE_ENTRY__INIT;
	CoreTask tc = CORE_TASK__INIT;
	CoreThread th = CORE_THREAD__INIT;
	CoreIds ids = CORE_IDS__INIT;
	struct buf b = { 0 };
	char name[32];

	if (task_comm) {
		tc.comm = (char *)task_comm;
		ce.tc = &tc;
	}
	th.comm = (char *)thread_comm;
	ce.thread_core = &th;
	if (files_id_in_core >= 0) {
		ids.has_files_id = true;
		ids.files_id = (uint32_t)files_id_in_core;
		ce.ids = &ids;
	}
	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, CORE_MAGIC);
	BUF_MSG(&b, core_entry, &ce);
	snprintf(name, sizeof(name), "core-%u.img", tid);
	write_buf(dirfd, name, &b);
}

static void write_ids(int dirfd, uint32_t pid, uint32_t files_id)
{
	CoreIds ids = CORE_IDS__INIT;
	struct buf b = { 0 };
	char name[32];

	ids.has_files_id = true;
	ids.files_id = files_id;
	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, IDS_MAGIC);
	BUF_MSG(&b, core_ids, &ids);
	snprintf(name, sizeof(name), "ids-%u.img", pid);
	write_buf(dirfd, name, &b);
}

static void write_fdinfo(int dirfd, uint32_t id, const uint32_t *types, size_t n)
{
	struct buf b = { 0 };
	char name[32];

	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, FDINFO_MAGIC);
	for (size_t i = 0; i < n; i++) {
		FdinfoEntry fe = FDINFO_ENTRY__INIT;

		fe.has_id = fe.has_flags = fe.has_type = fe.has_fd = true;
		fe.id = (uint32_t)i + 1;
		fe.type = types[i];
		fe.fd = (uint32_t)i;
		BUF_MSG(&b, fdinfo_entry, &fe);
	}
	snprintf(name, sizeof(name), "fdinfo-%u.img", id);
	write_buf(dirfd, name, &b);
}

static void write_files(int dirfd, const uint32_t *types, size_t n)
{
	struct buf b = { 0 };

	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, FILES_MAGIC);
	for (size_t i = 0; i < n; i++) {
		FileEntry fe = FILE_ENTRY__INIT;

		fe.has_type = fe.has_id = true;
		fe.type = types[i];
		fe.id = (uint32_t)i + 1;
		BUF_MSG(&b, file_entry, &fe);
	}
	write_buf(dirfd, "files.img", &b);
}

/* pagemap-PID.img with runs (pages, flags); flags < 0: an old-style entry without flags. */
static void write_pagemap(int dirfd, uint32_t pid, uint32_t pages_id, const long *runs, size_t n)
{
	PagemapHead h = PAGEMAP_HEAD__INIT;
	struct buf b = { 0 };
	char name[32];

	h.has_pages_id = true;
	h.pages_id = pages_id;
	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, PAGEMAP_MAGIC);
	BUF_MSG(&b, pagemap_head, &h);
	for (size_t i = 0; i < n; i++) {
		PagemapEntry pe = PAGEMAP_ENTRY__INIT;

		pe.has_vaddr = true;
		pe.vaddr = 0x400000 + i * 0x100000;
		if (runs[2 * i + 1] >= 0) {
			/* CRIU 4.2: the 64-bit count, the 32-bit one left 0, flags */
			pe.has_nr_pages_32 = true;
			pe.nr_pages_32 = 0;
			pe.has_nr_pages_64 = true;
			pe.nr_pages_64 = (uint64_t)runs[2 * i];
			pe.has_flags = true;
			pe.flags = (uint32_t)runs[2 * i + 1];
		} else {
			pe.has_nr_pages_32 = true;
			pe.nr_pages_32 = (uint32_t)runs[2 * i];
		}
		BUF_MSG(&b, pagemap_entry, &pe);
	}
	snprintf(name, sizeof(name), "pagemap-%u.img", pid);
	write_buf(dirfd, name, &b);
}

/* A small but complete crafted checkpoint. */
static void write_checkpoint(int dirfd)
{
	static const uint32_t fds_100[] = { 1, 1, 1, 2, 2, 5, 40 }; /* 40: a type crpc does not know */
	static const uint32_t fds_102[] = { 1, 4 };
	static const uint32_t files[] = { 1, 1, 2, 5, 4 };
	static const long pm100[] = { 10, 4, 3, 6, 2, 1 }; /* present, present+lazy, in parent */
	static const long pm101[] = { 5, -1 };             /* old style: present */
	static const long pm102[] = { 7, 4 };

	write_inventory(dirfd);
	write_pstree(dirfd);
	write_core(dirfd, 100, "server", "server", -1);
	write_core(dirfd, 103, NULL, "worker", -1);
	write_core(dirfd, 101, "helper", "helper", -1);
	write_core(dirfd, 102, "child", "child", 9);
	write_ids(dirfd, 100, 7);
	write_ids(dirfd, 101, 7);
	write_fdinfo(dirfd, 7, fds_100, sizeof(fds_100) / sizeof(fds_100[0]));
	write_fdinfo(dirfd, 9, fds_102, sizeof(fds_102) / sizeof(fds_102[0]));
	write_files(dirfd, files, sizeof(files) / sizeof(files[0]));
	write_pagemap(dirfd, 100, 1, pm100, 3);
	write_pagemap(dirfd, 101, 2, pm101, 1);
	write_pagemap(dirfd, 102, 3, pm102, 1);
	write_str(dirfd, "pages-1.img", "0123456789abcdef0123456789abcdef");
	write_str(dirfd, "dump.log", "(00.000001) log line\n");
	write_str(dirfd, "hooks.log", "[0.0] post-dump: ok\n");
}

static const char *const logs[] = { "dump.log", "hooks.log", NULL };

static void write_manifest_digest(int dirfd, crpc_digest d)
{
	crpc_manifest_options o = { 0 };
	crpc_manifest_info mi = { .digest = d };
	crpc_manifest_stats st;
	crpc_error *e = NULL;

	assert_int_equal(crpc_manifest_options_add(&o, "tcp_established", "true", "auto",
						   "established TCP connection", &e),
			 0);
	mi.pid = 100;
	mi.criu_version = "4.2.1";
	mi.criu_path = "/usr/sbin/criu";
	mi.options = &o;
	mi.log_files = logs;
	assert_int_equal(crpc_manifest_write(dirfd, &mi, &st, &e), 0);
	assert_null(e);
	assert_int_equal(st.files, 17); /* every regular file but crpc.json */
	assert_true(st.bytes > 0);
	crpc_manifest_options_release(&o);
}

static void write_manifest(int dirfd)
{
	write_manifest_digest(dirfd, CRPC_DIGEST_DEFAULT);
}

/* ---- tests ---- */

static void test_sha256(void **state)
{
	struct fixture *f = *state;
	char hex[65];
	uint64_t size = 0;
	crpc_error *e = NULL;

	write_str(f->dirfd, "abc", "abc");
	assert_int_equal(crpc_sha256_file_at(f->dirfd, "abc", true, &size, hex, &e), 0);
	assert_int_equal(size, 3);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	write_str(f->dirfd, "empty", "");
	assert_int_equal(crpc_sha256_file_at(f->dirfd, "empty", false, &size, hex, &e), 0);
	assert_int_equal(size, 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(crpc_sha256_file_at(f->dirfd, "nope", false, &size, hex, &e), -1);
	assert_non_null(e);
	assert_int_equal(e->sys_errno, ENOENT);
	crpc_error_free(e);
	e = NULL;
	assert_int_equal(mkdirat(f->dirfd, "sub", 0700), 0);
	assert_int_equal(crpc_sha256_file_at(f->dirfd, "sub", false, &size, hex, &e), -1);
	crpc_error_free(e);
}

/* the digest API over libcrypto loaded on first use: one shot, pieces, reset */
static void test_sha256_incremental(void **state)
{
	static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char want[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	crpc__sha256 *h = NULL;
	crpc_error *e = NULL;
	char hex[65];

	(void)state;
	assert_int_equal(crpc__sha256_buffer(msg, strlen(msg), hex, &e), 0);
	assert_string_equal(hex, want);
	assert_int_equal(crpc__sha256_new(&h, &e), 0);
	assert_int_equal(crpc__sha256_update(h, "junk", 4), 0);
	assert_int_equal(crpc__sha256_reset(h), 0);
	for (size_t i = 0; i < strlen(msg); i += 7)
		assert_int_equal(crpc__sha256_update(h, msg + i, strlen(msg) - i < 7 ? strlen(msg) - i : 7),
				 0);
	assert_int_equal(crpc__sha256_final(h, hex), 0);
	assert_string_equal(hex, want);
	crpc__sha256_free(h);
	crpc__sha256_free(NULL);
}

static void test_write_read(void **state)
{
	struct fixture *f = *state;
	crpc_error *e = NULL;
	char *text = NULL;
	json_t *m, *files, *tree, *opt;
	size_t len = 0;

	write_checkpoint(f->dirfd);
	write_manifest(f->dirfd);
	assert_int_equal(faccessat(f->dirfd, "crpc.json.tmp", F_OK, 0), -1);
	assert_int_equal(crpc_manifest_read(f->dirfd, &text, &len, &e), 0);
	assert_int_equal(strlen(text), len);
	m = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "format")), "crpc-checkpoint");
	assert_int_equal(json_integer_value(json_object_get(m, "format_version")), 2);
	assert_string_equal(json_string_value(json_object_get(m, "digest")), "blake3");
	assert_string_equal(json_string_value(json_object_get(json_object_get(m, "criu"), "version")),
			    "4.2.1");
	assert_non_null(json_string_value(json_object_get(json_object_get(m, "kernel"), "release")));
	assert_non_null(json_string_value(json_object_get(m, "created")));
	/* the command comes from the root's core image when the caller gives none */
	assert_string_equal(json_string_value(json_object_get(m, "command")), "server");

	files = json_object_get(m, "files");
	assert_int_equal(json_array_size(files), 17);
	/* sorted by name, each with size, its BLAKE3 and kind */
	for (size_t i = 1; i < json_array_size(files); i++)
		assert_true(strcmp(json_string_value(json_object_get(json_array_get(files, i - 1), "name")),
				   json_string_value(json_object_get(json_array_get(files, i), "name"))) < 0);
	for (size_t i = 0; i < json_array_size(files); i++) {
		json_t *x = json_array_get(files, i);
		const char *name = json_string_value(json_object_get(x, "name"));
		const char *kind = json_string_value(json_object_get(x, "kind"));

		char hex[65];
		uint64_t size;

		assert_non_null(name);
		assert_null(json_object_get(x, "sha256"));
		assert_int_equal(crpc_digest_file_at(f->dirfd, name, CRPC_DIGEST_BLAKE3, false, &size, hex,
						     &e),
				 0);
		assert_string_equal(json_string_value(json_object_get(x, "blake3")), hex);
		if (!strcmp(name, "dump.log") || !strcmp(name, "hooks.log"))
			assert_string_equal(kind, "log");
		else
			assert_string_equal(kind, "image");
		if (!strcmp(name, "pages-1.img"))
			assert_int_equal(json_integer_value(json_object_get(x, "size")), 32);
	}

	tree = json_object_get(m, "process_tree");
	assert_int_equal(json_array_size(tree), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tree, 1), "comm")), "helper");
	assert_int_equal(json_array_size(json_object_get(json_array_get(tree, 0), "threads")), 2);

	opt = json_array_get(json_object_get(m, "options"), 0);
	assert_string_equal(json_string_value(json_object_get(opt, "option")), "tcp_established");
	assert_true(json_is_true(json_object_get(opt, "value")));
	assert_string_equal(json_string_value(json_object_get(opt, "source")), "auto");
	assert_string_equal(json_string_value(json_object_get(opt, "reason")), "established TCP connection");
	json_decref(m);
}

static void expect_verdict(int dirfd, const char *const *ignore, crpc_manifest_verdict v, const char *needle)
{
	crpc_manifest_check c;
	crpc_error *e = NULL;
	int r = crpc_manifest_verify(dirfd, "ckpt", ignore, &c, &e);

	if (v == CRPC_MANIFEST_OK) {
		if (r != 0)
			fail_msg("verify failed: %s", e && e->message ? e->message : "?");
		assert_null(e);
	} else {
		assert_int_equal(r, -1);
		assert_non_null(e);
		assert_int_equal(e->exit_class, CRPC_EXIT_FAIL);
		if (needle && !strstr(e->message, needle))
			fail_msg("'%s' not in '%s'", needle, e->message);
		assert_non_null(e->hint);
	}
	assert_int_equal(c.verdict, v);
	crpc_error_free(e);
	crpc_manifest_check_release(&c);
}

static void test_verify_ok_and_logs(void **state)
{
	struct fixture *f = *state;
	crpc_manifest_check c;
	crpc_error *e = NULL;

	write_checkpoint(f->dirfd);
	write_manifest(f->dirfd);
	assert_int_equal(crpc_manifest_verify(f->dirfd, "ckpt", NULL, &c, &e), 0);
	assert_int_equal(c.st.files, 15); /* logs are not verified */
	crpc_manifest_check_release(&c);
	/* what a restore writes does not break the next one */
	append_str(f->dirfd, "hooks.log", "[1.0] pre-restore: ok\n");
	append_str(f->dirfd, "dump.log", "more\n");
	write_str(f->dirfd, "restore.log", "restore\n");
	write_str(f->dirfd, "stats-restore", "xx");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_OK, NULL);
}

static void test_verify_checksum(void **state)
{
	struct fixture *f = *state;
	crpc_manifest_check c;
	crpc_error *e = NULL;

	write_checkpoint(f->dirfd);
	write_manifest(f->dirfd);
	/* same size, one byte changed */
	write_str(f->dirfd, "pages-1.img", "0123456789abcdef0123456789abcdeF");
	assert_int_equal(crpc_manifest_verify(f->dirfd, "ckpt", NULL, &c, &e), -1);
	assert_int_equal(c.verdict, CRPC_MANIFEST_MODIFIED);
	assert_int_equal(c.n_mismatches, 1);
	assert_int_equal(c.mismatches[0].problem, CRPC_FILE_CHECKSUM);
	assert_string_equal(c.mismatches[0].name, "pages-1.img");
	assert_int_equal(strlen(c.mismatches[0].expected_sha256), 64);
	assert_string_not_equal(c.mismatches[0].expected_sha256, c.mismatches[0].sha256);
	assert_string_equal(c.digest, "blake3");
	assert_non_null(strstr(e->message, "checkpoint modified: pages-1.img blake3 mismatch (expected "));
	assert_non_null(strstr(e->message, c.mismatches[0].sha256));
	assert_non_null(strstr(e->hint, "--force"));
	crpc_error_free(e);
	crpc_manifest_check_release(&c);
}

static void test_verify_size_missing_unlisted(void **state)
{
	struct fixture *f = *state;
	crpc_manifest_check c;
	crpc_error *e = NULL;
	const char *const ignore[] = { "restore-extra.img", NULL };

	write_checkpoint(f->dirfd);
	write_manifest(f->dirfd);
	write_str(f->dirfd, "pages-1.img", "short");
	assert_int_equal(unlinkat(f->dirfd, "core-101.img", 0), 0);
	write_str(f->dirfd, "extra-1.img", "x");
	write_str(f->dirfd, "restore-extra.img", "x"); /* ignored by the caller's list */
	write_str(f->dirfd, "notes.txt", "not an image: allowed");
	assert_int_equal(crpc_manifest_verify(f->dirfd, "ckpt", ignore, &c, &e), -1);
	assert_int_equal(c.verdict, CRPC_MANIFEST_MODIFIED);
	assert_int_equal(c.n_mismatches, 3);
	for (size_t i = 0; i < c.n_mismatches; i++) {
		const crpc_file_mismatch *m = &c.mismatches[i];

		if (!strcmp(m->name, "core-101.img"))
			assert_int_equal(m->problem, CRPC_FILE_MISSING);
		else if (!strcmp(m->name, "pages-1.img")) {
			assert_int_equal(m->problem, CRPC_FILE_SIZE);
			assert_int_equal(m->size, 5);
			assert_int_equal(m->expected_size, 32);
		} else {
			assert_string_equal(m->name, "extra-1.img");
			assert_int_equal(m->problem, CRPC_FILE_UNLISTED);
		}
	}
	assert_non_null(strstr(e->message, "(and 2 more problems)"));
	crpc_error_free(e);
	crpc_manifest_check_release(&c);
}

static void test_verify_unfinished_and_missing(void **state)
{
	struct fixture *f = *state;

	/* not a checkpoint at all: the images check's own message */
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_NOT_CHECKPOINT, "the directory is empty");
	/* CRIU images but no manifest (a plain criu dump) */
	write_checkpoint(f->dirfd);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_MISSING, "no crpc.json");
	/* a complete one with the marker of a dump that did not finish */
	write_manifest(f->dirfd);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_OK, NULL);
	write_str(f->dirfd, CRPC_INPROGRESS_MARKER, "crpc dump\n");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_UNFINISHED, "did not complete");
	/* images_validate lets restore --force through, the plain check does not */
	{
		crpc_error *e = NULL;

		assert_int_equal(crpc_images_validate(f->dirfd, "ckpt", true, &e), 0);
		assert_int_equal(crpc_images_check(f->dirfd, "ckpt", &e), -1);
		crpc_error_free(e);
	}
}

static void test_verify_invalid(void **state)
{
	struct fixture *f = *state;

	write_checkpoint(f->dirfd);
	write_str(f->dirfd, "crpc.json", "{\"format\": \"crpc-checkpoint\", \"format_version\": 1, ");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "not valid JSON");
	write_str(f->dirfd, "crpc.json", "{\"format\": \"something-else\", \"format_version\": 1}");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "not a crpc checkpoint manifest");
	write_str(f->dirfd, "crpc.json",
		  "{\"format\": \"crpc-checkpoint\", \"format_version\": 99, \"files\": []}");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "format version 99");
	write_str(f->dirfd, "crpc.json", "{\"format\": \"crpc-checkpoint\", \"format_version\": 1}");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "no \"files\" list");
	write_str(f->dirfd, "crpc.json",
		  "{\"format\": \"crpc-checkpoint\", \"format_version\": 1, \"files\": "
		  "[{\"name\": \"../etc/passwd\", \"size\": 1, \"sha256\": "
		  "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "entry 1");
	write_str(f->dirfd, "crpc.json",
		  "{\"format\": \"crpc-checkpoint\", \"format_version\": 1, \"files\": "
		  "[{\"name\": \"a.img\", \"size\": 1, \"sha256\": \"xyz\"}]}");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "entry 1");
	/* a file listed twice: the second entry could say anything */
	write_str(f->dirfd, "crpc.json",
		  "{\"format\": \"crpc-checkpoint\", \"format_version\": 1, \"files\": ["
		  "{\"name\": \"a.img\", \"size\": 0, \"sha256\": "
		  "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}, "
		  "{\"name\": \"a.img\", \"size\": 0, \"sha256\": "
		  "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "lists a.img twice");
}

static void test_options(void **state)
{
	crpc_manifest_options l = { 0 };
	crpc_opts eff, cfg;
	crpc_error *e = NULL;
	bool saw_ghost = false, saw_ext = false, saw_tcp = false, saw_ll = false;

	(void)state;
	crpc_opts_init(&eff);
	crpc_opts_init(&cfg);
	eff.tcp_established = true;
	eff.shell_job = true;
	cfg.shell_job = true;
	eff.ghost_limit_set = true;
	eff.ghost_limit = 10u << 20;
	eff.log_level = 2;
	eff.log_file = "dump.log";
	assert_int_equal(crpc_opts_add_external(&eff, "unix[123]", &e), 0);
	/* an automatic option with its reason, given first, is kept as it is */
	assert_int_equal(crpc_manifest_options_add(&l, "tcp_established", "true", "auto", "TCP in pid 1", &e),
			 0);
	assert_int_equal(crpc_manifest_options_from_opts(&l, &eff, &cfg, &e), 0);
	for (size_t i = 0; i < l.n; i++) {
		const crpc_manifest_option *o = &l.v[i];

		if (!strcmp(o->option, "tcp_established")) {
			assert_false(saw_tcp);
			saw_tcp = true;
			assert_string_equal(o->source, "auto");
		} else if (!strcmp(o->option, "shell_job")) {
			assert_string_equal(o->source, "config");
		} else if (!strcmp(o->option, "ghost_limit")) {
			saw_ghost = true;
			assert_string_equal(o->value, "10485760");
			assert_string_equal(o->source, "user");
		} else if (!strcmp(o->option, "external")) {
			saw_ext = true;
			assert_string_equal(o->value, "unix[123]");
		} else if (!strcmp(o->option, "log_level")) {
			saw_ll = true;
			assert_string_equal(o->value, "2");
		}
		assert_true(strcmp(o->option, "leave_running") != 0);
	}
	assert_true(saw_tcp && saw_ghost && saw_ext && saw_ll);
	crpc_manifest_options_release(&l);
	assert_int_equal(l.n, 0);
	crpc_opts_release(&eff);
}

static void test_dumpdir(void **state)
{
	struct fixture *f = *state;
	char dir[128], *tmp = NULL, *left;
	crpc_error *e = NULL;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/ckpt", f->path);
	assert_null(ck_dumpdir_leftover(dir));
	assert_int_equal(ck_dumpdir_create(dir, &tmp, &e), 0);
	assert_non_null(strstr(tmp, "/ckpt.crpc-tmp-"));
	assert_int_equal(stat(tmp, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	left = ck_dumpdir_leftover(dir);
	assert_non_null(left);
	assert_string_equal(left, tmp);
	free(left);
	/* a name that merely starts like DIR is no leftover of it */
	{
		char other[160];

		snprintf(other, sizeof(other), "%s/ckpt2", f->path);
		assert_null(ck_dumpdir_leftover(other));
	}
	{
		/* with the directory's fd: synced after the rename, through the same fd */
		int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(dfd >= 0);
		assert_int_equal(ck_dumpdir_commit(tmp, dir, dfd, &e), 0);
		close(dfd);
	}
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(stat(tmp, &st), -1);
	assert_null(ck_dumpdir_leftover(dir));
	free(tmp);
	/* DIR exists and is not empty: the temporary directory stays */
	{
		char f2[160];

		snprintf(f2, sizeof(f2), "%s/x", dir);
		assert_int_equal(close(open(f2, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
	}
	assert_int_equal(ck_dumpdir_create(dir, &tmp, &e), 0);
	assert_int_equal(ck_dumpdir_commit(tmp, dir, -1, &e), -1);
	assert_non_null(e);
	assert_int_equal(stat(tmp, &st), 0);
	crpc_error_free(e);
	free(tmp);
}

static void test_images_info(void **state)
{
	struct fixture *f = *state;
	crpc_images_info in;
	crpc_error *e = NULL;

	write_checkpoint(f->dirfd);
	assert_int_equal(crpc_images_info_read(f->dirfd, &in, &e), 0);
	assert_int_equal(in.n_tasks, 3);
	assert_string_equal(in.tasks[0].comm, "server");
	assert_string_equal(in.tasks[0].thread_comm[1].comm, "worker");
	assert_string_equal(in.tasks[1].comm, "helper");
	assert_string_equal(in.tasks[2].comm, "child");
	/* fd tables: 100 and 101 share table 7 (from ids images), 102 has 9 (from its core) */
	assert_true(in.tasks[0].have_fds && in.tasks[1].have_fds && in.tasks[2].have_fds);
	assert_int_equal(in.tasks[0].files_id, 7);
	assert_int_equal(in.tasks[2].files_id, 9);
	assert_int_equal(in.tasks[0].fds.total, 7);
	assert_int_equal(in.tasks[1].fds.total, 7);
	assert_int_equal(in.tasks[0].fds.by_type[1], 3);
	assert_int_equal(in.tasks[0].fds.by_type[CRPC_FD_TYPE_SLOTS - 1], 1);
	assert_int_equal(in.n_fd_tables, 2);
	assert_int_equal(in.fds.total, 9); /* the shared table counted once */
	assert_int_equal(in.fds.by_type[4], 1);
	assert_true(in.have_files);
	assert_int_equal(in.files.total, 5);
	assert_int_equal(in.files.by_type[1], 2);
	/* pages: 100 has 10 present, 3 present+lazy, 2 in a parent; 101 5 (old style); 102 7 */
	assert_int_equal(in.tasks[0].pages.pages, 15);
	assert_int_equal(in.tasks[0].pages.present, 13);
	assert_int_equal(in.tasks[0].pages.lazy, 3);
	assert_int_equal(in.tasks[0].pages.parent, 2);
	assert_int_equal(in.tasks[1].pages.present, 5);
	assert_int_equal(in.pages.present, 25);
	assert_int_equal(in.pages.pages, 27);
	assert_int_equal(in.n_pages_files, 1);
	assert_int_equal(in.pages_bytes, 32);
	assert_false(in.have_stats);
	assert_int_equal(in.n_warnings, 0);
	assert_string_equal(crpc_criu_fd_type_name(5), "unixsk");
	assert_null(crpc_criu_fd_type_name(40));
	crpc_images_info_release(&in);

	/* a damaged task image is a warning, the rest is still read */
	write_str(f->dirfd, "pagemap-101.img", "garbage!");
	assert_int_equal(unlinkat(f->dirfd, "core-102.img", 0), 0);
	assert_int_equal(crpc_images_info_read(f->dirfd, &in, &e), 0);
	assert_int_equal(in.n_warnings, 3); /* pagemap-101 damaged; core-102 and so ids-102 missing */
	assert_false(in.tasks[1].have_pages);
	assert_false(in.tasks[2].have_fds);
	assert_string_equal(in.tasks[2].comm, "");
	assert_true(in.tasks[0].have_pages);
	crpc_images_info_release(&in);
}

static void test_manifest_without_images(void **state)
{
	struct fixture *f = *state;
	crpc_manifest_info mi = { 0 };
	crpc_manifest_stats st;
	crpc_error *e = NULL;
	char *text = NULL;
	json_t *m;

	/* a dump that wrote nothing (a replayed session): still a manifest, without tree or stats */
	mi.pid = 42;
	assert_int_equal(crpc_manifest_write(f->dirfd, &mi, &st, &e), 0);
	assert_int_equal(st.files, 0);
	assert_int_equal(crpc_manifest_read(f->dirfd, &text, NULL, &e), 0);
	m = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(m);
	assert_int_equal(json_array_size(json_object_get(m, "files")), 0);
	assert_null(json_object_get(m, "process_tree"));
	assert_null(json_object_get(m, "stats"));
	json_decref(m);
}

/* ---- crpc.json's own checksum ---- */

/* Load crpc.json, let edit() change it, write it back in another layout. */
static void rewrite_manifest(int dirfd, void (*edit)(json_t *m))
{
	char *text = NULL;
	json_t *m;
	crpc_error *e = NULL;
	char *out;

	assert_int_equal(crpc_manifest_read(dirfd, &text, NULL, &e), 0);
	m = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(m);
	if (edit)
		edit(m);
	out = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(out);
	write_str(dirfd, "crpc.json", out);
	free(out);
	json_decref(m);
}

static void edit_option(json_t *m)
{
	json_t *o = json_array_get(json_object_get(m, "options"), 0);

	json_object_set_new(o, "value", json_false());
}

static void drop_self_sha(json_t *m)
{
	json_object_del(m, "manifest_sha256");
	json_object_del(m, "manifest_blake3");
}

static void damage_self_sha(json_t *m)
{
	json_object_set_new(m, "manifest_blake3", json_string("not a checksum"));
}

/* The checksum of itself as the crpc before the BLAKE3 key wrote it: SHA-256, over BLAKE3 files. */
static void reseal_sha256(json_t *m)
{
	char hex[65];

	json_object_del(m, MF_SELF_B3_KEY);
	assert_int_equal(mf_self_digest(m, CRPC_DIGEST_SHA256, hex), 0);
	json_object_set_new(m, MF_SELF_SHA_KEY, json_string(hex));
}

/* Both checksums, the SHA-256 one wrong (the BLAKE3 one right): still refused. */
static void add_wrong_sha256(json_t *m)
{
	json_object_set_new(m, MF_SELF_SHA_KEY,
			    json_string("0000000000000000000000000000000000000000000000000000000000000000"));
}

/* crpc.json rewritten as an older crpc wrote it: version 1, no "digest" (its files' SHA-256) */
static void make_old_format(json_t *m)
{
	char hex[65];

	json_object_del(m, "digest");
	json_object_set_new(m, "format_version", json_integer(1));
	assert_int_equal(mf_self_digest(m, CRPC_DIGEST_SHA256, hex), 0);
	json_object_set_new(m, MF_SELF_SHA_KEY, json_string(hex));
}

static const char *edit_digest_to;

/* "digest" set to edit_digest_to, and resealed: what an edit that also fixed the checksum gives */
static void set_digest(json_t *m)
{
	char hex[65];

	json_object_set_new(m, "digest", json_string(edit_digest_to));
	assert_int_equal(mf_self_digest(m, CRPC_DIGEST_BLAKE3, hex), 0);
	json_object_set_new(m, MF_SELF_B3_KEY, json_string(hex));
}

/* SHA-256 on request, old manifests with SHA-256 only, digests this crpc does not know */
static void test_digests(void **state)
{
	struct fixture *f = *state;
	crpc_manifest_check c;
	crpc_error *e = NULL;
	char *text = NULL, hex[65];
	uint64_t size;
	json_t *m, *x;
	size_t i;

	write_checkpoint(f->dirfd);
	write_manifest_digest(f->dirfd, CRPC_DIGEST_SHA256);
	assert_int_equal(crpc_manifest_read(f->dirfd, &text, NULL, &e), 0);
	m = json_loads(text, 0, NULL);
	free(text);
	assert_string_equal(json_string_value(json_object_get(m, "digest")), "sha256");
	json_array_foreach(json_object_get(m, "files"), i, x) {
		assert_null(json_object_get(x, "blake3"));
		assert_int_equal(crpc_sha256_file_at(f->dirfd, json_string_value(json_object_get(x, "name")),
						     false, &size, hex, &e),
				 0);
		assert_string_equal(json_string_value(json_object_get(x, "sha256")), hex);
	}
	json_decref(m);
	assert_int_equal(crpc_manifest_verify(f->dirfd, "ckpt", NULL, &c, &e), 0);
	assert_string_equal(c.digest, "sha256");
	crpc_manifest_check_release(&c);

	/* the format of an older crpc: still verified, with SHA-256, and still refused when changed */
	rewrite_manifest(f->dirfd, make_old_format);
	assert_int_equal(crpc_manifest_verify(f->dirfd, "ckpt", NULL, &c, &e), 0);
	assert_string_equal(c.digest, "sha256");
	assert_int_equal(c.verdict, CRPC_MANIFEST_OK);
	crpc_manifest_check_release(&c);
	write_str(f->dirfd, "pages-1.img", "0123456789abcdef0123456789abcdeF");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_MODIFIED, "pages-1.img sha256 mismatch");
	write_str(f->dirfd, "pages-1.img", "0123456789abcdef0123456789abcdef");
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_OK, NULL);

	/* a digest this crpc does not know, or one whose values the files lack */
	write_manifest(f->dirfd);
	edit_digest_to = "md5";
	rewrite_manifest(f->dirfd, set_digest);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID,
		       "a digest this crpc does not know (\"digest\": \"md5\"");
	write_manifest(f->dirfd);
	edit_digest_to = "sha256";
	rewrite_manifest(f->dirfd, set_digest);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "is not {name, size, sha256}");
}

static void test_verify_self_checksum(void **state)
{
	struct fixture *f = *state;
	crpc_manifest_check c;
	crpc_error *e = NULL;
	char *text = NULL;
	json_t *m;

	write_checkpoint(f->dirfd);
	write_manifest(f->dirfd);
	assert_int_equal(crpc_manifest_read(f->dirfd, &text, NULL, &e), 0);
	m = json_loads(text, 0, NULL);
	free(text);
	/* BLAKE3, as the files: no libcrypto for an unsigned checkpoint */
	assert_int_equal(strlen(json_string_value(json_object_get(m, "manifest_blake3"))), 64);
	assert_null(json_object_get(m, "manifest_sha256"));
	json_decref(m);

	/* another layout of the same content is the same manifest */
	rewrite_manifest(f->dirfd, NULL);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_OK, NULL);

	/* an option changed: refused, crpc.json named, a hint of its own */
	rewrite_manifest(f->dirfd, edit_option);
	assert_int_equal(crpc_manifest_verify(f->dirfd, "ckpt", NULL, &c, &e), -1);
	assert_int_equal(c.verdict, CRPC_MANIFEST_MODIFIED);
	assert_int_equal(c.n_mismatches, 1);
	assert_string_equal(c.mismatches[0].name, "crpc.json");
	assert_int_equal(c.mismatches[0].problem, CRPC_FILE_CHECKSUM);
	assert_int_equal(strlen(c.mismatches[0].sha256), 64);
	assert_string_not_equal(c.mismatches[0].sha256, c.mismatches[0].expected_sha256);
	assert_non_null(strstr(e->message, "crpc.json was changed after the dump"));
	assert_non_null(strstr(e->hint, "command line"));
	crpc_error_free(e);
	e = NULL;
	crpc_manifest_check_release(&c);

	/* ... and with an image changed too: the image comes first */
	write_str(f->dirfd, "pages-1.img", "0123456789abcdef0123456789abcdeX");
	assert_int_equal(crpc_manifest_verify(f->dirfd, "ckpt", NULL, &c, &e), -1);
	assert_int_equal(c.n_mismatches, 2);
	assert_string_equal(c.mismatches[0].name, "pages-1.img");
	assert_string_equal(c.mismatches[1].name, "crpc.json");
	assert_non_null(strstr(e->message, "pages-1.img blake3 mismatch"));
	assert_non_null(strstr(e->hint, "images were changed"));
	crpc_error_free(e);
	e = NULL;
	crpc_manifest_check_release(&c);

	/* a damaged checksum makes the manifest invalid; none at all (an older crpc) is not checked */
	write_str(f->dirfd, "pages-1.img", "0123456789abcdef0123456789abcdef");
	write_manifest(f->dirfd);
	rewrite_manifest(f->dirfd, damage_self_sha);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_INVALID, "\"manifest_blake3\" is not a blake3 in hex");
	write_manifest(f->dirfd);
	rewrite_manifest(f->dirfd, drop_self_sha);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_OK, NULL);

	/* the crpc before the BLAKE3 key: SHA-256 of itself over BLAKE3 files, verified */
	write_manifest(f->dirfd);
	rewrite_manifest(f->dirfd, reseal_sha256);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_OK, NULL);
	rewrite_manifest(f->dirfd, edit_option);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_MODIFIED, "crpc.json was changed after the dump");
	/* both keys: each must match */
	write_manifest(f->dirfd);
	rewrite_manifest(f->dirfd, add_wrong_sha256);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_MODIFIED, "crpc.json was changed after the dump");
}

/* ---- who may have written the checkpoint ---- */

static void test_trust(void **state)
{
	struct fixture *f = *state;
	crpc_error *e = NULL;

	write_checkpoint(f->dirfd);
	assert_int_equal(fchmod(f->dirfd, 0700), 0);
	assert_int_equal(crpc_manifest_check_trust(f->dirfd, "ckpt", (uid_t)-1, &e), 0);

	/* a file of another user: refused, named with its owner; accepted when that user is trusted */
	assert_int_equal(fchownat(f->dirfd, "pages-1.img", 4242, 4242, 0), 0);
	assert_int_equal(crpc_manifest_check_trust(f->dirfd, "ckpt", (uid_t)-1, &e), -1);
	assert_non_null(strstr(e->message, "ckpt/pages-1.img belongs to uid 4242"));
	assert_non_null(strstr(e->hint, "--trust-owner"));
	crpc_error_free(e);
	e = NULL;
	assert_int_equal(crpc_manifest_check_trust(f->dirfd, "ckpt", 4242, &e), 0);
	assert_int_equal(fchownat(f->dirfd, "pages-1.img", 0, 0, 0), 0);

	/* writable by others, the directory too */
	assert_int_equal(fchmodat(f->dirfd, "pstree.img", 0666, 0), 0);
	assert_int_equal(crpc_manifest_check_trust(f->dirfd, "ckpt", (uid_t)-1, &e), -1);
	assert_non_null(strstr(e->message, "ckpt/pstree.img is writable by others (mode 0666)"));
	crpc_error_free(e);
	e = NULL;
	assert_int_equal(fchmodat(f->dirfd, "pstree.img", 0600, 0), 0);
	assert_int_equal(fchmod(f->dirfd, 0770), 0);
	assert_int_equal(crpc_manifest_check_trust(f->dirfd, "ckpt", (uid_t)-1, &e), -1);
	assert_non_null(strstr(e->message, "ckpt is writable by its group"));
	crpc_error_free(e);
	e = NULL;
	assert_int_equal(fchmod(f->dirfd, 0700), 0);

	/* a symlink planted among the images */
	assert_int_equal(symlinkat("/etc/shadow", f->dirfd, "core-1.img"), 0);
	assert_int_equal(crpc_manifest_check_trust(f->dirfd, "ckpt", (uid_t)-1, &e), -1);
	assert_non_null(strstr(e->message, "core-1.img is a symbolic link"));
	crpc_error_free(e);
	assert_int_equal(unlinkat(f->dirfd, "core-1.img", 0), 0);
}

/* ---- what a restore takes from the manifest ---- */

/* Write a manifest (over the crafted checkpoint) with these options. */
static void write_manifest_opts(int dirfd, const char *const (*opts)[4], size_t n)
{
	crpc_manifest_options o = { 0 };
	crpc_manifest_info mi = { 0 };
	crpc_error *e = NULL;

	for (size_t i = 0; i < n; i++)
		assert_int_equal(crpc_manifest_options_add(&o, opts[i][0], opts[i][1], opts[i][2],
							   opts[i][3], &e),
				 0);
	mi.pid = 100;
	mi.options = &o;
	mi.log_files = logs;
	assert_int_equal(crpc_manifest_write(dirfd, &mi, NULL, &e), 0);
	crpc_manifest_options_release(&o);
}

/* crpc.json's "namespaces": what the dump recorded is what the restore reads. */
static void test_namespaces(void **state)
{
	struct fixture *f = *state;
	crpc_ns_mount mounts[2] = {
		{ .id = 1,
		  .mountpoint = "/",
		  .fstype = "ext4",
		  .how = CRPC_NS_MOUNT_EXTERNAL,
		  .source = "/srv/root",
		  .major = 254,
		  .minor = 1 },
		{ .id = 2, .mountpoint = "/proc", .fstype = "proc", .how = CRPC_NS_MOUNT_RECREATED },
	};
	crpc_ns_file files[2] = {
		{ .pid = 100,
		  .fd = 0,
		  .mount_id = 24,
		  .inode = 3,
		  .dev = 6,
		  .flags = 0,
		  .path = "/dev/null",
		  .key = "file[18:3]" },
		{ .pid = 101,
		  .fd = 1,
		  .mount_id = 24,
		  .inode = 3,
		  .dev = 6,
		  .flags = 1,
		  .path = "/dev/null",
		  .key = "file[18:3]" },
	};
	crpc_ns_netdev devs[2] = {
		{ .name = "lo" },
		{ .name = "v0",
		  .kind = "veth",
		  .peer_outside = true,
		  .peer_here = true,
		  .peer_name = "v0h",
		  .peer_master = "br0",
		  .peer_addrs = "10.1.0.1/30" },
	};
	crpc_ns_tree t = { .own = 1u << CRPC_NS_PID | 1u << CRPC_NS_MNT | 1u << CRPC_NS_NET,
			   .pid_init = true,
			   .root = "/srv/root",
			   .mounts = mounts,
			   .n_mounts = 2,
			   .files = files,
			   .n_files = 2,
			   .netdevs = devs,
			   .n_netdevs = 2 };
	crpc_manifest_info mi = { 0 };
	crpc_manifest m;
	crpc_error *e = NULL;
	char *text = NULL;
	size_t len;

	write_checkpoint(f->dirfd);
	mi.pid = 100;
	mi.log_files = logs;
	mi.ns = &t;
	assert_int_equal(crpc_manifest_write(f->dirfd, &mi, NULL, &e), 0);
	assert_int_equal(crpc_manifest_load(f->dirfd, &m, &e), 0);
	assert_int_equal(m.ns.own, t.own);
	assert_string_equal(m.ns.root, "/srv/root");
	/* the external mounts: what the restore checks is there */
	assert_int_equal(m.ns.n_mounts, 1);
	assert_string_equal(m.ns.mounts[0].mountpoint, "/");
	assert_string_equal(m.ns.mounts[0].source, "/srv/root");
	assert_int_equal(m.ns.mounts[0].major, 254);
	assert_int_equal(m.ns.mounts[0].minor, 1);
	/* one entry per file, however many fds held it */
	assert_int_equal(m.ns.n_files, 1);
	assert_string_equal(m.ns.files[0].key, "file[18:3]");
	assert_string_equal(m.ns.files[0].path, "/dev/null");
	assert_int_equal(m.ns.files[0].inode, 3);
	assert_int_equal(m.ns.files[0].dev, 6);
	/* only veths with their other end in crpc's namespace */
	assert_int_equal(m.ns.n_veths, 1);
	assert_string_equal(m.ns.veths[0].name, "v0");
	assert_string_equal(m.ns.veths[0].peer, "v0h");
	assert_string_equal(m.ns.veths[0].bridge, "br0");
	assert_string_equal(m.ns.veths[0].peer_addrs, "10.1.0.1/30");
	assert_int_equal(m.ns.userns_gid0, -1); /* no user namespace of its own */
	crpc_manifest_release(&m);
	/* the external mounts are listed for people, with where they come from */
	assert_int_equal(crpc_manifest_read(f->dirfd, &text, &len, &e), 0);
	assert_non_null(strstr(text, "\"source\": \"/srv/root\""));
	assert_null(strstr(text, "\"mountpoint\": \"/proc\""));
	free(text);

	/* a user namespace of its own: the ids of its uid and gid 0 outside */
	t.own |= 1u << CRPC_NS_USER;
	t.userns_uid0 = 20000;
	t.userns_gid0 = 400000;
	assert_int_equal(crpc_manifest_write(f->dirfd, &mi, NULL, &e), 0);
	assert_int_equal(crpc_manifest_load(f->dirfd, &m, &e), 0);
	assert_true(m.ns.own & (1u << CRPC_NS_USER));
	assert_int_equal(m.ns.userns_uid0, 20000);
	assert_int_equal(m.ns.userns_gid0, 400000);
	crpc_manifest_release(&m);
	t.userns_uid0 = -1; /* unmapped: null, read as -1 */
	assert_int_equal(crpc_manifest_write(f->dirfd, &mi, NULL, &e), 0);
	assert_int_equal(crpc_manifest_load(f->dirfd, &m, &e), 0);
	assert_int_equal(m.ns.userns_uid0, -1);
	assert_int_equal(m.ns.userns_gid0, 400000);
	crpc_manifest_release(&m);

	/* a tree sharing crpc's namespaces: "namespaces" is null and reads as none */
	mi.ns = NULL;
	assert_int_equal(crpc_manifest_write(f->dirfd, &mi, NULL, &e), 0);
	assert_int_equal(crpc_manifest_load(f->dirfd, &m, &e), 0);
	assert_int_equal(m.ns.own, 0);
	assert_null(m.ns.root);
	assert_int_equal(m.ns.n_files, 0);
	crpc_manifest_release(&m);
	crpc_error_free(e);
}

static const crpc_manifest_option *find_opt(const crpc_manifest_options *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].option, name))
			return &l->v[i];
	return NULL;
}

static const char *const dump_opts[][4] = {
	{ "tcp_established", "true", "auto", "established TCP connection in PID 100 fd 4" },
	{ "shell_job", "true", "config", NULL },
	{ "file_locks", "true", "user", "given on the command line" },
	{ "ext_unix_sk", "true", "auto", "datagram socket connected outside" },
	{ "ghost_limit", "3145728", "auto", "deleted file of 3 MiB" },
	{ "link_remap", "true", "user", NULL },
	{ "leave_running", "true", "user", NULL },
	{ "external", "mnt[/srv]:srv", "user", NULL },
	{ "manage_cgroups", "true", "user", NULL },
	{ "manage_cgroups_mode", "full", "user", NULL },
	{ "network_lock", "nftables", "config", NULL },
	{ "empty_ns", "1073741824", "user", NULL },
	{ "log_level", "4", "user", NULL },
};

static void test_restore_opts(void **state)
{
	struct fixture *f = *state;
	crpc_manifest m;
	crpc_manifest_options applied = { 0 }, not_applied = { 0 };
	const crpc_manifest_option *x;
	crpc_opts o;
	crpc_error *e = NULL;

	write_checkpoint(f->dirfd);
	write_manifest_opts(f->dirfd, dump_opts, sizeof(dump_opts) / sizeof(dump_opts[0]));
	assert_int_equal(crpc_manifest_load(f->dirfd, &m, &e), 0);
	assert_int_equal(m.options.n, sizeof(dump_opts) / sizeof(dump_opts[0]));
	/* values come back as text, whatever their JSON type */
	assert_string_equal(find_opt(&m.options, "ghost_limit")->value, "3145728");
	assert_string_equal(find_opt(&m.options, "tcp_established")->value, "true");
	assert_string_equal(find_opt(&m.options, "tcp_established")->reason,
			    "established TCP connection in PID 100 fd 4");
	assert_null(find_opt(&m.options, "shell_job")->reason);
	assert_int_equal(m.n_outside_pipes, 0);

	/* nothing set by the user: every restore-side counterpart is applied */
	crpc_opts_init(&o);
	assert_int_equal(crpc_manifest_restore_opts(&m, &o, &applied, &not_applied, &e), 0);
	assert_true(o.tcp_established && o.shell_job && o.file_locks && o.ext_unix_sk);
	assert_false(o.tcp_close);
	assert_true(o.manage_cgroups);
	assert_int_equal(o.manage_cgroups_mode, CRPC_CG_FULL);
	assert_int_equal(o.network_lock, CRPC_NETLOCK_NFTABLES);
	assert_int_equal(o.empty_ns, 1073741824u);
	/* dump-only options are not */
	assert_false(o.ghost_limit_set || o.link_remap || o.leave_running);
	assert_int_equal(o.n_external, 0);
	assert_int_equal(o.log_level, -1);
	assert_int_equal(applied.n, 8);
	x = find_opt(&applied, "tcp_established");
	assert_non_null(x);
	assert_string_equal(x->source, "auto");
	assert_string_equal(x->reason, "established TCP connection in PID 100 fd 4");
	assert_string_equal(find_opt(&applied, "shell_job")->source, "config");
	assert_non_null(find_opt(&applied, "manage_cgroups_mode"));
	assert_int_equal(not_applied.n, 5);
	assert_non_null(strstr(find_opt(&not_applied, "ghost_limit")->reason, "dump only"));
	assert_non_null(strstr(find_opt(&not_applied, "leave_running")->reason, "dump only"));
	assert_non_null(
		strstr(find_opt(&not_applied, "external")->reason, "--external in the restore's form"));
	assert_non_null(strstr(find_opt(&not_applied, "log_level")->reason, "its own"));
	crpc_manifest_options_release(&applied);
	crpc_manifest_options_release(&not_applied);

	/* the user's settings win, groups included */
	crpc_opts_init(&o);
	o.tcp_close = true;
	o.shell_job = true;
	o.network_lock = CRPC_NETLOCK_IPTABLES;
	o.manage_cgroups_mode = CRPC_CG_SOFT;
	assert_int_equal(crpc_manifest_restore_opts(&m, &o, &applied, &not_applied, &e), 0);
	assert_false(o.tcp_established);
	assert_true(o.tcp_close && o.shell_job && o.file_locks);
	assert_int_equal(o.network_lock, CRPC_NETLOCK_IPTABLES);
	assert_int_equal(o.manage_cgroups_mode, CRPC_CG_SOFT);
	assert_false(o.manage_cgroups);
	assert_null(find_opt(&applied, "tcp_established"));
	assert_null(find_opt(&applied, "shell_job"));
	assert_string_equal(find_opt(&not_applied, "tcp_established")->reason, "your tcp_close wins");
	assert_string_equal(find_opt(&not_applied, "shell_job")->reason, "set by you already");
	assert_string_equal(find_opt(&not_applied, "network_lock")->reason, "your network_lock wins");
	assert_string_equal(find_opt(&not_applied, "manage_cgroups")->reason, "your cgroup setting wins");
	assert_non_null(find_opt(&applied, "file_locks"));
	crpc_manifest_options_release(&applied);
	crpc_manifest_options_release(&not_applied);
	/* not_applied may be NULL */
	crpc_opts_init(&o);
	assert_int_equal(crpc_manifest_restore_opts(&m, &o, &applied, NULL, &e), 0);
	assert_int_equal(applied.n, 8);
	crpc_manifest_options_release(&applied);
	crpc_manifest_release(&m);
	assert_int_equal(m.options.n, 0);

	/* no manifest: ENOENT */
	assert_int_equal(unlinkat(f->dirfd, "crpc.json", 0), 0);
	assert_int_equal(crpc_manifest_load(f->dirfd, &m, &e), -1);
	assert_int_equal(e->sys_errno, ENOENT);
	crpc_error_free(e);
}

static void test_check_externals(void **state)
{
	static const char *const ext[][4] = {
		{ "external", "unix[2882799]", "auto",
		  "UNIX stream socket fd 3 of PID 100 (x) is connected outside" },
		{ "external", "mnt[/srv]:srv", "user", NULL },
	};
	struct fixture *f = *state;
	crpc_manifest m;
	crpc_manifest_options applied = { 0 }, not_applied = { 0 };
	crpc_opts o;
	crpc_error *e = NULL;

	write_checkpoint(f->dirfd);
	write_manifest_opts(f->dirfd, ext, 2);
	assert_int_equal(crpc_manifest_load(f->dirfd, &m, &e), 0);
	crpc_opts_init(&o);
	/* no replacement for the socket: refused, naming it and the remedy */
	assert_int_equal(crpc_manifest_check_externals(&m, &o, &e), -1);
	assert_int_equal(e->cause, CRPC_CAUSE_EXT_UNIX_SK);
	assert_int_equal(e->exit_class, CRPC_EXIT_FAIL);
	assert_non_null(strstr(e->message, "inode 2882799"));
	assert_non_null(strstr(e->message, "fd 3 of PID 100"));
	assert_non_null(strstr(e->hint, "--inherit-fd 'fd[N]:socket:[2882799]'"));
	crpc_error_free(e);
	e = NULL;
	/* its restore-side form is not applied, and says why */
	assert_int_equal(crpc_manifest_restore_opts(&m, &o, &applied, &not_applied, &e), 0);
	assert_int_equal(applied.n, 0);
	assert_int_equal(not_applied.n, 2);
	assert_non_null(strstr(not_applied.v[0].reason, "socket:[2882799]"));
	crpc_manifest_options_release(&applied);
	crpc_manifest_options_release(&not_applied);
	/* a replacement, or --ext-unix-sk (unconnected, the user's choice): accepted */
	assert_int_equal(crpc_opts_add_inherit_fd(&o, "socket:[2882799]", 3, &e), 0);
	assert_int_equal(crpc_manifest_check_externals(&m, &o, &e), 0);
	crpc_opts_release(&o);
	crpc_opts_init(&o);
	o.ext_unix_sk = true;
	assert_int_equal(crpc_manifest_check_externals(&m, &o, &e), 0);
	assert_null(e);
	crpc_manifest_release(&m);
}

static void put_varint(struct buf *b, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)(v & 0x7f);

		v >>= 7;
		if (v)
			c |= 0x80;
		buf_put(b, &c, 1);
	} while (v);
}

/* files.img: pipe entries (CRIU's file_entry with its pipe_entry, field 18) plus one regular file. */
static void write_pipe_files(int dirfd, const uint32_t *inodes, const uint32_t *flags, size_t n)
{
	struct buf b = { 0 };
	FileEntry reg = FILE_ENTRY__INIT;

	buf_u32(&b, IMG_COMMON_MAGIC);
	buf_u32(&b, FILES_MAGIC);
	reg.has_type = reg.has_id = true;
	reg.type = 1;
	reg.id = 99;
	BUF_MSG(&b, file_entry, &reg);
	for (size_t i = 0; i < n; i++) {
		struct buf pe = { 0 }, fe = { 0 };

		put_varint(&pe, (1 << 3) | 0); /* id */
		put_varint(&pe, i + 1);
		put_varint(&pe, (2 << 3) | 0); /* pipe_id */
		put_varint(&pe, inodes[i]);
		put_varint(&pe, (3 << 3) | 0); /* flags */
		put_varint(&pe, flags[i]);
		put_varint(&fe, (1 << 3) | 0); /* type: pipe */
		put_varint(&fe, 2);
		put_varint(&fe, (2 << 3) | 0); /* id */
		put_varint(&fe, i + 1);
		put_varint(&fe, (18 << 3) | 2); /* pipe */
		put_varint(&fe, pe.len);
		buf_put(&fe, pe.p, pe.len);
		buf_u32(&b, (uint32_t)fe.len);
		buf_put(&b, fe.p, fe.len);
		free(pe.p);
		free(fe.p);
	}
	write_buf(dirfd, "files.img", &b);
}

static uint32_t inode_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint32_t)st.st_ino;
}

static void test_outside_pipes(void **state)
{
	struct fixture *f = *state;
	int out[2], both[2], fl;
	uint32_t inodes[3], flags[3] = { O_WRONLY, O_WRONLY, O_RDONLY };
	crpc_manifest m;
	crpc_pipe_attachments pa;
	crpc_opts o;
	crpc_error *e = NULL;
	char rbuf[8];

	/* out: the tree writes, this process (outside the crafted tree) holds both ends; both: the tree holds both */
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(both, O_CLOEXEC), 0);
	inodes[0] = inode_of(out[0]);
	inodes[1] = inode_of(both[0]);
	inodes[2] = inode_of(both[0]);
	write_checkpoint(f->dirfd);
	write_pipe_files(f->dirfd, inodes, flags, 3);
	write_manifest(f->dirfd);
	expect_verdict(f->dirfd, NULL, CRPC_MANIFEST_OK, NULL);

	assert_int_equal(crpc_manifest_load(f->dirfd, &m, &e), 0);
	assert_int_equal(m.n_outside_pipes, 1);
	assert_int_equal(m.outside_pipes[0].inode, inodes[0]);
	assert_true(m.outside_pipes[0].tree_writes);
	assert_int_equal(m.outside_pipes[0].n_holders, 2);
	/* the other end (the reader) first */
	assert_int_equal(m.outside_pipes[0].holders[0].pid, getpid());
	assert_int_equal(m.outside_pipes[0].holders[0].fd, out[0]);
	assert_false(m.outside_pipes[0].holders[0].writes);
	assert_int_equal(m.outside_pipes[0].holders[1].fd, out[1]);
	assert_true(m.outside_pipes[0].holders[1].writes);
	assert_string_not_equal(m.outside_pipes[0].holders[0].comm, "");

	/* re-attached: an inheritable fd of the same pipe, passed as pipe:[INODE] */
	crpc_opts_init(&o);
	assert_int_equal(crpc_manifest_reattach_pipes(&m, &o, &pa, &e), 0);
	assert_int_equal(pa.n, 1);
	assert_true(pa.v[0].reattached);
	assert_true(pa.v[0].fd >= 0);
	assert_int_equal(pa.v[0].holder.fd, out[0]);
	assert_int_equal(inode_of(pa.v[0].fd), inodes[0]);
	fl = fcntl(pa.v[0].fd, F_GETFD);
	assert_int_equal(fl & FD_CLOEXEC, 0);
	assert_int_equal(fcntl(pa.v[0].fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_WRONLY);
	assert_int_equal(o.n_inherit_fd, 1);
	assert_int_equal(o.inherit_fd[0].fd, pa.v[0].fd);
	{
		char key[32];

		snprintf(key, sizeof(key), "pipe:[%u]", inodes[0]);
		assert_string_equal(o.inherit_fd[0].key, key);
	}
	assert_int_equal(write(pa.v[0].fd, "hi", 2), 2);
	assert_int_equal(read(out[0], rbuf, sizeof(rbuf)), 2);
	assert_memory_equal(rbuf, "hi", 2);
	crpc_pipe_attachments_release(&pa);
	crpc_opts_release(&o);

	/* passed by the user already: left alone */
	crpc_opts_init(&o);
	assert_int_equal(crpc_opts_add_inherit_fd(&o, "socket:[1]", 5, &e), 0);
	{
		char key[32];

		snprintf(key, sizeof(key), "pipe:[%u]", inodes[0]);
		assert_int_equal(crpc_opts_add_inherit_fd(&o, key, 3, &e), 0);
		assert_int_equal(crpc_manifest_reattach_pipes(&m, &o, &pa, &e), 0);
	}
	assert_true(pa.v[0].user);
	assert_false(pa.v[0].reattached);
	assert_int_equal(o.n_inherit_fd, 2);
	crpc_pipe_attachments_release(&pa);
	crpc_opts_release(&o);

	/* the reader gone: the write end alone is no use (nobody reads) */
	close(out[0]);
	crpc_opts_init(&o);
	assert_int_equal(crpc_manifest_reattach_pipes(&m, &o, &pa, &e), 0);
	assert_false(pa.v[0].reattached);
	assert_int_equal(pa.v[0].fd, -1);
	assert_string_equal(pa.v[0].why, "nobody reads it any more");
	assert_int_equal(o.n_inherit_fd, 0);
	crpc_pipe_attachments_release(&pa);
	/* nobody holds it at all */
	close(out[1]);
	assert_int_equal(crpc_manifest_reattach_pipes(&m, &o, &pa, &e), 0);
	assert_false(pa.v[0].reattached);
	assert_non_null(strstr(pa.v[0].why, "gone or closed it"));
	crpc_pipe_attachments_release(&pa);
	crpc_opts_release(&o);
	crpc_manifest_release(&m);
	close(both[0]);
	close(both[1]);
}

/* What a dump writes into its marker before CRIU runs reads back as the manifest's info. */
static void test_intent_roundtrip(void **state)
{
	const char *const log_names[] = { "dump.log", "hooks.log", NULL };
	crpc_manifest_options opts = { 0 };
	crpc_manifest_info mi = { 0 };
	struct mf_intent in;
	char *text;

	(void)state;
	assert_int_equal(crpc_manifest_options_add(&opts, "tcp_established", "true", "auto",
						   "a TCP connection", NULL),
			 0);
	assert_int_equal(crpc_manifest_options_add(&opts, "ghost_limit", "10485760", "user", NULL, NULL), 0);
	mi.pid = 4242;
	mi.command = "server";
	mi.criu_version = "4.2.1";
	mi.criu_path = "/opt/crpc/criu/bin/criu";
	mi.leave_running = true;
	mi.options = &opts;
	mi.log_files = log_names;
	text = mf_intent_json(&mi, NULL);
	assert_non_null(text);
	assert_int_equal(mf_intent_parse(text, strlen(text), &in), 0);
	assert_int_equal(in.info.pid, 4242);
	assert_string_equal(in.info.command, "server");
	assert_string_equal(in.info.criu_version, "4.2.1");
	assert_string_equal(in.info.criu_path, "/opt/crpc/criu/bin/criu");
	assert_true(in.info.leave_running);
	assert_int_equal(in.options.n, 2);
	assert_string_equal(in.options.v[0].option, "tcp_established");
	assert_string_equal(in.options.v[0].value, "true");
	assert_string_equal(in.options.v[0].source, "auto");
	assert_string_equal(in.options.v[0].reason, "a TCP connection");
	assert_string_equal(in.options.v[1].value, "10485760");
	assert_string_equal(in.info.log_files[0], "dump.log");
	assert_string_equal(in.info.log_files[1], "hooks.log");
	assert_null(in.info.log_files[2]);
	mf_intent_release(&in);
	free(text);
	crpc_manifest_options_release(&opts);

	/* an old marker's text, another format, a log name with a slash: no record, or none of it */
	text = "crpc dump of PID 1 by crpc PID 2\n";
	assert_int_equal(mf_intent_parse(text, strlen(text), &in), -1);
	text = "{\"format\": \"crpc-checkpoint\", \"pid\": 3}";
	assert_int_equal(mf_intent_parse(text, strlen(text), &in), -1);
	text = "{\"format\": \"crpc-dump-intent\", \"pid\": -3, \"log_files\": [\"../x\"]}";
	assert_int_equal(mf_intent_parse(text, strlen(text), &in), 0);
	assert_int_equal(in.info.pid, 0);
	assert_null(in.info.log_files);
	assert_null(in.info.namespaces_json);
	mf_intent_release(&in);
	/* the tree's namespaces come back as the text crpc.json will hold */
	text = "{\"format\": \"crpc-dump-intent\", \"namespaces\": {\"own\": [\"net\"]}}";
	assert_int_equal(mf_intent_parse(text, strlen(text), &in), 0);
	assert_non_null(in.info.namespaces_json);
	assert_non_null(strstr(in.info.namespaces_json, "\"net\""));
	mf_intent_release(&in);
}

/* A container's dump: its record and the engine call come back, a PID's has neither. */
static void test_intent_container(void **state)
{
	crpc_manifest_info mi = { 0 };
	struct mf_intent in;
	json_t *call = json_pack("{s:s, s:s, s:s}", "engine", "podman", "call_dir", "/run/crpc/calls/7-0",
				 "step", "engine");
	char *text;

	(void)state;
	mi.pid = 77;
	mi.container_json = "{\"engine\":\"podman\",\"id\":\"abc\",\"recreate\":{\"export\":{}}}";
	text = mf_intent_json(&mi, call);
	assert_non_null(text);
	assert_int_equal(mf_intent_parse(text, strlen(text), &in), 0);
	assert_non_null(in.engine_call);
	assert_string_equal(json_string_value(json_object_get(in.engine_call, "call_dir")),
			    "/run/crpc/calls/7-0");
	assert_string_equal(json_string_value(json_object_get(in.engine_call, "step")), "engine");
	assert_non_null(in.info.container_json);
	assert_non_null(strstr(in.info.container_json, "\"id\":\"abc\""));
	mf_intent_release(&in);
	free(text);
	/* a record that is no JSON object is not written as one */
	mi.container_json = "[1]";
	assert_null(mf_intent_json(&mi, call));
	json_decref(call);
	mi.container_json = NULL;
	text = mf_intent_json(&mi, NULL);
	assert_int_equal(mf_intent_parse(text, strlen(text), &in), 0);
	assert_null(in.engine_call);
	assert_null(in.info.container_json);
	mf_intent_release(&in);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intent_roundtrip),
		cmocka_unit_test(test_intent_container),
		cmocka_unit_test_setup_teardown(test_sha256, setup, teardown),
		cmocka_unit_test(test_sha256_incremental),
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_ok_and_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_checksum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_size_missing_unlisted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_unfinished_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_invalid, setup, teardown),
		cmocka_unit_test(test_options),
		cmocka_unit_test_setup_teardown(test_dumpdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_images_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_without_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_self_checksum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_opts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_externals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_pipes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trust, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
