/*
 * common.c — helpers shared by the data module's files: canonical
 * references, resolving names with visibility, tags, audit targets,
 * reading a version's file back from the blob store.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/time.h"
#include "data/data_int.h"
#include "store/blob.h"

/* ------------------------------------------------------------ references */

int data_ref_parse(const char *text, data_ref_t *out, mops_err_t *err)
{
    static const char form[] = "a dataset reference is dataset:TEAM/NAME@VERSION "
                               "(e.g. dataset:fraud/transactions@3)";
    data_ref_t r;
    const char *p = text, *slash, *at;
    long long v;
    if (strncmp(p, "dataset:", 8) != 0)
        return mops_err_set(err, MOPS_EINVAL, "\"%s\" is not a dataset reference: %s",
                            mops_text_show(text), form);
    p += 8;
    slash = strchr(p, '/');
    at = slash ? strchr(slash, '@') : NULL;
    if (!slash || !at || (size_t)(slash - p) >= sizeof r.team ||
        (size_t)(at - slash - 1) >= sizeof r.name || mops_parse_i64(at + 1, &v) != 0 || v < 1)
        return mops_err_set(err, MOPS_EINVAL, "\"%s\" is not a dataset reference: %s",
                            mops_text_show(text), form);
    memcpy(r.team, p, (size_t)(slash - p));
    r.team[slash - p] = '\0';
    memcpy(r.name, slash + 1, (size_t)(at - slash - 1));
    r.name[at - slash - 1] = '\0';
    r.version = v;
    if (mops_name_check("team", r.team, NULL) != 0 || mops_name_check("dataset", r.name, NULL))
        return mops_err_set(err, MOPS_EINVAL, "\"%s\" is not a dataset reference: %s",
                            mops_text_show(text), form);
    *out = r;
    return 0;
}

void data_ref_format(const data_ref_t *ref, char *buf, size_t size)
{
    snprintf(buf, size, "dataset:%s/%s@%lld", ref->team, ref->name, (long long)ref->version);
}

/* ------------------------------------------------------------ rows */

int dt_dataset_resolve(const mops_ctx_t *ctx, const char *team, const char *name,
                       auth_perm_t perm, dt_dataset_t *out, mops_err_t *err)
{
    return auth_team_object_resolve(ctx, "datasets", "dataset", team, name, perm, out, err);
}

int dt_version_resolve(const mops_ctx_t *ctx, const dt_dataset_t *d, const char *ref,
                       dt_version_t *out, mops_err_t *err)
{
    long long number;
    store_stmt_t *s;
    int rc;
    if (mops_parse_i64(ref, &number) == 0)
        rc = store_query(ctx->db, &s, err,
                         "SELECT id, number, archived_at, sha256 FROM dataset_versions "
                         "WHERE dataset_id = ? AND number = ?",
                         "ii", d->id, (int64_t)number);
    else if (!strcmp(ref, "latest"))
        rc = store_query(ctx->db, &s, err,
                         "SELECT id, number, archived_at, sha256 FROM dataset_versions "
                         "WHERE dataset_id = ? AND archived_at IS NULL "
                         "ORDER BY number DESC LIMIT 1",
                         "i", d->id);
    else
        return mops_err_set(err, MOPS_ENOTFOUND,
                            "dataset %s/%s has no version \"%s\" (give a number or \"latest\")",
                            d->team, d->name, mops_text_show(ref));
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW) {
        out->id = store_col_int(s, 0);
        out->number = store_col_int(s, 1);
        out->archived = !store_col_is_null(s, 2);
        snprintf(out->sha256, sizeof out->sha256, "%s", store_col_text(s, 3));
    }
    store_finalize(s);
    if (rc == STORE_DONE)
        return mops_err_set(err, MOPS_ENOTFOUND,
                            "dataset %s/%s has no version \"%s\" (give a number or \"latest\")",
                            d->team, d->name, mops_text_show(ref));
    return rc < 0 ? rc : 0;
}

int dt_resolve(const mops_ctx_t *ctx, const char *team, const char *name, const char *ref,
               auth_perm_t perm, dt_dataset_t *d, dt_version_t *v, mops_err_t *err)
{
    int rc = dt_dataset_resolve(ctx, team, name, perm, d, err);
    return rc ? rc : dt_version_resolve(ctx, d, ref, v, err);
}

int dt_ref_resolve(const mops_ctx_t *ctx, const data_ref_t *ref, auth_perm_t perm,
                   dt_dataset_t *d, dt_version_t *v, mops_err_t *err)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)ref->version);
    return dt_resolve(ctx, ref->team, ref->name, num, perm, d, v, err);
}

static const mops_json_field_t update_fields[] = {
    {"description", MOPS_JSON_STRING, 0},
    {"tags", MOPS_JSON_STRING_ARRAY, 0},
    {NULL, 0, 0},
};

int dt_update_check(const json_t *spec, mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", update_fields, err);
    const char *desc = mops_json_str(spec, "description", NULL);
    if (rc == 0 && desc)
        rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err);
    return rc ? rc : dt_tags_check(json_object_get(spec, "tags"), err);
}

int dt_update_apply(const mops_ctx_t *ctx, const char *table, const char *tags_table,
                    const char *tags_col, int64_t id, const json_t *spec, const char *action,
                    const char *target, int64_t team_id, mops_err_t *err)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET description = COALESCE(?, description), updated_at = ? WHERE id = ?",
             table);
    json_t *tags = json_object_get(spec, "tags");
    int rc = store_begin(ctx->db, err);
    if (rc != 0)
        return rc;
    rc = store_exec(ctx->db, NULL, err, sql, "tii", mops_json_str(spec, "description", NULL),
                    mops_now_ms(), id);
    if (rc == 0 && tags)
        rc = store_tags_replace(ctx->db, tags_table, tags_col, id, tags, err);
    if (rc == 0)
        rc = audit_record(ctx, action, target, team_id, spec, err);
    return store_end(ctx->db, rc, err);
}

int dt_version_doc(const mops_ctx_t *ctx, int64_t version_id, const char *column, json_t **out,
                   mops_err_t *err)
{
    char sql[120];
    snprintf(sql, sizeof sql, "SELECT %s FROM dataset_versions WHERE id = ?", column);
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, sql, "i", version_id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        *out = json_loads(store_col_text(s, 0), 0, NULL);
        if (!*out)
            rc = mops_err_set(err, MOPS_ECORRUPT, "a dataset version's %s is unreadable", column);
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_ENOTFOUND, "version vanished");
    }
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

const char *dt_target(const mops_ctx_t *ctx, const dt_dataset_t *d, int64_t number)
{
    if (number)
        return mops_arena_printf(ctx->arena, "%s/%s@%lld", d->team, d->name, (long long)number);
    return mops_arena_printf(ctx->arena, "%s/%s", d->team, d->name);
}

const char *dt_ref_text(const mops_ctx_t *ctx, const dt_dataset_t *d, int64_t number)
{
    return mops_arena_printf(ctx->arena, "dataset:%s/%s@%lld", d->team, d->name,
                             (long long)number);
}

/* ------------------------------------------------------------ tags */

int dt_tags_check(const json_t *tags, mops_err_t *err)
{
    return mops_json_tags_check(tags, DATA_TAGS_MAX, err);
}

/* Column tags as {"column": [...]}, all of them or the restricted ones;
 * detailed: [{"tag", "state", "evidence"}], else plain tag names. */
static int column_tags(const mops_ctx_t *ctx, int64_t version_id, int restricted_only,
                       int detailed, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT column_name, tag, state, evidence FROM dataset_column_tags "
                         "WHERE version_id = ? ORDER BY column_name, tag",
                         "i", version_id);
    if (rc != 0)
        return rc;
    json_t *o = json_object();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        const char *col = store_col_text(s, 0), *tag = store_col_text(s, 1);
        if (restricted_only && !data_tag_is_restricted(tag))
            continue;
        json_t *list = json_object_get(o, col);
        if (!list) {
            list = json_array();
            json_object_set_new(o, col, list);
        }
        json_array_append_new(list, detailed ? json_pack("{s:s, s:s, s:s}", "tag", tag, "state",
                                                         store_col_text(s, 2), "evidence",
                                                         store_col_text(s, 3))
                                             : json_string(tag));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

int dt_column_tags_json(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                        mops_err_t *err)
{
    return column_tags(ctx, version_id, 0, 1, out, err);
}

int dt_restricted_columns(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                          mops_err_t *err)
{
    return column_tags(ctx, version_id, 1, 0, out, err);
}

int dt_pii_state(const mops_ctx_t *ctx, int64_t version_id, json_t **pii, json_t **approved,
                 mops_err_t *err)
{
    json_t *tags;
    int rc = column_tags(ctx, version_id, 1, 1, &tags, err);
    if (rc != 0)
        return rc;
    json_t *p = json_array(), *a = json_array();
    const char *col;
    json_t *list;
    json_object_foreach(tags, col, list) {
        int all = 1;
        size_t i;
        json_t *t;
        json_array_foreach(list, i, t) all &= !strcmp(mops_json_str(t, "state", ""), "approved");
        json_array_append_new(p, json_string(col));
        if (all)
            json_array_append_new(a, json_string(col));
    }
    json_decref(tags);
    *pii = p;
    *approved = a;
    return 0;
}

/* ------------------------------------------------------------ files */

int dt_version_stream(const mops_ctx_t *ctx, const char *sha, FILE **out, int64_t *size,
                      mops_err_t *err)
{
    int64_t bytes = 0;
    int fd, rc = store_query_int(ctx->db, &bytes, err,
                                 "SELECT size FROM dataset_files WHERE sha256 = ?", "t", sha);
    if (rc != 0 || (rc = store_blob_open(ctx->env->artifact_dir, sha, bytes, &fd, err)) != 0)
        return rc;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return mops_err_set(err, MOPS_EIO, "cannot read blob %s: %s", sha, strerror(errno));
    }
    *out = f;
    if (size)
        *size = bytes;
    return 0;
}

int dt_blob_read(const mops_ctx_t *ctx, const char *sha, int64_t size, char **out,
                 mops_err_t *err)
{
    int fd, rc = store_blob_open(ctx->env->artifact_dir, sha, size, &fd, err);
    if (rc != 0)
        return rc;
    char *buf = mops_xmalloc((size_t)size + 1);
    int64_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, buf + got, (size_t)(size - got), got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            free(buf);
            return mops_err_set(err, MOPS_EIO, "cannot read blob %s", sha);
        }
        got += r;
    }
    close(fd);
    buf[size] = '\0';
    *out = buf;
    return 0;
}

FILE *dt_tmpfile(const mops_ctx_t *ctx, mops_err_t *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tmp", ctx->env->artifact_dir);
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* Some file systems have no O_TMPFILE: a named file, unlinked. */
        char path[4200];
        snprintf(path, sizeof path, "%s/upload-spill-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (!f) {
        mops_err_set(err, MOPS_EIO, "cannot create a temporary file in %s: %s", dir,
                     strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}
