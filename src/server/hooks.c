/*
 * hooks — webhook receivers: signatures checked in constant time, the event
 * kind from the provider's header, and the repository's URLs from the JSON
 * body (source_url_key matches them with applications' repoURLs).
 */
#include "server/hooks.h"

#include "yaml/yaml.h"

#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Webhook payloads nest a few levels; anything deeper is not one. */
#define HOOK_MAX_DEPTH 64

#define SIGNATURE_PREFIX "sha256="

static const char *const provider_names[] = {
	[HOOK_GITHUB] = "github",
	[HOOK_GITLAB] = "gitlab",
	[HOOK_BITBUCKET] = "bitbucket",
	[HOOK_GENERIC] = "generic",
};

int hook_provider_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(provider_names); i++)
		if (strcmp(name, provider_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *hook_provider_name(enum hook_provider provider)
{
	assert((size_t)provider < ARRAY_SIZE(provider_names));
	return provider_names[provider];
}

/* The header that carries the request's signature or token. */
static const char *signature_header(enum hook_provider provider)
{
	switch (provider) {
	case HOOK_GITHUB:
		return "X-Hub-Signature-256";
	case HOOK_GITLAB:
		return "X-Gitlab-Token";
	case HOOK_BITBUCKET:
		return "X-Hub-Signature";
	case HOOK_GENERIC:
		return "X-Plumb-Signature";
	}
	assert(!"unknown hook provider");
	return NULL;
}

static const char *request_header(const struct hook_request *req, const char *name)
{
	assert(req->header);
	return req->header(req->ctx, name);
}

/*
 * Checks "sha256=<64 hex digits>" against the HMAC-SHA256 of the body keyed
 * with secret. The digits are decoded first and the 32 bytes compared with
 * CRYPTO_memcmp, so the time taken does not depend on where they differ.
 * Messages name the header and never quote its value or the expected one.
 */
static int verify_hmac(const struct hook_request *req, const char *name, const char *value,
		       const char *secret, struct error *err)
{
	struct str sig = str_trim(str_from(value));
	uint8_t given[SHA256_LEN], expected[SHA256_LEN];
	unsigned int expected_len = 0;
	size_t secret_len = strlen(secret);
	size_t prefix_len = strlen(SIGNATURE_PREFIX);
	int rc = 0;

	if (sig.len != prefix_len + SHA256_HEX_LEN ||
	    strncasecmp(sig.ptr, SIGNATURE_PREFIX, prefix_len) != 0)
		return error_set(err, ERR_AUTH,
				 "header '%s' is not \"sha256=\" followed by %d hex digits", name,
				 SHA256_HEX_LEN);
	for (size_t i = 0; i < SHA256_LEN; i++) {
		int high = hex_digit_value(sig.ptr[prefix_len + 2 * i]);
		int low = hex_digit_value(sig.ptr[prefix_len + 2 * i + 1]);

		if (high < 0 || low < 0)
			return error_set(err, ERR_AUTH,
					 "header '%s' is not \"sha256=\" followed by %d hex digits",
					 name, SHA256_HEX_LEN);
		given[i] = (uint8_t)(high << 4 | low);
	}
	if (secret_len > INT_MAX)
		return error_set(err, ERR_INVALID, "the %s webhook secret is too long",
				 hook_provider_name(req->provider));
	if (!HMAC(EVP_sha256(), secret, (int)secret_len,
		  (const unsigned char *)(req->body ? req->body : ""), req->len, expected,
		  &expected_len) ||
	    expected_len != SHA256_LEN)
		return error_set(err, ERR_INTERNAL, "libcrypto: HMAC-SHA256 failed");
	if (CRYPTO_memcmp(given, expected, SHA256_LEN) != 0)
		rc = error_set(err, ERR_AUTH, "header '%s' does not match the body's signature",
			       name);
	OPENSSL_cleanse(expected, sizeof(expected));
	return rc;
}

/*
 * GitLab sends the secret itself. Comparing SHA-256 digests of both sides keeps
 * the comparison constant-time whatever the lengths, which a byte comparison
 * of unequal-length strings would give away.
 */
static int verify_token(const char *name, const char *value, const char *secret, struct error *err)
{
	uint8_t given[SHA256_LEN], expected[SHA256_LEN];
	int rc = 0;

	sha256(value, strlen(value), given);
	sha256(secret, strlen(secret), expected);
	if (CRYPTO_memcmp(given, expected, SHA256_LEN) != 0)
		rc = error_set(err, ERR_AUTH, "header '%s' does not match the secret", name);
	OPENSSL_cleanse(expected, sizeof(expected));
	return rc;
}

int hook_verify(const struct hook_request *req, const char *secret, struct error *err)
{
	const char *name = signature_header(req->provider);
	const char *value;

	if (!secret || !*secret)
		return error_set(err, ERR_AUTH,
				 "no secret is set for %s webhooks: cannot check '%s'",
				 hook_provider_name(req->provider), name);
	value = request_header(req, name);
	if (!value)
		return error_set(err, ERR_AUTH, "missing header '%s'", name);
	if (req->provider == HOOK_GITLAB)
		return verify_token(name, value, secret, err);
	return verify_hmac(req, name, value, secret, err);
}

/* ---- reading events ---- */

void hook_event_release(struct hook_event *ev)
{
	vec_release(&ev->urls, free);
	FREE_AND_NULL(ev->ref);
	FREE_AND_NULL(ev->after);
}

/* A string node's text if it is a non-empty string without NUL bytes, else NULL. */
static const char *plain_string(const struct node *n)
{
	const char *s = node_string(n);

	if (!s || !n->len || memchr(s, '\0', n->len))
		return NULL;
	return s;
}

static void add_url(struct hook_event *ev, const struct node *n)
{
	const char *url = plain_string(n);
	size_t i;
	char *seen;

	if (!url)
		return;
	vec_foreach (&ev->urls, i, seen) {
		if (strcmp(seen, url) == 0)
			return;
	}
	vec_push(&ev->urls, xstrdup(url));
}

static void add_url_fields(struct hook_event *ev, const struct node *map, const char *const *fields,
			   size_t count)
{
	for (size_t i = 0; i < count; i++)
		add_url(ev, node_get(map, fields[i]));
}

/* Appends the "href" of every item of a Bitbucket link list ([{"href": ...}, ...]). */
static void add_link_hrefs(struct hook_event *ev, const struct node *links)
{
	if (!links || links->type != NODE_SEQ)
		return;
	for (size_t i = 0; i < links->count; i++)
		add_url(ev, node_get(links->items[i], "href"));
}

static void set_string(char **out, const struct node *n)
{
	const char *s = plain_string(n);

	free(*out);
	*out = s ? xstrdup(s) : NULL;
}

/*
 * Takes ref and after from a list of ref changes (GitLab's repository_update,
 * Bitbucket's refs_changed) only when it holds exactly one: a push of several
 * refs names no single ref, and the urls alone say what to sync.
 */
static void set_single_change(struct hook_event *ev, const struct node *changes,
			      const char *ref_field, const char *after_field)
{
	const struct node *change;

	if (!changes || changes->type != NODE_SEQ || changes->count != 1)
		return;
	change = changes->items[0];
	set_string(&ev->ref, node_get(change, ref_field));
	if (!ev->ref)
		set_string(&ev->ref, node_get(node_get(change, "ref"), "id"));
	set_string(&ev->after, node_get(change, after_field));
}

static int body_parse(struct arena *arena, const struct hook_request *req, const struct node **out,
		      struct error *err)
{
	struct yaml_opts opts = {0, HOOK_MAX_DEPTH};
	struct vec docs = VEC_INIT;
	struct str body = str_trim(str_make(req->body ? req->body : "", req->len));
	const struct yaml_doc *doc;
	int rc;

	if (!body.len)
		return error_set(err, ERR_INVALID, "body is empty");
	if (body.ptr[0] != '{')
		return error_set(err, ERR_INVALID, "body is not a JSON object");
	/* The ".json" name has the parser read JSON only, not YAML. */
	rc = yaml_parse(arena, "body.json", req->body, req->len, &opts, &docs, err);
	if (rc) {
		/* "body.json:3:5: ..." reads as a file: say "body:3:5: ..." */
		if (err && strncmp(err->msg, "body.json:", 10) == 0)
			memmove(err->msg + 4, err->msg + 9, strlen(err->msg + 9) + 1);
		goto out;
	}
	doc = docs.len == 1 ? docs.items[0] : NULL;
	if (!doc || doc->root->type != NODE_MAP) {
		rc = error_set(err, ERR_INVALID, "body is not a JSON object");
		goto out;
	}
	*out = doc->root;
out:
	vec_release(&docs, NULL);
	return rc;
}

static int missing_urls(struct error *err, const char *where, const char *fields)
{
	return error_set(err, ERR_INVALID, "body: %s has no %s", where, fields);
}

static int event_header(const struct hook_request *req, const char *name, struct str *out,
			struct error *err)
{
	const char *value = request_header(req, name);

	if (!value || !*value)
		return error_set(err, ERR_INVALID, "missing header '%s'", name);
	*out = str_trim(str_from(value));
	return 0;
}

static int github_kind(const struct hook_request *req, struct hook_event *ev, struct error *err)
{
	struct str event;
	int rc = event_header(req, "X-GitHub-Event", &event, err);

	if (rc)
		return rc;
	if (str_eq_nocase(event, STR_LIT("push")))
		ev->kind = HOOK_PUSH;
	else if (str_eq_nocase(event, STR_LIT("ping")))
		ev->kind = HOOK_PING;
	else
		ev->kind = HOOK_OTHER;
	return 0;
}

static int github_read(const struct node *body, struct hook_event *ev, struct error *err)
{
	static const char *const fields[] = {"clone_url", "ssh_url", "git_url", "html_url"};
	const struct node *repo = node_get(body, "repository");

	add_url_fields(ev, repo, fields, ARRAY_SIZE(fields));
	if (ev->kind != HOOK_PUSH)
		return 0;
	if (!ev->urls.len)
		return missing_urls(err, "'repository'",
				    "'clone_url', 'ssh_url', 'git_url' or 'html_url'");
	set_string(&ev->ref, node_get(body, "ref"));
	set_string(&ev->after, node_get(body, "after"));
	return 0;
}

static int gitlab_kind(const struct hook_request *req, struct hook_event *ev, struct error *err)
{
	struct str event;
	int rc = event_header(req, "X-Gitlab-Event", &event, err);

	if (rc)
		return rc;
	/* A "System Hook" names its event in the body: gitlab_read looks there. */
	if (str_eq_nocase(event, STR_LIT("Push Hook")) ||
	    str_eq_nocase(event, STR_LIT("Tag Push Hook")))
		ev->kind = HOOK_PUSH;
	else
		ev->kind = HOOK_OTHER;
	return 0;
}

/* A system hook names its event in the body; pushes come as push, tag_push or repository_update. */
static bool gitlab_system_push(const struct node *body, bool *multi_ref)
{
	const char *name = node_string(node_get(body, "event_name"));

	if (!name)
		name = node_string(node_get(body, "object_kind"));
	*multi_ref = name && strcmp(name, "repository_update") == 0;
	return name && (strcmp(name, "push") == 0 || strcmp(name, "tag_push") == 0 || *multi_ref);
}

static int gitlab_read(const struct hook_request *req, const struct node *body,
		       struct hook_event *ev, struct error *err)
{
	static const char *const project_fields[] = {"git_http_url", "git_ssh_url", "web_url",
						     "http_url", "ssh_url"};
	static const char *const repository_fields[] = {"git_http_url", "git_ssh_url", "homepage",
							"url"};
	const char *event = request_header(req, "X-Gitlab-Event");
	bool multi_ref = false;

	if (event && str_eq_nocase(str_trim(str_from(event)), STR_LIT("System Hook")) &&
	    gitlab_system_push(body, &multi_ref))
		ev->kind = HOOK_PUSH;
	add_url_fields(ev, node_get(body, "project"), project_fields, ARRAY_SIZE(project_fields));
	add_url_fields(ev, node_get(body, "repository"), repository_fields,
		       ARRAY_SIZE(repository_fields));
	if (ev->kind != HOOK_PUSH)
		return 0;
	if (!ev->urls.len)
		return missing_urls(err, "'project'", "'git_http_url', 'git_ssh_url' or 'web_url'");
	if (multi_ref) {
		set_single_change(ev, node_get(body, "changes"), "ref", "after");
	} else {
		set_string(&ev->ref, node_get(body, "ref"));
		set_string(&ev->after, node_get(body, "after"));
	}
	return 0;
}

static int bitbucket_kind(const struct hook_request *req, struct hook_event *ev, struct error *err)
{
	struct str event;
	int rc = event_header(req, "X-Event-Key", &event, err);

	if (rc)
		return rc;
	if (str_eq_nocase(event, STR_LIT("repo:refs_changed")))
		ev->kind = HOOK_PUSH;
	else if (str_eq_nocase(event, STR_LIT("diagnostics:ping")))
		ev->kind = HOOK_PING;
	else
		ev->kind = HOOK_OTHER;
	return 0;
}

static int bitbucket_read(const struct node *body, struct hook_event *ev, struct error *err)
{
	const struct node *links = node_get(node_get(body, "repository"), "links");

	add_link_hrefs(ev, node_get(links, "clone"));
	add_link_hrefs(ev, node_get(links, "self"));
	if (ev->kind != HOOK_PUSH)
		return 0;
	if (!ev->urls.len)
		return missing_urls(err, "'repository.links'", "'clone' or 'self' href");
	set_single_change(ev, node_get(body, "changes"), "refId", "toHash");
	return 0;
}

static int generic_read(const struct node *body, struct hook_event *ev, struct error *err)
{
	add_url(ev, node_get(body, "repository"));
	add_url(ev, node_get(body, "repoURL"));
	if (!ev->urls.len)
		return error_set(err, ERR_INVALID, "body has no 'repository' or 'repoURL' string");
	set_string(&ev->ref, node_get(body, "ref"));
	set_string(&ev->after, node_get(body, "after"));
	return 0;
}

int hook_parse(const struct hook_request *req, struct hook_event *ev, struct error *err)
{
	struct arena arena = ARENA_INIT;
	const struct node *body = NULL;
	int rc;

	memset(ev, 0, sizeof(*ev));
	ev->kind = HOOK_OTHER;
	switch (req->provider) {
	case HOOK_GITHUB:
		rc = github_kind(req, ev, err);
		break;
	case HOOK_GITLAB:
		rc = gitlab_kind(req, ev, err);
		break;
	case HOOK_BITBUCKET:
		rc = bitbucket_kind(req, ev, err);
		break;
	case HOOK_GENERIC:
		ev->kind = HOOK_PUSH;
		rc = 0;
		break;
	default:
		assert(!"unknown hook provider");
		rc = error_set(err, ERR_INVALID, "unknown webhook provider");
	}
	if (rc)
		goto out;
	/*
	 * Every event's body must be JSON, pings included: a hook set up to send
	 * form-encoded bodies then fails on its first test delivery, where the
	 * provider shows the error, rather than silently on the first push.
	 */
	rc = body_parse(&arena, req, &body, err);
	if (rc)
		goto out;
	switch (req->provider) {
	case HOOK_GITHUB:
		rc = github_read(body, ev, err);
		break;
	case HOOK_GITLAB:
		rc = gitlab_read(req, body, ev, err);
		break;
	case HOOK_BITBUCKET:
		rc = bitbucket_read(body, ev, err);
		break;
	case HOOK_GENERIC:
		rc = generic_read(body, ev, err);
		break;
	}
out:
	if (rc)
		hook_event_release(ev);
	arena_release(&arena);
	return rc;
}
