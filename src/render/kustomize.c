/*
 * The kustomize-compatible engine's driver: loading kustomizations and their
 * resources, running each level's generators, components and transformers in
 * kustomize's order, and the finishing passes at the top (hash suffixes, name
 * references, vars, output order). Also the helpers every pass shares: errors
 * with locations, reading files, identities, field specs and selectors.
 */
#include "kust_int.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kustomization_names[] = {
	"kustomization.yaml",
	"kustomization.yml",
	"Kustomization",
};

/* ---- errors and files ---- */

int kust_error(const struct klevel *lv, const char *at_file, const struct node *at, int code,
	       struct error *err, const char *fmt, ...)
{
	char msg[2048];
	const char *file = at_file ? at_file : lv->file;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at && at->line)
		return error_set(err, code, "%s:%u:%u: %s", file, at->line, at->col, msg);
	return error_set(err, code, "%s: %s", file, msg);
}

/* Reads path (a tree path) once per build; the text lives in the arena. */
static int load(struct kbuild *b, const char *path, const char **data, size_t *len,
		struct error *err)
{
	struct buf content = BUF_INIT;
	const char *cached = map_get(&b->loaded, path);
	int rc;

	if (cached) {
		*data = cached;
		*len = *(const size_t *)(cached - sizeof(size_t));
		return 0;
	}
	buf_init(&content,
		 b->opts && b->opts->max_file_bytes ? b->opts->max_file_bytes : 64u * 1024 * 1024);
	rc = tree_read(b->tree, path, &content, err);
	if (rc == 0) {
		char *copy = arena_alloc(b->arena, sizeof(size_t) + content.len + 1);

		memcpy(copy, &content.len, sizeof(size_t));
		if (content.len)
			memcpy(copy + sizeof(size_t), content.data, content.len);
		copy[sizeof(size_t) + content.len] = '\0';
		*data = copy + sizeof(size_t);
		*len = content.len;
		map_put(&b->loaded, path, copy + sizeof(size_t));
	} else if (rc == ERR_TOOBIG) {
		rc = error_set(err, rc, "%s: file is larger than %zu bytes", path, content.max);
	}
	buf_release(&content);
	return rc;
}

/* True if path is dir itself or below it. */
static bool path_within(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (n == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int kust_read_file(const struct klevel *lv, const struct node *at, const char *rel,
		   const char **data, size_t *len, const char **path, struct error *err)
{
	struct error why = ERROR_INIT;
	enum tree_type type;
	char *joined = NULL;
	int rc;

	if (tree_path_join(lv->dir, rel, &joined, &why) < 0)
		return kust_error(lv, NULL, at, ERR_INVALID, err, "%s", why.msg);
	if (!path_within(lv->dir, joined)) {
		rc = kust_error(lv, NULL, at, ERR_INVALID, err,
				"'%s' is outside the kustomization's directory '%s'; like "
				"kustomize, plumb only reads files in or below it",
				rel, *lv->dir ? lv->dir : ".");
		goto out;
	}
	if ((rc = tree_stat(lv->b->tree, joined, &type, &why)) < 0 || type != TREE_FILE) {
		rc = kust_error(lv, NULL, at, ERR_NOTFOUND, err, "file '%s' not found%s%s", rel,
				why.msg[0] ? ": " : "", why.msg);
		goto out;
	}
	if ((rc = load(lv->b, joined, data, len, &why)) < 0) {
		rc = kust_error(lv, NULL, at, rc, err, "%s", why.msg);
		goto out;
	}
	*path = arena_strdup(lv->b->arena, joined);
out:
	free(joined);
	return rc;
}

/* ---- resources and identities ---- */

static const char *str_or_empty(const struct node *n)
{
	const char *s = node_string(n);

	return s ? s : "";
}

void kust_split_api_version(struct kbuild *b, const char *api_version, const char **group,
			    const char **version)
{
	const char *slash = strchr(api_version, '/');

	if (!slash) {
		*group = "";
		*version = api_version;
		return;
	}
	*group = arena_strndup(b->arena, api_version, (size_t)(slash - api_version));
	*version = slash + 1;
}

/* The group of an apiVersion, without allocating when there is none. */
static struct str api_group(const char *api_version)
{
	const char *slash = strchr(api_version, '/');

	return slash ? str_make(api_version, (size_t)(slash - api_version)) : STR_LIT("");
}

static struct str api_version_part(const char *api_version)
{
	const char *slash = strchr(api_version, '/');

	return str_from(slash ? slash + 1 : api_version);
}

const char *kres_kind(const struct kres *r)
{
	return str_or_empty(node_get(r->root, "kind"));
}

const char *kres_name(const struct kres *r)
{
	return str_or_empty(node_get(node_get(r->root, "metadata"), "name"));
}

const char *kres_namespace(const struct kres *r)
{
	return str_or_empty(node_get(node_get(r->root, "metadata"), "namespace"));
}

static void current_id(struct kbuild *b, const struct kres *r, struct obj_id *id)
{
	kust_split_api_version(b, str_or_empty(node_get(r->root, "apiVersion")), &id->group,
			       &id->version);
	id->kind = kres_kind(r);
	id->namespace = kres_namespace(r);
	id->name = kres_name(r);
}

void kres_id(const struct kres *r, struct obj_id *id)
{
	static __thread char changed_group[256];
	const char *api_version = str_or_empty(node_get(r->root, "apiVersion"));
	struct str group = api_group(api_version);

	/* the group is the original one unless a patch changed the apiVersion */
	id->group = r->org.group;
	if (!str_eq(group, str_from(r->org.group))) {
		snprintf(changed_group, sizeof(changed_group), "%.*s", (int)group.len, group.ptr);
		id->group = changed_group;
	}
	id->version = api_version_part(api_version).ptr;
	id->kind = kres_kind(r);
	id->namespace = kres_namespace(r);
	id->name = kres_name(r);
}

struct kres *kres_new(struct kbuild *b, struct node *root, const char *file, uint32_t line,
		      uint32_t col)
{
	struct kres *r = arena_alloc(b->arena, sizeof(*r));

	memset(r, 0, sizeof(*r));
	r->root = root;
	r->file = file;
	r->line = line;
	r->col = col;
	current_id(b, r, &r->org);
	vec_push(&b->all, r);
	return r;
}

void kres_rename(struct kbuild *b, struct kres *r, const char *name, const char *ns)
{
	struct obj_id *old = arena_alloc(b->arena, sizeof(*old));
	struct node *meta = node_map_child(b->arena, r->root, "metadata");

	current_id(b, r, old);
	old->namespace = arena_strdup(b->arena, old->namespace);
	old->name = arena_strdup(b->arena, old->name);
	vec_push(&r->prev, old);
	if (name)
		node_map_set(b->arena, meta, "name", node_new_cstr(b->arena, name));
	if (ns)
		node_map_set(b->arena, meta, "namespace", node_new_cstr(b->arena, ns));
}

static bool id_matches(const struct obj_id *have, const struct obj_id *want)
{
	return (!want->group || !*want->group || strcmp(have->group, want->group) == 0) &&
	       (!want->version || !*want->version || strcmp(have->version, want->version) == 0) &&
	       (!want->kind || !*want->kind || strcmp(have->kind, want->kind) == 0) &&
	       (!want->namespace || !*want->namespace ||
		strcmp(have->namespace, want->namespace) == 0) &&
	       (!want->name || !*want->name || strcmp(have->name, want->name) == 0);
}

bool kres_matches_any_id(const struct kres *r, const struct obj_id *id)
{
	const char *api_version = str_or_empty(node_get(r->root, "apiVersion"));
	struct obj_id cur = {
		.kind = kres_kind(r), .namespace = kres_namespace(r), .name = kres_name(r)};
	char group[256];
	struct str g = api_group(api_version);
	const struct obj_id *prev;
	size_t i;

	snprintf(group, sizeof(group), "%.*s", (int)g.len, g.ptr);
	cur.group = group;
	cur.version = api_version_part(api_version).ptr;
	if (id_matches(&cur, id) || id_matches(&r->org, id))
		return true;
	vec_foreach (&r->prev, i, prev)
		if (id_matches(prev, id))
			return true;
	return false;
}

const char *kres_display(struct kbuild *b, const struct kres *r)
{
	const char *ns = kres_namespace(r);
	char *s = *ns ? xasprintf("%s/%s/%s", kres_kind(r), ns, kres_name(r))
		      : xasprintf("%s/%s", kres_kind(r), kres_name(r));
	const char *copy = arena_strdup(b->arena, s);

	free(s);
	return copy;
}

bool kust_cluster_scoped(const char *group, const char *kind)
{
	static const char *const kinds[] = {
		"APIService",
		"CSIDriver",
		"CSINode",
		"CertificateSigningRequest",
		"ClusterRole",
		"ClusterRoleBinding",
		"ComponentStatus",
		"CustomResourceDefinition",
		"FlowSchema",
		"IngressClass",
		"MutatingAdmissionPolicy",
		"MutatingAdmissionPolicyBinding",
		"MutatingWebhookConfiguration",
		"Namespace",
		"Node",
		"PersistentVolume",
		"PodSecurityPolicy",
		"PriorityClass",
		"PriorityLevelConfiguration",
		"RuntimeClass",
		"SelfSubjectAccessReview",
		"SelfSubjectReview",
		"SelfSubjectRulesReview",
		"StorageClass",
		"StorageVersionMigration",
		"SubjectAccessReview",
		"TokenReview",
		"ValidatingAdmissionPolicy",
		"ValidatingAdmissionPolicyBinding",
		"ValidatingWebhookConfiguration",
		"VolumeAttachment",
	};
	size_t lo = 0, hi = ARRAY_SIZE(kinds);

	(void)group;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(kind, kinds[mid]);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static int add_object(struct kbuild *b, const char *path, struct node *root, struct vec *out,
		      struct error *err)
{
	const struct node *meta = node_get(root, "metadata");

	if (root->type != NODE_MAP)
		return error_set(err, ERR_INVALID,
				 "%s:%u:%u: expected an object (a mapping), found %s", path,
				 root->line, root->col, node_type_name(root->type));
	if (!node_string(node_get(root, "apiVersion")) || !node_string(node_get(root, "kind")))
		return error_set(err, ERR_INVALID, "%s:%u:%u: the object has no apiVersion or kind",
				 path, root->line, root->col);
	if (!meta || meta->type != NODE_MAP || !node_string(node_get(meta, "name")))
		return error_set(err, ERR_INVALID, "%s:%u:%u: %s object has no metadata.name", path,
				 root->line, root->col, node_string(node_get(root, "kind")));
	vec_push(out, kres_new(b, node_clone(b->arena, root), path, root->line, root->col));
	return 0;
}

int kust_parse_objects(struct kbuild *b, const char *path, const char *data, size_t len,
		       struct vec *out, struct error *err)
{
	struct vec docs = VEC_INIT;
	struct yaml_doc *doc;
	size_t i;
	int rc = yaml_parse(b->arena, path, data, len, NULL, &docs, err);

	vec_foreach (&docs, i, doc) {
		const struct node *items = node_get(doc->root, "items");
		const char *kind = node_string(node_get(doc->root, "kind"));

		if (rc < 0)
			break;
		if (kind && items && items->type == NODE_SEQ &&
		    str_has_suffix(str_from(kind), "List")) {
			for (size_t k = 0; rc == 0 && k < items->count; k++)
				rc = add_object(b, path, items->items[k], out, err);
		} else {
			rc = add_object(b, path, doc->root, out, err);
		}
	}
	vec_release(&docs, NULL);
	return rc;
}

/* ---- field specs ---- */

static bool selects_text(const char *want, const char *have)
{
	return !want || !*want || strcmp(want, have) == 0;
}

bool kfieldspec_selects(const struct kfieldspec *fs, const struct kres *r)
{
	const char *api_version = str_or_empty(node_get(r->root, "apiVersion"));

	if (!selects_text(fs->kind, kres_kind(r)))
		return false;
	if (fs->group && *fs->group && !str_eq(api_group(api_version), str_from(fs->group)))
		return false;
	if (fs->version && *fs->version &&
	    !str_eq(api_version_part(api_version), str_from(fs->version)))
		return false;
	return true;
}

/* Walks the rest of a path (segments separated by '/') from n. */
static int walk_path(struct kbuild *b, struct kres *r, struct node *n, const char *path,
		     bool create, kfield_fn fn, void *ud, struct error *err)
{
	const char *slash = strchr(path, '/');
	char seg[256];
	size_t len = slash ? (size_t)(slash - path) : strlen(path);
	struct node *child;

	if (n->type == NODE_SEQ) {
		for (size_t i = 0; i < n->count; i++) {
			int rc = walk_path(b, r, n->items[i], path, create, fn, ud, err);

			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (n->type != NODE_MAP || len >= sizeof(seg))
		return 0;
	memcpy(seg, path, len);
	seg[len] = '\0';
	/* a trailing "[]" on a segment only says the field is a list */
	if (len > 2 && strcmp(seg + len - 2, "[]") == 0)
		seg[len - 2] = '\0';
	if (!slash) {
		if (!create && !node_get(n, seg))
			return 0;
		return fn(b, r, n, seg, ud, err);
	}
	child = node_get(n, seg);
	if (!child || child->type == NODE_NULL) {
		if (!create)
			return 0;
		child = node_new_map(b->arena, 0);
		node_map_set(b->arena, n, seg, child);
	}
	return walk_path(b, r, child, slash + 1, create, fn, ud, err);
}

int kust_walk_field(struct kbuild *b, struct kres *r, const struct kfieldspec *fs, kfield_fn fn,
		    void *ud, struct error *err)
{
	if (!kfieldspec_selects(fs, r))
		return 0;
	return walk_path(b, r, r->root, fs->path, fs->create, fn, ud, err);
}

/* ---- selectors ---- */

int kust_selector_parse(const struct klevel *lv, const char *file, const struct node *n,
			struct kselector *sel, struct error *err)
{
	memset(sel, 0, sizeof(*sel));
	if (!n || n->type != NODE_MAP)
		return kust_error(lv, file, n, ERR_INVALID, err, "a target must be a mapping");
	for (size_t i = 0; i < n->count; i++) {
		const char *key = n->pairs[i].key->str;
		const struct node *v = n->pairs[i].value;
		const char **slot = NULL;

		if (strcmp(key, "group") == 0)
			slot = &sel->group;
		else if (strcmp(key, "version") == 0)
			slot = &sel->version;
		else if (strcmp(key, "kind") == 0)
			slot = &sel->kind;
		else if (strcmp(key, "name") == 0)
			slot = &sel->name;
		else if (strcmp(key, "namespace") == 0)
			slot = &sel->namespace;
		else if (strcmp(key, "labelSelector") == 0)
			slot = &sel->label_selector;
		else if (strcmp(key, "annotationSelector") == 0)
			slot = &sel->annotation_selector;
		else
			return kust_error(lv, file, n->pairs[i].key, ERR_INVALID, err,
					  "unknown field '%s' in a target (expected group, "
					  "version, kind, name, namespace, labelSelector or "
					  "annotationSelector)",
					  key);
		if (v->type == NODE_NULL)
			continue;
		if (v->type == NODE_MAP || v->type == NODE_SEQ)
			return kust_error(lv, file, v, ERR_INVALID, err, "'%s' must be a string",
					  key);
		*slot = v->str;
	}
	return 0;
}

static bool has_regex_syntax(const char *s)
{
	return strpbrk(s, ".[]()*+?{}|^$\\") != NULL;
}

/*
 * regcomp for patterns from a kustomization. kustomize's patterns are Go
 * (RE2) expressions, which refuse a repetition of a repetition ("a++") and
 * counts over 1000; glibc accepts them and can take exponential memory on
 * them, so they are refused here first, as are patterns that repeat too many
 * times for glibc to expand safely.
 */
int kust_regcomp(regex_t *re, const char *pattern, const char **why)
{
	size_t repeats = 0;
	bool after_repeat = false;

	*why = NULL;
	if (strlen(pattern) > 1024) {
		*why = "it is longer than 1024 characters";
		return -1;
	}
	for (const char *p = pattern; *p; p++) {
		bool repeat = *p == '*' || *p == '+' || *p == '{';

		if (*p == '\\' && p[1]) {
			p++;
			after_repeat = false;
			continue;
		}
		if (repeat && after_repeat) {
			*why = "a repetition operator follows another";
			return -1;
		}
		if (*p == '{') {
			char *end;
			unsigned long n = strtoul(p + 1, &end, 10);
			unsigned long m = *end == ',' ? strtoul(end + 1, &end, 10) : n;

			if (n > 1000 || m > 1000) {
				*why = "a repetition count is over 1000";
				return -1;
			}
			p = strchr(p, '}') ? strchr(p, '}') : p;
		}
		if (repeat && ++repeats > 16) {
			*why = "it repeats more than 16 times";
			return -1;
		}
		after_repeat = repeat || (*p == '}');
		if (*p == '?')
			after_repeat = false;
	}
	return regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) == 0 ? 0 : -1;
}

/* Does the anchored pattern match text? Plain text compares directly. */
static int pattern_matches(const char *pattern, const char *text, bool *match, struct error *err)
{
	const char *why;
	regex_t re;
	char *anchored;
	int rc;

	if (!has_regex_syntax(pattern)) {
		*match = strcmp(pattern, text) == 0;
		return 0;
	}
	anchored = xasprintf("^(%s)$", pattern);
	rc = kust_regcomp(&re, anchored, &why);
	free(anchored);
	if (rc != 0)
		return error_set(err, ERR_INVALID, "invalid pattern '%s' in a target%s%s", pattern,
				 why ? ": " : "", why ? why : "");
	*match = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return 0;
}

static bool selector_char(char c)
{
	return c && c != ',' && c != '=' && c != '!' && c != '(' && c != ')' && c != ' ';
}

static struct str next_token(const char **p)
{
	const char *s = *p, *start;

	while (*s == ' ')
		s++;
	start = s;
	while (selector_char(*s))
		s++;
	*p = s;
	return str_make(start, (size_t)(s - start));
}

static void skip_spaces(const char **p)
{
	while (**p == ' ')
		(*p)++;
}

static const char *map_value(const struct node *map, struct str key)
{
	for (size_t i = 0; map && map->type == NODE_MAP && i < map->count; i++) {
		if (str_eq(str_make(map->pairs[i].key->str, map->pairs[i].key->len), key)) {
			const struct node *v = map->pairs[i].value;

			return v->type == NODE_MAP || v->type == NODE_SEQ ? "" : v->str;
		}
	}
	return NULL;
}

/* Kubernetes selector syntax: k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a,b). */
static int selector_matches_map(const char *selector, const struct node *map, bool *match,
				struct error *err)
{
	const char *p = selector;

	*match = true;
	while (*p) {
		bool negate = false, ok;
		struct str key;
		const char *have;

		skip_spaces(&p);
		if (*p == '!') {
			negate = true;
			p++;
		}
		key = next_token(&p);
		if (key.len == 0)
			return error_set(err, ERR_INVALID, "invalid selector '%s'", selector);
		have = map_value(map, key);
		skip_spaces(&p);
		if (negate) {
			ok = have == NULL;
		} else if (*p == '=' || (p[0] == '!' && p[1] == '=')) {
			bool not_equal = *p == '!';
			struct str want;

			p += not_equal ? 2 : (p[1] == '=' ? 2 : 1);
			want = next_token(&p);
			ok = have && str_eq(str_from(have), want);
			if (not_equal)
				ok = !ok;
		} else if (strncmp(p, "in ", 3) == 0 || strncmp(p, "in(", 3) == 0 ||
			   strncmp(p, "notin", 5) == 0) {
			bool notin = p[0] == 'n';
			bool found = false;

			p += notin ? 5 : 2;
			skip_spaces(&p);
			if (*p != '(')
				return error_set(err, ERR_INVALID, "invalid selector '%s'",
						 selector);
			p++;
			for (;;) {
				struct str v = next_token(&p);

				if (have && str_eq(str_from(have), v))
					found = true;
				skip_spaces(&p);
				if (*p == ',') {
					p++;
					continue;
				}
				if (*p == ')') {
					p++;
					break;
				}
				return error_set(err, ERR_INVALID, "invalid selector '%s'",
						 selector);
			}
			ok = notin ? !found : found;
		} else {
			ok = have != NULL;
		}
		if (!ok)
			*match = false;
		skip_spaces(&p);
		if (*p == ',')
			p++;
		else if (*p)
			return error_set(err, ERR_INVALID, "invalid selector '%s'", selector);
	}
	return 0;
}

static int either_matches(const char *pattern, const char *a, const char *b, bool *match,
			  struct error *err)
{
	int rc = pattern_matches(pattern, a, match, err);

	if (rc == 0 && !*match && strcmp(a, b) != 0)
		rc = pattern_matches(pattern, b, match, err);
	return rc;
}

int kust_selector_matches(const struct kselector *sel, const struct kres *r, bool *match,
			  struct error *err)
{
	const char *api_version = str_or_empty(node_get(r->root, "apiVersion"));
	const struct node *meta = node_get(r->root, "metadata");
	struct str g = api_group(api_version);
	char group[256];
	int rc = 0;

	*match = true;
	snprintf(group, sizeof(group), "%.*s", (int)g.len, g.ptr);
	if (sel->group && (rc = pattern_matches(sel->group, group, match, err)) < 0)
		return rc;
	if (*match && sel->version &&
	    (rc = pattern_matches(sel->version, api_version_part(api_version).ptr, match, err)) < 0)
		return rc;
	if (*match && sel->kind && (rc = pattern_matches(sel->kind, kres_kind(r), match, err)) < 0)
		return rc;
	if (*match && sel->name &&
	    (rc = either_matches(sel->name, r->org.name, kres_name(r), match, err)) < 0)
		return rc;
	if (*match && sel->namespace &&
	    (rc = either_matches(sel->namespace, r->org.namespace, kres_namespace(r), match, err)) <
		    0)
		return rc;
	if (*match && sel->label_selector &&
	    (rc = selector_matches_map(sel->label_selector, node_get(meta, "labels"), match, err)) <
		    0)
		return rc;
	if (*match && sel->annotation_selector)
		rc = selector_matches_map(sel->annotation_selector, node_get(meta, "annotations"),
					  match, err);
	return rc;
}

/* ---- building a kustomization ---- */

enum field_use { FIELD_OK, FIELD_UNSUPPORTED };

static const struct {
	const char *name;
	enum field_use use;
	const char *why;
} kustomization_fields[] = {
	{"apiVersion", FIELD_OK, NULL},
	{"kind", FIELD_OK, NULL},
	{"metadata", FIELD_OK, NULL},
	{"resources", FIELD_OK, NULL},
	{"bases", FIELD_OK, NULL},
	{"components", FIELD_OK, NULL},
	{"namespace", FIELD_OK, NULL},
	{"namePrefix", FIELD_OK, NULL},
	{"nameSuffix", FIELD_OK, NULL},
	{"labels", FIELD_OK, NULL},
	{"commonLabels", FIELD_OK, NULL},
	{"commonAnnotations", FIELD_OK, NULL},
	{"images", FIELD_OK, NULL},
	{"replicas", FIELD_OK, NULL},
	{"patches", FIELD_OK, NULL},
	{"patchesStrategicMerge", FIELD_OK, NULL},
	{"patchesJson6902", FIELD_OK, NULL},
	{"configMapGenerator", FIELD_OK, NULL},
	{"secretGenerator", FIELD_OK, NULL},
	{"generatorOptions", FIELD_OK, NULL},
	{"replacements", FIELD_OK, NULL},
	{"vars", FIELD_OK, NULL},
	{"sortOptions", FIELD_OK, NULL},
	{"helmCharts", FIELD_UNSUPPORTED, "Helm charts are not rendered by plumb"},
	{"helmGlobals", FIELD_UNSUPPORTED, "Helm charts are not rendered by plumb"},
	{"helmChartInflationGenerator", FIELD_UNSUPPORTED, "Helm charts are not rendered by plumb"},
	{"generators", FIELD_UNSUPPORTED, "plugin generators are not run by plumb"},
	{"transformers", FIELD_UNSUPPORTED, "plugin transformers are not run by plumb"},
	{"validators", FIELD_UNSUPPORTED, "plugin validators are not run by plumb"},
	{"configurations", FIELD_UNSUPPORTED,
	 "custom transformer configurations are not supported"},
	{"crds", FIELD_UNSUPPORTED, "CRD schemas for transformers are not supported"},
	{"openapi", FIELD_UNSUPPORTED, "custom OpenAPI schemas are not supported"},
	{"buildMetadata", FIELD_UNSUPPORTED, "build metadata annotations are not supported"},
	{"imageTags", FIELD_UNSUPPORTED, "use 'images' instead of the old 'imageTags'"},
};

static int check_fields(const struct klevel *lv, struct error *err)
{
	for (size_t i = 0; i < lv->k->count; i++) {
		const struct node *key = lv->k->pairs[i].key;
		size_t f;

		for (f = 0; f < ARRAY_SIZE(kustomization_fields); f++)
			if (strcmp(key->str, kustomization_fields[f].name) == 0)
				break;
		if (f == ARRAY_SIZE(kustomization_fields))
			return kust_error(lv, NULL, key, ERR_INVALID, err,
					  "unknown field '%s' in the kustomization", key->str);
		if (kustomization_fields[f].use == FIELD_UNSUPPORTED)
			return kust_error(lv, NULL, key, ERR_UNSUPPORTED, err, "'%s': %s", key->str,
					  kustomization_fields[f].why);
	}
	return 0;
}

/* The kustomization file in dir, NULL (and err set) if there is none or several. */
static char *find_kustomization(struct kbuild *b, const char *dir, struct error *err)
{
	char *found = NULL;

	for (size_t k = 0; k < ARRAY_SIZE(kustomization_names); k++) {
		enum tree_type type = TREE_NONE;
		char *path = *dir ? xasprintf("%s/%s", dir, kustomization_names[k])
				  : xstrdup(kustomization_names[k]);

		if (tree_stat(b->tree, path, &type, NULL) == 0 && type == TREE_FILE) {
			if (found) {
				error_set(
					err, ERR_INVALID,
					"%s: found both '%s' and '%s'; keep one kustomization file",
					*dir ? dir : ".", found, path);
				free(found);
				free(path);
				return NULL;
			}
			found = path;
			continue;
		}
		free(path);
	}
	if (!found)
		error_set(err, ERR_NOTFOUND,
			  "'%s' has no kustomization.yaml, kustomization.yml or Kustomization",
			  *dir ? dir : ".");
	return found;
}

bool kust_dir_has_kustomization(struct tree *tree, const char *dir)
{
	for (size_t k = 0; k < ARRAY_SIZE(kustomization_names); k++) {
		enum tree_type type = TREE_NONE;
		char *path = *dir ? xasprintf("%s/%s", dir, kustomization_names[k])
				  : xstrdup(kustomization_names[k]);
		int rc = tree_stat(tree, path, &type, NULL);

		free(path);
		if (rc == 0 && type == TREE_FILE)
			return true;
	}
	return false;
}

static int build_level(struct kbuild *b, const char *dir, const struct klevel *parent,
		       const struct node *at, bool want_component, struct vec *set,
		       struct error *err);

static bool is_remote(const char *s)
{
	return strstr(s, "://") || strncmp(s, "github.com/", 11) == 0 ||
	       strncmp(s, "git@", 4) == 0 || strncmp(s, "gitlab.com/", 11) == 0 ||
	       strncmp(s, "bitbucket.org/", 14) == 0;
}

/* Each entry of a list of paths (resources, bases, components), checked. */
static int each_path(const struct klevel *lv, const char *field, const struct node **items,
		     size_t *count, struct error *err)
{
	const struct node *list = node_get(lv->k, field);

	*items = NULL;
	*count = 0;
	if (!list || list->type == NODE_NULL)
		return 0;
	if (list->type != NODE_SEQ)
		return kust_error(lv, NULL, list, ERR_INVALID, err, "'%s' must be a list of paths",
				  field);
	for (size_t i = 0; i < list->count; i++) {
		const struct node *item = list->items[i];

		if (item->type == NODE_MAP || item->type == NODE_SEQ || item->type == NODE_NULL)
			return kust_error(lv, NULL, item, ERR_INVALID, err,
					  "each entry of '%s' must be a path", field);
		if (is_remote(item->str))
			return kust_error(lv, NULL, item, ERR_UNSUPPORTED, err,
					  "remote %s '%s' are not supported: plumb renders only "
					  "what is in the repository (vendor it, or make it an "
					  "application of its own)",
					  field, item->str);
	}
	*items = (const struct node *)list;
	*count = list->count;
	return 0;
}

/* Adds a resource file's objects, or a nested kustomization's result, to set. */
static int accumulate(struct klevel *lv, const struct node *item, bool want_component,
		      struct vec *set, struct error *err)
{
	struct error why = ERROR_INIT;
	enum tree_type type = TREE_NONE;
	char *joined = NULL;
	int rc;

	if (tree_path_join(lv->dir, item->str, &joined, &why) < 0)
		return kust_error(lv, NULL, item, ERR_INVALID, err, "%s", why.msg);
	if ((rc = tree_stat(lv->b->tree, joined, &type, &why)) < 0) {
		rc = kust_error(lv, NULL, item, rc, err, "%s", why.msg);
		goto out;
	}
	if (type == TREE_DIR) {
		rc = build_level(lv->b, joined, lv, item, want_component, set, err);
	} else if (type == TREE_FILE && !want_component) {
		const char *data, *path;
		size_t len;

		if ((rc = kust_read_file(lv, item, item->str, &data, &len, &path, err)) == 0)
			rc = kust_parse_objects(lv->b, path, data, len, set, err);
	} else {
		rc = kust_error(lv, NULL, item, ERR_NOTFOUND, err, "%s '%s' not found",
				want_component ? "component directory" : "resource", item->str);
	}
out:
	free(joined);
	return rc;
}

/* The key of a resource's identity, as kustomize compares them. Caller frees. */
static char *identity_key(const struct kres *r)
{
	struct obj_id id;

	kres_id(r, &id);
	if (kust_cluster_scoped(id.group, id.kind))
		id.namespace = "";
	return xasprintf("%s\x01%s\x01%s\x01%s\x01%s", id.group, id.version, id.kind, id.namespace,
			 id.name);
}

struct kres *kust_duplicate(const struct vec *set, struct kres **first)
{
	struct map seen = MAP_INIT;
	struct kres *r, *found = NULL;
	size_t i;

	vec_foreach (set, i, r) {
		char *key = identity_key(r);

		*first = map_get(&seen, key);
		if (*first) {
			found = r;
			free(key);
			break;
		}
		map_put(&seen, key, r);
		free(key);
	}
	map_release(&seen, NULL);
	return found;
}

/* kustomize refuses two resources with one identity. */
static int check_unique(struct klevel *lv, struct vec *set, struct error *err)
{
	struct kres *first, *again = kust_duplicate(set, &first);

	if (!again)
		return 0;
	return kust_error(lv, NULL, NULL, ERR_CONFLICT, err,
			  "%s is defined twice: at %s:%u and at %s:%u", kres_display(lv->b, again),
			  first->file, first->line, again->file, again->line);
}

typedef int (*transformer_fn)(struct klevel *lv, struct vec *set, struct error *err);

/* kustomize's order of the built-in transformers of one kustomization. */
static const transformer_fn transformers[] = {
	kust_patches_strategic_merge,
	kust_patches,
	kust_namespace,
	kust_name_affixes,
	kust_labels,
	kust_annotations,
	kust_patches_json6902,
	kust_replicas,
	kust_images,
	kust_replacements,
};

static int run_level(struct klevel *lv, struct vec *set, struct error *err)
{
	const struct node *items;
	size_t count;
	int rc;

	if ((rc = check_fields(lv, err)) < 0)
		return rc;
	/* resources, then the legacy bases */
	for (int pass = 0; pass < 2; pass++) {
		if ((rc = each_path(lv, pass ? "bases" : "resources", &items, &count, err)) < 0)
			return rc;
		for (size_t i = 0; i < count; i++)
			if ((rc = accumulate(lv, items->items[i], false, set, err)) < 0)
				return rc;
	}
	if ((rc = check_unique(lv, set, err)) < 0)
		return rc;
	if ((rc = kust_generate(lv, set, err)) < 0)
		return rc;
	if ((rc = each_path(lv, "components", &items, &count, err)) < 0)
		return rc;
	for (size_t i = 0; i < count; i++)
		if ((rc = accumulate(lv, items->items[i], true, set, err)) < 0)
			return rc;
	for (size_t t = 0; t < ARRAY_SIZE(transformers); t++)
		if ((rc = transformers[t](lv, set, err)) < 0)
			return rc;
	return kust_vars_collect(lv, set, err);
}

/*
 * Builds the kustomization in dir. A kustomization's result is appended to set;
 * a component works on set itself (its parent's resources).
 */
static int build_level(struct kbuild *b, const char *dir, const struct klevel *parent,
		       const struct node *at, bool want_component, struct vec *set,
		       struct error *err)
{
	struct klevel lv = {.b = b, .dir = arena_strdup(b->arena, dir)};
	struct error why = ERROR_INIT;
	struct vec docs = VEC_INIT;
	struct vec own = VEC_INIT;
	const char *data, *kind;
	char *file;
	size_t len, i;
	int rc;

	for (i = 0; i < b->stack.len; i++) {
		if (strcmp(b->stack.items[i], dir) == 0)
			return kust_error(parent, NULL, at, ERR_INVALID, err,
					  "'%s' includes itself (a cycle of kustomizations)",
					  *dir ? dir : ".");
	}
	if (!(file = find_kustomization(b, dir, &why)))
		return parent ? kust_error(parent, NULL, at, why.code, err, "%s", why.msg)
			      : error_set(err, why.code, "%s", why.msg);
	lv.file = arena_strdup(b->arena, file);
	free(file);
	if ((rc = load(b, lv.file, &data, &len, err)) < 0)
		return rc;
	if ((rc = yaml_parse(b->arena, lv.file, data, len, NULL, &docs, err)) < 0)
		goto out;
	if (docs.len == 0) {
		lv.k = node_new_map(b->arena, 0);
	} else if (docs.len > 1 || ((struct yaml_doc *)docs.items[0])->root->type != NODE_MAP) {
		rc = kust_error(&lv, NULL, NULL, ERR_INVALID, err,
				"a kustomization must be one mapping");
		goto out;
	} else {
		lv.k = ((struct yaml_doc *)docs.items[0])->root;
	}
	kind = node_string(node_get(lv.k, "kind"));
	lv.component = kind && strcmp(kind, "Component") == 0;
	if (kind && !lv.component && strcmp(kind, "Kustomization") != 0) {
		rc = kust_error(&lv, NULL, node_get(lv.k, "kind"), ERR_INVALID, err,
				"kind must be Kustomization or Component, not '%s'", kind);
		goto out;
	}
	if (lv.component != want_component) {
		rc = kust_error(parent ? parent : &lv, NULL, at, ERR_INVALID, err,
				want_component ? "'%s' is listed in components but is not a "
						 "Component (kind: Component)"
					       : "'%s' is a Component: list it under components, "
						 "not resources",
				*dir ? dir : ".");
		goto out;
	}
	vec_push(&b->stack, (void *)lv.dir);
	rc = run_level(&lv, lv.component ? set : &own, err);
	vec_pop(&b->stack);
	if (rc == 0 && !lv.component) {
		struct kres *r;

		vec_foreach (&own, i, r)
			vec_push(set, r);
	}
out:
	vec_release(&own, NULL);
	vec_release(&docs, NULL);
	return rc;
}

/* ---- output order ---- */

static const char *const order_first[] = {
	"Namespace",
	"ResourceQuota",
	"StorageClass",
	"CustomResourceDefinition",
	"ServiceAccount",
	"PodSecurityPolicy",
	"Role",
	"ClusterRole",
	"RoleBinding",
	"ClusterRoleBinding",
	"ConfigMap",
	"Secret",
	"Endpoints",
	"Service",
	"LimitRange",
	"PriorityClass",
	"PersistentVolume",
	"PersistentVolumeClaim",
	"Deployment",
	"StatefulSet",
	"CronJob",
	"PodDisruptionBudget",
};

static const char *const order_last[] = {
	"MutatingWebhookConfiguration",
	"ValidatingWebhookConfiguration",
};

struct sort_key {
	struct kres *r;
	int rank;
	char *gvk;  /* kustomize's "group_version_kind" with ~G/~V for empty parts */
	char *rest; /* "namespace|name" with ~X for no namespace */
};

static int rank_of(const char *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(order_first); i++)
		if (strcmp(kind, order_first[i]) == 0)
			return (int)i - (int)ARRAY_SIZE(order_first);
	for (size_t i = 0; i < ARRAY_SIZE(order_last); i++)
		if (strcmp(kind, order_last[i]) == 0)
			return (int)i + 1;
	return 0;
}

static int compare_keys(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;
	int c;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if ((c = strcmp(x->gvk, y->gvk)) != 0)
		return c;
	return strcmp(x->rest, y->rest);
}

static void sort_legacy(struct vec *set)
{
	struct sort_key *keys = xcalloc(set->len ? set->len : 1, sizeof(*keys));

	for (size_t i = 0; i < set->len; i++) {
		struct kres *r = set->items[i];
		struct obj_id id;

		kres_id(r, &id);
		keys[i].r = r;
		keys[i].rank = rank_of(id.kind);
		keys[i].gvk = xasprintf("%s_%s_%s", *id.group ? id.group : "~G",
					*id.version ? id.version : "~V", id.kind);
		keys[i].rest = xasprintf("%s|%s", *id.namespace ? id.namespace : "~X", id.name);
	}
	qsort(keys, set->len, sizeof(*keys), compare_keys);
	for (size_t i = 0; i < set->len; i++) {
		set->items[i] = keys[i].r;
		free(keys[i].gvk);
		free(keys[i].rest);
	}
	free(keys);
}

/* sortOptions: order legacy (the default) or fifo; legacySortOptions are not supported. */
static int sort_output(struct kbuild *b, const char *dir, struct vec *set, struct error *err)
{
	char *file = find_kustomization(b, dir, NULL);
	const char *data;
	size_t len;
	struct vec docs = VEC_INIT;
	const struct node *opts = NULL, *order = NULL;
	int rc = 0;

	if (file && load(b, file, &data, &len, NULL) == 0 &&
	    yaml_parse(b->arena, file, data, len, NULL, &docs, NULL) == 0 && docs.len)
		opts = node_get(((struct yaml_doc *)docs.items[0])->root, "sortOptions");
	order = node_get(opts, "order");
	if (order && node_string(order) && strcmp(order->str, "fifo") == 0)
		goto out;
	if (node_get(opts, "legacySortOptions") ||
	    (order && !(node_string(order) && strcmp(order->str, "legacy") == 0))) {
		rc = error_set(err, ERR_UNSUPPORTED,
			       "%s:%u: sortOptions: only 'order: legacy' and 'order: fifo' are "
			       "supported",
			       file, opts->line);
		goto out;
	}
	sort_legacy(set);
out:
	vec_release(&docs, NULL);
	free(file);
	return rc;
}

/* ---- the whole build ---- */

/*
 * kustomize keeps annotations as strings: a value written as a number, a
 * boolean or null comes out as the string of its text as written ("1",
 * "True", "null", "~", "" for an empty value).
 */
static void annotations_as_strings(struct arena *arena, struct kres *r)
{
	struct node *annotations = node_get(node_get(r->root, "metadata"), "annotations");

	if (!annotations || annotations->type != NODE_MAP)
		return;
	for (size_t i = 0; i < annotations->count; i++) {
		struct node *v = annotations->pairs[i].value;

		if (v->type == NODE_NULL || v->type == NODE_INT || v->type == NODE_FLOAT ||
		    v->type == NODE_BOOL)
			annotations->pairs[i].value = node_new_string(arena, v->str, v->len);
	}
}

static int to_objset(struct vec *res, struct objset *set, struct error *err)
{
	struct buf canon = BUF_INIT;
	struct kres *r;
	size_t i;
	int rc = 0;

	vec_foreach (res, i, r) {
		struct obj *obj = arena_alloc(&set->arena, sizeof(*obj));
		struct obj_id id;
		char *key;

		annotations_as_strings(&set->arena, r);
		current_id(&(struct kbuild){.arena = &set->arena}, r, &id);
		obj->id = id;
		obj->id.kind = arena_strdup(&set->arena, id.kind);
		obj->id.version = arena_strdup(&set->arena, id.version);
		obj->file = r->file;
		obj->line = r->line;
		obj->col = r->col;
		obj->root = r->root;
		buf_reset(&canon);
		if ((rc = node_canonical_json(r->root, &canon)) < 0)
			break;
		sha256(canon.data, canon.len, obj->hash);
		key = obj_id_key(&obj->id);
		if (map_get(&set->by_id, key)) {
			char *display = obj_id_display(&obj->id);

			rc = error_set(err, ERR_CONFLICT, "%s:%u: duplicate object %s", obj->file,
				       obj->line, display);
			free(display);
			free(key);
			break;
		}
		map_put(&set->by_id, key, obj);
		vec_push(&set->objs, obj);
		free(key);
	}
	buf_release(&canon);
	return rc;
}

int kust_build(struct tree *tree, const char *dir, const struct render_opts *opts,
	       struct objset *set, struct error *err)
{
	struct kbuild b = {.arena = &set->arena, .tree = tree, .opts = opts};
	struct vec res = VEC_INIT;
	int rc;

	rc = build_level(&b, dir, NULL, NULL, false, &res, err);
	if (rc == 0)
		rc = kust_hash_names(&b, &res, err);
	if (rc == 0)
		rc = kust_fix_name_refs(&b, &res, err);
	if (rc == 0)
		rc = kust_vars_resolve(&b, &res, err);
	if (rc == 0)
		rc = sort_output(&b, dir, &res, err);
	if (rc == 0)
		rc = to_objset(&res, set, err);
	vec_release(&res, NULL);
	for (size_t i = 0; i < b.all.len; i++) {
		struct kres *r = b.all.items[i];

		vec_release(&r->prev, NULL);
		vec_release(&r->prefixes, NULL);
		vec_release(&r->suffixes, NULL);
	}
	vec_release(&b.all, NULL);
	vec_release(&b.vars, NULL);
	vec_release(&b.stack, NULL);
	map_release(&b.loaded, NULL);
	return rc;
}
