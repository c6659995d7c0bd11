/*
 * drift.c — the drift statistics (KS, Wasserstein-1, PSI, Jensen–Shannon,
 * chi-square) on raw values or KLL sketches; see monitor.h for what each
 * one is and which SciPy function it matches. Pure computation.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_int.h"
#include "stats/stats.h"

/* Points at which a sketch's CDF is read: this many quantiles. */
#define SKETCH_GRID 2048

double monitor_kolmogorov_sf(double lambda)
{
    if (!(lambda > 0))
        return 1.0;
    if (lambda < 1.18) {
        /* P(K <= λ) = √(2π)/λ Σ exp(−(2k−1)²π²/(8λ²)), fast for small λ */
        double s = 0, w = M_PI * M_PI / (8 * lambda * lambda);
        for (int k = 1; k <= 8; k++)
            s += exp(-(2.0 * k - 1) * (2.0 * k - 1) * w);
        double cdf = sqrt(2 * M_PI) / lambda * s;
        return cdf >= 1 ? 0.0 : 1.0 - cdf;
    }
    double s = 0;
    for (int k = 1; k <= 100; k++) {
        double t = exp(-2.0 * k * k * lambda * lambda);
        s += (k % 2 ? t : -t);
        if (t < 1e-18)
            break;
    }
    return s * 2 > 1 ? 1.0 : (s * 2 < 0 ? 0.0 : 2 * s);
}

static size_t dist_n(const monitor_dist_t *d)
{
    return d->sorted ? d->n : (d->kll ? (size_t)stats_kll_n(d->kll) : 0);
}

/* Fraction of values <= x. */
static double dist_cdf(const monitor_dist_t *d, double x)
{
    if (!d->sorted)
        return stats_kll_rank(d->kll, x);
    size_t lo = 0, hi = d->n; /* first index with value > x */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->sorted[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (double)lo / (double)d->n;
}

/* The q-quantile: numpy's linear interpolation on raw values. */
static double dist_quantile(const monitor_dist_t *d, double q)
{
    if (!d->sorted)
        return stats_kll_quantile(d->kll, q);
    double pos = q * (double)(d->n - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= d->n)
        return d->sorted[d->n - 1];
    double frac = pos - (double)i;
    return d->sorted[i] + (d->sorted[i + 1] - d->sorted[i]) * frac;
}

/* Append the points where d's CDF steps (raw: every value; sketch: a grid
 * of quantiles) to pts. */
static void dist_points(const monitor_dist_t *d, double *pts, size_t *np)
{
    if (d->sorted) {
        memcpy(pts + *np, d->sorted, d->n * sizeof(double));
        *np += d->n;
        return;
    }
    for (int i = 0; i <= SKETCH_GRID; i++)
        pts[(*np)++] = stats_kll_quantile(d->kll, (double)i / SKETCH_GRID);
}

static size_t dist_points_max(const monitor_dist_t *d)
{
    return d->sorted ? d->n : SKETCH_GRID + 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Shares of d in the bins cut by edges (right-closed, open ends). */
static void dist_bins(const monitor_dist_t *d, const double *edges, double *share)
{
    double prev = 0;
    for (int i = 0; i < MONITOR_PSI_BINS - 1; i++) {
        double c = dist_cdf(d, edges[i]);
        share[i] = c - prev > 0 ? c - prev : 0;
        prev = c > prev ? c : prev;
    }
    share[MONITOR_PSI_BINS - 1] = 1 - prev > 0 ? 1 - prev : 0;
}

static double js_distance(const double *p, const double *q, size_t k)
{
    double sp = 0, sq = 0, kl_p = 0, kl_q = 0;
    for (size_t i = 0; i < k; i++) {
        sp += p[i];
        sq += q[i];
    }
    for (size_t i = 0; i < k; i++) {
        double a = sp > 0 ? p[i] / sp : 0, b = sq > 0 ? q[i] / sq : 0, m = (a + b) / 2;
        if (a > 0)
            kl_p += a * log(a / m);
        if (b > 0)
            kl_q += b * log(b / m);
    }
    double v = (kl_p + kl_q) / 2;
    return sqrt(v > 0 ? v : 0);
}

int monitor_drift_numeric(const monitor_dist_t *ref, const monitor_dist_t *cur,
                          monitor_drift_t *out, mops_err_t *err)
{
    size_t n = dist_n(ref), m = dist_n(cur);
    if (!n || !m)
        return mops_err_set(err, MOPS_EINVAL, "drift needs values on both sides (%zu and %zu)",
                            n, m);
    size_t np = 0;
    double *pts = mops_xmalloc((dist_points_max(ref) + dist_points_max(cur)) * sizeof(double));
    dist_points(ref, pts, &np);
    dist_points(cur, pts, &np);
    qsort(pts, np, sizeof(double), cmp_double);
    double d = 0, w = 0;
    for (size_t i = 0; i < np; i++) {
        if (i + 1 < np && pts[i + 1] == pts[i])
            continue;
        double diff = fabs(dist_cdf(ref, pts[i]) - dist_cdf(cur, pts[i]));
        if (diff > d)
            d = diff;
        if (i + 1 < np)
            w += diff * (pts[i + 1] - pts[i]);
    }
    free(pts);
    out->ks = d;
    double en = (double)n * (double)m / ((double)n + (double)m);
    out->ks_p = monitor_kolmogorov_sf(d * sqrt(en));
    out->wasserstein = w / (ref->std > 0 ? ref->std : 1);
    double edges[MONITOR_PSI_BINS - 1];
    for (int i = 0; i < MONITOR_PSI_BINS - 1; i++)
        edges[i] = dist_quantile(ref, (i + 1) / (double)MONITOR_PSI_BINS);
    dist_bins(ref, edges, out->ref_bins);
    dist_bins(cur, edges, out->cur_bins);
    double psi = 0;
    for (int i = 0; i < MONITOR_PSI_BINS; i++) {
        double r = out->ref_bins[i] > 0 ? out->ref_bins[i] : MONITOR_PSI_EPSILON;
        double c = out->cur_bins[i] > 0 ? out->cur_bins[i] : MONITOR_PSI_EPSILON;
        psi += (c - r) * log(c / r);
    }
    out->psi = psi;
    out->js = js_distance(out->ref_bins, out->cur_bins, MONITOR_PSI_BINS);
    return 0;
}

int monitor_drift_categorical(const double *ref_counts, const double *cur_counts, size_t k,
                              double *chi2_p, double *js, mops_err_t *err)
{
    double tr = 0, tc = 0;
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        tr += ref_counts[i];
        tc += cur_counts[i];
        used += ref_counts[i] + cur_counts[i] > 0;
    }
    if (!(tr > 0) || !(tc > 0))
        return mops_err_set(err, MOPS_EINVAL, "categorical drift needs counts on both sides");
    double total = tr + tc, chi2 = 0;
    int dof = (int)used - 1;
    for (size_t i = 0; i < k; i++) {
        double col = ref_counts[i] + cur_counts[i];
        if (col <= 0)
            continue;
        const double obs[2] = {ref_counts[i], cur_counts[i]};
        const double row[2] = {tr, tc};
        for (int r = 0; r < 2; r++) {
            double e = row[r] * col / total, diff = obs[r] - e;
            if (dof == 1) /* Yates: move each observation 0.5 towards expected */
                diff = diff > 0 ? fmax(diff - 0.5, 0) : fmin(diff + 0.5, 0);
            chi2 += diff * diff / e;
        }
    }
    *chi2_p = dof > 0 ? gsl_cdf_chisq_Q(chi2, dof) : 1.0;
    *js = js_distance(ref_counts, cur_counts, k);
    return 0;
}
