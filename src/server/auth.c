/* The API's bearer tokens: generation, hashing, roles and application scopes. */
#include "server/auth.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static const char *const role_names[] = {"none", "viewer", "operator", "admin"};

enum role role_parse(const char *name)
{
	for (size_t i = ROLE_VIEWER; i < ARRAY_SIZE(role_names); i++)
		if (name && strcmp(name, role_names[i]) == 0)
			return (enum role)i;
	return ROLE_NONE;
}

const char *role_name(enum role role)
{
	return role_names[role];
}

char *auth_token_generate(void)
{
	uint8_t bytes[20];
	char hex[2 * sizeof(bytes) + 1];
	size_t got = 0;

	while (got < sizeof(bytes)) {
		ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	hex_encode(bytes, sizeof(bytes), hex);
	return xasprintf("plumb_%s", hex);
}

void auth_token_hash(const char *token, char out[SHA256_HEX_LEN + 1])
{
	uint8_t digest[SHA256_LEN];

	sha256(token, strlen(token), digest);
	hex_encode(digest, SHA256_LEN, out);
}

static bool valid_token_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

static bool valid_globs(const char *apps)
{
	struct str rest = str_from(apps), item;

	if (!*apps)
		return false;
	while (rest.len) {
		str_cut(rest, ',', &item, &rest);
		if (str_trim(item).len == 0)
			return false;
	}
	return true;
}

int auth_token_create(struct store *store, const char *name, enum role role, const char *apps,
		      char **token, struct error *err)
{
	struct store_token t = {0};
	char hash[SHA256_HEX_LEN + 1];
	int rc;

	*token = NULL;
	if (!valid_token_name(name))
		return error_set(err, ERR_INVALID,
				 "token name '%s': use 1 to 63 letters, digits, '-', '_' or '.'",
				 name);
	if (role == ROLE_NONE)
		return error_set(err, ERR_INVALID, "a token's role is viewer, operator or admin");
	if (!valid_globs(apps))
		return error_set(err, ERR_INVALID,
				 "applications '%s': give comma-separated names or globs, or '*'",
				 apps);
	*token = auth_token_generate();
	auth_token_hash(*token, hash);
	t.name = (char *)name;
	t.role = (char *)role_name(role);
	t.apps = (char *)apps;
	t.hash = hash;
	if ((rc = store_token_add(store, &t, err)) < 0)
		FREE_AND_NULL(*token);
	return rc;
}

bool auth_scope_allows(const char *apps, const char *app)
{
	struct str rest = str_from(apps), item;

	while (rest.len) {
		char *glob;
		bool match;

		str_cut(rest, ',', &item, &rest);
		glob = str_dup(str_trim(item));
		match = fnmatch(glob, app, 0) == 0;
		free(glob);
		if (match)
			return true;
	}
	return false;
}

int auth_ensure_admin(struct store *store, const char *data_dir, char **path_out, struct error *err)
{
	struct vec tokens = VEC_INIT;
	char *token = NULL, *path = NULL, *tmp = NULL;
	int rc, fd = -1;

	*path_out = NULL;
	if ((rc = store_token_list(store, &tokens, err)) < 0 || tokens.len)
		goto out;
	path = xasprintf("%s/admin-token", data_dir);
	tmp = xasprintf("%s/.admin-token.tmp", data_dir);
	if ((rc = auth_token_create(store, "admin", ROLE_ADMIN, "*", &token, err)) < 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, token, strlen(token)) != (ssize_t)strlen(token) ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0 || rename(tmp, path) < 0) {
		rc = error_errno(err, "cannot write the admin token to '%s'", path);
		store_token_delete(store, "admin", NULL);
		unlink(tmp);
		goto out;
	}
	*path_out = path;
	path = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(token);
	free(path);
	free(tmp);
	vec_release(&tokens, store_token_free);
	return rc;
}
