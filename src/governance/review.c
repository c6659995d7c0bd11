/*
 * review.c — reviews of a version: requesting one (draft -> in_review),
 * decisions (approve, reject) by reviewers who are not the version's
 * author, the automatic move to approved once the approvals the policies
 * ask for are in, and the listing of reviews with whether each approval
 * still counts.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/text.h"
#include "core/time.h"
#include "governance/governance_int.h"

static const mops_json_field_t comment_fields[] = {
    {"comment", MOPS_JSON_STRING, 0},
    {NULL, 0, 0},
};

int gov_review_current(const mops_ctx_t *ctx, int64_t version_id, int64_t *id, char state[16],
                       mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT id, state FROM gov_reviews WHERE version_id = ? ORDER BY id DESC "
                         "LIMIT 1",
                         "i", version_id);
    if (rc != 0)
        return rc;
    *id = 0;
    state[0] = '\0';
    if ((rc = store_step(s, err)) == STORE_ROW) {
        *id = store_col_int(s, 0);
        snprintf(state, 16, "%s", store_col_text(s, 1));
    }
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

int gov_check_not_author(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                         const char *what, mops_err_t *err)
{
    if (ctx->who && ctx->who->user_id == v->created_by) {
        mops_ctx_deny(ctx, v->m.team_id);
        return mops_err_set(err, MOPS_EFORBIDDEN,
                            "%s may not %s %s: they created it, and the author of a version "
                            "never reviews it (separation of duties)",
                            ctx->who->user, what, gov_target(ctx, v));
    }
    return 0;
}

/* The caller's roles in the version's team as names (plus "admin" for a
 * global administrator), recorded with a decision. */
static json_t *decider_roles(const mops_ctx_t *ctx, int64_t team_id)
{
    json_t *a = json_array();
    if (!ctx->who)
        return a;
    unsigned roles = auth_roles_in(ctx->who, team_id);
    if (ctx->who->is_admin)
        roles |= AUTH_ROLE_ADMIN;
    for (int i = 0; i < AUTH_ROLE_COUNT; i++)
        if (roles & (1u << i))
            json_array_append_new(a, json_string(auth_role_name(1u << i)));
    return a;
}

int gov_decision_record(const mops_ctx_t *ctx, const registry_version_ref_t *v, int64_t review_id,
                        const char *decision, const char *comment, const char *fingerprint,
                        mops_err_t *err)
{
    json_t *roles = decider_roles(ctx, v->m.team_id);
    char *text = mops_json_dump(roles);
    int rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO gov_decisions (review_id, version_id, decision, comment, "
                        "actor_id, roles, artifact_sha256, fingerprint, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        "iittittti", review_id, v->version_id, decision, comment, gov_actor(ctx),
                        text, v->sha256, fingerprint, mops_now_ms());
    free(text);
    if (rc == 0) {
        json_t *detail = json_pack("{s:s, s:O, s:s, s:s}", "comment", comment, "roles", roles,
                                   "artifact_sha256", v->sha256, "policy_fingerprint",
                                   fingerprint);
        rc = audit_record(ctx, !strcmp(decision, "approve") ? "review.approve" : "review.reject",
                          gov_target(ctx, v), v->m.team_id, detail, err);
        json_decref(detail);
    }
    if (rc == 0)
        rc = gov_notify(ctx, v, !strcmp(decision, "approve") ? "review.approved" : "review.rejected",
                        json_pack("{s:s, s:s, s:o}", "decision", decision, "comment", comment,
                                  "recipients", gov_recipients(ctx, v, 0)),
                        err);
    json_decref(roles);
    return rc;
}

/* Resolve, check the permission, then the body's comment. */
static int review_prepare(const mops_ctx_t *ctx, const char *team, const char *model,
                          const char *ref, auth_perm_t perm, const json_t *spec,
                          int comment_required, registry_version_ref_t *v, const char **comment,
                          mops_err_t *err)
{
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, v, err);
    if (rc != 0 || (rc = auth_require(ctx, perm, v->m.team_id, err)) != 0 ||
        (rc = mops_json_check(spec, "request body", comment_fields, err)) != 0 ||
        (rc = gov_text_field(spec, "comment", 2048, comment_required, comment, err)) != 0)
        return rc;
    if (v->archived || v->m.archived)
        return mops_err_set(err, MOPS_EPRECOND, "%s is archived", gov_target(ctx, v));
    return 0;
}

/* The review and its decisions as JSON. */
static int review_json(const mops_ctx_t *ctx, const registry_version_ref_t *v, int64_t id,
                       const char *fingerprint, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT r.state, r.comment, u.name, r.requested_at, r.closed_at "
                         "FROM gov_reviews r LEFT JOIN users u ON u.id = r.requested_by "
                         "WHERE r.id = ?",
                         "i", id);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc : mops_err_set(err, MOPS_ENOTFOUND, "review vanished");
    }
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}", "id", (json_int_t)id, "state",
                          store_col_text(s, 0), "comment", store_col_text(s, 1), "requested_by",
                          store_col_is_null(s, 2) ? "system" : store_col_text(s, 2),
                          "requested_at", gov_time_json(store_col_int(s, 3)), "closed_at",
                          gov_time_json(store_col_is_null(s, 4) ? 0 : store_col_int(s, 4)));
    store_finalize(s);
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT u.name, d.decision, d.comment, d.roles, d.created_at, "
                          "d.actor_id, d.artifact_sha256, d.fingerprint FROM gov_decisions d "
                          "JOIN users u ON u.id = d.actor_id WHERE d.review_id = ? ORDER BY d.id",
                          "i", id)) != 0) {
        json_decref(o);
        return rc;
    }
    json_t *decisions = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        /* Whether it counts now is for the current review's latest
         * decisions: gov_approvals says; here the history, with what each
         * decision was made on. */
        json_array_append_new(
            decisions,
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:b}", "user", store_col_text(s, 0),
                      "decision", store_col_text(s, 1), "comment", store_col_text(s, 2), "roles",
                      gov_json_load(store_col_text(s, 3)), "at",
                      gov_time_json(store_col_int(s, 4)), "same_artifact",
                      !strcmp(store_col_text(s, 6), v->sha256), "same_policies",
                      !strcmp(store_col_text(s, 7), fingerprint)));
    }
    store_finalize(s);
    json_object_set_new(o, "decisions", decisions);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

int governance_review_request(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *ref, const json_t *spec, json_t **out,
                              mops_err_t *err)
{
    registry_version_ref_t v;
    const char *comment;
    int rc = review_prepare(ctx, team, model, ref, AUTH_REVIEW_REQUEST, spec, 0, &v, &comment, err);
    if (rc != 0)
        return rc;
    if (strcmp(v.stage, "draft") != 0)
        return mops_err_set(err, MOPS_EPRECOND,
                            "%s is in stage %s: a review is requested for a draft%s",
                            gov_target(ctx, &v), v.stage,
                            !strcmp(v.stage, "rejected") ? " (reopen it as a draft first)" : "");
    gov_move_t mv = {.to = "in_review", .reason = *comment ? comment : "review requested"};
    json_t *ev = NULL;
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = registry_version_resolve_id(ctx, v.version_id, AUTH_MODEL_READ, &v, err)) == 0)
        rc = gov_move_run(ctx, &v, &mv, &ev, err);
    int blocked = rc == MOPS_EPRECOND && ev;
    rc = gov_tx_end(ctx, rc, err);
    if (blocked) {
        mops_err_t aerr;
        if (gov_move_blocked(ctx, &v, "in_review", mv.reason, ev, &aerr) != 0)
            mops_err_wrap(err, "(and recording the refusal failed: %s)", aerr.msg);
        json_decref(ev);
        return MOPS_EPRECOND;
    }
    if (rc != 0) {
        json_decref(ev);
        return rc;
    }
    int64_t id;
    char state[16];
    json_t *review = NULL;
    if ((rc = gov_review_current(ctx, v.version_id, &id, state, err)) == 0)
        rc = review_json(ctx, &v, id, mops_json_str(ev, "fingerprint", ""), &review, err);
    if (rc != 0) {
        json_decref(ev);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "team", v.m.team, "model", v.m.model,
                     "version", (json_int_t)v.number, "stage", "in_review", "review", review,
                     "evaluation", ev);
    return 0;
}

/* The open (or, past review, the approved) review decisions go on. */
static int review_for_decision(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                               int64_t *id, mops_err_t *err)
{
    char state[16];
    int rc = gov_review_current(ctx, v->version_id, id, state, err);
    if (rc != 0)
        return rc;
    if (!*id || !strcmp(state, "rejected") || !strcmp(state, "withdrawn"))
        return mops_err_set(err, MOPS_EPRECOND, "%s has no review to decide on (stage %s): "
                                                "request one first",
                            gov_target(ctx, v), v->stage);
    return 0;
}

int governance_review_approve(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *ref, const json_t *spec, json_t **out,
                              mops_err_t *err)
{
    registry_version_ref_t v;
    const char *comment;
    int rc = review_prepare(ctx, team, model, ref, AUTH_REVIEW_DECIDE, spec, 0, &v, &comment, err);
    if (rc != 0 || (rc = gov_check_not_author(ctx, &v, "approve", err)) != 0)
        return rc;
    static const char *const open_stages[] = {"in_review", "approved", "staging", "production",
                                              "deprecated", NULL};
    int ok = 0;
    for (int i = 0; open_stages[i]; i++)
        ok |= !strcmp(v.stage, open_stages[i]);
    if (!ok)
        return mops_err_set(err, MOPS_EPRECOND, "%s is in stage %s: there is nothing to approve",
                            gov_target(ctx, &v), v.stage);
    json_t *policies = NULL, *ev = NULL;
    char fingerprint[65];
    int64_t review = 0;
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = registry_version_resolve_id(ctx, v.version_id, AUTH_MODEL_READ, &v, err)) == 0 &&
        (rc = review_for_decision(ctx, &v, &review, err)) == 0 &&
        (rc = gov_policies_applicable(ctx, &v.m, &policies, fingerprint, err)) == 0)
        rc = gov_decision_record(ctx, &v, review, "approve", comment, fingerprint, err);
    json_decref(policies);
    if (rc == 0 && !strcmp(v.stage, "in_review")) {
        /* In review: move on as soon as the approvals are in. */
        char who[300];
        snprintf(who, sizeof who, "approved by %s%s%s", ctx->who ? ctx->who->user : "system",
                 *comment ? ": " : "", comment);
        gov_move_t mv = {.to = "approved", .reason = who};
        rc = gov_move_run(ctx, &v, &mv, &ev, err);
        if (rc == MOPS_EPRECOND)
            rc = 0; /* not yet: the approval stands; ev says what is missing */
        else if (rc == 0)
            snprintf(v.stage, sizeof v.stage, "approved");
    } else if (rc == 0) {
        int passed;
        rc = gov_evaluate(ctx, &v, NULL, &ev, &passed, NULL, 0, err);
    }
    if ((rc = gov_tx_end(ctx, rc, err)) != 0) {
        json_decref(ev);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:s}, s:s, s:o}", "team", v.m.team, "model",
                     v.m.model, "version", (json_int_t)v.number, "decision", "decision", "approve",
                     "by", ctx->who ? ctx->who->user : "system", "comment", comment, "stage",
                     v.stage, "evaluation", ev ? ev : json_null());
    return 0;
}

int gov_reject_run(const mops_ctx_t *ctx, registry_version_ref_t *v, const char *comment,
                   json_t **out, mops_err_t *err)
{
    int rc = gov_check_not_author(ctx, v, "reject", err);
    if (rc != 0)
        return rc;
    if (strcmp(v->stage, "in_review") != 0)
        return mops_err_set(err, MOPS_EPRECOND,
                            "%s is in stage %s: only a version in review is rejected",
                            gov_target(ctx, v), v->stage);
    json_t *policies = NULL, *ev = NULL;
    char fingerprint[65];
    int64_t review = 0;
    gov_move_t mv = {.to = "rejected", .reason = comment};
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = registry_version_resolve_id(ctx, v->version_id, AUTH_MODEL_READ, v, err)) == 0 &&
        (rc = review_for_decision(ctx, v, &review, err)) == 0 &&
        (rc = gov_policies_applicable(ctx, &v->m, &policies, fingerprint, err)) == 0 &&
        (rc = gov_decision_record(ctx, v, review, "reject", comment, fingerprint, err)) == 0)
        rc = gov_move_run(ctx, v, &mv, &ev, err);
    json_decref(policies);
    if ((rc = gov_tx_end(ctx, rc, err)) != 0) {
        json_decref(ev);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:o}", "team", v->m.team,
                     "model", v->m.model, "version", (json_int_t)v->number, "decision",
                     "decision", "reject", "by", ctx->who ? ctx->who->user : "system", "comment",
                     comment, "from", "in_review", "to", "rejected", "stage", "rejected",
                     "evaluation", ev);
    return 0;
}

int governance_review_reject(const mops_ctx_t *ctx, const char *team, const char *model,
                             const char *ref, const json_t *spec, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    const char *comment;
    int rc = review_prepare(ctx, team, model, ref, AUTH_REVIEW_DECIDE, spec, 1, &v, &comment, err);
    return rc ? rc : gov_reject_run(ctx, &v, comment, out, err);
}

int governance_review_list(const mops_ctx_t *ctx, const char *team, const char *model,
                           const char *ref, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    json_t *policies = NULL, *approvals = NULL;
    char fingerprint[65];
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc != 0 || (rc = gov_policies_applicable(ctx, &v.m, &policies, fingerprint, err)) != 0)
        return rc;
    json_decref(policies);
    if ((rc = gov_approvals(ctx, &v, fingerprint, &approvals, err)) != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT id FROM gov_reviews WHERE version_id = ? ORDER BY id DESC", "i",
                          v.version_id)) != 0) {
        json_decref(approvals);
        return rc;
    }
    json_t *ids = json_array(), *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(ids, json_integer(store_col_int(s, 0)));
    store_finalize(s);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        json_t *r;
        if (rc < 0 || (rc = review_json(ctx, &v, json_integer_value(id), fingerprint, &r,
                                         err)) != 0)
            break;
        json_array_append_new(items, r);
    }
    json_decref(ids);
    if (rc < 0) {
        json_decref(items);
        json_decref(approvals);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "team", v.m.team, "model", v.m.model,
                     "version", (json_int_t)v.number, "stage", v.stage, "current_decisions",
                     approvals, "items", items);
    return 0;
}

/* ------------------------------------------------------------ freshness */

int governance_reviews_due(const mops_ctx_t *ctx, json_t **out, mops_err_t *err)
{
    /* The versions whose latest move took them into production, in teams
     * the caller can see; the registry's row says whether they still are. */
    store_sql_t q;
    store_sql_init(&q, "SELECT t.version_id FROM gov_transitions t WHERE t.to_stage = "
                       "'production' AND t.id = (SELECT max(u.id) FROM gov_transitions u WHERE "
                       "u.version_id = t.version_id) AND ");
    auth_sql_team_filter(ctx, AUTH_MODEL_READ, "t.team_id", &q);
    store_sql_add(&q, " ORDER BY t.created_at LIMIT 10000", NULL);
    store_stmt_t *s;
    int rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    json_t *ids = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(ids, json_integer(store_col_int(s, 0)));
    store_finalize(s);
    json_t *items = json_array();
    size_t i, j;
    json_t *id, *r;
    json_array_foreach(ids, i, id) {
        registry_version_ref_t v;
        json_t *ev = NULL;
        int passed;
        if (rc < 0)
            break;
        if ((rc = registry_version_resolve_id(ctx, json_integer_value(id), AUTH_MODEL_READ, &v,
                                              err)) != 0 ||
            strcmp(v.stage, "production") != 0)
            continue;
        if ((rc = gov_evaluate(ctx, &v, NULL, &ev, &passed, NULL, 0, err)) != 0)
            break;
        json_array_foreach(json_object_get(ev, "rules"), j, r) {
            if (strcmp(mops_json_str(r, "status", ""), "flag") != 0)
                continue;
            const json_t *e = json_object_get(r, "evidence");
            json_array_append_new(
                items, json_pack("{s:s, s:s, s:I, s:O, s:O, s:O, s:O, s:O, s:O}", "team",
                                 v.m.team, "model", v.m.model, "version", (json_int_t)v.number,
                                 "since", json_object_get(e, "since"), "age_days",
                                 json_object_get(e, "age_days"), "max_age_days",
                                 json_object_get(e, "max_age_days"), "policy",
                                 json_object_get(r, "policy"), "rule", json_object_get(r, "name"),
                                 "message", json_object_get(r, "message")));
        }
        json_decref(ev);
    }
    json_decref(ids);
    if (rc < 0 && rc != MOPS_ENOTFOUND) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}
