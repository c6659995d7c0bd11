/*
 * version.c — dataset versions: create from an upload (schema inferred or
 * declared and checked, changes against the previous version, profile,
 * column tags), read, list, update, archive; and the schema helpers.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "data/data_int.h"

static const mops_json_field_t create_fields[] = {
    {"sha256", MOPS_JSON_STRING, 1},
    {"description", MOPS_JSON_STRING, 0},
    {"source_uri", MOPS_JSON_STRING, 0},
    {"tags", MOPS_JSON_STRING_ARRAY, 0},
    {"schema", MOPS_JSON_OBJECT, 0},
    {"column_tags", MOPS_JSON_OBJECT, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t schema_fields[] = {
    {"columns", MOPS_JSON_ARRAY, 1},
    {NULL, 0, 0},
};

static const mops_json_field_t schema_column_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"type", MOPS_JSON_STRING, 1},
    {"nullable", MOPS_JSON_BOOL, 0},
    {NULL, 0, 0},
};

/* ------------------------------------------------------------ schemas */

int dt_schema_kinds(const json_t *schema, stats_kind_t *kinds, size_t n, mops_err_t *err)
{
    json_t *cols = json_object_get(schema, "columns");
    if (json_array_size(cols) != n)
        return mops_err_set(err, MOPS_ECORRUPT, "a stored schema does not match its file");
    for (size_t i = 0; i < n; i++)
        if (stats_kind_parse(mops_json_str(json_array_get(cols, i), "type", ""), &kinds[i]) != 0)
            return mops_err_set(err, MOPS_ECORRUPT, "a stored schema has an unknown type");
    return 0;
}

static const json_t *find_column(const json_t *schema, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(schema, "columns"), i, c) {
        if (!strcmp(mops_json_str(c, "name", ""), name))
            return c;
    }
    return NULL;
}

json_t *dt_schema_diff(const json_t *a, const json_t *b)
{
    json_t *added = json_array(), *removed = json_array(), *retyped = json_array(),
           *nullability = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(b, "columns"), i, c) {
        const char *name = mops_json_str(c, "name", "");
        const json_t *old = a ? find_column(a, name) : NULL;
        if (!old) {
            json_array_append_new(added, json_pack("{s:s, s:O}", "name", name, "type",
                                                   json_object_get(c, "type")));
            continue;
        }
        if (!json_equal(json_object_get(old, "type"), json_object_get(c, "type")))
            json_array_append_new(retyped, json_pack("{s:s, s:O, s:O}", "name", name, "from",
                                                     json_object_get(old, "type"), "to",
                                                     json_object_get(c, "type")));
        if (!json_equal(json_object_get(old, "nullable"), json_object_get(c, "nullable")))
            json_array_append_new(nullability,
                                  json_pack("{s:s, s:O, s:O}", "name", name, "from",
                                            json_object_get(old, "nullable"), "to",
                                            json_object_get(c, "nullable")));
    }
    if (a)
        json_array_foreach(json_object_get(a, "columns"), i, c) {
            if (!find_column(b, mops_json_str(c, "name", "")))
                json_array_append_new(removed, json_pack("{s:O, s:O}", "name",
                                                         json_object_get(c, "name"), "type",
                                                         json_object_get(c, "type")));
        }
    return json_pack("{s:o, s:o, s:o, s:o}", "added", added, "removed", removed, "retyped",
                     retyped, "nullability", nullability);
}

/* The schema of a new version: the declared one, checked against what the
 * upload's pass found, or the inferred one. */
static int build_schema(const json_t *declared, const json_t *analysis, json_t **out,
                        mops_err_t *err)
{
    json_t *cols = json_object_get(analysis, "columns");
    size_t n = json_array_size(cols), i;
    json_t *c;
    if (!declared) {
        json_t *s = json_array();
        json_array_foreach(cols, i, c)
            json_array_append_new(s, json_pack("{s:O, s:O, s:O}", "name", json_object_get(c, "name"),
                                               "type", json_object_get(c, "type"), "nullable",
                                               json_object_get(c, "nullable")));
        *out = json_pack("{s:o}", "columns", s);
        return 0;
    }
    int rc = mops_json_check(declared, "field \"schema\"", schema_fields, err);
    if (rc != 0)
        return rc;
    json_t *dcols = json_object_get(declared, "columns");
    if (json_array_size(dcols) != n)
        return mops_err_set(err, MOPS_EINVAL,
                            "the declared schema has %zu columns but the file has %zu",
                            json_array_size(dcols), n);
    json_t *s = json_array();
    json_t *d;
    json_array_foreach(dcols, i, d) {
        char what[64];
        snprintf(what, sizeof what, "schema column %zu", i + 1);
        if (!json_is_object(d)) {
            rc = mops_err_set(err, MOPS_EINVAL, "%s must be an object {\"name\", \"type\", "
                              "\"nullable\"}", what);
            break;
        }
        if ((rc = mops_json_check(d, what, schema_column_fields, err)) != 0)
            break;
        json_t *fc = json_array_get(cols, i);
        const char *name = mops_json_str(d, "name", ""), *type = mops_json_str(d, "type", "");
        const char *fname = mops_json_str(fc, "name", "");
        stats_kind_t kind;
        int nullable = !json_is_false(json_object_get(d, "nullable"));
        if (strcmp(name, fname) != 0) {
            rc = mops_err_set(err, MOPS_EINVAL,
                              "%s is named \"%s\" but the file's column %zu is \"%s\"", what,
                              mops_text_show(name), i + 1, mops_text_show(fname));
            break;
        }
        if (stats_kind_parse(type, &kind) != 0) {
            rc = mops_err_set(err, MOPS_EINVAL,
                              "%s (\"%s\"): type \"%s\" is not one of integer, float, boolean, "
                              "timestamp, string",
                              what, mops_text_show(name), mops_text_show(type));
            break;
        }
        json_t *misfit = json_object_get(json_object_get(fc, "misfits"), type);
        if (kind != STATS_KIND_STRING && misfit) {
            rc = mops_err_set(err, MOPS_EINVAL,
                              "column \"%s\" is declared %s but line %lld holds \"%s\"",
                              mops_text_show(name), type,
                              (long long)json_integer_value(json_object_get(misfit, "line")),
                              mops_text_show(mops_json_str(misfit, "value", "")));
            break;
        }
        json_t *missing_line = json_object_get(fc, "first_missing_line");
        if (!nullable && json_is_integer(missing_line)) {
            rc = mops_err_set(err, MOPS_EINVAL,
                              "column \"%s\" is declared not nullable but line %lld has no value",
                              mops_text_show(name), (long long)json_integer_value(missing_line));
            break;
        }
        json_array_append_new(s, json_pack("{s:s, s:s, s:b}", "name", name, "type", type,
                                           "nullable", nullable));
    }
    if (rc != 0) {
        json_decref(s);
        return rc;
    }
    *out = json_pack("{s:o}", "columns", s);
    return 0;
}

/* The profile of a version: each column's summary for its type. */
static json_t *build_profile(const json_t *analysis, const json_t *schema)
{
    json_t *cols = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(analysis, "columns"), i, c) {
        json_t *sc = json_array_get(json_object_get(schema, "columns"), i);
        const char *type = mops_json_str(sc, "type", "string");
        json_t *summary = json_deep_copy(json_object_get(json_object_get(c, "summaries"), type));
        if (!summary)
            summary = json_object();
        json_object_set(summary, "name", json_object_get(c, "name"));
        json_array_append_new(cols, summary);
    }
    return json_pack("{s:O, s:o}", "rows", json_object_get(analysis, "rows"), "columns", cols);
}

void dt_profile_redact(json_t *profile, const json_t *restricted)
{
    static const char *const values[] = {"min", "max", "mean", "quantiles", "histogram", "top",
                                         "top_count_error"};
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(profile, "columns"), i, c) {
        if (!json_object_get(restricted, mops_json_str(c, "name", "")))
            continue;
        for (size_t k = 0; k < sizeof values / sizeof values[0]; k++)
            json_object_del(c, values[k]);
        json_object_set_new(c, "redacted", json_true());
    }
}

/* ------------------------------------------------------------ JSON */

static int quality_json(const mops_ctx_t *ctx, int64_t version_id, int64_t suite_revision,
                        json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT id, success, suite_revision, created_at FROM dataset_validations "
                         "WHERE version_id = ? ORDER BY id DESC LIMIT 1",
                         "i", version_id);
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW)
        *out = json_pack("{s:I, s:b, s:I, s:b, s:o}", "result_id",
                         (json_int_t)store_col_int(s, 0), "success", (int)store_col_int(s, 1),
                         "suite_revision", (json_int_t)store_col_int(s, 2), "current",
                         store_col_int(s, 2) == suite_revision, "validated_at",
                         mops_json_time(store_col_int(s, 3)));
    else if (rc == STORE_DONE)
        *out = json_null();
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

int dt_version_json(const mops_ctx_t *ctx, const dt_dataset_t *d, int64_t version_id,
                    json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT v.number, v.sha256, f.size, f.rows, v.schema, v.schema_source, v.schema_changes, "
        "v.description, v.source_uri, COALESCE(u.name, 'system'), v.created_at, v.updated_at, "
        "v.archived_at, ds.suite_revision "
        "FROM dataset_versions v JOIN dataset_files f ON f.sha256 = v.sha256 "
        "JOIN datasets ds ON ds.id = v.dataset_id "
        "LEFT JOIN users u ON u.id = v.created_by WHERE v.id = ?",
        "i", version_id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "version vanished");
    }
    int64_t number = store_col_int(s, 0), suite_revision = store_col_int(s, 13);
    int64_t archived = store_col_is_null(s, 12) ? 0 : store_col_int(s, 12);
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:o, s:s, s:o, s:s, s:s, s:s, s:o, s:o, s:b, s:o, "
        "s:s}",
        "team", d->team, "dataset", d->name, "version", (json_int_t)number, "ref",
        dt_ref_text(ctx, d, number), "sha256", store_col_text(s, 1), "size",
        (json_int_t)store_col_int(s, 2), "rows", (json_int_t)store_col_int(s, 3), "schema",
        json_loads(store_col_text(s, 4), 0, NULL), "schema_source", store_col_text(s, 5),
        "schema_changes", json_loads(store_col_text(s, 6), 0, NULL), "description",
        store_col_text(s, 7), "source_uri", store_col_text(s, 8), "created_by",
        store_col_text(s, 9), "created_at", mops_json_time(store_col_int(s, 10)), "updated_at",
        mops_json_time(store_col_int(s, 11)), "archived", archived != 0, "archived_at",
        mops_json_time(archived), "download",
        mops_arena_printf(ctx->arena, "/api/v1/datasets/%s/%s/versions/%lld/data", d->team,
                          d->name, (long long)number));
    store_finalize(s);
    if (!o)
        return mops_err_set(err, MOPS_ECORRUPT, "version %lld of %s/%s has unreadable metadata",
                            (long long)number, d->team, d->name);
    json_t *tags = NULL, *ctags = NULL, *pii = NULL, *approved = NULL, *quality = NULL;
    if ((rc = store_tags_json(ctx->db, "dataset_version_tags", "version_id", version_id, &tags,
                              err)) != 0 ||
        (rc = dt_column_tags_json(ctx, version_id, &ctags, err)) != 0 ||
        (rc = dt_pii_state(ctx, version_id, &pii, &approved, err)) != 0 ||
        (rc = quality_json(ctx, version_id, suite_revision, &quality, err)) != 0) {
        json_decref(tags);
        json_decref(ctags);
        json_decref(pii);
        json_decref(approved);
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "column_tags", ctags);
    json_object_set_new(o, "pii_columns", pii);
    json_object_set_new(o, "approved_pii_columns", approved);
    json_object_set_new(o, "quality", quality);
    *out = o;
    return 0;
}

/* ------------------------------------------------------------ create */

/* The file's analysis, if the team uploaded it. */
static int load_analysis(const mops_ctx_t *ctx, const dt_dataset_t *d, const char *sha,
                         json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT f.analysis FROM dataset_files f JOIN dataset_uploads u ON "
                         "u.sha256 = f.sha256 WHERE f.sha256 = ? AND u.team_id = ?",
                         "ti", sha, d->team_id);
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW) {
        *out = json_loads(store_col_text(s, 0), 0, NULL);
        if (!*out)
            rc = mops_err_set(err, MOPS_ECORRUPT, "the analysis of sha256:%s is unreadable", sha);
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_EINVAL,
                          "file sha256:%s was not uploaded to team %s; upload it first "
                          "(POST /api/v1/datasets/%s/%s/uploads)",
                          sha, d->team, d->team, d->name);
    }
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

/* The newest version before this one: id and schema (NULL when none). */
static int previous_version(const mops_ctx_t *ctx, int64_t dataset_id, int64_t *id,
                            int64_t *number, json_t **schema, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT id, number, schema FROM dataset_versions WHERE dataset_id = ? "
                         "ORDER BY number DESC LIMIT 1",
                         "i", dataset_id);
    if (rc != 0)
        return rc;
    *id = 0;
    *schema = NULL;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        *id = store_col_int(s, 0);
        *number = store_col_int(s, 1);
        *schema = json_loads(store_col_text(s, 2), 0, NULL);
    }
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

/* Check column_tags: {"column": ["tag", ...]} naming columns of schema. */
static int check_column_tags(const json_t *ct, const json_t *schema, mops_err_t *err)
{
    const char *col;
    json_t *tags;
    json_object_foreach((json_t *)ct, col, tags) {
        if (!find_column(schema, col))
            return mops_err_set(err, MOPS_EINVAL, "column_tags names \"%s\", which is not a "
                                "column of the file", mops_text_show(col));
        if (!json_is_array(tags))
            return mops_err_set(err, MOPS_EINVAL, "column_tags of \"%s\" must be an array of "
                                "tags", mops_text_show(col));
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) {
            if (!json_is_string(t))
                return mops_err_set(err, MOPS_EINVAL, "column_tags of \"%s\" must be an array "
                                    "of tags", mops_text_show(col));
        }
        int rc = dt_tags_check(tags, err);
        if (rc != 0)
            return mops_err_wrap(err, "column_tags of \"%s\"", mops_text_show(col));
    }
    return 0;
}

static int put_column_tag(const mops_ctx_t *ctx, int64_t version_id, const char *col,
                          const char *tag, const char *state, const char *evidence,
                          mops_err_t *err)
{
    return store_exec(ctx->db, NULL, err,
                      "INSERT INTO dataset_column_tags (version_id, column_name, tag, state, "
                      "evidence, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                      "ON CONFLICT (version_id, column_name, tag) DO UPDATE SET "
                      "state = excluded.state, updated_by = excluded.updated_by, "
                      "updated_at = excluded.updated_at",
                      "ittttIi", version_id, col, tag, state, evidence,
                      ctx->who ? ctx->who->user_id : 0, mops_now_ms());
}

/* Tags of the new version's columns: the previous version's for columns
 * of the same name, the scan's suggestions, then the caller's. */
static int seed_column_tags(const mops_ctx_t *ctx, int64_t version_id, int64_t prev_id,
                            int64_t prev_number, const json_t *schema, const json_t *analysis,
                            const json_t *given, mops_err_t *err)
{
    int rc = 0;
    if (prev_id) {
        store_stmt_t *s;
        if ((rc = store_query(ctx->db, &s, err,
                              "SELECT column_name, tag, state, evidence FROM dataset_column_tags "
                              "WHERE version_id = ? ORDER BY column_name, tag",
                              "i", prev_id)) != 0)
            return rc;
        /* Collect first: the inserts below use the same connection. */
        json_t *rows = json_array();
        while ((rc = store_step(s, err)) == STORE_ROW)
            json_array_append_new(rows, json_pack("[s, s, s, s]", store_col_text(s, 0),
                                                  store_col_text(s, 1), store_col_text(s, 2),
                                                  store_col_text(s, 3)));
        store_finalize(s);
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r) {
            const char *col = json_string_value(json_array_get(r, 0));
            if (rc < 0 || !find_column(schema, col))
                continue;
            const char *ev = json_string_value(json_array_get(r, 3));
            char *evidence = *ev ? mops_xstrdup(ev)
                                 : mops_xasprintf("kept from version %lld", (long long)prev_number);
            /* An approval was for that version's data: new data needs its own. */
            const char *state = json_string_value(json_array_get(r, 2));
            rc = put_column_tag(ctx, version_id, col, json_string_value(json_array_get(r, 1)),
                                strcmp(state, "approved") ? state : "confirmed", evidence, err);
            free(evidence);
        }
        json_decref(rows);
        if (rc < 0)
            return rc;
    }
    size_t i;
    json_t *sug;
    json_array_foreach(json_object_get(analysis, "pii"), i, sug) {
        char evidence[200];
        snprintf(evidence, sizeof evidence, "%s: %lld of %lld scanned values",
                 mops_json_str(sug, "reason", ""),
                 (long long)json_integer_value(json_object_get(sug, "matched")),
                 (long long)json_integer_value(json_object_get(sug, "scanned")));
        if (!strcmp(mops_json_str(sug, "reason", ""), "the column's name says it holds names"))
            snprintf(evidence, sizeof evidence, "%s", mops_json_str(sug, "reason", ""));
        /* A tag kept from the previous version keeps its state. */
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO dataset_column_tags (version_id, column_name, tag, state, "
                        "evidence, updated_by, updated_at) VALUES (?, ?, ?, 'suggested', ?, ?, ?) "
                        "ON CONFLICT (version_id, column_name, tag) DO NOTHING",
                        "ittt" "Ii", version_id, mops_json_str(sug, "column", ""),
                        mops_json_str(sug, "tag", ""), evidence,
                        ctx->who ? ctx->who->user_id : 0, mops_now_ms());
        if (rc != 0)
            return rc;
    }
    const char *col;
    json_t *tags;
    json_object_foreach((json_t *)given, col, tags) {
        json_t *t;
        json_array_foreach(tags, i, t) {
            char evidence[120];
            snprintf(evidence, sizeof evidence, "set by %s at registration",
                     ctx->who ? ctx->who->user : "the system");
            if ((rc = put_column_tag(ctx, version_id, col, json_string_value(t), "confirmed",
                                     evidence, err)) != 0)
                return rc;
        }
    }
    return 0;
}

int data_version_create(const mops_ctx_t *ctx, const char *team, const char *name,
                        const json_t *spec, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    int rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_WRITE, &d, err);
    if (rc != 0 || (rc = mops_json_check(spec, "request body", create_fields, err)) != 0)
        return rc;
    const char *sha = mops_json_str(spec, "sha256", "");
    const char *desc = mops_json_str(spec, "description", "");
    const char *uri = mops_json_str(spec, "source_uri", "");
    json_t *tags = json_object_get(spec, "tags");
    json_t *ctags = json_object_get(spec, "column_tags");
    if (!mops_is_hex(sha, 64))
        return mops_err_set(err, MOPS_EINVAL, "sha256 must be 64 lowercase hex digits (the hash "
                            "returned by the upload)");
    if ((rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0 ||
        (rc = mops_text_check("source_uri", uri, 2048, err)) != 0 ||
        (rc = dt_tags_check(tags, err)) != 0)
        return rc;
    if (d.archived)
        return mops_err_set(err, MOPS_EPRECOND,
                            "dataset %s/%s is archived: it takes no new versions", team, name);
    json_t *analysis = NULL, *schema = NULL, *prev_schema = NULL, *changes = NULL,
           *profile = NULL;
    char *t_schema = NULL, *t_changes = NULL, *t_profile = NULL;
    int64_t prev_id = 0, prev_number = 0, number = 0, id = 0, now = mops_now_ms();
    if ((rc = load_analysis(ctx, &d, sha, &analysis, err)) != 0 ||
        (rc = build_schema(json_object_get(spec, "schema"), analysis, &schema, err)) != 0 ||
        (ctags && (rc = check_column_tags(ctags, schema, err)) != 0))
        goto out;
    profile = build_profile(analysis, schema);
    t_schema = mops_json_dump(schema);
    t_profile = mops_json_dump(profile);
    if ((rc = store_begin(ctx->db, err)) != 0)
        goto out;
    /* Under the writer lock: the previous version and the next number. */
    if ((rc = previous_version(ctx, d.id, &prev_id, &prev_number, &prev_schema, err)) != 0 ||
        (rc = store_query_int(ctx->db, &number, err,
                              "UPDATE datasets SET next_version = next_version + 1, updated_at = ? "
                              "WHERE id = ? RETURNING next_version - 1",
                              "ii", now, d.id)) != 0)
        goto end;
    changes = dt_schema_diff(prev_schema, schema);
    json_object_set_new(changes, "against",
                        prev_id ? json_integer(prev_number) : json_null());
    t_changes = mops_json_dump(changes);
    rc = store_query_int(ctx->db, &id, err,
                         "INSERT INTO dataset_versions (dataset_id, number, sha256, schema, "
                         "schema_source, schema_changes, profile, description, source_uri, "
                         "created_by, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                         "iitttttttIii", d.id, number, sha, t_schema,
                         json_object_get(spec, "schema") ? "declared" : "inferred", t_changes,
                         t_profile, desc, uri, ctx->who ? ctx->who->user_id : 0, now, now);
    if (rc == 0 && tags)
        rc = store_tags_replace(ctx->db, "dataset_version_tags", "version_id", id, tags, err);
    if (rc == 0)
        rc = seed_column_tags(ctx, id, prev_id, prev_number, schema, analysis, ctags, err);
    if (rc == 0)
        rc = audit_record(ctx, "dataset.version.create", dt_target(ctx, &d, number), d.team_id,
                          spec, err);
end:
    if ((rc = store_end(ctx->db, rc, err)) == 0 && (rc = dt_version_json(ctx, &d, id, out, err)) == 0)
        json_object_set(*out, "pii_suggestions", json_object_get(analysis, "pii"));
out:
    json_decref(analysis);
    json_decref(schema);
    json_decref(prev_schema);
    json_decref(changes);
    json_decref(profile);
    free(t_schema);
    free(t_changes);
    free(t_profile);
    return rc;
}

/* ------------------------------------------------------------ reads */

int data_version_get(const mops_ctx_t *ctx, const char *team, const char *name,
                     const char *ref, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    int rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_READ, &d, &v, err);
    return rc ? rc : dt_version_json(ctx, &d, v.id, out, err);
}

static int version_item(const mops_ctx_t *ctx, const void *arg, int64_t id, json_t **out,
                        mops_err_t *err)
{
    return dt_version_json(ctx, arg, id, out, err);
}

int data_version_list(const mops_ctx_t *ctx, const char *team, const char *name,
                      const data_version_filter_t *f, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    int rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_READ, &d, err);
    if (rc != 0)
        return rc;
    int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 50;
    store_sql_t q;
    store_sql_init(&q, "");
    store_sql_add(&q, "SELECT id, number FROM dataset_versions WHERE dataset_id = ?", "i", d.id);
    if (f->before_number > 0)
        store_sql_add(&q, " AND number < ?", "i", f->before_number);
    if (f->archived == 0)
        store_sql_add(&q, " AND archived_at IS NULL", NULL);
    else if (f->archived == 1)
        store_sql_add(&q, " AND archived_at IS NOT NULL", NULL);
    store_sql_add(&q, " ORDER BY number DESC LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    return rc ? rc : store_page(ctx, s, limit, version_item, &d, out, err);
}

/* ------------------------------------------------------------ changes */

int data_version_update(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *ref, const json_t *spec, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_WRITE, &d, &v, err)) != 0 ||
        (rc = dt_update_check(spec, err)) != 0)
        return rc;
    if (v.archived)
        return mops_err_set(err, MOPS_EPRECOND, "version %lld of %s/%s is archived",
                            (long long)v.number, team, name);
    if ((rc = dt_update_apply(ctx, "dataset_versions", "dataset_version_tags", "version_id", v.id,
                              spec, "dataset.version.update", dt_target(ctx, &d, v.number),
                              d.team_id, err)) != 0)
        return rc;
    return dt_version_json(ctx, &d, v.id, out, err);
}

int data_version_archive(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_WRITE, &d, &v, err)) != 0)
        return rc;
    if (!v.archived) {
        if ((rc = store_begin(ctx->db, err)) != 0)
            return rc;
        int64_t now = mops_now_ms();
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE dataset_versions SET archived_at = ?, updated_at = ? WHERE id = ?",
                        "iii", now, now, v.id);
        if (rc == 0)
            rc = audit_record(ctx, "dataset.version.archive", dt_target(ctx, &d, v.number),
                              d.team_id, NULL, err);
        if ((rc = store_end(ctx->db, rc, err)) != 0)
            return rc;
    }
    return dt_version_json(ctx, &d, v.id, out, err);
}

/* ------------------------------------------------------------ profile, diff */

int data_version_profile(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    json_t *profile = NULL, *restricted = NULL;
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_READ, &d, &v, err)) != 0 ||
        (rc = dt_version_doc(ctx, v.id, "profile", &profile, err)) != 0 ||
        (rc = dt_restricted_columns(ctx, v.id, &restricted, err)) != 0) {
        json_decref(profile);
        return rc;
    }
    if (!auth_can(ctx->who, AUTH_DATASET_DOWNLOAD_PII, d.team_id))
        dt_profile_redact(profile, restricted);
    json_decref(restricted);
    json_object_set_new(profile, "dataset", json_string(dt_ref_text(ctx, &d, v.number)));
    *out = profile;
    return 0;
}

int data_version_diff(const mops_ctx_t *ctx, const char *team, const char *name,
                      const char *ref, const char *against, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v, a;
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_READ, &d, &v, err)) != 0)
        return rc;
    if (against) {
        if ((rc = dt_version_resolve(ctx, &d, against, &a, err)) != 0)
            return rc;
    } else {
        char prev[24];
        snprintf(prev, sizeof prev, "%lld", (long long)(v.number - 1));
        if (v.number <= 1 || (rc = dt_version_resolve(ctx, &d, prev, &a, err)) != 0)
            return mops_err_set(err, MOPS_EINVAL,
                                "version %lld of %s/%s has no previous version to compare with",
                                (long long)v.number, team, name);
    }
    json_t *sa = NULL, *sb = NULL;
    int64_t ra = 0, rb = 0;
    if ((rc = dt_version_doc(ctx, a.id, "schema", &sa, err)) == 0 &&
        (rc = dt_version_doc(ctx, v.id, "schema", &sb, err)) == 0 &&
        (rc = store_query_int(ctx->db, &ra, err, "SELECT rows FROM dataset_files WHERE sha256 = ?",
                              "t", a.sha256)) == 0 &&
        (rc = store_query_int(ctx->db, &rb, err, "SELECT rows FROM dataset_files WHERE sha256 = ?",
                              "t", v.sha256)) == 0) {
        json_t *o = dt_schema_diff(sa, sb);
        json_object_set_new(o, "from", json_string(dt_ref_text(ctx, &d, a.number)));
        json_object_set_new(o, "to", json_string(dt_ref_text(ctx, &d, v.number)));
        json_object_set_new(o, "rows", json_pack("{s:I, s:I}", "from", (json_int_t)ra, "to",
                                                 (json_int_t)rb));
        json_object_set_new(o, "same_content", json_boolean(!strcmp(a.sha256, v.sha256)));
        *out = o;
    }
    json_decref(sa);
    json_decref(sb);
    return rc;
}
