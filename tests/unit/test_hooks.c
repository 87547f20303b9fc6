/* Unit tests for webhook signatures, events and URL keys (src/server/hooks.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "server/hooks.h"
#include "source/source.h"

#define SECRET "s3cr3t-9f2c41d7e0b8"

/* ---- fixtures: request headers, signatures, payloads ---- */

struct header {
	const char *name;
	const char *value;
};

/* Looks a header up by name, case-insensitively, as the HTTP server does. */
static const char *fake_header(void *ctx, const char *name)
{
	const struct header *headers = ctx;

	for (; headers && headers->name; headers++)
		if (strcasecmp(headers->name, name) == 0)
			return headers->value;
	return NULL;
}

static struct hook_request make_request(enum hook_provider provider, struct header *headers,
					const char *body)
{
	struct hook_request req = {provider, fake_header, headers, body, body ? strlen(body) : 0};

	return req;
}

/* "sha256=" and the hex HMAC-SHA256 of body keyed with secret, as the forges send it. */
static void sign(const char *secret, const char *body, char out[8 + SHA256_HEX_LEN])
{
	uint8_t mac[SHA256_LEN];
	unsigned int len = 0;

	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body,
			     strlen(body), mac, &len));
	assert_int_equal(len, SHA256_LEN);
	memcpy(out, "sha256=", 7);
	hex_encode(mac, SHA256_LEN, out + 7);
}

/* Abridged from a real github.com push delivery. */
static const char github_push[] =
	"{\n"
	"  \"ref\": \"refs/heads/main\",\n"
	"  \"before\": \"6113728f27ae82c7b1a177c8d03f9e96e0adf246\",\n"
	"  \"after\": \"59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5\",\n"
	"  \"repository\": {\n"
	"    \"id\": 186853002,\n"
	"    \"node_id\": \"MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=\",\n"
	"    \"name\": \"ops\",\n"
	"    \"full_name\": \"Acme/ops\",\n"
	"    \"private\": true,\n"
	"    \"owner\": {\"name\": \"Acme\", \"login\": \"Acme\", \"id\": 21031067},\n"
	"    \"html_url\": \"https://github.com/Acme/ops\",\n"
	"    \"url\": \"https://github.com/Acme/ops\",\n"
	"    \"created_at\": 1557933565,\n"
	"    \"pushed_at\": 1557933657,\n"
	"    \"git_url\": \"git://github.com/Acme/ops.git\",\n"
	"    \"ssh_url\": \"git@github.com:Acme/ops.git\",\n"
	"    \"clone_url\": \"https://github.com/Acme/ops.git\",\n"
	"    \"svn_url\": \"https://github.com/Acme/ops\",\n"
	"    \"default_branch\": \"main\"\n"
	"  },\n"
	"  \"pusher\": {\"name\": \"octocat\", \"email\": \"octocat@github.com\"},\n"
	"  \"sender\": {\"login\": \"octocat\", \"id\": 583231, \"type\": \"User\"},\n"
	"  \"created\": false,\n"
	"  \"deleted\": false,\n"
	"  \"forced\": false,\n"
	"  \"compare\": \"https://github.com/Acme/ops/compare/6113728f27ae...59b20b8d5c6f\",\n"
	"  \"commits\": [{\n"
	"    \"id\": \"59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5\",\n"
	"    \"message\": \"web: scale to 3 replicas\\n\\nSigned-off-by: Octo Cat\",\n"
	"    \"timestamp\": \"2019-05-15T15:20:41Z\",\n"
	"    \"author\": {\"name\": \"Octo Cat\", \"email\": \"octocat@github.com\"},\n"
	"    \"modified\": [\"apps/web/deploy.yaml\"]\n"
	"  }]\n"
	"}\n";

static const char github_ping[] =
	"{\"zen\":\"Keep it logically awesome.\",\"hook_id\":109948940,"
	"\"hook\":{\"type\":\"Repository\",\"id\":109948940,\"name\":\"web\",\"active\":true,"
	"\"events\":[\"push\"],\"config\":{\"content_type\":\"json\",\"insecure_ssl\":\"0\","
	"\"url\":\"https://plumb.example.com/hooks/github\"}},"
	"\"repository\":{\"id\":186853002,\"full_name\":\"Acme/ops\","
	"\"html_url\":\"https://github.com/Acme/ops\","
	"\"clone_url\":\"https://github.com/Acme/ops.git\"},"
	"\"sender\":{\"login\":\"octocat\",\"id\":583231}}";

/* An organisation's hook pings without a repository. */
static const char github_org_ping[] =
	"{\"zen\":\"Design for failure.\",\"hook_id\":42,"
	"\"hook\":{\"type\":\"Organization\",\"id\":42,\"events\":[\"push\"]},"
	"\"organization\":{\"login\":\"Acme\",\"id\":21031067}}";

/* Abridged from GitLab's documented push event. */
static const char gitlab_push[] =
	"{\n"
	"  \"object_kind\": \"push\",\n"
	"  \"event_name\": \"push\",\n"
	"  \"before\": \"95790bf891e76fee5e1747ab589903a6a1f80f22\",\n"
	"  \"after\": \"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\",\n"
	"  \"ref\": \"refs/heads/master\",\n"
	"  \"ref_protected\": true,\n"
	"  \"checkout_sha\": \"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\",\n"
	"  \"user_id\": 4,\n"
	"  \"user_name\": \"John Smith\",\n"
	"  \"user_username\": \"jsmith\",\n"
	"  \"project_id\": 15,\n"
	"  \"project\": {\n"
	"    \"id\": 15,\n"
	"    \"name\": \"Ops\",\n"
	"    \"web_url\": \"https://gitlab.example.com/platform/ops\",\n"
	"    \"git_ssh_url\": \"git@gitlab.example.com:platform/ops.git\",\n"
	"    \"git_http_url\": \"https://gitlab.example.com/platform/ops.git\",\n"
	"    \"namespace\": \"Platform\",\n"
	"    \"visibility_level\": 0,\n"
	"    \"path_with_namespace\": \"platform/ops\",\n"
	"    \"default_branch\": \"master\",\n"
	"    \"homepage\": \"https://gitlab.example.com/platform/ops\",\n"
	"    \"url\": \"git@gitlab.example.com:platform/ops.git\",\n"
	"    \"ssh_url\": \"git@gitlab.example.com:platform/ops.git\",\n"
	"    \"http_url\": \"https://gitlab.example.com/platform/ops.git\"\n"
	"  },\n"
	"  \"commits\": [{\n"
	"    \"id\": \"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\",\n"
	"    \"message\": \"fixed readme\",\n"
	"    \"timestamp\": \"2012-01-03T23:36:29+02:00\",\n"
	"    \"author\": {\"name\": \"GitLab dev user\", \"email\": \"gitlabdev@dv6700.(none)\"},\n"
	"    \"added\": [\"CHANGELOG\"], \"modified\": [\"app/controller/application.rb\"],\n"
	"    \"removed\": []\n"
	"  }],\n"
	"  \"total_commits_count\": 1,\n"
	"  \"repository\": {\n"
	"    \"name\": \"Ops\",\n"
	"    \"url\": \"git@gitlab.example.com:platform/ops.git\",\n"
	"    \"description\": \"\",\n"
	"    \"homepage\": \"https://gitlab.example.com/platform/ops\",\n"
	"    \"git_http_url\": \"https://gitlab.example.com/platform/ops.git\",\n"
	"    \"git_ssh_url\": \"git@gitlab.example.com:platform/ops.git\",\n"
	"    \"visibility_level\": 0\n"
	"  }\n"
	"}\n";

static const char gitlab_tag_push[] =
	"{\"object_kind\":\"tag_push\",\"event_name\":\"tag_push\","
	"\"before\":\"0000000000000000000000000000000000000000\","
	"\"after\":\"82b3d5ae55f7080f1e6022629cdb57bfae7cccc7\","
	"\"ref\":\"refs/tags/v1.0.0\",\"ref_protected\":true,"
	"\"checkout_sha\":\"82b3d5ae55f7080f1e6022629cdb57bfae7cccc7\",\"user_id\":1,"
	"\"project_id\":1,\"project\":{\"id\":1,\"name\":\"Ops\","
	"\"web_url\":\"https://gitlab.example.com/platform/ops\","
	"\"git_ssh_url\":\"git@gitlab.example.com:platform/ops.git\","
	"\"git_http_url\":\"https://gitlab.example.com/platform/ops.git\"},"
	"\"commits\":[],\"total_commits_count\":0}";

/* System hooks: a push, a push of several refs, and an event that is no push. */
static const char gitlab_system_push[] =
	"{\"event_name\":\"push\",\"object_kind\":\"push\","
	"\"before\":\"95790bf891e76fee5e1747ab589903a6a1f80f22\","
	"\"after\":\"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\",\"ref\":\"refs/heads/main\","
	"\"user_id\":4,\"project_id\":15,\"project\":{\"name\":\"Ops\","
	"\"web_url\":\"https://gitlab.example.com/platform/ops\","
	"\"git_ssh_url\":\"git@gitlab.example.com:platform/ops.git\","
	"\"git_http_url\":\"https://gitlab.example.com/platform/ops.git\"},"
	"\"commits\":[],\"total_commits_count\":0}";

static const char gitlab_repository_update[] =
	"{\"event_name\":\"repository_update\",\"user_id\":1,\"user_name\":\"John Smith\","
	"\"project_id\":1,\"project\":{\"name\":\"Ops\","
	"\"web_url\":\"https://gitlab.example.com/platform/ops\","
	"\"git_ssh_url\":\"git@gitlab.example.com:platform/ops.git\","
	"\"git_http_url\":\"https://gitlab.example.com/platform/ops.git\"},"
	"\"changes\":[{\"before\":\"8205ea8d81ce0c6b90fbe8280d118cc9fdad6130\","
	"\"after\":\"4045ea7a3df38697b3730a20fb73c8bed8a3e69e\",\"ref\":\"refs/heads/main\"}],"
	"\"refs\":[\"refs/heads/main\"]}";

static const char gitlab_project_create[] =
	"{\"created_at\":\"2012-07-21T07:30:54Z\",\"updated_at\":\"2012-07-21T07:38:22Z\","
	"\"event_name\":\"project_create\",\"name\":\"StoreCloud\",\"owner_email\":"
	"\"johnsmith@example.com\",\"owner_name\":\"John Smith\",\"path\":\"storecloud\","
	"\"path_with_namespace\":\"jsmith/storecloud\",\"project_id\":74,"
	"\"project_visibility\":\"private\"}";

/* Abridged from a Bitbucket Data Center repo:refs_changed delivery. */
static const char bitbucket_push[] =
	"{\n"
	"  \"eventKey\": \"repo:refs_changed\",\n"
	"  \"date\": \"2017-09-19T09:45:32+1000\",\n"
	"  \"actor\": {\"name\": \"admin\", \"emailAddress\": \"admin@example.com\", \"id\": 1,\n"
	"            \"displayName\": \"Administrator\", \"active\": true, \"slug\": \"admin\",\n"
	"            \"type\": \"NORMAL\"},\n"
	"  \"repository\": {\n"
	"    \"slug\": \"ops\", \"id\": 84, \"name\": \"ops\", \"scmId\": \"git\",\n"
	"    \"state\": \"AVAILABLE\", \"statusMessage\": \"Available\", \"forkable\": true,\n"
	"    \"project\": {\"key\": \"PLAT\", \"id\": 84, \"name\": \"Platform\", \"public\": false,\n"
	"                \"type\": \"NORMAL\"},\n"
	"    \"public\": false,\n"
	"    \"links\": {\n"
	"      \"clone\": [\n"
	"        {\"href\": \"ssh://git@bitbucket.example.com:7999/plat/ops.git\", \"name\": "
	"\"ssh\"},\n"
	"        {\"href\": \"https://bitbucket.example.com/scm/plat/ops.git\", \"name\": "
	"\"http\"}\n"
	"      ],\n"
	"      \"self\": [{\"href\": "
	"\"https://bitbucket.example.com/projects/PLAT/repos/ops/browse\"}]\n"
	"    }\n"
	"  },\n"
	"  \"changes\": [{\n"
	"    \"ref\": {\"id\": \"refs/heads/main\", \"displayId\": \"main\", \"type\": \"BRANCH\"},\n"
	"    \"refId\": \"refs/heads/main\",\n"
	"    \"fromHash\": \"ecddabb624f6f5ba43816f5926e580a5f680a932\",\n"
	"    \"toHash\": \"178864a7d521b6f5e720b386b2c2b0ef8563e0dc\",\n"
	"    \"type\": \"UPDATE\"\n"
	"  }]\n"
	"}\n";

static const char bitbucket_push_two_refs[] =
	"{\"eventKey\":\"repo:refs_changed\",\"repository\":{\"slug\":\"ops\",\"links\":{"
	"\"clone\":[{\"href\":\"https://bitbucket.example.com/scm/plat/ops.git\",\"name\":"
	"\"http\"}]}},\"changes\":["
	"{\"ref\":{\"id\":\"refs/heads/main\",\"type\":\"BRANCH\"},\"refId\":\"refs/heads/main\","
	"\"toHash\":\"178864a7d521b6f5e720b386b2c2b0ef8563e0dc\",\"type\":\"UPDATE\"},"
	"{\"ref\":{\"id\":\"refs/tags/v2\",\"type\":\"TAG\"},\"refId\":\"refs/tags/v2\","
	"\"toHash\":\"178864a7d521b6f5e720b386b2c2b0ef8563e0dc\",\"type\":\"ADD\"}]}";

/* What "Test connection" sends. */
static const char bitbucket_ping[] = "{\"test\": true}";

static const char generic_push[] =
	"{\"repository\": \"https://git.example.com/platform/ops.git\", "
	"\"ref\": \"refs/heads/main\", \"after\": \"4045ea7a3df38697b3730a20fb73c8bed8a3e69e\"}";

/* ---- helpers for assertions ---- */

/* The message of the last error assert_auth_error saw. */
static char last_msg[ERROR_MSG_MAX];

static void assert_auth_error(const struct hook_request *req, const char *secret,
			      const char *header)
{
	struct error err = ERROR_INIT;
	char expected[8 + SHA256_HEX_LEN];

	assert_int_equal(hook_verify(req, secret, &err), ERR_AUTH);
	assert_int_equal(err.code, ERR_AUTH);
	if (!strstr(err.msg, header))
		fail_msg("'%s' does not name header '%s'", err.msg, header);
	/* Never the secret, never the signature that would have verified. */
	assert_null(strstr(err.msg, SECRET));
	sign(SECRET, req->body ? req->body : "", expected);
	assert_null(strstr(err.msg, expected + 7));
	memcpy(last_msg, err.msg, sizeof(last_msg));
}

/* A malformed header is told apart from one that is well formed but wrong. */
static void assert_malformed(const struct hook_request *req, const char *header)
{
	assert_auth_error(req, SECRET, header);
	if (!strstr(last_msg, "hex digits"))
		fail_msg("'%s' does not say the header is malformed", last_msg);
}

static void assert_mismatch(const struct hook_request *req, const char *secret, const char *header)
{
	assert_auth_error(req, secret, header);
	if (!strstr(last_msg, "does not match"))
		fail_msg("'%s' does not say the header does not match", last_msg);
}

static void assert_urls(const struct hook_event *ev, const char *const *urls, size_t count)
{
	assert_int_equal(ev->urls.len, count);
	for (size_t i = 0; i < count; i++)
		assert_string_equal(vec_get(&ev->urls, i), urls[i]);
}

static void assert_parse_fails(const struct hook_request *req, int code, const char *needle)
{
	struct hook_event ev;
	struct error err = ERROR_INIT;

	assert_int_equal(hook_parse(req, &ev, &err), code);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' does not mention '%s'", err.msg, needle);
	/* Nothing is left to free after a failure. */
	assert_int_equal(ev.urls.len, 0);
	assert_null(ev.urls.items);
	assert_null(ev.ref);
	assert_null(ev.after);
}

/*
 * The checks every HMAC-signed provider passes: its own signature verifies;
 * a wrong secret, a missing header, a changed body and malformed headers fail
 * with ERR_AUTH naming the header.
 */
static void check_hmac_provider(enum hook_provider provider, const char *header_name,
				const char *body)
{
	char signature[8 + SHA256_HEX_LEN];
	struct header headers[] = {{header_name, signature}, {NULL, NULL}};
	struct header none[] = {{"Content-Type", "application/json"}, {NULL, NULL}};
	struct hook_request req = make_request(provider, headers, body);
	struct error err = ERROR_INIT;
	char *tampered = xstrdup(body);
	char *p;

	sign(SECRET, body, signature);
	assert_int_equal(hook_verify(&req, SECRET, &err), 0);

	/* upper-case hex digits say the same */
	for (p = signature + 7; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	assert_int_equal(hook_verify(&req, SECRET, &err), 0);

	/* the right signature with its first, a middle or its last digit changed */
	for (p = signature + 7; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	{
		static const size_t positions[] = {7, 7 + 31, 7 + SHA256_HEX_LEN - 1};

		for (size_t i = 0; i < ARRAY_SIZE(positions); i++) {
			char saved = signature[positions[i]];

			signature[positions[i]] = saved == '0' ? '1' : '0';
			assert_mismatch(&req, SECRET, header_name);
			signature[positions[i]] = saved;
		}
		assert_int_equal(hook_verify(&req, SECRET, &err), 0);
	}

	/* signed with another secret */
	sign("an0ther-s3cret", body, signature);
	assert_mismatch(&req, SECRET, header_name);

	/* a secret that is a prefix of the right one */
	sign(SECRET, body, signature);
	assert_mismatch(&req, "s3cr3t", header_name);

	/* no header at all */
	req.ctx = none;
	assert_auth_error(&req, SECRET, header_name);
	assert_non_null(strstr(last_msg, "missing"));
	req.ctx = NULL;
	assert_auth_error(&req, SECRET, header_name);
	assert_non_null(strstr(last_msg, "missing"));
	req.ctx = headers;

	/* one byte of the body changed after signing */
	p = strstr(tampered, "ops");
	assert_non_null(p);
	p[0] = 'O';
	req.body = tampered;
	assert_mismatch(&req, SECRET, header_name);
	/* the body cut short */
	req.len = strlen(tampered) - 1;
	req.body = body;
	assert_mismatch(&req, SECRET, header_name);
	req.len = strlen(body);
	assert_int_equal(hook_verify(&req, SECRET, &err), 0);

	/* malformed headers */
	{
		const char *hex = signature + 7;
		char buf[256];
		const char *const bad[] = {
			"",
			"sha256=",
			"sha256",
			hex,						 /* no prefix */
			"sha1=0a4d55a8d778e5022fab701977c5d840bbc486d0", /* GitHub's legacy */
			"sha512="
			"0000000000000000000000000000000000000000000000000000000000000000",
			"sha256=zz"
			"00000000000000000000000000000000000000000000000000000000000000",
			"sha256=0g"
			"00000000000000000000000000000000000000000000000000000000000000",
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			headers[0].value = bad[i];
			assert_malformed(&req, header_name);
		}
		/* one digit short, one digit too many, a space inside */
		snprintf(buf, sizeof(buf), "sha256=%.63s", hex);
		headers[0].value = buf;
		assert_malformed(&req, header_name);
		snprintf(buf, sizeof(buf), "sha256=%s0", hex);
		assert_malformed(&req, header_name);
		snprintf(buf, sizeof(buf), "sha256= %.63s", hex);
		assert_malformed(&req, header_name);
		/* the right digits under another name */
		snprintf(buf, sizeof(buf), "sha512=%s", hex);
		assert_malformed(&req, header_name);
		snprintf(buf, sizeof(buf), "sha256:%s", hex);
		assert_malformed(&req, header_name);
		snprintf(buf, sizeof(buf), "SHA256=%s", hex);
		assert_int_equal(hook_verify(&req, SECRET, &err), 0);
		snprintf(buf, sizeof(buf), "sha256=%s", hex);
		assert_int_equal(hook_verify(&req, SECRET, &err), 0);
		/* surrounding whitespace is not part of the value */
		snprintf(buf, sizeof(buf), " sha256=%s\t", hex);
		assert_int_equal(hook_verify(&req, SECRET, &err), 0);
		headers[0].value = signature;
	}

	/* an empty or absent secret never verifies, even against an empty key's MAC */
	sign("", body, signature);
	assert_auth_error(&req, "", header_name);
	assert_non_null(strstr(last_msg, "no secret"));
	assert_auth_error(&req, NULL, header_name);
	assert_non_null(strstr(last_msg, "no secret"));
	free(tampered);
}

/* ---- providers ---- */

static void test_provider_names(void **state)
{
	static const char *const names[] = {"github", "gitlab", "bitbucket", "generic"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int provider = hook_provider_parse(names[i]);

		assert_int_equal(provider, (int)i);
		assert_string_equal(hook_provider_name(provider), names[i]);
	}
	assert_int_equal(hook_provider_parse("gitea"), -1);
	assert_int_equal(hook_provider_parse(""), -1);
	assert_int_equal(hook_provider_parse("GitHub"), -1);
	assert_int_equal(hook_provider_parse("github/"), -1);
	assert_int_equal(hook_provider_parse(NULL), -1);
}

/* The example in GitHub's "Validating webhook deliveries". */
static void test_github_documented_vector(void **state)
{
	struct header headers[] = {
		{"X-Hub-Signature-256",
		 "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
		{NULL, NULL}};
	struct hook_request req = make_request(HOOK_GITHUB, headers, "Hello, World!");
	struct error err = ERROR_INIT;

	(void)state;
	assert_int_equal(hook_verify(&req, "It's a Secret to Everybody", &err), 0);
	assert_int_equal(hook_verify(&req, "It's a secret to everybody", &err), ERR_AUTH);
}

static void test_github_verify(void **state)
{
	(void)state;
	check_hmac_provider(HOOK_GITHUB, "X-Hub-Signature-256", github_push);
}

/* GitHub's legacy SHA-1 header alone is not enough. */
static void test_github_legacy_header_only(void **state)
{
	struct header headers[] = {{"X-Hub-Signature", NULL}, {NULL, NULL}};
	char signature[8 + SHA256_HEX_LEN];
	struct hook_request req = make_request(HOOK_GITHUB, headers, github_push);

	(void)state;
	sign(SECRET, github_push, signature);
	headers[0].value = signature;
	assert_auth_error(&req, SECRET, "X-Hub-Signature-256");
}

static void test_bitbucket_verify(void **state)
{
	(void)state;
	check_hmac_provider(HOOK_BITBUCKET, "X-Hub-Signature", bitbucket_push);
}

static void test_generic_verify(void **state)
{
	(void)state;
	check_hmac_provider(HOOK_GENERIC, "X-Plumb-Signature", generic_push);
}

/* A signature in another provider's header does not count. */
static void test_verify_wrong_provider_header(void **state)
{
	char signature[8 + SHA256_HEX_LEN];
	struct header github_headers[] = {{"X-Hub-Signature-256", signature}, {NULL, NULL}};
	struct header bitbucket_headers[] = {{"X-Hub-Signature", signature}, {NULL, NULL}};
	struct hook_request req;

	(void)state;
	sign(SECRET, bitbucket_push, signature);
	req = make_request(HOOK_BITBUCKET, github_headers, bitbucket_push);
	assert_auth_error(&req, SECRET, "X-Hub-Signature");
	req = make_request(HOOK_GENERIC, bitbucket_headers, bitbucket_push);
	assert_auth_error(&req, SECRET, "X-Plumb-Signature");
	req = make_request(HOOK_GITLAB, github_headers, bitbucket_push);
	assert_auth_error(&req, SECRET, "X-Gitlab-Token");
}

static void test_gitlab_verify(void **state)
{
	struct header headers[] = {
		{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", SECRET}, {NULL, NULL}};
	struct hook_request req = make_request(HOOK_GITLAB, headers, gitlab_push);
	struct error err = ERROR_INIT;
	const char *const wrong[] = {
		"s3cr3t",	       /* a prefix */
		SECRET "0",	       /* one character more */
		"S3CR3T-9F2C41D7E0B8", /* case matters */
		"",		       /* empty */
		"s3cr3t-9f2c41d7e0b9", /* last character */
		"sha256=" SECRET,      /* not a signature scheme */
	};

	(void)state;
	assert_int_equal(hook_verify(&req, SECRET, &err), 0);
	/* the token is the whole secret: the body is not signed */
	req.body = "{}";
	req.len = 2;
	assert_int_equal(hook_verify(&req, SECRET, &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
		headers[1].value = wrong[i];
		assert_mismatch(&req, SECRET, "X-Gitlab-Token");
	}
	headers[1].name = "X-Gitlab-Secret";
	headers[1].value = SECRET;
	assert_auth_error(&req, SECRET, "X-Gitlab-Token");
	/* an empty secret never verifies, not even an empty token */
	headers[1].name = "X-Gitlab-Token";
	headers[1].value = "";
	assert_auth_error(&req, "", "X-Gitlab-Token");
	assert_auth_error(&req, NULL, "X-Gitlab-Token");
}

/* ---- events ---- */

static void test_github_push(void **state)
{
	struct header headers[] = {{"x-github-event", "push"},
				   {"X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
				   {NULL, NULL}};
	struct hook_request req = make_request(HOOK_GITHUB, headers, github_push);
	struct hook_event ev;
	struct error err = ERROR_INIT;
	static const char *const urls[] = {
		"https://github.com/Acme/ops.git",
		"git@github.com:Acme/ops.git",
		"git://github.com/Acme/ops.git",
		"https://github.com/Acme/ops",
	};

	(void)state;
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_urls(&ev, urls, ARRAY_SIZE(urls));
	assert_string_equal(ev.ref, "refs/heads/main");
	assert_string_equal(ev.after, "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5");
	/* every URL of the push matches an application's repoURL however it is written */
	for (size_t i = 0; i < ev.urls.len; i++) {
		char *key = source_url_key(vec_get(&ev.urls, i));

		assert_string_equal(key, "github.com/acme/ops");
		free(key);
	}
	hook_event_release(&ev);
	assert_null(ev.ref);
	assert_null(ev.after);
	assert_int_equal(ev.urls.len, 0);
	/* releasing twice is harmless */
	hook_event_release(&ev);
}

static void test_github_ping_and_others(void **state)
{
	struct header headers[] = {{"X-GitHub-Event", "ping"}, {NULL, NULL}};
	struct hook_request req = make_request(HOOK_GITHUB, headers, github_ping);
	struct hook_event ev;
	struct error err = ERROR_INIT;
	static const char *const ping_urls[] = {"https://github.com/Acme/ops.git",
						"https://github.com/Acme/ops"};

	(void)state;
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PING);
	assert_urls(&ev, ping_urls, ARRAY_SIZE(ping_urls));
	assert_null(ev.ref);
	hook_event_release(&ev);

	req.body = github_org_ping;
	req.len = strlen(github_org_ping);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PING);
	assert_int_equal(ev.urls.len, 0);
	hook_event_release(&ev);

	/* events plumb does not act on: no ref or after, even when the body has them */
	headers[0].value = "pull_request";
	req.body = github_push;
	req.len = strlen(github_push);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_OTHER);
	assert_null(ev.ref);
	assert_null(ev.after);
	hook_event_release(&ev);
	headers[0].value = "create";
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_OTHER);
	hook_event_release(&ev);
	/* "pushes" is not "push" */
	headers[0].value = "pushes";
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_OTHER);
	hook_event_release(&ev);
}

static void test_github_bad_requests(void **state)
{
	struct header headers[] = {{"X-GitHub-Event", "push"}, {NULL, NULL}};
	struct header no_event[] = {{"X-Hub-Signature-256", "sha256=00"}, {NULL, NULL}};
	struct hook_request req = make_request(HOOK_GITHUB, no_event, github_push);

	(void)state;
	assert_parse_fails(&req, ERR_INVALID, "X-GitHub-Event");
	no_event[0].name = "X-GitHub-Event";
	no_event[0].value = "";
	assert_parse_fails(&req, ERR_INVALID, "X-GitHub-Event");

	req = make_request(HOOK_GITHUB, headers, "{\"ref\":\"refs/heads/main\",\"after\":\"abc\"}");
	assert_parse_fails(&req, ERR_INVALID, "repository");
	req = make_request(
		HOOK_GITHUB, headers,
		"{\"ref\":\"refs/heads/main\",\"repository\":{\"id\":1,\"name\":\"ops\"}}");
	assert_parse_fails(&req, ERR_INVALID, "clone_url");
	req = make_request(HOOK_GITHUB, headers,
			   "{\"repository\":\"https://github.com/acme/ops.git\"}");
	assert_parse_fails(&req, ERR_INVALID, "repository");
	req = make_request(HOOK_GITHUB, headers, "{\"repository\":{\"clone_url\":42}}");
	assert_parse_fails(&req, ERR_INVALID, "clone_url");
	req = make_request(HOOK_GITHUB, headers, "{\"repository\":{\"clone_url\":\"\"}}");
	assert_parse_fails(&req, ERR_INVALID, "clone_url");

	/* bodies that are not one JSON object */
	req = make_request(HOOK_GITHUB, headers, "");
	assert_parse_fails(&req, ERR_INVALID, "body");
	req = make_request(HOOK_GITHUB, headers, NULL);
	assert_parse_fails(&req, ERR_INVALID, "body");
	req = make_request(HOOK_GITHUB, headers, "  \n ");
	assert_parse_fails(&req, ERR_INVALID, "body");
	req = make_request(HOOK_GITHUB, headers, "[{\"repository\":{}}]");
	assert_parse_fails(&req, ERR_INVALID, "JSON object");
	req = make_request(HOOK_GITHUB, headers,
			   "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D");
	assert_parse_fails(&req, ERR_INVALID, "JSON object");
	req = make_request(HOOK_GITHUB, headers, "repository:\n  clone_url: https://x/y.git\n");
	assert_parse_fails(&req, ERR_INVALID, "JSON object");
	req = make_request(HOOK_GITHUB, headers,
			   "{\"ref\": \"refs/heads/main\", \"repository\": {");
	assert_parse_fails(&req, ERR_INVALID, "body");
	req = make_request(HOOK_GITHUB, headers, "{\"ref\": \"a\", \"ref\": \"b\"}");
	assert_parse_fails(&req, ERR_INVALID, "body");
	req = make_request(HOOK_GITHUB, headers, "{\"a\": 1}\n---\n{\"b\": 2}");
	assert_parse_fails(&req, ERR_INVALID, "body");

	/* a body holding a NUL byte */
	{
		static const char with_nul[] = "{\"repository\": {\"clone_url\": \"a\0b\"}}";

		req.body = with_nul;
		req.len = sizeof(with_nul) - 1;
		assert_parse_fails(&req, ERR_INVALID, "body");
	}
	/* a ping's body must be JSON too */
	headers[0].value = "ping";
	req = make_request(HOOK_GITHUB, headers, "payload=%7B%7D");
	assert_parse_fails(&req, ERR_INVALID, "JSON object");
}

static void test_gitlab_events(void **state)
{
	struct header headers[] = {{"X-Gitlab-Event", "Push Hook"}, {NULL, NULL}};
	struct hook_request req = make_request(HOOK_GITLAB, headers, gitlab_push);
	struct hook_event ev;
	struct error err = ERROR_INIT;
	static const char *const push_urls[] = {
		"https://gitlab.example.com/platform/ops.git",
		"git@gitlab.example.com:platform/ops.git",
		"https://gitlab.example.com/platform/ops",
	};

	(void)state;
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_urls(&ev, push_urls, ARRAY_SIZE(push_urls));
	assert_string_equal(ev.ref, "refs/heads/master");
	assert_string_equal(ev.after, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
	for (size_t i = 0; i < ev.urls.len; i++) {
		char *key = source_url_key(vec_get(&ev.urls, i));

		assert_string_equal(key, "gitlab.example.com/platform/ops");
		free(key);
	}
	hook_event_release(&ev);

	headers[0].value = "Tag Push Hook";
	req = make_request(HOOK_GITLAB, headers, gitlab_tag_push);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_urls(&ev, push_urls, ARRAY_SIZE(push_urls));
	assert_string_equal(ev.ref, "refs/tags/v1.0.0");
	assert_string_equal(ev.after, "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7");
	hook_event_release(&ev);

	headers[0].value = "System Hook";
	req = make_request(HOOK_GITLAB, headers, gitlab_system_push);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_urls(&ev, push_urls, ARRAY_SIZE(push_urls));
	assert_string_equal(ev.ref, "refs/heads/main");
	hook_event_release(&ev);

	req = make_request(HOOK_GITLAB, headers, gitlab_repository_update);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_urls(&ev, push_urls, ARRAY_SIZE(push_urls));
	assert_string_equal(ev.ref, "refs/heads/main");
	assert_string_equal(ev.after, "4045ea7a3df38697b3730a20fb73c8bed8a3e69e");
	hook_event_release(&ev);

	req = make_request(HOOK_GITLAB, headers, gitlab_project_create);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_OTHER);
	hook_event_release(&ev);

	/* a push body under another event header is not a push */
	headers[0].value = "Merge Request Hook";
	req = make_request(HOOK_GITLAB, headers, gitlab_push);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_OTHER);
	assert_null(ev.ref);
	hook_event_release(&ev);

	/* older GitLab: only the repository's URLs */
	headers[0].value = "Push Hook";
	req = make_request(HOOK_GITLAB, headers,
			   "{\"object_kind\":\"push\",\"ref\":\"refs/heads/main\","
			   "\"repository\":{\"name\":\"Ops\","
			   "\"url\":\"git@gitlab.example.com:platform/ops.git\","
			   "\"homepage\":\"https://gitlab.example.com/platform/ops\"}}");
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_int_equal(ev.urls.len, 2);
	assert_string_equal(vec_get(&ev.urls, 0), "https://gitlab.example.com/platform/ops");
	assert_string_equal(vec_get(&ev.urls, 1), "git@gitlab.example.com:platform/ops.git");
	assert_null(ev.after);
	hook_event_release(&ev);

	req = make_request(HOOK_GITLAB, headers, "{\"object_kind\":\"push\",\"project_id\":15}");
	assert_parse_fails(&req, ERR_INVALID, "git_http_url");
	headers[0].name = "X-Event-Key";
	req = make_request(HOOK_GITLAB, headers, gitlab_push);
	assert_parse_fails(&req, ERR_INVALID, "X-Gitlab-Event");
}

static void test_bitbucket_events(void **state)
{
	struct header headers[] = {{"X-Event-Key", "repo:refs_changed"},
				   {"X-Request-Id", "bd9fa5fd-bc1b-4c3d-9f0a-2c3a1f1d5e77"},
				   {NULL, NULL}};
	struct hook_request req = make_request(HOOK_BITBUCKET, headers, bitbucket_push);
	struct hook_event ev;
	struct error err = ERROR_INIT;
	static const char *const urls[] = {
		"ssh://git@bitbucket.example.com:7999/plat/ops.git",
		"https://bitbucket.example.com/scm/plat/ops.git",
		"https://bitbucket.example.com/projects/PLAT/repos/ops/browse",
	};
	char *key;

	(void)state;
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_urls(&ev, urls, ARRAY_SIZE(urls));
	assert_string_equal(ev.ref, "refs/heads/main");
	assert_string_equal(ev.after, "178864a7d521b6f5e720b386b2c2b0ef8563e0dc");
	/* the ssh clone URL's port goes, the http one's path keeps its "scm/" */
	key = source_url_key(vec_get(&ev.urls, 0));
	assert_string_equal(key, "bitbucket.example.com/plat/ops");
	free(key);
	key = source_url_key(vec_get(&ev.urls, 1));
	assert_string_equal(key, "bitbucket.example.com/scm/plat/ops");
	free(key);
	hook_event_release(&ev);

	/* several refs in one push: no single ref or commit */
	req = make_request(HOOK_BITBUCKET, headers, bitbucket_push_two_refs);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_int_equal(ev.urls.len, 1);
	assert_null(ev.ref);
	assert_null(ev.after);
	hook_event_release(&ev);

	/* a change that names its ref only in ref.id */
	req = make_request(
		HOOK_BITBUCKET, headers,
		"{\"repository\":{\"links\":{\"clone\":[{\"href\":"
		"\"https://bitbucket.example.com/scm/plat/ops.git\"}]}},"
		"\"changes\":[{\"ref\":{\"id\":\"refs/tags/v3\"},\"toHash\":\"abc123\"}]}");
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_string_equal(ev.ref, "refs/tags/v3");
	assert_string_equal(ev.after, "abc123");
	hook_event_release(&ev);

	headers[0].value = "diagnostics:ping";
	req = make_request(HOOK_BITBUCKET, headers, bitbucket_ping);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PING);
	assert_int_equal(ev.urls.len, 0);
	hook_event_release(&ev);

	headers[0].value = "pr:opened";
	req = make_request(HOOK_BITBUCKET, headers, bitbucket_push);
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_OTHER);
	assert_null(ev.ref);
	hook_event_release(&ev);

	/* Bitbucket Cloud's push key is another event */
	headers[0].value = "repo:push";
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_OTHER);
	hook_event_release(&ev);

	headers[0].value = "repo:refs_changed";
	req = make_request(
		HOOK_BITBUCKET, headers,
		"{\"eventKey\":\"repo:refs_changed\",\"repository\":{\"slug\":\"ops\"}}");
	assert_parse_fails(&req, ERR_INVALID, "links");
	req = make_request(
		HOOK_BITBUCKET, headers,
		"{\"repository\":{\"links\":{\"clone\":{\"href\":\"https://x/y.git\"}}}}");
	assert_parse_fails(&req, ERR_INVALID, "clone");
	headers[0].name = "X-GitHub-Event";
	req = make_request(HOOK_BITBUCKET, headers, bitbucket_push);
	assert_parse_fails(&req, ERR_INVALID, "X-Event-Key");
}

static void test_generic_events(void **state)
{
	struct hook_request req = make_request(HOOK_GENERIC, NULL, generic_push);
	struct hook_event ev;
	struct error err = ERROR_INIT;

	(void)state;
	/* no event header: always a push */
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_int_equal(ev.urls.len, 1);
	assert_string_equal(vec_get(&ev.urls, 0), "https://git.example.com/platform/ops.git");
	assert_string_equal(ev.ref, "refs/heads/main");
	assert_string_equal(ev.after, "4045ea7a3df38697b3730a20fb73c8bed8a3e69e");
	hook_event_release(&ev);

	req = make_request(HOOK_GENERIC, NULL,
			   "{\"repoURL\": \"git@git.example.com:platform/ops\"}");
	assert_int_equal(hook_parse(&req, &ev, &err), 0);
	assert_int_equal(ev.kind, HOOK_PUSH);
	assert_int_equal(ev.urls.len, 1);
	assert_string_equal(vec_get(&ev.urls, 0), "git@git.example.com:platform/ops");
	assert_null(ev.ref);
	assert_null(ev.after);
	hook_event_release(&ev);

	req = make_request(HOOK_GENERIC, NULL, "{\"ref\": \"refs/heads/main\"}");
	assert_parse_fails(&req, ERR_INVALID, "repoURL");
	req = make_request(HOOK_GENERIC, NULL, "{\"repository\": {\"url\": \"https://x/y\"}}");
	assert_parse_fails(&req, ERR_INVALID, "repository");
	req = make_request(HOOK_GENERIC, NULL, "{\"repository\": \"\"}");
	assert_parse_fails(&req, ERR_INVALID, "repository");
	req = make_request(HOOK_GENERIC, NULL, "https://git.example.com/platform/ops.git");
	assert_parse_fails(&req, ERR_INVALID, "JSON object");
}

/* ---- URL keys ---- */

static void test_url_key(void **state)
{
	static const struct {
		const char *url;
		const char *key;
	} cases[] = {
		/* the header's examples */
		{"git@github.com:acme/ops.git", "github.com/acme/ops"},
		{"ssh://git@github.com/acme/ops", "github.com/acme/ops"},
		{"https://github.com/Acme/ops.git", "github.com/acme/ops"},
		/* https */
		{"https://github.com/acme/ops", "github.com/acme/ops"},
		{"https://github.com/acme/ops/", "github.com/acme/ops"},
		{"https://github.com/acme/ops.git/", "github.com/acme/ops"},
		{"https://github.com/acme/ops//", "github.com/acme/ops"},
		{"https://GitHub.COM/ACME/OPS.GIT", "github.com/acme/ops"},
		{"HTTPS://github.com/acme/ops", "github.com/acme/ops"},
		{"https://github.com:443/acme/ops.git", "github.com/acme/ops"},
		{"https://github.com/acme/ops.git?ref=main#readme", "github.com/acme/ops"},
		{"https://github.com", "github.com"},
		{"https://github.com/", "github.com"},
		{"  https://github.com/acme/ops.git\n", "github.com/acme/ops"},
		{"https://gitlab.example.com/group/sub/ops.git",
		 "gitlab.example.com/group/sub/ops"},
		{"https://github.com/acme/ops.github.io", "github.com/acme/ops.github.io"},
		{"https://github.com/acme/git", "github.com/acme/git"},
		/* user and password */
		{"https://user:p4ss@github.com/acme/ops.git", "github.com/acme/ops"},
		{"https://x-access-token:ghs_abc@github.com/acme/ops", "github.com/acme/ops"},
		{"https://oauth2@gitlab.example.com/platform/ops.git",
		 "gitlab.example.com/platform/ops"},
		{"https://us%40er:p@ss@git.example.com/ops.git", "git.example.com/ops"},
		/* http with a port: the port is part of the server's name */
		{"http://git.example.com:8080/acme/ops.git", "git.example.com:8080/acme/ops"},
		{"http://git.example.com:80/acme/ops.git", "git.example.com/acme/ops"},
		{"http://git.example.com/acme/ops", "git.example.com/acme/ops"},
		{"https://git.example.com:8443/acme/ops", "git.example.com:8443/acme/ops"},
		{"http://git.example.com:/acme/ops", "git.example.com/acme/ops"},
		{"https://[2001:db8::1]:8443/acme/ops.git", "[2001:db8::1]:8443/acme/ops"},
		{"https://[2001:DB8::1]/acme/ops", "[2001:db8::1]/acme/ops"},
		/* ssh: user and port go */
		{"ssh://git@github.com:22/acme/ops.git", "github.com/acme/ops"},
		{"ssh://git@bitbucket.example.com:7999/plat/ops.git",
		 "bitbucket.example.com/plat/ops"},
		{"ssh://github.com/acme/ops.git/", "github.com/acme/ops"},
		{"git+ssh://git@github.com/acme/ops.git", "github.com/acme/ops"},
		{"ssh+git://git@github.com:2222/acme/ops", "github.com/acme/ops"},
		{"ssh://git@[2001:db8::1]:2222/acme/ops.git", "[2001:db8::1]/acme/ops"},
		/* git protocol */
		{"git://github.com/acme/ops.git", "github.com/acme/ops"},
		{"git://git.example.com:9418/acme/ops.git", "git.example.com/acme/ops"},
		{"git://git.example.com:9419/acme/ops.git", "git.example.com:9419/acme/ops"},
		/* scp-like */
		{"git@github.com:Acme/Ops.git", "github.com/acme/ops"},
		{"git@github.com:acme/ops.git/", "github.com/acme/ops"},
		{"git@github.com:/acme/ops.git", "github.com/acme/ops"},
		{"github.com:acme/ops", "github.com/acme/ops"},
		{"deploy@GitLab.Example.com:platform/ops.git", "gitlab.example.com/platform/ops"},
		{"git@[2001:db8::1]:acme/ops.git", "[2001:db8::1]/acme/ops"},
		{"org-21031067@github.com:acme/ops.git", "github.com/acme/ops"},
		/* file:// and local paths: the absolute path, case kept */
		{"file:///srv/git/ops.git", "/srv/git/ops"},
		{"file:///srv/git/Ops/", "/srv/git/Ops"},
		{"file://localhost/srv/git/ops", "/srv/git/ops"},
		{"FILE:///srv/git/ops", "/srv/git/ops"},
		{"file:///", "/"},
		{"/srv/git/ops.git", "/srv/git/ops"},
		{"/srv/git/Ops", "/srv/git/Ops"},
		{"/srv//git/./ops/", "/srv/git/ops"},
		{"/srv/git/ops/.git", "/srv/git/ops"},
		{"/srv/git/ops/.git/", "/srv/git/ops"},
		{"/srv/git/x/../ops", "/srv/git/ops"},
		{"/../srv/git/ops", "/srv/git/ops"},
		{"/", "/"},
		{"/srv/git/a:b", "/srv/git/a:b"},
		{"./ops.git", "ops"},
		{"repos/ops", "repos/ops"},
		{"repos/a:b", "repos/a:b"},
		{":acme/ops.git", ":acme/ops"},
		{"", ""},
		{"   ", ""},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *key = source_url_key(cases[i].url);

		if (strcmp(key, cases[i].key) != 0)
			fail_msg("'%s' gave '%s', expected '%s'", cases[i].url, key, cases[i].key);
		free(key);
	}
}

/* Keys keep apart what is not the same repository. */
static void test_url_key_distinguishes(void **state)
{
	static const char *const pairs[][2] = {
		{"https://github.com/acme/ops", "https://github.com/acme/ops2"},
		{"https://github.com/acme/ops", "https://github.com/acme-corp/ops"},
		{"https://github.com/acme/ops", "https://gitlab.com/acme/ops"},
		{"https://git.example.com/acme/ops", "https://git.example.com:8443/acme/ops"},
		{"https://github.com/acme/ops", "https://github.com/acme/ops/sub"},
		{"/srv/git/ops", "/srv/git/Ops"},
		{"/srv/git/ops", "srv/git/ops"},
		{"file:///srv/git/ops", "ssh://srv/git/ops"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		char *a = source_url_key(pairs[i][0]);
		char *b = source_url_key(pairs[i][1]);

		if (strcmp(a, b) == 0)
			fail_msg("'%s' and '%s' both gave '%s'", pairs[i][0], pairs[i][1], a);
		free(a);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_names),
		cmocka_unit_test(test_github_documented_vector),
		cmocka_unit_test(test_github_verify),
		cmocka_unit_test(test_github_legacy_header_only),
		cmocka_unit_test(test_bitbucket_verify),
		cmocka_unit_test(test_generic_verify),
		cmocka_unit_test(test_verify_wrong_provider_header),
		cmocka_unit_test(test_gitlab_verify),
		cmocka_unit_test(test_github_push),
		cmocka_unit_test(test_github_ping_and_others),
		cmocka_unit_test(test_github_bad_requests),
		cmocka_unit_test(test_gitlab_events),
		cmocka_unit_test(test_bitbucket_events),
		cmocka_unit_test(test_generic_events),
		cmocka_unit_test(test_url_key),
		cmocka_unit_test(test_url_key_distinguishes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
