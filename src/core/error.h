/*
 * error.h — mops error codes and the error record fallible functions fill.
 *
 * The rule for the whole code base (as in SQLite and libuv): a function that
 * can fail returns int, 0 on success or a negative MOPS_E* code, fills its
 * out-parameters only on success, and writes a message for the user into the
 * caller's mops_err_t (which may be NULL when the caller does not care).
 * Only the HTTP layer turns codes into statuses; only the CLI prints.
 */
#ifndef MOPS_CORE_ERROR_H
#define MOPS_CORE_ERROR_H

#include <stdarg.h>

enum {
    MOPS_OK = 0,
    MOPS_EINVAL = -1,       /* input is malformed or out of range        400 */
    MOPS_EUNAUTH = -2,      /* no or bad credentials                     401 */
    MOPS_EFORBIDDEN = -3,   /* authenticated, not allowed                403 */
    MOPS_ENOTFOUND = -4,    /* no such object (or not visible to caller) 404 */
    MOPS_EMETHOD = -5,      /* path exists, method does not              405 */
    MOPS_ECONFLICT = -6,    /* already exists / concurrent change        409 */
    MOPS_EPRECOND = -7,     /* state does not allow the operation        409 */
    MOPS_ETOOBIG = -8,      /* body, upload or value over its limit      413 */
    MOPS_EMEDIA = -9,       /* wrong content type                        415 */
    MOPS_ECORRUPT = -10,    /* stored data failed its integrity check    500 */
    MOPS_EIO = -11,         /* file system or network failure            500 */
    MOPS_EINTERNAL = -12,   /* a bug or an unexpected library failure    500 */
    MOPS_EUNAVAIL = -13,    /* dependency down, shutting down, busy      503 */
    MOPS_ECANCELED = -14,   /* stopped on request                        499 */
};

#define MOPS_ERR_MSG_MAX 512

typedef struct mops_err {
    int code;                     /* last MOPS_E* code set, 0 if none */
    char msg[MOPS_ERR_MSG_MAX];   /* message for the user, NUL-terminated */
} mops_err_t;

/* Record code and a printf-style message in err (if err is not NULL) and
 * return code, so callers can write `return mops_err_set(err, ...)`. */
int mops_err_set(mops_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int mops_err_setv(mops_err_t *err, int code, const char *fmt, va_list ap);

/* Prefix the message already in err with "<prefix>: ", keeping its code.
 * Returns err->code (or MOPS_EINTERNAL when err is NULL). */
int mops_err_wrap(mops_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset err to "no error". */
void mops_err_clear(mops_err_t *err);

/* Stable machine name of a code ("invalid_argument", "not_found", ...). */
const char *mops_err_name(int code);

/* HTTP status that stands for a code (400, 404, ...). */
int mops_err_http_status(int code);

#endif
