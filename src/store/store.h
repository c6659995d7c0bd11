/*
 * store.h — the one storage interface every domain module uses.
 *
 * A store_t is a database (a pool of connections); a store_conn_t is one
 * connection, used by one thread at a time; a store_stmt_t is a prepared
 * statement and its cursor. Backends: SQLite ("sqlite:PATH", the embedded
 * default) and PostgreSQL ("postgres://..."), chosen by URI.
 *
 * SQL written by domain modules must run on both: `?` placeholders (the
 * PostgreSQL backend numbers them), BIGINT for integers and times (Unix ms),
 * TEXT for strings and JSON documents, INTEGER 0/1 for booleans, RETURNING,
 * ON CONFLICT ... DO NOTHING/UPDATE. Migrations may also use the dialect
 * markers {{ID}} (an auto-assigned BIGINT primary key) and {{BLOB}}.
 *
 * Writes happen inside store_begin/store_commit, which serialise writers
 * (BEGIN IMMEDIATE on SQLite) so read-modify-write sequences such as the
 * audit chain are safe. Outside a transaction every statement autocommits.
 * A commit that returned 0 is durable (synchronous=FULL on SQLite).
 */
#ifndef MOPS_STORE_STORE_H
#define MOPS_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/mem.h"

typedef struct store store_t;
typedef struct store_conn store_conn_t;
typedef struct store_stmt store_stmt_t;

/* store_step results besides negative error codes. */
enum { STORE_DONE = 0, STORE_ROW = 1 };

typedef enum { STORE_SQLITE, STORE_POSTGRES } store_kind_t;

/* Open the database at uri ("sqlite:PATH" or a PATH ending in .db for
 * SQLite; "postgres://..." or "postgresql://..." for PostgreSQL). The schema
 * is not touched: call store_migrate. *out is freed with store_close. */
int store_open(const char *uri, store_t **out, mops_err_t *err);

/* Close every pooled connection and free st. Connections must have been
 * released. NULL is a no-op. */
void store_close(store_t *st);

store_kind_t store_kind(const store_t *st);

/* Bring the schema up to the newest numbered migration, each in its own
 * transaction; safe to call from several processes at once. *applied (may be
 * NULL) gets how many ran. */
int store_migrate(store_t *st, int *applied, mops_err_t *err);

/* Highest migration number applied (0 on an empty database). */
int store_schema_version(store_t *st, int *version, mops_err_t *err);

/* Borrow a connection for the calling thread; give it back with
 * store_conn_release (which rolls back an unfinished transaction). */
int store_conn_acquire(store_t *st, store_conn_t **out, mops_err_t *err);
void store_conn_release(store_conn_t *c);

/* Write transactions. store_rollback is safe to call when none is open. */
int store_begin(store_conn_t *c, mops_err_t *err);
int store_commit(store_conn_t *c, mops_err_t *err);
void store_rollback(store_conn_t *c);
int store_in_tx(const store_conn_t *c);
/* End a write: commit when rc is 0, roll back otherwise; the final code. */
int store_end(store_conn_t *c, int rc, mops_err_t *err);
/* A write transaction that only appends rows nothing else reads to write
 * (logs): on PostgreSQL it does not take the writers' lock, so it neither
 * waits for nor delays other writers; SQLite has one lock for all writers. */
int store_begin_append(store_conn_t *c, mops_err_t *err);
/* Threads of this process waiting in store_begin for the writers' lock. A
 * bulk writer that runs transaction after transaction (the prediction log)
 * pauses while there are any: SQLite's waiting writers poll, and would
 * otherwise rarely find the lock free. */
int store_writers_waiting(const store_t *st);

/* Prepare sql and bind its `?` parameters from a type string and varargs:
 *   'i' int64_t, 'I' int64_t where 0 binds NULL (optional ids),
 *   't' const char * (NULL binds NULL), 'd' double,
 *   'n' NULL (no argument), 'b' (const void *, size_t) blob.
 * Free *out with store_finalize. */
int store_query(store_conn_t *c, store_stmt_t **out, mops_err_t *err, const char *sql,
                const char *types, ...);

/* Run a statement that returns no rows (or whose rows are ignored).
 * *changes (may be NULL) gets the number of rows it changed. */
int store_exec(store_conn_t *c, int64_t *changes, mops_err_t *err, const char *sql,
               const char *types, ...);

/* Run a statement expected to return one row whose first column is an
 * integer (e.g. RETURNING id, SELECT count(*)). MOPS_ENOTFOUND if no row. */
int store_query_int(store_conn_t *c, int64_t *out, mops_err_t *err, const char *sql,
                    const char *types, ...);

/* A statement built piece by piece, for queries whose filters depend on the
 * request: each fragment brings its own `?` arguments (same type letters as
 * store_query), so text and arguments cannot drift apart. */
#define STORE_SQL_MAX_ARGS 32

typedef struct store_arg {
    char type; /* 'i', 'I', 't', 'd', 'n' */
    int64_t i;
    double d;
    const char *t; /* not copied: must outlive the query */
} store_arg_t;

typedef struct store_sql {
    mops_buf_t text;
    store_arg_t args[STORE_SQL_MAX_ARGS];
    int nargs;
    int overflow;
} store_sql_t;

void store_sql_init(store_sql_t *q, const char *head);
/* Append fragment, binding one vararg per type letter. */
void store_sql_add(store_sql_t *q, const char *fragment, const char *types, ...);
void store_sql_release(store_sql_t *q);
/* Prepare and bind; free *out with store_finalize. */
int store_sql_query(store_conn_t *c, const store_sql_t *q, store_stmt_t **out, mops_err_t *err);

/* Many rows into one table, for writers of thousands of rows a second
 * (the prediction log), where a statement per row would spend most of its
 * time parsing SQL (SQLite) or waiting for round trips (PostgreSQL).
 * `into` is "INSERT INTO t (a, b, c)" with `columns` columns;
 * store_rows_add binds one row (types as store_query, one letter per
 * column). With SQLite each row is sent at once through one statement
 * prepared for the batch's life; with PostgreSQL rows are copied and sent
 * `per_statement` to a statement, the rest by store_rows_flush. After an
 * error, roll back: rows not yet sent are discarded. A batch belongs to the
 * connection it was made on; free it before releasing the connection. */
typedef struct store_rows store_rows_t;

store_rows_t *store_rows_new(store_conn_t *c, const char *into, int columns, int per_statement);
int store_rows_add(store_rows_t *r, mops_err_t *err, const char *types, ...);
int store_rows_flush(store_rows_t *r, mops_err_t *err);
/* Rows sent since store_rows_new. */
int64_t store_rows_sent(const store_rows_t *r);
void store_rows_free(store_rows_t *r);

/* Advance the cursor: STORE_ROW, STORE_DONE, or a negative error code.
 * A unique or foreign-key violation is MOPS_ECONFLICT. */
int store_step(store_stmt_t *s, mops_err_t *err);

/* Column accessors for the current row (0-based). Text and blobs are valid
 * until the next store_step or store_finalize. */
int store_col_is_null(store_stmt_t *s, int col);
int64_t store_col_int(store_stmt_t *s, int col);
double store_col_double(store_stmt_t *s, int col);
const char *store_col_text(store_stmt_t *s, int col); /* "" for NULL */
const void *store_col_blob(store_stmt_t *s, int col, size_t *len);

/* Free the statement. NULL is a no-op. */
void store_finalize(store_stmt_t *s);

/* ------------------------------------------------------------ tag tables */

/* The tags of a row live in a table of (id_col, tag) pairs (model_tags,
 * dataset_tags, ...). Replace the tags of row id with the strings of the
 * JSON array tags; read them back, sorted, as a new JSON array in *out. */
#include <jansson.h>
int store_tags_replace(store_conn_t *c, const char *table, const char *id_col, int64_t id,
                       const json_t *tags, mops_err_t *err);
int store_tags_json(store_conn_t *c, const char *table, const char *id_col, int64_t id,
                    json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ paged lists */

/* A page of a list: s returns (id, page key) rows in the list's order, at
 * most limit + 1 of them; item turns an id into its JSON (it may run
 * queries of its own: the rows are read first). *out: {"items",
 * "next_page_token"} (the last item's key when rows are left, else null).
 * Finalizes s whatever happens. */
#include "core/ctx.h"
typedef int (*store_item_fn)(const mops_ctx_t *ctx, const void *arg, int64_t id, json_t **out,
                             mops_err_t *err);
int store_page(const mops_ctx_t *ctx, store_stmt_t *s, int limit, store_item_fn item,
               const void *arg, json_t **out, mops_err_t *err);

#endif
