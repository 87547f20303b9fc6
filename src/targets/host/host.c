/*
 * The host target's operations on a root directory: observe, apply, remove,
 * purge, sweep and restore. Every call works from the root's file descriptor:
 * the parent directory of a path is opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) (or a walk that refuses every symlink where openat2
 * is missing) and the last component is handled with *at() calls that never
 * follow it. The root's path string is only kept for messages.
 */
#include "host.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TEMP_PREFIX	".plumb-tmp."
#define TEMP_SUFFIX_LEN 6
#define TEMP_ATTEMPTS	100
/* The largest file host_observe reads into memory. */
#define OBSERVE_MAX (1024u * 1024 * 1024)
/* Paths longer than this are cut in messages. */
#define SHOWN_MAX 256

struct host_target {
	char *root;
	int rootfd;	 /* O_PATH | O_DIRECTORY */
	bool no_openat2; /* the kernel lacks openat2: walk, refusing every symlink */
	bool defer_dir_sync;
	struct map dirty_dirs; /* directory path -> (fd + 1) open for reading, to fsync */
};

/* What a File, Directory or Symlink should be, whether from a resource or a restore. */
struct want {
	const char *data; /* File: content; Symlink: target */
	size_t len;
	bool has_mode;
	uint32_t mode;
	bool has_uid;
	uint32_t uid;
	bool has_gid;
	uint32_t gid;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* "a directory", "a file"... for messages about what is found at a path. */
static const char *type_phrase(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symlink";
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
	case S_IFBLK:
		return "a device";
	default:
		return "a special file";
	}
}

/* ---- the root and path resolution ---- */

int host_target_open(struct host_target **out, const char *root, struct error *err)
{
	struct host_target *t;
	int fd;

	*out = NULL;
	if (!root || !*root)
		return error_set(err, ERR_INVALID, "the host root must be a directory path");
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "cannot open host root '%s'", root);
	t = xcalloc(1, sizeof(*t));
	t->root = xstrdup(root);
	t->rootfd = fd;
	*out = t;
	return 0;
}

void host_target_free(struct host_target *t)
{
	if (!t)
		return;
	host_sync_dirs(t, NULL);
	close_fd(&t->rootfd);
	free(t->root);
	free(t);
}

const char *host_target_root(const struct host_target *t)
{
	return t->root;
}

/*
 * The fallback for kernels without openat2: opens rel one component at a time
 * with O_NOFOLLOW, so any symlink on the way fails with ELOOP.
 */
static int walk_beneath(struct host_target *t, const char *rel, int flags)
{
	char *copy, *rest, *component;
	int dirfd, saved;

	if (strcmp(rel, ".") == 0)
		return openat(t->rootfd, ".", flags | O_CLOEXEC);
	dirfd = openat(t->rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	copy = xstrdup(rel);
	rest = copy;
	while ((component = strsep(&rest, "/"))) {
		int step = rest ? O_PATH | O_DIRECTORY : flags;
		int fd = openat(dirfd, component, step | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;

		if (fd < 0) {
			saved = errno;
			if ((saved == ENOTDIR || saved == ELOOP) &&
			    fstatat(dirfd, component, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				saved = ELOOP;
			close(dirfd);
			free(copy);
			errno = saved;
			return -1;
		}
		close(dirfd);
		dirfd = fd;
	}
	free(copy);
	return dirfd;
}

/*
 * Opens rel ("." or "a/b", relative to the root) with flags, never leaving the
 * root. Returns a descriptor, or -1 with errno: EXDEV or ELOOP for a symlink
 * that leaves the root (or any symlink at all in the fallback walk).
 */
static int open_beneath(struct host_target *t, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	if (!t->no_openat2) {
		/* EAGAIN: a rename elsewhere raced the lookup; it is safe to retry. */
		for (int attempt = 0; attempt < 16; attempt++) {
			long fd = syscall(SYS_openat2, t->rootfd, rel, &how, sizeof(how));

			if (fd >= 0)
				return (int)fd;
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno != ENOSYS)
				return -1;
			t->no_openat2 = true;
			break;
		}
		if (!t->no_openat2)
			return -1;
	}
	return walk_beneath(t, rel, flags);
}

static int escape_error(struct host_target *t, const char *path, struct error *err)
{
	if (t->no_openat2)
		return error_set(err, ERR_INVALID,
				 "'%s': passes through a symlink, which this kernel (no openat2) "
				 "cannot follow safely",
				 path);
	return error_set(err, ERR_INVALID, "'%s': passes through a symlink that leaves the root",
			 path);
}

static int check_path(const char *path, struct error *err)
{
	const char *problem = path ? host_path_problem(path, strlen(path)) : "must not be empty";

	if (!path)
		path = "";
	if (problem)
		return error_set(err, ERR_INVALID, "path '%.*s%s' %s", SHOWN_MAX, path,
				 strlen(path) > SHOWN_MAX ? "..." : "", problem);
	return 0;
}

/*
 * Opens the directory that holds path (O_PATH) into *dirfd and points *name at
 * path's last component. When that directory (or one above it) is missing or
 * not a directory, returns 0 with *dirfd = -1 and *missing_errno set.
 */
static int open_parent(struct host_target *t, const char *path, int *dirfd, const char **name,
		       int *missing_errno, struct error *err)
{
	const char *slash;
	char *rel;
	int rc, saved;

	*dirfd = -1;
	*missing_errno = 0;
	rc = check_path(path, err);
	if (rc < 0)
		return rc;
	slash = strrchr(path, '/');
	*name = slash + 1;
	rel = slash == path ? xstrdup(".") : xstrndup(path + 1, (size_t)(slash - path - 1));
	*dirfd = open_beneath(t, rel, O_PATH | O_DIRECTORY);
	saved = errno;
	free(rel);
	if (*dirfd >= 0)
		return 0;
	if (saved == ENOENT || saved == ENOTDIR) {
		*missing_errno = saved;
		return 0;
	}
	if (saved == EXDEV || saved == ELOOP)
		return escape_error(t, path, err);
	errno = saved;
	return error_errno(err, "cannot open the directory of '%s'", path);
}

/* The error for a missing parent (from open_parent's missing_errno). */
static int parent_missing(const char *path, int missing_errno, struct error *err)
{
	const char *slash = strrchr(path, '/');
	int len = (int)(slash - path);

	if (missing_errno == ENOTDIR)
		return error_set(err, ERR_NOTFOUND, "a parent of '%s' is not a directory", path);
	return error_set(err, ERR_NOTFOUND, "parent directory '%.*s' of '%s' does not exist", len,
			 path, path);
}

/*
 * Opens directory path itself (O_RDONLY, not following a last-component
 * symlink); "/" is the root. *fd = -1 and 0 when it does not exist.
 */
static int open_dir(struct host_target *t, const char *path, int *fd, struct error *err)
{
	const char *name;
	int dirfd, missing, rc = 0;

	*fd = -1;
	if (path && strcmp(path, "/") == 0) {
		*fd = open_beneath(t, ".", O_RDONLY | O_DIRECTORY);
		if (*fd < 0)
			return error_errno(err, "cannot open '/'");
		return 0;
	}
	rc = open_parent(t, path, &dirfd, &name, &missing, err);
	if (rc < 0 || dirfd < 0)
		return rc;
	*fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0) {
		struct stat st;

		if (errno == ENOENT)
			rc = 0;
		else if ((errno == ENOTDIR || errno == ELOOP) &&
			 fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			rc = error_set(err, ERR_CONFLICT, "'%s' is %s, not a directory", path,
				       type_phrase(st.st_mode));
		else
			rc = error_errno(err, "cannot open directory '%s'", path);
	}
	close(dirfd);
	return rc;
}

/*
 * Makes a directory's entries durable (dirfd may be an O_PATH descriptor), now,
 * or at the next host_sync_dirs when the target defers directory syncs.
 */
static int sync_dir(struct host_target *t, int dirfd, const char *path, struct error *err)
{
	int fd, rc = 0;
	char *dir = NULL;

	if (t->defer_dir_sync) {
		const char *slash = strrchr(path, '/');

		dir = xstrndup(path, slash && slash != path ? (size_t)(slash - path) : 1);
		if (map_has(&t->dirty_dirs, dir)) {
			free(dir);
			return 0;
		}
	}
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		free(dir);
		return error_errno(err, "cannot open the directory of '%s' to sync it", path);
	}
	if (dir) {
		map_put(&t->dirty_dirs, dir, (void *)(intptr_t)(fd + 1));
		free(dir);
		return 0;
	}
	if (fsync(fd) < 0)
		rc = error_errno(err, "cannot sync the directory of '%s'", path);
	close(fd);
	return rc;
}

void host_defer_dir_sync(struct host_target *t, bool defer)
{
	t->defer_dir_sync = defer;
}

int host_sync_dirs(struct host_target *t, struct error *err)
{
	const char *dir;
	void *value;
	size_t pos = 0;
	int rc = 0;

	while (map_next(&t->dirty_dirs, &pos, &dir, &value)) {
		int fd = (int)(intptr_t)value - 1;

		if (fsync(fd) < 0 && rc == 0)
			rc = error_errno(err, "cannot sync directory '%s'", dir);
		close(fd);
	}
	map_release(&t->dirty_dirs, NULL);
	return rc;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the names in directory fd (not "." and "..") to names, sorted. */
static int list_names(int fd, const char *path, struct vec *names, struct error *err)
{
	int copy = dup(fd);
	struct dirent *de;
	DIR *dir;

	if (copy < 0)
		return error_errno(err, "cannot list '%s'", path);
	dir = fdopendir(copy);
	if (!dir) {
		close(copy);
		return error_errno(err, "cannot list '%s'", path);
	}
	rewinddir(dir);
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		vec_push(names, xstrdup(de->d_name));
	}
	if (errno) {
		int rc = error_errno(err, "cannot list '%s'", path);

		closedir(dir);
		return rc;
	}
	closedir(dir);
	vec_sort(names, cmp_cstr);
	return 0;
}

/* ---- observe ---- */

static int read_fd(int fd, const char *path, struct buf *out, struct error *err)
{
	char chunk[65536];

	buf_add(out, "", 0);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, "cannot read '%s'", path);
		}
		if (n == 0)
			return 0;
		if (buf_add(out, chunk, (size_t)n) < 0)
			return error_set(err, ERR_TOOBIG, "'%s' is larger than %zu bytes", path,
					 out->max);
	}
}

static int read_link(int dirfd, const char *name, const char *path, struct buf *out,
		     struct error *err)
{
	char target[PATH_MAX + 1];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target));

	if (n < 0)
		return error_errno(err, "cannot read symlink '%s'", path);
	if ((size_t)n >= sizeof(target))
		return error_set(err, ERR_TOOBIG, "symlink '%s' is longer than PATH_MAX", path);
	buf_reset(out);
	buf_add(out, target, (size_t)n);
	return 0;
}

static void fill_live(struct host_live *out, const struct stat *st)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		out->type = LIVE_FILE;
		break;
	case S_IFDIR:
		out->type = LIVE_DIR;
		break;
	case S_IFLNK:
		out->type = LIVE_SYMLINK;
		break;
	default:
		out->type = LIVE_OTHER;
	}
	out->mode = st->st_mode & 07777;
	out->uid = st->st_uid;
	out->gid = st->st_gid;
	out->size = (uint64_t)st->st_size;
	out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	out->ino = st->st_ino;
}

int host_observe(struct host_target *t, const char *path, bool read_content, struct host_live *out,
		 struct error *err)
{
	const char *name;
	struct stat st;
	int dirfd = -1, fd = -1, missing, rc;

	memset(out, 0, sizeof(*out));
	out->type = LIVE_NONE;
	buf_init(&out->content, OBSERVE_MAX);
	rc = open_parent(t, path, &dirfd, &name, &missing, err);
	if (rc < 0 || dirfd < 0)
		goto out;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			rc = error_errno(err, "cannot stat '%s'", path);
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		rc = read_link(dirfd, name, path, &out->content, err);
	} else if (S_ISREG(st.st_mode) && read_content) {
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			rc = error_errno(err, "cannot open '%s'", path);
			goto out;
		}
		/* What was read must describe the bytes read, even if the path changed. */
		if (fstat(fd, &st) < 0) {
			rc = error_errno(err, "cannot stat '%s'", path);
			goto out;
		}
		if (S_ISREG(st.st_mode))
			rc = read_fd(fd, path, &out->content, err);
	}
	if (rc == 0)
		fill_live(out, &st);
out:
	close_fd(&fd);
	close_fd(&dirfd);
	if (rc < 0) {
		buf_release(&out->content);
		out->type = LIVE_NONE;
	}
	return rc;
}

int host_stamp(struct host_target *t, const char *path, bool times, struct buf *out,
	       struct error *err)
{
	const char *name;
	struct stat st;
	int dirfd = -1, missing, rc;

	buf_reset(out);
	rc = open_parent(t, path, &dirfd, &name, &missing, err);
	if (rc < 0)
		return rc;
	if (dirfd < 0 || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (dirfd >= 0 && errno != ENOENT)
			rc = error_errno(err, "cannot stat '%s'", path);
		else
			buf_addstr(out, "none");
		close_fd(&dirfd);
		return rc;
	}
	close_fd(&dirfd);
	if (!times) {
		buf_addf(out, "=%o:%llu:%u:%u:%llu", (unsigned)st.st_mode,
			 (unsigned long long)st.st_ino, st.st_uid, st.st_gid,
			 (unsigned long long)st.st_dev);
		return 0;
	}
	/* ctime cannot be set by hand: any write, chmod, chown or rename moves it */
	buf_addf(out, "%o:%llu:%lld:%lld.%09ld:%lld.%09ld:%u:%u:%llu", (unsigned)st.st_mode,
		 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec, st.st_uid,
		 st.st_gid, (unsigned long long)st.st_dev);
	return 0;
}

void host_live_release(struct host_live *live)
{
	buf_release(&live->content);
}

/* ---- writing ---- */

/* ".plumb-tmp.<name>.XXXXXX", the name cut so that the whole fits NAME_MAX. */
static void temp_name(char out[NAME_MAX + 1], const char *name)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static unsigned counter;
	size_t keep = NAME_MAX - (sizeof(TEMP_PREFIX) - 1) - 1 - TEMP_SUFFIX_LEN;
	size_t len = strlen(name);
	unsigned char random[TEMP_SUFFIX_LEN];
	size_t at;

	if (getrandom(random, sizeof(random), GRND_NONBLOCK) != (ssize_t)sizeof(random)) {
		uint64_t mix = time_monotonic_ms() * 2654435761u + (uint64_t)getpid() + counter++;

		for (size_t i = 0; i < sizeof(random); i++, mix >>= 8)
			random[i] = (unsigned char)mix;
	}
	if (len > keep)
		len = keep;
	memcpy(out, TEMP_PREFIX, sizeof(TEMP_PREFIX) - 1);
	at = sizeof(TEMP_PREFIX) - 1;
	memcpy(out + at, name, len);
	at += len;
	out[at++] = '.';
	for (size_t i = 0; i < TEMP_SUFFIX_LEN; i++)
		out[at++] = alphabet[random[i] % (sizeof(alphabet) - 1)];
	out[at] = '\0';
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The crash-safe write: a new temporary file in the same directory gets owner
 * (uid/gid, (uint32_t)-1 to leave as created) and mode, the bytes, an fsync,
 * then is renamed over name, and the directory is fsynced. On failure the
 * temporary file is removed and name is untouched.
 */
static int write_atomic(struct host_target *t, int dirfd, const char *name, const char *path,
			const char *data, size_t len, uint32_t mode, uint32_t uid, uint32_t gid,
			struct error *err)
{
	char tmp[NAME_MAX + 1];
	int fd = -1, rc = 0;

	for (int attempt = 0; fd < 0; attempt++) {
		temp_name(tmp, name);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && (errno != EEXIST || attempt == TEMP_ATTEMPTS))
			return error_errno(err, "cannot create a temporary file for '%s'", path);
	}
	if ((uid != (uint32_t)-1 || gid != (uint32_t)-1) && fchown(fd, uid, gid) < 0) {
		rc = error_errno(err, "cannot set the owner of '%s'", path);
		goto fail;
	}
	if (fchmod(fd, mode) < 0) {
		rc = error_errno(err, "cannot set the mode of '%s' to %04o", path, mode);
		goto fail;
	}
	if (write_all(fd, data, len) < 0) {
		rc = error_errno(err, "cannot write '%s'", path);
		goto fail;
	}
	if (fsync(fd) < 0) {
		rc = error_errno(err, "cannot sync '%s'", path);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = error_errno(err, "cannot write '%s'", path);
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		rc = error_errno(err, "cannot rename a temporary file over '%s'", path);
		goto fail;
	}
	return sync_dir(t, dirfd, path, err);
fail:
	close_fd(&fd);
	unlinkat(dirfd, tmp, 0);
	return rc;
}

/* Whether the file open at fd holds exactly data (size already compared). */
static int same_content(int fd, const char *path, const char *data, size_t len, bool *same,
			struct error *err)
{
	char chunk[65536];
	size_t at = 0;

	*same = false;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, "cannot read '%s'", path);
		}
		if (n == 0)
			break;
		if ((size_t)n > len - at || memcmp(chunk, data + at, (size_t)n) != 0)
			return 0;
		at += (size_t)n;
	}
	*same = at == len;
	return 0;
}

/*
 * Sets owner and mode on the open file or directory fd (st: what it has now)
 * where want asks for something else. chown clears set-id bits, so the mode is
 * applied again after it.
 */
static int fix_attrs(int fd, const struct stat *st, const struct want *want, const char *path,
		     struct error *err)
{
	uint32_t uid = want->has_uid ? want->uid : st->st_uid;
	uint32_t gid = want->has_gid ? want->gid : st->st_gid;
	uint32_t mode = want->has_mode ? want->mode : st->st_mode & 07777;
	bool chowned = false;

	if (uid != st->st_uid || gid != st->st_gid) {
		if (fchown(fd, uid, gid) < 0)
			return error_errno(err, "cannot set the owner of '%s' to %u:%u", path, uid,
					   gid);
		chowned = true;
	}
	if ((chowned || mode != (st->st_mode & 07777)) && fchmod(fd, mode) < 0)
		return error_errno(err, "cannot set the mode of '%s' to %04o", path, mode);
	return 0;
}

/*
 * Opens the parent of path, which must exist, and stats the last component
 * without following it; *exists says whether anything is there. The caller
 * closes *dirfd, also on failure.
 */
static int open_target(struct host_target *t, const char *path, int *dirfd, const char **name,
		       struct stat *st, bool *exists, struct error *err)
{
	int missing, rc = open_parent(t, path, dirfd, name, &missing, err);

	*exists = false;
	if (rc < 0)
		return rc;
	if (*dirfd < 0)
		return parent_missing(path, missing, err);
	if (fstatat(*dirfd, *name, st, AT_SYMLINK_NOFOLLOW) == 0)
		*exists = true;
	else if (errno != ENOENT)
		return error_errno(err, "cannot stat '%s'", path);
	return 0;
}

static int put_file(struct host_target *t, const char *path, const struct want *want,
		    struct error *err)
{
	const char *name;
	struct stat st;
	int dirfd = -1, fd = -1, rc;
	bool exists;
	uint32_t mode = want->has_mode ? want->mode : 0644;
	uint32_t uid = want->has_uid ? want->uid : (uint32_t)-1;
	uint32_t gid = want->has_gid ? want->gid : (uint32_t)-1;

	rc = open_target(t, path, &dirfd, &name, &st, &exists, err);
	if (rc < 0)
		goto out;
	if (exists && S_ISREG(st.st_mode)) {
		bool same = false;

		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			rc = error_errno(err, "cannot open '%s'", path);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			rc = error_set(err, ERR_CONFLICT, "'%s' changed while being written", path);
			goto out;
		}
		if ((uint64_t)st.st_size == want->len)
			rc = same_content(fd, path, want->data, want->len, &same, err);
		if (rc == 0 && same) {
			/* Same bytes: owner and mode in place, mtime untouched. */
			rc = fix_attrs(fd, &st, want, path, err);
			goto out;
		}
		/* The replacement keeps what the manifest does not set. */
		if (!want->has_mode)
			mode = st.st_mode & 07777;
		if (!want->has_uid)
			uid = st.st_uid;
		if (!want->has_gid)
			gid = st.st_gid;
	} else if (exists && !S_ISLNK(st.st_mode)) {
		/* A symlink at the path is itself replaced; anything else is refused. */
		rc = error_set(err, ERR_CONFLICT,
			       "'%s' is %s; plumb will not replace it with a file", path,
			       type_phrase(st.st_mode));
	}
	if (rc == 0)
		rc = write_atomic(t, dirfd, name, path, want->data, want->len, mode, uid, gid, err);
out:
	close_fd(&fd);
	close_fd(&dirfd);
	return rc;
}

static int put_directory(struct host_target *t, const char *path, const struct want *want,
			 struct error *err)
{
	struct want effective = *want;
	const char *name;
	struct stat st;
	int dirfd = -1, fd = -1, rc;
	bool created = false, exists;

	rc = open_target(t, path, &dirfd, &name, &st, &exists, err);
	if (rc < 0)
		goto out;
	if (!exists) {
		if (!effective.has_mode) {
			effective.has_mode = true;
			effective.mode = 0755;
		}
		if (mkdirat(dirfd, name, effective.mode & 0777) == 0) {
			created = true;
		} else if (errno == EEXIST) {
			effective = *want; /* made by someone else meanwhile */
		} else {
			rc = error_errno(err, "cannot create directory '%s'", path);
			goto out;
		}
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if ((errno == ENOTDIR || errno == ELOOP) &&
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			rc = error_set(err, ERR_CONFLICT,
				       "'%s' is %s; plumb will not replace it with a directory",
				       path, type_phrase(st.st_mode));
		else
			rc = error_errno(err, "cannot open directory '%s'", path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = error_errno(err, "cannot stat '%s'", path);
		goto out;
	}
	/* mkdirat's mode went through the umask: set it exactly. */
	if (created && effective.mode != (st.st_mode & 07777) && fchmod(fd, effective.mode) < 0) {
		rc = error_errno(err, "cannot set the mode of '%s' to %04o", path, effective.mode);
		goto out;
	}
	if (created && fstat(fd, &st) < 0) {
		rc = error_errno(err, "cannot stat '%s'", path);
		goto out;
	}
	rc = fix_attrs(fd, &st, &effective, path, err);
	if (rc == 0 && created)
		rc = sync_dir(t, dirfd, path, err);
out:
	close_fd(&fd);
	close_fd(&dirfd);
	return rc;
}

static int put_symlink(struct host_target *t, const char *path, const char *target,
		       struct error *err)
{
	struct buf current = BUF_INIT;
	char tmp[NAME_MAX + 1];
	const char *name;
	struct stat st;
	int dirfd = -1, rc;
	bool exists;

	rc = open_target(t, path, &dirfd, &name, &st, &exists, err);
	if (rc < 0)
		goto out;
	if (exists && S_ISLNK(st.st_mode)) {
		rc = read_link(dirfd, name, path, &current, err);
		if (rc < 0 || strcmp(current.data, target) == 0)
			goto out;
	} else if (exists && !S_ISREG(st.st_mode)) {
		rc = error_set(err, ERR_CONFLICT,
			       "'%s' is %s; plumb will not replace it with a symlink", path,
			       type_phrase(st.st_mode));
		goto out;
	}
	for (int attempt = 0;; attempt++) {
		temp_name(tmp, name);
		if (symlinkat(target, dirfd, tmp) == 0)
			break;
		if (errno != EEXIST || attempt == TEMP_ATTEMPTS) {
			rc = error_errno(err, "cannot create a temporary symlink for '%s'", path);
			goto out;
		}
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		rc = error_errno(err, "cannot rename a temporary symlink over '%s'", path);
		unlinkat(dirfd, tmp, 0);
		goto out;
	}
	rc = sync_dir(t, dirfd, path, err);
out:
	buf_release(&current);
	close_fd(&dirfd);
	return rc;
}

int host_apply(struct host_target *t, const struct host_resource *r, struct error *err)
{
	struct want want = {
		.data = r->content.data ? r->content.data : "",
		.len = r->content.len,
		.has_mode = r->has_mode,
		.mode = r->mode,
		.has_uid = r->has_uid,
		.uid = r->uid,
		.has_gid = r->has_gid,
		.gid = r->gid,
	};

	switch (r->kind) {
	case HOST_FILE:
		return put_file(t, r->path, &want, err);
	case HOST_DIRECTORY:
		return put_directory(t, r->path, &want, err);
	case HOST_SYMLINK:
		assert(r->target && r->target[0]);
		return put_symlink(t, r->path, r->target, err);
	}
	return error_set(err, ERR_INVALID, "'%s': unknown kind", r->path);
}

/* ---- remove, purge, sweep ---- */

int host_remove(struct host_target *t, const char *path, enum host_kind kind, struct error *err)
{
	static const mode_t types[] = {
		[HOST_FILE] = S_IFREG,
		[HOST_DIRECTORY] = S_IFDIR,
		[HOST_SYMLINK] = S_IFLNK,
	};
	const char *name;
	struct stat st;
	int dirfd = -1, missing, rc;

	rc = open_parent(t, path, &dirfd, &name, &missing, err);
	if (rc < 0 || dirfd < 0)
		goto out;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			rc = error_errno(err, "cannot stat '%s'", path);
		goto out;
	}
	if ((st.st_mode & S_IFMT) != types[kind]) {
		rc = error_set(err, ERR_CONFLICT, "'%s' is now %s, not a %s; kept", path,
			       type_phrase(st.st_mode), host_kind_name(kind));
		goto out;
	}
	if (unlinkat(dirfd, name, kind == HOST_DIRECTORY ? AT_REMOVEDIR : 0) < 0) {
		if (errno == ENOENT)
			goto out;
		if (errno == ENOTEMPTY || errno == EEXIST)
			rc = error_set(err, ERR_CONFLICT, "directory '%s' is not empty; kept",
				       path);
		else
			rc = error_errno(err, "cannot remove '%s'", path);
		goto out;
	}
	rc = sync_dir(t, dirfd, path, err);
out:
	close_fd(&dirfd);
	return rc;
}

/*
 * Removes name (in dirfd; shown as path) and, for a directory, everything in
 * it, depth first, never following a symlink and never crossing into another
 * filesystem (dev).
 */
static int remove_tree(int dirfd, const char *name, const char *path, dev_t dev, struct error *err)
{
	struct vec names = VEC_INIT;
	struct stat st;
	const char *child;
	size_t i;
	int fd = -1, rc = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno(err, "cannot stat '%s'", path);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return error_errno(err, "cannot remove '%s'", path);
		return 0;
	}
	if (st.st_dev != dev)
		return error_set(err, ERR_CONFLICT,
				 "'%s' is a mount point; plumb will not remove across it", path);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "cannot open directory '%s'", path);
	rc = list_names(fd, path, &names, err);
	vec_foreach (&names, i, child) {
		char *child_path;

		if (rc < 0)
			break;
		child_path = xasprintf("%s/%s", path, child);
		rc = remove_tree(fd, child, child_path, dev, err);
		free(child_path);
	}
	close_fd(&fd);
	vec_release(&names, free);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = error_errno(err, "cannot remove directory '%s'", path);
	return rc;
}

/* Whether path is in sorted, or is an ancestor of something in it. */
static bool is_kept(const char *const *sorted, size_t count, const char *path)
{
	size_t len = strlen(path), lo = 0, hi = count;
	char *prefix;

	if (count == 0)
		return false;
	if (bsearch(&path, sorted, count, sizeof(*sorted), cmp_cstr))
		return true;
	/* Descendants sort together, at the first entry not below "path/". */
	prefix = xasprintf("%s/", path);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(sorted[mid], prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	free(prefix);
	return lo < count && strncmp(sorted[lo], path, len) == 0 && sorted[lo][len] == '/';
}

int host_purge(struct host_target *t, const struct host_resource *r, const struct vec *managed,
	       bool dry_run, struct vec *removed, struct error *err)
{
	struct vec names = VEC_INIT, victims = VEC_INIT;
	const char **sorted = NULL;
	const char *name;
	struct stat st;
	size_t i, count = managed ? managed->len : 0;
	int fd = -1, rc;

	assert(r->kind == HOST_DIRECTORY);
	rc = open_dir(t, r->path, &fd, err);
	if (rc < 0 || fd < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		rc = error_errno(err, "cannot stat '%s'", r->path);
		goto out;
	}
	rc = list_names(fd, r->path, &names, err);
	if (rc < 0)
		goto out;
	/* A private sorted copy: what is kept must not depend on the caller's order. */
	if (count) {
		sorted = xmalloc(count * sizeof(*sorted));
		memcpy(sorted, managed->items, count * sizeof(*sorted));
		qsort(sorted, count, sizeof(*sorted), cmp_cstr);
	}
	vec_foreach (&names, i, name) {
		char *path;

		/* Temporary files belong to host_sweep_temp. */
		if (strncmp(name, TEMP_PREFIX, sizeof(TEMP_PREFIX) - 1) == 0)
			continue;
		path = xasprintf("%s/%s", r->path, name);
		if (is_kept(sorted, count, path)) {
			free(path);
			continue;
		}
		vec_push(&victims, path);
		vec_push(removed, xstrdup(path));
	}
	if (dry_run || victims.len == 0)
		goto out;
	vec_foreach (&victims, i, name) {
		rc = remove_tree(fd, strrchr(name, '/') + 1, name, st.st_dev, err);
		if (rc < 0)
			goto out;
	}
	if (fsync(fd) < 0)
		rc = error_errno(err, "cannot sync directory '%s'", r->path);
out:
	close_fd(&fd);
	free(sorted);
	vec_release(&victims, free);
	vec_release(&names, free);
	return rc;
}

int host_sweep_temp(struct host_target *t, const char *dir, unsigned *removed, struct error *err)
{
	struct vec names = VEC_INIT;
	const char *name;
	unsigned count = 0;
	size_t i;
	int fd = -1, rc;

	rc = open_dir(t, dir, &fd, err);
	if (rc < 0 || fd < 0)
		goto out;
	rc = list_names(fd, dir, &names, err);
	if (rc < 0)
		goto out;
	vec_foreach (&names, i, name) {
		struct stat st;

		if (strncmp(name, TEMP_PREFIX, sizeof(TEMP_PREFIX) - 1) != 0)
			continue;
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			rc = error_errno(err, "cannot stat '%s%s%s'", dir,
					 strcmp(dir, "/") == 0 ? "" : "/", name);
			goto out;
		}
		if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
			continue;
		if (unlinkat(fd, name, 0) < 0 && errno != ENOENT) {
			rc = error_errno(err, "cannot remove '%s%s%s'", dir,
					 strcmp(dir, "/") == 0 ? "" : "/", name);
			goto out;
		}
		count++;
	}
	if (count && fsync(fd) < 0)
		rc = error_errno(err, "cannot sync directory '%s'", dir);
out:
	if (removed)
		*removed = count;
	close_fd(&fd);
	vec_release(&names, free);
	return rc;
}

/* ---- restore ---- */

int host_restore(struct host_target *t, const char *path, enum host_live_type type,
		 const struct buf *content, uint32_t mode, uint32_t uid, uint32_t gid,
		 struct error *err)
{
	struct want want = {
		.data = content && content->data ? content->data : "",
		.len = content ? content->len : 0,
		.has_mode = true,
		.mode = mode & 07777,
		.has_uid = true,
		.uid = uid,
		.has_gid = true,
		.gid = gid,
	};
	char *target;
	int rc;

	switch (type) {
	case LIVE_FILE:
		return put_file(t, path, &want, err);
	case LIVE_DIR:
		return put_directory(t, path, &want, err);
	case LIVE_SYMLINK:
		if (want.len == 0 || memchr(want.data, '\0', want.len))
			return error_set(err, ERR_INVALID,
					 "cannot restore symlink '%s': its target is empty or "
					 "holds a NUL byte",
					 path ? path : "");
		target = xstrndup(want.data, want.len);
		rc = put_symlink(t, path, target, err);
		free(target);
		return rc;
	default:
		return error_set(
			err, ERR_INVALID,
			"cannot restore '%s': only a file, a directory or a symlink can be "
			"restored",
			path ? path : "");
	}
}
