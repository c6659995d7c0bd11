/*
 * registry.h — the model registry: registered models, their versions,
 * content-addressed artifacts, and aliases.
 *
 * A model belongs to one team and has a name unique in it, an accountable
 * owner, a business purpose, a risk tier and tags. A version is numbered in
 * order and points at an artifact stored once by its SHA-256
 * (artifacts/sha256/ab/cdef...), written to a temporary file, fsynced and
 * renamed, so a file under its hash is always whole. Nothing is deleted:
 * models and versions are archived.
 *
 * Objects are addressed by team name, model name and a version reference:
 * a number, an alias ("champion") or "latest". Read functions return JSON
 * (new references); writes validate their JSON input, check permissions,
 * change the store in one transaction and audit it.
 */
#ifndef MOPS_REGISTRY_REGISTRY_H
#define MOPS_REGISTRY_REGISTRY_H

#include <jansson.h>
#include <stdint.h>

#include "auth/auth.h"
#include "core/ctx.h"
#include "core/error.h"
#include "core/text.h"

/* ------------------------------------------------------------ artifacts */

typedef struct registry_upload registry_upload_t;

/* Start receiving an artifact for team/model (checked: the caller may
 * write versions there). At most max_bytes are accepted. */
int registry_upload_begin(const mops_ctx_t *ctx, const char *team, const char *model,
                          int64_t max_bytes, registry_upload_t **out, mops_err_t *err);
/* Append bytes; MOPS_ETOOBIG past the limit. */
int registry_upload_write(registry_upload_t *u, const void *p, size_t n, mops_err_t *err);
/* Make the bytes durable under their hash (kept once if already stored) and
 * record them for the team. *out: {"sha256", "size", "already_stored"},
 * already_stored saying whether this team had uploaded the same bytes (never
 * whether another team has). Frees u whatever the result. */
int registry_upload_finish(const mops_ctx_t *ctx, registry_upload_t *u, json_t **out,
                           mops_err_t *err);
/* Discard an unfinished upload and free u. NULL is a no-op. */
void registry_upload_abort(registry_upload_t *u);

/* Remove temporary files left by uploads a crash interrupted. */
int registry_artifacts_init(const mops_env_t *env, mops_err_t *err);

/* ------------------------------------------------------------ models */

/* spec: {"team", "name", "description"?, "owner"? (default: caller),
 *        "purpose"?, "risk_tier": "low"|"medium"|"high", "tags"?} */
int registry_model_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                          mops_err_t *err);
int registry_model_get(const mops_ctx_t *ctx, const char *team, const char *model, json_t **out,
                       mops_err_t *err);

typedef struct registry_model_filter {
    const char *team, *tag, *stage, *owner, *prefix;
    int archived;      /* 0: active only, 1: archived only, -1: both */
    int64_t after_id;  /* page token */
    int limit;         /* 1..1000, default 50 */
} registry_model_filter_t;

/* Models the caller may see. *out: {"items": [...], "next_page_token"}. */
int registry_model_list(const mops_ctx_t *ctx, const registry_model_filter_t *f, json_t **out,
                        mops_err_t *err);
/* spec: any of description, owner, purpose, risk_tier, tags (replaced). */
int registry_model_update(const mops_ctx_t *ctx, const char *team, const char *model,
                          const json_t *spec, json_t **out, mops_err_t *err);
int registry_model_archive(const mops_ctx_t *ctx, const char *team, const char *model,
                           json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ versions */

/* spec: {"artifact_sha256", "format", "framework"?, "framework_version"?,
 *        "description"?, "source"?: {"uri"?, "commit"?}, "params"?: {...},
 *        "metrics"?: {name: number}, "dataset"?, "environment"?: {k: "v"},
 *        "tags"?} */
int registry_version_create(const mops_ctx_t *ctx, const char *team, const char *model,
                            const json_t *spec, json_t **out, mops_err_t *err);
int registry_version_get(const mops_ctx_t *ctx, const char *team, const char *model,
                         const char *ref, json_t **out, mops_err_t *err);

typedef struct registry_version_filter {
    const char *stage, *tag;
    int archived;          /* 0: active only, 1: archived only, -1: both */
    int64_t before_number; /* page token */
    int limit;
} registry_version_filter_t;

/* Newest first. *out: {"items": [...], "next_page_token"}. */
int registry_version_list(const mops_ctx_t *ctx, const char *team, const char *model,
                          const registry_version_filter_t *f, json_t **out, mops_err_t *err);
/* spec: any of description, tags (replaced). */
int registry_version_update(const mops_ctx_t *ctx, const char *team, const char *model,
                            const char *ref, const json_t *spec, json_t **out, mops_err_t *err);
int registry_version_archive(const mops_ctx_t *ctx, const char *team, const char *model,
                             const char *ref, json_t **out, mops_err_t *err);

/* Open a version's artifact for download after checking the caller may and
 * that the bytes on disk still hash to the recorded SHA-256 (MOPS_ECORRUPT
 * otherwise). The caller owns *fd. */
int registry_version_open_artifact(const mops_ctx_t *ctx, const char *team, const char *model,
                                   const char *ref, int *fd, int64_t *size, char *sha256_hex,
                                   mops_err_t *err);

/* ------------------------------------------------------------ aliases */

/* spec: {"version": N}. Moves the alias atomically. */
int registry_alias_set(const mops_ctx_t *ctx, const char *team, const char *model,
                       const char *alias, const json_t *spec, json_t **out, mops_err_t *err);
int registry_alias_delete(const mops_ctx_t *ctx, const char *team, const char *model,
                          const char *alias, mops_err_t *err);

/* ------------------------------------------------- lookups for other modules */

/* What another module (serving) needs to know of one version. */
typedef struct registry_version_ref {
    int64_t team_id, model_id, version_id, number;
    int archived;               /* the version is archived */
    char team[MOPS_NAME_MAX + 1], model[MOPS_NAME_MAX + 1];
    char format[33];            /* "xgboost-json", ... */
    char stage[33];             /* lifecycle stage ("draft", ...) */
    char sha256[65];            /* its artifact in the blob store */
    int64_t size;               /* the artifact's bytes */
} registry_version_ref_t;

/* Resolve team/model and a version reference (a number, an alias or
 * "latest") as the caller sees them, and check perm on the model's team:
 * MOPS_ENOTFOUND (team, model or version), MOPS_EFORBIDDEN. */
int registry_version_lookup(const mops_ctx_t *ctx, const char *team, const char *model,
                            const char *ref, auth_perm_t perm, registry_version_ref_t *out,
                            mops_err_t *err);

/* The same by version id, with no permission check: for the server's own
 * use (loading a model a deployment routes to). MOPS_ENOTFOUND. */
int registry_version_lookup_id(const mops_ctx_t *ctx, int64_t version_id,
                               registry_version_ref_t *out, mops_err_t *err);

/* The teams the caller may see (model.read) that hold an active model named
 * model, by name order: up to max names into teams (arena strings); *n gets
 * how many there are in all. */
int registry_model_teams(const mops_ctx_t *ctx, const char *model, const char **teams, size_t max,
                         size_t *n, mops_err_t *err);

#endif
