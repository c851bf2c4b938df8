/* SPDX-License-Identifier: MIT */
/*
 * target_parse.c - container targets: "ENGINE:REF" or a bare REF, and their
 * resolution at one engine or across every engine present.
 */
#include <stdio.h>
#include <string.h>

#include "engines/engine.h"
#include "internal.h"

CRPC_API bool crpc_target_is_container(const char *arg)
{
	if (!arg || !*arg)
		return false;
	for (const char *p = arg; *p; p++)
		if ((*p < '0' || *p > '9') && *p != '-' && *p != '+' && *p != '.')
			return true;
	return false;
}

bool crpc__engine_valid_ref(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static void engine_names(char *buf, size_t size)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (const crpc__engine *const *e = crpc__engines; *e && pos < size; e++) {
		int n = snprintf(buf + pos, size - pos, "%s%s:", pos ? ", " : "", (*e)->name);

		if (n < 0)
			break;
		pos += (size_t)n;
	}
}

int crpc__target_parse(const char *arg, crpc__target *out, crpc_error **err)
{
	const char *colon, *ref;
	char names[128];

	memset(out, 0, sizeof(*out));
	if (!arg || !*arg)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "container lookup",
				      "empty container target");
	colon = strchr(arg, ':');
	ref = colon ? colon + 1 : arg;
	if (colon) {
		size_t len = (size_t)(colon - arg);

		if (len == 0 || len >= sizeof(out->engine)) {
			engine_names(names, sizeof(names));
			return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "container lookup",
					      "'%s': no engine before ':' (known: %s)", arg, names);
		}
		memcpy(out->engine, arg, len);
		out->engine[len] = '\0';
		if (!crpc__engine_find(out->engine)) {
			engine_names(names, sizeof(names));
			crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "container lookup",
				       "'%s': unknown engine '%s'", arg, out->engine);
			crpc_error_set_hint(*err, "a container target is one of %s followed by a name or ID",
					    names);
			return -1;
		}
	} else if (!crpc_target_is_container(arg)) {
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "container lookup",
				      "'%s' is a PID, not a container name", arg);
	}
	if (!*ref)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "container lookup",
				      "'%s': no container name or ID", arg);
	if (strlen(ref) >= sizeof(out->ref) || !crpc__engine_valid_ref(ref))
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "container lookup",
				      "'%s': not a container name or ID (letters, digits, '_', '.', '-', "
				      "starting with a letter or digit, at most %zu characters)",
				      arg, sizeof(out->ref) - 1);
	snprintf(out->ref, sizeof(out->ref), "%s", ref);
	return 0;
}

static int resolve_at(const crpc__engine_ctx *ctx, const crpc__engine *e, const char *ref,
		      crpc__container *out, crpc_error **err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = e->resolve(ctx, ref, out, err);
	if (rc == CRPC__ENGINE_FOUND && !out->info.engine[0])
		snprintf(out->info.engine, sizeof(out->info.engine), "%s", e->name);
	return rc;
}

int crpc__target_resolve(const crpc__engine_ctx *ctx, const crpc__target *t, const crpc__engine **engine,
			 crpc__container *out, crpc_error **err)
{
	char why[256], cands[1024];
	size_t found = 0, pos = 0, asked = 0;
	int rc;

	if (t->engine[0]) {
		const crpc__engine *e = crpc__engine_find(t->engine);

		if (!e)
			return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "container lookup",
					      "unknown engine '%s'", t->engine);
		why[0] = '\0';
		if (!e->present(ctx, why, sizeof(why)))
			return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "container lookup", "%s:%s: %s",
					      t->engine, t->ref,
					      why[0] ? why : "the engine is not available");
		rc = resolve_at(ctx, e, t->ref, out, err);
		if (rc < 0)
			return -1;
		if (rc == CRPC__ENGINE_NOT_FOUND) {
			crpc_error_set(err, CRPC_EXIT_USAGE, ENOENT, "container lookup",
				       "%s:%s: no such container", t->engine, t->ref);
			crpc_error_set_hint(*err, "`crpc ps` lists the containers crpc can see");
			return -1;
		}
		*engine = e;
		return 0;
	}

	cands[0] = '\0';
	for (const crpc__engine *const *e = crpc__engines; *e; e++) {
		crpc__container c;
		crpc_error *e_err = NULL;

		if (!(*e)->present(ctx, why, sizeof(why)))
			continue;
		asked++;
		rc = resolve_at(ctx, *e, t->ref, &c, &e_err);
		if (rc < 0) {
			/* One engine failing does not hide another's container. */
			crpc_error_free(e_err);
			continue;
		}
		if (rc != CRPC__ENGINE_FOUND)
			continue;
		if (pos < sizeof(cands)) {
			int n = snprintf(cands + pos, sizeof(cands) - pos, "%s%s:%s", pos ? ", " : "",
					 (*e)->name, c.info.name[0] ? c.info.name : c.info.id);
			if (n > 0)
				pos += (size_t)n;
		}
		if (found++ == 0) {
			*out = c;
			*engine = *e;
		} else {
			crpc__container_release(&c);
		}
	}
	if (found == 1)
		return 0;
	if (found > 1) {
		crpc__container_release(out);
		crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "container lookup",
			       "'%s' names %zu containers: %s", t->ref, found, cands);
		crpc_error_set_hint(*err, "name one as ENGINE:NAME");
		return -1;
	}
	if (!asked)
		return crpc_error_set(err, CRPC_EXIT_USAGE, ENOENT, "container lookup",
				      "'%s': no container engine found (runc, podman, docker) to look it up",
				      t->ref);
	crpc_error_set(err, CRPC_EXIT_USAGE, ENOENT, "container lookup",
		       "'%s': no container of that name or ID", t->ref);
	crpc_error_set_hint(*err, "`crpc ps` lists the containers crpc can see; a PID is a number");
	return -1;
}
