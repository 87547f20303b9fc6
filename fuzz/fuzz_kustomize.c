/*
 * Fuzz target for the kustomize engine: kustomization parsing, resources,
 * generators, patches (strategic merge and JSON 6902), transformers and output.
 *
 * The input is a small file tree: the text up to the first line "@@ NAME" is
 * kustomization.yaml, and each "@@ NAME" line starts the file NAME (a path,
 * possibly in a directory) that runs until the next such line. Rendering must
 * never crash or hang, and must give the same bytes twice.
 */
#include <stdlib.h>
#include <string.h>

#include "render/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem_file {
	char *path;
	const char *data;
	size_t len;
};

struct mem_tree {
	struct mem_file files[16];
	size_t count;
};

static const struct mem_file *find(const struct mem_tree *m, const char *path)
{
	for (size_t i = 0; i < m->count; i++)
		if (strcmp(m->files[i].path, path) == 0)
			return &m->files[i];
	return NULL;
}

/* True if some file lies below dir. */
static bool is_dir(const struct mem_tree *m, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 0)
		return true;
	for (size_t i = 0; i < m->count; i++)
		if (strncmp(m->files[i].path, dir, n) == 0 && m->files[i].path[n] == '/')
			return true;
	return false;
}

static int mem_read(struct tree *t, const char *path, struct buf *out, struct error *err)
{
	const struct mem_file *f = find(t->impl, path);

	if (!f)
		return error_set(err, ERR_NOTFOUND, "%s: not found", path);
	return buf_add(out, f->data, f->len) < 0 ? error_set(err, ERR_TOOBIG, "too big") : 0;
}

static int mem_list(struct tree *t, const char *path, struct vec *out, struct error *err)
{
	const struct mem_tree *m = t->impl;
	size_t n = strlen(path);

	(void)err;
	for (size_t i = 0; i < m->count; i++) {
		const char *p = m->files[i].path, *rest, *slash;
		struct tree_entry *e;
		bool seen = false;

		if (n && (strncmp(p, path, n) != 0 || p[n] != '/'))
			continue;
		rest = n ? p + n + 1 : p;
		slash = strchr(rest, '/');
		for (size_t k = 0; k < out->len; k++) {
			const struct tree_entry *o = out->items[k];
			size_t len = slash ? (size_t)(slash - rest) : strlen(rest);

			if (strlen(o->name) == len && strncmp(o->name, rest, len) == 0)
				seen = true;
		}
		if (seen)
			continue;
		e = xmalloc(sizeof(*e));
		e->name = slash ? xstrndup(rest, (size_t)(slash - rest)) : xstrdup(rest);
		e->type = slash ? TREE_DIR : TREE_FILE;
		vec_push(out, e);
	}
	return 0;
}

static int mem_stat(struct tree *t, const char *path, enum tree_type *out, struct error *err)
{
	(void)err;
	*out = find(t->impl, path) ? TREE_FILE : is_dir(t->impl, path) ? TREE_DIR : TREE_NONE;
	return 0;
}

static void mem_free(struct tree *t)
{
	(void)t;
}

static const struct tree_ops mem_ops = {mem_read, mem_list, mem_stat, mem_free};

static void split(struct mem_tree *m, const char *text, size_t size)
{
	const char *end = text + size, *p = text;
	char *name = xstrdup("kustomization.yaml");

	m->count = 0;
	while (m->count < ARRAY_SIZE(m->files)) {
		const char *next = p, *mark = NULL;

		while (next < end) {
			if ((next == text || next[-1] == '\n') && end - next >= 3 &&
			    memcmp(next, "@@ ", 3) == 0) {
				mark = next;
				break;
			}
			next++;
		}
		m->files[m->count].path = name;
		m->files[m->count].data = p;
		m->files[m->count].len = (size_t)((mark ? mark : end) - p);
		m->count++;
		if (!mark)
			return;
		p = memchr(mark, '\n', (size_t)(end - mark));
		name = xstrndup(mark + 3, (size_t)((p ? p : end) - mark - 3));
		if (!p || !*name || name[0] == '/' || strstr(name, "..") || find(m, name)) {
			free(name);
			return;
		}
		p++;
	}
	free(name);
}

static int render_once(struct tree *t, struct buf *out)
{
	struct objset *set = NULL;
	struct error err = ERROR_INIT;
	int rc = render_tree(t, "", NULL, &set, &err);

	if (rc == 0)
		rc = objset_write(set, RENDER_YAML, NULL, out);
	objset_free(set);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem_tree m;
	struct tree t = {.ops = &mem_ops, .label = (char *)"fuzz", .impl = &m};
	struct buf a = BUF_INIT, b = BUF_INIT;
	int ra, rb;

	if (size > 16384)
		return 0;
	split(&m, (const char *)data, size);
	buf_init(&a, 8u << 20);
	buf_init(&b, 8u << 20);
	ra = render_once(&t, &a);
	rb = render_once(&t, &b);
	if (ra != rb || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	buf_release(&a);
	buf_release(&b);
	for (size_t i = 0; i < m.count; i++)
		free(m.files[i].path);
	return 0;
}
