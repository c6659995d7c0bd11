/*
 * eval.h — model evaluation metrics, computed the way scikit-learn 1.2's
 * sklearn.metrics computes them, so a figure mops reports is the figure a
 * data scientist gets from the same predictions (tests/e2e compare each one
 * at 1e-9): classification (accuracy, precision, recall, F1, ROC AUC, log
 * loss, confusion matrix), regression (RMSE, MAE, R²), the same per group,
 * and fairness gaps between groups. Pure computation on arrays; depends on
 * core only, so the governance module (validation) and the monitoring
 * module (accuracy once ground truth arrives) share it.
 *
 * Semantics, where scikit-learn offers choices:
 *   - Classes are indices 0..n_classes-1 (the model's class order).
 *   - Two classes: precision, recall and F1 are of the positive class
 *     (average="binary", pos_label = the positive index, 1 by default, the
 *     model's second class as scikit-learn sorts classes). More classes:
 *     the unweighted mean over the classes present in y_true or y_pred
 *     (average="macro" with scikit-learn's default labels). A zero
 *     denominator gives 0 (zero_division="warn").
 *   - ROC AUC: two classes, roc_auc_score(y_true == positive, score of the
 *     positive class), ties counted half (the trapezoid over distinct
 *     thresholds); more classes, one-vs-rest macro (multi_class="ovr"). NaN,
 *     with a note, where scikit-learn raises: y_true holds one class only,
 *     or (multiclass) not every class.
 *   - Log loss: over all the model's classes (labels=range(n_classes)),
 *     probabilities clipped to [eps, 1 - eps] with eps the float64 machine
 *     epsilon (eps="auto" in 1.2), rows renormalised; a single probability
 *     column (a binary model giving P(class 1) only) is read as scikit-learn
 *     reads a 1-D y_pred: clipped, then [1 - p, p].
 *   - Confusion matrix: n_classes x n_classes over all the model's classes,
 *     rows the true class, columns the predicted one.
 *   - R²: 1 - SS_res / SS_tot; when SS_tot is 0, 1.0 for a perfect fit and
 *     0.0 otherwise (force_finite=True).
 *
 * Ownership: metrics structs are the caller's; eval_*_release frees what a
 * call allocated inside them. JSON out is a new reference.
 */
#ifndef MOPS_EVAL_EVAL_H
#define MOPS_EVAL_EVAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* ------------------------------------------------------ classification */

typedef struct eval_class_input {
    size_t n;               /* rows */
    size_t n_classes;       /* >= 2 */
    const int32_t *y_true;  /* n class indices */
    const int32_t *y_pred;  /* n class indices */
    /* Scores, or NULL: n * proba_cols doubles, row-major. proba_cols is
     * n_classes (one probability per class), or 1 for a binary model that
     * gives the probability of class 1 only (as XGBoost's binary:logistic). */
    const double *proba;
    size_t proba_cols;
    int positive;           /* binary: the positive class index (0 or 1) */
} eval_class_input_t;

typedef struct eval_class_metrics {
    size_t n, n_classes;
    int binary;             /* 1: binary averages of class `positive`; 0: macro */
    int positive;
    double accuracy, precision, recall, f1;
    double roc_auc;         /* NaN when undefined (roc_auc_note says why) */
    double log_loss;        /* NaN without scores, or n == 0 */
    const char *roc_auc_note; /* static text or NULL */
    int64_t *confusion;     /* n_classes * n_classes, [true * n_classes + pred] */
} eval_class_metrics_t;

/* Compute every classification metric of in into *out. MOPS_EINVAL when a
 * class index is out of range, proba_cols is neither 1 (binary only) nor
 * n_classes, or a probability is not finite. Release out with
 * eval_class_metrics_release (also after an error: it is then empty). */
int eval_classification(const eval_class_input_t *in, eval_class_metrics_t *out,
                        mops_err_t *err);
void eval_class_metrics_release(eval_class_metrics_t *m);

/* ROC AUC of a binary problem on its own: positive[i] != 0 marks the
 * positive rows, score[i] their score. NaN when one kind is absent. */
double eval_roc_auc_binary(const uint8_t *positive, const double *score, size_t n);

/* {"n", "average", "positive_class", "accuracy", "precision", "recall",
 *  "f1", "roc_auc", "log_loss", "confusion_matrix": {"labels", "matrix"},
 *  "notes"}; NaN is null. labels (n_classes names) may be NULL (then
 * "0", "1", ...). */
json_t *eval_class_metrics_json(const eval_class_metrics_t *m, const char *const *labels);

/* ---------------------------------------------------------- regression */

typedef struct eval_reg_metrics {
    size_t n;
    double rmse, mae, r2; /* NaN when n == 0 */
} eval_reg_metrics_t;

/* MOPS_EINVAL when a value is not finite. */
int eval_regression(const double *y_true, const double *y_pred, size_t n, eval_reg_metrics_t *out,
                    mops_err_t *err);

/* {"n", "rmse", "mae", "r2"}; NaN is null. */
json_t *eval_reg_metrics_json(const eval_reg_metrics_t *m);

/* -------------------------------------------------------------- groups */

/* Metrics of each group: out[g] over the rows whose group[i] == g, for g in
 * 0..n_groups-1 (group indices outside that range are an error). out must
 * hold n_groups structs; release each. */
int eval_classification_by_group(const eval_class_input_t *in, const int32_t *group,
                                 size_t n_groups, eval_class_metrics_t *out, mops_err_t *err);
int eval_regression_by_group(const double *y_true, const double *y_pred, size_t n,
                             const int32_t *group, size_t n_groups, eval_reg_metrics_t *out,
                             mops_err_t *err);

/* Fairness of a classifier between groups, for the positive class:
 *   positive rate  share of the group's rows predicted positive;
 *   TPR            share of the group's positive rows predicted positive
 *                  (recall_score on the group), NaN for a group without
 *                  positive rows, which then takes no part in the gap;
 *   gap            the largest minus the smallest value over the groups
 *                  where it is defined (NaN with fewer than two). */
typedef struct eval_fairness {
    size_t n_groups;
    int64_t *rows;          /* per group */
    double *positive_rate;  /* per group */
    double *tpr;            /* per group */
    double positive_rate_gap, tpr_gap;
} eval_fairness_t;

int eval_fairness(const int32_t *y_true, const int32_t *y_pred, size_t n, int positive,
                  const int32_t *group, size_t n_groups, eval_fairness_t *out, mops_err_t *err);
void eval_fairness_release(eval_fairness_t *f);

/* {"positive_rate": {"by_group": {name: x}, "gap"}, "tpr": {...},
 *  "rows": {name: n}}; names (n_groups) name the groups. */
json_t *eval_fairness_json(const eval_fairness_t *f, const char *const *names);

/* A double as JSON: a real, or null for NaN and infinities. */
json_t *eval_number_json(double v);

#endif
