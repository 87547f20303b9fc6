/* plumb serve: the daemon — reconcile loop, drift watch, HTTP API, webhooks, metrics. */
#include "cli.h"
#include "engine/daemon.h"
#include "engine/engine.h"
#include "server/auth.h"
#include "server/server.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char serve_help[] =
	"usage: plumb serve --config <file|dir> [--listen <addr:port>] [options]\n"
	"\n"
	"Runs plumb as a daemon. Every Application of the config (a YAML file, or every\n"
	"*.yaml / *.yml file of a directory) is polled at its spec.source.interval and,\n"
	"when its syncPolicy is automated, synced whenever its revision changes. Failed\n"
	"syncs are retried as spec.syncPolicy.retry says. Managed host paths are watched\n"
	"(inotify) and verified every --verify-interval; Kubernetes applications are\n"
	"compared with the cluster (a server-side dry run) every --verify-interval, and\n"
	"every 10 s while they are Progressing. A change made by hand is put back\n"
	"(selfHeal: true) or reported as OutOfSync (selfHeal: false).\n"
	"\n"
	"HTTP on --listen: the JSON API under /api/v1/ (bearer tokens, see 'plumb token'),\n"
	"webhooks under /hooks/github, /hooks/gitlab, /hooks/bitbucket and /hooks/generic,\n"
	"Prometheus metrics at /metrics, /healthz and /readyz. On the first start, when\n"
	"no token exists, an admin token is written to <data-dir>/admin-token (mode 0600).\n"
	"\n"
	"Signals: SIGHUP reloads the config; SIGTERM or SIGINT stops (a sync in progress\n"
	"finishes the object it is writing and is recorded as interrupted).\n"
	"\n"
	"Options:\n"
	"  -c, --config <file|dir>        the Applications to serve (required)\n"
	"      --listen <addr:port>       where to serve HTTP (default 127.0.0.1:7420;\n"
	"                                 port 0 picks a free one, logged at start)\n"
	"      --workers <n>              applications reconciled at once (default 4)\n"
	"      --verify-interval <dur>    full drift verify of each application (default 5m)\n"
	"      --webhook-secret-file <f>  the shared secret webhooks are signed with\n"
	"                                 (also $PLUMB_WEBHOOK_SECRET)\n"
	"      --webhook-insecure         accept webhooks without a signature (trusted\n"
	"                                 networks only)\n"
	"\n" CLI_COMMON_HELP "\n"
	"Examples:\n"
	"  plumb serve --config /etc/plumb/apps.yaml\n"
	"  plumb serve -c apps/ --listen 127.0.0.1:7420 --webhook-secret-file /etc/plumb/hook\n";

enum {
	OPT_LISTEN = OPT_COMMON_END,
	OPT_WORKERS,
	OPT_VERIFY,
	OPT_SECRET_FILE,
	OPT_INSECURE,
};

static int read_secret(const char *file, char **out)
{
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;

	buf_init(&b, 4096);
	if (buf_read_file(&b, file, &err) < 0) {
		cli_print_error(&err);
		buf_release(&b);
		return EXIT_ERROR;
	}
	size_t len = b.len;

	while (len && (b.data[len - 1] == '\n' || b.data[len - 1] == '\r'))
		len--;
	buf_truncate(&b, len);
	if (!b.len) {
		fprintf(stderr, "error: the webhook secret file '%s' is empty\n", file);
		buf_release(&b);
		return EXIT_ERROR;
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"config", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"verify-interval", required_argument, NULL, OPT_VERIFY},
		{"webhook-secret-file", required_argument, NULL, OPT_SECRET_FILE},
		{"webhook-insecure", no_argument, NULL, OPT_INSECURE},
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct daemon_opts dopts = {0};
	struct server_opts sopts = {.listen = "127.0.0.1:7420", .listen_fd = -1};
	struct daemon *d = NULL;
	struct server *srv = NULL;
	struct metrics *metrics = metrics_new();
	struct error err = ERROR_INIT;
	char *secret = NULL, *admin_path = NULL;
	sigset_t set;
	int opt, rc = EXIT_OK;

	while ((opt = getopt_long(argc, argv, "hc:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(serve_help, stdout);
			goto out;
		case 'c':
			dopts.config = optarg;
			break;
		case OPT_LISTEN:
			sopts.listen = optarg;
			break;
		case OPT_WORKERS:
			dopts.workers = (unsigned)strtoul(optarg, NULL, 10);
			if (dopts.workers == 0 || dopts.workers > 256) {
				rc = cli_usage_error("serve", "--workers takes 1 to 256");
				goto out;
			}
			break;
		case OPT_VERIFY:
			if (parse_duration(optarg, &dopts.verify_interval_ms) < 0 ||
			    !dopts.verify_interval_ms) {
				rc = cli_usage_error("serve",
						     "--verify-interval '%s': give a "
						     "duration such as 30s or 5m",
						     optarg);
				goto out;
			}
			break;
		case OPT_SECRET_FILE:
			free(secret);
			secret = NULL;
			if ((rc = read_secret(optarg, &secret)))
				goto out;
			break;
		case OPT_INSECURE:
			sopts.webhook_insecure = true;
			break;
		case '?':
			rc = cli_usage_error("serve", "bad option");
			goto out;
		default:
			if ((rc = cli_common_option(opt, optarg)))
				goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!dopts.config) {
		rc = cli_usage_error("serve", "give the Applications to serve with --config");
		goto out;
	}
	if (!secret && getenv("PLUMB_WEBHOOK_SECRET") && *getenv("PLUMB_WEBHOOK_SECRET"))
		secret = xstrdup(getenv("PLUMB_WEBHOOK_SECRET"));

	/* signals are taken by sigwait below, in this thread only */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* the address first: a bad or busy one must stop plumb before it syncs anything */
	if (server_listen(sopts.listen, &sopts.listen_fd, &err) < 0)
		goto fail;
	dopts.data_dir = cli_data_dir();
	dopts.metrics = metrics;
	if (daemon_start(&d, &dopts, &err) < 0)
		goto fail;
	{
		struct store *store;

		if (engine_open_store(dopts.data_dir, &store, &err) < 0)
			goto fail;
		rc = auth_ensure_admin(store, dopts.data_dir, &admin_path, &err);
		store_close(store);
		if (rc < 0)
			goto fail;
	}
	sopts.daemon = d;
	sopts.metrics = metrics;
	sopts.webhook_secret = secret;
	if (server_start(&srv, &sopts, &err) < 0)
		goto fail;
	log_info("listening on http://%.*s:%u (API /api/v1, webhooks /hooks, metrics /metrics)",
		 (int)(strrchr(sopts.listen, ':') - sopts.listen), sopts.listen, server_port(srv));
	if (admin_path)
		log_info("created the first API token (admin): it is in %s", admin_path);
	if (!secret && !sopts.webhook_insecure)
		log_warn("no webhook secret (--webhook-secret-file): webhooks are refused");
	for (;;) {
		int sig = 0;

		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (daemon_reload(d, &err) < 0) {
				log_error("config not reloaded, the running one is kept: %s",
					  err.msg);
				error_clear(&err);
			}
			continue;
		}
		log_info("stopping (%s)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	/* the daemon first: event streams end, so the server's threads can */
	daemon_stop(d);
	server_stop(srv);
	daemon_free(d);
	log_info("stopped");
	rc = EXIT_OK;
	goto out;
fail:
	cli_print_error(&err);
	rc = EXIT_ERROR;
	if (!srv && sopts.listen_fd >= 0)
		close(sopts.listen_fd);
	daemon_stop(d);
	server_stop(srv);
	daemon_free(d);
out:
	metrics_free(metrics);
	free(secret);
	free(admin_path);
	return rc;
}
