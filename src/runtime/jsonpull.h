/*
 * jsonpull.h — private to src/runtime: a pull reader for JSON model files.
 *
 * Why not jansson (which mops uses everywhere else): model files are large
 * (a 100 MB XGBoost model holds ~10 million numbers; a DOM of it takes
 * gigabytes and seconds), and XGBoost writes the tokens NaN, Infinity and
 * -Infinity, which strict JSON parsers refuse. This reader walks the text
 * once, in place, keeps no tree, reads numbers with an exact fast path, and
 * accepts exactly RFC 8259 plus those three tokens.
 *
 * Use: the caller drives it by the document's expected shape —
 * object_begin, then next_key until it returns 0; array_begin, then
 * next_item until 0; a value reader (number, integer, string, skip) for each
 * value. Every function returns a negative MOPS_E* code on the first error,
 * with a message naming the line and column, and the reader stays failed.
 */
#ifndef MOPS_RUNTIME_JSONPULL_H
#define MOPS_RUNTIME_JSONPULL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define RUNTIME__JSON_MAX_DEPTH 64

typedef struct runtime__json {
    const char *start, *p, *end;
    mops_err_t *err;
    int failed;
    int depth;
    uint8_t first[RUNTIME__JSON_MAX_DEPTH]; /* no item read yet at this level */
    char *sbuf;                              /* decoded strings */
    size_t scap;
} runtime__json_t;

void runtime__json_init(runtime__json_t *j, const char *data, size_t len, mops_err_t *err);
void runtime__json_release(runtime__json_t *j);

/* Fail with "line L, column C: <message>"; returns MOPS_EINVAL. */
int runtime__json_fail(runtime__json_t *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The first character of the next value ('{', '[', '"', 't', 'n', a digit,
 * '-', 'N', 'I'), or 0 at the end of input. Does not consume. */
int runtime__json_peek(runtime__json_t *j);

/* Consume '{' / '['. */
int runtime__json_object_begin(runtime__json_t *j);
int runtime__json_array_begin(runtime__json_t *j);

/* Next key of the current object: 1 with *key and *len set (valid until the
 * next string is read), 0 at the closing '}'. */
int runtime__json_next_key(runtime__json_t *j, const char **key, size_t *len);

/* Whether another item follows in the current array: 1, or 0 at ']'. */
int runtime__json_next_item(runtime__json_t *j);

/* Value readers. number accepts NaN/Infinity/-Infinity; integer refuses
 * fractions and exponents; flag accepts true/false/0/1. */
int runtime__json_number(runtime__json_t *j, double *out);
int runtime__json_integer(runtime__json_t *j, int64_t *out);
int runtime__json_flag(runtime__json_t *j, int *out);
int runtime__json_string(runtime__json_t *j, const char **s, size_t *len);
/* Consume a null if one is next: 1 if it was, 0 if something else is. */
int runtime__json_null(runtime__json_t *j);
/* Skip one value of any kind. */
int runtime__json_skip(runtime__json_t *j);
/* Skip one object or array by bracket matching only, without checking the
 * scalars inside: for a first pass over a value that is read strictly
 * later (runtime__json_at). */
int runtime__json_skip_fast(runtime__json_t *j);
/* A reader over the value [p, end) of the same document as j (for line
 * numbers). */
void runtime__json_at(runtime__json_t *sub, const runtime__json_t *j, const char *p,
                      const char *end);
/* After the top-level value: only whitespace may remain. */
int runtime__json_end(runtime__json_t *j);

/* Whole arrays into growable heap buffers (*vals, *cap are reused across
 * calls; *n gets the count). max bounds the count. */
int runtime__json_numbers(runtime__json_t *j, double **vals, size_t *n, size_t *cap,
                          size_t max, const char *what);
int runtime__json_integers(runtime__json_t *j, int64_t **vals, size_t *n, size_t *cap,
                           size_t max, const char *what);

/* Key comparison helper. */
int runtime__json_key_is(const char *key, size_t len, const char *want);

/* A number held in a JSON string, as XGBoost writes parameters ("5E-1",
 * "[5E-1]" in newer versions): 0 and *out, or MOPS_EINVAL. */
int runtime__json_parse_num_text(const char *s, size_t len, double *out);

#endif
