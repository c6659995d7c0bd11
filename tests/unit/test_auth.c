/*
 * test_auth.c — the auth module on SQLite and PostgreSQL: token life cycle
 * and every way authentication refuses, the permission matrix role by role,
 * teams and memberships, users, bootstrap, and docs/security.md kept equal
 * to the matrix in code.
 */
#include <sys/stat.h>

#include "testutil.h"
#include "audit/audit.h"
#include "core/fs.h"
#include "core/time.h"

static void test_roles(void **state)
{
    (void)state;
    unsigned r;
    mops_err_t err;
    assert_int_equal(auth_role_parse("risk-officer", &r, &err), 0);
    assert_int_equal(r, AUTH_ROLE_RISK_OFFICER);
    assert_string_equal(auth_role_name(AUTH_ROLE_FINOPS), "finops");
    assert_int_equal(auth_role_parse("root", &r, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "unknown role \"root\""));
    assert_non_null(strstr(err.msg, "data-scientist"));
}

static void test_authenticate_refusals(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    mops_err_t err;
    auth_principal_t *who;
    json_t *out = NULL, *spec;
    tu_team(f, "t1");
    mops_ctx_t bob = tu_as(f, "bob", "t1", "[\"viewer\"]");
    assert_string_equal(bob.who->user, "bob");
    assert_false(bob.who->is_admin);
    assert_int_equal(bob.who->nteams, 1);
    assert_int_equal(bob.who->teams[0].roles, AUTH_ROLE_VIEWER);
    assert_string_equal(bob.who->teams[0].team, "t1");

    assert_int_equal(auth_authenticate(f->db, NULL, f->arena, &who, NULL, &err), MOPS_EUNAUTH);
    assert_non_null(strstr(err.msg, "no API token"));
    assert_int_equal(auth_authenticate(f->db, "mops_xyz", f->arena, &who, NULL, &err), MOPS_EUNAUTH);
    assert_non_null(strstr(err.msg, "malformed"));
    char fake[AUTH_TOKEN_LEN + 1] = "mops_";
    memset(fake + 5, 'a', 64);
    fake[AUTH_TOKEN_LEN] = 0;
    assert_int_equal(auth_authenticate(f->db, fake, f->arena, &who, NULL, &err), MOPS_EUNAUTH);
    assert_non_null(strstr(err.msg, "unknown"));

    /* Revoked. */
    spec = json_pack("{s:s}", "name", "laptop");
    TU_OK(auth_token_create(&bob, spec, &out, &tu_err_));
    json_decref(spec);
    char tok[AUTH_TOKEN_LEN + 1];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(out, "token")));
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    assert_int_equal(auth_authenticate(f->db, tok, f->arena, &who, NULL, &err), 0);
    TU_OK(auth_token_revoke(&bob, id, &tu_err_));
    assert_int_equal(auth_authenticate(f->db, tok, f->arena, &who, NULL, &err), MOPS_EUNAUTH);
    assert_non_null(strstr(err.msg, "revoked"));
    TU_OK(auth_token_revoke(&bob, id, &tu_err_)); /* idempotent */

    /* Expired: set the expiry into the past directly. */
    spec = json_pack("{s:s, s:i}", "name", "short", "expires_in_days", 1);
    TU_OK(auth_token_create(&bob, spec, &out, &tu_err_));
    json_decref(spec);
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(out, "token")));
    assert_int_equal(store_exec(f->db, NULL, &err, "UPDATE tokens SET expires_at = 1 WHERE id = ?",
                                "i", (int64_t)json_integer_value(json_object_get(out, "id"))),
                     0);
    json_decref(out);
    assert_int_equal(auth_authenticate(f->db, tok, f->arena, &who, NULL, &err), MOPS_EUNAUTH);
    assert_non_null(strstr(err.msg, "expired at 1970-01-01"));

    /* Disabled user: every token refused. */
    spec = json_pack("{s:s}", "name", "again");
    TU_OK(auth_token_create(&bob, spec, &out, &tu_err_));
    json_decref(spec);
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(out, "token")));
    json_decref(out);
    spec = json_pack("{s:b}", "disabled", 1);
    TU_OK(auth_user_update(&f->sys, "bob", spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    assert_int_equal(auth_authenticate(f->db, tok, f->arena, &who, NULL, &err), MOPS_EUNAUTH);
    assert_non_null(strstr(err.msg, "disabled"));
}

static void test_tokens_stored_hashed(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    mops_ctx_t carol = tu_as(f, "carol", NULL, NULL);
    json_t *out = NULL, *spec = json_pack("{s:s}", "name", "ci");
    TU_OK(auth_token_create(&carol, spec, &out, &tu_err_));
    json_decref(spec);
    char tok[AUTH_TOKEN_LEN + 1];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(out, "token")));
    assert_int_equal(strlen(tok), AUTH_TOKEN_LEN);
    /* The secret appears nowhere in the database, only its SHA-256. */
    char hash[MOPS_SHA256_HEX];
    mops_sha256_hex(tok, strlen(tok), hash);
    mops_err_t err;
    int64_t n = -1;
    assert_int_equal(store_query_int(f->db, &n, &err,
                                     "SELECT count(*) FROM tokens WHERE hash = ? OR hash = ?",
                                     "tt", hash, tok),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(store_query_int(f->db, &n, &err,
                                     "SELECT count(*) FROM tokens WHERE hash = ?", "t", tok),
                     0);
    assert_int_equal(n, 0);
    json_decref(out);

    /* Lists never show secrets; other users' tokens need admin. */
    TU_OK(auth_token_list(&carol, NULL, &out, &tu_err_));
    char *s = json_dumps(out, 0);
    assert_null(strstr(s, tok + 13));
    free(s);
    json_decref(out);
    mops_ctx_t dave = tu_as(f, "dave", NULL, NULL);
    assert_int_equal(auth_token_list(&dave, "carol", &out, &err), MOPS_EFORBIDDEN);
    spec = json_pack("{s:s, s:s}", "name", "x", "user", "carol");
    assert_int_equal(auth_token_create(&dave, spec, &out, &err), MOPS_EFORBIDDEN);
    json_decref(spec);
    /* dave cannot revoke carol's token and cannot even see it exists. */
    assert_int_equal(auth_token_revoke(&dave, 1, &err), MOPS_ENOTFOUND);

    /* Bad expiry inputs. */
    spec = tu_json("{\"name\":\"x\",\"expires_in_days\":0}");
    assert_int_equal(auth_token_create(&carol, spec, &out, &err), MOPS_EINVAL);
    json_decref(spec);
    spec = tu_json("{\"name\":\"x\",\"expires_at\":\"2001-01-01T00:00:00Z\"}");
    assert_int_equal(auth_token_create(&carol, spec, &out, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "in the past"));
    json_decref(spec);
    spec = tu_json("{\"name\":\"x\",\"expires_at\":\"tomorrow\"}");
    assert_int_equal(auth_token_create(&carol, spec, &out, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "RFC 3339"));
    json_decref(spec);
    spec = tu_json("{\"name\":\"\"}");
    assert_int_equal(auth_token_create(&carol, spec, &out, &err), MOPS_EINVAL);
    json_decref(spec);
}

/* The permission matrix, role by role, for one team-scoped permission. */
static void test_matrix(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    tu_team(f, "a");
    tu_team(f, "b");
    int64_t team_b = 0;
    mops_err_t err;
    assert_int_equal(auth_team_resolve(&f->sys, "b", &team_b, &err), 0);
    static const struct {
        const char *role;
        int model_write, version_download, audit_read, team_manage, audit_verify;
    } expect[] = {
        {"admin", 1, 1, 1, 1, 1},        {"data-scientist", 1, 1, 0, 0, 0},
        {"ml-engineer", 1, 1, 0, 0, 0},  {"risk-officer", 0, 1, 1, 0, 1},
        {"finops", 0, 0, 0, 0, 0},       {"viewer", 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        char user[32], roles[64];
        snprintf(user, sizeof user, "u%zu", i);
        snprintf(roles, sizeof roles, "[\"%s\"]", expect[i].role);
        mops_ctx_t c = tu_as(f, user, "a", roles);
        int64_t team_a = c.who->teams[0].team_id;
        assert_int_equal(auth_can(c.who, AUTH_MODEL_READ, team_a), 1);
        assert_int_equal(auth_can(c.who, AUTH_MODEL_WRITE, team_a), expect[i].model_write);
        assert_int_equal(auth_can(c.who, AUTH_VERSION_DOWNLOAD, team_a),
                         expect[i].version_download);
        assert_int_equal(auth_can(c.who, AUTH_AUDIT_READ, team_a), expect[i].audit_read);
        assert_int_equal(auth_can(c.who, AUTH_TEAM_MANAGE, team_a), expect[i].team_manage);
        assert_int_equal(auth_can(c.who, AUTH_AUDIT_VERIFY, 0), expect[i].audit_verify);
        /* Nothing in another team, however strong the role. */
        assert_int_equal(auth_can(c.who, AUTH_MODEL_READ, team_b), 0);
        assert_int_equal(auth_can(c.who, AUTH_TEAM_CREATE, 0), 0);
        assert_int_equal(auth_can(c.who, AUTH_USER_READ, 0), 1);
        if (!expect[i].model_write) {
            assert_int_equal(auth_require(&c, AUTH_MODEL_WRITE, team_a, &err), MOPS_EFORBIDDEN);
            assert_non_null(strstr(err.msg, "model.write"));
            assert_non_null(strstr(err.msg, "in team a"));
        }
        assert_int_equal(auth_require(&c, AUTH_MODEL_READ, team_b, &err), MOPS_EFORBIDDEN);
        assert_non_null(strstr(err.msg, "not a member"));
    }
    /* Global admins may do anything; so may the server itself. */
    assert_int_equal(auth_can(NULL, AUTH_TEAM_CREATE, 0), 1);
}

static void test_teams_and_members(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    json_t *out = NULL, *spec;
    mops_err_t err;
    TU_OK(auth_team_create(&f->sys, (spec = tu_json("{\"name\":\"risk\",\"description\":\"R\"}")),
                           &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(out, "name")), "risk");
    json_decref(out);
    assert_int_equal(auth_team_create(&f->sys, spec, &out, &err), MOPS_ECONFLICT);
    assert_non_null(strstr(err.msg, "already exists"));
    json_decref(spec);
    spec = tu_json("{\"name\":\"../x\"}");
    assert_int_equal(auth_team_create(&f->sys, spec, &out, &err), MOPS_EINVAL);
    json_decref(spec);
    spec = tu_json("{\"name\":\"ok\",\"extra\":1}");
    assert_int_equal(auth_team_create(&f->sys, spec, &out, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "unknown field \"extra\""));
    json_decref(spec);

    mops_ctx_t lead = tu_as(f, "lead", "risk", "[\"admin\"]");
    mops_ctx_t ann = tu_as(f, "ann", "risk", "[\"viewer\"]");
    /* Team admins manage members; others may not; roles replace. */
    spec = tu_json("{\"roles\":[\"risk-officer\",\"viewer\"]}");
    TU_OK(auth_member_set(&lead, "risk", "ann", spec, &out, &tu_err_));
    json_t *roles = json_object_get(json_object_get(out, "members"), "ann");
    assert_int_equal(json_array_size(roles), 2);
    json_decref(out);
    assert_int_equal(auth_member_set(&ann, "risk", "lead", spec, &out, &err), MOPS_EFORBIDDEN);
    json_decref(spec);
    spec = tu_json("{\"roles\":[\"wizard\"]}");
    assert_int_equal(auth_member_set(&lead, "risk", "ann", spec, &out, &err), MOPS_EINVAL);
    json_decref(spec);
    spec = tu_json("{\"roles\":[]}");
    assert_int_equal(auth_member_set(&lead, "risk", "ann", spec, &out, &err), MOPS_EINVAL);
    json_decref(spec);
    spec = tu_json("{\"roles\":[\"viewer\"]}");
    assert_int_equal(auth_member_set(&lead, "risk", "nobody", spec, &out, &err), MOPS_ENOTFOUND);
    json_decref(spec);
    /* Non-members see no such team. */
    mops_ctx_t out_of_team = tu_as(f, "eve", NULL, NULL);
    assert_int_equal(auth_team_get(&out_of_team, "risk", &out, &err), MOPS_ENOTFOUND);
    TU_OK(auth_team_list(&out_of_team, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
    json_decref(out);
    TU_OK(auth_member_remove(&lead, "risk", "ann", &tu_err_));
    assert_int_equal(auth_member_remove(&lead, "risk", "ann", &err), MOPS_ENOTFOUND);
}

static void test_users(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    json_t *out = NULL, *spec;
    mops_err_t err;
    spec = tu_json("{\"name\":\"zoe\",\"email\":\"not-an-email\"}");
    assert_int_equal(auth_user_create(&f->sys, spec, &out, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "email"));
    json_decref(spec);
    mops_ctx_t zed = tu_as(f, "zed", NULL, NULL);
    spec = tu_json("{\"name\":\"x\"}");
    assert_int_equal(auth_user_create(&zed, spec, &out, &err), MOPS_EFORBIDDEN);
    json_decref(spec);
    /* Users edit their own display name; not their admin flag. */
    spec = tu_json("{\"display_name\":\"Zed Z\"}");
    TU_OK(auth_user_update(&zed, "zed", spec, &out, &tu_err_));
    json_decref(out);
    json_decref(spec);
    spec = tu_json("{\"admin\":true}");
    assert_int_equal(auth_user_update(&zed, "zed", spec, &out, &err), MOPS_EFORBIDDEN);
    json_decref(spec);
    spec = tu_json("{\"email\":\"z@example.com\"}");
    assert_int_equal(auth_user_update(&zed, "admin", spec, &out, &err), MOPS_EFORBIDDEN);
    json_decref(spec);
    TU_OK(auth_user_get(&zed, "zed", &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(out, "display_name")), "Zed Z");
    json_decref(out);
    assert_int_equal(auth_user_get(&zed, "nobody", &out, &err), MOPS_ENOTFOUND);
}

static void test_bootstrap(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    char path[600], tok[AUTH_TOKEN_LEN + 1], tok2[AUTH_TOKEN_LEN + 1];
    snprintf(path, sizeof path, "%s/admin-token", f->dir);
    int created = 0;
    TU_OK(auth_bootstrap(&f->sys, path, tok, &created, &tu_err_));
    assert_int_equal(created, 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *text;
    size_t len;
    mops_err_t err;
    assert_int_equal(mops_read_file(path, 1024, &text, &len, &err), 0);
    assert_int_equal(strncmp(text, tok, AUTH_TOKEN_LEN), 0);
    free(text);
    auth_principal_t *who;
    assert_int_equal(auth_authenticate(f->db, tok, f->arena, &who, NULL, &err), 0);
    assert_true(who->is_admin);
    /* Only once: a second start leaves everything alone. */
    TU_OK(auth_bootstrap(&f->sys, path, tok2, &created, &tu_err_));
    assert_int_equal(created, 0);
    json_t *v = NULL;
    TU_OK(audit_verify(f->db, &v, &tu_err_));
    assert_true(json_is_true(json_object_get(v, "ok")));
    json_decref(v);
}

/* docs/security.md carries the matrix generated from perm.c, verbatim. */
static void test_docs_match_matrix(void **state)
{
    (void)state;
    char *doc;
    size_t len;
    mops_err_t err;
    if (mops_read_file("docs/security.md", 1 << 20, &doc, &len, &err) != 0)
        fail_msg("run from the repository root: %s", err.msg);
    char *table = auth_matrix_markdown();
    if (!strstr(doc, table))
        fail_msg("docs/security.md does not hold the permission matrix of src/auth/perm.c: "
                 "run scripts/gen-security-matrix.sh");
    free(table);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        TU_BOTH(test_authenticate_refusals),
        TU_BOTH(test_tokens_stored_hashed),
        TU_BOTH(test_matrix),
        TU_BOTH(test_teams_and_members),
        TU_BOTH(test_users),
        TU_BOTH(test_bootstrap),
        cmocka_unit_test(test_docs_match_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
