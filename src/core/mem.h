/*
 * mem.h — allocation policy and the request arena.
 *
 * Out of memory is fatal, as in Redis: mops_xmalloc and friends print a
 * message and abort rather than return NULL, so callers never check. Code
 * that must survive a huge allocation request (a size read from untrusted
 * input) checks the size against a limit before asking.
 *
 * An arena (nginx's pool) hands out memory that lives until the arena is
 * freed: one per HTTP request or CLI command, so request-scoped strings and
 * structs are never freed one by one.
 */
#ifndef MOPS_CORE_MEM_H
#define MOPS_CORE_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *mops_xmalloc(size_t n);
void *mops_xcalloc(size_t count, size_t size);
void *mops_xrealloc(void *p, size_t n);
char *mops_xstrdup(const char *s);
char *mops_xstrndup(const char *s, size_t n);
/* printf into a new heap string; caller frees. */
char *mops_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct mops_arena mops_arena_t;

/* A new empty arena; free it with mops_arena_free. */
mops_arena_t *mops_arena_new(void);
/* Free every block the arena handed out, and the arena. NULL is a no-op. */
void mops_arena_free(mops_arena_t *a);
/* n bytes aligned for any type, zeroed; valid until the arena is freed. */
void *mops_arena_alloc(mops_arena_t *a, size_t n);
/* Arena copies of strings (NULL in gives NULL out). */
char *mops_arena_strdup(mops_arena_t *a, const char *s);
char *mops_arena_strndup(mops_arena_t *a, const char *s, size_t n);
char *mops_arena_printf(mops_arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *mops_arena_vprintf(mops_arena_t *a, const char *fmt, va_list ap);

/* A growable byte buffer, always NUL-terminated (git's strbuf). The struct
 * is the caller's; mops_buf_release frees the contents only. */
typedef struct mops_buf {
    char *data;
    size_t len;
    size_t cap;
} mops_buf_t;

#define MOPS_BUF_INIT {NULL, 0, 0}

void mops_buf_append(mops_buf_t *b, const void *p, size_t n);
void mops_buf_puts(mops_buf_t *b, const char *s);
void mops_buf_putc(mops_buf_t *b, char c);
void mops_buf_printf(mops_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An integer in decimal, without printf's cost (hot paths). */
void mops_buf_int(mops_buf_t *b, long long v);
void mops_buf_reset(mops_buf_t *b);
void mops_buf_release(mops_buf_t *b);
/* The contents as a heap string the caller owns; b is left empty. */
char *mops_buf_detach(mops_buf_t *b);

#endif
