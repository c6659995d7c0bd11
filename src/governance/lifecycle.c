/*
 * lifecycle.c — the stages of a version and the ONE table of transitions
 * allowed between them (with the permission each needs), which stages may
 * take which traffic, and the move every transition goes through:
 * evaluate, set the stage, record the evaluation and the transition, audit,
 * apply the stage's side effects, notify.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "governance/governance_int.h"

static const char *const stages[] = {
    "draft", "in_review", "approved", "staging", "production", "deprecated", "retired", "rejected",
};
#define NSTAGES (sizeof stages / sizeof stages[0])

/* The lifecycle. Every move of a version is one of these edges; nothing
 * else in mops decides which moves exist or who may make them. */
static const gov_edge_t edges[] = {
    {"draft", "in_review", AUTH_REVIEW_REQUEST, "request a review"},
    {"in_review", "draft", AUTH_REVIEW_REQUEST, "withdraw the review"},
    {"in_review", "approved", AUTH_REVIEW_DECIDE,
     "approve: happens by itself once the approvals the policies ask for are in"},
    {"in_review", "rejected", AUTH_REVIEW_DECIDE, "reject (a review decision)"},
    {"rejected", "draft", AUTH_REVIEW_REQUEST, "reopen as a draft"},
    {"approved", "staging", AUTH_STAGE_STAGING, "stage: canary and shadow traffic"},
    {"staging", "approved", AUTH_STAGE_STAGING, "take out of staging"},
    {"staging", "production", AUTH_STAGE_PRODUCTION, "promote: primary traffic"},
    {"staging", "deprecated", AUTH_STAGE_STAGING, "deprecate without serving"},
    {"production", "deprecated", AUTH_STAGE_PRODUCTION, "deprecate"},
    {"deprecated", "production", AUTH_STAGE_PRODUCTION, "reinstate (roll back to it)"},
    {"deprecated", "retired", AUTH_VERSION_RETIRE,
     "retire: no traffic; records the reason, the replacement and a summary"},
};
#define NEDGES (sizeof edges / sizeof edges[0])

/* Which traffic each stage may take. Only a deployment puts a version in
 * front of the business: primary traffic needs production, canary and
 * shadow traffic staging at least. Addressing a version by name (trying it
 * over the Open Inference Protocol, scoring a file in a batch job) is how
 * it gets evaluated before and during review, so every stage allows it but
 * rejected and retired. */
#define T(k) (1u << GOVERNANCE_TRAFFIC_##k)
#define TRIAL (T(DIRECT) | T(BATCH))
static const struct {
    const char *stage;
    unsigned kinds; /* bits of governance_traffic_t */
} traffic[] = {
    {"draft", TRIAL},
    {"in_review", TRIAL},
    {"approved", TRIAL},
    {"staging", T(CANARY) | T(SHADOW) | TRIAL},
    {"production", T(PRIMARY) | T(CANARY) | T(SHADOW) | TRIAL},
    {"deprecated", TRIAL},
};
#undef TRIAL
#undef T

static const char *const traffic_names[] = {"primary", "canary", "shadow", "direct", "batch"};

int governance_stage_valid(const char *stage)
{
    for (size_t i = 0; i < NSTAGES; i++)
        if (!strcmp(stages[i], stage))
            return 1;
    return 0;
}

int governance_stage_allows(const char *stage, governance_traffic_t role)
{
    if ((unsigned)role > GOVERNANCE_TRAFFIC_BATCH)
        return 0;
    for (size_t i = 0; i < sizeof traffic / sizeof traffic[0]; i++)
        if (!strcmp(traffic[i].stage, stage))
            return (traffic[i].kinds >> role) & 1;
    return 0;
}

const gov_edge_t *gov_edge_find(const char *from, const char *to)
{
    for (size_t i = 0; i < NEDGES; i++)
        if (!strcmp(edges[i].from, from) && !strcmp(edges[i].to, to))
            return &edges[i];
    return NULL;
}

int gov_stage_gateable(const char *stage)
{
    return !strcmp(stage, "in_review") || !strcmp(stage, "approved") ||
           !strcmp(stage, "staging") || !strcmp(stage, "production");
}

/* "approved, staging" — the stages reachable from `from`. */
static void next_stages(const char *from, char *buf, size_t size)
{
    mops_buf_t b = MOPS_BUF_INIT;
    for (size_t i = 0; i < NEDGES; i++)
        if (!strcmp(edges[i].from, from))
            mops_buf_printf(&b, "%s%s", b.len ? ", " : "", edges[i].to);
    snprintf(buf, size, "%s", b.len ? b.data : "none");
    mops_buf_release(&b);
}

int governance_lifecycle(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    (void)ctx;
    (void)err;
    json_t *st = json_array(), *tr = json_array(), *tf = json_object(), *gated = json_array();
    for (size_t i = 0; i < NSTAGES; i++) {
        json_array_append_new(st, json_string(stages[i]));
        json_t *kinds = json_array();
        for (int k = GOVERNANCE_TRAFFIC_PRIMARY; k <= GOVERNANCE_TRAFFIC_BATCH; k++)
            if (governance_stage_allows(stages[i], (governance_traffic_t)k))
                json_array_append_new(kinds, json_string(traffic_names[k]));
        json_object_set_new(tf, stages[i], kinds);
        if (gov_stage_gateable(stages[i]))
            json_array_append_new(gated, json_string(stages[i]));
    }
    for (size_t i = 0; i < NEDGES; i++)
        json_array_append_new(tr, json_pack("{s:s, s:s, s:s, s:s}", "from", edges[i].from, "to",
                                            edges[i].to, "permission", auth_perm_name(edges[i].perm),
                                            "what", edges[i].what));
    *out = json_pack("{s:o, s:o, s:o, s:o, s:o}", "stages", st, "transitions", tr, "traffic", tf,
                     "gated", gated, "rules", gov_rule_kind_names());
    return 0;
}

/* ------------------------------------------------------------ the move */

/* Insert an evaluation row; *id gets its id. */
static int evaluation_insert(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                             const char *to, const char *outcome, const json_t *evaluation,
                             int64_t *id, mops_err_t *err)
{
    char *text = mops_json_dump(evaluation);
    int rc = store_query_int(ctx->db, id, err,
                             "INSERT INTO gov_evaluations (version_id, team_id, from_stage, "
                             "to_stage, outcome, fingerprint, result, actor_id, created_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                             "iitttttIi", v->version_id, v->m.team_id, v->stage, to, outcome,
                             mops_json_str(evaluation, "fingerprint", ""), text, gov_actor(ctx),
                             mops_now_ms());
    free(text);
    return rc;
}

/* Time spent in production, and when it began and ended, from the stage
 * history (until now for a version still there). */
static int production_span(const mops_ctx_t *ctx, int64_t version_id, int64_t now,
                           int64_t *first, int64_t *last, int64_t *total, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT from_stage, to_stage, created_at FROM gov_transitions "
                         "WHERE version_id = ? ORDER BY id",
                         "i", version_id);
    if (rc != 0)
        return rc;
    int64_t since = 0;
    *first = *last = *total = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        int64_t at = store_col_int(s, 2);
        if (!strcmp(store_col_text(s, 1), "production")) {
            since = at;
            if (!*first)
                *first = at;
        } else if (!strcmp(store_col_text(s, 0), "production") && since) {
            *total += at - since;
            *last = at;
            since = 0;
        }
    }
    store_finalize(s);
    if (since) {
        *total += now - since;
        *last = now;
    }
    return rc < 0 ? rc : 0;
}

/* The post-retirement summary: how long it served, and what the providers
 * know of its predictions, incidents, cost and value over that time. */
static int retirement_record(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                             const gov_move_t *mv, int64_t now, mops_err_t *err)
{
    int64_t first, last, total;
    int rc = production_span(ctx, v->version_id, now, &first, &last, &total, err);
    if (rc != 0)
        return rc;
    const governance_providers_t *p = gov_providers();
    int64_t from = first ? first : v->created_at, to = last ? last : now;
    json_t *summary = json_pack(
        "{s:o, s:o, s:o, s:f, s:o, s:o, s:o}", "served_from", gov_time_json(first), "served_to",
        gov_time_json(last), "created_at", gov_time_json(v->created_at), "days_in_production",
        (double)total / 86400000.0, "predictions",
        gov_window(ctx, p->predictions, "finops", v->version_id, from, to), "incidents",
        gov_window(ctx, p->incidents, "monitor", v->version_id, from, to), "cost_and_value",
        gov_window(ctx, p->cost, "finops", v->version_id, from, to));
    char *text = mops_json_dump(summary);
    rc = store_exec(ctx->db, NULL, err,
                    "INSERT INTO gov_retirements (version_id, team_id, reason, "
                    "replacement_version_id, summary, retired_by, retired_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    "iitItIi", v->version_id, v->m.team_id, mv->reason,
                    mv->replacement ? mv->replacement->version_id : (int64_t)0, text,
                    gov_actor(ctx), now);
    free(text);
    json_t *detail = json_pack(
        "{s:s, s:o, s:o}", "reason", mv->reason, "replacement",
        mv->replacement ? json_integer(mv->replacement->number) : json_null(), "summary", summary);
    if (rc == 0)
        rc = audit_record(ctx, "version.retire", gov_target(ctx, v), v->m.team_id, detail, err);
    if (rc == 0)
        rc = gov_notify(ctx, v, "version.retired", json_deep_copy(detail), err);
    json_decref(detail);
    return rc;
}

/* What entering or leaving a stage does besides the stage itself. */
static int side_effects(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                        const gov_move_t *mv, int64_t now, mops_err_t *err)
{
    const char *to = mv->to;
    int rc = 0;
    if (!strcmp(to, "in_review")) {
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO gov_reviews (version_id, team_id, state, comment, "
                        "requested_by, requested_at) VALUES (?, ?, 'open', ?, ?, ?)",
                        "iitIi", v->version_id, v->m.team_id, mv->reason, gov_actor(ctx), now);
        if (rc == 0)
            rc = gov_notify(ctx, v, "review.requested",
                            json_pack("{s:s, s:o}", "comment", mv->reason, "recipients",
                                      gov_recipients(ctx, v, 1)),
                            err);
    } else if (!strcmp(v->stage, "in_review")) {
        /* Leaving review closes it: withdrawn, approved or rejected. */
        const char *state = !strcmp(to, "draft") ? "withdrawn" : to;
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE gov_reviews SET state = ?, closed_at = ? WHERE version_id = ? AND "
                        "state = 'open'",
                        "tii", state, now, v->version_id);
    }
    if (rc == 0 && !strcmp(to, "retired"))
        rc = retirement_record(ctx, v, mv, now, err);
    return rc;
}

/* Move the model's other production versions to deprecated. */
static int deprecate_others(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                            mops_err_t *err)
{
    store_stmt_t *s;
    /* The ids of the versions in production, from the stage history (the
     * registry's row is checked by each move). */
    int rc = store_query(ctx->db, &s, err,
                         "SELECT DISTINCT t.version_id FROM gov_transitions t WHERE "
                         "t.team_id = ? AND t.to_stage = 'production' AND t.version_id <> ? AND "
                         "t.id = (SELECT max(u.id) FROM gov_transitions u WHERE "
                         "u.version_id = t.version_id)",
                         "ii", v->m.team_id, v->version_id);
    if (rc != 0)
        return rc;
    int64_t *ids = NULL;
    size_t n = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        ids = mops_xrealloc(ids, (n + 1) * sizeof *ids);
        ids[n++] = store_col_int(s, 0);
    }
    store_finalize(s);
    for (size_t i = 0; i < n && rc == 0; i++) {
        registry_version_ref_t o;
        if ((rc = registry_version_resolve_id(ctx, ids[i], AUTH_MODEL_READ, &o, err)) != 0)
            break;
        if (o.m.model_id != v->m.model_id || strcmp(o.stage, "production") != 0)
            continue;
        gov_move_t mv = {.to = "deprecated",
                         .reason = mops_arena_printf(ctx->arena, "replaced by version %lld",
                                                     (long long)v->number)};
        rc = gov_move_run(ctx, &o, &mv, NULL, err);
    }
    free(ids);
    return rc;
}

int gov_move_run(const mops_ctx_t *ctx, const registry_version_ref_t *v, const gov_move_t *mv,
                 json_t **evaluation, mops_err_t *err)
{
    json_t *ev = NULL;
    int passed = 0;
    char failed[MOPS_ERR_MSG_MAX];
    int rc = gov_evaluate(ctx, v, mv->to, &ev, &passed, failed, sizeof failed, err);
    if (rc != 0)
        return rc;
    json_object_set_new(ev, "from", json_string(v->stage));
    if (!passed) {
        if (evaluation)
            *evaluation = ev;
        else
            json_decref(ev);
        return mops_err_set(err, MOPS_EPRECOND, "cannot move %s from %s to %s: %s",
                            gov_target(ctx, v), v->stage, mv->to, failed);
    }
    int64_t now = mops_now_ms(), eval_id = 0;
    if ((rc = registry_version_stage_set(ctx, v->version_id, v->stage, mv->to, err)) == 0 &&
        (rc = evaluation_insert(ctx, v, mv->to, "allowed", ev, &eval_id, err)) == 0)
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO gov_transitions (version_id, team_id, from_stage, to_stage, "
                        "reason, evaluation_id, actor_id, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        "iitttiIi", v->version_id, v->m.team_id, v->stage, mv->to, mv->reason,
                        eval_id, gov_actor(ctx), now);
    if (rc == 0) {
        json_t *detail = json_pack("{s:s, s:s, s:s, s:I, s:O}", "from", v->stage, "to", mv->to,
                                   "reason", mv->reason, "evaluation_id", (json_int_t)eval_id,
                                   "rules", json_object_get(ev, "rules"));
        rc = audit_record(ctx, "version.transition", gov_target(ctx, v), v->m.team_id, detail,
                          err);
        json_decref(detail);
    }
    if (rc == 0)
        rc = side_effects(ctx, v, mv, now, err);
    if (rc == 0)
        rc = gov_notify(ctx, v, "version.stage_changed",
                        json_pack("{s:s, s:s, s:s, s:o}", "from", v->stage, "to", mv->to, "reason",
                                  mv->reason, "recipients", gov_recipients(ctx, v, 0)),
                        err);
    if (rc == 0 && mv->deprecate_others && !strcmp(mv->to, "production"))
        rc = deprecate_others(ctx, v, err);
    if (rc == 0 && evaluation) {
        json_object_set_new(ev, "id", json_integer(eval_id));
        *evaluation = ev;
    } else {
        json_decref(ev);
    }
    return rc;
}

int gov_move_blocked(const mops_ctx_t *ctx, const registry_version_ref_t *v, const char *to,
                     const char *reason, const json_t *evaluation, mops_err_t *err)
{
    int64_t id = 0;
    int rc = store_begin(ctx->db, err);
    if (rc == 0)
        rc = evaluation_insert(ctx, v, to, "blocked", evaluation, &id, err);
    if (rc == 0) {
        json_t *detail = json_pack("{s:s, s:s, s:s, s:I, s:O}", "from", v->stage, "to", to,
                                   "reason", reason, "evaluation_id", (json_int_t)id, "failed",
                                   json_object_get(evaluation, "failed"));
        rc = audit_record(ctx, "version.transition.blocked", gov_target(ctx, v), v->m.team_id,
                          detail, err);
        json_decref(detail);
    }
    return gov_tx_end(ctx, rc, err);
}

/* ------------------------------------------------------------ endpoints */

static const mops_json_field_t transition_fields[] = {
    {"to", MOPS_JSON_STRING, 1},
    {"reason", MOPS_JSON_STRING, 1},
    {"replacement", MOPS_JSON_INT, 0},
    {"deprecate_others", MOPS_JSON_BOOL, 0},
    {NULL, 0, 0},
};

/* The version as it is now (inside the transaction). */
static int version_reload(const mops_ctx_t *ctx, registry_version_ref_t *v, mops_err_t *err)
{
    return registry_version_resolve_id(ctx, v->version_id, AUTH_MODEL_READ, v, err);
}

/* Check a move's body after its permission. */
static int move_check(const mops_ctx_t *ctx, const registry_version_ref_t *v, const json_t *spec,
                      registry_version_ref_t *replacement, int *has_replacement,
                      mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", transition_fields, err);
    const char *reason, *to = mops_json_str(spec, "to", "");
    if (rc != 0 || (rc = gov_text_field(spec, "reason", 2048, 1, &reason, err)) != 0)
        return rc;
    json_t *rep = json_object_get(spec, "replacement");
    if (rep && strcmp(to, "retired") != 0)
        return mops_err_set(err, MOPS_EINVAL, "field \"replacement\" is for moves to retired");
    if (json_object_get(spec, "deprecate_others") && strcmp(to, "production") != 0)
        return mops_err_set(err, MOPS_EINVAL,
                            "field \"deprecate_others\" is for moves to production");
    *has_replacement = 0;
    if (rep) {
        json_int_t n = json_integer_value(rep);
        if (n < 1)
            return mops_err_set(err, MOPS_EINVAL, "field \"replacement\" must be a version "
                                                  "number (1 or more)");
        char ref[32];
        snprintf(ref, sizeof ref, "%lld", (long long)n);
        rc = registry_version_resolve(ctx, v->m.team, v->m.model, ref, AUTH_MODEL_READ,
                                      replacement, err);
        if (rc == MOPS_ENOTFOUND)
            return mops_err_set(err, MOPS_EINVAL, "replacement: model %s/%s has no version %lld",
                                v->m.team, v->m.model, (long long)n);
        if (rc != 0)
            return rc;
        if (replacement->version_id == v->version_id)
            return mops_err_set(err, MOPS_EINVAL, "a version cannot replace itself");
        if (!strcmp(replacement->stage, "retired") || !strcmp(replacement->stage, "rejected"))
            return mops_err_set(err, MOPS_EINVAL, "replacement: version %lld is %s",
                                (long long)n, replacement->stage);
        *has_replacement = 1;
    }
    return 0;
}

int governance_transition(const mops_ctx_t *ctx, const char *team, const char *model,
                          const char *ref, const json_t *spec, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v, replacement;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc != 0)
        return rc;
    /* Who may depends on the move, so the move is read first; anything
     * else in the body is checked after the permission. */
    const char *to = mops_json_str(spec, "to", NULL);
    const gov_edge_t *edge = to ? gov_edge_find(v.stage, to) : NULL;
    if (edge && (rc = auth_require(ctx, edge->perm, v.m.team_id, err)) != 0)
        return rc;
    int has_replacement = 0;
    if ((rc = move_check(ctx, &v, spec, &replacement, &has_replacement, err)) != 0)
        return rc;
    if (!governance_stage_valid(to)) {
        char shown[80];
        mops_text_escape(to, shown, sizeof shown);
        return mops_err_set(err, MOPS_EINVAL,
                            "\"%s\" is not a stage (stages: draft, in_review, approved, staging, "
                            "production, deprecated, retired, rejected)",
                            shown);
    }
    if (!edge) {
        char next[200];
        next_stages(v.stage, next, sizeof next);
        return mops_err_set(err, MOPS_EINVAL,
                            "%s is in stage %s and cannot move to %s (from %s: %s)",
                            gov_target(ctx, &v), v.stage, to, v.stage, next);
    }
    if (v.archived || v.m.archived)
        return mops_err_set(err, MOPS_EPRECOND, "%s is archived: its stage no longer changes",
                            gov_target(ctx, &v));
    const char *reason = mops_json_str(spec, "reason", "");
    if (!strcmp(to, "rejected"))
        return gov_reject_run(ctx, &v, reason, out, err);
    gov_move_t mv = {.to = to,
                     .reason = reason,
                     .replacement = has_replacement ? &replacement : NULL,
                     .deprecate_others = json_is_true(json_object_get(spec, "deprecate_others"))};
    json_t *ev = NULL;
    char from[24];
    snprintf(from, sizeof from, "%s", v.stage);
    if ((rc = store_begin(ctx->db, err)) == 0 && (rc = version_reload(ctx, &v, err)) == 0)
        rc = gov_move_run(ctx, &v, &mv, &ev, err);
    int blocked = rc == MOPS_EPRECOND && ev;
    rc = gov_tx_end(ctx, rc, err);
    if (blocked) {
        mops_err_t aerr;
        if (gov_move_blocked(ctx, &v, to, reason, ev, &aerr) != 0)
            mops_err_wrap(err, "(and recording the refusal failed: %s)", aerr.msg);
        json_decref(ev);
        return MOPS_EPRECOND;
    }
    if (rc != 0) {
        json_decref(ev);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "team", v.m.team, "model", v.m.model,
                     "from", from, "version", (json_int_t)v.number, "to", to, "evaluation", ev);
    return 0;
}

int governance_transition_list(const mops_ctx_t *ctx, const char *team, const char *model,
                               const char *ref, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT t.from_stage, t.to_stage, t.reason, u.name, t.created_at, "
                          "e.id, e.result FROM gov_transitions t "
                          "JOIN gov_evaluations e ON e.id = t.evaluation_id "
                          "LEFT JOIN users u ON u.id = t.actor_id "
                          "WHERE t.version_id = ? ORDER BY t.id",
                          "i", v.version_id)) != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        json_t *ev = gov_json_load(store_col_text(s, 6));
        json_object_set_new(ev, "id", json_integer(store_col_int(s, 5)));
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "from", store_col_text(s, 0),
                             "to", store_col_text(s, 1), "reason", store_col_text(s, 2), "actor",
                             store_col_is_null(s, 3) ? "system" : store_col_text(s, 3), "at",
                             gov_time_json(store_col_int(s, 4)), "evaluation", ev));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:I, s:s, s:o}", "team", v.m.team, "model", v.m.model,
                     "version", (json_int_t)v.number, "stage", v.stage, "items", items);
    return 0;
}
