/* Helpers the unit tests share (include after cmocka.h). */
#ifndef PLUMB_TEST_FIXTURE_H
#define PLUMB_TEST_FIXTURE_H

#include "core/core.h"
#include "yaml/yaml.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

static inline int fixture_remove_entry(const char *path, const struct stat *st, int flag,
				       struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes a scratch directory and everything in it (symlinks are not followed). */
static inline int fixture_remove_tree(const char *dir)
{
	return nftw(dir, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
