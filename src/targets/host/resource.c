/*
 * Host resources: File, Directory and Symlink objects of host.plumb.dev/v1,
 * checked field by field and turned into struct host_resource. Every error
 * names the manifest, the line and column of the offending node, and the
 * object ("apps/web/site.yaml:7:9: File/index: ...").
 */
#include "host.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_GROUP   "host.plumb.dev"
#define HOST_VERSION "v1"
/* The largest spec.source file read into memory. */
#define HOST_SOURCE_MAX (1024u * 1024 * 1024)
/* The largest id accepted: (uid_t)-1 means "no change" to chown. */
#define HOST_ID_MAX 4294967294u

/* Paths longer than this are cut in messages. */
#define SHOWN_MAX 256

struct parse_ctx {
	const struct obj *obj;
	struct error *err;
};

static const char *const top_fields[] = {"apiVersion", "kind", "metadata", "spec", NULL};
static const char *const metadata_fields[] = {"name", "namespace", "labels", "annotations", NULL};
static const char *const file_fields[] = {"path",  "content", "source", "mode",
					  "owner", "group",   NULL};
static const char *const directory_fields[] = {"path", "mode", "owner", "group", "purge", NULL};
static const char *const symlink_fields[] = {"path", "target", NULL};
static const char *const *const kind_fields[] = {
	[HOST_FILE] = file_fields,
	[HOST_DIRECTORY] = directory_fields,
	[HOST_SYMLINK] = symlink_fields,
};
static const char *const kind_articles[] = {
	[HOST_FILE] = "a File",
	[HOST_DIRECTORY] = "a Directory",
	[HOST_SYMLINK] = "a Symlink",
};

const char *host_kind_name(enum host_kind kind)
{
	switch (kind) {
	case HOST_FILE:
		return "File";
	case HOST_DIRECTORY:
		return "Directory";
	case HOST_SYMLINK:
		return "Symlink";
	}
	return "unknown";
}

void host_resource_free(struct host_resource *r)
{
	if (!r)
		return;
	free(r->path);
	buf_release(&r->content);
	free(r->target);
	free(r);
}

const char *host_path_problem(const char *path, size_t len)
{
	size_t start;

	if (len == 0)
		return "must not be empty";
	if (memchr(path, '\0', len))
		return "must not contain a NUL byte";
	if (path[0] != '/')
		return "must be absolute";
	if (len == 1)
		return "is the root itself; plumb manages what is below it";
	if (len >= PATH_MAX)
		return "is longer than PATH_MAX";
	if (path[len - 1] == '/')
		return "must not end with '/'";
	/* Each component starts after a '/' and runs to the next one. */
	for (start = 1; start <= len; start++) {
		const char *end = memchr(path + start, '/', len - start);
		size_t n = end ? (size_t)(end - (path + start)) : len - start;

		if (n == 0)
			return "must not contain '//'";
		if (n == 1 && path[start] == '.')
			return "must not contain '.'";
		if (n == 2 && path[start] == '.' && path[start + 1] == '.')
			return "must not contain '..'";
		if (n > NAME_MAX)
			return "has a component longer than NAME_MAX";
		start += n;
	}
	return NULL;
}

/* "..." after a string cut at SHOWN_MAX in a message. */
static const char *ellipsis(const char *s)
{
	return strlen(s) > SHOWN_MAX ? "..." : "";
}

/* Sets err to "file:line:col: Kind/name: <message>" at node `at` (or the object). */
static int PRINTF_LIKE(4, 5)
	fail(struct parse_ctx *ctx, const struct node *at, int code, const char *fmt, ...)
{
	const struct obj *obj = ctx->obj;
	struct buf msg = BUF_INIT;
	uint32_t line = at && at->line ? at->line : obj->line;
	uint32_t col = at && at->line ? at->col : obj->col;
	va_list ap;

	buf_addf(&msg, "%s:%u:%u: %s/%s: ", obj->file, line, col, obj->id.kind, obj->id.name);
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	error_set(ctx->err, code, "%s", msg.data);
	buf_release(&msg);
	return code;
}

/* "a string", "an integer"... for "must be X, not <what>". */
static const char *what(const struct node *n)
{
	return node_type_name(n->type);
}

static bool is_allowed(const char *key, const char *const *allowed)
{
	for (size_t k = 0; allowed[k]; k++)
		if (strcmp(key, allowed[k]) == 0)
			return true;
	return false;
}

/* Refuses any key of map not in allowed, suggesting the nearest one. */
static int check_fields(struct parse_ctx *ctx, const struct node *map, const char *const *allowed,
			const char *prefix, const char *owner)
{
	for (size_t i = 0; i < map->count; i++) {
		const struct node *key = map->pairs[i].key;
		const char *best = NULL;
		size_t best_distance = 3;
		struct buf list = BUF_INIT;
		int rc;

		if (is_allowed(key->str, allowed))
			continue;
		for (size_t k = 0; allowed[k]; k++) {
			size_t d = str_distance(key->str, allowed[k]);

			if (d < best_distance) {
				best_distance = d;
				best = allowed[k];
			}
		}
		if (best)
			return fail(ctx, key, ERR_INVALID,
				    "unknown field '%s%s'; did you mean '%s%s'?", prefix, key->str,
				    prefix, best);
		for (size_t k = 0; allowed[k]; k++)
			buf_addf(&list, "%s%s", k ? ", " : "", allowed[k]);
		rc = fail(ctx, key, ERR_INVALID, "unknown field '%s%s' (%s has %s)", prefix,
			  key->str, owner, list.data);
		buf_release(&list);
		return rc;
	}
	return 0;
}

static int check_metadata(struct parse_ctx *ctx, const struct node *root)
{
	const struct node *metadata = node_get(root, "metadata");
	static const char *const maps[] = {"labels", "annotations"};
	const struct node *ns;
	int rc;

	/* render_tree has checked metadata is a mapping with a name. */
	if (!metadata || metadata->type != NODE_MAP)
		return fail(ctx, metadata, ERR_INVALID, "'metadata' must be a mapping");
	rc = check_fields(ctx, metadata, metadata_fields, "metadata.", "metadata");
	if (rc < 0)
		return rc;
	ns = node_get(metadata, "namespace");
	if (ns)
		return fail(ctx, ns, ERR_INVALID,
			    "host objects have no namespace; remove 'metadata.namespace'");
	for (size_t m = 0; m < ARRAY_SIZE(maps); m++) {
		const struct node *map = node_get(metadata, maps[m]);

		if (!map)
			continue;
		if (map->type != NODE_MAP)
			return fail(ctx, map, ERR_INVALID,
				    "'metadata.%s' must be a mapping, not %s", maps[m], what(map));
		for (size_t i = 0; i < map->count; i++) {
			const struct node *value = map->pairs[i].value;

			if (value->type != NODE_STRING)
				return fail(ctx, value, ERR_INVALID,
					    "'metadata.%s.%s' must be a string, not %s", maps[m],
					    map->pairs[i].key->str, what(value));
		}
	}
	return 0;
}

/* A string field: must be a string (and, with non_empty, not ""). NULL if absent. */
static int get_string(struct parse_ctx *ctx, const struct node *spec, const char *key,
		      bool non_empty, const struct node **out)
{
	const struct node *value = node_get(spec, key);

	*out = NULL;
	if (!value)
		return 0;
	if (value->type != NODE_STRING)
		return fail(ctx, value, ERR_INVALID, "'spec.%s' must be a string, not %s", key,
			    what(value));
	if (non_empty && value->len == 0)
		return fail(ctx, value, ERR_INVALID, "'spec.%s' must not be empty", key);
	*out = value;
	return 0;
}

static int parse_path(struct parse_ctx *ctx, const struct node *spec, struct host_resource *r)
{
	const struct node *value;
	const char *problem;
	int rc = get_string(ctx, spec, "path", false, &value);

	if (rc < 0)
		return rc;
	if (!value)
		return fail(ctx, spec, ERR_INVALID, "'spec.path' is required");
	problem = host_path_problem(value->str, value->len);
	if (problem)
		return fail(ctx, value, ERR_INVALID, "path '%.*s%s' %s", SHOWN_MAX, value->str,
			    ellipsis(value->str), problem);
	r->path = xstrndup(value->str, value->len);
	return 0;
}

/*
 * Mode: octal digits, as a string ("0644") or as YAML wrote an integer (0644,
 * 644 or 0o644: the text is read, so the digits always mean octal).
 */
static int parse_mode(struct parse_ctx *ctx, const struct node *spec, struct host_resource *r)
{
	const struct node *value = node_get(spec, "mode");
	const char *text;
	uint32_t mode = 0;
	size_t i = 0;

	if (!value)
		return 0;
	if (value->type != NODE_STRING && value->type != NODE_INT)
		return fail(ctx, value, ERR_INVALID,
			    "'spec.mode' must be octal digits such as 0644, not %s", what(value));
	text = value->str;
	if (value->len > 2 && text[0] == '0' && text[1] == 'o')
		i = 2;
	if (i == value->len)
		goto bad;
	for (; i < value->len; i++) {
		if (text[i] < '0' || text[i] > '7')
			goto bad;
		mode = mode * 8 + (uint32_t)(text[i] - '0');
		if (mode > 07777)
			goto bad;
	}
	r->has_mode = true;
	r->mode = mode;
	return 0;
bad:
	return fail(ctx, value, ERR_INVALID,
		    "mode '%s' must be octal digits between 0 and 7777, such as 0644", text);
}

/* True and *id set if s is all decimal digits and fits an id. */
static bool parse_id(const char *s, size_t len, uint32_t *id)
{
	uint64_t value = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		value = value * 10 + (uint64_t)(s[i] - '0');
		if (value > HOST_ID_MAX)
			return false;
	}
	*id = (uint32_t)value;
	return true;
}

/* Looks a user (is_group false) or group name up on this host; *found false if unknown. */
static int lookup_name(const char *name, bool is_group, uint32_t *id, bool *found)
{
	long hint = sysconf(is_group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 ? (size_t)hint : 16384;
	int rc;

	*found = false;
	for (;;) {
		char *scratch = xmalloc(size);

		if (is_group) {
			struct group grp, *result = NULL;

			rc = getgrnam_r(name, &grp, scratch, size, &result);
			if (rc == 0 && result) {
				*id = (uint32_t)result->gr_gid;
				*found = true;
			}
		} else {
			struct passwd pwd, *result = NULL;

			rc = getpwnam_r(name, &pwd, scratch, size, &result);
			if (rc == 0 && result) {
				*id = (uint32_t)result->pw_uid;
				*found = true;
			}
		}
		free(scratch);
		if (rc != ERANGE || size > 16u * 1024 * 1024)
			break;
		size *= 2;
	}
	/* Not found is reported as 0 or as one of these, depending on the NSS module. */
	if (rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
		rc = 0;
	return rc;
}

/* owner or group: a name known on this host, or a numeric id. */
static int parse_owner(struct parse_ctx *ctx, const struct node *spec, const char *key, bool *has,
		       uint32_t *id)
{
	const struct node *value = node_get(spec, key);
	bool is_group = strcmp(key, "group") == 0;
	const char *noun = is_group ? "group" : "user";
	bool found;
	int sys;

	if (!value)
		return 0;
	if (value->type == NODE_INT) {
		if (!parse_id(value->str, value->len, id))
			return fail(ctx, value, ERR_INVALID, "'spec.%s' %s is not a valid %s id",
				    key, value->str, noun);
		*has = true;
		return 0;
	}
	if (value->type != NODE_STRING)
		return fail(ctx, value, ERR_INVALID, "'spec.%s' must be a %s name or id, not %s",
			    key, noun, what(value));
	if (value->len == 0 || memchr(value->str, '\0', value->len))
		return fail(ctx, value, ERR_INVALID, "'spec.%s' must be a %s name or id", key,
			    noun);
	if (parse_id(value->str, value->len, id)) {
		*has = true;
		return 0;
	}
	sys = lookup_name(value->str, is_group, id, &found);
	if (sys)
		return fail(ctx, value, ERR_IO, "cannot look up %s '%s': %s", noun, value->str,
			    strerror(sys));
	if (!found)
		return fail(ctx, value, ERR_NOTFOUND, "%s '%s' does not exist on this host", noun,
			    value->str);
	*has = true;
	return 0;
}

/* spec.source: a file of the tree, relative to the manifest's directory. */
static int read_source(struct parse_ctx *ctx, struct tree *tree, const struct node *source,
		       struct host_resource *r)
{
	const char *slash = strrchr(ctx->obj->file, '/');
	char *dir =
		slash ? xstrndup(ctx->obj->file, (size_t)(slash - ctx->obj->file)) : xstrdup("");
	struct error inner = ERROR_INIT;
	enum tree_type type;
	char *path = NULL;
	int rc;

	if (!tree) {
		rc = fail(ctx, source, ERR_INVALID, "source '%s': no tree to read it from",
			  source->str);
		goto out;
	}
	if (memchr(source->str, '\0', source->len)) {
		rc = fail(ctx, source, ERR_INVALID, "'spec.source' must not contain a NUL byte");
		goto out;
	}
	rc = tree_path_join(dir, source->str, &path, &inner);
	if (rc < 0) {
		rc = fail(ctx, source, ERR_INVALID, "source '%s' leaves the tree", source->str);
		goto out;
	}
	rc = tree_stat(tree, path, &type, &inner);
	if (rc < 0) {
		rc = fail(ctx, source, rc, "source '%s': %s", source->str, inner.msg);
		goto out;
	}
	if (type == TREE_NONE) {
		rc = fail(ctx, source, ERR_NOTFOUND, "source '%s' not found (looked for '%s')",
			  source->str, path);
		goto out;
	}
	if (type != TREE_FILE) {
		rc = fail(ctx, source, ERR_INVALID, "source '%s' is a directory, not a file",
			  source->str);
		goto out;
	}
	buf_release(&r->content);
	buf_init(&r->content, HOST_SOURCE_MAX);
	rc = tree_read(tree, path, &r->content, &inner);
	if (rc < 0)
		rc = fail(ctx, source, rc, "source '%s': %s", source->str, inner.msg);
out:
	free(path);
	free(dir);
	return rc;
}

static int parse_file(struct parse_ctx *ctx, const struct node *spec, struct tree *tree,
		      struct host_resource *r)
{
	const struct node *content, *source;
	int rc;

	if ((rc = get_string(ctx, spec, "content", false, &content)) < 0 ||
	    (rc = get_string(ctx, spec, "source", true, &source)) < 0)
		return rc;
	if (content && source)
		return fail(ctx, source, ERR_INVALID,
			    "'spec.content' and 'spec.source' exclude each other; give one");
	if (!content && !source)
		return fail(ctx, spec, ERR_INVALID, "a File needs 'spec.content' or 'spec.source'");
	if (content) {
		buf_add(&r->content, content->str, content->len);
		return 0;
	}
	return read_source(ctx, tree, source, r);
}

static int parse_symlink(struct parse_ctx *ctx, const struct node *spec, struct host_resource *r)
{
	const struct node *target;
	int rc = get_string(ctx, spec, "target", true, &target);

	if (rc < 0)
		return rc;
	if (!target)
		return fail(ctx, spec, ERR_INVALID, "'spec.target' is required");
	if (memchr(target->str, '\0', target->len))
		return fail(ctx, target, ERR_INVALID, "'spec.target' must not contain a NUL byte");
	if (target->len >= PATH_MAX)
		return fail(ctx, target, ERR_INVALID, "'spec.target' is longer than PATH_MAX");
	r->target = xstrndup(target->str, target->len);
	return 0;
}

static int parse_kind(struct parse_ctx *ctx, const struct node *root, struct host_resource *r)
{
	const char *kind = ctx->obj->id.kind;

	if (strcmp(kind, "File") == 0)
		r->kind = HOST_FILE;
	else if (strcmp(kind, "Directory") == 0)
		r->kind = HOST_DIRECTORY;
	else if (strcmp(kind, "Symlink") == 0)
		r->kind = HOST_SYMLINK;
	else
		return fail(ctx, node_get(root, "kind"), ERR_INVALID,
			    "unknown kind '%s' of %s (known: File, Directory, Symlink)", kind,
			    HOST_API_VERSION);
	return 0;
}

int host_resource_parse(const struct obj *obj, struct tree *tree, struct host_resource **out,
			struct error *err)
{
	struct parse_ctx ctx = {obj, err};
	struct host_resource *r = xcalloc(1, sizeof(*r));
	const struct node *root = obj->root, *spec;
	int rc;

	*out = NULL;
	r->obj = obj;
	buf_init(&r->content, 0);
	if (!root || root->type != NODE_MAP) {
		rc = fail(&ctx, root, ERR_INVALID, "an object must be a mapping");
		goto out;
	}
	if (strcmp(obj->id.group, HOST_GROUP) != 0 || strcmp(obj->id.version, HOST_VERSION) != 0) {
		rc = fail(&ctx, node_get(root, "apiVersion"), ERR_INVALID, "apiVersion must be %s",
			  HOST_API_VERSION);
		goto out;
	}
	if ((rc = parse_kind(&ctx, root, r)) < 0 ||
	    (rc = check_fields(&ctx, root, top_fields, "", "an object")) < 0 ||
	    (rc = check_metadata(&ctx, root)) < 0)
		goto out;
	spec = node_get(root, "spec");
	if (!spec) {
		rc = fail(&ctx, root, ERR_INVALID, "object has no 'spec'");
		goto out;
	}
	if (spec->type != NODE_MAP) {
		rc = fail(&ctx, spec, ERR_INVALID, "'spec' must be a mapping, not %s", what(spec));
		goto out;
	}
	rc = check_fields(&ctx, spec, kind_fields[r->kind], "spec.", kind_articles[r->kind]);
	if (rc == 0)
		rc = parse_path(&ctx, spec, r);
	if (rc < 0)
		goto out;

	switch (r->kind) {
	case HOST_FILE:
		if ((rc = parse_mode(&ctx, spec, r)) < 0 ||
		    (rc = parse_owner(&ctx, spec, "owner", &r->has_uid, &r->uid)) < 0 ||
		    (rc = parse_owner(&ctx, spec, "group", &r->has_gid, &r->gid)) < 0)
			goto out;
		rc = parse_file(&ctx, spec, tree, r);
		break;
	case HOST_DIRECTORY: {
		const struct node *purge = node_get(spec, "purge");

		if ((rc = parse_mode(&ctx, spec, r)) < 0 ||
		    (rc = parse_owner(&ctx, spec, "owner", &r->has_uid, &r->uid)) < 0 ||
		    (rc = parse_owner(&ctx, spec, "group", &r->has_gid, &r->gid)) < 0)
			goto out;
		if (purge && purge->type != NODE_BOOL) {
			rc = fail(&ctx, purge, ERR_INVALID,
				  "'spec.purge' must be true or false, not %s", what(purge));
			goto out;
		}
		r->purge = purge && purge->as.boolean;
		break;
	}
	case HOST_SYMLINK:
		rc = parse_symlink(&ctx, spec, r);
		break;
	}
out:
	if (rc < 0) {
		host_resource_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
