/*
 * routes_governance.c — the governance API: the lifecycle and version
 * transitions, reviews and decisions, policies and policy checks,
 * validations (a holdout CSV streamed in), model cards (JSON, Markdown,
 * HTML), compliance reports (JSON, HTML), retirement summaries and the
 * reviews due. Each handler hands over to one governance_* function.
 */
#include <string.h>

#include "core/text.h"
#include "governance/governance.h"
#include "http/http_int.h"

#define TEAM http_param(req, "team")
#define MODEL http_param(req, "model")
#define VERSION http_param(req, "version")
#define SCOPE http_param(req, "scope")
#define NAME http_param(req, "name")

HTTP_JSON_HANDLER(lifecycle, 200, governance_lifecycle(&req->ctx, &out, err))
HTTP_JSON_HANDLER(reviews_due, 200, governance_reviews_due(&req->ctx, &out, err))
HTTP_JSON_HANDLER(transition, 200,
                  governance_transition(&req->ctx, TEAM, MODEL, VERSION, req->json, &out, err))
HTTP_JSON_HANDLER(transition_list, 200,
                  governance_transition_list(&req->ctx, TEAM, MODEL, VERSION, &out, err))
HTTP_JSON_HANDLER(review_request, 201,
                  governance_review_request(&req->ctx, TEAM, MODEL, VERSION, req->json, &out,
                                            err))
HTTP_JSON_HANDLER(review_list, 200,
                  governance_review_list(&req->ctx, TEAM, MODEL, VERSION, &out, err))
HTTP_JSON_HANDLER(approve, 201,
                  governance_review_approve(&req->ctx, TEAM, MODEL, VERSION, req->json, &out,
                                            err))
HTTP_JSON_HANDLER(reject, 201,
                  governance_review_reject(&req->ctx, TEAM, MODEL, VERSION, req->json, &out, err))
HTTP_JSON_HANDLER(validation_list, 200,
                  governance_validation_list(&req->ctx, TEAM, MODEL, VERSION, &out, err))
HTTP_JSON_HANDLER(card_put, 200,
                  governance_card_put(&req->ctx, TEAM, MODEL, VERSION, req->json, &out, err))
HTTP_JSON_HANDLER(retirement, 200,
                  governance_retirement_get(&req->ctx, TEAM, MODEL, VERSION, &out, err))
HTTP_JSON_HANDLER(policy_create, 201, governance_policy_create(&req->ctx, req->json, &out, err))
HTTP_JSON_HANDLER(policy_update, 200,
                  governance_policy_update(&req->ctx, SCOPE, NAME, req->json, &out, err))
HTTP_JSON_HANDLER(policy_archive, 200,
                  governance_policy_archive(&req->ctx, SCOPE, NAME, &out, err))

static int policy_check(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"stage", NULL};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = governance_policy_check(&req->ctx, TEAM, MODEL, VERSION, http_query(req, "stage"),
                                     &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int policy_get(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"version", NULL};
    json_t *out = NULL;
    int64_t version;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_int(req, "version", 0, 1, INT64_MAX, &version, err);
    if (rc == 0)
        rc = governance_policy_get(&req->ctx, SCOPE, NAME, version, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int policy_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", "risk_tier", "archived", NULL};
    governance_policy_filter_t f = {.team = http_query(req, "team"),
                                    .risk_tier = http_query(req, "risk_tier")};
    const char *a = http_query(req, "archived");
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0 && a && strcmp(a, "false") && strcmp(a, "true") && strcmp(a, "any"))
        rc = mops_err_set(err, MOPS_EINVAL, "query parameter archived must be false, true or any");
    f.archived = !a || !strcmp(a, "false") ? 0 : !strcmp(a, "true") ? 1 : -1;
    if (rc == 0)
        rc = governance_policy_list(&req->ctx, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int validation_get(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const none[] = {NULL};
    long long id;
    json_t *out = NULL;
    int rc = http_query_check(req, none, err);
    if (rc == 0 && mops_parse_i64(http_param(req, "id"), &id) != 0)
        rc = mops_err_set(err, MOPS_EINVAL, "validation id must be a number");
    if (rc == 0)
        rc = governance_validation_get(&req->ctx, TEAM, MODEL, VERSION, id, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

/* ?format=json (default) | one of the text formats given. */
static int query_format(const http_req_t *req, const char *const *formats, const char **out,
                        mops_err_t *err)
{
    const char *f = http_query(req, "format");
    *out = f ? f : "json";
    if (!strcmp(*out, "json"))
        return 0;
    for (const char *const *p = formats; *p; p++)
        if (!strcmp(*p, *out))
            return 0;
    return mops_err_set(err, MOPS_EINVAL, "query parameter format must be json or %s%s%s",
                        formats[0], formats[1] ? " or " : "", formats[1] ? formats[1] : "");
}

static void text_body(http_req_t *req, http_resp_t *resp, char *text, const char *type)
{
    resp->status = 200;
    resp->text = mops_arena_strdup(req->arena, text);
    resp->text_len = strlen(text);
    resp->content_type = type;
    free(text);
}

static int card_get(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"format", NULL};
    static const char *const formats[] = {"markdown", "html", NULL};
    const char *format;
    json_t *out = NULL;
    char *text = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = query_format(req, formats, &format, err);
    if (rc != 0)
        return rc;
    if (!strcmp(format, "json")) {
        if ((rc = governance_card_get(&req->ctx, TEAM, MODEL, VERSION, &out, err)) == 0)
            http_resp_json(resp, 200, out);
    } else if ((rc = governance_card_render(&req->ctx, TEAM, MODEL, VERSION, format, &text,
                                            err)) == 0) {
        text_body(req, resp, text,
                  !strcmp(format, "html") ? "text/html; charset=utf-8"
                                          : "text/markdown; charset=utf-8");
    }
    return rc;
}

/* A report as JSON, or rendered as a page. */
static int report_answer(http_req_t *req, http_resp_t *resp, const char *format, json_t *out)
{
    if (!strcmp(format, "html")) {
        text_body(req, resp, governance_report_html(out), "text/html; charset=utf-8");
        json_decref(out);
    } else {
        http_resp_json(resp, 200, out);
    }
    return 0;
}

static int report_model(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"format", NULL};
    static const char *const formats[] = {"html", NULL};
    const char *format;
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = query_format(req, formats, &format, err);
    if (rc == 0)
        rc = governance_report_model(&req->ctx, TEAM, MODEL, &out, err);
    return rc ? rc : report_answer(req, resp, format, out);
}

static int report_inventory(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"format", "team", NULL};
    static const char *const formats[] = {"html", NULL};
    const char *format;
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = query_format(req, formats, &format, err);
    if (rc == 0)
        rc = governance_report_inventory(&req->ctx, http_query(req, "team"), &out, err);
    return rc ? rc : report_answer(req, resp, format, out);
}

/* ------------------------------------------------------------ validation */

static const char *const validation_query[] = {"label", "group", "name", "positive", NULL};

HTTP_UPLOAD_HANDLERS(validation, governance_validation_t, validation_query,
                     governance_validation_begin(
                         &req->ctx, TEAM, MODEL, VERSION,
                         &(governance_validation_opts_t){.label = http_query(req, "label"),
                                                         .groups = http_query(req, "group"),
                                                         .name = http_query(req, "name"),
                                                         .positive = http_query(req, "positive")},
                         http_max_upload(req), &u, err),
                     governance_validation_write, governance_validation_abort,
                     governance_validation_finish)

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}
#define MODEL_PATH "/api/v1/models/:team/:model"
#define VERSION_PATH "/api/v1/models/:team/:model/versions/:version"
#define POLICY_PATH "/api/v1/policies/:scope/:name"

const http_route_t http_routes_governance[] = {
    ROUTE("GET", "/api/v1/governance/lifecycle", "governance.lifecycle", HTTP_BODY_NONE,
          lifecycle),
    ROUTE("GET", "/api/v1/governance/reviews-due", "governance.reviews_due", HTTP_BODY_NONE,
          reviews_due),
    ROUTE("POST", VERSION_PATH "/transitions", "version.transition", HTTP_BODY_JSON, transition),
    ROUTE("GET", VERSION_PATH "/transitions", "version.history", HTTP_BODY_NONE,
          transition_list),
    ROUTE("POST", VERSION_PATH "/reviews", "review.request", HTTP_BODY_JSON, review_request),
    ROUTE("GET", VERSION_PATH "/reviews", "review.list", HTTP_BODY_NONE, review_list),
    ROUTE("POST", VERSION_PATH "/approvals", "review.approve", HTTP_BODY_JSON, approve),
    ROUTE("POST", VERSION_PATH "/rejections", "review.reject", HTTP_BODY_JSON, reject),
    ROUTE("GET", VERSION_PATH "/policy-check", "policy.check", HTTP_BODY_NONE, policy_check),
    {"POST", VERSION_PATH "/validations", "validation.create", HTTP_BODY_STREAM, 0,
     validation_finish, validation_begin, validation_data, validation_abort, "text/csv"},
    ROUTE("GET", VERSION_PATH "/validations", "validation.list", HTTP_BODY_NONE,
          validation_list),
    ROUTE("GET", VERSION_PATH "/validations/:id", "validation.get", HTTP_BODY_NONE,
          validation_get),
    ROUTE("GET", VERSION_PATH "/card", "card.get", HTTP_BODY_NONE, card_get),
    ROUTE("PUT", VERSION_PATH "/card", "card.update", HTTP_BODY_JSON, card_put),
    ROUTE("GET", VERSION_PATH "/retirement", "retirement.get", HTTP_BODY_NONE, retirement),
    ROUTE("GET", MODEL_PATH "/report", "report.model", HTTP_BODY_NONE, report_model),
    ROUTE("GET", "/api/v1/reports/inventory", "report.inventory", HTTP_BODY_NONE,
          report_inventory),
    ROUTE("POST", "/api/v1/policies", "policy.create", HTTP_BODY_JSON, policy_create),
    ROUTE("GET", "/api/v1/policies", "policy.list", HTTP_BODY_NONE, policy_list),
    ROUTE("GET", POLICY_PATH, "policy.get", HTTP_BODY_NONE, policy_get),
    ROUTE("PUT", POLICY_PATH, "policy.update", HTTP_BODY_JSON, policy_update),
    ROUTE("POST", POLICY_PATH "/archive", "policy.archive", HTTP_BODY_NONE, policy_archive),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
