/*
 * load_xgboost.c — the XGBoost JSON loader: what Booster.save_model("m.json")
 * writes in XGBoost 1.x and 2.x (gbtree boosters).
 *
 * Semantics reproduced (XGBoost's CPU predictor): a row goes left when its
 * float32 value is < the float32 split condition, a missing value (NaN)
 * follows default_left, a categorical node sends the categories it lists to
 * the right and everything else (including negative or huge values) to the
 * left; leaf values are summed in float32 in tree order starting from
 * base_score turned into a margin by the objective (logit for logistic
 * objectives, log for count:poisson and friends), then the objective's
 * transform runs in float32.
 *
 * The file is read in two passes over the learner object: first everything
 * but gradient_booster (whose keys sort first but which needs the feature
 * count and objective), skipped by bracket matching, then the trees.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/jsonpull.h"
#include "runtime/model.h"

/* One tree's arrays, reused from tree to tree. */
typedef struct xgb_arrays {
    int64_t *left, *right, *split_index, *default_left, *split_type;
    size_t n_left, n_right, n_split_index, n_default_left, n_split_type;
    size_t c_left, c_right, c_split_index, c_default_left, c_split_type;
    double *cond;
    size_t n_cond, c_cond;
    int64_t *cats, *cat_nodes, *cat_segments, *cat_sizes;
    size_t n_cats, n_cat_nodes, n_cat_segments, n_cat_sizes;
    size_t c_cats, c_cat_nodes, c_cat_segments, c_cat_sizes;
} xgb_arrays_t;

typedef struct xgb_load {
    runtime_model_t *m;
    runtime__builder_t b;
    xgb_arrays_t a;
    mops_err_t *err;
    const char *objective;
    double base_score;
    int have_base_score;
    double *base_vec;          /* "[a,b,c]" base_score of newer versions */
    size_t n_base_vec;
    int64_t num_class, num_target, num_feature;
    int64_t best_iteration;    /* -1 when absent */
    int64_t num_parallel_tree;
    int64_t num_trees_declared;
    int64_t *tree_info;
    size_t n_tree_info, c_tree_info;
    int64_t *indptr;
    size_t n_indptr, c_indptr;
    int have_tree_info, have_indptr;
    char booster[32];
    int version[3];
    char **names;
    size_t n_names;
} xgb_load_t;

static void xgb_arrays_free(xgb_arrays_t *a)
{
    free(a->left);
    free(a->right);
    free(a->split_index);
    free(a->default_left);
    free(a->split_type);
    free(a->cond);
    free(a->cats);
    free(a->cat_nodes);
    free(a->cat_segments);
    free(a->cat_sizes);
}

#define MAXN ((size_t)1 << 40)

/* A parameter XGBoost writes as a string holding a number. */
static int read_num_string(runtime__json_t *j, const char *what, double *out)
{
    const char *s;
    size_t n;
    if (runtime__json_peek(j) != '"')
        return runtime__json_number(j, out);
    if (runtime__json_string(j, &s, &n) < 0)
        return MOPS_EINVAL;
    if (runtime__json_parse_num_text(s, n, out) < 0)
        return runtime__json_fail(j, "%s \"%.*s\" is not a number", what, (int)(n > 40 ? 40 : n), s);
    return 0;
}

static int read_int_string(runtime__json_t *j, const char *what, int64_t lo, int64_t hi,
                           int64_t *out)
{
    double v;
    if (read_num_string(j, what, &v) < 0)
        return MOPS_EINVAL;
    if (!(v >= (double)lo && v <= (double)hi) || v != floor(v))
        return runtime__json_fail(j, "%s %.17g is out of range (%lld..%lld)", what, v, (long long)lo,
                                  (long long)hi);
    *out = (int64_t)v;
    return 0;
}

static int parse_base_score(xgb_load_t *x, runtime__json_t *j)
{
    const char *s;
    size_t n;
    if (runtime__json_peek(j) != '"')
        return runtime__json_number(j, &x->base_score) < 0 ? MOPS_EINVAL : (x->have_base_score = 1, 0);
    if (runtime__json_string(j, &s, &n) < 0)
        return MOPS_EINVAL;
    /* "[a,b,...]" with several values: one per output (XGBoost >= 2.1). */
    if (n >= 2 && s[0] == '[' && memchr(s, ',', n)) {
        char *copy = mops_xstrndup(s, n);
        runtime__json_t sub;
        runtime__json_init(&sub, copy, n, NULL);
        size_t cap = 0;
        int rc = runtime__json_numbers(&sub, &x->base_vec, &x->n_base_vec, &cap, 1 << 20,
                                       "base_score");
        runtime__json_release(&sub);
        free(copy);
        if (rc < 0)
            return runtime__json_fail(j, "base_score is not a list of numbers");
        x->have_base_score = 1;
        return 0;
    }
    if (runtime__json_parse_num_text(s, n, &x->base_score) < 0)
        return runtime__json_fail(j, "base_score \"%.*s\" is not a number", (int)(n > 40 ? 40 : n), s);
    x->have_base_score = 1;
    return 0;
}

static int parse_learner_model_param(xgb_load_t *x, runtime__json_t *j)
{
    const char *k;
    size_t kl;
    int rc;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "base_score")) {
            rc = parse_base_score(x, j);
        } else if (runtime__json_key_is(k, kl, "num_class")) {
            rc = read_int_string(j, "num_class", 0, 1 << 16, &x->num_class);
        } else if (runtime__json_key_is(k, kl, "num_target")) {
            rc = read_int_string(j, "num_target", 0, 1 << 16, &x->num_target);
        } else if (runtime__json_key_is(k, kl, "num_feature")) {
            rc = read_int_string(j, "num_feature", 0, (int64_t)RUNTIME_MAX_FEATURES,
                                 &x->num_feature);
        } else {
            rc = runtime__json_skip(j);
        }
        if (rc < 0)
            return MOPS_EINVAL;
    }
    return rc;
}

static int parse_objective(xgb_load_t *x, runtime__json_t *j)
{
    const char *k;
    size_t kl;
    int rc;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "name")) {
            const char *s;
            size_t n;
            if (runtime__json_string(j, &s, &n) < 0)
                return MOPS_EINVAL;
            x->objective = mops_arena_strndup(x->m->arena, s, n);
        } else if (runtime__json_skip(j) < 0) {
            return MOPS_EINVAL;
        }
    }
    return rc;
}

static int parse_attributes(xgb_load_t *x, runtime__json_t *j)
{
    const char *k;
    size_t kl;
    int rc;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "best_iteration")) {
            if (read_int_string(j, "best_iteration", 0, INT32_MAX, &x->best_iteration) < 0)
                return MOPS_EINVAL;
        } else if (runtime__json_skip(j) < 0) {
            return MOPS_EINVAL;
        }
    }
    return rc;
}

static int parse_feature_names(xgb_load_t *x, runtime__json_t *j)
{
    int rc;
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    size_t cap = 0;
    /* A repeated key replaces the earlier list. */
    free(x->names);
    x->names = NULL;
    x->n_names = 0;
    while ((rc = runtime__json_next_item(j)) > 0) {
        const char *s;
        size_t n;
        if (runtime__json_string(j, &s, &n) < 0)
            return MOPS_EINVAL;
        if (x->n_names >= RUNTIME_MAX_FEATURES)
            return runtime__json_fail(j, "more than %zu feature names", RUNTIME_MAX_FEATURES);
        if (x->n_names == cap) {
            cap = cap ? cap * 2 : 16;
            x->names = mops_xrealloc(x->names, cap * sizeof *x->names);
        }
        x->names[x->n_names++] = mops_arena_strndup(x->m->arena, s, n);
    }
    return rc;
}

static int parse_version(xgb_load_t *x, runtime__json_t *j)
{
    int rc, i = 0;
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_item(j)) > 0) {
        int64_t v;
        if (runtime__json_integer(j, &v) < 0)
            return MOPS_EINVAL;
        if (i < 3)
            x->version[i] = (int)(v < 0 ? 0 : v > 10000 ? 10000 : v);
        i++;
    }
    return rc;
}

/* ------------------------------------------------------------------ trees */

static int read_tree_param(runtime__json_t *j, size_t tree_no)
{
    const char *k;
    size_t kl;
    int rc;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "size_leaf_vector")) {
            int64_t v;
            if (read_int_string(j, "size_leaf_vector", 0, INT32_MAX, &v) < 0)
                return MOPS_EINVAL;
            if (v > 1)
                return runtime__json_fail(j,
                                          "tree %zu has vector leaves (multi_strategy=multi_output_tree), which mops does not run",
                                          tree_no);
        } else if (runtime__json_skip(j) < 0) {
            return MOPS_EINVAL;
        }
    }
    return rc;
}

static int parse_tree(xgb_load_t *x, runtime__json_t *j, size_t tree_no)
{
    xgb_arrays_t *a = &x->a;
    const char *k;
    size_t kl;
    int rc;
    a->n_left = a->n_right = a->n_split_index = a->n_default_left = a->n_split_type = 0;
    a->n_cond = a->n_cats = a->n_cat_nodes = a->n_cat_segments = a->n_cat_sizes = 0;
    int seen_left = 0, seen_right = 0, seen_idx = 0, seen_cond = 0, seen_dl = 0;
    const char *tree_start = j->p;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
#define INTS(name, arr)                                                                     \
    else if (runtime__json_key_is(k, kl, name)) rc =                                        \
        runtime__json_integers(j, &a->arr, &a->n_##arr, &a->c_##arr, MAXN, name)
        if (runtime__json_key_is(k, kl, "left_children")) {
            rc = runtime__json_integers(j, &a->left, &a->n_left, &a->c_left, MAXN, "left_children");
            seen_left = 1;
        } else if (runtime__json_key_is(k, kl, "right_children")) {
            rc = runtime__json_integers(j, &a->right, &a->n_right, &a->c_right, MAXN,
                                        "right_children");
            seen_right = 1;
        } else if (runtime__json_key_is(k, kl, "split_indices")) {
            rc = runtime__json_integers(j, &a->split_index, &a->n_split_index, &a->c_split_index,
                                        MAXN, "split_indices");
            seen_idx = 1;
        } else if (runtime__json_key_is(k, kl, "default_left")) {
            rc = runtime__json_integers(j, &a->default_left, &a->n_default_left,
                                        &a->c_default_left, MAXN, "default_left");
            seen_dl = 1;
        } else if (runtime__json_key_is(k, kl, "split_conditions")) {
            rc = runtime__json_numbers(j, &a->cond, &a->n_cond, &a->c_cond, MAXN,
                                       "split_conditions");
            seen_cond = 1;
        }
        INTS("split_type", split_type);
        INTS("categories", cats);
        INTS("categories_nodes", cat_nodes);
        INTS("categories_segments", cat_segments);
        INTS("categories_sizes", cat_sizes);
        else if (runtime__json_key_is(k, kl, "tree_param")) rc = read_tree_param(j, tree_no);
        else rc = runtime__json_skip(j);
#undef INTS
        if (rc < 0)
            return MOPS_EINVAL;
    }
    if (rc < 0)
        return rc;
    const char *after = j->p;
    j->p = tree_start; /* messages below point at the tree */
    if (!seen_left || !seen_right || !seen_idx || !seen_cond || !seen_dl)
        return runtime__json_fail(j, "tree %zu lacks %s", tree_no,
                                  !seen_left ? "left_children" : !seen_right ? "right_children"
                                  : !seen_idx ? "split_indices" : !seen_cond ? "split_conditions"
                                              : "default_left");
    size_t n = a->n_left;
#define SAME(arr, name)                                                                     \
    if (a->n_##arr != n)                                                                    \
        return runtime__json_fail(j, "tree %zu: %s has %zu items but left_children has %zu", \
                                  tree_no, name, a->n_##arr, n);
    SAME(right, "right_children");
    SAME(split_index, "split_indices");
    SAME(cond, "split_conditions");
    SAME(default_left, "default_left");
    if (a->n_split_type)
        SAME(split_type, "split_type");
#undef SAME
    if (a->n_cat_nodes != a->n_cat_segments || a->n_cat_nodes != a->n_cat_sizes)
        return runtime__json_fail(j, "tree %zu: categories_nodes, categories_segments and "
                                     "categories_sizes differ in length", tree_no);
    j->p = after;

    runtime__builder_t *b = &x->b;
    runtime__builder_tree_reset(b);
    for (size_t i = 0; i < n; i++) {
        runtime__src_node_t *s = runtime__builder_src_push(b);
        if (a->left[i] == -1) {
            s->value = a->cond[i];
            continue;
        }
        s->left = a->left[i];
        s->right = a->right[i];
        s->feature = a->split_index[i];
        s->threshold = a->cond[i];
        s->default_left = a->default_left[i] != 0;
        if (a->n_split_type && a->split_type[i] == 1) {
            s->is_cat = 1;
        } else if (a->n_split_type && a->split_type[i] != 0) {
            return mops_err_set(x->err, MOPS_EINVAL, "tree %zu, node %zu: unknown split_type %lld",
                                tree_no, i, (long long)a->split_type[i]);
        }
    }
    for (size_t c = 0; c < a->n_cat_nodes; c++) {
        int64_t node = a->cat_nodes[c], seg = a->cat_segments[c], size = a->cat_sizes[c];
        if (node < 0 || (uint64_t)node >= n)
            return mops_err_set(x->err, MOPS_EINVAL,
                                "tree %zu: categories_nodes[%zu] = %lld is not a node of the tree",
                                tree_no, c, (long long)node);
        if (seg < 0 || size < 0 || (uint64_t)seg > a->n_cats || (uint64_t)size > a->n_cats - (uint64_t)seg)
            return mops_err_set(x->err, MOPS_EINVAL,
                                "tree %zu, node %lld: category segment %lld+%lld is outside the %zu categories",
                                tree_no, (long long)node, (long long)seg, (long long)size, a->n_cats);
        runtime__src_node_t *s = &b->src[node];
        if (!s->is_cat)
            return mops_err_set(x->err, MOPS_EINVAL,
                                "tree %zu, node %lld: lists categories but is not a categorical split",
                                tree_no, (long long)node);
        s->cat_set = runtime__builder_cat_push(b, size ? a->cats + seg : NULL, (size_t)size);
        s->cat_len = (uint32_t)size;
    }
    return runtime__builder_tree_add(b, tree_no, 0, 0, x->err);
}

static int parse_trees(xgb_load_t *x, runtime__json_t *j)
{
    int rc;
    if (runtime__json_array_begin(j) < 0)
        return MOPS_EINVAL;
    size_t t = 0;
    while ((rc = runtime__json_next_item(j)) > 0) {
        if (parse_tree(x, j, t) < 0)
            return MOPS_EINVAL;
        t++;
    }
    return rc;
}

static int parse_gbtree_param(xgb_load_t *x, runtime__json_t *j)
{
    const char *k;
    size_t kl;
    int rc;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "num_parallel_tree"))
            rc = read_int_string(j, "num_parallel_tree", 1, 1 << 20, &x->num_parallel_tree);
        else if (runtime__json_key_is(k, kl, "num_trees"))
            rc = read_int_string(j, "num_trees", 0, INT64_C(1) << 40, &x->num_trees_declared);
        else
            rc = runtime__json_skip(j);
        if (rc < 0)
            return MOPS_EINVAL;
    }
    return rc;
}

static int parse_gbtree_model(xgb_load_t *x, runtime__json_t *j)
{
    const char *k;
    size_t kl;
    int rc;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "trees")) {
            rc = parse_trees(x, j);
        } else if (runtime__json_key_is(k, kl, "tree_info")) {
            rc = runtime__json_integers(j, &x->tree_info, &x->n_tree_info, &x->c_tree_info, MAXN,
                                        "tree_info");
            x->have_tree_info = 1;
        } else if (runtime__json_key_is(k, kl, "iteration_indptr")) {
            rc = runtime__json_integers(j, &x->indptr, &x->n_indptr, &x->c_indptr, MAXN,
                                        "iteration_indptr");
            x->have_indptr = 1;
        } else if (runtime__json_key_is(k, kl, "gbtree_model_param")) {
            rc = parse_gbtree_param(x, j);
        } else if (runtime__json_key_is(k, kl, "weights")) {
            return runtime__json_fail(j, "this is a gblinear booster; mops runs gbtree boosters");
        } else {
            rc = runtime__json_skip(j);
        }
        if (rc < 0)
            return MOPS_EINVAL;
    }
    return rc;
}

static int parse_gradient_booster(xgb_load_t *x, runtime__json_t *j)
{
    const char *k;
    size_t kl;
    int rc, have_model = 0;
    if (runtime__json_object_begin(j) < 0)
        return MOPS_EINVAL;
    while ((rc = runtime__json_next_key(j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "name")) {
            const char *s;
            size_t n;
            if (runtime__json_string(j, &s, &n) < 0)
                return MOPS_EINVAL;
            snprintf(x->booster, sizeof x->booster, "%.*s", (int)n, s);
            if (strcmp(x->booster, "gbtree") != 0)
                return runtime__json_fail(j, "booster '%s' is not supported; mops runs gbtree boosters",
                                          x->booster);
        } else if (runtime__json_key_is(k, kl, "model")) {
            if (parse_gbtree_model(x, j) < 0)
                return MOPS_EINVAL;
            have_model = 1;
        } else if (runtime__json_skip(j) < 0) {
            return MOPS_EINVAL;
        }
    }
    if (rc < 0)
        return rc;
    if (!have_model)
        return mops_err_set(x->err, MOPS_EINVAL,
                            "gradient_booster has no gbtree model (dart and gblinear are not supported)");
    return 0;
}

/* ---------------------------------------------------------------- objective */

typedef struct objective_rule {
    const char *name;
    int classes;                 /* 0 regressor, 2 binary, -1 num_class */
    runtime__transform_t transform;
    runtime__label_t label;
    char base;                   /* 'i' identity, 'l' logit, 'g' log */
} objective_rule_t;

static const objective_rule_t objectives[] = {
    {"binary:logistic", 2, RUNTIME__T_SIGMOID_F32, RUNTIME__L_PROB_GT_HALF, 'l'},
    /* XGBoost >= 1.7 takes logitraw's base_score as a margin as it is. */
    {"binary:logitraw", 2, RUNTIME__T_IDENTITY, RUNTIME__L_MARGIN_GT_0, 'i'},
    {"reg:logistic", 0, RUNTIME__T_SIGMOID_F32, RUNTIME__L_VALUE, 'l'},
    {"reg:squarederror", 0, RUNTIME__T_IDENTITY, RUNTIME__L_VALUE, 'i'},
    {"reg:linear", 0, RUNTIME__T_IDENTITY, RUNTIME__L_VALUE, 'i'},
    {"reg:absoluteerror", 0, RUNTIME__T_IDENTITY, RUNTIME__L_VALUE, 'i'},
    {"reg:pseudohubererror", 0, RUNTIME__T_IDENTITY, RUNTIME__L_VALUE, 'i'},
    {"reg:squaredlogerror", 0, RUNTIME__T_IDENTITY, RUNTIME__L_VALUE, 'i'},
    {"count:poisson", 0, RUNTIME__T_EXP_F32, RUNTIME__L_VALUE, 'g'},
    {"reg:gamma", 0, RUNTIME__T_EXP_F32, RUNTIME__L_VALUE, 'g'},
    {"reg:tweedie", 0, RUNTIME__T_EXP_F32, RUNTIME__L_VALUE, 'g'},
    {"multi:softprob", -1, RUNTIME__T_SOFTMAX_F32, RUNTIME__L_ARGMAX_VALUE, 'i'},
    {"multi:softmax", -1, RUNTIME__T_SOFTMAX_F32, RUNTIME__L_ARGMAX_MARGIN, 'i'},
    {"rank:pairwise", 0, RUNTIME__T_IDENTITY, RUNTIME__L_VALUE, 'i'},
    {"rank:ndcg", 0, RUNTIME__T_IDENTITY, RUNTIME__L_VALUE, 'i'},
    {"rank:map", 0, RUNTIME__T_IDENTITY, RUNTIME__L_VALUE, 'i'},
};

static int base_to_margin(char rule, double base, float *out, mops_err_t *err)
{
    float b = (float)base;
    switch (rule) {
    case 'l':
        /* Newer XGBoost accepts 0 and 1 for a constant label (margin -inf/inf). */
        if (!(b >= 0.0f && b <= 1.0f))
            return mops_err_set(err, MOPS_EINVAL,
                                "base_score %g must be in [0,1] for a logistic objective", base);
        *out = -logf(1.0f / b - 1.0f);
        return 0;
    case 'g':
        if (!(b > 0.0f))
            return mops_err_set(err, MOPS_EINVAL,
                                "base_score %g must be positive for a log-link objective", base);
        *out = logf(b);
        return 0;
    default:
        if (!isfinite(b))
            return mops_err_set(err, MOPS_EINVAL, "base_score %g is not finite", base);
        *out = b;
        return 0;
    }
}

static int set_objective(xgb_load_t *x)
{
    runtime_model_t *m = x->m;
    const objective_rule_t *r = NULL;
    if (!x->objective)
        return mops_err_set(x->err, MOPS_EINVAL, "the model has no objective");
    for (size_t i = 0; i < sizeof objectives / sizeof objectives[0]; i++)
        if (!strcmp(objectives[i].name, x->objective))
            r = &objectives[i];
    if (!r)
        return mops_err_set(x->err, MOPS_EINVAL,
                            "objective '%s' is not supported (supported: binary:logistic, "
                            "binary:logitraw, reg:squarederror, reg:logistic, reg:absoluteerror, "
                            "reg:pseudohubererror, reg:squaredlogerror, count:poisson, reg:gamma, "
                            "reg:tweedie, multi:softprob, multi:softmax, rank:*)",
                            x->objective);
    m->objective = x->objective;
    m->transform = r->transform;
    m->label = r->label;
    size_t outputs = 1;
    if (r->classes == -1) {
        if (x->num_class < 2)
            return mops_err_set(x->err, MOPS_EINVAL, "objective %s needs num_class >= 2, the file has %lld",
                                x->objective, (long long)x->num_class);
        outputs = (size_t)x->num_class;
    } else if (r->classes == 0 && x->num_target > 1) {
        outputs = (size_t)x->num_target;
    }
    m->n_margin = m->n_value = outputs;
    size_t nclass = r->classes == 2 ? 2 : r->classes == -1 ? outputs : 0;
    m->kind = nclass ? "classifier" : "regressor";
    if (nclass) {
        m->n_classes = nclass;
        m->class_labels = mops_arena_alloc(m->arena, nclass * sizeof(char *));
        for (size_t c = 0; c < nclass; c++)
            m->class_labels[c] = mops_arena_printf(m->arena, "%zu", c);
    }
    m->base = mops_xcalloc(outputs, sizeof(double));
    for (size_t c = 0; c < outputs; c++) {
        double bs = 0.5;
        if (x->n_base_vec) {
            if (x->n_base_vec != outputs)
                return mops_err_set(x->err, MOPS_EINVAL,
                                    "base_score has %zu values for %zu outputs", x->n_base_vec, outputs);
            bs = x->base_vec[c];
        } else if (x->have_base_score) {
            bs = x->base_score;
        }
        float margin = 0.0f;
        if (base_to_margin(r->base, bs, &margin, x->err) < 0)
            return MOPS_EINVAL;
        m->base[c] = margin;
    }
    return 0;
}

/* ------------------------------------------------------------------ load */

int runtime__load_xgboost(const char *data, size_t len, runtime_model_t **out, mops_err_t *err)
{
    xgb_load_t x;
    memset(&x, 0, sizeof x);
    x.err = err;
    x.best_iteration = -1;
    x.num_parallel_tree = 1;
    x.num_trees_declared = -1;
    x.m = runtime__model_new();
    runtime_model_t *m = x.m;
    m->format = RUNTIME__FORMAT_XGBOOST;
    m->input_f32 = 1;
    m->acc_f32 = 1;

    runtime__json_t j;
    runtime__json_init(&j, data, len, err);
    const char *k;
    size_t kl;
    int rc;
    const char *gb_start = NULL, *gb_end = NULL;
    int have_learner = 0;

    if (runtime__json_object_begin(&j) < 0)
        goto fail;
    while ((rc = runtime__json_next_key(&j, &k, &kl)) > 0) {
        if (runtime__json_key_is(k, kl, "learner")) {
            have_learner = 1;
            if (runtime__json_object_begin(&j) < 0)
                goto fail;
            while ((rc = runtime__json_next_key(&j, &k, &kl)) > 0) {
                if (runtime__json_key_is(k, kl, "gradient_booster")) {
                    runtime__json_peek(&j);
                    gb_start = j.p;
                    rc = runtime__json_skip_fast(&j);
                    gb_end = j.p;
                } else if (runtime__json_key_is(k, kl, "learner_model_param")) {
                    rc = parse_learner_model_param(&x, &j);
                } else if (runtime__json_key_is(k, kl, "objective")) {
                    rc = parse_objective(&x, &j);
                } else if (runtime__json_key_is(k, kl, "attributes")) {
                    rc = parse_attributes(&x, &j);
                } else if (runtime__json_key_is(k, kl, "feature_names")) {
                    rc = parse_feature_names(&x, &j);
                } else {
                    rc = runtime__json_skip(&j);
                }
                if (rc < 0)
                    goto fail;
            }
            if (rc < 0)
                goto fail;
        } else if (runtime__json_key_is(k, kl, "version")) {
            if (parse_version(&x, &j) < 0)
                goto fail;
        } else if (runtime__json_skip(&j) < 0) {
            goto fail;
        }
    }
    if (rc < 0 || runtime__json_end(&j) < 0)
        goto fail;
    if (!have_learner) {
        mops_err_set(err, MOPS_EINVAL, "not an XGBoost model: no \"learner\" object");
        goto fail;
    }
    if (!gb_start) {
        mops_err_set(err, MOPS_EINVAL, "the learner has no gradient_booster");
        goto fail;
    }
    if (x.num_feature <= 0) {
        mops_err_set(err, MOPS_EINVAL, "learner_model_param.num_feature is missing or 0");
        goto fail;
    }
    m->n_features = (size_t)x.num_feature;
    if (set_objective(&x) < 0)
        goto fail;
    if (x.n_names) {
        if (x.n_names != m->n_features) {
            mops_err_set(err, MOPS_EINVAL, "the model has %zu feature names for %zu features",
                         x.n_names, m->n_features);
            goto fail;
        }
        m->feature_names = mops_arena_alloc(m->arena, x.n_names * sizeof(char *));
        memcpy(m->feature_names, x.names, x.n_names * sizeof(char *));
    }
    if (x.version[0])
        m->producer = mops_arena_printf(m->arena, "xgboost %d.%d.%d", x.version[0], x.version[1],
                                        x.version[2]);

    /* Second pass: the booster, now that features and outputs are known. */
    runtime__builder_init(&x.b, m, RUNTIME__SPLIT_LT_F32, RUNTIME__CAT_XGBOOST);
    runtime__json_t gj;
    runtime__json_at(&gj, &j, gb_start, gb_end);
    rc = parse_gradient_booster(&x, &gj);
    if (rc == 0)
        rc = runtime__json_end(&gj);
    runtime__json_release(&gj);
    if (rc < 0)
        goto fail;

    if (x.num_trees_declared >= 0 && (size_t)x.num_trees_declared != m->n_trees) {
        mops_err_set(err, MOPS_EINVAL, "gbtree_model_param.num_trees is %lld but %zu trees follow",
                     (long long)x.num_trees_declared, m->n_trees);
        goto fail;
    }
    if (m->n_margin > 1 || x.have_tree_info) {
        if (x.n_tree_info != m->n_trees) {
            mops_err_set(err, MOPS_EINVAL, "tree_info has %zu entries for %zu trees", x.n_tree_info,
                         m->n_trees);
            goto fail;
        }
        for (size_t t = 0; t < m->n_trees; t++) {
            if (x.tree_info[t] < 0 || (uint64_t)x.tree_info[t] >= m->n_margin) {
                mops_err_set(err, MOPS_EINVAL,
                             "tree %zu: tree_info %lld is not an output of the model (%zu outputs)",
                             t, (long long)x.tree_info[t], m->n_margin);
                goto fail;
            }
            m->trees[t].out = (uint32_t)x.tree_info[t];
        }
    }
    m->trees_per_iter = (size_t)x.num_parallel_tree * m->n_margin;
    if (x.have_indptr && x.n_indptr >= 2) {
        int64_t step = x.indptr[1] - x.indptr[0];
        if (step > 0)
            m->trees_per_iter = (size_t)step;
    }
    if (m->n_trees % m->trees_per_iter != 0) {
        mops_err_set(err, MOPS_EINVAL, "%zu trees do not make whole rounds of %zu trees",
                     m->n_trees, m->trees_per_iter);
        goto fail;
    }
    if (x.best_iteration >= 0)
        m->default_iter = (size_t)x.best_iteration + 1;
    if (runtime__builder_finish(&x.b, err) < 0 || runtime__model_check(m, err) < 0)
        goto fail;
    runtime__builder_release(&x.b);
    runtime__json_release(&j);
    xgb_arrays_free(&x.a);
    free(x.tree_info);
    free(x.indptr);
    free(x.names);
    free(x.base_vec);
    *out = m;
    return 0;

fail:
    runtime__builder_release(&x.b);
    runtime__json_release(&j);
    xgb_arrays_free(&x.a);
    free(x.tree_info);
    free(x.indptr);
    free(x.names);
    free(x.base_vec);
    runtime_model_unref(m);
    return err && err->code ? err->code : MOPS_EINVAL;
}
