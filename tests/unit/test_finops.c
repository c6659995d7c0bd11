/*
 * test_finops.c — FinOps on SQLite and PostgreSQL: metering is exact (events
 * from many threads summed back after a flush), the price sheet's versions
 * apply from their hour, the shared overhead and idle capacity are
 * allocated by metered CPU, budgets fire each alert once at its threshold
 * and resolve it when it no longer holds, value and permissions. (tests/e2e/test_finops.py runs it under load on a
 * real server.)
 */
#include <pthread.h>

#include "testutil.h"
#include "audit/audit.h"
#include "core/time.h"
#include "finops/finops.h"
#include "serve/serve_int.h"

#define HOUR 3600000LL

static int64_t count(tu_fixture_t *f, const char *sql)
{
    int64_t n = 0;
    mops_err_t err;
    if (store_query_int(f->db, &n, &err, sql, NULL) != 0)
        fail_msg("%s: %s", sql, err.msg);
    return n;
}

static void prices(tu_fixture_t *f, const char *json)
{
    json_t *spec = tu_json(json), *out = NULL;
    TU_OK(finops_prices_set(&f->sys, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
}

static void usage_row(tu_fixture_t *f, int64_t team, int64_t model, int64_t hour, int64_t cpu_ns,
                      int64_t predictions)
{
    TU_OK(store_exec(f->db, NULL, &tu_err_,
                     "INSERT INTO finops_usage (team_id, model_id, version_id, deployment_id, "
                     "hour, requests, predictions, cpu_ns) VALUES (?, ?, 0, 0, ?, ?, ?, ?)",
                     "iiiiii", team, model, hour, predictions, predictions, cpu_ns));
}

/* ------------------------------------------------------------ metering */

#define THREADS 4
#define EVENTS 5000

static void *emit(void *arg)
{
    int64_t t = (int64_t)(intptr_t)arg;
    for (int i = 0; i < EVENTS; i++) {
        serve_event_t ev = {.ts_ms = mops_now_ms(), .team_id = 1 + t % 2,
                            .deployment_id = 10 + i % 3, .version_id = 100 + i % 5,
                            .role = i % 7 ? SERVE_ROLE_PRIMARY : SERVE_ROLE_SHADOW,
                            .n_rows = 2, .cpu_ns = 1000 + i, .wall_us = 7,
                            .bytes_in = 11, .bytes_out = 13, .status = i % 11 == 0};
        serve__observe(&ev);
    }
    return NULL;
}

static void test_metering_exact(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    finops_options_t o = {.flush_ms = 5, .storage_ms = 3600000};
    TU_OK(finops_start(f->st, &f->env, &o, &tu_err_));
    pthread_t th[THREADS];
    for (intptr_t t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, emit, (void *)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    TU_OK(finops_flush(&f->sys, &tu_err_));
    finops_stop();
    serve_observers_clear();
    /* Every event, once: the sums equal what was sent, whatever the
     * metering thread flushed meanwhile. */
    int64_t cpu = 0, errors = 0, rows = 0, shadow = 0;
    for (int i = 0; i < EVENTS; i++) {
        cpu += 1000 + i;
        int failed = i % 11 == 0;
        errors += failed;
        if (!failed)
            *(i % 7 ? &rows : &shadow) += 2;
    }
    assert_int_equal(count(f, "SELECT SUM(requests) FROM finops_usage"), THREADS * EVENTS);
    assert_int_equal(count(f, "SELECT SUM(cpu_ns) FROM finops_usage"), THREADS * cpu);
    assert_int_equal(count(f, "SELECT SUM(errors) FROM finops_usage"), THREADS * errors);
    assert_int_equal(count(f, "SELECT SUM(predictions) FROM finops_usage"), THREADS * rows);
    assert_int_equal(count(f, "SELECT SUM(shadow_rows) FROM finops_usage"), THREADS * shadow);
    assert_int_equal(count(f, "SELECT SUM(bytes_out) FROM finops_usage"),
                     (int64_t)THREADS * EVENTS * 13);
    /* what the server flushed as metered is what the rows hold */
    assert_int_equal(count(f, "SELECT SUM(metered_cpu_ns) FROM finops_server_usage"),
                     THREADS * cpu);
    assert_true(count(f, "SELECT SUM(process_cpu_ns) FROM finops_server_usage") > 0);
    /* the first primary request of each version is known */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM finops_first_traffic"), 5);
}

/* ------------------------------------------------------------ costs */

static json_t *item_of(json_t *report, const char *team)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(report, "items"), i, it)
        if (!strcmp(json_string_value(json_object_get(it, "team")), team))
            return it;
    fail_msg("no item for team %s", team);
    return NULL;
}

static double cost_of(json_t *item, const char *line)
{
    return json_number_value(json_object_get(json_object_get(item, "cost"), line));
}

static void test_costs_allocation_and_prices(void **state)
{
    tu_fixture_t *f = *state;
    mops_err_t err;
    TU_SKIP(f);
    int64_t now = mops_now_ms(), h = now - now % HOUR - 48 * HOUR;
    /* $1 per CPU-second from long ago; a later version from hour h + 1 */
    prices(f, "{\"prices\": {\"cpu_core_hour\": 3600}, \"effective_from\": "
              "\"2000-01-01T00:00:00Z\"}");
    char later[64], from[32], to[32];
    mops_time_format(h + HOUR, from, sizeof from);
    snprintf(later, sizeof later, "%s", from);
    char spec[160];
    snprintf(spec, sizeof spec,
             "{\"prices\": {\"cpu_core_hour\": 7200}, \"effective_from\": \"%s\"}", later);
    prices(f, spec);
    usage_row(f, 1, 5, h, 3000000000LL, 30);
    usage_row(f, 2, 6, h, 1000000000LL, 10);
    usage_row(f, 1, 5, h + HOUR, 1000000000LL, 10);
    TU_OK(store_exec(f->db, NULL, &tu_err_,
                     "INSERT INTO finops_server_usage (server, hour, process_cpu_ns, "
                     "metered_cpu_ns, capacity_cpu_ns) VALUES ('s', ?, 10000000000, "
                     "4000000000, 20000000000)",
                     "i", h));
    mops_time_format(h, from, sizeof from);
    mops_time_format(h + 2 * HOUR, to, sizeof to);
    finops_query_t q = {.group_by = "team", .from = from, .to = to};
    json_t *r = NULL;
    TU_OK(finops_costs(&f->sys, &q, &r, &tu_err_));
    json_t *a = item_of(r, "#1"), *b = item_of(r, "#2");
    /* cpu: 3 s at $1 in hour h, 1 s at $2 in the next */
    assert_float_equal(cost_of(a, "cpu"), 5.0, 1e-9);
    assert_float_equal(cost_of(b, "cpu"), 1.0, 1e-9);
    /* overhead 6 s and idle 10 s of hour h, split 3:1 by metered CPU */
    assert_float_equal(cost_of(a, "overhead"), 4.5, 1e-9);
    assert_float_equal(cost_of(b, "overhead"), 1.5, 1e-9);
    assert_float_equal(cost_of(a, "idle_capacity"), 7.5, 1e-9);
    assert_float_equal(cost_of(b, "idle_capacity"), 2.5, 1e-9);
    assert_float_equal(cost_of(a, "total"), 17.0, 1e-9);
    /* cost per 1,000 predictions: a cheaper challenger shows */
    assert_float_equal(json_number_value(json_object_get(a, "cost_per_1k")), 17.0 / 40 * 1000,
                       1e-6);
    json_t *server = json_object_get(r, "server");
    assert_float_equal(json_number_value(json_object_get(server, "overhead_cpu_seconds")), 6.0,
                       1e-9);
    json_decref(r);
    /* bad queries name what is wrong */
    q.group_by = "planet";
    assert_int_equal(finops_costs(&f->sys, &q, &r, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "group_by"));
    q.group_by = NULL;
    q.from = to;
    q.to = from;
    assert_int_equal(finops_costs(&f->sys, &q, &r, &err), MOPS_EINVAL);
    /* the FOCUS export carries the same charges */
    q.from = from;
    q.to = to;
    char *csv = NULL;
    size_t len = 0;
    TU_OK(finops_costs_focus(&f->sys, &q, &csv, &len, &tu_err_));
    assert_non_null(strstr(csv, "ChargePeriodStart,ChargePeriodEnd,ChargeCategory"));
    assert_non_null(strstr(csv, ",cpu,3.0000000000,3.0000000000,3.0000000000,"));
    free(csv);
}

/* ------------------------------------------------------------ budgets */

static void set_cost(tu_fixture_t *f, int64_t team, int64_t hour, double dollars)
{
    TU_OK(store_exec(f->db, NULL, &tu_err_, "DELETE FROM finops_usage", NULL));
    usage_row(f, team, 0, hour, (int64_t)(dollars * 1e9 + 0.5), 1); /* $1 per CPU-second */
}

static int check(tu_fixture_t *f, int64_t now)
{
    int fired = -1;
    TU_OK(finops_budgets_check(&f->sys, now, &fired, &tu_err_));
    return fired;
}

/* Budget alerts of month ("2025-03") that fire. */
static int64_t firing(tu_fixture_t *f, const char *month)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM monitor_alerts WHERE state = 'firing' AND alert_key LIKE "
             "'finops:budget:%%:%s:%%'",
             month);
    return count(f, sql);
}

static void set_budget(tu_fixture_t *f, double amount)
{
    json_t *spec = json_pack("{s:f}", "amount", amount), *out = NULL;
    TU_OK(finops_budget_set(&f->sys, "alpha", NULL, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
}

static void test_budget_thresholds(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    tu_team(f, "alpha");
    int64_t team = 0;
    TU_OK(auth_team_resolve(&f->sys, "alpha", &team, &tu_err_));
    prices(f, "{\"prices\": {\"cpu_core_hour\": 3600}, \"effective_from\": "
              "\"2000-01-01T00:00:00Z\"}");
    set_budget(f, 10);
    /* February 2025 (28 days), checked a quarter through: the forecast is
     * four times the spend. */
    int64_t month, now;
    assert_int_equal(mops_time_parse("2025-02-01T00:00:00Z", &month), 0);
    assert_int_equal(mops_time_parse("2025-02-08T00:00:00Z", &now), 0);
    set_cost(f, team, month, 2.0); /* forecast 8: nothing */
    assert_int_equal(check(f, now), 0);
    set_cost(f, team, month, 2.6); /* forecast 10.4: over */
    assert_int_equal(check(f, now), 1);
    set_cost(f, team, month, 7.99); /* under 80% */
    assert_int_equal(check(f, now), 0);
    set_cost(f, team, month, 8.01); /* 80% reached */
    assert_int_equal(check(f, now), 1);
    set_cost(f, team, month, 10.01); /* 100% */
    assert_int_equal(check(f, now), 1);
    assert_int_equal(check(f, now), 0); /* each once a month */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM finops_budget_alerts WHERE kind IN "
                              "('80', '100', 'forecast')"),
                     3);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE action = 'budget.alert'"), 3);
    /* the next month starts afresh */
    int64_t march;
    assert_int_equal(mops_time_parse("2025-03-01T00:00:00Z", &march), 0);
    set_cost(f, team, march, 9.0);
    int64_t mid_march = march + 10 * 24 * HOUR;
    assert_int_equal(check(f, mid_march), 2); /* 80% and forecast */
    /* ...and February's alerts resolved with their month */
    assert_int_equal(firing(f, "2025-02"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM monitor_alerts WHERE state = 'resolved' "
                              "AND alert_key LIKE 'finops:budget:%:2025-02:%'"),
                     3);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM finops_budget_alerts WHERE resolved_at IS "
                              "NULL"),
                     2);
    /* a budget raised resolves what no longer holds; lowered, they fire anew */
    set_budget(f, 100);
    assert_int_equal(check(f, mid_march), 0);
    assert_int_equal(firing(f, "2025-03"), 0);
    set_budget(f, 10);
    assert_int_equal(check(f, mid_march), 2);
    assert_int_equal(firing(f, "2025-03"), 2);
    /* a budget deleted takes its alerts with it */
    TU_OK(finops_budget_delete(&f->sys, "alpha", NULL, &tu_err_));
    assert_int_equal(firing(f, "2025-03"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM finops_budget_alerts"), 0);
}

static void test_permissions(void **state)
{
    tu_fixture_t *f = *state;
    mops_err_t err;
    TU_SKIP(f);
    tu_team(f, "alpha");
    tu_team(f, "beta");
    mops_ctx_t viewer = tu_as(f, "vic", "alpha", "[\"viewer\"]");
    mops_ctx_t fin = tu_as(f, "fin", "alpha", "[\"finops\"]");
    mops_ctx_t outsider = tu_as(f, "out", "beta", "[\"admin\", \"finops\"]");
    json_t *spec = tu_json("{\"amount\": 5}"), *out = NULL;
    assert_int_equal(finops_budget_set(&viewer, "alpha", NULL, spec, &out, &err),
                     MOPS_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "budget.write"));
    assert_int_equal(finops_budget_set(&outsider, "alpha", NULL, spec, &out, &err),
                     MOPS_ENOTFOUND);
    TU_OK(finops_budget_set(&fin, "alpha", NULL, spec, &out, &tu_err_));
    json_decref(out);
    json_decref(spec);
    /* the price sheet: finops of any team, not a viewer */
    spec = tu_json("{\"prices\": {\"gpu_hour\": 1}}");
    assert_int_equal(finops_prices_set(&viewer, spec, &out, &err), MOPS_EFORBIDDEN);
    TU_OK(finops_prices_set(&outsider, spec, &out, &tu_err_));
    json_decref(out);
    json_decref(spec);
    /* a viewer sees KPIs but not costs */
    finops_query_t q = {.team = "alpha"};
    assert_int_equal(finops_costs(&viewer, &q, &out, &err), MOPS_EFORBIDDEN);
    TU_OK(finops_kpis(&viewer, "alpha", NULL, NULL, &out, &tu_err_));
    json_decref(out);
    assert_int_equal(finops_kpis(&outsider, "alpha", NULL, NULL, &out, &err),
                     MOPS_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOTH(test_metering_exact),
        TU_BOTH(test_costs_allocation_and_prices),
        TU_BOTH(test_budget_thresholds),
        TU_BOTH(test_permissions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
