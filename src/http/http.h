/*
 * http.h — the REST API server: libmicrohttpd with its thread pool,
 * a thin skin over the domain modules. It owns request parsing, routing,
 * authentication of the bearer token, the JSON error shape
 * {"error": {"code", "message"}}, X-Request-Id, limits, the access log and
 * the audit entries of denied requests. Everything else is the domains'.
 */
#ifndef MOPS_HTTP_HTTP_H
#define MOPS_HTTP_HTTP_H

#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"
#include "store/store.h"

typedef struct http_server http_server_t;

typedef struct http_config {
    const char *host;       /* address to bind, e.g. "127.0.0.1" */
    int port;               /* 0: any free port (see http_server_port) */
    int threads;            /* worker threads */
    int64_t max_body;       /* JSON request bodies, bytes */
    int64_t max_upload;     /* artifact uploads, bytes */
    int access_log_fd;      /* one JSON line per request; -1: none */
    store_t *store;
    const mops_env_t *env;
} http_config_t;

/* Bind and start serving. *out is stopped and freed by http_server_stop. */
int http_server_start(const http_config_t *cfg, http_server_t **out, mops_err_t *err);

/* The port actually bound. */
int http_server_port(const http_server_t *s);

/* Stop accepting connections, let in-flight requests finish (up to
 * grace_ms), then stop the threads and free s. */
void http_server_stop(http_server_t *s, int grace_ms);

#endif
