/*
 * store.c — backend-independent half of the store: opening by URI, the
 * connection pool, transactions, typed parameter binding, and numbered
 * migrations. Each backend (sqlite.c, pg.c) fills a store_ops_t.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/time.h"
#include "store/store_int.h"

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

int store_open(const char *uri, store_t **out, mops_err_t *err)
{
    store_t *st = mops_xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    st->uri = mops_xstrdup(uri);
    int rc;
    if (has_prefix(uri, "postgres://") || has_prefix(uri, "postgresql://")) {
        st->kind = STORE_POSTGRES;
        rc = store_pg_open(uri, st, err);
    } else {
        st->kind = STORE_SQLITE;
        rc = store_sqlite_open(has_prefix(uri, "sqlite:") ? uri + 7 : uri, st, err);
    }
    if (rc != 0) {
        pthread_mutex_destroy(&st->lock);
        free(st->uri);
        free(st);
        return rc;
    }
    /* Open one connection now so a bad URI fails at start-up, not on the
     * first request. */
    store_conn_t *c;
    if ((rc = store_conn_acquire(st, &c, err)) != 0) {
        store_close(st);
        return rc;
    }
    store_conn_release(c);
    *out = st;
    return 0;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    store_conn_t *c = st->idle;
    while (c) {
        store_conn_t *next = c->next_idle;
        st->ops->conn_close(c);
        c = next;
    }
    if (st->ops->destroy)
        st->ops->destroy(st);
    pthread_mutex_destroy(&st->lock);
    free(st->uri);
    free(st);
}

store_kind_t store_kind(const store_t *st)
{
    return st->kind;
}

int store_conn_acquire(store_t *st, store_conn_t **out, mops_err_t *err)
{
    pthread_mutex_lock(&st->lock);
    store_conn_t *c = st->idle;
    if (c)
        st->idle = c->next_idle;
    pthread_mutex_unlock(&st->lock);
    if (!c) {
        int rc = st->ops->conn_open(st, &c, err);
        if (rc != 0)
            return rc;
        c->st = st;
    }
    c->next_idle = NULL;
    *out = c;
    return 0;
}

void store_conn_release(store_conn_t *c)
{
    if (!c)
        return;
    store_rollback(c);
    store_t *st = c->st;
    pthread_mutex_lock(&st->lock);
    c->next_idle = st->idle;
    st->idle = c;
    pthread_mutex_unlock(&st->lock);
}

/* ------------------------------------------------------------ transactions */

static int begin_with(store_conn_t *c, const char *sql, mops_err_t *err)
{
    if (c->in_tx)
        return mops_err_set(err, MOPS_EINTERNAL, "store: transaction already open");
    int rc = c->st->ops->exec_raw(c, sql, err);
    if (rc == 0)
        c->in_tx = 1;
    return rc;
}

int store_begin(store_conn_t *c, mops_err_t *err)
{
    atomic_fetch_add(&c->st->writers_waiting, 1);
    int rc = begin_with(c, c->st->ops->begin_sql, err);
    atomic_fetch_sub(&c->st->writers_waiting, 1);
    return rc;
}

int store_begin_append(store_conn_t *c, mops_err_t *err)
{
    return begin_with(c, c->st->ops->append_begin_sql, err);
}

int store_writers_waiting(const store_t *st)
{
    return atomic_load(&st->writers_waiting);
}

int store_commit(store_conn_t *c, mops_err_t *err)
{
    if (!c->in_tx)
        return mops_err_set(err, MOPS_EINTERNAL, "store: commit without a transaction");
    int rc = c->st->ops->exec_raw(c, "COMMIT", err);
    if (rc != 0) {
        store_rollback(c);
        return rc;
    }
    c->in_tx = 0;
    return 0;
}

void store_rollback(store_conn_t *c)
{
    if (!c->in_tx)
        return;
    c->st->ops->exec_raw(c, "ROLLBACK", NULL);
    c->in_tx = 0;
}

int store_in_tx(const store_conn_t *c)
{
    return c->in_tx;
}

int store_end(store_conn_t *c, int rc, mops_err_t *err)
{
    if (rc == 0)
        rc = store_commit(c, err);
    store_rollback(c);
    return rc;
}

/* ---------------------------------------------------------------- queries */

static int bind_one(store_stmt_t *s, int idx, const store_arg_t *a, mops_err_t *err)
{
    const store_ops_t *ops = s->conn->st->ops;
    int rc;
    switch (a->type) {
    case 'i': rc = ops->bind_int(s, idx, a->i); break;
    case 'I': rc = a->i ? ops->bind_int(s, idx, a->i) : ops->bind_null(s, idx); break;
    case 'd': rc = ops->bind_double(s, idx, a->d); break;
    case 'n': rc = ops->bind_null(s, idx); break;
    case 't': rc = a->t ? ops->bind_text(s, idx, a->t) : ops->bind_null(s, idx); break;
    default: return mops_err_set(err, MOPS_EINTERNAL, "store: bad bind type '%c'", a->type);
    }
    if (rc != 0)
        return mops_err_set(err, MOPS_EINTERNAL, "store: cannot bind parameter %d", idx);
    return 0;
}

/* Read one argument of the given type letter from ap. Blobs ('b') are
 * bound directly by bind_args and never reach here. */
static store_arg_t arg_from(char type, va_list *ap)
{
    store_arg_t a = {.type = type};
    switch (type) {
    case 'i':
    case 'I': a.i = va_arg(*ap, int64_t); break;
    case 'd': a.d = va_arg(*ap, double); break;
    case 't': a.t = va_arg(*ap, const char *); break;
    default: break;
    }
    return a;
}

static int bind_args(store_stmt_t *s, const char *types, va_list ap, mops_err_t *err)
{
    va_list cp;
    va_copy(cp, ap);
    int idx = 1, rc = 0;
    for (const char *t = types ? types : ""; *t && rc == 0; t++, idx++) {
        if (*t == 'b') {
            const void *p = va_arg(cp, const void *);
            size_t n = va_arg(cp, size_t);
            if (s->conn->st->ops->bind_blob(s, idx, p, n) != 0)
                rc = mops_err_set(err, MOPS_EINTERNAL, "store: cannot bind parameter %d", idx);
            continue;
        }
        store_arg_t a = arg_from(*t, &cp);
        rc = bind_one(s, idx, &a, err);
    }
    va_end(cp);
    return rc;
}

/* Number of `?` placeholders outside quoted literals. */
static int count_placeholders(const char *sql)
{
    int n = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote)
            quote = *p == quote ? 0 : quote;
        else if (*p == '\'' || *p == '"')
            quote = *p;
        else if (*p == '?')
            n++;
    }
    return n;
}

static int query_v(store_conn_t *c, store_stmt_t **out, mops_err_t *err, const char *sql,
                   const char *types, va_list ap)
{
    /* The type string is the only description of the varargs: a count that
     * disagrees with the SQL is a bug worth stopping at once. */
    int want = count_placeholders(sql), have = types ? (int)strlen(types) : 0;
    if (want != have)
        return mops_err_set(err, MOPS_EINTERNAL,
                            "store: %d placeholders but %d bind types in: %.200s", want, have, sql);
    store_stmt_t *s;
    int rc = c->st->ops->prepare(c, sql, &s, err);
    if (rc != 0)
        return rc;
    s->conn = c;
    if ((rc = bind_args(s, types, ap, err)) != 0) {
        store_finalize(s);
        return rc;
    }
    *out = s;
    return 0;
}

int store_query(store_conn_t *c, store_stmt_t **out, mops_err_t *err, const char *sql,
                const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = query_v(c, out, err, sql, types, ap);
    va_end(ap);
    return rc;
}

int store_exec(store_conn_t *c, int64_t *changes, mops_err_t *err, const char *sql,
               const char *types, ...)
{
    store_stmt_t *s;
    va_list ap;
    va_start(ap, types);
    int rc = query_v(c, &s, err, sql, types, ap);
    va_end(ap);
    if (rc != 0)
        return rc;
    while ((rc = store_step(s, err)) == STORE_ROW)
        ;
    if (rc == STORE_DONE && changes)
        *changes = c->st->ops->changes(s);
    store_finalize(s);
    return rc;
}

int store_query_int(store_conn_t *c, int64_t *out, mops_err_t *err, const char *sql,
                    const char *types, ...)
{
    store_stmt_t *s;
    va_list ap;
    va_start(ap, types);
    int rc = query_v(c, &s, err, sql, types, ap);
    va_end(ap);
    if (rc != 0)
        return rc;
    rc = store_step(s, err);
    if (rc == STORE_ROW) {
        *out = store_col_int(s, 0);
        /* Drain so RETURNING statements complete on every backend. */
        while ((rc = store_step(s, err)) == STORE_ROW)
            ;
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no row");
    }
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

int store_step(store_stmt_t *s, mops_err_t *err)
{
    return s->conn->st->ops->step(s, err);
}

int store_col_is_null(store_stmt_t *s, int col)
{
    return s->conn->st->ops->col_is_null(s, col);
}

int64_t store_col_int(store_stmt_t *s, int col)
{
    return s->conn->st->ops->col_int(s, col);
}

double store_col_double(store_stmt_t *s, int col)
{
    return s->conn->st->ops->col_double(s, col);
}

const char *store_col_text(store_stmt_t *s, int col)
{
    const char *t = s->conn->st->ops->col_text(s, col);
    return t ? t : "";
}

const void *store_col_blob(store_stmt_t *s, int col, size_t *len)
{
    return s->conn->st->ops->col_blob(s, col, len);
}

void store_finalize(store_stmt_t *s)
{
    if (s)
        s->conn->st->ops->finalize(s);
}

/* ------------------------------------------------------------ SQL builder */

void store_sql_init(store_sql_t *q, const char *head)
{
    memset(q, 0, sizeof *q);
    mops_buf_puts(&q->text, head);
}

void store_sql_add(store_sql_t *q, const char *fragment, const char *types, ...)
{
    mops_buf_puts(&q->text, fragment);
    va_list ap;
    va_start(ap, types);
    for (const char *t = types ? types : ""; *t; t++) {
        store_arg_t a = arg_from(*t, &ap);
        if (q->nargs < STORE_SQL_MAX_ARGS)
            q->args[q->nargs++] = a;
        else
            q->overflow = 1;
    }
    va_end(ap);
}

void store_sql_release(store_sql_t *q)
{
    mops_buf_release(&q->text);
}

int store_sql_query(store_conn_t *c, const store_sql_t *q, store_stmt_t **out, mops_err_t *err)
{
    if (q->overflow)
        return mops_err_set(err, MOPS_EINTERNAL, "store: more than %d arguments in one query",
                            STORE_SQL_MAX_ARGS);
    if (count_placeholders(q->text.data) != q->nargs)
        return mops_err_set(err, MOPS_EINTERNAL, "store: %d placeholders but %d arguments in: "
                            "%.200s", count_placeholders(q->text.data), q->nargs, q->text.data);
    store_stmt_t *s;
    int rc = c->st->ops->prepare(c, q->text.data, &s, err);
    if (rc != 0)
        return rc;
    s->conn = c;
    for (int i = 0; i < q->nargs && rc == 0; i++)
        rc = bind_one(s, i + 1, &q->args[i], err);
    if (rc != 0) {
        store_finalize(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ------------------------------------------------------- rows in bulk */

typedef struct row_value {
    char type; /* 'i', 'd', 'n', 't', 'b' ('I' is stored as 'i' or 'n') */
    int64_t i;
    double d;
    size_t off, len; /* text (NUL included) and blobs, in bytes */
} row_value_t;

struct store_rows {
    store_conn_t *conn;
    char *into;
    int columns, per_statement, pending;
    store_stmt_t *one;   /* backends that keep statements: the row's, prepared once */
    row_value_t *values; /* the others: per_statement * columns copied values */
    mops_buf_t bytes;
    char *full_sql; /* ... and the statement for per_statement rows, built once */
    int64_t sent;
};

static char *rows_sql(const store_rows_t *r, int rows)
{
    mops_buf_t b = MOPS_BUF_INIT;
    mops_buf_puts(&b, r->into);
    mops_buf_puts(&b, " VALUES ");
    for (int i = 0; i < rows; i++) {
        mops_buf_puts(&b, i ? ", (" : "(");
        for (int j = 0; j < r->columns; j++)
            mops_buf_puts(&b, j ? ", ?" : "?");
        mops_buf_putc(&b, ')');
    }
    return mops_buf_detach(&b);
}

store_rows_t *store_rows_new(store_conn_t *c, const char *into, int columns, int per_statement)
{
    store_rows_t *r = mops_xcalloc(1, sizeof *r);
    r->conn = c;
    r->into = mops_xstrdup(into);
    r->columns = columns > 0 ? columns : 1;
    r->per_statement = c->st->ops->reset ? 1 : per_statement > 0 ? per_statement : 1;
    if (!c->st->ops->reset)
        r->values =
            mops_xcalloc((size_t)r->per_statement * (size_t)r->columns, sizeof *r->values);
    return r;
}

void store_rows_free(store_rows_t *r)
{
    if (!r)
        return;
    store_finalize(r->one);
    free(r->into);
    free(r->values);
    free(r->full_sql);
    mops_buf_release(&r->bytes);
    free(r);
}

int64_t store_rows_sent(const store_rows_t *r)
{
    return r->sent;
}

/* Step a bound statement to its end. */
static int run_bound(store_stmt_t *s, mops_err_t *err)
{
    int rc;
    while ((rc = store_step(s, err)) == STORE_ROW)
        ;
    return rc == STORE_DONE ? 0 : rc;
}

/* Bind and run one row through the kept statement. */
static int rows_send_one(store_rows_t *r, mops_err_t *err, const char *types, va_list ap)
{
    const store_ops_t *ops = r->conn->st->ops;
    int rc = 0;
    if (!r->one) {
        char *sql = rows_sql(r, 1);
        rc = ops->prepare(r->conn, sql, &r->one, err);
        free(sql);
        if (rc != 0) {
            r->one = NULL;
            return rc;
        }
        r->one->conn = r->conn;
    }
    if ((rc = bind_args(r->one, types, ap, err)) == 0 && (rc = run_bound(r->one, err)) == 0)
        r->sent++;
    ops->reset(r->one);
    return rc;
}

int store_rows_flush(store_rows_t *r, mops_err_t *err)
{
    int rows = r->pending;
    if (!rows)
        return 0;
    r->pending = 0;
    char *partial = NULL;
    const char *sql;
    if (rows == r->per_statement) {
        if (!r->full_sql)
            r->full_sql = rows_sql(r, rows);
        sql = r->full_sql;
    } else {
        sql = partial = rows_sql(r, rows);
    }
    const store_ops_t *ops = r->conn->st->ops;
    store_stmt_t *s;
    int rc = ops->prepare(r->conn, sql, &s, err);
    free(partial);
    if (rc == 0) {
        s->conn = r->conn;
        for (int k = 0; k < rows * r->columns && rc == 0; k++) {
            const row_value_t *v = &r->values[k];
            const char *p = r->bytes.data ? r->bytes.data + v->off : "";
            switch (v->type) {
            case 'i': rc = ops->bind_int(s, k + 1, v->i); break;
            case 'd': rc = ops->bind_double(s, k + 1, v->d); break;
            case 't': rc = ops->bind_text(s, k + 1, p); break;
            case 'b': rc = ops->bind_blob(s, k + 1, p, v->len); break;
            default: rc = ops->bind_null(s, k + 1); break;
            }
            if (rc != 0)
                rc = mops_err_set(err, MOPS_EINTERNAL, "store: cannot bind parameter %d", k + 1);
        }
        if (rc == 0)
            rc = run_bound(s, err);
        store_finalize(s);
    }
    mops_buf_reset(&r->bytes);
    if (rc == 0)
        r->sent += rows;
    return rc;
}

/* Copy one row's values for a multi-row statement. */
static int rows_copy(store_rows_t *r, mops_err_t *err, const char *types, va_list args)
{
    row_value_t *row = &r->values[(size_t)r->pending * (size_t)r->columns];
    va_list ap;
    va_copy(ap, args);
    int rc = 0;
    for (int j = 0; j < r->columns && rc == 0; j++) {
        row_value_t *v = &row[j];
        memset(v, 0, sizeof *v);
        v->type = types[j];
        if (types[j] == 'b') {
            const void *p = va_arg(ap, const void *);
            v->len = va_arg(ap, size_t);
            v->off = r->bytes.len;
            mops_buf_append(&r->bytes, p, v->len);
            continue;
        }
        store_arg_t a = arg_from(types[j], &ap);
        v->i = a.i;
        v->d = a.d;
        if (a.type == 'I' || (a.type == 't' && !a.t)) {
            v->type = a.type == 'I' && a.i ? 'i' : 'n';
        } else if (a.type == 't') {
            v->off = r->bytes.len;
            mops_buf_append(&r->bytes, a.t, strlen(a.t) + 1);
        } else if (a.type != 'i' && a.type != 'd' && a.type != 'n') {
            rc = mops_err_set(err, MOPS_EINTERNAL, "store: bad bind type '%c'", a.type);
        }
    }
    va_end(ap);
    if (rc != 0)
        return rc;
    if (++r->pending == r->per_statement)
        return store_rows_flush(r, err);
    return 0;
}

int store_rows_add(store_rows_t *r, mops_err_t *err, const char *types, ...)
{
    if (!types || (int)strlen(types) != r->columns)
        return mops_err_set(err, MOPS_EINTERNAL, "store: %d columns but bind types \"%s\"",
                            r->columns, types ? types : "");
    va_list ap;
    va_start(ap, types);
    int rc = r->values ? rows_copy(r, err, types, ap) : rows_send_one(r, err, types, ap);
    va_end(ap);
    return rc;
}

/* -------------------------------------------------------------- migrations */

/* Replace the dialect markers of a migration with this backend's types. */
static char *expand_markers(const store_ops_t *ops, const char *sql)
{
    mops_buf_t b = MOPS_BUF_INIT;
    for (const char *p = sql; *p;) {
        if (strncmp(p, "{{ID}}", 6) == 0) {
            mops_buf_puts(&b, ops->id_type);
            p += 6;
        } else if (strncmp(p, "{{BLOB}}", 8) == 0) {
            mops_buf_puts(&b, ops->blob_type);
            p += 8;
        } else {
            mops_buf_putc(&b, *p++);
        }
    }
    return mops_buf_detach(&b);
}

static int migration_apply(store_conn_t *c, const store_migration_t *m, int *applied,
                           mops_err_t *err)
{
    const store_ops_t *ops = c->st->ops;
    /* store_begin serialises writers, so two servers starting at once on one
     * database apply each migration once. */
    int rc = store_begin(c, err);
    if (rc != 0)
        return rc;
    int64_t done = 0;
    if ((rc = store_query_int(c, &done, err,
                              "SELECT count(*) FROM schema_migrations WHERE version = ?", "i",
                              (int64_t)m->number)) != 0)
        goto fail;
    if (done) {
        store_rollback(c);
        return 0;
    }
    char *sql = expand_markers(ops, m->sql);
    /* Statements are separated by ";\n" so a ';' inside a string literal or
     * CHECK clause on one line is harmless. */
    char *stmt = sql;
    while (stmt && *stmt) {
        char *end = strstr(stmt, ";\n");
        if (end)
            *end = '\0';
        const char *q = stmt;
        while (*q == ' ' || *q == '\n' || *q == '\t')
            q++;
        if (*q && (rc = ops->exec_raw(c, q, err)) != 0) {
            free(sql);
            mops_err_wrap(err, "migration %04d (%s)", m->number, m->name);
            goto fail;
        }
        stmt = end ? end + 2 : NULL;
    }
    free(sql);
    if ((rc = store_exec(c, NULL, err,
                         "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                         "iti", (int64_t)m->number, m->name, mops_now_ms())) != 0)
        goto fail;
    if ((rc = store_commit(c, err)) != 0)
        return rc;
    (*applied)++;
    return 0;
fail:
    store_rollback(c);
    return rc;
}

int store_schema_version(store_t *st, int *version, mops_err_t *err)
{
    store_conn_t *c;
    int rc = store_conn_acquire(st, &c, err);
    if (rc != 0)
        return rc;
    int64_t v = 0;
    rc = store_query_int(c, &v, err, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                         NULL);
    store_conn_release(c);
    if (rc == 0)
        *version = (int)v;
    return rc;
}

int store_migrate(store_t *st, int *applied_out, mops_err_t *err)
{
    store_conn_t *c;
    int rc = store_conn_acquire(st, &c, err);
    if (rc != 0)
        return rc;
    int applied = 0;
    if ((rc = store_begin(c, err)) == 0) {
        rc = st->ops->exec_raw(c,
                               "CREATE TABLE IF NOT EXISTS schema_migrations ("
                               "version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
                               "applied_at BIGINT NOT NULL)",
                               err);
        rc = rc == 0 ? store_commit(c, err) : (store_rollback(c), rc);
    }
    int64_t newest = 0;
    if (rc == 0)
        rc = store_query_int(c, &newest, err,
                             "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL);
    if (rc == 0 && newest > store_migrations[store_migration_count - 1].number)
        rc = mops_err_set(err, MOPS_EPRECOND,
                          "the database schema is at migration %lld, newer than this mops "
                          "binary knows (%d); upgrade mops",
                          (long long)newest, store_migrations[store_migration_count - 1].number);
    for (int i = 0; rc == 0 && i < store_migration_count; i++)
        rc = migration_apply(c, &store_migrations[i], &applied, err);
    store_conn_release(c);
    if (rc == 0 && applied_out)
        *applied_out = applied;
    return rc;
}
