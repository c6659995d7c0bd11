/*
 * governance.c — the answers monitoring gives governance through its
 * provider table: is a version monitored, and which incidents (alerts)
 * its model had. Reads only, inside the caller's transaction.
 */
#include "core/json.h"
#include "monitor/monitor_int.h"

int monitor_governance_monitoring(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                                  mops_err_t *err)
{
    int64_t refs = 0, rules = 0, deps = 0;
    int rc = store_query_int(ctx->db, &refs, err,
                             "SELECT count(*) FROM monitor_references WHERE version_id = ?", "i",
                             version_id);
    if (rc == 0)
        rc = store_query_int(ctx->db, &deps, err,
                             "SELECT count(DISTINCT t.deployment_id) FROM deployment_targets t "
                             "JOIN deployments d ON d.id = t.deployment_id WHERE t.version_id = ? "
                             "AND d.deleted_at IS NULL",
                             "i", version_id);
    if (rc == 0)
        rc = store_query_int(ctx->db, &rules, err,
                             "SELECT count(*) FROM monitor_rules r JOIN deployment_targets t ON "
                             "t.deployment_id = r.deployment_id WHERE t.version_id = ? AND "
                             "r.deleted_at IS NULL AND r.enabled = 1",
                             "i", version_id);
    if (rc != 0)
        return rc;
    *out = json_pack("{s:b, s:b, s:I, s:I}", "configured", refs > 0 || rules > 0, "reference",
                     refs > 0, "rules", (json_int_t)rules, "deployments", (json_int_t)deps);
    return 0;
}

int monitor_governance_incidents(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms,
                                 int64_t to_ms, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT a.id, a.kind, a.severity, a.message, a.state, a.fired_at, "
                         "a.resolved_at FROM monitor_alerts a JOIN versions v ON v.model_id = "
                         "a.model_id WHERE v.id = ? AND a.fired_at >= ? AND a.fired_at < ? "
                         "ORDER BY a.id",
                         "iii", version_id, from_ms, to_ms);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o}", "id",
                             (json_int_t)store_col_int(s, 0), "kind", store_col_text(s, 1),
                             "severity", store_col_text(s, 2), "message", store_col_text(s, 3),
                             "state", store_col_text(s, 4), "fired_at",
                             mops_json_time(store_col_int(s, 5)), "resolved_at",
                             mops_json_time(store_col_is_null(s, 6) ? 0 : store_col_int(s, 6))));
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = items;
    return 0;
}

int monitor_version_monitored(const mops_ctx_t *ctx, int64_t version_id, int *yes,
                              mops_err_t *err)
{
    json_t *m = NULL;
    int rc = monitor_governance_monitoring(ctx, version_id, &m, err);
    if (rc == 0)
        *yes = json_is_true(json_object_get(m, "configured"));
    json_decref(m);
    return rc;
}

int monitor_labels_positives(const mops_ctx_t *ctx, int64_t model_id, int64_t version_id,
                             int64_t from_ms, int64_t to_ms, int64_t *n, mops_err_t *err)
{
    /* A label names a request (and a row of it); the prediction log says
     * which version answered it. Of one version, or of every version of
     * the model when version_id is 0. */
    return store_query_int(ctx->db, n, err,
                           "SELECT count(*) FROM monitor_labels l JOIN prediction_log p ON "
                           "p.request_id = l.request_id AND p.deployment_id = l.deployment_id "
                           "AND p.role <> 'shadow' JOIN versions v ON v.id = p.version_id "
                           "WHERE l.label = 1 AND l.created_at >= ? AND l.created_at < ? AND "
                           "(p.version_id = ? OR (? = 0 AND v.model_id = ?))",
                           "iiiii", from_ms, to_ms, version_id, version_id, model_id);
}
