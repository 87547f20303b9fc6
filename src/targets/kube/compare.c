/*
 * compare.c — whether a live object still matches what Git wants, and how it
 * differs: a one-line summary of the differing fields and a unified diff.
 *
 * Both sides are compared as node_equal compares them: 1 equals 1.0, and
 * mapping key order never matters. The summary walks the two trees together,
 * mapping keys in byte order (so that it does not depend on how either side
 * was written), and names each differing leaf by its path: "spec.replicas",
 * "spec.template.spec.containers[0].image". A sequence whose length changed is
 * named once, as a whole, since its items cannot be paired up reliably.
 */
#include "targets/kube/kube.h"

#include "plan/plan.h"
#include "yaml/yaml.h"

#include <stdlib.h>
#include <string.h>

/* Summary entries written before the rest are only counted ("and N more"). */
#define SUMMARY_MAX_ENTRIES 8
/* Scalars longer than this are not quoted in the summary, only said to have changed. */
#define SUMMARY_MAX_VALUE 40

/* Set by the API server, never by the user: dropped from metadata before comparing. */
static const char *const server_metadata[] = {
	"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink",
};

/* A mapping that says nothing: empty, or null (how `labels:` with no value reads). */
static bool is_empty_mapping(const struct node *n)
{
	return n && (n->type == NODE_NULL || (n->type == NODE_MAP && n->count == 0));
}

struct node *kube_strip_server_fields(struct arena *arena, const struct node *obj)
{
	struct node *copy = node_clone(arena, obj);
	struct node *metadata;

	if (!copy || copy->type != NODE_MAP)
		return copy;
	node_map_del(copy, "status");
	metadata = node_get(copy, "metadata");
	if (!metadata || metadata->type != NODE_MAP)
		return copy;
	for (size_t i = 0; i < ARRAY_SIZE(server_metadata); i++)
		node_map_del(metadata, server_metadata[i]);
	if (is_empty_mapping(node_get(metadata, "annotations")))
		node_map_del(metadata, "annotations");
	if (is_empty_mapping(node_get(metadata, "labels")))
		node_map_del(metadata, "labels");
	return copy;
}

/* ---- the summary ---- */

struct compare {
	struct buf *summary; /* NULL: only count */
	struct buf path;     /* of the node being compared */
	unsigned entries;    /* differing leaves found so far */
};

static bool is_scalar(const struct node *n)
{
	return n->type != NODE_SEQ && n->type != NODE_MAP;
}

/* Short enough, and on one line, to be quoted in the summary. */
static bool is_printable(const struct node *n)
{
	if (!is_scalar(n) || n->len > SUMMARY_MAX_VALUE)
		return false;
	for (size_t i = 0; i < n->len; i++) {
		unsigned char c = (unsigned char)n->str[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/*
 * A scalar as the summary shows it: its text as written, "" for an empty
 * string, and quoted when set (a string whose text reads the same as the other
 * side's number or boolean, so that "3" -> 3 does not read as no change).
 */
static void add_scalar(struct buf *out, const struct node *n, bool quote)
{
	if (n->len == 0)
		buf_addstr(out, n->type == NODE_STRING ? "\"\"" : "null");
	else if (quote && n->type == NODE_STRING)
		buf_addf(out, "\"%s\"", n->str);
	else
		buf_add(out, n->str, n->len);
}

/* Starts a summary entry for the current path: ", path: "; NULL past the cap. */
static struct buf *begin_entry(struct compare *c)
{
	struct buf *out = c->summary;

	if (c->entries++ >= SUMMARY_MAX_ENTRIES || !out)
		return NULL;
	if (c->entries > 1)
		buf_addstr(out, ", ");
	if (c->path.len)
		buf_add(out, c->path.data, c->path.len);
	else
		buf_addstr(out, "(root)");
	buf_addstr(out, ": ");
	return out;
}

static void add_word(struct compare *c, const char *word)
{
	struct buf *out = begin_entry(c);

	if (out)
		buf_addstr(out, word);
}

/* A leaf that is on both sides, with different values (or types). */
static void add_change(struct compare *c, const struct node *live, const struct node *want)
{
	struct buf *out;
	bool same_text;

	if (!is_printable(live) || !is_printable(want)) {
		add_word(c, "changed");
		return;
	}
	out = begin_entry(c);
	if (!out)
		return;
	same_text = live->len == want->len && memcmp(live->str, want->str, live->len) == 0;
	add_scalar(out, live, same_text);
	buf_addstr(out, " -> ");
	add_scalar(out, want, same_text);
}

static int compare_key_nodes(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a;
	const struct node *y = *(const struct node *const *)b;
	size_t len = x->len < y->len ? x->len : y->len;
	int cmp = memcmp(x->str, y->str, len);

	if (cmp)
		return cmp;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* The value under key (compared as bytes: keys may hold NUL), NULL if absent. */
static const struct node *map_lookup(const struct node *map, const struct node *key)
{
	ssize_t i = node_map_index_len(map, key->str, key->len);

	return i < 0 ? NULL : map->pairs[i].value;
}

static void walk(struct compare *c, const struct node *live, const struct node *want);

/* Both sides are mappings: every key either has, in byte order. */
static void walk_map(struct compare *c, const struct node *live, const struct node *want)
{
	size_t total = live->count + want->count, n = 0, base = c->path.len;
	const struct node **keys = xmalloc((total ? total : 1) * sizeof(*keys));

	for (size_t i = 0; i < live->count; i++)
		keys[n++] = live->pairs[i].key;
	for (size_t i = 0; i < want->count; i++)
		keys[n++] = want->pairs[i].key;
	qsort(keys, n, sizeof(*keys), compare_key_nodes);
	for (size_t i = 0; i < n; i++) {
		const struct node *live_value, *want_value;

		if (i > 0 && compare_key_nodes(&keys[i - 1], &keys[i]) == 0)
			continue;
		live_value = map_lookup(live, keys[i]);
		want_value = map_lookup(want, keys[i]);
		if (base)
			buf_addch(&c->path, '.');
		buf_add(&c->path, keys[i]->str, keys[i]->len);
		if (!live_value)
			add_word(c, "added");
		else if (!want_value)
			add_word(c, "removed");
		else
			walk(c, live_value, want_value);
		buf_truncate(&c->path, base);
	}
	free(keys);
}

static void walk(struct compare *c, const struct node *live, const struct node *want)
{
	size_t base = c->path.len;

	if (node_equal(live, want))
		return;
	if (live->type == NODE_MAP && want->type == NODE_MAP) {
		walk_map(c, live, want);
	} else if (live->type == NODE_SEQ && want->type == NODE_SEQ && live->count == want->count) {
		for (size_t i = 0; i < live->count; i++) {
			buf_addf(&c->path, "[%zu]", i);
			walk(c, live->items[i], want->items[i]);
			buf_truncate(&c->path, base);
		}
	} else {
		add_change(c, live, want);
	}
}

/* ---- the diff ---- */

static void add_diff(const struct node *live, const struct node *want, const char *label,
		     struct buf *diff)
{
	struct buf live_yaml = BUF_INIT, want_yaml = BUF_INIT;
	char *from = xasprintf("live/%s", label ? label : "object");
	char *to = xasprintf("git/%s", label ? label : "object");

	if (live)
		node_emit_yaml_flags(live, YAML_EMIT_SORT_KEYS, &live_yaml);
	if (want)
		node_emit_yaml_flags(want, YAML_EMIT_SORT_KEYS, &want_yaml);
	udiff(live_yaml.data ? live_yaml.data : "", live_yaml.len,
	      want_yaml.data ? want_yaml.data : "", want_yaml.len, from, to, 3, diff);
	free(from);
	free(to);
	buf_release(&live_yaml);
	buf_release(&want_yaml);
}

int kube_compare(const struct node *live, const struct node *want, const char *label,
		 struct buf *summary, struct buf *diff)
{
	struct compare c = {summary, BUF_INIT, 0};

	if (node_equal(live, want))
		return 0;
	/* A missing side (to create, or gone) leaves the summary empty: the diff says it all. */
	if (live && want && summary) {
		walk(&c, live, want);
		if (c.entries > SUMMARY_MAX_ENTRIES)
			buf_addf(summary, ", and %u more", c.entries - SUMMARY_MAX_ENTRIES);
		buf_release(&c.path);
	}
	if (diff)
		add_diff(live, want, label, diff);
	return 1;
}
