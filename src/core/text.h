/*
 * text.h — validation of the identifiers users type: names of teams, users,
 * models and aliases; tags; UTF-8. Every check returns 0 or MOPS_EINVAL with
 * a message that names the field, shows the value (escaped) and says what is
 * allowed, so the same words reach API and CLI users.
 */
#ifndef MOPS_CORE_TEXT_H
#define MOPS_CORE_TEXT_H

#include <stddef.h>

#include "core/error.h"

#define MOPS_NAME_MAX 64
#define MOPS_TAG_MAX 64
#define MOPS_TEXT_MAX 4096

/* A name: 1..64 of [A-Za-z0-9._-], starting with a letter or digit, no "..".
 * field is what the user called it ("team", "name", "alias"). */
int mops_name_check(const char *field, const char *s, mops_err_t *err);

/* A tag: 1..64 of [A-Za-z0-9._:=/-], starting with a letter or digit. */
int mops_tag_check(const char *field, const char *s, mops_err_t *err);

/* Free text: valid UTF-8, no control characters but \n and \t, at most max
 * bytes. */
int mops_text_check(const char *field, const char *s, size_t max, mops_err_t *err);

/* True when s is valid UTF-8 of n bytes (no overlongs, no surrogates). */
int mops_utf8_valid(const char *s, size_t n);

/* How many of the n bytes of UTF-8 text s to keep to cut it to at most max
 * bytes without splitting a character. */
size_t mops_utf8_prefix(const char *s, size_t n, size_t max);

/* Escape s for display inside quotes in an error message: control
 * characters and non-ASCII become \xNN, at most out_size-1 bytes. */
void mops_text_escape(const char *s, char *out, size_t out_size);

/* s escaped as by mops_text_escape and cut to 96 bytes, in a per-thread
 * ring of 8 buffers: for putting user input into one message. */
const char *mops_text_show(const char *s);

/* Parse a non-negative decimal integer that fits int64; 0 or MOPS_EINVAL. */
int mops_parse_i64(const char *s, long long *out);

/* Parse a byte size: digits with an optional unit k, M, G, T (powers of
 * 1024; "KiB", "MB" and the like accepted). 0 or MOPS_EINVAL. */
int mops_parse_size(const char *s, long long *out);

#endif
