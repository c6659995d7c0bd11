/*
 * service.c — service figures read back from the flushed hourly
 * aggregates: requests, errors, availability, for reports and for other
 * modules (FinOps, governance).
 */
#include "monitor/monitor_int.h"

int monitor_availability(const mops_ctx_t *ctx, int64_t team_id, int64_t deployment_id,
                         int64_t from_ms, int64_t to_ms, json_t **out, mops_err_t *err)
{
    store_sql_t q;
    store_sql_init(&q, "SELECT coalesce(sum(requests), 0), coalesce(sum(errors), 0) FROM "
                       "monitor_windows WHERE ");
    store_sql_add(&q, "team_id = ? AND start_ms >= ? AND start_ms < ?", "iii", team_id, from_ms,
                  to_ms);
    if (deployment_id)
        store_sql_add(&q, " AND deployment_id = ?", "i", deployment_id);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    int64_t requests = 0, errors = 0;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        requests = store_col_int(s, 0);
        errors = store_col_int(s, 1);
    }
    store_finalize(s);
    if (rc < 0)
        return rc;
    *out = json_pack("{s:I, s:I, s:o}", "requests", (json_int_t)requests, "errors",
                     (json_int_t)errors, "availability",
                     requests ? json_real((double)(requests - errors) / (double)requests)
                              : json_null());
    return 0;
}
