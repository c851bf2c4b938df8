/* SPDX-License-Identifier: MIT */
/*
 * mountinfo.c - the lines of newline-separated text and the one parser of
 * /proc/PID/mountinfo lines, for the inspection (mount points of fds, the
 * mounts of a namespace tree) and the shim (where a cgroup is mounted).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

bool crpc__line_next(const char **cur, const char **line, size_t *len)
{
	const char *p = *cur, *nl;

	if (!p || !*p)
		return false;
	nl = strchr(p, '\n');
	*line = p;
	*len = nl ? (size_t)(nl - p) : strlen(p);
	*cur = nl ? nl + 1 : p + *len;
	return true;
}

/* Whether s[0..3] is an octal escape of a byte, "\ooo" with the first digit 0-3. */
static bool octal_escape(const char *s, const char *end)
{
	return end - s >= 4 && s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
	       s[3] >= '0' && s[3] <= '7';
}

/*
 * Decode the field [s, end) in place (the kernel writes a blank, a tab, a
 * newline and a backslash as \ooo; decoding only shortens) and end it with
 * a NUL. Returns its start.
 */
static char *field_decode(char *s, char *end)
{
	char *o = s;

	for (char *p = s; p < end; p++) {
		if (octal_escape(p, end)) {
			*o++ = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return s;
}

/*
 * The next field of [*p, end): fields are separated by one blank each and
 * may be empty (a mount whose source is ""). NULL past the last one; *p
 * moves past the field and its blank.
 */
static char *field_next(char **p, char *end, char **fend)
{
	char *s = *p, *e;

	if (s > end)
		return NULL;
	e = memchr(s, ' ', (size_t)(end - s));
	if (!e)
		e = end;
	*fend = e;
	*p = e + 1;
	return s;
}

/* A field's number (base 10), -1 when it is not one. */
static long field_number(const char *s, const char *end)
{
	long v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (long)(1L << 40))
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int crpc__mountinfo_parse(const char *line, size_t len, crpc__mount *m)
{
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
	char *f[6] = { NULL }, *fe[6] = { NULL }, *fs[3] = { NULL }, *fse[3] = { NULL };
	char *p, *end, *colon;
	long id, parent, maj, min;

	memset(m, 0, sizeof(*m));
	if (len && line[len - 1] == '\n')
		len--;
	m->buf = malloc(len + 1);
	if (!m->buf)
		return -1;
	memcpy(m->buf, line, len);
	m->buf[len] = '\0';
	p = m->buf;
	end = m->buf + len;
	for (int i = 0; i < 6; i++)
		if (!(f[i] = field_next(&p, end, &fe[i])))
			goto bad;
	/* the optional fields end at a lone "-" */
	for (;;) {
		char *o, *oe;

		if (!(o = field_next(&p, end, &oe)))
			goto bad;
		if (oe - o == 1 && *o == '-')
			break;
	}
	for (int i = 0; i < 3; i++)
		if (!(fs[i] = field_next(&p, end, &fse[i])))
			goto bad;
	colon = memchr(f[2], ':', (size_t)(fe[2] - f[2]));
	id = field_number(f[0], fe[0]);
	parent = field_number(f[1], fe[1]);
	maj = colon ? field_number(f[2], colon) : -1;
	min = colon ? field_number(colon + 1, fe[2]) : -1;
	if (id < 0 || id > 0x7fffffff || parent < 0 || parent > 0x7fffffff || maj < 0 || maj > 0xffffffff ||
	    min < 0 || min > 0xffffffff)
		goto bad;
	m->id = (int)id;
	m->parent = (int)parent;
	m->major = (unsigned)maj;
	m->minor = (unsigned)min;
	/* every field ends at a blank or the line's end: decoded and NUL-terminated in place */
	m->root = field_decode(f[3], fe[3]);
	m->mountpoint = field_decode(f[4], fe[4]);
	m->options = field_decode(f[5], fe[5]);
	m->fstype = field_decode(fs[0], fse[0]);
	m->source = field_decode(fs[1], fse[1]);
	m->super = field_decode(fs[2], fse[2]);
	return 0;
bad:
	crpc__mount_free(m);
	errno = EINVAL;
	return -1;
}

void crpc__mount_free(crpc__mount *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}
