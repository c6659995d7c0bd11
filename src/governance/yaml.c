/*
 * yaml.c — YAML policy documents to JSON, on Debian's libyaml, keeping the
 * line of every value so a policy's errors can name it.
 *
 * Plain scalars are typed as YAML 1.2's core schema types them (null, ~ and
 * empty: null; true/false: booleans; decimal integers and numbers); quoted
 * ones are strings; "yes"/"no" stay strings. One document per text; keys
 * are strings and appear once per mapping; aliases are expanded, within a
 * bound on the values produced (so "billion laughs" cannot exhaust memory).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/text.h"
#include "governance/governance_int.h"

#define YAML_MAX_VALUES 20000
#define YAML_MAX_DEPTH 32

struct gov_yaml_lines {
    const json_t **values;
    int *lines;
    size_t n, cap;
};

static void lines_add(gov_yaml_lines_t *l, const json_t *v, int line)
{
    if (!l)
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->values = mops_xrealloc(l->values, l->cap * sizeof *l->values);
        l->lines = mops_xrealloc(l->lines, l->cap * sizeof *l->lines);
    }
    l->values[l->n] = v;
    l->lines[l->n++] = line;
}

int gov_yaml_line(const gov_yaml_lines_t *lines, const json_t *value)
{
    for (size_t i = 0; lines && i < lines->n; i++)
        if (lines->values[i] == value)
            return lines->lines[i];
    return 0;
}

void gov_yaml_lines_free(gov_yaml_lines_t *lines)
{
    if (!lines)
        return;
    free(lines->values);
    free(lines->lines);
    free(lines);
}

/* A plain scalar as YAML 1.2's core schema reads it. */
static json_t *plain_scalar(const char *s, size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '~') || !strcmp(s, "null") || !strcmp(s, "Null") ||
        !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    size_t i = s[0] == '-' || s[0] == '+';
    int digits = 0, dot = 0, exp = 0, ok = i < n;
    for (; ok && i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            digits++;
        else if (c == '.' && !dot && !exp)
            dot = 1;
        else if ((c == 'e' || c == 'E') && digits && !exp) {
            exp = 1;
            if (i + 1 < n && (s[i + 1] == '-' || s[i + 1] == '+'))
                i++;
            digits = 0; /* the exponent needs digits of its own */
        } else
            ok = 0;
    }
    if (ok && digits) {
        errno = 0;
        char *end;
        if (!dot && !exp) {
            long long v = strtoll(s, &end, 10);
            if (!errno && *end == '\0')
                return json_integer(v);
        }
        double d = strtod(s, &end);
        if (!errno && *end == '\0' && isfinite(d))
            return json_real(d);
    }
    return json_stringn(s, n);
}

typedef struct conv {
    yaml_document_t *doc;
    gov_yaml_lines_t *lines;
    size_t produced;
    mops_err_t *err;
} conv_t;

static int convert(conv_t *c, yaml_node_t *node, int depth, json_t **out)
{
    int line = (int)node->start_mark.line + 1;
    if (++c->produced > YAML_MAX_VALUES)
        return mops_err_set(c->err, MOPS_ETOOBIG,
                            "line %d: the document expands to over %d values (aliases?)", line,
                            YAML_MAX_VALUES);
    if (depth > YAML_MAX_DEPTH)
        return mops_err_set(c->err, MOPS_EINVAL, "line %d: nested deeper than %d levels", line,
                            YAML_MAX_DEPTH);
    json_t *v = NULL;
    int rc = 0;
    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)node->data.scalar.value;
        size_t n = node->data.scalar.length;
        if (strlen(s) != n)
            return mops_err_set(c->err, MOPS_EINVAL, "line %d: a value holds a NUL character",
                                line);
        v = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(s, n)
                                                                : json_stringn(s, n);
        if (!v)
            return mops_err_set(c->err, MOPS_EINVAL, "line %d: a value is not UTF-8", line);
        break;
    }
    case YAML_SEQUENCE_NODE:
        v = json_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             rc == 0 && it < node->data.sequence.items.top; it++) {
            json_t *item;
            if ((rc = convert(c, yaml_document_get_node(c->doc, *it), depth + 1, &item)) == 0)
                json_array_append_new(v, item);
        }
        break;
    case YAML_MAPPING_NODE:
        v = json_object();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             rc == 0 && p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            int kline = (int)k->start_mark.line + 1;
            if (k->type != YAML_SCALAR_NODE) {
                rc = mops_err_set(c->err, MOPS_EINVAL, "line %d: a key must be a plain name",
                                  kline);
                break;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (strlen(key) != k->data.scalar.length || !mops_utf8_valid(key, strlen(key))) {
                rc = mops_err_set(c->err, MOPS_EINVAL, "line %d: a key is not UTF-8 text",
                                  kline);
                break;
            }
            if (json_object_get(v, key)) {
                rc = mops_err_set(c->err, MOPS_EINVAL, "line %d: key \"%s\" appears twice", kline,
                                  mops_text_show(key));
                break;
            }
            json_t *item;
            if ((rc = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1, &item)) ==
                0)
                json_object_set_new(v, key, item);
        }
        break;
    default:
        return mops_err_set(c->err, MOPS_EINVAL, "line %d: empty node", line);
    }
    if (rc != 0) {
        json_decref(v);
        return rc;
    }
    lines_add(c->lines, v, line);
    *out = v;
    return 0;
}

static int parser_error(const yaml_parser_t *p, mops_err_t *err)
{
    return mops_err_set(err, MOPS_EINVAL, "malformed YAML at line %d, column %d: %s%s%s",
                        (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
                        p->problem ? p->problem : "syntax error", p->context ? " " : "",
                        p->context ? p->context : "");
}

int gov_yaml_to_json(const char *text, size_t len, json_t **out, gov_yaml_lines_t **lines,
                     mops_err_t *err)
{
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p))
        return mops_err_set(err, MOPS_EINTERNAL, "cannot initialise libyaml");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        int rc = parser_error(&p, err);
        yaml_parser_delete(&p);
        return rc;
    }
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    gov_yaml_lines_t *l = lines ? mops_xcalloc(1, sizeof *l) : NULL;
    json_t *v = NULL;
    if (!root) {
        rc = mops_err_set(err, MOPS_EINVAL, "the YAML document is empty");
    } else {
        conv_t c = {&doc, l, 0, err};
        rc = convert(&c, root, 0, &v);
    }
    yaml_document_delete(&doc);
    /* One document only: a second one would be silently ignored. */
    if (rc == 0) {
        yaml_document_t more;
        if (!yaml_parser_load(&p, &more)) {
            rc = parser_error(&p, err);
        } else {
            if (yaml_document_get_root_node(&more))
                rc = mops_err_set(err, MOPS_EINVAL,
                                  "line %d: a second YAML document; a policy is one document",
                                  (int)more.start_mark.line + 1);
            yaml_document_delete(&more);
        }
    }
    yaml_parser_delete(&p);
    if (rc != 0) {
        json_decref(v);
        gov_yaml_lines_free(l);
        return rc;
    }
    *out = v;
    if (lines)
        *lines = l;
    return 0;
}
