/* plumb token: the API's bearer tokens (create, list, revoke). */
#include "cli.h"
#include "server/auth.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char token_help[] =
	"usage: plumb token create <name> [--role viewer|operator|admin] [--apps <globs>]\n"
	"       plumb token list [-o text|json]\n"
	"       plumb token revoke <name>\n"
	"\n"
	"Bearer tokens for plumb serve's API. A viewer reads; an operator also syncs,\n"
	"rolls back, suspends and resumes; an admin also manages tokens and reads the\n"
	"audit log. --apps limits a token to applications whose names match one of\n"
	"its comma-separated globs. plumb keeps only a hash of each token: 'create'\n"
	"prints the token once. Works on the data directory directly, also while\n"
	"plumb serve runs.\n"
	"\n"
	"Options:\n"
	"      --role <role>          viewer, operator or admin (default viewer)\n"
	"      --apps <globs>         e.g. 'web,api-*' (default '*': every application)\n"
	"  -o, --output text|json\n"
	"\n" CLI_COMMON_HELP "\n"
	"Examples:\n"
	"  plumb token create ci --role operator --apps 'web-*'\n"
	"  plumb token revoke ci\n";

enum { OPT_ROLE = OPT_COMMON_END, OPT_APPS };

static int token_list(struct store *store, bool json)
{
	struct vec tokens = VEC_INIT;
	struct error err = ERROR_INIT;
	struct buf out = BUF_INIT;
	const struct store_token *t;
	size_t i;
	int rc;

	if (store_token_list(store, &tokens, &err) < 0) {
		cli_print_error(&err);
		return EXIT_ERROR;
	}
	if (json)
		buf_addch(&out, '[');
	else
		buf_addf(&out, "%-20s %-9s %-24s %-21s %s\n", "NAME", "ROLE", "APPS", "CREATED",
			 "LAST USED");
	vec_foreach (&tokens, i, t) {
		char created[32], used[32];

		cli_format_time(t->created, created, sizeof(created));
		cli_format_time(t->last_used, used, sizeof(used));
		if (json) {
			buf_addstr(&out, i ? ",{\"name\":" : "{\"name\":");
			buf_add_json_string(&out, t->name, strlen(t->name));
			buf_addf(&out, ",\"role\":\"%s\",\"apps\":", t->role);
			buf_add_json_string(&out, t->apps, strlen(t->apps));
			buf_addf(&out, ",\"created\":\"%s\",\"lastUsed\":\"%s\"}", created, used);
		} else {
			buf_addf(&out, "%-20s %-9s %-24s %-21s %s\n", t->name, t->role, t->apps,
				 created, used);
		}
	}
	if (json)
		buf_addstr(&out, "]\n");
	rc = cli_write_stdout(&out);
	buf_release(&out);
	vec_release(&tokens, store_token_free);
	return rc;
}

int cmd_token(int argc, char **argv)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"role", required_argument, NULL, OPT_ROLE},
		{"apps", required_argument, NULL, OPT_APPS},
		{"output", required_argument, NULL, 'o'},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	const char *role = "viewer", *apps = "*", *action;
	struct store *store = NULL;
	struct error err = ERROR_INIT;
	bool json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(token_help, stdout);
			return EXIT_OK;
		case OPT_ROLE:
			role = optarg;
			break;
		case OPT_APPS:
			apps = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return cli_usage_error("token", "--output is text or json");
			json = strcmp(optarg, "json") == 0;
			break;
		case '?':
			return cli_usage_error("token", "bad option");
		default:
			if ((rc = cli_common_option(opt, optarg)))
				return rc;
		}
	}
	if (optind >= argc)
		return cli_usage_error("token", "say create, list or revoke");
	action = argv[optind++];
	if (strcmp(action, "list") == 0) {
		if (optind < argc)
			return cli_usage_error("token", "unexpected argument '%s'", argv[optind]);
	} else if (strcmp(action, "create") == 0 || strcmp(action, "revoke") == 0) {
		if (optind + 1 != argc)
			return cli_usage_error("token", "name the token to %s", action);
		if (strcmp(action, "create") == 0 && role_parse(role) == ROLE_NONE)
			return cli_usage_error("token", "--role is viewer, operator or admin");
	} else {
		return cli_usage_error("token", "unknown action '%s' (create, list, revoke)",
				       action);
	}
	if ((rc = cli_open_store(&store)))
		return rc;
	if (strcmp(action, "list") == 0) {
		rc = token_list(store, json);
	} else if (strcmp(action, "create") == 0) {
		char *token = NULL;

		if (auth_token_create(store, argv[optind], role_parse(role), apps, &token, &err) <
		    0) {
			cli_print_error(&err);
			rc = EXIT_ERROR;
		} else {
			printf("%s\n", token);
			fprintf(stderr,
				"created token '%s' (%s, applications '%s'); it is shown only "
				"now\n",
				argv[optind], role, apps);
			free(token);
		}
	} else if (store_token_delete(store, argv[optind], &err) < 0) {
		cli_print_error(&err);
		rc = EXIT_ERROR;
	} else {
		fprintf(stderr, "revoked token '%s'\n", argv[optind]);
	}
	store_close(store);
	return rc;
}
