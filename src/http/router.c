/*
 * router.c — matching a method and path against the route tables, and the
 * small accessors handlers use for path and query parameters.
 *
 * The request target arrives still percent-encoded (server.c tells MHD not
 * to decode it): the path is split on its literal '/' first and each
 * captured segment decoded after, so "a%2Fb" is one parameter "a/b" and not
 * two segments; query names and values are decoded here too. A decoded NUL
 * byte or invalid UTF-8 is refused, naming the parameter, since no name or
 * value may hold them and C strings would silently cut at the NUL.
 */
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "http/http_int.h"

static const http_route_t *const tables[] = {
    http_routes_infer, /* first: the hot path matches at once */
    http_routes_core,
    http_routes_auth,
    http_routes_registry,
    http_routes_audit,
    http_routes_data,
    http_routes_serve,
    http_routes_governance,
    http_routes_notify,
    http_routes_finops,
};

int http_route_is_infer(const http_route_t *r)
{
    const http_route_t *t = http_routes_infer;
    while (t->method)
        t++;
    return r >= http_routes_infer && r < t;
}

/* Match one pattern against path; on success fill the request's params. */
static int pattern_match(const char *pattern, const char *path, http_req_t *req)
{
    int n = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (*p != '/' || *u != '/')
            return 0;
        p++;
        u++;
        const char *pe = strchr(p, '/'), *ue = strchr(u, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        size_t ul = ue ? (size_t)(ue - u) : strlen(u);
        if (*p == ':') {
            if (ul == 0 || n == HTTP_MAX_PARAMS)
                return 0;
            req->param_names[n] = mops_arena_strndup(req->arena, p + 1, pl - 1);
            req->param_values[n] = mops_arena_strndup(req->arena, u, ul);
            n++;
        } else if (pl != ul || memcmp(p, u, pl) != 0) {
            return 0;
        }
        p += pl;
        u += ul;
    }
    if (*p || *u)
        return 0;
    req->nparams = n;
    return 1;
}

/* Percent-decode s into the arena and set *out; or return why the result
 * is unusable (NULL when it is fine). */
static const char *decode(mops_arena_t *a, const char *s, const char **out)
{
    char *d = mops_arena_strndup(a, s, strlen(s));
    size_t len = MHD_http_unescape(d);
    if (strlen(d) != len)
        return "holds a NUL byte (%00)";
    if (!mops_utf8_valid(d, len))
        return "is not UTF-8 once decoded";
    *out = d;
    return NULL;
}

static int decode_error(const char *what, const char *name, const char *raw, const char *why,
                        mops_err_t *err)
{
    char shown[80], value[100];
    mops_text_escape(name, shown, sizeof shown);
    mops_text_escape(raw, value, sizeof value);
    return mops_err_set(err, MOPS_EINVAL, "%s %s (\"%s\") %s", what, shown, value, why);
}

typedef struct query_collect {
    http_req_t *req;
    const char *bad_name, *bad_raw, *why; /* the first parameter that failed */
} query_collect_t;

static enum MHD_Result query_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    query_collect_t *qc = cls;
    http_req_t *req = qc->req;
    const char *k, *v;
    if ((qc->why = decode(req->arena, key, &k)) != NULL) {
        qc->bad_name = qc->bad_raw = key;
        return MHD_NO;
    }
    value = value ? value : ""; /* "?x" is "?x=" */
    if ((qc->why = decode(req->arena, value, &v)) != NULL) {
        qc->bad_name = k;
        qc->bad_raw = value;
        return MHD_NO;
    }
    req->query_names[req->nquery] = k;
    req->query_values[req->nquery++] = v;
    return MHD_YES;
}

/* Decode the matched route's path parameters and the query string. */
static int decode_target(http_req_t *req, mops_err_t *err)
{
    for (int i = 0; i < req->nparams; i++) {
        const char *raw = req->param_values[i];
        const char *why = decode(req->arena, raw, &req->param_values[i]);
        if (why)
            return decode_error("path parameter", req->param_names[i], raw, why, err);
    }
    int n = MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
    if (n <= 0)
        return 0;
    req->query_names = mops_arena_alloc(req->arena, (size_t)n * sizeof *req->query_names);
    req->query_values = mops_arena_alloc(req->arena, (size_t)n * sizeof *req->query_values);
    query_collect_t qc = {req, NULL, NULL, NULL};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_collect, &qc);
    if (qc.bad_name)
        return decode_error("query parameter", qc.bad_name, qc.bad_raw, qc.why, err);
    return 0;
}

int http_route_find(http_req_t *req, mops_err_t *err)
{
    const char *method = strcmp(req->method, "HEAD") ? req->method : "GET";
    int path_known = 0;
    mops_buf_t allow = MOPS_BUF_INIT;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const http_route_t *r = tables[t]; r->method; r++) {
            if (!pattern_match(r->pattern, req->path, req))
                continue;
            if (!strcmp(r->method, method)) {
                req->route = r;
                mops_buf_release(&allow);
                return decode_target(req, err);
            }
            path_known = 1;
            mops_buf_printf(&allow, "%s%s", allow.len ? ", " : "", r->method);
        }
    char shown[200];
    mops_text_escape(req->path, shown, sizeof shown);
    int rc;
    if (path_known) {
        req->allow = mops_arena_strdup(req->arena, allow.data);
        rc = mops_err_set(err, MOPS_EMETHOD, "%s is not allowed on %s (allowed: %s)", req->method,
                          shown, allow.data);
    }
    else
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no such endpoint: %s %s", req->method, shown);
    mops_buf_release(&allow);
    req->nparams = 0;
    return rc;
}

const char *http_param(const http_req_t *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (!strcmp(req->param_names[i], name))
            return req->param_values[i];
    return "";
}

const char *http_query(const http_req_t *req, const char *name)
{
    for (int i = 0; i < req->nquery; i++)
        if (!strcmp(req->query_names[i], name))
            return req->query_values[i];
    return NULL;
}

int http_query_int(const http_req_t *req, const char *name, int64_t dflt, int64_t min,
                   int64_t max, int64_t *out, mops_err_t *err)
{
    const char *v = http_query(req, name);
    long long n;
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (mops_parse_i64(v, &n) != 0 || n < min || n > max) {
        char shown[64];
        mops_text_escape(v, shown, sizeof shown);
        return mops_err_set(err, MOPS_EINVAL,
                            "query parameter %s=\"%s\" must be an integer from %lld to %lld", name,
                            shown, (long long)min, (long long)max);
    }
    *out = n;
    return 0;
}

int http_query_bool(const http_req_t *req, const char *name, int dflt, int *out,
                    mops_err_t *err)
{
    const char *v = http_query(req, name);
    if (!v)
        *out = dflt;
    else if (!strcmp(v, "true") || !strcmp(v, "1"))
        *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0"))
        *out = 0;
    else
        return mops_err_set(err, MOPS_EINVAL, "query parameter %s must be true or false", name);
    return 0;
}

int http_query_check(const http_req_t *req, const char *const *allowed, mops_err_t *err)
{
    const char *bad = NULL;
    for (int i = 0; i < req->nquery && !bad; i++) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, req->query_names[i]) != 0)
            a++;
        if (!*a)
            bad = req->query_names[i];
    }
    if (!bad)
        return 0;
    mops_buf_t b = MOPS_BUF_INIT;
    for (const char *const *a = allowed; *a; a++)
        mops_buf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
    char shown[80];
    mops_text_escape(bad, shown, sizeof shown);
    mops_err_set(err, MOPS_EINVAL, "unknown query parameter \"%s\" (allowed: %s)", shown,
                 b.data ? b.data : "none");
    mops_buf_release(&b);
    return MOPS_EINVAL;
}

int http_query_archived(const http_req_t *req, int *out, mops_err_t *err)
{
    const char *v = http_query(req, "archived");
    if (!v || !strcmp(v, "false"))
        *out = 0;
    else if (!strcmp(v, "true"))
        *out = 1;
    else if (!strcmp(v, "any"))
        *out = -1;
    else
        return mops_err_set(err, MOPS_EINVAL, "query parameter archived must be false, true or any");
    return 0;
}

int http_query_page(const http_req_t *req, int *limit, int64_t *token, mops_err_t *err)
{
    int64_t l;
    int rc = http_query_int(req, "limit", 50, 1, 1000, &l, err);
    if (rc == 0)
        rc = http_query_int(req, "page_token", 0, 0, INT64_MAX, token, err);
    *limit = (int)l;
    return rc;
}

void http_resp_file(http_req_t *req, http_resp_t *resp, int fd, int64_t size, const char *sha,
                    const char *content_type, const char *filename)
{
    resp->fd = fd;
    resp->fd_size = size;
    resp->content_type = content_type;
    resp->headers[resp->nheaders][0] = "X-Mops-Sha256";
    resp->headers[resp->nheaders++][1] = mops_arena_strdup(req->arena, sha);
    resp->headers[resp->nheaders][0] = "ETag";
    resp->headers[resp->nheaders++][1] = mops_arena_printf(req->arena, "\"sha256:%s\"", sha);
    resp->headers[resp->nheaders][0] = "Content-Disposition";
    resp->headers[resp->nheaders++][1] =
        mops_arena_printf(req->arena, "attachment; filename=\"%s\"", filename);
}

void http_resp_json(http_resp_t *resp, int status, json_t *body)
{
    json_decref(resp->json);
    resp->status = status;
    resp->json = body;
}
