/*
 * pg.c — the PostgreSQL backend of the store, for several stateless mops
 * servers on one database.
 *
 * Statements are sent with PQexecParams (text parameters, blobs binary);
 * the `?` placeholders of portable SQL are renumbered $1, $2, ... outside
 * string literals. A write transaction takes one transaction-scoped
 * advisory lock, which gives the same "one writer at a time" guarantee as
 * SQLite's BEGIN IMMEDIATE: the audit chain and version numbering rely on it.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/store_int.h"

/* Arbitrary constant naming mops' writer lock among advisory locks. */
#define PG_WRITER_LOCK "7280179"

typedef struct {
    store_conn_t base;
    PGconn *pg;
} pg_conn_t;

typedef struct {
    store_stmt_t base;
    char *sql;
    int nparams;
    char **values;
    int *lengths;
    int *formats;
    PGresult *res;
    int row, nrows, executed;
    int64_t changes;
    unsigned char *blob;
} pg_stmt_t;

static PGconn *conn_pg(store_conn_t *c)
{
    return ((pg_conn_t *)c)->pg;
}

static int map_result_error(PGconn *pg, PGresult *res, mops_err_t *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg);
    char clean[400];
    snprintf(clean, sizeof clean, "%s", msg && *msg ? msg : "unknown error");
    size_t n = strlen(clean);
    while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
        clean[--n] = '\0';
    if (PQstatus(pg) == CONNECTION_BAD) {
        PQreset(pg);
        return mops_err_set(err, MOPS_EUNAVAIL, "lost the connection to PostgreSQL: %s", clean);
    }
    if (state) {
        if (!strcmp(state, "23505") || !strcmp(state, "23503"))
            return mops_err_set(err, MOPS_ECONFLICT, "%s", clean);
        if (!strncmp(state, "23", 2))
            return mops_err_set(err, MOPS_EINVAL, "%s", clean);
        if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strncmp(state, "08", 2) ||
            !strcmp(state, "57P01") || !strcmp(state, "53300"))
            return mops_err_set(err, MOPS_EUNAVAIL, "PostgreSQL is busy; try again (%s)", clean);
        if (!strcmp(state, "53100"))
            return mops_err_set(err, MOPS_EIO, "PostgreSQL: %s", clean);
    }
    return mops_err_set(err, MOPS_EINTERNAL, "PostgreSQL error: %s", clean);
}

static int pg_exec_raw(store_conn_t *c, const char *sql, mops_err_t *err)
{
    PGconn *pg = conn_pg(c);
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = map_result_error(pg, res, err);
    PQclear(res);
    return rc;
}

static void notice_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

static int pg_conn_open(store_t *st, store_conn_t **out, mops_err_t *err)
{
    PGconn *pg = PQconnectdb(st->uri);
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
        PQfinish(pg);
        return mops_err_set(err, MOPS_EUNAVAIL, "cannot connect to PostgreSQL: %s", msg);
    }
    PQsetNoticeProcessor(pg, notice_quiet, NULL);
    pg_conn_t *c = mops_xcalloc(1, sizeof *c);
    c->pg = pg;
    c->base.st = st;
    int rc = pg_exec_raw(&c->base, "SET client_min_messages = warning", err);
    if (rc != 0) {
        PQfinish(pg);
        free(c);
        return rc;
    }
    *out = &c->base;
    return 0;
}

static void pg_conn_close(store_conn_t *c)
{
    PQfinish(conn_pg(c));
    free(c);
}

/* Renumber `?` as $1..$n outside '...' literals and "..." identifiers. */
static char *renumber(const char *sql, int *nparams)
{
    mops_buf_t b = MOPS_BUF_INIT;
    int n = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            mops_buf_putc(&b, *p);
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
            mops_buf_putc(&b, *p);
        } else if (*p == '?') {
            mops_buf_printf(&b, "$%d", ++n);
        } else {
            mops_buf_putc(&b, *p);
        }
    }
    *nparams = n;
    return mops_buf_detach(&b);
}

static int pg_prepare(store_conn_t *c, const char *sql, store_stmt_t **out, mops_err_t *err)
{
    (void)c;
    (void)err;
    pg_stmt_t *s = mops_xcalloc(1, sizeof *s);
    s->sql = renumber(sql, &s->nparams);
    int n = s->nparams ? s->nparams : 1;
    s->values = mops_xcalloc((size_t)n, sizeof *s->values);
    s->lengths = mops_xcalloc((size_t)n, sizeof *s->lengths);
    s->formats = mops_xcalloc((size_t)n, sizeof *s->formats);
    *out = &s->base;
    return 0;
}

static int set_param(store_stmt_t *st, int i, char *value, int len, int format)
{
    pg_stmt_t *s = (pg_stmt_t *)st;
    if (i < 1 || i > s->nparams) {
        free(value);
        return -1;
    }
    free(s->values[i - 1]);
    s->values[i - 1] = value;
    s->lengths[i - 1] = len;
    s->formats[i - 1] = format;
    return 0;
}

static int pg_bind_int(store_stmt_t *s, int i, int64_t v)
{
    return set_param(s, i, mops_xasprintf("%lld", (long long)v), 0, 0);
}

static int pg_bind_text(store_stmt_t *s, int i, const char *v)
{
    return set_param(s, i, mops_xstrdup(v), 0, 0);
}

static int pg_bind_double(store_stmt_t *s, int i, double v)
{
    return set_param(s, i, mops_xasprintf("%.17g", v), 0, 0);
}

static int pg_bind_null(store_stmt_t *s, int i)
{
    return set_param(s, i, NULL, 0, 0);
}

static int pg_bind_blob(store_stmt_t *s, int i, const void *p, size_t n)
{
    char *copy = mops_xmalloc(n);
    memcpy(copy, p, n);
    return set_param(s, i, copy, (int)n, 1);
}

static int pg_step(store_stmt_t *st, mops_err_t *err)
{
    pg_stmt_t *s = (pg_stmt_t *)st;
    if (!s->executed) {
        PGconn *pg = conn_pg(st->conn);
        s->executed = 1;
        s->res = PQexecParams(pg, s->sql, s->nparams, NULL, (const char *const *)s->values,
                              s->lengths, s->formats, 0);
        ExecStatusType rs = PQresultStatus(s->res);
        if (rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK) {
            int rc = map_result_error(pg, s->res, err);
            PQclear(s->res);
            s->res = NULL;
            return rc;
        }
        s->nrows = rs == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
        const char *ct = PQcmdTuples(s->res);
        s->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
        s->row = -1;
    }
    if (!s->res)
        return mops_err_set(err, MOPS_EINTERNAL, "store: step after a failed statement");
    if (s->row + 1 < s->nrows) {
        s->row++;
        return STORE_ROW;
    }
    s->row = s->nrows;
    return STORE_DONE;
}

static int64_t pg_changes(store_stmt_t *s)
{
    return ((pg_stmt_t *)s)->changes;
}

static int pg_col_is_null(store_stmt_t *st, int col)
{
    pg_stmt_t *s = (pg_stmt_t *)st;
    return PQgetisnull(s->res, s->row, col);
}

static int64_t pg_col_int(store_stmt_t *st, int col)
{
    pg_stmt_t *s = (pg_stmt_t *)st;
    return strtoll(PQgetvalue(s->res, s->row, col), NULL, 10);
}

static double pg_col_double(store_stmt_t *st, int col)
{
    pg_stmt_t *s = (pg_stmt_t *)st;
    return strtod(PQgetvalue(s->res, s->row, col), NULL);
}

static const char *pg_col_text(store_stmt_t *st, int col)
{
    pg_stmt_t *s = (pg_stmt_t *)st;
    return PQgetvalue(s->res, s->row, col);
}

static const void *pg_col_blob(store_stmt_t *st, int col, size_t *len)
{
    pg_stmt_t *s = (pg_stmt_t *)st;
    PQfreemem(s->blob);
    s->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, col), len);
    return s->blob;
}

static void pg_finalize(store_stmt_t *st)
{
    pg_stmt_t *s = (pg_stmt_t *)st;
    for (int i = 0; i < s->nparams; i++)
        free(s->values[i]);
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->sql);
    PQclear(s->res);
    PQfreemem(s->blob);
    free(s);
}

static const store_ops_t pg_ops = {
    .name = "postgres",
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .exec_raw = pg_exec_raw,
    .begin_sql = "BEGIN; SELECT pg_advisory_xact_lock(" PG_WRITER_LOCK ")",
    .append_begin_sql = "BEGIN",
    .prepare = pg_prepare,
    .bind_int = pg_bind_int,
    .bind_text = pg_bind_text,
    .bind_double = pg_bind_double,
    .bind_null = pg_bind_null,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .changes = pg_changes,
    .col_is_null = pg_col_is_null,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .finalize = pg_finalize,
    .id_type = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    .blob_type = "BYTEA",
    .destroy = NULL,
};

int store_pg_open(const char *uri, store_t *st, mops_err_t *err)
{
    (void)uri;
    (void)err;
    st->ops = &pg_ops;
    return 0;
}
