/*
 * classify.c — classification metrics as sklearn.metrics 1.2 computes
 * them (eval.h states the semantics): accuracy, precision, recall and F1
 * (binary or macro), ROC AUC with ties, log loss with eps clipping, and the
 * confusion matrix.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "eval/eval.h"

void eval_class_metrics_release(eval_class_metrics_t *m)
{
    if (!m)
        return;
    free(m->confusion);
    m->confusion = NULL;
}

/* ------------------------------------------------------------- ROC AUC */

typedef struct scored {
    double score;
    uint8_t positive;
} scored_t;

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const scored_t *)a)->score, y = ((const scored_t *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

double eval_roc_auc_binary(const uint8_t *positive, const double *score, size_t n)
{
    int64_t npos = 0;
    for (size_t i = 0; i < n; i++)
        npos += positive[i] != 0;
    int64_t nneg = (int64_t)n - npos;
    if (npos == 0 || nneg == 0)
        return NAN;
    scored_t *v = mops_xmalloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (scored_t){score[i], positive[i] != 0};
    qsort(v, n, sizeof *v, by_score_desc);
    /* The ROC curve steps once per distinct score (a tie moves both rates
     * at once: a diagonal, i.e. half credit); the area in units of
     * (negatives x positives) is a sum of half-integers, exact in a double,
     * so the one rounding is the final division. */
    double area2 = 0; /* twice the area */
    int64_t tp = 0, fp = 0, tp_prev = 0, fp_prev = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].score == v[i].score) {
            if (v[j].positive)
                tp++;
            else
                fp++;
            j++;
        }
        area2 += (double)(fp - fp_prev) * (double)(tp + tp_prev);
        tp_prev = tp;
        fp_prev = fp;
        i = j;
    }
    free(v);
    return area2 / 2.0 / ((double)npos * (double)nneg);
}

static double roc_auc(const eval_class_input_t *in, const char **note)
{
    size_t n = in->n, k = in->n_classes, w = in->proba_cols;
    uint8_t *pos = mops_xmalloc(n ? n : 1);
    double *score = mops_xmalloc((n ? n : 1) * sizeof *score);
    double auc = NAN;
    if (k == 2) {
        /* One column is P(class 1): the AUC of class 1 against it, which is
         * the AUC of class 0 against 1 - p. */
        int c = w == 1 ? 1 : in->positive;
        for (size_t i = 0; i < n; i++) {
            pos[i] = in->y_true[i] == c;
            score[i] = w == 1 ? in->proba[i] : in->proba[i * w + (size_t)c];
        }
        auc = eval_roc_auc_binary(pos, score, n);
        if (isnan(auc))
            *note = "ROC AUC is undefined: the true labels hold one class only";
    } else {
        double sum = 0;
        for (size_t c = 0; c < k && !*note; c++) {
            for (size_t i = 0; i < n; i++) {
                pos[i] = (size_t)in->y_true[i] == c;
                score[i] = in->proba[i * w + c];
            }
            double a = eval_roc_auc_binary(pos, score, n);
            if (isnan(a))
                *note = "ROC AUC (one-vs-rest) is undefined: the true labels do not hold "
                        "every class";
            sum += a;
        }
        if (!*note)
            auc = sum / (double)k;
    }
    free(pos);
    free(score);
    return auc;
}

/* ------------------------------------------------------------ log loss */

static double log_loss(const eval_class_input_t *in)
{
    const double eps = 2.220446049250313e-16; /* np.finfo(np.float64).eps */
    size_t n = in->n, k = in->n_classes, w = in->proba_cols;
    if (n == 0)
        return NAN;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double q;
        if (w == 1) {
            double p = fmin(fmax(in->proba[i], eps), 1 - eps);
            double q0 = 1 - p, s = q0 + p;
            q = (in->y_true[i] == 1 ? p : q0) / s;
        } else {
            double s = 0;
            for (size_t c = 0; c < k; c++)
                s += fmin(fmax(in->proba[i * w + c], eps), 1 - eps);
            q = fmin(fmax(in->proba[i * w + (size_t)in->y_true[i]], eps), 1 - eps) / s;
        }
        total += -log(q);
    }
    return total / (double)n;
}

/* ------------------------------------------------- precision and recall */

/* precision, recall and F1 of one class from its counts; 0 for a zero
 * denominator, as sklearn with zero_division="warn". */
static void prf(int64_t tp, int64_t predicted, int64_t actual, double *p, double *r, double *f)
{
    *p = predicted ? (double)tp / (double)predicted : 0.0;
    *r = actual ? (double)tp / (double)actual : 0.0;
    double denom = *p + *r;
    *f = denom == 0.0 ? 0.0 : 2.0 * *p * *r / denom;
}

int eval_classification(const eval_class_input_t *in, eval_class_metrics_t *out,
                        mops_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t n = in->n, k = in->n_classes;
    if (k < 2)
        return mops_err_set(err, MOPS_EINVAL, "a classifier needs at least two classes");
    if (in->proba && !(in->proba_cols == k || (in->proba_cols == 1 && k == 2)))
        return mops_err_set(err, MOPS_EINVAL,
                            "scores have %zu columns: expected %zu (one per class)%s",
                            in->proba_cols, k, k == 2 ? " or 1 (class 1)" : "");
    if (k == 2 && in->positive != 0 && in->positive != 1)
        return mops_err_set(err, MOPS_EINVAL, "the positive class must be 0 or 1");
    for (size_t i = 0; i < n; i++) {
        if (in->y_true[i] < 0 || (size_t)in->y_true[i] >= k || in->y_pred[i] < 0 ||
            (size_t)in->y_pred[i] >= k)
            return mops_err_set(err, MOPS_EINVAL, "row %zu: class index out of range 0..%zu",
                                i + 1, k - 1);
        if (in->proba)
            for (size_t c = 0; c < in->proba_cols; c++)
                if (!isfinite(in->proba[i * in->proba_cols + c]))
                    return mops_err_set(err, MOPS_EINVAL, "row %zu: a score is not finite",
                                        i + 1);
    }
    out->n = n;
    out->n_classes = k;
    out->binary = k == 2;
    out->positive = k == 2 ? in->positive : -1;
    out->confusion = mops_xcalloc(k * k, sizeof *out->confusion);
    int64_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        out->confusion[(size_t)in->y_true[i] * k + (size_t)in->y_pred[i]]++;
        correct += in->y_true[i] == in->y_pred[i];
    }
    out->accuracy = n ? (double)correct / (double)n : NAN;
    /* Per class: true positives, predicted and actual counts. */
    int64_t *tp = mops_xcalloc(k, sizeof *tp), *pred = mops_xcalloc(k, sizeof *pred),
            *act = mops_xcalloc(k, sizeof *act);
    for (size_t t = 0; t < k; t++)
        for (size_t p = 0; p < k; p++) {
            int64_t c = out->confusion[t * k + p];
            act[t] += c;
            pred[p] += c;
            if (t == p)
                tp[t] += c;
        }
    if (k == 2) {
        size_t c = (size_t)in->positive;
        prf(tp[c], pred[c], act[c], &out->precision, &out->recall, &out->f1);
    } else {
        /* Macro over the labels present in y_true or y_pred. */
        double sp = 0, sr = 0, sf = 0;
        size_t used = 0;
        for (size_t c = 0; c < k; c++) {
            if (!pred[c] && !act[c])
                continue;
            double p, r, f;
            prf(tp[c], pred[c], act[c], &p, &r, &f);
            sp += p;
            sr += r;
            sf += f;
            used++;
        }
        out->precision = used ? sp / (double)used : NAN;
        out->recall = used ? sr / (double)used : NAN;
        out->f1 = used ? sf / (double)used : NAN;
    }
    free(tp);
    free(pred);
    free(act);
    out->roc_auc = NAN;
    out->log_loss = NAN;
    if (in->proba && n) {
        out->roc_auc = roc_auc(in, &out->roc_auc_note);
        out->log_loss = log_loss(in);
    } else if (!in->proba) {
        out->roc_auc_note = "no scores: ROC AUC and log loss need class probabilities";
    } else {
        out->roc_auc_note = "no rows";
    }
    return 0;
}

/* ----------------------------------------------------------------- JSON */

json_t *eval_number_json(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *eval_class_metrics_json(const eval_class_metrics_t *m, const char *const *labels)
{
    size_t k = m->n_classes;
    json_t *names = json_array(), *matrix = json_array(), *notes = json_array();
    for (size_t c = 0; c < k; c++) {
        json_array_append_new(names, labels ? json_string(labels[c]) : json_sprintf("%zu", c));
        json_t *row = json_array();
        for (size_t p = 0; p < k; p++)
            json_array_append_new(row, json_integer(m->confusion ? m->confusion[c * k + p] : 0));
        json_array_append_new(matrix, row);
    }
    if (m->roc_auc_note)
        json_array_append_new(notes, json_string(m->roc_auc_note));
    json_t *o = json_pack(
        "{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:o}", "n",
        (json_int_t)m->n, "average", m->binary ? "binary" : "macro", "positive_class",
        m->binary ? json_incref(json_array_get(names, (size_t)m->positive)) : json_null(),
        "accuracy", eval_number_json(m->accuracy), "precision", eval_number_json(m->precision),
        "recall", eval_number_json(m->recall), "f1", eval_number_json(m->f1), "roc_auc",
        eval_number_json(m->roc_auc), "log_loss", eval_number_json(m->log_loss),
        "confusion_matrix", "labels", names, "matrix", matrix, "notes", notes);
    return o;
}
