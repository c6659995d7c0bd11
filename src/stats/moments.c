/*
 * moments.c — count, extremes, mean and variance of a stream in one pass:
 * Welford's update (numerically stable, no catastrophic cancellation) and
 * the pairwise merge of Chan, Golub and LeVeque (1979), which makes the
 * merge of two windows equal to the summary of both, up to rounding.
 */
#include <math.h>

#include "stats/stats.h"
#include "stats/stats_int.h"

void stats_moments_init(stats_moments_t *m)
{
    m->n = 0;
    m->mean = 0;
    m->m2 = 0;
    m->min = INFINITY;
    m->max = -INFINITY;
}

void stats_moments_add(stats_moments_t *m, double x)
{
    m->n++;
    double d = x - m->mean;
    m->mean += d / (double)m->n;
    m->m2 += d * (x - m->mean);
    if (x < m->min)
        m->min = x;
    if (x > m->max)
        m->max = x;
}

void stats_moments_merge(stats_moments_t *m, const stats_moments_t *o)
{
    if (o->n == 0)
        return;
    if (m->n == 0) {
        *m = *o;
        return;
    }
    double na = (double)m->n, nb = (double)o->n, n = na + nb;
    double d = o->mean - m->mean;
    m->mean += d * nb / n;
    m->m2 += o->m2 + d * d * na * nb / n;
    m->n += o->n;
    if (o->min < m->min)
        m->min = o->min;
    if (o->max > m->max)
        m->max = o->max;
}

double stats_moments_variance(const stats_moments_t *m, int ddof)
{
    if (m->n <= (uint64_t)(ddof < 0 ? 0 : ddof))
        return NAN;
    return m->m2 / (double)(m->n - (uint64_t)ddof);
}

json_t *stats_moments_to_json(const stats_moments_t *m)
{
    return json_pack("{s:s, s:I, s:o, s:o, s:o, s:o}", "type", "moments", "n",
                     (json_int_t)m->n, "mean", stats_num_json(m->mean), "m2",
                     stats_num_json(m->m2), "min", stats_num_json(m->min), "max",
                     stats_num_json(m->max));
}

int stats_moments_from_json(const json_t *j, stats_moments_t *m, mops_err_t *err)
{
    stats_moments_t t;
    int rc;
    if ((rc = stats_json_type(j, "moments", err)) != 0 ||
        (rc = stats_json_u64(j, "n", "moments", &t.n, err)) != 0 ||
        (rc = stats_json_num(j, "mean", "moments", &t.mean, err)) != 0 ||
        (rc = stats_json_num(j, "m2", "moments", &t.m2, err)) != 0 ||
        (rc = stats_json_num(j, "min", "moments", &t.min, err)) != 0 ||
        (rc = stats_json_num(j, "max", "moments", &t.max, err)) != 0)
        return rc;
    if (t.m2 < 0 || (t.n > 0 && t.min > t.max))
        return mops_err_set(err, MOPS_EINVAL, "moments: inconsistent values");
    *m = t;
    return 0;
}
