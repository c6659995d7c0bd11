/*
 * alert.c — alerts and the retraining requests they open. An alert is a
 * condition of a team (a key such as "rule:12" or "budget:3:80") that
 * fires once and stays firing until resolved; firing again while it fires
 * is a no-op, so evaluators may call fire on every pass. Firing and
 * resolving happen inside the caller's transaction, with their webhook
 * event (notify) and audit entry. A drift or accuracy alert about a model
 * opens a retraining request that the model's owner sees — the loop back
 * to the data scientists — unless one is open already.
 */
#include <math.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "monitor/monitor_int.h"
#include "notify/notify.h"

json_t *mon_num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

int mon_team_visible(const mops_ctx_t *ctx, int64_t team_id, const char *what, mops_err_t *err)
{
    if (auth_can(ctx->who, AUTH_MONITOR_READ, team_id))
        return 0;
    mops_ctx_deny(ctx, team_id);
    return mops_err_set(err, MOPS_ENOTFOUND, "no %s", what);
}

int mon_deployment_find(const mops_ctx_t *ctx, const char *name, auth_perm_t perm,
                        int64_t *team_id, int64_t *id, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT id, team_id FROM deployments WHERE name = ? AND deleted_at IS NULL",
                         "t", name);
    if (rc != 0)
        return rc;
    int64_t did = 0, tid = 0;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        did = store_col_int(s, 0);
        tid = store_col_int(s, 1);
    }
    store_finalize(s);
    if (rc < 0)
        return rc;
    const auth_principal_t *who = ctx->who;
    if (!did || (who && !who->is_admin && !auth_roles_in(who, tid))) {
        if (did)
            mops_ctx_deny(ctx, tid);
        return mops_err_set(err, MOPS_ENOTFOUND, "no deployment named \"%s\"",
                            mops_text_show(name));
    }
    if ((rc = auth_require(ctx, perm, tid, err)) != 0)
        return rc;
    *team_id = tid;
    *id = did;
    return 0;
}

/* ------------------------------------------------------------ JSON */

#define ALERT_COLS                                                                                 \
    "SELECT a.id, t.name, m.name, d.name, a.source, a.alert_key, a.kind, a.severity, a.message, "   \
    "a.value, a.threshold, a.detail, a.state, a.fired_at, a.resolved_at, "                          \
    "(SELECT max(r.id) FROM monitor_retraining r WHERE r.alert_id = a.id) "                         \
    "FROM monitor_alerts a JOIN teams t ON t.id = a.team_id "                                      \
    "LEFT JOIN models m ON m.id = a.model_id LEFT JOIN deployments d ON d.id = a.deployment_id "

static json_t *text_or_null(store_stmt_t *s, int col)
{
    return store_col_is_null(s, col) ? json_null() : json_string(store_col_text(s, col));
}

static json_t *alert_row_json(store_stmt_t *s)
{
    json_t *detail = json_loads(store_col_text(s, 11), 0, NULL);
    return json_pack("{s:I, s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, "
                     "s:o, s:o}",
                     "id", (json_int_t)store_col_int(s, 0), "team", store_col_text(s, 1), "model",
                     text_or_null(s, 2), "deployment", text_or_null(s, 3), "source",
                     store_col_text(s, 4), "key", store_col_text(s, 5), "kind",
                     store_col_text(s, 6), "severity", store_col_text(s, 7), "message",
                     store_col_text(s, 8), "value",
                     store_col_is_null(s, 9) ? json_null() : mon_num(store_col_double(s, 9)),
                     "threshold",
                     store_col_is_null(s, 10) ? json_null() : mon_num(store_col_double(s, 10)),
                     "detail", detail ? detail : json_object(), "state", store_col_text(s, 12),
                     "fired_at", mops_json_time(store_col_int(s, 13)), "resolved_at",
                     mops_json_time(store_col_is_null(s, 14) ? 0 : store_col_int(s, 14)),
                     "retraining_request",
                     store_col_is_null(s, 15) ? json_null()
                                              : json_integer(store_col_int(s, 15)));
}

static int alert_json(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, ALERT_COLS "WHERE a.id = ?", "i", id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW)
        *out = alert_row_json(s);
    store_finalize(s);
    if (rc == STORE_DONE)
        return mops_err_set(err, MOPS_ENOTFOUND, "no alert %lld", (long long)id);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------ fire, resolve */

static int one_of(const char *s, const char *const *allowed)
{
    for (; s && *allowed; allowed++)
        if (!strcmp(s, *allowed))
            return 1;
    return 0;
}

static int alert_check(const monitor_alert_t *a, mops_err_t *err)
{
    static const char *const sources[] = {"monitor", "finops", NULL};
    static const char *const severities[] = {"info", "warning", "critical", NULL};
    int rc;
    if (a->team_id <= 0)
        return mops_err_set(err, MOPS_EINVAL, "an alert needs a team");
    if (!one_of(a->source, sources))
        return mops_err_set(err, MOPS_EINVAL, "alert source must be monitor or finops");
    if (!one_of(a->severity, severities))
        return mops_err_set(err, MOPS_EINVAL, "alert severity must be info, warning or critical");
    if (!a->key || !*a->key || !a->kind || !*a->kind)
        return mops_err_set(err, MOPS_EINVAL, "an alert needs a key and a kind");
    if ((rc = mops_text_check("alert key", a->key, 200, err)) != 0 ||
        (rc = mops_text_check("alert kind", a->kind, 64, err)) != 0 ||
        (rc = mops_text_check("alert message", a->message ? a->message : "", 2000, err)) != 0)
        return rc;
    if (!isfinite(a->value) || !isfinite(a->threshold))
        return mops_err_set(err, MOPS_EINVAL, "alert %s: value and threshold must be finite",
                            mops_text_show(a->key));
    return 0;
}

/* Open a retraining request on the alert's model unless one is open. */
static int retraining_open(const mops_ctx_t *ctx, const monitor_alert_t *a, int64_t alert_id,
                           mops_err_t *err)
{
    int64_t open = 0, owner = 0, id = 0;
    int rc = store_query_int(ctx->db, &open, err,
                             "SELECT count(*) FROM monitor_retraining WHERE model_id = ? AND "
                             "state = 'open'",
                             "i", a->model_id);
    if (rc != 0 || open)
        return rc;
    rc = store_query_int(ctx->db, &owner, err,
                         "SELECT owner_id FROM models WHERE id = ? AND team_id = ?", "ii",
                         a->model_id, a->team_id);
    if (rc == MOPS_ENOTFOUND)
        return mops_err_set(err, MOPS_EINVAL, "alert %s: model %lld is not a model of its team",
                            mops_text_show(a->key), (long long)a->model_id);
    if (rc != 0)
        return rc;
    const char *reason = a->message && *a->message ? a->message : a->kind;
    if ((rc = store_query_int(ctx->db, &id, err,
                              "INSERT INTO monitor_retraining (team_id, model_id, alert_id, "
                              "owner_id, reason, state, created_at) VALUES (?, ?, ?, ?, ?, "
                              "'open', ?) RETURNING id",
                              "iiiiti", a->team_id, a->model_id, alert_id, owner, reason,
                              mops_now_ms())) != 0)
        return rc;
    json_t *d = json_pack("{s:I, s:I, s:I, s:s, s:s}", "id", (json_int_t)id, "alert",
                          (json_int_t)alert_id, "model_id", (json_int_t)a->model_id, "kind",
                          a->kind, "reason", reason);
    rc = audit_record(ctx, "retraining.open", mops_arena_printf(ctx->arena, "retraining:%lld",
                                                                (long long)id),
                      a->team_id, d, err);
    if (rc == 0)
        rc = notify_enqueue(ctx, a->team_id, "retraining.requested", d, err);
    json_decref(d);
    return rc;
}

int monitor_alert_fire(const mops_ctx_t *ctx, const monitor_alert_t *a, int64_t *id, int *fired,
                       mops_err_t *err)
{
    int rc = alert_check(a, err);
    if (rc != 0)
        return rc;
    if (!store_in_tx(ctx->db))
        return mops_err_set(err, MOPS_EINTERNAL, "monitor_alert_fire outside a transaction");
    int64_t aid = 0;
    rc = store_query_int(ctx->db, &aid, err,
                         "SELECT id FROM monitor_alerts WHERE team_id = ? AND alert_key = ? AND "
                         "state = 'firing'",
                         "it", a->team_id, a->key);
    if (rc == 0) {
        if (id)
            *id = aid;
        if (fired)
            *fired = 0;
        return 0;
    }
    if (rc != MOPS_ENOTFOUND)
        return rc;
    char *detail = a->detail ? mops_json_dump(a->detail) : mops_xstrdup("{}");
    rc = store_query_int(ctx->db, &aid, err,
                         "INSERT INTO monitor_alerts (team_id, model_id, deployment_id, source, "
                         "alert_key, kind, severity, message, value, threshold, detail, state, "
                         "fired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'firing', ?) "
                         "RETURNING id",
                         "iIItttttddti", a->team_id, a->model_id, a->deployment_id, a->source,
                         a->key, a->kind, a->severity, a->message ? a->message : "", a->value,
                         a->threshold, detail, mops_now_ms());
    free(detail);
    if (rc != 0)
        return rc;
    int retrain = a->model_id && (!strcmp(a->kind, "drift") || !strcmp(a->kind, "accuracy"));
    if (retrain && (rc = retraining_open(ctx, a, aid, err)) != 0)
        return rc;
    json_t *payload = NULL;
    if ((rc = alert_json(ctx, aid, &payload, err)) != 0)
        return rc;
    rc = notify_enqueue(ctx, a->team_id, "alert.firing", payload, err);
    if (rc == 0) {
        json_t *d = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}", "id", (json_int_t)aid, "source",
                              a->source, "kind", a->kind, "severity", a->severity, "value",
                              mon_num(a->value), "threshold", mon_num(a->threshold));
        rc = audit_record(ctx, "alert.fire", a->key, a->team_id, d, err);
        json_decref(d);
    }
    json_decref(payload);
    if (rc != 0)
        return rc;
    if (id)
        *id = aid;
    if (fired)
        *fired = 1;
    return 0;
}

int monitor_alert_resolve(const mops_ctx_t *ctx, int64_t team_id, const char *key, int *resolved,
                          mops_err_t *err)
{
    if (!store_in_tx(ctx->db))
        return mops_err_set(err, MOPS_EINTERNAL, "monitor_alert_resolve outside a transaction");
    if (!key || !*key)
        return mops_err_set(err, MOPS_EINVAL, "an alert needs a key");
    int64_t aid = 0;
    int rc = store_query_int(ctx->db, &aid, err,
                             "UPDATE monitor_alerts SET state = 'resolved', resolved_at = ? WHERE "
                             "team_id = ? AND alert_key = ? AND state = 'firing' RETURNING id",
                             "iit", mops_now_ms(), team_id, key);
    if (rc == MOPS_ENOTFOUND) {
        if (resolved)
            *resolved = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    json_t *payload = NULL;
    if ((rc = alert_json(ctx, aid, &payload, err)) != 0)
        return rc;
    rc = notify_enqueue(ctx, team_id, "alert.resolved", payload, err);
    if (rc == 0) {
        json_t *d = json_pack("{s:I}", "id", (json_int_t)aid);
        rc = audit_record(ctx, "alert.resolve", key, team_id, d, err);
        json_decref(d);
    }
    json_decref(payload);
    if (rc == 0 && resolved)
        *resolved = 1;
    return rc;
}

int monitor_alert_count(const mops_ctx_t *ctx, int64_t team_id, int64_t model_id, int64_t from_ms,
                        int64_t to_ms, int64_t *n, mops_err_t *err)
{
    if (model_id)
        return store_query_int(ctx->db, n, err,
                               "SELECT count(*) FROM monitor_alerts WHERE team_id = ? AND "
                               "model_id = ? AND fired_at >= ? AND fired_at < ?",
                               "iiii", team_id, model_id, from_ms, to_ms);
    return store_query_int(ctx->db, n, err,
                           "SELECT count(*) FROM monitor_alerts WHERE team_id = ? AND "
                           "fired_at >= ? AND fired_at < ?",
                           "iii", team_id, from_ms, to_ms);
}

/* ------------------------------------------------------------ lists */

/* Where a list of a team's rows starts: the named team (checked), or
 * every team the caller may read. */
static int team_scope(const mops_ctx_t *ctx, const char *team, const char *col, store_sql_t *q,
                      mops_err_t *err)
{
    if (!team) {
        auth_sql_team_filter(ctx, AUTH_MONITOR_READ, col, q);
        return 0;
    }
    int64_t tid;
    int rc = auth_team_resolve(ctx, team, &tid, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_MONITOR_READ, tid, err)) != 0)
        return rc;
    char frag[96];
    snprintf(frag, sizeof frag, "%s = ?", col);
    store_sql_add(q, frag, "i", tid);
    return 0;
}

/* Run a built list query whose first column is the row id, each row made
 * JSON by row_json: {"items", "next_page_token"}. */
static int page_run(const mops_ctx_t *ctx, store_sql_t *q, int limit, json_t *(*row_json)(store_stmt_t *),
                    json_t **out, mops_err_t *err)
{
    store_sql_add(q, " LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, q, &s, err);
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
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next_page_token",
                     more ? json_sprintf("%lld", (long long)last) : json_null());
    return 0;
}

int monitor_alert_list(const mops_ctx_t *ctx, const monitor_alert_filter_t *f, json_t **out,
                       mops_err_t *err)
{
    static const char *const states[] = {"firing", "resolved", NULL};
    static const char *const sources[] = {"monitor", "finops", NULL};
    if (f->state && !one_of(f->state, states))
        return mops_err_set(err, MOPS_EINVAL, "query parameter state must be firing or resolved");
    if (f->source && !one_of(f->source, sources))
        return mops_err_set(err, MOPS_EINVAL, "query parameter source must be monitor or finops");
    store_sql_t q;
    store_sql_init(&q, ALERT_COLS "WHERE ");
    int rc = team_scope(ctx, f->team, "a.team_id", &q, err);
    if (rc != 0) {
        store_sql_release(&q);
        return rc;
    }
    if (f->state)
        store_sql_add(&q, " AND a.state = ?", "t", f->state);
    if (f->source)
        store_sql_add(&q, " AND a.source = ?", "t", f->source);
    if (f->deployment)
        store_sql_add(&q, " AND d.name = ?", "t", f->deployment);
    if (f->before_id > 0)
        store_sql_add(&q, " AND a.id < ?", "i", f->before_id);
    store_sql_add(&q, " ORDER BY a.id DESC", NULL);
    rc = page_run(ctx, &q, mon_limit(f->limit), alert_row_json, out, err);
    store_sql_release(&q);
    return rc;
}

/* ------------------------------------------------------------ retraining */

#define RETRAIN_COLS                                                                               \
    "SELECT r.id, t.name, m.name, u.name, r.alert_id, a.kind, r.reason, r.state, r.note, "         \
    "r.created_at, cu.name, r.closed_at, d.name "                                                 \
    "FROM monitor_retraining r JOIN teams t ON t.id = r.team_id "                                 \
    "JOIN models m ON m.id = r.model_id JOIN users u ON u.id = r.owner_id "                       \
    "JOIN monitor_alerts a ON a.id = r.alert_id LEFT JOIN users cu ON cu.id = r.closed_by "       \
    "LEFT JOIN deployments d ON d.id = a.deployment_id "

static json_t *retrain_row_json(store_stmt_t *s)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id",
                     (json_int_t)store_col_int(s, 0), "team", store_col_text(s, 1), "model",
                     store_col_text(s, 2), "owner", store_col_text(s, 3), "alert",
                     (json_int_t)store_col_int(s, 4), "kind", store_col_text(s, 5), "reason",
                     store_col_text(s, 6), "state", store_col_text(s, 7), "note",
                     store_col_text(s, 8), "created_at", mops_json_time(store_col_int(s, 9)),
                     "closed_by", text_or_null(s, 10), "closed_at",
                     mops_json_time(store_col_is_null(s, 11) ? 0 : store_col_int(s, 11)),
                     "deployment", text_or_null(s, 12));
}

int monitor_retraining_list(const mops_ctx_t *ctx, const monitor_retraining_filter_t *f,
                            json_t **out, mops_err_t *err)
{
    static const char *const states[] = {"open", "closed", NULL};
    if (f->state && !one_of(f->state, states))
        return mops_err_set(err, MOPS_EINVAL, "query parameter state must be open or closed");
    if (f->mine && !ctx->who)
        return mops_err_set(err, MOPS_EINVAL, "mine=true needs a user");
    store_sql_t q;
    store_sql_init(&q, RETRAIN_COLS "WHERE ");
    int rc = team_scope(ctx, f->team, "r.team_id", &q, err);
    if (rc != 0) {
        store_sql_release(&q);
        return rc;
    }
    if (f->mine)
        store_sql_add(&q, " AND m.owner_id = ?", "i", ctx->who->user_id);
    if (f->state)
        store_sql_add(&q, " AND r.state = ?", "t", f->state);
    if (f->before_id > 0)
        store_sql_add(&q, " AND r.id < ?", "i", f->before_id);
    store_sql_add(&q, " ORDER BY r.id DESC", NULL);
    rc = page_run(ctx, &q, mon_limit(f->limit), retrain_row_json, out, err);
    store_sql_release(&q);
    return rc;
}

static int retrain_json(const mops_ctx_t *ctx, int64_t id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, RETRAIN_COLS "WHERE r.id = ?", "i", id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW)
        *out = retrain_row_json(s);
    store_finalize(s);
    if (rc == STORE_DONE)
        return mops_err_set(err, MOPS_ENOTFOUND, "no retraining request %lld", (long long)id);
    return rc < 0 ? rc : 0;
}

int monitor_retraining_close(const mops_ctx_t *ctx, int64_t id, const json_t *spec, json_t **out,
                             mops_err_t *err)
{
    static const mops_json_field_t fields[] = {{"note", MOPS_JSON_STRING, 0}, {NULL, 0, 0}};
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT team_id, owner_id, state FROM monitor_retraining WHERE id = ?",
                         "i", id);
    if (rc != 0)
        return rc;
    int64_t team_id = 0, owner = 0;
    int closed = 0;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        team_id = store_col_int(s, 0);
        owner = store_col_int(s, 1);
        closed = !strcmp(store_col_text(s, 2), "closed");
    }
    store_finalize(s);
    if (rc < 0)
        return rc;
    char what[64];
    snprintf(what, sizeof what, "retraining request %lld", (long long)id);
    if (!team_id)
        return mops_err_set(err, MOPS_ENOTFOUND, "no %s", what);
    if ((rc = mon_team_visible(ctx, team_id, what, err)) != 0)
        return rc;
    if (!(ctx->who && ctx->who->user_id == owner) &&
        (rc = auth_require(ctx, AUTH_MODEL_WRITE, team_id, err)) != 0)
        return rc;
    const char *note = mops_json_str(spec, "note", "");
    if (spec && (rc = mops_json_check(spec, "request body", fields, err)) != 0)
        return rc;
    if ((rc = mops_text_check("note", note, 2000, err)) != 0)
        return rc;
    if (closed) /* closing is idempotent: the request is answered as it is */
        return retrain_json(ctx, id, out, err);
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    rc = store_exec(ctx->db, NULL, err,
                    "UPDATE monitor_retraining SET state = 'closed', note = ?, closed_by = ?, "
                    "closed_at = ? WHERE id = ?",
                    "tIii", note, ctx->who ? ctx->who->user_id : 0, mops_now_ms(), id);
    if (rc == 0) {
        json_t *d = json_pack("{s:I, s:s}", "id", (json_int_t)id, "note", note);
        rc = audit_record(ctx, "retraining.close",
                          mops_arena_printf(ctx->arena, "retraining:%lld", (long long)id), team_id,
                          d, err);
        json_decref(d);
    }
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    return retrain_json(ctx, id, out, err);
}
