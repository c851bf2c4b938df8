/* SPDX-License-Identifier: MIT */
/*
 * fuzz_proc.c - the text parsers of inspect (/proc/PID/stat, status,
 * fdinfo, /proc/net inet tables, /proc/locks, mountinfo, fd link targets,
 * sockfs protocol names) and of CRIU's log (crpc_log_excerpt() and the
 * error classification that reads it). The first byte picks the parser;
 * the rest is the text. Line-based parsers get it line by line, as inspect
 * feeds them.
 */
#include <stdbool.h>
#include <sys/socket.h>

#include "crpc/crpc.h"
#include "fuzz_common.h"
#include "inspect/inspect_int.h"
#include "internal.h"

enum {
	FZ_STAT,
	FZ_STATUS,
	FZ_INET,
	FZ_INET6,
	FZ_LOCKS,
	FZ_FDINFO,
	FZ_MOUNTINFO,
	FZ_LINK,
	FZ_LOG,
	FZ_PARSERS
};

static void fz_line(int which, const char *line)
{
	switch (which) {
	case FZ_INET:
	case FZ_INET6: {
		ins_inet_sock s;

		ins_parse_inet_line(line, which == FZ_INET ? AF_INET : AF_INET6, &s);
		break;
	}
	case FZ_LOCKS: {
		crpc_lock_info l;
		bool blocked;

		ins_parse_lock_line(line, &l, &blocked);
		free(l.path);
		break;
	}
	case FZ_MOUNTINFO: {
		crpc__mount m;

		if (crpc__mountinfo_parse(line, strlen(line), &m) == 0 &&
		    (!m.root || !m.mountpoint || !m.options || !m.fstype || !m.source || !m.super))
			abort();
		crpc__mount_free(&m);
		break;
	}
	case FZ_LINK: {
		int family = 0;

		(void)ins_classify_link(line);
		(void)ins_classify_proto(line, &family);
		break;
	}
	default:
		break;
	}
}

static void fz_log(const char *text, size_t len, uint8_t criu_errno)
{
	crpc_error *e = NULL;
	char *x = crpc_log_excerpt(text, len, criu_errno % 5, 1 + criu_errno % 4);
	size_t n = strcspn(text, "\n");
	char *first = malloc(n + 1);
	char *s;

	if (!x || !first)
		abort();
	memcpy(first, text, n);
	first[n] = '\0';
	crpc_error_set(&e, CRPC_EXIT_FAIL, 0, "dump", "CRIU refused the request");
	if (!e)
		abort();
	crpc__error_set_criu(e, criu_errno, first);
	crpc__error_take_excerpt(e, x, "fuzz.log");
	crpc_error_classify(e, (criu_errno & 1) ? "dump" : "restore");
	s = crpc_error_format(e);
	free(s);
	crpc_error_free(e);
	free(first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int which;
	char *text;

	if (size < 1)
		return 0;
	which = data[0] % FZ_PARSERS;
	text = fz_strndup(data + 1, size - 1);

	switch (which) {
	case FZ_STAT: {
		ins_stat st;

		if (ins_parse_stat(text, &st) == 0 && strnlen(st.comm, sizeof(st.comm)) == sizeof(st.comm))
			abort();
		break;
	}
	case FZ_STATUS: {
		ins_status st;

		ins_parse_status(text, &st);
		break;
	}
	case FZ_FDINFO: {
		crpc_fd_info fi;
		ins_fdinfo_extra x;

		memset(&fi, 0, sizeof(fi));
		ins_parse_fdinfo(text, &fi, &x);
		ins_fd_release(&fi);
		ins_fdinfo_extra_free(&x);
		break;
	}
	case FZ_LOG:
		fz_log(text, size - 1, data[0]);
		break;
	default: {
		char *save = NULL;

		for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			fz_line(which, line);
		break;
	}
	}
	free(text);
	return 0;
}
