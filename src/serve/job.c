/*
 * job.c — batch scoring jobs: a CSV uploaded to a team (kept in the blob
 * store) is scored with a version, or a deployment's primary, into a
 * result CSV in the blob store, by a worker thread, with progress in the
 * store, cancellation, and recovery: a job this server was running when it
 * stopped is queued again at start-up (failed after 3 interruptions), and
 * one whose runner went silent for JOB_STALE_MS is taken over by another
 * server. Jobs are never lost.
 *
 * The input's header names the columns; when the model knows its
 * features' names each is read from the column of that name (others are
 * ignored, or copied to the result when listed in "keep"), else the input
 * has one column per feature, in order. Empty fields and NA, NaN, null
 * are missing values. The result has the kept columns, then the outputs
 * asked for (label; prob_<class> or prediction; margin), one line per
 * input row in the same order.
 *
 * The seam for registered datasets as input (the DataOps module) is
 * job_input_resolve: it gives the blob to read.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/csv.h"
#include "core/json.h"
#include "core/log.h"
#include "core/text.h"
#include "core/time.h"
#include "serve/serve_int.h"
#include "store/blob.h"

/* Rows scored at a time. */
#define JOB_BATCH 8192
/* A running job's heartbeat; after JOB_STALE_MS of silence it is orphaned. */
#define JOB_HEARTBEAT_MS 1000
#define JOB_STALE_MS 30000
/* Interruptions before a job is failed rather than run again. */
#define JOB_ATTEMPTS 3

static const mops_json_field_t submit_fields[] = {
    {"deployment", MOPS_JSON_STRING, 0},
    {"team", MOPS_JSON_STRING, 0},
    {"model", MOPS_JSON_STRING, 0},
    {"version", MOPS_JSON_ANY, 0},
    {"input", MOPS_JSON_OBJECT, 1},
    {"outputs", MOPS_JSON_STRING_ARRAY, 0},
    {"keep", MOPS_JSON_STRING_ARRAY, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t input_fields[] = {
    {"upload", MOPS_JSON_STRING, 0},
    {"dataset", MOPS_JSON_STRING, 0},
    {NULL, 0, 0},
};

enum { COL_LABEL = 1, COL_VALUE = 2, COL_MARGIN = 4 };

static pthread_t job_thread;
static int job_started;
/* A job cancelled through this server: its worker stops at the next batch
 * rather than at the next heartbeat. */
static _Atomic int64_t cancel_hint;
static serve_waker_t job_waker = SERVE_WAKER_INIT;

static void job_kick(void)
{
    serve__waker_kick(&job_waker);
}

/* -------------------------------------------------------------- inputs */

struct serve_upload {
    store_blob_writer_t *blob;
    int64_t team_id;
    char team[MOPS_NAME_MAX + 1];
};

int serve_job_input_begin(const mops_ctx_t *ctx, const char *team, int64_t max_bytes,
                          serve_upload_t **out, mops_err_t *err)
{
    int64_t team_id;
    int rc = serve__running(err);
    if (rc != 0 || (rc = auth_team_resolve(ctx, team, &team_id, err)) != 0 ||
        (rc = auth_require(ctx, AUTH_JOB_RUN, team_id, err)) != 0)
        return rc;
    serve_upload_t *u = mops_xcalloc(1, sizeof *u);
    if ((rc = store_blob_writer_new(ctx->env->artifact_dir, max_bytes, "the job input", &u->blob,
                                    err)) != 0) {
        free(u);
        return rc;
    }
    u->team_id = team_id;
    snprintf(u->team, sizeof u->team, "%s", team);
    *out = u;
    return 0;
}

int serve_job_input_write(serve_upload_t *u, const void *p, size_t n, mops_err_t *err)
{
    return store_blob_write(u->blob, p, n, err);
}

void serve_job_input_abort(serve_upload_t *u)
{
    if (!u)
        return;
    store_blob_abort(u->blob);
    free(u);
}

int serve_job_input_finish(const mops_ctx_t *ctx, serve_upload_t *u, json_t **out,
                           mops_err_t *err)
{
    if (store_blob_size(u->blob) == 0) {
        serve_job_input_abort(u);
        return mops_err_set(err, MOPS_EINVAL, "the job input is empty: a CSV with a header row "
                            "is expected");
    }
    char sha[STORE_BLOB_SHA_HEX];
    int64_t size = 0;
    int rc = store_blob_commit(u->blob, sha, &size, NULL, err);
    u->blob = NULL;
    if (rc == 0 && (rc = store_begin(ctx->db, err)) == 0) {
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO job_inputs (sha256, team_id, size, created_by, created_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256, team_id) DO NOTHING",
                        "tiiIi", sha, u->team_id, size, ctx->who ? ctx->who->user_id : (int64_t)0,
                        mops_now_ms());
        if (rc == 0) {
            json_t *detail = json_pack("{s:s, s:I}", "sha256", sha, "size", (json_int_t)size);
            rc = audit_record(ctx, "job.input.upload",
                              mops_arena_printf(ctx->arena, "team/%s", u->team), u->team_id,
                              detail, err);
            json_decref(detail);
        }
        rc = store_end(ctx->db, rc, err);
    }
    if (rc == 0)
        *out = json_pack("{s:s, s:I}", "sha256", sha, "size", (json_int_t)size);
    serve_job_input_abort(u);
    return rc;
}

/* The blob a job reads, from its input spec. Registered datasets (the
 * DataOps module) plug in here: resolve the dataset version the caller may
 * read to its blob. */
static int job_input_resolve(const mops_ctx_t *ctx, int64_t team_id, const char *team,
                             const json_t *input, char *sha, int64_t *size, mops_err_t *err)
{
    int rc = mops_json_check(input, "field \"input\"", input_fields, err);
    if (rc != 0)
        return rc;
    const char *upload = mops_json_str(input, "upload", NULL);
    const char *dataset = mops_json_str(input, "dataset", NULL);
    if ((upload != NULL) == (dataset != NULL))
        return mops_err_set(err, MOPS_EINVAL,
                            "input takes one of \"upload\" (the sha256 of a CSV uploaded to "
                            "POST /api/v1/jobs/inputs/%s) or \"dataset\"",
                            team);
    if (dataset)
        return mops_err_set(err, MOPS_EINVAL,
                            "registered datasets as job input come with the DataOps module; "
                            "upload the CSV for now");
    rc = store_query_int(ctx->db, size, err,
                         "SELECT size FROM job_inputs WHERE sha256 = ? AND team_id = ?", "ti",
                         upload, team_id);
    if (rc == MOPS_ENOTFOUND)
        return mops_err_set(err, MOPS_EINVAL,
                            "input sha256:%s was not uploaded to team %s; upload it first (POST "
                            "/api/v1/jobs/inputs/%s)",
                            mops_text_show(upload), team, team);
    if (rc == 0)
        snprintf(sha, STORE_BLOB_SHA_HEX, "%s", upload);
    return rc;
}

/* -------------------------------------------------------------- reading */

static json_t *job_json(store_stmt_t *s)
{
    /* Columns: see JOB_COLS. */
    int64_t id = store_col_int(s, 0), size = store_col_int(s, 8);
    int64_t bytes = store_col_int(s, 10);
    json_t *spec = json_loads(store_col_text(s, 7), 0, NULL);
    const char *status = store_col_text(s, 9);
    json_t *result = json_null();
    if (!store_col_is_null(s, 12))
        result = json_pack("{s:s, s:I, s:o}", "sha256", store_col_text(s, 12), "size",
                           (json_int_t)store_col_int(s, 13), "download",
                           json_sprintf("/api/v1/jobs/%lld/result", (long long)id));
    double pct = size > 0 ? 100.0 * (double)bytes / (double)size : 0;
    if (!strcmp(status, "succeeded"))
        pct = 100;
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:o, s:s, s:I, s:{s:s, s:I}, s:O, s:O, s:{s:I, s:I, s:I, s:f}, s:o, "
        "s:s, s:I, s:b, s:f, s:s, s:o, s:o, s:o}",
        "id", (json_int_t)id, "team", store_col_text(s, 1), "status", status, "deployment",
        store_col_is_null(s, 2) ? json_null() : json_string(store_col_text(s, 2)), "model",
        store_col_text(s, 3), "version", (json_int_t)store_col_int(s, 4), "input", "sha256",
        store_col_text(s, 6), "size", (json_int_t)size, "outputs",
        json_object_get(spec, "outputs") ? json_object_get(spec, "outputs") : json_null(), "keep",
        json_object_get(spec, "keep") ? json_object_get(spec, "keep") : json_null(), "progress",
        "rows", (json_int_t)store_col_int(s, 11), "bytes", (json_int_t)bytes, "bytes_total",
        (json_int_t)size, "percent", pct, "result", result, "error", store_col_text(s, 14),
        "attempts", (json_int_t)store_col_int(s, 15), "cancel_requested",
        (int)store_col_int(s, 16), "cpu_seconds", (double)store_col_int(s, 17) / 1e9,
        "created_by", store_col_text(s, 18), "created_at",
        mops_json_time(store_col_int(s, 19)), "started_at",
        mops_json_time(store_col_is_null(s, 20) ? 0 : store_col_int(s, 20)), "finished_at",
        mops_json_time(store_col_is_null(s, 21) ? 0 : store_col_int(s, 21)));
    json_decref(spec);
    return o;
}

#define JOB_COLS                                                                                   \
    "SELECT j.id, t.name, d.name, m.name, v.number, j.team_id, j.input_sha256, j.spec, "           \
    "j.input_size, j.status, j.bytes_done, j.rows_done, j.result_sha256, j.result_size, j.error, " \
    "j.attempts, j.cancel_requested, j.cpu_ns, COALESCE(u.name, ''), j.created_at, "              \
    "j.started_at, j.finished_at FROM jobs j JOIN teams t ON t.id = j.team_id "                   \
    "JOIN versions v ON v.id = j.version_id JOIN models m ON m.id = v.model_id "                  \
    "LEFT JOIN deployments d ON d.id = j.deployment_id LEFT JOIN users u ON u.id = j.created_by "

/* Job id as the caller sees it (another team's is "not found"), perm on
 * its team checked; *out its JSON when out is not NULL. */
static int job_find(const mops_ctx_t *ctx, int64_t id, auth_perm_t perm, int64_t *team_id,
                    json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, JOB_COLS "WHERE j.id = ?", "i", id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "no job with id %lld",
                                          (long long)id);
    }
    *team_id = store_col_int(s, 5);
    if (!(ctx->who == NULL || ctx->who->is_admin || auth_roles_in(ctx->who, *team_id))) {
        store_finalize(s);
        mops_ctx_deny(ctx, *team_id);
        return mops_err_set(err, MOPS_ENOTFOUND, "no job with id %lld", (long long)id);
    }
    if ((rc = auth_require(ctx, perm, *team_id, err)) == 0 && out)
        *out = job_json(s);
    store_finalize(s);
    return rc;
}

int serve_job_get(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err)
{
    int64_t team_id;
    int rc = serve__running(err);
    return rc ? rc : job_find(ctx, id, AUTH_JOB_READ, &team_id, out, err);
}

int serve_job_list(const mops_ctx_t *ctx, const serve_job_filter_t *f, json_t **out,
                   mops_err_t *err)
{
    int rc = serve__running(err);
    if (rc != 0)
        return rc;
    int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 50;
    store_sql_t q;
    store_sql_init(&q, JOB_COLS "WHERE ");
    auth_sql_team_filter(ctx, AUTH_JOB_READ, "j.team_id", &q);
    if (f->team)
        store_sql_add(&q, " AND t.name = ?", "t", f->team);
    if (f->status)
        store_sql_add(&q, " AND j.status = ?", "t", f->status);
    if (f->before_id > 0)
        store_sql_add(&q, " AND j.id < ?", "i", f->before_id);
    store_sql_add(&q, " ORDER BY j.id DESC LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    int n = 0;
    int64_t last = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (n++ == limit)
            break;
        last = store_col_int(s, 0);
        json_array_append_new(items, job_json(s));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next_page_token",
                     n > limit ? json_sprintf("%lld", (long long)last) : json_null());
    return 0;
}

/* ---------------------------------------------------------- submitting */

static int outputs_parse(const json_t *list, int classifier, int *cols, mops_err_t *err)
{
    *cols = classifier ? COL_LABEL | COL_VALUE : COL_VALUE;
    if (!list)
        return 0;
    *cols = 0;
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        const char *s = json_string_value(o);
        int bit = !strcmp(s, "label") ? COL_LABEL
                  : !strcmp(s, "value") ? COL_VALUE
                  : !strcmp(s, "margin") ? COL_MARGIN
                                         : 0;
        if (!bit)
            return mops_err_set(err, MOPS_EINVAL,
                                "outputs: \"%s\" is not one of label, value, margin",
                                mops_text_show(s));
        *cols |= bit;
    }
    if (!*cols)
        return mops_err_set(err, MOPS_EINVAL, "outputs is empty");
    if ((*cols & COL_LABEL) && !classifier)
        *cols = (*cols & ~COL_LABEL) | COL_VALUE; /* a regressor's label is its value */
    return 0;
}

int serve_job_submit(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err)
{
    int rc = serve__running(err);
    if (rc != 0)
        return rc;
    const char *deployment = mops_json_str(spec, "deployment", NULL);
    const char *team = mops_json_str(spec, "team", NULL);
    const char *model = mops_json_str(spec, "model", NULL);
    int64_t dep_id = 0, team_id = 0, version_id = 0;
    registry_version_ref_t ref;
    /* Whom it is for first: the permission comes before the details. */
    if (deployment) {
        rc = serve__deployment_primary(ctx, deployment, AUTH_JOB_RUN, &dep_id, &team_id,
                                       &version_id, err);
        if (rc == 0)
            rc = registry_version_ref_by_id(ctx, version_id, &ref, err);
    } else if (team && model) {
        json_t *v = json_object_get(spec, "version");
        char vref[80] = "latest";
        if (json_is_integer(v))
            snprintf(vref, sizeof vref, "%lld", (long long)json_integer_value(v));
        else if (json_is_string(v))
            snprintf(vref, sizeof vref, "%.63s", json_string_value(v));
        else if (v)
            return mops_err_set(err, MOPS_EINVAL,
                                "field \"version\" must be a version number, an alias or "
                                "\"latest\"");
        if ((rc = registry_version_resolve(ctx, team, model, vref, AUTH_MODEL_READ, &ref, err)) ==
                0 &&
            (rc = auth_require(ctx, AUTH_JOB_RUN, ref.m.team_id, err)) == 0) {
            team_id = ref.m.team_id;
            version_id = ref.version_id;
        }
    } else if (json_is_object(spec)) {
        rc = mops_json_check(spec, "request body", submit_fields, err);
        return rc ? rc : mops_err_set(err, MOPS_EINVAL,
                                      "say what scores the input: \"deployment\", or \"team\" "
                                      "and \"model\" (and \"version\")");
    }
    if (rc != 0 || (rc = mops_json_check(spec, "request body", submit_fields, err)) != 0)
        return rc;
    if (deployment && (team || model || json_object_get(spec, "version")))
        return mops_err_set(err, MOPS_EINVAL,
                            "give a deployment, or a team, model and version, not both");
    if (strcmp(ref.format, "xgboost-json") && strcmp(ref.format, "sklearn-json"))
        return mops_err_set(err, MOPS_EINVAL, "version %s/%s@%lld has format %s, which mops does "
                            "not serve", ref.m.team, ref.m.model, (long long)ref.number, ref.format);
    if (ref.archived || !serve_stage_allows(ref.stage, SERVE_ROLE_BATCH))
        return mops_err_set(err, MOPS_EPRECOND, "version %s/%s@%lld is %s%s", ref.m.team,
                            ref.m.model, (long long)ref.number,
                            ref.archived ? "archived" : "in stage ", ref.archived ? "" : ref.stage);
    json_t *keep = json_object_get(spec, "keep");
    if (json_array_size(keep) > 64)
        return mops_err_set(err, MOPS_EINVAL, "keep names at most 64 columns");
    size_t i;
    json_t *k;
    json_array_foreach(keep, i, k) {
        if ((rc = mops_text_check("keep column", json_string_value(k), 256, err)) != 0)
            return rc;
    }
    char sha[STORE_BLOB_SHA_HEX];
    int64_t size = 0;
    if ((rc = job_input_resolve(ctx, team_id, ref.m.team, json_object_get(spec, "input"), sha,
                                &size, err)) != 0)
        return rc;
    /* The kind of model decides the default outputs: classifiers get a
     * label and probabilities. Its signature says it without loading. */
    int classifier = 0;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err, "SELECT signature FROM versions WHERE id = ?", "i",
                          version_id)) != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        json_t *sig = json_loads(store_col_text(s, 0), 0, NULL);
        classifier = json_integer_value(json_object_get(sig, "n_classes")) > 0;
        json_decref(sig);
    }
    store_finalize(s);
    int cols;
    if (rc < 0 || (rc = outputs_parse(json_object_get(spec, "outputs"), classifier, &cols, err)) !=
                      0)
        return rc;
    json_t *outs = json_array();
    if (cols & COL_LABEL)
        json_array_append_new(outs, json_string("label"));
    if (cols & COL_VALUE)
        json_array_append_new(outs, json_string("value"));
    if (cols & COL_MARGIN)
        json_array_append_new(outs, json_string("margin"));
    json_t *stored = json_pack("{s:o, s:O, s:O}", "outputs", outs, "keep",
                               keep ? keep : json_array(), "input",
                               json_object_get(spec, "input"));
    if (!keep)
        json_decref(json_object_get(stored, "keep")); /* json_array() above was a new ref */
    char *text = mops_json_dump(stored);
    json_decref(stored);
    int64_t id = 0;
    if ((rc = store_begin(ctx->db, err)) == 0) {
        rc = store_query_int(ctx->db, &id, err,
                             "INSERT INTO jobs (team_id, deployment_id, version_id, spec, "
                             "input_sha256, input_size, status, created_by, created_at) VALUES "
                             "(?, ?, ?, ?, ?, ?, 'queued', ?, ?) RETURNING id",
                             "iIittiIi", team_id, dep_id, version_id, text, sha, size,
                             ctx->who ? ctx->who->user_id : (int64_t)0, mops_now_ms());
        if (rc == 0)
            rc = audit_record(ctx, "job.submit", mops_arena_printf(ctx->arena, "job/%lld",
                                                                   (long long)id),
                              team_id, spec, err);
        rc = store_end(ctx->db, rc, err);
    }
    free(text);
    if (rc != 0)
        return rc;
    job_kick();
    return job_find(ctx, id, AUTH_JOB_READ, &team_id, out, err);
}

int serve_job_cancel(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err)
{
    int64_t team_id;
    int rc = serve__running(err);
    if (rc != 0 || (rc = job_find(ctx, id, AUTH_JOB_RUN, &team_id, NULL, err)) != 0)
        return rc;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    store_stmt_t *s;
    char status[16] = "";
    if ((rc = store_query(ctx->db, &s, err, "SELECT status FROM jobs WHERE id = ?", "i", id)) ==
        0) {
        if ((rc = store_step(s, err)) == STORE_ROW)
            snprintf(status, sizeof status, "%s", store_col_text(s, 0));
        store_finalize(s);
        rc = rc < 0 ? rc : 0;
    }
    int64_t now = mops_now_ms();
    if (rc == 0 && !strcmp(status, "queued"))
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE jobs SET status = 'canceled', finished_at = ?, cancel_requested = "
                        "1 WHERE id = ?",
                        "ii", now, id);
    else if (rc == 0 && !strcmp(status, "running"))
        rc = store_exec(ctx->db, NULL, err, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?",
                        "i", id);
    /* A job that already ended stays as it is: cancelling is best-effort
     * and may be repeated, so it answers the job either way. */
    int changed = rc == 0 && (!strcmp(status, "queued") || !strcmp(status, "running"));
    if (changed)
        rc = audit_record(ctx, "job.cancel", mops_arena_printf(ctx->arena, "job/%lld",
                                                               (long long)id),
                          team_id, NULL, err);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    if (changed)
        atomic_store(&cancel_hint, id);
    job_kick();
    return job_find(ctx, id, AUTH_JOB_READ, &team_id, out, err);
}

int serve_job_open_result(const mops_ctx_t *ctx, int64_t id, int *fd, int64_t *size,
                          char sha256[65], mops_err_t *err)
{
    int64_t team_id;
    json_t *job = NULL;
    int rc = serve__running(err);
    if (rc != 0 || (rc = job_find(ctx, id, AUTH_JOB_READ, &team_id, &job, err)) != 0)
        return rc;
    const char *status = mops_json_str(job, "status", "");
    json_t *result = json_object_get(job, "result");
    if (strcmp(status, "succeeded") != 0 || !json_is_object(result)) {
        rc = mops_err_set(err, MOPS_EPRECOND, "job %lld is %s: it has no result%s", (long long)id,
                          status, !strcmp(status, "running") || !strcmp(status, "queued")
                                      ? " yet (mops job wait)"
                                      : "");
    } else {
        int64_t n = json_integer_value(json_object_get(result, "size"));
        const char *sha = mops_json_str(result, "sha256", "");
        if ((rc = store_blob_open(ctx->env->artifact_dir, sha, n, fd, err)) == 0) {
            *size = n;
            snprintf(sha256, 65, "%s", sha);
        }
    }
    json_decref(job);
    return rc;
}

/* --------------------------------------------------------------- running */

/* The result's header names, as mops predict writes them. */
static void write_header(mops_buf_t *b, const runtime_model_info_t *in, int cols, json_t *keep)
{
    int first = 1;
#define SEP() (first ? (void)(first = 0) : mops_buf_putc(b, ','))
    size_t i;
    json_t *k;
    json_array_foreach(keep, i, k) {
        SEP();
        mops_csv_buf_field(b, json_string_value(k), strlen(json_string_value(k)));
    }
    if (cols & COL_LABEL) {
        SEP();
        mops_buf_puts(b, "label");
    }
    for (size_t v = 0; (cols & COL_VALUE) && v < in->n_value; v++) {
        SEP();
        if (in->n_classes) {
            const char *lab = in->n_value == in->n_classes ? in->class_labels[v]
                                                           : in->class_labels[in->n_classes - 1];
            char *name = mops_xasprintf("prob_%s", lab);
            mops_csv_buf_field(b, name, strlen(name));
            free(name);
        } else if (in->n_value == 1) {
            mops_buf_puts(b, "prediction");
        } else {
            mops_buf_printf(b, "prediction_%zu", v);
        }
    }
    for (size_t v = 0; (cols & COL_MARGIN) && v < in->n_margin; v++) {
        SEP();
        if (in->n_margin == 1)
            mops_buf_puts(b, "margin");
        else if (in->n_classes == in->n_margin) {
            char *name = mops_xasprintf("margin_%s", in->class_labels[v]);
            mops_csv_buf_field(b, name, strlen(name));
            free(name);
        } else
            mops_buf_printf(b, "margin_%zu", v);
    }
#undef SEP
    mops_buf_putc(b, '\n');
}

static void put_number(mops_buf_t *b, double v, int f32)
{
    if (isnan(v))
        return; /* an empty field */
    mops_buf_printf(b, f32 ? "%.9g" : "%.17g", v);
}

typedef struct job_run {
    int64_t id, version_id, input_size, team_id;
    char sha[STORE_BLOB_SHA_HEX];
    json_t *spec;
    int cols;
    /* state */
    int64_t rows, last_beat_ms, cpu0;
    int canceled;
} job_run_t;

/* Heartbeat and progress; notices a cancellation. */
static int job_beat(store_conn_t *db, job_run_t *j, uint64_t bytes, int force)
{
    int64_t now = mops_now_ms();
    if (!force && now - j->last_beat_ms < JOB_HEARTBEAT_MS)
        return 0;
    j->last_beat_ms = now;
    mops_err_t err;
    int64_t cancel = 0;
    store_exec(db, NULL, &err,
               "UPDATE jobs SET rows_done = ?, bytes_done = ?, heartbeat_at = ?, cpu_ns = ? "
               "WHERE id = ?",
               "iiiii", j->rows, (int64_t)bytes, now, mops_thread_cpu_ns() - j->cpu0, j->id);
    if (store_query_int(db, &cancel, &err, "SELECT cancel_requested FROM jobs WHERE id = ?", "i",
                        j->id) == 0 &&
        cancel)
        j->canceled = 1;
    return 0;
}

/* Score the job's input into a new blob: 0 with sha/size, MOPS_ECANCELED
 * (canceled or stopping), or the failure with err. */
static int job_score(const mops_ctx_t *ctx, job_run_t *j, const serve_model_t *m,
                     char *result_sha, int64_t *result_size, mops_err_t *err)
{
    const runtime_model_info_t *in = &m->info;
    size_t F = in->n_features, V = in->n_value, K = in->n_margin;
    int fd;
    int rc = store_blob_open(ctx->env->artifact_dir, j->sha, j->input_size, &fd, err);
    if (rc != 0)
        return rc;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return mops_err_set(err, MOPS_EIO, "cannot read the job input: %s", strerror(errno));
    }
    mops_csv_t *csv = mops_csv_open(f, "the input");
    store_blob_writer_t *w = NULL;
    json_t *keep = json_object_get(j->spec, "keep");
    size_t nkeep = json_array_size(keep), ncol = 0;
    size_t *colmap = NULL, *keepmap = NULL;
    double *x = NULL, *margins = NULL, *values = NULL, *labels = NULL, *tmp = NULL;
    char **names = NULL, **kept = NULL;
    mops_buf_t out = MOPS_BUF_INIT;
    mops_csv_record_t rec;
    if ((rc = mops_csv_next(csv, &rec, err)) <= 0) {
        if (rc == 0)
            rc = mops_err_set(err, MOPS_EINVAL, "the input is empty: it needs a header row");
        goto done;
    }
    ncol = rec.n;
    names = mops_xcalloc(ncol, sizeof *names);
    for (size_t c = 0; c < ncol; c++)
        names[c] = mops_xstrdup(rec.fields[c]);
    colmap = mops_xcalloc(F + 1, sizeof *colmap);
    keepmap = mops_xcalloc(nkeep + 1, sizeof *keepmap);
    if (in->feature_names) {
        for (size_t fi = 0; fi < F; fi++) {
            size_t found = SIZE_MAX;
            for (size_t c = 0; c < ncol && found == SIZE_MAX; c++)
                if (!strcmp(names[c], in->feature_names[fi]))
                    found = c;
            if (found == SIZE_MAX) {
                rc = mops_err_set(err, MOPS_EINVAL,
                                  "the input has no column \"%s\", a feature of the model",
                                  mops_text_show(in->feature_names[fi]));
                goto done;
            }
            colmap[fi] = found;
        }
    } else {
        if (ncol - nkeep != F && ncol != F) {
            rc = mops_err_set(err, MOPS_EINVAL,
                              "the input has %zu columns but the model takes %zu features (and "
                              "knows no names to pick them by)",
                              ncol, F);
            goto done;
        }
        for (size_t fi = 0; fi < F; fi++)
            colmap[fi] = fi;
    }
    for (size_t k = 0; k < nkeep; k++) {
        const char *want = json_string_value(json_array_get(keep, k));
        size_t found = SIZE_MAX;
        for (size_t c = 0; c < ncol && found == SIZE_MAX; c++)
            if (!strcmp(names[c], want))
                found = c;
        if (found == SIZE_MAX) {
            rc = mops_err_set(err, MOPS_EINVAL, "keep: the input has no column \"%s\"",
                              mops_text_show(want));
            goto done;
        }
        keepmap[k] = found;
    }
    if ((rc = store_blob_writer_new(ctx->env->artifact_dir, INT64_MAX, "the job result", &w,
                                    err)) != 0)
        goto done;
    write_header(&out, in, j->cols, keep);
    x = mops_xmalloc(JOB_BATCH * F * sizeof *x + 8);
    margins = mops_xmalloc(JOB_BATCH * K * sizeof *margins + 8);
    values = mops_xmalloc(JOB_BATCH * V * sizeof *values + 8);
    labels = mops_xmalloc(JOB_BATCH * sizeof *labels + 8);
    tmp = mops_xmalloc((V + K + 1) * sizeof *tmp);
    kept = mops_xcalloc(JOB_BATCH * (nkeep + 1), sizeof *kept);
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    o.output = RUNTIME_OUTPUT_MARGIN;
    int eof = 0;
    while (!eof) {
        size_t n = 0;
        while (n < JOB_BATCH) {
            if ((rc = mops_csv_next(csv, &rec, err)) < 0)
                goto done;
            if (rc == 0) {
                eof = 1;
                break;
            }
            if (rec.n != ncol) {
                rc = mops_err_set(err, MOPS_EINVAL, "line %zu has %zu fields but the header has "
                                  "%zu", rec.line, rec.n, ncol);
                goto done;
            }
            for (size_t fi = 0; fi < F; fi++) {
                size_t c = colmap[fi];
                if (mops_csv_number(rec.fields[c], rec.lens[c], &x[n * F + fi]) < 0) {
                    rc = mops_err_set(err, MOPS_EINVAL,
                                      "line %zu, column %zu (\"%s\"): \"%s\" is not a number",
                                      rec.line, c + 1, mops_text_show(names[c]),
                                      mops_text_show(rec.fields[c]));
                    goto done;
                }
            }
            for (size_t k = 0; k < nkeep; k++) {
                free(kept[n * nkeep + k]);
                kept[n * nkeep + k] = mops_xstrdup(rec.fields[keepmap[k]]);
            }
            n++;
        }
        rc = 0;
        if (n) {
            if ((rc = runtime_predict_parallel(m->rt, &o, x, n, F, margins,
                                               serve__g->opts.job_threads, err)) != 0) {
                /* "row 3: ..." counts rows of the batch: say the row of the file. */
                mops_err_wrap(err, "rows %lld to %lld", (long long)j->rows + 1,
                              (long long)(j->rows + (int64_t)n));
                goto done;
            }
            runtime_outputs_from_margins(m->rt, RUNTIME_OUTPUT_VALUE, margins, n, values, tmp);
            if (j->cols & COL_LABEL)
                runtime_outputs_from_margins(m->rt, RUNTIME_OUTPUT_LABEL, margins, n, labels, tmp);
            for (size_t r = 0; r < n; r++) {
                int first = 1;
#define SEP() (first ? (void)(first = 0) : mops_buf_putc(&out, ','))
                for (size_t k = 0; k < nkeep; k++) {
                    SEP();
                    const char *kv = kept[r * nkeep + k];
                    mops_csv_buf_field(&out, kv, strlen(kv));
                }
                if (j->cols & COL_LABEL) {
                    SEP();
                    size_t c = (size_t)labels[r];
                    const char *lab = c < in->n_classes ? in->class_labels[c] : "";
                    mops_csv_buf_field(&out, lab, strlen(lab));
                }
                for (size_t v = 0; (j->cols & COL_VALUE) && v < V; v++) {
                    SEP();
                    put_number(&out, values[r * V + v], in->output_float32);
                }
                for (size_t v = 0; (j->cols & COL_MARGIN) && v < K; v++) {
                    SEP();
                    put_number(&out, margins[r * K + v], in->output_float32);
                }
#undef SEP
                mops_buf_putc(&out, '\n');
            }
            j->rows += (int64_t)n;
        }
        if ((rc = store_blob_write(w, out.data ? out.data : "", out.len, err)) != 0)
            goto done;
        mops_buf_reset(&out);
        job_beat(ctx->db, j, mops_csv_bytes(csv), atomic_load(&cancel_hint) == j->id);
        if (j->canceled || atomic_load(&serve__g->stopping)) {
            rc = mops_err_set(err, MOPS_ECANCELED, "canceled");
            goto done;
        }
    }
    rc = store_blob_commit(w, result_sha, result_size, NULL, err);
    w = NULL;
done:
    store_blob_abort(w);
    mops_csv_close(csv);
    fclose(f);
    for (size_t c = 0; c < ncol; c++)
        free(names[c]);
    free(names);
    if (kept)
        for (size_t i = 0; i < JOB_BATCH * nkeep; i++)
            free(kept[i]);
    free(kept);
    free(colmap);
    free(keepmap);
    free(x);
    free(margins);
    free(values);
    free(labels);
    free(tmp);
    mops_buf_release(&out);
    return rc < 0 ? rc : 0;
}

static void job_finish(store_conn_t *db, job_run_t *j, const char *status, const char *error,
                       const char *sha, int64_t size)
{
    mops_err_t err;
    int64_t now = mops_now_ms();
    if (strcmp(status, "queued") != 0) {
        int ok = !strcmp(status, "succeeded");
        serve_event_t ev = {.ts_ms = now, .team_id = j->team_id, .version_id = j->version_id,
                            .role = SERVE_ROLE_BATCH, .request_id = "", .n_rows = (size_t)j->rows,
                            .cpu_ns = mops_thread_cpu_ns() - j->cpu0,
                            .bytes_in = ok ? j->input_size : 0, .bytes_out = ok ? size : 0,
                            .status = ok ? 0
                                    : !strcmp(status, "canceled") ? MOPS_ECANCELED
                                                                  : MOPS_EINTERNAL};
        serve__observe(&ev);
    }
    int rc = store_begin(db, &err);
    if (rc == 0 && !strcmp(status, "queued")) {
        /* Stopping: not the job's fault, so the attempt does not count. */
        rc = store_exec(db, NULL, &err,
                        "UPDATE jobs SET status = 'queued', runner = NULL, attempts = attempts - "
                        "1, rows_done = 0, bytes_done = 0 WHERE id = ? AND status = 'running'",
                        "i", j->id);
    } else if (rc == 0) {
        rc = store_exec(db, NULL, &err,
                        "UPDATE jobs SET status = ?, error = ?, result_sha256 = ?, result_size = "
                        "?, finished_at = ?, rows_done = ?, bytes_done = CASE WHEN ? = "
                        "'succeeded' THEN input_size ELSE bytes_done END, cpu_ns = ? WHERE id = ?",
                        "tttIiiti" "i", status, error, sha, size, now, j->rows, status,
                        mops_thread_cpu_ns() - j->cpu0, j->id);
    }
    if (rc == 0)
        rc = store_commit(db, &err);
    store_rollback(db);
    if (rc != 0)
        mops_error("serve: job %lld: cannot record that it %s: %s", (long long)j->id, status,
                   err.msg);
    else
        mops_info("serve: job %lld %s%s%s", (long long)j->id, status, *error ? ": " : "", error);
}

static void job_run(store_conn_t *db, int64_t id)
{
    mops_arena_t *arena = mops_arena_new();
    mops_ctx_t ctx = {.db = db, .request_id = "job", .arena = arena, .env = serve__g->env};
    job_run_t j = {.id = id, .last_beat_ms = mops_now_ms(), .cpu0 = mops_thread_cpu_ns()};
    mops_err_t err;
    store_stmt_t *s;
    int rc = store_query(db, &s, &err,
                         "SELECT version_id, input_sha256, input_size, spec, team_id FROM jobs "
                         "WHERE id = ?",
                         "i", id);
    if (rc == 0) {
        if ((rc = store_step(s, &err)) == STORE_ROW) {
            j.version_id = store_col_int(s, 0);
            snprintf(j.sha, sizeof j.sha, "%s", store_col_text(s, 1));
            j.input_size = store_col_int(s, 2);
            j.spec = json_loads(store_col_text(s, 3), 0, NULL);
            j.team_id = store_col_int(s, 4);
            rc = 0;
        }
        store_finalize(s);
    }
    serve_model_t *m = NULL;
    if (rc == 0)
        rc = serve__model_acquire(&ctx, j.version_id, 0, &m, &err);
    if (rc == 0) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(j.spec, "outputs"), i, o) {
            const char *n = json_string_value(o);
            j.cols |= !strcmp(n, "label") ? COL_LABEL : !strcmp(n, "value") ? COL_VALUE
                                                                              : COL_MARGIN;
        }
        if (!m->info.n_classes && (j.cols & COL_LABEL))
            j.cols = (j.cols & ~COL_LABEL) | COL_VALUE;
    }
    char sha[STORE_BLOB_SHA_HEX] = "";
    int64_t size = 0;
    if (rc == 0)
        rc = job_score(&ctx, &j, m, sha, &size, &err);
    if (rc == 0)
        job_finish(db, &j, "succeeded", "", sha, size);
    else if (rc == MOPS_ECANCELED && j.canceled)
        job_finish(db, &j, "canceled", "", NULL, 0);
    else if (rc == MOPS_ECANCELED)
        job_finish(db, &j, "queued", "", NULL, 0);
    else
        job_finish(db, &j, "failed", err.msg, NULL, 0);
    serve__model_release(m);
    json_decref(j.spec);
    mops_arena_free(arena);
}

/* Take the oldest queued job for this server: its id, or 0. Orphans of
 * silent runners are queued again (or failed) on the way. */
static int64_t job_claim(store_conn_t *db)
{
    mops_err_t err;
    int64_t now = mops_now_ms(), id = 0;
    int rc = store_begin(db, &err);
    if (rc == 0)
        rc = store_exec(db, NULL, &err,
                        "UPDATE jobs SET status = CASE WHEN attempts >= ? THEN 'failed' ELSE "
                        "'queued' END, error = CASE WHEN attempts >= ? THEN 'its server stopped "
                        "answering while it ran, too many times' ELSE error END, finished_at = "
                        "CASE WHEN attempts >= ? THEN CAST(? AS BIGINT) ELSE NULL END, runner = NULL WHERE "
                        "status = 'running' AND heartbeat_at < ?",
                        "iiiii", (int64_t)JOB_ATTEMPTS, (int64_t)JOB_ATTEMPTS,
                        (int64_t)JOB_ATTEMPTS, now, now - JOB_STALE_MS);
    if (rc == 0) {
        rc = store_query_int(db, &id, &err,
                             "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1",
                             NULL);
        if (rc == MOPS_ENOTFOUND) {
            rc = 0;
            id = 0;
        }
    }
    if (rc == 0 && id)
        rc = store_exec(db, NULL, &err,
                        "UPDATE jobs SET status = 'running', runner = ?, attempts = attempts + 1, "
                        "started_at = ?, heartbeat_at = ?, rows_done = 0, bytes_done = 0, "
                        "error = '' WHERE id = ? AND status = 'queued'",
                        "tiii", serve__g->server_id, now, now, id);
    if (rc == 0)
        rc = store_commit(db, &err);
    store_rollback(db);
    if (rc != 0) {
        mops_warn("serve: cannot look for batch jobs: %s", err.msg);
        return 0;
    }
    return id;
}

static void *job_main(void *arg)
{
    (void)arg;
    serve__thread_nice(10); /* batch work yields to online inference */
    while (!atomic_load(&serve__g->stopping)) {
        store_conn_t *db;
        mops_err_t err;
        int64_t id = 0;
        if (store_conn_acquire(serve__g->st, &db, &err) == 0) {
            if ((id = job_claim(db)) != 0)
                job_run(db, id);
            store_conn_release(db);
        }
        if (id)
            continue; /* there may be more */
        serve__waker_nap(&job_waker, serve__g->opts.job_poll_ms);
    }
    return NULL;
}

int serve__jobs_start(const serve_options_t *opts, mops_err_t *err)
{
    (void)opts;
    /* Jobs this server was running when it stopped: run them again. */
    store_conn_t *db;
    int rc = store_conn_acquire(serve__g->st, &db, err);
    if (rc != 0)
        return rc;
    int64_t requeued = 0, now = mops_now_ms();
    if ((rc = store_begin(db, err)) == 0 &&
        (rc = store_exec(db, &requeued, err,
                         "UPDATE jobs SET status = CASE WHEN attempts >= ? THEN 'failed' ELSE "
                         "'queued' END, error = CASE WHEN attempts >= ? THEN 'interrupted by a "
                         "server restart too many times' ELSE error END, finished_at = CASE "
                         "WHEN attempts >= ? THEN CAST(? AS BIGINT) ELSE NULL END, runner = NULL "
                         "WHERE status = 'running' AND runner = ?",
                         "iiiit", (int64_t)JOB_ATTEMPTS, (int64_t)JOB_ATTEMPTS,
                         (int64_t)JOB_ATTEMPTS, now, serve__g->server_id)) == 0)
        rc = store_commit(db, err);
    store_rollback(db);
    store_conn_release(db);
    if (rc != 0)
        return rc;
    if (requeued)
        mops_info("serve: %lld batch job(s) interrupted by the last stop are queued again",
                  (long long)requeued);
    job_waker.kicked = 0;
    if (pthread_create(&job_thread, NULL, job_main, NULL) != 0)
        return mops_err_set(err, MOPS_EINTERNAL, "cannot start the batch job worker");
    job_started = 1;
    return 0;
}

void serve__jobs_stop(void)
{
    if (!job_started)
        return;
    job_kick();
    pthread_join(job_thread, NULL);
    job_started = 0;
}
