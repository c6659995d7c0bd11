/*
 * kernels.c — tree walks, the inner loop of scoring.
 *
 * Speed comes from instruction-level parallelism, not from SIMD: a step of
 * a walk is a load of the node, a load of the row value at the node's slot,
 * one compare and an add, and each step depends on the one before, so a
 * lone walk waits on memory latency at every level. Walking the eight trees
 * of a group at once gives the CPU eight independent chains to overlap, and
 * the steps are branch-free (no test for missing values, for leaves or for
 * the direction), so nothing mispredicts. AVX2/AVX-512 gathers were
 * measured slower than this on the target CPU (docs/performance.md).
 *
 * The perfect layout's walk is specialised per depth so that each lane's
 * tree sits at a constant offset from the group's base and each lane's
 * index stays in a register.
 */
#include <math.h>
#include <string.h>

#include "runtime/model.h"

#define NODE_BYTES ((uint32_t)sizeof(runtime__node_t))

/* ------------------------------------------------------------ categorical */

/* Whether bit v is set in the nwords-word set at words[off]. */
static inline int bit_in(const uint32_t *words, uint32_t off, uint32_t nwords, uint32_t v)
{
    return v / 32 < nwords && ((words[off + v / 32] >> (v % 32)) & 1u);
}

/* Whether a categorical node sends the row right. */
static int cat_goes_right(const runtime_model_t *m, const runtime__node_t *n, const double *xd)
{
    const runtime__cat_t *c = &m->cats[(uint32_t)n->thr];
    double v = *(const double *)((const char *)xd + (n->slot & ~RUNTIME__SLOT_CAT));
    if (isnan(v))
        return !c->missing_left;
    const uint32_t *w = m->cat_words;
    if (c->rule == RUNTIME__CAT_XGBOOST) {
        /* XGBoost: negative or >= 2^24 is an invalid category, which goes
         * left, like any category not in the node's set; the set goes right.
         * Categories are truncated to integers. */
        if (v < 0.0 || v >= 16777216.0)
            return 0;
        return bit_in(w, c->set, c->set_words, (uint32_t)v);
    }
    /* scikit-learn's HistGradientBoosting: negative categories count as
     * missing; the set goes left, other known categories right, unknown
     * ones follow missing values. Categories are below 256 by construction. */
    if (v < 0.0 || v >= 256.0)
        return !c->missing_left;
    uint32_t cat = (uint32_t)v;
    if (bit_in(w, c->set, c->set_words, cat))
        return 0;
    if (c->known_words && bit_in(w, c->known, c->known_words, cat))
        return 1;
    if (!c->known_words)
        return 1;
    return !c->missing_left;
}

const runtime__node_t *runtime__walk(const runtime_model_t *m, const runtime__tree_t *t,
                                     const double *xd)
{
    const char *base = (const char *)m->nodes;
    uint32_t off = t->root;
    for (;;) {
        const runtime__node_t *n = (const runtime__node_t *)(base + off);
        if (n->left == off)
            return n;
        if (n->slot & RUNTIME__SLOT_CAT) {
            off = n->left + (cat_goes_right(m, n, xd) ? NODE_BYTES : 0);
            continue;
        }
        double x = *(const double *)((const char *)xd + n->slot);
        off = n->left + (x < n->thr ? 0 : NODE_BYTES);
    }
}

/* --------------------------------------------------------------- explicit */

#define ESTEP(o, row)                                                               \
    {                                                                               \
        const runtime__node_t *n_ = (const runtime__node_t *)(base + (o));         \
        double x_ = *(const double *)((row) + n_->slot);                            \
        (o) = n_->left + (x_ < n_->thr ? 0 : NODE_BYTES);                           \
    }

void runtime__walk_explicit_block(const runtime_model_t *m, const runtime__group_t *g,
                                  const double *xd, size_t stride, size_t nb, uint32_t *leaf)
{
    const char *base = (const char *)m->nodes;
    const runtime__tree_t *t = m->trees + g->first;
    uint32_t r[RUNTIME__LANES];
    for (int k = 0; k < RUNTIME__LANES; k++)
        r[k] = t[k < g->n ? k : 0].root;
    const unsigned depth = g->depth;
    size_t i = 0;
    /* Two rows at a time, as the perfect walk (sixteen chains). */
    for (; i + 2 <= nb; i += 2, leaf += 2 * RUNTIME__LANES) {
        const char *xa = (const char *)(xd + i * stride);
        const char *xb = (const char *)(xd + (i + 1) * stride);
        uint32_t o0 = r[0], o1 = r[1], o2 = r[2], o3 = r[3], o4 = r[4], o5 = r[5], o6 = r[6],
                 o7 = r[7];
        uint32_t p0 = r[0], p1 = r[1], p2 = r[2], p3 = r[3], p4 = r[4], p5 = r[5], p6 = r[6],
                 p7 = r[7];
        for (unsigned d = 0; d < depth; d++) {
            ESTEP(o0, xa) ESTEP(o1, xa) ESTEP(o2, xa) ESTEP(o3, xa)
            ESTEP(o4, xa) ESTEP(o5, xa) ESTEP(o6, xa) ESTEP(o7, xa)
            ESTEP(p0, xb) ESTEP(p1, xb) ESTEP(p2, xb) ESTEP(p3, xb)
            ESTEP(p4, xb) ESTEP(p5, xb) ESTEP(p6, xb) ESTEP(p7, xb)
        }
        uint32_t v[16] = {o0, o1, o2, o3, o4, o5, o6, o7, p0, p1, p2, p3, p4, p5, p6, p7};
        memcpy(leaf, v, sizeof v);
    }
    for (; i < nb; i++, leaf += RUNTIME__LANES) {
        const char *xa = (const char *)(xd + i * stride);
        uint32_t o0 = r[0], o1 = r[1], o2 = r[2], o3 = r[3], o4 = r[4], o5 = r[5], o6 = r[6],
                 o7 = r[7];
        for (unsigned d = 0; d < depth; d++) {
            ESTEP(o0, xa) ESTEP(o1, xa) ESTEP(o2, xa) ESTEP(o3, xa)
            ESTEP(o4, xa) ESTEP(o5, xa) ESTEP(o6, xa) ESTEP(o7, xa)
        }
        uint32_t v[8] = {o0, o1, o2, o3, o4, o5, o6, o7};
        memcpy(leaf, v, sizeof v);
    }
}

/* ---------------------------------------------------------------- perfect */

/* Lane k's tree starts k * S nodes into the group; its node i has children
 * 2i+1 (x < thr) and 2i+2. After D steps i - S is the leaf's position.
 * PSTEP(i, k, row) takes lane k's step for the prepared row at `row`. */
#if defined(__x86_64__) && !defined(RUNTIME_NO_ASM)
/* Five instructions: load the slot, load x, compare it with the threshold
 * in memory (CF = x < thr), i = 2i + 2 - CF. What the C below compiles to
 * takes eight (setcc, a zeroing xor and a sub instead of sbb). */
#define PSTEP(i, k, row)                                                            \
    {                                                                               \
        uint64_t s_;                                                                \
        float x_;                                                                   \
        __asm__("movl %c[off]+4(%[pn],%[ix],8), %k[s]\n\t"                          \
                "movss (%[xb],%[s]), %[x]\n\t"                                       \
                "comiss %c[off](%[pn],%[ix],8), %[x]\n\t"                            \
                "lea 2(%[ix],%[ix]), %[ix]\n\t"                                      \
                "sbb $0, %[ix]"                                                     \
                : [ix] "+r"(i), [s] "=&r"(s_), [x] "=&x"(x_)                        \
                : [pn] "r"(pn), [xb] "r"(row), [off] "i"((k) * S * 8)               \
                : "cc");                                                            \
    }
#else
#define PSTEP(i, k, row)                                                            \
    {                                                                               \
        const runtime__pnode_t *n_ = pn + (k) * S + (i);                           \
        float x_ = *(const float *)((row) + n_->slot);                              \
        (i) = 2 * (i) + 2 - (size_t)(x_ < n_->thr);                                 \
    }
#endif

/* Two rows at a time: sixteen independent walks hide more memory latency
 * than eight (measured: 1.3x), though the compiler keeps some indices on
 * the stack; three rows spill too much and are slower again. */
#define PERFECT(D)                                                                  \
    static void perfect_##D(const runtime__pnode_t *pn, const float *xf, size_t stride, \
                            size_t nb, uint32_t *leaf)                              \
    {                                                                               \
        enum { S = (1 << (D)) - 1 };                                                \
        size_t r = 0;                                                               \
        for (; r + 2 <= nb; r += 2, leaf += 2 * RUNTIME__LANES) {                   \
            const char *xb = (const char *)(xf + r * stride);                       \
            const char *xc = (const char *)(xf + (r + 1) * stride);                 \
            size_t i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;  \
            size_t j0 = 0, j1 = 0, j2 = 0, j3 = 0, j4 = 0, j5 = 0, j6 = 0, j7 = 0;  \
            for (int d = 0; d < (D); d++) {                                         \
                PSTEP(i0, 0, xb) PSTEP(i1, 1, xb) PSTEP(i2, 2, xb) PSTEP(i3, 3, xb)                 \
                PSTEP(i4, 4, xb) PSTEP(i5, 5, xb) PSTEP(i6, 6, xb) PSTEP(i7, 7, xb)                 \
                PSTEP(j0, 0, xc) PSTEP(j1, 1, xc) PSTEP(j2, 2, xc) PSTEP(j3, 3, xc)             \
                PSTEP(j4, 4, xc) PSTEP(j5, 5, xc) PSTEP(j6, 6, xc) PSTEP(j7, 7, xc)             \
            }                                                                       \
            leaf[0] = (uint32_t)(i0 - S);                                           \
            leaf[1] = (uint32_t)(i1 - S);                                           \
            leaf[2] = (uint32_t)(i2 - S);                                           \
            leaf[3] = (uint32_t)(i3 - S);                                           \
            leaf[4] = (uint32_t)(i4 - S);                                           \
            leaf[5] = (uint32_t)(i5 - S);                                           \
            leaf[6] = (uint32_t)(i6 - S);                                           \
            leaf[7] = (uint32_t)(i7 - S);                                           \
            leaf[8] = (uint32_t)(j0 - S);                                           \
            leaf[9] = (uint32_t)(j1 - S);                                           \
            leaf[10] = (uint32_t)(j2 - S);                                          \
            leaf[11] = (uint32_t)(j3 - S);                                          \
            leaf[12] = (uint32_t)(j4 - S);                                          \
            leaf[13] = (uint32_t)(j5 - S);                                          \
            leaf[14] = (uint32_t)(j6 - S);                                          \
            leaf[15] = (uint32_t)(j7 - S);                                          \
        }                                                                           \
        for (; r < nb; r++, leaf += RUNTIME__LANES) {                               \
            const char *xb = (const char *)(xf + r * stride);                       \
            size_t i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;  \
            for (int d = 0; d < (D); d++) {                                         \
                PSTEP(i0, 0, xb) PSTEP(i1, 1, xb) PSTEP(i2, 2, xb) PSTEP(i3, 3, xb)                 \
                PSTEP(i4, 4, xb) PSTEP(i5, 5, xb) PSTEP(i6, 6, xb) PSTEP(i7, 7, xb)                 \
            }                                                                       \
            leaf[0] = (uint32_t)(i0 - S);                                           \
            leaf[1] = (uint32_t)(i1 - S);                                           \
            leaf[2] = (uint32_t)(i2 - S);                                           \
            leaf[3] = (uint32_t)(i3 - S);                                           \
            leaf[4] = (uint32_t)(i4 - S);                                           \
            leaf[5] = (uint32_t)(i5 - S);                                           \
            leaf[6] = (uint32_t)(i6 - S);                                           \
            leaf[7] = (uint32_t)(i7 - S);                                           \
        }                                                                           \
    }

PERFECT(1)
PERFECT(2)
PERFECT(3)
PERFECT(4)
PERFECT(5)
PERFECT(6)
PERFECT(7)
PERFECT(8)
PERFECT(9)
PERFECT(10)
PERFECT(11)
PERFECT(12)

typedef void (*perfect_fn)(const runtime__pnode_t *, const float *, size_t, size_t, uint32_t *);

static const perfect_fn perfect_by_depth[RUNTIME__PERFECT_MAX_DEPTH + 1] = {
    NULL,       perfect_1,  perfect_2, perfect_3, perfect_4,  perfect_5,  perfect_6,
    perfect_7,  perfect_8,  perfect_9, perfect_10, perfect_11, perfect_12,
};

void runtime__walk_perfect_block(const runtime_model_t *m, const runtime__group_t *g,
                                 const float *xf, size_t stride, size_t nb, uint32_t *leaf)
{
    if (g->depth == 0) {
        memset(leaf, 0, nb * RUNTIME__LANES * sizeof *leaf);
        return;
    }
    perfect_by_depth[g->depth](m->pnodes + g->pnodes, xf, stride, nb, leaf);
}
