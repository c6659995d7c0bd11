/*
 * metrics.c — GET /metrics: the Prometheus text exposition of what the
 * caller may see, and the sources other modules (FinOps) register to add
 * their own families. Families are written in full (# HELP, # TYPE, then
 * every sample) so `promtool check metrics` accepts the page.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "monitor/monitor_int.h"

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

int monitor_metrics_text(const mops_ctx_t *ctx, char **out, mops_err_t *err)
{
    int rc = auth_require(ctx, AUTH_METRICS_READ, 0, err);
    if (rc != 0)
        return rc;
    mops_buf_t b = MOPS_BUF_INIT;
    if ((rc = mon_metrics_serving(ctx, &b, err)) == 0)
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
