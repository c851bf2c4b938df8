/* SPDX-License-Identifier: MIT */
/*
 * cmd_shim.c - crpc standing in for CRIU: run as `criu` (a symlink named
 * criu) or as `crpc shim ARGS...`.
 *
 * `swrk N` is served by libcrpc's shim (crpc/shim.h); every other CRIU
 * command line (criu check, criu --version, criu dump ...) is executed as
 * the real CRIU, unchanged. Nothing is ever written to stdout: clients read
 * CRIU's stdout, and for a restore their stdio is the restored program's.
 * Problems go to the system log; stderr gets a line only when the shim
 * cannot serve at all, or with verbose on.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"
#include "crpc/shim.h"

extern char **environ;

const char crpc_help_shim[] =
	"Usage: crpc [--config FILE | --no-config] [--criu PATH] [-v] shim CRIU-ARGS...\n"
	"       criu CRIU-ARGS...     (crpc run through a symlink named criu)\n"
	"       crpc shim install|uninstall|status [OPTIONS]   (crpc shim install --help)\n"
	"\n"
	"Stand in for CRIU for a program that runs it (runc --criu, podman or crun\n"
	"finding criu on PATH, go-criu, crpc itself). `swrk N` starts the real CRIU's\n"
	"RPC worker at the first request and forwards every message both ways, with\n"
	"the client's file descriptors made valid for CRIU, runs the configured\n"
	"hooks at CRIU's notifications (a step that aborts fails the operation and\n"
	"its reason reaches the client in the reply's error message) and records a\n"
	"trace of the session. Any other command line is run as the real CRIU,\n"
	"unchanged. Everything after 'shim' goes to CRIU as it is.\n"
	"\n"
	"The real CRIU: --criu PATH, else $CRPC_CRIU, else the configuration's\n"
	"criu: binary, else the first criu on PATH that is not crpc itself. A path\n"
	"that leads back to crpc is refused (exit code 3).\n"
	"\n"
	"Configuration (the usual lookup: --config, $CRPC_CONFIG,\n"
	"~/.config/crpc/config.yaml, /etc/crpc/config.yaml): criu: binary, hooks:, and\n"
	"shim: trace, trace_dir (default /var/log/crpc), trace_max_files (100),\n"
	"trace_max_total (64M), trace_max_file_size (8M), verbose. The dump: and\n"
	"restore: sections are not used: the client's options go to CRIU unchanged.\n"
	"\n"
	"Verbose (-v, shim: verbose, or $CRPC_SHIM_VERBOSE=1) prints one line per\n"
	"message on stderr, which is the client's; $CRPC_SHIM_VERBOSE=/PATH appends\n"
	"those lines to a file instead.\n"
	"\n"
	"Examples:\n"
	"  ln -s /usr/local/bin/crpc /usr/local/lib/crpc/criu\n"
	"  runc --criu /usr/local/lib/crpc/criu checkpoint --image-path /tmp/ck ctr\n"
	"  PATH=/usr/local/lib/crpc:$PATH podman container checkpoint ctr\n"
	"\n"
	"Exit status: that of the real CRIU (128 + N when a signal N ended it); 2 for a\n"
	"configuration error, 3 when no real CRIU can be run.\n";

/* What `crpc [OPTIONS] shim` was given before the CRIU arguments. */
struct shim_opts {
	const char *config_file;
	bool no_config;
	const char *criu;
	int verbose;
};

/* The argv of `swrk N` (with any CRIU options before it): N, else -1. */
static int swrk_fd(int argc, char **argv)
{
	unsigned long n;

	if (argc < 3 || strcmp(argv[argc - 2], "swrk") != 0)
		return -1;
	if (crpc_cli_parse_ulong(argv[argc - 1], INT32_MAX, &n) < 0)
		return -1;
	return (int)n;
}

static void __attribute__((format(printf, 1, 2))) shim_error(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "crpc shim: %s\n", msg);
	syslog(LOG_DAEMON | LOG_ERR, "crpc shim[%d]: %s", (int)getpid(), msg);
}

/* One line for stderr and cr_errmsg: the message and its hint. */
static void error_line(const crpc_error *e, char *buf, size_t sz)
{
	const char *en = e && e->sys_errno ? crpc_errno_name(e->sys_errno) : NULL;

	snprintf(buf, sz, "%s%s%s%s%s%s%s", e && e->message ? e->message : "failed", en ? " (" : "",
		 en ? en : "", en ? ")" : "", e && e->hint ? "; " : "", e && e->hint ? "hint: " : "",
		 e && e->hint ? e->hint : "");
}

/* Run the real CRIU with this command line. Returns only on failure. */
static int pass_through(const char *criu, int argc, char **argv)
{
	char **av = calloc((size_t)argc + 1, sizeof(char *));
	size_t n = 0, k = 0;
	char **envp;

	for (char **p = environ; p && *p; p++)
		n++;
	envp = calloc(n + 2, sizeof(char *));
	if (!av || !envp) {
		free(av);
		free(envp);
		shim_error("out of memory");
		return CRPC_EXIT_FAIL;
	}
	av[0] = (char *)criu;
	for (int i = 1; i < argc; i++)
		av[i] = argv[i];
	for (char **p = environ; p && *p; p++)
		if (strncmp(*p, CRPC_SHIM_DEPTH_ENV "=", strlen(CRPC_SHIM_DEPTH_ENV) + 1) != 0)
			envp[k++] = *p;
	envp[k++] = (char *)CRPC_SHIM_DEPTH_ENV "=1";
	execve(criu, av, envp);
	shim_error("cannot execute the real CRIU %s: %s", criu, strerror(errno));
	free(av);
	free(envp);
	return CRPC_EXIT_ENV;
}

/* Whether the shim is to print its lines (-v, shim: verbose, $CRPC_SHIM_VERBOSE). */
static bool verbose_wanted(const struct shim_opts *o, const crpc_config *c)
{
	const char *env = getenv("CRPC_SHIM_VERBOSE");

	return o->verbose || c->shim_verbose || (env && *env && strcmp(env, "0") != 0);
}

static bool has_hooks(const crpc_hooks *h)
{
	for (size_t i = 0; i < CRPC_NOTIFY__COUNT; i++)
		if (h->n_steps[i])
			return true;
	return false;
}

/* Where verbose lines go: stderr, or a file $CRPC_SHIM_VERBOSE names. */
static FILE *verbose_stream(const struct shim_opts *o, const crpc_config *c, FILE **opened)
{
	const char *env = getenv("CRPC_SHIM_VERBOSE");

	*opened = NULL;
	if (env && env[0] == '/') {
		/* appended to as root: never through a symlink, never another user's file */
		int fd = open(env,
			      O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
			      0600);
		struct stat st;

		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
				(st.st_mode & 022))) {
			close(fd);
			fd = -1;
			errno = EPERM;
		}
		if (fd >= 0)
			*opened = fdopen(fd, "a");
		if (*opened)
			return *opened;
		if (fd >= 0)
			close(fd);
		shim_error("cannot open %s ($CRPC_SHIM_VERBOSE): %s%s", env, strerror(errno),
			   errno == EPERM || errno == ELOOP
				   ? " (it must be a regular file of the shim's user that only it can write)"
				   : "");
		return NULL;
	}
	return verbose_wanted(o, c) ? stderr : NULL;
}

static int shim_main(const struct shim_opts *o, int argc, char **argv)
{
	crpc_config_source src = { .size = sizeof(src), .explicit_path = o->config_file, .none = o->no_config };
	char cfg_path[PATH_MAX], criu[PATH_MAX], line[4096];
	crpc_shim_config sc;
	crpc_error *err = NULL;
	crpc_config cfg;
	crpc_shim_call *call = NULL;
	bool env_set = false;
	FILE *vfile = NULL;
	char **options;
	int fd = swrk_fd(argc, argv);
	int rc;

	crpc_config_init(&cfg);
	crpc_shim_config_init(&sc);
	if (crpc_shim_check_depth(&err) < 0) {
		rc = CRPC_EXIT_ENV;
		goto fail;
	}
	/* started by a container operation of crpc's: its call directory says it all */
	if (crpc_shim_call_find(argv[0], &call, &err) < 0) {
		rc = CRPC_EXIT_ENV;
		goto fail;
	}
	/* an installed shim run by Docker's runc: the call is found by the container */
	if (!call) {
		if (crpc_shim_call_find_parent(&call, &err) < 0) {
			rc = CRPC_EXIT_ENV;
			goto fail;
		}
		env_set = call != NULL;
	}
	if (call) {
		src.explicit_path = crpc_shim_call_config(call);
		src.none = !src.explicit_path;
	}
	if (crpc_config_locate(&src, cfg_path, sizeof(cfg_path), &err) < 0 ||
	    (cfg_path[0] && crpc_config_load(&cfg, cfg_path, &err) < 0)) {
		rc = CRPC_EXIT_USAGE;
		goto fail;
	}
	if (call) {
		for (char *const *h = crpc_shim_call_hooks(call); *h; h++)
			if (crpc_config_add_hook_arg(&cfg, *h, &err) < 0) {
				rc = CRPC_EXIT_USAGE;
				goto fail;
			}
		if (!env_set && crpc_shim_call_setenv(call) < 0) {
			rc = CRPC_EXIT_FAIL;
			crpc_error_set(&err, CRPC_EXIT_FAIL, errno, "shim",
				       "cannot set the container's variables");
			goto fail;
		}
	}
	if (crpc_shim_resolve_criu(call ? crpc_shim_call_criu(call) : o->criu, cfg.criu_binary, criu,
				   sizeof(criu), &err) < 0) {
		rc = CRPC_EXIT_ENV;
		goto fail;
	}
	if (call)
		sc.trace_dir = crpc_shim_call_trace_dir(call);
	else if (cfg.shim_trace)
		sc.trace_dir = cfg.trace_dir ? cfg.trace_dir : CRPC_SHIM_TRACE_DIR;
	/*
	 * not `swrk N`, or a session with nothing to add (no hook, no trace, not
	 * verbose, no crpc operation behind it): the real CRIU in our place, so
	 * the client talks to it as if it had started it itself
	 */
	if (fd < 0 || (!call && !sc.trace_dir && !has_hooks(&cfg.hooks) && !verbose_wanted(o, &cfg))) {
		crpc_config_release(&cfg);
		crpc_shim_call_free(call);
		return pass_through(criu, argc, argv);
	}

	/* the shim must learn how CRIU ended */
	signal(SIGCHLD, SIG_DFL);
	sc.criu_path = criu;
	sc.hooks = &cfg.hooks;
	sc.request_options = call ? crpc_shim_call_request_options(call) : NULL;
	sc.restored_pid_file = call ? crpc_shim_call_restored_pid_file(call) : NULL;
	sc.log_copy_dir = call ? crpc_shim_call_log_dir(call) : NULL;
	sc.trace_max_files = cfg.shim_trace_max_files;
	sc.trace_max_total = cfg.shim_trace_max_total;
	sc.trace_max_file_size = cfg.shim_trace_max_file_size;
	sc.verbose = verbose_stream(o, &cfg, &vfile);
	sc.argc = argc;
	sc.argv = argv;
	/* options before `swrk` go to CRIU too */
	options = calloc((size_t)argc, sizeof(char *));
	if (!options) {
		shim_error("out of memory");
		if (vfile)
			fclose(vfile);
		crpc_config_release(&cfg);
		crpc_shim_call_free(call);
		return CRPC_EXIT_FAIL;
	}
	for (int i = 1; i < argc - 2; i++)
		options[i - 1] = argv[i];
	sc.criu_options = options;
	if (sc.verbose && cfg_path[0])
		fprintf(sc.verbose, "crpc shim[%d]: configuration: %s\n", (int)getpid(), cfg_path);
	rc = crpc_shim_run(&sc, fd, &err);
	free(options);
	if (err && sc.verbose) {
		error_line(err, line, sizeof(line));
		fprintf(sc.verbose, "crpc shim[%d]: %s\n", (int)getpid(), line);
	}
	crpc_error_free(err);
	if (vfile)
		fclose(vfile);
	crpc_config_release(&cfg);
	crpc_shim_call_free(call);
	return rc;

fail:
	error_line(err, line, sizeof(line));
	shim_error("%s", line);
	if (fd >= 0 && fcntl(fd, F_GETFD) >= 0) {
		char msg[sizeof(line) + 16];

		snprintf(msg, sizeof(msg), "crpc shim: %s", line);
		crpc_shim_refuse(fd, msg, 10000);
	}
	crpc_error_free(err);
	crpc_config_release(&cfg);
	crpc_shim_call_free(call);
	return rc;
}

int crpc_shim_main(int argc, char **argv)
{
	struct shim_opts o = { 0 };

	return shim_main(&o, argc, argv);
}

int crpc_cmd_shim(crpc_cli *cli, int argc, char **argv)
{
	/* not CRIU commands: crpc's own management of the shim */
	if (argc >= 2 && (strcmp(argv[1], "install") == 0 || strcmp(argv[1], "uninstall") == 0 ||
			  strcmp(argv[1], "status") == 0))
		return crpc_cli_shim_manage(cli, argc, argv);
	{
		struct shim_opts o = {
			.config_file = cli->config_file,
			.no_config = cli->no_config,
			.criu = cli->criu,
			.verbose = cli->verbose,
		};

		return shim_main(&o, argc, argv);
	}
}

const char *crpc_cli_basename(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : (path ? path : "");
}
