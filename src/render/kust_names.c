/*
 * A kustomization's namespace, namePrefix and nameSuffix, and the pass at the
 * end of a build that rewrites every reference to an object whose name
 * changed (prefixes, suffixes, content hashes, patches), following
 * kustomize's table of which fields name which kinds of objects.
 */
#include "kust_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- shared ---- */

/* *out is the string value of a kustomization field; NULL when absent, null or empty. */
static int string_field(const struct klevel *lv, const char *field, const char **out,
			struct error *err)
{
	const struct node *n = node_get(lv->k, field);

	*out = NULL;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_STRING)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "'%s' must be a string, not %s",
				  field, node_type_name(n->type));
	if (n->len)
		*out = n->str;
	return 0;
}

static bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* kustomize's "effective namespace": no namespace means "default". */
static const char *effective_ns(const char *ns)
{
	return ns && *ns ? ns : "default";
}

static struct node *new_string(struct kbuild *b, const char *s)
{
	return node_new_cstr(b->arena, s);
}

/* ---- namespace ---- */

static bool is_role_binding(const char *kind)
{
	return streq(kind, "RoleBinding") || streq(kind, "ClusterRoleBinding");
}

/* Like kustomize, only the subjects named "default" get the namespace. */
static void set_default_subjects_ns(struct kbuild *b, struct kres *r, const char *ns)
{
	const struct node *subjects = node_get(r->root, "subjects");

	if (!subjects || subjects->type != NODE_SEQ)
		return;
	for (size_t i = 0; i < subjects->count; i++) {
		struct node *subject = subjects->items[i];
		const char *name = node_string(node_get(subject, "name"));

		if (subject->type == NODE_MAP && name && streq(name, "default"))
			node_map_set(b->arena, subject, "namespace", new_string(b, ns));
	}
}

static int set_scalar_field(struct kbuild *b, struct kres *r, struct node *parent, const char *key,
			    void *ud, struct error *err)
{
	(void)r, (void)err;
	node_map_set(b->arena, parent, key, new_string(b, ud));
	return 0;
}

/* The namespace field specs besides metadata.namespace: APIService and CRD webhooks. */
static int set_service_refs_ns(struct kbuild *b, struct kres *r, const char *ns, struct error *err)
{
	static const struct kfieldspec crd_webhook = {
		.group = "apiextensions.k8s.io",
		.kind = "CustomResourceDefinition",
		.path = "spec/conversion/webhook/clientConfig/service/namespace",
	};
	static const struct kfieldspec api_service = {
		.group = "apiregistration.k8s.io",
		.kind = "APIService",
	};

	if (kfieldspec_selects(&api_service, r)) {
		struct node *spec = node_map_child(b->arena, r->root, "spec");
		struct node *service = node_map_child(b->arena, spec, "service");

		node_map_set(b->arena, service, "namespace", new_string(b, ns));
		return 0;
	}
	return kust_walk_field(b, r, &crd_webhook, set_scalar_field, (void *)ns, err);
}

/* Moves one object into ns; every object records its identity before, as kustomize does. */
static int move_to_namespace(struct kbuild *b, struct kres *r, const char *ns, struct error *err)
{
	struct obj_id id;
	bool core_namespace;

	kres_id(r, &id);
	core_namespace = streq(id.kind, "Namespace") &&
			 streq(node_string(node_get(r->root, "apiVersion")), "v1");
	if (!kust_cluster_scoped(id.group, id.kind))
		kres_rename(b, r, NULL, ns);
	else
		kres_rename(b, r, core_namespace ? ns : NULL, NULL);
	if (is_role_binding(kres_kind(r)))
		set_default_subjects_ns(b, r, ns);
	return set_service_refs_ns(b, r, ns, err);
}

static int check_namespace_conflicts(struct klevel *lv, struct vec *set, const char *ns,
				     struct error *err)
{
	struct kres *first, *again = kust_duplicate(set, &first);

	if (!again)
		return 0;
	return kust_error(lv, NULL, node_get(lv->k, "namespace"), ERR_CONFLICT, err,
			  "namespace '%s' gives two objects one identity, %s: one from %s:%u, one "
			  "from %s:%u",
			  ns, kres_display(lv->b, again), first->file, first->line, again->file,
			  again->line);
}

int kust_namespace(struct klevel *lv, struct vec *set, struct error *err)
{
	const char *ns;
	struct kres *r;
	size_t i;
	int rc;

	if ((rc = string_field(lv, "namespace", &ns, err)) < 0 || !ns)
		return rc;
	vec_foreach (set, i, r)
		if ((rc = move_to_namespace(lv->b, r, ns, err)) < 0)
			return rc;
	return check_namespace_conflicts(lv, set, ns, err);
}

/* ---- namePrefix, nameSuffix ---- */

/* Kinds kustomize never prefixes or suffixes (judged by the original identity). */
static bool keeps_its_name(const struct kres *r)
{
	return streq(r->org.kind, "CustomResourceDefinition") || streq(r->org.kind, "Namespace") ||
	       (streq(r->org.kind, "APIService") && streq(r->org.group, "apiregistration.k8s.io"));
}

static void add_affix(struct kbuild *b, struct kres *r, const char *affix, bool prefix)
{
	const char *name = kres_name(r);
	size_t name_len = strlen(name), affix_len = strlen(affix);
	char *renamed = arena_alloc(b->arena, name_len + affix_len + 1);

	if (prefix) {
		memcpy(renamed, affix, affix_len);
		memcpy(renamed + affix_len, name, name_len);
		vec_push(&r->prefixes, (void *)affix);
	} else {
		memcpy(renamed, name, name_len);
		memcpy(renamed + name_len, affix, affix_len);
		vec_push(&r->suffixes, (void *)affix);
	}
	renamed[name_len + affix_len] = '\0';
	kres_rename(b, r, renamed, NULL);
}

int kust_name_affixes(struct klevel *lv, struct vec *set, struct error *err)
{
	const char *prefix, *suffix;
	struct kres *r;
	size_t i;
	int rc;

	if ((rc = string_field(lv, "namePrefix", &prefix, err)) < 0 ||
	    (rc = string_field(lv, "nameSuffix", &suffix, err)) < 0)
		return rc;
	/* kustomize runs the prefix transformer over every object, then the suffix one */
	if (prefix)
		vec_foreach (set, i, r)
			if (!keeps_its_name(r))
				add_affix(lv->b, r, prefix, true);
	if (suffix)
		vec_foreach (set, i, r)
			if (!keeps_its_name(r))
				add_affix(lv->b, r, suffix, false);
	return 0;
}

/* ---- references to renamed objects: kustomize's name reference table ---- */

/* A referral kind and the fields of other objects that name it. */
struct kreferral {
	const char *group;
	const char *version;
	const char *kind;
	const struct kfieldspec *fields;
	size_t count;
};

/* clang-format off */
#define POD_CONFIGMAP_FIELDS(version, kind, pod) \
	{"", version, kind, pod "volumes/configMap/name", false}, \
	{"", version, kind, pod "containers/env/valueFrom/configMapKeyRef/name", false}, \
	{"", version, kind, pod "initContainers/env/valueFrom/configMapKeyRef/name", false}, \
	{"", version, kind, pod "containers/envFrom/configMapRef/name", false}, \
	{"", version, kind, pod "initContainers/envFrom/configMapRef/name", false}, \
	{"", version, kind, pod "volumes/projected/sources/configMap/name", false}

#define POD_SECRET_FIELDS(version, kind, pod) \
	{"", version, kind, pod "volumes/secret/secretName", false}, \
	{"", version, kind, pod "containers/env/valueFrom/secretKeyRef/name", false}, \
	{"", version, kind, pod "initContainers/env/valueFrom/secretKeyRef/name", false}, \
	{"", version, kind, pod "containers/envFrom/secretRef/name", false}, \
	{"", version, kind, pod "initContainers/envFrom/secretRef/name", false}, \
	{"", version, kind, pod "imagePullSecrets/name", false}, \
	{"", version, kind, pod "volumes/projected/sources/secret/name", false}

/* kustomize names these from the pod templates of a shorter list of workloads */
#define WORKLOAD_FIELDS(field) \
	{"", "", "Pod", "spec/" field, false}, \
	{"", "", "StatefulSet", "spec/template/spec/" field, false}, \
	{"", "", "Deployment", "spec/template/spec/" field, false}, \
	{"", "", "ReplicationController", "spec/template/spec/" field, false}, \
	{"", "", "CronJob", "spec/jobTemplate/spec/template/spec/" field, false}, \
	{"", "", "Job", "spec/template/spec/" field, false}, \
	{"", "", "DaemonSet", "spec/template/spec/" field, false}

#define SCALE_TARGET_FIELDS \
	{"", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", false}
/* clang-format on */

static const struct kfieldspec storage_class_fields[] = {
	{"", "", "PersistentVolume", "spec/storageClassName", false},
	{"", "", "PersistentVolumeClaim", "spec/storageClassName", false},
	{"", "", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName", false},
};

static const struct kfieldspec service_account_fields[] = {
	{"rbac.authorization.k8s.io", "", "RoleBinding", "subjects", false},
	{"rbac.authorization.k8s.io", "", "ClusterRoleBinding", "subjects", false},
	WORKLOAD_FIELDS("serviceAccountName"),
};

static const struct kfieldspec role_fields[] = {
	{"rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name", false},
};

static const struct kfieldspec cluster_role_fields[] = {
	{"rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name", false},
	{"rbac.authorization.k8s.io", "", "ClusterRoleBinding", "roleRef/name", false},
};

static const struct kfieldspec config_map_fields[] = {
	POD_CONFIGMAP_FIELDS("v1", "Pod", "spec/"),
	POD_CONFIGMAP_FIELDS("", "PodTemplate", "template/spec/"),
	POD_CONFIGMAP_FIELDS("", "Deployment", "spec/template/spec/"),
	POD_CONFIGMAP_FIELDS("", "ReplicaSet", "spec/template/spec/"),
	POD_CONFIGMAP_FIELDS("", "DaemonSet", "spec/template/spec/"),
	POD_CONFIGMAP_FIELDS("", "StatefulSet", "spec/template/spec/"),
	POD_CONFIGMAP_FIELDS("", "Job", "spec/template/spec/"),
	POD_CONFIGMAP_FIELDS("", "CronJob", "spec/jobTemplate/spec/template/spec/"),
	{"", "", "Node", "spec/configSource/configMap", false},
	{"", "", "Role", "rules/resourceNames", false},
	{"", "", "ClusterRole", "rules/resourceNames", false},
	{"", "", "Ingress",
	 "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap", false},
};

static const struct kfieldspec secret_fields[] = {
	POD_SECRET_FIELDS("v1", "Pod", "spec/"),
	POD_SECRET_FIELDS("", "PodTemplate", "template/spec/"),
	POD_SECRET_FIELDS("", "Deployment", "spec/template/spec/"),
	POD_SECRET_FIELDS("", "ReplicaSet", "spec/template/spec/"),
	POD_SECRET_FIELDS("", "DaemonSet", "spec/template/spec/"),
	POD_SECRET_FIELDS("", "StatefulSet", "spec/template/spec/"),
	POD_SECRET_FIELDS("", "Job", "spec/template/spec/"),
	POD_SECRET_FIELDS("", "CronJob", "spec/jobTemplate/spec/template/spec/"),
	{"", "", "Ingress", "spec/tls/secretName", false},
	{"", "", "Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret", false},
	{"", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
	 false},
	{"", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
	 false},
	{"", "", "ServiceAccount", "imagePullSecrets/name", false},
	{"", "", "StorageClass", "parameters/secretName", false},
	{"", "", "StorageClass", "parameters/adminSecretName", false},
	{"", "", "StorageClass", "parameters/userSecretName", false},
	{"", "", "StorageClass", "parameters/secretRef", false},
	{"", "", "Role", "rules/resourceNames", false},
	{"", "", "ClusterRole", "rules/resourceNames", false},
	{"serving.knative.dev", "v1", "Service",
	 "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", false},
	{"", "", "PersistentVolume", "spec/azureFile/secretName", false},
};

static const struct kfieldspec service_fields[] = {
	{"apps", "", "StatefulSet", "spec/serviceName", false},
	{"", "", "Ingress", "spec/rules/http/paths/backend/serviceName", false},
	{"", "", "Ingress", "spec/backend/serviceName", false},
	{"", "", "Ingress", "spec/rules/http/paths/backend/service/name", false},
	{"", "", "Ingress", "spec/defaultBackend/service/name", false},
	{"apiregistration.k8s.io", "", "APIService", "spec/service/name", false},
	{"admissionregistration.k8s.io", "", "ValidatingWebhookConfiguration",
	 "webhooks/clientConfig/service", false},
	{"admissionregistration.k8s.io", "", "MutatingWebhookConfiguration",
	 "webhooks/clientConfig/service", false},
};

static const struct kfieldspec priority_class_fields[] = {
	WORKLOAD_FIELDS("priorityClassName"),
};

static const struct kfieldspec persistent_volume_fields[] = {
	{"", "", "PersistentVolumeClaim", "spec/volumeName", false},
	{"", "", "ClusterRole", "rules/resourceNames", false},
};

static const struct kfieldspec claim_fields[] = {
	WORKLOAD_FIELDS("volumes/persistentVolumeClaim/claimName"),
};

static const struct kfieldspec scale_target_fields[] = {
	SCALE_TARGET_FIELDS,
};

#define REFERRAL(group, version, kind, fields)                   \
	{                                                        \
		group, version, kind, fields, ARRAY_SIZE(fields) \
	}

/*
 * kustomize v5.5's built-in name references, in the order kustomize applies
 * them (its kind order), which matters where two kinds share a field such as
 * rules/resourceNames. (kustomize also lists IngressClass, with a group that
 * never matches, so it has no effect and is left out.)
 */
static const struct kreferral referrals[] = {
	REFERRAL("storage.k8s.io", "v1", "StorageClass", storage_class_fields),
	REFERRAL("", "v1", "ServiceAccount", service_account_fields),
	REFERRAL("rbac.authorization.k8s.io", "", "Role", role_fields),
	REFERRAL("rbac.authorization.k8s.io", "", "ClusterRole", cluster_role_fields),
	REFERRAL("", "v1", "ConfigMap", config_map_fields),
	REFERRAL("", "v1", "Secret", secret_fields),
	REFERRAL("", "v1", "Service", service_fields),
	REFERRAL("scheduling.k8s.io", "v1", "PriorityClass", priority_class_fields),
	REFERRAL("", "v1", "PersistentVolume", persistent_volume_fields),
	REFERRAL("", "v1", "PersistentVolumeClaim", claim_fields),
	REFERRAL("", "", "Deployment", scale_target_fields),
	REFERRAL("", "", "StatefulSet", scale_target_fields),
	REFERRAL("", "", "ReplicaSet", scale_target_fields),
	REFERRAL("", "", "ReplicationController", scale_target_fields),
};

/* One field of the table that may hold a reference. */
struct kref_rule {
	const struct kreferral *target;
	const struct kfieldspec *field;
};

/* ---- the pass's state ---- */

/* What the pass knows about each object, by position in the set (kres.mark). */
struct kref_obj {
	struct kres *r;
	const char *cur_ns; /* effective namespace */
	const char *org_ns; /* effective namespace of its original identity */
	bool cluster;	    /* cluster-scoped now */
	bool org_cluster;   /* cluster-scoped when loaded */
};

struct kref_pass {
	struct kbuild *b;
	struct kref_obj *objs;
	struct map rules;	/* referrer kind -> struct vec of struct kref_rule * */
	struct map by_name;	/* earlier name -> struct vec of kres (set order) */
	struct map by_name_ns;	/* earlier name \1 current namespace (or \2 if none) -> vec */
	struct map by_name_org; /* earlier name \1 original namespace -> vec */
	struct map namespaces;	/* "O"+org ns, "E"+cur ns \1 org ns, "R"+raw ns \1 org ns */
	struct vec found;	/* scratch: candidates of one reference */
};

/* The current referrer and field while references in it are rewritten. */
struct kref_site {
	struct kref_pass *pass;
	struct kres *r;
	const struct kref_obj *referrer;
	const struct kref_rule *rule;
	struct vec subject_ns; /* const char *: namespaces of its ServiceAccount subjects */
	const char *want_ns;   /* the namespace a reference names, while gathering */
	bool by_origin;	       /* want_ns is matched against original namespaces */
};

static void free_vec(void *v)
{
	vec_release(v, NULL);
	free(v);
}

/* Appends item to the vector under key, made on first use. */
static void index_add(struct map *m, const char *key, void *item)
{
	struct vec *v = map_get(m, key);

	if (!v) {
		v = xcalloc(1, sizeof(*v));
		map_put(m, key, v);
	}
	if (v->len && v->items[v->len - 1] == item)
		return;
	vec_push(v, item);
}

static const struct vec *index_get(const struct map *m, const char *first, const char *second)
{
	char *key = second ? xasprintf("%s\x01%s", first, second) : xstrdup(first);
	const struct vec *v = map_get(m, key);

	free(key);
	return v;
}

static void index_add2(struct map *m, const char *first, const char *second, void *item)
{
	char *key = xasprintf("%s\x01%s", first, second);

	index_add(m, key, item);
	free(key);
}

static void build_rules(struct kref_pass *pass)
{
	for (size_t t = 0; t < ARRAY_SIZE(referrals); t++) {
		for (size_t f = 0; f < referrals[t].count; f++) {
			struct kref_rule *rule = xcalloc(1, sizeof(*rule));

			rule->target = &referrals[t];
			rule->field = &referrals[t].fields[f];
			index_add(&pass->rules, rule->field->kind, rule);
		}
	}
}

static void free_rules(void *v)
{
	struct vec *rules = v;

	vec_release(rules, free);
	free(rules);
}

static void describe_object(struct kref_pass *pass, struct kres *r, size_t pos)
{
	struct kref_obj *o = &pass->objs[pos];
	struct obj_id id;

	kres_id(r, &id);
	r->mark = (int)pos;
	o->r = r;
	o->cluster = kust_cluster_scoped(id.group, id.kind);
	o->cur_ns = o->cluster ? "" : effective_ns(id.namespace);
	o->org_cluster = kust_cluster_scoped(r->org.group, r->org.kind);
	o->org_ns = o->org_cluster ? "" : effective_ns(r->org.namespace);
}

/* Indexes r under each name it had before its current one. */
static void index_object(struct kref_pass *pass, const struct kref_obj *o)
{
	struct kres *r = o->r;
	const char *raw_ns = kres_namespace(r);
	char *key;

	for (size_t i = 0; i < r->prev.len; i++) {
		const struct obj_id *id = r->prev.items[i];

		index_add(&pass->by_name, id->name, r);
		index_add2(&pass->by_name_ns, id->name, o->cluster ? "\x02" : o->cur_ns, r);
		if (!o->org_cluster)
			index_add2(&pass->by_name_org, id->name, o->org_ns, r);
	}
	if (o->org_cluster)
		return;
	key = xasprintf("O%s", o->org_ns);
	map_put(&pass->namespaces, key, r);
	free(key);
	if (!o->cluster) {
		key = xasprintf("E%s\x01%s", o->cur_ns, o->org_ns);
		map_put(&pass->namespaces, key, r);
		free(key);
		key = xasprintf("R%s\x01%s", raw_ns, o->org_ns);
		map_put(&pass->namespaces, key, r);
		free(key);
	}
}

/* ---- choosing the object a reference names ---- */

static bool gvk_selects(const char *group, const char *version, const char *kind,
			const struct obj_id *id)
{
	return (!*group || streq(group, id->group)) && (!*version || streq(version, id->version)) &&
	       (!*kind || streq(kind, id->kind));
}

/* Was r ever of the target's kind (kustomize looks at its earlier identities only)? */
static bool was_of_kind(const struct kres *r, const char *group, const char *version,
			const char *kind)
{
	for (size_t i = 0; i < r->prev.len; i++)
		if (gvk_selects(group, version, kind, r->prev.items[i]))
			return true;
	return false;
}

/* For a roleRef: the candidate must once have been of roleRef's apiGroup and kind. */
static bool matches_role_ref(const struct kref_site *site, const struct kres *r)
{
	const char *path = site->rule->field->path;
	size_t len = strlen(path);
	const struct node *ref;
	const char *group, *kind;

	if (len < 12 || !streq(path + len - 12, "roleRef/name"))
		return true;
	ref = node_get(site->r->root, "roleRef");
	group = node_string(node_get(ref, "apiGroup"));
	kind = node_string(node_get(ref, "kind"));
	if (!group || !kind)
		return true;
	return was_of_kind(r, group, "", kind);
}

/* A namespaced referrer reaches cluster-scoped objects, ServiceAccounts and its own namespace. */
static bool reachable(const struct kref_site *site, const struct kref_obj *o)
{
	if (site->referrer->cluster || o->cluster || streq(kres_kind(o->r), "ServiceAccount"))
		return true;
	return streq(o->cur_ns, site->referrer->cur_ns);
}

/* kustomize's SameEndingSubSlice: one list ends with the whole of the other. */
static bool same_ending(const struct vec *a, const struct vec *b)
{
	const struct vec *shorter = a->len <= b->len ? a : b;
	const struct vec *longer = a->len <= b->len ? b : a;
	size_t diff = longer->len - shorter->len;

	if (shorter->len == 0)
		return diff == 0;
	for (size_t i = 0; i < shorter->len; i++)
		if (!streq(shorter->items[i], longer->items[i + diff]))
			return false;
	return true;
}

static bool same_affixes(const struct kres *a, const struct kres *b)
{
	return same_ending(&a->prefixes, &b->prefixes) && same_ending(&a->suffixes, &b->suffixes);
}

static void keep_if(struct vec *v, const struct kref_site *site,
		    bool (*keep)(const struct kref_site *, const struct kres *))
{
	size_t kept = 0;

	for (size_t i = 0; i < v->len; i++)
		if (keep(site, v->items[i]))
			v->items[kept++] = v->items[i];
	v->len = kept;
}

static bool keep_target_kind(const struct kref_site *site, const struct kres *r)
{
	const struct kreferral *t = site->rule->target;

	return was_of_kind(r, t->group, t->version, t->kind);
}

static bool keep_reachable(const struct kref_site *site, const struct kres *r)
{
	return reachable(site, &site->pass->objs[r->mark]);
}

static bool keep_same_affixes(const struct kref_site *site, const struct kres *r)
{
	return same_affixes(r, site->r);
}

static void add_all(struct vec *out, const struct vec *from)
{
	if (from)
		for (size_t i = 0; i < from->len; i++)
			vec_push(out, from->items[i]);
}

static int by_position(const void *a, const void *b)
{
	const struct kres *x = *(struct kres *const *)a, *y = *(struct kres *const *)b;

	return (x->mark > y->mark) - (x->mark < y->mark);
}

/* Sorts found into set order and drops repeats. */
static void sort_unique(struct vec *found)
{
	size_t kept = 0;

	vec_sort(found, by_position);
	for (size_t i = 0; i < found->len; i++)
		if (kept == 0 || found->items[kept - 1] != found->items[i])
			found->items[kept++] = found->items[i];
	found->len = kept;
}

/* Does some object a namespaced referrer can reach come from namespace ns? */
static bool reachable_org_namespace(const struct kref_site *site, const char *ns)
{
	const struct map *m = &site->pass->namespaces;
	char *key = xasprintf("E%s\x01%s", site->referrer->cur_ns, ns);
	bool found = map_has(m, key);

	free(key);
	for (size_t i = 0; !found && i < site->subject_ns.len; i++) {
		key = xasprintf("R%s\x01%s", (const char *)site->subject_ns.items[i], ns);
		found = map_has(m, key);
		free(key);
	}
	return found;
}

static bool keep_in_namespace(const struct kref_site *site, const struct kres *r)
{
	const struct kref_obj *o = &site->pass->objs[r->mark];

	if (site->by_origin)
		return !o->org_cluster && streq(o->org_ns, site->want_ns);
	return !o->cluster && streq(o->cur_ns, site->want_ns);
}

/* The objects a cluster-scoped referrer reaches that were once named name. */
static void gather_from_cluster(struct kref_site *site, const char *name, const char *ns)
{
	struct kref_pass *pass = site->pass;
	char *key;

	if (!ns) {
		add_all(&pass->found, index_get(&pass->by_name, name, NULL));
		return;
	}
	key = xasprintf("O%s", ns);
	if (map_has(&pass->namespaces, key))
		add_all(&pass->found, index_get(&pass->by_name_org, name, ns));
	else
		add_all(&pass->found, index_get(&pass->by_name_ns, name, ns));
	free(key);
}

/*
 * The objects the referrer can reach that were once named name, in set order:
 * a namespaced referrer reaches its own namespace, cluster-scoped objects, and
 * for a RoleBinding the namespaces of its ServiceAccount subjects. With ns (a
 * reference that names a namespace too): those from that original namespace,
 * or failing any, those now in it.
 */
static void gather(struct kref_site *site, const char *name, const char *ns)
{
	struct kref_pass *pass = site->pass;
	struct vec *found = &pass->found;

	found->len = 0;
	if (site->referrer->cluster) {
		gather_from_cluster(site, name, ns);
		return;
	}
	add_all(found, index_get(&pass->by_name_ns, name, site->referrer->cur_ns));
	add_all(found, index_get(&pass->by_name_ns, name, "\x02"));
	for (size_t i = 0; i < site->subject_ns.len; i++) {
		const char *subject_ns = site->subject_ns.items[i];
		const struct vec *v = index_get(&pass->by_name_ns, name, effective_ns(subject_ns));

		for (size_t k = 0; v && k < v->len; k++)
			if (streq(kres_namespace(v->items[k]), subject_ns))
				vec_push(found, v->items[k]);
	}
	sort_unique(found);
	if (!ns)
		return;
	site->want_ns = ns;
	site->by_origin = reachable_org_namespace(site, ns);
	keep_if(found, site, keep_in_namespace);
}

static bool all_alike(const struct vec *found, bool with_ns)
{
	const struct kres *first = found->items[0];

	for (size_t i = 1; i < found->len; i++) {
		const struct kres *r = found->items[i];

		if (!streq(kres_name(r), kres_name(first)))
			return false;
		if (with_ns && !streq(kres_namespace(r), kres_namespace(first)))
			return false;
	}
	return true;
}

static int ambiguous(const struct kref_site *site, const char *name, const struct node *at,
		     struct error *err)
{
	const struct vec *found = &site->pass->found;
	struct buf list = BUF_INIT;
	int rc;

	for (size_t i = 0; i < found->len; i++)
		buf_addf(&list, "%s%s", i ? ", " : "",
			 kres_display(site->pass->b, found->items[i]));
	rc = error_set(err, ERR_CONFLICT,
		       "%s:%u:%u: %s: '%s' in %s could name any of %s; kustomize refuses to "
		       "guess (give them different names, or the referrer the same namePrefix "
		       "or nameSuffix as the one it means)",
		       site->r->file, at->line ? at->line : site->r->line,
		       at->line ? at->col : site->r->col, kres_display(site->pass->b, site->r),
		       name, site->rule->field->path, list.data);
	buf_release(&list);
	return rc;
}

/*
 * kustomize's choice of the object a reference names, among the gathered
 * candidates: *out is NULL when there is none; several that differ are an error.
 */
static int choose(struct kref_site *site, const char *name, bool with_ns, const struct node *at,
		  struct kres **out, struct error *err)
{
	struct vec *found = &site->pass->found;

	*out = NULL;
	keep_if(found, site, keep_target_kind);
	keep_if(found, site, matches_role_ref);
	keep_if(found, site, keep_reachable);
	if (found->len > 1)
		keep_if(found, site, keep_same_affixes);
	if (found->len == 0)
		return 0;
	if (found->len > 1 && !all_alike(found, with_ns))
		return ambiguous(site, name, at, err);
	*out = found->items[0];
	return 0;
}

static bool is_scalar(const struct node *n)
{
	return n->type != NODE_NULL && n->type != NODE_MAP && n->type != NODE_SEQ;
}

/* A reference that is the name alone. */
static int rewrite_name(struct kref_site *site, struct node **slot, struct error *err)
{
	const char *old = (*slot)->str;
	struct kres *named;
	int rc;

	gather(site, old, NULL);
	if ((rc = choose(site, old, false, *slot, &named, err)) < 0 || !named)
		return rc;
	if (!streq(kres_name(named), old))
		*slot = new_string(site->pass->b, kres_name(named));
	return 0;
}

/* A reference as a mapping of name and (optional) namespace: subjects, webhook services. */
static int rewrite_name_and_ns(struct kref_site *site, struct node *ref, struct error *err)
{
	struct kbuild *b = site->pass->b;
	const struct node *name = node_get(ref, "name");
	const struct node *ns = node_get(ref, "namespace");
	struct kres *named;
	const char *named_ns;
	int rc;

	if (!name)
		return error_set(err, ERR_INVALID, "%s:%u:%u: %s: %s has no 'name'", site->r->file,
				 ref->line ? ref->line : site->r->line, ref->line ? ref->col : 0,
				 kres_display(b, site->r), site->rule->field->path);
	if (!is_scalar(name))
		return 0;
	gather(site, name->str, ns ? (is_scalar(ns) ? ns->str : "") : NULL);
	if ((rc = choose(site, name->str, true, name, &named, err)) < 0 || !named)
		return rc;
	named_ns = kres_namespace(named);
	if (streq(kres_name(named), name->str) && !*named_ns)
		return 0;
	node_map_set(b->arena, ref, "name", new_string(b, kres_name(named)));
	if (*named_ns)
		node_map_set(b->arena, ref, "namespace", new_string(b, named_ns));
	return 0;
}

/* Rewrites the reference (or list of references) at the end of a field's path. */
static int rewrite_value(struct kref_site *site, struct node **slot, struct error *err)
{
	struct node *v = *slot;
	int rc = 0;

	if (is_scalar(v))
		return rewrite_name(site, slot, err);
	if (v->type == NODE_MAP)
		return rewrite_name_and_ns(site, v, err);
	if (v->type != NODE_SEQ)
		return 0;
	for (size_t i = 0; rc == 0 && i < v->count; i++) {
		if (is_scalar(v->items[i]))
			rc = rewrite_name(site, &v->items[i], err);
		else if (v->items[i]->type == NODE_MAP)
			rc = rewrite_name_and_ns(site, v->items[i], err);
	}
	return rc;
}

/* Copies the next segment of a field path into seg ("\/" is a slash inside one). */
static const char *next_segment(const char *path, char *seg, size_t cap)
{
	size_t n = 0;

	while (*path && *path != '/') {
		if (path[0] == '\\' && path[1] == '/')
			path++;
		if (n + 1 < cap)
			seg[n++] = *path;
		path++;
	}
	seg[n] = '\0';
	return *path == '/' ? path + 1 : NULL;
}

/* Follows path from n (through every item of the lists on the way) to the references. */
static int visit(struct kref_site *site, struct node *n, const char *path, struct error *err)
{
	char seg[128];
	const char *rest;
	ssize_t at;

	if (n->type == NODE_SEQ) {
		for (size_t i = 0; i < n->count; i++) {
			int rc = visit(site, n->items[i], path, err);

			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (n->type != NODE_MAP)
		return 0;
	rest = next_segment(path, seg, sizeof(seg));
	if ((at = node_map_index(n, seg)) < 0)
		return 0;
	if (rest)
		return visit(site, n->pairs[at].value, rest, err);
	return rewrite_value(site, &n->pairs[at].value, err);
}

/* The namespaces of a RoleBinding's ServiceAccount subjects, which it may reach. */
static void find_subject_namespaces(const struct kres *r, struct vec *out)
{
	const struct node *subjects = node_get(r->root, "subjects");

	if (!streq(kres_kind(r), "RoleBinding") || !subjects || subjects->type != NODE_SEQ)
		return;
	for (size_t i = 0; i < subjects->count; i++) {
		const struct node *s = subjects->items[i];
		const char *kind = node_string(node_get(s, "kind"));
		const struct node *ns = node_get(s, "namespace");

		if (kind && streq(kind, "ServiceAccount") && ns && is_scalar(ns))
			vec_push(out, (void *)ns->str);
	}
}

/* Rewrites the references held by one object (chosen by its original kind, as kustomize does). */
static int fix_referrer(struct kref_pass *pass, struct kref_obj *o, struct error *err)
{
	const struct vec *rules = map_get(&pass->rules, o->r->org.kind);
	struct kref_site site = {.pass = pass, .r = o->r, .referrer = o};
	int rc = 0;

	if (!rules)
		return 0;
	find_subject_namespaces(o->r, &site.subject_ns);
	for (size_t i = 0; rc == 0 && i < rules->len; i++) {
		const struct kref_rule *rule = rules->items[i];
		const struct kfieldspec *f = rule->field;

		if (!gvk_selects(f->group, f->version, f->kind, &o->r->org))
			continue;
		site.rule = rule;
		rc = visit(&site, o->r->root, f->path, err);
	}
	vec_release(&site.subject_ns, NULL);
	return rc;
}

int kust_fix_name_refs(struct kbuild *b, struct vec *set, struct error *err)
{
	struct kref_pass pass = {.b = b};
	struct kres *r;
	size_t i;
	int rc = 0;

	pass.objs = xcalloc(set->len ? set->len : 1, sizeof(*pass.objs));
	build_rules(&pass);
	vec_foreach (set, i, r)
		describe_object(&pass, r, i);
	for (i = 0; i < set->len; i++)
		index_object(&pass, &pass.objs[i]);
	for (i = 0; rc == 0 && i < set->len; i++)
		rc = fix_referrer(&pass, &pass.objs[i], err);
	vec_release(&pass.found, NULL);
	map_release(&pass.rules, free_rules);
	map_release(&pass.by_name, free_vec);
	map_release(&pass.by_name_ns, free_vec);
	map_release(&pass.by_name_org, free_vec);
	map_release(&pass.namespaces, NULL);
	free(pass.objs);
	return rc;
}
