/*
 * Tests for the Kubernetes REST client and discovery (src/targets/kube/client.c,
 * discovery.c) against the real control plane tests/kube/start runs: run it
 * through tests/kube/client-test, which sets KUBECONFIG to the plane's
 * admin.kubeconfig (certificate authentication, a CA of its own).
 *
 * Everything the tests create lives in the namespace NS, or is cluster-scoped
 * with a name starting "plumb-client-test"; the plane is thrown away afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "targets/kube/kube_int.h"
#include "yaml/yaml.h"

#define NS	  "plumb-client-test"
#define CRD_GROUP "client.plumb.dev"
#define APPLY	  "application/apply-patch+yaml"

static struct kube_config *cfg;
static struct kube_client *client;

/* ---- helpers ---- */

static void check_ok(int rc, const struct error *err)
{
	if (rc < 0)
		fail_msg("%s: %s", error_code_name(rc), err->msg);
}

/* Server-side apply of a JSON body to path as manager; returns the HTTP status. */
static long apply(const char *path, const char *body, const char *manager, bool force, bool dry_run,
		  struct kube_response *out)
{
	struct error err = ERROR_INIT;
	char *url = xasprintf("%s?fieldManager=%s%s%s", path, manager, force ? "&force=true" : "",
			      dry_run ? "&dryRun=All" : "");
	int rc = kube_request(client, "PATCH", url, APPLY, body, strlen(body), NULL, out, &err);

	free(url);
	check_ok(rc, &err);
	return out->status;
}

static long get(const char *path, struct kube_response *out)
{
	struct error err = ERROR_INIT;
	int rc = kube_request(client, "GET", path, NULL, NULL, 0, NULL, out, &err);

	check_ok(rc, &err);
	return out->status;
}

/* The path of an object of a kind the server must serve. */
static char *path_of(const char *group, const char *version, const char *kind,
		     const char *namespace, const char *name)
{
	const struct kube_resource *res = kube_resource_find(client, group, version, kind);

	if (!res)
		fail_msg("no resource for %s/%s %s", group, version, kind);
	return kube_object_path(res, namespace, name);
}

/* A string in the response body's JSON at a dotted path ("metadata.name"), or NULL. */
static char *body_string(const struct kube_response *r, const char *dotted)
{
	struct arena arena = ARENA_INIT;
	struct vec docs = VEC_INIT;
	struct error err = ERROR_INIT;
	const struct node *n;
	char *copy = xstrdup(dotted), *save = NULL, *part;
	char *result = NULL;

	if (yaml_parse(&arena, "body", r->body.data, r->body.len, NULL, &docs, &err) < 0)
		fail_msg("%s", err.msg);
	n = docs.len ? ((struct yaml_doc *)docs.items[0])->root : NULL;
	for (part = strtok_r(copy, ".", &save); part && n; part = strtok_r(NULL, ".", &save))
		n = node_get(n, part);
	if (node_string(n))
		result = xstrdup(node_string(n));
	free(copy);
	vec_release(&docs, NULL);
	arena_release(&arena);
	return result;
}

static void assert_body_string(const struct kube_response *r, const char *dotted, const char *want)
{
	char *got = body_string(r, dotted);

	if (!got || strcmp(got, want) != 0)
		fail_msg("%s: want '%s', got '%s' in %.*s", dotted, want, got ? got : "(none)",
			 (int)r->body.len, r->body.data);
	free(got);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!haystack || !strstr(haystack, needle))
		fail_msg("'%s' not in '%s'", needle, haystack ? haystack : "(null)");
}

static double seconds_since(uint64_t start_ms)
{
	return (double)(time_monotonic_ms() - start_ms) / 1000.0;
}

/* ---- setup ---- */

static int setup(void **state)
{
	struct kube_config_opts opts = {0};
	struct error err = ERROR_INIT;
	struct kube_response r;
	char *path;

	(void)state;
	if (!getenv("KUBECONFIG")) {
		fprintf(stderr, "KUBECONFIG is not set: run through tests/kube/client-test\n");
		return -1;
	}
	if (kube_config_load(&opts, &cfg, &err) < 0 || kube_client_new(cfg, &client, &err) < 0 ||
	    kube_discover(client, false, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	path = path_of("", "v1", "Namespace", NULL, NS);
	apply(path,
	      "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" NS "\"}}",
	      "plumb", true, false, &r);
	free(path);
	if (r.status != 200 && r.status != 201) {
		fprintf(stderr, "setup: namespace: %ld %s\n", r.status, r.body.data);
		return -1;
	}
	kube_response_release(&r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kube_client_free(client);
	kube_config_free(cfg);
	return 0;
}

/* ---- discovery ---- */

static void assert_resource(const char *group, const char *version, const char *kind,
			    const char *resource, bool namespaced)
{
	const struct kube_resource *res = kube_resource_find(client, group, version, kind);

	if (!res)
		fail_msg("%s/%s %s: not discovered", group, version, kind);
	assert_string_equal(res->group, group);
	assert_string_equal(res->version, version);
	assert_string_equal(res->kind, kind);
	assert_string_equal(res->resource, resource);
	if (res->namespaced != namespaced)
		fail_msg("%s: namespaced is %d", kind, res->namespaced);
}

/* What both discovery protocols must find. */
static void check_builtin_kinds(void)
{
	char *path;

	assert_resource("", "v1", "ConfigMap", "configmaps", true);
	assert_resource("", "v1", "Namespace", "namespaces", false);
	assert_resource("apps", "v1", "Deployment", "deployments", true);
	assert_resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false);
	/* every version of a group, not only the preferred one */
	assert_resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
			true);
	assert_resource("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
			true);
	/* subresources are skipped: Scale exists only as deployments/scale and the like */
	assert_null(kube_resource_find(client, "apps", "v1", "Scale"));
	assert_null(kube_resource_find(client, "apps", "v1beta1", "Deployment"));
	assert_null(kube_resource_find(client, "", "v1", "Nonexistent"));

	path = path_of("", "v1", "ConfigMap", "web", "settings");
	assert_string_equal(path, "/api/v1/namespaces/web/configmaps/settings");
	free(path);
	path = path_of("", "v1", "ConfigMap", "web", NULL);
	assert_string_equal(path, "/api/v1/namespaces/web/configmaps");
	free(path);
	path = path_of("apps", "v1", "Deployment", "web", "api");
	assert_string_equal(path, "/apis/apps/v1/namespaces/web/deployments/api");
	free(path);
	/* cluster-scoped: the namespace is ignored; names are escaped as path segments */
	path = path_of("rbac.authorization.k8s.io", "v1", "ClusterRole", "web",
		       "system:controller:a b");
	assert_string_equal(
		path, "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:a%20b");
	free(path);
	path = path_of("", "v1", "Namespace", NULL, NULL);
	assert_string_equal(path, "/api/v1/namespaces");
	free(path);
}

static void test_discovery_aggregated(void **state)
{
	(void)state;
	check_builtin_kinds();
}

static void test_discovery_legacy(void **state)
{
	struct error err = ERROR_INIT;
	const struct kube_resource *before = kube_resource_find(client, "", "v1", "ConfigMap");
	uint64_t start = time_monotonic_ms();

	(void)state;
	kube_discovery_force_legacy(client, true);
	check_ok(kube_discover(client, true, &err), &err);
	print_message("legacy discovery: %.3f s\n", seconds_since(start));
	check_builtin_kinds();
	/* an unchanged entry is the same entry: pointers survive a refresh */
	assert_ptr_equal(kube_resource_find(client, "", "v1", "ConfigMap"), before);
	kube_discovery_force_legacy(client, false);
	start = time_monotonic_ms();
	check_ok(kube_discover(client, true, &err), &err);
	print_message("aggregated discovery: %.3f s\n", seconds_since(start));
	check_builtin_kinds();
}

#define CRD_BODY                                                                                   \
	"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","       \
	"\"metadata\":{\"name\":\"gadgets." CRD_GROUP "\"},\"spec\":{\"group\":\"" CRD_GROUP       \
	"\",\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\",\"singular\":\"gadget\","   \
	"\"kind\":\"Gadget\"},\"versions\":["                                                      \
	"{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":"       \
	"{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}},"                   \
	"{\"name\":\"v1beta1\",\"served\":true,\"storage\":false,\"schema\":{\"openAPIV3Schema\":" \
	"{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}"

/* Waits until the CRD's Established condition is True. */
static void wait_established(const char *path)
{
	for (int i = 0; i < 300; i++) {
		struct kube_response r;
		bool established = false;

		assert_int_equal(get(path, &r), 200);
		established =
			strstr(r.body.data, "\"type\":\"Established\",\"status\":\"True\"") != NULL;
		kube_response_release(&r);
		if (established)
			return;
		usleep(100 * 1000);
	}
	fail_msg("CRD %s never became Established", path);
}

static void test_discovery_crd(void **state)
{
	struct error err = ERROR_INIT;
	struct kube_response r;
	char *path;
	uint64_t start;

	(void)state;
	assert_null(kube_resource_find(client, CRD_GROUP, "v1", "Gadget"));
	path = path_of("apiextensions.k8s.io", "v1", "CustomResourceDefinition", NULL,
		       "gadgets." CRD_GROUP);
	assert_int_equal(apply(path, CRD_BODY, "plumb", true, false, &r), 201);
	kube_response_release(&r);
	start = time_monotonic_ms();
	wait_established(path);
	print_message("CRD established after %.3f s\n", seconds_since(start));
	free(path);

	/* still the old view until a refresh */
	check_ok(kube_discover(client, false, &err), &err);
	assert_null(kube_resource_find(client, CRD_GROUP, "v1", "Gadget"));
	/* aggregated discovery may lag Established by a moment */
	for (int i = 0; i < 100; i++) {
		check_ok(kube_discover(client, true, &err), &err);
		if (kube_resource_find(client, CRD_GROUP, "v1", "Gadget"))
			break;
		usleep(100 * 1000);
	}
	assert_resource(CRD_GROUP, "v1", "Gadget", "gadgets", true);
	assert_resource(CRD_GROUP, "v1beta1", "Gadget", "gadgets", true);

	/* and it serves: a custom resource applied through the discovered path */
	path = path_of(CRD_GROUP, "v1", "Gadget", NS, "g1");
	assert_int_equal(apply(path,
			       "{\"apiVersion\":\"" CRD_GROUP "/v1\",\"kind\":\"Gadget\","
			       "\"metadata\":{\"name\":\"g1\",\"namespace\":\"" NS "\"},"
			       "\"spec\":{\"size\":3}}",
			       "plumb", true, false, &r),
			 201);
	assert_body_string(&r, "metadata.name", "g1");
	kube_response_release(&r);
	free(path);
}

/* ---- server-side apply ---- */

#define CM_BODY(name, value)                                                           \
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"" NS "\"},\"data\":{\"key\":\"" value "\"}}"

static void test_apply(void **state)
{
	struct error err = ERROR_INIT;
	struct kube_response r;
	const char *body;
	char *path = path_of("", "v1", "ConfigMap", NS, "applied");

	(void)state;
	/* a dry run answers with the would-be object and stores nothing */
	assert_int_equal(apply(path, CM_BODY("applied", "dry"), "plumb", true, true, &r), 201);
	assert_body_string(&r, "data.key", "dry");
	assert_non_null(r.content_type);
	assert_contains(r.content_type, "application/json");
	kube_response_release(&r);
	assert_int_equal(get(path, &r), 404);
	kube_response_release(&r);

	/* for real: created, then applied again unchanged */
	assert_int_equal(apply(path, CM_BODY("applied", "one"), "plumb", true, false, &r), 201);
	assert_body_string(&r, "data.key", "one");
	assert_null(r.warnings);
	kube_response_release(&r);
	assert_int_equal(apply(path, CM_BODY("applied", "one"), "plumb", true, false, &r), 200);
	kube_response_release(&r);

	/* a dry-run change shows the change and leaves the object as it was */
	assert_int_equal(apply(path, CM_BODY("applied", "two"), "plumb", true, true, &r), 200);
	assert_body_string(&r, "data.key", "two");
	kube_response_release(&r);
	assert_int_equal(get(path, &r), 200);
	assert_body_string(&r, "data.key", "one");
	kube_response_release(&r);

	/* apply refuses an unknown field, with a 500 that is no server fault */
	assert_int_equal(apply(path,
			       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
			       "{\"name\":\"applied\",\"namespace\":\"" NS "\"},"
			       "\"data\":{\"key\":\"one\"},\"bogus\":1}",
			       "plumb", true, false, &r),
			 500);
	assert_int_equal(kube_status_error(&r, &err), ERR_INVALID);
	assert_contains(err.msg, "500: failed to create typed patch object");
	assert_contains(err.msg, ".bogus: field not declared in schema");
	kube_response_release(&r);
	free(path);

	/* a create with unknown fields succeeds with Warning headers, their texts captured */
	path = path_of("", "v1", "ConfigMap", NS, NULL);
	body = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	       "{\"name\":\"warned\",\"namespace\":\"" NS "\"},\"bogus\":1,\"other\":2}";
	check_ok(kube_request(client, "POST", path, "application/json", body, strlen(body), NULL,
			      &r, &err),
		 &err);
	assert_int_equal(r.status, 201);
	assert_non_null(r.warnings);
	assert_string_equal(r.warnings, "unknown field \"bogus\"\nunknown field \"other\"");
	kube_response_release(&r);
	free(path);
}

/* ---- errors ---- */

static void test_invalid_422(void **state)
{
	struct error err = ERROR_INIT;
	struct kube_response r;
	char *path = path_of("apps", "v1", "Deployment", NS, "bad");

	(void)state;
	assert_int_equal(
		apply(path,
		      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
		      "{\"name\":\"bad\",\"namespace\":\"" NS "\"},\"spec\":{\"replicas\":-1,"
		      "\"selector\":{\"matchLabels\":{\"app\":\"bad\"}},\"template\":{\"metadata\":"
		      "{\"labels\":{\"app\":\"other\"}},\"spec\":{\"containers\":"
		      "[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}",
		      "plumb", true, false, &r),
		422);
	assert_int_equal(kube_status_error(&r, &err), ERR_INVALID);
	assert_int_equal(err.code, ERR_INVALID);
	print_message("422: %s\n", err.msg);
	assert_contains(err.msg, "422 Invalid: ");
	assert_contains(err.msg,
			"spec.replicas: Invalid value: -1: must be greater than or equal to 0");
	/* every cause, each with its field */
	assert_contains(err.msg, "; spec.template.metadata.labels: Invalid value: ");
	kube_response_release(&r);
	free(path);
}

static void test_conflict_409(void **state)
{
	struct error err = ERROR_INIT;
	struct kube_response r;
	char *path = path_of("", "v1", "ConfigMap", NS, "contested");

	(void)state;
	/* "other" owns data.key ... */
	assert_int_equal(apply(path, CM_BODY("contested", "theirs"), "other", false, false, &r),
			 201);
	kube_response_release(&r);
	/* ... so plumb's different value, without force, conflicts */
	assert_int_equal(apply(path, CM_BODY("contested", "ours"), "plumb", false, false, &r), 409);
	assert_int_equal(kube_status_error(&r, &err), ERR_CONFLICT);
	print_message("409: %s\n", err.msg);
	assert_contains(err.msg, "409 Conflict: ");
	assert_contains(err.msg, ".data.key: conflict with \"other\"");
	kube_response_release(&r);
	/* the same in a dry run */
	assert_int_equal(apply(path, CM_BODY("contested", "ours"), "plumb", false, true, &r), 409);
	kube_response_release(&r);
	/* with force, plumb takes the field */
	assert_int_equal(apply(path, CM_BODY("contested", "ours"), "plumb", true, false, &r), 200);
	assert_body_string(&r, "data.key", "ours");
	kube_response_release(&r);
	free(path);
}

static void test_not_found_404(void **state)
{
	struct error err = ERROR_INIT;
	struct kube_response r;
	char *path = path_of("", "v1", "ConfigMap", NS, "nope");

	(void)state;
	assert_int_equal(get(path, &r), 404);
	assert_int_equal(kube_status_error(&r, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, "404 NotFound: configmaps \"nope\" not found");
	kube_response_release(&r);
	free(path);

	/* a path nothing serves: plain text, not a Status; quoted */
	assert_int_equal(get("/apis/nothing.example/v1/things", &r), 404);
	assert_int_equal(kube_status_error(&r, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, "404: 404 page not found");
	kube_response_release(&r);

	/* a success is no error */
	assert_int_equal(get("/api/v1/namespaces/" NS, &r), 200);
	assert_int_equal(kube_status_error(&r, &err), 0);
	kube_response_release(&r);
}

static void test_status_error_shapes(void **state)
{
	struct error err = ERROR_INIT;
	struct kube_response r = {0};

	(void)state;
	/* not a Status: a proxy's page, quoted */
	r.status = 502;
	buf_addstr(&r.body, "<html>bad gateway</html>");
	assert_int_equal(kube_status_error(&r, &err), ERR_NETWORK);
	assert_string_equal(err.msg, "502: <html>bad gateway</html>");
	buf_release(&r.body);
	r.status = 429;
	assert_int_equal(kube_status_error(&r, &err), ERR_NETWORK);
	assert_string_equal(err.msg, "429: no response body");
	r.status = 403;
	buf_addstr(&r.body, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
			    "\"message\":\"configmaps is forbidden: User \\\"x\\\" cannot list\","
			    "\"reason\":\"Forbidden\",\"code\":403}");
	assert_int_equal(kube_status_error(&r, &err), ERR_AUTH);
	assert_string_equal(err.msg,
			    "403 Forbidden: configmaps is forbidden: User \"x\" cannot list");
	buf_release(&r.body);
}

/* ---- many at once ---- */

#define MANY 50

/* The TCP connections this process holds open to the server's port (from /proc). */
static int server_connections(void)
{
	const char *colon = strrchr(cfg->server, ':');
	unsigned port = (unsigned)strtoul(colon + 1, NULL, 10);
	char line[512], target[64];
	FILE *tcp = fopen("/proc/self/net/tcp", "r");
	int count = 0;

	assert_non_null(tcp);
	while (fgets(line, sizeof(line), tcp)) {
		unsigned remote_port, st;
		unsigned long inode;
		char fd_path[64];

		if (sscanf(line, " %*d: %*x:%*x %*x:%x %x %*s %*s %*s %*s %*s %lu", &remote_port,
			   &st, &inode) != 3 ||
		    remote_port != port || st != 1 /* ESTABLISHED */)
			continue;
		/* ours, not the apiserver's end or another process's */
		snprintf(target, sizeof(target), "socket:[%lu]", inode);
		for (int fd = 0; fd < 1024; fd++) {
			char link[64];
			ssize_t n;

			snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
			n = readlink(fd_path, link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = 0;
				if (strcmp(link, target) == 0)
					count++;
			}
		}
	}
	fclose(tcp);
	return count;
}

static void test_many(void **state)
{
	struct kube_call calls[MANY];
	char *paths[MANY], *bodies[MANY];
	uint64_t start;
	double apply_s, get_s;

	(void)state;
	memset(calls, 0, sizeof(calls));
	for (int i = 0; i < MANY; i++) {
		char name[32];

		snprintf(name, sizeof(name), "many-%02d", i);
		paths[i] = path_of("", "v1", "ConfigMap", NS, name);
		bodies[i] = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
				      "{\"name\":\"%s\",\"namespace\":\"" NS "\"},"
				      "\"data\":{\"i\":\"%d\"}}",
				      name, i);
		calls[i].method = "PATCH";
		calls[i].path = xasprintf("%s?fieldManager=plumb&force=true", paths[i]);
		calls[i].content_type = APPLY;
		calls[i].body = bodies[i];
		calls[i].len = strlen(bodies[i]);
	}
	start = time_monotonic_ms();
	kube_request_many(client, calls, MANY, MANY);
	apply_s = seconds_since(start);
	for (int i = 0; i < MANY; i++) {
		check_ok(calls[i].rc, &calls[i].err);
		assert_int_equal(calls[i].response.status, 201);
		kube_response_release(&calls[i].response);
		free((char *)calls[i].path);
		free(bodies[i]);
	}

	memset(calls, 0, sizeof(calls));
	for (int i = 0; i < MANY; i++) {
		calls[i].method = "GET";
		calls[i].path = paths[i];
	}
	start = time_monotonic_ms();
	kube_request_many(client, calls, MANY, MANY);
	get_s = seconds_since(start);
	for (int i = 0; i < MANY; i++) {
		char want[16];

		check_ok(calls[i].rc, &calls[i].err);
		assert_int_equal(calls[i].response.status, 200);
		snprintf(want, sizeof(want), "%d", i);
		assert_body_string(&calls[i].response, "data.i", want);
		kube_response_release(&calls[i].response);
	}

	/* HTTP/2: the 50 streams shared one kept-alive connection */
	print_message("connections to the server after %d parallel GETs: %d\n", MANY,
		      server_connections());
	assert_in_range(server_connections(), 1, 2);

	/* a limit below the count still runs them all */
	start = time_monotonic_ms();
	kube_request_many(client, calls, MANY, 4);
	for (int i = 0; i < MANY; i++) {
		check_ok(calls[i].rc, &calls[i].err);
		assert_int_equal(calls[i].response.status, 200);
		kube_response_release(&calls[i].response);
		free(paths[i]);
	}
	print_message("%d parallel applies: %.3f s; %d parallel GETs: %.3f s; by 4: %.3f s\n", MANY,
		      apply_s, MANY, get_s, seconds_since(start));
}

/* ---- connections ---- */

/* A client for a copy of cfg with some fields changed; the copy borrows cfg's strings. */
static int request_with(struct kube_config *copy, long *status, struct error *err)
{
	struct kube_client *other = NULL;
	struct kube_response r;
	int rc = kube_client_new(copy, &other, err);

	if (rc == 0)
		rc = kube_request(other, "GET", "/api/v1/namespaces/default", NULL, NULL, 0, NULL,
				  &r, err);
	if (rc == 0) {
		*status = r.status;
		kube_response_release(&r);
	}
	kube_client_free(other);
	return rc;
}

static void test_unreachable(void **state)
{
	struct kube_config copy = *cfg;
	struct error err = ERROR_INIT;
	long status = 0;
	uint64_t start = time_monotonic_ms();

	(void)state;
	copy.server = (char *)"https://127.0.0.1:1";
	assert_int_equal(request_with(&copy, &status, &err), ERR_NETWORK);
	print_message("unreachable: %s (%.3f s)\n", err.msg, seconds_since(start));
	assert_contains(err.msg, "cannot reach 'https://127.0.0.1:1'");
	assert_contains(err.msg, "GET /api/v1/namespaces/default");
}

/* A PEM CA certificate that signed nothing the server has, made by openssl(1). */
static char *other_ca(size_t *len)
{
	struct buf pem = BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *p = popen("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
			"-nodes -keyout /dev/null -subj /CN=plumb-other-ca -days 1 2>/dev/null",
			"r");

	assert_non_null(p);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_add(&pem, chunk, n);
	assert_int_equal(pclose(p), 0);
	assert_non_null(strstr(pem.data, "BEGIN CERTIFICATE"));
	return buf_detach(&pem, len);
}

static void test_tls(void **state)
{
	struct kube_config copy = *cfg;
	struct error err = ERROR_INIT;
	long status = 0;
	size_t len;
	char *ca = other_ca(&len);
	char *server = xstrdup(cfg->server);

	(void)state;
	/* the right CA: answered */
	assert_int_equal(request_with(&copy, &status, &err), 0);
	assert_int_equal(status, 200);

	/* a CA that did not sign the server's certificate: refused */
	copy.ca_pem = ca;
	copy.ca_len = len;
	assert_int_equal(request_with(&copy, &status, &err), ERR_NETWORK);
	print_message("wrong CA: %s\n", err.msg);
	assert_contains(err.msg, cfg->server);
	assert_contains(err.msg, "certificate");

	/* unless the kubeconfig says not to verify */
	copy.insecure_skip_verify = true;
	status = 0;
	assert_int_equal(request_with(&copy, &status, &err), 0);
	assert_int_equal(status, 200);

	/* no CA at all: the system's roots, which do not know this server */
	copy = *cfg;
	copy.ca_pem = NULL;
	copy.ca_len = 0;
	assert_int_equal(request_with(&copy, &status, &err), ERR_NETWORK);

	/* tls-server-name: checked against the name given, not the host connected to */
	copy = *cfg;
	copy.tls_server_name = (char *)"kubernetes.default.svc";
	status = 0;
	assert_int_equal(request_with(&copy, &status, &err), 0);
	assert_int_equal(status, 200);
	copy.tls_server_name = (char *)"wrong.example.com";
	assert_int_equal(request_with(&copy, &status, &err), ERR_NETWORK);
	print_message("wrong tls-server-name: %s\n", err.msg);
	assert_contains(err.msg, "wrong.example.com");

	/* the server's name by 'localhost' is in its certificate too */
	free(server);
	server = xstrdup(cfg->server);
	{
		char *colon = strrchr(server, ':');
		char *local = xasprintf("https://localhost%s", colon);

		copy = *cfg;
		copy.server = local;
		status = 0;
		assert_int_equal(request_with(&copy, &status, &err), 0);
		assert_int_equal(status, 200);
		free(local);
	}
	free(server);
	free(ca);
}

/* No client certificate: the server answers (anonymous is refused), no retry loop. */
static void test_no_credentials(void **state)
{
	struct kube_config copy = *cfg;
	struct error err = ERROR_INIT;
	long status = 0;

	(void)state;
	copy.cert_pem = copy.key_pem = NULL;
	copy.cert_len = copy.key_len = 0;
	copy.token = (char *)"not-a-valid-token";
	assert_int_equal(request_with(&copy, &status, &err), 0);
	assert_int_equal(status, 401);
}

/*
 * kube-apiserver answers a failed authentication over HTTP/2 with a GOAWAY,
 * which cuts the other streams in flight: they are sent again, and every call
 * gets its answer (401 here: nothing can refresh a bare token).
 */
static void test_unauthorized_many(void **state)
{
	struct kube_config copy = *cfg;
	struct kube_client *other = NULL;
	struct error err = ERROR_INIT;
	struct kube_call calls[MANY];

	(void)state;
	copy.cert_pem = copy.key_pem = NULL;
	copy.cert_len = copy.key_len = 0;
	copy.token = (char *)"not-a-valid-token";
	check_ok(kube_client_new(&copy, &other, &err), &err);
	memset(calls, 0, sizeof(calls));
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		calls[i].method = "GET";
		calls[i].path = i % 2 ? "/api" : "/apis";
	}
	kube_request_many(other, calls, ARRAY_SIZE(calls), ARRAY_SIZE(calls));
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		check_ok(calls[i].rc, &calls[i].err);
		assert_int_equal(calls[i].response.status, 401);
		kube_response_release(&calls[i].response);
	}
	kube_client_free(other);
}

/* A ServiceAccount's token from the TokenRequest API. */
static char *service_account_token(const char *name)
{
	struct error err = ERROR_INIT;
	struct kube_response r;
	char *path = path_of("", "v1", "ServiceAccount", NS, name);
	char *body = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
			       "\"metadata\":{\"name\":\"%s\",\"namespace\":\"" NS "\"}}",
			       name);
	char *token_path = xasprintf("%s/token", path);
	const char *request = "{\"apiVersion\":\"authentication.k8s.io/v1\","
			      "\"kind\":\"TokenRequest\",\"spec\":{\"expirationSeconds\":600}}";
	char *token;

	assert_in_range(apply(path, body, "plumb", true, false, &r), 200, 201);
	kube_response_release(&r);
	check_ok(kube_request(client, "POST", token_path, "application/json", request,
			      strlen(request), NULL, &r, &err),
		 &err);
	assert_int_equal(r.status, 201);
	token = body_string(&r, "status.token");
	assert_non_null(token);
	kube_response_release(&r);
	free(token_path);
	free(body);
	free(path);
	return token;
}

/*
 * A rotated token: the kubeconfig's token is stale, its tokenFile holds the
 * new one. The 401 makes the client re-read the file and retry, once.
 */
static void test_token_refresh_on_401(void **state)
{
	struct kube_config_opts opts = {0};
	struct error err = ERROR_INIT;
	struct kube_config *token_cfg = NULL;
	struct kube_client *token_client = NULL;
	struct kube_response r;
	struct kube_call calls[3] = {{0}};
	char *token = service_account_token("rotated");
	char *dir = xstrdup(getenv("KUBECONFIG"));
	char *file, *token_file, *text;
	FILE *f;

	(void)state;
	*strrchr(dir, '/') = 0;
	file = xasprintf("%s/token.kubeconfig", dir);
	token_file = xasprintf("%s/token", dir);
	f = fopen(token_file, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", token);
	fclose(f);
	text = xasprintf("apiVersion: v1\nkind: Config\n"
			 "clusters: [{name: c, cluster: {server: '%s', certificate-authority: "
			 "certs/ca.crt}}]\n"
			 "users: [{name: u, user: {token: stale-token, tokenFile: token}}]\n"
			 "contexts: [{name: t, context: {cluster: c, user: u}}]\n"
			 "current-context: t\n",
			 cfg->server);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);

	opts.kubeconfig = file;
	check_ok(kube_config_load(&opts, &token_cfg, &err), &err);
	assert_string_equal(token_cfg->token, "stale-token");
	check_ok(kube_client_new(token_cfg, &token_client, &err), &err);
	check_ok(kube_request(token_client, "GET", "/api", NULL, NULL, 0, NULL, &r, &err), &err);
	assert_int_equal(r.status, 200);
	assert_string_equal(token_cfg->token, token);
	kube_response_release(&r);

	/* the same for many at once */
	free(token_cfg->token);
	token_cfg->token = xstrdup("stale-again");
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		calls[i].method = "GET";
		calls[i].path = i == 2 ? "/apis" : "/api";
	}
	kube_request_many(token_client, calls, ARRAY_SIZE(calls), 3);
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		check_ok(calls[i].rc, &calls[i].err);
		assert_int_equal(calls[i].response.status, 200);
		kube_response_release(&calls[i].response);
	}
	assert_string_equal(token_cfg->token, token);

	/* a token file that is stale too: the 401 stands, after one retry */
	f = fopen(token_file, "w");
	fputs("still-stale\n", f);
	fclose(f);
	free(token_cfg->token);
	token_cfg->token = xstrdup("stale-token");
	check_ok(kube_request(token_client, "GET", "/api", NULL, NULL, 0, NULL, &r, &err), &err);
	assert_int_equal(r.status, 401);
	assert_int_equal(kube_status_error(&r, &err), ERR_AUTH);
	assert_contains(err.msg, "401 Unauthorized");
	kube_response_release(&r);

	kube_client_free(token_client);
	kube_config_free(token_cfg);
	free(text);
	free(token_file);
	free(file);
	free(dir);
	free(token);
}

/* The value of a counter on the API server's /metrics (summed over the lines matching). */
static double apiserver_counter(const char *name, const char *label)
{
	struct kube_response r;
	double total = 0;
	char *line, *save = NULL;

	assert_int_equal(get("/metrics", &r), 200);
	buf_addch(&r.body, '\0');
	for (line = strtok_r(r.body.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == '{' &&
		    strstr(line, label))
			total += strtod(strrchr(line, ' ') + 1, NULL);
	kube_response_release(&r);
	return total;
}

/*
 * A server too busy to answer: API Priority and Fairness puts a service
 * account in a priority level of about one seat that rejects what does not
 * fit (429). Many requests at once, and one at a time, must all end in 200,
 * and the server must have rejected some of them on the way.
 */
static void test_busy_retried(void **state)
{
	static const char plc[] =
		"{\"apiVersion\":\"flowcontrol.apiserver.k8s.io/v1\","
		"\"kind\":\"PriorityLevelConfiguration\",\"metadata\":{\"name\":\"plumb-busy\"},"
		"\"spec\":{\"type\":\"Limited\",\"limited\":{\"nominalConcurrencyShares\":1,"
		"\"lendablePercent\":0,\"limitResponse\":{\"type\":\"Reject\"}}}}";
	static const char fs[] =
		"{\"apiVersion\":\"flowcontrol.apiserver.k8s.io/v1\",\"kind\":\"FlowSchema\","
		"\"metadata\":{\"name\":\"plumb-busy\"},\"spec\":{\"priorityLevelConfiguration\":"
		"{\"name\":\"plumb-busy\"},\"matchingPrecedence\":100,\"distinguisherMethod\":"
		"{\"type\":\"ByUser\"},\"rules\":[{\"subjects\":[{\"kind\":\"ServiceAccount\","
		"\"serviceAccount\":{\"name\":\"busy\",\"namespace\":\"" NS "\"}}],"
		"\"nonResourceRules\":[{\"verbs\":[\"*\"],\"nonResourceURLs\":[\"*\"]}],"
		"\"resourceRules\":[{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],"
		"\"resources\":[\"*\"],\"namespaces\":[\"*\"],\"clusterScope\":true}]}]}}";
	static const char binding[] =
		"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
		"\"metadata\":{\"name\":\"plumb-busy\"},\"roleRef\":{\"apiGroup\":"
		"\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},"
		"\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"busy\",\"namespace\":"
		"\"" NS "\"}]}";
	struct kube_config copy = *cfg;
	struct kube_client *busy_client = NULL;
	struct error err = ERROR_INIT;
	struct kube_response r;
	struct kube_call calls[2 * MANY];
	char *token = service_account_token("busy");
	char *path;
	double before, after;
	int rejected_once = 0;

	(void)state;
	path = path_of("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", NULL,
		       "plumb-busy");
	assert_in_range(apply(path, plc, "plumb", true, false, &r), 200, 201);
	kube_response_release(&r);
	free(path);
	path = path_of("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", NULL, "plumb-busy");
	assert_in_range(apply(path, fs, "plumb", true, false, &r), 200, 201);
	kube_response_release(&r);
	free(path);
	path = path_of("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", NULL, "plumb-busy");
	assert_in_range(apply(path, binding, "plumb", true, false, &r), 200, 201);
	kube_response_release(&r);
	free(path);

	copy.cert_pem = copy.key_pem = NULL;
	copy.cert_len = copy.key_len = 0;
	copy.token = token;
	check_ok(kube_client_new(&copy, &busy_client, &err), &err);

	/* the flow schema takes effect within a few seconds: until the server rejects */
	before = apiserver_counter("apiserver_flowcontrol_rejected_requests_total",
				   "priority_level=\"plumb-busy\"");
	memset(calls, 0, sizeof(calls));
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
			calls[i].method = "GET";
			calls[i].path = "/api/v1/namespaces/" NS "/configmaps/kube-root-ca.crt";
		}
		kube_request_many(busy_client, calls, ARRAY_SIZE(calls), ARRAY_SIZE(calls));
		for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
			check_ok(calls[i].rc, &calls[i].err);
			if (calls[i].response.status != 200)
				fail_msg("request %zu ended in %ld: %.*s", i,
					 calls[i].response.status, (int)calls[i].response.body.len,
					 calls[i].response.body.data);
			kube_response_release(&calls[i].response);
		}
		after = apiserver_counter("apiserver_flowcontrol_rejected_requests_total",
					  "priority_level=\"plumb-busy\"");
		if (after > before) {
			rejected_once = 1;
			break;
		}
		usleep(500 * 1000);
	}
	print_message("the server rejected %.0f requests of the busy priority level; every "
		      "call ended in 200\n",
		      after - before);
	assert_true(rejected_once);

	kube_client_free(busy_client);
	free(token);
}

/* An argument picks the tests to run by name pattern ("test_tls", "test_*many*"). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery_aggregated),
		cmocka_unit_test(test_discovery_legacy),
		cmocka_unit_test(test_discovery_crd),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_invalid_422),
		cmocka_unit_test(test_conflict_409),
		cmocka_unit_test(test_not_found_404),
		cmocka_unit_test(test_status_error_shapes),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_no_credentials),
		cmocka_unit_test(test_unauthorized_many),
		cmocka_unit_test(test_token_refresh_on_401),
		cmocka_unit_test(test_busy_retried),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
