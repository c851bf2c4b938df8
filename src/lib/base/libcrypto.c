/* SPDX-License-Identifier: MIT */
/*
 * libcrypto.c - the one handle on OpenSSL's libcrypto (libcrypto.h).
 */
#include "libcrypto.h"

crpc__dlib crpc__libcrypto = CRPC__DLIB_INIT(CRPC__LIBCRYPTO_SONAME);
