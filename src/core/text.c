/*
 * text.c — identifier and free-text validation with user-facing messages.
 */
#include "core/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mops_text_escape(const char *s, char *out, size_t out_size)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < out_size; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    if (o < out_size)
        out[o] = '\0';
    else if (out_size)
        out[out_size - 1] = '\0';
}

const char *mops_text_show(const char *s)
{
    static __thread char ring[8][100];
    static __thread unsigned next;
    char *b = ring[next++ & 7];
    mops_text_escape(s ? s : "", b, sizeof ring[0]);
    return b;
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int ident_check(const char *field, const char *s, size_t max, const char *extra,
                       const char *allowed, mops_err_t *err)
{
    char shown[96];
    size_t n = strlen(s);
    int ok = n >= 1 && n <= max && is_alnum(s[0]) && !strstr(s, "..");
    for (size_t i = 0; ok && i < n; i++)
        ok = is_alnum(s[i]) || strchr(extra, s[i]);
    if (ok)
        return 0;
    mops_text_escape(s, shown, sizeof shown);
    return mops_err_set(err, MOPS_EINVAL,
                        "%s \"%s\" is invalid: use 1 to %zu of %s, starting with a letter or "
                        "digit, without \"..\"",
                        field, shown, max, allowed);
}

int mops_name_check(const char *field, const char *s, mops_err_t *err)
{
    return ident_check(field, s, MOPS_NAME_MAX, "._-", "letters, digits, '.', '_' and '-'", err);
}

int mops_tag_check(const char *field, const char *s, mops_err_t *err)
{
    return ident_check(field, s, MOPS_TAG_MAX, "._:=/-",
                       "letters, digits and '.', '_', ':', '=', '/', '-'", err);
}

size_t mops_utf8_prefix(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

int mops_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

int mops_text_check(const char *field, const char *s, size_t max, mops_err_t *err)
{
    size_t n = strlen(s);
    if (n > max)
        return mops_err_set(err, MOPS_EINVAL, "%s is %zu bytes long; the limit is %zu", field, n,
                            max);
    if (!mops_utf8_valid(s, n))
        return mops_err_set(err, MOPS_EINVAL, "%s is not valid UTF-8", field);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            return mops_err_set(err, MOPS_EINVAL,
                                "%s contains the control character \\x%02x at byte %zu", field, c,
                                i);
    }
    return 0;
}

int mops_parse_i64(const char *s, long long *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return MOPS_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return MOPS_EINVAL;
    *out = v;
    return 0;
}

int mops_parse_size(const char *s, long long *out)
{
    if (!s || *s < '0' || *s > '9')
        return MOPS_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return MOPS_EINVAL;
    int shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return MOPS_EINVAL;
    }
    if (shift && *end == 'i')
        end++;
    if (shift && (*end == 'B' || *end == 'b'))
        end++;
    if (*end || (shift && v > (0x7fffffffffffffffULL >> shift)) || v > 0x7fffffffffffffffULL)
        return MOPS_EINVAL;
    *out = (long long)(v << shift);
    return 0;
}
