/*
 * values.c — how the text of a CSV field is read as each type, one set of
 * rules for inference, declared schemas and validation:
 *
 *   integer    optional sign and 1-19 digits that fit 64 bits ("007" is 7)
 *   float      any number mops_csv_number reads (decimal, exponent, inf)
 *   boolean    true or false, in any case
 *   timestamp  ISO 8601 date "2024-03-01" or date-time "2024-03-01T12:00:00",
 *              " " for "T", optional fraction, "Z" or ±hh:mm (UTC without)
 *   string     anything
 *
 * Surrounding spaces are ignored for numbers, booleans and timestamps.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "data/data_int.h"

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

int dt_parse_int(const char *s, size_t n, int64_t *out)
{
    trim(&s, &n);
    const char *p = s, *end = s + n;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    if (p == end || end - p > 19)
        return 0;
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9)
            return 0;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

int dt_parse_bool(const char *s, size_t n, int *out)
{
    trim(&s, &n);
    if (n == 4 && !strncasecmp(s, "true", 4))
        *out = 1;
    else if (n == 5 && !strncasecmp(s, "false", 5))
        *out = 0;
    else
        return 0;
    return 1;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return 0;
        v = v * 10 + (int)d;
    }
    *out = v;
    return 1;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int dt_parse_timestamp(const char *s, size_t n, int64_t *ms)
{
    trim(&s, &n);
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
        !digits(s + 8, 2, &d))
        return 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return 0;
    size_t i = 10;
    int64_t frac_ms = 0, offset_min = 0;
    if (i < n) {
        if ((s[i] != 'T' && s[i] != 't' && s[i] != ' ') || n < i + 6 ||
            !digits(s + i + 1, 2, &h) || s[i + 3] != ':' || !digits(s + i + 4, 2, &mi))
            return 0;
        i += 6;
        if (i < n && s[i] == ':') {
            if (n < i + 3 || !digits(s + i + 1, 2, &sec))
                return 0;
            i += 3;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                size_t start = ++i;
                int scale = 100;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    frac_ms += (s[i] - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == start || i - start > 9)
                    return 0;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return 0;
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int oh, om = 0;
            int sign = s[i] == '-' ? -1 : 1;
            /* +hh:mm, +hhmm or +hh */
            if (n - i < 3 || !digits(s + i + 1, 2, &oh))
                return 0;
            if (n == i + 6 && s[i + 3] == ':' && digits(s + i + 4, 2, &om))
                i += 6;
            else if (n == i + 5 && digits(s + i + 3, 2, &om))
                i += 5;
            else if (n == i + 3)
                i += 3;
            else
                return 0;
            if (oh > 23 || om > 59)
                return 0;
            offset_min = sign * (oh * 60 + om);
        }
    }
    if (i != n)
        return 0;
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 24 + h) * 60 + mi - offset_min) * 60000 + (int64_t)sec * 1000 + frac_ms;
    return 1;
}

const char *dt_text_problem(const char *s, size_t n)
{
    /* ASCII without NUL, eight bytes at a time; the rest byte by byte. */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if ((w & 0x8080808080808080ULL) ||
            ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL))
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return "holds a NUL byte";
        if (c >= 0x80)
            break;
    }
    if (i == n)
        return NULL;
    if (memchr(s + i, 0, n - i))
        return "holds a NUL byte";
    return mops_utf8_valid(s + i, n - i) ? NULL : "is not valid UTF-8";
}

int dt_value_fits(const char *s, size_t n, stats_kind_t kind)
{
    int64_t i;
    int b;
    double x;
    switch (kind) {
    case STATS_KIND_INTEGER: return dt_parse_int(s, n, &i);
    case STATS_KIND_FLOAT: return mops_csv_number(s, n, &x) == 0;
    case STATS_KIND_BOOLEAN: return dt_parse_bool(s, n, &b);
    case STATS_KIND_TIMESTAMP: return dt_parse_timestamp(s, n, &i);
    default: return 1;
    }
}

double dt_value_number(const char *s, size_t n, stats_kind_t kind)
{
    int64_t i;
    int b;
    double x;
    switch (kind) {
    case STATS_KIND_INTEGER:
    case STATS_KIND_FLOAT: return mops_csv_number(s, n, &x) == 0 ? x : NAN;
    case STATS_KIND_BOOLEAN: return dt_parse_bool(s, n, &b) ? b : NAN;
    case STATS_KIND_TIMESTAMP: return dt_parse_timestamp(s, n, &i) ? (double)i : NAN;
    default: return NAN;
    }
}
