/*
 * value.c — business value: what a model declares a prediction (or a
 * labelled positive outcome) is worth, value events applications post,
 * and the value of a model over a period that ROI is computed from.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/text.h"
#include "core/time.h"
#include "finops/finops_int.h"
#include "registry/registry.h"

static finops_positives_fn positives_fn;

void finops_set_positives(finops_positives_fn fn)
{
    positives_fn = fn;
}

static int rule_read(const mops_ctx_t *ctx, int64_t model_id, double *per_prediction,
                     double *per_positive, int64_t *updated_at, mops_err_t *err)
{
    store_stmt_t *s = NULL;
    *per_prediction = *per_positive = 0;
    *updated_at = 0;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT per_prediction, per_positive, updated_at FROM finops_value_rules "
                         "WHERE model_id = ?",
                         "i", model_id);
    if (rc == 0 && (rc = store_step(s, err)) == STORE_ROW) {
        *per_prediction = store_col_double(s, 0);
        *per_positive = store_col_double(s, 1);
        *updated_at = store_col_int(s, 2);
        rc = 0;
    }
    store_finalize(s);
    return rc;
}

int finops__value(const mops_ctx_t *ctx, int64_t model_id, int64_t version_id,
                  int64_t predictions, int64_t from_ms, int64_t to_ms, double *value,
                  mops_err_t *err)
{
    double per_prediction, per_positive, events = 0;
    int64_t at, positives = 0;
    int rc = rule_read(ctx, model_id, &per_prediction, &per_positive, &at, err);
    if (rc == 0 && per_positive != 0 && positives_fn)
        rc = positives_fn(ctx, model_id, version_id, from_ms, to_ms, &positives, err);
    store_stmt_t *s = NULL;
    if (rc == 0 &&
        (rc = store_query(ctx->db, &s, err,
                          "SELECT COALESCE(SUM(amount), 0) FROM finops_value_events "
                          "WHERE model_id = ? AND (? = 0 OR version_id = ?) AND at >= ? AND at < ?",
                          "iiiii", model_id, version_id, version_id, from_ms, to_ms)) == 0) {
        if ((rc = store_step(s, err)) == STORE_ROW) {
            events = store_col_double(s, 0);
            rc = 0;
        }
        store_finalize(s);
    }
    if (rc == 0)
        *value = per_prediction * (double)predictions + per_positive * (double)positives + events;
    return rc;
}

static json_t *rule_json(const registry_model_ref_t *m, double per_prediction,
                         double per_positive, int64_t at)
{
    return json_pack("{s:s, s:s, s:f, s:f, s:b, s:o}", "team", m->team, "model", m->model,
                     "per_prediction", per_prediction, "per_positive", per_positive,
                     "positives_source", positives_fn != NULL, "updated_at",
                     mops_json_time(at));
}

int finops_value_rule_get(const mops_ctx_t *ctx, const char *team, const char *model,
                          json_t **out, mops_err_t *err)
{
    registry_model_ref_t m;
    double pp, pq;
    int64_t at;
    int rc = registry_model_resolve(ctx, team, model, AUTH_COST_READ, &m, err);
    if (rc == 0)
        rc = rule_read(ctx, m.model_id, &pp, &pq, &at, err);
    if (rc == 0)
        *out = rule_json(&m, pp, pq, at);
    return rc;
}

static int money(const json_t *spec, const char *key, int signed_ok, double *out,
                 mops_err_t *err)
{
    const json_t *v = json_object_get(spec, key);
    if (!v)
        return 0;
    double x = json_number_value(v);
    if (!isfinite(x) || (!signed_ok && x < 0) || fabs(x) > 1e15)
        return mops_err_set(err, MOPS_EINVAL, "%s must be a number%s", key,
                            signed_ok ? " (at most 1e15 either way)" : " from 0 to 1e15");
    *out = x;
    return 0;
}

static const mops_json_field_t rule_fields[] = {
    {"per_prediction", MOPS_JSON_NUMBER, 0},
    {"per_positive", MOPS_JSON_NUMBER, 0},
    {NULL, 0, 0},
};

int finops_value_rule_set(const mops_ctx_t *ctx, const char *team, const char *model,
                          const json_t *spec, json_t **out, mops_err_t *err)
{
    registry_model_ref_t m;
    double pp = 0, pq = 0;
    int rc = registry_model_resolve(ctx, team, model, AUTH_VALUE_WRITE, &m, err);
    if (rc == 0)
        rc = mops_json_check(spec, "request body", rule_fields, err);
    if (rc == 0)
        rc = money(spec, "per_prediction", 0, &pp, err);
    if (rc == 0)
        rc = money(spec, "per_positive", 0, &pq, err);
    if (rc != 0)
        return rc;
    int64_t now = mops_now_ms();
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    rc = store_exec(ctx->db, NULL, err,
                    "INSERT INTO finops_value_rules (model_id, team_id, per_prediction, "
                    "per_positive, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (model_id) DO UPDATE SET per_prediction = "
                    "excluded.per_prediction, per_positive = excluded.per_positive, "
                    "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    "iiddIi", m.model_id, m.team_id, pp, pq, ctx->who ? ctx->who->user_id : 0,
                    now);
    if (rc == 0) {
        char target[2 * MOPS_NAME_MAX + 2];
        snprintf(target, sizeof target, "%s/%s", m.team, m.model);
        json_t *detail = json_pack("{s:f, s:f}", "per_prediction", pp, "per_positive", pq);
        rc = audit_record(ctx, "value.rule.set", target, m.team_id, detail, err);
        json_decref(detail);
    }
    if ((rc = store_end(ctx->db, rc, err)) == 0)
        *out = rule_json(&m, pp, pq, now);
    return rc;
}

static const mops_json_field_t event_fields[] = {
    {"team", MOPS_JSON_STRING, 1},
    {"model", MOPS_JSON_STRING, 1},
    {"amount", MOPS_JSON_NUMBER, 1},
    {"version", MOPS_JSON_INT, 0},
    {"at", MOPS_JSON_STRING, 0},
    {"note", MOPS_JSON_STRING, 0},
    {NULL, 0, 0},
};

int finops_value_event_add(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                           mops_err_t *err)
{
    /* Who may post is known only once the team is: check the types of the
     * two names first, then the permission, then the rest. */
    const char *team = mops_json_str(spec, "team", NULL);
    const char *model = mops_json_str(spec, "model", NULL);
    registry_model_ref_t m;
    int rc = 0;
    if (!json_is_string(json_object_get(spec, "team")) ||
        !json_is_string(json_object_get(spec, "model")))
        rc = mops_json_check(spec, "request body", event_fields, err);
    if (rc == 0)
        rc = registry_model_resolve(ctx, team, model, AUTH_VALUE_WRITE, &m, err);
    if (rc == 0)
        rc = mops_json_check(spec, "request body", event_fields, err);
    double amount = 0;
    if (rc == 0)
        rc = money(spec, "amount", 1, &amount, err);
    int64_t now = mops_now_ms(), at = now, version_id = 0, number = 0;
    const char *when = mops_json_str(spec, "at", NULL);
    if (rc == 0 && when && mops_time_parse(when, &at) != 0)
        rc = mops_err_set(err, MOPS_EINVAL, "at \"%s\" must be an RFC 3339 time",
                          mops_text_show(when));
    const char *note = mops_json_str(spec, "note", "");
    if (rc == 0)
        rc = mops_text_check("note", note, 1000, err);
    if (rc == 0 && json_object_get(spec, "version")) {
        number = json_integer_value(json_object_get(spec, "version"));
        char ref[24];
        snprintf(ref, sizeof ref, "%lld", (long long)number);
        registry_version_ref_t v;
        if ((rc = registry_version_resolve(ctx, team, model, ref, AUTH_VALUE_WRITE, &v, err)) ==
            0)
            version_id = v.version_id;
    }
    if (rc != 0)
        return rc;
    int64_t id = 0;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    rc = store_query_int(ctx->db, &id, err,
                         "INSERT INTO finops_value_events (team_id, model_id, version_id, amount, "
                         "at, note, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                         "RETURNING id",
                         "iiIditIi", m.team_id, m.model_id, version_id, amount, at, note,
                         ctx->who ? ctx->who->user_id : 0, now);
    if (rc == 0) {
        char target[2 * MOPS_NAME_MAX + 2];
        snprintf(target, sizeof target, "%s/%s", m.team, m.model);
        json_t *detail = json_pack("{s:I, s:f}", "id", (json_int_t)id, "amount", amount);
        rc = audit_record(ctx, "value.event", target, m.team_id, detail, err);
        json_decref(detail);
    }
    if ((rc = store_end(ctx->db, rc, err)) == 0)
        *out = json_pack("{s:I, s:s, s:s, s:o, s:f, s:o, s:s}", "id", (json_int_t)id, "team",
                         m.team, "model", m.model,
                         "version", number ? json_integer(number) : json_null(), "amount",
                         amount, "at", mops_json_time(at), "note", note);
    return rc;
}
