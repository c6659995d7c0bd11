/*
 * stats.h — mergeable summaries of streams of values, written once for
 * dataset profiles and for monitoring (reference profiles, per-window
 * feature summaries merged across windows).
 *
 * Every summary has the same life: _new (or _init for the plain struct),
 * _add one value at a time, _merge another summary of the same shape into
 * it, _to_json / _from_json to keep it in the store (portable: numbers as
 * JSON, bulk arrays as base64 of little-endian bytes), and queries. Merging
 * is sound: merge(sketch(A), sketch(B)) answers every query about A ∪ B
 * within the same stated bound as sketch(A ∪ B), and for moments, HLL and
 * histograms it is that sketch exactly.
 *
 *   summary          what it answers           bound (docs/data.md)
 *   stats_moments    n, min, max, mean, stddev exact (Welford; Chan merge)
 *   stats_kll        quantiles, ranks, CDF     rank error ≤ ε·n, ε = stats_kll_epsilon(k)
 *                                              (1.65% at k = 200) with probability ≥ 99%
 *   stats_hll        distinct count            relative standard error 1.04/√2^p
 *                                              (1.63% at p = 12)
 *   stats_hist       counts in fixed bins      exact
 *   stats_topk       frequent values, counts   each count low by at most
 *                                              stats_topk_error() ≤ n/(k+1), never high
 *   stats_column     a column's profile: all of the above, by kind of value
 *
 * Values added must be finite numbers (callers count NaN/inf themselves,
 * stats_column does). Sketches are deterministic: the same values in the
 * same order give byte-identical sketches (KLL's coin flips come from a
 * generator seeded in the sketch and carried through merges).
 *
 * Ownership: _new objects are freed with _free; _to_json returns a new
 * reference; _from_json fills a new object on success only.
 */
#ifndef MOPS_STATS_STATS_H
#define MOPS_STATS_STATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* 64-bit hash of bytes (XXH3 from Debian's libxxhash): the identity of a
 * value for HyperLogLog and top-k. */
uint64_t stats_hash(const void *p, size_t n);

/* Hash of a number by value: -0 and 0 are one value. */
uint64_t stats_hash_number(double x);

/* ------------------------------------------------------------ moments */

/* Count, extremes, mean and the sum of squared deviations (Welford's
 * update; Chan, Golub and LeVeque's pairwise merge). A plain struct. */
typedef struct stats_moments {
    uint64_t n;
    double mean;
    double m2;       /* sum of squared deviations from the mean */
    double min, max; /* +inf and -inf while n == 0 */
} stats_moments_t;

void stats_moments_init(stats_moments_t *m);
void stats_moments_add(stats_moments_t *m, double x);
void stats_moments_merge(stats_moments_t *m, const stats_moments_t *o);
/* Variance with ddof degrees of freedom (0: population, 1: sample); NaN
 * when n <= ddof. */
double stats_moments_variance(const stats_moments_t *m, int ddof);
json_t *stats_moments_to_json(const stats_moments_t *m);
int stats_moments_from_json(const json_t *j, stats_moments_t *m, mops_err_t *err);

/* ------------------------------------------------------------ KLL quantiles */

#define STATS_KLL_K 200 /* default accuracy parameter */

typedef struct stats_kll stats_kll_t;

/* A quantile sketch of accuracy parameter k (8..65535): about 3k doubles
 * whatever the stream's length. */
stats_kll_t *stats_kll_new(int k);
void stats_kll_free(stats_kll_t *s);
void stats_kll_add(stats_kll_t *s, double x);
/* stats_kll_add of x[0..n) in turn (the same sketch, bit for bit), with
 * one copy per run of values between compressions. */
void stats_kll_add_many(stats_kll_t *s, const double *x, size_t n);
/* Fold o into s; both must have the same k (MOPS_EINVAL otherwise). */
int stats_kll_merge(stats_kll_t *s, const stats_kll_t *o, mops_err_t *err);
uint64_t stats_kll_n(const stats_kll_t *s);
int stats_kll_k(const stats_kll_t *s);
/* Exact extremes; NaN when empty. */
double stats_kll_min(const stats_kll_t *s);
double stats_kll_max(const stats_kll_t *s);
/* The q-quantile (0 <= q <= 1): a value of the stream whose rank (number
 * of values <= it) is within ±ε·n of q·n; q = 0 and 1 give the exact min
 * and max. NaN when empty. */
double stats_kll_quantile(const stats_kll_t *s, double q);
/* Estimated fraction of values <= x, within ±ε. */
double stats_kll_rank(const stats_kll_t *s, double x);
/* Every item the sketch keeps, sorted by value, with its weight (how many
 * stream values it stands for; the weights sum to n): new arrays *values
 * and *weights the caller frees, *count items (0 when empty, both NULL).
 * CDFs and quantiles read off it answer exactly as stats_kll_rank and
 * stats_kll_quantile do, without sorting per query. */
void stats_kll_sorted(const stats_kll_t *s, double **values, uint64_t **weights, size_t *count);
/* The normalized rank error ε this sketch keeps, with probability >= 99%,
 * for any query: 2.446 / k^0.9433, 1.65% of n at k = 200 (the bound Apache
 * DataSketches measured for the same algorithm, two-sided). Our tests see
 * at most 0.9% over all percentiles, on every distribution they try. */
double stats_kll_epsilon(int k);
json_t *stats_kll_to_json(const stats_kll_t *s);
int stats_kll_from_json(const json_t *j, stats_kll_t **out, mops_err_t *err);

/* ------------------------------------------------------------ HyperLogLog */

#define STATS_HLL_P 12 /* default precision: 4096 registers, 1.63% */

typedef struct stats_hll stats_hll_t;

/* 2^p one-byte registers, p in 4..18. */
stats_hll_t *stats_hll_new(int p);
void stats_hll_free(stats_hll_t *h);
/* Add a value by its 64-bit hash (stats_hash, stats_hash_number). */
void stats_hll_add(stats_hll_t *h, uint64_t hash);
/* Register-wise max; same p required. */
int stats_hll_merge(stats_hll_t *h, const stats_hll_t *o, mops_err_t *err);
/* Distinct values seen (Ertl's improved estimator, 2017: no bias tables,
 * accurate from 0 to beyond 10^18). */
double stats_hll_estimate(const stats_hll_t *h);
int stats_hll_p(const stats_hll_t *h);
/* Relative standard error 1.04 / sqrt(2^p). */
double stats_hll_error(int p);
json_t *stats_hll_to_json(const stats_hll_t *h);
int stats_hll_from_json(const json_t *j, stats_hll_t **out, mops_err_t *err);

/* ------------------------------------------------------------ histograms */

typedef struct stats_hist stats_hist_t;

/* Bins between n_edges strictly increasing finite edges (2..4097): bin i
 * holds edges[i] <= x < edges[i+1], the last bin also x == its upper edge;
 * values below the first edge or above the last are counted apart. */
int stats_hist_new(const double *edges, size_t n_edges, stats_hist_t **out, mops_err_t *err);
/* bins equal-width bins over [lo, hi] (lo < hi, finite). */
int stats_hist_new_uniform(double lo, double hi, size_t bins, stats_hist_t **out,
                           mops_err_t *err);
void stats_hist_free(stats_hist_t *h);
void stats_hist_add(stats_hist_t *h, double x);
/* Add counts; the edges must be identical. */
int stats_hist_merge(stats_hist_t *h, const stats_hist_t *o, mops_err_t *err);
size_t stats_hist_bins(const stats_hist_t *h);
const double *stats_hist_edges(const stats_hist_t *h); /* bins + 1 of them */
const uint64_t *stats_hist_counts(const stats_hist_t *h);
uint64_t stats_hist_below(const stats_hist_t *h);
uint64_t stats_hist_above(const stats_hist_t *h);
json_t *stats_hist_to_json(const stats_hist_t *h);
int stats_hist_from_json(const json_t *j, stats_hist_t **out, mops_err_t *err);

/* ------------------------------------------------------------ top-k */

#define STATS_TOPK_K 64        /* default counters */
#define STATS_TOPK_TEXT_MAX 64 /* bytes of a value kept for display */

typedef struct stats_topk stats_topk_t;

typedef struct stats_topk_item {
    const char *text; /* the value as first seen, cut to STATS_TOPK_TEXT_MAX */
    size_t len;
    int truncated;    /* the value was longer than what text holds */
    uint64_t count;   /* lower bound; true count <= count + stats_topk_error */
    uint64_t hash;
} stats_topk_item_t;

/* Misra–Gries frequent items with k counters (2..4096): every value that
 * occurs more than n/(k+1) times is kept; merges per Agarwal et al.,
 * "Mergeable summaries" (2012). Values are identified by their hash. */
stats_topk_t *stats_topk_new(int k);
void stats_topk_free(stats_topk_t *t);
void stats_topk_add(stats_topk_t *t, const char *text, size_t len, uint64_t hash);
int stats_topk_merge(stats_topk_t *t, const stats_topk_t *o, mops_err_t *err);
uint64_t stats_topk_n(const stats_topk_t *t);
/* How much any count may be low: (n - sum of counters) / (k + 1). */
uint64_t stats_topk_error(const stats_topk_t *t);
/* Up to max items, most frequent first (ties by text); pointers valid
 * until the next change of t. Returns how many. */
size_t stats_topk_items(const stats_topk_t *t, stats_topk_item_t *out, size_t max);
json_t *stats_topk_to_json(const stats_topk_t *t);
int stats_topk_from_json(const json_t *j, stats_topk_t **out, mops_err_t *err);

/* ------------------------------------------------------------ column profiles */

/* What a column's values are, decided by whoever reads them (the dataset
 * module infers it from a CSV column, monitoring knows its features). */
typedef enum stats_kind {
    STATS_KIND_INTEGER,
    STATS_KIND_FLOAT,
    STATS_KIND_BOOLEAN,
    STATS_KIND_TIMESTAMP, /* numeric view: Unix milliseconds */
    STATS_KIND_STRING,
} stats_kind_t;

/* "integer", "float", "boolean", "timestamp", "string". */
const char *stats_kind_name(stats_kind_t kind);
int stats_kind_parse(const char *name, stats_kind_t *kind);

typedef struct stats_column stats_column_t;

/* The profile of one column: count, missing, non-finite numbers, moments,
 * KLL quantiles over the values' numeric view, HLL distinct count, text
 * lengths, and top values of text and whole numbers.
 * About 16 KiB whatever the stream's length. */
stats_column_t *stats_column_new(void);
void stats_column_free(stats_column_t *c);
void stats_column_add_missing(stats_column_t *c);
/* A present value: its text (for distinct and top values, and lengths)
 * and its numeric view num (the number), or NaN when it has none. Values
 * are told apart by their text; a NULL text (numbers only, as monitoring
 * feeds features) by value. */
void stats_column_add(stats_column_t *c, const char *text, size_t len, double num);
/* A present value as it was read: kind STRING (no numeric view; num is
 * ignored), BOOLEAN (num 0 or 1: counted, not given quantiles), INTEGER,
 * FLOAT or TIMESTAMP (num the number or Unix ms: moments and quantiles).
 * Text and integers also feed the top values. hash is the identity the
 * caller computed (stats_hash of the text). */
void stats_column_add_hashed(stats_column_t *c, stats_kind_t kind, const char *text,
                             size_t len, double num, uint64_t hash);
int stats_column_merge(stats_column_t *c, const stats_column_t *o, mops_err_t *err);
uint64_t stats_column_count(const stats_column_t *c);   /* values, missing included */
uint64_t stats_column_missing(const stats_column_t *c);
const stats_kll_t *stats_column_kll(const stats_column_t *c);
const stats_moments_t *stats_column_moments(const stats_column_t *c);
/* The profile for people and programs, as the values' kind makes sense:
 * counts, distinct (with its error), and by kind min/max/mean/std,
 * quantiles (p1..p99), a 20-bin histogram over [min, max] read off the
 * quantile sketch (counts within ±2ε·n), top values (text, integers),
 * lengths. When
 * redact is set, no value of the column appears (min, max, quantiles,
 * top values, histogram edges): for columns holding personal data. */
json_t *stats_column_summary(const stats_column_t *c, stats_kind_t kind, int redact);
json_t *stats_column_to_json(const stats_column_t *c);
int stats_column_from_json(const json_t *j, stats_column_t **out, mops_err_t *err);

#endif
