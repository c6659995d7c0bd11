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

#endif
