/*
 * Host plans: parse and check every desired resource, observe what is live,
 * compare, and order the changes (parents first; deletes deepest first).
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plan_ctx {
	struct error_list problems;
};

#define plan_report(ctx, ...) error_list_add(&(ctx)->problems, __VA_ARGS__)

const char *action_name(enum action action)
{
	static const char *const names[] = {"unchanged", "create", "update", "delete"};

	return names[action];
}

void change_free(void *p)
{
	struct change *c = p;

	free(c->key);
	free(c->display);
	free(c->path);
	host_resource_free(c->resource);
	free(c->url);
	free(c->body);
	buf_release(&c->summary);
	buf_release(&c->diff);
	free(c);
}

void plan_release(struct plan *plan)
{
	vec_release(&plan->changes, change_free);
	memset(plan, 0, sizeof(*plan));
}

bool plan_has_changes(const struct plan *plan)
{
	return plan->counts[ACTION_CREATE] || plan->counts[ACTION_UPDATE] ||
	       plan->counts[ACTION_DELETE];
}

/* The hash of what the host should hold for r: kind, path, content, link, mode, owner. */
static void resource_hash(const struct host_resource *r, char out[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_LEN];
	char fields[128];
	int n;

	sha256_init(&ctx);
	n = snprintf(fields, sizeof(fields), "%d\n%d:%o\n%d:%u\n%d:%u\n%d\n", (int)r->kind,
		     r->has_mode, r->has_mode ? r->mode : 0, r->has_uid, r->has_uid ? r->uid : 0,
		     r->has_gid, r->has_gid ? r->gid : 0, r->purge);
	sha256_update(&ctx, fields, (size_t)n);
	sha256_update(&ctx, r->path, strlen(r->path) + 1);
	if (r->target)
		sha256_update(&ctx, r->target, strlen(r->target) + 1);
	sha256_update(&ctx, r->content.data, r->content.len);
	sha256_final(&ctx, digest);
	hex_encode(digest, SHA256_LEN, out);
}

static const char *live_type_name(enum host_live_type type)
{
	switch (type) {
	case LIVE_NONE:
		return "nothing";
	case LIVE_FILE:
		return "a file";
	case LIVE_DIR:
		return "a directory";
	case LIVE_SYMLINK:
		return "a symlink";
	default:
		return "a special file";
	}
}

static void add_summary(struct change *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void add_summary(struct change *c, const char *fmt, ...)
{
	va_list ap;

	if (c->summary.len)
		buf_addstr(&c->summary, ", ");
	va_start(ap, fmt);
	buf_vaddf(&c->summary, fmt, ap);
	va_end(ap);
}

/* Compares one desired resource with the live path; sets action, summary and diff. */
static int compare(struct host_target *target, struct change *c, struct plan_ctx *ctx,
		   struct error *err)
{
	const struct host_resource *r = c->resource;
	struct host_live live = {0};
	struct error oerr = ERROR_INIT;
	int rc = host_observe(target, r->path, r->kind == HOST_FILE, &live, &oerr);

	if (rc == ERR_INVALID) {
		plan_report(ctx, rc, "%s:%u: %s: %s", r->obj->file, r->obj->line, c->display,
			    oerr.msg);
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		error_set(err, rc, "%s", oerr.msg);
		goto out;
	}
	if (live.type == LIVE_NONE) {
		c->action = ACTION_CREATE;
		goto out;
	}
	bool wrong_type = live.type == LIVE_OTHER ||
			  (r->kind == HOST_DIRECTORY && live.type != LIVE_DIR) ||
			  (r->kind != HOST_DIRECTORY && live.type == LIVE_DIR);

	if (wrong_type) {
		plan_report(ctx, ERR_CONFLICT,
			    "%s:%u: %s: '%s' is %s on the host; plumb will not replace it with "
			    "a %s",
			    r->obj->file, r->obj->line, c->display, r->path,
			    live_type_name(live.type), host_kind_name(r->kind));
		goto out;
	}
	if (!c->inventory || strcmp(c->inventory->path, r->path) != 0)
		c->take_over = true;
	if (r->kind == HOST_FILE) {
		if (live.type == LIVE_SYMLINK) {
			add_summary(c, "symlink to '%s' becomes a file", live.content.data);
		} else if (live.content.len != r->content.len ||
			   memcmp(live.content.data, r->content.data, r->content.len) != 0) {
			char *from = xasprintf("%s (live)", r->path);
			char *to = xasprintf("%s (%s:%u)", r->path, r->obj->file, r->obj->line);

			add_summary(c, "content");
			if (memchr(live.content.data, '\0', live.content.len) ||
			    memchr(r->content.data, '\0', r->content.len))
				buf_addf(&c->diff, "binary content differs (%llu -> %zu bytes)\n",
					 (unsigned long long)live.size, r->content.len);
			else
				udiff(live.content.data, live.content.len, r->content.data,
				      r->content.len, from, to, 3, &c->diff);
			free(from);
			free(to);
		}
	} else if (r->kind == HOST_SYMLINK) {
		if (live.type != LIVE_SYMLINK)
			add_summary(c, "%s becomes a symlink", live_type_name(live.type));
		else if (strcmp(live.content.data ? live.content.data : "", r->target) != 0)
			add_summary(c, "target '%s' -> '%s'", live.content.data, r->target);
	}
	if (r->kind != HOST_SYMLINK && live.type != LIVE_SYMLINK) {
		if (r->has_mode && live.mode != r->mode)
			add_summary(c, "mode %04o -> %04o", live.mode, r->mode);
		if (r->has_uid && live.uid != r->uid)
			add_summary(c, "owner %u -> %u", live.uid, r->uid);
		if (r->has_gid && live.gid != r->gid)
			add_summary(c, "group %u -> %u", live.gid, r->gid);
	}
	c->action = c->summary.len ? ACTION_UPDATE : ACTION_UNCHANGED;
out:
	host_live_release(&live);
	return rc;
}

static int apply_order(const void *a, const void *b)
{
	const struct change *ca = *(const struct change *const *)a;
	const struct change *cb = *(const struct change *const *)b;
	bool da = ca->action == ACTION_DELETE, db = cb->action == ACTION_DELETE;

	if (da != db)
		return da ? 1 : -1;
	/* parents before children; deletes the other way round */
	return da ? strcmp(cb->path, ca->path) : strcmp(ca->path, cb->path);
}

static struct change *new_change(const char *key, const char *display, const char *path)
{
	struct change *c = xcalloc(1, sizeof(*c));

	c->key = xstrdup(key);
	c->display = xstrdup(display);
	c->path = xstrdup(path);
	return c;
}

static int kind_from_name(const char *name, enum host_kind *out)
{
	static const enum host_kind kinds[] = {HOST_FILE, HOST_DIRECTORY, HOST_SYMLINK};

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (strcmp(host_kind_name(kinds[i]), name) == 0) {
			*out = kinds[i];
			return 0;
		}
	}
	return ERR_INVALID;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks that each resource's parent directory exists or is declared. */
static int check_parents(struct host_target *target, struct plan *plan, struct map *by_path,
			 struct plan_ctx *ctx, struct error *err)
{
	struct change *c;
	size_t i;

	vec_foreach (&plan->changes, i, c) {
		char *parent = xstrdup(c->path);
		char *slash = strrchr(parent, '/');
		struct change *declared;
		struct host_live live = {0};
		struct error oerr = ERROR_INIT;
		int rc;

		*(slash == parent ? slash + 1 : slash) = '\0';
		declared = map_get(by_path, parent);
		if (strcmp(parent, "/") == 0 ||
		    (declared && declared->resource->kind == HOST_DIRECTORY)) {
			free(parent);
			continue;
		}
		rc = host_observe(target, parent, false, &live, &oerr);
		if (rc == ERR_INVALID) {
			plan_report(ctx, rc, "%s:%u: %s: %s", c->desired->file, c->desired->line,
				    c->display, oerr.msg);
		} else if (rc < 0) {
			error_set(err, rc, "%s", oerr.msg);
			host_live_release(&live);
			free(parent);
			return rc;
		} else if (live.type != LIVE_DIR && !declared) {
			plan_report(ctx, ERR_NOTFOUND,
				    "%s:%u: %s: parent directory '%s' of '%s' %s; declare a "
				    "Directory for it",
				    c->desired->file, c->desired->line, c->display, parent, c->path,
				    live.type == LIVE_NONE ? "does not exist"
							   : "is not a directory");
		} else if (declared && declared->resource->kind != HOST_DIRECTORY) {
			plan_report(ctx, ERR_CONFLICT, "%s:%u: %s: parent '%s' is declared as a %s",
				    c->desired->file, c->desired->line, c->display, parent,
				    host_kind_name(declared->resource->kind));
		}
		host_live_release(&live);
		free(parent);
	}
	return 0;
}

int plan_build_host(struct host_target *target, const struct objset *desired, struct tree *tree,
		    const struct vec *inventory, const struct plan_opts *opts, struct plan *out,
		    struct error *err)
{
	struct plan_ctx ctx = {0};
	struct map by_path = MAP_INIT, by_key = MAP_INIT, inv_by_key = MAP_INIT;
	struct map inv_by_path = MAP_INIT;
	struct vec managed = VEC_INIT;
	struct inventory_entry *inv;
	struct obj *obj;
	struct change *c;
	size_t i, n_desired;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	vec_foreach (inventory, i, inv) {
		map_put(&inv_by_key, inv->key, inv);
		map_put(&inv_by_path, inv->path, inv);
	}

	/* 1. every object must be a valid host resource with a path of its own */
	vec_foreach (&desired->objs, i, obj) {
		struct host_resource *r = NULL;
		struct error perr = ERROR_INIT;
		char *key = obj_id_key(&obj->id), *display = obj_id_display(&obj->id);

		if (host_resource_parse(obj, tree, &r, &perr) < 0) {
			plan_report(&ctx, perr.code, "%s", perr.msg);
		} else if ((c = map_get(&by_path, r->path))) {
			plan_report(&ctx, ERR_CONFLICT,
				    "%s:%u: %s: path '%s' is also declared by %s at %s:%u",
				    obj->file, obj->line, display, r->path, c->display,
				    c->desired->file, c->desired->line);
			host_resource_free(r);
		} else {
			c = new_change(key, display, r->path);
			c->desired = obj;
			c->resource = r;
			c->kind = r->kind;
			c->inventory = map_get(&inv_by_key, key);
			resource_hash(r, c->hash);
			vec_push(&out->changes, c);
			map_put(&by_path, c->path, c);
			map_put(&by_key, key, c);
			vec_push(&managed, c->path);
		}
		free(key);
		free(display);
	}
	if (ctx.problems.count)
		goto done;
	if ((rc = check_parents(target, out, &by_path, &ctx, err)) < 0)
		goto done;

	/* 2. compare each with what is live */
	n_desired = out->changes.len;
	for (i = 0; i < n_desired; i++) {
		c = out->changes.items[i];
		if ((rc = compare(target, c, &ctx, err)) < 0)
			goto done;
	}

	/* 3. prune: managed before, not desired now (or desired at another path) */
	vec_foreach (inventory, i, inv) {
		struct change *now = map_get(&by_key, inv->key);
		enum host_kind kind;

		if (now && strcmp(now->path, inv->path) == 0)
			continue;
		if (kind_from_name(inv->kind, &kind) < 0)
			continue;
		char *display = xasprintf("%s/%s", inv->kind, inv->name);

		c = new_change(inv->key, display, inv->path);
		free(display);
		c->kind = kind;
		c->inventory = inv;
		c->moved = now != NULL;
		if (map_get(&by_path, inv->path)) {
			/* another object claims the old path now: nothing to remove */
			change_free(c);
			continue;
		}
		if (opts->prune || c->moved) {
			c->action = ACTION_DELETE;
		} else {
			c->orphan = true;
			c->action = ACTION_UNCHANGED;
			out->orphans++;
		}
		vec_push(&out->changes, c);
	}

	/* 4. purge: unmanaged entries of Directories that ask for it */
	vec_sort(&managed, cmp_cstr);
	for (i = 0; i < n_desired; i++) {
		struct vec extra = VEC_INIT;
		struct error perr = ERROR_INIT;
		const char *path;
		size_t k;

		c = out->changes.items[i];
		if (c->kind != HOST_DIRECTORY || !c->resource->purge || c->action == ACTION_CREATE)
			continue;
		if (host_purge(target, c->resource, &managed, true, &extra, &perr) < 0) {
			plan_report(&ctx, perr.code, "%s:%u: %s: %s", c->desired->file,
				    c->desired->line, c->display, perr.msg);
		}
		vec_foreach (&extra, k, path) {
			struct change *p;

			if (map_has(&inv_by_path, path))
				continue; /* managed before: pruning decides */
			p = new_change("", "(unmanaged)", path);

			p->action = ACTION_DELETE;
			p->purge_entry = true;
			p->desired = c->desired;
			add_summary(p, "purged from %s", c->path);
			vec_push(&out->changes, p);
		}
		vec_release(&extra, free);
	}
done:
	if (rc == 0)
		rc = error_list_finish(&ctx.problems, err);
	if (rc < 0) {
		plan_release(out);
	} else {
		vec_sort(&out->changes, apply_order);
		vec_foreach (&out->changes, i, c)
			if (!c->orphan)
				out->counts[c->action]++;
	}
	vec_release(&managed, NULL);
	map_release(&by_path, NULL);
	map_release(&by_key, NULL);
	map_release(&inv_by_key, NULL);
	map_release(&inv_by_path, NULL);
	error_list_finish(&ctx.problems, NULL);
	return rc;
}

/* ---- output ---- */

static const char *action_symbol(const struct change *c)
{
	if (c->orphan)
		return "!";
	switch (c->action) {
	case ACTION_CREATE:
		return "+";
	case ACTION_UPDATE:
		return "~";
	case ACTION_DELETE:
		return "-";
	default:
		return " ";
	}
}

void plan_print(const struct plan *plan, bool diffs, bool color, struct buf *out)
{
	static const char *const colors[] = {"", "\033[32m", "\033[33m", "\033[31m"};
	const char *reset = color ? "\033[0m" : "";
	struct change *c;
	size_t i;

	vec_foreach (&plan->changes, i, c) {
		const char *col = color ? (c->orphan ? "\033[35m" : colors[c->action]) : "";
		const char *what = c->orphan ? "orphan" : action_name(c->action);

		/* unchanged objects are only counted, unless plumb takes them over */
		if (c->action == ACTION_UNCHANGED && !c->orphan && !c->take_over)
			continue;
		buf_addf(out, "%s%s %-9s %-28s %s%s", col, action_symbol(c), what, c->display,
			 c->path, reset);
		if (c->summary.len)
			buf_addf(out, "  (%s)", c->summary.data);
		else if (c->orphan)
			buf_addstr(out, "  (no longer in Git; kept because pruning is off)");
		else if (c->take_over && c->action != ACTION_DELETE)
			buf_addstr(out, "  (taken over: the original is kept)");
		else if (c->moved)
			buf_addstr(out, "  (old path of a moved object)");
		buf_addch(out, '\n');
		if (diffs && c->diff.len) {
			struct str rest = str_make(c->diff.data, c->diff.len), line;

			while (rest.len) {
				str_cut(rest, '\n', &line, &rest);
				const char *lc = "";

				if (color && line.len && line.ptr[0] == '+' &&
				    !str_has_prefix(line, "+++"))
					lc = "\033[32m";
				else if (color && line.len && line.ptr[0] == '-' &&
					 !str_has_prefix(line, "---"))
					lc = "\033[31m";
				else if (color && str_has_prefix(line, "@@"))
					lc = "\033[36m";
				buf_addf(out, "    %s%.*s%s\n", lc, (int)line.len, line.ptr,
					 *lc ? reset : "");
			}
		}
	}
	buf_addf(out, "%u to create, %u to update, %u to delete, %u unchanged", plan->counts[1],
		 plan->counts[2], plan->counts[3], plan->counts[0]);
	if (plan->orphans)
		buf_addf(out, ", %u orphaned (not pruned)", plan->orphans);
	buf_addch(out, '\n');
}

static void json_field(struct buf *out, const char *key, const char *value, bool comma)
{
	if (comma)
		buf_addch(out, ',');
	buf_add_json_string(out, key, strlen(key));
	buf_addch(out, ':');
	buf_add_json_string(out, value ? value : "", value ? strlen(value) : 0);
}

void plan_json(const struct plan *plan, struct buf *out)
{
	struct change *c;
	size_t i;

	buf_addch(out, '[');
	vec_foreach (&plan->changes, i, c) {
		char *source = c->desired && !c->purge_entry
				       ? xasprintf("%s:%u", c->desired->file, c->desired->line)
				       : xstrdup("");

		buf_addstr(out, i ? ",{" : "{");
		json_field(out, "action", c->orphan ? "orphan" : action_name(c->action), false);
		if (c->kube) {
			/* "Deployment/web": the kind is what precedes the name */
			char *kind = xstrndup(c->display, strcspn(c->display, "/"));

			json_field(out, "kind", kind, true);
			free(kind);
		} else {
			json_field(out, "kind", c->purge_entry ? "" : host_kind_name(c->kind),
				   true);
		}
		json_field(out, "object", c->display, true);
		json_field(out, "key", c->key, true);
		json_field(out, "path", c->path, true);
		if (c->kube)
			json_field(out, "namespace", c->path, true);
		json_field(out, "summary", c->summary.data, true);
		json_field(out, "diff", c->diff.data, true);
		json_field(out, "source", source, true);
		buf_addf(out, ",\"takeOver\":%s}", c->take_over ? "true" : "false");
		free(source);
	}
	buf_addch(out, ']');
}
