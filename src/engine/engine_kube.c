/*
 * The Kubernetes side of a reconcile.
 *
 * Plan: every object gets the destination's namespace (when it is namespaced
 * and has none) and the label plumb.dev/app, and is read live and dry-run
 * with server-side apply; the dry run's result compared with the live object
 * (without the fields the server manages) says whether it changes. An object
 * whose namespace or CustomResourceDefinition this very set creates cannot be
 * dry-run before they exist: it is checked right after stage 0, before any
 * other write. An object whose inventory hash and resourceVersion are both
 * as plumb left them is unchanged without a dry run.
 *
 * Apply: pending inventory entries first (one transaction), then stage 0
 * (CRDs and Namespaces, waiting until each CRD is Established and refreshing
 * discovery), stage 1 (other cluster-scoped objects), stage 2 (namespaced),
 * stage 3 (namespaced workloads: Deployments, StatefulSets, DaemonSets, Jobs,
 * ..., whose pods read what stage 2 applied), each stage's objects in parallel
 * over one HTTP/2 connection; then prunes in
 * reverse stage order with Background propagation, never an object without
 * plumb's label or annotated plumb.dev/prune: disabled. An entry is confirmed
 * only for an object the server accepted.
 */
#include "engine_int.h"

#include "targets/kube/kube.h"
#include "yaml/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FIELD_MANAGER	 "plumb"
#define APP_LABEL	 "plumb.dev/app"
#define PRUNE_ANNOTATION "plumb.dev/prune"
#define KUBE_PARALLEL	 64
#define CRD_GROUP	 "apiextensions.k8s.io"
#define CRD_WAIT_MS	 (60 * 1000)
#define CONNECT_ATTEMPTS 3

struct kube_target {
	struct kube_config *cfg;
	struct kube_client *client;
	struct arena arena; /* objects as applied, live, dry-run */
	struct map crds;    /* "group/version/kind" -> struct kube_resource * of a CRD in the set */
	const char *namespace;
};

void kube_target_free(struct kube_target *t)
{
	if (!t)
		return;
	kube_client_free(t->client);
	kube_config_free(t->cfg);
	map_release(&t->crds, NULL);
	arena_release(&t->arena);
	free(t);
}

/* ---- connection ---- */

/* Loads the config, runs a credential plugin if needed, and discovers (retrying). */
static int kube_connect(const struct app *app, struct kube_target **out, struct error *err)
{
	struct kube_config_opts o = {.kubeconfig = app->kubeconfig, .context = app->kube_context};
	struct kube_target *t = xcalloc(1, sizeof(*t));
	int rc;

	*out = t;
	if ((rc = kube_config_default(&o, &t->cfg, err)) < 0)
		return rc;
	if ((rc = kube_config_refresh(t->cfg, false, err)) < 0)
		return rc;
	if ((rc = kube_client_new(t->cfg, &t->client, err)) < 0)
		return rc;
	t->namespace = app->kube_namespace ? app->kube_namespace : t->cfg->namespace;
	/* an API server that is restarting or briefly unreachable gets a few tries */
	for (unsigned attempt = 1;; attempt++) {
		rc = kube_discover(t->client, false, err);
		if ((rc != ERR_NETWORK && rc != ERR_TIMEOUT) || attempt == CONNECT_ATTEMPTS)
			break;
		log_warn("%s: %s; trying again in %u s", app->name, err->msg, attempt);
		sleep(attempt);
		error_clear(err);
	}
	if (rc < 0)
		error_prefix(err, "Kubernetes API server %s (context '%s' of %s)", t->cfg->server,
			     t->cfg->context, t->cfg->source);
	return rc;
}

/* ---- helpers ---- */

/* One object (a mapping) from JSON text, in arena; NULL if it is not one. */
static struct node *parse_json(struct arena *arena, const char *what, const char *text, size_t len)
{
	struct vec docs = VEC_INIT;
	struct node *root = NULL;

	if (len && yaml_parse(arena, what, text, len, NULL, &docs, NULL) == 0 && docs.len == 1 &&
	    ((struct yaml_doc *)docs.items[0])->root->type == NODE_MAP)
		root = ((struct yaml_doc *)docs.items[0])->root;
	vec_release(&docs, NULL);
	return root;
}

static struct node *parse_object(struct arena *arena, const struct kube_response *r)
{
	return parse_json(arena, "response", r->body.data, r->body.len);
}

static const char *meta_string(const struct node *obj, const char *key)
{
	return node_string(node_get(node_get(obj, "metadata"), key));
}

static const char *label_of(const struct node *obj, const char *key)
{
	return node_string(node_get(node_get(node_get(obj, "metadata"), "labels"), key));
}

static const char *annotation_of(const struct node *obj, const char *key)
{
	return node_string(node_get(node_get(node_get(obj, "metadata"), "annotations"), key));
}

/* Flux's inventory id: "<namespace>_<name>_<group>_<kind>". */
static char *inventory_id(const char *ns, const char *name, const char *group, const char *kind)
{
	return xasprintf("%s_%s_%s_%s", ns ? ns : "", name, group ? group : "", kind);
}

/* Workloads start pods that read ConfigMaps, Secrets and ServiceAccounts: they go last. */
static bool is_workload(const char *group, const char *kind)
{
	static const char *const kinds[][2] = {
		{"", "Pod"},
		{"", "ReplicationController"},
		{"apps", "Deployment"},
		{"apps", "StatefulSet"},
		{"apps", "DaemonSet"},
		{"apps", "ReplicaSet"},
		{"batch", "Job"},
		{"batch", "CronJob"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (strcmp(group, kinds[i][0]) == 0 && strcmp(kind, kinds[i][1]) == 0)
			return true;
	return false;
}

static bool is_crd(const struct obj_id *id)
{
	return strcmp(id->group, CRD_GROUP) == 0 &&
	       strcmp(id->kind, "CustomResourceDefinition") == 0;
}

static bool is_namespace(const struct obj_id *id)
{
	return !id->group[0] && strcmp(id->kind, "Namespace") == 0;
}

/*
 * 0: CRDs and Namespaces; 1: other cluster-scoped objects; 2: namespaced
 * objects; 3: namespaced workloads, once what they use is there.
 */
static int stage_of(const char *group, const char *kind, bool namespaced)
{
	const struct obj_id id = {.group = group, .kind = kind};

	if (is_crd(&id) || is_namespace(&id))
		return 0;
	if (!namespaced)
		return 1;
	return is_workload(group, kind) ? 3 : 2;
}

/* The apply URL of a change: its path with the apply parameters. */
static char *apply_url(const struct app *app, const struct change *c, bool dry_run)
{
	return xasprintf("%s?fieldManager=" FIELD_MANAGER "&fieldValidation=Strict%s%s", c->url,
			 app->force_conflicts ? "&force=true" : "", dry_run ? "&dryRun=All" : "");
}

static void call_release(struct kube_call *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kube_response_release(&calls[i].response);
		free((char *)calls[i].path);
	}
	free(calls);
}

/* "Deployment/web (demo)" for messages; "Namespace/demo" when cluster-scoped. */
/* s with what may not appear in a query value percent-encoded (caller frees). */
static char *url_escape(const char *s)
{
	struct buf b = BUF_INIT;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			buf_addch(&b, (char)ch);
		else
			buf_addf(&b, "%%%02X", ch);
	}
	return buf_detach(&b, NULL);
}

static char *object_name(const struct change *c)
{
	return c->path && *c->path ? xasprintf("%s (%s)", c->display, c->path)
				   : xstrdup(c->display);
}

/* Adds advice to a refusal that has an obvious next step. */
static void add_hint(const struct app *app, int code, struct error *e)
{
	const char *hint = NULL;
	char *msg;

	if (code == ERR_CONFLICT && strstr(e->msg, "conflict with") && !app->force_conflicts)
		hint = "another field manager owns the field: stop setting it in Git, or set "
		       "forceConflicts: true in spec.destination.kubernetes to take it over";
	else if (code == ERR_AUTH)
		hint = "the kubeconfig's user may not do this: check its RBAC";
	if (!hint)
		return;
	msg = xstrdup(e->msg);
	error_set(e, code, "%s (%s)", msg, hint);
	free(msg);
}

/* A call's outcome: 0, or its failure in e (the server's Status, with advice). */
static int call_result(const struct app *app, const struct kube_call *k, struct error *e)
{
	int code = k->rc;

	if (code < 0)
		error_set(e, code, "%s", k->err.msg);
	else
		code = kube_status_error(&k->response, e);
	if (code < 0)
		add_hint(app, code, e);
	return code;
}

/* Server-side applies of each change in todo (dry runs if asked), to send at once. */
static struct kube_call *apply_calls(const struct app *app, struct change **todo, size_t n,
				     bool dry_run)
{
	struct kube_call *calls = xcalloc(n ? n : 1, sizeof(*calls));

	for (size_t i = 0; i < n; i++) {
		calls[i].method = "PATCH";
		calls[i].path = apply_url(app, todo[i], dry_run);
		calls[i].content_type = "application/apply-patch+yaml";
		calls[i].body = todo[i]->body;
		calls[i].len = strlen(todo[i]->body);
	}
	return calls;
}

/* ---- plan ---- */

/* The resources a CustomResourceDefinition of the set will serve, by "group/version/kind". */
static void note_crd(struct kube_target *t, const struct obj *obj)
{
	const struct node *spec = node_get(obj->root, "spec");
	const struct node *names = node_get(spec, "names");
	const char *group = node_string(node_get(spec, "group"));
	const char *kind = node_string(node_get(names, "kind"));
	const char *plural = node_string(node_get(names, "plural"));
	const char *scope = node_string(node_get(spec, "scope"));
	const struct node *versions = node_get(spec, "versions");

	if (!group || !kind || !plural || !versions || versions->type != NODE_SEQ)
		return; /* the dry run says what is wrong with it */
	for (size_t i = 0; i < versions->count; i++) {
		const char *version = node_string(node_get(versions->items[i], "name"));
		struct kube_resource *res;
		char *key;

		if (!version)
			continue;
		res = arena_alloc(&t->arena, sizeof(*res));
		res->group = arena_strdup(&t->arena, group);
		res->version = arena_strdup(&t->arena, version);
		res->kind = arena_strdup(&t->arena, kind);
		res->resource = arena_strdup(&t->arena, plural);
		res->namespaced = !scope || strcmp(scope, "Cluster") != 0;
		key = xasprintf("%s/%s/%s", group, version, kind);
		map_put(&t->crds, key, res);
		free(key);
	}
}

static const struct kube_resource *crd_resource(struct kube_target *t, const struct obj_id *id)
{
	char *key = xasprintf("%s/%s/%s", id->group, id->version, id->kind);
	const struct kube_resource *res = map_get(&t->crds, key);

	free(key);
	return res;
}

struct kplan {
	struct kube_target *t;
	const struct app *app;
	struct plan *plan;
	struct map keys; /* inventory id -> struct change * */
	struct error_list problems;
	bool refreshed;
};

/* The served resource of (group, version, kind), refreshing discovery once if unknown. */
static const struct kube_resource *find_resource(struct kplan *kp, const char *group,
						 const char *version, const char *kind)
{
	const struct kube_resource *res = kube_resource_find(kp->t->client, group, version, kind);

	if (!res && !kp->refreshed) {
		kp->refreshed = true;
		if (kube_discover(kp->t->client, true, NULL) == 0)
			res = kube_resource_find(kp->t->client, group, version, kind);
	}
	return res;
}

/* The change for a desired object: what to send, where, in which stage. */
static void add_desired(struct kplan *kp, const struct obj *obj)
{
	struct kube_target *t = kp->t;
	const struct obj_id *id = &obj->id;
	const struct kube_resource *res = find_resource(kp, id->group, id->version, id->kind);
	struct change *c;
	struct node *body, *meta, *labels;
	struct buf json = BUF_INIT;
	uint8_t digest[SHA256_LEN];
	const char *ns = NULL;
	bool deferred = false;

	if (!res && (res = crd_resource(t, id)))
		deferred = true; /* served once this set's CRD is applied */
	if (!res) {
		error_list_add(&kp->problems, ERR_INVALID,
			       "%s:%u: %s/%s: the API server does not serve kind '%s' in '%s%s%s' "
			       "(no CustomResourceDefinition in the cluster or in this set "
			       "defines it; 'kubectl api-resources' lists what it serves)",
			       obj->file, obj->line, id->kind, id->name, id->kind, id->group,
			       id->group[0] ? "/" : "", id->version);
		return;
	}
	body = node_clone(&t->arena, obj->root);
	meta = node_map_child(&t->arena, body, "metadata");
	if (res->namespaced) {
		ns = node_string(node_get(meta, "namespace"));
		if (!ns || !*ns) {
			ns = t->namespace;
			node_map_set(&t->arena, meta, "namespace", node_new_cstr(&t->arena, ns));
		}
	} else {
		node_map_del(meta, "namespace");
	}
	labels = node_map_child(&t->arena, meta, "labels");
	node_map_set(&t->arena, labels, APP_LABEL, node_new_cstr(&t->arena, kp->app->name));

	c = xcalloc(1, sizeof(*c));
	c->kube = true;
	c->key = inventory_id(ns, id->name, id->group, id->kind);
	c->display = xasprintf("%s/%s", id->kind, id->name);
	c->path = xstrdup(ns ? ns : "");
	c->desired = obj;
	c->kres = res;
	c->url = kube_object_path(res, ns, id->name);
	c->stage = stage_of(id->group, id->kind, res->namespaced);
	c->deferred = deferred;
	c->dryrun = body; /* until the server's answer replaces it */
	node_emit_json(body, 0, &json);
	c->body = buf_detach(&json, NULL);
	sha256(c->body, strlen(c->body), digest);
	hex_encode(digest, SHA256_LEN, c->hash);
	if (map_has(&kp->keys, c->key)) {
		const struct change *other = map_get(&kp->keys, c->key);

		error_list_add(&kp->problems, ERR_INVALID,
			       "%s:%u: %s: the same object as at %s:%u (one object per kind, "
			       "namespace and name)",
			       obj->file, obj->line, c->display, other->desired->file,
			       other->desired->line);
		change_free(c);
		return;
	}
	map_put(&kp->keys, c->key, c);
	vec_push(&kp->plan->changes, c);
}

/* One object's answer: the live object, nothing (404), or a problem. */
static void take_live(struct kplan *kp, struct change *c, const struct kube_call *k)
{
	struct error e = ERROR_INIT;
	char *name;
	int code;

	c->live = NULL;
	if (k->rc == 0 && k->response.status == 200) {
		c->live = parse_object(&kp->t->arena, &k->response);
		return;
	}
	if (k->rc == 0 && k->response.status == 404)
		return;
	name = object_name(c);
	code = call_result(kp->app, k, &e);
	error_list_add(&kp->problems, code, "%s: reading it: %s", name, e.msg);
	free(name);
}

/* Objects of one resource in one namespace, read with a list rather than one by one. */
struct list_group {
	const struct kube_resource *res;
	const char *namespace;
	struct vec changes; /* struct change * */
	struct map by_name; /* name -> struct change * */
};

#define LIST_AT_LEAST 16 /* fewer objects of a kind in a namespace are read one by one */
#define LIST_PAGE     500

static const char *change_name(const struct change *c)
{
	return c->desired ? c->desired->id.name : c->inventory->name;
}

/*
 * Lists a group's collection page by page and hands each listed item to the
 * change of that name (list items lack kind and apiVersion: they are set).
 * 0, or the error of a page (the caller then reads the objects one by one).
 */
static int list_group(struct kplan *kp, struct list_group *g, struct error *err)
{
	struct kube_target *t = kp->t;
	char *base = kube_object_path(g->res, g->namespace, NULL);
	char *api = g->res->group[0] ? xasprintf("%s/%s", g->res->group, g->res->version)
				     : xstrdup(g->res->version);
	char *cont = NULL;
	int rc = 0;

	do {
		struct kube_response r = {0};
		char *path = cont ? xasprintf("%s?limit=%d&continue=%s", base, LIST_PAGE, cont)
				  : xasprintf("%s?limit=%d", base, LIST_PAGE);
		struct node *list, *items;

		rc = kube_request(t->client, "GET", path, NULL, NULL, 0, NULL, &r, err);
		free(path);
		free(cont);
		cont = NULL;
		if (rc == 0 && (rc = kube_status_error(&r, err)) == 0) {
			list = parse_object(&t->arena, &r);
			items = node_get(list, "items");
			if (!list || !items || items->type != NODE_SEQ) {
				rc = error_set(err, ERR_INTERNAL, "the list's answer has no items");
			} else {
				const char *next = meta_string(list, "continue");

				for (size_t i = 0; i < items->count; i++) {
					struct node *item = items->items[i];
					const char *name = meta_string(item, "name");
					struct change *c = name ? map_get(&g->by_name, name) : NULL;

					if (!c)
						continue;
					node_map_set(&t->arena, item, "apiVersion",
						     node_new_cstr(&t->arena, api));
					node_map_set(&t->arena, item, "kind",
						     node_new_cstr(&t->arena, g->res->kind));
					c->live = item;
				}
				if (next && *next)
					cont = url_escape(next);
			}
		}
		kube_response_release(&r);
	} while (rc == 0 && cont);
	free(cont);
	free(base);
	free(api);
	return rc;
}

/*
 * Reads the live object of each change in todo (NULL when absent): many
 * objects of one kind in one namespace with a list, the rest with parallel
 * GETs. A 404 is not an error; anything else is a problem naming the object.
 */
static void read_live(struct kplan *kp, struct change **todo, size_t n)
{
	struct kube_call *calls = xcalloc(n ? n : 1, sizeof(*calls));
	struct change **single = xcalloc(n ? n : 1, sizeof(*single));
	struct map groups = MAP_INIT;
	struct vec order = VEC_INIT;
	struct list_group *g;
	size_t i, k, n_single = 0;

	for (i = 0; i < n; i++) {
		char *key = xasprintf("%s/%s/%s/%s", todo[i]->kres->group, todo[i]->kres->version,
				      todo[i]->kres->resource, todo[i]->path);

		todo[i]->live = NULL;
		if (!(g = map_get(&groups, key))) {
			g = xcalloc(1, sizeof(*g));
			g->res = todo[i]->kres;
			g->namespace = todo[i]->path;
			map_put(&groups, key, g);
			vec_push(&order, g);
		}
		vec_push(&g->changes, todo[i]);
		free(key);
	}
	vec_foreach (&order, i, g) {
		struct error e = ERROR_INIT;
		struct change *c;
		bool listed = false;

		if (g->changes.len >= LIST_AT_LEAST) {
			vec_foreach (&g->changes, k, c)
				map_put(&g->by_name, change_name(c), c);
			listed = list_group(kp, g, &e) == 0;
		}
		if (!listed)
			vec_foreach (&g->changes, k, c) {
				c->live = NULL;
				single[n_single++] = c;
			}
	}
	for (i = 0; i < n_single; i++) {
		calls[i].method = "GET";
		calls[i].path = xstrdup(single[i]->url);
	}
	kube_request_many(kp->t->client, calls, n_single, KUBE_PARALLEL);
	for (i = 0; i < n_single; i++)
		take_live(kp, single[i], &calls[i]);
	call_release(calls, n_single);
	vec_foreach (&order, i, g) {
		vec_release(&g->changes, NULL);
		map_release(&g->by_name, NULL);
		free(g);
	}
	vec_release(&order, NULL);
	map_release(&groups, NULL);
	free(single);
}

/*
 * Server-side dry runs of the changes in todo: each gets the would-be object
 * in dryrun, or a problem naming its file:line.
 */
static void dry_run(struct kube_target *t, const struct app *app, struct change **todo, size_t n,
		    struct error_list *problems)
{
	struct kube_call *calls = apply_calls(app, todo, n, true);

	kube_request_many(t->client, calls, n, KUBE_PARALLEL);
	for (size_t i = 0; i < n; i++) {
		struct change *c = todo[i];
		const struct kube_call *k = &calls[i];
		struct error e = ERROR_INIT;
		char *name = object_name(c);
		int code;

		if ((code = call_result(app, k, &e)) == 0) {
			struct node *obj = parse_object(&t->arena, &k->response);

			if (obj)
				c->dryrun = obj;
			else
				code = error_set(&e, ERR_INTERNAL,
						 "the dry run's answer is not an object");
		}
		if (code < 0)
			error_list_add(problems, code, "%s:%u: %s: %s", c->desired->file,
				       c->desired->line, name, e.msg);
		free(name);
	}
	call_release(calls, n);
}

/* Sets action, summary and diff of a desired change from live and dryrun. */
static void compare(struct kube_target *t, struct change *c)
{
	char *label = xasprintf("%s%s%s", c->path, *c->path ? "/" : "", c->display);
	struct node *want = kube_strip_server_fields(&t->arena, c->dryrun);

	if (!c->live) {
		c->action = ACTION_CREATE;
		kube_compare(NULL, want, label, NULL, &c->diff);
	} else {
		struct node *live = kube_strip_server_fields(&t->arena, c->live);

		c->action = kube_compare(live, want, label, &c->summary, &c->diff)
				    ? ACTION_UPDATE
				    : ACTION_UNCHANGED;
	}
	free(label);
}

/* Nothing touched it since plumb applied this very object: no dry run needed. */
static bool untouched(const struct change *c)
{
	const struct inventory_entry *e = c->inventory;
	const char *rv = c->live ? meta_string(c->live, "resourceVersion") : NULL;

	return e && !e->pending && rv && e->live_stamp[0] && strcmp(e->live_stamp, rv) == 0 &&
	       strcmp(e->hash, c->hash) == 0;
}

/* A change that removes (or keeps) what the inventory has and Git no longer does. */
static struct change *add_stale(struct kplan *kp, const struct inventory_entry *e)
{
	const struct node *obj =
		parse_json(&kp->t->arena, "inventory", e->object_json, strlen(e->object_json));
	const char *api, *kind, *name, *ns, *slash;
	const struct kube_resource *res = NULL;
	struct change *c = xcalloc(1, sizeof(*c));

	c->kube = true;
	c->key = xstrdup(e->key);
	c->inventory = e;
	c->action = ACTION_DELETE;
	api = node_string(node_get(obj, "apiVersion"));
	kind = node_string(node_get(obj, "kind"));
	name = meta_string(obj, "name");
	ns = meta_string(obj, "namespace");
	c->display = xasprintf("%s/%s", kind ? kind : e->kind, name ? name : e->name);
	c->path = xstrdup(ns ? ns : "");
	if (api && kind && name) {
		char *group = (slash = strchr(api, '/')) ? xstrndup(api, (size_t)(slash - api))
							 : xstrdup("");

		res = find_resource(kp, group, slash ? slash + 1 : api, kind);
		c->stage = stage_of(group, kind, res ? res->namespaced : ns != NULL);
		free(group);
	}
	if (res) {
		c->kres = res;
		c->url = kube_object_path(res, ns, name);
	} else {
		buf_addstr(&c->summary, "already gone: its kind is no longer served");
	}
	vec_push(&kp->plan->changes, c);
	return c;
}

/* Decides, from the live object, whether a stale object is pruned or kept. */
static void judge_stale(struct kplan *kp, struct change *c, bool prune)
{
	const char *owner = c->live ? label_of(c->live, APP_LABEL) : NULL;
	const char *policy = c->live ? annotation_of(c->live, PRUNE_ANNOTATION) : NULL;

	if (!c->url)
		return;
	if (!c->live) {
		buf_addstr(&c->summary, "already gone");
	} else if (!owner || strcmp(owner, kp->app->name) != 0) {
		c->keep = c->orphan = true;
		c->action = ACTION_UNCHANGED;
		buf_addf(&c->summary, "kept: it does not carry the label %s=%s", APP_LABEL,
			 kp->app->name);
	} else if (policy && strcmp(policy, "disabled") == 0) {
		c->keep = c->orphan = true;
		c->action = ACTION_UNCHANGED;
		buf_addstr(&c->summary, "kept: annotated " PRUNE_ANNOTATION ": disabled");
	} else if (!prune) {
		c->orphan = true;
		c->action = ACTION_UNCHANGED;
		kp->plan->orphans++;
	}
}

#define STAGES 4

/*
 * Puts the changes in stage order, keeping the render order within a stage:
 * what is applied first, stage by stage; then deletes, in reverse stage order.
 */
static void order_by_stage(struct vec *changes)
{
	struct vec sorted = VEC_INIT;
	struct change *c;
	size_t i;

	for (int s = 0; s < 2 * STAGES; s++) {
		bool deletes = s >= STAGES;
		int stage = deletes ? 2 * STAGES - 1 - s : s;

		vec_foreach (changes, i, c)
			if (!c->desired == deletes && c->stage == stage)
				vec_push(&sorted, c);
	}
	vec_release(changes, NULL);
	*changes = sorted;
}

int engine_kube_plan(struct store *store, const struct app *app, const struct engine_opts *opts,
		     struct engine_result *out, struct error *err)
{
	struct kplan kp = {.app = app, .plan = &out->plan};
	struct map inv = MAP_INIT, new_ns = MAP_INIT;
	struct vec todo = VEC_INIT;
	struct inventory_entry *e;
	struct change *c;
	const struct obj *obj;
	size_t i;
	int rc;

	if ((rc = kube_connect(app, &out->kube, err)) < 0)
		return rc;
	kp.t = out->kube;
	if ((rc = store_inventory_list(store, app->name, &out->inventory, err)) < 0)
		return rc;
	vec_foreach (&out->inventory, i, e)
		map_put(&inv, e->key, e);

	/* 1. what to send where */
	vec_foreach (&out->set->objs, i, obj)
		if (is_crd(&obj->id))
			note_crd(kp.t, obj);
	vec_foreach (&out->set->objs, i, obj)
		add_desired(&kp, obj);
	if ((rc = error_list_finish(&kp.problems, err)) < 0)
		goto out;
	vec_foreach (&out->plan.changes, i, c)
		c->inventory = map_get(&inv, c->key);

	/* 2. CRDs and Namespaces as they are: which namespaces are new */
	vec_foreach (&out->plan.changes, i, c)
		if (c->stage == 0)
			vec_push(&todo, c);
	read_live(&kp, (struct change **)todo.items, todo.len);
	vec_foreach (&todo, i, c)
		if (is_namespace(&c->desired->id) && !c->live)
			map_put(&new_ns, c->desired->id.name, NULL);
	todo.len = 0;

	/* 3. everything else as it is, and the objects plumb applied before */
	vec_foreach (&out->plan.changes, i, c) {
		if (c->stage >= 2 && map_has(&new_ns, c->path))
			c->deferred = true;
		if (c->stage != 0 && !c->deferred)
			vec_push(&todo, c);
	}
	vec_foreach (&out->inventory, i, e)
		if (!map_has(&kp.keys, e->key) && (c = add_stale(&kp, e))->url)
			vec_push(&todo, c);
	read_live(&kp, (struct change **)todo.items, todo.len);
	if ((rc = error_list_finish(&kp.problems, err)) < 0)
		goto out;

	/* 4. the dry run of what may change */
	todo.len = 0;
	vec_foreach (&out->plan.changes, i, c)
		if (c->desired && !c->deferred && !untouched(c))
			vec_push(&todo, c);
	dry_run(kp.t, app, (struct change **)todo.items, todo.len, &kp.problems);
	if ((rc = error_list_finish(&kp.problems, err)) < 0)
		goto out;

	/* 5. compare */
	vec_foreach (&out->plan.changes, i, c) {
		if (!c->desired)
			judge_stale(&kp, c, opts->prune < 0 ? app->prune : opts->prune > 0);
		else if (c->deferred || !untouched(c))
			compare(kp.t, c);
		else
			c->action = ACTION_UNCHANGED;
	}
	order_by_stage(&out->plan.changes);
	vec_foreach (&out->plan.changes, i, c)
		if (!c->orphan)
			out->plan.counts[c->action]++;
out:
	if (rc < 0)
		plan_release(&out->plan);
	error_list_finish(&kp.problems, NULL);
	map_release(&kp.keys, NULL);
	map_release(&inv, NULL);
	map_release(&new_ns, NULL);
	vec_release(&todo, NULL);
	return rc;
}

/* ---- health ---- */

static enum app_health worse(enum app_health a, enum kube_health h)
{
	enum app_health b = h == KUBE_CURRENT  ? HEALTH_HEALTHY
			    : h == KUBE_FAILED ? HEALTH_DEGRADED
					       : HEALTH_PROGRESSING;

	if (a == HEALTH_UNKNOWN)
		return b;
	return b > a ? b : a;
}

/* Health of the desired objects from their live state; the reasons into why. */
static enum app_health assess(const struct plan *plan, struct buf *why)
{
	enum app_health health = HEALTH_HEALTHY;
	int64_t now = (int64_t)time(NULL);
	struct buf reason = BUF_INIT;
	const struct change *c;
	size_t i;

	buf_reset(why);
	vec_foreach (&plan->changes, i, c) {
		enum kube_health h;
		char *name;

		if (!c->desired)
			continue;
		buf_reset(&reason);
		if (!c->live) {
			h = KUBE_IN_PROGRESS;
			buf_addstr(&reason, "not found");
		} else {
			h = kube_health_of(c->live, now, &reason);
		}
		health = worse(health, h);
		if (h == KUBE_CURRENT)
			continue;
		name = object_name(c);
		buf_addf(why, "%s: %s%s%s\n", name, kube_health_name(h), reason.len ? ": " : "",
			 reason.len ? reason.data : "");
		free(name);
	}
	buf_release(&reason);
	return health;
}

void engine_health(struct engine_result *res)
{
	if (!res->kube)
		return;
	res->health = assess(&res->plan, &res->health_why);
}

int engine_kube_wait(const struct app *app, const struct engine_opts *opts,
		     struct engine_result *res, struct error *err)
{
	uint64_t deadline = time_monotonic_ms() + app->health_timeout_ms;
	struct vec todo = VEC_INIT;
	struct kplan kp = {.t = res->kube, .app = app, .plan = &res->plan};
	struct change *c;
	size_t i;
	int rc = 0;

	vec_foreach (&res->plan.changes, i, c)
		if (c->desired && c->url)
			vec_push(&todo, c);
	for (unsigned round = 0;; round++) {
		if (round) {
			read_live(&kp, (struct change **)todo.items, todo.len);
			if ((rc = error_list_finish(&kp.problems, err)) < 0)
				break;
		}
		res->health = assess(&res->plan, &res->health_why);
		if (res->health == HEALTH_HEALTHY)
			break;
		if (engine_stop_requested()) {
			rc = error_set(err, ERR_CANCELED, "stopped by a signal");
			break;
		}
		if (time_monotonic_ms() >= deadline) {
			char *timeout = xasprintf(
				"%llus", (unsigned long long)(app->health_timeout_ms / 1000));

			res->health = HEALTH_DEGRADED;
			rc = error_set(err, ERR_TIMEOUT,
				       "not healthy after %s (spec.health.timeout):\n%.*s", timeout,
				       (int)(res->health_why.len ? res->health_why.len - 1 : 0),
				       res->health_why.data ? res->health_why.data : "");
			free(timeout);
			break;
		}
		if (opts->progress && round % 5 == 0 && res->health_why.len)
			fprintf(stderr, "waiting for health: %.*s\n",
				(int)strcspn(res->health_why.data, "\n"), res->health_why.data);
		usleep(round < 10 ? 200 * 1000 : 1000 * 1000);
	}
	error_list_finish(&kp.problems, NULL);
	vec_release(&todo, NULL);
	return rc;
}

/* ---- apply ---- */

static int put_entry(struct apply_ctx *ka, const struct change *c, bool pending, const char *stamp,
		     struct error *err)
{
	struct inventory_entry e = {0};

	e.key = c->key;
	e.kind = (char *)c->desired->id.kind;
	e.name = (char *)c->desired->id.name;
	e.path = c->path;
	e.hash = (char *)c->hash;
	e.revision = ka->res->commit.sha;
	e.created = c->inventory ? c->inventory->created : c->action == ACTION_CREATE;
	e.pending = pending;
	e.object_json = c->body;
	e.live_stamp = (char *)(stamp ? stamp : "");
	return store_inventory_put(ka->store, ka->app->name, &e, err);
}

/* What the inventory needs for an unchanged object: a newer stamp, or a new hash. */
static bool entry_stale(const struct change *c)
{
	const char *rv = c->live ? meta_string(c->live, "resourceVersion") : NULL;

	return !c->inventory || c->inventory->pending || strcmp(c->inventory->hash, c->hash) != 0 ||
	       !rv || strcmp(c->inventory->live_stamp, rv) != 0;
}

/*
 * One object the server refused or did not answer: the first failure of the
 * stage becomes err (prefixed with where, e.g. the object's file:line), and
 * the object is counted, shown and recorded as failed.
 */
static int object_failed(struct apply_ctx *ka, const struct change *c, const char *action,
			 const char *where, const struct error *e, int *failed, struct error *err)
{
	char *name = object_name(c);

	if (!*failed)
		*failed = error_set(err, e->code, "%s%s: %s", where, name, e->msg);
	free(name);
	ka->run->failed++;
	ka->res->failed++;
	engine_progress(ka, "FAILED", c, false);
	return engine_record_object(ka, c, action, "failed", e->msg, NULL);
}

/*
 * Applies the changes of one stage in parallel. Every answer is recorded: the
 * accepted ones confirmed in the inventory with their new resourceVersion, the
 * refused ones as failed (and a new object's pending entry dropped). Returns
 * the first failure.
 */
static int apply_stage(struct apply_ctx *ka, struct change **todo, size_t n, struct error *err)
{
	struct kube_target *t = ka->res->kube;
	struct kube_call *calls = apply_calls(ka->app, todo, n, false);
	int rc = 0, failed = 0;
	size_t i;

	kube_request_many(t->client, calls, n, KUBE_PARALLEL);
	if ((rc = store_begin(ka->store, err)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct change *c = todo[i];
		struct kube_call *k = &calls[i];
		struct error e = ERROR_INIT;

		if (call_result(ka->app, k, &e) == 0) {
			struct node *live = parse_object(&t->arena, &k->response);
			const char *rv = live ? meta_string(live, "resourceVersion") : NULL;

			if (live)
				c->live = live;
			rc = put_entry(ka, c, false, rv, err);
			if (rc == 0)
				rc = engine_record_object(ka, c, action_name(c->action), "ok", NULL,
							  err);
			if (c->action == ACTION_CREATE)
				ka->run->created++;
			else
				ka->run->updated++;
			ka->res->applied++;
			engine_progress(ka, c->action == ACTION_CREATE ? "created" : "updated", c,
					true);
		} else {
			char *where = xasprintf("%s:%u: ", c->desired->file, c->desired->line);

			/*
			 * A refused write leaves no entry behind for an object plumb never
			 * had. Without an answer (the server went away) it may have been
			 * applied: the pending entry stays, and the next sync sees it as
			 * managed.
			 */
			if (!c->inventory && k->rc == 0)
				rc = store_inventory_delete(ka->store, ka->app->name, c->key, NULL);
			if (rc == 0)
				rc = object_failed(ka, c, action_name(c->action), where, &e,
						   &failed, err);
			free(where);
		}
		if (rc < 0) {
			store_rollback(ka->store);
			goto out;
		}
	}
	rc = store_commit(ka->store, err);
out:
	call_release(calls, n);
	return rc < 0 ? rc : failed;
}

/* Waits until the CRDs applied in stage 0 are Established, then refreshes discovery. */
static int wait_crds(struct apply_ctx *ka, struct change **crds, size_t n, struct error *err)
{
	struct kube_target *t = ka->res->kube;
	uint64_t deadline = time_monotonic_ms() + CRD_WAIT_MS;
	struct kplan kp = {.t = t, .app = ka->app, .plan = &ka->res->plan};
	int rc = 0;

	for (;;) {
		size_t pending = 0, i;

		for (i = 0; i < n; i++) {
			struct buf why = BUF_INIT;
			enum kube_health h = crds[i]->live ? kube_health_of(crds[i]->live, 0, &why)
							   : KUBE_IN_PROGRESS;

			if (h == KUBE_FAILED) {
				char *name = object_name(crds[i]);

				rc = error_set(err, ERR_INVALID, "%s:%u: %s: %s",
					       crds[i]->desired->file, crds[i]->desired->line, name,
					       why.data ? why.data : "not accepted");
				free(name);
			}
			buf_release(&why);
			if (rc < 0)
				return rc;
			if (h != KUBE_CURRENT)
				crds[pending++] = crds[i];
		}
		if (!pending)
			break;
		if (time_monotonic_ms() >= deadline)
			return error_set(err, ERR_TIMEOUT, "%s: not Established after %d s",
					 crds[0]->display, CRD_WAIT_MS / 1000);
		n = pending;
		usleep(100 * 1000);
		read_live(&kp, crds, n);
		if ((rc = error_list_finish(&kp.problems, err)) < 0)
			return rc;
	}
	return kube_discover(t->client, true, err);
}

/* After stage 0: what this set's namespaces and CRDs held back is dry-run now. */
static int check_deferred(struct apply_ctx *ka, struct vec *deferred, struct error *err)
{
	struct kube_target *t = ka->res->kube;
	struct error_list problems = {0};
	struct change *c;
	size_t i;

	vec_foreach (deferred, i, c) {
		const struct obj_id *id = &c->desired->id;
		const struct kube_resource *res =
			kube_resource_find(t->client, id->group, id->version, id->kind);

		if (!res) {
			error_list_add(&problems, ERR_INVALID,
				       "%s:%u: %s: kind '%s' is still not served after its "
				       "CustomResourceDefinition was established",
				       c->desired->file, c->desired->line, c->display, id->kind);
			continue;
		}
		c->kres = res;
	}
	if (!problems.count)
		dry_run(t, ka->app, (struct change **)deferred->items, deferred->len, &problems);
	if (problems.count)
		return error_list_finish(&problems, err);
	vec_foreach (deferred, i, c)
		compare(t, c);
	return 0;
}

/* Deletes the stale objects of one stage, Background propagation. */
static int prune_stage(struct apply_ctx *ka, struct change **todo, size_t n, struct error *err)
{
	struct kube_target *t = ka->res->kube;
	struct kube_call *calls = xcalloc(n ? n : 1, sizeof(*calls));
	static const char options[] =
		"{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Background\"}";
	int rc = 0, failed = 0;
	size_t i, sent = 0;
	size_t *index = xcalloc(n ? n : 1, sizeof(*index));

	for (i = 0; i < n; i++) {
		if (!todo[i]->url || !todo[i]->live)
			continue; /* already gone */
		calls[sent].method = "DELETE";
		calls[sent].path = xstrdup(todo[i]->url);
		calls[sent].content_type = "application/json";
		calls[sent].body = options;
		calls[sent].len = sizeof(options) - 1;
		index[i] = ++sent;
	}
	kube_request_many(t->client, calls, sent, KUBE_PARALLEL);
	if ((rc = store_begin(ka->store, err)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct change *c = todo[i];
		struct kube_call *k = index[i] ? &calls[index[i] - 1] : NULL;
		struct error e = ERROR_INIT;
		/* no call: already gone; 404: gone meanwhile */
		int code = k && !(k->rc == 0 && k->response.status == 404)
				   ? call_result(ka->app, k, &e)
				   : 0;

		if (code == 0) {
			rc = store_inventory_delete(ka->store, ka->app->name, c->key, err);
			if (rc == 0)
				rc = engine_record_object(ka, c, "delete", "ok",
							  k ? NULL : c->summary.data, err);
			ka->run->deleted++;
			ka->res->applied++;
			engine_progress(ka, "deleted", c, true);
		} else {
			rc = object_failed(ka, c, "delete", "delete ", &e, &failed, err);
		}
		if (rc < 0) {
			store_rollback(ka->store);
			goto out;
		}
	}
	rc = store_commit(ka->store, err);
out:
	call_release(calls, sent);
	free(index);
	return rc < 0 ? rc : failed;
}

int engine_kube_apply(struct store *store, const struct app *app, const struct engine_opts *opts,
		      struct engine_result *res, struct store_run *run, struct error *err)
{
	struct apply_ctx ka = {.store = store, .app = app, .opts = opts, .res = res, .run = run};
	struct vec stage = VEC_INIT, crds = VEC_INIT, deferred = VEC_INIT;
	struct change *c;
	size_t i;
	int rc, s;

	ka.tty = isatty(STDERR_FILENO);
	ka.total = res->plan.counts[ACTION_CREATE] + res->plan.counts[ACTION_UPDATE] +
		   res->plan.counts[ACTION_DELETE];

	/* 1. pending entries: a crash from here on leaves them managed */
	if ((rc = store_begin(store, err)) < 0)
		return rc;
	vec_foreach (&res->plan.changes, i, c) {
		if (!c->desired || c->action == ACTION_UNCHANGED)
			continue;
		if ((rc = put_entry(&ka, c, true, NULL, err)) < 0) {
			store_rollback(store);
			return rc;
		}
	}
	if ((rc = store_commit(store, err)) < 0)
		return rc;

	/* 2. stages */
	for (s = 0; s < STAGES && rc == 0; s++) {
		if (engine_stop_requested()) {
			rc = error_set(err, ERR_CANCELED, "stopped by a signal");
			break;
		}
		if (s == 1) {
			/* stage 0 is in: its CRDs established, what waited on it checked */
			vec_foreach (&res->plan.changes, i, c) {
				if (c->desired && c->stage == 0 && is_crd(&c->desired->id) &&
				    c->action != ACTION_UNCHANGED)
					vec_push(&crds, c);
				if (c->desired && c->deferred)
					vec_push(&deferred, c);
			}
			if (crds.len &&
			    (rc = wait_crds(&ka, (struct change **)crds.items, crds.len, err)) < 0)
				break;
			if (deferred.len && (rc = check_deferred(&ka, &deferred, err)) < 0)
				break;
		}
		/* deferred objects are never in stage 0: checked by the time theirs comes */
		stage.len = 0;
		vec_foreach (&res->plan.changes, i, c)
			if (c->desired && c->stage == s && c->action != ACTION_UNCHANGED)
				vec_push(&stage, c);
		if (stage.len)
			rc = apply_stage(&ka, (struct change **)stage.items, stage.len, err);
	}

	/* 3. unchanged objects: a fresh stamp for the next sync's quick check */
	if (rc == 0 && (rc = store_begin(store, err)) == 0) {
		vec_foreach (&res->plan.changes, i, c) {
			if (!c->desired || c->action != ACTION_UNCHANGED || !entry_stale(c))
				continue;
			if ((rc = put_entry(&ka, c, false, meta_string(c->live, "resourceVersion"),
					    err)) < 0)
				break;
		}
		if (rc < 0)
			store_rollback(store);
		else
			rc = store_commit(store, err);
	}
	vec_foreach (&res->plan.changes, i, c)
		if (c->desired && c->action == ACTION_UNCHANGED)
			run->unchanged++;

	/* 4. prune, namespaced objects first */
	for (s = STAGES - 1; s >= 0 && rc == 0; s--) {
		if (engine_stop_requested()) {
			rc = error_set(err, ERR_CANCELED, "stopped by a signal");
			break;
		}
		stage.len = 0;
		vec_foreach (&res->plan.changes, i, c)
			if (!c->desired && c->stage == s && c->action == ACTION_DELETE &&
			    !c->orphan)
				vec_push(&stage, c);
		if (stage.len)
			rc = prune_stage(&ka, (struct change **)stage.items, stage.len, err);
	}
	/* objects kept from pruning are no longer plumb's */
	if (rc == 0 && (rc = store_begin(store, err)) == 0) {
		vec_foreach (&res->plan.changes, i, c) {
			if (!c->keep)
				continue;
			if ((rc = store_inventory_delete(store, app->name, c->key, err)) < 0 ||
			    (rc = engine_record_object(&ka, c, "delete", "skipped", c->summary.data,
						       err)) < 0)
				break;
		}
		if (rc < 0)
			store_rollback(store);
		else
			rc = store_commit(store, err);
	}
	vec_release(&stage, NULL);
	vec_release(&crds, NULL);
	vec_release(&deferred, NULL);
	return rc;
}
