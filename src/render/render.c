/*
 * Plain-manifest rendering: walk the path, parse each manifest file, check each
 * document is an object, give it its identity, location and hash, and refuse
 * duplicates. Errors are gathered (struct error_list) so that one run shows
 * every broken file, not just the first.
 */
#include "kust_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RENDER_FILE_MAX (64u * 1024 * 1024)

struct render_ctx {
	struct tree *tree;
	const struct render_opts *opts;
	struct objset *set;
	struct ignore *ignores;
	struct vec files;	   /* char *, manifest paths */
	struct vec kustomizations; /* char *, directories holding one */
	struct error_list problems;
};

#define report(ctx, ...) error_list_add(&(ctx)->problems, __VA_ARGS__)

static bool is_manifest_name(const char *name)
{
	struct str s = str_from(name);

	return str_has_suffix(s, ".yaml") || str_has_suffix(s, ".yml") ||
	       str_has_suffix(s, ".json");
}

static char *child_path(const char *dir, const char *name)
{
	return *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

/* Collects manifest files below dir into ctx->files; fails on tree errors. */
static int walk(struct render_ctx *ctx, const char *dir, struct error *err)
{
	struct vec entries = VEC_INIT;
	struct tree_entry *e;
	size_t i;
	int rc;

	/* a kustomization is built as a whole, by the kustomize engine */
	if (kust_dir_has_kustomization(ctx->tree, dir)) {
		vec_push(&ctx->kustomizations, xstrdup(dir));
		return 0;
	}
	if ((rc = tree_list(ctx->tree, dir, &entries, err)) < 0)
		goto out;
	vec_foreach (&entries, i, e) {
		if (e->type != TREE_FILE)
			continue;
		if (strcmp(e->name, ".plumbignore") == 0) {
			struct buf text = BUF_INIT;
			char *where = child_path(dir, e->name);

			buf_init(&text, 1024 * 1024);
			rc = tree_read(ctx->tree, where, &text, err);
			if (rc == 0)
				ignore_add(&ctx->ignores, dir, text.data, text.len);
			buf_release(&text);
			free(where);
			if (rc < 0)
				goto out;
		}
	}
	vec_foreach (&entries, i, e) {
		char *path;

		if (e->type == TREE_NONE || (e->type == TREE_DIR && strcmp(e->name, ".git") == 0))
			continue;
		path = child_path(dir, e->name);
		if (ignore_match(ctx->ignores, path, e->type == TREE_DIR)) {
			free(path);
			continue;
		}
		if (e->type == TREE_DIR) {
			rc = walk(ctx, path, err);
			free(path);
			if (rc < 0)
				goto out;
		} else if (is_manifest_name(e->name)) {
			vec_push(&ctx->files, path);
		} else {
			free(path);
		}
	}
out:
	tree_entries_release(&entries);
	return rc;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A required, non-empty string field; reports and returns NULL if it is not one. */
static const char *required_string(struct render_ctx *ctx, const char *file, const struct node *at,
				   const struct node *map, const char *key, const char *field)
{
	const struct node *value = node_get(map, key);

	if (!value) {
		report(ctx, ERR_INVALID, "%s:%u:%u: object has no '%s'", file, at->line, at->col,
		       field);
		return NULL;
	}
	if (value->type != NODE_STRING || value->len == 0) {
		report(ctx, ERR_INVALID, "%s:%u:%u: '%s' must be a non-empty string, not %s", file,
		       value->line, value->col, field,
		       value->type == NODE_STRING ? "an empty string"
						  : node_type_name(value->type));
		return NULL;
	}
	return value->str;
}

/* Adds one document to the set, if it is a valid object with a new identity. */
static void add_object(struct render_ctx *ctx, const char *file, struct node *root)
{
	struct objset *set = ctx->set;
	const char *api_version, *kind, *name, *namespace = "";
	const struct node *metadata, *ns;
	struct obj *obj, *other;
	struct buf canonical = BUF_INIT;
	const char *slash;
	char *key;

	if (root->type != NODE_MAP) {
		report(ctx, ERR_INVALID, "%s:%u:%u: a manifest must be a mapping, not %s", file,
		       root->line, root->col, node_type_name(root->type));
		return;
	}
	api_version = required_string(ctx, file, root, root, "apiVersion", "apiVersion");
	kind = required_string(ctx, file, root, root, "kind", "kind");
	metadata = node_get(root, "metadata");
	if (!metadata || metadata->type != NODE_MAP) {
		if (metadata)
			report(ctx, ERR_INVALID, "%s:%u:%u: 'metadata' must be a mapping, not %s",
			       file, metadata->line, metadata->col, node_type_name(metadata->type));
		else
			report(ctx, ERR_INVALID, "%s:%u:%u: object has no 'metadata.name'", file,
			       root->line, root->col);
		return;
	}
	name = required_string(ctx, file, root, metadata, "name", "metadata.name");
	ns = node_get(metadata, "namespace");
	if (ns && ns->type != NODE_NULL) {
		namespace = required_string(ctx, file, root, metadata, "namespace",
					    "metadata.namespace");
	}
	if (!api_version || !kind || !name || !namespace)
		return;

	obj = arena_alloc(&set->arena, sizeof(*obj));
	slash = strchr(api_version, '/');
	obj->id.group =
		slash ? arena_strndup(&set->arena, api_version, (size_t)(slash - api_version)) : "";
	obj->id.version = slash ? slash + 1 : api_version;
	obj->id.kind = kind;
	obj->id.namespace = namespace;
	obj->id.name = name;
	obj->file = file;
	obj->line = root->line;
	obj->col = root->col;
	obj->root = root;
	if (slash && (!obj->id.group[0] || !obj->id.version[0] || strchr(obj->id.version, '/'))) {
		report(ctx, ERR_INVALID,
		       "%s:%u:%u: apiVersion '%s' is not 'group/version' or 'version'", file,
		       root->line, root->col, api_version);
		return;
	}
	node_canonical_json(root, &canonical);
	sha256(canonical.data, canonical.len, obj->hash);
	buf_release(&canonical);

	key = obj_id_key(&obj->id);
	other = map_get(&set->by_id, key);
	if (other) {
		char *display = obj_id_display(&obj->id);

		report(ctx, ERR_CONFLICT, "%s:%u: duplicate object %s: already defined at %s:%u",
		       file, obj->line, display, other->file, other->line);
		free(display);
	} else {
		map_put(&set->by_id, key, obj);
		vec_push(&set->objs, obj);
	}
	free(key);
}

/* `kind: List` documents (as kubectl writes them) contribute their items. */
static void add_document(struct render_ctx *ctx, const char *file, struct node *root)
{
	const struct node *kind = node_get(root, "kind");
	const struct node *api_version = node_get(root, "apiVersion");
	const struct node *items = node_get(root, "items");

	if (kind && api_version && items && items->type == NODE_SEQ && node_string(kind) &&
	    strcmp(node_string(kind), "List") == 0 && node_string(api_version) &&
	    strcmp(node_string(api_version), "v1") == 0) {
		for (size_t i = 0; i < items->count; i++)
			add_object(ctx, file, items->items[i]);
		return;
	}
	add_object(ctx, file, root);
}

static int render_file(struct render_ctx *ctx, const char *path, struct error *err)
{
	struct buf content = BUF_INIT;
	struct vec docs = VEC_INIT;
	struct error parse_err = ERROR_INIT;
	struct yaml_opts yopts = {0};
	const char *file = arena_strdup(&ctx->set->arena, path);
	size_t i;
	struct yaml_doc *doc;
	int rc;

	buf_init(&content, ctx->opts && ctx->opts->max_file_bytes ? ctx->opts->max_file_bytes
								  : RENDER_FILE_MAX);
	rc = tree_read(ctx->tree, path, &content, err);
	if (rc == ERR_TOOBIG) {
		report(ctx, rc, "%s: file is larger than %zu bytes", path, content.max);
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	yopts.max_bytes = content.max;
	if (yaml_parse(&ctx->set->arena, file, content.data, content.len, &yopts, &docs,
		       &parse_err) < 0) {
		report(ctx, parse_err.code, "%s", parse_err.msg);
		goto out;
	}
	vec_foreach (&docs, i, doc)
		add_document(ctx, file, doc->root);
out:
	vec_release(&docs, NULL);
	buf_release(&content);
	return rc;
}

int render_tree(struct tree *tree, const char *path, const struct render_opts *opts,
		struct objset **out, struct error *err)
{
	struct render_ctx ctx = {.tree = tree, .opts = opts, .files = VEC_INIT};
	enum tree_type type;
	char *top = NULL, *file;
	size_t i;
	int rc;

	*out = NULL;
	ctx.set = xcalloc(1, sizeof(*ctx.set));
	rc = tree_path_join("", path ? path : "", &top, err);
	if (rc < 0)
		goto out;
	rc = tree_stat(tree, top, &type, err);
	if (rc < 0)
		goto out;
	if (type == TREE_NONE) {
		rc = error_set(err, ERR_NOTFOUND, "path '%s' not found in '%s'", *top ? top : ".",
			       tree->label);
		goto out;
	}
	if (type == TREE_FILE)
		vec_push(&ctx.files, xstrdup(top));
	else if ((rc = walk(&ctx, top, err)) < 0)
		goto out;
	vec_sort(&ctx.files, path_cmp);
	vec_foreach (&ctx.files, i, file) {
		rc = render_file(&ctx, file, err);
		if (rc < 0)
			goto out;
	}
	if ((rc = error_list_finish(&ctx.problems, err)) < 0)
		goto out;
	if (ctx.files.len == 0 && ctx.kustomizations.len == 1 &&
	    strcmp(ctx.kustomizations.items[0], top) == 0)
		ctx.set->emit_flags = YAML_EMIT_KUSTOMIZE;
	vec_foreach (&ctx.kustomizations, i, file) {
		if ((rc = kust_build(tree, file, opts, ctx.set, err)) < 0)
			goto out;
	}
	*out = ctx.set;
	ctx.set = NULL;
out:
	objset_free(ctx.set);
	vec_release(&ctx.files, free);
	vec_release(&ctx.kustomizations, free);
	ignore_free(ctx.ignores);
	error_list_finish(&ctx.problems, NULL);
	free(top);
	return rc;
}

/* The top of the Git work tree holding dir (an absolute path), else "/". */
static char *work_tree_top(const char *dir)
{
	char *top = xstrdup(dir);

	for (;;) {
		char *git = xasprintf("%s/.git", top);
		char *slash;
		bool found = access(git, F_OK) == 0;

		free(git);
		if (found)
			return top;
		slash = strrchr(top, '/');
		if (!slash || slash == top)
			break;
		*slash = '\0';
	}
	free(top);
	return xstrdup("/");
}

int render_open_local(const char *dir, struct tree **tree, char **path, struct error *err)
{
	char *real, *top;
	int rc;

	*tree = NULL;
	*path = NULL;
	if ((rc = tree_open_dir(tree, dir, err)) < 0)
		return rc;
	if (!kust_dir_has_kustomization(*tree, ""))
		return 0;
	tree_free(*tree);
	*tree = NULL;
	if (!(real = realpath(dir, NULL)))
		return error_errno(err, "cannot open directory '%s'", dir);
	top = work_tree_top(real);
	rc = tree_open_dir(tree, top, err);
	if (rc == 0) {
		size_t n = strlen(top);

		*path = xstrdup(real[n] == '/' ? real + n + 1 : real + n);
	}
	free(top);
	free(real);
	return rc;
}
