/*
 * config.c — server settings from flags, MOPS_* environment variables and a
 * "key = value" config file, in that order of precedence.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/mem.h"
#include "core/text.h"
#include "server/server.h"

typedef struct setting {
    const char *key;  /* config-file key */
    const char *env;  /* environment variable */
    const char *flag; /* long option */
    char *value;      /* winning value (heap) */
    const char *from; /* where it came from, for messages */
} setting_t;

enum { S_DATA, S_LISTEN, S_DB, S_THREADS, S_MAX_BODY, S_MAX_UPLOAD, S_ACCESS_LOG, S_LOG_LEVEL,
       S_LOG_FORMAT, S_MAX_ROWS, S_PREDICTION_QUEUE, S_LOG_SAMPLE, S_SHADOW_WORKERS,
       S_JOB_THREADS, S_MONITORING, S_MONITOR_INTERVAL, S_METER_INTERVAL, S_LOG_RETENTION,
       S_COUNT };

void server_config_usage(FILE *f)
{
    fprintf(f,
            "usage: mops server [options]\n\n"
            "Run the mops platform: REST API, registry, audit trail, serving.\n\n"
            "options (flag > environment > config file > default):\n"
            "  --data DIR           data directory (MOPS_DATA; ./var)\n"
            "  --listen HOST:PORT   address to serve on (MOPS_LISTEN; 127.0.0.1:8080;\n"
            "                       port 0 picks a free port)\n"
            "  --db URI             store: sqlite:PATH or postgresql://... (MOPS_DB;\n"
            "                       sqlite:DATA/mops.db)\n"
            "  --threads N          HTTP worker threads (MOPS_THREADS; 2 per CPU, at least 4)\n"
            "  --max-body SIZE      largest JSON request body (MOPS_MAX_BODY; 1MiB)\n"
            "  --max-upload SIZE    largest artifact upload (MOPS_MAX_UPLOAD; 2GiB)\n"
            "  --access-log FILE    one JSON line per request; '-' for stderr, 'off'\n"
            "                       (MOPS_ACCESS_LOG; DATA/access.log)\n"
            "  --log-level LEVEL    debug, info, warn, error (MOPS_LOG_LEVEL; info)\n"
            "  --log-format FORMAT  text or json (MOPS_LOG_FORMAT; text)\n"
            "  --max-rows N         rows in one inference request (MOPS_MAX_ROWS; 10000)\n"
            "  --prediction-queue SIZE  memory of the queue to the prediction log\n"
            "                       (MOPS_PREDICTION_QUEUE; 16MiB; 0 turns the log off)\n"
            "  --log-sample N       once that queue is 3/4 full keep 1 prediction in N\n"
            "                       (MOPS_LOG_SAMPLE; 10)\n"
            "  --log-retention-days N  delete prediction log rows older than N days\n"
            "                       (MOPS_LOG_RETENTION_DAYS; 90; 0 keeps them)\n"
            "  --shadow-workers N   threads running shadow versions (MOPS_SHADOW_WORKERS; 2)\n"
            "  --job-threads N      scoring threads of a batch job (MOPS_JOB_THREADS; 1)\n"
            "  --monitoring on|off  fold every request into monitoring's aggregates\n"
            "                       (MOPS_MONITORING; on)\n"
            "  --monitor-interval MS  how often monitoring writes its aggregates and\n"
            "                       evaluates alert rules (MOPS_MONITOR_INTERVAL; 5000)\n"
            "  --meter-interval MS  how often metered usage is written and budgets are\n"
            "                       checked (MOPS_METER_INTERVAL; 10000)\n"
            "  --config FILE        read 'key = value' lines (MOPS_CONFIG); keys are the\n"
            "                       option names with '_' for '-': data, listen, db, ...\n"
            "  -h, --help           show this help\n\n"
            "On first start the server creates the user 'admin', writes its API token to\n"
            "DATA/admin-token (mode 0600) and prints it once.\n");
}

static void set(setting_t *s, const char *value, const char *from)
{
    free(s->value);
    s->value = mops_xstrdup(value);
    s->from = from;
}

static int load_file(setting_t *st, const char *path, mops_err_t *err)
{
    char *text;
    size_t len;
    int rc = mops_read_file(path, 1 << 20, &text, &len, err);
    if (rc != 0)
        return mops_err_wrap(err, "config file");
    int line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        while (isspace((unsigned char)*l))
            l++;
        if (!*l || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = mops_err_set(err, MOPS_EINVAL, "config file %s: line %d is not 'key = value'",
                              path, line);
            break;
        }
        char *k = l, *v = eq + 1, *ke = eq;
        while (ke > k && isspace((unsigned char)ke[-1]))
            ke--;
        *ke = '\0';
        while (isspace((unsigned char)*v))
            v++;
        char *ve = v + strlen(v);
        while (ve > v && isspace((unsigned char)ve[-1]))
            *--ve = '\0';
        int i = 0;
        while (i < S_COUNT && strcmp(st[i].key, k) != 0)
            i++;
        if (i == S_COUNT) {
            rc = mops_err_set(err, MOPS_EINVAL, "config file %s: line %d: unknown key '%.40s'",
                              path, line, k);
            break;
        }
        set(&st[i], v, "the config file");
    }
    free(text);
    return rc;
}

static int to_int64(const setting_t *s, int size, int64_t min, int64_t max, int64_t *out,
                    mops_err_t *err)
{
    long long v;
    int rc = size ? mops_parse_size(s->value, &v) : mops_parse_i64(s->value, &v);
    if (rc != 0 || v < min || v > max)
        return mops_err_set(err, MOPS_EINVAL, "%s \"%.40s\" (from %s) must be %s from %lld to %lld",
                            s->key, s->value, s->from, size ? "a size such as 1MiB" : "a number",
                            (long long)min, (long long)max);
    *out = v;
    return 0;
}

int server_config_load(server_config_t *cfg, int argc, char **argv, mops_err_t *err)
{
    setting_t st[S_COUNT] = {
        [S_DATA] = {"data", "MOPS_DATA", "data", NULL, NULL},
        [S_LISTEN] = {"listen", "MOPS_LISTEN", "listen", NULL, NULL},
        [S_DB] = {"db", "MOPS_DB", "db", NULL, NULL},
        [S_THREADS] = {"threads", "MOPS_THREADS", "threads", NULL, NULL},
        [S_MAX_BODY] = {"max_body", "MOPS_MAX_BODY", "max-body", NULL, NULL},
        [S_MAX_UPLOAD] = {"max_upload", "MOPS_MAX_UPLOAD", "max-upload", NULL, NULL},
        [S_ACCESS_LOG] = {"access_log", "MOPS_ACCESS_LOG", "access-log", NULL, NULL},
        [S_LOG_LEVEL] = {"log_level", "MOPS_LOG_LEVEL", "log-level", NULL, NULL},
        [S_LOG_FORMAT] = {"log_format", "MOPS_LOG_FORMAT", "log-format", NULL, NULL},
        [S_MAX_ROWS] = {"max_rows", "MOPS_MAX_ROWS", "max-rows", NULL, NULL},
        [S_PREDICTION_QUEUE] = {"prediction_queue", "MOPS_PREDICTION_QUEUE", "prediction-queue",
                                NULL, NULL},
        [S_LOG_SAMPLE] = {"log_sample", "MOPS_LOG_SAMPLE", "log-sample", NULL, NULL},
        [S_LOG_RETENTION] = {"log_retention_days", "MOPS_LOG_RETENTION_DAYS",
                             "log-retention-days", NULL, NULL},
        [S_SHADOW_WORKERS] = {"shadow_workers", "MOPS_SHADOW_WORKERS", "shadow-workers", NULL,
                              NULL},
        [S_JOB_THREADS] = {"job_threads", "MOPS_JOB_THREADS", "job-threads", NULL, NULL},
        [S_MONITORING] = {"monitoring", "MOPS_MONITORING", "monitoring", NULL, NULL},
        [S_MONITOR_INTERVAL] = {"monitor_interval", "MOPS_MONITOR_INTERVAL", "monitor-interval",
                                NULL, NULL},
        [S_METER_INTERVAL] = {"meter_interval", "MOPS_METER_INTERVAL", "meter-interval", NULL,
                              NULL},
    };
    struct option opts[S_COUNT + 3];
    for (int i = 0; i < S_COUNT; i++)
        opts[i] = (struct option){st[i].flag, required_argument, NULL, 256 + i};
    opts[S_COUNT] = (struct option){"config", required_argument, NULL, 'C'};
    opts[S_COUNT + 1] = (struct option){"help", no_argument, NULL, 'h'};
    opts[S_COUNT + 2] = (struct option){NULL, 0, NULL, 0};
    memset(cfg, 0, sizeof *cfg);
    const char *config_file = getenv("MOPS_CONFIG");
    char *flag_values[S_COUNT] = {0};
    int c, rc = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c >= 256 && c < 256 + S_COUNT)
            flag_values[c - 256] = optarg;
        else if (c == 'C')
            config_file = optarg;
        else if (c == 'h') {
            server_config_usage(stdout);
            return 1;
        } else if (c == ':')
            return mops_err_set(err, MOPS_EINVAL, "option %s needs a value", argv[optind - 1]);
        else
            return mops_err_set(err, MOPS_EINVAL, "unknown option %s (see mops server --help)",
                                argv[optind - 1]);
    }
    if (optind < argc)
        return mops_err_set(err, MOPS_EINVAL, "unexpected argument '%s' (see mops server --help)",
                            argv[optind]);
    /* Lowest precedence first, each layer overriding the one before. */
    if (config_file && (rc = load_file(st, config_file, err)) != 0)
        goto done;
    for (int i = 0; i < S_COUNT; i++) {
        const char *e = getenv(st[i].env);
        if (e && *e)
            set(&st[i], e, st[i].env);
        if (flag_values[i])
            set(&st[i], flag_values[i], "the command line");
    }
    cfg->data_dir = mops_xstrdup(st[S_DATA].value ? st[S_DATA].value : "./var");
    cfg->listen = mops_xstrdup(st[S_LISTEN].value ? st[S_LISTEN].value : "127.0.0.1:8080");
    cfg->db = st[S_DB].value ? mops_xstrdup(st[S_DB].value)
                             : mops_xasprintf("sqlite:%s/mops.db", cfg->data_dir);
    cfg->access_log = st[S_ACCESS_LOG].value
                          ? mops_xstrdup(st[S_ACCESS_LOG].value)
                          : mops_xasprintf("%s/access.log", cfg->data_dir);
    cfg->log_level = mops_xstrdup(st[S_LOG_LEVEL].value ? st[S_LOG_LEVEL].value : "info");
    cfg->log_format = mops_xstrdup(st[S_LOG_FORMAT].value ? st[S_LOG_FORMAT].value : "text");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t v;
    cfg->threads = ncpu * 2 > 4 ? (int)ncpu * 2 : 4;
    cfg->max_body = 1 << 20;
    cfg->max_upload = (int64_t)2 << 30;
    cfg->max_rows = 10000;
    cfg->prediction_queue = (int64_t)16 << 20;
    cfg->log_sample = 10;
    cfg->log_retention_days = 90;
    cfg->shadow_workers = 2;
    cfg->job_threads = 1;
    cfg->monitoring = 1;
    cfg->monitor_interval_ms = 5000;
    cfg->meter_interval_ms = 10000;
    if (st[S_THREADS].value && (rc = to_int64(&st[S_THREADS], 0, 1, 1024, &v, err)) == 0)
        cfg->threads = (int)v;
    if (rc == 0 && st[S_MAX_BODY].value &&
        (rc = to_int64(&st[S_MAX_BODY], 1, 1024, (int64_t)1 << 30, &v, err)) == 0)
        cfg->max_body = v;
    if (rc == 0 && st[S_MAX_UPLOAD].value &&
        (rc = to_int64(&st[S_MAX_UPLOAD], 1, 1, (int64_t)1 << 40, &v, err)) == 0)
        cfg->max_upload = v;
    if (rc == 0 && st[S_MAX_ROWS].value &&
        (rc = to_int64(&st[S_MAX_ROWS], 0, 1, 100000000, &v, err)) == 0)
        cfg->max_rows = v;
    if (rc == 0 && st[S_PREDICTION_QUEUE].value &&
        (rc = to_int64(&st[S_PREDICTION_QUEUE], 1, 0, (int64_t)1 << 40, &v, err)) == 0)
        cfg->prediction_queue = v;
    if (rc == 0 && st[S_LOG_SAMPLE].value &&
        (rc = to_int64(&st[S_LOG_SAMPLE], 0, 1, 1000000, &v, err)) == 0)
        cfg->log_sample = (int)v;
    if (rc == 0 && st[S_LOG_RETENTION].value &&
        (rc = to_int64(&st[S_LOG_RETENTION], 0, 0, 36500, &v, err)) == 0)
        cfg->log_retention_days = (int)v;
    if (rc == 0 && st[S_SHADOW_WORKERS].value &&
        (rc = to_int64(&st[S_SHADOW_WORKERS], 0, 0, 64, &v, err)) == 0)
        cfg->shadow_workers = (int)v;
    if (rc == 0 && st[S_JOB_THREADS].value &&
        (rc = to_int64(&st[S_JOB_THREADS], 0, 1, 256, &v, err)) == 0)
        cfg->job_threads = (int)v;
    if (rc == 0 && st[S_MONITOR_INTERVAL].value &&
        (rc = to_int64(&st[S_MONITOR_INTERVAL], 0, 10, 3600000, &v, err)) == 0)
        cfg->monitor_interval_ms = (int)v;
    if (rc == 0 && st[S_MONITORING].value) {
        const setting_t *m = &st[S_MONITORING];
        if (!strcmp(m->value, "on") || !strcmp(m->value, "off"))
            cfg->monitoring = !strcmp(m->value, "on");
        else
            rc = mops_err_set(err, MOPS_EINVAL, "monitoring \"%.20s\" (from %s) must be on or off",
                              m->value, m->from);
    }
    if (rc == 0 && st[S_METER_INTERVAL].value &&
        (rc = to_int64(&st[S_METER_INTERVAL], 0, 10, 3600000, &v, err)) == 0)
        cfg->meter_interval_ms = (int)v;
    if (rc == 0 && strcmp(cfg->log_format, "text") && strcmp(cfg->log_format, "json"))
        rc = mops_err_set(err, MOPS_EINVAL, "log_format \"%.20s\" must be text or json",
                          cfg->log_format);
done:
    for (int i = 0; i < S_COUNT; i++)
        free(st[i].value);
    if (rc != 0)
        server_config_release(cfg);
    return rc;
}

void server_config_release(server_config_t *cfg)
{
    free(cfg->data_dir);
    free(cfg->listen);
    free(cfg->db);
    free(cfg->access_log);
    free(cfg->log_level);
    free(cfg->log_format);
    memset(cfg, 0, sizeof *cfg);
}
