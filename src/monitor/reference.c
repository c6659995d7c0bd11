/*
 * reference.c — reference profiles of model versions: a CSV of training
 * or validation data streamed in, each numeric column summarised with
 * stats_column (the sketches the live windows use), or the sketches of a
 * registered dataset version's profile (data_version_sketches); kept as
 * JSON in monitor_references (the newest per version is the one in
 * force). Columns of PII-tagged features show no values.
 */
#include <math.h>
#include <string.h>

#include "audit/audit.h"
#include "core/csv.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "data/data.h"
#include "monitor/monitor_int.h"
#include "registry/registry.h"

#define REF_COLUMNS_MAX 4096

struct monitor_upload {
    registry_version_ref_t v;
    char target[160];
    int64_t max_bytes, bytes;
    mops_csv_t *csv;
    size_t ncols;
    char **names;
    stats_column_t **cols;
    stats_topk_t **tops; /* whole-number values per column */
    int64_t *decimals;   /* values per column that are not whole numbers */
    int64_t rows;
};

static int on_record(void *arg, const mops_csv_record_t *rec, mops_err_t *err)
{
    monitor_upload_t *u = arg;
    if (!u->names) {
        if (rec->n > REF_COLUMNS_MAX)
            return mops_err_set(err, MOPS_ETOOBIG, "the reference CSV has more than %d columns",
                                REF_COLUMNS_MAX);
        u->ncols = rec->n;
        u->names = mops_xcalloc(rec->n + 1, sizeof *u->names);
        u->cols = mops_xcalloc(rec->n + 1, sizeof *u->cols);
        u->tops = mops_xcalloc(rec->n + 1, sizeof *u->tops);
        u->decimals = mops_xcalloc(rec->n + 1, sizeof *u->decimals);
        for (size_t i = 0; i < rec->n; i++) {
            u->names[i] = mops_xstrndup(rec->fields[i], rec->lens[i]);
            u->cols[i] = stats_column_new();
            u->tops[i] = stats_topk_new(STATS_TOPK_K);
        }
        return 0;
    }
    if (rec->n != u->ncols)
        return mops_err_set(err, MOPS_EINVAL,
                            "reference CSV line %zu has %zu fields; the header has %zu",
                            rec->line, rec->n, u->ncols);
    for (size_t i = 0; i < rec->n; i++) {
        double x;
        int r = mops_csv_number(rec->fields[i], rec->lens[i], &x);
        if (r == 0 && isfinite(x)) {
            stats_column_add(u->cols[i], NULL, 0, x);
            if (!mon_whole(x))
                u->decimals[i]++;
            else if (!u->decimals[i])
                mon_topk_add_number(u->tops[i], x);
        } else
            stats_column_add_missing(u->cols[i]);
    }
    u->rows++;
    return 0;
}

int monitor_reference_begin(const mops_ctx_t *ctx, const char *team, const char *model,
                            const char *version, int64_t max_bytes, monitor_upload_t **out,
                            mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, version, AUTH_MODEL_READ, &v, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_MONITOR_WRITE, v.m.team_id, err)) != 0)
        return rc;
    monitor_upload_t *u = mops_xcalloc(1, sizeof *u);
    u->v = v;
    snprintf(u->target, sizeof u->target, "%s/%s@%lld", team, model, (long long)v.number);
    u->max_bytes = max_bytes;
    u->csv = mops_csv_push_new("reference.csv", on_record, u);
    *out = u;
    return 0;
}

int monitor_reference_write(monitor_upload_t *u, const void *p, size_t n, mops_err_t *err)
{
    u->bytes += (int64_t)n;
    if (u->bytes > u->max_bytes)
        return mops_err_set(err, MOPS_ETOOBIG, "the reference CSV is over %lld bytes",
                            (long long)u->max_bytes);
    return mops_csv_push(u->csv, p, n, err);
}

void monitor_reference_abort(monitor_upload_t *u)
{
    if (!u)
        return;
    mops_csv_close(u->csv);
    for (size_t i = 0; i < u->ncols; i++) {
        free(u->names[i]);
        stats_column_free(u->cols[i]);
        stats_topk_free(u->tops[i]);
    }
    free(u->names);
    free(u->cols);
    free(u->tops);
    free(u->decimals);
    free(u);
}

/* {"rows", "columns": [{"name", "sketch"}]} of the numeric columns. */
static json_t *profile_json(const monitor_upload_t *u, json_t *summary)
{
    json_t *cols = json_array();
    for (size_t i = 0; i < u->ncols; i++) {
        const stats_moments_t *m = stats_column_moments(u->cols[i]);
        if (!m->n)
            continue; /* no number at all: not a feature */
        json_t *col = json_pack("{s:s, s:o}", "name", u->names[i], "sketch",
                                stats_column_to_json(u->cols[i]));
        /* Categorical: whole numbers only, few of them, every one counted
         * exactly (the sketch has room for all). */
        const stats_topk_t *t = u->tops[i];
        stats_topk_item_t items[MON_CATEGORIES_MAX + 1];
        if (!u->decimals[i] && stats_topk_error(t) == 0 && stats_topk_n(t) == m->n &&
            stats_topk_items(t, items, MON_CATEGORIES_MAX + 1) <= MON_CATEGORIES_MAX) {
            json_object_set_new(col, "categorical", json_true());
            json_object_set_new(col, "topk", stats_topk_to_json(t));
        }
        json_array_append_new(cols, col);
        json_array_append_new(summary,
                              json_pack("{s:s, s:I, s:I}", "name", u->names[i], "count",
                                        (json_int_t)stats_column_count(u->cols[i]), "missing",
                                        (json_int_t)stats_column_missing(u->cols[i])));
    }
    return json_pack("{s:I, s:o, s:s}", "rows", (json_int_t)u->rows, "columns", cols, "source",
                     "csv");
}

/* Record profile as version v's reference (one transaction, audited). */
static int reference_insert(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                            const char *target, const char *source, int64_t rows,
                            const json_t *profile, int64_t columns, mops_err_t *err)
{
    char *text = mops_json_dump(profile);
    int rc = store_begin(ctx->db, err);
    if (rc == 0) {
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO monitor_references (team_id, version_id, source, rows_seen, "
                        "profile, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        "iititIi", v->m.team_id, v->version_id, source, rows, text,
                        ctx->who ? ctx->who->user_id : 0, mops_now_ms());
        if (rc == 0) {
            json_t *d = json_pack("{s:s, s:I, s:I}", "source", source, "rows", (json_int_t)rows,
                                  "columns", (json_int_t)columns);
            rc = audit_record(ctx, "reference.create", target, v->m.team_id, d, err);
            json_decref(d);
        }
        rc = store_end(ctx->db, rc, err);
    }
    free(text);
    return rc;
}

int monitor_reference_finish(const mops_ctx_t *ctx, monitor_upload_t *u, json_t **out,
                             mops_err_t *err)
{
    int rc = mops_csv_push_end(u->csv, err);
    if (rc == 0 && !u->rows)
        rc = mops_err_set(err, MOPS_EINVAL, "the reference CSV has no data rows");
    json_t *summary = json_array(), *profile = NULL;
    if (rc == 0) {
        profile = profile_json(u, summary);
        if (!json_array_size(summary))
            rc = mops_err_set(err, MOPS_EINVAL, "the reference CSV has no numeric column");
    }
    if (rc == 0)
        rc = reference_insert(ctx, &u->v, u->target, "csv", u->rows, profile,
                              (int64_t)json_array_size(summary), err);
    json_decref(profile);
    if (rc == 0)
        *out = json_pack("{s:s, s:I, s:O}", "version", u->target, "rows", (json_int_t)u->rows,
                         "columns", summary);
    json_decref(summary);
    monitor_reference_abort(u);
    return rc;
}

int mon_reference_load(const mops_ctx_t *ctx, int64_t version_id, json_t **profile,
                       int64_t *created_at, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT profile, created_at FROM monitor_references WHERE version_id = ? "
                         "ORDER BY id DESC LIMIT 1",
                         "i", version_id);
    if (rc != 0)
        return rc;
    json_t *p = NULL;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        p = json_loads(store_col_text(s, 0), 0, NULL);
        if (created_at)
            *created_at = store_col_int(s, 1);
        rc = p ? 0 : mops_err_set(err, MOPS_ECORRUPT, "a stored reference profile is not JSON");
    } else if (rc == STORE_DONE) {
        rc = MOPS_ENOTFOUND;
        mops_err_set(err, rc, "the version has no reference profile");
    }
    store_finalize(s);
    if (rc == 0)
        *profile = p;
    return rc;
}

int monitor_reference_from_dataset(const mops_ctx_t *ctx, const char *team, const char *model,
                                   const char *version, const json_t *spec, json_t **out,
                                   mops_err_t *err)
{
    static const mops_json_field_t fields[] = {{"dataset", MOPS_JSON_STRING, 1}, {NULL, 0, 0}};
    registry_version_ref_t v;
    data_ref_t dref;
    json_t *sk = NULL;
    int rc = registry_version_resolve(ctx, team, model, version, AUTH_MODEL_READ, &v, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_MONITOR_WRITE, v.m.team_id, err)) != 0 ||
        (rc = mops_json_check(spec, "request body", fields, err)) != 0 ||
        (rc = data_ref_parse(json_string_value(json_object_get(spec, "dataset")), &dref, err)) != 0 ||
        (rc = data_version_sketches(ctx, &dref, &sk, err)) != 0)
        return rc;
    /* Text columns are no model feature; numbers keep the dataset's order. */
    json_t *cols = json_array(), *summary = json_array(), *c;
    size_t i;
    json_array_foreach(json_object_get(sk, "columns"), i, c) {
        const char *kind = json_string_value(json_object_get(c, "kind"));
        if (kind && !strcmp(kind, "string"))
            continue;
        stats_column_t *col = NULL;
        if (stats_column_from_json(json_object_get(c, "sketch"), &col, NULL) != 0)
            continue;
        if (stats_column_moments(col)->n) {
            json_array_append_new(cols, json_pack("{s:O, s:O}", "name", json_object_get(c, "name"),
                                                  "sketch", json_object_get(c, "sketch")));
            json_array_append_new(summary,
                                  json_pack("{s:O, s:I, s:I}", "name", json_object_get(c, "name"),
                                            "count", (json_int_t)stats_column_count(col),
                                            "missing", (json_int_t)stats_column_missing(col)));
        }
        stats_column_free(col);
    }
    char source[200], target[160];
    data_ref_format(&dref, source, sizeof source);
    snprintf(target, sizeof target, "%s/%s@%lld", team, model, (long long)v.number);
    int64_t rows = json_integer_value(json_object_get(sk, "rows"));
    json_decref(sk);
    json_t *profile = json_pack("{s:I, s:o, s:s}", "rows", (json_int_t)rows, "columns", cols,
                                "source", source);
    if (!json_array_size(cols))
        rc = mops_err_set(err, MOPS_EINVAL, "%s has no numeric column", source);
    else
        rc = reference_insert(ctx, &v, target, source, rows, profile,
                              (int64_t)json_array_size(summary), err);
    json_decref(profile);
    if (rc == 0)
        *out = json_pack("{s:s, s:s, s:I, s:O}", "version", target, "source", source, "rows",
                         (json_int_t)rows, "columns", summary);
    json_decref(summary);
    return rc;
}

json_t *mon_pii_columns(const mops_ctx_t *ctx, int64_t version_id)
{
    registry_version_ref_t v;
    json_t *pii = NULL, *names;
    /* The server asks, not the caller: what must be masked does not
     * depend on who may read the datasets. */
    mops_ctx_t sys = *ctx;
    sys.who = NULL;
    sys.denial = NULL;
    if (registry_version_ref_by_id(&sys, version_id, &v, NULL) != 0 ||
        data_model_pii(&sys, v.m.team, v.m.model, v.number, &pii, NULL) != 0)
        return json_array();
    names = json_incref(json_object_get(pii, "columns"));
    json_decref(pii);
    return names ? names : json_array();
}

int mon_is_pii(const json_t *pii, const char *name)
{
    size_t i;
    json_t *n;
    json_array_foreach(pii, i, n)
        if (name && json_is_string(n) && !strcmp(json_string_value(n), name))
            return 1;
    return 0;
}

int monitor_reference_get(const mops_ctx_t *ctx, const char *team, const char *model,
                          const char *version, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, version, AUTH_MODEL_READ, &v, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_MONITOR_READ, v.m.team_id, err)) != 0)
        return rc;
    json_t *p = NULL;
    int64_t at = 0;
    if ((rc = mon_reference_load(ctx, v.version_id, &p, &at, err)) != 0)
        return rc == MOPS_ENOTFOUND ? mops_err_set(err, rc, "%s/%s@%lld has no reference profile",
                                                   team, model, (long long)v.number)
                                    : rc;
    json_t *cols = json_array(), *c, *pii = mon_pii_columns(ctx, v.version_id);
    size_t i;
    json_array_foreach(json_object_get(p, "columns"), i, c) {
        stats_column_t *col = NULL;
        if (stats_column_from_json(json_object_get(c, "sketch"), &col, NULL) != 0)
            continue;
        const stats_moments_t *m = stats_column_moments(col);
        int masked = mon_is_pii(pii, json_string_value(json_object_get(c, "name")));
        json_array_append_new(cols, json_pack("{s:O, s:I, s:I, s:o, s:o, s:b}", "name",
                                              json_object_get(c, "name"), "count",
                                              (json_int_t)stats_column_count(col), "missing",
                                              (json_int_t)stats_column_missing(col), "mean",
                                              mon_num(masked ? NAN : m->mean), "std",
                                              mon_num(masked ? NAN
                                                             : sqrt(stats_moments_variance(m, 0))),
                                              "categorical",
                                              json_is_true(json_object_get(c, "categorical"))));
        if (masked)
            json_object_set_new(json_array_get(cols, json_array_size(cols) - 1), "pii",
                                json_true());
        stats_column_free(col);
    }
    json_decref(pii);
    *out = json_pack("{s:s, s:s, s:O, s:o, s:o}", "version",
                     mops_arena_printf(ctx->arena, "%s/%s@%lld", team, model,
                                       (long long)v.number),
                     "source", mops_json_str(p, "source", "csv"), "rows",
                     json_object_get(p, "rows"), "created_at",
                     mops_json_time(at), "columns", cols);
    json_decref(p);
    return 0;
}
