/* SPDX-License-Identifier: MIT */
/*
 * fuzz_record.c - one message from either side of the swrk socket: the
 * bytes are received through a real SOCK_SEQPACKET socketpair with
 * crpc__record_recv() (with an fd passed along for some inputs), unpacked as
 * criu_req and criu_resp, summarised (crpc_message_summary()), decoded into
 * a trace written to /dev/null (crpc_trace_message()), and compared field
 * by field (crpc__replay_compare(): halves of the input with each other, and
 * the input with itself, which must always be equal, decodable or not).
 */
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "crpc/crpc.h"
#include "crpc/replay.h"
#include "crpc/trace.h"
#include "fuzz_common.h"
#include "internal.h"
#include "rpc.pb-c.h"
#include "trace/pbdiff.h"

/* Larger records than this are refused by crpc__record_recv() (the EMSGSIZE path). */
#define FZ_RECORD_MAX 8192

static int fz_sk[2] = { -1, -1 };
static crpc_trace *fz_trace;

static void fz_record_cleanup(void)
{
	crpc_trace_close(fz_trace);
	fz_trace = NULL;
	for (int i = 0; i < 2; i++)
		if (fz_sk[i] >= 0)
			close(fz_sk[i]);
}

static void fz_record_init(void)
{
	crpc_trace_header h = { .operation = "fuzz" };
	crpc_error *err = NULL;

	if (fz_sk[0] >= 0)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fz_sk) < 0) {
		perror("socketpair");
		abort();
	}
	/* big enough for any input libFuzzer or the corpus gives */
	int sz = 4 << 20;
	setsockopt(fz_sk[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fz_sk[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (crpc_trace_open(&fz_trace, "/dev/null", &h, &err) < 0) {
		char *msg = crpc_error_format(err);

		fprintf(stderr, "%s", msg ? msg : "crpc_trace_open failed\n");
		abort();
	}
	crpc_trace_set_criu(fz_trace, "/nonexistent/criu", "4.2.1");
	atexit(fz_record_cleanup);
}

/* Send data as one record, with a descriptor of /dev/null when with_fd. 0 if sent. */
static int fz_send(const uint8_t *data, size_t size, bool with_fd)
{
	int fd = with_fd ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
	int rc = crpc__record_send(fz_sk[0], data, size, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);

	if (fd >= 0)
		close(fd);
	return rc;
}

static void fz_decode(crpc_direction dir, const uint8_t *msg, size_t len, int fd)
{
	char line[256];
	char tiny[8];

	crpc_message_summary(dir, msg, len, fd, line, sizeof(line));
	crpc_message_summary(dir, msg, len, fd, tiny, sizeof(tiny));
	crpc_trace_message(dir, msg, len, fd, fz_trace);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	crpc_replay_diff diff;
	crpc_error *err = NULL;
	crpc__record r;
	CriuReq *req;
	CriuResp *resp;
	size_t half = size / 2;

	fz_record_init();

	/* through the socket, as the session and the shim receive it */
	if (fz_send(data, size, size % 3 == 0) == 0) {
		int rc = crpc__record_recv(fz_sk[1], FZ_RECORD_MAX, CRPC__RECORD_MAX_FDS, &r);

		if (rc == CRPC__RECV_OK) {
			if (r.len != size || memcmp(r.buf, data, size))
				abort();
			fz_decode(CRPC_TO_CRIU, r.buf, r.len, r.nfds ? r.fds[0] : -1);
			fz_decode(CRPC_FROM_CRIU, r.buf, r.len, r.nfds ? r.fds[0] : -1);
			crpc__record_release(&r);
		} else if (rc == CRPC__RECV_EOF ? size != 0 : (errno != EMSGSIZE || size <= FZ_RECORD_MAX)) {
			abort();
		}
	}

	req = criu_req__unpack(NULL, size, data);
	if (req)
		criu_req__free_unpacked(req, NULL);
	resp = criu_resp__unpack(NULL, size, data);
	if (resp)
		criu_resp__free_unpacked(resp, NULL);
	fz_decode(CRPC_TO_CRIU, data, size, -1);
	fz_decode(CRPC_FROM_CRIU, data, size, -1);
	crpc_trace_event(fz_trace, "fuzz", NULL, NULL);

	/* the replay's compare: the same bytes are always equal */
	for (int d = CRPC_TO_CRIU; d <= CRPC_FROM_CRIU; d++) {
		int rc = crpc__replay_compare((crpc_direction)d, data, size, data, size, NULL, 0, &diff);

		if (rc != 0)
			abort();
		crpc__replay_compare((crpc_direction)d, data, half, data + half, size - half,
				     crpc_replay_default_ignore, 5, &diff);
		crpc__replay_compare((crpc_direction)d, data, half, data + half, size - half, NULL, 0, &diff);
	}

	/* short inputs also as a field path and a CRIU version */
	if (size < 128) {
		char *s = fz_strndup(data, size);
		crpc_version v;

		if (crpc_replay_field_check(s, &err) < 0)
			fz_drop_error(&err);
		crpc_version_parse(s, &v);
		free(s);
	}
	return 0;
}
