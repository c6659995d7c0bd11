/*
 * page.c — one page of a list: the (id, page key) rows a query returns,
 * each turned into its JSON, and the token of the next page.
 */
#include <stdio.h>

#include "store/store.h"

int store_page(const mops_ctx_t *ctx, store_stmt_t *s, int limit, store_item_fn item,
               const void *arg, json_t **out, mops_err_t *err)
{
    /* Collect the page first: item runs queries of its own. */
    int64_t *rows = mops_arena_alloc(ctx->arena, sizeof *rows * (size_t)(limit + 1) * 2);
    int n = 0, rc;
    while ((rc = store_step(s, err)) == STORE_ROW && n <= limit) {
        rows[2 * n] = store_col_int(s, 0);
        rows[2 * n + 1] = store_col_int(s, 1);
        n++;
    }
    store_finalize(s);
    if (rc < 0)
        return rc;
    int more = n > limit;
    if (more)
        n = limit;
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o;
        if ((rc = item(ctx, arg, rows[2 * i], &o, err)) != 0) {
            json_decref(items);
            return rc;
        }
        json_array_append_new(items, o);
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next_page_token",
                     more ? json_sprintf("%lld", (long long)rows[2 * (n - 1) + 1]) : json_null());
    return 0;
}
