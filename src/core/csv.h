/*
 * csv.h — streaming CSV (RFC 4180) reading on Debian's libcsv, in constant
 * memory, with line numbers for messages; and quoting for writing fields.
 *
 * The reader pulls one record at a time from a FILE it does not own, or,
 * in push mode, takes the input in pieces as they arrive (an upload) and
 * hands each record to a callback.
 * Quoted fields may hold commas, quotes ("") and line breaks; CRLF and LF
 * both end records; blank lines are skipped; a UTF-8 byte-order mark at the
 * start is dropped. Malformed quoting, an unterminated quote at the end,
 * and fields or records over their limits are errors whose message names
 * the line. The caller decides what a ragged record means (fields differ
 * from the header's count): the record says how many fields it has.
 */
#ifndef MOPS_CORE_CSV_H
#define MOPS_CORE_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/mem.h"

/* Limits: a field's bytes, a record's fields. */
#define MOPS_CSV_FIELD_MAX ((size_t)1 << 20)
#define MOPS_CSV_FIELDS_MAX ((size_t)1 << 20)

typedef struct mops_csv mops_csv_t;

typedef struct mops_csv_record {
    size_t n;            /* number of fields */
    const char **fields; /* NUL-terminated texts, unquoted */
    const size_t *lens;  /* their lengths */
    size_t line;         /* line (1-based) on which the record ends */
} mops_csv_record_t;

/* A reader over f (not closed by mops_csv_close). name is used in messages
 * ("rows.csv"); it is copied. */
mops_csv_t *mops_csv_open(FILE *f, const char *name);

/* Read the next record into *rec; its texts stay valid until the next call.
 * Returns 1 for a record, 0 at the end of input, or a negative MOPS_E*
 * code (MOPS_EINVAL for malformed CSV, MOPS_ETOOBIG for a limit, MOPS_EIO
 * for a read error) with a message naming the file and line. */
int mops_csv_next(mops_csv_t *c, mops_csv_record_t *rec, mops_err_t *err);

/* Push mode. fn gets each record as soon as it is complete (its texts are
 * valid during the call only) and returns 0 to go on, or a negative
 * MOPS_E* code with err filled to stop: mops_csv_push then returns it. */
typedef int (*mops_csv_record_fn)(void *arg, const mops_csv_record_t *rec, mops_err_t *err);

/* A reader fed by mops_csv_push; name is used in messages. Free it with
 * mops_csv_close. */
mops_csv_t *mops_csv_push_new(const char *name, mops_csv_record_fn fn, void *arg);

/* Feed the next n bytes of input (any split, even inside a field or a
 * UTF-8 character). Returns 0, fn's code, or an error as mops_csv_next
 * does. After an error the reader is only good for mops_csv_close. */
int mops_csv_push(mops_csv_t *c, const void *data, size_t n, mops_err_t *err);

/* The input has ended: the last record (without a final line break) goes
 * to fn; an unclosed quote is an error naming its line. */
int mops_csv_push_end(mops_csv_t *c, mops_err_t *err);

/* Bytes consumed from the input so far (for progress). */
uint64_t mops_csv_bytes(const mops_csv_t *c);

void mops_csv_close(mops_csv_t *c);

/* True when a field stands for a missing value: empty or blank, or NA,
 * N/A, NaN, -NaN, null, None in any case (surrounding spaces ignored). */
int mops_csv_missing(const char *s, size_t len);

/* Read a field as a number. Returns 0 and *out for a number, 1 for a
 * missing value (empty, NA, N/A, NaN, null, None in any case; *out is NaN),
 * -1 when the text is not a number. Accepts decimal and exponent forms and
 * inf/infinity; surrounding spaces are ignored; hexadecimal is refused. */
int mops_csv_number(const char *s, size_t len, double *out);

/* Write one field to f, quoted only when it needs to be (comma, quote,
 * CR, LF, or leading/trailing space). */
void mops_csv_write_field(FILE *f, const char *s, size_t len);

/* The same, appended to b. */
void mops_csv_buf_field(mops_buf_t *b, const char *s, size_t len);

#endif
