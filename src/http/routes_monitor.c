/*
 * routes_monitor.c — monitoring: reports, alert rules, alerts, retraining
 * requests, labels, reference profiles and the Prometheus endpoint, each
 * handed to one monitor_* function.
 */
#include <string.h>

#include "core/text.h"
#include "core/time.h"
#include "http/http_int.h"
#include "monitor/monitor.h"

static int alert_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", "state", "source", "deployment", "limit",
                                          "page_token", NULL};
    monitor_alert_filter_t f = {.team = http_query(req, "team"),
                                .state = http_query(req, "state"),
                                .source = http_query(req, "source"),
                                .deployment = http_query(req, "deployment")};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_page(req, &f.limit, &f.before_id, err);
    if (rc == 0)
        rc = monitor_alert_list(&req->ctx, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int retraining_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", "state", "mine", "limit", "page_token", NULL};
    monitor_retraining_filter_t f = {.team = http_query(req, "team"),
                                     .state = http_query(req, "state")};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_bool(req, "mine", 0, &f.mine, err);
    if (rc == 0)
        rc = http_query_page(req, &f.limit, &f.before_id, err);
    if (rc == 0)
        rc = monitor_retraining_list(&req->ctx, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int metrics(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const none[] = {NULL};
    char *text = NULL;
    int rc = http_query_check(req, none, err);
    if (rc == 0)
        rc = monitor_metrics_text(&req->ctx, &text, err);
    if (rc == 0) {
        resp->body = text;
        resp->body_len = strlen(text);
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    return rc;
}


#define DEP http_param(req, "name")

static int report(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"from", "to", NULL};
    const char *from = http_query(req, "from"), *to = http_query(req, "to");
    int64_t f = 0, t = 0;
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0 && from && mops_time_parse(from, &f) != 0)
        rc = mops_err_set(err, MOPS_EINVAL, "query parameter from must be an RFC 3339 time");
    if (rc == 0 && to && mops_time_parse(to, &t) != 0)
        rc = mops_err_set(err, MOPS_EINVAL, "query parameter to must be an RFC 3339 time");
    if (rc == 0)
        rc = monitor_report(&req->ctx, DEP, f, t, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

HTTP_JSON_HANDLER(labels_post, 200, monitor_labels_post(&req->ctx, DEP, req->json, &out, err))

#define RULE http_param(req, "rule")

HTTP_JSON_HANDLER(rule_create, 201, monitor_rule_create(&req->ctx, DEP, req->json, &out, err))
HTTP_JSON_HANDLER(rule_list, 200, monitor_rule_list(&req->ctx, DEP, &out, err))
HTTP_JSON_HANDLER(rule_get, 200, monitor_rule_get(&req->ctx, DEP, RULE, &out, err))
HTTP_JSON_HANDLER(rule_update, 200,
                  monitor_rule_update(&req->ctx, DEP, RULE, req->json, &out, err))

static int rule_delete(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const none[] = {NULL};
    int rc = http_query_check(req, none, err);
    if (rc == 0)
        rc = monitor_rule_delete(&req->ctx, DEP, RULE, err);
    if (rc == 0)
        resp->status = 204;
    return rc;
}

static int retraining_close(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const none[] = {NULL};
    long long id;
    json_t *out = NULL;
    int rc = http_query_check(req, none, err);
    if (rc == 0 && (mops_parse_i64(http_param(req, "id"), &id) != 0 || id <= 0))
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no retraining request %s",
                          mops_text_show(http_param(req, "id")));
    if (rc == 0)
        rc = monitor_retraining_close(&req->ctx, id, req->json, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

#define TEAM http_param(req, "team")
#define MODEL http_param(req, "model")
#define VERSION http_param(req, "version")

HTTP_JSON_HANDLER(reference_get, 200,
                  monitor_reference_get(&req->ctx, TEAM, MODEL, VERSION, &out, err))
HTTP_JSON_HANDLER(reference_put, 201,
                  monitor_reference_from_dataset(&req->ctx, TEAM, MODEL, VERSION, req->json,
                                                 &out, err))

static int reference_begin(http_req_t *req, mops_err_t *err)
{
    static const char *const none[] = {NULL};
    monitor_upload_t *u;
    int rc = http_query_check(req, none, err);
    if (rc == 0)
        rc = monitor_reference_begin(&req->ctx, TEAM, MODEL, VERSION, http_max_upload(req), &u,
                                     err);
    if (rc == 0)
        req->stream = u;
    return rc;
}

static int reference_data(http_req_t *req, const char *data, size_t n, mops_err_t *err)
{
    return monitor_reference_write(req->stream, data, n, err);
}

static void reference_abort(http_req_t *req)
{
    monitor_reference_abort(req->stream);
    req->stream = NULL;
}

static int reference_finish(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    json_t *out = NULL;
    monitor_upload_t *u = req->stream;
    req->stream = NULL; /* freed by monitor_reference_finish whatever happens */
    int rc = monitor_reference_finish(&req->ctx, u, &out, err);
    if (rc == 0)
        http_resp_json(resp, 201, out);
    return rc;
}

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}
#define RULES "/api/v1/deployments/:name/alert-rules"
#define REF "/api/v1/models/:team/:model/versions/:version/reference"

const http_route_t http_routes_monitor[] = {
    ROUTE("GET", "/api/v1/alerts", "alert.list", HTTP_BODY_NONE, alert_list),
    ROUTE("GET", "/api/v1/retraining-requests", "retraining.list", HTTP_BODY_NONE,
          retraining_list),
    ROUTE("POST", "/api/v1/retraining-requests/:id/close", "retraining.close", HTTP_BODY_JSON,
          retraining_close),
    ROUTE("GET", "/metrics", "metrics.read", HTTP_BODY_NONE, metrics),
    ROUTE("GET", "/api/v1/deployments/:name/monitoring", "monitor.report", HTTP_BODY_NONE, report),
    ROUTE("POST", RULES, "alert_rule.create", HTTP_BODY_JSON, rule_create),
    ROUTE("GET", RULES, "alert_rule.list", HTTP_BODY_NONE, rule_list),
    ROUTE("GET", RULES "/:rule", "alert_rule.get", HTTP_BODY_NONE, rule_get),
    ROUTE("PATCH", RULES "/:rule", "alert_rule.update", HTTP_BODY_JSON, rule_update),
    ROUTE("DELETE", RULES "/:rule", "alert_rule.delete", HTTP_BODY_NONE, rule_delete),
    ROUTE("POST", "/api/v1/deployments/:name/labels", "labels.upload", HTTP_BODY_JSON,
          labels_post),
    ROUTE("GET", REF, "reference.get", HTTP_BODY_NONE, reference_get),
    ROUTE("PUT", REF, "reference.create", HTTP_BODY_JSON, reference_put),
    {"POST", REF, "reference.create", HTTP_BODY_STREAM, 0, reference_finish, reference_begin,
     reference_data, reference_abort, "text/csv"},
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
