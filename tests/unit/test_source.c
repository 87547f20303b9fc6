/*
 * Tests for the Git source (src/source/source.c) against real repositories
 * made with the git CLI in a temporary directory: a work repository pushed to
 * a bare remote that plumb reaches by file://.
 *
 * History of the remote (times are BASE_TIME + n minutes, author zone +0100):
 *   c1 "first"       README.md, apps/web/deploy.yaml (v: 1), apps/web/config/app.conf
 *                    tags v1.0.0 (lightweight), maint (lightweight, same name as a branch)
 *   c2 "second"      deploy.yaml v: 2, apps/api/svc.yaml     tag v1.2.0 (annotated), branch maint
 *   c3 "third"       deploy.yaml v: 3                        tags v1.10.0 (annotated), stable
 *   c5 "dev work"    on branch dev, from c3
 *   c6 "many blobs"  on branch blobs, from c1: 1000 files, so that short SHAs collide
 *   c4 "add link"    main, from c3: symlink, executable, submodule   tag v2.0.0-rc.1
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "source/source.h"

#define BASE_TIME 1767323045LL /* 2026-01-02T03:04:05Z */

struct fixture {
	char dir[64];
	char *remote;	/* <dir>/remote.git */
	char *url;	/* file://<dir>/remote.git */
	char *data_dir; /* <dir>/data */
	struct source *src;
	struct source_fetch_stats first_fetch;
	uint64_t next_time;
};

static struct fixture fx;
/* The running test HTTP server, so that teardown can stop it after a failed assertion. */
static pid_t server_pid;

/* Runs a shell command in the fixture directory; returns its exit status. */
static int PRINTF_LIKE(1, 2) run(const char *fmt, ...)
{
	struct buf cmd = BUF_INIT;
	va_list ap;
	int status;

	buf_addf(&cmd, "cd '%s' && ", fx.dir);
	va_start(ap, fmt);
	buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	status = system(cmd.data);
	buf_release(&cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define sh(...) assert_int_equal(run(__VA_ARGS__), 0)

/* The output of a shell command run in the fixture directory, without its last newline. */
static char *PRINTF_LIKE(1, 2) capture(const char *fmt, ...)
{
	struct buf cmd = BUF_INIT, out = BUF_INIT;
	char chunk[4096];
	size_t n;
	va_list ap;
	FILE *pipe;

	buf_addf(&cmd, "cd '%s' && ", fx.dir);
	va_start(ap, fmt);
	buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	pipe = popen(cmd.data, "r");
	assert_non_null(pipe);
	buf_add(&out, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
		buf_add(&out, chunk, n);
	assert_int_equal(pclose(pipe), 0);
	while (out.len && out.data[out.len - 1] == '\n')
		buf_truncate(&out, out.len - 1);
	buf_release(&cmd);
	return buf_detach(&out, NULL);
}

/* The commit a revision names in the remote, by `git rev-parse`. */
static char *rev(const char *revision)
{
	return capture("git -C remote.git rev-parse '%s^{commit}'", revision);
}

/* Commits everything in work/ at the next fixed time, with the message in a file. */
static void commit(const char *message)
{
	FILE *f;
	char *path = xasprintf("%s/message.txt", fx.dir);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(message, f);
	fclose(f);
	sh("cd work && git add -A && GIT_AUTHOR_DATE='%llu +0100' GIT_COMMITTER_DATE='%llu +0100' "
	   "git commit -q -F ../message.txt",
	   (unsigned long long)fx.next_time, (unsigned long long)fx.next_time);
	fx.next_time += 60;
	free(path);
}

static void write_file(const char *rel, const char *content)
{
	char *path = xasprintf("%s/work/%s", fx.dir, rel);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	free(path);
}

static int setup(void **state)
{
	struct source_opts opts = {0};
	struct error err = ERROR_INIT;
	char *c1;
	FILE *config;
	char *config_path;

	(void)state;
	memset(&fx, 0, sizeof(fx));
	log_setup(LOG_ERROR, LOG_TEXT); /* the stale-lock test makes a warning on purpose */
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/plumb-source-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	setenv("HOME", fx.dir, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "Ada Lovelace", 1);
	setenv("GIT_AUTHOR_EMAIL", "ada@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "Charles Babbage", 1);
	setenv("GIT_COMMITTER_EMAIL", "charles@example.com", 1);
	unsetenv("PLUMB_GIT_TOKEN");
	unsetenv("PLUMB_GIT_USERNAME");
	unsetenv("PLUMB_GIT_PASSWORD");
	unsetenv("PLUMB_GIT_CREDENTIALS_FILE");
	unsetenv("PLUMB_GIT_SSH_KEY");
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	config_path = xasprintf("%s/.gitconfig", fx.dir);
	config = fopen(config_path, "w");
	free(config_path);
	if (!config)
		return -1;
	fputs("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n", config);
	fclose(config);
	fx.next_time = BASE_TIME;
	fx.remote = xasprintf("%s/remote.git", fx.dir);
	fx.url = xasprintf("file://%s", fx.remote);
	fx.data_dir = xasprintf("%s/data", fx.dir);

	sh("git init -q work && mkdir -p work/apps/web/config");
	write_file("README.md", "hello\n");
	write_file("apps/web/deploy.yaml", "v: 1\n");
	write_file("apps/web/config/app.conf", "port=80\n");
	commit("first\n");
	sh("cd work && git tag v1.0.0 && git tag maint");
	write_file("apps/web/deploy.yaml", "v: 2\n");
	sh("mkdir -p work/apps/api");
	write_file("apps/api/svc.yaml", "kind: Service\n");
	commit("second\n");
	sh("cd work && git tag -a v1.2.0 -m 'release 1.2.0' && git branch maint");
	write_file("apps/web/deploy.yaml", "v: 3\n");
	commit("third\n");
	sh("cd work && git tag -a v1.10.0 -m 'release 1.10.0' && git tag stable");
	sh("cd work && git checkout -q -b dev");
	write_file("dev.txt", "dev\n");
	commit("dev work\n");
	sh("cd work && git checkout -q -b blobs v1.0.0 && mkdir blobs && "
	   "for i in $(seq 1000); do echo \"blob $i\" > blobs/$i; done");
	commit("many blobs\n");
	sh("cd work && git checkout -q main");
	c1 = capture("git -C work rev-parse v1.0.0");
	/* the empty directory keeps `git add -A` from dropping the submodule */
	sh("cd work && mkdir sub && ln -s README.md link && "
	   "printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh && "
	   "git update-index --add --cacheinfo 160000,%s,sub",
	   c1);
	free(c1);
	commit("add link\n\nlonger body\nsecond line\n");
	sh("cd work && git tag -a v2.0.0-rc.1 -m 'first release candidate'");
	sh("git init -q --bare remote.git && cd work && "
	   "git push -q ../remote.git 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'");
	sh("git -C remote.git symbolic-ref HEAD refs/heads/main");

	opts.url = fx.url;
	opts.data_dir = fx.data_dir;
	if (source_open(&fx.src, &opts, &err) != 0 ||
	    source_fetch(fx.src, &fx.first_fetch, &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	source_free(fx.src);
	if (fx.dir[0])
		run("cd / && rm -rf '%s'", fx.dir);
	free(fx.remote);
	free(fx.url);
	free(fx.data_dir);
	return 0;
}

/* <data>/repos/<name>-<first 16 hex of sha256(url)> */
static char *cache_path_for(const char *data_dir, const char *name, const char *key)
{
	uint8_t digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];

	sha256(key, strlen(key), digest);
	hex_encode(digest, SHA256_LEN, hex);
	return xasprintf("%s/repos/%s-%.16s", data_dir, name, hex);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int open_source(const char *url, const char *data_dir, struct source **out,
		       struct error *err)
{
	struct source_opts opts = {0};

	opts.url = url;
	opts.data_dir = data_dir;
	return source_open(out, &opts, err);
}

static void resolve_ok(const char *spec, struct source_commit *out)
{
	struct error err = ERROR_INIT;
	struct source_ref ref;

	if (source_parse_ref(spec, &ref, &err) != 0)
		fail_msg("cannot parse '%s': %s", spec, err.msg);
	if (source_resolve(fx.src, &ref, out, &err) != 0)
		fail_msg("cannot resolve '%s': %s", spec, err.msg);
}

/* Resolves spec; fails unless it gives `code`; returns the message. */
static char *resolve_fails(const char *spec, int code)
{
	struct error err = ERROR_INIT;
	struct source_ref ref;
	struct source_commit c;

	if (source_parse_ref(spec, &ref, &err) != 0)
		fail_msg("cannot parse '%s': %s", spec, err.msg);
	if (source_resolve(fx.src, &ref, &c, &err) != code)
		fail_msg("'%s' should fail with %s, got: '%s'", spec, error_code_name(code),
			 err.msg);
	assert_int_equal(err.code, code);
	assert_null(c.ref);
	return xstrdup(err.msg);
}

/* ---- fetch ---- */

static void test_fetch_creates_cache(void **state)
{
	char *cache = cache_path_for(fx.data_dir, "remote", fx.url);
	char *head = xasprintf("%s/HEAD", cache);
	char *objects = xasprintf("%s/objects", cache);
	char *dotgit = xasprintf("%s/.git", cache);
	char *lock = xasprintf("%s.lock", cache);
	char *count = capture("git -C remote.git rev-list --objects --all | wc -l");
	char *endp;
	unsigned long total = strtoul(count, &endp, 10);

	(void)state;
	assert_true(fx.first_fetch.cloned);
	/* a clone receives every object of the remote */
	assert_int_equal(fx.first_fetch.received_objects, total);
	assert_true(fx.first_fetch.received_bytes > 0);
	/* a bare repository, where the documentation says */
	assert_true(is_dir(cache));
	assert_true(exists(head));
	assert_true(is_dir(objects));
	assert_false(exists(dotgit));
	assert_true(exists(lock));
	/* every branch and tag of the remote is in the cache */
	assert_int_equal(run("test \"$(git -C remote.git for-each-ref --format='%%(refname) "
			     "%%(objectname)')\" = \"$(git -C '%s' for-each-ref "
			     "--format='%%(refname) %%(objectname)')\"",
			     cache),
			 0);
	free(cache);
	free(head);
	free(objects);
	free(dotgit);
	free(lock);
	free(count);
}

/* A second fetch, and a second process's view of the same cache, receive nothing new. */
static void test_fetch_up_to_date(void **state)
{
	struct error err = ERROR_INIT;
	struct source_fetch_stats stats;
	struct source *again = NULL;

	(void)state;
	assert_int_equal(source_fetch(fx.src, &stats, &err), 0);
	assert_false(stats.cloned);
	assert_int_equal(stats.received_objects, 0);
	assert_int_equal(stats.received_bytes, 0);

	assert_int_equal(open_source(fx.url, fx.data_dir, &again, &err), 0);
	assert_int_equal(source_fetch(again, &stats, &err), 0);
	assert_false(stats.cloned);
	assert_int_equal(stats.received_objects, 0);
	source_free(again);
}

/* A new commit reaches the cache by an incremental fetch; deleted branches are pruned. */
static void test_fetch_incremental(void **state)
{
	struct error err = ERROR_INIT;
	struct source_fetch_stats clone, update, idle;
	struct source *src = NULL;
	struct source_commit c;
	struct source_ref ref = {REF_BRANCH, "feature"};
	char *data = xasprintf("%s/data-incremental", fx.dir);
	char *expected;

	(void)state;
	assert_int_equal(open_source(fx.url, data, &src, &err), 0);
	assert_int_equal(source_fetch(src, &clone, &err), 0);
	assert_true(clone.cloned);
	assert_int_equal(source_resolve(src, &ref, &c, &err), ERR_NOTFOUND);

	sh("cd work && git checkout -q -b feature main");
	write_file("feature.txt", "new\n");
	commit("feature work\n");
	sh("cd work && git checkout -q main && git push -q ../remote.git feature");
	assert_int_equal(source_fetch(src, &update, &err), 0);
	assert_false(update.cloned);
	assert_true(update.received_objects > 0);
	assert_true(update.received_objects < clone.received_objects);
	assert_true(update.received_bytes < clone.received_bytes);
	assert_int_equal(source_resolve(src, &ref, &c, &err), 0);
	expected = capture("git -C remote.git rev-parse refs/heads/feature");
	assert_string_equal(c.sha, expected);
	assert_string_equal(c.summary, "feature work");
	source_commit_release(&c);
	free(expected);

	assert_int_equal(source_fetch(src, &idle, &err), 0);
	assert_int_equal(idle.received_objects, 0);

	sh("git -C remote.git branch -q -D feature");
	assert_int_equal(source_fetch(src, &idle, &err), 0);
	assert_int_equal(source_resolve(src, &ref, &c, &err), ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "unknown branch 'feature'"));
	sh("cd work && git branch -q -D feature");
	source_free(src);
	free(data);
}

/* A moved tag follows the remote (tags are fetched with a forcing refspec). */
static void test_fetch_moved_tag(void **state)
{
	struct error err = ERROR_INIT;
	struct source *src = NULL;
	struct source_commit c;
	struct source_ref ref = {REF_TAG, "moving"};
	char *data = xasprintf("%s/data-moving", fx.dir);
	char *expected;

	(void)state;
	sh("git -C remote.git tag moving v1.0.0");
	assert_int_equal(open_source(fx.url, data, &src, &err), 0);
	assert_int_equal(source_fetch(src, NULL, &err), 0);
	assert_int_equal(source_resolve(src, &ref, &c, &err), 0);
	expected = rev("v1.0.0");
	assert_string_equal(c.sha, expected);
	source_commit_release(&c);
	free(expected);

	sh("git -C remote.git tag -f moving v1.2.0 >/dev/null");
	assert_int_equal(source_fetch(src, NULL, &err), 0);
	assert_int_equal(source_resolve(src, &ref, &c, &err), 0);
	expected = rev("v1.2.0");
	assert_string_equal(c.sha, expected);
	source_commit_release(&c);
	free(expected);
	sh("git -C remote.git tag -d moving >/dev/null");
	source_free(src);
	free(data);
}

/* The cache's default branch follows the remote's HEAD. */
static void test_default_branch_follows_remote(void **state)
{
	struct error err = ERROR_INIT;
	struct source_ref ref = {REF_DEFAULT, NULL};
	struct source_commit c;
	char *expected;

	(void)state;
	assert_int_equal(source_resolve(fx.src, &ref, &c, &err), 0);
	expected = rev("refs/heads/main");
	assert_string_equal(c.sha, expected);
	assert_string_equal(c.ref, "refs/heads/main");
	source_commit_release(&c);
	free(expected);

	sh("git -C remote.git symbolic-ref HEAD refs/heads/dev");
	assert_int_equal(source_fetch(fx.src, NULL, &err), 0);
	assert_int_equal(source_resolve(fx.src, &ref, &c, &err), 0);
	expected = rev("refs/heads/dev");
	assert_string_equal(c.sha, expected);
	assert_string_equal(c.ref, "refs/heads/dev");
	source_commit_release(&c);
	free(expected);
	sh("git -C remote.git symbolic-ref HEAD refs/heads/main");
	assert_int_equal(source_fetch(fx.src, NULL, &err), 0);
}

/* While another process holds the cache's lock, a fetch waits for it. */
static void test_fetch_waits_for_lock(void **state)
{
	struct error err = ERROR_INIT;
	char *cache = cache_path_for(fx.data_dir, "remote", fx.url);
	char *lock = xasprintf("%s.lock", cache);
	int ready[2];
	char byte;
	pid_t child;
	uint64_t start, waited;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd = open(lock, O_RDWR);

		free(lock); /* the child's copies, for valgrind */
		free(cache);
		if (fd < 0 || flock(fd, LOCK_EX) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		usleep(600 * 1000);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &byte, 1), 1);
	close(ready[0]);
	start = time_monotonic_ms();
	assert_int_equal(source_fetch(fx.src, NULL, &err), 0);
	waited = time_monotonic_ms() - start;
	assert_true(waited >= 400);
	assert_int_equal(waitpid(child, NULL, 0), child);
	free(lock);
	free(cache);
}

/* A lock file left inside the cache by a killed fetch does not block later fetches. */
static void test_fetch_removes_stale_ref_lock(void **state)
{
	struct error err = ERROR_INIT;
	char *cache = cache_path_for(fx.data_dir, "remote", fx.url);
	char *stale = xasprintf("%s/refs/heads/main.lock", cache);
	FILE *f;

	(void)state;
	f = fopen(stale, "w");
	assert_non_null(f);
	fclose(f);
	sh("cd work && git checkout -q -b locked main");
	write_file("locked.txt", "x\n");
	commit("while locked\n");
	sh("cd work && git checkout -q main && git push -q ../remote.git locked");
	assert_int_equal(source_fetch(fx.src, NULL, &err), 0);
	assert_false(exists(stale));
	sh("git -C remote.git branch -q -D locked && cd work && git branch -q -D locked");
	assert_int_equal(source_fetch(fx.src, NULL, &err), 0);
	free(stale);
	free(cache);
}

/* ---- refs ---- */

static void check_ref(const char *spec, const char *revision, const char *refname)
{
	struct source_commit c;
	char *expected = rev(revision);

	resolve_ok(spec, &c);
	if (strcmp(c.sha, expected) != 0)
		fail_msg("'%s' resolved to %s, git says %s", spec, c.sha, expected);
	if (refname)
		assert_string_equal(c.ref, refname);
	else
		assert_null(c.ref);
	source_commit_release(&c);
	free(expected);
}

static void test_resolve_branches_and_tags(void **state)
{
	char *tag_object = capture("git -C remote.git rev-parse refs/tags/v1.2.0");
	char *peeled = rev("refs/tags/v1.2.0");

	(void)state;
	check_ref("branch:main", "refs/heads/main", "refs/heads/main");
	check_ref("branch:maint", "refs/heads/maint", "refs/heads/maint");
	check_ref("branch:dev", "refs/heads/dev", "refs/heads/dev");
	check_ref("tag:v1.0.0", "refs/tags/v1.0.0", "refs/tags/v1.0.0");
	/* an annotated tag gives its commit, not the tag object */
	assert_string_not_equal(tag_object, peeled);
	check_ref("tag:v1.2.0", "refs/tags/v1.2.0", "refs/tags/v1.2.0");
	check_ref("tag:v2.0.0-rc.1", "refs/tags/v2.0.0-rc.1", "refs/tags/v2.0.0-rc.1");
	check_ref("tag:maint", "refs/tags/maint", "refs/tags/maint");
	free(tag_object);
	free(peeled);
}

static void test_resolve_auto(void **state)
{
	char *c2 = rev("refs/heads/maint");
	char *short_sha = xstrndup(c2, 7);
	char *spec;

	(void)state;
	/* a branch wins over a tag of the same name */
	check_ref("maint", "refs/heads/maint", "refs/heads/maint");
	check_ref("v1.2.0", "refs/tags/v1.2.0", "refs/tags/v1.2.0");
	check_ref("stable", "refs/tags/stable", "refs/tags/stable");
	check_ref(short_sha, "refs/heads/maint", NULL);
	spec = xasprintf("commit:%s", c2);
	check_ref(spec, "refs/heads/maint", NULL);
	free(spec);
	spec = xasprintf("commit:%s", short_sha);
	check_ref(spec, "refs/heads/maint", NULL);
	free(spec);
	free(short_sha);
	free(c2);
}

static void test_resolve_semver(void **state)
{
	(void)state;
	/* v1.10.0 ranks above v1.2.0 (numbers, not text); the rc is not a release */
	check_ref("semver:>=1.0.0", "refs/tags/v1.10.0", "refs/tags/v1.10.0");
	check_ref("semver:*", "refs/tags/v1.10.0", "refs/tags/v1.10.0");
	check_ref("semver:^1.0.0", "refs/tags/v1.10.0", "refs/tags/v1.10.0");
	check_ref("semver:~1.2", "refs/tags/v1.2.0", "refs/tags/v1.2.0");
	check_ref("semver:1.0.x", "refs/tags/v1.0.0", "refs/tags/v1.0.0");
	check_ref("semver:>=1.0.0 <1.10.0", "refs/tags/v1.2.0", "refs/tags/v1.2.0");
	check_ref("semver:>=2.0.0-rc.0", "refs/tags/v2.0.0-rc.1", "refs/tags/v2.0.0-rc.1");
	check_ref("semver:<1.0.0 || 1.2.x", "refs/tags/v1.2.0", "refs/tags/v1.2.0");
}

static void test_commit_info(void **state)
{
	struct source_commit c;
	struct buf json = BUF_INIT;
	char *expected;

	(void)state;
	resolve_ok("branch:main", &c);
	assert_string_equal(c.author_name, "Ada Lovelace");
	assert_string_equal(c.author_email, "ada@example.com");
	assert_int_equal(c.time, BASE_TIME + 5 * 60);
	assert_int_equal(c.tz_offset, 60);
	assert_string_equal(c.message, "add link\n\nlonger body\nsecond line\n");
	assert_string_equal(c.summary, "add link");
	assert_int_equal(source_commit_json(&c, &json), 0);
	expected = xasprintf("{\"sha\":\"%s\",\"ref\":\"refs/heads/main\",\"author\":\"Ada "
			     "Lovelace\",\"email\":\"ada@example.com\",\"time\":\"2026-01-02T03:"
			     "09:05Z\",\"summary\":\"add link\",\"message\":\"add link\\n\\nlonger "
			     "body\\nsecond line\\n\"}",
			     c.sha);
	assert_string_equal(json.data, expected);
	free(expected);
	buf_release(&json);
	source_commit_release(&c);
	assert_null(c.message);

	/* a commit found by SHA has no ref, which JSON shows as null */
	expected = rev("refs/tags/v1.0.0");
	{
		char *spec = xasprintf("commit:%s", expected);

		resolve_ok(spec, &c);
		free(spec);
	}
	assert_string_equal(c.summary, "first");
	assert_int_equal(c.time, BASE_TIME);
	assert_int_equal(source_commit_json(&c, &json), 0);
	assert_non_null(strstr(json.data, "\"ref\":null"));
	assert_non_null(strstr(json.data, "\"time\":\"2026-01-02T03:04:05Z\""));
	buf_release(&json);
	source_commit_release(&c);
	free(expected);
}

/* ---- trees ---- */

static struct tree *tree_at(const char *spec, struct source_commit *c)
{
	struct error err = ERROR_INIT;
	struct tree *t = NULL;

	resolve_ok(spec, c);
	if (source_tree(fx.src, c, &t, &err) != 0)
		fail_msg("cannot open the tree of '%s': %s", spec, err.msg);
	return t;
}

static char *read_text(struct tree *t, const char *path)
{
	struct error err = ERROR_INIT;
	struct buf out = BUF_INIT;

	if (tree_read(t, path, &out, &err) != 0)
		fail_msg("cannot read '%s': %s", path, err.msg);
	return buf_detach(&out, NULL);
}

/* "name:type name:type ..." for a directory, as tree_list gives it. */
static char *listing(struct tree *t, const char *path)
{
	static const char *const types[] = {"none", "file", "dir"};
	struct error err = ERROR_INIT;
	struct vec entries = VEC_INIT;
	struct buf out = BUF_INIT;
	struct tree_entry *e;
	size_t i;

	if (tree_list(t, path, &entries, &err) != 0)
		fail_msg("cannot list '%s': %s", path, err.msg);
	buf_add(&out, "", 0);
	vec_foreach (&entries, i, e) {
		buf_addf(&out, "%s%s:%s", i ? " " : "", e->name, types[e->type]);
	}
	tree_entries_release(&entries);
	return buf_detach(&out, NULL);
}

static enum tree_type stat_type(struct tree *t, const char *path)
{
	struct error err = ERROR_INIT;
	enum tree_type type = TREE_FILE;

	assert_int_equal(tree_stat(t, path, &type, &err), 0);
	return type;
}

static void test_tree_read_at_commits(void **state)
{
	struct source_commit old, now;
	struct tree *t_old = tree_at("tag:v1.0.0", &old);
	struct tree *t_now = tree_at("branch:main", &now);
	char *text;
	char *label = xasprintf("%s@%.7s", fx.url, now.sha);

	(void)state;
	assert_string_equal(t_now->label, label);
	text = read_text(t_old, "apps/web/deploy.yaml");
	assert_string_equal(text, "v: 1\n");
	free(text);
	text = read_text(t_now, "apps/web/deploy.yaml");
	assert_string_equal(text, "v: 3\n");
	free(text);
	text = read_text(t_now, "apps/web/config/app.conf");
	assert_string_equal(text, "port=80\n");
	free(text);
	text = read_text(t_now, "run.sh");
	assert_string_equal(text, "#!/bin/sh\n");
	free(text);

	text = listing(t_old, "");
	assert_string_equal(text, "README.md:file apps:dir");
	free(text);
	text = listing(t_old, "apps");
	assert_string_equal(text, "web:dir");
	free(text);
	/* symlinks and submodules are listed, as TREE_NONE */
	text = listing(t_now, "");
	assert_string_equal(text, "README.md:file apps:dir link:none run.sh:file sub:none");
	free(text);
	text = listing(t_now, "apps");
	assert_string_equal(text, "api:dir web:dir");
	free(text);
	text = listing(t_now, "apps/web");
	assert_string_equal(text, "config:dir deploy.yaml:file");
	free(text);

	assert_int_equal(stat_type(t_now, ""), TREE_DIR);
	assert_int_equal(stat_type(t_now, "apps/web"), TREE_DIR);
	assert_int_equal(stat_type(t_now, "README.md"), TREE_FILE);
	assert_int_equal(stat_type(t_now, "link"), TREE_NONE);
	assert_int_equal(stat_type(t_now, "sub"), TREE_NONE);
	assert_int_equal(stat_type(t_now, "nope"), TREE_NONE);
	assert_int_equal(stat_type(t_now, "apps/web/nope.yaml"), TREE_NONE);
	assert_int_equal(stat_type(t_now, "README.md/x"), TREE_NONE);
	assert_int_equal(stat_type(t_old, "apps/api"), TREE_NONE);
	assert_int_equal(stat_type(t_now, "apps/api"), TREE_DIR);

	tree_free(t_old);
	tree_free(t_now);
	source_commit_release(&old);
	source_commit_release(&now);
	free(label);
}

static void test_tree_errors(void **state)
{
	struct error err = ERROR_INIT;
	struct source_commit c;
	struct tree *t = tree_at("branch:main", &c);
	struct buf out = BUF_INIT;
	struct vec entries = VEC_INIT;
	char *expected;

	(void)state;
	assert_int_equal(tree_read(t, "apps/web/nope.yaml", &out, &err), ERR_NOTFOUND);
	expected = xasprintf("'apps/web/nope.yaml' not found in '%s'", t->label);
	assert_string_equal(err.msg, expected);
	free(expected);
	assert_int_equal(tree_read(t, "apps", &out, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "directory"));
	assert_int_equal(tree_read(t, "", &out, &err), ERR_INVALID);
	assert_int_equal(tree_read(t, "link", &out, &err), ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_int_equal(tree_read(t, "sub", &out, &err), ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "submodule"));
	assert_int_equal(tree_list(t, "README.md", &entries, &err), ERR_NOTFOUND);
	assert_int_equal(tree_list(t, "missing", &entries, &err), ERR_NOTFOUND);
	assert_int_equal(entries.len, 0);
	/* the caller's cap holds */
	buf_init(&out, 3);
	assert_int_equal(tree_read(t, "README.md", &out, &err), ERR_TOOBIG);
	buf_release(&out);
	tree_free(t);
	source_commit_release(&c);
}

/* A tree has its own handle on the cache: it still reads after the source is freed. */
static void test_tree_outlives_source(void **state)
{
	struct error err = ERROR_INIT;
	struct source *src = NULL;
	struct source_ref ref = {REF_TAG, "v1.2.0"};
	struct source_commit c;
	struct tree *t = NULL;
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(open_source(fx.url, fx.data_dir, &src, &err), 0);
	assert_int_equal(source_resolve(src, &ref, &c, &err), 0);
	assert_int_equal(source_tree(src, &c, &t, &err), 0);
	source_free(src);
	assert_int_equal(tree_read(t, "apps/web/deploy.yaml", &out, &err), 0);
	assert_string_equal(out.data, "v: 2\n");
	buf_release(&out);
	tree_free(t);
	source_commit_release(&c);
}

/* ---- errors ---- */

static void test_unknown_branch_suggests(void **state)
{
	char *msg = resolve_fails("branch:mian", ERR_NOTFOUND);
	char *expected =
		xasprintf("unknown branch 'mian' in '%s'; did you mean: main, maint", fx.url);

	(void)state;
	assert_string_equal(msg, expected);
	free(msg);
	free(expected);

	/* nothing close: list what exists */
	msg = resolve_fails("branch:zzzzzzzz", ERR_NOTFOUND);
	expected = xasprintf("unknown branch 'zzzzzzzz' in '%s'; branches: blobs, dev, main, maint",
			     fx.url);
	assert_string_equal(msg, expected);
	free(msg);
	free(expected);

	/* a short name is not "close" to everything of about its length */
	msg = resolve_fails("branch:xy", ERR_NOTFOUND);
	expected =
		xasprintf("unknown branch 'xy' in '%s'; branches: blobs, dev, main, maint", fx.url);
	assert_string_equal(msg, expected);
	free(msg);
	free(expected);

	/* a bare name looks among branches and tags; "maint" is both, and named once */
	msg = resolve_fails("mian", ERR_NOTFOUND);
	expected = xasprintf("unknown ref 'mian' in '%s'; did you mean: main, maint", fx.url);
	assert_string_equal(msg, expected);
	free(msg);
	free(expected);

	msg = resolve_fails("nosuch", ERR_NOTFOUND);
	expected = xasprintf("unknown ref 'nosuch' in '%s'", fx.url);
	assert_true(strncmp(msg, expected, strlen(expected)) == 0);
	free(msg);
	free(expected);
	msg = resolve_fails("branch:a..b", ERR_INVALID);
	free(msg);
}

static void test_unknown_tag(void **state)
{
	char *msg = resolve_fails("tag:v1.2.1", ERR_NOTFOUND);
	char *expected = xasprintf("unknown tag 'v1.2.1' in '%s'; did you mean: v1.2.0", fx.url);

	(void)state;
	assert_true(strncmp(msg, expected, strlen(expected)) == 0);
	free(msg);
	free(expected);
	/* a branch name is not a tag */
	msg = resolve_fails("tag:dev", ERR_NOTFOUND);
	free(msg);
}

static void test_semver_no_match(void **state)
{
	char *msg = resolve_fails("semver:>=3.0.0", ERR_NOTFOUND);
	char *expected = xasprintf("no tag in '%s' satisfies '>=3.0.0'; highest tags: v2.0.0-rc.1, "
				   "v1.10.0, v1.2.0, v1.0.0",
				   fx.url);
	struct error err = ERROR_INIT;
	struct source_ref ref = {REF_SEMVER, ">=abc"};
	struct source_commit c;

	(void)state;
	assert_string_equal(msg, expected);
	free(msg);
	free(expected);
	assert_int_equal(source_resolve(fx.src, &ref, &c, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "'>=abc'"));
}

/* A short SHA that more than one object starts with is refused, not guessed. */
static void test_short_sha_errors(void **state)
{
	char *shas = capture("git -C remote.git rev-list --objects --all | cut -c1-4 | sort | "
			     "uniq -d | head -n 1");
	char *spec, *msg, *expected;

	(void)state;
	assert_int_equal(strlen(shas), 4);
	spec = xasprintf("commit:%s", shas);
	msg = resolve_fails(spec, ERR_INVALID);
	assert_non_null(strstr(msg, "ambiguous"));
	free(msg);
	free(spec);
	/* the same short SHA given as a bare name */
	msg = resolve_fails(shas, ERR_INVALID);
	assert_non_null(strstr(msg, "ambiguous"));
	free(msg);
	free(shas);

	assert_int_equal(run("git -C remote.git rev-list --objects --all | grep -q '^deadbeef'"),
			 1);
	msg = resolve_fails("commit:deadbeef", ERR_NOTFOUND);
	expected = xasprintf("unknown commit 'deadbeef' in '%s'", fx.url);
	assert_string_equal(msg, expected);
	free(msg);
	free(expected);
	/* a blob is not a commit */
	shas = capture("git -C remote.git rev-parse v1.0.0:README.md");
	spec = xasprintf("commit:%s", shas);
	msg = resolve_fails(spec, ERR_NOTFOUND);
	free(msg);
	free(spec);
	free(shas);
	{
		struct source_ref ref = {REF_COMMIT, "abc"};
		struct source_commit c;
		struct error err = ERROR_INIT;

		assert_int_equal(source_resolve(fx.src, &ref, &c, &err), ERR_INVALID);
		ref.value = "xyz12";
		assert_int_equal(source_resolve(fx.src, &ref, &c, &err), ERR_INVALID);
	}
}

static void test_fetch_missing_repository(void **state)
{
	struct error err = ERROR_INIT;
	struct source *src = NULL;
	char *path = xasprintf("%s/nope.git", fx.dir);
	char *url = xasprintf("file://%s", path);
	char *expected;

	(void)state;
	assert_int_equal(open_source(path, fx.data_dir, &src, &err), 0);
	assert_int_equal(source_fetch(src, NULL, &err), ERR_NETWORK);
	expected = xasprintf("cannot fetch '%s': repository not found", path);
	assert_string_equal(err.msg, expected);
	free(expected);
	source_free(src);

	assert_int_equal(open_source(url, fx.data_dir, &src, &err), 0);
	assert_int_equal(source_fetch(src, NULL, &err), ERR_NETWORK);
	expected = xasprintf("cannot fetch '%s': repository not found", url);
	assert_string_equal(err.msg, expected);
	free(expected);
	source_free(src);

	/* a directory that is not a repository */
	assert_int_equal(open_source(fx.data_dir, fx.data_dir, &src, &err), 0);
	assert_int_equal(source_fetch(src, NULL, &err), ERR_NETWORK);
	assert_non_null(strstr(err.msg, "repository not found"));
	source_free(src);
	free(path);
	free(url);
}

/* A local path works as well as file://, relative to the working directory. */
static void test_fetch_local_path(void **state)
{
	struct error err = ERROR_INIT;
	struct source *src = NULL;
	struct source_fetch_stats stats;
	struct source_ref ref = {REF_DEFAULT, NULL};
	struct source_commit c;
	char cwd[PATH_MAX];
	char *data = xasprintf("%s/data-path", fx.dir);
	char *expected = rev("refs/heads/main");

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx.dir), 0);
	assert_int_equal(open_source("remote.git", data, &src, &err), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(source_display_url(src), "remote.git");
	assert_int_equal(source_fetch(src, &stats, &err), 0);
	assert_true(stats.cloned);
	assert_int_equal(source_resolve(src, &ref, &c, &err), 0);
	assert_string_equal(c.sha, expected);
	source_commit_release(&c);
	source_free(src);
	free(data);
	free(expected);
}

static void test_fetch_unreachable(void **state)
{
	struct error err = ERROR_INIT;
	struct source *src = NULL;

	(void)state;
	assert_int_equal(open_source("https://127.0.0.1:1/x.git", fx.data_dir, &src, &err), 0);
	assert_int_equal(source_fetch(src, NULL, &err), ERR_NETWORK);
	assert_true(strncmp(err.msg, "cannot reach 'https://127.0.0.1:1/x.git': ", 42) == 0);
	source_free(src);
}

static void test_fetch_unreachable_ssh(void **state)
{
	struct error err = ERROR_INIT;
	struct source *src = NULL;

	(void)state;
	assert_int_equal(open_source("ssh://git@127.0.0.1:1/x.git", fx.data_dir, &src, &err), 0);
	assert_string_equal(source_display_url(src), "ssh://127.0.0.1:1/x.git");
	assert_int_equal(source_fetch(src, NULL, &err), ERR_NETWORK);
	assert_true(strncmp(err.msg, "cannot reach 'ssh://127.0.0.1:1/x.git': ", 40) == 0);
	source_free(src);
}

static void test_redaction(void **state)
{
	struct error err = ERROR_INIT;
	struct source *src = NULL;

	(void)state;
	assert_int_equal(
		open_source("https://user:secret@127.0.0.1:1/x.git", fx.data_dir, &src, &err), 0);
	assert_string_equal(source_display_url(src), "https://127.0.0.1:1/x.git");
	assert_int_equal(source_fetch(src, NULL, &err), ERR_NETWORK);
	assert_null(strstr(err.msg, "secret"));
	assert_non_null(strstr(err.msg, "'https://127.0.0.1:1/x.git'"));
	source_free(src);
}

static void test_redact_url(void **state)
{
	static const char *const cases[][2] = {
		{"https://tok@host/x", "https://host/x"},
		{"https://u:p@host:8443/x.git", "https://host:8443/x.git"},
		{"https://u:p@ss@host/x", "https://host/x"},
		{"https://u:p/ss@host/x", "https://host/x"},
		{"https://host:8443/a@b", "https://host:8443/a@b"},
		{"https://host:x/a", "https://host:x/a"},
		{"ssh://git@host/x", "ssh://host/x"},
		{"https://host/x", "https://host/x"},
		{"https://host/path@v1", "https://host/path@v1"},
		{"git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"/srv/git/ops.git", "/srv/git/ops.git"},
		{"file:///srv/git/ops.git", "file:///srv/git/ops.git"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *redacted = source_redact_url(cases[i][0]);

		assert_string_equal(redacted, cases[i][1]);
		free(redacted);
	}
}

static void test_open_urls(void **state)
{
	struct error err = ERROR_INIT;
	struct source *src = NULL;
	char *data = xasprintf("%s/data-urls", fx.dir);
	char *cache;

	(void)state;
	/* scp-style: kept as is, named after its last component */
	assert_int_equal(open_source("git@github.com:org/repo.git", data, &src, &err), 0);
	assert_string_equal(source_display_url(src), "git@github.com:org/repo.git");
	source_free(src);
	cache = cache_path_for(data, "repo", "git@github.com:org/repo.git");
	assert_true(is_dir(cache));
	free(cache);
	/* credentials do not change which cache a URL uses */
	assert_int_equal(open_source("https://tok@example.com/team/ops.git/", data, &src, &err), 0);
	source_free(src);
	cache = cache_path_for(data, "ops", "https://example.com/team/ops.git/");
	assert_true(is_dir(cache));
	free(cache);

	/* a name never makes a hidden directory */
	assert_int_equal(open_source("https://example.com/team/.ops.git", data, &src, &err), 0);
	source_free(src);
	cache = cache_path_for(data, "_ops", "https://example.com/team/.ops.git");
	assert_true(is_dir(cache));
	free(cache);

	assert_int_equal(open_source("ftp://example.com/x.git", data, &src, &err), ERR_UNSUPPORTED);
	assert_null(src);
	assert_non_null(strstr(err.msg, "'ftp://example.com/x.git'"));
	assert_int_equal(open_source("", data, &src, &err), ERR_INVALID);
	free(data);
}

static void test_parse_ref(void **state)
{
	static const struct {
		const char *spec;
		enum ref_kind kind;
		size_t offset;
	} ok[] = {
		{"branch:main", REF_BRANCH, 7},
		{"tag:v1.0.0", REF_TAG, 4},
		{"semver:>=1.0 <2", REF_SEMVER, 7},
		{"commit:abcd1234", REF_COMMIT, 7},
		{"main", REF_AUTO, 0},
		{"feature/x", REF_AUTO, 0},
	};
	static const char *const bad[] = {
		"",	      "branch:",    "tag:",    "semver:", "commit:", "semver:>=abc",
		"commit:xyz", "commit:abc", "foo:bar",
	};
	struct source_ref ref;
	struct error err = ERROR_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(source_parse_ref(ok[i].spec, &ref, &err), 0);
		assert_int_equal(ref.kind, ok[i].kind);
		assert_ptr_equal(ref.value, ok[i].spec + ok[i].offset);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (source_parse_ref(bad[i], &ref, &err) != ERR_INVALID)
			fail_msg("'%s' should be rejected", bad[i]);
	}
	assert_int_equal(source_parse_ref(NULL, &ref, &err), ERR_INVALID);
}

/* ---- authentication, against a server that answers 401 to everything ---- */

static const char auth_server[] =
	"import base64, http.server, sys\n"
	"log = sys.argv[1]\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def do_GET(self):\n"
	"        auth = self.headers.get('Authorization')\n"
	"        if auth:\n"
	"            with open(log, 'a') as f:\n"
	"                f.write(base64.b64decode(auth.split(' ', 1)[1]).decode() + '\\n')\n"
	"        self.send_response(401)\n"
	"        self.send_header('WWW-Authenticate', 'Basic realm=\"plumb\"')\n"
	"        self.send_header('Content-Length', '0')\n"
	"        self.end_headers()\n"
	"    do_POST = do_GET\n"
	"    def log_message(self, *args):\n"
	"        pass\n"
	"server = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"print(server.server_address[1], flush=True)\n"
	"server.serve_forever()\n";

struct auth_server {
	pid_t pid;
	char *url;
	char *log;
};

static void auth_server_start(struct auth_server *s)
{
	int out[2];
	char line[32];
	FILE *f;
	long port;

	s->log = xasprintf("%s/auth.log", fx.dir);
	unlink(s->log);
	assert_int_equal(pipe(out), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* The server dies with the test and keeps none of its output open. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(out[1], 1);
		dup2(null, 2);
		close(out[0]);
		close(out[1]);
		close(null);
		execlp("python3", "python3", "-c", auth_server, s->log, (char *)NULL);
		_exit(127);
	}
	server_pid = s->pid;
	close(out[1]);
	f = fdopen(out[0], "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	port = strtol(line, NULL, 10);
	assert_true(port > 0 && port < 65536);
	s->url = xasprintf("http://127.0.0.1:%ld/x.git", port);
}

static void auth_server_stop(struct auth_server *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	server_pid = 0;
	free(s->url);
	free(s->log);
}

/* What the server saw in Authorization headers, "user:password" a line. */
static char *auth_log(const struct auth_server *s)
{
	struct buf text = BUF_INIT;
	struct error err = ERROR_INIT;

	if (buf_read_file(&text, s->log, &err) != 0)
		return xstrdup("");
	return buf_detach(&text, NULL);
}

/* Fetches url from the server; returns the error message. */
static char *fetch_fails(const char *url, const char *credentials_file, int code)
{
	struct source_opts opts = {0};
	struct error err = ERROR_INIT;
	struct source *src = NULL;
	char *data = xasprintf("%s/data-auth", fx.dir);

	opts.url = url;
	opts.data_dir = data;
	opts.credentials_file = credentials_file;
	assert_int_equal(source_open(&src, &opts, &err), 0);
	if (source_fetch(src, NULL, &err) != code)
		fail_msg("fetching '%s' should fail with %s, got: '%s'", url, error_code_name(code),
			 err.msg);
	source_free(src);
	free(data);
	return xstrdup(err.msg);
}

static void test_auth_token(void **state)
{
	struct auth_server server;
	char *msg, *expected, *seen;

	(void)state;
	auth_server_start(&server);
	setenv("PLUMB_GIT_TOKEN", "tok-SECRET-123", 1);
	msg = fetch_fails(server.url, NULL, ERR_AUTH);
	expected = xasprintf("authentication failed for '%s' (credentials from PLUMB_GIT_TOKEN)",
			     server.url);
	assert_string_equal(msg, expected);
	assert_null(strstr(msg, "tok-SECRET-123"));
	/* the token went out once, as the password of x-access-token: no retry loop */
	seen = auth_log(&server);
	assert_string_equal(seen, "x-access-token:tok-SECRET-123\n");
	free(seen);
	free(msg);
	free(expected);

	/* PLUMB_GIT_USERNAME names the user that goes with the token */
	unlink(server.log);
	setenv("PLUMB_GIT_USERNAME", "robot", 1);
	msg = fetch_fails(server.url, NULL, ERR_AUTH);
	seen = auth_log(&server);
	assert_string_equal(seen, "robot:tok-SECRET-123\n");
	free(seen);
	free(msg);
	unsetenv("PLUMB_GIT_TOKEN");
	unsetenv("PLUMB_GIT_USERNAME");
	auth_server_stop(&server);
}

static void test_auth_sources(void **state)
{
	struct auth_server server;
	char *msg, *seen, *file, *origin, *hostport;
	FILE *f;

	(void)state;
	auth_server_start(&server);
	/* nothing to offer */
	msg = fetch_fails(server.url, NULL, ERR_AUTH);
	assert_non_null(strstr(msg, "authentication required"));
	seen = auth_log(&server);
	assert_string_equal(seen, "");
	free(seen);
	free(msg);

	/* user name and password from the environment */
	setenv("PLUMB_GIT_USERNAME", "alice", 1);
	setenv("PLUMB_GIT_PASSWORD", "pw-SECRET-alice", 1);
	msg = fetch_fails(server.url, NULL, ERR_AUTH);
	assert_null(strstr(msg, "pw-SECRET-alice"));
	seen = auth_log(&server);
	assert_string_equal(seen, "alice:pw-SECRET-alice\n");
	free(seen);
	free(msg);
	unsetenv("PLUMB_GIT_USERNAME");
	unsetenv("PLUMB_GIT_PASSWORD");

	/* a credentials file: the line for this host, not the one before it */
	unlink(server.log);
	file = xasprintf("%s/credentials", fx.dir);
	f = fopen(file, "w");
	assert_non_null(f);
	hostport = xstrndup(server.url + strlen("http://"),
			    strlen(server.url) - strlen("http://") - strlen("/x.git"));
	fprintf(f,
		"# comment\n"
		"https://wrong:nope@example.com\n"
		"http://other:nope@127.0.0.1:1\n"
		"http://pathuser:nope@%s/y.git\n"
		"http://pathuser:nope@%s/x\n" /* "/x" is not a prefix of "/x.git" */
		"  http://bob:file%%2Fpw@%s  \n",
		hostport, hostport, hostport);
	free(hostport);
	fclose(f);
	msg = fetch_fails(server.url, file, ERR_AUTH);
	origin = xasprintf("credentials file '%s'", file);
	assert_non_null(strstr(msg, origin));
	assert_null(strstr(msg, "file/pw"));
	seen = auth_log(&server);
	assert_string_equal(seen, "bob:file/pw\n");
	free(seen);
	free(msg);
	free(origin);

	/* ... or named by $PLUMB_GIT_CREDENTIALS_FILE */
	unlink(server.log);
	setenv("PLUMB_GIT_CREDENTIALS_FILE", file, 1);
	msg = fetch_fails(server.url, NULL, ERR_AUTH);
	seen = auth_log(&server);
	assert_string_equal(seen, "bob:file/pw\n");
	free(seen);
	free(msg);
	unsetenv("PLUMB_GIT_CREDENTIALS_FILE");
	/* a credentials file that is not there is an error, not silence */
	msg = fetch_fails(server.url, "/nonexistent/credentials", ERR_NOTFOUND);
	assert_non_null(strstr(msg, "/nonexistent/credentials"));
	free(msg);
	free(file);

	/* credentials in the URL */
	unlink(server.log);
	{
		char *url = xasprintf("http://carol:url-SECRET@%s", server.url + strlen("http://"));

		msg = fetch_fails(url, NULL, ERR_AUTH);
		assert_null(strstr(msg, "url-SECRET"));
		assert_null(strstr(msg, "carol"));
		seen = auth_log(&server);
		assert_string_equal(seen, "carol:url-SECRET\n");
		free(seen);
		free(msg);
		free(url);
	}
	auth_server_stop(&server);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_creates_cache),
		cmocka_unit_test(test_fetch_up_to_date),
		cmocka_unit_test(test_fetch_incremental),
		cmocka_unit_test(test_fetch_moved_tag),
		cmocka_unit_test(test_default_branch_follows_remote),
		cmocka_unit_test(test_fetch_waits_for_lock),
		cmocka_unit_test(test_fetch_removes_stale_ref_lock),
		cmocka_unit_test(test_resolve_branches_and_tags),
		cmocka_unit_test(test_resolve_auto),
		cmocka_unit_test(test_resolve_semver),
		cmocka_unit_test(test_commit_info),
		cmocka_unit_test(test_tree_read_at_commits),
		cmocka_unit_test(test_tree_errors),
		cmocka_unit_test(test_tree_outlives_source),
		cmocka_unit_test(test_unknown_branch_suggests),
		cmocka_unit_test(test_unknown_tag),
		cmocka_unit_test(test_semver_no_match),
		cmocka_unit_test(test_short_sha_errors),
		cmocka_unit_test(test_fetch_missing_repository),
		cmocka_unit_test(test_fetch_local_path),
		cmocka_unit_test(test_fetch_unreachable),
		cmocka_unit_test(test_fetch_unreachable_ssh),
		cmocka_unit_test(test_redaction),
		cmocka_unit_test(test_redact_url),
		cmocka_unit_test(test_open_urls),
		cmocka_unit_test(test_parse_ref),
		cmocka_unit_test(test_auth_token),
		cmocka_unit_test(test_auth_sources),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
