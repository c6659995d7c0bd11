/*
 * predlog.c — the prediction queue and its writer: each answered request
 * (and each shadow run) becomes a record on a bounded in-memory queue (a
 * ring, ring.c), and one thread writes the queue to prediction_log in
 * batches, one transaction each.
 *
 * Serving never waits on the store: putting a record copies it into the
 * ring. The queue is bounded in bytes (records carry their inputs and
 * outputs); once it is 3/4 full only one record in `sample` is kept, and
 * when it is full records are dropped. Both are counted, here and per
 * deployment, and shown by the stats endpoint and `mops deploy show`. The
 * writer runs at the lowest priority: it uses the CPU time serving leaves,
 * so under saturation the queue fills and sampling, then dropping, absorb
 * the excess instead of the answers slowing down.
 *
 * Writing is the expensive half (a few microseconds a record, most of it
 * the database's), so records go ROWS_PER_INSERT to a statement, in
 * transactions that only append (on PostgreSQL they skip the writers'
 * lock). With SQLite they hold the database's one write lock: between
 * transactions the writer waits while another thread of the server wants
 * it, or a deployment change could wait seconds behind a low-priority
 * writer that keeps taking the lock back.
 *
 * Inputs and outputs are stored as little-endian float64 arrays (row-major),
 * which the monitoring and FinOps modules read without parsing text.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/time.h"
#include "serve/serve_int.h"

/* Records per write transaction, and per INSERT statement. */
#define BATCH_MAX 250
#define ROWS_PER_INSERT 50
/* The longest the writer pauses for other writers between transactions. */
#define YIELD_MAX_MS 2000
/* The writer's nap after it emptied the queue. */
#define WRITER_NAP_MS 100
/* Retention: how often old rows are looked for, and how many go per
 * transaction (short ones: serving's writers wait behind each). */
#define SWEEP_EVERY_MS (10 * 60 * 1000)
#define SWEEP_ROWS 5000

static serve_ring_t *q_ring;
static int q_sample = 1;
static atomic_int q_stop;
static atomic_uint_fast64_t q_seen;
static pthread_t q_writer;
static int q_running;
static int q_retention_days;

static atomic_uint_fast64_t n_queued, n_written, n_dropped, n_sampled, n_failed;

int serve__log_on(void)
{
    return q_ring != NULL;
}

serve_record_t *serve__log_reserve(size_t n_rows, size_t n_features, size_t n_outputs,
                                   serve_stats_t *stats)
{
    if (!q_ring)
        return NULL;
    size_t values = n_rows * (n_features + n_outputs);
    size_t cap = serve__ring_capacity(q_ring);
    int fate = 0; /* 0 queued, 1 sampled out, 2 dropped */
    serve_record_t *r = NULL;
    if (atomic_load_explicit(&q_stop, memory_order_relaxed))
        fate = 2;
    else if (serve__ring_used(q_ring) > cap / 4 * 3 &&
             atomic_fetch_add_explicit(&q_seen, 1, memory_order_relaxed) % (uint64_t)q_sample)
        fate = 1;
    else if (!(r = serve__ring_reserve(q_ring, sizeof *r + values * sizeof(double))))
        fate = 2;
    if (fate) {
        atomic_fetch_add_explicit(fate == 1 ? &n_sampled : &n_dropped, 1, memory_order_relaxed);
        if (stats)
            atomic_fetch_add_explicit(fate == 1 ? &stats->log_sampled : &stats->log_dropped, 1,
                                      memory_order_relaxed);
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->n_rows = n_rows;
    r->n_features = n_features;
    r->n_outputs = n_outputs;
    r->inputs = (double *)(r + 1);
    r->outputs = r->inputs + n_rows * n_features;
    r->agree = -1;
    r->ts_ms = mops_now_ms();
    return r;
}

void serve__log_commit(serve_record_t *rec)
{
    serve__ring_commit(q_ring, rec);
    atomic_fetch_add_explicit(&n_queued, 1, memory_order_relaxed);
}

json_t *serve__log_json(void)
{
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i}", "enabled", q_ring != NULL,
                     "capacity_bytes", (json_int_t)(q_ring ? serve__ring_capacity(q_ring) : 0),
                     "queued_bytes", (json_int_t)(q_ring ? serve__ring_used(q_ring) : 0),
                     "queued", (json_int_t)atomic_load(&n_queued), "written",
                     (json_int_t)atomic_load(&n_written), "dropped",
                     (json_int_t)atomic_load(&n_dropped), "sampled_out",
                     (json_int_t)atomic_load(&n_sampled), "failed",
                     (json_int_t)atomic_load(&n_failed), "sample_one_in", q_sample);
}

/* ---------------------------------------------------------------- writer */

/* The values as little-endian float64 bytes into buf (n doubles). */
static const void *le_doubles(const double *v, size_t n, unsigned char *buf)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void)buf;
    (void)n;
    return v;
#else
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        for (int b = 0; b < 8; b++)
            buf[i * 8 + b] = (unsigned char)(u >> (8 * b));
    }
    return buf;
#endif
}

#define INSERT_INTO                                                                             \
    "INSERT INTO prediction_log (ts, request_id, team_id, deployment_id, revision, version_id, " \
    "role, n_rows, n_features, n_outputs, inputs, outputs, cpu_ns, wall_us, bytes_in, "         \
    "bytes_out, error, agree, max_abs_diff)"
#define INSERT_COLUMNS 19

static int insert(store_rows_t *rows, const serve_record_t *r, mops_err_t *err)
{
    size_t ni = r->n_rows * r->n_features, no = r->n_rows * r->n_outputs;
    unsigned char *bi = NULL, *bo = NULL;
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    bi = mops_xmalloc(ni * 8 + 1);
    bo = mops_xmalloc(no * 8 + 1);
#endif
    const void *in = le_doubles(r->inputs, ni, bi), *out = le_doubles(r->outputs, no, bo);
    /* Shadows carry their agreement; other records have none (NULL): the
     * two last parameters are bound, or NULL with their arguments unread. */
    int shadow = r->agree >= 0 || r->error[0];
    int rc = store_rows_add(rows, err, shadow ? "itiIIitiiibbiiiitid" : "itiIIitiiibbiiiitnn",
                            r->ts_ms, r->request_id, r->team_id, r->deployment_id, r->revision,
                            r->version_id, serve_role_name(r->role), (int64_t)r->n_rows,
                            (int64_t)r->n_features, (int64_t)r->n_outputs, in, ni * 8, out,
                            no * 8, r->cpu_ns, r->wall_us, r->bytes_in, r->bytes_out, r->error,
                            (int64_t)(r->agree > 0), r->max_abs_diff);
    free(bi);
    free(bo);
    return rc;
}

/* Write up to BATCH_MAX queued records in one transaction, ROWS_PER_INSERT
 * to a statement (each leaves the queue as it is copied); how many there
 * were. *db is connected when first needed. */
static size_t write_batch(store_conn_t **db, store_rows_t **rows)
{
    static int64_t last_complaint;
    serve_record_t *r = serve__ring_peek(q_ring);
    if (!r)
        return 0;
    mops_err_t err;
    int rc = *db ? 0 : store_conn_acquire(serve__g->st, db, &err);
    if (rc != 0)
        *db = NULL;
    else if (!*rows)
        *rows = store_rows_new(*db, INSERT_INTO, INSERT_COLUMNS, ROWS_PER_INSERT);
    if (rc == 0)
        rc = store_begin_append(*db, &err);
    size_t n = 0;
    for (; r && n < BATCH_MAX; r = serve__ring_peek(q_ring), n++) {
        if (rc == 0)
            rc = insert(*rows, r, &err);
        serve__ring_pop(q_ring);
    }
    if (rc == 0)
        rc = store_rows_flush(*rows, &err);
    if (rc == 0)
        rc = store_commit(*db, &err);
    if (*db)
        store_rollback(*db);
    atomic_fetch_add(rc == 0 ? &n_written : &n_failed, n);
    if (rc != 0 && mops_now_ms() - last_complaint > 10000) {
        last_complaint = mops_now_ms();
        mops_error("serve: cannot write %zu records to the prediction log: %s", n, err.msg);
    }
    return n;
}

/* Let this process's other writers in (a request changing a deployment,
 * say): with SQLite they poll for the one lock, which a writer that runs
 * transaction after transaction leaves free only for moments. */
static void yield_to_writers(void)
{
    for (int waited = 0; waited < YIELD_MAX_MS && store_writers_waiting(serve__g->st); waited++) {
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
}

/* Delete the rows older than the retention, a bounded batch per
 * transaction, yielding to other writers between them. The log is the
 * raw record; monitoring's windows and FinOps' usage keep their own
 * aggregates, so reports over old periods do not need these rows. */
static void sweep(store_conn_t **db)
{
    mops_err_t err;
    if (!*db && store_conn_acquire(serve__g->st, db, &err) != 0) {
        *db = NULL;
        return;
    }
    int64_t before = mops_now_ms() - (int64_t)q_retention_days * 86400000, gone = 0, n = 0;
    int rc = 0;
    do {
        n = 0;
        rc = store_begin(*db, &err);
        if (rc == 0)
            rc = store_exec(*db, &n, &err,
                            "DELETE FROM prediction_log WHERE id IN (SELECT id FROM "
                            "prediction_log WHERE ts < ? ORDER BY id LIMIT ?)",
                            "ii", before, (int64_t)SWEEP_ROWS);
        rc = store_end(*db, rc, &err);
        gone += n;
        yield_to_writers();
    } while (rc == 0 && n == SWEEP_ROWS && !atomic_load(&q_stop));
    if (rc != 0)
        mops_error("serve: cannot delete old prediction log rows: %s", err.msg);
    else if (gone)
        mops_info("serve: deleted %lld prediction log rows older than %d days", (long long)gone,
                  q_retention_days);
}

static void *writer_main(void *arg)
{
    (void)arg;
    store_conn_t *db = NULL;
    store_rows_t *rows = NULL;
    int64_t next_sweep = 0;
    serve__thread_idle();
    for (;;) {
        int stop = atomic_load(&q_stop);
        if (q_retention_days > 0 && !stop && mops_now_ms() >= next_sweep) {
            sweep(&db);
            next_sweep = mops_now_ms() + SWEEP_EVERY_MS;
        }
        /* Everything queued, in batches; then a nap, so that a quiet server
         * commits (and syncs) a few times a second, not once a record. */
        while (write_batch(&db, &rows))
            yield_to_writers();
        if (stop)
            break; /* stopped, and everything committed is written */
        struct timespec nap = {0, WRITER_NAP_MS * 1000000L};
        nanosleep(&nap, NULL);
    }
    store_rows_free(rows);
    store_conn_release(db);
    return NULL;
}

int serve__log_start(int64_t queue_bytes, int sample, int retention_days, mops_err_t *err)
{
    q_sample = sample > 0 ? sample : 1;
    q_retention_days = retention_days;
    atomic_store(&q_stop, 0);
    atomic_store(&q_seen, 0);
    atomic_store(&n_queued, 0);
    atomic_store(&n_written, 0);
    atomic_store(&n_dropped, 0);
    atomic_store(&n_sampled, 0);
    atomic_store(&n_failed, 0);
    if (queue_bytes <= 0)
        return 0;
    q_ring = serve__ring_new((size_t)queue_bytes);
    if (pthread_create(&q_writer, NULL, writer_main, NULL) != 0) {
        serve__ring_free(q_ring);
        q_ring = NULL;
        return mops_err_set(err, MOPS_EINTERNAL, "cannot start the prediction log writer");
    }
    q_running = 1;
    return 0;
}

void serve__log_stop(void)
{
    atomic_store(&q_stop, 1);
    if (q_running)
        pthread_join(q_writer, NULL);
    q_running = 0;
    serve__ring_free(q_ring);
    q_ring = NULL;
}
