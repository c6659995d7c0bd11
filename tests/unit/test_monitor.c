/*
 * test_monitor.c — the monitoring module: alerts fire once per key and
 * resolve, with their webhook events, audit entries and retraining
 * requests; lists respect teams; availability from the aggregates; the
 * drift statistics against SciPy's on the same data.
 */
#include "testutil.h"

#include <math.h>
#include <pthread.h>

#include "monitor/monitor.h"
#include "core/time.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "stats/stats.h"

static int64_t count(tu_fixture_t *f, const char *sql)
{
    int64_t n = -1;
    TU_OK(store_query_int(f->db, &n, &tu_err_, sql, NULL));
    return n;
}

static int64_t id_of(tu_fixture_t *f, const char *sql)
{
    return count(f, sql);
}

/* ------------------------------------------------------------ alerts */

static void test_alerts(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    tu_team(f, "a");
    tu_team(f, "b");
    mops_ctx_t ds = tu_as(f, "dana", "a", "[\"data-scientist\"]");
    mops_ctx_t viewer = tu_as(f, "vic", "a", "[\"viewer\"]");
    mops_ctx_t outsider = tu_as(f, "otto", "b", "[\"admin\"]");
    json_t *out = NULL, *spec = tu_json("{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\"}");
    TU_OK(registry_model_create(&ds, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    int64_t team = id_of(f, "SELECT id FROM teams WHERE name = 'a'");
    int64_t model = id_of(f, "SELECT id FROM models WHERE name = 'm'");
    json_t *detail = json_pack("{s:s}", "feature", "x");
    monitor_alert_t a = {.team_id = team, .model_id = model, .source = "monitor",
                         .key = "rule:1", .kind = "drift", .severity = "warning",
                         .message = "x drifted", .value = 0.4, .threshold = 0.2,
                         .detail = detail};
    mops_err_t err;
    int64_t id = 0, id2 = 0;
    int fired = -1, resolved = -1;
    /* only inside a transaction */
    assert_int_equal(monitor_alert_fire(&f->sys, &a, &id, &fired, &err), MOPS_EINTERNAL);
    TU_OK(store_begin(f->db, &tu_err_));
    TU_OK(monitor_alert_fire(&f->sys, &a, &id, &fired, &tu_err_));
    assert_int_equal(fired, 1);
    /* firing again is a no-op answering the same alert */
    TU_OK(monitor_alert_fire(&f->sys, &a, &id2, &fired, &tu_err_));
    TU_OK(store_commit(f->db, &tu_err_));
    assert_int_equal(fired, 0);
    assert_int_equal(id, id2);
    assert_int_equal(count(f, "SELECT count(*) FROM monitor_alerts"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM monitor_retraining WHERE state = 'open'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE action = 'alert.fire'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE action = 'retraining.open'"),
                     1);
    /* bad alerts are refused */
    static const struct {
        const char *source, *severity, *key;
        double value;
        const char *says;
    } bad[] = {
        {"x", "info", "k", 1, "source"},
        {"finops", "fatal", "k", 1, "severity"},
        {"finops", "info", "", 1, "key"},
        {"finops", "info", "k", NAN, "finite"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        monitor_alert_t b = a;
        b.source = bad[i].source;
        b.severity = bad[i].severity;
        b.key = bad[i].key;
        b.value = bad[i].value;
        TU_OK(store_begin(f->db, &tu_err_));
        int rc = monitor_alert_fire(&f->sys, &b, &id2, &fired, &err);
        store_rollback(f->db);
        if (rc != MOPS_EINVAL || !strstr(err.msg, bad[i].says))
            fail_msg("case %zu: %d %s", i, rc, err.msg);
    }
    /* a second drift alert while a retraining request is open opens no other */
    monitor_alert_t b = a;
    b.key = "rule:2";
    TU_OK(store_begin(f->db, &tu_err_));
    TU_OK(monitor_alert_fire(&f->sys, &b, &id2, &fired, &tu_err_));
    /* a budget alert about no model */
    monitor_alert_t c = {.team_id = team, .source = "finops", .key = "budget:3:80",
                         .kind = "budget", .severity = "critical", .message = "80% spent",
                         .value = 80, .threshold = 80};
    TU_OK(monitor_alert_fire(&f->sys, &c, NULL, NULL, &tu_err_));
    TU_OK(store_commit(f->db, &tu_err_));
    assert_int_equal(count(f, "SELECT count(*) FROM monitor_retraining"), 1);
    int64_t n = 0;
    TU_OK(monitor_alert_count(&f->sys, team, model, 0, INT64_MAX, &n, &tu_err_));
    assert_int_equal(n, 2);
    TU_OK(monitor_alert_count(&f->sys, team, 0, 0, INT64_MAX, &n, &tu_err_));
    assert_int_equal(n, 3);
    TU_OK(monitor_alert_count(&f->sys, team, 0, 0, 1, &n, &tu_err_));
    assert_int_equal(n, 0);

    /* resolve: once; then the key may fire anew */
    TU_OK(store_begin(f->db, &tu_err_));
    TU_OK(monitor_alert_resolve(&f->sys, team, "rule:1", &resolved, &tu_err_));
    assert_int_equal(resolved, 1);
    TU_OK(monitor_alert_resolve(&f->sys, team, "rule:1", &resolved, &tu_err_));
    assert_int_equal(resolved, 0);
    TU_OK(monitor_alert_fire(&f->sys, &a, &id2, &fired, &tu_err_));
    TU_OK(store_commit(f->db, &tu_err_));
    assert_int_equal(fired, 1);
    assert_true(id2 != id);
    json_decref(detail); /* a.detail is borrowed until here */

    /* lists: by team, state, source; another team sees nothing */
    monitor_alert_filter_t flt = {.team = "a", .state = "firing"};
    TU_OK(monitor_alert_list(&viewer, &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 3);
    json_t *first = json_array_get(json_object_get(out, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "model")), "m");
    assert_string_equal(json_string_value(json_object_get(first, "state")), "firing");
    json_decref(out);
    flt = (monitor_alert_filter_t){.source = "finops"};
    TU_OK(monitor_alert_list(&viewer, &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    flt = (monitor_alert_filter_t){.state = "resolved", .limit = 1};
    TU_OK(monitor_alert_list(&viewer, &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    assert_true(json_is_null(json_object_get(out, "next_page_token")));
    json_decref(out);
    flt = (monitor_alert_filter_t){0};
    TU_OK(monitor_alert_list(&outsider, &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
    json_decref(out);
    flt = (monitor_alert_filter_t){.team = "a"};
    assert_int_equal(monitor_alert_list(&outsider, &flt, &out, &err), MOPS_ENOTFOUND);
    flt = (monitor_alert_filter_t){.state = "asleep"};
    assert_int_equal(monitor_alert_list(&viewer, &flt, &out, &err), MOPS_EINVAL);

    /* retraining requests: the owner sees theirs, closes it */
    monitor_retraining_filter_t rf = {.mine = 1};
    TU_OK(monitor_retraining_list(&ds, &rf, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    int64_t rid = json_integer_value(
        json_object_get(json_array_get(json_object_get(out, "items"), 0), "id"));
    json_decref(out);
    TU_OK(monitor_retraining_list(&viewer, &rf, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
    json_decref(out);
    spec = tu_json("{\"note\":\"retrained as v2\"}");
    assert_int_equal(monitor_retraining_close(&viewer, rid, spec, &out, &err), MOPS_EFORBIDDEN);
    assert_int_equal(monitor_retraining_close(&outsider, rid, spec, &out, &err), MOPS_ENOTFOUND);
    TU_OK(monitor_retraining_close(&ds, rid, spec, &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(out, "state")), "closed");
    json_decref(out);
    /* again: nothing changes, the request is answered as it is */
    json_decref(spec);
    spec = tu_json("{\"note\":\"other\"}");
    TU_OK(monitor_retraining_close(&ds, rid, spec, &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(out, "note")), "retrained as v2");
    json_decref(out);
    json_decref(spec);
    /* webhooks: nothing subscribed here, so no deliveries, but events are
     * queued for every team webhook; with none, none */
    assert_int_equal(count(f, "SELECT count(*) FROM notify_deliveries"), 0);
}

/* ------------------------------------------------------------ availability */

static void test_availability(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    tu_team(f, "a");
    int64_t team = id_of(f, "SELECT id FROM teams WHERE name = 'a'");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO monitor_windows (deployment_id, version_id, start_ms, team_id, "
             "requests, errors, rows_seen, summary, updated_at) VALUES (7, 1, 0, %lld, 90, 9, 90, "
             "'{}', 0), (7, 1, 3600000, %lld, 10, 1, 10, '{}', 0)",
             (long long)team, (long long)team);
    TU_OK(store_exec(f->db, NULL, &tu_err_, sql, NULL));
    json_t *out = NULL;
    TU_OK(monitor_availability(&f->sys, team, 7, 0, 7200000, &out, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "requests")), 100);
    assert_int_equal(json_integer_value(json_object_get(out, "errors")), 10);
    assert_true(fabs(json_real_value(json_object_get(out, "availability")) - 0.9) < 1e-12);
    json_decref(out);
    TU_OK(monitor_availability(&f->sys, team, 8, 0, 7200000, &out, &tu_err_));
    assert_true(json_is_null(json_object_get(out, "availability")));
    json_decref(out);
}

/* ------------------------------------------------------------ drift math */

/* Run tests/unit/monitor_scipy.py: samples and SciPy's figures. */
static json_t *scipy_figures(const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/unit/monitor_scipy.py %s", args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t je;
    json_t *v = json_loadf(p, 0, &je);
    assert_int_equal(pclose(p), 0);
    if (!v)
        fail_msg("monitor_scipy.py: %s", je.text);
    return v;
}

static double *values(const json_t *a, size_t *n)
{
    *n = json_array_size(a);
    double *v = mops_xmalloc(*n * sizeof(double) + 1);
    for (size_t i = 0; i < *n; i++)
        v[i] = json_real_value(json_array_get(a, i));
    return v;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pop_std(const double *v, size_t n)
{
    stats_moments_t m;
    stats_moments_init(&m);
    for (size_t i = 0; i < n; i++)
        stats_moments_add(&m, v[i]);
    return sqrt(stats_moments_variance(&m, 0));
}

#define FIG(k) json_real_value(json_object_get(fig, k))
#define CLOSE(a, b, tol)                                                                           \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (tol) * fmax(1, fabs(b_))))                                         \
            fail_msg("%s = %.17g, SciPy %.17g (tolerance %g)", #a, a_, b_, (double)(tol));       \
    } while (0)

static void test_drift_exact_against_scipy(void **state)
{
    (void)state;
    json_t *fig = scipy_figures("7 700 500");
    size_t n, m;
    double *ref = values(json_object_get(fig, "ref"), &n);
    double *cur = values(json_object_get(fig, "cur"), &m);
    qsort(ref, n, sizeof *ref, cmp_d);
    qsort(cur, m, sizeof *cur, cmp_d);
    monitor_dist_t r = {.sorted = ref, .n = n, .std = pop_std(ref, n)};
    monitor_dist_t c = {.sorted = cur, .n = m, .std = pop_std(cur, m)};
    monitor_drift_t d;
    TU_OK(monitor_drift_numeric(&r, &c, &d, &tu_err_));
    CLOSE(d.ks, FIG("ks"), 1e-12);
    CLOSE(d.ks_p, FIG("ks_p_asymp"), 1e-9);
    /* SciPy's own p-value (its exact/kstwo computation) is within 25% here */
    CLOSE(d.ks_p, FIG("ks_p_scipy"), 0.25 * FIG("ks_p_scipy"));
    CLOSE(d.wasserstein, FIG("wasserstein"), 1e-9);
    CLOSE(d.psi, FIG("psi"), 1e-9);
    CLOSE(d.js, FIG("js"), 1e-9);
    /* categorical */
    double p, js;
    size_t k;
    double *cr = values(json_object_get(fig, "cat_ref"), &k);
    double *cc = values(json_object_get(fig, "cat_cur"), &k);
    TU_OK(monitor_drift_categorical(cr, cc, k, &p, &js, &tu_err_));
    CLOSE(p, FIG("chi2_p"), 1e-9);
    CLOSE(js, FIG("cat_js"), 1e-9);
    free(cr);
    free(cc);
    cr = values(json_object_get(fig, "cat2_ref"), &k);
    cc = values(json_object_get(fig, "cat2_cur"), &k);
    TU_OK(monitor_drift_categorical(cr, cc, k, &p, &js, &tu_err_));
    CLOSE(p, FIG("chi2_p2"), 1e-9); /* with Yates' correction */
    free(cr);
    free(cc);
    /* same data: no drift */
    TU_OK(monitor_drift_numeric(&r, &r, &d, &tu_err_));
    assert_true(d.ks == 0 && d.wasserstein == 0 && fabs(d.psi) < 1e-12 && d.js == 0);
    assert_true(d.ks_p == 1);
    monitor_dist_t empty = {.sorted = ref, .n = 0};
    mops_err_t err;
    assert_int_equal(monitor_drift_numeric(&r, &empty, &d, &err), MOPS_EINVAL);
    free(ref);
    free(cur);
    json_decref(fig);
}

/* From sketches: within the sketches' rank error. */
static void test_drift_sketch_bound(void **state)
{
    (void)state;
    json_t *fig = scipy_figures("11 20000 15000");
    size_t n, m;
    double *ref = values(json_object_get(fig, "ref"), &n);
    double *cur = values(json_object_get(fig, "cur"), &m);
    stats_kll_t *kr = stats_kll_new(STATS_KLL_K), *kc = stats_kll_new(STATS_KLL_K);
    for (size_t i = 0; i < n; i++)
        stats_kll_add(kr, ref[i]);
    for (size_t i = 0; i < m; i++)
        stats_kll_add(kc, cur[i]);
    monitor_dist_t r = {.kll = kr, .std = pop_std(ref, n)};
    monitor_dist_t c = {.kll = kc, .std = pop_std(cur, m)};
    monitor_drift_t d;
    TU_OK(monitor_drift_numeric(&r, &c, &d, &tu_err_));
    double eps = stats_kll_epsilon(STATS_KLL_K);
    /* |F̂ − F| <= ε on each side */
    CLOSE(d.ks, FIG("ks"), 2 * eps);
    /* W1 = ∫|F_r − F_c|: off by at most 2ε times the range, over std */
    double range = fmax(stats_kll_max(kr), stats_kll_max(kc)) -
                   fmin(stats_kll_min(kr), stats_kll_min(kc));
    CLOSE(d.wasserstein, FIG("wasserstein"), 2 * eps * range / r.std);
    /* bin shares each within 4ε (edges and counts both estimated); PSI and
     * JS follow: here within 0.05 */
    CLOSE(d.psi, FIG("psi"), 0.05);
    CLOSE(d.js, FIG("js"), 0.05);
    stats_kll_free(kr);
    stats_kll_free(kc);
    free(ref);
    free(cur);
    json_decref(fig);
}

/* ------------------------------------------------------------ aggregates */

/* Requests folded by the observer, written out twice into one window:
 * the stored row is the exact sum, and availability reads it. */
static void test_windows_fold_and_merge(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    tu_team(f, "a");
    int64_t team = id_of(f, "SELECT id FROM teams WHERE name = 'a'");
    int64_t now = mops_now_ms();
    double x[2 * 3] = {1, 2, NAN, 4, 5, 6}, y[2] = {0.25, 0.75};
    serve_event_t ev = {.ts_ms = now, .team_id = team, .deployment_id = 42, .version_id = 7,
                        .role = SERVE_ROLE_PRIMARY, .request_id = "r", .n_rows = 2,
                        .n_features = 3, .n_outputs = 1, .inputs = x, .outputs = y,
                        .wall_us = 1500};
    for (int i = 0; i < 10; i++)
        monitor_observe(&ev, NULL);
    TU_OK(monitor_flush(f->db, &tu_err_));
    serve_event_t failed = ev;
    failed.inputs = failed.outputs = NULL;
    failed.status = MOPS_EINVAL;
    monitor_observe(&failed, NULL);
    for (int i = 0; i < 5; i++)
        monitor_observe(&ev, NULL);
    serve_event_t direct = ev; /* a model addressed directly: not a deployment's */
    direct.deployment_id = 0;
    monitor_observe(&direct, NULL);
    TU_OK(monitor_flush(f->db, &tu_err_));
    assert_int_equal(count(f, "SELECT count(*) FROM monitor_windows"), 1);
    assert_int_equal(count(f, "SELECT requests FROM monitor_windows"), 16);
    assert_int_equal(count(f, "SELECT errors FROM monitor_windows"), 1);
    assert_int_equal(count(f, "SELECT rows_seen FROM monitor_windows"), 30);
    json_t *out = NULL;
    TU_OK(monitor_availability(&f->sys, team, 42, now - MONITOR_WINDOW_MS, now + 1, &out,
                               &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "requests")), 16);
    assert_true(fabs(json_real_value(json_object_get(out, "availability")) - 15.0 / 16) < 1e-12);
    json_decref(out);
    /* the summary holds per-feature counts and missing values */
    store_stmt_t *st;
    TU_OK(store_query(f->db, &st, &tu_err_, "SELECT summary FROM monitor_windows", NULL));
    assert_int_equal(store_step(st, NULL), STORE_ROW);
    json_t *sum = tu_json(store_col_text(st, 0));
    store_finalize(st);
    json_t *f0 = json_array_get(json_object_get(sum, "inputs"), 2); /* the NaN column */
    assert_int_equal(json_integer_value(json_object_get(f0, "missing")), 15);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f0, "moments"), "n")),
                     15);
    assert_int_equal(json_array_size(json_object_get(sum, "outputs")), 1);
    json_decref(sum);
    /* governance: the version has no reference and no rules */
    TU_OK(monitor_governance_monitoring(&f->sys, 7, &out, &tu_err_));
    assert_false(json_is_true(json_object_get(out, "configured")));
    json_decref(out);
    monitor_stop(); /* frees the slots (monitoring was never started) */
}

/* Two request threads fold at once (each into its own stripe), single
 * rows (buffered) and 100-row requests (folded directly): the window
 * written out is one row whose counts are exact. */
static double wide_x[100 * 4], wide_y[100];

static void *fold_thread(void *arg)
{
    const serve_event_t *base = arg;
    for (int i = 0; i < 300; i++) {
        serve_event_t ev = *base;
        ev.n_rows = 1;
        ev.inputs = wide_x + (i % 100) * 4;
        ev.outputs = wide_y + i % 100;
        monitor_observe(&ev, NULL);
        if (i % 150 == 0)
            monitor_observe(base, NULL); /* 100 rows */
    }
    return NULL;
}

static void test_windows_threads(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    tu_team(f, "a");
    int64_t team = id_of(f, "SELECT id FROM teams WHERE name = 'a'");
    for (int r = 0; r < 100; r++) {
        for (int c = 0; c < 4; c++)
            wide_x[r * 4 + c] = c == 3 && r % 10 == 0 ? NAN : r * 0.5 + c;
        wide_y[r] = r / 100.0;
    }
    serve_event_t ev = {.ts_ms = mops_now_ms(), .team_id = team, .deployment_id = 43,
                        .version_id = 8, .role = SERVE_ROLE_PRIMARY, .request_id = "r",
                        .n_rows = 100, .n_features = 4, .n_outputs = 1, .inputs = wide_x,
                        .outputs = wide_y, .wall_us = 800};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fold_thread, &ev), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    TU_OK(monitor_flush(f->db, &tu_err_));
    assert_int_equal(count(f, "SELECT count(*) FROM monitor_windows WHERE version_id = 8"), 1);
    assert_int_equal(count(f, "SELECT requests FROM monitor_windows WHERE version_id = 8"),
                     2 * 302);
    assert_int_equal(count(f, "SELECT rows_seen FROM monitor_windows WHERE version_id = 8"),
                     2 * 500);
    store_stmt_t *st;
    TU_OK(store_query(f->db, &st, &tu_err_,
                      "SELECT summary FROM monitor_windows WHERE version_id = 8", NULL));
    assert_int_equal(store_step(st, NULL), STORE_ROW);
    json_t *sum = tu_json(store_col_text(st, 0));
    store_finalize(st);
    json_t *f3 = json_array_get(json_object_get(sum, "inputs"), 3);
    assert_int_equal(json_integer_value(json_object_get(f3, "missing")), 100);
    json_t *f0 = json_array_get(json_object_get(sum, "inputs"), 0);
    json_t *mom = json_object_get(f0, "moments");
    assert_int_equal(json_integer_value(json_object_get(mom, "n")), 1000);
    /* every row 0..99 five times per thread: the mean of r * 0.5 */
    assert_true(fabs(json_number_value(json_object_get(mom, "mean")) - 24.75) < 1e-9);
    assert_true(fabs(json_number_value(json_object_get(mom, "m2")) - 1000 * 208.3125) < 1e-6);
    json_decref(sum);
    monitor_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOTH(test_alerts),
        TU_BOTH(test_availability),
        TU_BOTH(test_windows_fold_and_merge),
        TU_BOTH(test_windows_threads),
        cmocka_unit_test(test_drift_exact_against_scipy),
        cmocka_unit_test(test_drift_sketch_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
