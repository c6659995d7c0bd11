/*
 * common.c — registry helpers shared by models, versions and aliases:
 * resolving names with visibility, tags, audit targets.
 */
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "core/time.h"
#include "registry/registry_int.h"

int reg_tx_end(const mops_ctx_t *ctx, int rc, mops_err_t *err)
{
    if (rc == 0)
        rc = store_commit(ctx->db, err);
    store_rollback(ctx->db);
    return rc;
}

json_t *reg_time_json(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    mops_time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

int reg_model_resolve(const mops_ctx_t *ctx, const char *team, const char *model,
                      auth_perm_t perm, reg_model_t *out, mops_err_t *err)
{
    int64_t team_id;
    int rc = auth_team_resolve(ctx, team, &team_id, err);
    if (rc != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT id, archived_at FROM models WHERE team_id = ? AND name = ?",
                          "it", team_id, model)) != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW) {
        out->id = store_col_int(s, 0);
        out->archived = !store_col_is_null(s, 1);
        out->team_id = team_id;
        out->team = team;
        out->name = model;
    }
    store_finalize(s);
    if (rc == STORE_DONE) {
        char shown[100];
        mops_text_escape(model, shown, sizeof shown);
        return mops_err_set(err, MOPS_ENOTFOUND, "no model named \"%s\" in team %s", shown, team);
    }
    if (rc < 0)
        return rc;
    return auth_require(ctx, perm, team_id, err);
}

int reg_version_resolve(const mops_ctx_t *ctx, const reg_model_t *m, const char *ref,
                        reg_version_t *out, mops_err_t *err)
{
    long long number;
    store_stmt_t *s;
    int rc;
    const char *cols = "SELECT v.id, v.number, v.archived_at, v.artifact_sha256 FROM versions v ";
    char sql[400];
    if (mops_parse_i64(ref, &number) == 0) {
        snprintf(sql, sizeof sql, "%sWHERE v.model_id = ? AND v.number = ?", cols);
        rc = store_query(ctx->db, &s, err, sql, "ii", m->id, (int64_t)number);
    } else if (!strcmp(ref, "latest")) {
        snprintf(sql, sizeof sql,
                 "%sWHERE v.model_id = ? AND v.archived_at IS NULL ORDER BY v.number DESC LIMIT 1",
                 cols);
        rc = store_query(ctx->db, &s, err, sql, "i", m->id);
    } else {
        snprintf(sql, sizeof sql,
                 "%sJOIN aliases a ON a.version_id = v.id WHERE a.model_id = ? AND a.alias = ?",
                 cols);
        rc = store_query(ctx->db, &s, err, sql, "it", m->id, ref);
    }
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW) {
        out->id = store_col_int(s, 0);
        out->number = store_col_int(s, 1);
        out->archived = !store_col_is_null(s, 2);
        snprintf(out->sha256, sizeof out->sha256, "%s", store_col_text(s, 3));
    }
    store_finalize(s);
    if (rc == STORE_DONE) {
        char shown[100];
        mops_text_escape(ref, shown, sizeof shown);
        return mops_err_set(err, MOPS_ENOTFOUND,
                            "model %s/%s has no version \"%s\" (give a number, an alias or "
                            "\"latest\")",
                            m->team, m->name, shown);
    }
    return rc < 0 ? rc : 0;
}

int reg_tags_check(const json_t *tags, mops_err_t *err)
{
    if (!tags)
        return 0;
    if (json_array_size(tags) > REGISTRY_TAGS_MAX)
        return mops_err_set(err, MOPS_EINVAL, "at most %d tags, not %zu", REGISTRY_TAGS_MAX,
                            json_array_size(tags));
    size_t i, j;
    json_t *t, *u;
    json_array_foreach(tags, i, t) {
        int rc = mops_tag_check("tag", json_string_value(t), err);
        if (rc != 0)
            return rc;
        json_array_foreach(tags, j, u) if (j < i && json_equal(t, u)) return mops_err_set(
            err, MOPS_EINVAL, "tag \"%s\" is given twice", json_string_value(t));
    }
    return 0;
}

int reg_tags_replace(const mops_ctx_t *ctx, const char *table, const char *id_col, int64_t id,
                     const json_t *tags, mops_err_t *err)
{
    char sql[200];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = ?", table, id_col);
    int rc = store_exec(ctx->db, NULL, err, sql, "i", id);
    snprintf(sql, sizeof sql, "INSERT INTO %s (%s, tag) VALUES (?, ?)", table, id_col);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        if (rc != 0)
            break;
        rc = store_exec(ctx->db, NULL, err, sql, "it", id, json_string_value(t));
    }
    return rc;
}

int reg_tags_json(const mops_ctx_t *ctx, const char *table, const char *id_col, int64_t id,
                  json_t **out, mops_err_t *err)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT tag FROM %s WHERE %s = ? ORDER BY tag", table, id_col);
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, sql, "i", id);
    if (rc != 0)
        return rc;
    json_t *a = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(a, json_string(store_col_text(s, 0)));
    store_finalize(s);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

const char *reg_target(const mops_ctx_t *ctx, const reg_model_t *m, int64_t number)
{
    if (number)
        return mops_arena_printf(ctx->arena, "%s/%s@%lld", m->team, m->name, (long long)number);
    return mops_arena_printf(ctx->arena, "%s/%s", m->team, m->name);
}
