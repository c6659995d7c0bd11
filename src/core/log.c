/*
 * log.c — level filter, text or JSON formatting, one write per line.
 */
#include "core/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/time.h"

static mops_log_level_t log_level = MOPS_LOG_INFO;
static mops_log_format_t log_format = MOPS_LOG_TEXT;
static int log_fd = 2;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void mops_log_setup(mops_log_level_t level, mops_log_format_t format, int fd)
{
    log_level = level;
    log_format = format;
    log_fd = fd;
}

int mops_log_level_parse(const char *s, mops_log_level_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (mops_log_level_t)i;
            return 0;
        }
    return MOPS_EINVAL;
}

void mops_log(mops_log_level_t level, const char *fmt, ...)
{
    if (level < log_level)
        return;
    char msg[2048], ts[40], line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mops_time_format(mops_now_ms(), ts, sizeof ts);
    int n;
    if (log_format == MOPS_LOG_JSON) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level_names[level], "msg", msg);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        n = snprintf(line, sizeof line, "%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
    } else {
        n = snprintf(line, sizeof line, "%s %-5s %s\n", ts, level_names[level], msg);
    }
    if (n >= (int)sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}
