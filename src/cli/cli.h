/* cli — the command-line front end: one cmd_<name>.c per command, shared helpers here. */
#ifndef PLUMB_CLI_H
#define PLUMB_CLI_H

#include "core/core.h"

/* Exit codes of every command. */
enum {
	EXIT_OK = 0,    /* success; for diff: no difference */
	EXIT_DIFF = 1,  /* diff only: differences found */
	EXIT_ERROR = 2, /* any error */
};

/* Options every command accepts (long option values start at this number). */
enum {
	OPT_LOG_LEVEL = 1000,
	OPT_LOG_FORMAT,
	OPT_DATA_DIR,
	OPT_COMMON_END,
};

#define CLI_COMMON_OPTIONS \
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL}, \
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT}, \
	{"data-dir", required_argument, NULL, OPT_DATA_DIR}

#define CLI_COMMON_HELP \
	"Common options:\n" \
	"      --data-dir <dir>      state and Git caches (default: $PLUMB_DATA_DIR, else\n" \
	"                            /var/lib/plumb as root, else $XDG_STATE_HOME/plumb)\n" \
	"      --log-level <level>   debug, info, warn or error (default: info)\n" \
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

int cmd_render(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
