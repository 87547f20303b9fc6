/*
 * replacements and legacy vars.
 *
 * A replacement copies one field of one object (its source) into fields of
 * other objects (its targets), at the end of a kustomization's transformers.
 * Field paths use kustomize's dot syntax: `spec.template.spec.containers.[name=app].image`,
 * `spec.ports.0.port`, `metadata.annotations.[example.com/key]`, `a\.b`, and
 * in targets `*` for every item of a list. In a target, `[key=value]` takes
 * `value` as an unanchored regular expression, as kustomize does; in a source
 * it must equal the item's field.
 *
 * A scalar target keeps its type and takes the source's text (so a string
 * field gets "8080", a port gets 8080); a list or mapping target is replaced
 * by a copy of the source's value. A field made by `create: true` is a plain
 * scalar read from the text, the way kustomize writes it untagged.
 *
 * Vars are gathered level by level: each var is tied to its object when its
 * kustomization is built (by any name the object had until then), and its
 * value is read from that object at the very end, after every rename, then
 * substituted for $(NAME) in the fields of kustomize's varReference table.
 */
#include "kust_int.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- reading the kustomization's structures ---- */

/*
 * A field of a mapping, found the way Go's encoding/json finds struct fields:
 * the exact name first, else the name in any case.
 */
static const struct node *field_of(const struct node *map, const char *name)
{
	const struct node *found = NULL;

	if (!map || map->type != NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->count; i++) {
		const char *key = map->pairs[i].key->str;

		if (strcmp(key, name) == 0)
			return map->pairs[i].value;
		if (!found && strcasecmp(key, name) == 0)
			found = map->pairs[i].value;
	}
	return found;
}

/* Fails on a field of map not in fields (NULL-terminated), as kustomize's strict reading does. */
static int check_known(const struct klevel *lv, const char *file, const struct node *map,
		       const char *const *fields, const char *what, struct error *err)
{
	for (size_t i = 0; i < map->count; i++) {
		const struct node *key = map->pairs[i].key;
		size_t f;

		for (f = 0; fields[f]; f++)
			if (strcasecmp(key->str, fields[f]) == 0)
				break;
		if (!fields[f])
			return kust_error(lv, file, key, ERR_INVALID, err,
					  "unknown field '%s' in %s", key->str, what);
	}
	return 0;
}

static int want_map(const struct klevel *lv, const char *file, const struct node *n,
		    const char *what, struct error *err)
{
	if (n->type != NODE_MAP)
		return kust_error(lv, file, n, ERR_INVALID, err, "%s must be a mapping, not %s",
				  what, node_type_name(n->type));
	return 0;
}

/* A string field: *out is NULL when it is absent or null. */
static int get_string(const struct klevel *lv, const char *file, const struct node *map,
		      const char *name, const char **out, struct error *err)
{
	const struct node *n = field_of(map, name);

	*out = NULL;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_STRING)
		return kust_error(lv, file, n, ERR_INVALID, err, "'%s' must be a string, not %s",
				  name, node_type_name(n->type));
	*out = n->str;
	return 0;
}

static int get_int(const struct klevel *lv, const char *file, const struct node *map,
		   const char *name, int *out, struct error *err)
{
	const struct node *n = field_of(map, name);

	*out = 0;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_INT || n->as.integer < -(1 << 30) || n->as.integer > (1 << 30))
		return kust_error(lv, file, n, ERR_INVALID, err, "'%s' must be an integer", name);
	*out = (int)n->as.integer;
	return 0;
}

static int get_bool(const struct klevel *lv, const char *file, const struct node *map,
		    const char *name, bool *out, struct error *err)
{
	const struct node *n = field_of(map, name);

	*out = false;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_BOOL)
		return kust_error(lv, file, n, ERR_INVALID, err, "'%s' must be true or false",
				  name);
	*out = n->as.boolean;
	return 0;
}

/* A formatted string in the build's arena. */
static const char *arena_printf(struct kbuild *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

static const char *arena_printf(struct kbuild *b, const char *fmt, ...)
{
	struct buf out = BUF_INIT;
	const char *copy;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&out, fmt, ap);
	va_end(ap);
	copy = arena_strdup(b->arena, out.data ? out.data : "");
	buf_release(&out);
	return copy;
}

/* ---- identities ---- */

/* All identities of r: its current one, then the ones it had before renames. */
struct ids {
	struct obj_id cur;
	const struct kres *r;
};

static void ids_init(struct kbuild *b, const struct kres *r, struct ids *ids)
{
	const char *api_version = node_string(node_get(r->root, "apiVersion"));

	kust_split_api_version(b, api_version ? api_version : "", &ids->cur.group,
			       &ids->cur.version);
	ids->cur.kind = kres_kind(r);
	ids->cur.namespace = kres_namespace(r);
	ids->cur.name = kres_name(r);
	ids->r = r;
}

/* The identity number i (0: current), NULL past the last. */
static const struct obj_id *ids_get(const struct ids *ids, size_t i)
{
	if (i == 0)
		return &ids->cur;
	if (i - 1 < ids->r->prev.len)
		return ids->r->prev.items[i - 1];
	if (i - 1 == ids->r->prev.len)
		return &ids->r->org;
	return NULL;
}

static bool empty(const char *s)
{
	return !s || !*s;
}

/* kustomize's namespace for comparisons: "" is "default", for every kind. */
static const char *effective_namespace(const char *ns)
{
	return empty(ns) ? "default" : ns;
}

/* kustomize's IsSelectedBy: every field the selector sets is equal. */
static bool id_selected_by(const struct obj_id *id, const struct obj_id *sel)
{
	if (!empty(sel->name) && strcmp(sel->name, id->name) != 0)
		return false;
	if (!empty(sel->group) && strcmp(sel->group, id->group) != 0)
		return false;
	if (!empty(sel->version) && strcmp(sel->version, id->version) != 0)
		return false;
	if (!empty(sel->kind) && strcmp(sel->kind, id->kind) != 0)
		return false;
	return empty(sel->namespace) ||
	       strcmp(effective_namespace(sel->namespace), effective_namespace(id->namespace)) == 0;
}

static bool any_id_selected_by(const struct ids *ids, const struct obj_id *sel)
{
	const struct obj_id *id;

	for (size_t i = 0; (id = ids_get(ids, i)) != NULL; i++)
		if (id_selected_by(id, sel))
			return true;
	return false;
}

/* "kind: Service, name: web" for messages. */
static const char *describe_id(struct kbuild *b, const struct obj_id *id)
{
	struct buf out = BUF_INIT;
	const char *const names[] = {"group", "version", "kind", "namespace", "name"};
	const char *const values[] = {id->group, id->version, id->kind, id->namespace, id->name};
	const char *copy;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!empty(values[i]))
			buf_addf(&out, "%s%s: %s", out.len ? ", " : "", names[i], values[i]);
	copy = arena_strdup(b->arena, out.len ? out.data : "any object");
	buf_release(&out);
	return copy;
}

/* ---- field paths ---- */

enum part_kind {
	PART_FIELD, /* a mapping's key */
	PART_INDEX, /* a list's item by position */
	PART_LAST,  /* "-": a list's last item (sources only) */
	PART_MATCH, /* "[key=value]": list items whose key matches value */
	PART_ALL,   /* "*": every item of a list (targets only) */
};

struct part {
	enum part_kind kind;
	const char *text; /* the element as written; the key for PART_MATCH */
	const char *value;
	long index;
	regex_t re;
	bool compiled;
};

struct fpath {
	const char *text;
	struct part *parts;
	size_t count;
};

static bool parse_index(const char *s, long *out)
{
	char *end;
	long v;

	if (!*s || !(s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	v = strtol(s, &end, 10);
	if (*end || end == s || v > (1L << 30) || v < -(1L << 30))
		return false;
	*out = v;
	return true;
}

/*
 * Splits a dotted path into its elements: "\." is a dot inside an element, a
 * leading dot is ignored, and dots inside "[...]" do not split; brackets
 * without '=' only quote a key ("[example.com/x]" is the key example.com/x).
 */
static void split_dotted(struct kbuild *b, const char *path, struct vec *out)
{
	struct vec raw = VEC_INIT;
	struct buf cur = BUF_INIT;
	const char *p = path;

	if (*p == '.' && p[1])
		p++;
	for (;; p++) {
		if (*p == '\\' && p[1] == '.') {
			buf_addch(&cur, '.');
			p++;
		} else if (*p == '.' || !*p) {
			vec_push(&raw, arena_strdup(b->arena, cur.data ? cur.data : ""));
			buf_reset(&cur);
			if (!*p)
				break;
		} else {
			buf_addch(&cur, *p);
		}
	}
	for (size_t i = 0; i < raw.len; i++) {
		const char *elem = raw.items[i];
		size_t len = strlen(elem);

		if (elem[0] != '[' || elem[len - 1] == ']') {
			vec_push(out, (void *)elem);
			continue;
		}
		buf_reset(&cur);
		buf_addstr(&cur, elem);
		while (i + 1 < raw.len) {
			const char *next = raw.items[++i];

			buf_addch(&cur, '.');
			buf_addstr(&cur, next);
			if (*next && next[strlen(next) - 1] == ']')
				break;
		}
		if (strchr(cur.data, '=')) {
			vec_push(out, arena_strdup(b->arena, cur.data));
		} else {
			const char *s = cur.data, *e = cur.data + cur.len;

			while (s < e && (*s == '[' || *s == ']'))
				s++;
			while (e > s && (e[-1] == '[' || e[-1] == ']'))
				e--;
			vec_push(out, arena_strndup(b->arena, s, (size_t)(e - s)));
		}
	}
	buf_release(&cur);
	vec_release(&raw, NULL);
}

/* Splits "name[3]" into "name" and "3", as kustomize does for a var's fieldpath. */
static void split_var_path(struct kbuild *b, const char *path, struct vec *out)
{
	const char *p = path;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		const char *open = memchr(p, '[', len);
		bool indexed = open && len > 2 && p[len - 1] == ']' && open + 1 < p + len - 1;

		for (const char *d = open ? open + 1 : NULL; indexed && d < p + len - 1; d++)
			indexed = *d >= '0' && *d <= '9';
		if (indexed) {
			if (open > p)
				vec_push(out, arena_strndup(b->arena, p, (size_t)(open - p)));
			vec_push(out, arena_strndup(b->arena, open + 1,
						    (size_t)(p + len - 1 - (open + 1))));
		} else {
			vec_push(out, arena_strndup(b->arena, p, len));
		}
		if (!dot)
			break;
		p = dot + 1;
	}
}

static void fpath_release(struct fpath *fp)
{
	for (size_t i = 0; fp->parts && i < fp->count; i++)
		if (fp->parts[i].compiled)
			regfree(&fp->parts[i].re);
	fp->count = 0;
}

/*
 * Reads a path's elements. In a target (is_target) "[key=value]" compiles
 * value as a regular expression and "*" means every item; in a source "-" is
 * the last item.
 */
static int fpath_parse(const struct klevel *lv, const char *file, const struct node *at,
		       const char *text, const struct vec *elems, bool is_target, struct fpath *fp,
		       struct error *err)
{
	struct kbuild *b = lv->b;

	fp->text = text;
	fp->count = 0;
	fp->parts = arena_alloc(b->arena, (elems->len ? elems->len : 1) * sizeof(*fp->parts));
	for (size_t i = 0; i < elems->len; i++) {
		const char *e = elems->items[i];
		struct part *part = &fp->parts[fp->count++];
		size_t len = strlen(e);

		part->text = e;
		part->compiled = false;
		if (parse_index(e, &part->index) && (part->index >= 0 || !is_target)) {
			part->kind = PART_INDEX;
		} else if (!is_target && strcmp(e, "-") == 0) {
			part->kind = PART_LAST;
		} else if (strcmp(e, "*") == 0) {
			if (!is_target) {
				fpath_release(fp);
				return kust_error(lv, file, at, ERR_INVALID, err,
						  "field path '%s': '*' (every item) only works in "
						  "a replacement's target",
						  text);
			}
			part->kind = PART_ALL;
		} else if (len >= 2 && e[0] == '[' && e[len - 1] == ']') {
			const char *eq = memchr(e, '=', len);

			if (!eq) {
				fpath_release(fp);
				return kust_error(lv, file, at, ERR_INVALID, err,
						  "fieldPath '%s': a list element '%s' must read "
						  "[field=value]",
						  text, e);
			}
			part->kind = PART_MATCH;
			part->text = arena_strndup(b->arena, e + 1, (size_t)(eq - e - 1));
			part->value =
				arena_strndup(b->arena, eq + 1, (size_t)(e + len - 1 - eq - 1));
			if (is_target) {
				const char *why;

				if (kust_regcomp(&part->re, part->value, &why) != 0) {
					fp->count--;
					fpath_release(fp);
					return kust_error(lv, file, at, ERR_INVALID, err,
							  "fieldPath '%s': invalid regular "
							  "expression '%s'%s%s",
							  text, part->value, why ? ": " : "",
							  why ? why : "");
				}
				part->compiled = true;
			}
		} else {
			part->kind = PART_FIELD;
		}
	}
	return 0;
}

/* The text kustomize compares and copies for a node: a scalar's own, "" for collections. */
static const char *node_text(const struct node *n)
{
	if (!n || n->type == NODE_MAP || n->type == NODE_SEQ || !n->str)
		return "";
	return n->str;
}

/* Follows a source path (kustomize's PathGetter); NULL when something is missing. */
static const struct node *lookup(const struct node *n, const struct fpath *fp)
{
	for (size_t i = 0; n && i < fp->count; i++) {
		const struct part *part = &fp->parts[i];
		const struct node *next = NULL;

		switch (part->kind) {
		case PART_FIELD:
			next = node_get(n, part->text);
			break;
		case PART_INDEX:
			if (n->type == NODE_SEQ && part->index >= 0 &&
			    (size_t)part->index < n->count)
				next = n->items[part->index];
			break;
		case PART_LAST:
			if (n->type == NODE_SEQ && n->count)
				next = n->items[n->count - 1];
			break;
		case PART_MATCH:
			for (size_t k = 0; n->type == NODE_SEQ && !next && k < n->count; k++) {
				const struct node *item = n->items[k];
				const struct node *v =
					*part->text ? node_get(item, part->text) : item;

				if (v && strcmp(node_text(v), part->value) == 0)
					next = item;
			}
			break;
		case PART_ALL:
			break;
		}
		n = next;
	}
	return n;
}

/* ---- scalars as kustomize writes them ---- */

/* Makes n (in place) the node src is, keeping n's position when it has one. */
static void become(struct node *n, const struct node *src)
{
	uint32_t line = n->line ? n->line : src->line, col = n->line ? n->col : src->col;

	*n = *src;
	n->line = line;
	n->col = col;
}

/* A string that is never re-read as another type. */
static struct node *new_string(struct kbuild *b, const char *text)
{
	struct node *n = node_new_cstr(b->arena, text);

	n->style = STYLE_DOUBLE;
	return n;
}

/*
 * The node an untagged plain scalar with this text reads as: kustomize writes
 * the fields it creates without a tag, so "8080" becomes a number.
 */
static struct node *plain_scalar(struct kbuild *b, const char *text)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	struct vec docs = VEC_INIT;
	struct node *n = NULL;
	size_t len = strlen(text);

	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strcmp(text, nulls[i]) == 0)
			return node_new_null(b->arena);
	if (!strpbrk(text, "\n\r") &&
	    yaml_parse(b->arena, "value", text, len, NULL, &docs, NULL) == 0 && docs.len == 1) {
		struct node *root = ((struct yaml_doc *)docs.items[0])->root;

		if (root->type != NODE_MAP && root->type != NODE_SEQ &&
		    root->style == STYLE_PLAIN && root->len == len &&
		    memcmp(root->str, text, len) == 0)
			n = root;
	}
	vec_release(&docs, NULL);
	if (!n) {
		/* text that cannot be written plain is written quoted: a string */
		n = node_new_cstr(b->arena, text);
	}
	return n;
}

/* Sets scalar target t to text, keeping t's type as kustomize does; fails if text is not of it. */
static int set_scalar_text(struct kbuild *b, struct node *t, const char *text, bool created,
			   const char **why)
{
	struct node *v;

	if (created) {
		become(t, plain_scalar(b, text));
		return 0;
	}
	if (t->type == NODE_STRING) {
		become(t, new_string(b, text));
		return 0;
	}
	v = plain_scalar(b, text);
	if (v->type == t->type || (t->type == NODE_FLOAT && v->type == NODE_INT)) {
		become(t, v);
		return 0;
	}
	*why = t->type == NODE_INT     ? "an integer"
	       : t->type == NODE_FLOAT ? "a number"
	       : t->type == NODE_BOOL  ? "a boolean"
				       : "null";
	return -1;
}

/* ---- replacements ---- */

struct rsource {
	struct obj_id id;
	const char *field_path;
	const char *delimiter;
	int index;
	const struct node *at;
};

struct rtarget {
	struct kselector select;
	struct obj_id select_id;
	struct vec rejects; /* struct kselector * */
	struct vec paths;   /* const struct node * (each a string) */
	const char *delimiter;
	int index;
	bool create;
	const struct node *at;
};

struct replacement {
	const char *file; /* the file it was read from; NULL: the kustomization */
	const struct node *at;
	struct rsource source;
	struct vec targets; /* struct rtarget * */
};

static void replacement_release(struct replacement *r)
{
	struct rtarget *t;
	size_t i;

	vec_foreach (&r->targets, i, t) {
		vec_release(&t->rejects, NULL);
		vec_release(&t->paths, NULL);
	}
	vec_release(&r->targets, NULL);
}

static void selector_id(const struct kselector *sel, struct obj_id *id)
{
	id->group = sel->group;
	id->version = sel->version;
	id->kind = sel->kind;
	id->namespace = sel->namespace;
	id->name = sel->name;
}

static int parse_options(const struct klevel *lv, const char *file, const struct node *n,
			 bool strict, const char **delimiter, int *index, bool *create,
			 struct error *err)
{
	static const char *const fields[] = {"delimiter", "index", "encoding", "create", NULL};
	int rc;

	*delimiter = NULL;
	*index = 0;
	*create = false;
	if (!n || n->type == NODE_NULL)
		return 0;
	if ((rc = want_map(lv, file, n, "options", err)) < 0 ||
	    (strict && (rc = check_known(lv, file, n, fields, "replacement options", err)) < 0))
		return rc;
	if ((rc = get_string(lv, file, n, "delimiter", delimiter, err)) < 0 ||
	    (rc = get_int(lv, file, n, "index", index, err)) < 0 ||
	    (rc = get_bool(lv, file, n, "create", create, err)) < 0)
		return rc;
	if (*delimiter && !**delimiter)
		*delimiter = NULL;
	return 0;
}

static int parse_source(const struct klevel *lv, const char *file, const struct node *n,
			bool strict, struct rsource *src, struct error *err)
{
	static const char *const fields[] = {"group",	  "version",   "kind",	  "name",
					     "namespace", "fieldPath", "options", NULL};
	bool create;
	int rc;

	src->at = n;
	if ((rc = want_map(lv, file, n, "a replacement's source", err)) < 0 ||
	    (strict && (rc = check_known(lv, file, n, fields, "a replacement's source", err)) < 0))
		return rc;
	if ((rc = get_string(lv, file, n, "group", &src->id.group, err)) < 0 ||
	    (rc = get_string(lv, file, n, "version", &src->id.version, err)) < 0 ||
	    (rc = get_string(lv, file, n, "kind", &src->id.kind, err)) < 0 ||
	    (rc = get_string(lv, file, n, "name", &src->id.name, err)) < 0 ||
	    (rc = get_string(lv, file, n, "namespace", &src->id.namespace, err)) < 0 ||
	    (rc = get_string(lv, file, n, "fieldPath", &src->field_path, err)) < 0)
		return rc;
	if (empty(src->field_path))
		src->field_path = "metadata.name";
	return parse_options(lv, file, field_of(n, "options"), strict, &src->delimiter, &src->index,
			     &create, err);
}

static int parse_selector(const struct klevel *lv, const char *file, const struct node *n,
			  struct kselector *sel, struct error *err)
{
	if (!n || n->type == NODE_NULL) {
		memset(sel, 0, sizeof(*sel));
		return 0;
	}
	return kust_selector_parse(lv, file, n, sel, err);
}

static int parse_target(const struct klevel *lv, const char *file, const struct node *n,
			bool strict, struct rtarget *t, struct error *err)
{
	static const char *const fields[] = {"select", "reject", "fieldPaths", "options", NULL};
	const struct node *select, *rejects, *paths;
	int rc;

	t->at = n;
	if ((rc = want_map(lv, file, n, "a replacement's target", err)) < 0 ||
	    (strict && (rc = check_known(lv, file, n, fields, "a replacement's target", err)) < 0))
		return rc;
	select = field_of(n, "select");
	if (!select || select->type == NODE_NULL)
		return kust_error(lv, file, n, ERR_INVALID, err,
				  "a replacement's target must say which objects to select "
				  "('select')");
	if ((rc = parse_selector(lv, file, select, &t->select, err)) < 0)
		return rc;
	selector_id(&t->select, &t->select_id);
	rejects = field_of(n, "reject");
	if (rejects && rejects->type != NODE_NULL) {
		if (rejects->type != NODE_SEQ)
			return kust_error(lv, file, rejects, ERR_INVALID, err,
					  "'reject' must be a list of selectors");
		for (size_t i = 0; i < rejects->count; i++) {
			struct kselector *sel = arena_alloc(lv->b->arena, sizeof(*sel));

			if ((rc = parse_selector(lv, file, rejects->items[i], sel, err)) < 0)
				return rc;
			vec_push(&t->rejects, sel);
		}
	}
	paths = field_of(n, "fieldPaths");
	if (paths && paths->type != NODE_NULL) {
		if (paths->type != NODE_SEQ)
			return kust_error(lv, file, paths, ERR_INVALID, err,
					  "'fieldPaths' must be a list of strings");
		for (size_t i = 0; i < paths->count; i++) {
			if (paths->items[i]->type != NODE_STRING)
				return kust_error(lv, file, paths->items[i], ERR_INVALID, err,
						  "a field path must be a string");
			vec_push(&t->paths, paths->items[i]);
		}
	}
	if (t->paths.len == 0)
		vec_push(&t->paths, node_new_cstr(lv->b->arena, "metadata.name"));
	return parse_options(lv, file, field_of(n, "options"), strict, &t->delimiter, &t->index,
			     &t->create, err);
}

/* Reads one replacement (a mapping with source and targets). */
static int parse_replacement(const struct klevel *lv, const char *file, const struct node *n,
			     bool strict, struct replacement *r, struct error *err)
{
	static const char *const fields[] = {"source", "targets", "path", NULL};
	const struct node *source, *targets;
	int rc;

	memset(r, 0, sizeof(*r));
	r->file = file;
	r->at = n;
	if ((rc = want_map(lv, file, n, "a replacement", err)) < 0 ||
	    (strict && (rc = check_known(lv, file, n, fields, "a replacement", err)) < 0))
		return rc;
	source = field_of(n, "source");
	targets = field_of(n, "targets");
	if (!source || source->type == NODE_NULL || !targets || targets->type != NODE_SEQ ||
	    targets->count == 0)
		return kust_error(lv, file, n, ERR_INVALID, err,
				  "a replacement must have a source and at least one target");
	if ((rc = parse_source(lv, file, source, strict, &r->source, err)) < 0)
		return rc;
	for (size_t i = 0; i < targets->count; i++) {
		struct rtarget *t = arena_alloc(lv->b->arena, sizeof(*t));

		memset(t, 0, sizeof(*t));
		vec_push(&r->targets, t);
		if ((rc = parse_target(lv, file, targets->items[i], strict, t, err)) < 0)
			return rc;
	}
	return 0;
}

/* Reads the replacements of a `path:` file: one replacement, or a list of them. */
static int read_replacement_file(const struct klevel *lv, const struct node *item,
				 const struct node *path, struct vec *out, struct error *err)
{
	struct vec docs = VEC_INIT;
	const char *data, *file;
	const struct node *root;
	size_t len;
	int rc;

	if (path->type != NODE_STRING || !*path->str)
		return kust_error(lv, NULL, path, ERR_INVALID, err,
				  "a replacement's 'path' must name a file");
	if (field_of(item, "source") || field_of(item, "targets"))
		return kust_error(lv, NULL, item, ERR_INVALID, err,
				  "a replacement takes either 'path' or 'source' and 'targets', "
				  "not both");
	if ((rc = kust_read_file(lv, path, path->str, &data, &len, &file, err)) < 0)
		return rc;
	if ((rc = yaml_parse(lv->b->arena, file, data, len, NULL, &docs, err)) < 0)
		goto out;
	if (docs.len == 0) {
		rc = kust_error(lv, NULL, path, ERR_INVALID, err, "'%s' holds no replacement",
				path->str);
		goto out;
	}
	root = ((struct yaml_doc *)docs.items[0])->root;
	for (size_t i = 0; i < (root->type == NODE_SEQ ? root->count : 1); i++) {
		struct replacement *r = arena_alloc(lv->b->arena, sizeof(*r));

		rc = parse_replacement(lv, file, root->type == NODE_SEQ ? root->items[i] : root,
				       false, r, err);
		vec_push(out, r);
		if (rc < 0)
			break;
	}
out:
	vec_release(&docs, NULL);
	return rc;
}

/* The one object of set the source selects. */
static int find_source(const struct klevel *lv, struct vec *set, const struct replacement *r,
		       struct kres **out, struct error *err)
{
	struct kbuild *b = lv->b;
	const struct rsource *src = &r->source;
	struct kres *res;
	size_t i;

	*out = NULL;
	vec_foreach (set, i, res) {
		struct ids ids;

		ids_init(b, res, &ids);
		if (!any_id_selected_by(&ids, &src->id))
			continue;
		if (*out)
			return kust_error(lv, r->file, src->at, ERR_INVALID, err,
					  "replacement source (%s) selects more than one object: "
					  "%s and %s",
					  describe_id(b, &src->id), kres_display(b, *out),
					  kres_display(b, res));
		*out = res;
	}
	if (!*out)
		return kust_error(lv, r->file, src->at, ERR_NOTFOUND, err,
				  "replacement source (%s) selects no object",
				  describe_id(b, &src->id));
	return 0;
}

/* Piece number index of text cut at each delimiter (in the arena), NULL if there is none. */
static const char *delimited_piece(struct kbuild *b, const char *text, const char *delimiter,
				   int index)
{
	const char *p = text;

	for (int count = 0; index >= 0; count++) {
		const char *next = strstr(p, delimiter);

		if (count == index)
			return arena_strndup(b->arena, p, next ? (size_t)(next - p) : strlen(p));
		if (!next)
			break;
		p = next + strlen(delimiter);
	}
	return NULL;
}

/* Finds the one object the source selects and the value at its field path. */
static int source_value(const struct klevel *lv, struct vec *set, struct replacement *r,
			const struct node **out, struct error *err)
{
	struct kbuild *b = lv->b;
	struct rsource *src = &r->source;
	struct vec elems = VEC_INIT;
	struct fpath fp = {0};
	const struct node *v;
	struct kres *found;
	const char *piece;
	int rc;

	if ((rc = find_source(lv, set, r, &found, err)) < 0)
		return rc;
	split_dotted(b, src->field_path, &elems);
	rc = fpath_parse(lv, r->file, src->at, src->field_path, &elems, false, &fp, err);
	vec_release(&elems, NULL);
	if (rc < 0)
		return rc;
	v = lookup(found->root, &fp);
	fpath_release(&fp);
	if (!v || v->type == NODE_NULL ||
	    ((v->type == NODE_MAP || v->type == NODE_SEQ) && v->count == 0))
		return kust_error(lv, r->file, src->at, ERR_NOTFOUND, err,
				  "replacement source %s has no field '%s'", kres_display(b, found),
				  src->field_path);
	*out = v;
	if (!src->delimiter)
		return 0;
	if (v->type == NODE_MAP || v->type == NODE_SEQ)
		return kust_error(lv, r->file, src->at, ERR_INVALID, err,
				  "the source's delimiter only applies to a scalar, and '%s' of %s "
				  "is %s",
				  src->field_path, kres_display(b, found), node_type_name(v->type));
	if (!(piece = delimited_piece(b, v->str, src->delimiter, src->index)))
		return kust_error(lv, r->file, src->at, ERR_INVALID, err,
				  "options.index %d is out of bounds for value '%s'", src->index,
				  v->str);
	/* the piece keeps the source's type when it can */
	*out = v->type == NODE_STRING ? new_string(b, piece) : plain_scalar(b, piece);
	return 0;
}

/* Does target t select res, by identity (any it had) and by labels and annotations? */
static int target_selects(struct kbuild *b, const struct rtarget *t, struct kres *res, bool *match,
			  struct error *err)
{
	struct kselector meta = {.label_selector = t->select.label_selector,
				 .annotation_selector = t->select.annotation_selector};
	const struct kselector *reject;
	struct obj_id reject_id;
	struct ids ids;
	size_t i;
	int rc;

	*match = false;
	if ((rc = kust_selector_matches(&meta, res, match, err)) < 0 || !*match)
		return rc;
	vec_foreach (&t->rejects, i, reject) {
		struct kselector rmeta = {.label_selector = reject->label_selector,
					  .annotation_selector = reject->annotation_selector};
		bool hit;

		if (empty(reject->label_selector) && empty(reject->annotation_selector))
			continue;
		if ((rc = kust_selector_matches(&rmeta, res, &hit, err)) < 0)
			return rc;
		if (hit) {
			*match = false;
			return 0;
		}
	}
	ids_init(b, res, &ids);
	*match = any_id_selected_by(&ids, &t->select_id);
	vec_foreach (&t->rejects, i, reject) {
		selector_id(reject, &reject_id);
		if (!*match)
			break;
		if (empty(reject_id.group) && empty(reject_id.version) && empty(reject_id.kind) &&
		    empty(reject_id.name) && empty(reject_id.namespace))
			continue;
		if (any_id_selected_by(&ids, &reject_id))
			*match = false;
	}
	return 0;
}

/* Walking a target's path (kustomize's PathMatcher), creating what is missing if asked. */
struct twalk {
	struct kbuild *b;
	const struct fpath *fp;
	enum node_type create; /* NODE_NULL: do not create; else the value's kind */
	struct vec found;      /* struct node * */
	struct vec created;    /* scalars made here: they take the value's type */
	const char *problem;   /* why the walk failed */
};

/* A new node for element i of the path (a list if the next element indexes one). */
static struct node *new_part_node(struct twalk *w, size_t i)
{
	const struct part *next = i + 1 < w->fp->count ? &w->fp->parts[i + 1] : NULL;
	struct node *n;

	if (next && (next->kind == PART_INDEX || next->kind == PART_MATCH))
		return node_new_seq(w->b->arena, 0);
	if (next)
		return node_new_map(w->b->arena, 0);
	if (w->create == NODE_MAP)
		return node_new_map(w->b->arena, 0);
	if (w->create == NODE_SEQ)
		return node_new_seq(w->b->arena, 0);
	n = node_new_cstr(w->b->arena, "");
	vec_push(&w->created, n);
	return n;
}

static int walk_target(struct twalk *w, struct node *n, size_t i);

static int walk_list_part(struct twalk *w, struct node *n, size_t i)
{
	if (n->type == NODE_SEQ)
		return 0;
	w->problem = arena_printf(w->b, "'%s' needs a list, found %s", w->fp->parts[i].text,
				  node_type_name(n->type));
	return -1;
}

static bool item_matches(const struct part *part, const struct node *item)
{
	const struct node *v = *part->text ? node_get(item, part->text) : item;

	if (!v || (*part->text && v->type == NODE_NULL))
		return false;
	return regexec(&part->re, node_text(v), 0, NULL, 0) == 0;
}

static int walk_matching(struct twalk *w, struct node *n, size_t i)
{
	const struct part *part = &w->fp->parts[i];
	bool any = false;
	int rc;

	if ((rc = walk_list_part(w, n, i)) < 0)
		return rc;
	for (int round = 0; round < 2 && !any; round++) {
		for (size_t k = 0; k < n->count; k++) {
			if (!item_matches(part, n->items[k]))
				continue;
			any = true;
			if (!*part->text) {
				/* kustomize takes a matching list value itself, whatever follows */
				vec_push(&w->found, n->items[k]);
				continue;
			}
			if ((rc = walk_target(w, n->items[k], i + 1)) < 0)
				return rc;
		}
		if (any || w->create == NODE_NULL || round)
			break;
		if (*part->text) {
			struct node *item = node_new_map(w->b->arena, 1);

			node_map_set(w->b->arena, item, part->text,
				     plain_scalar(w->b, part->value));
			node_seq_push(w->b->arena, n, item);
		} else {
			node_seq_push(w->b->arena, n, plain_scalar(w->b, part->value));
		}
	}
	return 0;
}

static int walk_target(struct twalk *w, struct node *n, size_t i)
{
	const struct part *part;
	struct node *child;
	int rc;

	if (i == w->fp->count) {
		vec_push(&w->found, n);
		return 0;
	}
	part = &w->fp->parts[i];
	switch (part->kind) {
	case PART_INDEX:
		if ((rc = walk_list_part(w, n, i)) < 0)
			return rc;
		if ((size_t)part->index == n->count && w->create != NODE_NULL)
			node_seq_push(w->b->arena, n, new_part_node(w, i));
		if ((size_t)part->index >= n->count) {
			w->problem = arena_printf(w->b,
						  "index %ld specified but only %zu elements found",
						  part->index, n->count);
			return -1;
		}
		return walk_target(w, n->items[part->index], i + 1);
	case PART_ALL:
		if ((rc = walk_list_part(w, n, i)) < 0)
			return rc;
		for (size_t k = 0; k < n->count; k++)
			if ((rc = walk_target(w, n->items[k], i + 1)) < 0)
				return rc;
		return 0;
	case PART_MATCH:
		return walk_matching(w, n, i);
	case PART_LAST:
	case PART_FIELD:
		break;
	}
	child = n->type == NODE_MAP ? node_get(n, part->text) : NULL;
	if (!child && w->create != NODE_NULL) {
		if (n->type == NODE_NULL) {
			become(n, node_new_map(w->b->arena, 0));
		} else if (n->type != NODE_MAP) {
			w->problem = arena_printf(w->b, "cannot create '%s' in %s", part->text,
						  node_type_name(n->type));
			return -1;
		}
		child = new_part_node(w, i);
		node_map_set(w->b->arena, n, part->text, child);
	}
	return child ? walk_target(w, child, i + 1) : 0;
}

/* Joins the source's text into target text split at the delimiter, as kustomize does. */
static const char *join_delimited(struct kbuild *b, const char *target, const char *delimiter,
				  int index, const char *value)
{
	struct buf out = BUF_INIT;
	const char *p = target, *copy;
	size_t dlen = strlen(delimiter);
	int count = 0, pieces = 1;

	for (const char *q = strstr(target, delimiter); q; q = strstr(q + dlen, delimiter))
		pieces++;
	if (index < 0)
		buf_addf(&out, "%s%s", value, delimiter);
	for (;; count++) {
		const char *next = strstr(p, delimiter);
		size_t len = next ? (size_t)(next - p) : strlen(p);

		if (count == index)
			buf_addstr(&out, value);
		else
			buf_add(&out, p, len);
		if (!next)
			break;
		buf_addstr(&out, delimiter);
		p = next + dlen;
	}
	if (index >= pieces)
		buf_addf(&out, "%s%s", delimiter, value);
	copy = arena_strdup(b->arena, out.data ? out.data : "");
	buf_release(&out);
	return copy;
}

static bool was_created(const struct twalk *w, const struct node *n)
{
	for (size_t i = 0; i < w->created.len; i++)
		if (w->created.items[i] == n)
			return true;
	return false;
}

/* Puts value into one field found in a target. */
static int set_target_field(const struct klevel *lv, const struct replacement *r,
			    const struct rtarget *t, const struct fpath *fp, struct kres *res,
			    const struct twalk *w, struct node *field, const struct node *value,
			    struct error *err)
{
	struct kbuild *b = lv->b;
	const char *text = node_text(value), *why = NULL;
	bool scalar = field->type != NODE_MAP && field->type != NODE_SEQ;

	if (t->delimiter) {
		if (!scalar)
			return kust_error(lv, r->file, t->at, ERR_INVALID, err,
					  "the target's delimiter only applies to a scalar, and "
					  "'%s' of %s is %s",
					  fp->text, kres_display(b, res),
					  node_type_name(field->type));
		text = join_delimited(b, node_text(field), t->delimiter, t->index, text);
	}
	if (!scalar) {
		become(field, node_clone(b->arena, value));
		return 0;
	}
	if (set_scalar_text(b, field, text, was_created(w, field), &why) < 0)
		return kust_error(lv, r->file, t->at, ERR_INVALID, err,
				  "'%s' of %s is %s and cannot take the value '%s'", fp->text,
				  kres_display(b, res), why, text);
	return 0;
}

static int apply_path(const struct klevel *lv, const struct replacement *r, const struct rtarget *t,
		      const struct fpath *fp, struct kres *res, const struct node *value,
		      struct error *err)
{
	struct twalk w = {.b = lv->b, .fp = fp};
	struct node *field;
	size_t i;
	int rc = 0;

	w.create = NODE_NULL;
	if (t->create)
		w.create = value->type == NODE_MAP || value->type == NODE_SEQ ? value->type
									      : NODE_STRING;
	if (walk_target(&w, res->root, 0) < 0 || w.found.len == 0) {
		rc = kust_error(lv, r->file, t->at, ERR_NOTFOUND, err,
				"unable to %s field '%s' in replacement target %s%s%s",
				t->create ? "find or create" : "find", fp->text,
				kres_display(lv->b, res), w.problem ? ": " : "",
				w.problem ? w.problem : "");
		goto out;
	}
	vec_foreach (&w.found, i, field)
		if ((rc = set_target_field(lv, r, t, fp, res, &w, field, value, err)) < 0)
			break;
out:
	vec_release(&w.found, NULL);
	vec_release(&w.created, NULL);
	return rc;
}

static int apply_target(const struct klevel *lv, struct vec *set, const struct replacement *r,
			const struct rtarget *t, const struct node *value, struct error *err)
{
	struct kbuild *b = lv->b;
	struct fpath *paths = arena_alloc(b->arena, t->paths.len * sizeof(*paths));
	size_t parsed = 0, i;
	struct kres *res;
	int rc = 0;

	for (; parsed < t->paths.len; parsed++) {
		const struct node *at = t->paths.items[parsed];
		struct vec elems = VEC_INIT;

		split_dotted(b, at->str, &elems);
		rc = fpath_parse(lv, r->file, at, at->str, &elems, true, &paths[parsed], err);
		vec_release(&elems, NULL);
		if (rc < 0)
			goto out;
	}
	vec_foreach (set, i, res) {
		bool match;

		if ((rc = target_selects(b, t, res, &match, err)) < 0)
			break;
		for (size_t p = 0; match && p < t->paths.len; p++)
			if ((rc = apply_path(lv, r, t, &paths[p], res, value, err)) < 0)
				goto out;
	}
out:
	for (i = 0; i < parsed; i++)
		fpath_release(&paths[i]);
	return rc;
}

static int apply_replacement(const struct klevel *lv, struct vec *set, struct replacement *r,
			     struct error *err)
{
	const struct node *value = NULL;
	struct rtarget *t;
	size_t i;
	int rc = source_value(lv, set, r, &value, err);

	vec_foreach (&r->targets, i, t)
		if (rc == 0)
			rc = apply_target(lv, set, r, t, value, err);
	return rc;
}

int kust_replacements(struct klevel *lv, struct vec *set, struct error *err)
{
	const struct node *list = node_get(lv->k, "replacements");
	struct vec all = VEC_INIT;
	struct replacement *r;
	size_t i;
	int rc = 0;

	if (!list || list->type == NODE_NULL)
		return 0;
	if (list->type != NODE_SEQ)
		return kust_error(lv, NULL, list, ERR_INVALID, err,
				  "'replacements' must be a list");
	for (i = 0; rc == 0 && i < list->count; i++) {
		const struct node *item = list->items[i];
		const struct node *path = field_of(item, "path");

		if (path && path->type != NODE_NULL) {
			rc = read_replacement_file(lv, item, path, &all, err);
			continue;
		}
		r = arena_alloc(lv->b->arena, sizeof(*r));
		rc = parse_replacement(lv, NULL, item, true, r, err);
		vec_push(&all, r);
	}
	vec_foreach (&all, i, r)
		if (rc == 0)
			rc = apply_replacement(lv, set, r, err);
	vec_foreach (&all, i, r)
		replacement_release(r);
	vec_release(&all, NULL);
	return rc;
}

/* ---- legacy vars ---- */

struct kvar {
	const char *name;
	struct obj_id ref;
	const char *field_path;
	struct kres *res; /* the object ref named when its level was built, or NULL */
	struct klevel lv; /* where it is declared, for messages */
	const struct node *at;
};

/* kustomize's varReference: the fields where $(NAME) is substituted. */
static const struct {
	const char *kind;
	const char *path;
} var_fields[] = {
	{"CronJob", "spec/jobTemplate/spec/template/spec/containers/args"},
	{"CronJob", "spec/jobTemplate/spec/template/spec/containers/command"},
	{"CronJob", "spec/jobTemplate/spec/template/spec/containers/env/value"},
	{"CronJob", "spec/jobTemplate/spec/template/spec/containers/volumeMounts/mountPath"},
	{"CronJob", "spec/jobTemplate/spec/template/spec/initContainers/args"},
	{"CronJob", "spec/jobTemplate/spec/template/spec/initContainers/command"},
	{"CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/value"},
	{"CronJob", "spec/jobTemplate/spec/template/spec/initContainers/volumeMounts/mountPath"},
	/* sic: kustomize's table misses the pod's "spec" here */
	{"CronJob", "spec/jobTemplate/spec/template/volumes/nfs/server"},
	{"DaemonSet", "spec/template/spec/containers/args"},
	{"DaemonSet", "spec/template/spec/containers/command"},
	{"DaemonSet", "spec/template/spec/containers/env/value"},
	{"DaemonSet", "spec/template/spec/containers/volumeMounts/mountPath"},
	{"DaemonSet", "spec/template/spec/initContainers/args"},
	{"DaemonSet", "spec/template/spec/initContainers/command"},
	{"DaemonSet", "spec/template/spec/initContainers/env/value"},
	{"DaemonSet", "spec/template/spec/initContainers/volumeMounts/mountPath"},
	{"DaemonSet", "spec/template/spec/volumes/nfs/server"},
	{"Deployment", "spec/template/spec/containers/args"},
	{"Deployment", "spec/template/spec/containers/command"},
	{"Deployment", "spec/template/spec/containers/env/value"},
	{"Deployment", "spec/template/spec/containers/volumeMounts/mountPath"},
	{"Deployment", "spec/template/spec/initContainers/args"},
	{"Deployment", "spec/template/spec/initContainers/command"},
	{"Deployment", "spec/template/spec/initContainers/env/value"},
	{"Deployment", "spec/template/spec/initContainers/volumeMounts/mountPath"},
	{"Deployment", "spec/template/spec/volumes/nfs/server"},
	{"Deployment", "spec/template/metadata/annotations"},
	{"Ingress", "spec/rules/host"},
	{"Ingress", "spec/tls/hosts"},
	{"Ingress", "spec/tls/secretName"},
	{"Job", "spec/template/spec/containers/args"},
	{"Job", "spec/template/spec/containers/command"},
	{"Job", "spec/template/spec/containers/env/value"},
	{"Job", "spec/template/spec/containers/volumeMounts/mountPath"},
	{"Job", "spec/template/spec/initContainers/args"},
	{"Job", "spec/template/spec/initContainers/command"},
	{"Job", "spec/template/spec/initContainers/env/value"},
	{"Job", "spec/template/spec/initContainers/volumeMounts/mountPath"},
	{"Job", "spec/template/spec/volumes/nfs/server"},
	{"Pod", "spec/containers/args"},
	{"Pod", "spec/containers/command"},
	{"Pod", "spec/containers/env/value"},
	{"Pod", "spec/containers/volumeMounts/mountPath"},
	{"Pod", "spec/initContainers/args"},
	{"Pod", "spec/initContainers/command"},
	{"Pod", "spec/initContainers/env/value"},
	{"Pod", "spec/initContainers/volumeMounts/mountPath"},
	{"Pod", "spec/volumes/nfs/server"},
	{"ReplicaSet", "spec/template/spec/containers/args"},
	{"ReplicaSet", "spec/template/spec/containers/command"},
	{"ReplicaSet", "spec/template/spec/containers/env/value"},
	{"ReplicaSet", "spec/template/spec/containers/volumeMounts/mountPath"},
	{"ReplicaSet", "spec/template/spec/initContainers/args"},
	{"ReplicaSet", "spec/template/spec/initContainers/command"},
	{"ReplicaSet", "spec/template/spec/initContainers/env/value"},
	{"ReplicaSet", "spec/template/spec/initContainers/volumeMounts/mountPath"},
	{"ReplicaSet", "spec/template/spec/volumes/nfs/server"},
	{"Service", "spec/ports/port"},
	{"Service", "spec/ports/targetPort"},
	{"StatefulSet", "spec/template/spec/containers/args"},
	{"StatefulSet", "spec/template/spec/containers/command"},
	{"StatefulSet", "spec/template/spec/containers/env/value"},
	{"StatefulSet", "spec/template/spec/containers/volumeMounts/mountPath"},
	{"StatefulSet", "spec/template/spec/initContainers/args"},
	{"StatefulSet", "spec/template/spec/initContainers/command"},
	{"StatefulSet", "spec/template/spec/initContainers/env/value"},
	{"StatefulSet", "spec/template/spec/initContainers/volumeMounts/mountPath"},
	{"StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server"},
	{"PersistentVolume", "spec/nfs/server"},
	{NULL, "metadata/labels"},
	{NULL, "metadata/annotations"},
};

static int parse_objref(const struct klevel *lv, const struct node *n, struct kvar *v,
			struct error *err)
{
	static const char *const fields[] = {"apiVersion", "group",	"version", "kind",
					     "name",	   "namespace", NULL};
	const char *api_version;
	int rc;

	if (!n || n->type == NODE_NULL)
		return kust_error(lv, NULL, v->at, ERR_INVALID, err,
				  "var '%s' has no objref (the object to read)", v->name);
	if ((rc = want_map(lv, NULL, n, "a var's objref", err)) < 0 ||
	    (rc = check_known(lv, NULL, n, fields, "a var's objref", err)) < 0)
		return rc;
	if ((rc = get_string(lv, NULL, n, "apiVersion", &api_version, err)) < 0 ||
	    (rc = get_string(lv, NULL, n, "group", &v->ref.group, err)) < 0 ||
	    (rc = get_string(lv, NULL, n, "version", &v->ref.version, err)) < 0 ||
	    (rc = get_string(lv, NULL, n, "kind", &v->ref.kind, err)) < 0 ||
	    (rc = get_string(lv, NULL, n, "name", &v->ref.name, err)) < 0 ||
	    (rc = get_string(lv, NULL, n, "namespace", &v->ref.namespace, err)) < 0)
		return rc;
	if (!empty(api_version)) {
		const char *slash = strchr(api_version, '/');

		if (!slash) {
			v->ref.version = api_version;
		} else if (!strchr(slash + 1, '/')) {
			v->ref.group = arena_strndup(lv->b->arena, api_version,
						     (size_t)(slash - api_version));
			v->ref.version = slash + 1;
		}
	}
	return 0;
}

static int parse_var(const struct klevel *lv, const struct node *n, struct kvar *v,
		     struct error *err)
{
	static const char *const fields[] = {"name", "objref", "fieldref", NULL};
	static const char *const fieldref_fields[] = {"fieldPath", NULL};
	const struct node *fieldref;
	int rc;

	memset(v, 0, sizeof(*v));
	v->lv = *lv;
	v->at = n;
	if ((rc = want_map(lv, NULL, n, "a var", err)) < 0 ||
	    (rc = check_known(lv, NULL, n, fields, "a var", err)) < 0 ||
	    (rc = get_string(lv, NULL, n, "name", &v->name, err)) < 0)
		return rc;
	if (empty(v->name))
		return kust_error(lv, NULL, n, ERR_INVALID, err, "a var needs a name");
	if ((rc = parse_objref(lv, field_of(n, "objref"), v, err)) < 0)
		return rc;
	fieldref = field_of(n, "fieldref");
	if (fieldref && fieldref->type != NODE_NULL) {
		if ((rc = want_map(lv, NULL, fieldref, "a var's fieldref", err)) < 0 ||
		    (rc = check_known(lv, NULL, fieldref, fieldref_fields, "a var's fieldref",
				      err)) < 0 ||
		    (rc = get_string(lv, NULL, fieldref, "fieldPath", &v->field_path, err)) < 0)
			return rc;
	}
	if (empty(v->field_path))
		v->field_path = "metadata.name";
	return 0;
}

static bool same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Does a var's objref name this identity? Kind, group, version and name must be equal. */
static bool ref_names(const struct obj_id *ref, const struct obj_id *id)
{
	if (!same_text(ref->group, id->group) || !same_text(ref->version, id->version) ||
	    !same_text(ref->kind, id->kind) || !same_text(ref->name, id->name))
		return false;
	return empty(ref->namespace) ||
	       strcmp(effective_namespace(ref->namespace), effective_namespace(id->namespace)) == 0;
}

/* Ties v to the object of set its objref names (by any identity it had so far). */
static int var_find_object(const struct klevel *lv, struct vec *set, struct kvar *v,
			   struct error *err)
{
	struct kres *res;
	size_t i;

	vec_foreach (set, i, res) {
		const struct obj_id *id;
		struct ids ids;
		size_t k;

		ids_init(lv->b, res, &ids);
		for (k = 0; (id = ids_get(&ids, k)) != NULL; k++)
			if (ref_names(&v->ref, id))
				break;
		if (!id)
			continue;
		if (v->res)
			return kust_error(lv, NULL, v->at, ERR_INVALID, err,
					  "var '%s': objref (%s) names more than one object: %s "
					  "and %s",
					  v->name, describe_id(lv->b, &v->ref),
					  kres_display(lv->b, v->res), kres_display(lv->b, res));
		v->res = res;
	}
	return 0;
}

/* Gathers lv's vars into b->vars; on failure the build stops, and b->vars is released. */
static int collect_vars(struct klevel *lv, struct vec *set, struct error *err)
{
	const struct node *list = node_get(lv->k, "vars");
	struct kbuild *b = lv->b;
	int rc;

	if (!list || list->type == NODE_NULL)
		return 0;
	if (list->type != NODE_SEQ)
		return kust_error(lv, NULL, list, ERR_INVALID, err, "'vars' must be a list");
	for (size_t i = 0; i < list->count; i++) {
		struct kvar *v = arena_alloc(b->arena, sizeof(*v)), *seen;
		size_t k;

		if ((rc = parse_var(lv, list->items[i], v, err)) < 0)
			return rc;
		vec_foreach (&b->vars, k, seen)
			if (strcmp(seen->name, v->name) == 0)
				return kust_error(lv, NULL, v->at, ERR_CONFLICT, err,
						  "var '%s' is already defined (%s:%u)", v->name,
						  seen->lv.file, seen->at->line);
		if ((rc = var_find_object(lv, set, v, err)) < 0)
			return rc;
		vec_push(&b->vars, v);
	}
	return 0;
}

int kust_vars_collect(struct klevel *lv, struct vec *set, struct error *err)
{
	int rc = collect_vars(lv, set, err);

	if (rc < 0)
		vec_release(&lv->b->vars, NULL);
	return rc;
}

/* ---- substituting $(NAME) ---- */

/* The shortest decimal digits of |v| that read back as v, and the exponent of the first. */
static void float_digits(double v, char digits[24], int *exp10)
{
	char tmp[40], *p = tmp, *e;
	size_t n = 0;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, fabs(v));
		if (strtod(tmp, NULL) == fabs(v))
			break;
	}
	e = strchr(tmp, 'e');
	for (; p < e; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	*exp10 = atoi(e + 1);
}

/* A float as Go prints it: fixed notation ('f', -1), or %v (exponent outside [-4, 6)). */
static void add_go_float(struct buf *out, double v, bool fixed)
{
	char digits[24];
	int exp10, n;

	if (!isfinite(v)) {
		buf_addstr(out, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) {
		buf_addstr(out, signbit(v) ? "-0" : "0");
		return;
	}
	float_digits(v, digits, &exp10);
	n = (int)strlen(digits);
	if (v < 0)
		buf_addch(out, '-');
	if (!fixed && (exp10 < -4 || exp10 >= 6)) {
		buf_addch(out, digits[0]);
		if (n > 1)
			buf_addf(out, ".%s", digits + 1);
		buf_addf(out, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
		return;
	}
	if (exp10 < 0) {
		buf_addstr(out, "0.");
		for (int i = 0; i < -exp10 - 1; i++)
			buf_addch(out, '0');
		buf_addstr(out, digits);
		return;
	}
	for (int i = 0; i <= exp10; i++)
		buf_addch(out, i < n ? digits[i] : '0');
	if (n > exp10 + 1)
		buf_addf(out, ".%s", digits + exp10 + 1);
}

/* The text a var's value takes inside a longer string (Go's fmt.Sprint). */
static void add_var_text(struct buf *out, const struct node *value)
{
	switch (value->type) {
	case NODE_INT:
		buf_addf(out, "%lld", (long long)value->as.integer);
		break;
	case NODE_BOOL:
		buf_addstr(out, value->as.boolean ? "true" : "false");
		break;
	case NODE_FLOAT:
		add_go_float(out, value->as.real, false);
		break;
	default:
		buf_add(out, value->str, value->len);
		break;
	}
}

/* The node a field that is exactly "$(NAME)" becomes: the value, with its type. */
static struct node *var_node(struct kbuild *b, const struct node *value)
{
	struct buf text = BUF_INIT;
	struct node *n;

	switch (value->type) {
	case NODE_INT:
		return node_new_int(b->arena, value->as.integer);
	case NODE_BOOL:
		return node_new_bool(b->arena, value->as.boolean);
	case NODE_FLOAT:
		add_go_float(&text, value->as.real, true);
		n = node_new_cstr(b->arena, text.data ? text.data : "0");
		buf_release(&text);
		n->type = NODE_FLOAT;
		n->as.real = value->as.real;
		return n;
	default:
		return new_string(b, value->str);
	}
}

struct vars_ctx {
	struct map values; /* name -> const struct node *, scalars only */
};

/* The value of a var usable in text, NULL for unknown names and non-scalar values. */
static const struct node *var_value(struct vars_ctx *ctx, const char *name, size_t len)
{
	char *key = xstrndup(name, len);
	const struct node *v = map_get(&ctx->values, key);

	free(key);
	return v;
}

/* Substitutes $(NAME) in a string node; "$$" is a literal "$". */
static void expand_string(struct kbuild *b, struct vars_ctx *ctx, struct node *n)
{
	const char *s = n->str;
	struct buf out = BUF_INIT;
	struct node *result;

	/* a string without '$' stays as written (and is read as the input reads it) */
	if (!memchr(s, '$', n->len))
		return;
	for (size_t i = 0; i < n->len; i++) {
		const char *close;
		const struct node *value;

		if (s[i] != '$' || i + 1 >= n->len) {
			buf_addch(&out, s[i]);
			continue;
		}
		if (s[i + 1] != '(' || !(close = memchr(s + i + 2, ')', n->len - i - 2))) {
			/* "$$" gives "$"; any other "$x" stays */
			if (s[i + 1] != '$')
				buf_addch(&out, '$');
			buf_addch(&out, s[++i]);
			continue;
		}
		value = var_value(ctx, s + i + 2, (size_t)(close - (s + i + 2)));
		if (value && i == 0 && close == s + n->len - 1) {
			become(n, var_node(b, value));
			buf_release(&out);
			return;
		}
		if (value)
			add_var_text(&out, value);
		else
			buf_add(&out, s + i, (size_t)(close - (s + i)) + 1);
		i = (size_t)(close - s);
	}
	result = node_new_string(b->arena, out.data ? out.data : "", out.len);
	result->style = STYLE_DOUBLE;
	become(n, result);
	buf_release(&out);
}

/* The field walker's callback: substitutes in a string, a list of strings or a mapping's values. */
static int expand_field(struct kbuild *b, struct kres *r, struct node *parent, const char *key,
			void *ud, struct error *err)
{
	struct node *n = node_get(parent, key);

	if (!n)
		return 0;
	switch (n->type) {
	case NODE_STRING:
		expand_string(b, ud, n);
		return 0;
	case NODE_MAP:
		for (size_t i = 0; i < n->count; i++)
			if (n->pairs[i].value->type == NODE_STRING)
				expand_string(b, ud, n->pairs[i].value);
		return 0;
	case NODE_SEQ:
		for (size_t i = 0; i < n->count; i++) {
			if (n->items[i]->type != NODE_STRING)
				return error_set(err, ERR_INVALID,
						 "%s:%u:%u: '%s' of %s holds %s where vars expect "
						 "strings",
						 r->file, n->items[i]->line, n->items[i]->col, key,
						 kres_display(b, r),
						 node_type_name(n->items[i]->type));
			expand_string(b, ud, n->items[i]);
		}
		return 0;
	default:
		return 0;
	}
}

/* [+-]?[0-9]+: the integers kustomize reads a var's value from. */
static bool is_decimal(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Reads each var's value from its object, as the object is now. */
static int read_var_values(struct kbuild *b, struct vec *set, struct vars_ctx *ctx,
			   struct error *err)
{
	struct kvar *v;
	struct kres *res;
	size_t i;
	int rc;

	vec_foreach (&b->vars, i, v)
		if (v->res)
			v->res->mark = 0;
	vec_foreach (set, i, res)
		res->mark = 1;
	vec_foreach (&b->vars, i, v) {
		struct vec elems = VEC_INIT;
		struct fpath fp = {0};
		const struct node *value;

		if (!v->res || v->res->mark != 1)
			return kust_error(&v->lv, NULL, v->at, ERR_NOTFOUND, err,
					  "var '%s': no object matches its objref (%s)", v->name,
					  describe_id(b, &v->ref));
		split_var_path(b, v->field_path, &elems);
		rc = fpath_parse(&v->lv, NULL, v->at, v->field_path, &elems, false, &fp, err);
		vec_release(&elems, NULL);
		if (rc < 0)
			return rc;
		value = lookup(v->res->root, &fp);
		fpath_release(&fp);
		if (!value)
			return kust_error(&v->lv, NULL, v->at, ERR_NOTFOUND, err,
					  "var '%s': %s has no field '%s'", v->name,
					  kres_display(b, v->res), v->field_path);
		if (value->type == NODE_INT && !is_decimal(value->str))
			return kust_error(&v->lv, NULL, v->at, ERR_INVALID, err,
					  "var '%s': '%s' of %s is %s, which kustomize cannot "
					  "read as a decimal integer",
					  v->name, v->field_path, kres_display(b, v->res),
					  value->str);
		/* kustomize leaves a var whose value is a list or mapping unsubstituted */
		if (value->type != NODE_MAP && value->type != NODE_SEQ)
			map_put(&ctx->values, v->name, (void *)value);
	}
	return 0;
}

int kust_vars_resolve(struct kbuild *b, struct vec *set, struct error *err)
{
	struct vars_ctx ctx = {MAP_INIT};
	struct kres *res;
	size_t i;
	int rc;

	if (b->vars.len == 0)
		return 0;
	rc = read_var_values(b, set, &ctx, err);
	vec_foreach (set, i, res) {
		const char *kind = kres_kind(res);

		for (size_t f = 0; rc == 0 && f < ARRAY_SIZE(var_fields); f++) {
			struct kfieldspec fs = {.kind = var_fields[f].kind,
						.path = var_fields[f].path};

			if (var_fields[f].kind && strcmp(var_fields[f].kind, kind) != 0)
				continue;
			rc = kust_walk_field(b, res, &fs, expand_field, &ctx, err);
		}
		if (rc < 0)
			break;
	}
	map_release(&ctx.values, NULL);
	vec_release(&b->vars, NULL);
	return rc;
}
