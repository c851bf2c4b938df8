/* SPDX-License-Identifier: MIT */
/*
 * config_int.h - what the parts of the configuration share: storage owned
 * by a crpc_config (config.c), the tree of YAML nodes and the parser's
 * state and errors (config_yaml.c), the typed values and key look-ups of
 * the schema (config_schema.c) and the hooks: section (config_hooks.c).
 * Private to src/lib/config/.
 */
#ifndef CRPC_CONFIG_INT_H
#define CRPC_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "crpc/config.h"

/* Longest value shown in an error message before it is cut. */
#define CFG_SHOWN_MAX 48

/* ---- storage owned by the configuration (config.c) ---- */

/* size zeroed bytes owned by c; NULL on ENOMEM. */
void *cfg_own_alloc(crpc_config *c, size_t size);
char *cfg_own_strdup(crpc_config *c, const char *s);
char *cfg_own_printf(crpc_config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append a step to callback k (the step's strings are already owned). */
int cfg_step_append(crpc_config *c, crpc_notify_kind k, const crpc_hook_step *s);

/* ---- the document tree and the parser (config_yaml.c) ---- */

enum cfg_node_kind {
	CFG_NODE_SCALAR,
	CFG_NODE_SEQ,
	CFG_NODE_MAP,
};

struct cfg_node {
	enum cfg_node_kind kind;
	unsigned line, col;     /* 1-based */
	char *str;              /* scalar: its value */
	bool plain;             /* scalar: written without quotes or block indicator */
	struct cfg_node **kids; /* sequence: items; mapping: keys and values interleaved */
	size_t n;
	size_t cap;
};

void cfg_node_free(struct cfg_node *n);
/* A plain scalar YAML reads as null: empty, "~" or "null". */
bool cfg_is_null(const struct cfg_node *n);
/* What a node is, for "got ..." in messages. */
const char *cfg_describe(const struct cfg_node *n, char *buf, size_t bufsz);
/*
 * Quote a value for a message: control characters escaped, cut after
 * CFG_SHOWN_MAX bytes on a character boundary.
 */
const char *cfg_shown(const char *s, char *buf, size_t bufsz);

struct cfg_parse {
	crpc_config *c;
	const char *name; /* the file, in messages */
	const char *text; /* without a UTF-8 BOM */
	size_t len;
	bool secure; /* running as root: check run: executables */
	bool oom;
	unsigned doc_line, doc_col; /* where the document starts */
	/* the first error by position */
	char *emsg;
	unsigned eline, ecol;
};

/* Record an error at line:col unless one earlier in the file is recorded already. */
void cfg_error_at(struct cfg_parse *p, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define cfg_node_error(p, n, ...) cfg_error_at((p), (n)->line, (n)->col, __VA_ARGS__)

/* Copy a string into the configuration; NULL (and p->oom) on failure. */
char *cfg_keep(struct cfg_parse *p, const char *s);

/* Refuse NUL bytes (binary files) and invalid UTF-8. */
int cfg_check_text(struct cfg_parse *p);
/* Whether the text holds anything but blanks. */
bool cfg_only_blanks(const struct cfg_parse *p);
/*
 * Read the events into a tree. Returns the root node (NULL when the file
 * holds no document, or on failure: p->emsg or p->oom then tell).
 */
struct cfg_node *cfg_build_tree(struct cfg_parse *p, bool *syntax_error);

/* ---- the schema (config_schema.c) ---- */

/*
 * The closest of the names in a table (the first member of each entry is
 * the name), if close enough to be a likely misspelling; else NULL.
 * `valid` filters the entries (NULL: all).
 */
const char *cfg_closest(const char *s, const void *tab, size_t n, size_t stride,
			bool (*valid)(const void *entry, const void *arg), const void *arg);

/* A string; `empty_ok`: "" is accepted. The result is owned by the config. */
const char *cfg_get_str(struct cfg_parse *p, const char *key, const struct cfg_node *v, bool empty_ok);
/* A duration (crpc__parse_duration()) in milliseconds. */
bool cfg_get_duration(struct cfg_parse *p, const char *key, const struct cfg_node *v, unsigned *ms);
/* One of a fixed set of words (plain or quoted); index or -1. */
int cfg_get_word(struct cfg_parse *p, const char *key, const struct cfg_node *v, const char *const *words,
		 size_t n, const char *expected);
/*
 * Look a key up in a table whose entries start with the name. Unknown keys
 * are reported with a suggestion; `what` names the mapping ("criu", "a hook
 * step"; NULL: the top level, whose keys are sections), `list` names the
 * valid keys.
 */
int cfg_lookup(struct cfg_parse *p, const struct cfg_node *k, const void *tab, size_t n, size_t stride,
	       const char *what, const char *list);
/* A section or other mapping: an empty value is an empty mapping. */
bool cfg_want_map(struct cfg_parse *p, const char *what, const struct cfg_node *v, const char *expected);

/* The whole document: its sections into p->c. */
void cfg_parse_root(struct cfg_parse *p, const struct cfg_node *root);

/* ---- hooks (config_hooks.c) ---- */

/* The hooks: section: the steps of each callback into p->c->hooks. */
void cfg_parse_hooks(struct cfg_parse *p, const struct cfg_node *sec);

#endif /* CRPC_CONFIG_INT_H */
