/*
 * tags.c — rows' tags kept in (id, tag) tables, the same for every module
 * that tags its objects: replace a row's set, read it back sorted.
 */
#include <stdio.h>

#include "store/store.h"

int store_tags_replace(store_conn_t *c, const char *table, const char *id_col, int64_t id,
                       const json_t *tags, mops_err_t *err)
{
    char sql[200];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = ?", table, id_col);
    int rc = store_exec(c, NULL, err, sql, "i", id);
    snprintf(sql, sizeof sql, "INSERT INTO %s (%s, tag) VALUES (?, ?)", table, id_col);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        if (rc != 0)
            break;
        rc = store_exec(c, NULL, err, sql, "it", id, json_string_value(t));
    }
    return rc;
}

int store_tags_json(store_conn_t *c, const char *table, const char *id_col, int64_t id,
                    json_t **out, mops_err_t *err)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT tag FROM %s WHERE %s = ? ORDER BY tag", table, id_col);
    store_stmt_t *s;
    int rc = store_query(c, &s, err, sql, "i", id);
    if (rc != 0)
        return rc;
    json_t *a = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(a, json_string(store_col_text(s, 0)));
    store_finalize(s);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}
