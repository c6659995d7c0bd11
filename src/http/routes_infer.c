/*
 * routes_infer.c — inference: the Open Inference Protocol v2 REST API
 * (/v2 health, server and model metadata, readiness, infer) and the record
 * form POST /api/v1/deployments/{name}/predict. These are the routes a
 * token limited to inference may use; they take no store connection
 * unless serve needs one, and answer errors (on /v2) as {"error": "..."}.
 * Health probes need no token.
 */
#include "http/http_int.h"
#include "serve/serve.h"

#define NAME http_param(req, "name")
#define VERSION http_param(req, "version")

static const char *const no_query[] = {NULL};

static const char *header_of(void *arg, const char *name)
{
    http_req_t *req = arg;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static serve_call_t call_of(http_req_t *req)
{
    serve_call_t c = {.t0_us = req->t0_us, .cpu_mark_ns = req->cpu_mark_ns,
                      .bytes_in = req->body_len,
                      .header = header_of, .header_arg = req};
    return c;
}

static int infer_as(http_req_t *req, http_resp_t *resp, const char *version, int records,
                    mops_err_t *err)
{
    int rc = http_query_check(req, no_query, err);
    if (rc != 0)
        return rc;
    serve_call_t call = call_of(req);
    serve_reply_t reply;
    /* The body is parsed by serve (faster than jansson, in the arena). */
    const char *body = req->body.data ? req->body.data : "";
    rc = records ? serve_predict(&req->ctx, NAME, body, req->body.len, &call, &reply, err)
                 : serve_infer(&req->ctx, NAME, version, body, req->body.len, &call, &reply, err);
    if (rc == 0) {
        resp->body = reply.body;
        resp->body_len = reply.len;
    }
    return rc;
}

static int infer(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return infer_as(req, resp, NULL, 0, err);
}

static int infer_version(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return infer_as(req, resp, VERSION, 0, err);
}

static int predict(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return infer_as(req, resp, NULL, 1, err);
}

static int live(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        http_resp_json(resp, 200, json_pack("{s:b}", "live", 1));
    return rc;
}

/* Readiness answers with its status: 200 ready, 400 not (the protocol's
 * "4xx means false"), so probes need not read the body. */
static int ready(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    int rc = http_query_check(req, no_query, err);
    int yes = serve_ready();
    if (rc == 0)
        http_resp_json(resp, yes ? 200 : 400, json_pack("{s:b}", "ready", yes));
    return rc;
}

HTTP_JSON_HANDLER(server_meta, 200, serve_oip_server(&req->ctx, &out, err))
HTTP_JSON_HANDLER(model_meta, 200, serve_oip_model(&req->ctx, NAME, NULL, &out, err))
HTTP_JSON_HANDLER(version_meta, 200, serve_oip_model(&req->ctx, NAME, VERSION, &out, err))

static int model_ready_as(http_req_t *req, http_resp_t *resp, const char *version,
                          mops_err_t *err)
{
    json_t *out = NULL;
    int yes = 0;
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = serve_oip_model_ready(&req->ctx, NAME, version, &out, &yes, err);
    if (rc == 0)
        http_resp_json(resp, yes ? 200 : 400, out);
    return rc;
}

static int model_ready(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return model_ready_as(req, resp, NULL, err);
}

static int version_ready(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return model_ready_as(req, resp, VERSION, err);
}

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}
#define MODEL "/v2/models/:name"
#define MODEL_VERSION "/v2/models/:name/versions/:version"

const http_route_t http_routes_infer[] = {
    ROUTE("POST", MODEL "/infer", "deployment.infer", HTTP_BODY_JSON, infer),
    ROUTE("POST", MODEL_VERSION "/infer", "deployment.infer", HTTP_BODY_JSON, infer_version),
    ROUTE("POST", "/api/v1/deployments/:name/predict", "deployment.predict", HTTP_BODY_JSON,
          predict),
    {"GET", "/v2/health/live", "oip.live", HTTP_BODY_NONE, 1, live, NULL, NULL, NULL, NULL},
    {"GET", "/v2/health/ready", "oip.ready", HTTP_BODY_NONE, 1, ready, NULL, NULL, NULL, NULL},
    ROUTE("GET", "/v2", "oip.server", HTTP_BODY_NONE, server_meta),
    ROUTE("GET", MODEL, "oip.model", HTTP_BODY_NONE, model_meta),
    ROUTE("GET", MODEL_VERSION, "oip.model", HTTP_BODY_NONE, version_meta),
    ROUTE("GET", MODEL "/ready", "oip.model.ready", HTTP_BODY_NONE, model_ready),
    ROUTE("GET", MODEL_VERSION "/ready", "oip.model.ready", HTTP_BODY_NONE, version_ready),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
