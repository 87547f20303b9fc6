/*
 * Fuzz target for what the Kubernetes target reads from the API server:
 * Status bodies of failed responses (kube_status_error), live objects' health
 * (kube_health_of) and the comparison of a live object with the wanted one
 * (kube_strip_server_fields, kube_compare).
 *
 * The first byte of the input picks the HTTP status (its value modulo 10
 * indexes statuses[]: the seeds use '(' + index); the rest is the body.
 * The body is also split at its first NUL byte into two YAML streams, live
 * and wanted (all of it is live when there is no NUL). Every document of
 * both gets kube_health_of (at a fixed now), and the first documents of the
 * two, stripped, are compared with a summary and a diff. Nothing may crash or
 * leak, and:
 *   - a status from 400 up gives a negative code and a message;
 *   - an object not Current says why, and the health does not depend on
 *     whether a reason is asked for;
 *   - a stripped object is stripped already (stripping it again changes
 *     nothing), so it compares equal to its copy;
 *   - kube_compare agrees with node_equal, and two objects that differ give a
 *     diff, and a summary when both exist.
 * The comparison checks skip objects holding NaN, which equals nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets/kube/kube.h"
#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

static void fail(const char *what, const struct buf *summary, const struct buf *diff)
{
	fprintf(stderr, "fuzz_kube: %s\n", what);
	if (summary && summary->data)
		fprintf(stderr, "--- summary:\n%s\n", summary->data);
	if (diff && diff->data)
		fprintf(stderr, "--- diff:\n%s\n", diff->data);
	abort();
}

static bool has_nan(const struct node *n)
{
	if (!n)
		return false;
	if (n->type == NODE_FLOAT)
		return isnan(n->as.real);
	for (size_t i = 0; n->type == NODE_SEQ && i < n->count; i++)
		if (has_nan(n->items[i]))
			return true;
	for (size_t i = 0; n->type == NODE_MAP && i < n->count; i++)
		if (has_nan(n->pairs[i].key) || has_nan(n->pairs[i].value))
			return true;
	return false;
}

static void check_status(long status, const char *body, size_t len)
{
	struct kube_response r = {.status = status, .body = BUF_INIT};
	struct error err = ERROR_INIT;
	int rc;

	buf_add(&r.body, body, len);
	rc = kube_status_error(&r, &err);
	if (status >= 400 && (rc >= 0 || !err.msg[0] || err.code != rc))
		fail("kube_status_error: no error for a failed status", NULL, NULL);
	if (status < 400 && rc != 0)
		fail("kube_status_error: an error for a success", NULL, NULL);
	kube_response_release(&r);
}

static void check_health(const struct vec *docs)
{
	const struct yaml_doc *doc;
	size_t i;

	vec_foreach (docs, i, doc) {
		struct buf why = BUF_INIT;
		enum kube_health health;

		buf_init(&why, 1u << 20);
		health = kube_health_of(doc->root, NOW, &why);
		if (strcmp(kube_health_name(health), "Unknown") == 0)
			fail("kube_health_of: not a health", NULL, NULL);
		/* anything not Current says why */
		if (health != KUBE_CURRENT && !why.len)
			fail("kube_health_of: no reason", NULL, NULL);
		if (kube_health_of(doc->root, NOW, NULL) != health)
			fail("kube_health_of: another health without a reason buffer", NULL, NULL);
		buf_release(&why);
	}
}

static void check_compare(struct arena *arena, const struct node *live_obj,
			  const struct node *want_obj)
{
	struct node *live = live_obj ? kube_strip_server_fields(arena, live_obj) : NULL;
	struct node *want = kube_strip_server_fields(arena, want_obj);
	struct node *again = kube_strip_server_fields(arena, want);
	bool check = !has_nan(live) && !has_nan(want);
	struct buf summary = BUF_INIT, diff = BUF_INIT;
	int differ;

	buf_init(&summary, 8u << 20);
	buf_init(&diff, 8u << 20);
	if (kube_compare(again, want, "self", &summary, &diff) != 0 && check)
		fail("kube_compare: a stripped object differs from its copy", &summary, &diff);
	buf_reset(&summary);
	buf_reset(&diff);
	differ = kube_compare(live, want, "fuzz/object", &summary, &diff);
	if (check && differ != !node_equal(live, want))
		fail("kube_compare: disagrees with node_equal", &summary, &diff);
	if (check && differ && !diff.len)
		fail("kube_compare: differs without a diff", &summary, &diff);
	if (check && differ && live && !summary.len)
		fail("kube_compare: differs without a summary", &summary, &diff);
	/* without buffers it only tells */
	if (kube_compare(live, want, NULL, NULL, NULL) != differ)
		fail("kube_compare: another answer without buffers", NULL, NULL);
	buf_release(&summary);
	buf_release(&diff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {400, 401, 403, 404, 409, 422, 429, 500, 503, 200};
	/* small caps keep alias bombs and deep nests cheap */
	struct yaml_opts opts = {.max_bytes = 1 << 20, .max_depth = 64};
	struct arena arena = ARENA_INIT;
	struct vec live_docs = VEC_INIT, want_docs = VEC_INIT;
	const char *body, *nul;
	size_t len, live_len;

	if (size < 1 || size > 65536)
		return 0;
	body = (const char *)data + 1;
	len = size - 1;
	check_status(statuses[data[0] % ARRAY_SIZE(statuses)], body, len);

	nul = memchr(body, '\0', len);
	live_len = nul ? (size_t)(nul - body) : len;
	if (yaml_parse(&arena, "live.yaml", body, live_len, &opts, &live_docs, NULL) != 0)
		vec_release(&live_docs, NULL);
	if (nul && yaml_parse(&arena, "git.yaml", nul + 1, len - live_len - 1, &opts, &want_docs,
			      NULL) != 0)
		vec_release(&want_docs, NULL);
	check_health(&live_docs);
	check_health(&want_docs);
	if (want_docs.len) {
		const struct yaml_doc *want = want_docs.items[0];
		const struct yaml_doc *live = live_docs.len ? live_docs.items[0] : NULL;

		check_compare(&arena, live ? live->root : NULL, want->root);
	} else if (live_docs.len) {
		const struct yaml_doc *live = live_docs.items[0];

		check_compare(&arena, NULL, live->root);
	}
	vec_release(&live_docs, NULL);
	vec_release(&want_docs, NULL);
	arena_release(&arena);
	return 0;
}
