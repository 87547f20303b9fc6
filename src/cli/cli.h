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

/* ---- acting through a running plumb serve: --server URL (remote.c) ---- */

enum {
	OPT_SERVER = 1400,
	OPT_TOKEN_FILE,
};

/* clang-format off */
#define CLI_SERVER_OPTIONS \
	{"server", required_argument, NULL, OPT_SERVER}, \
	{"token-file", required_argument, NULL, OPT_TOKEN_FILE}
/* clang-format on */

#define CLI_SERVER_HELP                                                                        \
	"Through plumb serve:\n"                                                               \
	"      --server <url>         act through the API of a running 'plumb serve' (e.g.\n"  \
	"                             http://127.0.0.1:7420) instead of the local data\n"      \
	"                             directory; default: $PLUMB_SERVER, unless an option\n"   \
	"                             that only works locally is given\n"                      \
	"      --token-file <file>    the API's bearer token (default: $PLUMB_TOKEN; create\n" \
	"                             one with 'plumb token create')\n"

/* What a command was told about the server, and whether it was also given local options. */
struct cli_server {
	const char *url;	/* --server */
	const char *token_file; /* --token-file */
	const char *local;	/* the first option given that only works locally */
};

/* Takes --server and --token-file; returns true if opt was one. */
bool cli_server_option(struct cli_server *s, int opt, const char *arg);
/* Notes that an option that only works locally was given (name as written: "--repo"). */
void cli_server_local(struct cli_server *s, const char *option);

/* A connection to plumb serve's API; opened by cli_remote_open, freed with remote_free. */
struct remote;

struct remote_reply {
	long status;	 /* the HTTP status */
	struct buf body; /* the body, capped */
};

#define REMOTE_REPLY_INIT   \
	{                   \
		0, BUF_INIT \
	}

/*
 * Decides where a command acts. 0 with *out NULL: locally (no --server, and no
 * $PLUMB_SERVER or a local option given). 0 with *out set: through the server at
 * --server or $PLUMB_SERVER, with the token of --token-file or $PLUMB_TOKEN; the
 * caller frees it with remote_free. EXIT_ERROR after printing why: --server with a
 * local option, no token, an unreadable token file.
 */
int cli_remote_open(const char *command, struct cli_server *s, struct remote **out);
void remote_free(struct remote *r);
/* The server's base URL, without a trailing '/'. Borrowed. */
const char *remote_url(const struct remote *r);

/*
 * Performs METHOD on the API path (e.g. "/api/v1/apps"), with json_body (NULL for
 * none) and the bearer token, within the connect and total timeouts. 0 on a 2xx
 * reply, with status and body in *out (release it with remote_reply_release, also
 * on failure). Fails with ERR_NETWORK or ERR_TIMEOUT when the server cannot be
 * reached ("cannot reach plumb serve at URL: ..."), ERR_AUTH on 401 (a hint to set
 * PLUMB_TOKEN) and 403, ERR_NOTFOUND on 404, ERR_CONFLICT on 409, ERR_INVALID on
 * other 4xx and ERR_INTERNAL on 5xx, each with the server's {"error": ...} message.
 */
int remote_request(struct remote *r, const char *method, const char *path, const char *json_body,
		   struct remote_reply *out, struct error *err);
void remote_reply_release(struct remote_reply *reply);

struct node;
/* Parses a reply's JSON body into *out (nodes in arena); ERR_INVALID if it is not JSON. */
int remote_json(const struct remote_reply *reply, struct arena *arena, struct node **out,
		struct error *err);
/* remote_request GET, then remote_json: the reply's JSON in *out. */
int remote_get_json(struct remote *r, const char *path, struct remote_reply *reply,
		    struct arena *arena, struct node **out, struct error *err);
/* A string field of a JSON object, "" when absent or not a string. Borrowed. */
const char *remote_str(const struct node *map, const char *key);
/* An integer field of a JSON object, 0 when absent or not an integer. */
int64_t remote_int(const struct node *map, const char *key);

/*
 * POSTs body to /api/v1/apps/<app>/<action> (sync or rollback), waits up to
 * timeout_ms for the run it causes to finish (the daemon records it with trigger
 * "manual" or "rollback"), and prints its result as a local sync does (text or JSON).
 * Returns EXIT_OK if the run succeeded, else EXIT_ERROR after printing why.
 */
int remote_sync_wait(struct remote *r, const char *app, const char *action, const char *body,
		     uint64_t timeout_ms, bool json, bool quiet);

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
