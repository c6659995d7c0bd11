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

/* ------------------------------------------------------------------------
 * A migrated store with a system context, for domain-module tests, on
 * SQLite (a file in a temporary directory) or on the test PostgreSQL
 * cluster. Domain headers are included by the test files.
 */
#include "auth/auth.h"
#include "core/ctx.h"

typedef struct tu_fixture {
    char *dir;        /* temporary directory: SQLite file, artifacts */
    char *uri;
    char artifacts[512];
    store_t *st;
    store_conn_t *db;
    mops_arena_t *arena;
    mops_env_t env;
    mops_ctx_t sys;   /* who == NULL: the server itself */
} tu_fixture_t;

static inline int tu_fixture_open(tu_fixture_t *f)
{
    mops_err_t err;
    if (store_open(f->uri, &f->st, &err) != 0)
        fail_msg("store_open(%s): %s", f->uri, err.msg);
    if (store_migrate(f->st, NULL, &err) != 0)
        fail_msg("store_migrate: %s", err.msg);
    if (store_conn_acquire(f->st, &f->db, &err) != 0)
        fail_msg("store_conn_acquire: %s", err.msg);
    f->arena = mops_arena_new();
    snprintf(f->artifacts, sizeof f->artifacts, "%s/artifacts", f->dir);
    f->env.data_dir = f->dir;
    f->env.artifact_dir = f->artifacts;
    f->env.max_upload = 1 << 20;
    f->sys.db = f->db;
    f->sys.arena = f->arena;
    f->sys.env = &f->env;
    f->sys.request_id = "unit-test";
    return 0;
}

/* cmocka setup functions: *state becomes a tu_fixture_t, or NULL-store
 * fixture when PostgreSQL is not available (see TU_SKIP). */
static inline int tu_setup_sqlite(void **state)
{
    tu_fixture_t *f = mops_xcalloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    f->uri = mops_xasprintf("sqlite:%s/mops.db", f->dir);
    *state = f;
    return tu_fixture_open(f);
}

static inline int tu_setup_pg(void **state)
{
    tu_fixture_t *f = mops_xcalloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    f->uri = tu_pg_fresh_db();
    *state = f;
    return f->uri ? tu_fixture_open(f) : 0;
}

static inline int tu_teardown(void **state)
{
    tu_fixture_t *f = *state;
    store_conn_release(f->db);
    store_close(f->st);
    mops_arena_free(f->arena);
    tu_rmdir(f->dir);
    free(f->uri);
    free(f);
    return 0;
}

#define TU_SKIP(f)                                                                                 \
    do {                                                                                           \
        if (!(f)->st) {                                                                            \
            print_message("(PostgreSQL not available: skipped)\n");                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Run a test on both backends. */
#define TU_BOTH(fn)                                                                                \
    cmocka_unit_test_setup_teardown(fn, tu_setup_sqlite, tu_teardown),                             \
        cmocka_unit_test_setup_teardown(fn, tu_setup_pg, tu_teardown)

/* Parse a JSON literal for a test (fails the test on bad JSON). */
static inline json_t *tu_json(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        fail_msg("bad JSON in test: %s: %s", text, je.text);
    return v;
}

/* Call a domain write with a JSON literal as the system and insist on
 * success; returns the output (caller decrefs) . */
#define TU_OK(call)                                                                                \
    do {                                                                                           \
        mops_err_t tu_err_;                                                                        \
        mops_err_clear(&tu_err_);                                                                  \
        int tu_rc_ = (call);                                                                       \
        if (tu_rc_ != 0)                                                                           \
            fail_msg("%s failed (%d): %s", #call, tu_rc_, tu_err_.msg);                          \
    } while (0)

/* Create a team as the system. */
static inline void tu_team(tu_fixture_t *f, const char *name)
{
    mops_err_t err;
    json_t *out = NULL, *spec = json_pack("{s:s}", "name", name);
    if (auth_team_create(&f->sys, spec, &out, &err) != 0)
        fail_msg("team %s: %s", name, err.msg);
    json_decref(spec);
    json_decref(out);
}

/* Create a user with roles in a team and return a context acting as them
 * (a principal authenticated from a real token). */
static inline mops_ctx_t tu_as(tu_fixture_t *f, const char *user, const char *team,
                               const char *roles_json)
{
    mops_err_t err;
    json_t *out = NULL, *spec = json_pack("{s:s}", "name", user);
    if (auth_user_create(&f->sys, spec, &out, &err) != 0 && err.code != MOPS_ECONFLICT)
        fail_msg("user %s: %s", user, err.msg);
    json_decref(spec);
    json_decref(out);
    out = NULL;
    if (team) {
        char body[256];
        snprintf(body, sizeof body, "{\"roles\": %s}", roles_json);
        spec = tu_json(body);
        if (auth_member_set(&f->sys, team, user, spec, &out, &err) != 0)
            fail_msg("member %s/%s: %s", team, user, err.msg);
        json_decref(spec);
        json_decref(out);
    }
    spec = json_pack("{s:s, s:s}", "name", "t", "user", user);
    if (auth_token_create(&f->sys, spec, &out, &err) != 0)
        fail_msg("token %s: %s", user, err.msg);
    auth_principal_t *who;
    if (auth_authenticate(f->db, json_string_value(json_object_get(out, "token")), f->arena, &who,
                          NULL, &err) != 0)
        fail_msg("authenticate %s: %s", user, err.msg);
    json_decref(spec);
    json_decref(out);
    mops_ctx_t ctx = f->sys;
    ctx.who = who;
    return ctx;
}

#endif
