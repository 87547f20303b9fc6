/* plumb sync and plumb diff: make the host match Git, or show what that would change. */
#include "cli.h"
#include "engine/engine.h"
#include "yaml/yaml.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char sync_help[] =
	"usage: plumb sync (-f <file> [--app <name>] | --repo <url> [...]) [options]\n"
	"   or: plumb sync --server <url> <app> [--revision <sha>] [--timeout <duration>]\n"
	"\n"
	"Makes the host or Kubernetes cluster match Git: fetches each application's\n"
	"repository, renders its manifests, compares them with what is live and with\n"
	"what plumb applied before, and applies the difference in a safe order. Host:\n"
	"directories before their contents, prunes deepest first. Kubernetes:\n"
	"server-side apply (field manager 'plumb'), CRDs and Namespaces first, then\n"
	"cluster-scoped objects, then namespaced ones; prunes in reverse. The whole set\n"
	"is checked first (Kubernetes: a server-side dry run): one invalid object means\n"
	"nothing changes. Every run is recorded (see plumb history).\n"
	"\n"
	"With --server, asks a running 'plumb serve' to sync one of the applications of\n"
	"its config, waits for that run to finish and prints its result.\n"
	"\n" CLI_APP_HELP "\n"
	"Options:\n"
	"      --dry-run              show the plan, change nothing, record nothing\n"
	"      --prune, --no-prune    remove (or keep) what was removed from Git; default:\n"
	"                             syncPolicy.automated.prune (on for --repo)\n"
	"      --diff                 show content diffs as well\n"
	"      --wait                 Kubernetes: then wait until every object is healthy\n"
	"                             (kstatus rules), up to spec.health.timeout\n"
	"  -o, --output text|json     how to print the result (default: text)\n"
	"  -q, --quiet                no progress lines on stderr\n"
	"\n" CLI_SERVER_HELP
	"      --revision <sha>       with --server: sync this commit, not the ref's newest\n"
	"      --timeout <duration>   with --server: how long to wait for the run (default 5m)\n"
	"\n" CLI_COMMON_HELP "\n"
	"Exit status: 0 when every application synced (and, with --wait, is healthy),\n"
	"2 on any error.\n"
	"\n"
	"Examples:\n"
	"  plumb sync -f apps.yaml\n"
	"  plumb sync --repo https://git.example.com/ops.git --path hosts/web --root / --dry-run\n"
	"  PLUMB_TOKEN=... plumb sync --server http://127.0.0.1:7420 web\n";

static const char diff_help[] =
	"usage: plumb diff (-f <file> [--app <name>] | --repo <url> [...]) [options]\n"
	"   or: plumb diff --server <url> <app> [-o text|json]\n"
	"\n"
	"Shows what 'plumb sync' would change, object by object. Host: a unified diff of\n"
	"file contents and a line for mode, owner and link changes. Kubernetes: the\n"
	"fields that differ between the live object and a server-side dry run of Git's\n"
	"(server-managed fields and status left out), and a diff of both as YAML.\n"
	"Changes nothing. With --server, a running 'plumb serve' fetches and compares one\n"
	"of the applications of its config.\n"
	"\n" CLI_APP_HELP "\n"
	"Options:\n"
	"      --prune, --no-prune    count removals (default: the application's policy)\n"
	"  -o, --output text|json     how to print the differences (default: text)\n"
	"\n" CLI_SERVER_HELP "\n" CLI_COMMON_HELP "\n"
	"Exit status: 0 when the target matches Git, 1 when something differs, 2 on error.\n"
	"\n"
	"Examples:\n"
	"  plumb diff -f apps.yaml --app web\n"
	"  plumb diff --repo ./ops --path hosts/web --root /srv/test -o json\n"
	"  PLUMB_TOKEN=... plumb diff --server http://127.0.0.1:7420 web\n";

enum { OPT_DRY_RUN = 1200, OPT_PRUNE, OPT_NO_PRUNE, OPT_DIFF, OPT_REVISION, OPT_TIMEOUT, OPT_WAIT };

#define WAIT_DEFAULT_MS (5 * 60 * 1000)

struct sync_args {
	struct cli_apps apps;
	struct cli_server server;
	const char *revision; /* --server only */
	const char *timeout;  /* --server only */
	const char *app;      /* --server: the application named */
	bool dry_run;
	bool diffs;
	bool json;
	bool quiet;
	bool wait;
	int prune;
};

/* An application option as written, for messages. */
static const char *app_option_name(int opt)
{
	switch (opt) {
	case OPT_APP_FILE:
		return "-f/--file";
	case OPT_APP_NAME:
		return "--app";
	case OPT_APP_REPO:
		return "--repo";
	case OPT_APP_REF:
		return "--ref";
	case OPT_APP_PATH:
		return "--path";
	case OPT_APP_ROOT:
		return "--root";
	default:
		return "--name";
	}
}

static int parse(const char *command, const char *help, int argc, char **argv,
		 struct sync_args *args)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		CLI_APP_OPTIONS,
		CLI_SERVER_OPTIONS,
		{"revision", required_argument, NULL, OPT_REVISION},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"prune", no_argument, NULL, OPT_PRUNE},
		{"no-prune", no_argument, NULL, OPT_NO_PRUNE},
		{"diff", no_argument, NULL, OPT_DIFF},
		{"wait", no_argument, NULL, OPT_WAIT},
		{"output", required_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt, rc;

	args->prune = -1;
	while ((opt = getopt_long(argc, argv, "f:o:qh", options, NULL)) != -1) {
		if (cli_server_option(&args->server, opt, optarg))
			continue;
		if (cli_app_option(&args->apps, opt, optarg)) {
			cli_server_local(&args->server, app_option_name(opt));
			continue;
		}
		switch (opt) {
		case 'h':
			fputs(help, stdout);
			return -1;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				args->json = true;
			else if (strcmp(optarg, "text") != 0)
				return cli_usage_error(command,
						       "unknown output format '%s' (use "
						       "text or json)",
						       optarg);
			break;
		case 'q':
			args->quiet = true;
			break;
		case OPT_DRY_RUN:
			args->dry_run = true;
			cli_server_local(&args->server, "--dry-run");
			break;
		case OPT_PRUNE:
			args->prune = 1;
			cli_server_local(&args->server, "--prune");
			break;
		case OPT_NO_PRUNE:
			args->prune = 0;
			cli_server_local(&args->server, "--no-prune");
			break;
		case OPT_DIFF:
			args->diffs = true;
			cli_server_local(&args->server, "--diff");
			break;
		case OPT_WAIT:
			args->wait = true;
			cli_server_local(&args->server, "--wait");
			break;
		case OPT_REVISION:
			args->revision = optarg;
			break;
		case OPT_TIMEOUT:
			args->timeout = optarg;
			break;
		case '?':
			return cli_usage_error(command, "bad option");
		default:
			if (opt == OPT_DATA_DIR)
				cli_server_local(&args->server, "--data-dir");
			if ((rc = cli_common_option(opt, optarg)) != 0)
				return rc;
		}
	}
	if (optind < argc)
		args->app = argv[optind++];
	if (optind < argc)
		return cli_usage_error(command, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* --server: the options and argument a command takes through the API. */
static int check_remote(const char *command, const struct sync_args *args, bool remote)
{
	if (!remote && args->app)
		return cli_usage_error(command,
				       "unexpected argument '%s' (an application name goes with "
				       "--server; locally, give -f FILE --app NAME)",
				       args->app);
	if (!remote && (args->revision || args->timeout))
		return cli_usage_error(command, "%s goes with --server",
				       args->revision ? "--revision" : "--timeout");
	if (remote && !args->app)
		return cli_usage_error(command, "name the application to %s on the server",
				       command);
	return 0;
}

static void revision_line(struct buf *out, const struct app *app, const struct source_commit *c)
{
	buf_addf(out, "%s: %s at %.12s", app->name, app->repo_url, c->sha);
	if (c->ref)
		buf_addf(out, " (%s)", c->ref);
	buf_addf(out, ": \"%s\" by %s\n", c->summary ? c->summary : "",
		 c->author_name ? c->author_name : "");
}

/* One application's result as a JSON object. */
static void result_json(struct buf *out, const struct app *app, const struct engine_result *r,
			const struct error *err)
{
	buf_addstr(out, "{\"app\":");
	buf_add_json_string(out, app->name, strlen(app->name));
	buf_addstr(out, ",\"revision\":");
	if (r->commit.sha[0])
		source_commit_json(&r->commit, out);
	else
		buf_addstr(out, "null");
	buf_addf(out, ",\"run\":%lld,\"health\":\"%s\",\"result\":", (long long)r->run_id,
		 app_health_name(r->health));
	if (err && err->code && !(r->run_id && r->result == RUN_SUCCEEDED))
		buf_addstr(out, "\"failed\"");
	else if (r->run_id)
		buf_addf(out, "\"%s\"", run_result_name(r->result));
	else
		buf_addstr(out, "\"planned\"");
	buf_addstr(out, ",\"error\":");
	buf_add_json_string(out, err ? err->msg : "", err ? strlen(err->msg) : 0);
	buf_addf(out,
		 ",\"counts\":{\"create\":%u,\"update\":%u,\"delete\":%u,\"unchanged\":%u,"
		 "\"orphan\":%u},\"changes\":",
		 r->plan.counts[ACTION_CREATE], r->plan.counts[ACTION_UPDATE],
		 r->plan.counts[ACTION_DELETE], r->plan.counts[ACTION_UNCHANGED], r->plan.orphans);
	plan_json(&r->plan, out);
	buf_addch(out, '}');
}

static void on_stop_signal(int sig)
{
	(void)sig;
	engine_request_stop();
}

/* SIGINT and SIGTERM finish the object being written, then stop; a second one kills. */
static void stop_cleanly_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_sync_apps(const char *command, struct store *store, struct vec *apps,
		  struct engine_opts *eopts, bool json, bool quiet, bool diffs)
{
	struct buf out = BUF_INIT;
	struct app *app;
	size_t i;
	int status = EXIT_OK;

	if (!eopts->dry_run)
		stop_cleanly_on_signals();
	if (json)
		buf_addch(&out, '[');
	vec_foreach (apps, i, app) {
		struct engine_result res;
		struct error err = ERROR_INIT;
		int rc = engine_sync(store, app, eopts, &res, &err);

		if (json) {
			if (i)
				buf_addch(&out, ',');
			result_json(&out, app, &res, rc < 0 ? &err : NULL);
		} else {
			if (res.commit.sha[0] && !quiet)
				revision_line(&out, app, &res.commit);
			if (res.plan.changes.len && (eopts->dry_run || rc < 0 || !quiet))
				plan_print(&res.plan, diffs || eopts->dry_run,
					   cli_color(STDOUT_FILENO), &out);
			bool applied = rc == 0 || (res.run_id && res.result == RUN_SUCCEEDED);

			if (rc == 0 && eopts->dry_run)
				buf_addf(&out, "%s: dry run: nothing was changed\n", app->name);
			else if (applied)
				buf_addf(
					&out,
					"%s: %s %lld succeeded: %u created, %u updated, %u deleted, "
					"%u unchanged\n",
					app->name, command, (long long)res.run_id,
					res.plan.counts[ACTION_CREATE],
					res.plan.counts[ACTION_UPDATE],
					res.plan.counts[ACTION_DELETE],
					res.plan.counts[ACTION_UNCHANGED]);
			if (applied && res.health == HEALTH_HEALTHY)
				buf_addf(&out, "%s: healthy\n", app->name);
		}
		if (rc < 0) {
			cli_write_stdout(&out);
			buf_reset(&out);
			cli_print_error(&err);
			if (res.run_id && !json && res.result != RUN_SUCCEEDED)
				fprintf(stderr,
					"%u of the plan's changes were applied before the "
					"failure; see 'plumb history %s'\n",
					res.applied, app->name);
			status = EXIT_ERROR;
		}
		engine_result_release(&res);
	}
	if (json)
		buf_addstr(&out, "]\n");
	if (cli_write_stdout(&out) != EXIT_OK)
		status = EXIT_ERROR;
	buf_release(&out);
	return status;
}

/* sync --server: the server syncs one application of its config; wait for the run. */
static int sync_remote(struct remote *remote, const struct sync_args *args)
{
	uint64_t timeout_ms = WAIT_DEFAULT_MS;
	struct buf body = BUF_INIT;
	int rc;

	if (args->timeout && (parse_duration(args->timeout, &timeout_ms) < 0 || !timeout_ms))
		return cli_usage_error("sync",
				       "--timeout needs a duration such as 30s or 5m, not '%s'",
				       args->timeout);
	buf_addstr(&body, "{\"revision\":");
	if (args->revision)
		buf_add_json_string(&body, args->revision, strlen(args->revision));
	else
		buf_addstr(&body, "null");
	buf_addch(&body, '}');
	rc = remote_sync_wait(remote, args->app, "sync", body.data, timeout_ms, args->json,
			      args->quiet);
	buf_release(&body);
	return rc;
}

int cmd_sync(int argc, char **argv)
{
	struct sync_args args = {0};
	struct engine_opts eopts = {0};
	struct vec apps = VEC_INIT;
	struct store *store = NULL;
	struct remote *remote = NULL;
	int rc = parse("sync", sync_help, argc, argv, &args);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = cli_remote_open("sync", &args.server, &remote)) ||
	    (rc = check_remote("sync", &args, remote != NULL)))
		goto out;
	if (remote) {
		rc = sync_remote(remote, &args);
		goto out;
	}
	if ((rc = cli_load_apps("sync", &args.apps, &apps)) || (rc = cli_open_store(&store)))
		goto out;
	eopts.data_dir = cli_data_dir();
	eopts.dry_run = args.dry_run;
	eopts.prune = args.prune;
	eopts.trigger = "manual";
	eopts.fetch = true;
	eopts.progress = !args.quiet && !args.json;
	eopts.wait = args.wait;
	rc = cli_sync_apps("sync", store, &apps, &eopts, args.json, args.quiet, args.diffs);
out:
	remote_free(remote);
	vec_release(&apps, app_free);
	store_close(store);
	return rc;
}

/* One change of a plan from the API ({action, object, path, summary, diff, ...}). */
static void print_remote_change(struct buf *out, const struct node *c, bool color)
{
	static const char *const actions[] = {"unchanged", "create", "update", "delete", "orphan"};
	static const char *const symbols[] = {" ", "+", "~", "-", "!"};
	static const char *const colors[] = {"", "\033[32m", "\033[33m", "\033[31m", "\033[35m"};
	const char *action = remote_str(c, "action"), *summary = remote_str(c, "summary");
	const char *diff = remote_str(c, "diff"), *reset = color ? "\033[0m" : "";
	size_t k = 0;

	while (k < ARRAY_SIZE(actions) && strcmp(actions[k], action) != 0)
		k++;
	if (k == ARRAY_SIZE(actions))
		k = 0;
	buf_addf(out, "%s%s %-9s %-28s %s%s", color ? colors[k] : "", symbols[k], action,
		 remote_str(c, "object"), remote_str(c, "path"), reset);
	if (*summary)
		buf_addf(out, "  (%s)", summary);
	else if (k == 4)
		buf_addstr(out, "  (no longer in Git; kept because pruning is off)");
	buf_addch(out, '\n');
	for (struct str rest = str_from(diff), line; rest.len;) {
		const char *lc = "";

		str_cut(rest, '\n', &line, &rest);
		if (color && line.len && line.ptr[0] == '+' && !str_has_prefix(line, "+++"))
			lc = "\033[32m";
		else if (color && line.len && line.ptr[0] == '-' && !str_has_prefix(line, "---"))
			lc = "\033[31m";
		else if (color && str_has_prefix(line, "@@"))
			lc = "\033[36m";
		buf_addf(out, "    %s%.*s%s\n", lc, (int)line.len, line.ptr, *lc ? reset : "");
	}
}

/* diff --server: the server plans one application of its config; print its plan. */
static int diff_remote(struct remote *remote, const struct sync_args *args)
{
	struct remote_reply reply = REMOTE_REPLY_INIT;
	struct error err = ERROR_INIT;
	struct arena arena = ARENA_INIT;
	struct buf out = BUF_INIT;
	struct node *root, *plan, *take_over;
	unsigned counts[5] = {0};
	bool color = cli_color(STDOUT_FILENO);
	char *path = xasprintf("/api/v1/apps/%s/diff", args->app);
	int rc;

	if (remote_get_json(remote, path, &reply, &arena, &root, &err) < 0) {
		cli_print_error(&err);
		rc = EXIT_ERROR;
		goto out;
	}
	plan = node_get(root, "plan");
	if (!args->json)
		buf_addf(&out, "%s: %.12s on %s\n", args->app, remote_str(root, "revision"),
			 remote_url(remote));
	for (size_t i = 0; plan && plan->type == NODE_SEQ && i < plan->count; i++) {
		const char *action = remote_str(plan->items[i], "action");

		if (strcmp(action, "create") == 0)
			counts[1]++;
		else if (strcmp(action, "update") == 0)
			counts[2]++;
		else if (strcmp(action, "delete") == 0)
			counts[3]++;
		else if (strcmp(action, "orphan") == 0)
			counts[4]++;
		else
			counts[0]++;
		/* unchanged objects are only counted, unless plumb takes them over */
		take_over = node_get(plan->items[i], "takeOver");
		if (!args->json &&
		    (strcmp(action, "unchanged") != 0 ||
		     (take_over && take_over->type == NODE_BOOL && take_over->as.boolean)))
			print_remote_change(&out, plan->items[i], color);
	}
	if (args->json) {
		buf_add(&out, reply.body.data, reply.body.len);
		buf_addch(&out, '\n');
	} else {
		buf_addf(&out, "%u to create, %u to update, %u to delete, %u unchanged", counts[1],
			 counts[2], counts[3], counts[0]);
		if (counts[4])
			buf_addf(&out, ", %u orphaned (not pruned)", counts[4]);
		buf_addch(&out, '\n');
	}
	rc = cli_write_stdout(&out);
	if (rc == EXIT_OK)
		rc = counts[1] || counts[2] || counts[3] ? EXIT_DIFF : EXIT_OK;
out:
	free(path);
	buf_release(&out);
	arena_release(&arena);
	remote_reply_release(&reply);
	return rc;
}

int cmd_diff(int argc, char **argv)
{
	struct sync_args args = {0};
	struct engine_opts eopts = {0};
	struct vec apps = VEC_INIT;
	struct store *store = NULL;
	struct buf out = BUF_INIT;
	struct app *app;
	size_t i;
	struct remote *remote = NULL;
	bool differs = false, failed = false;
	int rc = parse("diff", diff_help, argc, argv, &args);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (args.dry_run)
		return cli_usage_error("diff",
				       "diff never changes anything; --dry-run is for sync");
	if (args.revision || args.timeout)
		return cli_usage_error("diff", "%s is for sync",
				       args.revision ? "--revision" : "--timeout");
	if ((rc = cli_remote_open("diff", &args.server, &remote)) ||
	    (rc = check_remote("diff", &args, remote != NULL)))
		goto out;
	if (remote) {
		rc = diff_remote(remote, &args);
		goto out;
	}
	if ((rc = cli_load_apps("diff", &args.apps, &apps)) || (rc = cli_open_store(&store)))
		goto out;
	eopts.data_dir = cli_data_dir();
	eopts.prune = args.prune;
	eopts.fetch = true;
	if (args.json)
		buf_addch(&out, '[');
	vec_foreach (&apps, i, app) {
		struct engine_result res;
		struct error err = ERROR_INIT;

		if (engine_plan(store, app, &eopts, &res, &err) < 0) {
			cli_print_error(&err);
			failed = true;
		} else {
			differs |= plan_has_changes(&res.plan);
			engine_health(&res);
			if (args.json) {
				if (out.len > 1)
					buf_addch(&out, ',');
				result_json(&out, app, &res, NULL);
			} else {
				revision_line(&out, app, &res.commit);
				plan_print(&res.plan, true, cli_color(STDOUT_FILENO), &out);
			}
		}
		engine_result_release(&res);
	}
	if (args.json)
		buf_addstr(&out, "]\n");
	rc = cli_write_stdout(&out);
	if (rc == EXIT_OK)
		rc = failed ? EXIT_ERROR : differs ? EXIT_DIFF : EXIT_OK;
out:
	remote_free(remote);
	buf_release(&out);
	vec_release(&apps, app_free);
	store_close(store);
	return rc;
}
