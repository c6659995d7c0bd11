/*
 * serve.h — serving: deployments, inference, the prediction log, batch jobs.
 *
 * A deployment is a named endpoint of a team (the name is unique on the
 * server: it is the Open Inference Protocol's model name) that routes each
 * request to model versions of that team: a primary, canaries that take an
 * integer percentage of the traffic each, and shadows that receive a copy of
 * every request off the request path, whose answers are logged and compared
 * with the primary's but never returned. Routing may be sticky by a request
 * key (a header or a field), so a customer keeps seeing one version while
 * the configuration is unchanged. Every change writes a new revision; a
 * rollback returns to the previous revision's configuration (or a named
 * one) in one call; the history is kept, also after a delete.
 *
 * A change takes effect without failing a request in flight: the models of
 * the new configuration are loaded before it is published, a request keeps
 * the configuration it started with, and an old configuration and its
 * models are freed after their last request. Servers sharing a PostgreSQL
 * database notice each other's changes within serve_options_t.poll_ms.
 *
 * Inference speaks the Open Inference Protocol v2 (REST, as KServe, Triton
 * and Seldon MLServer) and a record form (`{"instances": [{...}]}`). Each
 * answered request is put on a bounded in-memory queue to the prediction log
 * (prediction_log), with its inputs, outputs, thread CPU time, wall time
 * and bytes; serving never waits on it: over 3/4 full, records are sampled,
 * and when full they are dropped, both counted.
 *
 * Batch jobs score an uploaded CSV with a version or a deployment's primary
 * into a result CSV in the blob store, with progress, cancellation, and
 * restart after a server restart.
 *
 * Conventions are the domain modules' (docs/architecture.md): functions
 * return 0 or a negative MOPS_E* code with err filled, take JSON in and give
 * JSON out (new references the caller releases). serve_start must have run
 * before any other function here (they answer MOPS_EUNAVAIL otherwise).
 */
#ifndef MOPS_SERVE_SERVE_H
#define MOPS_SERVE_SERVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"
#include "store/store.h"

/* ------------------------------------------------------------ lifecycle */

typedef struct serve_options {
    int64_t max_rows;    /* rows in one inference request (--max-rows) */
    int64_t queue_bytes; /* the prediction queue's memory (--prediction-queue);
                            0 turns the prediction log off */
    int log_sample;      /* once the queue is 3/4 full, keep 1 record in N
                            (--log-sample) */
    int shadow_workers;  /* threads running shadow versions */
    int job_threads;     /* scoring threads of a batch job */
    int poll_ms;         /* how often to look for other servers' changes */
    int job_poll_ms;     /* how often to look for queued jobs and cancellations */
    const char *version; /* this server's version, for GET /v2 */
    int log_retention_days; /* prediction log rows older than this are deleted
                               (--log-retention-days); 0 keeps them */
} serve_options_t;

#define SERVE_OPTIONS_INIT {10000, (int64_t)16 << 20, 10, 2, 1, 1000, 1000, "0", 90}

/* Start serving on store st: the threads that publish deployments (and
 * notice other servers' changes), write the prediction log, run shadows
 * and run batch jobs. Jobs left "running" by a previous run of this server
 * are queued again (or failed after 3 interruptions). One per process;
 * st and env must outlive serve_stop. */
int serve_start(store_t *st, const mops_env_t *env, const serve_options_t *opts,
                mops_err_t *err);

/* Stop the threads (a running batch job is queued again for the next
 * start), write out the prediction queue, free every loaded model. Call
 * after the HTTP server has stopped and before the store closes. Safe when
 * serve_start did not run. */
void serve_stop(void);

/* ------------------------------------------------------ traffic policy */

typedef enum serve_role {
    SERVE_ROLE_PRIMARY,
    SERVE_ROLE_CANARY,
    SERVE_ROLE_SHADOW,
    SERVE_ROLE_DIRECT, /* a model version addressed by name, outside a deployment */
    SERVE_ROLE_BATCH,
} serve_role_t;

/* "primary", "canary", ... */
const char *serve_role_name(serve_role_t role);

/* May a version in lifecycle stage `stage` receive traffic in role? The
 * governance module decides (governance_stage_allows): a deployment's
 * primary needs production, its canaries and shadows staging or
 * production; by name and in batch jobs every stage but rejected and
 * retired. */
int serve_stage_allows(const char *stage, serve_role_t role);

/* ------------------------------------------------------------ observers */

/* What serving tells the modules that watch it (monitoring, FinOps): one
 * event per answered or failed inference request, per shadow run and per
 * finished batch job. Every request is seen, whether or not the prediction
 * log kept it (the log samples and drops under load; observers do not). */
typedef struct serve_event {
    int64_t ts_ms;            /* Unix ms */
    int64_t team_id, deployment_id, revision, version_id; /* 0 when none */
    serve_role_t role;
    const char *request_id;   /* "" for batch jobs */
    size_t n_rows, n_features, n_outputs;
    const double *inputs;     /* n_rows x n_features, row-major; NULL on failure */
    const double *outputs;    /* n_rows x n_outputs; NULL on failure */
    int64_t cpu_ns;           /* the serving thread's CPU time for it */
    int64_t wall_us;          /* first byte to answer (0 for batch jobs) */
    int64_t bytes_in, bytes_out;
    int status;               /* 0 answered, else the request's MOPS_E* code */
} serve_event_t;

/* Called on the thread that served the request, before its answer is
 * sent: it must be quick and never block (counters, sketches under a
 * short lock, a bounded queue). ev and what it points to are valid during
 * the call only. */
typedef void (*serve_observer_fn)(const serve_event_t *ev, void *arg);

/* Register an observer; at most 4. Call at start-up, before serve_start.
 * MOPS_EINTERNAL when full (a programming error). */
int serve_observer_add(serve_observer_fn fn, void *arg, mops_err_t *err);

/* Forget every observer (for tests; serving must be stopped). */
void serve_observers_clear(void);

/* ------------------------------------------------------------ metering */

/* What this server holds now, for metering memory (FinOps): {"models":
 * [{"version_id", "team_id", "model_id", "team", "model", "number",
 * "memory_bytes" (runtime_model_info)}], "deployments": [{"id", "name",
 * "team_id", "model_id", "version_id" (the primary's), "targets":
 * [{"deployment_id", "version_id", "role"}]}]}. No store access, no
 * permission check. MOPS_EUNAVAIL when serving is not running. */
int serve_models_loaded(json_t **out, mops_err_t *err);

/* The prediction log's size per team and deployment (0: direct and batch
 * records): {"items": [{"team_id", "deployment_id", "rows", "bytes"}]},
 * bytes estimated from the stored values. No permission check. */
int serve_log_storage(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);

/* ---------------------------------------------------------- deployments */

/* spec: {"name", "team", "description"?, "primary": TARGET,
 *        "canaries"?: [TARGET + "weight": 0..100, ...],
 *        "shadows"?: [TARGET, ...],
 *        "sticky"?: null | {"field": F} | {"header": H}}
 * where TARGET is {"model": NAME, "version": N | "alias" | "latest"} of a
 * model of the same team. The canaries' weights are percentages of the
 * traffic (at most 100 in all); the primary takes the rest. Every version
 * is loaded before the deployment is created. *out: the deployment. */
int serve_deployment_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                            mops_err_t *err);

typedef struct serve_deployment_filter {
    const char *team; /* may be NULL */
    int64_t after_id; /* page token */
    int limit;        /* 1..1000 (50) */
} serve_deployment_filter_t;

/* Deployments the caller may see. *out: {"items", "next_page_token"}. */
int serve_deployment_list(const mops_ctx_t *ctx, const serve_deployment_filter_t *f,
                          json_t **out, mops_err_t *err);

/* One deployment: its configuration, revision and this server's counters. */
int serve_deployment_get(const mops_ctx_t *ctx, const char *name, json_t **out, mops_err_t *err);

/* spec: any of description, primary, canaries, shadows, sticky (each
 * replacing what was), or "promote": TARGET (a canary becomes the primary,
 * the old primary leaves), and "if_revision": N to refuse (409) when the
 * deployment changed since revision N. Writes revision + 1. */
int serve_deployment_update(const mops_ctx_t *ctx, const char *name, const json_t *spec,
                            json_t **out, mops_err_t *err);

/* spec: {"revision"?: N, "if_revision"?: N}. Writes a new revision whose
 * configuration is revision N's (default: the one before the current). */
int serve_deployment_rollback(const mops_ctx_t *ctx, const char *name, const json_t *spec,
                              json_t **out, mops_err_t *err);

/* Delete: the name is free again; the history is kept. */
int serve_deployment_delete(const mops_ctx_t *ctx, const char *name, mops_err_t *err);

/* Revisions newest first, before_revision (0: from the newest) as the page
 * token. *out: {"items", "next_page_token"}. */
int serve_deployment_history(const mops_ctx_t *ctx, const char *name, int64_t before_revision,
                             int limit, json_t **out, mops_err_t *err);

/* This server's counters for the deployment since it was published here:
 * requests, errors, rows, latency percentiles, traffic per version, shadow
 * agreement, prediction log drops and samples; and the log queue's own. */
int serve_deployment_stats(const mops_ctx_t *ctx, const char *name, json_t **out,
                           mops_err_t *err);

/* Deployments routing to version_id (any role): {"items": [{"name",
 * "role", "weight"}]}. For lifecycle checks (may a version be retired?).
 * No permission check beyond the caller's context. */
int serve_version_deployments(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                              mops_err_t *err);

/* -------------------------------------------- answers to other modules */

/* Hooks of governance_providers_t (governance.h) and data lineage
 * (data_deployments_fn, data.h), registered by server.c. They read the
 * store on ctx's connection, inside the caller's transaction.
 * traffic: {"receiving": bool, "kinds": [roles], "deployments": [...]};
 * deployments: [{"name", "role", "weight"}]; lineage: the deployments of
 * team/model@version with "status". Prediction counts are FinOps' metering
 * (finops_governance_predictions, finops_lineage_predictions). */
int serve_governance_traffic(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                             mops_err_t *err);
int serve_governance_deployments(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                                 mops_err_t *err);
int serve_lineage_deployments(const mops_ctx_t *ctx, const char *team, const char *model,
                              int64_t version, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ inference */

/* What the HTTP layer knows of the request, for the prediction log and for
 * sticky routing by header. */
typedef struct serve_call {
    int64_t t0_us;          /* monotonic time (mops_mono_us) of its first byte */
    int64_t cpu_mark_ns;    /* its CPU time counts from here (mops_thread_cpu_since) */
    int64_t bytes_in;       /* request body bytes */
    const char *(*header)(void *arg, const char *name); /* a request header or NULL */
    void *header_arg;
} serve_call_t;

/* A response body built by serve: JSON text, heap, the caller frees it. */
typedef struct serve_reply {
    char *body;
    size_t len;
} serve_reply_t;

/* POST /v2/models/{name}[/versions/{version}]/infer. name is a deployment
 * (routed; version, if given, picks one of its versions: "3" or
 * "model@3"), or a model the caller can see (version: a number, an alias
 * or "latest", the default); "team:model" names a model unambiguously.
 * body is the OIP inference request's JSON text (len bytes: parsed here,
 * in the request's arena, faster than jansson). Errors name what is wrong:
 * MOPS_EINVAL (malformed request, datatype, shape, missing values where the
 * model takes none, too many rows, ambiguous name), MOPS_ENOTFOUND,
 * MOPS_EFORBIDDEN. */
int serve_infer(const mops_ctx_t *ctx, const char *name, const char *version, const char *body,
                size_t len, const serve_call_t *call, serve_reply_t *reply, mops_err_t *err);

/* POST /api/v1/deployments/{name}/predict: body {"instances": [{feature:
 * value, ...} | [values...], ...], "parameters"?: {...}}; absent features
 * are missing values. */
int serve_predict(const mops_ctx_t *ctx, const char *name, const char *body, size_t len,
                  const serve_call_t *call, serve_reply_t *reply, mops_err_t *err);

/* GET /v2: server metadata. */
int serve_oip_server(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);

/* GET /v2/health/ready: 1 once every deployment has been loaded. */
int serve_ready(void);

/* GET /v2/models/{name}[/versions/{version}]: metadata with the input and
 * output tensors. */
int serve_oip_model(const mops_ctx_t *ctx, const char *name, const char *version, json_t **out,
                    mops_err_t *err);

/* GET /v2/models/{name}[/versions/{version}]/ready: *out {"name", "ready"};
 * *ready says whether it can serve now. */
int serve_oip_model_ready(const mops_ctx_t *ctx, const char *name, const char *version,
                          json_t **out, int *ready, mops_err_t *err);

/* ----------------------------------------------------------- batch jobs */

typedef struct serve_upload serve_upload_t;

/* Receive a CSV to score for team (the caller needs job.run there), at
 * most max_bytes. Then _write any number of times, and _finish, which
 * stores it in the blob store and answers {"sha256", "size"}; or _abort. */
int serve_job_input_begin(const mops_ctx_t *ctx, const char *team, int64_t max_bytes,
                          serve_upload_t **out, mops_err_t *err);
int serve_job_input_write(serve_upload_t *u, const void *p, size_t n, mops_err_t *err);
int serve_job_input_finish(const mops_ctx_t *ctx, serve_upload_t *u, json_t **out,
                           mops_err_t *err);
void serve_job_input_abort(serve_upload_t *u);

/* spec: {"deployment": NAME} (scored by its primary at submission) or
 * {"team", "model", "version"?}; "input": {"upload": SHA256} (a CSV
 * uploaded to the team) — {"dataset": ...} is reserved for registered
 * datasets; "outputs"?: ["label", "value", "margin"]; "keep"?: [input
 * columns copied to the result]. *out: the job, queued. */
int serve_job_submit(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err);

typedef struct serve_job_filter {
    const char *team, *status; /* may be NULL */
    int64_t before_id;         /* page token */
    int limit;
} serve_job_filter_t;

int serve_job_list(const mops_ctx_t *ctx, const serve_job_filter_t *f, json_t **out,
                   mops_err_t *err);
int serve_job_get(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err);

/* Cancel a queued job, or ask a running one to stop (within a batch); a
 * job that already ended is left as it is (cancelling is best-effort and
 * idempotent). *out: the job. */
int serve_job_cancel(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err);

/* Open a finished job's result CSV (hash-checked); the caller owns *fd. */
int serve_job_open_result(const mops_ctx_t *ctx, int64_t id, int *fd, int64_t *size,
                          char sha256[65], mops_err_t *err);

#endif
