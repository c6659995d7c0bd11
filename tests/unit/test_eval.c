/*
 * test_eval.c — the metrics on cases small enough to work out by hand:
 * binary and macro averages, zero denominators, ROC AUC with ties and when
 * undefined, log loss clipping, R² of a constant target, groups and
 * fairness gaps, and the errors. (tests/e2e/test_validation.py compares
 * every metric with sklearn.metrics on real models.)
 */
#include <math.h>

#include "testutil.h"
#include "eval/eval.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

static void test_binary(void **state)
{
    (void)state;
    int32_t yt[] = {0, 0, 1, 1}, yp[] = {0, 1, 1, 1};
    double p[] = {0.1, 0.6, 0.7, 0.9};
    eval_class_input_t in = {4, 2, yt, yp, p, 1, 1};
    eval_class_metrics_t m;
    assert_int_equal(eval_classification(&in, &m, NULL), 0);
    NEAR(m.accuracy, 0.75);
    NEAR(m.precision, 2.0 / 3);
    NEAR(m.recall, 1.0);
    NEAR(m.f1, 0.8);
    NEAR(m.roc_auc, 1.0);
    NEAR(m.log_loss, -(log(0.9) + log(0.4) + log(0.7) + log(0.9)) / 4);
    assert_int_equal(m.confusion[0], 1); /* true 0, predicted 0 */
    assert_int_equal(m.confusion[1], 1); /* true 0, predicted 1 */
    assert_int_equal(m.confusion[3], 2);
    json_t *j = eval_class_metrics_json(&m, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "average")), "binary");
    assert_string_equal(json_string_value(json_object_get(j, "positive_class")), "1");
    json_decref(j);
    eval_class_metrics_release(&m);

    /* The positive class may be the first: its precision and recall. */
    in.positive = 0;
    assert_int_equal(eval_classification(&in, &m, NULL), 0);
    NEAR(m.precision, 1.0);
    NEAR(m.recall, 0.5);
    NEAR(m.roc_auc, 1.0); /* the same curve, seen from the other class */
    eval_class_metrics_release(&m);

    /* Two probability columns read the same way. */
    double p2[] = {0.9, 0.1, 0.4, 0.6, 0.3, 0.7, 0.1, 0.9};
    eval_class_input_t in2 = {4, 2, yt, yp, p2, 2, 1};
    assert_int_equal(eval_classification(&in2, &m, NULL), 0);
    NEAR(m.roc_auc, 1.0);
    NEAR(m.log_loss, -(log(0.9) + log(0.4) + log(0.7) + log(0.9)) / 4);
    eval_class_metrics_release(&m);
}

static void test_auc_ties_and_undefined(void **state)
{
    (void)state;
    /* (pos .5 vs neg .5) counts half: (0.5 + 1 + 1 + 1) / 4. */
    uint8_t pos[] = {0, 1, 0, 1};
    double s[] = {0.5, 0.5, 0.2, 0.8};
    NEAR(eval_roc_auc_binary(pos, s, 4), 0.875);
    double all_tied[] = {0.3, 0.3, 0.3, 0.3};
    NEAR(eval_roc_auc_binary(pos, all_tied, 4), 0.5);
    uint8_t none[] = {0, 0, 0, 0};
    assert_true(isnan(eval_roc_auc_binary(none, s, 4)));

    int32_t yt[] = {1, 1}, yp[] = {1, 0};
    double p[] = {0.8, 0.4};
    eval_class_input_t in = {2, 2, yt, yp, p, 1, 1};
    eval_class_metrics_t m;
    assert_int_equal(eval_classification(&in, &m, NULL), 0);
    assert_true(isnan(m.roc_auc));
    assert_non_null(strstr(m.roc_auc_note, "one class"));
    assert_true(isfinite(m.log_loss)); /* defined over the model's classes */
    json_t *j = eval_class_metrics_json(&m, NULL);
    assert_true(json_is_null(json_object_get(j, "roc_auc")));
    assert_int_equal(json_array_size(json_object_get(j, "notes")), 1);
    json_decref(j);
    eval_class_metrics_release(&m);
}

static void test_zero_division_and_clipping(void **state)
{
    (void)state;
    int32_t yt[] = {1, 0}, yp[] = {0, 0};
    double p[] = {0.0, 1.0}; /* certain and wrong, twice */
    eval_class_input_t in = {2, 2, yt, yp, p, 1, 1};
    eval_class_metrics_t m;
    assert_int_equal(eval_classification(&in, &m, NULL), 0);
    NEAR(m.precision, 0.0);
    NEAR(m.recall, 0.0);
    NEAR(m.f1, 0.0);
    /* clipped to eps: -log(eps) each, not infinity */
    NEAR(m.log_loss, -log(2.220446049250313e-16));
    eval_class_metrics_release(&m);
}

static void test_macro(void **state)
{
    (void)state;
    /* Class 3 appears nowhere: not part of the macro average. */
    int32_t yt[] = {0, 1, 2, 2}, yp[] = {0, 2, 2, 2};
    double p[] = {0.7, 0.1, 0.1, 0.1, 0.2, 0.3, 0.4, 0.1, 0.1, 0.1, 0.7, 0.1, 0.1, 0.2, 0.6, 0.1};
    eval_class_input_t in = {4, 4, yt, yp, p, 4, 1};
    eval_class_metrics_t m;
    assert_int_equal(eval_classification(&in, &m, NULL), 0);
    NEAR(m.accuracy, 0.75);
    NEAR(m.precision, (1 + 0 + 2.0 / 3) / 3);
    NEAR(m.recall, 2.0 / 3);
    NEAR(m.f1, 0.6);
    assert_true(isnan(m.roc_auc)); /* class 3 is not in y_true */
    assert_non_null(strstr(m.roc_auc_note, "every class"));
    NEAR(m.log_loss, -(log(0.7) + log(0.3) + log(0.7) + log(0.6)) / 4);
    eval_class_metrics_release(&m);
}

static void test_regression(void **state)
{
    (void)state;
    double y[] = {1, 2, 3}, p[] = {1, 2, 4};
    eval_reg_metrics_t m;
    assert_int_equal(eval_regression(y, p, 3, &m, NULL), 0);
    NEAR(m.rmse, sqrt(1.0 / 3));
    NEAR(m.mae, 1.0 / 3);
    NEAR(m.r2, 0.5);
    double c[] = {2, 2}, same[] = {2, 2}, off[] = {2, 3};
    assert_int_equal(eval_regression(c, same, 2, &m, NULL), 0);
    NEAR(m.r2, 1.0);
    assert_int_equal(eval_regression(c, off, 2, &m, NULL), 0);
    NEAR(m.r2, 0.0);
    double bad[] = {1, NAN};
    mops_err_t err;
    assert_int_equal(eval_regression(y, bad, 2, &m, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "row 2"));
}

static void test_groups_and_fairness(void **state)
{
    (void)state;
    /* group 0: rows 0-3, group 1: rows 4-7 */
    int32_t yt[] = {1, 1, 0, 0, 1, 1, 0, 0}, yp[] = {1, 1, 1, 0, 1, 0, 0, 0};
    int32_t g[] = {0, 0, 0, 0, 1, 1, 1, 1};
    eval_fairness_t f;
    assert_int_equal(eval_fairness(yt, yp, 8, 1, g, 2, &f, NULL), 0);
    NEAR(f.positive_rate[0], 0.75);
    NEAR(f.positive_rate[1], 0.25);
    NEAR(f.positive_rate_gap, 0.5);
    NEAR(f.tpr[0], 1.0);
    NEAR(f.tpr[1], 0.5);
    NEAR(f.tpr_gap, 0.5);
    const char *names[] = {"north", "south"};
    json_t *j = eval_fairness_json(&f, names);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "rows"), "south")), 4);
    json_decref(j);
    eval_fairness_release(&f);

    /* A group without positives has no TPR and takes no part in its gap. */
    int32_t yt2[] = {1, 0, 0, 0}, yp2[] = {1, 1, 0, 0}, g2[] = {0, 0, 1, 1};
    assert_int_equal(eval_fairness(yt2, yp2, 4, 1, g2, 2, &f, NULL), 0);
    assert_true(isnan(f.tpr[1]));
    assert_true(isnan(f.tpr_gap));
    NEAR(f.positive_rate_gap, 1.0);
    eval_fairness_release(&f);

    double p[] = {0.9, 0.8, 0.6, 0.2, 0.7, 0.3, 0.4, 0.1};
    eval_class_input_t in = {8, 2, yt, yp, p, 1, 1};
    eval_class_metrics_t per[2];
    assert_int_equal(eval_classification_by_group(&in, g, 2, per, NULL), 0);
    NEAR(per[0].accuracy, 0.75);
    NEAR(per[1].accuracy, 0.75);
    NEAR(per[1].roc_auc, 0.75);
    eval_class_metrics_release(&per[0]);
    eval_class_metrics_release(&per[1]);

    double y[] = {1, 2, 3, 4}, q[] = {1, 2, 3, 5};
    int32_t gg[] = {0, 1, 0, 1};
    eval_reg_metrics_t rm[2];
    assert_int_equal(eval_regression_by_group(y, q, 4, gg, 2, rm, NULL), 0);
    NEAR(rm[0].rmse, 0.0);
    NEAR(rm[1].mae, 0.5);
    int32_t out_of_range[] = {0, 1, 2, 0};
    mops_err_t err;
    assert_int_equal(eval_regression_by_group(y, q, 4, out_of_range, 2, rm, &err), MOPS_EINVAL);
}

static void test_errors(void **state)
{
    (void)state;
    int32_t yt[] = {0, 5}, yp[] = {0, 1};
    double p[] = {0.1, 0.2, 0.3};
    eval_class_metrics_t m;
    mops_err_t err;
    eval_class_input_t in = {2, 2, yt, yp, NULL, 0, 1};
    assert_int_equal(eval_classification(&in, &m, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "row 2"));
    eval_class_metrics_release(&m);
    int32_t ok[] = {0, 1};
    eval_class_input_t in3 = {2, 3, ok, ok, p, 1, 1};
    assert_int_equal(eval_classification(&in3, &m, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "expected 3"));
    eval_class_metrics_release(&m);
    double nan_p[] = {0.5, NAN};
    eval_class_input_t in4 = {2, 2, ok, ok, nan_p, 1, 1};
    assert_int_equal(eval_classification(&in4, &m, &err), MOPS_EINVAL);
    eval_class_metrics_release(&m);
    /* No scores: the rest still, with a note. */
    eval_class_input_t in5 = {2, 2, ok, ok, NULL, 0, 1};
    assert_int_equal(eval_classification(&in5, &m, NULL), 0);
    NEAR(m.accuracy, 1.0);
    assert_true(isnan(m.log_loss));
    eval_class_metrics_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_auc_ties_and_undefined),
        cmocka_unit_test(test_zero_division_and_clipping),
        cmocka_unit_test(test_macro),
        cmocka_unit_test(test_regression),
        cmocka_unit_test(test_groups_and_fairness),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
