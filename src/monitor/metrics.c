/*
 * metrics.c — GET /metrics: the Prometheus text exposition of what the
 * caller may see, and the sources other modules (FinOps) register to add
 * their own families. Families are written in full (# HELP, # TYPE, then
 * every sample) so `promtool check metrics` accepts the page.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/json.h"
#include "core/time.h"
#include "monitor/monitor_int.h"
#include "serve/serve.h"

#define METRICS_SOURCES_MAX 4

static monitor_metrics_fn sources[METRICS_SOURCES_MAX];
static int n_sources;

int monitor_metrics_source_add(monitor_metrics_fn fn, mops_err_t *err)
{
    if (!fn || n_sources == METRICS_SOURCES_MAX)
        return mops_err_set(err, MOPS_EINTERNAL, "at most %d metrics sources may be registered",
                            METRICS_SOURCES_MAX);
    sources[n_sources++] = fn;
    return 0;
}

void monitor_metrics_sources_clear(void)
{
    n_sources = 0;
}

/* A label value escaped as the exposition format wants (\\, \", \n). */
void mon_prom_label(mops_buf_t *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            mops_buf_putc(b, '\\');
        if (*v == '\n') {
            mops_buf_puts(b, "\\n");
            continue;
        }
        mops_buf_putc(b, *v);
    }
}

void mon_prom_value(mops_buf_t *b, double x)
{
    if (isnan(x))
        mops_buf_puts(b, "NaN");
    else if (isinf(x))
        mops_buf_puts(b, x > 0 ? "+Inf" : "-Inf");
    else if (x == floor(x) && fabs(x) < 1e15)
        mops_buf_printf(b, "%.0f", x);
    else
        mops_buf_printf(b, "%.17g", x);
}

/* Alerts firing now, per team, severity and kind. */
static int alerts_family(const mops_ctx_t *ctx, mops_buf_t *b, mops_err_t *err)
{
    store_sql_t q;
    store_sql_init(&q, "SELECT t.name, a.severity, a.kind, a.source, count(*) FROM monitor_alerts a "
                       "JOIN teams t ON t.id = a.team_id WHERE a.state = 'firing' AND ");
    auth_sql_team_filter(ctx, AUTH_DEPLOYMENT_READ, "a.team_id", &q);
    store_sql_add(&q, " GROUP BY t.name, a.severity, a.kind, a.source ORDER BY 1, 2, 3, 4", NULL);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    mops_buf_puts(b, "# HELP mops_alerts_firing Alerts firing now.\n"
                     "# TYPE mops_alerts_firing gauge\n");
    while ((rc = store_step(s, err)) == STORE_ROW) {
        mops_buf_puts(b, "mops_alerts_firing{team=\"");
        mon_prom_label(b, store_col_text(s, 0));
        mops_buf_puts(b, "\",severity=\"");
        mon_prom_label(b, store_col_text(s, 1));
        mops_buf_puts(b, "\",kind=\"");
        mon_prom_label(b, store_col_text(s, 2));
        mops_buf_puts(b, "\",source=\"");
        mon_prom_label(b, store_col_text(s, 3));
        mops_buf_printf(b, "\"} %lld\n", (long long)store_col_int(s, 4));
    }
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

#define METRICS_DEPLOYMENTS 1024

static void dep_labels(mops_buf_t *b, const char *team, const char *dep)
{
    mops_buf_puts(b, "team=\"");
    mon_prom_label(b, team);
    mops_buf_puts(b, "\",deployment=\"");
    mon_prom_label(b, dep);
    mops_buf_puts(b, "\"");
}

/* Drift of every feature (each statistic) and the dataset drift share, per
 * deployment and version, over the windows of the last hour. */
static int drift_family(const mops_ctx_t *ctx, mops_buf_t *b, mops_err_t *err)
{
    int64_t now = mops_now_ms(), from = now - MONITOR_WINDOW_MS;
    store_sql_t q;
    store_sql_init(&q, "SELECT DISTINCT d.id, d.name, t.name FROM monitor_windows w JOIN "
                       "deployments d ON d.id = w.deployment_id JOIN teams t ON t.id = d.team_id "
                       "WHERE d.deleted_at IS NULL AND ");
    store_sql_add(&q, "w.start_ms >= ? AND ", "i", from - from % MONITOR_WINDOW_MS);
    auth_sql_team_filter(ctx, AUTH_DEPLOYMENT_READ, "d.team_id", &q);
    store_sql_add(&q, " ORDER BY 2", NULL);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    json_t *deps = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(deps, json_pack("{s:I, s:s, s:s}", "id",
                                              (json_int_t)store_col_int(s, 0), "name",
                                              store_col_text(s, 1), "team",
                                              store_col_text(s, 2)));
    store_finalize(s);
    mops_buf_t feat = MOPS_BUF_INIT, share = MOPS_BUF_INIT;
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        if (rc < 0)
            break;
        const char *dep = json_string_value(json_object_get(d, "name"));
        const char *team = json_string_value(json_object_get(d, "team"));
        json_t *rep = NULL;
        if ((rc = mon_report_build(ctx, json_integer_value(json_object_get(d, "id")), dep, from,
                                   now + 1, 0, &rep, NULL, NULL, err)) != 0)
            break;
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(rep, "versions"), k, v) {
            const char *version = json_string_value(json_object_get(v, "version"));
            const json_t *drift = json_object_get(v, "drift");
            const json_t *sh = json_object_get(json_object_get(drift, "dataset"), "share");
            if (json_is_number(sh)) {
                mops_buf_puts(&share, "mops_dataset_drift_share{");
                dep_labels(&share, team, dep);
                mops_buf_puts(&share, ",version=\"");
                mon_prom_label(&share, version);
                mops_buf_puts(&share, "\"} ");
                mon_prom_value(&share, json_number_value(sh));
                mops_buf_putc(&share, '\n');
            }
            static const char *const kinds[] = {"features", "predictions"};
            for (int kind = 0; kind < 2; kind++) {
                size_t j;
                json_t *f;
                json_array_foreach(json_object_get(drift, kinds[kind]), j, f) {
                    const char *key;
                    json_t *x;
                    json_object_foreach(json_object_get(f, "stats"), key, x) {
                        if (!json_is_real(x) && !json_is_integer(x))
                            continue;
                        if (!strcmp(key, "count_error"))
                            continue;
                        mops_buf_puts(&feat, "mops_feature_drift{");
                        dep_labels(&feat, team, dep);
                        mops_buf_puts(&feat, ",version=\"");
                        mon_prom_label(&feat, version);
                        mops_buf_puts(&feat, "\",feature=\"");
                        mon_prom_label(&feat, json_string_value(json_object_get(f, "name")));
                        mops_buf_printf(&feat, "\",statistic=\"%s\"} ", key);
                        mon_prom_value(&feat, json_number_value(x));
                        mops_buf_putc(&feat, '\n');
                    }
                }
            }
        }
        json_decref(rep);
    }
    json_decref(deps);
    if (rc >= 0) {
        rc = 0;
        mops_buf_puts(b, "# HELP mops_feature_drift Drift of a feature or output against the "
                         "version's reference profile over the last hour's windows, by "
                         "statistic (psi, ks, ks_p_value, wasserstein, jensen_shannon, "
                         "chi2_p_value).\n"
                         "# TYPE mops_feature_drift gauge\n");
        if (feat.data)
            mops_buf_puts(b, feat.data);
        mops_buf_puts(b, "# HELP mops_dataset_drift_share Share of a version's features that "
                         "drifted over the last hour's windows.\n"
                         "# TYPE mops_dataset_drift_share gauge\n");
        if (share.data)
            mops_buf_puts(b, share.data);
    }
    mops_buf_release(&feat);
    mops_buf_release(&share);
    return rc;
}

/* The prediction log's drops and sampling per deployment served here, and
 * the queue's own drops, from serving's counters. */
static int queue_family(const mops_ctx_t *ctx, mops_buf_t *b, mops_err_t *err)
{
    int64_t ids[METRICS_DEPLOYMENTS];
    size_t n = mon_agg_deployments(ids, METRICS_DEPLOYMENTS);
    mops_buf_t dropped = MOPS_BUF_INIT, sampled = MOPS_BUF_INIT;
    json_t *queue = NULL;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        store_stmt_t *s;
        rc = store_query(ctx->db, &s, err,
                         "SELECT d.name, t.name, d.team_id FROM deployments d JOIN teams t ON "
                         "t.id = d.team_id WHERE d.id = ? AND d.deleted_at IS NULL",
                         "i", ids[i]);
        if (rc != 0)
            break;
        if ((rc = store_step(s, err)) == STORE_ROW) {
            rc = 0;
            json_t *st = NULL;
            mops_err_t e;
            if (auth_can(ctx->who, AUTH_DEPLOYMENT_READ, store_col_int(s, 2)) &&
                serve_deployment_stats(ctx, store_col_text(s, 0), &st, &e) == 0) {
                const json_t *log =
                    json_object_get(json_object_get(st, "stats"), "prediction_log");
                if (log) {
                    mops_buf_puts(&dropped, "mops_prediction_log_dropped_total{");
                    dep_labels(&dropped, store_col_text(s, 1), store_col_text(s, 0));
                    mops_buf_printf(&dropped, "} %lld\n",
                                    (long long)json_integer_value(json_object_get(log,
                                                                                  "dropped")));
                    mops_buf_puts(&sampled, "mops_prediction_log_sampled_out_total{");
                    dep_labels(&sampled, store_col_text(s, 1), store_col_text(s, 0));
                    mops_buf_printf(&sampled, "} %lld\n",
                                    (long long)json_integer_value(json_object_get(log,
                                                                                  "sampled_out")));
                }
                if (!queue)
                    queue = json_incref(json_object_get(st, "prediction_log"));
                json_decref(st);
            }
        }
        store_finalize(s);
    }
    if (rc == 0) {
        mops_buf_puts(b, "# HELP mops_prediction_log_dropped_total Records of a deployment's "
                         "requests the prediction queue dropped (full) since this server "
                         "started; monitoring still saw them.\n"
                         "# TYPE mops_prediction_log_dropped_total counter\n");
        if (dropped.data)
            mops_buf_puts(b, dropped.data);
        mops_buf_puts(b, "# HELP mops_prediction_log_sampled_out_total Records of a deployment's "
                         "requests left out by sampling (queue over 3/4 full).\n"
                         "# TYPE mops_prediction_log_sampled_out_total counter\n");
        if (sampled.data)
            mops_buf_puts(b, sampled.data);
        if (queue) {
            mops_buf_printf(b,
                            "# HELP mops_prediction_queue_dropped_total Records the prediction "
                            "queue dropped since this server started.\n"
                            "# TYPE mops_prediction_queue_dropped_total counter\n"
                            "mops_prediction_queue_dropped_total %lld\n"
                            "# HELP mops_prediction_queue_bytes Bytes waiting in the prediction "
                            "queue.\n"
                            "# TYPE mops_prediction_queue_bytes gauge\n"
                            "mops_prediction_queue_bytes %lld\n",
                            (long long)json_integer_value(json_object_get(queue, "dropped")),
                            (long long)json_integer_value(json_object_get(queue,
                                                                          "queued_bytes")));
        }
    }
    json_decref(queue);
    mops_buf_release(&dropped);
    mops_buf_release(&sampled);
    return rc;
}

int monitor_metrics_text(const mops_ctx_t *ctx, char **out, mops_err_t *err)
{
    int rc = auth_require(ctx, AUTH_METRICS_READ, 0, err);
    if (rc != 0)
        return rc;
    mops_buf_t b = MOPS_BUF_INIT;
    if ((rc = monitor_flush(ctx->db, err)) == 0 && (rc = mon_metrics_serving(ctx, &b, err)) == 0 &&
        (rc = drift_family(ctx, &b, err)) == 0 && (rc = queue_family(ctx, &b, err)) == 0)
        rc = alerts_family(ctx, &b, err);
    for (int i = 0; rc == 0 && i < n_sources; i++)
        rc = sources[i](ctx, &b, err);
    if (rc != 0) {
        mops_buf_release(&b);
        return rc;
    }
    if (!b.data)
        mops_buf_puts(&b, "");
    *out = mops_buf_detach(&b);
    return 0;
}
