/*
 * cache.c — the principal cache: recent authentications by token hash, so
 * that hot endpoints (inference) need no database round trip per request.
 *
 * A fixed table of slots indexed by the token hash, one mutex, entries
 * that expire after AUTH_CACHE_TTL_MS (or at the token's own expiry, if
 * sooner). Writes that change who may do what (revoking a token, changing
 * a user or a membership) flush the table and bump a generation counter;
 * an authentication that read the database before a flush does not put
 * its (possibly stale) result in afterwards. Another server's changes
 * reach this one when the entries expire.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "core/crypto.h"
#include "core/time.h"

#define CACHE_SLOTS 1024

typedef struct slot {
    char hash[MOPS_SHA256_HEX];
    int64_t until_ms;
    auth_principal_t *p; /* heap copy, strings included (one block each) */
} slot_t;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t cache[CACHE_SLOTS];
static unsigned cache_gen;

/* Heap or arena copies of a principal: alloc is one of the two. */
typedef void *(*alloc_fn)(void *arg, size_t n);

static void *heap_alloc(void *arg, size_t n)
{
    (void)arg;
    return mops_xcalloc(1, n);
}

static void *arena_alloc(void *arg, size_t n)
{
    return mops_arena_alloc(arg, n);
}

static char *copy_str(alloc_fn alloc, void *arg, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = alloc(arg, n);
    memcpy(d, s, n);
    return d;
}

/* Every piece of the copy comes from alloc; for the heap, free_principal
 * releases them. */
static auth_principal_t *copy_principal(const auth_principal_t *p, alloc_fn alloc, void *arg)
{
    auth_principal_t *c = alloc(arg, sizeof *c);
    *c = *p;
    c->user = copy_str(alloc, arg, p->user);
    c->teams = p->nteams ? alloc(arg, p->nteams * sizeof *c->teams) : NULL;
    for (size_t i = 0; i < p->nteams; i++) {
        c->teams[i] = p->teams[i];
        c->teams[i].team = copy_str(alloc, arg, p->teams[i].team);
    }
    c->infer_only = p->n_infer_only ? alloc(arg, p->n_infer_only * sizeof *c->infer_only) : NULL;
    for (size_t i = 0; i < p->n_infer_only; i++)
        c->infer_only[i] = copy_str(alloc, arg, p->infer_only[i]);
    return c;
}

static void free_principal(auth_principal_t *p)
{
    if (!p)
        return;
    free((char *)p->user);
    for (size_t i = 0; i < p->nteams; i++)
        free((char *)p->teams[i].team);
    free(p->teams);
    for (size_t i = 0; i < p->n_infer_only; i++)
        free((char *)p->infer_only[i]);
    free(p->infer_only);
    free(p);
}

static unsigned slot_of(const char *hash)
{
    /* The hash is uniformly random hex: its first digits index well. */
    unsigned v = 0;
    for (int i = 0; i < 6; i++)
        v = v * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return v % CACHE_SLOTS;
}

unsigned auth_cache_generation(void)
{
    pthread_mutex_lock(&cache_lock);
    unsigned g = cache_gen;
    pthread_mutex_unlock(&cache_lock);
    return g;
}

void auth_cache_put(const char *hash, const auth_principal_t *p, int64_t until_ms, unsigned gen)
{
    auth_principal_t *copy = copy_principal(p, heap_alloc, NULL);
    auth_principal_t *old = NULL;
    pthread_mutex_lock(&cache_lock);
    if (gen == cache_gen) {
        slot_t *s = &cache[slot_of(hash)];
        old = s->p;
        memcpy(s->hash, hash, MOPS_SHA256_HEX);
        s->until_ms = until_ms;
        s->p = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
    free_principal(old);
    free_principal(copy);
}

int auth_cache_lookup(const char *token, mops_arena_t *arena, auth_principal_t **out)
{
    if (!token || strlen(token) != AUTH_TOKEN_LEN)
        return 0;
    char hash[MOPS_SHA256_HEX];
    mops_sha256_hex(token, AUTH_TOKEN_LEN, hash);
    int64_t now = mops_now_ms();
    int hit = 0;
    pthread_mutex_lock(&cache_lock);
    slot_t *s = &cache[slot_of(hash)];
    if (s->p && s->until_ms > now && !memcmp(s->hash, hash, MOPS_SHA256_HEX)) {
        *out = copy_principal(s->p, arena_alloc, arena);
        hit = 1;
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

void auth_cache_flush(void)
{
    auth_principal_t *drop[CACHE_SLOTS];
    size_t n = 0;
    pthread_mutex_lock(&cache_lock);
    cache_gen++;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].p) {
            drop[n++] = cache[i].p;
            cache[i].p = NULL;
        }
    pthread_mutex_unlock(&cache_lock);
    for (size_t i = 0; i < n; i++)
        free_principal(drop[i]);
}
