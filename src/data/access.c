/*
 * access.c — who sees a version's values: downloads (dataset.download, and
 * dataset.download_pii when a column carries a restricted tag; every one
 * audited), samples (restricted columns masked unless the caller may see
 * them, and then audited), and the column tags that decide it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "data/data_int.h"
#include "store/blob.h"

static const mops_json_field_t tags_fields[] = {
    {"columns", MOPS_JSON_OBJECT, 1},
    {"approve", MOPS_JSON_BOOL, 0},
    {NULL, 0, 0},
};

/* The restricted columns of a version as a JSON array of names. */
static json_t *names_of(const json_t *restricted)
{
    json_t *a = json_array();
    const char *col;
    json_t *v;
    json_object_foreach((json_t *)restricted, col, v) json_array_append_new(a, json_string(col));
    return a;
}

int data_version_open(const mops_ctx_t *ctx, const char *team, const char *name,
                      const char *ref, int *fd, int64_t *size, char sha256_hex[65],
                      mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    json_t *restricted = NULL;
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_READ, &d, &v, err)) != 0 ||
        (rc = dt_restricted_columns(ctx, v.id, &restricted, err)) != 0)
        return rc;
    /* A version with restricted columns takes dataset.download_pii (whose
     * roles the matrix keeps within dataset.download's). */
    int pii = json_object_size(restricted) > 0;
    if ((rc = auth_require(ctx, pii ? AUTH_DATASET_DOWNLOAD_PII : AUTH_DATASET_DOWNLOAD,
                           d.team_id, err)) != 0) {
        if (pii)
            mops_err_wrap(err, "version %lld of %s/%s has PII columns", (long long)v.number,
                          team, name);
        json_decref(restricted);
        return rc;
    }
    int64_t bytes = 0;
    int f = -1;
    if ((rc = store_query_int(ctx->db, &bytes, err,
                              "SELECT size FROM dataset_files WHERE sha256 = ?", "t",
                              v.sha256)) == 0 &&
        (rc = store_blob_open(ctx->env->artifact_dir, v.sha256, bytes, &f, err)) == 0 &&
        (rc = store_begin(ctx->db, err)) == 0) {
        json_t *detail = json_pack("{s:s, s:o}", "sha256", v.sha256, "pii_columns",
                                   names_of(restricted));
        rc = audit_record(ctx, "dataset.download", dt_target(ctx, &d, v.number), d.team_id,
                          detail, err);
        json_decref(detail);
        rc = store_end(ctx->db, rc, err);
    }
    json_decref(restricted);
    if (rc != 0) {
        if (f >= 0)
            close(f);
        return rc;
    }
    *fd = f;
    *size = bytes;
    memcpy(sha256_hex, v.sha256, 65);
    return 0;
}

/* ------------------------------------------------------------ samples */

int data_version_sample(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *ref, int64_t rows, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    json_t *restricted = NULL;
    FILE *f = NULL;
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_READ, &d, &v, err)) != 0)
        return rc;
    if (rows < 1 || rows > 1000)
        return mops_err_set(err, MOPS_EINVAL, "rows must be from 1 to 1000");
    if ((rc = dt_restricted_columns(ctx, v.id, &restricted, err)) != 0)
        return rc;
    int unmasked = auth_can(ctx->who, AUTH_DATASET_DOWNLOAD_PII, d.team_id);
    if ((rc = dt_version_stream(ctx, v.sha256, &f, NULL, err)) != 0) {
        json_decref(restricted);
        return rc;
    }
    mops_csv_t *csv = mops_csv_open(f, "the stored file");
    mops_csv_record_t rec;
    json_t *columns = json_array(), *data = json_array();
    unsigned char *mask = NULL;
    while ((int64_t)json_array_size(data) < rows && (rc = mops_csv_next(csv, &rec, err)) == 1) {
        if (!mask) { /* the header */
            mask = mops_arena_alloc(ctx->arena, rec.n + 1);
            for (size_t i = 0; i < rec.n; i++) {
                json_array_append_new(columns, json_stringn(rec.fields[i], rec.lens[i]));
                mask[i] = !unmasked && json_object_get(restricted, rec.fields[i]) != NULL;
            }
            continue;
        }
        json_t *row = json_array();
        for (size_t i = 0; i < rec.n; i++)
            json_array_append_new(row, mask[i] ? json_string(data_pii_mask(NULL, rec.fields[i]))
                                               : json_stringn(rec.fields[i], rec.lens[i]));
        json_array_append_new(data, row);
    }
    if (rc > 0)
        rc = 0;
    mops_csv_close(csv);
    fclose(f);
    if (rc < 0) {
        json_decref(columns);
        json_decref(data);
        json_decref(restricted);
        return rc;
    }
    json_t *masked = unmasked ? json_array() : names_of(restricted);
    /* Personal data leaving unmasked is audited like a download. */
    if (unmasked && json_object_size(restricted) && (rc = store_begin(ctx->db, err)) == 0) {
        json_t *detail = json_pack("{s:I, s:o}", "rows", (json_int_t)json_array_size(data),
                                   "pii_columns", names_of(restricted));
        rc = audit_record(ctx, "dataset.sample", dt_target(ctx, &d, v.number), d.team_id,
                          detail, err);
        json_decref(detail);
        rc = store_end(ctx->db, rc, err);
    }
    json_decref(restricted);
    if (rc != 0) {
        json_decref(columns);
        json_decref(data);
        json_decref(masked);
        return rc;
    }
    *out = json_pack("{s:s, s:o, s:o, s:o}", "dataset", dt_ref_text(ctx, &d, v.number),
                     "columns", columns, "rows", data, "masked", masked);
    return 0;
}

/* ------------------------------------------------------------ column tags */

static int schema_has(const json_t *schema, const char *col)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(schema, "columns"), i, c) {
        if (!strcmp(mops_json_str(c, "name", ""), col))
            return 1;
    }
    return 0;
}

static int contains(const json_t *array, const json_t *v)
{
    size_t i;
    json_t *u;
    json_array_foreach(array, i, u) {
        if (json_equal(u, v))
            return 1;
    }
    return 0;
}

/* The tags a column of a version has now, as a JSON array. */
static int column_tag_names(const mops_ctx_t *ctx, int64_t version_id, const char *col,
                            json_t **out, mops_err_t *err)
{
    store_stmt_t *q;
    int rc = store_query(ctx->db, &q, err,
                         "SELECT tag FROM dataset_column_tags WHERE version_id = ? AND "
                         "column_name = ?",
                         "it", version_id, col);
    if (rc != 0)
        return rc;
    json_t *a = json_array();
    while ((rc = store_step(q, err)) == STORE_ROW)
        json_array_append_new(a, json_string(store_col_text(q, 0)));
    store_finalize(q);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

int data_column_tags_set(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, const json_t *spec, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    int rc;
    /* Tagging is for writers and for those who classify data; which of
     * the two a change needs is known once the body says what it changes. */
    if ((rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_READ, &d, err)) != 0)
        return rc;
    if (!auth_can(ctx->who, AUTH_DATASET_CLASSIFY, d.team_id) &&
        (rc = auth_require(ctx, AUTH_DATASET_WRITE, d.team_id, err)) != 0) {
        mops_err_t other;
        auth_require(ctx, AUTH_DATASET_CLASSIFY, d.team_id, &other);
        char first[MOPS_ERR_MSG_MAX];
        snprintf(first, sizeof first, "%s", err ? err->msg : "");
        return mops_err_set(err, rc, "%s; nor %s", first, other.msg);
    }
    if ((rc = dt_version_resolve(ctx, &d, ref, &v, err)) != 0 ||
        (rc = mops_json_check(spec, "request body", tags_fields, err)) != 0)
        return rc;
    json_t *cols = json_object_get(spec, "columns");
    json_t *schema = NULL, *removed = json_array();
    int changes = 0; /* tags added, or unrestricted ones taken off */
    if ((rc = dt_version_doc(ctx, v.id, "schema", &schema, err)) != 0)
        goto out;
    const char *col;
    json_t *tags;
    json_object_foreach(cols, col, tags) {
        if (!schema_has(schema, col)) {
            rc = mops_err_set(err, MOPS_EINVAL, "\"%s\" is not a column of version %lld of %s/%s",
                              mops_text_show(col), (long long)v.number, team, name);
            goto out;
        }
        size_t i;
        json_t *t, *old = NULL;
        if (!json_is_array(tags)) {
            rc = mops_err_set(err, MOPS_EINVAL, "the tags of column \"%s\" must be an array",
                              mops_text_show(col));
            goto out;
        }
        json_array_foreach(tags, i, t) {
            if (!json_is_string(t)) {
                rc = mops_err_set(err, MOPS_EINVAL, "the tags of column \"%s\" must be strings",
                                  mops_text_show(col));
                goto out;
            }
        }
        if ((rc = dt_tags_check(tags, err)) != 0) {
            mops_err_wrap(err, "column \"%s\"", mops_text_show(col));
            goto out;
        }
        if ((rc = column_tag_names(ctx, v.id, col, &old, err)) != 0)
            goto out;
        json_array_foreach(old, i, t) {
            if (contains(tags, t))
                continue;
            if (data_tag_is_restricted(json_string_value(t)))
                json_array_append_new(removed, json_pack("{s:s, s:O}", "column", col, "tag", t));
            else
                changes = 1;
        }
        json_array_foreach(tags, i, t) changes |= !contains(old, t);
        json_decref(old);
    }
    if (json_array_size(removed) &&
        (rc = auth_require(ctx, AUTH_DATASET_CLASSIFY, d.team_id, err)) != 0) {
        mops_err_wrap(err, "taking tag %s off column \"%s\"",
                      mops_json_str(json_array_get(removed, 0), "tag", ""),
                      mops_text_show(mops_json_str(json_array_get(removed, 0), "column", "")));
        goto out;
    }
    if (changes && (rc = auth_require(ctx, AUTH_DATASET_WRITE, d.team_id, err)) != 0)
        goto out;
    /* Approving the use of restricted columns is the classifiers' call. */
    int approve = json_is_true(json_object_get(spec, "approve"));
    if (approve && (rc = auth_require(ctx, AUTH_DATASET_CLASSIFY, d.team_id, err)) != 0) {
        mops_err_wrap(err, "approving the use of PII columns");
        goto out;
    }
    if (v.archived) {
        rc = mops_err_set(err, MOPS_EPRECOND, "version %lld of %s/%s is archived",
                          (long long)v.number, team, name);
        goto out;
    }
    if ((rc = store_begin(ctx->db, err)) != 0)
        goto out;
    int64_t now = mops_now_ms(), by = ctx->who ? ctx->who->user_id : 0;
    char evidence[120];
    snprintf(evidence, sizeof evidence, "set by %s", ctx->who ? ctx->who->user : "the system");
    json_object_foreach(cols, col, tags) {
        if (rc != 0)
            break;
        /* Tags kept keep their evidence; the others go, the new come. */
        size_t i;
        json_t *t, *old = NULL;
        if ((rc = column_tag_names(ctx, v.id, col, &old, err)) != 0)
            break;
        json_array_foreach(old, i, t) {
            if (rc == 0 && !contains(tags, t))
                rc = store_exec(ctx->db, NULL, err,
                                "DELETE FROM dataset_column_tags WHERE version_id = ? AND "
                                "column_name = ? AND tag = ?",
                                "itt", v.id, col, json_string_value(t));
        }
        json_decref(old);
        json_array_foreach(tags, i, t) {
            if (rc != 0)
                break;
            /* An approval stays until the tag goes; approve sets it on the
             * restricted tags given. */
            const char *tag = json_string_value(t);
            const char *state = approve && data_tag_is_restricted(tag) ? "approved" : "confirmed";
            rc = store_exec(ctx->db, NULL, err,
                            "INSERT INTO dataset_column_tags (version_id, column_name, tag, "
                            "state, evidence, updated_by, updated_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?) "
                            "ON CONFLICT (version_id, column_name, tag) DO UPDATE SET "
                            "state = CASE WHEN excluded.state = 'approved' OR "
                            "dataset_column_tags.state = 'approved' THEN 'approved' "
                            "ELSE 'confirmed' END, updated_by = excluded.updated_by, "
                            "updated_at = excluded.updated_at",
                            "ittttIi", v.id, col, tag, state, evidence, by, now);
        }
    }
    if (rc == 0) {
        json_t *detail = json_pack("{s:O, s:O, s:b}", "columns", cols, "removed", removed,
                                   "approve", approve);
        rc = audit_record(ctx, "dataset.column_tags", dt_target(ctx, &d, v.number), d.team_id,
                          detail, err);
        json_decref(detail);
    }
    if ((rc = store_end(ctx->db, rc, err)) == 0)
        rc = dt_version_json(ctx, &d, v.id, out, err);
out:
    json_decref(schema);
    json_decref(removed);
    return rc;
}
