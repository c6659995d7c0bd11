/*
 * monitor_int.h — private to monitor/: the shapes and helpers its files
 * share (row lookups, JSON of times and numbers, the aggregator).
 */
#ifndef MOPS_MONITOR_INT_H
#define MOPS_MONITOR_INT_H

#include "auth/auth.h"
#include "monitor/monitor.h"

/* A number as JSON, null when not finite (NaN: "not defined here"). */
json_t *mon_num(double x);

/* The id of a live deployment by name, as the caller sees it: perm is
 * checked on its team; another team's deployment is MOPS_ENOTFOUND. */
int mon_deployment_find(const mops_ctx_t *ctx, const char *name, auth_perm_t perm,
                        int64_t *team_id, int64_t *id, mops_err_t *err);

/* Visible-to-caller check for a row of team_id found by id: MOPS_ENOTFOUND
 * (what names it) when the caller may not read the team's monitoring. */
int mon_team_visible(const mops_ctx_t *ctx, int64_t team_id, const char *what, mops_err_t *err);

/* Shared page limit: f_limit if 1..1000, else 50. */
static inline int mon_limit(int f_limit)
{
    return f_limit > 0 && f_limit <= 1000 ? f_limit : 50;
}

/* Prometheus text helpers: a label value escaped, a sample value. */
void mon_prom_label(mops_buf_t *b, const char *v);
void mon_prom_value(mops_buf_t *b, double x);

/* Append the serving families (requests, errors, latency histograms, drift
 * scores, prediction queue drops) of what the caller may see. */
int mon_metrics_serving(const mops_ctx_t *ctx, mops_buf_t *b, mops_err_t *err);

/* ------------------------------------------------------------ windows */

#include "stats/stats.h"

#define MON_LAT_BUCKETS 14

/* Frequent whole-number values (codes of categorical features) kept per
 * feature and window, and by reference profiles; a reference column is
 * categorical when all its values are whole numbers of at most
 * MON_CATEGORIES_MAX distinct values. */
#define MON_TOPK_K 32
#define MON_CATEGORIES_MAX 20

/* One output or input feature of a window. */
typedef struct mon_feat {
    uint64_t missing;
    stats_moments_t mom;
    stats_kll_t *kll;
    stats_topk_t *top; /* whole-number values, NULL until one arrives */
} mon_feat_t;

/* Is x a whole number topk may key (and its text)? */
static inline int mon_whole(double x)
{
    return x == (double)(long long)x && x > -1e15 && x < 1e15;
}

/* Count a whole number x in t: keyed as stats_column keys numbers. */
void mon_topk_add_number(stats_topk_t *t, double x);

/* One hourly window of a deployment and version (also the merge of
 * several, read back from the store). */
typedef struct mon_acc {
    int64_t deployment_id, version_id, team_id, start_ms;
    uint64_t requests, errors, rows;
    uint64_t lat_buckets[MON_LAT_BUCKETS + 1]; /* per bucket; the last is +Inf */
    double lat_sum_s;
    stats_kll_t *lat; /* latency in ms */
    size_t n_in, n_out;
    mon_feat_t *in, *out;
    /* Rows copied in but not folded yet (agg.c): n_in + n_out doubles per
     * row, folded column by column pend_cap rows at a time, and always
     * before the window leaves its request thread's stripe, so every
     * other reader sees a settled window. */
    double *pend;
    uint32_t n_pend, pend_cap;
    struct mon_acc *next;
} mon_acc_t;

mon_acc_t *mon_acc_new(int64_t deployment_id, int64_t version_id, int64_t team_id,
                       int64_t start_ms);
void mon_acc_free(mon_acc_t *a);
json_t *mon_acc_json(const mon_acc_t *a);
int mon_acc_from_json(const json_t *j, int64_t requests, int64_t errors, int64_t rows,
                      mon_acc_t **out, mops_err_t *err);
/* Fold o into a (exact for counts and moments, KLL within its bound). */
int mon_acc_merge(mon_acc_t *a, const mon_acc_t *o, mops_err_t *err);
/* Forget every slot and window (monitor_stop, tests). */
void mon_agg_reset(void);

/* The newest reference profile of a version ({"rows", "columns": [{"name",
 * "sketch"}]}, new reference) and when it was made; MOPS_ENOTFOUND. */
int mon_reference_load(const mops_ctx_t *ctx, int64_t version_id, json_t **profile,
                       int64_t *created_at, mops_err_t *err);

/* The report of deployment dep_id (named deployment) over [from_ms,
 * to_ms), as monitor_report answers it, without permission checks or
 * writing out pending windows; "performance" is null unless performance
 * is set (it reads the prediction log). version_ids (may be NULL; room for
 * MON_REPORT_VERSIONS) receives the id of each entry of "versions", and
 * *n_versions (may be NULL) their count. */
#define MON_REPORT_VERSIONS 64
int mon_report_build(const mops_ctx_t *ctx, int64_t dep_id, const char *deployment,
                     int64_t from_ms, int64_t to_ms, int performance, json_t **out,
                     int64_t *version_ids, int *n_versions, mops_err_t *err);

/* Deployments this process has folded requests of (ids into ids, at most
 * max); returns how many. */
size_t mon_agg_deployments(int64_t *ids, size_t max);

/* The PII-tagged columns of the datasets a version was trained on
 * (data_model_pii, asked as the server), a new array (empty when none or
 * unknown); and whether name is one of them. Reports and references show
 * no values of those features. */
json_t *mon_pii_columns(const mops_ctx_t *ctx, int64_t version_id);
int mon_is_pii(const json_t *pii, const char *name);

/* Evaluate every enabled alert rule once (the writer thread), or only
 * rule_id (not 0); request_id (may be NULL) marks the audit entries. */
int mon_rules_evaluate(store_conn_t *db, const mops_env_t *env, int64_t rule_id,
                       const char *request_id, mops_err_t *err);

#endif
