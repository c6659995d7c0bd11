/*
 * kpi.c — the ModelOps KPIs per team and for the whole organisation over
 * a period (docs/kpis.md defines each): time from "model ready" to "model
 * in business", governance cycle time, freshness, availability,
 * incidents, continuing cost, value and ROI, and coverage (owner, card,
 * monitoring). Reads governance's history (governance_timeline), this
 * module's usage and first production traffic, and monitoring's seam.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "data/data.h"
#include "finops/finops_int.h"
#include "governance/governance.h"

static finops_monitor_t monitor;

void finops_set_monitor(const finops_monitor_t *m)
{
    monitor = m ? *m : (finops_monitor_t){0};
}

/* What the KPIs need of one version. */
typedef struct vrec {
    int64_t version_id, team_id, model_id, created_at, requested, decided, prod_last,
        first_traffic, data_at;
    int production, card, owner, monitored;
} vrec_t;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* {"count", "mean_seconds", "median_seconds"} of xs (sorted here). */
static json_t *stats_json(double *xs, size_t n)
{
    if (!n)
        return json_pack("{s:i, s:n, s:n}", "count", 0, "mean_seconds", "median_seconds");
    qsort(xs, n, sizeof *xs, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += xs[i];
    double med = n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
    return json_pack("{s:I, s:f, s:f}", "count", (json_int_t)n, "mean_seconds", sum / n,
                     "median_seconds", med);
}

static json_t *share(int64_t yes, int64_t all)
{
    return all ? json_real((double)yes / (double)all) : json_null();
}

static json_t *unavailable(void)
{
    return json_pack("{s:b, s:s}", "available", 0, "source", "monitoring is not available");
}

/* The KPIs of the versions in v whose team passes (team_id 0: all). */
static int kpis_of(const mops_ctx_t *ctx, const vrec_t *v, size_t n, int64_t team_id,
                   const int64_t *teams, size_t nteams, int64_t from, int64_t to,
                   const finops_sum_t *costs, size_t ncosts, json_t **out, mops_err_t *err)
{
    double *ttb = mops_xcalloc(n + 1, sizeof *ttb), *cyc = mops_xcalloc(n + 1, sizeof *cyc);
    size_t nttb = 0, ncyc = 0, nprod = 0, ndata = 0;
    double age = 0, in_prod = 0, data_age = 0, max_age = 0;
    int64_t models = 0, owned = 0, carded = 0, watched = 0;
    int m_owner = 0, m_card = 0, m_watch = 0;
    for (size_t i = 0; i < n; i++) {
        const vrec_t *r = &v[i];
        if (team_id && r->team_id != team_id)
            continue;
        if (r->requested && r->first_traffic >= from && r->first_traffic < to &&
            r->first_traffic >= r->requested)
            ttb[nttb++] = (double)(r->first_traffic - r->requested) / 1000.0;
        if (r->requested && r->decided >= from && r->decided < to && r->decided >= r->requested)
            cyc[ncyc++] = (double)(r->decided - r->requested) / 1000.0;
        if (r->production) {
            double a = (double)(to - r->created_at) / 86400000.0;
            nprod++;
            age += a;
            if (a > max_age)
                max_age = a;
            in_prod += (double)(to - r->prod_last) / 86400000.0;
            if (r->data_at) {
                ndata++;
                data_age += (double)(to - r->data_at) / 86400000.0;
            }
        }
    }
    /* Coverage per model: a model counts when any of its versions has it. */
    for (size_t i = 0; i < n; i++) {
        if (team_id && v[i].team_id != team_id)
            continue;
        size_t k = 0;
        while (k < i && v[k].model_id != v[i].model_id)
            k++;
        if (k < i)
            continue; /* counted at its first version */
        m_owner = m_card = m_watch = 0;
        for (size_t j = i; j < n; j++)
            if (v[j].model_id == v[i].model_id) {
                m_owner |= v[j].owner;
                m_card |= v[j].card;
                m_watch |= v[j].monitored;
            }
        models++;
        owned += m_owner;
        carded += m_card;
        watched += m_watch;
    }
    double cost = 0, value = 0;
    for (size_t i = 0; i < ncosts; i++) {
        if (team_id ? costs[i].team_id != team_id : 0)
            continue;
        int visible = 0;
        for (size_t t = 0; t < nteams; t++)
            visible |= teams[t] == costs[i].team_id;
        if (!visible)
            continue;
        cost += finops__total(&costs[i]);
        double val = 0;
        int rc = costs[i].model_id ? finops__value(ctx, costs[i].model_id, 0,
                                                   costs[i].predictions, from, to, &val, err)
                                   : 0;
        if (rc != 0) {
            free(ttb);
            free(cyc);
            return rc;
        }
        value += val;
    }
    json_t *o = json_pack(
        "{s:I, s:o, s:o, s:{s:I, s:o, s:o, s:o, s:o}}", "models", (json_int_t)models,
        "time_to_business", stats_json(ttb, nttb), "governance_cycle", stats_json(cyc, ncyc),
        "freshness", "production_versions", (json_int_t)nprod, "mean_version_age_days",
        nprod ? json_real(age / nprod) : json_null(), "max_version_age_days",
        nprod ? json_real(max_age) : json_null(), "mean_days_in_production",
        nprod ? json_real(in_prod / nprod) : json_null(), "mean_training_data_age_days",
        ndata ? json_real(data_age / ndata) : json_null());
    double hours = (double)(to - from) / FINOPS_HOUR_MS;
    json_object_set_new(o, "cost",
                        json_pack("{s:f, s:f}", "total", cost, "monthly_run_rate",
                                  hours > 0 ? cost / hours * FINOPS_MONTH_HOURS : 0.0));
    json_object_set_new(o, "value",
                        json_pack("{s:f, s:o}", "total", value, "roi",
                                  cost > 0 ? json_real((value - cost) / cost) : json_null()));
    json_object_set_new(o, "coverage",
                        json_pack("{s:o, s:o, s:o}", "owner", share(owned, models), "card",
                                  share(carded, models), "monitoring",
                                  monitor.monitored ? share(watched, models) : json_null()));
    /* Monitoring's figures, per team (the org's are summed). */
    int rc = 0;
    if (monitor.availability && team_id) {
        json_t *a = NULL;
        if ((rc = monitor.availability(ctx, team_id, 0, from, to, &a, err)) == 0)
            json_object_set_new(o, "availability", a);
    } else if (!monitor.availability) {
        json_object_set_new(o, "availability", unavailable());
    }
    if (rc == 0 && monitor.alert_count) {
        int64_t total = 0;
        for (size_t t = 0; rc == 0 && t < nteams; t++) {
            int64_t k = 0;
            if (team_id && teams[t] != team_id)
                continue;
            if ((rc = monitor.alert_count(ctx, teams[t], 0, from, to, &k, err)) == 0)
                total += k;
        }
        json_object_set_new(o, "incidents",
                            json_pack("{s:I, s:o}", "total", (json_int_t)total, "per_model",
                                      models ? json_real((double)total / models) : json_null()));
    } else if (rc == 0) {
        json_object_set_new(o, "incidents", unavailable());
    }
    free(ttb);
    free(cyc);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* When the version's training dataset (a "dataset:TEAM/NAME@N" reference)
 * was registered, as the caller may see it; 0 when unknown. */
static int64_t data_time(const mops_ctx_t *ctx, const char *dataset)
{
    data_ref_t ref;
    mops_err_t err;
    json_t *dv = NULL;
    if (!*dataset || data_ref_parse(dataset, &ref, &err) != 0)
        return 0;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)ref.version);
    if (data_version_get(ctx, ref.team, ref.name, num, &dv, &err) != 0)
        return 0;
    int64_t at = 0;
    const char *t = json_string_value(json_object_get(dv, "created_at"));
    if (t)
        mops_time_parse(t, &at);
    json_decref(dv);
    return at;
}

static int first_traffic(const mops_ctx_t *ctx, int64_t version_id, int64_t *at,
                         mops_err_t *err)
{
    store_stmt_t *s = NULL;
    *at = 0;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT first_ms FROM finops_first_traffic WHERE version_id = ?", "i",
                         version_id);
    if (rc == 0 && (rc = store_step(s, err)) == STORE_ROW) {
        *at = store_col_int(s, 0);
        rc = 0;
    }
    store_finalize(s);
    return rc;
}

int finops_kpis(const mops_ctx_t *ctx, const char *team, const char *from_s, const char *to_s,
                json_t **out, mops_err_t *err)
{
    int64_t only = 0, from, to, now = mops_now_ms();
    int rc = 0;
    if (team && (rc = auth_team_resolve(ctx, team, &only, err)) == 0)
        rc = auth_require(ctx, AUTH_KPI_READ, only, err);
    if (rc == 0)
        rc = finops__period(from_s, to_s, now - 30LL * 24 * FINOPS_HOUR_MS, &from, &to, err);
    if (rc != 0)
        return rc;
    mops_err_t ferr;
    if (finops_flush(ctx, &ferr) != 0 && ferr.code != MOPS_EUNAVAIL)
        return mops_err_set(err, ferr.code, "%s", ferr.msg);
    /* The teams shown: the one asked for, or every one the caller may see
     * KPIs of. */
    json_t *tl = NULL, *names = json_array();
    int64_t *teams = NULL;
    size_t nteams = 0, i;
    if (only) {
        teams = mops_xmalloc(sizeof *teams);
        teams[nteams++] = only;
        json_array_append_new(names, json_string(team));
    } else if ((rc = auth_team_list(ctx, &tl, err)) == 0) {
        json_t *t;
        json_array_foreach(json_object_get(tl, "items"), i, t) {
            int64_t id;
            const char *name = json_string_value(json_object_get(t, "name"));
            mops_err_t e2;
            if (auth_team_resolve(ctx, name, &id, &e2) == 0 && auth_can(ctx->who, AUTH_KPI_READ, id)) {
                teams = mops_xrealloc(teams, (nteams + 1) * sizeof *teams);
                teams[nteams++] = id;
                json_array_append_new(names, json_string(name));
            }
        }
        json_decref(tl);
    }
    json_t *timeline = NULL;
    vrec_t *v = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = governance_timeline(ctx, only, &timeline, err);
    json_t *it;
    json_array_foreach(json_object_get(timeline, "items"), i, it) {
        if (rc != 0)
            break;
        int64_t tid = json_integer_value(json_object_get(it, "team_id"));
        int visible = 0;
        for (size_t t = 0; t < nteams; t++)
            visible |= teams[t] == tid;
        if (!visible)
            continue;
        v = mops_xrealloc(v, (n + 1) * sizeof *v);
        vrec_t *r = &v[n++];
        *r = (vrec_t){
            .version_id = json_integer_value(json_object_get(it, "version_id")),
            .team_id = tid,
            .model_id = json_integer_value(json_object_get(it, "model_id")),
            .created_at = json_integer_value(json_object_get(it, "created_at")),
            .requested = json_integer_value(json_object_get(it, "review_requested_at")),
            .decided = json_integer_value(json_object_get(it, "decided_at")),
            .prod_last = json_integer_value(json_object_get(it, "production_last_at")),
            .production = !strcmp(json_string_value(json_object_get(it, "stage")), "production"),
            .card = json_is_true(json_object_get(it, "card")),
            .owner = json_is_true(json_object_get(it, "card_owner"))};
        rc = first_traffic(ctx, r->version_id, &r->first_traffic, err);
        if (r->production)
            r->data_at = data_time(ctx, json_string_value(json_object_get(it, "dataset")));
        if (rc == 0 && monitor.monitored)
            rc = monitor.monitored(ctx, r->version_id, &r->monitored, err);
    }
    json_decref(timeline);
    finops_sum_t *costs = NULL;
    size_t ncosts = 0;
    if (rc == 0)
        rc = finops__compute(ctx, FG_MODEL, from, to, only, &costs, &ncosts, NULL, NULL, NULL,
                             err);
    json_t *per_team = json_array(), *org = NULL;
    for (size_t t = 0; rc == 0 && t < nteams; t++) {
        json_t *k = NULL;
        if ((rc = kpis_of(ctx, v, n, teams[t], teams, nteams, from, to, costs, ncosts, &k,
                          err)) == 0) {
            json_object_set_new(k, "team", json_incref(json_array_get(names, t)));
            json_array_append_new(per_team, k);
        }
    }
    if (rc == 0)
        rc = kpis_of(ctx, v, n, 0, teams, nteams, from, to, costs, ncosts, &org, err);
    free(v);
    free(teams);
    free(costs);
    json_decref(names);
    if (rc != 0) {
        json_decref(per_team);
        return rc;
    }
    *out = json_pack("{s:o, s:o, s:o, s:o}", "from", mops_json_time(from), "to",
                     mops_json_time(to), "teams", per_team, "org", org);
    return 0;
}
