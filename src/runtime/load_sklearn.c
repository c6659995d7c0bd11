/*
 * load_sklearn.c — placeholder.
 */
#include "runtime/model.h"

int runtime__load_sklearn(const char *data, size_t len, runtime_model_t **out, mops_err_t *err)
{
    (void)data; (void)len; (void)out;
    return mops_err_set(err, MOPS_EINVAL, "not yet");
}
