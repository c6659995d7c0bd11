/*
 * server.h — the mops server process: its configuration (flags, then MOPS_*
 * environment variables, then a config file, then defaults), and the run
 * loop that opens the store, bootstraps the administrator, serves HTTP and
 * stops gracefully on SIGTERM or SIGINT.
 */
#ifndef MOPS_SERVER_SERVER_H
#define MOPS_SERVER_SERVER_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef struct server_config {
    char *data_dir;    /* data:        --data DIR, MOPS_DATA (./var) */
    char *listen;      /* listen:      --listen HOST:PORT, MOPS_LISTEN (127.0.0.1:8080) */
    char *db;          /* db:          --db URI, MOPS_DB (sqlite:DATA/mops.db) */
    int threads;       /* threads:     --threads N, MOPS_THREADS (2 per CPU, >= 4) */
    int64_t max_body;  /* max_body:    --max-body SIZE, MOPS_MAX_BODY (1MiB) */
    int64_t max_upload;/* max_upload:  --max-upload SIZE, MOPS_MAX_UPLOAD (2GiB) */
    char *access_log;  /* access_log:  --access-log FILE|-|off (DATA/access.log) */
    char *log_level;   /* log_level:   --log-level debug|info|warn|error (info) */
    char *log_format;  /* log_format:  --log-format text|json (text) */
    int64_t max_rows;  /* max_rows:    --max-rows N, MOPS_MAX_ROWS (10000) */
    int64_t prediction_queue; /* prediction_queue: --prediction-queue SIZE (16MiB; 0: off) */
    int log_sample;    /* log_sample:  --log-sample N (10) */
    int log_retention_days; /* log_retention_days: --log-retention-days N (90) */
    int shadow_workers;/* shadow_workers: --shadow-workers N (2) */
    int job_threads;   /* job_threads: --job-threads N (1) */
    int monitoring;    /* monitoring:  --monitoring on|off (on) */
    int monitor_interval_ms; /* monitor_interval: --monitor-interval MS (5000) */
    int meter_interval_ms; /* meter_interval: --meter-interval MS (10000) */
} server_config_t;

/* Fill cfg from argv (argv[0] is "server"), the environment and the config
 * file named by --config or MOPS_CONFIG. MOPS_EINVAL names a bad setting and
 * where it came from. Returns 1 (not an error) when --help was shown. */
int server_config_load(server_config_t *cfg, int argc, char **argv, mops_err_t *err);
void server_config_release(server_config_t *cfg);
void server_config_usage(FILE *f);

/* Run until SIGTERM/SIGINT. Prints the address (and the admin token on
 * first start) on stdout. */
int server_run(const server_config_t *cfg, mops_err_t *err);

#endif
