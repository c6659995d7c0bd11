/*
 * tensor.c — from a request body to the rows a model scores: the Open
 * Inference Protocol's tensors (datatypes BOOL, INT8-64, UINT8-64, FP32,
 * FP64; data flat or nested in row-major order, checked against the
 * shape), or records by feature name; and the sticky routing key.
 *
 * An OIP request gives a model its features in one of two ways: one tensor
 * of shape [rows, features] (any name), in the model's feature order; or
 * one tensor per feature, named after it, of shape [rows] or [rows, 1],
 * where features not sent are missing values. Every refusal names the
 * input, the element and what was expected.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "core/text.h"
#include "serve/serve_int.h"

enum { D_BOOL, D_INT, D_UINT, D_FP32, D_FP64 };

typedef struct dtype {
    const char *name;
    int kind;
    int64_t min, max; /* integers */
} dtype_t;

static const dtype_t dtypes[] = {
    {"BOOL", D_BOOL, 0, 1},
    {"INT8", D_INT, -128, 127},
    {"INT16", D_INT, -32768, 32767},
    {"INT32", D_INT, -2147483648LL, 2147483647LL},
    {"INT64", D_INT, INT64_MIN, INT64_MAX},
    {"UINT8", D_UINT, 0, 255},
    {"UINT16", D_UINT, 0, 65535},
    {"UINT32", D_UINT, 0, 4294967295LL},
    {"UINT64", D_UINT, 0, INT64_MAX}, /* JSON integers past int64 do not parse */
    {"FP32", D_FP32, 0, 0},
    {"FP64", D_FP64, 0, 0},
    {NULL, 0, 0, 0},
};

static const mops_json_field_t oip_fields[] = {
    {"id", MOPS_JSON_STRING, 0},
    {"parameters", MOPS_JSON_OBJECT, 0},
    {"inputs", MOPS_JSON_ARRAY, 1},
    {"outputs", MOPS_JSON_ARRAY, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t input_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"shape", MOPS_JSON_ARRAY, 1},
    {"datatype", MOPS_JSON_STRING, 1},
    {"parameters", MOPS_JSON_OBJECT, 0},
    {"data", MOPS_JSON_ANY, 1},
    {NULL, 0, 0},
};

static const mops_json_field_t output_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"parameters", MOPS_JSON_OBJECT, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t records_fields[] = {
    {"instances", MOPS_JSON_ARRAY, 1},
    {"parameters", MOPS_JSON_OBJECT, 0},
    {NULL, 0, 0},
};

/* $parameters: values are strings, numbers or booleans. */
static int check_parameters(const jv_t *p, const char *where, mops_err_t *err)
{
    for (uint32_t i = 0; p && i < p->len; i++) {
        int t = p->u.members[i].val.type;
        if (t != JV_STRING && t != JV_NUMBER && t != JV_TRUE && t != JV_FALSE)
            return mops_err_set(err, MOPS_EINVAL,
                                "parameter \"%s\" of %s must be a string, a number or a boolean",
                                mops_text_show(p->u.members[i].key), where);
    }
    return 0;
}

/* ------------------------------------------------------------ OIP tensors */

typedef struct tensor {
    const char *name;
    const dtype_t *dt;
    size_t ndim;
    size_t shape[2];
    const jv_t *data;
} tensor_t;

/* One element of input t at flat index i into *out. */
static int element(const tensor_t *t, const jv_t *v, size_t i, double *out, mops_err_t *err)
{
    const dtype_t *dt = t->dt;
    switch (dt->kind) {
    case D_BOOL:
        if (v->type == JV_TRUE || v->type == JV_FALSE) {
            *out = v->type == JV_TRUE;
            return 0;
        }
        break;
    case D_INT:
    case D_UINT:
        if (v->type == JV_NUMBER && v->is_int) {
            if (v->i < dt->min || v->i > dt->max)
                return mops_err_set(err, MOPS_EINVAL,
                                    "input \"%s\", element %zu: %lld is out of range for %s", t->name,
                                    i, (long long)v->i, dt->name);
            *out = (double)v->i;
            return 0;
        }
        break;
    case D_FP32:
    case D_FP64:
        if (v->type == JV_NUMBER) {
            *out = dt->kind == D_FP32 ? (double)(float)v->u.num : v->u.num;
            return 0;
        }
        if (v->type == JV_NULL) { /* JSON has no NaN: null stands for a missing value */
            *out = NAN;
            return 0;
        }
        break;
    }
    return mops_err_set(err, MOPS_EINVAL, "input \"%s\", element %zu: %s is not a %s value%s",
                        t->name, i, serve__jv_word(v), dt->name,
                        dt->kind >= D_FP32 ? " (a number, or null for a missing value)" : "");
}

/* Walk nested data against the shape from dimension d, writing elements to
 * dst[*k...]. */
static int walk_nested(const tensor_t *t, const jv_t *v, size_t d, double *dst, size_t *k,
                       mops_err_t *err)
{
    if (d == t->ndim) {
        if (v->type == JV_ARRAY)
            return mops_err_set(err, MOPS_EINVAL,
                                "input \"%s\": data is nested deeper than its shape (%zu "
                                "dimensions)",
                                t->name, t->ndim);
        int rc = element(t, v, *k, &dst[*k], err);
        (*k)++;
        return rc;
    }
    if (v->type != JV_ARRAY || v->len != t->shape[d])
        return mops_err_set(err, MOPS_EINVAL,
                            "input \"%s\": data disagrees with the shape: dimension %zu should "
                            "have %zu elements, not %s%zu",
                            t->name, d, t->shape[d], v->type == JV_ARRAY ? "" : "a scalar, ",
                            v->type == JV_ARRAY ? (size_t)v->len : (size_t)1);
    for (uint32_t i = 0; i < v->len; i++) {
        int rc = walk_nested(t, &v->u.items[i], d + 1, dst, k, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The elements of t in row-major order into dst (as many as its shape
 * holds). */
static int tensor_values(const tensor_t *t, double *dst, mops_err_t *err)
{
    size_t count = 1;
    for (size_t d = 0; d < t->ndim; d++)
        count *= t->shape[d];
    if (t->data->type != JV_ARRAY)
        return mops_err_set(err, MOPS_EINVAL, "input \"%s\": data must be an array, not %s",
                            t->name, serve__jv_word(t->data));
    size_t n = t->data->len;
    size_t k = 0;
    if (n > 0 && t->data->u.items[0].type == JV_ARRAY)
        return walk_nested(t, t->data, 0, dst, &k, err);
    if (n != count)
        return mops_err_set(err, MOPS_EINVAL,
                            "input \"%s\": data has %zu elements but its shape holds %zu", t->name,
                            n, count);
    for (size_t i = 0; i < n; i++) {
        const jv_t *v = &t->data->u.items[i];
        if (v->type == JV_ARRAY)
            return mops_err_set(err, MOPS_EINVAL,
                                "input \"%s\", element %zu: flat data cannot hold an array",
                                t->name, i);
        int rc = element(t, v, i, &dst[i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Check one $request_input and describe it. */
static int tensor_parse(const jv_t *in, size_t i, tensor_t *t, mops_err_t *err)
{
    char what[48];
    snprintf(what, sizeof what, "inputs[%zu]", i);
    int rc = serve__jv_check(in, what, input_fields, err);
    if (rc != 0)
        return rc;
    t->name = serve__jv_str(serve__jv_get(in, "name"));
    const char *dt = serve__jv_str(serve__jv_get(in, "datatype"));
    const jv_t *shape = serve__jv_get(in, "shape");
    t->data = serve__jv_get(in, "data");
    if ((rc = mops_text_check("input name", t->name, 256, err)) != 0 ||
        (rc = check_parameters(serve__jv_get(in, "parameters"), what, err)) != 0)
        return rc;
    t->dt = NULL;
    for (const dtype_t *d = dtypes; d->name && !t->dt; d++)
        if (!strcmp(d->name, dt))
            t->dt = d;
    if (!t->dt) {
        int known = !strcmp(dt, "FP16") || !strcmp(dt, "BYTES");
        return mops_err_set(err, MOPS_EINVAL,
                            "input \"%s\": datatype \"%s\" is %s (use BOOL, INT8-INT64, "
                            "UINT8-UINT64, FP32 or FP64)",
                            t->name, mops_text_show(dt),
                            known ? "not one a model's features take" : "not an OIP datatype");
    }
    size_t nd = shape->len;
    if (nd < 1 || nd > 2)
        return mops_err_set(err, MOPS_EINVAL,
                            "input \"%s\": shape must have 1 or 2 dimensions ([rows] or [rows, "
                            "features]), not %zu",
                            t->name, nd);
    t->ndim = nd;
    for (size_t d = 0; d < nd; d++) {
        const jv_t *v = &shape->u.items[d];
        if (v->type != JV_NUMBER || !v->is_int || v->i < 0 || v->i > ((int64_t)1 << 31))
            return mops_err_set(err, MOPS_EINVAL,
                                "input \"%s\": shape[%zu] must be a non-negative integer", t->name,
                                d);
        t->shape[d] = (size_t)v->i;
    }
    return 0;
}

static int feature_index(const serve_model_t *m, const char *name)
{
    if (!m->info.feature_names)
        return -1;
    for (size_t f = 0; f < m->info.n_features; f++)
        if (!strcmp(m->info.feature_names[f], name))
            return (int)f;
    return -1;
}

/* "a, b, c" (the first few feature names) for messages. */
static void feature_list(const serve_model_t *m, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t f = 0; m->info.feature_names && f < m->info.n_features && o + 4 < size; f++) {
        if (f == 8) {
            snprintf(buf + o, size - o, ", ...");
            return;
        }
        o += (size_t)snprintf(buf + o, size - o, "%s%s", f ? ", " : "",
                              m->info.feature_names[f]);
    }
}

static int too_many_rows(size_t n, int64_t max_rows, mops_err_t *err)
{
    return mops_err_set(err, MOPS_EINVAL,
                        "the request has %zu rows, over the limit of %lld (server option "
                        "--max-rows)",
                        n, (long long)max_rows);
}

static int oip_outputs(const jv_t *outs, const serve_model_t *m, int *want, mops_err_t *err)
{
    int classifier = m->info.n_classes > 0;
    if (!outs) {
        *want = classifier ? SERVE_OUT_PREDICT | SERVE_OUT_PROBA : SERVE_OUT_PREDICT;
        return 0;
    }
    *want = 0;
    for (uint32_t i = 0; i < outs->len; i++) {
        const jv_t *o = &outs->u.items[i];
        char what[48];
        snprintf(what, sizeof what, "outputs[%u]", i);
        int rc = serve__jv_check(o, what, output_fields, err);
        if (rc == 0)
            rc = check_parameters(serve__jv_get(o, "parameters"), what, err);
        if (rc != 0)
            return rc;
        const char *name = serve__jv_str(serve__jv_get(o, "name"));
        int bit = !strcmp(name, "predict") ? SERVE_OUT_PREDICT
                  : !strcmp(name, "predict_proba") && classifier ? SERVE_OUT_PROBA
                  : !strcmp(name, "margin") ? SERVE_OUT_MARGIN
                                            : 0;
        if (!bit)
            return mops_err_set(err, MOPS_EINVAL, "unknown output \"%s\" (this model has %s)",
                                mops_text_show(name),
                                classifier ? "predict, predict_proba, margin" : "predict, margin");
        if (*want & bit)
            return mops_err_set(err, MOPS_EINVAL, "output \"%s\" is asked for twice", name);
        *want |= bit;
    }
    if (!*want)
        return mops_err_set(err, MOPS_EINVAL, "outputs is empty: name at least one output, or "
                            "leave the field out for all of them");
    return 0;
}

static int convert_oip(const jv_t *body, const serve_model_t *m, int64_t max_rows,
                       mops_arena_t *arena, serve_rows_t *out, mops_err_t *err)
{
    int rc = serve__jv_check(body, "request body", oip_fields, err);
    if (rc != 0 ||
        (rc = check_parameters(serve__jv_get(body, "parameters"), "the request", err)) != 0 ||
        (rc = oip_outputs(serve__jv_get(body, "outputs"), m, &out->want, err)) != 0)
        return rc;
    const jv_t *inputs = serve__jv_get(body, "inputs");
    size_t nin = inputs->len, F = m->info.n_features;
    if (nin == 0)
        return mops_err_set(err, MOPS_EINVAL, "inputs is empty");
    tensor_t *ts = mops_arena_alloc(arena, nin * sizeof *ts);
    int named = 0;
    for (size_t i = 0; i < nin; i++) {
        if ((rc = tensor_parse(&inputs->u.items[i], i, &ts[i], err)) != 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ts[j].name, ts[i].name))
                return mops_err_set(err, MOPS_EINVAL, "input \"%s\" is given twice",
                                    mops_text_show(ts[i].name));
        if (feature_index(m, ts[i].name) >= 0)
            named = 1;
    }
    char feats[200];
    feature_list(m, feats, sizeof feats);
    if (!named) {
        /* One [rows, features] tensor in the model's feature order. */
        tensor_t *t = &ts[0];
        if (nin > 1)
            return mops_err_set(err, MOPS_EINVAL,
                                "%zu inputs, none named after a feature of the model%s%s%s: send "
                                "one tensor of shape [rows, %zu], or one tensor per feature",
                                nin, *feats ? " (" : "", feats, *feats ? ")" : "", F);
        if (t->ndim != 2 || t->shape[1] != F)
            return mops_err_set(err, MOPS_EINVAL,
                                "input \"%s\" has shape [%zu%s%s] but the model takes %zu "
                                "features: send shape [rows, %zu]%s%s%s",
                                t->name, t->shape[0], t->ndim == 2 ? ", " : "",
                                t->ndim == 2 ? mops_arena_printf(arena, "%zu", t->shape[1]) : "",
                                F, F, *feats ? " (or one input per feature: " : "", feats,
                                *feats ? ")" : "");
        if (t->shape[0] > (size_t)max_rows)
            return too_many_rows(t->shape[0], max_rows, err);
        out->n = t->shape[0];
        out->x = mops_arena_alloc(arena, (out->n * F + 1) * sizeof *out->x);
        return tensor_values(t, out->x, err);
    }
    /* One tensor per feature. */
    size_t n = 0;
    for (size_t i = 0; i < nin; i++) {
        tensor_t *t = &ts[i];
        if (feature_index(m, t->name) < 0)
            return mops_err_set(err, MOPS_EINVAL,
                                "input \"%s\" is not a feature of the model (its features: %s)",
                                mops_text_show(t->name), feats);
        if (t->ndim == 2 && t->shape[1] != 1)
            return mops_err_set(err, MOPS_EINVAL,
                                "input \"%s\" has shape [%zu, %zu]; a feature's input is [rows] "
                                "or [rows, 1]",
                                t->name, t->shape[0], t->shape[1]);
        if (i > 0 && t->shape[0] != n)
            return mops_err_set(err, MOPS_EINVAL,
                                "input \"%s\" has %zu rows but input \"%s\" has %zu", t->name,
                                t->shape[0], ts[0].name, n);
        n = t->shape[0];
    }
    if (n > (size_t)max_rows)
        return too_many_rows(n, max_rows, err);
    out->n = n;
    out->x = mops_arena_alloc(arena, (n * F + 1) * sizeof *out->x);
    for (size_t k = 0; k < n * F; k++)
        out->x[k] = NAN;
    double *col = mops_arena_alloc(arena, (n + 1) * sizeof *col);
    for (size_t i = 0; i < nin; i++) {
        if ((rc = tensor_values(&ts[i], col, err)) != 0)
            return rc;
        size_t f = (size_t)feature_index(m, ts[i].name);
        for (size_t r = 0; r < n; r++)
            out->x[r * F + f] = col[r];
    }
    return 0;
}

/* ------------------------------------------------------------- records */

static int record_value(const jv_t *v, size_t row, const char *feature, double *out,
                        mops_err_t *err)
{
    if (v->type == JV_NUMBER)
        *out = v->u.num;
    else if (v->type == JV_NULL)
        *out = NAN;
    else if (v->type == JV_TRUE || v->type == JV_FALSE)
        *out = v->type == JV_TRUE;
    else
        return mops_err_set(err, MOPS_EINVAL,
                            "instance %zu: feature \"%s\" must be a number (or null for a missing "
                            "value), not %s",
                            row, feature, serve__jv_word(v));
    return 0;
}

/* Feature names by hash, for records with many fields. */
typedef struct name_index {
    size_t cap;       /* a power of two */
    int32_t *slot;    /* feature + 1, 0 for empty */
} name_index_t;

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void index_build(const serve_model_t *m, mops_arena_t *arena, name_index_t *ix)
{
    size_t F = m->info.n_features;
    ix->cap = 16;
    while (ix->cap < 2 * F)
        ix->cap *= 2;
    ix->slot = mops_arena_alloc(arena, ix->cap * sizeof *ix->slot);
    for (size_t f = 0; f < F; f++) {
        size_t h = name_hash(m->info.feature_names[f]) & (ix->cap - 1);
        while (ix->slot[h])
            h = (h + 1) & (ix->cap - 1);
        ix->slot[h] = (int32_t)f + 1;
    }
}

static int index_find(const serve_model_t *m, const name_index_t *ix, const char *name)
{
    size_t h = name_hash(name) & (ix->cap - 1);
    while (ix->slot[h]) {
        int f = ix->slot[h] - 1;
        if (!strcmp(m->info.feature_names[f], name))
            return f;
        h = (h + 1) & (ix->cap - 1);
    }
    return -1;
}

static int convert_records(const jv_t *body, const serve_model_t *m, int64_t max_rows,
                           mops_arena_t *arena, serve_rows_t *out, mops_err_t *err)
{
    int rc = serve__jv_check(body, "request body", records_fields, err);
    if (rc != 0 ||
        (rc = check_parameters(serve__jv_get(body, "parameters"), "the request", err)) != 0)
        return rc;
    const jv_t *inst = serve__jv_get(body, "instances");
    size_t n = inst->len, F = m->info.n_features;
    if (n == 0)
        return mops_err_set(err, MOPS_EINVAL, "instances is empty");
    if (n > (size_t)max_rows)
        return too_many_rows(n, max_rows, err);
    out->n = n;
    out->want = SERVE_OUT_PREDICT | (m->info.n_classes ? SERVE_OUT_PROBA : 0);
    out->x = mops_arena_alloc(arena, (n * F + 1) * sizeof *out->x);
    name_index_t ix = {0, NULL};
    for (size_t r = 0; r < n; r++) {
        const jv_t *row = &inst->u.items[r];
        double *x = out->x + r * F;
        if (row->type == JV_ARRAY) {
            if (row->len != F)
                return mops_err_set(err, MOPS_EINVAL,
                                    "instance %zu has %u values but the model takes %zu features",
                                    r, row->len, F);
            for (size_t f = 0; f < F; f++) {
                char name[32];
                snprintf(name, sizeof name, "#%zu", f);
                if ((rc = record_value(&row->u.items[f], r, name, &x[f], err)) != 0)
                    return rc;
            }
        } else if (row->type == JV_OBJECT) {
            if (!m->info.feature_names)
                return mops_err_set(err, MOPS_EINVAL,
                                    "the model does not know its features' names: send each "
                                    "instance as an array of %zu values",
                                    F);
            if (!ix.slot)
                index_build(m, arena, &ix);
            /* Absent features are missing; fields that are not features
             * (ids, keys) are left alone. */
            for (size_t f = 0; f < F; f++)
                x[f] = NAN;
            for (uint32_t i = 0; i < row->len; i++) {
                int f = index_find(m, &ix, row->u.members[i].key);
                if (f >= 0 && (rc = record_value(&row->u.members[i].val, r,
                                                 m->info.feature_names[f], &x[f], err)) != 0)
                    return rc;
            }
        } else {
            return mops_err_set(err, MOPS_EINVAL,
                                "instance %zu must be an object of features (or an array of "
                                "values), not %s",
                                r, serve__jv_word(row));
        }
    }
    return 0;
}

int serve__convert(serve_body_kind_t kind, const jv_t *body, const serve_model_t *m,
                   int64_t max_rows, mops_arena_t *arena, serve_rows_t *out, mops_err_t *err)
{
    memset(out, 0, sizeof *out);
    return kind == SERVE_BODY_OIP ? convert_oip(body, m, max_rows, arena, out, err)
                                  : convert_records(body, m, max_rows, arena, out, err);
}

/* ---------------------------------------------------------- sticky key */

static int key_text(const jv_t *v, char *buf, size_t size)
{
    if (!v)
        return 0;
    if (v->type == JV_STRING)
        snprintf(buf, size, "%s", v->u.str);
    else if (v->type == JV_NUMBER && v->is_int)
        snprintf(buf, size, "%lld", (long long)v->i);
    else if (v->type == JV_NUMBER)
        snprintf(buf, size, "%.17g", v->u.num);
    else if (v->type == JV_TRUE || v->type == JV_FALSE)
        snprintf(buf, size, "%s", v->type == JV_TRUE ? "true" : "false");
    else
        return 0;
    return 1;
}

int serve__sticky_key(const serve_config_t *c, serve_body_kind_t kind, const jv_t *body,
                      const serve_call_t *call, char *buf, size_t size)
{
    if (c->sticky_header) {
        const char *h = call && call->header ? call->header(call->header_arg, c->sticky_header)
                                             : NULL;
        if (!h || !*h)
            return 0;
        snprintf(buf, size, "%s", h);
        return 1;
    }
    if (!c->sticky_field)
        return 0;
    if (key_text(serve__jv_get(serve__jv_get(body, "parameters"), c->sticky_field), buf, size))
        return 1;
    if (kind == SERVE_BODY_RECORDS) {
        const jv_t *inst = serve__jv_get(body, "instances");
        if (inst && inst->type == JV_ARRAY && inst->len > 0)
            return key_text(serve__jv_get(&inst->u.items[0], c->sticky_field), buf, size);
    }
    return 0;
}
