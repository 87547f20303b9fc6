/*
 * The client of plumb serve's HTTP API (docs/api.md), for the commands given
 * --server: one function performs a request, a second reads the event stream
 * while a sync or rollback the server was asked for runs, and
 * remote_sync_wait() puts the two together.
 */
#include "cli.h"
#include "engine/app.h"
#include "yaml/yaml.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 120000L /* a diff fetches and renders on the server */
#define REPLY_MAX	   (64u * 1024 * 1024)
#define EVENTS_MAX	   (1024u * 1024)
#define TOKEN_MAX	   4096

struct remote {
	char *url;   /* without a trailing '/' */
	char *token; /* the bearer token */
	struct curl_slist *headers;
};

bool cli_server_option(struct cli_server *s, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SERVER:
		s->url = arg;
		return true;
	case OPT_TOKEN_FILE:
		s->token_file = arg;
		return true;
	default:
		return false;
	}
}

void cli_server_local(struct cli_server *s, const char *option)
{
	if (!s->local)
		s->local = option;
}

/* The token of --token-file or $PLUMB_TOKEN, trimmed; NULL (after printing why) if none. */
static char *read_token(const struct cli_server *s, const char *url)
{
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;
	const char *env = getenv("PLUMB_TOKEN");
	size_t start = 0, end;
	char *token = NULL;

	buf_init(&b, TOKEN_MAX);
	if (s->token_file) {
		if (buf_read_file(&b, s->token_file, &err) < 0) {
			error_prefix(&err, "cannot read the token file '%s'", s->token_file);
			cli_print_error(&err);
			goto out;
		}
	} else if (env) {
		buf_addstr(&b, env);
	}
	end = b.len;
	while (start < end && strchr(" \t\r\n", b.data[start]))
		start++;
	while (end > start && strchr(" \t\r\n", b.data[end - 1]))
		end--;
	if (start == end) {
		fprintf(stderr,
			"error: no API token for plumb serve at %s: set PLUMB_TOKEN (see 'plumb "
			"token create') or give --token-file <file>\n",
			url);
		goto out;
	}
	token = xasprintf("%.*s", (int)(end - start), b.data + start);
out:
	buf_release(&b);
	return token;
}

int cli_remote_open(const char *command, struct cli_server *s, struct remote **out)
{
	const char *url = s->url, *env = getenv("PLUMB_SERVER");
	struct remote *r;
	char *auth;
	size_t len;

	*out = NULL;
	if (s->url && s->local)
		return cli_usage_error(command,
				       "%s works on the local data directory; it cannot be used "
				       "with --server",
				       s->local);
	if (!url && env && *env && !s->local)
		url = env;
	if (!url) {
		if (s->token_file)
			return cli_usage_error(command, "--token-file goes with --server");
		return 0;
	}
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cli_usage_error(command,
				       "--server needs an http:// or https:// URL, not '%s'", url);
	r = xcalloc(1, sizeof(*r));
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	r->url = xasprintf("%.*s", (int)len, url);
	if (!(r->token = read_token(s, r->url))) {
		remote_free(r);
		return EXIT_ERROR;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("error: cannot initialise libcurl\n", stderr);
		free(r->token);
		free(r->url);
		free(r);
		return EXIT_ERROR;
	}
	auth = xasprintf("Authorization: Bearer %s", r->token);
	r->headers = curl_slist_append(r->headers, auth);
	r->headers = curl_slist_append(r->headers, "Accept: application/json");
	free(auth);
	if (!r->headers)
		die("out of memory");
	*out = r;
	return 0;
}

void remote_free(struct remote *r)
{
	if (!r)
		return;
	curl_slist_free_all(r->headers);
	if (r->headers || r->token)
		curl_global_cleanup();
	free(r->token);
	free(r->url);
	free(r);
}

const char *remote_url(const struct remote *r)
{
	return r->url;
}

void remote_reply_release(struct remote_reply *reply)
{
	buf_release(&reply->body);
	reply->status = 0;
}

/* ---- JSON ---- */

int remote_json(const struct remote_reply *reply, struct arena *arena, struct node **out,
		struct error *err)
{
	struct vec docs = VEC_INIT;
	int rc;

	*out = NULL;
	rc = yaml_parse(arena, "reply", reply->body.data ? reply->body.data : "", reply->body.len,
			NULL, &docs, err);
	if (rc == 0 && !docs.len)
		rc = error_set(err, ERR_INVALID, "the reply is empty");
	if (rc == 0)
		*out = ((struct yaml_doc *)docs.items[0])->root;
	else
		error_prefix(err, "plumb serve's reply is not the JSON expected");
	vec_release(&docs, NULL);
	return rc;
}

int remote_get_json(struct remote *r, const char *path, struct remote_reply *reply,
		    struct arena *arena, struct node **out, struct error *err)
{
	int rc = remote_request(r, "GET", path, NULL, reply, err);

	return rc < 0 ? rc : remote_json(reply, arena, out, err);
}

const char *remote_str(const struct node *map, const char *key)
{
	const struct node *v = map ? node_get(map, key) : NULL;
	const char *s = v ? node_string(v) : NULL;

	return s ? s : "";
}

int64_t remote_int(const struct node *map, const char *key)
{
	const struct node *v = map ? node_get(map, key) : NULL;

	return v && v->type == NODE_INT ? v->as.integer : 0;
}

/* ---- requests ---- */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct buf *body = ctx;

	return buf_add(body, data, size * n) < 0 ? 0 : size * n;
}

/* The error for a curl failure: the server could not be reached, or went away. */
static int transfer_error(const struct remote *r, CURLcode code, const char *detail,
			  struct error *err)
{
	const char *why = detail && *detail ? detail : curl_easy_strerror(code);

	if (code == CURLE_WRITE_ERROR)
		return error_set(err, ERR_TOOBIG,
				 "plumb serve at %s sent a reply that is too large", r->url);
	return error_set(err, code == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_NETWORK,
			 "cannot reach plumb serve at %s: %s", r->url, why);
}

/* The error for a reply that is not 2xx, with the server's message when it sent one. */
static int status_error(const struct remote *r, long status, const struct buf *body,
			struct error *err)
{
	struct remote_reply reply = {.status = status, .body = *body};
	struct arena arena = ARENA_INIT;
	struct error ignored = ERROR_INIT;
	struct node *root;
	const char *msg = "";
	int code;
	int rc;

	if (status == 401)
		return error_set(err, ERR_AUTH,
				 "the server refused the token: set PLUMB_TOKEN (see 'plumb token "
				 "create')");
	code = status == 403   ? ERR_AUTH
	       : status == 404 ? ERR_NOTFOUND
	       : status == 409 ? ERR_CONFLICT
	       : status < 500  ? ERR_INVALID
			       : ERR_INTERNAL;
	if (remote_json(&reply, &arena, &root, &ignored) == 0)
		msg = remote_str(root, "error");
	if (*msg)
		rc = error_set(err, code, "%s", msg);
	else
		rc = error_set(err, code, "plumb serve at %s answered HTTP %ld", r->url, status);
	arena_release(&arena);
	return rc;
}

/* A new easy handle for path, with the token, timeouts and the body written to body. */
static CURL *new_handle(struct remote *r, const char *path, struct buf *body, char *errbuf)
{
	CURL *curl = curl_easy_init();
	char *url;

	if (!curl)
		die("out of memory");
	url = xasprintf("%s%s", r->url, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	free(url); /* curl keeps its own copy */
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "plumb/" PLUMB_VERSION);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';
	return curl;
}

int remote_request(struct remote *r, const char *method, const char *path, const char *json_body,
		   struct remote_reply *out, struct error *err)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers = NULL;
	CURL *curl;
	CURLcode code;
	int rc = 0;

	buf_release(&out->body);
	buf_init(&out->body, REPLY_MAX);
	out->status = 0;
	curl = new_handle(r, path, &out->body, errbuf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (json_body) {
		for (const struct curl_slist *h = r->headers; h; h = h->next)
			headers = curl_slist_append(headers, h->data);
		headers = curl_slist_append(headers, "Content-Type: application/json");
		if (!headers)
			die("out of memory");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(json_body));
	}
	code = curl_easy_perform(curl);
	if (code != CURLE_OK) {
		rc = transfer_error(r, code, errbuf, err);
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
	if (out->status < 200 || out->status > 299)
		rc = status_error(r, out->status, &out->body, err);
out:
	log_debug("%s %s%s: %ld", method, r->url, path, out->status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return rc;
}

/* ---- the event stream (GET /api/v1/events, server-sent events) ---- */

struct events {
	struct remote *r;
	CURLM *multi;
	CURL *curl;
	struct buf data; /* received, from off on not read yet */
	size_t off;
	bool done;
	CURLcode result;
	char errbuf[CURL_ERROR_SIZE];
};

/* Moves the transfer on for up to wait_ms; notes when it has ended. */
static void events_pump(struct events *ev, int wait_ms)
{
	CURLMsg *msg;
	int running, left;

	if (ev->done)
		return;
	/* room for what comes: drop what was read */
	if (ev->off) {
		memmove(ev->data.data, ev->data.data + ev->off, ev->data.len - ev->off);
		buf_truncate(&ev->data, ev->data.len - ev->off);
		ev->off = 0;
	}
	curl_multi_perform(ev->multi, &running);
	if (running && wait_ms > 0) {
		curl_multi_poll(ev->multi, NULL, 0, wait_ms, NULL);
		curl_multi_perform(ev->multi, &running);
	}
	while ((msg = curl_multi_info_read(ev->multi, &left))) {
		if (msg->msg == CURLMSG_DONE) {
			ev->done = true;
			ev->result = msg->data.result;
		}
	}
}

static void events_close(struct events *ev)
{
	if (ev->multi) {
		curl_multi_remove_handle(ev->multi, ev->curl);
		curl_multi_cleanup(ev->multi);
	}
	if (ev->curl)
		curl_easy_cleanup(ev->curl);
	buf_release(&ev->data);
}

/* Subscribes to app's events; returns once the server has taken the subscription. */
static int events_open(struct events *ev, struct remote *r, const char *app, struct error *err)
{
	uint64_t deadline = time_monotonic_ms() + CONNECT_TIMEOUT_MS + 5000;
	char *path = xasprintf("/api/v1/events?app=%s", app);
	long status = 0;

	memset(ev, 0, sizeof(*ev));
	ev->r = r;
	buf_init(&ev->data, EVENTS_MAX);
	ev->curl = new_handle(r, path, &ev->data, ev->errbuf);
	free(path);
	if (!(ev->multi = curl_multi_init()))
		die("out of memory");
	curl_multi_add_handle(ev->multi, ev->curl);
	/* the server takes the subscription before it sends its first line */
	while (!ev->done && !ev->data.len && time_monotonic_ms() < deadline)
		events_pump(ev, 200);
	curl_easy_getinfo(ev->curl, CURLINFO_RESPONSE_CODE, &status);
	while (!ev->done && status != 200 && time_monotonic_ms() < deadline)
		events_pump(ev, 200); /* an error reply: read all of it */
	if (ev->done && ev->result != CURLE_OK)
		return transfer_error(r, ev->result, ev->errbuf, err);
	if (status != 200 && status)
		return status_error(r, status, &ev->data, err);
	if (!ev->data.len)
		return error_set(err, ERR_TIMEOUT,
				 "cannot reach plumb serve at %s: its event stream did not start",
				 r->url);
	return 0;
}

/*
 * The data of the next event into out: 1, or 0 when deadline (monotonic ms)
 * passed first; ERR_NETWORK if the stream ended.
 */
static int events_next(struct events *ev, uint64_t deadline, struct buf *out, struct error *err)
{
	for (;;) {
		char *start = ev->data.data ? ev->data.data + ev->off : NULL;
		char *end = start ? strstr(start, "\n\n") : NULL;

		if (end) {
			struct str rest = str_make(start, (size_t)(end - start)), line;

			ev->off += (size_t)(end - start) + 2;
			buf_reset(out);
			while (rest.len) {
				str_cut(rest, '\n', &line, &rest);
				if (str_has_prefix(line, "data: "))
					buf_add(out, line.ptr + 6, line.len - 6);
			}
			if (out->len)
				return 1;
			continue; /* a comment: the greeting or a keep-alive */
		}
		if (ev->done)
			return error_set(err, ERR_NETWORK,
					 "plumb serve at %s closed its event stream (was it "
					 "stopped?)",
					 ev->r->url);
		if (time_monotonic_ms() >= deadline)
			return 0;
		{
			uint64_t left = deadline - time_monotonic_ms();

			events_pump(ev, left > 1000 ? 1000 : (int)left);
		}
	}
}

/* ---- sync and rollback: ask, wait, report ---- */

static void print_duration(uint64_t ms, char *out, size_t size)
{
	if (ms % 60000 == 0)
		snprintf(out, size, "%llum", (unsigned long long)(ms / 60000));
	else
		snprintf(out, size, "%llus", (unsigned long long)((ms + 999) / 1000));
}

/*
 * Waits for the run that the request caused: a "sync-started" event with the
 * trigger, then its "sync-finished". A run that was already going when the
 * request came is not ours: its start was before the subscription.
 *
 * Why events and not polling GET /api/v1/apps/<app> for a newer lastRun: a sync
 * that fails before it begins a run (an invalid manifest, a failed fetch) leaves
 * lastRun as it was, and a second identical failure changes nothing else in the
 * application's state either; only the event says that it finished.
 */
static int wait_finished(struct events *ev, const char *app, const char *trigger,
			 uint64_t timeout_ms, int64_t *run_id, char **result, struct error *err)
{
	uint64_t deadline = time_monotonic_ms() + timeout_ms;
	struct buf data = BUF_INIT;
	bool started = false;
	int rc;

	while ((rc = events_next(ev, deadline, &data, err)) == 1) {
		struct arena arena = ARENA_INIT;
		struct remote_reply reply = {.body = data};
		struct error ignored = ERROR_INIT;
		struct node *e;

		if (remote_json(&reply, &arena, &e, &ignored) == 0 &&
		    strcmp(remote_str(e, "app"), app) == 0 &&
		    strcmp(remote_str(e, "trigger"), trigger) == 0) {
			if (strcmp(remote_str(e, "type"), "sync-started") == 0) {
				started = true;
			} else if (started && strcmp(remote_str(e, "type"), "sync-finished") == 0) {
				*run_id = remote_int(e, "run");
				*result = xstrdup(remote_str(e, "result"));
				arena_release(&arena);
				break;
			}
		}
		arena_release(&arena);
	}
	buf_release(&data);
	if (rc == 0) {
		char limit[32];

		print_duration(timeout_ms, limit, sizeof(limit));
		return error_set(err, ERR_TIMEOUT,
				 "the %s of '%s' did not finish within %s; it goes on in plumb "
				 "serve: see 'plumb status --server %s %s'",
				 strcmp(trigger, "rollback") == 0 ? "rollback" : "sync", app, limit,
				 ev->r->url, app);
	}
	return rc < 0 ? rc : 0;
}

static const char *action_symbol(const char *action)
{
	if (strcmp(action, "create") == 0)
		return "+";
	if (strcmp(action, "update") == 0)
		return "~";
	if (strcmp(action, "delete") == 0)
		return "-";
	return " ";
}

/* What the run did, as the local sync prints it. */
static void print_run(struct buf *out, const char *app, const char *action, const char *repo,
		      const struct node *details, bool quiet)
{
	const struct node *run = node_get(details, "run");
	const struct node *objects = node_get(details, "objects");

	if (!quiet) {
		buf_addf(out, "%s: %s at %.12s", app, repo, remote_str(run, "revision"));
		if (*remote_str(run, "ref"))
			buf_addf(out, " (%s)", remote_str(run, "ref"));
		buf_addf(out, ": \"%s\" by %s\n", remote_str(run, "message"),
			 remote_str(run, "author"));
	}
	for (size_t i = 0; !quiet && objects && objects->type == NODE_SEQ && i < objects->count;
	     i++) {
		const struct node *o = objects->items[i];
		const char *what = remote_str(o, "action");

		if (strcmp(what, "unchanged") == 0)
			continue;
		buf_addf(out, "%s %-9s %-28s %s", action_symbol(what), what,
			 remote_str(o, "display"), remote_str(o, "path"));
		if (strcmp(remote_str(o, "result"), "ok") != 0 && *remote_str(o, "result"))
			buf_addf(out, "  (%s%s%s)", remote_str(o, "result"),
				 *remote_str(o, "message") ? ": " : "", remote_str(o, "message"));
		buf_addch(out, '\n');
	}
	if (strcmp(remote_str(run, "result"), "succeeded") == 0)
		buf_addf(out,
			 "%s: %s %lld succeeded: %lld created, %lld updated, %lld deleted, %lld "
			 "unchanged\n",
			 app, action, (long long)remote_int(run, "id"),
			 (long long)remote_int(run, "created"),
			 (long long)remote_int(run, "updated"),
			 (long long)remote_int(run, "deleted"),
			 (long long)remote_int(run, "unchanged"));
}

int remote_sync_wait(struct remote *r, const char *app, const char *action, const char *body,
		     uint64_t timeout_ms, bool json, bool quiet)
{
	const char *trigger = strcmp(action, "rollback") == 0 ? "rollback" : "manual";
	struct remote_reply reply = REMOTE_REPLY_INIT, details = REMOTE_REPLY_INIT;
	struct error err = ERROR_INIT;
	struct arena arena = ARENA_INIT;
	struct events ev;
	struct buf out = BUF_INIT;
	struct node *state = NULL, *run_details = NULL;
	char *path = NULL, *result = NULL;
	const char *message = "";
	int64_t run_id = 0;
	int rc;

	/* subscribe first: the run may finish before the POST's reply is read */
	if ((rc = events_open(&ev, r, app, &err)) < 0)
		goto fail;
	path = xasprintf("/api/v1/apps/%s/%s", app, action);
	if ((rc = remote_request(r, "POST", path, body, &reply, &err)) < 0)
		goto fail;
	if (!quiet && !json)
		fprintf(stderr, "%s: %s requested from %s; waiting for it to finish\n", app, action,
			r->url);
	if ((rc = wait_finished(&ev, app, trigger, timeout_ms, &run_id, &result, &err)) < 0)
		goto fail;
	/* the application's state has the error of a sync that failed before it began a run */
	free(path);
	path = xasprintf("/api/v1/apps/%s", app);
	if ((rc = remote_request(r, "GET", path, NULL, &reply, &err)) < 0 ||
	    (rc = remote_json(&reply, &arena, &state, &err)) < 0)
		goto fail;
	state = node_get(state, "app");
	if (run_id) {
		free(path);
		path = xasprintf("/api/v1/apps/%s/runs/%lld", app, (long long)run_id);
		if ((rc = remote_request(r, "GET", path, NULL, &details, &err)) < 0 ||
		    (rc = remote_json(&details, &arena, &run_details, &err)) < 0)
			goto fail;
		message = remote_str(node_get(run_details, "run"), "error");
	}
	if (strcmp(result, "succeeded") != 0 && !*message)
		message = remote_str(state, "lastError");
	if (strcmp(result, "succeeded") != 0 && !*message)
		message = result;
	if (json) {
		buf_addstr(&out, "[{\"app\":");
		buf_add_json_string(&out, app, strlen(app));
		buf_addf(&out, ",\"run\":%lld,\"result\":", (long long)run_id);
		buf_add_json_string(&out, result, strlen(result));
		buf_addstr(&out, ",\"error\":");
		buf_add_json_string(&out, strcmp(result, "succeeded") ? message : "",
				    strcmp(result, "succeeded") ? strlen(message) : 0);
		buf_addstr(&out, ",\"details\":");
		if (run_details)
			buf_add(&out, details.body.data, details.body.len);
		else
			buf_addstr(&out, "null");
		buf_addstr(&out, "}]\n");
	} else if (run_details) {
		print_run(&out, app, action, remote_str(state, "repoURL"), run_details, quiet);
	}
	if (cli_write_stdout(&out) != EXIT_OK)
		rc = EXIT_ERROR;
	else if (strcmp(result, "succeeded") == 0)
		rc = EXIT_OK;
	else {
		/* the message names the application, as a local sync's does */
		error_set(&err, ERR_INTERNAL, "%s", message);
		cli_print_error(&err);
		if (run_id && !json)
			fprintf(stderr,
				"%lld of the plan's changes were applied before the failure; see "
				"'plumb history --server %s %s'\n",
				(long long)(remote_int(node_get(run_details, "run"), "created") +
					    remote_int(node_get(run_details, "run"), "updated") +
					    remote_int(node_get(run_details, "run"), "deleted")),
				r->url, app);
		rc = EXIT_ERROR;
	}
	goto out;
fail:
	cli_print_error(&err);
	rc = EXIT_ERROR;
out:
	events_close(&ev);
	arena_release(&arena);
	buf_release(&out);
	remote_reply_release(&reply);
	remote_reply_release(&details);
	free(result);
	free(path);
	return rc;
}
