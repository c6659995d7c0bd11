/*
 * lookup.c — the registry's answers to other modules: what a version is
 * (team, model, number, format, stage, artifact), by reference with the
 * caller's visibility or by id for the server itself, and which visible
 * teams hold a model of a given name.
 */
#include <stdio.h>
#include <string.h>

#include "registry/registry_int.h"

static const char version_cols[] =
    "SELECT v.id, v.number, v.archived_at, v.format, v.stage, v.artifact_sha256, a.size, "
    "m.id, m.name, t.id, t.name FROM versions v JOIN models m ON m.id = v.model_id "
    "JOIN teams t ON t.id = m.team_id JOIN artifacts a ON a.sha256 = v.artifact_sha256 "
    "WHERE v.id = ?";

static int ref_by_id(const mops_ctx_t *ctx, int64_t id, registry_version_ref_t *out,
                     mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, version_cols, "i", id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        memset(out, 0, sizeof *out);
        out->version_id = store_col_int(s, 0);
        out->number = store_col_int(s, 1);
        out->archived = !store_col_is_null(s, 2);
        snprintf(out->format, sizeof out->format, "%s", store_col_text(s, 3));
        snprintf(out->stage, sizeof out->stage, "%s", store_col_text(s, 4));
        snprintf(out->sha256, sizeof out->sha256, "%s", store_col_text(s, 5));
        out->size = store_col_int(s, 6);
        out->model_id = store_col_int(s, 7);
        snprintf(out->model, sizeof out->model, "%s", store_col_text(s, 8));
        out->team_id = store_col_int(s, 9);
        snprintf(out->team, sizeof out->team, "%s", store_col_text(s, 10));
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no version with id %lld", (long long)id);
    }
    store_finalize(s);
    return rc;
}

int registry_version_lookup(const mops_ctx_t *ctx, const char *team, const char *model,
                            const char *ref, auth_perm_t perm, registry_version_ref_t *out,
                            mops_err_t *err)
{
    reg_model_t m;
    reg_version_t v;
    int rc = reg_model_resolve(ctx, team, model, perm, &m, err);
    if (rc == 0)
        rc = reg_version_resolve(ctx, &m, ref, &v, err);
    return rc ? rc : ref_by_id(ctx, v.id, out, err);
}

int registry_version_lookup_id(const mops_ctx_t *ctx, int64_t version_id,
                               registry_version_ref_t *out, mops_err_t *err)
{
    return ref_by_id(ctx, version_id, out, err);
}

int registry_model_teams(const mops_ctx_t *ctx, const char *model, const char **teams, size_t max,
                         size_t *n, mops_err_t *err)
{
    store_sql_t q;
    store_sql_init(&q, "SELECT t.name FROM models m JOIN teams t ON t.id = m.team_id WHERE ");
    store_sql_add(&q, "m.name = ? AND m.archived_at IS NULL AND ", "t", model);
    auth_sql_team_filter(ctx, AUTH_MODEL_READ, "m.team_id", &q);
    store_sql_add(&q, " ORDER BY t.name", NULL);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    size_t k = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (k < max)
            teams[k] = mops_arena_strdup(ctx->arena, store_col_text(s, 0));
        k++;
    }
    store_finalize(s);
    if (rc < 0)
        return rc;
    *n = k;
    return 0;
}
