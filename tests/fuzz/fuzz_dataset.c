/*
 * fuzz_dataset.c — libFuzzer target for what a dataset upload runs over
 * untrusted bytes: the CSV reader in push mode (input split at a point the
 * first byte chooses) feeding the analyzer of src/data (header checks, text
 * checks, number/boolean/timestamp parsing, sketches, PII detectors), and
 * the summaries of every type. tests/fuzz/run.sh builds and runs it; its
 * corpus is tests/fuzz/corpus/dataset, replayed by tests/unit/test_data.c.
 */
#include <stdint.h>
#include <stdlib.h>

#include "data/data_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_record(void *arg, const mops_csv_record_t *rec, mops_err_t *err)
{
    return dt_analyzer_record(arg, rec, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut = size ? data[0] % (size + 1) : 0;
    dt_analyzer_t *a = dt_analyzer_new("fuzz.csv");
    mops_csv_t *c = mops_csv_push_new("fuzz.csv", on_record, a);
    mops_err_t err;
    json_t *analysis = NULL;
    err.msg[0] = '\0';
    int rc = mops_csv_push(c, data, cut, &err);
    if (rc == 0)
        rc = mops_csv_push(c, data + cut, size - cut, &err);
    if (rc == 0)
        rc = mops_csv_push_end(c, &err);
    if (rc == 0)
        rc = dt_analyzer_finish(a, &analysis, &err);
    if (rc != 0 && err.msg[0] == '\0')
        abort(); /* every refusal says why */
    json_decref(analysis);
    mops_csv_close(c);
    dt_analyzer_free(a);
    return 0;
}
