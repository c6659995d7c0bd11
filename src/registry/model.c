/*
 * model.c — registered models: create, read, list with filters and
 * pagination, update, archive.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "registry/registry_int.h"

static const mops_json_field_t create_fields[] = {
    {"team", MOPS_JSON_STRING, 1},
    {"name", MOPS_JSON_STRING, 1},
    {"description", MOPS_JSON_STRING, 0},
    {"owner", MOPS_JSON_STRING, 0},
    {"purpose", MOPS_JSON_STRING, 0},
    {"risk_tier", MOPS_JSON_STRING, 1},
    {"tags", MOPS_JSON_STRING_ARRAY, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t update_fields[] = {
    {"description", MOPS_JSON_STRING, 0},
    {"owner", MOPS_JSON_STRING, 0},
    {"purpose", MOPS_JSON_STRING, 0},
    {"risk_tier", MOPS_JSON_STRING, 0},
    {"tags", MOPS_JSON_STRING_ARRAY, 0},
    {NULL, 0, 0},
};

static int check_risk_tier(const char *tier, mops_err_t *err)
{
    if (!strcmp(tier, "low") || !strcmp(tier, "medium") || !strcmp(tier, "high"))
        return 0;
    char shown[80];
    mops_text_escape(tier, shown, sizeof shown);
    return mops_err_set(err, MOPS_EINVAL, "risk_tier \"%s\" is invalid: use low, medium or high",
                        shown);
}

/* The owner must be an active user who can see the model: a member of its
 * team or a global administrator. */
static int resolve_owner(const mops_ctx_t *ctx, const char *owner, int64_t team_id,
                         int64_t *owner_id, mops_err_t *err)
{
    int rc = auth_user_resolve(ctx, owner, owner_id, err);
    if (rc == MOPS_ENOTFOUND)
        return mops_err_set(err, MOPS_EINVAL, "owner \"%s\" is not a user",
                            mops_text_show(owner));
    if (rc != 0)
        return rc;
    int64_t n = 0;
    if ((rc = store_query_int(ctx->db, &n, err,
                              "SELECT count(*) FROM users u WHERE u.id = ? AND (u.is_admin = 1 OR "
                              "EXISTS (SELECT 1 FROM memberships m WHERE m.team_id = ? AND "
                              "m.user_id = u.id))",
                              "ii", *owner_id, team_id)) != 0)
        return rc;
    if (n == 0)
        return mops_err_set(err, MOPS_EINVAL,
                            "owner %s is not a member of the model's team; add them first",
                            mops_text_show(owner));
    return 0;
}

static int model_json(const mops_ctx_t *ctx, const reg_model_t *m, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT m.description, o.name, m.purpose, m.risk_tier, c.name, m.created_at, "
        "m.updated_at, m.archived_at, "
        "(SELECT count(*) FROM versions v WHERE v.model_id = m.id), "
        "(SELECT max(number) FROM versions v WHERE v.model_id = m.id AND v.archived_at IS NULL) "
        "FROM models m JOIN users o ON o.id = m.owner_id JOIN users c ON c.id = m.created_by "
        "WHERE m.id = ?",
        "i", m->id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "model vanished");
    }
    int64_t archived = store_col_is_null(s, 7) ? 0 : store_col_int(s, 7);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:o, s:I, s:o}", "team", m->team,
        "name", m->name, "description", store_col_text(s, 0), "owner", store_col_text(s, 1),
        "purpose", store_col_text(s, 2), "risk_tier", store_col_text(s, 3), "created_by",
        store_col_text(s, 4), "created_at", mops_json_time(store_col_int(s, 5)), "updated_at",
        mops_json_time(store_col_int(s, 6)), "archived", archived != 0, "archived_at",
        mops_json_time(archived), "versions", (json_int_t)store_col_int(s, 8), "latest_version",
        store_col_is_null(s, 9) ? json_null() : json_integer(store_col_int(s, 9)));
    store_finalize(s);
    json_t *tags = NULL;
    if ((rc = store_tags_json(ctx->db, "model_tags", "model_id", m->id, &tags, err)) != 0)
        goto fail;
    json_object_set_new(o, "tags", tags);
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT a.alias, v.number FROM aliases a JOIN versions v ON "
                          "v.id = a.version_id WHERE a.model_id = ? ORDER BY a.alias",
                          "i", m->id)) != 0)
        goto fail;
    json_t *aliases = json_object();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_object_set_new(aliases, store_col_text(s, 0), json_integer(store_col_int(s, 1)));
    store_finalize(s);
    json_object_set_new(o, "aliases", aliases);
    if (rc < 0)
        goto fail;
    *out = o;
    return 0;
fail:
    json_decref(o);
    return rc;
}

int registry_model_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                          mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", create_fields, err);
    if (rc != 0)
        return rc;
    const char *team = mops_json_str(spec, "team", "");
    const char *name = mops_json_str(spec, "name", "");
    const char *desc = mops_json_str(spec, "description", "");
    const char *purpose = mops_json_str(spec, "purpose", "");
    const char *tier = mops_json_str(spec, "risk_tier", "");
    const char *owner = mops_json_str(spec, "owner", ctx->who ? ctx->who->user : "");
    json_t *tags = json_object_get(spec, "tags");
    int64_t team_id, owner_id, id;
    /* Who may comes before what is wrong: no one learns the rules of a team
     * they cannot write to. */
    if ((rc = auth_team_resolve(ctx, team, &team_id, err)) != 0 ||
        (rc = auth_require(ctx, AUTH_MODEL_WRITE, team_id, err)) != 0 ||
        (rc = mops_name_check("model name", name, err)) != 0 ||
        (rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0 ||
        (rc = mops_text_check("purpose", purpose, MOPS_TEXT_MAX, err)) != 0 ||
        (rc = check_risk_tier(tier, err)) != 0 ||
        (rc = mops_json_tags_check(tags, REGISTRY_TAGS_MAX, err)) != 0)
        return rc;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t now = mops_now_ms();
    if ((rc = resolve_owner(ctx, owner, team_id, &owner_id, err)) != 0)
        return store_end(ctx->db, rc, err);
    rc = store_query_int(ctx->db, &id, err,
                         "INSERT INTO models (team_id, name, description, owner_id, purpose, "
                         "risk_tier, created_by, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                         "ittittiii", team_id, name, desc, owner_id, purpose, tier,
                         ctx->who ? ctx->who->user_id : owner_id, now, now);
    if (rc == MOPS_ECONFLICT)
        rc = mops_err_set(err, MOPS_ECONFLICT, "team %s already has a model named \"%s\"", team,
                          name);
    reg_model_t m = {.id = id, .team_id = team_id, .team = team, .name = name};
    if (rc == 0 && tags)
        rc = store_tags_replace(ctx->db, "model_tags", "model_id", id, tags, err);
    if (rc == 0)
        rc = audit_record(ctx, "model.create", reg_target(ctx, &m, 0), team_id, spec, err);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    return model_json(ctx, &m, out, err);
}

int registry_model_get(const mops_ctx_t *ctx, const char *team, const char *model, json_t **out,
                       mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, AUTH_MODEL_READ, &m, err);
    return rc ? rc : model_json(ctx, &m, out, err);
}

int registry_model_list(const mops_ctx_t *ctx, const registry_model_filter_t *f, json_t **out,
                        mops_err_t *err)
{
    int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 50;
    store_sql_t q;
    store_sql_init(&q, "SELECT m.id, m.team_id, t.name, m.name FROM models m "
                       "JOIN teams t ON t.id = m.team_id JOIN users o ON o.id = m.owner_id "
                       "WHERE ");
    auth_sql_team_filter(ctx, AUTH_MODEL_READ, "m.team_id", &q);
    if (f->after_id > 0)
        store_sql_add(&q, " AND m.id > ?", "i", f->after_id);
    if (f->team)
        store_sql_add(&q, " AND t.name = ?", "t", f->team);
    if (f->owner)
        store_sql_add(&q, " AND o.name = ?", "t", f->owner);
    if (f->prefix)
        store_sql_add(&q, " AND substr(m.name, 1, ?) = ?", "it", (int64_t)strlen(f->prefix),
                      f->prefix);
    if (f->tag)
        store_sql_add(&q, " AND EXISTS (SELECT 1 FROM model_tags g WHERE g.model_id = m.id "
                          "AND g.tag = ?)", "t", f->tag);
    if (f->stage)
        store_sql_add(&q, " AND EXISTS (SELECT 1 FROM versions v WHERE v.model_id = m.id "
                          "AND v.stage = ? AND v.archived_at IS NULL)", "t", f->stage);
    if (f->archived == 0)
        store_sql_add(&q, " AND m.archived_at IS NULL", NULL);
    else if (f->archived == 1)
        store_sql_add(&q, " AND m.archived_at IS NOT NULL", NULL);
    store_sql_add(&q, " ORDER BY m.id LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    /* Collect the page first: model_json runs queries of its own. */
    reg_model_t *rows = mops_arena_alloc(ctx->arena, sizeof *rows * (size_t)(limit + 1));
    int n = 0;
    while ((rc = store_step(s, err)) == STORE_ROW && n <= limit) {
        rows[n].id = store_col_int(s, 0);
        rows[n].team_id = store_col_int(s, 1);
        rows[n].team = mops_arena_strdup(ctx->arena, store_col_text(s, 2));
        rows[n].name = mops_arena_strdup(ctx->arena, store_col_text(s, 3));
        n++;
    }
    store_finalize(s);
    if (rc < 0)
        return rc;
    int more = n > limit;
    if (more)
        n = limit;
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o;
        if ((rc = model_json(ctx, &rows[i], &o, err)) != 0) {
            json_decref(items);
            return rc;
        }
        json_array_append_new(items, o);
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next_page_token",
                     more ? json_sprintf("%lld", (long long)rows[n - 1].id) : json_null());
    return 0;
}

int registry_model_update(const mops_ctx_t *ctx, const char *team, const char *model,
                          const json_t *spec, json_t **out, mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, AUTH_MODEL_WRITE, &m, err);
    if (rc != 0 || (rc = mops_json_check(spec, "request body", update_fields, err)) != 0)
        return rc;
    const char *desc = mops_json_str(spec, "description", NULL);
    const char *purpose = mops_json_str(spec, "purpose", NULL);
    const char *tier = mops_json_str(spec, "risk_tier", NULL);
    const char *owner = mops_json_str(spec, "owner", NULL);
    json_t *tags = json_object_get(spec, "tags");
    if ((desc && (rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0) ||
        (purpose && (rc = mops_text_check("purpose", purpose, MOPS_TEXT_MAX, err)) != 0) ||
        (tier && (rc = check_risk_tier(tier, err)) != 0) ||
        (rc = mops_json_tags_check(tags, REGISTRY_TAGS_MAX, err)) != 0)
        return rc;
    if (m.archived)
        return mops_err_set(err, MOPS_EPRECOND, "model %s/%s is archived", team, model);
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t owner_id = 0;
    if (owner && (rc = resolve_owner(ctx, owner, m.team_id, &owner_id, err)) != 0)
        return store_end(ctx->db, rc, err);
    rc = store_exec(ctx->db, NULL, err,
                    "UPDATE models SET description = COALESCE(?, description), "
                    "purpose = COALESCE(?, purpose), risk_tier = COALESCE(?, risk_tier), "
                    "owner_id = COALESCE(?, owner_id), updated_at = ? WHERE id = ?",
                    "tttIii", desc, purpose, tier, owner_id, mops_now_ms(), m.id);
    if (rc == 0 && tags)
        rc = store_tags_replace(ctx->db, "model_tags", "model_id", m.id, tags, err);
    if (rc == 0)
        rc = audit_record(ctx, "model.update", reg_target(ctx, &m, 0), m.team_id, spec, err);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    return model_json(ctx, &m, out, err);
}

int registry_model_archive(const mops_ctx_t *ctx, const char *team, const char *model,
                           json_t **out, mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, AUTH_MODEL_WRITE, &m, err);
    if (rc != 0)
        return rc;
    if (!m.archived) {
        if ((rc = store_begin(ctx->db, err)) != 0)
            return rc;
        int64_t now = mops_now_ms();
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE models SET archived_at = ?, updated_at = ? WHERE id = ?", "iii",
                        now, now, m.id);
        if (rc == 0)
            rc = audit_record(ctx, "model.archive", reg_target(ctx, &m, 0), m.team_id, NULL, err);
        if ((rc = store_end(ctx->db, rc, err)) != 0)
            return rc;
    }
    return model_json(ctx, &m, out, err);
}
