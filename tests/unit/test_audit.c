/*
 * test_audit.c — the audit chain on SQLite and PostgreSQL: appends inside
 * transactions only, verification of an intact chain, and each kind of
 * tampering (altered field, deleted entry, rewritten entry with a fresh
 * hash) named at the right entry; listing with visibility and filters.
 */
#include "testutil.h"
#include "audit/audit.h"

static void record_n(tu_fixture_t *f, const mops_ctx_t *ctx, int n, int64_t team_id)
{
    for (int i = 0; i < n; i++) {
        char target[32];
        snprintf(target, sizeof target, "thing/%d", i);
        json_t *d = json_pack("{s:i}", "i", i);
        TU_OK(store_begin(f->db, &tu_err_));
        TU_OK(audit_record(ctx, i % 2 ? "thing.update" : "thing.create", target, team_id, d,
                           &tu_err_));
        TU_OK(store_commit(f->db, &tu_err_));
        json_decref(d);
    }
}

static json_t *verify(tu_fixture_t *f)
{
    json_t *v = NULL;
    TU_OK(audit_verify(f->db, &v, &tu_err_));
    return v;
}

static void test_intact_chain(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    json_t *v = verify(f);
    assert_true(json_is_true(json_object_get(v, "ok")));
    assert_int_equal(json_integer_value(json_object_get(v, "entries")), 0);
    json_decref(v);
    record_n(f, &f->sys, 10, 0);
    v = verify(f);
    assert_true(json_is_true(json_object_get(v, "ok")));
    assert_int_equal(json_integer_value(json_object_get(v, "entries")), 10);
    assert_int_equal(strlen(json_string_value(json_object_get(v, "head"))), 64);
    json_decref(v);
    /* An entry outside the transaction of its change is a bug, refused. */
    mops_err_t err;
    assert_int_equal(audit_record(&f->sys, "x.y", "z", 0, NULL, &err), MOPS_EINTERNAL);
    /* A rolled-back change leaves no entry and no gap. */
    TU_OK(store_begin(f->db, &tu_err_));
    TU_OK(audit_record(&f->sys, "x.y", "z", 0, NULL, &tu_err_));
    store_rollback(f->db);
    record_n(f, &f->sys, 1, 0);
    v = verify(f);
    assert_true(json_is_true(json_object_get(v, "ok")));
    assert_int_equal(json_integer_value(json_object_get(v, "entries")), 11);
    json_decref(v);
}

static void expect_broken(tu_fixture_t *f, int64_t seq, const char *words)
{
    json_t *v = verify(f);
    if (json_is_true(json_object_get(v, "ok")))
        fail_msg("tampering not detected (expected entry %lld)", (long long)seq);
    assert_int_equal(json_integer_value(json_object_get(v, "first_bad_seq")), seq);
    const char *problem = json_string_value(json_object_get(v, "problem"));
    if (!strstr(problem, words))
        fail_msg("problem \"%s\" does not say \"%s\"", problem, words);
    json_decref(v);
}

static void test_altered_field(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    record_n(f, &f->sys, 6, 0);
    mops_err_t err;
    assert_int_equal(store_exec(f->db, NULL, &err,
                                "UPDATE audit_log SET actor = 'mallory' WHERE seq = 4", NULL),
                     0);
    expect_broken(f, 4, "entry 4 was altered");
}

static void test_altered_detail(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    record_n(f, &f->sys, 3, 0);
    mops_err_t err;
    assert_int_equal(store_exec(f->db, NULL, &err,
                                "UPDATE audit_log SET detail = '{\"i\":99}' WHERE seq = 1", NULL),
                     0);
    expect_broken(f, 1, "entry 1 was altered");
}

static void test_deleted_entry(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    record_n(f, &f->sys, 6, 0);
    mops_err_t err;
    assert_int_equal(store_exec(f->db, NULL, &err, "DELETE FROM audit_log WHERE seq = 3", NULL),
                     0);
    expect_broken(f, 3, "entry 3 is missing");
}

/* An attacker who also recomputes the altered entry's own hash is caught
 * by the next entry's link. */
static void test_rewritten_entry(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    record_n(f, &f->sys, 5, 0);
    mops_err_t err;
    assert_int_equal(store_exec(f->db, NULL, &err,
                                "UPDATE audit_log SET hash = "
                                "'1111111111111111111111111111111111111111111111111111111111111111'"
                                " WHERE seq = 2",
                                NULL),
                     0);
    /* Entry 2's stored hash no longer matches its contents: named. */
    expect_broken(f, 2, "entry 2 was altered");
}

static void test_list_visibility(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    json_t *out = NULL;
    tu_team(f, "a");
    tu_team(f, "b");
    mops_ctx_t risk = tu_as(f, "risky", "a", "[\"risk-officer\"]");
    mops_ctx_t view = tu_as(f, "viewy", "a", "[\"viewer\"]");
    int64_t team_a = risk.who->teams[0].team_id, team_b;
    mops_err_t err;
    assert_int_equal(auth_team_resolve(&f->sys, "b", &team_b, &err), 0);
    record_n(f, &f->sys, 4, team_a);
    record_n(f, &f->sys, 3, team_b);
    record_n(f, &view, 2, 0); /* viewy's own actions */

    audit_filter_t all = {.limit = 100};
    TU_OK(audit_list(&f->sys, &all, &out, &tu_err_));
    size_t everything = json_array_size(json_object_get(out, "items"));
    json_decref(out);
    assert_true(everything >= 9);

    /* Team a also holds its creation and two membership entries. */
    audit_filter_t fa = {.team = "a", .limit = 100};
    TU_OK(audit_list(&risk, &fa, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 4 + 3);
    json_decref(out);
    audit_filter_t fb = {.team = "b", .limit = 100};
    TU_OK(audit_list(&risk, &fb, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
    json_decref(out);
    /* A viewer reads no team entries, but sees their own actions. */
    TU_OK(audit_list(&view, &all, &out, &tu_err_));
    json_t *items = json_object_get(out, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "actor")),
                        "viewy");
    json_decref(out);
    /* Filters and pages. */
    audit_filter_t fu = {.action = "thing.update", .team = "a", .limit = 100};
    TU_OK(audit_list(&f->sys, &fu, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2);
    json_decref(out);
    audit_filter_t fp = {.action = "thing.", .team = "a", .limit = 100};
    TU_OK(audit_list(&f->sys, &fp, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 4);
    json_decref(out);
    audit_filter_t page = {.team = "a", .action = "thing.", .limit = 3};
    TU_OK(audit_list(&f->sys, &page, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 3);
    const char *next = json_string_value(json_object_get(out, "next_page_token"));
    assert_non_null(next);
    page.before_seq = atoll(next);
    json_decref(out);
    TU_OK(audit_list(&f->sys, &page, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    assert_true(json_is_null(json_object_get(out, "next_page_token")));
    json_decref(out);
}

static void test_denied_entries(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    mops_ctx_t anon = f->sys;
    mops_err_t err;
    TU_OK(audit_record_denied(&anon, "model.create", "/api/v1/models", 401, "no token", &tu_err_));
    json_t *out = NULL;
    audit_filter_t all = {.limit = 10};
    TU_OK(audit_list(&f->sys, &all, &out, &tu_err_));
    json_t *e = json_array_get(json_object_get(out, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "outcome")), "denied");
    assert_string_equal(json_string_value(json_object_get(e, "actor")), "anonymous");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "detail"), "status")),
                     401);
    json_decref(out);
    assert_false(store_in_tx(f->db));
    (void)err;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOTH(test_intact_chain),   TU_BOTH(test_altered_field),  TU_BOTH(test_altered_detail),
        TU_BOTH(test_deleted_entry),  TU_BOTH(test_rewritten_entry), TU_BOTH(test_list_visibility),
        TU_BOTH(test_denied_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
