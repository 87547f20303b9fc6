/*
 * core — the libc-only foundation every other subsystem builds on: allocation,
 * buffers with a size cap, string slices, vectors, string-keyed hash maps, errors
 * with codes and context, logging and SHA-256.
 *
 * Ownership: a function whose result comes through `**out` or whose name ends in
 * `_detach` hands ownership to the caller; plain pointer returns are borrowed.
 */
#ifndef PLUMB_CORE_H
#define PLUMB_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FREE_AND_NULL(p)    \
	do {                \
		free(p);    \
		(p) = NULL; \
	} while (0)

#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#define NORETURN	       __attribute__((noreturn))

/* ---- allocation: out of memory aborts with a message, never returns NULL ---- */

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);
/* A newly allocated, formatted string. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
NORETURN void die(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* ---- errors ---- */

enum err_code {
	ERR_OK = 0,
	ERR_INVALID = -1,     /* bad input: YAML, manifest, flag, URL */
	ERR_NOTFOUND = -2,    /* file, ref, path, object that does not exist */
	ERR_CONFLICT = -3,    /* duplicate identity, concurrent change */
	ERR_AUTH = -4,	      /* authentication or authorisation failed */
	ERR_TIMEOUT = -5,     /* a deadline passed */
	ERR_IO = -6,	      /* the operating system refused (errno is set) */
	ERR_NETWORK = -7,     /* a remote could not be reached */
	ERR_UNSUPPORTED = -8, /* valid but not handled (yet) */
	ERR_TOOBIG = -9,      /* a size cap was reached */
	ERR_INTERNAL = -10,   /* a library failed in a way we cannot classify */
	ERR_CANCELED = -11,   /* stopped on request (a signal) */
};

#define ERROR_MSG_MAX 8192

/*
 * An error travelling up the call stack: a code, the errno that caused it (0 if
 * none) and a message that gains context on the way ("render: a.yaml:3: ...").
 * Functions take it as an optional last parameter; NULL means "don't tell me".
 */
struct error {
	int code;
	int sys_errno;
	char msg[ERROR_MSG_MAX];
};

/* clang-format off */
#define ERROR_INIT {0, 0, {0}}
/* clang-format on */

void error_clear(struct error *err);
/* Sets code and message; returns code so that `return error_set(...)` reads well. */
int error_set(struct error *err, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* As error_set, and appends ": strerror(errno)"; records errno. Code is ERR_IO
 * unless errno is ENOENT (ERR_NOTFOUND) or EACCES/EPERM (ERR_AUTH). */
int error_errno(struct error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Prepends "context: " to the message; returns the code. */
int error_prefix(struct error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* A short stable name for a code: "invalid", "not found", ... */
const char *error_code_name(int code);

/* ---- buffers ---- */

/*
 * A growable byte buffer, always NUL-terminated after `len` bytes. `max` caps
 * its length (0 means no cap): appends past it fail with ERR_TOOBIG and leave
 * the buffer unchanged. Anything read from outside gets a cap.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* clang-format off */
#define BUF_INIT {NULL, 0, 0, 0}
/* clang-format on */

void buf_init(struct buf *b, size_t max);
/* Frees the contents; the buffer is empty and reusable afterwards. */
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
/* Hands the NUL-terminated contents to the caller (never NULL); the buffer is empty. */
char *buf_detach(struct buf *b, size_t *len_out);
int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
void buf_truncate(struct buf *b, size_t len);
/* Reads a whole file, failing with ERR_TOOBIG past the buffer's cap. */
int buf_read_file(struct buf *b, const char *path, struct error *err);
/* Appends s as a JSON string literal, quotes included. */
int buf_add_json_string(struct buf *b, const char *s, size_t len);

/*
 * Problems gathered over a whole input, so that one run reports every broken
 * file or object instead of the first: up to `max` messages (0: 20), then a count.
 */
struct error_list {
	struct buf text;
	unsigned count;
	unsigned max;
	int first_code;
};

void error_list_add(struct error_list *list, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* If anything was added, moves it into err (one line a problem) and returns the
 * first problem's code; else returns 0. The list is empty afterwards. */
int error_list_finish(struct error_list *list, struct error *err);

/* The value of a hexadecimal digit, -1 if c is not one. */
int hex_digit_value(char c);

/* ---- string slices (borrowed, not NUL-terminated) ---- */

struct str {
	const char *ptr;
	size_t len;
};

#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})

struct str str_from(const char *s);
struct str str_make(const char *ptr, size_t len);
bool str_eq(struct str a, struct str b);
bool str_eq_cstr(struct str a, const char *b);
/* Equal ignoring ASCII case. */
bool str_eq_nocase(struct str a, struct str b);
bool str_has_prefix(struct str s, const char *prefix);
bool str_has_suffix(struct str s, const char *suffix);
struct str str_trim(struct str s);
/* Splits at the first `sep`: head before it, *rest after it; false if absent
 * (then head is the whole string and rest is empty). */
bool str_cut(struct str s, char sep, struct str *head, struct str *rest);
char *str_dup(struct str s);
int str_cmp(struct str a, struct str b);
/* Levenshtein distance, for "did you mean" suggestions. */
size_t str_distance(const char *a, const char *b);

/* ---- vectors of pointers ---- */

struct vec {
	void **items;
	size_t len;
	size_t cap;
};

/* clang-format off */
#define VEC_INIT {NULL, 0, 0}
/* clang-format on */
#define vec_foreach(v, i, item) \
	for ((i) = 0; (i) < (v)->len && (((item) = (v)->items[(i)]), 1); (i)++)

void vec_push(struct vec *v, void *item);
void *vec_pop(struct vec *v);
void *vec_get(const struct vec *v, size_t i);
void vec_sort(struct vec *v, int (*cmp)(const void *a, const void *b));
/* Frees the array, and each item with free_item if it is not NULL. */
void vec_release(struct vec *v, void (*free_item)(void *));

/* ---- hash map: NUL-terminated string keys (copied) to borrowed void * values ---- */

struct map_entry {
	char *key;
	void *value;
	uint64_t hash;
};

struct map {
	struct map_entry *slots;
	size_t cap;
	size_t len;
	size_t tombstones;
};

/* clang-format off */
#define MAP_INIT {NULL, 0, 0, 0}
/* clang-format on */

void *map_get(const struct map *m, const char *key);
bool map_has(const struct map *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *map_put(struct map *m, const char *key, void *value);
/* Removes a key; returns its value or NULL. */
void *map_del(struct map *m, const char *key);
/* Iterates in no particular order: `*pos` starts at 0; false when done. */
bool map_next(const struct map *m, size_t *pos, const char **key, void **value);
void map_release(struct map *m, void (*free_value)(void *));
uint64_t hash_bytes(const void *data, size_t len);

/* ---- logging: to stderr, as text or one JSON object a line ---- */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

/* A key=value pair attached to a log line; an array ends with {NULL, NULL}. */
struct log_field {
	const char *key;
	const char *value;
};

void log_setup(enum log_level level, enum log_format format);
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);
bool log_enabled(enum log_level level);
void log_fields(enum log_level level, const struct log_field *fields, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
#define log_debug(...) log_fields(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)  log_fields(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  log_fields(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_fields(LOG_ERROR, NULL, __VA_ARGS__)

/* ---- SHA-256 (OpenSSL libcrypto) ---- */

#define SHA256_LEN     32
#define SHA256_HEX_LEN 64

struct sha256_ctx {
	void *md; /* EVP_MD_CTX */
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_LEN]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
/* Writes 64 lower-case hex digits and a NUL into out. */
void hex_encode(const uint8_t *bytes, size_t len, char *out);

/* ---- arenas: many small allocations freed in one call ---- */

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t total; /* bytes handed out, for statistics */
};

/* clang-format off */
#define ARENA_INIT {NULL, 0}
/* clang-format on */

/* Memory aligned for any type, zero-filled, valid until arena_release. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
void arena_release(struct arena *a);

/* ---- trees: a read-only view of files, from a directory or a Git commit ---- */

enum tree_type { TREE_NONE, TREE_FILE, TREE_DIR };

struct tree_entry {
	char *name;
	enum tree_type type;
};

struct tree;

struct tree_ops {
	/* Reads the file at path (relative, '/'-separated, already normalised) into out. */
	int (*read)(struct tree *t, const char *path, struct buf *out, struct error *err);
	/* Appends the entries of directory path ("" is the root) to out as
	 * struct tree_entry *, caller frees with tree_entries_release. */
	int (*list)(struct tree *t, const char *path, struct vec *out, struct error *err);
	/* Sets *out to the type at path, TREE_NONE when nothing is there. */
	int (*stat)(struct tree *t, const char *path, enum tree_type *out, struct error *err);
	void (*free)(struct tree *t);
};

/*
 * A tree names itself in messages by `label` (a directory, or "URL@commit").
 * Paths never leave the tree: tree_path_normalize rejects ".." past the top.
 */
struct tree {
	const struct tree_ops *ops;
	char *label;
	void *impl;
};

/* A tree over a local directory; symlinks are followed only while they stay inside it. */
int tree_open_dir(struct tree **out, const char *dir, struct error *err);
int tree_read(struct tree *t, const char *path, struct buf *out, struct error *err);
/* Lists a directory sorted by name (byte order). */
int tree_list(struct tree *t, const char *path, struct vec *out, struct error *err);
int tree_stat(struct tree *t, const char *path, enum tree_type *out, struct error *err);
void tree_free(struct tree *t);
void tree_entries_release(struct vec *entries);
/*
 * Joins dir and rel (rel may hold "." and ".."), collapsing separators; an
 * absolute rel or one that climbs above the tree's top fails with ERR_INVALID.
 * The result has no leading or trailing '/', and "" is the top.
 */
int tree_path_join(const char *dir, const char *rel, char **out, struct error *err);

/* ---- time ---- */

/* Monotonic milliseconds, for durations. */
uint64_t time_monotonic_ms(void);

/* ---- metrics: counters, gauges and histograms with labels, in the Prometheus
 * text exposition format (0.0.4). Thread-safe. ---- */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric; /* one family: a name, its help, its label names, its series */

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * Registers a family (the registry owns it). label_names is a NULL-terminated
 * list (NULL for none). For histograms, buckets holds nbuckets upper bounds in
 * increasing order (+Inf is added); other types pass NULL, 0. Names and labels
 * must be valid Prometheus names (the caller's constants).
 */
struct metric *metrics_family(struct metrics *m, const char *name, const char *help,
			      enum metric_type type, const char *const *label_names,
			      const double *buckets, size_t nbuckets);

/* label_values has one value per label name, in order (NULL when the family has none). */
void metric_add(struct metric *f, const char *const *label_values, double delta);
void metric_set(struct metric *f, const char *const *label_values, double value);
void metric_observe(struct metric *f, const char *const *label_values, double value);
/* Drops one series (an application that was removed). */
void metric_remove(struct metric *f, const char *const *label_values);

/*
 * Appends every family (# HELP, # TYPE, then its series in a stable order:
 * by label values) to out. Label values are escaped (\\, \", \n); numbers are
 * written so that Prometheus reads them back exactly (integers without a
 * fraction, +Inf/-Inf/NaN spelled as Prometheus does).
 */
int metrics_write(struct metrics *m, struct buf *out);

#endif
