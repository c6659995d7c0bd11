/*
 * stats_int.h — private to stats/: the portable byte encoding of sketch
 * arrays (little-endian, base64 in JSON) and the strict readers of the
 * stored JSON that every _from_json shares.
 */
#ifndef MOPS_STATS_INT_H
#define MOPS_STATS_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Base64 of n doubles / n bytes, as a new JSON string. */
json_t *stats_b64_doubles(const double *v, size_t n);
json_t *stats_b64_bytes(const uint8_t *v, size_t n);

/* Decode a base64 JSON string into a new heap array; *n gets the count.
 * MOPS_EINVAL (naming what) when it is not one. */
int stats_unb64_doubles(const json_t *s, const char *what, double **out, size_t *n,
                        mops_err_t *err);
int stats_unb64_bytes(const json_t *s, const char *what, uint8_t **out, size_t *n,
                      mops_err_t *err);

/* obj[key] as an integer >= 0 / a number (the strings "inf", "-inf" and
 * "nan" stand for the values JSON cannot hold). */
int stats_json_u64(const json_t *obj, const char *key, const char *what, uint64_t *out,
                   mops_err_t *err);
int stats_json_num(const json_t *obj, const char *key, const char *what, double *out,
                   mops_err_t *err);
json_t *stats_num_json(double x);

/* The sketch tag check: obj is an object whose "type" is want. */
int stats_json_type(const json_t *obj, const char *want, mops_err_t *err);

#endif
