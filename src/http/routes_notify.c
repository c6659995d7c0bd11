/*
 * routes_notify.c — /api/v1/teams/{team}/webhooks and .../deliveries: a
 * team's webhooks and the log of what was sent to them, each handed to one
 * notify_* function.
 */
#include <string.h>

#include "http/http_int.h"
#include "notify/notify.h"

#define TEAM http_param(req, "team")
#define NAME http_param(req, "name")

HTTP_JSON_HANDLER(webhook_create, 201, notify_webhook_create(&req->ctx, TEAM, req->json, &out, err))
HTTP_JSON_HANDLER(webhook_list, 200, notify_webhook_list(&req->ctx, TEAM, &out, err))
HTTP_JSON_HANDLER(webhook_get, 200, notify_webhook_get(&req->ctx, TEAM, NAME, &out, err))
HTTP_JSON_HANDLER(webhook_update, 200,
                  notify_webhook_update(&req->ctx, TEAM, NAME, req->json, &out, err))
HTTP_JSON_HANDLER(webhook_ping, 201, notify_webhook_ping(&req->ctx, TEAM, NAME, &out, err))

static int webhook_delete(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const none[] = {NULL};
    int rc = http_query_check(req, none, err);
    if (rc == 0)
        rc = notify_webhook_delete(&req->ctx, TEAM, NAME, err);
    if (rc == 0)
        resp->status = 204;
    return rc;
}

static int delivery_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"webhook", "state", "event", "limit", "page_token",
                                          NULL};
    notify_delivery_filter_t f = {.webhook = http_query(req, "webhook"),
                                  .state = http_query(req, "state"),
                                  .event = http_query(req, "event")};
    int64_t limit = 50;
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_int(req, "limit", 50, 1, 1000, &limit, err);
    if (rc == 0)
        rc = http_query_int(req, "page_token", 0, 0, INT64_MAX, &f.before_id, err);
    f.limit = (int)limit;
    if (rc == 0)
        rc = notify_delivery_list(&req->ctx, TEAM, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}
#define HOOKS "/api/v1/teams/:team/webhooks"

const http_route_t http_routes_notify[] = {
    ROUTE("POST", HOOKS, "webhook.create", HTTP_BODY_JSON, webhook_create),
    ROUTE("GET", HOOKS, "webhook.list", HTTP_BODY_NONE, webhook_list),
    ROUTE("GET", HOOKS "/:name", "webhook.get", HTTP_BODY_NONE, webhook_get),
    ROUTE("PATCH", HOOKS "/:name", "webhook.update", HTTP_BODY_JSON, webhook_update),
    ROUTE("DELETE", HOOKS "/:name", "webhook.delete", HTTP_BODY_NONE, webhook_delete),
    ROUTE("POST", HOOKS "/:name/ping", "webhook.ping", HTTP_BODY_NONE, webhook_ping),
    ROUTE("GET", "/api/v1/teams/:team/deliveries", "delivery.list", HTTP_BODY_NONE,
          delivery_list),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
