/*
 * fuzz_sklearn.c — libFuzzer target for the mops scikit-learn JSON loader
 * (tests/fuzz/run.sh builds and runs it; its corpus is
 * tests/fuzz/corpus/sklearn, replayed by tests/unit/test_runtime.c).
 */
#include "fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_model(data, size, "sklearn-json");
}
