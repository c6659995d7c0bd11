/*
 * json.c — parsing and field checking for request bodies.
 */
#include "core/json.h"

#include <string.h>

#include "core/mem.h"
#include "core/text.h"
#include "core/time.h"

int mops_json_parse_object(const char *text, size_t len, json_t **out, mops_err_t *err)
{
    json_error_t je;
    if (len == 0)
        return mops_err_set(err, MOPS_EINVAL, "request body is empty; a JSON object is expected");
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return mops_err_set(err, MOPS_EINVAL, "malformed JSON at line %d, column %d: %s", je.line,
                            je.column, je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return mops_err_set(err, MOPS_EINVAL, "request body must be a JSON object");
    }
    *out = v;
    return 0;
}

const char *mops_json_type_word(mops_json_type_t t)
{
    switch (t) {
    case MOPS_JSON_STRING: return "a string";
    case MOPS_JSON_INT: return "an integer";
    case MOPS_JSON_NUMBER: return "a number";
    case MOPS_JSON_BOOL: return "true or false";
    case MOPS_JSON_OBJECT: return "an object";
    case MOPS_JSON_ARRAY: return "an array";
    case MOPS_JSON_STRING_ARRAY: return "an array of strings";
    case MOPS_JSON_NULLABLE_STRING: return "a string or null";
    case MOPS_JSON_ANY: return "any value";
    }
    return "?";
}

static const char *value_word(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static int type_ok(const json_t *v, mops_json_type_t t)
{
    switch (t) {
    case MOPS_JSON_STRING: return json_is_string(v);
    case MOPS_JSON_INT: return json_is_integer(v);
    case MOPS_JSON_NUMBER: return json_is_number(v);
    case MOPS_JSON_BOOL: return json_is_boolean(v);
    case MOPS_JSON_OBJECT: return json_is_object(v);
    case MOPS_JSON_ARRAY: return json_is_array(v);
    case MOPS_JSON_NULLABLE_STRING: return json_is_string(v) || json_is_null(v);
    case MOPS_JSON_STRING_ARRAY: {
        if (!json_is_array(v))
            return 0;
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it) if (!json_is_string(it)) return 0;
        return 1;
    }
    case MOPS_JSON_ANY: return 1;
    }
    return 0;
}

int mops_json_unknown_field(const char *key, const char *what, const mops_json_field_t *fields,
                            mops_err_t *err)
{
    char shown[96];
    mops_text_escape(key, shown, sizeof shown);
    mops_buf_t allowed = MOPS_BUF_INIT;
    for (const mops_json_field_t *f = fields; f->name; f++)
        mops_buf_printf(&allowed, "%s%s", f == fields ? "" : ", ", f->name);
    mops_err_set(err, MOPS_EINVAL, "unknown field \"%s\" in %s (allowed: %s)", shown, what,
                 allowed.data ? allowed.data : "none");
    mops_buf_release(&allowed);
    return MOPS_EINVAL;
}

int mops_json_check(const json_t *obj, const char *what, const mops_json_field_t *fields,
                    mops_err_t *err)
{
    if (!json_is_object(obj))
        return mops_err_set(err, MOPS_EINVAL, "%s must be a JSON object", what);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        const mops_json_field_t *f = fields;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        char shown[96];
        mops_text_escape(key, shown, sizeof shown);
        if (!f->name)
            return mops_json_unknown_field(key, what, fields, err);
        if (!type_ok(val, f->type))
            return mops_err_set(err, MOPS_EINVAL, "field \"%s\" in %s must be %s, not %s", shown,
                                what, mops_json_type_word(f->type), value_word(val));
    }
    for (const mops_json_field_t *f = fields; f->name; f++)
        if (f->required && !json_object_get(obj, f->name))
            return mops_err_set(err, MOPS_EINVAL, "field \"%s\" is required in %s", f->name, what);
    return 0;
}

const char *mops_json_str(const json_t *obj, const char *key, const char *dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

char *mops_json_dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        s = mops_xstrdup("null");
    return s;
}

int mops_json_tags_check(const json_t *tags, size_t max, mops_err_t *err)
{
    if (!tags)
        return 0;
    if (json_array_size(tags) > max)
        return mops_err_set(err, MOPS_EINVAL, "at most %zu tags, not %zu", max,
                            json_array_size(tags));
    size_t i, j;
    json_t *t, *u;
    json_array_foreach(tags, i, t) {
        int rc = mops_tag_check("tag", json_string_value(t), err);
        if (rc != 0)
            return rc;
        json_array_foreach(tags, j, u) {
            if (j < i && json_equal(t, u))
                return mops_err_set(err, MOPS_EINVAL, "tag \"%s\" is given twice",
                                    json_string_value(t));
        }
    }
    return 0;
}

void mops_json_buf_str(mops_buf_t *b, const char *s)
{
    /* Bytes that are not UTF-8 are written as the code points of their
     * values, so the output is always valid JSON. */
    int raw8 = !mops_utf8_valid(s, strlen(s));
    mops_buf_putc(b, '"');
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\' && !(raw8 && c >= 0x80))
            continue;
        mops_buf_append(b, run, (size_t)(s - run));
        if (c == '"' || c == '\\') {
            mops_buf_putc(b, '\\');
            mops_buf_putc(b, (char)c);
        } else {
            mops_buf_printf(b, "\\u%04x", c);
        }
        run = s + 1;
    }
    mops_buf_append(b, run, (size_t)(s - run));
    mops_buf_putc(b, '"');
}

json_t *mops_json_time(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    mops_time_format(ms, buf, sizeof buf);
    return json_string(buf);
}
