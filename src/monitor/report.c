/*
 * report.c — the monitoring report of a deployment: its windows over an
 * interval merged per version, drift of each feature (and of the outputs,
 * when the reference holds predictions) against the version's reference
 * profile, the dataset drift share, performance from labels joined with
 * the prediction log, and service figures. Features tagged PII in the
 * version's training datasets show their drift, never their values.
 *
 * Methods follow Evidently's defaults: with at most 1000 reference values a
 * statistical test (KS, drifted when p < 0.05), beyond that a distance
 * (Wasserstein-1 normalised by the reference's standard deviation, drifted
 * at >= 0.1); every statistic is reported either way. The dataset drifts
 * when at least half of its features do. Reference columns are matched to
 * the model's features by position (the CSV's first numeric columns in the
 * model's feature order); columns named "prediction" or "prediction_N"
 * are the reference's outputs.
 */
#include <math.h>
#include <string.h>

#include "core/json.h"
#include "core/time.h"
#include "eval/eval.h"
#include "monitor/monitor_int.h"
#include "registry/registry.h"

#define SMALL_SAMPLE 1000
#define KS_ALPHA 0.05
#define WASSERSTEIN_MAX 0.1
#define DRIFT_SHARE 0.5

/* Merged windows of one version. */
typedef struct vwin {
    int64_t version_id;
    mon_acc_t *acc;
} vwin_t;

static json_t *feature_drift(const char *name, const stats_column_t *ref, const mon_feat_t *cur,
                             int *drifted, mops_err_t *err)
{
    const stats_moments_t *rm = stats_column_moments(ref);
    monitor_dist_t r = {.kll = stats_column_kll(ref), .std = sqrt(stats_moments_variance(rm, 0))};
    monitor_dist_t c = {.kll = cur->kll, .std = sqrt(stats_moments_variance(&cur->mom, 0))};
    json_t *j = json_pack("{s:s, s:I, s:I, s:s, s:o, s:o}", "name", name, "count",
                          (json_int_t)cur->mom.n, "missing", (json_int_t)cur->missing, "kind",
                          "numeric", "mean", mon_num(cur->mom.n ? cur->mom.mean : NAN),
                          "reference_mean", mon_num(rm->mean));
    monitor_drift_t d;
    *drifted = 0;
    if (!cur->mom.n || !rm->n || monitor_drift_numeric(&r, &c, &d, err) != 0) {
        json_object_set_new(j, "method", json_null());
        json_object_set_new(j, "drifted", json_null());
        return j;
    }
    int test = rm->n <= SMALL_SAMPLE;
    const char *method = test ? "ks" : "wasserstein";
    double score = test ? d.ks_p : d.wasserstein;
    double threshold = test ? KS_ALPHA : WASSERSTEIN_MAX;
    *drifted = test ? score < threshold : score >= threshold;
    json_object_set_new(j, "method", json_string(method));
    json_object_set_new(j, "score", mon_num(score));
    json_object_set_new(j, "threshold", json_real(threshold));
    json_object_set_new(j, "drifted", json_boolean(*drifted));
    json_object_set_new(j, "stats",
                        json_pack("{s:o, s:o, s:o, s:o, s:o}", "ks", mon_num(d.ks), "ks_p_value",
                                  mon_num(d.ks_p), "wasserstein", mon_num(d.wasserstein), "psi",
                                  mon_num(d.psi), "jensen_shannon", mon_num(d.js)));
    return j;
}

/* Drift of a categorical feature: the reference's categories (counted
 * exactly) against the window's frequent values, every other live value
 * in one more category; chi-square with at most SMALL_SAMPLE reference
 * values, Jensen–Shannon beyond (Evidently's defaults). Live counts are
 * low by at most the window sketch's error (stats_topk_error). */
static json_t *categorical_drift(const char *name, const json_t *col, const mon_feat_t *cur,
                                 int *drifted, mops_err_t *err)
{
    stats_topk_t *rt = NULL;
    *drifted = 0;
    json_t *j = json_pack("{s:s, s:I, s:I, s:s}", "name", name, "count", (json_int_t)cur->mom.n,
                          "missing", (json_int_t)cur->missing, "kind", "categorical");
    if (stats_topk_from_json(json_object_get(col, "topk"), &rt, err) != 0 || !cur->mom.n) {
        stats_topk_free(rt);
        json_object_set_new(j, "method", json_null());
        json_object_set_new(j, "drifted", json_null());
        return j;
    }
    stats_topk_item_t ri[MON_CATEGORIES_MAX + 1], ci[MON_TOPK_K];
    size_t nr = stats_topk_items(rt, ri, MON_CATEGORIES_MAX + 1);
    size_t nc = cur->top ? stats_topk_items(cur->top, ci, MON_TOPK_K) : 0;
    double rc[MON_CATEGORIES_MAX + 2], cc[MON_CATEGORIES_MAX + 2], matched = 0, ref_n = 0;
    json_t *cats = json_array();
    for (size_t a = 0; a < nr; a++) {
        rc[a] = (double)ri[a].count;
        cc[a] = 0;
        for (size_t b = 0; b < nc; b++)
            if (ci[b].hash == ri[a].hash)
                cc[a] = (double)ci[b].count;
        matched += cc[a];
        ref_n += rc[a];
        json_array_append_new(cats, json_pack("{s:s%, s:f, s:f}", "value", ri[a].text, ri[a].len,
                                              "reference", rc[a], "current", cc[a]));
    }
    /* values the reference never had */
    rc[nr] = 0;
    cc[nr] = (double)cur->mom.n - matched;
    json_array_append_new(cats, json_pack("{s:n, s:f, s:f}", "value", "reference", 0.0,
                                          "current", cc[nr]));
    double p = NAN, js = NAN;
    int test = ref_n <= SMALL_SAMPLE;
    if (monitor_drift_categorical(rc, cc, nr + 1, &p, &js, err) == 0) {
        double score = test ? p : js, threshold = test ? KS_ALPHA : WASSERSTEIN_MAX;
        *drifted = test ? score < threshold : score >= threshold;
        json_object_set_new(j, "method", json_string(test ? "chi2" : "jensen_shannon"));
        json_object_set_new(j, "score", mon_num(score));
        json_object_set_new(j, "threshold", json_real(threshold));
        json_object_set_new(j, "drifted", json_boolean(*drifted));
        json_object_set_new(j, "stats", json_pack("{s:o, s:o, s:I}", "chi2_p_value", mon_num(p),
                                                  "jensen_shannon", mon_num(js),
                                                  "count_error",
                                                  (json_int_t)(cur->top ? stats_topk_error(cur->top)
                                                                        : 0)));
        json_object_set_new(j, "categories", cats);
    } else {
        json_decref(cats);
        json_object_set_new(j, "method", json_null());
        json_object_set_new(j, "drifted", json_null());
    }
    stats_topk_free(rt);
    return j;
}

static int is_prediction_name(const char *s)
{
    return !strcmp(s, "prediction") || !strncmp(s, "prediction_", 11);
}

/* A PII-tagged feature shows its drift but none of its values. */
static void mask(json_t *f)
{
    json_object_set_new(f, "pii", json_true());
    json_object_set_new(f, "mean", json_null());
    json_object_set_new(f, "reference_mean", json_null());
    json_object_del(f, "categories");
}

/* Drift of every feature and output of w against profile (may be NULL);
 * features named in pii are masked. */
static json_t *drift_json(const mon_acc_t *w, const json_t *profile, const json_t *pii,
                          mops_err_t *err)
{
    json_t *features = json_array(), *outputs = json_array();
    size_t i, fi = 0, oi = 0, drifted_n = 0, compared = 0;
    json_t *c;
    json_array_foreach(json_object_get(profile, "columns"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        int pred = is_prediction_name(name);
        const mon_feat_t *cur = pred ? (oi < w->n_out ? &w->out[oi++] : NULL)
                                     : (fi < w->n_in ? &w->in[fi++] : NULL);
        if (!cur)
            continue;
        int drifted;
        if (!pred && json_is_true(json_object_get(c, "categorical"))) {
            json_t *j = categorical_drift(name, c, cur, &drifted, err);
            if (mon_is_pii(pii, name))
                mask(j);
            compared += json_is_boolean(json_object_get(j, "drifted"));
            drifted_n += drifted;
            json_array_append_new(features, j);
            continue;
        }
        stats_column_t *ref = NULL;
        if (stats_column_from_json(json_object_get(c, "sketch"), &ref, err) != 0)
            continue;
        json_t *j = feature_drift(name, ref, cur, &drifted, err);
        stats_column_free(ref);
        if (mon_is_pii(pii, name))
            mask(j);
        if (pred) {
            json_array_append_new(outputs, j);
            continue;
        }
        compared += json_is_boolean(json_object_get(j, "drifted"));
        drifted_n += drifted;
        json_array_append_new(features, j);
    }
    double share = compared ? (double)drifted_n / (double)compared : NAN;
    return json_pack("{s:o, s:o, s:{s:I, s:I, s:o, s:f, s:o}}", "features", features,
                     "predictions", outputs, "dataset", "features", (json_int_t)compared,
                     "drifted", (json_int_t)drifted_n, "share", mon_num(share), "threshold",
                     DRIFT_SHARE, "drifted_dataset",
                     compared ? json_boolean(share >= DRIFT_SHARE) : json_null());
}

static json_t *service_json(const mon_acc_t *w)
{
    double p[3] = {NAN, NAN, NAN};
    if (stats_kll_n(w->lat)) {
        p[0] = stats_kll_quantile(w->lat, 0.5);
        p[1] = stats_kll_quantile(w->lat, 0.95);
        p[2] = stats_kll_quantile(w->lat, 0.99);
    }
    return json_pack("{s:I, s:I, s:I, s:o, s:{s:o, s:o, s:o}}", "requests",
                     (json_int_t)w->requests, "errors", (json_int_t)w->errors, "rows",
                     (json_int_t)w->rows, "availability",
                     w->requests ? json_real((double)(w->requests - w->errors) /
                                             (double)w->requests)
                                 : json_null(),
                     "latency_ms", "p50", mon_num(p[0]), "p95", mon_num(p[1]), "p99",
                     mon_num(p[2]));
}

static double le_f64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Performance from labels of the version's logged predictions. */
static int performance_json(const mops_ctx_t *ctx, int64_t dep_id, int64_t version_id,
                            int64_t from_ms, int64_t to_ms, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT l.label, l.row_index, p.outputs, p.n_outputs, p.n_rows FROM "
                         "monitor_labels l JOIN prediction_log p ON p.request_id = l.request_id "
                         "AND p.deployment_id = l.deployment_id WHERE l.deployment_id = ? AND "
                         "p.version_id = ? AND p.ts >= ? AND p.ts < ? AND p.role <> 'shadow'",
                         "iiii", dep_id, version_id, from_ms, to_ms);
    if (rc != 0)
        return rc;
    size_t n = 0, cap = 256, width = 0;
    double *y = mops_xmalloc(cap * sizeof *y), *pred = NULL;
    int mixed = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        size_t len, w = (size_t)store_col_int(s, 3), rows = (size_t)store_col_int(s, 4);
        size_t row = (size_t)store_col_int(s, 1);
        const unsigned char *b = store_col_blob(s, 2, &len);
        if (!w || row >= rows || !b || len < rows * w * 8)
            continue;
        if (!width) {
            width = w;
            pred = mops_xmalloc(cap * width * sizeof *pred);
        } else if (w != width) {
            mixed = 1;
            continue;
        }
        if (n == cap) {
            cap *= 2;
            y = mops_xrealloc(y, cap * sizeof *y);
            pred = mops_xrealloc(pred, cap * width * sizeof *pred);
        }
        y[n] = store_col_double(s, 0);
        for (size_t k = 0; k < width; k++)
            pred[n * width + k] = le_f64(b + (row * w + k) * 8);
        n++;
    }
    store_finalize(s);
    if (rc < 0 || !n) {
        free(y);
        free(pred);
        if (rc == 0 || rc == STORE_DONE) {
            *out = json_pack("{s:I}", "labelled", (json_int_t)0);
            return 0;
        }
        return rc;
    }
    /* a classifier: several probability columns, or one probability with
     * labels 0/1; otherwise a regression */
    int binary_labels = 1;
    for (size_t i = 0; i < n; i++)
        binary_labels &= y[i] == 0 || y[i] == 1;
    int classes = width >= 2 || (binary_labels && pred[0] >= 0 && pred[0] <= 1);
    json_t *m = NULL;
    if (classes) {
        size_t k = width >= 2 ? width : 2;
        int32_t *yt = mops_xmalloc(n * sizeof *yt), *yp = mops_xmalloc(n * sizeof *yp);
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            yt[i] = (int32_t)y[i];
            ok &= y[i] == floor(y[i]) && y[i] >= 0 && y[i] < (double)k;
            if (width >= 2) {
                size_t best = 0;
                for (size_t c = 1; c < width; c++)
                    if (pred[i * width + c] > pred[i * width + best])
                        best = c;
                yp[i] = (int32_t)best;
            } else {
                yp[i] = pred[i] >= 0.5;
            }
        }
        eval_class_input_t in = {.n = n, .n_classes = k, .y_true = yt, .y_pred = yp,
                                 .proba = pred, .proba_cols = width, .positive = 1};
        eval_class_metrics_t cm = {0};
        if (!ok)
            rc = mops_err_set(err, MOPS_EINVAL, "labels must be class indices 0..%zu", k - 1);
        else if ((rc = eval_classification(&in, &cm, err)) == 0)
            m = eval_class_metrics_json(&cm, NULL);
        eval_class_metrics_release(&cm);
        free(yt);
        free(yp);
        if (rc == MOPS_EINVAL) {
            m = json_pack("{s:s}", "error", err->msg);
            rc = 0;
        }
    } else {
        eval_reg_metrics_t rm;
        if ((rc = eval_regression(y, pred, n, &rm, err)) == 0)
            m = eval_reg_metrics_json(&rm);
    }
    free(y);
    free(pred);
    if (rc != 0)
        return rc;
    *out = json_pack("{s:I, s:s, s:o, s:b}", "labelled", (json_int_t)n, "task",
                     classes ? "classification" : "regression", "metrics", m, "mixed_widths",
                     mixed);
    return 0;
}

int mon_report_build(const mops_ctx_t *ctx, int64_t dep_id, const char *deployment,
                     int64_t from_ms, int64_t to_ms, int performance, json_t **out,
                     int64_t *version_ids, int *n_versions, mops_err_t *err)
{
    int64_t first = from_ms - from_ms % MONITOR_WINDOW_MS;
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                     "SELECT version_id, requests, errors, rows_seen, summary FROM "
                     "monitor_windows WHERE deployment_id = ? AND start_ms >= ? AND start_ms < ? "
                     "ORDER BY version_id, start_ms",
                     "iii", dep_id, first, to_ms);
    if (rc != 0)
        return rc;
    vwin_t v[MON_REPORT_VERSIONS];
    int nv = 0, nout = 0;
    mon_acc_t total = {0};
    while ((rc = store_step(s, err)) == STORE_ROW) {
        json_t *j = json_loads(store_col_text(s, 4), 0, NULL);
        mon_acc_t *a = NULL;
        rc = j ? mon_acc_from_json(j, store_col_int(s, 1), store_col_int(s, 2),
                                   store_col_int(s, 3), &a, err)
               : mops_err_set(err, MOPS_ECORRUPT, "a stored monitoring window is not JSON");
        json_decref(j);
        if (rc != 0)
            break;
        int64_t vid = store_col_int(s, 0);
        if (nv && v[nv - 1].version_id == vid) {
            rc = mon_acc_merge(v[nv - 1].acc, a, err);
            mon_acc_free(a);
            if (rc != 0)
                break;
        } else if (nv < MON_REPORT_VERSIONS) {
            v[nv++] = (vwin_t){vid, a};
        } else {
            mon_acc_free(a);
        }
    }
    store_finalize(s);
    json_t *versions = json_array();
    total.lat = stats_kll_new(STATS_KLL_K);
    for (int i = 0; rc >= 0 && i < nv; i++) {
        registry_version_ref_t ref;
        const char *name = "?";
        if (registry_version_ref_by_id(ctx, v[i].version_id, &ref, NULL) == 0)
            name = mops_arena_printf(ctx->arena, "%s@%lld", ref.m.model, (long long)ref.number);
        json_t *profile = NULL, *drift = NULL, *perf = NULL;
        int64_t at = 0;
        int r = mon_reference_load(ctx, v[i].version_id, &profile, &at, err);
        if (r == 0) {
            json_t *pii = mon_pii_columns(ctx, v[i].version_id);
            drift = drift_json(v[i].acc, profile, pii, err);
            json_decref(pii);
            json_object_set_new(drift, "reference_created_at", mops_json_time(at));
        } else if (r == MOPS_ENOTFOUND) {
            drift = json_pack("{s:s}", "note", "the version has no reference profile: upload one "
                                               "with mops monitor reference");
        } else {
            rc = r;
        }
        json_decref(profile);
        if (rc >= 0 && !performance)
            perf = json_null();
        else if (rc >= 0)
            rc = performance_json(ctx, dep_id, v[i].version_id, from_ms, to_ms, &perf, err);
        if (rc == 0) {
            if (version_ids)
                version_ids[nout] = v[i].version_id;
            nout++;
            json_array_append_new(versions,
                                  json_pack("{s:s, s:o, s:o, s:o}", "version", name, "service",
                                            service_json(v[i].acc), "drift", drift ? drift
                                                                                   : json_null(),
                                            "performance", perf));
        } else {
            json_decref(drift);
        }
        if (rc >= 0) {
            mops_err_t e2;
            total.requests += v[i].acc->requests;
            total.errors += v[i].acc->errors;
            total.rows += v[i].acc->rows;
            stats_kll_merge(total.lat, v[i].acc->lat, &e2);
        }
    }
    for (int i = 0; i < nv; i++)
        mon_acc_free(v[i].acc);
    if (rc < 0) {
        stats_kll_free(total.lat);
        json_decref(versions);
        return rc;
    }
    *out = json_pack("{s:s, s:o, s:o, s:I, s:o, s:o}", "deployment", deployment, "from",
                     mops_json_time(from_ms), "to", mops_json_time(to_ms), "window_ms",
                     (json_int_t)MONITOR_WINDOW_MS, "service", service_json(&total), "versions",
                     versions);
    stats_kll_free(total.lat);
    if (n_versions)
        *n_versions = nout;
    return 0;
}

int monitor_report(const mops_ctx_t *ctx, const char *deployment, int64_t from_ms, int64_t to_ms,
                   json_t **out, mops_err_t *err)
{
    int64_t team_id, dep_id;
    int rc = mon_deployment_find(ctx, deployment, AUTH_MONITOR_READ, &team_id, &dep_id, err);
    if (rc != 0)
        return rc;
    if (!to_ms)
        to_ms = mops_now_ms() + 1;
    if (!from_ms)
        from_ms = to_ms - 24 * MONITOR_WINDOW_MS;
    if (from_ms >= to_ms)
        return mops_err_set(err, MOPS_EINVAL, "from must be before to");
    if ((rc = monitor_flush(ctx->db, err)) != 0)
        return rc;
    return mon_report_build(ctx, dep_id, deployment, from_ms, to_ms, 1, out, NULL, NULL, err);
}
