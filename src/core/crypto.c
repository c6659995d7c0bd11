/*
 * crypto.c — SHA-256 and randomness through libcrypto's EVP interface.
 */
#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

struct mops_sha256 {
    EVP_MD_CTX *ctx;
};

mops_sha256_t *mops_sha256_new(void)
{
    mops_sha256_t *h = malloc(sizeof *h);
    if (!h || !(h->ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "mops: cannot initialise SHA-256\n");
        abort();
    }
    return h;
}

void mops_sha256_update(mops_sha256_t *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

void mops_sha256_final(mops_sha256_t *h, char hex[MOPS_SHA256_HEX])
{
    unsigned char md[MOPS_SHA256_LEN];
    unsigned int len = 0;
    EVP_DigestFinal_ex(h->ctx, md, &len);
    mops_hex_encode(md, MOPS_SHA256_LEN, hex);
    mops_sha256_free(h);
}

void mops_sha256_free(mops_sha256_t *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void mops_sha256_hex(const void *p, size_t n, char hex[MOPS_SHA256_HEX])
{
    unsigned char md[MOPS_SHA256_LEN];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    mops_hex_encode(md, MOPS_SHA256_LEN, hex);
}

int mops_random_bytes(void *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : MOPS_EINTERNAL;
}

void mops_hex_encode(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int mops_is_hex(const char *s, size_t n)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == n;
}

int mops_ct_memcmp(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n);
}
