/*
 * data.h — DataOps: datasets, their versions, schemas, profiles, PII
 * tags, quality suites and lineage.
 *
 * A dataset belongs to one team and has a name unique in it. A version is
 * a CSV file (RFC 4180, header row) kept once in the blob store by its
 * SHA-256, numbered in order. Registering one takes two steps, as model
 * versions do: the upload streams the file once, in constant memory, into
 * the blob store while it is parsed, its schema inferred, its profile
 * sketched (stats.h) and its values scanned for personal data; then the
 * version is created from the upload with its metadata, an optional
 * declared schema, and column tags. Bad files (ragged rows, bad quoting,
 * invalid UTF-8, a field over the size limit, an empty file, duplicate
 * column names) are refused with the line at fault and leave nothing
 * behind. Nothing is deleted: datasets and versions are archived.
 *
 * References: a version is "N" or "latest" under TEAM/NAME; across modules
 * a dataset version is named canonically "dataset:TEAM/NAME@N" (what a
 * model version's "dataset" field holds to link the model to its training
 * data).
 *
 * Read functions return JSON (new references the caller releases); writes
 * check permissions first, then validate their JSON input (unknown fields
 * and wrong types are named), change the store in one transaction and
 * audit it. Every function takes the request context and fills err.
 */
#ifndef MOPS_DATA_DATA_H
#define MOPS_DATA_DATA_H

#include <jansson.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"

/* Limits of a dataset file. */
#define DATA_COLUMNS_MAX 4096      /* columns */
#define DATA_COLUMN_NAME_MAX 256   /* bytes of a column name */

/* ------------------------------------------------------------ references */

typedef struct data_ref {
    char team[65];
    char name[65];
    int64_t version; /* >= 1 */
} data_ref_t;

/* Parse "dataset:TEAM/NAME@N". 0, or MOPS_EINVAL saying what the form is. */
int data_ref_parse(const char *text, data_ref_t *out, mops_err_t *err);

/* Format a reference into buf (at least 160 bytes). */
void data_ref_format(const data_ref_t *ref, char *buf, size_t size);

/* ------------------------------------------------------------ datasets */

/* spec: {"team", "name", "description"?, "tags"?}. *out: the dataset. */
int data_dataset_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                        mops_err_t *err);
/* The dataset with its version count, latest version and suite revision. */
int data_dataset_get(const mops_ctx_t *ctx, const char *team, const char *name, json_t **out,
                     mops_err_t *err);

typedef struct data_dataset_filter {
    const char *team, *tag, *prefix;
    int archived;     /* 0: active only, 1: archived only, -1: both */
    int64_t after_id; /* page token */
    int limit;        /* 1..1000, default 50 */
} data_dataset_filter_t;

/* Datasets the caller may see. *out: {"items", "next_page_token"}. */
int data_dataset_list(const mops_ctx_t *ctx, const data_dataset_filter_t *f, json_t **out,
                      mops_err_t *err);
/* spec: {"description"?, "tags"?} (tags replace). */
int data_dataset_update(const mops_ctx_t *ctx, const char *team, const char *name,
                        const json_t *spec, json_t **out, mops_err_t *err);
int data_dataset_archive(const mops_ctx_t *ctx, const char *team, const char *name,
                         json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ uploads */

typedef struct data_upload data_upload_t;

/* Start receiving a CSV file for team/name (the caller needs
 * dataset.write; the dataset must not be archived). At most max_bytes are
 * accepted. */
int data_upload_begin(const mops_ctx_t *ctx, const char *team, const char *name,
                      int64_t max_bytes, data_upload_t **out, mops_err_t *err);
/* Append the next piece. MOPS_ETOOBIG past max_bytes, MOPS_EIO on a disk
 * error. A malformed file is not an error here: the rest is read and
 * dropped (so an HTTP client gets the answer) and _finish reports it. */
int data_upload_write(data_upload_t *u, const void *p, size_t n, mops_err_t *err);
/* Finish: a malformed file is MOPS_EINVAL naming the line, and nothing is
 * kept (the partial blob is discarded). Otherwise the file is made durable
 * under its hash, its analysis recorded for the team, and *out is
 * {"sha256", "size", "rows", "columns": [{"name", "type", "nullable"}],
 * "pii_suggestions": [{"column", "tag", "matched", "scanned", "reason"}],
 * "already_stored"}. Frees u whatever the result. */
int data_upload_finish(const mops_ctx_t *ctx, data_upload_t *u, json_t **out,
                       mops_err_t *err);
/* Discard an unfinished upload and free u. NULL is a no-op. */
void data_upload_abort(data_upload_t *u);

/* ------------------------------------------------------------ versions */

/* spec: {"sha256" (an upload of this team), "description"?, "source_uri"?,
 *        "tags"?, "schema"?: {"columns": [{"name", "type", "nullable"?}]},
 *        "column_tags"?: {"column": ["pii:email", ...]}}.
 * A declared schema must list the file's columns in order; every value
 * must fit its type and a non-nullable column must have no missing value,
 * else MOPS_EINVAL names the first line at fault. The version records its
 * schema, the changes against the previous version (added, removed,
 * retyped columns), its profile, and column tags: PII found by the scan
 * (state "suggested", enforced at once), tags of same-named columns of the
 * previous version, and column_tags (state "confirmed"). */
int data_version_create(const mops_ctx_t *ctx, const char *team, const char *name,
                        const json_t *spec, json_t **out, mops_err_t *err);
/* ref: a number or "latest". */
int data_version_get(const mops_ctx_t *ctx, const char *team, const char *name,
                     const char *ref, json_t **out, mops_err_t *err);

typedef struct data_version_filter {
    int archived;          /* 0: active only, 1: archived only, -1: both */
    int64_t before_number; /* page token */
    int limit;
} data_version_filter_t;

/* Newest first. *out: {"items", "next_page_token"}. */
int data_version_list(const mops_ctx_t *ctx, const char *team, const char *name,
                      const data_version_filter_t *f, json_t **out, mops_err_t *err);
/* spec: {"description"?, "tags"?}. */
int data_version_update(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *ref, const json_t *spec, json_t **out, mops_err_t *err);
int data_version_archive(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, json_t **out, mops_err_t *err);

/* The version's profile: per column its kind, counts, distinct estimate,
 * and by kind min/max/mean/std, quantiles, histogram or top values, each
 * with its error bound. Values of PII-tagged columns are left out unless
 * the caller holds dataset.download_pii. */
int data_version_profile(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, json_t **out, mops_err_t *err);

/* Schema changes from version `against` (a reference; NULL: the previous
 * version) to `ref`: {"from", "to", "added", "removed", "retyped"}. */
int data_version_diff(const mops_ctx_t *ctx, const char *team, const char *name,
                      const char *ref, const char *against, json_t **out, mops_err_t *err);

/* The first `rows` rows (1..1000) as {"columns", "rows": [[...]], "masked"}:
 * PII-tagged columns are masked ("***") unless the caller holds
 * dataset.download_pii, in which case the export is audited. */
int data_version_sample(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *ref, int64_t rows, json_t **out, mops_err_t *err);

/* Open a version's file for download after checking the caller may
 * (dataset.download; dataset.download_pii instead when a column carries a
 * restricted tag) and that the bytes still hash to the recorded SHA-256
 * (MOPS_ECORRUPT otherwise). Every download is audited, with the
 * restricted columns it carries. The caller owns *fd. */
int data_version_open(const mops_ctx_t *ctx, const char *team, const char *name,
                      const char *ref, int *fd, int64_t *size, char sha256_hex[65],
                      mops_err_t *err);

/* ------------------------------------------------------------ column tags */

/* spec: {"columns": {"email": ["pii:email"], "notes": []}, "approve"?}:
 * the listed columns' tags are replaced and confirmed. Adding tags needs
 * dataset.write; taking a PII or "sensitive" tag away, or approving the use
 * of the listed restricted columns ("approve": true, state "approved",
 * which governance's privacy rule reads), needs dataset.classify; merely
 * confirming takes either. Approvals do not carry over to later versions.
 * *out: the version. */
int data_column_tags_set(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, const json_t *spec, json_t **out, mops_err_t *err);

/* True for the tags that restrict a column: "pii:*" and "sensitive". */
int data_tag_is_restricted(const char *tag);

/* ------------------------------------------------------------ quality suites */

/* spec: {"expectations": [{"expectation_type" (or "type"), "kwargs", "meta"?}],
 * "name"?, "meta"?} — Great Expectations' suite shape. Each expectation is
 * checked (known type, its arguments and their types, a regex that
 * compiles). Replaces the dataset's suite with a new revision. */
int data_suite_set(const mops_ctx_t *ctx, const char *team, const char *name,
                   const json_t *spec, json_t **out, mops_err_t *err);
/* The current suite: {"dataset", "revision", "expectations", ...}. */
int data_suite_get(const mops_ctx_t *ctx, const char *team, const char *name, json_t **out,
                   mops_err_t *err);
/* Validate a version against the current suite, streaming its file once;
 * store and return the result: {"id", "success", "statistics", "results":
 * [{"expectation_config", "success", "result", "exception_info"}], ...},
 * results shaped as Great Expectations' (element_count, missing_count,
 * unexpected_count, unexpected_percent, partial_unexpected_list) plus the
 * failing rows' line numbers (partial_unexpected_lines). */
int data_validation_run(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *ref, json_t **out, mops_err_t *err);
/* Results of a version, newest first: {"items", "next_page_token"}. */
int data_validation_list(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, int64_t before_id, int limit, json_t **out,
                         mops_err_t *err);
int data_validation_get(const mops_ctx_t *ctx, const char *team, const char *name,
                        const char *ref, int64_t id, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ lineage */

/* Provider of a model version's deployments for lineage: the serving
 * module registers one at start-up (server.c). *out: an array of
 * {"name", "status", ..., "predictions": N}; [] when none. */
typedef int (*data_deployments_fn)(const mops_ctx_t *ctx, const char *team, const char *model,
                                   int64_t version, json_t **out, mops_err_t *err);
void data_lineage_set_deployments(data_deployments_fn fn);

/* spec: {"model": "TEAM/MODEL@N", "dataset": "dataset:TEAM/NAME@N",
 * "relation": "validated-on" | "trained-on", "detail"?: {...}}: record
 * that a model version was validated (or trained) on a dataset version.
 * Needs version.write on the model's team and dataset.read on the
 * dataset's. Recording a link twice changes nothing. */
int data_lineage_link(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err);

/* The graph around a dataset version: {"root", "nodes", "edges",
 * "production": [model versions in `stage` (default "production") that
 * were trained or validated on it, with their deployments], "hidden": {...}
 * (links into teams the caller cannot see, counted, not shown)}. */
int data_lineage_dataset(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, const char *stage, json_t **out, mops_err_t *err);
/* The graph around a model version: its training dataset (from the
 * version's "dataset" field), datasets it was validated on, their quality
 * and PII state, its deployments. */
int data_lineage_model(const mops_ctx_t *ctx, const char *team, const char *model,
                       const char *ref, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ seams for other modules */

/* PII-tagged columns of a dataset version: {"dataset", "columns": [{"name",
 * "tags"}]}. Serving masks these features in the prediction log and in
 * exported samples. Needs dataset.read. */
int data_pii_columns(const mops_ctx_t *ctx, const data_ref_t *ref, json_t **out,
                     mops_err_t *err);

/* The PII columns of the datasets a model version was trained on (by its
 * "dataset" field and trained-on links): {"model", "datasets": [{"dataset",
 * "readable", "columns", "approved", "unapproved"}], "columns": [union of
 * names], "unapproved":
 * [those not approved], "has_pii", "has_unapproved_pii", "fingerprint"}.
 * A column's use is approved when a classifier approved its restricted
 * tags on that version (data_column_tags_set with "approve"). fingerprint
 * is a SHA-256 over the datasets and their PII columns, so an approval
 * recorded elsewhere for one set of PII does not cover another. Serving
 * masks "columns" in the prediction log and exported samples. */
int data_model_pii(const mops_ctx_t *ctx, const char *team, const char *model, int64_t version,
                   json_t **out, mops_err_t *err);

/* Governance's "dataset" hook (governance_providers_t.dataset, registered
 * at start-up): the facts of its rule "the training dataset passed its
 * quality suite and holds no unapproved PII", for a model version's
 * "dataset" field: {"dataset", "quality": {"passed", "validated",
 * "success", "current", "suite_revision", "result_id", "validated_at"},
 * "pii_columns": [...], "approved_pii_columns": [...]}. MOPS_EINVAL when
 * the field is not a dataset reference, MOPS_ENOTFOUND when the caller
 * cannot read it. Reads only (it runs inside the caller's transaction);
 * team_id, the model's team, is not needed: the reference names its own. */
int data_governance_dataset(const mops_ctx_t *ctx, int64_t team_id, const char *dataset,
                            json_t **out, mops_err_t *err);

/* The quality state of a dataset version: {"dataset", "suite_revision"
 * (current), "validated" (a result exists), "success" (of the newest
 * result), "current" (that result used the current suite), "result_id",
 * "validated_at"}. Governance's rule "training data passed its quality
 * suite" is `validated && success && current`. */
int data_quality_status(const mops_ctx_t *ctx, const data_ref_t *ref, json_t **out,
                        mops_err_t *err);

/* Mask a value of a restricted column for logs and samples: "***". */
const char *data_pii_mask(const char *tag, const char *value);

/* Load the sketches of a version's profile (stats.h), for monitoring's
 * reference profiles: *out is {"rows", "columns": [{"name", "kind",
 * "sketch": stats_column JSON}]}. Needs dataset.read. */
int data_version_sketches(const mops_ctx_t *ctx, const data_ref_t *ref, json_t **out,
                          mops_err_t *err);

/* Bytes of dataset files (and their profile sketches) per team that
 * uploaded them, for metering storage: {"items": [{"team_id", "team",
 * "bytes"}]}. No permission check. */
int data_storage(const mops_ctx_t *ctx, json_t **out, mops_err_t *err);

#endif
