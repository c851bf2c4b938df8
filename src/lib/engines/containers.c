/* SPDX-License-Identifier: MIT */
/*
 * containers.c - the public side of the engines: resolving a target and
 * listing every engine's containers (crpc ps), with a verdict per running
 * container.
 */
#include <stdio.h>
#include <string.h>

#include "engines/engine.h"
#include "internal.h"

CRPC_API int crpc_container_resolve(const char *target, const crpc_engine_env *env, crpc_container *out,
				    crpc_error **err)
{
	crpc_engine_env own;
	crpc__engine_ctx ctx = { .env = &own };
	const crpc__engine *e = NULL;
	crpc__container c = { 0 };
	crpc__target t;

	if (crpc__engine_env_take(&own, env, "resolve a container", err) < 0 ||
	    crpc__target_parse(target, &t, err) < 0)
		return -1;
	if (crpc__target_resolve(&ctx, &t, &e, &c, err) < 0)
		return -1;
	*out = c.info;
	crpc__container_release(&c);
	return 0;
}

/* Inspect a running container's tree: its verdict's counts. */
static void verdict_of(crpc_container *c)
{
	crpc_inspect_result *r = NULL;
	crpc_verdict v;
	crpc_error *e = NULL;

	if (!c->running || c->pid <= 0)
		return;
	if (crpc_inspect_tree(c->pid, CRPC_INSPECT_NO_KERNEL_CHECKS | CRPC_INSPECT_FDINFO_LOCKS, &r, &e) < 0) {
		crpc_error_free(e);
		return;
	}
	if (crpc_inspect_verdict(r, &v, &e) < 0) {
		crpc_error_free(e);
		crpc_inspect_free(r);
		return;
	}
	crpc_container_verdict_filter(&v);
	c->inspected = true;
	c->blockers = v.n_blockers;
	c->checkpointable = v.n_blockers == 0;
	c->warnings = v.n_warnings;
	crpc_verdict_release(&v);
	crpc_inspect_free(r);
}

CRPC_API int crpc_containers_list(const crpc_engine_env *env, bool inspect, crpc_container **out, size_t *n,
				  crpc_engine_status **engines, size_t *n_engines, crpc_error **err)
{
	crpc_engine_env own;
	crpc__engine_ctx ctx = { .env = &own };
	size_t n_reg = 0, cap = 0;
	crpc_engine_status *st = NULL;

	*out = NULL;
	*n = 0;
	if (engines)
		*engines = NULL;
	if (n_engines)
		*n_engines = 0;
	if (crpc__engine_env_take(&own, env, "ps", err) < 0)
		return -1;
	for (const crpc__engine *const *e = crpc__engines; *e; e++)
		n_reg++;
	st = calloc(n_reg + 1, sizeof(*st));
	if (!st)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "ps", "out of memory");
	for (size_t k = 0; k < n_reg; k++) {
		const crpc__engine *e = crpc__engines[k];
		crpc__container *list = NULL;
		size_t nl = 0;
		crpc_error *e_err = NULL;

		snprintf(st[k].name, sizeof(st[k].name), "%s", e->name);
		if (!e->present(&ctx, st[k].why, sizeof(st[k].why)))
			continue;
		if (e->list(&ctx, &list, &nl, &e_err) < 0) {
			snprintf(st[k].why, sizeof(st[k].why), "%s",
				 e_err && e_err->message ? e_err->message : "listing failed");
			crpc_error_free(e_err);
			continue;
		}
		st[k].present = true;
		e->version(&ctx, st[k].version, sizeof(st[k].version), NULL);
		if (ARRAY_GROW(*out, &cap, *n + nl, 4) < 0) {
			for (size_t i = 0; i < nl; i++)
				crpc__container_release(&list[i]);
			free(list);
			free(st);
			free(*out);
			*out = NULL;
			*n = 0;
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "ps", "out of memory");
		}
		for (size_t i = 0; i < nl; i++) {
			(*out)[*n] = list[i].info;
			if (inspect)
				verdict_of(&(*out)[*n]);
			(*n)++;
			crpc__container_release(&list[i]);
		}
		free(list);
	}
	if (engines) {
		*engines = st;
		if (n_engines)
			*n_engines = n_reg;
	} else {
		free(st);
	}
	return 0;
}
