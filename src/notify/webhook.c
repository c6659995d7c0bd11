/*
 * webhook.c — a team's webhooks: where notifications go (http or https),
 * which events each takes, its secret (sealed, never shown again), how
 * often a failed delivery is retried. Created, changed and deleted by the
 * team's administrators, each change audited.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "notify/notify_int.h"

#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_EVENTS_MAX 32
#define SECRET_MAX 256

static const mops_json_field_t create_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"url", MOPS_JSON_STRING, 1},
    {"events", MOPS_JSON_STRING_ARRAY, 0},
    {"secret", MOPS_JSON_STRING, 0},
    {"max_attempts", MOPS_JSON_INT, 0},
    {"backoff_ms", MOPS_JSON_INT, 0},
    {"enabled", MOPS_JSON_BOOL, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t update_fields[] = {
    {"url", MOPS_JSON_STRING, 0},
    {"events", MOPS_JSON_STRING_ARRAY, 0},
    {"secret", MOPS_JSON_STRING, 0},
    {"max_attempts", MOPS_JSON_INT, 0},
    {"backoff_ms", MOPS_JSON_INT, 0},
    {"enabled", MOPS_JSON_BOOL, 0},
    {NULL, 0, 0},
};

static int check_url(const char *url, mops_err_t *err)
{
    int rc = mops_text_check("url", url, WEBHOOK_URL_MAX, err);
    if (rc != 0)
        return rc;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = u && !strpbrk(url, " \t\n") &&
             curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
             (!strcmp(scheme, "http") || !strcmp(scheme, "https")) && *host;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    if (!ok)
        return mops_err_set(err, MOPS_EINVAL,
                            "url \"%s\" must be an http:// or https:// address with a host",
                            mops_text_show(url));
    return 0;
}

static int check_events(const json_t *events, mops_err_t *err)
{
    if (!events)
        return 0;
    if (!json_array_size(events) || json_array_size(events) > WEBHOOK_EVENTS_MAX)
        return mops_err_set(err, MOPS_EINVAL,
                            "events must list 1 to %d events (\"review.requested\"), prefixes "
                            "(\"review.\") or \"*\"",
                            WEBHOOK_EVENTS_MAX);
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *s = json_string_value(e);
        size_t n = strlen(s);
        int ok = n >= 1 && n <= 64 && (!strcmp(s, "*") || strspn(s, "abcdefghijklmnopqrstuvwxyz"
                                                                   "0123456789_.") == n);
        if (!ok || s[0] == '.')
            return mops_err_set(err, MOPS_EINVAL,
                                "event \"%s\" is invalid: an event name (review.requested), a "
                                "prefix ending in '.' (review.) or \"*\"",
                                mops_text_show(s));
    }
    return 0;
}

static int check_int(const json_t *spec, const char *key, json_int_t lo, json_int_t hi,
                     mops_err_t *err)
{
    json_t *v = json_object_get(spec, key);
    if (v && (json_integer_value(v) < lo || json_integer_value(v) > hi))
        return mops_err_set(err, MOPS_EINVAL, "%s must be from %lld to %lld", key, (long long)lo,
                            (long long)hi);
    return 0;
}

/* Checks shared by create and update (the fields present). */
static int check_common(const json_t *spec, mops_err_t *err)
{
    const char *url = mops_json_str(spec, "url", NULL);
    const char *secret = mops_json_str(spec, "secret", NULL);
    int rc = 0;
    if ((url && (rc = check_url(url, err)) != 0) ||
        (rc = check_events(json_object_get(spec, "events"), err)) != 0 ||
        (secret && (rc = mops_text_check("secret", secret, SECRET_MAX, err)) != 0) ||
        (rc = check_int(spec, "max_attempts", 1, 20, err)) != 0 ||
        (rc = check_int(spec, "backoff_ms", 100, 3600000, err)) != 0)
        return rc;
    return 0;
}

int notify_webhook_find(const mops_ctx_t *ctx, const char *team, const char *name,
                        auth_perm_t perm, int64_t *team_id, int64_t *id, mops_err_t *err)
{
    int rc = auth_team_resolve(ctx, team, team_id, err);
    if (rc != 0 || (rc = auth_require(ctx, perm, *team_id, err)) != 0)
        return rc;
    rc = store_query_int(ctx->db, id, err,
                         "SELECT id FROM notify_webhooks WHERE team_id = ? AND name = ? AND "
                         "deleted_at IS NULL",
                         "it", *team_id, name);
    if (rc == MOPS_ENOTFOUND)
        return mops_err_set(err, MOPS_ENOTFOUND, "team %s has no webhook named \"%s\"", team,
                            mops_text_show(name));
    return rc;
}

static int webhook_json(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT w.name, t.name, w.url, w.events, w.secret, w.max_attempts, w.backoff_ms, "
        "w.enabled, u.name, w.created_at, w.updated_at, "
        "(SELECT count(*) FROM notify_deliveries d WHERE d.webhook_id = w.id AND "
        "d.state = 'pending'), "
        "(SELECT count(*) FROM notify_deliveries d WHERE d.webhook_id = w.id AND "
        "d.state = 'failed') "
        "FROM notify_webhooks w JOIN teams t ON t.id = w.team_id LEFT JOIN users u ON "
        "u.id = w.created_by WHERE w.id = ?",
        "i", id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "webhook vanished");
    }
    char created[40], updated[40];
    mops_time_format(store_col_int(s, 9), created, sizeof created);
    mops_time_format(store_col_int(s, 10), updated, sizeof updated);
    json_t *events = json_loads(store_col_text(s, 3), 0, NULL);
    *out = json_pack("{s:s, s:s, s:s, s:o, s:b, s:I, s:I, s:b, s:s, s:s, s:s, s:I, s:I}", "name",
                     store_col_text(s, 0), "team", store_col_text(s, 1), "url",
                     store_col_text(s, 2), "events", events ? events : json_array(), "has_secret",
                     *store_col_text(s, 4) != '\0', "max_attempts",
                     (json_int_t)store_col_int(s, 5), "backoff_ms",
                     (json_int_t)store_col_int(s, 6), "enabled", store_col_int(s, 7) != 0,
                     "created_by", store_col_is_null(s, 8) ? "system" : store_col_text(s, 8),
                     "created_at", created, "updated_at", updated, "pending",
                     (json_int_t)store_col_int(s, 11), "failed", (json_int_t)store_col_int(s, 12));
    store_finalize(s);
    return 0;
}

/* Seal spec's secret ("" when none or empty). */
static int seal_from(const mops_ctx_t *ctx, const char *secret, char **sealed, mops_err_t *err)
{
    if (!secret || !*secret) {
        *sealed = mops_xstrdup("");
        return 0;
    }
    unsigned char key[NOTIFY_KEY_LEN];
    int rc = notify_key_load(ctx->env, key, err);
    if (rc == 0)
        rc = notify_secret_seal(key, secret, sealed, err);
    memset(key, 0, sizeof key);
    return rc;
}

/* What audit entries say about a webhook body: never the secret. */
static json_t *redacted(const json_t *spec)
{
    json_t *d = json_deep_copy(spec);
    if (json_object_get(d, "secret"))
        json_object_set_new(d, "secret", json_string(*mops_json_str(spec, "secret", "")
                                                         ? "(set)"
                                                         : "(removed)"));
    return d;
}

static const char *webhook_target(const mops_ctx_t *ctx, const char *team, const char *name)
{
    return mops_arena_printf(ctx->arena, "webhook:%s/%s", team, name);
}

/* Audit a change to a webhook (its body, secret redacted) and end the
 * transaction: committed when everything succeeded. */
static int audited_end(const mops_ctx_t *ctx, int rc, const char *action, const char *team,
                       const char *name, int64_t team_id, const json_t *spec, mops_err_t *err)
{
    json_t *d = redacted(spec);
    if (rc == 0)
        rc = audit_record(ctx, action, webhook_target(ctx, team, name), team_id, d, err);
    json_decref(d);
    if (rc == 0)
        rc = store_commit(ctx->db, err);
    store_rollback(ctx->db);
    return rc;
}

int notify_webhook_create(const mops_ctx_t *ctx, const char *team, const json_t *spec,
                          json_t **out, mops_err_t *err)
{
    int64_t team_id, id = 0;
    int rc = auth_team_resolve(ctx, team, &team_id, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_WEBHOOK_MANAGE, team_id, err)) != 0 ||
        (rc = mops_json_check(spec, "request body", create_fields, err)) != 0 ||
        (rc = mops_name_check("webhook name", mops_json_str(spec, "name", ""), err)) != 0 ||
        (rc = check_common(spec, err)) != 0)
        return rc;
    json_t *events = json_object_get(spec, "events");
    char *ev = events ? mops_json_dump(events) : mops_xstrdup("[\"*\"]"), *sealed = NULL;
    json_t *mx = json_object_get(spec, "max_attempts"), *bo = json_object_get(spec, "backoff_ms");
    json_t *en = json_object_get(spec, "enabled");
    const char *name = mops_json_str(spec, "name", "");
    int64_t now = mops_now_ms();
    if ((rc = seal_from(ctx, mops_json_str(spec, "secret", NULL), &sealed, err)) == 0 &&
        (rc = store_begin(ctx->db, err)) == 0) {
        rc = store_query_int(ctx->db, &id, err,
                             "INSERT INTO notify_webhooks (team_id, name, url, events, secret, "
                             "max_attempts, backoff_ms, enabled, created_by, created_at, "
                             "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                             "ittttiiiIii", team_id, name, mops_json_str(spec, "url", ""), ev,
                             sealed, mx ? (int64_t)json_integer_value(mx) : (int64_t)8,
                             bo ? (int64_t)json_integer_value(bo) : (int64_t)1000,
                             (int64_t)(en ? json_is_true(en) : 1),
                             ctx->who ? ctx->who->user_id : (int64_t)0, now, now);
        if (rc == MOPS_ECONFLICT)
            rc = mops_err_set(err, MOPS_ECONFLICT, "team %s already has a webhook named \"%s\"",
                              team, name);
        rc = audited_end(ctx, rc, "webhook.create", team, name, team_id, spec, err);
    }
    free(ev);
    free(sealed);
    return rc ? rc : webhook_json(ctx, id, out, err);
}

int notify_webhook_get(const mops_ctx_t *ctx, const char *team, const char *name, json_t **out,
                       mops_err_t *err)
{
    int64_t team_id, id;
    int rc = notify_webhook_find(ctx, team, name, AUTH_WEBHOOK_READ, &team_id, &id, err);
    return rc ? rc : webhook_json(ctx, id, out, err);
}

int notify_webhook_list(const mops_ctx_t *ctx, const char *team, json_t **out, mops_err_t *err)
{
    int64_t team_id;
    int rc = auth_team_resolve(ctx, team, &team_id, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_WEBHOOK_READ, team_id, err)) != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT id FROM notify_webhooks WHERE team_id = ? AND deleted_at IS "
                          "NULL ORDER BY name LIMIT 1000",
                          "i", team_id)) != 0)
        return rc;
    json_t *ids = json_array(), *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(ids, json_integer(store_col_int(s, 0)));
    store_finalize(s);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        json_t *w;
        if (rc < 0 || (rc = webhook_json(ctx, json_integer_value(id), &w, err)) != 0)
            break;
        json_array_append_new(items, w);
    }
    json_decref(ids);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int notify_webhook_update(const mops_ctx_t *ctx, const char *team, const char *name,
                          const json_t *spec, json_t **out, mops_err_t *err)
{
    int64_t team_id, id;
    int rc = notify_webhook_find(ctx, team, name, AUTH_WEBHOOK_MANAGE, &team_id, &id, err);
    if (rc != 0 || (rc = mops_json_check(spec, "request body", update_fields, err)) != 0 ||
        (rc = check_common(spec, err)) != 0)
        return rc;
    const char *secret = mops_json_str(spec, "secret", NULL);
    json_t *events = json_object_get(spec, "events"), *mx = json_object_get(spec, "max_attempts"),
           *bo = json_object_get(spec, "backoff_ms"), *en = json_object_get(spec, "enabled");
    char *ev = events ? mops_json_dump(events) : NULL, *sealed = NULL;
    /* Each absent field binds NULL and keeps its value (enabled as "0"/"1"
     * text, since 0 is one of its values). */
    if ((!secret || (rc = seal_from(ctx, secret, &sealed, err)) == 0) &&
        (rc = store_begin(ctx->db, err)) == 0) {
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE notify_webhooks SET url = COALESCE(?, url), events = COALESCE(?, "
                        "events), secret = COALESCE(?, secret), max_attempts = COALESCE(?, "
                        "max_attempts), backoff_ms = COALESCE(?, backoff_ms), enabled = "
                        "COALESCE(?, enabled), updated_at = ? WHERE id = ?",
                        "tttIItii", mops_json_str(spec, "url", NULL), ev, sealed,
                        (int64_t)json_integer_value(mx), (int64_t)json_integer_value(bo),
                        en ? (json_is_true(en) ? "1" : "0") : NULL, mops_now_ms(), id);
        rc = audited_end(ctx, rc, "webhook.update", team, name, team_id, spec, err);
    }
    free(ev);
    free(sealed);
    return rc ? rc : webhook_json(ctx, id, out, err);
}

int notify_webhook_delete(const mops_ctx_t *ctx, const char *team, const char *name,
                          mops_err_t *err)
{
    int64_t team_id, id;
    int rc = notify_webhook_find(ctx, team, name, AUTH_WEBHOOK_MANAGE, &team_id, &id, err);
    if (rc != 0 || (rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t now = mops_now_ms();
    rc = store_exec(ctx->db, NULL, err,
                    "UPDATE notify_webhooks SET deleted_at = ?, updated_at = ? WHERE id = ?", "iii",
                    now, now, id);
    /* What was still to be sent will not be: say so in the log. */
    if (rc == 0)
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE notify_deliveries SET state = 'failed', last_error = "
                        "'the webhook was deleted', finished_at = ? WHERE webhook_id = ? AND "
                        "state = 'pending'",
                        "ii", now, id);
    if (rc == 0)
        rc = audit_record(ctx, "webhook.delete", webhook_target(ctx, team, name), team_id, NULL,
                          err);
    if (rc == 0)
        rc = store_commit(ctx->db, err);
    store_rollback(ctx->db);
    return rc;
}

int notify_webhook_ping(const mops_ctx_t *ctx, const char *team, const char *name,
                        json_t **out, mops_err_t *err)
{
    int64_t team_id, id, event_id = 0, delivery = 0, enabled = 0;
    int rc = notify_webhook_find(ctx, team, name, AUTH_WEBHOOK_MANAGE, &team_id, &id, err);
    if (rc == 0)
        rc = store_query_int(ctx->db, &enabled, err,
                             "SELECT enabled FROM notify_webhooks WHERE id = ?", "i", id);
    if (rc == 0 && !enabled)
        rc = mops_err_set(err, MOPS_EPRECOND, "webhook %s of team %s is disabled", name, team);
    if (rc != 0 || (rc = store_begin(ctx->db, err)) != 0)
        return rc;
    json_t *data = json_pack("{s:s, s:s}", "webhook", name, "message",
                             "a test notification from mops");
    if ((rc = notify_event_insert(ctx, team_id, "ping", data, &event_id, err)) == 0 &&
        (rc = notify_delivery_insert(ctx, event_id, id, team_id, &delivery, err)) == 0)
        rc = audit_record(ctx, "webhook.ping", webhook_target(ctx, team, name), team_id, NULL,
                          err);
    json_decref(data);
    if (rc == 0)
        rc = store_commit(ctx->db, err);
    store_rollback(ctx->db);
    return rc ? rc : notify_delivery_json(ctx, delivery, out, err);
}
