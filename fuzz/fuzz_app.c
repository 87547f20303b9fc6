/*
 * Fuzz target for Application documents as stored with each sync
 * (app_from_json, which reads JSON or YAML) and their JSON (app_to_json).
 * Nothing may crash or leak, and an application that parses must survive a
 * round trip: its JSON parses again, to an application with the same JSON.
 * A broken round trip prints both sides and aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct app *first = NULL, *second = NULL;
	struct error err = ERROR_INIT;
	char *text, *json = NULL, *again = NULL;
	int rc;

	if (size > 65536)
		return 0;
	text = xstrndup((const char *)data, size);
	rc = app_from_json(text, &first, &err);
	if (rc > 0 || (rc < 0 && (first || !err.msg[0])))
		abort();
	if (!first)
		goto out;
	json = app_to_json(first);
	rc = app_from_json(json, &second, &err);
	if (rc != 0 || !second) {
		fprintf(stderr,
			"fuzz_app: the JSON of an application does not parse\n"
			"--- json:\n%s\n--- error: %s\n",
			json, err.msg);
		abort();
	}
	again = app_to_json(second);
	if (strcmp(json, again) != 0) {
		fprintf(stderr,
			"fuzz_app: the round trip changes the JSON\n--- first:\n%s\n"
			"--- second:\n%s\n",
			json, again);
		abort();
	}
out:
	free(again);
	free(json);
	app_free(second);
	app_free(first);
	free(text);
	return 0;
}
