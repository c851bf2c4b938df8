/* SPDX-License-Identifier: MIT */
/*
 * dlib.h - a shared library opened on first use. Linking libraries that
 * only some commands need (libcrypto for digests and signatures, libcurl
 * for dockerd's API) would make every crpc start pay their relocations.
 * Private: not installed.
 */
#ifndef CRPC_DLIB_H
#define CRPC_DLIB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct crpc__dlib {
	const char *soname;
	pthread_mutex_t lock;
	bool tried;
	void *dl;      /* RTLD_LOCAL; stays open */
	char why[256]; /* dlerror() of a failed open */
} crpc__dlib;

#define CRPC__DLIB_INIT(soname)                                      \
	{                                                            \
		(soname), PTHREAD_MUTEX_INITIALIZER, false, NULL, "" \
	}

/*
 * The address of lib's function NAME; the library is opened once per
 * process. NULL when it cannot be opened or has no such function: then
 * why (whysz bytes), if still empty, says which.
 */
void *crpc__dlib_sym(crpc__dlib *lib, const char *name, char *why, size_t whysz);

/*
 * Fill the function pointer TABLE.FIELD with lib's NAME; TABLE.why (a char
 * array) receives the first failure. dlsym returns void *: the function
 * pointer is stored through memcpy, as POSIX allows.
 */
#define CRPC__DLIB_LOAD(lib, table, field, name)                                          \
	do {                                                                              \
		void *p_ = crpc__dlib_sym((lib), name, (table).why, sizeof((table).why)); \
		memcpy(&(table).field, &p_, sizeof((table).field));                       \
	} while (0)

#endif /* CRPC_DLIB_H */
