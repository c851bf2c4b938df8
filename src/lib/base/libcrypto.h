/* SPDX-License-Identifier: MIT */
/*
 * libcrypto.h - OpenSSL's libcrypto opened on first use, for the digests
 * (sha256.c) and the signatures (sign.c). Linking it would make every crpc
 * start pay its relocations, although most commands never hash or sign.
 * Private: not installed.
 */
#ifndef CRPC_LIBCRYPTO_H
#define CRPC_LIBCRYPTO_H

#include <stddef.h>
#include <string.h>

#include <openssl/opensslv.h>

#define CRPC__STR_(x) #x
#define CRPC__STR(x) CRPC__STR_(x)
/* the soname of the libcrypto whose headers this was built with: libcrypto.so.3 */
#define CRPC__LIBCRYPTO_SONAME "libcrypto.so." CRPC__STR(OPENSSL_VERSION_MAJOR)

/*
 * The address of libcrypto's function NAME; the library is opened once per
 * process (RTLD_LOCAL) and stays open. NULL when it cannot be opened or has
 * no such function: then why (whysz bytes), if still empty, says which.
 */
void *crpc__libcrypto_sym(const char *name, char *why, size_t whysz);

/*
 * Fill the function pointer TABLE.FIELD with libcrypto's NAME; TABLE.why
 * (a char array) receives the first failure. dlsym returns void *: the
 * function pointer is stored through memcpy, as POSIX allows.
 */
#define CRPC__LIBCRYPTO_LOAD(table, field, name)                                        \
	do {                                                                            \
		void *p_ = crpc__libcrypto_sym(name, (table).why, sizeof((table).why)); \
		memcpy(&(table).field, &p_, sizeof((table).field));                     \
	} while (0)

#endif /* CRPC_LIBCRYPTO_H */
