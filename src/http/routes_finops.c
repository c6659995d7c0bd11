/*
 * routes_finops.c — /api/v1/costs, /prices, /budgets, /value-events, a
 * model's /value and /api/v1/kpis: FinOps and the KPIs, each handed to one
 * finops_* function.
 */
#include <string.h>

#include "finops/finops.h"
#include "http/http_int.h"

#define TEAM http_param(req, "team")
#define MODEL http_param(req, "model")

static int query_read(http_req_t *req, const char *const *allowed, finops_query_t *q,
                      mops_err_t *err)
{
    *q = (finops_query_t){.group_by = http_query(req, "group_by"),
                          .team = http_query(req, "team"), .from = http_query(req, "from"),
                          .to = http_query(req, "to")};
    return http_query_check(req, allowed, err);
}

static int costs(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"group_by", "team", "from", "to", NULL};
    finops_query_t q;
    json_t *out = NULL;
    int rc = query_read(req, allowed, &q, err);
    if (rc == 0)
        rc = finops_costs(&req->ctx, &q, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int costs_export(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"format", "team", "from", "to", NULL};
    finops_query_t q;
    int rc = query_read(req, allowed, &q, err);
    const char *format = http_query(req, "format");
    if (rc == 0 && format && strcmp(format, "focus"))
        rc = mops_err_set(err, MOPS_EINVAL, "format must be focus (the FinOps FOCUS CSV)");
    char *csv = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = finops_costs_focus(&req->ctx, &q, &csv, &len, err);
    if (rc == 0) {
        resp->body = csv;
        resp->body_len = len;
        resp->content_type = "text/csv; charset=utf-8";
    }
    return rc;
}

static int kpis(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", "from", "to", NULL};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = finops_kpis(&req->ctx, http_query(req, "team"), http_query(req, "from"),
                         http_query(req, "to"), &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int budget_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", NULL};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = finops_budget_list(&req->ctx, http_query(req, "team"), &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int budget_delete_any(http_req_t *req, http_resp_t *resp, const char *model,
                             mops_err_t *err)
{
    static const char *const none[] = {NULL};
    int rc = http_query_check(req, none, err);
    if (rc == 0)
        rc = finops_budget_delete(&req->ctx, TEAM, model, err);
    if (rc == 0)
        resp->status = 204;
    return rc;
}

static int budget_delete(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return budget_delete_any(req, resp, NULL, err);
}

static int model_budget_delete(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    return budget_delete_any(req, resp, MODEL, err);
}

HTTP_JSON_HANDLER(prices_get, 200, finops_prices_get(&req->ctx, &out, err))
HTTP_JSON_HANDLER(prices_set, 200, finops_prices_set(&req->ctx, req->json, &out, err))
HTTP_JSON_HANDLER(budget_set, 200, finops_budget_set(&req->ctx, TEAM, NULL, req->json, &out, err))
HTTP_JSON_HANDLER(model_budget_set, 200,
                  finops_budget_set(&req->ctx, TEAM, MODEL, req->json, &out, err))
HTTP_JSON_HANDLER(value_get, 200, finops_value_rule_get(&req->ctx, TEAM, MODEL, &out, err))
HTTP_JSON_HANDLER(value_set, 200,
                  finops_value_rule_set(&req->ctx, TEAM, MODEL, req->json, &out, err))
HTTP_JSON_HANDLER(value_event, 201, finops_value_event_add(&req->ctx, req->json, &out, err))

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}

const http_route_t http_routes_finops[] = {
    ROUTE("GET", "/api/v1/costs", "costs.read", HTTP_BODY_NONE, costs),
    ROUTE("GET", "/api/v1/costs/export", "costs.export", HTTP_BODY_NONE, costs_export),
    ROUTE("GET", "/api/v1/prices", "prices.get", HTTP_BODY_NONE, prices_get),
    ROUTE("PUT", "/api/v1/prices", "prices.set", HTTP_BODY_JSON, prices_set),
    ROUTE("GET", "/api/v1/budgets", "budget.list", HTTP_BODY_NONE, budget_list),
    ROUTE("PUT", "/api/v1/budgets/:team", "budget.set", HTTP_BODY_JSON, budget_set),
    ROUTE("DELETE", "/api/v1/budgets/:team", "budget.delete", HTTP_BODY_NONE, budget_delete),
    ROUTE("PUT", "/api/v1/budgets/:team/:model", "budget.set", HTTP_BODY_JSON, model_budget_set),
    ROUTE("DELETE", "/api/v1/budgets/:team/:model", "budget.delete", HTTP_BODY_NONE,
          model_budget_delete),
    ROUTE("GET", "/api/v1/models/:team/:model/value", "value.get", HTTP_BODY_NONE, value_get),
    ROUTE("PUT", "/api/v1/models/:team/:model/value", "value.set", HTTP_BODY_JSON, value_set),
    ROUTE("POST", "/api/v1/value-events", "value.event", HTTP_BODY_JSON, value_event),
    ROUTE("GET", "/api/v1/kpis", "kpis.read", HTTP_BODY_NONE, kpis),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
