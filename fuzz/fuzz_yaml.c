/*
 * Fuzz target for YAML and JSON documents. Nothing may crash, and for every
 * document that parses:
 *   - its YAML (node_emit_yaml) parses back to one document with the same
 *     canonical JSON;
 *   - its JSON (node_emit_json, compact and pretty) parses back, as a .json
 *     file, to the same canonical JSON (unless it holds NaN or an infinity,
 *     which JSON writes as strings);
 *   - its kustomize-style YAML (YAML_EMIT_KUSTOMIZE) parses back.
 * A broken invariant prints both sides and aborts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_non_finite(const struct node *n)
{
	if (n->type == NODE_FLOAT)
		return !isfinite(n->as.real);
	for (size_t i = 0; n->type == NODE_SEQ && i < n->count; i++)
		if (has_non_finite(n->items[i]))
			return true;
	for (size_t i = 0; n->type == NODE_MAP && i < n->count; i++)
		if (has_non_finite(n->pairs[i].value))
			return true;
	return false;
}

static void fail(const char *what, const struct buf *text, const struct buf *want,
		 const struct buf *got, const char *msg)
{
	fprintf(stderr, "fuzz_yaml: %s\n--- emitted:\n%.*s\n--- canonical before:\n%.*s\n", what,
		(int)text->len, text->data ? text->data : "", (int)want->len,
		want->data ? want->data : "");
	if (got)
		fprintf(stderr, "--- canonical after:\n%.*s\n", (int)got->len,
			got->data ? got->data : "");
	if (msg)
		fprintf(stderr, "--- error: %s\n", msg);
	abort();
}

/* Parses text as file and checks it holds one document whose canonical JSON is want. */
static void check_reparse(const char *what, const char *file, const struct buf *text,
			  const struct buf *want, bool compare)
{
	struct arena arena = ARENA_INIT;
	struct vec docs = VEC_INIT;
	struct error err = ERROR_INIT;
	struct buf got = BUF_INIT;

	if (yaml_parse(&arena, file, text->data, text->len, NULL, &docs, &err) != 0)
		fail(what, text, want, NULL, err.msg);
	if (docs.len != 1)
		fail(what, text, want, NULL, "not exactly one document");
	if (compare) {
		const struct yaml_doc *doc = docs.items[0];

		if (node_canonical_json(doc->root, &got) != 0)
			fail(what, text, want, NULL, "canonical JSON failed");
		if (got.len != want->len || memcmp(got.data, want->data, got.len) != 0)
			fail(what, text, want, &got, NULL);
	}
	buf_release(&got);
	vec_release(&docs, NULL);
	arena_release(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* small caps keep alias bombs and deep nests cheap */
	struct yaml_opts opts = {.max_bytes = 1 << 20, .max_depth = 100};
	struct arena arena = ARENA_INIT;
	struct vec docs = VEC_INIT;
	struct buf canonical = BUF_INIT, text = BUF_INIT;
	size_t i;
	const struct yaml_doc *doc;

	/* the first byte picks YAML or JSON mode */
	const char *file = size && data[0] == '{' ? "fuzz.json" : "fuzz.yaml";

	if (yaml_parse(&arena, file, (const char *)data, size, &opts, &docs, NULL) != 0)
		goto out;
	vec_foreach (&docs, i, doc) {
		bool finite = !has_non_finite(doc->root);

		buf_reset(&canonical);
		if (node_canonical_json(doc->root, &canonical) != 0)
			abort();

		buf_reset(&text);
		if (node_emit_yaml(doc->root, &text) != 0)
			abort();
		check_reparse("YAML round trip", "emitted.yaml", &text, &canonical, true);

		buf_reset(&text);
		if (node_emit_json(doc->root, 0, &text) != 0)
			abort();
		check_reparse("compact JSON round trip", "emitted.json", &text, &canonical, finite);

		buf_reset(&text);
		if (node_emit_json(doc->root, 2, &text) != 0)
			abort();
		check_reparse("pretty JSON round trip", "emitted.json", &text, &canonical, finite);

		buf_reset(&text);
		if (node_emit_yaml_flags(doc->root, YAML_EMIT_KUSTOMIZE, &text) != 0)
			abort();
		check_reparse("kustomize YAML", "emitted.yaml", &text, &canonical, false);
	}
out:
	buf_release(&canonical);
	buf_release(&text);
	vec_release(&docs, NULL);
	arena_release(&arena);
	return 0;
}
