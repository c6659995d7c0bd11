/*
 * csv.c — the streaming CSV reader over libcsv's push parser.
 *
 * libcsv calls back for each field and at each record's end. We feed it one
 * line at a time (up to and including '\n'), so we always know the line
 * number, and queue the fields of the records that complete; mops_csv_next
 * hands them out one record at a time and refills only when the queue is
 * empty, so memory stays at one input block plus one line's fields. The
 * push mode runs the same machinery over the caller's pieces of input and
 * hands each completed record to a callback.
 */
#include "core/csv.h"

#include <csv.h>
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

#define BLOCK (64 * 1024)

struct mops_csv {
    FILE *f;           /* pull mode; NULL in push mode */
    char *name;
    struct csv_parser p;
    char *in;          /* pull mode's input block */
    const char *src;   /* the input being fed: in, or the caller's piece */
    size_t src_len, src_pos;
    int eof, finished;
    mops_csv_record_fn on_rec; /* push mode */
    void *on_rec_arg;
    char bom[3];       /* push mode: the first bytes, until we know */
    size_t bom_len;
    uint64_t bytes;
    size_t line;       /* lines fully fed so far */
    size_t rec_line;   /* line on which the record being parsed began */
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

static mops_csv_t *csv_new(FILE *f, const char *name)
{
    mops_csv_t *c = mops_xcalloc(1, sizeof *c);
    c->f = f;
    c->name = mops_xstrdup(name ? name : "input");
    c->at_start = 1;
    if (csv_init(&c->p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fprintf(stderr, "mops: out of memory starting the CSV parser\n");
        abort();
    }
    return c;
}

mops_csv_t *mops_csv_open(FILE *f, const char *name)
{
    mops_csv_t *c = csv_new(f, name);
    c->in = mops_xmalloc(BLOCK);
    return c;
}

mops_csv_t *mops_csv_push_new(const char *name, mops_csv_record_fn fn, void *arg)
{
    mops_csv_t *c = csv_new(NULL, name);
    c->on_rec = fn;
    c->on_rec_arg = arg;
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

/* The end of the input: flush libcsv's last record. */
static int finish(mops_csv_t *c, mops_err_t *err)
{
    if (c->finished)
        return 0;
    c->finished = 1;
    if (csv_fini(&c->p, on_field, on_record, c) != 0)
        return mops_err_set(err, MOPS_EINVAL,
                            "%s, line %zu: a quoted field is not closed before the end of the input",
                            c->name, c->rec_line ? c->rec_line : c->line + 1);
    if (c->too_many)
        return mops_err_set(err, MOPS_ETOOBIG, "%s, line %zu: a record has more than %zu fields",
                            c->name, c->line + 1, MOPS_CSV_FIELDS_MAX);
    return 0;
}

/* Feed the next line of src (or the rest of it) to libcsv. */
static int feed_line(mops_csv_t *c, mops_err_t *err)
{
    const char *s = c->src + c->src_pos;
    size_t avail = c->src_len - c->src_pos;
    const char *nl = memchr(s, '\n', avail);
    size_t n = nl ? (size_t)(nl - s) + 1 : avail;
    /* libcsv's state 0 is "no row begun": a record starts on this line. */
    if (c->cur_fields == 0 && c->p.pstate == 0)
        c->rec_line = c->line + 1;
    size_t done = csv_parse(&c->p, s, n, on_field, on_record, c);
    c->src_pos += n;
    c->bytes += n;
    if (done != n)
        return parse_error(c, c->line + 1, err);
    if (c->too_many)
        return mops_err_set(err, MOPS_ETOOBIG, "%s, line %zu: a record has more than %zu fields",
                            c->name, c->line + 1, MOPS_CSV_FIELDS_MAX);
    if (c->p.entry_pos > MOPS_CSV_FIELD_MAX || c->too_long)
        return mops_err_set(err, MOPS_ETOOBIG, "%s, line %zu: a field is longer than %zu bytes",
                            c->name, c->line + 1, MOPS_CSV_FIELD_MAX);
    if (c->fbuf_len > MOPS_CSV_FIELD_MAX * 4 && c->nr == 0)
        return mops_err_set(err, MOPS_ETOOBIG, "%s, line %zu: a record is longer than %zu bytes",
                            c->name, c->line + 1, MOPS_CSV_FIELD_MAX * 4);
    if (nl)
        c->line++;
    return 1;
}

/* Pull mode: feed the next line, reading a block when needed. Returns 1
 * when something was fed, 0 at the end. */
static int feed(mops_csv_t *c, mops_err_t *err)
{
    if (c->src_pos == c->src_len) {
        if (c->eof)
            return finish(c, err);
        size_t r = fread(c->in, 1, BLOCK, c->f);
        if (r == 0) {
            if (ferror(c->f))
                return mops_err_set(err, MOPS_EIO, "cannot read %s: %s", c->name, strerror(errno));
            c->eof = 1;
            return 1;
        }
        c->src = c->in;
        c->src_len = r;
        c->src_pos = 0;
        if (c->at_start) {
            c->at_start = 0;
            if (r >= 3 && memcmp(c->in, "\xEF\xBB\xBF", 3) == 0)
                c->src_pos = 3;
        }
        if (c->src_pos == c->src_len)
            return 1;
    }
    return feed_line(c, err);
}

/* Drop the records handed out; keep the fields of the record in progress. */
static void queue_reset(mops_csv_t *c)
{
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
}

/* Point rec at queued record r. */
static void record_view(mops_csv_t *c, size_t r, mops_csv_record_t *rec)
{
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
}

int mops_csv_next(mops_csv_t *c, mops_csv_record_t *rec, mops_err_t *err)
{
    if (c->rpos == c->nr) {
        queue_reset(c);
        while (c->nr == 0) {
            int rc = feed(c, err);
            if (rc < 0)
                return rc;
            if (rc == 0 && c->nr == 0)
                return 0;
        }
    }
    record_view(c, c->rpos++, rec);
    return 1;
}

/* Push mode: hand the queued records to the callback, then empty the queue. */
static int deliver(mops_csv_t *c, mops_err_t *err)
{
    mops_csv_record_t rec;
    for (size_t r = 0; r < c->nr; r++) {
        record_view(c, r, &rec);
        int rc = c->on_rec(c->on_rec_arg, &rec, err);
        if (rc != 0)
            return rc;
    }
    queue_reset(c);
    return 0;
}

static int push_bytes(mops_csv_t *c, const char *p, size_t n, mops_err_t *err)
{
    c->src = p;
    c->src_len = n;
    c->src_pos = 0;
    while (c->src_pos < c->src_len) {
        int rc = feed_line(c, err);
        if (rc < 0 || (c->nr && (rc = deliver(c, err)) != 0))
            return rc;
    }
    c->src = NULL;
    c->src_len = c->src_pos = 0;
    return 0;
}

int mops_csv_push(mops_csv_t *c, const void *data, size_t n, mops_err_t *err)
{
    const char *p = data;
    if (c->at_start) {
        while (c->bom_len < 3 && n) {
            c->bom[c->bom_len++] = *p++;
            n--;
        }
        if (c->bom_len < 3)
            return 0;
        c->at_start = 0;
        int rc;
        if (memcmp(c->bom, "\xEF\xBB\xBF", 3) != 0 && (rc = push_bytes(c, c->bom, 3, err)) != 0)
            return rc;
    }
    return push_bytes(c, p, n, err);
}

int mops_csv_push_end(mops_csv_t *c, mops_err_t *err)
{
    int rc = 0;
    if (c->at_start && c->bom_len) {
        c->at_start = 0;
        rc = push_bytes(c, c->bom, c->bom_len, err);
    }
    if (rc == 0)
        rc = finish(c, err);
    if (rc == 0 && c->nr)
        rc = deliver(c, err);
    return rc;
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

#if LDBL_MANT_DIG == 64 && (defined(__x86_64__) || defined(__i386__))
#define HAVE_X87_SCALE 1
#define POW10_LD_MAX 27
/* 10^k for k <= 27 is exact in 64 bits of mantissa (5^27 < 2^64). */
static const long double pow10_ld[POW10_LD_MAX + 1] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};

/* mant * 10^exp10 through one x87 operation: mant and the power are exact
 * in its 64-bit mantissa, so x is within half an ulp of the true value and
 * rounding x to a double (dropping its low 11 bits) gives the true value's
 * rounding, unless those bits sit on a double midpoint (0x400), where the
 * true value may lie on either side: then 0, and strtod decides. This is
 * what clients' 17-digit floats (every float32 Python prints) need:
 * Clinger's fast path stops at 2^53. */
static int scale_x87(uint64_t mant, int exp10, double *out)
{
    if (exp10 < -POW10_LD_MAX || exp10 > POW10_LD_MAX)
        return 0;
    long double x = (long double)mant;
    x = exp10 < 0 ? x / pow10_ld[-exp10] : x * pow10_ld[exp10];
    uint64_t bits; /* the explicit 64-bit mantissa, little-endian first */
    memcpy(&bits, &x, sizeof bits);
    unsigned low = (unsigned)(bits & 0x7ff);
    if (low >= 0x3ff && low <= 0x401)
        return 0;
    *out = (double)x;
    return 1;
}
#endif

/* mant (non-zero) * 10^exp10 correctly rounded, when that is cheap. */
static int scale_exact(uint64_t mant, int exp10, double *out)
{
    if (mant <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        /* Clinger's fast path: both exact, one IEEE operation. */
        double v = (double)mant;
        *out = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
        return 1;
    }
#ifdef HAVE_X87_SCALE
    return scale_x87(mant, exp10, out);
#else
    return 0;
#endif
}

/* The common case exactly and fast: [-]digits[.digits][e[+-]digits] with at
 * most 19 significant digits and a power of ten within 10^±22 (10^±27 with
 * an x87-sized long double). Returns 1 and *out, or 0 to let strtod decide:
 * a wrong last bit here would change a tree's decision, so every value
 * this returns is the correctly rounded one. */
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
    if (p != end)
        return 0;
    double v = 0;
    if (mant != 0 && !scale_exact(mant, exp10, &v))
        return 0;
    *out = neg ? -v : v;
    return 1;
}

/* Trim spaces and tabs around a field. */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

int mops_csv_missing(const char *s, size_t len)
{
    static const char *const missing[] = {"na", "n/a", "nan", "null", "none", "-nan"};
    static const unsigned char lens[] = {2, 3, 3, 4, 4, 4};
    /* The common case at once: every spelling of missing starts with n,
     * N or -, and is at most four bytes long once blanks are trimmed. */
    if (len && s[0] != ' ' && s[0] != '\t' &&
        ((s[0] != 'n' && s[0] != 'N' && s[0] != '-') ||
         (len > 4 && s[len - 1] != ' ' && s[len - 1] != '\t')))
        return 0;
    trim(&s, &len);
    if (len == 0)
        return 1;
    if (len <= 4)
        for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
            if (lens[i] == len && strncasecmp(s, missing[i], len) == 0)
                return 1;
    return 0;
}

int mops_csv_number(const char *s, size_t len, double *out)
{
    trim(&s, &len);
    if (mops_csv_missing(s, len)) {
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
