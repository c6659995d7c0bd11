/*
 * dataset.c — datasets: create, read, list with filters and pagination,
 * update, archive.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "data/data_int.h"

static const mops_json_field_t create_fields[] = {
    {"team", MOPS_JSON_STRING, 1},
    {"name", MOPS_JSON_STRING, 1},
    {"description", MOPS_JSON_STRING, 0},
    {"tags", MOPS_JSON_STRING_ARRAY, 0},
    {NULL, 0, 0},
};

static int dataset_json(const mops_ctx_t *ctx, const dt_dataset_t *d, json_t **out,
                        mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT d.description, COALESCE(u.name, 'system'), d.created_at, d.updated_at, "
        "d.archived_at, "
        "d.suite_revision, "
        "(SELECT count(*) FROM dataset_versions v WHERE v.dataset_id = d.id), "
        "(SELECT max(number) FROM dataset_versions v WHERE v.dataset_id = d.id AND "
        "v.archived_at IS NULL) "
        "FROM datasets d LEFT JOIN users u ON u.id = d.created_by WHERE d.id = ?",
        "i", d->id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "dataset vanished");
    }
    int64_t archived = store_col_is_null(s, 4) ? 0 : store_col_int(s, 4);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:o, s:I, s:I, s:o}", "team",
                          d->team, "name", d->name, "description", store_col_text(s, 0),
                          "created_by", store_col_text(s, 1), "created_at",
                          mops_json_time(store_col_int(s, 2)), "updated_at",
                          mops_json_time(store_col_int(s, 3)), "archived", archived != 0,
                          "archived_at", mops_json_time(archived), "suite_revision",
                          (json_int_t)store_col_int(s, 5), "versions",
                          (json_int_t)store_col_int(s, 6), "latest_version",
                          store_col_is_null(s, 7) ? json_null()
                                                  : json_integer(store_col_int(s, 7)));
    store_finalize(s);
    json_t *tags = NULL;
    if ((rc = store_tags_json(ctx->db, "dataset_tags", "dataset_id", d->id, &tags, err)) != 0) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "tags", tags);
    *out = o;
    return 0;
}

int data_dataset_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                        mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", create_fields, err);
    if (rc != 0)
        return rc;
    const char *team = mops_json_str(spec, "team", "");
    const char *name = mops_json_str(spec, "name", "");
    const char *desc = mops_json_str(spec, "description", "");
    json_t *tags = json_object_get(spec, "tags");
    int64_t team_id, id = 0;
    if ((rc = auth_team_resolve(ctx, team, &team_id, err)) != 0 ||
        (rc = auth_require(ctx, AUTH_DATASET_WRITE, team_id, err)) != 0 ||
        (rc = mops_name_check("dataset name", name, err)) != 0 ||
        (rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0 ||
        (rc = dt_tags_check(tags, err)) != 0)
        return rc;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t now = mops_now_ms();
    rc = store_query_int(ctx->db, &id, err,
                         "INSERT INTO datasets (team_id, name, description, created_by, "
                         "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                         "ittIii", team_id, name, desc, ctx->who ? ctx->who->user_id : 0, now,
                         now);
    if (rc == MOPS_ECONFLICT)
        rc = mops_err_set(err, MOPS_ECONFLICT, "team %s already has a dataset named \"%s\"",
                          team, name);
    dt_dataset_t d = {.id = id, .team_id = team_id, .team = team, .name = name};
    if (rc == 0 && tags)
        rc = store_tags_replace(ctx->db, "dataset_tags", "dataset_id", id, tags, err);
    if (rc == 0)
        rc = audit_record(ctx, "dataset.create", dt_target(ctx, &d, 0), team_id, spec, err);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    return dataset_json(ctx, &d, out, err);
}

int data_dataset_get(const mops_ctx_t *ctx, const char *team, const char *name, json_t **out,
                     mops_err_t *err)
{
    dt_dataset_t d;
    int rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_READ, &d, err);
    return rc ? rc : dataset_json(ctx, &d, out, err);
}

/* A dataset's JSON by id, for lists. */
static int dataset_by_id(const mops_ctx_t *ctx, const void *arg, int64_t id, json_t **out,
                         mops_err_t *err)
{
    (void)arg;
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT d.team_id, t.name, d.name FROM datasets d JOIN teams t ON "
                         "t.id = d.team_id WHERE d.id = ?",
                         "i", id);
    if (rc != 0)
        return rc;
    dt_dataset_t d = {.id = id};
    if ((rc = store_step(s, err)) == STORE_ROW) {
        d.team_id = store_col_int(s, 0);
        d.team = mops_arena_strdup(ctx->arena, store_col_text(s, 1));
        d.name = mops_arena_strdup(ctx->arena, store_col_text(s, 2));
    }
    store_finalize(s);
    if (rc != STORE_ROW)
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "dataset vanished");
    return dataset_json(ctx, &d, out, err);
}

int data_dataset_list(const mops_ctx_t *ctx, const data_dataset_filter_t *f, json_t **out,
                      mops_err_t *err)
{
    int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 50;
    store_sql_t q;
    store_sql_init(&q, "SELECT d.id, d.id FROM datasets d JOIN teams t ON t.id = d.team_id "
                       "WHERE ");
    auth_sql_team_filter(ctx, AUTH_DATASET_READ, "d.team_id", &q);
    if (f->after_id > 0)
        store_sql_add(&q, " AND d.id > ?", "i", f->after_id);
    if (f->team)
        store_sql_add(&q, " AND t.name = ?", "t", f->team);
    if (f->prefix)
        store_sql_add(&q, " AND substr(d.name, 1, ?) = ?", "it", (int64_t)strlen(f->prefix),
                      f->prefix);
    if (f->tag)
        store_sql_add(&q, " AND EXISTS (SELECT 1 FROM dataset_tags g WHERE g.dataset_id = d.id "
                          "AND g.tag = ?)", "t", f->tag);
    if (f->archived == 0)
        store_sql_add(&q, " AND d.archived_at IS NULL", NULL);
    else if (f->archived == 1)
        store_sql_add(&q, " AND d.archived_at IS NOT NULL", NULL);
    store_sql_add(&q, " ORDER BY d.id LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    return rc ? rc : store_page(ctx, s, limit, dataset_by_id, NULL, out, err);
}

int data_dataset_update(const mops_ctx_t *ctx, const char *team, const char *name,
                        const json_t *spec, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    int rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_WRITE, &d, err);
    if (rc != 0 || (rc = dt_update_check(spec, err)) != 0)
        return rc;
    if (d.archived)
        return mops_err_set(err, MOPS_EPRECOND, "dataset %s/%s is archived", team, name);
    if ((rc = dt_update_apply(ctx, "datasets", "dataset_tags", "dataset_id", d.id, spec,
                              "dataset.update", dt_target(ctx, &d, 0), d.team_id, err)) != 0)
        return rc;
    return dataset_json(ctx, &d, out, err);
}

int data_dataset_archive(const mops_ctx_t *ctx, const char *team, const char *name,
                         json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    int rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_WRITE, &d, err);
    if (rc != 0)
        return rc;
    if (!d.archived) {
        if ((rc = store_begin(ctx->db, err)) != 0)
            return rc;
        int64_t now = mops_now_ms();
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE datasets SET archived_at = ?, updated_at = ? WHERE id = ?", "iii",
                        now, now, d.id);
        if (rc == 0)
            rc = audit_record(ctx, "dataset.archive", dt_target(ctx, &d, 0), d.team_id, NULL,
                              err);
        if ((rc = store_end(ctx->db, rc, err)) != 0)
            return rc;
    }
    return dataset_json(ctx, &d, out, err);
}
