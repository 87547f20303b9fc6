/*
 * hooks — webhook receivers: signatures checked in constant time, the event
 * kind from the provider's header, the repository's URLs from the JSON body,
 * and the key that matches those URLs with applications' repoURLs.
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

static bool str_eq_nocase(struct str s, const char *lit)
{
	size_t len = strlen(lit);

	return s.len == len && strncasecmp(s.ptr, lit, len) == 0;
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
	if (str_eq_nocase(event, "push"))
		ev->kind = HOOK_PUSH;
	else if (str_eq_nocase(event, "ping"))
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
	if (str_eq_nocase(event, "Push Hook") || str_eq_nocase(event, "Tag Push Hook"))
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

	if (event && str_eq_nocase(str_trim(str_from(event)), "System Hook") &&
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
	if (str_eq_nocase(event, "repo:refs_changed"))
		ev->kind = HOOK_PUSH;
	else if (str_eq_nocase(event, "diagnostics:ping"))
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

/* ---- URL keys ---- */

static bool has_prefix_nocase(struct str s, const char *prefix)
{
	size_t len = strlen(prefix);

	return s.len >= len && strncasecmp(s.ptr, prefix, len) == 0;
}

/* The index of the first of chars in s, or s.len. */
static size_t str_span_until(struct str s, const char *chars)
{
	for (size_t i = 0; i < s.len; i++)
		if (strchr(chars, s.ptr[i]))
			return i;
	return s.len;
}

/* "scheme://": letters, digits, '+', '-', '.', starting with a letter. Sets *rest past it. */
static bool cut_scheme(struct str s, struct str *scheme, struct str *rest)
{
	size_t i = 0;

	if (!s.len || !isalpha((unsigned char)s.ptr[0]))
		return false;
	while (i < s.len && (isalnum((unsigned char)s.ptr[i]) || s.ptr[i] == '+' ||
			     s.ptr[i] == '-' || s.ptr[i] == '.'))
		i++;
	if (s.len - i < 3 || memcmp(s.ptr + i, "://", 3) != 0)
		return false;
	*scheme = str_make(s.ptr, i);
	*rest = str_make(s.ptr + i + 3, s.len - i - 3);
	return true;
}

static void add_lower(struct buf *out, struct str s)
{
	for (size_t i = 0; i < s.len; i++)
		buf_addch(out, (char)tolower((unsigned char)s.ptr[i]));
}

/*
 * Appends path normalised: empty and "." components dropped, ".." removing the
 * component before it (never what out held before), a final ".git" suffix or
 * ".git" component removed ("ops.git" and "ops/.git" name the repository "ops").
 * With leading_slash the result starts with '/' ("/" for an empty path);
 * lower_case folds the components to lower case.
 */
static void add_path(struct buf *out, struct str path, bool leading_slash, bool lower_case)
{
	size_t base = out->len;
	struct str rest = path, part;
	bool more = true;
	size_t last;

	while (more) {
		more = str_cut(rest, '/', &part, &rest);
		if (!part.len || str_eq_cstr(part, "."))
			continue;
		if (str_eq_cstr(part, "..")) {
			size_t len = out->len;

			while (len > base && out->data[len - 1] != '/')
				len--;
			buf_truncate(out, len > base ? len - 1 : base);
			continue;
		}
		buf_addch(out, '/');
		if (lower_case)
			add_lower(out, part);
		else
			buf_add(out, part.ptr, part.len);
	}
	for (last = out->len; last > base && out->data[last - 1] != '/'; last--)
		;
	if (out->len - last >= 4 && strncasecmp(out->data + out->len - 4, ".git", 4) == 0) {
		if (out->len - last == 4)
			buf_truncate(out, last > base ? last - 1 : base);
		else
			buf_truncate(out, out->len - 4);
	}
	if (!leading_slash && out->len > base && out->data[base] == '/') {
		memmove(out->data + base, out->data + base + 1, out->len - base);
		out->len--;
	}
	if (leading_slash && out->len == base)
		buf_addch(out, '/');
}

static bool is_ssh_scheme(struct str scheme)
{
	return str_eq_nocase(scheme, "ssh") || str_eq_nocase(scheme, "git+ssh") ||
	       str_eq_nocase(scheme, "ssh+git");
}

/* The port a scheme implies, so that "https://host:443/x" and "https://host/x" match. */
static bool is_default_port(struct str scheme, struct str port)
{
	unsigned long value = 0;

	if (!port.len)
		return true;
	for (size_t i = 0; i < port.len; i++) {
		if (!isdigit((unsigned char)port.ptr[i]) || value > 65535)
			return false;
		value = value * 10 + (unsigned long)(port.ptr[i] - '0');
	}
	return (str_eq_nocase(scheme, "https") && value == 443) ||
	       (str_eq_nocase(scheme, "http") && value == 80) ||
	       (str_eq_nocase(scheme, "git") && value == 9418);
}

/* "host", "host:port", "[v6]" or "[v6]:port" -> host and port (empty if none). */
static void split_host_port(struct str hostport, struct str *host, struct str *port)
{
	size_t end;

	*port = str_make(hostport.ptr + hostport.len, 0);
	if (hostport.len && hostport.ptr[0] == '[') {
		const char *close = memchr(hostport.ptr, ']', hostport.len);

		end = close ? (size_t)(close - hostport.ptr) + 1 : hostport.len;
	} else {
		end = str_span_until(hostport, ":");
	}
	*host = str_make(hostport.ptr, end);
	if (end < hostport.len && hostport.ptr[end] == ':')
		*port = str_make(hostport.ptr + end + 1, hostport.len - end - 1);
}

/* Drops "user[:password]@" from an authority. */
static struct str strip_userinfo(struct str authority)
{
	for (size_t i = authority.len; i > 0; i--)
		if (authority.ptr[i - 1] == '@')
			return str_make(authority.ptr + i, authority.len - i);
	return authority;
}

static void key_from_url(struct buf *out, struct str scheme, struct str rest)
{
	size_t authority_end = str_span_until(rest, "/?#");
	struct str authority = strip_userinfo(str_make(rest.ptr, authority_end));
	struct str path = str_make(rest.ptr + authority_end, rest.len - authority_end);
	struct str host, port;

	path.len = str_span_until(path, "?#");
	split_host_port(authority, &host, &port);
	add_lower(out, host);
	if (!is_ssh_scheme(scheme) && !is_default_port(scheme, port)) {
		buf_addch(out, ':');
		buf_add(out, port.ptr, port.len);
	}
	add_path(out, path, true, true);
	if (out->len && out->data[out->len - 1] == '/')
		buf_truncate(out, out->len - 1);
}

/*
 * Git's scp-like syntax, "[user@]host:path": a ':' before any '/' (or after a
 * bracketed IPv6 host). Sets host and path when s is one.
 */
static bool cut_scp_like(struct str s, struct str *host, struct str *path)
{
	size_t colon;
	struct str hostpart;

	if (!s.len || s.ptr[0] == '/' || s.ptr[0] == '.')
		return false;
	colon = str_span_until(s, ":/");
	if (colon == s.len || s.ptr[colon] != ':')
		return false;
	hostpart = strip_userinfo(str_make(s.ptr, colon));
	if (hostpart.len && hostpart.ptr[0] == '[') {
		const char *close = memchr(s.ptr, ']', s.len);

		if (!close || (size_t)(close - s.ptr) + 1 >= s.len || close[1] != ':')
			return false;
		colon = (size_t)(close + 1 - s.ptr);
		hostpart = strip_userinfo(str_make(s.ptr, colon));
	}
	if (!hostpart.len)
		return false;
	*host = hostpart;
	*path = str_make(s.ptr + colon + 1, s.len - colon - 1);
	return true;
}

char *hook_url_key(const char *url)
{
	struct str s = str_trim(str_from(url ? url : ""));
	struct buf key = BUF_INIT;
	struct str scheme, rest, host, path;

	buf_init(&key, 0);
	if (!s.len)
		return buf_detach(&key, NULL);
	if (has_prefix_nocase(s, "file://")) {
		rest = str_make(s.ptr + 7, s.len - 7);
		if (has_prefix_nocase(rest, "localhost/"))
			rest = str_make(rest.ptr + 9, rest.len - 9);
		add_path(&key, rest, rest.len && rest.ptr[0] == '/', false);
	} else if (cut_scheme(s, &scheme, &rest)) {
		key_from_url(&key, scheme, rest);
	} else if (cut_scp_like(s, &host, &path)) {
		/* scp-like is ssh: no port, the path relative to the login's home or absolute alike
		 */
		add_lower(&key, host);
		add_path(&key, path, true, true);
		if (key.len && key.data[key.len - 1] == '/')
			buf_truncate(&key, key.len - 1);
	} else {
		add_path(&key, s, s.ptr[0] == '/', false);
	}
	return buf_detach(&key, NULL);
}
