/*
 * fuzz_csv.c — libFuzzer target for the streaming CSV reader and number
 * parsing of src/core/csv (tests/fuzz/run.sh builds and runs it; its corpus
 * is tests/fuzz/corpus/csv, replayed by tests/unit/test_csv.c). Every number
 * it reads must be the one strtod reads: its fast paths may not differ by
 * a bit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A number read (rc 0) is strtod's reading of the trimmed field. */
static void check_number(const char *s, size_t len, double v)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char buf[128];
    if (len >= sizeof buf)
        return;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double want = strtod(buf, &end);
    if (end == buf + len && want == want && memcmp(&want, &v, sizeof v) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    mops_csv_t *c = mops_csv_open(f, "fuzz.csv");
    mops_csv_record_t r;
    mops_err_t err;
    int rc;
    while ((rc = mops_csv_next(c, &r, &err)) == 1) {
        for (size_t i = 0; i < r.n; i++) {
            double v;
            if (mops_csv_number(r.fields[i], r.lens[i], &v) == 0)
                check_number(r.fields[i], r.lens[i], v);
        }
    }
    if (rc < 0 && err.msg[0] == '\0')
        abort();
    mops_csv_close(c);
    fclose(f);
    return 0;
}
