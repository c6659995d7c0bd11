/*
 * timeline.c — the governance history of every version in one read, for
 * the KPIs (finops): when its first review was requested and first
 * decided, when it first and last entered production, and whether its
 * card is written and names an owner.
 */
#include <string.h>

#include "governance/governance_int.h"

int governance_timeline(const mops_ctx_t *ctx, int64_t team_id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT v.id, m.team_id, m.id, v.stage, v.created_at, "
        "(SELECT MIN(r.requested_at) FROM gov_reviews r WHERE r.version_id = v.id), "
        "(SELECT MIN(d.created_at) FROM gov_decisions d WHERE d.version_id = v.id), "
        "(SELECT MIN(t.created_at) FROM gov_transitions t WHERE t.version_id = v.id "
        " AND t.to_stage = 'production'), "
        "(SELECT MAX(t.created_at) FROM gov_transitions t WHERE t.version_id = v.id "
        " AND t.to_stage = 'production'), "
        "(SELECT c.fields FROM gov_cards c WHERE c.version_id = v.id), v.dataset "
        "FROM versions v JOIN models m ON m.id = v.model_id "
        "WHERE m.archived_at IS NULL AND (? = 0 OR m.team_id = ?) ORDER BY v.id",
        "ii", team_id, team_id);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        json_t *fields = NULL;
        int card = 0, owner = 0;
        if (!store_col_is_null(s, 9)) {
            fields = json_loads(store_col_text(s, 9), 0, NULL);
            const char *k;
            json_t *v;
            json_object_foreach(fields, k, v) {
                if (json_is_string(v) && *json_string_value(v)) {
                    card = 1;
                    if (!strcmp(k, "owner"))
                        owner = 1;
                }
            }
            json_decref(fields);
        }
        json_t *item = json_pack(
            "{s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:s}", "version_id",
            (json_int_t)store_col_int(s, 0), "team_id", (json_int_t)store_col_int(s, 1),
            "model_id", (json_int_t)store_col_int(s, 2), "stage", store_col_text(s, 3),
            "created_at", (json_int_t)store_col_int(s, 4), "review_requested_at",
            (json_int_t)store_col_int(s, 5), "decided_at", (json_int_t)store_col_int(s, 6),
            "production_first_at", (json_int_t)store_col_int(s, 7), "production_last_at",
            (json_int_t)store_col_int(s, 8), "card", card, "card_owner", owner, "dataset",
            store_col_text(s, 10));
        json_array_append_new(items, item);
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}
