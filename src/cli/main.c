/* plumb: the command-line tool and (later) the daemon, one binary. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *data_dir_flag;

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"render", cmd_render, "render the manifests of a directory or Git repository"},
	{"diff", cmd_diff, "show what a sync would change on the host or cluster"},
	{"sync", cmd_sync, "make the host or cluster match Git, and record the run"},
	{"status", cmd_status, "show each application's revision, sync state and objects"},
	{"history", cmd_history, "list the recorded sync runs"},
	{"rollback", cmd_rollback, "make the host or cluster match an earlier revision"},
	{"serve", cmd_serve, "run the daemon: reconcile loop, drift watch, API, webhooks"},
	{"token", cmd_token, "create, list and revoke the API's bearer tokens"},
	{"audit", cmd_audit, "show who changed what through the API"},
	{"version", cmd_version, "print plumb's version and the libraries it uses"},
};

static void usage(FILE *to)
{
	fputs("usage: plumb [--log-level <level>] [--log-format text|json] <command> [<args>]\n"
	      "\n"
	      "plumb keeps Linux hosts and Kubernetes clusters exactly as a Git repository says.\n"
	      "\n"
	      "Commands:\n",
	      to);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(to, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nA first sync:\n"
	      "  plumb diff --repo https://git.example.com/ops.git --path hosts/web\n"
	      "  plumb sync --repo https://git.example.com/ops.git --path hosts/web\n"
	      "  plumb status; plumb history\n"
	      "\nRun 'plumb <command> --help' for a command's options and examples.\n",
	      to);
}

int cli_common_option(int opt, const char *arg)
{
	static enum log_level level = LOG_INFO;
	static enum log_format format = LOG_TEXT;

	switch (opt) {
	case OPT_LOG_LEVEL:
		if (log_parse_level(arg, &level) < 0) {
			fprintf(stderr,
				"error: unknown log level '%s' (use debug, info, warn or "
				"error)\n",
				arg);
			return EXIT_ERROR;
		}
		break;
	case OPT_LOG_FORMAT:
		if (log_parse_format(arg, &format) < 0) {
			fprintf(stderr, "error: unknown log format '%s' (use text or json)\n", arg);
			return EXIT_ERROR;
		}
		break;
	case OPT_DATA_DIR:
		free(data_dir_flag);
		data_dir_flag = xstrdup(arg);
		return 0;
	default:
		return EXIT_ERROR;
	}
	log_setup(level, format);
	return 0;
}

const char *cli_data_dir(void)
{
	static char *computed;
	const char *env;

	if (data_dir_flag)
		return data_dir_flag;
	if (computed)
		return computed;
	env = getenv("PLUMB_DATA_DIR");
	if (env && *env)
		computed = xstrdup(env);
	else if (geteuid() == 0)
		computed = xstrdup("/var/lib/plumb");
	else if ((env = getenv("XDG_STATE_HOME")) && *env)
		computed = xasprintf("%s/plumb", env);
	else
		computed =
			xasprintf("%s/.local/state/plumb", getenv("HOME") ? getenv("HOME") : ".");
	return computed;
}

void cli_print_error(const struct error *err)
{
	struct str rest = str_from(err->msg), line;
	bool first = true;

	while (rest.len || first) {
		str_cut(rest, '\n', &line, &rest);
		fprintf(stderr, "%s%.*s\n", first ? "error: " : "  ", (int)line.len, line.ptr);
		first = false;
	}
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nrun 'plumb %s --help' for usage\n", command);
	return EXIT_ERROR;
}

int cli_write_stdout(const struct buf *out)
{
	size_t done = 0;

	while (done < out->len) {
		ssize_t n = write(STDOUT_FILENO, out->data + done, out->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (errno != EPIPE)
				fprintf(stderr, "error: cannot write output: %s\n",
					strerror(errno));
			return EXIT_ERROR;
		}
		done += (size_t)n;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt, rc;

	/* A closed pipe (plumb render | head) is an ordinary end, not a crash. */
	signal(SIGPIPE, SIG_IGN);
	/* Stop at the command name: what follows belongs to the command. */
	while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V': {
			char name[] = "version";

			return cmd_version(1, (char *[]){name, NULL});
		}
		case '?':
			usage(stderr);
			return EXIT_ERROR;
		default:
			if ((rc = cli_common_option(opt, optarg)) != 0)
				return rc;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			char **sub = argv + optind;

			/* 0, not 1: glibc then forgets the "+" (stop at the first
			 * argument) ordering of the parse above */
			optind = 0;
			rc = commands[i].run(argc - (int)(sub - argv), sub);
			free(data_dir_flag);
			return rc;
		}
	}
	fprintf(stderr, "error: unknown command '%s'\n", argv[optind]);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (str_distance(argv[optind], commands[i].name) <= 2)
			fprintf(stderr, "did you mean 'plumb %s'?\n", commands[i].name);
	fputs("run 'plumb --help' for the list of commands\n", stderr);
	return EXIT_ERROR;
}
