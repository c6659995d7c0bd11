/*
 * test_serve.c — serving on SQLite and PostgreSQL: deployments (create,
 * update, promotion, rollback, delete, history, validation, permissions,
 * the stage rule), publishing without disturbing requests in flight,
 * inference and its accounting, the request parser and its messages, the
 * rings under the prediction and shadow queues, sampling and dropping when
 * the queue is full, application tokens and the principal cache, and batch
 * jobs with their recovery after a restart.
 */
#include <math.h>
#include <pthread.h>
#include <time.h>

#include "testutil.h"
#include "audit/audit.h"
#include "core/log.h"
#include "registry/registry.h"
#include "serve/serve_int.h"

/* A binary:logistic stump on features x and y: x < 0.5 gives margin
 * `left`, else `right` (base score 0.5: no offset). */
static char *stump_model(const char *left, const char *right)
{
    return mops_xasprintf(
        "{\"learner\":{\"attributes\":{},\"feature_names\":[\"x\",\"y\"],"
        "\"feature_types\":[\"float\",\"float\"],\"gradient_booster\":{\"model\":{"
        "\"gbtree_model_param\":{\"num_parallel_tree\":\"1\",\"num_trees\":\"1\","
        "\"size_leaf_vector\":\"0\"},\"tree_info\":[0],\"trees\":[{\"base_weights\":[0,0,0],"
        "\"categories\":[],\"categories_nodes\":[],\"categories_segments\":[],"
        "\"categories_sizes\":[],\"default_left\":[1,0,0],\"id\":0,\"left_children\":[1,-1,-1],"
        "\"loss_changes\":[0,0,0],\"parents\":[2147483647,0,0],\"right_children\":[2,-1,-1],"
        "\"split_conditions\":[0.5,%s,%s],\"split_indices\":[0,0,0],\"split_type\":[0,0,0],"
        "\"sum_hessian\":[1,1,1],\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"2\","
        "\"num_nodes\":\"3\",\"size_leaf_vector\":\"0\"}}]},\"name\":\"gbtree\"},"
        "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_class\":\"0\","
        "\"num_feature\":\"2\",\"num_target\":\"1\"},\"objective\":{\"name\":"
        "\"binary:logistic\"}},\"version\":[1,7,4]}",
        left, right);
}

typedef struct {
    mops_ctx_t mle, viewer, outsider;
} people_t;

static void json_call_ok(int rc, const mops_err_t *err, const char *what)
{
    if (rc != 0)
        fail_msg("%s: %d %s", what, rc, err->msg);
}

/* Team "a" with model "churn" (versions 1, 2, 3: margins +-1, +-2, +-3),
 * an ml-engineer and a viewer in it, an outsider in team "b"; serving
 * started on the fixture's store. */
static people_t world(tu_fixture_t *f)
{
    mops_err_t err;
    json_call_ok(registry_artifacts_init(&f->env, &err), &err, "artifacts");
    f->env.max_upload = 1 << 20;
    serve_options_t so = SERVE_OPTIONS_INIT;
    so.poll_ms = 50;
    so.job_poll_ms = 20;
    json_call_ok(serve_start(f->st, &f->env, &so, &err), &err, "serve_start");
    tu_team(f, "a");
    tu_team(f, "b");
    people_t p;
    p.mle = tu_as(f, "mel", "a", "[\"ml-engineer\"]");
    p.viewer = tu_as(f, "vic", "a", "[\"viewer\"]");
    p.outsider = tu_as(f, "otto", "b", "[\"admin\"]");
    json_t *spec = tu_json("{\"team\":\"a\",\"name\":\"churn\",\"risk_tier\":\"low\"}"), *out;
    json_call_ok(registry_model_create(&p.mle, spec, &out, &err), &err, "model");
    json_decref(spec);
    json_decref(out);
    static const char *const margins[][2] = {{"1", "-1"}, {"2", "-2"}, {"3", "-3"}};
    for (int i = 0; i < 3; i++) {
        char *doc = stump_model(margins[i][0], margins[i][1]);
        registry_upload_t *u;
        json_call_ok(registry_upload_begin(&p.mle, "a", "churn", 1 << 20, &u, &err), &err,
                     "upload");
        json_call_ok(registry_upload_write(u, doc, strlen(doc), &err), &err, "write");
        json_call_ok(registry_upload_finish(&p.mle, u, &out, &err), &err, "finish");
        char body[200];
        snprintf(body, sizeof body, "{\"artifact_sha256\":\"%s\",\"format\":\"xgboost-json\"}",
                 json_string_value(json_object_get(out, "sha256")));
        json_decref(out);
        spec = tu_json(body);
        json_call_ok(registry_version_create(&p.mle, "a", "churn", spec, &out, &err), &err,
                     "version");
        json_decref(spec);
        json_decref(out);
        free(doc);
    }
    /* Deployments route to production versions (governance's traffic
     * table); the review that gets them there is governance's to test. */
    TU_OK(store_exec(f->db, NULL, &tu_err_, "UPDATE versions SET stage = 'production'", NULL));
    return p;
}

static void world_end(void)
{
    serve_stop();
}

/* Serving stops whatever the test did, before the store closes. */
static int serve_teardown(void **state)
{
    serve_stop();
    return tu_teardown(state);
}

#define SERVE_BOTH(fn)                                                                             \
    cmocka_unit_test_setup_teardown(fn, tu_setup_sqlite, serve_teardown),                          \
        cmocka_unit_test_setup_teardown(fn, tu_setup_pg, serve_teardown)

/* Call a JSON-in write with a literal; expect rc (and `says` in the message). */
static json_t *expect(int want, const char *says, int rc, const mops_err_t *err, json_t *out,
                      const char *what)
{
    if (rc != want || (says && !strstr(err->msg, says)))
        fail_msg("%s: got %d \"%s\", want %d \"%s\"", what, rc, rc ? err->msg : "", want,
                 says ? says : "");
    return out;
}

#define CREATE(ctx, body, want, says)                                                              \
    do {                                                                                           \
        json_t *s_ = tu_json(body), *o_ = NULL;                                                    \
        mops_err_t e_;                                                                             \
        int r_ = serve_deployment_create(ctx, s_, &o_, &e_);                                       \
        json_decref(expect(want, says, r_, &e_, o_, body));                                        \
        json_decref(s_);                                                                           \
    } while (0)

#define UPDATE(ctx, name, body, want, says)                                                        \
    do {                                                                                           \
        json_t *s_ = tu_json(body), *o_ = NULL;                                                    \
        mops_err_t e_;                                                                             \
        int r_ = serve_deployment_update(ctx, name, s_, &o_, &e_);                                 \
        json_decref(expect(want, says, r_, &e_, o_, body));                                        \
        json_decref(s_);                                                                           \
    } while (0)

/* Infer one OIP row on name as ctx; returns the answering version number
 * (or the error code, negative). */
static int infer_row(const mops_ctx_t *ctx, const char *name, double x, double *p)
{
    char body[200];
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"name\":\"in\",\"shape\":[1,2],\"datatype\":\"FP64\","
             "\"data\":[%.17g,1]}]}",
             x);
    serve_reply_t reply;
    mops_err_t err;
    int rc = serve_infer(ctx, name, NULL, body, strlen(body), NULL, &reply, &err);
    if (rc != 0)
        return rc;
    json_t *out = tu_json(reply.body);
    free(reply.body);
    int v = atoi(json_string_value(json_object_get(out, "model_version")));
    json_t *outs = json_object_get(out, "outputs");
    for (size_t i = 0; i < json_array_size(outs); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(outs, i), "name")),
                    "predict_proba") && p)
            *p = json_number_value(json_array_get(
                json_object_get(json_array_get(outs, i), "data"), 0));
    json_decref(out);
    return v;
}

static double sigmoid(double m)
{
    return 1.0 / (1.0 + exp(-m));
}

/* ----------------------------------------------------------- deployments */

static void test_deployment_lifecycle(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = world(f);
    CREATE(&p.mle, "{\"name\":\"api\",\"team\":\"a\",\"primary\":{\"model\":\"churn\","
                   "\"version\":1}}", 0, NULL);
    double prob = 0;
    assert_int_equal(infer_row(&p.mle, "api", 0.1, &prob), 1);
    assert_true(fabs(prob - (double)(float)sigmoid(1)) < 1e-6);
    UPDATE(&p.mle, "api", "{\"canaries\":[{\"model\":\"churn\",\"version\":2,\"weight\":100}]}", 0,
           NULL);
    assert_int_equal(infer_row(&p.mle, "api", 0.9, &prob), 2); /* the canary takes it all */
    assert_true(fabs(prob - (double)(float)sigmoid(-2)) < 1e-6);
    UPDATE(&p.mle, "api", "{\"promote\":{\"model\":\"churn\",\"version\":2}}", 0, NULL);
    json_t *out = NULL, *spec;
    mops_err_t err;
    TU_OK(serve_deployment_get(&p.viewer, "api", &out, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "revision")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(
                         json_object_get(out, "config"), "primary"), "version")),
                     2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(out, "config"),
                                                     "canaries")),
                     0);
    json_decref(out);
    spec = tu_json("{}");
    TU_OK(serve_deployment_rollback(&p.mle, "api", spec, &out, &tu_err_));
    json_decref(spec);
    assert_int_equal(json_integer_value(json_object_get(out, "revision")), 4);
    json_decref(out);
    assert_int_equal(infer_row(&p.mle, "api", 0.1, NULL), 2); /* revision 2: canary at 100% */
    spec = tu_json("{\"revision\":1}");
    TU_OK(serve_deployment_rollback(&p.mle, "api", spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    assert_int_equal(infer_row(&p.mle, "api", 0.1, NULL), 1);
    TU_OK(serve_deployment_history(&p.viewer, "api", 0, 10, &out, &tu_err_));
    static const char *const actions[] = {"rollback", "rollback", "promote", "update", "create"};
    assert_int_equal(json_array_size(json_object_get(out, "items")), 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(out, "items"), (size_t)i),
                                "action")),
                            actions[i]);
    json_decref(out);
    /* which deployments use a version */
    registry_version_ref_t ref;
    TU_OK(registry_version_resolve(&f->sys, "a", "churn", "1", AUTH_MODEL_READ, &ref, &tu_err_));
    TU_OK(serve_version_deployments(&f->sys, ref.version_id, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(out, "items"), 0), "role")),
                        "primary");
    json_decref(out);
    /* list, stats, permissions */
    serve_deployment_filter_t flt = {0};
    TU_OK(serve_deployment_list(&p.viewer, &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    TU_OK(serve_deployment_list(&p.outsider, &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
    json_decref(out);
    TU_OK(serve_deployment_stats(&p.viewer, "api", &out, &tu_err_));
    assert_true(json_integer_value(json_object_get(json_object_get(out, "stats"),
                                                   "requests")) >= 4);
    json_decref(out);
    UPDATE(&p.viewer, "api", "{\"description\":\"x\"}", MOPS_EFORBIDDEN, "deployment.write");
    UPDATE(&p.outsider, "api", "{\"description\":\"x\"}", MOPS_ENOTFOUND,
           "no deployment named \"api\"");
    assert_int_equal(infer_row(&p.viewer, "api", 0.1, NULL), MOPS_EFORBIDDEN);
    assert_int_equal(infer_row(&p.outsider, "api", 0.1, NULL), MOPS_ENOTFOUND);
    /* delete: gone, the name free, the history kept, the audit complete */
    assert_int_equal(serve_deployment_delete(&p.viewer, "api", &err), MOPS_EFORBIDDEN);
    TU_OK(serve_deployment_delete(&p.mle, "api", &tu_err_));
    assert_int_equal(infer_row(&p.mle, "api", 0.1, NULL), MOPS_ENOTFOUND);
    int64_t n = 0;
    TU_OK(store_query_int(f->db, &n, &tu_err_, "SELECT count(*) FROM deployment_revisions",
                          NULL));
    assert_int_equal(n, 6);
    CREATE(&p.mle, "{\"name\":\"api\",\"team\":\"a\",\"primary\":{\"model\":\"churn\","
                   "\"version\":3}}", 0, NULL);
    assert_int_equal(infer_row(&p.mle, "api", 0.1, NULL), 3);
    TU_OK(store_query_int(f->db, &n, &tu_err_, "SELECT count(*) FROM audit_log WHERE action "
                          "LIKE 'deployment.%%' AND outcome = 'ok'", NULL));
    assert_int_equal(n, 7);
    world_end();
}

static void test_deployment_validation(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = world(f);
    static const struct {
        const char *body;
        int rc;
        const char *says;
    } bad[] = {
        {"{\"name\":\"d\",\"team\":\"a\"}", MOPS_EINVAL, "\"primary\" is required"},
        {"{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\"},\"canaries\":"
         "[{\"model\":\"churn\",\"version\":\"latest\",\"weight\":5}]}",
         MOPS_EINVAL, "both primary and canary"},
        {"{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\",\"version\":1},"
         "\"canaries\":[{\"model\":\"churn\",\"version\":2,\"weight\":70},{\"model\":\"churn\","
         "\"version\":3,\"weight\":31}]}",
         MOPS_EINVAL, "add up to 101%"},
        {"{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\",\"version\":\"x\"}}",
         MOPS_ENOTFOUND, "no version \"x\""},
        {"{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\",\"version\":true}}",
         MOPS_EINVAL, "\"version\""},
        {"{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\",\"extra\":1}}",
         MOPS_EINVAL, "unknown field \"extra\" in primary"},
        {"{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\"},\"sticky\":{}}",
         MOPS_EINVAL, "one of"},
        {"{\"name\":\"d\",\"team\":\"b\",\"primary\":{\"model\":\"churn\"}}", MOPS_ENOTFOUND,
         "no team named \"b\""},
        {"{\"name\":\"d:e\",\"team\":\"a\",\"primary\":{\"model\":\"churn\"}}", MOPS_EINVAL,
         "deployment name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CREATE(&p.mle, bad[i].body, bad[i].rc, bad[i].says);
    /* the viewer may not; the permission comes before the body is read */
    CREATE(&p.viewer, "{\"name\":\"d\",\"team\":\"a\",\"bogus\":1}", MOPS_EFORBIDDEN,
           "deployment.write");
    /* the stage rule, governance's: production takes primary traffic,
     * staging canaries and shadows, drafts only trials by name */
    assert_false(serve_stage_allows("retired", SERVE_ROLE_PRIMARY));
    assert_false(serve_stage_allows("draft", SERVE_ROLE_SHADOW));
    assert_false(serve_stage_allows("staging", SERVE_ROLE_PRIMARY));
    assert_true(serve_stage_allows("staging", SERVE_ROLE_SHADOW));
    assert_true(serve_stage_allows("draft", SERVE_ROLE_DIRECT));
    assert_true(serve_stage_allows("approved", SERVE_ROLE_BATCH));
    assert_false(serve_stage_allows("retired", SERVE_ROLE_BATCH));
    assert_true(serve_stage_allows("production", SERVE_ROLE_CANARY));
    TU_OK(store_exec(f->db, NULL, &tu_err_, "UPDATE versions SET stage = 'draft' WHERE "
                     "number = 2", NULL));
    CREATE(&p.mle, "{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\","
                   "\"version\":2}}", MOPS_EPRECOND, "stage draft");
    TU_OK(store_exec(f->db, NULL, &tu_err_, "UPDATE versions SET stage = 'retired' WHERE "
                     "number = 3", NULL));
    CREATE(&p.mle, "{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\","
                   "\"version\":3}}", MOPS_EPRECOND, "stage retired");
    CREATE(&p.mle, "{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\","
                   "\"version\":1},\"shadows\":[{\"model\":\"churn\",\"version\":3}]}",
           MOPS_EPRECOND, "as a shadow");
    /* a concurrent change is noticed */
    CREATE(&p.mle, "{\"name\":\"d\",\"team\":\"a\",\"primary\":{\"model\":\"churn\","
                   "\"version\":1}}", 0, NULL);
    UPDATE(&p.mle, "d", "{\"description\":\"x\",\"if_revision\":5}", MOPS_ECONFLICT,
           "revision 1");
    world_end();
}

/* A request in flight keeps its configuration and models while the
 * deployment changes under it; the last reference frees them. */
static void test_publish_keeps_requests_in_flight(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = world(f);
    CREATE(&p.mle, "{\"name\":\"api\",\"team\":\"a\",\"primary\":{\"model\":\"churn\","
                   "\"version\":1}}", 0, NULL);
    serve_config_t *held = serve__config_get("api");
    assert_non_null(held);
    size_t n, bytes;
    serve__models_count(&n, &bytes);
    assert_int_equal(n, 1);
    UPDATE(&p.mle, "api", "{\"primary\":{\"model\":\"churn\",\"version\":2}}", 0, NULL);
    serve__models_count(&n, &bytes);
    assert_int_equal(n, 2); /* version 1 is still held by the request */
    double x[2] = {0.1, 0}, out[1];
    mops_err_t err;
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    assert_int_equal(runtime_predict(held->targets[0].model->rt, &o, x, 1, 2, out, NULL, &err),
                     0);
    assert_true(fabs(out[0] - (double)(float)sigmoid(1)) < 1e-6);
    assert_int_equal(infer_row(&p.mle, "api", 0.1, NULL), 2); /* new requests: version 2 */
    serve__config_unref(held);
    serve__models_count(&n, &bytes);
    assert_int_equal(n, 1); /* freed with its last request */
    /* an older revision never replaces a newer one */
    serve_config_t *now = serve__config_get("api");
    json_t *cfg = tu_json("{\"primary\":{\"version_id\":1},\"canaries\":[],\"shadows\":[]}");
    serve_config_t *old;
    TU_OK(serve__config_build(&f->sys, now->deployment_id, "api", now->team_id, "a", 1, cfg,
                              &old, &tu_err_));
    json_decref(cfg);
    serve__publish(old);
    serve__config_unref(now);
    assert_int_equal(infer_row(&p.mle, "api", 0.1, NULL), 2);
    world_end();
}

/* ------------------------------------------------------------- inference */

static void test_infer_and_log(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = world(f);
    CREATE(&p.mle, "{\"name\":\"api\",\"team\":\"a\",\"primary\":{\"model\":\"churn\","
                   "\"version\":1}}", 0, NULL);
    /* records: absent features are missing (x missing goes left) */
    const char *body = "{\"instances\":[{\"y\":1},{\"x\":0.9,\"id\":\"c-1\"}]}";
    serve_reply_t reply;
    serve_call_t call = {.t0_us = 0, .cpu_mark_ns = 0, .bytes_in = (int64_t)strlen(body)};
    TU_OK(serve_predict(&p.mle, "api", body, strlen(body), &call, &reply, &tu_err_));
    json_t *out = tu_json(reply.body);
    free(reply.body);
    json_t *preds = json_object_get(out, "predictions");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(preds, 0), "label")), 1);
    assert_true(fabs(json_number_value(json_object_get(json_array_get(preds, 1),
                                                       "probability")) -
                     (double)(float)sigmoid(-1)) < 1e-6);
    json_decref(out);
    /* the record reaches the prediction log */
    int64_t n = 0;
    for (int i = 0; i < 200 && n == 0; i++) {
        struct timespec nap = {0, 20 * 1000000};
        nanosleep(&nap, NULL);
        TU_OK(store_query_int(f->db, &n, &tu_err_, "SELECT count(*) FROM prediction_log", NULL));
    }
    assert_int_equal(n, 1);
    store_stmt_t *s;
    TU_OK(store_query(f->db, &s, &tu_err_,
                      "SELECT n_rows, n_features, n_outputs, inputs, bytes_in, role FROM "
                      "prediction_log",
                      NULL));
    assert_int_equal(store_step(s, NULL), STORE_ROW);
    assert_int_equal(store_col_int(s, 0), 2);
    assert_int_equal(store_col_int(s, 1), 2);
    assert_int_equal(store_col_int(s, 2), 1);
    size_t len;
    const double *in = store_col_blob(s, 3, &len);
    assert_int_equal(len, 32);
    assert_true(isnan(in[0]) && in[1] == 1 && in[2] == 0.9 && isnan(in[3]));
    assert_int_equal(store_col_int(s, 4), (int64_t)strlen(body));
    assert_string_equal(store_col_text(s, 5), "primary");
    store_finalize(s);
    /* errors */
    static const struct {
        const char *body;
        int rc;
        const char *says;
    } bad[] = {
        {"{\"inputs\":[{\"name\":\"in\",\"shape\":[1,3],\"datatype\":\"FP64\","
         "\"data\":[1,2,3]}]}",
         MOPS_EINVAL, "takes 2 features"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[1]}]}",
         MOPS_EINVAL, "has 1 elements but its shape holds 2"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[-1]}]}",
         MOPS_EINVAL, "-1 is out of range for UINT8"},
        {"", MOPS_EINVAL, "\"inputs\" is required"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[20001],\"datatype\":\"FP64\",\"data\":[]}]}",
         MOPS_EINVAL, "over the limit of 10000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mops_err_t err;
        int rc = serve_infer(&p.mle, "api", NULL, bad[i].body, strlen(bad[i].body), NULL, &reply,
                             &err);
        expect(bad[i].rc, bad[i].says, rc, &err, NULL, bad[i].body);
    }
    /* direct addressing, and the scoped token's limits */
    assert_int_equal(infer_row(&p.mle, "churn", 0.1, NULL), 3);
    assert_int_equal(infer_row(&p.mle, "a:churn", 0.1, NULL), 3);
    world_end();
}

/* ------------------------------------------------------- request parser */

static void expect_parse(const char *text, const char *says)
{
    mops_arena_t *a = mops_arena_new();
    jv_t *v;
    mops_err_t err;
    int rc = serve__jv_parse(text, strlen(text), a, &v, &err);
    if (says && (rc != MOPS_EINVAL || !strstr(err.msg, says)))
        fail_msg("%s: got %d \"%s\", want \"%s\"", text, rc, rc ? err.msg : "", says);
    if (!says && rc != 0)
        fail_msg("%s: %s", text, err.msg);
    mops_arena_free(a);
}

static void test_parser(void **state)
{
    (void)state;
    mops_arena_t *a = mops_arena_new();
    jv_t *v;
    mops_err_t err;
    const char *doc = "{\"s\":\"a\\u00e9\\ud83d\\ude00\\n\",\"i\":-9223372036854775808,"
                      "\"r\":[1.5e-3,0.1,-0,1E2],\"o\":{\"t\":true,\"f\":false,\"n\":null}}";
    TU_OK(serve__jv_parse(doc, strlen(doc), a, &v, &tu_err_));
    assert_string_equal(serve__jv_str(serve__jv_get(v, "s")), "a\xc3\xa9\xf0\x9f\x98\x80\n");
    const jv_t *i = serve__jv_get(v, "i");
    assert_true(i->is_int && i->i == INT64_MIN);
    const jv_t *r = serve__jv_get(v, "r");
    assert_int_equal(r->len, 4);
    assert_true(r->u.items[0].u.num == 1.5e-3 && r->u.items[1].u.num == 0.1);
    assert_true(r->u.items[3].u.num == 100 && !r->u.items[3].is_int);
    assert_int_equal(serve__jv_get(serve__jv_get(v, "o"), "n")->type, JV_NULL);
    mops_arena_free(a);
    /* numbers are exact: as strtod reads them */
    srand(7);
    for (int k = 0; k < 2000; k++) {
        char num[64], text[80];
        snprintf(num, sizeof num, "%.*g", 1 + rand() % 17,
                 (rand() / (double)RAND_MAX - 0.5) * pow(10, rand() % 40 - 20));
        snprintf(text, sizeof text, "{\"x\":%s}", num);
        a = mops_arena_new();
        TU_OK(serve__jv_parse(text, strlen(text), a, &v, &tu_err_));
        assert_true(serve__jv_get(v, "x")->u.num == strtod(num, NULL));
        mops_arena_free(a);
    }
    /* jansson's rules, with messages a person can act on */
    expect_parse("", NULL); /* no body at all: an empty object */
    expect_parse("[]", "must be a JSON object");
    expect_parse("\"x\"", "'[' or '{' expected");
    expect_parse("{\"a\":1,\"a\":2}", "duplicate object key \"a\"");
    expect_parse("{\"a\":1,}", "string or '}' expected");
    expect_parse("{\"a\":01}", "'}' or ',' expected");
    expect_parse("{\"a\":1.}", "invalid number");
    expect_parse("{\"a\":9223372036854775808}", "too big integer");
    expect_parse("{\"a\":1e999}", "real number overflow");
    expect_parse("{\"a\":\"\\u0000\"}", "\\u0000 is not allowed");
    expect_parse("{\"a\":\"\\ud800\"}", "surrogate");
    expect_parse("{\"a\":\"\xff\"}", "invalid UTF-8");
    expect_parse("{\"a\":\"x\ny\"}", "control character");
    expect_parse("{\"a\":tru}", "invalid token");
    expect_parse("{\"a\":1} x", "end of file expected");
    expect_parse("{\"a\":\"unterminated}", "premature end of input");
    mops_buf_t deep = MOPS_BUF_INIT;
    mops_buf_puts(&deep, "{\"a\":");
    for (int k = 0; k < 300; k++)
        mops_buf_putc(&deep, '[');
    expect_parse(deep.data, "maximum parsing depth");
    mops_buf_release(&deep);
    /* many keys: duplicates found by sorting */
    mops_buf_t big = MOPS_BUF_INIT;
    mops_buf_putc(&big, '{');
    for (int k = 0; k < 500; k++)
        mops_buf_printf(&big, "\"k%d\":%d,", k, k);
    mops_buf_puts(&big, "\"k250\":0}");
    expect_parse(big.data, "duplicate object key \"k250\"");
    mops_buf_release(&big);
    /* the field check speaks like mops_json_check */
    static const mops_json_field_t fields[] = {{"n", MOPS_JSON_INT, 1}, {NULL, 0, 0}};
    a = mops_arena_new();
    TU_OK(serve__jv_parse("{\"n\":1.5}", 9, a, &v, &tu_err_));
    assert_int_equal(serve__jv_check(v, "body", fields, &err), MOPS_EINVAL);
    assert_string_equal(err.msg, "field \"n\" in body must be an integer, not a number");
    TU_OK(serve__jv_parse("{\"m\":1}", 7, a, &v, &tu_err_));
    assert_int_equal(serve__jv_check(v, "body", fields, &err), MOPS_EINVAL);
    assert_string_equal(err.msg, "unknown field \"m\" in body (allowed: n)");
    mops_arena_free(a);
}

/* --------------------------------------------------------------- rings */

static void test_ring(void **state)
{
    (void)state;
    serve_ring_t *r = serve__ring_new(1024);
    assert_null(serve__ring_peek(r));
    int *a = serve__ring_reserve(r, sizeof(int)), *b = serve__ring_reserve(r, sizeof(int));
    *a = 1;
    *b = 2;
    serve__ring_commit(r, b);
    assert_null(serve__ring_peek(r)); /* in order: a is not ready yet */
    serve__ring_commit(r, a);
    assert_int_equal(*(int *)serve__ring_peek(r), 1);
    serve__ring_pop(r);
    assert_int_equal(*(int *)serve__ring_peek(r), 2);
    serve__ring_pop(r);
    assert_null(serve__ring_peek(r));
    assert_null(serve__ring_reserve(r, 600)); /* more than half: never */
    /* fill to the end, wrap around, never lose or reorder */
    int next = 0, seen = 0;
    for (int round = 0; round < 50; round++) {
        int *e;
        while ((e = serve__ring_reserve(r, 100))) {
            *e = next++;
            serve__ring_commit(r, e);
        }
        assert_true(serve__ring_used(r) > 1024 - 2 * 128); /* full, up to a wrap's gap */
        for (int k = 0; k < 3 && (e = serve__ring_peek(r)); k++) {
            assert_int_equal(*e, seen++);
            serve__ring_pop(r);
        }
    }
    int *e;
    while ((e = serve__ring_peek(r))) {
        assert_int_equal(*e, seen++);
        serve__ring_pop(r);
    }
    assert_int_equal(seen, next);
    assert_int_equal(serve__ring_used(r), 0);
    serve__ring_free(r);
}

static void test_queue_samples_then_drops(void **state)
{
    (void)state;
    mops_err_t err;
    assert_int_equal(serve__log_start(0, 4, 0, &err), 0); /* off: nothing is kept */
    assert_null(serve__log_reserve(1, 2, 1, NULL));
    serve__log_stop();
    /* A queue no writer drains (the store is never reached: nothing is
     * committed), to see its policy alone. */
    serve__log_start(16 * 1024, 4, 0, &err);
    serve_stats_t *st = serve__stats_new();
    int kept = 0, refused = 0;
    serve_record_t *held[400];
    for (int i = 0; i < 400; i++) {
        serve_record_t *r = serve__log_reserve(1, 2, 1, st);
        if (r)
            held[kept++] = r;
        else
            refused++;
    }
    json_t *j = serve__log_json();
    int64_t dropped = json_integer_value(json_object_get(j, "dropped"));
    int64_t sampled = json_integer_value(json_object_get(j, "sampled_out"));
    json_decref(j);
    assert_true(sampled > 0 && dropped > 0);
    assert_int_equal(dropped + sampled, refused);
    assert_int_equal((int64_t)atomic_load(&st->log_dropped), dropped);
    assert_int_equal((int64_t)atomic_load(&st->log_sampled), sampled);
    /* 3/4 of the queue fills, then one in 4 is kept until it is full */
    size_t each = sizeof(serve_record_t) + 3 * sizeof(double);
    assert_true((size_t)kept >= 16 * 1024 * 3 / 4 / (each + 32));
    assert_true((size_t)kept <= 16 * 1024 / each);
    (void)held;
    serve__stats_unref(st);
    serve__log_stop();
}

/* ---------------------------------------------------- application tokens */

static void test_scoped_tokens_and_cache(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = world(f);
    (void)p;
    json_t *spec = tu_json("{\"name\":\"app\",\"user\":\"mel\",\"infer_only\":[\"api\"]}"), *out;
    TU_OK(auth_token_create(&f->sys, spec, &out, &tu_err_));
    json_decref(spec);
    const char *token = json_string_value(json_object_get(out, "token"));
    int64_t id = json_integer_value(json_object_get(out, "id"));
    auth_principal_t *who;
    TU_OK(auth_authenticate(f->db, token, f->arena, &who, NULL, &tu_err_));
    assert_true(who->scoped);
    assert_int_equal(who->n_infer_only, 1);
    assert_string_equal(who->infer_only[0], "api");
    mops_ctx_t app = f->sys;
    app.who = who;
    mops_err_t err;
    int64_t team_a;
    TU_OK(store_query_int(f->db, &team_a, &tu_err_, "SELECT id FROM teams WHERE name = 'a'",
                          NULL));
    assert_int_equal(auth_require_infer(&app, team_a, "api", &err), 0);
    assert_int_equal(auth_require_infer(&app, team_a, "other", &err), MOPS_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "may only run inference on the deployments api"));
    assert_int_equal(auth_require_infer(&app, team_a, NULL, &err), MOPS_EFORBIDDEN);
    assert_int_equal(auth_require(&app, AUTH_MODEL_READ, team_a, &err), MOPS_EFORBIDDEN);
    assert_int_equal(auth_require_unscoped(&app, "model.list", &err), MOPS_EFORBIDDEN);
    assert_int_equal(auth_require_unscoped(&p.mle, "model.list", &err), 0);
    /* the cache: a hit after authentication, gone after a revocation */
    auth_principal_t *cached;
    assert_int_equal(auth_cache_lookup(token, f->arena, &cached), 1);
    assert_true(cached->scoped && cached->user_id == who->user_id);
    TU_OK(auth_token_revoke(&f->sys, id, &tu_err_));
    assert_int_equal(auth_cache_lookup(token, f->arena, &cached), 0);
    assert_int_equal(auth_authenticate(f->db, token, f->arena, &who, NULL, &err), MOPS_EUNAUTH);
    json_decref(out);
    world_end();
}

/* ----------------------------------------------------------------- jobs */

static json_t *wait_job(const mops_ctx_t *ctx, int64_t id)
{
    for (int i = 0; i < 500; i++) {
        json_t *j;
        TU_OK(serve_job_get(ctx, id, &j, &tu_err_));
        const char *s = json_string_value(json_object_get(j, "status"));
        if (strcmp(s, "queued") && strcmp(s, "running"))
            return j;
        json_decref(j);
        struct timespec nap = {0, 20 * 1000000};
        nanosleep(&nap, NULL);
    }
    fail_msg("job %lld did not end", (long long)id);
    return NULL;
}

static void test_jobs(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = world(f);
    const char *csv = "id,y,x\nr1,1,0.1\nr2,,0.9\nr3,1,\n";
    serve_upload_t *u;
    json_t *out, *spec;
    TU_OK(serve_job_input_begin(&p.mle, "a", 1 << 20, &u, &tu_err_));
    TU_OK(serve_job_input_write(u, csv, strlen(csv), &tu_err_));
    TU_OK(serve_job_input_finish(&p.mle, u, &out, &tu_err_));
    char body[300];
    snprintf(body, sizeof body,
             "{\"team\":\"a\",\"model\":\"churn\",\"version\":1,\"input\":{\"upload\":\"%s\"},"
             "\"keep\":[\"id\"]}",
             json_string_value(json_object_get(out, "sha256")));
    json_decref(out);
    spec = tu_json(body);
    mops_err_t err;
    assert_int_equal(serve_job_submit(&p.viewer, spec, &out, &err), MOPS_EFORBIDDEN);
    TU_OK(serve_job_submit(&p.mle, spec, &out, &tu_err_));
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    out = wait_job(&p.mle, id);
    assert_string_equal(json_string_value(json_object_get(out, "status")), "succeeded");
    json_decref(out);
    int fd;
    int64_t size;
    char sha[65];
    TU_OK(serve_job_open_result(&p.mle, id, &fd, &size, sha, &tu_err_));
    char text[512] = "";
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    assert_int_equal(got, size);
    text[got] = '\0';
    char want[512];
    snprintf(want, sizeof want, "id,label,prob_1\nr1,1,%.9g\nr2,0,%.9g\nr3,1,%.9g\n",
             (double)(float)sigmoid(1), (double)(float)sigmoid(-1), (double)(float)sigmoid(1));
    assert_string_equal(text, want);
    assert_int_equal(serve_job_get(&p.outsider, id, &out, &err), MOPS_ENOTFOUND);
    /* a job this server left running is queued again at the next start */
    TU_OK(store_exec(f->db, NULL, &tu_err_,
                     "UPDATE jobs SET status = 'running', runner = ?, result_sha256 = NULL "
                     "WHERE id = ?",
                     "ti", serve__g->server_id, id));
    serve_stop();
    serve_options_t so = SERVE_OPTIONS_INIT;
    so.job_poll_ms = 20;
    TU_OK(serve_start(f->st, &f->env, &so, &tu_err_));
    out = wait_job(&p.mle, id);
    assert_string_equal(json_string_value(json_object_get(out, "status")), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(out, "attempts")), 2);
    json_decref(out);
    json_decref(spec);
    world_end();
}

int main(void)
{
    mops_log_setup(MOPS_LOG_WARN, MOPS_LOG_TEXT, 2);
    const struct CMUnitTest tests[] = {
        SERVE_BOTH(test_deployment_lifecycle),
        SERVE_BOTH(test_deployment_validation),
        SERVE_BOTH(test_publish_keeps_requests_in_flight),
        SERVE_BOTH(test_infer_and_log),
        SERVE_BOTH(test_scoped_tokens_and_cache),
        SERVE_BOTH(test_jobs),
        cmocka_unit_test(test_parser),
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_queue_samples_then_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
