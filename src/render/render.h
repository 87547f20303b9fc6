/*
 * render — turns the files under a path of a tree into an object set: every
 * manifest document with its identity, its source location and a hash of its
 * canonical form. Rendering is pure: the same tree gives the same set, byte for
 * byte, and it never touches a target.
 */
#ifndef PLUMB_RENDER_H
#define PLUMB_RENDER_H

#include "core/core.h"
#include "yaml/yaml.h"

/* (group, version, kind, namespace, name); group and namespace may be "". */
struct obj_id {
	const char *group;
	const char *version;
	const char *kind;
	const char *namespace;
	const char *name;
};

struct obj {
	struct obj_id id;
	const char *file; /* path inside the tree */
	uint32_t line;
	uint32_t col;
	uint8_t hash[SHA256_LEN]; /* SHA-256 of node_canonical_json(root) */
	struct node *root;
};

/* All memory of a set (objects, nodes, strings) lives in its arena. */
struct objset {
	struct arena arena;
	struct vec objs;  /* struct obj *, in render order */
	struct map by_id; /* obj_id_key() -> struct obj * */
	/* how objset_write prints YAML (enum yaml_emit_flags): YAML_EMIT_KUSTOMIZE
	 * for a kustomization, so that the output is the same as kubectl's */
	unsigned emit_flags;
};

struct render_opts {
	/* Cap on one file's size, 0 for the default (64 MiB). */
	size_t max_file_bytes;
};

/*
 * Renders every *.yaml, *.yml and *.json file under `path` of `tree`
 * (recursively, in byte order of their paths, honouring .plumbignore files).
 * On success *out is a new set the caller frees with objset_free. Errors name
 * the file and line: ERR_INVALID (bad YAML or JSON, a missing apiVersion, kind
 * or metadata.name), ERR_CONFLICT (two objects with one identity),
 * ERR_NOTFOUND (path absent). A directory holding a kustomization.yaml (also
 * kustomization.yml, Kustomization) is built by the kustomize-compatible engine
 * instead of being walked; ERR_UNSUPPORTED names kustomize features plumb
 * does not have.
 */
int render_tree(struct tree *tree, const char *path, const struct render_opts *opts,
		struct objset **out, struct error *err);
void objset_free(struct objset *set);

/*
 * Opens the tree to render a local directory. A kustomization may name files
 * above its directory (resources: [../base]), so for a directory holding one
 * the tree is the enclosing Git work tree (or /) and *path the directory in it;
 * otherwise the tree is the directory itself and *path NULL. Free both.
 */
int render_open_local(const char *dir, struct tree **tree, char **path, struct error *err);
struct obj *objset_find(const struct objset *set, const struct obj_id *id);

/* "group/version/kind/namespace/name" with empty parts kept: a unique map key. */
char *obj_id_key(const struct obj_id *id);
/* "Kind/name" or "Kind/namespace/name", for messages. */
char *obj_id_display(const struct obj_id *id);

enum render_format { RENDER_YAML, RENDER_JSON };

/*
 * Writes the set: RENDER_YAML is a `---`-separated stream of the objects;
 * RENDER_JSON one document {"revision":..., "objects":[{id, source, sha256,
 * object}]}. revision_json, if not NULL, is inserted as the "revision" value.
 */
int objset_write(const struct objset *set, enum render_format format, const char *revision_json,
		 struct buf *out);

/* ---- .plumbignore (gitignore syntax) ---- */

struct ignore;

/*
 * Appends the patterns of a .plumbignore's text to *list; they apply to paths
 * below `base` (the file's directory, "" for the top). Free with ignore_free.
 */
void ignore_add(struct ignore **list, const char *base, const char *text, size_t len);
/* True if path (relative to the tree's top) is excluded. */
bool ignore_match(const struct ignore *list, const char *path, bool is_dir);
void ignore_free(struct ignore *list);

#endif
