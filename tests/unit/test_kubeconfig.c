/*
 * Unit tests for the kubeconfig part of src/targets/kube: real kubeconfig files
 * in a temp directory (single files, KUBECONFIG lists, relative paths, base64
 * data, token files), the errors a user would meet, exec credential plugins
 * (small shell scripts written by the tests) with their expiry caching, and
 * in-cluster config from a temp service-account directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "targets/kube/kube.h"

#include "fixture.h"

static char *tmp; /* a fresh directory for each test */

static void write_file_mode(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		fail_msg("cannot write %s", path);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Writes text to tmp/name and returns the full path (caller frees). */
static char *write_tmp(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmp, name);

	write_file_mode(path, text, strlen(text), 0644);
	return path;
}

static char *write_script(const char *name, const char *body)
{
	char *path = xasprintf("%s/%s", tmp, name);
	char *text = xasprintf("#!/bin/sh\n%s", body);

	write_file_mode(path, text, strlen(text), 0755);
	free(text);
	return path;
}

static int setup(void **state)
{
	char pattern[] = "/tmp/plumb-kubeconfig-XXXXXX";

	(void)state;
	if (!mkdtemp(pattern))
		return -1;
	tmp = xstrdup(pattern);
	unsetenv("KUBECONFIG");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fixture_remove_tree(tmp);
	FREE_AND_NULL(tmp);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	return 0;
}

/* Loads the kubeconfig list with context (NULL: current-context); fails the test on error. */
static struct kube_config *load_ok(const char *kubeconfig, const char *context)
{
	struct kube_config_opts opts = {kubeconfig, context, NULL};
	struct kube_config *cfg = NULL;
	struct error err = ERROR_INIT;
	int rc = kube_config_load(&opts, &cfg, &err);

	if (rc != 0)
		fail_msg("kube_config_load: %s", err.msg);
	assert_non_null(cfg);
	return cfg;
}

/* Loads a kubeconfig expected to fail; returns the code and fills err. */
static int load_fail(const char *kubeconfig, const char *context, struct error *err)
{
	struct kube_config_opts opts = {kubeconfig, context, NULL};
	struct kube_config *cfg = (struct kube_config *)1;
	int rc = kube_config_load(&opts, &cfg, err);

	assert_true(rc < 0);
	assert_null(cfg);
	return rc;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static void assert_bytes(const char *data, size_t len, const void *expected, size_t expected_len)
{
	assert_non_null(data);
	assert_int_equal(len, expected_len);
	assert_memory_equal(data, expected, expected_len);
	assert_int_equal(data[len], '\0'); /* PEM is handed on as a C string */
}

static const char basic_config[] = "apiVersion: v1\n"
				   "kind: Config\n"
				   "clusters:\n"
				   "- name: dev-cluster\n"
				   "  cluster:\n"
				   "    server: https://127.0.0.1:6443\n"
				   "    tls-server-name: kubernetes.default\n"
				   "- name: staging-cluster\n"
				   "  cluster:\n"
				   "    server: https://staging.example:443\n"
				   "    insecure-skip-tls-verify: true\n"
				   "users:\n"
				   "- name: admin\n"
				   "  user:\n"
				   "    token: abc.def\n"
				   "- name: basic\n"
				   "  user:\n"
				   "    username: alice\n"
				   "    password: s3cret\n"
				   "contexts:\n"
				   "- name: dev\n"
				   "  context:\n"
				   "    cluster: dev-cluster\n"
				   "    user: admin\n"
				   "    namespace: web\n"
				   "- name: staging\n"
				   "  context:\n"
				   "    cluster: staging-cluster\n"
				   "    user: basic\n"
				   "current-context: dev\n";

/* ---- files, lists, contexts ---- */

static void test_single_file(void **state)
{
	char *path = write_tmp("config", basic_config);
	struct kube_config *cfg;

	(void)state;
	cfg = load_ok(path, NULL);
	assert_string_equal(cfg->source, path);
	assert_string_equal(cfg->context, "dev");
	assert_string_equal(cfg->server, "https://127.0.0.1:6443");
	assert_string_equal(cfg->namespace, "web");
	assert_string_equal(cfg->tls_server_name, "kubernetes.default");
	assert_false(cfg->insecure_skip_verify);
	assert_null(cfg->ca_pem);
	assert_null(cfg->cert_pem);
	assert_null(cfg->key_pem);
	assert_string_equal(cfg->token, "abc.def");
	assert_null(cfg->token_file);
	assert_null(cfg->username);
	assert_null(cfg->exec);
	/* Nothing to refresh without a plugin or a token file. */
	assert_int_equal(kube_config_refresh(cfg, false, NULL), 0);
	kube_config_free(cfg);

	/* --context overrides current-context; no namespace means "default". */
	cfg = load_ok(path, "staging");
	assert_string_equal(cfg->context, "staging");
	assert_string_equal(cfg->server, "https://staging.example:443");
	assert_string_equal(cfg->namespace, "default");
	assert_true(cfg->insecure_skip_verify);
	assert_null(cfg->tls_server_name);
	assert_null(cfg->token);
	assert_string_equal(cfg->username, "alice");
	assert_string_equal(cfg->password, "s3cret");
	kube_config_free(cfg);
	free(path);
}

static void test_list_first_wins(void **state)
{
	char *first = write_tmp("first", "clusters:\n"
					 "- name: c\n"
					 "  cluster: {server: 'https://first:6443'}\n"
					 "contexts:\n"
					 "- name: main\n"
					 "  context: {cluster: c, user: u, namespace: one}\n"
					 "current-context: main\n");
	char *second = write_tmp("second", "clusters:\n"
					   "- name: c\n"
					   "  cluster: {server: 'https://second:6443'}\n"
					   "- name: d\n"
					   "  cluster: {server: 'https://d:6443'}\n"
					   "users:\n"
					   "- name: u\n"
					   "  user: {token: from-second}\n"
					   "contexts:\n"
					   "- name: main\n"
					   "  context: {cluster: d, user: u, namespace: two}\n"
					   "- name: other\n"
					   "  context: {cluster: d, user: u}\n"
					   "current-context: other\n");
	char *missing = xasprintf("%s/missing", tmp);
	char *list = xasprintf("%s:%s::%s", first, missing, second);
	char *source = xasprintf("%s:%s", first, second);
	struct kube_config *cfg;

	(void)state;
	cfg = load_ok(list, NULL);
	assert_string_equal(cfg->source, source);
	assert_string_equal(cfg->context, "main");		/* first current-context */
	assert_string_equal(cfg->server, "https://first:6443"); /* first cluster 'c' */
	assert_string_equal(cfg->namespace, "one");		/* first context 'main' */
	assert_string_equal(cfg->token, "from-second");		/* 'u' only in the second */
	kube_config_free(cfg);

	/* The same through $KUBECONFIG, in the other order. */
	free(list);
	list = xasprintf("%s:%s", second, first);
	setenv("KUBECONFIG", list, 1);
	cfg = load_ok(NULL, NULL);
	assert_string_equal(cfg->context, "other");
	assert_string_equal(cfg->server, "https://d:6443");
	kube_config_free(cfg);
	cfg = load_ok(NULL, "main");
	assert_string_equal(cfg->server, "https://d:6443");
	assert_string_equal(cfg->namespace, "two");
	kube_config_free(cfg);

	free(first);
	free(second);
	free(missing);
	free(list);
	free(source);
}

static void test_missing_files(void **state)
{
	char *missing = xasprintf("%s/nope", tmp);
	char *list = xasprintf("%s:%s/also-nope", missing, tmp);
	struct error err = ERROR_INIT;

	(void)state;
	/* A lone file must exist. */
	assert_int_equal(load_fail(missing, NULL, &err), ERR_NOTFOUND);
	assert_contains(err.msg, missing);
	/* A list where none exists. */
	assert_int_equal(load_fail(list, NULL, &err), ERR_NOTFOUND);
	assert_contains(err.msg, "no kubeconfig");
	free(missing);
	free(list);
}

static void test_relative_cert_paths(void **state)
{
	static const char ca[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
	static const char cert[] = "-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----\n";
	static const char key[] = "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n";
	char *sub = xasprintf("%s/kube", tmp);
	char *certs = xasprintf("%s/kube/certs", tmp);
	char *path, *absolute_key, *text, *cwd = getcwd(NULL, 0);
	struct kube_config *cfg;
	struct error err = ERROR_INIT;

	(void)state;
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mkdir(certs, 0755), 0);
	free(write_tmp("kube/certs/ca.crt", ca));
	free(write_tmp("kube/certs/client.crt", cert));
	absolute_key = write_tmp("client.key", key);
	text = xasprintf("clusters:\n"
			 "- name: c\n"
			 "  cluster:\n"
			 "    server: https://x:6443\n"
			 "    certificate-authority: certs/ca.crt\n"
			 "users:\n"
			 "- name: u\n"
			 "  user:\n"
			 "    client-certificate: ./certs/client.crt\n"
			 "    client-key: %s\n"
			 "- name: broken\n"
			 "  user:\n"
			 "    client-certificate: certs/nope.crt\n"
			 "    client-key: %s\n"
			 "contexts:\n"
			 "- {name: ok, context: {cluster: c, user: u}}\n"
			 "- {name: bad, context: {cluster: c, user: broken}}\n"
			 "current-context: ok\n",
			 absolute_key, absolute_key);
	path = write_tmp("kube/config", text);
	/* Paths resolve against the file's directory, not the current one. */
	assert_int_equal(chdir("/"), 0);
	cfg = load_ok(path, NULL);
	assert_bytes(cfg->ca_pem, cfg->ca_len, ca, strlen(ca));
	assert_bytes(cfg->cert_pem, cfg->cert_len, cert, strlen(cert));
	assert_bytes(cfg->key_pem, cfg->key_len, key, strlen(key));
	kube_config_free(cfg);

	/* A kubeconfig named relative to the current directory works too. */
	assert_int_equal(chdir(sub), 0);
	cfg = load_ok("config", NULL);
	assert_bytes(cfg->ca_pem, cfg->ca_len, ca, strlen(ca));
	kube_config_free(cfg);

	/* An unreadable certificate names the field, the kubeconfig line and the file. */
	assert_int_equal(load_fail(path, "bad", &err), ERR_NOTFOUND);
	assert_contains(err.msg, "config:13:");
	assert_contains(err.msg, "'client-certificate' of user 'broken'");
	assert_contains(err.msg, "kube/certs/nope.crt");
	assert_contains(err.msg, "No such file");

	assert_int_equal(chdir(cwd), 0);
	free(cwd);
	free(sub);
	free(certs);
	free(absolute_key);
	free(text);
	free(path);
}

static void test_data_fields(void **state)
{
	/* 256 bytes, all values, as one line; NUL bytes must survive. */
	unsigned char all[256];
	struct buf text = BUF_INIT;
	char *path;
	struct kube_config *cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(255 - i);
	buf_addstr(&text, "clusters:\n- name: c\n  cluster:\n    server: https://x\n"
			  "    certificate-authority: /nonexistent/ignored-when-data-is-set\n"
			  "    certificate-authority-data: ");
	{
		static const char alphabet[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

		for (size_t i = 0; i < sizeof(all); i += 3) {
			uint32_t acc = (uint32_t)all[i] << 16;

			if (i + 1 < sizeof(all))
				acc |= (uint32_t)all[i + 1] << 8;
			if (i + 2 < sizeof(all))
				acc |= all[i + 2];
			buf_addch(&text, alphabet[acc >> 18 & 63]);
			buf_addch(&text, alphabet[acc >> 12 & 63]);
			buf_addch(&text, i + 1 < sizeof(all) ? alphabet[acc >> 6 & 63] : '=');
			buf_addch(&text, i + 2 < sizeof(all) ? alphabet[acc & 63] : '=');
		}
	}
	/* "hello" with padding, split over lines as `base64` wraps it; "hi" without padding. */
	buf_addstr(&text, "\nusers:\n- name: u\n  user:\n"
			  "    client-certificate-data: |\n      aGVs\n      bG8=\n"
			  "    client-key-data: aGk\n"
			  "contexts:\n- {name: x, context: {cluster: c, user: u}}\n"
			  "current-context: x\n");
	path = write_tmp("config", text.data);
	cfg = load_ok(path, NULL);
	assert_bytes(cfg->ca_pem, cfg->ca_len, all, sizeof(all));
	assert_bytes(cfg->cert_pem, cfg->cert_len, "hello", 5);
	assert_bytes(cfg->key_pem, cfg->key_len, "hi", 2);
	kube_config_free(cfg);
	buf_release(&text);
	free(path);
}

static void test_invalid_base64(void **state)
{
	static const char *const bad[] = {
		"    client-key-data: aGVs!G8=\n", /* a character outside the alphabet */
		"    client-key-data: aGVsb\n",	   /* ends in the middle of a byte */
		"    client-key-data: aG=Vs\n",	   /* data after padding */
		"    client-key-data: aGk=x\n",
	};
	struct error err = ERROR_INIT;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *text = xasprintf("clusters:\n- name: c\n  cluster: {server: https://x}\n"
				       "users:\n- name: u\n  user:\n"
				       "    client-certificate-data: aGVsbG8=\n"
				       "%s"
				       "contexts:\n- {name: x, context: {cluster: c, user: u}}\n"
				       "current-context: x\n",
				       bad[i]);
		char *path = write_tmp("config", text);
		char *where = xasprintf("%s:8:", path);

		assert_int_equal(load_fail(path, NULL, &err), ERR_INVALID);
		assert_contains(err.msg, where);
		assert_contains(err.msg, "'client-key-data' of user 'u' is not valid base64");
		free(where);
		free(text);
		free(path);
	}
	/* The exact message for the first one points at the character. */
	{
		char *text = xasprintf("clusters:\n- name: c\n  cluster:\n    server: https://x\n"
				       "    certificate-authority-data: QUJD$\n"
				       "contexts:\n- {name: x, context: {cluster: c}}\n"
				       "current-context: x\n");
		char *path = write_tmp("config", text);
		char *expected =
			xasprintf("%s:5:33: 'certificate-authority-data' of cluster 'c' is not "
				  "valid base64 (unexpected character at character 5): encode the "
				  "PEM with base64 -w0",
				  path);

		assert_int_equal(load_fail(path, NULL, &err), ERR_INVALID);
		assert_string_equal(err.msg, expected);
		free(expected);
		free(text);
		free(path);
	}
}

static void test_token_file(void **state)
{
	char *token = write_tmp("token", "first-token\n");
	char *path = write_tmp("config", "clusters:\n- {name: c, cluster: {server: https://x}}\n"
					 "users:\n"
					 "- {name: u, user: {tokenFile: token}}\n"
					 "- {name: both, user: {tokenFile: token, token: inline}}\n"
					 "- {name: gone, user: {tokenFile: nothing-here}}\n"
					 "contexts:\n"
					 "- {name: x, context: {cluster: c, user: u}}\n"
					 "- {name: y, context: {cluster: c, user: both}}\n"
					 "- {name: z, context: {cluster: c, user: gone}}\n"
					 "current-context: x\n");
	struct kube_config *cfg;
	struct error err = ERROR_INIT;

	(void)state;
	cfg = load_ok(path, NULL);
	assert_string_equal(cfg->token, "first-token");
	assert_string_equal(cfg->token_file, token);
	/* Tokens rotate: nothing happens until the server says 401 (force). */
	free(write_tmp("token", "second-token\n"));
	assert_int_equal(kube_config_refresh(cfg, false, &err), 0);
	assert_string_equal(cfg->token, "first-token");
	assert_int_equal(kube_config_refresh(cfg, true, &err), 1);
	assert_string_equal(cfg->token, "second-token");
	/* A token file that went away is an error naming it. */
	assert_int_equal(unlink(token), 0);
	assert_int_equal(kube_config_refresh(cfg, true, &err), ERR_NOTFOUND);
	assert_contains(err.msg, token);
	kube_config_free(cfg);

	free(write_tmp("token", "first-token\n"));
	cfg = load_ok(path, "y");
	assert_string_equal(cfg->token, "inline");
	assert_string_equal(cfg->token_file, token);
	kube_config_free(cfg);

	assert_int_equal(load_fail(path, "z", &err), ERR_NOTFOUND);
	assert_contains(err.msg, "'tokenFile' of user 'gone'");
	assert_contains(err.msg, "nothing-here");
	free(token);
	free(path);
}

/* ---- errors a user meets ---- */

static void test_missing_context(void **state)
{
	char *path = write_tmp("config", basic_config);
	char *expected = xasprintf("context 'prod' not found in %s (contexts: dev, staging)", path);
	char *no_current;
	struct error err = ERROR_INIT;

	(void)state;
	assert_int_equal(load_fail(path, "prod", &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, expected);
	free(path);
	free(expected);

	/* No current-context and no --context. */
	path = write_tmp("config2", "contexts:\n- {name: a, context: {cluster: c}}\n");
	no_current = xasprintf("%s sets no current-context: choose one with --context "
			       "(contexts: a)",
			       path);
	assert_int_equal(load_fail(path, NULL, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, no_current);
	free(no_current);
	free(path);
}

static void test_undefined_user_and_cluster(void **state)
{
	char *path = write_tmp("config", "clusters:\n- {name: c, cluster: {server: https://x}}\n"
					 "users:\n- {name: viewer, user: {token: t}}\n"
					 "contexts:\n"
					 "- {name: dev, context: {cluster: c, user: admin}}\n"
					 "- {name: ops, context: {cluster: gone, user: viewer}}\n"
					 "- {name: nocluster, context: {user: viewer}}\n"
					 "current-context: dev\n");
	char *expected;
	struct error err = ERROR_INIT;

	(void)state;
	expected = xasprintf("user 'admin' of context 'dev' is not defined in %s (users: viewer)",
			     path);
	assert_int_equal(load_fail(path, NULL, &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, expected);
	free(expected);

	expected = xasprintf("cluster 'gone' of context 'ops' is not defined in %s (clusters: c)",
			     path);
	assert_int_equal(load_fail(path, "ops", &err), ERR_NOTFOUND);
	assert_string_equal(err.msg, expected);
	free(expected);

	assert_int_equal(load_fail(path, "nocluster", &err), ERR_INVALID);
	assert_contains(err.msg, "context 'nocluster' names no cluster");
	free(path);
}

static void test_malformed(void **state)
{
	struct error err = ERROR_INIT;
	char *path;

	(void)state;
	path = write_tmp("config", "clusters:\n- name: c\n  cluster: {server: https://x}\n"
				   "contexts:\n- {name: x, context: {cluster: c}}\n"
				   "users: {u: 1}\n"
				   "current-context: x\n");
	assert_int_equal(load_fail(path, NULL, &err), ERR_INVALID);
	assert_contains(err.msg, "config:6:8: 'users' must be a list, not a mapping");
	free(path);

	path = write_tmp("config",
			 "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: yes}\n"
			 "contexts:\n- {name: x, context: {cluster: c}}\n"
			 "current-context: x\n");
	assert_int_equal(load_fail(path, NULL, &err), ERR_INVALID);
	assert_contains(err.msg, "cluster 'c' has no 'server'");
	free(path);

	path = write_tmp("config", "clusters: [\n");
	assert_int_equal(load_fail(path, NULL, &err), ERR_INVALID);
	assert_contains(err.msg, path);
	free(path);

	path = write_tmp("config", "clusters:\n- {name: c, cluster: {server: https://x}}\n"
				   "users:\n- {name: u, user: {client-certificate-data: aGk=}}\n"
				   "contexts:\n- {name: x, context: {cluster: c, user: u}}\n"
				   "current-context: x\n");
	assert_int_equal(load_fail(path, NULL, &err), ERR_INVALID);
	assert_contains(err.msg, "user 'u' has a client certificate but no client key");
	free(path);
}

static void test_auth_provider_refused(void **state)
{
	char *path = write_tmp("config", "clusters:\n- {name: c, cluster: {server: https://x}}\n"
					 "users:\n- name: u\n  user:\n    auth-provider:\n"
					 "      name: oidc\n      config: {idp-issuer-url: x}\n"
					 "contexts:\n- {name: x, context: {cluster: c, user: u}}\n"
					 "current-context: x\n");
	char *where = xasprintf("%s:7:7: ", path);
	struct error err = ERROR_INIT;

	(void)state;
	assert_int_equal(load_fail(path, NULL, &err), ERR_UNSUPPORTED);
	assert_contains(err.msg, where);
	assert_contains(err.msg, "user 'u' uses auth-provider 'oidc'");
	assert_contains(err.msg, "use an exec credential plugin");
	free(where);
	free(path);
}

/* ---- exec plugins ---- */

/* A kubeconfig whose user 'u' runs command with exec_extra lines (indented 6). */
static char *exec_config(const char *command, const char *api_version, const char *exec_extra)
{
	char *text = xasprintf("clusters:\n- name: c\n  cluster:\n"
			       "    server: https://api.example:6443\n"
			       "    certificate-authority-data: aGVsbG8=\n"
			       "users:\n- name: u\n  user:\n    exec:\n"
			       "      apiVersion: %s\n"
			       "      command: %s\n"
			       "%s"
			       "contexts:\n- {name: x, context: {cluster: c, user: u}}\n"
			       "current-context: x\n",
			       api_version, command, exec_extra);
	char *path = write_tmp("config", text);

	free(text);
	return path;
}

/* The whole contents of tmp/name. */
static char *read_tmp(const char *name)
{
	char *path = xasprintf("%s/%s", tmp, name);
	struct buf b = BUF_INIT;

	if (buf_read_file(&b, path, NULL) < 0)
		fail_msg("cannot read %s", path);
	free(path);
	return buf_detach(&b, NULL);
}

static void test_exec_token(void **state)
{
	char *path, *seen, *expected;
	struct kube_config *cfg;
	struct error err = ERROR_INIT;

	(void)state;
	free(write_script("plugin.sh",
			  "printf '%s\\n' \"$0\" \"$@\" \"$PLUGIN_MODE\" \"$KUBERNETES_EXEC_INFO\" "
			  "> \"$(dirname \"$0\")/seen\"\n"
			  "cat <<EOF\n"
			  "{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
			  "\"ExecCredential\",\n \"status\": {\"token\": \"exec-token\"}}\n"
			  "EOF\n"));
	setenv("PLUGIN_MODE", "from-plumb", 1);
	path = exec_config("./plugin.sh", "client.authentication.k8s.io/v1",
			   "      args: [get-token, --cluster, 'a b']\n"
			   "      env:\n      - {name: PLUGIN_MODE, value: from-kubeconfig}\n"
			   "      interactiveMode: Never\n"
			   "      provideClusterInfo: true\n");
	cfg = load_ok(path, NULL);
	assert_non_null(cfg->exec);
	/* The plugin runs lazily, on the first refresh. */
	assert_null(cfg->token);
	assert_int_equal(kube_config_refresh(cfg, false, &err), 1);
	assert_string_equal(cfg->token, "exec-token");
	seen = read_tmp("seen");
	/* argv[0] is the command resolved against the kubeconfig's directory. */
	expected = xasprintf(
		"%s/plugin.sh\nget-token\n--cluster\na b\nfrom-kubeconfig\n"
		"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		"\"spec\":{\"cluster\":{\"server\":\"https://api.example:6443\","
		"\"certificate-authority-data\":\"aGVsbG8=\"},\"interactive\":false}}\n",
		tmp);
	assert_string_equal(seen, expected);
	/* No expiry: the token lasts until a 401. */
	assert_int_equal(kube_config_refresh(cfg, false, &err), 0);
	kube_config_free(cfg);
	unsetenv("PLUGIN_MODE");
	free(seen);
	free(expected);
	free(path);
}

static void test_exec_client_cert(void **state)
{
	static const char cert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	static const char key[] =
		"-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n";
	char *path;
	struct kube_config *cfg;
	struct error err = ERROR_INIT;

	(void)state;
	free(write_script(
		"certs.sh",
		"cat <<'EOF'\n{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
		"\"kind\":\"ExecCredential\",\"status\":{"
		"\"clientCertificateData\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END "
		"CERTIFICATE-----\\n\","
		"\"clientKeyData\":\"-----BEGIN EC PRIVATE KEY-----\\nMHc\\n-----END EC "
		"PRIVATE KEY-----\\n\","
		"\"expirationTimestamp\":\"2999-01-01T00:00:00+02:00\"}}\nEOF\n"));
	/* v1beta1 needs no interactiveMode. */
	path = exec_config("./certs.sh", "client.authentication.k8s.io/v1beta1", "");
	cfg = load_ok(path, NULL);
	assert_non_null(cfg->exec);
	assert_int_equal(kube_config_refresh(cfg, false, &err), 1);
	assert_bytes(cfg->cert_pem, cfg->cert_len, cert, strlen(cert));
	assert_bytes(cfg->key_pem, cfg->key_len, key, strlen(key));
	assert_null(cfg->token);
	assert_int_equal(kube_config_refresh(cfg, false, &err), 0);
	kube_config_free(cfg);
	free(path);
}

static void test_exec_in_path(void **state)
{
	char *saved_path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char *bin = xasprintf("%s/bin", tmp);
	char *search = xasprintf("/nonexistent:%s:%s", bin, saved_path);
	char *path;
	struct kube_config *cfg;
	struct error err = ERROR_INIT;

	(void)state;
	assert_int_equal(mkdir(bin, 0755), 0);
	free(write_script("bin/plumb-test-credential",
			  "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
			  "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"via-path\"}}'\n"));
	path = exec_config("plumb-test-credential", "client.authentication.k8s.io/v1",
			   "      interactiveMode: IfAvailable\n"
			   "      installHint: install it with 'make credential'\n");
	setenv("PATH", search, 1);
	cfg = load_ok(path, NULL);
	assert_int_equal(kube_config_refresh(cfg, false, &err), 1);
	assert_string_equal(cfg->token, "via-path");
	kube_config_free(cfg);

	/* Not in PATH: the error says so and shows the install hint. */
	setenv("PATH", "/nonexistent", 1);
	cfg = load_ok(path, NULL);
	assert_int_equal(kube_config_refresh(cfg, false, &err), ERR_NOTFOUND);
	assert_contains(err.msg, "exec plugin 'plumb-test-credential' of user 'u'");
	assert_contains(err.msg, "not found in PATH");
	assert_contains(err.msg, "install it with 'make credential'");
	kube_config_free(cfg);
	setenv("PATH", saved_path, 1);
	free(saved_path);
	free(bin);
	free(search);
	free(path);
}

static void test_exec_fails(void **state)
{
	char *path;
	struct kube_config *cfg;
	struct error err = ERROR_INIT;

	(void)state;
	free(write_script("fail.sh", "echo 'partial output'\n"
				     "echo 'error: the refresh token has expired, run login' >&2\n"
				     "exit 3\n"));
	path = exec_config("./fail.sh", "client.authentication.k8s.io/v1",
			   "      interactiveMode: Never\n");
	cfg = load_ok(path, NULL);
	assert_int_equal(kube_config_refresh(cfg, false, &err), ERR_AUTH);
	assert_contains(err.msg, "exec plugin './fail.sh' of user 'u' in ");
	assert_contains(err.msg, "failed with exit status 3: error: the refresh token has "
				 "expired, run login");
	assert_null(cfg->token);
	kube_config_free(cfg);
	free(path);

	/* A command that is not there. */
	path = exec_config("./absent.sh", "client.authentication.k8s.io/v1",
			   "      interactiveMode: Never\n");
	cfg = load_ok(path, NULL);
	assert_int_equal(kube_config_refresh(cfg, false, &err), ERR_NOTFOUND);
	assert_contains(err.msg, "absent.sh");
	kube_config_free(cfg);
	free(path);
}

static void test_exec_invalid_output(void **state)
{
	static const struct {
		const char *output;
		const char *message;
	} cases[] = {
		{"{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": ",
		 "printed an "
		 "invalid "
		 "ExecCredential"},
		{"Please log in at https://example", "printed no ExecCredential"},
		{"{\"apiVersion\":\"v1\",\"kind\":\"Secret\"}", "printed kind 'Secret'"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":"
		 "\"ExecCredential\",\"status\":{\"token\":\"t\"}}",
		 "apiVersion 'client.authentication.k8s.io/v1beta1', but the kubeconfig asks for "
		 "'client.authentication.k8s.io/v1'"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		 "\"status\":{}}",
		 "neither a token nor a client certificate and key"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"clientCertificateData\":\"x\"}}",
		 "both or neither"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}",
		 "expirationTimestamp 'tomorrow', which is not an RFC 3339 time"},
	};
	char *path = exec_config("./out.sh", "client.authentication.k8s.io/v1",
				 "      interactiveMode: Never\n");

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *output = write_tmp("output", cases[i].output);
		struct kube_config *cfg;
		struct error err = ERROR_INIT;

		free(write_script("out.sh", "cat \"$(dirname \"$0\")/output\"\n"));
		cfg = load_ok(path, NULL);
		assert_int_equal(kube_config_refresh(cfg, false, &err), ERR_INVALID);
		assert_contains(err.msg, "exec plugin './out.sh' of user 'u'");
		assert_contains(err.msg, cases[i].message);
		assert_null(cfg->token);
		kube_config_free(cfg);
		free(output);
	}
	free(path);
}

static void test_exec_config_errors(void **state)
{
	struct error err = ERROR_INIT;
	char *path;

	(void)state;
	path = exec_config("x", "client.authentication.k8s.io/v1", "");
	assert_int_equal(load_fail(path, NULL, &err), ERR_INVALID);
	assert_contains(err.msg, "needs 'interactiveMode'");
	free(path);

	path = exec_config("x", "client.authentication.k8s.io/v1",
			   "      interactiveMode: Always\n");
	assert_int_equal(load_fail(path, NULL, &err), ERR_UNSUPPORTED);
	assert_contains(err.msg, "interactiveMode 'Always'");
	free(path);

	path = exec_config("x", "client.authentication.k8s.io/v1alpha1", "");
	assert_int_equal(load_fail(path, NULL, &err), ERR_UNSUPPORTED);
	assert_contains(err.msg, "apiVersion 'client.authentication.k8s.io/v1alpha1'");
	free(path);
}

/* Counts runs in tmp/runs; prints a token valid until expiry. */
static char *counting_plugin(const char *expiry)
{
	char *body = xasprintf("echo run >> \"$RUNS_FILE\"\n"
			       "n=$(wc -l < \"$RUNS_FILE\")\n"
			       "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
			       "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"token-'$n'\","
			       "\"expirationTimestamp\":\"%s\"}}'\n",
			       expiry);
	char *env = xasprintf("      interactiveMode: Never\n"
			      "      env: [{name: RUNS_FILE, value: '%s/runs'}]\n",
			      tmp);
	char *path;

	free(write_script("count.sh", body));
	path = exec_config("./count.sh", "client.authentication.k8s.io/v1", env);
	free(body);
	free(env);
	return path;
}

static void test_exec_expiry_cache(void **state)
{
	char *path = counting_plugin("2999-12-31T23:59:59.123456Z");
	struct kube_config *cfg;
	struct error err = ERROR_INIT;
	char *runs;

	(void)state;
	cfg = load_ok(path, NULL);
	assert_int_equal(kube_config_refresh(cfg, false, &err), 1);
	assert_string_equal(cfg->token, "token-1");
	/* Cached until it expires: no second run. */
	assert_int_equal(kube_config_refresh(cfg, false, &err), 0);
	assert_string_equal(cfg->token, "token-1");
	runs = read_tmp("runs");
	assert_string_equal(runs, "run\n");
	free(runs);
	/* A 401 forces a new credential. */
	assert_int_equal(kube_config_refresh(cfg, true, &err), 1);
	assert_string_equal(cfg->token, "token-2");
	runs = read_tmp("runs");
	assert_string_equal(runs, "run\nrun\n");
	free(runs);
	kube_config_free(cfg);
	free(path);

	/* An expired credential is fetched again on every refresh. */
	path = counting_plugin("2001-02-03T04:05:06-07:00");
	cfg = load_ok(path, NULL);
	assert_int_equal(kube_config_refresh(cfg, false, &err), 1);
	assert_string_equal(cfg->token, "token-3");
	assert_int_equal(kube_config_refresh(cfg, false, &err), 1);
	assert_string_equal(cfg->token, "token-4");
	kube_config_free(cfg);
	free(path);
}

/* ---- in-cluster ---- */

/* Told nothing: the file given, $KUBECONFIG, ~/.kube/config, and only then in-cluster. */
static void test_default(void **state)
{
	char *saved_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	struct kube_config_opts opts = {NULL, NULL, NULL};
	struct kube_config *cfg = NULL;
	struct error err = ERROR_INIT;
	char *kube_dir = xasprintf("%s/.kube", tmp);
	char *path;

	(void)state;
	opts.service_account_dir = tmp;
	free(write_tmp("token", "sa-token\n"));
	setenv("HOME", tmp, 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	/* in a pod without a kubeconfig */
	assert_int_equal(kube_config_default(&opts, &cfg, &err), 0);
	assert_string_equal(cfg->source, "in-cluster");
	kube_config_free(cfg);

	/* ~/.kube/config wins over the pod's service account */
	assert_int_equal(mkdir(kube_dir, 0700), 0);
	path = write_tmp(".kube/config", basic_config);
	assert_int_equal(kube_config_default(&opts, &cfg, &err), 0);
	assert_string_equal(cfg->source, path);
	kube_config_free(cfg);
	assert_int_equal(unlink(path), 0);
	free(path);

	/* so does $KUBECONFIG, even when its file is missing (the error names it) */
	path = xasprintf("%s/missing", tmp);
	setenv("KUBECONFIG", path, 1);
	cfg = NULL;
	assert_true(kube_config_default(&opts, &cfg, &err) < 0);
	assert_null(cfg);
	assert_contains(err.msg, path);
	unsetenv("KUBECONFIG");

	/* and the file given */
	opts.kubeconfig = path;
	assert_true(kube_config_default(&opts, &cfg, &err) < 0);
	assert_contains(err.msg, path);
	free(path);

	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
	free(saved_home);
	free(kube_dir);
}

static void test_in_cluster(void **state)
{
	static const char ca[] =
		"-----BEGIN CERTIFICATE-----\nCLUSTER\n-----END CERTIFICATE-----\n";
	struct kube_config_opts opts = {NULL, NULL, NULL};
	struct kube_config *cfg = NULL;
	struct error err = ERROR_INIT;
	char *token_path;

	(void)state;
	opts.service_account_dir = tmp;
	token_path = write_tmp("token", "eyJhbGciOi.sa-token\n");
	free(write_tmp("ca.crt", ca));
	free(write_tmp("namespace", "plumb-system"));

	/* Outside a pod. */
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(kube_config_in_cluster(&opts, &cfg, &err), ERR_NOTFOUND);
	assert_null(cfg);
	assert_contains(err.msg, "KUBERNETES_SERVICE_HOST");

	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(&opts, &cfg, &err), 0);
	assert_string_equal(cfg->source, "in-cluster");
	assert_string_equal(cfg->context, "");
	assert_string_equal(cfg->server, "https://[fd00:10:96::1]:443");
	assert_string_equal(cfg->token, "eyJhbGciOi.sa-token");
	assert_string_equal(cfg->token_file, token_path);
	assert_string_equal(cfg->namespace, "plumb-system");
	assert_bytes(cfg->ca_pem, cfg->ca_len, ca, strlen(ca));
	assert_null(cfg->exec);
	/* The projected token rotates; a 401 re-reads it. */
	free(write_tmp("token", "rotated"));
	assert_int_equal(kube_config_refresh(cfg, true, &err), 1);
	assert_string_equal(cfg->token, "rotated");
	kube_config_free(cfg);

	/* IPv4, and no namespace file. */
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	{
		char *ns = xasprintf("%s/namespace", tmp);

		assert_int_equal(unlink(ns), 0);
		free(ns);
	}
	assert_int_equal(kube_config_in_cluster(&opts, &cfg, &err), 0);
	assert_string_equal(cfg->server, "https://10.96.0.1:6443");
	assert_string_equal(cfg->namespace, "default");
	kube_config_free(cfg);

	/* Without a token the error names the file. */
	assert_int_equal(unlink(token_path), 0);
	cfg = NULL;
	assert_int_equal(kube_config_in_cluster(&opts, &cfg, &err), ERR_NOTFOUND);
	assert_null(cfg);
	assert_contains(err.msg, "in-cluster config");
	assert_contains(err.msg, token_path);
	free(token_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_first_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_cert_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undefined_user_and_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_provider_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_client_cert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_in_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_invalid_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_config_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_expiry_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
