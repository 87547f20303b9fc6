/* Read-only file trees: the generic calls, path handling, and the local-directory tree. */
#include "core.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TREE_FILE_MAX (64u * 1024 * 1024)

int tree_read(struct tree *t, const char *path, struct buf *out, struct error *err)
{
	return t->ops->read(t, path, out, err);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct tree_entry *ea = *(const struct tree_entry *const *)a;
	const struct tree_entry *eb = *(const struct tree_entry *const *)b;

	return strcmp(ea->name, eb->name);
}

int tree_list(struct tree *t, const char *path, struct vec *out, struct error *err)
{
	size_t first = out->len;
	int rc = t->ops->list(t, path, out, err);

	if (rc == 0 && out->len - first > 1)
		qsort(out->items + first, out->len - first, sizeof(*out->items), entry_cmp);
	return rc;
}

int tree_stat(struct tree *t, const char *path, enum tree_type *out, struct error *err)
{
	return t->ops->stat(t, path, out, err);
}

void tree_free(struct tree *t)
{
	if (!t)
		return;
	t->ops->free(t);
	free(t->label);
	free(t);
}

static void tree_entry_free(void *p)
{
	struct tree_entry *e = p;

	free(e->name);
	free(e);
}

void tree_entries_release(struct vec *entries)
{
	vec_release(entries, tree_entry_free);
}

int tree_path_join(const char *dir, const char *rel, char **out, struct error *err)
{
	struct buf path = BUF_INIT;
	const char *parts[2] = {dir ? dir : "", rel ? rel : ""};

	*out = NULL;
	if (rel && rel[0] == '/')
		return error_set(err, ERR_INVALID, "'%s' is an absolute path; paths are relative",
				 rel);
	buf_add(&path, "", 0);
	for (size_t p = 0; p < 2; p++) {
		struct str rest = str_from(parts[p]), seg;

		while (rest.len) {
			str_cut(rest, '/', &seg, &rest);
			if (seg.len == 0 || str_eq_cstr(seg, "."))
				continue;
			if (str_eq_cstr(seg, "..")) {
				char *slash;

				if (path.len == 0) {
					buf_release(&path);
					return error_set(err, ERR_INVALID,
							 "path '%s%s%s' leaves the tree",
							 dir ? dir : "", dir && *dir ? "/" : "",
							 rel ? rel : "");
				}
				slash = strrchr(path.data, '/');
				buf_truncate(&path, slash ? (size_t)(slash - path.data) : 0);
				continue;
			}
			if (path.len)
				buf_addch(&path, '/');
			buf_add(&path, seg.ptr, seg.len);
		}
	}
	*out = buf_detach(&path, NULL);
	return 0;
}

/* ---- local directory ---- */

struct dir_tree {
	char *root; /* canonical absolute path */
};

/* The absolute path for a tree path, refusing symlinks that lead outside the root. */
static int dir_resolve(struct tree *t, const char *path, char **out, bool *missing,
		       struct error *err)
{
	struct dir_tree *d = t->impl;
	char *joined = *path ? xasprintf("%s/%s", d->root, path) : xstrdup(d->root);
	char *real = realpath(joined, NULL);
	size_t root_len = strlen(d->root);

	*out = NULL;
	*missing = false;
	if (!real) {
		if (errno == ENOENT || errno == ENOTDIR) {
			*missing = true;
			free(joined);
			return 0;
		}
		int rc = error_errno(err, "cannot resolve '%s'", joined);

		free(joined);
		return rc;
	}
	free(joined);
	if (strcmp(d->root, "/") != 0 &&
	    (strncmp(real, d->root, root_len) != 0 || (real[root_len] && real[root_len] != '/'))) {
		free(real);
		return error_set(err, ERR_INVALID, "'%s/%s' is a symlink that leads outside '%s'",
				 d->root, path, d->root);
	}
	*out = real;
	return 0;
}

static int dir_read(struct tree *t, const char *path, struct buf *out, struct error *err)
{
	char *real;
	bool missing;
	int rc = dir_resolve(t, path, &real, &missing, err);

	if (rc < 0)
		return rc;
	if (missing)
		return error_set(err, ERR_NOTFOUND, "'%s' not found in '%s'", path, t->label);
	if (!out->max)
		out->max = TREE_FILE_MAX;
	rc = buf_read_file(out, real, err);
	free(real);
	return rc;
}

static int dir_stat(struct tree *t, const char *path, enum tree_type *out, struct error *err)
{
	char *real;
	bool missing;
	struct stat st;
	int rc = dir_resolve(t, path, &real, &missing, err);

	*out = TREE_NONE;
	if (rc < 0 || missing)
		return rc;
	if (stat(real, &st) < 0) {
		rc = error_errno(err, "cannot stat '%s'", real);
	} else if (S_ISDIR(st.st_mode)) {
		*out = TREE_DIR;
	} else if (S_ISREG(st.st_mode)) {
		*out = TREE_FILE;
	}
	free(real);
	return rc;
}

static int dir_list(struct tree *t, const char *path, struct vec *out, struct error *err)
{
	char *real;
	bool missing;
	DIR *dir;
	struct dirent *de;
	int rc = dir_resolve(t, path, &real, &missing, err);

	if (rc < 0)
		return rc;
	if (missing)
		return error_set(err, ERR_NOTFOUND, "directory '%s' not found in '%s'", path,
				 t->label);
	dir = opendir(real);
	if (!dir) {
		rc = error_errno(err, "cannot open directory '%s'", real);
		free(real);
		return rc;
	}
	while ((de = readdir(dir))) {
		enum tree_type type = TREE_NONE;
		char *child;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		child = *path ? xasprintf("%s/%s", path, de->d_name) : xstrdup(de->d_name);
		/* An entry that cannot be resolved inside the root (a symlink leading out,
		 * a dangling link) is listed as TREE_NONE: readers skip it. */
		struct error ignored = ERROR_INIT;

		dir_stat(t, child, &type, &ignored);
		free(child);
		struct tree_entry *e = xmalloc(sizeof(*e));

		e->name = xstrdup(de->d_name);
		e->type = type;
		vec_push(out, e);
	}
	closedir(dir);
	free(real);
	return 0;
}

static void dir_free(struct tree *t)
{
	struct dir_tree *d = t->impl;

	free(d->root);
	free(d);
}

static const struct tree_ops dir_ops = {
	.read = dir_read,
	.list = dir_list,
	.stat = dir_stat,
	.free = dir_free,
};

int tree_open_dir(struct tree **out, const char *dir, struct error *err)
{
	char *real = realpath(dir, NULL);
	struct stat st;
	struct tree *t;
	struct dir_tree *d;

	*out = NULL;
	if (!real)
		return error_errno(err, "cannot open directory '%s'", dir);
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(real);
		return error_set(err, ERR_INVALID, "'%s' is not a directory", dir);
	}
	d = xmalloc(sizeof(*d));
	d->root = real;
	t = xmalloc(sizeof(*t));
	t->ops = &dir_ops;
	t->label = xstrdup(dir);
	t->impl = d;
	*out = t;
	return 0;
}
