/*
 * group.c — metrics per group (the rows sharing a value of a column such
 * as region or gender) and the fairness gaps between groups.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "eval/eval.h"

static int check_groups(const int32_t *group, size_t n, size_t n_groups, mops_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        if (group[i] < 0 || (size_t)group[i] >= n_groups)
            return mops_err_set(err, MOPS_EINVAL, "row %zu: group index out of range 0..%zu",
                                i + 1, n_groups ? n_groups - 1 : 0);
    return 0;
}

int eval_classification_by_group(const eval_class_input_t *in, const int32_t *group,
                                 size_t n_groups, eval_class_metrics_t *out, mops_err_t *err)
{
    for (size_t g = 0; g < n_groups; g++)
        memset(&out[g], 0, sizeof out[g]);
    int rc = check_groups(group, in->n, n_groups, err);
    if (rc != 0)
        return rc;
    size_t w = in->proba ? in->proba_cols : 0, cap = in->n ? in->n : 1;
    int32_t *yt = mops_xmalloc(cap * sizeof *yt), *yp = mops_xmalloc(cap * sizeof *yp);
    double *pr = w ? mops_xmalloc(cap * w * sizeof *pr) : NULL;
    for (size_t g = 0; g < n_groups && rc == 0; g++) {
        size_t m = 0;
        for (size_t i = 0; i < in->n; i++) {
            if ((size_t)group[i] != g)
                continue;
            yt[m] = in->y_true[i];
            yp[m] = in->y_pred[i];
            if (w)
                memcpy(pr + m * w, in->proba + i * w, w * sizeof *pr);
            m++;
        }
        eval_class_input_t sub = *in;
        sub.n = m;
        sub.y_true = yt;
        sub.y_pred = yp;
        sub.proba = pr;
        rc = eval_classification(&sub, &out[g], err);
    }
    free(yt);
    free(yp);
    free(pr);
    return rc;
}

int eval_regression_by_group(const double *y_true, const double *y_pred, size_t n,
                             const int32_t *group, size_t n_groups, eval_reg_metrics_t *out,
                             mops_err_t *err)
{
    int rc = check_groups(group, n, n_groups, err);
    if (rc != 0)
        return rc;
    size_t cap = n ? n : 1;
    double *yt = mops_xmalloc(cap * sizeof *yt), *yp = mops_xmalloc(cap * sizeof *yp);
    for (size_t g = 0; g < n_groups && rc == 0; g++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if ((size_t)group[i] == g) {
                yt[m] = y_true[i];
                yp[m++] = y_pred[i];
            }
        rc = eval_regression(yt, yp, m, &out[g], err);
    }
    free(yt);
    free(yp);
    return rc;
}

/* Largest minus smallest of the finite values (NaN with fewer than two). */
static double gap(const double *v, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
            used++;
        }
    return used >= 2 ? hi - lo : NAN;
}

int eval_fairness(const int32_t *y_true, const int32_t *y_pred, size_t n, int positive,
                  const int32_t *group, size_t n_groups, eval_fairness_t *out, mops_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = check_groups(group, n, n_groups, err);
    if (rc != 0)
        return rc;
    size_t cap = n_groups ? n_groups : 1;
    int64_t *pred_pos = mops_xcalloc(cap, sizeof *pred_pos), *act = mops_xcalloc(cap, sizeof *act),
            *hit = mops_xcalloc(cap, sizeof *hit);
    out->n_groups = n_groups;
    out->rows = mops_xcalloc(cap, sizeof *out->rows);
    out->positive_rate = mops_xcalloc(cap, sizeof *out->positive_rate);
    out->tpr = mops_xcalloc(cap, sizeof *out->tpr);
    for (size_t i = 0; i < n; i++) {
        size_t g = (size_t)group[i];
        out->rows[g]++;
        pred_pos[g] += y_pred[i] == positive;
        act[g] += y_true[i] == positive;
        hit[g] += y_true[i] == positive && y_pred[i] == positive;
    }
    for (size_t g = 0; g < n_groups; g++) {
        out->positive_rate[g] = out->rows[g] ? (double)pred_pos[g] / (double)out->rows[g] : NAN;
        out->tpr[g] = act[g] ? (double)hit[g] / (double)act[g] : NAN;
    }
    out->positive_rate_gap = gap(out->positive_rate, n_groups);
    out->tpr_gap = gap(out->tpr, n_groups);
    free(pred_pos);
    free(act);
    free(hit);
    return 0;
}

void eval_fairness_release(eval_fairness_t *f)
{
    if (!f)
        return;
    free(f->rows);
    free(f->positive_rate);
    free(f->tpr);
    f->rows = NULL;
    f->positive_rate = f->tpr = NULL;
}

json_t *eval_fairness_json(const eval_fairness_t *f, const char *const *names)
{
    json_t *rows = json_object(), *pr = json_object(), *tpr = json_object();
    for (size_t g = 0; g < f->n_groups; g++) {
        json_object_set_new(rows, names[g], json_integer(f->rows[g]));
        json_object_set_new(pr, names[g], eval_number_json(f->positive_rate[g]));
        json_object_set_new(tpr, names[g], eval_number_json(f->tpr[g]));
    }
    return json_pack("{s:o, s:{s:o, s:o}, s:{s:o, s:o}}", "rows", rows, "positive_rate",
                     "by_group", pr, "gap", eval_number_json(f->positive_rate_gap), "tpr",
                     "by_group", tpr, "gap", eval_number_json(f->tpr_gap));
}
