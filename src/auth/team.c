/*
 * team.c — teams and memberships: creation, listing, the roles a user holds
 * in a team, and name resolution with visibility (a team one cannot see is
 * "not found", so team names do not leak to outsiders).
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/auth_int.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"

static const mops_json_field_t team_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"description", MOPS_JSON_STRING, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t member_fields[] = {
    {"roles", MOPS_JSON_STRING_ARRAY, 1},
    {NULL, 0, 0},
};

static int team_lookup(const mops_ctx_t *ctx, const char *team, int64_t *id, mops_err_t *err)
{
    int rc = store_query_int(ctx->db, id, err, "SELECT id FROM teams WHERE name = ?", "t", team);
    if (rc == 0 && !auth_can(ctx->who, AUTH_TEAM_READ, *id))
        mops_ctx_deny(ctx, *id); /* answered as absent, audited as refused */
    else if (rc != MOPS_ENOTFOUND)
        return rc;
    return mops_err_set(err, MOPS_ENOTFOUND, "no team named \"%s\"", mops_text_show(team));
}

int auth_team_resolve(const mops_ctx_t *ctx, const char *team, int64_t *id, mops_err_t *err)
{
    return team_lookup(ctx, team, id, err);
}

int auth_team_object_resolve(const mops_ctx_t *ctx, const char *table, const char *kind,
                             const char *team, const char *name, auth_perm_t perm,
                             auth_team_object_t *out, mops_err_t *err)
{
    int64_t team_id;
    int rc = auth_team_resolve(ctx, team, &team_id, err);
    if (rc != 0)
        return rc;
    char sql[120];
    snprintf(sql, sizeof sql, "SELECT id, archived_at FROM %s WHERE team_id = ? AND name = ?",
             table);
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err, sql, "it", team_id, name)) != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW) {
        out->id = store_col_int(s, 0);
        out->archived = !store_col_is_null(s, 1);
        out->team_id = team_id;
        out->team = team;
        out->name = name;
    }
    store_finalize(s);
    if (rc == STORE_DONE)
        return mops_err_set(err, MOPS_ENOTFOUND, "no %s named \"%s\" in team %s", kind,
                            mops_text_show(name), team);
    if (rc < 0)
        return rc;
    return auth_require(ctx, perm, team_id, err);
}

static int team_json(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT name, description, created_at FROM teams WHERE id = ?", "i", id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "team %lld vanished",
                                          (long long)id);
    }
    json_t *t = json_pack("{s:s, s:s, s:o}", "name", store_col_text(s, 0), "description",
                          store_col_text(s, 1), "created_at", auth_time_json(store_col_int(s, 2)));
    store_finalize(s);
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT u.name, m.role FROM memberships m JOIN users u ON "
                          "u.id = m.user_id WHERE m.team_id = ? ORDER BY u.name, m.role",
                          "i", id)) != 0) {
        json_decref(t);
        return rc;
    }
    json_t *members = json_object();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        const char *user = store_col_text(s, 0);
        json_t *roles = json_object_get(members, user);
        if (!roles) {
            roles = json_array();
            json_object_set_new(members, user, roles);
        }
        json_array_append_new(roles, json_string(store_col_text(s, 1)));
    }
    store_finalize(s);
    json_object_set_new(t, "members", members);
    if (rc < 0) {
        json_decref(t);
        return rc;
    }
    *out = t;
    return 0;
}

int auth_team_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err)
{
    int rc;
    if ((rc = auth_require(ctx, AUTH_TEAM_CREATE, 0, err)) != 0 ||
        (rc = mops_json_check(spec, "request body", team_fields, err)) != 0)
        return rc;
    const char *name = mops_json_str(spec, "name", "");
    const char *desc = mops_json_str(spec, "description", "");
    if ((rc = mops_name_check("team name", name, err)) != 0 ||
        (rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0)
        return rc;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t id = 0;
    rc = store_query_int(ctx->db, &id, err,
                         "INSERT INTO teams (name, description, created_at) VALUES (?, ?, ?) "
                         "RETURNING id",
                         "tti", name, desc, mops_now_ms());
    if (rc == MOPS_ECONFLICT)
        rc = mops_err_set(err, MOPS_ECONFLICT, "a team named \"%s\" already exists", name);
    if (rc == 0) {
        char target[100];
        snprintf(target, sizeof target, "team/%s", name);
        rc = audit_record(ctx, "team.create", target, id, NULL, err);
    }
    if ((rc = auth_tx_end(ctx, rc, err)) != 0)
        return rc;
    return team_json(ctx, id, out, err);
}

int auth_team_list(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    store_sql_t q;
    store_sql_init(&q, "SELECT t.name, t.description, t.created_at, "
                       "(SELECT count(DISTINCT user_id) FROM memberships m WHERE m.team_id = t.id) "
                       "FROM teams t WHERE ");
    auth_sql_team_filter(ctx, AUTH_TEAM_READ, "t.id", &q);
    store_sql_add(&q, " ORDER BY t.name", NULL);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(items,
                              json_pack("{s:s, s:s, s:o, s:I}", "name", store_col_text(s, 0),
                                        "description", store_col_text(s, 1), "created_at",
                                        auth_time_json(store_col_int(s, 2)), "members",
                                        (json_int_t)store_col_int(s, 3)));
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int auth_team_get(const mops_ctx_t *ctx, const char *team, json_t **out, mops_err_t *err)
{
    int64_t id;
    int rc = team_lookup(ctx, team, &id, err);
    return rc ? rc : team_json(ctx, id, out, err);
}

int auth_member_set(const mops_ctx_t *ctx, const char *team, const char *user,
                    const json_t *spec, json_t **out, mops_err_t *err)
{
    int64_t team_id, user_id;
    int rc;
    if ((rc = team_lookup(ctx, team, &team_id, err)) != 0 ||
        (rc = auth_require(ctx, AUTH_TEAM_MANAGE, team_id, err)) != 0 ||
        (rc = mops_json_check(spec, "request body", member_fields, err)) != 0)
        return rc;
    json_t *roles = json_object_get(spec, "roles");
    unsigned mask = 0;
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r) {
        unsigned bit;
        if ((rc = auth_role_parse(json_string_value(r), &bit, err)) != 0)
            return rc;
        mask |= bit;
    }
    if (!mask)
        return mops_err_set(err, MOPS_EINVAL,
                            "roles is empty; to remove a member, use DELETE "
                            "(mops team remove-member)");
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    if ((rc = auth_user_resolve(ctx, user, &user_id, err)) != 0)
        return auth_tx_end(ctx, rc, err);
    rc = store_exec(ctx->db, NULL, err, "DELETE FROM memberships WHERE team_id = ? AND user_id = ?",
                    "ii", team_id, user_id);
    int64_t now = mops_now_ms();
    for (int b = 0; rc == 0 && b < AUTH_ROLE_COUNT; b++)
        if (mask & (1u << b))
            rc = store_exec(ctx->db, NULL, err,
                            "INSERT INTO memberships (team_id, user_id, role, created_at) "
                            "VALUES (?, ?, ?, ?)",
                            "iiti", team_id, user_id, auth_role_name(1u << b), now);
    if (rc == 0) {
        char target[160];
        snprintf(target, sizeof target, "team/%s/member/%s", team, user);
        rc = audit_record(ctx, "team.member.set", target, team_id, spec, err);
    }
    if ((rc = auth_tx_end(ctx, rc, err)) != 0)
        return rc;
    auth_cache_flush(); /* roles are part of every cached principal */
    return team_json(ctx, team_id, out, err);
}

int auth_member_remove(const mops_ctx_t *ctx, const char *team, const char *user,
                       mops_err_t *err)
{
    int64_t team_id, user_id;
    int rc;
    if ((rc = team_lookup(ctx, team, &team_id, err)) != 0 ||
        (rc = auth_require(ctx, AUTH_TEAM_MANAGE, team_id, err)) != 0)
        return rc;
    if ((rc = store_query_int(ctx->db, &user_id, err, "SELECT id FROM users WHERE name = ?", "t",
                              user)) != 0)
        return rc == MOPS_ENOTFOUND
                   ? mops_err_set(err, MOPS_ENOTFOUND, "no user named \"%s\"", mops_text_show(user))
                   : rc;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t changes = 0;
    rc = store_exec(ctx->db, &changes, err,
                    "DELETE FROM memberships WHERE team_id = ? AND user_id = ?", "ii", team_id,
                    user_id);
    if (rc == 0 && changes == 0)
        rc = mops_err_set(err, MOPS_ENOTFOUND, "%s is not a member of team %s",
                          mops_text_show(user), mops_text_show(team));
    if (rc == 0) {
        char target[160];
        snprintf(target, sizeof target, "team/%s/member/%s", team, user);
        rc = audit_record(ctx, "team.member.remove", target, team_id, NULL, err);
    }
    if ((rc = auth_tx_end(ctx, rc, err)) == 0)
        auth_cache_flush();
    return rc;
}
