/*
 * render.c — what model cards and compliance reports share when they are
 * written for people: HTML escaping (every value that reaches a page goes
 * through gov_html_escape), short text for JSON values, and the page frame
 * with its inline style. Pages are self-contained: no scripts, no external
 * assets, readable offline.
 */
#include <stdio.h>
#include <string.h>

#include "governance/governance_int.h"

void gov_html_escape(mops_buf_t *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&': mops_buf_puts(b, "&amp;"); break;
        case '<': mops_buf_puts(b, "&lt;"); break;
        case '>': mops_buf_puts(b, "&gt;"); break;
        case '"': mops_buf_puts(b, "&quot;"); break;
        case '\'': mops_buf_puts(b, "&#39;"); break;
        default: mops_buf_putc(b, *p);
        }
    }
}

void gov_html_value(mops_buf_t *b, const json_t *v)
{
    char num[64];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING: gov_html_escape(b, *json_string_value(v) ? json_string_value(v) : "-"); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        mops_buf_puts(b, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.6g", json_real_value(v));
        mops_buf_puts(b, num);
        break;
    case JSON_TRUE: mops_buf_puts(b, "yes"); break;
    case JSON_FALSE: mops_buf_puts(b, "no"); break;
    case JSON_NULL: mops_buf_puts(b, "-"); break;
    default: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6));
        gov_html_escape(b, s ? s : "?");
        free(s);
    }
    }
}

void gov_html_begin(mops_buf_t *b, const char *title)
{
    mops_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"generator\" content=\"mops\">\n<title>");
    gov_html_escape(b, title);
    mops_buf_puts(
        b, "</title>\n<style>\n"
           "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;"
           "max-width:70em;padding:0 1em;color:#1a1a1a}\n"
           "h1{font-size:1.6em;border-bottom:2px solid #333;padding-bottom:.2em}\n"
           "h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px solid #bbb}\n"
           "h3{font-size:1.1em;margin-top:1.2em}\n"
           "table{border-collapse:collapse;margin:.5em 0}\n"
           "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\n"
           "th{background:#f2f2f2}\n"
           ".text{white-space:pre-wrap}\n"
           ".pass{color:#176317;font-weight:600}.fail{color:#a31515;font-weight:600}"
           ".flag{color:#8a5a00;font-weight:600}\n"
           ".muted{color:#666}.na{color:#8a5a00;font-style:italic}\n"
           "code{font-size:.9em;word-break:break-all}\n"
           "@media print{body{margin:0}}\n"
           "</style>\n</head>\n<body>\n");
}

void gov_html_end(mops_buf_t *b)
{
    mops_buf_puts(b, "</body>\n</html>\n");
}
