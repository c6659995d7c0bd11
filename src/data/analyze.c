/*
 * analyze.c — the single pass over a dataset file's records, in constant
 * memory (about 20 KiB per column, whatever the number of rows):
 *
 *   - the header: 1..DATA_COLUMNS_MAX names, each non-empty, UTF-8, at most
 *     DATA_COLUMN_NAME_MAX bytes, no two alike;
 *   - every row: as many fields as the header, valid UTF-8 without NUL;
 *   - type evidence: for each column the types every present value still
 *     fits (integer, float, boolean, timestamp), and the first value (line
 *     and text) that did not fit each, so a declared schema can be checked
 *     later without reading the file again;
 *   - the profile sketches (stats_column) fed with each value's numeric
 *     view under the types still possible;
 *   - the PII scan: the first 10,000 rows, then one row in 64.
 *
 * The inferred type of a column is the first it still fits, in the order
 * integer, float, boolean, timestamp, string; a column without any present
 * value is a string. It is nullable when a value is missing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/mem.h"
#include "core/text.h"
#include "data/data_int.h"
#include "stats/stats.h"
#include "store/blob.h"

#define SCAN_ALL_ROWS 10000 /* PII scan: every row up to here */
#define SCAN_EVERY 64       /* then one row in this many */
#define PII_SHARE 0.5       /* share of scanned values that makes a suggestion */

static const int type_bits[4] = {DT_INTEGER, DT_FLOAT, DT_BOOLEAN, DT_TIMESTAMP};
static const stats_kind_t type_kinds[4] = {STATS_KIND_INTEGER, STATS_KIND_FLOAT,
                                           STATS_KIND_BOOLEAN, STATS_KIND_TIMESTAMP};

typedef struct misfit {
    int64_t line; /* 0: every value fits */
    size_t len;
    char value[DATA_VALUE_SHOWN + 1];
} misfit_t;

typedef struct col {
    char *name;
    unsigned possible; /* DT_* types every present value fits so far */
    uint64_t missing, present;
    int64_t first_missing_line;
    misfit_t misfit[4];
    stats_column_t *prof;
    uint64_t scanned, matched[PII_KINDS];
} col_t;

struct dt_analyzer {
    char *name;
    size_t ncols;
    col_t *cols;
    uint64_t rows;
    int have_header;
};

dt_analyzer_t *dt_analyzer_new(const char *name)
{
    dt_analyzer_t *a = mops_xcalloc(1, sizeof *a);
    a->name = mops_xstrdup(name);
    return a;
}

void dt_analyzer_free(dt_analyzer_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->ncols; i++) {
        free(a->cols[i].name);
        stats_column_free(a->cols[i].prof);
    }
    free(a->cols);
    free(a->name);
    free(a);
}

/* Up to DATA_VALUE_SHOWN bytes of a value, cut on a character boundary. */
static void keep_value(misfit_t *m, const char *s, size_t n)
{
    size_t k = mops_utf8_prefix(s, n, DATA_VALUE_SHOWN);
    memcpy(m->value, s, k);
    m->value[k] = '\0';
    m->len = k;
}

static uint64_t name_hash(const char *s, size_t n)
{
    return stats_hash(s, n);
}

static int header(dt_analyzer_t *a, const mops_csv_record_t *rec, mops_err_t *err)
{
    if (rec->n > DATA_COLUMNS_MAX)
        return mops_err_set(err, MOPS_EINVAL, "%s, line %zu: %zu columns, more than the %d a "
                            "dataset may have", a->name, rec->line, rec->n, DATA_COLUMNS_MAX);
    /* Duplicate names through a small open-addressed table of indexes. */
    size_t size = 16;
    while (size < rec->n * 2)
        size *= 2;
    int64_t *seen = mops_xmalloc(size * sizeof *seen);
    memset(seen, 0xff, size * sizeof *seen);
    int rc = 0;
    for (size_t i = 0; i < rec->n && rc == 0; i++) {
        const char *s = rec->fields[i];
        size_t n = rec->lens[i];
        const char *problem = dt_text_problem(s, n);
        if (problem)
            rc = mops_err_set(err, MOPS_EINVAL, "%s, line %zu: the name of column %zu %s",
                              a->name, rec->line, i + 1, problem);
        else if (n == 0)
            rc = mops_err_set(err, MOPS_EINVAL,
                              "%s, line %zu: column %zu has no name (the first row must name "
                              "every column)",
                              a->name, rec->line, i + 1);
        else if (n > DATA_COLUMN_NAME_MAX)
            rc = mops_err_set(err, MOPS_EINVAL,
                              "%s, line %zu: the name of column %zu is longer than %d bytes",
                              a->name, rec->line, i + 1, DATA_COLUMN_NAME_MAX);
        else if (mops_text_check("column name", s, DATA_COLUMN_NAME_MAX, NULL) != 0 ||
                 memchr(s, '\n', n) || memchr(s, '\t', n))
            rc = mops_err_set(err, MOPS_EINVAL,
                              "%s, line %zu: the name of column %zu holds control characters",
                              a->name, rec->line, i + 1);
        if (rc != 0)
            break;
        size_t pos = name_hash(s, n) & (size - 1);
        while (seen[pos] >= 0) {
            size_t j = (size_t)seen[pos];
            if (rec->lens[j] == n && !memcmp(rec->fields[j], s, n)) {
                rc = mops_err_set(err, MOPS_EINVAL,
                                  "%s, line %zu: columns %zu and %zu have the same name \"%s\" "
                                  "(column names must be unique)",
                                  a->name, rec->line, j + 1, i + 1, mops_text_show(s));
                break;
            }
            pos = (pos + 1) & (size - 1);
        }
        seen[pos] = (int64_t)i;
    }
    free(seen);
    if (rc != 0)
        return rc;
    a->ncols = rec->n;
    a->cols = mops_xcalloc(rec->n, sizeof *a->cols);
    for (size_t i = 0; i < rec->n; i++) {
        a->cols[i].name = mops_xstrndup(rec->fields[i], rec->lens[i]);
        a->cols[i].possible = DT_ALL;
        a->cols[i].prof = stats_column_new();
    }
    a->have_header = 1;
    return 0;
}

/* The types a present value fits, among those still possible, its
 * numeric view under them and the kind it was read as. */
static unsigned classify(const char *s, size_t n, unsigned possible, double *num,
                         stats_kind_t *kind)
{
    if (possible & (DT_INTEGER | DT_FLOAT)) {
        int64_t iv;
        double x;
        if ((possible & DT_INTEGER) && dt_parse_int(s, n, &iv)) {
            *num = (double)iv;
            *kind = STATS_KIND_INTEGER;
            return DT_INTEGER | DT_FLOAT;
        }
        if (mops_csv_number(s, n, &x) == 0) {
            *num = x;
            *kind = STATS_KIND_FLOAT;
            return DT_FLOAT;
        }
    }
    if (possible & DT_BOOLEAN) {
        int b;
        if (dt_parse_bool(s, n, &b)) {
            *num = b;
            *kind = STATS_KIND_BOOLEAN;
            return DT_BOOLEAN;
        }
    }
    if (possible & DT_TIMESTAMP) {
        int64_t ms;
        if (n >= 10 && dt_parse_timestamp(s, n, &ms)) {
            *num = (double)ms;
            *kind = STATS_KIND_TIMESTAMP;
            return DT_TIMESTAMP;
        }
    }
    *kind = STATS_KIND_STRING;
    return 0;
}

int dt_analyzer_record(dt_analyzer_t *a, const mops_csv_record_t *rec, mops_err_t *err)
{
    if (!a->have_header)
        return header(a, rec, err);
    if (rec->n != a->ncols)
        return mops_err_set(err, MOPS_EINVAL,
                            "%s, line %zu: %zu field%s where the header has %zu (a ragged row)",
                            a->name, rec->line, rec->n, rec->n == 1 ? "" : "s", a->ncols);
    a->rows++;
    int scan = a->rows <= SCAN_ALL_ROWS || a->rows % SCAN_EVERY == 0;
    for (size_t i = 0; i < a->ncols; i++) {
        const char *s = rec->fields[i];
        size_t n = rec->lens[i];
        col_t *c = &a->cols[i];
        const char *problem = dt_text_problem(s, n);
        if (problem)
            return mops_err_set(err, MOPS_EINVAL, "%s, line %zu: the value of column \"%s\" %s",
                                a->name, rec->line, mops_text_show(c->name), problem);
        if (mops_csv_missing(s, n)) {
            c->missing++;
            if (!c->first_missing_line)
                c->first_missing_line = (int64_t)rec->line;
            stats_column_add_missing(c->prof);
            continue;
        }
        c->present++;
        double num = NAN;
        stats_kind_t kind = STATS_KIND_STRING;
        unsigned poss = c->possible;
        if (poss) {
            unsigned lost = poss & ~classify(s, n, poss, &num, &kind);
            if (lost) {
                for (int t = 0; t < 4; t++)
                    if (lost & (unsigned)type_bits[t]) {
                        c->misfit[t].line = (int64_t)rec->line;
                        keep_value(&c->misfit[t], s, n);
                    }
                c->possible = poss & ~lost;
                if (!c->possible)
                    kind = STATS_KIND_STRING;
            }
        }
        stats_column_add_hashed(c->prof, kind, s, n, num, stats_hash(s, n));
        if (scan) {
            c->scanned++;
            unsigned m = dt_pii_detect(s, n);
            for (int k = 0; m && k < PII_KINDS; k++)
                if (m & (1u << k))
                    c->matched[k]++;
        }
    }
    return 0;
}

static stats_kind_t inferred(const col_t *c)
{
    if (!c->present)
        return STATS_KIND_STRING;
    for (int t = 0; t < 4; t++)
        if (c->possible & (unsigned)type_bits[t])
            return type_kinds[t];
    return STATS_KIND_STRING;
}

static json_t *pii_suggestions(const dt_analyzer_t *a)
{
    json_t *out = json_array();
    for (size_t i = 0; i < a->ncols; i++) {
        const col_t *c = &a->cols[i];
        int named = 0;
        for (int k = 0; k < PII_KINDS; k++) {
            if (!c->matched[k] || (double)c->matched[k] < PII_SHARE * (double)c->scanned)
                continue;
            json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:s}", "column", c->name,
                                                 "tag", dt_pii_tag(k), "matched",
                                                 (json_int_t)c->matched[k], "scanned",
                                                 (json_int_t)c->scanned, "reason",
                                                 dt_pii_reason(k)));
            named |= !strcmp(dt_pii_tag(k), "pii:name");
        }
        const char *hint = dt_pii_name_hint(c->name);
        if (hint && !named && inferred(c) == STATS_KIND_STRING)
            json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:s}", "column", c->name,
                                                 "tag", hint, "matched", (json_int_t)0,
                                                 "scanned", (json_int_t)c->scanned, "reason",
                                                 "the column's name says it holds names"));
    }
    return out;
}

int dt_analyzer_finish(dt_analyzer_t *a, json_t **analysis, mops_err_t *err)
{
    if (!a->have_header)
        return mops_err_set(err, MOPS_EINVAL,
                            "%s is empty: a dataset file needs a header row naming its columns",
                            a->name);
    json_t *cols = json_array();
    for (size_t i = 0; i < a->ncols; i++) {
        const col_t *c = &a->cols[i];
        json_t *misfits = json_object(), *summaries = json_object();
        /* A summary for every type the column may be declared as. */
        for (int t = 0; t < 4; t++) {
            if (c->misfit[t].line)
                json_object_set_new(misfits, stats_kind_name(type_kinds[t]),
                                    json_pack("{s:I, s:s%}", "line", (json_int_t)c->misfit[t].line,
                                              "value", c->misfit[t].value, c->misfit[t].len));
            else
                json_object_set_new(summaries, stats_kind_name(type_kinds[t]),
                                    stats_column_summary(c->prof, type_kinds[t], 0));
        }
        json_object_set_new(summaries, "string",
                            stats_column_summary(c->prof, STATS_KIND_STRING, 0));
        json_array_append_new(
            cols, json_pack("{s:s, s:s, s:b, s:I, s:I, s:o, s:o, s:o}", "name", c->name, "type",
                            stats_kind_name(inferred(c)), "nullable", c->missing > 0, "missing",
                            (json_int_t)c->missing, "present", (json_int_t)c->present, "misfits",
                            misfits, "first_missing_line",
                            c->first_missing_line ? json_integer(c->first_missing_line)
                                                  : json_null(),
                            "summaries", summaries));
    }
    *analysis = json_pack("{s:I, s:o, s:o}", "rows", (json_int_t)a->rows, "columns", cols,
                          "pii", pii_suggestions(a));
    return 0;
}

/* Write text to the blob. */
static int put(store_blob_writer_t *w, const char *s, mops_err_t *err)
{
    return store_blob_write(w, s, strlen(s), err);
}

int dt_analyzer_write_sketches(const dt_analyzer_t *a, store_blob_writer_t *w, mops_err_t *err)
{
    /* One column at a time, so a wide file never holds all its sketches
     * as JSON at once. */
    char head[64];
    snprintf(head, sizeof head, "{\"rows\":%llu,\"columns\":[", (unsigned long long)a->rows);
    int rc = put(w, head, err);
    for (size_t i = 0; i < a->ncols && rc == 0; i++) {
        json_t *o = json_pack("{s:s, s:o}", "name", a->cols[i].name, "sketch",
                              stats_column_to_json(a->cols[i].prof));
        char *text = mops_json_dump(o);
        json_decref(o);
        if ((rc = put(w, i ? "," : "", err)) == 0)
            rc = put(w, text, err);
        free(text);
    }
    return rc ? rc : put(w, "]}", err);
}
