/*
 * agg.c — the serving aggregator: the observer that folds every inference
 * request into its deployment and version's current hourly window, the
 * window's JSON form (merged exactly with the stored one), the thread that
 * writes windows out and evaluates alert rules, and the serving families
 * of GET /metrics (process-lifetime counters, as Prometheus wants).
 *
 * Concurrency (the fold must cost serving little, docs/performance.md):
 * slots (one per deployment and version seen) live in a fixed
 * open-addressing table that request threads read without a lock (slots
 * are only added, under the write lock, until mon_agg_reset), and each
 * thread keeps the last slot it used. A slot has STRIPES stripes, each with
 * its own mutex, window and counters; a thread always folds into the same
 * stripe, so request threads do not share a lock or a cache line. A
 * request's feature values are copied into its window's pending rows and
 * folded column by column a block at a time (each feature's sketches are
 * touched once per block, not once per row). The writer takes the windows
 * away stripe by stripe, folds what is pending and merges the stripes of a
 * slot into one window before writing it.
 */
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "monitor/monitor_int.h"
#include "serve/serve.h"
#include "stats/stats.h"

#define SLOTS_MAX 4096 /* deployment-version pairs one process tracks */
#define FEATURES_MAX 4096
#define STRIPES 8           /* per slot: more request threads than this share */
#define PEND_ROWS 64        /* rows a window buffers before folding them */
#define PEND_BYTES 32768    /* ... in at most this many bytes (wide rows fold directly) */
#define FOLD_ROWS 256       /* rows folded per column pass */

/* Prometheus latency buckets, seconds. */
static const double lat_le[MON_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};

/* ------------------------------------------------------------ windows */

static void feat_init(mon_feat_t *f)
{
    f->missing = 0;
    stats_moments_init(&f->mom);
    f->kll = stats_kll_new(STATS_KLL_K);
}

mon_acc_t *mon_acc_new(int64_t deployment_id, int64_t version_id, int64_t team_id,
                       int64_t start_ms)
{
    mon_acc_t *a = mops_xcalloc(1, sizeof *a);
    a->deployment_id = deployment_id;
    a->version_id = version_id;
    a->team_id = team_id;
    a->start_ms = start_ms;
    a->lat = stats_kll_new(STATS_KLL_K);
    return a;
}

/* Give a window its features and outputs (once: the first answered
 * request's shape). */
static void acc_shape(mon_acc_t *a, size_t n_in, size_t n_out)
{
    if (a->in || n_in > FEATURES_MAX || n_out > FEATURES_MAX)
        return;
    a->n_in = n_in;
    a->n_out = n_out;
    a->in = mops_xcalloc(n_in + 1, sizeof *a->in);
    a->out = mops_xcalloc(n_out + 1, sizeof *a->out);
    for (size_t i = 0; i < n_in; i++)
        feat_init(&a->in[i]);
    for (size_t i = 0; i < n_out; i++)
        feat_init(&a->out[i]);
}

void mon_acc_free(mon_acc_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_in; i++) {
        stats_kll_free(a->in[i].kll);
        stats_topk_free(a->in[i].top);
    }
    for (size_t i = 0; i < a->n_out; i++) {
        stats_kll_free(a->out[i].kll);
        stats_topk_free(a->out[i].top);
    }
    free(a->in);
    free(a->out);
    free(a->pend);
    stats_kll_free(a->lat);
    free(a);
}

void mon_topk_add_number(stats_topk_t *t, double x)
{
    char text[24];
    int len = snprintf(text, sizeof text, "%lld", (long long)x);
    stats_topk_add(t, text, (size_t)len, stats_hash_number(x));
}

/* Fold n values of one feature, stride apart from p (at most FOLD_ROWS):
 * the block's moments are computed in two passes and merged (Chan et al.,
 * one division per block instead of one per value), its values appended
 * to the KLL sketch in bulk. */
static void feat_fold(mon_feat_t *f, const double *p, size_t stride, size_t n)
{
    double v[FOLD_ROWS];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = p[i * stride];
        if (isfinite(x))
            v[m++] = x;
    }
    f->missing += n - m;
    if (m == 0)
        return;
    double sum = 0, lo = v[0], hi = v[0];
    for (size_t i = 0; i < m; i++) {
        sum += v[i];
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    double mean = sum / (double)m, m2 = 0;
    for (size_t i = 0; i < m; i++)
        m2 += (v[i] - mean) * (v[i] - mean);
    if (isfinite(mean) && isfinite(m2)) {
        stats_moments_t b = {.n = m, .mean = mean, .m2 = m2, .min = lo, .max = hi};
        stats_moments_merge(&f->mom, &b);
    } else {
        for (size_t i = 0; i < m; i++) /* sums beyond double's range */
            stats_moments_add(&f->mom, v[i]);
    }
    stats_kll_add_many(f->kll, v, m);
    /* Codes of categorical features: whole numbers only, so continuous
     * features pay one comparison. */
    for (size_t i = 0; i < m; i++) {
        if (mon_whole(v[i])) {
            if (!f->top)
                f->top = stats_topk_new(MON_TOPK_K);
            mon_topk_add_number(f->top, v[i]);
        }
    }
}

/* Fold n rows: inputs x (xs apart), outputs y (ys apart). */
static void acc_fold(mon_acc_t *a, const double *x, size_t xs, const double *y, size_t ys,
                     size_t n)
{
    for (size_t r = 0; r < n; r += FOLD_ROWS) {
        size_t k = n - r < FOLD_ROWS ? n - r : FOLD_ROWS;
        for (size_t f = 0; f < a->n_in; f++)
            feat_fold(&a->in[f], x + r * xs + f, xs, k);
        for (size_t f = 0; f < a->n_out; f++)
            feat_fold(&a->out[f], y + r * ys + f, ys, k);
    }
}

/* Fold the pending rows. */
static void acc_settle(mon_acc_t *a)
{
    if (a->n_pend == 0)
        return;
    size_t w = a->n_in + a->n_out;
    acc_fold(a, a->pend, w, a->pend + a->n_in, w, a->n_pend);
    a->n_pend = 0;
}

/* Take n rows of a request (of the window's shape): copied into the
 * pending rows, folded when they are full; a request of more rows than
 * they hold is folded directly. */
static void acc_rows(mon_acc_t *a, const double *x, const double *y, size_t n)
{
    size_t w = a->n_in + a->n_out;
    if (w == 0)
        return;
    if (!a->pend_cap) {
        size_t cap = PEND_BYTES / (w * sizeof(double));
        a->pend_cap = cap > PEND_ROWS ? PEND_ROWS : cap > 1 ? (uint32_t)cap : 1;
        if (a->pend_cap > 1)
            a->pend = mops_xmalloc(a->pend_cap * w * sizeof(double));
    }
    if (n > a->pend_cap - a->n_pend) {
        acc_settle(a);
        if (n >= a->pend_cap) {
            acc_fold(a, x, a->n_in, y, a->n_out, n);
            return;
        }
    }
    for (size_t r = 0; r < n; r++) {
        double *row = a->pend + (a->n_pend + r) * w;
        memcpy(row, x + r * a->n_in, a->n_in * sizeof(double));
        memcpy(row + a->n_in, y + r * a->n_out, a->n_out * sizeof(double));
    }
    a->n_pend += (uint32_t)n;
    if (a->n_pend == a->pend_cap)
        acc_settle(a);
}

static json_t *feat_json(const mon_feat_t *f)
{
    json_t *j = json_pack("{s:I, s:o, s:o}", "missing", (json_int_t)f->missing, "moments",
                          stats_moments_to_json(&f->mom), "kll", stats_kll_to_json(f->kll));
    if (f->top)
        json_object_set_new(j, "topk", stats_topk_to_json(f->top));
    return j;
}

static int feat_from_json(const json_t *j, mon_feat_t *f, mops_err_t *err)
{
    f->missing = (uint64_t)json_integer_value(json_object_get(j, "missing"));
    int rc = stats_moments_from_json(json_object_get(j, "moments"), &f->mom, err);
    if (rc == 0)
        rc = stats_kll_from_json(json_object_get(j, "kll"), &f->kll, err);
    if (rc == 0 && json_object_get(j, "topk"))
        rc = stats_topk_from_json(json_object_get(j, "topk"), &f->top, err);
    return rc;
}

static int feat_merge(mon_feat_t *f, const mon_feat_t *o, mops_err_t *err)
{
    f->missing += o->missing;
    stats_moments_merge(&f->mom, &o->mom);
    int rc = stats_kll_merge(f->kll, o->kll, err);
    if (rc == 0 && o->top) {
        if (!f->top)
            f->top = stats_topk_new(MON_TOPK_K);
        rc = stats_topk_merge(f->top, o->top, err);
    }
    return rc;
}

json_t *mon_acc_json(const mon_acc_t *a)
{
    json_t *lat = json_array(), *in = json_array(), *out = json_array();
    for (int i = 0; i <= MON_LAT_BUCKETS; i++)
        json_array_append_new(lat, json_integer((json_int_t)a->lat_buckets[i]));
    for (size_t i = 0; i < a->n_in; i++)
        json_array_append_new(in, feat_json(&a->in[i]));
    for (size_t i = 0; i < a->n_out; i++)
        json_array_append_new(out, feat_json(&a->out[i]));
    return json_pack("{s:o, s:f, s:o, s:o, s:o}", "latency_buckets", lat, "latency_sum_s",
                     a->lat_sum_s, "latency_ms", stats_kll_to_json(a->lat), "inputs", in,
                     "outputs", out);
}

int mon_acc_from_json(const json_t *j, int64_t requests, int64_t errors, int64_t rows,
                      mon_acc_t **out, mops_err_t *err)
{
    mon_acc_t *a = mops_xcalloc(1, sizeof *a);
    a->requests = (uint64_t)requests;
    a->errors = (uint64_t)errors;
    a->rows = (uint64_t)rows;
    const json_t *lat = json_object_get(j, "latency_buckets");
    for (int i = 0; i <= MON_LAT_BUCKETS; i++)
        a->lat_buckets[i] = (uint64_t)json_integer_value(json_array_get(lat, (size_t)i));
    a->lat_sum_s = json_number_value(json_object_get(j, "latency_sum_s"));
    int rc = stats_kll_from_json(json_object_get(j, "latency_ms"), &a->lat, err);
    const json_t *in = json_object_get(j, "inputs"), *o = json_object_get(j, "outputs");
    if (rc == 0 && json_array_size(in) <= FEATURES_MAX && json_array_size(o) <= FEATURES_MAX) {
        a->n_in = json_array_size(in);
        a->n_out = json_array_size(o);
        a->in = mops_xcalloc(a->n_in + 1, sizeof *a->in);
        a->out = mops_xcalloc(a->n_out + 1, sizeof *a->out);
        for (size_t i = 0; rc == 0 && i < a->n_in; i++)
            rc = feat_from_json(json_array_get(in, i), &a->in[i], err);
        for (size_t i = 0; rc == 0 && i < a->n_out; i++)
            rc = feat_from_json(json_array_get(o, i), &a->out[i], err);
    }
    if (rc == 0 && !a->lat)
        rc = mops_err_set(err, MOPS_ECORRUPT, "a monitoring window lacks its latency sketch");
    if (rc != 0) {
        mon_acc_free(a); /* sketches not read yet are NULL */
        return rc;
    }
    *out = a;
    return 0;
}

int mon_acc_merge(mon_acc_t *a, const mon_acc_t *o, mops_err_t *err)
{
    a->requests += o->requests;
    a->errors += o->errors;
    a->rows += o->rows;
    for (int i = 0; i <= MON_LAT_BUCKETS; i++)
        a->lat_buckets[i] += o->lat_buckets[i];
    a->lat_sum_s += o->lat_sum_s;
    int rc = stats_kll_merge(a->lat, o->lat, err);
    if (rc != 0)
        return rc;
    if (!a->in && o->in)
        acc_shape(a, o->n_in, o->n_out);
    if (o->n_in != a->n_in || o->n_out != a->n_out)
        return 0; /* a version's shape does not change; keep what we have */
    for (size_t i = 0; rc == 0 && i < a->n_in; i++)
        rc = feat_merge(&a->in[i], &o->in[i], err);
    for (size_t i = 0; rc == 0 && i < a->n_out; i++)
        rc = feat_merge(&a->out[i], &o->out[i], err);
    return rc;
}

/* ------------------------------------------------------------ slots */

/* One request thread's share of a slot. The padding keeps two stripes'
 * hot fields off one cache line. */
typedef struct stripe {
    pthread_mutex_t mu;
    mon_acc_t *acc; /* the window being folded, or NULL */
    /* since this process started, for Prometheus counters */
    uint64_t requests, errors;
    uint64_t lat_buckets[MON_LAT_BUCKETS + 1];
    double lat_sum_s;
    char pad[64];
} stripe_t;

typedef struct slot {
    int64_t deployment_id, version_id, team_id;
    stripe_t stripe[STRIPES];
} slot_t;

static struct {
    pthread_rwlock_t lock; /* write: add or free slots; read: walk them */
    slot_t *slots[SLOTS_MAX]; /* request threads load these atomically, unlocked */
    int n;
    atomic_uint gen;     /* bumped when slots are freed: thread caches are stale */
    atomic_uint next_stripe;
    pthread_mutex_t retired_mu;
    mon_acc_t *retired;  /* windows that ended before the writer took them */
    int dropped_slots;   /* pairs not tracked: the table was full */
    atomic_uint_fast64_t freed; /* windows written and freed, ever */
} agg = {.lock = PTHREAD_RWLOCK_INITIALIZER, .retired_mu = PTHREAD_MUTEX_INITIALIZER};

/* A thread's stripe and the last slot it folded into. */
static _Thread_local struct {
    int stripe; /* 0: not chosen yet, else the stripe + 1 */
    unsigned gen;
    int64_t deployment_id, version_id;
    slot_t *slot;
} me;

static size_t slot_hash(int64_t d, int64_t v)
{
    uint64_t h = (uint64_t)d * 0x9E3779B97F4A7C15ull ^ (uint64_t)v * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h >> 20) % SLOTS_MAX;
}

static slot_t *slot_load(int i)
{
    return __atomic_load_n(&agg.slots[i], __ATOMIC_ACQUIRE);
}

static slot_t *slot_find(int64_t d, int64_t v, int64_t team_id)
{
    size_t h = slot_hash(d, v);
    for (size_t i = 0; i < SLOTS_MAX; i++) {
        slot_t *s = slot_load((int)((h + i) % SLOTS_MAX));
        if (!s)
            break;
        if (s->deployment_id == d && s->version_id == v)
            return s;
    }
    pthread_rwlock_wrlock(&agg.lock);
    slot_t *found = NULL;
    for (size_t i = 0; i < SLOTS_MAX && agg.n < SLOTS_MAX * 3 / 4; i++) {
        slot_t **p = &agg.slots[(h + i) % SLOTS_MAX];
        if (*p && (*p)->deployment_id == d && (*p)->version_id == v) {
            found = *p;
            break;
        }
        if (!*p) {
            found = mops_xcalloc(1, sizeof *found);
            found->deployment_id = d;
            found->version_id = v;
            found->team_id = team_id;
            for (int k = 0; k < STRIPES; k++)
                pthread_mutex_init(&found->stripe[k].mu, NULL);
            __atomic_store_n(p, found, __ATOMIC_RELEASE); /* initialised first */
            agg.n++;
            break;
        }
    }
    if (!found)
        agg.dropped_slots++;
    pthread_rwlock_unlock(&agg.lock);
    return found;
}

/* The calling thread's stripe of the slot of (d, v). */
static stripe_t *stripe_find(int64_t d, int64_t v, int64_t team_id)
{
    unsigned gen = atomic_load_explicit(&agg.gen, memory_order_acquire);
    if (!me.slot || me.gen != gen || me.deployment_id != d || me.version_id != v) {
        slot_t *s = slot_find(d, v, team_id);
        if (!s)
            return NULL;
        me.slot = s;
        me.gen = gen;
        me.deployment_id = d;
        me.version_id = v;
    }
    if (!me.stripe)
        me.stripe = (int)(atomic_fetch_add(&agg.next_stripe, 1) % STRIPES) + 1;
    return &me.slot->stripe[me.stripe - 1];
}

static void retire(mon_acc_t *a)
{
    pthread_mutex_lock(&agg.retired_mu);
    a->next = agg.retired;
    agg.retired = a;
    pthread_mutex_unlock(&agg.retired_mu);
}

void monitor_observe(const serve_event_t *ev, void *arg)
{
    (void)arg;
    if (!ev->deployment_id || ev->role == SERVE_ROLE_BATCH || ev->role == SERVE_ROLE_DIRECT)
        return;
    stripe_t *s = stripe_find(ev->deployment_id, ev->version_id, ev->team_id);
    if (!s)
        return;
    int64_t start = ev->ts_ms - ev->ts_ms % MONITOR_WINDOW_MS;
    double lat_s = (double)ev->wall_us / 1e6;
    int b = 0;
    while (b < MON_LAT_BUCKETS && lat_s > lat_le[b])
        b++;
    pthread_mutex_lock(&s->mu);
    mon_acc_t *a = s->acc;
    if (a && a->start_ms != start) {
        acc_settle(a);
        retire(a);
        a = NULL;
    }
    if (!a)
        a = s->acc = mon_acc_new(ev->deployment_id, ev->version_id, ev->team_id, start);
    a->requests++;
    s->requests++;
    if (ev->status) {
        a->errors++;
        s->errors++;
    }
    a->lat_buckets[b]++;
    s->lat_buckets[b]++;
    a->lat_sum_s += lat_s;
    s->lat_sum_s += lat_s;
    stats_kll_add(a->lat, (double)ev->wall_us / 1000.0);
    if (ev->inputs && ev->outputs) {
        acc_shape(a, ev->n_features, ev->n_outputs);
        if (a->n_in == ev->n_features && a->n_out == ev->n_outputs) {
            a->rows += ev->n_rows;
            acc_rows(a, ev->inputs, ev->outputs, ev->n_rows);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------ writing out */

/* Merge one window into its stored row (one transaction). */
static int window_write(store_conn_t *db, const mon_acc_t *a, mops_err_t *err)
{
    int rc = store_begin(db, err);
    if (rc != 0)
        return rc;
    store_stmt_t *s;
    mon_acc_t *merged = NULL;
    int found = 0;
    rc = store_query(db, &s, err,
                     "SELECT requests, errors, rows_seen, summary FROM monitor_windows WHERE "
                     "deployment_id = ? AND version_id = ? AND start_ms = ?",
                     "iii", a->deployment_id, a->version_id, a->start_ms);
    if (rc == 0 && (rc = store_step(s, err)) == STORE_ROW) {
        found = 1;
        json_t *j = json_loads(store_col_text(s, 3), 0, NULL);
        rc = j ? mon_acc_from_json(j, store_col_int(s, 0), store_col_int(s, 1),
                                   store_col_int(s, 2), &merged, err)
               : mops_err_set(err, MOPS_ECORRUPT, "a stored monitoring window is not JSON");
        json_decref(j);
        if (rc == 0)
            rc = mon_acc_merge(merged, a, err);
    }
    if (rc >= 0)
        store_finalize(s);
    if (rc < 0) {
        mon_acc_free(merged);
        store_rollback(db);
        return rc;
    }
    const mon_acc_t *w = merged ? merged : a;
    json_t *j = mon_acc_json(w);
    char *text = mops_json_dump(j);
    json_decref(j);
    int64_t now = mops_now_ms();
    if (found)
        rc = store_exec(db, NULL, err,
                        "UPDATE monitor_windows SET requests = ?, errors = ?, rows_seen = ?, "
                        "summary = ?, updated_at = ? WHERE deployment_id = ? AND version_id = ? "
                        "AND start_ms = ?",
                        "iiitiiii", (int64_t)w->requests, (int64_t)w->errors, (int64_t)w->rows,
                        text, now, a->deployment_id, a->version_id, a->start_ms);
    else
        rc = store_exec(db, NULL, err,
                        "INSERT INTO monitor_windows (deployment_id, version_id, start_ms, "
                        "team_id, requests, errors, rows_seen, summary, updated_at) VALUES (?, "
                        "?, ?, ?, ?, ?, ?, ?, ?)",
                        "iiiiiiiti", a->deployment_id, a->version_id, a->start_ms, a->team_id,
                        (int64_t)w->requests, (int64_t)w->errors, (int64_t)w->rows, text, now);
    free(text);
    mon_acc_free(merged);
    return store_end(db, rc, err);
}

int monitor_flush(store_conn_t *db, mops_err_t *err)
{
    /* take every window away first, then write without holding locks */
    mon_acc_t *list = NULL;
    pthread_mutex_lock(&agg.retired_mu);
    list = agg.retired;
    agg.retired = NULL;
    pthread_mutex_unlock(&agg.retired_mu);
    pthread_rwlock_rdlock(&agg.lock);
    for (int i = 0; i < SLOTS_MAX; i++) {
        slot_t *s = agg.slots[i];
        if (!s)
            continue;
        /* one window per slot and hour: the stripes' merged */
        mon_acc_t *mine = NULL;
        for (int k = 0; k < STRIPES; k++) {
            pthread_mutex_lock(&s->stripe[k].mu);
            mon_acc_t *a = s->stripe[k].acc;
            s->stripe[k].acc = NULL;
            pthread_mutex_unlock(&s->stripe[k].mu);
            if (!a)
                continue;
            acc_settle(a);
            mon_acc_t *m = mine;
            while (m && m->start_ms != a->start_ms)
                m = m->next;
            mops_err_t e;
            /* windows of one slot share their shape and sketch accuracy:
             * the merge cannot fail */
            if (m && mon_acc_merge(m, a, &e) == 0) {
                mon_acc_free(a);
            } else {
                a->next = mine;
                mine = a;
            }
        }
        while (mine) {
            mon_acc_t *a = mine;
            mine = a->next;
            a->next = list;
            list = a;
        }
    }
    pthread_rwlock_unlock(&agg.lock);
    int rc = 0;
    while (list) {
        mon_acc_t *a = list;
        list = a->next;
        if (rc == 0 && (rc = window_write(db, a, err)) != 0) {
            retire(a); /* keep it for the next attempt */
            continue;
        }
        if (rc != 0) {
            retire(a);
        } else {
            mon_acc_free(a);
            atomic_fetch_add_explicit(&agg.freed, 1, memory_order_relaxed);
        }
    }
    return rc;
}

/* ------------------------------------------------------------ the thread */

static struct {
    pthread_t thread;
    int running;
    store_t *st;
    const mops_env_t *env;
    monitor_options_t opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
} run = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&run.mu);
    while (!run.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)run.opts.flush_ms * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&run.cv, &run.mu, &ts);
        if (run.stop)
            break;
        pthread_mutex_unlock(&run.mu);
        store_conn_t *db;
        mops_err_t err;
        if (store_conn_acquire(run.st, &db, &err) == 0) {
            uint_fast64_t freed = atomic_load(&agg.freed);
            if (monitor_flush(db, &err) != 0)
                mops_warn("monitor: writing windows: %s", err.msg);
            /* The windows just written were built by the request threads,
             * in their malloc arenas, and freed here: give those pages
             * back, or a version that took traffic once keeps the
             * process's memory up for good. An idle flush has none. */
            if (atomic_load(&agg.freed) != freed)
                malloc_trim(0);
            if (mon_rules_evaluate(db, run.env, 0, NULL, &err) != 0)
                mops_warn("monitor: evaluating alert rules: %s", err.msg);
            store_conn_release(db);
        } else {
            mops_warn("monitor: %s", err.msg);
        }
        pthread_mutex_lock(&run.mu);
    }
    pthread_mutex_unlock(&run.mu);
    return NULL;
}

int monitor_start(store_t *st, const mops_env_t *env, const monitor_options_t *opts,
                  mops_err_t *err)
{
    if (run.running)
        return mops_err_set(err, MOPS_EINTERNAL, "monitoring is running already");
    int rc = serve_observer_add(monitor_observe, NULL, err);
    if (rc != 0)
        return rc;
    run.st = st;
    run.env = env;
    run.opts = *opts;
    if (run.opts.flush_ms < 10)
        run.opts.flush_ms = 10;
    run.stop = 0;
    if (pthread_create(&run.thread, NULL, writer_main, NULL) != 0)
        return mops_err_set(err, MOPS_EINTERNAL, "cannot start the monitoring thread");
    run.running = 1;
    return 0;
}

void monitor_stop(void)
{
    if (run.running) {
        pthread_mutex_lock(&run.mu);
        run.stop = 1;
        pthread_cond_signal(&run.cv);
        pthread_mutex_unlock(&run.mu);
        pthread_join(run.thread, NULL);
        run.running = 0;
        store_conn_t *db;
        mops_err_t err;
        if (store_conn_acquire(run.st, &db, &err) == 0) {
            if (monitor_flush(db, &err) != 0)
                mops_warn("monitor: writing windows at stop: %s", err.msg);
            store_conn_release(db);
        }
    }
    mon_agg_reset();
}

size_t mon_agg_deployments(int64_t *ids, size_t max)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&agg.lock);
    for (int i = 0; i < SLOTS_MAX; i++) {
        slot_t *s = agg.slots[i];
        if (!s)
            continue;
        size_t k = 0;
        while (k < n && ids[k] != s->deployment_id)
            k++;
        if (k == n && n < max)
            ids[n++] = s->deployment_id;
    }
    pthread_rwlock_unlock(&agg.lock);
    return n;
}

void mon_agg_reset(void)
{
    pthread_rwlock_wrlock(&agg.lock);
    for (int i = 0; i < SLOTS_MAX; i++) {
        slot_t *s = agg.slots[i];
        if (!s)
            continue;
        for (int k = 0; k < STRIPES; k++) {
            mon_acc_free(s->stripe[k].acc);
            pthread_mutex_destroy(&s->stripe[k].mu);
        }
        free(s);
        __atomic_store_n(&agg.slots[i], NULL, __ATOMIC_RELEASE);
    }
    agg.n = 0;
    atomic_fetch_add_explicit(&agg.gen, 1, memory_order_release);
    pthread_rwlock_unlock(&agg.lock);
    pthread_mutex_lock(&agg.retired_mu);
    while (agg.retired) {
        mon_acc_t *a = agg.retired;
        agg.retired = a->next;
        mon_acc_free(a);
    }
    pthread_mutex_unlock(&agg.retired_mu);
}

/* ------------------------------------------------------------ /metrics */

typedef struct slot_copy {
    int64_t deployment_id, version_id;
    uint64_t requests, errors, lat_buckets[MON_LAT_BUCKETS + 1];
    double lat_sum_s;
} slot_copy_t;

static void labels(mops_buf_t *b, const char *team, const char *dep, const char *model,
                   int64_t number)
{
    mops_buf_puts(b, "team=\"");
    mon_prom_label(b, team);
    mops_buf_puts(b, "\",deployment=\"");
    mon_prom_label(b, dep);
    mops_buf_puts(b, "\",version=\"");
    mon_prom_label(b, model);
    mops_buf_printf(b, "@%lld\"", (long long)number);
}

int mon_metrics_serving(const mops_ctx_t *ctx, mops_buf_t *b, mops_err_t *err)
{
    slot_copy_t *c = mops_xcalloc(SLOTS_MAX, sizeof *c);
    int n = 0;
    pthread_rwlock_rdlock(&agg.lock);
    for (int i = 0; i < SLOTS_MAX; i++) {
        slot_t *s = agg.slots[i];
        if (!s || !auth_can(ctx->who, AUTH_DEPLOYMENT_READ, s->team_id))
            continue;
        c[n].deployment_id = s->deployment_id;
        c[n].version_id = s->version_id;
        for (int k = 0; k < STRIPES; k++) {
            stripe_t *t = &s->stripe[k];
            pthread_mutex_lock(&t->mu);
            c[n].requests += t->requests;
            c[n].errors += t->errors;
            for (int l = 0; l <= MON_LAT_BUCKETS; l++)
                c[n].lat_buckets[l] += t->lat_buckets[l];
            c[n].lat_sum_s += t->lat_sum_s;
            pthread_mutex_unlock(&t->mu);
        }
        n++;
    }
    pthread_rwlock_unlock(&agg.lock);
    mops_buf_t req = MOPS_BUF_INIT, errs = MOPS_BUF_INIT, lat = MOPS_BUF_INIT;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        store_stmt_t *s;
        rc = store_query(ctx->db, &s, err,
                         "SELECT d.name, t.name, m.name, v.number FROM deployments d JOIN teams t "
                         "ON t.id = d.team_id, versions v JOIN models m ON m.id = v.model_id "
                         "WHERE d.id = ? AND v.id = ?",
                         "ii", c[i].deployment_id, c[i].version_id);
        if (rc != 0)
            break;
        if ((rc = store_step(s, err)) == STORE_ROW) {
            rc = 0;
            const char *dep = store_col_text(s, 0), *team = store_col_text(s, 1),
                       *model = store_col_text(s, 2);
            int64_t num = store_col_int(s, 3);
            mops_buf_puts(&req, "mops_requests_total{");
            labels(&req, team, dep, model, num);
            mops_buf_printf(&req, "} %llu\n", (unsigned long long)c[i].requests);
            mops_buf_puts(&errs, "mops_request_errors_total{");
            labels(&errs, team, dep, model, num);
            mops_buf_printf(&errs, "} %llu\n", (unsigned long long)c[i].errors);
            uint64_t cum = 0;
            for (int k = 0; k <= MON_LAT_BUCKETS; k++) {
                cum += c[i].lat_buckets[k];
                mops_buf_puts(&lat, "mops_request_duration_seconds_bucket{");
                labels(&lat, team, dep, model, num);
                if (k < MON_LAT_BUCKETS)
                    mops_buf_printf(&lat, ",le=\"%g\"} %llu\n", lat_le[k],
                                    (unsigned long long)cum);
                else
                    mops_buf_printf(&lat, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
            }
            mops_buf_puts(&lat, "mops_request_duration_seconds_sum{");
            labels(&lat, team, dep, model, num);
            mops_buf_puts(&lat, "} ");
            mon_prom_value(&lat, c[i].lat_sum_s);
            mops_buf_puts(&lat, "\nmops_request_duration_seconds_count{");
            labels(&lat, team, dep, model, num);
            mops_buf_printf(&lat, "} %llu\n", (unsigned long long)cum);
        }
        store_finalize(s);
    }
    free(c);
    if (rc == 0) {
        mops_buf_puts(b, "# HELP mops_requests_total Inference requests served, by deployment "
                         "and version, since this server started.\n"
                         "# TYPE mops_requests_total counter\n");
        if (req.data)
            mops_buf_puts(b, req.data);
        mops_buf_puts(b, "# HELP mops_request_errors_total Inference requests that failed.\n"
                         "# TYPE mops_request_errors_total counter\n");
        if (errs.data)
            mops_buf_puts(b, errs.data);
        mops_buf_puts(b, "# HELP mops_request_duration_seconds Inference request latency, first "
                         "byte to answer.\n"
                         "# TYPE mops_request_duration_seconds histogram\n");
        if (lat.data)
            mops_buf_puts(b, lat.data);
    }
    mops_buf_release(&req);
    mops_buf_release(&errs);
    mops_buf_release(&lat);
    return rc;
}
