/*
 * budget.c — monthly budgets of teams and models: their status this month
 * (cost so far, a linear forecast to the month's end), and the check that
 * fires each alert (80%, 100%, forecast over budget) once a month through
 * the alert seam, and resolves it once it no longer holds: its month has
 * ended, the budget was raised (or the forecast fell), or it was deleted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/text.h"
#include "core/time.h"
#include "finops/finops_int.h"
#include "monitor/monitor.h"
#include "registry/registry.h"

int finops__alert_fire(const mops_ctx_t *ctx, int64_t team_id, int64_t model_id,
                       const char *key, const char *kind, const char *severity,
                       const char *message, double value, double threshold, json_t *detail,
                       mops_err_t *err)
{
    monitor_alert_t a = {.team_id = team_id, .model_id = model_id, .source = "finops",
                         .key = key, .kind = kind, .severity = severity, .message = message,
                         .value = value, .threshold = threshold, .detail = detail};
    int64_t id = 0;
    int fired = 0;
    return monitor_alert_fire(ctx, &a, &id, &fired, err);
}

/* A budget's owner, resolved and checked for perm. */
typedef struct target {
    int64_t team_id, model_id;
    char name[2 * MOPS_NAME_MAX + 2];
} target_t;

static int target_resolve(const mops_ctx_t *ctx, const char *team, const char *model,
                          auth_perm_t perm, target_t *t, mops_err_t *err)
{
    int rc;
    t->model_id = 0;
    if (model) {
        registry_model_ref_t m;
        if ((rc = registry_model_resolve(ctx, team, model, perm, &m, err)) != 0)
            return rc;
        t->team_id = m.team_id;
        t->model_id = m.model_id;
        snprintf(t->name, sizeof t->name, "%s/%s", m.team, m.model);
        return 0;
    }
    if ((rc = auth_team_resolve(ctx, team, &t->team_id, err)) == 0)
        rc = auth_require(ctx, perm, t->team_id, err);
    snprintf(t->name, sizeof t->name, "%s", team);
    return rc;
}

/* This month's cost of every team and model so far (all teams). */
typedef struct month_costs {
    int64_t month, next, now;
    finops_sum_t *models;
    size_t n;
} month_costs_t;

static int month_costs(const mops_ctx_t *ctx, int64_t now, month_costs_t *mc, mops_err_t *err)
{
    mc->now = now;
    mc->month = finops__month_start(now);
    mc->next = finops__month_next(mc->month);
    return finops__compute(ctx, FG_MODEL, mc->month, now + 1, 0, &mc->models, &mc->n, NULL, NULL,
                           NULL, err);
}

static double cost_of(const month_costs_t *mc, int64_t team_id, int64_t model_id)
{
    double c = 0;
    for (size_t i = 0; i < mc->n; i++)
        if (mc->models[i].team_id == team_id && (!model_id || mc->models[i].model_id == model_id))
            c += finops__total(&mc->models[i]);
    return c;
}

static double forecast_of(const month_costs_t *mc, double cost)
{
    double elapsed = (double)(mc->now - mc->month), len = (double)(mc->next - mc->month);
    return elapsed > 0 ? cost * len / elapsed : cost;
}

/* The kinds of budget alert, and whether each is due. */
static const char *const alert_kinds[] = {"80", "100", "forecast"};

static int alert_due(const char *kind, double cost, double forecast, double amount)
{
    if (!strcmp(kind, "80"))
        return cost >= 0.8 * amount;
    if (!strcmp(kind, "100"))
        return cost >= amount;
    return forecast > amount;
}

/* The alert seam's key of budget id's kind in month ("2025-02"). */
static const char *alert_key(const mops_ctx_t *ctx, int64_t id, const char *month,
                             const char *kind)
{
    return mops_arena_printf(ctx->arena, "finops:budget:%lld:%s:%s", (long long)id, month, kind);
}

/* "2025-02" of a month's first millisecond. */
static void month_name(int64_t month, char out[32])
{
    mops_time_format(month, out, 32);
    out[7] = '\0';
}

static json_t *alerts_json(const mops_ctx_t *ctx, int64_t budget_id, int64_t month,
                           mops_err_t *err, int *rc)
{
    json_t *a = json_array();
    store_stmt_t *s = NULL;
    *rc = store_query(ctx->db, &s, err,
                      "SELECT kind, cost, forecast, fired_at, resolved_at FROM "
                      "finops_budget_alerts WHERE budget_id = ? AND month = ? ORDER BY fired_at",
                      "ii", budget_id, month);
    while (*rc >= 0 && (*rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(
            a, json_pack("{s:s, s:f, s:f, s:o, s:o}", "kind", store_col_text(s, 0), "cost",
                         store_col_double(s, 1), "forecast", store_col_double(s, 2), "fired_at",
                         mops_json_time(store_col_int(s, 3)), "resolved_at",
                         store_col_is_null(s, 4) ? json_null()
                                                 : mops_json_time(store_col_int(s, 4))));
    store_finalize(s);
    if (*rc > 0)
        *rc = 0;
    return a;
}

static int budget_json(const mops_ctx_t *ctx, const month_costs_t *mc, int64_t id,
                       int64_t team_id, int64_t model_id, double amount, json_t **out,
                       mops_err_t *err)
{
    double cost = cost_of(mc, team_id, model_id), forecast = forecast_of(mc, cost);
    int rc;
    json_t *alerts = alerts_json(ctx, id, mc->month, err, &rc);
    if (rc != 0) {
        json_decref(alerts);
        return rc;
    }
    *out = json_pack("{s:I, s:s, s:o, s:f, s:o, s:f, s:f, s:f, s:b, s:o}", "id", (json_int_t)id,
                     "team", finops__label(ctx, "team", team_id), "model",
                     model_id ? json_string(finops__label(ctx, "model", model_id)) : json_null(),
                     "amount", amount, "month", mops_json_time(mc->month), "cost", cost,
                     "forecast", forecast, "used", amount > 0 ? cost / amount : 0.0,
                     "forecast_over", forecast > amount, "alerts", alerts);
    return 0;
}

/* A budget alert that fires (read before resolving: one statement at a
 * time on a connection). */
typedef struct open_alert {
    int64_t budget_id, team_id, model_id, month;
    double amount;
    char kind[16];
} open_alert_t;

/* Resolve the firing alerts that no longer hold, inside the caller's
 * transaction: of an ended month, or one whose condition this month's
 * cost (mc) no longer meets; with mc NULL, every one of budget only_budget
 * (being deleted). */
static int settle(const mops_ctx_t *ctx, const month_costs_t *mc, int64_t only_budget,
                  mops_err_t *err)
{
    store_stmt_t *s = NULL;
    open_alert_t *open = NULL;
    size_t n = 0;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT a.budget_id, b.team_id, b.model_id, b.amount, a.month, a.kind "
                         "FROM finops_budget_alerts a JOIN finops_budgets b ON b.id = "
                         "a.budget_id WHERE a.resolved_at IS NULL AND (? = 0 OR a.budget_id = ?)",
                         "ii", only_budget, only_budget);
    while (rc >= 0 && (rc = store_step(s, err)) == STORE_ROW) {
        open = mops_xrealloc(open, (n + 1) * sizeof *open);
        open_alert_t *o = &open[n++];
        *o = (open_alert_t){store_col_int(s, 0), store_col_int(s, 1), store_col_int(s, 2),
                            store_col_int(s, 4), store_col_double(s, 3), ""};
        snprintf(o->kind, sizeof o->kind, "%s", store_col_text(s, 5));
    }
    store_finalize(s);
    rc = rc < 0 ? rc : 0;
    int64_t now = mc ? mc->now : mops_now_ms();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const open_alert_t *o = &open[i];
        if (mc && o->month == mc->month) {
            double cost = cost_of(mc, o->team_id, o->model_id);
            if (alert_due(o->kind, cost, forecast_of(mc, cost), o->amount))
                continue;
        }
        char month[32];
        month_name(o->month, month);
        rc = monitor_alert_resolve(ctx, o->team_id, alert_key(ctx, o->budget_id, month, o->kind),
                                   NULL, err);
        if (rc == 0)
            rc = store_exec(ctx->db, NULL, err,
                            "UPDATE finops_budget_alerts SET resolved_at = ? WHERE budget_id = ? "
                            "AND month = ? AND kind = ?",
                            "iiit", now, o->budget_id, o->month, o->kind);
    }
    free(open);
    return rc;
}

static const mops_json_field_t set_fields[] = {
    {"amount", MOPS_JSON_NUMBER, 1},
    {NULL, 0, 0},
};

int finops_budget_set(const mops_ctx_t *ctx, const char *team, const char *model,
                      const json_t *spec, json_t **out, mops_err_t *err)
{
    target_t t;
    int rc = target_resolve(ctx, team, model, AUTH_BUDGET_WRITE, &t, err);
    if (rc == 0)
        rc = mops_json_check(spec, "request body", set_fields, err);
    double amount = json_number_value(json_object_get(spec, "amount"));
    if (rc == 0 && (!isfinite(amount) || amount <= 0 || amount > 1e15))
        rc = mops_err_set(err, MOPS_EINVAL, "amount must be a number above 0 (at most 1e15)");
    if (rc != 0)
        return rc;
    int64_t now = mops_now_ms(), id = 0;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    /* The name is recorded for reports even before anything is metered. */
    rc = finops__label_set(ctx, "team", t.team_id, t.team_id, 0, team, err);
    if (rc == 0 && model)
        rc = finops__label_set(ctx, "model", t.model_id, t.team_id, 0, model, err);
    if (rc == 0)
        rc = store_query_int(ctx->db, &id, err,
                             "INSERT INTO finops_budgets (team_id, model_id, amount, created_by, "
                             "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT (team_id, model_id) DO UPDATE SET amount = "
                             "excluded.amount, updated_at = excluded.updated_at RETURNING id",
                             "iidIii", t.team_id, t.model_id, amount,
                             ctx->who ? ctx->who->user_id : 0, now, now);
    if (rc == 0) {
        json_t *detail = json_pack("{s:f}", "amount", amount);
        rc = audit_record(ctx, "budget.set", t.name, t.team_id, detail, err);
        json_decref(detail);
    }
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    month_costs_t mc = {0};
    if ((rc = month_costs(ctx, now, &mc, err)) == 0)
        rc = budget_json(ctx, &mc, id, t.team_id, t.model_id, amount, out, err);
    free(mc.models);
    return rc;
}

int finops_budget_delete(const mops_ctx_t *ctx, const char *team, const char *model,
                         mops_err_t *err)
{
    target_t t;
    int rc = target_resolve(ctx, team, model, AUTH_BUDGET_WRITE, &t, err);
    if (rc != 0 || (rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t changes = 0, id = 0;
    rc = store_query_int(ctx->db, &id, err,
                         "SELECT id FROM finops_budgets WHERE team_id = ? AND model_id = ?", "ii",
                         t.team_id, t.model_id);
    if (rc == MOPS_ENOTFOUND)
        rc = 0; /* named below */
    /* Its alerts go with it, resolved first: nothing fires for a budget
     * that no longer exists. */
    if (rc == 0 && id)
        rc = settle(ctx, NULL, id, err);
    if (rc == 0)
        rc = store_exec(ctx->db, NULL, err, "DELETE FROM finops_budget_alerts WHERE budget_id = ?",
                        "i", id);
    if (rc == 0)
        rc = store_exec(ctx->db, &changes, err,
                        "DELETE FROM finops_budgets WHERE team_id = ? AND model_id = ?", "ii",
                        t.team_id, t.model_id);
    if (rc == 0 && !changes)
        rc = mops_err_set(err, MOPS_ENOTFOUND, "%s has no budget", mops_text_show(t.name));
    if (rc == 0)
        rc = audit_record(ctx, "budget.delete", t.name, t.team_id, NULL, err);
    return store_end(ctx->db, rc, err);
}

/* One stored budget. */
typedef struct budget {
    int64_t id, team_id, model_id;
    double amount;
} budget_t;

/* The budgets q selects (id, team_id, model_id, amount), read before the
 * caller runs other statements on the connection: a heap array. */
static int budgets_read(const mops_ctx_t *ctx, const store_sql_t *q, budget_t **out, size_t *n,
                        mops_err_t *err)
{
    store_stmt_t *s = NULL;
    budget_t *b = NULL;
    size_t k = 0;
    int rc = store_sql_query(ctx->db, q, &s, err);
    while (rc >= 0 && (rc = store_step(s, err)) == STORE_ROW) {
        b = mops_xrealloc(b, (k + 1) * sizeof *b);
        b[k++] = (budget_t){store_col_int(s, 0), store_col_int(s, 1), store_col_int(s, 2),
                            store_col_double(s, 3)};
    }
    store_finalize(s);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    *n = k;
    return 0;
}

int finops_budget_list(const mops_ctx_t *ctx, const char *team, json_t **out, mops_err_t *err)
{
    target_t t = {0};
    int rc = team ? target_resolve(ctx, team, NULL, AUTH_COST_READ, &t, err) : 0;
    if (rc != 0)
        return rc;
    mops_err_t ferr;
    if (finops_flush(ctx, &ferr) != 0 && ferr.code != MOPS_EUNAVAIL)
        return mops_err_set(err, ferr.code, "%s", ferr.msg);
    month_costs_t mc = {0};
    if ((rc = month_costs(ctx, mops_now_ms(), &mc, err)) != 0)
        return rc;
    store_sql_t q;
    store_sql_init(&q, "SELECT id, team_id, model_id, amount FROM finops_budgets WHERE ");
    auth_sql_team_filter(ctx, AUTH_COST_READ, "team_id", &q);
    if (team)
        store_sql_add(&q, " AND team_id = ?", "i", t.team_id);
    store_sql_add(&q, " ORDER BY team_id, model_id", NULL);
    json_t *items = json_array();
    budget_t *rows = NULL;
    size_t n = 0;
    rc = budgets_read(ctx, &q, &rows, &n, err);
    store_sql_release(&q);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *b = NULL;
        rc = budget_json(ctx, &mc, rows[i].id, rows[i].team_id, rows[i].model_id,
                         rows[i].amount, &b, err);
        if (rc == 0)
            json_array_append_new(items, b);
    }
    free(rows);
    free(mc.models);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

/* Fire kind for budget b when due and not yet fired this month. */
static int fire(const mops_ctx_t *ctx, const month_costs_t *mc, const budget_t *b, double cost,
                double forecast, const char *kind, int *fired, mops_err_t *err)
{
    int64_t id = b->id, team_id = b->team_id, model_id = b->model_id;
    double amount = b->amount;
    int64_t changes = 0;
    /* Once a month, unless it resolved since (the budget was raised, then
     * lowered again): then it fires anew. */
    int rc = store_exec(ctx->db, &changes, err,
                        "INSERT INTO finops_budget_alerts (budget_id, month, kind, cost, forecast, "
                        "amount, fired_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (budget_id, "
                        "month, kind) DO UPDATE SET cost = excluded.cost, forecast = "
                        "excluded.forecast, amount = excluded.amount, fired_at = "
                        "excluded.fired_at, resolved_at = NULL WHERE "
                        "finops_budget_alerts.resolved_at IS NOT NULL",
                        "iitdddi", id, mc->month, kind, cost, forecast, amount, mc->now);
    if (rc != 0 || !changes)
        return rc;
    const char *team = finops__label(ctx, "team", team_id);
    const char *who = model_id ? mops_arena_printf(ctx->arena, "model %s/%s", team,
                                                   finops__label(ctx, "model", model_id))
                               : mops_arena_printf(ctx->arena, "team %s", team);
    char month[32];
    month_name(mc->month, month);
    char *message =
        !strcmp(kind, "forecast")
            ? mops_arena_printf(ctx->arena,
                                "%s is forecast to spend %.2f in %s, over its budget of %.2f",
                                who, forecast, month, amount)
            : mops_arena_printf(ctx->arena, "%s has spent %.2f in %s: %s%% of its budget of %.2f",
                                who, cost, month, kind, amount);
    const char *key = alert_key(ctx, id, month, kind);
    json_t *detail = json_pack("{s:I, s:s, s:f, s:f, s:f}", "budget_id", (json_int_t)id,
                               "month", month, "amount", amount, "cost", cost, "forecast",
                               forecast);
    double threshold = !strcmp(kind, "80") ? 0.8 * amount : amount;
    rc = finops__alert_fire(ctx, team_id, model_id, key,
                            !strcmp(kind, "forecast") ? "budget_forecast" : "budget",
                            !strcmp(kind, "100") ? "critical" : "warning", message,
                            !strcmp(kind, "forecast") ? forecast : cost, threshold, detail, err);
    if (rc == 0)
        rc = audit_record(ctx, "budget.alert", who, team_id, detail, err);
    json_decref(detail);
    if (rc == 0 && fired)
        (*fired)++;
    return rc;
}

int finops_budgets_check(const mops_ctx_t *ctx, int64_t now_ms, int *fired, mops_err_t *err)
{
    month_costs_t mc = {0};
    int rc = month_costs(ctx, now_ms, &mc, err);
    if (fired)
        *fired = 0;
    if (rc == 0)
        rc = store_begin(ctx->db, err);
    if (rc != 0) {
        free(mc.models);
        return rc;
    }
    budget_t *rows = NULL;
    size_t n = 0;
    store_sql_t q;
    store_sql_init(&q, "SELECT id, team_id, model_id, amount FROM finops_budgets");
    rc = budgets_read(ctx, &q, &rows, &n, err);
    store_sql_release(&q);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const budget_t *b = &rows[i];
        double cost = cost_of(&mc, b->team_id, b->model_id), fc = forecast_of(&mc, cost);
        for (size_t k = 0; rc == 0 && k < sizeof alert_kinds / sizeof alert_kinds[0]; k++)
            if (alert_due(alert_kinds[k], cost, fc, b->amount))
                rc = fire(ctx, &mc, b, cost, fc, alert_kinds[k], fired, err);
    }
    if (rc == 0)
        rc = settle(ctx, &mc, 0, err);
    free(rows);
    free(mc.models);
    return store_end(ctx->db, rc, err);
}
