/* SPDX-License-Identifier: MIT */
/* util.c - small helpers shared by libcrpc's sources. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

CRPC_API const char *crpc_version_string(void)
{
	return CRPC_VERSION_STRING;
}

void crpc__hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int crpc__sized_take(void *dst, size_t dst_size, const void *src, size_t min_size, const char *operation,
		     const char *init, crpc_error **err)
{
	size_t given;

	memcpy(&given, src, sizeof(given));
	if (given < min_size)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EINVAL, operation,
				      "a structure given to the library was not initialised with %s() (its size "
				      "member is %zu, at least %zu expected)",
				      init, given, min_size);
	memcpy(dst, src, given < dst_size ? given : dst_size);
	memcpy(dst, &dst_size, sizeof(dst_size));
	return 0;
}

void crpc__thread_background(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	/* the change alone does not preempt this thread: the yield hands over a CPU it holds */
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0)
		(void)sched_yield();
}

int crpc__thread_start(pthread_t *t, void *(*fn)(void *), void *arg, unsigned flags)
{
	struct sched_param sp = { .sched_priority = 0 };
	pthread_attr_t attr, *a = NULL;
	sigset_t all, old;
	int rc;

	/* SCHED_IDLE from its first instruction: it never preempts its creator */
	if ((flags & CRPC__THREAD_BACKGROUND) && pthread_attr_init(&attr) == 0) {
		a = &attr;
		if (pthread_attr_setinheritsched(a, PTHREAD_EXPLICIT_SCHED) != 0 ||
		    pthread_attr_setschedpolicy(a, SCHED_IDLE) != 0 ||
		    pthread_attr_setschedparam(a, &sp) != 0) {
			pthread_attr_destroy(a);
			a = NULL;
		}
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, a, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (a)
		pthread_attr_destroy(a);
	if (rc == 0 && (flags & CRPC__THREAD_URGENT))
		(void)sched_yield();
	return rc;
}

double crpc__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *crpc__strdup_vprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

char *crpc__strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = crpc__strdup_vprintf(fmt, ap);
	va_end(ap);
	return s;
}

int crpc__strv_push(char ***v, size_t *n, char *s)
{
	if (!s)
		return -1;
	if (*n > SIZE_MAX - 2 || ARRAY_RESIZE(*v, *n + 2) < 0) {
		free(s);
		return -1;
	}
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
	return 0;
}

crpc__owner_verdict crpc__owner_check(const struct stat *st, uid_t also_trusted)
{
	uid_t uid = st->st_uid;

	if (uid != 0 && uid != geteuid() && (also_trusted == (uid_t)-1 || uid != also_trusted))
		return CRPC__OWNER_FOREIGN;
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return CRPC__OWNER_WRITABLE;
	return CRPC__OWNER_OK;
}

const char *crpc__writable_by(const struct stat *st)
{
	return (st->st_mode & S_IWOTH) ? "others" : "its group";
}

void crpc__user_name(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, size, "%s (uid %u)", res->pw_name, (unsigned)uid);
	else
		snprintf(buf, size, "uid %u", (unsigned)uid);
}

/*
 * What is wrong with st for a file or directory of the caller's, NULL if
 * nothing: a directory is held to the ownership rule; a file crpc is about
 * to write must be the caller's own, with no other link to it.
 */
static const char *foreign(const struct stat *st, bool dir)
{
	if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		return dir ? "it is not a directory" : "it is not a regular file";
	if (dir) {
		switch (crpc__owner_check(st, (uid_t)-1)) {
		case CRPC__OWNER_FOREIGN:
			return "it belongs to another user";
		case CRPC__OWNER_WRITABLE:
			return "group or others can write it";
		case CRPC__OWNER_OK:
			break;
		}
		return NULL;
	}
	if (st->st_uid != geteuid())
		return "it belongs to another user";
	if (st->st_nlink != 1)
		return "it has other hard links";
	return NULL;
}

int util_open_private(int dirfd, const char *name, bool append, const char *op, const char *what,
		      crpc_error **err)
{
	for (int tries = 0; tries < 3; tries++) {
		cleanup_close int fd = -1;
		struct stat st;
		const char *why;
		int flags;

		fd = openat(dirfd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
				    (append ? O_APPEND : 0),
			    0600);
		if (fd >= 0) {
			/* the umask may have taken bits away, never added any */
			int r = fd;

			fd = -1;
			return r;
		}
		if (errno != EEXIST)
			return crpc_error_set(err, CRPC_EXIT_USAGE, errno, op, "cannot create %s %s", what,
					      name);
		/* it exists: never through a symlink, never waiting on a FIFO */
		fd = openat(dirfd, name,
			    O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC |
				    (append ? O_APPEND : 0));
		if (fd < 0 && errno == ENOENT)
			continue;             /* removed meanwhile: create it again */
		if (fd < 0 && errno == ENXIO) /* a FIFO no one reads, a socket */
			return crpc_error_set(err, CRPC_EXIT_USAGE, ENXIO, op,
					      "refusing to write %s %s: it is not a regular file", what,
					      name);
		if (fd < 0 && (errno == ELOOP || errno == EMLINK))
			return crpc_error_set(err, CRPC_EXIT_USAGE, ELOOP, op,
					      "refusing to write %s %s: it is a symbolic link", what, name);
		if (fd < 0)
			return crpc_error_set(err, CRPC_EXIT_USAGE, errno, op, "cannot open %s %s", what,
					      name);
		if (fstat(fd, &st) < 0)
			return crpc_error_set(err, CRPC_EXIT_USAGE, errno, op, "cannot stat %s %s", what,
					      name);
		if (S_ISCHR(st.st_mode)) {
			/* /dev/null, a terminal: nothing to truncate or keep private; only
			 * root can make a device node, so none was planted */
			int r = fd, fl = fcntl(fd, F_GETFL);

			if (fl >= 0)
				(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
			fd = -1;
			return r;
		}
		why = foreign(&st, false);
		if (why)
			return crpc_error_set(err, CRPC_EXIT_USAGE, EPERM, op, "refusing to write %s %s: %s",
					      what, name, why);
		flags = fcntl(fd, F_GETFL);
		if ((!append && ftruncate(fd, 0) < 0) || fchmod(fd, 0600) < 0 || flags < 0 ||
		    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
			return crpc_error_set(err, CRPC_EXIT_USAGE, errno, op, "cannot set up %s %s", what,
					      name);
		{
			int r = fd;

			fd = -1;
			return r;
		}
	}
	return crpc_error_set(err, CRPC_EXIT_USAGE, EAGAIN, op, "%s %s keeps disappearing", what, name);
}

int util_open_private_dir(const char *path, const char *op, const char *what, crpc_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	const char *why;
	int r;

	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
		/* O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR */
		bool link = lstat(path, &st) == 0 && S_ISLNK(st.st_mode);

		return crpc_error_set(err, CRPC_EXIT_USAGE, link ? ELOOP : ENOTDIR, op,
				      "refusing to use %s %s: %s", what, path,
				      link ? "it is a symbolic link" : "it is not a directory");
	}
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, op, "cannot open %s %s", what, path);
	if (fstat(fd, &st) < 0)
		return crpc_error_set(err, CRPC_EXIT_USAGE, errno, op, "cannot stat %s %s", what, path);
	why = foreign(&st, true);
	if (why)
		return crpc_error_set(err, CRPC_EXIT_USAGE, EPERM, op, "refusing to use %s %s: %s", what,
				      path, why);
	r = fd;
	fd = -1;
	return r;
}

int crpc__read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len, crpc_error **err)
{
	cleanup_close int fd = -1;
	crpc__buf buf = { 0 };

	*out = NULL;
	if (len)
		*len = 0;
	fd = io_openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return crpc_error_set(err, CRPC_EXIT_FAIL, errno, "read", "cannot open %s", name);
	if (crpc__buf_reserve(&buf, 0) < 0 || crpc__buf_read_fd(&buf, fd, max, false) < 0) {
		int e = errno;

		crpc__buf_release(&buf);
		if (e == EFBIG)
			return crpc_error_set(err, CRPC_EXIT_FAIL, EFBIG, "read",
					      "%s is larger than %zu bytes", name, max);
		if (e == ENOMEM)
			return crpc_error_set(err, CRPC_EXIT_FAIL, ENOMEM, "read", "out of memory");
		return crpc_error_set(err, CRPC_EXIT_FAIL, e, "read", "cannot read %s", name);
	}
	*out = buf.data;
	if (len)
		*len = buf.len;
	return 0;
}

void crpc__wait_status_str(int status, char *buf, size_t bufsz)
{
	if (WIFEXITED(status))
		snprintf(buf, bufsz, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, bufsz, "was killed by signal %d (SIG%s)", WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(buf, bufsz, "changed state (wait status 0x%x)", (unsigned)status);
}

void crpc__proc_comm(pid_t pid, char *buf, size_t bufsz)
{
	char path[64];
	char *s = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (bufsz == 0)
		return;
	snprintf(buf, bufsz, "?");
	if (crpc__read_file_at(AT_FDCWD, path, 256, &s, &len, NULL) < 0 || !s)
		return;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\0'))
		s[--len] = '\0';
	snprintf(buf, bufsz, "%s", s);
	free(s);
}

char crpc__proc_state(pid_t pid)
{
	char path[64];
	char *s = NULL;
	char *rp;
	char st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (crpc__read_file_at(AT_FDCWD, path, 4096, &s, NULL, NULL) < 0 || !s)
		return 0;
	/* comm may hold spaces and parentheses: the state follows the last ')' */
	rp = strrchr(s, ')');
	if (rp && rp[1] == ' ' && rp[2])
		st = rp[2];
	free(s);
	return st;
}

size_t crpc__pb_elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

bool crpc__pb_number(const ProtobufCFieldDescriptor *f, const void *p, crpc__pb_num *out)
{
	memset(out, 0, sizeof(*out));
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM: {
		int32_t v;

		memcpy(&v, p, sizeof(v));
		out->kind = CRPC__PB_SIGNED;
		out->i = v;
		return true;
	}
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		out->kind = CRPC__PB_UNSIGNED;
		out->u = v;
		return true;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		memcpy(&out->i, p, sizeof(out->i));
		out->kind = CRPC__PB_SIGNED;
		return true;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		memcpy(&out->u, p, sizeof(out->u));
		out->kind = CRPC__PB_UNSIGNED;
		return true;
	case PROTOBUF_C_TYPE_FLOAT: {
		float v;

		memcpy(&v, p, sizeof(v));
		out->kind = CRPC__PB_REAL;
		out->d = v;
		return true;
	}
	case PROTOBUF_C_TYPE_DOUBLE:
		memcpy(&out->d, p, sizeof(out->d));
		out->kind = CRPC__PB_REAL;
		return true;
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean v;

		memcpy(&v, p, sizeof(v));
		out->kind = CRPC__PB_BOOL;
		out->i = v ? 1 : 0;
		return true;
	}
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		break;
	}
	return false;
}

bool crpc__pb_field_present(const ProtobufCFieldDescriptor *f, const char *base)
{
	const void *q = base + f->quantifier_offset;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t c;

		memcpy(&c, q, sizeof(c));
		return c == f->id;
	}
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const void *ptr;

		memcpy(&ptr, base + f->offset, sizeof(ptr));
		if (!ptr)
			return false;
		/* an unset optional string points at its default */
		return f->label == PROTOBUF_C_LABEL_REQUIRED || ptr != f->default_value;
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
		protobuf_c_boolean has;

		memcpy(&has, q, sizeof(has));
		return has;
	}
	return true; /* required, or proto3 without presence */
}
