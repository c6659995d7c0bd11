/*
 * routes_auth.c — /api/v1/whoami, /teams, /users, /tokens: each handler
 * hands its path parameters and body to one auth_* function.
 */
#include "core/text.h"
#include "http/http_int.h"

static const char *const no_query[] = {NULL};

HTTP_JSON_HANDLER(whoami, 200, auth_whoami(&req->ctx, &out, err))
HTTP_JSON_HANDLER(team_create, 201, auth_team_create(&req->ctx, req->json, &out, err))
HTTP_JSON_HANDLER(team_list, 200, auth_team_list(&req->ctx, &out, err))
HTTP_JSON_HANDLER(team_get, 200, auth_team_get(&req->ctx, http_param(req, "team"), &out, err))
HTTP_JSON_HANDLER(member_set, 200,
             auth_member_set(&req->ctx, http_param(req, "team"), http_param(req, "user"),
                             req->json, &out, err))
HTTP_JSON_HANDLER(user_create, 201, auth_user_create(&req->ctx, req->json, &out, err))
HTTP_JSON_HANDLER(user_list, 200, auth_user_list(&req->ctx, &out, err))
HTTP_JSON_HANDLER(user_get, 200, auth_user_get(&req->ctx, http_param(req, "user"), &out, err))
HTTP_JSON_HANDLER(user_update, 200,
             auth_user_update(&req->ctx, http_param(req, "user"), req->json, &out, err))
HTTP_JSON_HANDLER(token_create, 201, auth_token_create(&req->ctx, req->json, &out, err))

static int member_remove(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = auth_member_remove(&req->ctx, http_param(req, "team"), http_param(req, "user"), err);
    if (rc == 0)
        resp->status = 204;
    return rc;
}

static int token_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"user", NULL};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = auth_token_list(&req->ctx, http_query(req, "user"), &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int token_revoke(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    long long id;
    int rc = http_query_check(req, no_query, err);
    if (rc != 0)
        return rc;
    if (mops_parse_i64(http_param(req, "id"), &id) != 0)
        return mops_err_set(err, MOPS_EINVAL, "token id must be a number");
    rc = auth_token_revoke(&req->ctx, id, err);
    if (rc == 0)
        resp->status = 204;
    return rc;
}

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}

const http_route_t http_routes_auth[] = {
    ROUTE("GET", "/api/v1/whoami", "user.whoami", HTTP_BODY_NONE, whoami),
    ROUTE("POST", "/api/v1/teams", "team.create", HTTP_BODY_JSON, team_create),
    ROUTE("GET", "/api/v1/teams", "team.list", HTTP_BODY_NONE, team_list),
    ROUTE("GET", "/api/v1/teams/:team", "team.get", HTTP_BODY_NONE, team_get),
    ROUTE("PUT", "/api/v1/teams/:team/members/:user", "team.member.set", HTTP_BODY_JSON,
          member_set),
    ROUTE("DELETE", "/api/v1/teams/:team/members/:user", "team.member.remove", HTTP_BODY_NONE,
          member_remove),
    ROUTE("POST", "/api/v1/users", "user.create", HTTP_BODY_JSON, user_create),
    ROUTE("GET", "/api/v1/users", "user.list", HTTP_BODY_NONE, user_list),
    ROUTE("GET", "/api/v1/users/:user", "user.get", HTTP_BODY_NONE, user_get),
    ROUTE("PATCH", "/api/v1/users/:user", "user.update", HTTP_BODY_JSON, user_update),
    ROUTE("POST", "/api/v1/tokens", "token.create", HTTP_BODY_JSON, token_create),
    ROUTE("GET", "/api/v1/tokens", "token.list", HTTP_BODY_NONE, token_list),
    ROUTE("DELETE", "/api/v1/tokens/:id", "token.revoke", HTTP_BODY_NONE, token_revoke),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
