/*
 * test_store.c — the store interface on a real SQLite file and on a real
 * PostgreSQL server: migrations, typed binds, conflicts, transactions,
 * serialised writers, rows in bulk, refusal of a newer schema.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "testutil.h"

/* The shared fixture (testutil.h) migrates a fresh store on each backend;
 * these tests use its store and open their own connections. */
typedef tu_fixture_t fixture_t;

#define SKIP_WITHOUT_STORE(f) TU_SKIP(f)

static void test_migrate_idempotent(void **state)
{
    fixture_t *f = *state;
    SKIP_WITHOUT_STORE(f);
    mops_err_t err;
    int applied = -1, version = -1;
    assert_int_equal(store_migrate(f->st, &applied, &err), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(store_schema_version(f->st, &version, &err), 0);
    assert_true(version >= 1);
}

static void test_types_and_conflicts(void **state)
{
    fixture_t *f = *state;
    SKIP_WITHOUT_STORE(f);
    mops_err_t err;
    store_conn_t *c;
    assert_int_equal(store_conn_acquire(f->st, &c, &err), 0);
    int64_t id = 0;
    assert_int_equal(store_query_int(c, &id, &err,
                                     "INSERT INTO teams (name, description, created_at) "
                                     "VALUES (?, ?, ?) RETURNING id",
                                     "tti", "risk", "it's \"quoted\" ? not a param", (int64_t)7),
                     0);
    assert_true(id > 0);
    /* Unique violation is a conflict, not an internal error. */
    int rc = store_exec(c, NULL, &err,
                        "INSERT INTO teams (name, description, created_at) VALUES (?, '', 1)", "t",
                        "risk");
    assert_int_equal(rc, MOPS_ECONFLICT);
    /* Foreign key violation too. */
    rc = store_exec(c, NULL, &err,
                    "INSERT INTO memberships (team_id, user_id, role, created_at) "
                    "VALUES (?, 999999, 'viewer', 1)",
                    "i", id);
    assert_int_equal(rc, MOPS_ECONFLICT);

    store_stmt_t *s;
    assert_int_equal(store_query(c, &s, &err,
                                 "SELECT name, description, created_at, NULL, 2.5 FROM teams "
                                 "WHERE id = ?",
                                 "i", id),
                     0);
    assert_int_equal(store_step(s, &err), STORE_ROW);
    assert_string_equal(store_col_text(s, 0), "risk");
    assert_string_equal(store_col_text(s, 1), "it's \"quoted\" ? not a param");
    assert_int_equal(store_col_int(s, 2), 7);
    assert_true(store_col_is_null(s, 3));
    assert_string_equal(store_col_text(s, 3), "");
    assert_true(store_col_double(s, 4) == 2.5);
    assert_int_equal(store_step(s, &err), STORE_DONE);
    store_finalize(s);

    int64_t changes = -1;
    assert_int_equal(store_exec(c, &changes, &err, "UPDATE teams SET description = ? WHERE id > ?",
                                "ti", "x", (int64_t)0),
                     0);
    assert_int_equal(changes, 1);
    assert_int_equal(store_query_int(c, &id, &err, "SELECT id FROM teams WHERE name = ?", "t",
                                     "nope"),
                     MOPS_ENOTFOUND);
    /* Malformed SQL is an internal error with the database's message. */
    assert_int_equal(store_exec(c, NULL, &err, "SELEC nonsense", NULL) < 0, 1);
    store_conn_release(c);
}

static void test_transactions(void **state)
{
    fixture_t *f = *state;
    SKIP_WITHOUT_STORE(f);
    mops_err_t err;
    store_conn_t *c;
    assert_int_equal(store_conn_acquire(f->st, &c, &err), 0);
    assert_int_equal(store_begin(c, &err), 0);
    assert_true(store_in_tx(c));
    assert_int_equal(store_begin(c, &err), MOPS_EINTERNAL); /* no nesting */
    assert_int_equal(
        store_exec(c, NULL, &err, "INSERT INTO teams (name, created_at) VALUES ('gone', 1)", NULL),
        0);
    store_rollback(c);
    assert_false(store_in_tx(c));
    int64_t n = -1;
    assert_int_equal(
        store_query_int(c, &n, &err, "SELECT count(*) FROM teams WHERE name = 'gone'", NULL), 0);
    assert_int_equal(n, 0);
    /* Releasing a connection with an open transaction rolls it back. */
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(
        store_exec(c, NULL, &err, "INSERT INTO teams (name, created_at) VALUES ('gone', 1)", NULL),
        0);
    store_conn_release(c);
    assert_int_equal(store_conn_acquire(f->st, &c, &err), 0);
    assert_false(store_in_tx(c));
    assert_int_equal(
        store_query_int(c, &n, &err, "SELECT count(*) FROM teams WHERE name = 'gone'", NULL), 0);
    assert_int_equal(n, 0);
    store_conn_release(c);
}

/* Writers are serialised: concurrent read-modify-write transactions lose no
 * update (the audit chain and version numbers depend on it). */
#define WRITERS 4
#define ROUNDS 60

static void *writer(void *arg)
{
    store_t *st = arg;
    mops_err_t err;
    store_conn_t *c;
    if (store_conn_acquire(st, &c, &err) != 0)
        return "acquire";
    for (int i = 0; i < ROUNDS; i++) {
        int64_t v = 0;
        if (store_begin(c, &err) != 0 ||
            store_query_int(c, &v, &err, "SELECT created_at FROM teams WHERE name = 'counter'",
                            NULL) != 0 ||
            store_exec(c, NULL, &err, "UPDATE teams SET created_at = ? WHERE name = 'counter'",
                       "i", v + 1) != 0 ||
            store_commit(c, &err) != 0) {
            fprintf(stderr, "writer: %s\n", err.msg);
            store_conn_release(c);
            return "failed";
        }
    }
    store_conn_release(c);
    return NULL;
}

static void test_serialised_writers(void **state)
{
    fixture_t *f = *state;
    SKIP_WITHOUT_STORE(f);
    mops_err_t err;
    store_conn_t *c;
    assert_int_equal(store_conn_acquire(f->st, &c, &err), 0);
    assert_int_equal(
        store_exec(c, NULL, &err, "INSERT INTO teams (name, created_at) VALUES ('counter', 0)",
                   NULL),
        0);
    store_conn_release(c);
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&t[i], NULL, writer, f->st);
    for (int i = 0; i < WRITERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(store_conn_acquire(f->st, &c, &err), 0);
    int64_t v = 0;
    assert_int_equal(
        store_query_int(c, &v, &err, "SELECT created_at FROM teams WHERE name = 'counter'", NULL),
        0);
    assert_int_equal(v, WRITERS * ROUNDS);
    store_conn_release(c);
}

/* Rows in bulk: several per statement, NULLs ('I' 0, 'n'), text and blobs
 * copied, the remainder sent by the flush, an error discarding the batch. */
static void test_rows_in_bulk(void **state)
{
    fixture_t *f = *state;
    SKIP_WITHOUT_STORE(f);
    mops_err_t err;
    store_conn_t *c;
    assert_int_equal(store_conn_acquire(f->st, &c, &err), 0);
    assert_int_equal(store_writers_waiting(f->st), 0);
    store_rows_t *rows = store_rows_new(
        c, "INSERT INTO prediction_log (ts, request_id, team_id, deployment_id, version_id, role, "
        "n_rows, n_features, n_outputs, inputs, cpu_ns, wall_us, bytes_in, bytes_out, agree, "
        "max_abs_diff)",
        16, 3);
    assert_int_equal(store_begin_append(c, &err), 0);
    for (int i = 0; i < 7; i++) {
        char id[16];
        snprintf(id, sizeof id, "req-%d", i);
        double in[2] = {i, -0.5 * i};
        const char *types = i % 2 ? "itiIitiiibiiiiid" : "itiIitiiibiiiinn";
        /* Even rows: no deployment ('I' 0) and no agreement ('n' reads no
         * argument: the two last are left unread). */
        assert_int_equal(store_rows_add(rows, &err, types, (int64_t)i, id, (int64_t)1,
                                        (int64_t)(i % 2 ? 9 : 0), (int64_t)3, "primary",
                                        (int64_t)1, (int64_t)2, (int64_t)1, in, sizeof in,
                                        (int64_t)5, (int64_t)6, (int64_t)7, (int64_t)8,
                                        (int64_t)1, 0.25 * i),
                         0);
        /* SQLite sends each row through its kept statement; PostgreSQL
         * three to a statement. */
        assert_int_equal(store_rows_sent(rows), store_kind(f->st) == STORE_SQLITE ? i + 1
                                                : i + 1 >= 6                      ? 6
                                                : i + 1 >= 3                      ? 3
                                                                                  : 0);
    }
    assert_int_equal(store_rows_flush(rows, &err), 0);
    assert_int_equal(store_rows_sent(rows), 7);
    assert_int_equal(store_rows_flush(rows, &err), 0); /* nothing pending */
    assert_int_equal(store_commit(c, &err), 0);

    int64_t n = -1;
    assert_int_equal(store_query_int(c, &n, &err, "SELECT count(*) FROM prediction_log WHERE "
                                     "deployment_id IS NULL AND agree IS NULL", NULL), 0);
    assert_int_equal(n, 4);
    store_stmt_t *s;
    assert_int_equal(store_query(c, &s, &err, "SELECT request_id, inputs, deployment_id, "
                                 "max_abs_diff FROM prediction_log WHERE ts = 5", NULL), 0);
    assert_int_equal(store_step(s, &err), STORE_ROW);
    assert_string_equal(store_col_text(s, 0), "req-5");
    size_t len = 0;
    const double *back = store_col_blob(s, 1, &len);
    assert_int_equal(len, 2 * sizeof(double));
    double got[2];
    memcpy(got, back, sizeof got);
    assert_true(got[0] == 5 && got[1] == -2.5);
    assert_int_equal(store_col_int(s, 2), 9);
    assert_true(store_col_double(s, 3) == 1.25);
    store_finalize(s);

    /* Wrong arity is refused at once; a row the database refuses (NULL
     * request id) fails the statement, and the batch is discarded. */
    assert_int_equal(store_rows_add(rows, &err, "it"), MOPS_EINTERNAL);
    assert_int_equal(store_begin_append(c, &err), 0);
    assert_int_equal(store_rows_add(rows, &err, "itiIitiiibiiiinn", (int64_t)100, "ok",
                                    (int64_t)1, (int64_t)0, (int64_t)3, "primary", (int64_t)1,
                                    (int64_t)2, (int64_t)1, "", (size_t)0, (int64_t)5, (int64_t)6,
                                    (int64_t)7, (int64_t)8),
                     0);
    int rc = store_rows_add(rows, &err, "itiIitiiibiiiinn", (int64_t)101, NULL, (int64_t)1,
                            (int64_t)0, (int64_t)3, "primary", (int64_t)1, (int64_t)2, (int64_t)1,
                            "", (size_t)0, (int64_t)5, (int64_t)6, (int64_t)7, (int64_t)8);
    if (rc == 0)
        rc = store_rows_flush(rows, &err);
    assert_true(rc < 0);
    store_rollback(c);
    assert_int_equal(store_rows_flush(rows, &err), 0);
    assert_int_equal(store_query_int(c, &n, &err, "SELECT count(*) FROM prediction_log", NULL), 0);
    assert_int_equal(n, 7);
    store_rows_free(rows);
    store_conn_release(c);
}

static void test_newer_schema_refused(void **state)
{
    fixture_t *f = *state;
    SKIP_WITHOUT_STORE(f);
    mops_err_t err;
    store_conn_t *c;
    assert_int_equal(store_conn_acquire(f->st, &c, &err), 0);
    assert_int_equal(store_exec(c, NULL, &err,
                                "INSERT INTO schema_migrations (version, name, applied_at) "
                                "VALUES (9999, 'future', 0)",
                                NULL),
                     0);
    store_conn_release(c);
    assert_int_equal(store_migrate(f->st, NULL, &err), MOPS_EPRECOND);
    assert_non_null(strstr(err.msg, "newer than this mops"));
}

static void test_sqlite_file_private(void **state)
{
    fixture_t *f = *state;
    struct stat sb;
    char path[600];
    snprintf(path, sizeof path, "%s/mops.db", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_open_errors(void **state)
{
    (void)state;
    store_t *st;
    mops_err_t err;
    assert_int_equal(store_open("sqlite:/nonexistent-dir/x/mops.db", &st, &err), MOPS_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x/mops.db"));
    assert_int_equal(store_open("postgresql:///nodb?host=/nonexistent&port=1", &st, &err),
                     MOPS_EUNAVAIL);
    assert_non_null(strstr(err.msg, "cannot connect to PostgreSQL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOTH(test_migrate_idempotent),
        TU_BOTH(test_types_and_conflicts),
        TU_BOTH(test_transactions),
        TU_BOTH(test_serialised_writers),
        TU_BOTH(test_rows_in_bulk),
        TU_BOTH(test_newer_schema_refused),
        cmocka_unit_test_setup_teardown(test_sqlite_file_private, tu_setup_sqlite, tu_teardown),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
