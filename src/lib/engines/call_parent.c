/* SPDX-License-Identifier: MIT */
/*
 * call_parent.c - the call directory of a shim the engine found on its
 * PATH (crpc shim install) rather than in the call directory: Docker's
 * runc runs PREFIX/sbin/criu for every container. The runc that started
 * the shim names the container last on its command line (`runc ...
 * checkpoint|restore ... ID`); the call directory whose call.json is about
 * that docker container and that operation is this call's, or, for a
 * restore into a container the engine made anew, the one whose
 * container.json (written by docker.c before `docker start`) names it. The directory
 * itself is then trusted or refused as crpc_shim_call_find() always does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crpc/shim.h"
#include "engines/engine.h"
#include "internal.h"

#define CMDLINE_MAX (64 * 1024)

/* The parent's subcommand (checkpoint, restore) and last argument, when it is runc's. */
static bool parent_runc(char *op, size_t opsz, char *id, size_t idsz)
{
	char file[64], *cmd = NULL;
	const char *last = NULL, *sub = NULL, *base;
	size_t len = 0;
	bool ok = false;

	snprintf(file, sizeof(file), "/proc/%d/cmdline", (int)getppid());
	if (crpc__read_file_at(AT_FDCWD, file, CMDLINE_MAX, &cmd, &len, NULL) < 0 || len == 0)
		return false;
	base = strrchr(cmd, '/');
	base = base ? base + 1 : cmd;
	if (strcmp(base, "runc") == 0) {
		for (size_t i = strlen(cmd) + 1; i < len; i += strlen(cmd + i) + 1) {
			if (!sub && (strcmp(cmd + i, "checkpoint") == 0 || strcmp(cmd + i, "restore") == 0))
				sub = cmd + i;
			last = cmd + i;
		}
		/* a docker container ID: hexadecimal digits */
		ok = sub && last && last != sub && strlen(last) >= 12 &&
		     strspn(last, "0123456789abcdef") == strlen(last);
		if (ok) {
			snprintf(op, opsz, "%s", strcmp(sub, "checkpoint") == 0 ? "dump" : "restore");
			snprintf(id, idsz, "%s", last);
		}
	}
	free(cmd);
	return ok;
}

/* The call directory's container.json (what the docker engine started for a restore), or NULL. */
static json_t *started_container(int callsfd, const char *name)
{
	char file[300], *text = NULL;
	size_t len = 0;
	json_t *j;

	if (snprintf(file, sizeof(file), "%s/%s", name, CRPC__CALL_STARTED) >= (int)sizeof(file) ||
	    crpc__read_file_at(callsfd, file, 64 * 1024, &text, &len, NULL) < 0)
		return NULL;
	j = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static bool str_is(json_t *o, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v && strcmp(v, want) == 0;
}

/*
 * Is NAME's call (below callsfd) crpc's operation op on the docker container
 * id? It is when call.json names that container, or when the engine wrote
 * that it started the container id for it (a restore into a container it
 * recreated): then *started holds what it wrote (id, name).
 */
static bool call_matches(int callsfd, const char *name, const char *op, const char *id, json_t **started)
{
	char file[300], *text = NULL;
	size_t len = 0;
	json_t *ctx, *env, *st;
	bool ok;

	*started = NULL;
	if (snprintf(file, sizeof(file), "%s/%s", name, CRPC__CALL_FILE) >= (int)sizeof(file) ||
	    crpc__read_file_at(callsfd, file, 1u << 20, &text, &len, NULL) < 0)
		return false;
	ctx = json_loadb(text, len, 0, NULL);
	free(text);
	env = json_object_get(ctx, "env");
	ok = str_is(ctx, "operation", op) && str_is(env, "CRPC_CONTAINER_ENGINE", "docker");
	if (ok) {
		st = started_container(callsfd, name);
		if (st && str_is(st, "id", id))
			*started = st;
		else
			json_decref(st);
		ok = *started || str_is(env, "CRPC_CONTAINER_ID", id);
	}
	json_decref(ctx);
	return ok;
}

CRPC_API int crpc_shim_call_find_parent(crpc_shim_call **call, crpc_error **err)
{
	const char *rt = getenv("CRPC_RUNTIME_DIR");
	char op[16], id[128], calls[PATH_MAX], found[PATH_MAX + 300] = "";
	cleanup_close int callsfd = -1;
	json_t *started = NULL;
	struct dirent *de;
	DIR *d;
	int rc;

	*call = NULL;
	if (!parent_runc(op, sizeof(op), id, sizeof(id)))
		return 0;
	if (!rt || rt[0] != '/')
		rt = CRPC__RUNTIME_DIR;
	if (snprintf(calls, sizeof(calls), "%s/calls", rt) >= (int)sizeof(calls))
		return 0;
	callsfd = open(calls, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (callsfd < 0)
		return 0; /* no container operation of crpc's is under way */
	d = io_opendir_at(callsfd, ".");
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !call_matches(callsfd, de->d_name, op, id, &started))
			continue;
		snprintf(found, sizeof(found), "%s/%s/criu", calls, de->d_name);
		break;
	}
	closedir(d);
	if (!found[0])
		return 0;
	rc = crpc_shim_call_find(found, call, err);
	/* the hooks see the container that runs now */
	if (rc == 1) {
		if (crpc_shim_call_setenv(*call) < 0 || (started && setenv("CRPC_CONTAINER_ID", id, 1) < 0) ||
		    (json_is_string(json_object_get(started, "name")) &&
		     setenv("CRPC_CONTAINER_NAME", json_string_value(json_object_get(started, "name")), 1) <
			     0)) {
			crpc_shim_call_free(*call);
			*call = NULL;
			rc = crpc_error_set(err, CRPC_EXIT_FAIL, errno, "shim",
					    "cannot set the container's variables");
		}
	}
	json_decref(started);
	return rc;
}
