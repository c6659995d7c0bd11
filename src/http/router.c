/*
 * router.c — matching a method and path against the route tables, and the
 * small accessors handlers use for path and query parameters.
 */
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "http/http_int.h"

static const http_route_t *const tables[] = {
    http_routes_core,
    http_routes_auth,
    http_routes_registry,
    http_routes_audit,
};

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
                return 0;
            }
            path_known = 1;
            mops_buf_printf(&allow, "%s%s", allow.len ? ", " : "", r->method);
        }
    char shown[200];
    mops_text_escape(req->path, shown, sizeof shown);
    int rc;
    if (path_known)
        rc = mops_err_set(err, MOPS_EMETHOD, "%s is not allowed on %s (allowed: %s)", req->method,
                          shown, allow.data);
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
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
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

typedef struct {
    const char *const *allowed;
    const char *bad;
} query_check_t;

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    (void)value;
    query_check_t *qc = cls;
    for (const char *const *a = qc->allowed; *a; a++)
        if (!strcmp(*a, key))
            return MHD_YES;
    qc->bad = key;
    return MHD_NO;
}

int http_query_check(const http_req_t *req, const char *const *allowed, mops_err_t *err)
{
    query_check_t qc = {allowed, NULL};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_iter, &qc);
    if (!qc.bad)
        return 0;
    mops_buf_t b = MOPS_BUF_INIT;
    for (const char *const *a = allowed; *a; a++)
        mops_buf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
    char shown[80];
    mops_text_escape(qc.bad, shown, sizeof shown);
    mops_err_set(err, MOPS_EINVAL, "unknown query parameter \"%s\" (allowed: %s)", shown,
                 b.data ? b.data : "none");
    mops_buf_release(&b);
    return MOPS_EINVAL;
}

void http_resp_json(http_resp_t *resp, int status, json_t *body)
{
    json_decref(resp->json);
    resp->status = status;
    resp->json = body;
}
