/* Applications from YAML files, stored JSON, or command-line flags. */
#include "app.h"

#include "yaml/yaml.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define APP_API_VERSION "plumb.dev/v1"
/* What an application name may hold: it names a lock file and appears in logs. */
#define APP_NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-._"
#define APP_FILE_MAX   (4u * 1024 * 1024)

struct app_ctx {
	const char *file;
	char *dir; /* the file's directory, absolute; NULL for stored applications */
	struct error_list problems;
};

static void PRINTF_LIKE(3, 4)
	app_report(struct app_ctx *ctx, const struct node *at, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	error_list_add(&ctx->problems, ERR_INVALID, "%s:%u:%u: %s", ctx->file, at ? at->line : 0,
		       at ? at->col : 0, msg.data);
	buf_release(&msg);
}

/* Reports every key of map not in allowed (NULL-terminated); false if map is not a mapping. */
static bool check_fields(struct app_ctx *ctx, const struct node *map, const char *where,
			 const char *const *allowed)
{
	if (!map)
		return false;
	if (map->type != NODE_MAP) {
		app_report(ctx, map, "'%s' must be a mapping, not %s", where,
			   node_type_name(map->type));
		return false;
	}
	for (size_t i = 0; i < map->count; i++) {
		const struct node *key = map->pairs[i].key;
		bool known = false;

		for (const char *const *a = allowed; *a; a++)
			if (strcmp(key->str, *a) == 0)
				known = true;
		if (!known) {
			struct buf list = BUF_INIT;

			for (const char *const *a = allowed; *a; a++)
				buf_addf(&list, "%s%s", a == allowed ? "" : ", ", *a);
			app_report(ctx, key, "unknown field '%s' in '%s' (known: %s)", key->str,
				   where, list.data);
			buf_release(&list);
		}
	}
	return true;
}

static const char *get_string(struct app_ctx *ctx, const struct node *map, const char *key,
			      const char *where, bool required)
{
	const struct node *v = node_get(map, key);

	if (!v || v->type == NODE_NULL) {
		if (required)
			app_report(ctx, map, "'%s.%s' is required", where, key);
		return NULL;
	}
	if (v->type != NODE_STRING) {
		app_report(ctx, v, "'%s.%s' must be a string, not %s", where, key,
			   node_type_name(v->type));
		return NULL;
	}
	return v->str;
}

static bool get_bool(struct app_ctx *ctx, const struct node *map, const char *key,
		     const char *where, bool fallback)
{
	const struct node *v = node_get(map, key);

	if (!v || v->type == NODE_NULL)
		return fallback;
	if (v->type != NODE_BOOL) {
		app_report(ctx, v, "'%s.%s' must be true or false", where, key);
		return fallback;
	}
	return v->as.boolean;
}

static uint64_t get_duration(struct app_ctx *ctx, const struct node *map, const char *key,
			     const char *where, uint64_t fallback)
{
	const struct node *v = node_get(map, key);
	uint64_t ms;

	if (!v || v->type == NODE_NULL)
		return fallback;
	if (v->type != NODE_STRING || parse_duration(v->str, &ms) < 0) {
		app_report(ctx, v, "'%s.%s' must be a duration such as 30s, 5m or 1h30m", where,
			   key);
		return fallback;
	}
	return ms;
}

int parse_duration(const char *s, uint64_t *out_ms)
{
	uint64_t total = 0;
	const char *p = s;

	if (!*p)
		return ERR_INVALID;
	while (*p) {
		uint64_t n = 0, unit;
		const char *start = p;

		while (isdigit((unsigned char)*p)) {
			uint64_t digit = (uint64_t)(*p++ - '0');

			if (n > (UINT64_MAX - digit) / 10)
				return ERR_INVALID;
			n = n * 10 + digit;
		}
		if (p == start)
			return ERR_INVALID;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else {
			return ERR_INVALID;
		}
		if (n > (UINT64_MAX - total) / unit)
			return ERR_INVALID;
		total += n * unit;
	}
	*out_ms = total;
	return 0;
}

static void app_defaults(struct app *app)
{
	app->ref_kind = REF_DEFAULT;
	app->interval_ms = 60 * 1000;
	app->root = xstrdup("/");
	app->path = xstrdup("");
	app->retry_limit = 5;
	app->retry_backoff_ms = 5000;
	app->retry_factor = 2.0;
	app->retry_max_backoff_ms = 3 * 60 * 1000;
	app->health_timeout_ms = 5 * 60 * 1000;
	app->force_conflicts = true;
}

static void parse_ref(struct app_ctx *ctx, const struct node *ref, struct app *app)
{
	static const char *const fields[] = {"branch", "tag", "semver", "commit", "name", NULL};
	static const enum ref_kind kinds[] = {REF_BRANCH, REF_TAG, REF_SEMVER, REF_COMMIT,
					      REF_AUTO};
	unsigned given = 0;

	if (!check_fields(ctx, ref, "spec.source.ref", fields))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		const char *value = get_string(ctx, ref, fields[i], "spec.source.ref", false);

		if (!value)
			continue;
		if (!*value)
			app_report(ctx, node_get(ref, fields[i]), "'spec.source.ref.%s' is empty",
				   fields[i]);
		given++;
		app->ref_kind = kinds[i];
		free(app->ref_value);
		app->ref_value = xstrdup(value);
	}
	if (given > 1)
		app_report(ctx, ref,
			   "give one of branch, tag, semver, commit or name in 'spec.source.ref'");
}

/* destination.kubernetes: a relative kubeconfig is taken from the file's directory. */
static void parse_kube(struct app_ctx *ctx, const struct node *n, struct app *app)
{
	const char *where = "spec.destination.kubernetes";
	const char *s;

	app->kube = true;
	if ((s = get_string(ctx, n, "kubeconfig", where, false))) {
		if (!*s) {
			app_report(ctx, node_get(n, "kubeconfig"), "'%s.kubeconfig' is empty",
				   where);
		} else if (s[0] == '/' || !ctx->dir) {
			app->kubeconfig = xstrdup(s);
		} else {
			app->kubeconfig = xasprintf("%s/%s", ctx->dir, s);
		}
	}
	if ((s = get_string(ctx, n, "context", where, false)))
		app->kube_context = xstrdup(s);
	if ((s = get_string(ctx, n, "namespace", where, false))) {
		if (!*s || strlen(s) > 63 ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s))
			app_report(ctx, node_get(n, "namespace"),
				   "'%s.namespace' must be a namespace name (a-z, 0-9, '-')",
				   where);
		else
			app->kube_namespace = xstrdup(s);
	}
	app->force_conflicts = get_bool(ctx, n, "forceConflicts", where, true);
}

/* Builds one application from a document; problems go to ctx. */
static struct app *parse_app(struct app_ctx *ctx, const struct node *root)
{
	static const char *const top_fields[] = {"apiVersion", "kind", "metadata", "spec", NULL};
	static const char *const meta_fields[] = {"name", "labels", "annotations", NULL};
	static const char *const spec_fields[] = {"source", "destination", "syncPolicy", "health",
						  NULL};
	static const char *const source_fields[] = {"repoURL", "ref", "path", "interval", NULL};
	static const char *const dest_fields[] = {"host", "kubernetes", NULL};
	static const char *const host_fields[] = {"root", NULL};
	static const char *const kube_fields[] = {"kubeconfig", "context", "namespace",
						  "forceConflicts", NULL};
	static const char *const policy_fields[] = {"automated", "retry", NULL};
	static const char *const auto_fields[] = {"prune", "selfHeal", NULL};
	static const char *const retry_fields[] = {"limit", "backoff", NULL};
	static const char *const backoff_fields[] = {"duration", "factor", "maxDuration", NULL};
	static const char *const health_fields[] = {"timeout", NULL};
	unsigned before = ctx->problems.count;
	const struct node *meta, *spec, *source, *dest, *policy, *n;
	const char *s;
	struct app *app = xcalloc(1, sizeof(*app));

	app_defaults(app);
	app->file = xstrdup(ctx->file);
	app->line = root->line;
	if (root->type != NODE_MAP) {
		app_report(ctx, root, "an Application must be a mapping");
		goto out;
	}
	check_fields(ctx, root, "Application", top_fields);
	s = get_string(ctx, root, "apiVersion", "Application", true);
	if (s && strcmp(s, APP_API_VERSION) != 0)
		app_report(ctx, node_get(root, "apiVersion"), "apiVersion '%s' is not %s", s,
			   APP_API_VERSION);
	s = get_string(ctx, root, "kind", "Application", true);
	if (s && strcmp(s, "Application") != 0)
		app_report(ctx, node_get(root, "kind"), "kind '%s' is not Application", s);
	meta = node_get(root, "metadata");
	if (!meta)
		app_report(ctx, root, "'metadata.name' is required");
	else if (check_fields(ctx, meta, "metadata", meta_fields) &&
		 (s = get_string(ctx, meta, "name", "metadata", true)))
		app->name = xstrdup(s);
	if (app->name && (!*app->name || strspn(app->name, APP_NAME_CHARS) != strlen(app->name)))
		app_report(ctx, node_get(meta, "name"),
			   "application name '%s' may only hold a-z, 0-9, '-', '.' and '_'",
			   app->name);

	spec = node_get(root, "spec");
	if (!spec) {
		app_report(ctx, root, "'spec' is required");
		goto out;
	}
	if (!check_fields(ctx, spec, "spec", spec_fields))
		goto out;
	source = node_get(spec, "source");
	if (!source) {
		app_report(ctx, spec, "'spec.source' is required");
	} else if (check_fields(ctx, source, "spec.source", source_fields)) {
		if ((s = get_string(ctx, source, "repoURL", "spec.source", true)))
			app->repo_url = xstrdup(s);
		if ((n = node_get(source, "ref")))
			parse_ref(ctx, n, app);
		if ((s = get_string(ctx, source, "path", "spec.source", false))) {
			free(app->path);
			app->path = xstrdup(s);
		}
		app->interval_ms =
			get_duration(ctx, source, "interval", "spec.source", app->interval_ms);
	}
	dest = node_get(spec, "destination");
	if (dest && check_fields(ctx, dest, "spec.destination", dest_fields)) {
		if (node_get(dest, "kubernetes") && node_get(dest, "host"))
			app_report(ctx, dest,
				   "give one of 'host' and 'kubernetes' in 'spec.destination'");
		if ((n = node_get(dest, "kubernetes")) &&
		    check_fields(ctx, n, "spec.destination.kubernetes", kube_fields))
			parse_kube(ctx, n, app);
		if ((n = node_get(dest, "host")) &&
		    check_fields(ctx, n, "spec.destination.host", host_fields) &&
		    (s = get_string(ctx, n, "root", "spec.destination.host", false))) {
			if (s[0] != '/')
				app_report(ctx, node_get(n, "root"),
					   "'spec.destination.host.root' must be an absolute path");
			free(app->root);
			app->root = xstrdup(s);
		}
	}
	policy = node_get(spec, "syncPolicy");
	if (policy && check_fields(ctx, policy, "spec.syncPolicy", policy_fields)) {
		if ((n = node_get(policy, "automated")) && n->type != NODE_NULL) {
			app->automated = true;
			if (check_fields(ctx, n, "spec.syncPolicy.automated", auto_fields)) {
				app->prune = get_bool(ctx, n, "prune", "spec.syncPolicy.automated",
						      false);
				app->self_heal = get_bool(ctx, n, "selfHeal",
							  "spec.syncPolicy.automated", false);
			}
		}
		if ((n = node_get(policy, "retry")) &&
		    check_fields(ctx, n, "spec.syncPolicy.retry", retry_fields)) {
			const struct node *limit = node_get(n, "limit"),
					  *b = node_get(n, "backoff");

			if (limit && (limit->type != NODE_INT || limit->as.integer < 0 ||
				      limit->as.integer > 1000))
				app_report(ctx, limit,
					   "'spec.syncPolicy.retry.limit' must be a "
					   "number from 0 to 1000");
			else if (limit)
				app->retry_limit = (unsigned)limit->as.integer;
			if (b &&
			    check_fields(ctx, b, "spec.syncPolicy.retry.backoff", backoff_fields)) {
				const struct node *f = node_get(b, "factor");

				app->retry_backoff_ms = get_duration(
					ctx, b, "duration", "spec.syncPolicy.retry.backoff",
					app->retry_backoff_ms);
				app->retry_max_backoff_ms = get_duration(
					ctx, b, "maxDuration", "spec.syncPolicy.retry.backoff",
					app->retry_max_backoff_ms);
				if (f && f->type == NODE_INT && f->as.integer >= 1)
					app->retry_factor = (double)f->as.integer;
				else if (f && f->type == NODE_FLOAT && isfinite(f->as.real) &&
					 f->as.real >= 1.0)
					app->retry_factor = f->as.real;
				else if (f)
					app_report(ctx, f,
						   "'spec.syncPolicy.retry.backoff.factor' "
						   "must be a number of at least 1");
			}
		}
	}
	if ((n = node_get(spec, "health")) && check_fields(ctx, n, "spec.health", health_fields))
		app->health_timeout_ms =
			get_duration(ctx, n, "timeout", "spec.health", app->health_timeout_ms);
out:
	if (ctx->problems.count != before) {
		app_free(app);
		return NULL;
	}
	return app;
}

static int load_text(const char *file, const char *dir, const char *text, size_t len,
		     struct vec *out, struct error *err)
{
	struct arena arena = ARENA_INIT;
	struct vec docs = VEC_INIT;
	struct app_ctx ctx = {.file = file, .dir = (char *)dir};
	struct map names = MAP_INIT;
	struct yaml_doc *doc;
	size_t i, first = out->len;
	int rc = yaml_parse(&arena, file, text, len, NULL, &docs, err);

	if (rc < 0)
		goto out;
	vec_foreach (&docs, i, doc) {
		struct app *app = parse_app(&ctx, doc->root);

		if (!app)
			continue;
		struct app *other = map_get(&names, app->name);

		if (other) {
			app_report(&ctx, doc->root,
				   "application '%s' is defined twice (also at line %u)", app->name,
				   other->line);
			app_free(app);
			continue;
		}
		map_put(&names, app->name, app);
		vec_push(out, app);
	}
	if (ctx.problems.count) {
		rc = error_list_finish(&ctx.problems, err);
		while (out->len > first)
			app_free(vec_pop(out));
	} else if (out->len == first) {
		rc = error_set(err, ERR_INVALID, "%s: no Application in the file", file);
	}
out:
	map_release(&names, NULL);
	error_list_finish(&ctx.problems, NULL);
	vec_release(&docs, NULL);
	arena_release(&arena);
	return rc;
}

/* The absolute directory of file (against the working directory when relative). */
static char *file_dir_absolute(const char *file)
{
	const char *slash = strrchr(file, '/');
	char *dir =
		slash ? xstrndup(file, slash == file ? 1 : (size_t)(slash - file)) : xstrdup(".");
	char *abs;

	if (dir[0] == '/')
		return dir;
	abs = realpath(dir, NULL);
	if (!abs) {
		char cwd[4096];

		abs = getcwd(cwd, sizeof(cwd)) ? xasprintf("%s/%s", cwd, dir) : xstrdup(dir);
	}
	free(dir);
	return abs;
}

int app_load_file(const char *file, struct vec *out, struct error *err)
{
	struct buf text;
	int rc;

	buf_init(&text, APP_FILE_MAX);
	rc = buf_read_file(&text, file, err);
	if (rc == 0) {
		char *dir = file_dir_absolute(file);

		rc = load_text(file, dir, text.data, text.len, out, err);
		free(dir);
	}
	buf_release(&text);
	return rc;
}

int app_from_json(const char *json, struct app **out, struct error *err)
{
	struct vec apps = VEC_INIT;
	int rc = load_text("stored application", NULL, json, strlen(json), &apps, err);

	*out = NULL;
	if (rc == 0 && apps.len == 1)
		*out = vec_pop(&apps);
	vec_release(&apps, app_free);
	return rc;
}

/* "https://host/ops.git" -> "ops"; the last path component without ".git". */
static char *name_from_url(const char *url)
{
	size_t len = strlen(url);
	const char *start;
	char *name;

	while (len && url[len - 1] == '/')
		len--;
	if (len >= 4 && strncmp(url + len - 4, ".git", 4) == 0)
		len -= 4;
	start = url + len;
	while (start > url && start[-1] != '/' && start[-1] != ':')
		start--;
	name = xstrndup(start, (size_t)(url + len - start));
	for (char *p = name; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!strchr(APP_NAME_CHARS, *p))
			*p = '-';
	}
	if (!*name) {
		free(name);
		name = xstrdup("default");
	}
	return name;
}

int app_from_flags(const struct app_flags *flags, struct app **out, struct error *err)
{
	struct buf doc = BUF_INIT;
	char *name = flags->name ? xstrdup(flags->name) : name_from_url(flags->repo);
	struct source_ref ref = {REF_DEFAULT, NULL};
	static const char *const ref_fields[] = {"", "name", "branch", "tag", "semver", "commit"};
	int rc;

	*out = NULL;
	if (flags->ref && (rc = source_parse_ref(flags->ref, &ref, err)) < 0)
		goto out;
	/* Build the same document a file would hold, so that both paths share one parser. */
	buf_addstr(&doc, "{\"apiVersion\":\"" APP_API_VERSION "\",\"kind\":\"Application\","
			 "\"metadata\":{\"name\":");
	buf_add_json_string(&doc, name, strlen(name));
	buf_addstr(&doc, "},\"spec\":{\"source\":{\"repoURL\":");
	buf_add_json_string(&doc, flags->repo, strlen(flags->repo));
	if (flags->path) {
		buf_addstr(&doc, ",\"path\":");
		buf_add_json_string(&doc, flags->path, strlen(flags->path));
	}
	if (ref.kind != REF_DEFAULT) {
		buf_addf(&doc, ",\"ref\":{\"%s\":", ref_fields[ref.kind]);
		buf_add_json_string(&doc, ref.value, strlen(ref.value));
		buf_addch(&doc, '}');
	}
	buf_addstr(&doc, "},\"destination\":{\"host\":{\"root\":");
	buf_add_json_string(&doc, flags->root ? flags->root : "/",
			    strlen(flags->root ? flags->root : "/"));
	buf_addstr(&doc, "}}}}");
	rc = app_from_json(doc.data, out, err);
	if (rc == 0) {
		(*out)->prune = true;
		free((*out)->file);
		(*out)->file = xstrdup("");
	}
out:
	free(name);
	buf_release(&doc);
	return rc;
}

void app_free(void *p)
{
	struct app *app = p;

	if (!app)
		return;
	free(app->name);
	free(app->repo_url);
	free(app->ref_value);
	free(app->path);
	free(app->root);
	free(app->kubeconfig);
	free(app->kube_context);
	free(app->kube_namespace);
	free(app->file);
	free(app);
}

static void add_duration(struct buf *b, const char *key, uint64_t ms, bool comma)
{
	if (ms % 1000)
		buf_addf(b, "%s\"%s\":\"%llums\"", comma ? "," : "", key, (unsigned long long)ms);
	else
		buf_addf(b, "%s\"%s\":\"%llus\"", comma ? "," : "", key,
			 (unsigned long long)(ms / 1000));
}

char *app_to_json(const struct app *app)
{
	static const char *const ref_fields[] = {"", "name", "branch", "tag", "semver", "commit"};
	struct buf b = BUF_INIT;

	buf_addstr(&b, "{\"apiVersion\":\"" APP_API_VERSION "\",\"kind\":\"Application\","
		       "\"metadata\":{\"name\":");
	buf_add_json_string(&b, app->name, strlen(app->name));
	buf_addstr(&b, "},\"spec\":{\"source\":{\"repoURL\":");
	buf_add_json_string(&b, app->repo_url, strlen(app->repo_url));
	buf_addstr(&b, ",\"path\":");
	buf_add_json_string(&b, app->path, strlen(app->path));
	if (app->ref_kind != REF_DEFAULT) {
		buf_addf(&b, ",\"ref\":{\"%s\":", ref_fields[app->ref_kind]);
		buf_add_json_string(&b, app->ref_value, strlen(app->ref_value));
		buf_addch(&b, '}');
	}
	add_duration(&b, "interval", app->interval_ms, true);
	if (app->kube) {
		buf_addstr(&b, "},\"destination\":{\"kubernetes\":{");
		if (app->kubeconfig) {
			buf_addstr(&b, "\"kubeconfig\":");
			buf_add_json_string(&b, app->kubeconfig, strlen(app->kubeconfig));
			buf_addch(&b, ',');
		}
		if (app->kube_context) {
			buf_addstr(&b, "\"context\":");
			buf_add_json_string(&b, app->kube_context, strlen(app->kube_context));
			buf_addch(&b, ',');
		}
		if (app->kube_namespace) {
			buf_addstr(&b, "\"namespace\":");
			buf_add_json_string(&b, app->kube_namespace, strlen(app->kube_namespace));
			buf_addch(&b, ',');
		}
		buf_addf(&b, "\"forceConflicts\":%s", app->force_conflicts ? "true" : "false");
	} else {
		buf_addstr(&b, "},\"destination\":{\"host\":{\"root\":");
		buf_add_json_string(&b, app->root, strlen(app->root));
	}
	buf_addstr(&b, "}},\"syncPolicy\":{");
	if (app->automated)
		buf_addf(&b, "\"automated\":{\"prune\":%s,\"selfHeal\":%s},",
			 app->prune ? "true" : "false", app->self_heal ? "true" : "false");
	buf_addf(&b, "\"retry\":{\"limit\":%u,\"backoff\":{", app->retry_limit);
	add_duration(&b, "duration", app->retry_backoff_ms, false);
	buf_addf(&b, ",\"factor\":%g", app->retry_factor);
	add_duration(&b, "maxDuration", app->retry_max_backoff_ms, true);
	buf_addstr(&b, "}}},\"health\":{");
	add_duration(&b, "timeout", app->health_timeout_ms, false);
	buf_addstr(&b, "}}}");
	return buf_detach(&b, NULL);
}
