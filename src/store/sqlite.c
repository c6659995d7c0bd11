/*
 * sqlite.c — the embedded SQLite backend of the store.
 *
 * One sqlite3 handle per pooled connection (opened NOMUTEX: the pool gives a
 * connection to one thread at a time). WAL lets readers run beside the one
 * writer; BEGIN IMMEDIATE takes the write lock up front so a transaction
 * never fails half-way on a lock upgrade; synchronous=FULL makes every
 * acknowledged commit survive a crash of the process or the machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "store/store_int.h"

#define BUSY_TIMEOUT_MS 30000

typedef struct {
    store_conn_t base;
    sqlite3 *db;
} sqlite_conn_t;

typedef struct {
    store_stmt_t base;
    sqlite3_stmt *st;
    int64_t changes;
} sqlite_stmt_t;

typedef struct {
    char *path;
} sqlite_backend_t;

static int map_error(sqlite3 *db, int rc, mops_err_t *err)
{
    const char *msg = sqlite3_errmsg(db);
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
            rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return mops_err_set(err, MOPS_ECONFLICT, "%s", msg);
        return mops_err_set(err, MOPS_EINVAL, "%s", msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return mops_err_set(err, MOPS_EUNAVAIL, "the database is busy; try again (%s)", msg);
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        return mops_err_set(err, MOPS_EIO, "database I/O error: %s", msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return mops_err_set(err, MOPS_ECORRUPT, "the database file is corrupt: %s", msg);
    default:
        return mops_err_set(err, MOPS_EINTERNAL, "database error: %s", msg);
    }
}

static int sq_exec_raw(store_conn_t *c, const char *sql, mops_err_t *err)
{
    sqlite3 *db = ((sqlite_conn_t *)c)->db;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : map_error(db, sqlite3_extended_errcode(db), err);
}

static int sq_conn_open(store_t *st, store_conn_t **out, mops_err_t *err)
{
    sqlite_backend_t *b = st->backend;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(b->path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        mops_err_set(err, MOPS_EIO, "cannot open database '%s': %s", b->path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return MOPS_EIO;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite_conn_t *c = mops_xcalloc(1, sizeof *c);
    c->db = db;
    c->base.st = st;
    rc = sq_exec_raw(&c->base,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                     "PRAGMA foreign_keys=ON;",
                     err);
    if (rc != 0) {
        mops_err_wrap(err, "cannot configure database '%s'", b->path);
        sqlite3_close(db);
        free(c);
        return rc;
    }
    *out = &c->base;
    return 0;
}

static void sq_conn_close(store_conn_t *c)
{
    sqlite3_close(((sqlite_conn_t *)c)->db);
    free(c);
}

static int sq_prepare(store_conn_t *c, const char *sql, store_stmt_t **out, mops_err_t *err)
{
    sqlite3 *db = ((sqlite_conn_t *)c)->db;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return mops_err_set(err, MOPS_EINTERNAL, "cannot prepare SQL (%s): %s", sqlite3_errmsg(db),
                            sql);
    sqlite_stmt_t *s = mops_xcalloc(1, sizeof *s);
    s->st = st;
    *out = &s->base;
    return 0;
}

#define ST(s) (((sqlite_stmt_t *)(s))->st)

static int sq_bind_int(store_stmt_t *s, int i, int64_t v)
{
    return sqlite3_bind_int64(ST(s), i, v) == SQLITE_OK ? 0 : -1;
}

static int sq_bind_text(store_stmt_t *s, int i, const char *v)
{
    return sqlite3_bind_text(ST(s), i, v, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
}

static int sq_bind_double(store_stmt_t *s, int i, double v)
{
    return sqlite3_bind_double(ST(s), i, v) == SQLITE_OK ? 0 : -1;
}

static int sq_bind_null(store_stmt_t *s, int i)
{
    return sqlite3_bind_null(ST(s), i) == SQLITE_OK ? 0 : -1;
}

static int sq_bind_blob(store_stmt_t *s, int i, const void *p, size_t n)
{
    return sqlite3_bind_blob64(ST(s), i, p, n, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
}

static int sq_step(store_stmt_t *s, mops_err_t *err)
{
    sqlite_stmt_t *ss = (sqlite_stmt_t *)s;
    int rc = sqlite3_step(ss->st);
    if (rc == SQLITE_ROW)
        return STORE_ROW;
    sqlite3 *db = sqlite3_db_handle(ss->st);
    if (rc == SQLITE_DONE) {
        ss->changes = sqlite3_changes64(db);
        return STORE_DONE;
    }
    return map_error(db, sqlite3_extended_errcode(db), err);
}

static int sq_reset(store_stmt_t *s)
{
    sqlite3_reset(ST(s)); /* returns the last step's error, already reported */
    return sqlite3_clear_bindings(ST(s)) == SQLITE_OK ? 0 : -1;
}

static int64_t sq_changes(store_stmt_t *s)
{
    return ((sqlite_stmt_t *)s)->changes;
}

static int sq_col_is_null(store_stmt_t *s, int col)
{
    return sqlite3_column_type(ST(s), col) == SQLITE_NULL;
}

static int64_t sq_col_int(store_stmt_t *s, int col)
{
    return sqlite3_column_int64(ST(s), col);
}

static double sq_col_double(store_stmt_t *s, int col)
{
    return sqlite3_column_double(ST(s), col);
}

static const char *sq_col_text(store_stmt_t *s, int col)
{
    return (const char *)sqlite3_column_text(ST(s), col);
}

static const void *sq_col_blob(store_stmt_t *s, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(ST(s), col);
    *len = (size_t)sqlite3_column_bytes(ST(s), col);
    return p;
}

static void sq_finalize(store_stmt_t *s)
{
    sqlite3_finalize(ST(s));
    free(s);
}

static void sq_destroy(store_t *st)
{
    sqlite_backend_t *b = st->backend;
    free(b->path);
    free(b);
}

static const store_ops_t sqlite_ops = {
    .name = "sqlite",
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .exec_raw = sq_exec_raw,
    .begin_sql = "BEGIN IMMEDIATE",
    .append_begin_sql = "BEGIN IMMEDIATE",
    .prepare = sq_prepare,
    .bind_int = sq_bind_int,
    .bind_text = sq_bind_text,
    .bind_double = sq_bind_double,
    .bind_null = sq_bind_null,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .reset = sq_reset,
    .changes = sq_changes,
    .col_is_null = sq_col_is_null,
    .col_int = sq_col_int,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .finalize = sq_finalize,
    .id_type = "INTEGER PRIMARY KEY AUTOINCREMENT",
    .blob_type = "BLOB",
    .destroy = sq_destroy,
};

int store_sqlite_open(const char *path, store_t *st, mops_err_t *err)
{
    if (!*path)
        return mops_err_set(err, MOPS_EINVAL, "the SQLite database path is empty");
    /* Create the file ourselves so it is private (it holds token hashes);
     * SQLite gives its -wal and -shm files the same mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return mops_err_set(err, MOPS_EIO, "cannot open database '%s': %s", path, strerror(errno));
    close(fd);
    sqlite_backend_t *b = mops_xcalloc(1, sizeof *b);
    b->path = mops_xstrdup(path);
    st->ops = &sqlite_ops;
    st->backend = b;
    return 0;
}
