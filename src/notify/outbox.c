/*
 * outbox.c — the durable outbox: events queued inside the transaction of
 * the change that causes them, fanned out at once into one delivery per
 * subscribed webhook; and the delivery log as the API shows it.
 */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "notify/notify_int.h"

int notify_filter_matches(const json_t *filter, const char *event)
{
    size_t i;
    json_t *f;
    json_array_foreach(filter, i, f) {
        const char *p = json_string_value(f);
        if (!p)
            continue;
        size_t n = strlen(p);
        if (!strcmp(p, "*") || !strcmp(p, event) ||
            (n && p[n - 1] == '.' && !strncmp(p, event, n)))
            return 1;
    }
    return 0;
}

int notify_event_insert(const mops_ctx_t *ctx, int64_t team_id, const char *event,
                        const json_t *data, int64_t *event_id, mops_err_t *err)
{
    char *text = data ? mops_json_dump(data) : mops_xstrdup("{}");
    int rc = store_query_int(ctx->db, event_id, err,
                             "INSERT INTO notify_events (team_id, event, payload, request_id, "
                             "created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                             "ittti", team_id, event, text,
                             ctx->request_id ? ctx->request_id : "", mops_now_ms());
    free(text);
    return rc;
}

int notify_delivery_insert(const mops_ctx_t *ctx, int64_t event_id, int64_t webhook_id,
                           int64_t team_id, int64_t *id, mops_err_t *err)
{
    int64_t now = mops_now_ms();
    return store_query_int(ctx->db, id, err,
                           "INSERT INTO notify_deliveries (event_id, webhook_id, team_id, state, "
                           "attempts, next_attempt_at, last_error, created_at) "
                           "VALUES (?, ?, ?, 'pending', 0, ?, '', ?) RETURNING id",
                           "iiiii", event_id, webhook_id, team_id, now, now);
}

int notify_enqueue(const mops_ctx_t *ctx, int64_t team_id, const char *event,
                   const json_t *data, mops_err_t *err)
{
    if (!store_in_tx(ctx->db))
        return mops_err_set(err, MOPS_EINTERNAL,
                            "notify: %s queued outside the transaction of its change", event);
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT id, events FROM notify_webhooks WHERE team_id = ? AND "
                         "deleted_at IS NULL AND enabled = 1 ORDER BY id",
                         "i", team_id);
    if (rc != 0)
        return rc;
    int64_t *hooks = NULL;
    size_t n = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        json_t *filter = json_loads(store_col_text(s, 1), 0, NULL);
        if (notify_filter_matches(filter, event)) {
            hooks = mops_xrealloc(hooks, (n + 1) * sizeof *hooks);
            hooks[n++] = store_col_int(s, 0);
        }
        json_decref(filter);
    }
    store_finalize(s);
    int64_t event_id = 0, id;
    /* Nobody listens: nothing to keep. */
    if (rc == 0 && n)
        rc = notify_event_insert(ctx, team_id, event, data, &event_id, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = notify_delivery_insert(ctx, event_id, hooks[i], team_id, &id, err);
    free(hooks);
    return rc;
}

/* ------------------------------------------------------------ the log */

#define DELIVERY_COLS                                                                              \
    "SELECT d.id, e.id, e.event, w.name, d.state, d.attempts, d.next_attempt_at, d.last_status, " \
    "d.last_error, d.created_at, d.finished_at, e.payload FROM notify_deliveries d "             \
    "JOIN notify_events e ON e.id = d.event_id JOIN notify_webhooks w ON w.id = d.webhook_id "

static json_t *time_or_null(store_stmt_t *s, int col)
{
    if (store_col_is_null(s, col))
        return json_null();
    char buf[40];
    mops_time_format(store_col_int(s, col), buf, sizeof buf);
    return json_string(buf);
}

static int attempts_json(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT attempt, at, status, error, duration_ms FROM notify_attempts "
                         "WHERE delivery_id = ? ORDER BY attempt",
                         "i", id);
    if (rc != 0)
        return rc;
    json_t *a = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(
            a, json_pack("{s:I, s:o, s:o, s:s, s:I}", "attempt", (json_int_t)store_col_int(s, 0),
                         "at", time_or_null(s, 1), "status",
                         store_col_is_null(s, 2) ? json_null() : json_integer(store_col_int(s, 2)),
                         "error", store_col_text(s, 3), "duration_ms",
                         (json_int_t)store_col_int(s, 4)));
    store_finalize(s);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

static json_t *row_json(store_stmt_t *s)
{
    int pending = !strcmp(store_col_text(s, 4), "pending");
    json_t *payload = json_loads(store_col_text(s, 11), 0, NULL);
    return json_pack(
        "{s:I, s:I, s:s, s:s, s:s, s:I, s:o, s:o, s:s, s:o, s:o, s:o}", "id",
        (json_int_t)store_col_int(s, 0), "event_id", (json_int_t)store_col_int(s, 1), "event",
        store_col_text(s, 2), "webhook", store_col_text(s, 3), "state", store_col_text(s, 4),
        "attempts", (json_int_t)store_col_int(s, 5), "next_attempt_at",
        pending ? time_or_null(s, 6) : json_null(), "last_status",
        store_col_is_null(s, 7) ? json_null() : json_integer(store_col_int(s, 7)), "last_error",
        store_col_text(s, 8), "created_at", time_or_null(s, 9), "finished_at",
        time_or_null(s, 10), "payload", payload ? payload : json_object());
}

int notify_delivery_json(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, DELIVERY_COLS "WHERE d.id = ?", "i", id);
    if (rc != 0)
        return rc;
    json_t *o = NULL, *a = NULL;
    if ((rc = store_step(s, err)) == STORE_ROW)
        o = row_json(s);
    store_finalize(s);
    if (rc == STORE_DONE)
        return mops_err_set(err, MOPS_ENOTFOUND, "delivery vanished");
    if (rc < 0 || (rc = attempts_json(ctx, id, &a, err)) != 0) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "attempt_log", a);
    *out = o;
    return 0;
}

int notify_delivery_list(const mops_ctx_t *ctx, const char *team,
                         const notify_delivery_filter_t *f, json_t **out, mops_err_t *err)
{
    int64_t team_id;
    int rc = auth_team_resolve(ctx, team, &team_id, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_WEBHOOK_READ, team_id, err)) != 0)
        return rc;
    if (f->state && strcmp(f->state, "pending") && strcmp(f->state, "delivered") &&
        strcmp(f->state, "failed"))
        return mops_err_set(err, MOPS_EINVAL,
                            "query parameter state must be pending, delivered or failed");
    int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 50;
    store_sql_t q;
    store_sql_init(&q, DELIVERY_COLS);
    store_sql_add(&q, "WHERE d.team_id = ?", "i", team_id);
    if (f->webhook)
        store_sql_add(&q, " AND w.name = ?", "t", f->webhook);
    if (f->state)
        store_sql_add(&q, " AND d.state = ?", "t", f->state);
    if (f->event && *f->event && f->event[strlen(f->event) - 1] == '.')
        store_sql_add(&q, " AND substr(e.event, 1, ?) = ?", "it", (int64_t)strlen(f->event),
                      f->event);
    else if (f->event)
        store_sql_add(&q, " AND e.event = ?", "t", f->event);
    if (f->before_id > 0)
        store_sql_add(&q, " AND d.id < ?", "i", f->before_id);
    store_sql_add(&q, " ORDER BY d.id DESC LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    int n = 0, more = 0;
    int64_t last = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (n == limit) {
            more = 1;
            break;
        }
        last = store_col_int(s, 0);
        json_array_append_new(items, row_json(s));
        n++;
    }
    store_finalize(s);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *a;
        if (rc < 0 ||
            (rc = attempts_json(ctx, json_integer_value(json_object_get(it, "id")), &a, err)) != 0)
            break;
        json_object_set_new(it, "attempt_log", a);
    }
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next_page_token",
                     more ? json_sprintf("%lld", (long long)last) : json_null());
    return 0;
}
