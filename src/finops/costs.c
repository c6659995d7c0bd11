/*
 * costs.c — the cost engine (usage rows x the price sheet of their hour,
 * with the servers' overhead and idle capacity allocated by metered CPU),
 * the cost report, its FOCUS export, and governance's cost hooks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/text.h"
#include "core/time.h"
#include "finops/finops_int.h"
#include "registry/registry.h"

const char *const finops__line_names[FC_COUNT] = {
    "cpu", "ram", "gpu", "storage", "egress", "fixed", "overhead", "idle_capacity",
};

#define NS_PER_HOUR 3.6e12

double finops__total(const finops_sum_t *s)
{
    double t = 0;
    for (int i = 0; i < FC_COUNT; i++)
        t += s->cost[i];
    return t;
}

/* ------------------------------------------------------------ engine */

typedef struct hour_sum {
    int64_t hour, metered_usage, process, metered_flushed, capacity;
} hour_sum_t;

static int hour_cmp(const void *a, const void *b)
{
    int64_t x = ((const hour_sum_t *)a)->hour, y = ((const hour_sum_t *)b)->hour;
    return x < y ? -1 : x > y;
}

static hour_sum_t *hour_find(hour_sum_t *h, size_t n, int64_t hour)
{
    hour_sum_t key = {.hour = hour};
    if (!n)
        return NULL;
    return bsearch(&key, h, n, sizeof *h, hour_cmp);
}

/* The hours of the period: metered CPU of every team (from the usage rows)
 * and the servers' own figures. */
static int load_hours(const mops_ctx_t *ctx, int64_t h0, int64_t h1, hour_sum_t **out,
                      size_t *n, mops_err_t *err)
{
    hour_sum_t *h = NULL;
    size_t k = 0;
    store_stmt_t *s = NULL;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT hour, SUM(cpu_ns) FROM finops_usage WHERE hour >= ? AND hour < ? "
                         "GROUP BY hour ORDER BY hour",
                         "ii", h0, h1);
    while (rc >= 0 && (rc = store_step(s, err)) == STORE_ROW) {
        h = mops_xrealloc(h, (k + 1) * sizeof *h);
        h[k++] = (hour_sum_t){.hour = store_col_int(s, 0), .metered_usage = store_col_int(s, 1)};
    }
    store_finalize(s);
    if (rc < 0) {
        free(h);
        return rc;
    }
    rc = store_query(ctx->db, &s, err,
                     "SELECT hour, SUM(process_cpu_ns), SUM(metered_cpu_ns), SUM(capacity_cpu_ns) "
                     "FROM finops_server_usage WHERE hour >= ? AND hour < ? GROUP BY hour",
                     "ii", h0, h1);
    size_t sorted = k;
    while (rc >= 0 && (rc = store_step(s, err)) == STORE_ROW) {
        int64_t hour = store_col_int(s, 0);
        hour_sum_t *x = hour_find(h, sorted, hour);
        if (!x) {
            h = mops_xrealloc(h, (k + 1) * sizeof *h);
            x = &h[k++];
            *x = (hour_sum_t){.hour = hour};
        }
        x->process = store_col_int(s, 1);
        x->metered_flushed = store_col_int(s, 2);
        x->capacity = store_col_int(s, 3);
    }
    store_finalize(s);
    if (rc < 0) {
        free(h);
        return rc;
    }
    if (k)
        qsort(h, k, sizeof *h, hour_cmp);
    *out = h;
    *n = k;
    return 0;
}

static void row_costs(finops_sum_t *r, const finops_prices_t *p, const hour_sum_t *h)
{
    r->cost[FC_CPU] = (double)r->cpu_ns / NS_PER_HOUR * p->cpu;
    r->cost[FC_RAM] = r->mem_byte_ms / FINOPS_GB / FINOPS_HOUR_MS * p->ram;
    r->cost[FC_GPU] = 0; /* the runtime runs on CPUs: no GPU time to meter */
    r->cost[FC_STORAGE] =
        r->storage_byte_ms / FINOPS_GB / (FINOPS_MONTH_HOURS * FINOPS_HOUR_MS) * p->storage;
    r->cost[FC_EGRESS] = (double)r->bytes_out / FINOPS_GB * p->egress;
    r->cost[FC_FIXED] = (double)r->deployed_ms / (FINOPS_MONTH_HOURS * FINOPS_HOUR_MS) * p->fixed;
    r->cost[FC_OVERHEAD] = r->cost[FC_IDLE] = 0;
    if (h && h->metered_usage > 0 && r->cpu_ns > 0) {
        double share = (double)r->cpu_ns / (double)h->metered_usage;
        int64_t over = h->process - h->metered_flushed, idle = h->capacity - h->process;
        r->cost[FC_OVERHEAD] = share * (double)(over > 0 ? over : 0) / NS_PER_HOUR * p->cpu;
        r->cost[FC_IDLE] = share * (double)(idle > 0 ? idle : 0) / NS_PER_HOUR * p->cpu;
    }
}

static void sum_add(finops_sum_t *a, const finops_sum_t *b)
{
    a->requests += b->requests;
    a->errors += b->errors;
    a->predictions += b->predictions;
    a->shadow_rows += b->shadow_rows;
    a->batch_jobs += b->batch_jobs;
    a->cpu_ns += b->cpu_ns;
    a->wall_us += b->wall_us;
    a->bytes_in += b->bytes_in;
    a->bytes_out += b->bytes_out;
    a->deployed_ms += b->deployed_ms;
    a->mem_byte_ms += b->mem_byte_ms;
    a->storage_byte_ms += b->storage_byte_ms;
    for (int i = 0; i < FC_COUNT; i++)
        a->cost[i] += b->cost[i];
    a->idle_deployment += b->idle_deployment;
}

typedef struct groups {
    finops_sum_t *items;
    size_t n;
    json_t *index; /* "team:model:version:deployment" -> position */
} groups_t;

static void group_add(groups_t *g, finops_group_t by, const finops_sum_t *r)
{
    finops_sum_t key = {.team_id = r->team_id};
    if (by == FG_MODEL || by == FG_VERSION)
        key.model_id = r->model_id;
    if (by == FG_VERSION)
        key.version_id = r->version_id;
    if (by == FG_DEPLOYMENT)
        key.deployment_id = r->deployment_id;
    char k[96];
    snprintf(k, sizeof k, "%lld:%lld:%lld:%lld", (long long)key.team_id,
             (long long)key.model_id, (long long)key.version_id, (long long)key.deployment_id);
    json_t *at = json_object_get(g->index, k);
    finops_sum_t *s;
    if (at) {
        s = &g->items[json_integer_value(at)];
    } else {
        g->items = mops_xrealloc(g->items, (g->n + 1) * sizeof *g->items);
        json_object_set_new(g->index, k, json_integer((json_int_t)g->n));
        s = &g->items[g->n++];
        *s = key;
    }
    sum_add(s, r);
}

static void row_read(store_stmt_t *s, finops_sum_t *r)
{
    *r = (finops_sum_t){
        .team_id = store_col_int(s, 0), .model_id = store_col_int(s, 1),
        .version_id = store_col_int(s, 2), .deployment_id = store_col_int(s, 3),
        .requests = store_col_int(s, 5), .errors = store_col_int(s, 6),
        .predictions = store_col_int(s, 7), .shadow_rows = store_col_int(s, 8),
        .batch_jobs = store_col_int(s, 9), .cpu_ns = store_col_int(s, 10),
        .wall_us = store_col_int(s, 11), .bytes_in = store_col_int(s, 12),
        .bytes_out = store_col_int(s, 13), .mem_byte_ms = store_col_double(s, 14),
        .storage_byte_ms = store_col_double(s, 15), .deployed_ms = store_col_int(s, 16)};
}

/* Cost a run of rows of one (deployment, hour): a deployment that served
 * nothing in the hour was idle, and what it held (memory, the fixed fee)
 * is its idle cost. */
static void flush_run(finops_sum_t *run, int64_t *hours, size_t n, const finops_prices_t *p,
                      size_t np, hour_sum_t *h, size_t nh, groups_t *g, finops_group_t by,
                      finops_row_fn each, void *arg)
{
    int64_t requests = 0;
    for (size_t i = 0; i < n; i++)
        requests += run[i].requests + run[i].batch_jobs;
    for (size_t i = 0; i < n; i++) {
        finops_sum_t *r = &run[i];
        row_costs(r, finops__prices_at(p, np, hours[i]), hour_find(h, nh, hours[i]));
        if (r->deployment_id && !requests)
            r->idle_deployment = r->cost[FC_RAM] + r->cost[FC_FIXED];
        group_add(g, by, r);
        if (each)
            each(r, hours[i], arg);
    }
}

int finops__compute(const mops_ctx_t *ctx, finops_group_t by, int64_t from_ms, int64_t to_ms,
                    int64_t only_team, finops_sum_t **out, size_t *n, finops_server_sum_t *server,
                    finops_row_fn each, void *arg, mops_err_t *err)
{
    int64_t h0 = finops__hour_start(from_ms);
    finops_prices_t *p = NULL;
    size_t np = 0, nh = 0;
    hour_sum_t *h = NULL;
    int rc = finops__prices_load(ctx, &p, &np, err);
    if (rc == 0)
        rc = load_hours(ctx, h0, to_ms, &h, &nh, err);
    if (rc != 0) {
        free(p);
        return rc;
    }
    groups_t g = {.index = json_object()};
    store_stmt_t *s = NULL;
    rc = store_query(ctx->db, &s, err,
                     "SELECT team_id, model_id, version_id, deployment_id, hour, requests, "
                     "errors, predictions, shadow_rows, batch_jobs, cpu_ns, wall_us, bytes_in, "
                     "bytes_out, mem_byte_ms, storage_byte_ms, deployed_ms FROM finops_usage "
                     "WHERE hour >= ? AND hour < ? AND (? = 0 OR team_id = ?) "
                     "ORDER BY deployment_id, hour",
                     "iiii", h0, to_ms, only_team, only_team);
    finops_sum_t *run = NULL;
    int64_t *hours = NULL;
    size_t nrun = 0, cap = 0;
    while (rc >= 0 && (rc = store_step(s, err)) == STORE_ROW) {
        finops_sum_t r;
        row_read(s, &r);
        int64_t hour = store_col_int(s, 4);
        if (nrun && (r.deployment_id != run[0].deployment_id || hour != hours[0] ||
                     !r.deployment_id)) {
            flush_run(run, hours, nrun, p, np, h, nh, &g, by, each, arg);
            nrun = 0;
        }
        if (nrun == cap) {
            cap = cap ? cap * 2 : 16;
            run = mops_xrealloc(run, cap * sizeof *run);
            hours = mops_xrealloc(hours, cap * sizeof *hours);
        }
        run[nrun] = r;
        hours[nrun++] = hour;
    }
    store_finalize(s);
    if (rc == 0 && nrun)
        flush_run(run, hours, nrun, p, np, h, nh, &g, by, each, arg);
    if (rc == 0 && server) {
        *server = (finops_server_sum_t){0};
        for (size_t i = 0; i < nh; i++) {
            int64_t over = h[i].process - h[i].metered_flushed, idle = h[i].capacity - h[i].process;
            over = over > 0 ? over : 0;
            idle = idle > 0 ? idle : 0;
            server->process_ns += h[i].process;
            server->metered_ns += h[i].metered_flushed;
            server->capacity_ns += h[i].capacity;
            server->overhead_ns += over;
            server->idle_ns += idle;
            if (h[i].metered_usage <= 0)
                server->unallocated += (double)(over + idle) / NS_PER_HOUR *
                                       finops__prices_at(p, np, h[i].hour)->cpu;
        }
    }
    free(run);
    free(hours);
    free(p);
    free(h);
    json_decref(g.index);
    if (rc < 0) {
        free(g.items);
        return rc;
    }
    *out = g.items;
    *n = g.n;
    return 0;
}

/* ------------------------------------------------------------ report */

static const char *const group_names[] = {"team", "model", "version", "deployment"};

static int parse_group(const char *s, finops_group_t *g, mops_err_t *err)
{
    if (!s || !*s) {
        *g = FG_TEAM;
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, group_names[i])) {
            *g = (finops_group_t)i;
            return 0;
        }
    return mops_err_set(err, MOPS_EINVAL,
                        "group_by \"%s\" must be team, model, version or deployment",
                        mops_text_show(s));
}

/* The caller's view of the query: the team (checked), the period, the
 * grouping. */
static int query_prepare(const mops_ctx_t *ctx, const finops_query_t *q, finops_group_t *g,
                         int64_t *team_id, int64_t *from, int64_t *to, mops_err_t *err)
{
    int rc = 0;
    *team_id = 0;
    if (q->team && (rc = auth_team_resolve(ctx, q->team, team_id, err)) == 0)
        rc = auth_require(ctx, AUTH_COST_READ, *team_id, err);
    if (rc == 0)
        rc = parse_group(q->group_by, g, err);
    if (rc == 0)
        rc = finops__period(q->from, q->to, finops__month_start(mops_now_ms()), from, to, err);
    if (rc == 0) {
        /* Bring this server's usage up to date; other servers flush on
         * their own interval. */
        mops_err_t ferr;
        if (finops_flush(ctx, &ferr) != 0 && ferr.code != MOPS_EUNAVAIL)
            rc = mops_err_set(err, ferr.code, "%s", ferr.msg);
    }
    return rc;
}

static json_t *usage_json(const finops_sum_t *s)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:f, s:f, s:f, s:f}",
                     "requests", (json_int_t)s->requests, "errors", (json_int_t)s->errors,
                     "predictions", (json_int_t)s->predictions, "shadow_rows",
                     (json_int_t)s->shadow_rows, "batch_jobs", (json_int_t)s->batch_jobs,
                     "cpu_seconds", (double)s->cpu_ns / 1e9, "cpu_core_hours",
                     (double)s->cpu_ns / NS_PER_HOUR, "wall_seconds", (double)s->wall_us / 1e6,
                     "bytes_in", (json_int_t)s->bytes_in, "bytes_out", (json_int_t)s->bytes_out,
                     "egress_gb", (double)s->bytes_out / FINOPS_GB, "ram_gb_hours",
                     s->mem_byte_ms / FINOPS_GB / FINOPS_HOUR_MS, "storage_gb_months",
                     s->storage_byte_ms / FINOPS_GB / (FINOPS_MONTH_HOURS * FINOPS_HOUR_MS),
                     "deployment_hours", (double)s->deployed_ms / FINOPS_HOUR_MS);
}

static json_t *cost_json(const finops_sum_t *s)
{
    json_t *o = json_object();
    for (int i = 0; i < FC_COUNT; i++)
        json_object_set_new(o, finops__line_names[i], json_real(s->cost[i]));
    json_object_set_new(o, "total", json_real(finops__total(s)));
    return o;
}

static json_t *ratio(double num, double den)
{
    return den > 0 ? json_real(num / den) : json_null();
}

/* Value of each model group, and of teams as the sum of their models. */
static int add_value(const mops_ctx_t *ctx, finops_group_t g, finops_sum_t *items, size_t n,
                     int64_t team_id, int64_t from, int64_t to, double *values, mops_err_t *err)
{
    int rc = 0;
    if (g == FG_MODEL || g == FG_VERSION) {
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (items[i].model_id)
                rc = finops__value(ctx, items[i].model_id, items[i].version_id,
                                   items[i].predictions, from, to, &values[i], err);
        return rc;
    }
    if (g != FG_TEAM)
        return 0;
    finops_sum_t *models = NULL;
    size_t nm = 0;
    rc = finops__compute(ctx, FG_MODEL, from, to, team_id, &models, &nm, NULL, NULL, NULL, err);
    for (size_t i = 0; rc == 0 && i < nm; i++) {
        double v = 0;
        if (models[i].model_id &&
            (rc = finops__value(ctx, models[i].model_id, 0, models[i].predictions, from, to, &v,
                                err)) == 0)
            for (size_t k = 0; k < n; k++)
                if (items[k].team_id == models[i].team_id)
                    values[k] += v;
    }
    free(models);
    return rc;
}

int finops_costs(const mops_ctx_t *ctx, const finops_query_t *q, json_t **out, mops_err_t *err)
{
    finops_group_t g;
    int64_t team_id, from, to;
    int rc = query_prepare(ctx, q, &g, &team_id, &from, &to, err);
    finops_sum_t *items = NULL;
    size_t n = 0;
    finops_server_sum_t server;
    if (rc == 0)
        rc = finops__compute(ctx, g, from, to, team_id, &items, &n, &server, NULL, NULL, err);
    if (rc != 0)
        return rc;
    double *values = mops_xcalloc(n + 1, sizeof *values);
    rc = add_value(ctx, g, items, n, team_id, from, to, values, err);
    finops_prices_t *p = NULL;
    size_t np = 0;
    if (rc == 0)
        rc = finops__prices_load(ctx, &p, &np, err);
    if (rc != 0) {
        free(items);
        free(values);
        return rc;
    }
    int64_t now = mops_now_ms();
    const finops_prices_t *cur = finops__prices_at(p, np, now - now % FINOPS_HOUR_MS);
    json_t *list = json_array();
    finops_sum_t total = {0};
    double total_value = 0;
    int valued = g != FG_DEPLOYMENT;
    for (size_t i = 0; i < n; i++) {
        finops_sum_t *s = &items[i];
        if (!auth_can(ctx->who, AUTH_COST_READ, s->team_id))
            continue;
        json_t *it = json_pack("{s:s}", "team", finops__label(ctx, "team", s->team_id));
        if (g == FG_MODEL || g == FG_VERSION)
            json_object_set_new(it, "model", s->model_id ? json_string(finops__label(
                                                               ctx, "model", s->model_id))
                                                         : json_null());
        if (g == FG_VERSION)
            json_object_set_new(it, "version",
                                s->version_id ? json_string(finops__label(ctx, "version",
                                                                          s->version_id))
                                              : json_null());
        if (g == FG_DEPLOYMENT)
            json_object_set_new(it, "deployment",
                                s->deployment_id ? json_string(finops__label(ctx, "deployment",
                                                                             s->deployment_id))
                                                 : json_null());
        double cost = finops__total(s);
        json_object_set_new(it, "usage", usage_json(s));
        json_object_set_new(it, "cost", cost_json(s));
        json_object_set_new(it, "idle_deployment_cost", json_real(s->idle_deployment));
        json_object_set_new(it, "cost_per_1k", ratio(cost * 1000, (double)s->predictions));
        json_object_set_new(it, "value", valued ? json_real(values[i]) : json_null());
        json_object_set_new(it, "roi", valued ? ratio(values[i] - cost, cost) : json_null());
        json_array_append_new(list, it);
        sum_add(&total, s);
        total_value += values[i];
    }
    json_t *tot = json_pack("{s:o, s:o, s:f, s:o}", "usage", usage_json(&total), "cost",
                            cost_json(&total), "idle_deployment_cost", total.idle_deployment,
                            "cost_per_1k",
                            ratio(finops__total(&total) * 1000, (double)total.predictions));
    if (valued) {
        json_object_set_new(tot, "value", json_real(total_value));
        json_object_set_new(tot, "roi", ratio(total_value - finops__total(&total),
                                              finops__total(&total)));
    }
    if (!ctx->who || ctx->who->is_admin)
        json_object_set_new(tot, "unallocated", json_real(server.unallocated));
    *out = json_pack(
        "{s:o, s:o, s:s, s:s, s:I, s:o, s:o, s:{s:f, s:f, s:f, s:f, s:f}}", "from",
        mops_json_time(from), "to", mops_json_time(to), "currency", cur->currency, "group_by",
        group_names[g], "price_version", (json_int_t)cur->version, "items", list, "total", tot,
        "server", "process_cpu_seconds", (double)server.process_ns / 1e9, "metered_cpu_seconds",
        (double)server.metered_ns / 1e9, "overhead_cpu_seconds",
        (double)server.overhead_ns / 1e9, "capacity_cpu_seconds",
        (double)server.capacity_ns / 1e9, "idle_cpu_seconds", (double)server.idle_ns / 1e9);
    free(p);
    free(items);
    free(values);
    return 0;
}

/* ------------------------------------------------------------ FOCUS */

typedef struct focus {
    const mops_ctx_t *ctx;
    FILE *f;
    const finops_prices_t *p;
    size_t np;
} focus_t;

static void field(FILE *f, const char *s, int last)
{
    mops_csv_write_field(f, s, strlen(s));
    fputc(last ? '\n' : ',', f);
}

static const char *const focus_units[FC_COUNT] = {
    "core-hours", "GB-hours", "GPU-hours", "GB-months", "GB", "deployment-months",
    "core-hours", "core-hours",
};

static void focus_row(const finops_sum_t *r, int64_t hour, void *arg)
{
    focus_t *fo = arg;
    if (!auth_can(fo->ctx->who, AUTH_COST_READ, r->team_id))
        return;
    const mops_ctx_t *ctx = fo->ctx;
    const finops_prices_t *p = finops__prices_at(fo->p, fo->np, hour);
    double qty[FC_COUNT] = {
        (double)r->cpu_ns / NS_PER_HOUR,
        r->mem_byte_ms / FINOPS_GB / FINOPS_HOUR_MS,
        0,
        r->storage_byte_ms / FINOPS_GB / (FINOPS_MONTH_HOURS * FINOPS_HOUR_MS),
        (double)r->bytes_out / FINOPS_GB,
        (double)r->deployed_ms / (FINOPS_MONTH_HOURS * FINOPS_HOUR_MS),
        p->cpu > 0 ? r->cost[FC_OVERHEAD] / p->cpu : 0,
        p->cpu > 0 ? r->cost[FC_IDLE] / p->cpu : 0,
    };
    char start[32], end[32], num[4][48];
    mops_time_format(hour, start, sizeof start);
    mops_time_format(hour + FINOPS_HOUR_MS, end, sizeof end);
    const char *team = finops__label(ctx, "team", r->team_id);
    const char *model = r->model_id ? finops__label(ctx, "model", r->model_id) : "";
    const char *version = r->version_id ? finops__label(ctx, "version", r->version_id) : "";
    const char *dep = r->deployment_id ? finops__label(ctx, "deployment", r->deployment_id) : "";
    char *rid = r->deployment_id
                    ? mops_arena_printf(ctx->arena, "mops:deployment/%lld:version/%lld",
                                        (long long)r->deployment_id, (long long)r->version_id)
                : r->version_id ? mops_arena_printf(ctx->arena, "mops:version/%lld",
                                                    (long long)r->version_id)
                : r->model_id   ? mops_arena_printf(ctx->arena, "mops:model/%lld",
                                                    (long long)r->model_id)
                                : mops_arena_printf(ctx->arena, "mops:team/%lld",
                                                    (long long)r->team_id);
    const char *name = *dep         ? dep
                       : *version   ? mops_arena_printf(ctx->arena, "%s/%s@%s", team, model,
                                                        version)
                       : *model     ? mops_arena_printf(ctx->arena, "%s/%s", team, model)
                                    : team;
    json_t *tags = json_pack("{s:s}", "team", team);
    if (*model)
        json_object_set_new(tags, "model", json_string(model));
    if (*version)
        json_object_set_new(tags, "version", json_string(version));
    if (*dep)
        json_object_set_new(tags, "deployment", json_string(dep));
    char *tag_text = mops_json_dump(tags);
    json_decref(tags);
    for (int i = 0; i < FC_COUNT; i++) {
        if (r->cost[i] == 0 && qty[i] == 0)
            continue;
        snprintf(num[0], sizeof num[0], "%.10f", r->cost[i]);
        snprintf(num[1], sizeof num[1], "%.10g", qty[i]);
        snprintf(num[2], sizeof num[2], "%.10g",
                 qty[i] > 0 ? r->cost[i] / qty[i] : 0.0);
        int shared = i == FC_OVERHEAD || i == FC_IDLE;
        field(fo->f, "mops", 0);                             /* ProviderName */
        field(fo->f, team, 0);                               /* SubAccountName */
        field(fo->f, start, 0);                              /* ChargePeriodStart */
        field(fo->f, end, 0);                                /* ChargePeriodEnd */
        field(fo->f, shared ? "Adjustment" : "Usage", 0);    /* ChargeCategory */
        field(fo->f, finops__line_names[i], 0);              /* ChargeDescription */
        field(fo->f, num[0], 0);                             /* BilledCost */
        field(fo->f, num[0], 0);                             /* EffectiveCost */
        field(fo->f, num[0], 0);                             /* ListCost */
        field(fo->f, num[2], 0);                             /* ListUnitPrice */
        field(fo->f, p->currency, 0);                        /* BillingCurrency */
        field(fo->f, num[1], 0);                             /* ConsumedQuantity */
        field(fo->f, focus_units[i], 0);                     /* ConsumedUnit */
        field(fo->f, rid, 0);                                /* ResourceId */
        field(fo->f, name, 0);                               /* ResourceName */
        field(fo->f, r->deployment_id ? "deployment" : r->model_id ? "model" : "team",
              0);                                            /* ResourceType */
        field(fo->f, "mops model serving", 0);               /* ServiceName */
        field(fo->f, "AI and Machine Learning", 0);          /* ServiceCategory */
        field(fo->f, tag_text, 1);                           /* Tags */
    }
    free(tag_text);
}

int finops_costs_focus(const mops_ctx_t *ctx, const finops_query_t *q, char **csv, size_t *len,
                       mops_err_t *err)
{
    finops_group_t g;
    int64_t team_id, from, to;
    int rc = query_prepare(ctx, q, &g, &team_id, &from, &to, err);
    focus_t fo = {.ctx = ctx};
    if (rc == 0)
        rc = finops__prices_load(ctx, (finops_prices_t **)&fo.p, &fo.np, err);
    if (rc != 0)
        return rc;
    char *buf = NULL;
    size_t size = 0;
    fo.f = open_memstream(&buf, &size);
    fputs("ProviderName,SubAccountName,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
          "ChargeDescription,BilledCost,EffectiveCost,ListCost,ListUnitPrice,BillingCurrency,"
          "ConsumedQuantity,ConsumedUnit,ResourceId,ResourceName,ResourceType,ServiceName,"
          "ServiceCategory,Tags\n",
          fo.f);
    finops_sum_t *items = NULL;
    size_t n = 0;
    rc = finops__compute(ctx, FG_VERSION, from, to, team_id, &items, &n, NULL, focus_row, &fo,
                         err);
    fclose(fo.f);
    free(items);
    free((void *)fo.p);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *csv = buf;
    *len = size;
    return 0;
}

/* ------------------------------------------------------------ governance */

/* The currency of the price sheet in effect now. */
static int currency_now(const mops_ctx_t *ctx, char cur[4], mops_err_t *err)
{
    finops_prices_t *p;
    size_t n;
    int rc = finops__prices_load(ctx, &p, &n, err);
    if (rc == 0) {
        int64_t now = mops_now_ms();
        memcpy(cur, finops__prices_at(p, n, now - now % FINOPS_HOUR_MS)->currency, 4);
        free(p);
    }
    return rc;
}

int finops_governance_cost_per_1k(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                                  mops_err_t *err)
{
    int64_t to = mops_now_ms(), from = to - 30LL * 24 * FINOPS_HOUR_MS;
    finops_sum_t *items = NULL;
    size_t n = 0;
    char cur[4];
    int rc = currency_now(ctx, cur, err);
    if (rc == 0)
        rc = finops__compute(ctx, FG_VERSION, from, to, 0, &items, &n, NULL, NULL, NULL, err);
    if (rc != 0)
        return rc;
    finops_sum_t v = {0};
    for (size_t i = 0; i < n; i++)
        if (items[i].version_id == version_id)
            sum_add(&v, &items[i]);
    free(items);
    *out = json_pack("{s:o, s:s, s:I, s:o, s:o}", "cost_per_1k",
                     ratio(finops__total(&v) * 1000, (double)v.predictions), "currency", cur,
                     "predictions", (json_int_t)v.predictions, "from", mops_json_time(from), "to",
                     mops_json_time(to));
    return 0;
}

int finops_governance_predictions(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms,
                                  int64_t to_ms, json_t **out, mops_err_t *err)
{
    int64_t h0 = finops__hour_start(from_ms);
    int64_t n = 0;
    int rc = store_query_int(ctx->db, &n, err,
                             "SELECT COALESCE(SUM(predictions), 0) FROM finops_usage WHERE "
                             "version_id = ? AND hour >= ? AND hour < ?",
                             "iii", version_id, h0, to_ms);
    if (rc == 0)
        *out = json_pack("{s:I, s:s}", "predictions", (json_int_t)n, "source",
                         "FinOps usage: every answered row and batch-scored row, by the hour");
    return rc;
}

int finops_lineage_predictions(const mops_ctx_t *ctx, const char *team, const char *model,
                               int64_t version, const char *deployment, int64_t *n,
                               mops_err_t *err)
{
    char ref[24];
    snprintf(ref, sizeof ref, "%lld", (long long)version);
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc == 0)
        rc = store_query_int(ctx->db, n, err,
                             "SELECT COALESCE(SUM(u.predictions), 0) FROM finops_usage u JOIN "
                             "finops_labels l ON l.kind = 'deployment' AND l.id = "
                             "u.deployment_id WHERE u.version_id = ? AND l.team_id = ? AND "
                             "l.name = ?",
                             "iit", v.version_id, v.m.team_id, deployment);
    return rc;
}

int finops_governance_cost(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms,
                           int64_t to_ms, json_t **out, mops_err_t *err)
{
    finops_sum_t *items = NULL;
    size_t n = 0;
    char cur[4];
    int rc = currency_now(ctx, cur, err);
    if (rc == 0)
        rc = finops__compute(ctx, FG_VERSION, from_ms, to_ms, 0, &items, &n, NULL, NULL, NULL,
                             err);
    if (rc != 0)
        return rc;
    finops_sum_t v = {0};
    for (size_t i = 0; i < n; i++)
        if (items[i].version_id == version_id) {
            sum_add(&v, &items[i]);
            v.model_id = items[i].model_id;
        }
    free(items);
    double value = 0;
    if (v.model_id &&
        (rc = finops__value(ctx, v.model_id, version_id, v.predictions, from_ms, to_ms, &value,
                            err)) != 0)
        return rc;
    *out = json_pack("{s:f, s:f, s:s, s:I}", "cost", finops__total(&v), "value", value,
                     "currency", cur, "predictions", (json_int_t)v.predictions);
    return 0;
}
