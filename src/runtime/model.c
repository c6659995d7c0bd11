/*
 * model.c — a loaded model's life (new, reference counting, info, free) and
 * the builder that turns the trees a loader read into the flat layouts of
 * model.h, refusing any tree that is not a tree: children out of range,
 * cycles, shared children, features beyond the feature count, NaN or
 * infinite thresholds and leaves. Every refusal names the tree and node.
 */
#include "runtime/model.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_BYTES ((uint32_t)sizeof(runtime__node_t))
/* Node arrays are addressed by 32-bit byte offsets. */
#define MAX_NODES ((size_t)UINT32_MAX / sizeof(runtime__node_t) - 1)
/* Largest category value a split may list. */
#define MAX_CATEGORY ((int64_t)1 << 24)

/* ---------------------------------------------------------------- model */

runtime_model_t *runtime__model_new(void)
{
    runtime_model_t *m = mops_xcalloc(1, sizeof *m);
    atomic_init(&m->refs, 1);
    m->arena = mops_arena_new();
    m->objective = "";
    m->kind = "regressor";
    m->producer = "";
    return m;
}

static void model_destroy(runtime_model_t *m)
{
    free(m->base);
    free(m->trees);
    free(m->nodes);
    free(m->leafvals);
    free(m->cats);
    free(m->cat_words);
    free(m->groups);
    free(m->pnodes);
    free(m->pleaf);
    free(m->coef);
    mops_arena_free(m->arena); /* feature names, labels, strings */
    free(m);
}

runtime_model_t *runtime_model_ref(runtime_model_t *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void runtime_model_unref(runtime_model_t *m)
{
    if (!m)
        return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        model_destroy(m);
}

void runtime_model_free(runtime_model_t *m)
{
    runtime_model_unref(m);
}

void runtime__model_measure(runtime_model_t *m)
{
    size_t b = sizeof *m;
    b += m->n_margin * sizeof(double);
    b += m->n_trees * sizeof(runtime__tree_t);
    b += m->n_nodes * sizeof(runtime__node_t);
    b += m->n_leafvals * sizeof(double);
    b += m->n_cats * sizeof(runtime__cat_t);
    b += m->n_cat_words * sizeof(uint32_t);
    b += m->n_groups * sizeof(runtime__group_t);
    b += m->n_pnodes * sizeof(runtime__pnode_t);
    b += m->n_pleaf * sizeof(uint32_t);
    if (m->is_linear)
        b += m->n_margin * m->n_features * sizeof(double);
    if (m->feature_names) {
        b += m->n_features * sizeof(char *);
        for (size_t i = 0; i < m->n_features; i++)
            b += strlen(m->feature_names[i]) + 1;
    }
    if (m->class_labels) {
        b += m->n_classes * sizeof(char *);
        for (size_t i = 0; i < m->n_classes; i++)
            b += strlen(m->class_labels[i]) + 1;
    }
    m->memory_bytes = b;
}

int runtime__model_check(const runtime_model_t *m, mops_err_t *err)
{
    if (m->n_features == 0)
        return mops_err_set(err, MOPS_EINVAL, "the model has no features");
    if (m->n_margin == 0 || !m->base)
        return mops_err_set(err, MOPS_EINVAL, "the model has no outputs");
    switch (m->transform) {
    case RUNTIME__T_BINARY:
    case RUNTIME__T_BINARY_2X:
    case RUNTIME__T_SOFTMAX_BIN:
        if (m->n_margin != 1 || m->n_value != 2)
            return mops_err_set(err, MOPS_EINVAL, "a binary link needs one raw output");
        break;
    default:
        if (m->n_value != m->n_margin)
            return mops_err_set(err, MOPS_EINVAL, "output widths disagree");
    }
    if (m->label != RUNTIME__L_VALUE) {
        if (m->n_classes < 2 || !m->class_labels)
            return mops_err_set(err, MOPS_EINVAL, "a classifier needs at least two classes");
        if ((m->label == RUNTIME__L_ARGMAX_VALUE && m->n_value != m->n_classes) ||
            (m->label == RUNTIME__L_ARGMAX_MARGIN && m->n_margin != m->n_classes &&
             !(m->n_margin == 1 && m->n_classes == 2)))
            return mops_err_set(err, MOPS_EINVAL,
                                "the model has %zu classes but %zu outputs", m->n_classes,
                                m->label == RUNTIME__L_ARGMAX_VALUE ? m->n_value : m->n_margin);
    }
    return 0;
}

void runtime_model_info(const runtime_model_t *m, runtime_model_info_t *info)
{
    memset(info, 0, sizeof *info);
    info->format = m->format == RUNTIME__FORMAT_XGBOOST ? "xgboost-json" : "sklearn-json";
    info->objective = m->objective;
    info->kind = m->kind;
    info->producer = m->producer;
    info->n_features = m->n_features;
    info->feature_names = (const char *const *)m->feature_names;
    info->n_classes = m->n_classes;
    info->class_labels = (const char *const *)m->class_labels;
    info->n_value = m->n_value;
    info->n_margin = m->n_margin;
    info->n_trees = m->n_trees;
    info->n_iterations = m->is_linear ? 1 : m->n_iter;
    info->default_iterations = m->is_linear ? 1 : m->default_iter;
    info->max_depth = m->max_depth;
    info->memory_bytes = m->memory_bytes;
    info->output_float32 = m->acc_f32;
}

size_t runtime_output_width(const runtime_model_t *m, runtime_output_t output)
{
    switch (output) {
    case RUNTIME_OUTPUT_MARGIN:
        return m->n_margin;
    case RUNTIME_OUTPUT_LABEL:
        return m->label == RUNTIME__L_VALUE ? m->n_value : 1;
    case RUNTIME_OUTPUT_VALUE:
    default:
        return m->n_value;
    }
}

/* -------------------------------------------------------------- builder */

#define GROW(ptr, n, cap, want)                                                    \
    do {                                                                           \
        if ((want) > (cap)) {                                                      \
            size_t c_ = (cap) ? (cap) : 16;                                        \
            while (c_ < (want))                                                    \
                c_ *= 2;                                                           \
            (ptr) = mops_xrealloc((ptr), c_ * sizeof *(ptr));                      \
            (cap) = c_;                                                            \
        }                                                                          \
        (void)(n);                                                                 \
    } while (0)

void runtime__builder_init(runtime__builder_t *b, runtime_model_t *m, runtime__split_t split,
                           int cat_rule)
{
    memset(b, 0, sizeof *b);
    b->m = m;
    b->split = split;
    b->cat_rule = cat_rule;
}

void runtime__builder_release(runtime__builder_t *b)
{
    free(b->src);
    free(b->cat_pool);
    free(b->wide_pool);
    free(b->queue);
    free(b->pos);
    free(b->dep);
    free(b->known_off);
    free(b->known_words);
    memset(b, 0, sizeof *b);
}

void runtime__builder_tree_reset(runtime__builder_t *b)
{
    b->n_src = 0;
    b->n_cat_pool = 0;
    b->n_wide_pool = 0;
}

runtime__src_node_t *runtime__builder_src_push(runtime__builder_t *b)
{
    GROW(b->src, b->n_src, b->cap_src, b->n_src + 1);
    runtime__src_node_t *n = &b->src[b->n_src++];
    memset(n, 0, sizeof *n);
    n->left = n->right = -1;
    return n;
}

uint32_t runtime__builder_cat_push(runtime__builder_t *b, const int64_t *cats, size_t n)
{
    GROW(b->cat_pool, b->n_cat_pool, b->cap_cat_pool, b->n_cat_pool + n);
    uint32_t off = (uint32_t)b->n_cat_pool;
    if (n)
        memcpy(b->cat_pool + off, cats, n * sizeof *cats);
    b->n_cat_pool += n;
    return off;
}

uint32_t runtime__builder_wide_push(runtime__builder_t *b, const double *v, size_t n)
{
    GROW(b->wide_pool, b->n_wide_pool, b->cap_wide_pool, b->n_wide_pool + n);
    uint32_t off = (uint32_t)b->n_wide_pool;
    if (n)
        memcpy(b->wide_pool + off, v, n * sizeof *v);
    b->n_wide_pool += n;
    return off;
}

/* Append a bitset of the given categories to the model's cat_words. */
static int cat_bitset(runtime__builder_t *b, const int64_t *cats, size_t n, uint32_t *off,
                      uint32_t *words, size_t tree_no, size_t node, mops_err_t *err)
{
    runtime_model_t *m = b->m;
    int64_t max = -1;
    for (size_t i = 0; i < n; i++) {
        int64_t limit = b->cat_rule == RUNTIME__CAT_SKLEARN ? 256 : MAX_CATEGORY;
        if (cats[i] < 0 || cats[i] >= limit)
            return mops_err_set(err, MOPS_EINVAL,
                                "tree %zu, node %zu: category %lld is out of range (0..%lld)",
                                tree_no, node, (long long)cats[i], (long long)limit - 1);
        if (cats[i] > max)
            max = cats[i];
    }
    size_t nw = (size_t)(max + 32) / 32;
    if (b->cat_rule == RUNTIME__CAT_SKLEARN)
        nw = 8;
    if (nw == 0) {
        /* An empty set. */
        *off = (uint32_t)m->n_cat_words;
        *words = 0;
        return 0;
    }
    size_t want = m->n_cat_words + nw;
    if (want > UINT32_MAX)
        return mops_err_set(err, MOPS_ETOOBIG, "too many categorical splits");
    GROW(m->cat_words, m->n_cat_words, b->cap_cat_words, want);
    uint32_t *w = m->cat_words + m->n_cat_words;
    memset(w, 0, nw * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[cats[i] / 32] |= 1u << (cats[i] % 32);
    *off = (uint32_t)m->n_cat_words;
    *words = (uint32_t)nw;
    m->n_cat_words = want;
    return 0;
}

int runtime__builder_known_cats(runtime__builder_t *b, size_t feature, const int64_t *cats,
                                size_t n, mops_err_t *err)
{
    runtime_model_t *m = b->m;
    if (feature >= m->n_features)
        return mops_err_set(err, MOPS_EINVAL,
                            "known categories given for feature %zu, beyond the %zu features",
                            feature, m->n_features);
    if (!b->known_off) {
        b->known_off = mops_xcalloc(m->n_features, sizeof *b->known_off);
        b->known_words = mops_xcalloc(m->n_features, sizeof *b->known_words);
    }
    uint32_t off, words;
    int rc = cat_bitset(b, cats, n, &off, &words, 0, 0, err);
    if (rc < 0)
        return mops_err_wrap(err, "known categories of feature %zu", feature);
    b->known_off[feature] = off;
    b->known_words[feature] = words;
    return 0;
}

static void scratch_reserve(runtime__builder_t *b, size_t n)
{
    if (n <= b->cap_scratch)
        return;
    size_t c = b->cap_scratch ? b->cap_scratch : 64;
    while (c < n)
        c *= 2;
    b->queue = mops_xrealloc(b->queue, c * sizeof *b->queue);
    b->pos = mops_xrealloc(b->pos, c * sizeof *b->pos);
    b->dep = mops_xrealloc(b->dep, c * sizeof *b->dep);
    b->cap_scratch = c;
}

static int check_node(runtime__builder_t *b, size_t tree_no, size_t i, int wide,
                      mops_err_t *err)
{
    const runtime__src_node_t *s = &b->src[i];
    size_t n = b->n_src;
    const runtime_model_t *m = b->m;
    if (s->left < 0 && s->right < 0) {
        if (s->left != -1 || s->right != -1)
            return mops_err_set(err, MOPS_EINVAL, "tree %zu, node %zu: negative child index",
                                tree_no, i);
        if (wide) {
            if ((size_t)s->wide_off + m->n_margin > b->n_wide_pool)
                return mops_err_set(err, MOPS_EINVAL, "tree %zu, node %zu: leaf has no values",
                                    tree_no, i);
            for (size_t k = 0; k < m->n_margin; k++)
                if (!isfinite(b->wide_pool[s->wide_off + k]))
                    return mops_err_set(err, MOPS_EINVAL,
                                        "tree %zu, node %zu: leaf value %zu is %s", tree_no, i,
                                        k, isnan(b->wide_pool[s->wide_off + k]) ? "NaN" : "infinite");
        } else if (!isfinite(s->value)) {
            return mops_err_set(err, MOPS_EINVAL, "tree %zu, node %zu: leaf value is %s", tree_no,
                                i, isnan(s->value) ? "NaN" : "infinite");
        }
        return 0;
    }
    if (s->left < 0 || s->right < 0)
        return mops_err_set(err, MOPS_EINVAL,
                            "tree %zu, node %zu: has a %s child but no %s child", tree_no, i,
                            s->left < 0 ? "right" : "left", s->left < 0 ? "left" : "right");
    if ((uint64_t)s->left >= n || (uint64_t)s->right >= n)
        return mops_err_set(err, MOPS_EINVAL,
                            "tree %zu, node %zu: %s child %lld is out of range (the tree has %zu nodes)",
                            tree_no, i, (uint64_t)s->left >= n ? "left" : "right",
                            (long long)((uint64_t)s->left >= n ? s->left : s->right), n);
    if (s->left == s->right)
        return mops_err_set(err, MOPS_EINVAL, "tree %zu, node %zu: both children are node %lld",
                            tree_no, i, (long long)s->left);
    if (s->feature < 0 || (uint64_t)s->feature >= m->n_features)
        return mops_err_set(err, MOPS_EINVAL,
                            "tree %zu, node %zu: feature index %lld is out of range (the model has %zu features)",
                            tree_no, i, (long long)s->feature, m->n_features);
    /* x <= +inf is a split scikit-learn makes (numbers left, missing values
     * by their rule); every other infinite or NaN threshold is an error. */
    if (!s->is_cat && !isfinite(s->threshold) &&
        !(b->split == RUNTIME__SPLIT_LE && s->threshold == INFINITY))
        return mops_err_set(err, MOPS_EINVAL, "tree %zu, node %zu: threshold is %s", tree_no, i,
                            isnan(s->threshold) ? "NaN" : "infinite");
    return 0;
}

int runtime__builder_tree_add(runtime__builder_t *b, size_t tree_no, uint32_t out, int wide,
                              mops_err_t *err)
{
    runtime_model_t *m = b->m;
    size_t n = b->n_src;
    if (n == 0)
        return mops_err_set(err, MOPS_EINVAL, "tree %zu has no nodes", tree_no);
    if (out >= m->n_margin || (wide && out != 0))
        return mops_err_set(err, MOPS_EINVAL, "tree %zu: output %u is out of range (%zu outputs)",
                            tree_no, out, m->n_margin);
    /* Breadth-first from the root: every node reached once, children given
     * adjacent positions. pos[i] is node i's position, UINT32_MAX if not yet
     * reached. Only reachable nodes are checked: XGBoost keeps pruned nodes
     * in its arrays. */
    scratch_reserve(b, n);
    for (size_t i = 0; i < n; i++)
        b->pos[i] = UINT32_MAX;
    size_t qh = 0, qt = 0, placed = 1, depth = 0;
    b->queue[qt++] = 0;
    b->pos[0] = 0;
    b->dep[0] = 0;
    while (qh < qt) {
        uint32_t i = b->queue[qh++];
        const runtime__src_node_t *s = &b->src[i];
        int rc = check_node(b, tree_no, i, wide, err);
        if (rc < 0)
            return rc;
        if (s->left < 0)
            continue;
        uint16_t d = (uint16_t)(b->dep[i] + 1);
        if (b->dep[i] + 1 > RUNTIME__MAX_DEPTH)
            return mops_err_set(err, MOPS_EINVAL,
                                "tree %zu, node %u: deeper than %d levels", tree_no, i,
                                RUNTIME__MAX_DEPTH);
        int64_t kids[2] = {s->left, s->right};
        for (int c = 0; c < 2; c++) {
            uint32_t k = (uint32_t)kids[c];
            if (b->pos[k] != UINT32_MAX || k == 0)
                return mops_err_set(err, MOPS_EINVAL,
                                    "tree %zu, node %u: child %u is reached twice (the nodes form a cycle or share a child)",
                                    tree_no, i, k);
            b->pos[k] = (uint32_t)(placed++);
            b->dep[k] = d;
            b->queue[qt++] = k;
        }
        if (d > depth)
            depth = d;
    }
    size_t reached = qt;
    if (m->n_nodes + reached > MAX_NODES)
        return mops_err_set(err, MOPS_ETOOBIG, "the model has more than %zu nodes", MAX_NODES);

    GROW(m->nodes, m->n_nodes, b->cap_nodes, m->n_nodes + reached);
    GROW(m->trees, m->n_trees, b->cap_trees, m->n_trees + 1);
    size_t base = m->n_nodes;
    const size_t F = m->n_features;
    int has_cat = 0;
    for (size_t q = 0; q < reached; q++) {
        uint32_t i = b->queue[q];
        const runtime__src_node_t *s = &b->src[i];
        uint32_t at = (uint32_t)(base + b->pos[i]);
        runtime__node_t *d = &m->nodes[at];
        uint32_t self = at * NODE_BYTES;
        if (s->left < 0) {
            d->slot = (uint32_t)(2 * F) * 8;
            d->left = self;
            if (wide) {
                GROW(m->leafvals, m->n_leafvals, b->cap_leafvals, m->n_leafvals + m->n_margin);
                memcpy(m->leafvals + m->n_leafvals, b->wide_pool + s->wide_off,
                       m->n_margin * sizeof(double));
                d->thr = (double)m->n_leafvals;
                m->n_leafvals += m->n_margin;
            } else {
                d->thr = m->acc_f32 ? (double)(float)s->value : s->value;
            }
            continue;
        }
        d->left = (uint32_t)(base + b->pos[s->left]) * NODE_BYTES;
        /* Children were placed in order, so right follows left. */
        if (b->pos[s->right] != b->pos[s->left] + 1)
            return mops_err_set(err, MOPS_EINTERNAL, "tree %zu: layout error", tree_no);
        size_t f = (size_t)s->feature;
        if (s->is_cat) {
            has_cat = 1;
            if (m->n_cats >= UINT32_MAX)
                return mops_err_set(err, MOPS_ETOOBIG, "too many categorical splits");
            GROW(m->cats, m->n_cats, b->cap_cats, m->n_cats + 1);
            runtime__cat_t *c = &m->cats[m->n_cats];
            memset(c, 0, sizeof *c);
            if ((size_t)s->cat_set + s->cat_len > b->n_cat_pool)
                return mops_err_set(err, MOPS_EINVAL,
                                    "tree %zu, node %u: categories out of range", tree_no, i);
            int rc = cat_bitset(b, s->cat_len ? b->cat_pool + s->cat_set : NULL, s->cat_len,
                                &c->set, &c->set_words, tree_no, i, err);
            if (rc < 0)
                return rc;
            c->rule = (uint8_t)b->cat_rule;
            c->missing_left = s->default_left;
            if (b->known_off && b->known_words[f]) {
                c->known = b->known_off[f];
                c->known_words = b->known_words[f];
            }
            d->thr = (double)m->n_cats;
            d->slot = (uint32_t)(2 * F + 1 + f) * 8 | RUNTIME__SLOT_CAT;
            m->n_cats++;
            continue;
        }
        double t = s->threshold;
        if (b->split == RUNTIME__SPLIT_LT_F32)
            t = (double)(float)t;
        else
            t = nextafter(t, INFINITY); /* x <= t  <=>  x < next(t) */
        if (!isfinite((float)t) && b->split == RUNTIME__SPLIT_LT_F32)
            return mops_err_set(err, MOPS_EINVAL,
                                "tree %zu, node %u: threshold %g does not fit a float32",
                                tree_no, i, s->threshold);
        d->thr = t;
        d->slot = (uint32_t)(s->default_left ? f : F + f) * 8;
    }
    runtime__tree_t *t = &m->trees[m->n_trees++];
    memset(t, 0, sizeof *t);
    t->root = (uint32_t)base * NODE_BYTES;
    t->out = out;
    t->n_nodes = (uint32_t)reached;
    t->depth = (uint16_t)depth;
    t->has_cat = (uint8_t)has_cat;
    t->wide = (uint8_t)(wide != 0);
    m->n_nodes += reached;
    if (has_cat)
        m->has_cat = 1;
    if ((int)depth > m->max_depth)
        m->max_depth = (int)depth;
    return 0;
}

/* ------------------------------------------------------- fast layouts */

/* The smallest float f with (double)x < t  <=>  x < f for every float x. */
static float ceil_to_float(double t)
{
    float f = (float)t;
    if ((double)f < t)
        f = nextafterf(f, INFINITY);
    return f;
}

/* Fill lane `lane` of a perfect group from the explicit tree rooted at the
 * given node. Iterative: a stack of (explicit offset, perfect index). */
static void perfect_fill(runtime_model_t *m, const runtime__group_t *g, int lane, uint32_t root)
{
    const size_t D = g->depth;
    const size_t S = ((size_t)1 << D) - 1;
    runtime__pnode_t *pn = m->pnodes + g->pnodes + (size_t)lane * S;
    uint32_t *pl = m->pleaf + g->pleaf + (size_t)lane * (S + 1);
    const uint32_t never = (uint32_t)(2 * m->n_features) * 4; /* the -inf slot */
    struct {
        uint32_t off;
        uint32_t idx;
    } stack[2 * RUNTIME__PERFECT_MAX_DEPTH + 2];
    int sp = 0;
    stack[sp].off = root;
    stack[sp].idx = 0;
    sp++;
    const char *base = (const char *)m->nodes;
    while (sp) {
        sp--;
        uint32_t off = stack[sp].off, idx = stack[sp].idx;
        const runtime__node_t *n = (const runtime__node_t *)(base + off);
        int leaf = n->left == off;
        if (idx >= S) {
            /* A leaf position: the walk ends here. */
            if (m->pleaf_float) {
                float v = (float)n->thr;
                memcpy(&pl[idx - S], &v, sizeof v);
            } else {
                pl[idx - S] = off;
            }
            continue;
        }
        if (leaf) {
            /* A leaf above the bottom: a node that always goes left, the
             * leaf repeated below it. */
            pn[idx].thr = 0.0f;
            pn[idx].slot = never;
            stack[sp].off = off;
            stack[sp].idx = 2 * idx + 1;
            sp++;
            stack[sp].off = off;
            stack[sp].idx = 2 * idx + 2;
            sp++;
            continue;
        }
        pn[idx].thr = ceil_to_float(n->thr);
        pn[idx].slot = n->slot / 8 * 4;
        stack[sp].off = n->left;
        stack[sp].idx = 2 * idx + 1;
        sp++;
        stack[sp].off = n->left + NODE_BYTES;
        stack[sp].idx = 2 * idx + 2;
        sp++;
    }
}

int runtime__builder_finish(runtime__builder_t *b, mops_err_t *err)
{
    runtime_model_t *m = b->m;
    (void)err;
    if (m->n_trees == 0) {
        runtime__model_measure(m);
        return 0;
    }
    size_t ng = (m->n_trees + RUNTIME__LANES - 1) / RUNTIME__LANES;
    m->groups = mops_xcalloc(ng, sizeof *m->groups);
    m->n_groups = ng;
    int any_wide = 0;
    for (size_t t = 0; t < m->n_trees; t++)
        any_wide |= m->trees[t].wide;
    m->pleaf_float = m->acc_f32 && !any_wide;
    size_t n_pnodes = 0, n_pleaf = 0;
    for (size_t gi = 0; gi < ng; gi++) {
        runtime__group_t *g = &m->groups[gi];
        g->first = (uint32_t)(gi * RUNTIME__LANES);
        size_t left = m->n_trees - g->first;
        g->n = (uint8_t)(left < RUNTIME__LANES ? left : RUNTIME__LANES);
        int cat = 0;
        size_t depth = 0, explicit_bytes = 0;
        for (size_t k = 0; k < g->n; k++) {
            const runtime__tree_t *t = &m->trees[g->first + k];
            cat |= t->has_cat;
            if (t->depth > depth)
                depth = t->depth;
            explicit_bytes += (size_t)t->n_nodes * sizeof(runtime__node_t);
        }
        g->depth = (uint16_t)depth;
        if (cat) {
            g->kind = RUNTIME__G_SLOW;
            continue;
        }
        g->kind = RUNTIME__G_EXPLICIT;
        if (m->input_f32 && depth <= RUNTIME__PERFECT_MAX_DEPTH) {
            size_t pbytes = (size_t)RUNTIME__LANES * ((((size_t)1 << depth) - 1) *
                                                          sizeof(runtime__pnode_t) +
                                                      ((size_t)1 << depth) * sizeof(uint32_t));
            /* Only where padding costs at most twice the explicit nodes'
             * memory (so a model stays well under its JSON file's size, which
             * spends ~75 bytes a node): sparse deep trees stay explicit. */
            if (pbytes <= 2 * explicit_bytes) {
                g->kind = RUNTIME__G_PERFECT;
                g->pnodes = n_pnodes;
                g->pleaf = n_pleaf;
                n_pnodes += (size_t)RUNTIME__LANES * (((size_t)1 << depth) - 1);
                n_pleaf += (size_t)RUNTIME__LANES * ((size_t)1 << depth);
            }
        }
    }
    if (n_pnodes || n_pleaf) {
        m->pnodes = mops_xcalloc(n_pnodes ? n_pnodes : 1, sizeof *m->pnodes);
        m->pleaf = mops_xcalloc(n_pleaf, sizeof *m->pleaf);
        m->n_pnodes = n_pnodes;
        m->n_pleaf = n_pleaf;
        const uint32_t never = (uint32_t)(2 * m->n_features) * 4;
        for (size_t gi = 0; gi < ng; gi++) {
            runtime__group_t *g = &m->groups[gi];
            if (g->kind != RUNTIME__G_PERFECT)
                continue;
            size_t S = ((size_t)1 << g->depth) - 1;
            for (int k = 0; k < RUNTIME__LANES; k++) {
                if (k < g->n) {
                    perfect_fill(m, g, k, m->trees[g->first + k].root);
                } else {
                    /* An idle lane: always left, to leaf 0 (never added). */
                    runtime__pnode_t *pn = m->pnodes + g->pnodes + (size_t)k * S;
                    for (size_t i = 0; i < S; i++) {
                        pn[i].thr = 0.0f;
                        pn[i].slot = never;
                    }
                }
            }
        }
    }
    m->all_perfect = 1;
    for (size_t gi = 0; gi < ng; gi++)
        if (m->groups[gi].kind != RUNTIME__G_PERFECT)
            m->all_perfect = 0;
    /* Rounds. */
    if (m->trees_per_iter == 0)
        m->trees_per_iter = 1;
    m->n_iter = m->n_trees / m->trees_per_iter;
    if (m->default_iter == 0 || m->default_iter > m->n_iter)
        m->default_iter = m->n_iter;
    runtime__model_measure(m);
    return 0;
}
