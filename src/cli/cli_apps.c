/* Choosing applications on the command line, shared by diff, sync and friends. */
#include "cli.h"
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool cli_app_option(struct cli_apps *a, int opt, const char *arg)
{
	switch (opt) {
	case OPT_APP_FILE:
		a->file = arg;
		return true;
	case OPT_APP_NAME:
		a->only = arg;
		return true;
	case OPT_APP_REPO:
		a->flags.repo = arg;
		return true;
	case OPT_APP_REF:
		a->flags.ref = arg;
		return true;
	case OPT_APP_PATH:
		a->flags.path = arg;
		return true;
	case OPT_APP_ROOT:
		a->flags.root = arg;
		return true;
	case OPT_APP_AS:
		a->flags.name = arg;
		return true;
	default:
		return false;
	}
}

/* A local repository path made absolute, so the stored application works from anywhere. */
static char *absolute_repo(const char *repo)
{
	char *real;

	if (strstr(repo, "://") || (strchr(repo, ':') && !strchr(repo, '/')) ||
	    (strchr(repo, ':') && strchr(repo, ':') < strchr(repo, '/')))
		return NULL;
	real = realpath(repo, NULL);
	return real;
}

int cli_load_apps(const char *command, struct cli_apps *a, struct vec *out)
{
	struct error err = ERROR_INIT;
	struct app *app;
	size_t i;

	if (a->file && a->flags.repo)
		return cli_usage_error(command, "give either -f or --repo, not both");
	if (!a->file && !a->flags.repo)
		return cli_usage_error(command, "give the applications with -f FILE, or one with "
						"--repo URL");
	if (!a->file && a->only)
		return cli_usage_error(command, "--app chooses an application of -f FILE");
	if (a->file && (a->flags.ref || a->flags.path || a->flags.root || a->flags.name))
		return cli_usage_error(command, "--ref, --path, --root and --name go with --repo");
	if (a->flags.repo) {
		struct app_flags flags = a->flags;
		char *abs = absolute_repo(flags.repo);

		if (abs)
			flags.repo = abs;
		int rc = app_from_flags(&flags, &app, &err);

		free(abs);
		if (rc < 0) {
			cli_print_error(&err);
			return EXIT_ERROR;
		}
		vec_push(out, app);
		return 0;
	}
	if (app_load_file(a->file, out, &err) < 0) {
		cli_print_error(&err);
		return EXIT_ERROR;
	}
	vec_foreach (out, i, app) {
		char *abs = absolute_repo(app->repo_url);

		if (abs) {
			free(app->repo_url);
			app->repo_url = abs;
		}
	}
	if (a->only) {
		struct vec chosen = VEC_INIT;

		vec_foreach (out, i, app) {
			if (strcmp(app->name, a->only) == 0)
				vec_push(&chosen, app);
			else
				app_free(app);
		}
		vec_release(out, NULL);
		*out = chosen;
		if (!out->len) {
			fprintf(stderr, "error: no application '%s' in '%s'\n", a->only, a->file);
			return EXIT_ERROR;
		}
	}
	return 0;
}

int cli_open_store(struct store **out)
{
	struct error err = ERROR_INIT;

	if (engine_open_store(cli_data_dir(), out, &err) < 0) {
		cli_print_error(&err);
		return EXIT_ERROR;
	}
	return 0;
}

bool cli_color(int fd)
{
	const char *no_color = getenv("NO_COLOR");

	return isatty(fd) && !(no_color && *no_color);
}
