/*
 * serve.c — the serving process state: start and stop of the threads
 * (publishing and syncing deployments, the prediction log writer, shadow
 * workers, batch jobs), the traffic rule on lifecycle stages, and helpers
 * the other files share.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/time.h"
#include "governance/governance.h"
#include "serve/serve_int.h"

serve_state_t *serve__g;

static serve_state_t state;
static pthread_t sync_thread;
static serve_waker_t sync_waker = SERVE_WAKER_INIT;
static pthread_key_t scratch_key;

/* ------------------------------------------------------------- policy */

const char *serve_role_name(serve_role_t role)
{
    switch (role) {
    case SERVE_ROLE_PRIMARY: return "primary";
    case SERVE_ROLE_CANARY: return "canary";
    case SERVE_ROLE_SHADOW: return "shadow";
    case SERVE_ROLE_DIRECT: return "direct";
    case SERVE_ROLE_BATCH: return "batch";
    }
    return "?";
}

/* Serving's roles are governance's kinds of traffic, in the same order. */
_Static_assert((int)SERVE_ROLE_PRIMARY == (int)GOVERNANCE_TRAFFIC_PRIMARY &&
                   (int)SERVE_ROLE_CANARY == (int)GOVERNANCE_TRAFFIC_CANARY &&
                   (int)SERVE_ROLE_SHADOW == (int)GOVERNANCE_TRAFFIC_SHADOW &&
                   (int)SERVE_ROLE_DIRECT == (int)GOVERNANCE_TRAFFIC_DIRECT &&
                   (int)SERVE_ROLE_BATCH == (int)GOVERNANCE_TRAFFIC_BATCH,
               "serve_role_t and governance_traffic_t differ");

int serve_stage_allows(const char *stage, serve_role_t role)
{
    return governance_stage_allows(stage, (governance_traffic_t)role);
}

/* ------------------------------------------------------------ observers */

#define MAX_OBSERVERS 4

/* Written at start-up only, read by every serving thread afterwards. */
static struct {
    serve_observer_fn fn;
    void *arg;
} observers[MAX_OBSERVERS];
static int n_observers;

int serve_observer_add(serve_observer_fn fn, void *arg, mops_err_t *err)
{
    if (n_observers == MAX_OBSERVERS)
        return mops_err_set(err, MOPS_EINTERNAL, "more than %d serving observers",
                            MAX_OBSERVERS);
    observers[n_observers].fn = fn;
    observers[n_observers].arg = arg;
    n_observers++;
    return 0;
}

void serve_observers_clear(void)
{
    n_observers = 0;
}

void serve__observe(const serve_event_t *ev)
{
    for (int i = 0; i < n_observers; i++)
        observers[i].fn(ev, observers[i].arg);
}

/* ------------------------------------------------------------- helpers */

int serve__running(mops_err_t *err)
{
    if (!serve__g || atomic_load(&serve__g->stopping))
        return mops_err_set(err, MOPS_EUNAVAIL, "serving is not running on this server");
    return 0;
}

int serve__ctx_db(const mops_ctx_t *ctx, mops_ctx_t *tmp, const mops_ctx_t **out,
                  mops_err_t *err)
{
    if (ctx->db) {
        *out = ctx;
        return 0;
    }
    *tmp = *ctx;
    int rc = store_conn_acquire(serve__g->st, &tmp->db, err);
    if (rc == 0)
        *out = tmp;
    return rc;
}

void serve__ctx_done(const mops_ctx_t *ctx, mops_ctx_t *tmp)
{
    if (ctx == tmp) {
        store_conn_release(tmp->db);
        tmp->db = NULL;
    }
}

void serve__thread_nice(int nice)
{
    /* On Linux a thread id names one thread for setpriority. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice) != 0)
        mops_debug("serve: cannot lower a thread's priority: %s", strerror(errno));
}

void serve__thread_idle(void)
{
    /* SCHED_IDLE: any other thread that wakes up takes the CPU at once
     * (nice 19 only weighs less), and the thread still gets a sliver when
     * the CPUs are busy, so a transaction it holds always finishes. */
    struct sched_param none = {0};
    if (sched_setscheduler(0, SCHED_IDLE, &none) != 0) {
        mops_debug("serve: cannot make a thread idle-only: %s", strerror(errno));
        serve__thread_nice(19);
    }
}

static void scratch_free(void *p)
{
    runtime_scratch_free(p);
}

runtime_scratch_t *serve__scratch(void)
{
    runtime_scratch_t *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = runtime_scratch_new();
        pthread_setspecific(scratch_key, s);
    }
    return s;
}

int serve__epoch_bump(const mops_ctx_t *ctx, mops_err_t *err)
{
    return store_exec(ctx->db, NULL, err, "UPDATE serve_epoch SET epoch = epoch + 1 WHERE id = 1",
                      NULL);
}

void serve__waker_kick(serve_waker_t *w)
{
    pthread_mutex_lock(&w->lock);
    w->kicked = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void serve__waker_nap(serve_waker_t *w, int ms)
{
    pthread_mutex_lock(&w->lock);
    if (!w->kicked && !atomic_load(&state.stopping)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (int64_t)ms * 1000000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&w->cond, &w->lock, &until);
    }
    w->kicked = 0;
    pthread_mutex_unlock(&w->lock);
}

void serve__sync_kick(void)
{
    serve__waker_kick(&sync_waker);
}

int serve_ready(void)
{
    return serve__g && atomic_load(&serve__g->ready);
}

/* --------------------------------------------------------- sync thread */

/* One round: if the change counter moved (or nothing was loaded yet),
 * bring every deployment up to date. */
static void sync_round(store_conn_t *db, int64_t *seen)
{
    mops_arena_t *arena = mops_arena_new();
    mops_ctx_t ctx = {.db = db, .request_id = "serve-sync", .arena = arena, .env = state.env};
    mops_err_t err;
    int64_t epoch = 0;
    int rc = store_query_int(db, &epoch, &err, "SELECT epoch FROM serve_epoch WHERE id = 1", NULL);
    if (rc == 0 && (epoch != *seen || !atomic_load(&state.ready))) {
        if ((rc = serve__sync(&ctx, NULL, NULL, &err)) == 0) {
            *seen = epoch;
            if (!atomic_exchange(&state.ready, 1))
                mops_info("serve: every deployment is loaded");
        }
    }
    if (rc != 0)
        mops_warn("serve: cannot bring deployments up to date: %s", err.msg);
    serve__models_evict(0);
    mops_arena_free(arena);
}

static void *sync_main(void *arg)
{
    (void)arg;
    int64_t seen = -1;
    while (!atomic_load(&state.stopping)) {
        store_conn_t *db;
        mops_err_t err;
        if (store_conn_acquire(state.st, &db, &err) == 0) {
            sync_round(db, &seen);
            store_conn_release(db);
        } else {
            mops_warn("serve: no store connection: %s", err.msg);
        }
        serve__waker_nap(&sync_waker, state.opts.poll_ms);
    }
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

/* The name this server runs jobs under, kept in DATA/server-id so that
 * after a restart it knows which running jobs were its own. */
static int server_id(const mops_env_t *env, char *out, size_t size, mops_err_t *err)
{
    char path[PATH_MAX], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/server-id", env->data_dir);
    int rc = mops_read_file(path, 256, &text, &len, err);
    if (rc == MOPS_ENOTFOUND) {
        unsigned char r[12];
        char hex[25];
        if (mops_random_bytes(r, sizeof r) != 0)
            return mops_err_set(err, MOPS_EINTERNAL, "no randomness for the server id");
        mops_hex_encode(r, sizeof r, hex);
        char line[32];
        snprintf(line, sizeof line, "%s\n", hex);
        if ((rc = mops_write_file_atomic(path, line, strlen(line), 0600, err)) != 0)
            return rc;
        snprintf(out, size, "%s", hex);
        return 0;
    }
    if (rc != 0)
        return rc;
    text[strcspn(text, "\r\n")] = '\0';
    snprintf(out, size, "%s", text);
    free(text);
    return 0;
}

int serve_start(store_t *st, const mops_env_t *env, const serve_options_t *opts,
                mops_err_t *err)
{
    if (serve__g)
        return mops_err_set(err, MOPS_EINTERNAL, "serving is already running");
    memset(&state, 0, sizeof state);
    state.st = st;
    state.env = env;
    state.opts = *opts;
    if (state.opts.poll_ms < 10)
        state.opts.poll_ms = 10;
    if (state.opts.job_poll_ms < 10)
        state.opts.job_poll_ms = 10;
    int rc = server_id(env, state.server_id, sizeof state.server_id, err);
    if (rc != 0)
        return rc;
    if (pthread_key_create(&scratch_key, scratch_free) != 0)
        return mops_err_set(err, MOPS_EINTERNAL, "cannot create a thread key");
    serve__g = &state;
    sync_waker.kicked = 0;
    if ((rc = serve__log_start(opts->queue_bytes, opts->log_sample, opts->log_retention_days, err)) != 0)
        goto fail_key;
    if ((rc = serve__shadow_start(opts->shadow_workers, err)) != 0)
        goto fail_log;
    if (pthread_create(&sync_thread, NULL, sync_main, NULL) != 0) {
        rc = mops_err_set(err, MOPS_EINTERNAL, "cannot start the deployment sync thread");
        goto fail_shadow;
    }
    if ((rc = serve__jobs_start(&state.opts, err)) != 0)
        goto fail_sync;
    return 0;
fail_sync:
    atomic_store(&state.stopping, 1);
    serve__sync_kick();
    pthread_join(sync_thread, NULL);
fail_shadow:
    serve__shadow_stop();
fail_log:
    serve__log_stop();
fail_key:
    pthread_key_delete(scratch_key);
    serve__g = NULL;
    return rc;
}

void serve_stop(void)
{
    if (!serve__g)
        return;
    atomic_store(&state.stopping, 1);
    serve__jobs_stop();
    serve__sync_kick();
    pthread_join(sync_thread, NULL);
    serve__shadow_stop(); /* shadows log their answers: before the log stops */
    serve__unpublish_all();
    serve__log_stop();
    serve__models_evict(1);
    runtime_scratch_free(pthread_getspecific(scratch_key));
    pthread_setspecific(scratch_key, NULL);
    pthread_key_delete(scratch_key);
    serve__g = NULL;
}
