/*
 * auth.h — security: teams, users, their roles per team, API tokens, and
 * the permission matrix.
 *
 * Every permission check in mops goes through auth_require, which reads one
 * table (perm.c); docs/security.md is generated from the same table and a
 * test keeps them equal. Tokens are 256-bit random strings shown once and
 * stored only as SHA-256 hashes.
 *
 * Read functions return JSON representations (new references the caller
 * decrefs); write functions validate their JSON input, change the store in
 * one transaction and append an audit entry in it.
 */
#ifndef MOPS_AUTH_AUTH_H
#define MOPS_AUTH_AUTH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"
#include "store/store.h"

/* ------------------------------------------------------------ roles */

typedef enum auth_role {
    AUTH_ROLE_ADMIN = 1 << 0,
    AUTH_ROLE_DATA_SCIENTIST = 1 << 1,
    AUTH_ROLE_ML_ENGINEER = 1 << 2,
    AUTH_ROLE_RISK_OFFICER = 1 << 3,
    AUTH_ROLE_FINOPS = 1 << 4,
    AUTH_ROLE_VIEWER = 1 << 5,
} auth_role_t;

#define AUTH_ROLE_COUNT 6
#define AUTH_ROLES_ALL 0x3f

/* "data-scientist" -> AUTH_ROLE_DATA_SCIENTIST; MOPS_EINVAL naming the
 * allowed roles otherwise. */
int auth_role_parse(const char *name, unsigned *role, mops_err_t *err);
/* Name of one role bit. */
const char *auth_role_name(unsigned role);

/* ------------------------------------------------------------ principal */

typedef struct auth_membership {
    int64_t team_id;
    const char *team;
    unsigned roles; /* auth_role_t bits */
} auth_membership_t;

/* Who is asking: built by auth_authenticate, lives in the request arena. */
struct auth_principal {
    int64_t user_id;
    const char *user;
    int is_admin; /* global administrator: every permission everywhere */
    int64_t token_id;
    size_t nteams;
    auth_membership_t *teams;
    /* An application token limited to inference on named deployments
     * (tokens.scope): scoped is 1 and infer_only lists the deployments.
     * Such a principal holds deployment.infer on those deployments (as far
     * as its user's roles allow) and nothing else. */
    int scoped;
    size_t n_infer_only;
    const char **infer_only;
};

/* Resolve a bearer token to its user and memberships. MOPS_EUNAUTH with the
 * reason (unknown, expired, revoked, user disabled) otherwise; when the
 * token was recognised but is unusable, its owner goes into *denial (may
 * be NULL) so the refusal is audited under their name. A success is also
 * remembered in the principal cache (below). */
int auth_authenticate(store_conn_t *db, const char *token, mops_arena_t *arena,
                      auth_principal_t **out, mops_denial_t *denial, mops_err_t *err);

/* The principal cache: what auth_authenticate found for a token, kept for
 * AUTH_CACHE_TTL_MS so hot endpoints (inference) authenticate without a
 * database round trip. This process flushes it whenever a token is revoked,
 * a user is changed (disabled, admin) or a membership changes; changes made
 * by another server sharing the database take effect within the TTL.
 * Lookup returns 1 and a copy of the principal in arena on a fresh hit, 0
 * otherwise (then call auth_authenticate). Thread-safe. */
#define AUTH_CACHE_TTL_MS 5000
int auth_cache_lookup(const char *token, mops_arena_t *arena, auth_principal_t **out);
/* Forget every cached principal. */
void auth_cache_flush(void);

/* Roles the principal holds in team_id (0 when none). */
unsigned auth_roles_in(const auth_principal_t *who, int64_t team_id);

/* ------------------------------------------------------------ permissions */

typedef enum auth_perm {
    AUTH_TEAM_CREATE,
    AUTH_TEAM_READ,
    AUTH_TEAM_MANAGE,
    AUTH_USER_CREATE,
    AUTH_USER_READ,
    AUTH_USER_MANAGE,
    AUTH_TOKEN_OWN,
    AUTH_TOKEN_OTHERS,
    AUTH_MODEL_READ,
    AUTH_MODEL_WRITE,
    AUTH_VERSION_WRITE,
    AUTH_VERSION_DOWNLOAD,
    AUTH_ALIAS_WRITE,
    AUTH_AUDIT_READ,
    AUTH_AUDIT_VERIFY,
    AUTH_DATASET_READ,
    AUTH_DATASET_WRITE,
    AUTH_DATASET_CLASSIFY,
    AUTH_DATASET_DOWNLOAD,
    AUTH_DATASET_DOWNLOAD_PII,
    AUTH_DEPLOYMENT_READ,
    AUTH_DEPLOYMENT_WRITE,
    AUTH_DEPLOYMENT_INFER,
    AUTH_JOB_READ,
    AUTH_JOB_RUN,
    AUTH_REVIEW_REQUEST,
    AUTH_REVIEW_DECIDE,
    AUTH_STAGE_STAGING,
    AUTH_STAGE_PRODUCTION,
    AUTH_VERSION_RETIRE,
    AUTH_VALIDATION_RUN,
    AUTH_CARD_WRITE,
    AUTH_POLICY_READ,
    AUTH_POLICY_WRITE,
    AUTH_POLICY_GLOBAL,
    AUTH_REPORT_READ,
    AUTH_WEBHOOK_READ,
    AUTH_WEBHOOK_MANAGE,
    AUTH_MONITOR_READ,
    AUTH_MONITOR_WRITE,
    AUTH_LABELS_WRITE,
    AUTH_METRICS_READ,
    AUTH_COST_READ,
    AUTH_BUDGET_WRITE,
    AUTH_PRICE_WRITE,
    AUTH_VALUE_WRITE,
    AUTH_KPI_READ,
    AUTH_PERM_COUNT
} auth_perm_t;

/* May ctx->who do perm on team_id (0 for permissions that are not about one
 * team)? 0, or MOPS_EFORBIDDEN naming the permission, the team and the roles
 * that would allow it. A NULL principal is the server itself: allowed. */
int auth_require(const mops_ctx_t *ctx, auth_perm_t perm, int64_t team_id, mops_err_t *err);

/* The permission's name as the matrix spells it ("review.decide"). */
const char *auth_perm_name(auth_perm_t perm);

/* Same check without a message. */
int auth_can(const auth_principal_t *who, auth_perm_t perm, int64_t team_id);

/* May ctx->who run inference on deployment (NULL: on a model addressed
 * directly) of team_id? auth_require of deployment.infer, and for a token
 * limited to inference, the deployment must be one it names. 0 or
 * MOPS_EFORBIDDEN. */
int auth_require_infer(const mops_ctx_t *ctx, int64_t team_id, const char *deployment,
                       mops_err_t *err);

/* Refuse (MOPS_EFORBIDDEN) a token limited to inference: the HTTP layer
 * calls it for every endpoint but inference; action names the endpoint. */
int auth_require_unscoped(const mops_ctx_t *ctx, const char *action, mops_err_t *err);

/* Append to q a parenthesised SQL condition true for rows whose team id
 * column `col` lies in a team where the caller holds perm ("(1=1)" for
 * admins and the system), so lists show only what the caller may see. */
void auth_sql_team_filter(const mops_ctx_t *ctx, auth_perm_t perm, const char *col,
                          store_sql_t *q);

/* The permission matrix as Markdown, the source of docs/security.md's table. */
char *auth_matrix_markdown(void);

/* ------------------------------------------------------------ teams */

/* spec: {"name", "description"?}. *out: the new team. */
int auth_team_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err);
/* Teams the caller belongs to (every team for admins). */
int auth_team_list(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);
/* One team with its members. */
int auth_team_get(const mops_ctx_t *ctx, const char *team, json_t **out, mops_err_t *err);
/* Team id by name, if the caller may read it (MOPS_ENOTFOUND otherwise). */
int auth_team_resolve(const mops_ctx_t *ctx, const char *team, int64_t *id, mops_err_t *err);
/* A named object of a team (a model, a dataset), resolved from the team's
 * name and its own. */
typedef struct auth_team_object {
    int64_t id, team_id;
    int archived;            /* its archived_at is set */
    const char *team, *name; /* the caller's strings */
} auth_team_object_t;

/* Resolve team/name in table (a trusted constant with columns id, team_id,
 * name and archived_at) as the caller sees it, then check perm on the team.
 * MOPS_ENOTFOUND when the team is invisible (as auth_team_resolve) or has no
 * such row ("no <kind> named ..."); MOPS_EFORBIDDEN from auth_require (*out
 * is filled by then). */
int auth_team_object_resolve(const mops_ctx_t *ctx, const char *table, const char *kind,
                             const char *team, const char *name, auth_perm_t perm,
                             auth_team_object_t *out, mops_err_t *err);
/* spec: {"roles": ["ml-engineer", ...]} — replaces user's roles in team. */
int auth_member_set(const mops_ctx_t *ctx, const char *team, const char *user,
                    const json_t *spec, json_t **out, mops_err_t *err);
int auth_member_remove(const mops_ctx_t *ctx, const char *team, const char *user,
                       mops_err_t *err);

/* ------------------------------------------------------------ users */

/* spec: {"name", "display_name"?, "email"?, "admin"?}. */
int auth_user_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err);
int auth_user_list(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);
int auth_user_get(const mops_ctx_t *ctx, const char *user, json_t **out, mops_err_t *err);
/* spec: {"display_name"?, "email"?, "disabled"?, "admin"?}. */
int auth_user_update(const mops_ctx_t *ctx, const char *user, const json_t *spec, json_t **out,
                     mops_err_t *err);
/* Id of an enabled user by name (MOPS_ENOTFOUND naming it otherwise). */
int auth_user_resolve(const mops_ctx_t *ctx, const char *user, int64_t *id, mops_err_t *err);
/* The caller: user, admin flag, teams and roles. */
int auth_whoami(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ tokens */

#define AUTH_TOKEN_PREFIX "mops_"
#define AUTH_TOKEN_LEN 69 /* "mops_" + 64 hex digits */

/* spec: {"name", "user"? (default: caller), "expires_in_days"? | "expires_at"?,
 *        "infer_only"?: ["deployment", ...]}. With infer_only the token may
 * only run inference on those deployments (an application's token).
 * *out holds the token's record and, once only, its secret in "token". */
int auth_token_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err);
/* The caller's tokens, or user's (admins). Never the secret. */
int auth_token_list(const mops_ctx_t *ctx, const char *user, json_t **out, mops_err_t *err);
/* Revoke a token by id (own tokens, or any for admins). */
int auth_token_revoke(const mops_ctx_t *ctx, int64_t id, mops_err_t *err);

/* First start: if there is no user at all, create the global administrator
 * "admin" and a token for it, write the token to token_file (mode 0600,
 * before the transaction commits, so a crash can never leave an admin whose
 * token is lost) and copy it to token_out (AUTH_TOKEN_LEN + 1 bytes).
 * *created says whether it happened. Runs in its own transaction. */
int auth_bootstrap(const mops_ctx_t *ctx, const char *token_file, char *token_out, int *created,
                   mops_err_t *err);

#endif
