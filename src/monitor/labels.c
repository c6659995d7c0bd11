/*
 * labels.c — ground truth posted after the fact by request id, kept per
 * deployment and joined with the prediction log in reports.
 */
#include <math.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "monitor/monitor_int.h"

#define LABELS_MAX 10000

int monitor_labels_post(const mops_ctx_t *ctx, const char *deployment, const json_t *spec,
                        json_t **out, mops_err_t *err)
{
    static const mops_json_field_t fields[] = {{"labels", MOPS_JSON_ARRAY, 1}, {NULL, 0, 0}};
    static const mops_json_field_t item[] = {{"request_id", MOPS_JSON_STRING, 1},
                                             {"label", MOPS_JSON_NUMBER, 1},
                                             {"row", MOPS_JSON_INT, 0},
                                             {NULL, 0, 0}};
    int64_t team_id, dep_id;
    int rc = mon_deployment_find(ctx, deployment, AUTH_LABELS_WRITE, &team_id, &dep_id, err);
    if (rc != 0 || (rc = mops_json_check(spec, "request body", fields, err)) != 0)
        return rc;
    const json_t *labels = json_object_get(spec, "labels");
    size_t n = json_array_size(labels), i;
    if (!n || n > LABELS_MAX)
        return mops_err_set(err, MOPS_EINVAL, "labels must hold 1 to %d labels", LABELS_MAX);
    json_t *l;
    json_array_foreach(labels, i, l) {
        char what[48];
        snprintf(what, sizeof what, "labels[%zu]", i);
        if (!json_is_object(l))
            return mops_err_set(err, MOPS_EINVAL, "%s must be an object", what);
        if ((rc = mops_json_check(l, what, item, err)) != 0 ||
            (rc = mops_text_check("request_id", json_string_value(json_object_get(l,
                                                                                  "request_id")),
                                  128, err)) != 0)
            return rc;
        if (!isfinite(json_number_value(json_object_get(l, "label"))))
            return mops_err_set(err, MOPS_EINVAL, "%s.label must be a finite number", what);
        json_int_t row = json_integer_value(json_object_get(l, "row"));
        if (row < 0 || row >= 1000000)
            return mops_err_set(err, MOPS_EINVAL, "%s.row must be from 0 to 999999", what);
    }
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t now = mops_now_ms();
    json_array_foreach(labels, i, l) {
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO monitor_labels (deployment_id, request_id, row_index, label, "
                        "team_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (deployment_id, request_id, row_index) DO UPDATE SET "
                        "label = excluded.label, created_by = excluded.created_by, "
                        "created_at = excluded.created_at",
                        "itidiIi", dep_id, json_string_value(json_object_get(l, "request_id")),
                        (int64_t)json_integer_value(json_object_get(l, "row")),
                        json_number_value(json_object_get(l, "label")), team_id,
                        ctx->who ? ctx->who->user_id : 0, now);
        if (rc != 0)
            break;
    }
    if (rc == 0) {
        json_t *d = json_pack("{s:I}", "labels", (json_int_t)n);
        rc = audit_record(ctx, "labels.upload", deployment, team_id, d, err);
        json_decref(d);
    }
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    *out = json_pack("{s:I}", "accepted", (json_int_t)n);
    return 0;
}
