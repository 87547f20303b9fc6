/*
 * Unit tests for src/store: a real SQLite file in a temporary directory,
 * checked through the store's API and, where a user would look, through a
 * second raw sqlite3 connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "store/store.h"

#include "fixture.h"

struct fixture {
	char dir[64];
	char *path; /* <dir>/state/plumb/plumb.db: two directories to create */
	struct store *store;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/plumb-test-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/state/plumb/plumb.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->store);
	fixture_remove_tree(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* Opens f->store, failing the test with the store's message if it cannot. */
static struct store *open_store(struct fixture *f)
{
	struct error err = ERROR_INIT;
	int rc = store_open(&f->store, f->path, &err);

	if (rc != 0)
		fail_msg("store_open: %s", err.msg);
	return f->store;
}

static void reopen_store(struct fixture *f)
{
	store_close(f->store);
	f->store = NULL;
	open_store(f);
}

/* A raw connection, to look at the file the way another tool would. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* The first column of the first row of sql, as text ("" if none). */
static char *raw_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	char *text;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0))
		text = xstrdup((const char *)sqlite3_column_text(stmt, 0));
	else
		text = xstrdup("");
	sqlite3_finalize(stmt);
	return text;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static void put_app(struct store *store, const char *name, const char *spec)
{
	struct error err = ERROR_INIT;

	if (store_app_put(store, name, spec, &err) != 0)
		fail_msg("store_app_put: %s", err.msg);
}

static void put_entry(struct store *store, const char *app, const char *key, const char *hash)
{
	struct inventory_entry e = {
		.key = (char *)key,
		.kind = (char *)"File",
		.name = (char *)key,
		.path = (char *)"/etc/x",
		.hash = (char *)hash,
		.revision = (char *)"abc",
		.object_json = (char *)"{}",
	};
	struct error err = ERROR_INIT;

	if (store_inventory_put(store, app, &e, &err) != 0)
		fail_msg("store_inventory_put: %s", err.msg);
}

/* The keys of app's inventory joined with ',' (caller frees). */
static char *inventory_keys(struct store *store, const char *app)
{
	struct vec entries = VEC_INIT;
	struct error err = ERROR_INIT;
	struct buf keys = BUF_INIT;
	struct inventory_entry *e;
	size_t i;

	if (store_inventory_list(store, app, &entries, &err) != 0)
		fail_msg("store_inventory_list: %s", err.msg);
	vec_foreach (&entries, i, e) {
		if (i)
			buf_addch(&keys, ',');
		buf_addstr(&keys, e->key);
	}
	vec_release(&entries, inventory_entry_free);
	return buf_detach(&keys, NULL);
}

static void assert_inventory(struct store *store, const char *app, const char *expected)
{
	char *keys = inventory_keys(store, app);

	assert_string_equal(keys, expected);
	free(keys);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : st.st_size;
}

static double now_seconds(void)
{
	return (double)time_monotonic_ms() / 1000.0;
}

/* ---- opening ---- */

static void test_open_creates_private_dir_and_wal_database(void **state)
{
	struct fixture *f = *state;
	char *dir = xasprintf("%s/state/plumb", f->dir);
	char *wal = xasprintf("%s-wal", f->path);
	mode_t old_umask = umask(022);
	struct stat st;
	sqlite3 *db;
	char *text;

	open_store(f);
	umask(old_umask);
	assert_true(store_schema_version(f->store) >= 1);

	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	put_app(f->store, "web", "{}");
	assert_true(file_size(wal) > 0);

	db = raw_open(f->path);
	text = raw_text(db, "PRAGMA journal_mode");
	assert_string_equal(text, "wal");
	free(text);
	text = raw_text(db, "PRAGMA user_version");
	assert_int_equal(atoi(text), store_schema_version(f->store));
	free(text);
	text = raw_text(db, "PRAGMA application_id"); /* "plmb" */
	assert_string_equal(text, "1886154082");
	free(text);
	text = raw_text(db, "SELECT spec_json FROM applications WHERE name = 'web'");
	assert_string_equal(text, "{}");
	free(text);
	sqlite3_close(db);
	free(dir);
	free(wal);
}

static void test_reopen_keeps_data_and_schema_version(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct store_app app;
	int version;

	open_store(f);
	version = store_schema_version(f->store);
	put_app(f->store, "web", "{\"a\":1}");
	reopen_store(f);
	assert_int_equal(store_schema_version(f->store), version);
	assert_int_equal(store_app_get(f->store, "web", &app, &err), 0);
	assert_string_equal(app.spec_json, "{\"a\":1}");
	store_app_release(&app);
}

static void test_open_refuses_newer_schema(void **state)
{
	struct fixture *f = *state;
	char *parent = xasprintf("%s/state", f->dir);
	char *dir = xasprintf("%s/state/plumb", f->dir);
	struct error err = ERROR_INIT;
	struct store *store = (struct store *)&err; /* must be reset to NULL */
	sqlite3 *db;
	char *text;

	assert_int_equal(mkdir(parent, 0700), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	raw_exec(db, "PRAGMA user_version = 999");
	sqlite3_close(db);

	assert_int_equal(store_open(&store, f->path, &err), ERR_UNSUPPORTED);
	assert_null(store);
	assert_contains(err.msg, f->path);
	assert_contains(err.msg, "schema version is 999");
	assert_contains(err.msg, "knows only versions up to 2;"); /* migrations in this build */
	assert_contains(err.msg, "use a newer plumb");

	/* Nothing was changed in the refused file, not even its journal mode. */
	db = raw_open(f->path);
	text = raw_text(db, "PRAGMA user_version");
	assert_string_equal(text, "999");
	free(text);
	text = raw_text(db, "PRAGMA journal_mode");
	assert_string_equal(text, "delete");
	free(text);
	text = raw_text(db, "SELECT count(*) FROM sqlite_master");
	assert_string_equal(text, "0");
	free(text);
	sqlite3_close(db);
	free(parent);
	free(dir);
}

static void test_open_refuses_file_that_is_not_a_database(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/garbage.db", f->dir);
	struct error err = ERROR_INIT;
	struct store *store = NULL;
	unsigned char bytes[8192], after[8192];
	uint32_t x = 12345;
	char *expected;
	int fd;

	for (size_t i = 0; i < sizeof(bytes); i++) {
		x = x * 1103515245 + 12345;
		bytes[i] = (unsigned char)(x >> 16);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, sizeof(bytes)), sizeof(bytes));
	close(fd);

	expected = xasprintf("cannot open '%s': is not a plumb database or is corrupt", path);
	assert_int_equal(store_open(&store, path, &err), ERR_INVALID);
	assert_null(store);
	assert_string_equal(err.msg, expected);

	/* The refused file is left exactly as it was. */
	assert_int_equal(file_size(path), sizeof(bytes));
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, after, sizeof(after)), sizeof(after));
	close(fd);
	assert_memory_equal(after, bytes, sizeof(bytes));
	free(expected);
	free(path);
}

static void test_open_refuses_other_programs_database(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/other.db", f->dir);
	struct error err = ERROR_INIT;
	struct store *store = NULL;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	raw_exec(db, "CREATE TABLE notes (body TEXT)");
	sqlite3_close(db);

	assert_int_equal(store_open(&store, path, &err), ERR_INVALID);
	assert_null(store);
	assert_contains(err.msg, path);
	assert_contains(err.msg, "is not a plumb database");
	free(path);
}

static void test_open_reports_unusable_directory(void **state)
{
	struct fixture *f = *state;
	char *blocker = xasprintf("%s/file", f->dir);
	char *path = xasprintf("%s/file/plumb.db", f->dir);
	struct error err = ERROR_INIT;
	struct store *store = NULL;
	int fd = open(blocker, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_true(store_open(&store, path, &err) < 0);
	assert_null(store);
	assert_contains(err.msg, path);
	assert_contains(err.msg, "Not a directory");
	free(blocker);
	free(path);
}

/* ---- applications ---- */

static void test_apps_put_get_list_update(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct vec apps = VEC_INIT;
	struct store_app app;
	struct store_app *item;
	int64_t before = time(NULL), created;

	open_store(f);
	put_app(f->store, "web", "{\"v\":1}");
	put_app(f->store, "api", "{\"v\":2}");
	put_app(f->store, "db", "{\"v\":3}");

	assert_int_equal(store_app_get(f->store, "web", &app, &err), 0);
	assert_string_equal(app.name, "web");
	assert_string_equal(app.spec_json, "{\"v\":1}");
	assert_true(app.created >= before && app.created <= time(NULL));
	assert_int_equal(app.updated, app.created);
	assert_false(app.suspended);
	created = app.created;
	store_app_release(&app);

	/* An update changes the spec, keeps created and the suspended flag. */
	assert_int_equal(store_app_set_suspended(f->store, "web", true, &err), 0);
	put_app(f->store, "web", "{\"v\":4}");
	assert_int_equal(store_app_get(f->store, "web", &app, &err), 0);
	assert_string_equal(app.spec_json, "{\"v\":4}");
	assert_int_equal(app.created, created);
	assert_true(app.updated >= created);
	assert_true(app.suspended);
	store_app_release(&app);

	assert_int_equal(store_app_set_suspended(f->store, "web", false, &err), 0);
	assert_int_equal(store_app_get(f->store, "web", &app, &err), 0);
	assert_false(app.suspended);
	store_app_release(&app);

	assert_int_equal(store_app_list(f->store, &apps, &err), 0);
	assert_int_equal(apps.len, 3);
	item = vec_get(&apps, 0);
	assert_string_equal(item->name, "api");
	assert_string_equal(item->spec_json, "{\"v\":2}");
	item = vec_get(&apps, 1);
	assert_string_equal(item->name, "db");
	item = vec_get(&apps, 2);
	assert_string_equal(item->name, "web");
	assert_string_equal(item->spec_json, "{\"v\":4}");
	vec_release(&apps, store_app_free);
}

static void test_app_missing_is_notfound_and_release_is_safe(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct store_app app;

	open_store(f);
	/* Garbage in out must not matter: it is zeroed before anything else. */
	memset(&app, 0x5a, sizeof(app));
	assert_int_equal(store_app_get(f->store, "nope", &app, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, "application 'nope' not found");
	assert_null(app.name);
	store_app_release(&app);
	store_app_release(&app);
	assert_int_equal(store_app_set_suspended(f->store, "nope", true, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, "application 'nope' not found");
}

/* ---- sync runs ---- */

static int64_t begin_run(struct store *store, const char *app, const char *revision)
{
	struct store_run run = {
		.app = (char *)app,
		.revision = (char *)revision,
		.trigger = (char *)"poll",
		.actor = (char *)"plumb",
	};
	struct error err = ERROR_INIT;
	int64_t id = 0;

	if (store_run_begin(store, &run, &id, &err) != 0)
		fail_msg("store_run_begin: %s", err.msg);
	return id;
}

static void finish_run(struct store *store, int64_t id, enum run_result result, const char *error)
{
	struct store_run run = {.id = id, .result = result, .error = (char *)error};
	struct error err = ERROR_INIT;

	if (store_run_finish(store, &run, &err) != 0)
		fail_msg("store_run_finish: %s", err.msg);
}

static void test_run_round_trips_every_field(void **state)
{
	struct fixture *f = *state;
	struct store_run run = {
		.app = (char *)"web",
		.revision = (char *)"0123456789abcdef0123456789abcdef01234567",
		.ref = (char *)"refs/heads/main",
		.author = (char *)"Zoë O'Brien <zoe@example.com>",
		.message = (char *)"fix: it's \"quoted\"'); DROP TABLE sync_runs; --",
		.trigger = (char *)"webhook",
		.actor = (char *)"token:ci",
		.dry_run = true,
	};
	struct error err = ERROR_INIT;
	struct store_run got;
	int64_t before = time(NULL), id = 0;

	open_store(f);
	assert_int_equal(store_run_begin(f->store, &run, &id, &err), 0);
	assert_true(id > 0);

	assert_int_equal(store_run_get(f->store, id, &got, &err), 0);
	assert_int_equal(got.id, id);
	assert_string_equal(got.app, run.app);
	assert_string_equal(got.revision, run.revision);
	assert_string_equal(got.ref, run.ref);
	assert_string_equal(got.author, run.author);
	assert_string_equal(got.message, run.message);
	assert_string_equal(got.trigger, run.trigger);
	assert_string_equal(got.actor, run.actor);
	assert_true(got.dry_run);
	assert_true(got.started >= before && got.started <= time(NULL));
	assert_int_equal(got.finished, 0);
	assert_int_equal(got.result, RUN_RUNNING);
	assert_string_equal(got.error, "");
	assert_int_equal(got.created + got.updated + got.deleted + got.unchanged + got.failed, 0);
	store_run_release(&got);

	run.id = id;
	run.result = RUN_FAILED;
	run.error = (char *)"apply: /etc/motd: permission denied";
	run.created = 3;
	run.updated = 2;
	run.deleted = 1;
	run.unchanged = 7;
	run.failed = 1;
	assert_int_equal(store_run_finish(f->store, &run, &err), 0);

	reopen_store(f);
	assert_int_equal(store_run_get(f->store, id, &got, &err), 0);
	assert_int_equal(got.result, RUN_FAILED);
	assert_string_equal(got.error, "apply: /etc/motd: permission denied");
	assert_true(got.finished >= got.started && got.finished <= time(NULL));
	assert_int_equal(got.created, 3);
	assert_int_equal(got.updated, 2);
	assert_int_equal(got.deleted, 1);
	assert_int_equal(got.unchanged, 7);
	assert_int_equal(got.failed, 1);
	assert_string_equal(got.message, run.message);
	store_run_release(&got);

	/* The result is stored by name, for anyone reading the file. */
	{
		sqlite3 *db = raw_open(f->path);
		char *text = raw_text(db, "SELECT result FROM sync_runs");

		assert_string_equal(text, "failed");
		free(text);
		sqlite3_close(db);
	}
}

static void test_run_missing_is_notfound(void **state)
{
	struct fixture *f = *state;
	struct store_run run = {.id = 42, .result = RUN_SUCCEEDED};
	struct error err = ERROR_INIT;
	struct store_run got;

	open_store(f);
	assert_int_equal(store_run_get(f->store, 42, &got, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, "sync run 42 not found");
	store_run_release(&got);
	assert_int_equal(store_run_finish(f->store, &run, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, "sync run 42 not found");
	assert_int_equal(store_run_last(f->store, "web", RUN_SUCCEEDED, &got, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, "no succeeded sync run of 'web'");
	store_run_release(&got);
}

static void test_run_list_newest_first_with_filter_and_limit(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct vec runs = VEC_INIT;
	struct store_run *run;
	int64_t web1, api1, web2, web3;

	open_store(f);
	web1 = begin_run(f->store, "web", "r1");
	api1 = begin_run(f->store, "api", "r1");
	web2 = begin_run(f->store, "web", "r2");
	web3 = begin_run(f->store, "web", "r3");

	assert_int_equal(store_run_list(f->store, NULL, 0, &runs, &err), 0);
	assert_int_equal(runs.len, 4);
	assert_int_equal(((struct store_run *)vec_get(&runs, 0))->id, web3);
	assert_int_equal(((struct store_run *)vec_get(&runs, 1))->id, web2);
	assert_int_equal(((struct store_run *)vec_get(&runs, 2))->id, api1);
	assert_int_equal(((struct store_run *)vec_get(&runs, 3))->id, web1);
	vec_release(&runs, store_run_free);

	assert_int_equal(store_run_list(f->store, "web", 2, &runs, &err), 0);
	assert_int_equal(runs.len, 2);
	run = vec_get(&runs, 0);
	assert_int_equal(run->id, web3);
	assert_string_equal(run->revision, "r3");
	run = vec_get(&runs, 1);
	assert_int_equal(run->id, web2);
	assert_string_equal(run->app, "web");
	vec_release(&runs, store_run_free);

	assert_int_equal(store_run_list(f->store, "none", 0, &runs, &err), 0);
	assert_int_equal(runs.len, 0);
	vec_release(&runs, store_run_free);
}

static void test_run_last_by_result(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct store_run got;
	int64_t ok1, ok2, bad;

	open_store(f);
	ok1 = begin_run(f->store, "web", "r1");
	finish_run(f->store, ok1, RUN_SUCCEEDED, "");
	ok2 = begin_run(f->store, "web", "r2");
	finish_run(f->store, ok2, RUN_SUCCEEDED, "");
	bad = begin_run(f->store, "web", "r3");
	finish_run(f->store, bad, RUN_FAILED, "boom");
	finish_run(f->store, begin_run(f->store, "api", "r9"), RUN_SUCCEEDED, "");

	assert_int_equal(store_run_last(f->store, "web", RUN_SUCCEEDED, &got, &err), 0);
	assert_int_equal(got.id, ok2);
	assert_string_equal(got.revision, "r2");
	assert_int_equal(got.result, RUN_SUCCEEDED);
	store_run_release(&got);
	assert_int_equal(store_run_last(f->store, "web", RUN_FAILED, &got, &err), 0);
	assert_int_equal(got.id, bad);
	assert_string_equal(got.error, "boom");
	store_run_release(&got);
}

static void test_runs_interrupt_marks_only_running(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct store_run got;
	unsigned count = 99;
	int64_t done, left1, left2;
	int64_t before = time(NULL);

	open_store(f);
	done = begin_run(f->store, "web", "r1");
	finish_run(f->store, done, RUN_SUCCEEDED, "");
	left1 = begin_run(f->store, "web", "r2");
	left2 = begin_run(f->store, "api", "r1");

	reopen_store(f); /* as at start-up after a crash */
	assert_int_equal(store_runs_interrupt(f->store, "api", &count, &err), 0);
	assert_int_equal(count, 1); /* only that application's */
	assert_int_equal(store_run_get(f->store, left1, &got, &err), 0);
	assert_int_equal(got.result, RUN_RUNNING);
	store_run_release(&got);
	assert_int_equal(store_runs_interrupt(f->store, NULL, &count, &err), 0);
	assert_int_equal(count, 1);

	assert_int_equal(store_run_get(f->store, left1, &got, &err), 0);
	assert_int_equal(got.result, RUN_INTERRUPTED);
	assert_string_equal(got.error, "interrupted: plumb stopped before the run finished");
	assert_true(got.finished >= before && got.finished <= time(NULL));
	store_run_release(&got);
	assert_int_equal(store_run_get(f->store, left2, &got, &err), 0);
	assert_int_equal(got.result, RUN_INTERRUPTED);
	store_run_release(&got);
	assert_int_equal(store_run_get(f->store, done, &got, &err), 0);
	assert_int_equal(got.result, RUN_SUCCEEDED);
	assert_string_equal(got.error, "");
	store_run_release(&got);

	assert_int_equal(store_runs_interrupt(f->store, NULL, &count, &err), 0);
	assert_int_equal(count, 0);
	assert_int_equal(store_run_last(f->store, "web", RUN_INTERRUPTED, &got, &err), 0);
	assert_int_equal(got.id, left1);
	store_run_release(&got);
}

static void test_run_result_names(void **state)
{
	(void)state;
	assert_string_equal(run_result_name(RUN_RUNNING), "running");
	assert_string_equal(run_result_name(RUN_SUCCEEDED), "succeeded");
	assert_string_equal(run_result_name(RUN_FAILED), "failed");
	assert_string_equal(run_result_name(RUN_INTERRUPTED), "interrupted");
}

static void add_object(struct store *store, int64_t run_id, const char *key, const char *result)
{
	struct store_run_object o = {
		.key = (char *)key,
		.display = (char *)"File/motd",
		.path = (char *)"/etc/motd",
		.action = (char *)"update",
		.result = (char *)result,
		.message = strcmp(result, "failed") == 0 ? (char *)"permission denied" : NULL,
	};
	struct error err = ERROR_INIT;

	if (store_run_object_add(store, run_id, &o, &err) != 0)
		fail_msg("store_run_object_add: %s", err.msg);
}

static void test_run_objects_in_recorded_order(void **state)
{
	struct fixture *f = *state;
	struct store_run_object missing = {.key = (char *)"k"};
	struct error err = ERROR_INIT;
	struct vec objects = VEC_INIT;
	struct store_run_object *o;
	int64_t run, other;

	open_store(f);
	run = begin_run(f->store, "web", "r1");
	other = begin_run(f->store, "api", "r1");
	add_object(f->store, run, "c", "ok");
	add_object(f->store, other, "x", "ok");
	add_object(f->store, run, "a", "failed");
	add_object(f->store, run, "b", "skipped");

	assert_int_equal(store_run_object_list(f->store, run, &objects, &err), 0);
	assert_int_equal(objects.len, 3);
	o = vec_get(&objects, 0);
	assert_string_equal(o->key, "c");
	assert_string_equal(o->display, "File/motd");
	assert_string_equal(o->path, "/etc/motd");
	assert_string_equal(o->action, "update");
	assert_string_equal(o->result, "ok");
	assert_string_equal(o->message, "");
	o = vec_get(&objects, 1);
	assert_string_equal(o->key, "a");
	assert_string_equal(o->result, "failed");
	assert_string_equal(o->message, "permission denied");
	o = vec_get(&objects, 2);
	assert_string_equal(o->key, "b");
	vec_release(&objects, store_run_object_free);

	assert_int_equal(store_run_object_add(f->store, 9999, &missing, &err), ERR_NOTFOUND);
	assert_contains(err.msg, "sync run 9999 not found");
}

/* ---- inventory ---- */

static void test_inventory_put_replace_list_delete(void **state)
{
	struct fixture *f = *state;
	struct inventory_entry e = {
		.key = (char *)"//v1/File//etc/motd",
		.kind = (char *)"File",
		.name = (char *)"motd",
		.path = (char *)"/etc/motd",
		.hash = (char *)"aaaa",
		.revision = (char *)"r1",
		.created = true,
		.pending = true,
		.object_json = (char *)"{\"kind\":\"File\"}",
	};
	struct error err = ERROR_INIT;
	struct vec entries = VEC_INIT;
	struct inventory_entry *got;

	open_store(f);
	put_entry(f->store, "web", "zeta", "h1");
	assert_int_equal(store_inventory_put(f->store, "web", &e, &err), 0);
	put_entry(f->store, "web", "alpha", "h2");
	put_entry(f->store, "api", "beta", "h3");

	assert_int_equal(store_inventory_list(f->store, "web", &entries, &err), 0);
	assert_int_equal(entries.len, 3);
	assert_string_equal(((struct inventory_entry *)vec_get(&entries, 0))->key,
			    "//v1/File//etc/motd");
	got = vec_get(&entries, 0);
	assert_string_equal(got->kind, "File");
	assert_string_equal(got->name, "motd");
	assert_string_equal(got->path, "/etc/motd");
	assert_string_equal(got->hash, "aaaa");
	assert_string_equal(got->revision, "r1");
	assert_true(got->created);
	assert_true(got->pending);
	assert_string_equal(got->object_json, "{\"kind\":\"File\"}");
	got = vec_get(&entries, 1);
	assert_string_equal(got->key, "alpha");
	assert_false(got->created);
	assert_false(got->pending);
	vec_release(&entries, inventory_entry_free);

	/* The write was confirmed: the same key is replaced, not added. */
	e.hash = (char *)"bbbb";
	e.revision = (char *)"r2";
	e.pending = false;
	assert_int_equal(store_inventory_put(f->store, "web", &e, &err), 0);
	assert_int_equal(store_inventory_list(f->store, "web", &entries, &err), 0);
	assert_int_equal(entries.len, 3);
	got = vec_get(&entries, 0);
	assert_string_equal(got->hash, "bbbb");
	assert_string_equal(got->revision, "r2");
	assert_true(got->created);
	assert_false(got->pending);
	vec_release(&entries, inventory_entry_free);

	assert_int_equal(store_inventory_delete(f->store, "web", "alpha", &err), 0);
	assert_int_equal(store_inventory_delete(f->store, "web", "alpha", &err), 0);
	assert_int_equal(store_inventory_delete(f->store, "web", "beta", &err), 0);
	assert_inventory(f->store, "web", "//v1/File//etc/motd,zeta");
	assert_inventory(f->store, "api", "beta");
	assert_inventory(f->store, "none", "");
}

/* ---- originals ---- */

static void test_originals_binary_first_wins_delete(void **state)
{
	static const char content[] = {'a', '\0', 'b', '\xff', '\n', '\0'};
	struct fixture *f = *state;
	struct original o = {
		.path = (char *)"/etc/motd", .mode = 0640, .uid = 4294967294u, .gid = 7};
	struct original second = {.path = (char *)"/etc/motd", .mode = 0777};
	struct original link = {.path = (char *)"/etc/alias", .type = ORIGINAL_SYMLINK};
	struct original dir = {.path = (char *)"/srv/www", .type = ORIGINAL_DIR, .mode = 0755};
	struct error err = ERROR_INIT;
	struct original got;

	open_store(f);
	buf_add(&o.content, content, sizeof(content));
	buf_addstr(&second.content, "later content");
	buf_addstr(&link.content, "/etc/real");

	assert_int_equal(store_original_put(f->store, "web", &o, &err), 0);
	assert_int_equal(store_original_put(f->store, "web", &second, &err), 0);
	assert_int_equal(store_original_put(f->store, "web", &link, &err), 0);
	assert_int_equal(store_original_put(f->store, "web", &dir, &err), 0);

	reopen_store(f);
	assert_int_equal(store_original_get(f->store, "web", "/etc/motd", &got, &err), 0);
	assert_string_equal(got.path, "/etc/motd");
	assert_int_equal(got.type, ORIGINAL_FILE);
	assert_int_equal(got.content.len, sizeof(content));
	assert_memory_equal(got.content.data, content, sizeof(content));
	assert_int_equal(got.mode, 0640);
	assert_int_equal(got.uid, 4294967294u);
	assert_int_equal(got.gid, 7);
	original_release(&got);

	assert_int_equal(store_original_get(f->store, "web", "/etc/alias", &got, &err), 0);
	assert_int_equal(got.type, ORIGINAL_SYMLINK);
	assert_string_equal(got.content.data, "/etc/real");
	original_release(&got);
	assert_int_equal(store_original_get(f->store, "web", "/srv/www", &got, &err), 0);
	assert_int_equal(got.type, ORIGINAL_DIR);
	assert_int_equal(got.content.len, 0);
	assert_int_equal(got.mode, 0755);
	original_release(&got);

	/* Originals belong to one application. */
	assert_int_equal(store_original_get(f->store, "api", "/etc/motd", &got, &err),
			 ERR_NOTFOUND);
	assert_string_equal(err.msg, "no original of '/etc/motd' kept for 'api'");
	original_release(&got);

	/* After a delete, the next put is the first again. */
	assert_int_equal(store_original_delete(f->store, "web", "/etc/motd", &err), 0);
	assert_int_equal(store_original_get(f->store, "web", "/etc/motd", &got, &err),
			 ERR_NOTFOUND);
	original_release(&got);
	assert_int_equal(store_original_delete(f->store, "web", "/etc/motd", &err), 0);
	assert_int_equal(store_original_put(f->store, "web", &second, &err), 0);
	assert_int_equal(store_original_get(f->store, "web", "/etc/motd", &got, &err), 0);
	assert_string_equal(got.content.data, "later content");
	assert_int_equal(got.mode, 0777);
	original_release(&got);
	original_release(&got);

	buf_release(&o.content);
	buf_release(&second.content);
	buf_release(&link.content);
}

/* ---- transactions and concurrency ---- */

static void test_transaction_commit_and_rollback(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct store *other = NULL;
	struct store_app app;

	open_store(f);
	assert_int_equal(store_open(&other, f->path, &err), 0);

	assert_int_equal(store_begin(f->store, &err), 0);
	put_app(f->store, "web", "{}");
	put_entry(f->store, "web", "a", "h");
	put_entry(f->store, "web", "b", "h");
	/* Inside: its own writes are visible; outside: nothing yet. */
	assert_inventory(f->store, "web", "a,b");
	assert_inventory(other, "web", "");
	assert_int_equal(store_commit(f->store, &err), 0);
	assert_inventory(other, "web", "a,b");
	assert_int_equal(store_app_get(other, "web", &app, &err), 0);
	store_app_release(&app);

	assert_int_equal(store_begin(f->store, &err), 0);
	put_app(f->store, "api", "{}");
	put_entry(f->store, "web", "c", "h");
	assert_int_equal(store_inventory_delete(f->store, "web", "a", &err), 0);
	assert_inventory(f->store, "web", "b,c");
	store_rollback(f->store);
	assert_inventory(f->store, "web", "a,b");
	assert_int_equal(store_app_get(f->store, "api", &app, &err), ERR_NOTFOUND);
	store_app_release(&app);

	/* Rollback outside a transaction does nothing; a new one works. */
	store_rollback(f->store);
	assert_int_equal(store_begin(f->store, &err), 0);
	put_entry(f->store, "web", "d", "h");
	assert_int_equal(store_commit(f->store, &err), 0);
	reopen_store(f);
	assert_inventory(f->store, "web", "a,b,d");
	store_close(other);
}

static void test_two_connections_see_committed_writes(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct store *other = NULL;
	struct vec runs = VEC_INIT;
	struct store_app app;
	int64_t id;

	open_store(f);
	assert_int_equal(store_open(&other, f->path, &err), 0);
	put_app(f->store, "web", "{\"from\":\"first\"}");
	assert_int_equal(store_app_get(other, "web", &app, &err), 0);
	assert_string_equal(app.spec_json, "{\"from\":\"first\"}");
	store_app_release(&app);

	id = begin_run(other, "web", "r1");
	finish_run(other, id, RUN_SUCCEEDED, "");
	assert_int_equal(store_run_list(f->store, "web", 0, &runs, &err), 0);
	assert_int_equal(runs.len, 1);
	assert_int_equal(((struct store_run *)vec_get(&runs, 0))->result, RUN_SUCCEEDED);
	vec_release(&runs, store_run_free);
	store_close(other);
}

static void test_locked_database_times_out_after_five_seconds(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	char *expected;
	double start, waited;
	sqlite3 *db;

	open_store(f);
	db = raw_open(f->path);
	raw_exec(db, "BEGIN IMMEDIATE");

	start = now_seconds();
	assert_int_equal(store_app_put(f->store, "web", "{}", &err), ERR_TIMEOUT);
	waited = now_seconds() - start;
	expected = xasprintf("cannot save application 'web' in '%s': database is locked", f->path);
	assert_string_equal(err.msg, expected);
	free(expected);
	assert_true(waited >= 4.5 && waited < 30);

	raw_exec(db, "ROLLBACK");
	sqlite3_close(db);
	put_app(f->store, "web", "{}");
}

/* Waits for one byte from the child; false if it died first. */
static bool wait_ready(int fd)
{
	char c;
	ssize_t n;

	do {
		n = read(fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	return n == 1;
}

static void test_writer_waits_for_other_process(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	int ready[2], status;
	double start;
	pid_t pid;

	open_store(f);
	store_close(f->store);
	f->store = NULL;
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child never returns to cmocka: every failure is an exit code. */
		struct inventory_entry e = {.key = (char *)"child"};
		struct store *store = NULL;

		close(ready[0]);
		if (store_open(&store, f->path, NULL) != 0 || store_begin(store, NULL) != 0)
			_exit(2);
		if (store_inventory_put(store, "web", &e, NULL) != 0)
			_exit(5);
		if (write(ready[1], "x", 1) != 1)
			_exit(3);
		usleep(400 * 1000);
		if (store_commit(store, NULL) != 0)
			_exit(4);
		store_close(store);
		_exit(0);
	}
	close(ready[1]);
	open_store(f);
	assert_true(wait_ready(ready[0]));
	close(ready[0]);

	start = now_seconds();
	assert_int_equal(store_app_put(f->store, "web", "{}", &err), 0);
	assert_true(now_seconds() - start >= 0.2);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_inventory(f->store, "web", "child");
}

static void test_killed_before_commit_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	char *wal = xasprintf("%s-wal", f->path);
	struct error err = ERROR_INIT;
	int ready[2], status;
	sqlite3 *db;
	char *text;
	pid_t pid;

	open_store(f);
	put_entry(f->store, "web", "kept", "h");
	store_close(f->store);
	f->store = NULL;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct inventory_entry e = {.kind = (char *)"File", .hash = (char *)"h"};
		struct store *store = NULL;
		char key[32], json[1100];

		close(ready[0]);
		if (store_open(&store, f->path, NULL) != 0 || store_begin(store, NULL) != 0)
			_exit(2);
		memset(json, 'x', sizeof(json) - 1);
		json[sizeof(json) - 1] = '\0';
		e.key = key;
		e.object_json = json;
		/* Far more than the page cache holds: uncommitted pages reach the WAL. */
		for (int i = 0; i < 4000; i++) {
			snprintf(key, sizeof(key), "lost-%04d", i);
			if (store_inventory_put(store, "web", &e, NULL) != 0)
				_exit(3);
		}
		if (store_inventory_delete(store, "web", "kept", NULL) != 0)
			_exit(4);
		if (write(ready[1], "x", 1) != 1)
			_exit(5);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_true(wait_ready(ready[0]));
	close(ready[0]);
	/* The crash happens with uncommitted frames in the WAL on disk. */
	assert_true(file_size(wal) > 1024 * 1024);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	open_store(f);
	assert_inventory(f->store, "web", "kept");
	put_entry(f->store, "web", "after", "h");
	assert_inventory(f->store, "web", "after,kept");
	assert_int_equal(store_runs_interrupt(f->store, NULL, NULL, &err), 0);

	db = raw_open(f->path);
	text = raw_text(db, "PRAGMA integrity_check");
	assert_string_equal(text, "ok");
	free(text);
	text = raw_text(db, "PRAGMA foreign_key_check");
	assert_string_equal(text, "");
	free(text);
	sqlite3_close(db);
	free(wal);
}

static void test_tokens_audit_events(void **state)
{
	struct fixture *f = *state;
	struct store_token t = {.name = (char *)"ci",
				.role = (char *)"operator",
				.apps = (char *)"web-*",
				.hash = (char *)"ab12"};
	struct store_token found;
	struct store_audit a = {.actor = (char *)"ci",
				.action = (char *)"sync",
				.app = (char *)"web",
				.status = 202};
	struct store_event ev = {.app = "web", .type = "drift", .message = "File/motd: changed"};
	struct vec list = VEC_INIT;
	struct error err = ERROR_INIT;
	int64_t id = 0;

	open_store(f);
	assert_int_equal(store_token_add(f->store, &t, &err), 0);
	/* one name, one hash */
	assert_int_equal(store_token_add(f->store, &t, &err), ERR_CONFLICT);
	assert_contains(err.msg, "a token named 'ci' already exists");
	assert_int_equal(store_token_find(f->store, "ab12", &found, &err), 0);
	assert_string_equal(found.name, "ci");
	assert_string_equal(found.role, "operator");
	assert_string_equal(found.apps, "web-*");
	assert_int_equal(found.last_used, 0);
	store_token_release(&found);
	assert_int_equal(store_token_touch(f->store, "ci", 1234, &err), 0);
	assert_int_equal(store_token_list(f->store, &list, &err), 0);
	assert_int_equal(list.len, 1);
	assert_int_equal(((struct store_token *)list.items[0])->last_used, 1234);
	vec_release(&list, store_token_free);
	assert_int_equal(store_token_find(f->store, "ffff", &found, &err), ERR_NOTFOUND);
	assert_int_equal(store_token_delete(f->store, "ci", &err), 0);
	assert_int_equal(store_token_delete(f->store, "ci", &err), ERR_NOTFOUND);
	assert_int_equal(store_token_find(f->store, "ab12", &found, &err), ERR_NOTFOUND);

	assert_int_equal(store_audit_add(f->store, &a, &err), 0);
	a.action = (char *)"suspend";
	a.status = 403;
	assert_int_equal(store_audit_add(f->store, &a, &err), 0);
	assert_int_equal(store_audit_list(f->store, 0, &list, &err), 0);
	assert_int_equal(list.len, 2);
	/* newest first */
	assert_string_equal(((struct store_audit *)list.items[0])->action, "suspend");
	assert_int_equal(((struct store_audit *)list.items[0])->status, 403);
	vec_release(&list, store_audit_free);

	assert_int_equal(store_event_add(f->store, &ev, &id, &err), 0);
	assert_true(id > 0);
	ev.app = "api";
	assert_int_equal(store_event_add(f->store, &ev, NULL, &err), 0);
	assert_int_equal(store_event_list(f->store, "web", 0, &list, &err), 0);
	assert_int_equal(list.len, 1);
	assert_string_equal(((struct store_event *)list.items[0])->message, "File/motd: changed");
	vec_release(&list, store_event_free);
	assert_int_equal(store_event_list(f->store, NULL, 0, &list, &err), 0);
	assert_int_equal(list.len, 2);
	vec_release(&list, store_event_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_private_dir_and_wal_database,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data_and_schema_version, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_file_that_is_not_a_database,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_other_programs_database, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_reports_unusable_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_apps_put_get_list_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_app_missing_is_notfound_and_release_is_safe,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_round_trips_every_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_missing_is_notfound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_list_newest_first_with_filter_and_limit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_last_by_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_interrupt_marks_only_running, setup,
						teardown),
		cmocka_unit_test(test_run_result_names),
		cmocka_unit_test_setup_teardown(test_run_objects_in_recorded_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inventory_put_replace_list_delete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tokens_audit_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_originals_binary_first_wins_delete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_transaction_commit_and_rollback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_connections_see_committed_writes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_locked_database_times_out_after_five_seconds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_waits_for_other_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_killed_before_commit_leaves_nothing, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
