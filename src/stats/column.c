/*
 * column.c — the profile of one column: counts, moments and KLL quantiles
 * of the values' numeric view, a HyperLogLog distinct count, Misra–Gries
 * top values and text lengths, all mergeable; and the summary people read,
 * shaped by the column's kind (numbers get quantiles and a histogram,
 * strings their top values, timestamps their range as RFC 3339).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/time.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

#define SUMMARY_TOP 10
#define SUMMARY_BINS 20

struct stats_column {
    uint64_t count;    /* values, missing included */
    uint64_t missing;
    uint64_t infinite; /* numeric views that were ±inf (kept out of moments and KLL) */
    uint64_t untracked; /* values with a numeric view: not in top values */
    stats_moments_t mom;
    stats_kll_t *kll;
    stats_hll_t *hll;
    stats_topk_t *topk;
    uint64_t len_min, len_max, len_sum; /* bytes of present values */
    /* Numbers not yet folded into mom: sums shifted by the block's first
     * value, folded every BLOCK values (a division per value costs more
     * than the rest of the update). */
    uint32_t blk_n;
    double blk_shift, blk_s1, blk_s2, blk_min, blk_max;
};

#define BLOCK 1024

/* Fold the pending block into the moments. Logically const: readers of a
 * const column call it. */
static void flush(const stats_column_t *cc)
{
    stats_column_t *c = (stats_column_t *)cc;
    if (!c->blk_n)
        return;
    double n = (double)c->blk_n;
    stats_moments_t b = {.n = c->blk_n, .mean = c->blk_shift + c->blk_s1 / n,
                         .m2 = c->blk_s2 - c->blk_s1 * c->blk_s1 / n, .min = c->blk_min,
                         .max = c->blk_max};
    if (b.m2 < 0)
        b.m2 = 0;
    stats_moments_merge(&c->mom, &b);
    c->blk_n = 0;
}

static void moments_add(stats_column_t *c, double x)
{
    if (c->blk_n == 0) {
        c->blk_shift = c->blk_min = c->blk_max = x;
        c->blk_s1 = c->blk_s2 = 0;
    }
    double d = x - c->blk_shift;
    c->blk_s1 += d;
    c->blk_s2 += d * d;
    if (x < c->blk_min)
        c->blk_min = x;
    if (x > c->blk_max)
        c->blk_max = x;
    if (++c->blk_n == BLOCK)
        flush(c);
}

static const char *const kind_names[] = {
    [STATS_KIND_INTEGER] = "integer", [STATS_KIND_FLOAT] = "float",
    [STATS_KIND_BOOLEAN] = "boolean", [STATS_KIND_TIMESTAMP] = "timestamp",
    [STATS_KIND_STRING] = "string",
};

const char *stats_kind_name(stats_kind_t kind)
{
    return kind <= STATS_KIND_STRING ? kind_names[kind] : "?";
}

int stats_kind_parse(const char *name, stats_kind_t *kind)
{
    for (int i = 0; i <= STATS_KIND_STRING; i++)
        if (!strcmp(name, kind_names[i])) {
            *kind = (stats_kind_t)i;
            return 0;
        }
    return MOPS_EINVAL;
}

stats_column_t *stats_column_new(void)
{
    stats_column_t *c = mops_xcalloc(1, sizeof *c);
    stats_moments_init(&c->mom);
    c->kll = stats_kll_new(STATS_KLL_K);
    c->hll = stats_hll_new(STATS_HLL_P);
    c->topk = stats_topk_new(STATS_TOPK_K);
    c->len_min = UINT64_MAX;
    return c;
}

void stats_column_free(stats_column_t *c)
{
    if (!c)
        return;
    stats_kll_free(c->kll);
    stats_hll_free(c->hll);
    stats_topk_free(c->topk);
    free(c);
}

void stats_column_add_missing(stats_column_t *c)
{
    c->count++;
    c->missing++;
}

void stats_column_add_hashed(stats_column_t *c, stats_kind_t kind, const char *text,
                             size_t len, double num, uint64_t hash)
{
    c->count++;
    if (len < c->len_min)
        c->len_min = len;
    if (len > c->len_max)
        c->len_max = len;
    c->len_sum += len;
    stats_hll_add(c->hll, hash);
    /* Top values are kept for text and whole numbers (codes, categories):
     * decimals, booleans and times are summarised by their moments and
     * quantiles, and skipping them here is much of the profile's speed on
     * numeric columns. Values skipped count as untracked, which widens the
     * stated error of a column read as text after all. */
    if (kind == STATS_KIND_STRING || kind == STATS_KIND_INTEGER)
        stats_topk_add(c->topk, text, len, hash);
    else
        c->untracked++;
    if (kind == STATS_KIND_STRING)
        return;
    if (isfinite(num)) {
        moments_add(c, num);
        if (kind != STATS_KIND_BOOLEAN)
            stats_kll_add(c->kll, num);
    } else if (isinf(num)) {
        c->infinite++;
    }
}

void stats_column_add(stats_column_t *c, const char *text, size_t len, double num)
{
    uint64_t h = text ? stats_hash(text, len) : stats_hash_number(num);
    stats_column_add_hashed(c, isnan(num) ? STATS_KIND_STRING : STATS_KIND_FLOAT,
                            text ? text : "", text ? len : 0, num, h);
}

int stats_column_merge(stats_column_t *c, const stats_column_t *o, mops_err_t *err)
{
    int rc;
    flush(c);
    flush(o);
    if ((rc = stats_kll_merge(c->kll, o->kll, err)) != 0 ||
        (rc = stats_hll_merge(c->hll, o->hll, err)) != 0 ||
        (rc = stats_topk_merge(c->topk, o->topk, err)) != 0)
        return rc;
    stats_moments_merge(&c->mom, &o->mom);
    c->count += o->count;
    c->missing += o->missing;
    c->infinite += o->infinite;
    c->untracked += o->untracked;
    if (o->len_min < c->len_min)
        c->len_min = o->len_min;
    if (o->len_max > c->len_max)
        c->len_max = o->len_max;
    c->len_sum += o->len_sum;
    return 0;
}

uint64_t stats_column_count(const stats_column_t *c)
{
    return c->count;
}

uint64_t stats_column_missing(const stats_column_t *c)
{
    return c->missing;
}

const stats_kll_t *stats_column_kll(const stats_column_t *c)
{
    return c->kll;
}

const stats_moments_t *stats_column_moments(const stats_column_t *c)
{
    flush(c);
    return &c->mom;
}

/* ------------------------------------------------------------ summary */

/* A value of the numeric view as the kind shows it. */
static json_t *value_json(double x, stats_kind_t kind)
{
    if (isnan(x))
        return json_null();
    if (kind == STATS_KIND_TIMESTAMP) {
        char buf[40];
        mops_time_format((int64_t)llround(x), buf, sizeof buf);
        return json_string(buf);
    }
    if (kind == STATS_KIND_INTEGER && fabs(x) < 9.2e18)
        return json_integer((json_int_t)llround(x));
    return json_real(x);
}

static json_t *num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* Counts per bin read off the quantile sketch: equal-width bins over
 * [min, max] (integer-aligned for integers, so each bin holds whole
 * numbers); each count is within ±2ε·n. */
static json_t *histogram_json(const stats_column_t *c, stats_kind_t kind)
{
    double lo = c->mom.min, hi = c->mom.max, n = (double)stats_kll_n(c->kll);
    double width;
    int bins;
    if (kind == STATS_KIND_INTEGER) {
        double span = hi - lo + 1;
        width = ceil(span / SUMMARY_BINS);
        bins = (int)ceil(span / width);
    } else {
        bins = hi > lo ? SUMMARY_BINS : 1;
        width = (hi - lo) / bins;
    }
    json_t *edges = json_array(), *cj = json_array();
    double prev = 0;
    for (int i = 0; i <= bins; i++) {
        double e = i == bins && kind != STATS_KIND_INTEGER ? hi : lo + width * i;
        json_array_append_new(edges, kind == STATS_KIND_TIMESTAMP ? value_json(e, kind)
                                                                  : json_real(e));
        if (i == 0)
            continue;
        /* rank of the values below edge e (all of them at the last edge) */
        double below = i == bins ? 1.0
                                 : stats_kll_rank(c->kll, kind == STATS_KIND_INTEGER
                                                              ? e - 1
                                                              : nextafter(e, -INFINITY));
        json_array_append_new(cj, json_integer((json_int_t)llround((below - prev) * n)));
        prev = below;
    }
    double err = 2 * stats_kll_epsilon(stats_kll_k(c->kll)) * n;
    return json_pack("{s:o, s:o, s:I}", "edges", edges, "counts", cj, "count_error",
                     (json_int_t)ceil(err));
}

json_t *stats_column_summary(const stats_column_t *c, stats_kind_t kind, int redact)
{
    flush(c);
    uint64_t present = c->count - c->missing;
    json_t *o = json_pack(
        "{s:s, s:I, s:I, s:I, s:o, s:{s:I, s:f}}", "type", stats_kind_name(kind), "count",
        (json_int_t)c->count, "missing", (json_int_t)c->missing, "present", (json_int_t)present,
        "missing_percent", c->count ? json_real(100.0 * (double)c->missing / (double)c->count)
                                    : json_null(),
        "distinct", "estimate", (json_int_t)llround(stats_hll_estimate(c->hll)),
        "relative_standard_error", stats_hll_error(stats_hll_p(c->hll)));
    if (present)
        json_object_set_new(o, "length",
                            json_pack("{s:I, s:I, s:f}", "min", (json_int_t)c->len_min, "max",
                                      (json_int_t)c->len_max, "mean",
                                      (double)c->len_sum / (double)present));
    if (kind == STATS_KIND_BOOLEAN) {
        uint64_t yes = (uint64_t)llround(c->mom.mean * (double)c->mom.n);
        json_object_set_new(o, "true", json_integer((json_int_t)yes));
        json_object_set_new(o, "false", json_integer((json_int_t)(c->mom.n - yes)));
        return o;
    }
    if (kind != STATS_KIND_STRING && c->mom.n) {
        int ts = kind == STATS_KIND_TIMESTAMP;
        if (kind == STATS_KIND_FLOAT)
            json_object_set_new(o, "infinite", json_integer((json_int_t)c->infinite));
        json_object_set_new(o, "mean", ts ? value_json(c->mom.mean, kind) : json_real(c->mom.mean));
        double sd = sqrt(stats_moments_variance(&c->mom, 1));
        json_object_set_new(o, "std", num_or_null(sd));
        if (ts)
            json_object_set_new(o, "std_unit", json_string("ms"));
        if (!redact) {
            static const double qs[] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
            static const char *const qn[] = {"p1", "p5", "p25", "p50", "p75", "p95", "p99"};
            json_t *q = json_object();
            for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
                json_object_set_new(q, qn[i], value_json(stats_kll_quantile(c->kll, qs[i]), kind));
            json_object_set_new(o, "min", value_json(c->mom.min, kind));
            json_object_set_new(o, "max", value_json(c->mom.max, kind));
            json_object_set_new(o, "quantiles", q);
            json_object_set_new(o, "quantile_rank_error",
                                json_real(stats_kll_epsilon(stats_kll_k(c->kll))));
            json_object_set_new(o, "histogram", histogram_json(c, kind));
        }
    }
    /* top values: of text, and of whole numbers (codes, categories) */
    if ((kind == STATS_KIND_STRING || kind == STATS_KIND_INTEGER) && !redact) {
        stats_topk_item_t items[SUMMARY_TOP];
        size_t n = stats_topk_items(c->topk, items, SUMMARY_TOP);
        json_t *top = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_stringn(items[i].text, items[i].len);
            json_array_append_new(top, json_pack("{s:o, s:I, s:b}", "value",
                                                 v ? v : json_string("\xEF\xBF\xBD"), "count",
                                                 (json_int_t)items[i].count, "truncated",
                                                 items[i].truncated));
        }
        json_object_set_new(o, "top", top);
        json_object_set_new(o, "top_count_error",
                            json_integer((json_int_t)(stats_topk_error(c->topk) + c->untracked)));
    }
    return o;
}

/* ------------------------------------------------------------ JSON */

json_t *stats_column_to_json(const stats_column_t *c)
{
    flush(c);
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I}}", "type",
                     "column", "count", (json_int_t)c->count, "missing", (json_int_t)c->missing,
                     "infinite", (json_int_t)c->infinite, "untracked", (json_int_t)c->untracked,
                     "moments",
                     stats_moments_to_json(&c->mom), "kll", stats_kll_to_json(c->kll), "hll",
                     stats_hll_to_json(c->hll), "topk", stats_topk_to_json(c->topk), "length",
                     "min", (json_int_t)(c->len_min == UINT64_MAX ? 0 : c->len_min), "max",
                     (json_int_t)c->len_max, "sum", (json_int_t)c->len_sum);
}

int stats_column_from_json(const json_t *j, stats_column_t **out, mops_err_t *err)
{
    int rc = stats_json_type(j, "column", err);
    if (rc != 0)
        return rc;
    stats_column_t *c = mops_xcalloc(1, sizeof *c);
    json_t *len = json_object_get(j, "length");
    if ((rc = stats_json_u64(j, "count", "column", &c->count, err)) != 0 ||
        (rc = stats_json_u64(j, "missing", "column", &c->missing, err)) != 0 ||
        (rc = stats_json_u64(j, "infinite", "column", &c->infinite, err)) != 0 ||
        (rc = stats_json_u64(j, "untracked", "column", &c->untracked, err)) != 0 ||
        (rc = stats_moments_from_json(json_object_get(j, "moments"), &c->mom, err)) != 0 ||
        (rc = stats_kll_from_json(json_object_get(j, "kll"), &c->kll, err)) != 0 ||
        (rc = stats_hll_from_json(json_object_get(j, "hll"), &c->hll, err)) != 0 ||
        (rc = stats_topk_from_json(json_object_get(j, "topk"), &c->topk, err)) != 0 ||
        (rc = stats_json_u64(len, "min", "column length", &c->len_min, err)) != 0 ||
        (rc = stats_json_u64(len, "max", "column length", &c->len_max, err)) != 0 ||
        (rc = stats_json_u64(len, "sum", "column length", &c->len_sum, err)) != 0) {
        stats_column_free(c);
        return rc;
    }
    if (c->missing > c->count || c->mom.n > c->count) {
        stats_column_free(c);
        return mops_err_set(err, MOPS_EINVAL, "column: inconsistent counts");
    }
    if (c->count == c->missing)
        c->len_min = UINT64_MAX;
    *out = c;
    return 0;
}
