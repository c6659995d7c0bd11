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
#include "runtime/runtime.h"

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

/* Model versions whose "dataset" field is exactly `dataset` (a canonical
 * "dataset:TEAM/NAME@N" links a model to its training data), oldest first,
 * in teams where the caller holds model.read: *out is a new array of
 * {"team", "model", "version", "stage", "archived"}; *hidden (may be NULL)
 * gets how many more there are in teams the caller cannot read. For
 * lineage. */
int registry_version_find_by_dataset(const mops_ctx_t *ctx, const char *dataset, json_t **out,
                                     int64_t *hidden, mops_err_t *err);

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

/* ---------------------------------------------------- for other modules */

/* What other modules (governance, serving) need to know about a model and
 * one of its versions, resolved as the caller sees them. Strings are
 * copies, valid as long as the struct. */
typedef struct registry_model_ref {
    int64_t team_id, model_id, owner_id;
    int archived;
    char team[MOPS_NAME_MAX + 1], model[MOPS_NAME_MAX + 1];
    char risk_tier[16];
} registry_model_ref_t;

typedef struct registry_version_ref {
    registry_model_ref_t m;
    int64_t version_id, number;
    int64_t created_by;  /* the version's author */
    int64_t created_at;  /* Unix ms */
    int archived;        /* the version is archived */
    char sha256[65];     /* its artifact in the blob store */
    int64_t size;        /* the artifact's bytes */
    char format[33];
    char stage[24];
    char dataset[1025];  /* the training dataset reference, "" if none */
} registry_version_ref_t;

/* Resolve team/model as the caller sees it (MOPS_ENOTFOUND when either is
 * missing or in a team the caller does not belong to) and check perm on
 * the model's team (MOPS_EFORBIDDEN). */
int registry_model_resolve(const mops_ctx_t *ctx, const char *team, const char *model,
                           auth_perm_t perm, registry_model_ref_t *out, mops_err_t *err);

/* Resolve team/model and a version reference (a number, an alias or
 * "latest") as registry_model_resolve does. */
int registry_version_resolve(const mops_ctx_t *ctx, const char *team, const char *model,
                             const char *ref, auth_perm_t perm, registry_version_ref_t *out,
                             mops_err_t *err);

/* The same from a version's id (as other modules keep it): MOPS_ENOTFOUND
 * when there is none or the caller may not do perm in its team. */
int registry_version_resolve_id(const mops_ctx_t *ctx, int64_t version_id, auth_perm_t perm,
                                registry_version_ref_t *out, mops_err_t *err);

/* The same with no permission check: for the server's own use (loading a
 * model a deployment routes to). MOPS_ENOTFOUND. */
int registry_version_ref_by_id(const mops_ctx_t *ctx, int64_t version_id,
                               registry_version_ref_t *out,
                         mops_err_t *err);

/* The teams the caller may see (model.read) that hold an active model named
 * model, by name order: up to max names into teams (arena strings); *n gets
 * how many there are in all. */
int registry_model_teams(const mops_ctx_t *ctx, const char *model, const char **teams, size_t max,
                         size_t *n, mops_err_t *err);

/* Bytes of model artifacts per model (each distinct artifact of its
 * versions once), for metering storage: {"items": [{"team_id",
 * "model_id", "team", "model", "bytes"}]}. No permission check. */
int registry_storage(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);

/* Move a version from stage `from` to stage `to`. The lifecycle (which
 * stages exist, which moves are allowed, who may make them) is the
 * governance module's; the registry only stores the stage. Must run inside
 * the caller's transaction, which audits the change. MOPS_ECONFLICT when
 * the version is no longer in `from` (a concurrent change). */
int registry_version_stage_set(const mops_ctx_t *ctx, int64_t version_id, const char *from,
                               const char *to, mops_err_t *err);

/* Load a version's artifact with the native runtime, after checking its
 * bytes still hash to the recorded SHA-256 (MOPS_ECORRUPT otherwise).
 * MOPS_EINVAL when the format is not one the runtime executes. *out holds
 * one reference for the caller (runtime_model_unref). */
int registry_version_model_load(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                                runtime_model_t **out, mops_err_t *err);

#endif
