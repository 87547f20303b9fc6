/*
 * Fuzz target for semantic versions and ranges: the first line is a version,
 * the rest a range. Nothing may crash; a parsed version compares equal to
 * itself, and "=V" (V exactly) is satisfied by V.
 */
#include <stdlib.h>
#include <string.h>

#include "source/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *newline, *range;
	struct semver v = {0};
	bool ok = false;

	if (size > 1024)
		return 0;
	text = xstrndup((const char *)data, size);
	newline = strchr(text, '\n');
	range = newline ? newline + 1 : text + strlen(text);
	if (newline)
		*newline = '\0';
	if (semver_parse(text, &v) == 0) {
		char *exact;

		if (semver_cmp(&v, &v) != 0)
			abort();
		exact = xasprintf("=%s", text[0] == 'v' ? text + 1 : text);
		if (semver_satisfies(&v, exact, &ok, NULL) == 0 && !ok && !strchr(text, '+'))
			abort();
		free(exact);
		semver_satisfies(&v, range, &ok, NULL);
		semver_release(&v);
	}
	free(text);
	return 0;
}
