/*
 * hooks — webhook receivers: verifying a request's signature and reading which
 * repository a push event is about. Pure functions over the request's headers
 * and body; the HTTP server calls them for POST /hooks/<provider>.
 */
#ifndef PLUMB_HOOKS_H
#define PLUMB_HOOKS_H

#include "core/core.h"

enum hook_provider { HOOK_GITHUB, HOOK_GITLAB, HOOK_BITBUCKET, HOOK_GENERIC };

/* "github", "gitlab", "bitbucket", "generic" -> provider; -1 if unknown. */
int hook_provider_parse(const char *name);
const char *hook_provider_name(enum hook_provider provider);

/* A request as received. header() returns a header's value (case-insensitive name) or NULL. */
struct hook_request {
	enum hook_provider provider;
	const char *(*header)(void *ctx, const char *name);
	void *ctx;
	const char *body;
	size_t len;
};

/*
 * Checks the request against secret, in constant time:
 *   github     X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
 *   gitlab     X-Gitlab-Token: <secret>
 *   bitbucket  X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body> (Bitbucket Server / Data
 * Center) generic    X-Plumb-Signature: sha256=<hex HMAC-SHA256 of the body> ERR_AUTH with a
 * message naming the header when it is missing, malformed or does not match. An empty secret never
 * verifies.
 */
int hook_verify(const struct hook_request *req, const char *secret, struct error *err);

enum hook_kind {
	HOOK_PUSH, /* a push (branch or tag): sync the applications of its repository */
	HOOK_PING, /* a test delivery (GitHub ping, ...): answer, do nothing */
	HOOK_OTHER /* an event plumb does not act on */
};

struct hook_event {
	enum hook_kind kind;
	struct vec urls; /* char *: every clone / web URL of the repository the event names */
	char *ref;	 /* "refs/heads/main" when given, else NULL */
	char *after;	 /* the new commit SHA when given, else NULL */
};

/*
 * Reads a verified request: the event type from the provider's header
 * (X-GitHub-Event, X-Gitlab-Event, X-Event-Key; the generic hook is always a
 * push) and the repository URLs from its JSON body:
 *   github     repository.clone_url, ssh_url, git_url, html_url
 *   gitlab     project.git_http_url, git_ssh_url, web_url (or repository.*)
 *   bitbucket  repository.links.clone[].href, links.self[].href
 *   generic    {"repository": "<url>"} or {"repoURL": "<url>"}, optional "ref", "after"
 * ERR_INVALID naming what is missing when the body is not such JSON.
 */
int hook_parse(const struct hook_request *req, struct hook_event *ev, struct error *err);
void hook_event_release(struct hook_event *ev);

#endif
