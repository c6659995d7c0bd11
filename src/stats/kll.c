/*
 * kll.c — the KLL quantile sketch (Karnin, Lang and Liberty, "Optimal
 * Quantile Approximation in Streams", FOCS 2016), in the lazy form Apache
 * DataSketches uses.
 *
 * Items live in levels; an item at level h stands for 2^h values. Level h
 * may hold about k·(2/3)^(depth) items (depth counted from the top level,
 * at least 8). When the sketch is full, the lowest level over its capacity
 * is compacted: sorted, and every other item (starting at a random offset)
 * promoted to the level above, so the total weight stays exactly n and
 * each compaction moves any rank by at most ±2^h, with random sign: the
 * errors cancel and a rank is off by at most ε·n with high probability,
 * in O(k) memory whatever n is. A merge appends the other sketch's levels
 * and compacts the same way, so it keeps the same guarantee for the union.
 *
 * The coin flips come from a xorshift generator stored in the sketch, so
 * a sketch is a deterministic function of its input (and reproducible
 * after a round trip through JSON).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

#define KLL_MIN_WIDTH 8
#define KLL_MAX_LEVELS 60

typedef struct level {
    double *v;
    uint32_t n, cap;
} level_t;

struct stats_kll {
    int k;
    int nlevels;
    uint64_t n;
    double min, max;
    uint64_t rng;
    uint32_t size;     /* items in all levels */
    uint32_t capacity; /* sum of the level capacities */
    uint32_t caps[KLL_MAX_LEVELS];
    level_t lv[KLL_MAX_LEVELS];
    double *scratch;
    uint32_t scratch_cap;
};

/* ------------------------------------------------------------ helpers */

static uint64_t next_bit(stats_kll_t *s)
{
    /* xorshift64*: ample for fair coins */
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return (x * 0x2545F4914F6CDD1DULL) >> 63;
}

static void set_capacities(stats_kll_t *s)
{
    uint32_t total = 0;
    for (int h = 0; h < s->nlevels; h++) {
        int depth = s->nlevels - 1 - h;
        double c = (double)s->k * pow(2.0 / 3.0, depth);
        uint32_t cap = (uint32_t)(c + 0.5);
        if (cap < KLL_MIN_WIDTH)
            cap = KLL_MIN_WIDTH;
        s->caps[h] = cap;
        total += cap;
    }
    s->capacity = total;
}

static void level_reserve(level_t *l, uint32_t want)
{
    if (want <= l->cap)
        return;
    uint32_t cap = l->cap ? l->cap : 16;
    while (cap < want)
        cap *= 2;
    l->v = mops_xrealloc(l->v, cap * sizeof *l->v);
    l->cap = cap;
}

/* Sort n <= SMALL_SORT doubles by rank: each item's place is the count of
 * items before it (ties by position), compares without branches that the
 * compiler vectorises; about twice as fast as insertion sort on the small
 * level-0 runs most compactions sort (branch mispredictions dominate
 * insertion sort on random input); a sorted run is only checked. */
#define SMALL_SORT 32
static void small_sort(double *v, size_t n)
{
    size_t k = 1;
    while (k < n && v[k - 1] <= v[k])
        k++;
    if (k >= n)
        return; /* sorted already (runs of one repeated value are common) */
    double t[SMALL_SORT];
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        size_t r = 0;
        for (size_t j = 0; j < i; j++)
            r += v[j] <= x;
        for (size_t j = i + 1; j < n; j++)
            r += v[j] < x;
        t[r] = x;
    }
    memcpy(v, t, n * sizeof *v);
}

/* Quicksort of doubles (no NaN): median of three, small_sort from
 * SMALL_SORT items down, recursion on the smaller side only. */
static void sort_doubles(double *v, size_t n)
{
    while (n > SMALL_SORT) {
        double a = v[0], b = v[n / 2], c = v[n - 1];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t i = 0, j = n - 1;
        for (;;) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i >= j)
                break;
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
            i++;
            j--;
        }
        size_t left = j + 1;
        if (left < n - left) {
            sort_doubles(v, left);
            v += left;
            n -= left;
        } else {
            sort_doubles(v + left, n - left);
            n = left;
        }
    }
    small_sort(v, n);
}

/* Merge the sorted run src[0..m) into the sorted level l (in place, from
 * the back). */
static void merge_into(level_t *l, const double *src, uint32_t m)
{
    level_reserve(l, l->n + m);
    int64_t i = (int64_t)l->n - 1, j = (int64_t)m - 1, o = (int64_t)(l->n + m) - 1;
    while (j >= 0) {
        if (i >= 0 && l->v[i] > src[j])
            l->v[o--] = l->v[i--];
        else
            l->v[o--] = src[j--];
    }
    l->n += m;
}

static void add_level(stats_kll_t *s)
{
    s->nlevels++;
    set_capacities(s);
}

/* Compact level h into level h + 1. */
static void compact(stats_kll_t *s, int h)
{
    if (h + 1 == s->nlevels)
        add_level(s);
    level_t *l = &s->lv[h];
    if (h == 0)
        sort_doubles(l->v, l->n);
    uint32_t keep = l->n & 1; /* an odd item stays (the smallest) */
    uint32_t pairs = (l->n - keep) / 2;
    if (pairs > s->scratch_cap) {
        s->scratch_cap = pairs * 2;
        s->scratch = mops_xrealloc(s->scratch, s->scratch_cap * sizeof *s->scratch);
    }
    uint32_t off = keep + (uint32_t)next_bit(s);
    for (uint32_t i = 0; i < pairs; i++)
        s->scratch[i] = l->v[off + 2 * i];
    l->n = keep;
    merge_into(&s->lv[h + 1], s->scratch, pairs);
    s->size -= pairs;
}

static void compress(stats_kll_t *s)
{
    while (s->size >= s->capacity) {
        int h = 0;
        while (h < s->nlevels && s->lv[h].n < s->caps[h])
            h++;
        if (h == s->nlevels)
            break; /* cannot happen: the capacities sum to the total */
        if (h + 1 >= KLL_MAX_LEVELS)
            break; /* 2^60 values: beyond any stream */
        compact(s, h);
    }
}

/* ------------------------------------------------------------ API */

stats_kll_t *stats_kll_new(int k)
{
    if (k < 8)
        k = 8;
    if (k > 65535)
        k = 65535;
    stats_kll_t *s = mops_xcalloc(1, sizeof *s);
    s->k = k;
    s->nlevels = 1;
    s->min = NAN;
    s->max = NAN;
    s->rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)k;
    set_capacities(s);
    return s;
}

void stats_kll_free(stats_kll_t *s)
{
    if (!s)
        return;
    for (int h = 0; h < KLL_MAX_LEVELS; h++)
        free(s->lv[h].v);
    free(s->scratch);
    free(s);
}

void stats_kll_add(stats_kll_t *s, double x)
{
    if (s->n == 0) {
        s->min = s->max = x;
    } else {
        if (x < s->min)
            s->min = x;
        if (x > s->max)
            s->max = x;
    }
    level_t *l = &s->lv[0];
    if (l->n == l->cap)
        level_reserve(l, l->n + 1);
    l->v[l->n++] = x;
    s->n++;
    if (++s->size >= s->capacity)
        compress(s);
}

void stats_kll_add_many(stats_kll_t *s, const double *x, size_t n)
{
    while (n > 0) {
        /* as many as one by one would add before the next compression */
        uint32_t room = s->capacity - s->size;
        uint32_t m = n < room ? (uint32_t)n : room;
        if (m == 0) { /* over capacity (cannot happen): as stats_kll_add does */
            stats_kll_add(s, *x++);
            n--;
            continue;
        }
        level_t *l = &s->lv[0];
        level_reserve(l, l->n + m);
        double lo = s->n ? s->min : x[0], hi = s->n ? s->max : x[0];
        for (uint32_t i = 0; i < m; i++) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        s->min = lo;
        s->max = hi;
        memcpy(l->v + l->n, x, m * sizeof *x);
        l->n += m;
        s->n += m;
        s->size += m;
        if (s->size >= s->capacity)
            compress(s);
        x += m;
        n -= m;
    }
}

int stats_kll_merge(stats_kll_t *s, const stats_kll_t *o, mops_err_t *err)
{
    if (s->k != o->k)
        return mops_err_set(err, MOPS_EINVAL,
                            "cannot merge quantile sketches of different accuracy (k %d and %d)",
                            s->k, o->k);
    if (o->n == 0)
        return 0;
    if (s->n == 0) {
        s->min = o->min;
        s->max = o->max;
    } else {
        if (o->min < s->min)
            s->min = o->min;
        if (o->max > s->max)
            s->max = o->max;
    }
    while (s->nlevels < o->nlevels)
        s->nlevels++;
    set_capacities(s);
    for (int h = 0; h < o->nlevels; h++) {
        const level_t *src = &o->lv[h];
        if (!src->n)
            continue;
        level_t *dst = &s->lv[h];
        if (h == 0) {
            level_reserve(dst, dst->n + src->n);
            memcpy(dst->v + dst->n, src->v, src->n * sizeof *src->v);
            dst->n += src->n;
        } else {
            merge_into(dst, src->v, src->n);
        }
        s->size += src->n;
    }
    s->n += o->n;
    /* Both generators' states feed the merged one: merge order matters, as
     * it should, and the result is still reproducible. */
    s->rng = (s->rng ^ (o->rng * 0x9E3779B97F4A7C15ULL)) | 1;
    compress(s);
    return 0;
}

uint64_t stats_kll_n(const stats_kll_t *s)
{
    return s->n;
}

int stats_kll_k(const stats_kll_t *s)
{
    return s->k;
}

double stats_kll_min(const stats_kll_t *s)
{
    return s->n ? s->min : NAN;
}

double stats_kll_max(const stats_kll_t *s)
{
    return s->n ? s->max : NAN;
}

typedef struct wv {
    double v;
    uint64_t w;
} wv_t;

static int wv_cmp(const void *a, const void *b)
{
    double x = ((const wv_t *)a)->v, y = ((const wv_t *)b)->v;
    return (x > y) - (x < y);
}

/* Every item with its weight, sorted by value. */
static wv_t *sorted_view(const stats_kll_t *s, size_t *count)
{
    wv_t *all = mops_xmalloc((s->size + 1) * sizeof *all);
    size_t m = 0;
    for (int h = 0; h < s->nlevels; h++)
        for (uint32_t i = 0; i < s->lv[h].n; i++)
            all[m++] = (wv_t){s->lv[h].v[i], (uint64_t)1 << h};
    qsort(all, m, sizeof *all, wv_cmp);
    *count = m;
    return all;
}

void stats_kll_sorted(const stats_kll_t *s, double **values, uint64_t **weights, size_t *count)
{
    *values = NULL;
    *weights = NULL;
    *count = 0;
    if (!s->n)
        return;
    size_t m;
    wv_t *all = sorted_view(s, &m);
    *values = mops_xmalloc((m + 1) * sizeof **values);
    *weights = mops_xmalloc((m + 1) * sizeof **weights);
    for (size_t i = 0; i < m; i++) {
        (*values)[i] = all[i].v;
        (*weights)[i] = all[i].w;
    }
    free(all);
    *count = m;
}

double stats_kll_quantile(const stats_kll_t *s, double q)
{
    if (s->n == 0 || isnan(q))
        return NAN;
    if (q <= 0)
        return s->min;
    if (q >= 1)
        return s->max;
    size_t m;
    wv_t *all = sorted_view(s, &m);
    double target = q * (double)s->n, x = s->max;
    uint64_t cum = 0;
    for (size_t i = 0; i < m; i++) {
        cum += all[i].w;
        if ((double)cum >= target) {
            x = all[i].v;
            break;
        }
    }
    free(all);
    return x;
}

double stats_kll_rank(const stats_kll_t *s, double x)
{
    if (s->n == 0)
        return NAN;
    uint64_t below = 0;
    for (int h = 0; h < s->nlevels; h++)
        for (uint32_t i = 0; i < s->lv[h].n; i++)
            if (s->lv[h].v[i] <= x)
                below += (uint64_t)1 << h;
    return (double)below / (double)s->n;
}

double stats_kll_epsilon(int k)
{
    return 2.446 / pow((double)k, 0.9433);
}

/* ------------------------------------------------------------ JSON */

json_t *stats_kll_to_json(const stats_kll_t *s)
{
    json_t *levels = json_array();
    for (int h = 0; h < s->nlevels; h++) {
        /* Level 0 is kept unsorted; store it sorted so that equal sketches
         * have equal bytes whatever the insertion order inside a level. */
        if (h == 0 && s->lv[0].n) {
            double *tmp = mops_xmalloc(s->lv[0].n * sizeof *tmp);
            memcpy(tmp, s->lv[0].v, s->lv[0].n * sizeof *tmp);
            sort_doubles(tmp, s->lv[0].n);
            json_array_append_new(levels, stats_b64_doubles(tmp, s->lv[0].n));
            free(tmp);
        } else {
            json_array_append_new(levels, stats_b64_doubles(s->lv[h].v, s->lv[h].n));
        }
    }
    char rng[17];
    snprintf(rng, sizeof rng, "%016llx", (unsigned long long)s->rng);
    return json_pack("{s:s, s:i, s:I, s:o, s:o, s:s, s:o}", "type", "kll", "k", s->k, "n",
                     (json_int_t)s->n, "min", stats_num_json(s->n ? s->min : NAN), "max",
                     stats_num_json(s->n ? s->max : NAN), "rng", rng, "levels", levels);
}

int stats_kll_from_json(const json_t *j, stats_kll_t **out, mops_err_t *err)
{
    uint64_t k = 0, n = 0;
    double mn, mx;
    int rc;
    if ((rc = stats_json_type(j, "kll", err)) != 0 ||
        (rc = stats_json_u64(j, "k", "kll", &k, err)) != 0 ||
        (rc = stats_json_u64(j, "n", "kll", &n, err)) != 0 ||
        (rc = stats_json_num(j, "min", "kll", &mn, err)) != 0 ||
        (rc = stats_json_num(j, "max", "kll", &mx, err)) != 0)
        return rc;
    const char *rng = json_string_value(json_object_get(j, "rng"));
    json_t *levels = json_object_get(j, "levels");
    unsigned long long seed = 0;
    if (k < 8 || k > 65535 || !rng || strlen(rng) != 16 || sscanf(rng, "%16llx", &seed) != 1 ||
        !json_is_array(levels) || json_array_size(levels) < 1 ||
        json_array_size(levels) > KLL_MAX_LEVELS)
        return mops_err_set(err, MOPS_EINVAL, "kll: malformed sketch");
    stats_kll_t *s = stats_kll_new((int)k);
    s->nlevels = (int)json_array_size(levels);
    s->rng = seed;
    s->n = n;
    s->min = mn;
    s->max = mx;
    set_capacities(s);
    uint64_t weight = 0;
    for (int h = 0; h < s->nlevels && rc == 0; h++) {
        double *v;
        size_t m;
        if ((rc = stats_unb64_doubles(json_array_get(levels, (size_t)h), "kll level", &v, &m,
                                      err)) != 0)
            break;
        s->lv[h].v = v;
        s->lv[h].n = s->lv[h].cap = (uint32_t)m;
        s->size += (uint32_t)m;
        weight += (uint64_t)m << h;
        for (size_t i = 0; i < m && rc == 0; i++)
            if (!isfinite(v[i]) || (i && v[i] < v[i - 1]) || v[i] < mn || v[i] > mx)
                rc = mops_err_set(err, MOPS_EINVAL, "kll: level %d is not sorted finite values "
                                  "within [min, max]", h);
    }
    if (rc == 0 && (weight != n || (n && !(mn <= mx))))
        rc = mops_err_set(err, MOPS_EINVAL, "kll: the levels do not add up to n = %llu",
                          (unsigned long long)n);
    if (rc != 0) {
        stats_kll_free(s);
        return rc;
    }
    if (n == 0)
        s->min = s->max = NAN;
    *out = s;
    return 0;
}
