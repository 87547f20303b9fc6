/*
 * auth — the API's bearer tokens: making them, keeping only their hashes, and
 * deciding what a token's role and application globs allow.
 */
#ifndef PLUMB_AUTH_H
#define PLUMB_AUTH_H

#include "core/core.h"
#include "store/store.h"

enum role { ROLE_NONE, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN };

/* "viewer", "operator", "admin" -> role; ROLE_NONE otherwise. */
enum role role_parse(const char *name);
const char *role_name(enum role role);

/* A new random token ("plumb_" and 40 hex digits). Caller frees. */
char *auth_token_generate(void);
/* The hex SHA-256 under which a token is stored. */
void auth_token_hash(const char *token, char out[SHA256_HEX_LEN + 1]);

/*
 * Creates a token in the store and returns its secret text in *token (shown
 * once; caller frees). apps: comma-separated name globs ("*" for all).
 * ERR_INVALID for a bad name, role or glob list; ERR_CONFLICT if the name is taken.
 */
int auth_token_create(struct store *store, const char *name, enum role role, const char *apps,
		      char **token, struct error *err);

/* Does a token with these application globs cover app? */
bool auth_scope_allows(const char *apps, const char *app);

/*
 * On a store without tokens, creates one admin token named "admin" and writes
 * it to <data_dir>/admin-token (mode 0600); *path_out (caller frees) names the
 * file then, else stays NULL.
 */
int auth_ensure_admin(struct store *store, const char *data_dir, char **path_out,
		      struct error *err);

#endif
