/*
 * test_runtime.c — unit tests for src/runtime: hand-written tiny models
 * with known outputs (XGBoost and mops scikit-learn JSON, every link and
 * label rule, missing values, categorical splits, float32 versus float64
 * inputs), every kind of bad input with the message that must come back,
 * random models checked against an independent reference walk in all three
 * layouts (perfect, explicit, one tree at a time), threads, iteration
 * ranges, reference counting — and every file of the fuzzers' corpora,
 * which must load or be refused cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "runtime/model.h"
#include "runtime/runtime.h"

/* ------------------------------------------------------------ helpers */

static runtime_model_t *load(const char *text, const char *format)
{
    runtime_model_t *m = NULL;
    mops_err_t err;
    mops_err_clear(&err);
    int rc = runtime_model_load_buffer(text, strlen(text), format, &m, &err);
    if (rc != 0)
        fail_msg("load failed: %s", err.msg);
    return m;
}

static void expect_refused(const char *text, const char *format, int code, const char *want)
{
    runtime_model_t *m = NULL;
    mops_err_t err;
    mops_err_clear(&err);
    int rc = runtime_model_load_buffer(text, strlen(text), format, &m, &err);
    if (rc == 0) {
        runtime_model_unref(m);
        fail_msg("loaded, expected refusal with \"%s\"", want);
    }
    if (rc != code || !strstr(err.msg, want))
        fail_msg("code %d message \"%s\", expected code %d with \"%s\"", rc, err.msg, code, want);
    assert_null(m);
}

static double predict1(const runtime_model_t *m, runtime_output_t kind, const double *row,
                       size_t k)
{
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    o.output = kind;
    double out[16];
    mops_err_t err;
    runtime_model_info_t in;
    runtime_model_info(m, &in);
    if (runtime_predict(m, &o, row, 1, in.n_features, out, NULL, &err) != 0)
        fail_msg("predict: %s", err.msg);
    return out[k];
}

/* An XGBoost JSON document around the given trees. */
static char *xgb_doc(const char *objective, int num_class, const char *base_score, int features,
                     const char *trees, const char *tree_info, int num_trees)
{
    return mops_xasprintf(
        "{\"learner\":{\"attributes\":{},\"feature_names\":[],\"feature_types\":[],"
        "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\","
        "\"num_trees\":\"%d\",\"size_leaf_vector\":\"0\"},\"tree_info\":[%s],\"trees\":[%s]},"
        "\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"%s\",\"num_class\":\"%d\","
        "\"num_feature\":\"%d\",\"num_target\":\"1\"},\"objective\":{\"name\":\"%s\"}},"
        "\"version\":[1,7,4]}",
        num_trees, tree_info, trees, base_score, num_class, features, objective);
}

/* A tree: f<feature> < thr, default_left dl, leaves l and r. */
static char *xgb_stump(int feature, const char *thr, int dl, const char *l, const char *r)
{
    return mops_xasprintf(
        "{\"base_weights\":[0,0,0],\"categories\":[],\"categories_nodes\":[],"
        "\"categories_segments\":[],\"categories_sizes\":[],\"default_left\":[%d,0,0],\"id\":0,"
        "\"left_children\":[1,-1,-1],\"loss_changes\":[0,0,0],\"parents\":[2147483647,0,0],"
        "\"right_children\":[2,-1,-1],\"split_conditions\":[%s,%s,%s],\"split_indices\":[%d,0,0],"
        "\"split_type\":[0,0,0],\"sum_hessian\":[1,1,1],\"tree_param\":{\"num_deleted\":\"0\","
        "\"num_feature\":\"2\",\"num_nodes\":\"3\",\"size_leaf_vector\":\"0\"}}",
        dl, thr, l, r, feature);
}

static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    return mops_xasprintf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

/* ----------------------------------------------------- XGBoost, known */

static void test_xgboost_regression(void **state)
{
    (void)state;
    char *t = xgb_stump(0, "0.5", 1, "1.25", "-0.75");
    char *doc = xgb_doc("reg:squarederror", 0, "5E-1", 2, t, "0", 1);
    runtime_model_t *m = load(doc, NULL);
    runtime_model_info_t in;
    runtime_model_info(m, &in);
    assert_string_equal(in.format, "xgboost-json");
    assert_string_equal(in.objective, "reg:squarederror");
    assert_string_equal(in.kind, "regressor");
    assert_string_equal(in.producer, "xgboost 1.7.4");
    assert_int_equal(in.n_features, 2);
    assert_null(in.feature_names);
    assert_int_equal(in.n_trees, 1);
    assert_int_equal(in.max_depth, 1);
    assert_int_equal(in.output_float32, 1);
    assert_true(in.memory_bytes > 0);
    double a[2] = {0.2, 9}, b[2] = {0.7, 9}, c[2] = {NAN, 9}, d[2] = {0.5, 9};
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, a, 0) == 1.75);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, b, 0) == -0.25);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, c, 0) == 1.75); /* missing goes left */
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, d, 0) == -0.25); /* 0.5 < 0.5 is false */
    assert_true(predict1(m, RUNTIME_OUTPUT_LABEL, a, 0) == 1.75); /* a regressor's label */
    assert_int_equal(runtime_output_width(m, RUNTIME_OUTPUT_LABEL), 1);
    /* Input is rounded to float32 first: 0.49999999999 becomes 0.5. */
    double e[2] = {0.49999999999, 0};
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, e, 0) == -0.25);
    runtime_model_unref(m);
    free(doc);
    free(t);
}

static void test_xgboost_logistic_and_multiclass(void **state)
{
    (void)state;
    char *t = xgb_stump(0, "0.5", 0, "1.25", "-0.75");
    char *doc = xgb_doc("binary:logistic", 0, "5E-1", 2, t, "0", 1);
    runtime_model_t *m = load(doc, "xgboost-json");
    double a[2] = {0.2, 0}, c[2] = {NAN, 0};
    assert_true(predict1(m, RUNTIME_OUTPUT_MARGIN, a, 0) == 1.25);
    float want = 1.0f / (expf(-1.25f) + 1.0f);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, a, 0) == (double)want);
    assert_true(predict1(m, RUNTIME_OUTPUT_LABEL, a, 0) == 1.0);
    assert_true(predict1(m, RUNTIME_OUTPUT_MARGIN, c, 0) == -0.75); /* missing goes right */
    assert_true(predict1(m, RUNTIME_OUTPUT_LABEL, c, 0) == 0.0);
    runtime_model_info_t in;
    runtime_model_info(m, &in);
    assert_string_equal(in.kind, "classifier");
    assert_int_equal(in.n_classes, 2);
    assert_string_equal(in.class_labels[1], "1");
    assert_int_equal(in.n_value, 1);
    runtime_model_unref(m);
    free(doc);

    /* base_score 0.25 is the margin logit(0.25) for a logistic objective. */
    doc = xgb_doc("binary:logistic", 0, "2.5E-1", 2, t, "0", 1);
    m = load(doc, NULL);
    float base = -logf(1.0f / 0.25f - 1.0f);
    assert_true(predict1(m, RUNTIME_OUTPUT_MARGIN, a, 0) == (double)(base + 1.25f));
    runtime_model_unref(m);
    free(doc);

    /* Two classes' trees; softprob and softmax. */
    char *t2 = xgb_stump(1, "0", 0, "0.5", "-0.5");
    char *trees = mops_xasprintf("%s,%s", t, t2);
    doc = xgb_doc("multi:softprob", 2, "5E-1", 2, trees, "0,1", 2);
    m = load(doc, NULL);
    double r[2] = {0.7, -1};
    assert_true(predict1(m, RUNTIME_OUTPUT_MARGIN, r, 0) == -0.25);
    assert_true(predict1(m, RUNTIME_OUTPUT_MARGIN, r, 1) == 1.0);
    float e0 = expf(-0.25f - 1.0f), e1 = expf(0.0f);
    double s = (double)e0 + (double)e1;
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, r, 0) == (double)(e0 / (float)s));
    assert_true(predict1(m, RUNTIME_OUTPUT_LABEL, r, 0) == 1.0);
    assert_int_equal(runtime_output_width(m, RUNTIME_OUTPUT_VALUE), 2);
    runtime_model_unref(m);
    free(doc);
    doc = xgb_doc("multi:softmax", 2, "5E-1", 2, trees, "0,1", 2);
    m = load(doc, NULL);
    assert_true(predict1(m, RUNTIME_OUTPUT_LABEL, r, 0) == 1.0);
    runtime_model_unref(m);
    free(doc);

    /* Objectives and their links. */
    doc = xgb_doc("count:poisson", 0, "2E0", 2, t, "0", 1);
    m = load(doc, NULL);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, a, 0) == (double)expf(logf(2.0f) + 1.25f));
    runtime_model_unref(m);
    free(doc);
    doc = xgb_doc("binary:logitraw", 0, "5E-1", 2, t, "0", 1);
    m = load(doc, NULL);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, a, 0) == 1.75); /* base taken as a margin */
    runtime_model_unref(m);
    free(doc);
    /* Newer files: default_left as booleans, iteration_indptr, version 2. */
    char *b2 = replace(t, "\"default_left\":[0,0,0]", "\"default_left\":[false,false,false]");
    doc = xgb_doc("reg:squarederror", 0, "5E-1", 2, b2, "0", 1);
    char *d2 = replace(doc, "\"tree_info\"", "\"iteration_indptr\":[0,1],\"tree_info\"");
    char *d3 = replace(d2, "[1,7,4]", "[2,0,3]");
    m = load(d3, NULL);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, c, 0) == -0.25); /* missing goes right */
    runtime_model_info_t i2;
    runtime_model_info(m, &i2);
    assert_string_equal(i2.producer, "xgboost 2.0.3");
    runtime_model_unref(m);
    free(d3);
    free(d2);
    free(doc);
    free(b2);
    /* XGBoost >= 2.1 writes base_score as a one-element list. */
    doc = xgb_doc("reg:squarederror", 0, "[1E0]", 2, t, "0", 1);
    m = load(doc, NULL);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, a, 0) == 2.25);
    runtime_model_unref(m);
    free(doc);
    free(trees);
    free(t2);
    free(t);
}

static void test_xgboost_categorical(void **state)
{
    (void)state;
    /* Node 0 splits feature 0 on categories {1, 3, 40}: those go right (2.0),
     * everything else left (-1.0); missing goes right (default_left 0). */
    const char *tree =
        "{\"base_weights\":[0,0,0],\"categories\":[1,3,40],\"categories_nodes\":[0],"
        "\"categories_segments\":[0],\"categories_sizes\":[3],\"default_left\":[0,0,0],\"id\":0,"
        "\"left_children\":[1,-1,-1],\"loss_changes\":[0,0,0],\"parents\":[2147483647,0,0],"
        "\"right_children\":[2,-1,-1],\"split_conditions\":[NaN,-1.0,2.0],\"split_indices\":[0,0,0],"
        "\"split_type\":[1,0,0],\"sum_hessian\":[1,1,1],\"tree_param\":{\"num_deleted\":\"0\","
        "\"num_feature\":\"1\",\"num_nodes\":\"3\",\"size_leaf_vector\":\"0\"}}";
    char *doc = xgb_doc("reg:squarederror", 0, "0E0", 1, tree, "0", 1);
    runtime_model_t *m = load(doc, NULL);
    const struct {
        double x, want;
    } cases[] = {{1, 2}, {3, 2}, {40, 2}, {2, -1}, {0, -1}, {3.7, 2}, {NAN, 2},
                 {-1, -1}, {1e9, -1}, {41, -1}, {100000, -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double row[1] = {cases[i].x};
        double got = predict1(m, RUNTIME_OUTPUT_VALUE, row, 0);
        if (got != cases[i].want)
            fail_msg("category %g: got %g, want %g", cases[i].x, got, cases[i].want);
    }
    runtime_model_unref(m);
    free(doc);
}

/* --------------------------------------------------- scikit-learn, known */

static const char *sk_tree_clf =
    "{\"format\":\"mops-sklearn\",\"format_version\":1,\"producer\":\"scikit-learn 1.2.1\","
    "\"estimator\":\"DecisionTreeClassifier\",\"task\":\"classifier\",\"n_features\":2,"
    "\"feature_names\":[\"a\",\"b\"],\"classes\":[\"no\",\"yes\"],\"n_outputs\":2,"
    "\"init\":[0,0],\"link\":\"identity\",\"decision\":\"argmax_value\","
    "\"trees\":{\"input\":\"%s\",\"average\":false,\"list\":[{\"feature\":[0,-1,-1],"
    "\"threshold\":[0.5,0,0],\"left\":[1,-1,-1],\"right\":[2,-1,-1],\"missing_left\":[1,0,0],"
    "\"value\":[[0.5,0.5],[0.8,0.2],[0.1,0.9]]}]}}";

static void test_sklearn_tree(void **state)
{
    (void)state;
    char *doc = mops_xasprintf(sk_tree_clf, "float32");
    runtime_model_t *m = load(doc, NULL);
    runtime_model_info_t in;
    runtime_model_info(m, &in);
    assert_string_equal(in.format, "sklearn-json");
    assert_string_equal(in.objective, "DecisionTreeClassifier");
    assert_string_equal(in.feature_names[1], "b");
    assert_string_equal(in.class_labels[1], "yes");
    assert_int_equal(in.n_value, 2);
    assert_int_equal(in.output_float32, 0);
    double le[2] = {0.5, 0}, gt[2] = {0.6, 0}, nan_row[2] = {NAN, 0}, near[2] = {0.5000000001, 0};
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, le, 0) == 0.8); /* x <= 0.5 goes left */
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, gt, 1) == 0.9);
    assert_true(predict1(m, RUNTIME_OUTPUT_LABEL, gt, 0) == 1.0);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, nan_row, 0) == 0.8);
    /* float32 input: 0.5000000001 is 0.5 once rounded, so it goes left. */
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, near, 0) == 0.8);
    runtime_model_unref(m);
    free(doc);
    /* float64 input (HistGradientBoosting): it does not. */
    doc = mops_xasprintf(sk_tree_clf, "float64");
    m = load(doc, NULL);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, near, 0) == 0.1);
    runtime_model_unref(m);
    free(doc);
}

static void test_sklearn_forest_and_links(void **state)
{
    (void)state;
    /* Two regression trees averaged. */
    const char *forest =
        "{\"format\":\"mops-sklearn\",\"format_version\":1,\"task\":\"regressor\",\"n_features\":1,"
        "\"n_outputs\":1,\"init\":[0],\"link\":\"identity\",\"decision\":\"value\","
        "\"trees\":{\"input\":\"float32\",\"average\":true,\"list\":["
        "{\"feature\":[0,-1,-1],\"threshold\":[0,0,0],\"left\":[1,-1,-1],\"right\":[2,-1,-1],"
        "\"value\":[0,1,3]},{\"feature\":[-1],\"threshold\":[0],\"left\":[-1],\"right\":[-1],"
        "\"value\":[10]}]}}";
    runtime_model_t *m = load(forest, NULL);
    double neg[1] = {-1}, pos[1] = {1};
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, neg, 0) == 5.5);
    assert_true(predict1(m, RUNTIME_OUTPUT_VALUE, pos, 0) == 6.5);
    runtime_model_unref(m);

    /* Logistic regression: binary, multinomial binary, one-vs-rest. */
    const char *lin =
        "{\"format\":\"mops-sklearn\",\"format_version\":1,\"task\":\"classifier\",\"n_features\":2,"
        "\"classes\":[0,1],\"n_outputs\":1,\"init\":[0.5],\"link\":\"%s\","
        "\"decision\":\"argmax_margin\",\"linear\":{\"coef\":[[2,-1]]}}";
    char *doc = mops_xasprintf(lin, "logistic_binary");
    m = load(doc, NULL);
    double x[2] = {1, 3}; /* margin 2 - 3 + 0.5 = -0.5 */
    assert_true(predict1(m, RUNTIME_OUTPUT_MARGIN, x, 0) == -0.5);
    double p = 1.0 / (1.0 + exp(0.5));
    assert_true(fabs(predict1(m, RUNTIME_OUTPUT_VALUE, x, 1) - p) < 1e-15);
    assert_true(fabs(predict1(m, RUNTIME_OUTPUT_VALUE, x, 0) - (1 - p)) < 1e-15);
    assert_true(predict1(m, RUNTIME_OUTPUT_LABEL, x, 0) == 0.0);
    double nan_row[2] = {NAN, 1};
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    double out[2];
    mops_err_t err;
    assert_int_equal(runtime_predict(m, &o, nan_row, 1, 2, out, NULL, &err), MOPS_EINVAL);
    assert_string_equal(err.msg, "row 0: feature 0 is missing; a linear model needs every feature");
    runtime_model_unref(m);
    free(doc);
    doc = mops_xasprintf(lin, "softmax_binary");
    m = load(doc, NULL);
    double e = exp(-0.5) / (exp(-0.5) + exp(0.5));
    assert_true(fabs(predict1(m, RUNTIME_OUTPUT_VALUE, x, 1) - e) < 1e-15);
    runtime_model_unref(m);
    free(doc);
}

/* ------------------------------------------------------------- bad input */

static void test_bad_json(void **state)
{
    (void)state;
    char *t = xgb_stump(0, "0.5", 1, "1.25", "-0.75");
    char *doc = xgb_doc("reg:squarederror", 0, "5E-1", 2, t, "0", 1);
    size_t n = strlen(doc);
    /* Truncated anywhere: refused with a message, never a crash. */
    for (size_t cut = 0; cut < n; cut += 7) {
        char *part = mops_xstrndup(doc, cut);
        runtime_model_t *m = NULL;
        mops_err_t err;
        mops_err_clear(&err);
        assert_true(runtime_model_load_buffer(part, cut, "xgboost-json", &m, &err) < 0);
        assert_true(err.msg[0] != '\0');
        free(part);
    }
    expect_refused("", NULL, MOPS_EINVAL, "not a model mops can read");
    expect_refused("[1,2]", NULL, MOPS_EINVAL, "not a model mops can read");
    expect_refused("{\"learner\":1}", NULL, MOPS_EINVAL, "expected an object ('{'), found '1'");
    expect_refused("{\"learner\":{}", "xgboost-json", MOPS_EINVAL, "JSON ends early");
    expect_refused("{\"learner\":{}}}", "xgboost-json", MOPS_EINVAL, "after the end");
    expect_refused("{\"learner\":{},}", "xgboost-json", MOPS_EINVAL, "trailing comma");
    expect_refused("{\"learner\":{\"x\":01}}", "xgboost-json", MOPS_EINVAL, "leading zero");
    expect_refused("{\"learner\":{\"x\":\"\\q\"}}", "xgboost-json", MOPS_EINVAL, "bad escape");
    expect_refused("{\"learner\":{\"x\":\"\\ud800\"}}", "xgboost-json", MOPS_EINVAL, "surrogate");
    expect_refused("{\"learner\":{}}", "xgboost-json", MOPS_EINVAL, "no gradient_booster");
    expect_refused(doc, "onnx", MOPS_EINVAL, "unknown model format 'onnx'");
    /* Deep nesting in a value that is skipped. */
    mops_buf_t deep = MOPS_BUF_INIT;
    mops_buf_puts(&deep, "{\"learner\":{\"attributes\":{\"x\":");
    for (int i = 0; i < 5000; i++)
        mops_buf_putc(&deep, '[');
    expect_refused(deep.data, "xgboost-json", MOPS_EINVAL, "nesting deeper than");
    mops_buf_release(&deep);
    /* Wrong types. */
    char *bad = replace(doc, "\"split_conditions\":[0.5,", "\"split_conditions\":[\"a\",");
    expect_refused(bad, NULL, MOPS_EINVAL, "expected a number, found '\"'");
    free(bad);
    bad = replace(doc, "\"left_children\":[1,", "\"left_children\":[1.5,");
    expect_refused(bad, NULL, MOPS_EINVAL, "expected an integer, found a fraction");
    free(bad);
    free(doc);
    free(t);
}

static void test_bad_trees(void **state)
{
    (void)state;
    const struct {
        const char *thr, *l, *r;
        int feature, dl;
        const char *from, *to, *want;
    } cases[] = {
        {"0.5", "1", "2", 0, 1, "\"left_children\":[1,", "\"left_children\":[5,",
         "tree 0, node 0: left child 5 is out of range (the tree has 3 nodes)"},
        {"0.5", "1", "2", 0, 1, "\"right_children\":[2,", "\"right_children\":[-7,",
         "tree 0, node 0: has a left child but no right child"},
        {"0.5", "1", "2", 0, 1, "\"left_children\":[1,", "\"left_children\":[0,",
         "tree 0, node 0: child 0 is reached twice"},
        {"0.5", "1", "2", 0, 1, "\"right_children\":[2,", "\"right_children\":[1,",
         "tree 0, node 0: both children are node 1"},
        {"0.5", "1", "2", 0, 1, "\"split_indices\":[0,", "\"split_indices\":[9,",
         "tree 0, node 0: feature index 9 is out of range (the model has 2 features)"},
        {"0.5", "1", "2", 0, 1, "\"split_conditions\":[0.5,", "\"split_conditions\":[NaN,",
         "tree 0, node 0: threshold is NaN"},
        {"0.5", "1", "2", 0, 1, "\"split_conditions\":[0.5,", "\"split_conditions\":[-Infinity,",
         "tree 0, node 0: threshold is infinite"},
        {"0.5", "1", "2", 0, 1, "\"split_conditions\":[0.5,", "\"split_conditions\":[1e300,",
         "does not fit a float32"},
        {"0.5", "1", "2", 0, 1, ",1.25,-0.75]", ",NaN,-0.75]", "tree 0, node 1: leaf value is NaN"},
        {"0.5", "1", "2", 0, 1, "\"right_children\":[2,-1,-1]", "\"right_children\":[2,-1]",
         "tree 0: right_children has 2 items but left_children has 3"},
        {"0.5", "1", "2", 0, 1, "\"split_type\":[0,0,0]", "\"split_type\":[7,0,0]",
         "tree 0, node 0: unknown split_type 7"},
        {"0.5", "1", "2", 0, 1, "\"left_children\":[1,-1,-1],", "",
         "tree 0 lacks left_children"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = xgb_stump(cases[i].feature, cases[i].thr, cases[i].dl, "1.25", "-0.75");
        char *bt = replace(t, cases[i].from, cases[i].to);
        char *doc = xgb_doc("reg:squarederror", 0, "5E-1", 2, bt, "0", 1);
        expect_refused(doc, NULL, MOPS_EINVAL, cases[i].want);
        free(doc);
        free(bt);
        free(t);
    }
    /* A cycle below the root: node 1 points back up. */
    const char *cyc =
        "{\"default_left\":[0,0,0,0,0],\"left_children\":[1,3,-1,1,-1],"
        "\"right_children\":[2,4,-1,4,-1],\"split_conditions\":[0,0,1,0,1],"
        "\"split_indices\":[0,0,0,0,0]}";
    char *doc = xgb_doc("reg:squarederror", 0, "5E-1", 2, cyc, "0", 1);
    expect_refused(doc, NULL, MOPS_EINVAL, "tree 0, node 3: child 1 is reached twice");
    free(doc);

    /* Model-level checks. */
    char *t = xgb_stump(0, "0.5", 1, "1", "2");
    doc = xgb_doc("reg:squarederror", 0, "5E-1", 2, t, "0", 3);
    expect_refused(doc, NULL, MOPS_EINVAL, "num_trees is 3 but 1 trees follow");
    free(doc);
    doc = xgb_doc("multi:softprob", 2, "5E-1", 2, t, "", 1);
    expect_refused(doc, NULL, MOPS_EINVAL, "tree_info has 0 entries for 1 trees");
    free(doc);
    doc = xgb_doc("multi:softprob", 2, "5E-1", 2, t, "5", 1);
    expect_refused(doc, NULL, MOPS_EINVAL, "tree 0: tree_info 5 is not an output");
    free(doc);
    doc = xgb_doc("multi:softprob", 1, "5E-1", 2, t, "0", 1);
    expect_refused(doc, NULL, MOPS_EINVAL, "needs num_class >= 2");
    free(doc);
    doc = xgb_doc("survival:cox", 0, "5E-1", 2, t, "0", 1);
    expect_refused(doc, NULL, MOPS_EINVAL, "objective 'survival:cox' is not supported");
    free(doc);
    doc = xgb_doc("binary:logistic", 0, "1.5", 2, t, "0", 1);
    expect_refused(doc, NULL, MOPS_EINVAL, "base_score 1.5 must be in [0,1]");
    free(doc);
    doc = xgb_doc("reg:squarederror", 0, "5E-1", 99999999, t, "0", 1);
    expect_refused(doc, NULL, MOPS_EINVAL, "num_feature 99999999 is out of range (0..4194304)");
    free(doc);
    doc = xgb_doc("reg:squarederror", 0, "abc", 2, t, "0", 1);
    expect_refused(doc, NULL, MOPS_EINVAL, "base_score \"abc\" is not a number");
    free(doc);
    char *dart = xgb_doc("reg:squarederror", 0, "5E-1", 2, t, "0", 1);
    char *d2 = replace(dart, "\"name\":\"gbtree\"", "\"name\":\"dart\"");
    expect_refused(d2, NULL, MOPS_EINVAL, "booster 'dart' is not supported");
    free(d2);
    free(dart);
    free(t);
}

static void test_bad_sklearn(void **state)
{
    (void)state;
    char *doc = mops_xasprintf(sk_tree_clf, "float32");
    struct {
        const char *from, *to, *want;
    } cases[] = {
        {"\"format_version\":1", "\"format_version\":2", "format_version 2 is not supported"},
        {"\"init\":[0,0]", "\"init\":[0]", "init has 1 values, n_outputs is 2"},
        {"\"link\":\"identity\"", "\"link\":\"magic\"", "unknown link \"magic\""},
        {"\"decision\":\"argmax_value\"", "\"decision\":\"value\"", "a classifier needs a class decision"},
        {"\"classes\":[\"no\",\"yes\"]", "\"classes\":[\"no\"]", "at least two labels"},
        {"\"input\":\"float32\"", "\"input\":\"int8\"", "trees.input must be"},
        {"[0.1,0.9]]", "[0.1]]", "a leaf has 1 values, n_outputs is 2"},
        {"\"threshold\":[0.5,", "\"threshold\":[NaN,", "tree 0, node 0: threshold is NaN"},
        {"\"feature\":[0,", "\"feature\":[2,", "tree 0, node 0: feature index 2 is out of range"},
        {"\"right\":[2,", "\"right\":[3,", "tree 0, node 0: right child 3 is out of range"},
        {"\"feature_names\":[\"a\",\"b\"]", "\"feature_names\":[\"a\"]", "1 feature names for 2 features"},
        {"\"format\":\"mops-sklearn\"", "\"format\":\"other\"", "not a model mops can read"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = replace(doc, cases[i].from, cases[i].to);
        expect_refused(bad, NULL, MOPS_EINVAL, cases[i].want);
        free(bad);
    }
    char *bad = replace(doc, "\"format\":\"mops-sklearn\"", "\"format\":\"other\"");
    expect_refused(bad, "sklearn-json", MOPS_EINVAL, "not a mops scikit-learn model");
    free(bad);
    free(doc);
    const char *lin =
        "{\"format\":\"mops-sklearn\",\"format_version\":1,\"task\":\"regressor\",\"n_features\":2,"
        "\"n_outputs\":1,\"init\":[0],\"link\":\"identity\",\"decision\":\"value\","
        "\"linear\":{\"coef\":[[1,2,3]]}}";
    expect_refused(lin, NULL, MOPS_EINVAL, "coef row 0 has more than n_features (2) values");
}

/* --------------------------------------------- random models, three ways */

typedef struct rtree {
    int n;
    int left[600], right[600], feat[600], dl[600];
    float cond[600];
} rtree_t;

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double unif(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* A random tree grown to depth <= max_depth (unbalanced: each node splits
 * with probability p). */
static void grow(rtree_t *t, int node, int depth, int max_depth, int F, double p)
{
    if (depth < max_depth && t->n + 2 <= 600 && unif() < p) {
        int l = t->n, r = t->n + 1;
        t->n += 2;
        t->left[node] = l;
        t->right[node] = r;
        t->feat[node] = (int)(rnd() % (uint64_t)F);
        t->cond[node] = (float)(unif() * 2 - 1);
        t->dl[node] = (int)(rnd() & 1);
        grow(t, l, depth + 1, max_depth, F, p);
        grow(t, r, depth + 1, max_depth, F, p);
    } else {
        t->left[node] = t->right[node] = -1;
        t->feat[node] = 0;
        t->cond[node] = (float)(unif() * 2 - 1);
        t->dl[node] = 0;
    }
}

static float ref_walk(const rtree_t *t, const float *x)
{
    int i = 0;
    while (t->left[i] != -1) {
        float v = x[t->feat[i]];
        if (isnan(v))
            i = t->dl[i] ? t->left[i] : t->right[i];
        else
            i = v < t->cond[i] ? t->left[i] : t->right[i];
    }
    return t->cond[i];
}

static void tree_json(mops_buf_t *b, const rtree_t *t)
{
    const char *names[] = {"left_children", "right_children", "split_indices", "default_left"};
    const int *arrs[] = {t->left, t->right, t->feat, t->dl};
    mops_buf_putc(b, '{');
    for (int a = 0; a < 4; a++) {
        mops_buf_printf(b, "\"%s\":[", names[a]);
        for (int i = 0; i < t->n; i++)
            mops_buf_printf(b, "%s%d", i ? "," : "", arrs[a][i]);
        mops_buf_puts(b, "],");
    }
    mops_buf_puts(b, "\"split_conditions\":[");
    for (int i = 0; i < t->n; i++)
        mops_buf_printf(b, "%s%.9g", i ? "," : "", (double)t->cond[i]);
    mops_buf_puts(b, "]}");
}

static void check_random(int n_trees, int max_depth, double p, int F, int K)
{
    rtree_t *trees = mops_xcalloc((size_t)n_trees, sizeof *trees);
    mops_buf_t ts = MOPS_BUF_INIT, ti = MOPS_BUF_INIT;
    for (int k = 0; k < n_trees; k++) {
        trees[k].n = 1;
        grow(&trees[k], 0, 0, max_depth, F, p);
        if (k)
            mops_buf_putc(&ts, ',');
        tree_json(&ts, &trees[k]);
        mops_buf_printf(&ti, "%s%d", k ? "," : "", k % K);
    }
    char *doc = xgb_doc(K > 1 ? "multi:softprob" : "reg:squarederror", K > 1 ? K : 0, "5E-1", F,
                        ts.data, ti.data, n_trees);
    runtime_model_t *m = load(doc, NULL);
    const size_t N = 37;
    float *x = mops_xmalloc(N * (size_t)F * sizeof *x);
    for (size_t i = 0; i < N * (size_t)F; i++)
        x[i] = unif() < 0.1 ? NAN : (float)(unif() * 2.2 - 1.1);
    /* Exact thresholds too, where < and <= differ. */
    x[0] = trees[0].cond[0];
    float *want = mops_xcalloc(N * (size_t)K, sizeof *want);
    for (size_t i = 0; i < N; i++) {
        for (int c = 0; c < K; c++)
            want[i * K + c] = 0.5f;
        for (int k = 0; k < n_trees; k++)
            want[i * K + k % K] += ref_walk(&trees[k], x + i * F);
    }
    double *got = mops_xmalloc(N * (size_t)K * sizeof *got);
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    o.output = RUNTIME_OUTPUT_MARGIN;
    mops_err_t err;
    /* The layouts as built, then every group forced explicit, then slow. */
    for (int pass = 0; pass < 3; pass++) {
        if (pass > 0)
            m->all_perfect = 0;
        if (pass > 0)
            for (size_t g = 0; g < m->n_groups; g++)
                if (m->groups[g].kind != RUNTIME__G_SLOW)
                    m->groups[g].kind = pass == 1 ? RUNTIME__G_EXPLICIT : RUNTIME__G_SLOW;
        assert_int_equal(runtime_predict_f32(m, &o, x, N, (size_t)F, got, NULL, &err), 0);
        for (size_t i = 0; i < N * (size_t)K; i++)
            if (got[i] != (double)want[i])
                fail_msg("pass %d, output %zu: got %.9g want %.9g", pass, i, got[i], (double)want[i]);
    }
    /* Threads, and double input, give the same. */
    double *xd = mops_xmalloc(N * (size_t)F * sizeof *xd);
    for (size_t i = 0; i < N * (size_t)F; i++)
        xd[i] = x[i];
    double *got2 = mops_xmalloc(N * (size_t)K * sizeof *got2);
    assert_int_equal(runtime_predict_parallel(m, &o, xd, N, (size_t)F, got2, 3, &err), 0);
    assert_memory_equal(got, got2, N * (size_t)K * sizeof *got);
    /* Iteration ranges: [1, 3) rounds. */
    if (n_trees / K >= 3) {
        o.iteration_begin = 1;
        o.iteration_end = 3;
        assert_int_equal(runtime_predict(m, &o, xd, N, (size_t)F, got2, NULL, &err), 0);
        for (size_t i = 0; i < N; i++)
            for (int c = 0; c < K; c++) {
                float w = 0.5f;
                for (int k = K; k < 3 * K; k++)
                    if (k % K == c)
                        w += ref_walk(&trees[k], x + i * F);
                assert_true(got2[i * K + c] == (double)w);
            }
        o.iteration_end = n_trees / K + 1;
        assert_int_equal(runtime_predict(m, &o, xd, N, (size_t)F, got2, NULL, &err), MOPS_EINVAL);
        assert_non_null(strstr(err.msg, "outside the model's"));
    }
    runtime_model_unref(m);
    free(doc);
    free(x);
    free(xd);
    free(want);
    free(got);
    free(got2);
    free(trees);
    mops_buf_release(&ts);
    mops_buf_release(&ti);
}

static void test_random_models(void **state)
{
    (void)state;
    /* Every row-preparation variant this CPU can run, then the default. */
    static const char *isas[] = {"portable", "avx2", "avx512"};
    const char *dflt = runtime__simd_isa();
    for (size_t i = 0; i < 3; i++) {
        if (runtime__simd_force(isas[i]) != 0)
            continue;
        check_random(11, 5, 0.9, 19, 1);
        check_random(10, 3, 0.9, 33, 2);
    }
    assert_int_equal(runtime__simd_force(dflt), 0);
    check_random(1, 1, 1.0, 3, 1);    /* a stump */
    check_random(13, 6, 0.9, 7, 1);   /* shallow: perfect layout */
    check_random(20, 8, 0.6, 5, 1);   /* sparse: explicit layout */
    check_random(17, 20, 0.85, 9, 1); /* deep */
    check_random(24, 5, 0.8, 6, 3);   /* multiclass */
    check_random(3, 0, 0.0, 2, 1);    /* single-leaf trees */
}

/* ------------------------------------------------------------ API bits */

static void test_api(void **state)
{
    (void)state;
    char *t = xgb_stump(0, "0.5", 1, "1.25", "-0.75");
    char *doc = xgb_doc("reg:squarederror", 0, "5E-1", 2, t, "0", 1);
    assert_string_equal(runtime_format_detect(doc, strlen(doc)), "xgboost-json");
    assert_null(runtime_format_detect("{\"a\":1}", 7));
    runtime_model_t *m = load(doc, NULL);
    assert_ptr_equal(runtime_model_ref(m), m);
    runtime_model_unref(m); /* still one reference */
    double rows[4] = {0.2, 0, 0.7, 0}, out[2];
    mops_err_t err;
    assert_int_equal(runtime_predict(m, NULL, rows, 2, 3, out, NULL, &err), MOPS_EINVAL);
    assert_string_equal(err.msg, "rows have 3 columns but the model takes 2 features");
    runtime_scratch_t *s = runtime_scratch_new();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(runtime_predict(m, NULL, rows, 2, 2, out, s, &err), 0);
        assert_true(out[0] == 1.75 && out[1] == -0.25);
    }
    assert_int_equal(runtime_predict(m, NULL, rows, 0, 2, out, s, &err), 0);
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    o.output = (runtime_output_t)9;
    assert_int_equal(runtime_predict(m, &o, rows, 2, 2, out, s, &err), MOPS_EINVAL);
    runtime_scratch_free(s);
    runtime_scratch_free(NULL);
    runtime_model_free(m);
    runtime_model_unref(NULL);

    assert_int_equal(runtime_model_load_file("/nonexistent/model.json", NULL, &m, &err),
                     MOPS_ENOTFOUND);
    assert_non_null(strstr(err.msg, "cannot open model file"));
    char path[] = "/tmp/mops-rt-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    assert_int_equal(runtime_model_load_file(path, NULL, &m, &err), 0);
    runtime_model_unref(m);
    unlink(path);
    free(doc);
    free(t);
}

/* ---------------------------------------------- fuzz corpora, replayed */

static void replay_dir(const char *dir, const char *format)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (run the tests from the repository root)", dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = mops_xasprintf("%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        char *buf = mops_xmalloc((size_t)n + 1);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        runtime_model_t *m = NULL;
        mops_err_t err;
        mops_err_clear(&err);
        int rc = runtime_model_load_buffer(buf, (size_t)n, format, &m, &err);
        if (rc == 0) {
            /* Loaded: it must score. */
            runtime_model_info_t in;
            runtime_model_info(m, &in);
            double *row = mops_xcalloc(in.n_features, sizeof *row);
            double *out = mops_xcalloc(in.n_value + in.n_margin + 1, sizeof *out);
            runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
            o.iteration_end = RUNTIME_ITERATIONS_ALL;
            assert_int_equal(runtime_predict(m, &o, row, 1, in.n_features, out, NULL, &err), 0);
            free(row);
            free(out);
            runtime_model_unref(m);
        } else {
            assert_true(rc < 0);
            assert_null(m);
            if (err.msg[0] == '\0')
                fail_msg("%s: refused without a message", p);
        }
        files++;
        free(buf);
        free(p);
    }
    closedir(d);
    assert_true(files > 0);
}

static void test_fuzz_corpora(void **state)
{
    (void)state;
    replay_dir("tests/fuzz/corpus/xgboost", "xgboost-json");
    replay_dir("tests/fuzz/corpus/sklearn", "sklearn-json");
    replay_dir("tests/fuzz/corpus/xgboost", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xgboost_regression),
        cmocka_unit_test(test_xgboost_logistic_and_multiclass),
        cmocka_unit_test(test_xgboost_categorical),
        cmocka_unit_test(test_sklearn_tree),
        cmocka_unit_test(test_sklearn_forest_and_links),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_trees),
        cmocka_unit_test(test_bad_sklearn),
        cmocka_unit_test(test_random_models),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_fuzz_corpora),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
