/* SPDX-License-Identifier: MIT */
/*
 * msgsum.c - one line that says what a raw RPC message is, for -v.
 *
 * The full field-by-field view belongs to the trace; this is the short form
 * a person can follow while a dump runs: the message type, whether a reply
 * succeeded, and the two or three fields that matter for that type.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "crpc/trace.h"

typedef struct line {
	char *buf;
	size_t size;
	size_t len;
} line;

__attribute__((format(printf, 2, 3))) static void put(line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len + 1 >= l->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, l->size - l->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	l->len += (size_t)n;
	if (l->len >= l->size)
		l->len = l->size - 1;
}

static const char *type_name(int type)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&criu_req_type__descriptor, type);

	return v ? v->name : NULL;
}

static void put_type(line *l, int type)
{
	const char *name = type_name(type);

	if (name) {
		/* protobuf-c keeps the .proto spelling ("dump"); show it the way CRIU's docs do */
		for (const char *p = name; *p; p++)
			put(l, "%c", (*p >= 'a' && *p <= 'z') ? *p - 'a' + 'A' : *p);
	} else {
		put(l, "type-%d", type);
	}
}

/* How many optional or repeated fields of the options a request sets. */
static unsigned opts_fields_set(const CriuOpts *o)
{
	const ProtobufCMessageDescriptor *d = o->base.descriptor;
	const char *base = (const char *)o;
	unsigned n = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		switch (f->label) {
		case PROTOBUF_C_LABEL_REQUIRED:
			break;
		case PROTOBUF_C_LABEL_REPEATED:
			if (*(const size_t *)(base + f->quantifier_offset))
				n++;
			break;
		default:
			if (crpc__pb_field_present(f, base))
				n++;
			break;
		}
	}
	return n;
}

static void summarize_req(line *l, const CriuReq *r)
{
	put_type(l, r->type);
	if (r->type == CRIU_REQ_TYPE__NOTIFY) {
		put(l, " answer=%s", r->has_notify_success && r->notify_success ? "ok" : "fail");
		if (r->opts && r->opts->n_external)
			put(l, " external=%zu", r->opts->n_external);
		return;
	}
	if (r->opts) {
		if (r->opts->has_pid)
			put(l, " pid=%d", r->opts->pid);
		if (r->opts->has_notify_scripts && r->opts->notify_scripts)
			put(l, " notify");
		if (r->opts->has_leave_running && r->opts->leave_running)
			put(l, " leave_running");
		put(l, " opts=%u", opts_fields_set(r->opts));
	}
	if (r->has_keep_open && r->keep_open)
		put(l, " keep_open");
	if (r->has_pid)
		put(l, " pid=%u", r->pid);
}

static void summarize_resp(line *l, const CriuResp *r)
{
	put_type(l, r->type);
	if (r->type == CRIU_REQ_TYPE__NOTIFY && r->notify) {
		put(l, " %s", r->notify->script ? r->notify->script : "?");
		if (r->notify->has_pid)
			put(l, " pid=%d", r->notify->pid);
		return;
	}
	put(l, " %s", r->success ? "ok" : "FAILED");
	if (r->has_cr_errno)
		put(l, " errno=%s", crpc_errno_name(r->cr_errno));
	if (r->restore)
		put(l, " pid=%d", r->restore->pid);
	if (r->dump && r->dump->has_restored && r->dump->restored)
		put(l, " restored");
	if (r->version) {
		put(l, " version=%d.%d", r->version->major_number, r->version->minor_number);
		if (r->version->has_sublevel)
			put(l, ".%d", r->version->sublevel);
	}
	if (r->has_status)
		put(l, " status=%d", r->status);
	if (!r->success && r->cr_errmsg) {
		size_t n = strcspn(r->cr_errmsg, "\n");

		put(l, ": %.*s", (int)(n > 160 ? 160 : n), r->cr_errmsg);
	}
}

CRPC_API size_t crpc_message_summary(crpc_direction dir, const uint8_t *msg, size_t len, int fd, char *buf,
				     size_t bufsz)
{
	line l = { .buf = buf, .size = bufsz, .len = 0 };

	if (!buf || !bufsz)
		return 0;
	buf[0] = '\0';
	put(&l, "%s ", dir == CRPC_TO_CRIU ? "->" : "<-");
	if (dir == CRPC_TO_CRIU) {
		CriuReq *r = criu_req__unpack(NULL, len, msg);

		if (r)
			summarize_req(&l, r);
		else
			put(&l, "undecodable request");
		criu_req__free_unpacked(r, NULL);
	} else {
		CriuResp *r = criu_resp__unpack(NULL, len, msg);

		if (r)
			summarize_resp(&l, r);
		else
			put(&l, "undecodable reply");
		criu_resp__free_unpacked(r, NULL);
	}
	if (fd >= 0)
		put(&l, " +fd");
	put(&l, " (%zu B)", len);
	return l.len;
}
