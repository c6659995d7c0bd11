/*
 * ctx.h — what a domain operation knows about the request it serves: its
 * store connection, who asks, the request id, its arena, and the server's
 * environment. The HTTP layer builds one per request; the server builds one
 * for its own start-up work (who == NULL means "the system").
 */
#ifndef MOPS_CORE_CTX_H
#define MOPS_CORE_CTX_H

#include <stdint.h>

#include "core/mem.h"

typedef struct store_conn store_conn_t;
typedef struct auth_principal auth_principal_t;

/* Settings every domain module may read; owned by the server. */
typedef struct mops_env {
    const char *data_dir;      /* --data */
    const char *artifact_dir;  /* DATA/artifacts */
    int64_t max_upload;        /* bytes */
} mops_env_t;

/* What the auth module knew when it refused a request, kept so the refusal
 * can be audited with its context once the refusing transaction is gone:
 * the team whose object was refused, and for a token that was recognised but
 * unusable (revoked, expired, disabled user) whose it was. */
typedef struct mops_denial {
    int set;            /* a refusal happened; 404s are audited only then */
    int64_t team_id;    /* 0: not about one team */
    int64_t actor_id;   /* 0: unknown (no or unknown token) */
    char actor[72];
} mops_denial_t;

typedef struct mops_ctx {
    store_conn_t *db;
    const auth_principal_t *who; /* NULL: the server itself */
    const char *request_id;
    mops_arena_t *arena;
    const mops_env_t *env;
    mops_denial_t *denial;       /* filled on refusal; may be NULL */
} mops_ctx_t;

/* Note a refusal in ctx->denial (when there is one). */
static inline void mops_ctx_deny(const mops_ctx_t *ctx, int64_t team_id)
{
    if (ctx->denial) {
        ctx->denial->set = 1;
        if (team_id)
            ctx->denial->team_id = team_id;
    }
}

#endif
