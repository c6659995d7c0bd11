/*
 * secret.c — webhook secrets are kept sealed: AES-256-GCM under a key in
 * the data directory (DATA/notify.key, mode 0600), so a copy of the
 * database alone does not reveal them. The delivery thread opens a secret
 * only to sign a body with it.
 */
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/fs.h"
#include "core/mem.h"
#include "notify/notify_int.h"

#define NONCE_LEN 12
#define TAG_LEN 16
static const unsigned char aad[] = "mops webhook secret v1";

int notify_key_load(const mops_env_t *env, unsigned char key[NOTIFY_KEY_LEN], mops_err_t *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/notify.key", env->data_dir);
    for (int tries = 0; tries < 2; tries++) {
        char *data;
        size_t len;
        int rc = mops_read_file(path, 4096, &data, &len, err);
        if (rc == 0) {
            int ok = len == NOTIFY_KEY_LEN;
            if (ok)
                memcpy(key, data, NOTIFY_KEY_LEN);
            memset(data, 0, len);
            free(data);
            return ok ? 0
                      : mops_err_set(err, MOPS_ECORRUPT,
                                     "%s is not a key of %d bytes: restore it from a backup",
                                     path, NOTIFY_KEY_LEN);
        }
        if (rc != MOPS_ENOTFOUND)
            return rc;
        unsigned char fresh[NOTIFY_KEY_LEN];
        if ((rc = mops_random_bytes(fresh, sizeof fresh)) != 0)
            return mops_err_set(err, rc, "cannot make a key for webhook secrets");
        rc = mops_write_file_new(path, fresh, sizeof fresh, 0600, err);
        memset(fresh, 0, sizeof fresh);
        /* Another process may have created it first: then read theirs. */
        if (rc != 0 && rc != MOPS_ECONFLICT)
            return rc;
    }
    return mops_err_set(err, MOPS_EIO, "cannot create or read %s", path);
}

int notify_secret_seal(const unsigned char key[NOTIFY_KEY_LEN], const char *secret, char **out,
                       mops_err_t *err)
{
    size_t n = strlen(secret);
    unsigned char *buf = mops_xmalloc(NONCE_LEN + n + TAG_LEN);
    int len = 0, fin = 0, ok = mops_random_bytes(buf, NONCE_LEN) == 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    ok = ok && c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
         EVP_EncryptUpdate(c, NULL, &len, aad, (int)sizeof aad - 1) == 1 &&
         EVP_EncryptUpdate(c, buf + NONCE_LEN, &len, (const unsigned char *)secret, (int)n) == 1 &&
         EVP_EncryptFinal_ex(c, buf + NONCE_LEN + len, &fin) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + NONCE_LEN + n) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        free(buf);
        return mops_err_set(err, MOPS_EINTERNAL, "cannot seal the webhook secret");
    }
    size_t total = NONCE_LEN + n + TAG_LEN;
    char *hex = mops_xmalloc(3 + 2 * total + 1);
    memcpy(hex, "v1:", 3);
    mops_hex_encode(buf, total, hex + 3);
    memset(buf, 0, total);
    free(buf);
    *out = hex;
    return 0;
}

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int notify_secret_open(const unsigned char key[NOTIFY_KEY_LEN], const char *sealed, char **out,
                       mops_err_t *err)
{
    size_t hl = strlen(sealed);
    if (strncmp(sealed, "v1:", 3) != 0 || (hl - 3) % 2 || (hl - 3) / 2 < NONCE_LEN + TAG_LEN)
        return mops_err_set(err, MOPS_ECORRUPT, "a stored webhook secret is damaged");
    size_t total = (hl - 3) / 2, n = total - NONCE_LEN - TAG_LEN;
    unsigned char *buf = mops_xmalloc(total);
    for (size_t i = 0; i < total; i++) {
        int hi = unhex(sealed[3 + 2 * i]), lo = unhex(sealed[4 + 2 * i]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return mops_err_set(err, MOPS_ECORRUPT, "a stored webhook secret is damaged");
        }
        buf[i] = (unsigned char)(hi << 4 | lo);
    }
    char *plain = mops_xmalloc(n + 1);
    int len = 0, fin = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
             EVP_DecryptUpdate(c, NULL, &len, aad, (int)sizeof aad - 1) == 1 &&
             EVP_DecryptUpdate(c, (unsigned char *)plain, &len, buf + NONCE_LEN, (int)n) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, buf + NONCE_LEN + n) == 1 &&
             EVP_DecryptFinal_ex(c, (unsigned char *)plain + len, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    free(buf);
    if (!ok) {
        memset(plain, 0, n + 1);
        free(plain);
        return mops_err_set(err, MOPS_ECORRUPT,
                            "a stored webhook secret does not open with DATA/notify.key (the key "
                            "was replaced?)");
    }
    plain[n] = '\0';
    *out = plain;
    return 0;
}
