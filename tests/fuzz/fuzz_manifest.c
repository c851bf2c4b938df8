/* SPDX-License-Identifier: MIT */
/*
 * fuzz_manifest.c - crpc.json text in a checkpoint directory of the
 * harness's own: crpc_manifest_read(), crpc_manifest_load() with the
 * restore's use of it (crpc_manifest_restore_opts(),
 * crpc_manifest_check_externals()), and crpc_manifest_verify() against
 * two small files next to it. crpc_manifest_reattach_pipes() is left out:
 * it looks at other processes' descriptors named by the manifest.
 */
#include "crpc/crpc.h"
#include "crpc/manifest.h"
#include "crpc/opts.h"
#include "fuzz_common.h"

/* Files the manifest may list; "a.img" has this content (sha256 below). */
static const char fz_a_img[] = "abc";
/* sha256("abc") */
#define FZ_A_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ignore[] = { "restore.log", NULL };
	crpc_manifest_options applied = { 0 }, not_applied = { 0 };
	crpc_manifest_check chk;
	crpc_manifest m;
	crpc_opts o;
	crpc_error *err = NULL;
	char *text = NULL;
	size_t len = 0;
	int dirfd = fz_dir();

	fz_clear_dir(dirfd);
	fz_write_at(dirfd, "a.img", fz_a_img, sizeof(fz_a_img) - 1);
	fz_write_at(dirfd, "dump.log", "log\n", 4);
	fz_write_at(dirfd, "crpc.json", data, size);

	if (crpc_manifest_read(dirfd, &text, &len, &err) == 0) {
		if (!text || strlen(text) != len)
			abort();
	}
	free(text);
	fz_drop_error(&err);

	if (crpc_manifest_load(dirfd, &m, &err) == 0) {
		crpc_opts_init(&o);
		if (size & 1) {
			/* a user setting of each group, so both branches run */
			o.tcp_close = true;
			o.shell_job = true;
		}
		if (crpc_manifest_restore_opts(&m, &o, &applied, &not_applied, &err) < 0)
			fz_drop_error(&err);
		if (crpc_manifest_check_externals(&m, &o, &err) < 0)
			fz_drop_error(&err);
		crpc_opts_release(&o);
		crpc_manifest_options_release(&applied);
		crpc_manifest_options_release(&not_applied);
		crpc_manifest_release(&m);
	}
	fz_drop_error(&err);

	memset(&chk, 0, sizeof(chk));
	if (crpc_manifest_verify(dirfd, NULL, ignore, &chk, &err) < 0)
		fz_drop_error(&err);
	for (size_t i = 0; i < chk.n_mismatches; i++)
		if (!crpc_file_problem_name(chk.mismatches[i].problem))
			abort();
	if (!crpc_manifest_verdict_name(chk.verdict))
		abort();
	crpc_manifest_check_release(&chk);
	return 0;
}
