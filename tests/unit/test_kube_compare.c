/* Unit tests for comparing live and desired objects (src/targets/kube/compare.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "targets/kube/kube.h"
#include "yaml/yaml.h"

#include "fixture.h"

static const char *text_of(const struct buf *b)
{
	return b->data ? b->data : "";
}

static void assert_contains(const struct buf *b, const char *want)
{
	if (!strstr(text_of(b), want))
		fail_msg("'%s' does not contain '%s'", text_of(b), want);
}

/* Lines of a unified diff that start with sign, not counting the "---"/"+++" labels. */
static unsigned count_lines(const char *text, char sign)
{
	unsigned count = 0;

	for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
		if (line[0] == sign && strncmp(line, sign == '-' ? "--- " : "+++ ", 4) != 0)
			count++;
		if (!strchr(line, '\n'))
			break;
	}
	return count;
}

/*
 * Compares two fixtures and checks the result and the whole summary; the
 * same result must come back without a summary or a diff.
 */
static void check_summary(const char *live_text, const char *want_text, int want_rc,
			  const char *want_summary)
{
	struct arena arena = ARENA_INIT;
	struct buf summary = BUF_INIT, diff = BUF_INIT;
	const struct node *live = parse_object(&arena, live_text);
	const struct node *want = parse_object(&arena, want_text);
	int rc = kube_compare(live, want, "web/Deployment/api", &summary, &diff);

	if (rc != want_rc)
		fail_msg("got %d, want %d (summary '%s')", rc, want_rc, text_of(&summary));
	if (strcmp(text_of(&summary), want_summary) != 0)
		fail_msg("summary is '%s', want '%s'", text_of(&summary), want_summary);
	/* a diff exactly when they differ */
	assert_int_equal(diff.len != 0, want_rc);
	assert_int_equal(kube_compare(live, want, "web/Deployment/api", NULL, NULL), want_rc);
	buf_release(&summary);
	buf_release(&diff);
	arena_release(&arena);
}

static const char deployment[] = "apiVersion: apps/v1\n"
				 "kind: Deployment\n"
				 "metadata:\n"
				 "  name: api\n"
				 "  namespace: web\n"
				 "  labels: {tier: web}\n"
				 "spec:\n"
				 "  replicas: 3\n"
				 "  selector: {matchLabels: {app: api}}\n"
				 "  template:\n"
				 "    metadata: {labels: {app: api}}\n"
				 "    spec:\n"
				 "      containers:\n"
				 "      - name: api\n"
				 "        image: a:1\n"
				 "        ports: [{containerPort: 80}]\n";

/* ---- kube_strip_server_fields ---- */

static void test_strip_removes_server_fields(void **state)
{
	static const char live_text[] =
		"apiVersion: v1\n"
		"kind: ConfigMap\n"
		"metadata:\n"
		"  name: c\n"
		"  namespace: web\n"
		"  uid: 0b1c2d3e-0000-4000-8000-000000000001\n"
		"  resourceVersion: '12345'\n"
		"  generation: 4\n"
		"  creationTimestamp: '2024-05-01T10:00:00Z'\n"
		"  selfLink: /api/v1/namespaces/web/configmaps/c\n"
		"  managedFields:\n"
		"  - {manager: plumb, operation: Apply, fieldsType: FieldsV1}\n"
		"  annotations: {owner: team-a}\n"
		"  labels: {tier: web}\n"
		"data: {key: value}\n"
		"status: {phase: Whatever}\n";
	static const char *const gone[] = {"managedFields", "resourceVersion",	 "uid",
					   "generation",    "creationTimestamp", "selfLink"};
	struct arena arena = ARENA_INIT;
	struct node *live = parse_object(&arena, live_text);
	struct node *stripped = kube_strip_server_fields(&arena, live);
	struct node *metadata = node_get(stripped, "metadata");

	(void)state;
	assert_non_null(metadata);
	for (size_t i = 0; i < ARRAY_SIZE(gone); i++) {
		if (node_get(metadata, gone[i]))
			fail_msg("metadata.%s was kept", gone[i]);
		/* the input is left as it was: the result is a copy */
		if (!node_get(node_get(live, "metadata"), gone[i]))
			fail_msg("metadata.%s was removed from the input", gone[i]);
	}
	assert_null(node_get(stripped, "status"));
	assert_non_null(node_get(live, "status"));
	assert_string_equal(node_string(node_get(metadata, "name")), "c");
	assert_string_equal(node_string(node_get(metadata, "namespace")), "web");
	assert_string_equal(node_string(node_get(node_get(metadata, "annotations"), "owner")),
			    "team-a");
	assert_string_equal(node_string(node_get(node_get(metadata, "labels"), "tier")), "web");
	assert_string_equal(node_string(node_get(node_get(stripped, "data"), "key")), "value");
	assert_int_equal(metadata->count, 4);
	assert_int_equal(stripped->count, 4);
	arena_release(&arena);
}

static void test_strip_drops_empty_annotations_and_labels(void **state)
{
	struct arena arena = ARENA_INIT;
	struct node *obj =
		parse_object(&arena, "apiVersion: v1\n"
				     "kind: ConfigMap\n"
				     "metadata: {name: c, annotations: {}, labels: {}}\n");
	struct node *no_value = parse_object(&arena, "kind: ConfigMap\n"
						     "metadata:\n"
						     "  name: c\n"
						     "  labels:\n");
	struct node *stripped;

	(void)state;
	stripped = kube_strip_server_fields(&arena, obj);
	assert_int_equal(node_map_index(node_get(stripped, "metadata"), "annotations"), -1);
	assert_int_equal(node_map_index(node_get(stripped, "metadata"), "labels"), -1);
	assert_non_null(node_get(node_get(stripped, "metadata"), "name"));
	stripped = kube_strip_server_fields(&arena, no_value);
	assert_int_equal(node_map_index(node_get(stripped, "metadata"), "labels"), -1);
	arena_release(&arena);
}

static void test_strip_then_compare_equal(void **state)
{
	struct arena arena = ARENA_INIT;
	struct node *live = parse_object(&arena, "apiVersion: v1\n"
						 "kind: ConfigMap\n"
						 "metadata:\n"
						 "  name: c\n"
						 "  uid: abc\n"
						 "  resourceVersion: '7'\n"
						 "  creationTimestamp: '2024-05-01T10:00:00Z'\n"
						 "  annotations: {}\n"
						 "data: {key: value}\n"
						 "status: {}\n");
	struct node *want = parse_object(&arena, "apiVersion: v1\n"
						 "kind: ConfigMap\n"
						 "metadata: {name: c}\n"
						 "data: {key: value}\n");
	struct buf summary = BUF_INIT, diff = BUF_INIT;

	(void)state;
	assert_int_equal(kube_compare(live, want, "web/ConfigMap/c", &summary, &diff), 1);
	buf_reset(&summary);
	buf_reset(&diff);
	assert_int_equal(kube_compare(kube_strip_server_fields(&arena, live),
				      kube_strip_server_fields(&arena, want), "web/ConfigMap/c",
				      &summary, &diff),
			 0);
	assert_int_equal(summary.len, 0);
	assert_int_equal(diff.len, 0);
	buf_release(&summary);
	buf_release(&diff);
	arena_release(&arena);
}

static void test_strip_null_and_non_mapping(void **state)
{
	struct arena arena = ARENA_INIT;
	struct node *seq = parse_object(&arena, "[1, {status: x}]");
	struct node *copy;

	(void)state;
	assert_null(kube_strip_server_fields(&arena, NULL));
	copy = kube_strip_server_fields(&arena, seq);
	assert_ptr_not_equal(copy, seq);
	assert_true(node_equal(copy, seq));
	arena_release(&arena);
}

/* ---- kube_compare: the summary ---- */

static void test_equal_whatever_key_order(void **state)
{
	(void)state;
	check_summary(deployment,
		      "kind: Deployment\n"
		      "spec:\n"
		      "  template:\n"
		      "    spec:\n"
		      "      containers:\n"
		      "      - ports: [{containerPort: 80}]\n"
		      "        image: a:1\n"
		      "        name: api\n"
		      "    metadata: {labels: {app: api}}\n"
		      "  selector: {matchLabels: {app: api}}\n"
		      "  replicas: 3\n"
		      "metadata:\n"
		      "  labels: {tier: web}\n"
		      "  namespace: web\n"
		      "  name: api\n"
		      "apiVersion: apps/v1\n",
		      0, "");
}

static void test_scalar_change(void **state)
{
	(void)state;
	check_summary("{kind: Deployment, spec: {replicas: 3, paused: false}}",
		      "{kind: Deployment, spec: {replicas: 1, paused: false}}", 1,
		      "spec.replicas: 3 -> 1");
}

static void test_label_changed_added_removed(void **state)
{
	(void)state;
	check_summary("{metadata: {labels: {tier: web}}}", "{metadata: {labels: {tier: hacked}}}",
		      1, "metadata.labels.tier: web -> hacked");
	check_summary("{metadata: {labels: {tier: web}}}",
		      "{metadata: {labels: {tier: web, plumb.dev/app: web}}}", 1,
		      "metadata.labels.plumb.dev/app: added");
	check_summary("{kind: ConfigMap, data: {key: v, other: w}}",
		      "{kind: ConfigMap, data: {other: w}}", 1, "data.key: removed");
}

static void test_list_element_change_has_index(void **state)
{
	(void)state;
	check_summary("{spec: {template: {spec: {containers: [{name: side, image: s:1},\n"
		      "                                        {name: api, image: a:1}]}}}}",
		      "{spec: {template: {spec: {containers: [{name: side, image: s:1},\n"
		      "                                        {name: api, image: a:2}]}}}}",
		      1, "spec.template.spec.containers[1].image: a:1 -> a:2");
	check_summary("{args: [--a, --b]}", "{args: [--a, --c]}", 1, "args[1]: --b -> --c");
}

static void test_sequence_length_named_once(void **state)
{
	(void)state;
	check_summary("{spec: {ports: [{port: 80}, {port: 443}]}}",
		      "{spec: {ports: [{port: 8080}]}}", 1, "spec.ports: changed");
	check_summary("{spec: {ports: []}}", "{spec: {ports: [{port: 80}]}}", 1,
		      "spec.ports: changed");
}

static void test_long_and_non_scalar_values_not_printed(void **state)
{
	(void)state;
	/* 40 bytes are printed, 41 are not */
	check_summary("{data: {k: 0123456789012345678901234567890123456789}}", "{data: {k: short}}",
		      1, "data.k: 0123456789012345678901234567890123456789 -> short");
	check_summary("{data: {k: 01234567890123456789012345678901234567890}}",
		      "{data: {k: short}}", 1, "data.k: changed");
	check_summary("{data: {k: short}}",
		      "{data: {k: 01234567890123456789012345678901234567890}}", 1,
		      "data.k: changed");
	/* a mapping where there was a scalar */
	check_summary("{spec: {x: 1}}", "{spec: {x: {y: 1}}}", 1, "spec.x: changed");
	/* a multi-line value would break the line */
	check_summary("{data: {k: \"a\\nb\"}}", "{data: {k: c}}", 1, "data.k: changed");
}

static void test_more_than_eight_changes(void **state)
{
	(void)state;
	check_summary("{data: {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1, i: 1, j: 1, k: 1}}",
		      "{data: {k: 2, j: 2, i: 2, h: 2, g: 2, f: 2, e: 2, d: 2, c: 2, b: 2, a: 2}}",
		      1,
		      "data.a: 1 -> 2, data.b: 1 -> 2, data.c: 1 -> 2, data.d: 1 -> 2, "
		      "data.e: 1 -> 2, data.f: 1 -> 2, data.g: 1 -> 2, data.h: 1 -> 2, "
		      "and 3 more");
	/* exactly eight: no "more" */
	check_summary("{data: {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1}}",
		      "{data: {a: 2, b: 2, c: 2, d: 2, e: 2, f: 2, g: 2, h: 2}}", 1,
		      "data.a: 1 -> 2, data.b: 1 -> 2, data.c: 1 -> 2, data.d: 1 -> 2, "
		      "data.e: 1 -> 2, data.f: 1 -> 2, data.g: 1 -> 2, data.h: 1 -> 2");
}

static void test_summary_in_key_order(void **state)
{
	(void)state;
	/* whatever order either side has, fields come in byte order */
	check_summary("{spec: {z: 1, a: 1}, metadata: {labels: {b: x}}}",
		      "{spec: {a: 2, z: 2}, metadata: {labels: {a: x}}}", 1,
		      "metadata.labels.a: added, metadata.labels.b: removed, spec.a: 1 -> 2, "
		      "spec.z: 1 -> 2");
}

static void test_int_and_float_compare_equal(void **state)
{
	(void)state;
	check_summary("{spec: {replicas: 1, limits: [{cpu: 2}]}}",
		      "{spec: {replicas: 1.0, limits: [{cpu: 2.0}]}}", 0, "");
	check_summary("{spec: {replicas: 1}}", "{spec: {replicas: 1.5}}", 1,
		      "spec.replicas: 1 -> 1.5");
}

static void test_type_change_same_text(void **state)
{
	(void)state;
	check_summary("{spec: {replicas: 3}}", "{spec: {replicas: '3'}}", 1,
		      "spec.replicas: 3 -> \"3\"");
	check_summary("{data: {k: ''}}", "{data: {k: x}}", 1, "data.k: \"\" -> x");
	check_summary("{data: {k: null}}", "{data: {k: x}}", 1, "data.k: null -> x");
}

static void test_summary_appends(void **state)
{
	struct arena arena = ARENA_INIT;
	struct buf summary = BUF_INIT;
	const struct node *live = parse_object(&arena, "{spec: {replicas: 3}}");
	const struct node *want = parse_object(&arena, "{spec: {replicas: 1}}");

	(void)state;
	assert_int_equal(buf_addstr(&summary, "drift: "), 0);
	assert_int_equal(kube_compare(live, want, "web/Deployment/api", &summary, NULL), 1);
	assert_string_equal(summary.data, "drift: spec.replicas: 3 -> 1");
	buf_release(&summary);
	arena_release(&arena);
}

/* ---- kube_compare: missing sides and the diff ---- */

static void test_live_null_everything_added(void **state)
{
	struct arena arena = ARENA_INIT;
	struct buf summary = BUF_INIT, diff = BUF_INIT;
	const struct node *want = parse_object(&arena, "apiVersion: v1\n"
						       "kind: ConfigMap\n"
						       "metadata: {name: c, namespace: web}\n"
						       "data: {key: value}\n");

	(void)state;
	assert_int_equal(kube_compare(NULL, want, "web/ConfigMap/c", &summary, &diff), 1);
	assert_int_equal(summary.len, 0);
	assert_string_equal(text_of(&diff), "--- live/web/ConfigMap/c\n"
					    "+++ git/web/ConfigMap/c\n"
					    "@@ -0,0 +1,7 @@\n"
					    "+apiVersion: v1\n"
					    "+data:\n"
					    "+  key: value\n"
					    "+kind: ConfigMap\n"
					    "+metadata:\n"
					    "+  name: c\n"
					    "+  namespace: web\n");
	assert_int_equal(kube_compare(NULL, want, "web/ConfigMap/c", NULL, NULL), 1);
	buf_release(&summary);
	buf_release(&diff);
	arena_release(&arena);
}

static void test_want_null_everything_removed(void **state)
{
	struct arena arena = ARENA_INIT;
	struct buf summary = BUF_INIT, diff = BUF_INIT;
	const struct node *live = parse_object(&arena, "{kind: ConfigMap, metadata: {name: c}}");

	(void)state;
	assert_int_equal(kube_compare(live, NULL, "web/ConfigMap/c", &summary, &diff), 1);
	assert_int_equal(summary.len, 0);
	assert_contains(&diff, "@@ -1,3 +0,0 @@\n-kind: ConfigMap\n-metadata:\n-  name: c\n");
	assert_int_equal(kube_compare(NULL, NULL, "web/ConfigMap/c", &summary, &diff), 0);
	buf_release(&summary);
	buf_release(&diff);
	arena_release(&arena);
}

static void test_diff_lines_and_labels(void **state)
{
	struct arena arena = ARENA_INIT;
	struct buf summary = BUF_INIT, diff = BUF_INIT;
	const struct node *live = parse_object(&arena, deployment);
	struct node *want = node_clone(&arena, parse_object(&arena, deployment));
	const char *text;

	(void)state;
	node_map_set(&arena, node_get(want, "spec"), "replicas", node_new_int(&arena, 1));
	assert_int_equal(kube_compare(live, want, "web/Deployment/api", &summary, &diff), 1);
	assert_string_equal(summary.data, "spec.replicas: 3 -> 1");
	text = text_of(&diff);
	/* labels first, then one hunk: sorted keys, three lines of context each side */
	assert_true(
		strncmp(text, "--- live/web/Deployment/api\n+++ git/web/Deployment/api\n@@ ",
			strlen("--- live/web/Deployment/api\n+++ git/web/Deployment/api\n@@ ")) ==
		0);
	assert_contains(&diff, "   namespace: web\n"
			       " spec:\n"
			       "-  replicas: 3\n"
			       "+  replicas: 1\n"
			       "   selector:\n"
			       "     matchLabels:\n"
			       "       app: api\n");
	/* one change, so exactly one line removed and one added, and far fields left out */
	assert_int_equal(count_lines(text, '-'), 1);
	assert_int_equal(count_lines(text, '+'), 1);
	assert_null(strstr(text, "kind: Deployment"));
	buf_release(&summary);
	buf_release(&diff);
	arena_release(&arena);
}

static void test_diff_ignores_key_order(void **state)
{
	struct arena arena = ARENA_INIT;
	struct buf diff = BUF_INIT;
	const struct node *live = parse_object(&arena, "{b: 1, a: 1, c: {q: 1, p: 1}}");
	const struct node *want = parse_object(&arena, "{c: {p: 1, q: 2}, a: 1, b: 1}");

	(void)state;
	assert_int_equal(kube_compare(live, want, "web/Widget/w", NULL, &diff), 1);
	assert_string_equal(text_of(&diff), "--- live/web/Widget/w\n"
					    "+++ git/web/Widget/w\n"
					    "@@ -2,4 +2,4 @@\n"
					    " b: 1\n"
					    " c:\n"
					    "   p: 1\n"
					    "-  q: 1\n"
					    "+  q: 2\n");
	buf_release(&diff);
	arena_release(&arena);
}

static void test_null_summary_or_diff(void **state)
{
	struct arena arena = ARENA_INIT;
	struct buf summary = BUF_INIT, diff = BUF_INIT;
	const struct node *live = parse_object(&arena, "{data: {k: a}}");
	const struct node *want = parse_object(&arena, "{data: {k: b}}");

	(void)state;
	assert_int_equal(kube_compare(live, want, "x", NULL, NULL), 1);
	assert_int_equal(kube_compare(live, want, "x", &summary, NULL), 1);
	assert_string_equal(summary.data, "data.k: a -> b");
	assert_int_equal(kube_compare(live, want, "x", NULL, &diff), 1);
	assert_contains(&diff, "-  k: a\n+  k: b\n");
	assert_int_equal(kube_compare(live, live, "x", NULL, NULL), 0);
	buf_release(&summary);
	buf_release(&diff);
	arena_release(&arena);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_removes_server_fields),
		cmocka_unit_test(test_strip_drops_empty_annotations_and_labels),
		cmocka_unit_test(test_strip_then_compare_equal),
		cmocka_unit_test(test_strip_null_and_non_mapping),
		cmocka_unit_test(test_equal_whatever_key_order),
		cmocka_unit_test(test_scalar_change),
		cmocka_unit_test(test_label_changed_added_removed),
		cmocka_unit_test(test_list_element_change_has_index),
		cmocka_unit_test(test_sequence_length_named_once),
		cmocka_unit_test(test_long_and_non_scalar_values_not_printed),
		cmocka_unit_test(test_more_than_eight_changes),
		cmocka_unit_test(test_summary_in_key_order),
		cmocka_unit_test(test_int_and_float_compare_equal),
		cmocka_unit_test(test_type_change_same_text),
		cmocka_unit_test(test_summary_appends),
		cmocka_unit_test(test_live_null_everything_added),
		cmocka_unit_test(test_want_null_everything_removed),
		cmocka_unit_test(test_diff_lines_and_labels),
		cmocka_unit_test(test_diff_ignores_key_order),
		cmocka_unit_test(test_null_summary_or_diff),
	};

	return cmocka_run_group_tests_name("kube_compare", tests, NULL, NULL);
}
