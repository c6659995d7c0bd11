/*
 * common.c — helpers shared by the governance files: transactions, times,
 * audit targets, notifications and their recipients, text fields.
 */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "governance/governance_int.h"
#include "notify/notify.h"

int gov_tx_end(const mops_ctx_t *ctx, int rc, mops_err_t *err)
{
    if (rc == 0)
        rc = store_commit(ctx->db, err);
    store_rollback(ctx->db);
    return rc;
}

json_t *gov_time_json(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    mops_time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

const char *gov_target(const mops_ctx_t *ctx, const registry_version_ref_t *v)
{
    return mops_arena_printf(ctx->arena, "%s/%s@%lld", v->m.team, v->m.model,
                             (long long)v->number);
}

int64_t gov_actor(const mops_ctx_t *ctx)
{
    return ctx->who ? ctx->who->user_id : 0;
}

json_t *gov_json_load(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_object();
}

int gov_text_field(const json_t *spec, const char *key, size_t max, int required,
                   const char **out, mops_err_t *err)
{
    const char *s = mops_json_str(spec, key, NULL);
    if (!s && required)
        return mops_err_set(err, MOPS_EINVAL, "field \"%s\" is required in request body", key);
    if (s) {
        int rc = mops_text_check(key, s, max, err);
        if (rc != 0)
            return rc;
        if (required && !*s)
            return mops_err_set(err, MOPS_EINVAL, "field \"%s\" must not be empty", key);
    }
    *out = s ? s : "";
    return 0;
}

/* ---------------------------------------------------------- notifications */

/* Add user (with their e-mail, when the caller may see it) to list once. */
static void recipient_add(const mops_ctx_t *ctx, json_t *list, const char *user, const char *why)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) if (!strcmp(mops_json_str(r, "user", ""), user)) return;
    json_t *u = NULL;
    mops_err_t err;
    const char *email = "";
    if (auth_user_get(ctx, user, &u, &err) == 0)
        email = mops_json_str(u, "email", "");
    json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "user", user, "email", email, "why",
                                          why));
    json_decref(u);
}

/* The name of a user by id, into the arena ("" when unknown). */
static const char *user_name(const mops_ctx_t *ctx, int64_t id)
{
    store_stmt_t *s;
    const char *name = "";
    if (store_query(ctx->db, &s, NULL, "SELECT name FROM users WHERE id = ?", "i", id) == 0) {
        if (store_step(s, NULL) == STORE_ROW)
            name = mops_arena_strdup(ctx->arena, store_col_text(s, 0));
        store_finalize(s);
    }
    return name;
}

json_t *gov_recipients(const mops_ctx_t *ctx, const registry_version_ref_t *v, int reviewers)
{
    json_t *list = json_array();
    const char *owner = user_name(ctx, v->m.owner_id);
    const char *author = user_name(ctx, v->created_by);
    if (*owner)
        recipient_add(ctx, list, owner, "owner");
    if (*author)
        recipient_add(ctx, list, author, "author");
    if (!reviewers)
        return list;
    /* Reviewers: members holding a role that may decide (review.decide). */
    json_t *team = NULL;
    mops_err_t err;
    if (auth_team_get(ctx, v->m.team, &team, &err) != 0)
        return list;
    const char *user;
    json_t *roles;
    json_object_foreach(json_object_get(team, "members"), user, roles) {
        size_t i;
        json_t *r;
        json_array_foreach(roles, i, r) {
            unsigned bit;
            if (auth_role_parse(json_string_value(r), &bit, NULL) != 0)
                continue;
            auth_membership_t mem = {v->m.team_id, v->m.team, bit};
            auth_principal_t p = {.user = user, .nteams = 1, .teams = &mem};
            if (auth_can(&p, AUTH_REVIEW_DECIDE, v->m.team_id)) {
                recipient_add(ctx, list, user, "reviewer");
                break;
            }
        }
    }
    json_decref(team);
    return list;
}

int gov_notify(const mops_ctx_t *ctx, const registry_version_ref_t *v, const char *event,
               json_t *data, mops_err_t *err)
{
    if (!data)
        data = json_object();
    json_object_set_new(data, "team", json_string(v->m.team));
    json_object_set_new(data, "model", json_string(v->m.model));
    json_object_set_new(data, "version", json_integer(v->number));
    json_object_set_new(data, "actor", json_string(ctx->who ? ctx->who->user : "system"));
    json_object_set_new(data, "link",
                        json_sprintf("/api/v1/models/%s/%s/versions/%lld", v->m.team, v->m.model,
                                     (long long)v->number));
    int rc = notify_enqueue(ctx, v->m.team_id, event, data, err);
    json_decref(data);
    return rc;
}
