/*
 * One reconcile: source → render → plan → apply → record.
 *
 * Crash safety: before the writes of a batch, each object's inventory entry is
 * recorded as pending (with the original of a taken-over path) in one
 * transaction; after them, the entries are confirmed with each object's result
 * and a fresh stamp. A process killed in between leaves entries that the next
 * sync treats as managed, so it converges instead of taking plumb's own file
 * over as an "original". Every write itself is atomic (see targets/host).
 */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

void engine_request_stop(void)
{
	stop_requested = 1;
}

bool engine_stop_requested(void)
{
	return stop_requested != 0;
}

const char *app_health_name(enum app_health h)
{
	static const char *const names[] = {"Unknown", "Healthy", "Progressing", "Degraded"};

	return names[h];
}

void engine_result_release(struct engine_result *r)
{
	plan_release(&r->plan);
	vec_release(&r->inventory, inventory_entry_free);
	objset_free(r->set);
	tree_free(r->tree);
	host_target_free(r->target);
	kube_target_free(r->kube);
	buf_release(&r->health_why);
	source_commit_release(&r->commit);
	source_free(r->source);
	memset(r, 0, sizeof(*r));
}

int engine_open_store(const char *data_dir, struct store **out, struct error *err)
{
	char *path = xasprintf("%s/plumb.db", data_dir);
	int rc = store_open(out, path, err);

	free(path);
	return rc;
}

static const char *default_actor(void)
{
	const char *user = getenv("USER");
	struct passwd *pw;

	if (user && *user)
		return user;
	pw = getpwuid(geteuid());
	return pw ? pw->pw_name : "unknown";
}

/* Takes <data_dir>/locks/<app>.lock; ERR_CONFLICT if another plumb holds it. */
static int lock_app(const char *data_dir, const char *app, int *fd_out, struct error *err)
{
	char *dir = xasprintf("%s/locks", data_dir);
	char *path = xasprintf("%s/%s.lock", dir, app);
	int fd, rc = 0;

	*fd_out = -1;
	if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		rc = error_errno(err, "cannot create data directory '%s'", data_dir);
		goto out;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = error_errno(err, "cannot create '%s'", dir);
		goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = error_errno(err, "cannot open lock '%s'", path);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		rc = error_set(err, ERR_CONFLICT,
			       "another plumb is syncing application '%s' (lock '%s')", app, path);
		goto out;
	}
	*fd_out = fd;
out:
	free(dir);
	free(path);
	return rc;
}

/* Opens the source, fetches if asked, and resolves the commit to use. */
static int resolve(const struct app *app, const struct engine_opts *opts, struct engine_result *out,
		   struct error *err)
{
	struct source_opts sopts = {
		.url = app->repo_url, .data_dir = opts->data_dir, .progress = opts->progress};
	struct source_ref ref = {app->ref_kind, app->ref_value};
	int rc;

	if (opts->commit) {
		ref.kind = REF_COMMIT;
		ref.value = opts->commit;
	}
	if ((rc = source_open(&out->source, &sopts, err)) < 0)
		return rc;
	if (opts->fetch && (rc = source_fetch(out->source, NULL, err)) < 0)
		return rc;
	rc = source_resolve(out->source, &ref, &out->commit, err);
	/* a commit asked for by SHA may simply not be in the cache yet */
	if (rc == ERR_NOTFOUND && opts->commit && !opts->fetch) {
		error_clear(err);
		if ((rc = source_fetch(out->source, NULL, err)) == 0)
			rc = source_resolve(out->source, &ref, &out->commit, err);
	}
	return rc;
}

/* Renders the resolved commit and plans against the host. */
static int plan_resolved(struct store *store, const struct app *app, const struct engine_opts *opts,
			 struct engine_result *out, struct error *err)
{
	struct plan_opts popts = {0};
	int rc;

	if ((rc = source_tree(out->source, &out->commit, &out->tree, err)) < 0)
		return rc;
	if ((rc = render_tree(out->tree, app->path, NULL, &out->set, err)) < 0)
		return rc;
	if (app->kube)
		return engine_kube_plan(store, app, opts, out, err);
	if ((rc = host_target_open(&out->target, app->root, err)) < 0)
		return rc;
	if ((rc = store_inventory_list(store, app->name, &out->inventory, err)) < 0)
		return rc;
	popts.prune = opts->prune < 0 ? app->prune : opts->prune > 0;
	popts.revision = out->commit.sha;
	return plan_build_host(out->target, out->set, out->tree, &out->inventory, &popts,
			       &out->plan, err);
}

int engine_plan(struct store *store, const struct app *app, const struct engine_opts *opts,
		struct engine_result *out, struct error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = resolve(app, opts, out, err);
	if (rc == 0)
		rc = plan_resolved(store, app, opts, out, err);
	if (rc < 0)
		error_prefix(err, "%s", app->name);
	return rc;
}

/* Records (in the store's current transaction) the entry for a desired change. */
static int put_entry(struct store *store, const struct app *app, const struct change *c,
		     const char *revision, bool pending, bool created, const char *stamp,
		     struct error *err)
{
	struct inventory_entry e = {0};
	struct buf json = BUF_INIT;
	int rc;

	node_canonical_json(c->desired->root, &json);
	e.key = c->key;
	e.kind = (char *)host_kind_name(c->kind);
	e.name = (char *)c->desired->id.name;
	e.path = c->path;
	e.hash = (char *)c->hash;
	e.revision = (char *)revision;
	e.created = created;
	e.pending = pending;
	e.object_json = json.data ? json.data : (char *)"";
	e.live_stamp = (char *)(stamp ? stamp : "");
	rc = store_inventory_put(store, app->name, &e, err);
	buf_release(&json);
	return rc;
}

/* Saves what is at c->path before plumb first writes it. */
static int keep_original(struct store *store, struct host_target *target, const struct app *app,
			 const struct change *c, struct error *err)
{
	struct host_live live = {0};
	struct original o = {0};
	int rc = host_observe(target, c->path, true, &live, err);

	if (rc < 0 || live.type == LIVE_NONE)
		goto out;
	o.path = c->path;
	o.type = live.type == LIVE_DIR	     ? ORIGINAL_DIR
		 : live.type == LIVE_SYMLINK ? ORIGINAL_SYMLINK
					     : ORIGINAL_FILE;
	o.content = live.content;
	o.mode = live.mode;
	o.uid = live.uid;
	o.gid = live.gid;
	rc = store_original_put(store, app->name, &o, err);
out:
	host_live_release(&live);
	return rc;
}

void engine_progress(struct apply_ctx *ctx, const char *verb, const struct change *c, bool ok)
{
	if (!ctx->opts->progress)
		return;
	ctx->done++;
	if (ctx->tty) {
		fprintf(stderr, "\r\033[K[%u/%u] %s %s %s", ctx->done, ctx->total, verb, c->display,
			c->path);
		if (!ok || ctx->done == ctx->total)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "[%u/%u] %s %s %s\n", ctx->done, ctx->total, verb, c->display,
			c->path);
	}
}

int engine_record_object(struct apply_ctx *ctx, const struct change *c, const char *action,
			 const char *result, const char *message, struct error *err)
{
	struct store_run_object o = {
		.key = c->key,
		.display = c->display,
		.path = c->path,
		.action = (char *)action,
		.result = (char *)result,
		.message = (char *)(message ? message : ""),
	};

	return store_run_object_add(ctx->store, ctx->run->id, &o, err);
}

/* Whether a desired change needs its inventory entry written. */
static bool needs_entry(const struct change *c)
{
	return c->action != ACTION_UNCHANGED || c->take_over || !c->inventory ||
	       c->inventory->pending || strcmp(c->inventory->hash, c->hash) != 0 ||
	       strcmp(c->inventory->path, c->path) != 0;
}

static bool created_by_plumb(const struct change *c)
{
	return c->inventory ? c->inventory->created : c->action == ACTION_CREATE;
}

/* A Directory's times move with every write inside it: they count only when it purges. */
static bool stamp_times(const struct change *c)
{
	return c->kind != HOST_DIRECTORY || (c->resource && c->resource->purge);
}

#define APPLY_BATCH 256

/*
 * Creates or updates a batch of objects in three steps: one transaction records
 * a pending inventory entry for each (and the original of each path taken over),
 * then the writes happen, then one transaction confirms what was written. A
 * crash anywhere leaves entries that the next sync treats as managed. The first
 * failed write stops the batch; entries of new objects not written are dropped.
 */
static int apply_batch(struct apply_ctx *ctx, struct change **batch, size_t n, struct error *err)
{
	struct store *store = ctx->store;
	const char *revision = ctx->res->commit.sha;
	struct error aerr = ERROR_INIT;
	struct buf stamp = BUF_INIT;
	size_t i, written;
	int rc, failed = 0;

	if ((rc = store_begin(store, err)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		struct change *c = batch[i];

		if (c->take_over &&
		    (rc = keep_original(store, ctx->res->target, ctx->app, c, err)) < 0)
			goto abort;
		if (c->action != ACTION_UNCHANGED &&
		    (rc = put_entry(store, ctx->app, c, revision, true, created_by_plumb(c), NULL,
				    err)) < 0)
			goto abort;
	}
	if ((rc = store_commit(store, err)) < 0)
		return rc;

	host_defer_dir_sync(ctx->res->target, true);
	for (written = 0; written < n; written++) {
		struct change *c = batch[written];

		if (c->action == ACTION_UNCHANGED)
			continue;
		if (stop_requested) {
			failed = error_set(err, ERR_CANCELED, "stopped by a signal");
			break;
		}
		failed = host_apply(ctx->res->target, c->resource, &aerr);
		if (failed < 0) {
			error_set(err, failed, "%s:%u: %s: %s", c->desired->file, c->desired->line,
				  c->display, aerr.msg);
			break;
		}
	}
	/* the renames are durable before the run says they happened; if they cannot
	 * be made so, the entries stay pending and the next sync checks them again */
	host_defer_dir_sync(ctx->res->target, false);
	if ((rc = host_sync_dirs(ctx->res->target, err)) < 0) {
		ctx->run->failed++;
		ctx->res->failed++;
		return rc;
	}

	if ((rc = store_begin(store, err)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		struct change *c = batch[i];

		if (i < written) {
			/* what the host holds now, for the next sync's quick check */
			if (host_stamp(ctx->res->target, c->path, stamp_times(c), &stamp, NULL) < 0)
				buf_reset(&stamp);
			rc = put_entry(store, ctx->app, c, revision, false, created_by_plumb(c),
				       stamp.data ? stamp.data : "", err);
			if (rc == 0 && c->action != ACTION_UNCHANGED)
				rc = engine_record_object(ctx, c, action_name(c->action), "ok",
							  NULL, err);
		} else if (i == written && failed != ERR_CANCELED) {
			rc = engine_record_object(ctx, c, action_name(c->action), "failed",
						  aerr.msg, err);
		} else if (!c->inventory && c->action != ACTION_UNCHANGED) {
			rc = store_inventory_delete(store, ctx->app->name, c->key, err);
		}
		if (rc < 0)
			goto abort;
	}
	rc = store_commit(store, err);
	buf_release(&stamp);
	if (rc < 0)
		return rc;

	for (i = 0; i < written; i++) {
		struct change *c = batch[i];

		if (c->action == ACTION_CREATE) {
			ctx->run->created++;
			engine_progress(ctx, "created", c, true);
		} else if (c->action == ACTION_UPDATE) {
			ctx->run->updated++;
			engine_progress(ctx, "updated", c, true);
		}
		if (c->action != ACTION_UNCHANGED)
			ctx->res->applied++;
	}
	if (failed == ERR_CANCELED)
		return failed;
	if (failed < 0) {
		ctx->run->failed++;
		ctx->res->failed++;
		engine_progress(ctx, "FAILED", batch[written], false);
		return failed;
	}
	return 0;
abort:
	buf_release(&stamp);
	store_rollback(store);
	return rc;
}

/* Prunes one object: restores what plumb took over, or removes what it created. */
static int apply_delete(struct apply_ctx *ctx, struct change *c, struct error *err)
{
	struct original o = {0};
	struct error aerr = ERROR_INIT;
	const char *note = NULL;
	int rc = store_original_get(ctx->store, ctx->app->name, c->path, &o, &aerr);

	if (rc == 0) {
		enum host_live_type type = o.type == ORIGINAL_DIR	? LIVE_DIR
					   : o.type == ORIGINAL_SYMLINK ? LIVE_SYMLINK
									: LIVE_FILE;

		rc = host_restore(ctx->res->target, c->path, type, &o.content, o.mode, o.uid, o.gid,
				  &aerr);
		note = "original restored";
	} else if (rc == ERR_NOTFOUND) {
		rc = host_remove(ctx->res->target, c->path, c->kind, &aerr);
		if (rc == ERR_CONFLICT && c->kind == HOST_DIRECTORY) {
			note = aerr.msg;
			rc = 0;
		}
	}
	original_release(&o);
	if (rc < 0) {
		error_set(err, rc, "%s %s: %s", c->display, c->path, aerr.msg);
		ctx->run->failed++;
		ctx->res->failed++;
		engine_record_object(ctx, c, action_name(c->action), "failed", aerr.msg, NULL);
		engine_progress(ctx, "FAILED", c, false);
		return rc;
	}
	if ((rc = store_begin(ctx->store, err)) < 0)
		return rc;
	if (!c->moved && (rc = store_inventory_delete(ctx->store, ctx->app->name, c->key, err)) < 0)
		goto abort;
	if ((rc = store_original_delete(ctx->store, ctx->app->name, c->path, err)) < 0 &&
	    rc != ERR_NOTFOUND)
		goto abort;
	if ((rc = engine_record_object(ctx, c, action_name(c->action), "ok", note, err)) < 0)
		goto abort;
	if ((rc = store_commit(ctx->store, err)) < 0)
		return rc;
	ctx->run->deleted++;
	ctx->res->applied++;
	engine_progress(ctx,
			note && strcmp(note, "original restored") == 0 ? "restored" : "deleted", c,
			true);
	return 0;
abort:
	store_rollback(ctx->store);
	return rc;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Removes the unmanaged entries of a purging Directory, all at once when its
 * first entry comes up; the plan listed them, host_purge finds them again now.
 */
static int apply_purge(struct apply_ctx *ctx, struct change *entry, struct map *purged,
		       struct error *err)
{
	struct vec managed = VEC_INIT, removed = VEC_INIT;
	const struct change *c, *dir = NULL;
	struct error aerr = ERROR_INIT;
	const char *path;
	size_t i;
	int rc = 0;

	vec_foreach (&ctx->res->plan.changes, i, c) {
		if (c->resource && c->action != ACTION_DELETE)
			vec_push(&managed, c->path);
		if (c->resource && c->desired == entry->desired)
			dir = c;
	}
	if (!dir || map_has(purged, dir->path))
		goto out;
	map_put(purged, dir->path, NULL);
	vec_sort(&managed, cmp_cstr);
	rc = host_purge(ctx->res->target, dir->resource, &managed, false, &removed, &aerr);
	vec_foreach (&removed, i, path) {
		struct change gone = {.key = (char *)"",
				      .display = (char *)"(unmanaged)",
				      .path = (char *)path,
				      .action = ACTION_DELETE};

		engine_record_object(ctx, &gone, "delete", "ok", "purged", NULL);
		ctx->run->deleted++;
		ctx->res->applied++;
		engine_progress(ctx, "purged", &gone, true);
	}
	if (rc < 0) {
		error_set(err, rc, "%s:%u: %s: purge: %s", dir->desired->file, dir->desired->line,
			  dir->display, aerr.msg);
		ctx->run->failed++;
		ctx->res->failed++;
		engine_record_object(ctx, entry, action_name(entry->action), "failed", aerr.msg,
				     NULL);
	}
out:
	vec_release(&managed, NULL);
	vec_release(&removed, free);
	return rc;
}

/*
 * The quick check for a sync of the revision already applied: when the
 * application is defined as at its newest run, that run succeeded at this very
 * commit, and every managed path still has the stamp taken right after plumb
 * wrote it (a stat: inode, size, mtime, ctime, mode, owner), nothing can
 * differ, and nothing needs rendering or reading. Sets *count and returns true
 * then; otherwise leaves out as it found it.
 */
static bool unchanged_since_last_sync(struct store *store, const struct app *app,
				      struct engine_result *out, unsigned *count)
{
	struct store_app stored = {0};
	struct vec runs = VEC_INIT;
	struct buf stamp = BUF_INIT;
	char *spec = app_to_json(app);
	const struct store_run *last;
	struct inventory_entry *e;
	bool same = false;
	size_t i;

	if (store_app_get(store, app->name, &stored, NULL) < 0 ||
	    strcmp(stored.spec_json, spec) != 0)
		goto out;
	if (store_run_list(store, app->name, 1, &runs, NULL) < 0 || !runs.len)
		goto out;
	last = runs.items[0];
	if (last->result != RUN_SUCCEEDED || strcmp(last->revision, out->commit.sha) != 0)
		goto out;
	if (host_target_open(&out->target, app->root, NULL) < 0 ||
	    store_inventory_list(store, app->name, &out->inventory, NULL) < 0)
		goto out;
	/* orphans left by a run without pruning are in the inventory, not in the counts */
	if (out->inventory.len != last->created + last->updated + last->unchanged)
		goto out;
	vec_foreach (&out->inventory, i, e) {
		if (e->pending || !e->live_stamp[0] ||
		    host_stamp(out->target, e->path, e->live_stamp[0] != '=', &stamp, NULL) < 0 ||
		    strcmp(stamp.data, e->live_stamp) != 0)
			goto out;
	}
	*count = (unsigned)out->inventory.len;
	same = true;
out:
	if (!same) {
		host_target_free(out->target);
		out->target = NULL;
		vec_release(&out->inventory, inventory_entry_free);
	}
	buf_release(&stamp);
	vec_release(&runs, store_run_free);
	store_app_release(&stored);
	free(spec);
	return same;
}

/* Whether an unchanged object's path was touched since its stamp was taken. */
static bool stamp_changed(struct apply_ctx *ctx, const struct change *c)
{
	struct buf stamp = BUF_INIT;
	bool changed;

	if (c->action != ACTION_UNCHANGED || !c->inventory)
		return false;
	changed = host_stamp(ctx->res->target, c->path, stamp_times(c), &stamp, NULL) < 0 ||
		  strcmp(stamp.data ? stamp.data : "", c->inventory->live_stamp) != 0;
	buf_release(&stamp);
	return changed;
}

int engine_sync(struct store *store, const struct app *app, const struct engine_opts *opts,
		struct engine_result *out, struct error *err)
{
	struct store_run run = {0};
	struct apply_ctx ctx = {.store = store, .app = app, .opts = opts, .res = out, .run = &run};
	struct map swept = MAP_INIT, purged = MAP_INIT;
	struct vec batch = VEC_INIT;
	struct change *c;
	unsigned quick = 0;
	size_t i;
	int lock_fd = -1, rc;

	memset(out, 0, sizeof(*out));
	if (!opts->dry_run && (rc = lock_app(opts->data_dir, app->name, &lock_fd, err)) < 0)
		return rc;
	if (!opts->dry_run) {
		unsigned interrupted = 0;

		/* we hold the lock: a run still "running" belongs to a plumb that died */
		if ((rc = store_runs_interrupt(store, app->name, &interrupted, err)) < 0)
			goto out;
		if (interrupted)
			log_warn("%s: %u earlier sync run%s did not finish (plumb was stopped); "
				 "recorded as interrupted",
				 app->name, interrupted, interrupted == 1 ? "" : "s");
	}
	rc = resolve(app, opts, out, err);
	if (rc == 0 && !opts->dry_run && !app->kube &&
	    unchanged_since_last_sync(store, app, out, &quick))
		out->plan.counts[ACTION_UNCHANGED] = quick;
	else if (rc == 0)
		rc = plan_resolved(store, app, opts, out, err);
	if (rc < 0)
		error_prefix(err, "%s", app->name);
	if (rc < 0 || opts->dry_run)
		goto out;

	run.app = app->name;
	run.revision = out->commit.sha;
	run.ref = out->commit.ref ? out->commit.ref : (char *)"";
	run.author = out->commit.author_name ? out->commit.author_name : (char *)"";
	run.message = out->commit.summary ? out->commit.summary : (char *)"";
	run.trigger = (char *)(opts->trigger ? opts->trigger : "manual");
	run.actor = (char *)(opts->actor ? opts->actor : default_actor());
	run.started = (int64_t)time(NULL);
	run.result = RUN_RUNNING;
	run.error = (char *)"";
	if ((rc = store_run_begin(store, &run, &run.id, err)) < 0)
		goto out;
	out->run_id = run.id;
	ctx.tty = isatty(STDERR_FILENO);
	ctx.total = out->plan.counts[ACTION_CREATE] + out->plan.counts[ACTION_UPDATE] +
		    out->plan.counts[ACTION_DELETE];

	if (app->kube) {
		rc = engine_kube_apply(store, app, opts, out, &run, err);
		goto finish;
	}
	/* leftovers of a crashed write, in every directory we are about to touch */
	vec_foreach (&out->plan.changes, i, c) {
		char *dir = xstrdup(c->path);
		char *slash = strrchr(dir, '/');
		unsigned removed = 0;

		*(slash == dir ? slash + 1 : slash) = '\0';
		if (!map_has(&swept, dir)) {
			map_put(&swept, dir, NULL);
			host_sweep_temp(out->target, dir, &removed, NULL);
			if (removed)
				log_info("%s: removed %u stale temporary files in '%s'", app->name,
					 removed, dir);
		}
		free(dir);
	}

	for (i = 0; i < out->plan.changes.len && rc == 0; i++) {
		c = out->plan.changes.items[i];
		if (c->orphan)
			continue;
		if (c->action == ACTION_UNCHANGED)
			run.unchanged++;
		if (stop_requested && (c->purge_entry || c->action == ACTION_DELETE)) {
			rc = error_set(err, ERR_CANCELED, "stopped by a signal");
			break;
		}
		if (c->purge_entry)
			rc = apply_purge(&ctx, c, &purged, err);
		else if (c->action == ACTION_DELETE)
			rc = apply_delete(&ctx, c, err);
		else if (needs_entry(c) || stamp_changed(&ctx, c))
			vec_push(&batch, c);
		/* a batch ends when full, and before the first delete (they come last) */
		bool last_desired =
			i + 1 == out->plan.changes.len ||
			((struct change *)out->plan.changes.items[i + 1])->action == ACTION_DELETE;

		if (batch.len && (batch.len == APPLY_BATCH || last_desired)) {
			rc = apply_batch(&ctx, (struct change **)batch.items, batch.len, err);
			batch.len = 0;
		}
	}
	run.unchanged += quick;
finish:
	run.finished = (int64_t)time(NULL);
	run.result = rc == ERR_CANCELED ? RUN_INTERRUPTED : rc < 0 ? RUN_FAILED : RUN_SUCCEEDED;
	run.error = rc < 0 ? err->msg : (char *)"";
	out->result = run.result;
	{
		struct error ferr = ERROR_INIT;

		if (store_run_finish(store, &run, &ferr) < 0 && rc == 0)
			rc = error_set(err, ferr.code, "%s", ferr.msg);
		char *spec = app_to_json(app);

		if (store_app_put(store, app->name, spec, &ferr) < 0 && rc == 0)
			rc = error_set(err, ferr.code, "%s", ferr.msg);
		free(spec);
	}
	if (rc < 0)
		error_prefix(err, "%s: sync %lld %s", app->name, (long long)run.id,
			     rc == ERR_CANCELED ? "interrupted" : "failed");
	else if (app->kube && opts->wait && (rc = engine_kube_wait(app, opts, out, err)) < 0)
		error_prefix(err, "%s: sync %lld applied, but", app->name, (long long)run.id);
out:
	vec_release(&batch, NULL);
	map_release(&swept, NULL);
	map_release(&purged, NULL);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

int engine_resolve(const struct app *app, const struct engine_opts *opts, struct source_commit *out,
		   struct error *err)
{
	struct engine_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = resolve(app, opts, &res, err);
	if (rc == 0) {
		*out = res.commit;
		memset(&res.commit, 0, sizeof(res.commit));
	}
	engine_result_release(&res);
	return rc;
}

/* True when every managed path still has the stamp plumb took after writing it. */
static bool stamps_unchanged(const struct app *app, const struct vec *inventory)
{
	struct host_target *target = NULL;
	struct buf stamp = BUF_INIT;
	const struct inventory_entry *e;
	bool same = true;
	size_t i;

	if (host_target_open(&target, app->root, NULL) < 0)
		return false;
	vec_foreach (inventory, i, e) {
		buf_reset(&stamp);
		if (e->pending || !e->live_stamp[0] ||
		    host_stamp(target, e->path, e->live_stamp[0] != '=', &stamp, NULL) < 0 ||
		    strcmp(stamp.data, e->live_stamp) != 0) {
			same = false;
			break;
		}
	}
	buf_release(&stamp);
	host_target_free(target);
	return same;
}

int engine_verify(struct store *store, const struct app *app, const struct engine_opts *opts,
		  struct vec *drifted, enum app_health *health, struct error *err)
{
	struct store_run last = {0};
	struct vec inventory = VEC_INIT;
	struct engine_opts vopts = *opts;
	struct engine_result res;
	struct change *c;
	size_t i;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = store_run_last(store, app->name, RUN_SUCCEEDED, &last, err);
	if (rc == ERR_NOTFOUND) {
		error_clear(err);
		return 0;
	}
	if (rc < 0)
		return rc;
	if ((rc = store_inventory_list(store, app->name, &inventory, err)) < 0)
		goto out;
	if (!app->kube && stamps_unchanged(app, &inventory))
		goto out;
	vopts.commit = last.revision;
	vopts.fetch = false;
	vopts.dry_run = true;
	vopts.prune = 1;
	if ((rc = engine_plan(store, app, &vopts, &res, err)) < 0)
		goto out;
	engine_health(&res);
	if (health)
		*health = res.health;
	vec_foreach (&res.plan.changes, i, c) {
		if (c->action == ACTION_UNCHANGED || c->orphan)
			continue;
		const char *what = c->action == ACTION_CREATE	? "missing"
				   : c->action == ACTION_DELETE ? "should not exist"
								: "changed";

		if (c->summary.len)
			vec_push(drifted,
				 xasprintf("%s: %s (%s)", c->display, what, c->summary.data));
		else
			vec_push(drifted, xasprintf("%s: %s", c->display, what));
	}
out:
	engine_result_release(&res);
	vec_release(&inventory, inventory_entry_free);
	store_run_release(&last);
	return rc;
}
