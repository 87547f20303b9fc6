/*
 * The kustomization fields that set values in many objects at once: labels and
 * commonLabels, commonAnnotations, replicas and images.
 *
 * Where each value goes comes from kustomize's built-in field-spec tables
 * (below), walked with kust_walk_field. A kustomization is read the way
 * kustomize reads it: YAML 1.1 scalars (`yes`, `on`, `012` are not strings),
 * strings where kustomize wants strings, and unknown fields are errors.
 */
#include "kust_int.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- kustomize's built-in field specs ---- */

/* Where pod affinity terms keep their label selectors. */
#define AFFINITY "spec/template/spec/affinity/"
#define PREFERRED \
	"preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels"
#define REQUIRED "requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels"

/* commonLabels, and labels with includeSelectors: selectors, then template_label_specs. */
static const struct kfieldspec selector_label_specs[] = {
	{"", "v1", "Service", "spec/selector", true},
	{"", "v1", "ReplicationController", "spec/selector", true},
	{"", "", "Deployment", "spec/selector/matchLabels", true},
	{"apps", "", "Deployment", AFFINITY "podAffinity/" PREFERRED, false},
	{"apps", "", "Deployment", AFFINITY "podAffinity/" REQUIRED, false},
	{"apps", "", "Deployment", AFFINITY "podAntiAffinity/" PREFERRED, false},
	{"apps", "", "Deployment", AFFINITY "podAntiAffinity/" REQUIRED, false},
	{"apps", "", "Deployment",
	 "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false},
	{"", "", "ReplicaSet", "spec/selector/matchLabels", true},
	{"", "", "DaemonSet", "spec/selector/matchLabels", true},
	{"apps", "", "StatefulSet", "spec/selector/matchLabels", true},
	{"apps", "", "StatefulSet", AFFINITY "podAffinity/" PREFERRED, false},
	{"apps", "", "StatefulSet", AFFINITY "podAffinity/" REQUIRED, false},
	{"apps", "", "StatefulSet", AFFINITY "podAntiAffinity/" PREFERRED, false},
	{"apps", "", "StatefulSet", AFFINITY "podAntiAffinity/" REQUIRED, false},
	{"apps", "", "StatefulSet",
	 "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false},
	{"batch", "", "Job", "spec/selector/matchLabels", false},
	{"batch", "", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false},
	{"policy", "", "PodDisruptionBudget", "spec/selector/matchLabels", false},
	{"networking.k8s.io", "", "NetworkPolicy", "spec/podSelector/matchLabels", false},
	{"networking.k8s.io", "", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels",
	 false},
	{"networking.k8s.io", "", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", false},
};

/* labels with includeTemplates: objects' own labels and their templates' labels. */
static const struct kfieldspec template_label_specs[] = {
	{"", "", "", "metadata/labels", true},
	{"", "v1", "ReplicationController", "spec/template/metadata/labels", true},
	{"", "", "Deployment", "spec/template/metadata/labels", true},
	{"", "", "ReplicaSet", "spec/template/metadata/labels", true},
	{"", "", "DaemonSet", "spec/template/metadata/labels", true},
	{"apps", "", "StatefulSet", "spec/template/metadata/labels", true},
	{"apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true},
	{"batch", "", "Job", "spec/template/metadata/labels", true},
	{"batch", "", "CronJob", "spec/jobTemplate/metadata/labels", true},
	{"batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true},
};

static const struct kfieldspec metadata_label_spec = {"", "", "", "metadata/labels", true};

static const struct kfieldspec common_annotation_specs[] = {
	{"", "", "", "metadata/annotations", true},
	{"", "v1", "ReplicationController", "spec/template/metadata/annotations", true},
	{"", "", "Deployment", "spec/template/metadata/annotations", true},
	{"", "", "ReplicaSet", "spec/template/metadata/annotations", true},
	{"", "", "DaemonSet", "spec/template/metadata/annotations", true},
	{"", "", "StatefulSet", "spec/template/metadata/annotations", true},
	{"batch", "", "Job", "spec/template/metadata/annotations", true},
	{"batch", "", "CronJob", "spec/jobTemplate/metadata/annotations", true},
	{"batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true},
};

/* In the order kustomize lists them when a name matches none. */
static const struct kfieldspec replica_specs[] = {
	{"", "", "Deployment", "spec/replicas", true},
	{"", "", "StatefulSet", "spec/replicas", true},
	{"", "", "ReplicaSet", "spec/replicas", true},
	{"", "", "ReplicationController", "spec/replicas", true},
};

/* Images are also found in any containers or initContainers list (see legacy_images). */
static const struct kfieldspec image_specs[] = {
	{"", "", "", "spec/containers[]/image", false},
	{"", "", "", "spec/initContainers[]/image", false},
	{"", "", "", "spec/template/spec/containers[]/image", false},
	{"", "", "", "spec/template/spec/initContainers[]/image", false},
};

/* ---- reading scalars the way kustomize does (YAML 1.1) ---- */

enum scalar11_type { S11_STRING, S11_NULL, S11_BOOL, S11_INT, S11_FLOAT, S11_COLLECTION };

struct scalar11 {
	enum scalar11_type type;
	bool boolean;
	int64_t integer;
	double real;
};

static bool text_in(const char *text, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(text, *set) == 0)
			return true;
	return false;
}

/* Copies text without '_' into out (cap bytes); false if it does not fit. */
static bool strip_underscores(const char *text, char *out, size_t cap)
{
	size_t n = 0;

	for (; *text; text++) {
		if (*text == '_')
			continue;
		if (n + 1 >= cap)
			return false;
		out[n++] = *text;
	}
	out[n] = '\0';
	return n > 0;
}

/* Go's strconv.ParseInt(s, 0, 64): sign, then 0x, 0o, 0b, a leading 0 (octal) or decimal. */
static bool parse_go_int(const char *s, int64_t *out)
{
	const char *digits = s;
	int base = 10;
	bool negative = false;
	unsigned long long v;
	char *end;

	if (*digits == '+' || *digits == '-')
		negative = *digits++ == '-';
	if (digits[0] == '0' && digits[1]) {
		char prefix = (char)(digits[1] | 0x20);

		base = prefix == 'x' ? 16 : prefix == 'o' ? 8 : prefix == 'b' ? 2 : 8;
		digits += base == 8 && prefix != 'o' ? 1 : 2;
	}
	if (!*digits || *digits == '+' || *digits == '-' || *digits == ' ')
		return false;
	errno = 0;
	v = strtoull(digits, &end, base);
	if (*end || errno == ERANGE)
		return false;
	if (negative ? v > (unsigned long long)INT64_MAX + 1 : v > (unsigned long long)INT64_MAX)
		return false;
	*out = negative ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* go-yaml v2's float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_yaml11_float(const char *s)
{
	const char *p = s;
	size_t digits = 0;

	if (*p == '+' || *p == '-')
		p++;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (!digits)
			return false;
	} else {
		for (; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (!digits)
			return false;
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* The number a plain scalar spells for go-yaml v2, if any. */
static bool read_yaml11_number(const char *text, struct scalar11 *out)
{
	char plain[128];
	uint64_t big;
	char *end;

	if (!strchr("+-.0123456789", text[0]) || !strip_underscores(text, plain, sizeof(plain)))
		return false;
	if (parse_go_int(plain, &out->integer)) {
		out->type = S11_INT;
		return true;
	}
	errno = 0;
	big = strtoull(plain, &end, 0);
	if (plain[0] != '-' && plain[0] != '+' && !*end && errno == 0) {
		out->type = S11_FLOAT;
		out->real = (double)big;
		return true;
	}
	if (is_yaml11_float(plain)) {
		out->type = S11_FLOAT;
		out->real = strtod(plain, NULL);
		return true;
	}
	return false;
}

/* What kustomize's YAML reader (YAML 1.1) makes of n. */
static void scalar11_read(const struct node *n, struct scalar11 *out)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
					    "True", "TRUE", "on",  "On",  "ON",	 NULL};
	static const char *const falses[] = {"n",     "N",     "no",  "No",  "NO",  "false",
					     "False", "FALSE", "off", "Off", "OFF", NULL};
	static const char *const specials[] = {".inf",	".Inf",	 ".INF",  "+.inf", "+.Inf",
					       "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
					       ".NaN",	".NAN",	 NULL};

	memset(out, 0, sizeof(*out));
	if (n->type == NODE_MAP || n->type == NODE_SEQ) {
		out->type = S11_COLLECTION;
		return;
	}
	if (n->style != STYLE_PLAIN) {
		out->type = S11_STRING;
		return;
	}
	if (text_in(n->str, nulls)) {
		out->type = S11_NULL;
	} else if (text_in(n->str, trues) || text_in(n->str, falses)) {
		out->type = S11_BOOL;
		out->boolean = text_in(n->str, trues);
	} else if (text_in(n->str, specials)) {
		out->type = S11_FLOAT;
		if (strpbrk(n->str, "aA"))
			out->real = NAN;
		else
			out->real = n->str[0] == '-' ? -INFINITY : INFINITY;
	} else if (!read_yaml11_number(n->str, out)) {
		out->type = S11_STRING;
	}
}

/* A plain scalar go-yaml v2 reads as a timestamp: yyyy-m-d, maybe followed by a time. */
static bool is_yaml11_timestamp(const char *s)
{
	const char *p = s;
	size_t n;

	for (n = 0; *p >= '0' && *p <= '9'; p++)
		n++;
	if (n != 4 || *p++ != '-')
		return false;
	for (int part = 0; part < 2; part++) {
		for (n = 0; *p >= '0' && *p <= '9'; p++)
			n++;
		if (n < 1 || n > 2 || (part == 0 && *p++ != '-'))
			return false;
	}
	if (!*p)
		return true;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	return p[1] >= '0' && p[1] <= '9' && strspn(p + 1, "0123456789:.+-Z ") == strlen(p + 1);
}

static const char *scalar11_name(enum scalar11_type type)
{
	switch (type) {
	case S11_NULL:
		return "null";
	case S11_BOOL:
		return "a boolean";
	case S11_INT:
	case S11_FLOAT:
		return "a number";
	case S11_COLLECTION:
		return "a mapping or a sequence";
	default:
		return "a string";
	}
}

/* A string field: null reads as "". */
static int read_string(const struct klevel *lv, const struct node *n, const char *what,
		       const char **out, struct error *err)
{
	struct scalar11 s;

	scalar11_read(n, &s);
	if (s.type == S11_NULL) {
		*out = "";
		return 0;
	}
	if (s.type != S11_STRING)
		return kust_error(lv, NULL, n, ERR_INVALID, err,
				  "%s must be a string, not %s%s%s%s", what, scalar11_name(s.type),
				  s.type == S11_COLLECTION ? "" : " (quote '",
				  s.type == S11_COLLECTION ? "" : n->str,
				  s.type == S11_COLLECTION ? "" : "')");
	*out = n->str;
	return 0;
}

static int read_bool(const struct klevel *lv, const struct node *n, const char *what, bool *out,
		     struct error *err)
{
	struct scalar11 s;

	scalar11_read(n, &s);
	if (s.type != S11_BOOL && s.type != S11_NULL)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "%s must be true or false, not %s",
				  what, scalar11_name(s.type));
	*out = s.type == S11_BOOL && s.boolean;
	return 0;
}

static int read_int(const struct klevel *lv, const struct node *n, const char *what, int64_t *out,
		    struct error *err)
{
	struct scalar11 s;

	scalar11_read(n, &s);
	if (s.type == S11_NULL) {
		*out = 0;
		return 0;
	}
	if (s.type == S11_INT) {
		*out = s.integer;
		return 0;
	}
	if (s.type == S11_FLOAT && s.real == floor(s.real) && s.real >= -9223372036854775808.0 &&
	    s.real < 9223372036854775808.0) {
		*out = (int64_t)s.real;
		return 0;
	}
	return kust_error(lv, NULL, n, ERR_INVALID, err, "%s must be an integer, not %s", what,
			  s.type == S11_FLOAT ? "a fraction or a number out of range"
					      : scalar11_name(s.type));
}

/* Fails on a field of map not named in allowed (NULL-terminated). */
static int check_known_fields(const struct klevel *lv, const struct node *map, const char *what,
			      const char *const *allowed, struct error *err)
{
	for (size_t i = 0; i < map->count; i++) {
		const struct node *key = map->pairs[i].key;
		struct buf names = BUF_INIT;
		int rc;

		if (text_in(key->str, allowed))
			continue;
		for (const char *const *a = allowed; *a; a++)
			buf_addf(&names, "%s%s", a == allowed ? "" : ", ", *a);
		rc = kust_error(lv, NULL, key, ERR_INVALID, err,
				"unknown field '%s' in %s (expected %s)", key->str, what,
				names.data);
		buf_release(&names);
		return rc;
	}
	return 0;
}

/* The value of a top-level field, NULL if absent or null; type-checked. */
static int top_field(const struct klevel *lv, const char *field, enum node_type want,
		     const struct node **out, struct error *err)
{
	const struct node *n = node_get(lv->k, field);

	*out = NULL;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != want)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "'%s' must be %s, not %s", field,
				  node_type_name(want), node_type_name(n->type));
	*out = n;
	return 0;
}

/* ---- sets of key/value pairs ---- */

struct pairs {
	const char **keys;
	const char **values;
	size_t count;
};

/* Reads a mapping of strings to strings (labels or annotations). */
static int read_pairs(const struct klevel *lv, const struct node *map, const char *what,
		      struct pairs *out, struct error *err)
{
	struct arena *arena = lv->b->arena;

	memset(out, 0, sizeof(*out));
	if (!map || map->type == NODE_NULL)
		return 0;
	if (map->type != NODE_MAP)
		return kust_error(lv, NULL, map, ERR_INVALID, err, "%s must be a mapping, not %s",
				  what, node_type_name(map->type));
	out->keys = arena_alloc(arena, (map->count + 1) * sizeof(*out->keys));
	out->values = arena_alloc(arena, (map->count + 1) * sizeof(*out->values));
	for (size_t i = 0; i < map->count; i++) {
		const struct node *key = map->pairs[i].key;
		char value_what[300];
		struct scalar11 s;
		int rc;

		scalar11_read(key, &s);
		if (s.type == S11_STRING && key->style == STYLE_PLAIN &&
		    is_yaml11_timestamp(key->str))
			return kust_error(
				lv, NULL, key, ERR_INVALID, err,
				"a key of %s must be a string, not a timestamp (quote it)", what);
		if (s.type != S11_STRING || !*key->str)
			return kust_error(lv, NULL, key, ERR_INVALID, err,
					  "a key of %s must be a non-empty string, not %s%s", what,
					  *key->str ? scalar11_name(s.type) : "empty",
					  *key->str ? " (quote it)" : "");
		snprintf(value_what, sizeof(value_what), "the value of '%.200s' in %s", key->str,
			 what);
		if ((rc = read_string(lv, map->pairs[i].value, value_what, &out->values[out->count],
				      err)) < 0)
			return rc;
		out->keys[out->count++] = key->str;
	}
	return 0;
}

/*
 * One application of a set of pairs. Like kustomize, each key's value is one
 * node per resource: a key that was absent gets that very node at every place
 * it goes, and a key already present has its node overwritten in place. So a
 * label set once in the labels, the selector and the template of a Deployment
 * stays one node there, and any later change to one of them (another label
 * transformer, a patch) shows at all three, as it does with kustomize.
 */
struct pairs_job {
	const struct klevel *lv;
	const struct pairs *pairs;
	const struct kfieldspec *fs;
	struct node **shared; /* per key, made for the resource at hand (NULL until then) */
};

/* Sets map[key] to the job's value for pair i, as described above. */
static void set_pair(struct kbuild *b, struct pairs_job *job, struct node *map, size_t i)
{
	struct node *have = node_get(map, job->pairs->keys[i]);

	if (!job->shared[i])
		job->shared[i] = node_new_cstr(b->arena, job->pairs->values[i]);
	if (have && have != job->shared[i])
		*have = *job->shared[i];
	else if (!have)
		node_map_set(b->arena, map, job->pairs->keys[i], job->shared[i]);
}

/* kfield_fn: sets every pair in the mapping parent[key], made if the spec creates it. */
static int set_pairs(struct kbuild *b, struct kres *r, struct node *parent, const char *key,
		     void *ud, struct error *err)
{
	struct pairs_job *job = ud;
	struct node *map = node_get(parent, key);

	if (!map || map->type == NODE_NULL) {
		if (!job->fs->create)
			return 0;
		map = node_new_map(b->arena, job->pairs->count);
		node_map_set(b->arena, parent, key, map);
	}
	if (map->type != NODE_MAP)
		return kust_error(job->lv, r->file, map, ERR_INVALID, err,
				  "%s: '%s' must be a mapping, not %s", kres_display(b, r),
				  job->fs->path, node_type_name(map->type));
	for (size_t i = 0; i < job->pairs->count; i++)
		set_pair(b, job, map, i);
	return 0;
}

/* Sets pairs at every place specs name, in every resource of set. */
static int apply_pairs(const struct klevel *lv, struct vec *set, const struct pairs *pairs,
		       const struct kfieldspec *const *specs, size_t spec_count, struct error *err)
{
	struct pairs_job job = {lv, pairs, NULL, NULL};
	struct kres *r;
	size_t i;

	if (!pairs->count)
		return 0;
	job.shared = arena_alloc(lv->b->arena, pairs->count * sizeof(*job.shared));
	vec_foreach (set, i, r) {
		memset(job.shared, 0, pairs->count * sizeof(*job.shared));
		for (size_t s = 0; s < spec_count; s++) {
			int rc;

			job.fs = specs[s];
			rc = kust_walk_field(lv->b, r, specs[s], set_pairs, &job, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- field-spec lists (kustomize's FsSlice merge) ---- */

struct spec_list {
	const struct kfieldspec **items;
	const struct node **origins; /* where each was written, NULL for built-in ones */
	size_t count;
	size_t cap;
};

static bool field_selected(const char *have, const char *want)
{
	return !want || !*want || strcmp(have ? have : "", want) == 0;
}

/* kustomize counts two specs as one when the paths match and `in` selects `have`'s kind. */
static bool same_spec(const struct kfieldspec *have, const struct kfieldspec *in)
{
	return strcmp(have->path, in->path) == 0 && field_selected(have->group, in->group) &&
	       field_selected(have->version, in->version) && field_selected(have->kind, in->kind);
}

static void spec_list_push(struct arena *arena, struct spec_list *l, const struct kfieldspec *fs,
			   const struct node *origin)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		const struct kfieldspec **items = arena_alloc(arena, cap * sizeof(*items));
		const struct node **origins = arena_alloc(arena, cap * sizeof(*origins));

		if (l->count) {
			memcpy(items, l->items, l->count * sizeof(*items));
			memcpy(origins, l->origins, l->count * sizeof(*origins));
		}
		l->items = items;
		l->origins = origins;
		l->cap = cap;
	}
	l->items[l->count] = fs;
	l->origins[l->count++] = origin;
}

/*
 * Adds a built-in spec unless the list has it. Returns the index of a spec the
 * list has with the other create flag (kustomize refuses that), else -1.
 */
static ssize_t spec_list_merge(struct arena *arena, struct spec_list *l,
			       const struct kfieldspec *fs)
{
	for (size_t i = 0; i < l->count; i++)
		if (same_spec(l->items[i], fs))
			return l->items[i]->create == fs->create ? -1 : (ssize_t)i;
	spec_list_push(arena, l, fs, NULL);
	return -1;
}

/* ---- labels and commonLabels ---- */

/* Reads one of a label entry's `fields` into *out (arena). */
static int read_field_spec(const struct klevel *lv, const struct node *n,
			   const struct kfieldspec **out, struct error *err)
{
	static const char *const fields[] = {"group", "version", "kind", "path", "create", NULL};
	struct kfieldspec *fs = arena_alloc(lv->b->arena, sizeof(*fs));
	int rc;

	if (n->type != NODE_MAP)
		return kust_error(lv, NULL, n, ERR_INVALID, err,
				  "a field spec must be a mapping, not %s",
				  node_type_name(n->type));
	if ((rc = check_known_fields(lv, n, "a field spec", fields, err)) < 0)
		return rc;
	fs->group = fs->version = fs->kind = fs->path = "";
	for (size_t i = 0; i < n->count; i++) {
		const char *key = n->pairs[i].key->str;
		const struct node *v = n->pairs[i].value;
		char what[64];

		snprintf(what, sizeof(what), "'%s' of a field spec", key);
		if (strcmp(key, "create") == 0)
			rc = read_bool(lv, v, what, &fs->create, err);
		else
			rc = read_string(lv, v, what,
					 strcmp(key, "group") == 0     ? &fs->group
					 : strcmp(key, "version") == 0 ? &fs->version
					 : strcmp(key, "kind") == 0    ? &fs->kind
								       : &fs->path,
					 err);
		if (rc < 0)
			return rc;
	}
	if (!*fs->path)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "a field spec needs a 'path'");
	*out = fs;
	return 0;
}

static int merge_builtin(const struct klevel *lv, const struct node *at, struct spec_list *l,
			 const struct kfieldspec *specs, size_t count, struct error *err)
{
	for (size_t i = 0; i < count; i++) {
		ssize_t clash = spec_list_merge(lv->b->arena, l, &specs[i]);

		if (clash >= 0)
			return kust_error(lv, NULL, l->origins[clash] ? l->origins[clash] : at,
					  ERR_INVALID, err,
					  "conflicting field specs: kustomize's own spec for '%s' "
					  "has create: %s",
					  specs[i].path, specs[i].create ? "true" : "false");
	}
	return 0;
}

struct label_entry {
	struct pairs pairs;
	bool include_selectors;
	bool include_templates;
	const struct node *fields;
};

static int read_label_entry(const struct klevel *lv, const struct node *n, struct label_entry *e,
			    struct error *err)
{
	static const char *const fields[] = {"pairs", "includeSelectors", "includeTemplates",
					     "fields", NULL};
	int rc;

	memset(e, 0, sizeof(*e));
	if (n->type != NODE_MAP)
		return kust_error(lv, NULL, n, ERR_INVALID, err,
				  "an item of 'labels' must be a mapping, not %s",
				  node_type_name(n->type));
	if ((rc = check_known_fields(lv, n, "an item of 'labels'", fields, err)) < 0)
		return rc;
	for (size_t i = 0; i < n->count; i++) {
		const char *key = n->pairs[i].key->str;
		const struct node *v = n->pairs[i].value;

		if (strcmp(key, "pairs") == 0)
			rc = read_pairs(lv, v, "'pairs'", &e->pairs, err);
		else if (strcmp(key, "includeSelectors") == 0)
			rc = read_bool(lv, v, "'includeSelectors'", &e->include_selectors, err);
		else if (strcmp(key, "includeTemplates") == 0)
			rc = read_bool(lv, v, "'includeTemplates'", &e->include_templates, err);
		else if (v->type != NODE_NULL && v->type != NODE_SEQ)
			rc = kust_error(lv, NULL, v, ERR_INVALID, err,
					"'fields' must be a sequence, not %s",
					node_type_name(v->type));
		else
			e->fields = v->type == NODE_SEQ ? v : NULL;
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The specs of one `labels` item: its own fields first, then the built-in ones it asks for. */
static int label_entry_specs(const struct klevel *lv, const struct node *n,
			     const struct label_entry *e, struct spec_list *l, struct error *err)
{
	int rc;

	for (size_t i = 0; e->fields && i < e->fields->count; i++) {
		const struct kfieldspec *fs = NULL;

		if ((rc = read_field_spec(lv, e->fields->items[i], &fs, err)) < 0)
			return rc;
		spec_list_push(lv->b->arena, l, fs, e->fields->items[i]);
	}
	if (e->include_selectors && (rc = merge_builtin(lv, n, l, selector_label_specs,
							ARRAY_SIZE(selector_label_specs), err)) < 0)
		return rc;
	if ((e->include_selectors || e->include_templates) &&
	    (rc = merge_builtin(lv, n, l, template_label_specs, ARRAY_SIZE(template_label_specs),
				err)) < 0)
		return rc;
	return merge_builtin(lv, n, l, &metadata_label_spec, 1, err);
}

static int apply_label_entry(struct klevel *lv, struct vec *set, const struct node *n,
			     struct error *err)
{
	struct spec_list specs = {0};
	struct label_entry e;
	int rc;

	if ((rc = read_label_entry(lv, n, &e, err)) < 0)
		return rc;
	if ((rc = label_entry_specs(lv, n, &e, &specs, err)) < 0)
		return rc;
	return apply_pairs(lv, set, &e.pairs, specs.items, specs.count, err);
}

/* Appends the entries of a built-in table to l. */
static void push_table(struct arena *arena, struct spec_list *l, const struct kfieldspec *table,
		       size_t count)
{
	for (size_t i = 0; i < count; i++)
		spec_list_push(arena, l, &table[i], NULL);
}

int kust_labels(struct klevel *lv, struct vec *set, struct error *err)
{
	const struct node *labels, *common;
	struct spec_list specs = {0};
	struct pairs pairs;
	int rc;

	if ((rc = top_field(lv, "labels", NODE_SEQ, &labels, err)) < 0)
		return rc;
	for (size_t i = 0; labels && i < labels->count; i++)
		if ((rc = apply_label_entry(lv, set, labels->items[i], err)) < 0)
			return rc;
	if ((rc = top_field(lv, "commonLabels", NODE_MAP, &common, err)) < 0)
		return rc;
	if ((rc = read_pairs(lv, common, "'commonLabels'", &pairs, err)) < 0 || !pairs.count)
		return rc;
	push_table(lv->b->arena, &specs, selector_label_specs, ARRAY_SIZE(selector_label_specs));
	push_table(lv->b->arena, &specs, template_label_specs, ARRAY_SIZE(template_label_specs));
	return apply_pairs(lv, set, &pairs, specs.items, specs.count, err);
}

/* ---- commonAnnotations ---- */

int kust_annotations(struct klevel *lv, struct vec *set, struct error *err)
{
	const struct node *common;
	struct spec_list specs = {0};
	struct pairs pairs;
	int rc;

	if ((rc = top_field(lv, "commonAnnotations", NODE_MAP, &common, err)) < 0)
		return rc;
	if ((rc = read_pairs(lv, common, "'commonAnnotations'", &pairs, err)) < 0 || !pairs.count)
		return rc;
	push_table(lv->b->arena, &specs, common_annotation_specs,
		   ARRAY_SIZE(common_annotation_specs));
	return apply_pairs(lv, set, &pairs, specs.items, specs.count, err);
}

/* ---- replicas ---- */

/* Adds r under name to the index (name -> struct vec * of struct kres *), once per name. */
static void index_name(struct map *index, const char *name, struct kres *r)
{
	struct vec *list;

	if (!name || !*name)
		return;
	list = map_get(index, name);
	if (!list) {
		list = xcalloc(1, sizeof(*list));
		map_put(index, name, list);
	}
	if (list->len && list->items[list->len - 1] == r)
		return;
	vec_push(list, r);
}

/* Every resource under each name it has or had. */
static void index_names(struct vec *set, struct map *index)
{
	struct kres *r;
	size_t i;

	vec_foreach (set, i, r) {
		const struct obj_id *prev;
		size_t p;

		index_name(index, kres_name(r), r);
		index_name(index, r->org.name, r);
		vec_foreach (&r->prev, p, prev)
			index_name(index, prev->name, r);
	}
}

static void free_list(void *list)
{
	vec_release(list, NULL);
	free(list);
}

/* kfield_fn: sets parent[key] to the count. */
static int set_count(struct kbuild *b, struct kres *r, struct node *parent, const char *key,
		     void *ud, struct error *err)
{
	(void)r;
	(void)err;
	node_map_set(b->arena, parent, key, node_new_int(b->arena, *(const int64_t *)ud));
	return 0;
}

static int read_replica(const struct klevel *lv, const struct node *n, const char **name,
			int64_t *count, struct error *err)
{
	static const char *const fields[] = {"name", "count", NULL};
	int rc;

	*name = "";
	*count = 0;
	if (n->type != NODE_MAP)
		return kust_error(lv, NULL, n, ERR_INVALID, err,
				  "an item of 'replicas' must be a mapping, not %s",
				  node_type_name(n->type));
	if ((rc = check_known_fields(lv, n, "an item of 'replicas'", fields, err)) < 0)
		return rc;
	if (node_get(n, "name") &&
	    (rc = read_string(lv, node_get(n, "name"), "'name'", name, err)) < 0)
		return rc;
	if (node_get(n, "count") &&
	    (rc = read_int(lv, node_get(n, "count"), "'count'", count, err)) < 0)
		return rc;
	return 0;
}

/* Sets the count in every workload named (now or before) name. */
static int apply_replica(const struct klevel *lv, const struct map *index, const struct node *n,
			 struct error *err)
{
	const struct vec *found;
	const char *name;
	int64_t count;
	bool any = false;
	int rc;

	if ((rc = read_replica(lv, n, &name, &count, err)) < 0)
		return rc;
	found = *name ? map_get(index, name) : NULL;
	for (size_t s = 0; s < ARRAY_SIZE(replica_specs); s++) {
		for (size_t i = 0; found && i < found->len; i++) {
			struct kres *r = found->items[i];

			if (!kfieldspec_selects(&replica_specs[s], r))
				continue;
			any = true;
			rc = kust_walk_field(lv->b, r, &replica_specs[s], set_count, &count, err);
			if (rc < 0)
				return rc;
		}
	}
	if (!any)
		return kust_error(lv, NULL, n, ERR_NOTFOUND, err,
				  "replicas: no Deployment, StatefulSet, ReplicaSet or "
				  "ReplicationController is named '%s'",
				  name);
	return 0;
}

int kust_replicas(struct klevel *lv, struct vec *set, struct error *err)
{
	const struct node *replicas;
	struct map index = MAP_INIT;
	int rc;

	if ((rc = top_field(lv, "replicas", NODE_SEQ, &replicas, err)) < 0 || !replicas ||
	    !replicas->count)
		return rc;
	index_names(set, &index);
	for (size_t i = 0; i < replicas->count && rc == 0; i++)
		rc = apply_replica(lv, &index, replicas->items[i], err);
	map_release(&index, free_list);
	return rc;
}

/* ---- images ---- */

struct image_rule {
	const struct klevel *lv;
	const struct node *at;
	const char *name;
	const char *new_name;
	const char *new_tag;
	const char *digest;
	const char *tag_suffix;
	regex_t match;
	bool compiled;
};

/*
 * kustomize matches an image against the anchored pattern
 * "^" name "(:tag)?(@sha256:digest)?$", name being a Go regular expression.
 * A leading '*' there repeats the '^' and so unanchors the start: "*nginx"
 * matches any image whose name ends in "nginx".
 */
static int image_rule_compile(struct image_rule *rule, struct error *err)
{
	const char *name = rule->name;
	const char *anchor = "^";
	const char *why;
	char *pattern;
	int rc;

	if (name[0] == '*') {
		name++;
		anchor = "";
		if (strchr("*+?{", name[0]) && name[0])
			return kust_error(rule->lv, NULL, rule->at, ERR_INVALID, err,
					  "image name '%s' is not a valid pattern", rule->name);
	}
	pattern = xasprintf("%s%s(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$", anchor, name);
	rc = kust_regcomp(&rule->match, pattern, &why);
	free(pattern);
	if (rc != 0)
		return kust_error(rule->lv, NULL, rule->at, ERR_INVALID, err,
				  "image name '%s' is not a valid pattern%s%s", rule->name,
				  why ? ": " : "", why ? why : "");
	rule->compiled = true;
	return 0;
}

static int read_image_rule(const struct klevel *lv, const struct node *n, struct image_rule *rule,
			   struct error *err)
{
	static const char *const fields[] = {"name",   "newName",   "newTag",
					     "digest", "tagSuffix", NULL};
	int rc;

	memset(rule, 0, sizeof(*rule));
	rule->lv = lv;
	rule->at = n;
	rule->name = rule->new_name = rule->new_tag = rule->digest = rule->tag_suffix = "";
	if (n->type != NODE_MAP)
		return kust_error(lv, NULL, n, ERR_INVALID, err,
				  "an item of 'images' must be a mapping, not %s",
				  node_type_name(n->type));
	if ((rc = check_known_fields(lv, n, "an item of 'images'", fields, err)) < 0)
		return rc;
	for (size_t i = 0; i < n->count; i++) {
		const char *key = n->pairs[i].key->str;
		const char **slot = strcmp(key, "name") == 0	  ? &rule->name
				    : strcmp(key, "newName") == 0 ? &rule->new_name
				    : strcmp(key, "newTag") == 0  ? &rule->new_tag
				    : strcmp(key, "digest") == 0  ? &rule->digest
								  : &rule->tag_suffix;
		char what[64];

		snprintf(what, sizeof(what), "'%s'", key);
		if ((rc = read_string(lv, n->pairs[i].value, what, slot, err)) < 0)
			return rc;
	}
	return image_rule_compile(rule, err);
}

/*
 * Splits an image reference as kustomize does: [host[:port]/]path[:tag][@digest],
 * looking for ':' and '@' only after the first '/'. Parts are copied into the arena.
 */
static void image_split(struct arena *arena, const char *image, const char **name, const char **tag,
			const char **digest)
{
	const char *slash = strchr(image, '/');
	const char *search = slash && slash != image ? slash : image;
	const char *at = strchr(search, '@');
	const char *colon = strchr(search, ':');

	*tag = *digest = "";
	if (!at && !colon) {
		*name = image;
	} else if (at && (!colon || at < colon)) {
		*name = arena_strndup(arena, image, (size_t)(at - image));
		*digest = at + 1;
	} else if (at) {
		*name = arena_strndup(arena, image, (size_t)(colon - image));
		*tag = arena_strndup(arena, colon + 1, (size_t)(at - colon - 1));
		*digest = at + 1;
	} else {
		*name = arena_strndup(arena, image, (size_t)(colon - image));
		*tag = colon + 1;
	}
}

/* The image reference rule makes of image: a new tag or digest replaces both old ones. */
static const char *image_rewrite(struct arena *arena, const struct image_rule *rule,
				 const char *image)
{
	const char *name, *tag, *digest, *suffix = "";
	struct buf out = BUF_INIT;
	char *text;

	image_split(arena, image, &name, &tag, &digest);
	if (*rule->new_name)
		name = rule->new_name;
	if (*rule->new_tag || *rule->digest) {
		tag = rule->new_tag;
		digest = rule->digest;
	} else if (*rule->tag_suffix) {
		suffix = rule->tag_suffix;
		digest = "";
	}
	buf_addstr(&out, name);
	if (*tag || *suffix)
		buf_addf(&out, ":%s%s", tag, suffix);
	if (*digest)
		buf_addf(&out, "@%s", digest);
	text = arena_strdup(arena, out.data);
	buf_release(&out);
	return text;
}

/* Rewrites the image field of a container (a mapping) if rule matches it. */
static int update_image(struct kbuild *b, const struct image_rule *rule, struct kres *r,
			struct node *container, const char *key, struct error *err)
{
	struct node *image = node_get(container, key);

	if (!image)
		return 0;
	if (image->type == NODE_MAP || image->type == NODE_SEQ)
		return kust_error(rule->lv, r->file, image, ERR_INVALID, err,
				  "%s: an image must be a string, not %s", kres_display(b, r),
				  node_type_name(image->type));
	if (regexec(&rule->match, image->str, 0, NULL, 0) != 0)
		return 0;
	node_map_set(b->arena, container, key,
		     node_new_cstr(b->arena, image_rewrite(b->arena, rule, image->str)));
	return 0;
}

/* The containers of one resource whose images the rules may rewrite. */
struct image_sites {
	struct vec legacy; /* struct node * (container mappings) in containers lists anywhere */
	struct vec fields; /* struct node * (container mappings) at image_specs' paths */
};

/* kfield_fn for image_specs: remembers the container holding an image. */
static int note_container(struct kbuild *b, struct kres *r, struct node *parent, const char *key,
			  void *ud, struct error *err)
{
	(void)b;
	(void)r;
	(void)key;
	(void)err;
	vec_push(ud, parent);
	return 0;
}

/* Finds the items of every containers or initContainers list in n, at any depth. */
static void find_container_lists(struct node *n, struct vec *out)
{
	if (n->type == NODE_SEQ) {
		for (size_t i = 0; i < n->count; i++)
			find_container_lists(n->items[i], out);
		return;
	}
	if (n->type != NODE_MAP)
		return;
	for (size_t i = 0; i < n->count; i++) {
		const char *key = n->pairs[i].key->str;
		struct node *v = n->pairs[i].value;

		find_container_lists(v, out);
		if (v->type != NODE_SEQ ||
		    (strcmp(key, "containers") != 0 && strcmp(key, "initContainers") != 0))
			continue;
		for (size_t c = 0; c < v->count; c++)
			if (v->items[c]->type == NODE_MAP)
				vec_push(out, v->items[c]);
	}
}

static int find_image_sites(struct kbuild *b, struct kres *r, struct image_sites *sites,
			    struct error *err)
{
	int rc;

	sites->legacy.len = sites->fields.len = 0;
	find_container_lists(r->root, &sites->legacy);
	for (size_t s = 0; s < ARRAY_SIZE(image_specs); s++)
		if ((rc = kust_walk_field(b, r, &image_specs[s], note_container, &sites->fields,
					  err)) < 0)
			return rc;
	return 0;
}

static int update_images(struct kbuild *b, const struct image_rule *rule, struct kres *r,
			 const struct vec *containers, struct error *err)
{
	struct node *container;
	size_t i;
	int rc;

	vec_foreach (containers, i, container)
		if ((rc = update_image(b, rule, r, container, "image", err)) < 0)
			return rc;
	return 0;
}

/*
 * Each rule in turn, like kustomize: first the images in any containers list,
 * then those at the built-in paths (which may rewrite an image a second time;
 * it matters for tagSuffix). kustomize leaves CRDs (schemas, examples) alone.
 */
static int apply_image_rules(struct kbuild *b, const struct image_rule *rules, size_t count,
			     struct vec *set, struct error *err)
{
	struct image_sites sites = {VEC_INIT, VEC_INIT};
	struct kres *r;
	size_t i;
	int rc = 0;

	vec_foreach (set, i, r) {
		if (strcmp(kres_kind(r), "CustomResourceDefinition") == 0)
			continue;
		if ((rc = find_image_sites(b, r, &sites, err)) < 0)
			break;
		for (size_t k = 0; k < count && rc == 0; k++) {
			rc = update_images(b, &rules[k], r, &sites.legacy, err);
			if (rc == 0)
				rc = update_images(b, &rules[k], r, &sites.fields, err);
		}
		if (rc < 0)
			break;
	}
	vec_release(&sites.legacy, NULL);
	vec_release(&sites.fields, NULL);
	return rc;
}

int kust_images(struct klevel *lv, struct vec *set, struct error *err)
{
	const struct node *images;
	struct image_rule *rules;
	size_t count = 0;
	int rc;

	if ((rc = top_field(lv, "images", NODE_SEQ, &images, err)) < 0 || !images)
		return rc;
	rules = xcalloc(images->count + 1, sizeof(*rules));
	for (; count < images->count; count++)
		if ((rc = read_image_rule(lv, images->items[count], &rules[count], err)) < 0)
			break;
	if (rc == 0)
		rc = apply_image_rules(lv->b, rules, count, set, err);
	for (size_t i = 0; i <= count && i < images->count; i++)
		if (rules[i].compiled)
			regfree(&rules[i].match);
	free(rules);
	return rc;
}
