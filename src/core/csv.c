/*
 * csv.c — the streaming CSV reader over libcsv's push parser.
 *
 * libcsv calls back for each field and at each record's end. We feed it one
 * line at a time (up to and including '\n'), so we always know the line
 * number, and queue the fields of the records that complete; mops_csv_next
 * hands them out one record at a time and refills only when the queue is
 * empty, so memory stays at one input block plus one line's fields.
 */
#include "core/csv.h"

#include <csv.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

#define BLOCK (64 * 1024)

struct mops_csv {
    FILE *f;
    char *name;
    struct csv_parser p;
    char *in;          /* input block */
    size_t in_len, in_pos;
    int eof, finished;
    uint64_t bytes;
    size_t line;       /* lines fully fed so far */
    int at_start;      /* BOM check pending */
    /* queued fields: text in fbuf, offsets in foff, lengths in flen */
    char *fbuf;
    size_t fbuf_len, fbuf_cap;
    size_t *foff, *flen;
    size_t nf, cap_f;
    /* records: first field index and line; queue read position */
    size_t *rstart, *rline;
    size_t nr, cap_r, rpos;
    size_t cur_fields;  /* fields of the record being parsed */
    int too_many, too_long;
    const char **view;  /* pointers handed to the caller */
    size_t cap_view;
};

static void on_field(void *data, size_t len, void *ctx)
{
    mops_csv_t *c = ctx;
    if (c->cur_fields >= MOPS_CSV_FIELDS_MAX) {
        c->too_many = 1;
        return;
    }
    if (len > MOPS_CSV_FIELD_MAX) {
        c->too_long = 1;
        return;
    }
    if (c->fbuf_len + len + 1 > c->fbuf_cap) {
        size_t cap = c->fbuf_cap ? c->fbuf_cap : 4096;
        while (cap < c->fbuf_len + len + 1)
            cap *= 2;
        c->fbuf = mops_xrealloc(c->fbuf, cap);
        c->fbuf_cap = cap;
    }
    if (c->nf == c->cap_f) {
        c->cap_f = c->cap_f ? c->cap_f * 2 : 64;
        c->foff = mops_xrealloc(c->foff, c->cap_f * sizeof *c->foff);
        c->flen = mops_xrealloc(c->flen, c->cap_f * sizeof *c->flen);
    }
    if (len)
        memcpy(c->fbuf + c->fbuf_len, data, len);
    c->fbuf[c->fbuf_len + len] = '\0';
    c->foff[c->nf] = c->fbuf_len;
    c->flen[c->nf] = len;
    c->nf++;
    c->fbuf_len += len + 1;
    c->cur_fields++;
}

static void on_record(int term, void *ctx)
{
    (void)term;
    mops_csv_t *c = ctx;
    if (c->nr == c->cap_r) {
        c->cap_r = c->cap_r ? c->cap_r * 2 : 16;
        c->rstart = mops_xrealloc(c->rstart, (c->cap_r + 1) * sizeof *c->rstart);
        c->rline = mops_xrealloc(c->rline, c->cap_r * sizeof *c->rline);
    }
    c->rstart[c->nr] = c->nf - c->cur_fields;
    c->rline[c->nr] = c->line + 1;
    c->nr++;
    c->rstart[c->nr] = c->nf;
    c->cur_fields = 0;
}

mops_csv_t *mops_csv_open(FILE *f, const char *name)
{
    mops_csv_t *c = mops_xcalloc(1, sizeof *c);
    c->f = f;
    c->name = mops_xstrdup(name ? name : "input");
    c->in = mops_xmalloc(BLOCK);
    c->at_start = 1;
    if (csv_init(&c->p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fprintf(stderr, "mops: out of memory starting the CSV parser\n");
        abort();
    }
    return c;
}

void mops_csv_close(mops_csv_t *c)
{
    if (!c)
        return;
    csv_free(&c->p);
    free(c->name);
    free(c->in);
    free(c->fbuf);
    free(c->foff);
    free(c->flen);
    free(c->rstart);
    free(c->rline);
    free(c->view);
    free(c);
}

uint64_t mops_csv_bytes(const mops_csv_t *c)
{
    return c->bytes;
}

static int parse_error(mops_csv_t *c, size_t line, mops_err_t *err)
{
    int e = csv_error(&c->p);
    if (e == CSV_EPARSE)
        return mops_err_set(err, MOPS_EINVAL,
                            "%s, line %zu: malformed quoting (a quote inside an unquoted field, "
                            "or text after a closing quote)",
                            c->name, line);
    return mops_err_set(err, MOPS_EINVAL, "%s, line %zu: %s", c->name, line, csv_strerror(e));
}

/* Feed the next line (or the rest of the block) to libcsv. */
static int feed(mops_csv_t *c, mops_err_t *err)
{
    if (c->in_pos == c->in_len) {
        if (c->eof) {
            if (!c->finished) {
                c->finished = 1;
                if (csv_fini(&c->p, on_field, on_record, c) != 0)
                    return mops_err_set(err, MOPS_EINVAL,
                                        "%s, line %zu: a quoted field is not closed before the end of the input",
                                        c->name, c->line + 1);
                if (c->too_many)
                    goto too_many;
            }
            return 0;
        }
        size_t r = fread(c->in, 1, BLOCK, c->f);
        if (r == 0) {
            if (ferror(c->f))
                return mops_err_set(err, MOPS_EIO, "cannot read %s: %s", c->name, strerror(errno));
            c->eof = 1;
            return 1;
        }
        c->in_len = r;
        c->in_pos = 0;
        if (c->at_start) {
            c->at_start = 0;
            if (r >= 3 && memcmp(c->in, "\xEF\xBB\xBF", 3) == 0)
                c->in_pos = 3;
        }
    }
    const char *s = c->in + c->in_pos;
    size_t avail = c->in_len - c->in_pos;
    const char *nl = memchr(s, '\n', avail);
    size_t n = nl ? (size_t)(nl - s) + 1 : avail;
    size_t done = csv_parse(&c->p, s, n, on_field, on_record, c);
    c->in_pos += n;
    c->bytes += n;
    if (done != n)
        return parse_error(c, c->line + 1, err);
    if (c->too_many)
        goto too_many;
    if (c->p.entry_pos > MOPS_CSV_FIELD_MAX || c->too_long)
        return mops_err_set(err, MOPS_ETOOBIG, "%s, line %zu: a field is longer than %zu bytes",
                            c->name, c->line + 1, MOPS_CSV_FIELD_MAX);
    if (c->fbuf_len > MOPS_CSV_FIELD_MAX * 4 && c->nr == 0)
        return mops_err_set(err, MOPS_ETOOBIG, "%s, line %zu: a record is longer than %zu bytes",
                            c->name, c->line + 1, MOPS_CSV_FIELD_MAX * 4);
    if (nl)
        c->line++;
    return 1;
too_many:
    return mops_err_set(err, MOPS_ETOOBIG, "%s, line %zu: a record has more than %zu fields",
                        c->name, c->line + 1, MOPS_CSV_FIELDS_MAX);
}

int mops_csv_next(mops_csv_t *c, mops_csv_record_t *rec, mops_err_t *err)
{
    if (c->rpos == c->nr) {
        /* Queue empty: keep only the fields of the record in progress. */
        size_t keep_f = c->cur_fields;
        size_t first = c->nf - keep_f;
        size_t from = keep_f ? c->foff[first] : c->fbuf_len;
        if (keep_f) {
            memmove(c->fbuf, c->fbuf + from, c->fbuf_len - from);
            for (size_t i = 0; i < keep_f; i++) {
                c->foff[i] = c->foff[first + i] - from;
                c->flen[i] = c->flen[first + i];
            }
        }
        c->fbuf_len -= from;
        c->nf = keep_f;
        c->nr = c->rpos = 0;
        while (c->nr == 0) {
            int rc = feed(c, err);
            if (rc < 0)
                return rc;
            if (rc == 0 && c->nr == 0)
                return 0;
        }
    }
    size_t r = c->rpos++;
    size_t a = c->rstart[r], z = c->rstart[r + 1];
    size_t n = z - a;
    if (n > c->cap_view) {
        c->cap_view = n;
        c->view = mops_xrealloc(c->view, n * sizeof *c->view);
    }
    for (size_t i = 0; i < n; i++)
        c->view[i] = c->fbuf + c->foff[a + i];
    rec->n = n;
    rec->fields = c->view;
    rec->lens = c->flen + a;
    rec->line = c->rline[r];
    return 1;
}

/* ----------------------------------------------------------------- values */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The common case exactly and fast: [-]digits[.digits][e[+-]digits] with at
 * most 19 significant digits whose value is at most 2^53 and a power of ten
 * within 10^±22 — then one IEEE multiply or divide is correctly rounded
 * (Clinger's fast path). Returns 1 and *out, or 0 to let strtod decide. */
static int number_fast(const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    uint64_t mant = 0;
    int nd = 0, exp10 = 0, digits = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (nd >= 19)
            return 0;
        mant = mant * 10 + (uint64_t)(*p - '0');
        if (mant)
            nd++;
        digits++;
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (nd >= 19)
                return 0;
            mant = mant * 10 + (uint64_t)(*p - '0');
            if (mant)
                nd++;
            exp10--;
            digits++;
            p++;
        }
    }
    if (digits == 0)
        return 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0, ed = 0;
        if (p < end && (*p == '-' || *p == '+')) {
            eneg = *p == '-';
            p++;
        }
        while (p < end && *p >= '0' && *p <= '9' && e < 10000) {
            e = e * 10 + (*p - '0');
            ed++;
            p++;
        }
        if (ed == 0)
            return 0;
        exp10 += eneg ? -e : e;
    }
    if (p != end || mant > ((uint64_t)1 << 53))
        return 0;
    double v = (double)mant;
    if (mant != 0) {
        if (exp10 < -22 || exp10 > 22)
            return 0;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    }
    *out = neg ? -v : v;
    return 1;
}

int mops_csv_number(const char *s, size_t len, double *out)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    static const char *const missing[] = {"na", "n/a", "nan", "null", "none", "-nan"};
    if (len == 0) {
        *out = NAN;
        return 1;
    }
    if (len <= 4)
        for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
            if (strlen(missing[i]) == len && strncasecmp(s, missing[i], len) == 0) {
                *out = NAN;
                return 1;
            }
    if (number_fast(s, len, out))
        return 0;
    char buf[128];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* Refuse hexadecimal (which strtod takes) and stray characters. */
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (ch == 'x' || ch == 'X' || ch == 'p' || ch == 'P')
            return -1;
    }
    pthread_once(&c_locale_once, c_locale_init);
    char *end;
    errno = 0;
    double v = c_locale ? strtod_l(buf, &end, c_locale) : strtod(buf, &end);
    if (end != buf + len || end == buf)
        return -1;
    if (isnan(v)) {
        *out = NAN;
        return 1;
    }
    *out = v;
    return 0;
}

void mops_csv_buf_field(mops_buf_t *b, const char *s, size_t len)
{
    int quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
    for (size_t i = 0; i < len && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            quote = 1;
    if (!quote) {
        mops_buf_append(b, s, len);
        return;
    }
    mops_buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            mops_buf_putc(b, '"');
        mops_buf_putc(b, s[i]);
    }
    mops_buf_putc(b, '"');
}

void mops_csv_write_field(FILE *f, const char *s, size_t len)
{
    mops_buf_t b = MOPS_BUF_INIT;
    mops_csv_buf_field(&b, s, len);
    fwrite(b.data, 1, b.len, f);
    mops_buf_release(&b);
}
