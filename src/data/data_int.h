/*
 * data_int.h — private to data/: resolving names to rows with visibility,
 * the single-pass analysis of a CSV file (types, profile sketches, PII
 * scan), value parsing shared by analysis and validation, PII detectors,
 * and small helpers shared by the module's files.
 */
#ifndef MOPS_DATA_INT_H
#define MOPS_DATA_INT_H

#include <stdio.h>

#include "auth/auth.h"
#include "core/csv.h"
#include "core/json.h"
#include "data/data.h"
#include "stats/stats.h"
#include "store/store.h"

#define DATA_TAGS_MAX 32        /* tags of a dataset or version, of a column */
#define DATA_VALUE_SHOWN 64     /* bytes of a value kept to show in messages */

/* ------------------------------------------------------------ rows */

/* A dataset row, resolved from team and dataset names. */
typedef auth_team_object_t dt_dataset_t;

/* Resolve team/name as the caller sees them (MOPS_ENOTFOUND when either is
 * missing or in a team the caller cannot read) and check perm there. */
int dt_dataset_resolve(const mops_ctx_t *ctx, const char *team, const char *name,
                       auth_perm_t perm, dt_dataset_t *out, mops_err_t *err);

/* A version row, from "N" or "latest". */
typedef struct dt_version {
    int64_t id, number;
    int archived;
    char sha256[65];
} dt_version_t;

int dt_version_resolve(const mops_ctx_t *ctx, const dt_dataset_t *d, const char *ref,
                       dt_version_t *out, mops_err_t *err);

/* Resolve team/name (perm checked) and its version ref. */
int dt_resolve(const mops_ctx_t *ctx, const char *team, const char *name, const char *ref,
               auth_perm_t perm, dt_dataset_t *d, dt_version_t *v, mops_err_t *err);

/* Resolve a canonical reference: dataset (perm checked) and version. */
int dt_ref_resolve(const mops_ctx_t *ctx, const data_ref_t *ref, auth_perm_t perm,
                   dt_dataset_t *d, dt_version_t *v, mops_err_t *err);

/* "team/name" or "team/name@N" in the arena, for audit targets. */
const char *dt_target(const mops_ctx_t *ctx, const dt_dataset_t *d, int64_t number);
/* "dataset:team/name@N" in the arena. */
const char *dt_ref_text(const mops_ctx_t *ctx, const dt_dataset_t *d, int64_t number);

/* A dataset's or a version's update {"description"?, "tags"?}: check it
 * (fields, text, tags); apply it to one row of table and its tags, with
 * the audit entry action on target, in one transaction. */
int dt_update_check(const json_t *spec, mops_err_t *err);
int dt_update_apply(const mops_ctx_t *ctx, const char *table, const char *tags_table,
                    const char *tags_col, int64_t id, const json_t *spec, const char *action,
                    const char *target, int64_t team_id, mops_err_t *err);

/* A JSON column (schema, profile, schema_changes) of a version row. */
int dt_version_doc(const mops_ctx_t *ctx, int64_t version_id, const char *column, json_t **out,
                   mops_err_t *err);


/* Check a JSON array of tags of a dataset, a version or a column (their
 * rows are kept with store_tags_replace and read with store_tags_json). */
int dt_tags_check(const json_t *tags, mops_err_t *err);

/* Column tags of a version: {"column": [{"tag", "state", "evidence"}]}. */
int dt_column_tags_json(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                        mops_err_t *err);
/* Names of the version's columns that carry a restricted tag, as a JSON
 * object {"column": ["pii:email", ...]}. */
int dt_restricted_columns(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                          mops_err_t *err);

/* The restricted columns of a version (*pii) and those of them whose use
 * a classifier approved (*approved), as new arrays of names. */
int dt_pii_state(const mops_ctx_t *ctx, int64_t version_id, json_t **pii, json_t **approved,
                 mops_err_t *err);

/* The JSON of one version row. */
int dt_version_json(const mops_ctx_t *ctx, const dt_dataset_t *d, int64_t version_id,
                    json_t **out, mops_err_t *err);

/* Open the blob of a version's file as a stream (verified first). */
int dt_version_stream(const mops_ctx_t *ctx, const char *sha, FILE **out, int64_t *size,
                      mops_err_t *err);

/* Read a whole blob (verified) into a new NUL-terminated heap buffer. */
int dt_blob_read(const mops_ctx_t *ctx, const char *sha, int64_t size, char **out,
                 mops_err_t *err);

/* A fresh unnamed temporary file in the blob store's tmp directory
 * (removed when closed, or by the kernel after a crash). */
FILE *dt_tmpfile(const mops_ctx_t *ctx, mops_err_t *err);

/* ------------------------------------------------------------ values */

/* How CSV text is read as each type; the same rules for inference,
 * declared schemas and validation. Missing values are mops_csv_missing's
 * (empty, NA, N/A, NaN, null, None). */
int dt_parse_int(const char *s, size_t n, int64_t *out);        /* 1: an int64 */
int dt_parse_bool(const char *s, size_t n, int *out);           /* 1: true/false */
int dt_parse_timestamp(const char *s, size_t n, int64_t *ms);   /* 1: ISO 8601 date-time */

/* Check a field's bytes: 0, or a message for the user ("is not valid
 * UTF-8", "holds a NUL byte"). */
const char *dt_text_problem(const char *s, size_t n);

/* The types mops infers and declares, in order of precedence. */
enum { DT_INTEGER = 1, DT_FLOAT = 2, DT_BOOLEAN = 4, DT_TIMESTAMP = 8, DT_ALL = 15 };

/* Does text fit kind? (strings always do) */
int dt_value_fits(const char *s, size_t n, stats_kind_t kind);

/* Numeric view of a value as kind reads it (the number, 0/1, Unix ms);
 * NaN when it has none. */
double dt_value_number(const char *s, size_t n, stats_kind_t kind);

/* ------------------------------------------------------------ analysis */

typedef struct dt_analyzer dt_analyzer_t;

/* One pass over a file's records: header checks, ragged rows, text checks,
 * type evidence per column, profile sketches, PII scan. name names the
 * file in messages. */
dt_analyzer_t *dt_analyzer_new(const char *name);
void dt_analyzer_free(dt_analyzer_t *a);
/* A record, header first; MOPS_EINVAL naming the line when it is bad. */
int dt_analyzer_record(dt_analyzer_t *a, const mops_csv_record_t *rec, mops_err_t *err);
/* *analysis: {"rows", "columns": [{"name", "type", "nullable", "missing",
 * "present", "misfits": {type: {"line", "value"}}, "first_missing_line",
 * "summaries": {type: profile summary, for each type the column fits}}],
 * "pii": [suggestions]}. MOPS_EINVAL for a file without a header. */
int dt_analyzer_finish(dt_analyzer_t *a, json_t **analysis, mops_err_t *err);
/* The sketches as JSON {"rows", "columns": [{"name", "sketch"}]}, written
 * to w a column at a time. */
typedef struct store_blob_writer store_blob_writer_t;
int dt_analyzer_write_sketches(const dt_analyzer_t *a, store_blob_writer_t *w, mops_err_t *err);

/* ------------------------------------------------------------ PII */

enum { PII_EMAIL = 1, PII_PHONE = 2, PII_CARD = 4, PII_NATIONAL_ID = 8, PII_IBAN = 16 };
#define PII_KINDS 5

/* Which detectors a value matches (a bit set of PII_*). */
unsigned dt_pii_detect(const char *s, size_t n);
/* The tag and words for detector i (0..PII_KINDS-1). */
const char *dt_pii_tag(int i);
const char *dt_pii_reason(int i);
/* "pii:name" when a column's name says it holds people's names, else NULL. */
const char *dt_pii_name_hint(const char *column);

/* ------------------------------------------------------------ profiles */

/* Leave the values of restricted columns out of a profile (in place). */
void dt_profile_redact(json_t *profile, const json_t *restricted);

/* The schema of a version as a kind per column index. */
int dt_schema_kinds(const json_t *schema, stats_kind_t *kinds, size_t n, mops_err_t *err);

/* Changes from schema a to schema b: {"added", "removed", "retyped"}. */
json_t *dt_schema_diff(const json_t *a, const json_t *b);

/* ------------------------------------------------------------ suites */

typedef enum dt_xkind {
    X_COLUMN_EXISTS,
    X_NOT_NULL,
    X_BETWEEN,
    X_IN_SET,
    X_UNIQUE,
    X_REGEX,
    X_OF_TYPE,
    X_ROW_COUNT,
    X_MEAN,
} dt_xkind_t;

/* An expectation mops runs: its Great Expectations name, whether it is a
 * column map expectation (per value, with mostly), its kwargs. */
typedef struct dt_xdef {
    const char *name;
    dt_xkind_t kind;
    int map;
    const mops_json_field_t *fields;
} dt_xdef_t;

extern const dt_xdef_t dt_xdefs[]; /* ended by a NULL name */
const dt_xdef_t *dt_xdef_find(const char *name);

/* A type name of Great Expectations' (int64, float, str, bool,
 * datetime64, ...) as ours; MOPS_EINVAL when unknown. */
int dt_type_name(const char *name, stats_kind_t *kind);

/* A min_value/max_value: 0 absent or null, 1 a number, 2 a timestamp
 * (*out in Unix ms). */
int dt_bound(const json_t *v, double *out);

/* Check a suite body and return its normalised expectations (new ref). */
int dt_suite_check(const json_t *spec, json_t **expectations, mops_err_t *err);

/* Target size of one uniqueness partition in memory (64 MiB; tests make
 * it small to exercise the temporary files). */
extern size_t dt_uniq_part_bytes;

/* Run expectations over a version's file; *result is the GE-shaped result
 * (without ids). schema gives the column kinds. */
int dt_validate_stream(const mops_ctx_t *ctx, FILE *f, const char *name, const json_t *schema,
                       int64_t rows, const json_t *expectations, json_t **result,
                       mops_err_t *err);

/* ------------------------------------------------------------ lineage */

/* A model version's training datasets as canonical references (from its
 * registry "dataset" field and trained-on links): a new JSON array of
 * strings. */
int dt_model_training_refs(const mops_ctx_t *ctx, const char *team, const char *model,
                           int64_t version, json_t **out, mops_err_t *err);

#endif
