/* SPDX-License-Identifier: MIT */
/*
 * config.c - the YAML configuration file: locating it, reading it safely,
 * and validating it into a crpc_config.
 *
 * libyaml's event parser builds a small tree of our own (scalars keep their
 * position and whether they were quoted); the tree is then checked against
 * the schema below. Every problem is recorded with its position and the one
 * that comes first in the file is reported, so fixing errors from the top
 * down always makes progress. Anchors, aliases, tags and multiple documents
 * are refused: a configuration should read the same to a human and to crpc.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <yaml.h>

#include "crpc/config.h"
#include "internal.h"

/* Nesting deeper than this is refused (the schema needs five levels). */
#define MAX_DEPTH 32
/* Longest value shown in an error message before it is cut. */
#define CFG_SHOWN_MAX 48
/* Keys longer than this get no "did you mean". */
#define SUGGEST_MAX 64

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

/* size zeroed bytes owned by c; NULL on ENOMEM. */
static void *cfg_own_alloc(crpc_config *c, size_t size)
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

static char *cfg_own_strdup(crpc_config *c, const char *s)
{
	size_t n = strlen(s) + 1;
	char *r = cfg_own_alloc(c, n);

	if (r)
		memcpy(r, s, n);
	return r;
}

static char *cfg_own_printf(crpc_config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *cfg_own_printf(crpc_config *c, const char *fmt, ...)
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

/* Append a step to callback k (the step's strings are already owned). */
static int cfg_step_append(crpc_config *c, crpc_notify_kind k, const crpc_hook_step *s)
{
	crpc_hook_step *v = realloc(c->hooks.steps[k], (c->hooks.n_steps[k] + 1) * sizeof(*v));

	if (!v)
		return -1;
	c->hooks.steps[k] = v;
	v[c->hooks.n_steps[k]++] = *s;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

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

/*
 * The closest of the names in a table (the first member of each entry is
 * the name), if close enough to be a likely misspelling; else NULL.
 * `valid` filters the entries (NULL: all).
 */
static const char *cfg_closest(const char *s, const void *tab, size_t n, size_t stride,
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

/*
 * Quote a value for a message: control characters escaped, cut after
 * CFG_SHOWN_MAX bytes on a character boundary.
 */
static const char *cfg_shown(const char *s, char *buf, size_t bufsz)
{
	size_t o = 0, i;

	for (i = 0; s[i] && o + 8 < bufsz; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i >= CFG_SHOWN_MAX && (ch & 0xc0) != 0x80) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch == '\n' || ch == '\t') {
			buf[o++] = '\\';
			buf[o++] = ch == '\n' ? 'n' : 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* A valid environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static bool env_name_ok(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* "pre-stream, pre-dump, ..., query-ext-files" */
static void callback_list(char *buf, size_t bufsz)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int k = CRPC_NOTIFY_UNKNOWN + 1; k < CRPC_NOTIFY__COUNT && o < bufsz; k++)
		o += (size_t)snprintf(buf + o, bufsz - o, "%s%s", o ? ", " : "",
				      crpc_notify_kind_name((crpc_notify_kind)k));
}

/* ------------------------------------------------------------------------ */
/* durations                                                                */

CRPC_API int crpc_parse_duration(const char *s, unsigned *ms, crpc_error **err)
{
	uint64_t ip = 0, frac = 0, fdiv = 1, unit, total, num;
	const char *p = s;
	unsigned nfrac = 0;

	if (!s || !isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		ip = ip * 10 + (uint64_t)(*p - '0');
		if (ip > UINT_MAX)
			goto too_long;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		for (; isdigit((unsigned char)*p); p++) {
			if (++nfrac > 9)
				goto bad;
			frac = frac * 10 + (uint64_t)(*p - '0');
			fdiv *= 10;
		}
	}
	if (*p == '\0' || strcmp(p, "s") == 0)
		unit = 1000;
	else if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		unit = 60 * 60 * 1000;
	else
		goto bad;
	/* ip <= UINT_MAX and unit <= 3.6e6: no overflow in 64 bits */
	total = ip * unit;
	/* the fraction is rounded up to a whole millisecond */
	num = frac * unit;
	total += num / fdiv + (num % fdiv ? 1 : 0);
	if (total > UINT_MAX)
		goto too_long;
	*ms = (unsigned)total;
	return 0;
bad:
	return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
			      "invalid duration '%s': expected a number with an optional unit ms, "
			      "s, m or h (e.g. 500ms, 2s, 1.5m); a plain number is seconds",
			      s ? s : "");
too_long:
	return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
			      "duration '%s' is too long (at most %u ms, about 49 days)", s, UINT_MAX);
}

/* ------------------------------------------------------------------------ */
/* the document tree                                                        */

enum cfg_node_kind {
	CFG_NODE_SCALAR,
	CFG_NODE_SEQ,
	CFG_NODE_MAP,
};

struct cfg_node {
	enum cfg_node_kind kind;
	unsigned line, col; /* 1-based */
	char *str;          /* scalar: its value */
	bool plain;         /* scalar: written without quotes or block indicator */
	struct cfg_node **kids; /* sequence: items; mapping: keys and values interleaved */
	size_t n;
	size_t cap;
};

static void cfg_node_free(struct cfg_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		cfg_node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

/* A plain scalar YAML reads as null: empty, "~" or "null". */
static bool cfg_is_null(const struct cfg_node *n)
{
	return n->kind == CFG_NODE_SCALAR && n->plain &&
	       (!n->str[0] || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
		strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

/* What a node is, for "got ..." in messages. */
static const char *cfg_describe(const struct cfg_node *n, char *buf, size_t bufsz)
{
	char v[CFG_SHOWN_MAX * 4 + 16];

	if (n->kind == CFG_NODE_SEQ)
		return "a list";
	if (n->kind == CFG_NODE_MAP)
		return "a mapping";
	if (cfg_is_null(n))
		return "an empty value";
	if (n->plain)
		snprintf(buf, bufsz, "'%s'", cfg_shown(n->str, v, sizeof(v)));
	else
		snprintf(buf, bufsz, "the quoted string \"%s\"", cfg_shown(n->str, v, sizeof(v)));
	return buf;
}

/* ------------------------------------------------------------------------ */
/* parser state and errors                                                  */

struct cfg_parse {
	crpc_config *c;
	const char *name;  /* the file, in messages */
	const char *text;  /* without a UTF-8 BOM */
	size_t len;
	bool secure;       /* running as root: check run: executables */
	bool oom;
	unsigned doc_line, doc_col; /* where the document starts */
	/* the first error by position */
	char *emsg;
	unsigned eline, ecol;
};

static void cfg_error_at(struct cfg_parse *p, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void cfg_error_at(struct cfg_parse *p, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;
	char *m;
	int n;

	if (p->emsg && (p->eline < line || (p->eline == line && p->ecol <= col)))
		return;
	va_start(ap, fmt);
	n = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (n < 0) {
		p->oom = true;
		return;
	}
	free(p->emsg);
	p->emsg = m;
	p->eline = line;
	p->ecol = col;
}

#define cfg_node_error(p, n, ...) cfg_error_at((p), (n)->line, (n)->col, __VA_ARGS__)

/* Copy a string into the configuration; NULL (and p->oom) on failure. */
static char *cfg_keep(struct cfg_parse *p, const char *s)
{
	char *r = cfg_own_strdup(p->c, s);

	if (!r)
		p->oom = true;
	return r;
}

/* Line and column (1-based, in characters like libyaml) of a byte offset. */
static void offset_pos(const struct cfg_parse *p, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < p->len; i++) {
		unsigned char ch = (unsigned char)p->text[i];

		if (ch == '\n') {
			++*line;
			*col = 1;
		} else if ((ch & 0xc0) != 0x80) {
			++*col;
		}
	}
}

/* Byte offset of a 1-based line and column, or SIZE_MAX past the end. */
static size_t pos_offset(const struct cfg_parse *p, unsigned line, unsigned col)
{
	size_t i = 0;

	for (unsigned l = 1; l < line; l++) {
		const char *nl = memchr(p->text + i, '\n', p->len - i);

		if (!nl)
			return SIZE_MAX;
		i = (size_t)(nl - p->text) + 1;
	}
	for (unsigned c = 1; c < col && i < p->len; c++) {
		i++;
		while (i < p->len && ((unsigned char)p->text[i] & 0xc0) == 0x80)
			i++;
	}
	return i < p->len ? i : SIZE_MAX;
}

/* ------------------------------------------------------------------------ */
/* raw text checks                                                          */

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Refuse NUL bytes (binary files) and invalid UTF-8. */
static int cfg_check_text(struct cfg_parse *p)
{
	const unsigned char *s = (const unsigned char *)p->text;
	unsigned line, col;

	for (size_t i = 0; i < p->len;) {
		size_t n;

		if (s[i] == 0) {
			offset_pos(p, i, &line, &col);
			cfg_error_at(p, line, col, "NUL byte: this looks like a binary file, not a YAML "
						   "configuration");
			return -1;
		}
		n = utf8_len(s + i, p->len - i);
		if (!n) {
			offset_pos(p, i, &line, &col);
			cfg_error_at(p, line, col, "invalid UTF-8 (byte 0x%02x): the configuration must "
						   "be UTF-8 text", s[i]);
			return -1;
		}
		i += n;
	}
	return 0;
}

/* Whether the text holds anything but blanks. */
static bool cfg_only_blanks(const struct cfg_parse *p)
{
	for (size_t i = 0; i < p->len; i++)
		if (!isspace((unsigned char)p->text[i]))
			return false;
	return true;
}

/* ------------------------------------------------------------------------ */
/* building the tree from libyaml's events                                  */

static struct cfg_node *node_new(struct cfg_parse *p, enum cfg_node_kind kind, const yaml_mark_t *m)
{
	struct cfg_node *n = calloc(1, sizeof(*n));

	if (!n) {
		p->oom = true;
		return NULL;
	}
	n->kind = kind;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	return n;
}

static int node_add(struct cfg_parse *p, struct cfg_node *parent, struct cfg_node *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct cfg_node **v = realloc(parent->kids, cap * sizeof(*v));

		if (!v) {
			p->oom = true;
			return -1;
		}
		parent->kids = v;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct cfg_node *x = *(const struct cfg_node *const *)a;
	const struct cfg_node *y = *(const struct cfg_node *const *)b;
	int r = strcmp(x->str, y->str);

	if (r)
		return r;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : x->col > y->col;
}

/* Keys of a finished mapping: strings, each at most once. */
static void check_keys(struct cfg_parse *p, const struct cfg_node *map)
{
	size_t nkeys = map->n / 2, m = 0;
	struct cfg_node **keys;
	char buf[CFG_SHOWN_MAX * 4 + 16];

	if (!nkeys)
		return;
	keys = calloc(nkeys, sizeof(*keys));
	if (!keys) {
		p->oom = true;
		return;
	}
	for (size_t i = 0; i < nkeys; i++) {
		struct cfg_node *k = map->kids[2 * i];

		if (k->kind != CFG_NODE_SCALAR) {
			cfg_node_error(p, k, "keys must be strings, got %s", cfg_describe(k, buf, sizeof(buf)));
			continue;
		}
		keys[m++] = k;
	}
	qsort(keys, m, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < m; i++)
		if (strcmp(keys[i - 1]->str, keys[i]->str) == 0)
			cfg_node_error(p, keys[i], "duplicate key '%s' (first at line %u, column %u)",
				       cfg_shown(keys[i]->str, buf, sizeof(buf)), keys[i - 1]->line,
				       keys[i - 1]->col);
	free(keys);
}

/* Report a libyaml failure, recognising tabs used for indentation. */
static void yaml_failure(struct cfg_parse *p, const yaml_parser_t *y)
{
	unsigned line, col;
	size_t off;

	if (y->error == YAML_MEMORY_ERROR) {
		p->oom = true;
		return;
	}
	if (y->error == YAML_READER_ERROR) {
		offset_pos(p, y->problem_offset, &line, &col);
		cfg_error_at(p, line, col, "invalid YAML: %s", y->problem ? y->problem : "read error");
		return;
	}
	line = (unsigned)y->problem_mark.line + 1;
	col = (unsigned)y->problem_mark.column + 1;
	/*
	 * libyaml stops at a tab in indentation with a generic message ("found
	 * character that cannot start any token"); tabs inside block scalars
	 * and flow collections are legal, so only the failing line is looked at.
	 */
	off = pos_offset(p, line, 1);
	for (unsigned c = 1; off < p->len && (p->text[off] == ' ' || p->text[off] == '\t');
	     off++, c++) {
		if (p->text[off] == '\t') {
			cfg_error_at(p, line, c, "tabs are not allowed for indentation; indent with spaces");
			return;
		}
	}
	off = pos_offset(p, line, col);
	if (off < p->len && p->text[off] == '\t') {
		cfg_error_at(p, line, col, "tab character: tabs are not allowed for indentation or "
					   "after '-', '?' and ':' in YAML; use spaces");
		return;
	}
	if (y->context)
		cfg_error_at(p, line, col, "invalid YAML: %s (%s at line %u, column %u)",
			     y->problem ? y->problem : "syntax error", y->context,
			     (unsigned)y->context_mark.line + 1, (unsigned)y->context_mark.column + 1);
	else
		cfg_error_at(p, line, col, "invalid YAML: %s", y->problem ? y->problem : "syntax error");
}

/* Anchors and tags are refused where they appear. */
static void check_props(struct cfg_parse *p, const yaml_mark_t *m, const yaml_char_t *anchor,
			const yaml_char_t *tag)
{
	char buf[CFG_SHOWN_MAX * 4 + 16];
	unsigned line = (unsigned)m->line + 1, col = (unsigned)m->column + 1;

	if (anchor)
		cfg_error_at(p, line, col, "anchors and aliases (&%s, *%s) are not supported; write "
					   "the value out in full",
			     cfg_shown((const char *)anchor, buf, sizeof(buf)), buf);
	else if (tag && strncmp((const char *)tag, "tag:yaml.org,2002:", 18) == 0)
		cfg_error_at(p, line, col, "YAML tags (!!%s) are not supported",
			     cfg_shown((const char *)tag + 18, buf, sizeof(buf)));
	else if (tag)
		cfg_error_at(p, line, col, "YAML tags (%s) are not supported",
			     cfg_shown((const char *)tag, buf, sizeof(buf)));
}

/*
 * Read the events into a tree. Returns the root node (NULL when the file
 * holds no document, or on failure: p->emsg or p->oom then tell).
 */
static struct cfg_node *cfg_build_tree(struct cfg_parse *p, bool *syntax_error)
{
	struct cfg_node *stack[MAX_DEPTH + 1];
	struct cfg_node *root = NULL;
	yaml_parser_t y;
	unsigned docs = 0;
	size_t depth = 0;
	bool done = false;

	*syntax_error = false;
	if (!yaml_parser_initialize(&y)) {
		p->oom = true;
		return NULL;
	}
	yaml_parser_set_input_string(&y, (const unsigned char *)p->text, p->len);
	yaml_parser_set_encoding(&y, YAML_UTF8_ENCODING);
	while (!done) {
		yaml_event_t e;
		struct cfg_node *n = NULL;
		char buf[CFG_SHOWN_MAX * 4 + 16];

		if (!yaml_parser_parse(&y, &e)) {
			yaml_failure(p, &y);
			*syntax_error = true;
			break;
		}
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs == 1) {
				p->doc_line = (unsigned)e.start_mark.line + 1;
				p->doc_col = (unsigned)e.start_mark.column + 1;
			} else {
				cfg_error_at(p, (unsigned)e.start_mark.line + 1,
					     (unsigned)e.start_mark.column + 1,
					     "a second YAML document starts here; the configuration must "
					     "be a single document");
				done = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			cfg_error_at(p, (unsigned)e.start_mark.line + 1, (unsigned)e.start_mark.column + 1,
				     "aliases (*%s) are not supported; write the value out in full",
				     cfg_shown((const char *)e.data.alias.anchor, buf, sizeof(buf)));
			/* a placeholder keeps keys and values paired */
			n = node_new(p, CFG_NODE_SCALAR, &e.start_mark);
			if (n) {
				n->str = strdup("");
				n->plain = true;
				if (!n->str)
					p->oom = true;
			}
			break;
		case YAML_SCALAR_EVENT:
			check_props(p, &e.start_mark, e.data.scalar.anchor, e.data.scalar.tag);
			n = node_new(p, CFG_NODE_SCALAR, &e.start_mark);
			if (!n)
				break;
			n->plain = e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			n->str = strndup((const char *)e.data.scalar.value, e.data.scalar.length);
			if (!n->str)
				p->oom = true;
			else if (strlen(n->str) != e.data.scalar.length)
				cfg_node_error(p, n, "the value contains a NUL character");
			break;
		case YAML_SEQUENCE_START_EVENT:
			check_props(p, &e.start_mark, e.data.sequence_start.anchor,
				    e.data.sequence_start.implicit ? NULL : e.data.sequence_start.tag);
			n = node_new(p, CFG_NODE_SEQ, &e.start_mark);
			break;
		case YAML_MAPPING_START_EVENT:
			check_props(p, &e.start_mark, e.data.mapping_start.anchor,
				    e.data.mapping_start.implicit ? NULL : e.data.mapping_start.tag);
			n = node_new(p, CFG_NODE_MAP, &e.start_mark);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0) {
				depth--;
				if (stack[depth]->kind == CFG_NODE_MAP)
					check_keys(p, stack[depth]);
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&e);
		if (p->oom) {
			cfg_node_free(n);
			break;
		}
		if (!n)
			continue;
		if (depth > 0) {
			if (node_add(p, stack[depth - 1], n) < 0) {
				cfg_node_free(n);
				break;
			}
		} else if (!root) {
			root = n;
		} else {
			cfg_node_free(n); /* cannot happen: one root per document */
			continue;
		}
		if (n->kind != CFG_NODE_SCALAR) {
			if (depth == MAX_DEPTH) {
				cfg_node_error(p, n, "values are nested too deeply (more than %d levels)",
					       MAX_DEPTH);
				*syntax_error = true;
				break;
			}
			stack[depth++] = n;
		}
	}
	yaml_parser_delete(&y);
	if (p->oom) {
		cfg_node_free(root);
		return NULL;
	}
	return root;
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

/* A string; `empty_ok`: "" is accepted. The result is owned by the config. */
static const char *cfg_get_str(struct cfg_parse *p, const char *key, const struct cfg_node *v, bool empty_ok)
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

	if (v->kind == CFG_NODE_SCALAR && !cfg_is_null(v) && (strchr(v->str, '/') || !strcmp(v->str, ".") ||
						      !strcmp(v->str, ".."))) {
		cfg_node_error(p, v, "key '%s': expected a file name without '/' (CRIU writes its log "
				     "in the images directory), got %s",
			       key, cfg_describe(v, buf, sizeof(buf)));
		return NULL;
	}
	return cfg_get_str(p, key, v, false);
}

static bool cfg_get_duration(struct cfg_parse *p, const char *key, const struct cfg_node *v, unsigned *ms)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	crpc_error *e = NULL;

	if (v->kind != CFG_NODE_SCALAR || cfg_is_null(v)) {
		cfg_node_error(p, v, "key '%s': expected a duration such as 500ms, 2s, 1m or 1h, got %s",
			       key, cfg_describe(v, buf, sizeof(buf)));
		return false;
	}
	if (crpc_parse_duration(v->str, ms, &e) == 0)
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
	if (crpc_parse_size(v->str, max, out, &e) == 0)
		return true;
	cfg_node_error(p, v, "key '%s': %s", key, e && e->message ? e->message : "invalid size");
	crpc_error_free(e);
	return false;
}

/* One of a fixed set of words (plain or quoted); index or -1. */
static int cfg_get_word(struct cfg_parse *p, const char *key, const struct cfg_node *v,
			const char *const *words, size_t n, const char *expected)
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
		cfg_node_error(p, v, "key '%s': expected a list of strings, got %s (write [\"...\"] or "
				     "'- ...' items)", key, cfg_describe(v, buf, sizeof(buf)));
		return -1;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cfg_node *it = v->kids[i];
		const char *s;

		if (it->kind != CFG_NODE_SCALAR || cfg_is_null(it) || !it->str[0]) {
			cfg_node_error(p, it, "key '%s', item %zu: expected a non-empty string, got %s",
				       key, i + 1, cfg_describe(it, buf, sizeof(buf)));
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

/*
 * Look a key up in a table whose entries start with the name. Unknown keys
 * are reported with a suggestion; `what` names the mapping ("criu", "a hook
 * step"; NULL: the top level, whose keys are sections), `list` names the
 * valid keys.
 */
static int cfg_lookup(struct cfg_parse *p, const struct cfg_node *k, const void *tab, size_t n, size_t stride,
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

/* A section or other mapping: an empty value is an empty mapping. */
static bool cfg_want_map(struct cfg_parse *p, const char *what, const struct cfg_node *v, const char *expected)
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
} shim_keys[] = { { "trace_dir" },	    { "trace" },		{ "trace_max_files" },
		  { "trace_max_total" },    { "trace_max_file_size" }, { "verbose" } };

#define SHIM_KEY_LIST                                                                          \
	"trace_dir, trace, trace_max_files, trace_max_total, trace_max_file_size, verbose"

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
					cfg_node_error(p, v, "key 'trace_max_total': at least 4K, got %ju bytes",
						       (uintmax_t)size);
				else
					p->c->shim_trace_max_total = size;
			}
			break;
		case 4:
			if (get_size(p, "trace_max_file_size", v, UINT64_MAX / 2, &size)) {
				if (size < 4096)
					cfg_node_error(p, v, "key 'trace_max_file_size': at least 4K, got %ju bytes",
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

/* ------------------------------------------------------------------------ */
/* dump: and restore:                                                       */

#define OP_DUMP 1u
#define OP_RESTORE 2u
#define OP_BOTH (OP_DUMP | OP_RESTORE)

enum opt_type {
	OT_BOOL,      /* bool field */
	OT_STR,       /* const char * field */
	OT_STRV,      /* crpc_strv field */
	OT_LOG_LEVEL,
	OT_LOG_FILE,
	OT_GHOST_LIMIT,
	OT_TIMEOUT,
	OT_CG_MODE,
	OT_NETLOCK,
	OT_EMPTY_NS,
	OT_EXTERNAL,
	OT_INHERIT_FD,
	OT_CG_ROOT,
};

struct opt_key {
	const char *name;
	unsigned ops;
	enum opt_type type;
	size_t off;
};

#define KEY(field, ops, type) { #field, ops, type, offsetof(crpc_opts, field) }

static const struct opt_key opt_keys[] = {
	KEY(leave_running, OP_DUMP, OT_BOOL),
	KEY(leave_stopped, OP_BOTH, OT_BOOL),
	KEY(tcp_established, OP_BOTH, OT_BOOL),
	KEY(tcp_close, OP_BOTH, OT_BOOL),
	KEY(tcp_skip_in_flight, OP_DUMP, OT_BOOL),
	KEY(ext_unix_sk, OP_BOTH, OT_BOOL),
	KEY(shell_job, OP_BOTH, OT_BOOL),
	KEY(file_locks, OP_BOTH, OT_BOOL),
	KEY(link_remap, OP_BOTH, OT_BOOL),
	KEY(evasive_devices, OP_DUMP, OT_BOOL),
	KEY(orphan_pts_master, OP_RESTORE, OT_BOOL),
	KEY(skip_file_rwx_check, OP_RESTORE, OT_BOOL),
	KEY(ghost_limit, OP_DUMP, OT_GHOST_LIMIT),
	KEY(manage_cgroups, OP_BOTH, OT_BOOL),
	KEY(manage_cgroups_mode, OP_BOTH, OT_CG_MODE),
	KEY(network_lock, OP_BOTH, OT_NETLOCK),
	KEY(timeout, OP_BOTH, OT_TIMEOUT),
	KEY(root, OP_RESTORE, OT_STR),
	KEY(external, OP_BOTH, OT_EXTERNAL),
	KEY(skip_mnt, OP_DUMP, OT_STRV),
	KEY(enable_fs, OP_DUMP, OT_STRV),
	KEY(irmap_scan_paths, OP_DUMP, OT_STRV),
	KEY(cgroup_dump_controller, OP_DUMP, OT_STRV),
	KEY(inherit_fd, OP_RESTORE, OT_INHERIT_FD),
	KEY(cg_root, OP_BOTH, OT_CG_ROOT),
	KEY(auto_ext_mnt, OP_BOTH, OT_BOOL),
	KEY(ext_sharing, OP_BOTH, OT_BOOL),
	KEY(ext_masters, OP_BOTH, OT_BOOL),
	KEY(force_irmap, OP_DUMP, OT_BOOL),
	KEY(weak_sysctls, OP_RESTORE, OT_BOOL),
	KEY(auto_dedup, OP_BOTH, OT_BOOL),
	KEY(mntns_compat_mode, OP_RESTORE, OT_BOOL),
	KEY(empty_ns, OP_BOTH, OT_EMPTY_NS),
	KEY(parent_img, OP_DUMP, OT_STR),
	KEY(lsm_profile, OP_RESTORE, OT_STR),
	KEY(lsm_mount_context, OP_RESTORE, OT_STR),
	KEY(cgroup_props, OP_DUMP, OT_STR),
	KEY(cgroup_props_file, OP_DUMP, OT_STR),
	KEY(cgroup_yard, OP_BOTH, OT_STR),
	KEY(freeze_cgroup, OP_DUMP, OT_STR),
	KEY(log_level, OP_BOTH, OT_LOG_LEVEL),
	KEY(log_file, OP_BOTH, OT_LOG_FILE),
};

#define N_OPT_KEYS (sizeof(opt_keys) / sizeof(opt_keys[0]))

static bool opt_key_in(const void *entry, const void *arg)
{
	return ((const struct opt_key *)entry)->ops & *(const unsigned *)arg;
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
		cfg_node_error(p, v, "key 'inherit_fd': expected a list of {key: ..., fd: N} mappings, "
				     "got %s", cfg_describe(v, buf, sizeof(buf)));
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cfg_node *it = v->kids[i];
		const char *key = NULL;
		unsigned fd = 0;
		bool seen_key = false, seen_fd = false, ok = true;

		if (it->kind != CFG_NODE_MAP) {
			cfg_node_error(p, it, "key 'inherit_fd', item %zu: expected a mapping {key: "
					      "RESOURCE, fd: N}, got %s", i + 1, cfg_describe(it, buf, sizeof(buf)));
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
		cfg_node_error(p, v, "key 'cg_root': expected a list of {ctrl: ..., path: ...} mappings, "
				     "got %s", cfg_describe(v, buf, sizeof(buf)));
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cfg_node *it = v->kids[i];
		const char *ctrl = NULL, *path = NULL;
		bool seen_path = false, ok = true;

		if (it->kind != CFG_NODE_MAP) {
			cfg_node_error(p, it, "key 'cg_root', item %zu: expected a mapping {ctrl: "
					      "CONTROLLER, path: PATH}, got %s", i + 1,
				       cfg_describe(it, buf, sizeof(buf)));
			continue;
		}
		for (size_t j = 0; j + 1 < it->n; j += 2) {
			const struct cfg_node *k = it->kids[j], *val = it->kids[j + 1];

			switch (cfg_lookup(p, k, cg_root_keys, 2, sizeof(cg_root_keys[0]),
				       "a cg_root item", "ctrl, path")) {
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
static bool want_scalar(struct cfg_parse *p, const char *key, const struct cfg_node *v,
			const char *expected)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (v->kind == CFG_NODE_SCALAR && !cfg_is_null(v))
		return true;
	cfg_node_error(p, v, "key '%s': expected %s, got %s", key, expected,
		       cfg_describe(v, buf, sizeof(buf)));
	return false;
}

static void parse_opt(struct cfg_parse *p, crpc_opts *o, const struct opt_key *key,
		      const struct cfg_node *v)
{
	char *base = (char *)o;
	char buf[CFG_SHOWN_MAX * 4 + 32];
	crpc_error *e = NULL;
	unsigned u;
	uint64_t size;
	bool b;
	const char *s;

	switch (key->type) {
	case OT_BOOL:
		if (get_bool(p, key->name, v, &b))
			memcpy(base + key->off, &b, sizeof(b));
		break;
	case OT_STR:
		s = cfg_get_str(p, key->name, v, false);
		if (s)
			memcpy(base + key->off, &s, sizeof(s));
		break;
	case OT_STRV:
		get_list(p, key->name, v, add_strv, base + key->off);
		break;
	case OT_EXTERNAL:
		get_list(p, key->name, v, add_external, o);
		break;
	case OT_LOG_LEVEL:
		if (get_uint(p, key->name, v, 0, 4, &u))
			o->log_level = (int)u;
		break;
	case OT_LOG_FILE:
		s = get_log_file(p, key->name, v);
		if (s)
			o->log_file = s;
		break;
	case OT_GHOST_LIMIT:
		if (get_size(p, key->name, v, UINT32_MAX, &size)) {
			o->ghost_limit = (uint32_t)size;
			o->ghost_limit_set = true;
		}
		break;
	case OT_TIMEOUT:
		/* CRIU takes whole seconds: round up so that 500ms does not mean "default" */
		if (cfg_get_duration(p, key->name, v, &u))
			o->timeout = u / 1000 + (u % 1000 ? 1 : 0);
		break;
	case OT_CG_MODE:
		if (!want_scalar(p, key->name, v, "none, props, soft, full, strict, ignore or "
						  "default"))
			break;
		if (crpc_parse_cg_mode(v->str, &o->manage_cgroups_mode, &e) < 0)
			cfg_node_error(p, v, "key '%s': %s", key->name, e && e->message ? e->message : "?");
		break;
	case OT_NETLOCK:
		if (!want_scalar(p, key->name, v, "iptables, nftables or skip"))
			break;
		if (crpc_parse_network_lock(v->str, &o->network_lock, &e) < 0)
			cfg_node_error(p, v, "key '%s': %s", key->name, e && e->message ? e->message : "?");
		break;
	case OT_EMPTY_NS:
		if (v->kind == CFG_NODE_SCALAR && strcmp(v->str, "net") == 0)
			o->empty_ns = CLONE_NEWNET;
		else if (bool_word(v, &b) && !b)
			o->empty_ns = 0;
		else
			cfg_node_error(p, v, "key 'empty_ns': expected net or false, got %s",
				       cfg_describe(v, buf, sizeof(buf)));
		break;
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
		const struct opt_key *key = NULL;
		const char *best;

		if (k->kind != CFG_NODE_SCALAR)
			continue; /* reported by check_keys() */
		for (size_t j = 0; j < N_OPT_KEYS && !key; j++)
			if (strcmp(k->str, opt_keys[j].name) == 0)
				key = &opt_keys[j];
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
		best = cfg_closest(k->str, opt_keys, N_OPT_KEYS, sizeof(opt_keys[0]), opt_key_in, &op);
		if (best)
			cfg_node_error(p, k, "unknown key '%s' in %s: did you mean '%s'?",
				       cfg_shown(k->str, buf, sizeof(buf)), section, best);
		else
			cfg_node_error(p, k, "unknown key '%s' in %s (see crpc.yaml(5) for the valid keys)",
				       cfg_shown(k->str, buf, sizeof(buf)), section);
	}
}

/* ------------------------------------------------------------------------ */
/* hooks:                                                                   */

static const char *const step_keys[] = { "run", "shell", "timeout", "on_failure", "env", "cwd",
					 "name" };
enum { SK_RUN, SK_SHELL, SK_TIMEOUT, SK_ON_FAILURE, SK_ENV, SK_CWD, SK_NAME };

static const char *const on_failure_words[] = { "abort", "warn", "ignore" };

/* When root, a run: program given by absolute path must be safe to run. */
static void check_exec(struct cfg_parse *p, const struct cfg_node *arg0)
{
	struct stat st;

	if (!p->secure || arg0->str[0] != '/' || stat(arg0->str, &st) < 0)
		return; /* relative or missing: the runner reports it when it runs */
	if (st.st_uid != 0)
		cfg_node_error(p, arg0, "run: '%s' is owned by uid %u, not root; refusing to run it as "
					"root (like sudo and ssh): chown root %s",
			       arg0->str, (unsigned)st.st_uid, arg0->str);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		cfg_node_error(p, arg0, "run: '%s' is writable by group/others; refusing to run it as "
					"root (like sudo and ssh): chmod go-w %s",
			       arg0->str, arg0->str);
}

/* run: [PROGRAM, ARGS...] into an owned NULL-terminated argv. */
static char **parse_run(struct cfg_parse *p, const struct cfg_node *v)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	char **argv;
	bool ok = true;

	if (v->kind != CFG_NODE_SEQ) {
		cfg_node_error(p, v, "key 'run': expected a list of strings (the program and its "
				     "arguments, run without a shell), got %s; write run: [PROGRAM, "
				     "ARG...], or use shell: for a command line",
			       cfg_describe(v, buf, sizeof(buf)));
		return NULL;
	}
	if (v->n == 0) {
		cfg_node_error(p, v, "key 'run': the list is empty; it needs at least the program to run");
		return NULL;
	}
	argv = cfg_own_alloc(p->c, (v->n + 1) * sizeof(*argv));
	if (!argv) {
		p->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cfg_node *it = v->kids[i];

		if (it->kind != CFG_NODE_SCALAR || (cfg_is_null(it) && i == 0) || (i == 0 && !it->str[0])) {
			cfg_node_error(p, it, "key 'run', item %zu: expected %s, got %s", i + 1,
				       i == 0 ? "the program to run" : "a string",
				       cfg_describe(it, buf, sizeof(buf)));
			ok = false;
			continue;
		}
		argv[i] = cfg_keep(p, it->str);
		if (!argv[i])
			return NULL;
	}
	if (ok)
		check_exec(p, v->kids[0]);
	return ok ? argv : NULL;
}

/* env: {NAME: VALUE} into an owned NULL-terminated array of "NAME=VALUE". */
static char **parse_env(struct cfg_parse *p, const struct cfg_node *v)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];
	char **env;
	size_t n = 0;

	if (cfg_is_null(v))
		return NULL;
	if (v->kind != CFG_NODE_MAP) {
		cfg_node_error(p, v, "key 'env': expected a mapping of variable names to values "
				     "(NAME: value), got %s", cfg_describe(v, buf, sizeof(buf)));
		return NULL;
	}
	env = cfg_own_alloc(p->c, (v->n / 2 + 1) * sizeof(*env));
	if (!env) {
		p->oom = true;
		return NULL;
	}
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct cfg_node *k = v->kids[i], *val = v->kids[i + 1];

		if (k->kind != CFG_NODE_SCALAR)
			continue; /* reported by check_keys() */
		if (!env_name_ok(k->str)) {
			cfg_node_error(p, k, "env: '%s' is not a valid variable name (letters, digits and "
					     "'_', not starting with a digit)", cfg_shown(k->str, buf, sizeof(buf)));
			continue;
		}
		if (val->kind != CFG_NODE_SCALAR || cfg_is_null(val)) {
			cfg_node_error(p, val, "env: %s: expected a string, got %s (write \"\" for an "
					       "empty value)", k->str, cfg_describe(val, buf, sizeof(buf)));
			continue;
		}
		env[n] = cfg_own_printf(p->c, "%s=%s", k->str, val->str);
		if (!env[n++]) {
			p->oom = true;
			return NULL;
		}
	}
	return env;
}

static void parse_step(struct cfg_parse *p, crpc_notify_kind kind, size_t index, const struct cfg_node *v)
{
	const char *cb = crpc_notify_kind_name(kind);
	char buf[CFG_SHOWN_MAX * 4 + 32];
	const struct cfg_node *run = NULL, *shell = NULL;
	crpc_hook_step s = { 0 };
	bool ok = true;
	int w;

	if (v->kind != CFG_NODE_MAP) {
		if (v->kind == CFG_NODE_SCALAR && !cfg_is_null(v))
			cfg_node_error(p, v, "%s step %zu: expected a mapping with run: or shell:, got %s; "
					     "for a command line write shell: \"...\"",
				       cb, index + 1, cfg_describe(v, buf, sizeof(buf)));
		else
			cfg_node_error(p, v, "%s step %zu: expected a mapping with run: or shell:, got %s",
				       cb, index + 1, cfg_describe(v, buf, sizeof(buf)));
		return;
	}
	s.timeout_ms = CRPC_HOOK_DEFAULT_TIMEOUT_MS;
	s.on_failure = CRPC_ON_FAILURE_DEFAULT;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct cfg_node *k = v->kids[i], *val = v->kids[i + 1];

		switch (cfg_lookup(p, k, step_keys, 7, sizeof(step_keys[0]), "a hook step",
			       "run, shell, timeout, on_failure, env, cwd, name")) {
		case SK_RUN:
		case SK_SHELL:
			if (run || shell) {
				cfg_node_error(p, k, "a step takes either run: or shell:, not both");
				ok = false;
				break;
			}
			if (strcmp(k->str, "run") == 0) {
				run = val;
				s.kind = CRPC_STEP_RUN;
				s.argv = parse_run(p, val);
				ok = ok && s.argv;
			} else {
				shell = val;
				s.kind = CRPC_STEP_SHELL;
				s.shell = (char *)cfg_get_str(p, "shell", val, false);
				ok = ok && s.shell;
			}
			break;
		case SK_TIMEOUT:
			if (!cfg_get_duration(p, "timeout", val, &s.timeout_ms)) {
				ok = false;
			} else if (s.timeout_ms == 0) {
				cfg_node_error(p, val, "key 'timeout': must be more than 0 (the step is "
						       "killed when it expires)");
				ok = false;
			}
			break;
		case SK_ON_FAILURE:
			w = cfg_get_word(p, "on_failure", val, on_failure_words, 3,
					 "abort, warn or ignore");
			if (w >= 0)
				s.on_failure = (crpc_on_failure)(CRPC_ON_FAILURE_ABORT + w);
			ok = ok && w >= 0;
			break;
		case SK_ENV:
			s.env = parse_env(p, val);
			break;
		case SK_CWD:
			s.cwd = (char *)cfg_get_str(p, "cwd", val, false);
			ok = ok && s.cwd;
			break;
		case SK_NAME:
			s.name = (char *)cfg_get_str(p, "name", val, false);
			ok = ok && s.name;
			break;
		default:
			ok = false;
			break;
		}
	}
	if (!run && !shell) {
		cfg_node_error(p, v, "%s step %zu has neither run: nor shell:; add run: [PROGRAM, "
				     "ARG...] or shell: \"COMMAND\"", cb, index + 1);
		return;
	}
	if (!ok || p->oom)
		return;
	if (!s.name)
		s.name = cfg_own_printf(p->c, "%s[%zu]", cb, index + 1);
	s.origin = cfg_own_printf(p->c, "%s:%u:%u", p->name, v->line, v->col);
	if (!s.name || !s.origin || cfg_step_append(p->c, kind, &s) < 0)
		p->oom = true;
}

static void cfg_parse_hooks(struct cfg_parse *p, const struct cfg_node *sec)
{
	char list[512], buf[CFG_SHOWN_MAX * 4 + 32];

	if (!cfg_want_map(p, "section 'hooks'", sec, "a mapping of callback names to lists of steps"))
		return;
	callback_list(list, sizeof(list));
	for (size_t i = 0; i + 1 < sec->n; i += 2) {
		const struct cfg_node *k = sec->kids[i], *v = sec->kids[i + 1];
		crpc_notify_kind kind;
		const char *best;

		if (k->kind != CFG_NODE_SCALAR)
			continue; /* reported by check_keys() */
		kind = crpc_notify_kind_from_name(k->str);
		if (kind == CRPC_NOTIFY_UNKNOWN) {
			const char *names[CRPC_NOTIFY__COUNT - 1];

			for (int j = 1; j < CRPC_NOTIFY__COUNT; j++)
				names[j - 1] = crpc_notify_kind_name((crpc_notify_kind)j);
			best = cfg_closest(k->str, names, CRPC_NOTIFY__COUNT - 1, sizeof(names[0]), NULL,
					   NULL);
			if (best)
				cfg_node_error(p, k, "unknown callback '%s' in hooks: did you mean '%s'? The "
						     "callbacks are: %s", cfg_shown(k->str, buf, sizeof(buf)),
					       best, list);
			else
				cfg_node_error(p, k, "unknown callback '%s' in hooks; the callbacks are: %s",
					       cfg_shown(k->str, buf, sizeof(buf)), list);
			continue;
		}
		if (cfg_is_null(v))
			continue;
		if (v->kind != CFG_NODE_SEQ) {
			cfg_node_error(p, v, "callback '%s': expected a list of steps (each starting with "
					     "'- '), got %s", k->str, cfg_describe(v, buf, sizeof(buf)));
			continue;
		}
		for (size_t j = 0; j < v->n; j++)
			parse_step(p, kind, j, v->kids[j]);
	}
}

/* ------------------------------------------------------------------------ */
/* the whole file                                                           */

static const struct {
	const char *name;
} sections[] = { { "criu" }, { "dump" }, { "restore" }, { "hooks" }, { "shim" } };

static void cfg_parse_root(struct cfg_parse *p, const struct cfg_node *root)
{
	char buf[CFG_SHOWN_MAX * 4 + 32];

	if (root->kind != CFG_NODE_MAP) {
		/* an empty document is reported where it starts, not on the next line */
		cfg_error_at(p, cfg_is_null(root) ? p->doc_line : root->line,
			     cfg_is_null(root) ? p->doc_col : root->col,
			     "the top level must be a mapping of sections (criu, dump, restore, hooks, "
			     "shim), got %s",
			     cfg_is_null(root) ? "an empty document" : cfg_describe(root, buf, sizeof(buf)));
		return;
	}
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct cfg_node *k = root->kids[i], *v = root->kids[i + 1];

		switch (cfg_lookup(p, k, sections, 5, sizeof(sections[0]), NULL,
			       "criu, dump, restore, hooks, shim")) {
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
		default:
			break;
		}
	}
}

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
		crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL, "%s:%u:%u: %s", name, p.eline, p.ecol,
			       p.emsg);
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
	if (st->st_uid != 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "%s is owned by uid %u, not root; refusing it when running as "
				      "root (like sudo and ssh): chown root %s",
				      path, (unsigned)st->st_uid, path);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "%s is writable by group/others; refusing it when running as "
				      "root (like sudo and ssh): chmod go-w %s",
				      path, path);
	return 0;
}

/* Read at most CRPC_CONFIG_MAX_SIZE bytes; *len is that + 1 if there is more. */
static int read_bounded(int fd, const char *path, char **out, size_t *len, crpc_error **err)
{
	size_t cap = CRPC_CONFIG_MAX_SIZE + 1, used = 0;
	char *buf = malloc(cap);

	if (!buf)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, NULL, "%s: out of memory", path);
	while (used < cap) {
		ssize_t n = read(fd, buf + used, cap - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return crpc_error_set(err, CRPC_EXIT_USAGE, e, NULL, "cannot read %s", path);
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	*out = buf;
	*len = used;
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
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, NULL,
				      "cannot open configuration file %s", path);
	if (fstat(fd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, NULL, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode))
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL, "%s is %s, not a regular file",
				      path, S_ISDIR(st.st_mode) ? "a directory" : "a special file");
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

CRPC_API int crpc_config_locate(const crpc_config_source *src, char *buf, size_t bufsz,
				crpc_error **err)
{
	const char *env, *home;
	struct stat st;
	int r;

	if (!buf || !bufsz)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, NULL, "no buffer for the path");
	if (!src || src->explicit_path != buf)
		buf[0] = '\0';
	if (src && src->none && src->explicit_path)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "--config and --no-config cannot be used together");
	if (src && src->none)
		return 0;
	if (src && src->explicit_path) {
		if (!*src->explicit_path)
			return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
					      "--config: the path is empty");
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

/* ------------------------------------------------------------------------ */
/* --hook CALLBACK=COMMAND                                                  */

CRPC_API int crpc_config_add_hook_arg(crpc_config *c, const char *arg, crpc_error **err)
{
	char list[512], name[64], buf[CFG_SHOWN_MAX * 4 + 16];
	const char *eq, *cmd, *best, *names[CRPC_NOTIFY__COUNT - 1];
	crpc_hook_step s = { 0 };
	crpc_notify_kind kind;
	size_t n;

	callback_list(list, sizeof(list));
	eq = arg ? strchr(arg, '=') : NULL;
	if (!eq || eq == arg)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "--hook '%s': expected CALLBACK=COMMAND, e.g. --hook "
				      "post-dump='echo done'; the callbacks are: %s",
				      arg ? cfg_shown(arg, buf, sizeof(buf)) : "", list);
	n = (size_t)(eq - arg);
	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), arg);
	kind = n < sizeof(name) ? crpc_notify_kind_from_name(name) : CRPC_NOTIFY_UNKNOWN;
	if (kind == CRPC_NOTIFY_UNKNOWN) {
		for (int j = 1; j < CRPC_NOTIFY__COUNT; j++)
			names[j - 1] = crpc_notify_kind_name((crpc_notify_kind)j);
		best = cfg_closest(name, names, CRPC_NOTIFY__COUNT - 1, sizeof(names[0]), NULL, NULL);
		if (best)
			return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
					      "--hook: unknown callback '%s': did you mean '%s'? "
					      "The callbacks are: %s",
					      cfg_shown(name, buf, sizeof(buf)), best, list);
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "--hook: unknown callback '%s'; the callbacks are: %s",
				      cfg_shown(name, buf, sizeof(buf)), list);
	}
	cmd = eq + 1;
	while (isspace((unsigned char)*cmd))
		cmd++;
	if (!*cmd)
		return crpc_error_set(err, CRPC_EXIT_USAGE, 0, NULL,
				      "--hook %s: the command is empty", name);
	s.kind = CRPC_STEP_SHELL;
	s.timeout_ms = CRPC_HOOK_DEFAULT_TIMEOUT_MS;
	s.on_failure = CRPC_ON_FAILURE_DEFAULT;
	s.shell = cfg_own_strdup(c, eq + 1);
	s.origin = cfg_own_strdup(c, "--hook");
	s.name = cfg_own_printf(c, "%s[%zu]", name, c->hooks.n_steps[kind] + 1);
	if (!s.shell || !s.origin || !s.name || cfg_step_append(c, kind, &s) < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, NULL, "--hook: out of memory");
	return 0;
}
