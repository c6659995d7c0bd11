/*
 * routes_serve.c — /api/v1/deployments (create, list, show, update, roll
 * back, delete, history, stats) and /api/v1/jobs (input uploads, submit,
 * list, show, cancel, result download): each handed to one serve_*
 * function. Inference itself is in routes_infer.c.
 */
#include <string.h>
#include <unistd.h>

#include "core/text.h"
#include "http/http_int.h"
#include "serve/serve.h"

#define NAME http_param(req, "name")

static const char *const no_query[] = {NULL};

static int page(const http_req_t *req, int *limit, int64_t *token, mops_err_t *err)
{
    int64_t l;
    int rc = http_query_int(req, "limit", 50, 1, 1000, &l, err);
    if (rc == 0)
        rc = http_query_int(req, "page_token", 0, 0, INT64_MAX, token, err);
    *limit = (int)l;
    return rc;
}

static int job_id(const http_req_t *req, int64_t *id, mops_err_t *err)
{
    long long v;
    if (mops_parse_i64(http_param(req, "id"), &v) != 0)
        return mops_err_set(err, MOPS_EINVAL, "job id must be a number");
    *id = v;
    return 0;
}

/* ----------------------------------------------------------- deployments */

HTTP_JSON_HANDLER(deploy_create, 201, serve_deployment_create(&req->ctx, req->json, &out, err))
HTTP_JSON_HANDLER(deploy_get, 200, serve_deployment_get(&req->ctx, NAME, &out, err))
HTTP_JSON_HANDLER(deploy_update, 200,
                  serve_deployment_update(&req->ctx, NAME, req->json, &out, err))
HTTP_JSON_HANDLER(deploy_rollback, 200,
                  serve_deployment_rollback(&req->ctx, NAME, req->json, &out, err))
HTTP_JSON_HANDLER(deploy_stats, 200, serve_deployment_stats(&req->ctx, NAME, &out, err))

static int deploy_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", "limit", "page_token", NULL};
    serve_deployment_filter_t f = {.team = http_query(req, "team")};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = page(req, &f.limit, &f.after_id, err);
    if (rc == 0)
        rc = serve_deployment_list(&req->ctx, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int deploy_history(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"limit", "page_token", NULL};
    int limit;
    int64_t before;
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = page(req, &limit, &before, err);
    if (rc == 0)
        rc = serve_deployment_history(&req->ctx, NAME, before, limit, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int deploy_delete(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = serve_deployment_delete(&req->ctx, NAME, err);
    if (rc == 0)
        resp->status = 204;
    return rc;
}

/* ------------------------------------------------------------------ jobs */

HTTP_JSON_HANDLER(job_submit, 201, serve_job_submit(&req->ctx, req->json, &out, err))

/* A job's id from the path, no query, one serve_job_* call answering JSON. */
static int job_call(http_req_t *req, http_resp_t *resp,
                    int (*call)(const mops_ctx_t *, int64_t, json_t **, mops_err_t *),
                    mops_err_t *err)
{
    int64_t id = 0;
    json_t *out = NULL;
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = job_id(req, &id, err);
    if (rc == 0)
        rc = call(&req->ctx, id, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int job_get(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return job_call(req, resp, serve_job_get, err);
}

static int job_cancel(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return job_call(req, resp, serve_job_cancel, err);
}

static int job_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", "status", "limit", "page_token", NULL};
    serve_job_filter_t f = {.team = http_query(req, "team"), .status = http_query(req, "status")};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = page(req, &f.limit, &f.before_id, err);
    if (rc == 0)
        rc = serve_job_list(&req->ctx, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int job_result(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    int64_t id = 0, size;
    int fd;
    char sha[65];
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = job_id(req, &id, err);
    if (rc == 0)
        rc = serve_job_open_result(&req->ctx, id, &fd, &size, sha, err);
    if (rc != 0)
        return rc;
    resp->fd = fd;
    resp->fd_size = size;
    resp->content_type = "text/csv";
    resp->headers[resp->nheaders][0] = "X-Mops-Sha256";
    resp->headers[resp->nheaders++][1] = mops_arena_strdup(req->arena, sha);
    resp->headers[resp->nheaders][0] = "Content-Disposition";
    resp->headers[resp->nheaders++][1] =
        mops_arena_printf(req->arena, "attachment; filename=\"job-%lld.csv\"", (long long)id);
    return 0;
}

HTTP_UPLOAD_HANDLERS(input, serve_upload_t, no_query,
                     serve_job_input_begin(&req->ctx, http_param(req, "team"),
                                           http_max_upload(req), &u, err),
                     serve_job_input_write, serve_job_input_abort, serve_job_input_finish)

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}
#define DEPLOYMENT "/api/v1/deployments/:name"

const http_route_t http_routes_serve[] = {
    ROUTE("POST", "/api/v1/deployments", "deployment.create", HTTP_BODY_JSON, deploy_create),
    ROUTE("GET", "/api/v1/deployments", "deployment.list", HTTP_BODY_NONE, deploy_list),
    ROUTE("GET", DEPLOYMENT, "deployment.get", HTTP_BODY_NONE, deploy_get),
    ROUTE("PATCH", DEPLOYMENT, "deployment.update", HTTP_BODY_JSON, deploy_update),
    ROUTE("DELETE", DEPLOYMENT, "deployment.delete", HTTP_BODY_NONE, deploy_delete),
    ROUTE("POST", DEPLOYMENT "/rollback", "deployment.rollback", HTTP_BODY_JSON, deploy_rollback),
    ROUTE("GET", DEPLOYMENT "/history", "deployment.history", HTTP_BODY_NONE, deploy_history),
    ROUTE("GET", DEPLOYMENT "/stats", "deployment.stats", HTTP_BODY_NONE, deploy_stats),
    {"POST", "/api/v1/jobs/inputs/:team", "job.input.upload", HTTP_BODY_STREAM, 0, input_finish,
     input_begin, input_data, input_abort, NULL},
    ROUTE("POST", "/api/v1/jobs", "job.submit", HTTP_BODY_JSON, job_submit),
    ROUTE("GET", "/api/v1/jobs", "job.list", HTTP_BODY_NONE, job_list),
    ROUTE("GET", "/api/v1/jobs/:id", "job.get", HTTP_BODY_NONE, job_get),
    ROUTE("POST", "/api/v1/jobs/:id/cancel", "job.cancel", HTTP_BODY_NONE, job_cancel),
    ROUTE("GET", "/api/v1/jobs/:id/result", "job.result", HTTP_BODY_NONE, job_result),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
