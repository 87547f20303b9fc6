/*
 * plumb status: per application, the revision last applied, whether the host
 * still matches it (Synced / OutOfSync), or that the last sync failed, and the
 * state of each object. It compares the host with the last applied revision
 * from the local Git cache: no fetch, no network.
 */
#include "cli.h"
#include "engine/engine.h"
#include "yaml/yaml.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char status_help[] =
	"usage: plumb status [<app>...] [-o text|json]\n"
	"   or: plumb status --server <url> [<app>...] [-o text|json]\n"
	"\n"
	"Shows each application plumb has synced: the revision last applied, its sync\n"
	"state and its objects. Synced: the target matches the last applied revision.\n"
	"OutOfSync: something changed on it since (drift), or was never applied.\n"
	"Kubernetes applications also show their health by kstatus' rules: Healthy,\n"
	"Progressing or Degraded, with each object that is not healthy and why.\n"
	"Failed: the last sync failed. The comparison uses the local Git cache only.\n"
	"With --server, shows the applications of a running 'plumb serve' as it sees\n"
	"them: sync state, health, revision, last run and, for one application, its\n"
	"objects; with -o json, the API's JSON as it is.\n"
	"\n"
	"Options:\n"
	"  -o, --output text|json\n"
	"\n" CLI_SERVER_HELP "\n" CLI_COMMON_HELP;

struct app_status {
	const char *state;
	struct store_run last;	  /* newest run, any result */
	struct store_run applied; /* newest succeeded run */
	bool have_last, have_applied;
	struct engine_result res;
	bool planned;
	struct error err;
};

static const char *object_state(const struct change *c)
{
	if (c->orphan)
		return "Orphaned";
	switch (c->action) {
	case ACTION_CREATE:
		return "Missing";
	case ACTION_UPDATE:
		return "OutOfSync";
	case ACTION_DELETE:
		return "Extra";
	default:
		return "Synced";
	}
}

static void compute(struct store *store, const struct store_app *stored, struct app_status *st)
{
	struct engine_opts eopts = {.data_dir = cli_data_dir(), .prune = -1, .fetch = false};
	struct app *app = NULL;

	st->have_applied =
		store_run_last(store, stored->name, RUN_SUCCEEDED, &st->applied, NULL) == 0;
	st->state = "Unknown";
	if (!st->have_applied) {
		st->state = st->have_last ? "Failed" : "Unknown";
		return;
	}
	if (app_from_json(stored->spec_json, &app, &st->err) < 0)
		return;
	eopts.commit = st->applied.revision;
	if (engine_plan(store, app, &eopts, &st->res, &st->err) < 0) {
		app_free(app);
		return;
	}
	st->planned = true;
	st->state = plan_has_changes(&st->res.plan) ? "OutOfSync" : "Synced";
	engine_health(&st->res);
	app_free(app);
}

/* The newest run whatever its result. */
static void newest_run(struct store *store, const char *app, struct app_status *st)
{
	struct vec runs = VEC_INIT;

	if (store_run_list(store, app, 1, &runs, NULL) == 0 && runs.len) {
		struct store_run *r = runs.items[0];

		st->last = *r;
		memset(r, 0, sizeof(*r));
		st->have_last = true;
	}
	vec_release(&runs, store_run_free);
}

/* One application of GET /api/v1/apps as a table row. */
static void remote_row(struct buf *out, const struct node *a)
{
	const char *result = remote_str(a, "lastResult");
	const struct node *suspended = node_get(a, "suspended");
	char run[24] = "-";

	if (remote_int(a, "lastRun"))
		snprintf(run, sizeof(run), "%lld", (long long)remote_int(a, "lastRun"));
	buf_addf(out, "%-16s %-10s %-10s %-12.12s %-6s %s%s\n", remote_str(a, "name"),
		 remote_str(a, "sync"), remote_str(a, "health"),
		 *remote_str(a, "revision") ? remote_str(a, "revision") : "-", run,
		 *result ? result : "-",
		 suspended && suspended->type == NODE_BOOL && suspended->as.boolean ? " (suspended)"
										    : "");
}

/* GET /api/v1/apps/<app> in words, with the application's objects. */
static void remote_detail(struct buf *out, const struct node *root)
{
	const struct node *a = node_get(root, "app"), *objects = node_get(root, "objects");
	const char *latest = remote_str(a, "latestRevision");

	buf_addf(out, "application %s: %s, %s (%s)\n", remote_str(a, "name"), remote_str(a, "sync"),
		 remote_str(a, "health"), remote_str(a, "activity"));
	buf_addf(out, "repository:  %s", remote_str(a, "repoURL"));
	if (*remote_str(a, "ref"))
		buf_addf(out, " (%s)", remote_str(a, "ref"));
	if (*remote_str(a, "path"))
		buf_addf(out, " path %s", remote_str(a, "path"));
	buf_addch(out, '\n');
	if (*remote_str(a, "revision"))
		buf_addf(out, "revision:    %s\n", remote_str(a, "revision"));
	if (*latest && strcmp(latest, remote_str(a, "revision")) != 0)
		buf_addf(out, "latest:      %s (not applied)\n", latest);
	if (remote_int(a, "lastRun") || *remote_str(a, "lastResult"))
		buf_addf(out, "last sync:   %lld: %s\n", (long long)remote_int(a, "lastRun"),
			 remote_str(a, "lastResult"));
	if (*remote_str(a, "lastError"))
		buf_addf(out, "last error:  %s\n", remote_str(a, "lastError"));
	if (*remote_str(a, "drift"))
		buf_addf(out, "drift:       %s\n", remote_str(a, "drift"));
	if (node_get(a, "suspended") && node_get(a, "suspended")->as.boolean)
		buf_addstr(out, "suspended:   yes (plumb serve does not sync it)\n");
	for (size_t i = 0; objects && objects->type == NODE_SEQ && i < objects->count; i++) {
		const struct node *o = objects->items[i];
		char *display = xasprintf("%s/%s", remote_str(o, "kind"), remote_str(o, "name"));

		buf_addf(out, "  %-10s %-28s %s\n", remote_str(o, "state"), display,
			 remote_str(o, "path"));
		free(display);
	}
}

/* status --server: what plumb serve says about its applications. */
static int status_remote(struct remote *remote, char **names, int count, bool json)
{
	struct remote_reply reply = REMOTE_REPLY_INIT;
	struct error err = ERROR_INIT;
	struct arena arena = ARENA_INIT;
	struct buf out = BUF_INIT;
	struct node *root;
	char *path = count == 1 ? xasprintf("/api/v1/apps/%s", names[0]) : xstrdup("/api/v1/apps");
	size_t shown = 0;
	int rc;

	if (remote_get_json(remote, path, &reply, &arena, &root, &err) < 0) {
		cli_print_error(&err);
		rc = EXIT_ERROR;
		goto out;
	}
	if (count == 1) {
		if (json)
			buf_add(&out, reply.body.data, reply.body.len);
		else
			remote_detail(&out, root);
		goto write;
	}
	if (root->type != NODE_SEQ) {
		fprintf(stderr, "error: plumb serve at %s did not answer with a list\n",
			remote_url(remote));
		rc = EXIT_ERROR;
		goto out;
	}
	for (int k = 0; k < count; k++) {
		bool found = false;

		for (size_t i = 0; i < root->count; i++)
			found |= strcmp(remote_str(root->items[i], "name"), names[k]) == 0;
		if (!found) {
			fprintf(stderr, "error: plumb serve at %s has no application named '%s'\n",
				remote_url(remote), names[k]);
			rc = EXIT_ERROR;
			goto out;
		}
	}
	if (json && !count)
		buf_add(&out, reply.body.data, reply.body.len);
	else if (json)
		buf_addch(&out, '[');
	else if (root->count)
		buf_addf(&out, "%-16s %-10s %-10s %-12s %-6s %s\n", "APP", "SYNC", "HEALTH",
			 "REVISION", "RUN", "RESULT");
	for (size_t i = 0; i < root->count && (count || !json); i++) {
		bool wanted = !count;

		for (int k = 0; k < count; k++)
			wanted |= strcmp(remote_str(root->items[i], "name"), names[k]) == 0;
		if (!wanted)
			continue;
		if (json) {
			if (shown)
				buf_addch(&out, ',');
			node_emit_json(root->items[i], 0, &out);
		} else {
			remote_row(&out, root->items[i]);
		}
		shown++;
	}
	if (json && count)
		buf_addch(&out, ']');
	if (!json && !root->count)
		buf_addf(&out, "plumb serve at %s has no applications\n", remote_url(remote));
write:
	if (json)
		buf_addch(&out, '\n');
	rc = cli_write_stdout(&out);
out:
	free(path);
	buf_release(&out);
	arena_release(&arena);
	remote_reply_release(&reply);
	return rc;
}

static void status_release(struct app_status *st)
{
	store_run_release(&st->last);
	store_run_release(&st->applied);
	engine_result_release(&st->res);
}

int cmd_status(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		CLI_SERVER_OPTIONS,
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store *store = NULL;
	struct vec apps = VEC_INIT;
	struct error err = ERROR_INIT;
	struct buf out = BUF_INIT;
	struct cli_server server = {0};
	struct remote *remote = NULL;
	struct store_app *stored;
	bool json = false, detail;
	size_t i, shown = 0;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		if (cli_server_option(&server, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			fputs(status_help, stdout);
			return EXIT_OK;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				json = true;
			else if (strcmp(optarg, "text") != 0)
				return cli_usage_error("status", "unknown output format '%s'",
						       optarg);
			break;
		case '?':
			return cli_usage_error("status", "bad option");
		default:
			if (opt == OPT_DATA_DIR)
				cli_server_local(&server, "--data-dir");
			if ((rc = cli_common_option(opt, optarg)) != 0)
				return rc;
		}
	}
	if ((rc = cli_remote_open("status", &server, &remote)))
		return rc;
	if (remote) {
		rc = status_remote(remote, argv + optind, argc - optind, json);
		remote_free(remote);
		return rc;
	}
	if ((rc = cli_open_store(&store)))
		return rc;
	if (store_app_list(store, &apps, &err) < 0) {
		cli_print_error(&err);
		rc = EXIT_ERROR;
		goto out;
	}
	for (int k = optind; k < argc; k++) {
		bool found = false;

		vec_foreach (&apps, i, stored)
			found |= strcmp(stored->name, argv[k]) == 0;
		if (!found) {
			fprintf(stderr, "error: plumb has not synced an application named '%s'\n",
				argv[k]);
			rc = EXIT_ERROR;
			goto out;
		}
	}
	detail = argc - optind == 1 || json;
	if (json)
		buf_addch(&out, '[');
	else if (!detail && apps.len)
		buf_addf(&out, "%-16s %-10s %-12s %-20s %s\n", "APP", "STATE", "REVISION",
			 "LAST SYNC", "RESULT");
	vec_foreach (&apps, i, stored) {
		struct app_status st = {0};
		bool wanted = optind == argc;
		char when[32];

		for (int k = optind; k < argc; k++)
			wanted |= strcmp(stored->name, argv[k]) == 0;
		if (!wanted)
			continue;
		newest_run(store, stored->name, &st);
		compute(store, stored, &st);
		if (st.have_last && st.last.result == RUN_FAILED)
			st.state = "Failed";
		cli_format_time(st.have_last ? st.last.started : 0, when, sizeof(when));
		if (json) {
			struct change *c;
			size_t k;

			buf_addstr(&out, shown ? ",{\"app\":" : "{\"app\":");
			buf_add_json_string(&out, stored->name, strlen(stored->name));
			buf_addf(&out,
				 ",\"state\":\"%s\",\"health\":\"%s\",\"revision\":", st.state,
				 app_health_name(st.res.health));
			buf_add_json_string(&out, st.have_applied ? st.applied.revision : "",
					    st.have_applied ? strlen(st.applied.revision) : 0);
			buf_addstr(&out, ",\"lastRun\":");
			if (st.have_last)
				cli_run_json(&st.last, &out);
			else
				buf_addstr(&out, "null");
			buf_addstr(&out, ",\"error\":");
			buf_add_json_string(&out, st.err.msg, strlen(st.err.msg));
			buf_addstr(&out, ",\"objects\":[");
			vec_foreach (&st.res.plan.changes, k, c) {
				buf_addstr(&out, k ? ",{\"object\":" : "{\"object\":");
				buf_add_json_string(&out, c->display, strlen(c->display));
				buf_addstr(&out, ",\"path\":");
				buf_add_json_string(&out, c->path, strlen(c->path));
				buf_addf(&out, ",\"state\":\"%s\",\"detail\":", object_state(c));
				buf_add_json_string(&out, c->summary.data ? c->summary.data : "",
						    c->summary.len);
				buf_addch(&out, '}');
			}
			buf_addstr(&out, "]}");
		} else if (detail) {
			struct change *c;
			size_t k;

			buf_addf(&out, "application %s: %s\n", stored->name, st.state);
			if (st.have_applied)
				buf_addf(&out, "revision:    %s (%s) \"%s\", sync %lld\n",
					 st.applied.revision, st.applied.ref, st.applied.message,
					 (long long)st.applied.id);
			if (st.have_last)
				buf_addf(&out, "last sync:   %lld at %s: %s%s%s\n",
					 (long long)st.last.id, when,
					 run_result_name(st.last.result),
					 st.last.error[0] ? ": " : "", st.last.error);
			if (st.res.health != HEALTH_UNKNOWN)
				buf_addf(&out, "health:      %s\n", app_health_name(st.res.health));
			if (st.res.health_why.len)
				buf_addf(&out, "%.*s", (int)st.res.health_why.len,
					 st.res.health_why.data);
			if (st.err.msg[0])
				buf_addf(&out, "cannot compare with the target: %s\n", st.err.msg);
			vec_foreach (&st.res.plan.changes, k, c)
				buf_addf(&out, "  %-10s %-28s %s%s%s%s\n", object_state(c),
					 c->display, c->path, c->summary.len ? "  (" : "",
					 c->summary.len ? c->summary.data : "",
					 c->summary.len ? ")" : "");
		} else {
			buf_addf(&out, "%-16s %-10s %-12.12s %-20s %s\n", stored->name, st.state,
				 st.have_applied ? st.applied.revision : "-", when,
				 st.have_last ? run_result_name(st.last.result) : "-");
		}
		shown++;
		status_release(&st);
	}
	if (json)
		buf_addstr(&out, "]\n");
	else if (!apps.len)
		buf_addstr(&out, "no applications synced yet; run 'plumb sync' first\n");
	rc = cli_write_stdout(&out);
out:
	buf_release(&out);
	vec_release(&apps, store_app_free);
	store_close(store);
	return rc;
}
