/*
 * monitor.h — monitoring: alerts (shared with FinOps budgets), what serving
 * is folded into (hourly aggregates of every request per deployment,
 * version and feature), reference profiles, ground-truth labels, drift and
 * performance reports, alert rules and their evaluator, retraining
 * requests, and the Prometheus endpoint.
 *
 * Conventions are the domain modules' (docs/architecture.md): functions
 * return 0 or a negative MOPS_E* code with err filled, take JSON in and give
 * JSON out (new references the caller releases); every write runs in one
 * store transaction with its audit entry. Functions documented as running
 * "inside the caller's transaction" neither begin nor commit one.
 */
#ifndef MOPS_MONITOR_MONITOR_H
#define MOPS_MONITOR_MONITOR_H

#include <jansson.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"
#include "core/mem.h"
#include "store/store.h"

/* ------------------------------------------------------------ alerts */

/* A condition that fires, for monitoring rules and FinOps budgets alike.
 * Strings and detail are borrowed for the call. */
typedef struct monitor_alert {
    int64_t team_id;
    int64_t model_id;       /* 0 when not about one model */
    int64_t deployment_id;  /* 0 when not about one deployment */
    const char *source;     /* "monitor" | "finops" */
    const char *key;        /* the condition, unique per team while firing: "rule:12", "budget:3:80" */
    const char *kind;       /* "drift", "accuracy", "latency", "errors", "availability", "budget", "forecast", ... */
    const char *severity;   /* "info" | "warning" | "critical" */
    const char *message;    /* for people */
    double value, threshold;
    const json_t *detail;   /* borrowed, may be NULL */
} monitor_alert_t;

/* Inside the caller's transaction: record a firing alert unless (team, key)
 * fires already (then *id is that one and *fired 0); queue notify event
 * "alert.firing" (notify_enqueue); audited ("alert.fire"). A drift or
 * accuracy alert about a model also opens a retraining request on it,
 * unless one is open already. id and fired may be NULL. MOPS_EINVAL for a
 * malformed alert (unknown severity or source, empty key or kind, a
 * non-finite value), MOPS_EINTERNAL outside a transaction. */
int monitor_alert_fire(const mops_ctx_t *ctx, const monitor_alert_t *a, int64_t *id, int *fired,
                       mops_err_t *err);

/* Inside the caller's transaction: resolve the firing alert (team, key) if
 * any; "alert.resolved" is queued and the change audited. *resolved (may
 * be NULL) says whether one was firing. */
int monitor_alert_resolve(const mops_ctx_t *ctx, int64_t team_id, const char *key, int *resolved,
                          mops_err_t *err);

/* Alerts fired in [from_ms, to_ms) about model_id (0: every model of the
 * team, and alerts about no model). No permission check: for other
 * modules' figures. */
int monitor_alert_count(const mops_ctx_t *ctx, int64_t team_id, int64_t model_id, int64_t from_ms,
                        int64_t to_ms, int64_t *n, mops_err_t *err);

typedef struct monitor_alert_filter {
    const char *team;       /* may be NULL: every team the caller may see */
    const char *state;      /* "firing", "resolved" or NULL */
    const char *source;     /* "monitor", "finops" or NULL */
    const char *deployment; /* a deployment name or NULL */
    int64_t before_id;      /* page token (0: from the newest) */
    int limit;              /* 1..1000 (50) */
} monitor_alert_filter_t;

/* Alerts the caller may see (monitor.read), newest first:
 * {"items": [...], "next_page_token"}. */
int monitor_alert_list(const mops_ctx_t *ctx, const monitor_alert_filter_t *f, json_t **out,
                       mops_err_t *err);

/* ------------------------------------------------------ retraining requests */

typedef struct monitor_retraining_filter {
    int mine;          /* only requests on models the caller owns */
    const char *team;  /* may be NULL */
    const char *state; /* "open", "closed" or NULL */
    int64_t before_id; /* page token */
    int limit;         /* 1..1000 (50) */
} monitor_retraining_filter_t;

/* Retraining requests the caller may see (monitor.read), newest first:
 * {"items": [{"id", "team", "model", "owner", "alert", "reason", "state",
 * ...}], "next_page_token"}. */
int monitor_retraining_list(const mops_ctx_t *ctx, const monitor_retraining_filter_t *f,
                            json_t **out, mops_err_t *err);

/* Close a retraining request: spec {"note"?}. The model's owner or whoever
 * holds model.write on its team. *out: the request. Audited. Closing a
 * closed request changes nothing and answers it as it is. */
int monitor_retraining_close(const mops_ctx_t *ctx, int64_t id, const json_t *spec, json_t **out,
                             mops_err_t *err);

/* ------------------------------------------------------------ alert rules */

/*
 * A deployment's alert rules: when the figure "metric" of the last
 * "window" compares with "threshold" by "op", the rule's alert (key
 * "rule:ID", source "monitor") fires; when it no longer does, it resolves.
 * The monitoring thread evaluates every enabled rule after each write-out
 * (monitor_options_t.flush_ms). A rule's figure is the worst over the
 * deployment's versions (and over features unless "feature" names one);
 * a figure that cannot be computed (no traffic, no reference profile, no
 * labels) leaves the alert as it is. Windows are read from the hourly
 * aggregates, so a window covers the hours it overlaps.
 *
 * Metrics (their default op; alert kind):
 *   drift_share (>=; drift)            share of drifted features
 *   psi, wasserstein, jensen_shannon (>), ks_p_value, chi2_p_value (<);
 *                                      drift — of "feature", or the worst
 *   prediction_psi (>; drift)          PSI of an output ("feature": its name)
 *   accuracy, precision, recall, f1, roc_auc, r2 (<), log_loss, rmse,
 *   mae (>); accuracy                  performance from labels
 *   error_rate (>; errors), availability (<; availability),
 *   latency_p50, latency_p95, latency_p99 (>, ms; latency),
 *   requests (<; traffic)              the deployment's service figures
 *
 * A rule: {"id", "name", "deployment", "metric", "feature", "op",
 * "threshold", "window" ("15m", "1h", "7d"), "severity", "enabled",
 * "created_at", "updated_at", "firing", "alert" (the firing alert's id)}.
 * A rule created, or changed while enabled, is evaluated at once, so the
 * answer says whether it fires.
 */

/* spec: {"name", "metric", "threshold", "feature"?, "op"?, "window"? ("1h"),
 * "severity"? ("warning"), "enabled"? (true)}. monitor.write on the
 * deployment's team; at most 100 rules per deployment (MOPS_EPRECOND); a
 * name in use is MOPS_ECONFLICT. *out: the rule. Audited
 * ("alert_rule.create"). */
int monitor_rule_create(const mops_ctx_t *ctx, const char *deployment, const json_t *spec,
                        json_t **out, mops_err_t *err);

/* The deployment's rules by name (monitor.read): {"items": [...]}. */
int monitor_rule_list(const mops_ctx_t *ctx, const char *deployment, json_t **out,
                      mops_err_t *err);

/* One rule (monitor.read); MOPS_ENOTFOUND. */
int monitor_rule_get(const mops_ctx_t *ctx, const char *deployment, const char *name,
                     json_t **out, mops_err_t *err);

/* spec: any of metric, threshold, feature (null: every one), op, window,
 * severity, enabled (monitor.write). Disabling resolves the rule's
 * alert. *out: the rule. Audited ("alert_rule.update"). */
int monitor_rule_update(const mops_ctx_t *ctx, const char *deployment, const char *name,
                        const json_t *spec, json_t **out, mops_err_t *err);

/* Delete a rule (monitor.write), resolving its alert. Audited
 * ("alert_rule.delete"). */
int monitor_rule_delete(const mops_ctx_t *ctx, const char *deployment, const char *name,
                        mops_err_t *err);

/* ------------------------------------------------------------ aggregates */

/*
 * Every inference request served by a deployment (sampled by the
 * prediction log or not) is folded, on the request's thread into a stripe
 * of its own (no lock shared with other request threads; the writer merges
 * the stripes), into the current hourly window of its deployment and
 * version: requests, errors, a latency sketch and fixed Prometheus
 * buckets, and per input feature and per output: count, missing (NaN),
 * moments and a KLL quantile sketch — constant memory whatever the
 * traffic. A thread of ours writes windows out every flush_ms, merging
 * them into the stored row of the same window (other servers sharing the
 * database merge into it too), so an hour, a day or a month is the exact
 * merge of its windows.
 */
#define MONITOR_WINDOW_MS 3600000

typedef struct monitor_options {
    int flush_ms; /* how often windows are written out and rules evaluated */
} monitor_options_t;

#define MONITOR_OPTIONS_INIT {5000}

/* Register the serving observer (call before serve_start) and start the
 * thread that writes windows and evaluates alert rules, on store st (it
 * takes connections of its own). One per process. */
int monitor_start(store_t *st, const mops_env_t *env, const monitor_options_t *opts,
                  mops_err_t *err);

/* Write out what is folded, stop the thread, free everything. Call after
 * serve_stop (no more requests) and before the store closes. Safe when
 * monitor_start did not run. */
void monitor_stop(void);

/* Write every window folded so far to the store now, on the calling
 * thread (reports call it so they include this server's latest requests).
 * A no-op when monitoring is not running. */
int monitor_flush(store_conn_t *db, mops_err_t *err);

/* The serving observer itself (serve_observer_fn), for tests and benches
 * that drive it directly; arg is unused. */
typedef struct serve_event serve_event_t;
void monitor_observe(const serve_event_t *ev, void *arg);

/* ------------------------------------------------------------ references */

/* A model version's reference profile (what drift is measured against),
 * from a CSV of its training or validation data with a header row: every
 * numeric column named like a model feature (or every numeric column)
 * summarised with the same sketches as the live windows (stats_column:
 * count, missing, moments, KLL). The newest profile of a version is the
 * one used. _begin resolves the version and checks monitor.write; then
 * _write any number of times; _finish records it (audited,
 * "reference.create") and answers {"version", "rows", "columns": [{"name",
 * "count", "missing"}]}; or _abort. */
typedef struct monitor_upload monitor_upload_t;
int monitor_reference_begin(const mops_ctx_t *ctx, const char *team, const char *model,
                            const char *version, int64_t max_bytes, monitor_upload_t **out,
                            mops_err_t *err);
int monitor_reference_write(monitor_upload_t *u, const void *p, size_t n, mops_err_t *err);
int monitor_reference_finish(const mops_ctx_t *ctx, monitor_upload_t *u, json_t **out,
                             mops_err_t *err);
void monitor_reference_abort(monitor_upload_t *u);

/* A version's reference profile from a registered dataset version: spec
 * {"dataset": "dataset:TEAM/NAME@N"}; its profile's sketches
 * (data_version_sketches: the caller needs dataset.read) for every
 * column that is not text, in the dataset's order; monitor.write on the
 * model's team. *out: {"version", "source", "rows", "columns"}. Audited
 * ("reference.create"). Categorical columns are not recognised in
 * dataset references (their drift is measured as numbers). */
int monitor_reference_from_dataset(const mops_ctx_t *ctx, const char *team, const char *model,
                                   const char *version, const json_t *spec, json_t **out,
                                   mops_err_t *err);

/* The version's reference profile as recorded (monitor.read): {"version",
 * "source" ("csv" or the dataset reference), "rows", "created_at",
 * "columns": [{"name", "count", "missing", "mean", "std", "categorical",
 * "pii"?}]}; PII-tagged columns (data_model_pii) show no mean or std.
 * MOPS_ENOTFOUND when it has none. */
int monitor_reference_get(const mops_ctx_t *ctx, const char *team, const char *model,
                          const char *version, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ labels */

/* Ground truth for a deployment's requests (labels.write): spec
 * {"labels": [{"request_id", "label": number, "row"?: index (0)}]}, at
 * most 10000 per call; a label given again replaces the old one. Joined
 * with the prediction log by request id in reports. *out: {"accepted"}.
 * Audited ("labels.upload", with the count). */
int monitor_labels_post(const mops_ctx_t *ctx, const char *deployment, const json_t *spec,
                        json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ reports */

/* The monitoring report of a deployment (monitor.read) over [from_ms,
 * to_ms) (0, 0: the last 24 hours), windows merged per version: for each
 * version with traffic, per-feature drift against its reference profile
 * (method, score, threshold, drifted), prediction drift on outputs, the
 * dataset drift share, performance from labels, and service figures
 * (requests, errors, availability, latency p50/p95/p99 in ms). This
 * server's latest requests are written out first. */
int monitor_report(const mops_ctx_t *ctx, const char *deployment, int64_t from_ms, int64_t to_ms,
                   json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ service */

/* Requests, errors and availability (answered / all) of a deployment (0:
 * every deployment of the team) in [from_ms, to_ms), from the service
 * aggregates: {"requests", "errors", "availability"} (availability null
 * without requests). Windows are hourly: a window counts when its start
 * lies in the interval. No permission check: for other modules. */
int monitor_availability(const mops_ctx_t *ctx, int64_t team_id, int64_t deployment_id,
                         int64_t from_ms, int64_t to_ms, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ drift math */

/*
 * The drift statistics, on two distributions given either as raw values
 * (exact: the figures SciPy computes on the same data) or as KLL sketches
 * (each CDF read within the sketch's rank error ε, stats_kll_epsilon).
 *
 *   KS         two-sample Kolmogorov–Smirnov statistic D = sup|F_ref − F_cur|
 *              (scipy.stats.ks_2samp) and its asymptotic p-value
 *              Q_KS(D·√(n·m/(n+m))) (scipy.stats.kstwobign.sf)
 *   Wasserstein-1  ∫|F_ref − F_cur| dx (scipy.stats.wasserstein_distance)
 *              divided by the reference's population standard deviation
 *              (by 1 when that is 0)
 *   PSI        over 10 reference quantile bins (edges: the reference's
 *              deciles, numpy's linear interpolation for raw values; first
 *              and last bins open), Σ (c − r)·ln(c / r) over the bins'
 *              shares, a share of 0 replaced by MONITOR_PSI_EPSILON
 *   JS         Jensen–Shannon distance of the same 10 bins' shares, natural
 *              log (scipy.spatial.distance.jensenshannon)
 *   chi-square p-value of the 2×k contingency table of category counts
 *              (scipy.stats.chi2_contingency, Yates' correction at 1 degree
 *              of freedom); categories absent from both are left out
 */
#define MONITOR_PSI_EPSILON 1e-4
#define MONITOR_PSI_BINS 10

typedef struct stats_kll stats_kll_t;

/* One side of a comparison: sorted raw values, or a sketch. */
typedef struct monitor_dist {
    const double *sorted; /* n values in ascending order, or NULL */
    size_t n;
    const stats_kll_t *kll; /* when sorted is NULL */
    double std;             /* population standard deviation (ddof 0) */
} monitor_dist_t;

typedef struct monitor_drift {
    double ks, ks_p, wasserstein, psi, js;
    double ref_bins[MONITOR_PSI_BINS], cur_bins[MONITOR_PSI_BINS]; /* shares */
} monitor_drift_t;

/* Every numeric statistic of cur against ref. MOPS_EINVAL when either side
 * is empty. */
int monitor_drift_numeric(const monitor_dist_t *ref, const monitor_dist_t *cur,
                          monitor_drift_t *out, mops_err_t *err);

/* Chi-square p-value and JS distance of two count vectors over k
 * categories. MOPS_EINVAL when a side has no counts. */
int monitor_drift_categorical(const double *ref_counts, const double *cur_counts, size_t k,
                              double *chi2_p, double *js, mops_err_t *err);

/* The asymptotic Kolmogorov distribution's survival function Q_KS(λ). */
double monitor_kolmogorov_sf(double lambda);

/* ------------------------------------------------------------ governance */

/* Governance's "monitoring" hook (governance_providers_t.monitoring):
 * {"configured": bool, "reference": bool, "rules": N, "deployments": N}:
 * configured when the version has a reference profile or a deployment
 * routing to it has alert rules. Reads only, no permission check. */
int monitor_governance_monitoring(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                                  mops_err_t *err);

/* Governance's "incidents" hook: the alerts about the version's model
 * fired in [from_ms, to_ms), as a JSON array of {"id", "kind", "severity",
 * "message", "state", "fired_at", "resolved_at"}. Reads only. */
int monitor_governance_incidents(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms,
                                 int64_t to_ms, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ FinOps */

/* FinOps' hooks (finops_monitor_t, finops_positives_fn; registered by
 * server.c). monitored: *yes when the version is monitored, as
 * monitor_governance_monitoring says "configured". positives: labels of 1
 * (a positive outcome) posted in [from_ms, to_ms) for predictions of
 * version_id (0: of every version of model_id), as far as the prediction
 * log kept those predictions (it samples under load). Reads only. */
int monitor_version_monitored(const mops_ctx_t *ctx, int64_t version_id, int *yes,
                              mops_err_t *err);
int monitor_labels_positives(const mops_ctx_t *ctx, int64_t model_id, int64_t version_id,
                             int64_t from_ms, int64_t to_ms, int64_t *n, mops_err_t *err);

/* ------------------------------------------------------------ Prometheus */

/* Extra families for GET /metrics from other modules (FinOps cost
 * counters): fn appends Prometheus text to b (with its # HELP and # TYPE
 * lines), for the teams ctx->who may see. At most 4; register at
 * start-up, before the server serves. MOPS_EINTERNAL when full. */
typedef int (*monitor_metrics_fn)(const mops_ctx_t *ctx, mops_buf_t *b, mops_err_t *err);
int monitor_metrics_source_add(monitor_metrics_fn fn, mops_err_t *err);

/* Forget every registered source (for tests). */
void monitor_metrics_sources_clear(void);

/* GET /metrics: the Prometheus text exposition (version 0.0.4) of what the
 * caller may see (metrics.read; rows of teams where it holds
 * deployment.read): serving counters and latency histograms
 * (mops_requests_total, mops_request_errors_total,
 * mops_request_duration_seconds), drift over the last hour's windows
 * (mops_feature_drift by feature and statistic, mops_dataset_drift_share),
 * prediction log drops and sampling per deployment and the queue's own
 * (mops_prediction_log_dropped_total, mops_prediction_log_sampled_out_total,
 * mops_prediction_queue_dropped_total, mops_prediction_queue_bytes),
 * alerts firing (mops_alerts_firing), then the registered sources. This
 * server's pending windows are written out first. *out is a heap string
 * the caller frees. */
int monitor_metrics_text(const mops_ctx_t *ctx, char **out, mops_err_t *err);

#endif
