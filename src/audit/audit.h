/*
 * audit.h — the tamper-evident audit trail.
 *
 * Every change appends an entry inside the transaction that makes the
 * change, so the entry exists exactly when the change does; every denied
 * request appends one in a transaction of its own. Entry n carries
 * hash(n) = SHA-256 of its fields and hash(n-1), so altering, removing or
 * reordering any entry breaks the chain at that point, which audit_verify
 * finds and names. Sequence numbers are assigned under the store's writer
 * lock, so they have no gaps.
 */
#ifndef MOPS_AUDIT_AUDIT_H
#define MOPS_AUDIT_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"

/* Append an entry for a change made by ctx->who. Must run inside the
 * store transaction of the change. action is "<object>.<verb>" (e.g.
 * "model.create"); target names the object ("team/model@3"); team_id is the
 * owning team (0 for none); detail (may be NULL) is copied. */
int audit_record(const mops_ctx_t *ctx, const char *action, const char *target, int64_t team_id,
                 const json_t *detail, mops_err_t *err);

/* Append an entry for a refused request, in its own transaction. status is
 * the HTTP status (401, 403, or 404 for another team's object) and reason
 * the message the caller got; ctx->denial, when set, gives the team and,
 * for an unusable token, its owner. */
int audit_record_denied(const mops_ctx_t *ctx, const char *action, const char *target,
                        int status, const char *reason, mops_err_t *err);

/* Entries the caller may read, newest first. Filters (each may be NULL):
 * team, actor, action (exact or "model." prefix), target; page_token is the
 * seq to continue below; limit 1..1000. *out: {"items":[...],
 * "next_page_token":...}. */
typedef struct audit_filter {
    const char *team;
    const char *actor;
    const char *action;
    const char *target;
    int64_t before_seq; /* 0: from the newest */
    int limit;
} audit_filter_t;

int audit_list(const mops_ctx_t *ctx, const audit_filter_t *f, json_t **out, mops_err_t *err);

/* Walk the whole chain. *out: {"ok":true,"entries":N,"head":hash} or
 * {"ok":false,"entries":checked,"first_bad_seq":k,"problem":"..."}.
 * Returns 0 either way (a broken chain is a finding, not an error). */
int audit_verify(store_conn_t *db, json_t **out, mops_err_t *err);

#endif
