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

/* One side of a comparison as the functions below read it: sorted raw
 * values (weights 1), or a sketch's items sorted once with their
 * cumulative weights — so each CDF read or quantile is a binary search,
 * not a pass over (or a sort of) the sketch. */
typedef struct side {
    const double *v; /* ascending */
    uint64_t *cum;   /* cum[i]: weight of v[0..i]; NULL for raw values */
    size_t m;        /* items */
    double n;        /* values they stand for */
    double min, max;
    double *own_v;
} side_t;

static void side_init(side_t *sd, const monitor_dist_t *d)
{
    memset(sd, 0, sizeof *sd);
    if (d->sorted) {
        sd->v = d->sorted;
        sd->m = d->n;
        sd->n = (double)d->n;
        return;
    }
    if (!d->kll)
        return;
    stats_kll_sorted(d->kll, &sd->own_v, &sd->cum, &sd->m);
    for (size_t i = 1; i < sd->m; i++)
        sd->cum[i] += sd->cum[i - 1];
    sd->v = sd->own_v;
    sd->n = (double)stats_kll_n(d->kll);
    sd->min = stats_kll_min(d->kll);
    sd->max = stats_kll_max(d->kll);
}

static void side_release(side_t *sd)
{
    free(sd->own_v);
    free(sd->cum);
}

/* Fraction of values <= x. */
static double side_cdf(const side_t *d, double x)
{
    size_t lo = 0, hi = d->m; /* first index with value > x */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->v[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!d->cum)
        return (double)lo / d->n;
    return lo ? (double)d->cum[lo - 1] / d->n : 0.0;
}

/* The q-quantile: numpy's linear interpolation on raw values; on a
 * sketch, stats_kll_quantile's answer (the first item whose cumulative
 * weight reaches q·n; the exact extremes at 0 and 1). */
static double side_quantile(const side_t *d, double q)
{
    if (d->cum) {
        if (q <= 0)
            return d->min;
        if (q >= 1)
            return d->max;
        double target = q * d->n;
        size_t lo = 0, hi = d->m; /* first index with cum >= target */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if ((double)d->cum[mid] < target)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < d->m ? d->v[lo] : d->max;
    }
    double pos = q * (double)(d->m - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= d->m)
        return d->v[d->m - 1];
    double frac = pos - (double)i;
    return d->v[i] + (d->v[i + 1] - d->v[i]) * frac;
}

/* Append the points where d's CDF steps (raw: every value; sketch: a grid
 * of quantiles) to pts. */
static void side_points(const side_t *d, double *pts, size_t *np)
{
    if (!d->cum) {
        memcpy(pts + *np, d->v, d->m * sizeof(double));
        *np += d->m;
        return;
    }
    for (int i = 0; i <= SKETCH_GRID; i++)
        pts[(*np)++] = side_quantile(d, (double)i / SKETCH_GRID);
}

static size_t side_points_max(const side_t *d)
{
    return d->cum ? SKETCH_GRID + 1 : d->m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Shares of d in the bins cut by edges (right-closed, open ends). */
static void side_bins(const side_t *d, const double *edges, double *share)
{
    double prev = 0;
    for (int i = 0; i < MONITOR_PSI_BINS - 1; i++) {
        double c = side_cdf(d, edges[i]);
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
    side_t r, c;
    side_init(&r, ref);
    side_init(&c, cur);
    if (!r.m || !c.m) {
        side_release(&r);
        side_release(&c);
        return mops_err_set(err, MOPS_EINVAL, "drift needs values on both sides (%.0f and %.0f)",
                            r.n, c.n);
    }
    size_t np = 0;
    double *pts = mops_xmalloc((side_points_max(&r) + side_points_max(&c)) * sizeof(double));
    side_points(&r, pts, &np);
    side_points(&c, pts, &np);
    qsort(pts, np, sizeof(double), cmp_double);
    double d = 0, w = 0;
    for (size_t i = 0; i < np; i++) {
        if (i + 1 < np && pts[i + 1] == pts[i])
            continue;
        double diff = fabs(side_cdf(&r, pts[i]) - side_cdf(&c, pts[i]));
        if (diff > d)
            d = diff;
        if (i + 1 < np)
            w += diff * (pts[i + 1] - pts[i]);
    }
    free(pts);
    out->ks = d;
    double en = r.n * c.n / (r.n + c.n);
    out->ks_p = monitor_kolmogorov_sf(d * sqrt(en));
    out->wasserstein = w / (ref->std > 0 ? ref->std : 1);
    double edges[MONITOR_PSI_BINS - 1];
    for (int i = 0; i < MONITOR_PSI_BINS - 1; i++)
        edges[i] = side_quantile(&r, (i + 1) / (double)MONITOR_PSI_BINS);
    side_bins(&r, edges, out->ref_bins);
    side_bins(&c, edges, out->cur_bins);
    side_release(&r);
    side_release(&c);
    double psi = 0;
    for (int i = 0; i < MONITOR_PSI_BINS; i++) {
        double rb = out->ref_bins[i] > 0 ? out->ref_bins[i] : MONITOR_PSI_EPSILON;
        double cb = out->cur_bins[i] > 0 ? out->cur_bins[i] : MONITOR_PSI_EPSILON;
        psi += (cb - rb) * log(cb / rb);
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
