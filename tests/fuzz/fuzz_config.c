/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - YAML configuration text: crpc_config_parse() from
 * memory, crpc_config_load() from a 0600 file in the harness's directory
 * (both must agree), and the first line as a duration and as a --hook
 * argument.
 */
#include <string.h>

#include "crpc/config.h"
#include "crpc/crpc.h"
#include "fuzz_common.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[128];
	crpc_config c;
	crpc_error *err = NULL;
	int dirfd = fz_dir();
	int r1, r2;

	if (!path[0])
		snprintf(path, sizeof(path), "%s/config.yaml", fz_dir_path);

	r1 = crpc_config_parse(&c, "fuzz.yaml", (const char *)data, size, &err);
	fz_drop_error(&err);
	if (r1 == 0) {
		/* the first line as a --hook argument, on a loaded configuration */
		size_t n = 0;

		while (n < size && n < 200 && data[n] != '\n')
			n++;
		char *first = fz_strndup(data, n);
		unsigned ms;

		if (crpc_config_add_hook_arg(&c, first, &err) < 0)
			fz_drop_error(&err);
		if (crpc__parse_duration(first, &ms, &err) < 0)
			fz_drop_error(&err);
		free(first);
	}
	crpc_config_release(&c);

	/* the same from a file: the loader has its own reading path */
	if (size <= CRPC_CONFIG_MAX_SIZE + 1) {
		fz_write_at(dirfd, "config.yaml", data, size);
		r2 = crpc_config_load(&c, path, &err);
		fz_drop_error(&err);
		crpc_config_release(&c);
		if (r1 != r2 && !memchr(data, '\0', size))
			abort();
	}
	return 0;
}
