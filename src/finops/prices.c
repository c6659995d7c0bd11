/*
 * prices.c — the price sheet: a built-in default (OpenCost's published
 * defaults) and versions written by FinOps, each applying to usage hours
 * from its effective time on. Also the names metered objects are shown by,
 * and the period helpers every report shares.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "core/text.h"
#include "core/time.h"
#include "finops/finops_int.h"

/* OpenCost's defaults (configs/default.json): CPU 0.031611 per core-hour,
 * RAM 0.004237 per GB-hour, GPU 0.95 per hour, storage 0.00005479452 per
 * GB-hour (0.04 per GB-month), internet egress 0.12 per GB. OpenCost has
 * no fixed fee per workload: 0 until FinOps sets one. */
static const finops_prices_t default_prices = {
    .version = 0, .effective_from = 0, .cpu = 0.031611, .ram = 0.004237, .storage = 0.04,
    .gpu = 0.95, .egress = 0.12, .fixed = 0, .currency = "USD",
};

static const struct {
    const char *key;
    size_t off;
} price_keys[] = {
    {"cpu_core_hour", offsetof(finops_prices_t, cpu)},
    {"ram_gb_hour", offsetof(finops_prices_t, ram)},
    {"storage_gb_month", offsetof(finops_prices_t, storage)},
    {"gpu_hour", offsetof(finops_prices_t, gpu)},
    {"egress_gb", offsetof(finops_prices_t, egress)},
    {"deployment_month", offsetof(finops_prices_t, fixed)},
};
#define NKEYS (sizeof price_keys / sizeof price_keys[0])

static double *price_field(finops_prices_t *p, size_t k)
{
    return (double *)((char *)p + price_keys[k].off);
}

static json_t *prices_json(const finops_prices_t *p)
{
    json_t *o = json_object();
    for (size_t k = 0; k < NKEYS; k++)
        json_object_set_new(o, price_keys[k].key,
                            json_real(*price_field((finops_prices_t *)p, k)));
    return o;
}

int finops__prices_load(const mops_ctx_t *ctx, finops_prices_t **out, size_t *n,
                        mops_err_t *err)
{
    store_stmt_t *s = NULL;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT version, prices, currency, effective_from FROM finops_prices "
                         "ORDER BY effective_from, version",
                         NULL);
    if (rc != 0)
        return rc;
    finops_prices_t *p = mops_xmalloc(sizeof *p);
    size_t k = 1;
    p[0] = default_prices;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        p = mops_xrealloc(p, (k + 1) * sizeof *p);
        finops_prices_t *v = &p[k++];
        *v = default_prices;
        v->version = store_col_int(s, 0);
        snprintf(v->currency, sizeof v->currency, "%s", store_col_text(s, 2));
        v->effective_from = store_col_int(s, 3);
        json_t *doc = json_loads(store_col_text(s, 1), 0, NULL);
        for (size_t j = 0; j < NKEYS; j++) {
            json_t *x = json_object_get(doc, price_keys[j].key);
            if (json_is_number(x))
                *price_field(v, j) = json_number_value(x);
        }
        json_decref(doc);
    }
    store_finalize(s);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    *n = k;
    return 0;
}

const finops_prices_t *finops__prices_at(const finops_prices_t *p, size_t n, int64_t hour_ms)
{
    const finops_prices_t *best = &p[0];
    for (size_t i = 1; i < n; i++)
        if (p[i].effective_from <= hour_ms)
            best = &p[i]; /* sorted: the last that started wins */
    return best;
}

/* The sheet's JSON: its prices and who wrote it. */
static int sheet_json(const mops_ctx_t *ctx, const finops_prices_t *p, json_t **out,
                      mops_err_t *err)
{
    json_t *o = json_pack("{s:I, s:s, s:o, s:o}", "version", (json_int_t)p->version, "currency",
                          p->currency, "prices", prices_json(p), "effective_from",
                          mops_json_time(p->effective_from));
    if (p->version == 0) {
        json_object_set_new(o, "note", json_string("built-in default (OpenCost's defaults)"));
        json_object_set_new(o, "created_by", json_null());
        json_object_set_new(o, "created_at", json_null());
        *out = o;
        return 0;
    }
    store_stmt_t *s = NULL;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT p.note, u.name, p.created_at FROM finops_prices p "
                         "LEFT JOIN users u ON u.id = p.created_by WHERE p.version = ?",
                         "i", p->version);
    if (rc == 0 && (rc = store_step(s, err)) == STORE_ROW) {
        json_object_set_new(o, "note", json_string(store_col_text(s, 0)));
        json_object_set_new(o, "created_by", store_col_is_null(s, 1)
                                                 ? json_null()
                                                 : json_string(store_col_text(s, 1)));
        json_object_set_new(o, "created_at", mops_json_time(store_col_int(s, 2)));
        rc = 0;
    }
    store_finalize(s);
    if (rc != 0) {
        json_decref(o);
        return rc < 0 ? rc : mops_err_set(err, MOPS_EINTERNAL, "price sheet vanished");
    }
    *out = o;
    return 0;
}

int finops_prices_get(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    finops_prices_t *p;
    size_t n;
    int rc = finops__prices_load(ctx, &p, &n, err);
    if (rc != 0)
        return rc;
    json_t *sheet = NULL, *versions = json_array();
    int64_t now = mops_now_ms();
    rc = sheet_json(ctx, finops__prices_at(p, n, now - now % FINOPS_HOUR_MS), &sheet, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *v = NULL;
        if ((rc = sheet_json(ctx, &p[i], &v, err)) == 0)
            json_array_append_new(versions, v);
    }
    free(p);
    if (rc != 0) {
        json_decref(sheet);
        json_decref(versions);
        return rc;
    }
    json_object_set_new(sheet, "versions", versions);
    *out = sheet;
    return 0;
}

static const mops_json_field_t set_fields[] = {
    {"prices", MOPS_JSON_OBJECT, 1},
    {"currency", MOPS_JSON_STRING, 0},
    {"note", MOPS_JSON_STRING, 0},
    {"effective_from", MOPS_JSON_STRING, 0},
    {NULL, 0, 0},
};

int finops_prices_set(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err)
{
    int rc = auth_require(ctx, AUTH_PRICE_WRITE, 0, err);
    if (rc == 0)
        rc = mops_json_check(spec, "request body", set_fields, err);
    if (rc != 0)
        return rc;
    const json_t *prices = json_object_get(spec, "prices");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)prices, key, v) {
        size_t k = 0;
        while (k < NKEYS && strcmp(price_keys[k].key, key))
            k++;
        if (k == NKEYS)
            return mops_err_set(err, MOPS_EINVAL,
                                "prices: unknown price \"%s\" (prices: cpu_core_hour, "
                                "ram_gb_hour, storage_gb_month, gpu_hour, egress_gb, "
                                "deployment_month)",
                                mops_text_show(key));
        if (!json_is_number(v) || json_number_value(v) < 0 || !isfinite(json_number_value(v)))
            return mops_err_set(err, MOPS_EINVAL, "prices.%s must be a number >= 0", key);
    }
    const char *currency = mops_json_str(spec, "currency", NULL);
    if (currency && (strlen(currency) != 3 || strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
        return mops_err_set(err, MOPS_EINVAL,
                            "currency \"%s\" must be an ISO 4217 code such as USD",
                            mops_text_show(currency));
    const char *note = mops_json_str(spec, "note", "");
    if ((rc = mops_text_check("note", note, 1000, err)) != 0)
        return rc;
    int64_t now = mops_now_ms(), from = now;
    const char *ef = mops_json_str(spec, "effective_from", NULL);
    if (ef && mops_time_parse(ef, &from) != 0)
        return mops_err_set(err, MOPS_EINVAL,
                            "effective_from \"%s\" must be an RFC 3339 time", mops_text_show(ef));
    from = finops__hour_start(from);
    finops_prices_t *p;
    size_t n;
    if ((rc = finops__prices_load(ctx, &p, &n, err)) != 0)
        return rc;
    /* Unnamed prices keep the values of the version in effect then. */
    finops_prices_t next = *finops__prices_at(p, n, from);
    int64_t version = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i].version > version)
            version = p[i].version;
    free(p);
    next.version = version + 1;
    next.effective_from = from;
    if (currency)
        snprintf(next.currency, sizeof next.currency, "%s", currency);
    json_object_foreach((json_t *)prices, key, v) {
        for (size_t k = 0; k < NKEYS; k++)
            if (!strcmp(price_keys[k].key, key))
                *price_field(&next, k) = json_number_value(v);
    }
    json_t *doc = prices_json(&next);
    char *text = mops_json_dump(doc);
    if ((rc = store_begin(ctx->db, err)) == 0) {
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO finops_prices (version, prices, currency, note, "
                        "effective_from, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        "itttiIi", next.version, text, next.currency, note, from,
                        ctx->who ? ctx->who->user_id : 0, now);
        if (rc == 0) {
            json_t *detail = json_pack("{s:I, s:O, s:s}", "version", (json_int_t)next.version,
                                       "prices", doc, "currency", next.currency);
            rc = audit_record(ctx, "prices.set", "prices", 0, detail, err);
            json_decref(detail);
        }
        rc = store_end(ctx->db, rc, err);
    }
    free(text);
    json_decref(doc);
    if (rc == MOPS_ECONFLICT)
        return mops_err_set(err, MOPS_ECONFLICT, "the price sheet changed meanwhile; try again");
    return rc == 0 ? sheet_json(ctx, &next, out, err) : rc;
}

/* ------------------------------------------------------------ labels */

int finops__label_set(const mops_ctx_t *ctx, const char *kind, int64_t id, int64_t team_id,
                      int64_t parent_id, const char *name, mops_err_t *err)
{
    return store_exec(ctx->db, NULL, err,
                      "INSERT INTO finops_labels (kind, id, team_id, parent_id, name) "
                      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET "
                      "name = excluded.name",
                      "tiiit", kind, id, team_id, parent_id, name ? name : "");
}

const char *finops__label(const mops_ctx_t *ctx, const char *kind, int64_t id)
{
    store_stmt_t *s = NULL;
    mops_err_t err;
    const char *out = NULL;
    if (store_query(ctx->db, &s, &err, "SELECT name FROM finops_labels WHERE kind = ? AND id = ?",
                    "ti", kind, id) == 0) {
        if (store_step(s, &err) == STORE_ROW)
            out = mops_arena_strdup(ctx->arena, store_col_text(s, 0));
        store_finalize(s);
    }
    return out ? out : mops_arena_printf(ctx->arena, "#%lld", (long long)id);
}

/* ------------------------------------------------------------ periods */

int64_t finops__hour_start(int64_t ms)
{
    return ms - ((ms % FINOPS_HOUR_MS) + FINOPS_HOUR_MS) % FINOPS_HOUR_MS;
}

int64_t finops__month_start(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return (int64_t)timegm(&tm) * 1000;
}

int64_t finops__month_next(int64_t month_start)
{
    time_t t = (time_t)(month_start / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mon += 1;
    return (int64_t)timegm(&tm) * 1000;
}

int finops__period(const char *from, const char *to, int64_t dflt_from, int64_t *from_ms,
                   int64_t *to_ms, mops_err_t *err)
{
    int64_t f = dflt_from, t = mops_now_ms();
    if (from && *from && mops_time_parse(from, &f) != 0)
        return mops_err_set(err, MOPS_EINVAL, "from \"%s\" must be an RFC 3339 time",
                            mops_text_show(from));
    if (to && *to && mops_time_parse(to, &t) != 0)
        return mops_err_set(err, MOPS_EINVAL, "to \"%s\" must be an RFC 3339 time",
                            mops_text_show(to));
    if (t <= f)
        return mops_err_set(err, MOPS_EINVAL, "the period is empty: to must be after from");
    *from_ms = f;
    *to_ms = t;
    return 0;
}
