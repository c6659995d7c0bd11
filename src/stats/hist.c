/*
 * hist.c — histograms over fixed bins: exact counts, merged by adding, so
 * two windows summed are the histogram of both. The edges are the
 * caller's (monitoring takes them from a reference profile's quantiles).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

#define HIST_MAX_EDGES 4097

struct stats_hist {
    size_t bins;
    double *edges;
    uint64_t *counts;
    uint64_t below, above;
    int uniform; /* equal widths: the bin is computed, not searched */
};

int stats_hist_new(const double *edges, size_t n_edges, stats_hist_t **out, mops_err_t *err)
{
    if (n_edges < 2 || n_edges > HIST_MAX_EDGES)
        return mops_err_set(err, MOPS_EINVAL, "a histogram needs 2 to %d edges, not %zu",
                            HIST_MAX_EDGES, n_edges);
    for (size_t i = 0; i < n_edges; i++)
        if (!isfinite(edges[i]) || (i && !(edges[i] > edges[i - 1])))
            return mops_err_set(err, MOPS_EINVAL,
                                "histogram edges must be finite and strictly increasing "
                                "(edge %zu)",
                                i);
    stats_hist_t *h = mops_xcalloc(1, sizeof *h);
    h->bins = n_edges - 1;
    h->edges = mops_xmalloc(n_edges * sizeof *h->edges);
    memcpy(h->edges, edges, n_edges * sizeof *edges);
    h->counts = mops_xcalloc(h->bins, sizeof *h->counts);
    *out = h;
    return 0;
}

int stats_hist_new_uniform(double lo, double hi, size_t bins, stats_hist_t **out,
                           mops_err_t *err)
{
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || bins < 1 || bins >= HIST_MAX_EDGES)
        return mops_err_set(err, MOPS_EINVAL,
                            "a uniform histogram needs finite lo < hi and 1 to %d bins",
                            HIST_MAX_EDGES - 1);
    double *edges = mops_xmalloc((bins + 1) * sizeof *edges);
    for (size_t i = 0; i <= bins; i++)
        edges[i] = i == bins ? hi : lo + (hi - lo) * (double)i / (double)bins;
    int rc = 0;
    for (size_t i = 1; i <= bins && rc == 0; i++)
        if (!(edges[i] > edges[i - 1]))
            rc = mops_err_set(err, MOPS_EINVAL, "the range is too narrow for %zu bins", bins);
    if (rc == 0 && (rc = stats_hist_new(edges, bins + 1, out, err)) == 0)
        (*out)->uniform = 1;
    free(edges);
    return rc;
}

void stats_hist_free(stats_hist_t *h)
{
    if (!h)
        return;
    free(h->edges);
    free(h->counts);
    free(h);
}

void stats_hist_add(stats_hist_t *h, double x)
{
    const double *e = h->edges;
    size_t n = h->bins;
    if (!(x >= e[0])) {
        if (x < e[0])
            h->below++;
        return; /* NaN is not counted */
    }
    if (x > e[n]) {
        h->above++;
        return;
    }
    size_t i;
    if (h->uniform) {
        i = (size_t)((x - e[0]) / (e[n] - e[0]) * (double)n);
        if (i >= n)
            i = n - 1;
        /* rounding may put x one bin off the edges as stored */
        while (i > 0 && x < e[i])
            i--;
        while (i + 1 < n && x >= e[i + 1])
            i++;
    } else {
        size_t lo = 0, hi = n; /* find the last edge <= x */
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (e[mid] <= x)
                lo = mid;
            else
                hi = mid;
        }
        i = lo;
    }
    h->counts[i]++;
}

int stats_hist_merge(stats_hist_t *h, const stats_hist_t *o, mops_err_t *err)
{
    if (h->bins != o->bins || memcmp(h->edges, o->edges, (h->bins + 1) * sizeof *h->edges))
        return mops_err_set(err, MOPS_EINVAL, "cannot merge histograms with different bins");
    for (size_t i = 0; i < h->bins; i++)
        h->counts[i] += o->counts[i];
    h->below += o->below;
    h->above += o->above;
    return 0;
}

size_t stats_hist_bins(const stats_hist_t *h)
{
    return h->bins;
}

const double *stats_hist_edges(const stats_hist_t *h)
{
    return h->edges;
}

const uint64_t *stats_hist_counts(const stats_hist_t *h)
{
    return h->counts;
}

uint64_t stats_hist_below(const stats_hist_t *h)
{
    return h->below;
}

uint64_t stats_hist_above(const stats_hist_t *h)
{
    return h->above;
}

json_t *stats_hist_to_json(const stats_hist_t *h)
{
    json_t *edges = json_array(), *counts = json_array();
    for (size_t i = 0; i <= h->bins; i++)
        json_array_append_new(edges, json_real(h->edges[i]));
    for (size_t i = 0; i < h->bins; i++)
        json_array_append_new(counts, json_integer((json_int_t)h->counts[i]));
    return json_pack("{s:s, s:o, s:o, s:I, s:I, s:b}", "type", "hist", "edges", edges, "counts",
                     counts, "below", (json_int_t)h->below, "above", (json_int_t)h->above,
                     "uniform", h->uniform);
}

int stats_hist_from_json(const json_t *j, stats_hist_t **out, mops_err_t *err)
{
    int rc = stats_json_type(j, "hist", err);
    if (rc != 0)
        return rc;
    json_t *edges = json_object_get(j, "edges"), *counts = json_object_get(j, "counts");
    size_t n = json_array_size(edges);
    if (!json_is_array(edges) || !json_is_array(counts) || n < 2 || n > HIST_MAX_EDGES ||
        json_array_size(counts) != n - 1)
        return mops_err_set(err, MOPS_EINVAL, "hist: malformed histogram");
    double *e = mops_xmalloc(n * sizeof *e);
    for (size_t i = 0; i < n; i++)
        e[i] = json_is_number(json_array_get(edges, i)) ? json_number_value(json_array_get(edges, i))
                                                        : NAN;
    stats_hist_t *h;
    rc = stats_hist_new(e, n, &h, err);
    free(e);
    if (rc != 0)
        return rc;
    h->uniform = json_is_true(json_object_get(j, "uniform"));
    for (size_t i = 0; i < n - 1 && rc == 0; i++) {
        json_t *c = json_array_get(counts, i);
        if (!json_is_integer(c) || json_integer_value(c) < 0)
            rc = mops_err_set(err, MOPS_EINVAL, "hist: count %zu is not a non-negative integer",
                              i);
        else
            h->counts[i] = (uint64_t)json_integer_value(c);
    }
    if (rc == 0 && (rc = stats_json_u64(j, "below", "hist", &h->below, err)) == 0)
        rc = stats_json_u64(j, "above", "hist", &h->above, err);
    if (rc != 0) {
        stats_hist_free(h);
        return rc;
    }
    *out = h;
    return 0;
}
