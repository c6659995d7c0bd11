/*
 * shadow.c — shadow versions, off the request path: a bounded queue of
 * requests already answered by the primary (or a canary), and a few
 * worker threads that run each on every shadow of the configuration the
 * request used, compare the answers with the one returned, and log them
 * (role "shadow", with agreement and the largest difference). A slow or
 * failing shadow delays nothing but its own queue; when the queue is full
 * the copy is dropped and counted. Each worker has its own ring (ring.c),
 * filled by request threads without a lock it could hold them up on.
 *
 * Agreement: classifiers agree when every row gets the same class (the
 * largest probability, or p > 0.5 for one column); regressors when every
 * value is within 1e-6 relative. max_abs_diff says how far apart they are.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/time.h"
#include "serve/serve_int.h"

/* Each worker has a ring of this many bytes of waiting requests. */
#define RING_BYTES ((size_t)4 << 20)
/* An idle worker looks at its ring this often. */
#define IDLE_NAP_MS 5

/* A request waiting for its shadows: an entry of a worker's ring, with the
 * primary's values and the request's JSON text after it. */
typedef struct shadow_job {
    serve_config_t *cfg; /* one reference */
    serve_body_kind_t kind;
    char *body; /* parsed again by the worker */
    size_t len;
    double *primary; /* n * width values the caller got */
    size_t n, width;
    char request_id[68];
} shadow_job_t;

typedef struct worker {
    pthread_t tid;
    serve_ring_t *ring;
} worker_t;

static worker_t *workers;
static int nworkers;
static atomic_int stopping;
static atomic_uint next_worker;

void serve__shadow_submit(serve_config_t *c, serve_body_kind_t kind, const char *body,
                          size_t len, const double *primary_values, size_t n, size_t width,
                          const char *request_id)
{
    size_t values = n * width * sizeof(double);
    shadow_job_t *j = NULL;
    if (nworkers && !atomic_load(&stopping)) {
        worker_t *w = &workers[atomic_fetch_add(&next_worker, 1) % (unsigned)nworkers];
        j = serve__ring_reserve(w->ring, sizeof *j + values + len + 1);
        if (j) {
            j->primary = (double *)(j + 1);
            memcpy(j->primary, primary_values, values);
            j->body = (char *)(j + 1) + values;
            memcpy(j->body, body, len);
            j->body[len] = '\0';
            j->len = len;
            j->n = n;
            j->width = width;
            j->kind = kind;
            snprintf(j->request_id, sizeof j->request_id, "%s", request_id);
            serve__config_ref(c);
            j->cfg = c;
            serve__ring_commit(w->ring, j);
            return;
        }
    }
    for (size_t i = 0; i < c->nshadows; i++)
        atomic_fetch_add(&c->shadows[i].dropped, 1);
}

/* Compare the shadow's values (width sw) with the primary's. */
static int agree(const serve_model_t *m, const shadow_job_t *j, const double *v, size_t sw,
                 double *max_diff)
{
    *max_diff = 0;
    if (sw != j->width)
        return 0;
    int same = 1;
    for (size_t r = 0; r < j->n; r++) {
        const double *a = j->primary + r * sw, *b = v + r * sw;
        for (size_t k = 0; k < sw; k++) {
            double d = fabs(a[k] - b[k]);
            if (d > *max_diff || isnan(d))
                *max_diff = isnan(d) ? INFINITY : d;
            if (!m->info.n_classes && !(d <= 1e-6 * fmax(1.0, fabs(a[k]))))
                same = 0;
        }
        if (m->info.n_classes) {
            size_t ca = 0, cb = 0;
            if (sw == 1) {
                ca = a[0] > 0.5;
                cb = b[0] > 0.5;
            } else {
                for (size_t k = 1; k < sw; k++) {
                    if (a[k] > a[ca])
                        ca = k;
                    if (b[k] > b[cb])
                        cb = k;
                }
            }
            if (ca != cb)
                same = 0;
        }
    }
    return same;
}

/* Tell the observers of a shadow run (rows and values NULL when it
 * failed with status), and fill and queue its log record (NULL: the queue
 * had no room). */
static void shadow_record(serve_record_t *r, const shadow_job_t *j, const serve_target_t *t,
                          int64_t t0, int64_t cpu0, const serve_rows_t *rows,
                          const double *values, size_t V, int status)
{
    const serve_config_t *c = j->cfg;
    int64_t wall_us = mops_mono_us() - t0, cpu_ns = mops_thread_cpu_ns() - cpu0;
    serve_event_t ev = {.ts_ms = mops_now_ms(), .team_id = c->team_id,
                        .deployment_id = c->deployment_id, .revision = c->revision,
                        .version_id = t->model->version_id, .role = SERVE_ROLE_SHADOW,
                        .request_id = j->request_id, .n_features = t->model->info.n_features,
                        .cpu_ns = cpu_ns, .wall_us = wall_us, .bytes_in = (int64_t)j->len,
                        .status = status};
    if (rows) {
        ev.n_rows = rows->n;
        ev.n_outputs = V;
        ev.inputs = rows->x;
        ev.outputs = values;
    }
    serve__observe(&ev);
    if (!r)
        return;
    snprintf(r->request_id, sizeof r->request_id, "%s", j->request_id);
    r->team_id = c->team_id;
    r->deployment_id = c->deployment_id;
    r->revision = c->revision;
    r->version_id = t->model->version_id;
    r->role = SERVE_ROLE_SHADOW;
    r->bytes_in = (int64_t)j->len;
    r->wall_us = wall_us;
    r->cpu_ns = cpu_ns;
    serve__log_commit(r);
}

static void run_one(shadow_job_t *j, serve_target_t *t)
{
    serve_config_t *c = j->cfg;
    const serve_model_t *m = t->model;
    int64_t t0 = mops_mono_us(), cpu0 = mops_thread_cpu_ns();
    mops_arena_t *arena = mops_arena_new();
    mops_err_t err;
    serve_rows_t rows;
    jv_t *body;
    double *values = NULL;
    size_t V = m->info.n_value;
    int rc = serve__jv_parse(j->body, j->len, arena, &body, &err);
    if (rc == 0)
        rc = serve__convert(j->kind, body, m, serve__g->opts.max_rows, arena, &rows, &err);
    if (rc == 0) {
        runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
        values = mops_arena_alloc(arena, (rows.n * V + 1) * sizeof *values);
        rc = runtime_predict(m->rt, &o, rows.x, rows.n, m->info.n_features, values,
                             serve__scratch(), &err);
    }
    if (rc == 0) {
        double diff = 0;
        int same = agree(m, j, values, V, &diff);
        atomic_fetch_add(same ? &t->agree : &t->disagree, 1);
        serve_record_t *r = serve__log_reserve(rows.n, m->info.n_features, V, c->stats);
        if (r) {
            memcpy(r->inputs, rows.x, rows.n * m->info.n_features * sizeof(double));
            serve__mask_pii(m, r->inputs, rows.n);
            memcpy(r->outputs, values, rows.n * V * sizeof(double));
            r->agree = same;
            r->max_abs_diff = diff;
        }
        shadow_record(r, j, t, t0, cpu0, &rows, values, V, 0);
    } else {
        atomic_fetch_add(&t->errors, 1);
        serve_record_t *r = serve__log_reserve(0, m->info.n_features, 0, c->stats);
        if (r) {
            r->agree = 0;
            snprintf(r->error, sizeof r->error, "%.159s", err.msg);
        }
        shadow_record(r, j, t, t0, cpu0, NULL, NULL, 0, rc);
    }
    atomic_fetch_add(&t->requests, 1);
    mops_arena_free(arena);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    serve__thread_nice(19); /* shadows must not slow the answers down */
    for (;;) {
        shadow_job_t *j = serve__ring_peek(w->ring);
        int stop = atomic_load(&stopping);
        if (!j) {
            if (stop)
                break;
            struct timespec nap = {0, IDLE_NAP_MS * 1000000L};
            nanosleep(&nap, NULL);
            continue;
        }
        /* At stop, what is left is dropped (counted) rather than run: a
         * slow shadow must not hold up the server's exit. */
        for (size_t i = 0; i < j->cfg->nshadows; i++) {
            if (stop)
                atomic_fetch_add(&j->cfg->shadows[i].dropped, 1);
            else
                run_one(j, &j->cfg->shadows[i]);
        }
        serve__config_unref(j->cfg);
        serve__ring_pop(w->ring);
    }
    return NULL;
}

int serve__shadow_start(int n, mops_err_t *err)
{
    atomic_store(&stopping, 0);
    nworkers = 0;
    if (n <= 0)
        return 0;
    workers = mops_xcalloc((size_t)n, sizeof *workers);
    for (int i = 0; i < n; i++) {
        workers[i].ring = serve__ring_new(RING_BYTES);
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) {
            serve__ring_free(workers[i].ring);
            serve__shadow_stop();
            return mops_err_set(err, MOPS_EINTERNAL, "cannot start a shadow worker");
        }
        nworkers++;
    }
    return 0;
}

void serve__shadow_stop(void)
{
    atomic_store(&stopping, 1);
    for (int i = 0; i < nworkers; i++) {
        pthread_join(workers[i].tid, NULL);
        serve__ring_free(workers[i].ring);
    }
    free(workers);
    workers = NULL;
    nworkers = 0;
}
