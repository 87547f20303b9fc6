/*
 * Fuzz target for .plumbignore: the first line of the input is a path, the rest
 * is the pattern file. Parsing and matching must never crash or hang, and a
 * path that a pattern list excludes stays excluded when the same list is added
 * twice (patterns are idempotent).
 */
#include <stdlib.h>
#include <string.h>

#include "render/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *newline = memchr(text, '\n', size);
	struct ignore *once = NULL, *twice = NULL;
	char *path;
	size_t path_len;

	if (!newline || size > 4096)
		return 0;
	path_len = (size_t)(newline - text);
	path = xstrndup(text, path_len);
	if (strlen(path) != path_len) { /* embedded NUL: not a path */
		free(path);
		return 0;
	}
	ignore_add(&once, "", newline + 1, size - path_len - 1);
	ignore_add(&twice, "", newline + 1, size - path_len - 1);
	ignore_add(&twice, "", newline + 1, size - path_len - 1);
	for (int dir = 0; dir < 2; dir++) {
		if (ignore_match(once, path, dir) != ignore_match(twice, path, dir))
			abort();
	}
	ignore_free(once);
	ignore_free(twice);
	free(path);
	return 0;
}
