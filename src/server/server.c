/*
 * server.c — the server process: data directory and its lock, store and
 * migrations, first-start bootstrap, the HTTP server, and graceful stop.
 */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/text.h"
#include "data/data.h"
#include "finops/finops.h"
#include "governance/governance.h"
#include "http/http.h"
#include "monitor/monitor.h"
#include "notify/notify.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "store/store.h"

/* Split "host:port", "[v6]:port", ":port" or "port". */
static int parse_listen(const char *listen, char *host, size_t hsize, int *port,
                        mops_err_t *err)
{
    const char *colon = strrchr(listen, ':');
    const char *p = colon ? colon + 1 : listen;
    long long v;
    if (mops_parse_i64(p, &v) != 0 || v > 65535)
        return mops_err_set(err, MOPS_EINVAL,
                            "listen address \"%.80s\" must be HOST:PORT (port 0-65535)", listen);
    *port = (int)v;
    if (!colon || colon == listen) {
        snprintf(host, hsize, "127.0.0.1");
    } else if (listen[0] == '[' && colon[-1] == ']') {
        snprintf(host, hsize, "%.*s", (int)(colon - listen - 2), listen + 1);
    } else {
        snprintf(host, hsize, "%.*s", (int)(colon - listen), listen);
    }
    return 0;
}

/* One server per data directory: a second would remove the first's
 * in-progress uploads at start-up. */
static int lock_data_dir(const char *dir, int *fd_out, mops_err_t *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/server.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return mops_err_set(err, MOPS_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return mops_err_set(err, MOPS_EUNAVAIL,
                            "another mops server is already running on data directory '%s'", dir);
    }
    *fd_out = fd;
    return 0;
}

static int open_access_log(const char *spec, int *fd, mops_err_t *err)
{
    if (!strcmp(spec, "off")) {
        *fd = -1;
        return 0;
    }
    if (!strcmp(spec, "-")) {
        *fd = 2;
        return 0;
    }
    *fd = open(spec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (*fd < 0)
        return mops_err_set(err, MOPS_EIO, "cannot open access log '%s': %s", spec,
                            strerror(errno));
    return 0;
}

static int bootstrap(store_t *st, const mops_env_t *env, mops_err_t *err)
{
    store_conn_t *db;
    int rc = store_conn_acquire(st, &db, err);
    if (rc != 0)
        return rc;
    mops_arena_t *arena = mops_arena_new();
    mops_ctx_t ctx = {.db = db, .who = NULL, .request_id = "bootstrap", .arena = arena, .env = env};
    char token[AUTH_TOKEN_LEN + 1], path[PATH_MAX];
    int created = 0;
    snprintf(path, sizeof path, "%s/admin-token", env->data_dir);
    rc = auth_bootstrap(&ctx, path, token, &created, err);
    if (rc == 0 && created) {
        printf("created the administrator 'admin'; its API token (shown once, also in %s):\n"
               "  %s\n",
               path, token);
        memset(token, 0, sizeof token);
    }
    fflush(stdout);
    store_conn_release(db);
    mops_arena_free(arena);
    return rc;
}

/* Lineage's deployments of a model version: serving's, each with the
 * predictions FinOps metered through it. */
static int lineage_deployments(const mops_ctx_t *ctx, const char *team, const char *model,
                               int64_t version, json_t **out, mops_err_t *err)
{
    json_t *items = NULL, *it;
    int rc = serve_lineage_deployments(ctx, team, model, version, &items, err);
    size_t i;
    json_array_foreach(items, i, it) {
        int64_t n = 0;
        if (rc == 0 && (rc = finops_lineage_predictions(ctx, team, model, version,
                                                        mops_json_str(it, "name", ""), &n,
                                                        err)) == 0)
            json_object_set_new(it, "predictions", json_integer(n));
    }
    if (rc != 0) {
        json_decref(items);
        return rc;
    }
    *out = items;
    return 0;
}

/* Connect the modules that answer questions of modules below them
 * (docs/architecture.md): governance asks serving, monitoring, FinOps and
 * DataOps; data lineage asks serving; FinOps asks monitoring. */
static void providers_register(void)
{
    governance_providers_t gp = {.traffic = serve_governance_traffic,
                                 .deployments = serve_governance_deployments,
                                 .predictions = finops_governance_predictions,
                                 .dataset = data_governance_dataset,
                                 .monitoring = monitor_governance_monitoring,
                                 .incidents = monitor_governance_incidents,
                                 .cost_per_1k = finops_governance_cost_per_1k,
                                 .cost = finops_governance_cost,
                                 .model_pii = data_model_pii};
    governance_providers_set(&gp);
    data_lineage_set_deployments(lineage_deployments);
    finops_monitor_t fm = {.availability = monitor_availability,
                           .alert_count = monitor_alert_count,
                           .monitored = monitor_version_monitored};
    finops_set_monitor(&fm);
    finops_set_positives(monitor_labels_positives);
}

int server_run(const server_config_t *cfg, mops_err_t *err)
{
    mops_log_level_t level;
    if (mops_log_level_parse(cfg->log_level, &level) != 0)
        return mops_err_set(err, MOPS_EINVAL, "log level \"%.20s\" must be debug, info, warn or "
                            "error", cfg->log_level);
    mops_log_setup(level, strcmp(cfg->log_format, "json") ? MOPS_LOG_TEXT : MOPS_LOG_JSON, 2);
    /* A fixed mmap threshold. glibc raises its own (up to 32 MiB) the first
     * time a mapped block is freed; from then on a model load's large
     * buffers come from the malloc arenas and fragment them, and resident
     * memory stays up after the model is unloaded (bench/run.sh serve's
     * load test: +12% after a canary cycle, +2.4% with this). Blocks of
     * 1 MiB or more are mapped and unmapped whole. */
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    char host[256];
    int port = 0, rc, lock_fd = -1, log_fd = -1;
    if ((rc = parse_listen(cfg->listen, host, sizeof host, &port, err)) != 0 ||
        (rc = mops_mkdir_p(cfg->data_dir, 0700, err)) != 0 ||
        (rc = lock_data_dir(cfg->data_dir, &lock_fd, err)) != 0)
        return rc;
    char artifacts[PATH_MAX];
    snprintf(artifacts, sizeof artifacts, "%s/artifacts", cfg->data_dir);
    mops_env_t env = {.data_dir = cfg->data_dir, .artifact_dir = artifacts,
                      .max_upload = cfg->max_upload};
    store_t *st = NULL;
    http_server_t *http = NULL;
    int applied = 0, serving = 0, metering = 0;
    serve_options_t so = SERVE_OPTIONS_INIT;
    so.max_rows = cfg->max_rows;
    so.queue_bytes = cfg->prediction_queue;
    so.log_sample = cfg->log_sample;
    so.log_retention_days = cfg->log_retention_days;
    so.shadow_workers = cfg->shadow_workers;
    so.job_threads = cfg->job_threads;
    so.version = MOPS_VERSION;
    notify_t *notify = NULL;
    if ((rc = store_open(cfg->db, &st, err)) != 0 || (rc = store_migrate(st, &applied, err)) != 0 ||
        (rc = registry_artifacts_init(&env, err)) != 0 ||
        (rc = bootstrap(st, &env, err)) != 0 ||
        (rc = open_access_log(cfg->access_log, &log_fd, err)) != 0)
        goto out;
    if (applied)
        mops_info("store: applied %d migration(s)", applied);
    providers_register();
    /* Block the stop signals in every thread (MHD's inherit the mask) and
     * wait for them here; a closed client socket must not kill us. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Metering observes serving (its observer is registered before
     * serving starts) and stops after it, so the last requests count. */
    finops_options_t fo = FINOPS_OPTIONS_INIT;
    fo.flush_ms = cfg->meter_interval_ms;
    if ((rc = finops_start(st, &env, &fo, err)) != 0)
        goto out;
    metering = 1;
    /* Serving threads start before HTTP and stop after it, before the
     * store closes. */
    /* Monitoring observes serving: its observer is registered first. */
    monitor_options_t mo = MONITOR_OPTIONS_INIT;
    mo.flush_ms = cfg->monitor_interval_ms;
    if ((cfg->monitoring && (rc = monitor_start(st, &env, &mo, err)) != 0) ||
        (rc = serve_start(st, &env, &so, err)) != 0)
        goto out;
    serving = 1;
    http_config_t hc = {.host = host, .port = port, .threads = cfg->threads,
                        .max_body = cfg->max_body, .max_upload = cfg->max_upload,
                        .access_log_fd = log_fd, .store = st, .env = &env};
    /* The webhook delivery thread inherits the blocked stop signals. */
    if ((rc = notify_start(st, &env, &notify, err)) != 0 ||
        (rc = http_server_start(&hc, &http, err)) != 0)
        goto out;
    int bound = http_server_port(http);
    int v6 = strchr(host, ':') != NULL;
    printf("mops %s listening on http://%s%s%s:%d (data %s, store %s)\n", MOPS_VERSION,
           v6 ? "[" : "", host, v6 ? "]" : "", bound, cfg->data_dir,
           store_kind(st) == STORE_SQLITE ? "SQLite" : "PostgreSQL");
    fflush(stdout);
    mops_info("server: ready on port %d with %d threads", bound, cfg->threads);
    int sig = 0;
    sigwait(&stop, &sig);
    mops_info("server: %s received, finishing in-flight requests", strsignal(sig));
    http_server_stop(http, 10000);
    mops_info("server: stopped");
out:
    if (serving)
        serve_stop();
    monitor_stop(); /* after serving: every request is folded and written */
    if (metering)
        finops_stop();
    auth_cache_flush();
    notify_stop(notify);
    store_close(st);
    if (log_fd > 2)
        close(log_fd);
    if (lock_fd >= 0)
        close(lock_fd);
    return rc;
}
