/* SPDX-License-Identifier: MIT */
/*
 * docker.c - Docker, through dockerd's API on its unix socket
 * (docker_api.c) where crpc finds the socket as the CLI would ($DOCKER_HOST
 * unix://PATH, or Docker's default one with no context chosen), and through
 * its CLI for the rest (tcp:// and ssh:// daemons, contexts, no libcurl):
 * `docker inspect`, `docker ps`, `docker start --checkpoint`, `docker
 * create`. `docker checkpoint create` always goes through the CLI (see
 * docker_checkpoint()). The CLI is $CRPC_DOCKER, else `docker` on PATH.
 *
 * Docker takes no CRIU per call: dockerd -> containerd -> runc runs the
 * `criu` on its PATH. Its checkpoints go through crpc when `crpc shim
 * install --engine docker` put crpc there; that shim finds this call's
 * directory by the container ID runc names (crpc_shim_call_find_parent()).
 * Without it the engine's own CRIU runs, and the caller says what could not
 * be added (no trace comes back).
 *
 * Docker 20.10 keeps checkpoints only in DATA-ROOT/containers/ID/checkpoints/
 * NAME (`start --checkpoint-dir` is refused: "custom checkpointdir is not
 * supported"): a checkpoint is moved from there into DIR, and a restore
 * copies DIR's files there, starts the container from it and removes it.
 * The checkpoint's name is the call directory's, unique while the call
 * lasts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crpc/shim.h"
#include "engines/docker_api.h"
#include "engines/engine.h"
#include "internal.h"

#define DOCKER_HINT_START \
	"start the daemon (systemctl start docker, or dockerd) or point $DOCKER_HOST at the one to use"
#define DOCKER_HINT_EXPERIMENTAL                                                                        \
	"add \"experimental\": true to /etc/docker/daemon.json (or start dockerd with --experimental) " \
	"and restart dockerd"

/* How often `docker start --checkpoint` is tried (see docker_restore()). */
#define START_TRIES 10

static bool docker_cli(char *buf, size_t size)
{
	return crpc__engine_cli("CRPC_DOCKER", "docker", buf, size);
}

static void cpy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* docker ARGS... (NULL-terminated); stdout into *o. <0 on error, else the wait status. */
static int docker_run(crpc__cmd_out *o, crpc__argv *a, crpc_error **err)
{
	return crpc__argv_run(a, NULL, o, err);
}

/* The first line of o's output into buf; releases o. */
static void take_line(char *buf, size_t size, crpc__cmd_out *o)
{
	cpy(buf, size, o->out);
	buf[strcspn(buf, "\n")] = '\0';
	crpc__cmd_out_release(o);
}

/* The start of a command line: the CLI, or an ENV error when there is none. */
static int docker_argv(crpc__argv *a, char *cli, size_t size, crpc_error **err)
{
	memset(a, 0, sizeof(*a));
	if (!docker_cli(cli, size))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "docker", "docker not found (%s)",
				      getenv("CRPC_DOCKER") ? "$CRPC_DOCKER" : "not on PATH");
	crpc__argv_add(a, cli);
	return 0;
}

/*
 * What one crpc command learns of the daemon once: its version, whether it
 * has experimental features, its data root. Kept for a few seconds (one
 * dump or restore), for the $DOCKER_HOST it was learnt from.
 */
static struct {
	double at;
	char host[256];
	char version[64];
	bool experimental;
	char root[PATH_MAX];
} known;

#define KNOWN_SECONDS 10.0

static bool known_fresh(void)
{
	const char *h = getenv("DOCKER_HOST");

	return known.at > 0 && crpc__now() - known.at < KNOWN_SECONDS && strcmp(known.host, h ? h : "") == 0;
}

/* `docker version -f FORMAT` of the server into buf (trimmed). ENV error when the daemon does not answer. */
static int server_field(const char *format, char *buf, size_t size, crpc_error **err)
{
	char cli[PATH_MAX];
	crpc__argv a;
	crpc__cmd_out o;
	int st;

	if (docker_argv(&a, cli, sizeof(cli), err) < 0)
		return -1;
	crpc__argv_add(&a, "version");
	crpc__argv_add(&a, "-f");
	crpc__argv_add(&a, format);
	st = docker_run(&o, &a, err);
	if (st < 0)
		return -1;
	if (st != 0) {
		crpc_error_set(err, CRPC_EXIT_ENV, ECONNREFUSED, "docker", "dockerd does not answer%s%s",
			       o.err && o.err[0] ? ": " : "", o.err ? o.err : "");
		if (err && *err)
			crpc_error_set_hint(*err, DOCKER_HINT_START);
		crpc__cmd_out_release(&o);
		return -1;
	}
	take_line(buf, size, &o);
	return 0;
}

#define CLI_CONFIG_MAX (1u << 20)

/*
 * Whether the CLI's configuration chooses a context: $DOCKER_CONTEXT, else
 * currentContext in $DOCKER_CONFIG/config.json (~/.docker/config.json),
 * other than "default". A configuration crpc cannot read counts as one:
 * the CLI then finds the daemon.
 */
static bool context_chosen(void)
{
	const char *c = getenv("DOCKER_CONTEXT"), *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	crpc__buf b = { 0 };
	struct stat st;
	json_t *j;
	bool chosen;

	if (c && *c)
		return strcmp(c, "default") != 0;
	if ((!dir || !*dir) && (!home || !*home))
		return false;
	if ((dir && *dir ? snprintf(path, sizeof(path), "%s/config.json", dir)
			 : snprintf(path, sizeof(path), "%s/.docker/config.json", home)) >= (int)sizeof(path))
		return true;
	/* the user's own file (a link is followed, as the CLI does), but no FIFO or device to wait on */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT && errno != ENOTDIR;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    crpc__buf_read_fd(&b, fd, CLI_CONFIG_MAX, false) < 0) {
		crpc__buf_release(&b);
		return true;
	}
	j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	c = json_string_value(json_object_get(j, "currentContext"));
	chosen = !json_is_object(j) || (c && *c && strcmp(c, "default") != 0);
	json_decref(j);
	crpc__buf_release(&b);
	return chosen;
}

/*
 * The daemon's unix socket, as the CLI finds it: $DOCKER_HOST's
 * unix://PATH, else (no context chosen) Docker's default socket. false for
 * anything else (tcp://, ssh://, a context), which only the CLI reaches.
 */
static bool daemon_socket(char *buf, size_t size)
{
	const char *h = getenv("DOCKER_HOST");

	if (!h || !*h) {
		if (context_chosen())
			return false;
		h = "unix:///var/run/docker.sock";
	}
	if (strncmp(h, "unix://", 7) != 0 || h[7] != '/')
		return false;
	return (size_t)snprintf(buf, size, "%s", h + 7) < size;
}

/*
 * The socket to send requests to, when crpc speaks to the daemon itself
 * (daemon_socket() and libcurl): false when the CLI goes instead.
 */
static bool api_socket(char *buf, size_t size)
{
	return daemon_socket(buf, size) && crpc__docker_api_ready(NULL, 0);
}

/* METHOD PATH on sock; dockerd not answering is an ENV error with how to start it. */
static int api(const char *sock, const char *method, const char *path, json_t *body, crpc__docker_reply *r,
	       crpc_error **err)
{
	if (crpc__docker_api(sock, method, path, body, r, err) == 0)
		return 0;
	if (err && *err && (*err)->exit_class == CRPC_EXIT_ENV && !(*err)->hint)
		crpc_error_set_hint(*err, DOCKER_HINT_START);
	return -1;
}

/* A failure status of r as op's error (r released). */
static int api_fail(crpc_error **err, const char *op, const char *method, const char *path,
		    crpc__docker_reply *r)
{
	int e = r->status == 404 ? ENOENT : r->status == 409 ? EBUSY : EIO;

	crpc_error_set(err, CRPC_EXIT_FAIL, e, op, "dockerd refused %s %s (%ld): %s", method, path,
		       r->status, r->message);
	crpc__docker_reply_release(r);
	return -1;
}

/* METHOD PATH that must succeed (2xx): 0 with *r to release, else -1 with op's error. */
static int api_ok(const char *sock, const char *op, const char *method, const char *path, json_t *body,
		  crpc__docker_reply *r, crpc_error **err)
{
	if (api(sock, method, path, body, r, err) < 0)
		return -1;
	if (r->status >= 200 && r->status < 300)
		return 0;
	return api_fail(err, op, method, path, r);
}

/*
 * The runtime directory's record of the daemon behind the socket: its
 * version and experimental flag, valid while the socket is the same file
 * (a restarted dockerd makes a new one): key "DEV:INO:MTIME", value
 * "VERSION FLAG".
 */
static bool daemon_key(const char *sock, char *key, size_t ksz, char *name, size_t nsz)
{
	struct stat st;

	if (lstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	snprintf(key, ksz, "%llu:%llu:%lld.%09ld", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	crpc__runtime_record_name("dockerd", sock, name, nsz);
	return true;
}

static bool daemon_recorded(const char *sock, char *v, size_t size)
{
	char key[128], name[NAME_MAX + 1];

	return daemon_key(sock, key, sizeof(key), name, sizeof(name)) &&
	       crpc__runtime_record_get(name, key, v, size);
}

static void daemon_record(const char *sock, const char *v)
{
	char key[128], name[NAME_MAX + 1];

	if (daemon_key(sock, key, sizeof(key), name, sizeof(name)))
		crpc__runtime_record_put(name, key, v);
}

/* GET /version: "VERSION true|false" into v. */
static int api_version(const char *sock, char *v, size_t size, crpc_error **err)
{
	crpc__docker_reply r;
	json_t *exp;
	const char *ver;

	if (api_ok(sock, "docker", "GET", "/version", NULL, &r, err) < 0)
		return -1;
	ver = json_string_value(json_object_get(r.json, "Version"));
	/* a boolean at the top (20.10); the engine component's detail, a string, otherwise */
	exp = json_object_get(r.json, "Experimental");
	if (!exp) {
		size_t i;
		json_t *c;

		json_array_foreach(json_object_get(r.json, "Components"), i, c) {
			const char *d = json_string_value(
				json_object_get(json_object_get(c, "Details"), "Experimental"));

			if (d && strcmp(d, "true") == 0)
				exp = json_true();
		}
	}
	snprintf(v, size, "%.63s %s", ver ? ver : "unknown", json_is_true(exp) ? "true" : "false");
	crpc__docker_reply_release(&r);
	return 0;
}

/* The daemon's version and experimental flag, asked once (see known and daemon_recorded()). */
static int server_info(crpc_error **err)
{
	const char *h = getenv("DOCKER_HOST");
	char v[128], sock[PATH_MAX], *sp;
	bool have_sock = daemon_socket(sock, sizeof(sock));

	if (known_fresh() && known.version[0])
		return 0;
	if (have_sock && daemon_recorded(sock, v, sizeof(v)))
		;
	else if (have_sock && crpc__docker_api_ready(NULL, 0)) {
		if (api_version(sock, v, sizeof(v), err) < 0)
			return -1;
	} else if (server_field("{{.Server.Version}} {{.Server.Experimental}}", v, sizeof(v), err) < 0)
		return -1;
	else if (have_sock)
		daemon_record(sock, v);
	if (!known_fresh()) {
		memset(&known, 0, sizeof(known));
		snprintf(known.host, sizeof(known.host), "%s", h ? h : "");
	}
	known.at = crpc__now();
	sp = strrchr(v, ' ');
	known.experimental = sp && strcmp(sp + 1, "true") == 0;
	if (sp)
		*sp = '\0';
	snprintf(known.version, sizeof(known.version), "%.63s", v);
	return 0;
}

static bool docker_present(const crpc__engine_ctx *ctx, char *why, size_t size)
{
	char cli[PATH_MAX], sock[PATH_MAX];
	crpc_error *e = NULL;

	(void)ctx;
	if (!docker_cli(cli, sizeof(cli))) {
		snprintf(why, size, "docker not found (%s)",
			 getenv("CRPC_DOCKER") ? "$CRPC_DOCKER" : "not on PATH");
		return false;
	}
	/* a unix socket: whether dockerd listens there, without a start of the CLI */
	if (daemon_socket(sock, sizeof(sock))) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r = -1;

		if (fd >= 0 && strlen(sock) < sizeof(sa.sun_path)) {
			memcpy(sa.sun_path, sock, strlen(sock) + 1);
			do
				r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			while (r < 0 && errno == EINTR);
		}
		if (r == 0)
			return true;
		snprintf(why, size, "dockerd does not answer at %s (%s); hint: %s", sock,
			 crpc_errno_name(fd < 0 || r < 0 ? errno : EINVAL), DOCKER_HINT_START);
		return false;
	}
	if (server_info(&e) < 0) {
		snprintf(why, size, "%s; hint: %s", e && e->message ? e->message : "dockerd does not answer",
			 DOCKER_HINT_START);
		crpc_error_free(e);
		return false;
	}
	return true;
}

static int docker_version(const crpc__engine_ctx *ctx, char *buf, size_t size, crpc_error **err)
{
	(void)ctx;
	if (server_info(err) < 0)
		return -1;
	snprintf(buf, size, "%s", known.version);
	return 0;
}

/* Checkpoints need the daemon's experimental features (Docker 20.10). */
static int need_experimental(const char *op, crpc_error **err)
{
	if (server_info(err) < 0)
		return -1;
	if (known.experimental)
		return 0;
	crpc_error_set(err, CRPC_EXIT_ENV, ENOTSUP, op,
		       "dockerd runs without experimental features: it has no docker checkpoint");
	if (err && *err)
		crpc_error_set_hint(*err, DOCKER_HINT_EXPERIMENTAL);
	return -1;
}

/* What recreates the container: its image and the parts of its configuration `docker create` takes. */
static json_t *recreate_of(json_t *j)
{
	json_t *cfg = json_object_get(j, "Config"), *host = json_object_get(j, "HostConfig");
	json_t *r = json_object();
	static const char *const cfg_keys[] = { "Image", "Cmd",    "Entrypoint", "Env", "WorkingDir",
						"User",  "Labels", "Hostname",   "Tty", NULL };
	static const char *const host_keys[] = { "Binds",        "NetworkMode", "Runtime",
						 "CgroupParent", "Init",        NULL };

	if (!r)
		return NULL;
	for (const char *const *k = cfg_keys; *k; k++) {
		json_t *v = json_object_get(cfg, *k);

		if (v && !json_is_null(v))
			json_object_set(r, *k, v);
	}
	for (const char *const *k = host_keys; *k; k++) {
		json_t *v = json_object_get(host, *k);

		if (v && !json_is_null(v))
			json_object_set(r, *k, v);
	}
	return r;
}

/* The data root, as a container's files there show it: ROOT/containers/ID/hostname. */
static void learn_root(json_t *j)
{
	const char *p = json_string_value(json_object_get(j, "HostnamePath"));
	const char *id = json_string_value(json_object_get(j, "Id"));
	char want[200];
	const char *at;

	if (!p || !id || p[0] != '/')
		return;
	if (!known_fresh()) {
		const char *h = getenv("DOCKER_HOST");

		memset(&known, 0, sizeof(known));
		snprintf(known.host, sizeof(known.host), "%s", h ? h : "");
		known.at = crpc__now();
	}
	snprintf(want, sizeof(want), "/containers/%s/", id);
	at = strstr(p, want);
	if (at && at > p && (size_t)(at - p) < sizeof(known.root))
		snprintf(known.root, sizeof(known.root), "%.*s", (int)(at - p), p);
}

/* One element of `docker inspect`. */
static void fill_inspect(json_t *j, crpc__container *c)
{
	json_t *state = json_object_get(j, "State");
	const char *name = json_string_value(json_object_get(j, "Name"));

	cpy(c->info.engine, sizeof(c->info.engine), "docker");
	cpy(c->info.id, sizeof(c->info.id), json_string_value(json_object_get(j, "Id")));
	cpy(c->info.name, sizeof(c->info.name), name && name[0] == '/' ? name + 1 : name);
	cpy(c->info.image, sizeof(c->info.image),
	    json_string_value(json_object_get(json_object_get(j, "Config"), "Image")));
	cpy(c->info.state, sizeof(c->info.state), json_string_value(json_object_get(state, "Status")));
	c->info.running = json_is_true(json_object_get(state, "Running")) &&
			  !json_is_true(json_object_get(state, "Paused"));
	c->info.pid = c->info.running ? (pid_t)json_integer_value(json_object_get(state, "Pid")) : 0;
	cpy(c->info.runtime, sizeof(c->info.runtime),
	    json_string_value(json_object_get(json_object_get(j, "HostConfig"), "Runtime")));
	learn_root(j);
}

/*
 * GET /containers/REF/json of each ref, the ones found as a JSON array (a
 * container removed meanwhile is left out); NULL with *not_found when none
 * of them exists.
 */
static json_t *api_inspect(const char *sock, const char *const *refs, size_t n, bool *not_found,
			   crpc_error **err)
{
	json_t *all = json_array();
	char path[320];

	*not_found = false;
	if (!all) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "docker", "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		crpc__docker_reply r;

		/* what no container can be named is not found: nothing else goes into the path */
		if (!crpc__engine_valid_ref(refs[i]) || strlen(refs[i]) > 256)
			continue;
		snprintf(path, sizeof(path), "/containers/%s/json", refs[i]);
		if (api(sock, "GET", path, NULL, &r, err) < 0) {
			json_decref(all);
			return NULL;
		}
		if (r.status == 404) {
			crpc__docker_reply_release(&r);
			continue;
		}
		if (r.status != 200 || !json_is_object(r.json)) {
			json_decref(all);
			if (r.status == 200)
				snprintf(r.message, sizeof(r.message), "no container description");
			api_fail(err, "docker", "GET", path, &r);
			return NULL;
		}
		json_array_append(all, r.json);
		crpc__docker_reply_release(&r);
	}
	if (json_array_size(all) == 0) {
		json_decref(all);
		*not_found = true;
		return NULL;
	}
	return all;
}

/* `docker inspect --type container REFS...` as a JSON array; NULL with *not_found when none exists. */
static json_t *inspect(const char *const *refs, size_t n, bool *not_found, crpc_error **err)
{
	char cli[PATH_MAX];
	crpc__argv a;
	crpc__cmd_out o;
	json_error_t jerr;
	json_t *j;
	int st;

	*not_found = false;
	if (api_socket(cli, sizeof(cli)))
		return api_inspect(cli, refs, n, not_found, err);
	if (docker_argv(&a, cli, sizeof(cli), err) < 0)
		return NULL;
	crpc__argv_add(&a, "inspect");
	crpc__argv_add(&a, "--type");
	crpc__argv_add(&a, "container");
	for (size_t i = 0; i < n; i++)
		crpc__argv_add(&a, refs[i]);
	st = docker_run(&o, &a, err);
	if (st < 0)
		return NULL;
	if (st != 0) {
		if (o.err && strstr(o.err, "No such"))
			*not_found = true;
		else if (o.err && strstr(o.err, "Cannot connect to the Docker daemon")) {
			crpc_error_set(err, CRPC_EXIT_ENV, ECONNREFUSED, "docker",
				       "dockerd does not answer: %s", o.err);
			if (err && *err)
				crpc_error_set_hint(*err, DOCKER_HINT_START);
		} else
			crpc__cmd_fail(err, "docker", (char *const *)a.v, st, &o);
		crpc__cmd_out_release(&o);
		return NULL;
	}
	j = json_loadb(o.out, o.out_len, 0, &jerr);
	crpc__cmd_out_release(&o);
	if (!json_is_array(j)) {
		json_decref(j);
		crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "docker",
			       "docker inspect: unreadable output: %s", jerr.text);
		return NULL;
	}
	return j;
}

static int docker_resolve(const crpc__engine_ctx *ctx, const char *ref, crpc__container *out,
			  crpc_error **err)
{
	bool not_found;
	json_t *j = inspect(&ref, 1, &not_found, err), *e;

	if (!j)
		return not_found ? CRPC__ENGINE_NOT_FOUND : -1;
	e = json_array_get(j, 0);
	if (!json_is_object(e)) {
		json_decref(j);
		return CRPC__ENGINE_NOT_FOUND;
	}
	fill_inspect(e, out);
	out->recreate = recreate_of(e);
	json_decref(j);
	docker_version(ctx, out->info.engine_version, sizeof(out->info.engine_version), NULL);
	return CRPC__ENGINE_FOUND;
}

/* The inspected containers of j (an array) as *out. */
static int fill_list(const crpc__engine_ctx *ctx, json_t *j, crpc__container **out, size_t *n,
		     crpc_error **err)
{
	char ver[64] = "";
	size_t i;
	json_t *e;

	*out = calloc(json_array_size(j) + 1, sizeof(**out));
	if (!*out)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "docker", "out of memory");
	docker_version(ctx, ver, sizeof(ver), NULL);
	json_array_foreach(j, i, e) {
		crpc__container *c = &(*out)[*n];

		fill_inspect(e, c);
		cpy(c->info.engine_version, sizeof(c->info.engine_version), ver);
		(*n)++;
	}
	return 0;
}

/* GET /containers/json?all=1, then each one's description. */
static int api_list(const crpc__engine_ctx *ctx, const char *sock, crpc__container **out, size_t *n,
		    crpc_error **err)
{
	crpc__docker_reply r;
	const char **ids;
	bool not_found = false;
	size_t i, k = 0;
	json_t *e, *j;
	int rc;

	if (api_ok(sock, "docker", "GET", "/containers/json?all=1", NULL, &r, err) < 0)
		return -1;
	ids = calloc(json_array_size(r.json) + 1, sizeof(*ids));
	if (!ids) {
		crpc__docker_reply_release(&r);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "docker", "out of memory");
	}
	json_array_foreach(r.json, i, e) {
		const char *id = json_string_value(json_object_get(e, "Id"));

		if (id)
			ids[k++] = id;
	}
	j = api_inspect(sock, ids, k, &not_found, err);
	free(ids);
	crpc__docker_reply_release(&r);
	/* none, or none left between the listing and the descriptions: an empty list */
	if (!j)
		return not_found ? 0 : -1;
	rc = fill_list(ctx, j, out, n, err);
	json_decref(j);
	return rc;
}

static int docker_list(const crpc__engine_ctx *ctx, crpc__container **out, size_t *n, crpc_error **err)
{
	char cli[PATH_MAX];
	const char *ids[48];
	crpc__argv a;
	crpc__cmd_out o;
	size_t k = 0;
	bool not_found = false;
	json_t *j;
	char *p, *save = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (api_socket(cli, sizeof(cli)))
		return api_list(ctx, cli, out, n, err);
	if (docker_argv(&a, cli, sizeof(cli), err) < 0)
		return -1;
	crpc__argv_add(&a, "ps");
	crpc__argv_add(&a, "--all");
	crpc__argv_add(&a, "--quiet");
	crpc__argv_add(&a, "--no-trunc");
	if (crpc__argv_run_ok(&a, NULL, &o, "docker", err) < 0)
		return -1;
	/* the first 48 (a command line of the executor holds 64 arguments) */
	for (p = strtok_r(o.out, "\n", &save); p && k < sizeof(ids) / sizeof(ids[0]);
	     p = strtok_r(NULL, "\n", &save))
		ids[k++] = p;
	j = k ? inspect(ids, k, &not_found, err) : NULL;
	crpc__cmd_out_release(&o);
	/* none, or removed between ps and inspect: an empty list is the truth of a moment */
	if (!j)
		return k == 0 || not_found ? 0 : -1;
	rc = fill_list(ctx, j, out, n, err);
	json_decref(j);
	return rc;
}

/* ---- checkpoint files ------------------------------------------------------- */

/* The daemon's data root (`docker info`), where it keeps the checkpoints. */
static int data_root(char *buf, size_t size, crpc_error **err)
{
	char cli[PATH_MAX];
	crpc__argv a;
	crpc__cmd_out o;

	if (known_fresh() && known.root[0]) {
		snprintf(buf, size, "%s", known.root);
		return 0;
	}
	if (api_socket(cli, sizeof(cli))) {
		crpc__docker_reply r;

		if (api_ok(cli, "docker", "GET", "/info", NULL, &r, err) < 0)
			return -1;
		cpy(buf, size, json_string_value(json_object_get(r.json, "DockerRootDir")));
		crpc__docker_reply_release(&r);
	} else {
		if (docker_argv(&a, cli, sizeof(cli), err) < 0)
			return -1;
		crpc__argv_add(&a, "info");
		crpc__argv_add(&a, "-f");
		crpc__argv_add(&a, "{{.DockerRootDir}}");
		if (crpc__argv_run_ok(&a, NULL, &o, "docker", err) < 0)
			return -1;
		take_line(buf, size, &o);
	}
	if (buf[0] != '/')
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "docker",
				      "dockerd gave no data root ('%s')", buf);
	return 0;
}

/*
 * Copy the regular file name from sfd to dfd (created 0600, O_EXCL; not
 * synced). dfd is a directory of crpc's own: a file there under that name
 * is a partial copy of a crpc killed while copying (Docker's data root is
 * a mount of its own, so copying is the usual way), replaced.
 */
static int copy_file(int sfd, int dfd, const char *name, crpc_error **err)
{
	cleanup_close int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int outfd = -1;
	struct stat st;
	off_t off = 0;

	if (in < 0 || fstat(in, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "docker",
				      "cannot read the checkpoint file %s", name);
	outfd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (outfd < 0 && errno == EEXIST && unlinkat(dfd, name, 0) == 0)
		outfd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (outfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "docker", "cannot create %s", name);
	while (off < st.st_size) {
		ssize_t k = sendfile(outfd, in, &off, (size_t)(st.st_size - off));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, k < 0 ? errno : EIO, "docker",
					      "cannot copy %s", name);
	}
	/* no fsync: Docker reads the copy right away and it is removed after */
	return 0;
}

/*
 * Every regular file of directory src into directory dst: moved (rename)
 * when move and both are on one filesystem, else copied. skip(name) files
 * are left out.
 */
static int transfer(const char *src, const char *dst, bool move, bool (*skip)(const char *), crpc_error **err)
{
	cleanup_close int sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (sfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "docker", "cannot open %s", src);
	if (dfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "docker", "cannot open %s", dst);
	d = io_opendir_at(sfd, ".");
	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "docker", "cannot read %s", src);
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || (skip && skip(de->d_name)))
			continue;
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (move && renameat(sfd, de->d_name, dfd, de->d_name) == 0) {
			fchmodat(dfd, de->d_name, 0600, 0);
			continue;
		}
		rc = copy_file(sfd, dfd, de->d_name, err);
	}
	closedir(d);
	return rc;
}

/* crpc's own files stay in DIR: the engine's checkpoint directory gets CRIU's. */
static bool crpc_own(const char *name)
{
	return strcmp(name, "crpc.json") == 0 || strcmp(name, "hooks.log") == 0 ||
	       strcmp(name, "dump.trace") == 0 || strncmp(name, ".crpc", 5) == 0;
}

/* The checkpoint's name: the call directory's, else crpc-PID. */
static void checkpoint_name(const crpc__engine_ctx *ctx, char *buf, size_t size)
{
	const char *slash = ctx->call_dir ? strrchr(ctx->call_dir, '/') : NULL;

	if (slash && slash[1])
		snprintf(buf, size, "crpc-%s", slash + 1);
	else
		snprintf(buf, size, "crpc-%d", (int)getpid());
}

/* docker checkpoint rm ID NAME (what is left of a checkpoint in the data root). */
static void checkpoint_rm_engine(const char *id, const char *name)
{
	char cli[PATH_MAX];
	crpc__argv a;
	crpc__cmd_out o;
	crpc_error *e = NULL;

	if (api_socket(cli, sizeof(cli))) {
		crpc__docker_reply r;
		char path[PATH_MAX];

		if (crpc__engine_valid_ref(id) && crpc__engine_valid_ref(name) &&
		    (size_t)snprintf(path, sizeof(path), "/containers/%s/checkpoints/%s", id, name) <
			    sizeof(path) &&
		    api(cli, "DELETE", path, NULL, &r, &e) == 0)
			crpc__docker_reply_release(&r);
		crpc_error_free(e);
		return;
	}
	if (docker_argv(&a, cli, sizeof(cli), &e) < 0) {
		crpc_error_free(e);
		return;
	}
	crpc__argv_add(&a, "checkpoint");
	crpc__argv_add(&a, "rm");
	crpc__argv_add(&a, id);
	crpc__argv_add(&a, name);
	if (docker_run(&o, &a, &e) >= 0)
		crpc__cmd_out_release(&o);
	crpc_error_free(e);
}

/*
 * Remove the checkpoint NAME of container ID from the data root: its files
 * (CRIU's, flat) and the directory, as `docker checkpoint rm` does, which
 * is run when something else is there.
 */
static void checkpoint_rm(const char *root, const char *id, const char *name)
{
	char dir[PATH_MAX * 2];
	cleanup_close int fd = -1;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/containers/%s/checkpoints/%s", root, id, name);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = io_opendir_at(fd, ".");
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0))
			unlinkat(fd, de->d_name, 0);
	if (d)
		closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		checkpoint_rm_engine(id, name);
}

/*
 * Docker names CRIU's log of a failed call in its error ("... path=
 * BUNDLE/criu-dump.log: unknown"): its excerpt goes into the error, while
 * the container's bundle still has it.
 */
static void attach_criu_log(crpc_error **err, const char *text)
{
	const char *p = text ? strstr(text, "path= ") : NULL;
	char log[PATH_MAX];
	size_t n;

	if (!p || !err || !*err)
		return;
	p += strlen("path= ");
	n = strcspn(p, ": \n");
	if (n == 0 || n >= sizeof(log) || p[0] != '/')
		return;
	memcpy(log, p, n);
	log[n] = '\0';
	if (n > 4 && strcmp(log + n - 4, ".log") == 0 && access(log, R_OK) == 0)
		crpc_error_attach_log(*err, log);
}

/*
 * The checkpoint of this call in the data root moved into images_dir and
 * removed there (1: there is none).
 */
static int docker_collect(const crpc__engine_ctx *ctx, crpc__container *c, const char *images_dir,
			  crpc_error **err)
{
	char root[PATH_MAX], name[64], src[PATH_MAX * 2];
	struct stat st;
	int rc;

	if (data_root(root, sizeof(root), err) < 0)
		return -1;
	checkpoint_name(ctx, name, sizeof(name));
	snprintf(src, sizeof(src), "%s/containers/%s/checkpoints/%s", root, c->info.id, name);
	if (lstat(src, &st) < 0 && errno == ENOENT)
		return 1;
	rc = transfer(src, images_dir, true, NULL, err);
	checkpoint_rm(root, c->info.id, name);
	if (rc == 0 && c->recreate) {
		json_object_set_new(c->recreate, "checkpointed_as", json_string(name));
		/* where a restore into the same container finds it without asking dockerd */
		json_object_set_new(c->recreate, "data_root", json_string(root));
	}
	return rc;
}

static int docker_checkpoint(const crpc__engine_ctx *ctx, crpc__container *c, const char *images_dir,
			     bool leave_running, crpc_error **err)
{
	char cli[PATH_MAX], root[PATH_MAX], name[64];
	crpc__argv a;
	crpc__cmd_out o;
	int st, rc;

	if (need_experimental("docker checkpoint", err) < 0 || data_root(root, sizeof(root), err) < 0)
		return -1;
	checkpoint_name(ctx, name, sizeof(name));
	/*
	 * Through the CLI even where crpc speaks to dockerd itself: when crpc
	 * is killed, the CLI's process lives on until dockerd's checkpoint
	 * ends, and its command line, which names the checkpoint, tells crpc
	 * recover that the engine is still at work (crpc__engine_call_busy()).
	 */
	if (docker_argv(&a, cli, sizeof(cli), err) < 0)
		return -1;
	crpc__argv_add(&a, "checkpoint");
	crpc__argv_add(&a, "create");
	if (leave_running)
		crpc__argv_add(&a, "--leave-running");
	crpc__argv_add(&a, c->info.id);
	crpc__argv_add(&a, name);
	st = docker_run(&o, &a, err);
	if (st < 0)
		return -1;
	if (st != 0) {
		crpc__cmd_fail(err, "docker checkpoint", (char *const *)a.v, st, &o);
		attach_criu_log(err, o.err);
		crpc__cmd_out_release(&o);
		checkpoint_rm(root, c->info.id, name);
		return -1;
	}
	crpc__cmd_out_release(&o);
	rc = docker_collect(ctx, c, images_dir, err);
	if (rc > 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, "docker checkpoint",
				      "docker checkpoint create succeeded but left no checkpoint %s", name);
	return rc;
}

/* ---- restore ---------------------------------------------------------------- */

static void add_list(crpc__argv *a, json_t *v, const char *flag)
{
	size_t i;
	json_t *e;

	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			continue;
		crpc__argv_add(a, flag);
		crpc__argv_add(a, json_string_value(e));
	}
}

/*
 * POST /containers/create?name=NAME with the recorded configuration (the
 * same parts as `docker create` below is given); the new ID into id.
 */
static int api_create(const char *sock, json_t *rec, const char *image, const char *name, char *id,
		      size_t size, crpc_error **err)
{
	static const char *const cfg_keys[] = {
		"Cmd", "Entrypoint", "Env", "WorkingDir", "User", "Tty", NULL
	};
	static const char *const host_keys[] = { "Binds", "NetworkMode", "Runtime", "Init", NULL };
	json_t *body = json_object(), *host = json_object();
	crpc__docker_reply r;
	char path[320];
	int rc;

	if (!crpc__engine_valid_ref(name) || strlen(name) > 256) {
		json_decref(body);
		json_decref(host);
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, "docker create",
				      "'%s' is no container name Docker takes ([A-Za-z0-9][A-Za-z0-9_.-]*)",
				      name);
	}
	if (!body || !host || json_object_set_new(body, "Image", json_string(image)) < 0 ||
	    json_object_set(body, "HostConfig", host) < 0) {
		json_decref(body);
		json_decref(host);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "docker create", "out of memory");
	}
	for (const char *const *k = cfg_keys; *k; k++)
		if (json_object_get(rec, *k))
			json_object_set(body, *k, json_object_get(rec, *k));
	for (const char *const *k = host_keys; *k; k++)
		if (json_object_get(rec, *k))
			json_object_set(host, *k, json_object_get(rec, *k));
	json_decref(host);
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	rc = api_ok(sock, "docker create", "POST", path, body, &r, err);
	json_decref(body);
	if (rc < 0)
		return -1;
	cpy(id, size, json_string_value(json_object_get(r.json, "Id")));
	crpc__docker_reply_release(&r);
	if (!crpc__engine_valid_ref(id))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EIO, "docker create",
				      "dockerd created %s but gave no usable ID ('%s')", name, id);
	return 0;
}

/* docker create --name NAME ... from the recorded configuration; the new ID into id. */
static int recreate(const crpc__container *rec, const char *name, char *id, size_t size, crpc_error **err)
{
	json_t *r = rec->recreate, *ep = json_object_get(r, "Entrypoint"), *cmd = json_object_get(r, "Cmd");
	const char *image = json_string_value(json_object_get(r, "Image"));
	char cli[PATH_MAX];
	crpc__argv a;
	crpc__cmd_out o;
	json_t *e;
	size_t i;

	if (!image || !*image)
		image = rec->info.image;
	if (!image || !*image)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, "docker create",
				      "the checkpoint records no image to recreate %s from", rec->info.name);
	/* an image is no option of docker create's */
	if (image[0] == '-')
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "docker create",
				      "the checkpoint records '%s' as the image of %s", image,
				      rec->info.name);
	if (api_socket(cli, sizeof(cli)))
		return api_create(cli, r, image, name, id, size, err);
	if (docker_argv(&a, cli, sizeof(cli), err) < 0)
		return -1;
	crpc__argv_add(&a, "create");
	crpc__argv_add(&a, "--name");
	crpc__argv_add(&a, name);
	if (json_is_string(json_object_get(r, "NetworkMode"))) {
		crpc__argv_add(&a, "--network");
		crpc__argv_add(&a, json_string_value(json_object_get(r, "NetworkMode")));
	}
	if (json_is_string(json_object_get(r, "Runtime"))) {
		crpc__argv_add(&a, "--runtime");
		crpc__argv_add(&a, json_string_value(json_object_get(r, "Runtime")));
	}
	if (json_is_string(json_object_get(r, "WorkingDir")) &&
	    json_string_length(json_object_get(r, "WorkingDir"))) {
		crpc__argv_add(&a, "--workdir");
		crpc__argv_add(&a, json_string_value(json_object_get(r, "WorkingDir")));
	}
	if (json_is_string(json_object_get(r, "User")) && json_string_length(json_object_get(r, "User"))) {
		crpc__argv_add(&a, "--user");
		crpc__argv_add(&a, json_string_value(json_object_get(r, "User")));
	}
	if (json_is_true(json_object_get(r, "Init")))
		crpc__argv_add(&a, "--init");
	if (json_is_true(json_object_get(r, "Tty")))
		crpc__argv_add(&a, "--tty");
	add_list(&a, json_object_get(r, "Binds"), "--volume");
	add_list(&a, json_object_get(r, "Env"), "--env");
	if (json_array_size(ep) > 0) {
		crpc__argv_add(&a, "--entrypoint");
		crpc__argv_add(&a, json_string_value(json_array_get(ep, 0)));
	}
	crpc__argv_add(&a, image);
	/* an entrypoint's further arguments come before the command */
	for (i = 1; i < json_array_size(ep); i++)
		crpc__argv_add(&a, json_string_value(json_array_get(ep, i)));
	json_array_foreach(cmd, i, e)
		crpc__argv_add(&a, json_string_value(e));
	if (a.overflow)
		return crpc_error_set(err, CRPC_EXIT_FAIL, E2BIG, "docker create",
				      "the recorded configuration of %s needs more arguments than crpc passes",
				      rec->info.name);
	if (crpc__argv_run_ok(&a, NULL, &o, "docker create", err) < 0)
		return -1;
	take_line(id, size, &o);
	return 0;
}

static void remove_container(const char *id)
{
	char cli[PATH_MAX];
	crpc__argv a;
	crpc__cmd_out o;
	crpc_error *e = NULL;

	if (api_socket(cli, sizeof(cli))) {
		crpc__docker_reply r;
		char path[320];

		if (crpc__engine_valid_ref(id) && strlen(id) <= 256) {
			snprintf(path, sizeof(path), "/containers/%s?force=1", id);
			if (api(cli, "DELETE", path, NULL, &r, &e) == 0)
				crpc__docker_reply_release(&r);
		}
	} else if (docker_argv(&a, cli, sizeof(cli), &e) == 0) {
		crpc__argv_add(&a, "rm");
		crpc__argv_add(&a, "--force");
		crpc__argv_add(&a, id);
		if (docker_run(&o, &a, &e) >= 0)
			crpc__cmd_out_release(&o);
	}
	crpc_error_free(e);
}

/* mkdir that is fine when the directory is there, private when made. */
static int mkdir_private(const char *path, bool must_be_new, crpc_error **err)
{
	if (mkdir(path, 0700) == 0 || (!must_be_new && errno == EEXIST))
		return 0;
	return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "docker", "cannot create %s", path);
}

/*
 * Tell the installed shim that this call's restore runs in the container id
 * (named name), not in the one call.json names: container.json in the call
 * directory (see call_parent.c).
 */
static int note_started(const crpc__engine_ctx *ctx, const char *id, const char *name, crpc_error **err)
{
	char path[PATH_MAX + 32];
	json_t *j;
	char *text;
	int fd, rc = 0;

	if (!ctx->call_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", ctx->call_dir, CRPC__CALL_STARTED);
	j = json_pack("{s:s, s:s}", "id", id, "name", name);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	fd = text ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
	if (fd < 0 || io_write_full(fd, text, strlen(text)) < 0)
		rc = crpc_error_set(err, CRPC_EXIT_FAIL, text ? errno : ENOMEM, "docker", "cannot write %s",
				    path);
	if (fd >= 0)
		close(fd);
	free(text);
	return rc;
}

#define CONFIG_V2_MAX (4u << 20)

/*
 * Is the container ID, in the data root the dump recorded, there and
 * stopped, as dockerd's own record of it shows (ROOT/containers/ID/
 * config.v2.json, which dockerd rewrites on every change of state)? Then
 * the restore needs no `docker inspect`: root is set to the data root. Only
 * when that directory is root's and private; `docker start` refuses a
 * container that runs in any case.
 */
static bool stopped_unasked(const crpc__container *rec, char *root, size_t size)
{
	const char *r = json_string_value(json_object_get(rec->recreate, "data_root"));
	char dir[PATH_MAX * 2];
	cleanup_close int fd = -1;
	cleanup_free uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	json_t *j, *state;
	bool stopped;

	if (!r || r[0] != '/' || strlen(r) >= size || !rec->info.id[0] || strchr(rec->info.id, '/') ||
	    snprintf(dir, sizeof(dir), "%s/containers/%s", r, rec->info.id) >= (int)sizeof(dir))
		return false;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 0022) ||
	    crpc__read_whole_at(fd, "config.v2.json", CONFIG_V2_MAX, &data, &len) < 0)
		return false;
	j = json_loadb((const char *)data, len, 0, NULL);
	state = json_object_get(j, "State");
	stopped = json_is_object(state) && json_is_false(json_object_get(state, "Running")) &&
		  !json_is_true(json_object_get(state, "Paused")) &&
		  !json_is_true(json_object_get(state, "Restarting")) &&
		  json_is_string(json_object_get(j, "ID")) &&
		  strcmp(json_string_value(json_object_get(j, "ID")), rec->info.id) == 0;
	json_decref(j);
	if (stopped)
		snprintf(root, size, "%s", r);
	return stopped;
}

/*
 * Docker 20.10 with containerd 1.6 refuses, now and then, a checkpoint
 * whose content containerd still holds from its creation ("failed to
 * upload checkpoint to containerd: commit failed: content sha256:...:
 * already exists") until containerd's garbage collection has run: the
 * start is tried again then, the container still untouched.
 */
static bool start_again(const char *why)
{
	return why && strstr(why, "already exists") && strstr(why, "upload checkpoint");
}

/* Start container id from its checkpoint name: POST /containers/ID/start?checkpoint=NAME, or the CLI's. */
static int start_checkpoint(const char *id, const char *name, crpc_error **err)
{
	char cli[PATH_MAX], path[PATH_MAX];
	crpc__argv a;
	crpc__cmd_out o;
	bool via_api = api_socket(cli, sizeof(cli));
	int st;

	if (via_api && (!crpc__engine_valid_ref(id) || !crpc__engine_valid_ref(name) ||
			(size_t)snprintf(path, sizeof(path), "/containers/%s/start?checkpoint=%s", id,
					 name) >= sizeof(path)))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "docker start", "'%s' is no container ID",
				      id);
	for (int tries = 1;; tries++) {
		if (via_api) {
			crpc__docker_reply r;

			if (api(cli, "POST", path, NULL, &r, err) < 0)
				return -1;
			if (r.status >= 200 && r.status < 300) {
				crpc__docker_reply_release(&r);
				return 0;
			}
			if (tries >= START_TRIES || !start_again(r.message)) {
				api_fail(err, "docker start", "POST", path, &r);
				attach_criu_log(err, r.message);
				return -1;
			}
			crpc__docker_reply_release(&r);
		} else {
			if (docker_argv(&a, cli, sizeof(cli), err) < 0)
				return -1;
			crpc__argv_add(&a, "start");
			crpc__argv_add(&a, "--checkpoint");
			crpc__argv_add(&a, name);
			crpc__argv_add(&a, id);
			st = docker_run(&o, &a, err);
			if (st < 0)
				return -1;
			if (st == 0) {
				crpc__cmd_out_release(&o);
				return 0;
			}
			if (tries >= START_TRIES || !start_again(o.err)) {
				crpc__cmd_fail(err, "docker start", (char *const *)a.v, st, &o);
				attach_criu_log(err, o.err);
				crpc__cmd_out_release(&o);
				return -1;
			}
			crpc__cmd_out_release(&o);
		}
		usleep(200 * 1000);
	}
}

static int docker_restore(const crpc__engine_ctx *ctx, const crpc__container *rec, const char *images_dir,
			  const char *new_name, crpc__container *out, crpc_error **err)
{
	char root[PATH_MAX] = "", name[64], id[128] = "", dir[PATH_MAX * 2];
	const char *want = new_name ? new_name : rec->info.name;
	crpc__container cur = { 0 };
	bool created = false;
	int r;

	if (need_experimental("docker start --checkpoint", err) < 0)
		return -1;
	/* the same container when it is there and stopped */
	if (!new_name && stopped_unasked(rec, root, sizeof(root))) {
		/* as dockerd's own record of it says: no docker inspect */
		cpy(id, sizeof(id), rec->info.id);
	} else {
		r = new_name ? CRPC__ENGINE_NOT_FOUND : docker_resolve(ctx, rec->info.id, &cur, err);
		if (r < 0)
			return -1;
		if (r == CRPC__ENGINE_FOUND) {
			if (cur.info.running) {
				crpc_error_set(err, CRPC_EXIT_FAIL, EBUSY, "docker restore",
					       "docker:%s (%.12s) is running", cur.info.name, cur.info.id);
				if (err && *err)
					crpc_error_set_hint(
						*err,
						"stop it first (docker stop %s), or restore a copy with --name NEW",
						cur.info.name);
				crpc__container_release(&cur);
				return -1;
			}
			cpy(id, sizeof(id), cur.info.id);
			crpc__container_release(&cur);
		} else {
			/* a name another container took is docker create's refusal to tell */
			if (recreate(rec, want, id, sizeof(id), err) < 0)
				return -1;
			created = true;
		}
	}

	/* after the container was inspected: its files show where the data root is */
	if ((created && note_started(ctx, id, want, err) < 0) ||
	    (!root[0] && data_root(root, sizeof(root), err) < 0))
		goto fail;
	checkpoint_name(ctx, name, sizeof(name));
	snprintf(dir, sizeof(dir), "%s/containers/%s/checkpoints", root, id);
	if (mkdir_private(dir, false, err) < 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/containers/%s/checkpoints/%s", root, id, name);
	if (mkdir_private(dir, true, err) < 0)
		goto fail;
	if (transfer(images_dir, dir, false, crpc_own, err) < 0)
		goto fail_dir;
	if (start_checkpoint(id, name, err) < 0)
		goto fail_dir;
	checkpoint_rm(root, id, name);
	/* the restored init as CRIU gave it to the shim: no docker inspect needed */
	{
		pid_t pid = ctx->call_dir ? crpc__engine_restored_pid(ctx->call_dir) : 0;

		if (pid > 0) {
			out->info = rec->info;
			cpy(out->info.id, sizeof(out->info.id), id);
			cpy(out->info.name, sizeof(out->info.name), want);
			cpy(out->info.state, sizeof(out->info.state), "running");
			out->info.running = true;
			out->info.pid = pid;
			docker_version(ctx, out->info.engine_version, sizeof(out->info.engine_version), NULL);
			return 0;
		}
	}
	if (docker_resolve(ctx, id, out, err) != CRPC__ENGINE_FOUND)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, "docker restore",
				      "the container %.12s is gone right after its start", id);
	return 0;

fail_dir:
	checkpoint_rm(root, id, name);
fail:
	if (created)
		remove_container(id);
	return -1;
}

const crpc__engine crpc__engine_docker = {
	.name = "docker",
	.present = docker_present,
	.version = docker_version,
	.resolve = docker_resolve,
	.list = docker_list,
	.checkpoint = docker_checkpoint,
	.collect = docker_collect,
	.restore = docker_restore,
};
