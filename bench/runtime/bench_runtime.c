/*
 * bench_runtime.c — the mops runtime against XGBoost's own C predictor
 * (libxgboost, XGBoosterPredictFromDense) on the same model and rows, in one
 * run, so the result is a ratio that does not depend on the machine's mood.
 *
 *   bench_runtime MODEL.json ROWS.f32 NROWS NCOLS [REPEATS [BIG.json]]
 *
 * Measures, for both: load time and memory (mops), rows/s on one thread,
 * rows/s on two threads, and single-row latency (median and p99 over many
 * calls). Runs alternate (xgboost, mops, xgboost, ...) and the best of
 * REPEATS (default 5) is kept, which cancels most interference from other
 * processes. Also checks that both give the same outputs. With BIG.json,
 * also times loading that (large) model in both and reports mops' memory.
 *
 * Built and run by bench/run.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <xgboost/c_api.h>

#include "runtime/runtime.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define XGB_OK(call)                                                                      \
    do {                                                                                  \
        if ((call) != 0) {                                                                \
            fprintf(stderr, "xgboost: %s: %s\n", #call, XGBGetLastError());               \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

typedef struct {
    BoosterHandle h;
    char iface[256];
    const char *config;
} xgb_t;

static void xgb_interface(xgb_t *x, const float *rows, size_t n, size_t f)
{
    snprintf(x->iface, sizeof x->iface,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
             (unsigned long long)(uintptr_t)rows, n, f);
}

static const float *xgb_predict(xgb_t *x, const float *rows, size_t n, size_t f)
{
    xgb_interface(x, rows, n, f);
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    XGB_OK(XGBoosterPredictFromDense(x->h, x->iface, x->config, NULL, &shape, &dim, &res));
    return res;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.json ROWS.f32 NROWS NCOLS [REPEATS]\n", argv[0]);
        return 2;
    }
    const char *model_path = argv[1];
    size_t nrows = strtoull(argv[3], NULL, 10), ncols = strtoull(argv[4], NULL, 10);
    int repeats = argc > 5 ? atoi(argv[5]) : 5;
    float *rows = malloc(nrows * ncols * sizeof *rows);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(rows, sizeof *rows, nrows * ncols, f) != nrows * ncols) {
        fprintf(stderr, "cannot read %zu x %zu floats from %s\n", nrows, ncols, argv[2]);
        return 1;
    }
    fclose(f);

    /* ---- load */
    mops_err_t err;
    runtime_model_t *m;
    double t0 = now();
    if (runtime_model_load_file(model_path, NULL, &m, &err) < 0) {
        fprintf(stderr, "mops: %s\n", err.msg);
        return 1;
    }
    double mops_load = now() - t0;
    runtime_model_info_t info;
    runtime_model_info(m, &info);

    xgb_t x;
    t0 = now();
    XGB_OK(XGBoosterCreate(NULL, 0, &x.h));
    XGB_OK(XGBoosterLoadModel(x.h, model_path));
    double xgb_load = now() - t0;
    x.config = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
               "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}";

    printf("model: %s, %s, %zu trees, max depth %d, %zu features\n", model_path, info.objective,
           info.n_trees, info.max_depth, info.n_features);
    printf("rows: %zu\n\n", nrows);

    double *out = malloc(nrows * sizeof *out);
    runtime_predict_opts_t opts = RUNTIME_PREDICT_OPTS_INIT;
    opts.iteration_end = RUNTIME_ITERATIONS_ALL;
    runtime_scratch_t *scratch = runtime_scratch_new();

    /* ---- agreement */
    XGB_OK(XGBoosterSetParam(x.h, "nthread", "1"));
    const float *ref = xgb_predict(&x, rows, nrows, ncols);
    if (runtime_predict_f32(m, &opts, rows, nrows, ncols, out, scratch, &err) < 0) {
        fprintf(stderr, "mops: %s\n", err.msg);
        return 1;
    }
    double worst = 0;
    size_t differ = 0;
    for (size_t i = 0; i < nrows; i++) {
        double d = fabs(out[i] - ref[i]) / fmax(fabs(ref[i]), 1e-30);
        if (d > worst)
            worst = d;
        differ += out[i] != (double)ref[i];
    }
    printf("agreement: %zu of %zu outputs differ from xgboost, largest relative difference %.3g\n\n",
           differ, nrows, worst);

    /* ---- throughput */
    double best[2][2] = {{1e30, 1e30}, {1e30, 1e30}}; /* [threads-1][xgb, mops] */
    for (int th = 1; th <= 2; th++) {
        XGB_OK(XGBoosterSetParam(x.h, "nthread", th == 1 ? "1" : "2"));
        for (int r = 0; r < repeats; r++) {
            t0 = now();
            xgb_predict(&x, rows, nrows, ncols);
            double dt = now() - t0;
            if (dt < best[th - 1][0])
                best[th - 1][0] = dt;
            t0 = now();
            int rc = th == 1 ? runtime_predict_f32(m, &opts, rows, nrows, ncols, out, scratch, &err)
                             : runtime_predict_parallel_f32(m, &opts, rows, nrows, ncols, out, 2, &err);
            dt = now() - t0;
            if (rc < 0) {
                fprintf(stderr, "mops: %s\n", err.msg);
                return 1;
            }
            if (dt < best[th - 1][1])
                best[th - 1][1] = dt;
        }
    }

    /* ---- latency: one row per call, each library on its own (as a
     * server scoring one request after another), over different rows. */
    XGB_OK(XGBoosterSetParam(x.h, "nthread", "1"));
    enum { CALLS = 5000 };
    double *lat_x = malloc(CALLS * sizeof *lat_x), *lat_m = malloc(CALLS * sizeof *lat_m);
    for (int i = 0; i < CALLS; i++) {
        const float *row = rows + (size_t)(i % (int)nrows) * ncols;
        t0 = now();
        xgb_predict(&x, row, 1, ncols);
        lat_x[i] = now() - t0;
    }
    for (int i = 0; i < CALLS; i++) {
        const float *row = rows + (size_t)(i % (int)nrows) * ncols;
        t0 = now();
        runtime_predict_f32(m, &opts, row, 1, ncols, out, scratch, &err);
        lat_m[i] = now() - t0;
    }
    qsort(lat_x, CALLS, sizeof *lat_x, cmp_double);
    qsort(lat_m, CALLS, sizeof *lat_m, cmp_double);

    printf("%-34s %14s %14s %8s\n", "", "xgboost", "mops", "ratio");
    printf("%-34s %14.0f %14.0f %7.2fx\n", "rows/s, 1 thread", nrows / best[0][0], nrows / best[0][1],
           best[0][0] / best[0][1]);
    printf("%-34s %14.0f %14.0f %7.2fx\n", "rows/s, 2 threads", nrows / best[1][0],
           nrows / best[1][1], best[1][0] / best[1][1]);
    printf("%-34s %14.1f %14.1f %7.2fx\n", "single-row latency median (us)", lat_x[CALLS / 2] * 1e6,
           lat_m[CALLS / 2] * 1e6, lat_x[CALLS / 2] / lat_m[CALLS / 2]);
    printf("%-34s %14.1f %14.1f %7.2fx\n", "single-row latency p99 (us)", lat_x[CALLS * 99 / 100] * 1e6,
           lat_m[CALLS * 99 / 100] * 1e6, lat_x[CALLS * 99 / 100] / lat_m[CALLS * 99 / 100]);
    printf("%-34s %14.3f %14.3f\n", "load time (s)", xgb_load, mops_load);
    printf("%-34s %14s %14zu\n", "loaded model (bytes)", "-", info.memory_bytes);

    if (argc > 6) {
        const char *big = argv[6];
        struct stat st;
        if (stat(big, &st) != 0) {
            fprintf(stderr, "cannot stat %s\n", big);
            return 1;
        }
        double best_m = 1e30, best_x = 1e30;
        size_t mem = 0;
        for (int r = 0; r < 3; r++) {
            runtime_model_t *bm;
            t0 = now();
            if (runtime_model_load_file(big, NULL, &bm, &err) < 0) {
                fprintf(stderr, "mops: %s\n", err.msg);
                return 1;
            }
            double dt = now() - t0;
            if (dt < best_m)
                best_m = dt;
            runtime_model_info_t bi;
            runtime_model_info(bm, &bi);
            mem = bi.memory_bytes;
            runtime_model_unref(bm);
            BoosterHandle bh;
            t0 = now();
            XGB_OK(XGBoosterCreate(NULL, 0, &bh));
            XGB_OK(XGBoosterLoadModel(bh, big));
            dt = now() - t0;
            if (dt < best_x)
                best_x = dt;
            XGBoosterFree(bh);
        }
        printf("%-34s %14.3f %14.3f %7.2fx\n", "load big model (s)", best_x, best_m, best_x / best_m);
        printf("%-34s %14lld %14zu\n", "big model file / loaded (bytes)", (long long)st.st_size, mem);
    }

    runtime_scratch_free(scratch);
    runtime_model_unref(m);
    XGBoosterFree(x.h);
    free(rows);
    free(out);
    free(lat_x);
    free(lat_m);
    return 0;
}
