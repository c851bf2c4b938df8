/* SPDX-License-Identifier: MIT */
/*
 * fuzz_engines.c - what the container engines' CLIs print, as crpc reads
 * it: a selector byte, then the text. 0 `runc state`, 1 `runc list
 * --format json`, 2 `podman container inspect`, 3 `podman ps --format
 * json`, 4 the member list of podman's export (`tar -x -v`), 5 a container
 * target ("ENGINE:REF" or a bare name), 6 a record of the runtime
 * directory's versions/ (its key is the text's first line), 7 the shim's
 * record of CRIU's VERSION reply (for the CRIU identity "1 2 3 4.5 6.7").
 */
#include <jansson.h>

#include "engines/engine.h"
#include "shim/shim_int.h"
#include "fuzz_common.h"
#include "internal.h"

static void release_list(crpc__container *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crpc__container_release(&v[i]);
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	crpc__container c = { 0 }, *list = NULL;
	crpc_error *err = NULL;
	json_t *obj = NULL;
	size_t n = 0;
	char *text;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 8) {
	case 0:
		if (crpc__runc_parse_state(text, size - 1, &c, &err) == 0 &&
		    (strlen(c.info.id) >= sizeof(c.info.id) || c.info.pid < 0))
			abort();
		crpc__container_release(&c);
		break;
	case 1:
		if (crpc__runc_parse_list(text, size - 1, &list, &n, &err) == 0)
			release_list(list, n);
		break;
	case 2:
		if (crpc__podman_parse_inspect(text, size - 1, &obj, &err) == CRPC__ENGINE_FOUND &&
		    !json_is_object(obj))
			abort();
		json_decref(obj);
		break;
	case 3:
		if (crpc__podman_parse_ps(text, size - 1, &list, &n, &err) == 0) {
			for (size_t i = 0; i < n; i++)
				if (list[i].info.pid < 0)
					abort();
			release_list(list, n);
		}
		break;
	case 4:
		if (crpc__podman_parse_listing(text, &obj, &err) == 0) {
			size_t i;
			json_t *e;

			/* no image name that could leave DIR */
			json_array_foreach(json_object_get(obj, "images"), i, e)
				if (strchr(json_string_value(e), '/') ||
				    strcmp(json_string_value(e), "..") == 0)
					abort();
			json_decref(obj);
		}
		break;
	case 6: {
		char key[64], value[32];

		snprintf(key, sizeof(key), "%.*s", (int)strcspn(text, "\n"), text);
		if (crpc__runtime_record_parse(text, key, value, sizeof(value)) && strchr(value, '\n'))
			abort();
		break;
	}
	case 7: {
		size_t off = 0, len = 0;

		if (shim_version_parse(data + 1, size - 1, "1 2 3 4.5 6.7", &off, &len) &&
		    (off + len != size - 1 || len == 0))
			abort();
		break;
	}
	case 5: {
		crpc__target t;

		if (crpc__target_parse(text, &t, &err) == 0 &&
		    (!t.ref[0] || strchr(t.ref, '/') || strchr(t.ref, ':') || t.ref[0] == '-'))
			abort();
		break;
	}
	}
	crpc_error_free(err);
	free(text);
	return 0;
}
