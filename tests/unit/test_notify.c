/*
 * test_notify.c — notifications on SQLite and PostgreSQL: event filters,
 * sealed secrets, the outbox written only inside the change's transaction
 * and only for subscribed webhooks, webhook checks and permissions, and
 * delivery attempts to a receiver that refuses connections: logged,
 * retried with exponential backoff, given up after max_attempts.
 * (tests/e2e/test_notify.py delivers to a real HTTP receiver.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "testutil.h"
#include "core/time.h"
#include "notify/notify.h"
#include "notify/notify_int.h"

/* A loopback port nothing listens on. */
static int dead_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static void test_filters(void **state)
{
    (void)state;
    json_t *f = tu_json("[\"review.\", \"version.retired\"]");
    assert_true(notify_filter_matches(f, "review.requested"));
    assert_true(notify_filter_matches(f, "version.retired"));
    assert_false(notify_filter_matches(f, "version.stage_changed"));
    assert_false(notify_filter_matches(f, "reviews.x"));
    json_decref(f);
    f = tu_json("[\"*\"]");
    assert_true(notify_filter_matches(f, "anything.at_all"));
    json_decref(f);
    f = tu_json("[]");
    assert_false(notify_filter_matches(f, "ping"));
    json_decref(f);
}

static void test_secrets_are_sealed(void **state)
{
    (void)state;
    unsigned char key[NOTIFY_KEY_LEN], other[NOTIFY_KEY_LEN];
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    char *sealed = NULL, *plain = NULL;
    mops_err_t err;
    assert_int_equal(notify_secret_seal(key, "hunter2", &sealed, &err), 0);
    assert_null(strstr(sealed, "hunter2"));
    assert_int_equal(strncmp(sealed, "v1:", 3), 0);
    char *again = NULL;
    assert_int_equal(notify_secret_seal(key, "hunter2", &again, &err), 0);
    assert_string_not_equal(sealed, again); /* a fresh nonce each time */
    free(again);
    assert_int_equal(notify_secret_open(key, sealed, &plain, &err), 0);
    assert_string_equal(plain, "hunter2");
    free(plain);
    assert_int_equal(notify_secret_open(other, sealed, &plain, &err), MOPS_ECORRUPT);
    sealed[10] = sealed[10] == 'a' ? 'b' : 'a';
    assert_int_equal(notify_secret_open(key, sealed, &plain, &err), MOPS_ECORRUPT);
    assert_int_equal(notify_secret_open(key, "v1:zz", &plain, &err), MOPS_ECORRUPT);
    free(sealed);
}

static int count(tu_fixture_t *f, const char *sql)
{
    int64_t n = 0;
    TU_OK(store_query_int(f->db, &n, &tu_err_, sql, NULL));
    return (int)n;
}

static void hook(const mops_ctx_t *ctx, const char *body)
{
    json_t *out = NULL, *spec = tu_json(body);
    TU_OK(notify_webhook_create(ctx, "a", spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
}

static void test_outbox_and_webhooks(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    tu_team(f, "a");
    tu_team(f, "b");
    mops_ctx_t admin = tu_as(f, "ada", "a", "[\"admin\"]");
    mops_ctx_t mle = tu_as(f, "eve", "a", "[\"ml-engineer\"]");
    mops_ctx_t ds = tu_as(f, "dana", "a", "[\"data-scientist\"]");
    mops_ctx_t outsider = tu_as(f, "otto", "b", "[\"admin\"]");
    mops_err_t err;
    json_t *out = NULL, *spec;
    hook(&admin, "{\"name\":\"all\",\"url\":\"http://127.0.0.1:1/a\",\"secret\":\"topsecret\"}");
    hook(&admin, "{\"name\":\"reviews\",\"url\":\"https://example.com/r\",\"events\":"
                 "[\"review.\"]}");
    hook(&admin, "{\"name\":\"off\",\"url\":\"http://127.0.0.1:1/o\",\"enabled\":false}");
    /* The secret is stored sealed and never shown. */
    TU_OK(notify_webhook_get(&mle, "a", "all", &out, &tu_err_));
    assert_true(json_is_true(json_object_get(out, "has_secret")));
    assert_null(json_object_get(out, "secret"));
    json_decref(out);
    assert_int_equal(count(f, "SELECT count(*) FROM notify_webhooks WHERE secret LIKE "
                              "'%topsecret%'"),
                     0);
    /* Who may. */
    spec = tu_json("{\"name\":\"x\",\"url\":\"http://h/\"}");
    assert_int_equal(notify_webhook_create(&mle, "a", spec, &out, &err), MOPS_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "(webhook.manage)"));
    assert_int_equal(notify_webhook_create(&outsider, "a", spec, &out, &err), MOPS_ENOTFOUND);
    json_decref(spec);
    assert_int_equal(notify_webhook_list(&ds, "a", &out, &err), MOPS_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "(webhook.read)"));
    /* What a webhook may be. */
    static const struct {
        const char *body, *says;
    } bad[] = {
        {"{\"name\":\"x\",\"url\":\"ftp://h/\"}", "http:// or https://"},
        {"{\"name\":\"x\",\"url\":\"http://\"}", "with a host"},
        {"{\"name\":\"x\",\"url\":\"not a url\"}", "url"},
        {"{\"name\":\"x\",\"url\":\"http://h/\",\"events\":[]}", "events must list"},
        {"{\"name\":\"x\",\"url\":\"http://h/\",\"events\":[\"Review\"]}", "event \"Review\""},
        {"{\"name\":\"x\",\"url\":\"http://h/\",\"max_attempts\":0}", "max_attempts must be"},
        {"{\"name\":\"x\",\"url\":\"http://h/\",\"backoff_ms\":5}", "backoff_ms must be"},
        {"{\"name\":\"../x\",\"url\":\"http://h/\"}", "webhook name"},
        {"{\"name\":\"all\",\"url\":\"http://h/\"}", "already has a webhook named \"all\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        spec = tu_json(bad[i].body);
        int rc = notify_webhook_create(&admin, "a", spec, &out, &err);
        if (rc == 0 || !strstr(err.msg, bad[i].says))
            fail_msg("case %zu: %d %s", i, rc, rc ? err.msg : "accepted");
        json_decref(spec);
    }

    /* The outbox: only inside a transaction, only for who listens. */
    json_t *data = json_pack("{s:s}", "k", "v");
    assert_int_equal(notify_enqueue(&admin, 1, "review.requested", data, &err), MOPS_EINTERNAL);
    int64_t team_a = 0;
    TU_OK(store_query_int(f->db, &team_a, &tu_err_, "SELECT id FROM teams WHERE name = 'a'",
                          NULL));
    TU_OK(store_begin(f->db, &tu_err_));
    TU_OK(notify_enqueue(&admin, team_a, "review.requested", data, &tu_err_));
    TU_OK(notify_enqueue(&admin, team_a, "version.stage_changed", data, &tu_err_));
    TU_OK(store_commit(f->db, &tu_err_));
    /* a rolled-back change leaves no notification */
    TU_OK(store_begin(f->db, &tu_err_));
    TU_OK(notify_enqueue(&admin, team_a, "review.approved", data, &tu_err_));
    store_rollback(f->db);
    json_decref(data);
    assert_int_equal(count(f, "SELECT count(*) FROM notify_events"), 2);
    /* review.requested: "all" and "reviews"; stage_changed: "all"; "off" nothing */
    assert_int_equal(count(f, "SELECT count(*) FROM notify_deliveries"), 3);
    notify_delivery_filter_t flt = {.webhook = "reviews"};
    TU_OK(notify_delivery_list(&mle, "a", &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    flt = (notify_delivery_filter_t){.event = "version."};
    TU_OK(notify_delivery_list(&mle, "a", &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    flt = (notify_delivery_filter_t){.state = "lost"};
    assert_int_equal(notify_delivery_list(&mle, "a", &flt, &out, &err), MOPS_EINVAL);
    /* Deleting a webhook ends what it had pending, and frees its name. */
    TU_OK(notify_webhook_delete(&admin, "a", "reviews", &tu_err_));
    assert_int_equal(count(f, "SELECT count(*) FROM notify_deliveries WHERE state = 'failed' AND "
                              "last_error = 'the webhook was deleted'"),
                     1);
    hook(&admin, "{\"name\":\"reviews\",\"url\":\"http://127.0.0.1:1/r2\"}");
    assert_int_equal(notify_webhook_get(&mle, "a", "nope", &out, &err), MOPS_ENOTFOUND);
    /* Update: disable, change the secret, remove it. */
    spec = tu_json("{\"enabled\":false,\"secret\":\"\"}");
    TU_OK(notify_webhook_update(&admin, "a", "all", spec, &out, &tu_err_));
    assert_false(json_is_true(json_object_get(out, "enabled")));
    assert_false(json_is_true(json_object_get(out, "has_secret")));
    json_decref(out);
    json_decref(spec);
    assert_int_equal(notify_webhook_ping(&admin, "a", "all", &out, &err), MOPS_EPRECOND);
}

static void test_delivery_retries_and_gives_up(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    tu_team(f, "a");
    mops_ctx_t admin = tu_as(f, "ada", "a", "[\"admin\"]");
    char body[200];
    snprintf(body, sizeof body,
             "{\"name\":\"dead\",\"url\":\"http://127.0.0.1:%d/x\",\"secret\":\"s\","
             "\"max_attempts\":3,\"backoff_ms\":100}",
             dead_port());
    json_t *out = NULL, *spec = tu_json(body);
    TU_OK(notify_webhook_create(&admin, "a", spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    TU_OK(notify_webhook_ping(&admin, "a", "dead", &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(out, "state")), "pending");
    assert_string_equal(json_string_value(json_object_get(out, "event")), "ping");
    json_decref(out);
    int done = 0;
    int64_t t0 = mops_now_ms();
    TU_OK(notify_run_once(f->st, &f->env, &done, &tu_err_));
    assert_int_equal(done, 1);
    /* Logged, and the next attempt 100 ms on. */
    notify_delivery_filter_t flt = {0};
    TU_OK(notify_delivery_list(&admin, "a", &flt, &out, &tu_err_));
    json_t *d = json_array_get(json_object_get(out, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "state")), "pending");
    assert_int_equal(json_integer_value(json_object_get(d, "attempts")), 1);
    json_t *a1 = json_array_get(json_object_get(d, "attempt_log"), 0);
    assert_true(json_is_null(json_object_get(a1, "status")));
    assert_non_null(strstr(json_string_value(json_object_get(a1, "error")), "onnect"));
    json_decref(out);
    int64_t next = 0;
    TU_OK(store_query_int(f->db, &next, &tu_err_,
                          "SELECT next_attempt_at FROM notify_deliveries", NULL));
    assert_true(next >= t0 + 100 && next <= mops_now_ms() + 100);
    /* Not due yet: nothing sent. */
    TU_OK(notify_run_once(f->st, &f->env, &done, &tu_err_));
    assert_int_equal(done, 0);
    /* Then twice more, the second wait doubled, and it gives up. */
    usleep(120 * 1000);
    TU_OK(notify_run_once(f->st, &f->env, &done, &tu_err_));
    assert_int_equal(done, 1);
    int64_t after2 = mops_now_ms(), next2 = 0;
    TU_OK(store_query_int(f->db, &next2, &tu_err_,
                          "SELECT next_attempt_at FROM notify_deliveries", NULL));
    assert_true(next2 >= after2 + 150 && next2 <= after2 + 200);
    usleep(220 * 1000);
    TU_OK(notify_run_once(f->st, &f->env, &done, &tu_err_));
    assert_int_equal(done, 1);
    TU_OK(notify_delivery_list(&admin, "a", &flt, &out, &tu_err_));
    d = json_array_get(json_object_get(out, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "state")), "failed");
    assert_int_equal(json_array_size(json_object_get(d, "attempt_log")), 3);
    assert_non_null(strstr(json_string_value(json_object_get(d, "last_error")),
                           "gave up after 3 attempts"));
    assert_false(json_is_null(json_object_get(d, "finished_at")));
    json_decref(out);
    TU_OK(notify_run_once(f->st, &f->env, &done, &tu_err_));
    assert_int_equal(done, 0);
    TU_OK(notify_webhook_get(&admin, "a", "dead", &out, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "failed")), 1);
    json_decref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_secrets_are_sealed),
        TU_BOTH(test_outbox_and_webhooks),
        TU_BOTH(test_delivery_retries_and_gives_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
