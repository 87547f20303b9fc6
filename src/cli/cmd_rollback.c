/* plumb rollback: make the host match an earlier revision, recorded as a run of its own. */
#include "cli.h"
#include "engine/engine.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rollback_help[] =
	"usage: plumb rollback <app> --to <sync-id | revision> [options]\n"
	"   or: plumb rollback --server <url> <app> --to <run-id | sha> [--timeout <duration>]\n"
	"\n"
	"Makes the target match an earlier revision of the application: the revision a\n"
	"recorded sync applied (by its id, see 'plumb history'), or a commit (full or\n"
	"abbreviated SHA). Objects added since are removed (unless --no-prune), and the\n"
	"rollback is recorded as a run with trigger 'rollback'. A later 'plumb sync'\n"
	"moves forward to the application's ref again.\n"
	"\n"
	"With --server, asks a running 'plumb serve' to roll one of its applications\n"
	"back (run ids are the server's, see 'plumb history --server'), waits for the\n"
	"run to finish and prints its result.\n"
	"\n"
	"Options:\n"
	"      --to <id | sha>        the sync run or commit to go back to\n"
	"      --dry-run              show the plan, change nothing\n"
	"      --no-prune             keep objects that the earlier revision does not have\n"
	"      --wait                 Kubernetes: then wait until every object is healthy\n"
	"                             (kstatus rules), up to spec.health.timeout\n"
	"  -o, --output text|json\n"
	"  -q, --quiet                no progress lines on stderr\n"
	"\n" CLI_SERVER_HELP
	"      --timeout <duration>   with --server: how long to wait for the run (default 5m)\n"
	"\n" CLI_COMMON_HELP "\n"
	"Examples:\n"
	"  plumb rollback web --to 12\n"
	"  plumb rollback web --to 3f9c2ab --dry-run\n"
	"  PLUMB_TOKEN=... plumb rollback --server http://127.0.0.1:7420 web --to 12\n";

enum { OPT_TO = 1300, OPT_DRY, OPT_NOPRUNE, OPT_TIMEOUT, OPT_WAIT };

#define WAIT_DEFAULT_MS (5 * 60 * 1000)

/* rollback --server: the server rolls back; wait for the run. */
static int rollback_remote(struct remote *remote, const char *name, const char *to,
			   const char *timeout, bool json, bool quiet)
{
	uint64_t timeout_ms = WAIT_DEFAULT_MS;
	struct buf body = BUF_INIT;
	int rc;

	if (timeout && (parse_duration(timeout, &timeout_ms) < 0 || !timeout_ms))
		return cli_usage_error("rollback",
				       "--timeout needs a duration such as 30s or 5m, not '%s'",
				       timeout);
	buf_addstr(&body, "{\"to\":");
	buf_add_json_string(&body, to, strlen(to));
	buf_addch(&body, '}');
	rc = remote_sync_wait(remote, name, "rollback", body.data, timeout_ms, json, quiet);
	buf_release(&body);
	return rc;
}

int cmd_rollback(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		CLI_SERVER_OPTIONS,
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"wait", no_argument, NULL, OPT_WAIT},
		{"to", required_argument, NULL, OPT_TO},
		{"dry-run", no_argument, NULL, OPT_DRY},
		{"no-prune", no_argument, NULL, OPT_NOPRUNE},
		{"output", required_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct engine_opts eopts = {.prune = 1, .trigger = "rollback"};
	struct store_app stored = {0};
	struct store_run run = {0};
	struct store *store = NULL;
	struct vec apps = VEC_INIT;
	struct error err = ERROR_INIT;
	struct app *app = NULL;
	struct cli_server server = {0};
	struct remote *remote = NULL;
	const char *to = NULL, *timeout = NULL, *name;
	bool json = false, quiet = false;
	char *sha = NULL;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "o:qh", options, NULL)) != -1) {
		if (cli_server_option(&server, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			fputs(rollback_help, stdout);
			return EXIT_OK;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_DRY:
			eopts.dry_run = true;
			cli_server_local(&server, "--dry-run");
			break;
		case OPT_NOPRUNE:
			eopts.prune = 0;
			cli_server_local(&server, "--no-prune");
			break;
		case OPT_TIMEOUT:
			timeout = optarg;
			break;
		case OPT_WAIT:
			eopts.wait = true;
			cli_server_local(&server, "--wait");
			break;
		case 'q':
			quiet = true;
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				json = true;
			else if (strcmp(optarg, "text") != 0)
				return cli_usage_error("rollback", "unknown output format '%s'",
						       optarg);
			break;
		case '?':
			return cli_usage_error("rollback", "bad option");
		default:
			if (opt == OPT_DATA_DIR)
				cli_server_local(&server, "--data-dir");
			if ((rc = cli_common_option(opt, optarg)) != 0)
				return rc;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("rollback", "name the application to roll back");
	if (!to)
		return cli_usage_error("rollback", "say where to go back to with --to <sync-id | "
						   "revision>");
	name = argv[optind];
	if ((rc = cli_remote_open("rollback", &server, &remote)))
		return rc;
	if (remote) {
		rc = rollback_remote(remote, name, to, timeout, json, quiet);
		remote_free(remote);
		return rc;
	}
	if (timeout)
		return cli_usage_error("rollback", "--timeout goes with --server");
	if ((rc = cli_open_store(&store)))
		return rc;
	if (store_app_get(store, name, &stored, &err) < 0) {
		if (err.code == ERR_NOTFOUND)
			error_set(&err, ERR_NOTFOUND,
				  "plumb has not synced an application named '%s'", name);
		goto fail;
	}
	if (app_from_json(stored.spec_json, &app, &err) < 0)
		goto fail;
	/* a number is a sync run, unless it is too long to be one (then a SHA) */
	if (strspn(to, "0123456789") == strlen(to) && strlen(to) < 7) {
		if (store_run_get(store, strtoll(to, NULL, 10), &run, &err) < 0) {
			error_prefix(&err, "no sync run %s", to);
			goto fail;
		}
		if (strcmp(run.app, name) != 0) {
			error_set(&err, ERR_INVALID,
				  "sync run %s belongs to application '%s', not '%s'", to, run.app,
				  name);
			goto fail;
		}
		if (!run.revision[0]) {
			error_set(&err, ERR_INVALID, "sync run %s has no revision to go back to",
				  to);
			goto fail;
		}
		sha = xstrdup(run.revision);
	} else {
		for (const char *p = to; *p; p++) {
			if (!isxdigit((unsigned char)*p)) {
				error_set(&err, ERR_INVALID,
					  "'%s' is neither a sync id nor a commit SHA", to);
				goto fail;
			}
		}
		sha = xstrdup(to);
	}
	eopts.data_dir = cli_data_dir();
	eopts.commit = sha;
	/* the commit is normally in the cache already; the engine fetches if it is not */
	eopts.fetch = false;
	eopts.progress = !quiet && !json;
	vec_push(&apps, app);
	app = NULL;
	rc = cli_sync_apps("rollback", store, &apps, &eopts, json, quiet, false);
	goto out;
fail:
	cli_print_error(&err);
	rc = EXIT_ERROR;
out:
	free(sha);
	app_free(app);
	vec_release(&apps, app_free);
	store_run_release(&run);
	store_app_release(&stored);
	store_close(store);
	return rc;
}
