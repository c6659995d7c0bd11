/*
 * test_stats.c — the sketches of src/stats against their stated bounds, on
 * the shapes real columns have (uniform, normal, log-normal incomes,
 * exponential waits, Zipf-distributed words, heavy ties, sorted and
 * reverse-sorted input, constants), and merges: merge(A, B) must answer
 * for A ∪ B within the same bound (exactly, for moments up to rounding,
 * HyperLogLog and histograms). Round trips through JSON must change
 * nothing; corrupt stored sketches must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

/* ------------------------------------------------------------ data */

static uint64_t rng_state;

static double urand(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return ((double)(x >> 11) + 0.5) / 9007199254740992.0;
}

static double nrand(void)
{
    return sqrt(-2 * log(urand())) * cos(2 * M_PI * urand());
}

typedef enum { D_UNIFORM, D_NORMAL, D_LOGNORMAL, D_EXP, D_TIES, D_SORTED, D_REVERSED,
               D_CONST, D_COUNT } dist_t;

static const char *const dist_names[] = {"uniform", "normal", "lognormal", "exponential",
                                         "ties", "sorted", "reversed", "constant"};

static double *make_data(dist_t d, size_t n, uint64_t seed)
{
    rng_state = seed * 2654435761u + 1;
    double *v = mops_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        switch (d) {
        case D_UNIFORM: v[i] = urand() * 1000; break;
        case D_NORMAL: v[i] = 170 + 10 * nrand(); break;
        case D_LOGNORMAL: v[i] = exp(10.5 + 0.8 * nrand()); break;       /* incomes */
        case D_EXP: v[i] = -log(urand()) * 30; break;                    /* waiting times */
        case D_TIES: v[i] = 1 + (int)(5 * urand() * urand() + 0.5); break; /* ratings */
        case D_SORTED: v[i] = (double)i; break;
        case D_REVERSED: v[i] = (double)(n - i); break;
        default: v[i] = 42; break;
        }
    }
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* How far, as a fraction of n, the rank of x is from q·n (0 when some
 * position of x in the sorted data has exactly that rank). */
static double rank_error(const double *sorted, size_t n, double q, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* values < x */
        size_t m = (lo + hi) / 2;
        if (sorted[m] < x)
            lo = m + 1;
        else
            hi = m;
    }
    size_t lt = lo;
    hi = n;
    while (lo < hi) { /* values <= x */
        size_t m = (lo + hi) / 2;
        if (sorted[m] <= x)
            lo = m + 1;
        else
            hi = m;
    }
    size_t le = lo;
    double target = q * (double)n;
    if (target < (double)lt)
        return ((double)lt - target) / (double)n;
    if (target > (double)le)
        return (target - (double)le) / (double)n;
    return 0;
}

/* The largest rank error of the sketch over the percentiles. */
static double worst_error(const stats_kll_t *s, const double *v, size_t n)
{
    double *sorted = mops_xmalloc(n * sizeof *sorted);
    memcpy(sorted, v, n * sizeof *v);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    double worst = 0;
    for (int i = 1; i < 100; i++) {
        double e = rank_error(sorted, n, i / 100.0, stats_kll_quantile(s, i / 100.0));
        if (e > worst)
            worst = e;
    }
    /* the extremes are exact */
    assert_true(stats_kll_quantile(s, 0) == sorted[0]);
    assert_true(stats_kll_quantile(s, 1) == sorted[n - 1]);
    free(sorted);
    return worst;
}

/* ------------------------------------------------------------ moments */

static void test_moments(void **state)
{
    (void)state;
    for (int d = 0; d < D_COUNT; d++) {
        size_t n = 100000;
        double *v = make_data((dist_t)d, n, 7);
        stats_moments_t all, a, b;
        stats_moments_init(&all);
        stats_moments_init(&a);
        stats_moments_init(&b);
        long double sum = 0;
        for (size_t i = 0; i < n; i++) {
            stats_moments_add(&all, v[i]);
            stats_moments_add(i < n / 3 ? &a : &b, v[i]);
            sum += v[i];
        }
        long double mean = sum / n, ss = 0;
        double mn = INFINITY, mx = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            ss += (v[i] - mean) * (v[i] - mean);
            mn = fmin(mn, v[i]);
            mx = fmax(mx, v[i]);
        }
        double var = (double)(ss / (n - 1));
        assert_true(fabs(all.mean - (double)mean) <= 1e-12 * fabs((double)mean) + 1e-12);
        assert_true(fabs(stats_moments_variance(&all, 1) - var) <= 1e-9 * var + 1e-12);
        assert_true(all.min == mn && all.max == mx && all.n == n);
        /* merge(A, B) is the summary of both */
        stats_moments_merge(&a, &b);
        assert_int_equal(a.n, n);
        assert_true(fabs(a.mean - all.mean) <= 1e-12 * fabs(all.mean) + 1e-12);
        assert_true(fabs(a.m2 - all.m2) <= 1e-9 * all.m2 + 1e-9);
        assert_true(a.min == mn && a.max == mx);
        /* round trip */
        json_t *j = stats_moments_to_json(&a);
        stats_moments_t back;
        mops_err_t err;
        assert_int_equal(stats_moments_from_json(j, &back, &err), 0);
        assert_memory_equal(&back, &a, sizeof a);
        json_decref(j);
        free(v);
    }
    stats_moments_t e;
    stats_moments_init(&e);
    assert_true(isnan(stats_moments_variance(&e, 1)));
    json_t *j = stats_moments_to_json(&e);
    stats_moments_t back;
    assert_int_equal(stats_moments_from_json(j, &back, NULL), 0);
    assert_true(isinf(back.min) && back.min > 0 && back.n == 0);
    json_decref(j);
    json_t *bad = json_pack("{s:s, s:i, s:f, s:f, s:f, s:f}", "type", "moments", "n", 2, "mean",
                            1.0, "m2", -1.0, "min", 0.0, "max", 1.0);
    assert_int_equal(stats_moments_from_json(bad, &back, NULL), MOPS_EINVAL);
    json_decref(bad);
}

/* ------------------------------------------------------------ KLL */

static void test_kll_bound(void **state)
{
    (void)state;
    double eps = stats_kll_epsilon(STATS_KLL_K);
    assert_true(eps > 0.016 && eps < 0.017); /* the stated 1.65% at k = 200 */
    size_t sizes[] = {1, 2, 100, 599, 600, 601, 5000, 100000, 1000000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int d = 0; d < D_COUNT; d++) {
            size_t n = sizes[si];
            if (n > 100000 && d != D_LOGNORMAL && d != D_SORTED)
                continue; /* keep the test quick: two shapes at a million */
            double *v = make_data((dist_t)d, n, 11 + si);
            stats_kll_t *s = stats_kll_new(STATS_KLL_K);
            for (size_t i = 0; i < n; i++)
                stats_kll_add(s, v[i]);
            assert_int_equal(stats_kll_n(s), n);
            double e = worst_error(s, v, n);
            if (e > eps)
                fail_msg("%s n=%zu: rank error %.4f over the bound %.4f", dist_names[d], n, e,
                         eps);
            if (n <= 500) /* below capacity the sketch is exact */
                assert_true(e == 0);
            /* ranks agree with quantiles within the bound */
            double med = stats_kll_quantile(s, 0.5);
            assert_true(fabs(stats_kll_rank(s, med) - 0.5) <= eps + 1.0 / (double)n ||
                        d == D_TIES || d == D_CONST);
            stats_kll_free(s);
            free(v);
        }
    }
}

/* stats_kll_add_many is stats_kll_add in turn, bit for bit (the JSON
 * holds every level and the coin state), in runs of any length. */
static void test_kll_add_many(void **state)
{
    (void)state;
    size_t n = 50000, runs[] = {1, 7, 64, 599, 600, 4096};
    double *v = make_data(D_LOGNORMAL, n, 5);
    stats_kll_t *one = stats_kll_new(STATS_KLL_K);
    for (size_t i = 0; i < n; i++)
        stats_kll_add(one, v[i]);
    json_t *want = stats_kll_to_json(one);
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        stats_kll_t *many = stats_kll_new(STATS_KLL_K);
        for (size_t i = 0; i < n; i += runs[r])
            stats_kll_add_many(many, v + i, n - i < runs[r] ? n - i : runs[r]);
        json_t *got = stats_kll_to_json(many);
        if (!json_equal(want, got))
            fail_msg("runs of %zu: the sketch differs from one add per value", runs[r]);
        json_decref(got);
        stats_kll_free(many);
    }
    json_decref(want);
    stats_kll_free(one);
    free(v);
}

static void test_kll_merge(void **state)
{
    (void)state;
    double eps = stats_kll_epsilon(STATS_KLL_K);
    for (int d = 0; d < D_COUNT; d++) {
        size_t n = 200000;
        double *v = make_data((dist_t)d, n, 99);
        /* 2 uneven parts, and 10 windows merged one into the next */
        stats_kll_t *a = stats_kll_new(STATS_KLL_K), *b = stats_kll_new(STATS_KLL_K);
        for (size_t i = 0; i < n; i++)
            stats_kll_add(i < n / 7 ? a : b, v[i]);
        assert_int_equal(stats_kll_merge(a, b, NULL), 0);
        assert_int_equal(stats_kll_n(a), n);
        double e = worst_error(a, v, n);
        if (e > eps)
            fail_msg("%s: merge of 2: rank error %.4f over %.4f", dist_names[d], e, eps);
        stats_kll_t *acc = stats_kll_new(STATS_KLL_K);
        for (int w = 0; w < 10; w++) {
            stats_kll_t *win = stats_kll_new(STATS_KLL_K);
            for (size_t i = (size_t)w * n / 10; i < (size_t)(w + 1) * n / 10; i++)
                stats_kll_add(win, v[i]);
            assert_int_equal(stats_kll_merge(acc, win, NULL), 0);
            stats_kll_free(win);
        }
        e = worst_error(acc, v, n);
        if (e > eps)
            fail_msg("%s: merge of 10: rank error %.4f over %.4f", dist_names[d], e, eps);
        stats_kll_free(a);
        stats_kll_free(b);
        stats_kll_free(acc);
        free(v);
    }
    /* empty sketches merge to nothing; different k are refused */
    stats_kll_t *x = stats_kll_new(200), *y = stats_kll_new(100), *z = stats_kll_new(200);
    assert_int_equal(stats_kll_merge(x, z, NULL), 0);
    assert_true(isnan(stats_kll_quantile(x, 0.5)) && isnan(stats_kll_min(x)));
    mops_err_t err;
    assert_int_equal(stats_kll_merge(x, y, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "different accuracy"));
    stats_kll_add(z, 3);
    assert_int_equal(stats_kll_merge(x, z, NULL), 0);
    assert_true(stats_kll_quantile(x, 0.5) == 3);
    stats_kll_free(x);
    stats_kll_free(y);
    stats_kll_free(z);
}

static void test_kll_json(void **state)
{
    (void)state;
    size_t n = 50000;
    double *v = make_data(D_LOGNORMAL, n, 5);
    stats_kll_t *s = stats_kll_new(STATS_KLL_K);
    for (size_t i = 0; i < n; i++)
        stats_kll_add(s, v[i]);
    json_t *j = stats_kll_to_json(s);
    stats_kll_t *back;
    mops_err_t err;
    assert_int_equal(stats_kll_from_json(j, &back, &err), 0);
    for (int i = 0; i <= 100; i++)
        assert_true(stats_kll_quantile(back, i / 100.0) == stats_kll_quantile(s, i / 100.0));
    /* the same stream gives the same bytes; so does the copy going on */
    json_t *j2 = stats_kll_to_json(back);
    assert_true(json_equal(j, j2));
    for (size_t i = 0; i < 1000; i++) {
        stats_kll_add(s, v[i]);
        stats_kll_add(back, v[i]);
    }
    json_t *a = stats_kll_to_json(s), *b = stats_kll_to_json(back);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    json_decref(j2);
    stats_kll_free(back);
    /* damage is refused: a count that does not add up, unsorted levels */
    json_t *bad = json_deep_copy(j);
    json_object_set_new(bad, "n", json_integer((json_int_t)n + 1));
    assert_int_equal(stats_kll_from_json(bad, &back, &err), MOPS_EINVAL);
    json_decref(bad);
    bad = json_deep_copy(j);
    json_object_set_new(bad, "type", json_string("hll"));
    assert_int_equal(stats_kll_from_json(bad, &back, &err), MOPS_EINVAL);
    json_decref(bad);
    bad = json_deep_copy(j);
    json_array_set_new(json_object_get(bad, "levels"), 0, json_string("not base64!"));
    assert_int_equal(stats_kll_from_json(bad, &back, &err), MOPS_EINVAL);
    json_decref(bad);
    /* two items at level 1 stand for n = 4, but out of order */
    double unsorted[] = {3, 1};
    bad = json_pack("{s:s, s:i, s:i, s:f, s:f, s:s, s:[s, o]}", "type", "kll", "k", 200, "n", 4,
                    "min", 1.0, "max", 3.0, "rng", "0000000000000001", "levels", "",
                    stats_b64_doubles(unsorted, 2));
    assert_int_equal(stats_kll_from_json(bad, &back, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "sorted"));
    json_array_set_new(json_object_get(bad, "levels"), 1,
                       stats_b64_doubles((double[]){1, 3}, 2));
    assert_int_equal(stats_kll_from_json(bad, &back, &err), 0);
    assert_true(stats_kll_quantile(back, 0.5) == 1);
    stats_kll_free(back);
    json_decref(bad);
    json_decref(j);
    stats_kll_free(s);
    free(v);
}

/* ------------------------------------------------------------ HLL */

static void add_ints(stats_hll_t *h, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "user-%llu", (unsigned long long)i);
        stats_hll_add(h, stats_hash(buf, (size_t)len));
    }
}

static void test_hll(void **state)
{
    (void)state;
    double se = stats_hll_error(STATS_HLL_P);
    assert_true(fabs(se - 0.01625) < 1e-5);
    uint64_t sizes[] = {0, 1, 2, 10, 100, 1000, 10000, 100000, 1000000};
    double sum_sq = 0;
    int nbig = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        stats_hll_t *h = stats_hll_new(STATS_HLL_P);
        add_ints(h, 0, sizes[i]);
        add_ints(h, 0, sizes[i] / 2); /* duplicates change nothing */
        double est = stats_hll_estimate(h), n = (double)sizes[i];
        if (n <= 100) /* small counts are all but exact */
            assert_true(fabs(est - n) <= 0.5 + 0.01 * n);
        else {
            double rel = (est - n) / n;
            if (fabs(rel) > 4 * se)
                fail_msg("HLL n=%.0f: estimate %.0f is %.2f%% off (bound 4σ = %.2f%%)", n, est,
                         100 * rel, 400 * se);
            sum_sq += rel * rel;
            nbig++;
        }
        stats_hll_free(h);
    }
    /* the typical error matches the stated standard error (within 2x) */
    assert_true(sqrt(sum_sq / nbig) < 2 * se);
    /* merge(A, B) is exactly the sketch of A ∪ B, overlap or not */
    stats_hll_t *a = stats_hll_new(12), *b = stats_hll_new(12), *u = stats_hll_new(12);
    add_ints(a, 0, 60000);
    add_ints(b, 40000, 100000);
    add_ints(u, 0, 100000);
    assert_int_equal(stats_hll_merge(a, b, NULL), 0);
    json_t *ja = stats_hll_to_json(a), *ju = stats_hll_to_json(u);
    assert_true(json_equal(ja, ju));
    assert_true(stats_hll_estimate(a) == stats_hll_estimate(u));
    stats_hll_t *back;
    assert_int_equal(stats_hll_from_json(ja, &back, NULL), 0);
    assert_true(stats_hll_estimate(back) == stats_hll_estimate(u));
    stats_hll_free(back);
    /* precision mismatch and damaged registers are refused */
    stats_hll_t *p14 = stats_hll_new(14);
    mops_err_t err;
    assert_int_equal(stats_hll_merge(a, p14, &err), MOPS_EINVAL);
    json_object_set_new(ja, "p", json_integer(13));
    assert_int_equal(stats_hll_from_json(ja, &back, &err), MOPS_EINVAL);
    json_decref(ja);
    json_decref(ju);
    stats_hll_free(a);
    stats_hll_free(b);
    stats_hll_free(u);
    stats_hll_free(p14);
    /* numbers are told apart by value: 1.0 and 1 are one value */
    assert_true(stats_hash_number(1.0) == stats_hash_number(1));
    assert_true(stats_hash_number(0.0) == stats_hash_number(-0.0));
    assert_true(stats_hash_number(1) != stats_hash("1", 1));
}

/* ------------------------------------------------------------ histograms */

static void test_hist(void **state)
{
    (void)state;
    double edges[] = {0, 10, 20, 50};
    stats_hist_t *h, *a, *b;
    mops_err_t err;
    assert_int_equal(stats_hist_new(edges, 4, &h, &err), 0);
    assert_int_equal(stats_hist_new(edges, 4, &a, &err), 0);
    assert_int_equal(stats_hist_new(edges, 4, &b, &err), 0);
    double xs[] = {-1, 0, 9.999, 10, 19, 20, 49, 50, 50.0001, NAN};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        stats_hist_add(h, xs[i]);
        stats_hist_add(i % 2 ? a : b, xs[i]);
    }
    const uint64_t *c = stats_hist_counts(h);
    assert_int_equal(c[0], 2);
    assert_int_equal(c[1], 2);
    assert_int_equal(c[2], 3); /* 20, 49 and the closed upper edge 50 */
    assert_int_equal(stats_hist_below(h), 1);
    assert_int_equal(stats_hist_above(h), 1);
    assert_int_equal(stats_hist_merge(a, b, NULL), 0);
    json_t *ja = stats_hist_to_json(a), *jh = stats_hist_to_json(h);
    assert_true(json_equal(ja, jh));
    stats_hist_t *back;
    assert_int_equal(stats_hist_from_json(ja, &back, &err), 0);
    json_t *jb = stats_hist_to_json(back);
    assert_true(json_equal(jb, jh));
    json_decref(jb);
    json_decref(ja);
    json_decref(jh);
    stats_hist_free(back);
    /* uniform bins place every value as the stored edges say */
    stats_hist_t *u;
    assert_int_equal(stats_hist_new_uniform(0.1, 0.7, 6, &u, &err), 0);
    const double *e = stats_hist_edges(u);
    for (int i = 0; i <= 6; i++)
        stats_hist_add(u, e[i]);
    for (int i = 0; i < 5; i++)
        assert_int_equal(stats_hist_counts(u)[i], 1);
    assert_int_equal(stats_hist_counts(u)[5], 2);
    /* different bins do not merge; bad edges are refused */
    assert_int_equal(stats_hist_merge(u, h, &err), MOPS_EINVAL);
    double bad[] = {0, 0, 1};
    assert_int_equal(stats_hist_new(bad, 3, &back, &err), MOPS_EINVAL);
    double inf[] = {0, INFINITY};
    assert_int_equal(stats_hist_new(inf, 2, &back, &err), MOPS_EINVAL);
    assert_int_equal(stats_hist_new_uniform(1, 1, 3, &back, &err), MOPS_EINVAL);
    stats_hist_free(u);
    stats_hist_free(h);
    stats_hist_free(a);
    stats_hist_free(b);
}

/* ------------------------------------------------------------ top-k */

/* Words w0, w1, ... drawn with Zipf frequencies (exponent 1.1). */
static size_t zipf_stream(size_t n, size_t vocab, uint64_t seed, uint32_t **out)
{
    double *cdf = mops_xmalloc(vocab * sizeof *cdf), total = 0;
    for (size_t i = 0; i < vocab; i++)
        cdf[i] = total += 1 / pow((double)(i + 1), 1.1);
    rng_state = seed;
    uint32_t *s = mops_xmalloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        double r = urand() * total;
        size_t lo = 0, hi = vocab - 1;
        while (lo < hi) {
            size_t m = (lo + hi) / 2;
            if (cdf[m] < r)
                lo = m + 1;
            else
                hi = m;
        }
        s[i] = (uint32_t)lo;
    }
    free(cdf);
    *out = s;
    return n;
}

static void add_word(stats_topk_t *t, uint32_t w)
{
    char buf[24];
    int len = snprintf(buf, sizeof buf, "w%u", w);
    stats_topk_add(t, buf, (size_t)len, stats_hash(buf, (size_t)len));
}

/* Every counted value is low by at most the stated error, never high, and
 * every value more frequent than the error is present. */
static void check_topk(const stats_topk_t *t, const uint64_t *truth, size_t vocab, size_t n)
{
    uint64_t d = stats_topk_error(t);
    assert_true(d <= n / (STATS_TOPK_K + 1));
    stats_topk_item_t items[STATS_TOPK_K];
    size_t m = stats_topk_items(t, items, STATS_TOPK_K);
    int seen[4096] = {0};
    for (size_t i = 0; i < m; i++) {
        unsigned w;
        assert_int_equal(sscanf(items[i].text, "w%u", &w), 1);
        assert_true(w < vocab);
        assert_true(items[i].count <= truth[w]);
        assert_true(truth[w] - items[i].count <= d);
        if (i)
            assert_true(items[i].count <= items[i - 1].count);
        seen[w] = 1;
    }
    for (size_t w = 0; w < vocab; w++)
        if (truth[w] > d)
            assert_true(seen[w]);
}

static void test_topk(void **state)
{
    (void)state;
    size_t n = 300000, vocab = 4000;
    uint32_t *s;
    zipf_stream(n, vocab, 3, &s);
    uint64_t *truth = mops_xcalloc(vocab, sizeof *truth);
    stats_topk_t *all = stats_topk_new(STATS_TOPK_K), *acc = stats_topk_new(STATS_TOPK_K);
    stats_topk_t *win = NULL;
    for (size_t i = 0; i < n; i++) {
        truth[s[i]]++;
        add_word(all, s[i]);
        if (i % (n / 6) == 0) { /* six windows merged as they close */
            if (win)
                assert_int_equal(stats_topk_merge(acc, win, NULL), 0);
            stats_topk_free(win);
            win = stats_topk_new(STATS_TOPK_K);
        }
        add_word(win, s[i]);
    }
    assert_int_equal(stats_topk_merge(acc, win, NULL), 0);
    stats_topk_free(win);
    assert_int_equal(stats_topk_n(all), n);
    assert_int_equal(stats_topk_n(acc), n);
    check_topk(all, truth, vocab, n);
    check_topk(acc, truth, vocab, n);
    /* the most frequent word is first in both */
    stats_topk_item_t first;
    assert_int_equal(stats_topk_items(acc, &first, 1), 1);
    assert_string_equal(first.text, "w0");
    /* round trip */
    json_t *j = stats_topk_to_json(acc);
    stats_topk_t *back;
    mops_err_t err;
    assert_int_equal(stats_topk_from_json(j, &back, &err), 0);
    json_t *j2 = stats_topk_to_json(back);
    assert_true(json_equal(j, j2));
    json_decref(j2);
    json_object_set_new(j, "n", json_integer(1));
    assert_int_equal(stats_topk_from_json(j, &back, &err), MOPS_EINVAL);
    json_decref(j);
    stats_topk_free(back);
    /* long values are kept cut at a character boundary, counted whole */
    stats_topk_t *t = stats_topk_new(4);
    char longv[200];
    memset(longv, 'x', sizeof longv);
    memcpy(longv + 63, "\xC3\xA9", 2); /* é across the 64-byte cut */
    for (int i = 0; i < 3; i++)
        stats_topk_add(t, longv, sizeof longv, stats_hash(longv, sizeof longv));
    stats_topk_item_t it;
    assert_int_equal(stats_topk_items(t, &it, 1), 1);
    assert_int_equal(it.count, 3);
    assert_true(it.truncated);
    assert_int_equal(it.len, 63);
    assert_int_equal(stats_topk_merge(t, all, &err), MOPS_EINVAL);
    stats_topk_free(t);
    stats_topk_free(all);
    stats_topk_free(acc);
    free(truth);
    free(s);
}

/* ------------------------------------------------------------ columns */

static void test_column(void **state)
{
    (void)state;
    size_t n = 20000;
    double *v = make_data(D_EXP, n, 21);
    stats_column_t *all = stats_column_new(), *a = stats_column_new(), *b = stats_column_new();
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%.3f", v[i]);
        double x = strtod(buf, NULL);
        stats_column_t *part = i % 3 ? a : b;
        if (i % 50 == 0) {
            stats_column_add_missing(all);
            stats_column_add_missing(part);
            continue;
        }
        stats_column_add(all, buf, (size_t)len, x);
        stats_column_add(part, buf, (size_t)len, x);
    }
    stats_column_add(all, "inf", 3, INFINITY);
    stats_column_add(a, "inf", 3, INFINITY);
    assert_int_equal(stats_column_merge(a, b, NULL), 0);
    assert_int_equal(stats_column_count(a), n + 1);
    assert_int_equal(stats_column_missing(a), n / 50);
    json_t *s = stats_column_summary(a, STATS_KIND_FLOAT, 0);
    assert_int_equal(json_integer_value(json_object_get(s, "missing")), n / 50);
    assert_int_equal(json_integer_value(json_object_get(s, "infinite")), 1);
    assert_non_null(json_object_get(json_object_get(s, "quantiles"), "p50"));
    json_t *hist = json_object_get(s, "histogram");
    assert_int_equal(json_array_size(json_object_get(hist, "counts")), 20);
    json_int_t total = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(hist, "counts"), i, c) total += json_integer_value(c);
    assert_true(llabs(total - (json_int_t)(n - n / 50)) <= 20);
    double d = (double)json_integer_value(json_object_get(json_object_get(s, "distinct"),
                                                         "estimate"));
    assert_true(d > 0);
    json_decref(s);
    /* redacted: counts stay, values go */
    s = stats_column_summary(a, STATS_KIND_STRING, 1);
    assert_null(json_object_get(s, "top"));
    assert_non_null(json_object_get(s, "distinct"));
    json_decref(s);
    s = stats_column_summary(a, STATS_KIND_FLOAT, 1);
    assert_null(json_object_get(s, "min"));
    assert_null(json_object_get(s, "quantiles"));
    assert_null(json_object_get(s, "histogram"));
    json_decref(s);
    /* round trip keeps every answer */
    json_t *j = stats_column_to_json(a);
    stats_column_t *back;
    mops_err_t err;
    assert_int_equal(stats_column_from_json(j, &back, &err), 0);
    json_t *s1 = stats_column_summary(a, STATS_KIND_FLOAT, 0),
           *s2 = stats_column_summary(back, STATS_KIND_FLOAT, 0);
    assert_true(json_equal(s1, s2));
    json_decref(s1);
    json_decref(s2);
    json_decref(j);
    stats_column_free(back);
    /* booleans and timestamps */
    stats_column_t *bo = stats_column_new(), *ts = stats_column_new();
    for (int k = 0; k < 10; k++) {
        const char *word = k < 7 ? "true" : "false";
        stats_column_add_hashed(bo, STATS_KIND_BOOLEAN, word, strlen(word), k < 7,
                                stats_hash(word, strlen(word)));
        stats_column_add_hashed(ts, STATS_KIND_TIMESTAMP, "t", 1, 1700000000000.0 + k * 1000.0,
                                stats_hash("t", 1));
    }
    s = stats_column_summary(bo, STATS_KIND_BOOLEAN, 0);
    assert_int_equal(json_integer_value(json_object_get(s, "true")), 7);
    assert_int_equal(json_integer_value(json_object_get(s, "false")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "distinct"),
                                                        "estimate")), 2);
    json_decref(s);
    s = stats_column_summary(ts, STATS_KIND_TIMESTAMP, 0);
    assert_string_equal(json_string_value(json_object_get(s, "min")),
                        "2023-11-14T22:13:20.000Z");
    assert_string_equal(json_string_value(json_object_get(s, "max")),
                        "2023-11-14T22:13:29.000Z");
    json_decref(s);
    stats_kind_t k;
    assert_int_equal(stats_kind_parse("timestamp", &k), 0);
    assert_int_equal(k, STATS_KIND_TIMESTAMP);
    assert_int_equal(stats_kind_parse("date", &k), MOPS_EINVAL);
    stats_column_free(bo);
    stats_column_free(ts);
    stats_column_free(all);
    stats_column_free(a);
    stats_column_free(b);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moments),   cmocka_unit_test(test_kll_bound),
        cmocka_unit_test(test_kll_merge), cmocka_unit_test(test_kll_json),
        cmocka_unit_test(test_kll_add_many),
        cmocka_unit_test(test_hll),       cmocka_unit_test(test_hist),
        cmocka_unit_test(test_topk),      cmocka_unit_test(test_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
