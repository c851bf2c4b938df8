/* SPDX-License-Identifier: MIT */
/*
 * cmd_shim_install.c - crpc shim install | uninstall | status: crpc put
 * where an engine looks for `criu` (crpc/shim.h, crpc_shim_install()), taken
 * away again, and which criu each engine present runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crpc/shim.h"

const char crpc_help_shim_install[] =
	"Usage: crpc [--config FILE] shim install [--engine docker|podman|runc] [--prefix DIR]\n"
	"                                          [--criu PATH] [--force] [--json]\n"
	"       crpc [--config FILE] shim uninstall [--prefix DIR] [--force] [--json]\n"
	"       crpc shim status [--prefix DIR] [--json]\n"
	"\n"
	"install puts crpc where an engine that runs the criu on its PATH finds it:\n"
	"a symbolic link PREFIX/sbin/criu -> crpc (default prefix /usr/local).\n"
	"/usr/local/sbin comes before /usr/sbin and /usr/bin in the PATH systemd\n"
	"gives dockerd and containerd, and in root's usual PATH (podman, runc by\n"
	"hand), so the engines pick the shim up at their next checkpoint, without a\n"
	"change to their configuration and without a restart. The real CRIU (--criu\n"
	"PATH, else $CRPC_CRIU, else the first criu on PATH that is not crpc) is\n"
	"recorded as criu: binary in the configuration (--config FILE, default\n"
	"/etc/crpc/config.yaml; created when missing, a line added when it names no\n"
	"binary, kept when it names one). A PREFIX/sbin/criu that is not crpc's is\n"
	"refused; --force keeps it as PREFIX/sbin/criu.crpc-saved. Installing again\n"
	"changes nothing. What was done is written to\n"
	"PREFIX/lib/crpc/shim-install.json.\n"
	"\n"
	"uninstall undoes exactly that: the link goes, a criu it replaced comes back,\n"
	"a configuration it created goes, one it edited gets its former content\n"
	"back. What was changed since is left as it is and said (exit code 1);\n"
	"--force undoes the install's change anyway.\n"
	"\n"
	"status shows the installation and, per engine, the criu it runs: for each\n"
	"dockerd running, the one on its PATH (containerd's runc finds it there);\n"
	"for podman and runc, the one on this PATH.\n"
	"\n"
	"Why not a daemon.json runtime with runc's --criu: it needs dockerd to be\n"
	"restarted and reaches only containers created with that runtime.\n"
	"\n"
	"Examples:\n"
	"  crpc shim install --engine docker\n"
	"  crpc shim status\n"
	"  crpc shim uninstall\n"
	"\n"
	"Exit codes: 0 done (or nothing to do), 1 a step failed or was left undone,\n"
	"2 a refusal or usage error, 3 no real CRIU found.\n";

enum {
	OPT_ENGINE = CLI_OPT_FIRST_CMD,
	OPT_PREFIX,
	OPT_FORCE
};

static const struct option install_options[] = {
	CRPC_CLI_COMMON_OPTIONS,
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ NULL, 0, NULL, 0 },
};

static json_t *engine_json(const crpc_shim_engine *e)
{
	json_t *o = crpc_cli_jobj();

	crpc_cli_jset(o, "engine", crpc_cli_jstr(e->engine));
	crpc_cli_jset(o, "found", json_boolean(e->found));
	crpc_cli_jset(o, "pid", e->pid ? json_integer(e->pid) : json_null());
	crpc_cli_jset(o, "path_of", crpc_cli_jstr(e->path_of));
	crpc_cli_jset(o, "criu", e->criu[0] ? crpc_cli_jstr(e->criu) : json_null());
	crpc_cli_jset(o, "via_crpc", json_boolean(e->via_crpc));
	return o;
}

/* One line for an engine, as status and check print it. */
static void engine_line(FILE *f, const crpc_shim_engine *e)
{
	if (strcmp(e->engine, "docker") == 0 && !e->found)
		fprintf(f, "docker: no dockerd running\n");
	else if (!e->found)
		fprintf(f, "%s: not installed (not on PATH)\n", e->engine);
	else if (!e->criu[0])
		fprintf(f, "%s: no criu on %s: checkpoints fail\n", e->engine, e->path_of);
	else
		fprintf(f, "%s: %s leads to %s: %s\n", e->engine, e->path_of, e->criu,
			e->via_crpc ? "through crpc" : "not crpc (crpc shim install puts crpc first)");
}

json_t *crpc_cli_engines_json(void)
{
	crpc_shim_engine e[16];
	size_t n = crpc_shim_engines(e, 16);
	json_t *a = crpc_cli_jarray();

	for (size_t i = 0; i < n; i++)
		crpc_cli_jappend(a, engine_json(&e[i]));
	return a;
}

void crpc_cli_engines_print(FILE *f)
{
	crpc_shim_engine e[16];
	size_t n = crpc_shim_engines(e, 16);

	for (size_t i = 0; i < n; i++)
		engine_line(f, &e[i]);
}

static json_t *result_json(const char *op, const crpc_shim_install_result *r)
{
	json_t *doc = crpc_cli_jobj();

	crpc_cli_jset(doc, "ok", json_true());
	crpc_cli_jset(doc, "operation", crpc_cli_jstr(op));
	crpc_cli_jset(doc, "changed", json_boolean(r->changed));
	crpc_cli_jset(doc, "link", crpc_cli_jstr(r->link));
	crpc_cli_jset(doc, "real_criu", r->real_criu[0] ? crpc_cli_jstr(r->real_criu) : json_null());
	crpc_cli_jset(doc, "config", crpc_cli_jstr(r->config));
	crpc_cli_jset(doc, "config_action", crpc_cli_jstr(r->config_action));
	crpc_cli_jset(doc, "saved", r->saved[0] ? crpc_cli_jstr(r->saved) : json_null());
	crpc_cli_jset(doc, "record", crpc_cli_jstr(r->record));
	return doc;
}

/*
 * After an install: the engine's processes that still run another criu
 * (their PATH has the link's directory after another criu, or not at all).
 */
static void warn_not_reached(crpc_cli *cli, const crpc_shim_install_params *p,
			     const crpc_shim_install_result *r)
{
	const char *engine = p->engine ? p->engine : "docker";
	crpc_shim_engine e[16];
	size_t n = crpc_shim_engines(e, 16);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].engine, engine) != 0 || !e[i].found || e[i].via_crpc)
			continue;
		crpc_cli_warn(cli,
			      "%s: %s leads to %s, not to %s: put %.*s first on that PATH (e.g. a systemd "
			      "drop-in for the service's Environment=PATH=...) or move that criu away",
			      engine, e[i].path_of, e[i].criu[0] ? e[i].criu : "no criu", r->link,
			      (int)(strrchr(r->link, '/') - r->link), r->link);
	}
}

static int do_install(crpc_cli *cli, const crpc_shim_install_params *p)
{
	crpc_shim_install_result r;
	crpc_error *err = NULL;
	int rc;

	if (crpc_require_root("shim install", &err) < 0 || crpc_shim_install(p, &r, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		crpc_error_free(err);
		return rc;
	}
	if (cli->json)
		return crpc_cli_emit(result_json("install", &r)) < 0 ? CRPC_EXIT_FAIL : 0;
	if (!r.changed) {
		printf("crpc shim: already installed: %s -> crpc, real CRIU %s in %s\n", r.link, r.real_criu,
		       r.config);
		return 0;
	}
	printf("crpc shim: installed %s -> crpc\n", r.link);
	if (r.saved[0])
		printf("crpc shim: the former %s is kept as %s\n", r.link, r.saved);
	printf("crpc shim: real CRIU %s: %s %s\n", r.real_criu,
	       strcmp(r.config_action, "kept") == 0 ? "already named by" : "recorded in", r.config);
	printf("crpc shim: crpc shim uninstall undoes this (%s)\n", r.record);
	crpc_cli_engines_print(stdout);
	warn_not_reached(cli, p, &r);
	return 0;
}

static int do_uninstall(crpc_cli *cli, const crpc_shim_install_params *p)
{
	crpc_shim_install_result r;
	crpc_error *err = NULL;
	int rc;

	if (crpc_require_root("shim uninstall", &err) < 0 || crpc_shim_uninstall(p, &r, &err) < 0) {
		rc = crpc_cli_fail(cli, err, NULL, NULL);
		crpc_error_free(err);
		return rc;
	}
	if (cli->json)
		return crpc_cli_emit(result_json("uninstall", &r)) < 0 ? CRPC_EXIT_FAIL : 0;
	if (!r.changed) {
		printf("crpc shim: no shim of crpc's at %s: nothing to undo\n", r.link);
		return 0;
	}
	printf("crpc shim: removed %s\n", r.link);
	if (r.saved[0])
		printf("crpc shim: put the former criu back as %s\n", r.link);
	if (strcmp(r.config_action, "kept") != 0)
		printf("crpc shim: %s %s\n", r.config, r.config_action);
	return 0;
}

static int do_status(crpc_cli *cli, const char *prefix)
{
	crpc_shim_install_result r;
	char record[PATH_MAX + 32], *text = NULL;
	json_t *rec = NULL, *doc;
	json_error_t je;
	FILE *f;

	memset(&r, 0, sizeof(r));
	snprintf(record, sizeof(record), "%s/lib/crpc/shim-install.json", prefix);
	f = fopen(record, "re");
	if (f) {
		rec = json_loadf(f, 0, &je);
		fclose(f);
	}
	free(text);
	if (cli->json) {
		doc = crpc_cli_jobj();
		crpc_cli_jset(doc, "ok", json_true());
		crpc_cli_jset(doc, "record", crpc_cli_jstr(record));
		crpc_cli_jset(doc, "installed", rec ? json_incref(rec) : json_null());
		crpc_cli_jset(doc, "engines", crpc_cli_engines_json());
		json_decref(rec);
		return crpc_cli_emit(doc) < 0 ? CRPC_EXIT_FAIL : 0;
	}
	if (json_is_object(rec))
		printf("crpc shim: installed under %s: %s -> %s, real CRIU %s in %s\n", prefix,
		       json_string_value(json_object_get(rec, "link")),
		       json_string_value(json_object_get(rec, "target")),
		       json_string_value(json_object_get(rec, "real_criu")),
		       json_string_value(json_object_get(rec, "config")));
	else
		printf("crpc shim: not installed under %s\n", prefix);
	json_decref(rec);
	crpc_cli_engines_print(stdout);
	return 0;
}

int crpc_cli_shim_manage(crpc_cli *cli, int argc, char **argv)
{
	crpc_shim_install_params p;
	const char *sub = argv[1];
	int rc, opt;

	crpc_shim_install_params_init(&p);
	cli->usage = "crpc shim install|uninstall|status [OPTIONS]";
	optind = 2;
	while ((opt = crpc_cli_getopt(cli, argc, argv, ":hv", install_options)) != -1) {
		switch (opt) {
		case OPT_ENGINE:
			p.engine = optarg;
			break;
		case OPT_PREFIX:
			p.prefix = optarg;
			break;
		case OPT_FORCE:
			p.force = true;
			break;
		default:
			break;
		}
	}
	if (crpc_cli_early_exit(cli, crpc_help_shim_install, &rc))
		return rc;
	if (optind < argc)
		return crpc_cli_usage(cli, true, "unexpected argument '%s'", argv[optind]);
	if (p.engine && strcmp(p.engine, "docker") != 0 && strcmp(p.engine, "podman") != 0 &&
	    strcmp(p.engine, "runc") != 0)
		return crpc_cli_usage(cli, true, "--engine: unknown engine '%s' (docker, podman, runc)",
				      p.engine);
	if (p.prefix && p.prefix[0] != '/')
		return crpc_cli_usage(cli, true, "--prefix: must be an absolute path: %s", p.prefix);
	if (cli->no_config)
		return crpc_cli_usage(cli, true,
				      "--no-config: the shim needs a configuration to name the real CRIU");
	p.config_path = cli->config_file;
	p.real_criu = cli->criu;
	if (strcmp(sub, "install") == 0)
		return do_install(cli, &p);
	if (p.engine)
		return crpc_cli_usage(cli, true, "--engine is for install only");
	if (strcmp(sub, "uninstall") == 0)
		return do_uninstall(cli, &p);
	if (p.force)
		return crpc_cli_usage(cli, true, "--force is for install and uninstall");
	return do_status(cli, p.prefix ? p.prefix : CRPC_SHIM_PREFIX);
}
