/*
 * usage.c — what serving holds, for metering (FinOps): the models loaded
 * on this server with the deployments that use them, and the prediction
 * log's size per team and deployment. Read-only.
 */
#include "serve/serve_int.h"

#include <stdlib.h>

static json_t *target_json(const serve_config_t *c, const serve_target_t *t)
{
    return json_pack("{s:I, s:I, s:s}", "deployment_id", (json_int_t)c->deployment_id,
                     "version_id", (json_int_t)t->model->version_id, "role",
                     serve_role_name(t->role));
}

int serve_models_loaded(json_t **out, mops_err_t *err)
{
    int rc = serve__running(err);
    if (rc != 0)
        return rc;
    json_t *models = json_array(), *deps = json_array();
    serve__models_each(models);
    size_t n = 0;
    serve_config_t **all = serve__configs_all(&n);
    for (size_t i = 0; i < n; i++) {
        serve_config_t *c = all[i];
        json_t *targets = json_array();
        for (size_t k = 0; k < c->ntargets; k++)
            json_array_append_new(targets, target_json(c, &c->targets[k]));
        for (size_t k = 0; k < c->nshadows; k++)
            json_array_append_new(targets, target_json(c, &c->shadows[k]));
        const serve_model_t *p = c->ntargets ? c->targets[0].model : NULL;
        json_array_append_new(
            deps, json_pack("{s:I, s:s, s:I, s:I, s:I, s:o}", "id", (json_int_t)c->deployment_id,
                            "name", c->name, "team_id", (json_int_t)c->team_id, "model_id",
                            (json_int_t)(p ? p->ref.m.model_id : 0), "version_id",
                            (json_int_t)(p ? p->version_id : 0), "targets", targets));
        serve__config_unref(c);
    }
    free(all);
    *out = json_pack("{s:o, s:o}", "models", models, "deployments", deps);
    return 0;
}

int serve_log_storage(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    /* The rows' arrays (8 bytes a value) and a fixed part per row: an
     * estimate the database's own page accounting would not give per team
     * on both backends. */
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT team_id, COALESCE(deployment_id, 0), COUNT(*), "
                         "SUM(n_rows * (n_features + n_outputs)) FROM prediction_log "
                         "GROUP BY team_id, COALESCE(deployment_id, 0)",
                         NULL);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        int64_t rows = store_col_int(s, 2), values = store_col_int(s, 3);
        json_array_append_new(items, json_pack("{s:I, s:I, s:I, s:I}", "team_id",
                                               (json_int_t)store_col_int(s, 0), "deployment_id",
                                               (json_int_t)store_col_int(s, 1), "rows",
                                               (json_int_t)rows, "bytes",
                                               (json_int_t)(values * 8 + rows * 160)));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}
