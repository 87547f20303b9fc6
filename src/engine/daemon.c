/*
 * The reconcile loop behind `plumb serve` (see daemon.h and docs/internals/daemon.md).
 *
 * One mutex guards the daemon's state. The scheduler thread decides which
 * application is due (a trigger, a retry, a drift check, a poll) and queues
 * it; a pool of workers runs the queued jobs, one at a time per application,
 * each worker with its own store connection. The watcher thread turns inotify
 * events on managed paths into debounced drift checks.
 */
#include "engine/daemon.h"

#include "engine/engine.h"
#include "source/source.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EVENT_RING	512
#define HISTORY_DEFAULT 50

struct dapp {
	struct app *app;
	char *url_key;
	bool busy;    /* a worker has it */
	bool queued;  /* in the run queue */
	bool removed; /* gone from the config: drop when the worker is done */
	/* what is wanted next */
	bool sync_wanted; /* manual, rollback, webhook on an automated app */
	char *want_revision;
	char *want_trigger;
	char *want_actor;
	bool poll_now;	       /* webhook: fetch as soon as possible */
	uint64_t next_poll;    /* monotonic ms */
	uint64_t next_retry;   /* 0: none pending */
	unsigned retries;      /* failed attempts of retry_revision */
	char *retry_revision;  /* the revision being retried */
	char *failed_revision; /* automated sync gave up on it: not retried until it changes */
	uint64_t verify_at;    /* drift suspected: check at this time; 0 none */
	uint64_t next_verify;  /* the periodic verify */
	bool watch_failed;     /* inotify could not watch its paths: verify by polling */
	/* state, for the API */
	bool suspended;
	const char *sync_state; /* "Synced", "OutOfSync", "Unknown" */
	const char *health;	/* "Healthy", "Degraded", "Missing", "Unknown" */
	const char *activity;	/* "idle", "queued", "syncing", "polling", "verifying" */
	char *revision;		/* last applied */
	char *latest;		/* newest seen on its ref */
	char *last_result;
	char *last_error;
	int64_t last_run;
	char *drift; /* what drifted, as last reported, NULL when none */
	int64_t last_sync_time;
};

struct daemon {
	char *data_dir;
	char *config;
	struct daemon_opts opts;
	pthread_mutex_t lock;
	pthread_cond_t wake;	 /* scheduler: something changed */
	pthread_cond_t work;	 /* workers: the queue has a job */
	pthread_cond_t events_c; /* event stream readers */
	struct vec apps;	 /* struct dapp *, config order */
	struct map by_name;	 /* name -> struct dapp * */
	struct vec queue;	 /* struct dapp * waiting for a worker */
	bool stopping;
	bool ready;
	/* the API's connection */
	pthread_mutex_t store_lock;
	struct store *store;
	/* threads */
	pthread_t scheduler;
	pthread_t watcher;
	pthread_t *workers;
	unsigned nworkers;
	/* events */
	char *ring[EVENT_RING];
	uint64_t seq; /* of the newest event, 0 before any */
	/* drift watches */
	int inotify_fd;
	struct map wd_dirs;   /* "wd" -> char * directory */
	struct map path_apps; /* absolute host path -> struct dapp * */
	/* metrics */
	struct metric *m_syncs, *m_duration, *m_state, *m_health, *m_drift, *m_fetch, *m_fetch_fail;
};

static uint64_t now_ms(void)
{
	return time_monotonic_ms();
}

/* ---- events ---- */

static void publish(struct daemon *d, const char *type, const char *app, const char *fmt, ...)
	PRINTF_LIKE(4, 5);

/* Appends one event ({"seq", "time", "type", "app", ...fields}) to the ring. Holds d->lock. */
static void publish(struct daemon *d, const char *type, const char *app, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	char *slot;

	d->seq++;
	buf_addf(&b, "{\"seq\":%llu,\"time\":%lld,\"type\":", (unsigned long long)d->seq,
		 (long long)time(NULL));
	buf_add_json_string(&b, type, strlen(type));
	buf_addstr(&b, ",\"app\":");
	buf_add_json_string(&b, app, strlen(app));
	if (fmt && *fmt) {
		buf_addch(&b, ',');
		va_start(ap, fmt);
		buf_vaddf(&b, fmt, ap);
		va_end(ap);
	}
	buf_addch(&b, '}');
	slot = buf_detach(&b, NULL);
	free(d->ring[d->seq % EVENT_RING]);
	d->ring[d->seq % EVENT_RING] = slot;
	pthread_cond_broadcast(&d->events_c);
}

uint64_t daemon_event_seq(struct daemon *d)
{
	uint64_t seq;

	pthread_mutex_lock(&d->lock);
	seq = d->seq;
	pthread_mutex_unlock(&d->lock);
	return seq;
}

int daemon_next_event(struct daemon *d, uint64_t *seq, uint64_t timeout_ms, struct buf *out)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(timeout_ms / 1000);
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->lock);
	if (*seq == 0)
		*seq = d->seq;
	while (!d->stopping && d->seq <= *seq) {
		if (pthread_cond_timedwait(&d->events_c, &d->lock, &until) == ETIMEDOUT)
			break;
	}
	if (d->stopping) {
		rc = -1;
	} else if (d->seq > *seq) {
		/* a reader that fell behind the ring skips to the oldest event kept */
		if (d->seq - *seq > EVENT_RING - 1)
			*seq = d->seq - (EVENT_RING - 1);
		*seq += 1;
		buf_addstr(out, d->ring[*seq % EVENT_RING]);
		rc = 1;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* ---- metrics ---- */

static const double duration_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

static void register_metrics(struct daemon *d)
{
	static const char *const app_result[] = {"app", "result", NULL};
	static const char *const app_only[] = {"app", NULL};
	static const char *const app_state[] = {"app", "state", NULL};
	static const char *const repo_only[] = {"repo", NULL};
	struct metrics *m = d->opts.metrics;

	if (!m)
		return;
	d->m_syncs = metrics_family(m, "plumb_syncs_total", "Sync runs by application and result.",
				    METRIC_COUNTER, app_result, NULL, 0);
	d->m_duration = metrics_family(
		m, "plumb_sync_duration_seconds", "How long sync runs took, from start to record.",
		METRIC_HISTOGRAM, app_only, duration_buckets, ARRAY_SIZE(duration_buckets));
	d->m_state =
		metrics_family(m, "plumb_app_sync_state",
			       "1 for the application's current sync state (Synced, OutOfSync, "
			       "Unknown).",
			       METRIC_GAUGE, app_state, NULL, 0);
	d->m_health = metrics_family(m, "plumb_app_health",
				     "1 for the application's current health (Healthy, Degraded, "
				     "Missing, Unknown).",
				     METRIC_GAUGE, app_state, NULL, 0);
	d->m_drift = metrics_family(m, "plumb_drift_detections_total",
				    "Times a managed object was found changed by hand.",
				    METRIC_COUNTER, app_only, NULL, 0);
	d->m_fetch = metrics_family(m, "plumb_git_fetch_duration_seconds",
				    "Git fetch and resolve time by repository.", METRIC_HISTOGRAM,
				    repo_only, duration_buckets, ARRAY_SIZE(duration_buckets));
	d->m_fetch_fail = metrics_family(m, "plumb_git_fetch_failures_total",
					 "Git fetches that failed, by repository.", METRIC_COUNTER,
					 repo_only, NULL, 0);
}

static void set_state_metric(struct metric *f, const char *app, const char *const *states, size_t n,
			     const char *current)
{
	if (!f)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *labels[] = {app, states[i]};

		metric_set(f, labels, strcmp(states[i], current) == 0 ? 1 : 0);
	}
}

static const char *const sync_states[] = {"Synced", "OutOfSync", "Unknown"};
static const char *const health_states[] = {"Healthy", "Progressing", "Degraded", "Missing",
					    "Unknown"};

/* Holds d->lock. */
static void update_state(struct daemon *d, struct dapp *da, const char *sync_state,
			 const char *health)
{
	bool changed = false;

	if (sync_state && strcmp(da->sync_state, sync_state) != 0) {
		da->sync_state = sync_state;
		changed = true;
	}
	if (health && strcmp(da->health, health) != 0) {
		da->health = health;
		changed = true;
	}
	set_state_metric(d->m_state, da->app->name, sync_states, ARRAY_SIZE(sync_states),
			 da->sync_state);
	set_state_metric(d->m_health, da->app->name, health_states, ARRAY_SIZE(health_states),
			 da->health);
	if (changed)
		publish(d, "state", da->app->name, "\"sync\":\"%s\",\"health\":\"%s\"",
			da->sync_state, da->health);
}

/* ---- applications and config ---- */

static void dapp_free(void *item)
{
	struct dapp *da = item;

	if (!da)
		return;
	app_free(da->app);
	free(da->url_key);
	free(da->want_revision);
	free(da->want_trigger);
	free(da->want_actor);
	free(da->retry_revision);
	free(da->failed_revision);
	free(da->revision);
	free(da->latest);
	free(da->last_result);
	free(da->last_error);
	free(da->drift);
	free(da);
}

static void set_str(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? xstrdup(value) : NULL;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every Application of the config file, or of the *.yaml / *.yml files of the directory. */
static int load_config(const char *config, struct vec *apps, struct error *err)
{
	struct vec files = VEC_INIT;
	struct stat st;
	struct map names = MAP_INIT;
	char *file;
	size_t i;
	int rc = 0;

	if (stat(config, &st) < 0)
		return error_errno(err, "cannot read config '%s'", config);
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(config);
		struct dirent *e;

		if (!dir)
			return error_errno(err, "cannot read config directory '%s'", config);
		while ((e = readdir(dir))) {
			struct str name = str_from(e->d_name);

			if (e->d_name[0] != '.' &&
			    (str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml")))
				vec_push(&files, xasprintf("%s/%s", config, e->d_name));
		}
		closedir(dir);
		vec_sort(&files, name_cmp);
	} else {
		vec_push(&files, xstrdup(config));
	}
	vec_foreach (&files, i, file) {
		size_t before = apps->len;

		if ((rc = app_load_file(file, apps, err)) < 0)
			break;
		for (size_t k = before; k < apps->len; k++) {
			struct app *a = apps->items[k];
			struct app *other = map_get(&names, a->name);

			if (other) {
				rc = error_set(
					err, ERR_CONFLICT,
					"%s:%u: application '%s' is already defined at %s:%u",
					a->file, a->line, a->name, other->file, other->line);
				break;
			}
			map_put(&names, a->name, a);
		}
		if (rc < 0)
			break;
	}
	map_release(&names, NULL);
	vec_release(&files, free);
	if (rc < 0)
		vec_release(apps, app_free);
	return rc;
}

/* A poll time spread over the interval, so that many applications do not fetch at once. */
static uint64_t jittered(uint64_t interval)
{
	uint64_t spread = interval / 10;

	return interval - spread + (spread ? (uint64_t)rand() % (2 * spread + 1) : 0);
}

/* The state an application starts with: what the store says of its last runs. */
static void load_app_state(struct daemon *d, struct dapp *da)
{
	struct store_app stored = {0};
	struct store_run last = {0};

	da->sync_state = "Unknown";
	da->health = "Missing";
	da->activity = "idle";
	if (store_app_get(d->store, da->app->name, &stored, NULL) == 0)
		da->suspended = stored.suspended;
	store_app_release(&stored);
	if (store_run_last(d->store, da->app->name, RUN_SUCCEEDED, &last, NULL) == 0) {
		set_str(&da->revision, last.revision);
		da->health = "Healthy";
	}
	store_run_release(&last);
	{
		struct vec runs = VEC_INIT;

		if (store_run_list(d->store, da->app->name, 1, &runs, NULL) == 0 && runs.len) {
			struct store_run *r = runs.items[0];

			set_str(&da->last_result, run_result_name(r->result));
			set_str(&da->last_error, r->error);
			da->last_run = r->id;
			if (r->result == RUN_FAILED)
				da->health = "Degraded";
			/* a sync cut short when plumb stopped is finished first */
			if (r->result == RUN_INTERRUPTED && da->app->automated && r->revision[0]) {
				da->sync_wanted = true;
				set_str(&da->want_revision, r->revision);
				set_str(&da->want_trigger, "resume");
				set_str(&da->want_actor, "plumb");
				da->sync_state = "OutOfSync";
			}
		}
		vec_release(&runs, store_run_free);
	}
}

static struct dapp *dapp_new(struct daemon *d, struct app *app)
{
	struct dapp *da = xcalloc(1, sizeof(*da));
	uint64_t now = now_ms();

	da->app = app;
	da->url_key = source_url_key(app->repo_url);
	load_app_state(d, da);
	/* the first poll and drift check soon after start (things may have changed
	 * while plumb was not running), spread a little */
	da->next_poll = now + (uint64_t)rand() % 1000;
	da->next_verify = now + 1000 + (uint64_t)rand() % 1000;
	return da;
}

/* Replaces the applications with those of the config; keeps the state of unchanged ones. */
static int apply_config(struct daemon *d, struct vec *apps)
{
	struct map keep = MAP_INIT;
	struct vec next = VEC_INIT;
	struct app *app;
	struct dapp *da;
	size_t i;

	vec_foreach (apps, i, app) {
		struct dapp *old = map_get(&d->by_name, app->name);
		char *a = app_to_json(app);
		char *b = old ? app_to_json(old->app) : NULL;

		if (old && strcmp(a, b) == 0) {
			app_free(app);
			map_put(&keep, old->app->name, old);
			vec_push(&next, old);
		} else if (old) {
			/* changed spec: new settings, same state, fetch soon */
			app_free(old->app);
			old->app = app;
			free(old->url_key);
			old->url_key = source_url_key(app->repo_url);
			old->next_poll = now_ms();
			map_put(&keep, app->name, old);
			vec_push(&next, old);
		} else {
			da = dapp_new(d, app);
			map_put(&keep, app->name, da);
			vec_push(&next, da);
		}
		free(a);
		free(b);
	}
	apps->len = 0;
	vec_foreach (&d->apps, i, da) {
		if (map_get(&keep, da->app->name) == da)
			continue;
		if (da->busy || da->queued) {
			da->removed = true; /* the worker frees it */
		} else {
			dapp_free(da);
		}
	}
	vec_release(&d->apps, NULL);
	d->apps = next;
	map_release(&d->by_name, NULL);
	d->by_name = keep;
	return 0;
}

/* ---- drift watches ---- */

static char *host_path(const struct app *app, const char *path)
{
	size_t n = strlen(app->root);

	while (n > 1 && app->root[n - 1] == '/')
		n--;
	if (n == 1 && app->root[0] == '/')
		return xstrdup(path);
	return xasprintf("%.*s%s", (int)n, app->root, path);
}

/* Watches the parent directory of every managed path of da. Holds d->lock. */
static void watch_paths(struct daemon *d, struct dapp *da, const struct vec *inventory)
{
	const struct inventory_entry *e;
	size_t i;

	/* forget the application's old paths */
	for (size_t pos = 0;;) {
		const char *key;
		void *value;

		if (!map_next(&d->path_apps, &pos, &key, &value))
			break;
		if (value == da) {
			char *copy = xstrdup(key);

			map_del(&d->path_apps, copy);
			free(copy);
			pos = 0;
		}
	}
	/* a cluster is verified on a schedule: nothing on this host to watch */
	if (d->inotify_fd < 0 || da->app->kube)
		return;
	vec_foreach (inventory, i, e) {
		char *full = host_path(da->app, e->path);
		char *slash = strrchr(full, '/');
		char *dir = slash == full ? xstrdup("/") : xstrndup(full, (size_t)(slash - full));
		int wd = inotify_add_watch(d->inotify_fd, dir,
					   IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM |
						   IN_MOVED_TO | IN_DELETE | IN_CREATE |
						   IN_DELETE_SELF | IN_MOVE_SELF);

		if (wd < 0 && (errno == ENOSPC || errno == ENOMEM)) {
			if (!da->watch_failed)
				log_warn("%s: cannot watch '%s' for drift (%s): checking every "
					 "%llu s instead",
					 da->app->name, dir, strerror(errno),
					 (unsigned long long)(d->opts.drift_poll_ms / 1000));
			da->watch_failed = true;
		} else if (wd >= 0) {
			char key[16];

			snprintf(key, sizeof(key), "%d", wd);
			if (!map_has(&d->wd_dirs, key))
				map_put(&d->wd_dirs, key, xstrdup(dir));
		}
		map_put(&d->path_apps, full, da);
		free(full);
		free(dir);
	}
}

static void handle_inotify(struct daemon *d, const char *buf, ssize_t len)
{
	uint64_t now = now_ms();

	for (const char *p = buf; p < buf + len;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;
		char key[16];
		const char *dir;

		p += sizeof(*ev) + ev->len;
		snprintf(key, sizeof(key), "%d", ev->wd);
		if (!(dir = map_get(&d->wd_dirs, key)))
			continue;
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
			/* the directory itself went: every app watching in it checks now */
			for (size_t pos = 0;;) {
				const char *path;
				void *value;

				if (!map_next(&d->path_apps, &pos, &path, &value))
					break;
				if (strncmp(path, dir, strlen(dir)) == 0) {
					struct dapp *da = value;

					if (!da->busy && !da->verify_at)
						da->verify_at = now + d->opts.drift_debounce_ms;
				}
			}
			if (ev->mask & IN_IGNORED)
				free(map_del(&d->wd_dirs, key));
			continue;
		}
		if (ev->len) {
			char *full = strcmp(dir, "/") == 0 ? xasprintf("/%s", ev->name)
							   : xasprintf("%s/%s", dir, ev->name);
			struct dapp *da = map_get(&d->path_apps, full);

			free(full);
			/* plumb's own writes happen while the application is busy */
			if (da && !da->busy && !da->verify_at)
				da->verify_at = now + d->opts.drift_debounce_ms;
		}
	}
}

static void *watcher_main(void *arg)
{
	struct daemon *d = arg;
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd pfd = {.fd = d->inotify_fd, .events = POLLIN};
		int n = poll(&pfd, 1, 250);
		bool stop;

		pthread_mutex_lock(&d->lock);
		stop = d->stopping;
		if (!stop && n > 0) {
			ssize_t len = read(d->inotify_fd, buf, sizeof(buf));

			if (len > 0) {
				handle_inotify(d, buf, len);
				pthread_cond_signal(&d->wake);
			}
		}
		pthread_mutex_unlock(&d->lock);
		if (stop)
			break;
	}
	return NULL;
}

/* ---- jobs ---- */

enum job { JOB_NONE, JOB_SYNC, JOB_RETRY, JOB_VERIFY, JOB_POLL };

struct worker {
	struct daemon *d;
	struct store *store;
};

/* What is due for da now (holds d->lock); JOB_NONE if nothing. */
static enum job due(const struct daemon *d, const struct dapp *da, uint64_t now)
{
	(void)d;
	if (da->sync_wanted)
		return JOB_SYNC;
	if (da->suspended)
		return JOB_NONE;
	if (da->next_retry && now >= da->next_retry)
		return JOB_RETRY;
	if (da->poll_now || now >= da->next_poll)
		return JOB_POLL;
	if ((da->verify_at && now >= da->verify_at) || now >= da->next_verify)
		return JOB_VERIFY;
	return JOB_NONE;
}

/* The earliest time something of da becomes due. */
static uint64_t next_due(const struct daemon *d, const struct dapp *da)
{
	uint64_t t = da->next_poll;

	(void)d;
	if (da->suspended)
		return UINT64_MAX;
	if (da->next_retry && da->next_retry < t)
		t = da->next_retry;
	if (da->verify_at && da->verify_at < t)
		t = da->verify_at;
	if (da->next_verify < t)
		t = da->next_verify;
	return t;
}

static const char *repo_label(const struct app *app)
{
	return app->repo_url;
}

static uint64_t backoff_ms(const struct app *app, unsigned attempt)
{
	double ms = (double)app->retry_backoff_ms;

	for (unsigned i = 1; i < attempt; i++)
		ms *= app->retry_factor;
	if (app->retry_max_backoff_ms && ms > (double)app->retry_max_backoff_ms)
		ms = (double)app->retry_max_backoff_ms;
	return (uint64_t)ms;
}

static struct engine_opts base_opts(struct daemon *d)
{
	struct engine_opts o = {.data_dir = d->data_dir, .prune = -1};

	return o;
}

/* Runs engine_sync for da and records the outcome in its state. */
static int run_sync(struct worker *w, struct dapp *da, const char *revision, const char *trigger,
		    const char *actor, bool fetch)
{
	struct daemon *d = w->d;
	struct engine_opts opts = base_opts(d);
	struct engine_result res;
	struct error err = ERROR_INIT;
	uint64_t started = now_ms();
	struct vec inventory = VEC_INIT;
	int rc;

	opts.trigger = trigger;
	opts.actor = actor;
	opts.commit = revision;
	opts.fetch = fetch;
	pthread_mutex_lock(&d->lock);
	da->activity = "syncing";
	publish(d, "sync-started", da->app->name, "\"trigger\":\"%s\"", trigger);
	pthread_mutex_unlock(&d->lock);
	rc = engine_sync(w->store, da->app, &opts, &res, &err);
	{
		char run[24];
		struct log_field fields[] = {{"app", da->app->name},
					     {"revision", res.commit.sha[0] ? res.commit.sha : "-"},
					     {"run", run},
					     {"trigger", trigger},
					     {NULL, NULL}};

		snprintf(run, sizeof(run), "%lld", (long long)res.run_id);
		if (rc < 0)
			log_fields(LOG_WARN, fields, "sync %s: %s",
				   rc == ERR_CANCELED ? "interrupted" : "failed", err.msg);
		else
			log_fields(LOG_INFO, fields, "synced: %u applied, %u unchanged",
				   res.applied, res.plan.counts[ACTION_UNCHANGED]);
	}
	store_inventory_list(w->store, da->app->name, &inventory, NULL);
	pthread_mutex_lock(&d->lock);
	if (d->m_syncs) {
		const char *labels[] = {da->app->name, rc == 0		    ? "succeeded"
						       : rc == ERR_CANCELED ? "interrupted"
									    : "failed"};
		const char *app_label[] = {da->app->name};

		metric_add(d->m_syncs, labels, 1);
		metric_observe(d->m_duration, app_label, (double)(now_ms() - started) / 1000.0);
	}
	if (res.run_id)
		da->last_run = res.run_id;
	da->last_sync_time = time(NULL);
	set_str(&da->last_result, rc == 0	       ? "succeeded"
				  : rc == ERR_CANCELED ? "interrupted"
						       : "failed");
	set_str(&da->last_error, rc == 0 ? "" : err.msg);
	if (res.commit.sha[0])
		set_str(&da->latest, res.commit.sha);
	if (rc == 0) {
		set_str(&da->revision, res.commit.sha);
		set_str(&da->drift, NULL);
		set_str(&da->failed_revision, NULL);
		set_str(&da->retry_revision, NULL);
		da->retries = 0;
		da->next_retry = 0;
		if (da->app->kube) {
			/* objects just applied are often still rolling out: look again soon */
			engine_health(&res);
			update_state(d, da, "Synced", app_health_name(res.health));
			if (res.health != HEALTH_HEALTHY)
				da->next_verify = now_ms() + 2000;
		} else {
			update_state(d, da, "Synced", "Healthy");
		}
	} else {
		update_state(d, da, "OutOfSync", "Degraded");
	}
	watch_paths(d, da, &inventory);
	publish(d, "sync-finished", da->app->name,
		"\"run\":%lld,\"result\":\"%s\",\"revision\":\"%s\",\"trigger\":\"%s\"",
		(long long)res.run_id, da->last_result, res.commit.sha, trigger);
	pthread_mutex_unlock(&d->lock);
	vec_release(&inventory, inventory_entry_free);
	engine_result_release(&res);
	return rc;
}

/* After a failed automated sync of revision: schedule a retry, or give up on it. */
static void schedule_retry(struct daemon *d, struct dapp *da, const char *revision)
{
	pthread_mutex_lock(&d->lock);
	if (!da->retry_revision || !revision || strcmp(da->retry_revision, revision) != 0) {
		set_str(&da->retry_revision, revision);
		da->retries = 0;
	}
	da->retries++;
	if (da->retries <= da->app->retry_limit) {
		uint64_t wait = backoff_ms(da->app, da->retries);

		da->next_retry = now_ms() + wait;
		publish(d, "retry-scheduled", da->app->name, "\"attempt\":%u,\"inMs\":%llu",
			da->retries, (unsigned long long)wait);
	} else {
		da->next_retry = 0;
		set_str(&da->failed_revision, revision);
	}
	pthread_mutex_unlock(&d->lock);
}

/* Fetch and resolve; on a new revision sync it (automated) or report it (manual). */
static void job_poll(struct worker *w, struct dapp *da, const char *trigger)
{
	struct daemon *d = w->d;
	struct engine_opts opts = base_opts(d);
	struct source_commit commit = {0};
	struct error err = ERROR_INIT;
	uint64_t started = now_ms();
	const char *repo[] = {repo_label(da->app)};
	bool changed, automated = da->app->automated;
	int rc;

	opts.fetch = true;
	rc = engine_resolve(da->app, &opts, &commit, &err);
	pthread_mutex_lock(&d->lock);
	if (d->m_fetch) {
		metric_observe(d->m_fetch, repo, (double)(now_ms() - started) / 1000.0);
		if (rc < 0)
			metric_add(d->m_fetch_fail, repo, 1);
		else
			metric_add(d->m_fetch_fail, repo, 0);
	}
	if (rc < 0) {
		log_fields(LOG_WARN, (struct log_field[]){{"app", da->app->name}, {0}}, "%s",
			   err.msg);
		set_str(&da->last_error, err.msg);
		publish(d, "fetch-failed", da->app->name, "\"error\":\"%s\"", "see log");
		pthread_mutex_unlock(&d->lock);
		return;
	}
	changed = !da->revision || strcmp(da->revision, commit.sha) != 0;
	if (!da->latest || strcmp(da->latest, commit.sha) != 0) {
		set_str(&da->latest, commit.sha);
		if (changed)
			publish(d, "new-revision", da->app->name, "\"revision\":\"%s\"",
				commit.sha);
		/* a newer revision replaces a pending retry of an older one */
		if (da->retry_revision && strcmp(da->retry_revision, commit.sha) != 0) {
			da->next_retry = 0;
			da->retries = 0;
			set_str(&da->retry_revision, NULL);
		}
	}
	if (!changed) {
		if (!da->drift && strcmp(da->last_result ? da->last_result : "", "failed") != 0)
			update_state(d, da, "Synced", NULL);
		pthread_mutex_unlock(&d->lock);
		source_commit_release(&commit);
		return;
	}
	if (!automated || (da->failed_revision && strcmp(da->failed_revision, commit.sha) == 0) ||
	    (da->next_retry && da->retry_revision && strcmp(da->retry_revision, commit.sha) == 0)) {
		update_state(d, da, "OutOfSync", NULL);
		pthread_mutex_unlock(&d->lock);
		source_commit_release(&commit);
		return;
	}
	pthread_mutex_unlock(&d->lock);
	if (run_sync(w, da, commit.sha, trigger, "plumb", false) < 0 && !d->stopping)
		schedule_retry(d, da, commit.sha);
	source_commit_release(&commit);
}

static void job_verify(struct worker *w, struct dapp *da)
{
	struct daemon *d = w->d;
	struct engine_opts opts = base_opts(d);
	struct vec drifted = VEC_INIT;
	struct error err = ERROR_INIT;
	struct buf what = BUF_INIT;
	char *line;
	size_t i;
	bool heal;

	pthread_mutex_lock(&d->lock);
	da->activity = "verifying";
	pthread_mutex_unlock(&d->lock);
	enum app_health health = HEALTH_UNKNOWN;

	if (engine_verify(w->store, da->app, &opts, &drifted, &health, &err) < 0) {
		log_fields(LOG_WARN, (struct log_field[]){{"app", da->app->name}, {0}},
			   "drift check failed: %s", err.msg);
		return;
	}
	if (health != HEALTH_UNKNOWN) {
		pthread_mutex_lock(&d->lock);
		update_state(d, da, da->sync_state, app_health_name(health));
		pthread_mutex_unlock(&d->lock);
	}
	if (!drifted.len) {
		pthread_mutex_lock(&d->lock);
		if (da->drift) {
			set_str(&da->drift, NULL);
			if (da->revision && da->latest && strcmp(da->revision, da->latest) == 0)
				update_state(d, da, "Synced",
					     health != HEALTH_UNKNOWN ? app_health_name(health)
								      : "Healthy");
		}
		pthread_mutex_unlock(&d->lock);
		return;
	}
	vec_foreach (&drifted, i, line) {
		if (i)
			buf_addstr(&what, "; ");
		buf_addstr(&what, line);
	}
	heal = da->app->self_heal && da->app->automated;
	pthread_mutex_lock(&d->lock);
	if (!da->drift || strcmp(da->drift, what.data) != 0) {
		/* one detection per change found, however often it is verified again */
		if (d->m_drift) {
			const char *labels[] = {da->app->name};

			metric_add(d->m_drift, labels, 1);
		}
		struct store_event ev = {
			.app = da->app->name, .type = "drift", .message = what.data};

		set_str(&da->drift, what.data);
		pthread_mutex_unlock(&d->lock);
		store_event_add(w->store, &ev, NULL, NULL);
		pthread_mutex_lock(&d->lock);
		log_fields(LOG_WARN, (struct log_field[]){{"app", da->app->name}, {0}},
			   "drift: %s%s", what.data,
			   heal ? " (healing)" : " (not healing: selfHeal is off)");
		{
			struct buf js = BUF_INIT;

			buf_add_json_string(&js, what.data, what.len);
			publish(d, "drift", da->app->name, "\"objects\":%s,\"heal\":%s", js.data,
				heal ? "true" : "false");
			buf_release(&js);
		}
	}
	if (!heal)
		update_state(d, da, "OutOfSync", NULL);
	pthread_mutex_unlock(&d->lock);
	if (heal && da->revision) {
		char *rev = xstrdup(da->revision);

		run_sync(w, da, rev, "drift", "plumb", false);
		free(rev);
	}
	buf_release(&what);
	vec_release(&drifted, free);
}

static void run_job(struct worker *w, struct dapp *da)
{
	struct daemon *d = w->d;
	uint64_t now = now_ms();
	enum job job;
	char *revision = NULL, *trigger = NULL, *actor = NULL;
	bool webhook;

	pthread_mutex_lock(&d->lock);
	job = due(d, da, now);
	webhook = da->poll_now;
	if (job == JOB_SYNC) {
		da->sync_wanted = false;
		revision = da->want_revision;
		trigger = da->want_trigger;
		actor = da->want_actor;
		da->want_revision = da->want_trigger = da->want_actor = NULL;
	}
	if (job == JOB_RETRY) {
		da->next_retry = 0;
		revision = da->retry_revision ? xstrdup(da->retry_revision) : NULL;
	}
	if (job == JOB_POLL) {
		da->poll_now = false;
		da->next_poll = now + jittered(da->app->interval_ms);
	}
	if (job == JOB_VERIFY) {
		da->verify_at = 0;
		/* Kubernetes objects still rolling out are looked at again soon */
		da->next_verify =
			now + (da->watch_failed || (da->app->kube && da->health &&
						    strcmp(da->health, "Progressing") == 0)
				       ? d->opts.drift_poll_ms
				       : jittered(d->opts.verify_interval_ms));
	}
	da->activity = job == JOB_POLL ? "polling" : "syncing";
	pthread_mutex_unlock(&d->lock);

	switch (job) {
	case JOB_SYNC:
		if (run_sync(w, da, revision, trigger ? trigger : "manual", actor ? actor : "plumb",
			     revision == NULL) < 0 &&
		    !d->stopping && da->app->automated && !revision)
			schedule_retry(d, da, da->latest);
		break;
	case JOB_RETRY:
		if (run_sync(w, da, revision, "retry", "plumb", false) < 0 && !d->stopping)
			schedule_retry(d, da, revision);
		break;
	case JOB_POLL:
		job_poll(w, da, webhook ? "webhook" : "poll");
		break;
	case JOB_VERIFY:
		job_verify(w, da);
		break;
	case JOB_NONE:
		break;
	}
	free(revision);
	free(trigger);
	free(actor);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daemon *d = w->d;
	struct error err = ERROR_INIT;

	if (engine_open_store(d->data_dir, &w->store, &err) < 0) {
		log_error("worker: %s", err.msg);
		free(w);
		return NULL;
	}
	pthread_mutex_lock(&d->lock);
	for (;;) {
		struct dapp *da;

		while (!d->stopping && d->queue.len == 0)
			pthread_cond_wait(&d->work, &d->lock);
		if (d->stopping)
			break;
		da = d->queue.items[0];
		memmove(d->queue.items, d->queue.items + 1, (d->queue.len - 1) * sizeof(void *));
		d->queue.len--;
		da->queued = false;
		if (da->removed) {
			dapp_free(da);
			continue;
		}
		da->busy = true;
		pthread_mutex_unlock(&d->lock);
		run_job(w, da);
		pthread_mutex_lock(&d->lock);
		da->busy = false;
		da->activity = "idle";
		if (da->removed)
			dapp_free(da);
		pthread_cond_signal(&d->wake);
	}
	pthread_mutex_unlock(&d->lock);
	store_close(w->store);
	free(w);
	return NULL;
}

static void *scheduler_main(void *arg)
{
	struct daemon *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		uint64_t now = now_ms(), next = now + 60000;
		struct dapp *da;
		size_t i;

		vec_foreach (&d->apps, i, da) {
			uint64_t t;

			if (da->busy || da->queued)
				continue;
			if (due(d, da, now) != JOB_NONE) {
				da->queued = true;
				da->activity = "queued";
				vec_push(&d->queue, da);
				pthread_cond_signal(&d->work);
				continue;
			}
			t = next_due(d, da);
			if (t < next)
				next = t;
		}
		if (next > now) {
			struct timespec until;
			uint64_t wait = next - now;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += (time_t)(wait / 1000);
			until.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&d->wake, &d->lock, &until);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- start, reload, stop ---- */

int daemon_start(struct daemon **out, const struct daemon_opts *opts, struct error *err)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	struct vec apps = VEC_INIT;
	struct dapp *da;
	size_t i;
	int rc;

	*out = NULL;
	d->opts = *opts;
	d->data_dir = xstrdup(opts->data_dir);
	d->config = xstrdup(opts->config);
	if (!d->opts.workers)
		d->opts.workers = 4;
	if (!d->opts.verify_interval_ms)
		d->opts.verify_interval_ms = 5 * 60 * 1000;
	if (!d->opts.drift_debounce_ms)
		d->opts.drift_debounce_ms = 200;
	if (!d->opts.drift_poll_ms)
		d->opts.drift_poll_ms = 10 * 1000;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->store_lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	pthread_cond_init(&d->work, NULL);
	pthread_cond_init(&d->events_c, NULL);
	d->inotify_fd = -1;
	srand((unsigned)(time(NULL) ^ getpid()));
	if ((rc = source_library_hold(err)) < 0) {
		free(d->data_dir);
		free(d->config);
		free(d);
		return rc;
	}
	if ((rc = engine_open_store(d->data_dir, &d->store, err)) < 0)
		goto fail;
	/* runs left "running" by a plumb that died are interrupted, not running */
	if ((rc = store_runs_interrupt(d->store, NULL, NULL, err)) < 0)
		goto fail;
	if ((rc = load_config(d->config, &apps, err)) < 0)
		goto fail;
	register_metrics(d);
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->inotify_fd < 0)
		log_warn(
			"inotify is not available (%s): drift is found by the periodic verify only",
			strerror(errno));
	apply_config(d, &apps);
	vec_release(&apps, NULL);
	/* watch what the applications already manage */
	vec_foreach (&d->apps, i, da) {
		struct vec inventory = VEC_INIT;

		if (store_inventory_list(d->store, da->app->name, &inventory, NULL) == 0)
			watch_paths(d, da, &inventory);
		vec_release(&inventory, inventory_entry_free);
		update_state(d, da, da->sync_state, da->health);
	}
	d->ready = true;
	log_info("serving %zu applications with %u workers", d->apps.len, d->opts.workers);
	d->workers = xcalloc(d->opts.workers, sizeof(*d->workers));
	for (unsigned k = 0; k < d->opts.workers; k++) {
		struct worker *w = xcalloc(1, sizeof(*w));

		w->d = d;
		pthread_create(&d->workers[k], NULL, worker_main, w);
		d->nworkers++;
	}
	pthread_create(&d->scheduler, NULL, scheduler_main, d);
	if (d->inotify_fd >= 0)
		pthread_create(&d->watcher, NULL, watcher_main, d);
	*out = d;
	return 0;
fail:
	vec_release(&apps, app_free);
	if (d->store)
		store_close(d->store);
	source_library_release();
	free(d->data_dir);
	free(d->config);
	free(d);
	return rc;
}

int daemon_reload(struct daemon *d, struct error *err)
{
	struct vec apps = VEC_INIT;
	int rc = load_config(d->config, &apps, err);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&d->lock);
	apply_config(d, &apps);
	log_info("config reloaded: %zu applications", d->apps.len);
	publish(d, "config-reloaded", "", "\"apps\":%zu", d->apps.len);
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	vec_release(&apps, NULL);
	return 0;
}

void daemon_stop(struct daemon *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->stopping) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	d->stopping = true;
	pthread_cond_broadcast(&d->wake);
	pthread_cond_broadcast(&d->work);
	pthread_cond_broadcast(&d->events_c);
	pthread_mutex_unlock(&d->lock);
	engine_request_stop();
	pthread_join(d->scheduler, NULL);
	for (unsigned k = 0; k < d->nworkers; k++)
		pthread_join(d->workers[k], NULL);
	if (d->inotify_fd >= 0)
		pthread_join(d->watcher, NULL);
}

void daemon_free(struct daemon *d)
{
	struct dapp *da;
	size_t i;

	if (!d)
		return;
	daemon_stop(d);
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	vec_foreach (&d->queue, i, da) {
		if (da->removed)
			dapp_free(da);
	}
	vec_release(&d->queue, NULL);
	vec_release(&d->apps, dapp_free);
	map_release(&d->by_name, NULL);
	map_release(&d->wd_dirs, free);
	map_release(&d->path_apps, NULL);
	for (size_t k = 0; k < EVENT_RING; k++)
		free(d->ring[k]);
	store_close(d->store);
	source_library_release();
	free(d->workers);
	free(d->data_dir);
	free(d->config);
	free(d);
}

bool daemon_ready(struct daemon *d)
{
	return d && d->ready;
}

/* ---- what the API asks ---- */

static void json_str_field(struct buf *b, const char *key, const char *value, bool comma)
{
	if (comma)
		buf_addch(b, ',');
	buf_add_json_string(b, key, strlen(key));
	buf_addch(b, ':');
	if (value)
		buf_add_json_string(b, value, strlen(value));
	else
		buf_addstr(b, "null");
}

/* The state of one application as a JSON object. Holds d->lock. */
static void app_state_json(const struct dapp *da, struct buf *b)
{
	const struct app *a = da->app;

	buf_addch(b, '{');
	json_str_field(b, "name", a->name, false);
	json_str_field(b, "repoURL", a->repo_url, true);
	json_str_field(b, "ref", a->ref_value ? a->ref_value : "", true);
	json_str_field(b, "path", a->path, true);
	json_str_field(b, "sync", da->sync_state, true);
	json_str_field(b, "health", da->health, true);
	json_str_field(b, "activity", da->activity, true);
	buf_addf(b, ",\"suspended\":%s,\"automated\":%s,\"selfHeal\":%s",
		 da->suspended ? "true" : "false", a->automated ? "true" : "false",
		 a->self_heal ? "true" : "false");
	json_str_field(b, "revision", da->revision, true);
	json_str_field(b, "latestRevision", da->latest, true);
	json_str_field(b, "lastResult", da->last_result, true);
	json_str_field(b, "lastError", da->last_error && *da->last_error ? da->last_error : NULL,
		       true);
	buf_addf(b, ",\"lastRun\":%lld", (long long)da->last_run);
	json_str_field(b, "drift", da->drift, true);
	buf_addf(b, ",\"retries\":%u}", da->retries);
}

int daemon_apps_json(struct daemon *d, bool (*visible)(void *ctx, const char *app), void *ctx,
		     struct buf *out)
{
	struct dapp *da;
	size_t i, n = 0;

	buf_addch(out, '[');
	pthread_mutex_lock(&d->lock);
	vec_foreach (&d->apps, i, da) {
		if (visible && !visible(ctx, da->app->name))
			continue;
		if (n++)
			buf_addch(out, ',');
		app_state_json(da, out);
	}
	pthread_mutex_unlock(&d->lock);
	return buf_addch(out, ']');
}

bool daemon_app_exists(struct daemon *d, const char *app)
{
	bool found;

	pthread_mutex_lock(&d->lock);
	found = map_get(&d->by_name, app) != NULL;
	pthread_mutex_unlock(&d->lock);
	return found;
}

static int unknown_app(const char *app, struct error *err)
{
	return error_set(err, ERR_NOTFOUND, "no application named '%s'", app);
}

int daemon_app_json(struct daemon *d, const char *app, struct buf *out, struct error *err)
{
	struct vec inventory = VEC_INIT;
	const struct inventory_entry *e;
	struct dapp *da;
	size_t i;
	int rc;

	pthread_mutex_lock(&d->store_lock);
	rc = store_inventory_list(d->store, app, &inventory, err);
	pthread_mutex_unlock(&d->store_lock);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&d->lock);
	if (!(da = map_get(&d->by_name, app))) {
		pthread_mutex_unlock(&d->lock);
		vec_release(&inventory, inventory_entry_free);
		return unknown_app(app, err);
	}
	buf_addstr(out, "{\"app\":");
	app_state_json(da, out);
	{
		char *spec = app_to_json(da->app);

		buf_addstr(out, ",\"spec\":");
		buf_addstr(out, spec);
		free(spec);
	}
	buf_addstr(out, ",\"objects\":[");
	vec_foreach (&inventory, i, e) {
		/* Kubernetes: the namespace; drift lines name "Kind/name" */
		char *full = da->app->kube ? xstrdup(e->path) : host_path(da->app, e->path);
		char *display = xasprintf("%s/%s:", e->kind, e->name);
		bool drifted = da->drift && strstr(da->drift, da->app->kube ? display : e->path);

		if (i)
			buf_addch(out, ',');
		buf_addch(out, '{');
		json_str_field(out, "key", e->key, false);
		json_str_field(out, "kind", e->kind, true);
		json_str_field(out, "name", e->name, true);
		json_str_field(out, "path", full, true);
		json_str_field(out, "revision", e->revision, true);
		json_str_field(out, "sha256", e->hash, true);
		json_str_field(out, "state",
			       e->pending ? "Pending"
			       : drifted  ? "Drifted"
					  : "Synced",
			       true);
		buf_addch(out, '}');
		free(full);
		free(display);
	}
	pthread_mutex_unlock(&d->lock);
	vec_release(&inventory, inventory_entry_free);
	return buf_addstr(out, "]}");
}

static void run_json(const struct store_run *r, struct buf *b)
{
	buf_addf(b, "{\"id\":%lld", (long long)r->id);
	json_str_field(b, "app", r->app, true);
	json_str_field(b, "revision", r->revision, true);
	json_str_field(b, "ref", r->ref, true);
	json_str_field(b, "author", r->author, true);
	json_str_field(b, "message", r->message, true);
	json_str_field(b, "trigger", r->trigger, true);
	json_str_field(b, "actor", r->actor, true);
	json_str_field(b, "result", run_result_name(r->result), true);
	json_str_field(b, "error", r->error, true);
	buf_addf(b,
		 ",\"started\":%lld,\"finished\":%lld,\"created\":%u,\"updated\":%u,"
		 "\"deleted\":%u,\"unchanged\":%u,\"failed\":%u}",
		 (long long)r->started, (long long)r->finished, r->created, r->updated, r->deleted,
		 r->unchanged, r->failed);
}

int daemon_history_json(struct daemon *d, const char *app, size_t limit, struct buf *out,
			struct error *err)
{
	struct vec runs = VEC_INIT;
	const struct store_run *r;
	size_t i;
	int rc;

	if (!daemon_app_exists(d, app))
		return unknown_app(app, err);
	pthread_mutex_lock(&d->store_lock);
	rc = store_run_list(d->store, app, limit ? limit : HISTORY_DEFAULT, &runs, err);
	pthread_mutex_unlock(&d->store_lock);
	if (rc < 0)
		return rc;
	buf_addch(out, '[');
	vec_foreach (&runs, i, r) {
		if (i)
			buf_addch(out, ',');
		run_json(r, out);
	}
	buf_addch(out, ']');
	vec_release(&runs, store_run_free);
	return 0;
}

int daemon_run_json(struct daemon *d, const char *app, int64_t run_id, struct buf *out,
		    struct error *err)
{
	struct store_run run = {0};
	struct vec objects = VEC_INIT;
	const struct store_run_object *o;
	size_t i;
	int rc;

	pthread_mutex_lock(&d->store_lock);
	rc = store_run_get(d->store, run_id, &run, err);
	if (rc == 0 && strcmp(run.app, app) != 0)
		rc = error_set(err, ERR_NOTFOUND, "application '%s' has no run %lld", app,
			       (long long)run_id);
	if (rc == 0)
		rc = store_run_object_list(d->store, run_id, &objects, err);
	pthread_mutex_unlock(&d->store_lock);
	if (rc == 0) {
		buf_addstr(out, "{\"run\":");
		run_json(&run, out);
		buf_addstr(out, ",\"objects\":[");
		vec_foreach (&objects, i, o) {
			if (i)
				buf_addch(out, ',');
			buf_addch(out, '{');
			json_str_field(out, "key", o->key, false);
			json_str_field(out, "display", o->display, true);
			json_str_field(out, "path", o->path, true);
			json_str_field(out, "action", o->action, true);
			json_str_field(out, "result", o->result, true);
			json_str_field(out, "message", o->message, true);
			buf_addch(out, '}');
		}
		buf_addstr(out, "]}");
	}
	vec_release(&objects, store_run_object_free);
	store_run_release(&run);
	return rc;
}

/* A private copy of an application's settings, for work outside the lock. */
static struct app *app_copy(struct daemon *d, const char *name, struct error *err)
{
	struct dapp *da;
	struct app *copy = NULL;
	char *json = NULL;

	pthread_mutex_lock(&d->lock);
	if ((da = map_get(&d->by_name, name)))
		json = app_to_json(da->app);
	pthread_mutex_unlock(&d->lock);
	if (!json) {
		unknown_app(name, err);
		return NULL;
	}
	if (app_from_json(json, &copy, err) < 0)
		copy = NULL;
	free(json);
	return copy;
}

int daemon_diff_json(struct daemon *d, const char *app, struct buf *out, struct error *err)
{
	struct engine_opts opts = base_opts(d);
	struct engine_result res;
	struct app *copy = app_copy(d, app, err);
	struct store *store = NULL;
	int rc;

	if (!copy)
		return ERR_NOTFOUND;
	memset(&res, 0, sizeof(res));
	opts.fetch = true;
	opts.dry_run = true;
	if ((rc = engine_open_store(d->data_dir, &store, err)) == 0 &&
	    (rc = engine_plan(store, copy, &opts, &res, err)) == 0) {
		buf_addstr(out, "{\"revision\":");
		buf_add_json_string(out, res.commit.sha, strlen(res.commit.sha));
		buf_addstr(out, ",\"plan\":");
		plan_json(&res.plan, out);
		buf_addch(out, '}');
	}
	engine_result_release(&res);
	if (store)
		store_close(store);
	app_free(copy);
	return rc;
}

int daemon_sync(struct daemon *d, const char *app, const char *revision, const char *trigger,
		const char *actor, struct error *err)
{
	struct dapp *da;

	pthread_mutex_lock(&d->lock);
	if (!(da = map_get(&d->by_name, app))) {
		pthread_mutex_unlock(&d->lock);
		return unknown_app(app, err);
	}
	da->sync_wanted = true;
	set_str(&da->want_revision, revision);
	set_str(&da->want_trigger, trigger);
	set_str(&da->want_actor, actor);
	publish(d, "sync-queued", app, "\"trigger\":\"%s\"", trigger);
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int daemon_rollback(struct daemon *d, const char *app, const char *to, const char *actor,
		    struct error *err)
{
	struct store_run run = {0};
	char *sha = NULL;
	int rc = 0;

	if (!daemon_app_exists(d, app))
		return unknown_app(app, err);
	if (strspn(to, "0123456789") == strlen(to) && strlen(to) < 7) {
		pthread_mutex_lock(&d->store_lock);
		rc = store_run_get(d->store, strtoll(to, NULL, 10), &run, err);
		pthread_mutex_unlock(&d->store_lock);
		if (rc == 0 && strcmp(run.app, app) != 0)
			rc = error_set(err, ERR_NOTFOUND, "application '%s' has no run %s", app,
				       to);
		else if (rc == 0 && !run.revision[0])
			rc = error_set(err, ERR_INVALID, "run %s has no revision to go back to",
				       to);
		if (rc == 0)
			sha = xstrdup(run.revision);
	} else if (strlen(to) >= 7 && strspn(to, "0123456789abcdefABCDEF") == strlen(to)) {
		sha = xstrdup(to);
	} else {
		rc = error_set(err, ERR_INVALID, "'%s' is neither a run id nor a commit SHA", to);
	}
	if (rc == 0)
		rc = daemon_sync(d, app, sha, "rollback", actor, err);
	free(sha);
	store_run_release(&run);
	return rc;
}

int daemon_set_suspended(struct daemon *d, const char *app, bool suspended, const char *actor,
			 struct error *err)
{
	struct dapp *da;
	int rc;

	pthread_mutex_lock(&d->lock);
	if (!(da = map_get(&d->by_name, app))) {
		pthread_mutex_unlock(&d->lock);
		return unknown_app(app, err);
	}
	da->suspended = suspended;
	if (!suspended)
		da->next_poll = now_ms();
	publish(d, suspended ? "suspended" : "resumed", app, "\"actor\":\"%s\"", actor);
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_lock(&d->store_lock);
	/* the application may never have synced: record it so that the flag is kept */
	rc = store_app_set_suspended(d->store, app, suspended, err);
	if (rc == ERR_NOTFOUND) {
		struct app *copy = app_copy(d, app, err);

		if (copy) {
			char *spec = app_to_json(copy);

			error_clear(err);
			rc = store_app_put(d->store, app, spec, err);
			if (rc == 0)
				rc = store_app_set_suspended(d->store, app, suspended, err);
			free(spec);
			app_free(copy);
		}
	}
	pthread_mutex_unlock(&d->store_lock);
	return rc;
}

int daemon_repo_pushed(struct daemon *d, const char *url_key, const char *trigger, unsigned *count)
{
	struct dapp *da;
	size_t i;

	(void)trigger;
	*count = 0;
	pthread_mutex_lock(&d->lock);
	vec_foreach (&d->apps, i, da) {
		if (strcmp(da->url_key, url_key) != 0 || da->suspended)
			continue;
		da->poll_now = true;
		(*count)++;
	}
	if (*count)
		pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int daemon_with_store(struct daemon *d,
		      int (*fn)(struct store *store, void *ctx, struct error *err), void *ctx,
		      struct error *err)
{
	int rc;

	pthread_mutex_lock(&d->store_lock);
	rc = fn(d->store, ctx, err);
	pthread_mutex_unlock(&d->store_lock);
	return rc;
}
