/*
 * Fuzz target for the webhook receivers: signature checks, payload parsing for
 * every provider, and repository URL keys. The first byte picks the provider
 * and the event header; the rest is the body (and, up to its first newline, a
 * URL for source_url_key). Nothing may crash, and a signature computed for the
 * body must verify while the same signature over a changed body must not.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>

#include "server/hooks.h"
#include "source/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct headers {
	const char *event_name;
	const char *event;
	const char *sig_name;
	char sig[80];
};

static const char *header(void *ctx, const char *name)
{
	struct headers *h = ctx;

	if (h->event_name && strcasecmp(name, h->event_name) == 0)
		return h->event;
	if (strcasecmp(name, h->sig_name) == 0)
		return h->sig;
	return NULL;
}

static void sign(struct headers *h, const char *body, size_t len)
{
	unsigned char mac[32];
	unsigned int mac_len = 0;
	char hex[65];

	HMAC(EVP_sha256(), "secret", 6, (const unsigned char *)body, len, mac, &mac_len);
	hex_encode(mac, 32, hex);
	snprintf(h->sig, sizeof(h->sig), "sha256=%s", hex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const events[][2] = {
		{"X-GitHub-Event", "push"},	      {"X-GitHub-Event", "ping"},
		{"X-Gitlab-Event", "Push Hook"},      {"X-Gitlab-Event", "System Hook"},
		{"X-Event-Key", "repo:refs_changed"}, {NULL, NULL},
	};
	static const char *const sig_names[] = {"X-Hub-Signature-256", "X-Gitlab-Token",
						"X-Hub-Signature", "X-Plumb-Signature"};
	struct headers h = {0};
	struct hook_request req = {.header = header, .ctx = &h};
	struct hook_event ev;
	struct error err = ERROR_INIT;
	const char *body;
	char *url, *key;
	size_t len;

	if (size < 1 || size > 65536)
		return 0;
	req.provider = (enum hook_provider)(data[0] % 4);
	h.event_name = events[(data[0] / 4) % ARRAY_SIZE(events)][0];
	h.event = events[(data[0] / 4) % ARRAY_SIZE(events)][1];
	h.sig_name = sig_names[req.provider];
	body = (const char *)data + 1;
	len = size - 1;
	req.body = body;
	req.len = len;

	if (req.provider == HOOK_GITLAB)
		snprintf(h.sig, sizeof(h.sig), "secret");
	else
		sign(&h, body, len);
	if (hook_verify(&req, "secret", &err) != 0)
		abort();
	if (len && req.provider != HOOK_GITLAB) {
		req.len = len - 1;
		if (hook_verify(&req, "secret", &err) == 0)
			abort();
		req.len = len;
	}
	if (hook_parse(&req, &ev, &err) == 0)
		hook_event_release(&ev);

	url = xstrndup(body, strnlen(body, len < 512 ? len : 512));
	url[strcspn(url, "\n")] = '\0';
	key = source_url_key(url);
	free(key);
	free(url);
	return 0;
}
