/*
 * discovery.c — which resources the server serves: kind -> resource plural and
 * scope, for every version of every group (not only the preferred one).
 *
 * Aggregated discovery (GET /api and /apis as APIGroupDiscoveryList, two
 * requests) comes first; a server that answers with another Content-Type gets
 * the legacy walk: /api, /apis, then every /api/v1 and /apis/g/v in parallel.
 *
 * The map is keyed "group/version/kind" ("/v1/ConfigMap" for the core group).
 * Entries live in an arena for the client's whole life, and a refresh reuses
 * an entry that did not change: so a pointer from kube_resource_find stays
 * valid until kube_client_free, whatever refreshes happen in between, and the
 * memory grows only with entries that changed or appeared.
 *
 * Not thread-safe: discover and look up from one thread (the reconciler's).
 */
#include "targets/kube/kube_int.h"

#include "yaml/yaml.h"

#include <stdlib.h>
#include <string.h>

#define DISCOVERY_ACCEPT                                                             \
	"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"      \
	"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList," \
	"application/json"
/* Legacy discovery's group-version requests in flight at once. */
#define DISCOVERY_PARALLEL 16

struct kube_discovery {
	struct arena arena;
	struct map pool;    /* key -> the newest entry ever made for it (owns nothing) */
	struct map current; /* key -> the entry the server serves now */
	bool done;
	bool legacy_only; /* tests: skip aggregated discovery */
};

static struct kube_discovery *discovery_of(struct kube_client *c)
{
	struct kube_discovery **slot = kube_client_discovery(c);

	if (!*slot)
		*slot = xcalloc(1, sizeof(**slot));
	return *slot;
}

void kube_discovery_free(struct kube_discovery *d)
{
	if (!d)
		return;
	map_release(&d->pool, NULL);
	map_release(&d->current, NULL);
	arena_release(&d->arena);
	free(d);
}

void kube_discovery_force_legacy(struct kube_client *c, bool legacy)
{
	discovery_of(c)->legacy_only = legacy;
}

static char *resource_key(const char *group, const char *version, const char *kind)
{
	return xasprintf("%s/%s/%s", group, version, kind);
}

/*
 * Records that (group, version, kind) is served as resource; the first of two
 * resources with the same kind in one group-version wins. Subresources
 * ("pods/status") are skipped.
 */
static void add_resource(struct kube_discovery *d, struct map *into, const char *group,
			 const char *version, const char *kind, const char *resource,
			 bool namespaced)
{
	struct kube_resource *res;
	char *key;

	if (!kind || !*kind || !resource || !*resource || strchr(resource, '/'))
		return;
	key = resource_key(group, version, kind);
	if (map_has(into, key))
		goto out;
	res = map_get(&d->pool, key);
	if (!res || strcmp(res->resource, resource) != 0 || res->namespaced != namespaced) {
		res = arena_alloc(&d->arena, sizeof(*res));
		res->group = arena_strdup(&d->arena, group);
		res->version = arena_strdup(&d->arena, version);
		res->kind = arena_strdup(&d->arena, kind);
		res->resource = arena_strdup(&d->arena, resource);
		res->namespaced = namespaced;
		map_put(&d->pool, key, res);
	}
	map_put(into, key, res);
out:
	free(key);
}

/* Parses a JSON body into arena; the root, or NULL with err set. */
static const struct node *parse_body(struct arena *arena, const char *what,
				     const struct kube_response *r, struct error *err)
{
	struct vec docs = VEC_INIT;
	const struct node *root = NULL;

	if (yaml_parse(arena, what, r->body.data ? r->body.data : "", r->body.len, NULL, &docs,
		       err) < 0)
		goto out;
	if (docs.len != 1 || ((struct yaml_doc *)docs.items[0])->root->type != NODE_MAP) {
		error_set(err, ERR_INVALID, "%s: not a JSON object", what);
		goto out;
	}
	root = ((struct yaml_doc *)docs.items[0])->root;
out:
	vec_release(&docs, NULL);
	return root;
}

/* GET path; a failed status becomes an error. */
static int discovery_get(struct kube_client *c, const char *path, const char *accept,
			 struct kube_response *out, struct error *err)
{
	int rc = kube_request(c, "GET", path, NULL, NULL, 0, accept, out, err);

	if (rc < 0)
		return rc;
	if (out->status != 200) {
		rc = kube_status_error(out, err);
		error_prefix(err, "GET %s", path);
		kube_response_release(out);
	}
	return rc;
}

/* ---- aggregated ---- */

static bool is_aggregated(const struct kube_response *r)
{
	return r->content_type && strstr(r->content_type, "g=apidiscovery.k8s.io") &&
	       strstr(r->content_type, "as=APIGroupDiscoveryList");
}

static void add_aggregated(struct kube_discovery *d, struct map *into, const struct node *list)
{
	const struct node *items = node_get(list, "items");

	for (size_t i = 0; items && items->type == NODE_SEQ && i < items->count; i++) {
		const struct node *item = items->items[i];
		const char *group = node_string(node_get(node_get(item, "metadata"), "name"));
		const struct node *versions = node_get(item, "versions");

		for (size_t v = 0; versions && versions->type == NODE_SEQ && v < versions->count;
		     v++) {
			const char *version = node_string(node_get(versions->items[v], "version"));
			const struct node *resources = node_get(versions->items[v], "resources");

			if (!version)
				continue;
			for (size_t r = 0;
			     resources && resources->type == NODE_SEQ && r < resources->count;
			     r++) {
				const struct node *res = resources->items[r];
				const char *scope = node_string(node_get(res, "scope"));

				add_resource(d, into, group ? group : "", version,
					     node_string(node_get(node_get(res, "responseKind"),
								  "kind")),
					     node_string(node_get(res, "resource")),
					     scope && strcmp(scope, "Namespaced") == 0);
			}
		}
	}
}

/*
 * 1 when the server served aggregated discovery (into filled), 0 when it did
 * not (use the legacy endpoints), or an error.
 */
static int discover_aggregated(struct kube_client *c, struct kube_discovery *d, struct map *into,
			       struct error *err)
{
	static const char *const paths[] = {"/api", "/apis"};
	struct arena arena = ARENA_INIT;
	int rc = 1;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		struct kube_response r;
		const struct node *list;

		rc = discovery_get(c, paths[i], DISCOVERY_ACCEPT, &r, err);
		if (rc < 0)
			goto out;
		if (!is_aggregated(&r)) {
			kube_response_release(&r);
			rc = 0;
			goto out;
		}
		list = parse_body(&arena, paths[i], &r, err);
		kube_response_release(&r);
		if (!list) {
			rc = ERR_INVALID;
			goto out;
		}
		add_aggregated(d, into, list);
		rc = 1;
	}
out:
	arena_release(&arena);
	return rc;
}

/* ---- legacy ---- */

static void add_resource_list(struct kube_discovery *d, struct map *into, const char *group,
			      const char *version, const struct node *list)
{
	const struct node *resources = node_get(list, "resources");

	for (size_t i = 0; resources && resources->type == NODE_SEQ && i < resources->count; i++) {
		const struct node *res = resources->items[i];
		const struct node *namespaced = node_get(res, "namespaced");

		add_resource(d, into, group, version, node_string(node_get(res, "kind")),
			     node_string(node_get(res, "name")),
			     namespaced && namespaced->type == NODE_BOOL && namespaced->as.boolean);
	}
}

static int discover_legacy(struct kube_client *c, struct kube_discovery *d, struct map *into,
			   struct error *err)
{
	struct arena arena = ARENA_INIT;
	struct vec group_versions = VEC_INIT; /* "v1" (core) and "apps/v1": char * */
	struct kube_call *calls = NULL;
	struct kube_response r;
	const struct node *root, *list;
	size_t i, j;
	int rc;

	rc = discovery_get(c, "/api", NULL, &r, err);
	if (rc < 0)
		goto out;
	root = parse_body(&arena, "/api", &r, err);
	kube_response_release(&r);
	if (!root) {
		rc = ERR_INVALID;
		goto out;
	}
	list = node_get(root, "versions");
	for (i = 0; list && list->type == NODE_SEQ && i < list->count; i++)
		if (node_string(list->items[i]))
			vec_push(&group_versions, xasprintf("/api/%s", list->items[i]->str));

	rc = discovery_get(c, "/apis", NULL, &r, err);
	if (rc < 0)
		goto out;
	root = parse_body(&arena, "/apis", &r, err);
	kube_response_release(&r);
	if (!root) {
		rc = ERR_INVALID;
		goto out;
	}
	list = node_get(root, "groups");
	for (i = 0; list && list->type == NODE_SEQ && i < list->count; i++) {
		const struct node *versions = node_get(list->items[i], "versions");

		for (j = 0; versions && versions->type == NODE_SEQ && j < versions->count; j++) {
			const char *gv = node_string(node_get(versions->items[j], "groupVersion"));

			if (gv && strchr(gv, '/'))
				vec_push(&group_versions, xasprintf("/apis/%s", gv));
		}
	}

	calls = xcalloc(group_versions.len ? group_versions.len : 1, sizeof(*calls));
	for (i = 0; i < group_versions.len; i++) {
		calls[i].method = "GET";
		calls[i].path = group_versions.items[i];
	}
	kube_request_many(c, calls, group_versions.len, DISCOVERY_PARALLEL);
	for (i = 0; i < group_versions.len; i++) {
		struct kube_call *call = &calls[i];
		/* "/api/v1" or "/apis/apps/v1" */
		const char *gv = call->path + (strncmp(call->path, "/apis/", 6) == 0 ? 6 : 5);
		const char *slash = strrchr(gv, '/');
		struct error one = ERROR_INIT;
		char *group = slash ? xstrndup(gv, (size_t)(slash - gv)) : xstrdup("");
		const char *version = slash ? slash + 1 : gv;

		if (call->rc < 0) {
			/* the server is gone: nothing else will work either */
			rc = error_set(err, call->rc, "%s", call->err.msg);
			free(group);
			goto out;
		}
		if (call->response.status != 200) {
			/* an aggregated API that is down (503) must not hide the rest */
			kube_status_error(&call->response, &one);
			log_warn("discovery: GET %s: %s", call->path, one.msg);
		} else if ((root = parse_body(&arena, call->path, &call->response, &one))) {
			add_resource_list(d, into, group, version, root);
		} else {
			log_warn("discovery: %s", one.msg);
		}
		free(group);
	}
	rc = 0;
out:
	if (calls)
		for (i = 0; i < group_versions.len; i++)
			kube_response_release(&calls[i].response);
	free(calls);
	vec_release(&group_versions, free);
	arena_release(&arena);
	return rc;
}

/* ---- the interface ---- */

int kube_discover(struct kube_client *c, bool refresh, struct error *err)
{
	struct kube_discovery *d = discovery_of(c);
	struct map fresh = MAP_INIT;
	int rc = 0;

	if (d->done && !refresh)
		return 0;
	if (!d->legacy_only)
		rc = discover_aggregated(c, d, &fresh, err);
	if (rc == 0) {
		map_release(&fresh, NULL);
		rc = discover_legacy(c, d, &fresh, err);
	}
	if (rc < 0) {
		map_release(&fresh, NULL);
		return error_prefix(err, "discovery");
	}
	map_release(&d->current, NULL);
	d->current = fresh;
	d->done = true;
	return 0;
}

const struct kube_resource *kube_resource_find(struct kube_client *c, const char *group,
					       const char *version, const char *kind)
{
	struct kube_discovery *d = discovery_of(c);
	const struct kube_resource *res;
	char *key;

	/* Forgiving when the caller did not discover first; its errors show then. */
	if (!d->done && kube_discover(c, false, NULL) < 0)
		return NULL;
	key = resource_key(group ? group : "", version, kind);
	res = map_get(&d->current, key);
	free(key);
	return res;
}

/* Appends s with what is not safe in a path segment percent-encoded. */
static void add_segment(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~:@", ch)) {
			buf_addch(out, (char)ch);
		} else {
			buf_addch(out, '%');
			buf_addch(out, hex[ch >> 4]);
			buf_addch(out, hex[ch & 15]);
		}
	}
}

char *kube_object_path(const struct kube_resource *res, const char *namespace, const char *name)
{
	struct buf path = BUF_INIT;

	if (res->group[0])
		buf_addf(&path, "/apis/%s/%s", res->group, res->version);
	else
		buf_addf(&path, "/api/%s", res->version);
	if (res->namespaced && namespace && *namespace) {
		buf_addstr(&path, "/namespaces/");
		add_segment(&path, namespace);
	}
	buf_addf(&path, "/%s", res->resource);
	if (name) {
		buf_addch(&path, '/');
		add_segment(&path, name);
	}
	return buf_detach(&path, NULL);
}
