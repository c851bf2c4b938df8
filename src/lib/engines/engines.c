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
	&crpc__engine_docker,
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

int crpc__engine_env_take(crpc_engine_env *own, const crpc_engine_env *env, const char *operation,
			  crpc_error **err)
{
	crpc_engine_env_init(own);
	if (!env)
		return 0;
	return crpc__sized_take(own, sizeof(*own), env, CRPC__END_OF(crpc_engine_env, runc_root), operation,
				"crpc_engine_env_init", err);
}

/*
 * What a container is made of, which its engine sets up and restores
 * itself (runc's external mounts and namespaces joined by path): its own
 * namespaces, a veth pair to the host, a namespace shared with another
 * container of the engine.
 */
static const char *const expected_items[] = { "namespace", "namespaces", "veth-peer", "namespace-shared",
					      NULL };
/* Options for a tree's own mounts that the engine passes to CRIU itself. */
static const char *const engine_options[] = { "auto_ext_mnt", "ext_sharing", "ext_masters", NULL };

static bool listed(const char *const *l, const char *name)
{
	for (; name && *l; l++)
		if (strcmp(*l, name) == 0)
			return true;
	return false;
}

CRPC_API bool crpc_container_expected_warning(const char *name)
{
	return listed(expected_items, name);
}

static size_t drop(crpc_verdict_item *v, size_t *n, const char *const *names)
{
	size_t k = 0, was = *n;

	for (size_t i = 0; i < was; i++) {
		crpc_verdict_item *w = &v[i];

		if (listed(names, w->name)) {
			free(w->name);
			free(w->s);
			free(w->reason);
			continue;
		}
		v[k++] = *w;
	}
	*n = k;
	return was - k;
}

CRPC_API size_t crpc_container_verdict_filter(crpc_verdict *v)
{
	size_t n = drop(v->warnings, &v->n_warnings, expected_items);

	n += drop(v->blockers, &v->n_blockers, expected_items);
	drop(v->options, &v->n_options, engine_options);
	return n;
}
