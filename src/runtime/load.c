/*
 * load.c — the loaders' front door: read a model file, detect its format,
 * hand it to the format's loader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/jsonpull.h"
#include "runtime/model.h"

const char *runtime_format_detect(const void *data, size_t len)
{
    /* Look at the top-level keys in order; the first telling one decides.
     * XGBoost writes "learner" first; the mops exporter writes "format"
     * first. Skipping an unknown value costs a pass over it, so give up
     * after a few keys. */
    runtime__json_t j;
    runtime__json_init(&j, data, len, NULL);
    const char *result = NULL;
    const char *k;
    size_t kl;
    if (runtime__json_object_begin(&j) < 0)
        goto out;
    for (int i = 0; i < 8 && runtime__json_next_key(&j, &k, &kl) > 0; i++) {
        if (runtime__json_key_is(k, kl, "learner")) {
            result = "xgboost-json";
            break;
        }
        if (runtime__json_key_is(k, kl, "format")) {
            const char *s;
            size_t n;
            if (runtime__json_peek(&j) == '"' && runtime__json_string(&j, &s, &n) == 0 &&
                runtime__json_key_is(s, n, "mops-sklearn"))
                result = "sklearn-json";
            break;
        }
        if (runtime__json_skip_fast(&j) < 0)
            break;
    }
out:
    runtime__json_release(&j);
    return result;
}

int runtime_model_load_buffer(const void *data, size_t len, const char *format,
                              runtime_model_t **out, mops_err_t *err)
{
    if (len > RUNTIME_MODEL_MAX_BYTES)
        return mops_err_set(err, MOPS_ETOOBIG, "the model is %zu bytes, over the limit of %zu",
                            len, RUNTIME_MODEL_MAX_BYTES);
    if (!format) {
        format = runtime_format_detect(data, len);
        if (!format)
            return mops_err_set(err, MOPS_EINVAL,
                                "not a model mops can read: expected XGBoost JSON (save_model(\"m.json\")) "
                                "or the mops scikit-learn JSON (clients/python/mops_sklearn.py)");
    }
    runtime_model_t *m = NULL;
    int rc;
    if (!strcmp(format, "xgboost-json"))
        rc = runtime__load_xgboost(data, len, &m, err);
    else if (!strcmp(format, "sklearn-json"))
        rc = runtime__load_sklearn(data, len, &m, err);
    else
        return mops_err_set(err, MOPS_EINVAL,
                            "unknown model format '%s' (use xgboost-json or sklearn-json)", format);
    if (rc < 0)
        return rc;
    *out = m;
    return 0;
}

int runtime_model_load_file(const char *path, const char *format, runtime_model_t **out,
                            mops_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return mops_err_set(err, e == ENOENT ? MOPS_ENOTFOUND : MOPS_EIO,
                            "cannot open model file '%s': %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mops_err_set(err, MOPS_EIO, "model file '%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size > RUNTIME_MODEL_MAX_BYTES) {
        close(fd);
        return mops_err_set(err, MOPS_ETOOBIG, "model file '%s' is %lld bytes, over the limit of %zu",
                            path, (long long)st.st_size, RUNTIME_MODEL_MAX_BYTES);
    }
    size_t cap = (size_t)st.st_size, len = 0;
    char *buf = mops_xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            /* The file grew while we read it: keep reading, within the limit. */
            if (cap >= RUNTIME_MODEL_MAX_BYTES) {
                free(buf);
                close(fd);
                return mops_err_set(err, MOPS_ETOOBIG, "model file '%s' is over the limit of %zu bytes",
                                    path, RUNTIME_MODEL_MAX_BYTES);
            }
            cap = cap ? cap * 2 : 4096;
            buf = mops_xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return mops_err_set(err, MOPS_EIO, "cannot read model file '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    int rc = runtime_model_load_buffer(buf, len, format, out, err);
    free(buf);
    if (rc < 0)
        return mops_err_wrap(err, "%s", path);
    return 0;
}
