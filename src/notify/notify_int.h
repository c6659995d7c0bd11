/*
 * notify_int.h — private to notify/: the key that seals webhook secrets,
 * and the shapes shared by its files.
 */
#ifndef MOPS_NOTIFY_INT_H
#define MOPS_NOTIFY_INT_H

#include "auth/auth.h"
#include "notify/notify.h"

#define NOTIFY_KEY_LEN 32

/* Load DATA/notify.key, creating it (32 random bytes, mode 0600) on first
 * use. MOPS_ECORRUPT when the file is not a key. */
int notify_key_load(const mops_env_t *env, unsigned char key[NOTIFY_KEY_LEN], mops_err_t *err);

/* Seal a secret for the store ("v1:" and hex of nonce, ciphertext, tag),
 * a heap string; and open one. */
int notify_secret_seal(const unsigned char key[NOTIFY_KEY_LEN], const char *secret, char **out,
                       mops_err_t *err);
int notify_secret_open(const unsigned char key[NOTIFY_KEY_LEN], const char *sealed, char **out,
                       mops_err_t *err);

/* A team's webhook by name, as the caller sees it (perm checked): id. */
int notify_webhook_find(const mops_ctx_t *ctx, const char *team, const char *name,
                        auth_perm_t perm, int64_t *team_id, int64_t *id, mops_err_t *err);

/* Queue one delivery of a new event for webhook_id (inside a transaction). */
int notify_event_insert(const mops_ctx_t *ctx, int64_t team_id, const char *event,
                        const json_t *data, int64_t *event_id, mops_err_t *err);
int notify_delivery_insert(const mops_ctx_t *ctx, int64_t event_id, int64_t webhook_id,
                           int64_t team_id, int64_t *id, mops_err_t *err);

/* One delivery as JSON, with its attempts. */
int notify_delivery_json(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err);

#endif
