/*
 * infer.c — inference: resolve the name a request addresses (a deployment,
 * which routes, or a model the caller can see), check the caller may, pick
 * the version (weighted, or sticky by a key), score, answer in the Open
 * Inference Protocol's shape or as records, and account for the
 * prediction (log record, counters, shadows).
 *
 * The hot path (a published deployment, a cached principal) touches no
 * store: the configuration comes from live.c under a read lock, the model
 * is already loaded, request memory comes from the request's arena, the
 * answer is written straight into one buffer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "serve/serve_int.h"

/* -------------------------------------------------------- JSON writing */

static void jw_str(mops_buf_t *b, const char *s)
{
    mops_json_buf_str(b, s);
}

/* A number that reads back exactly: %.9g for float32 values, %.17g
 * otherwise; null for what JSON cannot hold. */
static void jw_num(mops_buf_t *b, double v, int f32)
{
    if (!isfinite(v)) {
        mops_buf_puts(b, "null");
        return;
    }
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, f32 ? "%.9g" : "%.17g", v);
    mops_buf_append(b, tmp, (size_t)n);
}

/* ------------------------------------------------------------- scoring */

typedef struct scored {
    size_t n, width;   /* rows, value columns */
    double *values;    /* n * width: the VALUE output (what the log keeps) */
    double *labels;    /* n class indexes (classifiers asked for predict), or NULL */
    double *margins;   /* n * n_margin */
} scored_t;

static int score(const serve_model_t *m, const serve_rows_t *rows, mops_arena_t *arena,
                 scored_t *out, mops_err_t *err)
{
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    o.output = RUNTIME_OUTPUT_MARGIN;
    size_t n = rows->n, K = m->info.n_margin, V = m->info.n_value;
    out->n = n;
    out->width = V;
    out->margins = mops_arena_alloc(arena, (n * K + 1) * sizeof(double));
    int rc = runtime_predict(m->rt, &o, rows->x, n, m->info.n_features, out->margins,
                             serve__scratch(), err);
    if (rc != 0)
        return rc;
    /* One walk of the trees; the other outputs come from the margins. */
    double *tmp = mops_arena_alloc(arena, (V + K + 1) * sizeof(double));
    out->values = mops_arena_alloc(arena, (n * V + 1) * sizeof(double));
    runtime_outputs_from_margins(m->rt, RUNTIME_OUTPUT_VALUE, out->margins, n, out->values, tmp);
    out->labels = NULL;
    if (m->info.n_classes && (rows->want & SERVE_OUT_PREDICT)) {
        out->labels = mops_arena_alloc(arena, (n + 1) * sizeof(double));
        runtime_outputs_from_margins(m->rt, RUNTIME_OUTPUT_LABEL, out->margins, n, out->labels,
                                     tmp);
    }
    return 0;
}

static const char *class_label(const serve_model_t *m, double idx)
{
    size_t k = (size_t)idx;
    return k < m->info.n_classes ? m->info.class_labels[k] : "";
}

/* A label as JSON: an integer when every label is one, else a string. */
static void jw_label(mops_buf_t *b, const serve_model_t *m, double idx)
{
    if (m->labels_numeric)
        mops_buf_puts(b, class_label(m, idx));
    else
        jw_str(b, class_label(m, idx));
}

/* ------------------------------------------------------------- routing */

static __thread uint64_t rng_state;

static unsigned rng_percent(void)
{
    if (!rng_state) {
        if (mops_random_bytes(&rng_state, sizeof rng_state) != 0 || !rng_state)
            rng_state = (uint64_t)mops_mono_us() | 1;
    }
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)(((rng_state * 2685821657736338717ULL) >> 32) % 100);
}

static unsigned key_percent(const char *key)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h ^= h >> 29; /* spread the low bits before the modulo */
    return (unsigned)(h % 100);
}

/* The target a request goes to: canaries own consecutive slices of 0..99
 * after one another, the primary the rest. */
static serve_target_t *choose(serve_config_t *c, const char *key)
{
    if (c->ntargets == 1)
        return &c->targets[0];
    unsigned p = key ? key_percent(key) : rng_percent(), acc = 0;
    for (size_t i = 1; i < c->ntargets; i++) {
        acc += (unsigned)c->targets[i].weight;
        if (p < acc)
            return &c->targets[i];
    }
    return &c->targets[0];
}

/* A version of a deployment named in the path: "3" or "model@3". */
static serve_target_t *target_named(serve_config_t *c, const char *version)
{
    const char *at = strrchr(version, '@');
    long long n;
    if (mops_parse_i64(at ? at + 1 : version, &n) != 0)
        return NULL;
    for (size_t i = 0; i < c->ntargets; i++) {
        const serve_model_t *m = c->targets[i].model;
        if (m->ref.number == n && (!at || (strlen(m->ref.m.model) == (size_t)(at - version) &&
                                           !strncmp(m->ref.m.model, version, (size_t)(at - version)))))
            return &c->targets[i];
    }
    return NULL;
}

/* --------------------------------------------------------- resolution */

/* What a request addressed, resolved. */
typedef struct served {
    serve_config_t *cfg;    /* a deployment (one reference), or NULL */
    serve_target_t *target; /* its version chosen for this request */
    serve_model_t *model;   /* the model that answers (direct: one use held) */
    const char *name;       /* as the caller wrote it */
} served_t;

static void served_release(served_t *s)
{
    if (s->cfg)
        serve__config_unref(s->cfg);
    else
        serve__model_release(s->model);
    memset(s, 0, sizeof *s);
}

static int no_such(const char *name, mops_err_t *err)
{
    return mops_err_set(err, MOPS_ENOTFOUND, "no deployment or model named \"%s\"",
                        mops_text_show(name));
}

/* Members of the deployment's team (and admins) see it; others get "not
 * found", recorded as a refusal. */
static int deployment_visible(const mops_ctx_t *ctx, const serve_config_t *c)
{
    const auth_principal_t *w = ctx->who;
    if (!w || w->is_admin || auth_roles_in(w, c->team_id))
        return 1;
    mops_ctx_deny(ctx, c->team_id);
    return 0;
}

/* The published configuration of deployment name, publishing it first if
 * this server has not yet (start-up, or created on another server). */
static int deployment_find(const mops_ctx_t *ctx, const char *name, serve_config_t **out,
                           mops_err_t *err)
{
    *out = serve__config_get(name);
    if (*out)
        return 0;
    mops_ctx_t tmp;
    const mops_ctx_t *c;
    int rc = serve__ctx_db(ctx, &tmp, &c, err);
    if (rc != 0)
        return rc;
    int found = 0;
    rc = serve__sync(c, name, &found, err);
    serve__ctx_done(c, &tmp);
    if (rc != 0)
        return rc;
    *out = found ? serve__config_get(name) : NULL;
    return 0;
}

/* ---- models addressed directly, with a short-lived resolution cache */

#define DIRECT_SLOTS 256
#define DIRECT_TTL_MS 2000

typedef struct direct_entry {
    char key[200];
    int64_t until_ms;
    int64_t version_id, team_id;
    char stage[33];
    int archived;
} direct_entry_t;

static pthread_mutex_t direct_lock = PTHREAD_MUTEX_INITIALIZER;
static direct_entry_t direct_cache[DIRECT_SLOTS];

static void direct_key(const mops_ctx_t *ctx, const char *name, const char *version, char *key,
                       size_t size)
{
    snprintf(key, size, "%lld\x1f%s\x1f%s", ctx->who ? (long long)ctx->who->user_id : 0LL, name,
             version ? version : "");
}

static direct_entry_t *direct_slot(const char *key)
{
    return &direct_cache[key_percent(key) * 7919u % DIRECT_SLOTS];
}

/* Resolve a model name (or "team:model") and version the caller can see. */
static int direct_resolve(const mops_ctx_t *ctx, const char *name, const char *version,
                          registry_version_ref_t *ref, mops_err_t *err)
{
    char team[MOPS_NAME_MAX + 1] = "";
    const char *model = name, *colon = strchr(name, ':');
    if (colon) {
        snprintf(team, sizeof team, "%.*s", (int)(colon - name), name);
        model = colon + 1;
    } else {
        const char *teams[4];
        size_t n = 0;
        int rc = registry_model_teams(ctx, name, teams, 4, &n, err);
        if (rc != 0)
            return rc;
        if (n == 0) {
            /* Another team's model answers as absent, and is recorded as a
             * refusal under that team. */
            mops_ctx_t sys = *ctx;
            sys.who = NULL;
            if (ctx->who && registry_model_teams(&sys, name, teams, 1, &n, NULL) == 0 && n) {
                int64_t team_id;
                if (auth_team_resolve(&sys, teams[0], &team_id, NULL) == 0)
                    mops_ctx_deny(ctx, team_id);
            }
            return no_such(name, err);
        }
        if (n > 1)
            return mops_err_set(err, MOPS_EINVAL,
                                "model name \"%s\" is ambiguous: teams %s, %s%s hold one; say "
                                "which as TEAM:MODEL (e.g. %s:%s)",
                                name, teams[0], teams[1], n > 2 ? ", ..." : "", teams[0], name);
        snprintf(team, sizeof team, "%s", teams[0]);
    }
    int rc = registry_version_resolve(ctx, team, model, version ? version : "latest",
                                     AUTH_MODEL_READ, ref, err);
    if (rc == MOPS_ENOTFOUND && !colon && !version)
        return no_such(name, err);
    return rc;
}

/* The model a direct request addresses, with a use held; permission to
 * infer checked when infer is set (else model.read, by resolution). */
static int direct_find(const mops_ctx_t *ctx, const char *name, const char *version, int infer,
                       serve_model_t **out, mops_err_t *err)
{
    /* An application's token reaches its deployments only. */
    if (ctx->who && ctx->who->scoped)
        return auth_require_infer(ctx, 0, NULL, err);
    char key[200];
    direct_key(ctx, name, version, key, sizeof key);
    direct_entry_t e = {{0}, 0, 0, 0, {0}, 0};
    int64_t now = mops_now_ms();
    pthread_mutex_lock(&direct_lock);
    direct_entry_t *slot = direct_slot(key);
    if (slot->until_ms > now && !strcmp(slot->key, key))
        e = *slot;
    pthread_mutex_unlock(&direct_lock);
    mops_ctx_t tmp;
    const mops_ctx_t *c = NULL;
    int rc = 0;
    if (!e.version_id) {
        registry_version_ref_t ref;
        if ((rc = serve__ctx_db(ctx, &tmp, &c, err)) != 0)
            return rc;
        if ((rc = direct_resolve(c, name, version, &ref, err)) != 0)
            goto out;
        snprintf(e.key, sizeof e.key, "%s", key);
        e.until_ms = now + DIRECT_TTL_MS;
        e.version_id = ref.version_id;
        e.team_id = ref.m.team_id;
        snprintf(e.stage, sizeof e.stage, "%s", ref.stage);
        e.archived = ref.archived;
        pthread_mutex_lock(&direct_lock);
        *direct_slot(key) = e;
        pthread_mutex_unlock(&direct_lock);
    }
    if (infer && (rc = auth_require_infer(ctx, e.team_id, NULL, err)) != 0)
        goto out;
    if (!serve_stage_allows(e.stage, SERVE_ROLE_DIRECT)) {
        rc = mops_err_set(err, MOPS_EPRECOND, "model %s is in stage %s, which takes no traffic",
                          mops_text_show(name), e.stage);
        goto out;
    }
    if (e.archived) {
        rc = mops_err_set(err, MOPS_EPRECOND, "that version of model %s is archived",
                          mops_text_show(name));
        goto out;
    }
    if ((*out = serve__model_take(e.version_id, 1)))
        goto out;
    if (!c && (rc = serve__ctx_db(ctx, &tmp, &c, err)) != 0)
        return rc;
    rc = serve__model_acquire(c, e.version_id, 1, out, err);
out:
    if (c)
        serve__ctx_done(c, &tmp);
    return rc;
}

/* Resolve name for inference and check the caller may: a deployment (its
 * configuration held), or a model (loaded). Nothing of the body is read
 * yet: permissions come first. */
static int resolve(const mops_ctx_t *ctx, const char *name, const char *version,
                   serve_body_kind_t kind, served_t *s, mops_err_t *err)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    serve_config_t *c;
    int rc = deployment_find(ctx, name, &c, err);
    if (rc != 0)
        return rc;
    if (c && !deployment_visible(ctx, c)) {
        serve__config_unref(c);
        return no_such(name, err);
    }
    if (!c) {
        if (kind == SERVE_BODY_RECORDS)
            return mops_err_set(err, MOPS_ENOTFOUND, "no deployment named \"%s\"",
                                mops_text_show(name));
        return direct_find(ctx, name, version, 1, &s->model, err);
    }
    s->cfg = c;
    if ((rc = auth_require_infer(ctx, c->team_id, c->name, err)) != 0) {
        served_release(s);
        return rc;
    }
    return 0;
}

/* A deployment's version for this request: the one named in the path, or
 * by the sticky key, or by weight. */
static int pick(served_t *s, const char *version, serve_body_kind_t kind, const jv_t *body,
                const serve_call_t *call, mops_err_t *err)
{
    serve_config_t *c = s->cfg;
    if (version) {
        s->target = target_named(c, version);
        if (!s->target) {
            char label[200];
            serve__model_label(c->targets[0].model, label, sizeof label);
            return mops_err_set(err, MOPS_ENOTFOUND,
                                "deployment %s does not route to version \"%s\" (its primary is "
                                "%s)",
                                c->name, mops_text_show(version), label);
        }
    } else {
        char key[256];
        int keyed = serve__sticky_key(c, kind, body, call, key, sizeof key);
        s->target = choose(c, keyed ? key : NULL);
    }
    s->model = s->target->model;
    return 0;
}

/* --------------------------------------------------------- answering */

/* A tensor's name, datatype and shape ([n], or [n, width] when two_d). */
static void oip_tensor_head(mops_buf_t *b, int *first, const char *name, const char *dtype,
                            size_t n, size_t width, int two_d)
{
    mops_buf_puts(b, *first ? "{\"name\":" : ",{\"name\":");
    *first = 0;
    jw_str(b, name);
    mops_buf_puts(b, ",\"datatype\":\"");
    mops_buf_puts(b, dtype);
    mops_buf_puts(b, "\",\"shape\":[");
    mops_buf_int(b, (long long)n);
    if (two_d) {
        mops_buf_putc(b, ',');
        mops_buf_int(b, (long long)width);
    }
    mops_buf_puts(b, "],\"data\":[");
}

static void oip_numbers(mops_buf_t *b, const double *v, size_t count, int f32)
{
    for (size_t i = 0; i < count; i++) {
        if (i)
            mops_buf_putc(b, ',');
        jw_num(b, v[i], f32);
    }
    mops_buf_puts(b, "]}");
}

/* The parameters every answer carries: which version answered. */
static void jw_answered_by(mops_buf_t *b, const served_t *s)
{
    const serve_model_t *m = s->model;
    mops_buf_puts(b, "{\"model\":");
    char label[2 * MOPS_NAME_MAX + 2];
    snprintf(label, sizeof label, "%s/%s", m->ref.m.team, m->ref.m.model);
    jw_str(b, label);
    mops_buf_puts(b, ",\"version\":");
    mops_buf_int(b, (long long)m->ref.number);
    if (s->cfg) {
        mops_buf_puts(b, ",\"deployment\":");
        jw_str(b, s->cfg->name);
        mops_buf_puts(b, ",\"revision\":");
        mops_buf_int(b, (long long)s->cfg->revision);
    }
    mops_buf_puts(b, ",\"role\":\"");
    mops_buf_puts(b, serve_role_name(s->target ? s->target->role : SERVE_ROLE_DIRECT));
    mops_buf_puts(b, "\"}");
}

static void oip_answer(mops_buf_t *b, const served_t *s, const jv_t *body,
                       const char *request_id, const serve_rows_t *rows, const scored_t *out)
{
    const serve_model_t *m = s->model;
    const runtime_model_info_t *in = &m->info;
    int f32 = in->output_float32;
    const char *fp = f32 ? "FP32" : "FP64";
    const char *id = serve__jv_str(serve__jv_get(body, "id"));
    mops_buf_puts(b, "{\"model_name\":");
    jw_str(b, s->name);
    mops_buf_puts(b, ",\"model_version\":\"");
    mops_buf_int(b, (long long)m->ref.number);
    mops_buf_puts(b, "\",\"id\":");
    jw_str(b, id ? id : request_id);
    mops_buf_puts(b, ",\"parameters\":");
    jw_answered_by(b, s);
    mops_buf_puts(b, ",\"outputs\":[");
    int first = 1;
    size_t n = out->n;
    if (rows->want & SERVE_OUT_PREDICT) {
        if (in->n_classes) {
            oip_tensor_head(b, &first, "predict", m->labels_numeric ? "INT64" : "BYTES", n, 1, 0);
            for (size_t i = 0; i < n; i++) {
                if (i)
                    mops_buf_putc(b, ',');
                jw_label(b, m, out->labels[i]);
            }
            mops_buf_puts(b, "]}");
        } else {
            oip_tensor_head(b, &first, "predict", fp, n, out->width, out->width > 1);
            oip_numbers(b, out->values, n * out->width, f32);
        }
    }
    if (rows->want & SERVE_OUT_PROBA) {
        oip_tensor_head(b, &first, "predict_proba", fp, n, out->width, 1);
        oip_numbers(b, out->values, n * out->width, f32);
    }
    if (rows->want & SERVE_OUT_MARGIN) {
        oip_tensor_head(b, &first, "margin", fp, n, in->n_margin, 1);
        oip_numbers(b, out->margins, n * in->n_margin, f32);
    }
    mops_buf_puts(b, "]}");
}

static void records_answer(mops_buf_t *b, const served_t *s, const char *request_id,
                           const scored_t *out)
{
    const serve_model_t *m = s->model;
    const runtime_model_info_t *in = &m->info;
    int f32 = in->output_float32;
    mops_buf_puts(b, "{\"deployment\":");
    jw_str(b, s->cfg->name);
    char label[2 * MOPS_NAME_MAX + 2];
    snprintf(label, sizeof label, "%s/%s", m->ref.m.team, m->ref.m.model);
    mops_buf_puts(b, ",\"model\":");
    jw_str(b, label);
    mops_buf_printf(b, ",\"version\":%lld,\"revision\":%lld,\"role\":\"%s\",\"request_id\":",
                    (long long)m->ref.number, (long long)s->cfg->revision,
                    serve_role_name(s->target->role));
    jw_str(b, request_id);
    mops_buf_puts(b, ",\"predictions\":[");
    size_t V = out->width;
    for (size_t i = 0; i < out->n; i++) {
        const double *v = out->values + i * V;
        mops_buf_puts(b, i ? ",{" : "{");
        if (in->n_classes) {
            mops_buf_puts(b, "\"label\":");
            jw_label(b, m, out->labels[i]);
            if (V == in->n_classes) {
                mops_buf_puts(b, ",\"probabilities\":{");
                for (size_t k = 0; k < V; k++) {
                    if (k)
                        mops_buf_putc(b, ',');
                    jw_str(b, in->class_labels[k]);
                    mops_buf_putc(b, ':');
                    jw_num(b, v[k], f32);
                }
                mops_buf_putc(b, '}');
            } else { /* XGBoost binary: the probability of the last class */
                mops_buf_puts(b, ",\"probability\":");
                jw_num(b, v[0], f32);
            }
        } else if (V == 1) {
            mops_buf_puts(b, "\"value\":");
            jw_num(b, v[0], f32);
        } else {
            mops_buf_puts(b, "\"value\":[");
            for (size_t k = 0; k < V; k++) {
                if (k)
                    mops_buf_putc(b, ',');
                jw_num(b, v[k], f32);
            }
            mops_buf_putc(b, ']');
        }
        mops_buf_putc(b, '}');
    }
    mops_buf_puts(b, "]}");
}

/* The observers' view of a request served by s (answered when out is not
 * NULL, failed with status otherwise). */
static void observe(const mops_ctx_t *ctx, const served_t *s, const serve_call_t *call,
                    const serve_rows_t *rows, const scored_t *out, size_t bytes_out,
                    int64_t wall_us, int64_t cpu_ns, int status)
{
    const serve_model_t *m = s->model ? s->model : s->cfg->targets[0].model;
    serve_event_t ev = {.ts_ms = mops_now_ms(), .team_id = m->ref.m.team_id,
                        .version_id = m->version_id,
                        .role = s->target ? s->target->role : SERVE_ROLE_DIRECT,
                        .request_id = ctx->request_id ? ctx->request_id : "",
                        .n_features = m->info.n_features, .cpu_ns = cpu_ns, .wall_us = wall_us,
                        .bytes_in = call ? call->bytes_in : 0, .bytes_out = (int64_t)bytes_out,
                        .status = status};
    if (s->cfg) {
        ev.deployment_id = s->cfg->deployment_id;
        ev.revision = s->cfg->revision;
    }
    if (out) {
        ev.n_rows = out->n;
        ev.n_outputs = out->width;
        ev.inputs = rows->x;
        ev.outputs = out->values;
    }
    serve__observe(&ev);
}

/* Tell the observers, and put the prediction on the log queue. */
static void account(const mops_ctx_t *ctx, const served_t *s, const serve_call_t *call,
                    const serve_rows_t *rows, const scored_t *out, size_t bytes_out,
                    int64_t wall_us)
{
    const serve_model_t *m = s->model;
    int64_t cpu_ns = call ? mops_thread_cpu_since(call->cpu_mark_ns) : 0;
    observe(ctx, s, call, rows, out, bytes_out, wall_us, cpu_ns, 0);
    size_t F = m->info.n_features;
    serve_record_t *r = serve__log_reserve(out->n, F, out->width, s->cfg ? s->cfg->stats : NULL);
    if (!r)
        return;
    memcpy(r->inputs, rows->x, out->n * F * sizeof(double));
    serve__mask_pii(m, r->inputs, out->n);
    memcpy(r->outputs, out->values, out->n * out->width * sizeof(double));
    snprintf(r->request_id, sizeof r->request_id, "%s", ctx->request_id ? ctx->request_id : "");
    r->team_id = m->ref.m.team_id;
    r->version_id = m->version_id;
    r->role = s->target ? s->target->role : SERVE_ROLE_DIRECT;
    if (s->cfg) {
        r->deployment_id = s->cfg->deployment_id;
        r->revision = s->cfg->revision;
    }
    r->wall_us = wall_us;
    r->bytes_in = call ? call->bytes_in : 0;
    r->bytes_out = (int64_t)bytes_out;
    r->cpu_ns = cpu_ns;
    serve__log_commit(r);
}

static int run(const mops_ctx_t *ctx, const char *name, const char *version,
               serve_body_kind_t kind, const char *text, size_t len, const serve_call_t *call,
               serve_reply_t *reply, mops_err_t *err)
{
    int rc = serve__running(err);
    if (rc != 0)
        return rc;
    served_t s;
    if ((rc = resolve(ctx, name, version, kind, &s, err)) != 0)
        return rc;
    jv_t *body;
    serve_rows_t rows;
    scored_t out;
    rc = serve__jv_parse(text, len, ctx->arena, &body, err);
    if (rc == 0 && s.cfg)
        rc = pick(&s, version, kind, body, call, err);
    if (rc == 0)
        rc = serve__convert(kind, body, s.model, serve__g->opts.max_rows, ctx->arena, &rows, err);
    if (rc == 0)
        rc = score(s.model, &rows, ctx->arena, &out, err);
    if (rc != 0) {
        if (s.cfg)
            atomic_fetch_add(&s.cfg->stats->errors, 1);
        observe(ctx, &s, call, NULL, NULL, 0, call ? mops_mono_us() - call->t0_us : 0,
                call ? mops_thread_cpu_since(call->cpu_mark_ns) : 0, rc);
        served_release(&s);
        return rc;
    }
    mops_buf_t b = MOPS_BUF_INIT;
    if (kind == SERVE_BODY_OIP)
        oip_answer(&b, &s, body, ctx->request_id ? ctx->request_id : "", &rows, &out);
    else
        records_answer(&b, &s, ctx->request_id ? ctx->request_id : "", &out);
    int64_t wall = call ? mops_mono_us() - call->t0_us : 0;
    account(ctx, &s, call, &rows, &out, b.len, wall);
    if (s.cfg) {
        serve_stats_t *st = s.cfg->stats;
        atomic_fetch_add_explicit(&st->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->rows, out.n, memory_order_relaxed);
        atomic_fetch_add_explicit(&s.target->requests, 1, memory_order_relaxed);
        serve__stats_latency(st, wall);
        if (s.cfg->nshadows)
            serve__shadow_submit(s.cfg, kind, text, len, out.values, out.n, out.width,
                                 ctx->request_id ? ctx->request_id : "");
    }
    served_release(&s);
    reply->len = b.len;
    reply->body = mops_buf_detach(&b);
    return 0;
}

int serve_infer(const mops_ctx_t *ctx, const char *name, const char *version, const char *body,
                size_t len, const serve_call_t *call, serve_reply_t *reply, mops_err_t *err)
{
    return run(ctx, name, version, SERVE_BODY_OIP, body, len, call, reply, err);
}

int serve_predict(const mops_ctx_t *ctx, const char *name, const char *body, size_t len,
                  const serve_call_t *call, serve_reply_t *reply, mops_err_t *err)
{
    return run(ctx, name, NULL, SERVE_BODY_RECORDS, body, len, call, reply, err);
}

/* ------------------------------------------------------------ metadata */

int serve_oip_server(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    (void)ctx;
    int rc = serve__running(err);
    if (rc != 0)
        return rc;
    *out = json_pack("{s:s, s:s, s:[]}", "name", "mops", "version", serve__g->opts.version,
                     "extensions");
    return 0;
}

/* For metadata and readiness a deployment needs deployment.read (or, for
 * an application's token, inference on it); a model model.read. */
static int resolve_read(const mops_ctx_t *ctx, const char *name, const char *version,
                        served_t *s, mops_err_t *err)
{
    int rc = serve__running(err);
    if (rc != 0)
        return rc;
    memset(s, 0, sizeof *s);
    s->name = name;
    serve_config_t *c;
    if ((rc = deployment_find(ctx, name, &c, err)) != 0)
        return rc;
    if (c && !deployment_visible(ctx, c)) {
        serve__config_unref(c);
        return no_such(name, err);
    }
    if (!c)
        return direct_find(ctx, name, version, 0, &s->model, err);
    s->cfg = c;
    if (!auth_can(ctx->who, AUTH_DEPLOYMENT_READ, c->team_id) &&
        (rc = auth_require_infer(ctx, c->team_id, c->name, err)) != 0) {
        served_release(s);
        return rc;
    }
    s->target = version ? target_named(c, version) : &c->targets[0];
    if (!s->target) {
        rc = mops_err_set(err, MOPS_ENOTFOUND, "deployment %s does not route to version \"%s\"",
                          c->name, mops_text_show(version));
        served_release(s);
        return rc;
    }
    s->model = s->target->model;
    return 0;
}

static json_t *tensor_meta(const char *name, const char *dtype, size_t width, int two_d)
{
    return two_d ? json_pack("{s:s, s:s, s:[i, I]}", "name", name, "datatype", dtype, "shape", -1,
                             (json_int_t)width)
                 : json_pack("{s:s, s:s, s:[i]}", "name", name, "datatype", dtype, "shape", -1);
}

int serve_oip_model(const mops_ctx_t *ctx, const char *name, const char *version, json_t **out,
                    mops_err_t *err)
{
    served_t s;
    int rc = resolve_read(ctx, name, version, &s, err);
    if (rc != 0)
        return rc;
    const serve_model_t *m = s.model;
    const runtime_model_info_t *in = &m->info;
    const char *fp = in->output_float32 ? "FP32" : "FP64";
    json_t *inputs = json_array(), *outputs = json_array(), *versions = json_array();
    if (in->feature_names)
        for (size_t f = 0; f < in->n_features; f++)
            json_array_append_new(inputs, tensor_meta(in->feature_names[f], fp, 1, 0));
    else
        json_array_append_new(inputs, tensor_meta("input-0", fp, in->n_features, 1));
    if (in->n_classes) {
        json_array_append_new(outputs,
                              tensor_meta("predict", m->labels_numeric ? "INT64" : "BYTES", 1, 0));
        json_array_append_new(outputs, tensor_meta("predict_proba", fp, in->n_value, 1));
    } else {
        json_array_append_new(outputs, tensor_meta("predict", fp, in->n_value, in->n_value > 1));
    }
    json_array_append_new(outputs, tensor_meta("margin", fp, in->n_margin, 1));
    if (s.cfg) {
        for (size_t i = 0; i < s.cfg->ntargets; i++)
            json_array_append_new(versions, json_sprintf("%lld", (long long)
                                                         s.cfg->targets[i].model->ref.number));
    } else {
        json_array_append_new(versions, json_sprintf("%lld", (long long)m->ref.number));
    }
    char platform[40];
    snprintf(platform, sizeof platform, "%s", m->ref.format);
    for (char *p = platform; *p; p++)
        if (*p == '-')
            *p = '_';
    mops_buf_t b = MOPS_BUF_INIT;
    jw_answered_by(&b, &s);
    json_t *params = json_loads(b.data, 0, NULL);
    mops_buf_release(&b);
    *out = json_pack("{s:s, s:o, s:s, s:o, s:o, s:o}", "name", name, "versions", versions,
                     "platform", platform, "inputs", inputs, "outputs", outputs, "parameters",
                     params ? params : json_object());
    served_release(&s);
    return 0;
}

int serve_oip_model_ready(const mops_ctx_t *ctx, const char *name, const char *version,
                          json_t **out, int *ready, mops_err_t *err)
{
    served_t s;
    mops_err_t why;
    int rc = resolve_read(ctx, name, version, &s, &why);
    /* A model that exists but cannot serve (format, stage, damaged file)
     * is "not ready"; what does not exist or may not be seen is an error. */
    if (rc == MOPS_ENOTFOUND || rc == MOPS_EFORBIDDEN || rc == MOPS_EUNAVAIL) {
        if (err)
            *err = why;
        return rc;
    }
    *ready = rc == 0;
    *out = rc == 0 ? json_pack("{s:s, s:b}", "name", name, "ready", 1)
                   : json_pack("{s:s, s:b, s:s}", "name", name, "ready", 0, "error", why.msg);
    if (rc == 0)
        served_release(&s);
    return 0;
}
