/*
 * registry_int.h — private to registry/: resolving names to rows, tags,
 * and the JSON shapes shared by its files.
 */
#ifndef MOPS_REGISTRY_INT_H
#define MOPS_REGISTRY_INT_H

#include "auth/auth.h"
#include "registry/registry.h"
#include "store/store.h"

#define REGISTRY_TAGS_MAX 32

/* A model row, resolved from team and model names. */
typedef auth_team_object_t reg_model_t;

/* Resolve team/model as the caller sees them (MOPS_ENOTFOUND when either is
 * missing or invisible) and check perm on the model's team. */
int reg_model_resolve(const mops_ctx_t *ctx, const char *team, const char *model,
                      auth_perm_t perm, reg_model_t *out, mops_err_t *err);

/* A version row, resolved from a reference: "3", "latest" or an alias. */
typedef struct reg_version {
    int64_t id, number;
    int archived;
    char sha256[65];
} reg_version_t;

int reg_version_resolve(const mops_ctx_t *ctx, const reg_model_t *m, const char *ref,
                        reg_version_t *out, mops_err_t *err);

/* "team/model" or "team/model@N" into an arena string, for audit targets. */
const char *reg_target(const mops_ctx_t *ctx, const reg_model_t *m, int64_t number);

/* The JSON of one version row by id. */
int reg_version_json(const mops_ctx_t *ctx, const reg_model_t *m, int64_t version_id,
                     json_t **out, mops_err_t *err);

/* Load an artifact with the runtime (formats it executes only; a file
 * that does not load is MOPS_EINVAL with the loader's message). */
int reg_artifact_load(const mops_ctx_t *ctx, const char *sha, const char *format,
                      runtime_model_t **out, mops_err_t *err);

#endif
