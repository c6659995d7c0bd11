/*
 * provider.c — the table of hooks other modules register so governance can
 * ask them about a version (traffic, monitoring, cost, datasets, figures
 * for reports), and the uniform way an absent module is reported.
 *
 * The table is written at start-up, before the server serves, and only
 * read afterwards, so it needs no lock.
 */
#include "governance/governance_int.h"

static governance_providers_t providers;

void governance_providers_set(const governance_providers_t *p)
{
#define TAKE(f)                                                                                    \
    if (p->f)                                                                                      \
        providers.f = p->f;
    TAKE(traffic)
    TAKE(deployments)
    TAKE(predictions)
    TAKE(monitoring)
    TAKE(incidents)
    TAKE(cost_per_1k)
    TAKE(cost)
    TAKE(dataset)
    TAKE(model_pii)
#undef TAKE
}

void governance_providers_clear(void)
{
    governance_providers_t none = {0};
    providers = none;
}

const governance_providers_t *gov_providers(void)
{
    return &providers;
}

json_t *gov_unavailable(const char *module)
{
    return json_pack("{s:b, s:s+}", "available", 0, "source", module, " is not available");
}

/* A hook's answer, or what stands for it when it failed or is absent. */
static json_t *answer(int rc, json_t *out, const mops_err_t *err, const char *module)
{
    if (rc == 0 && out)
        return out;
    json_decref(out);
    if (rc == 0)
        return json_null();
    return json_pack("{s:b, s:s, s:s}", "available", 0, "source", module, "error", err->msg);
}

json_t *gov_window(const mops_ctx_t *ctx, gov_window_hook_t hook, const char *module,
                   int64_t version_id, int64_t from_ms, int64_t to_ms)
{
    if (!hook)
        return gov_unavailable(module);
    json_t *out = NULL;
    mops_err_t err;
    mops_err_clear(&err);
    int rc = hook(ctx, version_id, from_ms, to_ms, &out, &err);
    return answer(rc, out, &err, module);
}

json_t *gov_version_fact(const mops_ctx_t *ctx, gov_version_hook_t hook, const char *module,
                         int64_t version_id)
{
    if (!hook)
        return gov_unavailable(module);
    json_t *out = NULL;
    mops_err_t err;
    mops_err_clear(&err);
    int rc = hook(ctx, version_id, &out, &err);
    return answer(rc, out, &err, module);
}
