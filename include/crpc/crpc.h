/* SPDX-License-Identifier: MIT */
/*
 * crpc/crpc.h - all of libcrpc's public API.
 *
 * libcrpc checkpoints and restores Linux processes by speaking CRIU's RPC
 * protocol to a `criu swrk` worker. See crpc/session.h to start.
 */
#ifndef CRPC_CRPC_H
#define CRPC_CRPC_H

#include "crpc/checkpoint.h"
#include "crpc/config.h"
#include "crpc/container.h"
#include "crpc/error.h"
#include "crpc/hooks.h"
#include "crpc/images.h"
#include "crpc/inspect.h"
#include "crpc/manifest.h"
#include "crpc/notify.h"
#include "crpc/opts.h"
#include "crpc/opts_table.h"
#include "crpc/replay.h"
#include "crpc/session.h"
#include "crpc/shim.h"
#include "crpc/trace.h"
#include "crpc/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** libcrpc's version string, e.g. "0.1.0". */
const char *crpc_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* CRPC_CRPC_H */
