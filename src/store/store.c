/*
 * store — plumb's state in one SQLite database. See store.h for the interface
 * and docs/internals/store.md for the schema, the migration policy and the
 * transaction rules.
 *
 * Every statement is prepared and takes its values through bound parameters.
 * SQLite's result codes are translated into ERR_* codes here, at the boundary,
 * with messages that name the database and the operation.
 */
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PLUMB_VERSION
#define PLUMB_VERSION "unknown"
#endif

/* How long a statement waits for another process's lock before ERR_TIMEOUT. */
#define STORE_BUSY_TIMEOUT_MS 5000

/*
 * PRAGMA application_id of a plumb database: 0x706c6d62, "plmb" in ASCII.
 * Migration 1 writes it as a literal; were the two to differ, every open of
 * an existing database would fail.
 */
#define STORE_APPLICATION_ID 1886154082

#define INTERRUPTED_ERROR "interrupted: plumb stopped before the run finished"

/* Migration 1: the first schema. */
static const char migration_1[] =
	"PRAGMA application_id = 1886154082;" /* STORE_APPLICATION_ID */
	"CREATE TABLE applications ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  spec_json TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  suspended INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE sync_runs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  app TEXT NOT NULL,"
	"  revision TEXT NOT NULL DEFAULT '',"
	"  ref TEXT NOT NULL DEFAULT '',"
	"  author TEXT NOT NULL DEFAULT '',"
	"  message TEXT NOT NULL DEFAULT '',"
	"  \"trigger\" TEXT NOT NULL DEFAULT '',"
	"  actor TEXT NOT NULL DEFAULT '',"
	"  dry_run INTEGER NOT NULL DEFAULT 0,"
	"  started INTEGER NOT NULL,"
	"  finished INTEGER NOT NULL DEFAULT 0,"
	"  result TEXT NOT NULL"
	"    CHECK (result IN ('running', 'succeeded', 'failed', 'interrupted')),"
	"  error TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL DEFAULT 0,"
	"  deleted INTEGER NOT NULL DEFAULT 0,"
	"  unchanged INTEGER NOT NULL DEFAULT 0,"
	"  failed INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX sync_runs_by_app ON sync_runs (app, id DESC);"
	"CREATE INDEX sync_runs_running ON sync_runs (id) WHERE result = 'running';"
	"CREATE TABLE run_objects ("
	"  run_id INTEGER NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  key TEXT NOT NULL,"
	"  display TEXT NOT NULL DEFAULT '',"
	"  path TEXT NOT NULL DEFAULT '',"
	"  action TEXT NOT NULL DEFAULT '',"
	"  result TEXT NOT NULL DEFAULT '',"
	"  message TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (run_id, seq)"
	");"
	"CREATE TABLE inventory ("
	"  app TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  kind TEXT NOT NULL DEFAULT '',"
	"  name TEXT NOT NULL DEFAULT '',"
	"  path TEXT NOT NULL DEFAULT '',"
	"  hash TEXT NOT NULL DEFAULT '',"
	"  revision TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL DEFAULT 0,"
	"  pending INTEGER NOT NULL DEFAULT 0,"
	"  object_json TEXT NOT NULL DEFAULT '',"
	"  live_stamp TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (app, key)"
	");"
	"CREATE TABLE originals ("
	"  app TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  type TEXT NOT NULL CHECK (type IN ('file', 'dir', 'symlink')),"
	"  content BLOB NOT NULL,"
	"  mode INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  gid INTEGER NOT NULL,"
	"  PRIMARY KEY (app, path)"
	");";

/* Migration 2: API tokens, the audit log and application events (drift, ...). */
static const char migration_2[] =
	"CREATE TABLE tokens ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
	"  apps TEXT NOT NULL DEFAULT '*',"
	"  hash TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  app TEXT NOT NULL DEFAULT '',"
	"  detail TEXT NOT NULL DEFAULT '',"
	"  status INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  app TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  message TEXT NOT NULL DEFAULT '',"
	"  run_id INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX events_by_app ON events (app, id DESC);";

/*
 * The schema, one migration a step. Migration N (counting from 1) brings a
 * database from user_version N-1 to N and runs in its own transaction
 * together with the user_version update. Never edit a migration that has
 * shipped: append a new one.
 */
static const char *const migrations[] = {
	migration_1,
	migration_2,
};

#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

struct store {
	sqlite3 *db;
	char *path;
	int version;
	bool in_tx; /* between store_begin and store_commit/store_rollback */
};

/* ---- statements and error translation ---- */

/*
 * One prepared statement being bound, stepped and read. The first failure is
 * kept (with SQLite's message, copied at once because later calls overwrite
 * it); every later call on the query does nothing, so a function binds and
 * steps in a straight line and looks at the outcome once, in query_end.
 */
struct query {
	struct store *store;
	sqlite3_stmt *stmt;
	int param;     /* the index of the last bound parameter */
	int rc;	       /* SQLITE_OK, or the first failure */
	int extended;  /* its extended result code */
	int sys_errno; /* the errno behind an I/O failure */
	char *msg;     /* SQLite's message for it */
};

static void query_fail(struct query *q, int rc)
{
	if (q->rc != SQLITE_OK)
		return;
	q->rc = rc;
	q->extended = sqlite3_extended_errcode(q->store->db);
	q->sys_errno = sqlite3_system_errno(q->store->db);
	q->msg = xstrdup(sqlite3_errmsg(q->store->db));
}

static bool query_ok(const struct query *q)
{
	return q->rc == SQLITE_OK;
}

static void query_start(struct query *q, struct store *store, const char *sql)
{
	int rc;

	memset(q, 0, sizeof(*q));
	q->store = store;
	/*
	 * SQLite rolls a transaction back by itself after some errors (disk
	 * full, I/O). Statements run now would each commit on their own and
	 * break the all-or-nothing promise of store_begin, so refuse them.
	 */
	if (store->in_tx && sqlite3_get_autocommit(store->db)) {
		q->rc = SQLITE_ABORT;
		q->extended = SQLITE_ABORT;
		q->msg = xstrdup("the transaction was rolled back after an earlier error");
		return;
	}
	rc = sqlite3_prepare_v2(store->db, sql, -1, &q->stmt, NULL);
	if (rc != SQLITE_OK)
		query_fail(q, rc);
}

static void bind_int(struct query *q, int64_t value)
{
	int rc;

	if (!query_ok(q))
		return;
	rc = sqlite3_bind_int64(q->stmt, ++q->param, value);
	if (rc != SQLITE_OK)
		query_fail(q, rc);
}

/* Binds a string; NULL binds "" (every text column is NOT NULL). */
static void bind_text(struct query *q, const char *s)
{
	int rc;

	if (!query_ok(q))
		return;
	rc = sqlite3_bind_text(q->stmt, ++q->param, s ? s : "", -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		query_fail(q, rc);
}

static void bind_blob(struct query *q, const void *data, size_t len)
{
	int rc;

	if (!query_ok(q))
		return;
	/* A NULL pointer would bind SQL NULL; an empty blob it is. */
	rc = sqlite3_bind_blob64(q->stmt, ++q->param, data ? data : "", len, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		query_fail(q, rc);
}

/* Steps once: true when a row is ready to read, false when done or failed. */
static bool query_step(struct query *q)
{
	int rc;

	if (!query_ok(q))
		return false;
	rc = sqlite3_step(q->stmt);
	if (rc == SQLITE_ROW)
		return true;
	if (rc != SQLITE_DONE)
		query_fail(q, rc);
	return false;
}

static int64_t column_int(struct query *q, int col)
{
	return sqlite3_column_int64(q->stmt, col);
}

/* A copy of a text column, "" for NULL. */
static char *column_str(struct query *q, int col)
{
	const unsigned char *text = sqlite3_column_text(q->stmt, col);

	if (!text && sqlite3_errcode(q->store->db) == SQLITE_NOMEM)
		die("out of memory");
	return xstrdup(text ? (const char *)text : "");
}

/*
 * Fills err from the query's failure: "<prefix>: <reason>", with the ERR_*
 * code for the SQLite result code.
 */
static int query_translate(const struct query *q, struct error *err, const char *prefix)
{
	const char *reason = q->msg ? q->msg : sqlite3_errstr(q->rc);
	int code;

	switch (q->rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_PROTOCOL:
		code = ERR_TIMEOUT;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = ERR_INVALID;
		reason = "is not a plumb database or is corrupt";
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_READONLY:
	case SQLITE_NOLFS:
		code = ERR_IO;
		break;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		code = ERR_AUTH;
		break;
	case SQLITE_CONSTRAINT:
		code = ERR_CONFLICT;
		break;
	case SQLITE_TOOBIG:
		code = ERR_TOOBIG;
		break;
	case SQLITE_NOMEM:
		die("out of memory");
	default:
		code = ERR_INTERNAL;
		break;
	}
	if (code == ERR_IO && q->sys_errno) {
		error_set(err, code, "%s: %s (%s)", prefix, reason, strerror(q->sys_errno));
		if (err)
			err->sys_errno = q->sys_errno;
		return code;
	}
	return error_set(err, code, "%s: %s", prefix, reason);
}

static void query_close(struct query *q)
{
	sqlite3_finalize(q->stmt);
	q->stmt = NULL;
	FREE_AND_NULL(q->msg);
}

/*
 * Finishes a query: 0 if every step succeeded, else the translated error
 * "cannot <what> in '<path>': <reason>".
 */
static int query_end(struct query *q, struct error *err, const char *what_fmt, ...)
	PRINTF_LIKE(3, 4);

static int query_end(struct query *q, struct error *err, const char *what_fmt, ...)
{
	struct buf prefix = BUF_INIT;
	va_list ap;
	int code = 0;

	if (!query_ok(q)) {
		buf_addstr(&prefix, "cannot ");
		va_start(ap, what_fmt);
		buf_vaddf(&prefix, what_fmt, ap);
		va_end(ap);
		buf_addf(&prefix, " in '%s'", q->store->path);
		code = query_translate(q, err, prefix.data);
		buf_release(&prefix);
	}
	query_close(q);
	return code;
}

/* Runs one statement without parameters, expecting no rows (or ignoring them). */
static void query_exec(struct query *q, struct store *store, const char *sql)
{
	query_start(q, store, sql);
	while (query_step(q))
		;
}

/* Runs a script of several statements; the first failure stops it. */
static void query_exec_script(struct query *q, struct store *store, const char *sql)
{
	const char *tail = sql;
	int rc;

	memset(q, 0, sizeof(*q));
	q->store = store;
	while (query_ok(q) && *tail) {
		rc = sqlite3_prepare_v2(store->db, tail, -1, &q->stmt, &tail);
		if (rc != SQLITE_OK) {
			query_fail(q, rc);
			break;
		}
		if (!q->stmt) /* only whitespace or a comment was left */
			break;
		while (query_step(q))
			;
		sqlite3_finalize(q->stmt);
		q->stmt = NULL;
	}
}

/* Drops appended items of out back to len `keep` after a failure. */
static void vec_truncate(struct vec *out, size_t keep, void (*free_item)(void *))
{
	while (out->len > keep)
		free_item(vec_pop(out));
}

/* ---- opening and migrating ---- */

/* mkdir -p for the directory that holds path, creating what is missing as 0700. */
static int make_parent_dirs(const char *path, struct error *err)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int rc = 0;

	if (!slash || slash == dir)
		goto out; /* the current directory or "/" */
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			rc = error_errno(err, "cannot create directory '%s'", dir);
			goto out;
		}
		if (last)
			break;
		*p = '/';
	}
out:
	free(dir);
	return rc;
}

/* Creates the database file as 0600 if it does not exist; SQLite would use 0644. */
/*
 * Creates the database file (mode 0600) if it does not exist. An existing file
 * is not opened here: closing any descriptor of it would drop the POSIX locks
 * that other connections of this process hold on it, and another process could
 * then take the write-ahead log away from under them.
 */
static int create_file(const char *path, struct error *err)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return error_set(err, ERR_INVALID, "cannot open '%s': not a regular file",
					 path);
		return 0;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0)
		return error_errno(err, "cannot create '%s'", path);
	/* The umask may have taken bits away, never added; make it exact. */
	if (fchmod(fd, 0600) < 0) {
		close(fd);
		return error_errno(err, "cannot set the mode of '%s'", path);
	}
	close(fd);
	return 0;
}

static int64_t query_single_int(struct query *q, struct store *store, const char *sql)
{
	int64_t value = 0;

	query_start(q, store, sql);
	if (query_step(q))
		value = column_int(q, 0);
	while (query_step(q))
		;
	return value;
}

/* What the database file says about itself before plumb touches its schema. */
struct db_header {
	int64_t version;
	int64_t application_id;
	int64_t tables;
};

/* Finishes a query run while opening: "cannot open '<path>': <reason>". */
static int query_end_open(struct query *q, struct error *err)
{
	char *prefix;
	int code = 0;

	if (!query_ok(q)) {
		prefix = xasprintf("cannot open '%s'", q->store->path);
		code = query_translate(q, err, prefix);
		free(prefix);
	}
	query_close(q);
	return code;
}

static int read_header(struct store *store, struct db_header *out, struct error *err)
{
	struct query q;

	out->version = query_single_int(&q, store, "PRAGMA user_version");
	if (query_ok(&q)) {
		query_close(&q);
		out->application_id = query_single_int(&q, store, "PRAGMA application_id");
	}
	if (query_ok(&q)) {
		query_close(&q);
		out->tables = query_single_int(&q, store, "SELECT count(*) FROM sqlite_master");
	}
	return query_end_open(&q, err);
}

/* Refuses a database plumb did not make, or one from a newer plumb. */
static int check_header(struct store *store, const struct db_header *h, struct error *err)
{
	if (h->application_id != 0 && h->application_id != STORE_APPLICATION_ID)
		return error_set(err, ERR_INVALID,
				 "cannot open '%s': is not a plumb database (application id %#llx)",
				 store->path, (unsigned long long)h->application_id);
	if (h->version > SCHEMA_VERSION)
		return error_set(
			err, ERR_UNSUPPORTED,
			"cannot open '%s': its schema version is %lld, but this plumb (%s) knows only versions up to %d; use a newer plumb",
			store->path, (long long)h->version, PLUMB_VERSION, SCHEMA_VERSION);
	if (h->version < 0)
		return error_set(err, ERR_INVALID,
				 "cannot open '%s': is not a plumb database (schema version %lld)",
				 store->path, (long long)h->version);
	if (h->version == 0 && h->tables > 0)
		return error_set(
			err, ERR_INVALID,
			"cannot open '%s': is not a plumb database (it holds tables plumb did not create)",
			store->path);
	return 0;
}

/* Switches the file to write-ahead logging (a lasting property of the file). */
static int use_wal(struct store *store, struct error *err)
{
	struct query q;
	char *mode = NULL;
	int rc;

	query_start(&q, store, "PRAGMA journal_mode = WAL");
	if (query_step(&q))
		mode = column_str(&q, 0);
	while (query_step(&q))
		;
	rc = query_end_open(&q, err);
	if (rc == 0 && (!mode || strcmp(mode, "wal") != 0))
		rc = error_set(
			err, ERR_UNSUPPORTED,
			"cannot open '%s': write-ahead logging is not available there (journal mode '%s')",
			store->path, mode ? mode : "");
	free(mode);
	return rc;
}

/* Applies one migration and sets user_version to target, inside a transaction. */
static int apply_migration(struct store *store, int target, struct error *err)
{
	char *set_version;
	struct query q;

	query_exec_script(&q, store, migrations[target - 1]);
	if (query_ok(&q)) {
		query_close(&q);
		/*
		 * PRAGMA takes no bound parameters; the number is ours (an index
		 * into migrations), never outside input.
		 */
		set_version = xasprintf("PRAGMA user_version = %d", target);
		query_exec(&q, store, set_version);
		free(set_version);
	}
	if (query_ok(&q)) {
		query_close(&q);
		query_exec(&q, store, "COMMIT");
	}
	return query_end(&q, err, "migrate the schema to version %d", target);
}

/*
 * Checks what the file is, switches it to WAL and applies the migrations it
 * lacks, each in its own transaction. A refused file is left untouched. The
 * version is read again under the write lock: another plumb process may have
 * migrated in between.
 */
static int migrate(struct store *store, struct error *err)
{
	struct db_header header = {0};
	struct query q;
	int rc;

	rc = read_header(store, &header, err);
	if (rc == 0)
		rc = check_header(store, &header, err);
	if (rc == 0)
		rc = use_wal(store, err);
	if (rc < 0 || header.version == SCHEMA_VERSION)
		goto out;
	for (;;) {
		query_exec(&q, store, "BEGIN IMMEDIATE");
		rc = query_end(&q, err, "migrate the schema");
		if (rc < 0)
			break;
		rc = read_header(store, &header, err);
		if (rc == 0)
			rc = check_header(store, &header, err);
		if (rc < 0 || header.version == SCHEMA_VERSION)
			break;
		rc = apply_migration(store, (int)header.version + 1, err);
		if (rc < 0)
			break;
	}
	if (!sqlite3_get_autocommit(store->db)) {
		query_exec(&q, store, "ROLLBACK");
		query_close(&q);
	}
out:
	if (rc == 0)
		store->version = (int)header.version;
	return rc;
}

/* Sets the connection up: busy timeout, synchronous=FULL, foreign keys. */
static int configure(struct store *store, struct error *err)
{
	struct query q;

	sqlite3_busy_timeout(store->db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(store->db, 1);
	sqlite3_db_config(store->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	query_exec(&q, store, "PRAGMA foreign_keys = ON");
	if (query_ok(&q)) {
		query_close(&q);
		query_exec(&q, store, "PRAGMA synchronous = FULL");
	}
	return query_end_open(&q, err);
}

int store_open(struct store **out, const char *path, struct error *err)
{
	struct store *store;
	int rc;

	assert(out && path);
	*out = NULL;
	rc = make_parent_dirs(path, err);
	if (rc < 0)
		return rc;
	rc = create_file(path, err);
	if (rc < 0)
		return rc;

	store = xcalloc(1, sizeof(*store));
	store->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE, NULL);
	if (!store->db)
		die("out of memory");
	if (rc != SQLITE_OK) {
		struct query q = {.store = store};

		query_fail(&q, rc);
		rc = query_end_open(&q, err);
		goto out;
	}
	rc = configure(store, err);
	if (rc == 0)
		rc = migrate(store, err);
out:
	if (rc < 0) {
		store_close(store);
		return rc;
	}
	*out = store;
	return 0;
}

void store_close(struct store *store)
{
	if (!store)
		return;
	/* Closing drops an open transaction: nothing of it is kept. */
	sqlite3_close_v2(store->db);
	free(store->path);
	free(store);
}

int store_schema_version(struct store *store)
{
	return store->version;
}

/* ---- transactions ---- */

int store_begin(struct store *store, struct error *err)
{
	struct query q;
	int rc;

	assert(!store->in_tx && "store_begin inside a transaction");
	query_exec(&q, store, "BEGIN IMMEDIATE");
	rc = query_end(&q, err, "begin a transaction");
	if (rc == 0)
		store->in_tx = true;
	return rc;
}

int store_commit(struct store *store, struct error *err)
{
	struct query q;
	int rc;

	assert(store->in_tx && "store_commit outside a transaction");
	query_exec(&q, store, "COMMIT");
	rc = query_end(&q, err, "commit");
	if (rc < 0 && !sqlite3_get_autocommit(store->db)) {
		/* A failed COMMIT may leave the transaction open: drop it. */
		query_exec(&q, store, "ROLLBACK");
		query_close(&q);
	}
	store->in_tx = false;
	return rc;
}

void store_rollback(struct store *store)
{
	struct query q;

	if (!store->in_tx)
		return;
	store->in_tx = false;
	/* SQLite may already have rolled back after an I/O error. */
	if (sqlite3_get_autocommit(store->db))
		return;
	query_exec(&q, store, "ROLLBACK");
	query_close(&q);
}

/* ---- applications ---- */

#define APP_COLUMNS "name, spec_json, created, updated, suspended"

static void app_read(struct query *q, struct store_app *app)
{
	app->name = column_str(q, 0);
	app->spec_json = column_str(q, 1);
	app->created = column_int(q, 2);
	app->updated = column_int(q, 3);
	app->suspended = column_int(q, 4) != 0;
}

int store_app_put(struct store *store, const char *name, const char *spec_json, struct error *err)
{
	struct query q;

	assert(name && spec_json);
	query_start(&q, store,
		    "INSERT INTO applications (name, spec_json, created, updated, suspended)"
		    " VALUES (?1, ?2, ?3, ?3, 0)"
		    " ON CONFLICT (name) DO UPDATE SET"
		    "  spec_json = excluded.spec_json, updated = excluded.updated");
	bind_text(&q, name);
	bind_text(&q, spec_json);
	bind_int(&q, time(NULL));
	query_step(&q);
	return query_end(&q, err, "save application '%s'", name);
}

int store_app_set_suspended(struct store *store, const char *name, bool suspended,
			    struct error *err)
{
	struct query q;
	int rc;

	assert(name);
	query_start(&q, store, "UPDATE applications SET suspended = ?1 WHERE name = ?2");
	bind_int(&q, suspended);
	bind_text(&q, name);
	query_step(&q);
	if (query_ok(&q) && sqlite3_changes(store->db) == 0) {
		query_close(&q);
		return error_set(err, ERR_NOTFOUND, "application '%s' not found", name);
	}
	rc = query_end(&q, err, "%s application '%s'", suspended ? "suspend" : "resume", name);
	return rc;
}

int store_app_get(struct store *store, const char *name, struct store_app *out, struct error *err)
{
	struct query q;
	bool found;
	int rc;

	assert(name && out);
	memset(out, 0, sizeof(*out));
	query_start(&q, store, "SELECT " APP_COLUMNS " FROM applications WHERE name = ?1");
	bind_text(&q, name);
	found = query_step(&q);
	if (found)
		app_read(&q, out);
	rc = query_end(&q, err, "read application '%s'", name);
	if (rc == 0 && !found)
		rc = error_set(err, ERR_NOTFOUND, "application '%s' not found", name);
	if (rc < 0)
		store_app_release(out);
	return rc;
}

int store_app_list(struct store *store, struct vec *out, struct error *err)
{
	size_t keep = out->len;
	struct query q;
	int rc;

	query_start(&q, store, "SELECT " APP_COLUMNS " FROM applications ORDER BY name");
	while (query_step(&q)) {
		struct store_app *app = xcalloc(1, sizeof(*app));

		app_read(&q, app);
		vec_push(out, app);
	}
	rc = query_end(&q, err, "list applications");
	if (rc < 0)
		vec_truncate(out, keep, store_app_free);
	return rc;
}

void store_app_release(struct store_app *app)
{
	FREE_AND_NULL(app->name);
	FREE_AND_NULL(app->spec_json);
	app->created = 0;
	app->updated = 0;
	app->suspended = false;
}

void store_app_free(void *app)
{
	if (!app)
		return;
	store_app_release(app);
	free(app);
}

/* ---- sync runs ---- */

static const char *const run_result_names[] = {
	[RUN_RUNNING] = "running",
	[RUN_SUCCEEDED] = "succeeded",
	[RUN_FAILED] = "failed",
	[RUN_INTERRUPTED] = "interrupted",
};

const char *run_result_name(enum run_result result)
{
	if ((size_t)result >= ARRAY_SIZE(run_result_names)) {
		assert(!"unknown run result");
		return "unknown";
	}
	return run_result_names[result];
}

static bool run_result_parse(const char *name, enum run_result *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(run_result_names); i++) {
		if (strcmp(name, run_result_names[i]) == 0) {
			*out = (enum run_result)i;
			return true;
		}
	}
	return false;
}

#define RUN_COLUMNS                                                              \
	"id, app, revision, ref, author, message, \"trigger\", actor, dry_run, " \
	"started, finished, result, error, created, updated, deleted, unchanged, failed"

/* Reads a row of RUN_COLUMNS; false if its result is not one plumb writes. */
static bool run_read(struct query *q, struct store_run *run)
{
	const unsigned char *result;

	run->id = column_int(q, 0);
	run->app = column_str(q, 1);
	run->revision = column_str(q, 2);
	run->ref = column_str(q, 3);
	run->author = column_str(q, 4);
	run->message = column_str(q, 5);
	run->trigger = column_str(q, 6);
	run->actor = column_str(q, 7);
	run->dry_run = column_int(q, 8) != 0;
	run->started = column_int(q, 9);
	run->finished = column_int(q, 10);
	run->error = column_str(q, 12);
	run->created = (unsigned)column_int(q, 13);
	run->updated = (unsigned)column_int(q, 14);
	run->deleted = (unsigned)column_int(q, 15);
	run->unchanged = (unsigned)column_int(q, 16);
	run->failed = (unsigned)column_int(q, 17);
	result = sqlite3_column_text(q->stmt, 11);
	return result && run_result_parse((const char *)result, &run->result);
}

static int run_corrupt(struct store *store, int64_t id, struct error *err)
{
	return error_set(err, ERR_INVALID,
			 "cannot read sync run %lld in '%s': is not a plumb database or is corrupt",
			 (long long)id, store->path);
}

int store_run_begin(struct store *store, const struct store_run *run, int64_t *id_out,
		    struct error *err)
{
	struct query q;
	int64_t id;
	int rc;

	assert(run && run->app);
	query_start(
		&q, store,
		"INSERT INTO sync_runs (app, revision, ref, author, message, \"trigger\", actor,"
		" dry_run, started, result)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'running')");
	bind_text(&q, run->app);
	bind_text(&q, run->revision);
	bind_text(&q, run->ref);
	bind_text(&q, run->author);
	bind_text(&q, run->message);
	bind_text(&q, run->trigger);
	bind_text(&q, run->actor);
	bind_int(&q, run->dry_run);
	bind_int(&q, run->started ? run->started : time(NULL));
	query_step(&q);
	id = sqlite3_last_insert_rowid(store->db);
	rc = query_end(&q, err, "record sync run of '%s'", run->app);
	if (rc == 0 && id_out)
		*id_out = id;
	return rc;
}

int store_run_finish(struct store *store, const struct store_run *run, struct error *err)
{
	struct query q;

	assert(run && run->id > 0);
	assert(run->result != RUN_RUNNING && "a finished run needs its result");
	query_start(&q, store,
		    "UPDATE sync_runs SET finished = ?1, result = ?2, error = ?3, created = ?4,"
		    " updated = ?5, deleted = ?6, unchanged = ?7, failed = ?8 WHERE id = ?9");
	bind_int(&q, run->finished ? run->finished : time(NULL));
	bind_text(&q, run_result_name(run->result));
	bind_text(&q, run->error);
	bind_int(&q, run->created);
	bind_int(&q, run->updated);
	bind_int(&q, run->deleted);
	bind_int(&q, run->unchanged);
	bind_int(&q, run->failed);
	bind_int(&q, run->id);
	query_step(&q);
	if (query_ok(&q) && sqlite3_changes(store->db) == 0) {
		query_close(&q);
		return error_set(err, ERR_NOTFOUND, "sync run %lld not found", (long long)run->id);
	}
	return query_end(&q, err, "record the end of sync run %lld", (long long)run->id);
}

int store_run_get(struct store *store, int64_t id, struct store_run *out, struct error *err)
{
	struct query q;
	bool found, valid = true;
	int rc;

	assert(out);
	memset(out, 0, sizeof(*out));
	query_start(&q, store, "SELECT " RUN_COLUMNS " FROM sync_runs WHERE id = ?1");
	bind_int(&q, id);
	found = query_step(&q);
	if (found)
		valid = run_read(&q, out);
	rc = query_end(&q, err, "read sync run %lld", (long long)id);
	if (rc == 0 && !found)
		rc = error_set(err, ERR_NOTFOUND, "sync run %lld not found", (long long)id);
	if (rc == 0 && !valid)
		rc = run_corrupt(store, id, err);
	if (rc < 0)
		store_run_release(out);
	return rc;
}

int store_run_list(struct store *store, const char *app, size_t limit, struct vec *out,
		   struct error *err)
{
	size_t keep = out->len;
	int64_t bad_id = 0;
	struct query q;
	int rc;

	if (app)
		query_start(&q, store,
			    "SELECT " RUN_COLUMNS " FROM sync_runs WHERE app = ?1"
			    " ORDER BY id DESC LIMIT ?2");
	else
		query_start(&q, store,
			    "SELECT " RUN_COLUMNS " FROM sync_runs ORDER BY id DESC LIMIT ?1");
	if (app)
		bind_text(&q, app);
	/* A negative LIMIT is no limit. */
	bind_int(&q, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
	while (query_step(&q)) {
		struct store_run *run = xcalloc(1, sizeof(*run));

		vec_push(out, run);
		if (!run_read(&q, run)) {
			bad_id = run->id;
			break;
		}
	}
	if (app)
		rc = query_end(&q, err, "list sync runs of '%s'", app);
	else
		rc = query_end(&q, err, "list sync runs");
	if (rc == 0 && bad_id)
		rc = run_corrupt(store, bad_id, err);
	if (rc < 0)
		vec_truncate(out, keep, store_run_free);
	return rc;
}

int store_run_last(struct store *store, const char *app, enum run_result result,
		   struct store_run *out, struct error *err)
{
	struct query q;
	bool found, valid = true;
	int rc;

	assert(app && out);
	memset(out, 0, sizeof(*out));
	query_start(&q, store,
		    "SELECT " RUN_COLUMNS " FROM sync_runs WHERE app = ?1 AND result = ?2"
		    " ORDER BY id DESC LIMIT 1");
	bind_text(&q, app);
	bind_text(&q, run_result_name(result));
	found = query_step(&q);
	if (found)
		valid = run_read(&q, out);
	rc = query_end(&q, err, "read the last %s sync run of '%s'", run_result_name(result), app);
	if (rc == 0 && !found)
		rc = error_set(err, ERR_NOTFOUND, "no %s sync run of '%s'", run_result_name(result),
			       app);
	if (rc == 0 && !valid)
		rc = run_corrupt(store, out->id, err);
	if (rc < 0)
		store_run_release(out);
	return rc;
}

int store_runs_interrupt(struct store *store, const char *app, unsigned *count, struct error *err)
{
	struct query q;
	unsigned changed = 0;
	int rc;

	query_start(&q, store,
		    "UPDATE sync_runs SET result = 'interrupted', finished = ?1, error = ?2"
		    " WHERE result = 'running' AND (?3 = '' OR app = ?3)");
	bind_int(&q, time(NULL));
	bind_text(&q, INTERRUPTED_ERROR);
	bind_text(&q, app);
	query_step(&q);
	if (query_ok(&q))
		changed = (unsigned)sqlite3_changes(store->db);
	rc = query_end(&q, err, "mark unfinished sync runs interrupted");
	if (count)
		*count = rc == 0 ? changed : 0;
	return rc;
}

void store_run_release(struct store_run *run)
{
	FREE_AND_NULL(run->app);
	FREE_AND_NULL(run->revision);
	FREE_AND_NULL(run->ref);
	FREE_AND_NULL(run->author);
	FREE_AND_NULL(run->message);
	FREE_AND_NULL(run->trigger);
	FREE_AND_NULL(run->actor);
	FREE_AND_NULL(run->error);
	memset(run, 0, sizeof(*run));
}

void store_run_free(void *run)
{
	if (!run)
		return;
	store_run_release(run);
	free(run);
}

/* ---- objects of a run ---- */

int store_run_object_add(struct store *store, int64_t run_id, const struct store_run_object *o,
			 struct error *err)
{
	struct query q;

	assert(o && o->key);
	/* seq numbers a run's objects in the order they were recorded. */
	query_start(
		&q, store,
		"INSERT INTO run_objects (run_id, seq, key, display, path, action, result, message)"
		" SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7"
		" FROM run_objects WHERE run_id = ?1");
	bind_int(&q, run_id);
	bind_text(&q, o->key);
	bind_text(&q, o->display);
	bind_text(&q, o->path);
	bind_text(&q, o->action);
	bind_text(&q, o->result);
	bind_text(&q, o->message);
	query_step(&q);
	if (q.extended == SQLITE_CONSTRAINT_FOREIGNKEY) {
		query_close(&q);
		return error_set(
			err, ERR_NOTFOUND,
			"cannot record object '%s' of sync run %lld: sync run %lld not found",
			o->key, (long long)run_id, (long long)run_id);
	}
	return query_end(&q, err, "record object '%s' of sync run %lld", o->key, (long long)run_id);
}

int store_run_object_list(struct store *store, int64_t run_id, struct vec *out, struct error *err)
{
	size_t keep = out->len;
	struct query q;
	int rc;

	query_start(&q, store,
		    "SELECT key, display, path, action, result, message FROM run_objects"
		    " WHERE run_id = ?1 ORDER BY seq");
	bind_int(&q, run_id);
	while (query_step(&q)) {
		struct store_run_object *o = xcalloc(1, sizeof(*o));

		o->key = column_str(&q, 0);
		o->display = column_str(&q, 1);
		o->path = column_str(&q, 2);
		o->action = column_str(&q, 3);
		o->result = column_str(&q, 4);
		o->message = column_str(&q, 5);
		vec_push(out, o);
	}
	rc = query_end(&q, err, "list objects of sync run %lld", (long long)run_id);
	if (rc < 0)
		vec_truncate(out, keep, store_run_object_free);
	return rc;
}

void store_run_object_free(void *item)
{
	struct store_run_object *o = item;

	if (!o)
		return;
	free(o->key);
	free(o->display);
	free(o->path);
	free(o->action);
	free(o->result);
	free(o->message);
	free(o);
}

/* ---- inventory ---- */

int store_inventory_list(struct store *store, const char *app, struct vec *out, struct error *err)
{
	size_t keep = out->len;
	struct query q;
	int rc;

	assert(app);
	query_start(&q, store,
		    "SELECT key, kind, name, path, hash, revision, created, pending, object_json,"
		    " live_stamp FROM inventory WHERE app = ?1 ORDER BY key");
	bind_text(&q, app);
	while (query_step(&q)) {
		struct inventory_entry *e = xcalloc(1, sizeof(*e));

		e->key = column_str(&q, 0);
		e->kind = column_str(&q, 1);
		e->name = column_str(&q, 2);
		e->path = column_str(&q, 3);
		e->hash = column_str(&q, 4);
		e->revision = column_str(&q, 5);
		e->created = column_int(&q, 6) != 0;
		e->pending = column_int(&q, 7) != 0;
		e->object_json = column_str(&q, 8);
		e->live_stamp = column_str(&q, 9);
		vec_push(out, e);
	}
	rc = query_end(&q, err, "list the inventory of '%s'", app);
	if (rc < 0)
		vec_truncate(out, keep, inventory_entry_free);
	return rc;
}

int store_inventory_put(struct store *store, const char *app, const struct inventory_entry *e,
			struct error *err)
{
	struct query q;

	assert(app && e && e->key);
	query_start(&q, store,
		    "INSERT OR REPLACE INTO inventory (app, key, kind, name, path, hash, revision,"
		    " created, pending, object_json, live_stamp)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
	bind_text(&q, app);
	bind_text(&q, e->key);
	bind_text(&q, e->kind);
	bind_text(&q, e->name);
	bind_text(&q, e->path);
	bind_text(&q, e->hash);
	bind_text(&q, e->revision);
	bind_int(&q, e->created);
	bind_int(&q, e->pending);
	bind_text(&q, e->object_json);
	bind_text(&q, e->live_stamp);
	query_step(&q);
	return query_end(&q, err, "save inventory entry '%s' of '%s'", e->key, app);
}

int store_inventory_delete(struct store *store, const char *app, const char *key, struct error *err)
{
	struct query q;

	assert(app && key);
	query_start(&q, store, "DELETE FROM inventory WHERE app = ?1 AND key = ?2");
	bind_text(&q, app);
	bind_text(&q, key);
	query_step(&q);
	return query_end(&q, err, "delete inventory entry '%s' of '%s'", key, app);
}

void inventory_entry_free(void *item)
{
	struct inventory_entry *e = item;

	if (!e)
		return;
	free(e->key);
	free(e->kind);
	free(e->name);
	free(e->path);
	free(e->hash);
	free(e->revision);
	free(e->object_json);
	free(e->live_stamp);
	free(e);
}

/* ---- originals ---- */

static const char *const original_type_names[] = {
	[ORIGINAL_FILE] = "file",
	[ORIGINAL_DIR] = "dir",
	[ORIGINAL_SYMLINK] = "symlink",
};

int store_original_put(struct store *store, const char *app, const struct original *o,
		       struct error *err)
{
	struct query q;

	assert(app && o && o->path);
	assert((size_t)o->type < ARRAY_SIZE(original_type_names));
	query_start(&q, store,
		    "INSERT OR IGNORE INTO originals (app, path, type, content, mode, uid, gid)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	bind_text(&q, app);
	bind_text(&q, o->path);
	bind_text(&q, original_type_names[o->type]);
	bind_blob(&q, o->content.data, o->content.len);
	bind_int(&q, o->mode);
	bind_int(&q, o->uid);
	bind_int(&q, o->gid);
	query_step(&q);
	return query_end(&q, err, "save the original of '%s' for '%s'", o->path, app);
}

int store_original_get(struct store *store, const char *app, const char *path, struct original *out,
		       struct error *err)
{
	const unsigned char *type = NULL;
	bool found, valid = false;
	struct query q;
	int rc;

	assert(app && path && out);
	memset(out, 0, sizeof(*out));
	query_start(&q, store,
		    "SELECT type, content, mode, uid, gid FROM originals"
		    " WHERE app = ?1 AND path = ?2");
	bind_text(&q, app);
	bind_text(&q, path);
	found = query_step(&q);
	if (found) {
		const void *content = sqlite3_column_blob(q.stmt, 1);
		int len = sqlite3_column_bytes(q.stmt, 1);

		if (len > 0 && !content)
			die("out of memory");
		out->path = xstrdup(path);
		if (len > 0 && buf_add(&out->content, content, (size_t)len) < 0)
			die("out of memory");
		out->mode = (uint32_t)column_int(&q, 2);
		out->uid = (uint32_t)column_int(&q, 3);
		out->gid = (uint32_t)column_int(&q, 4);
		type = sqlite3_column_text(q.stmt, 0);
		for (size_t i = 0; type && i < ARRAY_SIZE(original_type_names); i++) {
			if (strcmp((const char *)type, original_type_names[i]) == 0) {
				out->type = (enum original_type)i;
				valid = true;
			}
		}
	}
	rc = query_end(&q, err, "read the original of '%s' for '%s'", path, app);
	if (rc == 0 && !found)
		rc = error_set(err, ERR_NOTFOUND, "no original of '%s' kept for '%s'", path, app);
	if (rc == 0 && !valid)
		rc = error_set(
			err, ERR_INVALID,
			"cannot read the original of '%s' in '%s': is not a plumb database or is corrupt",
			path, store->path);
	if (rc < 0)
		original_release(out);
	return rc;
}

int store_original_delete(struct store *store, const char *app, const char *path, struct error *err)
{
	struct query q;

	assert(app && path);
	query_start(&q, store, "DELETE FROM originals WHERE app = ?1 AND path = ?2");
	bind_text(&q, app);
	bind_text(&q, path);
	query_step(&q);
	return query_end(&q, err, "delete the original of '%s' for '%s'", path, app);
}

void original_release(struct original *o)
{
	FREE_AND_NULL(o->path);
	buf_release(&o->content);
	o->type = ORIGINAL_FILE;
	o->mode = 0;
	o->uid = 0;
	o->gid = 0;
}

/* ---- API tokens ---- */

#define TOKEN_COLUMNS "name, role, apps, hash, created, last_used"

static void token_read(struct query *q, struct store_token *t)
{
	t->name = column_str(q, 0);
	t->role = column_str(q, 1);
	t->apps = column_str(q, 2);
	t->hash = column_str(q, 3);
	t->created = column_int(q, 4);
	t->last_used = column_int(q, 5);
}

int store_token_add(struct store *store, const struct store_token *t, struct error *err)
{
	struct query q;
	int rc;

	assert(t->name && t->role && t->apps && t->hash);
	query_start(
		&q, store,
		"INSERT INTO tokens (name, role, apps, hash, created) VALUES (?1, ?2, ?3, ?4, ?5)");
	bind_text(&q, t->name);
	bind_text(&q, t->role);
	bind_text(&q, t->apps);
	bind_text(&q, t->hash);
	bind_int(&q, t->created ? t->created : time(NULL));
	query_step(&q);
	rc = query_end(&q, err, "create token '%s'", t->name);
	if (rc == ERR_CONFLICT)
		rc = error_set(err, ERR_CONFLICT, "a token named '%s' already exists", t->name);
	return rc;
}

int store_token_find(struct store *store, const char *hash, struct store_token *out,
		     struct error *err)
{
	struct query q;
	bool found;
	int rc;

	memset(out, 0, sizeof(*out));
	query_start(&q, store, "SELECT " TOKEN_COLUMNS " FROM tokens WHERE hash = ?1");
	bind_text(&q, hash);
	found = query_step(&q);
	if (found)
		token_read(&q, out);
	rc = query_end(&q, err, "look up a token");
	if (rc == 0 && !found)
		rc = error_set(err, ERR_NOTFOUND, "no such token");
	if (rc < 0)
		store_token_release(out);
	return rc;
}

int store_token_touch(struct store *store, const char *name, int64_t when, struct error *err)
{
	struct query q;

	query_start(&q, store, "UPDATE tokens SET last_used = ?1 WHERE name = ?2");
	bind_int(&q, when);
	bind_text(&q, name);
	query_step(&q);
	return query_end(&q, err, "record the use of token '%s'", name);
}

int store_token_list(struct store *store, struct vec *out, struct error *err)
{
	size_t keep = out->len;
	struct query q;
	int rc;

	query_start(&q, store, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY name");
	while (query_step(&q)) {
		struct store_token *t = xcalloc(1, sizeof(*t));

		token_read(&q, t);
		vec_push(out, t);
	}
	rc = query_end(&q, err, "list tokens");
	if (rc < 0)
		vec_truncate(out, keep, store_token_free);
	return rc;
}

int store_token_delete(struct store *store, const char *name, struct error *err)
{
	struct query q;

	query_start(&q, store, "DELETE FROM tokens WHERE name = ?1");
	bind_text(&q, name);
	query_step(&q);
	if (query_ok(&q) && sqlite3_changes(store->db) == 0) {
		query_close(&q);
		return error_set(err, ERR_NOTFOUND, "token '%s' not found", name);
	}
	return query_end(&q, err, "revoke token '%s'", name);
}

void store_token_release(struct store_token *t)
{
	FREE_AND_NULL(t->name);
	FREE_AND_NULL(t->role);
	FREE_AND_NULL(t->apps);
	FREE_AND_NULL(t->hash);
}

void store_token_free(void *t)
{
	if (!t)
		return;
	store_token_release(t);
	free(t);
}

/* ---- audit log ---- */

int store_audit_add(struct store *store, const struct store_audit *a, struct error *err)
{
	struct query q;

	query_start(&q, store,
		    "INSERT INTO audit (time, actor, action, app, detail, status)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	bind_int(&q, a->time ? a->time : time(NULL));
	bind_text(&q, a->actor ? a->actor : "");
	bind_text(&q, a->action ? a->action : "");
	bind_text(&q, a->app ? a->app : "");
	bind_text(&q, a->detail ? a->detail : "");
	bind_int(&q, a->status);
	query_step(&q);
	return query_end(&q, err, "record an audit entry");
}

int store_audit_list(struct store *store, size_t limit, struct vec *out, struct error *err)
{
	size_t keep = out->len;
	struct query q;
	int rc;

	query_start(&q, store,
		    "SELECT id, time, actor, action, app, detail, status FROM audit"
		    " ORDER BY id DESC LIMIT ?1");
	bind_int(&q, limit ? (int64_t)limit : -1);
	while (query_step(&q)) {
		struct store_audit *a = xcalloc(1, sizeof(*a));

		a->id = column_int(&q, 0);
		a->time = column_int(&q, 1);
		a->actor = column_str(&q, 2);
		a->action = column_str(&q, 3);
		a->app = column_str(&q, 4);
		a->detail = column_str(&q, 5);
		a->status = (int)column_int(&q, 6);
		vec_push(out, a);
	}
	rc = query_end(&q, err, "read the audit log");
	if (rc < 0)
		vec_truncate(out, keep, store_audit_free);
	return rc;
}

void store_audit_free(void *item)
{
	struct store_audit *a = item;

	if (!a)
		return;
	free(a->actor);
	free(a->action);
	free(a->app);
	free(a->detail);
	free(a);
}

/* ---- application events ---- */

int store_event_add(struct store *store, const struct store_event *e, int64_t *id_out,
		    struct error *err)
{
	struct query q;
	int rc;

	query_start(
		&q, store,
		"INSERT INTO events (time, app, type, message, run_id) VALUES (?1, ?2, ?3, ?4, ?5)");
	bind_int(&q, e->time ? e->time : time(NULL));
	bind_text(&q, e->app);
	bind_text(&q, e->type);
	bind_text(&q, e->message ? e->message : "");
	bind_int(&q, e->run_id);
	query_step(&q);
	rc = query_end(&q, err, "record an event of '%s'", e->app);
	if (rc == 0 && id_out)
		*id_out = sqlite3_last_insert_rowid(store->db);
	return rc;
}

int store_event_list(struct store *store, const char *app, size_t limit, struct vec *out,
		     struct error *err)
{
	size_t keep = out->len;
	struct query q;
	int rc;

	query_start(&q, store,
		    "SELECT id, time, app, type, message, run_id FROM events"
		    " WHERE ?1 = '' OR app = ?1 ORDER BY id DESC LIMIT ?2");
	bind_text(&q, app ? app : "");
	bind_int(&q, limit ? (int64_t)limit : -1);
	while (query_step(&q)) {
		struct store_event *e = xcalloc(1, sizeof(*e));

		e->id = column_int(&q, 0);
		e->time = column_int(&q, 1);
		e->app = column_str(&q, 2);
		e->type = column_str(&q, 3);
		e->message = column_str(&q, 4);
		e->run_id = column_int(&q, 5);
		vec_push(out, e);
	}
	rc = query_end(&q, err, "read events");
	if (rc < 0)
		vec_truncate(out, keep, store_event_free);
	return rc;
}

void store_event_free(void *item)
{
	struct store_event *e = item;

	if (!e)
		return;
	free((char *)e->app);
	free((char *)e->type);
	free((char *)e->message);
	free(e);
}
