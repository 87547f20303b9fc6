/*
 * The HTTP front of plumb serve (see server.h and docs/api.md): routing,
 * bearer-token authentication with roles and application scopes, the audit
 * log of mutating calls, webhook receivers, the event stream, metrics and
 * health endpoints.
 */
#include "server/server.h"

#include "server/auth.h"
#include "server/hooks.h"
#include "source/source.h"
#include "yaml/yaml.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX_DEFAULT (1024 * 1024)
#define SSE_WAIT_MS	 15000

struct server {
	struct server_opts opts;
	struct MHD_Daemon *mhd;
	unsigned port;
	struct metric *m_api;
	struct metric *m_hooks;
};

/* One request, across libmicrohttpd's calls for its body. */
struct request {
	struct buf body;
	bool too_big;
};

/* Who is calling, once the bearer token is checked. */
struct caller {
	bool authenticated;
	char *name;
	enum role role;
	char *apps;
};

struct reply {
	unsigned status;
	struct buf body;
	const char *content_type;
	const char *www_authenticate;
};

/* ---- replies ---- */

static void reply_json(struct reply *r, unsigned status, const char *json)
{
	r->status = status;
	r->content_type = "application/json";
	buf_reset(&r->body);
	buf_addstr(&r->body, json);
}

static void reply_error(struct reply *r, unsigned status, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void reply_error(struct reply *r, unsigned status, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	r->status = status;
	r->content_type = "application/json";
	buf_reset(&r->body);
	buf_addstr(&r->body, "{\"error\":");
	buf_add_json_string(&r->body, msg.data ? msg.data : "", msg.len);
	buf_addstr(&r->body, "}\n");
	buf_release(&msg);
}

static unsigned status_for(int code)
{
	switch (code) {
	case ERR_INVALID:
		return MHD_HTTP_BAD_REQUEST;
	case ERR_NOTFOUND:
		return MHD_HTTP_NOT_FOUND;
	case ERR_CONFLICT:
		return MHD_HTTP_CONFLICT;
	case ERR_AUTH:
		return MHD_HTTP_UNAUTHORIZED;
	case ERR_TOOBIG:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	case ERR_NETWORK:
	case ERR_TIMEOUT:
		return MHD_HTTP_BAD_GATEWAY;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static void reply_err(struct reply *r, const struct error *err)
{
	reply_error(r, status_for(err->code), "%s", err->msg);
}

/* ---- authentication ---- */

struct token_lookup {
	const char *hash;
	struct store_token token;
};

static int lookup_token(struct store *store, void *ctx, struct error *err)
{
	struct token_lookup *l = ctx;
	int rc = store_token_find(store, l->hash, &l->token, err);
	int64_t now = time(NULL);

	/* the last use to the minute: not a database write on every request */
	if (rc == 0 && now - l->token.last_used >= 60)
		store_token_touch(store, l->token.name, now, NULL);
	return rc;
}

static void caller_release(struct caller *c)
{
	free(c->name);
	free(c->apps);
}

/* Reads "Authorization: Bearer <token>"; c->authenticated when it names a token. */
static void authenticate(struct server *s, struct MHD_Connection *conn, struct caller *c)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	char hash[SHA256_HEX_LEN + 1];
	struct token_lookup l = {.hash = hash};
	struct error err = ERROR_INIT;

	memset(c, 0, sizeof(*c));
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return;
	h += 7;
	while (*h == ' ')
		h++;
	auth_token_hash(h, hash);
	if (daemon_with_store(s->opts.daemon, lookup_token, &l, &err) < 0)
		return;
	c->authenticated = true;
	c->name = l.token.name;
	c->role = role_parse(l.token.role);
	c->apps = l.token.apps;
	l.token.name = l.token.apps = NULL;
	store_token_release(&l.token);
}

/* Is the caller allowed? Sets the 401/403 reply when not. app NULL: not about one app. */
static bool authorize(const struct caller *c, enum role need, const char *app, struct reply *r)
{
	if (!c->authenticated) {
		reply_error(r, MHD_HTTP_UNAUTHORIZED,
			    "a bearer token is required (Authorization: Bearer <token>); create "
			    "one with 'plumb token create'");
		r->www_authenticate = "Bearer realm=\"plumb\"";
		return false;
	}
	if (c->role < need) {
		reply_error(r, MHD_HTTP_FORBIDDEN, "token '%s' has role %s; this needs %s", c->name,
			    role_name(c->role), role_name(need));
		return false;
	}
	if (app && !auth_scope_allows(c->apps, app)) {
		reply_error(r, MHD_HTTP_FORBIDDEN, "token '%s' is not allowed application '%s'",
			    c->name, app);
		return false;
	}
	return true;
}

static bool caller_sees(void *ctx, const char *app)
{
	const struct caller *c = ctx;

	return auth_scope_allows(c->apps, app);
}

/* ---- audit ---- */

struct audit_ctx {
	struct store_audit entry;
};

static int write_audit(struct store *store, void *ctx, struct error *err)
{
	return store_audit_add(store, &((struct audit_ctx *)ctx)->entry, err);
}

static void audit(struct server *s, const struct caller *c, const char *action, const char *app,
		  const char *detail, unsigned status)
{
	struct audit_ctx a = {.entry = {.actor = c->authenticated ? c->name : (char *)"-",
					.action = (char *)action,
					.app = (char *)(app ? app : ""),
					.detail = (char *)(detail ? detail : ""),
					.status = (int)status}};
	struct error err = ERROR_INIT;

	if (daemon_with_store(s->opts.daemon, write_audit, &a, &err) < 0)
		log_error("cannot record the audit entry for %s by %s: %s", action, a.entry.actor,
			  err.msg);
}

/* ---- request bodies ---- */

/* The JSON body's string field, NULL when absent; false (reply set) when the body is bad. */
static bool body_field(struct request *req, const char *field, const char **value,
		       struct arena *arena, struct reply *r)
{
	struct vec docs = VEC_INIT;
	struct error err = ERROR_INIT;
	const struct node *root, *v;
	bool ok = true;

	*value = NULL;
	if (req->too_big) {
		reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than %zu bytes",
			    req->body.max);
		return false;
	}
	if (req->body.len == 0)
		return true;
	if (yaml_parse(arena, "request.json", req->body.data, req->body.len, NULL, &docs, &err) <
	    0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "the body is not JSON: %s", err.msg);
		ok = false;
	} else if (docs.len) {
		root = ((struct yaml_doc *)docs.items[0])->root;
		if (root->type != NODE_MAP) {
			reply_error(r, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
			ok = false;
		} else if ((v = node_get(root, field)) && v->type != NODE_NULL) {
			if (!(*value = node_string(v))) {
				reply_error(r, MHD_HTTP_BAD_REQUEST, "'%s' must be a string",
					    field);
				ok = false;
			}
		}
	}
	vec_release(&docs, NULL);
	return ok;
}

/* ---- routes ---- */

struct route_ctx {
	struct server *s;
	struct MHD_Connection *conn;
	const char *method;
	struct request *req;
	struct caller *caller;
	struct reply *r;
	const char *route; /* the pattern, for metrics */
};

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static void method_not_allowed(struct route_ctx *x, const char *allowed)
{
	reply_error(x->r, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed here; use %s", x->method,
		    allowed);
}

static void api_apps(struct route_ctx *x)
{
	x->route = "/api/v1/apps";
	if (!is(x->method, "GET"))
		return method_not_allowed(x, "GET");
	if (!authorize(x->caller, ROLE_VIEWER, NULL, x->r))
		return;
	x->r->status = MHD_HTTP_OK;
	x->r->content_type = "application/json";
	daemon_apps_json(x->s->opts.daemon, caller_sees, x->caller, &x->r->body);
}

/* POST /api/v1/apps/{app}/{sync|rollback|suspend|resume} */
static void api_app_action(struct route_ctx *x, const char *app, const char *action)
{
	struct daemon *d = x->s->opts.daemon;
	struct error err = ERROR_INIT;
	struct arena arena = ARENA_INIT;
	const char *arg = NULL;
	int rc = 0;

	if (!is(x->method, "POST")) {
		method_not_allowed(x, "POST");
		goto out;
	}
	if (!authorize(x->caller, ROLE_OPERATOR, app, x->r))
		goto audit;
	if (!daemon_app_exists(d, app)) {
		reply_error(x->r, MHD_HTTP_NOT_FOUND, "no application named '%s'", app);
		goto audit;
	}
	if (is(action, "sync")) {
		if (!body_field(x->req, "revision", &arg, &arena, x->r))
			goto audit;
		rc = daemon_sync(d, app, arg, "manual", x->caller->name, &err);
	} else if (is(action, "rollback")) {
		if (!body_field(x->req, "to", &arg, &arena, x->r))
			goto audit;
		if (!arg) {
			reply_error(
				x->r, MHD_HTTP_BAD_REQUEST,
				"say where to go back to: {\"to\": \"<run id or commit SHA>\"}");
			goto audit;
		}
		rc = daemon_rollback(d, app, arg, x->caller->name, &err);
	} else {
		if (!body_field(x->req, "reason", &arg, &arena, x->r))
			goto audit;
		rc = daemon_set_suspended(d, app, is(action, "suspend"), x->caller->name, &err);
	}
	if (rc < 0) {
		reply_err(x->r, &err);
	} else {
		struct buf b = BUF_INIT;

		buf_addstr(&b, "{\"app\":");
		buf_add_json_string(&b, app, strlen(app));
		buf_addf(&b, ",\"action\":\"%s\",\"accepted\":true}\n", action);
		reply_json(x->r,
			   is(action, "sync") || is(action, "rollback") ? MHD_HTTP_ACCEPTED
									: MHD_HTTP_OK,
			   b.data);
		buf_release(&b);
	}
audit:
	audit(x->s, x->caller, action, app, arg, x->r->status);
out:
	arena_release(&arena);
}

static void api_app(struct route_ctx *x, const char *app, const char *sub, const char *rest)
{
	struct daemon *d = x->s->opts.daemon;
	struct error err = ERROR_INIT;
	int rc;

	if (sub &&
	    (is(sub, "sync") || is(sub, "rollback") || is(sub, "suspend") || is(sub, "resume")) &&
	    !rest) {
		x->route = is(sub, "sync")	 ? "/api/v1/apps/{app}/sync"
			   : is(sub, "rollback") ? "/api/v1/apps/{app}/rollback"
			   : is(sub, "suspend")	 ? "/api/v1/apps/{app}/suspend"
						 : "/api/v1/apps/{app}/resume";
		return api_app_action(x, app, sub);
	}
	if (!sub)
		x->route = "/api/v1/apps/{app}";
	else if (is(sub, "history") && !rest)
		x->route = "/api/v1/apps/{app}/history";
	else if (is(sub, "diff") && !rest)
		x->route = "/api/v1/apps/{app}/diff";
	else if (is(sub, "runs") && rest)
		x->route = "/api/v1/apps/{app}/runs/{id}";
	else
		return reply_error(x->r, MHD_HTTP_NOT_FOUND, "no such API route");
	if (!is(x->method, "GET"))
		return method_not_allowed(x, "GET");
	if (!authorize(x->caller, ROLE_VIEWER, app, x->r))
		return;
	x->r->content_type = "application/json";
	if (!sub) {
		rc = daemon_app_json(d, app, &x->r->body, &err);
	} else if (is(sub, "history")) {
		const char *limit =
			MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, "limit");

		rc = daemon_history_json(d, app, limit ? strtoul(limit, NULL, 10) : 0, &x->r->body,
					 &err);
	} else if (is(sub, "diff")) {
		rc = daemon_app_exists(d, app)
			     ? daemon_diff_json(d, app, &x->r->body, &err)
			     : error_set(&err, ERR_NOTFOUND, "no application named '%s'", app);
	} else {
		rc = daemon_run_json(d, app, strtoll(rest, NULL, 10), &x->r->body, &err);
	}
	if (rc < 0)
		reply_err(x->r, &err);
	else
		x->r->status = MHD_HTTP_OK;
}

/* ---- tokens and audit (admin) ---- */

static int list_tokens(struct store *store, void *ctx, struct error *err)
{
	struct buf *out = ctx;
	struct vec tokens = VEC_INIT;
	const struct store_token *t;
	size_t i;
	int rc = store_token_list(store, &tokens, err);

	if (rc < 0)
		return rc;
	buf_addch(out, '[');
	vec_foreach (&tokens, i, t) {
		if (i)
			buf_addch(out, ',');
		buf_addstr(out, "{\"name\":");
		buf_add_json_string(out, t->name, strlen(t->name));
		buf_addf(out, ",\"role\":\"%s\",\"apps\":", t->role);
		buf_add_json_string(out, t->apps, strlen(t->apps));
		buf_addf(out, ",\"created\":%lld,\"lastUsed\":%lld}", (long long)t->created,
			 (long long)t->last_used);
	}
	buf_addch(out, ']');
	vec_release(&tokens, store_token_free);
	return 0;
}

struct token_create {
	const char *name;
	const char *role;
	const char *apps;
	char *token;
};

static int create_token(struct store *store, void *ctx, struct error *err)
{
	struct token_create *t = ctx;

	return auth_token_create(store, t->name, role_parse(t->role), t->apps ? t->apps : "*",
				 &t->token, err);
}

static int delete_token(struct store *store, void *ctx, struct error *err)
{
	return store_token_delete(store, ctx, err);
}

static void api_tokens(struct route_ctx *x, const char *name)
{
	struct error err = ERROR_INIT;
	struct arena arena = ARENA_INIT;
	int rc;

	x->route = name ? "/api/v1/tokens/{name}" : "/api/v1/tokens";
	if (!name && is(x->method, "GET")) {
		if (!authorize(x->caller, ROLE_ADMIN, NULL, x->r))
			return;
		x->r->content_type = "application/json";
		rc = daemon_with_store(x->s->opts.daemon, list_tokens, &x->r->body, &err);
		if (rc < 0)
			reply_err(x->r, &err);
		else
			x->r->status = MHD_HTTP_OK;
		return;
	}
	if (!name && is(x->method, "POST")) {
		struct token_create t = {0};

		if (authorize(x->caller, ROLE_ADMIN, NULL, x->r) &&
		    body_field(x->req, "name", &t.name, &arena, x->r) &&
		    body_field(x->req, "role", &t.role, &arena, x->r) &&
		    body_field(x->req, "apps", &t.apps, &arena, x->r)) {
			if (!t.name || !t.role) {
				reply_error(
					x->r, MHD_HTTP_BAD_REQUEST,
					"give {\"name\": ..., \"role\": \"viewer|operator|admin\", "
					"\"apps\": \"glob,...\"}");
			} else if (daemon_with_store(x->s->opts.daemon, create_token, &t, &err) <
				   0) {
				reply_err(x->r, &err);
			} else {
				struct buf b = BUF_INIT;

				buf_addstr(&b, "{\"name\":");
				buf_add_json_string(&b, t.name, strlen(t.name));
				buf_addstr(&b, ",\"token\":");
				buf_add_json_string(&b, t.token, strlen(t.token));
				buf_addstr(&b, "}\n");
				reply_json(x->r, MHD_HTTP_CREATED, b.data);
				buf_release(&b);
			}
		}
		audit(x->s, x->caller, "token.create", NULL, t.name, x->r->status);
		free(t.token);
		arena_release(&arena);
		return;
	}
	if (name && is(x->method, "DELETE")) {
		if (authorize(x->caller, ROLE_ADMIN, NULL, x->r)) {
			if (daemon_with_store(x->s->opts.daemon, delete_token, (void *)name, &err) <
			    0)
				reply_err(x->r, &err);
			else
				reply_json(x->r, MHD_HTTP_OK, "{\"revoked\":true}\n");
		}
		audit(x->s, x->caller, "token.revoke", NULL, name, x->r->status);
		return;
	}
	method_not_allowed(x, name ? "DELETE" : "GET or POST");
}

static int list_audit(struct store *store, void *ctx, struct error *err)
{
	struct buf *out = ctx;
	struct vec entries = VEC_INIT;
	const struct store_audit *a;
	size_t i;
	int rc = store_audit_list(store, 500, &entries, err);

	if (rc < 0)
		return rc;
	buf_addch(out, '[');
	vec_foreach (&entries, i, a) {
		if (i)
			buf_addch(out, ',');
		buf_addf(out, "{\"id\":%lld,\"time\":%lld,\"actor\":", (long long)a->id,
			 (long long)a->time);
		buf_add_json_string(out, a->actor, strlen(a->actor));
		buf_addstr(out, ",\"action\":");
		buf_add_json_string(out, a->action, strlen(a->action));
		buf_addstr(out, ",\"app\":");
		buf_add_json_string(out, a->app, strlen(a->app));
		buf_addstr(out, ",\"detail\":");
		buf_add_json_string(out, a->detail, strlen(a->detail));
		buf_addf(out, ",\"status\":%d}", a->status);
	}
	buf_addch(out, ']');
	vec_release(&entries, store_audit_free);
	return 0;
}

static void api_audit(struct route_ctx *x)
{
	struct error err = ERROR_INIT;

	x->route = "/api/v1/audit";
	if (!is(x->method, "GET"))
		return method_not_allowed(x, "GET");
	if (!authorize(x->caller, ROLE_ADMIN, NULL, x->r))
		return;
	x->r->content_type = "application/json";
	if (daemon_with_store(x->s->opts.daemon, list_audit, &x->r->body, &err) < 0)
		reply_err(x->r, &err);
	else
		x->r->status = MHD_HTTP_OK;
}

/* ---- webhooks ---- */

static const char *hook_header(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static void count_hook(struct server *s, const char *provider, const char *result)
{
	const char *labels[] = {provider, result};

	if (s->m_hooks)
		metric_add(s->m_hooks, labels, 1);
}

static void hook(struct route_ctx *x, const char *provider_name)
{
	struct server *s = x->s;
	int provider = hook_provider_parse(provider_name);
	struct hook_request hr = {.header = hook_header, .ctx = x->conn};
	struct hook_event ev = {0};
	struct error err = ERROR_INIT;
	unsigned queued = 0;
	const char *url;
	size_t i;

	x->route = "/hooks/{provider}";
	if (provider < 0)
		return reply_error(x->r, MHD_HTTP_NOT_FOUND,
				   "no webhook receiver '%s' (github, gitlab, bitbucket, generic)",
				   provider_name);
	if (!is(x->method, "POST"))
		return method_not_allowed(x, "POST");
	if (x->req->too_big) {
		count_hook(s, provider_name, "too_large");
		return reply_error(x->r, MHD_HTTP_CONTENT_TOO_LARGE,
				   "the payload is larger than %zu bytes", s->opts.max_body);
	}
	hr.provider = (enum hook_provider)provider;
	hr.body = x->req->body.data ? x->req->body.data : "";
	hr.len = x->req->body.len;
	if (!s->opts.webhook_insecure) {
		if (!s->opts.webhook_secret || !*s->opts.webhook_secret) {
			count_hook(s, provider_name, "no_secret");
			return reply_error(
				x->r, MHD_HTTP_FORBIDDEN,
				"no webhook secret is configured: start plumb serve with "
				"--webhook-secret-file");
		}
		if (hook_verify(&hr, s->opts.webhook_secret, &err) < 0) {
			count_hook(s, provider_name, "bad_signature");
			log_warn("webhook %s refused: %s", provider_name, err.msg);
			return reply_error(x->r, MHD_HTTP_UNAUTHORIZED, "%s", err.msg);
		}
	}
	if (hook_parse(&hr, &ev, &err) < 0) {
		count_hook(s, provider_name, "bad_payload");
		return reply_error(x->r, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
	}
	if (ev.kind == HOOK_PUSH) {
		vec_foreach (&ev.urls, i, url) {
			char *key = source_url_key(url);
			unsigned n = 0;

			daemon_repo_pushed(s->opts.daemon, key, "webhook", &n);
			queued += n;
			free(key);
		}
	}
	count_hook(s, provider_name, ev.kind == HOOK_PUSH ? "accepted" : "ignored");
	{
		struct buf b = BUF_INIT;

		buf_addf(&b, "{\"event\":\"%s\",\"queued\":%u}\n",
			 ev.kind == HOOK_PUSH	? "push"
			 : ev.kind == HOOK_PING ? "ping"
						: "other",
			 queued);
		reply_json(x->r, ev.kind == HOOK_PUSH ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, b.data);
		buf_release(&b);
	}
	hook_event_release(&ev);
}

/* ---- server-sent events ---- */

struct sse {
	struct daemon *d;
	uint64_t seq;
	char *app; /* only this application, or NULL */
	struct caller caller;
	struct buf pending; /* bytes not yet handed to libmicrohttpd */
	size_t off;
};

static bool sse_wanted(struct sse *st, const char *event)
{
	const char *p = strstr(event, "\"app\":\"");
	char name[256];
	size_t n;

	if (!p)
		return true;
	p += 7;
	n = strcspn(p, "\"");
	if (n >= sizeof(name))
		return false;
	memcpy(name, p, n);
	name[n] = '\0';
	if (!*name)
		return true;
	if (st->app && strcmp(st->app, name) != 0)
		return false;
	return auth_scope_allows(st->caller.apps, name);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *st = cls;

	(void)pos;
	while (st->off >= st->pending.len) {
		struct buf ev = BUF_INIT;
		int rc;

		buf_reset(&st->pending);
		st->off = 0;
		rc = daemon_next_event(st->d, &st->seq, SSE_WAIT_MS, &ev);
		if (rc < 0) {
			buf_release(&ev);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (rc == 0)
			buf_addstr(&st->pending, ": keep-alive\n\n");
		else if (sse_wanted(st, ev.data))
			buf_addf(&st->pending, "id: %llu\ndata: %s\n\n",
				 (unsigned long long)st->seq, ev.data);
		buf_release(&ev);
	}
	if (max > st->pending.len - st->off)
		max = st->pending.len - st->off;
	memcpy(buf, st->pending.data + st->off, max);
	st->off += max;
	return (ssize_t)max;
}

static void sse_free(void *cls)
{
	struct sse *st = cls;

	caller_release(&st->caller);
	buf_release(&st->pending);
	free(st->app);
	free(st);
}

/* Returns the stream's response, or NULL with the reply set. */
static struct MHD_Response *api_events(struct route_ctx *x)
{
	const char *app = MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, "app");
	struct MHD_Response *resp;
	struct sse *st;

	x->route = "/api/v1/events";
	if (!is(x->method, "GET")) {
		method_not_allowed(x, "GET");
		return NULL;
	}
	if (!authorize(x->caller, ROLE_VIEWER, app, x->r))
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->d = x->s->opts.daemon;
	st->seq = daemon_event_seq(st->d);
	st->app = app ? xstrdup(app) : NULL;
	st->caller = *x->caller;
	memset(x->caller, 0, sizeof(*x->caller)); /* the stream owns it now */
	buf_addstr(&st->pending, ": plumb events\n\n");
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, st, sse_free);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	x->r->status = MHD_HTTP_OK;
	return resp;
}

/* ---- dispatch ---- */

/* Splits "/a/b/c" into up to n segments (in place); returns how many. */
static size_t split_path(char *path, char **seg, size_t n)
{
	size_t count = 0;
	char *save = NULL;

	for (char *p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (count == n)
			return n + 1;
		seg[count++] = p;
	}
	return count;
}

static struct MHD_Response *dispatch(struct route_ctx *x, const char *url)
{
	struct server *s = x->s;
	char *path = xstrdup(url);
	char *seg[6];
	size_t n = split_path(path, seg, ARRAY_SIZE(seg));
	struct MHD_Response *stream = NULL;

	if (n == 1 && is(seg[0], "healthz")) {
		x->route = "/healthz";
		reply_json(x->r, MHD_HTTP_OK, "{\"status\":\"ok\"}\n");
	} else if (n == 1 && is(seg[0], "readyz")) {
		x->route = "/readyz";
		if (daemon_ready(s->opts.daemon))
			reply_json(x->r, MHD_HTTP_OK, "{\"status\":\"ready\"}\n");
		else
			reply_error(x->r, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready");
	} else if (n == 1 && is(seg[0], "metrics")) {
		x->route = "/metrics";
		x->r->status = MHD_HTTP_OK;
		x->r->content_type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_write(s->opts.metrics, &x->r->body);
	} else if (n == 2 && is(seg[0], "hooks")) {
		hook(x, seg[1]);
	} else if (n >= 3 && is(seg[0], "api") && is(seg[1], "v1")) {
		authenticate(s, x->conn, x->caller);
		if (n == 3 && is(seg[2], "apps"))
			api_apps(x);
		else if (n >= 4 && n <= 6 && is(seg[2], "apps"))
			api_app(x, seg[3], n > 4 ? seg[4] : NULL, n > 5 ? seg[5] : NULL);
		else if (n == 3 && is(seg[2], "events"))
			stream = api_events(x);
		else if ((n == 3 || n == 4) && is(seg[2], "tokens"))
			api_tokens(x, n == 4 ? seg[3] : NULL);
		else if (n == 3 && is(seg[2], "audit"))
			api_audit(x);
		else
			reply_error(x->r, MHD_HTTP_NOT_FOUND, "no such API route: %s", url);
	} else {
		reply_error(x->r, MHD_HTTP_NOT_FOUND, "not found: %s", url);
	}
	free(path);
	return stream;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct request *req = *con_cls;
	struct caller caller = {0};
	struct reply r = {.status = 500, .content_type = "application/json"};
	struct route_ctx x = {.s = s,
			      .conn = conn,
			      .method = method,
			      .caller = &caller,
			      .r = &r,
			      .route = "other"};
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char code[8];

	(void)version;
	if (!req) {
		req = xcalloc(1, sizeof(*req));
		buf_init(&req->body, s->opts.max_body);
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!req->too_big && buf_add(&req->body, upload, *upload_size) < 0)
			req->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	/* a body over the cap is refused by the route that reads it, after the
	 * caller is known, so that the refusal is audited */
	x.req = req;
	resp = dispatch(&x, url);
	if (!resp) {
		resp = MHD_create_response_from_buffer(
			r.body.len, r.body.data ? r.body.data : (char *)"", MHD_RESPMEM_MUST_COPY);
		MHD_add_response_header(resp, "Content-Type", r.content_type);
		if (r.www_authenticate)
			MHD_add_response_header(resp, "WWW-Authenticate", r.www_authenticate);
	}
	ret = MHD_queue_response(conn, r.status, resp);
	MHD_destroy_response(resp);
	if (s->m_api) {
		const char *labels[] = {x.route, code};

		snprintf(code, sizeof(code), "%u", r.status);
		metric_add(s->m_api, labels, 1);
	}
	buf_release(&r.body);
	caller_release(&caller);
	return ret;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	(void)cls, (void)conn, (void)toe;
	if (!req)
		return;
	buf_release(&req->body);
	free(req);
	*con_cls = NULL;
}

static int listen_queue(int fd)
{
	return listen(fd, 128);
}

static int parse_listen(const char *listen, struct sockaddr_in *addr, struct error *err)
{
	const char *colon = strrchr(listen, ':');
	char host[64];
	char *end;
	unsigned long port;

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	if (!colon || (size_t)(colon - listen) >= sizeof(host))
		return error_set(err, ERR_INVALID,
				 "--listen '%s': give host:port, e.g. 127.0.0.1:7420", listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || port > 65535 || colon[1] == '\0')
		return error_set(err, ERR_INVALID, "--listen '%s': bad port", listen);
	if (!*host || strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
		return error_set(err, ERR_INVALID, "--listen '%s': give an IPv4 address", listen);
	addr->sin_port = htons((uint16_t)port);
	return 0;
}

int server_listen(const char *listen, int *fd, struct error *err)
{
	struct sockaddr_in addr;
	int one = 1, rc;

	*fd = -1;
	if ((rc = parse_listen(listen, &addr, err)) < 0)
		return rc;
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return error_errno(err, "cannot create a socket for %s", listen);
	setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(*fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen_queue(*fd) < 0) {
		rc = error_errno(err, "cannot listen on %s (is another server using it?)", listen);
		close(*fd);
		*fd = -1;
		return rc;
	}
	return 0;
}

int server_start(struct server **out, const struct server_opts *opts, struct error *err)
{
	static const char *const route_code[] = {"route", "code", NULL};
	static const char *const provider_result[] = {"provider", "result", NULL};
	struct server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_in addr;
	const union MHD_DaemonInfo *info;
	int rc;

	*out = NULL;
	s->opts = *opts;
	if (!s->opts.max_body)
		s->opts.max_body = BODY_MAX_DEFAULT;
	if ((rc = parse_listen(opts->listen, &addr, err)) < 0) {
		free(s);
		return rc;
	}
	if (opts->metrics) {
		s->m_api = metrics_family(opts->metrics, "plumb_api_requests_total",
					  "HTTP requests by route and status code.", METRIC_COUNTER,
					  route_code, NULL, 0);
		s->m_hooks = metrics_family(opts->metrics, "plumb_webhook_requests_total",
					    "Webhook deliveries by provider and result.",
					    METRIC_COUNTER, provider_result, NULL, 0);
	}
	if (opts->listen_fd >= 0)
		s->mhd = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_ERROR_LOG,
			0, NULL, NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, opts->listen_fd,
			MHD_OPTION_NOTIFY_COMPLETED, request_done, s, MHD_OPTION_CONNECTION_LIMIT,
			512, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	else
		s->mhd = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_ERROR_LOG,
			0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &addr,
			MHD_OPTION_NOTIFY_COMPLETED, request_done, s, MHD_OPTION_CONNECTION_LIMIT,
			512, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	if (!s->mhd) {
		free(s);
		return error_set(err, ERR_IO, "cannot listen on %s (is it in use?)", opts->listen);
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : ntohs(addr.sin_port);
	*out = s;
	return 0;
}

unsigned server_port(const struct server *s)
{
	return s->port;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	free(s);
}
