/*
 * runtime.h — the native model runtime: load tree ensembles and linear
 * models trained by XGBoost and scikit-learn, and score rows with them,
 * matching the libraries' own outputs. It has no dependency on the server.
 *
 * Formats (docs/formats.md describes both):
 *   "xgboost-json"  what XGBoost 1.x/2.x writes with save_model("m.json"):
 *                   gbtree boosters, every objective listed in the docs,
 *                   NaN as missing with default_left, categorical splits.
 *   "sklearn-json"  the mops format clients/python/mops_sklearn.py writes for
 *                   scikit-learn trees, forests, gradient boosting and linear
 *                   models.
 *
 * Ownership, for the whole API: a loaded model is immutable and
 * reference-counted. The loader hands the caller one reference; every
 * runtime_model_ref must be balanced by a runtime_model_unref, and the last
 * one frees the model. Any number of threads may score with the same model
 * at once. Strings and arrays reached through runtime_model_info belong to
 * the model and live as long as it does.
 *
 * Scoring takes a dense row-major matrix of n_features columns, NaN for a
 * missing value. What comes out per row depends on the output asked for:
 *
 *   RUNTIME_OUTPUT_VALUE   the library's transformed prediction:
 *       XGBoost: what Booster.predict returns, except multi:softmax which
 *         gives the class probabilities (as multi:softprob would) — ask for
 *         RUNTIME_OUTPUT_LABEL to get the class. binary:* gives 1 column
 *         (the probability of class 1, or the raw score for logitraw).
 *       scikit-learn classifiers: predict_proba, one column per class
 *         (2 columns for a binary problem).
 *       regressors: predict, one column per target.
 *   RUNTIME_OUTPUT_LABEL   predict() semantics: for classifiers one column
 *       holding the class index (0 .. n_classes-1; runtime_model_info gives
 *       each index's label), for regressors the same as VALUE.
 *   RUNTIME_OUTPUT_MARGIN  the raw score before the link function: XGBoost
 *       output_margin=True, scikit-learn decision_function / _raw_predict.
 *
 * runtime_output_width tells how many columns an output kind has.
 * Outputs are doubles; for XGBoost models every value is exactly a float32
 * (XGBoost computes in float32), which info.output_float32 says, so a
 * printer can use %.9g for them and %.17g otherwise.
 */
#ifndef MOPS_RUNTIME_RUNTIME_H
#define MOPS_RUNTIME_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct runtime_model runtime_model_t;

/* Largest model file or buffer the loaders accept. */
#define RUNTIME_MODEL_MAX_BYTES ((size_t)4 << 30)
/* Largest number of features a model may declare. */
#define RUNTIME_MAX_FEATURES ((size_t)1 << 22)

/* ------------------------------------------------------------ loading */

/* Load a model from memory. format is "xgboost-json", "sklearn-json" or
 * NULL to detect it from the content. data need not be NUL-terminated and
 * is not referenced after the call.
 *
 * On success *out holds a new model with one reference for the caller.
 * Errors: MOPS_EINVAL when the content is not a model of that format or is
 * malformed (the message names the byte, or the tree and node, at fault),
 * MOPS_ETOOBIG when len or a declared size is over a limit. */
int runtime_model_load_buffer(const void *data, size_t len, const char *format,
                              runtime_model_t **out, mops_err_t *err);

/* Load a model from the file at path, as runtime_model_load_buffer.
 * Also MOPS_ENOTFOUND when the file does not exist and MOPS_EIO when it
 * cannot be read. */
int runtime_model_load_file(const char *path, const char *format, runtime_model_t **out,
                            mops_err_t *err);

/* Guess the format of a model held in data: "xgboost-json",
 * "sklearn-json", or NULL when it is neither. Reads only the start. */
const char *runtime_format_detect(const void *data, size_t len);

/* Take one more reference to m (atomic); returns m. */
runtime_model_t *runtime_model_ref(runtime_model_t *m);

/* Drop one reference; the last one frees the model. NULL is a no-op. */
void runtime_model_unref(runtime_model_t *m);

/* Same as runtime_model_unref: release the reference the loader gave. */
void runtime_model_free(runtime_model_t *m);

/* --------------------------------------------------------------- info */

typedef struct runtime_model_info {
    const char *format;     /* "xgboost-json" | "sklearn-json" */
    const char *objective;  /* XGBoost objective ("binary:logistic"), or the
                               scikit-learn estimator ("RandomForestClassifier") */
    const char *kind;       /* "classifier" | "regressor" */
    const char *producer;   /* library and version that trained it, "" if unknown */
    size_t n_features;
    /* n_features names, or NULL when the file has none. */
    const char *const *feature_names;
    size_t n_classes;       /* classifiers: number of classes; regressors: 0 */
    /* n_classes labels as text ("0", "1", "setosa"...); NULL for regressors. */
    const char *const *class_labels;
    size_t n_value;         /* columns of RUNTIME_OUTPUT_VALUE per row */
    size_t n_margin;        /* columns of RUNTIME_OUTPUT_MARGIN per row */
    size_t n_trees;         /* 0 for linear models */
    size_t n_iterations;    /* boosting rounds (1 for a forest or linear model) */
    size_t default_iterations; /* rounds used by default (best_iteration + 1) */
    int max_depth;          /* deepest leaf, 0 for linear models */
    size_t memory_bytes;    /* bytes of memory the loaded model holds */
    int output_float32;     /* 1 when outputs are float32 values */
} runtime_model_info_t;

/* Fill *info with facts about m (pointers into m). */
void runtime_model_info(const runtime_model_t *m, runtime_model_info_t *info);

/* ------------------------------------------------------------ scoring */

typedef enum {
    RUNTIME_OUTPUT_VALUE = 0,
    RUNTIME_OUTPUT_LABEL = 1,
    RUNTIME_OUTPUT_MARGIN = 2,
} runtime_output_t;

/* iteration_end value meaning "every round the model has". */
#define RUNTIME_ITERATIONS_ALL (-1)

typedef struct runtime_predict_opts {
    runtime_output_t output;
    /* Boosting rounds [iteration_begin, iteration_end) take part, as
     * XGBoost's iteration_range. iteration_end 0 means the model's default
     * (best_iteration + 1 when the file records one, else all rounds);
     * RUNTIME_ITERATIONS_ALL means all. Forests and linear models have one
     * round. */
    int iteration_begin;
    int iteration_end;
} runtime_predict_opts_t;

#define RUNTIME_PREDICT_OPTS_INIT {RUNTIME_OUTPUT_VALUE, 0, 0}

/* Columns per row of output kind for m. */
size_t runtime_output_width(const runtime_model_t *m, runtime_output_t output);

/* Working memory for scoring, reused across calls so the hot path does not
 * allocate. One scratch serves one thread at a time, with any model. */
typedef struct runtime_scratch runtime_scratch_t;

runtime_scratch_t *runtime_scratch_new(void);
void runtime_scratch_free(runtime_scratch_t *s);

/* Score nrows rows of ncols doubles (row-major, NaN = missing) and write
 * nrows * runtime_output_width(m, opts->output) doubles to out, row after
 * row. opts NULL means RUNTIME_PREDICT_OPTS_INIT. scratch may be NULL (then
 * one is allocated for the call). Thread-safe for a shared m as long as
 * each thread has its own scratch.
 *
 * Errors (out is then undefined): MOPS_EINVAL when ncols is not the model's
 * feature count, the iteration range is outside the model, or a linear
 * model meets a missing value (the message names the row and feature). */
int runtime_predict(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                    const double *rows, size_t nrows, size_t ncols, double *out,
                    runtime_scratch_t *scratch, mops_err_t *err);

/* As runtime_predict, for float32 input rows. */
int runtime_predict_f32(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                        const float *rows, size_t nrows, size_t ncols, double *out,
                        runtime_scratch_t *scratch, mops_err_t *err);

/* Turn nrows rows of margins (as RUNTIME_OUTPUT_MARGIN gives them) into
 * output kind `output` in out (nrows * runtime_output_width doubles),
 * exactly as runtime_predict would: a caller that needs several kinds walks
 * the trees once. tmp holds runtime_output_width(m, RUNTIME_OUTPUT_VALUE)
 * doubles of working space. */
void runtime_outputs_from_margins(const runtime_model_t *m, runtime_output_t output,
                                  const double *margins, size_t nrows, double *out, double *tmp);

/* As runtime_predict, with the rows split across nthreads POSIX threads
 * (nthreads <= 1 scores on the calling thread). Blocks until every row is
 * scored. */
int runtime_predict_parallel(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                             const double *rows, size_t nrows, size_t ncols, double *out,
                             int nthreads, mops_err_t *err);

/* As runtime_predict_parallel, for float32 input rows. */
int runtime_predict_parallel_f32(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                                 const float *rows, size_t nrows, size_t ncols, double *out,
                                 int nthreads, mops_err_t *err);

#endif
