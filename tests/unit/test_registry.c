/*
 * test_registry.c — the registry on SQLite and PostgreSQL: models and their
 * validation, artifact uploads (content addressing, limits, aborts),
 * versions (numbering under concurrency, lineage checks, cross-team
 * artifacts refused), aliases, archiving rules, corruption on disk found.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

#include "testutil.h"
#include "audit/audit.h"
#include "registry/registry.h"

/* Two teams, a data scientist in "a", a viewer in "a", an outsider in "b". */
typedef struct {
    mops_ctx_t ds, viewer, outsider;
} people_t;

static people_t setup_people(tu_fixture_t *f)
{
    tu_team(f, "a");
    tu_team(f, "b");
    people_t p;
    p.ds = tu_as(f, "dana", "a", "[\"data-scientist\"]");
    p.viewer = tu_as(f, "vic", "a", "[\"viewer\"]");
    p.outsider = tu_as(f, "otto", "b", "[\"admin\"]");
    return p;
}

static void create_model(const mops_ctx_t *ctx, const char *body)
{
    json_t *out = NULL, *spec = tu_json(body);
    TU_OK(registry_model_create(ctx, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
}

/* Upload bytes to team/model; returns the hash in sha (65 bytes). */
static int upload(const mops_ctx_t *ctx, const char *team, const char *model, const char *data,
                  size_t n, char *sha, mops_err_t *err)
{
    registry_upload_t *u;
    int rc = registry_upload_begin(ctx, team, model, ctx->env->max_upload, &u, err);
    if (rc != 0)
        return rc;
    /* In two pieces, as HTTP delivers it. */
    if ((rc = registry_upload_write(u, data, n / 2, err)) != 0 ||
        (rc = registry_upload_write(u, data + n / 2, n - n / 2, err)) != 0) {
        registry_upload_abort(u);
        return rc;
    }
    json_t *out = NULL;
    if ((rc = registry_upload_finish(ctx, u, &out, err)) == 0) {
        snprintf(sha, 65, "%s", json_string_value(json_object_get(out, "sha256")));
        json_decref(out);
    }
    return rc;
}

static int new_version(const mops_ctx_t *ctx, const char *team, const char *model,
                       const char *sha, const char *extra, json_t **out, mops_err_t *err)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"artifact_sha256\":\"%s\",\"format\":\"custom\"%s%s}",
             sha, extra ? "," : "", extra ? extra : "");
    json_t *spec = tu_json(body);
    int rc = registry_version_create(ctx, team, model, spec, out, err);
    json_decref(spec);
    return rc;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void test_model_create_and_validate(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    TU_OK(registry_artifacts_init(&f->env, &tu_err_));
    people_t p = setup_people(f);
    create_model(&p.ds, "{\"team\":\"a\",\"name\":\"churn\",\"risk_tier\":\"high\","
                        "\"purpose\":\"retain\",\"tags\":[\"x\",\"y\"]}");
    json_t *out = NULL, *spec;
    mops_err_t err;
    TU_OK(registry_model_get(&p.viewer, "a", "churn", &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(out, "owner")), "dana");
    assert_string_equal(json_string_value(json_object_get(out, "created_by")), "dana");
    assert_int_equal(json_array_size(json_object_get(out, "tags")), 2);
    json_decref(out);

    static const struct {
        const char *body;
        int rc;
        const char *says;
    } bad[] = {
        {"{\"team\":\"a\",\"name\":\"churn\",\"risk_tier\":\"high\"}", MOPS_ECONFLICT,
         "already has a model named \"churn\""},
        {"{\"team\":\"a\",\"name\":\"m\"}", MOPS_EINVAL, "\"risk_tier\" is required"},
        {"{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"extreme\"}", MOPS_EINVAL,
         "low, medium or high"},
        {"{\"team\":\"a\",\"name\":\"../m\",\"risk_tier\":\"low\"}", MOPS_EINVAL, "model name"},
        {"{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\",\"colour\":1}", MOPS_EINVAL,
         "unknown field \"colour\""},
        {"{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":3}", MOPS_EINVAL, "must be a string"},
        {"{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\",\"owner\":\"otto\"}", MOPS_EINVAL,
         "not a member"},
        {"{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\",\"owner\":\"ghost\"}", MOPS_EINVAL,
         "not a user"},
        {"{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\",\"tags\":[\"a b\"]}", MOPS_EINVAL,
         "tag"},
        {"{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\",\"tags\":[\"t\",\"t\"]}",
         MOPS_EINVAL, "twice"},
        {"{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\",\"description\":\"\\u0007\"}",
         MOPS_EINVAL, "control character"},
        {"{\"team\":\"zz\",\"name\":\"m\",\"risk_tier\":\"low\"}", MOPS_ENOTFOUND, "no team"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        spec = tu_json(bad[i].body);
        int rc = registry_model_create(&p.ds, spec, &out, &err);
        if (rc != bad[i].rc || !strstr(err.msg, bad[i].says))
            fail_msg("%s: got %d \"%s\", want %d \"%s\"", bad[i].body, rc, err.msg, bad[i].rc,
                     bad[i].says);
        json_decref(spec);
    }
    /* The same name in another team is another model. */
    create_model(&p.outsider, "{\"team\":\"b\",\"name\":\"churn\",\"risk_tier\":\"low\"}");
    /* Roles and isolation. */
    spec = tu_json("{\"team\":\"a\",\"name\":\"m2\",\"risk_tier\":\"low\"}");
    assert_int_equal(registry_model_create(&p.viewer, spec, &out, &err), MOPS_EFORBIDDEN);
    assert_int_equal(registry_model_create(&p.outsider, spec, &out, &err), MOPS_ENOTFOUND);
    json_decref(spec);
    assert_int_equal(registry_model_get(&p.outsider, "a", "churn", &out, &err), MOPS_ENOTFOUND);
    registry_model_filter_t filt = {.limit = 50};
    TU_OK(registry_model_list(&p.outsider, &filt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
}

static void test_model_update_archive(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    TU_OK(registry_artifacts_init(&f->env, &tu_err_));
    people_t p = setup_people(f);
    create_model(&p.ds, "{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\",\"tags\":[\"t\"]}");
    json_t *out = NULL, *spec = tu_json("{\"owner\":\"vic\",\"risk_tier\":\"medium\",\"tags\":[]}");
    mops_err_t err;
    TU_OK(registry_model_update(&p.ds, "a", "m", spec, &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(out, "owner")), "vic");
    assert_string_equal(json_string_value(json_object_get(out, "risk_tier")), "medium");
    assert_int_equal(json_array_size(json_object_get(out, "tags")), 0);
    json_decref(out);
    assert_int_equal(registry_model_update(&p.viewer, "a", "m", spec, &out, &err),
                     MOPS_EFORBIDDEN);
    TU_OK(registry_model_archive(&p.ds, "a", "m", &out, &tu_err_));
    assert_true(json_is_true(json_object_get(out, "archived")));
    json_decref(out);
    assert_int_equal(registry_model_update(&p.ds, "a", "m", spec, &out, &err), MOPS_EPRECOND);
    json_decref(spec);
    registry_upload_t *u;
    assert_int_equal(registry_upload_begin(&p.ds, "a", "m", 100, &u, &err), MOPS_EPRECOND);
    /* Archived models are listed only when asked. */
    registry_model_filter_t active = {.limit = 50}, archived = {.archived = 1, .limit = 50};
    TU_OK(registry_model_list(&p.ds, &active, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
    json_decref(out);
    TU_OK(registry_model_list(&p.ds, &archived, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
}

static void test_uploads(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    TU_OK(registry_artifacts_init(&f->env, &tu_err_));
    people_t p = setup_people(f);
    create_model(&p.ds, "{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\"}");
    char sha[65], sha2[65], tmpdir[600];
    mops_err_t err;
    TU_OK(upload(&p.ds, "a", "m", "hello world", 11, sha, &tu_err_));
    char want[MOPS_SHA256_HEX];
    mops_sha256_hex("hello world", 11, want);
    assert_string_equal(sha, want);
    char path[800];
    snprintf(path, sizeof path, "%s/sha256/%.2s/%s", f->artifacts, sha, sha + 2);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 11);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Same bytes again: stored once. */
    TU_OK(upload(&p.ds, "a", "m", "hello world", 11, sha2, &tu_err_));
    assert_string_equal(sha, sha2);
    snprintf(tmpdir, sizeof tmpdir, "%s/sha256/%.2s", f->artifacts, sha);
    assert_int_equal(count_files(tmpdir), 1);
    /* Limits, empties, permissions; nothing left in tmp/. */
    f->env.max_upload = 8;
    assert_int_equal(upload(&p.ds, "a", "m", "0123456789", 10, sha2, &err), MOPS_ETOOBIG);
    f->env.max_upload = 1 << 20;
    assert_int_equal(upload(&p.ds, "a", "m", "", 0, sha2, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(upload(&p.viewer, "a", "m", "x", 1, sha2, &err), MOPS_EFORBIDDEN);
    assert_int_equal(upload(&p.outsider, "a", "m", "x", 1, sha2, &err), MOPS_ENOTFOUND);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", f->artifacts);
    assert_int_equal(count_files(tmpdir), 0);
    /* A crash leaves a temporary file; start-up removes it. */
    snprintf(path, sizeof path, "%s/upload-crashed", tmpdir);
    FILE *fp = fopen(path, "w");
    fputs("partial", fp);
    fclose(fp);
    TU_OK(registry_artifacts_init(&f->env, &tu_err_));
    assert_int_equal(count_files(tmpdir), 0);
}

static void test_versions(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    TU_OK(registry_artifacts_init(&f->env, &tu_err_));
    people_t p = setup_people(f);
    create_model(&p.ds, "{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\"}");
    create_model(&p.outsider, "{\"team\":\"b\",\"name\":\"theirs\",\"risk_tier\":\"low\"}");
    char sha[65], other[65];
    mops_err_t err;
    json_t *out = NULL;
    TU_OK(upload(&p.ds, "a", "m", "v1 bytes", 8, sha, &tu_err_));
    TU_OK(upload(&p.outsider, "b", "theirs", "secret of b", 11, other, &tu_err_));
    TU_OK(new_version(&p.ds, "a", "m", sha,
                      "\"metrics\":{\"auc\":0.9},\"environment\":{\"python\":\"3.11\"},"
                      "\"source\":{\"commit\":\"c0ffee\"},\"params\":{\"eta\":0.1},"
                      "\"dataset\":\"ds@1\",\"tags\":[\"x\"]",
                      &out, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(out, "stage")), "draft");
    json_decref(out);
    /* Another team's artifact is refused even with its hash in hand. */
    assert_int_equal(new_version(&p.ds, "a", "m", other, NULL, &out, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "was not uploaded to team a"));
    static const struct {
        const char *extra;
        const char *says;
    } bad[] = {
        {"\"metrics\":{\"auc\":\"high\"}", "finite number"},
        {"\"environment\":{\"python\":3}", "must be a string"},
        {"\"source\":{\"branch\":\"x\"}", "unknown field \"branch\""},
        {"\"params\":[1]", "must be an object"},
        {"\"format\":\"X Y\"", "format"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[400];
        snprintf(body, sizeof body, "{\"artifact_sha256\":\"%s\",%s%s}", sha, bad[i].extra,
                 strstr(bad[i].extra, "format") ? "" : ",\"format\":\"onnx\"");
        json_t *spec = tu_json(body);
        if (registry_version_create(&p.ds, "a", "m", spec, &out, &err) != MOPS_EINVAL ||
            !strstr(err.msg, bad[i].says))
            fail_msg("%s: got \"%s\"", body, err.msg);
        json_decref(spec);
    }
    assert_int_equal(new_version(&p.ds, "a", "m", "abc", NULL, &out, &err), MOPS_EINVAL);
    assert_int_equal(new_version(&p.viewer, "a", "m", sha, NULL, &out, &err), MOPS_EFORBIDDEN);
    /* Failed attempts consumed no numbers. */
    TU_OK(new_version(&p.ds, "a", "m", sha, NULL, &out, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
    json_decref(out);

    /* Aliases, latest, archiving. */
    json_t *spec = tu_json("{\"version\":1}");
    TU_OK(registry_alias_set(&p.ds, "a", "m", "champion", spec, &out, &tu_err_));
    json_decref(out);
    assert_int_equal(registry_alias_set(&p.ds, "a", "m", "7", spec, &out, &err), MOPS_EINVAL);
    assert_int_equal(registry_alias_set(&p.ds, "a", "m", "latest", spec, &out, &err),
                     MOPS_EINVAL);
    assert_int_equal(registry_alias_set(&p.viewer, "a", "m", "x", spec, &out, &err),
                     MOPS_EFORBIDDEN);
    json_decref(spec);
    TU_OK(registry_version_get(&p.viewer, "a", "m", "champion", &out, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 1);
    json_decref(out);
    TU_OK(registry_version_get(&p.viewer, "a", "m", "latest", &out, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
    json_decref(out);
    assert_int_equal(registry_version_get(&p.viewer, "a", "m", "9", &out, &err), MOPS_ENOTFOUND);
    assert_int_equal(registry_version_archive(&p.ds, "a", "m", "1", &out, &err), MOPS_EPRECOND);
    assert_non_null(strstr(err.msg, "champion"));
    TU_OK(registry_version_archive(&p.ds, "a", "m", "2", &out, &tu_err_));
    json_decref(out);
    TU_OK(registry_version_get(&p.viewer, "a", "m", "latest", &out, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 1);
    json_decref(out);
    spec = tu_json("{\"version\":2}");
    assert_int_equal(registry_alias_set(&p.ds, "a", "m", "champion", spec, &out, &err),
                     MOPS_EPRECOND);
    json_decref(spec);
    TU_OK(registry_alias_delete(&p.ds, "a", "m", "champion", &tu_err_));
    assert_int_equal(registry_alias_delete(&p.ds, "a", "m", "champion", &err), MOPS_ENOTFOUND);
}

static void test_download_verifies(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    TU_OK(registry_artifacts_init(&f->env, &tu_err_));
    people_t p = setup_people(f);
    create_model(&p.ds, "{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\"}");
    char sha[65], got[65];
    json_t *out = NULL;
    mops_err_t err;
    TU_OK(upload(&p.ds, "a", "m", "precious bytes", 14, sha, &tu_err_));
    TU_OK(new_version(&p.ds, "a", "m", sha, NULL, &out, &tu_err_));
    json_decref(out);
    int fd;
    int64_t size;
    TU_OK(registry_version_open_artifact(&p.ds, "a", "m", "1", &fd, &size, got, &tu_err_));
    char buf[32] = "";
    assert_int_equal(read(fd, buf, sizeof buf), 14);
    assert_memory_equal(buf, "precious bytes", 14);
    close(fd);
    assert_string_equal(got, sha);
    assert_int_equal(registry_version_open_artifact(&p.viewer, "a", "m", "1", &fd, &size, got,
                                                    &err),
                     MOPS_EFORBIDDEN);
    /* Flip one byte on disk: the download is refused as corrupt. */
    char path[800];
    snprintf(path, sizeof path, "%s/sha256/%.2s/%s", f->artifacts, sha, sha + 2);
    FILE *fp = fopen(path, "r+");
    fputc('X', fp); /* was 'p' */
    fclose(fp);
    assert_int_equal(registry_version_open_artifact(&p.ds, "a", "m", "1", &fd, &size, got, &err),
                     MOPS_ECORRUPT);
    assert_non_null(strstr(err.msg, "damaged"));
    unlink(path);
    assert_int_equal(registry_version_open_artifact(&p.ds, "a", "m", "1", &fd, &size, got, &err),
                     MOPS_ECORRUPT);
    assert_non_null(strstr(err.msg, "missing"));
}

/* Concurrent uploads to one model get distinct, contiguous numbers. */
#define THREADS 4
#define EACH 10

typedef struct {
    tu_fixture_t *f;
    const auth_principal_t *who;
    const char *sha;
    int failures;
} worker_t;

static void *version_worker(void *arg)
{
    worker_t *w = arg;
    store_conn_t *db;
    mops_err_t err;
    if (store_conn_acquire(w->f->st, &db, &err) != 0) {
        w->failures = EACH;
        return NULL;
    }
    mops_arena_t *arena = mops_arena_new();
    mops_ctx_t ctx = {.db = db, .who = w->who, .arena = arena, .env = &w->f->env,
                      .request_id = "thread"};
    for (int i = 0; i < EACH; i++) {
        json_t *out = NULL;
        if (new_version(&ctx, "a", "m", w->sha, NULL, &out, &err) != 0) {
            fprintf(stderr, "worker: %s\n", err.msg);
            w->failures++;
        }
        json_decref(out);
    }
    mops_arena_free(arena);
    store_conn_release(db);
    return NULL;
}

static void test_concurrent_numbering(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    TU_OK(registry_artifacts_init(&f->env, &tu_err_));
    people_t p = setup_people(f);
    create_model(&p.ds, "{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"low\"}");
    char sha[65];
    TU_OK(upload(&p.ds, "a", "m", "shared", 6, sha, &tu_err_));
    pthread_t t[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){f, p.ds.who, sha, 0};
        pthread_create(&t[i], NULL, version_worker, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    int64_t n = 0, mx = 0, distinct = 0;
    mops_err_t err;
    assert_int_equal(store_query_int(f->db, &n, &err, "SELECT count(*) FROM versions", NULL), 0);
    assert_int_equal(store_query_int(f->db, &mx, &err, "SELECT max(number) FROM versions", NULL),
                     0);
    assert_int_equal(store_query_int(f->db, &distinct, &err,
                                     "SELECT count(DISTINCT number) FROM versions", NULL),
                     0);
    assert_int_equal(n, THREADS * EACH);
    assert_int_equal(mx, THREADS * EACH);
    assert_int_equal(distinct, THREADS * EACH);
    json_t *v = NULL;
    TU_OK(audit_verify(f->db, &v, &tu_err_));
    assert_true(json_is_true(json_object_get(v, "ok")));
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOTH(test_model_create_and_validate), TU_BOTH(test_model_update_archive),
        TU_BOTH(test_uploads),                   TU_BOTH(test_versions),
        TU_BOTH(test_download_verifies),         TU_BOTH(test_concurrent_numbering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
