/*
 * daemon — the reconcile loop behind `plumb serve`: every application is polled
 * at its interval (with jitter), synced when its revision changes (or on a
 * trigger: webhook, API, drift), retried with backoff when a sync fails, and
 * watched for drift (inotify on the directories of its managed paths, plus a
 * periodic verify). A bounded pool of workers runs the jobs, so a slow or
 * failing application never holds up the others.
 *
 * Every run and every drift is published as an event (for the API's stream)
 * and counted in the metrics.
 */
#ifndef PLUMB_DAEMON_H
#define PLUMB_DAEMON_H

#include "core/core.h"
#include "engine/app.h"
#include "store/store.h"

struct metrics;
struct daemon;

struct daemon_opts {
	const char *data_dir;
	const char *config;	     /* an Applications file, or a directory of them */
	unsigned workers;	     /* applications reconciled at once (default 4) */
	uint64_t verify_interval_ms; /* full drift verify of every application (default 5m) */
	uint64_t drift_debounce_ms;  /* quiet time after a change before checking (200 ms) */
	uint64_t drift_poll_ms;	     /* verify period when inotify cannot watch (10 s) */
	struct metrics *metrics;     /* where to count (may be NULL) */
};

/* Loads the config, opens the store, and starts the scheduler, workers and watcher. */
int daemon_start(struct daemon **out, const struct daemon_opts *opts, struct error *err);
/* Re-reads the config (SIGHUP). On error the running config is kept. */
int daemon_reload(struct daemon *d, struct error *err);
/*
 * Stops: no new job starts, a running sync finishes the object it is writing
 * and is recorded as interrupted, event streams end, and every thread is
 * joined. The API calls below still answer until daemon_free.
 */
void daemon_stop(struct daemon *d);
/* Stops (if not yet) and frees. */
void daemon_free(struct daemon *d);

/* True once the config is loaded and the store open. */
bool daemon_ready(struct daemon *d);

/* ---- what the API asks ---- */

/* Appends a JSON array of every application with its state to out. */
int daemon_apps_json(struct daemon *d, bool (*visible)(void *ctx, const char *app), void *ctx,
		     struct buf *out);
/* One application: its state, spec and managed objects. ERR_NOTFOUND if unknown. */
int daemon_app_json(struct daemon *d, const char *app, struct buf *out, struct error *err);
/* Its sync runs, newest first (limit 0: 50). */
int daemon_history_json(struct daemon *d, const char *app, size_t limit, struct buf *out,
			struct error *err);
/* One run with its objects. */
int daemon_run_json(struct daemon *d, const char *app, int64_t run_id, struct buf *out,
		    struct error *err);
/* The plan from the live state to the newest revision (fetched), as JSON. */
int daemon_diff_json(struct daemon *d, const char *app, struct buf *out, struct error *err);

/*
 * Queues a sync of app (revision NULL: the newest of its ref), whatever its
 * automated policy says. trigger is "manual", "rollback", ...; actor who asked.
 */
int daemon_sync(struct daemon *d, const char *app, const char *revision, const char *trigger,
		const char *actor, struct error *err);
/* Rollback: a sync of the revision of run `to_run`, or of the commit `to_sha`. */
int daemon_rollback(struct daemon *d, const char *app, const char *to, const char *actor,
		    struct error *err);
int daemon_set_suspended(struct daemon *d, const char *app, bool suspended, const char *actor,
			 struct error *err);
/* A push to the repository whose URL key (hook_url_key) is given: *count apps queued. */
int daemon_repo_pushed(struct daemon *d, const char *url_key, const char *trigger, unsigned *count);
/* Names of the applications whose repoURL has this key (for scoping hooks). */
bool daemon_app_exists(struct daemon *d, const char *app);

/* ---- events, for the API's server-sent event stream ---- */

/*
 * Waits until an event newer than *seq exists (or timeout_ms passes, or the
 * daemon stops), then appends the next one as JSON to out and advances *seq.
 * Returns 1 with an event, 0 on timeout, -1 when stopping. *seq 0 starts at
 * the next event published.
 */
int daemon_next_event(struct daemon *d, uint64_t *seq, uint64_t timeout_ms, struct buf *out);
uint64_t daemon_event_seq(struct daemon *d);

/* The store, for the server's tokens and audit (one connection, serialised by the daemon). */
int daemon_with_store(struct daemon *d,
		      int (*fn)(struct store *store, void *ctx, struct error *err), void *ctx,
		      struct error *err);

#endif
