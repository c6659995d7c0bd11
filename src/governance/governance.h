/*
 * governance.h — model governance, the same accountable path for every
 * version whatever tool built it: the lifecycle (stages and the one table
 * of allowed transitions), policy-as-code evaluated by a small rule engine,
 * reviews with separation of duties, validation on holdout data scored by
 * mops itself, model cards, compliance reports, retirement; and the seams
 * (providers) through which serving, monitoring, FinOps and DataOps answer
 * the questions governance asks them.
 *
 * Conventions as everywhere: functions take the request context, return 0
 * or a negative MOPS_E* code with a message in err, and hand JSON out as
 * new references (*out) the caller decrefs. Versions are addressed by team,
 * model and a reference (a number, an alias, "latest"). Every change runs
 * in one transaction with its audit entry, and the notifications it causes
 * are queued (notify.h) in the same transaction.
 *
 * Lifecycle (docs/governance.md has the table):
 *
 *   draft -> in_review -> approved -> staging -> production -> deprecated -> retired
 *   in_review -> draft (withdraw); in_review -> rejected -> draft (reopen);
 *   staging -> approved; staging -> deprecated; deprecated -> production
 *
 * Every transition records who, when, why and the policy evaluation that
 * allowed it. A transition into a stage is allowed when every rule of the
 * applicable policies that gates that stage passes; a refused one is
 * recorded too (its evaluation and an audit entry) and its error names
 * every failing rule.
 *
 * Policies apply to a model when attached to its team or to no team, and to
 * its risk tier or to every tier; all applicable policies apply at once
 * (their rules are a conjunction), so a team can only add to what an
 * org-wide policy demands.
 */
#ifndef MOPS_GOVERNANCE_GOVERNANCE_H
#define MOPS_GOVERNANCE_GOVERNANCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"

/* ------------------------------------------------------------ lifecycle */

/* The kinds of traffic a version may take. The values are serving's roles
 * (serve_role_t), in the same order. */
typedef enum governance_traffic {
    GOVERNANCE_TRAFFIC_PRIMARY, /* a deployment's answers */
    GOVERNANCE_TRAFFIC_CANARY,  /* a share of a deployment's answers */
    GOVERNANCE_TRAFFIC_SHADOW,  /* a copy of a deployment's requests; answers discarded */
    GOVERNANCE_TRAFFIC_DIRECT,  /* the version addressed by name, outside a deployment */
    GOVERNANCE_TRAFFIC_BATCH,   /* a batch scoring job */
} governance_traffic_t;

/* May a version in `stage` take traffic of kind `role`? production: every
 * kind; staging: canary, shadow, direct, batch; draft, in_review,
 * approved, deprecated: direct and batch; rejected and retired: none. The
 * serving module asks before routing to a version. */
int governance_stage_allows(const char *stage, governance_traffic_t role);

/* 1 when stage names a lifecycle stage. */
int governance_stage_valid(const char *stage);

/* The lifecycle as data: {"stages": [...], "transitions": [{"from", "to",
 * "permission", "what"}], "traffic": {stage: [kinds]}, "gated": [stages a
 * rule may gate], "rules": [rule kinds]}. */
int governance_lifecycle(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);

/* Move a version. spec: {"to": STAGE, "reason": TEXT, "replacement"?: N
 * (to retired: the version that replaces it), "deprecate_others"?: bool
 * (to production: move the model's other production versions to
 * deprecated)}. Moving to rejected records a rejection (review.decide);
 * moving to retired needs no traffic (the serve provider) and keeps a
 * post-retirement summary. *out: {"version", "from", "to", "transition",
 * "evaluation"}. MOPS_EPRECOND naming every failing rule when the policies
 * block it; MOPS_EINVAL for a move the lifecycle has no edge for. */
int governance_transition(const mops_ctx_t *ctx, const char *team, const char *model,
                          const char *ref, const json_t *spec, json_t **out, mops_err_t *err);

/* The version's stage history, oldest first: {"items": [{"from", "to",
 * "reason", "actor", "at", "evaluation"}]}. */
int governance_transition_list(const mops_ctx_t *ctx, const char *team, const char *model,
                               const char *ref, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ reviews */

/* Request a review: draft -> in_review, notifying the owner and the
 * reviewers. spec: {"comment"?}. *out: the review and the evaluation. */
int governance_review_request(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *ref, const json_t *spec, json_t **out,
                              mops_err_t *err);

/* Approve the version under review (or re-approve one further on whose
 * approvals a change voided). The version's author may not. The approval
 * records the artifact and the applicable policy versions: it stops
 * counting when either changes. In review, the version moves to approved as
 * soon as every rule gating approved passes. spec: {"comment"}. *out:
 * {"decision", "stage", "evaluation"}. */
int governance_review_approve(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *ref, const json_t *spec, json_t **out,
                              mops_err_t *err);

/* Reject the version under review: in_review -> rejected. spec:
 * {"comment"} (required). */
int governance_review_reject(const mops_ctx_t *ctx, const char *team, const char *model,
                             const char *ref, const json_t *spec, json_t **out, mops_err_t *err);

/* The version's reviews, newest first, each with its decisions and
 * whether each approval counts now: {"items": [...]}. */
int governance_review_list(const mops_ctx_t *ctx, const char *team, const char *model,
                           const char *ref, json_t **out, mops_err_t *err);

/* Production versions a freshness rule flags for review (in production
 * longer than the rule allows), in the teams the caller can see:
 * {"items": [{"team", "model", "version", "since", "age_days", "policy",
 * "max_age_days"}]}. */
int governance_reviews_due(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ policies */

/* Create a policy from its document. spec: {"source": TEXT, "format"?:
 * "yaml"|"json"} (default: JSON when the text starts with '{'). The
 * document: {"name", "team"?, "risk_tier"?, "description"?, "rules":
 * [...]}; docs/governance.md lists the rules. Errors name the line (YAML)
 * or the field. A policy without a team is org-wide (policy.global). */
int governance_policy_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                             mops_err_t *err);

/* A new version of a policy (the old ones are kept). scope is the team
 * name, or "_global" for an org-wide policy; the document's name and team
 * must stay the same. */
int governance_policy_update(const mops_ctx_t *ctx, const char *scope, const char *name,
                             const json_t *spec, json_t **out, mops_err_t *err);

/* One policy: its current version, or `version` (> 0), with the list of
 * its versions. */
int governance_policy_get(const mops_ctx_t *ctx, const char *scope, const char *name,
                          int64_t version, json_t **out, mops_err_t *err);

typedef struct governance_policy_filter {
    const char *team;      /* only this team's (NULL: every visible one) */
    const char *risk_tier; /* only these attached to this tier */
    int archived;          /* 0 active, 1 archived, -1 both */
} governance_policy_filter_t;

/* Policies the caller can see (their teams' and org-wide ones):
 * {"items": [...]}. */
int governance_policy_list(const mops_ctx_t *ctx, const governance_policy_filter_t *f,
                           json_t **out, mops_err_t *err);

/* Stop applying a policy (it stays readable). */
int governance_policy_archive(const mops_ctx_t *ctx, const char *scope, const char *name,
                              json_t **out, mops_err_t *err);

/* Evaluate the rules of the policies that apply to a version: those gating
 * `stage` (NULL: every rule), with pass/fail/flag and evidence for each.
 * *out: {"version", "stage", "target", "policies", "fingerprint", "rules",
 * "passed", "failed", "flags"}. Changes nothing. */
int governance_policy_check(const mops_ctx_t *ctx, const char *team, const char *model,
                            const char *ref, const char *stage, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ validation */

/* A holdout file being received for a validation. */
typedef struct governance_validation governance_validation_t;

typedef struct governance_validation_opts {
    const char *label;    /* the column with the true value (required) */
    const char *groups;   /* comma-separated columns to break metrics down by, or NULL */
    const char *name;     /* the report's name, which rules refer to ("holdout") */
    const char *positive; /* binary classifiers: the positive class label (default:
                             the model's second class) */
} governance_validation_opts_t;

/* Start receiving a holdout CSV for a version the runtime executes
 * (checked: the caller may validate it; options valid). At most max_bytes
 * are accepted. */
int governance_validation_begin(const mops_ctx_t *ctx, const char *team, const char *model,
                                const char *ref, const governance_validation_opts_t *opts,
                                int64_t max_bytes, governance_validation_t **out,
                                mops_err_t *err);
/* Append bytes; MOPS_ETOOBIG past the limit. */
int governance_validation_write(governance_validation_t *v, const void *p, size_t n,
                                mops_err_t *err);
/* Keep the file in the blob store, score it with the version's model,
 * compute the metrics (eval.h) overall, per group and the fairness gaps,
 * and store the report with the version. *out: the report. Frees v
 * whatever the result. Bad data (missing columns, a label the model does
 * not know, a value that is not a number) is MOPS_EINVAL naming the line. */
int governance_validation_finish(const mops_ctx_t *ctx, governance_validation_t *v,
                                 json_t **out, mops_err_t *err);
/* Discard an unfinished validation and free v. NULL is a no-op. */
void governance_validation_abort(governance_validation_t *v);

/* The version's validation reports, newest first: {"items": [...]}. */
int governance_validation_list(const mops_ctx_t *ctx, const char *team, const char *model,
                               const char *ref, json_t **out, mops_err_t *err);
int governance_validation_get(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *ref, int64_t id, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ model cards */

/* The version's card: {"team", "model", "version", "fields": {...},
 * "updated_by", "updated_at", "validations"} (fields not written are ""). */
int governance_card_get(const mops_ctx_t *ctx, const char *team, const char *model,
                        const char *ref, json_t **out, mops_err_t *err);

/* Replace the card's fields. spec: any of intended_use, out_of_scope_uses,
 * training_data, evaluation, limitations, ethical_considerations, owner,
 * business_kpi (text). */
int governance_card_put(const mops_ctx_t *ctx, const char *team, const char *model,
                        const char *ref, const json_t *spec, json_t **out, mops_err_t *err);

/* The card rendered as "markdown" or "html" (a self-contained page, every
 * value escaped) into *text (a heap string the caller frees). */
int governance_card_render(const mops_ctx_t *ctx, const char *team, const char *model,
                           const char *ref, const char *format, char **text, mops_err_t *err);

/* ------------------------------------------------------------ reports */

/* The compliance report of one model: lineage, versions, stage history,
 * reviews and approvals, policy evaluations, validation and fairness
 * reports, cards, retirements, audit excerpts, and the sections the
 * providers feed (deployments, incidents, costs). Audited. */
int governance_report_model(const mops_ctx_t *ctx, const char *team, const char *model,
                            json_t **out, mops_err_t *err);

/* The same for every model of the teams where the caller may read reports
 * (team: only that one). */
int governance_report_inventory(const mops_ctx_t *ctx, const char *team, json_t **out,
                                mops_err_t *err);

/* A report rendered as a self-contained HTML page an auditor can read
 * offline (no scripts, no external assets); a heap string. */
char *governance_report_html(const json_t *report);

/* The post-retirement summary of a retired version: {"reason",
 * "replacement", "retired_at", "retired_by", "summary": {served from/to,
 * days in production, predictions, incidents, cost, value}}. */
int governance_retirement_get(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *ref, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ history */

/* The governance history of every version of the active models of team_id
 * (0: every team) in one read, for the KPIs: {"items": [{"version_id",
 * "team_id", "model_id", "stage", "created_at", "review_requested_at" (the
 * first), "decided_at" (the first approval or rejection),
 * "production_first_at", "production_last_at" (entries into production),
 * "card" (any card field written), "card_owner" (its owner field
 * written), "dataset"}]}; times in Unix ms, 0 when it did not happen. No
 * permission check: the caller shows only what its reader may see. */
int governance_timeline(const mops_ctx_t *ctx, int64_t team_id, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ providers */

/*
 * The seams to modules that governance needs answers from but cannot call
 * (they sit above it, or are not written yet). Each module registers its
 * hooks at start-up, before the server serves (governance_providers_set);
 * a hook left NULL means its module is not in this server. Then:
 *   - a policy rule that needs it evaluates to fail, "<module> is not
 *     available" — never a silent pass;
 *   - report and retirement figures it would give are recorded as
 *     {"available": false, "source": "<module> is not available"};
 *   - retirement's "no traffic" check, without serving, passes with that
 *     fact as its evidence (no deployment can exist to send traffic).
 * Each hook returns 0 and a new JSON reference in *out, or an error code
 * with err filled. Hooks run inside the caller's store transaction (on
 * ctx->db): they must be quick and must not begin or commit one.
 */
typedef struct governance_providers {
    /* serve: is the version receiving traffic now? {"receiving": bool,
     * "kinds": ["primary"|"canary"|"shadow"...], "deployments": [...]} */
    int (*traffic)(const mops_ctx_t *ctx, int64_t version_id, json_t **out, mops_err_t *err);
    /* serve: the version's deployments, for reports: a JSON array. */
    int (*deployments)(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                       mops_err_t *err);
    /* finops: rows the version answered in [from_ms, to_ms), as metered:
     * {"predictions": N, "source": "..."}. */
    int (*predictions)(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms,
                       int64_t to_ms, json_t **out, mops_err_t *err);
    /* monitor: is monitoring configured? {"configured": bool, ...}. */
    int (*monitoring)(const mops_ctx_t *ctx, int64_t version_id, json_t **out, mops_err_t *err);
    /* monitor: incidents in [from_ms, to_ms): a JSON array of objects. */
    int (*incidents)(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms, int64_t to_ms,
                     json_t **out, mops_err_t *err);
    /* finops: projected cost per 1000 predictions: {"cost_per_1k": x,
     * "currency": "USD"}. */
    int (*cost_per_1k)(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                       mops_err_t *err);
    /* finops: cost and value in [from_ms, to_ms): {"cost": x, "value": y,
     * "currency": "USD"}. */
    int (*cost)(const mops_ctx_t *ctx, int64_t version_id, int64_t from_ms, int64_t to_ms,
                json_t **out, mops_err_t *err);
    /* data: the training dataset (the version's "dataset" reference) of
     * team_id: {"quality": {"passed": bool, ...}, "pii_columns": [...],
     * "approved_pii_columns": [...]}. */
    int (*dataset)(const mops_ctx_t *ctx, int64_t team_id, const char *dataset, json_t **out,
                   mops_err_t *err);
    /* data: the PII columns of every dataset the version was trained on
     * (its "dataset" field and trained-on lineage links): {"datasets":
     * [{"dataset", "readable", "columns", "approved"}], "unapproved":
     * [names], "has_unapproved_pii": bool}; a dataset the caller cannot
     * read counts as unapproved PII. For the lifecycle's privacy check. */
    int (*model_pii)(const mops_ctx_t *ctx, const char *team, const char *model,
                     int64_t version, json_t **out, mops_err_t *err);
} governance_providers_t;

/* Register hooks: the non-NULL ones of p replace those registered before.
 * Call at start-up, before any request is served. */
void governance_providers_set(const governance_providers_t *p);

/* Forget every hook (for tests). */
void governance_providers_clear(void);

#endif
