/* plumb audit: the API calls that changed something, with who made them. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char audit_help[] =
	"usage: plumb audit [-n <count>] [-o text|json]\n"
	"\n"
	"Shows plumb serve's audit log, newest first: every mutating API call (sync,\n"
	"rollback, suspend, resume, token changes), refused ones included, with the\n"
	"token that made it ('-' when none was given), the application, what was\n"
	"asked and the HTTP status answered.\n"
	"\n"
	"Options:\n"
	"  -n, --limit <count>        at most this many entries (default 50, 0 for all)\n"
	"  -o, --output text|json\n"
	"\n" CLI_COMMON_HELP;

int cmd_audit(int argc, char **argv)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"limit", required_argument, NULL, 'n'},
		{"output", required_argument, NULL, 'o'},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct vec entries = VEC_INIT;
	struct store *store = NULL;
	struct error err = ERROR_INIT;
	struct buf out = BUF_INIT;
	const struct store_audit *a;
	size_t limit = 50, i;
	bool json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "hn:o:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(audit_help, stdout);
			return EXIT_OK;
		case 'n':
			limit = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return cli_usage_error("audit", "--output is text or json");
			json = strcmp(optarg, "json") == 0;
			break;
		case '?':
			return cli_usage_error("audit", "bad option");
		default:
			if ((rc = cli_common_option(opt, optarg)))
				return rc;
		}
	}
	if (optind < argc)
		return cli_usage_error("audit", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open_store(&store)))
		return rc;
	if (store_audit_list(store, limit, &entries, &err) < 0) {
		cli_print_error(&err);
		store_close(store);
		return EXIT_ERROR;
	}
	if (json)
		buf_addch(&out, '[');
	else
		buf_addf(&out, "%-6s %-21s %-16s %-14s %-16s %-6s %s\n", "ID", "TIME", "ACTOR",
			 "ACTION", "APP", "STATUS", "DETAIL");
	vec_foreach (&entries, i, a) {
		char when[32];

		cli_format_time(a->time, when, sizeof(when));
		if (json) {
			buf_addf(&out, "%s{\"id\":%lld,\"time\":\"%s\",\"actor\":", i ? "," : "",
				 (long long)a->id, when);
			buf_add_json_string(&out, a->actor, strlen(a->actor));
			buf_addstr(&out, ",\"action\":");
			buf_add_json_string(&out, a->action, strlen(a->action));
			buf_addstr(&out, ",\"app\":");
			buf_add_json_string(&out, a->app, strlen(a->app));
			buf_addstr(&out, ",\"detail\":");
			buf_add_json_string(&out, a->detail, strlen(a->detail));
			buf_addf(&out, ",\"status\":%d}", a->status);
		} else {
			buf_addf(&out, "%-6lld %-21s %-16s %-14s %-16s %-6d %s\n", (long long)a->id,
				 when, a->actor, a->action, a->app[0] ? a->app : "-", a->status,
				 a->detail);
		}
	}
	if (json)
		buf_addstr(&out, "]\n");
	rc = cli_write_stdout(&out);
	buf_release(&out);
	vec_release(&entries, store_audit_free);
	store_close(store);
	return rc;
}
