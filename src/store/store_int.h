/*
 * store_int.h — private to store/: the backend operations table and the
 * structs each backend extends. Domain modules include store.h only.
 */
#ifndef MOPS_STORE_INT_H
#define MOPS_STORE_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "store/store.h"

typedef struct store_ops {
    const char *name;
    /* Open a new connection for the pool. */
    int (*conn_open)(store_t *st, store_conn_t **out, mops_err_t *err);
    void (*conn_close)(store_conn_t *c);
    /* Execute a statement with no parameters and no rows (BEGIN, DDL). */
    int (*exec_raw)(store_conn_t *c, const char *sql, mops_err_t *err);
    const char *begin_sql;        /* how a write transaction starts */
    const char *append_begin_sql; /* ... one that only appends (store_begin_append) */
    int (*prepare)(store_conn_t *c, const char *sql, store_stmt_t **out, mops_err_t *err);
    int (*bind_int)(store_stmt_t *s, int idx, int64_t v);
    int (*bind_text)(store_stmt_t *s, int idx, const char *v);
    int (*bind_double)(store_stmt_t *s, int idx, double v);
    int (*bind_null)(store_stmt_t *s, int idx);
    int (*bind_blob)(store_stmt_t *s, int idx, const void *p, size_t n);
    int (*step)(store_stmt_t *s, mops_err_t *err);
    /* Ready a statement to run again with new bindings (NULL: not kept). */
    int (*reset)(store_stmt_t *s);
    int64_t (*changes)(store_stmt_t *s);
    int (*col_is_null)(store_stmt_t *s, int col);
    int64_t (*col_int)(store_stmt_t *s, int col);
    double (*col_double)(store_stmt_t *s, int col);
    const char *(*col_text)(store_stmt_t *s, int col);
    const void *(*col_blob)(store_stmt_t *s, int col, size_t *len);
    void (*finalize)(store_stmt_t *s);
    /* Text that replaces each dialect marker in migrations. */
    const char *id_type, *blob_type;
    void (*destroy)(store_t *st);
} store_ops_t;

struct store {
    const store_ops_t *ops;
    store_kind_t kind;
    char *uri;
    pthread_mutex_t lock;
    store_conn_t *idle; /* pool of idle connections */
    atomic_int writers_waiting;
    void *backend;      /* backend-private state */
};

struct store_conn {
    store_t *st;
    store_conn_t *next_idle;
    int in_tx;
};

struct store_stmt {
    store_conn_t *conn;
};

int store_sqlite_open(const char *path, store_t *st, mops_err_t *err);
int store_pg_open(const char *uri, store_t *st, mops_err_t *err);

/* The numbered migrations, in order. */
typedef struct store_migration {
    int number;
    const char *name;
    const char *sql; /* statements separated by ";\n" */
} store_migration_t;

extern const store_migration_t store_migrations[];
extern const int store_migration_count;

#endif
