/*
 * test_core.c — unit tests for src/core: errors, arena, buffer, names,
 * time and the thread CPU clock, SHA-256, JSON checks, durable files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/time.h"

static void test_err_set_and_wrap(void **state)
{
    (void)state;
    mops_err_t err;
    mops_err_clear(&err);
    assert_int_equal(mops_err_set(&err, MOPS_ENOTFOUND, "model %s", "x"), MOPS_ENOTFOUND);
    assert_string_equal(err.msg, "model x");
    assert_int_equal(mops_err_wrap(&err, "loading %d", 3), MOPS_ENOTFOUND);
    assert_string_equal(err.msg, "loading 3: model x");
    assert_string_equal(mops_err_name(MOPS_EFORBIDDEN), "forbidden");
    assert_int_equal(mops_err_http_status(MOPS_ETOOBIG), 413);
    assert_int_equal(mops_err_http_status(-999), 500);
    /* NULL err is allowed and still returns the code. */
    assert_int_equal(mops_err_set(NULL, MOPS_EINVAL, "x"), MOPS_EINVAL);
}

static void test_arena(void **state)
{
    (void)state;
    mops_arena_t *a = mops_arena_new();
    char *s = mops_arena_strdup(a, "hello");
    char *big = mops_arena_alloc(a, 100000); /* own block */
    char *t = mops_arena_printf(a, "%s-%d", s, 42);
    memset(big, 'x', 100000);
    assert_string_equal(s, "hello");
    assert_string_equal(t, "hello-42");
    for (int i = 0; i < 10000; i++) {
        int *p = mops_arena_alloc(a, sizeof(int) * 3);
        assert_true(((uintptr_t)p % 16) == 0);
        assert_int_equal(p[0] | p[1] | p[2], 0);
    }
    assert_null(mops_arena_strdup(a, NULL));
    mops_arena_free(a);
    mops_arena_free(NULL);
}

static void test_buf(void **state)
{
    (void)state;
    mops_buf_t b = MOPS_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        mops_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    char *d = mops_buf_detach(&b);
    assert_null(b.data);
    free(d);
    /* A line longer than the room left is formatted whole. */
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mops_buf_puts(&b, "ab");
    mops_buf_printf(&b, "<%s>%d", big, 7);
    assert_int_equal(b.len, 2 + 1 + 299 + 1 + 1);
    assert_string_equal(b.data + b.len - 3, "x>7");
    mops_buf_printf(&b, "%s", "");
    assert_int_equal(b.len, strlen(b.data));
    mops_buf_reset(&b);
    mops_buf_int(&b, 0);
    mops_buf_putc(&b, ' ');
    mops_buf_int(&b, -42);
    mops_buf_putc(&b, ' ');
    mops_buf_int(&b, LLONG_MIN);
    mops_buf_putc(&b, ' ');
    mops_buf_int(&b, LLONG_MAX);
    assert_string_equal(b.data, "0 -42 -9223372036854775808 9223372036854775807");
    mops_buf_release(&b);
}

static void test_names(void **state)
{
    (void)state;
    mops_err_t err;
    assert_int_equal(mops_name_check("name", "churn-model_v2.1", &err), 0);
    assert_int_equal(mops_name_check("name", "", &err), MOPS_EINVAL);
    assert_int_equal(mops_name_check("name", "../etc", &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "name \"../etc\" is invalid"));
    assert_int_equal(mops_name_check("team", "a..b", &err), MOPS_EINVAL);
    assert_int_equal(mops_name_check("team", "a/b", &err), MOPS_EINVAL);
    assert_int_equal(mops_name_check("team", "a\nb", &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "\\x0a")); /* control character shown escaped */
    assert_int_equal(mops_name_check("team", "x'; DROP TABLE", &err), MOPS_EINVAL);
    char longname[80];
    memset(longname, 'a', 65);
    longname[65] = 0;
    assert_int_equal(mops_name_check("team", longname, &err), MOPS_EINVAL);
    longname[64] = 0;
    assert_int_equal(mops_name_check("team", longname, &err), 0);
    assert_int_equal(mops_tag_check("tag", "env:prod", &err), 0);
    assert_int_equal(mops_tag_check("tag", "a b", &err), MOPS_EINVAL);
}

static void test_text_and_utf8(void **state)
{
    (void)state;
    mops_err_t err;
    assert_true(mops_utf8_valid("héllo €", strlen("héllo €")));
    assert_false(mops_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(mops_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_int_equal(mops_utf8_prefix("h\xc3\xa9llo", 6, 2), 1); /* not through é */
    assert_int_equal(mops_utf8_prefix("h\xc3\xa9llo", 6, 3), 3);
    assert_int_equal(mops_utf8_prefix("abc", 3, 10), 3);
    assert_int_equal(mops_utf8_prefix("\xe2\x82\xac", 3, 2), 0);
    assert_false(mops_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_int_equal(mops_text_check("description", "line1\nline2", 100, &err), 0);
    assert_int_equal(mops_text_check("description", "bell\a", 100, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "description"));
    assert_int_equal(mops_text_check("description", "toolong", 3, &err), MOPS_EINVAL);
    long long v;
    assert_int_equal(mops_parse_i64("42", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(mops_parse_i64("-1", &v), MOPS_EINVAL);
    assert_int_equal(mops_parse_i64("4x", &v), MOPS_EINVAL);
    assert_int_equal(mops_parse_i64("99999999999999999999", &v), MOPS_EINVAL);
}

static void test_time(void **state)
{
    (void)state;
    char buf[40];
    mops_time_format(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    /* The same second again (its text is cached), then before 1970. */
    mops_time_format(7, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.007Z");
    mops_time_format(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    mops_time_format(1795402560123LL, buf, sizeof buf);
    int64_t ms, ms2;
    assert_int_equal(mops_time_parse(buf, &ms), 0);
    assert_int_equal(ms, 1795402560123LL);
    assert_int_equal(mops_time_parse("2026-11-23T01:00:00+01:00", &ms), 0);
    assert_int_equal(mops_time_parse("2026-11-23T00:00:00Z", &ms2), 0);
    assert_int_equal(ms, ms2);
    assert_int_equal(mops_time_parse("2026-11-23T00:00:00.5Z", &ms), 0);
    assert_int_equal(ms - ms2, 500);
    assert_int_equal(mops_time_parse("2026-13-01T00:00:00Z", &ms), MOPS_EINVAL);
    assert_int_equal(mops_time_parse("2026-11-23", &ms), MOPS_EINVAL);
    assert_int_equal(mops_time_parse("2026-11-23T00:00:00", &ms), MOPS_EINVAL);
    assert_int_equal(mops_time_parse("2026-11-23T00:00:00Zjunk", &ms), MOPS_EINVAL);
}

/* Burn ms of this thread's CPU without reading it through core/time. */
static void spin_cpu_ms(int ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) < ms * 1000000LL);
}

static void test_thread_cpu(void **state)
{
    (void)state;
    int64_t mark = mops_thread_cpu_ns();
    assert_true(mops_thread_cpu_last_ns() == mark);
    spin_cpu_ms(30);
    int64_t first = mops_thread_cpu_since(mark);
    assert_true(first >= 30000000 && first < 1000000000);
    /* A later span from the same mark starts at the last reading: the two
     * spans do not overlap (interleaved requests are not counted twice). */
    spin_cpu_ms(10);
    int64_t second = mops_thread_cpu_since(mark);
    assert_true(second >= 10000000 && second < first);
    assert_true(mops_thread_cpu_last_ns() >= mark + first + second);
}

static void test_sha256(void **state)
{
    (void)state;
    char hex[MOPS_SHA256_HEX];
    mops_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mops_sha256_t *h = mops_sha256_new();
    mops_sha256_update(h, "a", 1);
    mops_sha256_update(h, "bc", 2);
    char hex2[MOPS_SHA256_HEX];
    mops_sha256_final(h, hex2);
    assert_string_equal(hex, hex2);
    assert_true(mops_is_hex(hex, 64));
    assert_false(mops_is_hex("ABCD", 4));
    assert_false(mops_is_hex(hex, 63));
    unsigned char r1[32], r2[32];
    assert_int_equal(mops_random_bytes(r1, 32), 0);
    assert_int_equal(mops_random_bytes(r2, 32), 0);
    assert_int_not_equal(memcmp(r1, r2, 32), 0);
    assert_int_equal(mops_ct_memcmp("abc", "abc", 3), 0);
    assert_int_not_equal(mops_ct_memcmp("abc", "abd", 3), 0);
}

static const mops_json_field_t model_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"tags", MOPS_JSON_STRING_ARRAY, 0},
    {"size", MOPS_JSON_INT, 0},
    {NULL, 0, 0},
};

static void test_json_check(void **state)
{
    (void)state;
    mops_err_t err;
    json_t *o;
    assert_int_equal(mops_json_parse_object("{\"name\": \"x\"", 12, &o, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "malformed JSON at line 1"));
    assert_int_equal(mops_json_parse_object("[1]", 3, &o, &err), MOPS_EINVAL);
    assert_int_equal(mops_json_parse_object("", 0, &o, &err), MOPS_EINVAL);
    const char *dup = "{\"name\":\"a\",\"name\":\"b\"}";
    assert_int_equal(mops_json_parse_object(dup, strlen(dup), &o, &err), MOPS_EINVAL);

    const char *ok = "{\"name\":\"a\",\"tags\":[\"x\",\"y\"],\"size\":3}";
    assert_int_equal(mops_json_parse_object(ok, strlen(ok), &o, &err), 0);
    assert_int_equal(mops_json_check(o, "request body", model_fields, &err), 0);
    json_decref(o);

    const char *unknown = "{\"name\":\"a\",\"colour\":1}";
    assert_int_equal(mops_json_parse_object(unknown, strlen(unknown), &o, &err), 0);
    assert_int_equal(mops_json_check(o, "request body", model_fields, &err), MOPS_EINVAL);
    assert_string_equal(err.msg,
                        "unknown field \"colour\" in request body (allowed: name, tags, size)");
    json_decref(o);

    const char *wrong = "{\"name\":3}";
    assert_int_equal(mops_json_parse_object(wrong, strlen(wrong), &o, &err), 0);
    assert_int_equal(mops_json_check(o, "request body", model_fields, &err), MOPS_EINVAL);
    assert_string_equal(err.msg, "field \"name\" in request body must be a string, not an integer");
    json_decref(o);

    const char *badarr = "{\"name\":\"a\",\"tags\":[\"x\",1]}";
    assert_int_equal(mops_json_parse_object(badarr, strlen(badarr), &o, &err), 0);
    assert_int_equal(mops_json_check(o, "request body", model_fields, &err), MOPS_EINVAL);
    json_decref(o);

    const char *missing = "{\"size\":1}";
    assert_int_equal(mops_json_parse_object(missing, strlen(missing), &o, &err), 0);
    assert_int_equal(mops_json_check(o, "request body", model_fields, &err), MOPS_EINVAL);
    assert_string_equal(err.msg, "field \"name\" is required in request body");
    json_decref(o);
}

static void test_fs(void **state)
{
    (void)state;
    char dir[] = "/tmp/mops-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256], file[300];
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    mops_err_t err;
    assert_int_equal(mops_mkdir_p(sub, 0700, &err), 0);
    assert_int_equal(mops_mkdir_p(sub, 0700, &err), 0); /* idempotent */
    snprintf(file, sizeof file, "%s/f", sub);
    assert_int_equal(mops_write_file_atomic(file, "one", 3, 0600, &err), 0);
    assert_int_equal(mops_write_file_atomic(file, "two!", 4, 0600, &err), 0);
    char *data;
    size_t len;
    assert_int_equal(mops_read_file(file, 100, &data, &len, &err), 0);
    assert_int_equal(len, 4);
    assert_string_equal(data, "two!");
    free(data);
    assert_int_equal(mops_read_file(file, 2, &data, &len, &err), MOPS_ETOOBIG);
    assert_int_equal(mops_write_file_new(file, "x", 1, 0600, &err), MOPS_ECONFLICT);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    assert_int_equal(mops_read_file(missing, 100, &data, &len, &err), MOPS_ENOTFOUND);
    char dn[256];
    mops_dirname("/a/b/c", dn, sizeof dn);
    assert_string_equal(dn, "/a/b");
    mops_dirname("c", dn, sizeof dn);
    assert_string_equal(dn, ".");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_and_wrap),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_text_and_utf8),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_thread_cpu),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_json_check),
        cmocka_unit_test(test_fs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
