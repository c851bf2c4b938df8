/* SPDX-License-Identifier: MIT */
/*
 * config_yaml.c - the configuration's text into a tree of our own nodes:
 * checks of the raw text (NUL bytes, UTF-8), then libyaml's events, with
 * anchors, aliases, tags and second documents refused. Problems are
 * recorded at their line and column; the first in the file is reported.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "crpc/config.h"
#include "config_int.h"
#include "internal.h"

/* Nesting deeper than this is refused (the schema needs five levels). */
#define MAX_DEPTH 32

/* ------------------------------------------------------------------------ */
/* messages                                                                 */

const char *cfg_shown(const char *s, char *buf, size_t bufsz)
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

/* ------------------------------------------------------------------------ */
/* the document tree                                                        */

void cfg_node_free(struct cfg_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		cfg_node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

bool cfg_is_null(const struct cfg_node *n)
{
	return n->kind == CFG_NODE_SCALAR && n->plain &&
	       (!n->str[0] || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
		strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

const char *cfg_describe(const struct cfg_node *n, char *buf, size_t bufsz)
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

void cfg_error_at(struct cfg_parse *p, unsigned line, unsigned col, const char *fmt, ...)
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

char *cfg_keep(struct cfg_parse *p, const char *s)
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

int cfg_check_text(struct cfg_parse *p)
{
	const unsigned char *s = (const unsigned char *)p->text;
	unsigned line, col;

	for (size_t i = 0; i < p->len;) {
		size_t n;

		if (s[i] == 0) {
			offset_pos(p, i, &line, &col);
			cfg_error_at(p, line, col,
				     "NUL byte: this looks like a binary file, not a YAML "
				     "configuration");
			return -1;
		}
		n = utf8_len(s + i, p->len - i);
		if (!n) {
			offset_pos(p, i, &line, &col);
			cfg_error_at(p, line, col,
				     "invalid UTF-8 (byte 0x%02x): the configuration must "
				     "be UTF-8 text",
				     s[i]);
			return -1;
		}
		i += n;
	}
	return 0;
}

bool cfg_only_blanks(const struct cfg_parse *p)
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
	if (ARRAY_GROW(parent->kids, &parent->cap, parent->n + 1, 8) < 0) {
		p->oom = true;
		return -1;
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
			cfg_node_error(p, k, "keys must be strings, got %s",
				       cfg_describe(k, buf, sizeof(buf)));
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
	for (unsigned c = 1; off < p->len && (p->text[off] == ' ' || p->text[off] == '\t'); off++, c++) {
		if (p->text[off] == '\t') {
			cfg_error_at(p, line, c, "tabs are not allowed for indentation; indent with spaces");
			return;
		}
	}
	off = pos_offset(p, line, col);
	if (off < p->len && p->text[off] == '\t') {
		cfg_error_at(p, line, col,
			     "tab character: tabs are not allowed for indentation or "
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
		cfg_error_at(p, line, col,
			     "anchors and aliases (&%s, *%s) are not supported; write "
			     "the value out in full",
			     cfg_shown((const char *)anchor, buf, sizeof(buf)), buf);
	else if (tag && strncmp((const char *)tag, "tag:yaml.org,2002:", 18) == 0)
		cfg_error_at(p, line, col, "YAML tags (!!%s) are not supported",
			     cfg_shown((const char *)tag + 18, buf, sizeof(buf)));
	else if (tag)
		cfg_error_at(p, line, col, "YAML tags (%s) are not supported",
			     cfg_shown((const char *)tag, buf, sizeof(buf)));
}

struct cfg_node *cfg_build_tree(struct cfg_parse *p, bool *syntax_error)
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
