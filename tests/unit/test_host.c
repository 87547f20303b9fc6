/*
 * Unit tests for the host target: resource parsing from real manifests
 * (rendered from a temp directory), and every host operation on a real root
 * in a temp directory. Runs as root, so ownership is checked with uid/gid 1
 * (daemon). host.c is included to reach the target's private state (the
 * openat2 fallback switch).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "targets/host/host.c"

static char *root;    /* the host root */
static char *repo;    /* manifests */
static char *outside; /* a directory outside the root */
static struct host_target *target;
static struct tree *tree;
static struct vec sets; /* struct objset *, kept alive for the resources */
static struct vec resources;
static unsigned manifest_count;
static mode_t saved_umask;

static void run(const char *fmt, ...) PRINTF_LIKE(1, 2);

static void run(const char *fmt, ...)
{
	struct buf cmd = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd.data), 0);
	buf_release(&cmd);
}

/* Writes dir/rel, creating its directories. */
static void put(const char *dir, const char *rel, const char *content)
{
	char *path = xasprintf("%s/%s", dir, rel);
	FILE *f;

	run("mkdir -p \"$(dirname '%s')\"", path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* The real path of a path inside the root ("/etc/x"); caller frees. */
static char *at(const char *path)
{
	return xasprintf("%s%s", root, path);
}

static char *slurp(const char *real)
{
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;

	if (buf_read_file(&b, real, &err) < 0)
		fail_msg("%s", err.msg);
	return buf_detach(&b, NULL);
}

static void make_file(const char *path, const char *content, mode_t mode)
{
	char *real = at(path);
	FILE *f = fopen(real, "w");

	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(real, mode), 0);
	free(real);
}

static void make_dir(const char *path)
{
	char *real = at(path);

	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(chmod(real, 0755), 0);
	free(real);
}

static void make_link(const char *path, const char *link_target)
{
	char *real = at(path);

	assert_int_equal(symlink(link_target, real), 0);
	free(real);
}

static struct stat lstat_of(const char *path)
{
	char *real = at(path);
	struct stat st;

	if (lstat(real, &st) < 0)
		fail_msg("lstat '%s' failed", real);
	free(real);
	return st;
}

static bool exists(const char *real)
{
	struct stat st;

	return lstat(real, &st) == 0;
}

static bool exists_in_root(const char *path)
{
	char *real = at(path);
	bool found = exists(real);

	free(real);
	return found;
}

/* Entries of a real directory whose name starts with ".plumb-tmp.". */
static unsigned count_temp(const char *path)
{
	char *real = at(path);
	DIR *dir = opendir(real);
	struct dirent *de;
	unsigned count = 0;

	assert_non_null(dir);
	while ((de = readdir(dir)))
		count += strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0;
	closedir(dir);
	free(real);
	return count;
}

static unsigned count_entries(const char *real)
{
	DIR *dir = opendir(real);
	struct dirent *de;
	unsigned count = 0;

	assert_non_null(dir);
	while ((de = readdir(dir)))
		count += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(dir);
	return count;
}

static void expect_error(int rc, int code, const struct error *err, const char *text)
{
	if (rc != code || !strstr(err->msg, text))
		fail_msg("want %s error containing \"%s\"; got %d (%s): %s", error_code_name(code),
			 text, rc, error_code_name(rc), err->msg);
}

static void expect_ok(int rc, const struct error *err)
{
	if (rc != 0)
		fail_msg("unexpected error %d: %s", rc, err->msg);
}

/* Renders the manifest `file` of the repo (written with text) and parses its object. */
static int parse_at(const char *file, const char *text, struct host_resource **out,
		    struct error *err)
{
	struct objset *set;
	int rc;

	*out = NULL;
	put(repo, file, text);
	if (!tree) {
		rc = tree_open_dir(&tree, repo, err);
		expect_ok(rc, err);
	}
	rc = render_tree(tree, file, NULL, &set, err);
	if (rc < 0)
		fail_msg("render: %s", err->msg);
	vec_push(&sets, set);
	assert_int_equal(set->objs.len, 1);
	rc = host_resource_parse(set->objs.items[0], tree, out, err);
	if (rc == 0) {
		assert_non_null(*out);
		vec_push(&resources, *out);
	} else {
		assert_null(*out);
	}
	return rc;
}

/* Parses "apiVersion..kind..metadata.name..spec:" followed by the spec lines given. */
static int parse(const char *kind, const char *spec, struct host_resource **out, struct error *err)
{
	char *file = xasprintf("m%u.yaml", ++manifest_count);
	char *text = xasprintf("apiVersion: host.plumb.dev/v1\nkind: %s\nmetadata:\n  name: "
			       "test\nspec:\n%s",
			       kind, spec);
	int rc = parse_at(file, text, out, err);

	free(text);
	free(file);
	return rc;
}

static struct host_resource *must_parse(const char *kind, const char *spec)
{
	struct error err = ERROR_INIT;
	struct host_resource *r;

	expect_ok(parse(kind, spec, &r, &err), &err);
	return r;
}

/* Parses and applies; returns apply's code. */
static int apply(const char *kind, const char *spec, struct error *err)
{
	return host_apply(target, must_parse(kind, spec), err);
}

static void apply_ok(const char *kind, const char *spec)
{
	struct error err = ERROR_INIT;

	expect_ok(apply(kind, spec, &err), &err);
}

static void free_resource(void *r)
{
	host_resource_free(r);
}

static void free_set(void *set)
{
	objset_free(set);
}

static int setup(void **state)
{
	char root_tmpl[] = "/tmp/plumb-host-root-XXXXXX";
	char repo_tmpl[] = "/tmp/plumb-host-repo-XXXXXX";
	char outside_tmpl[] = "/tmp/plumb-host-outside-XXXXXX";
	struct error err = ERROR_INIT;

	(void)state;
	root = xstrdup(mkdtemp(root_tmpl));
	repo = xstrdup(mkdtemp(repo_tmpl));
	outside = xstrdup(mkdtemp(outside_tmpl));
	expect_ok(host_target_open(&target, root, &err), &err);
	/* A strict umask: modes plumb sets must not depend on it. */
	saved_umask = umask(077);
	manifest_count = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	umask(saved_umask);
	vec_release(&resources, free_resource);
	vec_release(&sets, free_set);
	tree_free(tree);
	tree = NULL;
	host_target_free(target);
	target = NULL;
	run("rm -rf '%s' '%s' '%s'", root, repo, outside);
	FREE_AND_NULL(root);
	FREE_AND_NULL(repo);
	FREE_AND_NULL(outside);
	return 0;
}

/* ---- parsing ---- */

static void test_parse_file_fields(void **state)
{
	struct host_resource *r = must_parse("File", "  path: /etc/motd\n"
						     "  content: \"hello\\n\"\n"
						     "  mode: \"0640\"\n"
						     "  owner: daemon\n"
						     "  group: daemon\n");

	(void)state;
	assert_int_equal(r->kind, HOST_FILE);
	assert_string_equal(r->path, "/etc/motd");
	assert_int_equal(r->content.len, 6);
	assert_memory_equal(r->content.data, "hello\n", 6);
	assert_true(r->has_mode);
	assert_int_equal(r->mode, 0640);
	assert_true(r->has_uid);
	assert_int_equal(r->uid, 1);
	assert_true(r->has_gid);
	assert_int_equal(r->gid, 1);
	assert_null(r->target);
	assert_string_equal(r->obj->id.name, "test");
	assert_string_equal(host_kind_name(r->kind), "File");

	r = must_parse("File", "  path: /x\n  content: \"\"\n");
	assert_int_equal(r->content.len, 0);
	assert_false(r->has_mode);
	assert_false(r->has_uid);
	assert_false(r->has_gid);
}

static void test_parse_mode_forms(void **state)
{
	static const struct {
		const char *text;
		uint32_t mode;
	} good[] = {
		{"0644", 0644},	 {"\"0644\"", 0644}, {"644", 0644}, {"'0755'", 0755},
		{"0o600", 0600}, {"4755", 04755},    {"\"0\"", 0},  {"07777", 07777},
	};
	static const char *const bad[] = {"0x1A4", "8",	  "\"0999\"", "10000", "true",
					  "\"\"",  "6.5", "\"0o\"",   "[1]",   "\"-644\""};
	struct error err = ERROR_INIT;
	struct host_resource *r;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char *spec = xasprintf("  path: /x\n  content: x\n  mode: %s\n", good[i].text);

		r = must_parse("File", spec);
		assert_true(r->has_mode);
		if (r->mode != good[i].mode)
			fail_msg("mode %s: got %o", good[i].text, r->mode);
		free(spec);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *spec = xasprintf("  path: /x\n  content: x\n  mode: %s\n", bad[i]);

		/* The mode's value is on line 8. */
		expect_error(parse("File", spec, &r, &err), ERR_INVALID, &err, ":8:");
		assert_non_null(strstr(err.msg, ": File/test: "));
		assert_non_null(strstr(err.msg, "mode"));
		free(spec);
	}
	r = must_parse("Directory", "  path: /d\n  mode: 0700\n");
	assert_int_equal(r->mode, 0700);
}

static void test_parse_owner_group(void **state)
{
	struct error err = ERROR_INIT;
	struct host_resource *r;

	(void)state;
	r = must_parse("File", "  path: /x\n  content: x\n  owner: 1\n  group: \"1\"\n");
	assert_true(r->has_uid && r->has_gid);
	assert_int_equal(r->uid, 1);
	assert_int_equal(r->gid, 1);
	r = must_parse("Directory", "  path: /d\n  owner: root\n  group: 0\n");
	assert_true(r->has_uid && r->has_gid);
	assert_int_equal(r->uid, 0);
	assert_int_equal(r->gid, 0);
	r = must_parse("File", "  path: /x\n  content: x\n  owner: 4294967294\n");
	assert_int_equal(r->uid, 4294967294u);

	expect_error(
		parse("File", "  path: /x\n  content: x\n  owner: no-such-user-plumb\n", &r, &err),
		ERR_NOTFOUND, &err, "user 'no-such-user-plumb' does not exist on this host");
	expect_error(
		parse("File", "  path: /x\n  content: x\n  group: no-such-group-plumb\n", &r, &err),
		ERR_NOTFOUND, &err, "group 'no-such-group-plumb' does not exist");
	expect_error(parse("File", "  path: /x\n  content: x\n  owner: -1\n", &r, &err),
		     ERR_INVALID, &err, "not a valid user id");
	expect_error(parse("File", "  path: /x\n  content: x\n  owner: 4294967295\n", &r, &err),
		     ERR_INVALID, &err, "not a valid user id");
	expect_error(parse("File", "  path: /x\n  content: x\n  owner: \"\"\n", &r, &err),
		     ERR_INVALID, &err, "'spec.owner' must be a user name or id");
	expect_error(parse("File", "  path: /x\n  content: x\n  group: true\n", &r, &err),
		     ERR_INVALID, &err, "'spec.group' must be a group name or id, not");
}

static void test_parse_source(void **state)
{
	struct error err = ERROR_INIT;
	struct host_resource *r;
	const char *head = "apiVersion: host.plumb.dev/v1\n"
			   "kind: File\n"
			   "metadata:\n"
			   "  name: index\n"
			   "spec:\n"
			   "  path: /srv/www/index.html\n";
	char *text;

	(void)state;
	put(repo, "apps/web/files/index.html", "<h1>hi</h1>\n");
	put(repo, "apps/shared/common.conf", "shared\n");
	put(repo, "top.txt", "top\n");

	text = xasprintf("%s  source: files/index.html\n", head);
	expect_ok(parse_at("apps/web/site.yaml", text, &r, &err), &err);
	assert_string_equal(r->content.data, "<h1>hi</h1>\n");
	free(text);

	/* ".." is fine while it stays inside the tree. */
	text = xasprintf("%s  source: ../shared/./common.conf\n", head);
	expect_ok(parse_at("apps/web/site.yaml", text, &r, &err), &err);
	assert_string_equal(r->content.data, "shared\n");
	free(text);
	text = xasprintf("%s  source: top.txt\n", head);
	expect_ok(parse_at("site.yaml", text, &r, &err), &err);
	assert_string_equal(r->content.data, "top\n");
	free(text);

	text = xasprintf("%s  source: ../../../etc/passwd\n", head);
	expect_error(parse_at("apps/web/site.yaml", text, &r, &err), ERR_INVALID, &err,
		     "apps/web/site.yaml:7:11: File/index: source '../../../etc/passwd' leaves "
		     "the tree");
	free(text);
	text = xasprintf("%s  source: /etc/passwd\n", head);
	expect_error(parse_at("apps/web/site.yaml", text, &r, &err), ERR_INVALID, &err,
		     "source '/etc/passwd' leaves the tree");
	free(text);

	text = xasprintf("%s  source: files/missing.html\n", head);
	expect_error(parse_at("apps/web/site.yaml", text, &r, &err), ERR_NOTFOUND, &err,
		     "apps/web/site.yaml:7:11: File/index: source 'files/missing.html' not found");
	free(text);
	text = xasprintf("%s  source: files\n", head);
	expect_error(parse_at("apps/web/site.yaml", text, &r, &err), ERR_INVALID, &err,
		     "source 'files' is a directory");
	free(text);
	text = xasprintf("%s  source: \"\"\n", head);
	expect_error(parse_at("apps/web/site.yaml", text, &r, &err), ERR_INVALID, &err,
		     "'spec.source' must not be empty");
	free(text);
}

static void test_parse_content_source_exclusive(void **state)
{
	struct error err = ERROR_INIT;
	struct host_resource *r;

	(void)state;
	put(repo, "a.txt", "a");
	expect_error(parse("File", "  path: /x\n  content: x\n  source: a.txt\n", &r, &err),
		     ERR_INVALID, &err, "'spec.content' and 'spec.source' exclude each other");
	expect_error(parse("File", "  path: /x\n", &r, &err), ERR_INVALID, &err,
		     "a File needs 'spec.content' or 'spec.source'");
	expect_error(parse("File", "  path: /x\n  content: 42\n", &r, &err), ERR_INVALID, &err,
		     "'spec.content' must be a string, not");
}

static void test_parse_directory_and_symlink(void **state)
{
	struct error err = ERROR_INIT;
	struct host_resource *r;

	(void)state;
	r = must_parse("Directory", "  path: /srv/app\n  mode: \"2775\"\n  owner: daemon\n"
				    "  group: 1\n  purge: true\n");
	assert_int_equal(r->kind, HOST_DIRECTORY);
	assert_string_equal(r->path, "/srv/app");
	assert_int_equal(r->mode, 02775);
	assert_int_equal(r->uid, 1);
	assert_int_equal(r->gid, 1);
	assert_true(r->purge);
	assert_int_equal(r->content.len, 0);
	r = must_parse("Directory", "  path: /srv/app\n");
	assert_false(r->purge);
	assert_false(r->has_mode);
	expect_error(parse("Directory", "  path: /d\n  purge: \"yes\"\n", &r, &err), ERR_INVALID,
		     &err, "'spec.purge' must be true or false");

	r = must_parse("Symlink", "  path: /opt/app/current\n  target: releases/1.4.2\n");
	assert_int_equal(r->kind, HOST_SYMLINK);
	assert_string_equal(r->target, "releases/1.4.2");
	r = must_parse("Symlink", "  path: /opt/app/current\n  target: /opt/app/../x//y\n");
	assert_string_equal(r->target, "/opt/app/../x//y");
	expect_error(parse("Symlink", "  path: /l\n  target: \"\"\n", &r, &err), ERR_INVALID, &err,
		     "'spec.target' must not be empty");
	expect_error(parse("Symlink", "  path: /l\n", &r, &err), ERR_INVALID, &err,
		     "'spec.target' is required");
	expect_error(parse("Symlink", "  path: /l\n  target: 7\n", &r, &err), ERR_INVALID, &err,
		     "'spec.target' must be a string");
	assert_string_equal(host_kind_name(HOST_DIRECTORY), "Directory");
	assert_string_equal(host_kind_name(HOST_SYMLINK), "Symlink");
}

static void test_parse_bad_paths(void **state)
{
	static const struct {
		const char *yaml;
		const char *message;
	} cases[] = {
		{"../etc/passwd", "path '../etc/passwd' must be absolute"},
		{"etc/passwd", "path 'etc/passwd' must be absolute"},
		{"/srv/../etc", "path '/srv/../etc' must not contain '..'"},
		{"/srv/..", "must not contain '..'"},
		{"/srv/./x", "path '/srv/./x' must not contain '.'"},
		{"//srv", "must not contain '//'"},
		{"/srv//x", "path '/srv//x' must not contain '//'"},
		{"/srv/", "path '/srv/' must not end with '/'"},
		{"/", "path '/' is the root itself"},
		{"\"\"", "path '' must not be empty"},
		{"\"/a\\0b\"", "must not contain a NUL byte"},
		{"42", "'spec.path' must be a string"},
	};
	struct error err = ERROR_INIT;
	struct host_resource *r;
	struct buf long_path = BUF_INIT;
	char *spec;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		spec = xasprintf("  content: hi\n  path: %s\n", cases[i].yaml);
		expect_error(parse("File", spec, &r, &err), ERR_INVALID, &err, cases[i].message);
		free(spec);
	}
	/* The exact form, with the path's own line and column. */
	expect_error(parse_at("apps/web/site.yaml",
			      "apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: "
			      "index\nspec:\n  content: hi\n  path: ../etc/passwd\n",
			      &r, &err),
		     ERR_INVALID, &err, "x");
	assert_string_equal(
		err.msg,
		"apps/web/site.yaml:7:9: File/index: path '../etc/passwd' must be absolute");
	expect_error(parse("Directory", "  mode: \"0755\"\n", &r, &err), ERR_INVALID, &err,
		     "'spec.path' is required");

	while (long_path.len < PATH_MAX)
		buf_addstr(&long_path, "/abcdefghij");
	spec = xasprintf("  content: hi\n  path: %s\n", long_path.data);
	expect_error(parse("File", spec, &r, &err), ERR_INVALID, &err, "longer than PATH_MAX");
	free(spec);
	buf_reset(&long_path);
	buf_addch(&long_path, '/');
	while (long_path.len <= NAME_MAX + 1)
		buf_addch(&long_path, 'n');
	spec = xasprintf("  content: hi\n  path: %s\n", long_path.data);
	expect_error(parse("File", spec, &r, &err), ERR_INVALID, &err,
		     "has a component longer than NAME_MAX");
	free(spec);
	buf_release(&long_path);

	assert_null(host_path_problem("/etc/motd", 9));
	assert_null(host_path_problem("/.hidden/..x/x..", 16));
	assert_string_equal(host_path_problem("/a\0b", 4), "must not contain a NUL byte");
}

static void test_parse_unknown_kind_and_fields(void **state)
{
	struct error err = ERROR_INIT;
	struct host_resource *r;

	(void)state;
	expect_error(parse("Service", "  path: /x\n", &r, &err), ERR_INVALID, &err,
		     "m1.yaml:2:7: Service/test: unknown kind 'Service' of host.plumb.dev/v1");
	/* A misspelling gets a suggestion; the error points at the key. */
	expect_error(parse("File", "  path: /x\n  conten: x\n", &r, &err), ERR_INVALID, &err,
		     "m2.yaml:7:3: File/test: unknown field 'spec.conten'; did you mean "
		     "'spec.content'?");
	expect_error(parse("File", "  path: /x\n  content: x\n  purge: true\n", &r, &err),
		     ERR_INVALID, &err,
		     "m3.yaml:8:3: File/test: unknown field 'spec.purge' (a File has path, "
		     "content, source, mode, owner, group)");
	expect_error(parse("Symlink", "  path: /x\n  target: y\n  mode: \"0644\"\n", &r, &err),
		     ERR_INVALID, &err, "unknown field 'spec.mode' (a Symlink has path, target)");
	expect_error(parse_at("top.yaml",
			      "apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: t\n"
			      "spec:\n  path: /x\n  content: x\nstatus: {}\n",
			      &r, &err),
		     ERR_INVALID, &err,
		     "top.yaml:8:1: File/t: unknown field 'status' (an object has apiVersion, "
		     "kind, metadata, spec)");
	expect_error(parse_at("nospec.yaml",
			      "apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: t\n",
			      &r, &err),
		     ERR_INVALID, &err, "nospec.yaml:1:1: File/t: object has no 'spec'");
	expect_error(parse_at("listspec.yaml",
			      "apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: t\n"
			      "spec: [1]\n",
			      &r, &err),
		     ERR_INVALID, &err, "'spec' must be a mapping");
	expect_error(parse_at("v2.yaml",
			      "apiVersion: host.plumb.dev/v2\nkind: File\nmetadata:\n  name: t\n"
			      "spec:\n  path: /x\n  content: x\n",
			      &r, &err),
		     ERR_INVALID, &err,
		     "v2.yaml:1:13: File/t: apiVersion must be host.plumb.dev/v1");
}

static void test_parse_metadata(void **state)
{
	struct error err = ERROR_INIT;
	struct host_resource *r;
	const char *tail = "spec:\n  path: /x\n  content: x\n";
	char *text;

	(void)state;
	text = xasprintf("apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: t\n"
			 "  labels:\n    app: web\n  annotations:\n    note: hi\n%s",
			 tail);
	expect_ok(parse_at("ok.yaml", text, &r, &err), &err);
	free(text);

	text = xasprintf("apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: t\n"
			 "  namespace: prod\n%s",
			 tail);
	expect_error(parse_at("ns.yaml", text, &r, &err), ERR_INVALID, &err,
		     "ns.yaml:5:14: File/t: host objects have no namespace");
	free(text);
	text = xasprintf("apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: t\n"
			 "  uid: abc\n%s",
			 tail);
	expect_error(parse_at("uid.yaml", text, &r, &err), ERR_INVALID, &err,
		     "uid.yaml:5:3: File/t: unknown field 'metadata.uid'");
	free(text);
	text = xasprintf("apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: t\n"
			 "  labels:\n    n: 1\n%s",
			 tail);
	expect_error(parse_at("labels.yaml", text, &r, &err), ERR_INVALID, &err,
		     "'metadata.labels.n' must be a string");
	free(text);
	text = xasprintf("apiVersion: host.plumb.dev/v1\nkind: File\nmetadata:\n  name: t\n"
			 "  annotations: [a]\n%s",
			 tail);
	expect_error(parse_at("ann.yaml", text, &r, &err), ERR_INVALID, &err,
		     "'metadata.annotations' must be a mapping");
	free(text);
}

/* ---- target ---- */

static void test_target_open(void **state)
{
	struct host_target *other;
	struct error err = ERROR_INIT;
	char *missing = xasprintf("%s/missing", root);
	char *file = at("/file");

	(void)state;
	assert_string_equal(host_target_root(target), root);
	expect_error(host_target_open(&other, missing, &err), ERR_NOTFOUND, &err,
		     "cannot open host root");
	assert_null(other);
	make_file("/file", "x", 0644);
	expect_error(host_target_open(&other, file, &err), ERR_NOTFOUND, &err, "Not a directory");
	expect_error(host_target_open(&other, "", &err), ERR_INVALID, &err, "directory path");
	free(missing);
	free(file);
}

/* ---- observe ---- */

static void test_observe_each_type(void **state)
{
	struct host_live live;
	struct error err = ERROR_INIT;
	struct stat st;
	char *fifo = at("/fifo");
	char *motd;

	(void)state;
	make_dir("/etc");
	make_file("/etc/motd", "hello\n", 0640);
	motd = at("/etc/motd");
	assert_int_equal(chown(motd, 1, 1), 0);
	make_link("/etc/link", "motd");
	assert_int_equal(mkfifo(fifo, 0600), 0);

	expect_ok(host_observe(target, "/etc/motd", true, &live, &err), &err);
	st = lstat_of("/etc/motd");
	assert_int_equal(live.type, LIVE_FILE);
	assert_int_equal(live.mode, 0640);
	assert_int_equal(live.uid, 1);
	assert_int_equal(live.gid, 1);
	assert_int_equal(live.size, 6);
	assert_int_equal(live.ino, st.st_ino);
	assert_true(live.mtime_ns == (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	assert_int_equal(live.content.len, 6);
	assert_string_equal(live.content.data, "hello\n");
	host_live_release(&live);

	expect_ok(host_observe(target, "/etc/motd", false, &live, &err), &err);
	assert_int_equal(live.type, LIVE_FILE);
	assert_int_equal(live.content.len, 0);
	host_live_release(&live);

	expect_ok(host_observe(target, "/etc", true, &live, &err), &err);
	assert_int_equal(live.type, LIVE_DIR);
	assert_int_equal(live.mode, 0755);
	host_live_release(&live);

	expect_ok(host_observe(target, "/etc/link", false, &live, &err), &err);
	assert_int_equal(live.type, LIVE_SYMLINK);
	assert_string_equal(live.content.data, "motd");
	host_live_release(&live);

	expect_ok(host_observe(target, "/fifo", true, &live, &err), &err);
	assert_int_equal(live.type, LIVE_OTHER);
	host_live_release(&live);

	expect_ok(host_observe(target, "/etc/missing", true, &live, &err), &err);
	assert_int_equal(live.type, LIVE_NONE);
	host_live_release(&live);
	expect_ok(host_observe(target, "/no/such/dir/x", true, &live, &err), &err);
	assert_int_equal(live.type, LIVE_NONE);
	host_live_release(&live);
	/* Below a file: nothing can be there. */
	expect_ok(host_observe(target, "/etc/motd/x", true, &live, &err), &err);
	assert_int_equal(live.type, LIVE_NONE);
	host_live_release(&live);

	expect_error(host_observe(target, "etc/motd", true, &live, &err), ERR_INVALID, &err,
		     "path 'etc/motd' must be absolute");
	host_live_release(&live);
	free(fifo);
	free(motd);
}

/* ---- apply: File ---- */

static void test_apply_file_create_and_update(void **state)
{
	struct stat before, after;
	char *real = at("/etc/motd");
	char *text;

	(void)state;
	make_dir("/etc");
	apply_ok("File", "  path: /etc/motd\n  content: \"hello\\n\"\n");
	text = slurp(real);
	assert_string_equal(text, "hello\n");
	free(text);
	before = lstat_of("/etc/motd");
	/* Default mode despite the umask; owned by whoever runs plumb. */
	assert_int_equal(before.st_mode & 07777, 0644);
	assert_int_equal(before.st_uid, geteuid());
	assert_int_equal(count_temp("/etc"), 0);

	/* Same content: nothing happens, not even a rename. */
	apply_ok("File", "  path: /etc/motd\n  content: \"hello\\n\"\n");
	after = lstat_of("/etc/motd");
	assert_int_equal(after.st_ino, before.st_ino);
	assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
		    after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

	/* Mode and owner only: changed in place, content and inode kept. */
	apply_ok("File", "  path: /etc/motd\n  content: \"hello\\n\"\n  mode: 0600\n"
			 "  owner: 1\n  group: daemon\n");
	after = lstat_of("/etc/motd");
	assert_int_equal(after.st_ino, before.st_ino);
	assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
		    after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
	assert_int_equal(after.st_mode & 07777, 0600);
	assert_int_equal(after.st_uid, 1);
	assert_int_equal(after.st_gid, 1);

	/* New content: a new inode, renamed into place, no temporary file left. */
	apply_ok("File", "  path: /etc/motd\n  content: \"bye\\n\"\n");
	after = lstat_of("/etc/motd");
	assert_int_not_equal(after.st_ino, before.st_ino);
	text = slurp(real);
	assert_string_equal(text, "bye\n");
	free(text);
	/* What the manifest does not set is kept from the file replaced. */
	assert_int_equal(after.st_mode & 07777, 0600);
	assert_int_equal(after.st_uid, 1);
	assert_int_equal(after.st_gid, 1);
	assert_int_equal(count_temp("/etc"), 0);

	/* Everything set at once on a new file, including set-id bits after chown. */
	apply_ok("File", "  path: /etc/tool\n  content: \"#!/bin/sh\\n\"\n  mode: \"2750\"\n"
			 "  owner: daemon\n  group: 1\n");
	after = lstat_of("/etc/tool");
	assert_int_equal(after.st_mode & 07777, 02750);
	assert_int_equal(after.st_uid, 1);
	assert_int_equal(after.st_gid, 1);
	/* Same bytes, different mode: in place. */
	before = after;
	apply_ok("File", "  path: /etc/tool\n  content: \"#!/bin/sh\\n\"\n  mode: \"0755\"\n");
	after = lstat_of("/etc/tool");
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_mode & 07777, 0755);
	assert_int_equal(after.st_uid, 1);

	/* Content with NUL bytes and an empty file. */
	apply_ok("File", "  path: /etc/bin\n  content: \"a\\0b\"\n");
	assert_int_equal(lstat_of("/etc/bin").st_size, 3);
	apply_ok("File", "  path: /etc/empty\n  content: \"\"\n");
	assert_int_equal(lstat_of("/etc/empty").st_size, 0);
	/* A file at the top of the root. */
	apply_ok("File", "  path: /top\n  content: top\n");
	assert_true(exists_in_root("/top"));
	assert_int_equal(count_temp("/"), 0);
	free(real);
}

static void test_apply_file_long_name(void **state)
{
	char name[NAME_MAX + 1];
	char *spec, *path;

	(void)state;
	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	spec = xasprintf("  path: /%s\n  content: x\n", name);
	path = xasprintf("/%s", name);
	/* The temporary name is cut to fit NAME_MAX. */
	apply_ok("File", spec);
	assert_true(exists_in_root(path));
	assert_int_equal(count_temp("/"), 0);
	free(path);
	free(spec);
}

static void test_apply_file_refusals(void **state)
{
	struct error err = ERROR_INIT;
	char *fifo = at("/fifo");

	(void)state;
	make_dir("/etc");
	make_dir("/etc/x");
	expect_error(apply("File", "  path: /etc/x\n  content: x\n", &err), ERR_CONFLICT, &err,
		     "'/etc/x' is a directory; plumb will not replace it with a file");
	assert_int_equal(lstat_of("/etc/x").st_mode & S_IFMT, S_IFDIR);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	expect_error(apply("File", "  path: /fifo\n  content: x\n", &err), ERR_CONFLICT, &err,
		     "'/fifo' is a fifo");
	expect_error(apply("File", "  path: /srv/x\n  content: x\n", &err), ERR_NOTFOUND, &err,
		     "parent directory '/srv' of '/srv/x' does not exist");
	make_file("/etc/motd", "", 0644);
	expect_error(apply("File", "  path: /etc/motd/x\n  content: x\n", &err), ERR_NOTFOUND, &err,
		     "a parent of '/etc/motd/x' is not a directory");
	assert_int_equal(count_temp("/etc"), 0);
	free(fifo);
}

static void test_apply_file_write_failure(void **state)
{
	struct host_resource *r;
	struct error err = ERROR_INIT;
	struct rlimit saved, tiny;
	char *real = at("/etc/motd");
	char *text;
	int rc;

	(void)state;
	make_dir("/etc");
	make_file("/etc/motd", "old\n", 0644);
	r = must_parse("File", "  path: /etc/motd\n  content: \"much longer content\\n\"\n");
	/* Fault injection: a file size limit makes the write fail half way. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	tiny = saved;
	tiny.rlim_cur = 4;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &tiny), 0);
	rc = host_apply(target, r, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_DFL);
	expect_error(rc, ERR_IO, &err, "cannot write '/etc/motd': File too large");
	/* The old file is whole and the temporary file is gone. */
	text = slurp(real);
	assert_string_equal(text, "old\n");
	free(text);
	assert_int_equal(count_temp("/etc"), 0);
	free(real);
}

static void test_apply_file_over_symlink(void **state)
{
	char *outside_file = xasprintf("%s/secret", outside);
	char *text;
	struct stat st;

	(void)state;
	put(outside, "secret", "keep me\n");
	/* The last component is a symlink: it is replaced, never written through. */
	make_link("/motd", outside_file);
	apply_ok("File", "  path: /motd\n  content: new\n");
	st = lstat_of("/motd");
	assert_true(S_ISREG(st.st_mode));
	text = slurp(outside_file);
	assert_string_equal(text, "keep me\n");
	free(text);
	free(outside_file);
}

/* ---- apply: path safety ---- */

/* Whether this kernel (or valgrind, which does not know it) runs openat2. */
static bool have_openat2(void)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC};
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

	if (fd >= 0)
		close((int)fd);
	return fd >= 0 || errno != ENOSYS;
}

/* How a refused path reads: where openat2 is missing, every symlink is refused. */
static char *refused(const char *path)
{
	if (have_openat2())
		return xasprintf("'%s': passes through a symlink that leaves the root", path);
	return xasprintf("'%s': passes through a symlink, which this kernel", path);
}

static void expect_refused(int rc, const struct error *err, const char *path)
{
	char *text = refused(path);

	expect_error(rc, ERR_INVALID, err, text);
	free(text);
}

static void test_apply_symlink_leaving_root(void **state)
{
	struct error err = ERROR_INIT;
	struct host_live live;

	(void)state;
	/* root/etc -> <outside>: a planted symlink out of the root. */
	make_link("/etc", outside);
	expect_refused(apply("File", "  path: /etc/x\n  content: x\n", &err), &err, "/etc/x");
	expect_refused(apply("Directory", "  path: /etc/d\n", &err), &err, "/etc/d");
	expect_refused(apply("Symlink", "  path: /etc/l\n  target: /x\n", &err), &err, "/etc/l");
	expect_refused(host_observe(target, "/etc/x", true, &live, &err), &err, "/etc/x");
	host_live_release(&live);
	expect_refused(host_remove(target, "/etc/x", HOST_FILE, &err), &err, "/etc/x");
	expect_refused(host_sweep_temp(target, "/etc/sub", NULL, &err), &err, "/etc/sub");
	assert_int_equal(count_entries(outside), 0);

	/* A relative link that climbs out is refused as well. */
	make_dir("/a");
	make_link("/a/up", "../..");
	expect_refused(apply("File", "  path: /a/up/x\n  content: x\n", &err), &err, "/a/up/x");
}

static void test_apply_absolute_symlink_inside_root(void **state)
{
	struct error err = ERROR_INIT;
	char *real_dir = at("/real");

	(void)state;
	/*
	 * An absolute link counts as leaving even when it names a place inside the
	 * root: RESOLVE_BENEATH refuses absolute links, and inside the root "/real"
	 * would mean <root>/real anyway, not the host's /tmp/...
	 */
	make_dir("/real");
	make_link("/abs", real_dir);
	expect_refused(apply("File", "  path: /abs/x\n  content: x\n", &err), &err, "/abs/x");
	assert_false(exists_in_root("/real/x"));
	free(real_dir);
}

static void test_apply_relative_symlink_inside_root(void **state)
{
	struct host_live live;
	struct error err = ERROR_INIT;
	char *text, *real;

	(void)state;
	if (!have_openat2())
		skip(); /* the fallback walk refuses these links: test_apply_without_openat2 */
	real = at("/real/sub/x");
	make_dir("/real");
	make_dir("/real/sub");
	make_dir("/links");
	make_link("/rel", "real");
	make_link("/links/deep", "../real/sub");
	apply_ok("File", "  path: /rel/x\n  content: one\n");
	apply_ok("File", "  path: /links/deep/x\n  content: two\n");
	text = slurp(real);
	assert_string_equal(text, "two");
	free(text);
	assert_true(exists_in_root("/real/x"));
	expect_ok(host_observe(target, "/rel/x", true, &live, &err), &err);
	assert_int_equal(live.type, LIVE_FILE);
	assert_string_equal(live.content.data, "one");
	host_live_release(&live);
	free(real);
}

static void test_apply_without_openat2(void **state)
{
	struct error err = ERROR_INIT;
	struct host_live live;

	(void)state;
	/* The walk used where the kernel has no openat2 refuses every symlink. */
	target->no_openat2 = true;
	make_dir("/real");
	make_dir("/real/sub");
	make_link("/rel", "real");
	make_link("/out", outside);
	apply_ok("File", "  path: /real/sub/x\n  content: walked\n");
	apply_ok("File", "  path: /top\n  content: top\n");
	apply_ok("Directory", "  path: /real/sub/d\n");
	expect_ok(host_observe(target, "/real/sub/x", true, &live, &err), &err);
	assert_string_equal(live.content.data, "walked");
	host_live_release(&live);
	expect_ok(host_observe(target, "/real/none/x", true, &live, &err), &err);
	assert_int_equal(live.type, LIVE_NONE);
	host_live_release(&live);
	expect_error(apply("File", "  path: /rel/x\n  content: x\n", &err), ERR_INVALID, &err,
		     "'/rel/x': passes through a symlink");
	expect_error(apply("File", "  path: /out/x\n  content: x\n", &err), ERR_INVALID, &err,
		     "'/out/x': passes through a symlink");
	assert_false(exists_in_root("/real/x"));
	assert_int_equal(count_entries(outside), 0);
}

/* ---- apply: Directory and Symlink ---- */

static void test_apply_directory(void **state)
{
	struct error err = ERROR_INIT;
	struct stat st, before;

	(void)state;
	apply_ok("Directory", "  path: /srv\n");
	st = lstat_of("/srv");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	apply_ok("Directory", "  path: /srv/app\n  mode: \"0750\"\n  owner: 1\n  group: daemon\n");
	st = lstat_of("/srv/app");
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, 1);
	assert_int_equal(st.st_gid, 1);
	before = st;
	make_file("/srv/app/keep", "k", 0644);
	apply_ok("Directory", "  path: /srv/app\n  mode: \"2770\"\n");
	st = lstat_of("/srv/app");
	assert_int_equal(st.st_ino, before.st_ino);
	assert_int_equal(st.st_mode & 07777, 02770);
	assert_int_equal(st.st_uid, 1);
	assert_true(exists_in_root("/srv/app/keep"));
	/* No mode given: an existing directory keeps its own. */
	apply_ok("Directory", "  path: /srv/app\n  owner: 0\n");
	st = lstat_of("/srv/app");
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 02770);

	expect_error(apply("Directory", "  path: /opt/x\n", &err), ERR_NOTFOUND, &err,
		     "parent directory '/opt' of '/opt/x' does not exist");
	make_file("/srv/file", "f", 0644);
	expect_error(apply("Directory", "  path: /srv/file\n", &err), ERR_CONFLICT, &err,
		     "'/srv/file' is a file; plumb will not replace it with a directory");
	make_link("/srv/link", "app");
	expect_error(apply("Directory", "  path: /srv/link\n", &err), ERR_CONFLICT, &err,
		     "'/srv/link' is a symlink; plumb will not replace it with a directory");
	assert_true(S_ISLNK(lstat_of("/srv/link").st_mode));
}

static void test_apply_symlink(void **state)
{
	struct error err = ERROR_INIT;
	struct stat before, after;
	char link_target[64];
	char *real = at("/current");
	ssize_t n;

	(void)state;
	apply_ok("Symlink", "  path: /current\n  target: releases/1\n");
	n = readlink(real, link_target, sizeof(link_target) - 1);
	assert_int_equal(n, 10);
	link_target[n] = '\0';
	assert_string_equal(link_target, "releases/1");
	before = lstat_of("/current");
	apply_ok("Symlink", "  path: /current\n  target: releases/1\n");
	after = lstat_of("/current");
	assert_int_equal(after.st_ino, before.st_ino);

	apply_ok("Symlink", "  path: /current\n  target: /opt/releases/2\n");
	n = readlink(real, link_target, sizeof(link_target) - 1);
	link_target[n] = '\0';
	assert_string_equal(link_target, "/opt/releases/2");
	assert_int_equal(count_temp("/"), 0);

	/* A file at the path is replaced by the link; a directory is refused. */
	make_file("/was-file", "x", 0644);
	apply_ok("Symlink", "  path: /was-file\n  target: elsewhere\n");
	assert_true(S_ISLNK(lstat_of("/was-file").st_mode));
	make_dir("/dir");
	expect_error(apply("Symlink", "  path: /dir\n  target: x\n", &err), ERR_CONFLICT, &err,
		     "'/dir' is a directory; plumb will not replace it with a symlink");
	expect_error(apply("Symlink", "  path: /no/l\n  target: x\n", &err), ERR_NOTFOUND, &err,
		     "parent directory '/no' of '/no/l' does not exist");
	free(real);
}

/* ---- remove ---- */

static void test_remove(void **state)
{
	struct error err = ERROR_INIT;
	char *outside_file = xasprintf("%s/target", outside);

	(void)state;
	put(outside, "target", "t");
	make_dir("/d");
	make_dir("/full");
	make_file("/full/f", "x", 0644);
	make_file("/f", "x", 0644);
	make_link("/l", outside_file);

	expect_error(host_remove(target, "/f", HOST_DIRECTORY, &err), ERR_CONFLICT, &err,
		     "'/f' is now a file, not a Directory; kept");
	expect_error(host_remove(target, "/l", HOST_FILE, &err), ERR_CONFLICT, &err,
		     "'/l' is now a symlink, not a File; kept");
	expect_error(host_remove(target, "/d", HOST_SYMLINK, &err), ERR_CONFLICT, &err,
		     "'/d' is now a directory, not a Symlink; kept");
	expect_error(host_remove(target, "/full", HOST_DIRECTORY, &err), ERR_CONFLICT, &err,
		     "directory '/full' is not empty; kept");
	assert_true(exists_in_root("/full/f"));

	expect_ok(host_remove(target, "/f", HOST_FILE, &err), &err);
	assert_false(exists_in_root("/f"));
	expect_ok(host_remove(target, "/l", HOST_SYMLINK, &err), &err);
	assert_false(exists_in_root("/l"));
	assert_true(exists(outside_file));
	expect_ok(host_remove(target, "/d", HOST_DIRECTORY, &err), &err);
	assert_false(exists_in_root("/d"));

	/* Already gone, or its parent gone: success. */
	expect_ok(host_remove(target, "/f", HOST_FILE, &err), &err);
	expect_ok(host_remove(target, "/gone/x", HOST_FILE, &err), &err);
	expect_error(host_remove(target, "/", HOST_DIRECTORY, &err), ERR_INVALID, &err,
		     "the root itself");
	free(outside_file);
}

/* ---- purge ---- */

static struct vec managed_paths(void)
{
	/* Deliberately unsorted: purge must not depend on the caller's order. */
	static const char *const paths[] = {"/srv/keep.txt", "/srv/app/conf/app.conf",
					    "/elsewhere/x", "/srv/empty-managed"};
	struct vec managed = VEC_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		vec_push(&managed, (void *)paths[i]);
	return managed;
}

static void make_purge_tree(void)
{
	char *outside_file = xasprintf("%s/file", outside);

	put(outside, "file", "outside\n");
	put(outside, "sub/inner", "inner\n");
	make_dir("/srv");
	make_file("/srv/keep.txt", "keep", 0644);
	make_file("/srv/junk.txt", "junk", 0644);
	make_dir("/srv/app");
	make_dir("/srv/app/conf");
	make_file("/srv/app/conf/app.conf", "conf", 0644);
	make_file("/srv/app/conf/old.conf", "old", 0644);
	make_dir("/srv/app-old");
	make_dir("/srv/olddir");
	make_dir("/srv/olddir/a");
	make_dir("/srv/olddir/a/b");
	make_file("/srv/olddir/a/b/c.txt", "c", 0644);
	make_link("/srv/olddir/a/out", outside);
	make_link("/srv/link", outside_file);
	make_link("/srv/dirlink", outside);
	make_file("/srv/.plumb-tmp.keep.txt.AbCdEf", "tmp", 0600);
	free(outside_file);
}

static const char *const purged[] = {"/srv/app-old", "/srv/dirlink", "/srv/junk.txt", "/srv/link",
				     "/srv/olddir"};

static void check_removed_list(const struct vec *removed)
{
	assert_int_equal(removed->len, ARRAY_SIZE(purged));
	for (size_t i = 0; i < ARRAY_SIZE(purged); i++)
		assert_string_equal(removed->items[i], purged[i]);
}

static void test_purge_dry_run(void **state)
{
	struct host_resource *r = must_parse("Directory", "  path: /srv\n  purge: true\n");
	struct vec managed = managed_paths(), removed = VEC_INIT;
	struct error err = ERROR_INIT;

	(void)state;
	make_purge_tree();
	expect_ok(host_purge(target, r, &managed, true, &removed, &err), &err);
	check_removed_list(&removed);
	for (size_t i = 0; i < ARRAY_SIZE(purged); i++)
		assert_true(exists_in_root(purged[i]));
	vec_release(&removed, free);
	vec_release(&managed, NULL);
}

static void test_purge(void **state)
{
	struct host_resource *r = must_parse("Directory", "  path: /srv\n  purge: true\n");
	struct vec managed = managed_paths(), removed = VEC_INIT;
	struct error err = ERROR_INIT;
	char *inner = xasprintf("%s/sub/inner", outside);
	char *file = xasprintf("%s/file", outside);
	char *srv;

	(void)state;
	make_purge_tree();
	expect_ok(host_purge(target, r, &managed, false, &removed, &err), &err);
	check_removed_list(&removed);
	for (size_t i = 0; i < ARRAY_SIZE(purged); i++)
		assert_false(exists_in_root(purged[i]));
	/* Managed paths and their ancestors stay, with what is inside an ancestor. */
	assert_true(exists_in_root("/srv/keep.txt"));
	assert_true(exists_in_root("/srv/app/conf/app.conf"));
	assert_true(exists_in_root("/srv/app/conf/old.conf"));
	/* Temporary files are left to the sweep. */
	assert_true(exists_in_root("/srv/.plumb-tmp.keep.txt.AbCdEf"));
	/* Links were removed as links: what they pointed at is untouched. */
	assert_true(exists(inner));
	assert_true(exists(file));
	vec_release(&removed, free);

	/* Again: nothing left to remove. */
	expect_ok(host_purge(target, r, &managed, false, &removed, &err), &err);
	assert_int_equal(removed.len, 0);
	/* No managed paths at all: everything goes but the temporary file. */
	expect_ok(host_purge(target, r, NULL, false, &removed, &err), &err);
	assert_int_equal(removed.len, 2);
	assert_string_equal(removed.items[0], "/srv/app");
	assert_string_equal(removed.items[1], "/srv/keep.txt");
	srv = at("/srv");
	assert_int_equal(count_entries(srv), 1);
	free(srv);
	vec_release(&removed, free);

	/* A directory that does not exist yet has nothing to purge. */
	r = must_parse("Directory", "  path: /nothing\n  purge: true\n");
	expect_ok(host_purge(target, r, &managed, false, &removed, &err), &err);
	assert_int_equal(removed.len, 0);
	/* A purged path that is not a directory is refused. */
	make_file("/plain", "p", 0644);
	r = must_parse("Directory", "  path: /plain\n  purge: true\n");
	expect_error(host_purge(target, r, &managed, false, &removed, &err), ERR_CONFLICT, &err,
		     "'/plain' is a file, not a directory");
	vec_release(&managed, NULL);
	free(inner);
	free(file);
}

/* ---- sweep ---- */

static void test_sweep_temp(void **state)
{
	struct error err = ERROR_INIT;
	unsigned removed = 99;

	(void)state;
	make_dir("/etc");
	make_file("/etc/.plumb-tmp.motd.Ab12Cd", "half", 0600);
	make_file("/etc/.plumb-tmp.x.zzzzzz", "half", 0600);
	make_link("/etc/.plumb-tmp.link.qqqqqq", "/nowhere");
	make_dir("/etc/.plumb-tmp.dir");
	make_file("/etc/.plumb-tmpx", "not ours", 0644);
	make_file("/etc/motd", "real", 0644);
	make_file("/.plumb-tmp.top.AAAAAA", "top", 0600);

	expect_ok(host_sweep_temp(target, "/etc", &removed, &err), &err);
	assert_int_equal(removed, 3);
	assert_false(exists_in_root("/etc/.plumb-tmp.motd.Ab12Cd"));
	assert_false(exists_in_root("/etc/.plumb-tmp.link.qqqqqq"));
	assert_true(exists_in_root("/etc/.plumb-tmp.dir"));
	assert_true(exists_in_root("/etc/.plumb-tmpx"));
	assert_true(exists_in_root("/etc/motd"));
	assert_true(exists_in_root("/.plumb-tmp.top.AAAAAA"));

	expect_ok(host_sweep_temp(target, "/", &removed, &err), &err);
	assert_int_equal(removed, 1);
	assert_false(exists_in_root("/.plumb-tmp.top.AAAAAA"));
	expect_ok(host_sweep_temp(target, "/missing", &removed, &err), &err);
	assert_int_equal(removed, 0);
	expect_ok(host_sweep_temp(target, "/etc", NULL, &err), &err);
}

/* ---- restore ---- */

static void test_restore(void **state)
{
	struct error err = ERROR_INIT;
	struct buf content = BUF_INIT;
	struct buf link_target = BUF_INIT;
	struct stat st;
	char *text, *real = at("/etc/motd");
	char got[64];
	ssize_t n;

	(void)state;
	make_dir("/etc");
	make_file("/etc/motd", "managed\n", 0644);
	buf_addstr(&content, "original\n");
	expect_ok(host_restore(target, "/etc/motd", LIVE_FILE, &content, 0640, 1, 1, &err), &err);
	text = slurp(real);
	assert_string_equal(text, "original\n");
	free(text);
	st = lstat_of("/etc/motd");
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 1);
	assert_int_equal(st.st_gid, 1);
	assert_int_equal(count_temp("/etc"), 0);
	/* A file that plumb removed comes back. */
	expect_ok(host_restore(target, "/etc/gone", LIVE_FILE, &content, 0600, 0, 0, &err), &err);
	assert_int_equal(lstat_of("/etc/gone").st_mode & 07777, 0600);

	/* A directory's mode and owner; a missing one is made. */
	make_dir("/srv");
	expect_ok(host_restore(target, "/srv", LIVE_DIR, NULL, 0700, 1, 1, &err), &err);
	st = lstat_of("/srv");
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, 1);
	expect_ok(host_restore(target, "/srv/new", LIVE_DIR, NULL, 0711, 0, 1, &err), &err);
	st = lstat_of("/srv/new");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0711);
	assert_int_equal(st.st_gid, 1);

	/* A symlink replaces the file plumb had written there. */
	make_file("/current", "file", 0644);
	buf_addstr(&link_target, "releases/7");
	expect_ok(host_restore(target, "/current", LIVE_SYMLINK, &link_target, 0777, 0, 0, &err),
		  &err);
	free(real);
	real = at("/current");
	n = readlink(real, got, sizeof(got) - 1);
	assert_int_equal(n, 10);
	got[n] = '\0';
	assert_string_equal(got, "releases/7");

	expect_error(host_restore(target, "/x", LIVE_NONE, NULL, 0, 0, 0, &err), ERR_INVALID, &err,
		     "cannot restore '/x'");
	expect_error(host_restore(target, "/x", LIVE_OTHER, NULL, 0, 0, 0, &err), ERR_INVALID, &err,
		     "cannot restore '/x'");
	expect_error(host_restore(target, "/x", LIVE_SYMLINK, NULL, 0, 0, 0, &err), ERR_INVALID,
		     &err, "its target is empty");
	expect_error(host_restore(target, "/srv", LIVE_FILE, &content, 0644, 0, 0, &err),
		     ERR_CONFLICT, &err, "'/srv' is a directory");
	buf_release(&content);
	buf_release(&link_target);
	free(real);
}

#define HOST_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		HOST_TEST(test_parse_file_fields),
		HOST_TEST(test_parse_mode_forms),
		HOST_TEST(test_parse_owner_group),
		HOST_TEST(test_parse_source),
		HOST_TEST(test_parse_content_source_exclusive),
		HOST_TEST(test_parse_directory_and_symlink),
		HOST_TEST(test_parse_bad_paths),
		HOST_TEST(test_parse_unknown_kind_and_fields),
		HOST_TEST(test_parse_metadata),
		HOST_TEST(test_target_open),
		HOST_TEST(test_observe_each_type),
		HOST_TEST(test_apply_file_create_and_update),
		HOST_TEST(test_apply_file_long_name),
		HOST_TEST(test_apply_file_refusals),
		HOST_TEST(test_apply_file_write_failure),
		HOST_TEST(test_apply_file_over_symlink),
		HOST_TEST(test_apply_symlink_leaving_root),
		HOST_TEST(test_apply_absolute_symlink_inside_root),
		HOST_TEST(test_apply_relative_symlink_inside_root),
		HOST_TEST(test_apply_without_openat2),
		HOST_TEST(test_apply_directory),
		HOST_TEST(test_apply_symlink),
		HOST_TEST(test_remove),
		HOST_TEST(test_purge_dry_run),
		HOST_TEST(test_purge),
		HOST_TEST(test_sweep_temp),
		HOST_TEST(test_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
