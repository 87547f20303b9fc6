/*
 * server — plumb serve's HTTP front: the JSON API under /api/v1/ (bearer
 * tokens, roles, audit), webhook receivers under /hooks/, /metrics, /healthz
 * and /readyz. libmicrohttpd, a thread per connection (the event stream holds
 * its connection open).
 */
#ifndef PLUMB_SERVER_H
#define PLUMB_SERVER_H

#include "core/core.h"
#include "engine/daemon.h"

struct server;

struct server_opts {
	const char *listen; /* "127.0.0.1:7420" */
	int listen_fd;	    /* a socket from server_listen, or -1 to bind listen here */
	struct daemon *daemon;
	struct metrics *metrics;
	const char *webhook_secret; /* NULL or "": hooks are refused unless insecure */
	bool webhook_insecure;	    /* accept unsigned hooks (tests, trusted networks) */
	size_t max_body;	    /* webhook and API body cap (default 1 MiB) */
};

/*
 * Binds and listens on "host:port" (an IPv4 address; "localhost"; port 0 for a
 * free one) before anything else starts, so that a bad or busy address changes
 * nothing. ERR_INVALID for a malformed address, ERR_IO naming it when it is in use.
 */
int server_listen(const char *listen, int *fd, struct error *err);
/* Starts serving (on opts->listen_fd, else binding opts->listen). */
int server_start(struct server **out, const struct server_opts *opts, struct error *err);
/* The port bound (useful with port 0). */
unsigned server_port(const struct server *s);
void server_stop(struct server *s);

#endif
