/* Unit tests for the plain-manifest renderer and .plumbignore matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render/render.h"

#include "fixture.h"

static char *scratch;

/* Writes rel (creating directories) under the scratch directory. */
static void put(const char *rel, const char *content)
{
	char *path = xasprintf("%s/%s", scratch, rel);
	char *cmd = xasprintf("mkdir -p \"$(dirname '%s')\"", path);
	FILE *f;

	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	free(cmd);
	free(path);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/plumb-render-XXXXXX";

	(void)state;
	scratch = xstrdup(mkdtemp(tmpl));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(fixture_remove_tree(scratch), 0);
	free(scratch);
	return 0;
}

/* Renders scratch/dir; returns the code, filling *set or err. */
static int render(const char *dir, struct objset **set, struct error *err)
{
	struct tree *tree;
	char *root = xasprintf("%s/%s", scratch, dir);
	int rc = tree_open_dir(&tree, root, err);

	free(root);
	if (rc < 0)
		return rc;
	rc = render_tree(tree, "", NULL, set, err);
	tree_free(tree);
	return rc;
}

static void test_ignore_patterns(void **state)
{
	struct ignore *ig = NULL;
	const char text[] = "# comment\n"
			    "*.bak\n"
			    "/top.yaml\n"
			    "build/\n"
			    "gen*.yaml\n"
			    "!generated-keep.yaml\n"
			    "docs/**/*.yaml\n"
			    "[ab].yml\n"
			    "\\#hash.yaml\n"
			    "trailing.yaml   \n";

	(void)state;
	ignore_add(&ig, "", text, sizeof(text) - 1);
	assert_true(ignore_match(ig, "x.bak", false));
	assert_true(ignore_match(ig, "deep/er/x.bak", false));
	assert_true(ignore_match(ig, "top.yaml", false));
	assert_false(ignore_match(ig, "sub/top.yaml", false)); /* anchored */
	assert_true(ignore_match(ig, "build", true));
	assert_true(ignore_match(ig, "sub/build", true));
	assert_false(ignore_match(ig, "build", false)); /* directories only */
	assert_true(ignore_match(ig, "generated.yaml", false));
	assert_false(ignore_match(ig, "generated-keep.yaml", false)); /* re-included */
	assert_true(ignore_match(ig, "docs/a.yaml", false));
	assert_true(ignore_match(ig, "docs/x/y/a.yaml", false));
	assert_false(ignore_match(ig, "src/docs/a.yaml", false));
	assert_true(ignore_match(ig, "a.yml", false));
	assert_false(ignore_match(ig, "c.yml", false));
	assert_true(ignore_match(ig, "#hash.yaml", false));
	assert_true(ignore_match(ig, "trailing.yaml", false));
	assert_false(ignore_match(ig, "keep.yaml", false));
	ignore_free(ig);
}

static void test_ignore_nested_base(void **state)
{
	struct ignore *ig = NULL;
	const char top[] = "*.tmp\n";
	const char nested[] = "/local.yaml\n!special.tmp\n";

	(void)state;
	ignore_add(&ig, "", top, sizeof(top) - 1);
	ignore_add(&ig, "apps/web", nested, sizeof(nested) - 1);
	assert_true(ignore_match(ig, "apps/web/local.yaml", false));
	assert_false(ignore_match(ig, "local.yaml", false));
	assert_false(ignore_match(ig, "apps/local.yaml", false));
	assert_true(ignore_match(ig, "apps/a.tmp", false));
	assert_false(ignore_match(ig, "apps/web/special.tmp", false));
	assert_true(ignore_match(ig, "special.tmp", false));
	ignore_free(ig);
}

static void test_ignore_globs(void **state)
{
	struct ignore *ig = NULL;
	const char text[] = "a/**/b\n**/cache\nx?z\n[!0-9]*.num\n";

	(void)state;
	ignore_add(&ig, "", text, sizeof(text) - 1);
	assert_true(ignore_match(ig, "a/b", false));
	assert_true(ignore_match(ig, "a/x/y/b", false));
	assert_false(ignore_match(ig, "a/x/y/bc", false));
	assert_true(ignore_match(ig, "cache", true));
	assert_true(ignore_match(ig, "p/q/cache", true));
	assert_true(ignore_match(ig, "xyz", false));
	assert_false(ignore_match(ig, "xz", false));
	assert_true(ignore_match(ig, "a.num", false));
	assert_false(ignore_match(ig, "1.num", false));
	ignore_free(ig);
}

static void test_ignore_backtracking_is_bounded(void **state)
{
	struct ignore *ig = NULL;
	const char text[] = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n";
	char path[200];
	uint64_t start = time_monotonic_ms();

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	ignore_add(&ig, "", text, sizeof(text) - 1);
	assert_false(ignore_match(ig, path, false));
	/* a hang guard, not a speed goal: unbounded, this takes longer than a lifetime */
	assert_true(time_monotonic_ms() - start < 60000);
	ignore_free(ig);
}

static void test_render_identity_order_and_location(void **state)
{
	struct objset *set = NULL;
	struct error err = ERROR_INIT;
	struct obj *o;

	(void)state;
	put("ok/b.yaml", "---\n"
			 "apiVersion: apps/v1\n"
			 "kind: Deployment\n"
			 "metadata:\n"
			 "  name: web\n"
			 "  namespace: prod\n"
			 "---\n"
			 "# nothing here\n"
			 "---\n"
			 "apiVersion: v1\n"
			 "kind: Service\n"
			 "metadata: {name: web, namespace: prod}\n");
	put("ok/a.json", "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", "
			 "\"metadata\": {\"name\": \"prod\"}}\n");
	put("ok/sub/c.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n");
	put("ok/README.md", "not a manifest: skipped\n");
	assert_int_equal(render("ok", &set, &err), 0);
	assert_int_equal(set->objs.len, 4);

	o = set->objs.items[0];
	assert_string_equal(o->file, "a.json");
	assert_string_equal(o->id.kind, "Namespace");
	assert_string_equal(o->id.group, "");
	assert_string_equal(o->id.version, "v1");
	assert_string_equal(o->id.namespace, "");
	o = set->objs.items[1];
	assert_string_equal(o->file, "b.yaml");
	assert_int_equal(o->line, 2);
	assert_string_equal(o->id.group, "apps");
	assert_string_equal(o->id.version, "v1");
	assert_string_equal(o->id.kind, "Deployment");
	assert_string_equal(o->id.namespace, "prod");
	assert_string_equal(o->id.name, "web");
	o = set->objs.items[2];
	assert_string_equal(o->id.kind, "Service");
	assert_int_equal(o->line, 10);
	o = set->objs.items[3];
	assert_string_equal(o->file, "sub/c.yml");

	struct obj_id id = {"apps", "v1", "Deployment", "prod", "web"};

	assert_ptr_equal(objset_find(set, &id), set->objs.items[1]);
	id.namespace = "dev";
	assert_null(objset_find(set, &id));
	objset_free(set);
}

static void test_render_hash_ignores_formatting(void **state)
{
	struct objset *one = NULL, *two = NULL, *three = NULL;
	struct error err = ERROR_INIT;

	(void)state;
	put("h1/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
			 "data:\n  a: \"1\"\n  b: two\n");
	put("h2/x.json", "{\"metadata\":{\"name\":\"c\"},\"data\":{\"b\":\"two\",\"a\":\"1\"},"
			 "\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\"}");
	put("h3/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
			 "data:\n  a: 1\n  b: two\n");
	assert_int_equal(render("h1", &one, &err), 0);
	assert_int_equal(render("h2", &two, &err), 0);
	assert_int_equal(render("h3", &three, &err), 0);
	assert_memory_equal(((struct obj *)one->objs.items[0])->hash,
			    ((struct obj *)two->objs.items[0])->hash, SHA256_LEN);
	/* the string "1" and the number 1 are different content */
	assert_memory_not_equal(((struct obj *)one->objs.items[0])->hash,
				((struct obj *)three->objs.items[0])->hash, SHA256_LEN);
	objset_free(one);
	objset_free(two);
	objset_free(three);
}

static void expect_error(const char *dir, int code, const char *needle)
{
	struct objset *set = (struct objset *)1;
	struct error err = ERROR_INIT;

	assert_int_equal(render(dir, &set, &err), code);
	assert_null(set);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' does not contain '%s'", err.msg, needle);
}

static void test_render_errors_name_file_and_line(void **state)
{
	(void)state;
	put("e1/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  bad: [\n");
	expect_error("e1", ERR_INVALID, "bad.yaml:");
	put("e2/x.yaml", "kind: ConfigMap\nmetadata:\n  name: x\n");
	expect_error("e2", ERR_INVALID, "x.yaml:1:1: object has no 'apiVersion'");
	put("e3/x.yaml", "---\napiVersion: v1\nmetadata:\n  name: x\n");
	expect_error("e3", ERR_INVALID, "x.yaml:2:1: object has no 'kind'");
	put("e4/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {}\n");
	expect_error("e4", ERR_INVALID, "x.yaml:1:1: object has no 'metadata.name'");
	put("e5/x.yaml", "apiVersion: v1\nkind: ConfigMap\n");
	expect_error("e5", ERR_INVALID, "object has no 'metadata.name'");
	put("e6/x.yaml", "apiVersion: v1\nkind: 12\nmetadata:\n  name: x\n");
	expect_error("e6", ERR_INVALID, "x.yaml:2:7: 'kind' must be a non-empty string");
	put("e7/x.yaml", "- a\n- b\n");
	expect_error("e7", ERR_INVALID, "x.yaml:1:1: a manifest must be a mapping");
	put("e8/x.json", "{\"apiVersion\": \"v1\",, }");
	expect_error("e8", ERR_INVALID, "x.json:1:");
}

static void test_render_duplicate_names_both_places(void **state)
{
	(void)state;
	put("d/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
			"  namespace: n\n");
	put("d/sub/b.yaml", "# first line\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
			    "  name: x\n  namespace: n\n");
	expect_error("d", ERR_CONFLICT,
		     "sub/b.yaml:2: duplicate object ConfigMap/n/x: already defined at a.yaml:1");
}

static void test_render_collects_several_errors(void **state)
{
	struct objset *set = NULL;
	struct error err = ERROR_INIT;

	(void)state;
	put("many/a.yaml", "kind: A\nmetadata: {name: a}\n");
	put("many/b.yaml", "apiVersion: v1\nmetadata: {name: b}\n");
	assert_int_equal(render("many", &set, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "a.yaml:1:1: object has no 'apiVersion'"));
	assert_non_null(strstr(err.msg, "\nb.yaml:1:1: object has no 'kind'"));
}

static void test_render_kustomization_in_subdir(void **state)
{
	struct objset *set = NULL;
	struct error err = ERROR_INIT;
	struct obj *obj;

	(void)state;
	put("k/base/kustomization.yaml", "resources: [cm.yaml]\n");
	put("k/base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
	put("k/base/ignored.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n");
	put("k/plain.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n");
	assert_int_equal(render("k", &set, &err), 0);
	/* the kustomization is built (only what it lists), the plain file read as is */
	assert_int_equal(set->objs.len, 2);
	obj = set->objs.items[0];
	assert_string_equal(obj->id.kind, "Secret");
	obj = set->objs.items[1];
	assert_string_equal(obj->id.kind, "ConfigMap");
	assert_string_equal(obj->file, "base/cm.yaml");
	assert_int_equal(obj->line, 1);
	objset_free(set);
}

static void test_render_kustomization_unknown_field(void **state)
{
	(void)state;
	put("u/kustomization.yaml", "resources: [cm.yaml]\nnamePrefx: a-\n");
	put("u/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
	expect_error("u", ERR_INVALID,
		     "kustomization.yaml:2:1: unknown field 'namePrefx' in the kustomization");
}

static void test_render_plumbignore_and_list(void **state)
{
	struct objset *set = NULL;
	struct error err = ERROR_INIT;

	(void)state;
	put("ig/.plumbignore", "drafts/\n*.draft.yaml\n");
	put("ig/drafts/x.yaml", "not: [valid\n");
	put("ig/y.draft.yaml", "also broken: [\n");
	put("ig/list.yaml", "apiVersion: v1\nkind: List\nitems:\n"
			    "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n"
			    "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: two}\n");
	assert_int_equal(render("ig", &set, &err), 0);
	assert_int_equal(set->objs.len, 2);
	assert_string_equal(((struct obj *)set->objs.items[0])->id.name, "one");
	assert_int_equal(((struct obj *)set->objs.items[0])->line, 4);
	assert_string_equal(((struct obj *)set->objs.items[1])->id.name, "two");
	objset_free(set);
}

static void test_render_path_not_found(void **state)
{
	struct tree *tree;
	struct objset *set = NULL;
	struct error err = ERROR_INIT;

	(void)state;
	put("p/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
	assert_int_equal(tree_open_dir(&tree, scratch, &err), 0);
	assert_int_equal(render_tree(tree, "p/nope", NULL, &set, &err), ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "path 'p/nope' not found"));
	assert_int_equal(render_tree(tree, "../etc", NULL, &set, &err), ERR_INVALID);
	assert_int_equal(render_tree(tree, "p/x.yaml", NULL, &set, &err), 0);
	assert_int_equal(set->objs.len, 1);
	objset_free(set);
	tree_free(tree);
}

static void test_render_write_formats(void **state)
{
	struct objset *set = NULL;
	struct error err = ERROR_INIT;
	struct buf yaml = BUF_INIT, json = BUF_INIT;

	(void)state;
	put("w/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n"
			"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n");
	assert_int_equal(render("w", &set, &err), 0);
	assert_int_equal(objset_write(set, RENDER_YAML, NULL, &yaml), 0);
	assert_string_equal(yaml.data, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
				       "data:\n  k: v\n---\napiVersion: v1\nkind: ConfigMap\n"
				       "metadata:\n  name: b\n");
	assert_int_equal(objset_write(set, RENDER_JSON, "{\"sha\": \"abc\"}", &json), 0);
	assert_non_null(strstr(json.data, "\"revision\": {\n    \"sha\": \"abc\"\n  }"));
	assert_non_null(strstr(json.data, "\"source\": \"a.yaml:1\""));
	assert_non_null(strstr(json.data, "\"source\": \"a.yaml:8\""));
	assert_non_null(strstr(json.data, "\"sha256\": \""));
	assert_non_null(strstr(json.data, "\"object\": {\n"));
	buf_release(&yaml);
	buf_release(&json);
	objset_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ignore_patterns),
		cmocka_unit_test(test_ignore_nested_base),
		cmocka_unit_test(test_ignore_globs),
		cmocka_unit_test(test_ignore_backtracking_is_bounded),
		cmocka_unit_test(test_render_identity_order_and_location),
		cmocka_unit_test(test_render_hash_ignores_formatting),
		cmocka_unit_test(test_render_errors_name_file_and_line),
		cmocka_unit_test(test_render_duplicate_names_both_places),
		cmocka_unit_test(test_render_collects_several_errors),
		cmocka_unit_test(test_render_kustomization_in_subdir),
		cmocka_unit_test(test_render_kustomization_unknown_field),
		cmocka_unit_test(test_render_plumbignore_and_list),
		cmocka_unit_test(test_render_path_not_found),
		cmocka_unit_test(test_render_write_formats),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
