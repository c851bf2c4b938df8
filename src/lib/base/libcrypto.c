/* SPDX-License-Identifier: MIT */
/*
 * libcrypto.c - the one dlopen() of OpenSSL's libcrypto (libcrypto.h).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "libcrypto.h"

static struct {
	void *dl;
	char why[256]; /* dlerror() of a failed open */
} lib;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_open(void)
{
	lib.dl = dlopen(CRPC__LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib.dl) {
		const char *e = dlerror();

		snprintf(lib.why, sizeof(lib.why), "%s", e ? e : "dlopen failed");
	}
}

void *crpc__libcrypto_sym(const char *name, char *why, size_t whysz)
{
	void *p = NULL;

	pthread_once(&lib_once, lib_open);
	if (lib.dl)
		p = dlsym(lib.dl, name);
	if (!p && why && whysz && !why[0]) {
		if (!lib.dl)
			snprintf(why, whysz, "%s", lib.why);
		else
			snprintf(why, whysz, "%s has no %s", CRPC__LIBCRYPTO_SONAME, name);
	}
	return p;
}
