/*
 * http_int.h — private to http/: the request, the response, and the route
 * table entry that each routes_<domain>.c file fills.
 */
#ifndef MOPS_HTTP_INT_H
#define MOPS_HTTP_INT_H

#include <jansson.h>
#include <microhttpd.h>

#include "auth/auth.h"
#include "http/http.h"

#define HTTP_MAX_PARAMS 6
#define HTTP_MAX_HEADERS 8

typedef enum {
    HTTP_BODY_NONE,   /* no body allowed */
    HTTP_BODY_JSON,   /* a JSON object, up to max_body */
    HTTP_BODY_STREAM, /* raw bytes handed to the route's stream callbacks */
} http_body_t;

typedef struct http_req http_req_t;

typedef struct http_resp {
    int status;                 /* default 200 */
    json_t *json;               /* body, owned; NULL for no JSON body */
    char *body;                 /* or a body already serialised (heap, owned) */
    size_t body_len;
    int fd;                     /* file body when >= 0 (closed by MHD) */
    int64_t fd_size;
    const char *text;           /* a text body (copied) when not NULL: rendered pages */
    size_t text_len;
    const char *content_type;   /* default application/json */
    const char *headers[HTTP_MAX_HEADERS][2];
    int nheaders;
} http_resp_t;

typedef struct http_route {
    const char *method;
    const char *pattern; /* "/api/v1/models/:team/:model"; ":x" captures */
    const char *action;  /* names the operation in audit entries of denials */
    http_body_t body;
    int public;          /* no token needed (only /healthz) */
    /* Produce the response, or return an error code with err filled. */
    int (*handle)(http_req_t *req, http_resp_t *resp, mops_err_t *err);
    /* HTTP_BODY_STREAM only: called once headers are in, per chunk, and on
     * a failed or interrupted request. handle runs after the last chunk. */
    int (*stream_begin)(http_req_t *req, mops_err_t *err);
    int (*stream_data)(http_req_t *req, const char *data, size_t n, mops_err_t *err);
    void (*stream_abort)(http_req_t *req);
    /* HTTP_BODY_STREAM only: the content type the body must have (NULL:
     * application/octet-stream). */
    const char *stream_type;
} http_route_t;

struct http_req {
    http_server_t *srv;
    struct MHD_Connection *conn;
    const char *method, *path;
    const http_route_t *route;
    const char *param_names[HTTP_MAX_PARAMS];
    const char *param_values[HTTP_MAX_PARAMS]; /* decoded */
    int nparams;
    const char **query_names, **query_values;  /* decoded, in the arena */
    int nquery;
    const char *allow;   /* for a 405: the methods the path takes */
    mops_arena_t *arena;
    mops_ctx_t ctx;
    mops_denial_t denial; /* ctx.denial points here */
    char request_id[68];
    int64_t t0_us;
    int64_t cpu_mark_ns; /* its CPU time counts from here (mops_thread_cpu_since) */
    mops_buf_t body;
    int64_t body_len;
    json_t *json;        /* parsed JSON body */
    void *stream;        /* the route's upload state */
    int answered;        /* a response is queued; drop the rest */
    int failed;          /* an error is waiting in err to be answered */
    int64_t dropped;     /* body bytes read and dropped after a refusal */
    mops_err_t err;
    int status;          /* sent status, for the access log */
    int64_t bytes;       /* sent body size */
};

/* Match req's method and raw path against the route tables and decode the
 * path parameters and query string: MOPS_ENOTFOUND, MOPS_EMETHOD naming the
 * allowed methods, or MOPS_EINVAL for a parameter that cannot be decoded. */
int http_route_find(http_req_t *req, mops_err_t *err);

/* A path parameter by its name in the pattern (never NULL for a matched
 * route's own parameters). */
const char *http_param(const http_req_t *req, const char *name);

/* A query-string parameter, decoded ("" when given without '='), or NULL. */
const char *http_query(const http_req_t *req, const char *name);

/* Query integer in [min, max], dflt when absent; MOPS_EINVAL naming it. */
int http_query_int(const http_req_t *req, const char *name, int64_t dflt, int64_t min,
                   int64_t max, int64_t *out, mops_err_t *err);

/* Query boolean ("true"/"false"/"1"/"0"), dflt when absent. */
int http_query_bool(const http_req_t *req, const char *name, int dflt, int *out,
                    mops_err_t *err);

/* archived=false (the default) | true | any, as 0, 1, -1. */
int http_query_archived(const http_req_t *req, int *out, mops_err_t *err);

/* limit (1..1000, default 50) and page_token (an integer >= 0). */
int http_query_page(const http_req_t *req, int *limit, int64_t *token, mops_err_t *err);

/* Refuse query parameters not in allowed (NULL-terminated). */
int http_query_check(const http_req_t *req, const char *const *allowed, mops_err_t *err);

/* The server's upload limit in bytes. */
int64_t http_max_upload(const http_req_t *req);

/* Answer a stored file: fd (closed by the server), its size, its SHA-256
 * in X-Mops-Sha256 and ETag, and a Content-Disposition naming it. */
void http_resp_file(http_req_t *req, http_resp_t *resp, int fd, int64_t size, const char *sha,
                    const char *content_type, const char *filename);

/* Set the JSON body (taking the reference) and status. */
void http_resp_json(http_resp_t *resp, int status, json_t *body);

/* Most handlers have one shape: refuse any query parameter, call one domain
 * function that fills `json_t *out`, answer it with `status`. */
#define HTTP_JSON_HANDLER(fn, status, call)                                                        \
    static int fn(http_req_t *req, http_resp_t *resp, mops_err_t *err)                             \
    {                                                                                              \
        static const char *const no_query_[] = {NULL};                                             \
        json_t *out = NULL;                                                                        \
        int rc = http_query_check(req, no_query_, err);                                            \
        if (rc == 0)                                                                               \
            rc = (call);                                                                           \
        if (rc == 0)                                                                               \
            http_resp_json(resp, status, out);                                                     \
        return rc;                                                                                 \
    }

/* Streamed uploads have one shape. prefix_begin refuses query parameters
 * outside `allowed` (a NULL-terminated array) and evaluates `begin_call`,
 * which opens the domain's upload state into `type *u`, kept in
 * req->stream; prefix_data hands each chunk to write_fn; prefix_abort gives
 * a failed or interrupted request to abort_fn; prefix_finish calls
 * finish_fn (which frees the state whatever happens) to fill `json_t *out`
 * and answers it with 201: the route entry names prefix_finish,
 * prefix_begin, prefix_data and prefix_abort. */
#define HTTP_UPLOAD_HANDLERS(prefix, type, allowed, begin_call, write_fn, abort_fn, finish_fn)    \
    static int prefix##_begin(http_req_t *req, mops_err_t *err)                                    \
    {                                                                                              \
        type *u;                                                                                   \
        int rc = http_query_check(req, allowed, err);                                              \
        if (rc == 0)                                                                               \
            rc = (begin_call);                                                                     \
        if (rc == 0)                                                                               \
            req->stream = u;                                                                       \
        return rc;                                                                                 \
    }                                                                                              \
    static int prefix##_data(http_req_t *req, const char *data, size_t n, mops_err_t *err)         \
    {                                                                                              \
        return write_fn(req->stream, data, n, err);                                                \
    }                                                                                              \
    static void prefix##_abort(http_req_t *req)                                                    \
    {                                                                                              \
        abort_fn(req->stream);                                                                     \
        req->stream = NULL;                                                                        \
    }                                                                                              \
    static int prefix##_finish(http_req_t *req, http_resp_t *resp, mops_err_t *err)                \
    {                                                                                              \
        json_t *out = NULL;                                                                        \
        type *u = req->stream;                                                                     \
        req->stream = NULL; /* finish_fn frees it whatever happens */                              \
        int rc = finish_fn(&req->ctx, u, &out, err);                                               \
        if (rc == 0)                                                                               \
            http_resp_json(resp, 201, out);                                                        \
        return rc;                                                                                 \
    }

/* Route tables, each ended by an entry with a NULL method. */
extern const http_route_t http_routes_core[];
extern const http_route_t http_routes_auth[];
extern const http_route_t http_routes_registry[];
extern const http_route_t http_routes_audit[];
extern const http_route_t http_routes_data[];
extern const http_route_t http_routes_serve[];
/* Inference and the Open Inference Protocol: the only routes a token
 * limited to inference may use, and the hot path, which takes a store
 * connection only when it needs one. */
extern const http_route_t http_routes_infer[];

/* Is r one of http_routes_infer? */
int http_route_is_infer(const http_route_t *r);
extern const http_route_t http_routes_governance[];
extern const http_route_t http_routes_notify[];
extern const http_route_t http_routes_monitor[];
extern const http_route_t http_routes_finops[];

#endif
