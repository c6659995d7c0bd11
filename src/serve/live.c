/*
 * live.c — the deployments this server has published: their immutable
 * configurations, swapped atomically, and the counters that outlive a
 * revision; and the synchronisation with the store that publishes what
 * another server (or a restart) knows better.
 *
 * A configuration is built from its stored JSON with every model loaded
 * first; publishing swaps one pointer under a write lock. A request takes
 * a reference under the read lock and keeps that configuration (and so its
 * models) until it is done; the last reference frees it and releases its
 * models to the cache, which frees those nobody else uses.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"
#include "serve/serve_int.h"

/* ---------------------------------------------------------------- stats */

serve_stats_t *serve__stats_new(void)
{
    serve_stats_t *s = mops_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->since_ms = mops_now_ms();
    return s;
}

void serve__stats_ref(serve_stats_t *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void serve__stats_unref(serve_stats_t *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        free(s);
}

void serve__stats_latency(serve_stats_t *s, int64_t us)
{
    int b = us > 1 ? (int)(4.0 * log2((double)us)) : 0;
    if (b >= SERVE_LAT_BUCKETS)
        b = SERVE_LAT_BUCKETS - 1;
    atomic_fetch_add_explicit(&s->lat[b], 1, memory_order_relaxed);
}

double serve__stats_quantile(const serve_stats_t *s, double q)
{
    uint64_t total = 0, seen = 0;
    for (int b = 0; b < SERVE_LAT_BUCKETS; b++)
        total += atomic_load_explicit(&s->lat[b], memory_order_relaxed);
    if (!total)
        return 0;
    for (int b = 0; b < SERVE_LAT_BUCKETS; b++) {
        seen += atomic_load_explicit(&s->lat[b], memory_order_relaxed);
        if ((double)seen >= q * (double)total)
            return pow(2.0, (b + 0.5) / 4.0); /* the bucket's geometric middle */
    }
    return pow(2.0, SERVE_LAT_BUCKETS / 4.0);
}

/* -------------------------------------------------------- configurations */

static int target_build(const mops_ctx_t *ctx, const json_t *t, serve_role_t role,
                        serve_target_t *out, mops_err_t *err)
{
    json_int_t vid = json_integer_value(json_object_get(t, "version_id"));
    out->role = role;
    out->weight = (int)json_integer_value(json_object_get(t, "weight"));
    return serve__model_acquire(ctx, vid, 0, &out->model, err);
}

static void config_free(serve_config_t *c)
{
    for (size_t i = 0; i < c->ntargets; i++)
        serve__model_release(c->targets[i].model);
    for (size_t i = 0; i < c->nshadows; i++)
        serve__model_release(c->shadows[i].model);
    free(c->targets);
    free(c->shadows);
    free(c->name);
    free(c->team);
    free(c->sticky_field);
    free(c->sticky_header);
    serve__stats_unref(c->stats);
    free(c);
}

int serve__config_build(const mops_ctx_t *ctx, int64_t deployment_id, const char *name,
                        int64_t team_id, const char *team, int64_t revision,
                        const json_t *config, serve_config_t **out, mops_err_t *err)
{
    serve_config_t *c = mops_xcalloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    c->deployment_id = deployment_id;
    c->team_id = team_id;
    c->revision = revision;
    c->name = mops_xstrdup(name);
    c->team = mops_xstrdup(team);
    c->stats = serve__stats_new();
    json_t *canaries = json_object_get(config, "canaries");
    json_t *shadows = json_object_get(config, "shadows");
    json_t *sticky = json_object_get(config, "sticky");
    c->targets = mops_xcalloc(1 + json_array_size(canaries), sizeof *c->targets);
    c->shadows = mops_xcalloc(json_array_size(shadows) + 1, sizeof *c->shadows);
    if (mops_json_str(sticky, "field", NULL))
        c->sticky_field = mops_xstrdup(mops_json_str(sticky, "field", ""));
    if (mops_json_str(sticky, "header", NULL))
        c->sticky_header = mops_xstrdup(mops_json_str(sticky, "header", ""));
    int rc = target_build(ctx, json_object_get(config, "primary"), SERVE_ROLE_PRIMARY,
                          &c->targets[0], err);
    if (rc == 0)
        c->ntargets = 1;
    size_t i;
    json_t *t;
    int rest = 100;
    json_array_foreach(canaries, i, t) {
        if (rc != 0)
            break;
        if ((rc = target_build(ctx, t, SERVE_ROLE_CANARY, &c->targets[c->ntargets], err)) == 0)
            rest -= c->targets[c->ntargets++].weight;
    }
    json_array_foreach(shadows, i, t) {
        if (rc != 0)
            break;
        if ((rc = target_build(ctx, t, SERVE_ROLE_SHADOW, &c->shadows[c->nshadows], err)) == 0)
            c->nshadows++;
    }
    c->targets[0].weight = rest;
    if (rc != 0) {
        config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void serve__config_ref(serve_config_t *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void serve__config_unref(serve_config_t *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        config_free(c);
}

/* ------------------------------------------------------------ the table */

#define SLOTS 256

typedef struct slot {
    serve_config_t *cfg; /* holds one reference */
    struct slot *next;
} slot_t;

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static slot_t *table[SLOTS];
static uint64_t publications; /* under the write lock */
/* Deployments deleted while this server ran (ids are never reused). */
static int64_t *deleted;
static size_t ndeleted, capdeleted;

static int is_deleted(int64_t id)
{
    for (size_t i = 0; i < ndeleted; i++)
        if (deleted[i] == id)
            return 1;
    return 0;
}

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % SLOTS;
}

serve_config_t *serve__config_get(const char *name)
{
    serve_config_t *c = NULL;
    pthread_rwlock_rdlock(&table_lock);
    for (slot_t *s = table[name_hash(name)]; s; s = s->next)
        if (!strcmp(s->cfg->name, name)) {
            c = s->cfg;
            serve__config_ref(c);
            break;
        }
    pthread_rwlock_unlock(&table_lock);
    return c;
}

void serve__publish(serve_config_t *c)
{
    serve_config_t *old = NULL;
    pthread_rwlock_wrlock(&table_lock);
    slot_t **head = &table[name_hash(c->name)], *s = *head;
    while (s && strcmp(s->cfg->name, c->name) != 0)
        s = s->next;
    c->published = ++publications;
    if (is_deleted(c->deployment_id)) {
        old = c; /* read before its deletion: never again */
        c = NULL;
    } else if (!s) {
        s = mops_xcalloc(1, sizeof *s);
        s->next = *head;
        *head = s;
    } else if (s->cfg->deployment_id == c->deployment_id && s->cfg->revision >= c->revision) {
        old = c; /* a newer one is already there (two changes raced) */
        c = NULL;
    } else {
        old = s->cfg;
        if (old->deployment_id == c->deployment_id) {
            /* Same deployment, new revision: its counters go on. */
            serve__stats_unref(c->stats);
            c->stats = old->stats;
            serve__stats_ref(c->stats);
        }
    }
    if (c)
        s->cfg = c;
    pthread_rwlock_unlock(&table_lock);
    if (c)
        mops_info("serve: deployment %s at revision %lld", c->name, (long long)c->revision);
    serve__config_unref(old);
}

void serve__unpublish(int64_t deployment_id, int gone)
{
    serve_config_t *old = NULL;
    pthread_rwlock_wrlock(&table_lock);
    if (gone && !is_deleted(deployment_id)) {
        if (ndeleted == capdeleted)
            deleted = mops_xrealloc(deleted, (capdeleted = capdeleted ? 2 * capdeleted : 16) *
                                                 sizeof *deleted);
        deleted[ndeleted++] = deployment_id;
    }
    for (int b = 0; b < SLOTS && !old; b++)
        for (slot_t **p = &table[b]; *p; p = &(*p)->next)
            if ((*p)->cfg->deployment_id == deployment_id) {
                slot_t *s = *p;
                *p = s->next;
                old = s->cfg;
                free(s);
                break;
            }
    pthread_rwlock_unlock(&table_lock);
    if (old) {
        mops_info("serve: deployment %s withdrawn", old->name);
        serve__config_unref(old);
    }
}

serve_config_t **serve__configs_all(size_t *n)
{
    pthread_rwlock_rdlock(&table_lock);
    size_t k = 0;
    for (int b = 0; b < SLOTS; b++)
        for (slot_t *s = table[b]; s; s = s->next)
            k++;
    serve_config_t **all = mops_xcalloc(k + 1, sizeof *all);
    k = 0;
    for (int b = 0; b < SLOTS; b++)
        for (slot_t *s = table[b]; s; s = s->next) {
            serve__config_ref(s->cfg);
            all[k++] = s->cfg;
        }
    pthread_rwlock_unlock(&table_lock);
    *n = k;
    return all;
}

void serve__unpublish_all(void)
{
    size_t n;
    serve_config_t **all = serve__configs_all(&n);
    for (size_t i = 0; i < n; i++) {
        serve__unpublish(all[i]->deployment_id, 0);
        serve__config_unref(all[i]);
    }
    free(all);
    pthread_rwlock_wrlock(&table_lock);
    free(deleted);
    deleted = NULL;
    ndeleted = capdeleted = 0;
    pthread_rwlock_unlock(&table_lock);
}

/* -------------------------------------------------------------- syncing */

/* Publish the stored row the cursor is on, when this server lacks it. */
static int sync_row(const mops_ctx_t *ctx, store_stmt_t *s, mops_err_t *err)
{
    int64_t id = store_col_int(s, 0), revision = store_col_int(s, 3);
    const char *name = store_col_text(s, 1);
    serve_config_t *have = serve__config_get(name);
    int current = have && have->deployment_id == id && have->revision >= revision;
    serve__config_unref(have);
    if (current)
        return 0;
    json_t *config = json_loads(store_col_text(s, 5), 0, NULL);
    if (!config)
        return mops_err_set(err, MOPS_ECORRUPT, "deployment %s has an unreadable configuration",
                            name);
    serve_config_t *c;
    int rc = serve__config_build(ctx, id, name, store_col_int(s, 2), store_col_text(s, 4),
                                 revision, config, &c, err);
    json_decref(config);
    if (rc == 0)
        serve__publish(c);
    return rc;
}

int serve__sync(const mops_ctx_t *ctx, const char *name, int *found, mops_err_t *err)
{
    /* What is published after the store is read may be newer than what
     * was read: it is left alone. */
    pthread_rwlock_rdlock(&table_lock);
    uint64_t before = publications;
    pthread_rwlock_unlock(&table_lock);
    store_sql_t q;
    store_sql_init(&q, "SELECT d.id, d.name, d.team_id, d.revision, t.name, d.config "
                       "FROM deployments d JOIN teams t ON t.id = d.team_id "
                       "WHERE d.deleted_at IS NULL");
    if (name)
        store_sql_add(&q, " AND d.name = ?", "t", name);
    store_sql_add(&q, " ORDER BY d.id", NULL);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    /* Rows are published one by one (loading models may take a while);
     * the ids seen decide what was deleted. */
    size_t nids = 0, cap = 16;
    int64_t *ids = mops_xmalloc(cap * sizeof *ids);
    int first_rc = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (nids == cap)
            ids = mops_xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[nids++] = store_col_int(s, 0);
        mops_err_t one;
        int r = sync_row(ctx, s, &one);
        if (r != 0) {
            mops_error("serve: deployment %s: %s", store_col_text(s, 1), one.msg);
            if (!first_rc) {
                first_rc = r;
                if (err)
                    *err = one;
            }
        }
    }
    store_finalize(s);
    if (rc < 0) {
        free(ids);
        return rc;
    }
    size_t n;
    serve_config_t **all = serve__configs_all(&n);
    for (size_t i = 0; i < n; i++) {
        int keep = (name && strcmp(all[i]->name, name) != 0) || all[i]->published > before;
        for (size_t k = 0; k < nids && !keep; k++)
            keep = ids[k] == all[i]->deployment_id;
        if (!keep)
            serve__unpublish(all[i]->deployment_id, 1);
        serve__config_unref(all[i]);
    }
    free(all);
    if (found)
        *found = nids > 0;
    free(ids);
    return first_rc;
}
