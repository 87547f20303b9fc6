/*
 * source — Git repositories through libgit2. Each repository URL gets a bare
 * cache repository under <data-dir>/repos/; fetches are incremental, refs
 * resolve to commits, and files are read straight from the object database at
 * a commit (no working tree).
 *
 * URLs: a local path, file://, https:// (credentials from the environment or a
 * credentials file), ssh:// and scp-style user@host:path (key file or ssh-agent).
 * No message ever shows a URL's password or token.
 */
#ifndef PLUMB_SOURCE_H
#define PLUMB_SOURCE_H

#include "core/core.h"

enum ref_kind {
	REF_DEFAULT, /* the remote's default branch (its HEAD) */
	REF_AUTO,    /* a name: a branch, else a tag, else a commit */
	REF_BRANCH,
	REF_TAG,
	REF_SEMVER, /* the highest tag that satisfies a range such as ">=1.2.0 <2.0.0" */
	REF_COMMIT, /* a full or unique abbreviated SHA */
};

struct source_ref {
	enum ref_kind kind;
	const char *value; /* borrowed; NULL for REF_DEFAULT */
};

struct source_opts {
	const char *url;
	const char *data_dir;
	/* git-credentials style file ("https://user:token@host" a line); NULL to use
	 * $PLUMB_GIT_CREDENTIALS_FILE. Environment: PLUMB_GIT_TOKEN, or
	 * PLUMB_GIT_USERNAME with PLUMB_GIT_PASSWORD. */
	const char *credentials_file;
	/* Private key for SSH; NULL to use $PLUMB_GIT_SSH_KEY, else the ssh-agent. */
	const char *ssh_key;
	/* Show the progress of long fetches on stderr (when it is a terminal). */
	bool progress;
};

struct source_commit {
	char sha[41];
	char *ref; /* the full ref it was resolved from ("refs/tags/v1.2.0"), or NULL */
	char *author_name;
	char *author_email;
	int64_t time;  /* seconds since the epoch */
	int tz_offset; /* minutes east of UTC */
	char *message; /* the whole message */
	char *summary; /* its first line */
};

struct source_fetch_stats {
	unsigned received_objects;
	size_t received_bytes;
	bool cloned; /* the cache was created by this fetch */
	uint64_t duration_ms;
};

struct source;

/* Opens (creating if needed) the cache for opts->url. Caller frees with source_free. */
int source_open(struct source **out, const struct source_opts *opts, struct error *err);
/* Fetches all branches and tags (pruning deleted ones). ERR_NETWORK when the
 * remote cannot be reached or does not exist, ERR_AUTH when credentials fail. */
int source_fetch(struct source *src, struct source_fetch_stats *stats, struct error *err);
/* Resolves ref against the cache. ERR_NOTFOUND names the closest refs that exist. */
int source_resolve(struct source *src, const struct source_ref *ref, struct source_commit *out,
		   struct error *err);
/* A read-only tree of the commit's files; the caller frees it with tree_free. */
int source_tree(struct source *src, const struct source_commit *commit, struct tree **out,
		struct error *err);
/* The URL as given, with any password or token removed. Borrowed. */
const char *source_display_url(const struct source *src);
void source_commit_release(struct source_commit *c);
void source_free(struct source *src);

/* Parses "branch:NAME", "tag:NAME", "semver:RANGE", "commit:SHA" or a bare NAME (REF_AUTO). */
int source_parse_ref(const char *spec, struct source_ref *out, struct error *err);
/* A copy of url without user information ("https://tok@host/x" -> "https://host/x"). */
char *source_redact_url(const char *url);
/* JSON object {"sha","ref","author","email","time","summary","message"} for a commit. */
int source_commit_json(const struct source_commit *c, struct buf *out);

/* ---- semantic versions ---- */

struct semver {
	uint64_t major, minor, patch;
	char *prerelease; /* NULL if none */
};

/* Parses "1.2.3", "v1.2.3", "1.2.3-rc.1+build"; ERR_INVALID otherwise. */
int semver_parse(const char *s, struct semver *out);
void semver_release(struct semver *v);
int semver_cmp(const struct semver *a, const struct semver *b);
/*
 * Whether v satisfies range: comparators (=, >, >=, <, <=, ~, ^) joined by spaces
 * (and) and "||" (or); partial versions and x-ranges ("1.2", "1.x", "*").
 * Pre-releases satisfy a range only if one of its comparators names a
 * pre-release of the same major.minor.patch. ERR_INVALID for a bad range.
 */
int semver_satisfies(const struct semver *v, const char *range, bool *out, struct error *err);

/*
 * Keeps libgit2 initialised between the two calls. A process that fetches from
 * several threads holds it for as long as they run: libgit2's per-thread state
 * is released only while the library stays initialised.
 */
int source_library_hold(struct error *err);
void source_library_release(void);

/*
 * A repository URL reduced to what identifies the repository, for matching a
 * hook's URLs with applications' repoURLs: lower-case host, no scheme, user,
 * password or port of ssh, no trailing ".git" or "/". "git@github.com:acme/ops.git",
 * "ssh://git@github.com/acme/ops" and "https://github.com/Acme/ops.git" give
 * "github.com/acme/ops" (paths compare case-insensitively, as the big forges do).
 * file:// URLs and local paths become the absolute path. Caller frees.
 */
char *source_url_key(const char *url);

#endif
