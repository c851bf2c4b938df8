/* SPDX-License-Identifier: MIT */
/*
 * dlib.c - libraries opened on first use (dlib.h).
 */
#include <dlfcn.h>
#include <stdio.h>

#include "dlib.h"

void *crpc__dlib_sym(crpc__dlib *lib, const char *name, char *why, size_t whysz)
{
	void *p = NULL;

	pthread_mutex_lock(&lib->lock);
	if (!lib->tried) {
		lib->tried = true;
		lib->dl = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
		if (!lib->dl) {
			const char *e = dlerror();

			snprintf(lib->why, sizeof(lib->why), "%s", e ? e : "dlopen failed");
		}
	}
	pthread_mutex_unlock(&lib->lock);
	if (lib->dl)
		p = dlsym(lib->dl, name);
	if (!p && why && whysz && !why[0]) {
		if (!lib->dl)
			snprintf(why, whysz, "%s", lib->why);
		else
			snprintf(why, whysz, "%s has no %s", lib->soname, name);
	}
	return p;
}
