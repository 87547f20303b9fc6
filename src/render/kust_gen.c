/*
 * configMapGenerator, secretGenerator and generatorOptions.
 *
 * Each generator entry makes a ConfigMap or Secret from env files, literals
 * and files (in that order), and either adds it to the level's resources
 * (behavior create) or folds it into one already there (merge, replace), found
 * by any name or namespace it ever had. At the end of the build every object
 * still marked for it gets "-<hash of its content>" after its name, the same
 * ten characters `kubectl kustomize` prints.
 */
#include "kust_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gen_kind { GEN_CONFIGMAP, GEN_SECRET };

enum gen_behavior { BEHAVIOR_CREATE, BEHAVIOR_MERGE, BEHAVIOR_REPLACE };

/* generatorOptions, or an entry's options */
struct gen_opts {
	const struct node *labels; /* a mapping of strings, NULL when absent */
	const struct node *annotations;
	bool disable_hash;
	bool immutable;
};

/* One configMapGenerator or secretGenerator entry, checked. */
struct gen_entry {
	enum gen_kind kind;
	const struct node *at;
	const char *field; /* "configMapGenerator" or "secretGenerator" */
	const char *name;
	const char *namespace;
	const char *type;
	enum gen_behavior behavior;
	const struct node *literals, *files, *envs, *env;
	struct gen_opts opts;
};

/* One key and value, with where it came from (for messages). */
struct kv {
	const char *key;
	const char *value;
	size_t len;
	const char *file; /* an env file, or NULL for the kustomization */
	const struct node *at;
	uint32_t line;
};

/* Every ConfigMap and Secret by each identity it had: kind, namespace and name. */
struct id_index {
	struct map by_id;
	bool built;
};

static char ambiguous_marker;

/* ---- reading the kustomization's fields ---- */

static int want_string(const struct klevel *lv, const struct node *n, const char *field,
		       const char **out, struct error *err)
{
	*out = "";
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_STRING)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "'%s' must be a string, not %s",
				  field, node_type_name(n->type));
	*out = n->str;
	return 0;
}

static int want_strings(const struct klevel *lv, const struct node *n, const char *field,
			struct error *err)
{
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_SEQ)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "'%s' must be a list of strings",
				  field);
	for (size_t i = 0; i < n->count; i++) {
		const struct node *item = n->items[i];

		if (item->type != NODE_STRING && item->type != NODE_NULL)
			return kust_error(lv, NULL, item, ERR_INVALID, err,
					  "each entry of '%s' must be a string, not %s", field,
					  node_type_name(item->type));
	}
	return 0;
}

static int want_bool(const struct klevel *lv, const struct node *n, const char *field, bool *out,
		     struct error *err)
{
	*out = false;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_BOOL)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "'%s' must be true or false",
				  field);
	*out = n->as.boolean;
	return 0;
}

static int want_string_map(const struct klevel *lv, const struct node *n, const char *field,
			   const struct node **out, struct error *err)
{
	*out = NULL;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_MAP)
		return kust_error(lv, NULL, n, ERR_INVALID, err,
				  "'%s' must be a mapping of strings", field);
	for (size_t i = 0; i < n->count; i++) {
		const struct node *v = n->pairs[i].value;

		if (v->type != NODE_STRING && v->type != NODE_NULL)
			return kust_error(lv, NULL, v, ERR_INVALID, err,
					  "'%s': the value of '%s' must be a string, not %s", field,
					  n->pairs[i].key->str, node_type_name(v->type));
	}
	*out = n;
	return 0;
}

/* Fails on a key of map that is not in the NULL-terminated list known. */
static int check_known(const struct klevel *lv, const struct node *map, const char *what,
		       const char *const *known, struct error *err)
{
	for (size_t i = 0; i < map->count; i++) {
		const char *key = map->pairs[i].key->str;
		size_t k;

		for (k = 0; known[k]; k++)
			if (strcmp(key, known[k]) == 0)
				break;
		if (!known[k])
			return kust_error(lv, NULL, map->pairs[i].key, ERR_INVALID, err,
					  "unknown field '%s' in %s", key, what);
	}
	return 0;
}

static int parse_opts(const struct klevel *lv, const struct node *n, const char *what,
		      struct gen_opts *opts, struct error *err)
{
	static const char *const known[] = {"labels", "annotations", "disableNameSuffixHash",
					    "immutable", NULL};
	int rc;

	memset(opts, 0, sizeof(*opts));
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_MAP)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "%s must be a mapping", what);
	if ((rc = check_known(lv, n, what, known, err)) < 0 ||
	    (rc = want_string_map(lv, node_get(n, "labels"), "labels", &opts->labels, err)) < 0 ||
	    (rc = want_string_map(lv, node_get(n, "annotations"), "annotations", &opts->annotations,
				  err)) < 0 ||
	    (rc = want_bool(lv, node_get(n, "disableNameSuffixHash"), "disableNameSuffixHash",
			    &opts->disable_hash, err)) < 0)
		return rc;
	return want_bool(lv, node_get(n, "immutable"), "immutable", &opts->immutable, err);
}

/* kustomize takes any other behavior text as create. */
static enum gen_behavior behavior_of(const char *text)
{
	if (strcmp(text, "merge") == 0)
		return BEHAVIOR_MERGE;
	if (strcmp(text, "replace") == 0)
		return BEHAVIOR_REPLACE;
	return BEHAVIOR_CREATE;
}

static int parse_entry(const struct klevel *lv, enum gen_kind kind, const struct node *n,
		       struct gen_entry *e, struct error *err)
{
	static const char *const configmap_fields[] = {"name",	   "namespace", "behavior",
						       "literals", "files",	"envs",
						       "env",	   "options",	NULL};
	static const char *const secret_fields[] = {"name",  "namespace", "behavior", "literals",
						    "files", "envs",	  "env",      "options",
						    "type",  NULL};
	const char *behavior, *env;
	int rc;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->at = n;
	e->field = kind == GEN_SECRET ? "secretGenerator" : "configMapGenerator";
	if (n->type != NODE_MAP)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "each %s entry must be a mapping",
				  e->field);
	if ((rc = check_known(lv, n,
			      kind == GEN_SECRET ? "a secretGenerator entry"
						 : "a configMapGenerator entry",
			      kind == GEN_SECRET ? secret_fields : configmap_fields, err)) < 0)
		return rc;
	if ((rc = want_string(lv, node_get(n, "name"), "name", &e->name, err)) < 0 ||
	    (rc = want_string(lv, node_get(n, "namespace"), "namespace", &e->namespace, err)) < 0 ||
	    (rc = want_string(lv, node_get(n, "type"), "type", &e->type, err)) < 0 ||
	    (rc = want_string(lv, node_get(n, "behavior"), "behavior", &behavior, err)) < 0 ||
	    (rc = want_string(lv, node_get(n, "env"), "env", &env, err)) < 0 ||
	    (rc = want_strings(lv, node_get(n, "literals"), "literals", err)) < 0 ||
	    (rc = want_strings(lv, node_get(n, "files"), "files", err)) < 0 ||
	    (rc = want_strings(lv, node_get(n, "envs"), "envs", err)) < 0 ||
	    (rc = parse_opts(lv, node_get(n, "options"), "options", &e->opts, err)) < 0)
		return rc;
	if (!*e->name)
		return kust_error(lv, NULL, n, ERR_INVALID, err, "a %s entry must have a name",
				  e->field);
	e->behavior = behavior_of(behavior);
	e->literals = node_get(n, "literals");
	e->files = node_get(n, "files");
	e->envs = node_get(n, "envs");
	e->env = node_get(n, "env");
	return 0;
}

/* ---- key and value sources ---- */

/* Decodes one UTF-8 sequence as Go does (no surrogates, no overlong forms); 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		need = 1, *cp = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		need = 2, *cp = s[0] & 0x0F;
		lo = s[0] == 0xE0 ? 0xA0 : 0x80;
		hi = s[0] == 0xED ? 0x9F : 0xBF;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		need = 3, *cp = s[0] & 0x07;
		lo = s[0] == 0xF0 ? 0x90 : 0x80;
		hi = s[0] == 0xF4 ? 0x8F : 0xBF;
	} else {
		return 0;
	}
	if (n <= need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	return need + 1;
}

static bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	for (size_t i = 0; i < len;) {
		size_t step = utf8_decode(p + i, len - i, &cp);

		if (step == 0)
			return false;
		i += step;
	}
	return true;
}

/* Unicode's White_Space, as Go's unicode.IsSpace. */
static bool unicode_space(uint32_t c)
{
	return (c >= '\t' && c <= '\r') || c == ' ' || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

/* Adds a key, failing if the entry already has it. */
static int add_kv(const struct klevel *lv, const struct gen_entry *e, struct map *seen,
		  struct vec *pairs, struct kv *kv, struct error *err)
{
	const struct kv *first = map_get(seen, kv->key);
	struct node at = {.line = kv->line, .col = 1};

	if (first) {
		const char *first_file = first->file ? first->file : lv->file;
		uint32_t first_line = first->at ? first->at->line : first->line;

		return kust_error(lv, kv->file, kv->file ? &at : kv->at, ERR_CONFLICT, err,
				  "%s '%s' has the key '%s' twice (first at %s:%u)", e->field,
				  e->name, kv->key, first_file, first_line);
	}
	map_put(seen, kv->key, kv);
	vec_push(pairs, kv);
	return 0;
}

/* The line's start after a first-line byte order mark and leading white space. */
static const char *env_line_start(const char *line, const char *end, size_t index)
{
	uint32_t cp;

	if (index == 0 && end - line >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	while (line < end) {
		size_t step = utf8_decode((const unsigned char *)line, (size_t)(end - line), &cp);

		if (!step || !unicode_space(cp))
			break;
		line += step;
	}
	return line;
}

/* One line of an env file: KEY=value, KEY (an empty value), blank or # comment. */
static int env_line(const struct klevel *lv, const struct gen_entry *e, const char *path,
		    const char *line, size_t len, size_t index, struct map *seen, struct vec *pairs,
		    struct error *err)
{
	struct node at = {.line = (uint32_t)(index + 1), .col = 1};
	const char *end = line + len, *eq;
	struct kv *kv;

	if (!utf8_valid(line, len))
		return kust_error(lv, path, &at, ERR_INVALID, err,
				  "the line is not valid UTF-8 text, read as an env file by %s "
				  "'%s' at %s:%u",
				  e->field, e->name, lv->file, e->at->line);
	line = env_line_start(line, end, index);
	if (line == end || *line == '#' || *line == '=')
		return 0;
	eq = memchr(line, '=', (size_t)(end - line));
	kv = arena_alloc(lv->b->arena, sizeof(*kv));
	kv->key = arena_strndup(lv->b->arena, line, (size_t)((eq ? eq : end) - line));
	kv->value = eq ? arena_strndup(lv->b->arena, eq + 1, (size_t)(end - eq - 1)) : "";
	kv->len = eq ? (size_t)(end - eq - 1) : 0;
	kv->file = path;
	kv->line = at.line;
	return add_kv(lv, e, seen, pairs, kv, err);
}

/*
 * kustomize reads env files a line at a time with a 64 KiB buffer, and on a
 * longer line silently stops, dropping it and every line after it.
 */
#define ENV_LINE_MAX (64 * 1024)

static int long_line_error(const struct klevel *lv, const struct gen_entry *e, const char *path,
			   size_t index, struct error *err)
{
	struct node at = {.line = (uint32_t)(index + 1), .col = 1};

	return kust_error(lv, path, &at, ERR_UNSUPPORTED, err,
			  "the line is 64 KiB or longer (read as an env file by %s '%s' at %s:%u); "
			  "kustomize would silently drop it and the lines after it, so plumb "
			  "refuses it: put such a value in a file under 'files'",
			  e->field, e->name, lv->file, e->at->line);
}

/* An env file of the entry: its lines in order, numbered for messages. */
static int env_file(const struct klevel *lv, const struct gen_entry *e, const struct node *item,
		    struct map *seen, struct vec *pairs, struct error *err)
{
	const char *data, *path, *p, *end;
	size_t len, index = 0;
	int rc;

	rc = kust_read_file(lv, item, item->type == NODE_STRING ? item->str : "", &data, &len,
			    &path, err);
	if (rc < 0)
		return rc;
	for (p = data, end = data + len; rc == 0 && p < end; index++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		size_t line_len = (size_t)(stop - p);

		if (line_len >= ENV_LINE_MAX)
			return long_line_error(lv, e, path, index, err);
		if (line_len && p[line_len - 1] == '\r')
			line_len--;
		rc = env_line(lv, e, path, p, line_len, index, seen, pairs, err);
		p = nl ? nl + 1 : end;
	}
	return rc;
}

/* "a", "'a'" and "\"a\"" are all a. */
static void remove_quotes(const char **value, size_t *len)
{
	const char *v = *value;

	if (*len >= 2 && v[0] == v[*len - 1] && (v[0] == '"' || v[0] == '\'')) {
		*value = v + 1;
		*len -= 2;
	}
}

static int literal(const struct klevel *lv, const struct gen_entry *e, const struct node *item,
		   struct map *seen, struct vec *pairs, struct error *err)
{
	const char *text = item->type == NODE_STRING ? item->str : "";
	size_t len = item->type == NODE_STRING ? item->len : 0;
	const char *eq = strchr(text, '=');
	struct kv *kv;

	if (!eq || eq == text)
		return kust_error(lv, NULL, item, ERR_INVALID, err,
				  "%s '%s': invalid literal '%s', expected key=value", e->field,
				  e->name, text);
	kv = arena_alloc(lv->b->arena, sizeof(*kv));
	kv->key = arena_strndup(lv->b->arena, text, (size_t)(eq - text));
	kv->value = eq + 1;
	kv->len = len - (size_t)(eq + 1 - text);
	remove_quotes(&kv->value, &kv->len);
	kv->at = item;
	return add_kv(lv, e, seen, pairs, kv, err);
}

/* path.Base: the last element of a slash-separated path. */
static const char *path_base(struct kbuild *b, const char *path)
{
	size_t len = strlen(path);
	const char *start;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return ".";
	start = path + len;
	while (start > path && start[-1] != '/')
		start--;
	if (start == path + len)
		return "/";
	return arena_strndup(b->arena, start, (size_t)(path + len - start));
}

/* A files entry: "path" (the key is its base name) or "key=path". */
static int file_source(const struct klevel *lv, const struct gen_entry *e, const struct node *item,
		       struct map *seen, struct vec *pairs, struct error *err)
{
	const char *text = item->type == NODE_STRING ? item->str : "";
	const char *eq = strchr(text, '=');
	const char *key, *rel, *data, *path;
	struct kv *kv;
	size_t len;
	int rc;

	if (strstr(text, "://"))
		return kust_error(lv, NULL, item, ERR_UNSUPPORTED, err,
				  "%s '%s': remote file '%s' is not supported: plumb reads only "
				  "files in the repository",
				  e->field, e->name, text);
	if (eq == text)
		return kust_error(lv, NULL, item, ERR_INVALID, err,
				  "%s '%s': '%s' has no key name before '='", e->field, e->name,
				  text);
	if (eq && strchr(eq + 1, '='))
		return kust_error(lv, NULL, item, ERR_INVALID, err,
				  "%s '%s': '%s' has '=' in its key name or file path", e->field,
				  e->name, text);
	if (eq && !eq[1])
		return kust_error(lv, NULL, item, ERR_INVALID, err,
				  "%s '%s': '%s' has no file path after '='", e->field, e->name,
				  text);
	key = eq ? arena_strndup(lv->b->arena, text, (size_t)(eq - text)) : path_base(lv->b, text);
	rel = eq ? eq + 1 : text;
	if ((rc = kust_read_file(lv, item, rel, &data, &len, &path, err)) < 0)
		return rc;
	kv = arena_alloc(lv->b->arena, sizeof(*kv));
	kv->key = key;
	kv->value = data;
	kv->len = len;
	kv->at = item;
	return add_kv(lv, e, seen, pairs, kv, err);
}

typedef int (*source_fn)(const struct klevel *lv, const struct gen_entry *e,
			 const struct node *item, struct map *seen, struct vec *pairs,
			 struct error *err);

static int each_source(const struct klevel *lv, const struct gen_entry *e, const struct node *list,
		       source_fn fn, struct map *seen, struct vec *pairs, struct error *err)
{
	int rc = 0;

	if (list && list->type == NODE_SEQ)
		for (size_t i = 0; rc == 0 && i < list->count; i++)
			rc = fn(lv, e, list->items[i], seen, pairs, err);
	else if (list && list->type == NODE_STRING)
		rc = fn(lv, e, list, seen, pairs, err);
	return rc;
}

/* The entry's keys and values: env files (envs, then the older env), literals, files. */
static int gather_pairs(const struct klevel *lv, const struct gen_entry *e, struct vec *pairs,
			struct error *err)
{
	struct map seen = MAP_INIT;
	int rc;

	if ((rc = each_source(lv, e, e->envs, env_file, &seen, pairs, err)) == 0 &&
	    (rc = each_source(lv, e, e->env, env_file, &seen, pairs, err)) == 0 &&
	    (rc = each_source(lv, e, e->literals, literal, &seen, pairs, err)) == 0)
		rc = each_source(lv, e, e->files, file_source, &seen, pairs, err);
	map_release(&seen, NULL);
	return rc;
}

/* ---- making the object ---- */

/* Base64 as kustomize writes generated values: past 70 characters, in lines of 70. */
static const char *base64_encode(struct arena *arena, const char *data, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = (const unsigned char *)data;
	size_t enc_len = (len + 2) / 3 * 4, line_len = 70;
	bool wrap = enc_len >= line_len;
	char *out = arena_alloc(arena, enc_len + enc_len / line_len + 2), *o = out;
	size_t i, col = 0;

	for (i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		char quad[4];

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		quad[0] = alphabet[v >> 18];
		quad[1] = alphabet[(v >> 12) & 63];
		quad[2] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		quad[3] = i + 2 < len ? alphabet[v & 63] : '=';
		for (int q = 0; q < 4; q++) {
			*o++ = quad[q];
			if (wrap && ++col == line_len) {
				*o++ = '\n';
				col = 0;
			}
		}
	}
	if (wrap && col)
		*o++ = '\n';
	*o = '\0';
	return out;
}

/* Sets each key of from (a string mapping) in map[field], keeping existing keys if keep. */
static void add_strings(struct arena *arena, struct node *map, const char *field,
			const struct node *from, bool keep)
{
	struct node *into;

	if (!from || from->count == 0)
		return;
	into = node_map_child(arena, map, field);
	for (size_t i = 0; i < from->count; i++) {
		const struct node *v = from->pairs[i].value;

		if (keep && node_get(into, from->pairs[i].key->str))
			continue;
		node_map_set(arena, into, from->pairs[i].key->str,
			     node_new_string(arena, v->type == NODE_STRING ? v->str : "",
					     v->type == NODE_STRING ? v->len : 0));
	}
}

/* ConfigMap data holds UTF-8 text, binaryData the rest; Secret data is all base64. */
static void add_data(struct arena *arena, struct node *root, enum gen_kind kind,
		     const struct vec *pairs)
{
	const struct kv *kv;
	size_t i;

	if (kind == GEN_SECRET)
		node_map_child(arena, root, "data");
	vec_foreach (pairs, i, kv) {
		bool text = kind == GEN_CONFIGMAP && utf8_valid(kv->value, kv->len);
		const char *field = text || kind == GEN_SECRET ? "data" : "binaryData";
		struct node *value =
			text ? node_new_string(arena, kv->value, kv->len)
			     : node_new_cstr(arena, base64_encode(arena, kv->value, kv->len));

		node_map_set(arena, node_map_child(arena, root, field), kv->key, value);
	}
}

static struct node *make_object(struct kbuild *b, const struct gen_entry *e,
				const struct gen_opts *global, const struct vec *pairs)
{
	struct node *root = node_new_map(b->arena, 6);
	struct node *meta;

	node_map_set(b->arena, root, "apiVersion", node_new_cstr(b->arena, "v1"));
	node_map_set(b->arena, root, "kind",
		     node_new_cstr(b->arena, e->kind == GEN_SECRET ? "Secret" : "ConfigMap"));
	meta = node_map_child(b->arena, root, "metadata");
	node_map_set(b->arena, meta, "name", node_new_cstr(b->arena, e->name));
	if (*e->namespace)
		node_map_set(b->arena, meta, "namespace", node_new_cstr(b->arena, e->namespace));
	add_strings(b->arena, meta, "labels", e->opts.labels, false);
	add_strings(b->arena, meta, "labels", global->labels, true);
	add_strings(b->arena, meta, "annotations", e->opts.annotations, false);
	add_strings(b->arena, meta, "annotations", global->annotations, true);
	if (e->kind == GEN_SECRET)
		node_map_set(b->arena, root, "type",
			     node_new_cstr(b->arena, *e->type ? e->type : "Opaque"));
	add_data(b->arena, root, e->kind, pairs);
	if (e->opts.immutable || global->immutable)
		node_map_set(b->arena, root, "immutable", node_new_bool(b->arena, true));
	return root;
}

/* ---- finding the object to merge into ---- */

static bool is_generated_kind(const char *api_version, const char *kind)
{
	return strcmp(api_version, "v1") == 0 &&
	       (strcmp(kind, "ConfigMap") == 0 || strcmp(kind, "Secret") == 0);
}

/* "kind namespace name", where no namespace means "default" as in kustomize. */
static char *id_key(const char *kind, const char *ns, const char *name)
{
	return xasprintf("%s\x1f%s\x1f%s", kind, *ns ? ns : "default", name);
}

static void index_id(struct id_index *index, struct kres *r, const struct obj_id *id)
{
	char *key;
	void *have;

	if (strcmp(id->kind, "ConfigMap") != 0 && strcmp(id->kind, "Secret") != 0)
		return;
	key = id_key(id->kind, id->namespace, id->name);
	have = map_get(&index->by_id, key);
	map_put(&index->by_id, key, have && have != r ? (void *)&ambiguous_marker : r);
	free(key);
}

static void index_resource(struct id_index *index, struct kres *r)
{
	const struct node *api = node_get(r->root, "apiVersion");
	struct obj_id cur = {
		.kind = kres_kind(r), .namespace = kres_namespace(r), .name = kres_name(r)};
	const struct obj_id *prev;
	size_t i;

	if (!is_generated_kind(api && node_string(api) ? api->str : "", cur.kind))
		return;
	index_id(index, r, &cur);
	index_id(index, r, &r->org);
	vec_foreach (&r->prev, i, prev)
		index_id(index, r, prev);
}

static void index_build(struct id_index *index, const struct vec *set)
{
	struct kres *r;
	size_t i;

	if (index->built)
		return;
	vec_foreach (set, i, r)
		index_resource(index, r);
	index->built = true;
}

/* ---- merge and replace ---- */

/* A scalar as kustomize reads a string map: its text as written, "" for null. */
static struct node *as_string(struct arena *arena, const struct node *v)
{
	if (v->type == NODE_NULL)
		return node_new_cstr(arena, "");
	if (v->type == NODE_MAP || v->type == NODE_SEQ)
		return node_clone(arena, v);
	return node_new_string(arena, v->str, v->len);
}

/* into[field] := older[field] with newer's keys set over it, as strings (absent when empty). */
static void merge_maps(struct arena *arena, struct node *into, const char *field,
		       const struct node *older, const struct node *newer)
{
	struct node *merged = node_new_map(arena, 0);
	const struct node *from[2] = {node_get(older, field), node_get(newer, field)};

	for (int f = 0; f < 2; f++)
		for (size_t i = 0; from[f] && from[f]->type == NODE_MAP && i < from[f]->count; i++)
			node_map_set(arena, merged, from[f]->pairs[i].key->str,
				     as_string(arena, from[f]->pairs[i].value));
	if (merged->count)
		node_map_set(arena, into, field, merged);
	else
		node_map_del(into, field);
}

/*
 * kustomize's merge and replace: the new object keeps the old one's name,
 * namespace, labels and annotations (its own win), and with merge its data;
 * it takes the old one's place, and its name gets a hash only if both wanted one.
 */
static void fold_into(struct kbuild *b, struct kres *old, struct node *root,
		      enum gen_behavior behavior, bool hash_suffix)
{
	struct node *meta = node_map_child(b->arena, root, "metadata");
	const struct node *old_meta = node_get(old->root, "metadata");
	const char *ns = kres_namespace(old);

	merge_maps(b->arena, meta, "labels", old_meta, meta);
	merge_maps(b->arena, meta, "annotations", old_meta, meta);
	node_map_set(b->arena, meta, "name", node_new_cstr(b->arena, kres_name(old)));
	if (*ns)
		node_map_set(b->arena, meta, "namespace", node_new_cstr(b->arena, ns));
	else
		node_map_del(meta, "namespace");
	if (behavior == BEHAVIOR_MERGE) {
		merge_maps(b->arena, root, "data", old->root, root);
		merge_maps(b->arena, root, "binaryData", old->root, root);
		if (strcmp(kres_kind(old), "Secret") == 0 && !node_get(root, "data"))
			node_map_child(b->arena, root, "data");
	}
	old->root = root;
	old->hash_suffix = old->hash_suffix && hash_suffix;
	old->generated = true;
}

static int no_target_error(struct klevel *lv, const struct gen_entry *e, const char *kind,
			   struct error *err)
{
	bool merge = e->behavior == BEHAVIOR_MERGE;

	return kust_error(lv, NULL, e->at, ERR_NOTFOUND, err,
			  "%s '%s' has behavior %s, but there is no %s '%s' to %s (it must come "
			  "from the resources, or an earlier generator)",
			  e->field, e->name, merge ? "merge" : "replace", kind, e->name,
			  merge ? "merge into" : "replace");
}

/* Adds the new object to set, or folds it into the one it merges into or replaces. */
static int place(struct klevel *lv, const struct gen_entry *e, struct node *root, bool hash_suffix,
		 struct id_index *index, struct vec *set, struct error *err)
{
	const char *kind = e->kind == GEN_SECRET ? "Secret" : "ConfigMap";
	char *key = id_key(kind, e->namespace, e->name);
	struct kres *found, *r;

	index_build(index, set);
	found = map_get(&index->by_id, key);
	free(key);
	if (found == (void *)&ambiguous_marker)
		return kust_error(
			lv, NULL, e->at, ERR_CONFLICT, err,
			"%s '%s': several %ss have had that name, so it is not clear which "
			"one is meant",
			e->field, e->name, kind);
	if (e->behavior != BEHAVIOR_CREATE) {
		if (!found)
			return no_target_error(lv, e, kind, err);
		fold_into(lv->b, found, root, e->behavior, hash_suffix);
		return 0;
	}
	if (found)
		return kust_error(lv, NULL, e->at, ERR_CONFLICT, err,
				  "%s '%s': %s already exists (from %s:%u); set behavior: merge "
				  "or replace to change it",
				  e->field, e->name, kres_display(lv->b, found), found->file,
				  found->line);
	r = kres_new(lv->b, root, lv->file, e->at->line, e->at->col);
	r->generated = true;
	r->hash_suffix = hash_suffix;
	vec_push(set, r);
	index_resource(index, r);
	return 0;
}

static int generate_one(struct klevel *lv, enum gen_kind kind, const struct node *n,
			const struct gen_opts *global, struct id_index *index, struct vec *set,
			struct error *err)
{
	struct vec pairs = VEC_INIT;
	struct gen_entry e;
	struct node *root;
	int rc;

	if ((rc = parse_entry(lv, kind, n, &e, err)) < 0)
		return rc;
	if ((rc = gather_pairs(lv, &e, &pairs, err)) == 0) {
		root = make_object(lv->b, &e, global, &pairs);
		rc = place(lv, &e, root, !(e.opts.disable_hash || global->disable_hash), index, set,
			   err);
	}
	vec_release(&pairs, NULL);
	return rc;
}

static int generate_all(struct klevel *lv, enum gen_kind kind, const char *field,
			const struct gen_opts *global, struct id_index *index, struct vec *set,
			struct error *err)
{
	const struct node *list = node_get(lv->k, field);
	int rc = 0;

	if (!list || list->type == NODE_NULL)
		return 0;
	if (list->type != NODE_SEQ)
		return kust_error(lv, NULL, list, ERR_INVALID, err, "'%s' must be a list", field);
	for (size_t i = 0; rc == 0 && i < list->count; i++)
		rc = generate_one(lv, kind, list->items[i], global, index, set, err);
	return rc;
}

int kust_generate(struct klevel *lv, struct vec *set, struct error *err)
{
	struct id_index index = {MAP_INIT, false};
	struct gen_opts global;
	int rc;

	if (!node_get(lv->k, "configMapGenerator") && !node_get(lv->k, "secretGenerator"))
		return 0;
	if ((rc = parse_opts(lv, node_get(lv->k, "generatorOptions"), "generatorOptions", &global,
			     err)) == 0 &&
	    (rc = generate_all(lv, GEN_CONFIGMAP, "configMapGenerator", &global, &index, set,
			       err)) == 0)
		rc = generate_all(lv, GEN_SECRET, "secretGenerator", &global, &index, set, err);
	map_release(&index.by_id, NULL);
	return rc;
}

/* ---- content hashes ---- */

/* A string as Go's encoding/json writes it (HTML characters escaped). */
static void json_string(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	buf_addch(out, '"');
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t step = utf8_decode(p + i, len - i, &cp);

		if (step == 0) {
			buf_addstr(out,
				   "\xEF\xBF\xBD"); /* U+FFFD, as a JSON round trip leaves it */
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\')
			buf_addf(out, "\\%c", (char)cp);
		else if (cp == '\n')
			buf_addstr(out, "\\n");
		else if (cp == '\r')
			buf_addstr(out, "\\r");
		else if (cp == '\t')
			buf_addstr(out, "\\t");
		else if (cp == '\b')
			buf_addstr(out, "\\b");
		else if (cp == '\f')
			buf_addstr(out, "\\f");
		else if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 ||
			 cp == 0x2029)
			buf_addf(out, "\\u%04x", (unsigned)cp);
		else
			buf_add(out, p + i, step);
		i += step;
	}
	buf_addch(out, '"');
}

/* Writes the significant digits (no point, no sign) with the point exp places after the first. */
static void add_fixed_point(struct buf *out, const char *digits, size_t n, int exp)
{
	if (exp < 0) {
		buf_addstr(out, "0.");
		for (int z = -1; z > exp; z--)
			buf_addch(out, '0');
		buf_add(out, digits, n);
	} else if ((size_t)exp + 1 >= n) {
		buf_add(out, digits, n);
		for (size_t z = n; z < (size_t)exp + 1; z++)
			buf_addch(out, '0');
	} else {
		buf_add(out, digits, (size_t)exp + 1);
		buf_addch(out, '.');
		buf_add(out, digits + exp + 1, n - (size_t)exp - 1);
	}
}

/* A float64 as Go's encoding/json writes it: the shortest form that reads back the same. */
static int json_number(struct buf *out, double v)
{
	char sci[32], digits[32], *e;
	size_t n = 0;
	int exp, prec;

	if (!isfinite(v))
		return ERR_INVALID;
	if (v == 0) {
		buf_addstr(out, signbit(v) ? "-0" : "0");
		return 0;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(sci, sizeof(sci), "%.*e", prec - 1, v);
		if (strtod(sci, NULL) == v)
			break;
	}
	e = strchr(sci, 'e');
	exp = atoi(e + 1);
	*e = '\0';
	if (fabs(v) < 1e-6 || fabs(v) >= 1e21) {
		buf_addf(out, "%se%c%d", sci, exp < 0 ? '-' : '+', abs(exp));
		return 0;
	}
	for (const char *c = sci; *c; c++)
		if (*c >= '0' && *c <= '9')
			digits[n++] = *c;
	if (v < 0)
		buf_addch(out, '-');
	add_fixed_point(out, digits, n, exp);
	return 0;
}

static int json_value(struct buf *out, const struct node *n);

/* A mapping as a JSON object with its keys in byte order, as Go writes a map. */
static int json_object(struct buf *out, const struct node *n)
{
	struct vec sorted = VEC_INIT;
	int rc = 0;

	for (size_t i = 0; i < n->count; i++)
		vec_push(&sorted, &n->pairs[i]);
	vec_sort(&sorted, node_pair_cmp);
	buf_addch(out, '{');
	for (size_t i = 0; rc == 0 && i < sorted.len; i++) {
		const struct node_pair *pair = sorted.items[i];

		if (i)
			buf_addch(out, ',');
		json_string(out, pair->key->str, pair->key->len);
		buf_addch(out, ':');
		rc = json_value(out, pair->value);
	}
	buf_addch(out, '}');
	vec_release(&sorted, NULL);
	return rc;
}

/* A value after kustomize's trip through JSON: every number becomes a float64. */
static int json_value(struct buf *out, const struct node *n)
{
	int rc = 0;

	switch (n->type) {
	case NODE_NULL:
		buf_addstr(out, "null");
		break;
	case NODE_BOOL:
		buf_addstr(out, n->as.boolean ? "true" : "false");
		break;
	case NODE_INT:
		rc = json_number(out, (double)n->as.integer);
		break;
	case NODE_FLOAT:
		rc = json_number(out, n->as.real);
		break;
	case NODE_STRING:
		json_string(out, n->str, n->len);
		break;
	case NODE_SEQ:
		buf_addch(out, '[');
		for (size_t i = 0; rc == 0 && i < n->count; i++) {
			if (i)
				buf_addch(out, ',');
			rc = json_value(out, n->items[i]);
		}
		buf_addch(out, ']');
		break;
	case NODE_MAP:
		rc = json_object(out, n);
		break;
	}
	return rc;
}

/* A top-level field as kustomize's hasher reads it: a scalar's text, a mapping, or "". */
static int json_field(struct buf *out, const char *name, const struct node *n)
{
	buf_addf(out, "\"%s\":", name);
	if (!n) {
		buf_addstr(out, "\"\"");
		return 0;
	}
	if (n->type == NODE_MAP)
		return json_object(out, n);
	if (n->type == NODE_SEQ) {
		buf_addstr(out, "null");
		return 0;
	}
	json_string(out, n->str, n->len);
	return 0;
}

/*
 * What kustomize hashes: for a ConfigMap its data, binaryData when it is a
 * mapping, and its kind; for a Secret its data, stringData when a mapping, kind
 * and type. The name is hashed as empty, and nothing else counts (not labels,
 * annotations, namespace nor immutable).
 */
static int hash_input(const struct kres *r, bool secret, struct buf *out)
{
	const struct node *extra = node_get(r->root, secret ? "stringData" : "binaryData");
	bool with_extra = extra && extra->type == NODE_MAP;
	int rc = 0;

	buf_addch(out, '{');
	if (!secret && with_extra) {
		rc = json_field(out, "binaryData", extra);
		buf_addch(out, ',');
	}
	if (rc == 0)
		rc = json_field(out, "data", node_get(r->root, "data"));
	buf_addf(out, ",\"kind\":\"%s\",\"name\":\"\"", secret ? "Secret" : "ConfigMap");
	if (rc == 0 && secret && with_extra) {
		buf_addch(out, ',');
		rc = json_field(out, "stringData", extra);
	}
	if (rc == 0 && secret) {
		buf_addch(out, ',');
		rc = json_field(out, "type", node_get(r->root, "type"));
	}
	buf_addch(out, '}');
	return rc;
}

/* The ten characters: the digest's first hex digits, with 0 1 3 a e spelled g h k m t. */
static void hash_suffix_of(const struct buf *input, char suffix[11])
{
	uint8_t digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];

	sha256(input->data, input->len, digest);
	hex_encode(digest, sizeof(digest), hex);
	for (int i = 0; i < 10; i++) {
		const char *from = "013ae", *to = "ghkmt";
		const char *at = strchr(from, hex[i]);

		suffix[i] = at ? to[at - from] : hex[i];
	}
	suffix[10] = '\0';
}

static int hash_one(struct kbuild *b, struct kres *r, struct buf *input, struct error *err)
{
	const char *kind = kres_kind(r);
	bool secret = strcmp(kind, "Secret") == 0;
	char suffix[11], *name;
	int rc;

	if (!secret && strcmp(kind, "ConfigMap") != 0)
		return error_set(err, ERR_UNSUPPORTED,
				 "%s:%u: %s was generated as a ConfigMap or Secret; plumb hashes "
				 "names of only those kinds",
				 r->file, r->line, kres_display(b, r));
	buf_reset(input);
	if ((rc = hash_input(r, secret, input)) < 0)
		return error_set(err, rc,
				 "%s:%u: %s: its data cannot be hashed (a number that "
				 "is not finite)",
				 r->file, r->line, kres_display(b, r));
	hash_suffix_of(input, suffix);
	name = xasprintf("%s-%s", kres_name(r), suffix);
	kres_rename(b, r, name, NULL);
	free(name);
	return 0;
}

int kust_hash_names(struct kbuild *b, struct vec *set, struct error *err)
{
	struct buf input = BUF_INIT;
	struct kres *r;
	size_t i;
	int rc = 0;

	vec_foreach (set, i, r) {
		if (r->hash_suffix && (rc = hash_one(b, r, &input, err)) < 0)
			break;
	}
	buf_release(&input);
	return rc;
}
