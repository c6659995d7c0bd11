/*
 * test_csv.c — unit tests for src/core/csv: records and line numbers,
 * RFC 4180 quoting, CRLF, BOM, blank lines, malformed input and limits,
 * number parsing, field quoting on output, and constant memory on a long
 * stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/mem.h"

static mops_csv_t *open_text(const char *text, FILE **f)
{
    *f = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(*f);
    return mops_csv_open(*f, "t.csv");
}

static void expect_record(mops_csv_t *c, size_t line, size_t n, ...)
{
    mops_csv_record_t r;
    mops_err_t err;
    assert_int_equal(mops_csv_next(c, &r, &err), 1);
    assert_int_equal(r.line, line);
    assert_int_equal(r.n, n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        assert_string_equal(r.fields[i], want);
        assert_int_equal(r.lens[i], strlen(want));
    }
    va_end(ap);
}

static void expect_end(mops_csv_t *c)
{
    mops_csv_record_t r;
    mops_err_t err;
    assert_int_equal(mops_csv_next(c, &r, &err), 0);
    assert_int_equal(mops_csv_next(c, &r, &err), 0);
}

static void test_records_and_lines(void **state)
{
    (void)state;
    FILE *f;
    mops_csv_t *c = open_text("a,b,c\n1,2,3\n\n4,,6\n7,8", &f);
    expect_record(c, 1, 3, "a", "b", "c");
    expect_record(c, 2, 3, "1", "2", "3");
    expect_record(c, 4, 3, "4", "", "6");
    expect_record(c, 5, 2, "7", "8"); /* last line without newline; ragged is the caller's call */
    expect_end(c);
    mops_csv_close(c);
    fclose(f);
}

static void test_quoting_crlf_bom(void **state)
{
    (void)state;
    FILE *f;
    mops_csv_t *c = open_text("\xEF\xBB\xBFid,note\r\n1,\"a, \"\"b\"\"\"\r\n2,\"two\r\nlines\"\r\n", &f);
    expect_record(c, 1, 2, "id", "note");
    expect_record(c, 2, 2, "1", "a, \"b\"");
    expect_record(c, 4, 2, "2", "two\r\nlines"); /* ends on line 4 */
    expect_end(c);
    mops_csv_close(c);
    fclose(f);
}

static void test_malformed(void **state)
{
    (void)state;
    FILE *f;
    mops_err_t err;
    mops_csv_record_t r;
    mops_csv_t *c = open_text("a,b\n1,2\n3,4\"x\n", &f);
    expect_record(c, 1, 2, "a", "b");
    expect_record(c, 2, 2, "1", "2");
    assert_int_equal(mops_csv_next(c, &r, &err), MOPS_EINVAL);
    assert_string_equal(err.msg, "t.csv, line 3: malformed quoting (a quote inside an unquoted "
                                 "field, or text after a closing quote)");
    mops_csv_close(c);
    fclose(f);

    c = open_text("a,b\n1,\"2\n3,4\n", &f);
    expect_record(c, 1, 2, "a", "b");
    assert_int_equal(mops_csv_next(c, &r, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "line 2: a quoted field is not closed")); /* where it opened */
    mops_csv_close(c);
    fclose(f);

    c = open_text("a,\"b\"x\n", &f);
    assert_int_equal(mops_csv_next(c, &r, &err), MOPS_EINVAL);
    assert_non_null(strstr(err.msg, "line 1: malformed quoting"));
    mops_csv_close(c);
    fclose(f);
}

static void test_field_limit(void **state)
{
    (void)state;
    size_t n = MOPS_CSV_FIELD_MAX + 100;
    char *text = mops_xmalloc(n + 8);
    text[0] = '"';
    memset(text + 1, 'x', n);
    memcpy(text + 1 + n, "\"\n", 3);
    FILE *f;
    mops_csv_t *c = open_text(text, &f);
    mops_csv_record_t r;
    mops_err_t err;
    assert_int_equal(mops_csv_next(c, &r, &err), MOPS_ETOOBIG);
    assert_non_null(strstr(err.msg, "line 1: a field is longer than"));
    mops_csv_close(c);
    fclose(f);
    free(text);
}

static void test_long_stream(void **state)
{
    (void)state;
    /* 200,000 records through a pipe-like stream: every one comes back in
     * order with its line; memory stays bounded (ASan would see leaks). */
    FILE *f = tmpfile();
    assert_non_null(f);
    fputs("x,y\n", f);
    for (int i = 0; i < 200000; i++)
        fprintf(f, "%d,\"v%d\"\n", i, i);
    rewind(f);
    mops_csv_t *c = mops_csv_open(f, "long.csv");
    mops_csv_record_t r;
    mops_err_t err;
    assert_int_equal(mops_csv_next(c, &r, &err), 1);
    char want[32];
    for (int i = 0; i < 200000; i++) {
        assert_int_equal(mops_csv_next(c, &r, &err), 1);
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(r.fields[0], want);
        assert_int_equal(r.line, (size_t)i + 2);
    }
    assert_int_equal(mops_csv_next(c, &r, &err), 0);
    assert_true(mops_csv_bytes(c) > 2000000);
    mops_csv_close(c);
    fclose(f);
}

static void test_numbers(void **state)
{
    (void)state;
    double v;
    assert_int_equal(mops_csv_number("1.5", 3, &v), 0);
    assert_true(v == 1.5);
    assert_int_equal(mops_csv_number(" -2e3 ", 6, &v), 0);
    assert_true(v == -2000.0);
    assert_int_equal(mops_csv_number("0.1", 3, &v), 0);
    assert_true(v == 0.1);
    assert_int_equal(mops_csv_number("inf", 3, &v), 0);
    assert_true(isinf(v) && v > 0);
    const char *missing[] = {"", "NA", "na", "N/A", "NaN", "nan", "NULL", "None", "  "};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        assert_int_equal(mops_csv_number(missing[i], strlen(missing[i]), &v), 1);
        assert_true(isnan(v));
    }
    const char *bad[] = {"abc", "1.2.3", "0x10", "1e", "--1", "1,5", "12abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mops_csv_number(bad[i], strlen(bad[i]), &v), -1);
    /* The fast path agrees with strtod on random decimals of every length. */
    uint64_t rs = 0x9E3779B97F4A7C15ull;
    char text[64];
    for (int i = 0; i < 200000; i++) {
        rs ^= rs << 13;
        rs ^= rs >> 7;
        rs ^= rs << 17;
        int digits = 1 + (int)(rs % 20), point = (int)((rs >> 8) % 22) - 1;
        int ex = (int)((rs >> 16) % 60) - 30, use_exp = (rs >> 24) & 1;
        size_t n = 0;
        if ((rs >> 25) & 1)
            text[n++] = '-';
        uint64_t d = rs >> 30;
        for (int k = 0; k < digits; k++) {
            if (k == point)
                text[n++] = '.';
            text[n++] = (char)('0' + (d % 10));
            d = d / 10 ? d / 10 : rs >> 33 | 7;
        }
        if (use_exp)
            n += (size_t)snprintf(text + n, sizeof text - n, "e%d", ex);
        text[n] = '\0';
        double want = strtod(text, NULL);
        assert_int_equal(mops_csv_number(text, n, &v), 0);
        if (v != want)
            fail_msg("'%s': got %.17g, strtod %.17g", text, v, want);
    }
    /* Past Clinger's 2^53: float32 values as Python prints them (17
     * digits), and decimals of 19 digits sitting next to a double's
     * midpoint, where a rounding shortcut would get the last bit wrong. */
    for (int i = 0; i < 200000; i++) {
        rs ^= rs << 13;
        rs ^= rs >> 7;
        rs ^= rs << 17;
        double mag = ldexp(1.0, (int)(rs % 80) - 40);
        double x = (double)(float)((double)(rs >> 11) / 9007199254740992.0 * mag);
        size_t n;
        if (i & 1) {
            n = (size_t)snprintf(text, sizeof text, "%.17g", (rs >> 10) & 1 ? -x : x);
        } else {
            long double mid = (long double)x + ((long double)nextafter(x, INFINITY) - x) / 2;
            n = (size_t)snprintf(text, sizeof text, "%.18Le", mid);
        }
        double want = strtod(text, NULL);
        assert_int_equal(mops_csv_number(text, n, &v), 0);
        if (v != want)
            fail_msg("'%s': got %.17g, strtod %.17g", text, v, want);
    }
    /* Only len bytes count. */
    assert_int_equal(mops_csv_number("12abc", 2, &v), 0);
    assert_true(v == 12.0);
}

static void test_write_field(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mops_csv_write_field(f, "plain", 5);
    fputc('|', f);
    mops_csv_write_field(f, "a,b", 3);
    fputc('|', f);
    mops_csv_write_field(f, "say \"hi\"", 8);
    fputc('|', f);
    mops_csv_write_field(f, " pad", 4);
    fclose(f);
    assert_string_equal(buf, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\" pad\"");
    free(buf);
}

/* Every file of the CSV fuzzer's corpus reads to the end or fails with a
 * message. */
static void test_fuzz_corpus(void **state)
{
    (void)state;
    DIR *d = opendir("tests/fuzz/corpus/csv");
    if (!d)
        fail_msg("cannot open tests/fuzz/corpus/csv (run from the repository root)");
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = mops_xasprintf("tests/fuzz/corpus/csv/%s", e->d_name);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        mops_csv_t *c = mops_csv_open(f, p);
        mops_csv_record_t r;
        mops_err_t err;
        mops_err_clear(&err);
        int rc;
        while ((rc = mops_csv_next(c, &r, &err)) == 1)
            for (size_t i = 0; i < r.n; i++) {
                double v;
                (void)mops_csv_number(r.fields[i], r.lens[i], &v);
            }
        if (rc < 0 && err.msg[0] == '\0')
            fail_msg("%s: error without a message", p);
        mops_csv_close(c);
        fclose(f);
        free(p);
        files++;
    }
    closedir(d);
    assert_true(files > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_and_lines),
        cmocka_unit_test(test_quoting_crlf_bom),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_long_stream),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_write_field),
        cmocka_unit_test(test_fuzz_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
