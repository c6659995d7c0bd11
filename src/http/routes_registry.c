/*
 * routes_registry.c — /api/v1/models/...: models, artifact uploads,
 * versions, downloads and aliases, each handed to one registry_* function.
 */
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"
#include "registry/registry.h"

#define TEAM http_param(req, "team")
#define MODEL http_param(req, "model")
#define VERSION http_param(req, "version")

static const char *const no_query[] = {NULL};

HTTP_JSON_HANDLER(model_create, 201, registry_model_create(&req->ctx, req->json, &out, err))
HTTP_JSON_HANDLER(model_get, 200, registry_model_get(&req->ctx, TEAM, MODEL, &out, err))
HTTP_JSON_HANDLER(model_update, 200, registry_model_update(&req->ctx, TEAM, MODEL, req->json, &out, err))
HTTP_JSON_HANDLER(model_archive, 200, registry_model_archive(&req->ctx, TEAM, MODEL, &out, err))
HTTP_JSON_HANDLER(version_create, 201,
             registry_version_create(&req->ctx, TEAM, MODEL, req->json, &out, err))
HTTP_JSON_HANDLER(version_get, 200, registry_version_get(&req->ctx, TEAM, MODEL, VERSION, &out, err))
HTTP_JSON_HANDLER(version_update, 200,
             registry_version_update(&req->ctx, TEAM, MODEL, VERSION, req->json, &out, err))
HTTP_JSON_HANDLER(version_archive, 200,
             registry_version_archive(&req->ctx, TEAM, MODEL, VERSION, &out, err))
HTTP_JSON_HANDLER(alias_set, 200,
             registry_alias_set(&req->ctx, TEAM, MODEL, http_param(req, "alias"), req->json, &out,
                                err))

static int model_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team",  "tag",      "stage", "owner", "prefix",
                                          "archived", "limit", "page_token", NULL};
    registry_model_filter_t f = {
        .team = http_query(req, "team"),
        .tag = http_query(req, "tag"),
        .stage = http_query(req, "stage"),
        .owner = http_query(req, "owner"),
        .prefix = http_query(req, "prefix"),
    };
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_archived(req, &f.archived, err);
    if (rc == 0)
        rc = http_query_page(req, &f.limit, &f.after_id, err);
    if (rc == 0)
        rc = registry_model_list(&req->ctx, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int version_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"stage", "tag", "archived", "limit", "page_token",
                                          NULL};
    registry_version_filter_t f = {.stage = http_query(req, "stage"), .tag = http_query(req, "tag")};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_archived(req, &f.archived, err);
    if (rc == 0)
        rc = http_query_page(req, &f.limit, &f.before_number, err);
    if (rc == 0)
        rc = registry_version_list(&req->ctx, TEAM, MODEL, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int alias_delete(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = registry_alias_delete(&req->ctx, TEAM, MODEL, http_param(req, "alias"), err);
    if (rc == 0)
        resp->status = 204;
    return rc;
}

/* ------------------------------------------------------ artifact upload */

HTTP_UPLOAD_HANDLERS(upload, registry_upload_t, no_query,
                     registry_upload_begin(&req->ctx, TEAM, MODEL, http_max_upload(req), &u, err),
                     registry_upload_write, registry_upload_abort, registry_upload_finish)

/* ------------------------------------------------------------- download */

static int version_download(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    int fd;
    int64_t size;
    char sha[65];
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = registry_version_open_artifact(&req->ctx, TEAM, MODEL, VERSION, &fd, &size, sha, err);
    if (rc != 0)
        return rc;
    http_resp_file(req, resp, fd, size, sha, "application/octet-stream",
                   mops_arena_printf(req->arena, "%s-%s.bin", MODEL, VERSION));
    return 0;
}

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}
#define MODEL_PATH "/api/v1/models/:team/:model"

const http_route_t http_routes_registry[] = {
    ROUTE("POST", "/api/v1/models", "model.create", HTTP_BODY_JSON, model_create),
    ROUTE("GET", "/api/v1/models", "model.list", HTTP_BODY_NONE, model_list),
    ROUTE("GET", MODEL_PATH, "model.get", HTTP_BODY_NONE, model_get),
    ROUTE("PATCH", MODEL_PATH, "model.update", HTTP_BODY_JSON, model_update),
    ROUTE("POST", MODEL_PATH "/archive", "model.archive", HTTP_BODY_NONE, model_archive),
    {"POST", MODEL_PATH "/artifacts", "artifact.upload", HTTP_BODY_STREAM, 0, upload_finish,
     upload_begin, upload_data, upload_abort, NULL},
    ROUTE("POST", MODEL_PATH "/versions", "version.create", HTTP_BODY_JSON, version_create),
    ROUTE("GET", MODEL_PATH "/versions", "version.list", HTTP_BODY_NONE, version_list),
    ROUTE("GET", MODEL_PATH "/versions/:version", "version.get", HTTP_BODY_NONE, version_get),
    ROUTE("PATCH", MODEL_PATH "/versions/:version", "version.update", HTTP_BODY_JSON,
          version_update),
    ROUTE("POST", MODEL_PATH "/versions/:version/archive", "version.archive", HTTP_BODY_NONE,
          version_archive),
    ROUTE("GET", MODEL_PATH "/versions/:version/artifact", "version.download", HTTP_BODY_NONE,
          version_download),
    ROUTE("PUT", MODEL_PATH "/aliases/:alias", "alias.set", HTTP_BODY_JSON, alias_set),
    ROUTE("DELETE", MODEL_PATH "/aliases/:alias", "alias.delete", HTTP_BODY_NONE, alias_delete),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
