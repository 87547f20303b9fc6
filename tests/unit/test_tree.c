/* Unit tests for trees: path joining and the local-directory tree. */
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

#include "core/core.h"

#include "fixture.h"

static char *scratch;

static void write_file(const char *rel, const char *content)
{
	char *path = xasprintf("%s/%s", scratch, rel);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	free(path);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/plumb-tree-XXXXXX";
	char *p;

	(void)state;
	scratch = xstrdup(mkdtemp(tmpl));
	p = xasprintf("%s/root", scratch);
	mkdir(p, 0755);
	free(p);
	p = xasprintf("%s/root/sub", scratch);
	mkdir(p, 0755);
	free(p);
	write_file("root/b.yaml", "b");
	write_file("root/a.yaml", "a");
	write_file("root/sub/c.yaml", "c");
	write_file("outside.yaml", "secret");
	p = xasprintf("%s/root/escape", scratch);
	assert_int_equal(symlink("../outside.yaml", p), 0);
	free(p);
	p = xasprintf("%s/root/inside", scratch);
	assert_int_equal(symlink("sub/c.yaml", p), 0);
	free(p);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(fixture_remove_tree(scratch), 0);
	free(scratch);
	return 0;
}

static void expect_join(const char *dir, const char *rel, const char *want)
{
	char *out = NULL;
	struct error err = ERROR_INIT;

	assert_int_equal(tree_path_join(dir, rel, &out, &err), 0);
	assert_string_equal(out, want);
	free(out);
}

static void test_path_join(void **state)
{
	char *out = (char *)1;
	struct error err = ERROR_INIT;

	(void)state;
	expect_join("", "", "");
	expect_join("apps", "web", "apps/web");
	expect_join("apps/", "./web//x.yaml", "apps/web/x.yaml");
	expect_join("apps/web", "../base", "apps/base");
	expect_join("apps/web", "../..", "");
	expect_join(NULL, "a/./b/../c", "a/c");
	assert_int_equal(tree_path_join("apps", "../../etc", &out, &err), ERR_INVALID);
	assert_null(out);
	assert_non_null(strstr(err.msg, "leaves the tree"));
	assert_int_equal(tree_path_join("", "/etc/passwd", &out, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "absolute"));
}

static void test_dir_tree_lists_sorted(void **state)
{
	struct tree *t;
	struct vec entries = VEC_INIT;
	struct error err = ERROR_INIT;
	char *root = xasprintf("%s/root", scratch);
	struct tree_entry *e;

	(void)state;
	assert_int_equal(tree_open_dir(&t, root, &err), 0);
	assert_int_equal(tree_list(t, "", &entries, &err), 0);
	assert_int_equal(entries.len, 5);
	e = entries.items[0];
	assert_string_equal(e->name, "a.yaml");
	assert_int_equal(e->type, TREE_FILE);
	e = entries.items[1];
	assert_string_equal(e->name, "b.yaml");
	e = entries.items[2];
	assert_string_equal(e->name, "escape");
	assert_int_equal(e->type, TREE_NONE); /* leads outside: invisible */
	e = entries.items[3];
	assert_string_equal(e->name, "inside");
	assert_int_equal(e->type, TREE_FILE); /* stays inside: followed */
	e = entries.items[4];
	assert_string_equal(e->name, "sub");
	assert_int_equal(e->type, TREE_DIR);
	tree_entries_release(&entries);
	tree_free(t);
	free(root);
}

static void test_dir_tree_reads_and_refuses_escapes(void **state)
{
	struct tree *t;
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;
	enum tree_type type;
	char *root = xasprintf("%s/root", scratch);

	(void)state;
	assert_int_equal(tree_open_dir(&t, root, &err), 0);
	assert_int_equal(tree_read(t, "sub/c.yaml", &b, &err), 0);
	assert_string_equal(b.data, "c");
	buf_reset(&b);
	assert_int_equal(tree_read(t, "inside", &b, &err), 0);
	assert_string_equal(b.data, "c");
	buf_reset(&b);
	assert_int_equal(tree_read(t, "escape", &b, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "outside"));
	assert_int_equal(b.len, 0);
	assert_int_equal(tree_read(t, "missing.yaml", &b, &err), ERR_NOTFOUND);
	assert_int_equal(tree_stat(t, "sub", &type, &err), 0);
	assert_int_equal(type, TREE_DIR);
	assert_int_equal(tree_stat(t, "nope", &type, &err), 0);
	assert_int_equal(type, TREE_NONE);
	buf_release(&b);
	tree_free(t);
	free(root);
}

static void test_dir_tree_open_errors(void **state)
{
	struct tree *t = (struct tree *)1;
	struct error err = ERROR_INIT;
	char *file = xasprintf("%s/outside.yaml", scratch);

	(void)state;
	assert_int_equal(tree_open_dir(&t, "/nonexistent/plumb", &err), ERR_NOTFOUND);
	assert_null(t);
	assert_non_null(strstr(err.msg, "/nonexistent/plumb"));
	assert_int_equal(tree_open_dir(&t, file, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "not a directory"));
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_dir_tree_lists_sorted),
		cmocka_unit_test(test_dir_tree_reads_and_refuses_escapes),
		cmocka_unit_test(test_dir_tree_open_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
