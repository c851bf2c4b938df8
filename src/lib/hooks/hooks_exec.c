/* SPDX-License-Identifier: MIT */
/*
 * hooks_exec.c - the executable a `run:` step runs, looked up on PATH as
 * execvp() would, and, when crpc runs as root, whether it (and the script an
 * interpreter runs) may be run.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crpc/hooks.h"
#include "hooks_int.h"
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* executable lookup and the root ownership check                           */

static bool is_exec_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* `path` as seen from crpc's cwd when the step runs in `cwd`. */
void hk_from_step_cwd(const char *cwd, const char *path, char *buf, size_t sz)
{
	int n;

	if (cwd && path[0] != '/')
		n = snprintf(buf, sz, "%s/%s", cwd, path);
	else
		n = snprintf(buf, sz, "%s", path);
	if (n < 0 || (size_t)n >= sz)
		buf[0] = '\0'; /* too long to be a usable path: nothing matches */
}

/*
 * The path execvp() would run for argv0 with this PATH: argv0 itself when it
 * has a slash, else the first executable file on PATH. false if none.
 */
bool hk_resolve_exec(const char *argv0, const char *path_env, const char *cwd, char *out, size_t outsz)
{
	if (strchr(argv0, '/')) {
		snprintf(out, outsz, "%s", argv0);
		return true;
	}
	if (!path_env)
		path_env = "/bin:/usr/bin";
	for (const char *p = path_env;;) {
		size_t dirlen = strcspn(p, ":");
		char cand[PATH_MAX], check[PATH_MAX];

		if (dirlen == 0)
			snprintf(cand, sizeof(cand), "%s", argv0);
		else
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)dirlen, p, argv0);
		hk_from_step_cwd(cwd, cand, check, sizeof(check));
		if (is_exec_file(check)) {
			snprintf(out, outsz, "%s", cand);
			return true;
		}
		if (!p[dirlen])
			return false;
		p += dirlen + 1;
	}
}

/* As root: is this executable safe to run? Else why not, in why. */
bool hk_trusted_executable(const char *path, char *why, size_t whysz)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return true; /* exec will tell */
	/* only called as root: the owner must be root */
	switch (crpc__owner_check(&st, (uid_t)-1)) {
	case CRPC__OWNER_FOREIGN:
		snprintf(why, whysz, "it is owned by uid %u, not by root", (unsigned)st.st_uid);
		return false;
	case CRPC__OWNER_WRITABLE:
		snprintf(why, whysz, "it is writable by %s (mode %04o)", crpc__writable_by(&st),
			 (unsigned)(st.st_mode & 07777));
		return false;
	case CRPC__OWNER_OK:
		break;
	}
	return true;
}

/*
 * When argv[0] is a script interpreter (a shell, python, perl, ruby, node,
 * ...), the script it runs: its first operand that is not an option, when
 * that names an existing file (from the step's cwd). false otherwise, e.g.
 * for `sh -c 'command'`, whose command string is in the configuration.
 */
bool hk_script_operand(char *const *argv, char *out, size_t outsz, const char *cwd)
{
	/* each interpreter with the options that give it code instead of a file */
	static const struct {
		const char *name, *inline_opts;
	} interpreters[] = {
		{ "sh", "-c" },         { "bash", "-c" },       { "dash", "-c" },    { "zsh", "-c" },
		{ "ksh", "-c" },        { "mksh", "-c" },       { "ash", "-c" },     { "python", "-c -m" },
		{ "python2", "-c -m" }, { "python3", "-c -m" }, { "perl", "-e -E" }, { "ruby", "-e" },
		{ "node", "-e -p" },    { "nodejs", "-e -p" },  { "php", "-r" },     { "lua", "-e" },
		{ "tclsh", "" },
	};
	const char *base = strrchr(argv[0], '/'), *inl = NULL;
	struct stat st;

	base = base ? base + 1 : argv[0];
	for (size_t i = 0; i < sizeof(interpreters) / sizeof(interpreters[0]) && !inl; i++) {
		size_t l = strlen(interpreters[i].name);

		/* python3.11, perl5.36: a version after the name */
		if (strncmp(base, interpreters[i].name, l) == 0 &&
		    (base[l] == '\0' || strspn(base + l, "0123456789.") == strlen(base + l)))
			inl = interpreters[i].inline_opts;
	}
	if (!inl)
		return false;
	for (size_t i = 1; argv[i]; i++) {
		if (argv[i][0] == '-') {
			size_t l = strlen(argv[i]);
			const char *p = strstr(inl, argv[i]);

			if (l == 2 && p && (p[2] == '\0' || p[2] == ' '))
				return false; /* code on the command line, from the configuration */
			continue;
		}
		hk_from_step_cwd(cwd, argv[i], out, outsz);
		return out[0] && stat(out, &st) == 0 && S_ISREG(st.st_mode);
	}
	return false;
}
