/*
 * answers.c — serving's answers to the modules below it, which cannot call
 * serve by name and ask through the providers they expose (registered by
 * server.c): governance (is a version receiving traffic, which deployments
 * route to it) and data lineage (a model version's deployments).
 *
 * They read the store only (deployments and their targets) on the
 * caller's connection, inside its transaction, so they also work on a
 * server that is not serving. Prediction counts are FinOps' (metering sees
 * every request; the prediction log samples under load): server.c adds
 * them to lineage's deployments.
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
    if (rc != 0)
        return rc;
    size_t i;
    json_array_foreach(items, i, it) json_object_set_new(it, "status", json_string("live"));
    *out = items;
    return 0;
}
