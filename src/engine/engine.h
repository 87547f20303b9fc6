/*
 * engine — one reconcile of one application: fetch, render, plan, apply,
 * prune, record. The CLI commands (diff, sync, status, rollback) and, later,
 * the daemon all go through here.
 */
#ifndef PLUMB_ENGINE_H
#define PLUMB_ENGINE_H

#include "core/core.h"
#include "engine/app.h"
#include "plan/plan.h"
#include "render/render.h"
#include "source/source.h"
#include "store/store.h"
#include "targets/host/host.h"

struct kube_target;

struct engine_opts {
	const char *data_dir;
	bool dry_run;
	int prune;	     /* -1: the application's policy, 0: never, 1: always */
	const char *trigger; /* "manual", "rollback", ... */
	const char *actor;   /* who asked; default: the user running plumb */
	const char *commit;  /* a commit to use instead of resolving the application's ref */
	bool fetch;	     /* fetch before resolving (false: the cache as it is) */
	bool progress;	     /* report each change on stderr as it is applied */
	/* after a sync, wait (up to the application's health timeout) until every
	 * object is healthy; Kubernetes only (a host's objects are ready when written) */
	bool wait;
};

/* An application's health (Kubernetes: kstatus' rules, the worst object wins). */
enum app_health {
	HEALTH_UNKNOWN,	    /* not assessed */
	HEALTH_HEALTHY,	    /* every object Current */
	HEALTH_PROGRESSING, /* some object is not there yet */
	HEALTH_DEGRADED,    /* some object failed, or was not healthy in time */
};
const char *app_health_name(enum app_health h); /* "Healthy", ... */

/* Everything one reconcile produced; release with engine_result_release. */
struct engine_result {
	struct source_commit commit;
	struct plan plan;
	int64_t run_id; /* 0 when nothing was recorded (plans, dry runs) */
	enum run_result result;
	unsigned applied; /* changes that went through */
	unsigned failed;
	/* internals kept alive for the plan's borrowed pointers */
	struct source *source;
	struct tree *tree;
	struct objset *set;
	struct host_target *target;
	struct kube_target *kube; /* a Kubernetes application's connection */
	struct vec inventory;
	/* health (Kubernetes: after a sync with wait, and from engine_health) */
	enum app_health health;
	struct buf health_why; /* a line per object not healthy: "Deployment/web (demo): ..." */
};

/* Fetches (if asked), renders and plans, writing nothing. */
int engine_plan(struct store *store, const struct app *app, const struct engine_opts *opts,
		struct engine_result *out, struct error *err);
/*
 * engine_plan, then applies the plan (unless dry_run) and records the run.
 * Returns 0 when the run succeeded; on a failure while applying, the run is
 * recorded as failed, out says what was applied, and err says what failed.
 */
int engine_sync(struct store *store, const struct app *app, const struct engine_opts *opts,
		struct engine_result *out, struct error *err);
void engine_result_release(struct engine_result *result);

/* Fetches (if opts->fetch) and resolves the application's ref (or opts->commit) only. */
int engine_resolve(const struct app *app, const struct engine_opts *opts, struct source_commit *out,
		   struct error *err);

/*
 * Drift check of the revision last applied (nothing is written): compares each
 * managed path with the stamp taken after plumb wrote it, and only when a stamp
 * differs renders that revision and plans against the live state. Appends one
 * line per drifted object ("File/motd: content") to drifted (char *). No
 * successful sync yet: nothing to compare, no drift. Kubernetes: the dry run
 * of that revision against the live objects (server-managed fields left out),
 * and *health (if not NULL) from the live objects.
 */
int engine_verify(struct store *store, const struct app *app, const struct engine_opts *opts,
		  struct vec *drifted, enum app_health *health, struct error *err);

/*
 * Asks a running sync to stop at the next object (async-signal-safe: for a
 * SIGINT or SIGTERM handler). The object being written is finished, what was
 * applied is recorded, and the run ends as interrupted (ERR_CANCELED).
 */
void engine_request_stop(void);

/*
 * The health of a planned Kubernetes application's objects, from the live
 * objects the plan read (result->health and health_why). Host applications
 * are left HEALTH_UNKNOWN: their health is the last sync's result.
 */
void engine_health(struct engine_result *result);

/* Opens (creating it if needed) <data_dir>/plumb.db. */
int engine_open_store(const char *data_dir, struct store **out, struct error *err);

#endif
