/*
 * hll.c — HyperLogLog distinct counting (Flajolet et al. 2007) with the
 * improved estimator of Otmar Ertl ("New cardinality estimation
 * algorithms for HyperLogLog sketches", 2017), which needs neither the
 * empirical bias tables of HLL++ nor a switch to linear counting: it is
 * accurate from 0 upwards. A 64-bit hash gives 2^p registers of the
 * position of the first 1-bit in the remaining 64 - p bits. Merging is a
 * register-wise max, so merge(A, B) is exactly the sketch of A ∪ B.
 * Relative standard error: 1.04 / sqrt(2^p).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

struct stats_hll {
    int p;
    uint8_t *reg; /* 2^p registers, 0..65-p */
};

stats_hll_t *stats_hll_new(int p)
{
    if (p < 4)
        p = 4;
    if (p > 18)
        p = 18;
    stats_hll_t *h = mops_xmalloc(sizeof *h);
    h->p = p;
    h->reg = mops_xcalloc((size_t)1 << p, 1);
    return h;
}

void stats_hll_free(stats_hll_t *h)
{
    if (!h)
        return;
    free(h->reg);
    free(h);
}

int stats_hll_p(const stats_hll_t *h)
{
    return h->p;
}

void stats_hll_add(stats_hll_t *h, uint64_t hash)
{
    int p = h->p, q = 64 - p;
    uint64_t idx = hash >> q;
    uint64_t w = hash << p; /* the q remaining bits, at the top */
    uint8_t rank = w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)(q + 1);
    if (rank > q + 1)
        rank = (uint8_t)(q + 1);
    if (rank > h->reg[idx])
        h->reg[idx] = rank;
}

int stats_hll_merge(stats_hll_t *h, const stats_hll_t *o, mops_err_t *err)
{
    if (h->p != o->p)
        return mops_err_set(err, MOPS_EINVAL,
                            "cannot merge distinct-count sketches of different precision "
                            "(p %d and %d)",
                            h->p, o->p);
    size_t m = (size_t)1 << h->p;
    for (size_t i = 0; i < m; i++)
        if (o->reg[i] > h->reg[i])
            h->reg[i] = o->reg[i];
    return 0;
}

/* Ertl's sigma and tau series (his algorithm 6). */
static double sigma(double x)
{
    if (x == 1)
        return INFINITY;
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

static double tau(double x)
{
    if (x == 0 || x == 1)
        return 0;
    double y = 1, z = 1 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (z != prev);
    return z / 3;
}

double stats_hll_estimate(const stats_hll_t *h)
{
    int p = h->p, q = 64 - p;
    size_t m = (size_t)1 << p;
    uint64_t c[66] = {0};
    for (size_t i = 0; i < m; i++)
        c[h->reg[i]]++;
    double dm = (double)m;
    double z = dm * tau(1 - (double)c[q + 1] / dm);
    for (int k = q; k >= 1; k--)
        z = 0.5 * (z + (double)c[k]);
    z += dm * sigma((double)c[0] / dm);
    return 0.5 / log(2) * dm * dm / z;
}

double stats_hll_error(int p)
{
    return 1.04 / sqrt((double)((size_t)1 << p));
}

json_t *stats_hll_to_json(const stats_hll_t *h)
{
    return json_pack("{s:s, s:i, s:o}", "type", "hll", "p", h->p, "registers",
                     stats_b64_bytes(h->reg, (size_t)1 << h->p));
}

int stats_hll_from_json(const json_t *j, stats_hll_t **out, mops_err_t *err)
{
    uint64_t p = 0;
    int rc;
    if ((rc = stats_json_type(j, "hll", err)) != 0 ||
        (rc = stats_json_u64(j, "p", "hll", &p, err)) != 0)
        return rc;
    if (p < 4 || p > 18)
        return mops_err_set(err, MOPS_EINVAL, "hll: precision %llu is out of range",
                            (unsigned long long)p);
    uint8_t *reg;
    size_t n;
    if ((rc = stats_unb64_bytes(json_object_get(j, "registers"), "hll registers", &reg, &n,
                                err)) != 0)
        return rc;
    int bad = n != (size_t)1 << p;
    for (size_t i = 0; i < n && !bad; i++)
        bad = reg[i] > 65 - p;
    if (bad) {
        free(reg);
        return mops_err_set(err, MOPS_EINVAL, "hll: registers do not fit precision %llu",
                            (unsigned long long)p);
    }
    stats_hll_t *h = mops_xmalloc(sizeof *h);
    h->p = (int)p;
    h->reg = reg;
    *out = h;
    return 0;
}
