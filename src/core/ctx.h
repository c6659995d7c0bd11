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

typedef struct mops_ctx {
    store_conn_t *db;
    const auth_principal_t *who; /* NULL: the server itself */
    const char *request_id;
    mops_arena_t *arena;
    const mops_env_t *env;
} mops_ctx_t;

#endif
