/*
 * bench_observe.c — what monitoring's fold costs a request thread, without
 * HTTP or the model: monitor_observe of single-row requests of the
 * benchmark's rows (F features, one output) for one deployment and version,
 * on 1 thread and on T threads at once (as the HTTP pool calls it): the
 * process's CPU time per request (steadier than wall time on a shared
 * machine; lock contention and cache-line traffic show in it), median of
 * REPEATS. Built and run by
 * bench/monitor/monitor_bench.py (bench/run.sh monitor).
 *
 *   bench_observe ROWS.f32 ROWS F REPEATS THREADS
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/time.h"
#include "monitor/monitor.h"
#include "serve/serve.h"

#define CALLS 400000 /* per thread and repeat */

static double *rows;
static size_t n_rows, n_feat;

static void *fold(void *arg)
{
    (void)arg;
    double y;
    serve_event_t ev = {.ts_ms = mops_now_ms(), .team_id = 1, .deployment_id = 1,
                        .version_id = 1, .role = SERVE_ROLE_PRIMARY, .request_id = "r",
                        .n_rows = 1, .n_features = n_feat, .n_outputs = 1, .outputs = &y,
                        .wall_us = 400};
    for (size_t i = 0; i < CALLS; i++) {
        ev.inputs = rows + (i % n_rows) * n_feat;
        y = ev.inputs[0] * 0.5;
        ev.wall_us = 300 + (int64_t)(i % 200);
        monitor_observe(&ev, NULL);
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU ns per request, `threads` threads folding at once. */
static double run(int threads)
{
    pthread_t t[64];
    double t0 = cpu_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, fold, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double ns = (cpu_ns() - t0) / ((double)CALLS * threads);
    monitor_stop(); /* frees the windows (monitoring was not started) */
    return ns;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_observe ROWS.f32 ROWS F REPEATS THREADS\n");
        return 2;
    }
    n_rows = strtoul(argv[2], NULL, 10);
    n_feat = strtoul(argv[3], NULL, 10);
    int repeats = atoi(argv[4]), threads = atoi(argv[5]);
    if (n_rows > 20000)
        n_rows = 20000; /* enough distinct rows; keeps the copy small */
    if (threads < 1 || threads > 64 || repeats < 1 || repeats > 99)
        return 2;
    FILE *fp = fopen(argv[1], "rb");
    if (!fp)
        return perror(argv[1]), 1;
    float *f = mops_xmalloc(n_rows * n_feat * sizeof *f);
    if (fread(f, sizeof *f, n_rows * n_feat, fp) != n_rows * n_feat)
        return fprintf(stderr, "%s: short read\n", argv[1]), 1;
    fclose(fp);
    rows = mops_xmalloc(n_rows * n_feat * sizeof *rows);
    for (size_t i = 0; i < n_rows * n_feat; i++)
        rows[i] = f[i];
    free(f);
    int counts[2] = {1, threads};
    for (int c = 0; c < (threads > 1 ? 2 : 1); c++) {
        double ns[99];
        for (int r = 0; r < repeats; r++)
            ns[r] = run(counts[c]);
        qsort(ns, (size_t)repeats, sizeof *ns, cmp);
        printf("   monitor_observe, %zu features + 1 output, %d thread%s: %6.0f ns CPU/request "
               "(median of %d; %.0f-%.0f)\n",
               n_feat, counts[c], counts[c] > 1 ? "s at once" : "", ns[repeats / 2], repeats,
               ns[0], ns[repeats - 1]);
    }
    free(rows);
    return 0;
}
