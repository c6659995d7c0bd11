/*
 * error.c — error records: setting, wrapping, and the table that names each
 * code and maps it to an HTTP status. One table, so a new code cannot be
 * added with a name but without a status.
 */
#include "core/error.h"

#include <stdio.h>
#include <string.h>

static const struct {
    int code;
    const char *name;
    int status;
} err_table[] = {
    {MOPS_OK, "ok", 200},
    {MOPS_EINVAL, "invalid_argument", 400},
    {MOPS_EUNAUTH, "unauthenticated", 401},
    {MOPS_EFORBIDDEN, "forbidden", 403},
    {MOPS_ENOTFOUND, "not_found", 404},
    {MOPS_EMETHOD, "method_not_allowed", 405},
    {MOPS_ECONFLICT, "conflict", 409},
    {MOPS_EPRECOND, "failed_precondition", 409},
    {MOPS_ETOOBIG, "too_large", 413},
    {MOPS_EMEDIA, "unsupported_media_type", 415},
    {MOPS_ECORRUPT, "data_corrupt", 500},
    {MOPS_EIO, "io_error", 500},
    {MOPS_EINTERNAL, "internal", 500},
    {MOPS_EUNAVAIL, "unavailable", 503},
    {MOPS_ECANCELED, "canceled", 499},
};

int mops_err_setv(mops_err_t *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

int mops_err_set(mops_err_t *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mops_err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int mops_err_wrap(mops_err_t *err, const char *fmt, ...)
{
    if (!err)
        return MOPS_EINTERNAL;
    char old[MOPS_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err->msg - 2) {
        /* Truncation of the wrapped message is acceptable. */
        size_t room = sizeof err->msg - (size_t)n - 2;
        err->msg[n] = ':';
        err->msg[n + 1] = ' ';
        size_t k = strnlen(old, room - 1);
        memcpy(err->msg + n + 2, old, k);
        err->msg[n + 2 + k] = '\0';
    }
    return err->code ? err->code : MOPS_EINTERNAL;
}

void mops_err_clear(mops_err_t *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *mops_err_name(int code)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == code)
            return err_table[i].name;
    return "internal";
}

int mops_err_http_status(int code)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == code)
            return err_table[i].status;
    return 500;
}
