/*
 * model.h — private to src/runtime: the in-memory layout of a loaded model,
 * the builder the loaders fill, and the scoring kernels' entry points.
 *
 * Layout. Every tree lives in one flat array of 16-byte nodes (the
 * "explicit" layout, exact for every model): an internal node sends a row
 * left when the prepared row value at its slot is < its threshold (double),
 * and its two children are adjacent, so a step is left + 16 * !(x < t).
 * Missing values need no test: the prepared row holds each feature twice,
 * NaN turned into -inf in the first copy and +inf in the second, and a node
 * whose missing values go left reads the first copy. A leaf points at itself
 * and reads slot 2F, which is always -inf, so a walk may run past a leaf
 * and stay there: walks are branch-free and several run in lockstep.
 *
 * Models whose inputs are compared in float32 (XGBoost, scikit-learn's
 * decision trees) also get the "perfect" layout for shallow trees: eight
 * trees interleaved node by node, each padded to a complete tree of the
 * group's depth, so children are found by arithmetic (2i+1, 2i+2) and a
 * node is 8 bytes. The scoring loop walks the eight trees of a group
 * together for one row at a time; see kernels.c.
 *
 * Names: internal functions and types shared between runtime files carry
 * the runtime__ prefix (libuv's rule for private symbols).
 */
#ifndef MOPS_RUNTIME_MODEL_H
#define MOPS_RUNTIME_MODEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/mem.h"
#include "runtime/runtime.h"

/* ------------------------------------------------------------ constants */

enum { RUNTIME__FORMAT_XGBOOST = 1, RUNTIME__FORMAT_SKLEARN = 2 };

/* How the margins become the VALUE output. */
typedef enum {
    RUNTIME__T_IDENTITY,      /* value = margin */
    RUNTIME__T_SIGMOID_F32,   /* XGBoost logistic, float32 */
    RUNTIME__T_EXP_F32,       /* XGBoost count:poisson */
    RUNTIME__T_SOFTMAX_F32,   /* XGBoost multi:soft*, float32 with a double sum */
    RUNTIME__T_BINARY,        /* [1-p, p], p = expit(m) */
    RUNTIME__T_BINARY_2X,     /* [1-p, p], p = expit(2m) (exponential loss) */
    RUNTIME__T_SOFTMAX,       /* softmax over the margins */
    RUNTIME__T_SOFTMAX_BIN,   /* softmax([-m, m]) (multinomial, 2 classes) */
    RUNTIME__T_LSE,           /* exp(m - logsumexp(m)) (GradientBoosting) */
    RUNTIME__T_OVR,           /* expit each margin, then divide by the sum */
    RUNTIME__T_EXP,           /* exp(m) */
} runtime__transform_t;

/* How the LABEL output is decided. */
typedef enum {
    RUNTIME__L_VALUE,          /* regressors: the value itself */
    RUNTIME__L_PROB_GT_HALF,   /* class 1 when value > 0.5 (XGBClassifier) */
    RUNTIME__L_MARGIN_GT_0,    /* class 1 when margin > 0 */
    RUNTIME__L_MARGIN_GE_0,    /* class 1 when margin >= 0 */
    RUNTIME__L_ARGMAX_VALUE,   /* first largest value */
    RUNTIME__L_ARGMAX_MARGIN,  /* first largest margin */
} runtime__label_t;

/* Slot bit marking a categorical node in the explicit layout. */
#define RUNTIME__SLOT_CAT 1u

/* Categorical rule families. */
enum {
    RUNTIME__CAT_XGBOOST = 0, /* set members go right; invalid or unlisted go left */
    RUNTIME__CAT_SKLEARN = 1, /* set members go left; known go right; unknown
                                 and negative follow missing values */
};

/* Deepest tree the loaders accept (a walk costs one step per level). */
#define RUNTIME__MAX_DEPTH 4096
/* Groups of trees walked together. */
#define RUNTIME__LANES 8
/* Deepest group given the perfect layout. */
#define RUNTIME__PERFECT_MAX_DEPTH 12

/* -------------------------------------------------------------- layout */

typedef struct runtime__node {
    double thr;     /* internal: go left when x < thr; leaf: its value, or
                       (wide leaves) the index of its first value; categorical:
                       index of its runtime__cat_t */
    uint32_t slot;  /* byte offset of x in the prepared double row;
                       | RUNTIME__SLOT_CAT for categorical nodes */
    uint32_t left;  /* byte offset of the left child in the node array;
                       the right child follows it; a leaf points at itself */
} runtime__node_t;

typedef struct runtime__cat {
    uint32_t set;        /* offset in cat_words of the category set */
    uint32_t set_words;  /* its length in 32-bit words */
    uint32_t known;      /* sklearn: offset of the known-categories set */
    uint32_t known_words;
    uint8_t rule;        /* RUNTIME__CAT_* */
    uint8_t missing_left;
} runtime__cat_t;

typedef struct runtime__tree {
    uint32_t root;       /* byte offset of the root node */
    uint32_t out;        /* first margin column this tree adds to */
    uint32_t n_nodes;
    uint16_t depth;      /* deepest leaf, in edges */
    uint8_t has_cat;
    uint8_t wide;        /* leaves hold an index into leafvals (n_margin wide) */
} runtime__tree_t;

typedef struct runtime__pnode {
    float thr;           /* go left when x < thr (float32) */
    uint32_t slot;       /* byte offset of x in the prepared float row */
} runtime__pnode_t;

enum { RUNTIME__G_PERFECT = 1, RUNTIME__G_EXPLICIT = 2, RUNTIME__G_SLOW = 3 };

typedef struct runtime__group {
    uint32_t first;      /* first tree */
    uint8_t n;           /* trees in the group, 1..8 */
    uint8_t kind;        /* RUNTIME__G_* */
    uint16_t depth;      /* steps a walk takes */
    size_t pnodes;       /* perfect: first node in model->pnodes */
    size_t pleaf;        /* perfect: first leaf entry in model->pleaf */
} runtime__group_t;

struct runtime_model {
    atomic_long refs;
    mops_arena_t *arena;        /* names, labels, strings */
    int format;                 /* RUNTIME__FORMAT_* */
    const char *objective;
    const char *kind;
    const char *producer;
    size_t n_features;
    char **feature_names;       /* NULL or n_features names */
    size_t n_classes;
    char **class_labels;        /* NULL or n_classes labels */

    int input_f32;              /* x is rounded to float32 before any test */
    int acc_f32;                /* margins are summed in float32 */
    size_t n_margin;
    size_t n_value;
    double *base;               /* n_margin starting margins */
    int average;                /* divide the tree sums by the tree count */
    runtime__transform_t transform;
    runtime__label_t label;

    /* trees */
    size_t n_trees;
    runtime__tree_t *trees;
    runtime__node_t *nodes;
    size_t n_nodes;
    double *leafvals;           /* wide leaves' values */
    size_t n_leafvals;
    runtime__cat_t *cats;
    size_t n_cats;
    uint32_t *cat_words;
    size_t n_cat_words;
    int has_cat;
    int max_depth;
    size_t trees_per_iter;
    size_t n_iter;
    size_t default_iter;
    runtime__group_t *groups;
    size_t n_groups;
    runtime__pnode_t *pnodes;
    size_t n_pnodes;
    uint32_t *pleaf;            /* float bits (narrow float32 leaves) or a
                                   leaf node's byte offset */
    size_t n_pleaf;
    int pleaf_float;
    int all_perfect;            /* every group has the perfect layout */

    /* linear models */
    int is_linear;
    double *coef;               /* n_margin rows of n_features */

    size_t memory_bytes;
};

/* ------------------------------------------------------------- builder */

/* A tree as a loader read it, before validation: nodes by id, children as
 * ids (-1 for none). The builder checks it and appends it to the model. */
typedef struct runtime__src_node {
    int64_t left, right;    /* child ids; both -1 for a leaf */
    int64_t feature;
    double threshold;       /* as the file has it */
    double value;           /* leaf value (narrow leaves) */
    uint8_t default_left;   /* missing values go left */
    uint8_t is_cat;
    uint32_t cat_set;       /* categorical: offset of the category list in
                               the builder's category pool */
    uint32_t cat_len;
    uint32_t wide_off;      /* wide leaves: offset of the values in the pool */
} runtime__src_node_t;

/* How thresholds are read. */
typedef enum {
    RUNTIME__SPLIT_LT_F32,  /* x_f32 < thr_f32 goes left (XGBoost) */
    RUNTIME__SPLIT_LE,      /* x <= thr (double) goes left (scikit-learn) */
} runtime__split_t;

typedef struct runtime__builder {
    runtime_model_t *m;
    runtime__split_t split;
    int cat_rule;
    /* growable arrays of the model */
    size_t cap_trees, cap_nodes, cap_leafvals, cap_cats, cap_cat_words;
    /* loader scratch: one tree's nodes, category lists, wide values */
    runtime__src_node_t *src;
    size_t n_src, cap_src;
    int64_t *cat_pool;
    size_t n_cat_pool, cap_cat_pool;
    double *wide_pool;
    size_t n_wide_pool, cap_wide_pool;
    /* validation scratch */
    uint32_t *queue;
    uint32_t *pos;
    uint16_t *dep;
    size_t cap_scratch;
    /* sklearn: known categories per feature (offset/words in cat_words) */
    uint32_t *known_off;
    uint32_t *known_words;
} runtime__builder_t;

/* Start a builder for model m (already holding n_features, n_margin...). */
void runtime__builder_init(runtime__builder_t *b, runtime_model_t *m, runtime__split_t split,
                           int cat_rule);
void runtime__builder_release(runtime__builder_t *b);

/* Scratch for one source tree: clear, then push nodes. */
void runtime__builder_tree_reset(runtime__builder_t *b);
runtime__src_node_t *runtime__builder_src_push(runtime__builder_t *b);
/* Append n category values to the pool; returns their offset. */
uint32_t runtime__builder_cat_push(runtime__builder_t *b, const int64_t *cats, size_t n);
/* Append n wide leaf values to the pool; returns their offset. */
uint32_t runtime__builder_wide_push(runtime__builder_t *b, const double *v, size_t n);

/* Check the source tree (tree number tree_no, for messages) and append it,
 * adding to margin column out; wide: leaves carry n_margin values. */
int runtime__builder_tree_add(runtime__builder_t *b, size_t tree_no, uint32_t out, int wide,
                              mops_err_t *err);

/* sklearn: record the known categories of a feature (for unknown-category
 * routing). */
int runtime__builder_known_cats(runtime__builder_t *b, size_t feature, const int64_t *cats,
                                size_t n, mops_err_t *err);

/* After every tree: build the fast layouts and count memory. */
int runtime__builder_finish(runtime__builder_t *b, mops_err_t *err);

/* ------------------------------------------------------------- models */

/* A new empty model with one reference. */
runtime_model_t *runtime__model_new(void);

/* Recount memory_bytes from the arrays the model holds. */
void runtime__model_measure(runtime_model_t *m);

/* Check the fields every model needs before scoring (widths, transform,
 * label rule against n_classes); 0 or MOPS_EINVAL. */
int runtime__model_check(const runtime_model_t *m, mops_err_t *err);

/* Loaders. */
int runtime__load_xgboost(const char *data, size_t len, runtime_model_t **out, mops_err_t *err);
int runtime__load_sklearn(const char *data, size_t len, runtime_model_t **out, mops_err_t *err);

/* --------------------------------------------------------------- kernels */

/* Walk one tree (any layout feature: categorical, wide leaves) for a
 * prepared double row; returns the leaf's node. */
const runtime__node_t *runtime__walk(const runtime_model_t *m, const runtime__tree_t *t,
                                     const double *xd);

/* Walk the trees of an explicit group for nb prepared double rows (stride
 * doubles apart); for row r, lane k's leaf byte offset goes to
 * leaf[r * 8 + k] (lanes past g->n walk a copy of lane 0). */
void runtime__walk_explicit_block(const runtime_model_t *m, const runtime__group_t *g,
                                  const double *xd, size_t stride, size_t nb, uint32_t *leaf);

/* Walk the trees of a perfect group for nb prepared float rows; leaf
 * positions (0 .. 2^depth-1) to leaf[r * 8 + k]. */
void runtime__walk_perfect_block(const runtime_model_t *m, const runtime__group_t *g,
                                 const float *xf, size_t stride, size_t nb, uint32_t *leaf);

/* Prepare one row for the perfect layout: 2F+1 floats to xf (simd.c picks
 * AVX-512, AVX2 or portable code at run time). */
void runtime__prep_f32(const float *src, size_t F, float *xf);
void runtime__prep_f64(const double *src, size_t F, float *xf);
/* Which of them runs here: "avx512", "avx2" or "portable". */
const char *runtime__simd_isa(void);
/* Use the named one (for tests); -1 if this CPU lacks it. Not thread-safe:
 * call before scoring starts. */
int runtime__simd_force(const char *isa);

#endif
