/* SPDX-License-Identifier: MIT */
/*
 * docker_api.h - dockerd's HTTP API on its unix socket, through libcurl
 * (opened on first use). A start of the docker CLI costs 30 to 90 ms, a
 * request on the socket one or two; docker.c uses this wherever it knows
 * the socket and keeps the CLI for the rest (another transport, a context).
 * Private: not installed.
 */
#ifndef CRPC_DOCKER_API_H
#define CRPC_DOCKER_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "crpc/error.h"

/* A longer reply is an error (EFBIG): crpc reads small ones; a listing of many containers stays far below. */
#define CRPC__DOCKER_REPLY_MAX (32u << 20)

/* The API version spoken: Docker 20.10's, which later daemons still serve. */
#define CRPC__DOCKER_API_VERSION "v1.41"

/* What dockerd answered. */
typedef struct crpc__docker_reply {
	long status;       /* HTTP status */
	json_t *json;      /* the body as JSON, NULL when empty or not JSON */
	char message[512]; /* a failure's "message" (or its body), "" on success */
} crpc__docker_reply;

/*
 * Whether libcurl can be used: it is opened on the first call. false with
 * why (whysz bytes) when it cannot be.
 */
bool crpc__docker_api_ready(char *why, size_t whysz);

/*
 * METHOD /v1.41PATH on the unix socket sock, with body (a JSON object, or
 * NULL) as the request's body. 0 when dockerd answered, whatever the
 * status (*r to release); -1 with *err when it did not (class
 * CRPC_EXIT_ENV when nothing listens at sock). path must be escaped
 * already. Calls are serialized; the connection is kept for the next.
 */
int crpc__docker_api(const char *sock, const char *method, const char *path, json_t *body,
		     crpc__docker_reply *r, crpc_error **err);
void crpc__docker_reply_release(crpc__docker_reply *r);

#endif /* CRPC_DOCKER_API_H */
