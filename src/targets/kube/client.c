/*
 * client.c — the REST client of the Kubernetes target, over libcurl.
 *
 * One CURLSH per client shares the connection cache, DNS cache and TLS sessions
 * between every request made through it, so that requests reuse kept-alive
 * connections (HTTP/2 when the server offers it: kube-apiserver does, and then
 * kube_request_many's requests are streams on one connection). Each request
 * gets its own easy handle.
 *
 * A client serves one thread at a time: libcurl does not support a connection
 * cache shared by concurrent threads (CURLSHOPT_SHARE(3)). The share's locks
 * let a client move between threads; threads that work at the same time each
 * need a client, and a config, of their own (a 401 refreshes the config).
 *
 * TLS is always verified unless the kubeconfig says insecure-skip-tls-verify:
 * the CA from the kubeconfig (else the system's roots), the client certificate
 * and key as PEM blobs. tls-server-name is honoured by putting that name in the
 * URL (so that curl checks the certificate against it and sends it as SNI) and
 * connecting to the real host with CURLOPT_CONNECT_TO.
 */
#include "targets/kube/kube_int.h"

#include "yaml/yaml.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KUBE_CONNECT_TIMEOUT_S 10L
#define KUBE_REQUEST_TIMEOUT_S 60L
/* Caps a response body: large lists are paged by callers (limit=500). */
#define KUBE_BODY_MAX	((size_t)256 << 20)
#define KUBE_USER_AGENT "plumb"
/* Connections kube_request_many opens when the server offers no HTTP/2. */
#define KUBE_MAX_CONNECTIONS 6

struct kube_client {
	struct kube_config *cfg;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	char *url_base;	  /* "https://host:port[/prefix]" (tls-server-name as host) */
	char *connect_to; /* "name:port:host:port" when tls-server-name is set */
	struct kube_discovery *discovery;
};

struct kube_discovery **kube_client_discovery(struct kube_client *c)
{
	return &c->discovery;
}

/* ---- the share's locks ---- */

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *payload)
{
	struct kube_client *c = payload;

	(void)handle;
	(void)access;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *payload)
{
	struct kube_client *c = payload;

	(void)handle;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->share_locks[data]);
}

/* ---- client ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/*
 * Works out the URL base and, with tls-server-name, the CONNECT_TO mapping from
 * cfg->server ("https://host[:port][/prefix]").
 */
static int parse_server(struct kube_client *c, struct error *err)
{
	const struct kube_config *cfg = c->cfg;
	CURLU *url = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int rc = 0;

	if (!url)
		die("out of memory");
	if (!cfg->server || !*cfg->server) {
		rc = error_set(err, ERR_INVALID, "kubeconfig '%s': no server",
			       cfg->source ? cfg->source : "");
		goto out;
	}
	if (curl_url_set(url, CURLUPART_URL, cfg->server, 0) != CURLUE_OK ||
	    curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(url, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		rc = error_set(err, ERR_INVALID, "invalid server URL '%s'", cfg->server);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		rc = error_set(err, ERR_INVALID, "invalid server URL '%s': scheme must be https",
			       cfg->server);
		goto out;
	}
	{
		size_t plen = strlen(path);
		const char *name =
			cfg->tls_server_name && *cfg->tls_server_name ? cfg->tls_server_name : NULL;

		while (plen > 0 && path[plen - 1] == '/')
			plen--;
		if (name) {
			c->url_base =
				xasprintf("%s://%s:%s%.*s", scheme, name, port, (int)plen, path);
			/* host is bracketed already when it is an IPv6 address */
			c->connect_to = xasprintf("%s:%s:%s:%s", name, port, host, port);
		} else {
			c->url_base =
				xasprintf("%s://%s:%s%.*s", scheme, host, port, (int)plen, path);
		}
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(url);
	return rc;
}

int kube_client_new(struct kube_config *cfg, struct kube_client **out, struct error *err)
{
	struct kube_client *c;
	int rc;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return error_set(err, ERR_INTERNAL, "cannot initialise libcurl: %s",
				 curl_easy_strerror(curl_init_rc));
	c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	for (size_t i = 0; i < ARRAY_SIZE(c->share_locks); i++)
		pthread_mutex_init(&c->share_locks[i], NULL);
	rc = parse_server(c, err);
	if (rc < 0)
		goto fail;
	c->share = curl_share_init();
	if (!c->share)
		die("out of memory");
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	if (curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
		rc = error_set(err, ERR_UNSUPPORTED,
			       "libcurl cannot share connections (need 7.57)");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	kube_client_free(c);
	return rc;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	kube_discovery_free(c->discovery);
	if (c->share)
		curl_share_cleanup(c->share);
	for (size_t i = 0; i < ARRAY_SIZE(c->share_locks); i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	free(c->url_base);
	free(c->connect_to);
	free(c);
}

/* ---- one transfer ---- */

/* What a transfer needs beyond its easy handle; freed with it. */
struct transfer {
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	struct kube_response *response;
	size_t index; /* in kube_request_many: the call's */
	struct buf warnings;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t count, void *payload)
{
	struct transfer *t = payload;
	size_t len = size * count;

	if (buf_add(&t->response->body, data, len) < 0) {
		t->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	return len;
}

/*
 * A Warning header's text: `299 - "message"` gives the message (unescaped), as
 * kubectl shows it; anything else is kept as it is.
 */
static void add_warning(struct buf *out, const char *value, size_t len)
{
	struct str v = str_trim(str_make(value, len));
	const char *p = v.ptr, *end = v.ptr + v.len;
	const char *q;

	if (out->len)
		buf_addch(out, '\n');
	/* code SP agent SP "text" [SP date] */
	q = memchr(p, ' ', v.len);
	if (q)
		q = memchr(q + 1, ' ', (size_t)(end - q - 1));
	if (q && q + 1 < end && q[1] == '"') {
		size_t mark = out->len;

		for (p = q + 2; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			buf_addch(out, *p);
		}
		if (p < end)
			return;
		buf_truncate(out, mark); /* unterminated: keep the raw text */
	}
	buf_add(out, v.ptr, v.len);
}

static size_t on_header(char *data, size_t size, size_t count, void *payload)
{
	struct transfer *t = payload;
	size_t len = size * count;
	struct str line = str_make(data, len), name, value;

	/* A new status line starts a new response (after 100 Continue, a redirect). */
	if (str_has_prefix(line, "HTTP/")) {
		FREE_AND_NULL(t->response->content_type);
		buf_reset(&t->warnings);
		return len;
	}
	if (!str_cut(line, ':', &name, &value))
		return len;
	value = str_trim(value);
	if (str_eq_nocase(str_trim(name), STR_LIT("Content-Type"))) {
		free(t->response->content_type);
		t->response->content_type = str_dup(value);
	} else if (str_eq_nocase(str_trim(name), STR_LIT("Warning"))) {
		add_warning(&t->warnings, value.ptr, value.len);
	} else if (str_eq_nocase(str_trim(name), STR_LIT("Retry-After"))) {
		unsigned secs = 0;

		/* seconds only: the HTTP-date form is not used by the API server */
		for (size_t i = 0; i < value.len && value.ptr[i] >= '0' && value.ptr[i] <= '9'; i++)
			secs = secs < 3600 ? secs * 10 + (unsigned)(value.ptr[i] - '0') : secs;
		t->response->retry_after = secs;
	}
	return len;
}

static void transfer_free(struct transfer *t)
{
	if (!t)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	curl_slist_free_all(t->connect_to);
	buf_release(&t->warnings);
	free(t);
}

static struct curl_slist *slist_add(struct curl_slist *list, const char *s)
{
	struct curl_slist *next = curl_slist_append(list, s);

	if (!next)
		die("out of memory");
	return next;
}

static struct curl_slist *slist_addf(struct curl_slist *list, const char *fmt, ...)
	PRINTF_LIKE(2, 3);

static struct curl_slist *slist_addf(struct curl_slist *list, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	list = slist_add(list, b.data ? b.data : "");
	buf_release(&b);
	return list;
}

/*
 * An easy handle for one request, with TLS, credentials, timeouts and the
 * callbacks set; response is reset and receives what comes back.
 */
static struct transfer *transfer_new(struct kube_client *c, const char *method, const char *path,
				     const char *content_type, const char *body, size_t len,
				     const char *accept, struct kube_response *response)
{
	const struct kube_config *cfg = c->cfg;
	struct transfer *t = xcalloc(1, sizeof(*t));
	CURL *e = curl_easy_init();
	char *url;

	if (!e)
		die("out of memory");
	t->easy = e;
	t->response = response;
	memset(response, 0, sizeof(*response));
	buf_init(&response->body, KUBE_BODY_MAX);
	buf_init(&t->warnings, 64 << 10);

	url = xasprintf("%s%s%s", c->url_base, path[0] == '/' ? "" : "/", path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_SHARE, c->share);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, KUBE_CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, KUBE_REQUEST_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
	curl_easy_setopt(e, CURLOPT_USERAGENT, KUBE_USER_AGENT);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);

	/* TLS */
	if (cfg->insecure_skip_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (c->connect_to) {
		t->connect_to = slist_add(NULL, c->connect_to);
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, t->connect_to);
	}

	if (cfg->ca_pem && cfg->ca_len) {
		struct curl_blob ca = {cfg->ca_pem, cfg->ca_len, CURL_BLOB_COPY};

		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (cfg->cert_pem && cfg->cert_len && cfg->key_pem && cfg->key_len) {
		struct curl_blob cert = {cfg->cert_pem, cfg->cert_len, CURL_BLOB_COPY};
		struct curl_blob key = {cfg->key_pem, cfg->key_len, CURL_BLOB_COPY};

		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
	}
	if (cfg->token && *cfg->token) {
		t->headers = slist_addf(t->headers, "Authorization: Bearer %s", cfg->token);
	} else if (cfg->username && *cfg->username) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, cfg->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
	}

	/* method and body */
	if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(method, "GET") == 0 && !body) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		if (!body && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
			      strcmp(method, "PATCH") == 0)) {
			/* an empty body, sent as one (Content-Length: 0) */
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		}
	}

	t->headers = slist_addf(t->headers, "Accept: %s", accept ? accept : "application/json");
	if (body)
		t->headers = slist_addf(t->headers, "Content-Type: %s",
					content_type ? content_type : "application/json");
	t->headers = slist_add(t->headers, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	return t;
}

/*
 * After the transfer ended with rc: fills response->status and warnings, or err
 * when the server could not be reached. Returns as kube_request.
 */
static int transfer_finish(struct kube_client *c, struct transfer *t, const char *method,
			   const char *path, CURLcode code, struct error *err)
{
	struct kube_response *r = t->response;
	const char *reason = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);

	if (t->too_big)
		return error_set(err, ERR_TOOBIG, "%s %s: the response is over %zu MiB", method,
				 path, KUBE_BODY_MAX >> 20);
	if (code == CURLE_OPERATION_TIMEDOUT)
		return error_set(err, ERR_TIMEOUT, "%s %s: no answer from '%s': %s", method, path,
				 c->cfg->server, reason);
	if (code != CURLE_OK)
		return error_set(err, ERR_NETWORK, "%s %s: cannot reach '%s': %s", method, path,
				 c->cfg->server, reason);
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (t->warnings.len)
		r->warnings = buf_detach(&t->warnings, NULL);
	return 0;
}

/*
 * The credentials before a request: an exec plugin whose credential is
 * missing or expired runs now (kube_config_refresh does nothing otherwise).
 */
static int credentials_ready(struct kube_client *c, bool force, struct error *err)
{
	int rc = 0;

	if (!force && !c->cfg->exec)
		return 0;
	rc = kube_config_refresh(c->cfg, force, err);
	if (rc < 0)
		error_prefix(err, "refresh credentials for '%s'", c->cfg->server);
	return rc;
}

/* Whether a 401 is worth a refresh and a retry: only if something can change. */
static bool can_refresh(const struct kube_client *c)
{
	return c->cfg->exec || c->cfg->token_file;
}

/*
 * Whether a transfer failed with the connection under it (a GOAWAY, a reset)
 * before an answer came: worth sending once more on a new connection.
 * kube-apiserver sends GOAWAY after a failed authentication over HTTP/2 (its
 * rapid-reset mitigation), which takes the other streams in flight with it.
 * Sending again is safe for Kubernetes writes too: apply is idempotent, a
 * create repeated gets 409 AlreadyExists, a delete repeated 404.
 */
static bool transient(CURLcode code)
{
	switch (code) {
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return true;
	default:
		return false;
	}
}

#define BUSY_RETRIES  6
#define BUSY_WAIT_MS  250
#define BUSY_WAIT_MAX 5000

/* An answer that says "later": too many requests, unavailable, gateway timeout. */
static bool busy(long status)
{
	return status == 429 || status == 503 || status == 504;
}

/* How long to wait before asking again, the attempt-th time (0-based). */
static unsigned busy_wait_ms(unsigned attempt, unsigned retry_after)
{
	unsigned ms = BUSY_WAIT_MS << attempt;

	if (retry_after && retry_after * 1000u > ms)
		ms = retry_after * 1000u;
	return ms < BUSY_WAIT_MAX ? ms : BUSY_WAIT_MAX;
}

int kube_request(struct kube_client *c, const char *method, const char *path,
		 const char *content_type, const char *body, size_t len, const char *accept,
		 struct kube_response *out, struct error *err)
{
	bool refreshed = false, resent = false;
	unsigned busy_tries = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	for (;;) {
		struct transfer *t;
		CURLcode code;

		rc = credentials_ready(c, false, err);
		if (rc < 0)
			return rc;
		t = transfer_new(c, method, path, content_type, body, len, accept, out);
		code = curl_easy_perform(t->easy);
		rc = transfer_finish(c, t, method, path, code, err);
		transfer_free(t);
		if (rc < 0) {
			kube_response_release(out);
			if (!resent && transient(code)) {
				resent = true;
				continue;
			}
			return rc;
		}
		if (busy(out->status) && busy_tries < BUSY_RETRIES) {
			unsigned ms = busy_wait_ms(busy_tries++, out->retry_after);

			kube_response_release(out);
			usleep(ms * 1000);
			continue;
		}
		if (out->status != 401 || refreshed || !can_refresh(c))
			return 0;
		/* 401: new credentials (a rotated token, an expired exec credential), once */
		kube_response_release(out);
		refreshed = true;
		rc = credentials_ready(c, true, err);
		if (rc < 0)
			return rc;
	}
}

void kube_response_release(struct kube_response *r)
{
	if (!r)
		return;
	buf_release(&r->body);
	FREE_AND_NULL(r->content_type);
	FREE_AND_NULL(r->warnings);
	r->status = 0;
	r->retry_after = 0;
}

/* ---- many at once ---- */

/*
 * Runs the calls whose index is in todo[0..n) on one multi handle, parallel at
 * a time; sets resend[i] for a call that failed transiently (see transient).
 */
static void run_many(struct kube_client *c, struct kube_call *calls, const size_t *todo, size_t n,
		     unsigned parallel, bool *resend)
{
	CURLM *multi = curl_multi_init();
	size_t next = 0, running = 0;

	if (!multi)
		die("out of memory");
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)parallel);
	/* over HTTP/2 the streams share one connection; over HTTP/1.1 a few serve the queue */
	curl_multi_setopt(
		multi, CURLMOPT_MAX_HOST_CONNECTIONS,
		(long)(parallel < KUBE_MAX_CONNECTIONS ? parallel : KUBE_MAX_CONNECTIONS));

	while (next < n || running > 0) {
		CURLMsg *msg;
		int left, still;

		while (next < n && running < parallel) {
			size_t index = todo[next++];
			struct kube_call *call = &calls[index];
			struct transfer *t;

			error_clear(&call->err);
			call->rc = 0;
			resend[index] = false;
			t = transfer_new(c, call->method, call->path, call->content_type,
					 call->body, call->len, NULL, &call->response);
			t->index = index;
			curl_multi_add_handle(multi, t->easy);
			running++;
		}
		curl_multi_perform(multi, &still);
		while ((msg = curl_multi_info_read(multi, &left))) {
			struct transfer *t = NULL;
			struct kube_call *call;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			call = &calls[t->index];
			call->rc = transfer_finish(c, t, call->method, call->path, msg->data.result,
						   &call->err);
			if (call->rc < 0) {
				kube_response_release(&call->response);
				resend[t->index] = transient(msg->data.result);
			}
			curl_multi_remove_handle(multi, t->easy);
			transfer_free(t);
			running--;
		}
		if (running > 0)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	curl_multi_cleanup(multi);
}

void kube_request_many(struct kube_client *c, struct kube_call *calls, size_t n, unsigned parallel)
{
	size_t *todo = xcalloc(n ? n : 1, sizeof(*todo));
	bool *resend = xcalloc(n ? n : 1, sizeof(*resend));
	size_t again = 0;
	bool unauthorized = false;
	struct error err = ERROR_INIT;
	int rc;

	if (parallel == 0)
		parallel = 1;
	rc = credentials_ready(c, false, &err);
	for (size_t i = 0; i < n; i++) {
		todo[i] = i;
		memset(&calls[i].response, 0, sizeof(calls[i].response));
		calls[i].rc = rc;
		error_clear(&calls[i].err);
		if (rc < 0)
			calls[i].err = err;
	}
	if (rc < 0)
		goto out;
	run_many(c, calls, todo, n, parallel, resend);

	/*
	 * One more round for what failed in passing: the transient failures, and
	 * the 401s once the credentials are refreshed.
	 */
	for (size_t i = 0; i < n; i++)
		if (calls[i].rc == 0 && calls[i].response.status == 401)
			unauthorized = true;
	if (unauthorized && (!can_refresh(c) || credentials_ready(c, true, &err) < 0))
		unauthorized = false; /* the 401 responses stand */
	for (size_t i = 0; i < n; i++) {
		if (resend[i]) {
			todo[again++] = i;
		} else if (unauthorized && calls[i].rc == 0 && calls[i].response.status == 401) {
			kube_response_release(&calls[i].response);
			todo[again++] = i;
		}
	}
	if (again == 0)
		goto busy;
	run_many(c, calls, todo, again, parallel, resend);

	/*
	 * Still cut off: the refreshed credentials failed too, and each 401's
	 * GOAWAY cut the streams beside it again. Once more, one at a time.
	 */
	again = 0;
	for (size_t i = 0; i < n; i++)
		if (resend[i])
			todo[again++] = i;
	if (again)
		run_many(c, calls, todo, again, 1, resend);
busy:
	/*
	 * What the server was too busy to answer, again after a pause and with a
	 * quarter as many requests in flight each time, down to one: a server
	 * that admits few requests of this client at once is then served in turn.
	 */
	for (unsigned attempt = 0; attempt < BUSY_RETRIES; attempt++) {
		unsigned retry_after = 0;

		again = 0;
		for (size_t i = 0; i < n; i++) {
			if (calls[i].rc != 0 || !busy(calls[i].response.status))
				continue;
			if (calls[i].response.retry_after > retry_after)
				retry_after = calls[i].response.retry_after;
			kube_response_release(&calls[i].response);
			todo[again++] = i;
		}
		if (!again)
			break;
		usleep(busy_wait_ms(attempt, retry_after) * 1000);
		parallel = parallel / 4 ? parallel / 4 : 1;
		run_many(c, calls, todo, again, parallel, resend);
	}
out:
	free(resend);
	free(todo);
}

/* ---- errors ---- */

static int status_code(long status)
{
	switch (status) {
	case 400:
	case 422:
		return ERR_INVALID;
	case 401:
	case 403:
		return ERR_AUTH;
	case 404:
	case 410:
		return ERR_NOTFOUND;
	case 409:
		return ERR_CONFLICT;
	case 413:
		return ERR_TOOBIG;
	case 429:
		return ERR_NETWORK;
	default:
		return status >= 500 ? ERR_NETWORK : ERR_INTERNAL;
	}
}

/*
 * "<status> <reason>: <causes or message>". Causes read "field: message",
 * joined by "; "; without causes, the Status message stands. A body that is
 * not a Status (a proxy's page) is quoted, cut short.
 */
int kube_status_error(const struct kube_response *r, struct error *err)
{
	struct arena arena = ARENA_INIT;
	struct vec docs = VEC_INIT;
	struct buf msg = BUF_INIT;
	const struct node *status = NULL;
	int code;

	if (r->status >= 200 && r->status < 400) {
		error_clear(err);
		return 0;
	}
	code = status_code(r->status);
	buf_init(&msg, ERROR_MSG_MAX);
	buf_addf(&msg, "%ld", r->status);
	if (r->body.len &&
	    yaml_parse(&arena, "response", r->body.data, r->body.len, NULL, &docs, NULL) == 0 &&
	    docs.len == 1) {
		const struct yaml_doc *doc = docs.items[0];
		const char *kind = node_string(node_get(doc->root, "kind"));

		if (kind && strcmp(kind, "Status") == 0)
			status = doc->root;
	}
	if (status) {
		const char *message = node_string(node_get(status, "message"));

		/*
		 * Server-side apply answers 500 for a body it cannot type ("failed
		 * to create typed patch object (...): .bogus: field not declared in
		 * schema"): the manifest is wrong, and retrying cannot help.
		 */
		if (r->status == 500 && message && strstr(message, "failed to create typed patch"))
			code = ERR_INVALID;
	}
	if (status) {
		const char *reason = node_string(node_get(status, "reason"));
		const char *message = node_string(node_get(status, "message"));
		const struct node *causes = node_get(node_get(status, "details"), "causes");
		size_t shown = 0;

		if (reason && *reason)
			buf_addf(&msg, " %s", reason);
		buf_addstr(&msg, ":");
		if (causes && causes->type == NODE_SEQ) {
			for (size_t i = 0; i < causes->count; i++) {
				const char *field =
					node_string(node_get(causes->items[i], "field"));
				const char *text =
					node_string(node_get(causes->items[i], "message"));

				if (!text || !*text)
					continue;
				buf_addstr(&msg, shown ? "; " : " ");
				if (field && *field)
					buf_addf(&msg, "%s: ", field);
				buf_addstr(&msg, text);
				shown++;
			}
		}
		if (shown == 0)
			buf_addf(&msg, " %s", message && *message ? message : "no message");
	} else if (r->body.len) {
		struct str text = str_trim(str_make(r->body.data, r->body.len));
		size_t cut = text.len > 200 ? 200 : text.len;

		buf_addf(&msg, ": %.*s%s", (int)cut, text.ptr, cut < text.len ? "..." : "");
	} else {
		buf_addstr(&msg, ": no response body");
	}
	error_set(err, code, "%s", msg.data);
	buf_release(&msg);
	vec_release(&docs, NULL);
	arena_release(&arena);
	return code;
}
