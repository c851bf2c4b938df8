/* SPDX-License-Identifier: MIT */
/*
 * libcrypto.h - OpenSSL's libcrypto opened on first use, for the digests
 * (sha256.c) and the signatures (sign.c); most commands never hash or sign.
 * Private: not installed.
 */
#ifndef CRPC_LIBCRYPTO_H
#define CRPC_LIBCRYPTO_H

#include <openssl/opensslv.h>

#include "dlib.h"

#define CRPC__STR_(x) #x
#define CRPC__STR(x) CRPC__STR_(x)
/* the soname of the libcrypto whose headers this was built with: libcrypto.so.3 */
#define CRPC__LIBCRYPTO_SONAME "libcrypto.so." CRPC__STR(OPENSSL_VERSION_MAJOR)

/* The library, opened on first use (dlib.h). */
extern crpc__dlib crpc__libcrypto;

/* Fill the function pointer TABLE.FIELD with libcrypto's NAME (CRPC__DLIB_LOAD). */
#define CRPC__LIBCRYPTO_LOAD(table, field, name) CRPC__DLIB_LOAD(&crpc__libcrypto, table, field, name)

#endif /* CRPC_LIBCRYPTO_H */
