/*
 * meter.c — metering: the serving observer that adds each request, shadow
 * run and batch job to an in-memory accumulator per (team, version,
 * deployment, hour), and the flush that writes them into finops_usage by
 * adding (with the memory, fixed-fee time and storage accrued since the
 * previous flush, and this process's own CPU), run by this module's
 * thread every flush interval and by cost reads.
 *
 * The request thread takes one of STRIPES mutexes for a hash lookup and a
 * few additions; the flush swaps a stripe's table for an empty one under
 * that lock and writes outside it. What a failed flush took is added back,
 * so nothing is counted twice or lost.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"
#include "core/time.h"
#include "data/data.h"
#include "finops/finops_int.h"
#include "registry/registry.h"
#include "serve/serve.h"

/* ------------------------------------------------------- accumulators */

typedef struct acc {
    int64_t team_id, model_id, version_id, deployment_id, hour; /* hour 0: empty slot */
    int64_t requests, errors, predictions, shadow_rows, batch_jobs;
    int64_t cpu_ns, wall_us, bytes_in, bytes_out, deployed_ms;
    double mem_byte_ms, storage_byte_ms;
    int64_t first_primary_ms; /* 0: none */
} acc_t;

#define STRIPES 16

typedef struct stripe {
    pthread_mutex_t lock;
    acc_t *slots;
    size_t cap, used;
} stripe_t;

static stripe_t stripes[STRIPES];

static uint64_t key_hash(int64_t version_id, int64_t deployment_id, int64_t hour)
{
    uint64_t h = (uint64_t)version_id * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)deployment_id * 0xC2B2AE3D27D4EB4Full + (h << 6) + (h >> 2);
    h ^= (uint64_t)hour * 0x165667B19E3779F9ull + (h << 6) + (h >> 2);
    return h ^ (h >> 29);
}

/* The slot of the key in table (cap a power of two), found or claimed. */
static acc_t *slot_of(acc_t *slots, size_t cap, const acc_t *key, int *fresh)
{
    size_t i = key_hash(key->version_id, key->deployment_id, key->hour) & (cap - 1);
    for (;; i = (i + 1) & (cap - 1)) {
        acc_t *a = &slots[i];
        if (!a->hour) {
            *fresh = 1;
            return a;
        }
        if (a->hour == key->hour && a->version_id == key->version_id &&
            a->deployment_id == key->deployment_id && a->team_id == key->team_id &&
            a->model_id == key->model_id) {
            *fresh = 0;
            return a;
        }
    }
}

static void acc_add(acc_t *a, const acc_t *b)
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
    if (b->first_primary_ms && (!a->first_primary_ms || b->first_primary_ms < a->first_primary_ms))
        a->first_primary_ms = b->first_primary_ms;
}

/* Add b into the table of stripe s (its lock held), growing it at half
 * full. */
static void stripe_add(stripe_t *s, const acc_t *b)
{
    if ((s->used + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        acc_t *slots = mops_xcalloc(cap, sizeof *slots);
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i].hour) {
                int fresh;
                *slot_of(slots, cap, &s->slots[i], &fresh) = s->slots[i];
            }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    int fresh;
    acc_t *a = slot_of(s->slots, s->cap, b, &fresh);
    if (fresh) {
        *a = *b;
        s->used++;
    } else {
        acc_add(a, b);
    }
}

static void meter_add(const acc_t *b)
{
    stripe_t *s = &stripes[key_hash(b->version_id, b->deployment_id, b->hour) % STRIPES];
    pthread_mutex_lock(&s->lock);
    stripe_add(s, b);
    pthread_mutex_unlock(&s->lock);
}

/* The serving observer: on the request thread, quick. */
static void observe(const serve_event_t *ev, void *arg)
{
    (void)arg;
    acc_t a = {.team_id = ev->team_id, .version_id = ev->version_id,
               .deployment_id = ev->deployment_id,
               .hour = ev->ts_ms - ev->ts_ms % FINOPS_HOUR_MS, .requests = 1,
               .errors = ev->status != 0, .cpu_ns = ev->cpu_ns, .wall_us = ev->wall_us,
               .bytes_in = ev->bytes_in, .bytes_out = ev->bytes_out};
    if (ev->role == SERVE_ROLE_BATCH) {
        a.requests = 0;
        a.batch_jobs = 1;
    }
    if (ev->status == 0) {
        if (ev->role == SERVE_ROLE_SHADOW)
            a.shadow_rows = (int64_t)ev->n_rows;
        else
            a.predictions = (int64_t)ev->n_rows;
        if (ev->role == SERVE_ROLE_PRIMARY)
            a.first_primary_ms = ev->ts_ms;
    }
    if (a.hour <= 0)
        a.hour = FINOPS_HOUR_MS; /* a clock before 1970 still meters */
    meter_add(&a);
}

/* ------------------------------------------------------------- state */

static struct {
    int running;
    store_t *st;
    const mops_env_t *env;
    finops_options_t opts;
    pthread_t thread;
    pthread_mutex_t wait_lock;
    pthread_cond_t wake;
    int stopping;
    pthread_mutex_t flush_lock; /* one flush at a time; guards what follows */
    char server[128];
    int64_t last_ms;            /* end of what was accrued */
    int64_t last_cpu_ns;        /* the process's CPU at the last flush */
    int64_t ncpu;
    json_t *loaded;             /* serve_models_loaded at the last flush */
    json_t *storage;            /* [{team_id, model_id, deployment_id, bytes}] */
    int64_t storage_ms;         /* when storage was sampled */
    json_t *labels;             /* names learnt, written with the next flush */
    int64_t *models;            /* version id -> model id, pairs, sorted by version */
    size_t nmodels;
} m = {.wait_lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
       .flush_lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t process_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static void label(const char *kind, int64_t id, int64_t team_id, int64_t parent_id,
                  const char *name)
{
    if (!m.labels)
        m.labels = json_array();
    json_array_append_new(m.labels, json_pack("{s:s, s:I, s:I, s:I, s:s}", "kind", kind, "id",
                                              (json_int_t)id, "team_id", (json_int_t)team_id,
                                              "parent", (json_int_t)parent_id, "name", name));
}

/* The model of a version, from a small sorted cache or the registry. */
static int model_of(const mops_ctx_t *ctx, int64_t version_id, int64_t *model_id,
                    mops_err_t *err)
{
    size_t lo = 0, hi = m.nmodels;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m.models[2 * mid] < version_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m.nmodels && m.models[2 * lo] == version_id) {
        *model_id = m.models[2 * lo + 1];
        return 0;
    }
    registry_version_ref_t ref;
    int rc = registry_version_ref_by_id(ctx, version_id, &ref, err);
    if (rc != 0)
        return rc;
    m.models = mops_xrealloc(m.models, (m.nmodels + 1) * 2 * sizeof *m.models);
    memmove(&m.models[2 * lo + 2], &m.models[2 * lo], (m.nmodels - lo) * 2 * sizeof *m.models);
    m.models[2 * lo] = version_id;
    m.models[2 * lo + 1] = ref.m.model_id;
    m.nmodels++;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)ref.number);
    label("team", ref.m.team_id, ref.m.team_id, 0, ref.m.team);
    label("model", ref.m.model_id, ref.m.team_id, 0, ref.m.model);
    label("version", version_id, ref.m.team_id, ref.m.model_id, num);
    *model_id = ref.m.model_id;
    return 0;
}

/* ------------------------------------------------------------- accruals */

/* Spread an amount over the hours of [t0, t1) in proportion to the time
 * in each: fn(acc of that hour, share). */
typedef void (*spread_fn)(acc_t *a, double share, int64_t ms, const void *arg);

static void spread(acc_t key, int64_t t0, int64_t t1, spread_fn fn, const void *arg,
                   acc_t **out, size_t *n)
{
    while (t0 < t1) {
        int64_t hour = t0 - t0 % FINOPS_HOUR_MS, end = hour + FINOPS_HOUR_MS;
        int64_t stop = end < t1 ? end : t1;
        *out = mops_xrealloc(*out, (*n + 1) * sizeof **out);
        acc_t *a = &(*out)[(*n)++];
        *a = key;
        a->hour = hour;
        fn(a, (double)(stop - t0), stop - t0, arg);
        t0 = stop;
    }
}

static void add_mem(acc_t *a, double ms, int64_t ims, const void *arg)
{
    (void)ims;
    a->mem_byte_ms = *(const double *)arg * ms;
}

static void add_storage(acc_t *a, double ms, int64_t ims, const void *arg)
{
    (void)ims;
    a->storage_byte_ms = *(const double *)arg * ms;
}

static void add_deployed(acc_t *a, double ms, int64_t ims, const void *arg)
{
    (void)ms;
    (void)arg;
    a->deployed_ms = ims;
}

static json_int_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* Memory held and deployment time over [t0, t1) from the models loaded at
 * t0 (the previous flush's sample): a model shared by k deployments is
 * charged 1/k to each; one outside any deployment to its version alone. */
static void accrue_loaded(const json_t *loaded, int64_t t0, int64_t t1, acc_t **out, size_t *n)
{
    const json_t *models = json_object_get(loaded, "models");
    const json_t *deps = json_object_get(loaded, "deployments");
    size_t i, k, j;
    json_t *mo, *d, *t;
    json_array_foreach(models, i, mo) {
        int64_t vid = jint(mo, "version_id");
        int users = 0;
        json_array_foreach(deps, k, d) {
            int uses = 0;
            json_array_foreach(json_object_get(d, "targets"), j, t) uses |= jint(t, "version_id") == vid;
            users += uses;
        }
        double bytes = (double)jint(mo, "memory_bytes") / (users ? users : 1);
        acc_t key = {.team_id = jint(mo, "team_id"), .model_id = jint(mo, "model_id"),
                     .version_id = vid};
        if (!users)
            spread(key, t0, t1, add_mem, &bytes, out, n);
        json_array_foreach(deps, k, d) {
            int uses = 0;
            json_array_foreach(json_object_get(d, "targets"), j, t) uses |= jint(t, "version_id") == vid;
            if (uses) {
                key.deployment_id = jint(d, "id");
                spread(key, t0, t1, add_mem, &bytes, out, n);
            }
        }
    }
    json_array_foreach(deps, k, d) {
        acc_t key = {.team_id = jint(d, "team_id"), .model_id = jint(d, "model_id"),
                     .version_id = jint(d, "version_id"), .deployment_id = jint(d, "id")};
        spread(key, t0, t1, add_deployed, NULL, out, n);
    }
}

static void accrue_storage(const json_t *storage, int64_t t0, int64_t t1, acc_t **out, size_t *n)
{
    size_t i;
    json_t *s;
    json_array_foreach(storage, i, s) {
        double bytes = (double)jint(s, "bytes");
        acc_t key = {.team_id = jint(s, "team_id"), .model_id = jint(s, "model_id"),
                     .deployment_id = jint(s, "deployment_id")};
        if (bytes > 0)
            spread(key, t0, t1, add_storage, &bytes, out, n);
    }
}

/* Sizes of artifacts (per model), datasets (per team) and the prediction
 * log (per deployment) from their owners. */
static int sample_storage(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    json_t *reg = NULL, *data = NULL, *logs = NULL;
    int rc = registry_storage(ctx, &reg, err);
    if (rc == 0)
        rc = data_storage(ctx, &data, err);
    if (rc == 0)
        rc = serve_log_storage(ctx, &logs, err);
    if (rc == 0) {
        json_t *all = json_array(), *it;
        size_t i;
        json_array_foreach(json_object_get(reg, "items"), i, it) {
            json_array_append_new(all, json_pack("{s:I, s:I, s:I, s:I}", "team_id",
                                                 jint(it, "team_id"), "model_id",
                                                 jint(it, "model_id"), "deployment_id",
                                                 (json_int_t)0, "bytes", jint(it, "bytes")));
            label("team", jint(it, "team_id"), jint(it, "team_id"), 0,
                  json_string_value(json_object_get(it, "team")));
            label("model", jint(it, "model_id"), jint(it, "team_id"), 0,
                  json_string_value(json_object_get(it, "model")));
        }
        json_array_foreach(json_object_get(data, "items"), i, it) {
            json_array_append_new(all, json_pack("{s:I, s:I, s:I, s:I}", "team_id",
                                                 jint(it, "team_id"), "model_id", (json_int_t)0,
                                                 "deployment_id", (json_int_t)0, "bytes",
                                                 jint(it, "bytes")));
            label("team", jint(it, "team_id"), jint(it, "team_id"), 0,
                  json_string_value(json_object_get(it, "team")));
        }
        json_array_foreach(json_object_get(logs, "items"), i, it)
            json_array_append_new(all, json_pack("{s:I, s:I, s:I, s:I}", "team_id",
                                                 jint(it, "team_id"), "model_id", (json_int_t)0,
                                                 "deployment_id", jint(it, "deployment_id"),
                                                 "bytes", jint(it, "bytes")));
        *out = all;
    }
    json_decref(reg);
    json_decref(data);
    json_decref(logs);
    return rc;
}

/* ------------------------------------------------------------- writing */

static int write_rows(const mops_ctx_t *ctx, acc_t *rows, size_t n, int64_t now,
                      int64_t cpu_delta, int64_t metered, int64_t capacity, mops_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        acc_t *a = &rows[i];
        if (!a->model_id && a->version_id && (rc = model_of(ctx, a->version_id, &a->model_id, err)) != 0) {
            if (rc != MOPS_ENOTFOUND)
                break;
            rc = 0; /* a version gone from the registry: kept under model 0 */
        }
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO finops_usage (team_id, model_id, version_id, deployment_id, "
                        "hour, requests, errors, predictions, shadow_rows, batch_jobs, cpu_ns, "
                        "wall_us, bytes_in, bytes_out, mem_byte_ms, storage_byte_ms, deployed_ms) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (team_id, model_id, version_id, deployment_id, hour) DO "
                        "UPDATE SET requests = finops_usage.requests + excluded.requests, "
                        "errors = finops_usage.errors + excluded.errors, "
                        "predictions = finops_usage.predictions + excluded.predictions, "
                        "shadow_rows = finops_usage.shadow_rows + excluded.shadow_rows, "
                        "batch_jobs = finops_usage.batch_jobs + excluded.batch_jobs, "
                        "cpu_ns = finops_usage.cpu_ns + excluded.cpu_ns, "
                        "wall_us = finops_usage.wall_us + excluded.wall_us, "
                        "bytes_in = finops_usage.bytes_in + excluded.bytes_in, "
                        "bytes_out = finops_usage.bytes_out + excluded.bytes_out, "
                        "mem_byte_ms = finops_usage.mem_byte_ms + excluded.mem_byte_ms, "
                        "storage_byte_ms = finops_usage.storage_byte_ms + "
                        "excluded.storage_byte_ms, "
                        "deployed_ms = finops_usage.deployed_ms + excluded.deployed_ms",
                        "iiiiiiiiiiiiiiddi", a->team_id, a->model_id, a->version_id,
                        a->deployment_id, a->hour, a->requests, a->errors, a->predictions,
                        a->shadow_rows, a->batch_jobs, a->cpu_ns, a->wall_us, a->bytes_in,
                        a->bytes_out, a->mem_byte_ms, a->storage_byte_ms, a->deployed_ms);
        if (rc == 0 && a->first_primary_ms)
            rc = store_exec(ctx->db, NULL, err,
                            "INSERT INTO finops_first_traffic (version_id, team_id, model_id, "
                            "first_ms) VALUES (?, ?, ?, ?) ON CONFLICT (version_id) DO UPDATE "
                            "SET first_ms = excluded.first_ms "
                            "WHERE excluded.first_ms < finops_first_traffic.first_ms",
                            "iiii", a->version_id, a->team_id, a->model_id, a->first_primary_ms);
    }
    int64_t hour = now - now % FINOPS_HOUR_MS;
    if (rc == 0)
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO finops_server_usage (server, hour, process_cpu_ns, "
                        "metered_cpu_ns, capacity_cpu_ns) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (server, hour) DO UPDATE SET "
                        "process_cpu_ns = finops_server_usage.process_cpu_ns + "
                        "excluded.process_cpu_ns, "
                        "metered_cpu_ns = finops_server_usage.metered_cpu_ns + "
                        "excluded.metered_cpu_ns, "
                        "capacity_cpu_ns = finops_server_usage.capacity_cpu_ns + "
                        "excluded.capacity_cpu_ns",
                        "tiiii", m.server, hour, cpu_delta, metered, capacity);
    size_t i;
    json_t *l;
    json_array_foreach(m.labels, i, l) {
        if (rc != 0)
            break;
        rc = finops__label_set(ctx, json_string_value(json_object_get(l, "kind")),
                               jint(l, "id"), jint(l, "team_id"), jint(l, "parent"),
                               json_string_value(json_object_get(l, "name")), err);
    }
    return rc;
}

/* Take every stripe's accumulators (the tables are emptied). */
static acc_t *take_all(size_t *n)
{
    acc_t *rows = NULL;
    *n = 0;
    for (int s = 0; s < STRIPES; s++) {
        stripe_t *st = &stripes[s];
        pthread_mutex_lock(&st->lock);
        acc_t *slots = st->slots;
        size_t cap = st->cap;
        st->slots = NULL;
        st->cap = st->used = 0;
        pthread_mutex_unlock(&st->lock);
        for (size_t i = 0; i < cap; i++)
            if (slots[i].hour) {
                rows = mops_xrealloc(rows, (*n + 1) * sizeof *rows);
                rows[(*n)++] = slots[i];
            }
        free(slots);
    }
    return rows;
}

static int flush_locked(const mops_ctx_t *ctx, mops_err_t *err)
{
    int64_t now = mops_now_ms();
    if (now < m.last_ms)
        now = m.last_ms; /* the clock stepped back: accrue nothing */
    size_t n_taken = 0, n = 0;
    acc_t *taken = take_all(&n_taken), *rows = NULL;
    int64_t metered = 0;
    for (size_t i = 0; i < n_taken; i++)
        metered += taken[i].cpu_ns;
    json_t *loaded = NULL, *storage = NULL;
    int rc = serve_models_loaded(&loaded, err);
    if (rc == MOPS_EUNAVAIL) {
        loaded = json_pack("{s:[], s:[]}", "models", "deployments");
        rc = 0;
    }
    size_t i;
    json_t *d;
    if (rc == 0) {
        json_array_foreach(json_object_get(loaded, "deployments"), i, d)
            label("deployment", jint(d, "id"), jint(d, "team_id"), 0,
                  json_string_value(json_object_get(d, "name")));
        json_array_foreach(json_object_get(loaded, "models"), i, d) {
            char num[24];
            snprintf(num, sizeof num, "%lld", (long long)jint(d, "number"));
            label("team", jint(d, "team_id"), jint(d, "team_id"), 0,
                  json_string_value(json_object_get(d, "team")));
            label("model", jint(d, "model_id"), jint(d, "team_id"), 0,
                  json_string_value(json_object_get(d, "model")));
            label("version", jint(d, "version_id"), jint(d, "team_id"), jint(d, "model_id"), num);
        }
    }
    int resample = !m.storage || now - m.storage_ms >= m.opts.storage_ms;
    if (rc == 0 && resample)
        rc = sample_storage(ctx, &storage, err);
    if (rc == 0) {
        if (m.loaded)
            accrue_loaded(m.loaded, m.last_ms, now, &rows, &n);
        if (m.storage)
            accrue_storage(m.storage, m.last_ms, now, &rows, &n);
        rows = mops_xrealloc(rows, (n + n_taken + 1) * sizeof *rows);
        if (n_taken)
            memcpy(rows + n, taken, n_taken * sizeof *rows);
        n += n_taken;
    }
    int64_t cpu = process_cpu_ns();
    int64_t capacity = m.ncpu * (now - m.last_ms) * 1000000LL;
    if (rc == 0)
        rc = store_begin_append(ctx->db, err);
    if (rc == 0)
        rc = store_end(ctx->db,
                       write_rows(ctx, rows, n, now, cpu - m.last_cpu_ns, metered, capacity, err),
                       err);
    if (rc == 0) {
        m.last_ms = now;
        m.last_cpu_ns = cpu;
        json_decref(m.loaded);
        m.loaded = json_incref(loaded);
        if (storage) {
            json_decref(m.storage);
            m.storage = json_incref(storage);
            m.storage_ms = now;
        }
        json_decref(m.labels);
        m.labels = NULL;
    } else {
        /* Put back what was taken from the requests; the accruals are
         * computed again from the same marks next time. */
        for (i = 0; i < n_taken; i++)
            meter_add(&taken[i]);
    }
    json_decref(loaded);
    json_decref(storage);
    free(rows);
    free(taken);
    return rc;
}

int finops_flush(const mops_ctx_t *ctx, mops_err_t *err)
{
    if (!m.running)
        return mops_err_set(err, MOPS_EUNAVAIL, "metering is not running on this server");
    pthread_mutex_lock(&m.flush_lock);
    int rc = flush_locked(ctx, err);
    pthread_mutex_unlock(&m.flush_lock);
    return rc;
}

/* ------------------------------------------------------------- thread */

static void run_once(void)
{
    mops_err_t err;
    store_conn_t *db;
    if (store_conn_acquire(m.st, &db, &err) != 0) {
        mops_warn("finops: %s", err.msg);
        return;
    }
    mops_arena_t *arena = mops_arena_new();
    mops_ctx_t ctx = {.db = db, .request_id = "finops", .arena = arena, .env = m.env};
    if (finops_flush(&ctx, &err) != 0)
        mops_warn("finops: flushing usage: %s", err.msg);
    else if (finops_budgets_check(&ctx, mops_now_ms(), NULL, &err) != 0)
        mops_warn("finops: checking budgets: %s", err.msg);
    store_conn_release(db);
    mops_arena_free(arena);
}

static void *meter_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m.wait_lock);
    while (!m.stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)m.opts.flush_ms * 1000000LL;
        ts.tv_sec += ns / 1000000000LL;
        ts.tv_nsec = ns % 1000000000LL;
        pthread_cond_timedwait(&m.wake, &m.wait_lock, &ts);
        if (m.stopping)
            break;
        pthread_mutex_unlock(&m.wait_lock);
        run_once();
        pthread_mutex_lock(&m.wait_lock);
    }
    pthread_mutex_unlock(&m.wait_lock);
    return NULL;
}

int finops_start(store_t *st, const mops_env_t *env, const finops_options_t *opts,
                 mops_err_t *err)
{
    if (m.running)
        return mops_err_set(err, MOPS_EINTERNAL, "metering is already running");
    int rc = serve_observer_add(observe, NULL, err);
    if (rc != 0)
        return rc;
    for (int s = 0; s < STRIPES; s++)
        pthread_mutex_init(&stripes[s].lock, NULL);
    m.st = st;
    m.env = env;
    m.opts = *opts;
    if (m.opts.flush_ms < 10)
        m.opts.flush_ms = 10;
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    m.last_ms = mops_now_ms();
    snprintf(m.server, sizeof m.server, "%s:%d:%lld", host, (int)getpid(),
             (long long)m.last_ms);
    /* From zero: the process's CPU before metering started (start-up,
     * migrations) is overhead like any other. */
    m.last_cpu_ns = 0;
    m.ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (m.ncpu < 1)
        m.ncpu = 1;
    m.stopping = 0;
    m.running = 1;
    if (pthread_create(&m.thread, NULL, meter_thread, NULL) != 0) {
        m.running = 0;
        serve_observers_clear();
        return mops_err_set(err, MOPS_EINTERNAL, "cannot start the metering thread");
    }
    return 0;
}

void finops_stop(void)
{
    if (!m.running)
        return;
    pthread_mutex_lock(&m.wait_lock);
    m.stopping = 1;
    pthread_cond_signal(&m.wake);
    pthread_mutex_unlock(&m.wait_lock);
    pthread_join(m.thread, NULL);
    run_once(); /* the last events */
    m.running = 0;
    for (int s = 0; s < STRIPES; s++) {
        free(stripes[s].slots);
        stripes[s].slots = NULL;
        stripes[s].cap = stripes[s].used = 0;
        pthread_mutex_destroy(&stripes[s].lock);
    }
    json_decref(m.loaded);
    json_decref(m.storage);
    json_decref(m.labels);
    free(m.models);
    m.loaded = m.storage = m.labels = NULL;
    m.models = NULL;
    m.nmodels = 0;
}
