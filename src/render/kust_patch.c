/*
 * patches, patchesStrategicMerge and patchesJson6902.
 *
 * Strategic merge follows what `kubectl kustomize` does, quirks included:
 * mappings merge key by key, `null` deletes, `$patch: delete|replace|merge`
 * directives on mappings and lists, and the lists that the built-in
 * Kubernetes kinds declare mergeable (containers by name, ports by port and
 * protocol, ...) merge element by element, the patch's elements first. Lists
 * of other kinds (custom resources) and other fields are replaced.
 * `$setElementOrder` and `$retainKeys` are not directives there: they are
 * copied like any other field, as kubectl does.
 *
 * JSON patches (RFC 6902) apply add, remove, replace, move, copy and test to
 * each selected object.
 */
#include "kust_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what the built-in kinds declare about their lists ---- */

/* The types of the Kubernetes schema that hold mergeable lists. */
enum smp_type {
	T_NONE, /* no schema: lists are replaced */
	T_ROOT,
	T_ROOT_POD,
	T_ROOT_POD_TEMPLATE,
	T_ROOT_WORKLOAD,
	T_ROOT_CRONJOB,
	T_ROOT_SERVICE,
	T_ROOT_SERVICE_ACCOUNT,
	T_ROOT_WEBHOOKS,
	T_META,
	T_POD_TEMPLATE,
	T_POD_SPEC,
	T_CONTAINER,
	T_WORKLOAD_SPEC,
	T_JOB_TEMPLATE,
	T_CRONJOB_SPEC,
	T_SERVICE_SPEC,
	T_STATUS,
};

/*
 * A field of a schema type: its value's type and, for a mergeable list, its
 * merge keys (none: a list of scalars merged by value).
 */
struct smp_field {
	enum smp_type parent;
	const char *name;
	enum smp_type type;
	bool merge_list;
	const char *keys[2];
};

static const struct smp_field smp_fields[] = {
	{T_ROOT, "metadata", T_META, false, {NULL, NULL}},
	{T_ROOT_POD, "metadata", T_META, false, {NULL, NULL}},
	{T_ROOT_POD, "spec", T_POD_SPEC, false, {NULL, NULL}},
	{T_ROOT_POD, "status", T_STATUS, false, {NULL, NULL}},
	{T_ROOT_POD_TEMPLATE, "metadata", T_META, false, {NULL, NULL}},
	{T_ROOT_POD_TEMPLATE, "template", T_POD_TEMPLATE, false, {NULL, NULL}},
	{T_ROOT_WORKLOAD, "metadata", T_META, false, {NULL, NULL}},
	{T_ROOT_WORKLOAD, "spec", T_WORKLOAD_SPEC, false, {NULL, NULL}},
	{T_ROOT_WORKLOAD, "status", T_STATUS, false, {NULL, NULL}},
	{T_ROOT_CRONJOB, "metadata", T_META, false, {NULL, NULL}},
	{T_ROOT_CRONJOB, "spec", T_CRONJOB_SPEC, false, {NULL, NULL}},
	{T_ROOT_SERVICE, "metadata", T_META, false, {NULL, NULL}},
	{T_ROOT_SERVICE, "spec", T_SERVICE_SPEC, false, {NULL, NULL}},
	{T_ROOT_SERVICE_ACCOUNT, "metadata", T_META, false, {NULL, NULL}},
	{T_ROOT_SERVICE_ACCOUNT, "secrets", T_NONE, true, {"name", NULL}},
	{T_ROOT_WEBHOOKS, "metadata", T_META, false, {NULL, NULL}},
	{T_ROOT_WEBHOOKS, "webhooks", T_NONE, true, {"name", NULL}},
	{T_META, "finalizers", T_NONE, true, {NULL, NULL}},
	{T_META, "ownerReferences", T_NONE, true, {"uid", NULL}},
	{T_POD_TEMPLATE, "metadata", T_META, false, {NULL, NULL}},
	{T_POD_TEMPLATE, "spec", T_POD_SPEC, false, {NULL, NULL}},
	{T_WORKLOAD_SPEC, "template", T_POD_TEMPLATE, false, {NULL, NULL}},
	{T_JOB_TEMPLATE, "metadata", T_META, false, {NULL, NULL}},
	{T_JOB_TEMPLATE, "spec", T_WORKLOAD_SPEC, false, {NULL, NULL}},
	{T_CRONJOB_SPEC, "jobTemplate", T_JOB_TEMPLATE, false, {NULL, NULL}},
	{T_POD_SPEC, "containers", T_CONTAINER, true, {"name", NULL}},
	{T_POD_SPEC, "initContainers", T_CONTAINER, true, {"name", NULL}},
	{T_POD_SPEC, "ephemeralContainers", T_CONTAINER, true, {"name", NULL}},
	{T_POD_SPEC, "volumes", T_NONE, true, {"name", NULL}},
	{T_POD_SPEC, "imagePullSecrets", T_NONE, true, {"name", NULL}},
	{T_POD_SPEC, "hostAliases", T_NONE, true, {"ip", NULL}},
	{T_POD_SPEC,
	 "topologySpreadConstraints",
	 T_NONE,
	 true,
	 {"topologyKey", "whenUnsatisfiable"}},
	{T_CONTAINER, "ports", T_NONE, true, {"containerPort", "protocol"}},
	{T_CONTAINER, "env", T_NONE, true, {"name", NULL}},
	{T_CONTAINER, "volumeMounts", T_NONE, true, {"mountPath", NULL}},
	{T_CONTAINER, "volumeDevices", T_NONE, true, {"devicePath", NULL}},
	{T_SERVICE_SPEC, "ports", T_NONE, true, {"port", "protocol"}},
	{T_STATUS, "conditions", T_NONE, true, {"type", NULL}},
};

static const struct smp_field *smp_field_of(enum smp_type parent, const char *name)
{
	if (parent == T_NONE)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(smp_fields); i++)
		if (smp_fields[i].parent == parent && strcmp(smp_fields[i].name, name) == 0)
			return &smp_fields[i];
	return NULL;
}

/* The built-in kinds (as of the schema kubectl's kustomize embeds) and their root types. */
struct smp_kind {
	const char *group;
	const char *versions; /* space-separated */
	const char *kind;
	enum smp_type type;
};

static const struct smp_kind smp_kinds[] = {
	{"", "v1", "Pod", T_ROOT_POD},
	{"", "v1", "PodTemplate", T_ROOT_POD_TEMPLATE},
	{"", "v1", "ReplicationController", T_ROOT_WORKLOAD},
	{"", "v1", "Service", T_ROOT_SERVICE},
	{"", "v1", "ServiceAccount", T_ROOT_SERVICE_ACCOUNT},
	{"", "v1", "ConfigMap", T_ROOT},
	{"", "v1", "Secret", T_ROOT},
	{"", "v1", "Namespace", T_ROOT},
	{"", "v1", "Endpoints", T_ROOT},
	{"", "v1", "LimitRange", T_ROOT},
	{"", "v1", "ResourceQuota", T_ROOT},
	{"", "v1", "PersistentVolume", T_ROOT},
	{"", "v1", "PersistentVolumeClaim", T_ROOT},
	{"", "v1", "Node", T_ROOT},
	{"", "v1", "Event", T_ROOT},
	{"", "v1", "Binding", T_ROOT},
	{"", "v1", "ComponentStatus", T_ROOT},
	{"apps", "v1", "Deployment", T_ROOT_WORKLOAD},
	{"apps", "v1", "StatefulSet", T_ROOT_WORKLOAD},
	{"apps", "v1", "DaemonSet", T_ROOT_WORKLOAD},
	{"apps", "v1", "ReplicaSet", T_ROOT_WORKLOAD},
	{"apps", "v1", "ControllerRevision", T_ROOT},
	{"batch", "v1", "Job", T_ROOT_WORKLOAD},
	{"batch", "v1 v1beta1", "CronJob", T_ROOT_CRONJOB},
	{"admissionregistration.k8s.io", "v1 v1beta1", "MutatingWebhookConfiguration",
	 T_ROOT_WEBHOOKS},
	{"admissionregistration.k8s.io", "v1 v1beta1", "ValidatingWebhookConfiguration",
	 T_ROOT_WEBHOOKS},
	{"networking.k8s.io", "v1 v1beta1", "Ingress", T_ROOT},
	{"networking.k8s.io", "v1 v1beta1", "IngressClass", T_ROOT},
	{"networking.k8s.io", "v1", "NetworkPolicy", T_ROOT},
	{"extensions", "v1beta1", "Ingress", T_ROOT},
	{"rbac.authorization.k8s.io", "v1 v1beta1", "Role", T_ROOT},
	{"rbac.authorization.k8s.io", "v1 v1beta1", "ClusterRole", T_ROOT},
	{"rbac.authorization.k8s.io", "v1 v1beta1", "RoleBinding", T_ROOT},
	{"rbac.authorization.k8s.io", "v1 v1beta1", "ClusterRoleBinding", T_ROOT},
	{"policy", "v1 v1beta1", "PodDisruptionBudget", T_ROOT},
	{"policy", "v1beta1", "PodSecurityPolicy", T_ROOT},
	{"autoscaling", "v1 v2beta1 v2beta2", "HorizontalPodAutoscaler", T_ROOT},
	{"storage.k8s.io", "v1 v1beta1", "StorageClass", T_ROOT},
	{"storage.k8s.io", "v1 v1beta1", "VolumeAttachment", T_ROOT},
	{"storage.k8s.io", "v1 v1beta1", "CSIDriver", T_ROOT},
	{"storage.k8s.io", "v1 v1beta1", "CSINode", T_ROOT},
	{"apiextensions.k8s.io", "v1 v1beta1", "CustomResourceDefinition", T_ROOT},
	{"apiregistration.k8s.io", "v1 v1beta1", "APIService", T_ROOT},
	{"scheduling.k8s.io", "v1 v1beta1", "PriorityClass", T_ROOT},
	{"coordination.k8s.io", "v1 v1beta1", "Lease", T_ROOT},
	{"certificates.k8s.io", "v1 v1beta1", "CertificateSigningRequest", T_ROOT},
	{"discovery.k8s.io", "v1 v1beta1", "EndpointSlice", T_ROOT},
	{"node.k8s.io", "v1 v1beta1", "RuntimeClass", T_ROOT},
	{"events.k8s.io", "v1 v1beta1", "Event", T_ROOT},
	{"flowcontrol.apiserver.k8s.io", "v1beta1", "FlowSchema", T_ROOT},
	{"flowcontrol.apiserver.k8s.io", "v1beta1", "PriorityLevelConfiguration", T_ROOT},
	{"storage.k8s.io", "v1beta1", "CSIStorageCapacity", T_ROOT},
};

static bool word_in(const char *words, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = words; *p;) {
		const char *end = strchr(p, ' ');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == len && strncmp(p, word, len) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

static enum smp_type smp_root_type(const struct node *obj)
{
	const char *api_version = node_string(node_get(obj, "apiVersion"));
	const char *kind = node_string(node_get(obj, "kind"));
	const char *slash;
	size_t group_len;
	const char *version;

	if (!api_version || !kind)
		return T_NONE;
	slash = strchr(api_version, '/');
	group_len = slash ? (size_t)(slash - api_version) : 0;
	version = slash ? slash + 1 : api_version;
	for (size_t i = 0; i < ARRAY_SIZE(smp_kinds); i++) {
		const struct smp_kind *k = &smp_kinds[i];

		if (strcmp(k->kind, kind) == 0 && strlen(k->group) == group_len &&
		    strncmp(k->group, api_version, group_len) == 0 && word_in(k->versions, version))
			return k->type;
	}
	return T_NONE;
}

/* ---- strategic merge ---- */

struct smp {
	struct kbuild *b;
	struct error *err;
};

enum smp_directive { DIRECTIVE_NONE, DIRECTIVE_MERGE, DIRECTIVE_REPLACE, DIRECTIVE_DELETE };

#define PATCH_KEY "$patch"

static bool is_null(const struct node *n)
{
	return !n || n->type == NODE_NULL;
}

static bool is_scalar(const struct node *n)
{
	return n->type != NODE_MAP && n->type != NODE_SEQ;
}

/* The text kustomize compares merge keys by: a scalar's text, "" for anything else. */
static const char *value_text(const struct node *n)
{
	return n && is_scalar(n) ? n->str : "";
}

/* A key's value as kustomize lists merge keys: "" when absent, null or empty. */
static const char *key_text(const struct node *elem, const char *key)
{
	const struct node *v = elem && elem->type == NODE_MAP ? node_get(elem, key) : NULL;

	if (is_null(v) || !is_scalar(v))
		return "";
	return v->str;
}

static int directive_of(struct smp *m, const struct node *value, enum smp_directive *out)
{
	const char *s = value_text(value);

	if (strcmp(s, "merge") == 0)
		*out = DIRECTIVE_MERGE;
	else if (strcmp(s, "replace") == 0)
		*out = DIRECTIVE_REPLACE;
	else if (strcmp(s, "delete") == 0)
		*out = DIRECTIVE_DELETE;
	else
		return error_set(m->err, ERR_INVALID, "unknown patch strategy '%s'", s);
	return 0;
}

/* A mapping's `$patch` directive (DIRECTIVE_NONE without one). */
static int map_directive(struct smp *m, const struct node *patch, enum smp_directive *out)
{
	const struct node *v = node_get(patch, PATCH_KEY);

	*out = DIRECTIVE_NONE;
	return v ? directive_of(m, v, out) : 0;
}

/* A list's directive: an element that holds only `$patch`. */
static int list_directive(struct smp *m, const struct node *patch, enum smp_directive *out)
{
	*out = DIRECTIVE_NONE;
	for (size_t i = 0; i < patch->count; i++) {
		const struct node *item = patch->items[i];

		if (item->type != NODE_MAP || !node_get(item, PATCH_KEY))
			continue;
		if (item->count > 1)
			return 0;
		return directive_of(m, node_get(item, PATCH_KEY), out);
	}
	return 0;
}

/* A copy of list without its directive elements (and without null or empty ones). */
static struct node *list_without_directive(struct smp *m, const struct node *list)
{
	struct node *copy = node_new_seq(m->b->arena, list->count);

	for (size_t i = 0; i < list->count; i++) {
		const struct node *item = list->items[i];

		if (is_null(item) || (item->type == NODE_MAP && item->count == 0))
			continue;
		if (item->type == NODE_MAP && node_get(item, PATCH_KEY))
			continue;
		node_seq_push(m->b->arena, copy, (struct node *)item);
	}
	return copy;
}

static int merge_value(struct smp *m, enum smp_type type, const struct smp_field *field,
		       struct node *dest, const struct node *patch, struct node **out);

static int type_mismatch(struct smp *m, const struct node *dest, const struct node *patch)
{
	return error_set(m->err, ERR_INVALID,
			 "cannot merge %s (patch, line %u) into %s (line %u): the types differ",
			 node_type_name(patch->type), patch->line, node_type_name(dest->type),
			 dest->line);
}

/* Merges the fields of patch (NULL: none) into the mapping dest, in place. */
static int merge_fields(struct smp *m, enum smp_type type, struct node *dest,
			const struct node *patch)
{
	size_t dest_count = dest->count;
	const char **keys = arena_alloc(m->b->arena, (dest_count + 1) * sizeof(*keys));
	int rc;

	for (size_t i = 0; i < dest_count; i++)
		keys[i] = dest->pairs[i].key->str;
	for (size_t i = 0; i < dest_count + (patch ? patch->count : 0); i++) {
		const char *key;
		const struct smp_field *field;
		struct node *have, *val;

		if (i < dest_count) {
			key = keys[i];
		} else {
			key = patch->pairs[i - dest_count].key->str;
			if (node_get(dest, key) || strcmp(key, PATCH_KEY) == 0)
				continue;
		}
		field = smp_field_of(type, key);
		have = node_get(dest, key);
		if ((rc = merge_value(m, field ? field->type : T_NONE, field, have,
				      patch ? node_get(patch, key) : NULL, &val)) < 0)
			return rc;
		if (val == have && have)
			continue;
		if (!val || val->type == NODE_NULL)
			node_map_del(dest, key);
		else
			node_map_set(m->b->arena, dest, key, val);
	}
	return 0;
}

static bool is_directive_text(const char *s)
{
	return strcmp(s, "merge") == 0 || strcmp(s, "replace") == 0 || strcmp(s, "delete") == 0;
}

/*
 * Merges a mapping. What the patch adds or replaces is merged into itself
 * (dest and patch the same copy), the way kustomize walks new subtrees: their
 * nulls go, their directives apply.
 */
static int merge_map(struct smp *m, enum smp_type type, struct node *dest, const struct node *patch,
		     struct node **out)
{
	enum smp_directive directive = DIRECTIVE_NONE;
	bool self = false;
	int rc;

	*out = NULL;
	if (is_null(dest)) {
		/* added from the patch; an unknown directive is then kept as a field */
		if (strcmp(value_text(node_get(patch, PATCH_KEY)), "delete") == 0)
			return 0;
		dest = node_clone(m->b->arena, patch);
		self = true;
	} else if (patch && patch->type == NODE_NULL) {
		return 0;
	} else if (patch) {
		if ((rc = map_directive(m, patch, &directive)) < 0)
			return rc;
		if (directive == DIRECTIVE_DELETE)
			return 0;
		if (directive == DIRECTIVE_REPLACE)
			dest = node_clone(m->b->arena, patch);
		self = directive == DIRECTIVE_REPLACE || dest == patch;
	}
	if (self) {
		if (is_directive_text(value_text(node_get(dest, PATCH_KEY))))
			node_map_del(dest, PATCH_KEY);
		patch = dest;
	}
	if ((rc = merge_fields(m, type, dest, patch)) < 0)
		return rc;
	*out = dest;
	return 0;
}

/* ---- mergeable lists, element by element ---- */

#define MAX_KEYS 2

/* The merge-key values of one element; "" for a key it lacks. */
struct key_values {
	const char *v[MAX_KEYS];
	size_t n;
};

/* A list being rebuilt (struct node *). */
struct list {
	struct node **items;
	size_t len;
	size_t cap;
};

static void list_push(struct smp *m, struct list *l, struct node *item)
{
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct node **items = arena_alloc(m->b->arena, cap * sizeof(*items));

		if (l->len)
			memcpy(items, l->items, l->len * sizeof(*items));
		l->items = items;
		l->cap = cap;
	}
	l->items[l->len++] = item;
}

static void list_from_seq(struct smp *m, struct list *l, const struct node *seq)
{
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < seq->count; i++)
		list_push(m, l, seq->items[i]);
}

static bool key_values_equal(const struct key_values *a, const struct key_values *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/* Does one element field (or, with key "", a scalar element) match value? */
static bool setter_field_matches(const struct node *elem, const char *key, const char *value)
{
	const struct node *v;

	if (!*key)
		return is_scalar(elem) && strcmp(elem->str, value) == 0;
	if (elem->type != NODE_MAP || !(v = node_get(elem, key)))
		return false;
	/* an empty value matches any value, as in kustomize */
	return !*value || strcmp(value_text(v), value) == 0;
}

/*
 * kustomize's element setter: drops null and empty elements, then replaces the
 * elements matching keys = values by elem (or removes them when elem is NULL);
 * appends elem when none matched.
 */
static void element_set(struct smp *m, struct list *l, struct node *elem, const char *const *keys,
			size_t nkeys, const char *const *values, size_t nvalues)
{
	bool mapping_setter = nkeys > 0 && *keys[0] && nvalues > 0 && *values[0];
	bool found_any = false;
	size_t kept = 0;

	for (size_t i = 0; i < l->len; i++) {
		struct node *item = l->items[i];
		bool found = nvalues > 0;

		if (is_null(item) || (item->type == NODE_MAP && item->count == 0))
			continue;
		if (item->type != NODE_MAP && mapping_setter) {
			l->items[kept++] = item;
			continue;
		}
		for (size_t k = 0; k < nkeys && k < nvalues && found; k++)
			found = setter_field_matches(item, keys[k], values[k]);
		if (!found) {
			if (nvalues > 0)
				l->items[kept++] = item;
			continue;
		}
		found_any = true;
		if (elem)
			l->items[kept++] = elem;
	}
	l->len = kept;
	if (elem && !found_any)
		list_push(m, l, elem);
}

/* The first element whose keys hold exactly values (key "": a scalar equal to it). */
static struct node *element_find(const struct node *seq, const char *const *keys, size_t nkeys,
				 const char *const *values)
{
	if (!seq || seq->type != NODE_SEQ)
		return NULL;
	for (size_t i = 0; i < seq->count; i++) {
		struct node *item = seq->items[i];
		bool match = true;

		if (nkeys == 1 && !*keys[0]) {
			if (strcmp(value_text(item), values[0]) == 0 && !is_null(item))
				return item;
			continue;
		}
		if (item->type != NODE_MAP)
			continue;
		for (size_t k = 0; k < nkeys && match; k++) {
			const struct node *v = node_get(item, keys[k]);

			match = v && strcmp(value_text(v), values[k]) == 0;
		}
		if (match)
			return item;
	}
	return NULL;
}

/*
 * The keys worth matching on: those with a value somewhere in all, the
 * values for them from one (all keys when none has a value).
 */
static void valid_keys(const struct key_values *all, size_t nall, const struct key_values *one,
		       const char *const *keys, size_t nkeys, const char **out_keys,
		       size_t *out_nkeys, const char **out_values, size_t *out_nvalues)
{
	bool has[MAX_KEYS] = {false, false};
	bool any = false;

	for (size_t i = 0; i < nall; i++)
		for (size_t k = 0; k < all[i].n && k < nkeys; k++)
			if (*all[i].v[k])
				has[k] = any = true;
	*out_nkeys = *out_nvalues = 0;
	for (size_t k = 0; k < nkeys; k++) {
		if (!any || has[k])
			out_keys[(*out_nkeys)++] = keys[k];
		if (!any || *one->v[k] || has[k])
			out_values[(*out_nvalues)++] = one->v[k];
	}
}

/* Two key tuples name one element when they agree wherever both have a value. */
static bool key_values_join(const struct key_values *a, const struct key_values *b,
			    struct key_values *out)
{
	bool common = false;

	if (a->n != b->n)
		return false;
	out->n = a->n;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i], b->v[i]) == 0) {
			common = true;
			out->v[i] = a->v[i];
		} else if (*a->v[i] && *b->v[i]) {
			return false;
		} else {
			out->v[i] = *a->v[i] ? a->v[i] : b->v[i];
		}
	}
	return common;
}

static void join_key_values(struct key_values *all, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct key_values first = all[i], joined;

		for (size_t j = 0; j < n; j++)
			if (key_values_join(&first, &all[j], &joined))
				all[i] = all[j] = joined;
	}
}

/* Every element's key values, the patch's elements first, each tuple once. */
static struct key_values *collect_key_values(struct smp *m, const struct node *patch,
					     const struct node *dest, const char *const *keys,
					     size_t nkeys, bool primitive, size_t *count)
{
	const struct node *sources[2] = {patch, dest};
	size_t cap = (patch ? patch->count : 0) + (dest ? dest->count : 0);
	struct key_values *all = arena_alloc(m->b->arena, (cap + 1) * sizeof(*all));
	size_t n = 0;

	for (size_t s = 0; s < 2; s++) {
		if (!sources[s] || sources[s]->type != NODE_SEQ)
			continue;
		for (size_t i = 0; i < sources[s]->count; i++) {
			const struct node *item = sources[s]->items[i];
			struct key_values kv = {{"", ""}, primitive ? 1 : nkeys};
			bool seen = false;

			for (size_t k = 0; k < kv.n; k++)
				kv.v[k] = primitive ? value_text(item) : key_text(item, keys[k]);
			for (size_t j = 0; j < n && !seen; j++)
				seen = key_values_equal(&all[j], &kv);
			if (!seen)
				all[n++] = kv;
		}
	}
	*count = n;
	return all;
}

/* Puts dest's elements after items, the way kustomize prepends a patch's new elements. */
static void append_dest(struct smp *m, struct list *items, const struct node *dest,
			const char *const *keys, size_t nkeys)
{
	for (size_t i = 0; i < dest->count; i++) {
		struct node *elem = dest->items[i];
		const char *values[MAX_KEYS];
		size_t nvalues = 0;

		if (!*keys[0]) {
			const char *v = value_text(elem);

			element_set(m, items, elem, keys, 1, &v, 1);
			continue;
		}
		for (size_t k = 0; k < nkeys; k++) {
			const struct node *v =
				elem->type == NODE_MAP ? node_get(elem, keys[k]) : NULL;

			if (!v)
				list_push(m, items, elem);
			else
				values[nvalues++] = value_text(v);
		}
		if (nkeys > 1)
			element_set(m, items, NULL, keys, nkeys, values, nvalues);
		element_set(m, items, elem, keys, nkeys, values, nvalues);
	}
}

static void list_to_seq(struct node *seq, const struct list *l)
{
	seq->items = l->items;
	seq->count = l->len;
}

/* Merges one element's matches in dest and patch; *out NULL when it is to go. */
static int merge_element(struct smp *m, const struct smp_field *field, const struct node *dest,
			 const struct node *patch, const char *const *keys, size_t nkeys,
			 const char *const *values, size_t nvalues, struct node **out)
{
	const char *find_keys[MAX_KEYS], *find_values[MAX_KEYS];
	size_t nfind_keys, nfind_values;
	struct key_values one = {{"", ""}, nvalues};

	for (size_t i = 0; i < nvalues && i < MAX_KEYS; i++)
		one.v[i] = values[i];
	valid_keys(&one, 1, &one, keys, nkeys, find_keys, &nfind_keys, find_values, &nfind_values);
	return merge_value(m, field->type, NULL,
			   element_find(dest, find_keys, nfind_keys, find_values),
			   element_find(patch, find_keys, nfind_keys, find_values), out);
}

static int merge_elements(struct smp *m, const struct smp_field *field, struct node *dest,
			  const struct node *patch)
{
	bool primitive = !field->keys[0];
	const char *prim_key = "";
	const char *const *keys = primitive ? &prim_key : field->keys;
	size_t nkeys = primitive ? 1 : (field->keys[1] ? 2 : 1);
	struct key_values *all;
	size_t nall;
	const char *vkeys[MAX_KEYS], *vvalues[MAX_KEYS];
	size_t nvkeys = 0, nvvalues = 0;
	struct list items = {NULL, 0, 0}, dest_list;
	int rc;

	all = collect_key_values(m, patch, dest, keys, nkeys, primitive, &nall);
	if (nkeys > 1)
		join_key_values(all, nall);
	for (size_t i = 0; i < nall; i++) {
		struct node *val;

		valid_keys(all, nall, &all[i], keys, nkeys, vkeys, &nvkeys, vvalues, &nvvalues);
		if ((rc = merge_element(m, field, dest, patch, vkeys, nvkeys, vvalues, nvvalues,
					&val)) < 0)
			return rc;
		if (is_null(val) || (val->type == NODE_MAP && val->count == 0)) {
			list_from_seq(m, &dest_list, dest);
			element_set(m, &dest_list, NULL, vkeys, nvkeys, vvalues, nvvalues);
			list_to_seq(dest, &dest_list);
			continue;
		}
		for (size_t k = 0; k < nvkeys && k < nvvalues && val->type == NODE_MAP; k++)
			if (*vkeys[k] && !node_get(val, vkeys[k]) && *vvalues[k])
				node_map_set(m->b->arena, val, vkeys[k],
					     node_new_cstr(m->b->arena, vvalues[k]));
		element_set(m, &items, val, vkeys, nvkeys, vvalues, nvvalues);
	}
	if (nall > 0) {
		append_dest(m, &items, dest, vkeys, nvkeys);
		list_to_seq(dest, &items);
	}
	return 0;
}

/* A list the schema declares mergeable. */
static int merge_list(struct smp *m, const struct smp_field *field, struct node *dest,
		      const struct node *patch, struct node **out)
{
	enum smp_directive directive = DIRECTIVE_NONE;
	int rc;

	*out = NULL;
	if (is_null(dest)) {
		/* added as it is written, directives included, then merged into itself */
		dest = node_clone(m->b->arena, patch);
		patch = dest;
	} else if (patch && patch->type == NODE_NULL) {
		return 0;
	} else if (patch) {
		if ((rc = list_directive(m, patch, &directive)) < 0)
			return rc;
		if (directive == DIRECTIVE_DELETE)
			return 0;
		if (directive != DIRECTIVE_NONE) {
			struct node *without = list_without_directive(m, patch);

			if (dest == patch) {
				dest->items = without->items;
				dest->count = without->count;
			} else {
				patch = without;
			}
		}
		if (directive == DIRECTIVE_REPLACE) {
			dest = node_clone(m->b->arena, patch);
			patch = dest;
		}
	}
	if ((rc = merge_elements(m, field, dest, patch)) < 0)
		return rc;
	*out = dest;
	return 0;
}

/*
 * Merges patch into dest (either may be NULL). *out is the value to keep: dest
 * itself (edited in place), a new node, or NULL when the field is to go.
 */
static int merge_value(struct smp *m, enum smp_type type, const struct smp_field *field,
		       struct node *dest, const struct node *patch, struct node **out)
{
	const struct node *first = !is_null(dest) ? dest : patch;

	*out = NULL;
	if (is_null(first)) {
		/* nulls: one the patch does not touch stays when written as null or ~ */
		if (!patch && dest && dest->len > 0)
			*out = dest;
		return 0;
	}
	if (!is_null(dest) && !is_null(patch) &&
	    (dest->type == NODE_MAP || patch->type == NODE_MAP || dest->type == NODE_SEQ ||
	     patch->type == NODE_SEQ) &&
	    dest->type != patch->type)
		return type_mismatch(m, dest, patch);
	if (first->type == NODE_MAP)
		return merge_map(m, type, dest, patch, out);
	if (first->type == NODE_SEQ && field && field->merge_list)
		return merge_list(m, field, dest, patch, out);
	if (!patch || patch == dest) {
		*out = dest;
		return 0;
	}
	if (patch->type != NODE_NULL)
		*out = node_clone(m->b->arena, patch);
	return 0;
}

/*
 * Merges patch into target in place. When the patch deletes the object
 * (`$patch: delete`), target is left an empty mapping.
 */
int kust_strategic_merge(struct kbuild *b, struct node *target, const struct node *patch,
			 struct error *err)
{
	struct smp m = {b, err};
	struct node *out;
	int rc;

	if (target->type != NODE_MAP || !patch || patch->type != NODE_MAP)
		return error_set(err, ERR_INVALID, "a strategic merge patch must be a mapping");
	if ((rc = merge_value(&m, smp_root_type(target), NULL, target, patch, &out)) < 0)
		return rc;
	/* like kubectl, `$patch: replace` on the whole object changes nothing */
	if (!out)
		target->count = 0;
	return 0;
}

/* ---- JSON patches (RFC 6902) ---- */

struct json_op {
	const char *op;
	const char *path;
	const char *from;
	const struct node *value;
	const struct node *at;
	size_t index;
};

/* Splits a JSON pointer into its decoded tokens; false unless it starts with '/'. */
static bool pointer_split(struct kbuild *b, const char *pointer, struct vec *tokens)
{
	const char *p = pointer;

	if (*p != '/')
		return false;
	while (*p == '/') {
		const char *end = strchr(p + 1, '/');
		size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
		char *tok = arena_alloc(b->arena, n + 1);
		size_t len = 0;

		for (size_t i = 0; i < n; i++) {
			char c = p[1 + i];

			if (c == '~' && i + 1 < n && (p[2 + i] == '0' || p[2 + i] == '1')) {
				tok[len++] = p[2 + i] == '0' ? '~' : '/';
				i++;
			} else {
				tok[len++] = c;
			}
		}
		tok[len] = '\0';
		vec_push(tokens, tok);
		p += 1 + n;
	}
	return true;
}

/* An array index token: digits only, no leading zero; -1 when not one. */
static long index_of(const char *tok)
{
	long v = 0;

	if (!*tok || (tok[0] == '0' && tok[1]))
		return -1;
	for (const char *p = tok; *p; p++) {
		if (*p < '0' || *p > '9' || v > 100000000)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

static struct node *child_of(struct node *n, const char *tok)
{
	long i;

	if (!n)
		return NULL;
	if (n->type == NODE_MAP)
		return node_get(n, tok);
	if (n->type == NODE_SEQ && (i = index_of(tok)) >= 0 && (size_t)i < n->count)
		return n->items[i];
	return NULL;
}

/* The container of pointer's last token; NULL when the path is missing. */
static struct node *pointer_parent(struct kbuild *b, struct node *root, const char *pointer,
				   const char **last)
{
	struct vec tokens = VEC_INIT;
	struct node *n = root;

	*last = NULL;
	if (!pointer_split(b, pointer, &tokens)) {
		vec_release(&tokens, NULL);
		return NULL;
	}
	for (size_t i = 0; i + 1 < tokens.len && n; i++)
		n = child_of(n, tokens.items[i]);
	*last = tokens.len ? tokens.items[tokens.len - 1] : "";
	vec_release(&tokens, NULL);
	return n;
}

static struct node *pointer_get(struct kbuild *b, struct node *root, const char *pointer)
{
	const char *last;
	struct node *parent;

	if (!*pointer)
		return root;
	parent = pointer_parent(b, root, pointer, &last);
	return child_of(parent, last);
}

static int op_error(struct error *err, const struct json_op *op, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

static int op_error(struct error *err, const struct json_op *op, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(err, ERR_INVALID, "operation %zu (%s '%s'): %s", op->index, op->op,
			 op->path, msg);
}

static int json_add(struct kbuild *b, struct node *root, const struct json_op *op, const char *path,
		    struct node *value, struct error *err)
{
	const char *last;
	struct node *parent = pointer_parent(b, root, path, &last);
	long i;

	if (!parent || parent->type == NODE_NULL || is_scalar(parent))
		return op_error(err, op, "the path '%s' does not exist", path);
	if (parent->type == NODE_MAP) {
		node_map_set(b->arena, parent, last, value);
		return 0;
	}
	if (strcmp(last, "-") == 0) {
		node_seq_push(b->arena, parent, value);
		return 0;
	}
	if ((i = index_of(last)) < 0 || (size_t)i > parent->count)
		return op_error(err, op, "invalid index '%s' in '%s' (the list has %zu items)",
				last, path, parent->count);
	node_seq_insert(b->arena, parent, (size_t)i, value);
	return 0;
}

static int json_remove(struct kbuild *b, struct node *root, const struct json_op *op,
		       const char *path, struct error *err)
{
	const char *last;
	struct node *parent = pointer_parent(b, root, path, &last);
	long i;

	if (parent && parent->type == NODE_MAP) {
		if (!node_map_del(parent, last))
			return op_error(err, op, "there is no key '%s' to remove at '%s'", last,
					path);
		return 0;
	}
	if (parent && parent->type == NODE_SEQ) {
		if ((i = index_of(last)) < 0 || (size_t)i >= parent->count)
			return op_error(err, op,
					"invalid index '%s' in '%s' (the list has %zu items)", last,
					path, parent->count);
		node_seq_del(parent, (size_t)i);
		return 0;
	}
	return op_error(err, op, "the path '%s' does not exist", path);
}

static int json_replace(struct kbuild *b, struct node *root, const struct json_op *op,
			struct node *value, struct error *err)
{
	const char *last;
	struct node *parent = pointer_parent(b, root, op->path, &last);
	long i;

	if (parent && parent->type == NODE_MAP) {
		/* like kustomize, a missing key is added */
		node_map_set(b->arena, parent, last, value);
		return 0;
	}
	if (parent && parent->type == NODE_SEQ) {
		if ((i = index_of(last)) < 0 || (size_t)i >= parent->count)
			return op_error(err, op,
					"invalid index '%s' in '%s' (the list has %zu items)", last,
					op->path, parent->count);
		parent->items[i] = value;
		return 0;
	}
	return op_error(err, op, "the path '%s' does not exist", op->path);
}

static int json_apply_op(struct kbuild *b, struct node *root, const struct json_op *op,
			 struct error *err)
{
	struct node *from;

	if (strcmp(op->op, "add") == 0)
		return json_add(b, root, op, op->path, node_clone(b->arena, op->value), err);
	if (strcmp(op->op, "remove") == 0)
		return json_remove(b, root, op, op->path, err);
	if (strcmp(op->op, "replace") == 0)
		return json_replace(b, root, op, node_clone(b->arena, op->value), err);
	if (strcmp(op->op, "test") == 0) {
		const struct node *have = pointer_get(b, root, op->path);

		if (!node_equal(have ? have : node_new_null(b->arena), op->value))
			return op_error(err, op, "the value at '%s' is not the one expected",
					op->path);
		return 0;
	}
	from = pointer_get(b, root, op->from);
	if (strcmp(op->op, "copy") == 0)
		return json_add(b, root, op, op->path,
				from ? node_clone(b->arena, from) : node_new_null(b->arena), err);
	/* move */
	if (!from)
		return op_error(err, op, "the path '%s' to move from does not exist", op->from);
	if (strcmp(op->from, op->path) == 0)
		return 0;
	if (json_remove(b, root, op, op->from, err) < 0)
		return ERR_INVALID;
	return json_add(b, root, op, op->path, from, err);
}

static const char *const json_op_names[] = {"add", "remove", "replace", "move", "copy", "test"};

/* Where a patch's text comes from: a file, or a string in the kustomization. */
struct patch_src {
	const char *file;
	const struct node *inline_at; /* the kustomization's string holding it, or NULL */
};

/*
 * An error about node n of a patch: at n in its file, or for an inline
 * patch at the string holding it, with n's line inside the patch.
 */
static int patch_error(const struct klevel *lv, const struct patch_src *src, const struct node *n,
		       int code, struct error *err, const char *fmt, ...) PRINTF_LIKE(6, 7);

static int patch_error(const struct klevel *lv, const struct patch_src *src, const struct node *n,
		       int code, struct error *err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (src->inline_at)
		return kust_error(lv, NULL, src->inline_at, code, err, "inline patch line %u: %s",
				  n->line, msg);
	return kust_error(lv, src->file, n, code, err, "%s", msg);
}

static bool yaml11_bool(const char *s, bool *value)
{
	static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"};
	static const char *const no[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF"};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *value = true, true;
		if (strcmp(s, no[i]) == 0)
			return *value = false, true;
	}
	return false;
}

/*
 * kustomize reads a JSON patch written in YAML with YAML 1.1's rules, where
 * plain y, yes, on, n, no, off (in any of their spellings) are booleans.
 */
static const struct node *yaml11_value(struct kbuild *b, const struct node *n)
{
	struct node *copy;
	bool value;

	if (n->type == NODE_STRING && n->style == STYLE_PLAIN && yaml11_bool(n->str, &value))
		return node_new_bool(b->arena, value);
	if (n->type != NODE_MAP && n->type != NODE_SEQ)
		return n;
	copy = node_clone(b->arena, n);
	for (size_t i = 0; i < copy->count; i++) {
		if (copy->type == NODE_MAP)
			copy->pairs[i].value = (struct node *)yaml11_value(b, copy->pairs[i].value);
		else
			copy->items[i] = (struct node *)yaml11_value(b, copy->items[i]);
	}
	return copy;
}

/* Reads one operation of a JSON patch, checking its fields. */
static int json_op_parse(const struct klevel *lv, const struct patch_src *src,
			 const struct node *item, size_t index, bool yaml, struct json_op *op,
			 struct error *err)
{
	const char *name;
	bool known = false;

	memset(op, 0, sizeof(*op));
	op->at = item;
	op->index = index;
	if (item->type != NODE_MAP)
		return patch_error(lv, src, item, ERR_INVALID, err,
				   "JSON patch operation %zu must be a mapping", index);
	name = node_string(node_get(item, "op"));
	if (!name)
		return patch_error(lv, src, item, ERR_INVALID, err,
				   "JSON patch operation %zu has no 'op'", index);
	for (size_t i = 0; i < ARRAY_SIZE(json_op_names); i++)
		known |= strcmp(name, json_op_names[i]) == 0;
	if (!known)
		return patch_error(lv, src, node_get(item, "op"), ERR_INVALID, err,
				   "JSON patch operation %zu: unknown op '%s' (expected add, "
				   "remove, replace, move, copy or test)",
				   index, name);
	op->op = name;
	op->path = node_string(node_get(item, "path"));
	if (!op->path || (*op->path && *op->path != '/'))
		return patch_error(lv, src, item, ERR_INVALID, err,
				   "JSON patch operation %zu (%s): 'path' must be a JSON pointer "
				   "starting with '/'",
				   index, name);
	if (strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) {
		op->from = node_string(node_get(item, "from"));
		if (!op->from || (*op->from && *op->from != '/'))
			return patch_error(lv, src, item, ERR_INVALID, err,
					   "JSON patch operation %zu (%s '%s'): 'from' must be a "
					   "JSON pointer starting with '/'",
					   index, name, op->path);
	}
	if (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0 || strcmp(name, "test") == 0) {
		op->value = node_get(item, "value");
		if (op->value && yaml)
			op->value = yaml11_value(lv->b, op->value);
		if (!op->value)
			return patch_error(lv, src, item, ERR_INVALID, err,
					   "JSON patch operation %zu (%s '%s') has no 'value'",
					   index, name, op->path);
	}
	if (!*op->path && strcmp(name, "test") != 0)
		return patch_error(lv, src, item, ERR_UNSUPPORTED, err,
				   "JSON patch operation %zu (%s): an empty path (the whole "
				   "object) is not supported",
				   index, name);
	return 0;
}

/* ---- identities ---- */

/* kustomize's spelling of an identity in messages: Kind.version.group/name.namespace */
static const char *id_string(struct kbuild *b, const struct obj_id *id)
{
	char *s = xasprintf("%s.%s.%s/%s.%s", *id->kind ? id->kind : "[noKind]",
			    *id->version ? id->version : "[noVer]",
			    *id->group ? id->group : "[noGrp]", id->name,
			    *id->namespace ? id->namespace : "[noNs]");
	const char *copy = arena_strdup(b->arena, s);

	free(s);
	return copy;
}

static const char *effective_namespace(const struct obj_id *id)
{
	if (kust_cluster_scoped(id->group, id->kind))
		return "";
	return *id->namespace ? id->namespace : "default";
}

static char *id_key(const struct obj_id *id)
{
	return xasprintf("%s\x1f%s\x1f%s\x1f%s\x1f%s", id->group, id->version, id->kind,
			 effective_namespace(id), id->name);
}

/* Identity of a patch, from its own fields. */
static void patch_id(struct kbuild *b, const struct node *patch, struct obj_id *id)
{
	const char *api_version = node_string(node_get(patch, "apiVersion"));
	const struct node *meta = node_get(patch, "metadata");
	const char *s;

	kust_split_api_version(b, api_version ? api_version : "", &id->group, &id->version);
	id->kind = (s = node_string(node_get(patch, "kind"))) ? s : "";
	id->name = (s = node_string(node_get(meta, "name"))) ? s : "";
	id->namespace = (s = node_string(node_get(meta, "namespace"))) ? s : "";
}

/*
 * Resources by every identity they have or had, for patches that name their
 * target. A slot holds the resource, or MANY when several share the key.
 */
struct id_index {
	struct map by_id;
	bool stale;
};

static char many_marker;
#define MANY ((void *)&many_marker)

static void index_put(struct id_index *ix, const struct obj_id *id, struct kres *r)
{
	char *key = id_key(id);
	void *have = map_get(&ix->by_id, key);

	if (!have)
		map_put(&ix->by_id, key, r);
	else if (have != r)
		map_put(&ix->by_id, key, MANY);
	free(key);
}

static void index_build(struct id_index *ix, struct vec *set)
{
	struct kres *r;
	size_t i, j;

	map_release(&ix->by_id, NULL);
	ix->by_id = (struct map)MAP_INIT;
	vec_foreach (set, i, r) {
		struct obj_id cur;
		const struct obj_id *prev;

		if (r->mark)
			continue;
		kres_id(r, &cur);
		index_put(ix, &cur, r);
		vec_foreach (&r->prev, j, prev)
			index_put(ix, prev, r);
	}
	ix->stale = false;
}

/* kustomize's words for a patch that names no resource, or several. */
static const char *describe_miss(struct kbuild *b, const char *what, const char *id)
{
	char *msg =
		xasprintf("%s for Id %s; failed to find unique target for patch %s", what, id, id);
	const char *copy = arena_strdup(b->arena, msg);

	free(msg);
	return copy;
}

/* The one resource the patch names; NULL (and *why) otherwise. */
static struct kres *index_find(struct kbuild *b, struct id_index *ix, struct vec *set,
			       const struct node *patch, const char **why)
{
	struct obj_id id;
	char *key;
	void *r;

	if (ix->stale)
		index_build(ix, set);
	patch_id(b, patch, &id);
	key = id_key(&id);
	r = map_get(&ix->by_id, key);
	free(key);
	if (r && r != MANY)
		return r;
	*why = id_string(b, &id);
	*why = describe_miss(b, r ? "multiple matches" : "no matches", *why);
	return NULL;
}

/* Drops the resources marked deleted. */
static void set_compact(struct vec *set)
{
	size_t kept = 0;

	for (size_t i = 0; i < set->len; i++) {
		struct kres *r = set->items[i];

		if (!r->mark)
			set->items[kept++] = r;
	}
	set->len = kept;
}

static void set_unmark(struct vec *set)
{
	struct kres *r;
	size_t i;

	vec_foreach (set, i, r)
		r->mark = 0;
}

/* ---- applying patches to resources ---- */

struct patch_opts {
	bool allow_name_change;
	bool allow_kind_change;
};

static void set_meta_string(struct kbuild *b, struct kres *r, const char *key, const char *value)
{
	struct node *meta = node_map_child(b->arena, r->root, "metadata");

	if (!*value)
		node_map_del(meta, key);
	else
		node_map_set(b->arena, meta, key, node_new_cstr(b->arena, value));
}

static void set_string(struct kbuild *b, struct node *map, const char *key, const char *value)
{
	if (!*value)
		node_map_del(map, key);
	else
		node_map_set(b->arena, map, key, node_new_cstr(b->arena, value));
}

/*
 * Records a change of name or kind made by a patch in r's history: the old
 * identity goes to r->prev the way a rename does.
 */
static void note_identity_change(struct kbuild *b, struct kres *r, const char *old_name,
				 const char *old_ns, const char *old_kind)
{
	const char *name = arena_strdup(b->arena, kres_name(r));
	const char *ns = arena_strdup(b->arena, kres_namespace(r));
	const char *kind = arena_strdup(b->arena, kres_kind(r));

	if (strcmp(name, old_name) == 0 && strcmp(ns, old_ns) == 0 && strcmp(kind, old_kind) == 0)
		return;
	set_meta_string(b, r, "name", old_name);
	set_meta_string(b, r, "namespace", old_ns);
	set_string(b, r->root, "kind", old_kind);
	kres_rename(b, r, name, NULL);
	set_meta_string(b, r, "namespace", ns);
	set_string(b, r->root, "kind", kind);
}

/*
 * Applies one strategic merge patch to r the way kustomize does: the name
 * and kind stay unless the options allow them to change, the namespace and
 * apiVersion always stay. Marks r when the patch deletes it.
 */
static int apply_smp(struct kbuild *b, struct kres *r, const struct node *patch,
		     const struct patch_opts *opts, struct error *err)
{
	const char *name = arena_strdup(b->arena, kres_name(r));
	const char *ns = arena_strdup(b->arena, kres_namespace(r));
	const char *kind = arena_strdup(b->arena, kres_kind(r));
	const struct node *api_version = node_get(r->root, "apiVersion");
	int rc;

	if ((rc = kust_strategic_merge(b, r->root, patch, err)) < 0)
		return rc;
	if (r->root->type != NODE_MAP || r->root->count == 0) {
		r->mark = 1;
		return 0;
	}
	if (api_version)
		node_map_set(b->arena, r->root, "apiVersion", (struct node *)api_version);
	if (!opts->allow_kind_change)
		set_string(b, r->root, "kind", kind);
	if (!opts->allow_name_change)
		set_meta_string(b, r, "name", name);
	set_meta_string(b, r, "namespace", ns);
	note_identity_change(b, r, name, ns, kind);
	return 0;
}

static int apply_json(struct kbuild *b, struct kres *r, const struct json_op *ops, size_t nops,
		      struct error *err)
{
	const char *name = arena_strdup(b->arena, kres_name(r));
	const char *ns = arena_strdup(b->arena, kres_namespace(r));
	const char *kind = arena_strdup(b->arena, kres_kind(r));
	int rc;

	for (size_t i = 0; i < nops; i++)
		if ((rc = json_apply_op(b, r->root, &ops[i], err)) < 0)
			return error_prefix(err, "%s", kres_display(b, r));
	note_identity_change(b, r, name, ns, kind);
	return 0;
}

/* ---- reading patches ---- */

/* A patch's text parsed: SMP documents, or the operations of a JSON patch. */
struct patch_text {
	const char *file; /* for messages */
	struct vec docs;  /* const struct node *: strategic merge patches */
	struct json_op *ops;
	size_t nops;
	bool json;
};

static int parse_patch(const struct klevel *lv, const struct patch_src *src, const char *data,
		       size_t len, const struct node *at, struct patch_text *out, struct error *err)
{
	struct vec docs = VEC_INIT;
	struct yaml_doc *doc;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	out->file = src->file;
	if ((rc = yaml_parse(lv->b->arena, src->file, data, len, NULL, &docs, err)) < 0)
		goto out;
	if (docs.len == 1 && ((struct yaml_doc *)docs.items[0])->root->type == NODE_SEQ) {
		const struct node *seq = ((struct yaml_doc *)docs.items[0])->root;
		bool starts_json = len > 0 && data[0] == '[';

		out->json = true;
		out->nops = seq->count;
		out->ops = arena_alloc(lv->b->arena, (seq->count + 1) * sizeof(*out->ops));
		for (i = 0; i < seq->count; i++)
			if ((rc = json_op_parse(lv, src, seq->items[i], i, !starts_json,
						&out->ops[i], err)) < 0)
				goto out;
		if (seq->count == 0)
			rc = kust_error(lv, NULL, at, ERR_INVALID, err, "the JSON patch is empty");
		goto out;
	}
	vec_foreach (&docs, i, doc) {
		if (doc->root->type != NODE_MAP) {
			rc = patch_error(lv, src, doc->root, ERR_INVALID, err,
					 "a strategic merge patch must be a mapping, not %s",
					 node_type_name(doc->root->type));
			goto out;
		}
		if (!node_string(node_get(doc->root, "kind"))) {
			rc = patch_error(lv, src, doc->root, ERR_INVALID, err,
					 "a strategic merge patch needs a 'kind'");
			goto out;
		}
		vec_push(&out->docs, doc->root);
	}
	if (out->docs.len == 0)
		rc = kust_error(lv, NULL, at, ERR_INVALID, err, "the patch is empty");
out:
	if (rc < 0)
		vec_release(&out->docs, NULL);
	vec_release(&docs, NULL);
	return rc;
}

/*
 * A patch written inline in the kustomization: its problems are reported at
 * the node that holds it, the lines inside it counted from its first line.
 */
static int parse_inline_patch(const struct klevel *lv, const struct node *text,
			      struct patch_text *out, struct error *err)
{
	char *label = xasprintf("%s:%u: inline patch", lv->file, text->line);
	struct patch_src src = {arena_strdup(lv->b->arena, label), text};

	free(label);
	return parse_patch(lv, &src, text->str, text->len, text, out, err);
}

static void patch_text_release(struct patch_text *t)
{
	vec_release(&t->docs, NULL);
}

/* Reads a patch given as `path` (a file) or `patch` (inline text) of an entry. */
static int read_patch(const struct klevel *lv, const struct node *entry, struct patch_text *out,
		      struct error *err)
{
	const struct node *path = node_get(entry, "path");
	const struct node *inline_patch = node_get(entry, "patch");
	struct patch_src src = {NULL, NULL};
	const char *data;
	size_t len;
	int rc;

	if (path && inline_patch)
		return kust_error(lv, NULL, entry, ERR_INVALID, err,
				  "a patch may have 'path' or 'patch', not both");
	if (!path && !inline_patch)
		return kust_error(lv, NULL, entry, ERR_INVALID, err,
				  "a patch needs 'path' or 'patch'");
	if (path) {
		if (!node_string(path))
			return kust_error(lv, NULL, path, ERR_INVALID, err,
					  "'path' must be a string");
		if ((rc = kust_read_file(lv, path, path->str, &data, &len, &src.file, err)) < 0)
			return rc;
		return parse_patch(lv, &src, data, len, path, out, err);
	}
	if (!node_string(inline_patch))
		return kust_error(lv, NULL, inline_patch, ERR_INVALID, err,
				  "'patch' must be a string");
	return parse_inline_patch(lv, inline_patch, out, err);
}

static int read_options(const struct klevel *lv, const struct node *n, struct patch_opts *opts,
			struct error *err)
{
	memset(opts, 0, sizeof(*opts));
	if (is_null(n))
		return 0;
	if (n->type != NODE_MAP)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "'options' must be a mapping");
	for (size_t i = 0; i < n->count; i++) {
		const char *key = n->pairs[i].key->str;
		const struct node *v = n->pairs[i].value;
		bool *slot;

		if (strcmp(key, "allowNameChange") == 0)
			slot = &opts->allow_name_change;
		else if (strcmp(key, "allowKindChange") == 0)
			slot = &opts->allow_kind_change;
		else
			return kust_error(lv, NULL, n->pairs[i].key, ERR_INVALID, err,
					  "unknown patch option '%s' (expected allowNameChange or "
					  "allowKindChange)",
					  key);
		if (v->type != NODE_BOOL)
			return kust_error(lv, NULL, v, ERR_INVALID, err,
					  "'%s' must be true or false", key);
		*slot = v->as.boolean;
	}
	return 0;
}

static int check_entry_fields(const struct klevel *lv, const struct node *entry,
			      const char *const *allowed, size_t nallowed, struct error *err)
{
	if (entry->type != NODE_MAP)
		return kust_error(lv, NULL, entry, ERR_INVALID, err, "a patch must be a mapping");
	for (size_t i = 0; i < entry->count; i++) {
		const char *key = entry->pairs[i].key->str;
		bool ok = false;

		for (size_t a = 0; a < nallowed; a++)
			ok |= strcmp(key, allowed[a]) == 0;
		if (!ok)
			return kust_error(lv, NULL, entry->pairs[i].key, ERR_INVALID, err,
					  "unknown field '%s' in a patch", key);
	}
	return 0;
}

/* ---- the transformers ---- */

/* Applies a strategic merge patch to the resource it names itself. */
static int patch_named_target(struct klevel *lv, struct id_index *ix, struct vec *set,
			      const struct node *patch, const struct node *at,
			      const struct patch_opts *opts, bool legacy, struct error *err)
{
	struct error why_err = ERROR_INIT;
	const char *why = NULL;
	struct kres *r = index_find(lv->b, ix, set, patch, &why);
	int rc;

	if (!r) {
		struct obj_id id;

		if (legacy)
			return kust_error(lv, NULL, at, ERR_NOTFOUND, err, "%s", why);
		patch_id(lv->b, patch, &id);
		return kust_error(lv, NULL, at, ERR_NOTFOUND, err,
				  "no resource matches strategic merge patch \"%s\": %s",
				  id_string(lv->b, &id), why);
	}
	if ((rc = apply_smp(lv->b, r, patch, opts, &why_err)) < 0)
		return kust_error(lv, NULL, at, rc, err, "%s: %s", kres_display(lv->b, r),
				  why_err.msg);
	if (r->mark || opts->allow_name_change || opts->allow_kind_change)
		ix->stale = true;
	return 0;
}

static int check_target_matches(struct klevel *lv, const struct kselector *sel,
				const struct node *at, struct kres *r, bool *match,
				struct error *err)
{
	struct error why = ERROR_INIT;
	int rc = kust_selector_matches(sel, r, match, &why);

	if (rc < 0)
		return kust_error(lv, NULL, at, rc, err, "%s", why.msg);
	return 0;
}

static int patch_selected(struct klevel *lv, struct vec *set, const struct kselector *sel,
			  const struct node *at, const struct patch_text *text,
			  const struct patch_opts *opts, struct error *err)
{
	struct error why = ERROR_INIT;
	struct kres *r;
	size_t i, d;
	int rc;

	vec_foreach (set, i, r) {
		bool match = false;

		if (r->mark)
			continue;
		if ((rc = check_target_matches(lv, sel, at, r, &match, err)) < 0)
			return rc;
		if (!match)
			continue;
		if (text->json) {
			if ((rc = apply_json(lv->b, r, text->ops, text->nops, &why)) < 0)
				return kust_error(lv, NULL, at, rc, err, "%s", why.msg);
			continue;
		}
		for (d = 0; d < text->docs.len && !r->mark; d++)
			if ((rc = apply_smp(lv->b, r, text->docs.items[d], opts, &why)) < 0)
				return kust_error(lv, NULL, at, rc, err, "%s: %s",
						  kres_display(lv->b, r), why.msg);
	}
	return 0;
}

static const struct node *entries_of(struct klevel *lv, const char *field, struct error *err,
				     int *rc)
{
	const struct node *list = node_get(lv->k, field);

	*rc = 0;
	if (is_null(list))
		return NULL;
	if (list->type != NODE_SEQ) {
		*rc = kust_error(lv, NULL, list, ERR_INVALID, err, "'%s' must be a list", field);
		return NULL;
	}
	return list;
}

static int patch_entry(struct klevel *lv, struct id_index *ix, struct vec *set,
		       const struct node *entry, struct error *err)
{
	static const char *const fields[] = {"path", "patch", "target", "options"};
	const struct node *target = node_get(entry, "target");
	struct patch_text text;
	struct patch_opts opts;
	struct kselector sel;
	int rc;

	if ((rc = check_entry_fields(lv, entry, fields, ARRAY_SIZE(fields), err)) < 0)
		return rc;
	if ((rc = read_options(lv, node_get(entry, "options"), &opts, err)) < 0)
		return rc;
	if ((rc = read_patch(lv, entry, &text, err)) < 0)
		return rc;
	if (!is_null(target) && text.docs.len > 1) {
		rc = kust_error(lv, NULL, entry, ERR_INVALID, err,
				"a patch with a target may hold only one strategic merge patch, "
				"this one holds %zu",
				text.docs.len);
	} else if (!is_null(target)) {
		if ((rc = kust_selector_parse(lv, NULL, target, &sel, err)) >= 0)
			rc = patch_selected(lv, set, &sel, entry, &text, &opts, err);
		ix->stale = true;
	} else if (text.json) {
		rc = kust_error(lv, NULL, entry, ERR_INVALID, err, "a JSON patch needs a 'target'");
	} else {
		for (size_t d = 0; d < text.docs.len && rc >= 0; d++)
			rc = patch_named_target(lv, ix, set, text.docs.items[d], entry, &opts,
						false, err);
	}
	patch_text_release(&text);
	return rc;
}

int kust_patches(struct klevel *lv, struct vec *set, struct error *err)
{
	struct id_index ix = {MAP_INIT, true};
	const struct node *list;
	int rc;

	if (!(list = entries_of(lv, "patches", err, &rc)))
		return rc;
	set_unmark(set);
	for (size_t i = 0; i < list->count && rc >= 0; i++)
		rc = patch_entry(lv, &ix, set, list->items[i], err);
	set_compact(set);
	set_unmark(set);
	map_release(&ix.by_id, NULL);
	return rc;
}

/* A patchesStrategicMerge entry: a file name, or the patch itself inline. */
static int legacy_smp_text(struct klevel *lv, const struct node *entry, struct patch_text *text,
			   struct error *err)
{
	const char *data, *file;
	size_t len;
	struct error ignored = ERROR_INIT;

	memset(text, 0, sizeof(*text));
	if (!node_string(entry))
		return kust_error(lv, NULL, entry, ERR_INVALID, err,
				  "a patchesStrategicMerge entry must be a string");
	if (!strchr(entry->str, '\n') &&
	    kust_read_file(lv, entry, entry->str, &data, &len, &file, &ignored) == 0) {
		struct patch_src src = {file, NULL};

		return parse_patch(lv, &src, data, len, entry, text, err);
	}
	if (!strchr(entry->str, '\n') && !strchr(entry->str, ':'))
		return kust_read_file(lv, entry, entry->str, &data, &len, &file, err);
	return parse_inline_patch(lv, entry, text, err);
}

int kust_patches_strategic_merge(struct klevel *lv, struct vec *set, struct error *err)
{
	static const struct patch_opts no_opts = {false, false};
	struct id_index ix = {MAP_INIT, true};
	const struct node *list;
	int rc;

	if (!(list = entries_of(lv, "patchesStrategicMerge", err, &rc)))
		return rc;
	set_unmark(set);
	for (size_t i = 0; i < list->count && rc >= 0; i++) {
		struct patch_text text;

		if ((rc = legacy_smp_text(lv, list->items[i], &text, err)) < 0)
			break;
		if (text.json)
			rc = kust_error(lv, NULL, list->items[i], ERR_INVALID, err,
					"patchesStrategicMerge holds a JSON patch; use 'patches' "
					"with a target");
		for (size_t d = 0; d < text.docs.len && rc >= 0; d++)
			rc = patch_named_target(lv, &ix, set, text.docs.items[d], list->items[i],
						&no_opts, true, err);
		patch_text_release(&text);
	}
	set_compact(set);
	set_unmark(set);
	map_release(&ix.by_id, NULL);
	return rc;
}

static int json6902_entry(struct klevel *lv, struct vec *set, const struct node *entry,
			  struct error *err)
{
	static const char *const fields[] = {"path", "patch", "target"};
	static const struct patch_opts no_opts = {false, false};
	const struct node *target = node_get(entry, "target");
	struct patch_text text;
	struct kselector sel;
	int rc;

	if ((rc = check_entry_fields(lv, entry, fields, ARRAY_SIZE(fields), err)) < 0)
		return rc;
	if (is_null(target))
		return kust_error(lv, NULL, entry, ERR_INVALID, err,
				  "a patchesJson6902 entry needs a 'target'");
	if ((rc = kust_selector_parse(lv, NULL, target, &sel, err)) < 0)
		return rc;
	if (!sel.name)
		return kust_error(lv, NULL, target, ERR_INVALID, err,
				  "a patchesJson6902 target needs a 'name'");
	if ((rc = read_patch(lv, entry, &text, err)) < 0)
		return rc;
	if (!text.json)
		rc = kust_error(lv, NULL, entry, ERR_INVALID, err,
				"patchesJson6902 needs a JSON patch (a list of operations)");
	else
		rc = patch_selected(lv, set, &sel, entry, &text, &no_opts, err);
	patch_text_release(&text);
	return rc;
}

int kust_patches_json6902(struct klevel *lv, struct vec *set, struct error *err)
{
	const struct node *list;
	int rc;

	if (!(list = entries_of(lv, "patchesJson6902", err, &rc)))
		return rc;
	set_unmark(set);
	for (size_t i = 0; i < list->count && rc >= 0; i++)
		rc = json6902_entry(lv, set, list->items[i], err);
	set_unmark(set);
	return rc;
}
