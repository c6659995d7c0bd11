/*
 * testutil.h — helpers shared by the cmocka unit tests: temporary
 * directories, and fresh stores on SQLite or on the test PostgreSQL cluster
 * (MOPS_TEST_PG_URI, started by tests/with-pg.sh).
 */
#ifndef MOPS_TESTUTIL_H
#define MOPS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/mem.h"
#include "store/store.h"

/* A new empty directory under /tmp; caller frees the string and may remove
 * the directory with tu_rmdir. */
static inline char *tu_tmpdir(void)
{
    char *d = mops_xstrdup("/tmp/mops-unit-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static inline void tu_rmdir(char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

/* The test PostgreSQL admin URI, or NULL (then PG cases are skipped, unless
 * MOPS_TEST_REQUIRE_PG is set, which fails the test). */
static inline const char *tu_pg_uri(void)
{
    const char *u = getenv("MOPS_TEST_PG_URI");
    if ((!u || !*u) && getenv("MOPS_TEST_REQUIRE_PG"))
        fail_msg("MOPS_TEST_REQUIRE_PG is set but MOPS_TEST_PG_URI is not");
    return u && *u ? u : NULL;
}

/* Create a fresh database on the test cluster and return its URI (heap). */
static inline char *tu_pg_fresh_db(void)
{
    const char *admin = tu_pg_uri();
    if (!admin)
        return NULL;
    store_t *st;
    mops_err_t err;
    if (store_open(admin, &st, &err) != 0)
        fail_msg("cannot open test PostgreSQL: %s", err.msg);
    unsigned char r[6];
    char hex[13], sql[80];
    mops_random_bytes(r, sizeof r);
    mops_hex_encode(r, sizeof r, hex);
    snprintf(sql, sizeof sql, "CREATE DATABASE t_%s", hex);
    store_conn_t *c;
    assert_int_equal(store_conn_acquire(st, &c, &err), 0);
    if (store_exec(c, NULL, &err, sql, NULL) != 0)
        fail_msg("%s: %s", sql, err.msg);
    store_conn_release(c);
    store_close(st);
    /* Swap the database name in "postgresql:///postgres?..." */
    const char *q = strchr(admin, '?');
    return mops_xasprintf("postgresql:///t_%s%s", hex, q ? q : "");
}

#endif
