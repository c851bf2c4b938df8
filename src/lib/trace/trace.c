/* SPDX-License-Identifier: MIT */
/*
 * trace.c - a JSON-lines record of every message of a session.
 *
 * Messages are decoded by walking protobuf-c's descriptors (decode_message()),
 * so every message type of proto/rpc.proto, nested ones included, goes
 * through the same code and shows the field names of the .proto file.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crpc/trace.h"
#include "internal.h"

struct crpc_trace {
	int fd;
	unsigned long seq;
	struct timespec prev; /* monotonic time of the previous message (or the header) */
	int write_errno;      /* first write error, 0 if none */
};

/* ---- small helpers ---- */

static double ts_seconds(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

static int64_t ts_diff_us(const struct timespec *a, const struct timespec *b)
{
	return ((int64_t)a->tv_sec - (int64_t)b->tv_sec) * 1000000 +
	       ((int64_t)a->tv_nsec - (int64_t)b->tv_nsec) / 1000;
}

static json_t *wall_json(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm))
		return json_null();
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", (long)(ts.tv_nsec / 1000));
	return json_string(buf);
}

static json_t *base64_json(const uint8_t *p, size_t len)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t outlen = (len + 2) / 3 * 4;
	char *out = malloc(outlen + 1);
	size_t o = 0;
	json_t *j;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t rest = len - i;

		if (rest > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (rest > 2)
			v |= p[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = rest > 1 ? tbl[(v >> 6) & 63] : '=';
		out[o++] = rest > 2 ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	j = json_stringn(out, o);
	free(out);
	return j;
}

/* A string that may not be UTF-8: as is, else its bytes in base64. */
static json_t *string_json(const char *s)
{
	json_t *j = json_string(s);
	json_t *o;

	if (j)
		return j;
	o = json_object();
	if (o)
		json_object_set_new(o, "invalid_utf8_base64", base64_json((const uint8_t *)s, strlen(s)));
	return o;
}

/* ---- generic decoding over protobuf-c descriptors ---- */

static json_t *decode_message(const ProtobufCMessage *m);

/* The JSON form of one value of field f stored at p. */
static json_t *decode_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	crpc__pb_num v;

	if (crpc__pb_number(f, p, &v)) {
		const ProtobufCEnumValue *ev;
		char buf[32];

		if (f->type == PROTOBUF_C_TYPE_ENUM) {
			ev = protobuf_c_enum_descriptor_get_value(f->descriptor, (int)v.i);
			return ev ? json_string(ev->name) : json_integer((json_int_t)v.i);
		}
		switch (v.kind) {
		case CRPC__PB_SIGNED:
			return json_integer((json_int_t)v.i);
		case CRPC__PB_UNSIGNED:
			if (v.u <= (uint64_t)INT64_MAX)
				return json_integer((json_int_t)v.u);
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v.u); /* beyond JSON integers */
			return json_string(buf);
		case CRPC__PB_REAL:
			return json_real(v.d);
		case CRPC__PB_BOOL:
			return json_boolean(v.i);
		}
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s;
		memcpy(&s, p, sizeof(s));
		return s ? string_json(s) : json_null();
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData b;
		memcpy(&b, p, sizeof(b));
		return base64_json(b.data, b.len);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub;
		memcpy(&sub, p, sizeof(sub));
		return sub ? decode_message(sub) : json_null();
	}
	default: /* the numbers, above */
		break;
	}
	return json_null();
}

/*
 * The whole message as a JSON object: every field set, by its .proto name;
 * repeated fields as arrays, enums by name, bytes in base64, nested
 * messages as objects, and fields this build does not know under "unknown".
 */
static json_t *decode_message(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n, sz = crpc__pb_elem_size(f->type);
			const char *arr;
			json_t *a;

			memcpy(&n, base + f->quantifier_offset, sizeof(n));
			memcpy(&arr, base + f->offset, sizeof(arr));
			if (n == 0)
				continue;
			a = json_array();
			for (size_t k = 0; a && arr && k < n; k++)
				json_array_append_new(a, decode_value(f, arr + k * sz));
			json_object_set_new(obj, f->name, a);
		} else if (crpc__pb_field_present(f, base)) {
			json_object_set_new(obj, f->name, decode_value(f, base + f->offset));
		}
	}
	if (m->n_unknown_fields > 0) {
		json_t *u = json_array();

		for (unsigned i = 0; u && i < m->n_unknown_fields; i++) {
			const ProtobufCMessageUnknownField *uf = &m->unknown_fields[i];

			json_array_append_new(u, json_pack("{s:I,s:i,s:I}", "number", (json_int_t)uf->tag,
							   "wire_type", (int)uf->wire_type, "len",
							   (json_int_t)uf->len));
		}
		json_object_set_new(obj, "unknown", u);
	}
	return obj;
}

/* ---- writing ---- */

/* Write obj (consumed) as one line with one write(2). */
static void write_line(crpc_trace *t, json_t *obj)
{
	char *s;
	size_t len;

	if (!obj)
		return;
	s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(obj);
	if (!s) {
		if (!t->write_errno)
			t->write_errno = ENOMEM;
		return;
	}
	len = strlen(s);
	s[len] = '\n'; /* replaces the terminator: the line goes out whole */
	len++;
	if (io_write_full(t->fd, s, len) < 0 && !t->write_errno)
		t->write_errno = errno;
	free(s);
}

CRPC_API int crpc_trace_open(crpc_trace **out, const char *path, const crpc_trace_header *hdr,
			     crpc_error **err)
{
	return trace_open_at(out, AT_FDCWD, path, hdr, err);
}

int trace_open_at(crpc_trace **out, int dirfd, const char *path, const crpc_trace_header *hdr,
		  crpc_error **err)
{
	crpc_trace *t;
	json_t *h, *argv = NULL;
	struct timespec now;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "trace", "out of memory");
	t->fd = util_open_private(dirfd, path, false, "trace", "trace file", err);
	if (t->fd < 0) {
		free(t);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	t->prev = now;
	if (hdr && hdr->argv) {
		argv = json_array();
		for (int i = 0; argv && i < hdr->argc && hdr->argv[i]; i++)
			json_array_append_new(argv, string_json(hdr->argv[i]));
	}
	h = json_object();
	if (h) {
		json_object_set_new(h, "type", json_string("header"));
		json_object_set_new(h, "format", json_integer(1));
		json_object_set_new(h, "crpc_version", json_string(crpc_version_string()));
		json_object_set_new(h, "operation",
				    hdr && hdr->operation ? string_json(hdr->operation) : json_null());
		json_object_set_new(h, "target", hdr && hdr->target ? string_json(hdr->target) : json_null());
		json_object_set_new(h, "argv", argv ? argv : json_null());
		json_object_set_new(h, "pid", json_integer(getpid()));
		json_object_set_new(h, "mono", json_real(ts_seconds(&now)));
		json_object_set_new(h, "wall", wall_json());
	} else {
		json_decref(argv);
	}
	write_line(t, h);
	if (t->write_errno) {
		int e = t->write_errno;

		crpc_trace_close(t);
		return crpc_error_set(err, CRPC_EXIT_USAGE, e, "trace", "cannot write trace file %s", path);
	}
	*out = t;
	return 0;
}

CRPC_API void crpc_trace_set_criu(crpc_trace *t, const char *criu_path, const char *criu_version)
{
	if (!t)
		return;
	write_line(t, json_pack("{s:s,s:o,s:o}", "type", "criu", "path",
				criu_path ? string_json(criu_path) : json_null(), "version",
				criu_version ? string_json(criu_version) : json_null()));
}

CRPC_API void crpc_trace_message(crpc_direction dir, const uint8_t *msg, size_t len, int fd, void *trace)
{
	crpc_trace *t = trace;
	const ProtobufCMessageDescriptor *desc = dir == CRPC_TO_CRIU ? &criu_req__descriptor
								     : &criu_resp__descriptor;
	ProtobufCMessage *m;
	struct timespec now;
	json_t *line;

	if (!t)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	line = json_object();
	if (!line)
		return;
	t->seq++;
	json_object_set_new(line, "type", json_string("message"));
	json_object_set_new(line, "seq", json_integer((json_int_t)t->seq));
	json_object_set_new(line, "mono", json_real(ts_seconds(&now)));
	json_object_set_new(line, "wall", wall_json());
	json_object_set_new(line, "dir", json_string(dir == CRPC_TO_CRIU ? "to_criu" : "from_criu"));
	json_object_set_new(line, "since_prev_us", json_integer((json_int_t)ts_diff_us(&now, &t->prev)));
	t->prev = now;
	json_object_set_new(line, "message", json_string(desc->name));
	json_object_set_new(line, "len", json_integer((json_int_t)len));
	m = protobuf_c_message_unpack(desc, NULL, len, msg);
	if (m) {
		/* the type of the message is its first field, an enum (criu_req_type) */
		const ProtobufCFieldDescriptor *f0 = protobuf_c_message_descriptor_get_field(desc, 1);

		if (f0 && f0->type == PROTOBUF_C_TYPE_ENUM && f0->label == PROTOBUF_C_LABEL_REQUIRED)
			json_object_set_new(line, "msg_type", decode_value(f0, (const char *)m + f0->offset));
		json_object_set_new(line, "fields", decode_message(m));
		protobuf_c_message_free_unpacked(m, NULL);
	} else {
		json_object_set_new(line, "decode_error",
				    json_sprintf("not a valid %s (%zu bytes)", desc->name, len));
	}
	json_object_set_new(line, "raw", base64_json(msg, len));
	json_object_set_new(line, "fd", fd >= 0 ? json_integer(fd) : json_null());
	write_line(t, line);
}

CRPC_API void crpc_trace_event(crpc_trace *t, const char *event, const char *callback, const char *text)
{
	struct timespec now;
	json_t *line;

	if (!t || !event)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	line = json_object();
	if (!line)
		return;
	json_object_set_new(line, "type", json_string("event"));
	json_object_set_new(line, "mono", json_real(ts_seconds(&now)));
	json_object_set_new(line, "wall", wall_json());
	json_object_set_new(line, "since_prev_us", json_integer((json_int_t)ts_diff_us(&now, &t->prev)));
	/* t->prev stays: messages keep counting from the previous message */
	json_object_set_new(line, "event", string_json(event));
	json_object_set_new(line, "callback", callback ? string_json(callback) : json_null());
	json_object_set_new(line, "text", text ? string_json(text) : json_null());
	write_line(t, line);
}

CRPC_API unsigned long crpc_trace_count(const crpc_trace *t)
{
	return t ? t->seq : 0;
}

CRPC_API int crpc_trace_write_errno(const crpc_trace *t)
{
	return t ? t->write_errno : 0;
}

CRPC_API void crpc_trace_close(crpc_trace *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}
