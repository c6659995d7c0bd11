/*
 * suite.c — quality suites: a dataset's expectations, in Great
 * Expectations' shape and with its names and meanings, checked when they
 * are set (known type, its arguments with their types and ranges, a regex
 * that compiles) and kept as numbered revisions, so a result always says
 * which suite it answered.
 *
 *   expectation                                  arguments (kwargs)
 *   expect_column_to_exist                       column, column_index?
 *   expect_column_values_to_not_be_null          column, mostly?
 *   expect_column_values_to_be_between           column, min_value?, max_value?,
 *                                                strict_min?, strict_max?, mostly?
 *   expect_column_values_to_be_in_set            column, value_set, mostly?
 *   expect_column_values_to_be_unique            column, mostly?
 *   expect_column_values_to_match_regex          column, regex, mostly?
 *   expect_column_values_to_be_of_type           column, type_, mostly?
 *   expect_table_row_count_to_be_between         min_value?, max_value?, strict_min?, strict_max?
 *   expect_column_mean_to_be_between             column, min_value?, max_value?,
 *                                                strict_min?, strict_max?
 *
 * As in Great Expectations, `mostly` belongs to the column map
 * expectations (the per-value ones) only; result_format and
 * catch_exceptions are accepted and ignored (results are always SUMMARY).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "data/data_int.h"

#define SUITE_MAX 256       /* expectations in a suite */
#define VALUE_SET_MAX 10000 /* members of a value_set */

/* kwargs every expectation accepts and ignores */
#define COMMON {"result_format", MOPS_JSON_ANY, 0}, {"catch_exceptions", MOPS_JSON_BOOL, 0}

static const mops_json_field_t k_exist[] = {
    {"column", MOPS_JSON_STRING, 1}, {"column_index", MOPS_JSON_INT, 0}, COMMON, {NULL, 0, 0}};
static const mops_json_field_t k_map[] = {
    {"column", MOPS_JSON_STRING, 1}, {"mostly", MOPS_JSON_NUMBER, 0}, COMMON, {NULL, 0, 0}};
static const mops_json_field_t k_between[] = {
    {"column", MOPS_JSON_STRING, 1},  {"min_value", MOPS_JSON_ANY, 0},
    {"max_value", MOPS_JSON_ANY, 0},  {"strict_min", MOPS_JSON_BOOL, 0},
    {"strict_max", MOPS_JSON_BOOL, 0}, {"mostly", MOPS_JSON_NUMBER, 0},
    COMMON,                           {NULL, 0, 0}};
static const mops_json_field_t k_set[] = {{"column", MOPS_JSON_STRING, 1},
                                          {"value_set", MOPS_JSON_ARRAY, 1},
                                          {"mostly", MOPS_JSON_NUMBER, 0},
                                          COMMON,
                                          {NULL, 0, 0}};
static const mops_json_field_t k_regex[] = {{"column", MOPS_JSON_STRING, 1},
                                            {"regex", MOPS_JSON_STRING, 1},
                                            {"mostly", MOPS_JSON_NUMBER, 0},
                                            COMMON,
                                            {NULL, 0, 0}};
static const mops_json_field_t k_type[] = {{"column", MOPS_JSON_STRING, 1},
                                           {"type_", MOPS_JSON_STRING, 1},
                                           {"mostly", MOPS_JSON_NUMBER, 0},
                                           COMMON,
                                           {NULL, 0, 0}};
static const mops_json_field_t k_rows[] = {
    {"min_value", MOPS_JSON_ANY, 0},   {"max_value", MOPS_JSON_ANY, 0},
    {"strict_min", MOPS_JSON_BOOL, 0}, {"strict_max", MOPS_JSON_BOOL, 0},
    COMMON,                            {NULL, 0, 0}};
static const mops_json_field_t k_mean[] = {
    {"column", MOPS_JSON_STRING, 1},   {"min_value", MOPS_JSON_ANY, 0},
    {"max_value", MOPS_JSON_ANY, 0},   {"strict_min", MOPS_JSON_BOOL, 0},
    {"strict_max", MOPS_JSON_BOOL, 0}, COMMON,
    {NULL, 0, 0}};

const dt_xdef_t dt_xdefs[] = {
    {"expect_column_to_exist", X_COLUMN_EXISTS, 0, k_exist},
    {"expect_column_values_to_not_be_null", X_NOT_NULL, 1, k_map},
    {"expect_column_values_to_be_between", X_BETWEEN, 1, k_between},
    {"expect_column_values_to_be_in_set", X_IN_SET, 1, k_set},
    {"expect_column_values_to_be_unique", X_UNIQUE, 1, k_map},
    {"expect_column_values_to_match_regex", X_REGEX, 1, k_regex},
    {"expect_column_values_to_be_of_type", X_OF_TYPE, 1, k_type},
    {"expect_table_row_count_to_be_between", X_ROW_COUNT, 0, k_rows},
    {"expect_column_mean_to_be_between", X_MEAN, 0, k_mean},
    {NULL, 0, 0, NULL},
};

const dt_xdef_t *dt_xdef_find(const char *name)
{
    for (const dt_xdef_t *d = dt_xdefs; d->name; d++)
        if (!strcmp(d->name, name))
            return d;
    return NULL;
}

/* Great Expectations' type names (Python, pandas, numpy, SQL) as ours. */
static const struct {
    const char *name;
    stats_kind_t kind;
} type_names[] = {
    {"int", STATS_KIND_INTEGER},       {"integer", STATS_KIND_INTEGER},
    {"int8", STATS_KIND_INTEGER},      {"int16", STATS_KIND_INTEGER},
    {"int32", STATS_KIND_INTEGER},     {"int64", STATS_KIND_INTEGER},
    {"uint8", STATS_KIND_INTEGER},     {"uint16", STATS_KIND_INTEGER},
    {"uint32", STATS_KIND_INTEGER},    {"uint64", STATS_KIND_INTEGER},
    {"long", STATS_KIND_INTEGER},      {"bigint", STATS_KIND_INTEGER},
    {"smallint", STATS_KIND_INTEGER},  {"tinyint", STATS_KIND_INTEGER},
    {"float", STATS_KIND_FLOAT},       {"float16", STATS_KIND_FLOAT},
    {"float32", STATS_KIND_FLOAT},     {"float64", STATS_KIND_FLOAT},
    {"double", STATS_KIND_FLOAT},      {"real", STATS_KIND_FLOAT},
    {"numeric", STATS_KIND_FLOAT},     {"decimal", STATS_KIND_FLOAT},
    {"number", STATS_KIND_FLOAT},      {"bool", STATS_KIND_BOOLEAN},
    {"boolean", STATS_KIND_BOOLEAN},   {"bool_", STATS_KIND_BOOLEAN},
    {"str", STATS_KIND_STRING},        {"string", STATS_KIND_STRING},
    {"object", STATS_KIND_STRING},     {"varchar", STATS_KIND_STRING},
    {"text", STATS_KIND_STRING},       {"char", STATS_KIND_STRING},
    {"timestamp", STATS_KIND_TIMESTAMP}, {"datetime", STATS_KIND_TIMESTAMP},
    {"datetime64", STATS_KIND_TIMESTAMP}, {"datetime64[ns]", STATS_KIND_TIMESTAMP},
    {"date", STATS_KIND_TIMESTAMP},    {"timestamp[ns]", STATS_KIND_TIMESTAMP},
};

int dt_type_name(const char *name, stats_kind_t *kind)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcasecmp(type_names[i].name, name)) {
            *kind = type_names[i].kind;
            return 0;
        }
    return MOPS_EINVAL;
}

/* A bound: a number, a timestamp string, or null / absent. */
static int check_bound(const json_t *v, const char *what, mops_err_t *err)
{
    int64_t ms;
    if (!v || json_is_null(v) || (json_is_number(v) && isfinite(json_number_value(v))))
        return 0;
    const char *s = json_string_value(v);
    if (s && dt_parse_timestamp(s, strlen(s), &ms))
        return 0;
    return mops_err_set(err, MOPS_EINVAL,
                        "%s must be a number, an ISO 8601 timestamp, or null", what);
}

int dt_bound(const json_t *v, double *out)
{
    int64_t ms;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (s && dt_parse_timestamp(s, strlen(s), &ms)) {
        *out = (double)ms;
        return 2;
    }
    return 0;
}

static int check_kwargs(const dt_xdef_t *def, const json_t *kw, const char *what,
                        mops_err_t *err)
{
    char w[120];
    snprintf(w, sizeof w, "the kwargs of %s", what);
    int rc = mops_json_check(kw, w, def->fields, err);
    if (rc != 0)
        return rc;
    const char *col = mops_json_str(kw, "column", NULL);
    if (col && (*col == '\0' || strlen(col) > DATA_COLUMN_NAME_MAX))
        return mops_err_set(err, MOPS_EINVAL, "%s: column must name a column", what);
    json_t *mostly = json_object_get(kw, "mostly");
    if (mostly && !(json_number_value(mostly) >= 0 && json_number_value(mostly) <= 1))
        return mops_err_set(err, MOPS_EINVAL, "%s: mostly must be between 0 and 1", what);
    json_t *idx = json_object_get(kw, "column_index");
    if (idx && json_integer_value(idx) < 0)
        return mops_err_set(err, MOPS_EINVAL, "%s: column_index must be 0 or more", what);
    if (def->kind == X_BETWEEN || def->kind == X_ROW_COUNT || def->kind == X_MEAN) {
        json_t *lo = json_object_get(kw, "min_value"), *hi = json_object_get(kw, "max_value");
        double a, b;
        int ka, kb;
        snprintf(w, sizeof w, "%s: min_value", what);
        if ((rc = check_bound(lo, w, err)) != 0)
            return rc;
        snprintf(w, sizeof w, "%s: max_value", what);
        if ((rc = check_bound(hi, w, err)) != 0)
            return rc;
        ka = dt_bound(lo, &a);
        kb = dt_bound(hi, &b);
        if (!ka && !kb)
            return mops_err_set(err, MOPS_EINVAL,
                                "%s: give min_value, max_value or both (they cannot both be "
                                "null)",
                                what);
        if (ka && kb && ka != kb)
            return mops_err_set(err, MOPS_EINVAL,
                                "%s: min_value and max_value must both be numbers or both "
                                "timestamps",
                                what);
        if (ka && kb && a > b)
            return mops_err_set(err, MOPS_EINVAL, "%s: min_value is above max_value", what);
        if ((def->kind != X_BETWEEN) && (ka == 2 || kb == 2))
            return mops_err_set(err, MOPS_EINVAL, "%s: the bounds must be numbers", what);
    }
    if (def->kind == X_IN_SET) {
        json_t *set = json_object_get(kw, "value_set");
        if (json_array_size(set) > VALUE_SET_MAX)
            return mops_err_set(err, MOPS_EINVAL, "%s: value_set has more than %d members",
                                what, VALUE_SET_MAX);
        size_t i;
        json_t *v;
        json_array_foreach(set, i, v) {
            if (!json_is_string(v) && !json_is_boolean(v) &&
                !(json_is_number(v) && isfinite(json_number_value(v))))
                return mops_err_set(err, MOPS_EINVAL,
                                    "%s: value_set member %zu must be a string, number or "
                                    "boolean",
                                    what, i);
        }
    }
    if (def->kind == X_REGEX) {
        const char *re = mops_json_str(kw, "regex", "");
        int code;
        PCRE2_SIZE off;
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                      &code, &off, NULL);
        if (!c) {
            PCRE2_UCHAR msg[200];
            pcre2_get_error_message(code, msg, sizeof msg);
            return mops_err_set(err, MOPS_EINVAL, "%s: regex does not compile at offset %zu: %s",
                                what, (size_t)off, (const char *)msg);
        }
        pcre2_code_free(c);
    }
    if (def->kind == X_OF_TYPE) {
        stats_kind_t k;
        if (dt_type_name(mops_json_str(kw, "type_", ""), &k) != 0)
            return mops_err_set(err, MOPS_EINVAL,
                                "%s: type_ \"%s\" is not a type mops knows (int, int64, float, "
                                "float64, bool, str, datetime64, ...)",
                                what, mops_text_show(mops_json_str(kw, "type_", "")));
    }
    return 0;
}

static const mops_json_field_t suite_fields[] = {
    {"expectations", MOPS_JSON_ARRAY, 1},
    {"name", MOPS_JSON_STRING, 0},
    {"expectation_suite_name", MOPS_JSON_STRING, 0},
    {"meta", MOPS_JSON_OBJECT, 0},
    {"data_asset_type", MOPS_JSON_ANY, 0},
    {"id", MOPS_JSON_ANY, 0},
    {"notes", MOPS_JSON_ANY, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t expectation_fields[] = {
    {"expectation_type", MOPS_JSON_STRING, 0},
    {"type", MOPS_JSON_STRING, 0},
    {"kwargs", MOPS_JSON_OBJECT, 1},
    {"meta", MOPS_JSON_OBJECT, 0},
    {"id", MOPS_JSON_ANY, 0},
    {"notes", MOPS_JSON_ANY, 0},
    {"rendered_content", MOPS_JSON_ANY, 0},
    {NULL, 0, 0},
};

int dt_suite_check(const json_t *spec, json_t **expectations, mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", suite_fields, err);
    if (rc != 0)
        return rc;
    json_t *list = json_object_get(spec, "expectations");
    if (json_array_size(list) > SUITE_MAX)
        return mops_err_set(err, MOPS_EINVAL, "a suite has at most %d expectations, not %zu",
                            SUITE_MAX, json_array_size(list));
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) {
        char what[64];
        snprintf(what, sizeof what, "expectation %zu", i);
        if (!json_is_object(x)) {
            rc = mops_err_set(err, MOPS_EINVAL, "%s must be an object", what);
            break;
        }
        if ((rc = mops_json_check(x, what, expectation_fields, err)) != 0)
            break;
        const char *type = mops_json_str(x, "expectation_type", mops_json_str(x, "type", NULL));
        if (!type) {
            rc = mops_err_set(err, MOPS_EINVAL, "%s has no \"expectation_type\"", what);
            break;
        }
        const dt_xdef_t *def = dt_xdef_find(type);
        if (!def) {
            rc = mops_err_set(err, MOPS_EINVAL,
                              "%s: \"%s\" is not an expectation mops runs (expect_column_to_exist, "
                              "expect_column_values_to_not_be_null, ..._to_be_between, "
                              "..._to_be_in_set, ..._to_be_unique, ..._to_match_regex, "
                              "..._to_be_of_type, expect_table_row_count_to_be_between, "
                              "expect_column_mean_to_be_between)",
                              what, mops_text_show(type));
            break;
        }
        snprintf(what, sizeof what, "expectation %zu (%s)", i, def->name);
        if ((rc = check_kwargs(def, json_object_get(x, "kwargs"), what, err)) != 0)
            break;
        json_t *meta = json_object_get(x, "meta");
        json_array_append_new(out, json_pack("{s:s, s:O, s:o}", "expectation_type", def->name,
                                             "kwargs", json_object_get(x, "kwargs"), "meta",
                                             meta ? json_incref(meta) : json_object()));
    }
    if (rc != 0) {
        json_decref(out);
        return rc;
    }
    *expectations = out;
    return 0;
}

/* ------------------------------------------------------------ storage */

static int suite_json(const mops_ctx_t *ctx, const dt_dataset_t *d, json_t **out,
                      mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT s.revision, s.expectations, COALESCE(u.name, 'system'), "
                         "s.created_at FROM dataset_suites s JOIN datasets d ON "
                         "d.id = s.dataset_id AND d.suite_revision = s.revision "
                         "LEFT JOIN users u ON u.id = s.created_by WHERE s.dataset_id = ?",
                         "i", d->id);
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW)
        *out = json_pack("{s:s, s:s, s:I, s:o, s:s, s:o}", "team", d->team, "dataset", d->name,
                         "revision", (json_int_t)store_col_int(s, 0), "expectations",
                         json_loads(store_col_text(s, 1), 0, NULL), "created_by",
                         store_col_text(s, 2), "created_at", mops_json_time(store_col_int(s, 3)));
    else if (rc == STORE_DONE)
        *out = json_pack("{s:s, s:s, s:I, s:[], s:n, s:n}", "team", d->team, "dataset", d->name,
                         "revision", (json_int_t)0, "expectations", "created_by", "created_at");
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

int data_suite_get(const mops_ctx_t *ctx, const char *team, const char *name, json_t **out,
                   mops_err_t *err)
{
    dt_dataset_t d;
    int rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_READ, &d, err);
    return rc ? rc : suite_json(ctx, &d, out, err);
}

int data_suite_set(const mops_ctx_t *ctx, const char *team, const char *name,
                   const json_t *spec, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    json_t *list = NULL;
    int rc = dt_dataset_resolve(ctx, team, name, AUTH_DATASET_WRITE, &d, err);
    if (rc != 0 || (rc = dt_suite_check(spec, &list, err)) != 0)
        return rc;
    if (d.archived) {
        json_decref(list);
        return mops_err_set(err, MOPS_EPRECOND, "dataset %s/%s is archived", team, name);
    }
    char *text = mops_json_dump(list);
    int64_t rev = 0, now = mops_now_ms();
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = store_query_int(ctx->db, &rev, err,
                              "UPDATE datasets SET suite_revision = suite_revision + 1, "
                              "updated_at = ? WHERE id = ? RETURNING suite_revision",
                              "ii", now, d.id)) == 0 &&
        (rc = store_exec(ctx->db, NULL, err,
                         "INSERT INTO dataset_suites (dataset_id, revision, expectations, "
                         "created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                         "iitIi", d.id, rev, text, ctx->who ? ctx->who->user_id : 0, now)) == 0) {
        json_t *detail = json_pack("{s:I, s:I}", "revision", (json_int_t)rev, "expectations",
                                   (json_int_t)json_array_size(list));
        rc = audit_record(ctx, "dataset.suite.set", dt_target(ctx, &d, 0), d.team_id, detail,
                          err);
        json_decref(detail);
    }
    free(text);
    json_decref(list);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    return suite_json(ctx, &d, out, err);
}
