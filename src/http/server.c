/*
 * server.c — libmicrohttpd glue: the access handler that walks a request
 * through its phases (headers, body chunks, final call), the completion
 * callback that logs and frees it, start-up and graceful stop.
 *
 * Phases of one request:
 *   1. headers in: match a route, check declared length and content type,
 *      authenticate, open the upload for streamed bodies. Any refusal is
 *      answered now, before the body is read.
 *   2. body chunks: appended to the JSON buffer (capped) or streamed.
 *   3. final call: parse JSON, run the handler, queue its response.
 * 401 and 403 answers are appended to the audit trail. After a refusal in
 * phase 2 the rest of the body is read and dropped, so that the client gets
 * the answer, but only up to HTTP_DROP_MAX: past that the connection is
 * closed instead (MHD cannot answer before the body has ended).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "core/text.h"
#include "core/time.h"
#include "http/http_int.h"

/* Body bytes read and dropped after a refusal before hanging up instead. */
#define HTTP_DROP_MAX (1 << 20)

struct http_server {
    struct MHD_Daemon *daemon;
    http_config_t cfg;
    int port;
    atomic_int active;
};

int64_t http_max_upload(const http_req_t *req)
{
    return req->srv->cfg.max_upload;
}

/* ------------------------------------------------------------ responses */

static enum MHD_Result queue(http_req_t *req, http_resp_t *resp)
{
    struct MHD_Response *r;
    int64_t len;
    if (resp->fd >= 0) {
        r = MHD_create_response_from_fd64((uint64_t)resp->fd_size, resp->fd);
        len = resp->fd_size;
        resp->fd = -1; /* MHD closes it */
    } else if (resp->body) {
        r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
        len = (int64_t)resp->body_len;
        resp->body = NULL; /* MHD frees it */
    } else if (resp->text) {
        r = MHD_create_response_from_buffer(resp->text_len, (void *)resp->text,
                                            MHD_RESPMEM_MUST_COPY);
        len = (int64_t)resp->text_len;
    } else {
        char *body = resp->json ? json_dumps(resp->json, JSON_COMPACT) : NULL;
        size_t n = body ? strlen(body) : 0;
        if (body) {
            body = realloc(body, n + 2);
            body[n++] = '\n';
            body[n] = '\0';
        }
        r = MHD_create_response_from_buffer(n, body ? body : (void *)"",
                                            body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        len = (int64_t)n;
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type",
                            resp->content_type ? resp->content_type : "application/json");
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    for (int i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
    int status = resp->status ? resp->status : 200;
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    req->status = status;
    req->bytes = len;
    return ret;
}

static store_conn_t *req_db(http_req_t *req, mops_err_t *err)
{
    if (!req->ctx.db && store_conn_acquire(req->srv->cfg.store, &req->ctx.db, err) != 0)
        return NULL;
    return req->ctx.db;
}

/* Answer with err's code and message. Refusals are audited: every 401 and
 * 403, and the 404s the auth module marked as hiding another team's object. */
static enum MHD_Result answer_error(http_req_t *req, const mops_err_t *e)
{
    http_resp_t resp = {.fd = -1};
    int status = mops_err_http_status(e->code);
    /* The Open Inference Protocol's endpoints answer errors in its shape. */
    if (!strncmp(req->path, "/v2", 3) && (req->path[3] == '/' || !req->path[3]))
        http_resp_json(&resp, status, json_pack("{s:s}", "error", e->msg));
    else
        http_resp_json(&resp, status,
                       json_pack("{s:{s:s, s:s}}", "error", "code", mops_err_name(e->code),
                                 "message", e->msg));
    if (status == 401) {
        resp.headers[resp.nheaders][0] = "WWW-Authenticate";
        resp.headers[resp.nheaders++][1] = "Bearer realm=\"mops\"";
    }
    if (status == 405 && req->allow) {
        resp.headers[resp.nheaders][0] = "Allow";
        resp.headers[resp.nheaders++][1] = req->allow;
    }
    if (status == 401 || status == 403 || (status == 404 && req->denial.set)) {
        mops_err_t aerr;
        const char *action = req->route ? req->route->action : "http.request";
        if (!req_db(req, &aerr) ||
            audit_record_denied(&req->ctx, action, req->path, status, e->msg, &aerr) != 0)
            mops_error("request %s: cannot audit a refused request: %s", req->request_id,
                       aerr.msg);
    }
    if (status >= 500)
        mops_error("request %s: %s %s: %s", req->request_id, req->method, req->path, e->msg);
    enum MHD_Result ret = queue(req, &resp);
    json_decref(resp.json);
    return ret;
}

/* --------------------------------------------------------- request phases */

static void set_request_id(http_req_t *req)
{
    const char *given = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given) {
        size_t n = strlen(given);
        int ok = n >= 1 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = (given[i] >= 'a' && given[i] <= 'z') || (given[i] >= 'A' && given[i] <= 'Z') ||
                 (given[i] >= '0' && given[i] <= '9') || strchr("._-:", given[i]);
        if (ok) {
            memcpy(req->request_id, given, n + 1);
            return;
        }
    }
    /* 96 bits that only need to be unique, not secret: the time in
     * milliseconds (48 bits), then 48 bits of a per-thread generator seeded
     * from the system's randomness once (not a libcrypto call per request).
     * Ids sort by time, so the prediction log's index of them grows at its
     * end instead of dirtying a random page per logged request. */
    static __thread uint64_t seed[2];
    if (!seed[0] && !seed[1] && (mops_random_bytes(seed, sizeof seed) != 0 || !(seed[0] | seed[1])))
        seed[0] = (uint64_t)mops_mono_us() | 1;
    /* xorshift128+ */
    uint64_t x = seed[0], y = seed[1];
    seed[0] = y;
    x ^= x << 23;
    seed[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    uint64_t rnd = seed[1] + y, ms = (uint64_t)mops_now_ms();
    unsigned char r[12];
    for (int i = 0; i < 6; i++) {
        r[i] = (unsigned char)(ms >> (40 - 8 * i));
        r[6 + i] = (unsigned char)(rnd >> (8 * i));
    }
    mops_hex_encode(r, sizeof r, req->request_id);
}

static int content_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Phase 1. Returns 0 to go on, or an error code with err filled. */
/* Who is asking: the bearer token, for every route but the public one. */
static int authenticate(http_req_t *req, mops_err_t *err)
{
    const char *authz = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    const char *token = NULL;
    if (authz && !strncasecmp(authz, "Bearer ", 7))
        token = authz + 7;
    else if (authz)
        return mops_err_set(err, MOPS_EUNAUTH, "the Authorization header must be 'Bearer <token>'");
    auth_principal_t *who;
    /* A token seen in the last seconds needs no store round trip. */
    if (auth_cache_lookup(token, req->arena, &who)) {
        req->ctx.who = who;
        return 0;
    }
    if (!req_db(req, err))
        return err->code;
    int rc = auth_authenticate(req->ctx.db, token, req->arena, &who, &req->denial, err);
    if (rc == 0)
        req->ctx.who = who;
    return rc;
}

static int on_headers(http_req_t *req, mops_err_t *err)
{
    int rc = http_route_find(req, err);
    if (rc != 0)
        return rc;
    const http_route_t *r = req->route;
    /* Authenticate first: anonymous callers learn nothing, limits included. */
    if (!r->public && (rc = authenticate(req, err)) != 0)
        return rc;
    /* A token limited to inference may use nothing else. */
    if (!r->public && !http_route_is_infer(r) &&
        (rc = auth_require_unscoped(&req->ctx, r->action, err)) != 0)
        return rc;
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");
    long long declared = 0;
    if (cl && mops_parse_i64(cl, &declared) != 0)
        return mops_err_set(err, MOPS_EINVAL, "Content-Length is not a number");
    const http_config_t *cfg = &req->srv->cfg;
    if (r->body == HTTP_BODY_JSON && declared > cfg->max_body)
        return mops_err_set(err, MOPS_ETOOBIG,
                            "request body of %lld bytes is over the limit of %lld bytes",
                            declared, (long long)cfg->max_body);
    if (r->body == HTTP_BODY_STREAM && declared > cfg->max_upload)
        return mops_err_set(err, MOPS_ETOOBIG,
                            "upload of %lld bytes is over the limit of %lld bytes "
                            "(server option --max-upload)",
                            declared, (long long)cfg->max_upload);
    /* A body comes with a length or in chunks. */
    int has_body = declared > 0 ||
                   MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    if (r->body == HTTP_BODY_JSON && has_body && !content_type_is(ct, "application/json"))
        return mops_err_set(err, MOPS_EMEDIA, "Content-Type must be application/json, not %.60s",
                            ct ? ct : "missing");
    const char *stream_type = r->stream_type ? r->stream_type : "application/octet-stream";
    if (r->body == HTTP_BODY_STREAM && !content_type_is(ct, stream_type))
        return mops_err_set(err, MOPS_EMEDIA, "Content-Type must be %s, not %.60s", stream_type,
                            ct ? ct : "missing");
    if (r->body == HTTP_BODY_STREAM) {
        if (!req_db(req, err))
            return err->code;
        return r->stream_begin(req, err);
    }
    return 0;
}

/* Phase 2: one chunk of body. */
static void on_data(http_req_t *req, const char *data, size_t n)
{
    const http_config_t *cfg = &req->srv->cfg;
    req->body_len += (int64_t)n;
    switch (req->route->body) {
    case HTTP_BODY_NONE:
        mops_err_set(&req->err, MOPS_EINVAL, "%s %s takes no request body", req->method,
                     req->route->pattern);
        req->failed = 1;
        break;
    case HTTP_BODY_JSON:
        if (req->body_len > cfg->max_body) {
            mops_err_set(&req->err, MOPS_ETOOBIG, "request body is over the limit of %lld bytes",
                         (long long)cfg->max_body);
            req->failed = 1;
            mops_buf_release(&req->body);
        } else {
            mops_buf_append(&req->body, data, n);
        }
        break;
    case HTTP_BODY_STREAM:
        if (req->route->stream_data(req, data, n, &req->err) != 0) {
            req->failed = 1;
            req->route->stream_abort(req); /* no partial file while the rest is dropped */
        }
        break;
    }
}

/* Phase 3: run the handler. */
static enum MHD_Result on_complete(http_req_t *req)
{
    if (req->failed)
        return answer_error(req, &req->err);
    mops_err_t err;
    mops_err_clear(&err);
    /* Inference bodies are parsed by their handlers (serve's own parser). */
    if (req->route->body == HTTP_BODY_JSON && !http_route_is_infer(req->route)) {
        if (req->body_len == 0)
            req->json = json_object(); /* no body: an empty object, checked by the domain */
        else if (mops_json_parse_object(req->body.data, req->body.len, &req->json, &err) != 0)
            return answer_error(req, &err);
    }
    /* Inference handlers take a store connection only when they need one. */
    if (!http_route_is_infer(req->route) && !req_db(req, &err))
        return answer_error(req, &err);
    http_resp_t resp = {.fd = -1};
    int rc = req->route->handle(req, &resp, &err);
    if (rc != 0) {
        json_decref(resp.json);
        free(resp.body);
        if (resp.fd >= 0)
            close(resp.fd);
        if (!err.code)
            mops_err_set(&err, rc, "%s", "internal error");
        return answer_error(req, &err);
    }
    enum MHD_Result ret = queue(req, &resp);
    json_decref(resp.json);
    free(resp.body);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    http_server_t *srv = cls;
    http_req_t *req = *con_cls;
    if (!req) {
        req = mops_xcalloc(1, sizeof *req);
        req->srv = srv;
        req->conn = conn;
        req->arena = mops_arena_new();
        req->t0_us = mops_mono_us();
        req->method = mops_arena_strdup(req->arena, method);
        req->path = mops_arena_strdup(req->arena, url);
        set_request_id(req);
        req->ctx.arena = req->arena;
        req->ctx.env = srv->cfg.env;
        req->ctx.request_id = req->request_id;
        req->ctx.denial = &req->denial;
        /* A request's CPU time is counted from the thread's previous
         * reading of its clock (the end of the request before, usually):
         * the work of receiving it counts too, and one reading per request
         * instead of two saves a system call. */
        int64_t last = mops_thread_cpu_last_ns();
        req->cpu_mark_ns = last ? last : mops_thread_cpu_ns();
        atomic_fetch_add(&srv->active, 1);
        *con_cls = req;
        mops_err_t err;
        mops_err_clear(&err);
        if (on_headers(req, &err) != 0) {
            req->answered = 1;
            return answer_error(req, &err);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!req->answered && !req->failed) {
            on_data(req, upload_data, n);
            return MHD_YES;
        }
        req->dropped += (int64_t)n; /* refused: drop the rest, within reason */
        if (req->dropped > HTTP_DROP_MAX) {
            mops_warn("request %s: %s %s: closing the connection: %s", req->request_id,
                      req->method, req->path, req->failed ? req->err.msg : "refused");
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (req->answered)
        return MHD_YES;
    return on_complete(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    http_server_t *srv = cls;
    http_req_t *req = *con_cls;
    if (!req)
        return;
    if (req->stream && req->route && req->route->stream_abort)
        req->route->stream_abort(req);
    int64_t us = mops_mono_us() - req->t0_us;
    if (srv->cfg.access_log_fd >= 0) {
        /* Written by hand, not through jansson or printf: it is a cost of
         * every request. One write(2) per line keeps lines whole. */
        char ts[40];
        mops_time_format(mops_now_ms(), ts, sizeof ts);
        mops_buf_t b = MOPS_BUF_INIT;
        mops_buf_puts(&b, "{\"ts\":\"");
        mops_buf_puts(&b, ts);
        mops_buf_puts(&b, "\",\"request_id\":");
        mops_json_buf_str(&b, req->request_id);
        mops_buf_puts(&b, ",\"method\":");
        mops_json_buf_str(&b, req->method);
        mops_buf_puts(&b, ",\"path\":");
        mops_json_buf_str(&b, req->path);
        mops_buf_puts(&b, ",\"status\":");
        mops_buf_int(&b, req->status);
        mops_buf_puts(&b, ",\"bytes\":");
        mops_buf_int(&b, (long long)req->bytes);
        mops_buf_puts(&b, ",\"us\":");
        mops_buf_int(&b, (long long)us);
        mops_buf_puts(&b, ",\"user\":");
        mops_json_buf_str(&b, req->ctx.who ? req->ctx.who->user : "-");
        mops_buf_puts(&b, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK
                              ? ",\"outcome\":\"completed\"}\n"
                              : ",\"outcome\":\"aborted\"}\n");
        ssize_t w = write(srv->cfg.access_log_fd, b.data, b.len);
        (void)w;
        mops_buf_release(&b);
    }
    /* A request that did not read the clock (not an inference) closes
     * its span here, so the next one is not charged for it. */
    if (mops_thread_cpu_last_ns() <= req->cpu_mark_ns)
        (void)mops_thread_cpu_ns();
    store_conn_release(req->ctx.db);
    json_decref(req->json);
    mops_buf_release(&req->body);
    mops_arena_free(req->arena);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->active, 1);
}

/* Leave the request target percent-encoded: router.c decodes each path
 * segment and query parameter after splitting them. */
static size_t keep_escaped(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    mops_warn("http: %s", msg);
}

/* ------------------------------------------------------------ lifecycle */

int http_server_start(const http_config_t *cfg, http_server_t **out, mops_err_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0)
        return mops_err_set(err, MOPS_EINVAL, "cannot resolve listen address '%s': %s",
                            cfg->host, gai_strerror(gai));
    http_server_t *s = mops_xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    /* Each connection's buffer pool (request line, headers, read buffer),
     * libmicrohttpd's default size: the library zeroes all of it between
     * two requests of a keep-alive connection, so a larger pool is paid
     * for on every request. */
    enum { HTTP_CONN_MEMORY = 32 * 1024 };
    /* poll(2), not epoll: with epoll, libmicrohttpd 0.9.75 misses about one
     * client hang-up in five during an upload (the connection then waits
     * out its timeout holding a partial file); with poll it sees every one.
     * Each pool thread polls only its own connections (a few dozen at
     * most on the machines we measure, docs/performance.md). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads > 0 ? cfg->threads : 4),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        free(s);
        return mops_err_set(err, MOPS_EIO,
                            "cannot listen on %s:%d (in use, or not an address of this machine)",
                            cfg->host, cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return 0;
}

int http_server_port(const http_server_t *s)
{
    return s->port;
}

void http_server_stop(http_server_t *s, int grace_ms)
{
    if (!s)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (int waited = 0; atomic_load(&s->active) > 0 && waited < grace_ms; waited += 10)
        usleep(10 * 1000);
    if (atomic_load(&s->active) > 0)
        mops_warn("http: stopping with %d requests still in flight", atomic_load(&s->active));
    MHD_stop_daemon(s->daemon);
    free(s);
}
