/*
 * serve_int.h — private to serve/: the process's serving state, loaded
 * models, live deployment configurations, the prediction queue, shadows,
 * request conversion and jobs. Internal names carry the serve__ prefix.
 */
#ifndef MOPS_SERVE_INT_H
#define MOPS_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "registry/registry.h"
#include "runtime/runtime.h"
#include "core/json.h"
#include "serve/serve.h"

/* ------------------------------------------------------- loaded models */

/* One version loaded by the runtime, shared by every configuration (and
 * direct request) that uses it: cache.c counts its users under the cache
 * lock and frees it with the last, unless it serves direct requests, in
 * which case it stays until idle for SERVE_DIRECT_IDLE_MS. */
typedef struct serve_model {
    int64_t version_id;
    runtime_model_t *rt;
    runtime_model_info_t info;
    registry_version_ref_t ref; /* team, model, number, format, stage at load */
    int labels_numeric;         /* every class label is an integer: INT64 labels */
    size_t *pii;                /* features masked in the prediction log (PII of
                                   its training data), n_pii of them; owned */
    size_t n_pii;
    int users;                  /* under the cache lock */
    int direct;
    int64_t last_used_ms;
    struct serve_model *next;
} serve_model_t;

#define SERVE_DIRECT_IDLE_MS (60 * 1000)

/* The model of version_id, loaded (from the blob store, hash-checked) if
 * no one holds it yet; one more user. direct marks use outside a
 * deployment. ctx->db is used to learn what the version is. */
int serve__model_acquire(const mops_ctx_t *ctx, int64_t version_id, int direct,
                         serve_model_t **out, mops_err_t *err);
void serve__model_release(serve_model_t *m);
/* Overwrite m's PII features in n_rows rows of x (row-major) with NaN, the
 * missing value: what the prediction log keeps of them. */
void serve__mask_pii(const serve_model_t *m, double *x, size_t n_rows);
/* The model of version_id with one more user if it is loaded, else NULL
 * (no store access). */
serve_model_t *serve__model_take(int64_t version_id, int direct);
/* Free direct-use models nobody used for SERVE_DIRECT_IDLE_MS. */
void serve__models_evict(int all);
/* Loaded models and their bytes, for stats. */
void serve__models_count(size_t *n, size_t *bytes);

/* Append {"version_id", "team_id", "model_id", "team", "model",
 * "number", "memory_bytes"} of every loaded model to the JSON array a. */
void serve__models_each(json_t *a);

/* "team/model@3" in buf. */
void serve__model_label(const serve_model_t *m, char *buf, size_t size);

/* --------------------------------------------------------------- stats */

#define SERVE_LAT_BUCKETS 80

/* A deployment's counters on this server, kept across its revisions. */
typedef struct serve_stats {
    atomic_long refs;
    int64_t since_ms;
    atomic_uint_fast64_t requests, errors, rows, log_dropped, log_sampled;
    /* wall times: bucket b counts those from 2^(b/4) to 2^((b+1)/4) us */
    atomic_uint_fast64_t lat[SERVE_LAT_BUCKETS];
} serve_stats_t;

serve_stats_t *serve__stats_new(void);
void serve__stats_ref(serve_stats_t *s);
void serve__stats_unref(serve_stats_t *s);
void serve__stats_latency(serve_stats_t *s, int64_t us);
/* Latency quantile q (0..1) in microseconds, from the buckets. */
double serve__stats_quantile(const serve_stats_t *s, double q);

/* ------------------------------------------------- live configurations */

/* One version a configuration routes to, with its counters. */
typedef struct serve_target {
    serve_model_t *model;
    serve_role_t role;
    int weight;                         /* percent; the primary's is the rest */
    atomic_uint_fast64_t requests;      /* answered (primary, canary) or run (shadow) */
    atomic_uint_fast64_t agree, disagree, errors, dropped; /* shadows */
} serve_target_t;

/* A deployment's configuration as published: immutable once published,
 * reference counted; a request holds the one it started with. */
typedef struct serve_config {
    atomic_long refs;
    int64_t deployment_id, team_id, revision;
    char *name, *team;
    size_t ntargets;           /* the primary first, then the canaries */
    serve_target_t *targets;
    size_t nshadows;
    serve_target_t *shadows;
    char *sticky_field, *sticky_header;
    serve_stats_t *stats;
    uint64_t published; /* when it was published (serve__publish's count) */
} serve_config_t;

/* Build a configuration from its stored JSON, loading every model. The
 * result has one reference for the caller. stats may be NULL (new ones). */
int serve__config_build(const mops_ctx_t *ctx, int64_t deployment_id, const char *name,
                        int64_t team_id, const char *team, int64_t revision,
                        const json_t *config, serve_config_t **out, mops_err_t *err);
void serve__config_ref(serve_config_t *c);
void serve__config_unref(serve_config_t *c);

/* The published configuration of deployment name, with a reference, or
 * NULL when none is published here. */
serve_config_t *serve__config_get(const char *name);

/* Publish c (taking the caller's reference) unless a newer revision of the
 * deployment is already published; its counters carry over. */
void serve__publish(serve_config_t *c);

/* Withdraw deployment_id's configuration. deleted: for good (it was
 * deleted), so that no late synchronisation publishes it again. */
void serve__unpublish(int64_t deployment_id, int deleted);

/* Make this server's view of deployment name (NULL: all of them) agree
 * with the store: publish what is newer, withdraw what was deleted.
 * *found (may be NULL) says whether name is a live deployment. */
int serve__sync(const mops_ctx_t *ctx, const char *name, int *found, mops_err_t *err);

/* Withdraw every configuration (at stop). */
void serve__unpublish_all(void);

/* Every published configuration, with references (for stats, readiness):
 * a heap array the caller frees after serve__config_unref of each. */
serve_config_t **serve__configs_all(size_t *n);

/* --------------------------------------------------------------- rings */

/* A bounded queue of variable-size entries for many producers and one
 * consumer that takes no lock (ring.c). */
typedef struct serve_ring serve_ring_t;

serve_ring_t *serve__ring_new(size_t bytes);
void serve__ring_free(serve_ring_t *r);
/* n bytes (16-aligned) for an entry to fill, or NULL when full. */
void *serve__ring_reserve(serve_ring_t *r, size_t n);
/* The entry is filled: the consumer may take it. */
void serve__ring_commit(serve_ring_t *r, void *p);
/* Consumer: the oldest entry if it is committed, else NULL; _pop frees it. */
void *serve__ring_peek(serve_ring_t *r);
void serve__ring_pop(serve_ring_t *r);
size_t serve__ring_used(serve_ring_t *r);
size_t serve__ring_capacity(const serve_ring_t *r);

/* ---------------------------------------------------- prediction queue */

/* One prediction, as the log stores it: an entry of the prediction queue
 * with its arrays after it. */
typedef struct serve_record {
    int64_t ts_ms, team_id, deployment_id, revision, version_id;
    serve_role_t role;
    char request_id[68];
    size_t n_rows, n_features, n_outputs;
    double *inputs, *outputs;
    int64_t cpu_ns, wall_us, bytes_in, bytes_out;
    int agree;           /* shadows: -1 unknown, 0 or 1 */
    double max_abs_diff; /* shadows: largest difference from the primary */
    char error[160];     /* shadows: why it failed */
} serve_record_t;

/* Room on the queue for a record of n_rows (its fields zeroed but for the
 * time and arrays), or NULL when the log is off, the queue full (the record
 * is dropped) or over 3/4 full and this one not sampled (skipped); both
 * are counted, here and in stats (may be NULL). Never blocks on the store.
 * Fill it, then serve__log_commit. */
serve_record_t *serve__log_reserve(size_t n_rows, size_t n_features, size_t n_outputs,
                                   serve_stats_t *stats);
void serve__log_commit(serve_record_t *rec);

/* The queue's counters as JSON. */
json_t *serve__log_json(void);

/* Is the prediction log on? (a queue of more than 0 bytes) */
int serve__log_on(void);

/* The writer thread: start it; stop it after writing out what is queued. */
int serve__log_start(int64_t queue_bytes, int sample, int retention_days, mops_err_t *err);
void serve__log_stop(void);

/* Tell every observer (serve_observer_add) of ev. */
void serve__observe(const serve_event_t *ev);

/* ---------------------------------------------------- request parsing */

/* A JSON value of an inference request (jv.c), read-only, in the request's
 * arena. Numbers keep their int64 value when written as integers. */
enum { JV_NULL, JV_FALSE, JV_TRUE, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

typedef struct jv jv_t;
typedef struct jv_member jv_member_t;

struct jv {
    uint8_t type;   /* JV_* */
    uint8_t is_int; /* a number written as an integer (then i is exact) */
    uint32_t len;   /* string bytes, array items, object members */
    union {
        double num;
        const char *str;        /* NUL-terminated UTF-8 */
        jv_t *items;
        jv_member_t *members;
    } u;
    int64_t i;
};

struct jv_member {
    const char *key;
    jv_t val;
};

/* Parse len bytes of JSON whose top level must be an object, with
 * jansson's rules and messages as mops uses them (MOPS_EINVAL). No bytes
 * at all is an empty object (as the HTTP layer treats other bodies). */
int serve__jv_parse(const char *text, size_t len, mops_arena_t *arena, jv_t **out,
                    mops_err_t *err);
/* obj[key] or NULL. */
const jv_t *serve__jv_get(const jv_t *obj, const char *key);
/* v's text if it is a string, else NULL. */
const char *serve__jv_str(const jv_t *v);
/* "an integer", "a string", ... for messages. */
const char *serve__jv_word(const jv_t *v);
/* mops_json_check for a jv object: same rules, same messages. */
int serve__jv_check(const jv_t *obj, const char *what, const mops_json_field_t *fields,
                    mops_err_t *err);

/* --------------------------------------------------------- conversion */

/* A request body in one of the two shapes inference takes. */
typedef enum { SERVE_BODY_OIP, SERVE_BODY_RECORDS } serve_body_kind_t;

/* The rows a model is given, converted from a request body for one model:
 * n rows of the model's n_features, NaN for missing values. */
typedef struct serve_rows {
    size_t n;
    double *x;      /* n * n_features, arena or heap as the caller chose */
    int want;       /* outputs asked for: SERVE_OUT_* bits */
} serve_rows_t;

enum { SERVE_OUT_PREDICT = 1, SERVE_OUT_PROBA = 2, SERVE_OUT_MARGIN = 4 };

/* Check body (OIP inference request or records) against the model m and
 * convert it into rows from arena. max_rows bounds the rows. */
int serve__convert(serve_body_kind_t kind, const jv_t *body, const serve_model_t *m,
                   int64_t max_rows, mops_arena_t *arena, serve_rows_t *out, mops_err_t *err);

/* The sticky key of a request: the header, or the field (a request
 * parameter; for records also the first instance's field), as text into
 * buf. 0 when there is none. */
int serve__sticky_key(const serve_config_t *c, serve_body_kind_t kind, const jv_t *body,
                      const serve_call_t *call, char *buf, size_t size);

/* ------------------------------------------------------------- shadows */

/* Run the request (its body text, len bytes) on every shadow of c off the
 * request path and log the answers and their agreement with the primary's
 * value outputs (n rows of width). Takes nothing from the caller (copies
 * what it keeps); drops the work, counted, when the shadow queue is full. */
void serve__shadow_submit(serve_config_t *c, serve_body_kind_t kind, const char *body,
                          size_t len, const double *primary_values, size_t n, size_t width,
                          const char *request_id);

int serve__shadow_start(int workers, mops_err_t *err);
void serve__shadow_stop(void);

/* The live deployment name as the caller sees it (MOPS_ENOTFOUND), with
 * perm checked on its team: its id, team and primary version. */
int serve__deployment_primary(const mops_ctx_t *ctx, const char *name, auth_perm_t perm,
                              int64_t *id, int64_t *team_id, int64_t *version_id,
                              mops_err_t *err);

/* --------------------------------------------------------------- jobs */

int serve__jobs_start(const serve_options_t *opts, mops_err_t *err);
void serve__jobs_stop(void);

/* ------------------------------------------------------ the process */

typedef struct serve_state {
    store_t *st;
    const mops_env_t *env;
    serve_options_t opts;
    atomic_int stopping;
    atomic_int ready;          /* every deployment was loaded once */
    char server_id[40];        /* names this server as a job runner */
} serve_state_t;

/* The running instance (NULL before serve_start and after serve_stop). */
extern serve_state_t *serve__g;

/* 0, or MOPS_EUNAVAIL when serving is not running. */
int serve__running(mops_err_t *err);

/* A context that has a store connection: ctx itself when it has one, or
 * a copy in *tmp with a connection from the pool (release it with
 * serve__ctx_done). */
int serve__ctx_db(const mops_ctx_t *ctx, mops_ctx_t *tmp, const mops_ctx_t **out,
                  mops_err_t *err);
void serve__ctx_done(const mops_ctx_t *ctx, mops_ctx_t *tmp);

/* Lower the calling thread's priority to nice (best-effort work: the
 * prediction log, shadows, batch jobs must not slow serving down). */
void serve__thread_nice(int nice);
/* Make the calling thread run only on CPU time nothing else wants. */
void serve__thread_idle(void);

/* A runtime scratch for the calling thread (freed when it exits). */
runtime_scratch_t *serve__scratch(void);

/* Bump the change counter other servers poll (inside the change's
 * transaction). */
int serve__epoch_bump(const mops_ctx_t *ctx, mops_err_t *err);

/* Wake the sync thread (something changed here). */
void serve__sync_kick(void);

/* A background thread's nap that another thread can cut short. */
typedef struct serve_waker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int kicked;
} serve_waker_t;

#define SERVE_WAKER_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

/* Wake the thread napping on w (now, or as soon as it naps). */
void serve__waker_kick(serve_waker_t *w);
/* Nap up to ms milliseconds, less when kicked or when serving stops. */
void serve__waker_nap(serve_waker_t *w, int ms);


#endif
