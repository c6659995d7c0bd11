/*
 * governance_int.h — private to governance/: the transition table's
 * accessors, policies as the engine sees them, the rule engine, the move
 * that every transition goes through, providers, and rendering helpers.
 */
#ifndef MOPS_GOVERNANCE_INT_H
#define MOPS_GOVERNANCE_INT_H

#include "auth/auth.h"
#include "core/json.h"
#include "core/mem.h"
#include "governance/governance.h"
#include "registry/registry.h"
#include "store/store.h"

/* ------------------------------------------------------------ lifecycle */

/* One allowed transition: who may make it and what it means. */
typedef struct gov_edge {
    const char *from, *to;
    auth_perm_t perm;
    const char *what;
} gov_edge_t;

/* The edge from -> to, or NULL when the lifecycle has none. */
const gov_edge_t *gov_edge_find(const char *from, const char *to);

/* Stages a policy rule may gate (those entered by moving forward). */
int gov_stage_gateable(const char *stage);

/* What moves a version; see gov_move_run. */
typedef struct gov_move {
    const char *to;
    const char *reason;
    const registry_version_ref_t *replacement; /* to retired; may be NULL */
    int deprecate_others;                      /* to production */
} gov_move_t;

/* Move v as mv says, inside the caller's transaction: evaluate the rules
 * gating mv->to (and the lifecycle's own checks), and when they pass set
 * the stage, record the evaluation and the transition, audit it, apply the
 * stage's side effects (reviews opened and closed, the retirement summary)
 * and queue the notifications. *evaluation (may be NULL) gets the
 * evaluation. When a rule fails: MOPS_EPRECOND naming every failing rule,
 * nothing written (the caller rolls back and may gov_move_blocked). */
int gov_move_run(const mops_ctx_t *ctx, const registry_version_ref_t *v, const gov_move_t *mv,
                 json_t **evaluation, mops_err_t *err);

/* Record a refused move in a transaction of its own: its evaluation and an
 * audit entry "version.transition.blocked". */
int gov_move_blocked(const mops_ctx_t *ctx, const registry_version_ref_t *v, const char *to,
                     const char *reason, const json_t *evaluation, mops_err_t *err);

/* ------------------------------------------------------------ policies */

/* The policies that apply to model m, oldest first, as [{"id", "scope",
 * "name", "version", "document"}], and their fingerprint: the SHA-256 of
 * their ids and versions, which an approval records. */
int gov_policies_applicable(const mops_ctx_t *ctx, const registry_model_ref_t *m,
                            json_t **policies, char fingerprint[65], mops_err_t *err);

/* YAML text (one document) to JSON: plain scalars become null, booleans,
 * integers and numbers as YAML 1.2's core schema says, the rest strings.
 * *lines (may be NULL) gets a map from each produced value to its 1-based
 * line, freed with gov_yaml_lines_free. */
typedef struct gov_yaml_lines gov_yaml_lines_t;
int gov_yaml_to_json(const char *text, size_t len, json_t **out, gov_yaml_lines_t **lines,
                     mops_err_t *err);
int gov_yaml_line(const gov_yaml_lines_t *lines, const json_t *value);
void gov_yaml_lines_free(gov_yaml_lines_t *lines);

/* ------------------------------------------------------------ rules */

typedef enum { GOV_PASS, GOV_FAIL, GOV_FLAG } gov_status_t;

/* What a rule's evaluation produced. */
typedef struct gov_result {
    gov_status_t status;
    char message[400];
    json_t *evidence; /* owned; NULL for none */
} gov_result_t;

/* What every rule of one evaluation shares. */
typedef struct gov_eval {
    const mops_ctx_t *ctx;
    const registry_version_ref_t *v;
    const char *fingerprint;
    int64_t now;
    json_t *approvals; /* lazily: gov_approvals of v */
} gov_eval_t;

/* One kind of rule: the keys it takes, a check of its parameters (where
 * names the rule for messages), and its evaluation. */
typedef struct gov_rule_kind {
    const char *name;
    const char *summary;
    int needs_stage; /* 0: the rule gates nothing (flags only) */
    const mops_json_field_t *fields; /* the keys it takes, common ones included */
    int (*parse)(const json_t *rule, const char *where, mops_err_t *err);
    int (*evaluate)(gov_eval_t *ev, const json_t *rule, gov_result_t *res, mops_err_t *err);
} gov_rule_kind_t;

const gov_rule_kind_t *gov_rule_kind_find(const char *name);
/* The rule kinds, for the lifecycle description: a new array of names. */
json_t *gov_rule_kind_names(void);

/* Evaluate for v the rules of the applicable policies that gate target
 * (NULL: every rule), plus the lifecycle's own checks when entering
 * target. *out: the evaluation (see governance_policy_check); *passed: no
 * rule failed; fail_msg (may be NULL, size bytes) names every failing rule. */
int gov_evaluate(const mops_ctx_t *ctx, const registry_version_ref_t *v, const char *target,
                 json_t **out, int *passed, char *fail_msg, size_t size, mops_err_t *err);

/* The decisions of v's current review with whether each approval counts
 * now: [{"user", "decision", "roles", "comment", "at", "counts", "why"}]
 * (the latest decision of each reviewer). */
int gov_approvals(const mops_ctx_t *ctx, const registry_version_ref_t *v, const char *fingerprint,
                  json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ reviews */

/* The id and state of v's newest review (0 and "" when none). */
int gov_review_current(const mops_ctx_t *ctx, int64_t version_id, int64_t *id, char state[16],
                       mops_err_t *err);

/* Record a decision ("approve" or "reject") on review_id by the caller. */
int gov_decision_record(const mops_ctx_t *ctx, const registry_version_ref_t *v, int64_t review_id,
                        const char *decision, const char *comment, const char *fingerprint,
                        mops_err_t *err);

/* Reject v (in review) with comment: the decision, then in_review ->
 * rejected. The caller has checked review.decide. */
int gov_reject_run(const mops_ctx_t *ctx, registry_version_ref_t *v, const char *comment,
                   json_t **out, mops_err_t *err);

/* Refuse a decision by the version's author (separation of duties). */
int gov_check_not_author(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                         const char *what, mops_err_t *err);

/* ------------------------------------------------------------ evidence */

/* The latest validation report named name of v (*report NULL when none). */
int gov_validation_latest(const mops_ctx_t *ctx, int64_t version_id, const char *name,
                          json_t **report, mops_err_t *err);

/* The card fields of a version as an object with every field ("" unset). */
int gov_card_fields(const mops_ctx_t *ctx, int64_t version_id, json_t **fields,
                    mops_err_t *err);
/* 1 when key names a card field. */
int gov_card_field_known(const char *key);
/* "intended_use, out_of_scope_uses, ..." */
const char *gov_card_field_list(void);

/* ------------------------------------------------------------ providers */

/* The registered hooks (fields NULL when their module is absent). */
const governance_providers_t *gov_providers(void);

/* {"available": false, "source": "<module> is not available"}. */
json_t *gov_unavailable(const char *module);

/* Call a window hook (predictions, incidents, cost) or record that its
 * module is absent: never fails; an error from the hook is recorded as
 * {"available": false, "error": message}. */
typedef int (*gov_window_hook_t)(const mops_ctx_t *, int64_t, int64_t, int64_t, json_t **,
                                 mops_err_t *);
json_t *gov_window(const mops_ctx_t *ctx, gov_window_hook_t hook, const char *module,
                   int64_t version_id, int64_t from_ms, int64_t to_ms);
/* The same for a hook of one version (deployments, traffic, monitoring). */
typedef int (*gov_version_hook_t)(const mops_ctx_t *, int64_t, json_t **, mops_err_t *);
json_t *gov_version_fact(const mops_ctx_t *ctx, gov_version_hook_t hook, const char *module,
                         int64_t version_id);

/* ------------------------------------------------------------ helpers */

/* Commit when rc is 0, roll back otherwise; returns the final code. */
int gov_tx_end(const mops_ctx_t *ctx, int rc, mops_err_t *err);

/* RFC 3339 or null for 0. */
json_t *gov_time_json(int64_t ms);

/* "team/model@N", in the arena. */
const char *gov_target(const mops_ctx_t *ctx, const registry_version_ref_t *v);

/* The caller's user id (0 for the system). */
int64_t gov_actor(const mops_ctx_t *ctx);

/* Queue a notification about v (payload: data plus team, model, version,
 * stage and a link), stealing data. */
int gov_notify(const mops_ctx_t *ctx, const registry_version_ref_t *v, const char *event,
               json_t *data, mops_err_t *err);

/* Who a notification about v is for: the model's owner, the version's
 * author, and, when reviewers is set, the team members holding a role that
 * may approve. [{"user", "email", "why"}]. */
json_t *gov_recipients(const mops_ctx_t *ctx, const registry_version_ref_t *v, int reviewers);

/* A JSON document stored as text, parsed (an empty object if unreadable). */
json_t *gov_json_load(const char *text);

/* Append s to b escaped for HTML text and attributes. */
void gov_html_escape(mops_buf_t *b, const char *s);
/* A JSON value as short text ("-" for null). */
void gov_html_value(mops_buf_t *b, const json_t *v);
/* The page's head with its inline style, and its end. */
void gov_html_begin(mops_buf_t *b, const char *title);
void gov_html_end(mops_buf_t *b);

/* Check free text of a JSON field (optional; max bytes). */
int gov_text_field(const json_t *spec, const char *key, size_t max, int required,
                   const char **out, mops_err_t *err);

#endif
