/* SPDX-License-Identifier: MIT */
/*
 * hooks_env.c - a step's environment: crpc's own without the variables crpc
 * manages, then those (CRTOOLS_*, CRPC_*), then the step's env, which wins.
 */
#include <stdio.h>
#include <string.h>

#include "crpc/hooks.h"
#include "hooks_int.h"
#include "internal.h"

extern char **environ;

/* Variables crpc sets for steps: never inherited from crpc's environment. */
static const char *const managed_vars[] = {
	"CRTOOLS_SCRIPT_ACTION", "CRTOOLS_IMAGE_DIR", "CRTOOLS_INIT_PID",
	"CRPC_ACTION",           "CRPC_OPERATION",    "CRPC_PID",
	"CRPC_IMAGES_DIR",       "CRPC_NOTIFY_PID",   "CRPC_PTS_MASTER_FD",
};

_Static_assert(sizeof(managed_vars) / sizeof(managed_vars[0]) == HK_N_MANAGED,
	       "HK_N_MANAGED counts managed_vars");

/* Do "K=V" strings a and b name the same variable? */
static bool same_var(const char *a, const char *b)
{
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");

	return la == lb && memcmp(a, b, la) == 0;
}

static bool is_managed(const char *kv)
{
	for (size_t i = 0; i < sizeof(managed_vars) / sizeof(managed_vars[0]); i++)
		if (same_var(kv, managed_vars[i]))
			return true;
	return false;
}

/* Value of `name` in envp, NULL if unset. */
const char *hk_env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* environment                                                              */

void hk_step_env_release(struct step_env *e)
{
	for (size_t i = 0; i < e->n_ours; i++)
		free(e->ours[i]);
	free(e->envp);
	e->envp = NULL;
	e->n_ours = 0;
}

/* Keep s (NULL: out of memory) as one of crpc's variables. */
static int add_ours(struct step_env *e, char *s)
{
	if (!s)
		return -1;
	e->ours[e->n_ours++] = s;
	return 0;
}

/* The step's env names this variable (then it wins)? */
static bool step_sets(const crpc_hook_step *st, const char *kv)
{
	for (char **p = st->env; p && *p; p++)
		if (strchr(*p, '=') && same_var(*p, kv))
			return true;
	return false;
}

/*
 * crpc's environment (minus the variables crpc manages), then crpc's
 * variables, then the step's env; a later definition replaces an earlier one.
 */
int hk_build_env(const crpc_hook_runner *r, const crpc_notify *n, const crpc_hook_step *st, bool pts,
		 struct step_env *e)
{
	const char *cb = n->name && *n->name ? n->name : crpc_notify_kind_name(n->kind);
	const char *op = r->operation && *r->operation ? r->operation : (n->operation ? n->operation : "");
	bool restore = strcmp(op, "restore") == 0;
	pid_t init_pid, pid;
	size_t count = 0, k = 0;
	int rc = 0;

	memset(e, 0, sizeof(*e));
	pid = r->pid > 0 ? r->pid : (n->pid > 0 ? n->pid : 0);
	init_pid = restore && n->pid > 0 ? n->pid : pid;

	rc |= add_ours(e, crpc__strdup_printf("CRTOOLS_SCRIPT_ACTION=%s", cb));
	rc |= add_ours(e, crpc__strdup_printf("CRPC_ACTION=%s", cb));
	rc |= add_ours(e, crpc__strdup_printf("CRPC_OPERATION=%s", op));
	if (r->images_dir) {
		rc |= add_ours(e, crpc__strdup_printf("CRTOOLS_IMAGE_DIR=%s", r->images_dir));
		rc |= add_ours(e, crpc__strdup_printf("CRPC_IMAGES_DIR=%s", r->images_dir));
	}
	if (init_pid > 0)
		rc |= add_ours(e, crpc__strdup_printf("CRTOOLS_INIT_PID=%d", (int)init_pid));
	if (pid > 0)
		rc |= add_ours(e, crpc__strdup_printf("CRPC_PID=%d", (int)pid));
	if (n->pid > 0)
		rc |= add_ours(e, crpc__strdup_printf("CRPC_NOTIFY_PID=%d", n->pid));
	if (pts)
		rc |= add_ours(e, crpc__strdup_printf("CRPC_PTS_MASTER_FD=%d", PTS_FD));
	if (rc)
		goto oom;

	for (char **p = environ; p && *p; p++)
		count++;
	for (char **p = st->env; p && *p; p++)
		count++;
	e->envp = calloc(count + e->n_ours + 1, sizeof(char *));
	if (!e->envp)
		goto oom;
	for (char **p = environ; p && *p; p++)
		if (strchr(*p, '=') && !is_managed(*p) && !step_sets(st, *p))
			e->envp[k++] = *p;
	for (size_t i = 0; i < e->n_ours; i++)
		if (!step_sets(st, e->ours[i]))
			e->envp[k++] = e->ours[i];
	for (char **p = st->env; p && *p; p++) {
		bool later = false;

		if (!strchr(*p, '='))
			continue;
		for (char **q = p + 1; *q && !later; q++)
			later = strchr(*q, '=') && same_var(*p, *q);
		if (!later)
			e->envp[k++] = *p;
	}
	e->envp[k] = NULL;
	return 0;
oom:
	hk_step_env_release(e);
	return -1;
}
