/*
 * bench_data.c — throughput of dataset profiling on one core: the file is
 * read in 256 KiB pieces and pushed through the CSV reader (libcsv) and
 * the analyzer of src/data (type inference, profile sketches, PII scan),
 * exactly as an upload is; "parse only" pushes the same pieces through
 * the CSV reader alone, to show what the analysis adds; "register" runs the
 * whole server-side upload (SHA-256, the blob written and fsynced, the
 * analysis, the rows recorded in a SQLite store under WORKDIR). Best of N.
 *
 *   bench_data FILE [REPEATS [WORKDIR]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/csv.h"
#include "core/time.h"
#include "data/data.h"
#include "data/data_int.h"
#include "store/blob.h"

#define PIECE (256 * 1024)

static int count_record(void *arg, const mops_csv_record_t *rec, mops_err_t *err)
{
    (void)rec;
    (void)err;
    (*(uint64_t *)arg)++;
    return 0;
}

static int analyze_record(void *arg, const mops_csv_record_t *rec, mops_err_t *err)
{
    return dt_analyzer_record(arg, rec, err);
}

/* One pass; returns seconds, or -1 on error. */
static double run(const char *path, int analyze, uint64_t *bytes, uint64_t *rows)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    char *buf = malloc(PIECE);
    mops_err_t err;
    uint64_t records = 0;
    dt_analyzer_t *a = analyze ? dt_analyzer_new("bench.csv") : NULL;
    mops_csv_t *c = analyze ? mops_csv_push_new("bench.csv", analyze_record, a)
                            : mops_csv_push_new("bench.csv", count_record, &records);
    int64_t t0 = mops_mono_us();
    size_t r;
    int rc = 0;
    *bytes = 0;
    while (rc == 0 && (r = fread(buf, 1, PIECE, f)) > 0) {
        rc = mops_csv_push(c, buf, r, &err);
        *bytes += r;
    }
    if (rc == 0)
        rc = mops_csv_push_end(c, &err);
    json_t *analysis = NULL;
    if (rc == 0 && a)
        rc = dt_analyzer_finish(a, &analysis, &err);
    double secs = (double)(mops_mono_us() - t0) / 1e6;
    if (rc != 0)
        fprintf(stderr, "bench_data: %s\n", err.msg);
    if (analysis)
        *rows = (uint64_t)json_integer_value(json_object_get(analysis, "rows"));
    else
        *rows = records ? records - 1 : 0;
    json_decref(analysis);
    mops_csv_close(c);
    dt_analyzer_free(a);
    free(buf);
    fclose(f);
    return rc ? -1 : secs;
}

/* The whole upload through the data module, into a fresh store. */
static double run_register(const char *path, const char *workdir, uint64_t *bytes,
                           uint64_t *rows)
{
    char dir[4096], uri[4200], art[4200];
    snprintf(dir, sizeof dir, "%s/bench-XXXXXX", workdir);
    if (!mkdtemp(dir)) {
        perror(dir);
        return -1;
    }
    snprintf(uri, sizeof uri, "sqlite:%s/mops.db", dir);
    snprintf(art, sizeof art, "%s/artifacts", dir);
    mops_env_t env = {.data_dir = dir, .artifact_dir = art, .max_upload = INT64_MAX};
    mops_ctx_t ctx = {.arena = mops_arena_new(), .env = &env, .request_id = "bench"};
    json_t *team = json_pack("{s:s}", "name", "bench"),
           *ds = json_pack("{s:s, s:s}", "team", "bench", "name", "d"), *out = NULL;
    char *buf = malloc(PIECE);
    store_t *st = NULL;
    data_upload_t *u = NULL;
    mops_err_t err;
    double secs = -1;
    FILE *f = fopen(path, "rb");
    int rc = f ? 0 : mops_err_set(&err, MOPS_EIO, "cannot open %s", path);
    if (rc == 0 && (rc = store_open(uri, &st, &err)) == 0 &&
        (rc = store_migrate(st, NULL, &err)) == 0 &&
        (rc = store_conn_acquire(st, &ctx.db, &err)) == 0 &&
        (rc = store_blob_init(art, &err)) == 0 &&
        (rc = auth_team_create(&ctx, team, &out, &err)) == 0) {
        json_decref(out);
        rc = data_dataset_create(&ctx, ds, &out, &err);
        json_decref(out);
        out = NULL;
    }
    int64_t t0 = mops_mono_us();
    if (rc == 0)
        rc = data_upload_begin(&ctx, "bench", "d", INT64_MAX, &u, &err);
    size_t r;
    *bytes = 0;
    while (rc == 0 && (r = fread(buf, 1, PIECE, f)) > 0) {
        rc = data_upload_write(u, buf, r, &err);
        *bytes += r;
    }
    if (u && rc == 0) {
        rc = data_upload_finish(&ctx, u, &out, &err); /* frees u */
        u = NULL;
    }
    if (rc == 0) {
        secs = (double)(mops_mono_us() - t0) / 1e6;
        *rows = (uint64_t)json_integer_value(json_object_get(out, "rows"));
    } else {
        fprintf(stderr, "bench_data: %s\n", err.msg);
    }
    data_upload_abort(u);
    json_decref(out);
    json_decref(team);
    json_decref(ds);
    free(buf);
    if (f)
        fclose(f);
    store_conn_release(ctx.db);
    store_close(st);
    mops_arena_free(ctx.arena);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_data: cannot remove %s\n", dir);
    return secs;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_data FILE [REPEATS]\n");
        return 2;
    }
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    const char *workdir = argc > 3 ? argv[3] : NULL;
    const char *what[] = {"parse only (libcsv)", "profile (parse + types + sketches + PII)",
                          "register (+ SHA-256, blob fsynced, store)"};
    for (int mode = 0; mode < (workdir ? 3 : 2); mode++) {
        double best = 1e30;
        uint64_t bytes = 0, rows = 0;
        for (int i = 0; i < repeats; i++) {
            double s = mode == 2 ? run_register(argv[1], workdir, &bytes, &rows)
                                 : run(argv[1], mode, &bytes, &rows);
            if (s < 0)
                return 1;
            if (s < best)
                best = s;
        }
        printf("%-44s %7.1f MB/s  (%.1f MB, %llu rows, best %.3f s of %d)\n", what[mode],
               (double)bytes / best / 1e6, (double)bytes / 1e6, (unsigned long long)rows, best,
               repeats);
    }
    return 0;
}
