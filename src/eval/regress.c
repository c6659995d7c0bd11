/*
 * regress.c — regression metrics as sklearn.metrics 1.2 computes them:
 * RMSE (mean_squared_error(squared=False)), MAE, and R² (r2_score with
 * force_finite=True).
 */
#include <math.h>

#include "eval/eval.h"

int eval_regression(const double *y_true, const double *y_pred, size_t n, eval_reg_metrics_t *out,
                    mops_err_t *err)
{
    double sum_y = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y_true[i]) || !isfinite(y_pred[i]))
            return mops_err_set(err, MOPS_EINVAL, "row %zu: %s is not a finite number", i + 1,
                                isfinite(y_true[i]) ? "the prediction" : "the true value");
        sum_y += y_true[i];
    }
    out->n = n;
    if (n == 0) {
        out->rmse = out->mae = out->r2 = NAN;
        return 0;
    }
    double mean_y = sum_y / (double)n, sse = 0, sae = 0, sst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = y_true[i] - y_pred[i], c = y_true[i] - mean_y;
        sse += d * d;
        sae += fabs(d);
        sst += c * c;
    }
    out->rmse = sqrt(sse / (double)n);
    out->mae = sae / (double)n;
    if (sst != 0)
        out->r2 = 1.0 - sse / sst;
    else
        out->r2 = sse == 0 ? 1.0 : 0.0;
    return 0;
}

json_t *eval_reg_metrics_json(const eval_reg_metrics_t *m)
{
    return json_pack("{s:I, s:o, s:o, s:o}", "n", (json_int_t)m->n, "rmse",
                     eval_number_json(m->rmse), "mae", eval_number_json(m->mae), "r2",
                     eval_number_json(m->r2));
}
