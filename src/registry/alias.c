/*
 * alias.c — aliases: named pointers to a model's versions ("champion",
 * "challenger"), moved atomically in one statement.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "registry/registry_int.h"

static const mops_json_field_t alias_fields[] = {
    {"version", MOPS_JSON_INT, 1},
    {NULL, 0, 0},
};

static int check_alias(const char *alias, mops_err_t *err)
{
    long long n;
    int rc = mops_name_check("alias", alias, err);
    if (rc != 0)
        return rc;
    if (mops_parse_i64(alias, &n) == 0 || !strcmp(alias, "latest"))
        return mops_err_set(err, MOPS_EINVAL,
                            "alias \"%s\" is reserved: aliases may not be numbers or \"latest\"",
                            alias);
    return 0;
}

int registry_alias_set(const mops_ctx_t *ctx, const char *team, const char *model,
                       const char *alias, const json_t *spec, json_t **out, mops_err_t *err)
{
    reg_model_t m;
    reg_version_t v;
    int rc = reg_model_resolve(ctx, team, model, AUTH_ALIAS_WRITE, &m, err);
    if (rc != 0 || (rc = mops_json_check(spec, "request body", alias_fields, err)) != 0 ||
        (rc = check_alias(alias, err)) != 0)
        return rc;
    json_int_t number = json_integer_value(json_object_get(spec, "version"));
    if (number < 1)
        return mops_err_set(err, MOPS_EINVAL, "version must be a positive version number");
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)number);
    if ((rc = reg_version_resolve(ctx, &m, ref, &v, err)) != 0)
        return rc;
    if (v.archived)
        return mops_err_set(err, MOPS_EPRECOND, "version %lld of %s/%s is archived",
                            (long long)number, team, model);
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    /* The previous target, for the audit trail. */
    int64_t prev = 0;
    int prc = store_query_int(ctx->db, &prev, err,
                              "SELECT v.number FROM aliases a JOIN versions v ON v.id = "
                              "a.version_id WHERE a.model_id = ? AND a.alias = ?",
                              "it", m.id, alias);
    if (prc != 0 && prc != MOPS_ENOTFOUND)
        return store_end(ctx->db, prc, err);
    rc = store_exec(ctx->db, NULL, err,
                    "INSERT INTO aliases (model_id, alias, version_id, updated_by, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_id, alias) DO UPDATE SET "
                    "version_id = excluded.version_id, updated_by = excluded.updated_by, "
                    "updated_at = excluded.updated_at",
                    "itiIi", m.id, alias, v.id, ctx->who ? ctx->who->user_id : (int64_t)0,
                    mops_now_ms());
    if (rc == 0) {
        json_t *detail = json_pack("{s:s, s:o, s:I}", "alias", alias, "from",
                                   prc == 0 ? json_integer(prev) : json_null(), "to",
                                   (json_int_t)number);
        rc = audit_record(ctx, "alias.set", reg_target(ctx, &m, 0), m.team_id, detail, err);
        json_decref(detail);
    }
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    return reg_version_json(ctx, &m, v.id, out, err);
}

int registry_alias_delete(const mops_ctx_t *ctx, const char *team, const char *model,
                          const char *alias, mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, AUTH_ALIAS_WRITE, &m, err);
    if (rc != 0)
        return rc;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t changes = 0;
    rc = store_exec(ctx->db, &changes, err, "DELETE FROM aliases WHERE model_id = ? AND alias = ?",
                    "it", m.id, alias);
    if (rc == 0 && changes == 0) {
        char shown[100];
        mops_text_escape(alias, shown, sizeof shown);
        rc = mops_err_set(err, MOPS_ENOTFOUND, "model %s/%s has no alias \"%s\"", team, model,
                          shown);
    }
    if (rc == 0) {
        json_t *detail = json_pack("{s:s}", "alias", alias);
        rc = audit_record(ctx, "alias.delete", reg_target(ctx, &m, 0), m.team_id, detail, err);
        json_decref(detail);
    }
    return store_end(ctx->db, rc, err);
}
