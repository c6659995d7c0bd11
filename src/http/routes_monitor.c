/*
 * routes_monitor.c — monitoring: alerts, retraining requests and the
 * Prometheus endpoint, each handed to one monitor_* function.
 */
#include <string.h>

#include "core/text.h"
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

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}

const http_route_t http_routes_monitor[] = {
    ROUTE("GET", "/api/v1/alerts", "alert.list", HTTP_BODY_NONE, alert_list),
    ROUTE("GET", "/api/v1/retraining-requests", "retraining.list", HTTP_BODY_NONE,
          retraining_list),
    ROUTE("GET", "/metrics", "metrics.read", HTTP_BODY_NONE, metrics),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
