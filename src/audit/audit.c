/*
 * audit.c — appending to the hash chain, listing it, and verifying it.
 *
 * The hash of an entry is SHA-256 over the compact JSON array
 *   [seq, ts, actor_id, actor, action, target, team_id, request_id,
 *    outcome, detail, prev_hash]
 * (null for an absent id). A JSON array is an unambiguous encoding, so two
 * different entries never hash the same bytes.
 */
#include "audit/audit.h"

#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/time.h"
#include "store/store.h"

static const char genesis[MOPS_SHA256_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

typedef struct entry {
    int64_t seq, ts, actor_id, team_id;
    const char *actor, *action, *target, *request_id, *outcome, *detail;
    char prev_hash[MOPS_SHA256_HEX];
} entry_t;

static void entry_hash(const entry_t *e, char hex[MOPS_SHA256_HEX])
{
    json_t *a = json_pack("[I, I, o, s, s, s, o, s, s, s, s]", (json_int_t)e->seq,
                          (json_int_t)e->ts, e->actor_id ? json_integer(e->actor_id) : json_null(),
                          e->actor, e->action, e->target,
                          e->team_id ? json_integer(e->team_id) : json_null(), e->request_id,
                          e->outcome, e->detail, e->prev_hash);
    char *s = mops_json_dump(a);
    mops_sha256_hex(s, strlen(s), hex);
    free(s);
    json_decref(a);
}

/* Append e after the newest entry; the caller holds the writer lock. */
static int append(store_conn_t *db, entry_t *e, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(db, &s, err, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                         NULL);
    if (rc != 0)
        return rc;
    memcpy(e->prev_hash, genesis, sizeof genesis);
    e->seq = 1;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        e->seq = store_col_int(s, 0) + 1;
        snprintf(e->prev_hash, sizeof e->prev_hash, "%s", store_col_text(s, 1));
    }
    store_finalize(s);
    if (rc < 0)
        return rc;
    char hash[MOPS_SHA256_HEX];
    entry_hash(e, hash);
    /* seq ts actor_id actor action target team_id request_id outcome
     * detail prev_hash hash */
    return store_exec(db, NULL, err,
                      "INSERT INTO audit_log (seq, ts, actor_id, actor, action, target, team_id, "
                      "request_id, outcome, detail, prev_hash, hash) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      "iiItttIttttt", e->seq, e->ts, e->actor_id, e->actor, e->action, e->target,
                      e->team_id, e->request_id, e->outcome, e->detail, e->prev_hash, hash);
}

static void entry_from_ctx(entry_t *e, const mops_ctx_t *ctx)
{
    memset(e, 0, sizeof *e);
    e->ts = mops_now_ms();
    e->actor_id = ctx->who ? ctx->who->user_id : 0;
    e->actor = ctx->who ? ctx->who->user : "system";
    e->request_id = ctx->request_id ? ctx->request_id : "";
}

int audit_record(const mops_ctx_t *ctx, const char *action, const char *target, int64_t team_id,
                 const json_t *detail, mops_err_t *err)
{
    if (!store_in_tx(ctx->db))
        return mops_err_set(err, MOPS_EINTERNAL,
                            "audit: %s recorded outside the transaction of its change", action);
    entry_t e;
    entry_from_ctx(&e, ctx);
    e.action = action;
    e.target = target;
    e.team_id = team_id;
    e.outcome = "ok";
    char *d = detail ? mops_json_dump(detail) : mops_xstrdup("{}");
    e.detail = d;
    int rc = append(ctx->db, &e, err);
    free(d);
    return rc;
}

int audit_record_denied(const mops_ctx_t *ctx, const char *action, const char *target,
                        int status, const char *reason, mops_err_t *err)
{
    entry_t e;
    entry_from_ctx(&e, ctx);
    const mops_denial_t *why = ctx->denial;
    if (!ctx->who && why && why->actor_id) { /* a recognised but unusable token */
        e.actor_id = why->actor_id;
        e.actor = why->actor;
    } else if (!ctx->who) {
        e.actor = "anonymous";
    }
    e.team_id = why ? why->team_id : 0;
    e.action = action;
    e.target = target;
    e.outcome = "denied";
    json_t *detail = json_pack("{s:i, s:s}", "status", status, "reason", reason ? reason : "");
    char *d = mops_json_dump(detail);
    json_decref(detail);
    e.detail = d;
    int rc = store_begin(ctx->db, err);
    if (rc == 0 && (rc = append(ctx->db, &e, err)) == 0)
        rc = store_commit(ctx->db, err);
    store_rollback(ctx->db);
    free(d);
    return rc;
}

/* --------------------------------------------------------------- listing */

static json_t *entry_json(store_stmt_t *s)
{
    char ts[40];
    mops_time_format(store_col_int(s, 1), ts, sizeof ts);
    json_t *detail = json_loads(store_col_text(s, 8), 0, NULL);
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:s, s:s}", "seq",
                     (json_int_t)store_col_int(s, 0), "time", ts, "actor", store_col_text(s, 2),
                     "action", store_col_text(s, 3), "target", store_col_text(s, 4), "team",
                     store_col_is_null(s, 5) ? json_null() : json_string(store_col_text(s, 5)),
                     "request_id", store_col_text(s, 6), "outcome", store_col_text(s, 7),
                     "detail", detail ? detail : json_object(), "prev_hash",
                     store_col_text(s, 9), "hash", store_col_text(s, 10));
}

int audit_list(const mops_ctx_t *ctx, const audit_filter_t *f, json_t **out, mops_err_t *err)
{
    int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 100;
    store_sql_t q;
    store_sql_init(&q, "SELECT a.seq, a.ts, a.actor, a.action, a.target, t.name, a.request_id, "
                       "a.outcome, a.detail, a.prev_hash, a.hash FROM audit_log a "
                       "LEFT JOIN teams t ON t.id = a.team_id WHERE (");
    /* Admins see everything; others the entries of teams where they may
     * read the audit trail, and their own actions. */
    auth_sql_team_filter(ctx, AUTH_AUDIT_READ, "a.team_id", &q);
    store_sql_add(&q, " OR a.actor_id = ?)", "i", ctx->who ? ctx->who->user_id : (int64_t)0);
    if (f->before_seq > 0)
        store_sql_add(&q, " AND a.seq < ?", "i", f->before_seq);
    if (f->team)
        store_sql_add(&q, " AND t.name = ?", "t", f->team);
    if (f->actor)
        store_sql_add(&q, " AND a.actor = ?", "t", f->actor);
    if (f->action && *f->action && f->action[strlen(f->action) - 1] == '.')
        store_sql_add(&q, " AND substr(a.action, 1, ?) = ?", "it",
                      (int64_t)strlen(f->action), f->action);
    else if (f->action)
        store_sql_add(&q, " AND a.action = ?", "t", f->action);
    if (f->target)
        store_sql_add(&q, " AND a.target = ?", "t", f->target);
    store_sql_add(&q, " ORDER BY a.seq DESC LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    int64_t last = 0;
    int n = 0, more = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (n == limit) {
            more = 1;
            break;
        }
        last = store_col_int(s, 0);
        json_array_append_new(items, entry_json(s));
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

/* ----------------------------------------------------------- verification */

int audit_verify(store_conn_t *db, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(db, &s, err,
                         "SELECT seq, ts, actor_id, actor, action, target, team_id, request_id, "
                         "outcome, detail, prev_hash, hash FROM audit_log ORDER BY seq",
                         NULL);
    if (rc != 0)
        return rc;
    char prev[MOPS_SHA256_HEX];
    memcpy(prev, genesis, sizeof genesis);
    int64_t expect = 1, checked = 0, bad = 0;
    char problem[400] = "";
    while (!bad && (rc = store_step(s, err)) == STORE_ROW) {
        entry_t e = {
            .seq = store_col_int(s, 0),
            .ts = store_col_int(s, 1),
            .actor_id = store_col_is_null(s, 2) ? 0 : store_col_int(s, 2),
            .actor = store_col_text(s, 3),
            .action = store_col_text(s, 4),
            .target = store_col_text(s, 5),
            .team_id = store_col_is_null(s, 6) ? 0 : store_col_int(s, 6),
            .request_id = store_col_text(s, 7),
            .outcome = store_col_text(s, 8),
            .detail = store_col_text(s, 9),
        };
        snprintf(e.prev_hash, sizeof e.prev_hash, "%s", store_col_text(s, 10));
        const char *stored = store_col_text(s, 11);
        char hash[MOPS_SHA256_HEX];
        entry_hash(&e, hash);
        if (e.seq != expect) {
            bad = expect;
            snprintf(problem, sizeof problem,
                     "entry %lld is missing: the sequence jumps from %lld to %lld",
                     (long long)expect, (long long)expect - 1, (long long)e.seq);
        } else if (strcmp(e.prev_hash, prev) != 0) {
            bad = e.seq > 1 ? e.seq - 1 : 1;
            snprintf(problem, sizeof problem,
                     "the chain breaks between entries %lld and %lld: entry %lld was altered or "
                     "replaced, or entry %lld's link was",
                     (long long)e.seq - 1, (long long)e.seq, (long long)e.seq - 1,
                     (long long)e.seq);
        } else if (strcmp(hash, stored) != 0) {
            bad = e.seq;
            snprintf(problem, sizeof problem,
                     "entry %lld was altered: its contents no longer match its hash",
                     (long long)e.seq);
        } else {
            memcpy(prev, hash, sizeof prev);
            checked++;
            expect++;
        }
    }
    store_finalize(s);
    if (rc < 0)
        return rc;
    if (bad)
        *out = json_pack("{s:b, s:I, s:I, s:s}", "ok", 0, "entries", (json_int_t)checked,
                         "first_bad_seq", (json_int_t)bad, "problem", problem);
    else
        *out = json_pack("{s:b, s:I, s:s}", "ok", 1, "entries", (json_int_t)checked, "head", prev);
    return 0;
}
