/*
 * artifact.c — model artifacts: uploads to a model's team, kept in the
 * content-addressed blob store (store/blob.h).
 *
 * The bytes are made durable under their hash first; only then is the
 * artifact recorded, with the team that uploaded it, in one transaction
 * with its audit entry, so a row never points at a missing or partial file
 * and a version may use only what its own team uploaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/text.h"
#include "core/time.h"
#include "registry/registry_int.h"
#include "store/blob.h"

struct registry_upload {
    store_blob_writer_t *blob;
    reg_model_t model;
    char team[MOPS_NAME_MAX + 1], name[MOPS_NAME_MAX + 1];
};

int registry_artifacts_init(const mops_env_t *env, mops_err_t *err)
{
    return store_blob_init(env->artifact_dir, err);
}

int registry_upload_begin(const mops_ctx_t *ctx, const char *team, const char *model,
                          int64_t max_bytes, registry_upload_t **out, mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, AUTH_VERSION_WRITE, &m, err);
    if (rc != 0)
        return rc;
    if (m.archived)
        return mops_err_set(err, MOPS_EPRECOND, "model %s/%s is archived", team, model);
    registry_upload_t *u = mops_xcalloc(1, sizeof *u);
    if ((rc = store_blob_writer_new(ctx->env->artifact_dir, max_bytes, "the artifact", &u->blob,
                                    err)) != 0) {
        free(u);
        return rc;
    }
    snprintf(u->team, sizeof u->team, "%s", team);
    snprintf(u->name, sizeof u->name, "%s", model);
    u->model = m;
    u->model.team = u->team;
    u->model.name = u->name;
    *out = u;
    return 0;
}

int registry_upload_write(registry_upload_t *u, const void *p, size_t n, mops_err_t *err)
{
    return store_blob_write(u->blob, p, n, err);
}

void registry_upload_abort(registry_upload_t *u)
{
    if (!u)
        return;
    store_blob_abort(u->blob);
    free(u);
}

int registry_upload_finish(const mops_ctx_t *ctx, registry_upload_t *u, json_t **out,
                           mops_err_t *err)
{
    if (store_blob_size(u->blob) == 0) {
        registry_upload_abort(u);
        return mops_err_set(err, MOPS_EINVAL, "the artifact is empty");
    }
    char sha[STORE_BLOB_SHA_HEX];
    int64_t size = 0;
    int rc = store_blob_commit(u->blob, sha, &size, NULL, err);
    u->blob = NULL;
    if (rc != 0) {
        registry_upload_abort(u);
        return rc;
    }
    int64_t now = mops_now_ms(), by = ctx->who ? ctx->who->user_id : 0, fresh = 0;
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = store_exec(ctx->db, NULL, err,
                         "INSERT INTO artifacts (sha256, size, created_by, created_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                         "tiIi", sha, size, by, now)) == 0 &&
        (rc = store_exec(ctx->db, &fresh, err,
                         "INSERT INTO artifact_uploads (sha256, team_id, created_by, created_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (sha256, team_id) DO NOTHING",
                         "tiIi", sha, u->model.team_id, by, now)) == 0) {
        json_t *detail = json_pack("{s:s, s:I}", "sha256", sha, "size", (json_int_t)size);
        rc = audit_record(ctx, "artifact.upload", reg_target(ctx, &u->model, 0),
                          u->model.team_id, detail, err);
        json_decref(detail);
    }
    rc = store_end(ctx->db, rc, err);
    /* already_stored speaks for this team only: whether another team holds
     * the same bytes is not the uploader's business. */
    if (rc == 0)
        *out = json_pack("{s:s, s:I, s:b}", "sha256", sha, "size", (json_int_t)size,
                         "already_stored", fresh == 0);
    registry_upload_abort(u);
    return rc;
}

int registry_storage(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT m.team_id, m.id, t.name, m.name, SUM(a.size) FROM models m "
                         "JOIN teams t ON t.id = m.team_id "
                         "JOIN (SELECT DISTINCT model_id, artifact_sha256 FROM versions) v "
                         "ON v.model_id = m.id JOIN artifacts a ON a.sha256 = v.artifact_sha256 "
                         "GROUP BY m.team_id, m.id, t.name, m.name",
                         NULL);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(items, json_pack("{s:I, s:I, s:s, s:s, s:I}", "team_id",
                                               (json_int_t)store_col_int(s, 0), "model_id",
                                               (json_int_t)store_col_int(s, 1), "team",
                                               store_col_text(s, 2), "model", store_col_text(s, 3),
                                               "bytes", (json_int_t)store_col_int(s, 4)));
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}
