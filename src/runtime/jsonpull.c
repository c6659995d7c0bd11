/*
 * jsonpull.c — the pull reader behind the model loaders (see jsonpull.h for
 * why it exists). Numbers take an exact fast path (Clinger: a mantissa of at
 * most 2^53 scaled by an exactly representable power of ten is correctly
 * rounded by one IEEE multiply or divide) and fall back to strtod_l in the C
 * locale for the rest, so every number is read as the correctly rounded
 * double.
 */
#include "runtime/jsonpull.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

void runtime__json_init(runtime__json_t *j, const char *data, size_t len, mops_err_t *err)
{
    memset(j, 0, sizeof *j);
    j->start = j->p = data;
    j->end = data + len;
    j->err = err;
}

void runtime__json_release(runtime__json_t *j)
{
    free(j->sbuf);
    j->sbuf = NULL;
    j->scap = 0;
}

int runtime__json_fail(runtime__json_t *j, const char *fmt, ...)
{
    if (j->failed)
        return MOPS_EINVAL;
    j->failed = 1;
    /* Line and column of the current position; counted only on failure. */
    size_t line = 1, col = 1;
    for (const char *q = j->start; q < j->p && q < j->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[MOPS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (j->p >= j->end)
        return mops_err_set(j->err, MOPS_EINVAL, "JSON ends early at line %zu, column %zu: %s",
                            line, col, msg);
    return mops_err_set(j->err, MOPS_EINVAL, "JSON line %zu, column %zu: %s", line, col, msg);
}

static inline void skip_ws(runtime__json_t *j)
{
    const char *p = j->p, *end = j->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    j->p = p;
}

int runtime__json_peek(runtime__json_t *j)
{
    if (j->failed)
        return 0;
    skip_ws(j);
    return j->p < j->end ? (unsigned char)*j->p : 0;
}

static int describe_char(runtime__json_t *j, const char *want)
{
    if (j->p >= j->end)
        return runtime__json_fail(j, "expected %s", want);
    unsigned char c = (unsigned char)*j->p;
    if (c >= 0x20 && c < 0x7f)
        return runtime__json_fail(j, "expected %s, found '%c'", want, c);
    return runtime__json_fail(j, "expected %s, found byte 0x%02x", want, c);
}

static int push(runtime__json_t *j)
{
    if (j->depth >= RUNTIME__JSON_MAX_DEPTH)
        return runtime__json_fail(j, "nesting deeper than %d levels", RUNTIME__JSON_MAX_DEPTH);
    j->first[j->depth++] = 1;
    return 0;
}

int runtime__json_object_begin(runtime__json_t *j)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    if (j->p >= j->end || *j->p != '{')
        return describe_char(j, "an object ('{')");
    j->p++;
    return push(j);
}

int runtime__json_array_begin(runtime__json_t *j)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    if (j->p >= j->end || *j->p != '[')
        return describe_char(j, "an array ('[')");
    j->p++;
    return push(j);
}

/* Common to next_key and next_item: handle ',' and the closing bracket. */
static int next_member(runtime__json_t *j, char close)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    if (j->p >= j->end)
        return runtime__json_fail(j, "expected '%c'", close);
    int lvl = j->depth - 1;
    if (*j->p == close) {
        j->p++;
        j->depth--;
        return 0;
    }
    if (!j->first[lvl]) {
        if (*j->p != ',')
            return describe_char(j, close == '}' ? "',' or '}'" : "',' or ']'");
        j->p++;
        skip_ws(j);
        if (j->p < j->end && *j->p == close)
            return runtime__json_fail(j, "trailing comma");
    }
    j->first[lvl] = 0;
    return 1;
}

int runtime__json_next_key(runtime__json_t *j, const char **key, size_t *len)
{
    int rc = next_member(j, '}');
    if (rc <= 0)
        return rc;
    skip_ws(j);
    if (j->p >= j->end || *j->p != '"')
        return describe_char(j, "a key (a string)");
    rc = runtime__json_string(j, key, len);
    if (rc < 0)
        return rc;
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':')
        return describe_char(j, "':'");
    j->p++;
    return 1;
}

int runtime__json_next_item(runtime__json_t *j)
{
    return next_member(j, ']');
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_u4(runtime__json_t *j, const char *q, unsigned *out)
{
    if (j->end - q < 4)
        return runtime__json_fail(j, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)q[i]);
        if (h < 0)
            return runtime__json_fail(j, "bad \\u escape");
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

static void sbuf_reserve(runtime__json_t *j, size_t n)
{
    if (n <= j->scap)
        return;
    size_t cap = j->scap ? j->scap : 256;
    while (cap < n)
        cap *= 2;
    j->sbuf = mops_xrealloc(j->sbuf, cap);
    j->scap = cap;
}

int runtime__json_string(runtime__json_t *j, const char **s, size_t *len)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    if (j->p >= j->end || *j->p != '"')
        return describe_char(j, "a string");
    const char *q = ++j->p;
    /* Fast path: no escapes, returned in place. */
    const char *e = q;
    while (e < j->end && *e != '"' && *e != '\\' && (unsigned char)*e >= 0x20)
        e++;
    if (e < j->end && *e == '"') {
        *s = q;
        *len = (size_t)(e - q);
        j->p = e + 1;
        return 0;
    }
    /* Slow path: decode into sbuf. */
    size_t n = 0;
    for (;;) {
        if (q >= j->end) {
            j->p = q;
            return runtime__json_fail(j, "unterminated string");
        }
        unsigned char c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c < 0x20) {
            j->p = q;
            return runtime__json_fail(j, "control character 0x%02x in a string", c);
        }
        sbuf_reserve(j, n + 5);
        if (c != '\\') {
            j->sbuf[n++] = (char)c;
            q++;
            continue;
        }
        if (q + 1 >= j->end) {
            j->p = q + 1;
            return runtime__json_fail(j, "unterminated string");
        }
        char esc = q[1];
        q += 2;
        switch (esc) {
        case '"': j->sbuf[n++] = '"'; break;
        case '\\': j->sbuf[n++] = '\\'; break;
        case '/': j->sbuf[n++] = '/'; break;
        case 'b': j->sbuf[n++] = '\b'; break;
        case 'f': j->sbuf[n++] = '\f'; break;
        case 'n': j->sbuf[n++] = '\n'; break;
        case 'r': j->sbuf[n++] = '\r'; break;
        case 't': j->sbuf[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            j->p = q;
            if (read_u4(j, q, &cp) < 0)
                return MOPS_EINVAL;
            q += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (j->end - q < 6 || q[0] != '\\' || q[1] != 'u') {
                    j->p = q;
                    return runtime__json_fail(j, "unpaired surrogate in \\u escape");
                }
                j->p = q + 2;
                if (read_u4(j, q + 2, &lo) < 0)
                    return MOPS_EINVAL;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return runtime__json_fail(j, "unpaired surrogate in \\u escape");
                q += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return runtime__json_fail(j, "unpaired surrogate in \\u escape");
            }
            if (cp < 0x80) {
                j->sbuf[n++] = (char)cp;
            } else if (cp < 0x800) {
                j->sbuf[n++] = (char)(0xC0 | (cp >> 6));
                j->sbuf[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                j->sbuf[n++] = (char)(0xE0 | (cp >> 12));
                j->sbuf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                j->sbuf[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                j->sbuf[n++] = (char)(0xF0 | (cp >> 18));
                j->sbuf[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                j->sbuf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                j->sbuf[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            j->p = q - 1;
            return runtime__json_fail(j, "bad escape '\\%c'", esc >= 0x20 && esc < 0x7f ? esc : '?');
        }
    }
    sbuf_reserve(j, n + 1);
    j->sbuf[n] = '\0';
    *s = j->sbuf;
    *len = n;
    j->p = q + 1;
    return 0;
}

static int match_word(runtime__json_t *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, w, n) == 0) {
        const char *after = j->p + n;
        if (after == j->end || !((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                                 (*after >= '0' && *after <= '9'))) {
            j->p = after;
            return 1;
        }
    }
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parse a number token at j->p; on success j->p is past it. */
static int scan_number(runtime__json_t *j, double *out, int want_integer, int64_t *iout)
{
    const char *p = j->p, *end = j->end, *s = p;
    if (!want_integer) {
        if (match_word(j, "NaN")) {
            *out = NAN;
            return 0;
        }
        if (match_word(j, "Infinity")) {
            *out = INFINITY;
            return 0;
        }
        if (match_word(j, "-Infinity")) {
            *out = -INFINITY;
            return 0;
        }
    }
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !is_digit(*p)) {
        j->p = s;
        return describe_char(j, want_integer ? "an integer" : "a number");
    }
    uint64_t mant = 0;
    int nd = 0, exp10 = 0, inexact = 0;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) {
            j->p = p;
            return runtime__json_fail(j, "number with a leading zero");
        }
    } else {
        while (p < end && is_digit(*p)) {
            if (nd < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                nd++;
            } else {
                exp10++;
                if (*p != '0')
                    inexact = 1;
            }
            p++;
        }
    }
    int frac = 0, expo = 0;
    if (p < end && *p == '.') {
        frac = 1;
        p++;
        if (p >= end || !is_digit(*p)) {
            j->p = p;
            return runtime__json_fail(j, "a digit must follow the decimal point");
        }
        while (p < end && is_digit(*p)) {
            if (nd < 19) {
                if (mant == 0 && *p == '0') {
                    exp10--;
                } else {
                    mant = mant * 10 + (uint64_t)(*p - '0');
                    nd++;
                    exp10--;
                }
            } else if (*p != '0') {
                inexact = 1;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        expo = 1;
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !is_digit(*p)) {
            j->p = p;
            return runtime__json_fail(j, "a digit must follow the exponent mark");
        }
        long e = 0;
        while (p < end && is_digit(*p)) {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            p++;
        }
        exp10 += (int)(eneg ? -e : e);
    }
    j->p = p;
    if (want_integer) {
        if (frac || expo)
            return runtime__json_fail(j, "expected an integer, found a fraction");
        if (nd > 18 || inexact || exp10 != 0)
            return runtime__json_fail(j, "integer out of range");
        *iout = neg ? -(int64_t)mant : (int64_t)mant;
        return 0;
    }
    double v;
    if (mant == 0) {
        v = 0.0;
    } else if (!inexact && mant <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        v = (double)mant;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    } else {
        char buf[512];
        size_t n = (size_t)(p - s);
        char *tok = n < sizeof buf ? buf : mops_xmalloc(n + 1);
        memcpy(tok, s, n);
        tok[n] = '\0';
        pthread_once(&c_locale_once, c_locale_init);
        v = c_locale ? strtod_l(tok, NULL, c_locale) : strtod(tok, NULL);
        if (tok != buf)
            free(tok);
        *out = v; /* strtod_l applied the sign */
        return 0;
    }
    *out = neg ? -v : v;
    return 0;
}

int runtime__json_number(runtime__json_t *j, double *out)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    return scan_number(j, out, 0, NULL);
}

int runtime__json_integer(runtime__json_t *j, int64_t *out)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    double unused;
    return scan_number(j, &unused, 1, out);
}

int runtime__json_flag(runtime__json_t *j, int *out)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    if (match_word(j, "true")) {
        *out = 1;
        return 0;
    }
    if (match_word(j, "false")) {
        *out = 0;
        return 0;
    }
    int64_t v;
    const char *s = j->p;
    if (j->p < j->end && (is_digit(*j->p) || *j->p == '-')) {
        if (runtime__json_integer(j, &v) < 0)
            return MOPS_EINVAL;
        if (v == 0 || v == 1) {
            *out = (int)v;
            return 0;
        }
        j->p = s;
        return runtime__json_fail(j, "expected true, false, 0 or 1, found %lld", (long long)v);
    }
    return describe_char(j, "true, false, 0 or 1");
}

int runtime__json_null(runtime__json_t *j)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    return match_word(j, "null");
}

int runtime__json_skip(runtime__json_t *j)
{
    if (j->failed)
        return MOPS_EINVAL;
    /* Iterative, with a bit stack of bracket kinds (1 = object). */
    enum { MAXD = 4096 };
    uint8_t kinds[MAXD / 8];
    int depth = 0;
    int expect_value = 1;
    for (;;) {
        skip_ws(j);
        if (j->p >= j->end)
            return runtime__json_fail(j, "expected a value");
        char c = *j->p;
        if (expect_value) {
            if (c == '{' || c == '[') {
                if (depth >= MAXD)
                    return runtime__json_fail(j, "nesting deeper than %d levels", MAXD);
                int obj = c == '{';
                if (obj)
                    kinds[depth / 8] |= (uint8_t)(1u << (depth % 8));
                else
                    kinds[depth / 8] &= (uint8_t)~(1u << (depth % 8));
                depth++;
                j->p++;
                skip_ws(j);
                char close = obj ? '}' : ']';
                if (j->p < j->end && *j->p == close) {
                    j->p++;
                    depth--;
                    expect_value = 0;
                } else if (obj) {
                    const char *k;
                    size_t kl;
                    if (runtime__json_string(j, &k, &kl) < 0)
                        return MOPS_EINVAL;
                    skip_ws(j);
                    if (j->p >= j->end || *j->p != ':')
                        return describe_char(j, "':'");
                    j->p++;
                }
                continue;
            }
            if (c == '"') {
                const char *s;
                size_t n;
                if (runtime__json_string(j, &s, &n) < 0)
                    return MOPS_EINVAL;
            } else if (c == 't' || c == 'f' || c == 'n') {
                if (!match_word(j, "true") && !match_word(j, "false") && !match_word(j, "null"))
                    return describe_char(j, "a value");
            } else {
                double v;
                if (scan_number(j, &v, 0, NULL) < 0)
                    return MOPS_EINVAL;
            }
            expect_value = 0;
        } else {
            if (depth == 0)
                return 0;
            int obj = (kinds[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            char close = obj ? '}' : ']';
            if (c == close) {
                j->p++;
                depth--;
                continue;
            }
            if (c != ',')
                return describe_char(j, obj ? "',' or '}'" : "',' or ']'");
            j->p++;
            if (obj) {
                const char *k;
                size_t kl;
                if (runtime__json_string(j, &k, &kl) < 0)
                    return MOPS_EINVAL;
                skip_ws(j);
                if (j->p >= j->end || *j->p != ':')
                    return describe_char(j, "':'");
                j->p++;
            }
            expect_value = 1;
        }
        if (depth == 0)
            return 0;
    }
}

int runtime__json_skip_fast(runtime__json_t *j)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    if (j->p >= j->end || (*j->p != '{' && *j->p != '['))
        return runtime__json_skip(j);
    enum { MAXD = 4096 };
    char close[MAXD];
    int depth = 0;
    const char *p = j->p, *end = j->end;
    while (p < end) {
        char c = *p++;
        if (c == '"') {
            for (;;) {
                const char *q = memchr(p, '"', (size_t)(end - p));
                if (!q) {
                    j->p = end;
                    return runtime__json_fail(j, "unterminated string");
                }
                /* An odd number of backslashes before it escapes it. */
                const char *b = q;
                while (b > p && b[-1] == '\\')
                    b--;
                p = q + 1;
                if (((q - b) & 1) == 0)
                    break;
            }
        } else if (c == '{' || c == '[') {
            if (depth >= MAXD) {
                j->p = p - 1;
                return runtime__json_fail(j, "nesting deeper than %d levels", MAXD);
            }
            close[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (depth == 0 || close[depth - 1] != c) {
                j->p = p - 1;
                return runtime__json_fail(j, "unexpected '%c'", c);
            }
            if (--depth == 0) {
                j->p = p;
                return 0;
            }
        }
    }
    j->p = end;
    return runtime__json_fail(j, "unterminated %s", depth && close[0] == '}' ? "object" : "array");
}

void runtime__json_at(runtime__json_t *sub, const runtime__json_t *j, const char *p,
                      const char *end)
{
    runtime__json_init(sub, j->start, (size_t)(end - j->start), j->err);
    sub->p = p;
}

int runtime__json_end(runtime__json_t *j)
{
    if (j->failed)
        return MOPS_EINVAL;
    skip_ws(j);
    if (j->p != j->end)
        return runtime__json_fail(j, "unexpected text after the end of the document");
    return 0;
}

int runtime__json_numbers(runtime__json_t *j, double **vals, size_t *n, size_t *cap, size_t max,
                          const char *what)
{
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    size_t k = 0;
    int rc;
    while ((rc = runtime__json_next_item(j)) > 0) {
        if (k >= max)
            return runtime__json_fail(j, "%s has more than %zu items", what, max);
        if (k == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *vals = mops_xrealloc(*vals, *cap * sizeof **vals);
        }
        if (runtime__json_number(j, &(*vals)[k]) < 0)
            return MOPS_EINVAL;
        k++;
    }
    if (rc < 0)
        return rc;
    *n = k;
    return 0;
}

int runtime__json_integers(runtime__json_t *j, int64_t **vals, size_t *n, size_t *cap,
                           size_t max, const char *what)
{
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    size_t k = 0;
    int rc;
    while ((rc = runtime__json_next_item(j)) > 0) {
        if (k >= max)
            return runtime__json_fail(j, "%s has more than %zu items", what, max);
        if (k == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *vals = mops_xrealloc(*vals, *cap * sizeof **vals);
        }
        /* XGBoost writes booleans for some flag arrays in some versions. */
        skip_ws(j);
        if (j->p < j->end && (*j->p == 't' || *j->p == 'f')) {
            int f;
            if (runtime__json_flag(j, &f) < 0)
                return MOPS_EINVAL;
            (*vals)[k++] = f;
            continue;
        }
        if (runtime__json_integer(j, &(*vals)[k]) < 0)
            return MOPS_EINVAL;
        k++;
    }
    if (rc < 0)
        return rc;
    *n = k;
    return 0;
}

int runtime__json_key_is(const char *key, size_t len, const char *want)
{
    size_t n = strlen(want);
    return n == len && memcmp(key, want, n) == 0;
}

int runtime__json_parse_num_text(const char *s, size_t len, double *out)
{
    /* Strip one pair of brackets ("[5E-1]", XGBoost >= 2.1 for vectors of
     * one) and surrounding spaces. */
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len > 100)
        return MOPS_EINVAL;
    runtime__json_t j;
    runtime__json_init(&j, s, len, NULL);
    double v;
    int rc = runtime__json_number(&j, &v);
    if (rc == 0)
        rc = runtime__json_end(&j);
    runtime__json_release(&j);
    if (rc < 0)
        return MOPS_EINVAL;
    *out = v;
    return 0;
}
