/*
 * load_sklearn.c — the loader of the mops scikit-learn JSON format
 * ("format": "mops-sklearn", docs/formats.md), which
 * clients/python/mops_sklearn.py writes for scikit-learn's trees, forests,
 * gradient boosting and linear models.
 *
 * The format states the computation rather than the estimator: starting
 * raw outputs, trees (or a coefficient matrix) that add to them, whether
 * the sum is averaged, the link that turns raw outputs into probabilities
 * or values, and the rule that picks a class. The exporter writes leaf
 * values exactly as scikit-learn uses them (probabilities normalised as
 * predict_proba does, gradient boosting leaves already scaled by the
 * learning rate), so the loader only checks and lays them out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/jsonpull.h"
#include "runtime/model.h"

#define MAXN ((size_t)1 << 40)

typedef struct sk_load {
    runtime_model_t *m;
    runtime__builder_t b;
    mops_err_t *err;
    int64_t format_version;
    int64_t n_features, n_outputs;
    int have_n_outputs;
    const char *estimator, *task, *link, *decision, *producer;
    double *init;
    size_t n_init, c_init;
    char **names;
    size_t n_names;
    char **classes;
    size_t n_classes;
    const char *trees_p, *trees_end, *linear_p, *linear_end;
    /* one tree's arrays */
    int64_t *feature, *left, *right, *missing;
    size_t n_feature, n_left, n_right, n_missing;
    size_t c_feature, c_left, c_right, c_missing;
    double *thr, *val;
    size_t n_thr, n_val, c_thr, c_val;
    int64_t *cats;
    size_t n_cats, c_cats;
} sk_load_t;

static void sk_free(sk_load_t *x)
{
    runtime__builder_release(&x->b);
    free(x->init);
    free(x->names);
    free(x->classes);
    free(x->feature);
    free(x->left);
    free(x->right);
    free(x->missing);
    free(x->thr);
    free(x->val);
    free(x->cats);
}

static int read_str(sk_load_t *x, runtime__json_t *j, const char **out)
{
    const char *s;
    size_t n;
    if (runtime__json_string(j, &s, &n) < 0)
        return MOPS_EINVAL;
    *out = mops_arena_strndup(x->m->arena, s, n);
    return 0;
}

static int read_int(runtime__json_t *j, const char *what, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    if (runtime__json_integer(j, &v) < 0)
        return MOPS_EINVAL;
    if (v < lo || v > hi)
        return runtime__json_fail(j, "%s %lld is out of range (%lld..%lld)", what, (long long)v,
                                  (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int read_strings(sk_load_t *x, runtime__json_t *j, char ***out, size_t *n, int allow_numbers)
{
    int rc;
    size_t cap = 0;
    /* A repeated key replaces the earlier list. */
    free(*out);
    *out = NULL;
    *n = 0;
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_item(j)) > 0) {
        if (*n >= RUNTIME_MAX_FEATURES)
            return runtime__json_fail(j, "more than %zu items", RUNTIME_MAX_FEATURES);
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = mops_xrealloc(*out, cap * sizeof **out);
        }
        int c = runtime__json_peek(j);
        if (c == '"') {
            const char *s;
            if (read_str(x, j, &s) < 0)
                return MOPS_EINVAL;
            (*out)[(*n)++] = (char *)s;
        } else if (allow_numbers && (c == 't' || c == 'f')) {
            int f;
            if (runtime__json_flag(j, &f) < 0)
                return MOPS_EINVAL;
            (*out)[(*n)++] = mops_arena_strdup(x->m->arena, f ? "True" : "False");
        } else if (allow_numbers) {
            const char *start = j->p;
            double v;
            if (runtime__json_number(j, &v) < 0)
                return MOPS_EINVAL;
            if (!isfinite(v))
                return runtime__json_fail(j, "a class label is not finite");
            /* Keep the number as written: "3", "1.5". */
            (*out)[(*n)++] = mops_arena_strndup(x->m->arena, start, (size_t)(j->p - start));
        } else {
            return runtime__json_fail(j, "expected a string");
        }
    }
    return rc;
}

/* ------------------------------------------------------------------ trees */

static int read_value(sk_load_t *x, runtime__json_t *j, int *wide, size_t *count)
{
    int rc;
    size_t k = 0;
    x->n_val = 0;
    *wide = -1;
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_item(j)) > 0) {
        int is_arr = runtime__json_peek(j) == '[';
        if (*wide == -1)
            *wide = is_arr;
        else if (*wide != is_arr)
            return runtime__json_fail(j, "value mixes numbers and lists");
        if (!is_arr) {
            if (x->n_val == x->c_val) {
                x->c_val = x->c_val ? x->c_val * 2 : 64;
                x->val = mops_xrealloc(x->val, x->c_val * sizeof *x->val);
            }
            if (runtime__json_number(j, &x->val[x->n_val++]) < 0)
                return MOPS_EINVAL;
        } else {
            size_t before = x->n_val;
            int r2;
            if (runtime__json_array_begin(j) < 0)
                return MOPS_EINVAL;
            while ((r2 = runtime__json_next_item(j)) > 0) {
                if (x->n_val - before >= (size_t)x->n_outputs)
                    return runtime__json_fail(j, "a leaf has more than n_outputs (%lld) values",
                                              (long long)x->n_outputs);
                if (x->n_val == x->c_val) {
                    x->c_val = x->c_val ? x->c_val * 2 : 64;
                    x->val = mops_xrealloc(x->val, x->c_val * sizeof *x->val);
                }
                if (runtime__json_number(j, &x->val[x->n_val++]) < 0)
                    return MOPS_EINVAL;
            }
            if (r2 < 0)
                return r2;
            if (x->n_val - before != (size_t)x->n_outputs)
                return runtime__json_fail(j, "a leaf has %zu values, n_outputs is %lld",
                                          x->n_val - before, (long long)x->n_outputs);
        }
        k++;
    }
    if (*wide == -1)
        *wide = 0;
    *count = k;
    return rc;
}

/* Thresholds: numbers, or null for +infinity (HistGradientBoosting's split
 * that sends every number left and only missing values by their rule). */
static int read_thresholds(sk_load_t *x, runtime__json_t *j)
{
    int rc;
    x->n_thr = 0;
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_item(j)) > 0) {
        if (x->n_thr == x->c_thr) {
            x->c_thr = x->c_thr ? x->c_thr * 2 : 64;
            x->thr = mops_xrealloc(x->thr, x->c_thr * sizeof *x->thr);
        }
        rc = runtime__json_null(j);
        if (rc < 0)
            return rc;
        if (rc == 1)
            x->thr[x->n_thr] = INFINITY;
        else if (runtime__json_number(j, &x->thr[x->n_thr]) < 0)
            return MOPS_EINVAL;
        x->n_thr++;
    }
    return rc;
}

static int read_categorical(sk_load_t *x, runtime__json_t *j, size_t tree_no, size_t n_nodes)
{
    int rc;
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_item(j)) > 0) {
        const char *k;
        size_t kl;
        int64_t node = -1;
        int have_left = 0;
        if (runtime__json_object_begin(j) < 0)
            return MOPS_EINVAL;
        while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
            if (runtime__json_key_is(k, kl, "node")) {
                if (runtime__json_integer(j, &node) < 0)
                    return MOPS_EINVAL;
            } else if (runtime__json_key_is(k, kl, "left")) {
                if (runtime__json_integers(j, &x->cats, &x->n_cats, &x->c_cats, 256,
                                           "categorical left") < 0)
                    return MOPS_EINVAL;
                have_left = 1;
            } else if (runtime__json_skip(j) < 0) {
                return MOPS_EINVAL;
            }
        }
        if (rc < 0)
            return rc;
        if (node < 0 || (uint64_t)node >= n_nodes || !have_left)
            return runtime__json_fail(j, "tree %zu: a categorical entry needs a node of the tree "
                                         "and a \"left\" list", tree_no);
        runtime__src_node_t *s = &x->b.src[node];
        s->is_cat = 1;
        s->cat_set = runtime__builder_cat_push(&x->b, x->cats, x->n_cats);
        s->cat_len = (uint32_t)x->n_cats;
    }
    return rc;
}

static int read_tree(sk_load_t *x, runtime__json_t *j, size_t tree_no)
{
    const char *k;
    size_t kl;
    int rc, wide = 0;
    size_t n_value = 0;
    int64_t output = 0;
    int seen[6] = {0};
    const char *cat_p = NULL, *cat_end = NULL;
    const char *tree_start = j->p;
    x->n_feature = x->n_left = x->n_right = x->n_missing = x->n_thr = 0;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "feature")) {
            rc = runtime__json_integers(j, &x->feature, &x->n_feature, &x->c_feature, MAXN, "feature");
            seen[0] = 1;
        } else if (runtime__json_key_is(k, kl, "threshold")) {
            rc = read_thresholds(x, j);
            seen[1] = 1;
        } else if (runtime__json_key_is(k, kl, "left")) {
            rc = runtime__json_integers(j, &x->left, &x->n_left, &x->c_left, MAXN, "left");
            seen[2] = 1;
        } else if (runtime__json_key_is(k, kl, "right")) {
            rc = runtime__json_integers(j, &x->right, &x->n_right, &x->c_right, MAXN, "right");
            seen[3] = 1;
        } else if (runtime__json_key_is(k, kl, "value")) {
            rc = read_value(x, j, &wide, &n_value);
            seen[4] = 1;
        } else if (runtime__json_key_is(k, kl, "missing_left")) {
            rc = runtime__json_integers(j, &x->missing, &x->n_missing, &x->c_missing, MAXN,
                                        "missing_left");
            seen[5] = 1;
        } else if (runtime__json_key_is(k, kl, "output")) {
            rc = read_int(j, "output", 0, x->n_outputs - 1, &output);
        } else if (runtime__json_key_is(k, kl, "categorical")) {
            runtime__json_peek(j);
            cat_p = j->p;
            rc = runtime__json_skip(j);
            cat_end = j->p;
        } else {
            rc = runtime__json_skip(j);
        }
        if (rc < 0)
            return MOPS_EINVAL;
    }
    if (rc < 0)
        return rc;
    const char *after = j->p;
    j->p = tree_start;
    static const char *names[] = {"feature", "threshold", "left", "right", "value"};
    for (int i = 0; i < 5; i++)
        if (!seen[i])
            return runtime__json_fail(j, "tree %zu lacks \"%s\"", tree_no, names[i]);
    size_t n = x->n_left;
#define SAME(cnt, name)                                                                  \
    if ((cnt) != n)                                                                      \
        return runtime__json_fail(j, "tree %zu: %s has %zu items but left has %zu", tree_no, \
                                  name, (size_t)(cnt), n);
    SAME(x->n_feature, "feature");
    SAME(x->n_thr, "threshold");
    SAME(x->n_right, "right");
    SAME(n_value, "value");
    if (seen[5])
        SAME(x->n_missing, "missing_left");
#undef SAME
    if (wide && output != 0)
        return runtime__json_fail(j, "tree %zu: a tree with value lists adds to every output; "
                                     "\"output\" must be 0", tree_no);
    j->p = after;

    runtime__builder_t *b = &x->b;
    runtime__builder_tree_reset(b);
    for (size_t i = 0; i < n; i++) {
        runtime__src_node_t *s = runtime__builder_src_push(b);
        if (wide)
            s->wide_off = runtime__builder_wide_push(b, x->val + i * (size_t)x->n_outputs,
                                                     (size_t)x->n_outputs);
        else
            s->value = x->val[i];
        if (x->left[i] == -1 && x->right[i] == -1)
            continue;
        s->left = x->left[i];
        s->right = x->right[i];
        s->feature = x->feature[i];
        s->threshold = x->thr[i];
        s->default_left = seen[5] && x->missing[i] != 0;
    }
    if (cat_p) {
        runtime__json_t cj;
        runtime__json_at(&cj, j, cat_p, cat_end);
        rc = read_categorical(x, &cj, tree_no, n);
        runtime__json_release(&cj);
        if (rc < 0)
            return MOPS_EINVAL;
    }
    return runtime__builder_tree_add(b, tree_no, (uint32_t)output, wide, x->err);
}

static int read_known(sk_load_t *x, runtime__json_t *j)
{
    int rc;
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_item(j)) > 0) {
        const char *k;
        size_t kl;
        int64_t feature = -1;
        int have = 0;
        if (runtime__json_object_begin(j) < 0)
            return MOPS_EINVAL;
        while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
            if (runtime__json_key_is(k, kl, "feature")) {
                if (read_int(j, "feature", 0, x->n_features - 1, &feature) < 0)
                    return MOPS_EINVAL;
            } else if (runtime__json_key_is(k, kl, "categories")) {
                if (runtime__json_integers(j, &x->cats, &x->n_cats, &x->c_cats, 256,
                                           "known categories") < 0)
                    return MOPS_EINVAL;
                have = 1;
            } else if (runtime__json_skip(j) < 0) {
                return MOPS_EINVAL;
            }
        }
        if (rc < 0)
            return rc;
        if (feature < 0 || !have)
            return runtime__json_fail(j, "a known_categories entry needs \"feature\" and \"categories\"");
        if (runtime__builder_known_cats(&x->b, (size_t)feature, x->cats, x->n_cats, x->err) < 0) {
            j->failed = 1;
            return MOPS_EINVAL;
        }
    }
    return rc;
}

static int read_trees(sk_load_t *x, runtime__json_t *j)
{
    const char *k;
    size_t kl;
    int rc;
    const char *list_p = NULL, *list_end = NULL;
    int64_t iterations = 0;
    const char *input = NULL;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "input")) {
            rc = read_str(x, j, &input);
        } else if (runtime__json_key_is(k, kl, "average")) {
            rc = runtime__json_flag(j, &x->m->average);
        } else if (runtime__json_key_is(k, kl, "iterations")) {
            rc = read_int(j, "iterations", 1, INT64_C(1) << 40, &iterations);
        } else if (runtime__json_key_is(k, kl, "known_categories")) {
            rc = read_known(x, j);
        } else if (runtime__json_key_is(k, kl, "list")) {
            runtime__json_peek(j);
            list_p = j->p;
            rc = runtime__json_skip_fast(j);
            list_end = j->p;
        } else {
            rc = runtime__json_skip(j);
        }
        if (rc < 0)
            return MOPS_EINVAL;
    }
    if (rc < 0)
        return rc;
    if (!input || (strcmp(input, "float32") && strcmp(input, "float64")))
        return runtime__json_fail(j, "trees.input must be \"float32\" or \"float64\"");
    x->m->input_f32 = !strcmp(input, "float32");
    if (!list_p)
        return runtime__json_fail(j, "trees has no \"list\"");
    runtime__json_t lj;
    runtime__json_at(&lj, j, list_p, list_end);
    size_t t = 0;
    if (runtime__json_array_begin(&lj) < 0)
        goto fail;
    while ((rc = runtime__json_next_item(&lj)) > 0) {
        if (read_tree(x, &lj, t) < 0)
            goto fail;
        t++;
    }
    if (rc < 0)
        goto fail;
    runtime__json_release(&lj);
    if (t == 0)
        return mops_err_set(x->err, MOPS_EINVAL, "the model has no trees");
    if (iterations) {
        if (t % (size_t)iterations != 0)
            return mops_err_set(x->err, MOPS_EINVAL, "%zu trees do not make %lld equal rounds", t,
                                (long long)iterations);
        x->m->trees_per_iter = t / (size_t)iterations;
    } else {
        x->m->trees_per_iter = t;
    }
    return 0;
fail:
    runtime__json_release(&lj);
    return MOPS_EINVAL;
}

static int read_linear(sk_load_t *x, runtime__json_t *j)
{
    const char *k;
    size_t kl;
    int rc, have = 0;
    runtime_model_t *m = x->m;
    size_t F = (size_t)x->n_features, K = (size_t)x->n_outputs;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "coef")) {
            free(m->coef);
            m->coef = mops_xcalloc(K * F, sizeof(double));
            size_t row = 0;
            if (runtime__json_array_begin(j) < 0)
                return MOPS_EINVAL;
            while ((rc = runtime__json_next_item(j)) > 0) {
                if (row >= K)
                    return runtime__json_fail(j, "coef has more than n_outputs (%zu) rows", K);
                size_t col = 0;
                int r2;
                if (runtime__json_array_begin(j) < 0)
                    return MOPS_EINVAL;
                while ((r2 = runtime__json_next_item(j)) > 0) {
                    if (col >= F)
                        return runtime__json_fail(j, "coef row %zu has more than n_features (%zu) values",
                                                  row, F);
                    double v;
                    if (runtime__json_number(j, &v) < 0)
                        return MOPS_EINVAL;
                    if (!isfinite(v))
                        return runtime__json_fail(j, "coef[%zu][%zu] is not finite", row, col);
                    m->coef[row * F + col++] = v;
                }
                if (r2 < 0)
                    return r2;
                if (col != F)
                    return runtime__json_fail(j, "coef row %zu has %zu values, n_features is %zu",
                                              row, col, F);
                row++;
            }
            if (rc < 0)
                return rc;
            if (row != K)
                return runtime__json_fail(j, "coef has %zu rows, n_outputs is %zu", row, K);
            have = 1;
        } else if (runtime__json_skip(j) < 0) {
            return MOPS_EINVAL;
        }
    }
    if (rc < 0)
        return rc;
    if (!have)
        return runtime__json_fail(j, "linear has no \"coef\"");
    m->is_linear = 1;
    return 0;
}

/* ------------------------------------------------------------------- load */

static const struct {
    const char *name;
    runtime__transform_t t;
} links[] = {
    {"identity", RUNTIME__T_IDENTITY},
    {"logistic_binary", RUNTIME__T_BINARY},
    {"logistic_binary_2x", RUNTIME__T_BINARY_2X},
    {"softmax", RUNTIME__T_SOFTMAX},
    {"softmax_binary", RUNTIME__T_SOFTMAX_BIN},
    {"softmax_logsumexp", RUNTIME__T_LSE},
    {"logistic_ovr", RUNTIME__T_OVR},
    {"exp", RUNTIME__T_EXP},
};

static const struct {
    const char *name;
    runtime__label_t l;
} decisions[] = {
    {"value", RUNTIME__L_VALUE},
    {"argmax_value", RUNTIME__L_ARGMAX_VALUE},
    {"argmax_margin", RUNTIME__L_ARGMAX_MARGIN},
    {"margin_ge_0", RUNTIME__L_MARGIN_GE_0},
};

int runtime__load_sklearn(const char *data, size_t len, runtime_model_t **out, mops_err_t *err)
{
    sk_load_t x;
    memset(&x, 0, sizeof x);
    x.err = err;
    x.m = runtime__model_new();
    runtime_model_t *m = x.m;
    m->format = RUNTIME__FORMAT_SKLEARN;
    runtime__json_t j;
    runtime__json_init(&j, data, len, err);
    const char *k;
    size_t kl;
    int rc;
    const char *format = NULL;

    if (runtime__json_object_begin(&j) < 0)
        goto fail;
    while ((rc = runtime__json_next_key(&j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "format")) {
            rc = read_str(&x, &j, &format);
        } else if (runtime__json_key_is(k, kl, "format_version")) {
            rc = read_int(&j, "format_version", 1, 1000, &x.format_version);
        } else if (runtime__json_key_is(k, kl, "producer")) {
            rc = read_str(&x, &j, &x.producer);
        } else if (runtime__json_key_is(k, kl, "estimator")) {
            rc = read_str(&x, &j, &x.estimator);
        } else if (runtime__json_key_is(k, kl, "task")) {
            rc = read_str(&x, &j, &x.task);
        } else if (runtime__json_key_is(k, kl, "n_features")) {
            rc = read_int(&j, "n_features", 1, (int64_t)RUNTIME_MAX_FEATURES, &x.n_features);
        } else if (runtime__json_key_is(k, kl, "n_outputs")) {
            rc = read_int(&j, "n_outputs", 1, 1 << 16, &x.n_outputs);
            x.have_n_outputs = 1;
        } else if (runtime__json_key_is(k, kl, "feature_names")) {
            rc = runtime__json_null(&j) ? 0 : read_strings(&x, &j, &x.names, &x.n_names, 0);
        } else if (runtime__json_key_is(k, kl, "classes")) {
            rc = read_strings(&x, &j, &x.classes, &x.n_classes, 1);
        } else if (runtime__json_key_is(k, kl, "init")) {
            rc = runtime__json_numbers(&j, &x.init, &x.n_init, &x.c_init, 1 << 16, "init");
        } else if (runtime__json_key_is(k, kl, "link")) {
            rc = read_str(&x, &j, &x.link);
        } else if (runtime__json_key_is(k, kl, "decision")) {
            rc = read_str(&x, &j, &x.decision);
        } else if (runtime__json_key_is(k, kl, "trees")) {
            runtime__json_peek(&j);
            x.trees_p = j.p;
            rc = runtime__json_skip_fast(&j);
            x.trees_end = j.p;
        } else if (runtime__json_key_is(k, kl, "linear")) {
            runtime__json_peek(&j);
            x.linear_p = j.p;
            rc = runtime__json_skip_fast(&j);
            x.linear_end = j.p;
        } else {
            rc = runtime__json_skip(&j);
        }
        if (rc < 0)
            goto fail;
    }
    if (rc < 0 || runtime__json_end(&j) < 0)
        goto fail;
    if (!format || strcmp(format, "mops-sklearn") != 0) {
        mops_err_set(err, MOPS_EINVAL, "not a mops scikit-learn model: \"format\" is not \"mops-sklearn\"");
        goto fail;
    }
    if (x.format_version != 1) {
        mops_err_set(err, MOPS_EINVAL, "format_version %lld is not supported (this mops reads version 1)",
                     (long long)x.format_version);
        goto fail;
    }
#define REQUIRE(cond, what)                                                          \
    if (!(cond)) {                                                                   \
        mops_err_set(err, MOPS_EINVAL, "the model lacks \"%s\"", what);              \
        goto fail;                                                                   \
    }
    REQUIRE(x.n_features > 0, "n_features");
    REQUIRE(x.have_n_outputs, "n_outputs");
    REQUIRE(x.task, "task");
    REQUIRE(x.link, "link");
    REQUIRE(x.decision, "decision");
    REQUIRE(x.n_init, "init");
#undef REQUIRE
    m->n_features = (size_t)x.n_features;
    m->n_margin = (size_t)x.n_outputs;
    m->objective = x.estimator ? x.estimator : "";
    m->producer = x.producer ? x.producer : "";
    if (x.n_init != m->n_margin) {
        mops_err_set(err, MOPS_EINVAL, "init has %zu values, n_outputs is %zu", x.n_init, m->n_margin);
        goto fail;
    }
    for (size_t i = 0; i < x.n_init; i++)
        if (!isfinite(x.init[i])) {
            mops_err_set(err, MOPS_EINVAL, "init[%zu] is not finite", i);
            goto fail;
        }
    m->base = mops_xcalloc(m->n_margin, sizeof(double));
    memcpy(m->base, x.init, m->n_margin * sizeof(double));
    int found = 0;
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (!strcmp(links[i].name, x.link)) {
            m->transform = links[i].t;
            found = 1;
        }
    if (!found) {
        mops_err_set(err, MOPS_EINVAL, "unknown link \"%s\"", x.link);
        goto fail;
    }
    found = 0;
    for (size_t i = 0; i < sizeof decisions / sizeof decisions[0]; i++)
        if (!strcmp(decisions[i].name, x.decision)) {
            m->label = decisions[i].l;
            found = 1;
        }
    if (!found) {
        mops_err_set(err, MOPS_EINVAL, "unknown decision \"%s\"", x.decision);
        goto fail;
    }
    m->n_value = (m->transform == RUNTIME__T_BINARY || m->transform == RUNTIME__T_BINARY_2X ||
                  m->transform == RUNTIME__T_SOFTMAX_BIN)
                     ? 2
                     : m->n_margin;
    if (!strcmp(x.task, "classifier")) {
        m->kind = "classifier";
        if (x.n_classes < 2) {
            mops_err_set(err, MOPS_EINVAL, "a classifier needs \"classes\" with at least two labels");
            goto fail;
        }
        m->n_classes = x.n_classes;
        m->class_labels = mops_arena_alloc(m->arena, x.n_classes * sizeof(char *));
        memcpy(m->class_labels, x.classes, x.n_classes * sizeof(char *));
        if (m->label == RUNTIME__L_VALUE) {
            mops_err_set(err, MOPS_EINVAL, "a classifier needs a class decision, not \"value\"");
            goto fail;
        }
    } else if (!strcmp(x.task, "regressor")) {
        m->kind = "regressor";
        if (m->label != RUNTIME__L_VALUE) {
            mops_err_set(err, MOPS_EINVAL, "a regressor's decision must be \"value\"");
            goto fail;
        }
    } else {
        mops_err_set(err, MOPS_EINVAL, "task must be \"classifier\" or \"regressor\", not \"%s\"", x.task);
        goto fail;
    }
    if (x.n_names) {
        if (x.n_names != m->n_features) {
            mops_err_set(err, MOPS_EINVAL, "the model has %zu feature names for %zu features",
                         x.n_names, m->n_features);
            goto fail;
        }
        m->feature_names = mops_arena_alloc(m->arena, x.n_names * sizeof(char *));
        memcpy(m->feature_names, x.names, x.n_names * sizeof(char *));
    }
    if (!x.trees_p == !x.linear_p) {
        mops_err_set(err, MOPS_EINVAL, "the model needs exactly one of \"trees\" and \"linear\"");
        goto fail;
    }
    if (x.linear_p) {
        runtime__json_t lj;
        runtime__json_at(&lj, &j, x.linear_p, x.linear_end);
        rc = read_linear(&x, &lj);
        runtime__json_release(&lj);
        if (rc < 0)
            goto fail;
        runtime__model_measure(m);
    } else {
        runtime__builder_init(&x.b, m, RUNTIME__SPLIT_LE, RUNTIME__CAT_SKLEARN);
        runtime__json_t tj;
        runtime__json_at(&tj, &j, x.trees_p, x.trees_end);
        rc = read_trees(&x, &tj);
        runtime__json_release(&tj);
        if (rc < 0 || runtime__builder_finish(&x.b, err) < 0)
            goto fail;
    }
    if (runtime__model_check(m, err) < 0)
        goto fail;
    runtime__json_release(&j);
    sk_free(&x);
    *out = m;
    return 0;

fail:
    runtime__json_release(&j);
    sk_free(&x);
    runtime_model_unref(m);
    return err && err->code ? err->code : MOPS_EINVAL;
}
