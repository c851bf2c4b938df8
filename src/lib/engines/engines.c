/* SPDX-License-Identifier: MIT */
/*
 * engines.c - the registration table of container engines, and the
 * containers' common helpers. A new engine is a file of its own with a
 * crpc__engine table, declared in engine.h and listed here.
 */
#include <string.h>

#include "engines/engine.h"
#include "internal.h"

/* In the order a bare name is looked up (and `crpc ps` lists them). */
const crpc__engine *const crpc__engines[] = {
	&crpc__engine_runc,
	&crpc__engine_podman,
	NULL,
};

const crpc__engine *crpc__engine_find(const char *name)
{
	for (const crpc__engine *const *e = crpc__engines; *e; e++)
		if (strcmp((*e)->name, name) == 0)
			return *e;
	return NULL;
}

void crpc__container_release(crpc__container *c)
{
	if (!c)
		return;
	json_decref(c->recreate);
	c->recreate = NULL;
}

CRPC_API void crpc_engine_env_init(crpc_engine_env *e)
{
	memset(e, 0, sizeof(*e));
	e->size = sizeof(*e);
}

CRPC_API bool crpc_container_expected_warning(const char *name)
{
	/* A container has namespaces of its own by design. */
	return name && strcmp(name, "namespace") == 0;
}

CRPC_API size_t crpc_container_verdict_filter(crpc_verdict *v)
{
	size_t k = 0, n = v->n_warnings;

	for (size_t i = 0; i < n; i++) {
		crpc_verdict_item *w = &v->warnings[i];

		if (crpc_container_expected_warning(w->name)) {
			free(w->name);
			free(w->s);
			free(w->reason);
			continue;
		}
		v->warnings[k++] = *w;
	}
	v->n_warnings = k;
	return n - k;
}
