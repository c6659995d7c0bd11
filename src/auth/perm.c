/*
 * perm.c — roles and the permission matrix: the one place that decides who
 * may do what. docs/security.md's table is generated from perm_table by
 * auth_matrix_markdown, and a unit test keeps the two equal.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "core/mem.h"
#include "core/text.h"

static const char *const role_names[AUTH_ROLE_COUNT] = {
    "admin", "data-scientist", "ml-engineer", "risk-officer", "finops", "viewer",
};

int auth_role_parse(const char *name, unsigned *role, mops_err_t *err)
{
    for (int i = 0; i < AUTH_ROLE_COUNT; i++)
        if (!strcmp(name, role_names[i])) {
            *role = 1u << i;
            return 0;
        }
    return mops_err_set(err, MOPS_EINVAL,
                        "unknown role \"%s\" (roles: admin, data-scientist, ml-engineer, "
                        "risk-officer, finops, viewer)",
                        mops_text_show(name));
}

const char *auth_role_name(unsigned role)
{
    for (int i = 0; i < AUTH_ROLE_COUNT; i++)
        if (role == 1u << i)
            return role_names[i];
    return "?";
}

/* How a permission is scoped. */
typedef enum {
    SCOPE_TEAM,      /* a role in the team that owns the object */
    SCOPE_ANY_TEAM,  /* a role in any team */
    SCOPE_ANY_USER,  /* any authenticated user */
    SCOPE_ADMIN,     /* global administrators only */
} perm_scope_t;

#define R_ADMIN AUTH_ROLE_ADMIN
#define R_DS AUTH_ROLE_DATA_SCIENTIST
#define R_MLE AUTH_ROLE_ML_ENGINEER
#define R_RISK AUTH_ROLE_RISK_OFFICER
#define R_FIN AUTH_ROLE_FINOPS
#define R_VIEW AUTH_ROLE_VIEWER

static const struct {
    const char *name;
    const char *what;
    perm_scope_t scope;
    unsigned roles;
} perm_table[AUTH_PERM_COUNT] = {
    [AUTH_TEAM_CREATE] = {"team.create", "create a team", SCOPE_ADMIN, 0},
    [AUTH_TEAM_READ] = {"team.read", "see a team and its members", SCOPE_TEAM, AUTH_ROLES_ALL},
    [AUTH_TEAM_MANAGE] = {"team.manage", "add, change or remove a team's members", SCOPE_TEAM,
                          R_ADMIN},
    [AUTH_USER_CREATE] = {"user.create", "create a user", SCOPE_ADMIN, 0},
    [AUTH_USER_READ] = {"user.read", "see the users who share a team with you",
                        SCOPE_ANY_USER, 0},
    [AUTH_USER_MANAGE] = {"user.manage", "disable a user, grant global admin", SCOPE_ADMIN, 0},
    [AUTH_TOKEN_OWN] = {"token.own", "create, list and revoke one's own tokens", SCOPE_ANY_USER,
                        0},
    [AUTH_TOKEN_OTHERS] = {"token.others", "create or revoke tokens of other users", SCOPE_ADMIN,
                           0},
    [AUTH_MODEL_READ] = {"model.read", "see models, versions, aliases", SCOPE_TEAM,
                         AUTH_ROLES_ALL},
    [AUTH_MODEL_WRITE] = {"model.write", "register, update and archive models", SCOPE_TEAM,
                          R_ADMIN | R_DS | R_MLE},
    [AUTH_VERSION_WRITE] = {"version.write", "upload, update and archive versions", SCOPE_TEAM,
                            R_ADMIN | R_DS | R_MLE},
    [AUTH_VERSION_DOWNLOAD] = {"version.download", "download a version's artifact", SCOPE_TEAM,
                               R_ADMIN | R_DS | R_MLE | R_RISK},
    [AUTH_ALIAS_WRITE] = {"alias.write", "set or move an alias (e.g. champion)", SCOPE_TEAM,
                          R_ADMIN | R_DS | R_MLE},
    [AUTH_AUDIT_READ] = {"audit.read", "read the team's audit trail", SCOPE_TEAM,
                         R_ADMIN | R_RISK},
    [AUTH_AUDIT_VERIFY] = {"audit.verify", "verify the whole audit chain", SCOPE_ANY_TEAM,
                           R_ADMIN | R_RISK},
    [AUTH_DATASET_READ] = {"dataset.read",
                           "see datasets, versions, schemas, profiles, suites, results, lineage",
                           SCOPE_TEAM, AUTH_ROLES_ALL},
    [AUTH_DATASET_WRITE] = {"dataset.write",
                            "register datasets and versions, tag columns, edit suites, validate",
                            SCOPE_TEAM, R_ADMIN | R_DS | R_MLE},
    [AUTH_DATASET_CLASSIFY] = {"dataset.classify",
                               "take a PII or sensitive tag off a column, approve its use",
                               SCOPE_TEAM, R_ADMIN | R_RISK},
    [AUTH_DATASET_DOWNLOAD] = {"dataset.download", "download a dataset version's file",
                               SCOPE_TEAM, R_ADMIN | R_DS | R_MLE | R_RISK},
    [AUTH_DATASET_DOWNLOAD_PII] = {"dataset.download_pii",
                                   "download or sample unmasked a version with PII columns",
                                   SCOPE_TEAM, R_ADMIN | R_DS | R_RISK},
    [AUTH_DEPLOYMENT_READ] = {"deployment.read", "see deployments, their history and statistics",
                              SCOPE_TEAM, AUTH_ROLES_ALL},
    [AUTH_DEPLOYMENT_WRITE] = {"deployment.write",
                               "create, change, roll back and delete deployments", SCOPE_TEAM,
                               R_ADMIN | R_MLE},
    [AUTH_DEPLOYMENT_INFER] = {"deployment.infer",
                               "run inference on the team's deployments and models", SCOPE_TEAM,
                               R_ADMIN | R_DS | R_MLE},
    [AUTH_JOB_READ] = {"job.read", "see batch scoring jobs and download their results",
                       SCOPE_TEAM, R_ADMIN | R_DS | R_MLE | R_RISK},
    [AUTH_JOB_RUN] = {"job.run", "submit and cancel batch scoring jobs", SCOPE_TEAM,
                      R_ADMIN | R_DS | R_MLE},
    [AUTH_REVIEW_REQUEST] = {"review.request", "request, withdraw or reopen a version's review",
                             SCOPE_TEAM, R_ADMIN | R_DS | R_MLE},
    [AUTH_REVIEW_DECIDE] = {"review.decide", "approve or reject a version (never one's own)",
                            SCOPE_TEAM, R_ADMIN | R_RISK},
    [AUTH_STAGE_STAGING] = {"stage.staging", "move an approved version into or out of staging",
                            SCOPE_TEAM, R_ADMIN | R_MLE},
    [AUTH_STAGE_PRODUCTION] = {"stage.production",
                               "move a version into production, deprecate or reinstate it",
                               SCOPE_TEAM, R_ADMIN | R_MLE},
    [AUTH_VERSION_RETIRE] = {"version.retire", "retire a deprecated version", SCOPE_TEAM,
                             R_ADMIN | R_MLE},
    [AUTH_VALIDATION_RUN] = {"validation.run", "validate a version on a holdout file",
                             SCOPE_TEAM, R_ADMIN | R_DS | R_MLE | R_RISK},
    [AUTH_CARD_WRITE] = {"card.write", "write a version's model card", SCOPE_TEAM,
                         R_ADMIN | R_DS | R_MLE},
    [AUTH_POLICY_READ] = {"policy.read", "see the team's policies (org-wide ones: anyone)",
                          SCOPE_TEAM, AUTH_ROLES_ALL},
    [AUTH_POLICY_WRITE] = {"policy.write", "create, change and archive a team's policies",
                           SCOPE_TEAM, R_ADMIN | R_RISK},
    [AUTH_POLICY_GLOBAL] = {"policy.global", "create, change and archive org-wide policies",
                            SCOPE_ADMIN, 0},
    [AUTH_REPORT_READ] = {"report.read", "read compliance reports", SCOPE_TEAM,
                          R_ADMIN | R_RISK},
    [AUTH_WEBHOOK_READ] = {"webhook.read", "see the team's webhooks and their delivery log",
                           SCOPE_TEAM, R_ADMIN | R_MLE | R_RISK},
    [AUTH_WEBHOOK_MANAGE] = {"webhook.manage", "create, change and delete the team's webhooks",
                             SCOPE_TEAM, R_ADMIN},
    [AUTH_COST_READ] = {"cost.read", "see the team's usage, costs, budgets, value and ROI",
                        SCOPE_TEAM, R_ADMIN | R_DS | R_MLE | R_RISK | R_FIN},
    [AUTH_BUDGET_WRITE] = {"budget.write", "set and remove the team's and its models' budgets",
                           SCOPE_TEAM, R_ADMIN | R_FIN},
    [AUTH_PRICE_WRITE] = {"price.write", "change the price sheet costs are computed with",
                          SCOPE_ANY_TEAM, R_FIN},
    [AUTH_VALUE_WRITE] = {"value.write",
                          "declare what a model's predictions are worth, post value events",
                          SCOPE_TEAM, R_ADMIN | R_MLE | R_FIN},
    [AUTH_KPI_READ] = {"kpi.read", "see the team's ModelOps KPIs", SCOPE_TEAM, AUTH_ROLES_ALL},
};

const char *auth_perm_name(auth_perm_t perm)
{
    return (unsigned)perm < AUTH_PERM_COUNT ? perm_table[perm].name : "?";
}

unsigned auth_roles_in(const auth_principal_t *who, int64_t team_id)
{
    for (size_t i = 0; i < who->nteams; i++)
        if (who->teams[i].team_id == team_id)
            return who->teams[i].roles;
    return 0;
}

int auth_can(const auth_principal_t *who, auth_perm_t perm, int64_t team_id)
{
    /* A token limited to inference holds nothing else, whoever owns it. */
    if (who && who->scoped && perm != AUTH_DEPLOYMENT_INFER)
        return 0;
    if (!who || who->is_admin)
        return 1;
    unsigned roles = perm_table[perm].roles;
    switch (perm_table[perm].scope) {
    case SCOPE_ADMIN: return 0;
    case SCOPE_ANY_USER: return 1;
    case SCOPE_TEAM: return (auth_roles_in(who, team_id) & roles) != 0;
    case SCOPE_ANY_TEAM:
        for (size_t i = 0; i < who->nteams; i++)
            if (who->teams[i].roles & roles)
                return 1;
        return 0;
    }
    return 0;
}

static void roles_text(unsigned roles, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < AUTH_ROLE_COUNT; i++)
        if (roles & (1u << i))
            o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%s", o ? ", " : "",
                                  role_names[i]);
}

static const char *team_name(const auth_principal_t *who, int64_t team_id)
{
    for (size_t i = 0; i < who->nteams; i++)
        if (who->teams[i].team_id == team_id)
            return who->teams[i].team;
    return NULL;
}

/* The deployments of a scoped token, for messages. */
static void scope_text(const auth_principal_t *who, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < who->n_infer_only && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", who->infer_only[i]);
}

static int scoped_refusal(const mops_ctx_t *ctx, int64_t team_id, const char *what,
                          mops_err_t *err)
{
    char names[200];
    scope_text(ctx->who, names, sizeof names);
    mops_ctx_deny(ctx, team_id);
    return mops_err_set(err, MOPS_EFORBIDDEN,
                        "this token of %s may only run inference on the deployments %s; it may "
                        "not %s",
                        ctx->who->user, names, what);
}

int auth_require(const mops_ctx_t *ctx, auth_perm_t perm, int64_t team_id, mops_err_t *err)
{
    const auth_principal_t *who = ctx->who;
    if (auth_can(who, perm, team_id))
        return 0;
    if (who->scoped && perm != AUTH_DEPLOYMENT_INFER) {
        char what[160];
        snprintf(what, sizeof what, "%s (%s)", perm_table[perm].what, perm_table[perm].name);
        return scoped_refusal(ctx, team_id, what, err);
    }
    mops_ctx_deny(ctx, team_id);
    char roles[160];
    roles_text(perm_table[perm].roles, roles, sizeof roles);
    switch (perm_table[perm].scope) {
    case SCOPE_ADMIN:
        return mops_err_set(err, MOPS_EFORBIDDEN,
                            "%s may not %s (%s): only global administrators may", who->user,
                            perm_table[perm].what, perm_table[perm].name);
    case SCOPE_TEAM: {
        const char *team = team_name(who, team_id);
        if (!team)
            return mops_err_set(err, MOPS_EFORBIDDEN,
                                "%s may not %s (%s): not a member of the team", who->user,
                                perm_table[perm].what, perm_table[perm].name);
        return mops_err_set(err, MOPS_EFORBIDDEN,
                            "%s may not %s (%s) in team %s: needs one of the roles %s", who->user,
                            perm_table[perm].what, perm_table[perm].name, team, roles);
    }
    default:
        return mops_err_set(err, MOPS_EFORBIDDEN,
                            "%s may not %s (%s): needs one of the roles %s in some team",
                            who->user, perm_table[perm].what, perm_table[perm].name, roles);
    }
}

int auth_require_infer(const mops_ctx_t *ctx, int64_t team_id, const char *deployment,
                       mops_err_t *err)
{
    const auth_principal_t *who = ctx->who;
    if (who && who->scoped) {
        size_t i = 0;
        while (deployment && i < who->n_infer_only && strcmp(who->infer_only[i], deployment))
            i++;
        if (!deployment || i == who->n_infer_only) {
            char what[160];
            if (deployment)
                snprintf(what, sizeof what, "run inference on deployment %s",
                         mops_text_show(deployment));
            else
                snprintf(what, sizeof what, "run inference on a model outside a deployment");
            return scoped_refusal(ctx, team_id, what, err);
        }
    }
    return auth_require(ctx, AUTH_DEPLOYMENT_INFER, team_id, err);
}

int auth_require_unscoped(const mops_ctx_t *ctx, const char *action, mops_err_t *err)
{
    if (!ctx->who || !ctx->who->scoped)
        return 0;
    char what[160];
    snprintf(what, sizeof what, "use this endpoint (%s)", action);
    return scoped_refusal(ctx, 0, what, err);
}

void auth_sql_team_filter(const mops_ctx_t *ctx, auth_perm_t perm, const char *col,
                          store_sql_t *q)
{
    const auth_principal_t *who = ctx->who;
    if (who && who->scoped && perm != AUTH_DEPLOYMENT_INFER) {
        store_sql_add(q, "(1=0)", NULL);
        return;
    }
    if (!who || who->is_admin) {
        store_sql_add(q, "(1=1)", NULL);
        return;
    }
    mops_buf_t b = MOPS_BUF_INIT;
    mops_buf_printf(&b, "(%s IN (SELECT team_id FROM memberships WHERE user_id = ? AND role IN (",
                    col);
    int n = 0;
    for (int i = 0; i < AUTH_ROLE_COUNT; i++)
        if (perm_table[perm].roles & (1u << i))
            mops_buf_printf(&b, "%s'%s'", n++ ? ", " : "", role_names[i]);
    if (!n)
        mops_buf_puts(&b, "NULL");
    mops_buf_puts(&b, ")))");
    store_sql_add(q, b.data, "i", who->user_id);
    mops_buf_release(&b);
}

char *auth_matrix_markdown(void)
{
    mops_buf_t b = MOPS_BUF_INIT;
    mops_buf_puts(&b, "| permission | what it allows | scope |");
    for (int i = 0; i < AUTH_ROLE_COUNT; i++)
        mops_buf_printf(&b, " %s |", role_names[i]);
    mops_buf_puts(&b, "\n|---|---|---|");
    for (int i = 0; i < AUTH_ROLE_COUNT; i++)
        mops_buf_puts(&b, ":-:|");
    mops_buf_putc(&b, '\n');
    static const char *const scope_words[] = {
        [SCOPE_TEAM] = "the object's team",
        [SCOPE_ANY_TEAM] = "any team",
        [SCOPE_ANY_USER] = "any signed-in user",
        [SCOPE_ADMIN] = "global admin only",
    };
    for (int p = 0; p < AUTH_PERM_COUNT; p++) {
        mops_buf_printf(&b, "| `%s` | %s | %s |", perm_table[p].name, perm_table[p].what,
                        scope_words[perm_table[p].scope]);
        for (int i = 0; i < AUTH_ROLE_COUNT; i++) {
            int yes = perm_table[p].scope == SCOPE_ANY_USER ||
                      (perm_table[p].scope != SCOPE_ADMIN && (perm_table[p].roles & (1u << i)));
            mops_buf_puts(&b, yes ? " ✓ |" : " |");
        }
        mops_buf_putc(&b, '\n');
    }
    return mops_buf_detach(&b);
}
