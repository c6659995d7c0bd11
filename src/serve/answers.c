/*
 * answers.c — serving's answers to the modules below it, which cannot call
 * serve by name and ask through the providers they expose (registered by
 * server.c): governance (is a version receiving traffic, which deployments
 * route to it) and data lineage (a model version's deployments).
 *
 * They read the store only (deployment_targets, prediction_log) on the
 * caller's connection, inside its transaction, so they also work on a
 * server that is not serving. Lineage's prediction counts are the
 * prediction log's: rows of the requests it kept (it samples and drops
 * under load, counted in the deployment's stats).
 */
#include <stdio.h>
#include <string.h>

#include "registry/registry.h"
#include "serve/serve_int.h"

int serve_governance_traffic(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                             mops_err_t *err)
{
    json_t *d;
    int rc = serve_version_deployments(ctx, version_id, &d, err);
    if (rc != 0)
        return rc;
    json_t *items = json_object_get(d, "items"), *kinds = json_array(), *it;
    size_t i;
    json_array_foreach(items, i, it) {
        json_t *role = json_object_get(it, "role"), *k;
        size_t j;
        int seen = 0;
        json_array_foreach(kinds, j, k) seen |= json_equal(k, role);
        if (!seen)
            json_array_append(kinds, role);
    }
    *out = json_pack("{s:b, s:o, s:O}", "receiving", json_array_size(items) > 0, "kinds", kinds,
                     "deployments", items);
    json_decref(d);
    return 0;
}

int serve_governance_deployments(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                                 mops_err_t *err)
{
    json_t *d;
    int rc = serve_version_deployments(ctx, version_id, &d, err);
    if (rc == 0) {
        *out = json_incref(json_object_get(d, "items"));
        json_decref(d);
    }
    return rc;
}

int serve_lineage_deployments(const mops_ctx_t *ctx, const char *team, const char *model,
                              int64_t version, json_t **out, mops_err_t *err)
{
    char ref[24];
    snprintf(ref, sizeof ref, "%lld", (long long)version);
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    json_t *items = NULL, *it;
    if (rc == 0)
        rc = serve_governance_deployments(ctx, v.version_id, &items, err);
    size_t i;
    json_array_foreach(items, i, it) {
        int64_t n = 0;
        if (rc == 0)
            rc = store_query_int(ctx->db, &n, err,
                                 "SELECT COALESCE(SUM(p.n_rows), 0) FROM prediction_log p JOIN "
                                 "deployments d ON d.id = p.deployment_id WHERE p.version_id = ? "
                                 "AND d.name = ? AND d.deleted_at IS NULL AND p.role <> 'shadow'",
                                 "it", v.version_id, json_string_value(json_object_get(it, "name")));
        json_object_set_new(it, "status", json_string("live"));
        json_object_set_new(it, "predictions", json_integer(n));
    }
    if (rc != 0) {
        json_decref(items);
        return rc;
    }
    *out = items;
    return 0;
}
