/*
 * ref.c — the compact view of models and versions that other modules use
 * (registry_model_ref_t, registry_version_ref_t), by reference with the
 * caller's visibility or by id for the server itself; which visible teams
 * hold a model of a given name; the stage setter the governance module
 * drives; and loading a version's model for modules that score with it
 * (validation, serving).
 */
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "core/time.h"
#include "registry/registry_int.h"

/* Fill m from the models row of model_id (names copied from the row). */
static int model_ref_fill(const mops_ctx_t *ctx, int64_t model_id, registry_model_ref_t *m,
                          mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT m.team_id, t.name, m.name, m.owner_id, m.risk_tier, m.archived_at "
                         "FROM models m JOIN teams t ON t.id = m.team_id WHERE m.id = ?",
                         "i", model_id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        m->model_id = model_id;
        m->team_id = store_col_int(s, 0);
        snprintf(m->team, sizeof m->team, "%s", store_col_text(s, 1));
        snprintf(m->model, sizeof m->model, "%s", store_col_text(s, 2));
        m->owner_id = store_col_int(s, 3);
        snprintf(m->risk_tier, sizeof m->risk_tier, "%s", store_col_text(s, 4));
        m->archived = !store_col_is_null(s, 5);
    }
    store_finalize(s);
    if (rc == STORE_DONE)
        return mops_err_set(err, MOPS_ENOTFOUND, "model vanished");
    return rc < 0 ? rc : 0;
}

/* Fill v from the versions row of version_id, model part included: one
 * query, as serving resolves versions on its request path. */
static int version_ref_fill(const mops_ctx_t *ctx, int64_t version_id, registry_version_ref_t *v,
                            mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT v.number, v.created_by, v.created_at, v.archived_at, v.artifact_sha256, v.format, "
        "v.stage, v.dataset, a.size, m.id, m.team_id, t.name, m.name, m.owner_id, m.risk_tier, "
        "m.archived_at FROM versions v JOIN models m ON m.id = v.model_id "
        "JOIN teams t ON t.id = m.team_id JOIN artifacts a ON a.sha256 = v.artifact_sha256 "
        "WHERE v.id = ?",
        "i", version_id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        memset(v, 0, sizeof *v);
        v->version_id = version_id;
        v->number = store_col_int(s, 0);
        v->created_by = store_col_int(s, 1);
        v->created_at = store_col_int(s, 2);
        v->archived = !store_col_is_null(s, 3);
        snprintf(v->sha256, sizeof v->sha256, "%s", store_col_text(s, 4));
        snprintf(v->format, sizeof v->format, "%s", store_col_text(s, 5));
        snprintf(v->stage, sizeof v->stage, "%s", store_col_text(s, 6));
        snprintf(v->dataset, sizeof v->dataset, "%s", store_col_text(s, 7));
        v->size = store_col_int(s, 8);
        registry_model_ref_t *m = &v->m;
        m->model_id = store_col_int(s, 9);
        m->team_id = store_col_int(s, 10);
        snprintf(m->team, sizeof m->team, "%s", store_col_text(s, 11));
        snprintf(m->model, sizeof m->model, "%s", store_col_text(s, 12));
        m->owner_id = store_col_int(s, 13);
        snprintf(m->risk_tier, sizeof m->risk_tier, "%s", store_col_text(s, 14));
        m->archived = !store_col_is_null(s, 15);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no version with id %lld", (long long)version_id);
    }
    store_finalize(s);
    return rc;
}

int registry_model_resolve(const mops_ctx_t *ctx, const char *team, const char *model,
                           auth_perm_t perm, registry_model_ref_t *out, mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, perm, &m, err);
    if (rc == 0)
        rc = model_ref_fill(ctx, m.id, out, err);
    return rc;
}

int registry_version_resolve(const mops_ctx_t *ctx, const char *team, const char *model,
                             const char *ref, auth_perm_t perm, registry_version_ref_t *out,
                             mops_err_t *err)
{
    reg_model_t m;
    reg_version_t v;
    int rc = reg_model_resolve(ctx, team, model, perm, &m, err);
    if (rc == 0)
        rc = reg_version_resolve(ctx, &m, ref, &v, err);
    if (rc == 0)
        rc = version_ref_fill(ctx, v.id, out, err);
    return rc;
}

int registry_version_resolve_id(const mops_ctx_t *ctx, int64_t version_id, auth_perm_t perm,
                                registry_version_ref_t *out, mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = version_ref_fill(ctx, version_id, &v, err);
    if (rc == 0 && !auth_can(ctx->who, perm, v.m.team_id)) {
        mops_ctx_deny(ctx, v.m.team_id);
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no version with id %lld",
                          (long long)version_id);
    }
    if (rc == 0)
        *out = v;
    return rc;
}

int registry_version_ref_by_id(const mops_ctx_t *ctx, int64_t version_id,
                               registry_version_ref_t *out,
                         mops_err_t *err)
{
    return version_ref_fill(ctx, version_id, out, err);
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

int registry_version_stage_set(const mops_ctx_t *ctx, int64_t version_id, const char *from,
                               const char *to, mops_err_t *err)
{
    if (!store_in_tx(ctx->db))
        return mops_err_set(err, MOPS_EINTERNAL, "stage change outside a transaction");
    int64_t changed = 0;
    int rc = store_exec(ctx->db, &changed, err,
                        "UPDATE versions SET stage = ?, updated_at = ? WHERE id = ? AND stage = ?",
                        "tiit", to, mops_now_ms(), version_id, from);
    if (rc == 0 && changed != 1)
        rc = mops_err_set(err, MOPS_ECONFLICT,
                          "the version is no longer in stage %s (changed concurrently); "
                          "read it again",
                          from);
    return rc;
}

int registry_version_model_load(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                                runtime_model_t **out, mops_err_t *err)
{
    return reg_artifact_load(ctx, v->sha256, v->format, out, err);
}
