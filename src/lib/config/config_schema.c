/* SPDX-License-Identifier: MIT */
/*
 * config_schema.c - the configuration's schema: the sections (criu, dump,
 * restore, hooks, shim), their keys and the typed values these take,
 * checked on the tree config_yaml.c built; an unknown key gets a "did you
 * mean".
 */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "crpc/config.h"
#include "config_int.h"
#include "internal.h"
#include "parse.h"

/* Keys longer than this get no "did you mean". */
#define SUGGEST_MAX 64

/* ------------------------------------------------------------------------ */
/* "did you mean"                                                           */

/* Restricted Damerau-Levenshtein distance (adjacent transpositions count 1). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][SUGGEST_MAX + 1];
	size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];

	if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *t;

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t d = prev[j] + 1;

			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const char *cfg_closest(const char *s, const void *tab, size_t n, size_t stride,
			bool (*valid)(const void *entry, const void *arg), const void *arg)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		const void *entry = (const char *)tab + i * stride;
		const char *name = *(const char *const *)entry;
		size_t d, longest;

		if (valid && !valid(entry, arg))
			continue;
		d = edit_distance(s, name);
		longest = strlen(s) > strlen(name) ? strlen(s) : strlen(name);
		if (d <= 2 && 2 * d <= longest && d < best_d) {
			best = name;
			best_d = d;
		}
	}
	return best;
}

/* ------------------------------------------------------------------------ */
/* typed values                                                             */

/* A plain true/yes/on or false/no/off (any case); false if it is none of them. */
static bool bool_word(const struct cfg_node *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	if (v->kind != CFG_NODE_SCALAR || !v->plain)
		return false;
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(v->str, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v->str, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool get_bool(struct cfg_parse *p, const char *key, const struct cfg_node *v, bool *out)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (bool_word(v, out))
		return true;
	cfg_node_error(p, v, "key '%s': expected true or false, got %s%s", key,
		       cfg_describe(v, buf, sizeof(buf)),
		       v->kind == CFG_NODE_SCALAR && !v->plain ? " (write it without quotes)" : "");
	return false;
}

static bool get_uint(struct cfg_parse *p, const char *key, const struct cfg_node *v, unsigned min,
		     unsigned max, unsigned *out)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	unsigned long long x = 0;
	const char *s = v->str;

	if (v->kind != CFG_NODE_SCALAR || !v->plain || !isdigit((unsigned char)*s))
		goto bad;
	for (; isdigit((unsigned char)*s); s++) {
		x = x * 10 + (unsigned)(*s - '0');
		if (x > max)
			goto bad;
	}
	if (*s || x < min)
		goto bad;
	*out = (unsigned)x;
	return true;
bad:
	cfg_node_error(p, v, "key '%s': expected an integer from %u to %u, got %s", key, min, max,
		       cfg_describe(v, buf, sizeof(buf)));
	return false;
}

const char *cfg_get_str(struct cfg_parse *p, const char *key, const struct cfg_node *v, bool empty_ok)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (v->kind != CFG_NODE_SCALAR || cfg_is_null(v)) {
		cfg_node_error(p, v, "key '%s': expected a string, got %s", key,
			       cfg_describe(v, buf, sizeof(buf)));
		return NULL;
	}
	if (!empty_ok && !v->str[0]) {
		cfg_node_error(p, v, "key '%s': expected a non-empty string", key);
		return NULL;
	}
	return cfg_keep(p, v->str);
}

/* A file name for CRIU's log, created in the images directory. */
static const char *get_log_file(struct cfg_parse *p, const char *key, const struct cfg_node *v)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (v->kind == CFG_NODE_SCALAR && !cfg_is_null(v) &&
	    (strchr(v->str, '/') || !strcmp(v->str, ".") || !strcmp(v->str, ".."))) {
		cfg_node_error(p, v,
			       "key '%s': expected a file name without '/' (CRIU writes its log "
			       "in the images directory), got %s",
			       key, cfg_describe(v, buf, sizeof(buf)));
		return NULL;
	}
	return cfg_get_str(p, key, v, false);
}

bool cfg_get_duration(struct cfg_parse *p, const char *key, const struct cfg_node *v, unsigned *ms)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	crpc_error *e = NULL;

	if (v->kind != CFG_NODE_SCALAR || cfg_is_null(v)) {
		cfg_node_error(p, v, "key '%s': expected a duration such as 500ms, 2s, 1m or 1h, got %s",
			       key, cfg_describe(v, buf, sizeof(buf)));
		return false;
	}
	if (crpc__parse_duration(v->str, ms, &e) == 0)
		return true;
	cfg_node_error(p, v, "key '%s': %s", key, e && e->message ? e->message : "invalid duration");
	crpc_error_free(e);
	return false;
}

static bool get_size(struct cfg_parse *p, const char *key, const struct cfg_node *v, uint64_t max,
		     uint64_t *out)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	crpc_error *e = NULL;

	if (v->kind != CFG_NODE_SCALAR || cfg_is_null(v)) {
		cfg_node_error(p, v, "key '%s': expected a size such as 512K or 10M, got %s", key,
			       cfg_describe(v, buf, sizeof(buf)));
		return false;
	}
	if (crpc__parse_size(v->str, max, out, &e) == 0)
		return true;
	cfg_node_error(p, v, "key '%s': %s", key, e && e->message ? e->message : "invalid size");
	crpc_error_free(e);
	return false;
}

int cfg_get_word(struct cfg_parse *p, const char *key, const struct cfg_node *v, const char *const *words,
		 size_t n, const char *expected)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (v->kind == CFG_NODE_SCALAR)
		for (size_t i = 0; i < n; i++)
			if (strcmp(v->str, words[i]) == 0)
				return (int)i;
	cfg_node_error(p, v, "key '%s': expected %s, got %s", key, expected,
		       cfg_describe(v, buf, sizeof(buf)));
	return -1;
}

/*
 * A list of strings: calls add() for each (owned) item. An empty value is an
 * empty list. Returns the number of items, -1 after an error.
 */
static ssize_t get_list(struct cfg_parse *p, const char *key, const struct cfg_node *v,
			int (*add)(struct cfg_parse *p, void *arg, const char *s), void *arg)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	ssize_t count = 0;

	if (cfg_is_null(v))
		return 0;
	if (v->kind != CFG_NODE_SEQ) {
		cfg_node_error(p, v,
			       "key '%s': expected a list of strings, got %s (write [\"...\"] or "
			       "'- ...' items)",
			       key, cfg_describe(v, buf, sizeof(buf)));
		return -1;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cfg_node *it = v->kids[i];
		const char *s;

		if (it->kind != CFG_NODE_SCALAR || cfg_is_null(it) || !it->str[0]) {
			cfg_node_error(p, it, "key '%s', item %zu: expected a non-empty string, got %s", key,
				       i + 1, cfg_describe(it, buf, sizeof(buf)));
			count = -1;
			continue;
		}
		s = cfg_keep(p, it->str);
		if (!s || add(p, arg, s) < 0) {
			p->oom = true;
			return -1;
		}
		if (count >= 0)
			count++;
	}
	return count;
}

static int add_strv(struct cfg_parse *p, void *arg, const char *s)
{
	return crpc_strv_add(arg, s, NULL);
}

static int add_external(struct cfg_parse *p, void *arg, const char *s)
{
	return crpc_opts_add_external(arg, s, NULL);
}

int cfg_lookup(struct cfg_parse *p, const struct cfg_node *k, const void *tab, size_t n, size_t stride,
	       const char *what, const char *list)
{
	char buf[CFG_SHOWN_MAX * 4 + 16];
	const char *best;

	if (k->kind != CFG_NODE_SCALAR)
		return -1; /* reported by check_keys() */
	for (size_t i = 0; i < n; i++)
		if (strcmp(k->str, *(const char *const *)((const char *)tab + i * stride)) == 0)
			return (int)i;
	best = cfg_closest(k->str, tab, n, stride, NULL, NULL);
	cfg_shown(k->str, buf, sizeof(buf));
	if (!what && best)
		cfg_node_error(p, k, "unknown section '%s': did you mean '%s'?", buf, best);
	else if (!what)
		cfg_node_error(p, k, "unknown section '%s'; the sections are: %s", buf, list);
	else if (best)
		cfg_node_error(p, k, "unknown key '%s' in %s: did you mean '%s'?", buf, what, best);
	else
		cfg_node_error(p, k, "unknown key '%s' in %s; expected one of: %s", buf, what, list);
	return -1;
}

bool cfg_want_map(struct cfg_parse *p, const char *what, const struct cfg_node *v, const char *expected)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (v->kind == CFG_NODE_MAP)
		return true;
	if (!cfg_is_null(v))
		cfg_node_error(p, v, "%s: expected %s, got %s", what, expected,
			       cfg_describe(v, buf, sizeof(buf)));
	return false;
}

/* ------------------------------------------------------------------------ */
/* criu: and shim:                                                          */

static const struct {
	const char *name;
} criu_keys[] = { { "binary" }, { "log_level" }, { "log_file" } };

static void parse_criu(struct cfg_parse *p, const struct cfg_node *sec)
{
	if (!cfg_want_map(p, "section 'criu'", sec, "a mapping of keys (binary, log_level, log_file)"))
		return;
	for (size_t i = 0; i + 1 < sec->n; i += 2) {
		const struct cfg_node *k = sec->kids[i], *v = sec->kids[i + 1];
		unsigned lvl;

		switch (cfg_lookup(p, k, criu_keys, 3, sizeof(criu_keys[0]), "criu",
				   "binary, log_level, log_file")) {
		case 0:
			p->c->criu_binary = (char *)cfg_get_str(p, "binary", v, false);
			break;
		case 1:
			if (get_uint(p, "log_level", v, 0, 4, &lvl))
				p->c->criu_log_level = (int)lvl;
			break;
		case 2:
			p->c->criu_log_file = (char *)get_log_file(p, "log_file", v);
			break;
		default:
			break;
		}
	}
}

static const struct {
	const char *name;
} shim_keys[] = { { "trace_dir" },           { "trace" },  { "trace_max_files" }, { "trace_max_total" },
		  { "trace_max_file_size" }, { "verbose" } };

#define SHIM_KEY_LIST "trace_dir, trace, trace_max_files, trace_max_total, trace_max_file_size, verbose"

static void parse_shim(struct cfg_parse *p, const struct cfg_node *sec)
{
	if (!cfg_want_map(p, "section 'shim'", sec, "a mapping of keys (" SHIM_KEY_LIST ")"))
		return;
	for (size_t i = 0; i + 1 < sec->n; i += 2) {
		const struct cfg_node *k = sec->kids[i], *v = sec->kids[i + 1];
		uint64_t size;
		unsigned n;
		bool b;

		switch (cfg_lookup(p, k, shim_keys, sizeof(shim_keys) / sizeof(shim_keys[0]),
				   sizeof(shim_keys[0]), "shim", SHIM_KEY_LIST)) {
		case 0:
			p->c->trace_dir = (char *)cfg_get_str(p, "trace_dir", v, false);
			break;
		case 1:
			if (get_bool(p, "trace", v, &b))
				p->c->shim_trace = b;
			break;
		case 2:
			if (get_uint(p, "trace_max_files", v, 1, 1000000, &n))
				p->c->shim_trace_max_files = n;
			break;
		case 3:
			if (get_size(p, "trace_max_total", v, UINT64_MAX / 2, &size)) {
				if (size < 4096)
					cfg_node_error(p, v,
						       "key 'trace_max_total': at least 4K, got %ju bytes",
						       (uintmax_t)size);
				else
					p->c->shim_trace_max_total = size;
			}
			break;
		case 4:
			if (get_size(p, "trace_max_file_size", v, UINT64_MAX / 2, &size)) {
				if (size < 4096)
					cfg_node_error(p, v,
						       "key 'trace_max_file_size': at least 4K, got %ju bytes",
						       (uintmax_t)size);
				else
					p->c->shim_trace_max_file_size = size;
			}
			break;
		case 5:
			if (get_bool(p, "verbose", v, &b))
				p->c->shim_verbose = b;
			break;
		default:
			break;
		}
	}
}

static const struct {
	const char *name;
} signing_keys[] = { { "key" }, { "trusted_keys" }, { "require" } };

#define SIGNING_KEY_LIST "key, trusted_keys, require"

static void parse_signing(struct cfg_parse *p, const struct cfg_node *sec)
{
	if (!cfg_want_map(p, "section 'signing'", sec, "a mapping of keys (" SIGNING_KEY_LIST ")"))
		return;
	for (size_t i = 0; i + 1 < sec->n; i += 2) {
		const struct cfg_node *k = sec->kids[i], *v = sec->kids[i + 1];
		bool b;

		switch (cfg_lookup(p, k, signing_keys, sizeof(signing_keys) / sizeof(signing_keys[0]),
				   sizeof(signing_keys[0]), "signing", SIGNING_KEY_LIST)) {
		case 0:
			p->c->signing_key = (char *)cfg_get_str(p, "key", v, true);
			break;
		case 1:
			p->c->trusted_keys = (char *)cfg_get_str(p, "trusted_keys", v, false);
			break;
		case 2:
			if (get_bool(p, "require", v, &b))
				p->c->require_signature = b;
			break;
		default:
			break;
		}
	}
}

/* integrity: digest: blake3|sha256 */
static void parse_integrity(struct cfg_parse *p, const struct cfg_node *sec)
{
	static const struct {
		const char *name;
	} keys[] = { { "digest" } };

	if (!cfg_want_map(p, "section 'integrity'", sec, "a mapping of keys (digest)"))
		return;
	for (size_t i = 0; i + 1 < sec->n; i += 2) {
		const struct cfg_node *k = sec->kids[i], *v = sec->kids[i + 1];
		const char *name;
		crpc_digest d;

		if (cfg_lookup(p, k, keys, sizeof(keys) / sizeof(keys[0]), sizeof(keys[0]), "integrity",
			       "digest") != 0)
			continue;
		name = cfg_get_str(p, "digest", v, false);
		if (!name)
			continue;
		if (crpc_digest_parse(name, &d) < 0)
			cfg_node_error(p, v, "key 'digest': blake3 or sha256, got '%s'", name);
		else
			p->c->digest = d;
	}
}

/* ------------------------------------------------------------------------ */
/* dump: and restore:                                                       */

/* The keys: the rows of CRPC_OPTS_TABLE with a YAML column (opt_descs[]). */
static bool opt_key_in(const void *entry, const void *arg)
{
	const struct opt_desc *d = entry;

	return d->yaml != OT_NONE && (d->ops & *(const unsigned *)arg);
}

static const char *const inherit_fd_keys[] = { "key", "fd" };
static const char *const cg_root_keys[] = { "ctrl", "path" };

/* inherit_fd: [{key: STR, fd: INT}, ...] */
static void parse_inherit_fd(struct cfg_parse *p, crpc_opts *o, const struct cfg_node *v)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (cfg_is_null(v))
		return;
	if (v->kind != CFG_NODE_SEQ) {
		cfg_node_error(p, v,
			       "key 'inherit_fd': expected a list of {key: ..., fd: N} mappings, "
			       "got %s",
			       cfg_describe(v, buf, sizeof(buf)));
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cfg_node *it = v->kids[i];
		const char *key = NULL;
		unsigned fd = 0;
		bool seen_key = false, seen_fd = false, ok = true;

		if (it->kind != CFG_NODE_MAP) {
			cfg_node_error(p, it,
				       "key 'inherit_fd', item %zu: expected a mapping {key: "
				       "RESOURCE, fd: N}, got %s",
				       i + 1, cfg_describe(it, buf, sizeof(buf)));
			continue;
		}
		for (size_t j = 0; j + 1 < it->n; j += 2) {
			const struct cfg_node *k = it->kids[j], *val = it->kids[j + 1];

			switch (cfg_lookup(p, k, inherit_fd_keys, 2, sizeof(inherit_fd_keys[0]),
					   "an inherit_fd item", "key, fd")) {
			case 0:
				seen_key = true;
				key = cfg_get_str(p, "key", val, false);
				ok = ok && key;
				break;
			case 1:
				seen_fd = true;
				ok = get_uint(p, "fd", val, 0, INT_MAX, &fd) && ok;
				break;
			default:
				ok = false;
				break;
			}
		}
		if (!seen_key || !seen_fd) {
			cfg_node_error(p, it, "key 'inherit_fd', item %zu: needs both key: and fd:", i + 1);
			continue;
		}
		if (!ok)
			continue;
		if (crpc_opts_add_inherit_fd(o, key, (int)fd, NULL) < 0)
			p->oom = true;
	}
}

/* cg_root: [{ctrl: STR (optional), path: STR}, ...] */
static void parse_cg_root(struct cfg_parse *p, crpc_opts *o, const struct cfg_node *v)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (cfg_is_null(v))
		return;
	if (v->kind != CFG_NODE_SEQ) {
		cfg_node_error(p, v,
			       "key 'cg_root': expected a list of {ctrl: ..., path: ...} mappings, "
			       "got %s",
			       cfg_describe(v, buf, sizeof(buf)));
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cfg_node *it = v->kids[i];
		const char *ctrl = NULL, *path = NULL;
		bool seen_path = false, ok = true;

		if (it->kind != CFG_NODE_MAP) {
			cfg_node_error(p, it,
				       "key 'cg_root', item %zu: expected a mapping {ctrl: "
				       "CONTROLLER, path: PATH}, got %s",
				       i + 1, cfg_describe(it, buf, sizeof(buf)));
			continue;
		}
		for (size_t j = 0; j + 1 < it->n; j += 2) {
			const struct cfg_node *k = it->kids[j], *val = it->kids[j + 1];

			switch (cfg_lookup(p, k, cg_root_keys, 2, sizeof(cg_root_keys[0]), "a cg_root item",
					   "ctrl, path")) {
			case 0:
				ctrl = cfg_get_str(p, "ctrl", val, false);
				ok = ok && ctrl;
				break;
			case 1:
				seen_path = true;
				path = cfg_get_str(p, "path", val, false);
				ok = ok && path;
				break;
			default:
				ok = false;
				break;
			}
		}
		if (!seen_path) {
			cfg_node_error(p, it, "key 'cg_root', item %zu: needs path:", i + 1);
			continue;
		}
		if (!ok)
			continue;
		if (crpc_opts_add_cg_root(o, ctrl, path, NULL) < 0)
			p->oom = true;
	}
}

/* A scalar that is not empty, else an error naming what was expected. */
static bool want_scalar(struct cfg_parse *p, const char *key, const struct cfg_node *v, const char *expected)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (v->kind == CFG_NODE_SCALAR && !cfg_is_null(v))
		return true;
	cfg_node_error(p, v, "key '%s': expected %s, got %s", key, expected,
		       cfg_describe(v, buf, sizeof(buf)));
	return false;
}

static void parse_opt(struct cfg_parse *p, crpc_opts *o, const struct opt_desc *key, const struct cfg_node *v)
{
	char *base = (char *)o;
	char buf[CFG_SHOWN_MAX * 4 + 32];
	crpc_error *e = NULL;
	unsigned u = 0;
	uint64_t size = 0;
	bool b = false;
	const char *s = NULL;

	switch (key->yaml) {
	case OT_NONE:
		break;
	case OT_BOOL:
		if (get_bool(p, key->name, v, &b))
			memcpy(base + key->off, &b, sizeof(b));
		break;
	case OT_STR:
		s = cfg_get_str(p, key->name, v, false);
		if (s)
			*(const char **)(void *)(base + key->off) = s;
		break;
	case OT_STRV:
		get_list(p, key->name, v, add_strv, base + key->off);
		break;
	case OT_EXTERNAL:
		get_list(p, key->name, v, add_external, o);
		break;
	case OT_LOG_LEVEL:
		if (get_uint(p, key->name, v, 0, 4, &u)) {
			int level = (int)u;

			memcpy(base + key->off, &level, sizeof(level));
		}
		break;
	case OT_LOG_FILE:
		s = get_log_file(p, key->name, v);
		if (s)
			*(const char **)(void *)(base + key->off) = s;
		break;
	case OT_SIZE:
		if (get_size(p, key->name, v, UINT32_MAX, &size)) {
			uint32_t bytes = (uint32_t)size;

			b = true;
			memcpy(base + key->off, &bytes, sizeof(bytes));
			memcpy(base + key->off_set, &b, sizeof(b));
		}
		break;
	case OT_DURATION:
		/* CRIU takes whole seconds: round up so that 500ms does not mean "default" */
		if (cfg_get_duration(p, key->name, v, &u)) {
			uint32_t seconds = u / 1000 + (u % 1000 ? 1 : 0);

			memcpy(base + key->off, &seconds, sizeof(seconds));
		}
		break;
	case OT_CG_MODE: {
		crpc_cg_mode mode;

		if (!want_scalar(p, key->name, v,
				 "none, props, soft, full, strict, ignore or "
				 "default"))
			break;
		if (crpc__parse_cg_mode(v->str, &mode, &e) < 0)
			cfg_node_error(p, v, "key '%s': %s", key->name, e && e->message ? e->message : "?");
		else
			memcpy(base + key->off, &mode, sizeof(mode));
		break;
	}
	case OT_NETLOCK: {
		crpc_network_lock nl;

		if (!want_scalar(p, key->name, v, "iptables, nftables or skip"))
			break;
		if (crpc__parse_network_lock(v->str, &nl, &e) < 0)
			cfg_node_error(p, v, "key '%s': %s", key->name, e && e->message ? e->message : "?");
		else
			memcpy(base + key->off, &nl, sizeof(nl));
		break;
	}
	case OT_EMPTY_NS: {
		uint32_t ns = CLONE_NEWNET, none = 0;

		if (v->kind == CFG_NODE_SCALAR && strcmp(v->str, "net") == 0)
			memcpy(base + key->off, &ns, sizeof(ns));
		else if (bool_word(v, &b) && !b)
			memcpy(base + key->off, &none, sizeof(none));
		else
			cfg_node_error(p, v, "key 'empty_ns': expected net or false, got %s",
				       cfg_describe(v, buf, sizeof(buf)));
		break;
	}
	case OT_INHERIT_FD:
		parse_inherit_fd(p, o, v);
		break;
	case OT_CG_ROOT:
		parse_cg_root(p, o, v);
		break;
	}
	crpc_error_free(e);
}

static void parse_opts(struct cfg_parse *p, const char *section, unsigned op, crpc_opts *o,
		       const struct cfg_node *sec)
{
	char what[64], buf[CFG_SHOWN_MAX * 4 + 16];

	snprintf(what, sizeof(what), "section '%s'", section);
	if (!cfg_want_map(p, what, sec, "a mapping of CRIU options"))
		return;
	for (size_t i = 0; i + 1 < sec->n; i += 2) {
		const struct cfg_node *k = sec->kids[i], *v = sec->kids[i + 1];
		const struct opt_desc *key = NULL;
		const char *best;

		if (k->kind != CFG_NODE_SCALAR)
			continue; /* reported by check_keys() */
		key = opt_desc_find(k->str);
		if (key && key->yaml == OT_NONE)
			key = NULL;
		if (key && !(key->ops & op)) {
			cfg_node_error(p, k, "key '%s' only applies to %s; move it to the %s: section",
				       key->name, op == OP_DUMP ? "restore" : "dump",
				       op == OP_DUMP ? "restore" : "dump");
			continue;
		}
		if (key) {
			parse_opt(p, o, key, v);
			continue;
		}
		best = cfg_closest(k->str, opt_descs, n_opt_descs, sizeof(opt_descs[0]), opt_key_in, &op);
		if (best)
			cfg_node_error(p, k, "unknown key '%s' in %s: did you mean '%s'?",
				       cfg_shown(k->str, buf, sizeof(buf)), section, best);
		else
			cfg_node_error(p, k, "unknown key '%s' in %s (see crpc.yaml(5) for the valid keys)",
				       cfg_shown(k->str, buf, sizeof(buf)), section);
	}
}

/* ------------------------------------------------------------------------ */
/* the whole file                                                           */

static const struct {
	const char *name;
} sections[] = { { "criu" }, { "dump" },    { "restore" },  { "hooks" },
		 { "shim" }, { "signing" }, { "integrity" } };

void cfg_parse_root(struct cfg_parse *p, const struct cfg_node *root)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (root->kind != CFG_NODE_MAP) {
		/* an empty document is reported where it starts, not on the next line */
		cfg_error_at(p, cfg_is_null(root) ? p->doc_line : root->line,
			     cfg_is_null(root) ? p->doc_col : root->col,
			     "the top level must be a mapping of sections (criu, dump, restore, hooks, "
			     "shim, signing, integrity), got %s",
			     cfg_is_null(root) ? "an empty document" : cfg_describe(root, buf, sizeof(buf)));
		return;
	}
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct cfg_node *k = root->kids[i], *v = root->kids[i + 1];

		switch (cfg_lookup(p, k, sections, sizeof(sections) / sizeof(sections[0]),
				   sizeof(sections[0]), NULL,
				   "criu, dump, restore, hooks, shim, signing, integrity")) {
		case 0:
			parse_criu(p, v);
			break;
		case 1:
			parse_opts(p, "dump", OP_DUMP, &p->c->dump, v);
			break;
		case 2:
			parse_opts(p, "restore", OP_RESTORE, &p->c->restore, v);
			break;
		case 3:
			cfg_parse_hooks(p, v);
			break;
		case 4:
			parse_shim(p, v);
			break;
		case 6:
			parse_integrity(p, v);
			break;
		case 5:
			parse_signing(p, v);
			break;
		default:
			break;
		}
	}
}
