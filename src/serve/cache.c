/*
 * cache.c — the loaded models: one runtime model per version id, shared
 * by every configuration and direct request that uses it.
 *
 * Users are counted under one mutex; loading happens outside it (under a
 * load mutex, so a version is loaded once however many ask at the same
 * time). A model used only by deployments is freed with its last user, so
 * memory returns after a promotion; one also used directly (a model
 * addressed by name) stays until it has been idle a while.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"
#include "core/time.h"
#include "data/data.h"
#include "serve/serve_int.h"
#include "store/blob.h"

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static serve_model_t *cache_models;

void serve__model_label(const serve_model_t *m, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s@%lld", m->ref.m.team, m->ref.m.model, (long long)m->ref.number);
}

static int labels_numeric(const runtime_model_info_t *in)
{
    if (!in->class_labels)
        return 0;
    for (size_t k = 0; k < in->n_classes; k++) {
        const char *s = in->class_labels[k];
        char *end;
        errno = 0;
        strtoll(s, &end, 10);
        if (!*s || *end || errno || s[0] == ' ' || s[0] == '+')
            return 0;
    }
    return 1;
}

static int executable(const char *format)
{
    return !strcmp(format, "xgboost-json") || !strcmp(format, "sklearn-json");
}

/* The features to mask in the prediction log: those named like a PII
 * column of the version's training data (data_model_pii), asked as the
 * server itself. A failed lookup is logged and masks nothing: serving must
 * not stop because a dataset cannot be read. */
static void pii_features(const mops_ctx_t *ctx, serve_model_t *m)
{
    const char *const *names = m->info.feature_names;
    if (!names)
        return;
    mops_ctx_t sys = *ctx;
    sys.who = NULL;
    sys.denial = NULL;
    json_t *pii = NULL;
    mops_err_t err;
    if (data_model_pii(&sys, m->ref.m.team, m->ref.m.model, m->ref.number, &pii, &err) != 0) {
        mops_warn("serve: PII columns of %s/%s@%lld unknown, none masked: %s", m->ref.m.team,
                  m->ref.m.model, (long long)m->ref.number, err.msg);
        return;
    }
    json_t *cols = json_object_get(pii, "columns"), *c;
    for (size_t f = 0; f < m->info.n_features; f++) {
        size_t i;
        json_array_foreach(cols, i, c) {
            if (names[f] && !strcmp(names[f], json_string_value(c))) {
                m->pii = mops_xrealloc(m->pii, (m->n_pii + 1) * sizeof *m->pii);
                m->pii[m->n_pii++] = f;
                break;
            }
        }
    }
    json_decref(pii);
}

void serve__mask_pii(const serve_model_t *m, double *x, size_t n_rows)
{
    for (size_t r = 0; r < n_rows && m->n_pii; r++)
        for (size_t k = 0; k < m->n_pii; k++)
            x[r * m->info.n_features + m->pii[k]] = NAN;
}

/* Load version_id from the blob store after checking its hash. */
static int load(const mops_ctx_t *ctx, int64_t version_id, serve_model_t **out, mops_err_t *err)
{
    serve_model_t *m = mops_xcalloc(1, sizeof *m);
    int rc = registry_version_ref_by_id(ctx, version_id, &m->ref, err);
    if (rc == 0 && !executable(m->ref.format))
        rc = mops_err_set(err, MOPS_EINVAL,
                          "version %s/%s@%lld has format %s, which mops does not serve "
                          "(xgboost-json and sklearn-json do)",
                          m->ref.m.team, m->ref.m.model, (long long)m->ref.number, m->ref.format);
    int fd = -1;
    if (rc == 0)
        rc = store_blob_open(ctx->env->artifact_dir, m->ref.sha256, m->ref.size, &fd, err);
    if (rc == 0) {
        /* Mapped, not named: loader messages then speak of bytes, not paths. */
        void *map = m->ref.size ? mmap(NULL, (size_t)m->ref.size, PROT_READ, MAP_PRIVATE, fd, 0)
                                : MAP_FAILED;
        close(fd);
        if (map == MAP_FAILED) {
            rc = mops_err_set(err, MOPS_EIO, "cannot map the artifact of version %lld: %s",
                              (long long)version_id, strerror(errno));
        } else {
            rc = runtime_model_load_buffer(map, (size_t)m->ref.size, m->ref.format, &m->rt, err);
            munmap(map, (size_t)m->ref.size);
            if (rc != 0)
                mops_err_wrap(err, "cannot load %s/%s@%lld", m->ref.m.team, m->ref.m.model,
                              (long long)m->ref.number);
        }
    }
    if (rc != 0) {
        free(m);
        return rc;
    }
    m->version_id = version_id;
    runtime_model_info(m->rt, &m->info);
    m->labels_numeric = labels_numeric(&m->info);
    pii_features(ctx, m);
    char label[200];
    serve__model_label(m, label, sizeof label);
    mops_info("serve: loaded %s (%zu trees, %zu bytes, %zu PII features masked in the log)",
              label, m->info.n_trees, m->info.memory_bytes, m->n_pii);
    *out = m;
    return 0;
}

serve_model_t *serve__model_take(int64_t version_id, int direct)
{
    serve_model_t *found = NULL;
    pthread_mutex_lock(&cache_lock);
    for (serve_model_t *m = cache_models; m; m = m->next)
        if (m->version_id == version_id) {
            m->users++;
            if (direct) {
                m->direct = 1;
                m->last_used_ms = mops_now_ms();
            }
            found = m;
            break;
        }
    pthread_mutex_unlock(&cache_lock);
    return found;
}

int serve__model_acquire(const mops_ctx_t *ctx, int64_t version_id, int direct,
                         serve_model_t **out, mops_err_t *err)
{
    serve_model_t *m = serve__model_take(version_id, direct);
    if (m) {
        *out = m;
        return 0;
    }
    pthread_mutex_lock(&load_lock);
    int rc = 0;
    if (!(m = serve__model_take(version_id, direct)) && (rc = load(ctx, version_id, &m, err)) == 0) {
        m->users = 1;
        m->direct = direct;
        m->last_used_ms = mops_now_ms();
        pthread_mutex_lock(&cache_lock);
        m->next = cache_models;
        cache_models = m;
        pthread_mutex_unlock(&cache_lock);
    }
    pthread_mutex_unlock(&load_lock);
    if (rc == 0)
        *out = m;
    return rc;
}

static void model_free(serve_model_t *m)
{
    char label[200];
    serve__model_label(m, label, sizeof label);
    mops_info("serve: unloaded %s", label);
    runtime_model_unref(m->rt);
    free(m->pii);
    free(m);
    /* A model is megabytes of small blocks: hand the freed pages back, so
     * that resident memory returns to where it was before the load. */
    malloc_trim(0);
}

/* Unlink m (cache lock held). */
static void unlink_model(serve_model_t *m)
{
    for (serve_model_t **p = &cache_models; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            return;
        }
}

void serve__model_release(serve_model_t *m)
{
    if (!m)
        return;
    int drop = 0;
    pthread_mutex_lock(&cache_lock);
    if (--m->users == 0 && !m->direct) {
        unlink_model(m);
        drop = 1;
    } else if (m->direct) {
        m->last_used_ms = mops_now_ms();
    }
    pthread_mutex_unlock(&cache_lock);
    if (drop)
        model_free(m);
}

void serve__models_evict(int all)
{
    serve_model_t *gone = NULL;
    int64_t now = mops_now_ms();
    pthread_mutex_lock(&cache_lock);
    for (serve_model_t **p = &cache_models; *p;) {
        serve_model_t *m = *p;
        if (m->users == 0 && (all || now - m->last_used_ms > SERVE_DIRECT_IDLE_MS)) {
            *p = m->next;
            m->next = gone;
            gone = m;
        } else {
            p = &m->next;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    while (gone) {
        serve_model_t *next = gone->next;
        model_free(gone);
        gone = next;
    }
}

void serve__models_each(json_t *a)
{
    pthread_mutex_lock(&cache_lock);
    for (serve_model_t *m = cache_models; m; m = m->next)
        json_array_append_new(
            a, json_pack("{s:I, s:I, s:I, s:s, s:s, s:I, s:I}", "version_id",
                         (json_int_t)m->version_id, "team_id", (json_int_t)m->ref.m.team_id,
                         "model_id", (json_int_t)m->ref.m.model_id, "team", m->ref.m.team,
                         "model", m->ref.m.model, "number", (json_int_t)m->ref.number,
                         "memory_bytes", (json_int_t)m->info.memory_bytes));
    pthread_mutex_unlock(&cache_lock);
}

void serve__models_count(size_t *n, size_t *bytes)
{
    *n = *bytes = 0;
    pthread_mutex_lock(&cache_lock);
    for (serve_model_t *m = cache_models; m; m = m->next) {
        (*n)++;
        *bytes += m->info.memory_bytes;
    }
    pthread_mutex_unlock(&cache_lock);
}
