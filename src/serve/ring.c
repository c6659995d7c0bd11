/*
 * ring.c — a bounded queue of variable-size entries in one block of memory,
 * for many producers (request threads) and one consumer (a low-priority
 * worker: the prediction log writer, a shadow worker).
 *
 * Producers reserve space under a mutex they share only among themselves,
 * fill it outside it, and commit it with an atomic store. The consumer
 * takes no lock at all: it reads the producers' position atomically and
 * moves its own. So a consumer running at low priority can never hold up a
 * request thread (no priority inversion on a shared lock, no memory freed
 * across threads), and a full ring refuses at once instead of waiting.
 *
 * The memory is touched when the ring is made, so the process's resident
 * size does not creep up as entries first reach each page.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

#define ALIGN 16

enum { E_RESERVED = 0, E_COMMITTED = 1, E_WRAP = 2 };

typedef struct entry {
    uint32_t size;          /* bytes of the entry, header included, ALIGN-rounded */
    _Atomic uint32_t state; /* E_* */
    uint64_t pad;
} entry_t;

struct serve_ring {
    unsigned char *mem;
    size_t cap;                  /* a multiple of ALIGN */
    pthread_mutex_t lock;        /* producers only */
    _Atomic uint64_t head;       /* next byte producers write (only grows) */
    _Atomic uint64_t tail;       /* next byte the consumer reads (only grows) */
};

serve_ring_t *serve__ring_new(size_t bytes)
{
    serve_ring_t *r = mops_xcalloc(1, sizeof *r);
    r->cap = bytes / ALIGN * ALIGN;
    if (r->cap < 4 * ALIGN)
        r->cap = 4 * ALIGN;
    r->mem = mops_xmalloc(r->cap);
    memset(r->mem, 0, r->cap);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void serve__ring_free(serve_ring_t *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->mem);
    free(r);
}

size_t serve__ring_used(serve_ring_t *r)
{
    return (size_t)(atomic_load(&r->head) - atomic_load(&r->tail));
}

size_t serve__ring_capacity(const serve_ring_t *r)
{
    return r->cap;
}

void *serve__ring_reserve(serve_ring_t *r, size_t n)
{
    size_t need = (sizeof(entry_t) + n + ALIGN - 1) / ALIGN * ALIGN;
    if (need > r->cap / 2)
        return NULL; /* never more than half: a wrap must always fit */
    void *out = NULL;
    pthread_mutex_lock(&r->lock);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t free_bytes = r->cap - (size_t)(head - tail);
    size_t at = (size_t)(head % r->cap);
    size_t pad = at + need > r->cap ? r->cap - at : 0;
    if (pad + need <= free_bytes) {
        if (pad) {
            /* The rest of the block is skipped; the entry starts at 0. */
            entry_t *w = (entry_t *)(r->mem + at);
            w->size = (uint32_t)pad;
            atomic_store_explicit(&w->state, E_WRAP, memory_order_relaxed);
            head += pad;
            at = 0;
        }
        entry_t *e = (entry_t *)(r->mem + at);
        e->size = (uint32_t)need;
        atomic_store_explicit(&e->state, E_RESERVED, memory_order_relaxed);
        atomic_store_explicit(&r->head, head + need, memory_order_release);
        out = e + 1;
    }
    pthread_mutex_unlock(&r->lock);
    return out;
}

void serve__ring_commit(serve_ring_t *r, void *p)
{
    (void)r;
    entry_t *e = (entry_t *)p - 1;
    atomic_store_explicit(&e->state, E_COMMITTED, memory_order_release);
}

void *serve__ring_peek(serve_ring_t *r)
{
    for (;;) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (tail == atomic_load_explicit(&r->head, memory_order_acquire))
            return NULL;
        entry_t *e = (entry_t *)(r->mem + tail % r->cap);
        uint32_t state = atomic_load_explicit(&e->state, memory_order_acquire);
        if (state == E_RESERVED)
            return NULL; /* being filled: it comes next time */
        if (state == E_WRAP) {
            atomic_store_explicit(&r->tail, tail + e->size, memory_order_release);
            continue;
        }
        return e + 1;
    }
}

void serve__ring_pop(serve_ring_t *r)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    entry_t *e = (entry_t *)(r->mem + tail % r->cap);
    atomic_store_explicit(&r->tail, tail + e->size, memory_order_release);
}
