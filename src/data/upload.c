/*
 * upload.c — receiving a dataset file: one pass over the bytes as they
 * arrive, which go to the blob store (hashed) and through the CSV reader
 * into the analyzer at the same time, in constant memory.
 *
 * A malformed file stops the analysis and discards the blob at once; the
 * rest of the body is read and dropped so the client gets its answer
 * (400 with the line), and nothing is recorded. A good file is made
 * durable under its hash, its sketches stored as a blob of their own, and
 * only then is it recorded for the team, in one transaction with its audit
 * entry: a row never points at a missing file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "data/data_int.h"
#include "store/blob.h"

struct data_upload {
    store_blob_writer_t *blob;
    mops_csv_t *csv;
    dt_analyzer_t *an;
    int failed;       /* the file is bad: err says why; the rest is dropped */
    mops_err_t err;
    int64_t bytes, max;
    dt_dataset_t ds;
    char team[MOPS_NAME_MAX + 1], name[MOPS_NAME_MAX + 1];
};

static int on_record(void *arg, const mops_csv_record_t *rec, mops_err_t *err)
{
    return dt_analyzer_record(arg, rec, err);
}

int data_upload_begin(const mops_ctx_t *ctx, const char *team, const char *name,
                      int64_t max_bytes, data_upload_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    int rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_WRITE, &d, err);
    if (rc != 0)
        return rc;
    if (d.archived)
        return mops_err_set(err, MOPS_EPRECOND, "dataset %s/%s is archived", team, name);
    data_upload_t *u = mops_xcalloc(1, sizeof *u);
    if ((rc = store_blob_writer_new(ctx->env->artifact_dir, max_bytes, "the dataset file",
                                    &u->blob, err)) != 0) {
        free(u);
        return rc;
    }
    snprintf(u->team, sizeof u->team, "%s", team);
    snprintf(u->name, sizeof u->name, "%s", name);
    u->max = max_bytes;
    u->ds = d;
    u->ds.team = u->team;
    u->ds.name = u->name;
    u->an = dt_analyzer_new("the uploaded file");
    u->csv = mops_csv_push_new("the uploaded file", on_record, u->an);
    *out = u;
    return 0;
}

/* The file is bad: keep why, drop the partial blob now. */
static void fail(data_upload_t *u)
{
    u->failed = 1;
    /* A field over the reader's limit is bad input, not an oversized
     * request: the request itself is within --max-upload. */
    if (u->err.code == MOPS_ETOOBIG)
        u->err.code = MOPS_EINVAL;
    store_blob_abort(u->blob);
    u->blob = NULL;
}

int data_upload_write(data_upload_t *u, const void *p, size_t n, mops_err_t *err)
{
    u->bytes += (int64_t)n;
    if (u->failed) {
        /* Dropped, but still counted: a bad file is no way around the limit. */
        if (u->bytes > u->max)
            return mops_err_set(err, MOPS_ETOOBIG,
                                "the dataset file is larger than the limit of %lld bytes "
                                "(server option --max-upload)",
                                (long long)u->max);
        return 0;
    }
    int rc = store_blob_write(u->blob, p, n, err);
    if (rc != 0)
        return rc; /* over --max-upload, or the disk: the request's problem */
    if (mops_csv_push(u->csv, p, n, &u->err) != 0)
        fail(u);
    return 0;
}

void data_upload_abort(data_upload_t *u)
{
    if (!u)
        return;
    store_blob_abort(u->blob);
    mops_csv_close(u->csv);
    dt_analyzer_free(u->an);
    free(u);
}

/* The sketches as a blob of their own; sha and size of it. */
static int store_sketches(const mops_ctx_t *ctx, const data_upload_t *u, char *sha,
                          int64_t *size, mops_err_t *err)
{
    store_blob_writer_t *w;
    int rc = store_blob_writer_new(ctx->env->artifact_dir, INT64_MAX, "the profile sketches",
                                   &w, err);
    if (rc != 0)
        return rc;
    if ((rc = dt_analyzer_write_sketches(u->an, w, err)) != 0) {
        store_blob_abort(w);
        return rc;
    }
    return store_blob_commit(w, sha, size, NULL, err);
}

/* What the caller of an upload sees of its analysis. */
static json_t *upload_json(const char *sha, int64_t size, const json_t *analysis, int existed)
{
    json_t *cols = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(analysis, "columns"), i, c)
        json_array_append_new(cols, json_pack("{s:O, s:O, s:O}", "name", json_object_get(c, "name"),
                                              "type", json_object_get(c, "type"), "nullable",
                                              json_object_get(c, "nullable")));
    return json_pack("{s:s, s:I, s:O, s:o, s:O, s:b}", "sha256", sha, "size", (json_int_t)size,
                     "rows", json_object_get(analysis, "rows"), "columns", cols,
                     "pii_suggestions", json_object_get(analysis, "pii"), "already_stored",
                     existed);
}

int data_upload_finish(const mops_ctx_t *ctx, data_upload_t *u, json_t **out,
                       mops_err_t *err)
{
    json_t *analysis = NULL;
    char sha[STORE_BLOB_SHA_HEX], sk_sha[STORE_BLOB_SHA_HEX];
    int64_t size = 0, sk_size = 0, fresh = 0;
    int rc = 0;
    if (!u->failed && mops_csv_push_end(u->csv, &u->err) != 0)
        fail(u);
    if (!u->failed && dt_analyzer_finish(u->an, &analysis, &u->err) != 0)
        fail(u);
    if (u->failed) {
        rc = mops_err_set(err, u->err.code, "%s", u->err.msg);
        goto out;
    }
    if ((rc = store_sketches(ctx, u, sk_sha, &sk_size, err)) != 0)
        goto out;
    rc = store_blob_commit(u->blob, sha, &size, NULL, err);
    u->blob = NULL;
    if (rc != 0)
        goto out;
    int64_t now = mops_now_ms(), by = ctx->who ? ctx->who->user_id : 0;
    char *text = mops_json_dump(analysis);
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = store_exec(ctx->db, NULL, err,
                         "INSERT INTO dataset_files (sha256, size, rows, analysis, "
                         "sketches_sha256, sketches_size, created_by, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                         "tiittiIi", sha, size,
                         (int64_t)json_integer_value(json_object_get(analysis, "rows")), text,
                         sk_sha, sk_size, by, now)) == 0 &&
        (rc = store_exec(ctx->db, &fresh, err,
                         "INSERT INTO dataset_uploads (sha256, team_id, created_by, created_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (sha256, team_id) DO NOTHING",
                         "tiIi", sha, u->ds.team_id, by, now)) == 0) {
        json_t *detail = json_pack("{s:s, s:I, s:O}", "sha256", sha, "size", (json_int_t)size,
                                   "rows", json_object_get(analysis, "rows"));
        rc = audit_record(ctx, "dataset.upload", dt_target(ctx, &u->ds, 0), u->ds.team_id,
                          detail, err);
        json_decref(detail);
    }
    free(text);
    rc = store_end(ctx->db, rc, err);
    /* already_stored speaks for this team only, as for model artifacts. */
    if (rc == 0)
        *out = upload_json(sha, size, analysis, fresh == 0);
out:
    json_decref(analysis);
    data_upload_abort(u);
    return rc;
}

int data_storage(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT u.team_id, t.name, SUM(f.size + f.sketches_size) "
                         "FROM dataset_uploads u JOIN dataset_files f ON f.sha256 = u.sha256 "
                         "JOIN teams t ON t.id = u.team_id GROUP BY u.team_id, t.name",
                         NULL);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(items, json_pack("{s:I, s:s, s:I}", "team_id",
                                               (json_int_t)store_col_int(s, 0), "team",
                                               store_col_text(s, 1), "bytes",
                                               (json_int_t)store_col_int(s, 2)));
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}
