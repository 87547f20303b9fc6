/* cli — the command-line front end: one cmd_<name>.c per command, shared helpers here. */
#ifndef PLUMB_CLI_H
#define PLUMB_CLI_H

#include "core/core.h"
#include "engine/app.h"
#include "store/store.h"

/* Exit codes of every command. */
enum {
	EXIT_OK = 0,	/* success; for diff: no difference */
	EXIT_DIFF = 1,	/* diff only: differences found */
	EXIT_ERROR = 2, /* any error */
};

/* Options every command accepts (long option values start at this number). */
enum {
	OPT_LOG_LEVEL = 1000,
	OPT_LOG_FORMAT,
	OPT_DATA_DIR,
	OPT_COMMON_END,
};

/* clang-format off */
#define CLI_COMMON_OPTIONS \
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL}, \
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT}, \
	{"data-dir", required_argument, NULL, OPT_DATA_DIR}
/* clang-format on */

#define CLI_COMMON_HELP                                                                           \
	"Common options:\n"                                                                       \
	"      --data-dir <dir>      state and Git caches (default: $PLUMB_DATA_DIR, else\n"      \
	"                            /var/lib/plumb as root, else $XDG_STATE_HOME/plumb)\n"       \
	"      --log-level <level>   debug, info, warn or error (default: info)\n"                \
	"      --log-format <fmt>    text or json, for the log lines on stderr (default: text)\n" \
	"  -h, --help                show this help\n"

/* Handles a common option; returns 0, or EXIT_ERROR after printing why. */
int cli_common_option(int opt, const char *arg);
/* The data directory: --data-dir, else $PLUMB_DATA_DIR, else the default. Borrowed. */
const char *cli_data_dir(void);
/* Prints "error: <message>" (each further line of the message indented) to stderr. */
void cli_print_error(const struct error *err);
/* Prints a usage error with a hint to run --help; returns EXIT_ERROR. */
int cli_usage_error(const char *command, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Writes the whole buffer to stdout; EXIT_ERROR if that fails (e.g. a closed pipe). */
int cli_write_stdout(const struct buf *out);

/* ---- choosing applications: -f FILE [--app NAME], or quick flags ---- */

enum {
	OPT_APP_FILE = 'f',
	OPT_APP_NAME = 1100,
	OPT_APP_REPO,
	OPT_APP_REF,
	OPT_APP_PATH,
	OPT_APP_ROOT,
	OPT_APP_AS,
};

/* clang-format off */
#define CLI_APP_OPTIONS \
	{"file", required_argument, NULL, OPT_APP_FILE}, \
	{"app", required_argument, NULL, OPT_APP_NAME}, \
	{"repo", required_argument, NULL, OPT_APP_REPO}, \
	{"ref", required_argument, NULL, OPT_APP_REF}, \
	{"path", required_argument, NULL, OPT_APP_PATH}, \
	{"root", required_argument, NULL, OPT_APP_ROOT}, \
	{"name", required_argument, NULL, OPT_APP_AS}
/* clang-format on */

#define CLI_APP_HELP                                                                             \
	"Applications:\n"                                                                        \
	"  -f, --file <file>          Applications (apiVersion plumb.dev/v1) from a YAML file\n" \
	"      --app <name>           only this application of the file\n"                       \
	"      --repo <url>           or one application from flags: its Git repository,\n"      \
	"      --ref <ref>            its ref (branch, tag, commit; branch:, tag:, semver:,\n"   \
	"                             commit: prefixes; default: the default branch),\n"         \
	"      --path <path>          the path of its manifests in the repository,\n"            \
	"      --root <dir>           the host directory everything lives under (default /)\n"   \
	"      --name <name>          and its name (default: the repository's name)\n"

struct cli_apps {
	const char *file;
	const char *only;
	struct app_flags flags;
};

/* Takes an application option; returns true if opt was one. */
bool cli_app_option(struct cli_apps *a, int opt, const char *arg);
/* Loads the chosen applications into out (struct app *); EXIT_ERROR after printing why. */
int cli_load_apps(const char *command, struct cli_apps *a, struct vec *out);
/* Opens the store in the data directory; EXIT_ERROR after printing why. */
int cli_open_store(struct store **out);
/* Whether to colour output written to fd (a terminal, and NO_COLOR unset). */
bool cli_color(int fd);

struct engine_opts;
/* Syncs each application, printing results as sync does; returns the exit code. */
int cli_sync_apps(const char *command, struct store *store, struct vec *apps,
		  struct engine_opts *eopts, bool json, bool quiet, bool diffs);

/* "2026-01-02 03:04:05Z", or "-" for 0. */
void cli_format_time(int64_t when, char *out, size_t size);
/* A sync run as a JSON object. */
void cli_run_json(const struct store_run *run, struct buf *out);

int cmd_render(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif
