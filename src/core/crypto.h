/*
 * crypto.h — the few cryptographic primitives mops needs, all from OpenSSL's
 * libcrypto: SHA-256 (whole and streaming), random bytes, hex, and a
 * constant-time comparison.
 */
#ifndef MOPS_CORE_CRYPTO_H
#define MOPS_CORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define MOPS_SHA256_LEN 32
#define MOPS_SHA256_HEX 65 /* 64 hex digits + NUL */

typedef struct mops_sha256 mops_sha256_t;

/* Streaming SHA-256: _new, _update any number of times, _final (which also
 * frees). _free discards an unfinished hash. */
mops_sha256_t *mops_sha256_new(void);
void mops_sha256_update(mops_sha256_t *h, const void *p, size_t n);
void mops_sha256_final(mops_sha256_t *h, char hex[MOPS_SHA256_HEX]);
void mops_sha256_free(mops_sha256_t *h);

/* One-shot SHA-256 of a buffer, as lowercase hex. */
void mops_sha256_hex(const void *p, size_t n, char hex[MOPS_SHA256_HEX]);

/* n cryptographically random bytes. Returns 0 or MOPS_EINTERNAL. */
int mops_random_bytes(void *buf, size_t n);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void mops_hex_encode(const void *p, size_t n, char *out);

/* True when s is exactly n lowercase hex digits. */
int mops_is_hex(const char *s, size_t n);

/* Compare n bytes in time independent of where they differ. 0 when equal. */
int mops_ct_memcmp(const void *a, const void *b, size_t n);

#endif
