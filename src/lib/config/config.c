/* SPDX-License-Identifier: MIT */
/*
 * config.c - the YAML configuration file: locating it, reading it safely,
 * and validating it into a crpc_config.
 *
 * libyaml's event parser builds a small tree of our own (config_yaml.c:
 * scalars keep their position and whether they were quoted); the tree is
 * then checked against the schema (config_schema.c, the hooks: section in
 * config_hooks.c). Every problem is recorded with its position and the one
 * that comes first in the file is reported, so fixing errors from the top
 * down always makes progress. Anchors, aliases, tags and multiple documents
 * are refused: a configuration should read the same to a human and to crpc.
 *
 * Here: what a crpc_config owns, durations, parsing a whole text, loading
 * the file and locating it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "crpc/config.h"
#include "config_int.h"
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* storage owned by the configuration                                       */

/*
 * Everything the configuration owns (strings, argv and env arrays) is a
 * block of a list hung off c->priv, freed as a whole by crpc_config_release().
 */
struct cfg_block {
	struct cfg_block *next;
	max_align_t data[];
};

void *cfg_own_alloc(crpc_config *c, size_t size)
{
	struct cfg_block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = calloc(1, sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = c->priv;
	c->priv = b;
	return b->data;
}

char *cfg_own_strdup(crpc_config *c, const char *s)
{
	size_t n = strlen(s) + 1;
	char *r = cfg_own_alloc(c, n);

	if (r)
		memcpy(r, s, n);
	return r;
}

char *cfg_own_printf(crpc_config *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = cfg_own_alloc(c, (size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

CRPC_API void crpc_config_init(crpc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->criu_log_level = -1;
	c->shim_trace = true;
	c->shim_trace_max_files = CRPC_SHIM_TRACE_MAX_FILES;
	c->shim_trace_max_total = CRPC_SHIM_TRACE_MAX_TOTAL;
	c->shim_trace_max_file_size = CRPC_SHIM_TRACE_MAX_FILE_SIZE;
	crpc_opts_init(&c->dump);
	crpc_opts_init(&c->restore);
}

CRPC_API void crpc_config_release(crpc_config *c)
{
	struct cfg_block *b, *next;

	if (!c)
		return;
	for (b = c->priv; b; b = next) {
		next = b->next;
		free(b);
	}
	crpc_opts_release(&c->dump);
	crpc_opts_release(&c->restore);
	for (int k = 0; k < CRPC_NOTIFY__COUNT; k++)
		free(c->hooks.steps[k]);
	crpc_config_init(c);
}

int cfg_step_append(crpc_config *c, crpc_notify_kind k, const crpc_hook_step *s)
{
	if (ARRAY_RESIZE(c->hooks.steps[k], c->hooks.n_steps[k] + 1) < 0)
		return -1;
	c->hooks.steps[k][c->hooks.n_steps[k]++] = *s;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* the whole text                                                           */

/* Parse text into c (initialised); on failure c is released. */
static int parse_text(crpc_config *c, const char *name, const char *text, size_t len, bool secure,
		      crpc_error **err)
{
	struct cfg_parse p = { .c = c, .name = name, .text = text, .len = len, .secure = secure };
	struct cfg_node *root = NULL;
	bool syntax_error = false;

	if (len > CRPC_CONFIG_MAX_SIZE) {
		crpc_error_set(err, CRPC_EXIT_USAGE, EFBIG, NULL,
			       "%s is too large: %zu bytes, at most 1 MiB (%u bytes)", name, len,
			       CRPC_CONFIG_MAX_SIZE);
		goto fail;
	}
	if (len == 0) {
		crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL, "%s is empty", name);
		goto fail;
	}
	/* a UTF-8 byte order mark is not part of the text (nor of its columns) */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		p.text += 3;
		p.len -= 3;
	}
	if (cfg_check_text(&p) == 0) {
		root = cfg_build_tree(&p, &syntax_error);
		if (!root && !p.emsg && !p.oom) {
			crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				       cfg_only_blanks(&p) ? "%s is empty (only blank lines)"
							   : "%s holds only comments and blank lines: no "
							     "settings",
				       name);
			goto fail;
		}
		if (root && !syntax_error && !p.oom)
			cfg_parse_root(&p, root);
	}
	cfg_node_free(root);
	if (p.oom) {
		crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, NULL, "%s: out of memory", name);
		goto fail;
	}
	if (p.emsg) {
		crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL, "%s:%u:%u: %s", name, p.eline, p.ecol, p.emsg);
		goto fail;
	}
	return 0;
fail:
	free(p.emsg);
	crpc_config_release(c);
	return -1;
}

CRPC_API int crpc_config_parse(crpc_config *c, const char *name, const char *text, size_t len,
			       crpc_error **err)
{
	crpc_config_init(c);
	if (!text && len)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, NULL, "no configuration text");
	return parse_text(c, name ? name : "(config)", text ? text : "", len, false, err);
}

/* ------------------------------------------------------------------------ */
/* files                                                                    */

/* A root-run crpc only reads a configuration root owns and only root can change. */
static int check_owner(const char *path, const struct stat *st, crpc_error **err)
{
	if (geteuid() != 0)
		return 0;
	/* as root: the owner must be root */
	switch (crpc__owner_check(st, (uid_t)-1)) {
	case CRPC__OWNER_FOREIGN:
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "%s is owned by uid %u, not root; refusing it when running as "
				      "root (like sudo and ssh): chown root %s",
				      path, (unsigned)st->st_uid, path);
	case CRPC__OWNER_WRITABLE:
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "%s is writable by group/others; refusing it when running as "
				      "root (like sudo and ssh): chmod go-w %s",
				      path, path);
	case CRPC__OWNER_OK:
		break;
	}
	return 0;
}

/* Read at most CRPC_CONFIG_MAX_SIZE bytes; *len is that + 1 if there is more. */
static int read_bounded(int fd, const char *path, char **out, size_t *len, crpc_error **err)
{
	size_t cap = CRPC_CONFIG_MAX_SIZE + 1;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, NULL, "%s: out of memory", path);
	n = io_read_full(fd, buf, cap);
	if (n < 0) {
		int e = errno;

		free(buf);
		return crpc_error_set(err, CRPC_EXIT_USAGE, e, NULL, "cannot read %s", path);
	}
	*out = buf;
	*len = (size_t)n;
	return 0;
}

CRPC_API int crpc_config_load(crpc_config *c, const char *path, crpc_error **err)
{
	cleanup_close int fd = -1;
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int r;

	crpc_config_init(c);
	if (!path || !*path)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, NULL,
				      "no configuration file given (empty path)");
	/* O_NONBLOCK: opening a FIFO must not hang; regular files ignore it */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, NULL, "cannot open configuration file %s",
				      path);
	if (fstat(fd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, NULL, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode))
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL, "%s is %s, not a regular file", path,
				      S_ISDIR(st.st_mode) ? "a directory" : "a special file");
	if (check_owner(path, &st, err) < 0)
		return -1;
	if ((uint64_t)st.st_size > CRPC_CONFIG_MAX_SIZE)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EFBIG, NULL,
				      "%s is too large: %jd bytes, at most 1 MiB (%u bytes)", path,
				      (intmax_t)st.st_size, CRPC_CONFIG_MAX_SIZE);
	if (read_bounded(fd, path, &text, &len, err) < 0)
		return -1;
	r = parse_text(c, path, text, len, geteuid() == 0, err);
	free(text);
	if (r < 0)
		return -1;
	c->path = cfg_own_strdup(c, path);
	if (!c->path) {
		crpc_config_release(c);
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, NULL, "%s: out of memory", path);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* locating the file                                                        */

static int put_path(char *buf, size_t bufsz, const char *a, const char *b, crpc_error **err)
{
	int n = snprintf(buf, bufsz, "%s%s", a, b);

	if (n < 0 || (size_t)n >= bufsz) {
		if (bufsz)
			buf[0] = '\0';
		return crpc_error_set(err, CRPC_EXIT_USAGE, ENAMETOOLONG, NULL,
				      "configuration path %s%s is too long", a, b);
	}
	return 0;
}

/* 1: candidate a+b exists (written to buf), 0: it does not, -1: error. */
static int try_candidate(char *buf, size_t bufsz, const char *a, const char *b, crpc_error **err)
{
	struct stat st;

	if (put_path(buf, bufsz, a, b, err) < 0)
		return -1;
	if (stat(buf, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
		return 1; /* exists, or a problem crpc_config_load() will report */
	buf[0] = '\0';
	return 0;
}

CRPC_API void crpc_config_source_init(crpc_config_source *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
}

CRPC_API int crpc_config_locate(const crpc_config_source *given, char *buf, size_t bufsz, crpc_error **err)
{
	const crpc_config_source *src = NULL;
	crpc_config_source own;
	const char *env, *home;
	struct stat st;
	int r;

	if (!buf || !bufsz)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, NULL, "no buffer for the path");
	if (given) {
		crpc_config_source_init(&own);
		if (crpc__sized_take(&own, sizeof(own), given, CRPC__END_OF(crpc_config_source, none), NULL,
				     "crpc_config_source_init", err) < 0)
			return -1;
		src = &own;
	}
	if (!src || src->explicit_path != buf)
		buf[0] = '\0';
	if (src && src->none && src->explicit_path)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "--config and --no-config cannot be used together");
	if (src && src->none)
		return 0;
	if (src && src->explicit_path) {
		if (!*src->explicit_path)
			return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL, "--config: the path is empty");
		if (stat(src->explicit_path, &st) < 0) {
			int e = errno;

			return crpc_error_set(err, CRPC_EXIT_USAGE, e, NULL,
					      e == ENOENT ? "configuration file %s does not exist"
							  : "cannot access configuration file %s",
					      src->explicit_path);
		}
		if (src->explicit_path == buf)
			return 0;
		return put_path(buf, bufsz, src->explicit_path, "", err);
	}
	env = getenv("CRPC_CONFIG");
	if (env && *env) {
		/* set on purpose: a file that is not there is a mistake, not "none" */
		if (stat(env, &st) < 0) {
			int e = errno;

			return crpc_error_set(err, CRPC_EXIT_USAGE, e, NULL,
					      e == ENOENT ? "configuration file %s (from $CRPC_CONFIG) "
							    "does not exist"
							  : "cannot access configuration file %s (from "
							    "$CRPC_CONFIG)",
					      env);
		}
		r = try_candidate(buf, bufsz, env, "", err);
		if (r)
			return r < 0 ? -1 : 0;
	}
	/* relative XDG_CONFIG_HOME or HOME are ignored: never the current directory */
	env = getenv("XDG_CONFIG_HOME");
	home = getenv("HOME");
	if (env && env[0] == '/')
		r = try_candidate(buf, bufsz, env, "/crpc/config.yaml", err);
	else if (home && home[0] == '/')
		r = try_candidate(buf, bufsz, home, "/.config/crpc/config.yaml", err);
	else
		r = 0;
	if (r)
		return r < 0 ? -1 : 0;
	r = try_candidate(buf, bufsz, "/etc/crpc/config.yaml", "", err);
	return r < 0 ? -1 : 0;
}
