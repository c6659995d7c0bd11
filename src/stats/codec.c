/*
 * codec.c — the portable encoding of sketches: arrays as little-endian
 * bytes in base64 (OpenSSL's EVP_EncodeBlock), numbers as JSON numbers,
 * with "inf", "-inf" and "nan" strings for what JSON cannot hold; and the
 * hashes that identify values.
 */
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/mem.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

uint64_t stats_hash(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

uint64_t stats_hash_number(double x)
{
    if (x == 0)
        x = 0; /* -0 */
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    /* A different seed than text: the number 1 and the one-byte text "1"
     * must not collide by construction. */
    return XXH3_64bits_withSeed(&bits, sizeof bits, 0x6d6f7073u);
}

static json_t *b64(const uint8_t *p, size_t n)
{
    char *out = mops_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    json_t *s = json_string(out);
    free(out);
    return s;
}

json_t *stats_b64_bytes(const uint8_t *v, size_t n)
{
    return b64(v, n);
}

json_t *stats_b64_doubles(const double *v, size_t n)
{
    uint8_t *buf = mops_xmalloc(n * 8 + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &v[i], 8);
        for (int b = 0; b < 8; b++)
            buf[i * 8 + (size_t)b] = (uint8_t)(bits >> (8 * b));
    }
    json_t *s = b64(buf, n * 8);
    free(buf);
    return s;
}

static int unb64(const json_t *s, const char *what, uint8_t **out, size_t *n, mops_err_t *err)
{
    const char *t = json_string_value(s);
    size_t len = t ? strlen(t) : 0;
    if (!t || len % 4 != 0)
        return mops_err_set(err, MOPS_EINVAL, "%s is not base64", what);
    uint8_t *buf = mops_xmalloc(len / 4 * 3 + 1);
    int got = len ? EVP_DecodeBlock(buf, (const unsigned char *)t, (int)len) : 0;
    if (got < 0) {
        free(buf);
        return mops_err_set(err, MOPS_EINVAL, "%s is not base64", what);
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    if (len >= 1 && t[len - 1] == '=')
        got--;
    if (len >= 2 && t[len - 2] == '=')
        got--;
    *out = buf;
    *n = (size_t)got;
    return 0;
}

int stats_unb64_bytes(const json_t *s, const char *what, uint8_t **out, size_t *n,
                      mops_err_t *err)
{
    return unb64(s, what, out, n, err);
}

int stats_unb64_doubles(const json_t *s, const char *what, double **out, size_t *n,
                        mops_err_t *err)
{
    uint8_t *buf;
    size_t len;
    int rc = unb64(s, what, &buf, &len, err);
    if (rc != 0)
        return rc;
    if (len % 8 != 0) {
        free(buf);
        return mops_err_set(err, MOPS_EINVAL, "%s does not hold whole doubles", what);
    }
    double *v = mops_xmalloc(len / 8 * sizeof *v + 1);
    for (size_t i = 0; i < len / 8; i++) {
        uint64_t bits = 0;
        for (int b = 0; b < 8; b++)
            bits |= (uint64_t)buf[i * 8 + (size_t)b] << (8 * b);
        memcpy(&v[i], &bits, 8);
    }
    free(buf);
    *out = v;
    *n = len / 8;
    return 0;
}

int stats_json_u64(const json_t *obj, const char *key, const char *what, uint64_t *out,
                   mops_err_t *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return mops_err_set(err, MOPS_EINVAL, "%s: \"%s\" must be a non-negative integer", what,
                            key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

json_t *stats_num_json(double x)
{
    if (isnan(x))
        return json_string("nan");
    if (isinf(x))
        return json_string(x > 0 ? "inf" : "-inf");
    return json_real(x);
}

int stats_json_num(const json_t *obj, const char *key, const char *what, double *out,
                   mops_err_t *err)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (s && !strcmp(s, "inf"))
        *out = INFINITY;
    else if (s && !strcmp(s, "-inf"))
        *out = -INFINITY;
    else if (s && !strcmp(s, "nan"))
        *out = NAN;
    else
        return mops_err_set(err, MOPS_EINVAL, "%s: \"%s\" must be a number", what, key);
    return 0;
}

int stats_json_type(const json_t *obj, const char *want, mops_err_t *err)
{
    const char *t = json_string_value(json_object_get(obj, "type"));
    if (!json_is_object(obj) || !t || strcmp(t, want) != 0)
        return mops_err_set(err, MOPS_EINVAL, "not a stored %s sketch", want);
    return 0;
}
