/* SPDX-License-Identifier: MIT */
/*
 * notify.c - the dispatcher every CRIU notification goes through.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct listener {
	char *name;
	crpc_notify_fn fn;
	void *userdata;
};

struct crpc_dispatcher {
	struct listener *listeners;
	size_t n_listeners;
	char **warnings; /* NULL-terminated */
	size_t n_warnings;
};

static const char *const kind_names[CRPC_NOTIFY__COUNT] = {
	[CRPC_NOTIFY_UNKNOWN] = "unknown",
	[CRPC_NOTIFY_PRE_STREAM] = "pre-stream",
	[CRPC_NOTIFY_PRE_DUMP] = "pre-dump",
	[CRPC_NOTIFY_POST_DUMP] = "post-dump",
	[CRPC_NOTIFY_PRE_RESTORE] = "pre-restore",
	[CRPC_NOTIFY_POST_RESTORE] = "post-restore",
	[CRPC_NOTIFY_NETWORK_LOCK] = "network-lock",
	[CRPC_NOTIFY_NETWORK_UNLOCK] = "network-unlock",
	[CRPC_NOTIFY_SETUP_NAMESPACES] = "setup-namespaces",
	[CRPC_NOTIFY_POST_SETUP_NAMESPACES] = "post-setup-namespaces",
	[CRPC_NOTIFY_PRE_RESUME] = "pre-resume",
	[CRPC_NOTIFY_POST_RESUME] = "post-resume",
	[CRPC_NOTIFY_ORPHAN_PTS_MASTER] = "orphan-pts-master",
	[CRPC_NOTIFY_STATUS_READY] = "status-ready",
	[CRPC_NOTIFY_QUERY_EXT_FILES] = "query-ext-files",
};

CRPC_API const char *crpc_notify_kind_name(crpc_notify_kind k)
{
	return ENUM_NAME(kind_names, k, "unknown");
}

CRPC_API crpc_notify_kind crpc_notify_kind_from_name(const char *name)
{
	if (!name)
		return CRPC_NOTIFY_UNKNOWN;
	for (int k = CRPC_NOTIFY_UNKNOWN + 1; k < CRPC_NOTIFY__COUNT; k++)
		if (strcmp(kind_names[k], name) == 0)
			return (crpc_notify_kind)k;
	return CRPC_NOTIFY_UNKNOWN;
}

CRPC_API bool crpc_notify_can_abort(crpc_notify_kind k)
{
	switch (k) {
	case CRPC_NOTIFY_NETWORK_UNLOCK:
	case CRPC_NOTIFY_PRE_RESUME:
	case CRPC_NOTIFY_POST_RESUME:
	case CRPC_NOTIFY_UNKNOWN:
		return false;
	default:
		return true;
	}
}

CRPC_API crpc_dispatcher *crpc_dispatcher_new(void)
{
	crpc_dispatcher *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->warnings = calloc(1, sizeof(char *));
	if (!d->warnings) {
		free(d);
		return NULL;
	}
	return d;
}

CRPC_API void crpc_dispatcher_free(crpc_dispatcher *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_listeners; i++)
		free(d->listeners[i].name);
	free(d->listeners);
	for (size_t i = 0; i < d->n_warnings; i++)
		free(d->warnings[i]);
	free(d->warnings);
	free(d);
}

CRPC_API int crpc_dispatcher_add(crpc_dispatcher *d, const char *name, crpc_notify_fn fn, void *userdata)
{
	struct listener *l;

	/* realloc() itself: gcc 12's -fanalyzer loses the name stored below through ARRAY_RESIZE() */
	l = realloc(d->listeners, (d->n_listeners + 1) * sizeof(*l));
	if (!l)
		return -1;
	d->listeners = l;
	l[d->n_listeners].name = strdup(name ? name : "listener");
	if (!l[d->n_listeners].name)
		return -1;
	l[d->n_listeners].fn = fn;
	l[d->n_listeners].userdata = userdata;
	d->n_listeners++;
	return 0;
}

CRPC_API void crpc_dispatcher_warn(crpc_dispatcher *d, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = crpc__strdup_vprintf(fmt, ap);
	va_end(ap);
	(void)crpc__strv_push(&d->warnings, &d->n_warnings, s);
}

CRPC_API const char *const *crpc_dispatcher_warnings(const crpc_dispatcher *d)
{
	return (const char *const *)d->warnings;
}

CRPC_API int crpc_dispatcher_dispatch(crpc_dispatcher *d, crpc_notify *n, crpc_error **err)
{
	for (size_t i = 0; i < d->n_listeners; i++) {
		crpc_error *lerr = NULL;

		if (d->listeners[i].fn(n, d->listeners[i].userdata, &lerr) == 0) {
			crpc_error_free(lerr);
			continue;
		}
		if (!crpc_notify_can_abort(n->kind)) {
			/* CRIU goes on whatever we answer: keep it as a warning */
			crpc_dispatcher_warn(d, "%s: %s failed: %s", n->name, d->listeners[i].name,
					     lerr && lerr->message ? lerr->message : "error");
			crpc_error_free(lerr);
			continue;
		}
		if (!lerr)
			crpc_error_set(&lerr, CRPC_EXIT_FAIL, 0, n->name, "%s failed", d->listeners[i].name);
		if (err && !*err)
			*err = lerr;
		else
			crpc_error_free(lerr);
		return -1;
	}
	return 0;
}
