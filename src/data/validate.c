/*
 * validate.c — validating a version against its dataset's suite: stream
 * the file (verified against its hash first), run the expectations, store
 * the result with its audit entry; list and read results, with the values
 * of restricted columns masked for those who may not see them; and the
 * quality state governance reads.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/time.h"
#include "data/data_int.h"

/* The current suite of a dataset: revision and expectations. */
static int current_suite(const mops_ctx_t *ctx, const dt_dataset_t *d, int64_t *revision,
                         json_t **expectations, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT s.revision, s.expectations FROM dataset_suites s JOIN datasets d "
                         "ON d.id = s.dataset_id AND d.suite_revision = s.revision "
                         "WHERE s.dataset_id = ?",
                         "i", d->id);
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW) {
        *revision = store_col_int(s, 0);
        *expectations = json_loads(store_col_text(s, 1), 0, NULL);
        if (!*expectations)
            rc = mops_err_set(err, MOPS_ECORRUPT, "the suite of %s/%s is unreadable", d->team,
                              d->name);
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_EPRECOND,
                          "dataset %s/%s has no quality suite yet; set one first "
                          "(PUT /api/v1/datasets/%s/%s/suite, mops data suite)",
                          d->team, d->name, d->team, d->name);
    }
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

/* Mask the unexpected values of restricted columns in a stored result. */
static void mask_result(json_t *result, const json_t *restricted)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(result, "results"), i, r) {
        const char *col = mops_json_str(
            json_object_get(json_object_get(r, "expectation_config"), "kwargs"), "column", NULL);
        json_t *list = json_object_get(json_object_get(r, "result"), "partial_unexpected_list");
        if (!col || !json_object_get(restricted, col) || !json_is_array(list))
            continue;
        size_t j;
        json_t *v;
        json_array_foreach(list, j, v) {
            if (json_is_string(v))
                json_array_set_new(list, j, json_string(data_pii_mask(NULL, json_string_value(v))));
        }
        json_object_set_new(json_object_get(r, "result"), "masked", json_true());
    }
}

static int result_json(const mops_ctx_t *ctx, const dt_dataset_t *d, const dt_version_t *v,
                       int64_t id, int full, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT r.suite_revision, r.success, r.statistics, r.result, "
                         "COALESCE(u.name, 'system'), r.created_at FROM dataset_validations r "
                         "LEFT JOIN users u ON u.id = r.created_by "
                         "WHERE r.id = ? AND r.version_id = ?",
                         "ii", id, v->id);
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW) {
        json_t *o = full ? json_loads(store_col_text(s, 3), 0, NULL) : json_object();
        if (!o)
            o = json_object();
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "dataset", json_string(dt_ref_text(ctx, d, v->number)));
        json_object_set_new(o, "suite_revision", json_integer(store_col_int(s, 0)));
        json_object_set_new(o, "success", json_boolean(store_col_int(s, 1)));
        json_object_set_new(o, "statistics", json_loads(store_col_text(s, 2), 0, NULL));
        json_object_set_new(o, "run_by", json_string(store_col_text(s, 4)));
        json_object_set_new(o, "validated_at", mops_json_time(store_col_int(s, 5)));
        *out = o;
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_ENOTFOUND, "version %lld of %s/%s has no validation %lld",
                          (long long)v->number, d->team, d->name, (long long)id);
    }
    store_finalize(s);
    if (rc < 0 || !full)
        return rc < 0 ? rc : 0;
    json_t *restricted = NULL;
    if ((rc = dt_restricted_columns(ctx, v->id, &restricted, err)) != 0) {
        json_decref(*out);
        return rc;
    }
    if (!auth_can(ctx->who, AUTH_DATASET_DOWNLOAD_PII, d->team_id))
        mask_result(*out, restricted);
    json_decref(restricted);
    return 0;
}

int data_validation_run(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *ref, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    json_t *expectations = NULL, *schema = NULL, *result = NULL;
    int64_t revision = 0, rows = 0, id = 0;
    FILE *f = NULL;
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_WRITE, &d, &v, err)) != 0 ||
        (rc = current_suite(ctx, &d, &revision, &expectations, err)) != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT v.schema, f.rows FROM dataset_versions v JOIN dataset_files f "
                          "ON f.sha256 = v.sha256 WHERE v.id = ?",
                          "i", v.id)) != 0)
        goto out;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        schema = json_loads(store_col_text(s, 0), 0, NULL);
        rows = store_col_int(s, 1);
    }
    store_finalize(s);
    if (rc < 0 || (rc = dt_version_stream(ctx, v.sha256, &f, NULL, err)) != 0)
        goto out;
    /* The long part, outside any transaction. */
    if ((rc = dt_validate_stream(ctx, f, "the stored file", schema, rows, expectations, &result,
                                 err)) != 0)
        goto out;
    char *stats = mops_json_dump(json_object_get(result, "statistics"));
    char *text = mops_json_dump(result);
    int success = json_is_true(json_object_get(result, "success"));
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = store_query_int(ctx->db, &id, err,
                              "INSERT INTO dataset_validations (version_id, suite_revision, "
                              "success, statistics, result, created_by, created_at) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                              "iiittIi", v.id, revision, (int64_t)success, stats, text,
                              ctx->who ? ctx->who->user_id : 0, mops_now_ms())) == 0) {
        json_t *detail = json_pack("{s:I, s:I, s:b, s:O}", "result_id", (json_int_t)id,
                                   "suite_revision", (json_int_t)revision, "success", success,
                                   "statistics", json_object_get(result, "statistics"));
        rc = audit_record(ctx, "dataset.validate", dt_target(ctx, &d, v.number), d.team_id,
                          detail, err);
        json_decref(detail);
    }
    free(stats);
    free(text);
    if ((rc = store_end(ctx->db, rc, err)) == 0)
        rc = result_json(ctx, &d, &v, id, 1, out, err);
out:
    if (f)
        fclose(f);
    json_decref(expectations);
    json_decref(schema);
    json_decref(result);
    return rc;
}

typedef struct result_arg {
    dt_dataset_t d;
    dt_version_t v;
} result_arg_t;

static int result_item(const mops_ctx_t *ctx, const void *arg, int64_t id, json_t **out,
                       mops_err_t *err)
{
    const result_arg_t *a = arg;
    return result_json(ctx, &a->d, &a->v, id, 0, out, err);
}

int data_validation_list(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, int64_t before_id, int limit, json_t **out,
                         mops_err_t *err)
{
    result_arg_t a;
    int rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_READ, &a.d, &a.v, err);
    if (rc != 0)
        return rc;
    if (limit < 1 || limit > 1000)
        limit = 50;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT id, id FROM dataset_validations WHERE version_id = ? AND id < ? "
                          "ORDER BY id DESC LIMIT ?",
                          "iii", a.v.id, before_id > 0 ? before_id : INT64_MAX,
                          (int64_t)limit + 1)) != 0)
        return rc;
    return store_page(ctx, s, limit, result_item, &a, out, err);
}

int data_validation_get(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *ref, int64_t id, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_READ, &d, &v, err)) != 0)
        return rc;
    return result_json(ctx, &d, &v, id, 1, out, err);
}

int data_quality_status(const mops_ctx_t *ctx, const data_ref_t *ref, json_t **out,
                        mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    int rc = dt_ref_resolve(ctx, ref, AUTH_DATASET_READ, &d, &v, err);
    if (rc != 0)
        return rc;
    int64_t current = 0;
    if ((rc = store_query_int(ctx->db, &current, err,
                              "SELECT suite_revision FROM datasets WHERE id = ?", "i", d.id)) != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT id, success, suite_revision, created_at FROM dataset_validations "
                          "WHERE version_id = ? ORDER BY id DESC LIMIT 1",
                          "i", v.id)) != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW)
        *out = json_pack("{s:s, s:I, s:b, s:b, s:b, s:I, s:o}", "dataset",
                         dt_ref_text(ctx, &d, v.number), "suite_revision", (json_int_t)current,
                         "validated", 1, "success", (int)store_col_int(s, 1), "current",
                         store_col_int(s, 2) == current, "result_id",
                         (json_int_t)store_col_int(s, 0), "validated_at",
                         mops_json_time(store_col_int(s, 3)));
    else if (rc == STORE_DONE)
        *out = json_pack("{s:s, s:I, s:b, s:b, s:b, s:n, s:n}", "dataset",
                         dt_ref_text(ctx, &d, v.number), "suite_revision", (json_int_t)current,
                         "validated", 0, "success", 0, "current", 0, "result_id",
                         "validated_at");
    store_finalize(s);
    return rc < 0 ? rc : 0;
}
