/* plumb history: the recorded sync runs, newest first. */
#include "cli.h"
#include "engine/engine.h"
#include "yaml/yaml.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char history_help[] =
	"usage: plumb history [<app>] [-n <count>] [-o text|json]\n"
	"   or: plumb history --server <url> <app> [-n <count>] [-o text|json]\n"
	"\n"
	"Lists the sync runs plumb recorded, newest first: id, time, application,\n"
	"revision, author, commit message, trigger, result and the number of objects\n"
	"created, updated and deleted. With --run, the objects of one run.\n"
	"With --server, the runs a running 'plumb serve' recorded for one application\n"
	"(-n 0: the server's default number); with -o json, the API's JSON as it is.\n"
	"\n"
	"Options:\n"
	"  -n, --limit <count>        at most this many runs (default 20, 0 for all)\n"
	"      --run <id>             one run with the result of each of its objects\n"
	"  -o, --output text|json\n"
	"\n" CLI_SERVER_HELP "\n" CLI_COMMON_HELP "\n"
	"Examples:\n"
	"  plumb history web\n"
	"  plumb history --run 12 -o json\n"
	"  PLUMB_TOKEN=... plumb history --server http://127.0.0.1:7420 web -n 5\n";

void cli_format_time(int64_t when, char *out, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (!when) {
		snprintf(out, size, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M:%SZ", &tm);
}

void cli_run_json(const struct store_run *r, struct buf *out)
{
	char started[32], finished[32];

	cli_format_time(r->started, started, sizeof(started));
	cli_format_time(r->finished, finished, sizeof(finished));
	buf_addf(out, "{\"id\":%lld,\"app\":", (long long)r->id);
	buf_add_json_string(out, r->app, strlen(r->app));
	buf_addstr(out, ",\"revision\":");
	buf_add_json_string(out, r->revision, strlen(r->revision));
	buf_addstr(out, ",\"ref\":");
	buf_add_json_string(out, r->ref, strlen(r->ref));
	buf_addstr(out, ",\"author\":");
	buf_add_json_string(out, r->author, strlen(r->author));
	buf_addstr(out, ",\"message\":");
	buf_add_json_string(out, r->message, strlen(r->message));
	buf_addstr(out, ",\"trigger\":");
	buf_add_json_string(out, r->trigger, strlen(r->trigger));
	buf_addstr(out, ",\"actor\":");
	buf_add_json_string(out, r->actor, strlen(r->actor));
	buf_addf(out,
		 ",\"started\":\"%s\",\"finished\":\"%s\",\"result\":\"%s\",\"error\":", started,
		 finished, run_result_name(r->result));
	buf_add_json_string(out, r->error, strlen(r->error));
	buf_addf(out, ",\"created\":%u,\"updated\":%u,\"deleted\":%u,\"failed\":%u}", r->created,
		 r->updated, r->deleted, r->failed);
}

/* The table of runs, from the runs as stored or as the API gives them. */
static void table_header(struct buf *out)
{
	buf_addf(out, "%-5s %-20s %-12s %-12s %-14s %-9s %-11s %-14s %s\n", "ID", "TIME", "APP",
		 "REVISION", "AUTHOR", "TRIGGER", "RESULT", "CHANGES", "MESSAGE");
}

/* history --server: GET /api/v1/apps/<app>/history as the local table, or as it is. */
static int history_remote(struct remote *remote, const char *app, long limit, bool json)
{
	struct remote_reply reply = REMOTE_REPLY_INIT;
	struct error err = ERROR_INIT;
	struct arena arena = ARENA_INIT;
	struct buf out = BUF_INIT;
	struct node *runs;
	char *path = xasprintf("/api/v1/apps/%s/history?limit=%ld", app, limit);
	int rc;

	if (remote_get_json(remote, path, &reply, &arena, &runs, &err) < 0) {
		cli_print_error(&err);
		rc = EXIT_ERROR;
		goto out;
	}
	if (json) {
		buf_add(&out, reply.body.data, reply.body.len);
		buf_addch(&out, '\n');
	} else if (runs->type != NODE_SEQ || !runs->count) {
		buf_addf(&out, "no sync runs recorded for %s\n", app);
	} else {
		table_header(&out);
		for (size_t i = 0; i < runs->count; i++) {
			const struct node *r = runs->items[i];
			char when[32], changes[48];

			cli_format_time(remote_int(r, "started"), when, sizeof(when));
			snprintf(changes, sizeof(changes), "+%lld ~%lld -%lld%s",
				 (long long)remote_int(r, "created"),
				 (long long)remote_int(r, "updated"),
				 (long long)remote_int(r, "deleted"),
				 remote_int(r, "failed") ? " !" : "");
			buf_addf(&out, "%-5lld %-20s %-12s %-12.12s %-14.14s %-9s %-11s %-14s %s\n",
				 (long long)remote_int(r, "id"), when, remote_str(r, "app"),
				 remote_str(r, "revision"), remote_str(r, "author"),
				 remote_str(r, "trigger"), remote_str(r, "result"), changes,
				 remote_str(r, "message"));
		}
	}
	rc = cli_write_stdout(&out);
out:
	free(path);
	buf_release(&out);
	arena_release(&arena);
	remote_reply_release(&reply);
	return rc;
}

static int show_run(struct store *store, int64_t id, bool json)
{
	struct store_run run = {0};
	struct vec objects = VEC_INIT;
	struct error err = ERROR_INIT;
	struct buf out = BUF_INIT;
	struct store_run_object *o;
	size_t i;
	int rc = EXIT_OK;

	if (store_run_get(store, id, &run, &err) < 0 ||
	    store_run_object_list(store, id, &objects, &err) < 0) {
		cli_print_error(&err);
		rc = EXIT_ERROR;
		goto out;
	}
	if (json) {
		buf_addstr(&out, "{\"run\":");
		cli_run_json(&run, &out);
		buf_addstr(&out, ",\"objects\":[");
		vec_foreach (&objects, i, o) {
			buf_addstr(&out, i ? ",{\"object\":" : "{\"object\":");
			buf_add_json_string(&out, o->display, strlen(o->display));
			buf_addstr(&out, ",\"path\":");
			buf_add_json_string(&out, o->path, strlen(o->path));
			buf_addf(&out,
				 ",\"action\":\"%s\",\"result\":\"%s\",\"message\":", o->action,
				 o->result);
			buf_add_json_string(&out, o->message, strlen(o->message));
			buf_addch(&out, '}');
		}
		buf_addstr(&out, "]}\n");
	} else {
		char started[32];

		cli_format_time(run.started, started, sizeof(started));
		buf_addf(&out,
			 "run %lld of %s: %s at %s\nrevision %s (%s) by %s: \"%s\"\n"
			 "trigger %s by %s\n",
			 (long long)run.id, run.app, run_result_name(run.result), started,
			 run.revision, run.ref, run.author, run.message, run.trigger, run.actor);
		if (run.error[0])
			buf_addf(&out, "error: %s\n", run.error);
		vec_foreach (&objects, i, o)
			buf_addf(&out, "  %-9s %-6s %-28s %s%s%s\n", o->action, o->result,
				 o->display, o->path, o->message[0] ? "  " : "", o->message);
	}
	rc = cli_write_stdout(&out);
out:
	buf_release(&out);
	vec_release(&objects, store_run_object_free);
	store_run_release(&run);
	return rc;
}

int cmd_history(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		CLI_SERVER_OPTIONS,
		{"limit", required_argument, NULL, 'n'},
		{"run", required_argument, NULL, 'r'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store *store = NULL;
	struct vec runs = VEC_INIT;
	struct error err = ERROR_INIT;
	struct buf out = BUF_INIT;
	struct cli_server server = {0};
	struct remote *remote = NULL;
	const char *app = NULL;
	long limit = 20, run_id = 0;
	bool json = false;
	struct store_run *r;
	size_t i;
	int opt, rc;
	char *end;

	while ((opt = getopt_long(argc, argv, "n:o:h", options, NULL)) != -1) {
		if (cli_server_option(&server, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			fputs(history_help, stdout);
			return EXIT_OK;
		case 'n':
			limit = strtol(optarg, &end, 10);
			if (*end || limit < 0)
				return cli_usage_error("history",
						       "--limit needs a number, not '%s'", optarg);
			break;
		case 'r':
			run_id = strtol(optarg, &end, 10);
			if (*end || run_id <= 0)
				return cli_usage_error("history", "--run needs a run id, not '%s'",
						       optarg);
			cli_server_local(&server, "--run");
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				json = true;
			else if (strcmp(optarg, "text") != 0)
				return cli_usage_error("history", "unknown output format '%s'",
						       optarg);
			break;
		case '?':
			return cli_usage_error("history", "bad option");
		default:
			if (opt == OPT_DATA_DIR)
				cli_server_local(&server, "--data-dir");
			if ((rc = cli_common_option(opt, optarg)) != 0)
				return rc;
		}
	}
	if (optind < argc)
		app = argv[optind++];
	if (optind < argc)
		return cli_usage_error("history", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_remote_open("history", &server, &remote)))
		return rc;
	if (remote) {
		rc = app ? history_remote(remote, app, limit, json)
			 : cli_usage_error("history", "name the application whose runs to list "
						      "on the server");
		remote_free(remote);
		return rc;
	}
	if ((rc = cli_open_store(&store)))
		return rc;
	if (run_id) {
		rc = show_run(store, run_id, json);
		goto out;
	}
	if (store_run_list(store, app, (size_t)limit, &runs, &err) < 0) {
		cli_print_error(&err);
		rc = EXIT_ERROR;
		goto out;
	}
	if (json) {
		buf_addch(&out, '[');
		vec_foreach (&runs, i, r) {
			if (i)
				buf_addch(&out, ',');
			cli_run_json(r, &out);
		}
		buf_addstr(&out, "]\n");
	} else if (!runs.len) {
		buf_addf(&out, "no sync runs recorded%s%s\n", app ? " for " : "", app ? app : "");
	} else {
		table_header(&out);
		vec_foreach (&runs, i, r) {
			char when[32], changes[48];

			cli_format_time(r->started, when, sizeof(when));
			snprintf(changes, sizeof(changes), "+%u ~%u -%u%s", r->created, r->updated,
				 r->deleted, r->failed ? " !" : "");
			buf_addf(&out, "%-5lld %-20s %-12s %-12.12s %-14.14s %-9s %-11s %-14s %s\n",
				 (long long)r->id, when, r->app, r->revision, r->author, r->trigger,
				 run_result_name(r->result), changes, r->message);
		}
	}
	rc = cli_write_stdout(&out);
out:
	buf_release(&out);
	vec_release(&runs, store_run_free);
	store_close(store);
	return rc;
}
