/*
 * host — the Linux host target: Files, Directories and Symlinks under a root.
 *
 * Every path is absolute as seen inside the root ("/etc/motd" is
 * <root>/etc/motd) and is reached with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) from the root's file descriptor, or, where the kernel
 * lacks openat2, by a walk that refuses every symlink. Nothing is ever created,
 * changed or removed outside the root: not through "..", not through an
 * absolute path, not through a symlink planted in the root.
 *
 * Writes are atomic and durable: a temporary file (".plumb-tmp.<name>.XXXXXX")
 * in the same directory gets mode and owner, is written and fsynced, renamed
 * over the target, and the directory is fsynced. A crash leaves the old file or
 * the new one, never a torn one; host_sweep_temp removes leftovers.
 */
#ifndef PLUMB_HOST_H
#define PLUMB_HOST_H

#include "core/core.h"
#include "render/render.h"

#define HOST_API_VERSION "host.plumb.dev/v1"

enum host_kind { HOST_FILE, HOST_DIRECTORY, HOST_SYMLINK };

/* A desired host resource, parsed and checked from an object of the set. */
struct host_resource {
	enum host_kind kind;
	const struct obj *obj; /* borrowed; where it came from (file:line) */
	char *path;	       /* normalised, absolute inside the root */
	struct buf content;    /* File: the bytes, from spec.content or spec.source */
	char *target;	       /* Symlink: spec.target, verbatim */
	bool has_mode;
	uint32_t mode; /* permission bits (07777) */
	bool has_uid;
	uint32_t uid;
	bool has_gid;
	uint32_t gid;
	bool purge; /* Directory */
};

/*
 * Parses obj (apiVersion host.plumb.dev/v1; kind File, Directory or Symlink)
 * into *out. `tree` gives the files that spec.source names, relative to the
 * manifest's directory (never outside the tree). Errors (ERR_INVALID,
 * ERR_NOTFOUND) read "file:line:col: File/name: what is wrong": an unknown
 * kind or field, a path that is relative, holds "." or "..", or is "/", a bad
 * mode, an unknown user or group, both or neither of content and source, a
 * missing source file.
 */
int host_resource_parse(const struct obj *obj, struct tree *tree, struct host_resource **out,
			struct error *err);
void host_resource_free(struct host_resource *r);
const char *host_kind_name(enum host_kind kind);

/*
 * Checks a path the way resources hold them: absolute, normalised (no "//", no
 * "." or ".." component, no trailing '/'), not "/" itself, no NUL byte, shorter
 * than PATH_MAX, no component longer than NAME_MAX. Returns NULL if it is
 * fine, else a static phrase that reads after the path in a message ("must be
 * absolute", "must not contain '..'").
 */
const char *host_path_problem(const char *path, size_t len);

enum host_live_type { LIVE_NONE, LIVE_FILE, LIVE_DIR, LIVE_SYMLINK, LIVE_OTHER };

/* What is at a path now. */
struct host_live {
	enum host_live_type type;
	uint32_t mode; /* permission bits */
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t ino;
	struct buf content; /* file content when asked for, or the symlink's target */
};

struct host_target;

/* Opens the root (which must be an existing directory). */
int host_target_open(struct host_target **out, const char *root, struct error *err);
void host_target_free(struct host_target *t);
const char *host_target_root(const struct host_target *t);

/*
 * Observes path. With read_content, a regular file's bytes are read (up to
 * 1 GiB). A path that passes through a symlink leaving the root is ERR_INVALID
 * ("'/x/y': passes through a symlink that leaves the root"); a missing parent
 * is not an error (type LIVE_NONE).
 */
int host_observe(struct host_target *t, const char *path, bool read_content, struct host_live *out,
		 struct error *err);
void host_live_release(struct host_live *live);

/*
 * A short text that changes whenever what is at path changes: type and mode,
 * inode, owner and device, and with `times` size, mtime and ctime ("none" if
 * nothing is there). Equal stamps mean the path was not touched; reading no
 * content, it costs one stat. Without times a stamp starts with '=': for
 * directories whose entries do not matter (their times move with every write
 * inside them).
 */
int host_stamp(struct host_target *t, const char *path, bool times, struct buf *out,
	       struct error *err);

/*
 * Makes path match r: File (atomic write, then mode/owner), Directory (mkdir,
 * then mode/owner; the parent must exist), Symlink (a temporary link renamed
 * over the path). Refuses (ERR_CONFLICT) to replace a directory by a file or a
 * link, or a file or link by a directory.
 */
int host_apply(struct host_target *t, const struct host_resource *r, struct error *err);

/*
 * Removes the entry at path if it is of the kind given; a Directory only when
 * empty (ERR_CONFLICT otherwise: it is kept). A path already gone is success.
 */
int host_remove(struct host_target *t, const char *path, enum host_kind kind, struct error *err);

/*
 * Directory purge: appends (as char *, absolute inside the root) every entry
 * of directory r->path that is neither in `managed` (sorted char * paths) nor
 * an ancestor of one, and unless dry_run removes it (recursively).
 */
int host_purge(struct host_target *t, const struct host_resource *r, const struct vec *managed,
	       bool dry_run, struct vec *removed, struct error *err);

/*
 * With defer set, the directory fsync that makes each write durable is put off
 * until host_sync_dirs, once per directory: for many writes in a few
 * directories. Each file's own fsync still happens before its rename, so every
 * path holds the old or the new content at any instant.
 */
void host_defer_dir_sync(struct host_target *t, bool defer);
/* Fsyncs every directory written since deferral began (host_target_free does too). */
int host_sync_dirs(struct host_target *t, struct error *err);

/* Removes stale ".plumb-tmp.*" files left in directory dir by a crash. */
int host_sweep_temp(struct host_target *t, const char *dir, unsigned *removed, struct error *err);

/*
 * Puts back what was at a path before plumb took it over: a file's content
 * (atomically), mode and owner; a directory's mode and owner; a symlink.
 */
int host_restore(struct host_target *t, const char *path, enum host_live_type type,
		 const struct buf *content, uint32_t mode, uint32_t uid, uint32_t gid,
		 struct error *err);

#endif
