/*
 * token.c — API tokens: creation (256 random bits, shown once, stored as a
 * SHA-256 hash), listing, revocation, authentication of a bearer token, and
 * the first-start bootstrap of the administrator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/auth_int.h"
#include "core/crypto.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"

/* last_used_at is refreshed at most this often, so reads stay reads. */
#define LAST_USED_GRANULARITY_MS (60 * 1000)

int auth_tx_end(const mops_ctx_t *ctx, int rc, mops_err_t *err)
{
    if (rc == 0)
        rc = store_commit(ctx->db, err);
    store_rollback(ctx->db);
    return rc;
}

json_t *auth_time_json(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    mops_time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

static void token_hash(const char *secret, char hex[MOPS_SHA256_HEX])
{
    mops_sha256_hex(secret, strlen(secret), hex);
}

int auth_token_insert(const mops_ctx_t *ctx, int64_t user_id, const char *name,
                      int64_t expires_at, const char *scope, char *secret, int64_t *id,
                      mops_err_t *err)
{
    unsigned char raw[32];
    if (mops_random_bytes(raw, sizeof raw) != 0)
        return mops_err_set(err, MOPS_EINTERNAL, "no randomness available for a token");
    memcpy(secret, AUTH_TOKEN_PREFIX, strlen(AUTH_TOKEN_PREFIX));
    mops_hex_encode(raw, sizeof raw, secret + strlen(AUTH_TOKEN_PREFIX));
    char hash[MOPS_SHA256_HEX], prefix[16];
    token_hash(secret, hash);
    snprintf(prefix, sizeof prefix, "%.13s", secret);
    return store_query_int(ctx->db, id, err,
                           "INSERT INTO tokens (user_id, name, hash, prefix, scope, created_by, "
                           "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                           "ittttIiI", user_id, name, hash, prefix, scope,
                           ctx->who ? ctx->who->user_id : (int64_t)0, mops_now_ms(), expires_at);
}

/* ------------------------------------------------------- authentication */

static int load_memberships(store_conn_t *db, auth_principal_t *p, mops_arena_t *arena,
                            mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(db, &s, err,
                         "SELECT m.team_id, t.name, m.role FROM memberships m "
                         "JOIN teams t ON t.id = m.team_id WHERE m.user_id = ? "
                         "ORDER BY m.team_id",
                         "i", p->user_id);
    if (rc != 0)
        return rc;
    size_t cap = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        int64_t team = store_col_int(s, 0);
        unsigned role = 0;
        if (auth_role_parse(store_col_text(s, 2), &role, NULL) != 0)
            continue; /* a role from a newer mops: ignore rather than lock out */
        if (p->nteams && p->teams[p->nteams - 1].team_id == team) {
            p->teams[p->nteams - 1].roles |= role;
            continue;
        }
        if (p->nteams == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            auth_membership_t *n = mops_arena_alloc(arena, ncap * sizeof *n);
            if (cap)
                memcpy(n, p->teams, cap * sizeof *n);
            p->teams = n;
            cap = ncap;
        }
        auth_membership_t *m = &p->teams[p->nteams++];
        m->team_id = team;
        m->team = mops_arena_strdup(arena, store_col_text(s, 1));
        m->roles = role;
    }
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

/* tokens.scope: "" for the user's full rights, or {"infer_only": [...]}. */
static int scope_parse(const char *scope, auth_principal_t *p, mops_arena_t *arena,
                       mops_err_t *err)
{
    if (!*scope)
        return 0;
    json_t *v = json_loads(scope, 0, NULL);
    json_t *names = json_object_get(v, "infer_only");
    if (!json_is_array(names)) {
        json_decref(v);
        return mops_err_set(err, MOPS_EUNAUTH, "this API token has a scope this server does not "
                            "understand");
    }
    p->scoped = 1;
    p->n_infer_only = json_array_size(names);
    p->infer_only = mops_arena_alloc(arena, (p->n_infer_only + 1) * sizeof *p->infer_only);
    for (size_t i = 0; i < p->n_infer_only; i++) {
        const char *name = json_string_value(json_array_get(names, i));
        p->infer_only[i] = mops_arena_strdup(arena, name ? name : "");
    }
    json_decref(v);
    return 0;
}

int auth_authenticate(store_conn_t *db, const char *token, mops_arena_t *arena,
                      auth_principal_t **out, mops_denial_t *denial, mops_err_t *err)
{
    size_t plen = strlen(AUTH_TOKEN_PREFIX);
    if (!token || !*token)
        return mops_err_set(err, MOPS_EUNAUTH,
                            "no API token: send 'Authorization: Bearer <token>'");
    if (strlen(token) != AUTH_TOKEN_LEN || strncmp(token, AUTH_TOKEN_PREFIX, plen) != 0 ||
        !mops_is_hex(token + plen, AUTH_TOKEN_LEN - plen))
        return mops_err_set(err, MOPS_EUNAUTH,
                            "malformed API token: expected 'mops_' and 64 hex digits");
    char hash[MOPS_SHA256_HEX];
    token_hash(token, hash);
    /* Read before the database: a flush after this point keeps what we
     * read out of the cache. */
    unsigned gen = auth_cache_generation();
    store_stmt_t *s;
    int rc = store_query(db, &s, err,
                         "SELECT t.id, t.user_id, t.expires_at, t.revoked_at, t.last_used_at, "
                         "u.name, u.is_admin, u.disabled_at, t.scope FROM tokens t "
                         "JOIN users u ON u.id = t.user_id WHERE t.hash = ?",
                         "t", hash);
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_EUNAUTH, "unknown API token");
    }
    int64_t now = mops_now_ms();
    int64_t expires = store_col_is_null(s, 2) ? 0 : store_col_int(s, 2);
    int64_t last_used = store_col_is_null(s, 4) ? 0 : store_col_int(s, 4);
    auth_principal_t *p = mops_arena_alloc(arena, sizeof *p);
    p->token_id = store_col_int(s, 0);
    p->user_id = store_col_int(s, 1);
    p->user = mops_arena_strdup(arena, store_col_text(s, 5));
    p->is_admin = store_col_int(s, 6) != 0;
    if (!store_col_is_null(s, 3))
        rc = mops_err_set(err, MOPS_EUNAUTH, "this API token was revoked");
    else if (expires && expires <= now) {
        char when[40];
        mops_time_format(expires, when, sizeof when);
        rc = mops_err_set(err, MOPS_EUNAUTH, "this API token expired at %s", when);
    } else if (!store_col_is_null(s, 7))
        rc = mops_err_set(err, MOPS_EUNAUTH, "user %s is disabled", p->user);
    else
        rc = scope_parse(store_col_text(s, 8), p, arena, err);
    store_finalize(s);
    if (rc != 0) {
        if (denial) {
            denial->set = 1;
            denial->actor_id = p->user_id;
            snprintf(denial->actor, sizeof denial->actor, "%s", p->user);
        }
        return rc;
    }
    if ((rc = load_memberships(db, p, arena, err)) != 0)
        return rc;
    if (now - last_used > LAST_USED_GRANULARITY_MS && !store_in_tx(db))
        store_exec(db, NULL, NULL, "UPDATE tokens SET last_used_at = ? WHERE id = ?", "ii", now,
                   p->token_id); /* best effort: a busy database must not refuse the request */
    int64_t until = now + AUTH_CACHE_TTL_MS;
    auth_cache_put(hash, p, expires && expires < until ? expires : until, gen);
    *out = p;
    return 0;
}

/* --------------------------------------------------------------- tokens */

static const mops_json_field_t token_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"user", MOPS_JSON_STRING, 0},
    {"expires_in_days", MOPS_JSON_INT, 0},
    {"expires_at", MOPS_JSON_STRING, 0},
    {"infer_only", MOPS_JSON_STRING_ARRAY, 0},
    {NULL, 0, 0},
};

/* The scope text of a token from spec's infer_only (a non-empty list of
 * distinct deployment names): "" when absent. Heap string. */
static int token_scope(const json_t *spec, char **out, mops_err_t *err)
{
    json_t *names = json_object_get(spec, "infer_only");
    *out = NULL;
    if (!names)
        return 0;
    if (json_array_size(names) == 0 || json_array_size(names) > 64)
        return mops_err_set(err, MOPS_EINVAL, "infer_only must name 1 to 64 deployments, not %zu",
                            json_array_size(names));
    size_t i, j;
    json_t *n, *m;
    json_array_foreach(names, i, n) {
        int rc = mops_name_check("deployment", json_string_value(n), err);
        if (rc != 0)
            return mops_err_wrap(err, "infer_only");
        json_array_foreach(names, j, m) if (j < i && json_equal(n, m)) return mops_err_set(
            err, MOPS_EINVAL, "infer_only names deployment \"%s\" twice", json_string_value(n));
    }
    json_t *scope = json_pack("{s:O}", "infer_only", names);
    *out = mops_json_dump(scope);
    json_decref(scope);
    return 0;
}

/* A token's scope as JSON for its record: the deployments or null. */
static json_t *scope_json(const char *scope)
{
    json_t *v = *scope ? json_loads(scope, 0, NULL) : NULL;
    json_t *names = json_incref(json_object_get(v, "infer_only"));
    json_decref(v);
    return names ? names : json_null();
}

static int token_expiry(const json_t *spec, int64_t *expires_at, mops_err_t *err)
{
    json_t *days = json_object_get(spec, "expires_in_days");
    const char *at = mops_json_str(spec, "expires_at", NULL);
    int64_t now = mops_now_ms();
    *expires_at = 0;
    if (days && at)
        return mops_err_set(err, MOPS_EINVAL, "give expires_in_days or expires_at, not both");
    if (days) {
        json_int_t d = json_integer_value(days);
        if (d < 1 || d > 3650)
            return mops_err_set(err, MOPS_EINVAL,
                                "expires_in_days must be between 1 and 3650, not %lld",
                                (long long)d);
        *expires_at = now + (int64_t)d * 86400000;
    } else if (at) {
        if (mops_time_parse(at, expires_at) != 0)
            return mops_err_set(err, MOPS_EINVAL,
                                "expires_at \"%s\" is not an RFC 3339 time such as "
                                "2027-01-31T00:00:00Z",
                                mops_text_show(at));
        if (*expires_at <= now)
            return mops_err_set(err, MOPS_EINVAL, "expires_at %s is in the past",
                                mops_text_show(at));
    }
    return 0;
}

int auth_token_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", token_fields, err);
    if (rc != 0)
        return rc;
    const char *name = mops_json_str(spec, "name", "");
    const char *user = mops_json_str(spec, "user", ctx->who ? ctx->who->user : NULL);
    int64_t expires_at;
    char *scope = NULL;
    if ((rc = mops_text_check("token name", name, 100, err)) != 0 ||
        (rc = token_expiry(spec, &expires_at, err)) != 0 ||
        (rc = token_scope(spec, &scope, err)) != 0)
        return rc;
    /* The arena owns it from here, so every return below may leave. */
    char *scope_text = mops_arena_strdup(ctx->arena, scope ? scope : "");
    free(scope);
    if (!*name)
        return mops_err_set(err, MOPS_EINVAL, "token name is empty; say what the token is for");
    if (!user)
        return mops_err_set(err, MOPS_EINVAL, "field \"user\" is required");
    int self = ctx->who && !strcmp(user, ctx->who->user);
    if ((rc = auth_require(ctx, self ? AUTH_TOKEN_OWN : AUTH_TOKEN_OTHERS, 0, err)) != 0)
        return rc;
    int64_t user_id, id;
    char secret[AUTH_TOKEN_LEN + 1];
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    if ((rc = auth_user_resolve(ctx, user, &user_id, err)) == 0 &&
        (rc = auth_token_insert(ctx, user_id, name, expires_at, scope_text, secret, &id, err)) ==
            0) {
        char target[120];
        snprintf(target, sizeof target, "token/%lld", (long long)id);
        json_t *detail = json_pack("{s:s, s:s, s:o, s:o}", "user", user, "name", name,
                                   "expires_at", auth_time_json(expires_at), "infer_only",
                                   scope_json(scope_text));
        rc = audit_record(ctx, "token.create", target, 0, detail, err);
        json_decref(detail);
    }
    if ((rc = auth_tx_end(ctx, rc, err)) != 0)
        return rc;
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.13s", secret);
    *out = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:s}", "id", (json_int_t)id, "user",
                     user, "name", name, "prefix", prefix, "expires_at",
                     auth_time_json(expires_at), "infer_only", scope_json(scope_text), "token",
                     secret, "note",
                     "store this token now: mops shows it once and keeps only its hash");
    memset(secret, 0, sizeof secret);
    return 0;
}

int auth_token_list(const mops_ctx_t *ctx, const char *user, json_t **out, mops_err_t *err)
{
    const char *whose = user ? user : (ctx->who ? ctx->who->user : NULL);
    if (!whose)
        return mops_err_set(err, MOPS_EINVAL, "say whose tokens to list");
    int self = ctx->who && !strcmp(whose, ctx->who->user);
    int rc = auth_require(ctx, self ? AUTH_TOKEN_OWN : AUTH_TOKEN_OTHERS, 0, err);
    if (rc != 0)
        return rc;
    /* Not auth_user_resolve: a disabled user's tokens must stay visible, as
     * they are what one checks after disabling someone. */
    int64_t uid;
    if ((rc = store_query_int(ctx->db, &uid, err, "SELECT id FROM users WHERE name = ?", "t",
                              whose)) != 0) {
        if (rc != MOPS_ENOTFOUND)
            return rc;
        char shown[100];
        mops_text_escape(whose, shown, sizeof shown);
        return mops_err_set(err, MOPS_ENOTFOUND, "no user named \"%s\"", shown);
    }
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT id, name, prefix, created_at, expires_at, revoked_at, "
                          "last_used_at, scope FROM tokens WHERE user_id = ? ORDER BY id",
                          "i", uid)) != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        int64_t exp = store_col_is_null(s, 4) ? 0 : store_col_int(s, 4);
        int64_t rev = store_col_is_null(s, 5) ? 0 : store_col_int(s, 5);
        const char *state = rev ? "revoked" : exp && exp <= mops_now_ms() ? "expired" : "active";
        json_array_append_new(
            items,
            json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:o}", "id",
                      (json_int_t)store_col_int(s, 0), "user", whose, "name",
                      store_col_text(s, 1), "prefix", store_col_text(s, 2), "created_at",
                      auth_time_json(store_col_int(s, 3)), "expires_at", auth_time_json(exp),
                      "revoked_at", auth_time_json(rev), "last_used_at",
                      auth_time_json(store_col_is_null(s, 6) ? 0 : store_col_int(s, 6)), "state",
                      state, "infer_only", scope_json(store_col_text(s, 7))));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int auth_token_revoke(const mops_ctx_t *ctx, int64_t id, mops_err_t *err)
{
    int rc = store_begin(ctx->db, err);
    if (rc != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT t.user_id, u.name, t.revoked_at FROM tokens t "
                          "JOIN users u ON u.id = t.user_id WHERE t.id = ?",
                          "i", id)) != 0)
        return auth_tx_end(ctx, rc, err);
    rc = store_step(s, err);
    int64_t owner = rc == STORE_ROW ? store_col_int(s, 0) : 0;
    int revoked = rc == STORE_ROW && !store_col_is_null(s, 2);
    char user[MOPS_NAME_MAX + 1] = "";
    if (rc == STORE_ROW)
        snprintf(user, sizeof user, "%s", store_col_text(s, 1));
    store_finalize(s);
    if (rc < 0)
        return auth_tx_end(ctx, rc, err);
    int self = ctx->who && owner == ctx->who->user_id;
    /* Someone else's token is invisible unless one may manage others', but
     * the attempt is audited as the refusal it is. */
    if (rc == STORE_ROW && !self && !auth_can(ctx->who, AUTH_TOKEN_OTHERS, 0))
        mops_ctx_deny(ctx, 0);
    if (rc != STORE_ROW || (!self && !auth_can(ctx->who, AUTH_TOKEN_OTHERS, 0)))
        return auth_tx_end(ctx, mops_err_set(err, MOPS_ENOTFOUND, "no token with id %lld",
                                             (long long)id),
                           err);
    if (revoked)
        return auth_tx_end(ctx, 0, err); /* idempotent */
    char target[64];
    snprintf(target, sizeof target, "token/%lld", (long long)id);
    json_t *detail = json_pack("{s:s}", "user", user);
    rc = store_exec(ctx->db, NULL, err, "UPDATE tokens SET revoked_at = ? WHERE id = ?", "ii",
                    mops_now_ms(), id);
    if (rc == 0)
        rc = audit_record(ctx, "token.revoke", target, 0, detail, err);
    json_decref(detail);
    rc = auth_tx_end(ctx, rc, err);
    if (rc == 0)
        auth_cache_flush(); /* after the commit: a re-read now sees the revocation */
    return rc;
}

/* ------------------------------------------------------------- bootstrap */

int auth_bootstrap(const mops_ctx_t *ctx, const char *token_file, char *token_out, int *created,
                   mops_err_t *err)
{
    *created = 0;
    int rc = store_begin(ctx->db, err);
    if (rc != 0)
        return rc;
    int64_t users = 0, id, tid;
    if ((rc = store_query_int(ctx->db, &users, err, "SELECT count(*) FROM users", NULL)) != 0 ||
        users > 0)
        return auth_tx_end(ctx, rc, err);
    char secret[AUTH_TOKEN_LEN + 1];
    if ((rc = auth_user_insert(ctx, "admin", "Administrator", "", 1, &id, err)) == 0 &&
        (rc = auth_token_insert(ctx, id, "bootstrap", 0, "", secret, &tid, err)) == 0 &&
        (rc = audit_record(ctx, "user.create", "user/admin", 0, NULL, err)) == 0) {
        char line[AUTH_TOKEN_LEN + 2];
        snprintf(line, sizeof line, "%s\n", secret);
        rc = mops_write_file_atomic(token_file, line, strlen(line), 0600, err);
    }
    if ((rc = auth_tx_end(ctx, rc, err)) != 0)
        return rc;
    memcpy(token_out, secret, sizeof secret);
    memset(secret, 0, sizeof secret);
    *created = 1;
    return 0;
}
