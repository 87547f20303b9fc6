/*
 * store — plumb's state in one SQLite database (<data-dir>/plumb.db): the
 * applications, every sync run with its per-object results, each
 * application's inventory (what plumb manages on the target), and the
 * originals of files plumb took over.
 *
 * WAL mode, synchronous=FULL, numbered schema migrations in code. Every
 * function is one transaction unless it runs inside store_begin/store_commit,
 * so a process killed at any instant leaves a consistent database.
 *
 * Strings returned inside structs are owned by the struct; free them with the
 * struct's _release function. Times are seconds since the epoch (UTC).
 */
#ifndef PLUMB_STORE_H
#define PLUMB_STORE_H

#include "core/core.h"

struct store;

/*
 * Opens (creating it and its directory if needed) and migrates the database.
 * The directory is made 0700 and a new file 0600. ERR_UNSUPPORTED for a
 * database from a newer plumb, ERR_INVALID for a file that is not a plumb
 * database, ERR_TIMEOUT if another process holds the lock for over 5 s,
 * ERR_IO (or ERR_AUTH, ERR_NOTFOUND from errno) when the file cannot be used.
 * The caller frees *out with store_close.
 */
int store_open(struct store **out, const char *path, struct error *err);
/* Closes the database; an open transaction is rolled back. NULL is allowed. */
void store_close(struct store *store);
/* The schema version the database is at (the number of migrations applied). */
int store_schema_version(struct store *store);

/*
 * Explicit transactions, for several calls that must land together. Begin
 * takes the write lock at once (BEGIN IMMEDIATE; ERR_TIMEOUT after 5 s); nested
 * transactions are a programming error. If commit fails, the transaction is
 * rolled back. Rollback outside a transaction does nothing, so it can sit on
 * a cleanup path.
 */
int store_begin(struct store *store, struct error *err);
int store_commit(struct store *store, struct error *err);
void store_rollback(struct store *store);

/* ---- applications ---- */

struct store_app {
	char *name;
	char *spec_json; /* the Application as last synced, canonical JSON */
	int64_t created;
	int64_t updated;
	bool suspended;
};

/* Inserts or updates by name (suspended is kept as stored). */
int store_app_put(struct store *store, const char *name, const char *spec_json, struct error *err);
/* ERR_NOTFOUND if there is no such application. */
int store_app_get(struct store *store, const char *name, struct store_app *out, struct error *err);
/* Sets the suspended flag; ERR_NOTFOUND if there is no such application. */
int store_app_set_suspended(struct store *store, const char *name, bool suspended,
			    struct error *err);
/* Appends struct store_app * (caller frees each with store_app_free), by name. */
int store_app_list(struct store *store, struct vec *out, struct error *err);
void store_app_release(struct store_app *app);
void store_app_free(void *app);

/* ---- sync runs ---- */

enum run_result {
	RUN_RUNNING,	 /* not finished (yet, or ever: see store_runs_interrupt) */
	RUN_SUCCEEDED,	 /* everything applied */
	RUN_FAILED,	 /* stopped by an error; what was applied is in the objects */
	RUN_INTERRUPTED, /* the process stopped before the run finished */
};

struct store_run {
	int64_t id;
	char *app;
	char *revision; /* commit SHA, or "" for a local directory */
	char *ref;	/* ref the revision came from, or "" */
	char *author;
	char *message; /* commit summary */
	char *trigger; /* "manual", "rollback", "poll", "webhook", "drift" */
	char *actor;   /* who asked: a user name, a token name, "plumb" */
	bool dry_run;
	int64_t started;
	int64_t finished; /* 0 while running */
	enum run_result result;
	char *error; /* "" unless failed */
	/* counts of objects by action */
	unsigned created, updated, deleted, unchanged, failed;
};

/*
 * Records a new RUN_RUNNING run from run's app, revision, ref, author, message,
 * trigger, actor, dry_run and started (now if 0); *id_out (if not NULL) gets
 * its id. NULL strings are stored as "".
 */
int store_run_begin(struct store *store, const struct store_run *run, int64_t *id_out,
		    struct error *err);
/*
 * Records the end: result (not RUN_RUNNING), error, counts and finished (now if
 * 0) are taken from run; id must be set. ERR_NOTFOUND if there is no such run.
 */
int store_run_finish(struct store *store, const struct store_run *run, struct error *err);
int store_run_get(struct store *store, int64_t id, struct store_run *out, struct error *err);
/* Appends struct store_run * (free each with store_run_free), newest first; app
 * NULL for every application; limit 0 for no limit. */
int store_run_list(struct store *store, const char *app, size_t limit, struct vec *out,
		   struct error *err);
/* The newest run of app with the given result, ERR_NOTFOUND if none. */
int store_run_last(struct store *store, const char *app, enum run_result result,
		   struct store_run *out, struct error *err);
/*
 * Marks the RUN_RUNNING runs of app (NULL: of every application) as
 * RUN_INTERRUPTED, finished now, with the error "interrupted: plumb stopped
 * before the run finished"; *count (if not NULL) gets how many. Call it holding
 * the application's sync lock: a run still "running" then belongs to a process
 * that died.
 */
int store_runs_interrupt(struct store *store, const char *app, unsigned *count, struct error *err);
void store_run_release(struct store_run *run);
void store_run_free(void *run);
const char *run_result_name(enum run_result result);

/* One object's outcome within a run. */
struct store_run_object {
	char *key;     /* obj_id_key() */
	char *display; /* "File/motd" */
	char *path;    /* target-specific location ("/etc/motd"), or "" */
	char *action;  /* "create", "update", "delete", "unchanged" */
	char *result;  /* "ok", "failed", "skipped" */
	char *message; /* error text, or "" */
};

/* Appends an object to the run's list; ERR_NOTFOUND if there is no such run. */
int store_run_object_add(struct store *store, int64_t run_id, const struct store_run_object *o,
			 struct error *err);
/* Appends struct store_run_object * in the order they were added; free each with
 * store_run_object_free. */
int store_run_object_list(struct store *store, int64_t run_id, struct vec *out, struct error *err);
void store_run_object_free(void *o);

/* ---- inventory: what an application manages on its target ---- */

struct inventory_entry {
	char *key; /* obj_id_key() */
	char *kind;
	char *name;
	char *path;	   /* for host objects */
	char *hash;	   /* hex SHA-256 of the desired object last applied */
	char *revision;	   /* commit it was last applied from */
	bool created;	   /* plumb created it (nothing was there before) */
	bool pending;	   /* recorded before a write that has not been confirmed */
	char *object_json; /* the desired object as last applied, for prune and rollback */
	/* what the target reported right after the object was applied (host: type,
	 * inode, size, mtime, ctime, mode, owner), "" if unknown: a sync of an
	 * unchanged revision compares it instead of reading content */
	char *live_stamp;
};

/* Appends struct inventory_entry * (free each with inventory_entry_free), by key. */
int store_inventory_list(struct store *store, const char *app, struct vec *out, struct error *err);
/* Inserts or replaces the entry with e->key. */
int store_inventory_put(struct store *store, const char *app, const struct inventory_entry *e,
			struct error *err);
/* Deleting an entry that is not there is not an error. */
int store_inventory_delete(struct store *store, const char *app, const char *key,
			   struct error *err);
void inventory_entry_free(void *e);

/* ---- originals of taken-over host paths ---- */

enum original_type { ORIGINAL_FILE, ORIGINAL_DIR, ORIGINAL_SYMLINK };

struct original {
	char *path;
	enum original_type type;
	struct buf content; /* file content, or symlink target */
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
};

/* Keeps the first original of (app, path): a second put for the same pair is ignored. */
int store_original_put(struct store *store, const char *app, const struct original *o,
		       struct error *err);
/* ERR_NOTFOUND if plumb holds no original for the path. */
int store_original_get(struct store *store, const char *app, const char *path, struct original *out,
		       struct error *err);
/* Deleting an original that is not there is not an error. */
int store_original_delete(struct store *store, const char *app, const char *path,
			  struct error *err);
void original_release(struct original *o);

/* ---- API tokens (the daemon's bearer tokens; only their hashes are kept) ---- */

struct store_token {
	char *name;
	char *role; /* "viewer", "operator", "admin" */
	char *apps; /* comma-separated application name globs, "*" for all */
	char *hash; /* hex SHA-256 of the token */
	int64_t created;
	int64_t last_used; /* 0: never */
};

/* ERR_CONFLICT if the name is taken. */
int store_token_add(struct store *store, const struct store_token *t, struct error *err);
/* The token with this hash; ERR_NOTFOUND if none. */
int store_token_find(struct store *store, const char *hash, struct store_token *out,
		     struct error *err);
int store_token_touch(struct store *store, const char *name, int64_t when, struct error *err);
/* Appends struct store_token * by name; free each with store_token_free. */
int store_token_list(struct store *store, struct vec *out, struct error *err);
/* ERR_NOTFOUND if there is no such token. */
int store_token_delete(struct store *store, const char *name, struct error *err);
void store_token_release(struct store_token *t);
void store_token_free(void *t);

/* ---- audit log: every mutating API call, with its actor ---- */

struct store_audit {
	int64_t id;
	int64_t time; /* now if 0 */
	char *actor;  /* token name */
	char *action; /* "sync", "rollback", "suspend", "token.create", ... */
	char *app;    /* "" when not about one application */
	char *detail; /* JSON or text: what was asked */
	int status;   /* the HTTP status answered */
};

int store_audit_add(struct store *store, const struct store_audit *a, struct error *err);
/* Appends struct store_audit *, newest first; limit 0 for all. */
int store_audit_list(struct store *store, size_t limit, struct vec *out, struct error *err);
void store_audit_free(void *a);

/* ---- application events: drift, out of sync, ... ---- */

struct store_event {
	int64_t id;
	int64_t time; /* now if 0 */
	const char *app;
	const char *type; /* "drift", "out-of-sync", "sync-failed", ... */
	const char *message;
	int64_t run_id; /* the run it led to, 0 if none */
};

int store_event_add(struct store *store, const struct store_event *e, int64_t *id_out,
		    struct error *err);
/* Appends struct store_event *, newest first (app NULL: all); free with store_event_free. */
int store_event_list(struct store *store, const char *app, size_t limit, struct vec *out,
		     struct error *err);
void store_event_free(void *e);

#endif
