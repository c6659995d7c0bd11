/*
 * predict.c — scoring: rows in, outputs out, for every model kind.
 *
 * Rows are scored in blocks. A block's rows are first "prepared" (the
 * layout model.h describes: each feature twice with NaN as -inf and +inf,
 * a -inf slot for leaves, the raw values when the model has categorical
 * splits, a float32 copy for the perfect layout), then every group of
 * eight trees is walked for every row of the block before the next group,
 * so a group's nodes stay in cache while the block passes through it.
 * Each row's margins are summed in tree order, as the libraries do, so
 * float32 sums come out bit for bit the same.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "runtime/model.h"

struct runtime_scratch {
    void *buf;
    size_t cap;
};

runtime_scratch_t *runtime_scratch_new(void)
{
    return mops_xcalloc(1, sizeof(runtime_scratch_t));
}

void runtime_scratch_free(runtime_scratch_t *s)
{
    if (!s)
        return;
    free(s->buf);
    free(s);
}

static void *scratch_get(runtime_scratch_t *s, size_t n)
{
    if (n > s->cap) {
        free(s->buf);
        s->buf = mops_xmalloc(n);
        s->cap = n;
    }
    return s->buf;
}

/* ------------------------------------------------------------ transforms */

static inline float sigmoid_f32(float x)
{
    /* XGBoost's common::Sigmoid: exp's argument capped to avoid overflow. */
    float e = -x;
    if (88.7f < e)
        e = 88.7f;
    float denom = expf(e) + 1.0f + 1e-16f;
    return 1.0f / denom;
}

static inline double expit(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* margins (n_margin) -> values (n_value). */
static void transform(const runtime_model_t *m, const double *mg, double *v)
{
    size_t K = m->n_margin;
    switch (m->transform) {
    case RUNTIME__T_IDENTITY:
        memcpy(v, mg, K * sizeof *v);
        break;
    case RUNTIME__T_SIGMOID_F32:
        for (size_t k = 0; k < K; k++)
            v[k] = sigmoid_f32((float)mg[k]);
        break;
    case RUNTIME__T_EXP_F32:
        for (size_t k = 0; k < K; k++)
            v[k] = expf((float)mg[k]);
        break;
    case RUNTIME__T_SOFTMAX_F32: {
        /* XGBoost's common::Softmax: float max, float exps, double sum. */
        float wmax = (float)mg[0];
        for (size_t k = 1; k < K; k++)
            wmax = fmaxf((float)mg[k], wmax);
        double wsum = 0.0;
        for (size_t k = 0; k < K; k++) {
            float e = expf((float)mg[k] - wmax);
            v[k] = e;
            wsum += e;
        }
        for (size_t k = 0; k < K; k++)
            v[k] = (float)v[k] / (float)wsum;
        break;
    }
    case RUNTIME__T_BINARY:
        v[1] = expit(mg[0]);
        v[0] = 1.0 - v[1];
        break;
    case RUNTIME__T_BINARY_2X:
        v[1] = expit(2.0 * mg[0]);
        v[0] = 1.0 - v[1];
        break;
    case RUNTIME__T_SOFTMAX_BIN: {
        double a = -mg[0], b = mg[0];
        double mx = a > b ? a : b;
        double ea = exp(a - mx), eb = exp(b - mx);
        double s = ea + eb;
        v[0] = ea / s;
        v[1] = eb / s;
        break;
    }
    case RUNTIME__T_SOFTMAX: {
        double mx = mg[0];
        for (size_t k = 1; k < K; k++)
            if (mg[k] > mx)
                mx = mg[k];
        double s = 0.0;
        for (size_t k = 0; k < K; k++) {
            v[k] = exp(mg[k] - mx);
            s += v[k];
        }
        for (size_t k = 0; k < K; k++)
            v[k] /= s;
        break;
    }
    case RUNTIME__T_LSE: {
        double mx = mg[0];
        for (size_t k = 1; k < K; k++)
            if (mg[k] > mx)
                mx = mg[k];
        double s = 0.0;
        for (size_t k = 0; k < K; k++)
            s += exp(mg[k] - mx);
        double lse = log(s) + mx;
        for (size_t k = 0; k < K; k++) {
            double p = exp(mg[k] - lse);
            v[k] = isnan(p) ? 0.0 : p;
        }
        break;
    }
    case RUNTIME__T_OVR: {
        double s = 0.0;
        for (size_t k = 0; k < K; k++) {
            v[k] = expit(mg[k]);
            s += v[k];
        }
        for (size_t k = 0; k < K; k++)
            v[k] /= s;
        break;
    }
    case RUNTIME__T_EXP:
        for (size_t k = 0; k < K; k++)
            v[k] = exp(mg[k]);
        break;
    }
}

static size_t argmax(const double *v, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (v[k] > v[best])
            best = k;
    return best;
}

/* Write one row's output of the asked kind from its margins. tmp holds
 * n_value doubles. */
static void finish_row(const runtime_model_t *m, runtime_output_t kind, const double *mg,
                       double *tmp, double *out)
{
    if (kind == RUNTIME_OUTPUT_MARGIN) {
        memcpy(out, mg, m->n_margin * sizeof *out);
        return;
    }
    if (kind == RUNTIME_OUTPUT_LABEL) {
        switch (m->label) {
        case RUNTIME__L_MARGIN_GT_0:
            out[0] = mg[0] > 0.0 ? 1.0 : 0.0;
            return;
        case RUNTIME__L_MARGIN_GE_0:
            out[0] = mg[0] >= 0.0 ? 1.0 : 0.0;
            return;
        case RUNTIME__L_ARGMAX_MARGIN:
            out[0] = m->n_margin == 1 ? (mg[0] > 0.0 ? 1.0 : 0.0) : (double)argmax(mg, m->n_margin);
            return;
        case RUNTIME__L_PROB_GT_HALF:
            transform(m, mg, tmp);
            out[0] = tmp[0] > 0.5 ? 1.0 : 0.0;
            return;
        case RUNTIME__L_ARGMAX_VALUE:
            transform(m, mg, tmp);
            out[0] = (double)argmax(tmp, m->n_value);
            return;
        case RUNTIME__L_VALUE:
            transform(m, mg, out);
            return;
        }
    }
    transform(m, mg, out);
}

void runtime_outputs_from_margins(const runtime_model_t *m, runtime_output_t output,
                                  const double *margins, size_t nrows, double *out, double *tmp)
{
    size_t width = runtime_output_width(m, output);
    for (size_t r = 0; r < nrows; r++)
        finish_row(m, output, margins + r * m->n_margin, tmp, out + r * width);
}

/* ---------------------------------------------------------------- linear */

static int predict_linear(const runtime_model_t *m, runtime_output_t kind, const void *rows,
                          int rows_f32, size_t nrows, double *out, size_t width,
                          runtime_scratch_t *scratch, size_t row0, mops_err_t *err)
{
    size_t F = m->n_features, K = m->n_margin;
    double *mg = scratch_get(scratch, (K + m->n_value) * sizeof(double));
    double *tmp = mg + K;
    for (size_t r = 0; r < nrows; r++) {
        const double *xd = rows_f32 ? NULL : (const double *)rows + r * F;
        const float *xf = rows_f32 ? (const float *)rows + r * F : NULL;
        for (size_t k = 0; k < K; k++) {
            const double *w = m->coef + k * F;
            double s = 0.0;
            for (size_t f = 0; f < F; f++) {
                double x = xd ? xd[f] : (double)xf[f];
                s += x * w[f];
            }
            mg[k] = s + m->base[k];
        }
        if (isnan(mg[0]) || (K > 1 && isnan(mg[K - 1]))) {
            for (size_t f = 0; f < F; f++) {
                double x = xd ? xd[f] : (double)xf[f];
                if (isnan(x)) {
                    if (m->feature_names)
                        return mops_err_set(err, MOPS_EINVAL,
                                            "row %zu: feature %zu (\"%s\") is missing; a linear model needs every feature",
                                            row0 + r, f, m->feature_names[f]);
                    return mops_err_set(err, MOPS_EINVAL,
                                        "row %zu: feature %zu is missing; a linear model needs every feature",
                                        row0 + r, f);
                }
            }
        }
        finish_row(m, kind, mg, tmp, out + r * width);
    }
    return 0;
}

/* ----------------------------------------------------------------- trees */

/* Add tree t's leaf (explicit node at byte offset off) to a row's margins. */
static inline void add_leaf(const runtime_model_t *m, const runtime__tree_t *t, uint32_t off,
                            float *accf, double *accd)
{
    const runtime__node_t *n = (const runtime__node_t *)((const char *)m->nodes + off);
    if (accf) {
        accf[t->out] += (float)n->thr;
    } else if (t->wide) {
        const double *v = m->leafvals + (size_t)n->thr;
        for (size_t k = 0; k < m->n_margin; k++)
            accd[k] += v[k];
    } else {
        accd[t->out] += n->thr;
    }
}

typedef struct block_ctx {
    const runtime_model_t *m;
    size_t nsd, nsf;        /* prepared row widths (doubles, floats) */
    double *xd;
    float *xf;
    float *accf;
    double *accd;
    size_t tb, te;          /* trees taking part */
    uint32_t *leaf;         /* 8 leaves per row of a block */
    int need_xd;            /* some group walks the double rows */
} block_ctx_t;

static void prepare_rows(const block_ctx_t *c, const void *rows, int rows_f32, size_t r0,
                         size_t nb)
{
    const runtime_model_t *m = c->m;
    const size_t F = m->n_features;
    if (!c->need_xd) {
        /* Every group walks float rows: prepare only those. */
        for (size_t i = 0; i < nb; i++) {
            if (rows_f32)
                runtime__prep_f32((const float *)rows + (r0 + i) * F, F, c->xf + i * c->nsf);
            else
                runtime__prep_f64((const double *)rows + (r0 + i) * F, F, c->xf + i * c->nsf);
        }
        return;
    }
    for (size_t i = 0; i < nb; i++) {
        double *xd = c->xd + i * c->nsd;
        float *xf = c->xf ? c->xf + i * c->nsf : NULL;
        const double *rd = rows_f32 ? NULL : (const double *)rows + (r0 + i) * F;
        const float *rf = rows_f32 ? (const float *)rows + (r0 + i) * F : NULL;
        for (size_t f = 0; f < F; f++) {
            double v;
            if (rf)
                v = rf[f];
            else if (m->input_f32)
                v = (double)(float)rd[f];
            else
                v = rd[f];
            if (isnan(v)) {
                xd[f] = -INFINITY;
                xd[F + f] = INFINITY;
            } else {
                xd[f] = xd[F + f] = v;
            }
            if (m->has_cat)
                xd[2 * F + 1 + f] = v;
        }
        xd[2 * F] = -INFINITY;
        if (xf) {
            for (size_t f = 0; f < 2 * F; f++)
                xf[f] = (float)xd[f];
            xf[2 * F] = -INFINITY;
        }
    }
}

static void score_block(const block_ctx_t *c, size_t nb)
{
    const runtime_model_t *m = c->m;
    const size_t K = m->n_margin;
    uint32_t *leaf = c->leaf;
    for (size_t gi = c->tb / RUNTIME__LANES; gi < m->n_groups; gi++) {
        const runtime__group_t *g = &m->groups[gi];
        size_t first = g->first, last = first + g->n;
        if (first >= c->te)
            break;
        const runtime__tree_t *t = m->trees + first;
        if (first < c->tb || last > c->te || g->kind == RUNTIME__G_SLOW) {
            /* Partly in range, or categorical: one tree at a time. */
            size_t a = first < c->tb ? c->tb : first, z = last > c->te ? c->te : last;
            for (size_t i = 0; i < nb; i++) {
                const double *xd = c->xd + i * c->nsd;
                float *af = c->accf ? c->accf + i * K : NULL;
                double *ad = c->accd ? c->accd + i * K : NULL;
                for (size_t ti = a; ti < z; ti++) {
                    const runtime__node_t *n = runtime__walk(m, &m->trees[ti], xd);
                    add_leaf(m, &m->trees[ti], (uint32_t)((const char *)n - (const char *)m->nodes),
                             af, ad);
                }
            }
            continue;
        }
        if (g->kind == RUNTIME__G_PERFECT) {
            size_t L = (size_t)1 << g->depth;
            const uint32_t *pl = m->pleaf + g->pleaf;
            runtime__walk_perfect_block(m, g, c->xf, c->nsf, nb, leaf);
            if (m->pleaf_float && K == 1) {
                /* The common case: one output, float32 leaves. */
                for (size_t i = 0; i < nb; i++) {
                    const uint32_t *lf = leaf + i * RUNTIME__LANES;
                    float a = c->accf[i];
                    for (size_t k = 0; k < g->n; k++) {
                        float v;
                        memcpy(&v, &pl[k * L + lf[k]], sizeof v);
                        a += v;
                    }
                    c->accf[i] = a;
                }
            } else if (m->pleaf_float) {
                for (size_t i = 0; i < nb; i++) {
                    const uint32_t *lf = leaf + i * RUNTIME__LANES;
                    float *af = c->accf + i * K;
                    for (size_t k = 0; k < g->n; k++) {
                        float v;
                        memcpy(&v, &pl[k * L + lf[k]], sizeof v);
                        af[t[k].out] += v;
                    }
                }
            } else {
                for (size_t i = 0; i < nb; i++) {
                    const uint32_t *lf = leaf + i * RUNTIME__LANES;
                    float *af = c->accf ? c->accf + i * K : NULL;
                    double *ad = c->accd ? c->accd + i * K : NULL;
                    for (size_t k = 0; k < g->n; k++)
                        add_leaf(m, &t[k], pl[k * L + lf[k]], af, ad);
                }
            }
            continue;
        }
        runtime__walk_explicit_block(m, g, c->xd, c->nsd, nb, leaf);
        for (size_t i = 0; i < nb; i++) {
            const uint32_t *lf = leaf + i * RUNTIME__LANES;
            float *af = c->accf ? c->accf + i * K : NULL;
            double *ad = c->accd ? c->accd + i * K : NULL;
            for (size_t k = 0; k < g->n; k++)
                add_leaf(m, &t[k], lf[k], af, ad);
        }
    }
}

static int tree_range(const runtime_model_t *m, const runtime_predict_opts_t *o, size_t *tb,
                      size_t *te, mops_err_t *err)
{
    long long n_iter = (long long)m->n_iter;
    long long b = o->iteration_begin, e = o->iteration_end;
    if (e == 0)
        e = (long long)m->default_iter;
    else if (e == RUNTIME_ITERATIONS_ALL)
        e = n_iter;
    if (b < 0 || e < 0 || b > e || e > n_iter)
        return mops_err_set(err, MOPS_EINVAL,
                            "iteration range [%lld, %lld) is outside the model's %lld rounds",
                            (long long)o->iteration_begin, (long long)o->iteration_end, n_iter);
    *tb = (size_t)b * m->trees_per_iter;
    *te = (size_t)e * m->trees_per_iter;
    return 0;
}

static int predict_any(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                       const void *rows, int rows_f32, size_t nrows, size_t ncols, double *out,
                       runtime_scratch_t *scratch, size_t row0, mops_err_t *err)
{
    static const runtime_predict_opts_t dflt = RUNTIME_PREDICT_OPTS_INIT;
    if (!opts)
        opts = &dflt;
    if (ncols != m->n_features)
        return mops_err_set(err, MOPS_EINVAL, "rows have %zu columns but the model takes %zu features",
                            ncols, m->n_features);
    if (opts->output != RUNTIME_OUTPUT_VALUE && opts->output != RUNTIME_OUTPUT_LABEL &&
        opts->output != RUNTIME_OUTPUT_MARGIN)
        return mops_err_set(err, MOPS_EINVAL, "unknown output kind %d", (int)opts->output);
    if (nrows == 0)
        return 0;
    runtime_scratch_t local = {NULL, 0};
    runtime_scratch_t *s = scratch ? scratch : &local;
    size_t width = runtime_output_width(m, opts->output);
    int rc = 0;
    if (m->is_linear) {
        if (opts->iteration_begin != 0 ||
            (opts->iteration_end != 0 && opts->iteration_end != 1 &&
             opts->iteration_end != RUNTIME_ITERATIONS_ALL)) {
            rc = mops_err_set(err, MOPS_EINVAL, "a linear model has one round");
        } else {
            rc = predict_linear(m, opts->output, rows, rows_f32, nrows, out, width, s, row0, err);
        }
        free(local.buf);
        return rc;
    }
    block_ctx_t c;
    memset(&c, 0, sizeof c);
    c.m = m;
    if ((rc = tree_range(m, opts, &c.tb, &c.te, err)) < 0)
        return rc;
    const size_t F = m->n_features, K = m->n_margin;
    c.nsd = 2 * F + 1 + (m->has_cat ? F : 0);
    c.nsf = m->n_pnodes || m->n_pleaf ? 2 * F + 1 : 0;
    /* Double rows serve explicit and one-at-a-time walks, which a model of
     * perfect groups only needs for a range that cuts a group. */
    c.need_xd = !m->all_perfect || c.tb % RUNTIME__LANES != 0 ||
                (c.te % RUNTIME__LANES != 0 && c.te != m->n_trees);
    if (!c.need_xd)
        c.nsd = 0;
    /* Block rows so the prepared rows stay within L2. */
    size_t row_bytes = c.nsd * sizeof(double) + c.nsf * sizeof(float) + K * sizeof(double);
    size_t B = (size_t)(192 * 1024) / row_bytes;
    if (B > 256)
        B = 256;
    if (B < 1)
        B = 1;
    size_t need = B * c.nsd * sizeof(double) + B * c.nsf * sizeof(float) +
                  B * K * (m->acc_f32 ? sizeof(float) : sizeof(double)) +
                  (2 * K + m->n_value) * sizeof(double) +
                  B * RUNTIME__LANES * sizeof(uint32_t) + 64;
    char *buf = scratch_get(s, need);
    c.leaf = (uint32_t *)buf;
    buf += B * RUNTIME__LANES * sizeof(uint32_t);
    c.xd = (double *)buf;
    buf += B * c.nsd * sizeof(double);
    double *mg = (double *)buf;
    buf += K * sizeof(double);
    double *tmp = (double *)buf;
    buf += (K + m->n_value) * sizeof(double);
    if (m->acc_f32) {
        c.accf = (float *)buf;
        buf += B * K * sizeof(float);
    } else {
        c.accd = (double *)buf;
        buf += B * K * sizeof(double);
    }
    if (c.nsf)
        c.xf = (float *)buf;
    double scale = 1.0;
    if (m->average && c.te > c.tb)
        scale = (double)(c.te - c.tb);
    for (size_t r0 = 0; r0 < nrows; r0 += B) {
        size_t nb = nrows - r0 < B ? nrows - r0 : B;
        prepare_rows(&c, rows, rows_f32, r0, nb);
        for (size_t i = 0; i < nb; i++)
            for (size_t k = 0; k < K; k++) {
                if (c.accf)
                    c.accf[i * K + k] = (float)m->base[k];
                else
                    c.accd[i * K + k] = m->base[k];
            }
        score_block(&c, nb);
        for (size_t i = 0; i < nb; i++) {
            for (size_t k = 0; k < K; k++) {
                double v = c.accf ? (double)c.accf[i * K + k] : c.accd[i * K + k];
                mg[k] = m->average ? v / scale : v;
            }
            finish_row(m, opts->output, mg, tmp, out + (r0 + i) * width);
        }
    }
    free(local.buf);
    return 0;
}

int runtime_predict(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                    const double *rows, size_t nrows, size_t ncols, double *out,
                    runtime_scratch_t *scratch, mops_err_t *err)
{
    return predict_any(m, opts, rows, 0, nrows, ncols, out, scratch, 0, err);
}

int runtime_predict_f32(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                        const float *rows, size_t nrows, size_t ncols, double *out,
                        runtime_scratch_t *scratch, mops_err_t *err)
{
    return predict_any(m, opts, rows, 1, nrows, ncols, out, scratch, 0, err);
}

/* --------------------------------------------------------------- threads */

typedef struct part {
    const runtime_model_t *m;
    const runtime_predict_opts_t *opts;
    const void *rows;
    int rows_f32;
    size_t row0, nrows, ncols, width;
    double *out;
    int rc;
    mops_err_t err;
} part_t;

static void *part_run(void *arg)
{
    part_t *p = arg;
    runtime_scratch_t *s = runtime_scratch_new();
    size_t in_stride = p->ncols * (p->rows_f32 ? sizeof(float) : sizeof(double));
    p->rc = predict_any(p->m, p->opts, (const char *)p->rows + p->row0 * in_stride, p->rows_f32,
                        p->nrows, p->ncols, p->out + p->row0 * p->width, s, p->row0, &p->err);
    runtime_scratch_free(s);
    return NULL;
}

static int predict_parallel(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                            const void *rows, int rows_f32, size_t nrows, size_t ncols,
                            double *out, int nthreads, mops_err_t *err)
{
    static const runtime_predict_opts_t dflt = RUNTIME_PREDICT_OPTS_INIT;
    if (!opts)
        opts = &dflt;
    if (nthreads > 256)
        nthreads = 256;
    if (nthreads <= 1 || nrows < 2 * (size_t)nthreads) {
        runtime_scratch_t *s = runtime_scratch_new();
        int rc = predict_any(m, opts, rows, rows_f32, nrows, ncols, out, s, 0, err);
        runtime_scratch_free(s);
        return rc;
    }
    size_t width = runtime_output_width(m, opts->output);
    part_t *parts = mops_xcalloc((size_t)nthreads, sizeof *parts);
    pthread_t *tids = mops_xcalloc((size_t)nthreads, sizeof *tids);
    size_t per = nrows / (size_t)nthreads, extra = nrows % (size_t)nthreads, at = 0;
    int started = 0, rc = 0;
    for (int i = 0; i < nthreads; i++) {
        part_t *p = &parts[i];
        p->m = m;
        p->opts = opts;
        p->rows = rows;
        p->rows_f32 = rows_f32;
        p->ncols = ncols;
        p->width = width;
        p->out = out;
        p->row0 = at;
        p->nrows = per + ((size_t)i < extra ? 1 : 0);
        at += p->nrows;
        /* The last part runs on this thread. */
        if (i == nthreads - 1)
            break;
        if (pthread_create(&tids[i], NULL, part_run, p) != 0) {
            rc = mops_err_set(err, MOPS_EINTERNAL, "cannot start a scoring thread");
            break;
        }
        started++;
    }
    if (rc == 0)
        part_run(&parts[nthreads - 1]);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (rc == 0) {
        for (int i = 0; i < nthreads; i++) {
            if (parts[i].rc < 0) {
                rc = parts[i].rc;
                if (err)
                    *err = parts[i].err;
                break;
            }
        }
    }
    free(parts);
    free(tids);
    return rc;
}

int runtime_predict_parallel(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                             const double *rows, size_t nrows, size_t ncols, double *out,
                             int nthreads, mops_err_t *err)
{
    return predict_parallel(m, opts, rows, 0, nrows, ncols, out, nthreads, err);
}

int runtime_predict_parallel_f32(const runtime_model_t *m, const runtime_predict_opts_t *opts,
                                 const float *rows, size_t nrows, size_t ncols, double *out,
                                 int nthreads, mops_err_t *err)
{
    return predict_parallel(m, opts, rows, 1, nrows, ncols, out, nthreads, err);
}
