/* What engine.c and engine_kube.c share beyond engine.h. */
#ifndef PLUMB_ENGINE_INT_H
#define PLUMB_ENGINE_INT_H

#include "engine/engine.h"

/* Whether engine_request_stop was called. */
bool engine_stop_requested(void);

/* One sync's writing: what both targets' writers share. */
struct apply_ctx {
	struct store *store;
	const struct app *app;
	const struct engine_opts *opts;
	struct engine_result *res;
	struct store_run *run;
	unsigned done, total; /* changes written so far, of how many */
	bool tty;	      /* stderr is a terminal: one progress line, rewritten */
};

/* "[3/10] created Deployment/web demo" on stderr when opts->progress. */
void engine_progress(struct apply_ctx *ctx, const char *verb, const struct change *c, bool ok);
/* Adds c's outcome to the run ("create", "ok"; "delete", "failed", message). */
int engine_record_object(struct apply_ctx *ctx, const struct change *c, const char *action,
			 const char *result, const char *message, struct error *err);

/* ---- engine_kube.c: the Kubernetes target ---- */

void kube_target_free(struct kube_target *t);
/*
 * Connects, reads the live objects and plans a Kubernetes application whose
 * set out->set is rendered: a server-side dry run of every object (those whose
 * namespace or CustomResourceDefinition this set creates wait for stage 0),
 * compared with the live object; prunes from the inventory. ERR_INVALID (or
 * the first rejection's code) lists every object the server refused, with
 * its file:line.
 */
int engine_kube_plan(struct store *store, const struct app *app, const struct engine_opts *opts,
		     struct engine_result *out, struct error *err);
/*
 * Applies a planned Kubernetes application in stages and prunes, recording
 * each object in run (counts included) and the inventory. 0, or the first
 * failure (the objects applied before it are recorded as applied).
 */
int engine_kube_apply(struct store *store, const struct app *app, const struct engine_opts *opts,
		      struct engine_result *res, struct store_run *run, struct error *err);
/*
 * Waits until every desired object is healthy (or the application's health
 * timeout passes): res->health and health_why. ERR_TIMEOUT when not healthy
 * in time, naming the objects and why.
 */
int engine_kube_wait(const struct app *app, const struct engine_opts *opts,
		     struct engine_result *res, struct error *err);

#endif
