/*
 * auth_int.h — private to auth/: helpers shared by its files.
 */
#ifndef MOPS_AUTH_INT_H
#define MOPS_AUTH_INT_H

#include "auth/auth.h"

/* Close the write transaction opened by the caller: commit when rc is 0,
 * roll back otherwise. Returns the final code. */
int auth_tx_end(const mops_ctx_t *ctx, int rc, mops_err_t *err);

/* RFC 3339 string for ms, or JSON null when ms is 0 / the column is NULL. */
json_t *auth_time_json(int64_t ms);

/* Insert a user row; *id gets its id. */
int auth_user_insert(const mops_ctx_t *ctx, const char *name, const char *display,
                     const char *email, int is_admin, int64_t *id, mops_err_t *err);

/* Create a token for user_id with scope ("" for the user's full rights);
 * its secret goes to secret (AUTH_TOKEN_LEN+1). */
int auth_token_insert(const mops_ctx_t *ctx, int64_t user_id, const char *name,
                      int64_t expires_at, const char *scope, char *secret, int64_t *id,
                      mops_err_t *err);

/* Remember principal p for the token whose hash is hash, until until_ms,
 * if nothing was flushed since generation gen (auth_cache_generation). */
void auth_cache_put(const char *hash, const auth_principal_t *p, int64_t until_ms, unsigned gen);
unsigned auth_cache_generation(void);

#endif
