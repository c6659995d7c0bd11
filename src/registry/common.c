/*
 * common.c — registry helpers shared by models, versions and aliases:
 * resolving names with visibility, audit targets.
 */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "registry/registry_int.h"

int reg_model_resolve(const mops_ctx_t *ctx, const char *team, const char *model,
                      auth_perm_t perm, reg_model_t *out, mops_err_t *err)
{
    return auth_team_object_resolve(ctx, "models", "model", team, model, perm, out, err);
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

const char *reg_target(const mops_ctx_t *ctx, const reg_model_t *m, int64_t number)
{
    if (number)
        return mops_arena_printf(ctx->arena, "%s/%s@%lld", m->team, m->name, (long long)number);
    return mops_arena_printf(ctx->arena, "%s/%s", m->team, m->name);
}
