/*
 * The kustomize-compatible engine's shared pieces (see docs/internals/kustomize.md).
 *
 * A build loads a kustomization, accumulates its resources (files and nested
 * kustomizations), runs its generators, its components, then its transformers
 * in kustomize's order, and hands the result to the level above. At the top,
 * generated names get their content hashes, references to renamed objects are
 * rewritten, vars are substituted, and the set is sorted the way
 * `kubectl kustomize` prints it.
 *
 * Every resource is a private, editable copy of its tree (node_clone) in the
 * build's arena; nothing here is freed before the build ends.
 */
#ifndef PLUMB_KUST_INT_H
#define PLUMB_KUST_INT_H

#include "render.h"

#include <regex.h>

/* One resource during a build. */
struct kres {
	struct node *root; /* the object; edit it in place (arena: kbuild.arena) */
	const char *file;  /* where it came from in the tree; a generator's kustomization */
	uint32_t line;
	uint32_t col;
	/* kustomize's "original id": the identity as first loaded or generated */
	struct obj_id org;
	/* every identity the resource had before a rename, oldest first (struct obj_id *) */
	struct vec prev;
	/* the prefixes and suffixes applied to its name, innermost level first (const char *) */
	struct vec prefixes;
	struct vec suffixes;
	/* made by a configMapGenerator or secretGenerator */
	bool generated;
	/* the generated name gets "-<content hash>" at the end of the build */
	bool hash_suffix;
	/* free for one pass's own bookkeeping; reset it before use */
	int mark;
};

struct kbuild {
	struct arena *arena;
	struct tree *tree;
	const struct render_opts *opts;
	struct vec stack; /* char *, directories being built (cycle detection) */
	struct vec vars; /* legacy vars gathered from every level (kust_replace.c owns the items) */
	struct map loaded; /* file path -> const char * copy of its contents, read once */
	struct vec all;	   /* every struct kres made, to release their vectors at the end */
};

/* One kustomization being built. */
struct klevel {
	struct kbuild *b;
	const char *dir;  /* its directory in the tree, "" at the top of the tree */
	const char *file; /* its file, for messages */
	struct node *k;	  /* the parsed kustomization (a mapping) */
	bool component;	  /* kind: Component */
};

/* ---- kustomize.c: loading, errors, identities ---- */

/* Builds the kustomization in dir of tree into set (whose arena holds everything). */
int kust_build(struct tree *tree, const char *dir, const struct render_opts *opts,
	       struct objset *set, struct error *err);
/* True if dir holds a kustomization.yaml, kustomization.yml or Kustomization. */
bool kust_dir_has_kustomization(struct tree *tree, const char *dir);

/*
 * Sets err to "file:line:col: message" for a node of lv's kustomization (or of
 * the file named by at_file when not NULL; "file: message" when the node was
 * built in code). Returns code.
 */
int kust_error(const struct klevel *lv, const char *at_file, const struct node *at, int code,
	       struct error *err, const char *fmt, ...) PRINTF_LIKE(6, 7);

/*
 * Reads a file named in lv's kustomization (rel is relative to its directory).
 * Like kustomize, files may not be outside the kustomization's directory. On
 * success *data (NUL-terminated, *len bytes) and *path (the file's path in the
 * tree) live in the build's arena. `at` is the node naming the file, for errors.
 */
int kust_read_file(const struct klevel *lv, const struct node *at, const char *rel,
		   const char **data, size_t *len, const char **path, struct error *err);

/* Parses a YAML stream of objects (kind: List expanded) and appends struct kres * to out. */
int kust_parse_objects(struct kbuild *b, const char *path, const char *data, size_t len,
		       struct vec *out, struct error *err);

/* A new resource around root (which the resource now owns: clone shared trees first). */
struct kres *kres_new(struct kbuild *b, struct node *root, const char *file, uint32_t line,
		      uint32_t col);

/* Current identity, read from the object (fields point into its tree, "" when absent). */
void kres_id(const struct kres *r, struct obj_id *id);
const char *kres_name(const struct kres *r);
const char *kres_namespace(const struct kres *r);
const char *kres_kind(const struct kres *r);

/* Renames (name or namespace, NULL keeps it), recording the old identity in r->prev. */
void kres_rename(struct kbuild *b, struct kres *r, const char *name, const char *ns);

/* True if r is, or ever was, the object id names; empty fields of id match anything. */
bool kres_matches_any_id(const struct kres *r, const struct obj_id *id);

/* "Kind/name" or "Kind/namespace/name" of the current identity, in the arena. */
const char *kres_display(struct kbuild *b, const struct kres *r);

/* The second resource of set with an identity seen before (*first: the earlier one), or NULL. */
struct kres *kust_duplicate(const struct vec *set, struct kres **first);

/* True for kinds that have no namespace (Namespace, ClusterRole, CRDs, ...). */
bool kust_cluster_scoped(const char *group, const char *kind);

/* Splits "group/version" (or "version") into the arena. */
void kust_split_api_version(struct kbuild *b, const char *api_version, const char **group,
			    const char **version);

/* ---- kustomize.c: field specs ---- */

/*
 * kustomize's fieldSpec: which objects (empty or NULL fields match anything)
 * and a '/'-separated path. A sequence met along the path is walked item by
 * item. With create, missing mappings along the path are made.
 */
struct kfieldspec {
	const char *group;
	const char *version;
	const char *kind;
	const char *path;
	bool create;
};

bool kfieldspec_selects(const struct kfieldspec *fs, const struct kres *r);

/*
 * Called for the last element of a field spec's path: parent is the mapping
 * that holds (or, with create, will hold) key; node_get(parent, key) may be
 * NULL when create is set. Return <0 to stop the walk with err set.
 */
typedef int (*kfield_fn)(struct kbuild *b, struct kres *r, struct node *parent, const char *key,
			 void *ud, struct error *err);

/* Walks fs's path in r if fs selects r; calls fn where the path ends. */
int kust_walk_field(struct kbuild *b, struct kres *r, const struct kfieldspec *fs, kfield_fn fn,
		    void *ud, struct error *err);

/*
 * regcomp (REG_EXTENDED | REG_NOSUB) for a pattern written in a kustomization;
 * refuses, with *why set, what Go's RE2 refuses and what glibc cannot compile
 * in bounded memory. 0 on success; free with regfree.
 */
int kust_regcomp(regex_t *re, const char *pattern, const char **why);

/* ---- kustomize.c: selecting resources (patch targets, replacements) ---- */

/*
 * A target selector as in `patches[].target` and replacements: group, version,
 * kind, name and namespace are anchored regular expressions (NULL: any);
 * labelSelector and annotationSelector use Kubernetes selector syntax.
 */
struct kselector {
	const char *group;
	const char *version;
	const char *kind;
	const char *name;
	const char *namespace;
	const char *label_selector;
	const char *annotation_selector;
};

/* Reads a selector mapping (the `target:` node); unknown fields are errors. */
int kust_selector_parse(const struct klevel *lv, const char *file, const struct node *n,
			struct kselector *sel, struct error *err);

/* Does sel select r? Names and namespaces match the current or any earlier identity. */
int kust_selector_matches(const struct kselector *sel, const struct kres *r, bool *match,
			  struct error *err);

/* ---- kust_gen.c: configMapGenerator, secretGenerator, generatorOptions ---- */

/* Runs lv's generators: appends new objects to set, or merges / replaces existing ones. */
int kust_generate(struct klevel *lv, struct vec *set, struct error *err);

/* At the end of the top-level build: renames generated objects to name-<hash>. */
int kust_hash_names(struct kbuild *b, struct vec *set, struct error *err);

/* ---- kust_patch.c: patches, patchesStrategicMerge, patchesJson6902 ---- */

int kust_patches_strategic_merge(struct klevel *lv, struct vec *set, struct error *err);
int kust_patches(struct klevel *lv, struct vec *set, struct error *err);
int kust_patches_json6902(struct klevel *lv, struct vec *set, struct error *err);

/* Strategic merge of patch into target (both objects of one kind), in place. */
int kust_strategic_merge(struct kbuild *b, struct node *target, const struct node *patch,
			 struct error *err);

/* ---- kust_fields.c: labels, annotations, images, replicas ---- */

int kust_labels(struct klevel *lv, struct vec *set, struct error *err);
int kust_annotations(struct klevel *lv, struct vec *set, struct error *err);
int kust_replicas(struct klevel *lv, struct vec *set, struct error *err);
int kust_images(struct klevel *lv, struct vec *set, struct error *err);

/* ---- kust_names.c: namespace, namePrefix, nameSuffix, references to renamed objects ---- */

int kust_namespace(struct klevel *lv, struct vec *set, struct error *err);
int kust_name_affixes(struct klevel *lv, struct vec *set, struct error *err);

/* At the end of the top-level build: rewrites every reference to an object's old name. */
int kust_fix_name_refs(struct kbuild *b, struct vec *set, struct error *err);

/* ---- kust_replace.c: replacements and legacy vars ---- */

int kust_replacements(struct klevel *lv, struct vec *set, struct error *err);
/* Gathers lv's vars into b->vars (after its transformers ran). */
int kust_vars_collect(struct klevel *lv, struct vec *set, struct error *err);
/* At the end of the top-level build: substitutes $(VAR) references. */
int kust_vars_resolve(struct kbuild *b, struct vec *set, struct error *err);

#endif
