/*
 * routes_core.c — endpoints that belong to no domain: the health check, the
 * only one that needs no token.
 */
#include "http/http_int.h"
#include "store/store.h"

static int health(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const no_query[] = {NULL};
    int64_t one = 0;
    int rc = http_query_check(req, no_query, err);
    if (rc != 0)
        return rc;
    rc = store_query_int(req->ctx.db, &one, err, "SELECT 1", NULL);
    if (rc != 0)
        return mops_err_set(err, MOPS_EUNAVAIL, "the store is not answering: %s", err->msg);
    http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
    return 0;
}

const http_route_t http_routes_core[] = {
    {"GET", "/healthz", "health", HTTP_BODY_NONE, 1, health, NULL, NULL, NULL, NULL},
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
