/*
 * routes_data.c — /api/v1/datasets/... and /api/v1/lineage/...: datasets,
 * file uploads, versions, downloads, samples, profiles, schema diffs,
 * column tags, quality suites and validations, lineage; each handed to one
 * data_* function.
 */
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "data/data.h"
#include "http/http_int.h"

#define TEAM http_param(req, "team")
#define DATASET http_param(req, "dataset")
#define VERSION http_param(req, "version")

static const char *const no_query[] = {NULL};

HTTP_JSON_HANDLER(dataset_create, 201, data_dataset_create(&req->ctx, req->json, &out, err))
HTTP_JSON_HANDLER(dataset_get, 200, data_dataset_get(&req->ctx, TEAM, DATASET, &out, err))
HTTP_JSON_HANDLER(dataset_update, 200,
                  data_dataset_update(&req->ctx, TEAM, DATASET, req->json, &out, err))
HTTP_JSON_HANDLER(dataset_archive, 200, data_dataset_archive(&req->ctx, TEAM, DATASET, &out, err))
HTTP_JSON_HANDLER(version_create, 201,
                  data_version_create(&req->ctx, TEAM, DATASET, req->json, &out, err))
HTTP_JSON_HANDLER(version_get, 200,
                  data_version_get(&req->ctx, TEAM, DATASET, VERSION, &out, err))
HTTP_JSON_HANDLER(version_update, 200,
                  data_version_update(&req->ctx, TEAM, DATASET, VERSION, req->json, &out, err))
HTTP_JSON_HANDLER(version_archive, 200,
                  data_version_archive(&req->ctx, TEAM, DATASET, VERSION, &out, err))
HTTP_JSON_HANDLER(version_profile, 200,
                  data_version_profile(&req->ctx, TEAM, DATASET, VERSION, &out, err))
HTTP_JSON_HANDLER(column_tags_set, 200,
                  data_column_tags_set(&req->ctx, TEAM, DATASET, VERSION, req->json, &out, err))
HTTP_JSON_HANDLER(suite_set, 200, data_suite_set(&req->ctx, TEAM, DATASET, req->json, &out, err))
HTTP_JSON_HANDLER(suite_get, 200, data_suite_get(&req->ctx, TEAM, DATASET, &out, err))
HTTP_JSON_HANDLER(validation_run, 201,
                  data_validation_run(&req->ctx, TEAM, DATASET, VERSION, &out, err))
HTTP_JSON_HANDLER(lineage_link, 201, data_lineage_link(&req->ctx, req->json, &out, err))
HTTP_JSON_HANDLER(lineage_model, 200,
                  data_lineage_model(&req->ctx, TEAM, http_param(req, "model"), VERSION, &out,
                                     err))

static int dataset_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"team", "tag", "prefix", "archived", "limit",
                                          "page_token", NULL};
    data_dataset_filter_t f = {.team = http_query(req, "team"),
                               .tag = http_query(req, "tag"),
                               .prefix = http_query(req, "prefix")};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_archived(req, &f.archived, err);
    if (rc == 0)
        rc = http_query_page(req, &f.limit, &f.after_id, err);
    if (rc == 0)
        rc = data_dataset_list(&req->ctx, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int version_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"archived", "limit", "page_token", NULL};
    data_version_filter_t f = {0};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_archived(req, &f.archived, err);
    if (rc == 0)
        rc = http_query_page(req, &f.limit, &f.before_number, err);
    if (rc == 0)
        rc = data_version_list(&req->ctx, TEAM, DATASET, &f, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int version_sample(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"rows", NULL};
    int64_t rows = 10;
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_int(req, "rows", 10, 1, 1000, &rows, err);
    if (rc == 0)
        rc = data_version_sample(&req->ctx, TEAM, DATASET, VERSION, rows, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int version_diff(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"against", NULL};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = data_version_diff(&req->ctx, TEAM, DATASET, VERSION, http_query(req, "against"),
                               &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int validation_list(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"limit", "page_token", NULL};
    int limit;
    int64_t token;
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = http_query_page(req, &limit, &token, err);
    if (rc == 0)
        rc = data_validation_list(&req->ctx, TEAM, DATASET, VERSION, token, limit, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int validation_get(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    long long id;
    json_t *out = NULL;
    int rc = http_query_check(req, no_query, err);
    if (rc == 0 && (mops_parse_i64(http_param(req, "id"), &id) != 0 || id < 1))
        rc = mops_err_set(err, MOPS_EINVAL, "validation id \"%s\" must be a positive integer",
                          mops_text_show(http_param(req, "id")));
    if (rc == 0)
        rc = data_validation_get(&req->ctx, TEAM, DATASET, VERSION, id, &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

static int lineage_dataset(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    static const char *const allowed[] = {"stage", NULL};
    json_t *out = NULL;
    int rc = http_query_check(req, allowed, err);
    if (rc == 0)
        rc = data_lineage_dataset(&req->ctx, TEAM, DATASET, VERSION, http_query(req, "stage"),
                                  &out, err);
    if (rc == 0)
        http_resp_json(resp, 200, out);
    return rc;
}

/* ------------------------------------------------------------ upload */

HTTP_UPLOAD_HANDLERS(upload, data_upload_t, no_query,
                     data_upload_begin(&req->ctx, TEAM, DATASET, http_max_upload(req), &u, err),
                     data_upload_write, data_upload_abort, data_upload_finish)

/* ------------------------------------------------------------ download */

static int version_download(http_req_t *req, http_resp_t *resp, mops_err_t *err)
{
    int fd;
    int64_t size;
    char sha[65];
    int rc = http_query_check(req, no_query, err);
    if (rc == 0)
        rc = data_version_open(&req->ctx, TEAM, DATASET, VERSION, &fd, &size, sha, err);
    if (rc != 0)
        return rc;
    http_resp_file(req, resp, fd, size, sha, "text/csv; charset=utf-8",
                   mops_arena_printf(req->arena, "%s-%s.csv", DATASET, VERSION));
    return 0;
}

#define ROUTE(m, p, a, b, h) {m, p, a, b, 0, h, NULL, NULL, NULL, NULL}
#define DS_PATH "/api/v1/datasets/:team/:dataset"
#define DV_PATH "/api/v1/datasets/:team/:dataset/versions/:version"

const http_route_t http_routes_data[] = {
    ROUTE("POST", "/api/v1/datasets", "dataset.create", HTTP_BODY_JSON, dataset_create),
    ROUTE("GET", "/api/v1/datasets", "dataset.list", HTTP_BODY_NONE, dataset_list),
    ROUTE("GET", DS_PATH, "dataset.get", HTTP_BODY_NONE, dataset_get),
    ROUTE("PATCH", DS_PATH, "dataset.update", HTTP_BODY_JSON, dataset_update),
    ROUTE("POST", DS_PATH "/archive", "dataset.archive", HTTP_BODY_NONE, dataset_archive),
    {"POST", DS_PATH "/uploads", "dataset.upload", HTTP_BODY_STREAM, 0, upload_finish,
     upload_begin, upload_data, upload_abort, NULL},
    ROUTE("POST", DS_PATH "/versions", "dataset.version.create", HTTP_BODY_JSON, version_create),
    ROUTE("GET", DS_PATH "/versions", "dataset.version.list", HTTP_BODY_NONE, version_list),
    ROUTE("GET", DV_PATH, "dataset.version.get", HTTP_BODY_NONE, version_get),
    ROUTE("PATCH", DV_PATH, "dataset.version.update", HTTP_BODY_JSON, version_update),
    ROUTE("POST", DV_PATH "/archive", "dataset.version.archive", HTTP_BODY_NONE,
          version_archive),
    ROUTE("GET", DV_PATH "/data", "dataset.download", HTTP_BODY_NONE, version_download),
    ROUTE("GET", DV_PATH "/sample", "dataset.sample", HTTP_BODY_NONE, version_sample),
    ROUTE("GET", DV_PATH "/profile", "dataset.profile", HTTP_BODY_NONE, version_profile),
    ROUTE("GET", DV_PATH "/diff", "dataset.diff", HTTP_BODY_NONE, version_diff),
    ROUTE("PUT", DV_PATH "/column-tags", "dataset.column_tags", HTTP_BODY_JSON,
          column_tags_set),
    ROUTE("PUT", DS_PATH "/suite", "dataset.suite.set", HTTP_BODY_JSON, suite_set),
    ROUTE("GET", DS_PATH "/suite", "dataset.suite.get", HTTP_BODY_NONE, suite_get),
    ROUTE("POST", DV_PATH "/validations", "dataset.validate", HTTP_BODY_NONE, validation_run),
    ROUTE("GET", DV_PATH "/validations", "dataset.validation.list", HTTP_BODY_NONE,
          validation_list),
    ROUTE("GET", DV_PATH "/validations/:id", "dataset.validation.get", HTTP_BODY_NONE,
          validation_get),
    ROUTE("GET", "/api/v1/lineage/datasets/:team/:dataset/versions/:version", "lineage.dataset",
          HTTP_BODY_NONE, lineage_dataset),
    ROUTE("GET", "/api/v1/lineage/models/:team/:model/versions/:version", "lineage.model",
          HTTP_BODY_NONE, lineage_model),
    ROUTE("POST", "/api/v1/lineage/links", "lineage.link", HTTP_BODY_JSON, lineage_link),
    {NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
