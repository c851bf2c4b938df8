/* SPDX-License-Identifier: MIT */
/*
 * podman.c - podman, through its CLI. podman runs the OCI runtime itself
 * (no daemon); `--runtime-flag criu=SHIM` makes runc take crpc as its CRIU
 * for the checkpoint, and conmon hands the same flag to `runc restore`.
 * podman checks CRIU's version on its own with the `criu` on PATH, so the
 * call directory also goes first on PATH for it. A checkpoint is podman's
 * export (`checkpoint --export`, uncompressed) unpacked into DIR: CRIU's
 * images in checkpoint/, the container's configuration beside them; a
 * restore packs the same files and imports them (`restore --import`),
 * which recreates the container with its ID and name (or as --name).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engines/engine.h"
#include "internal.h"

extern char **environ;

static bool podman_cli(char *buf, size_t size)
{
	return crpc__engine_cli("CRPC_PODMAN", "podman", buf, size);
}

static bool podman_present(const crpc__engine_ctx *ctx, char *why, size_t size)
{
	char cli[PATH_MAX];

	if (podman_cli(cli, sizeof(cli)))
		return true;
	snprintf(why, size, "podman not found (%s)", getenv("CRPC_PODMAN") ? "$CRPC_PODMAN" : "not on PATH");
	return false;
}

static void cpy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* Run podman ARGS; stdout into *o. <0 on error, else the status. */
static int podman_run(const crpc__argv *a, char *const envp[], crpc__cmd_out *o, crpc_error **err)
{
	return crpc__argv_run(a, envp, o, err);
}

/* The podman CLI into cli, or an ENV error when there is none. */
static int need_podman(char *cli, size_t size, crpc_error **err)
{
	if (!podman_cli(cli, size))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "podman", "podman not found");
	return 0;
}

/* A command line starting with the podman CLI (cli), or an ENV error when there is none. */
static int podman_argv(crpc__argv *a, char *cli, size_t size, crpc_error **err)
{
	if (need_podman(cli, size, err) < 0)
		return -1;
	crpc__argv_add(a, cli);
	return 0;
}

static int podman_version(const crpc__engine_ctx *ctx, char *buf, size_t size, crpc_error **err)
{
	char cli[PATH_MAX];
	char *argv[] = { cli, "--version", NULL };

	if (need_podman(cli, sizeof(cli), err) < 0)
		return -1;
	/* "podman version 4.3.1" */
	crpc__tool_version(argv, "podman version ", buf, size);
	return buf[0] ? 0
		      : crpc_error_set(err, CRPC_EXIT_ENV, EINVAL, "podman", "%s --version says no version",
				       cli);
}

/* One element of `podman container inspect`. */
static void fill_inspect(json_t *j, crpc__container *c)
{
	json_t *state = json_object_get(j, "State");
	const char *status = json_string_value(json_object_get(state, "Status"));

	cpy(c->info.engine, sizeof(c->info.engine), "podman");
	cpy(c->info.id, sizeof(c->info.id), json_string_value(json_object_get(j, "Id")));
	cpy(c->info.name, sizeof(c->info.name), json_string_value(json_object_get(j, "Name")));
	cpy(c->info.image, sizeof(c->info.image), json_string_value(json_object_get(j, "ImageName")));
	if (!c->info.image[0])
		cpy(c->info.image, sizeof(c->info.image), json_string_value(json_object_get(j, "Image")));
	cpy(c->info.state, sizeof(c->info.state), status);
	c->info.running = json_is_true(json_object_get(state, "Running"));
	c->info.pid = c->info.running ? (pid_t)json_integer_value(json_object_get(state, "Pid")) : 0;
	cpy(c->info.runtime, sizeof(c->info.runtime), json_string_value(json_object_get(j, "OCIRuntime")));
}

int crpc__podman_parse_inspect(const char *text, size_t len, json_t **obj, crpc_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr), *e = json_array_get(j, 0);

	*obj = NULL;
	if (!json_is_object(e)) {
		bool empty = json_is_array(j) && json_array_size(j) == 0;

		json_decref(j);
		if (empty)
			return CRPC__ENGINE_NOT_FOUND;
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "podman",
				      "podman container inspect: unreadable output: %s", jerr.text);
	}
	*obj = json_incref(e);
	json_decref(j);
	return CRPC__ENGINE_FOUND;
}

int crpc__podman_parse_ps(const char *text, size_t len, crpc__container **out, size_t *n, crpc_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &jerr), *e;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_array(j)) {
		json_decref(j);
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "podman",
				      "podman ps: unreadable output: %s", jerr.text);
	}
	*out = calloc(json_array_size(j) + 1, sizeof(**out));
	if (!*out) {
		json_decref(j);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "podman", "out of memory");
	}
	json_array_foreach(j, i, e) {
		crpc__container *c = &(*out)[*n];
		const char *state = json_string_value(json_object_get(e, "State"));

		if (!json_is_object(e))
			continue;
		cpy(c->info.engine, sizeof(c->info.engine), "podman");
		cpy(c->info.id, sizeof(c->info.id), json_string_value(json_object_get(e, "Id")));
		cpy(c->info.name, sizeof(c->info.name),
		    json_string_value(json_array_get(json_object_get(e, "Names"), 0)));
		cpy(c->info.image, sizeof(c->info.image), json_string_value(json_object_get(e, "Image")));
		cpy(c->info.state, sizeof(c->info.state), state);
		c->info.running = state && strcmp(state, "running") == 0;
		c->info.pid = c->info.running ? (pid_t)json_integer_value(json_object_get(e, "Pid")) : 0;
		if (c->info.pid < 0)
			c->info.pid = 0;
		(*n)++;
	}
	json_decref(j);
	return 0;
}

/* `podman container inspect REF`'s object into *obj (decref it), or NOT_FOUND. */
static int podman_inspect(const crpc__engine_ctx *ctx, const char *ref, json_t **obj, crpc_error **err)
{
	char cli[PATH_MAX];
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	int st;

	*obj = NULL;
	if (podman_argv(&a, cli, sizeof(cli), err) < 0)
		return -1;
	crpc__argv_add(&a, "container");
	crpc__argv_add(&a, "inspect");
	crpc__argv_add(&a, ref);
	st = podman_run(&a, NULL, &o, err);
	if (st < 0)
		return -1;
	if (st != 0) {
		int rc = strstr(o.err, "no such container")
				 ? CRPC__ENGINE_NOT_FOUND
				 : crpc__cmd_fail(err, "podman", (char *const *)a.v, st, &o);
		crpc__cmd_out_release(&o);
		return rc;
	}
	st = crpc__podman_parse_inspect(o.out, o.out_len, obj, err);
	crpc__cmd_out_release(&o);
	return st;
}

static int podman_resolve(const crpc__engine_ctx *ctx, const char *ref, crpc__container *out,
			  crpc_error **err)
{
	json_t *e;
	int rc = podman_inspect(ctx, ref, &e, err);

	if (rc != CRPC__ENGINE_FOUND)
		return rc;
	fill_inspect(e, out);
	out->recreate = json_object();
	/* podman's directory of the container: a restore into it needs no inspect */
	if (out->recreate && json_is_string(json_object_get(e, "StaticDir")))
		json_object_set(out->recreate, "static_dir", json_object_get(e, "StaticDir"));
	json_decref(e);
	podman_version(ctx, out->info.engine_version, sizeof(out->info.engine_version), NULL);
	return CRPC__ENGINE_FOUND;
}

static int podman_list(const crpc__engine_ctx *ctx, crpc__container **out, size_t *n, crpc_error **err)
{
	char cli[PATH_MAX], ver[64] = "";
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	int st;

	*out = NULL;
	*n = 0;
	if (podman_argv(&a, cli, sizeof(cli), err) < 0)
		return -1;
	crpc__argv_add(&a, "ps");
	crpc__argv_add(&a, "--all");
	crpc__argv_add(&a, "--format");
	crpc__argv_add(&a, "json");
	if (crpc__argv_run_ok(&a, NULL, &o, "podman", err) < 0)
		return -1;
	st = crpc__podman_parse_ps(o.out, o.out_len, out, n, err);
	crpc__cmd_out_release(&o);
	if (st < 0)
		return -1;
	podman_version(ctx, ver, sizeof(ver), NULL);
	for (size_t k = 0; k < *n; k++)
		cpy((*out)[k].info.engine_version, sizeof((*out)[k].info.engine_version), ver);
	return 0;
}

/* podman's environment with the call directory first on PATH (podman
 * looks for `criu` there to check its version, runc and conmon too). */
static char **call_env(const crpc__engine_ctx *ctx, char **path_var)
{
	size_t n = 0, k = 0;
	const char *path = getenv("PATH");
	char **envp;

	*path_var = NULL;
	if (!ctx->call_dir)
		return NULL;
	for (char **p = environ; p && *p; p++)
		n++;
	envp = calloc(n + 2, sizeof(char *));
	if (!envp ||
	    asprintf(path_var, "PATH=%s:%s", ctx->call_dir,
		     path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") <
		    0) {
		free(envp);
		*path_var = NULL;
		return NULL;
	}
	for (char **p = environ; p && *p; p++)
		if (strncmp(*p, "PATH=", 5) != 0)
			envp[k++] = *p;
	envp[k++] = *path_var;
	envp[k] = NULL;
	return envp;
}

/* podman [--runtime-flag criu=SHIM] */
static void podman_base(const crpc__engine_ctx *ctx, const char *cli, char *flag, size_t size, crpc__argv *a)
{
	crpc__argv_add(a, cli);
	if (ctx->shim_path && snprintf(flag, size, "criu=%s", ctx->shim_path) < (int)size) {
		crpc__argv_add(a, "--runtime-flag");
		crpc__argv_add(a, flag);
	}
}

static int run_tar(char *const argv[], const char *what, crpc_error **err)
{
	crpc__cmd_out o;
	int st = crpc__cmd_run(argv, NULL, &o, err);

	if (st < 0)
		return -1;
	if (st != 0)
		crpc__cmd_fail(err, what, argv, st, &o);
	crpc__cmd_out_release(&o);
	return st == 0 ? 0 : -1;
}

static bool tar_cli(char *buf, size_t size)
{
	return crpc__engine_cli(NULL, "tar", buf, size);
}

/* Files crpc adds to a checkpoint, never part of podman's export. */
static bool crpc_file(const char *name)
{
	return strcmp(name, "crpc.json") == 0 || strcmp(name, "dump.trace") == 0 ||
	       strcmp(name, "restore.log") == 0 || strncmp(name, ".crpc", 5) == 0;
}

static bool json_list_has(json_t *a, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), name) == 0)
			return true;
	return false;
}

int crpc__podman_parse_listing(char *text, json_t **layout, crpc_error **err)
{
	json_t *files = json_array(), *dirs = json_array(), *images = json_array();
	char *line, *save = NULL;
	size_t i;
	json_t *e;

	*layout = NULL;
	if (!files || !dirs || !images)
		goto oom;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len;
		char *slash;

		if (strncmp(line, "./", 2) == 0)
			line += 2;
		len = strlen(line);
		if (len == 0 || strcmp(line, ".") == 0)
			continue;
		if (line[len - 1] == '/') {
			line[len - 1] = '\0';
			if (!*line || strchr(line, '/') || strcmp(line, "..") == 0) {
				crpc_error_set(err, CRPC_EXIT_FAIL, ENOTSUP, "podman checkpoint",
					       "podman's export holds a directory %s/ crpc cannot keep",
					       line);
				goto fail;
			}
			if (strcmp(line, "checkpoint") != 0)
				json_array_append_new(dirs, json_string(line));
			continue;
		}
		slash = strchr(line, '/');
		if (!slash && strcmp(line, "..") != 0) {
			json_array_append_new(files, json_string(line));
		} else if (slash && strncmp(line, "checkpoint/", 11) == 0 && line[11] &&
			   !strchr(line + 11, '/') && strcmp(line + 11, "..") != 0 &&
			   strcmp(line + 11, ".") != 0) {
			json_array_append_new(images, json_string(line + 11));
		} else {
			crpc_error_set(err, CRPC_EXIT_FAIL, ENOTSUP, "podman checkpoint",
				       "podman's export holds %s, in a directory crpc cannot keep", line);
			goto fail;
		}
	}
	json_array_foreach(images, i, e) {
		const char *n = json_string_value(e);

		if (!n || json_list_has(files, n) || crpc_file(n)) {
			crpc_error_set(err, CRPC_EXIT_FAIL, ENOTSUP, "podman checkpoint",
				       "podman's export holds %s twice (or a file named as crpc's)",
				       n ? n : "?");
			goto fail;
		}
	}
	*layout = json_pack("{s:o, s:o, s:o}", "files", files, "dirs", dirs, "images", images);
	if (!*layout)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "podman checkpoint", "out of memory");
	return 0;
oom:
	crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "podman checkpoint", "out of memory");
fail:
	json_decref(files);
	json_decref(dirs);
	json_decref(images);
	return -1;
}

/*
 * Unpack podman's export into images_dir with one tar, whose listing of
 * the members it wrote (-v) gives the layout: CRIU's images in
 * checkpoint/, podman's own files (config.dump, spec.dump, ...) and empty
 * directories at the top. DIR holds them all side by side; *layout
 * records which are podman's. A layout crpc cannot keep fails the dump
 * (images_dir, a directory of its own, then goes).
 */
static int unpack_export(const char *tar, const char *export, const char *images_dir, json_t **layout,
			 crpc_error **err)
{
	char *targv[] = { (char *)tar,        "-x", "-v", "--no-same-owner", "-f", (char *)export, "-C",
			  (char *)images_dir, NULL };
	crpc__cmd_out o;
	int st, rc;

	*layout = NULL;
	st = crpc__cmd_run(targv, NULL, &o, err);
	if (st < 0)
		return -1;
	if (st != 0) {
		crpc__cmd_fail(err, "podman checkpoint", targv, st, &o);
		crpc__cmd_out_release(&o);
		return -1;
	}
	rc = crpc__podman_parse_listing(o.out, layout, err);
	crpc__cmd_out_release(&o);
	return rc;
}

/* checkpoint/NAME -> NAME for every image; the export's directories removed. */
static int flatten(const char *images_dir, json_t *layout, crpc_error **err)
{
	cleanup_close int dfd = open(images_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int cfd = -1;
	size_t i;
	json_t *e;

	if (dfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman checkpoint", "cannot open %s",
				      images_dir);
	cfd = openat(dfd, "checkpoint", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman checkpoint",
				      "podman's export has no checkpoint/ directory");
	json_array_foreach(json_object_get(layout, "images"), i, e)
		if (renameat(cfd, json_string_value(e), dfd, json_string_value(e)) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman checkpoint",
					      "cannot move %s/checkpoint/%s", images_dir,
					      json_string_value(e));
	if (unlinkat(dfd, "checkpoint", AT_REMOVEDIR) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman checkpoint",
				      "cannot remove %s/checkpoint", images_dir);
	json_array_foreach(json_object_get(layout, "dirs"), i, e)
		if (unlinkat(dfd, json_string_value(e), AT_REMOVEDIR) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman checkpoint",
					      "cannot remove %s/%s (crpc keeps only empty directories of the "
					      "export)",
					      images_dir, json_string_value(e));
	return 0;
}

/*
 * podman's export in the call directory (export.tar) unpacked into
 * images_dir, its layout into c->recreate. The export stays until the call
 * directory goes: a crpc killed before its intent says the images are in
 * images_dir leaves it for `crpc recover`.
 */
static int podman_collect(const crpc__engine_ctx *ctx, crpc__container *c, const char *images_dir,
			  crpc_error **err)
{
	char tar[PATH_MAX], export[PATH_MAX];
	json_t *layout = NULL;
	struct stat st;
	int rc;

	if (!tar_cli(tar, sizeof(tar)))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "podman", "tar not found on PATH");
	if (!ctx->call_dir ||
	    snprintf(export, sizeof(export), "%s/export.tar", ctx->call_dir) >= (int)sizeof(export))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "podman", "no call directory");
	if (lstat(export, &st) < 0)
		return errno == ENOENT ? 1
				       : crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman checkpoint",
							"cannot access %s", export);
	if (!S_ISREG(st.st_mode))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "podman checkpoint",
				      "%s is no regular file", export);
	rc = unpack_export(tar, export, images_dir, &layout, err);
	if (rc == 0)
		rc = flatten(images_dir, layout, err);
	if (rc == 0) {
		if (!c->recreate)
			c->recreate = json_object();
		json_object_set_new(c->recreate, "export", layout);
	} else {
		json_decref(layout);
	}
	return rc;
}

static int podman_checkpoint(const crpc__engine_ctx *ctx, crpc__container *c, const char *images_dir,
			     bool leave_running, crpc_error **err)
{
	char cli[PATH_MAX], tar[PATH_MAX], flag[PATH_MAX + 8], export[PATH_MAX];
	cleanup_free char *path_var = NULL;
	cleanup_free char **envp = NULL;
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	int rc;

	if (need_podman(cli, sizeof(cli), err) < 0)
		return -1;
	if (!tar_cli(tar, sizeof(tar)))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "podman", "tar not found on PATH");
	if (!ctx->call_dir ||
	    snprintf(export, sizeof(export), "%s/export.tar", ctx->call_dir) >= (int)sizeof(export))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "podman", "no call directory");
	envp = call_env(ctx, &path_var);
	podman_base(ctx, cli, flag, sizeof(flag), &a);
	crpc__argv_add(&a, "container");
	crpc__argv_add(&a, "checkpoint");
	crpc__argv_add(&a, "--export");
	crpc__argv_add(&a, export);
	crpc__argv_add(&a, "--compress");
	crpc__argv_add(&a, "none");
	if (leave_running)
		crpc__argv_add(&a, "--leave-running");
	crpc__argv_add(&a, c->info.id);
	if (crpc__argv_run_ok(&a, envp, &o, "podman checkpoint", err) < 0)
		return -1;
	crpc__cmd_out_release(&o);
	rc = podman_collect(ctx, c, images_dir, err);
	if (rc > 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, "podman checkpoint",
				      "podman checkpoint succeeded but wrote no export %s", export);
	return rc;
}

/* The call directory's import/: podman's export rebuilt from DIR with symbolic links. */
static int stage_import(const crpc__engine_ctx *ctx, const char *images_dir, json_t *layout, char *stage,
			size_t size, crpc_error **err)
{
	cleanup_close int dfd = open(images_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int sfd = -1;
	json_t *files = json_object_get(layout, "files");
	DIR *d;
	struct dirent *de;
	size_t i;
	json_t *e;
	char target[PATH_MAX];

	if (dfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman restore", "cannot open %s",
				      images_dir);
	if (snprintf(stage, size, "%s/import", ctx->call_dir) >= (int)size || mkdir(stage, 0700) < 0 ||
	    (sfd = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    mkdirat(sfd, "checkpoint", 0700) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman restore", "cannot make %s", stage);
	json_array_foreach(json_object_get(layout, "dirs"), i, e)
		if (mkdirat(sfd, json_string_value(e), 0700) < 0)
			return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman restore",
					      "cannot make %s/%s", stage, json_string_value(e));
	d = io_opendir_at(dfd, ".");
	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman restore", "cannot read %s",
				      images_dir);
	while ((de = readdir(d))) {
		struct stat st;
		char link[NAME_MAX + 16];

		if (de->d_name[0] == '.' || crpc_file(de->d_name) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		snprintf(target, sizeof(target), "%s/%s", images_dir, de->d_name);
		snprintf(link, sizeof(link), "%s%s", json_list_has(files, de->d_name) ? "" : "checkpoint/",
			 de->d_name);
		if (symlinkat(target, sfd, link) < 0) {
			int x = errno;

			closedir(d);
			return crpc_error_set(err, CRPC_EXIT_FAIL, x, "podman restore", "cannot link %s/%s",
					      stage, link);
		}
	}
	closedir(d);
	return 0;
}

/* Put dirfd/name at tofd/name: a hard link, else a copy (0600). */
static int place_file(int dirfd, int tofd, const char *name)
{
	char buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	(void)unlinkat(tofd, name, 0);
	if (linkat(dirfd, name, tofd, name, 0) == 0)
		return 0;
	in = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = openat(tofd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || io_write_full(out, buf, (size_t)n) < 0) {
			rc = -1;
			break;
		}
	}
	close(in);
	if (close(out) < 0)
		rc = -1;
	return rc;
}

/* Empty the directory fd of regular files (podman's leftovers of an earlier checkpoint). */
static void empty_dir(int fd)
{
	DIR *d = io_opendir_at(fd, ".");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
			(void)unlinkat(fd, de->d_name, 0);
	closedir(d);
}

/*
 * The same container, stopped: podman restores it from its own
 * directory (inspect's StaticDir): CRIU's images into its checkpoint/,
 * the export's other files podman reads back beside it. podman removes
 * them once the container runs; crpc removes them when it does not.
 */
static int restore_in_place(const crpc__engine_ctx *ctx, const crpc__container *rec, const char *images_dir,
			    json_t *layout, const char *static_dir, crpc_error **err)
{
	cleanup_close int dfd = open(images_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int sfd = open(static_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int cfd = -1;
	cleanup_free char *path_var = NULL;
	cleanup_free char **envp = NULL;
	json_t *files = json_object_get(layout, "files");
	char cli[PATH_MAX], flag[PATH_MAX + 8];
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int rc = -1;

	if (dfd < 0 || sfd < 0 || fstat(sfd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 0022))
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno ? errno : EPERM, "podman restore",
				      "podman's directory of the container %s is not root's private one",
				      static_dir);
	if (mkdirat(sfd, "checkpoint", 0700) < 0 && errno != EEXIST)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman restore",
				      "cannot make %s/checkpoint", static_dir);
	cfd = openat(sfd, "checkpoint", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman restore",
				      "cannot open %s/checkpoint", static_dir);
	empty_dir(cfd);
	d = io_opendir_at(dfd, ".");
	if (!d)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "podman restore", "cannot read %s",
				      images_dir);
	while ((de = readdir(d))) {
		bool top = json_list_has(files, de->d_name);

		if (de->d_name[0] == '.' || crpc_file(de->d_name) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		/*
		 * podman's configuration stays as podman has it: only what a
		 * restore reads; the dump's hooks.log and CRIU's dump.log stay
		 * in DIR (the restore's hooks.log goes beside the images, a
		 * file of its own)
		 */
		if ((top && (strcmp(de->d_name, "config.dump") == 0 ||
			     strcmp(de->d_name, "spec.dump") == 0 || strcmp(de->d_name, "ctr.log") == 0)) ||
		    strcmp(de->d_name, "hooks.log") == 0 || strcmp(de->d_name, "dump.log") == 0)
			continue;
		if (place_file(dfd, top ? sfd : cfd, de->d_name) < 0) {
			int e = errno;

			closedir(d);
			crpc_error_set(err, CRPC_EXIT_FAIL, e, "podman restore", "cannot place %s in %s",
				       de->d_name, static_dir);
			goto out;
		}
	}
	closedir(d);
	if (need_podman(cli, sizeof(cli), err) < 0)
		goto out;
	envp = call_env(ctx, &path_var);
	podman_base(ctx, cli, flag, sizeof(flag), &a);
	crpc__argv_add(&a, "container");
	crpc__argv_add(&a, "restore");
	crpc__argv_add(&a, rec->info.id);
	if (crpc__argv_run_ok(&a, envp, &o, "podman restore", err) < 0)
		goto out;
	crpc__cmd_out_release(&o);
	rc = 0;
out:
	if (rc < 0) {
		/* nothing of crpc's stays in podman's directory */
		empty_dir(cfd);
		(void)unlinkat(sfd, "checkpoint", AT_REMOVEDIR);
	}
	return rc;
}

/*
 * May the container's directory the dump recorded (static_dir) be restored
 * into without asking podman about the container first? Only when it is
 * that container's (its ID a component of the path), root's and private,
 * and its shm/ is there and no mount point of its own: podman mounts it
 * while the container runs or is paused and unmounts it when it stops.
 */
static bool may_restore_unasked(const char *static_dir, const char *id)
{
	const char *p = static_dir;
	size_t n = strlen(id);
	struct stat sd, shm;
	char path[PATH_MAX];
	bool ours = false;

	if (!static_dir || static_dir[0] != '/' || !n)
		return false;
	while ((p = strstr(p, id)))
		if (p[-1] == '/' && (p[n] == '/' || p[n] == '\0')) {
			ours = true;
			break;
		} else {
			p++;
		}
	if (!ours || lstat(static_dir, &sd) < 0 || !S_ISDIR(sd.st_mode) || sd.st_uid != 0 ||
	    (sd.st_mode & 0022) || snprintf(path, sizeof(path), "%s/shm", static_dir) >= (int)sizeof(path))
		return false;
	/* no shm/ of its own (--ipc host, ...): nothing shows whether it runs */
	return lstat(path, &shm) == 0 && S_ISDIR(shm.st_mode) && shm.st_dev == sd.st_dev;
}

/* After podman refused to restore in place: say so in crpc's words when it runs. */
static void refused_in_place(const crpc__engine_ctx *ctx, const crpc__container *rec, crpc_error **err)
{
	crpc__container cur = { 0 };
	json_t *cur_j = NULL;
	crpc_error *x = NULL;

	if (podman_inspect(ctx, rec->info.id, &cur_j, &x) == CRPC__ENGINE_FOUND) {
		fill_inspect(cur_j, &cur);
		if (err && *err && (cur.info.running || strcmp(cur.info.state, "paused") == 0))
			crpc_error_set_hint(
				*err, "podman:%s exists and is %s: restore it only when stopped or gone",
				rec->info.name[0] ? rec->info.name : rec->info.id, cur.info.state);
	}
	json_decref(cur_j);
	crpc_error_free(x);
}

static int podman_restore(const crpc__engine_ctx *ctx, const crpc__container *rec, const char *images_dir,
			  const char *new_name, crpc__container *out, crpc_error **err)
{
	char cli[PATH_MAX], tar[PATH_MAX], flag[PATH_MAX + 8], import[PATH_MAX], stage[PATH_MAX];
	cleanup_free char *path_var = NULL;
	cleanup_free char **envp = NULL;
	json_t *layout = json_object_get(rec->recreate, "export"), *cur_j = NULL;
	crpc__container cur = { 0 };
	crpc__argv a = { 0 };
	crpc__cmd_out o;
	char new_id[128] = "";
	pid_t pid;
	int st, rc;

	if (need_podman(cli, sizeof(cli), err) < 0)
		return -1;
	if (!tar_cli(tar, sizeof(tar)))
		return crpc_error_set(err, CRPC_EXIT_ENV, ENOENT, "podman", "tar not found on PATH");
	if (!json_is_object(layout))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "podman restore",
				      "crpc.json records no podman export layout (container.recreate.export)");
	if (!ctx->call_dir ||
	    snprintf(import, sizeof(import), "%s/import.tar", ctx->call_dir) >= (int)sizeof(import))
		return crpc_error_set(err, CRPC_EXIT_FAIL, EINVAL, "podman", "no call directory");
	/*
	 * The same container, stopped in its directory as the dump found it:
	 * straight to `podman container restore`, which refuses a container
	 * that runs. podman's inspect costs as much as a third of the restore.
	 */
	if (!new_name && may_restore_unasked(json_string_value(json_object_get(rec->recreate, "static_dir")),
					     rec->info.id)) {
		if (restore_in_place(ctx, rec, images_dir, layout,
				     json_string_value(json_object_get(rec->recreate, "static_dir")), err) <
		    0) {
			refused_in_place(ctx, rec, err);
			return -1;
		}
		goto restored;
	}
	/* the name it will have must be free, or the same container stopped */
	rc = podman_inspect(ctx, new_name ? new_name : rec->info.id, &cur_j, err);
	if (rc < 0)
		return -1;
	if (rc == CRPC__ENGINE_FOUND) {
		const char *static_dir = json_string_value(json_object_get(cur_j, "StaticDir"));
		bool same;

		fill_inspect(cur_j, &cur);
		same = strcmp(cur.info.id, rec->info.id) == 0;
		if (new_name && !same) {
			json_decref(cur_j);
			return crpc_error_set(err, CRPC_EXIT_FAIL, EEXIST, "podman restore",
					      "podman:%s exists: choose another --name", new_name);
		}
		if (cur.info.running || strcmp(cur.info.state, "paused") == 0) {
			json_decref(cur_j);
			return crpc_error_set(
				err, CRPC_EXIT_FAIL, EEXIST, "podman restore",
				"podman:%s exists and is %s: restore it only when stopped or gone",
				rec->info.name[0] ? rec->info.name : rec->info.id, cur.info.state);
		}
		rc = static_dir && *static_dir
			     ? restore_in_place(ctx, rec, images_dir, layout, static_dir, err)
			     : crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, "podman restore",
					      "podman names no directory of %s", rec->info.id);
		json_decref(cur_j);
		if (rc < 0)
			return -1;
		goto restored;
	}
	if (stage_import(ctx, images_dir, layout, stage, sizeof(stage), err) < 0)
		return -1;
	{
		char *targv[] = { tar, "-c", "-h", "-f", import, "-C", stage, ".", NULL };

		if (run_tar(targv, "podman restore", err) < 0) {
			unlink(import);
			return -1;
		}
	}
	envp = call_env(ctx, &path_var);
	podman_base(ctx, cli, flag, sizeof(flag), &a);
	crpc__argv_add(&a, "container");
	crpc__argv_add(&a, "restore");
	crpc__argv_add(&a, "--import");
	crpc__argv_add(&a, import);
	if (new_name) {
		crpc__argv_add(&a, "--name");
		crpc__argv_add(&a, new_name);
	}
	st = crpc__argv_run_ok(&a, envp, &o, "podman restore", err);
	unlink(import);
	if (st < 0)
		return -1;
	/* podman prints the ID of the container it made */
	if (new_name)
		snprintf(new_id, sizeof(new_id), "%.*s", (int)strcspn(o.out, " \n"), o.out);
	crpc__cmd_out_release(&o);
restored:
	/* the restored init as CRIU gave it to the shim: no podman inspect needed */
	pid = crpc__engine_restored_pid(ctx->call_dir);
	if (pid > 0) {
		out->info = rec->info;
		if (new_id[0])
			cpy(out->info.id, sizeof(out->info.id), new_id);
		if (new_name)
			cpy(out->info.name, sizeof(out->info.name), new_name);
		cpy(out->info.state, sizeof(out->info.state), "running");
		out->info.running = true;
		out->info.pid = pid;
		podman_version(ctx, out->info.engine_version, sizeof(out->info.engine_version), NULL);
		out->recreate = json_incref(rec->recreate);
		return 0;
	}
	rc = podman_resolve(ctx, new_name ? new_name : rec->info.id, out, err);
	if (rc == CRPC__ENGINE_NOT_FOUND)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOENT, "podman restore",
				      "podman restore succeeded but podman does not know %s",
				      new_name ? new_name : rec->info.id);
	return rc < 0 ? -1 : 0;
}

const crpc__engine crpc__engine_podman = {
	.name = "podman",
	.present = podman_present,
	.version = podman_version,
	.resolve = podman_resolve,
	.list = podman_list,
	.checkpoint = podman_checkpoint,
	.collect = podman_collect,
	.restore = podman_restore,
};
