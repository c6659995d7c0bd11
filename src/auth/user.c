/*
 * user.c — users: creation, listing, update (disable, global admin), and
 * name resolution for the other modules.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/auth_int.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"

int auth_user_insert(const mops_ctx_t *ctx, const char *name, const char *display,
                     const char *email, int is_admin, int64_t *id, mops_err_t *err)
{
    int rc = store_query_int(ctx->db, id, err,
                             "INSERT INTO users (name, display_name, email, is_admin, created_at) "
                             "VALUES (?, ?, ?, ?, ?) RETURNING id",
                             "tttii", name, display, email, (int64_t)is_admin, mops_now_ms());
    if (rc == MOPS_ECONFLICT)
        return mops_err_set(err, MOPS_ECONFLICT, "a user named \"%s\" already exists", name);
    return rc;
}

static const mops_json_field_t user_create_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"display_name", MOPS_JSON_STRING, 0},
    {"email", MOPS_JSON_STRING, 0},
    {"admin", MOPS_JSON_BOOL, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t user_update_fields[] = {
    {"display_name", MOPS_JSON_STRING, 0},
    {"email", MOPS_JSON_STRING, 0},
    {"admin", MOPS_JSON_BOOL, 0},
    {"disabled", MOPS_JSON_BOOL, 0},
    {NULL, 0, 0},
};

static int check_email(const char *email, mops_err_t *err)
{
    if (!*email)
        return 0;
    int rc = mops_text_check("email", email, 254, err);
    if (rc != 0)
        return rc;
    const char *at = strchr(email, '@');
    if (!at || at == email || !at[1] || strchr(at + 1, '@') || strpbrk(email, " \t\n"))
        return mops_err_set(err, MOPS_EINVAL, "email \"%s\" is not an address like "
                            "name@example.com", mops_text_show(email));
    return 0;
}

/* Append the condition on users column `col` that keeps only the users the
 * caller may see: themselves and whoever shares a team with them (everyone,
 * for admins). User lists must not undo team isolation. */
static void visible_users(const mops_ctx_t *ctx, const char *col, store_sql_t *q)
{
    if (!ctx->who || ctx->who->is_admin) {
        store_sql_add(q, "(1=1)", NULL);
        return;
    }
    char *cond = mops_arena_printf(ctx->arena,
                                   "(%s = ? OR %s IN (SELECT m2.user_id FROM memberships m1 JOIN "
                                   "memberships m2 ON m2.team_id = m1.team_id WHERE "
                                   "m1.user_id = ?))",
                                   col, col);
    store_sql_add(q, cond, "ii", ctx->who->user_id, ctx->who->user_id);
}

static int user_json(const mops_ctx_t *ctx, const char *name, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    store_sql_t q;
    store_sql_init(&q, "SELECT id, name, display_name, email, is_admin, disabled_at, created_at "
                       "FROM users WHERE ");
    store_sql_add(&q, "name = ? AND ", "t", name);
    visible_users(ctx, "id", &q);
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "no user named \"%s\"",
                                                          mops_text_show(name));
    }
    int64_t id = store_col_int(s, 0);
    json_t *u = json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:o}", "name", store_col_text(s, 1),
                          "display_name", store_col_text(s, 2), "email", store_col_text(s, 3),
                          "admin", (int)store_col_int(s, 4), "disabled", !store_col_is_null(s, 5),
                          "disabled_at",
                          auth_time_json(store_col_is_null(s, 5) ? 0 : store_col_int(s, 5)),
                          "created_at", auth_time_json(store_col_int(s, 6)));
    store_finalize(s);
    /* Memberships: only those in teams the caller may see. */
    store_sql_init(&q, "SELECT t.name, m.role FROM memberships m JOIN teams t ON t.id = m.team_id "
                       "WHERE ");
    store_sql_add(&q, "m.user_id = ? AND ", "i", id);
    auth_sql_team_filter(ctx, AUTH_TEAM_READ, "m.team_id", &q);
    store_sql_add(&q, " ORDER BY t.name, m.role", NULL);
    rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0) {
        json_decref(u);
        return rc;
    }
    json_t *teams = json_object();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        const char *team = store_col_text(s, 0);
        json_t *roles = json_object_get(teams, team);
        if (!roles) {
            roles = json_array();
            json_object_set_new(teams, team, roles);
        }
        json_array_append_new(roles, json_string(store_col_text(s, 1)));
    }
    store_finalize(s);
    json_object_set_new(u, "teams", teams);
    if (rc < 0) {
        json_decref(u);
        return rc;
    }
    *out = u;
    return 0;
}

int auth_user_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err)
{
    int rc = auth_require(ctx, AUTH_USER_CREATE, 0, err);
    if (rc != 0 || (rc = mops_json_check(spec, "request body", user_create_fields, err)) != 0)
        return rc;
    const char *name = mops_json_str(spec, "name", "");
    const char *display = mops_json_str(spec, "display_name", "");
    const char *email = mops_json_str(spec, "email", "");
    int admin = json_is_true(json_object_get(spec, "admin"));
    if ((rc = mops_name_check("user name", name, err)) != 0 ||
        (rc = mops_text_check("display_name", display, 200, err)) != 0 ||
        (rc = check_email(email, err)) != 0)
        return rc;
    int64_t id;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    if ((rc = auth_user_insert(ctx, name, display, email, admin, &id, err)) == 0) {
        char target[100];
        snprintf(target, sizeof target, "user/%s", name);
        json_t *detail = json_pack("{s:b}", "admin", admin);
        rc = audit_record(ctx, "user.create", target, 0, detail, err);
        json_decref(detail);
    }
    if ((rc = auth_tx_end(ctx, rc, err)) != 0)
        return rc;
    return user_json(ctx, name, out, err);
}

int auth_user_list(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    int rc = auth_require(ctx, AUTH_USER_READ, 0, err);
    if (rc != 0)
        return rc;
    store_stmt_t *s;
    store_sql_t q;
    store_sql_init(&q, "SELECT name, display_name, email, is_admin, disabled_at, created_at "
                       "FROM users WHERE ");
    visible_users(ctx, "id", &q);
    store_sql_add(&q, " ORDER BY name", NULL);
    rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:b, s:b, s:o}", "name", store_col_text(s, 0),
                             "display_name", store_col_text(s, 1), "email", store_col_text(s, 2),
                             "admin", (int)store_col_int(s, 3), "disabled",
                             !store_col_is_null(s, 4), "created_at",
                             auth_time_json(store_col_int(s, 5))));
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int auth_user_get(const mops_ctx_t *ctx, const char *user, json_t **out, mops_err_t *err)
{
    int rc = auth_require(ctx, AUTH_USER_READ, 0, err);
    return rc ? rc : user_json(ctx, user, out, err);
}

int auth_user_update(const mops_ctx_t *ctx, const char *user, const json_t *spec, json_t **out,
                     mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", user_update_fields, err);
    if (rc != 0)
        return rc;
    const char *display = mops_json_str(spec, "display_name", NULL);
    const char *email = mops_json_str(spec, "email", NULL);
    json_t *admin = json_object_get(spec, "admin");
    json_t *disabled = json_object_get(spec, "disabled");
    int self = ctx->who && !strcmp(ctx->who->user, user);
    /* Users may edit their own name and email; the rest is for admins. */
    if ((display && (rc = mops_text_check("display_name", display, 200, err)) != 0) ||
        (email && (rc = check_email(email, err)) != 0) ||
        ((admin || disabled || !self) && (rc = auth_require(ctx, AUTH_USER_MANAGE, 0, err)) != 0))
        return rc;
    if (self && (json_is_false(admin) || json_is_true(disabled)))
        return mops_err_set(err, MOPS_EINVAL,
                            "you cannot disable yourself or drop your own admin rights; ask "
                            "another administrator");
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t changes = 0, now = mops_now_ms();
    rc = store_exec(ctx->db, &changes, err,
                    "UPDATE users SET display_name = COALESCE(?, display_name), "
                    "email = COALESCE(?, email), "
                    "is_admin = CASE WHEN ? < 0 THEN is_admin ELSE ? END, "
                    "disabled_at = CASE WHEN ? < 0 THEN disabled_at WHEN ? = 1 "
                    "THEN COALESCE(disabled_at, ?) ELSE NULL END WHERE name = ?",
                    "ttiiiiit", display, email, (int64_t)(admin ? json_is_true(admin) : -1),
                    (int64_t)(admin ? json_is_true(admin) : -1),
                    (int64_t)(disabled ? json_is_true(disabled) : -1),
                    (int64_t)(disabled ? json_is_true(disabled) : -1), now, user);
    if (rc == 0 && changes == 0)
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no user named \"%s\"", mops_text_show(user));
    if (rc == 0) {
        char target[100];
        snprintf(target, sizeof target, "user/%s", user);
        rc = audit_record(ctx, "user.update", target, 0, spec, err);
    }
    if ((rc = auth_tx_end(ctx, rc, err)) != 0)
        return rc;
    auth_cache_flush(); /* disabled users and lost admin rights count at once */
    return user_json(ctx, user, out, err);
}

int auth_user_resolve(const mops_ctx_t *ctx, const char *user, int64_t *id, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, "SELECT id, disabled_at FROM users WHERE name = ?",
                         "t", user);
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW && store_col_is_null(s, 1)) {
        *id = store_col_int(s, 0);
        rc = 0;
    } else if (rc == STORE_ROW) {
        rc = mops_err_set(err, MOPS_EINVAL, "user \"%s\" is disabled", mops_text_show(user));
    } else if (rc == STORE_DONE) {
        char shown[100];
        mops_text_escape(user, shown, sizeof shown);
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no user named \"%s\"", shown);
    }
    store_finalize(s);
    return rc;
}

int auth_whoami(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    if (!ctx->who)
        return mops_err_set(err, MOPS_EUNAUTH, "not signed in");
    return user_json(ctx, ctx->who->user, out, err);
}
