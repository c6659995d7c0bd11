/*
 * fuzz_model.h — the body shared by the model-loader fuzz targets: load
 * the input as a model of one format; if it loads, score a few rows
 * (zeros, missing values, extremes) with every output kind. A refusal
 * must come with a message; anything else (crash, leak, hang, sanitizer
 * report) is a bug.
 */
#ifndef MOPS_FUZZ_MODEL_H
#define MOPS_FUZZ_MODEL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime/runtime.h"

static int fuzz_model(const uint8_t *data, size_t size, const char *format)
{
    runtime_model_t *m = NULL;
    mops_err_t err;
    mops_err_clear(&err);
    if (runtime_model_load_buffer(data, size, format, &m, &err) != 0) {
        if (err.msg[0] == '\0' || m)
            abort();
        return 0;
    }
    runtime_model_info_t in;
    runtime_model_info(m, &in);
    if (in.n_features > 4096) {
        runtime_model_unref(m);
        return 0;
    }
    const size_t rows = 3;
    double *x = calloc(rows * in.n_features, sizeof *x);
    for (size_t f = 0; f < in.n_features; f++) {
        x[in.n_features + f] = NAN;
        x[2 * in.n_features + f] = f % 2 ? 1e30 : -3.5;
    }
    size_t w = in.n_value > in.n_margin ? in.n_value : in.n_margin;
    double *out = calloc(rows * (w + 1), sizeof *out);
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    o.iteration_end = RUNTIME_ITERATIONS_ALL;
    for (int kind = 0; kind < 3; kind++) {
        o.output = (runtime_output_t)kind;
        /* Linear models refuse the missing row; that is an answer. */
        (void)runtime_predict(m, &o, x, rows, in.n_features, out, NULL, &err);
    }
    o.iteration_end = 0;
    (void)runtime_predict(m, &o, x, 1, in.n_features, out, NULL, &err);
    free(x);
    free(out);
    runtime_model_unref(m);
    return 0;
}

#endif
