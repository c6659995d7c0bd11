/*
 * log.h — the one logger: levels, and either JSON lines (for machines) or
 * plain text (for people at a terminal). Thread-safe; each call writes one
 * whole line with a single write(2).
 */
#ifndef MOPS_CORE_LOG_H
#define MOPS_CORE_LOG_H

typedef enum { MOPS_LOG_DEBUG, MOPS_LOG_INFO, MOPS_LOG_WARN, MOPS_LOG_ERROR } mops_log_level_t;
typedef enum { MOPS_LOG_TEXT, MOPS_LOG_JSON } mops_log_format_t;

/* Set the threshold and format; fd is where lines go (2 by default). */
void mops_log_setup(mops_log_level_t level, mops_log_format_t format, int fd);
/* Parse "debug|info|warn|error"; returns 0 or MOPS_EINVAL. */
int mops_log_level_parse(const char *s, mops_log_level_t *out);

void mops_log(mops_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mops_debug(...) mops_log(MOPS_LOG_DEBUG, __VA_ARGS__)
#define mops_info(...) mops_log(MOPS_LOG_INFO, __VA_ARGS__)
#define mops_warn(...) mops_log(MOPS_LOG_WARN, __VA_ARGS__)
#define mops_error(...) mops_log(MOPS_LOG_ERROR, __VA_ARGS__)

#endif
