/*
 * version.c — model versions: create (numbered in order, pointing at an
 * uploaded artifact, with lineage: source, parameters, metrics, dataset,
 * environment), read, list, update, archive, and artifact download.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "registry/registry_int.h"
#include "runtime/runtime.h"
#include "store/blob.h"

static const mops_json_field_t create_fields[] = {
    {"artifact_sha256", MOPS_JSON_STRING, 1},
    {"format", MOPS_JSON_STRING, 1},
    {"framework", MOPS_JSON_STRING, 0},
    {"framework_version", MOPS_JSON_STRING, 0},
    {"description", MOPS_JSON_STRING, 0},
    {"source", MOPS_JSON_OBJECT, 0},
    {"params", MOPS_JSON_OBJECT, 0},
    {"metrics", MOPS_JSON_OBJECT, 0},
    {"dataset", MOPS_JSON_STRING, 0},
    {"environment", MOPS_JSON_OBJECT, 0},
    {"tags", MOPS_JSON_STRING_ARRAY, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t source_fields[] = {
    {"uri", MOPS_JSON_STRING, 0},
    {"commit", MOPS_JSON_STRING, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t update_fields[] = {
    {"description", MOPS_JSON_STRING, 0},
    {"tags", MOPS_JSON_STRING_ARRAY, 0},
    {NULL, 0, 0},
};

/* A format is a short lowercase token: "xgboost-json", "sklearn-json",
 * "onnx", "pickle"... The runtime decides which it can serve. */
static int check_format(const char *f, mops_err_t *err)
{
    size_t n = strlen(f);
    int ok = n >= 1 && n <= 32 && ((f[0] >= 'a' && f[0] <= 'z') || (f[0] >= '0' && f[0] <= '9'));
    for (size_t i = 0; ok && i < n; i++)
        ok = (f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || strchr(".+-_", f[i]);
    if (ok)
        return 0;
    char shown[80];
    mops_text_escape(f, shown, sizeof shown);
    return mops_err_set(err, MOPS_EINVAL,
                        "format \"%s\" is invalid: a lowercase name such as xgboost-json, "
                        "sklearn-json or onnx",
                        shown);
}

static int check_metrics(const json_t *metrics, mops_err_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)metrics, k, v) {
        int rc = mops_text_check("metric name", k, 128, err);
        if (rc != 0)
            return rc;
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return mops_err_set(err, MOPS_EINVAL, "metric \"%s\" must be a finite number",
                                mops_text_show(k));
    }
    return 0;
}

static int check_environment(const json_t *env, mops_err_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v) {
        int rc = mops_text_check("environment key", k, 128, err);
        if (rc != 0)
            return rc;
        if (!json_is_string(v))
            return mops_err_set(err, MOPS_EINVAL,
                                "environment value of \"%s\" must be a string (e.g. a package "
                                "version)",
                                mops_text_show(k));
        if ((rc = mops_text_check("environment value", json_string_value(v), 1024, err)) != 0)
            return rc;
    }
    return 0;
}

static int check_spec(const json_t *spec, mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", create_fields, err);
    if (rc != 0)
        return rc;
    const char *sha = mops_json_str(spec, "artifact_sha256", "");
    if (!mops_is_hex(sha, 64))
        return mops_err_set(err, MOPS_EINVAL,
                            "artifact_sha256 must be 64 lowercase hex digits (the hash returned "
                            "by the artifact upload)");
    json_t *source = json_object_get(spec, "source");
    if ((rc = check_format(mops_json_str(spec, "format", ""), err)) != 0 ||
        (rc = mops_text_check("framework", mops_json_str(spec, "framework", ""), 64, err)) != 0 ||
        (rc = mops_text_check("framework_version", mops_json_str(spec, "framework_version", ""),
                              64, err)) != 0 ||
        (rc = mops_text_check("description", mops_json_str(spec, "description", ""),
                              MOPS_TEXT_MAX, err)) != 0 ||
        (rc = mops_text_check("dataset", mops_json_str(spec, "dataset", ""), 1024, err)) != 0 ||
        (source && (rc = mops_json_check(source, "field \"source\"", source_fields, err)) != 0) ||
        (source && (rc = mops_text_check("source.uri", mops_json_str(source, "uri", ""), 2048,
                                         err)) != 0) ||
        (source && (rc = mops_text_check("source.commit", mops_json_str(source, "commit", ""),
                                         128, err)) != 0) ||
        (rc = check_metrics(json_object_get(spec, "metrics"), err)) != 0 ||
        (rc = check_environment(json_object_get(spec, "environment"), err)) != 0 ||
        (rc = mops_json_tags_check(json_object_get(spec, "tags"), REGISTRY_TAGS_MAX, err)) != 0)
        return rc;
    return 0;
}

int reg_version_json(const mops_ctx_t *ctx, const reg_model_t *m, int64_t version_id,
                     json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT v.number, v.artifact_sha256, a.size, v.format, v.framework, v.framework_version, "
        "v.description, v.source_uri, v.source_commit, v.params, v.metrics, v.dataset, "
        "v.environment, v.signature, v.stage, u.name, v.created_at, v.updated_at, v.archived_at "
        "FROM versions v JOIN artifacts a ON a.sha256 = v.artifact_sha256 "
        "JOIN users u ON u.id = v.created_by WHERE v.id = ?",
        "i", version_id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "version vanished");
    }
    int64_t number = store_col_int(s, 0);
    int64_t archived = store_col_is_null(s, 18) ? 0 : store_col_int(s, 18);
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:{s:s, s:I, s:s}, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:s, "
        "s:o, s:o, s:s, s:s, s:o, s:o, s:b, s:o}",
        "team", m->team, "model", m->name, "version", (json_int_t)number, "artifact", "sha256",
        store_col_text(s, 1), "size", (json_int_t)store_col_int(s, 2), "download",
        mops_arena_printf(ctx->arena, "/api/v1/models/%s/%s/versions/%lld/artifact", m->team,
                          m->name, (long long)number),
        "format", store_col_text(s, 3), "framework", store_col_text(s, 4), "framework_version",
        store_col_text(s, 5), "description", store_col_text(s, 6), "source", "uri",
        store_col_text(s, 7), "commit", store_col_text(s, 8), "params",
        json_loads(store_col_text(s, 9), 0, NULL), "metrics",
        json_loads(store_col_text(s, 10), 0, NULL), "dataset", store_col_text(s, 11),
        "environment", json_loads(store_col_text(s, 12), 0, NULL), "signature",
        json_loads(store_col_text(s, 13), 0, NULL), "stage", store_col_text(s, 14), "created_by",
        store_col_text(s, 15), "created_at", mops_json_time(store_col_int(s, 16)), "updated_at",
        mops_json_time(store_col_int(s, 17)), "archived", archived != 0, "archived_at",
        mops_json_time(archived));
    store_finalize(s);
    if (!o)
        return mops_err_set(err, MOPS_ECORRUPT, "version %lld of %s/%s has unreadable metadata",
                            (long long)number, m->team, m->name);
    json_t *tags = NULL;
    if ((rc = store_tags_json(ctx->db, "version_tags", "version_id", version_id, &tags, err)) != 0)
        goto fail;
    json_object_set_new(o, "tags", tags);
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT alias FROM aliases WHERE version_id = ? ORDER BY alias", "i",
                          version_id)) != 0)
        goto fail;
    json_t *aliases = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(aliases, json_string(store_col_text(s, 0)));
    store_finalize(s);
    json_object_set_new(o, "aliases", aliases);
    if (rc < 0)
        goto fail;
    *out = o;
    return 0;
fail:
    json_decref(o);
    return rc;
}

/* Formats the native runtime executes: their artifacts are loaded when a
 * version is registered, so a file that would not serve is refused now,
 * with the loader's message, and the version records what it is. */
static int runtime_executes(const char *format)
{
    return !strcmp(format, "xgboost-json") || !strcmp(format, "sklearn-json");
}

static json_t *names_json(const char *const *names, size_t n)
{
    if (!names)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

int reg_artifact_load(const mops_ctx_t *ctx, const char *sha, const char *format,
                      runtime_model_t **out, mops_err_t *err)
{
    if (!runtime_executes(format))
        return mops_err_set(err, MOPS_EINVAL,
                            "format %s is stored, not executed: the native runtime executes "
                            "xgboost-json and sklearn-json",
                            format);
    int64_t size = 0;
    int fd, rc = store_query_int(ctx->db, &size, err, "SELECT size FROM artifacts WHERE sha256 = ?",
                                 "t", sha);
    if (rc != 0 || (rc = store_blob_open(ctx->env->artifact_dir, sha, size, &fd, err)) != 0)
        return rc;
    /* Map rather than name the file: the loader's messages then speak of
     * the user's bytes, never of our paths. */
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return mops_err_set(err, MOPS_EIO, "cannot map artifact %s: %s", sha, strerror(errno));
    rc = runtime_model_load_buffer(map, (size_t)size, format, out, err);
    munmap(map, (size_t)size);
    if (rc != 0) {
        mops_err_wrap(err, "the artifact does not load as %s", format);
        if (err)
            err->code = MOPS_EINVAL; /* a bad or unsupported file: the caller's to fix */
        return MOPS_EINVAL;
    }
    return 0;
}

/* Load the artifact with the runtime and describe it as the version's
 * signature: {} for formats the runtime does not execute. */
static int describe_artifact(const mops_ctx_t *ctx, const char *sha, const char *format,
                             json_t **out, mops_err_t *err)
{
    if (!runtime_executes(format)) {
        *out = json_object();
        return 0;
    }
    runtime_model_t *m;
    int rc = reg_artifact_load(ctx, sha, format, &m, err);
    if (rc != 0)
        return rc;
    runtime_model_info_t mi;
    runtime_model_info(m, &mi);
    *out = json_pack("{s:s, s:s, s:s, s:I, s:o, s:I, s:o, s:{s:I, s:I}, s:I, s:I, s:I, s:i, "
                     "s:I}",
                     "objective", mi.objective, "kind", mi.kind, "producer", mi.producer,
                     "n_features", (json_int_t)mi.n_features, "feature_names",
                     names_json(mi.feature_names, mi.n_features), "n_classes",
                     (json_int_t)mi.n_classes, "class_labels",
                     names_json(mi.class_labels, mi.n_classes), "outputs", "value",
                     (json_int_t)mi.n_value, "margin", (json_int_t)mi.n_margin, "trees",
                     (json_int_t)mi.n_trees, "iterations", (json_int_t)mi.n_iterations,
                     "default_iterations", (json_int_t)mi.default_iterations, "max_depth",
                     mi.max_depth, "memory_bytes", (json_int_t)mi.memory_bytes);
    runtime_model_unref(m);
    return 0;
}

/* The artifact must have been uploaded to this model's team. */
static int check_artifact(const mops_ctx_t *ctx, const reg_model_t *m, const char *sha,
                          mops_err_t *err)
{
    int64_t n = 0;
    int rc = store_query_int(ctx->db, &n, err,
                             "SELECT count(*) FROM artifact_uploads WHERE sha256 = ? AND "
                             "team_id = ?",
                             "ti", sha, m->team_id);
    if (rc == 0 && n == 0)
        rc = mops_err_set(err, MOPS_EINVAL,
                          "artifact sha256:%s was not uploaded to team %s; upload it first "
                          "(POST /api/v1/models/%s/%s/artifacts)",
                          sha, m->team, m->team, m->name);
    return rc;
}

static char *dump_or_empty(const json_t *v)
{
    return v ? mops_json_dump(v) : mops_xstrdup("{}");
}

int registry_version_create(const mops_ctx_t *ctx, const char *team, const char *model,
                            const json_t *spec, json_t **out, mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, AUTH_VERSION_WRITE, &m, err);
    if (rc != 0 || (rc = check_spec(spec, err)) != 0)
        return rc;
    if (m.archived)
        return mops_err_set(err, MOPS_EPRECOND,
                            "model %s/%s is archived: it takes no new versions", team, model);
    const char *sha = mops_json_str(spec, "artifact_sha256", "");
    const char *format = mops_json_str(spec, "format", "");
    json_t *source = json_object_get(spec, "source");
    json_t *signature = NULL;
    /* Check and load before the transaction: a big model must not hold the
     * writer lock while it loads. Uploads are never deleted, so the
     * artifact cannot vanish in between. */
    if ((rc = check_artifact(ctx, &m, sha, err)) != 0 ||
        (rc = describe_artifact(ctx, sha, format, &signature, err)) != 0)
        return rc;
    char *params = dump_or_empty(json_object_get(spec, "params"));
    char *metrics = dump_or_empty(json_object_get(spec, "metrics"));
    char *environment = dump_or_empty(json_object_get(spec, "environment"));
    char *sig = mops_json_dump(signature);
    json_decref(signature);
    int64_t number = 0, id = 0, now = mops_now_ms();
    if ((rc = store_begin(ctx->db, err)) != 0)
        goto out;
    /* The row lock on the model orders concurrent uploads; numbers have no
     * gaps because a failed transaction rolls the counter back too. */
    if ((rc = store_query_int(ctx->db, &number, err,
                              "UPDATE models SET next_version = next_version + 1, updated_at = ? "
                              "WHERE id = ? RETURNING next_version - 1",
                              "ii", now, m.id)) != 0)
        goto end;
    rc = store_query_int(
        ctx->db, &id, err,
        "INSERT INTO versions (model_id, number, artifact_sha256, format, framework, "
        "framework_version, description, source_uri, source_commit, params, metrics, dataset, "
        "environment, signature, created_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        "iitttttttttttt" "Iii", m.id, number, sha, format,
        mops_json_str(spec, "framework", ""), mops_json_str(spec, "framework_version", ""),
        mops_json_str(spec, "description", ""), mops_json_str(source, "uri", ""),
        mops_json_str(source, "commit", ""), params, metrics, mops_json_str(spec, "dataset", ""),
        environment, sig, ctx->who ? ctx->who->user_id : (int64_t)0, now, now);
    if (rc == 0 && json_object_get(spec, "tags"))
        rc = store_tags_replace(ctx->db, "version_tags", "version_id", id,
                              json_object_get(spec, "tags"), err);
    if (rc == 0)
        rc = audit_record(ctx, "version.create", reg_target(ctx, &m, number), m.team_id, spec,
                          err);
end:
    if ((rc = store_end(ctx->db, rc, err)) == 0)
        rc = reg_version_json(ctx, &m, id, out, err);
out:
    free(params);
    free(metrics);
    free(environment);
    free(sig);
    return rc;
}

int registry_version_get(const mops_ctx_t *ctx, const char *team, const char *model,
                         const char *ref, json_t **out, mops_err_t *err)
{
    reg_model_t m;
    reg_version_t v;
    int rc = reg_model_resolve(ctx, team, model, AUTH_MODEL_READ, &m, err);
    if (rc == 0)
        rc = reg_version_resolve(ctx, &m, ref, &v, err);
    return rc ? rc : reg_version_json(ctx, &m, v.id, out, err);
}

static int version_item(const mops_ctx_t *ctx, const void *arg, int64_t id, json_t **out,
                        mops_err_t *err)
{
    return reg_version_json(ctx, arg, id, out, err);
}

int registry_version_list(const mops_ctx_t *ctx, const char *team, const char *model,
                          const registry_version_filter_t *f, json_t **out, mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, AUTH_MODEL_READ, &m, err);
    if (rc != 0)
        return rc;
    int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 50;
    store_sql_t q;
    store_sql_init(&q, "");
    store_sql_add(&q, "SELECT v.id, v.number FROM versions v WHERE v.model_id = ?", "i", m.id);
    if (f->before_number > 0)
        store_sql_add(&q, " AND v.number < ?", "i", f->before_number);
    if (f->stage)
        store_sql_add(&q, " AND v.stage = ?", "t", f->stage);
    if (f->tag)
        store_sql_add(&q, " AND EXISTS (SELECT 1 FROM version_tags g WHERE g.version_id = v.id "
                          "AND g.tag = ?)", "t", f->tag);
    if (f->archived == 0)
        store_sql_add(&q, " AND v.archived_at IS NULL", NULL);
    else if (f->archived == 1)
        store_sql_add(&q, " AND v.archived_at IS NOT NULL", NULL);
    store_sql_add(&q, " ORDER BY v.number DESC LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    return rc ? rc : store_page(ctx, s, limit, version_item, &m, out, err);
}

int registry_version_update(const mops_ctx_t *ctx, const char *team, const char *model,
                            const char *ref, const json_t *spec, json_t **out, mops_err_t *err)
{
    reg_model_t m;
    reg_version_t v;
    int rc;
    if ((rc = reg_model_resolve(ctx, team, model, AUTH_VERSION_WRITE, &m, err)) != 0 ||
        (rc = reg_version_resolve(ctx, &m, ref, &v, err)) != 0 ||
        (rc = mops_json_check(spec, "request body", update_fields, err)) != 0)
        return rc;
    const char *desc = mops_json_str(spec, "description", NULL);
    json_t *tags = json_object_get(spec, "tags");
    if ((desc && (rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0) ||
        (rc = mops_json_tags_check(tags, REGISTRY_TAGS_MAX, err)) != 0)
        return rc;
    if (v.archived)
        return mops_err_set(err, MOPS_EPRECOND, "version %lld of %s/%s is archived",
                            (long long)v.number, team, model);
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    rc = store_exec(ctx->db, NULL, err,
                    "UPDATE versions SET description = COALESCE(?, description), updated_at = ? "
                    "WHERE id = ?",
                    "tii", desc, mops_now_ms(), v.id);
    if (rc == 0 && tags)
        rc = store_tags_replace(ctx->db, "version_tags", "version_id", v.id, tags, err);
    if (rc == 0)
        rc = audit_record(ctx, "version.update", reg_target(ctx, &m, v.number), m.team_id, spec,
                          err);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    return reg_version_json(ctx, &m, v.id, out, err);
}

int registry_version_archive(const mops_ctx_t *ctx, const char *team, const char *model,
                             const char *ref, json_t **out, mops_err_t *err)
{
    reg_model_t m;
    reg_version_t v;
    int rc;
    if ((rc = reg_model_resolve(ctx, team, model, AUTH_VERSION_WRITE, &m, err)) != 0 ||
        (rc = reg_version_resolve(ctx, &m, ref, &v, err)) != 0)
        return rc;
    if (!v.archived) {
        if ((rc = store_begin(ctx->db, err)) != 0)
            return rc;
        store_stmt_t *s;
        if ((rc = store_query(ctx->db, &s, err,
                              "SELECT alias FROM aliases WHERE version_id = ? ORDER BY alias",
                              "i", v.id)) == 0) {
            if ((rc = store_step(s, err)) == STORE_ROW)
                rc = mops_err_set(err, MOPS_EPRECOND,
                                  "version %lld of %s/%s is the target of alias \"%s\"; move or "
                                  "delete the alias first",
                                  (long long)v.number, team, model, store_col_text(s, 0));
            store_finalize(s);
        }
        int64_t now = mops_now_ms();
        if (rc == 0)
            rc = store_exec(ctx->db, NULL, err,
                            "UPDATE versions SET archived_at = ?, updated_at = ? WHERE id = ?",
                            "iii", now, now, v.id);
        if (rc == 0)
            rc = audit_record(ctx, "version.archive", reg_target(ctx, &m, v.number), m.team_id,
                              NULL, err);
        if ((rc = store_end(ctx->db, rc, err)) != 0)
            return rc;
    }
    return reg_version_json(ctx, &m, v.id, out, err);
}

int registry_version_open_artifact(const mops_ctx_t *ctx, const char *team, const char *model,
                                   const char *ref, int *fd, int64_t *size, char *sha256_hex,
                                   mops_err_t *err)
{
    reg_model_t m;
    reg_version_t v;
    int rc;
    if ((rc = reg_model_resolve(ctx, team, model, AUTH_VERSION_DOWNLOAD, &m, err)) != 0 ||
        (rc = reg_version_resolve(ctx, &m, ref, &v, err)) != 0)
        return rc;
    int64_t bytes = 0;
    if ((rc = store_query_int(ctx->db, &bytes, err, "SELECT size FROM artifacts WHERE sha256 = ?",
                              "t", v.sha256)) != 0)
        return rc;
    int f;
    if ((rc = store_blob_open(ctx->env->artifact_dir, v.sha256, bytes, &f, err)) != 0)
        return rc;
    /* Downloads of model artifacts are audited: they carry the team's IP. */
    if ((rc = store_begin(ctx->db, err)) == 0) {
        json_t *detail = json_pack("{s:s}", "sha256", v.sha256);
        rc = audit_record(ctx, "version.download", reg_target(ctx, &m, v.number), m.team_id,
                          detail, err);
        json_decref(detail);
    }
    if ((rc = store_end(ctx->db, rc, err)) != 0) {
        close(f);
        return rc;
    }
    *fd = f;
    *size = bytes;
    memcpy(sha256_hex, v.sha256, 65);
    return 0;
}

int registry_version_find_by_dataset(const mops_ctx_t *ctx, const char *dataset, json_t **out,
                                     int64_t *hidden, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT t.name, m.name, v.number, v.stage, v.archived_at, m.team_id "
                         "FROM versions v JOIN models m ON m.id = v.model_id "
                         "JOIN teams t ON t.id = m.team_id WHERE v.dataset = ? ORDER BY v.id",
                         "t", dataset);
    if (rc != 0)
        return rc;
    json_t *a = json_array();
    int64_t others = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (!auth_can(ctx->who, AUTH_MODEL_READ, store_col_int(s, 5))) {
            others++;
            continue;
        }
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:s, s:b}", "team",
                                           store_col_text(s, 0), "model", store_col_text(s, 1),
                                           "version", (json_int_t)store_col_int(s, 2), "stage",
                                           store_col_text(s, 3), "archived",
                                           !store_col_is_null(s, 4)));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    if (hidden)
        *hidden = others;
    return 0;
}
