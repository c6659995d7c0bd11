/*
 * finops.h — FinOps and the ModelOps KPIs: measured usage and its cost per
 * team, model, version, deployment and prediction; the price sheet;
 * monthly budgets and their alerts; business value and ROI; the KPIs
 * owners of models are held to. docs/finops.md and docs/kpis.md say what
 * each figure means.
 *
 * Metering. finops_start registers an observer with serving (serve.h):
 * every request, shadow run and batch job adds its thread CPU time, wall
 * time, bytes and rows to an in-memory accumulator per (team, version,
 * deployment, hour) under a short striped lock. A thread of this module
 * (and every cost read, for the server it runs on) flushes them into
 * finops_usage by adding, so sums over the rollups equal the sums of the
 * events exactly; a failed flush puts what it took back. Each flush also
 * accrues the memory held by the loaded models (serve_models_loaded) and
 * the storage of artifacts, datasets and the prediction log (sampled from
 * their owners every storage interval) over the time since the previous
 * flush, and the process's own CPU time (getrusage) and capacity (CPUs x
 * wall time), from which the shared overhead and the idle capacity come.
 *
 * Costs are usage x the price sheet in effect for each hour of usage;
 * overhead and idle capacity are allocated to teams in proportion to their
 * metered CPU in that hour and shown as their own lines, as OpenCost does.
 *
 * Conventions are the domain modules' (docs/architecture.md): functions
 * take the request context, return 0 or a negative MOPS_E* code with err
 * filled, take JSON in (validated here) and give JSON out (new references
 * the caller releases). Money is in the price sheet's currency (USD unless
 * set); GB means 2^30 bytes; a month is 730 hours.
 */
#ifndef MOPS_FINOPS_FINOPS_H
#define MOPS_FINOPS_FINOPS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"
#include "store/store.h"

/* ------------------------------------------------------------ lifecycle */

typedef struct finops_options {
    int flush_ms;   /* how often usage is written and budgets checked (10000) */
    int storage_ms; /* how often storage sizes are sampled (3600000) */
} finops_options_t;

#define FINOPS_OPTIONS_INIT {10000, 3600000}

/* Register the serving observer and start the metering thread on store
 * st. Call before serve_start (observers are registered before serving
 * starts); st and env must outlive finops_stop. One per process. */
int finops_start(store_t *st, const mops_env_t *env, const finops_options_t *opts,
                 mops_err_t *err);

/* Stop the thread after a last flush. Call after serve_stop (so the last
 * events are counted) and before the store closes. Safe when finops_start
 * did not run. */
void finops_stop(void);

/* Write this server's accumulated usage now (a cost read does it first, so
 * it sees everything this server served). ctx->db must not be in a
 * transaction. MOPS_EUNAVAIL when metering is not running. */
int finops_flush(const mops_ctx_t *ctx, mops_err_t *err);

/* ------------------------------------------------------------ prices */

/* The price sheet in effect now (version 0 is the built-in default, from
 * OpenCost's published defaults) and the list of versions:
 * {"version", "currency", "prices": {"cpu_core_hour", "ram_gb_hour",
 * "storage_gb_month", "gpu_hour", "egress_gb", "deployment_month"},
 * "note", "effective_from", "created_by", "created_at", "versions": [...]}.
 * Any signed-in user may read it. */
int finops_prices_get(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);

/* A new version of the price sheet (price.write). spec: {"prices": {any of
 * the six keys: a number >= 0; those left out keep their current value},
 * "currency"?: 3 upper-case letters, "note"?: text, "effective_from"?:
 * RFC 3339 time (default: now)}. A version applies to usage hours that
 * start at or after effective_from rounded down to the hour, until a
 * later one's. Audited. *out: the new sheet. */
int finops_prices_set(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                      mops_err_t *err);

/* ------------------------------------------------------------ costs */

typedef struct finops_query {
    const char *group_by; /* "team" (default), "model", "deployment" or "version" */
    const char *team;     /* only this team (NULL: every team the caller may read) */
    const char *from;     /* RFC 3339; NULL: the start of this month (UTC) */
    const char *to;       /* RFC 3339; NULL: now */
} finops_query_t;

/* Usage, cost, value and ROI for the period, grouped (cost.read in each
 * team shown; a named team the caller cannot see is MOPS_ENOTFOUND).
 * *out: {"from", "to", "currency", "group_by", "items": [{"team", "model"?,
 * "version"?, "deployment"?, "usage": {...}, "cost": {"cpu", "ram", "gpu",
 * "storage", "egress", "fixed", "overhead", "idle_capacity", "total"},
 * "idle_deployment_cost", "cost_per_1k", "value", "roi"}], "total": {...},
 * "server": {process, metered, overhead, capacity and idle CPU seconds}}.
 * This server's usage is flushed first. */
int finops_costs(const mops_ctx_t *ctx, const finops_query_t *q, json_t **out, mops_err_t *err);

/* The same costs as CSV in the FinOps FOCUS layout (one row per charge:
 * group, hour and kind of usage) into *csv (heap, the caller frees). */
int finops_costs_focus(const mops_ctx_t *ctx, const finops_query_t *q, char **csv, size_t *len,
                       mops_err_t *err);

/* ------------------------------------------------------------ budgets */

/* Set the monthly budget of team (model NULL) or of one of its models
 * (budget.write). spec: {"amount": number > 0}. Audited. *out: the budget
 * with its status this month. */
int finops_budget_set(const mops_ctx_t *ctx, const char *team, const char *model,
                      const json_t *spec, json_t **out, mops_err_t *err);

/* Remove a budget (budget.write). Audited. */
int finops_budget_delete(const mops_ctx_t *ctx, const char *team, const char *model,
                         mops_err_t *err);

/* Budgets of the teams the caller may read costs of (team: only that
 * one), each with this month's cost, forecast (a linear projection to the
 * month's end), share used and the alerts fired: {"items": [...]}. */
int finops_budget_list(const mops_ctx_t *ctx, const char *team, json_t **out, mops_err_t *err);

/* Check every budget against this month's costs at now_ms and fire what
 * is due (80%, 100%, forecast over budget), each once a month, through
 * the alert path (monitoring's when merged, else a budget.alert webhook
 * event) in one transaction with its audit entry. *fired (may be NULL):
 * how many fired. Run by the metering thread after each flush. */
int finops_budgets_check(const mops_ctx_t *ctx, int64_t now_ms, int *fired, mops_err_t *err);

/* ------------------------------------------------------------ value */

/* Declare what a model's predictions are worth (value.write): spec
 * {"per_prediction"?: number, "per_positive"?: number} (>= 0; missing
 * ones are 0). Audited. *out: the rule. */
int finops_value_rule_set(const mops_ctx_t *ctx, const char *team, const char *model,
                          const json_t *spec, json_t **out, mops_err_t *err);

/* The model's value rule (cost.read): {"per_prediction", "per_positive",
 * "updated_at"...}, zeros when none was declared. */
int finops_value_rule_get(const mops_ctx_t *ctx, const char *team, const char *model,
                          json_t **out, mops_err_t *err);

/* Record realised value (value.write): spec {"team", "model", "amount"
 * (any number; negative for a loss), "version"?: N, "at"?: time (default
 * now), "note"?: text}. Audited. *out: the event. */
int finops_value_event_add(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                           mops_err_t *err);

/* Labelled positive outcomes of a model's version (version_id 0: of
 * every version) in [from_ms, to_ms): the seam through which monitoring's
 * ground truth reaches value (per_positive). Until one is set, positives
 * count 0. */
typedef int (*finops_positives_fn)(const mops_ctx_t *ctx, int64_t model_id, int64_t version_id,
                                   int64_t from_ms, int64_t to_ms, int64_t *positives,
                                   mops_err_t *err);
void finops_set_positives(finops_positives_fn fn);

/* ------------------------------------------------------------ KPIs */

/* The seam to monitoring for the KPIs (set at start-up by the server once
 * the monitor module is in it; a NULL hook makes its KPI "not available"):
 * availability of a team's deployments (deployment_id 0: all of them) as
 * {"availability": 0..1, ...}; alerts of a team's model (model_id 0: all)
 * fired in the period; whether a version is monitored. */
typedef struct finops_monitor {
    int (*availability)(const mops_ctx_t *ctx, int64_t team_id, int64_t deployment_id,
                        int64_t from_ms, int64_t to_ms, json_t **out, mops_err_t *err);
    int (*alert_count)(const mops_ctx_t *ctx, int64_t team_id, int64_t model_id,
                       int64_t from_ms, int64_t to_ms, int64_t *n, mops_err_t *err);
    int (*monitored)(const mops_ctx_t *ctx, int64_t version_id, int *yes, mops_err_t *err);
} finops_monitor_t;

void finops_set_monitor(const finops_monitor_t *m);

/* The ModelOps KPIs over [from, to) (RFC 3339; NULL: the last 30 days), per
 * team the caller may read (kpi.read) and for all of them together
 * (docs/kpis.md defines each): {"from", "to", "teams": [{"team", ...}],
 * "org": {...}}. team: only that one. */
int finops_kpis(const mops_ctx_t *ctx, const char *team, const char *from, const char *to,
                json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ governance */

/* governance_providers_t.cost_per_1k: {"cost_per_1k", "currency",
 * "predictions", "from", "to"} over the last 30 days (null when the
 * version served nothing). Runs inside the caller's transaction. */
int finops_governance_cost_per_1k(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                                  mops_err_t *err);

/* governance_providers_t.predictions: {"predictions", "source"}: rows the
 * version answered (requests and batch jobs, not shadow runs) in the hours
 * that meet [from_ms, to_ms), exactly: metering sees every request, where
 * the prediction log samples under load. Up to one meter interval behind. */
int finops_governance_predictions(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms,
                                  int64_t to_ms, json_t **out, mops_err_t *err);

/* Rows team/model@version answered through the team's deployment named
 * deployment (every deployment of that name, deleted ones included), as
 * metered: for lineage, where the prediction log samples under load.
 * Needs model.read. */
int finops_lineage_predictions(const mops_ctx_t *ctx, const char *team, const char *model,
                               int64_t version, const char *deployment, int64_t *n,
                               mops_err_t *err);

/* governance_providers_t.cost: {"cost", "value", "currency"} of the
 * version in [from_ms, to_ms). */
int finops_governance_cost(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms,
                           int64_t to_ms, json_t **out, mops_err_t *err);

#endif
