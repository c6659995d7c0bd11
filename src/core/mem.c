/*
 * mem.c — fatal-on-OOM allocators, the bump arena and the growable buffer.
 */
#include "core/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "mops: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mops_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *mops_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *mops_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *mops_xstrdup(const char *s)
{
    return mops_xstrndup(s, strlen(s));
}

char *mops_xstrndup(const char *s, size_t n)
{
    char *p = mops_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mops_xasprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = mops_xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

/* ---------------------------------------------------------------- arena */

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} arena_block_t;

struct mops_arena {
    arena_block_t *head;
};

mops_arena_t *mops_arena_new(void)
{
    return mops_xcalloc(1, sizeof(mops_arena_t));
}

void mops_arena_free(mops_arena_t *a)
{
    if (!a)
        return;
    arena_block_t *b = a->head;
    while (b) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *mops_arena_alloc(mops_arena_t *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n)
        oom(n);
    arena_block_t *b = a->head;
    if (!b || b->cap - b->used < need) {
        /* Big requests get a block of their own, placed behind the current
         * one so the current block's free space is not wasted. */
        size_t cap = need > ARENA_BLOCK / 2 ? need : ARENA_BLOCK;
        arena_block_t *nb = mops_xmalloc(sizeof *nb + cap);
        nb->used = 0;
        nb->cap = cap;
        if (b && cap != ARENA_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

char *mops_arena_strndup(mops_arena_t *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = mops_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mops_arena_strdup(mops_arena_t *a, const char *s)
{
    return s ? mops_arena_strndup(a, s, strlen(s)) : NULL;
}

char *mops_arena_vprintf(mops_arena_t *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *p = mops_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

char *mops_arena_printf(mops_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = mops_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

/* ---------------------------------------------------------------- buffer */

static void buf_grow(mops_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            oom(b->len + extra + 1);
        cap *= 2;
    }
    b->data = mops_xrealloc(b->data, cap);
    b->cap = cap;
}

void mops_buf_append(mops_buf_t *b, const void *p, size_t n)
{
    buf_grow(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mops_buf_puts(mops_buf_t *b, const char *s)
{
    mops_buf_append(b, s, strlen(s));
}

void mops_buf_putc(mops_buf_t *b, char c)
{
    mops_buf_append(b, &c, 1);
}

void mops_buf_printf(mops_buf_t *b, const char *fmt, ...)
{
    /* Format once into the room there is; only a line that does not fit
     * is formatted again, after growing. */
    if (b->cap < b->len + 64)
        buf_grow(b, 64);
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n >= b->cap - b->len) {
        buf_grow(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    if (n > 0)
        b->len += (size_t)n;
    else
        b->data[b->len] = '\0';
}

void mops_buf_int(mops_buf_t *b, long long v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    mops_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

void mops_buf_reset(mops_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void mops_buf_release(mops_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *mops_buf_detach(mops_buf_t *b)
{
    char *p = b->data ? b->data : mops_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
