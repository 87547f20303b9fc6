/* Helpers the unit tests share (include after cmocka.h). */
#ifndef PLUMB_TEST_FIXTURE_H
#define PLUMB_TEST_FIXTURE_H

#include "core/core.h"
#include "yaml/yaml.h"

#include <string.h>

/* The one document of a YAML fixture, in arena; the test fails if it does not parse. */
static inline struct node *parse_object(struct arena *arena, const char *text)
{
	struct vec docs = VEC_INIT;
	struct error err = ERROR_INIT;
	struct yaml_doc *doc;

	if (yaml_parse(arena, "fixture.yaml", text, strlen(text), NULL, &docs, &err) != 0)
		fail_msg("fixture does not parse: %s", err.msg);
	assert_int_equal(docs.len, 1);
	doc = docs.items[0];
	vec_release(&docs, NULL);
	return doc->root;
}

#endif
