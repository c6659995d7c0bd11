/*
 * test_data.c — the data module on SQLite and PostgreSQL: registering
 * files (uploads in odd pieces, content addressing, schema inference,
 * profiles against values computed here), every kind of bad file refused
 * with its line and nothing left behind, declared schemas, schema changes
 * between versions, PII suggestions and their enforcement (masking,
 * downloads by role, audit), quality suites with Great Expectations'
 * semantics (nulls, mostly, uniqueness through temporary files), and
 * lineage with the seams for serving and governance.
 */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "core/fs.h"
#include "audit/audit.h"
#include "data/data.h"
#include "data/data_int.h"
#include "registry/registry.h"
#include "store/blob.h"

/* Team "a": a data scientist, an ML engineer, a risk officer, a viewer;
 * team "b": an outsider who holds every role there. */
typedef struct {
    mops_ctx_t ds, mle, risk, viewer, outsider;
} people_t;

static people_t setup(tu_fixture_t *f)
{
    mops_err_t err;
    if (store_blob_init(f->env.artifact_dir, &err) != 0)
        fail_msg("blob init: %s", err.msg);
    tu_team(f, "a");
    tu_team(f, "b");
    people_t p;
    p.ds = tu_as(f, "dana", "a", "[\"data-scientist\"]");
    p.mle = tu_as(f, "mel", "a", "[\"ml-engineer\"]");
    p.risk = tu_as(f, "rita", "a", "[\"risk-officer\"]");
    p.viewer = tu_as(f, "vic", "a", "[\"viewer\"]");
    p.outsider = tu_as(f, "otto", "b",
                       "[\"admin\",\"data-scientist\",\"ml-engineer\",\"risk-officer\"]");
    return p;
}

static void make_dataset(const mops_ctx_t *ctx, const char *team, const char *name)
{
    char body[200];
    snprintf(body, sizeof body, "{\"team\":\"%s\",\"name\":\"%s\"}", team, name);
    json_t *out = NULL, *spec = tu_json(body);
    TU_OK(data_dataset_create(ctx, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
}

/* Upload bytes in pieces of `piece` bytes (as HTTP delivers them). */
static int upload(const mops_ctx_t *ctx, const char *team, const char *name, const char *data,
                  size_t n, size_t piece, json_t **out, mops_err_t *err)
{
    data_upload_t *u;
    int rc = data_upload_begin(ctx, team, name, INT64_MAX, &u, err);
    if (rc != 0)
        return rc;
    for (size_t off = 0; off < n; off += piece) {
        size_t len = n - off < piece ? n - off : piece;
        if ((rc = data_upload_write(u, data + off, len, err)) != 0) {
            data_upload_abort(u);
            return rc;
        }
    }
    return data_upload_finish(ctx, u, out, err);
}

/* Upload and create a version; extra is more of the version's JSON body. */
static int register_csv(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *csv, const char *extra, json_t **out, mops_err_t *err)
{
    json_t *up = NULL;
    int rc = upload(ctx, team, name, csv, strlen(csv), 7, &up, err);
    if (rc != 0)
        return rc;
    char body[4096];
    snprintf(body, sizeof body, "{\"sha256\":\"%s\"%s%s}",
             json_string_value(json_object_get(up, "sha256")), extra ? "," : "",
             extra ? extra : "");
    json_decref(up);
    json_t *spec = tu_json(body);
    rc = data_version_create(ctx, team, name, spec, out, err);
    json_decref(spec);
    return rc;
}

static json_t *must_register(const mops_ctx_t *ctx, const char *team, const char *name,
                             const char *csv, const char *extra)
{
    json_t *out = NULL;
    TU_OK(register_csv(ctx, team, name, csv, extra, &out, &tu_err_));
    return out;
}

static int count_files(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "find '%s' -type f | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

static int64_t count_rows(tu_fixture_t *f, const char *table)
{
    char sql[120];
    int64_t n = -1;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    mops_err_t err;
    assert_int_equal(store_query_int(f->db, &n, &err, sql, NULL), 0);
    return n;
}

static const json_t *column(const json_t *profile_or_schema, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(profile_or_schema, "columns"), i, c) {
        if (!strcmp(json_string_value(json_object_get(c, "name")), name))
            return c;
    }
    fail_msg("no column %s", name);
    return NULL;
}

/* ------------------------------------------------------------ registering */

static const char *FILE1 =
    "id,amount,when,flag,city,note\n"
    "1,12.5,2024-01-01,true,Paris,\"has, comma\"\n"
    "2,-3,2024-01-02T10:00:00Z,false,Oslo,\"two\nlines\"\n"
    "3,,2024-01-03 08:30:00+02:00,TRUE,Paris,\n"
    "4,1e3,2024-02-29,False,Lima,\"quote \"\"q\"\"\"\n"
    "5,0.25,2024-03-01,true,Paris,NA\n";

static void test_register(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    make_dataset(&f->sys, "a", "by-the-system"); /* no user behind it */
    make_dataset(&p.ds, "a", "sales");
    json_t *v = must_register(&p.ds, "a", "sales", FILE1,
                              "\"description\":\"first\",\"source_uri\":\"s3://b/k.csv\","
                              "\"tags\":[\"raw\"]");
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "rows")), 5);
    assert_string_equal(json_string_value(json_object_get(v, "ref")), "dataset:a/sales@1");
    json_t *schema = json_object_get(v, "schema");
    static const char *const want[][3] = {
        {"id", "integer", "0"},     {"amount", "float", "1"}, {"when", "timestamp", "0"},
        {"flag", "boolean", "0"},   {"city", "string", "0"},  {"note", "string", "1"},
    };
    for (size_t i = 0; i < 6; i++) {
        const json_t *c = column(schema, want[i][0]);
        assert_string_equal(json_string_value(json_object_get(c, "type")), want[i][1]);
        assert_int_equal(json_is_true(json_object_get(c, "nullable")), want[i][2][0] == '1');
    }
    json_decref(v);
    /* the profile: exact moments of what the file holds */
    json_t *prof = NULL;
    TU_OK(data_version_profile(&p.viewer, "a", "sales", "1", &prof, &tu_err_));
    const json_t *amount = column(prof, "amount");
    double xs[] = {12.5, -3, 1000, 0.25}, mean = 0, ss = 0;
    for (int i = 0; i < 4; i++)
        mean += xs[i] / 4;
    for (int i = 0; i < 4; i++)
        ss += (xs[i] - mean) * (xs[i] - mean);
    assert_true(fabs(json_number_value(json_object_get(amount, "mean")) - mean) < 1e-12);
    assert_true(fabs(json_number_value(json_object_get(amount, "std")) - sqrt(ss / 3)) < 1e-9);
    assert_true(json_number_value(json_object_get(amount, "min")) == -3);
    assert_true(json_number_value(json_object_get(amount, "max")) == 1000);
    assert_int_equal(json_integer_value(json_object_get(amount, "missing")), 1);
    const json_t *city = column(prof, "city");
    json_t *top = json_array_get(json_object_get(city, "top"), 0);
    assert_string_equal(json_string_value(json_object_get(top, "value")), "Paris");
    assert_int_equal(json_integer_value(json_object_get(top, "count")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(city, "distinct"),
                                                        "estimate")), 3);
    const json_t *when = column(prof, "when");
    assert_string_equal(json_string_value(json_object_get(when, "min")),
                        "2024-01-01T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(when, "max")),
                        "2024-03-01T00:00:00.000Z");
    assert_int_equal(json_integer_value(json_object_get(column(prof, "flag"), "true")), 3);
    json_decref(prof);

    /* identical bytes are stored once, for every team that uploads them */
    char blobs[600];
    snprintf(blobs, sizeof blobs, "%s/sha256", f->artifacts);
    int before = count_files(blobs);
    json_t *up = NULL;
    TU_OK(upload(&p.ds, "a", "sales", FILE1, strlen(FILE1), 1000, &up, &tu_err_));
    assert_true(json_is_true(json_object_get(up, "already_stored")));
    json_decref(up);
    make_dataset(&p.outsider, "b", "copy");
    TU_OK(upload(&p.outsider, "b", "copy", FILE1, strlen(FILE1), 3, &up, &tu_err_));
    assert_true(json_is_false(json_object_get(up, "already_stored")));
    char sha[65];
    snprintf(sha, sizeof sha, "%s", json_string_value(json_object_get(up, "sha256")));
    json_decref(up);
    assert_int_equal(count_files(blobs), before);

    /* a team may only use files it uploaded */
    make_dataset(&p.ds, "a", "other");
    json_t *spec = json_pack("{s:s}", "sha256", "0000000000000000000000000000000000000000000000"
                                                "000000000000000000");
    mops_err_t err;
    assert_int_equal(data_version_create(&p.ds, "a", "other", spec, &v, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "was not uploaded to team a"));
    json_decref(spec);

    /* version 2: a column removed, one added, one retyped, one now nullable */
    v = must_register(&p.ds, "a", "sales",
                      "id,amount,when,flag,city,score\n"
                      "x1,1.5,2024-01-01,true,Rome,0.5\n"
                      "x2,,2024-01-01,false,,1\n",
                      NULL);
    json_t *ch = json_object_get(v, "schema_changes");
    assert_int_equal(json_integer_value(json_object_get(ch, "against")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
                            json_object_get(ch, "added"), 0), "name")), "score");
    assert_string_equal(json_string_value(json_object_get(json_array_get(
                            json_object_get(ch, "removed"), 0), "name")), "note");
    json_t *re = json_array_get(json_object_get(ch, "retyped"), 0);
    assert_string_equal(json_string_value(json_object_get(re, "name")), "id");
    assert_string_equal(json_string_value(json_object_get(re, "from")), "integer");
    assert_string_equal(json_string_value(json_object_get(re, "to")), "string");
    assert_int_equal(json_array_size(json_object_get(ch, "nullability")), 1);
    json_decref(v);
    TU_OK(data_version_diff(&p.viewer, "a", "sales", "2", "1", &v, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "rows"), "from")), 5);
    assert_int_equal(json_array_size(json_object_get(v, "retyped")), 1);
    json_decref(v);
    assert_int_equal(data_version_diff(&p.viewer, "a", "sales", "1", NULL, &v, &err), MOPS_EINVAL);

    /* versions, latest, archive; roles */
    data_version_filter_t vf = {.limit = 50};
    TU_OK(data_version_list(&p.viewer, "a", "sales", &vf, &v, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(v, "items")), 2);
    json_decref(v);
    TU_OK(data_version_archive(&p.ds, "a", "sales", "2", &v, &tu_err_));
    json_decref(v);
    TU_OK(data_version_get(&p.viewer, "a", "sales", "latest", &v, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 1);
    json_decref(v);
    spec = tu_json("{\"description\":\"x\"}");
    assert_int_equal(data_version_update(&p.ds, "a", "sales", "2", spec, &v, &err), MOPS_EPRECOND);
    assert_int_equal(data_version_update(&p.viewer, "a", "sales", "1", spec, &v, &err),
                     MOPS_EFORBIDDEN);
    assert_int_equal(data_version_get(&p.outsider, "a", "sales", "1", &v, &err), MOPS_ENOTFOUND);
    json_decref(spec);
    data_dataset_filter_t df = {.limit = 50};
    TU_OK(data_dataset_list(&p.outsider, &df, &v, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(v, "items")), 1); /* b/copy only */
    json_decref(v);
    TU_OK(data_dataset_get(&p.viewer, "a", "by-the-system", &v, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(v, "created_by")), "system");
    json_decref(v);
    TU_OK(data_dataset_archive(&p.ds, "a", "sales", &v, &tu_err_));
    json_decref(v);
    data_upload_t *u;
    assert_int_equal(data_upload_begin(&p.ds, "a", "sales", 100, &u, &err), MOPS_EPRECOND);
    json_t *av = NULL;
    TU_OK(audit_verify(f->db, &av, &tu_err_));
    assert_true(json_is_true(json_object_get(av, "ok")));
    json_decref(av);
    (void)sha;
}

/* ------------------------------------------------------------ bad files */

static void test_bad_files(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    make_dataset(&p.ds, "a", "d");
    static const struct {
        const char *name, *csv, *says;
    } bad[] = {
        {"ragged row", "a,b\n1,2\n3,4,5\n6,7\n", "line 3: 3 fields where the header has 2"},
        {"short row", "a,b\n1,2\n3\n", "line 3: 1 field where the header has 2"},
        {"quote in a field", "a,b\n1,2\n3,4\"x\n", "line 3: malformed quoting"},
        {"text after a quote", "a,b\n1,\"2\"x\n", "line 2: malformed quoting"},
        {"unclosed quote", "a,b\n1,2\n3,\"4\n5,6\n", "line 3: a quoted field is not closed"},
        {"invalid UTF-8", "a,b\n1,2\n3,\xC3\x28\n", "line 3: the value of column \"b\" is not "
                                                    "valid UTF-8"},
        {"overlong UTF-8", "a,b\n1,\xC0\xAF\n", "line 2: the value of column \"b\" is not valid"},
        {"NUL byte", "a,b\n1,x\0y\n", "line 2: the value of column \"b\" holds a NUL byte"},
        {"empty file", "", "is empty: a dataset file needs a header row"},
        {"blank lines only", "\n\n\n", "is empty"},
        {"duplicate names", "id,x,id\n1,2,3\n", "line 1: columns 1 and 3 have the same name \"id\""},
        {"unnamed column", "a,,c\n1,2,3\n", "line 1: column 2 has no name"},
        {"bad header UTF-8", "a,\xFF\n1,2\n", "line 1: the name of column 2 is not valid UTF-8"},
    };
    char blobs[600], tmp[600];
    snprintf(blobs, sizeof blobs, "%s/sha256", f->artifacts);
    snprintf(tmp, sizeof tmp, "%s/tmp", f->artifacts);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i].csv);
        if (!strcmp(bad[i].name, "NUL byte")) /* the text goes on after its NUL */
            n += 1 + strlen(bad[i].csv + n + 1);
        for (size_t piece = 1; piece <= 4096; piece *= 64) {
            json_t *out = NULL;
            mops_err_t err;
            int rc = upload(&p.ds, "a", "d", bad[i].csv, n, piece, &out, &err);
            if (rc != MOPS_EINVAL || !strstr(err.msg, bad[i].says))
                fail_msg("%s (pieces of %zu): got %d \"%s\", want \"%s\"", bad[i].name, piece,
                         rc, err.msg, bad[i].says);
        }
    }
    /* a field of a gigabyte: refused at the field limit, read no further */
    data_upload_t *u;
    mops_err_t err;
    TU_OK(data_upload_begin(&p.ds, "a", "d", INT64_MAX, &u, &tu_err_));
    TU_OK(data_upload_write(u, "a,b\n1,2\n3,\"", 11, &tu_err_));
    char *chunk = mops_xmalloc(1 << 20);
    memset(chunk, 'x', 1 << 20);
    for (int i = 0; i < 1024; i++)
        TU_OK(data_upload_write(u, chunk, 1 << 20, &tu_err_));
    free(chunk);
    json_t *out = NULL;
    assert_int_equal(data_upload_finish(&p.ds, u, &out, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "line 3: a field is longer than 1048576 bytes"));
    /* too many columns */
    mops_buf_t wide = MOPS_BUF_INIT;
    for (int i = 0; i <= DATA_COLUMNS_MAX; i++)
        mops_buf_printf(&wide, "%sc%d", i ? "," : "", i);
    mops_buf_puts(&wide, "\n");
    assert_int_equal(upload(&p.ds, "a", "d", wide.data, wide.len, 65536, &out, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "line 1: 4097 columns"));
    mops_buf_release(&wide);
    /* the upload limit is the request's: 413; a bad file does not lift it */
    TU_OK(data_upload_begin(&p.ds, "a", "d", 10, &u, &tu_err_));
    assert_int_equal(data_upload_write(u, "a,b\n1,2\n3,4\n", 12, &err), MOPS_ETOOBIG);
    data_upload_abort(u);
    TU_OK(data_upload_begin(&p.ds, "a", "d", 30, &u, &tu_err_));
    TU_OK(data_upload_write(u, "a,a\n1,2\n", 8, &tu_err_)); /* bad: dropped from now on */
    TU_OK(data_upload_write(u, "3,4\n5,6\n7,8\n9,0\n", 16, &tu_err_));
    assert_int_equal(data_upload_write(u, "1,2\n3,4\n", 8, &err), MOPS_ETOOBIG);
    data_upload_abort(u);
    /* nothing was kept: no rows, no files, no temporary files */
    assert_int_equal(count_rows(f, "dataset_files"), 0);
    assert_int_equal(count_rows(f, "dataset_uploads"), 0);
    assert_int_equal(count_files(blobs), 0);
    assert_int_equal(count_files(tmp), 0);
    /* a header alone is a dataset of no rows */
    json_t *v = must_register(&p.ds, "a", "d", "x,y\n", NULL);
    assert_int_equal(json_integer_value(json_object_get(v, "rows")), 0);
    assert_string_equal(json_string_value(json_object_get(column(json_object_get(v, "schema"), "x"),
                                                          "type")), "string");
    json_decref(v);
    /* BOM and CRLF are fine */
    v = must_register(&p.ds, "a", "d", "\xEF\xBB\xBFx,y\r\n1,2\r\n", NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
                            json_object_get(json_object_get(v, "schema"), "columns"), 0), "name")),
                        "x");
    json_decref(v);
}

/* ------------------------------------------------------------ declared schemas */

static void test_declared_schema(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    make_dataset(&p.ds, "a", "d");
    const char *csv = "zip,n,ok\n02134,1,true\n10001,,false\n9021x,3,true\n";
    static const struct {
        const char *schema, *says;
    } bad[] = {
        {"{\"columns\":[{\"name\":\"zip\",\"type\":\"integer\"},{\"name\":\"n\",\"type\":\"integer\"},"
         "{\"name\":\"ok\",\"type\":\"boolean\"}]}",
         "column \"zip\" is declared integer but line 4 holds \"9021x\""},
        {"{\"columns\":[{\"name\":\"zip\",\"type\":\"string\"},{\"name\":\"n\",\"type\":\"integer\","
         "\"nullable\":false},{\"name\":\"ok\",\"type\":\"boolean\"}]}",
         "column \"n\" is declared not nullable but line 3 has no value"},
        {"{\"columns\":[{\"name\":\"zip\",\"type\":\"string\"},{\"name\":\"n\",\"type\":\"integer\"}]}",
         "the declared schema has 2 columns but the file has 3"},
        {"{\"columns\":[{\"name\":\"zip\",\"type\":\"string\"},{\"name\":\"m\",\"type\":\"integer\"},"
         "{\"name\":\"ok\",\"type\":\"boolean\"}]}",
         "schema column 2 is named \"m\" but the file's column 2 is \"n\""},
        {"{\"columns\":[{\"name\":\"zip\",\"type\":\"text\"},{\"name\":\"n\",\"type\":\"integer\"},"
         "{\"name\":\"ok\",\"type\":\"boolean\"}]}",
         "type \"text\" is not one of integer"},
        {"{\"columns\":[{\"name\":\"zip\",\"type\":\"string\",\"size\":5},{\"name\":\"n\","
         "\"type\":\"integer\"},{\"name\":\"ok\",\"type\":\"boolean\"}]}",
         "unknown field \"size\""},
        {"{\"cols\":[]}", "unknown field \"cols\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[1200];
        snprintf(extra, sizeof extra, "\"schema\":%s", bad[i].schema);
        json_t *out = NULL;
        mops_err_t err;
        int rc = register_csv(&p.ds, "a", "d", csv, extra, &out, &err);
        if (rc != MOPS_EINVAL || !strstr(err.msg, bad[i].says))
            fail_msg("%s: got %d \"%s\", want \"%s\"", bad[i].schema, rc, err.msg, bad[i].says);
    }
    assert_int_equal(count_rows(f, "dataset_versions"), 0);
    /* zip codes as strings, counts as floats: declared types win */
    json_t *v = must_register(&p.ds, "a", "d", csv,
                              "\"schema\":{\"columns\":[{\"name\":\"zip\",\"type\":\"string\"},"
                              "{\"name\":\"n\",\"type\":\"float\"},{\"name\":\"ok\","
                              "\"type\":\"boolean\",\"nullable\":false}]}");
    assert_string_equal(json_string_value(json_object_get(v, "schema_source")), "declared");
    json_decref(v);
    json_t *prof = NULL;
    TU_OK(data_version_profile(&p.ds, "a", "d", "1", &prof, &tu_err_));
    const json_t *zip = column(prof, "zip");
    assert_string_equal(json_string_value(json_object_get(zip, "type")), "string");
    assert_int_equal(json_array_size(json_object_get(zip, "top")), 3); /* as written */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(zip, "top"), 0), "value")), "02134");
    assert_string_equal(json_string_value(json_object_get(column(prof, "n"), "type")), "float");
    json_decref(prof);
}

/* ------------------------------------------------------------ PII */

static const char *PEOPLE =
    "customer_id,full_name,email,phone,card,ssn,iban,signup,score,ip,amount\n"
    "1001,Ann Lee,ann@example.com,+1 415 555 0100,4111 1111 1111 1111,123-45-6789,"
    "GB82 WEST 1234 5698 7654 32,2024-01-02,0.5,10.0.0.1,12.50\n"
    "1002,Bob Ray,bob.ray@mail.example.org,(212) 555-0199,5500-0000-0000-0004,219-09-9999,"
    "DE89370400440532013000,2024-01-03,0.7,192.168.1.20,3.25\n"
    "1003,Cy Ng,cy+tag@example.co.uk,020 7946 0958,340000000000009,078-05-1120,"
    "FR1420041010050500013M02606,2024-01-04,0.1,172.16.0.3,99.99\n";

static int has_tag(const json_t *v, const char *col, const char *tag, const char *state)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(v, "column_tags"), col), i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "tag")), tag) &&
            (!state || !strcmp(json_string_value(json_object_get(t, "state")), state)))
            return 1;
    }
    return 0;
}

static void test_pii(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    make_dataset(&p.ds, "a", "people");
    json_t *v = must_register(&p.ds, "a", "people", PEOPLE,
                              "\"column_tags\":{\"customer_id\":[\"pii:id\"]}");
    assert_true(has_tag(v, "email", "pii:email", "suggested"));
    assert_true(has_tag(v, "phone", "pii:phone", "suggested"));
    assert_true(has_tag(v, "card", "pii:card", "suggested"));
    assert_true(has_tag(v, "ssn", "pii:id", "suggested"));
    assert_true(has_tag(v, "iban", "pii:id", "suggested"));
    assert_true(has_tag(v, "full_name", "pii:name", "suggested"));
    assert_true(has_tag(v, "customer_id", "pii:id", "confirmed"));
    /* no false alarms on dates, decimals, IP addresses, scores */
    static const char *const clean[] = {"signup", "score", "ip", "amount"};
    for (size_t i = 0; i < 4; i++)
        assert_null(json_object_get(json_object_get(v, "column_tags"), clean[i]));
    assert_int_equal(json_array_size(json_object_get(v, "pii_suggestions")), 6);
    json_decref(v);
    for (const char *s = "4111111111111112"; s; s = NULL) /* Luhn fails */
        assert_int_equal(dt_pii_detect(s, strlen(s)), 0);
    assert_int_equal(dt_pii_detect("2024-01-02", 10), 0);
    assert_int_equal(dt_pii_detect("000-12-3456", 11), 0); /* no SSN has area 000 */
    assert_int_equal(dt_pii_detect("AB123456C", 9), PII_NATIONAL_ID);
    assert_int_equal(dt_pii_detect("not@an@email", 12), 0);

    /* samples: masked for those without dataset.download_pii */
    json_t *s = NULL;
    TU_OK(data_version_sample(&p.mle, "a", "people", "1", 2, &s, &tu_err_));
    json_t *row = json_array_get(json_object_get(s, "rows"), 0);
    assert_string_equal(json_string_value(json_array_get(row, 2)), "***");
    assert_string_equal(json_string_value(json_array_get(row, 7)), "2024-01-02");
    assert_int_equal(json_array_size(json_object_get(s, "rows")), 2);
    json_decref(s);
    int64_t audits = count_rows(f, "audit_log");
    TU_OK(data_version_sample(&p.ds, "a", "people", "1", 5, &s, &tu_err_));
    row = json_array_get(json_object_get(s, "rows"), 0);
    assert_string_equal(json_string_value(json_array_get(row, 2)), "ann@example.com");
    assert_int_equal(json_array_size(json_object_get(s, "rows")), 3);
    json_decref(s);
    assert_int_equal(count_rows(f, "audit_log"), audits + 1); /* unmasked export audited */
    /* profiles leave out the values of PII columns */
    TU_OK(data_version_profile(&p.viewer, "a", "people", "1", &s, &tu_err_));
    assert_null(json_object_get(column(s, "email"), "top"));
    assert_true(json_is_true(json_object_get(column(s, "email"), "redacted")));
    assert_non_null(json_object_get(column(s, "score"), "quantiles"));
    json_decref(s);

    /* downloads: the matrix decides, each one audited */
    int fd;
    int64_t size;
    char sha[65];
    mops_err_t err;
    assert_int_equal(data_version_open(&p.mle, "a", "people", "1", &fd, &size, sha, &err),
                     MOPS_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "dataset.download_pii"));
    assert_int_equal(data_version_open(&p.viewer, "a", "people", "1", &fd, &size, sha, &err),
                     MOPS_EFORBIDDEN);
    audits = count_rows(f, "audit_log");
    TU_OK(data_version_open(&p.risk, "a", "people", "1", &fd, &size, sha, &tu_err_));
    close(fd);
    assert_int_equal(size, (int64_t)strlen(PEOPLE));
    assert_int_equal(count_rows(f, "audit_log"), audits + 1);
    audit_filter_t af = {.action = "dataset.download", .limit = 10};
    json_t *entries = NULL;
    TU_OK(audit_list(&f->sys, &af, &entries, &tu_err_));
    json_t *e = json_array_get(json_object_get(entries, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "actor")), "rita");
    assert_int_equal(json_array_size(json_object_get(json_object_get(e, "detail"), "pii_columns")),
                     7);
    json_decref(entries);

    /* taking a PII tag off needs dataset.classify; adding one dataset.write */
    json_t *spec = tu_json("{\"columns\":{\"phone\":[]}}");
    assert_int_equal(data_column_tags_set(&p.ds, "a", "people", "1", spec, &v, &err),
                     MOPS_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "dataset.classify"));
    assert_non_null(strstr(err.msg, "pii:phone"));
    assert_int_equal(data_column_tags_set(&p.viewer, "a", "people", "1", spec, &v, &err),
                     MOPS_EFORBIDDEN);
    TU_OK(data_column_tags_set(&p.risk, "a", "people", "1", spec, &v, &tu_err_));
    assert_null(json_object_get(json_object_get(v, "column_tags"), "phone"));
    json_decref(v);
    json_decref(spec);
    spec = tu_json("{\"columns\":{\"score\":[\"sensitive\"]}}");
    assert_int_equal(data_column_tags_set(&p.risk, "a", "people", "1", spec, &v, &err),
                     MOPS_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "dataset.write"));
    TU_OK(data_column_tags_set(&p.ds, "a", "people", "1", spec, &v, &tu_err_));
    assert_true(has_tag(v, "score", "sensitive", "confirmed"));
    json_decref(v);
    json_decref(spec);
    /* confirming what is there takes either role */
    spec = tu_json("{\"columns\":{\"card\":[\"pii:card\"]}}");
    TU_OK(data_column_tags_set(&p.risk, "a", "people", "1", spec, &v, &tu_err_));
    assert_true(has_tag(v, "card", "pii:card", "confirmed"));
    json_decref(v);
    json_decref(spec);
    spec = tu_json("{\"columns\":{\"email\":[\"pii:email\",\"gdpr\"]}}");
    TU_OK(data_column_tags_set(&p.ds, "a", "people", "1", spec, &v, &tu_err_));
    assert_true(has_tag(v, "email", "pii:email", "confirmed"));
    assert_true(has_tag(v, "email", "gdpr", "confirmed"));
    json_decref(v);
    json_decref(spec);
    spec = tu_json("{\"columns\":{\"nope\":[\"x\"]}}");
    assert_int_equal(data_column_tags_set(&p.ds, "a", "people", "1", spec, &v, &err),
                     MOPS_EINVAL);
    json_decref(spec);
    spec = tu_json("{\"columns\":{\"email\":[\"bad tag\"]}}");
    assert_int_equal(data_column_tags_set(&p.ds, "a", "people", "1", spec, &v, &err),
                     MOPS_EINVAL);
    json_decref(spec);

    /* the next version keeps the tags of its columns */
    v = must_register(&p.ds, "a", "people", "email,score\nx@example.com,1\n", NULL);
    assert_true(has_tag(v, "email", "pii:email", "confirmed"));
    assert_true(has_tag(v, "score", "sensitive", "confirmed"));
    json_decref(v);

    /* the seams: PII columns for serving, quality for governance */
    data_ref_t ref;
    TU_OK(data_ref_parse("dataset:a/people@1", &ref, &tu_err_));
    TU_OK(data_pii_columns(&f->sys, &ref, &s, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(s, "columns")), 7);
    json_decref(s);
    assert_int_equal(data_ref_parse("dataset:a/people", &ref, &err), MOPS_EINVAL);
    assert_int_equal(data_ref_parse("a/people@1", &ref, &err), MOPS_EINVAL);
    assert_int_equal(data_ref_parse("dataset:a/people@0", &ref, &err), MOPS_EINVAL);
    assert_int_equal(data_ref_parse("dataset:../x@1", &ref, &err), MOPS_EINVAL);
    assert_string_equal(data_pii_mask("pii:email", "ann@example.com"), "***");
}

/* ------------------------------------------------------------ quality */

static json_t *run_suite(const mops_ctx_t *ctx, const char *suite)
{
    json_t *spec = tu_json(suite), *out = NULL;
    TU_OK(data_suite_set(ctx, "a", "q", spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    TU_OK(data_validation_run(ctx, "a", "q", "latest", &out, &tu_err_));
    return out;
}

static const json_t *result_of(const json_t *res, size_t i)
{
    return json_object_get(json_array_get(json_object_get(res, "results"), i), "result");
}

static int success_of(const json_t *res, size_t i)
{
    return json_is_true(json_object_get(json_array_get(json_object_get(res, "results"), i),
                                        "success"));
}

static void test_quality(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    make_dataset(&p.ds, "a", "q");
    mops_err_t err;
    json_t *out = NULL;
    assert_int_equal(data_validation_run(&p.ds, "a", "q", "1", &out, &err), MOPS_ENOTFOUND);
    json_decref(must_register(&p.ds, "a", "q",
                              "id,age,city,code,email\n"
                              "1,34,Paris,A-1,a@x.com\n"
                              "2,,Oslo,B-2,b@x.com\n"
                              "2,151,Paris,c3,not-an-email\n"
                              "4,-1,Rome,D-4,\n"
                              "5,40,,E-5,e@x.com\n",
                              "\"column_tags\":{\"email\":[\"pii:email\"]}"));
    assert_int_equal(data_validation_run(&p.ds, "a", "q", "1", &out, &err), MOPS_EPRECOND);
    assert_non_null(strstr(err.msg, "no quality suite"));
    json_t *res = run_suite(
        &p.ds,
        "{\"expectation_suite_name\":\"s\",\"expectations\":["
        "{\"expectation_type\":\"expect_column_to_exist\",\"kwargs\":{\"column\":\"age\"}},"
        "{\"expectation_type\":\"expect_column_to_exist\",\"kwargs\":{\"column\":\"height\"}},"
        "{\"expectation_type\":\"expect_column_values_to_not_be_null\",\"kwargs\":{\"column\":"
        "\"age\",\"mostly\":0.8}},"
        "{\"expectation_type\":\"expect_column_values_to_be_between\",\"kwargs\":{\"column\":"
        "\"age\",\"min_value\":0,\"max_value\":120}},"
        "{\"type\":\"expect_column_values_to_be_in_set\",\"kwargs\":{\"column\":\"city\","
        "\"value_set\":[\"Paris\",\"Oslo\"]}},"
        "{\"expectation_type\":\"expect_column_values_to_be_unique\",\"kwargs\":{\"column\":\"id\"}},"
        "{\"expectation_type\":\"expect_column_values_to_match_regex\",\"kwargs\":{\"column\":"
        "\"code\",\"regex\":\"^[A-Z]-\\\\d$\",\"mostly\":0.75}},"
        "{\"expectation_type\":\"expect_column_values_to_be_of_type\",\"kwargs\":{\"column\":"
        "\"age\",\"type_\":\"int64\"}},"
        "{\"expectation_type\":\"expect_table_row_count_to_be_between\",\"kwargs\":{\"min_value\":"
        "5,\"max_value\":5}},"
        "{\"expectation_type\":\"expect_column_mean_to_be_between\",\"kwargs\":{\"column\":\"age\","
        "\"min_value\":50,\"max_value\":60}},"
        "{\"expectation_type\":\"expect_column_values_to_match_regex\",\"kwargs\":{\"column\":"
        "\"email\",\"regex\":\"@\"}},"
        "{\"expectation_type\":\"expect_column_values_to_be_between\",\"kwargs\":{\"column\":"
        "\"nope\",\"min_value\":0}}"
        "]}");
    assert_false(json_is_true(json_object_get(res, "success")));
    assert_true(success_of(res, 0));
    assert_false(success_of(res, 1)); /* no such column */
    /* not_null: 1 of 5 missing, mostly 0.8: 4/5 = 0.8 >= 0.8 */
    assert_true(success_of(res, 2));
    assert_int_equal(json_integer_value(json_object_get(result_of(res, 2), "unexpected_count")), 1);
    assert_int_equal(json_integer_value(json_array_get(
                         json_object_get(result_of(res, 2), "partial_unexpected_lines"), 0)), 3);
    assert_true(json_is_null(json_array_get(
        json_object_get(result_of(res, 2), "partial_unexpected_list"), 0)));
    /* between: nulls are not considered; 151 and -1 are out: 2 of 4 */
    const json_t *b = result_of(res, 3);
    assert_false(success_of(res, 3));
    assert_int_equal(json_integer_value(json_object_get(b, "element_count")), 5);
    assert_int_equal(json_integer_value(json_object_get(b, "missing_count")), 1);
    assert_int_equal(json_integer_value(json_object_get(b, "unexpected_count")), 2);
    assert_true(json_number_value(json_object_get(b, "unexpected_percent")) == 50.0);
    assert_true(json_number_value(json_object_get(b, "unexpected_percent_total")) == 40.0);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(b, "partial_unexpected_list"), 0)), "151");
    assert_int_equal(json_integer_value(json_array_get(
                         json_object_get(b, "partial_unexpected_index_list"), 1)), 3);
    assert_int_equal(json_integer_value(json_array_get(
                         json_object_get(b, "partial_unexpected_lines"), 1)), 5);
    /* in_set: Rome is out; the missing city is not counted */
    assert_int_equal(json_integer_value(json_object_get(result_of(res, 4), "unexpected_count")), 1);
    /* unique: both 2s are unexpected */
    assert_int_equal(json_integer_value(json_object_get(result_of(res, 5), "unexpected_count")), 2);
    /* regex, mostly 0.75: c3 fails, 4/5 = 0.8 */
    assert_true(success_of(res, 6));
    assert_true(success_of(res, 7));
    assert_true(success_of(res, 8));
    assert_int_equal(json_integer_value(json_object_get(result_of(res, 8), "observed_value")), 5);
    /* mean of 34, 151, -1, 40 = 56 */
    assert_true(success_of(res, 9));
    assert_true(json_number_value(json_object_get(result_of(res, 9), "observed_value")) == 56);
    /* PII values in results are masked for those who may not see them */
    const json_t *em = result_of(res, 10);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(em, "partial_unexpected_list"), 0)), "not-an-email");
    int64_t id = json_integer_value(json_object_get(res, "id"));
    json_decref(res);
    TU_OK(data_validation_get(&p.mle, "a", "q", "1", id, &res, &tu_err_));
    em = result_of(res, 10);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(em, "partial_unexpected_list"), 0)), "***");
    json_t *exc = json_object_get(json_array_get(json_object_get(res, "results"), 11),
                                  "exception_info");
    assert_true(json_is_true(json_object_get(exc, "raised_exception")));
    json_decref(res);

    /* the quality state governance reads */
    data_ref_t ref;
    TU_OK(data_ref_parse("dataset:a/q@1", &ref, &tu_err_));
    json_t *qs = NULL;
    TU_OK(data_quality_status(&p.viewer, &ref, &qs, &tu_err_));
    assert_true(json_is_true(json_object_get(qs, "validated")));
    assert_false(json_is_true(json_object_get(qs, "success")));
    assert_true(json_is_true(json_object_get(qs, "current")));
    json_decref(qs);
    res = run_suite(&p.ds, "{\"expectations\":[{\"expectation_type\":"
                           "\"expect_table_row_count_to_be_between\",\"kwargs\":{\"min_value\":1}}]}");
    assert_true(json_is_true(json_object_get(res, "success")));
    json_decref(res);
    TU_OK(data_quality_status(&p.viewer, &ref, &qs, &tu_err_));
    assert_true(json_is_true(json_object_get(qs, "success")));
    assert_int_equal(json_integer_value(json_object_get(qs, "suite_revision")), 2);
    json_decref(qs);
    /* governance's hook: quality passed, PII not yet approved */
    json_t *facts = NULL;
    TU_OK(data_governance_dataset(&p.viewer, 0, "dataset:a/q@1", &facts, &tu_err_));
    assert_true(json_is_true(json_object_get(json_object_get(facts, "quality"), "passed")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(facts, "pii_columns"),
                                                         0)), "email");
    assert_int_equal(json_array_size(json_object_get(facts, "approved_pii_columns")), 0);
    json_decref(facts);
    json_t *ap = tu_json("{\"columns\":{\"email\":[\"pii:email\"]},\"approve\":true}");
    assert_int_equal(data_column_tags_set(&p.ds, "a", "q", "1", ap, &out, &err),
                     MOPS_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "dataset.classify"));
    TU_OK(data_column_tags_set(&p.risk, "a", "q", "1", ap, &out, &tu_err_));
    json_decref(out);
    json_decref(ap);
    TU_OK(data_governance_dataset(&p.viewer, 0, "dataset:a/q@1", &facts, &tu_err_));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(facts, "approved_pii_columns"), 0)), "email");
    json_decref(facts);
    assert_int_equal(data_governance_dataset(&p.viewer, 0, "s3://x/y.csv", &facts, &err),
                     MOPS_EINVAL);
    assert_int_equal(data_governance_dataset(&p.outsider, 0, "dataset:a/q@1", &facts, &err),
                     MOPS_ENOTFOUND);
    json_t *list = NULL;
    TU_OK(data_validation_list(&p.viewer, "a", "q", "1", 0, 1, &list, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
    assert_true(json_is_string(json_object_get(list, "next_page_token")));
    json_decref(list);

    /* suites are checked when set */
    static const struct {
        const char *suite, *says;
    } bad[] = {
        {"{\"expectations\":[{\"expectation_type\":\"expect_the_moon\",\"kwargs\":{}}]}",
         "\"expect_the_moon\" is not an expectation mops runs"},
        {"{\"expectations\":[{\"expectation_type\":\"expect_column_values_to_be_between\","
         "\"kwargs\":{\"column\":\"age\"}}]}",
         "give min_value, max_value or both"},
        {"{\"expectations\":[{\"expectation_type\":\"expect_column_values_to_be_between\","
         "\"kwargs\":{\"column\":\"age\",\"min_value\":5,\"max_value\":1}}]}",
         "min_value is above max_value"},
        {"{\"expectations\":[{\"expectation_type\":\"expect_column_values_to_not_be_null\","
         "\"kwargs\":{\"column\":\"age\",\"mostly\":1.5}}]}",
         "mostly must be between 0 and 1"},
        {"{\"expectations\":[{\"expectation_type\":\"expect_column_to_exist\","
         "\"kwargs\":{\"column\":\"age\",\"mostly\":0.5}}]}",
         "unknown field \"mostly\""},
        {"{\"expectations\":[{\"expectation_type\":\"expect_column_values_to_match_regex\","
         "\"kwargs\":{\"column\":\"c\",\"regex\":\"(\"}}]}",
         "regex does not compile"},
        {"{\"expectations\":[{\"expectation_type\":\"expect_column_values_to_be_of_type\","
         "\"kwargs\":{\"column\":\"c\",\"type_\":\"complex128\"}}]}",
         "type_ \"complex128\" is not a type"},
        {"{\"expectations\":[{\"expectation_type\":\"expect_column_values_to_be_in_set\","
         "\"kwargs\":{\"column\":\"c\",\"value_set\":[[1]]}}]}",
         "value_set member 0"},
        {"{\"expectations\":[{\"kwargs\":{\"column\":\"c\"}}]}", "has no \"expectation_type\""},
        {"{\"expectations\":[1]}", "expectation 0 must be an object"},
        {"{\"expectations\":[],\"x\":1}", "unknown field \"x\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *spec = tu_json(bad[i].suite);
        int rc = data_suite_set(&p.ds, "a", "q", spec, &out, &err);
        if (rc != MOPS_EINVAL || !strstr(err.msg, bad[i].says))
            fail_msg("%s: got %d \"%s\", want \"%s\"", bad[i].suite, rc, err.msg, bad[i].says);
        json_decref(spec);
    }
    json_t *spec = tu_json("{\"expectations\":[]}");
    assert_int_equal(data_suite_set(&p.viewer, "a", "q", spec, &out, &err), MOPS_EFORBIDDEN);
    assert_int_equal(data_validation_run(&p.viewer, "a", "q", "1", &out, &err), MOPS_EFORBIDDEN);
    json_decref(spec);
}

/* Uniqueness over many rows through the temporary files. */
static void test_unique_spill(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    make_dataset(&p.ds, "a", "q");
    mops_buf_t csv = MOPS_BUF_INIT;
    mops_buf_puts(&csv, "k,v\n");
    int n = 20000;
    for (int i = 0; i < n; i++) /* every 1000th key repeats the one before */
        mops_buf_printf(&csv, "key-%d,%d\n", i % 1000 == 999 ? i - 1 : i, i);
    json_decref(must_register(&p.ds, "a", "q", csv.data, NULL));
    mops_buf_release(&csv);
    size_t saved = dt_uniq_part_bytes;
    dt_uniq_part_bytes = 4096; /* many partitions, each a temporary file */
    json_t *res = run_suite(&p.ds, "{\"expectations\":[{\"expectation_type\":"
                                   "\"expect_column_values_to_be_unique\",\"kwargs\":{\"column\":"
                                   "\"k\",\"mostly\":0.99}}]}");
    dt_uniq_part_bytes = saved;
    const json_t *r = result_of(res, 0);
    assert_int_equal(json_integer_value(json_object_get(r, "unexpected_count")), 40);
    assert_true(success_of(res, 0));
    json_t *lines = json_object_get(r, "partial_unexpected_lines");
    assert_int_equal(json_array_size(lines), 20);
    assert_int_equal(json_integer_value(json_array_get(lines, 0)), 1000); /* key-998, row 998 */
    assert_int_equal(json_integer_value(json_array_get(lines, 1)), 1001);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r,
                                                                         "partial_unexpected_list"),
                                                         0)),
                        "key-998");
    json_decref(res);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/tmp", f->artifacts);
    assert_int_equal(count_files(tmp), 0);
}

/* ------------------------------------------------------------ lineage */

static void new_model_version(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *dataset)
{
    char body[300];
    json_t *out = NULL, *spec;
    snprintf(body, sizeof body, "{\"team\":\"%s\",\"name\":\"%s\",\"risk_tier\":\"low\"}", team,
             model);
    spec = tu_json(body);
    mops_err_t err;
    if (registry_model_create(ctx, spec, &out, &err) == 0)
        json_decref(out);
    json_decref(spec);
    registry_upload_t *u;
    TU_OK(registry_upload_begin(ctx, team, model, 1000, &u, &tu_err_));
    TU_OK(registry_upload_write(u, model, strlen(model), &tu_err_));
    TU_OK(registry_upload_finish(ctx, u, &out, &tu_err_));
    snprintf(body, sizeof body, "{\"artifact_sha256\":\"%s\",\"format\":\"custom\","
             "\"dataset\":\"%s\"}", json_string_value(json_object_get(out, "sha256")), dataset);
    json_decref(out);
    spec = tu_json(body);
    TU_OK(registry_version_create(ctx, team, model, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
}

static void test_lineage(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    make_dataset(&p.ds, "a", "tx");
    json_decref(must_register(&p.ds, "a", "tx", "email,amount\na@example.com,1\n", NULL));
    json_decref(must_register(&p.ds, "a", "tx", "amount\n2\n", NULL));
    new_model_version(&p.ds, "a", "churn", "dataset:a/tx@1");
    new_model_version(&p.ds, "a", "churn", "s3://somewhere/else.csv");
    new_model_version(&p.outsider, "b", "theirs", "dataset:a/tx@1");
    /* churn@1 goes to production (governance's job; the stage is the registry's) */
    mops_err_t err;
    assert_int_equal(store_exec(f->db, NULL, &err,
                                "UPDATE versions SET stage = 'production' WHERE number = 1 AND "
                                "model_id = (SELECT id FROM models WHERE name = 'churn')",
                                NULL),
                     0);
    /* churn@2 was validated on tx@2 */
    json_t *spec = tu_json("{\"model\":\"a/churn@2\",\"dataset\":\"dataset:a/tx@2\","
                           "\"relation\":\"validated-on\"}"),
           *out = NULL;
    assert_int_equal(data_lineage_link(&p.viewer, spec, &out, &err), MOPS_EFORBIDDEN);
    TU_OK(data_lineage_link(&p.ds, spec, &out, &tu_err_));
    assert_true(json_is_true(json_object_get(out, "created")));
    json_decref(out);
    TU_OK(data_lineage_link(&p.ds, spec, &out, &tu_err_));
    assert_false(json_is_true(json_object_get(out, "created")));
    json_decref(out);
    json_decref(spec);
    static const char *const bad_links[][2] = {
        {"{\"model\":\"a/churn\",\"dataset\":\"dataset:a/tx@2\",\"relation\":\"validated-on\"}",
         "TEAM/MODEL@VERSION"},
        {"{\"model\":\"a/churn@2\",\"dataset\":\"a/tx@2\",\"relation\":\"validated-on\"}",
         "dataset:TEAM/NAME@VERSION"},
        {"{\"model\":\"a/churn@2\",\"dataset\":\"dataset:a/tx@9\",\"relation\":\"validated-on\"}",
         "has no version \"9\""},
        {"{\"model\":\"a/churn@2\",\"dataset\":\"dataset:a/tx@2\",\"relation\":\"liked\"}",
         "validated-on or trained-on"},
        {"{\"model\":\"b/theirs@1\",\"dataset\":\"dataset:a/tx@2\",\"relation\":\"trained-on\"}",
         "no team named \"b\""},
    };
    for (size_t i = 0; i < sizeof bad_links / sizeof bad_links[0]; i++) {
        spec = tu_json(bad_links[i][0]);
        if (data_lineage_link(&p.ds, spec, &out, &err) == 0 || !strstr(err.msg, bad_links[i][1]))
            fail_msg("%s: \"%s\", want \"%s\"", bad_links[i][0], err.msg, bad_links[i][1]);
        json_decref(spec);
    }

    /* dataset → models, seen from team a (the deployments serving adds are
     * tested end to end: tests/e2e/test_integration.py) */
    data_lineage_set_deployments(NULL);
    json_t *g = NULL;
    TU_OK(data_lineage_dataset(&p.viewer, "a", "tx", "1", NULL, &g, &tu_err_));
    json_t *prod = json_object_get(g, "production");
    assert_int_equal(json_array_size(prod), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(prod, 0), "id")),
                        "model:a/churn@1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(g, "hidden"),
                                                        "model_versions")), 1); /* b/theirs */
    assert_int_equal(json_array_size(json_object_get(g, "nodes")), 2); /* data, model */
    json_decref(g);
    /* the outsider sees its own model from its side, not a's data */
    assert_int_equal(data_lineage_dataset(&p.outsider, "a", "tx", "1", NULL, &g, &err),
                     MOPS_ENOTFOUND);
    TU_OK(data_lineage_model(&p.outsider, "b", "theirs", "1", &g, &tu_err_));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(g, "hidden"), "datasets")),
                     1);
    json_decref(g);
    TU_OK(data_lineage_model(&p.viewer, "a", "churn", "2", &g, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(g, "dataset_field")),
                        "s3://somewhere/else.csv");
    json_t *edge = json_array_get(json_object_get(g, "edges"), 0);
    assert_string_equal(json_string_value(json_object_get(edge, "relation")), "validated-on");
    json_decref(g);
    data_lineage_set_deployments(NULL);

    /* governance's seam: PII of a model's training data, with a fingerprint
     * that changes when the PII does */
    json_t *pii = NULL;
    TU_OK(data_model_pii(&f->sys, "a", "churn", 1, &pii, &tu_err_));
    assert_true(json_is_true(json_object_get(pii, "has_pii")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(pii, "columns"), 0)),
                        "email");
    char fp[65];
    snprintf(fp, sizeof fp, "%s", json_string_value(json_object_get(pii, "fingerprint")));
    json_decref(pii);
    spec = tu_json("{\"columns\":{\"amount\":[\"sensitive\"]}}");
    TU_OK(data_column_tags_set(&p.ds, "a", "tx", "1", spec, &out, &tu_err_));
    json_decref(out);
    json_decref(spec);
    TU_OK(data_model_pii(&f->sys, "a", "churn", 1, &pii, &tu_err_));
    assert_string_not_equal(json_string_value(json_object_get(pii, "fingerprint")), fp);
    json_decref(pii);
    TU_OK(data_model_pii(&f->sys, "a", "churn", 2, &pii, &tu_err_));
    assert_false(json_is_true(json_object_get(pii, "has_pii")));
    json_decref(pii);
    /* a risk officer approves the use of both: no unapproved PII left; the
     * next version of the data needs its own approval */
    TU_OK(data_model_pii(&f->sys, "a", "churn", 1, &pii, &tu_err_));
    assert_true(json_is_true(json_object_get(pii, "has_unapproved_pii")));
    json_decref(pii);
    spec = tu_json("{\"columns\":{\"email\":[\"pii:email\"],\"amount\":[\"sensitive\"]},"
                   "\"approve\":true}");
    TU_OK(data_column_tags_set(&p.risk, "a", "tx", "1", spec, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "approved_pii_columns")), 2);
    json_decref(out);
    json_decref(spec);
    TU_OK(data_model_pii(&f->sys, "a", "churn", 1, &pii, &tu_err_));
    assert_true(json_is_true(json_object_get(pii, "has_pii")));
    assert_false(json_is_true(json_object_get(pii, "has_unapproved_pii")));
    json_decref(pii);
    json_t *v3 = must_register(&p.ds, "a", "tx", "email,amount\nb@example.com,2\n", NULL);
    assert_int_equal(json_array_size(json_object_get(v3, "pii_columns")), 1); /* found again */
    assert_int_equal(json_array_size(json_object_get(v3, "approved_pii_columns")), 0);
    json_decref(v3);
    /* approved tags kept by a later version of the same columns are only
     * confirmed there */
    spec = tu_json("{\"columns\":{\"email\":[\"pii:email\"]},\"approve\":true}");
    TU_OK(data_column_tags_set(&p.risk, "a", "tx", "3", spec, &out, &tu_err_));
    json_decref(out);
    json_decref(spec);
    v3 = must_register(&p.ds, "a", "tx", "email\nc@example.com\n", NULL);
    assert_true(has_tag(v3, "email", "pii:email", "confirmed"));
    json_decref(v3);

    /* monitoring's seam: the sketches of a version's profile */
    data_ref_t ref;
    TU_OK(data_ref_parse("dataset:a/tx@1", &ref, &tu_err_));
    json_t *sk = NULL;
    TU_OK(data_version_sketches(&p.viewer, &ref, &sk, &tu_err_));
    json_t *col = json_array_get(json_object_get(sk, "columns"), 1);
    assert_string_equal(json_string_value(json_object_get(col, "kind")), "integer");
    stats_column_t *sc = NULL;
    TU_OK(stats_column_from_json(json_object_get(col, "sketch"), &sc, &tu_err_));
    assert_int_equal(stats_column_count(sc), 1);
    stats_column_free(sc);
    json_decref(sk);
}

/* How text is read as each type. */
static void test_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ok;
        int64_t ms;
    } ts[] = {
        {"1970-01-01", 1, 0},
        {"2024-02-29", 1, 1709164800000},
        {"2023-02-29", 0, 0},
        {"2024-04-31", 0, 0},
        {"2024-03-01T12:00:00Z", 1, 1709294400000},
        {"2024-03-01 12:00:00", 1, 1709294400000},
        {"2024-03-01T12:00", 1, 1709294400000},
        {"2024-03-01T12:00:00.250Z", 1, 1709294400250},
        {"2024-03-01T12:00:00+02:00", 1, 1709287200000},
        {"2024-03-01T12:00:00-0130", 1, 1709299800000},
        {"2024-03-01T12:00:00+05", 1, 1709276400000},
        {" 2024-03-01 ", 1, 1709251200000},
        {"2024-03-01T24:00:00Z", 0, 0},
        {"2024-03-01T12:00:00+25:00", 0, 0},
        {"2024-03-01T12:00:00Zx", 0, 0},
        {"2024-3-1", 0, 0},
        {"20240301", 0, 0},
        {"2024-03-01T", 0, 0},
        {"2024-03-01T12:00:00.", 0, 0},
        {"1969-12-31T23:59:59Z", 1, -1000},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        int64_t ms = 0;
        int ok = dt_parse_timestamp(ts[i].text, strlen(ts[i].text), &ms);
        if (ok != ts[i].ok || (ok && ms != ts[i].ms))
            fail_msg("\"%s\": got %d %lld, want %d %lld", ts[i].text, ok, (long long)ms,
                     ts[i].ok, (long long)ts[i].ms);
    }
    int64_t v;
    assert_true(dt_parse_int("9223372036854775807", 19, &v) && v == INT64_MAX);
    assert_true(dt_parse_int("-9223372036854775808", 20, &v) && v == INT64_MIN);
    assert_false(dt_parse_int("9223372036854775808", 19, &v));
    assert_true(dt_parse_int(" +007 ", 6, &v) && v == 7);
    assert_false(dt_parse_int("1.0", 3, &v));
    assert_false(dt_parse_int("-", 1, &v));
    int b;
    assert_true(dt_parse_bool("TRUE", 4, &b) && b == 1);
    assert_true(dt_parse_bool("False", 5, &b) && b == 0);
    assert_false(dt_parse_bool("yes", 3, &b));
    assert_false(dt_parse_bool("1", 1, &b));
    assert_true(dt_value_fits("3", 1, STATS_KIND_FLOAT));
    assert_false(dt_value_fits("3.5", 3, STATS_KIND_INTEGER));
    assert_true(dt_value_fits("anything", 8, STATS_KIND_STRING));
    assert_null(dt_text_problem("plain ascii text, longer than eight", 35));
    assert_null(dt_text_problem("caf\xc3\xa9 \xe2\x82\xac", 9));
    assert_non_null(dt_text_problem("abcdefgh\x00ijk", 12));
    assert_non_null(dt_text_problem("abc\xed\xa0\x80", 6)); /* a surrogate */
    assert_non_null(dt_text_problem("abcdefghij\xc3", 11));   /* cut short */
}

/* The fuzzer's corpus (tests/fuzz/fuzz_dataset.c) through the same path:
 * no crash, and every refusal says why. */
static int corpus_record(void *arg, const mops_csv_record_t *rec, mops_err_t *err)
{
    return dt_analyzer_record(arg, rec, err);
}

static void test_fuzz_corpus(void **state)
{
    (void)state;
    DIR *d = opendir("tests/fuzz/corpus/dataset");
    if (!d)
        fail_msg("cannot open tests/fuzz/corpus/dataset (run from the repository root)");
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = mops_xasprintf("tests/fuzz/corpus/dataset/%s", e->d_name), *data;
        size_t n;
        mops_err_t err;
        if (mops_read_file(p, 1 << 24, &data, &n, &err) != 0)
            fail_msg("%s: %s", p, err.msg);
        size_t cut = n ? (unsigned char)data[0] % (n + 1) : 0;
        dt_analyzer_t *a = dt_analyzer_new(p);
        mops_csv_t *c = mops_csv_push_new(p, corpus_record, a);
        json_t *analysis = NULL;
        mops_err_clear(&err);
        int rc = mops_csv_push(c, data, cut, &err);
        if (rc == 0)
            rc = mops_csv_push(c, data + cut, n - cut, &err);
        if (rc == 0)
            rc = mops_csv_push_end(c, &err);
        if (rc == 0)
            rc = dt_analyzer_finish(a, &analysis, &err);
        if (rc != 0 && err.msg[0] == '\0')
            fail_msg("%s: refused without a message", p);
        json_decref(analysis);
        mops_csv_close(c);
        dt_analyzer_free(a);
        free(data);
        free(p);
        files++;
    }
    closedir(d);
    assert_true(files > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOTH(test_register), TU_BOTH(test_bad_files),    TU_BOTH(test_declared_schema),
        TU_BOTH(test_pii),      TU_BOTH(test_quality),      TU_BOTH(test_unique_spill),
        TU_BOTH(test_lineage),  cmocka_unit_test(test_values),
        cmocka_unit_test(test_fuzz_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
