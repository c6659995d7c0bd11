/*
 * routes_audit.c — /api/v1/audit: reading the trail and verifying the chain.
 */
#include "audit/audit.h"
#include "http/http_int.h"

static int audit_list_h(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", "actor", "action", "target",
                                          "limit", "page_token", NULL};
    audit_filter_t f = {
        .team = http_query(req, "team"),
        .actor = http_query(req, "actor"),
        .action = http_query(req, "action"),
        .target = http_query(req, "target"),
    };
    int64_t limit;
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_int(req, "limit", 100, 1, 1000, &limit, err);
    if (rc == 0)
        rc = http_query_int(req, "page_token", 0, 0, INT64_MAX, &f.before_seq, err);
    f.limit = (int)limit;
    if (rc == 0)
        rc = audit_list(&req->ctx, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int audit_verify_h(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const no_query[] = {NULL};
    json_t *out = NULL;
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = auth_require(&req->ctx, AUTH_AUDIT_VERIFY, 0, err);
    if (rc == 0)
        rc = audit_verify(req->ctx.db, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

const http_route_t http_routes_audit[] = {
    {"GET", "/api/v1/audit", "audit.list", HTTP_BODY_NONE, 0, audit_list_h, NULL, NULL, NULL,
     NULL},
    {"GET", "/api/v1/audit/verify", "audit.verify", HTTP_BODY_NONE, 0, audit_verify_h, NULL, NULL,
     NULL, NULL},
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
