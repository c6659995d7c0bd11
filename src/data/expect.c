/*
 * expect.c — running a suite's expectations over a version's file in one
 * streaming pass, with Great Expectations' semantics:
 *
 *   - column map expectations (the per-value ones) skip missing values,
 *     except expect_column_values_to_not_be_null, whose unexpected values
 *     are the missing ones; they succeed when the share of expected values
 *     among those considered is at least `mostly` (1 by default), and
 *     vacuously when none is considered;
 *   - results carry element_count, missing_count, missing_percent,
 *     unexpected_count, unexpected_percent (of the non-missing values),
 *     unexpected_percent_total, unexpected_percent_nonmissing, and the first
 *     20 unexpected values (partial_unexpected_list) with their 0-based row
 *     indexes and, beyond GE, their line numbers in the file;
 *   - a column that is not in the file makes its expectations fail with an
 *     exception, as GE's metric resolution does;
 *   - regexes are PCRE2 in UTF mode with Unicode properties (\d, \w as
 *     Python 3's re on str), matched anywhere in the value (re.search);
 *   - in_set compares text exactly, numbers by value (1 matches "1.0") and
 *     booleans by value; between compares numbers, or timestamps when the
 *     bounds are timestamps, and a value that is neither is unexpected;
 *   - of_type checks each value: integer, float (integers included),
 *     boolean, timestamp by parsing; string holds every value of a string
 *     column and, in another column, the values that parse as nothing else.
 *
 * Uniqueness needs to remember every value: each non-missing value's
 * 128-bit hash, row, line and first bytes go to hash partitions (in memory,
 * or in unnamed temporary files when the file is large), each partition
 * sorted afterwards on its own, so memory stays near 64 MiB whatever the
 * number of rows.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/mem.h"
#include "core/text.h"
#include "data/data_int.h"

#define PARTIAL_MAX 20                     /* GE's partial_unexpected_count */
#define UNIQ_PARTS_MAX 256
#define REGEX_MATCH_LIMIT 1000000          /* backtracking steps per value */

/* ------------------------------------------------------------ uniqueness */

size_t dt_uniq_part_bytes = (size_t)64 << 20;

typedef struct uniq_rec {
    uint64_t h1, h2;
    int64_t row, line;
    uint16_t len;
    uint8_t cut;
    char text[37];
} uniq_rec_t;

typedef struct uniq {
    size_t nparts;
    FILE **files;      /* nparts > 1 */
    uniq_rec_t *mem;   /* nparts == 1 */
    size_t n, cap;
} uniq_t;

static void uniq_keep(uniq_rec_t *r, const char *s, size_t n)
{
    size_t k = mops_utf8_prefix(s, n, sizeof r->text);
    memcpy(r->text, s, k);
    r->len = (uint16_t)k;
    r->cut = k < n;
}

static int uniq_add(uniq_t *u, const char *s, size_t n, int64_t row, int64_t line,
                    mops_err_t *err)
{
    XXH128_hash_t h = XXH3_128bits(s, n);
    uniq_rec_t r = {.h1 = h.high64, .h2 = h.low64, .row = row, .line = line};
    uniq_keep(&r, s, n);
    if (u->nparts == 1) {
        if (u->n == u->cap) {
            u->cap = u->cap ? u->cap * 2 : 1024;
            u->mem = mops_xrealloc(u->mem, u->cap * sizeof *u->mem);
        }
        u->mem[u->n++] = r;
        return 0;
    }
    FILE *f = u->files[r.h1 % u->nparts];
    if (fwrite(&r, sizeof r, 1, f) != 1)
        return mops_err_set(err, MOPS_EIO, "cannot write a temporary file for uniqueness");
    u->n++;
    return 0;
}

static int uniq_cmp(const void *a, const void *b)
{
    const uniq_rec_t *x = a, *y = b;
    if (x->h1 != y->h1)
        return x->h1 < y->h1 ? -1 : 1;
    if (x->h2 != y->h2)
        return x->h2 < y->h2 ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* ------------------------------------------------------------ state */

typedef struct partial {
    int64_t row, line;
    json_t *value; /* a string, or null for a missing value */
} partial_t;

typedef struct xeval {
    const dt_xdef_t *def;
    const json_t *config;
    const json_t *kw;
    long col;        /* column index; -1: table-level or absent */
    int absent;      /* the named column is not in the file */
    double mostly;
    uint64_t element, missing, unexpected;
    partial_t partial[PARTIAL_MAX];
    int npartial;
    char *exception;
    /* between, mean */
    int have_min, have_max, strict_min, strict_max, ts_bounds;
    double min, max;
    /* in_set */
    json_t *set_text;    /* object used as a set of strings */
    double *set_num;
    size_t set_nnum;
    int set_bool[2];
    /* regex */
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    /* of_type */
    stats_kind_t want, col_kind;
    /* mean */
    stats_moments_t mom;
    uint64_t non_numeric;
    int64_t first_bad_line;
    /* unique */
    uniq_t uq;
} xeval_t;

static void add_partial(xeval_t *x, int64_t row, int64_t line, const char *s, size_t n)
{
    if (x->npartial == PARTIAL_MAX)
        return;
    partial_t *p = &x->partial[x->npartial++];
    p->row = row;
    p->line = line;
    p->value = s ? json_stringn(s, n) : json_null();
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int xeval_init(const mops_ctx_t *ctx, xeval_t *x, const json_t *config,
                      const json_t *header, const stats_kind_t *kinds, int64_t rows,
                      mops_err_t *err)
{
    x->config = config;
    x->def = dt_xdef_find(mops_json_str(config, "expectation_type", ""));
    x->kw = json_object_get(config, "kwargs");
    x->col = -1;
    x->mostly = json_is_number(json_object_get(x->kw, "mostly"))
                    ? json_number_value(json_object_get(x->kw, "mostly"))
                    : 1.0;
    stats_moments_init(&x->mom);
    const char *col = mops_json_str(x->kw, "column", NULL);
    if (col) {
        size_t i;
        json_t *h;
        json_array_foreach(header, i, h) {
            if (!strcmp(json_string_value(h), col))
                x->col = (long)i;
        }
        x->absent = x->col < 0;
        if (x->absent && x->def->kind != X_COLUMN_EXISTS)
            x->exception = mops_xasprintf("column \"%s\" is not in the dataset version",
                                          mops_text_show(col));
        if (x->col >= 0)
            x->col_kind = kinds[x->col];
    }
    double v;
    int k;
    if ((k = dt_bound(json_object_get(x->kw, "min_value"), &v)) != 0) {
        x->have_min = 1;
        x->min = v;
        x->ts_bounds = k == 2;
    }
    if ((k = dt_bound(json_object_get(x->kw, "max_value"), &v)) != 0) {
        x->have_max = 1;
        x->max = v;
        x->ts_bounds = k == 2;
    }
    x->strict_min = json_is_true(json_object_get(x->kw, "strict_min"));
    x->strict_max = json_is_true(json_object_get(x->kw, "strict_max"));
    switch (x->def->kind) {
    case X_IN_SET: {
        x->set_text = json_object();
        json_t *set = json_object_get(x->kw, "value_set");
        x->set_num = mops_xmalloc((json_array_size(set) + 1) * sizeof *x->set_num);
        size_t i;
        json_t *m;
        json_array_foreach(set, i, m) {
            if (json_is_string(m))
                json_object_set_new(x->set_text, json_string_value(m), json_true());
            else if (json_is_boolean(m))
                x->set_bool[json_is_true(m)] = 1;
            else
                x->set_num[x->set_nnum++] = json_number_value(m);
        }
        qsort(x->set_num, x->set_nnum, sizeof *x->set_num, cmp_double);
        break;
    }
    case X_REGEX: {
        int code;
        PCRE2_SIZE off;
        x->re = pcre2_compile((PCRE2_SPTR)mops_json_str(x->kw, "regex", ""), PCRE2_ZERO_TERMINATED,
                              PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
        if (!x->re)
            return mops_err_set(err, MOPS_EINVAL, "a stored regex does not compile");
        pcre2_jit_compile(x->re, PCRE2_JIT_COMPLETE); /* faster when it can; fine without */
        x->md = pcre2_match_data_create_from_pattern(x->re, NULL);
        x->mctx = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(x->mctx, REGEX_MATCH_LIMIT);
        break;
    }
    case X_OF_TYPE:
        dt_type_name(mops_json_str(x->kw, "type_", ""), &x->want);
        break;
    case X_UNIQUE:
        if (x->col >= 0) {
            size_t bytes = (size_t)(rows > 0 ? rows : 1) * sizeof(uniq_rec_t);
            size_t parts = 1;
            while (parts < UNIQ_PARTS_MAX && bytes / parts > dt_uniq_part_bytes)
                parts *= 2;
            x->uq.nparts = parts;
            if (parts > 1) {
                x->uq.files = mops_xcalloc(parts, sizeof *x->uq.files);
                for (size_t i = 0; i < parts; i++)
                    if (!(x->uq.files[i] = dt_tmpfile(ctx, err)))
                        return err ? err->code : MOPS_EIO;
            }
        }
        break;
    default:
        break;
    }
    return 0;
}

static void xeval_release(xeval_t *x)
{
    for (int i = 0; i < x->npartial; i++)
        json_decref(x->partial[i].value);
    free(x->exception);
    json_decref(x->set_text);
    free(x->set_num);
    pcre2_match_data_free(x->md);
    pcre2_match_context_free(x->mctx);
    pcre2_code_free(x->re);
    if (x->uq.files)
        for (size_t i = 0; i < x->uq.nparts; i++)
            if (x->uq.files[i])
                fclose(x->uq.files[i]);
    free(x->uq.files);
    free(x->uq.mem);
}

/* ------------------------------------------------------------ per value */

static int in_set(const xeval_t *x, const char *s, size_t n)
{
    char stack[256];
    int b;
    double v;
    if (n < sizeof stack) { /* the object's keys are NUL-terminated */
        memcpy(stack, s, n);
        stack[n] = '\0';
        if (strlen(stack) == n && json_object_get(x->set_text, stack))
            return 1;
    } else {
        char *copy = mops_xstrndup(s, n);
        int found = json_object_get(x->set_text, copy) != NULL;
        free(copy);
        if (found)
            return 1;
    }
    if (x->set_nnum && mops_csv_number(s, n, &v) == 0 &&
        bsearch(&v, x->set_num, x->set_nnum, sizeof v, cmp_double))
        return 1;
    return dt_parse_bool(s, n, &b) && x->set_bool[b];
}

static int between(const xeval_t *x, const char *s, size_t n)
{
    double v;
    int64_t ms;
    if (x->ts_bounds) {
        if (!dt_parse_timestamp(s, n, &ms))
            return 0;
        v = (double)ms;
    } else if (mops_csv_number(s, n, &v) != 0) {
        return 0;
    }
    if (x->have_min && (x->strict_min ? !(v > x->min) : !(v >= x->min)))
        return 0;
    if (x->have_max && (x->strict_max ? !(v < x->max) : !(v <= x->max)))
        return 0;
    return 1;
}

static int of_type(const xeval_t *x, const char *s, size_t n)
{
    if (x->want != STATS_KIND_STRING)
        return dt_value_fits(s, n, x->want);
    if (x->col_kind == STATS_KIND_STRING)
        return 1;
    return !dt_value_fits(s, n, STATS_KIND_FLOAT) && !dt_value_fits(s, n, STATS_KIND_BOOLEAN) &&
           !dt_value_fits(s, n, STATS_KIND_TIMESTAMP);
}

/* One expectation, one row. Returns 0 or an error that stops the run. */
static int xeval_row(xeval_t *x, const mops_csv_record_t *rec, int64_t row, mops_err_t *err)
{
    if (x->col < 0 || x->exception)
        return 0;
    const char *s = rec->fields[x->col];
    size_t n = rec->lens[x->col];
    int64_t line = (int64_t)rec->line;
    int missing = mops_csv_missing(s, n);
    int ok = 1;
    switch (x->def->kind) {
    case X_NOT_NULL:
        x->element++;
        if (missing) {
            x->unexpected++;
            add_partial(x, row, line, NULL, 0);
        }
        return 0;
    case X_MEAN: {
        double v;
        x->element++;
        if (missing) {
            x->missing++;
        } else if (mops_csv_number(s, n, &v) == 0 && isfinite(v)) {
            stats_moments_add(&x->mom, v);
        } else {
            if (!x->non_numeric++)
                x->first_bad_line = line;
        }
        return 0;
    }
    case X_COLUMN_EXISTS:
    case X_ROW_COUNT:
        return 0;
    default:
        break;
    }
    x->element++;
    if (missing) {
        x->missing++;
        return 0;
    }
    switch (x->def->kind) {
    case X_BETWEEN: ok = between(x, s, n); break;
    case X_IN_SET: ok = in_set(x, s, n); break;
    case X_OF_TYPE: ok = of_type(x, s, n); break;
    case X_REGEX: {
        int m = pcre2_match(x->re, (PCRE2_SPTR)s, n, 0, 0, x->md, x->mctx);
        if (m == PCRE2_ERROR_NOMATCH) {
            ok = 0;
        } else if (m < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(m, msg, sizeof msg);
            x->exception = mops_xasprintf("the regex failed on line %lld: %s", (long long)line,
                                          (const char *)msg);
            return 0;
        }
        break;
    }
    case X_UNIQUE: return uniq_add(&x->uq, s, n, row, line, err);
    default: break;
    }
    if (!ok) {
        x->unexpected++;
        add_partial(x, row, line, s, n);
    }
    return 0;
}

/* ------------------------------------------------------------ uniqueness results */

/* Sort each partition and count the values that occur more than once;
 * the earliest rows become the partial list. */
static int uniq_finish(xeval_t *x, mops_err_t *err)
{
    uniq_t *u = &x->uq;
    uniq_rec_t first[PARTIAL_MAX];
    int nfirst = 0;
    for (size_t p = 0; p < u->nparts; p++) {
        uniq_rec_t *recs = u->mem;
        size_t n = u->n;
        if (u->nparts > 1) {
            FILE *f = u->files[p];
            long bytes = ftell(f);
            if (bytes < 0 || fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
                return mops_err_set(err, MOPS_EIO, "cannot read back a temporary file");
            n = (size_t)bytes / sizeof *recs;
            recs = mops_xmalloc((n + 1) * sizeof *recs);
            if (n && fread(recs, sizeof *recs, n, f) != n) {
                free(recs);
                return mops_err_set(err, MOPS_EIO, "cannot read back a temporary file");
            }
        }
        qsort(recs, n, sizeof *recs, uniq_cmp);
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && recs[j].h1 == recs[i].h1 && recs[j].h2 == recs[i].h2)
                j++;
            if (j - i > 1) {
                x->unexpected += j - i;
                for (size_t k = i; k < j; k++) {
                    /* keep the PARTIAL_MAX earliest rows */
                    int pos = nfirst;
                    while (pos > 0 && first[pos - 1].row > recs[k].row)
                        pos--;
                    if (pos >= PARTIAL_MAX)
                        continue;
                    if (nfirst < PARTIAL_MAX)
                        nfirst++;
                    memmove(&first[pos + 1], &first[pos],
                            (size_t)(nfirst - 1 - pos) * sizeof *first);
                    first[pos] = recs[k];
                }
            }
            i = j;
        }
        if (u->nparts > 1)
            free(recs);
    }
    for (int i = 0; i < nfirst; i++) {
        char buf[sizeof first[i].text + 4];
        memcpy(buf, first[i].text, first[i].len);
        size_t len = first[i].len;
        if (first[i].cut) {
            memcpy(buf + len, "\xE2\x80\xA6", 3); /* … */
            len += 3;
        }
        add_partial(x, first[i].row, first[i].line, buf, len);
    }
    return 0;
}

/* ------------------------------------------------------------ results */

static json_t *percent(uint64_t part, uint64_t whole)
{
    return whole ? json_real(100.0 * (double)part / (double)whole) : json_null();
}

static int bounds_ok(const xeval_t *x, double v)
{
    if (x->have_min && (x->strict_min ? !(v > x->min) : !(v >= x->min)))
        return 0;
    if (x->have_max && (x->strict_max ? !(v < x->max) : !(v <= x->max)))
        return 0;
    return 1;
}

static json_t *xeval_result(xeval_t *x, const json_t *header, int64_t rows)
{
    json_t *result = json_object();
    int success = 1;
    switch (x->def->kind) {
    case X_COLUMN_EXISTS: {
        json_t *idx = json_object_get(x->kw, "column_index");
        success = !x->absent && (!idx || json_integer_value(idx) == x->col);
        if (!x->absent && idx)
            json_object_set_new(result, "observed_value", json_integer(x->col));
        break;
    }
    case X_ROW_COUNT:
        success = bounds_ok(x, (double)rows);
        json_object_set_new(result, "observed_value", json_integer(rows));
        break;
    case X_MEAN: {
        double mean = x->mom.n ? x->mom.mean : NAN;
        if (x->non_numeric && !x->exception)
            x->exception = mops_xasprintf("column \"%s\" holds %llu value%s that %s not numbers "
                                          "(first on line %lld): it has no mean",
                                          mops_text_show(mops_json_str(x->kw, "column", "")),
                                          (unsigned long long)x->non_numeric,
                                          x->non_numeric == 1 ? "" : "s",
                                          x->non_numeric == 1 ? "is" : "are",
                                          (long long)x->first_bad_line);
        success = x->mom.n > 0 && bounds_ok(x, mean);
        json_object_set_new(result, "observed_value", x->mom.n ? json_real(mean) : json_null());
        json_object_set_new(result, "element_count", json_integer((json_int_t)x->element));
        json_object_set_new(result, "missing_count", json_integer((json_int_t)x->missing));
        break;
    }
    default: {
        int not_null = x->def->kind == X_NOT_NULL;
        uint64_t considered = not_null ? x->element : x->element - x->missing;
        if (considered)
            success = (double)(considered - x->unexpected) / (double)considered >= x->mostly;
        json_t *values = json_array(), *rows_ix = json_array(), *lines = json_array();
        for (int i = 0; i < x->npartial; i++) {
            json_array_append(values, x->partial[i].value);
            json_array_append_new(rows_ix, json_integer(x->partial[i].row));
            json_array_append_new(lines, json_integer(x->partial[i].line));
        }
        json_object_set_new(result, "element_count", json_integer((json_int_t)x->element));
        json_object_set_new(result, "unexpected_count", json_integer((json_int_t)x->unexpected));
        json_object_set_new(result, "unexpected_percent", percent(x->unexpected, considered));
        json_object_set_new(result, "partial_unexpected_list", values);
        json_object_set_new(result, "partial_unexpected_index_list", rows_ix);
        json_object_set_new(result, "partial_unexpected_lines", lines);
        if (!not_null) {
            json_object_set_new(result, "missing_count", json_integer((json_int_t)x->missing));
            json_object_set_new(result, "missing_percent", percent(x->missing, x->element));
            json_object_set_new(result, "unexpected_percent_total",
                                percent(x->unexpected, x->element));
            json_object_set_new(result, "unexpected_percent_nonmissing",
                                percent(x->unexpected, considered));
        }
    }
    }
    (void)header;
    if (x->exception) {
        success = 0;
        json_object_clear(result);
    }
    return json_pack("{s:O, s:b, s:o, s:{s:b, s:o}}", "expectation_config", x->config, "success",
                     success, "result", result, "exception_info", "raised_exception",
                     x->exception != NULL, "exception_message",
                     x->exception ? json_string(x->exception) : json_null());
}

/* ------------------------------------------------------------ the pass */

int dt_validate_stream(const mops_ctx_t *ctx, FILE *f, const char *name, const json_t *schema,
                       int64_t rows, const json_t *expectations, json_t **result,
                       mops_err_t *err)
{
    size_t nx = json_array_size(expectations);
    xeval_t *xs = mops_xcalloc(nx + 1, sizeof *xs);
    mops_csv_t *csv = mops_csv_open(f, name);
    mops_csv_record_t rec;
    json_t *header = json_array();
    size_t ncols = json_array_size(json_object_get(schema, "columns"));
    stats_kind_t *kinds = mops_xcalloc(ncols + 1, sizeof *kinds);
    int rc = dt_schema_kinds(schema, kinds, ncols, err);
    if (rc == 0 && (rc = mops_csv_next(csv, &rec, err)) == 1) {
        for (size_t i = 0; i < rec.n; i++)
            json_array_append_new(header, json_stringn(rec.fields[i], rec.lens[i]));
        rc = rec.n == ncols ? 0 : mops_err_set(err, MOPS_ECORRUPT,
                                                "the stored file does not match its schema");
    } else if (rc == 0) {
        rc = mops_err_set(err, MOPS_ECORRUPT, "the stored file has no header");
    }
    for (size_t i = 0; i < nx && rc == 0; i++)
        rc = xeval_init(ctx, &xs[i], json_array_get(expectations, i), header, kinds, rows, err);
    int64_t row = 0;
    while (rc == 0 && (rc = mops_csv_next(csv, &rec, err)) == 1) {
        rc = 0;
        if (rec.n != ncols) {
            rc = mops_err_set(err, MOPS_ECORRUPT, "the stored file does not match its schema");
            break;
        }
        for (size_t i = 0; i < nx && rc == 0; i++)
            rc = xeval_row(&xs[i], &rec, row, err);
        row++;
    }
    if (rc > 0)
        rc = 0;
    for (size_t i = 0; i < nx && rc == 0; i++)
        if (xs[i].def->kind == X_UNIQUE && xs[i].col >= 0 && !xs[i].exception)
            rc = uniq_finish(&xs[i], err);
    if (rc == 0) {
        json_t *results = json_array();
        size_t ok = 0;
        for (size_t i = 0; i < nx; i++) {
            json_t *r = xeval_result(&xs[i], header, row);
            ok += json_is_true(json_object_get(r, "success"));
            json_array_append_new(results, r);
        }
        *result = json_pack("{s:b, s:{s:I, s:I, s:I, s:o}, s:o}", "success", ok == nx,
                            "statistics", "evaluated_expectations", (json_int_t)nx,
                            "successful_expectations", (json_int_t)ok,
                            "unsuccessful_expectations", (json_int_t)(nx - ok), "success_percent",
                            nx ? json_real(100.0 * (double)ok / (double)nx) : json_null(),
                            "results", results);
    }
    for (size_t i = 0; i < nx; i++)
        xeval_release(&xs[i]);
    free(xs);
    free(kinds);
    json_decref(header);
    mops_csv_close(csv);
    return rc;
}
