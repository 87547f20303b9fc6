/*
 * yaml — YAML 1.2 and JSON documents as plumb's own node trees, built on libfyaml.
 *
 * Every node carries the line and column it came from, so that any error about an
 * object can name `file:line:column`. Nodes live in a caller's arena: they are
 * freed with it, never one by one. Mapping keys keep their order as written.
 */
#ifndef PLUMB_YAML_H
#define PLUMB_YAML_H

#include "core/core.h"

#include <sys/types.h>

enum node_type {
	NODE_NULL,
	NODE_BOOL,
	NODE_INT,
	NODE_FLOAT,
	NODE_STRING,
	NODE_SEQ,
	NODE_MAP,
};

/* How a scalar was written, kept so that output can stay faithful to the input. */
enum scalar_style {
	STYLE_PLAIN,
	STYLE_SINGLE,
	STYLE_DOUBLE,
	STYLE_LITERAL,
	STYLE_FOLDED,
};

struct node;

struct node_pair {
	struct node *key; /* always a scalar; key->str holds its text */
	struct node *value;
};

struct node {
	enum node_type type;
	enum scalar_style style;
	uint32_t line; /* 1-based */
	uint32_t col;  /* 1-based */
	/*
	 * Scalars: the value's text (for strings the decoded value; for numbers,
	 * booleans and null the text as written, e.g. "0x1F", "True", "~").
	 * Always NUL-terminated; len excludes the NUL. Strings may hold NUL bytes.
	 */
	const char *str;
	size_t len;
	union {
		bool boolean;
		int64_t integer;
		double real;
	} as;
	/* NODE_SEQ: items[0..count); NODE_MAP: pairs[0..count). */
	size_t count;
	struct node **items;
	struct node_pair *pairs;
};

struct yaml_doc {
	struct node *root;
	uint32_t line; /* where the document's content starts */
};

struct yaml_opts {
	/* Caps the input accepted, and the depth of nesting (0: defaults 64 MiB, 256).
	 * max_bytes also caps what aliases add when expanded (ERR_TOOBIG). */
	size_t max_bytes;
	unsigned max_depth;
};

/*
 * Parses every document of data (a YAML stream, or JSON) into docs, appending
 * struct yaml_doc * allocated in arena. Documents that are empty or hold only
 * null are skipped. `file` names the input in errors, which read
 * "file:line:column: what is wrong" (ERR_INVALID). Anchors and aliases are
 * resolved; merge keys (`<<`) are expanded; duplicate keys are an error.
 */
int yaml_parse(struct arena *arena, const char *file, const char *data, size_t len,
	       const struct yaml_opts *opts, struct vec *docs, struct error *err);

/* The value under key in a mapping, NULL if absent or if map is not a mapping. */
struct node *node_get(const struct node *map, const char *key);
/* The value's text if it is a string, else NULL. */
const char *node_string(const struct node *n);
/* A name for a node type in messages: "a string", "a mapping", ... */
const char *node_type_name(enum node_type type);

/* Constructors for nodes built in code (line and column 0). */
struct node *node_new_string(struct arena *arena, const char *s, size_t len);
struct node *node_new_map(struct arena *arena, size_t capacity);
struct node *node_new_seq(struct arena *arena, size_t capacity);
/* More scalars built in code, in arena; their text is the value in YAML's usual spelling. */
struct node *node_new_int(struct arena *arena, int64_t value);
struct node *node_new_bool(struct arena *arena, bool value);
struct node *node_new_null(struct arena *arena);

/*
 * Canonical JSON: mapping keys sorted by bytes, no insignificant whitespace,
 * integers in decimal, floats in shortest round-trip form, strings with minimal
 * escapes. Two documents that mean the same thing give the same bytes, whatever
 * their key order, quoting or formatting.
 */
int node_canonical_json(const struct node *n, struct buf *out);
/* JSON in the input's key order; indent 0 gives one line, else pretty-printed. */
int node_emit_json(const struct node *n, unsigned indent, struct buf *out);
/*
 * Block-style YAML, the way kubectl and kustomize print objects: two-space
 * indentation, sequences flush with their parent key, strings quoted only when
 * they would otherwise read as another type, multi-line strings as literal blocks.
 */
int node_emit_yaml(const struct node *n, struct buf *out);

enum yaml_emit_flags {
	/* Mapping keys in go-yaml v2's order (runs of digits compare as numbers,
	 * "a2" < "a10"), the order `kubectl kustomize` prints. */
	YAML_EMIT_SORT_KEYS = 1 << 0,
	/* Scalars as kustomize prints them after its JSON round trip: numbers
	 * normalised (0x1F → 31, 1.0 → 1), plain scalars read with go-yaml v3's
	 * rules (012 → 10, 2001-12-14 → "2001-12-14T00:00:00Z"). */
	YAML_EMIT_NORMALIZE = 1 << 1,
	/* Byte for byte what `kubectl kustomize` prints for one object. */
	YAML_EMIT_KUSTOMIZE = YAML_EMIT_SORT_KEYS | YAML_EMIT_NORMALIZE,
};

/*
 * node_emit_yaml with flags from enum yaml_emit_flags (0 is node_emit_yaml).
 * Both append to out; 0, or ERR_TOOBIG when out's cap is reached.
 */
int node_emit_yaml_flags(const struct node *n, unsigned flags, struct buf *out);

/* ---- editing ----
 *
 * Parsed trees may share nodes (aliases, merge keys): clone a tree before
 * editing it. Edits allocate in the arena given; nothing is freed before it.
 */

/* A deep copy of n (keys are shared: they are never edited). */
struct node *node_clone(struct arena *arena, const struct node *n);
struct node *node_new_cstr(struct arena *arena, const char *s);
/* The index of key in a mapping, -1 if absent or not a mapping. */
ssize_t node_map_index(const struct node *map, const char *key);
/* The same for a key of len bytes, which may hold NUL bytes. */
ssize_t node_map_index_len(const struct node *map, const char *key, size_t len);
/* Replaces key's value, or appends the pair at the end. */
void node_map_set(struct arena *arena, struct node *map, const char *key, struct node *value);
/* Removes key; false if it was not there. */
bool node_map_del(struct node *map, const char *key);
/* The mapping under key, created (or replacing a non-mapping) if needed. */
struct node *node_map_child(struct arena *arena, struct node *map, const char *key);
void node_seq_insert(struct arena *arena, struct node *seq, size_t at, struct node *item);
void node_seq_push(struct arena *arena, struct node *seq, struct node *item);
void node_seq_del(struct node *seq, size_t at);
/*
 * A qsort comparator for an array of const struct node_pair * of one mapping:
 * by key bytes (a shorter prefix first), equal keys in their mapping's order.
 */
int node_pair_cmp(const void *a, const void *b);

/* Same type and value (1 equals 1.0), mappings whatever their key order. */
bool node_equal(const struct node *a, const struct node *b);

#endif
