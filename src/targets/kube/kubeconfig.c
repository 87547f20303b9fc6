/*
 * kubeconfig — where the Kubernetes target connects and with which credentials:
 * kubeconfig files (the KUBECONFIG list merged as kubectl merges it), exec
 * credential plugins (client.authentication.k8s.io v1 and v1beta1) and the
 * in-cluster service account.
 *
 * Loading reads every file of the list, keeps the first occurrence of each
 * cluster, user and context name and the first current-context, then copies what
 * the chosen context needs into a struct kube_config that owns all its memory.
 * Exec plugins run lazily, from kube_config_refresh, and their credential is
 * kept until its expirationTimestamp (or until a 401 forces a new one).
 */
#include "targets/kube/kube.h"
#include "yaml/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define KUBECONFIG_MAX	    (16u << 20) /* a kubeconfig file */
#define PEM_FILE_MAX	    (1u << 20)	/* a certificate, key or token file */
#define EXEC_STDOUT_MAX	    (1u << 20)	/* an ExecCredential */
#define EXEC_STDERR_MAX	    (16u << 10) /* what a plugin says when it fails */
#define EXEC_TIMEOUT_MS	    30000
#define SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

#define EXEC_API_V1	 "client.authentication.k8s.io/v1"
#define EXEC_API_V1BETA1 "client.authentication.k8s.io/v1beta1"

/*
 * An exec credential plugin of the chosen user, with what is needed to run it
 * again and the expiry of the credential it last gave.
 */
struct kube_exec {
	char *command; /* as written in the kubeconfig, for messages */
	char *path;    /* resolved against the file's directory when it holds a '/',
			* else NULL: looked up in PATH when it runs */
	char **args;   /* NULL-terminated */
	char **env;    /* "NAME=value", NULL-terminated */
	char *api_version;
	char *install_hint; /* or NULL */
	bool provide_cluster_info;
	char *what; /* "user 'admin' in /x/config:12", for messages */
	unsigned timeout_ms;
	bool have_credential;
	time_t expiry; /* 0: the credential did not say; it lasts until a 401 */
};

/* ---- small helpers ---- */

static int reread_token_file(struct kube_config *cfg, struct error *err);

static void strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static void exec_free(struct kube_exec *exec)
{
	if (!exec)
		return;
	free(exec->command);
	free(exec->path);
	strv_free(exec->args);
	strv_free(exec->env);
	free(exec->api_version);
	free(exec->install_hint);
	free(exec->what);
	free(exec);
}

void kube_config_free(struct kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	free(cfg->context);
	free(cfg->server);
	free(cfg->namespace);
	free(cfg->ca_pem);
	free(cfg->tls_server_name);
	free(cfg->cert_pem);
	if (cfg->key_pem)
		explicit_bzero(cfg->key_pem, cfg->key_len);
	free(cfg->key_pem);
	if (cfg->token)
		explicit_bzero(cfg->token, strlen(cfg->token));
	free(cfg->token);
	free(cfg->token_file);
	free(cfg->username);
	if (cfg->password)
		explicit_bzero(cfg->password, strlen(cfg->password));
	free(cfg->password);
	exec_free(cfg->exec);
	free(cfg);
}

/* Replaces *slot with value (owned), wiping the secret it held. */
static void secret_replace(char **slot, size_t *slot_len, char *value, size_t len)
{
	if (*slot)
		explicit_bzero(*slot, slot_len ? *slot_len : strlen(*slot));
	free(*slot);
	*slot = value;
	if (slot_len)
		*slot_len = len;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Drops trailing whitespace (a newline at the end of a token file). */
static void trim_end(struct buf *b)
{
	size_t len = b->len;

	while (len && is_space(b->data[len - 1]))
		len--;
	buf_truncate(b, len);
}

/* The absolute form of path: as is, or joined to the current directory. */
static char *absolute_path(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return xstrdup(path);
	if (strcmp(path, ".") == 0)
		return xstrdup(cwd);
	return xasprintf("%s/%s", cwd, path);
}

/* The absolute directory holding file. */
static char *dir_of(const char *file)
{
	const char *slash = strrchr(file, '/');
	char *dir, *abs;

	if (!slash)
		return absolute_path(".");
	if (slash == file)
		return xstrdup("/");
	dir = xstrndup(file, (size_t)(slash - file));
	abs = absolute_path(dir);
	free(dir);
	return abs;
}

/* path resolved against dir unless it is absolute (caller frees). */
static char *resolve_path(const char *dir, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (*path == '/')
			path++;
	}
	return xasprintf("%s/%s", dir, *path ? path : ".");
}

/* ---- base64 (RFC 4648, standard alphabet; whitespace ignored, padding optional) ---- */

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes in[0..len) into a new NUL-terminated *out of *out_len bytes. Like
 * Go's decoder (what kubectl uses), stray bits in the last character are
 * ignored. On invalid input returns -1 with *bad at the offending character's
 * offset (len when the input ends in the middle of a byte).
 */
static int base64_decode(const char *in, size_t len, char **out, size_t *out_len, size_t *bad)
{
	char *data = xmalloc(len / 4 * 3 + 4);
	size_t n = 0, padding = 0, count = 0;
	uint32_t acc = 0;

	for (size_t i = 0; i < len; i++) {
		int v;

		if (is_space(in[i]))
			continue;
		if (in[i] == '=') {
			/* Padding ends a group of two or three characters. */
			if (count % 4 < 2 || count % 4 + padding >= 4) {
				*bad = i;
				goto fail;
			}
			padding++;
			continue;
		}
		v = base64_value(in[i]);
		if (v < 0 || padding) {
			*bad = i;
			goto fail;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++count % 4 == 0) {
			data[n++] = (char)(acc >> 16);
			data[n++] = (char)(acc >> 8);
			data[n++] = (char)acc;
			acc = 0;
		}
	}
	switch (count % 4) {
	case 0:
		break;
	case 1:
		*bad = len;
		goto fail;
	case 2:
		data[n++] = (char)(acc >> 4);
		break;
	case 3:
		data[n++] = (char)(acc >> 10);
		data[n++] = (char)(acc >> 2);
		break;
	}
	data[n] = '\0';
	*out = data;
	*out_len = n;
	return 0;
fail:
	free(data);
	return -1;
}

static void base64_encode(struct buf *out, const char *data, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)data;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t acc = (uint32_t)p[i] << 16;
		char quad[4];

		if (i + 1 < len)
			acc |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			acc |= p[i + 2];
		quad[0] = alphabet[acc >> 18 & 63];
		quad[1] = alphabet[acc >> 12 & 63];
		quad[2] = i + 1 < len ? alphabet[acc >> 6 & 63] : '=';
		quad[3] = i + 2 < len ? alphabet[acc & 63] : '=';
		buf_add(out, quad, 4);
	}
}

/* ---- RFC 3339 timestamps ---- */

static bool parse_digits(const char **p, int count, int *out)
{
	int value = 0;

	for (int i = 0; i < count; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		value = value * 10 + ((*p)[i] - '0');
	}
	*p += count;
	*out = value;
	return true;
}

/* "2024-05-01T12:00:00Z", "2024-05-01T14:00:00.5+02:00" as seconds since the epoch. */
static bool parse_rfc3339(const char *s, time_t *out)
{
	const char *p = s;
	struct tm tm = {0};
	int year, month, day, hour, minute, second, offset = 0;
	time_t t;

	if (!parse_digits(&p, 4, &year) || *p++ != '-' || !parse_digits(&p, 2, &month) ||
	    *p++ != '-' || !parse_digits(&p, 2, &day) || (*p != 'T' && *p != 't'))
		return false;
	p++;
	if (!parse_digits(&p, 2, &hour) || *p++ != ':' || !parse_digits(&p, 2, &minute) ||
	    *p++ != ':' || !parse_digits(&p, 2, &second))
		return false;
	if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
	    second > 60)
		return false;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, off_hour, off_minute;

		if (!parse_digits(&p, 2, &off_hour) || *p++ != ':' ||
		    !parse_digits(&p, 2, &off_minute) || off_hour > 23 || off_minute > 59)
			return false;
		offset = sign * (off_hour * 3600 + off_minute * 60);
	} else {
		return false;
	}
	if (*p)
		return false;
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = second;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = t - offset;
	return true;
}

/* ---- reading and merging kubeconfig files ---- */

struct kc_file {
	const char *path; /* as given, for messages */
	const char *dir;  /* absolute, for relative paths inside it */
};

/* A named cluster, user or context: the first occurrence across the files. */
struct kc_entry {
	const char *name;
	const struct node *item; /* the list item, for its line */
	const struct node *body; /* its "cluster", "user" or "context" mapping, or NULL */
	const struct kc_file *file;
};

struct kc_section {
	const char *list_key; /* "clusters" */
	const char *body_key; /* "cluster" */
	struct map by_name;   /* name -> struct kc_entry * (arena) */
	struct vec order;     /* struct kc_entry *, in order of appearance */
};

struct kc_merged {
	struct arena arena;
	struct kc_section clusters, users, contexts;
	const char *current_context;
	struct buf source; /* the files read, ':'-separated */
};

static void merged_release(struct kc_merged *m)
{
	struct kc_section *sections[] = {&m->clusters, &m->users, &m->contexts};

	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		map_release(&sections[i]->by_name, NULL);
		vec_release(&sections[i]->order, NULL);
	}
	buf_release(&m->source);
	arena_release(&m->arena);
}

/* "file:line:col" of a node. */
static int node_error(struct error *err, int code, const struct kc_file *f, const struct node *n,
		      const char *fmt, ...) PRINTF_LIKE(5, 6);

static int node_error(struct error *err, int code, const struct kc_file *f, const struct node *n,
		      const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	if (n && n->line)
		buf_addf(&msg, "%s:%u:%u: ", f->path, n->line, n->col);
	else
		buf_addf(&msg, "%s: ", f->path);
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	error_set(err, code, "%s", msg.data);
	buf_release(&msg);
	return code;
}

/*
 * The string under key in map: *out is NULL when the key is absent or null, and
 * an error names the field when it holds something other than a string.
 */
static int get_string(const struct kc_file *f, const struct node *map, const char *key,
		      const char *what, const char **out, struct error *err)
{
	const struct node *n = node_get(map, key);

	*out = NULL;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_STRING)
		return node_error(err, ERR_INVALID, f, n, "'%s' of %s must be a string, not %s",
				  key, what, node_type_name(n->type));
	*out = n->str;
	return 0;
}

static int get_bool(const struct kc_file *f, const struct node *map, const char *key,
		    const char *what, bool *out, struct error *err)
{
	const struct node *n = node_get(map, key);

	*out = false;
	if (!n || n->type == NODE_NULL)
		return 0;
	if (n->type != NODE_BOOL)
		return node_error(err, ERR_INVALID, f, n,
				  "'%s' of %s must be true or false, not %s", key, what,
				  node_type_name(n->type));
	*out = n->as.boolean;
	return 0;
}

/* Adds the entries of one list ("clusters", ...) of a file; earlier names win. */
static int merge_section(struct kc_merged *m, struct kc_section *section, const struct kc_file *f,
			 const struct node *root, struct error *err)
{
	const struct node *list = node_get(root, section->list_key);

	if (!list || list->type == NODE_NULL)
		return 0;
	if (list->type != NODE_SEQ)
		return node_error(err, ERR_INVALID, f, list, "'%s' must be a list, not %s",
				  section->list_key, node_type_name(list->type));
	for (size_t i = 0; i < list->count; i++) {
		const struct node *item = list->items[i];
		const struct node *name = node_get(item, "name");
		const struct node *body = node_get(item, section->body_key);
		struct kc_entry *entry;

		if (item->type != NODE_MAP)
			return node_error(err, ERR_INVALID, f, item,
					  "an entry of '%s' must be a mapping, not %s",
					  section->list_key, node_type_name(item->type));
		if (!name || name->type != NODE_STRING || !name->len)
			return node_error(err, ERR_INVALID, f, name ? name : item,
					  "an entry of '%s' has no name", section->list_key);
		if (body && body->type == NODE_NULL)
			body = NULL;
		if (body && body->type != NODE_MAP)
			return node_error(err, ERR_INVALID, f, body,
					  "'%s' of %s '%s' must be a mapping, not %s",
					  section->body_key, section->body_key, name->str,
					  node_type_name(body->type));
		if (map_has(&section->by_name, name->str))
			continue;
		entry = arena_alloc(&m->arena, sizeof(*entry));
		entry->name = name->str;
		entry->item = item;
		entry->body = body;
		entry->file = f;
		map_put(&section->by_name, name->str, entry);
		vec_push(&section->order, entry);
	}
	return 0;
}

/* Reads and merges one file; a file that does not exist is skipped when allowed. */
static int merge_file(struct kc_merged *m, const char *path, bool missing_ok, struct error *err)
{
	static const struct yaml_opts yaml_opts = {KUBECONFIG_MAX, 0};
	struct buf data = BUF_INIT;
	struct vec docs = VEC_INIT;
	struct kc_file *f;
	const struct node *root;
	const char *current;
	int rc;

	buf_init(&data, KUBECONFIG_MAX);
	rc = buf_read_file(&data, path, err);
	if (rc == ERR_NOTFOUND && missing_ok) {
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		error_prefix(err, "kubeconfig");
		goto out;
	}
	if (m->source.len)
		buf_addch(&m->source, ':');
	buf_addstr(&m->source, path);
	f = arena_alloc(&m->arena, sizeof(*f));
	f->path = arena_strdup(&m->arena, path);
	{
		char *dir = dir_of(path);

		f->dir = arena_strdup(&m->arena, dir);
		free(dir);
	}
	rc = yaml_parse(&m->arena, path, data.data, data.len, &yaml_opts, &docs, err);
	if (rc < 0 || !docs.len)
		goto out;
	root = ((const struct yaml_doc *)docs.items[0])->root;
	if (root->type != NODE_MAP) {
		rc = node_error(err, ERR_INVALID, f, root, "a kubeconfig must be a mapping, not %s",
				node_type_name(root->type));
		goto out;
	}
	rc = merge_section(m, &m->clusters, f, root, err);
	if (!rc)
		rc = merge_section(m, &m->users, f, root, err);
	if (!rc)
		rc = merge_section(m, &m->contexts, f, root, err);
	if (!rc)
		rc = get_string(f, root, "current-context", "the kubeconfig", &current, err);
	if (!rc && current && *current && !m->current_context)
		m->current_context = current;
out:
	vec_release(&docs, NULL);
	buf_release(&data);
	return rc;
}

/* "a, b, c" of the names in a section, or "none". */
static void add_names(struct buf *out, const struct kc_section *section)
{
	if (!section->order.len) {
		buf_addstr(out, "none");
		return;
	}
	for (size_t i = 0; i < section->order.len; i++) {
		const struct kc_entry *entry = section->order.items[i];

		buf_addf(out, "%s%s", i ? ", " : "", entry->name);
	}
}

/* The entry called name, or an error naming what refers to it and listing what exists. */
static int lookup(struct kc_merged *m, struct kc_section *section, const char *name,
		  const char *context, const struct kc_entry **out, struct error *err)
{
	struct buf names = BUF_INIT;
	int rc;

	*out = map_get(&section->by_name, name);
	if (*out)
		return 0;
	add_names(&names, section);
	rc = error_set(err, ERR_NOTFOUND, "%s '%s' of context '%s' is not defined in %s (%ss: %s)",
		       section->body_key, name, context, m->source.data, section->body_key,
		       names.data);
	buf_release(&names);
	return rc;
}

/* ---- the chosen context, copied into a kube_config ---- */

/* "what" for messages: "user 'admin'". */
static char *entry_what(const struct kc_entry *entry, const char *kind)
{
	return xasprintf("%s '%s'", kind, entry->name);
}

/*
 * Bytes from a base64 "*-data" field or else a file field (resolved against the
 * entry's file). Both absent leaves *out NULL.
 */
static int load_bytes(const struct kc_entry *entry, const char *what, const char *data_key,
		      const char *file_key, char **out, size_t *out_len, struct error *err)
{
	const struct kc_file *f = entry->file;
	const struct node *data_node = node_get(entry->body, data_key);
	const char *path;
	size_t bad;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (data_node && data_node->type != NODE_NULL) {
		if (data_node->type != NODE_STRING)
			return node_error(err, ERR_INVALID, f, data_node,
					  "'%s' of %s must be a base64 string, not %s", data_key,
					  what, node_type_name(data_node->type));
		if (base64_decode(data_node->str, data_node->len, out, out_len, &bad) < 0)
			return node_error(err, ERR_INVALID, f, data_node,
					  "'%s' of %s is not valid base64 (%s at character %zu): "
					  "encode the PEM with base64 -w0",
					  data_key, what,
					  bad < data_node->len ? "unexpected character"
							       : "truncated",
					  bad + 1);
		return 0;
	}
	rc = get_string(f, entry->body, file_key, what, &path, err);
	if (rc < 0 || !path || !*path)
		return rc;
	{
		struct buf bytes = BUF_INIT;
		char *full = resolve_path(f->dir, path);

		buf_init(&bytes, PEM_FILE_MAX);
		rc = buf_read_file(&bytes, full, err);
		if (rc < 0) {
			const struct node *n = node_get(entry->body, file_key);

			error_prefix(err, "%s:%u:%u: '%s' of %s", f->path, n->line, n->col,
				     file_key, what);
			buf_release(&bytes);
		} else {
			*out = buf_detach(&bytes, out_len);
		}
		free(full);
	}
	return rc;
}

static int load_cluster(struct kube_config *cfg, const struct kc_entry *entry, struct error *err)
{
	const struct kc_file *f = entry->file;
	char *what = entry_what(entry, "cluster");
	const char *server, *tls_server_name, *proxy;
	int rc;

	if (!entry->body) {
		rc = node_error(err, ERR_INVALID, f, entry->item, "%s has no 'cluster' mapping",
				what);
		goto out;
	}
	rc = get_string(f, entry->body, "server", what, &server, err);
	if (rc < 0)
		goto out;
	if (!server || !*server) {
		rc = node_error(err, ERR_INVALID, f, entry->body,
				"%s has no 'server': set it to the API server's URL", what);
		goto out;
	}
	cfg->server = xstrdup(server);
	rc = get_string(f, entry->body, "tls-server-name", what, &tls_server_name, err);
	if (rc < 0)
		goto out;
	if (tls_server_name && *tls_server_name)
		cfg->tls_server_name = xstrdup(tls_server_name);
	rc = get_bool(f, entry->body, "insecure-skip-tls-verify", what, &cfg->insecure_skip_verify,
		      err);
	if (rc < 0)
		goto out;
	rc = load_bytes(entry, what, "certificate-authority-data", "certificate-authority",
			&cfg->ca_pem, &cfg->ca_len, err);
	if (rc < 0)
		goto out;
	rc = get_string(f, entry->body, "proxy-url", what, &proxy, err);
	if (rc < 0)
		goto out;
	if (proxy && *proxy)
		rc = node_error(err, ERR_UNSUPPORTED, f, node_get(entry->body, "proxy-url"),
				"'proxy-url' of %s is not supported: remove it, or set HTTPS_PROXY "
				"in plumb's environment",
				what);
out:
	free(what);
	return rc;
}

/* The strings of a list field, as a NULL-terminated vector (caller frees). */
static int load_strings(const struct kc_file *f, const struct node *map, const char *key,
			const char *what, char ***out, struct error *err)
{
	const struct node *list = node_get(map, key);
	char **v;

	*out = NULL;
	if (list && list->type != NODE_NULL && list->type != NODE_SEQ)
		return node_error(err, ERR_INVALID, f, list, "'%s' of %s must be a list, not %s",
				  key, what, node_type_name(list->type));
	v = xcalloc((list && list->type == NODE_SEQ ? list->count : 0) + 1, sizeof(*v));
	for (size_t i = 0; list && list->type == NODE_SEQ && i < list->count; i++) {
		const struct node *item = list->items[i];

		if (item->type != NODE_STRING) {
			strv_free(v);
			return node_error(err, ERR_INVALID, f, item,
					  "'%s' of %s must hold strings, not %s", key, what,
					  node_type_name(item->type));
		}
		v[i] = xstrndup(item->str, item->len);
	}
	*out = v;
	return 0;
}

static int load_exec(struct kube_config *cfg, const struct kc_entry *entry, const struct node *node,
		     const char *what, struct error *err)
{
	const struct kc_file *f = entry->file;
	struct kube_exec *exec = xcalloc(1, sizeof(*exec));
	const struct node *env;
	const char *api_version, *command, *mode, *hint;
	int rc;

	if (node->type != NODE_MAP) {
		rc = node_error(err, ERR_INVALID, f, node, "'exec' of %s must be a mapping, not %s",
				what, node_type_name(node->type));
		goto out;
	}
	exec->timeout_ms = EXEC_TIMEOUT_MS;
	exec->what = xasprintf("%s in %s:%u", what, f->path, node->line);
	rc = get_string(f, node, "apiVersion", what, &api_version, err);
	if (rc < 0)
		goto out;
	if (!api_version ||
	    (strcmp(api_version, EXEC_API_V1) != 0 && strcmp(api_version, EXEC_API_V1BETA1) != 0)) {
		rc = node_error(err, ERR_UNSUPPORTED, f,
				api_version ? node_get(node, "apiVersion") : node,
				"the exec plugin of %s has apiVersion '%s': use " EXEC_API_V1
				" or " EXEC_API_V1BETA1,
				what, api_version ? api_version : "");
		goto out;
	}
	exec->api_version = xstrdup(api_version);
	rc = get_string(f, node, "command", what, &command, err);
	if (rc < 0)
		goto out;
	if (!command || !*command) {
		rc = node_error(err, ERR_INVALID, f, node, "the exec plugin of %s has no 'command'",
				what);
		goto out;
	}
	exec->command = xstrdup(command);
	/* As kubectl: a command with a '/' is a path (relative to the file), else a PATH name. */
	if (strchr(command, '/'))
		exec->path = resolve_path(f->dir, command);
	rc = load_strings(f, node, "args", what, &exec->args, err);
	if (rc < 0)
		goto out;
	env = node_get(node, "env");
	if (env && env->type != NODE_NULL && env->type != NODE_SEQ) {
		rc = node_error(err, ERR_INVALID, f, env, "'env' of %s must be a list, not %s",
				what, node_type_name(env->type));
		goto out;
	}
	exec->env = xcalloc((env && env->type == NODE_SEQ ? env->count : 0) + 1, sizeof(char *));
	for (size_t i = 0; env && env->type == NODE_SEQ && i < env->count; i++) {
		const char *name, *value;

		rc = get_string(f, env->items[i], "name", what, &name, err);
		if (!rc)
			rc = get_string(f, env->items[i], "value", what, &value, err);
		if (rc < 0)
			goto out;
		if (env->items[i]->type != NODE_MAP || !name || !*name || strchr(name, '=')) {
			rc = node_error(err, ERR_INVALID, f, env->items[i],
					"an 'env' entry of %s needs a 'name' (without '=') and a "
					"'value'",
					what);
			goto out;
		}
		exec->env[i] = xasprintf("%s=%s", name, value ? value : "");
	}
	rc = get_string(f, node, "interactiveMode", what, &mode, err);
	if (rc < 0)
		goto out;
	if (!mode && strcmp(api_version, EXEC_API_V1) == 0) {
		rc = node_error(err, ERR_INVALID, f, node,
				"the exec plugin of %s needs 'interactiveMode' (Never or "
				"IfAvailable) with apiVersion " EXEC_API_V1,
				what);
		goto out;
	}
	if (mode && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0) {
		rc = node_error(
			err, strcmp(mode, "Always") == 0 ? ERR_UNSUPPORTED : ERR_INVALID, f,
			node_get(node, "interactiveMode"),
			"the exec plugin of %s has interactiveMode '%s': plumb runs plugins "
			"without a terminal, so use Never or IfAvailable",
			what, mode);
		goto out;
	}
	rc = get_bool(f, node, "provideClusterInfo", what, &exec->provide_cluster_info, err);
	if (rc < 0)
		goto out;
	rc = get_string(f, node, "installHint", what, &hint, err);
	if (rc < 0)
		goto out;
	if (hint && *hint)
		exec->install_hint = xstrdup(hint);
	cfg->exec = exec;
	exec = NULL;
out:
	exec_free(exec);
	return rc;
}

static int load_user(struct kube_config *cfg, const struct kc_entry *entry, struct error *err)
{
	static const char *const impersonation[] = {"as", "as-uid", "as-groups", "as-user-extra"};
	const struct kc_file *f = entry->file;
	char *what = entry_what(entry, "user");
	const struct node *provider, *exec;
	const char *token = NULL, *token_file = NULL, *username = NULL, *password = NULL;
	int rc = 0;

	if (!entry->body)
		goto out;
	provider = node_get(entry->body, "auth-provider");
	if (provider && provider->type != NODE_NULL) {
		const char *name = node_string(node_get(provider, "name"));

		rc = node_error(err, ERR_UNSUPPORTED, f, provider,
				"%s uses auth-provider '%s', which plumb does not support: use an "
				"exec credential plugin instead (e.g. kubelogin for OIDC, "
				"gke-gcloud-auth-plugin, kubelogin for Azure)",
				what, name ? name : "?");
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(impersonation); i++) {
		const struct node *n = node_get(entry->body, impersonation[i]);

		if (n && n->type != NODE_NULL) {
			rc = node_error(err, ERR_UNSUPPORTED, f, n,
					"%s asks for impersonation ('%s'), which plumb does not "
					"support: use a user with the wanted permissions",
					what, impersonation[i]);
			goto out;
		}
	}
	rc = load_bytes(entry, what, "client-certificate-data", "client-certificate",
			&cfg->cert_pem, &cfg->cert_len, err);
	if (rc < 0)
		goto out;
	rc = load_bytes(entry, what, "client-key-data", "client-key", &cfg->key_pem, &cfg->key_len,
			err);
	if (rc < 0)
		goto out;
	if (!cfg->cert_pem != !cfg->key_pem) {
		rc = node_error(err, ERR_INVALID, f, entry->body,
				"%s has a client %s but no client %s: set both", what,
				cfg->cert_pem ? "certificate" : "key",
				cfg->cert_pem ? "key" : "certificate");
		goto out;
	}
	rc = get_string(f, entry->body, "token", what, &token, err);
	if (!rc)
		rc = get_string(f, entry->body, "tokenFile", what, &token_file, err);
	if (!rc)
		rc = get_string(f, entry->body, "username", what, &username, err);
	if (!rc)
		rc = get_string(f, entry->body, "password", what, &password, err);
	if (rc < 0)
		goto out;
	if (token_file && *token_file) {
		cfg->token_file = resolve_path(f->dir, token_file);
		/* A token written in the file itself wins, as with kubectl. */
		if (!token || !*token) {
			rc = reread_token_file(cfg, err);
			if (rc < 0) {
				const struct node *n = node_get(entry->body, "tokenFile");

				error_prefix(err, "%s:%u:%u: 'tokenFile' of %s", f->path, n->line,
					     n->col, what);
				goto out;
			}
		}
	}
	if (token && *token)
		cfg->token = xstrdup(token);
	if (username && *username)
		cfg->username = xstrdup(username);
	if (password)
		cfg->password = xstrdup(password);
	exec = node_get(entry->body, "exec");
	if (exec && exec->type != NODE_NULL)
		rc = load_exec(cfg, entry, exec, what, err);
out:
	free(what);
	return rc;
}

/* The KUBECONFIG list to read: opts, $KUBECONFIG, else ~/.kube/config (caller frees). */
static char *config_list(const struct kube_config_opts *opts, struct error *err)
{
	const char *list = opts ? opts->kubeconfig : NULL;
	const char *home;

	if (list && *list)
		return xstrdup(list);
	list = getenv("KUBECONFIG");
	if (list && *list)
		return xstrdup(list);
	home = getenv("HOME");
	if (!home || !*home) {
		error_set(err, ERR_NOTFOUND,
			  "no kubeconfig: KUBECONFIG and HOME are not set; pass --kubeconfig");
		return NULL;
	}
	return xasprintf("%s/.kube/config", home);
}

int kube_config_default(const struct kube_config_opts *opts, struct kube_config **out,
			struct error *err)
{
	const char *env = getenv("KUBECONFIG");
	bool in_cluster = false;

	if (getenv("KUBERNETES_SERVICE_HOST") && !(opts && opts->kubeconfig && *opts->kubeconfig) &&
	    !(env && *env)) {
		char *home_config = config_list(opts, NULL);

		in_cluster = !home_config || access(home_config, F_OK) != 0;
		free(home_config);
	}
	return in_cluster ? kube_config_in_cluster(opts, out, err)
			  : kube_config_load(opts, out, err);
}

int kube_config_load(const struct kube_config_opts *opts, struct kube_config **out,
		     struct error *err)
{
	struct kc_merged m = {.arena = ARENA_INIT};
	struct kube_config *cfg = NULL;
	const struct kc_entry *context, *cluster, *user = NULL;
	const char *context_name, *cluster_name, *user_name, *namespace;
	char *list, *what = NULL;
	size_t files = 0;
	int rc = 0;

	*out = NULL;
	m.clusters = (struct kc_section){"clusters", "cluster", MAP_INIT, VEC_INIT};
	m.users = (struct kc_section){"users", "user", MAP_INIT, VEC_INIT};
	m.contexts = (struct kc_section){"contexts", "context", MAP_INIT, VEC_INIT};
	list = config_list(opts, err);
	if (!list)
		return ERR_NOTFOUND;
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len)
			files++;
		p += len + (end ? 1 : 0);
	}
	/* As kubectl: files of a list that do not exist are skipped; a lone file must exist. */
	for (char *p = list, *end; p; p = end) {
		end = strchr(p, ':');
		if (end)
			*end++ = '\0';
		if (!*p)
			continue;
		rc = merge_file(&m, p, files > 1, err);
		if (rc < 0)
			goto out;
	}
	if (!m.source.len) {
		rc = error_set(err, ERR_NOTFOUND, "no kubeconfig: none of '%s' exists", list);
		goto out;
	}
	context_name = opts && opts->context && *opts->context ? opts->context : m.current_context;
	if (!context_name) {
		struct buf names = BUF_INIT;

		add_names(&names, &m.contexts);
		rc = error_set(
			err, ERR_NOTFOUND,
			"%s sets no current-context: choose one with --context (contexts: %s)",
			m.source.data, names.data);
		buf_release(&names);
		goto out;
	}
	context = map_get(&m.contexts.by_name, context_name);
	if (!context) {
		struct buf names = BUF_INIT;

		add_names(&names, &m.contexts);
		rc = error_set(err, ERR_NOTFOUND, "context '%s' not found in %s (contexts: %s)",
			       context_name, m.source.data, names.data);
		buf_release(&names);
		goto out;
	}
	what = entry_what(context, "context");
	if (!context->body) {
		rc = node_error(err, ERR_INVALID, context->file, context->item,
				"%s has no 'context' mapping", what);
		goto out;
	}
	rc = get_string(context->file, context->body, "cluster", what, &cluster_name, err);
	if (!rc)
		rc = get_string(context->file, context->body, "user", what, &user_name, err);
	if (!rc)
		rc = get_string(context->file, context->body, "namespace", what, &namespace, err);
	if (rc < 0)
		goto out;
	if (!cluster_name || !*cluster_name) {
		rc = node_error(err, ERR_INVALID, context->file, context->body,
				"%s names no cluster: set its 'cluster'", what);
		goto out;
	}
	rc = lookup(&m, &m.clusters, cluster_name, context_name, &cluster, err);
	if (rc < 0)
		goto out;
	if (user_name && *user_name) {
		rc = lookup(&m, &m.users, user_name, context_name, &user, err);
		if (rc < 0)
			goto out;
	}
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->source = xstrdup(m.source.data);
	cfg->context = xstrdup(context_name);
	cfg->namespace = xstrdup(namespace && *namespace ? namespace : "default");
	rc = load_cluster(cfg, cluster, err);
	if (!rc && user)
		rc = load_user(cfg, user, err);
	if (rc < 0)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	kube_config_free(cfg);
	free(what);
	free(list);
	merged_release(&m);
	return rc;
}

/* ---- in-cluster ---- */

/* Reads dir/name into *out, trimmed; a missing file leaves *out NULL when allowed. */
static int read_account_file(const char *dir, const char *name, bool trim, bool missing_ok,
			     char **out, size_t *out_len, struct error *err)
{
	struct buf data = BUF_INIT;
	char *path = xasprintf("%s/%s", dir, name);
	int rc;

	*out = NULL;
	buf_init(&data, PEM_FILE_MAX);
	rc = buf_read_file(&data, path, err);
	if (rc == ERR_NOTFOUND && missing_ok) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (trim)
		trim_end(&data);
	*out = buf_detach(&data, out_len);
out:
	buf_release(&data);
	free(path);
	return rc;
}

int kube_config_in_cluster(const struct kube_config_opts *opts, struct kube_config **out,
			   struct error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir =
		opts && opts->service_account_dir ? opts->service_account_dir : SERVICE_ACCOUNT_DIR;
	struct kube_config *cfg = NULL;
	char *namespace = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if (!host || !*host || !port || !*port)
		return error_set(err, ERR_NOTFOUND,
				 "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and "
				 "KUBERNETES_SERVICE_PORT are not set; use a kubeconfig instead");
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->source = xstrdup("in-cluster");
	cfg->context = xstrdup("");
	/* An IPv6 address goes in brackets (RFC 3986); one already bracketed stays as is. */
	if (strchr(host, ':') && host[0] != '[')
		cfg->server = xasprintf("https://[%s]:%s", host, port);
	else
		cfg->server = xasprintf("https://%s:%s", host, port);
	cfg->token_file = xasprintf("%s/token", dir);
	rc = reread_token_file(cfg, err);
	if (rc < 0) {
		error_prefix(err, "in-cluster config");
		goto out;
	}
	rc = read_account_file(dir, "ca.crt", false, true, &cfg->ca_pem, &cfg->ca_len, err);
	if (!rc)
		rc = read_account_file(dir, "namespace", true, true, &namespace, &len, err);
	if (rc < 0) {
		error_prefix(err, "in-cluster config");
		goto out;
	}
	cfg->namespace = namespace && *namespace ? namespace : xstrdup("default");
	if (cfg->namespace != namespace)
		free(namespace);
	*out = cfg;
	cfg = NULL;
out:
	kube_config_free(cfg);
	return rc;
}

/* ---- exec credential plugins ---- */

/* The program to run: the resolved path, or the command found in PATH (caller frees). */
static int exec_find(const struct kube_exec *exec, char **out, struct error *err)
{
	const char *path_env = getenv("PATH");
	struct stat st;
	int rc;

	*out = NULL;
	if (exec->path) {
		if (stat(exec->path, &st) < 0) {
			rc = error_errno(err, "exec plugin '%s' of %s: cannot run '%s'",
					 exec->command, exec->what, exec->path);
			goto hint;
		}
		if (!S_ISREG(st.st_mode) || access(exec->path, X_OK) < 0) {
			rc = error_set(err, ERR_NOTFOUND,
				       "exec plugin '%s' of %s: '%s' is not an executable file",
				       exec->command, exec->what, exec->path);
			goto hint;
		}
		*out = xstrdup(exec->path);
		return 0;
	}
	if (!path_env || !*path_env)
		path_env = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path_env; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *candidate = len ? xasprintf("%.*s/%s", (int)len, p, exec->command)
				      : xasprintf("./%s", exec->command);

		if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(candidate, X_OK) == 0) {
			*out = candidate;
			return 0;
		}
		free(candidate);
		p += len + (end ? 1 : 0);
	}
	rc = error_set(err, ERR_NOTFOUND, "exec plugin '%s' of %s: not found in PATH (%s)",
		       exec->command, exec->what, path_env);
hint:
	if (exec->install_hint && err) {
		size_t used = strlen(err->msg);

		snprintf(err->msg + used, sizeof(err->msg) - used, "\n%s", exec->install_hint);
	}
	return rc;
}

/* The KUBERNETES_EXEC_INFO the plugin reads. */
static void exec_info(const struct kube_config *cfg, struct buf *out)
{
	const struct kube_exec *exec = cfg->exec;

	buf_addstr(out, "KUBERNETES_EXEC_INFO={\"apiVersion\":");
	buf_add_json_string(out, exec->api_version, strlen(exec->api_version));
	buf_addstr(out, ",\"kind\":\"ExecCredential\",\"spec\":{");
	if (exec->provide_cluster_info) {
		buf_addstr(out, "\"cluster\":{\"server\":");
		buf_add_json_string(out, cfg->server, strlen(cfg->server));
		if (cfg->tls_server_name) {
			buf_addstr(out, ",\"tls-server-name\":");
			buf_add_json_string(out, cfg->tls_server_name,
					    strlen(cfg->tls_server_name));
		}
		if (cfg->insecure_skip_verify)
			buf_addstr(out, ",\"insecure-skip-tls-verify\":true");
		if (cfg->ca_pem) {
			buf_addstr(out, ",\"certificate-authority-data\":\"");
			base64_encode(out, cfg->ca_pem, cfg->ca_len);
			buf_addch(out, '"');
		}
		buf_addstr(out, "},");
	}
	buf_addstr(out, "\"interactive\":false}}");
}

/* The environment of the plugin: plumb's, with the kubeconfig's env and the exec info. */
static char **exec_environment(const struct kube_config *cfg, char *info)
{
	const struct kube_exec *exec = cfg->exec;
	size_t count = 0, extra = 0, n = 0;
	char **envp;

	while (environ && environ[count])
		count++;
	while (exec->env[extra])
		extra++;
	envp = xcalloc(count + extra + 2, sizeof(*envp));
	for (size_t i = 0; i < count; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool replaced = name_len == strlen("KUBERNETES_EXEC_INFO") &&
				memcmp(environ[i], "KUBERNETES_EXEC_INFO", name_len) == 0;

		for (size_t j = 0; j < extra && !replaced; j++)
			replaced = strncmp(exec->env[j], environ[i], name_len) == 0 &&
				   exec->env[j][name_len] == '=';
		if (!replaced)
			envp[n++] = environ[i];
	}
	for (size_t j = 0; j < extra; j++)
		envp[n++] = exec->env[j];
	envp[n++] = info;
	envp[n] = NULL;
	return envp;
}

struct exec_output {
	struct buf out;
	struct buf err;
	int status;
	bool timed_out;
	bool too_big;
};

/*
 * Runs program with argv and envp, stdin from /dev/null, gathering stdout and
 * stderr until it exits or timeout_ms passes (then it is killed).
 */
static int exec_spawn(const char *program, char **argv, char **envp, unsigned timeout_ms,
		      struct exec_output *result, struct error *err)
{
	static const int reset_signals[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
					    SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
	int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t mask;
	uint64_t deadline = time_monotonic_ms() + timeout_ms;
	pid_t pid = -1;
	int rc = 0, spawn_rc;

	if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
		rc = error_errno(err, "cannot create a pipe");
		goto out;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
	posix_spawnattr_init(&attr);
	sigemptyset(&mask);
	posix_spawnattr_setsigmask(&attr, &mask);
	for (size_t i = 0; i < ARRAY_SIZE(reset_signals); i++)
		sigaddset(&mask, reset_signals[i]);
	posix_spawnattr_setsigdefault(&attr, &mask);
	/* Its own process group, so that a timeout kills what it started too. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	spawn_rc = posix_spawn(&pid, program, &actions, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	close(out_pipe[1]);
	close(err_pipe[1]);
	out_pipe[1] = err_pipe[1] = -1;
	if (spawn_rc != 0) {
		errno = spawn_rc;
		pid = -1;
		rc = error_errno(err, "cannot run '%s'", program);
		goto out;
	}
	for (;;) {
		struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
		uint64_t now = time_monotonic_ms();
		uint64_t wait;
		int ready;

		if (out_pipe[0] < 0 && err_pipe[0] < 0) {
			pid_t done = waitpid(pid, &result->status, WNOHANG);

			if (done == pid) {
				pid = -1;
				break;
			}
			if (done < 0 && errno != EINTR) {
				rc = error_errno(err, "cannot wait for '%s'", program);
				pid = -1;
				goto out;
			}
		}
		if (now >= deadline) {
			result->timed_out = true;
			break;
		}
		/* Once both pipes are closed, poll only paces the wait for the exit. */
		wait = deadline - now;
		if (out_pipe[0] < 0 && err_pipe[0] < 0 && wait > 10)
			wait = 10;
		ready = poll(fds, 2, (int)wait);
		if (ready < 0 && errno != EINTR) {
			rc = error_errno(err, "cannot read from '%s'", program);
			goto out;
		}
		for (size_t i = 0; ready > 0 && i < 2; i++) {
			int *fd = i == 0 ? &out_pipe[0] : &err_pipe[0];
			struct buf *into = i == 0 ? &result->out : &result->err;
			char chunk[8192];
			ssize_t n;

			if (*fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(*fd, chunk, sizeof(chunk));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				close(*fd);
				*fd = -1;
				continue;
			}
			if (buf_add(into, chunk, (size_t)n) < 0 && i == 0) {
				result->too_big = true;
				goto out;
			}
		}
	}
out:
	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &result->status, 0) < 0 && errno == EINTR)
			;
	}
	for (size_t i = 0; i < 2; i++) {
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
	}
	return rc;
}

/* Appends ": <stderr>" when the plugin said something. */
static void add_stderr(struct error *err, struct buf *stderr_text)
{
	size_t used;

	if (!err)
		return;
	trim_end(stderr_text);
	if (!stderr_text->len)
		return;
	used = strlen(err->msg);
	snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", stderr_text->data);
}

/* Reads the ExecCredential a plugin printed and sets the credentials from it. */
static int exec_parse(struct kube_config *cfg, const char *text, size_t len, const char *prefix,
		      struct error *err)
{
	struct kube_exec *exec = cfg->exec;
	struct arena arena = ARENA_INIT;
	struct vec docs = VEC_INIT;
	const struct node *root, *status;
	const char *kind, *api_version, *token, *cert, *key, *expiry;
	time_t expires = 0;
	size_t start = 0;
	int rc;

	while (start < len && is_space(text[start]))
		start++;
	if (start == len || text[start] != '{') {
		rc = error_set(err, ERR_INVALID,
			       "%s printed no ExecCredential (a JSON object was expected)", prefix);
		goto out;
	}
	rc = yaml_parse(&arena, "stdout", text, len, NULL, &docs, err);
	if (rc < 0) {
		error_prefix(err, "%s printed an invalid ExecCredential", prefix);
		goto out;
	}
	root = docs.len ? ((const struct yaml_doc *)docs.items[0])->root : NULL;
	kind = node_string(node_get(root, "kind"));
	api_version = node_string(node_get(root, "apiVersion"));
	if (!kind || strcmp(kind, "ExecCredential") != 0) {
		rc = error_set(err, ERR_INVALID, "%s printed kind '%s', not ExecCredential", prefix,
			       kind ? kind : "");
		goto out;
	}
	if (!api_version || strcmp(api_version, exec->api_version) != 0) {
		rc = error_set(
			err, ERR_INVALID,
			"%s printed an ExecCredential of apiVersion '%s', but the kubeconfig "
			"asks for '%s'",
			prefix, api_version ? api_version : "", exec->api_version);
		goto out;
	}
	status = node_get(root, "status");
	token = node_string(node_get(status, "token"));
	cert = node_string(node_get(status, "clientCertificateData"));
	key = node_string(node_get(status, "clientKeyData"));
	expiry = node_string(node_get(status, "expirationTimestamp"));
	if (!status || status->type != NODE_MAP) {
		rc = error_set(err, ERR_INVALID, "%s printed an ExecCredential without a status",
			       prefix);
		goto out;
	}
	if (token && !*token)
		token = NULL;
	if (cert && !*cert)
		cert = NULL;
	if (key && !*key)
		key = NULL;
	if (!cert != !key) {
		rc = error_set(err, ERR_INVALID,
			       "%s printed clientCertificateData and clientKeyData: both or "
			       "neither are needed",
			       prefix);
		goto out;
	}
	if (!token && !cert) {
		rc = error_set(err, ERR_INVALID,
			       "%s printed an ExecCredential with neither a token nor a client "
			       "certificate and key",
			       prefix);
		goto out;
	}
	if (expiry && *expiry && !parse_rfc3339(expiry, &expires)) {
		rc = error_set(err, ERR_INVALID,
			       "%s printed expirationTimestamp '%s', which is not an RFC 3339 time",
			       prefix, expiry);
		goto out;
	}
	if (token)
		secret_replace(&cfg->token, NULL, xstrdup(token), 0);
	if (cert) {
		size_t cert_len = node_get(status, "clientCertificateData")->len;
		size_t key_len = node_get(status, "clientKeyData")->len;

		secret_replace(&cfg->cert_pem, &cfg->cert_len, xstrndup(cert, cert_len), cert_len);
		secret_replace(&cfg->key_pem, &cfg->key_len, xstrndup(key, key_len), key_len);
	}
	exec->have_credential = true;
	exec->expiry = expires;
out:
	vec_release(&docs, NULL);
	arena_release(&arena);
	return rc;
}

static int exec_run(struct kube_config *cfg, struct error *err)
{
	struct kube_exec *exec = cfg->exec;
	struct exec_output result = {.status = 0};
	struct buf info = BUF_INIT;
	char *program = NULL, *prefix = NULL;
	char **argv = NULL, **envp = NULL;
	size_t nargs = 0;
	int rc;

	buf_init(&result.out, EXEC_STDOUT_MAX);
	buf_init(&result.err, EXEC_STDERR_MAX);
	rc = exec_find(exec, &program, err);
	if (rc < 0)
		goto out;
	prefix = xasprintf("exec plugin '%s' of %s", exec->command, exec->what);
	while (exec->args[nargs])
		nargs++;
	argv = xcalloc(nargs + 2, sizeof(*argv));
	/* As kubectl: argv[0] is the resolved path for a command given as a path. */
	argv[0] = exec->path ? exec->path : exec->command;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = exec->args[i];
	exec_info(cfg, &info);
	envp = exec_environment(cfg, info.data);
	rc = exec_spawn(program, argv, envp, exec->timeout_ms, &result, err);
	if (rc < 0) {
		error_prefix(err, "%s", prefix);
		goto out;
	}
	if (result.too_big) {
		rc = error_set(err, ERR_TOOBIG, "%s printed more than %u bytes", prefix,
			       EXEC_STDOUT_MAX);
		goto out;
	}
	if (result.timed_out) {
		rc = error_set(err, ERR_TIMEOUT, "%s did not finish within %u s and was stopped",
			       prefix, exec->timeout_ms / 1000);
		add_stderr(err, &result.err);
		goto out;
	}
	if (WIFEXITED(result.status) && WEXITSTATUS(result.status) != 0) {
		rc = error_set(err, ERR_AUTH, "%s failed with exit status %d", prefix,
			       WEXITSTATUS(result.status));
		add_stderr(err, &result.err);
		goto out;
	}
	if (WIFSIGNALED(result.status)) {
		rc = error_set(err, ERR_AUTH, "%s was killed by signal %d", prefix,
			       WTERMSIG(result.status));
		add_stderr(err, &result.err);
		goto out;
	}
	rc = exec_parse(cfg, result.out.data ? result.out.data : "", result.out.len, prefix, err);
out:
	if (result.out.data)
		explicit_bzero(result.out.data, result.out.len);
	buf_release(&result.out);
	buf_release(&result.err);
	buf_release(&info);
	free(envp);
	free(argv);
	free(program);
	free(prefix);
	return rc;
}

/* Reads token_file into token. */
static int reread_token_file(struct kube_config *cfg, struct error *err)
{
	struct buf data = BUF_INIT;
	int rc;

	buf_init(&data, PEM_FILE_MAX);
	rc = buf_read_file(&data, cfg->token_file, err);
	if (rc < 0)
		goto out;
	trim_end(&data);
	if (!data.len) {
		rc = error_set(err, ERR_AUTH, "token file '%s' is empty", cfg->token_file);
		goto out;
	}
	if (memchr(data.data, '\n', data.len) || memchr(data.data, '\r', data.len) ||
	    memchr(data.data, '\0', data.len)) {
		rc = error_set(err, ERR_INVALID, "token file '%s' holds more than one line",
			       cfg->token_file);
		goto out;
	}
	secret_replace(&cfg->token, NULL, buf_detach(&data, NULL), 0);
out:
	if (data.data)
		explicit_bzero(data.data, data.len);
	buf_release(&data);
	return rc;
}

int kube_config_refresh(struct kube_config *cfg, bool force, struct error *err)
{
	bool refreshed = false;
	int rc;

	if (force && cfg->token_file) {
		rc = reread_token_file(cfg, err);
		if (rc < 0)
			return rc;
		refreshed = true;
	}
	if (cfg->exec) {
		struct kube_exec *exec = cfg->exec;
		bool expired = exec->expiry && time(NULL) >= exec->expiry;

		if (force || !exec->have_credential || expired) {
			rc = exec_run(cfg, err);
			if (rc < 0)
				return rc;
			refreshed = true;
		}
	}
	return refreshed ? 1 : 0;
}
