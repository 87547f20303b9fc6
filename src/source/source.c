/*
 * Git sources through libgit2. Each URL gets a bare cache repository under
 * <data-dir>/repos/<name>-<hash>; a fetch brings every branch and tag into it
 * (pruning what the remote deleted), refs resolve against it, and trees read
 * blobs straight from its object database. A lock file beside the cache keeps
 * two plumb processes from fetching into it at once.
 *
 * Secrets never reach a message: the display URL has no user information, and
 * anything libgit2 says is scrubbed of every password and token we know of.
 * See docs/internals/source.md.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SOURCE_BLOB_MAX	       (64u * 1024 * 1024)
#define SOURCE_CREDENTIALS_MAX (1024 * 1024)
#define SOURCE_LOCK_WAIT_MS    (10u * 60 * 1000)
#define SOURCE_LOCK_POLL_MS    50
#define SOURCE_NAME_MAX	       48
#define SOURCE_HASH_LEN	       16
#define SOURCE_SUGGESTIONS     3
#define SOURCE_LISTED_REFS     8
#define SOURCE_LISTED_TAGS     5
#define SOURCE_SHA_MIN	       4

enum url_kind { URL_LOCAL, URL_FILE, URL_HTTP, URL_SSH, URL_GIT };

struct source {
	char *url;	   /* as given; may hold credentials */
	char *display_url; /* without user information */
	char *remote_url;  /* what libgit2 connects to */
	enum url_kind kind;
	char *cache_path;	/* <data-dir>/repos/<name>-<hash> */
	char *lock_path;	/* cache_path + ".lock" */
	char *credentials_file; /* from the options, or NULL */
	char *ssh_key;		/* from the options, or NULL */
	bool progress;		/* report fetch progress on a terminal */
	git_repository *repo;
	bool libgit2_ready; /* git_libgit2_init succeeded; shut down in source_free */
};

/* The pieces of a URL-style address; slices of the string it came from. */
struct url_parts {
	struct str scheme;
	struct str user;
	struct str password;
	struct str host; /* with the port, if any */
	struct str path; /* from the first '/' after the host, or empty */
	bool has_userinfo;
	bool has_password;
};

/* ---- URLs ---- */

/*
 * Splits "scheme://[user[:password]@]host[:port][/path]"; false if s has no
 * "://". The user information ends at the last '@' before the path, so a
 * password may itself hold an '@'.
 */
static bool url_split(struct str s, struct url_parts *out)
{
	const char *sep = NULL;
	size_t authority_start, authority_end, at = SIZE_MAX;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i + 2 < s.len; i++) {
		if (s.ptr[i] == ':' && s.ptr[i + 1] == '/' && s.ptr[i + 2] == '/') {
			sep = s.ptr + i;
			break;
		}
		if (s.ptr[i] == '/')
			break;
	}
	if (!sep || sep == s.ptr)
		return false;
	out->scheme = str_make(s.ptr, (size_t)(sep - s.ptr));
	authority_start = (size_t)(sep - s.ptr) + 3;
	authority_end = authority_start;
	while (authority_end < s.len && s.ptr[authority_end] != '/' &&
	       s.ptr[authority_end] != '?' && s.ptr[authority_end] != '#')
		authority_end++;
	for (size_t i = authority_start; i < authority_end; i++) {
		if (s.ptr[i] == '@')
			at = i;
	}
	/* "https://user:pa/ss@host/x": a password with an unescaped '/' cuts the
	 * authority short. What follows ':' is then no port; take the last '@'. */
	if (at == SIZE_MAX && s.ptr[authority_start] != '[') {
		const char *colon =
			memchr(s.ptr + authority_start, ':', authority_end - authority_start);
		bool port = colon != NULL;

		for (const char *p = colon ? colon + 1 : NULL; p && p < s.ptr + authority_end; p++)
			port = port && *p >= '0' && *p <= '9';
		if (colon && !port) {
			for (size_t i = authority_end;
			     i < s.len && s.ptr[i] != '?' && s.ptr[i] != '#'; i++) {
				if (s.ptr[i] == '@')
					at = i;
			}
			if (at != SIZE_MAX) {
				authority_end = at + 1;
				while (authority_end < s.len && s.ptr[authority_end] != '/' &&
				       s.ptr[authority_end] != '?' && s.ptr[authority_end] != '#')
					authority_end++;
			}
		}
	}
	if (at != SIZE_MAX) {
		struct str userinfo = str_make(s.ptr + authority_start, at - authority_start);

		out->has_userinfo = true;
		out->has_password = str_cut(userinfo, ':', &out->user, &out->password);
		authority_start = at + 1;
	}
	out->host = str_make(s.ptr + authority_start, authority_end - authority_start);
	out->path = str_make(s.ptr + authority_end, s.len - authority_end);
	return true;
}

/* Git's rule for "[user@]host:path": a colon, and no slash before it. */
static bool is_scp_like(const char *url)
{
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');

	return colon && colon != url && (!slash || colon < slash) && !strstr(url, "://");
}

char *source_redact_url(const char *url)
{
	struct url_parts parts;
	struct str s;

	if (!url)
		return NULL;
	s = str_from(url);
	if (!url_split(s, &parts) || !parts.has_userinfo)
		return xstrdup(url);
	return xasprintf("%.*s://%.*s", (int)parts.scheme.len, parts.scheme.ptr,
			 (int)(s.len - (size_t)(parts.host.ptr - s.ptr)), parts.host.ptr);
}

/* A copy of s with %XX escapes decoded (as git-credential-store writes them). */
static char *percent_decode(struct str s)
{
	struct buf out = BUF_INIT;

	buf_add(&out, "", 0);
	for (size_t i = 0; i < s.len; i++) {
		int hi, lo;

		if (s.ptr[i] == '%' && i + 2 < s.len && (hi = hex_digit_value(s.ptr[i + 1])) >= 0 &&
		    (lo = hex_digit_value(s.ptr[i + 2])) >= 0) {
			buf_addch(&out, (char)(hi * 16 + lo));
			i += 2;
			continue;
		}
		buf_addch(&out, s.ptr[i]);
	}
	return buf_detach(&out, NULL);
}

/* Sorts a URL into the transport that handles it. */
static int classify_url(const char *url, enum url_kind *out)
{
	struct url_parts parts;
	static const struct {
		const char *scheme;
		enum url_kind kind;
	} schemes[] = {
		{"file", URL_FILE},   {"https", URL_HTTP},  {"http", URL_HTTP}, {"ssh", URL_SSH},
		{"git+ssh", URL_SSH}, {"ssh+git", URL_SSH}, {"git", URL_GIT},
	};

	if (url_split(str_from(url), &parts)) {
		for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
			if (str_eq_nocase(parts.scheme, str_from(schemes[i].scheme))) {
				*out = schemes[i].kind;
				return 0;
			}
		}
		return ERR_UNSUPPORTED;
	}
	*out = is_scp_like(url) ? URL_SSH : URL_LOCAL;
	return 0;
}

/* An absolute form of a local path: canonical if it exists, else joined to the cwd. */
static char *absolute_path(const char *path)
{
	char *real = realpath(path, NULL);
	char cwd[PATH_MAX];
	size_t len;

	if (real)
		return real;
	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		real = xstrdup(path);
	else
		real = xasprintf("%s/%s", cwd, path);
	len = strlen(real);
	while (len > 1 && real[len - 1] == '/')
		real[--len] = '\0';
	return real;
}

/* "ops" for ".../ops.git/", made safe for a file name; "repo" if nothing is left. */
static char *cache_name(const char *key)
{
	struct str s = str_from(key);
	struct buf name = BUF_INIT;
	size_t start;

	while (s.len && s.ptr[s.len - 1] == '/')
		s.len--;
	if (str_has_suffix(s, ".git"))
		s.len -= 4;
	start = s.len;
	while (start > 0 && s.ptr[start - 1] != '/' && s.ptr[start - 1] != ':')
		start--;
	for (size_t i = start; i < s.len && name.len < SOURCE_NAME_MAX; i++) {
		char c = s.ptr[i];
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    (c == '.' && name.len);

		buf_addch(&name, safe ? c : '_');
	}
	if (name.len == 0)
		buf_addstr(&name, "repo");
	return buf_detach(&name, NULL);
}

/* ---- errors ---- */

/* Fails with code, the formatted context and libgit2's last message. */
static int PRINTF_LIKE(3, 4) fail_libgit2(struct error *err, int code, const char *fmt, ...)
{
	const git_error *last = git_error_last();
	struct buf msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	buf_addf(&msg, ": %s", last && last->message ? last->message : "unknown libgit2 error");
	error_set(err, code, "%s", msg.data);
	buf_release(&msg);
	return code;
}

/* ---- the cache and its lock ---- */

/* Creates dir and its missing parents (mode 0700: caches may hold private code). */
static int mkdir_parents(const char *dir, struct error *err)
{
	char *path = xstrdup(dir);
	int rc = 0;

	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			rc = error_errno(err, "cannot create directory '%s'", path);
			break;
		}
		*p = saved;
		if (!saved)
			break;
	}
	free(path);
	return rc;
}

/*
 * Takes the cache's lock (flock on <cache>.lock), waiting up to
 * SOURCE_LOCK_WAIT_MS for another process to finish. *fd_out gets the lock's
 * descriptor for cache_unlock.
 */
static int cache_lock(const struct source *src, int *fd_out, struct error *err)
{
	uint64_t start = time_monotonic_ms();
	bool told = false;
	int fd, rc;

	*fd_out = -1;
	fd = open(src->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_errno(err, "cannot open lock file '%s'", src->lock_path);
	for (;;) {
		struct timespec pause = {0, SOURCE_LOCK_POLL_MS * 1000000L};

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rc = error_errno(err, "cannot lock '%s'", src->lock_path);
			close(fd);
			return rc;
		}
		if (time_monotonic_ms() - start > SOURCE_LOCK_WAIT_MS) {
			close(fd);
			return error_set(err, ERR_TIMEOUT,
					 "cache '%s' for '%s' is still locked by another process",
					 src->cache_path, src->display_url);
		}
		if (!told) {
			log_debug("waiting for another process to release '%s'", src->lock_path);
			told = true;
		}
		nanosleep(&pause, NULL);
	}
	*fd_out = fd;
	return 0;
}

static void cache_unlock(int fd)
{
	if (fd < 0)
		return;
	flock(fd, LOCK_UN);
	close(fd);
}

/*
 * nftw callback: removes the "*.lock" files a killed fetch left behind (they
 * would block every later ref update). Only called while we hold the cache
 * lock, so no live libgit2 in another plumb process owns them.
 */
/* nftw callback: removes everything (depth first), for a cache that never got a ref. */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static int remove_stale_lock(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *name = path + ftw->base;

	(void)st;
	if (type == FTW_D && ftw->level == 1 && strcmp(name, "objects") == 0)
		return FTW_SKIP_SUBTREE;
	if (type == FTW_F && str_has_suffix(str_from(name), ".lock")) {
		if (unlink(path) == 0)
			log_warn("removed stale lock file '%s'", path);
	}
	return FTW_CONTINUE;
}

/* Opens the bare cache repository, creating it if it is not there yet. */
static int cache_open(struct source *src, struct error *err)
{
	int rc = git_repository_open_bare(&src->repo, src->cache_path);

	if (rc == GIT_ENOTFOUND) {
		rc = git_repository_init(&src->repo, src->cache_path, 1);
		if (rc == 0)
			log_debug("created cache '%s' for '%s'", src->cache_path, src->display_url);
	}
	if (rc < 0)
		return fail_libgit2(err, ERR_IO, "cannot open cache repository '%s'",
				    src->cache_path);
	return 0;
}

int source_open(struct source **out, const struct source_opts *opts, struct error *err)
{
	struct source *src = NULL;
	char *key = NULL, *name = NULL, *repos = NULL;
	uint8_t digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	int features, lock_fd = -1, rc;

	*out = NULL;
	if (!opts || !opts->url || !*opts->url)
		return error_set(err, ERR_INVALID, "a Git source needs a repository URL");
	if (!opts->data_dir || !*opts->data_dir)
		return error_set(err, ERR_INVALID, "a Git source needs a data directory");
	src = xcalloc(1, sizeof(*src));
	src->url = xstrdup(opts->url);
	src->display_url = source_redact_url(opts->url);
	src->credentials_file = opts->credentials_file ? xstrdup(opts->credentials_file) : NULL;
	src->ssh_key = opts->ssh_key ? xstrdup(opts->ssh_key) : NULL;
	src->progress = opts->progress && isatty(STDERR_FILENO);
	if (git_libgit2_init() < 0) {
		rc = fail_libgit2(err, ERR_INTERNAL, "cannot initialise libgit2");
		goto out;
	}
	src->libgit2_ready = true;
	/* Objects are verified once, when a fetch indexes the pack that brings them;
	 * re-hashing every blob on each read of our own cache only costs time. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);

	rc = classify_url(src->url, &src->kind);
	if (rc < 0) {
		rc = error_set(err, ERR_UNSUPPORTED,
			       "cannot use '%s': unsupported URL scheme (use a path, file://, "
			       "https://, ssh:// or user@host:path)",
			       src->display_url);
		goto out;
	}
	features = git_libgit2_features();
	if (src->kind == URL_SSH && !(features & GIT_FEATURE_SSH)) {
		rc = error_set(err, ERR_UNSUPPORTED,
			       "cannot use '%s': this libgit2 was built without SSH support",
			       src->display_url);
		goto out;
	}
	if (src->kind == URL_HTTP && !(features & GIT_FEATURE_HTTPS)) {
		rc = error_set(err, ERR_UNSUPPORTED,
			       "cannot use '%s': this libgit2 was built without HTTPS support",
			       src->display_url);
		goto out;
	}

	/* Local paths are made absolute so that the cache does not depend on the
	 * cwd; HTTP credentials go through the callback, never in the URL. */
	if (src->kind == URL_LOCAL) {
		src->remote_url = absolute_path(src->url);
		key = xstrdup(src->remote_url);
	} else {
		src->remote_url = xstrdup(src->kind == URL_HTTP ? src->display_url : src->url);
		key = xstrdup(src->display_url);
	}
	sha256(key, strlen(key), digest);
	hex_encode(digest, SHA256_LEN, hex);
	name = cache_name(key);
	repos = xasprintf("%s/repos", opts->data_dir);
	src->cache_path = xasprintf("%s/%s-%.*s", repos, name, SOURCE_HASH_LEN, hex);
	src->lock_path = xasprintf("%s.lock", src->cache_path);

	rc = mkdir_parents(repos, err);
	if (rc < 0)
		goto out;
	rc = cache_lock(src, &lock_fd, err);
	if (rc < 0)
		goto out;
	rc = cache_open(src, err);
out:
	cache_unlock(lock_fd);
	free(key);
	free(name);
	free(repos);
	if (rc < 0)
		source_free(src);
	else
		*out = src;
	return rc;
}

const char *source_display_url(const struct source *src)
{
	return src->display_url;
}

void source_free(struct source *src)
{
	if (!src)
		return;
	git_repository_free(src->repo);
	if (src->libgit2_ready)
		git_libgit2_shutdown();
	free(src->url);
	free(src->display_url);
	free(src->remote_url);
	free(src->cache_path);
	free(src->lock_path);
	free(src->credentials_file);
	free(src->ssh_key);
	free(src);
}

/* ---- credentials ---- */

/* What one fetch knows about authentication, handed to the credentials callback. */
struct fetch_ctx {
	struct source *src;
	char *username; /* the HTTP credentials chosen, once chosen */
	char *password;
	const char *origin; /* where they came from, for messages */
	char *origin_owned;
	bool chosen;
	unsigned userpass_tries;
	unsigned ssh_tries;
	uint64_t last_progress; /* when progress was last shown, in ms */
	unsigned last_received;
	bool shown_progress;
	bool auth_failed;      /* credentials were offered and rejected */
	bool no_credentials;   /* the remote asked and we had nothing to offer */
	struct error cred_err; /* set when choosing credentials failed */
	struct vec secrets;    /* char *: strings to scrub from libgit2's messages */
};

/* Fetch progress on stderr, a few times a second, for fetches that take a while. */
static int progress_cb(const git_indexer_progress *stats, void *payload)
{
	struct fetch_ctx *ctx = payload;
	uint64_t now = time_monotonic_ms();

	if (!ctx->src->progress || !stats->total_objects)
		return 0;
	if (ctx->shown_progress && stats->received_objects == ctx->last_received)
		return 0;
	if (now - ctx->last_progress < 250 && stats->received_objects != stats->total_objects)
		return 0;
	ctx->last_progress = now;
	ctx->last_received = stats->received_objects;
	ctx->shown_progress = true;
	fprintf(stderr, "\r\033[Kfetching %s: %u/%u objects (%.1f MiB)", ctx->src->display_url,
		stats->received_objects, stats->total_objects,
		(double)stats->received_bytes / (1024.0 * 1024.0));
	return 0;
}

static void add_secret(struct fetch_ctx *ctx, const char *secret)
{
	if (secret && *secret)
		vec_push(&ctx->secrets, xstrdup(secret));
}

/* A copy of msg with every known secret replaced by "***". */
static char *scrub(const struct fetch_ctx *ctx, const char *msg)
{
	char *text = xstrdup(msg);
	size_t i;
	const char *secret;

	vec_foreach (&ctx->secrets, i, secret) {
		struct buf out = BUF_INIT;
		const char *p = text, *hit;
		size_t len = strlen(secret);

		while ((hit = strstr(p, secret))) {
			buf_add(&out, p, (size_t)(hit - p));
			buf_addstr(&out, "***");
			p = hit + len;
		}
		buf_addstr(&out, p);
		free(text);
		text = buf_detach(&out, NULL);
	}
	return text;
}

/* Whether a credentials-file entry covers the URL: same scheme and host, and
 * the entry's path (if any) is a prefix of the URL's, on a '/' boundary. */
static bool credential_matches(const struct url_parts *entry, const struct url_parts *target)
{
	struct str path = entry->path;

	if (!str_eq_nocase(entry->scheme, target->scheme) ||
	    !str_eq_nocase(entry->host, target->host))
		return false;
	while (path.len && path.ptr[path.len - 1] == '/')
		path.len--;
	if (path.len == 0)
		return true;
	if (target->path.len < path.len || memcmp(target->path.ptr, path.ptr, path.len) != 0)
		return false;
	return target->path.len == path.len || target->path.ptr[path.len] == '/';
}

/*
 * Looks up the URL in a git-credentials file ("https://user:token@host[/path]"
 * a line, the first match wins). Sets *found and ctx's username and password.
 */
static int credentials_from_file(struct fetch_ctx *ctx, const char *path,
				 const struct url_parts *target, bool *found, struct error *err)
{
	struct buf file = BUF_INIT;
	struct str rest, line;
	int rc;

	*found = false;
	buf_init(&file, SOURCE_CREDENTIALS_MAX);
	rc = buf_read_file(&file, path, err);
	if (rc < 0) {
		error_prefix(err, "credentials file");
		goto out;
	}
	rest = str_make(file.data, file.len);
	while (rest.len && !*found) {
		struct url_parts entry;

		str_cut(rest, '\n', &line, &rest);
		line = str_trim(line);
		if (line.len == 0 || line.ptr[0] == '#' || !url_split(line, &entry))
			continue;
		if (!entry.has_password || !credential_matches(&entry, target))
			continue;
		ctx->username = percent_decode(entry.user);
		ctx->password = percent_decode(entry.password);
		*found = true;
	}
out:
	buf_release(&file);
	return rc;
}

/*
 * Chooses the HTTP credentials for this fetch, most specific first: a password
 * in the URL, a matching credentials-file line (the options' file, else
 * $PLUMB_GIT_CREDENTIALS_FILE), PLUMB_GIT_TOKEN, PLUMB_GIT_USERNAME with
 * PLUMB_GIT_PASSWORD, and last a bare user name in the URL (a token used as the
 * user name). Leaves ctx->username NULL when there is nothing to offer.
 */
static int choose_http_credentials(struct fetch_ctx *ctx, struct error *err)
{
	struct source *src = ctx->src;
	struct url_parts target;
	const char *file = src->credentials_file ? src->credentials_file
						 : getenv("PLUMB_GIT_CREDENTIALS_FILE");
	const char *token = getenv("PLUMB_GIT_TOKEN");
	const char *env_user = getenv("PLUMB_GIT_USERNAME");
	const char *env_password = getenv("PLUMB_GIT_PASSWORD");
	char *url_user = NULL;
	bool found = false;
	int rc = 0;

	ctx->chosen = true;
	url_split(str_from(src->url), &target);
	if (target.has_userinfo)
		url_user = percent_decode(target.user);
	if (target.has_password) {
		ctx->username = xstrdup(url_user);
		ctx->password = percent_decode(target.password);
		ctx->origin = "the URL";
		goto out;
	}
	if (file && *file) {
		rc = credentials_from_file(ctx, file, &target, &found, err);
		if (rc < 0)
			goto out;
		if (found) {
			ctx->origin_owned = xasprintf("credentials file '%s'", file);
			ctx->origin = ctx->origin_owned;
			goto out;
		}
	}
	if (token && *token) {
		ctx->username = xstrdup(env_user && *env_user	? env_user
					: url_user && *url_user ? url_user
								: "x-access-token");
		ctx->password = xstrdup(token);
		ctx->origin = "PLUMB_GIT_TOKEN";
	} else if (env_user && *env_user && env_password) {
		ctx->username = xstrdup(env_user);
		ctx->password = xstrdup(env_password);
		ctx->origin = "PLUMB_GIT_USERNAME and PLUMB_GIT_PASSWORD";
	} else if (url_user && *url_user) {
		ctx->username = xstrdup(url_user);
		ctx->password = xstrdup("");
		ctx->origin = "the URL";
	}
out:
	add_secret(ctx, ctx->password);
	free(url_user);
	return rc;
}

/*
 * libgit2's credentials callback. Each kind of credential is offered once per
 * fetch: when the remote asks again, the first offer was rejected, and we stop
 * (libgit2 would otherwise ask forever) and report ERR_AUTH.
 */
static int credentials_cb(git_credential **out, const char *url, const char *username_from_url,
			  unsigned int allowed_types, void *payload)
{
	struct fetch_ctx *ctx = payload;
	struct source *src = ctx->src;
	const char *user = username_from_url && *username_from_url ? username_from_url : "git";

	(void)url;
	if (src->kind == URL_SSH) {
		const char *key = src->ssh_key ? src->ssh_key : getenv("PLUMB_GIT_SSH_KEY");

		if (allowed_types & GIT_CREDENTIAL_USERNAME)
			return git_credential_username_new(out, user);
		if (!(allowed_types & GIT_CREDENTIAL_SSH_KEY)) {
			ctx->no_credentials = true;
			return GIT_PASSTHROUGH;
		}
		if (ctx->ssh_tries++ > 0) {
			ctx->auth_failed = true;
			git_error_set_str(GIT_ERROR_SSH, "the SSH key was rejected");
			return GIT_EAUTH;
		}
		if (key && *key) {
			free(ctx->origin_owned);
			ctx->origin_owned = xasprintf("SSH key '%s'", key);
			ctx->origin = ctx->origin_owned;
			if (access(key, R_OK) < 0) {
				error_errno(&ctx->cred_err, "cannot read SSH key '%s'", key);
				return GIT_EUSER;
			}
			return git_credential_ssh_key_new(out, user, NULL, key, NULL);
		}
		ctx->origin = "the ssh-agent";
		return git_credential_ssh_key_from_agent(out, user);
	}
	if (!(allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) {
		ctx->no_credentials = true;
		return GIT_PASSTHROUGH;
	}
	if (!ctx->chosen && choose_http_credentials(ctx, &ctx->cred_err) < 0)
		return GIT_EUSER;
	if (!ctx->username) {
		ctx->no_credentials = true;
		return GIT_PASSTHROUGH;
	}
	if (ctx->userpass_tries++ > 0) {
		ctx->auth_failed = true;
		git_error_set_str(GIT_ERROR_HTTP, "the credentials were rejected");
		return GIT_EAUTH;
	}
	return git_credential_userpass_plaintext_new(out, ctx->username, ctx->password);
}

/*
 * Starts a fetch's context with every secret known before the remote asks for
 * any: the URL's password (or, for HTTP, a user name that may be a token), and
 * the token and password from the environment.
 */
static void fetch_ctx_init(struct fetch_ctx *ctx, struct source *src)
{
	struct url_parts parts;

	memset(ctx, 0, sizeof(*ctx));
	ctx->src = src;
	if (url_split(str_from(src->url), &parts) && parts.has_userinfo) {
		struct str secret = parts.has_password ? parts.password : parts.user;
		char *raw = str_dup(secret), *decoded = percent_decode(secret);

		if (parts.has_password || src->kind == URL_HTTP) {
			add_secret(ctx, raw);
			add_secret(ctx, decoded);
		}
		free(raw);
		free(decoded);
	}
	add_secret(ctx, getenv("PLUMB_GIT_TOKEN"));
	add_secret(ctx, getenv("PLUMB_GIT_PASSWORD"));
}

static void fetch_ctx_release(struct fetch_ctx *ctx)
{
	free(ctx->username);
	free(ctx->password);
	free(ctx->origin_owned);
	vec_release(&ctx->secrets, free);
}

/* ---- fetch ---- */

/*
 * Translates a failed connect or fetch into an ERR_* code and a message that
 * names the (redacted) URL. `connecting` tells whether the remote had answered
 * yet: a "not found" then means there is no repository at the URL.
 */
static int fetch_error(struct fetch_ctx *ctx, int git_rc, bool connecting, struct error *err)
{
	const git_error *last = git_error_last();
	const char *url = ctx->src->display_url;
	char *detail = scrub(ctx, last && last->message ? last->message : "unknown error");
	int klass = last ? last->klass : GIT_ERROR_NONE;
	int rc;

	if (ctx->cred_err.code) {
		rc = error_set(err, ctx->cred_err.code, "cannot fetch '%s': %s", url,
			       ctx->cred_err.msg);
	} else if (ctx->auth_failed) {
		rc = error_set(err, ERR_AUTH,
			       "authentication failed for '%s' (credentials from %s)", url,
			       ctx->origin ? ctx->origin : "the URL");
	} else if (ctx->no_credentials) {
		rc = error_set(err, ERR_AUTH,
			       ctx->src->kind == URL_SSH
				       ? "authentication required for '%s': no usable SSH key "
					 "(set PLUMB_GIT_SSH_KEY or start an ssh-agent)"
				       : "authentication required for '%s': no credentials (set "
					 "PLUMB_GIT_TOKEN, or PLUMB_GIT_USERNAME and "
					 "PLUMB_GIT_PASSWORD, or a credentials file)",
			       url);
	} else if (git_rc == GIT_EAUTH) {
		rc = error_set(err, ERR_AUTH, "authentication failed for '%s': %s", url, detail);
	} else if (git_rc == GIT_EOWNER) {
		rc = error_set(err, ERR_AUTH, "cannot fetch '%s': %s", url, detail);
	} else if ((connecting && git_rc == GIT_ENOTFOUND) ||
		   strstr(detail, "could not find repository") ||
		   strstr(detail, "status code: 404")) {
		rc = error_set(err, ERR_NETWORK, "cannot fetch '%s': repository not found", url);
	} else if (git_rc == GIT_ECERTIFICATE || klass == GIT_ERROR_NET || klass == GIT_ERROR_SSL ||
		   klass == GIT_ERROR_SSH || klass == GIT_ERROR_HTTP || klass == GIT_ERROR_OS) {
		rc = error_set(err, ERR_NETWORK, "cannot reach '%s': %s", url, detail);
	} else {
		rc = error_set(err, ERR_INTERNAL, "cannot fetch '%s': %s", url, detail);
	}
	free(detail);
	return rc;
}

/* The directory a local path or file:// URL names, or NULL for other URLs. */
static char *local_repository_path(const struct source *src)
{
	struct url_parts parts;

	if (src->kind == URL_LOCAL)
		return xstrdup(src->remote_url);
	if (src->kind != URL_FILE || !url_split(str_from(src->remote_url), &parts))
		return NULL;
	/* file:///path and file://localhost/path */
	if (parts.host.len && !str_eq_cstr(parts.host, "localhost"))
		return NULL;
	return percent_decode(parts.path);
}

/* Whether the cache holds any ref yet (if not, the next fetch is a clone). */
static bool cache_has_refs(git_repository *repo)
{
	git_reference_iterator *it = NULL;
	const char *name;
	bool any = false;

	if (git_reference_iterator_new(&it, repo) < 0)
		return false;
	while (!any && git_reference_next_name(&name, it) == 0)
		any = strncmp(name, "refs/", 5) == 0;
	git_reference_iterator_free(it);
	return any;
}

/*
 * Whether the cache already has every branch and tag the remote advertises, at
 * the same commits, and no others: then there is nothing to download or prune.
 * (libgit2's local transport builds a pack even when nothing is missing.)
 */
static bool remote_up_to_date(git_remote *remote, git_repository *repo)
{
	const git_remote_head **heads;
	git_reference_iterator *it = NULL;
	git_reference *ref;
	size_t count, advertised = 0, local = 0;

	if (git_remote_ls(&heads, &count, remote) < 0)
		return false;
	for (size_t i = 0; i < count; i++) {
		const char *name = heads[i]->name;
		git_oid oid;

		if ((strncmp(name, "refs/heads/", 11) != 0 &&
		     strncmp(name, "refs/tags/", 10) != 0) ||
		    strstr(name, "^{}"))
			continue;
		advertised++;
		if (git_reference_name_to_id(&oid, repo, name) < 0 ||
		    !git_oid_equal(&oid, &heads[i]->oid))
			return false;
	}
	if (git_reference_iterator_new(&it, repo) < 0)
		return false;
	while (git_reference_next(&ref, it) == 0) {
		const char *name = git_reference_name(ref);

		if (strncmp(name, "refs/heads/", 11) == 0 || strncmp(name, "refs/tags/", 10) == 0)
			local++;
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	git_error_clear();
	return local == advertised;
}

int source_fetch(struct source *src, struct source_fetch_stats *stats, struct error *err)
{
	static char heads[] = "+refs/heads/*:refs/heads/*";
	static char tags[] = "+refs/tags/*:refs/tags/*";
	char *refspec_list[] = {heads, tags};
	git_strarray refspecs = {refspec_list, ARRAY_SIZE(refspec_list)};
	git_remote_callbacks callbacks;
	git_fetch_options fetch_opts;
	git_proxy_options proxy;
	git_remote_create_options create_opts;
	git_buf head = GIT_BUF_INIT;
	struct fetch_ctx ctx;
	struct source_fetch_stats result = {0};
	git_remote *remote = NULL;
	git_reference *head_ref = NULL;
	const git_indexer_progress *progress;
	char *default_branch = NULL, *local_path = NULL;
	uint64_t start = time_monotonic_ms();
	int lock_fd = -1, rc, git_rc;
	struct stat st;

	/* The _init functions, not the _INIT macros: those leave fields out, which
	 * -Wmissing-field-initializers rejects. */
	git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
	git_fetch_options_init(&fetch_opts, GIT_FETCH_OPTIONS_VERSION);
	git_proxy_options_init(&proxy, GIT_PROXY_OPTIONS_VERSION);
	git_remote_create_options_init(&create_opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	fetch_ctx_init(&ctx, src);
	if (stats)
		*stats = result;
	/* A local path that is not a directory has no transport at all, and libgit2
	 * words a missing file:// path as a system error; say it plainly. */
	local_path = local_repository_path(src);
	if (local_path && (stat(local_path, &st) < 0 || !S_ISDIR(st.st_mode))) {
		rc = error_set(err, ERR_NETWORK, "cannot fetch '%s': repository not found",
			       src->display_url);
		goto out;
	}
	rc = cache_lock(src, &lock_fd, err);
	if (rc < 0)
		goto out;
	nftw(src->cache_path, remove_stale_lock, 16, FTW_PHYS | FTW_ACTIONRETVAL);
	result.cloned = !cache_has_refs(src->repo);

	/* An anonymous remote (nothing written to the cache's config). insteadOf
	 * rewriting is skipped: the URL in the configuration is the one fetched,
	 * and libgit2 1.5 leaks memory on every config key it tests for it. */
	create_opts.repository = src->repo;
	create_opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	git_rc = git_remote_create_with_opts(&remote, src->remote_url, &create_opts);
	if (git_rc < 0) {
		rc = fetch_error(&ctx, git_rc, true, err);
		goto out;
	}
	callbacks.credentials = credentials_cb;
	callbacks.transfer_progress = progress_cb;
	callbacks.payload = &ctx;
	proxy.type = GIT_PROXY_AUTO;
	git_rc = git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, &proxy, NULL);
	if (git_rc < 0) {
		rc = fetch_error(&ctx, git_rc, true, err);
		goto out;
	}
	/* The remote's HEAD is only known while connected; an empty remote has none. */
	if (git_remote_default_branch(&head, remote) == 0)
		default_branch = xstrdup(head.ptr);
	git_error_clear();

	fetch_opts.callbacks = callbacks;
	fetch_opts.proxy_opts = proxy;
	fetch_opts.prune = GIT_FETCH_PRUNE;
	fetch_opts.update_fetchhead = 0;
	fetch_opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (!result.cloned && remote_up_to_date(remote, src->repo)) {
		log_debug("'%s' is up to date", src->display_url);
	} else {
		git_rc = git_remote_fetch(remote, &refspecs, &fetch_opts, "plumb: fetch");
		if (git_rc < 0) {
			rc = fetch_error(&ctx, git_rc, false, err);
			goto out;
		}
		progress = git_remote_stats(remote);
		result.received_objects = progress->received_objects;
		result.received_bytes = progress->received_bytes;
	}

	if (default_branch && strncmp(default_branch, "refs/heads/", 11) == 0) {
		git_rc = git_reference_symbolic_create(&head_ref, src->repo, "HEAD", default_branch,
						       1, "plumb: remote HEAD");
		if (git_rc < 0) {
			rc = fail_libgit2(err, ERR_IO, "cannot record the default branch of '%s'",
					  src->display_url);
			goto out;
		}
	}
	result.duration_ms = time_monotonic_ms() - start;
	if (stats)
		*stats = result;
	log_fields(LOG_DEBUG, (struct log_field[]){{"url", src->display_url}, {NULL, NULL}},
		   "%s: received %u objects (%zu bytes) in %llu ms",
		   result.cloned ? "cloned" : "fetched", result.received_objects,
		   result.received_bytes, (unsigned long long)result.duration_ms);
out:
	/* A first fetch that failed leaves no empty cache behind (a mistyped URL
	 * must not litter the data directory). */
	if (rc < 0 && !cache_has_refs(src->repo)) {
		nftw(src->cache_path, remove_entry, 16, FTW_PHYS | FTW_DEPTH);
		unlink(src->lock_path);
	}
	if (ctx.shown_progress)
		fputc('\n', stderr);
	git_reference_free(head_ref);
	git_remote_free(remote);
	git_buf_dispose(&head);
	cache_unlock(lock_fd);
	free(default_branch);
	free(local_path);
	fetch_ctx_release(&ctx);
	return rc;
}

/* ---- commits ---- */

/* Fills out from a commit: its SHA, the ref it came from (copied; may be NULL),
 * author, author time and zone, message and first line. */
static void commit_fill(struct source_commit *out, const git_commit *commit, const char *refname)
{
	const git_signature *author = git_commit_author(commit);
	const char *message = git_commit_message(commit);
	size_t line;

	git_oid_tostr(out->sha, sizeof(out->sha), git_commit_id(commit));
	out->ref = refname ? xstrdup(refname) : NULL;
	out->author_name = xstrdup(author && author->name ? author->name : "");
	out->author_email = xstrdup(author && author->email ? author->email : "");
	out->time = author ? (int64_t)author->when.time : (int64_t)git_commit_time(commit);
	out->tz_offset = author ? author->when.offset : git_commit_time_offset(commit);
	out->message = xstrdup(message ? message : "");
	line = strcspn(out->message, "\n");
	while (line > 0 && (out->message[line - 1] == '\r' || out->message[line - 1] == ' ' ||
			    out->message[line - 1] == '\t'))
		line--;
	out->summary = xstrndup(out->message, line);
}

void source_commit_release(struct source_commit *c)
{
	if (!c)
		return;
	free(c->ref);
	free(c->author_name);
	free(c->author_email);
	free(c->message);
	free(c->summary);
	memset(c, 0, sizeof(*c));
}

/* Appends `key` and value as a JSON string, unless an earlier append failed. */
static int json_field(struct buf *out, int rc, const char *key, const char *value)
{
	if (!value)
		value = "";
	if (rc == 0)
		rc = buf_addstr(out, key);
	if (rc == 0)
		rc = buf_add_json_string(out, value, strlen(value));
	return rc;
}

int source_commit_json(const struct source_commit *c, struct buf *out)
{
	char when[32] = "1970-01-01T00:00:00Z";
	time_t seconds = (time_t)c->time;
	struct tm tm;
	int rc;

	if (gmtime_r(&seconds, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	rc = json_field(out, 0, "{\"sha\":", c->sha);
	if (c->ref)
		rc = json_field(out, rc, ",\"ref\":", c->ref);
	else if (rc == 0)
		rc = buf_addstr(out, ",\"ref\":null");
	rc = json_field(out, rc, ",\"author\":", c->author_name);
	rc = json_field(out, rc, ",\"email\":", c->author_email);
	rc = json_field(out, rc, ",\"time\":", when);
	rc = json_field(out, rc, ",\"summary\":", c->summary);
	rc = json_field(out, rc, ",\"message\":", c->message);
	if (rc == 0)
		rc = buf_addch(out, '}');
	return rc;
}

/* ---- refs ---- */

/* Short names of the refs under prefix ("refs/heads/"), sorted. */
static void list_refs(git_repository *repo, const char *prefix, struct vec *out)
{
	git_reference_iterator *it = NULL;
	const char *name;
	size_t len = strlen(prefix);

	if (git_reference_iterator_new(&it, repo) < 0)
		return;
	while (git_reference_next_name(&name, it) == 0) {
		if (strncmp(name, prefix, len) == 0)
			vec_push(out, xstrdup(name + len));
	}
	git_reference_iterator_free(it);
	git_error_clear();
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct suggestion {
	size_t distance;
	const char *name;
};

static int suggestion_cmp(const void *a, const void *b)
{
	const struct suggestion *sa = a, *sb = b;

	if (sa->distance != sb->distance)
		return sa->distance < sb->distance ? -1 : 1;
	return strcmp(sa->name, sb->name);
}

/* Sorts names (owned strings) and drops duplicates: a branch and a tag may share a name. */
static void sort_unique(struct vec *names)
{
	size_t kept = 0;

	vec_sort(names, name_cmp);
	for (size_t i = 0; i < names->len; i++) {
		if (kept && strcmp(names->items[kept - 1], names->items[i]) == 0) {
			free(names->items[i]);
			continue;
		}
		names->items[kept++] = names->items[i];
	}
	names->len = kept;
}

/*
 * Fails with ERR_NOTFOUND: "unknown <kind> '<name>' in '<url>'", then up to
 * SOURCE_SUGGESTIONS close names ("did you mean: main, maint"), or, when none
 * is close, the names that exist. A name is close within an edit distance of
 * 3 (a third of its length for long names), and never when every character
 * would have to change. Sorts names.
 */
static int unknown_ref(struct source *src, const char *kind, const char *plural, const char *name,
		       struct vec *names, struct error *err)
{
	struct suggestion *close;
	size_t count = 0, len = strlen(name), limit = len / 3 > 3 ? len / 3 : 3, i;
	struct buf msg = BUF_INIT;
	const char *candidate;
	int rc;

	sort_unique(names);
	close = xcalloc(names->len + 1, sizeof(*close));
	vec_foreach (names, i, candidate) {
		size_t distance = str_distance(name, candidate);

		if (distance <= limit && distance < len)
			close[count++] = (struct suggestion){distance, candidate};
	}
	buf_addf(&msg, "unknown %s '%s' in '%s'", kind, name, src->display_url);
	if (count) {
		qsort(close, count, sizeof(*close), suggestion_cmp);
		buf_addstr(&msg, "; did you mean: ");
		for (i = 0; i < count && i < SOURCE_SUGGESTIONS; i++)
			buf_addf(&msg, "%s%s", i ? ", " : "", close[i].name);
	} else if (names->len) {
		buf_addf(&msg, "; %s: ", plural);
		vec_foreach (names, i, candidate) {
			if (i == SOURCE_LISTED_REFS) {
				buf_addf(&msg, ", and %zu more", names->len - i);
				break;
			}
			buf_addf(&msg, "%s%s", i ? ", " : "", candidate);
		}
	} else {
		buf_addf(&msg, "; it has no %s", plural);
	}
	rc = error_set(err, ERR_NOTFOUND, "%s", msg.data);
	buf_release(&msg);
	free(close);
	return rc;
}

/*
 * Looks up a full ref name and peels it to its commit. ERR_NOTFOUND without a
 * message when there is no such ref (the caller knows how to say it).
 */
static int peel_ref(struct source *src, const char *refname, git_commit **out, struct error *err)
{
	git_reference *ref = NULL;
	git_object *object = NULL;
	int git_rc, rc = 0;

	*out = NULL;
	git_rc = git_reference_lookup(&ref, src->repo, refname);
	if (git_rc == GIT_ENOTFOUND) {
		git_error_clear();
		rc = ERR_NOTFOUND;
		goto out;
	}
	if (git_rc == GIT_EINVALIDSPEC) {
		rc = error_set(err, ERR_INVALID, "'%s' is not a valid ref name", refname);
		goto out;
	}
	if (git_rc < 0) {
		rc = fail_libgit2(err, ERR_IO, "cannot read '%s' in '%s'", refname,
				  src->display_url);
		goto out;
	}
	if (git_reference_peel(&object, ref, GIT_OBJECT_COMMIT) < 0) {
		rc = fail_libgit2(err, ERR_INVALID, "'%s' in '%s' does not point to a commit",
				  refname, src->display_url);
		goto out;
	}
	*out = (git_commit *)object;
out:
	git_reference_free(ref);
	return rc;
}

/* Resolves refs/<namespace>/<name>; ERR_NOTFOUND lists close names. */
static int resolve_named(struct source *src, const char *prefix, const char *kind,
			 const char *plural, const char *name, struct source_commit *out,
			 struct error *err)
{
	char *refname = xasprintf("%s%s", prefix, name);
	struct vec names = VEC_INIT;
	git_commit *commit = NULL;
	int rc = peel_ref(src, refname, &commit, err);

	if (rc == ERR_NOTFOUND) {
		list_refs(src->repo, prefix, &names);
		rc = unknown_ref(src, kind, plural, name, &names, err);
	}
	if (rc == 0)
		commit_fill(out, commit, refname);
	git_commit_free(commit);
	vec_release(&names, free);
	free(refname);
	return rc;
}

/* Whether s can be a commit SHA: 4 to 40 hex digits. */
static bool is_sha_prefix(const char *s)
{
	size_t len = strlen(s);

	if (len < SOURCE_SHA_MIN || len > GIT_OID_HEXSZ)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (hex_digit_value(s[i]) < 0)
			return false;
	}
	return true;
}

/* Finds a commit by a full or unique abbreviated SHA. ERR_NOTFOUND without a
 * message when there is none. */
static int lookup_sha(struct source *src, const char *sha, git_commit **out, struct error *err)
{
	size_t len = strlen(sha);
	git_oid oid;
	int git_rc;

	*out = NULL;
	if (!is_sha_prefix(sha))
		return error_set(err, ERR_INVALID, "'%s' is not a commit SHA (%d to %d hex digits)",
				 sha, SOURCE_SHA_MIN, GIT_OID_HEXSZ);
	if (git_oid_fromstrn(&oid, sha, len) < 0)
		return fail_libgit2(err, ERR_INVALID, "'%s' is not a commit SHA", sha);
	git_rc = git_commit_lookup_prefix(out, src->repo, &oid, len);
	if (git_rc == GIT_EAMBIGUOUS)
		return error_set(err, ERR_INVALID,
				 "commit '%s' is ambiguous in '%s'; give more of its digits", sha,
				 src->display_url);
	if (git_rc == GIT_ENOTFOUND) {
		git_error_clear();
		return ERR_NOTFOUND;
	}
	if (git_rc < 0)
		return fail_libgit2(err, ERR_IO, "cannot look up commit '%s' in '%s'", sha,
				    src->display_url);
	return 0;
}

/* REF_COMMIT: ERR_NOTFOUND names the SHA when no commit has it. */
static int resolve_commit(struct source *src, const char *sha, struct source_commit *out,
			  struct error *err)
{
	git_commit *commit = NULL;
	int rc = lookup_sha(src, sha, &commit, err);

	if (rc == ERR_NOTFOUND)
		rc = error_set(err, ERR_NOTFOUND, "unknown commit '%s' in '%s'", sha,
			       src->display_url);
	if (rc == 0)
		commit_fill(out, commit, NULL);
	git_commit_free(commit);
	return rc;
}

/* REF_DEFAULT: the branch the cache's HEAD names (the remote's HEAD at the last fetch). */
static int resolve_default(struct source *src, struct source_commit *out, struct error *err)
{
	git_reference *head = NULL;
	git_commit *commit = NULL;
	const char *target = NULL;
	int rc = 0;

	if (git_reference_lookup(&head, src->repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		target = git_reference_symbolic_target(head);
	git_error_clear();
	if (target)
		rc = peel_ref(src, target, &commit, err);
	if (!target || rc == ERR_NOTFOUND) {
		rc = error_set(err, ERR_NOTFOUND,
			       "'%s' has no default branch (is it empty, or not fetched yet?)",
			       src->display_url);
		goto out;
	}
	if (rc == 0)
		commit_fill(out, commit, target);
out:
	git_commit_free(commit);
	git_reference_free(head);
	return rc;
}

/* A tag whose name is a semantic version. */
struct semver_tag {
	struct semver version;
	char *name;
};

static void semver_tag_free(void *p)
{
	struct semver_tag *tag = p;

	semver_release(&tag->version);
	free(tag->name);
	free(tag);
}

/* Highest version first; equal versions ("v1.0.0", "1.0.0") by name, for a stable choice. */
static int semver_tag_cmp(const void *a, const void *b)
{
	const struct semver_tag *ta = *(const struct semver_tag *const *)a;
	const struct semver_tag *tb = *(const struct semver_tag *const *)b;
	int c = semver_cmp(&tb->version, &ta->version);

	return c ? c : strcmp(tb->name, ta->name);
}

/* Picks the highest tag that satisfies range. */
static int resolve_semver(struct source *src, const char *range, struct source_commit *out,
			  struct error *err)
{
	struct vec names = VEC_INIT, versions = VEC_INIT;
	struct semver zero = {0, 0, 0, NULL};
	struct semver_tag *tag;
	const char *name;
	char *refname = NULL;
	git_commit *commit = NULL;
	bool ok;
	size_t i;
	int rc;

	rc = semver_satisfies(&zero, range, &ok, err);
	if (rc < 0)
		goto out;
	list_refs(src->repo, "refs/tags/", &names);
	vec_foreach (&names, i, name) {
		struct semver version;

		if (semver_parse(name, &version) < 0)
			continue;
		tag = xmalloc(sizeof(*tag));
		tag->version = version;
		tag->name = xstrdup(name);
		vec_push(&versions, tag);
	}
	vec_sort(&versions, semver_tag_cmp);
	vec_foreach (&versions, i, tag) {
		rc = semver_satisfies(&tag->version, range, &ok, err);
		if (rc < 0)
			goto out;
		if (!ok)
			continue;
		refname = xasprintf("refs/tags/%s", tag->name);
		rc = peel_ref(src, refname, &commit, err);
		if (rc == ERR_NOTFOUND)
			rc = error_set(err, ERR_NOTFOUND, "tag '%s' vanished from '%s'", tag->name,
				       src->display_url);
		if (rc == 0)
			commit_fill(out, commit, refname);
		goto out;
	}
	if (versions.len == 0) {
		rc = error_set(err, ERR_NOTFOUND,
			       "no tag in '%s' satisfies '%s'; it has no semantic version tags",
			       src->display_url, range);
	} else {
		struct buf msg = BUF_INIT;

		buf_addf(&msg, "no tag in '%s' satisfies '%s'; highest tags: ", src->display_url,
			 range);
		vec_foreach (&versions, i, tag) {
			if (i == SOURCE_LISTED_TAGS)
				break;
			buf_addf(&msg, "%s%s", i ? ", " : "", tag->name);
		}
		rc = error_set(err, ERR_NOTFOUND, "%s", msg.data);
		buf_release(&msg);
	}
out:
	git_commit_free(commit);
	free(refname);
	vec_release(&names, free);
	vec_release(&versions, semver_tag_free);
	return rc;
}

/* A name: a branch, else a tag, else (if it looks like one) a commit SHA. */
static int resolve_auto(struct source *src, const char *name, struct source_commit *out,
			struct error *err)
{
	static const char *const prefixes[] = {"refs/heads/", "refs/tags/"};
	struct vec names = VEC_INIT;
	git_commit *commit = NULL;
	char *refname = NULL;
	int rc = ERR_NOTFOUND;

	for (size_t i = 0; i < ARRAY_SIZE(prefixes) && rc == ERR_NOTFOUND; i++) {
		free(refname);
		refname = xasprintf("%s%s", prefixes[i], name);
		rc = peel_ref(src, refname, &commit, err);
	}
	if (rc == 0) {
		commit_fill(out, commit, refname);
		goto out;
	}
	if (rc != ERR_NOTFOUND)
		goto out;
	if (is_sha_prefix(name)) {
		rc = lookup_sha(src, name, &commit, err);
		if (rc == 0)
			commit_fill(out, commit, NULL);
		if (rc != ERR_NOTFOUND)
			goto out;
	}
	list_refs(src->repo, "refs/heads/", &names);
	list_refs(src->repo, "refs/tags/", &names);
	rc = unknown_ref(src, "ref", "branches and tags", name, &names, err);
out:
	git_commit_free(commit);
	free(refname);
	vec_release(&names, free);
	return rc;
}

int source_resolve(struct source *src, const struct source_ref *ref, struct source_commit *out,
		   struct error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (ref->kind != REF_DEFAULT && (!ref->value || !*ref->value))
		return error_set(err, ERR_INVALID, "empty ref for '%s'", src->display_url);
	switch (ref->kind) {
	case REF_DEFAULT:
		rc = resolve_default(src, out, err);
		break;
	case REF_AUTO:
		rc = resolve_auto(src, ref->value, out, err);
		break;
	case REF_BRANCH:
		rc = resolve_named(src, "refs/heads/", "branch", "branches", ref->value, out, err);
		break;
	case REF_TAG:
		rc = resolve_named(src, "refs/tags/", "tag", "tags", ref->value, out, err);
		break;
	case REF_SEMVER:
		rc = resolve_semver(src, ref->value, out, err);
		break;
	case REF_COMMIT:
		rc = resolve_commit(src, ref->value, out, err);
		break;
	default:
		rc = error_set(err, ERR_INVALID, "unknown ref kind %d", (int)ref->kind);
		break;
	}
	if (rc < 0)
		source_commit_release(out);
	return rc;
}

int source_parse_ref(const char *spec, struct source_ref *out, struct error *err)
{
	static const struct {
		const char *prefix;
		enum ref_kind kind;
		const char *what;
	} kinds[] = {
		{"branch:", REF_BRANCH, "branch"},
		{"tag:", REF_TAG, "tag"},
		{"semver:", REF_SEMVER, "version range"},
		{"commit:", REF_COMMIT, "commit"},
	};
	const char *colon;

	out->kind = REF_AUTO;
	out->value = NULL;
	if (!spec || !*spec)
		return error_set(err, ERR_INVALID,
				 "empty ref; give a branch, tag, semver:RANGE or commit:SHA");
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t len = strlen(kinds[i].prefix);

		if (strncmp(spec, kinds[i].prefix, len) != 0)
			continue;
		if (!spec[len])
			return error_set(err, ERR_INVALID, "ref '%s' names no %s", spec,
					 kinds[i].what);
		out->kind = kinds[i].kind;
		out->value = spec + len;
		if (out->kind == REF_SEMVER) {
			struct semver zero = {0, 0, 0, NULL};
			bool ok;

			return semver_satisfies(&zero, out->value, &ok, err);
		}
		if (out->kind == REF_COMMIT && !is_sha_prefix(out->value))
			return error_set(err, ERR_INVALID,
					 "'%s' is not a commit SHA (%d to %d hex digits)",
					 out->value, SOURCE_SHA_MIN, GIT_OID_HEXSZ);
		return 0;
	}
	/* ':' cannot appear in a Git ref name, so this is a kind we don't know. */
	colon = strchr(spec, ':');
	if (colon)
		return error_set(err, ERR_INVALID,
				 "unknown ref kind '%.*s' in '%s'; use branch:, tag:, semver: or "
				 "commit:",
				 (int)(colon - spec), spec, spec);
	out->value = spec;
	return 0;
}

/* ---- trees over a commit ---- */

/* The tree of one commit; it holds its own repository handle, so it outlives the source. */
struct commit_tree {
	git_repository *repo;
	git_tree *root;
};

static enum tree_type type_of_mode(git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_TREE:
		return TREE_DIR;
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		return TREE_FILE;
	default:
		return TREE_NONE; /* symlinks and submodules are not followed */
	}
}

/*
 * Finds path in the commit's tree: *entry is an owned entry, NULL for the top
 * (""); *missing is set when nothing is there.
 */
static int commit_tree_find(struct tree *t, const char *path, git_tree_entry **entry, bool *missing,
			    struct error *err)
{
	struct commit_tree *ct = t->impl;
	int git_rc;

	*entry = NULL;
	*missing = false;
	if (!*path)
		return 0;
	git_rc = git_tree_entry_bypath(entry, ct->root, path);
	if (git_rc == GIT_ENOTFOUND) {
		git_error_clear();
		*missing = true;
		return 0;
	}
	if (git_rc < 0)
		return fail_libgit2(err, ERR_IO, "cannot look up '%s' in '%s'", path, t->label);
	return 0;
}

/* tree_ops.read: a blob's bytes, capped at SOURCE_BLOB_MAX and the caller's cap. */
static int commit_tree_read(struct tree *t, const char *path, struct buf *out, struct error *err)
{
	struct commit_tree *ct = t->impl;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	git_object_size_t size;
	bool missing;
	int rc = commit_tree_find(t, path, &entry, &missing, err);

	if (rc < 0)
		goto out;
	if (missing) {
		rc = error_set(err, ERR_NOTFOUND, "'%s' not found in '%s'", path, t->label);
		goto out;
	}
	if (!entry || git_tree_entry_filemode(entry) == GIT_FILEMODE_TREE) {
		rc = error_set(err, ERR_INVALID, "'%s' is a directory in '%s'", path, t->label);
		goto out;
	}
	if (type_of_mode(git_tree_entry_filemode(entry)) != TREE_FILE) {
		rc = error_set(err, ERR_UNSUPPORTED, "'%s' in '%s' is a %s, not a file", path,
			       t->label,
			       git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK ? "symbolic link"
										   : "submodule");
		goto out;
	}
	if (git_blob_lookup(&blob, ct->repo, git_tree_entry_id(entry)) < 0) {
		rc = fail_libgit2(err, ERR_IO, "cannot read '%s' in '%s'", path, t->label);
		goto out;
	}
	size = git_blob_rawsize(blob);
	if (size > SOURCE_BLOB_MAX) {
		rc = error_set(err, ERR_TOOBIG, "'%s' in '%s' is larger than %u bytes", path,
			       t->label, SOURCE_BLOB_MAX);
		goto out;
	}
	if (buf_add(out, git_blob_rawcontent(blob), (size_t)size) < 0) {
		rc = error_set(err, ERR_TOOBIG, "'%s' in '%s' is larger than %zu bytes", path,
			       t->label, out->max);
		goto out;
	}
out:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	return rc;
}

/* tree_ops.list: the entries of a directory (a Git tree), unsorted. */
static int commit_tree_list(struct tree *t, const char *path, struct vec *out, struct error *err)
{
	struct commit_tree *ct = t->impl;
	git_tree_entry *entry = NULL;
	git_tree *sub = NULL;
	const git_tree *dir = ct->root;
	bool missing;
	int rc = commit_tree_find(t, path, &entry, &missing, err);

	if (rc < 0)
		goto out;
	if (missing) {
		rc = error_set(err, ERR_NOTFOUND, "directory '%s' not found in '%s'", path,
			       t->label);
		goto out;
	}
	if (entry) {
		if (git_tree_entry_filemode(entry) != GIT_FILEMODE_TREE) {
			rc = error_set(err, ERR_NOTFOUND, "'%s' is not a directory in '%s'", path,
				       t->label);
			goto out;
		}
		if (git_tree_lookup(&sub, ct->repo, git_tree_entry_id(entry)) < 0) {
			rc = fail_libgit2(err, ERR_IO, "cannot read directory '%s' in '%s'", path,
					  t->label);
			goto out;
		}
		dir = sub;
	}
	for (size_t i = 0; i < git_tree_entrycount(dir); i++) {
		const git_tree_entry *child = git_tree_entry_byindex(dir, i);
		struct tree_entry *e = xmalloc(sizeof(*e));

		e->name = xstrdup(git_tree_entry_name(child));
		e->type = type_of_mode(git_tree_entry_filemode(child));
		vec_push(out, e);
	}
out:
	git_tree_free(sub);
	git_tree_entry_free(entry);
	return rc;
}

/* tree_ops.stat: TREE_NONE when nothing, a symlink or a submodule is at path. */
static int commit_tree_stat(struct tree *t, const char *path, enum tree_type *out,
			    struct error *err)
{
	git_tree_entry *entry = NULL;
	bool missing;
	int rc = commit_tree_find(t, path, &entry, &missing, err);

	*out = TREE_NONE;
	if (rc == 0 && !missing)
		*out = entry ? type_of_mode(git_tree_entry_filemode(entry)) : TREE_DIR;
	git_tree_entry_free(entry);
	return rc;
}

/* tree_ops.free: drops the tree's own repository handle and libgit2 reference. */
static void commit_tree_free(struct tree *t)
{
	struct commit_tree *ct = t->impl;

	git_tree_free(ct->root);
	git_repository_free(ct->repo);
	free(ct);
	git_libgit2_shutdown();
}

static const struct tree_ops commit_tree_ops = {
	.read = commit_tree_read,
	.list = commit_tree_list,
	.stat = commit_tree_stat,
	.free = commit_tree_free,
};

int source_tree(struct source *src, const struct source_commit *commit, struct tree **out,
		struct error *err)
{
	git_repository *repo = NULL;
	git_commit *found = NULL;
	git_tree *root = NULL;
	struct commit_tree *ct;
	struct tree *t;
	git_oid oid;
	int rc = 0;

	*out = NULL;
	if (git_libgit2_init() < 0)
		return fail_libgit2(err, ERR_INTERNAL, "cannot initialise libgit2");
	if (git_oid_fromstr(&oid, commit->sha) < 0) {
		rc = error_set(err, ERR_INVALID, "'%s' is not a commit SHA", commit->sha);
		goto out;
	}
	if (git_repository_open_bare(&repo, src->cache_path) < 0) {
		rc = fail_libgit2(err, ERR_IO, "cannot open cache repository '%s'",
				  src->cache_path);
		goto out;
	}
	if (git_commit_lookup(&found, repo, &oid) < 0) {
		rc = fail_libgit2(err, ERR_NOTFOUND, "commit '%s' not found in '%s'", commit->sha,
				  src->display_url);
		goto out;
	}
	if (git_commit_tree(&root, found) < 0) {
		rc = fail_libgit2(err, ERR_IO, "cannot read the tree of commit '%s' in '%s'",
				  commit->sha, src->display_url);
		goto out;
	}
	ct = xmalloc(sizeof(*ct));
	ct->repo = repo;
	ct->root = root;
	t = xmalloc(sizeof(*t));
	t->ops = &commit_tree_ops;
	t->label = xasprintf("%s@%.7s", src->display_url, commit->sha);
	t->impl = ct;
	*out = t;
	repo = NULL;
	root = NULL;
out:
	git_commit_free(found);
	git_tree_free(root);
	git_repository_free(repo);
	if (rc < 0)
		git_libgit2_shutdown();
	return rc;
}

int source_library_hold(struct error *err)
{
	if (git_libgit2_init() < 0)
		return error_set(err, ERR_INTERNAL, "cannot initialise libgit2");
	return 0;
}

void source_library_release(void)
{
	git_libgit2_shutdown();
}
