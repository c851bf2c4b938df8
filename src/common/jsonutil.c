/* SPDX-License-Identifier: MIT */
/*
 * jsonutil.c - JSON values that libcrpc (the manifest) and the crpc tool
 * (--json output) build the same way. Compiled into the library; the tool
 * reaches it through src/common/jsonutil.h, never through a library header.
 */
#include <string.h>
#include <stdlib.h>

#include "jsonutil.h"

json_t *crpc__json_text(const char *s)
{
	json_t *j;
	char *copy;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = (*p == '\n' || *p == '\t') ? *p : '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *crpc__json_option_value(const char *v)
{
	size_t n;

	if (!v)
		return json_null();
	if (strcmp(v, "true") == 0)
		return json_true();
	if (strcmp(v, "false") == 0)
		return json_false();
	n = strlen(v);
	if (n > 0 && n <= 18 && strspn(v, "0123456789") == n && (v[0] != '0' || n == 1))
		return json_integer((json_int_t)strtoll(v, NULL, 10));
	return crpc__json_text(v);
}
