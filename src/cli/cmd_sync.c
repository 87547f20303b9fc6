/* plumb sync and plumb diff: make the host match Git, or show what that would change. */
#include "cli.h"
#include "engine/engine.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char sync_help[] =
	"usage: plumb sync (-f <file> [--app <name>] | --repo <url> [...]) [options]\n"
	"\n"
	"Makes the host match Git: fetches each application's repository, renders its\n"
	"manifests, compares them with the host and with what plumb applied before, and\n"
	"applies the difference in a safe order (directories before their contents,\n"
	"prunes deepest first). The whole set is checked before the first write: one\n"
	"invalid object means nothing changes. Every run is recorded (see plumb history).\n"
	"\n" CLI_APP_HELP "\n"
	"Options:\n"
	"      --dry-run              show the plan, change nothing, record nothing\n"
	"      --prune, --no-prune    remove (or keep) what was removed from Git; default:\n"
	"                             syncPolicy.automated.prune (on for --repo)\n"
	"      --diff                 show content diffs as well\n"
	"  -o, --output text|json     how to print the result (default: text)\n"
	"  -q, --quiet                no progress lines on stderr\n"
	"\n" CLI_COMMON_HELP "\n"
	"Exit status: 0 when every application synced, 2 on any error.\n"
	"\n"
	"Examples:\n"
	"  plumb sync -f apps.yaml\n"
	"  plumb sync --repo https://git.example.com/ops.git --path hosts/web --root / --dry-run\n";

static const char diff_help[] =
	"usage: plumb diff (-f <file> [--app <name>] | --repo <url> [...]) [options]\n"
	"\n"
	"Shows what 'plumb sync' would change on the host, object by object, with a\n"
	"unified diff of file contents and a line for mode, owner and link changes.\n"
	"Changes nothing.\n"
	"\n" CLI_APP_HELP "\n"
	"Options:\n"
	"      --prune, --no-prune    count removals (default: the application's policy)\n"
	"  -o, --output text|json     how to print the differences (default: text)\n"
	"\n" CLI_COMMON_HELP "\n"
	"Exit status: 0 when the host matches Git, 1 when something differs, 2 on error.\n"
	"\n"
	"Examples:\n"
	"  plumb diff -f apps.yaml --app web\n"
	"  plumb diff --repo ./ops --path hosts/web --root /srv/test -o json\n";

enum { OPT_DRY_RUN = 1200, OPT_PRUNE, OPT_NO_PRUNE, OPT_DIFF };

struct sync_args {
	struct cli_apps apps;
	bool dry_run;
	bool diffs;
	bool json;
	bool quiet;
	int prune;
};

static int parse(const char *command, const char *help, int argc, char **argv,
		 struct sync_args *args)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		CLI_APP_OPTIONS,
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"prune", no_argument, NULL, OPT_PRUNE},
		{"no-prune", no_argument, NULL, OPT_NO_PRUNE},
		{"diff", no_argument, NULL, OPT_DIFF},
		{"output", required_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt, rc;

	args->prune = -1;
	while ((opt = getopt_long(argc, argv, "f:o:qh", options, NULL)) != -1) {
		if (cli_app_option(&args->apps, opt, optarg))
			continue;
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
			break;
		case OPT_PRUNE:
			args->prune = 1;
			break;
		case OPT_NO_PRUNE:
			args->prune = 0;
			break;
		case OPT_DIFF:
			args->diffs = true;
			break;
		case '?':
			return cli_usage_error(command, "bad option");
		default:
			if ((rc = cli_common_option(opt, optarg)) != 0)
				return rc;
		}
	}
	if (optind < argc)
		return cli_usage_error(command, "unexpected argument '%s'", argv[optind]);
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
	buf_addf(out, ",\"run\":%lld,\"result\":", (long long)r->run_id);
	if (err && err->code)
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
			if (rc == 0 && eopts->dry_run)
				buf_addf(&out, "%s: dry run: nothing was changed\n", app->name);
			else if (rc == 0)
				buf_addf(
					&out,
					"%s: %s %lld succeeded: %u created, %u updated, %u deleted, "
					"%u unchanged\n",
					app->name, command, (long long)res.run_id,
					res.plan.counts[ACTION_CREATE],
					res.plan.counts[ACTION_UPDATE],
					res.plan.counts[ACTION_DELETE],
					res.plan.counts[ACTION_UNCHANGED]);
		}
		if (rc < 0) {
			cli_write_stdout(&out);
			buf_reset(&out);
			cli_print_error(&err);
			if (res.run_id && !json)
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

int cmd_sync(int argc, char **argv)
{
	struct sync_args args = {0};
	struct engine_opts eopts = {0};
	struct vec apps = VEC_INIT;
	struct store *store = NULL;
	int rc = parse("sync", sync_help, argc, argv, &args);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = cli_load_apps("sync", &args.apps, &apps)) || (rc = cli_open_store(&store)))
		goto out;
	eopts.data_dir = cli_data_dir();
	eopts.dry_run = args.dry_run;
	eopts.prune = args.prune;
	eopts.trigger = "manual";
	eopts.fetch = true;
	eopts.progress = !args.quiet && !args.json;
	rc = cli_sync_apps("sync", store, &apps, &eopts, args.json, args.quiet, args.diffs);
out:
	vec_release(&apps, app_free);
	store_close(store);
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
	bool differs = false, failed = false;
	int rc = parse("diff", diff_help, argc, argv, &args);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (args.dry_run)
		return cli_usage_error("diff",
				       "diff never changes anything; --dry-run is for sync");
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
	buf_release(&out);
	vec_release(&apps, app_free);
	store_close(store);
	return rc;
}
