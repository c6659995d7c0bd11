/*
 * json.h — strict reading of JSON request bodies with jansson: parse with a
 * message that says where the syntax broke, and check an object against a
 * list of allowed fields with their types, so every unknown field, missing
 * field and wrong type is named to the user.
 */
#ifndef MOPS_CORE_JSON_H
#define MOPS_CORE_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"
#include "core/mem.h"

typedef enum {
    MOPS_JSON_STRING,
    MOPS_JSON_INT,
    MOPS_JSON_NUMBER,       /* integer or real */
    MOPS_JSON_BOOL,
    MOPS_JSON_OBJECT,
    MOPS_JSON_ARRAY,
    MOPS_JSON_STRING_ARRAY, /* array whose items are all strings */
    MOPS_JSON_NULLABLE_STRING,
    MOPS_JSON_ANY,
} mops_json_type_t;

typedef struct mops_json_field {
    const char *name;
    mops_json_type_t type;
    int required;
} mops_json_field_t;

/* Parse len bytes of JSON text; the top level must be an object. Duplicate
 * keys are refused. On success *out is a new reference. */
int mops_json_parse_object(const char *text, size_t len, json_t **out, mops_err_t *err);

/* Check obj (which must be an object) against fields, a list ended by
 * {NULL}: no unknown keys, required ones present, each of its type. what
 * names the object in messages ("request body", "field 'source'"). */
int mops_json_check(const json_t *obj, const char *what, const mops_json_field_t *fields,
                    mops_err_t *err);

/* Check a JSON array of tags (as mops_tag_check), at most max of them and
 * none given twice. NULL (no tags given) is fine. */
int mops_json_tags_check(const json_t *tags, size_t max, mops_err_t *err);


/* For checkers of other JSON representations (serve's request parser):
 * the words mops_json_check uses for a type, and its refusal of key in
 * what (unknown field, listing the allowed ones). Returns MOPS_EINVAL. */
const char *mops_json_type_word(mops_json_type_t t);
int mops_json_unknown_field(const char *key, const char *what, const mops_json_field_t *fields,
                            mops_err_t *err);

/* obj[key] as a string, or dflt when absent or null. */
const char *mops_json_str(const json_t *obj, const char *key, const char *dflt);

/* Compact serialisation into a new heap string; caller frees. */
char *mops_json_dump(const json_t *v);

/* A time in Unix ms as an RFC 3339 JSON string (new reference), or JSON
 * null for 0 (a time that is not there). */
json_t *mops_json_time(int64_t ms);

/* Append s (UTF-8) to b as a JSON string, quotes included: for answers and
 * log lines written without building a jansson value. */
void mops_json_buf_str(mops_buf_t *b, const char *s);

#endif
