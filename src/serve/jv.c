/*
 * jv.c — the inference request parser: strict JSON (RFC 8259) into a
 * read-only tree allocated from the request's arena.
 *
 * jansson (which every other endpoint uses) allocates every value and
 * parses numbers with strtod; on the inference hot path that was a quarter
 * of the server's CPU time for a single-row request. Here a request costs
 * a few arena allocations, and numbers take core/csv's exact fast path
 * (Clinger), falling back to strtod_l only where that is needed. The rules
 * are jansson's as mops uses it, with the same messages: an object at the
 * top, duplicate keys refused, \u0000 refused, UTF-8 checked, integers
 * that overflow int64 and reals that overflow a double refused, nesting
 * bounded.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/json.h"
#include "core/text.h"
#include "serve/serve_int.h"

#define JV_MAX_DEPTH 256

typedef struct parser {
    const char *p, *start, *end;
    mops_arena_t *arena;
    mops_err_t *err;
    int depth;
    /* Values and members of the arrays and objects being read, until they
     * close and move to the arena. */
    jv_t *vals;
    size_t nvals, capvals;
    jv_member_t *mems;
    size_t nmems, capmems;
} parser_t;

static int fail(parser_t *ps, const char *what)
{
    int line = 1, col = 1;
    for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xc0) != 0x80) {
            col++;
        }
    }
    return mops_err_set(ps->err, MOPS_EINVAL, "malformed JSON at line %d, column %d: %s", line,
                        col, what);
}

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int hex4(parser_t *ps, const char *q, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = q + i < ps->end ? hexval(q[i]) : -1;
        if (h < 0)
            return fail(ps, "invalid escape");
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | cp >> 12);
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | cp >> 18);
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string (ps->p on the opening quote) into *out, *len; NUL-terminated. */
static int parse_string(parser_t *ps, const char **out, uint32_t *len)
{
    const char *q = ++ps->p, *run = q;
    int escaped = 0;
    while (q < ps->end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) {
            ps->p = q;
            return fail(ps, "control character in a string");
        }
        if (c == '\\') {
            escaped = 1;
            q++;
        }
        q++;
    }
    if (q >= ps->end) {
        ps->p = q;
        return fail(ps, "premature end of input in a string");
    }
    size_t raw = (size_t)(q - run);
    char *d = mops_arena_alloc(ps->arena, raw + 1), *w = d;
    if (!escaped) {
        memcpy(d, run, raw);
        w = d + raw;
    } else {
        for (const char *s = run; s < q;) {
            if (*s != '\\') {
                *w++ = *s++;
                continue;
            }
            ps->p = s;
            switch (s[1]) {
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            case '/': *w++ = '/'; break;
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(ps, s + 2, &cp) != 0)
                    return MOPS_EINVAL;
                if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair */
                    if (s + 11 >= q || s[6] != '\\' || s[7] != 'u' ||
                        hex4(ps, s + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                        return fail(ps, "invalid Unicode surrogate pair");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return fail(ps, "invalid Unicode surrogate pair");
                }
                if (cp == 0)
                    return fail(ps, "\\u0000 is not allowed in a string");
                w += utf8_put(w, cp);
                s += 4;
                break;
            }
            default: return fail(ps, "invalid escape");
            }
            s += 2;
        }
    }
    *w = '\0';
    if (!mops_utf8_valid(d, (size_t)(w - d))) {
        ps->p = run;
        return fail(ps, "invalid UTF-8 in a string");
    }
    *out = d;
    *len = (uint32_t)(w - d);
    ps->p = q + 1;
    return 0;
}

static int parse_number(parser_t *ps, jv_t *v)
{
    const char *s = ps->p, *q = s;
    int integral = 1;
    if (q < ps->end && *q == '-')
        q++;
    if (q < ps->end && *q == '0')
        q++;
    else if (q < ps->end && *q >= '1' && *q <= '9')
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    else
        return fail(ps, "invalid token");
    if (q < ps->end && *q == '.') {
        integral = 0;
        if (++q >= ps->end || *q < '0' || *q > '9')
            return fail(ps, "invalid number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integral = 0;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return fail(ps, "invalid number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    v->type = JV_NUMBER;
    if (integral) {
        /* int64 exactly, like jansson's integers. */
        const char *d = s + (*s == '-');
        uint64_t u = 0;
        for (; d < q; d++) {
            unsigned digit = (unsigned)(*d - '0');
            if (u > (UINT64_MAX - digit) / 10)
                return fail(ps, "too big integer");
            u = u * 10 + digit;
        }
        if (*s == '-' ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX)
            return fail(ps, *s == '-' ? "too big negative integer" : "too big integer");
        v->is_int = 1;
        v->i = *s == '-' ? (int64_t)(0 - u) : (int64_t)u;
        v->u.num = (double)v->i;
    } else {
        double x;
        if (mops_csv_number(s, (size_t)(q - s), &x) != 0 || !isfinite(x))
            return fail(ps, "real number overflow");
        v->u.num = x;
    }
    ps->p = q;
    return 0;
}

static int push_val(parser_t *ps, const jv_t *v)
{
    if (ps->nvals == ps->capvals) {
        ps->capvals = ps->capvals ? ps->capvals * 2 : 64;
        ps->vals = mops_xrealloc(ps->vals, ps->capvals * sizeof *ps->vals);
    }
    ps->vals[ps->nvals++] = *v;
    return 0;
}

static int member_cmp(const void *a, const void *b)
{
    const jv_member_t *x = *(const jv_member_t *const *)a, *y = *(const jv_member_t *const *)b;
    return strcmp(x->key, y->key);
}

/* Refuse an object whose members repeat a key. */
static int check_duplicates(parser_t *ps, const jv_member_t *m, size_t n)
{
    const char *dup = NULL;
    if (n <= 16) {
        for (size_t i = 1; i < n && !dup; i++)
            for (size_t j = 0; j < i && !dup; j++)
                if (!strcmp(m[i].key, m[j].key))
                    dup = m[i].key;
    } else {
        const jv_member_t **sorted = mops_xmalloc(n * sizeof *sorted);
        for (size_t i = 0; i < n; i++)
            sorted[i] = &m[i];
        qsort(sorted, n, sizeof *sorted, member_cmp);
        for (size_t i = 1; i < n && !dup; i++)
            if (!strcmp(sorted[i]->key, sorted[i - 1]->key))
                dup = sorted[i]->key;
        free(sorted);
    }
    if (!dup)
        return 0;
    char msg[160];
    snprintf(msg, sizeof msg, "duplicate object key \"%s\"", mops_text_show(dup));
    return fail(ps, msg);
}

static int parse_value(parser_t *ps, jv_t *v);

static int parse_array(parser_t *ps, jv_t *v)
{
    size_t base = ps->nvals;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            jv_t item;
            int rc = parse_value(ps, &item);
            if (rc != 0)
                return rc;
            push_val(ps, &item);
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                break;
            }
            return fail(ps, "']' or ',' expected");
        }
    }
    size_t n = ps->nvals - base;
    v->type = JV_ARRAY;
    v->len = (uint32_t)n;
    v->u.items = mops_arena_alloc(ps->arena, (n ? n : 1) * sizeof *v->u.items);
    if (n)
        memcpy(v->u.items, ps->vals + base, n * sizeof *v->u.items);
    ps->nvals = base;
    return 0;
}

static int parse_object(parser_t *ps, jv_t *v)
{
    size_t base = ps->nmems;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "string or '}' expected");
            jv_member_t m;
            uint32_t klen;
            int rc = parse_string(ps, &m.key, &klen);
            if (rc != 0)
                return rc;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, "':' expected");
            ps->p++;
            if ((rc = parse_value(ps, &m.val)) != 0)
                return rc;
            if (ps->nmems == ps->capmems) {
                ps->capmems = ps->capmems ? ps->capmems * 2 : 32;
                ps->mems = mops_xrealloc(ps->mems, ps->capmems * sizeof *ps->mems);
            }
            ps->mems[ps->nmems++] = m;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            return fail(ps, "'}' or ',' expected");
        }
    }
    size_t n = ps->nmems - base;
    int rc = check_duplicates(ps, ps->mems + base, n);
    if (rc != 0)
        return rc;
    v->type = JV_OBJECT;
    v->len = (uint32_t)n;
    v->u.members = mops_arena_alloc(ps->arena, (n ? n : 1) * sizeof *v->u.members);
    if (n)
        memcpy(v->u.members, ps->mems + base, n * sizeof *v->u.members);
    ps->nmems = base;
    return 0;
}

static int literal(parser_t *ps, const char *word, int type, jv_t *v)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "invalid token");
    ps->p += n;
    v->type = (uint8_t)type;
    return 0;
}

static int parse_value(parser_t *ps, jv_t *v)
{
    memset(v, 0, sizeof *v);
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "premature end of input");
    if (++ps->depth > JV_MAX_DEPTH)
        return fail(ps, "maximum parsing depth reached");
    int rc;
    switch (*ps->p) {
    case '{': rc = parse_object(ps, v); break;
    case '[': rc = parse_array(ps, v); break;
    case '"': {
        uint32_t len;
        v->type = JV_STRING;
        rc = parse_string(ps, &v->u.str, &len);
        v->len = len;
        break;
    }
    case 't': rc = literal(ps, "true", JV_TRUE, v); break;
    case 'f': rc = literal(ps, "false", JV_FALSE, v); break;
    case 'n': rc = literal(ps, "null", JV_NULL, v); break;
    default: rc = parse_number(ps, v);
    }
    ps->depth--;
    return rc;
}

int serve__jv_parse(const char *text, size_t len, mops_arena_t *arena, jv_t **out,
                    mops_err_t *err)
{
    if (len == 0) {
        /* No body is an empty object, as for every other endpoint: the
         * field checks then name what is missing. */
        text = "{}";
        len = 2;
    }
    parser_t ps = {.p = text, .start = text, .end = text + len, .arena = arena, .err = err};
    jv_t *v = mops_arena_alloc(arena, sizeof *v);
    skip_ws(&ps);
    int rc;
    if (ps.p < ps.end && *ps.p != '{' && *ps.p != '[')
        rc = fail(&ps, "'[' or '{' expected");
    else if ((rc = parse_value(&ps, v)) == 0) {
        skip_ws(&ps);
        if (ps.p < ps.end)
            rc = fail(&ps, "end of file expected");
    }
    free(ps.vals);
    free(ps.mems);
    if (rc != 0)
        return rc;
    if (v->type != JV_OBJECT)
        return mops_err_set(err, MOPS_EINVAL, "request body must be a JSON object");
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ reading */

const jv_t *serve__jv_get(const jv_t *obj, const char *key)
{
    if (!obj || obj->type != JV_OBJECT)
        return NULL;
    for (uint32_t i = 0; i < obj->len; i++)
        if (!strcmp(obj->u.members[i].key, key))
            return &obj->u.members[i].val;
    return NULL;
}

const char *serve__jv_str(const jv_t *v)
{
    return v && v->type == JV_STRING ? v->u.str : NULL;
}

const char *serve__jv_word(const jv_t *v)
{
    switch (v ? v->type : JV_NULL) {
    case JV_OBJECT: return "an object";
    case JV_ARRAY: return "an array";
    case JV_STRING: return "a string";
    case JV_NUMBER: return v->is_int ? "an integer" : "a number";
    case JV_TRUE:
    case JV_FALSE: return "a boolean";
    }
    return "null";
}

static int type_ok(const jv_t *v, mops_json_type_t t)
{
    switch (t) {
    case MOPS_JSON_STRING: return v->type == JV_STRING;
    case MOPS_JSON_INT: return v->type == JV_NUMBER && v->is_int;
    case MOPS_JSON_NUMBER: return v->type == JV_NUMBER;
    case MOPS_JSON_BOOL: return v->type == JV_TRUE || v->type == JV_FALSE;
    case MOPS_JSON_OBJECT: return v->type == JV_OBJECT;
    case MOPS_JSON_ARRAY: return v->type == JV_ARRAY;
    case MOPS_JSON_NULLABLE_STRING: return v->type == JV_STRING || v->type == JV_NULL;
    case MOPS_JSON_STRING_ARRAY:
        if (v->type != JV_ARRAY)
            return 0;
        for (uint32_t i = 0; i < v->len; i++)
            if (v->u.items[i].type != JV_STRING)
                return 0;
        return 1;
    case MOPS_JSON_ANY: return 1;
    }
    return 0;
}

int serve__jv_check(const jv_t *obj, const char *what, const mops_json_field_t *fields,
                    mops_err_t *err)
{
    if (!obj || obj->type != JV_OBJECT)
        return mops_err_set(err, MOPS_EINVAL, "%s must be a JSON object", what);
    for (uint32_t i = 0; i < obj->len; i++) {
        const jv_member_t *m = &obj->u.members[i];
        const mops_json_field_t *f = fields;
        while (f->name && strcmp(f->name, m->key) != 0)
            f++;
        if (!f->name)
            return mops_json_unknown_field(m->key, what, fields, err);
        if (!type_ok(&m->val, f->type)) {
            char shown[96];
            mops_text_escape(m->key, shown, sizeof shown);
            return mops_err_set(err, MOPS_EINVAL, "field \"%s\" in %s must be %s, not %s", shown,
                                what, mops_json_type_word(f->type), serve__jv_word(&m->val));
        }
    }
    for (const mops_json_field_t *f = fields; f->name; f++)
        if (f->required && !serve__jv_get(obj, f->name))
            return mops_err_set(err, MOPS_EINVAL, "field \"%s\" is required in %s", f->name, what);
    return 0;
}
