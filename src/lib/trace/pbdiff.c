/* SPDX-License-Identifier: MIT */
/*
 * pbdiff.c - a field-by-field compare of two protobuf-c messages.
 *
 * One recursive walk over ProtobufCMessageDescriptor serves every message
 * type of proto/rpc.proto: nothing here knows a field by name. The walk
 * stops at the first difference and describes it with the field's path
 * and both values rendered as text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "pbdiff.h"

/* ---- bounded text ---- */

typedef struct text {
	char *buf;
	size_t size;
	size_t len;
	bool cut;
} text;

static void text_init(text *t, char *buf, size_t size)
{
	t->buf = buf;
	t->size = size;
	t->len = 0;
	t->cut = false;
	buf[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= t->size - t->len) {
		/* does not fit: end the text with "..." */
		t->cut = true;
		t->len = t->size - 1;
		if (t->size > 4)
			memcpy(t->buf + t->size - 4, "...", 4);
		return;
	}
	t->len += (size_t)n;
}

/* ---- field access ---- */

static void repeated(const ProtobufCFieldDescriptor *f, const char *base, size_t *n, const char **arr)
{
	memcpy(n, base + f->quantifier_offset, sizeof(*n));
	memcpy(arr, base + f->offset, sizeof(*arr));
	if (!*arr)
		*n = 0;
}

/* ---- rendering values ---- */

static void render_message(text *t, const ProtobufCMessage *m, unsigned depth);

static void render_string(text *t, const char *s)
{
	put(t, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p && !t->cut; p++) {
		if (*p == '"' || *p == '\\')
			put(t, "\\%c", *p);
		else if (*p == '\n')
			put(t, "\\n");
		else if (*p == '\t')
			put(t, "\\t");
		else if (*p < 0x20 || *p >= 0x7f)
			put(t, "\\x%02x", *p);
		else
			put(t, "%c", *p);
	}
	put(t, "\"");
}

static void render_bytes(text *t, const uint8_t *p, size_t len)
{
	put(t, "%zu byte%s", len, len == 1 ? "" : "s");
	if (len)
		put(t, ":");
	for (size_t i = 0; i < len && i < 32; i++)
		put(t, " %02x", p[i]);
	if (len > 32)
		put(t, " ...");
}

static void render_value(text *t, const ProtobufCFieldDescriptor *f, const void *p, unsigned depth)
{
	crpc__pb_num v;

	if (crpc__pb_number(f, p, &v)) {
		const ProtobufCEnumValue *ev;

		if (f->type == PROTOBUF_C_TYPE_ENUM) {
			ev = protobuf_c_enum_descriptor_get_value(f->descriptor, (int)v.i);
			if (ev)
				put(t, "%s", ev->name);
			else
				put(t, "%lld (not a value of %s)", (long long)v.i,
				    ((const ProtobufCEnumDescriptor *)f->descriptor)->name);
			return;
		}
		switch (v.kind) {
		case CRPC__PB_SIGNED:
			put(t, "%lld", (long long)v.i);
			break;
		case CRPC__PB_UNSIGNED:
			put(t, "%llu", (unsigned long long)v.u);
			break;
		case CRPC__PB_REAL:
			put(t, "%g", v.d);
			break;
		case CRPC__PB_BOOL:
			put(t, "%s", v.i ? "true" : "false");
			break;
		}
		return;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s;

		memcpy(&s, p, sizeof(s));
		if (s)
			render_string(t, s);
		else
			put(t, "(null)");
		return;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData b;

		memcpy(&b, p, sizeof(b));
		render_bytes(t, b.data, b.len);
		return;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub;

		memcpy(&sub, p, sizeof(sub));
		if (sub)
			render_message(t, sub, depth + 1);
		else
			put(t, "(null)");
		return;
	}
	default: /* the numbers, above */
		break;
	}
}

static void render_array(text *t, const ProtobufCFieldDescriptor *f, const char *arr, size_t n,
			 unsigned depth)
{
	size_t sz = crpc__pb_elem_size(f->type);

	put(t, "[");
	for (size_t k = 0; k < n && !t->cut; k++) {
		if (k)
			put(t, ", ");
		render_value(t, f, arr + k * sz, depth);
	}
	put(t, "]");
}

static const char *wire_type_name(ProtobufCWireType w)
{
	switch (w) {
	case PROTOBUF_C_WIRE_TYPE_VARINT:
		return "varint";
	case PROTOBUF_C_WIRE_TYPE_64BIT:
		return "64-bit";
	case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
		return "length-delimited";
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		return "32-bit";
	}
	return "?";
}

static void render_unknown(text *t, const ProtobufCMessageUnknownField *u)
{
	put(t, "unknown field %u (%s, ", (unsigned)u->tag, wire_type_name(u->wire_type));
	render_bytes(t, u->data, u->len);
	put(t, ")");
}

/* A whole message on one line: {name: value, ...} with the fields set. */
static void render_message(text *t, const ProtobufCMessage *m, unsigned depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	bool first = true;

	if (depth > 8) {
		put(t, "{...}");
		return;
	}
	put(t, "{");
	for (unsigned i = 0; i < d->n_fields && !t->cut; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n;
			const char *arr;

			repeated(f, base, &n, &arr);
			if (!n)
				continue;
			put(t, "%s%s: ", first ? "" : ", ", f->name);
			render_array(t, f, arr, n, depth);
		} else if (crpc__pb_field_present(f, base)) {
			put(t, "%s%s: ", first ? "" : ", ", f->name);
			render_value(t, f, base + f->offset, depth);
		} else {
			continue;
		}
		first = false;
	}
	for (unsigned i = 0; i < m->n_unknown_fields && !t->cut; i++) {
		put(t, "%s", first ? "" : ", ");
		render_unknown(t, &m->unknown_fields[i]);
		first = false;
	}
	put(t, "}");
}

/* ---- paths ---- */

/* Does pattern p cover path s (s itself, or something under it)? */
static bool covers(const char *p, const char *s)
{
	size_t n = strlen(p);

	return n && strncmp(p, s, n) == 0 && (s[n] == '\0' || s[n] == '.' || s[n] == '[');
}

bool crpc__pb_path_ignored(const char *path, const char *const *ignore, size_t n_ignore)
{
	char bare[CRPC__PB_PATH_MAX];
	size_t o = 0;

	/* the path without its [i] indices */
	for (const char *p = path; *p && o + 1 < sizeof(bare); p++) {
		if (*p == '[') {
			const char *end = strchr(p, ']');

			if (end) {
				p = end;
				continue;
			}
		}
		bare[o++] = *p;
	}
	bare[o] = '\0';
	for (size_t i = 0; i < n_ignore; i++)
		if (ignore[i] && (covers(ignore[i], path) || covers(ignore[i], bare)))
			return true;
	return false;
}

bool crpc__pb_path_valid(const ProtobufCMessageDescriptor *desc, const char *path, char *buf, size_t bufsz)
{
	const char *p = path;

	if (!*path) {
		snprintf(buf, bufsz, "empty field path");
		return false;
	}
	for (;;) {
		const char *end = p + strcspn(p, ".[");
		const ProtobufCFieldDescriptor *f;
		char name[128];

		if (*p == '#') {
			/* a field known by number only: must be the last part */
			size_t digits = strspn(p + 1, "0123456789");

			if (digits == 0 || p[1 + digits] != '\0') {
				snprintf(buf, bufsz,
					 "'%s': '#' must be followed by a field number and end the path",
					 path);
				return false;
			}
			return true;
		}
		if (end == p || (size_t)(end - p) >= sizeof(name)) {
			snprintf(buf, bufsz, "'%s': empty or overlong part of the path", path);
			return false;
		}
		memcpy(name, p, (size_t)(end - p));
		name[end - p] = '\0';
		f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
		if (!f) {
			snprintf(buf, bufsz, "'%s': %s has no field '%s'", path, desc->name, name);
			return false;
		}
		p = end;
		if (*p == '[') {
			size_t digits = strspn(p + 1, "0123456789");

			if (digits == 0 || p[1 + digits] != ']') {
				snprintf(buf, bufsz, "'%s': an index is written [N]", path);
				return false;
			}
			if (f->label != PROTOBUF_C_LABEL_REPEATED) {
				snprintf(buf, bufsz, "'%s': %s.%s is not a repeated field", path, desc->name,
					 name);
				return false;
			}
			p += digits + 2;
		}
		if (*p == '\0')
			return true;
		if (*p != '.') {
			snprintf(buf, bufsz, "'%s': expected '.' after '%s'", path, name);
			return false;
		}
		if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
			snprintf(buf, bufsz, "'%s': %s.%s is not a message, it has no fields", path,
				 desc->name, name);
			return false;
		}
		desc = f->descriptor;
		p++;
	}
}

/* ---- the compare ---- */

typedef struct walk {
	const char *const *ignore;
	size_t n_ignore;
	crpc__pb_difference *out;
} walk;

/* Path of a field below `parent` into buf; false when it does not fit. */
__attribute__((format(printf, 4, 5))) static bool child_path(char *buf, size_t bufsz, const char *parent,
							     const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, bufsz, "%s%s", parent, *parent ? "." : "");
	int m;

	if (n < 0 || (size_t)n >= bufsz)
		return false;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, bufsz - (size_t)n, fmt, ap);
	va_end(ap);
	return m >= 0 && (size_t)m < bufsz - (size_t)n;
}

static void set_path(walk *w, const char *path)
{
	snprintf(w->out->path, sizeof(w->out->path), "%s", path);
}

static bool values_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean x, y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return !x == !y;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *x, *y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		if (!x || !y)
			return x == y;
		return strcmp(x, y) == 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData x, y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return false; /* compared field by field, not here */
	default:
		return memcmp(a, b, crpc__pb_elem_size(f->type)) == 0;
	}
}

static int diff_message(walk *w, const ProtobufCMessage *a, const ProtobufCMessage *b, const char *path,
			unsigned depth);

/* Compare one value (an element of a repeated field, or a set field). */
static int diff_value(walk *w, const ProtobufCFieldDescriptor *f, const void *a, const void *b,
		      const char *path, unsigned depth)
{
	text ta, tb;

	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCMessage *x, *y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		if (x && y)
			return diff_message(w, x, y, path, depth + 1);
		if (!x && !y)
			return 0;
	} else if (values_equal(f, a, b)) {
		return 0;
	}
	set_path(w, path);
	text_init(&ta, w->out->expected, sizeof(w->out->expected));
	text_init(&tb, w->out->actual, sizeof(w->out->actual));
	render_value(&ta, f, a, depth);
	render_value(&tb, f, b, depth);
	return 1;
}

static int diff_repeated(walk *w, const ProtobufCFieldDescriptor *f, const char *ba, const char *bb,
			 const char *path, unsigned depth)
{
	size_t na, nb, sz = crpc__pb_elem_size(f->type);
	const char *xa, *xb;
	char epath[CRPC__PB_PATH_MAX];
	text ta, tb;

	repeated(f, ba, &na, &xa);
	repeated(f, bb, &nb, &xb);
	for (size_t k = 0; k < na && k < nb; k++) {
		int n = snprintf(epath, sizeof(epath), "%s[%zu]", path, k);

		if (n < 0 || (size_t)n >= sizeof(epath))
			snprintf(epath, sizeof(epath), "%s", path);
		if (crpc__pb_path_ignored(epath, w->ignore, w->n_ignore))
			continue;
		if (diff_value(w, f, xa + k * sz, xb + k * sz, epath, depth))
			return 1;
	}
	if (na == nb)
		return 0;
	set_path(w, path);
	text_init(&ta, w->out->expected, sizeof(w->out->expected));
	text_init(&tb, w->out->actual, sizeof(w->out->actual));
	put(&ta, "%zu element%s ", na, na == 1 ? "" : "s");
	render_array(&ta, f, xa, na, depth);
	put(&tb, "%zu element%s ", nb, nb == 1 ? "" : "s");
	render_array(&tb, f, xb, nb, depth);
	return 1;
}

static bool unknown_equal(const ProtobufCMessageUnknownField *x, const ProtobufCMessageUnknownField *y)
{
	return x->tag == y->tag && x->wire_type == y->wire_type && x->len == y->len &&
	       (x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
}

/* Fields this build does not know, in the order they came. */
static int diff_unknown(walk *w, const ProtobufCMessage *a, const ProtobufCMessage *b, const char *path)
{
	unsigned na = a->n_unknown_fields, nb = b->n_unknown_fields;
	char upath[CRPC__PB_PATH_MAX];
	text ta, tb;

	for (unsigned i = 0; i < na || i < nb; i++) {
		const ProtobufCMessageUnknownField *x = i < na ? &a->unknown_fields[i] : NULL;
		const ProtobufCMessageUnknownField *y = i < nb ? &b->unknown_fields[i] : NULL;
		uint32_t tag = x ? x->tag : y->tag;

		if (x && y && x->tag != y->tag)
			tag = x->tag < y->tag ? x->tag : y->tag;
		if (!child_path(upath, sizeof(upath), path, "#%u", (unsigned)tag))
			snprintf(upath, sizeof(upath), "%s", path);
		if (crpc__pb_path_ignored(upath, w->ignore, w->n_ignore))
			continue;
		if (x && y && unknown_equal(x, y))
			continue;
		set_path(w, upath);
		text_init(&ta, w->out->expected, sizeof(w->out->expected));
		text_init(&tb, w->out->actual, sizeof(w->out->actual));
		if (x && x->tag == tag)
			render_unknown(&ta, x);
		else
			put(&ta, "(not set)");
		if (y && y->tag == tag)
			render_unknown(&tb, y);
		else
			put(&tb, "(not set)");
		return 1;
	}
	return 0;
}

static int diff_message(walk *w, const ProtobufCMessage *a, const ProtobufCMessage *b, const char *path,
			unsigned depth)
{
	const ProtobufCMessageDescriptor *d = a->descriptor;
	const char *ba = (const char *)a, *bb = (const char *)b;
	char fpath[CRPC__PB_PATH_MAX];
	text ta, tb;

	if (depth > 32)
		return 0; /* protobuf-c itself refuses deeper nesting */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		bool pa, pb;

		if (!child_path(fpath, sizeof(fpath), path, "%s", f->name))
			snprintf(fpath, sizeof(fpath), "%s", path);
		if (crpc__pb_path_ignored(fpath, w->ignore, w->n_ignore))
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (diff_repeated(w, f, ba, bb, fpath, depth))
				return 1;
			continue;
		}
		pa = crpc__pb_field_present(f, ba);
		pb = crpc__pb_field_present(f, bb);
		if (pa && pb) {
			if (diff_value(w, f, ba + f->offset, bb + f->offset, fpath, depth))
				return 1;
			continue;
		}
		if (!pa && !pb)
			continue;
		set_path(w, fpath);
		text_init(&ta, w->out->expected, sizeof(w->out->expected));
		text_init(&tb, w->out->actual, sizeof(w->out->actual));
		if (pa)
			render_value(&ta, f, ba + f->offset, depth);
		else
			put(&ta, "(not set)");
		if (pb)
			render_value(&tb, f, bb + f->offset, depth);
		else
			put(&tb, "(not set)");
		return 1;
	}
	return diff_unknown(w, a, b, path);
}

int crpc__pb_diff(const ProtobufCMessage *expected, const ProtobufCMessage *actual,
		  const char *const *ignore, size_t n_ignore, crpc__pb_difference *out)
{
	walk w = { .ignore = ignore, .n_ignore = n_ignore, .out = out };

	memset(out, 0, sizeof(*out));
	if (!expected || !actual || expected->descriptor != actual->descriptor)
		return -1;
	return diff_message(&w, expected, actual, "", 0);
}
