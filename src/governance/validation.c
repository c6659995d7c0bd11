/*
 * validation.c — validation on holdout data, done by mops so its figures
 * can be trusted: the CSV is streamed to the server, scored with the
 * version's own model by the native runtime, measured with eval.h
 * (overall, per group, fairness gaps) and, once valid, kept in the blob
 * store as evidence; the report is stored with the version and is what
 * validation and fairness rules read.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/csv.h"
#include "core/text.h"
#include "core/time.h"
#include "eval/eval.h"
#include "governance/governance_int.h"
#include "runtime/runtime.h"
#include "store/blob.h"

#define VALIDATION_MAX_ROWS ((size_t)5000000)
#define VALIDATION_MAX_GROUPS 8     /* grouping columns */
#define VALIDATION_MAX_VALUES 100   /* distinct values of a grouping column */
#define VALIDATION_BATCH 4096

/* The file is received into a temporary file (under the blob store's tmp
 * directory, emptied at start-up) and kept in the blob store only once it
 * validated: a refused file leaves nothing behind. */
struct governance_validation {
    int fd;
    char path[4096];
    int64_t size, max;
    registry_version_ref_t v;
    char label[256], name[MOPS_NAME_MAX + 1], positive[256];
    int has_positive;
    size_t ngroups;
    char *groups[VALIDATION_MAX_GROUPS];
};

static void validation_free(governance_validation_t *v)
{
    for (size_t i = 0; i < v->ngroups; i++)
        free(v->groups[i]);
    free(v);
}

void governance_validation_abort(governance_validation_t *v)
{
    if (!v)
        return;
    if (v->fd >= 0)
        close(v->fd);
    if (v->path[0])
        unlink(v->path);
    validation_free(v);
}

static int opts_check(const governance_validation_opts_t *o, governance_validation_t *v,
                      mops_err_t *err)
{
    if (!o->label || !*o->label)
        return mops_err_set(err, MOPS_EINVAL,
                            "query parameter label is required: the column with the true values");
    int rc = mops_text_check("label", o->label, 255, err);
    const char *name = o->name ? o->name : "holdout";
    if (rc != 0 || (rc = mops_name_check("validation name", name, err)) != 0 ||
        (o->positive && (rc = mops_text_check("positive", o->positive, 255, err)) != 0))
        return rc;
    snprintf(v->label, sizeof v->label, "%s", o->label);
    snprintf(v->name, sizeof v->name, "%s", name);
    if (o->positive) {
        snprintf(v->positive, sizeof v->positive, "%s", o->positive);
        v->has_positive = 1;
    }
    if (!o->groups)
        return 0;
    const char *p = o->groups;
    while (rc == 0) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *g = mops_xstrndup(p, n);
        if (!n || (rc = mops_text_check("group", g, 255, err)) != 0)
            rc = rc ? rc : mops_err_set(err, MOPS_EINVAL,
                                        "query parameter group lists columns separated by commas; "
                                        "one is empty");
        else if (!strcmp(g, v->label))
            rc = mops_err_set(err, MOPS_EINVAL, "column %s is the label; it cannot also group",
                              mops_text_show(g));
        else if (v->ngroups == VALIDATION_MAX_GROUPS)
            rc = mops_err_set(err, MOPS_EINVAL, "at most %d grouping columns",
                              VALIDATION_MAX_GROUPS);
        for (size_t i = 0; rc == 0 && i < v->ngroups; i++)
            if (!strcmp(v->groups[i], g))
                rc = mops_err_set(err, MOPS_EINVAL, "group column %s is given twice",
                                  mops_text_show(g));
        if (rc != 0) {
            free(g);
            break;
        }
        v->groups[v->ngroups++] = g;
        if (!comma)
            break;
        p = comma + 1;
    }
    return rc;
}

int governance_validation_begin(const mops_ctx_t *ctx, const char *team, const char *model,
                                const char *ref, const governance_validation_opts_t *opts,
                                int64_t max_bytes, governance_validation_t **out,
                                mops_err_t *err)
{
    registry_version_ref_t ref_v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &ref_v, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_VALIDATION_RUN, ref_v.m.team_id, err)) != 0)
        return rc;
    governance_validation_t *v = mops_xcalloc(1, sizeof *v);
    v->v = ref_v;
    v->fd = -1;
    v->max = max_bytes;
    if ((rc = opts_check(opts, v, err)) != 0) {
        validation_free(v);
        return rc;
    }
    if (strcmp(ref_v.format, "xgboost-json") != 0 && strcmp(ref_v.format, "sklearn-json") != 0)
        rc = mops_err_set(err, MOPS_EINVAL,
                          "%s is stored as %s, which the native runtime does not execute: mops "
                          "validates xgboost-json and sklearn-json versions",
                          gov_target(ctx, &ref_v), ref_v.format);
    else if (ref_v.archived || ref_v.m.archived)
        rc = mops_err_set(err, MOPS_EPRECOND, "%s is archived", gov_target(ctx, &ref_v));
    if (rc == 0) {
        snprintf(v->path, sizeof v->path, "%s/tmp/validation-XXXXXX", ctx->env->artifact_dir);
        if ((v->fd = mkostemp(v->path, O_CLOEXEC)) < 0) {
            rc = mops_err_set(err, MOPS_EIO, "cannot create a temporary file: %s",
                              strerror(errno));
            v->path[0] = '\0';
        }
    }
    if (rc != 0) {
        governance_validation_abort(v);
        return rc;
    }
    *out = v;
    return 0;
}

int governance_validation_write(governance_validation_t *v, const void *p, size_t n,
                                mops_err_t *err)
{
    if (v->size + (int64_t)n > v->max)
        return mops_err_set(err, MOPS_ETOOBIG,
                            "the holdout file is over the limit of %lld bytes (server option "
                            "--max-upload)",
                            (long long)v->max);
    for (const char *c = p; n;) {
        ssize_t w = write(v->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return mops_err_set(err, MOPS_EIO, "cannot keep the holdout file: %s",
                                strerror(errno));
        c += w;
        n -= (size_t)w;
        v->size += w;
    }
    return 0;
}

/* ------------------------------------------------------------ scoring */

/* What scoring the file produced, row by row. */
typedef struct scored {
    size_t n, cap, w;       /* rows, capacity, score columns */
    int classifier;
    int32_t *y_true_c, *y_pred_c;
    double *y_true_r, *y_pred_r, *proba;
    int32_t *group[VALIDATION_MAX_GROUPS];
    /* distinct values of each grouping column, in order of appearance */
    char **values[VALIDATION_MAX_GROUPS];
    size_t nvalues[VALIDATION_MAX_GROUPS];
} scored_t;

static void scored_release(scored_t *s, size_t ngroups)
{
    free(s->y_true_c);
    free(s->y_pred_c);
    free(s->y_true_r);
    free(s->y_pred_r);
    free(s->proba);
    for (size_t g = 0; g < ngroups; g++) {
        free(s->group[g]);
        for (size_t i = 0; i < s->nvalues[g]; i++)
            free(s->values[g][i]);
        free(s->values[g]);
    }
}

static void scored_grow(scored_t *s, size_t ngroups, size_t need)
{
    if (need <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : VALIDATION_BATCH;
    while (cap < need)
        cap *= 2;
    if (s->classifier) {
        s->y_true_c = mops_xrealloc(s->y_true_c, cap * sizeof *s->y_true_c);
        s->y_pred_c = mops_xrealloc(s->y_pred_c, cap * sizeof *s->y_pred_c);
        s->proba = mops_xrealloc(s->proba, cap * s->w * sizeof *s->proba);
    } else {
        s->y_true_r = mops_xrealloc(s->y_true_r, cap * sizeof *s->y_true_r);
        s->y_pred_r = mops_xrealloc(s->y_pred_r, cap * sizeof *s->y_pred_r);
    }
    for (size_t g = 0; g < ngroups; g++)
        s->group[g] = mops_xrealloc(s->group[g], cap * sizeof *s->group[g]);
    s->cap = cap;
}

/* The index of a group value, added when new. */
static int group_index(scored_t *s, size_t g, const char *value, const char *column, size_t line,
                       int32_t *out, mops_err_t *err)
{
    for (size_t i = 0; i < s->nvalues[g]; i++)
        if (!strcmp(s->values[g][i], value)) {
            *out = (int32_t)i;
            return 0;
        }
    if (s->nvalues[g] == VALIDATION_MAX_VALUES)
        return mops_err_set(err, MOPS_EINVAL,
                            "line %zu: column %s has more than %d distinct values: it does not "
                            "group rows",
                            line, mops_text_show(column), VALIDATION_MAX_VALUES);
    if (!mops_utf8_valid(value, strlen(value)))
        return mops_err_set(err, MOPS_EINVAL, "line %zu: column %s holds text that is not UTF-8",
                            line, mops_text_show(column));
    s->values[g] = mops_xrealloc(s->values[g], (s->nvalues[g] + 1) * sizeof *s->values[g]);
    s->values[g][s->nvalues[g]] = mops_xstrdup(value);
    *out = (int32_t)s->nvalues[g]++;
    return 0;
}

/* A label's class index: exact text, else the same number. */
static int class_of(const runtime_model_info_t *mi, const double *numeric, const char *text,
                    size_t len, int32_t *out)
{
    for (size_t c = 0; c < mi->n_classes; c++)
        if (!strcmp(mi->class_labels[c], text)) {
            *out = (int32_t)c;
            return 0;
        }
    double d;
    if (mops_csv_number(text, len, &d) == 0)
        for (size_t c = 0; c < mi->n_classes; c++)
            if (numeric[c] == d) {
                *out = (int32_t)c;
                return 0;
            }
    return -1;
}

/* Where each needed input comes from in the file's header. */
typedef struct layout {
    size_t ncol, label;
    size_t group[VALIDATION_MAX_GROUPS];
    size_t *feature; /* n_features column indices */
} layout_t;

static int find_column(const mops_csv_record_t *h, const char *name, size_t *out, mops_err_t *err)
{
    size_t found = SIZE_MAX;
    for (size_t c = 0; c < h->n; c++)
        if (!strcmp(h->fields[c], name)) {
            if (found != SIZE_MAX)
                return mops_err_set(err, MOPS_EINVAL, "the header names column %s twice",
                                    mops_text_show(name));
            found = c;
        }
    if (found == SIZE_MAX)
        return mops_err_set(err, MOPS_EINVAL, "the holdout file has no column %s",
                            mops_text_show(name));
    *out = found;
    return 0;
}

static int layout_make(const governance_validation_t *v, const runtime_model_info_t *mi,
                       const mops_csv_record_t *h, layout_t *l, mops_err_t *err)
{
    l->ncol = h->n;
    int rc = find_column(h, v->label, &l->label, err);
    for (size_t g = 0; rc == 0 && g < v->ngroups; g++)
        rc = find_column(h, v->groups[g], &l->group[g], err);
    if (rc != 0)
        return rc;
    l->feature = mops_xcalloc(mi->n_features ? mi->n_features : 1, sizeof *l->feature);
    if (mi->feature_names) {
        for (size_t f = 0; rc == 0 && f < mi->n_features; f++)
            if ((rc = find_column(h, mi->feature_names[f], &l->feature[f], err)) != 0)
                mops_err_wrap(err, "feature %zu of the model", f + 1);
        return rc;
    }
    /* No names in the model: the other columns, in order. */
    size_t f = 0;
    for (size_t c = 0; c < h->n; c++) {
        int other = c == l->label;
        for (size_t g = 0; g < v->ngroups; g++)
            other |= c == l->group[g];
        if (other)
            continue;
        if (f < mi->n_features)
            l->feature[f] = c;
        f++;
    }
    if (f != mi->n_features)
        return mops_err_set(err, MOPS_EINVAL,
                            "the model has no feature names and takes %zu features, but the file "
                            "has %zu columns besides the label and groups",
                            mi->n_features, f);
    return 0;
}

/* Score the batch of rows and append the outputs. */
static int score_batch(runtime_model_t *m, const runtime_model_info_t *mi, scored_t *s,
                       const double *rows, size_t n, double *label_out,
                       runtime_scratch_t *scratch, mops_err_t *err)
{
    runtime_predict_opts_t o = RUNTIME_PREDICT_OPTS_INIT;
    size_t base = s->n - n;
    double *value = s->classifier ? s->proba + base * s->w : s->y_pred_r + base;
    int rc = runtime_predict(m, &o, rows, n, mi->n_features, value, scratch, err);
    if (rc == 0 && s->classifier) {
        o.output = RUNTIME_OUTPUT_LABEL;
        rc = runtime_predict(m, &o, rows, n, mi->n_features, label_out, scratch, err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            s->y_pred_c[base + i] = (int32_t)label_out[i];
    }
    return rc;
}

static int score_file(governance_validation_t *v, runtime_model_t *m,
                      const runtime_model_info_t *mi, FILE *f, scored_t *s, mops_err_t *err)
{
    mops_csv_t *csv = mops_csv_open(f, "the holdout file");
    mops_csv_record_t rec;
    layout_t l = {0};
    int rc = mops_csv_next(csv, &rec, err);
    if (rc == 0)
        rc = mops_err_set(err, MOPS_EINVAL, "the holdout file is empty: it needs a header row");
    if (rc < 0 || (rc = layout_make(v, mi, &rec, &l, err)) != 0) {
        mops_csv_close(csv);
        free(l.feature);
        return rc;
    }
    size_t F = mi->n_features;
    double *rows = mops_xmalloc(VALIDATION_BATCH * (F ? F : 1) * sizeof *rows);
    double *labels = mops_xmalloc(VALIDATION_BATCH * sizeof *labels);
    double *numeric = mops_xcalloc(mi->n_classes ? mi->n_classes : 1, sizeof *numeric);
    for (size_t c = 0; c < mi->n_classes; c++)
        if (mops_csv_number(mi->class_labels[c], strlen(mi->class_labels[c]), &numeric[c]) != 0)
            numeric[c] = NAN;
    runtime_scratch_t *scratch = runtime_scratch_new();
    size_t in_batch = 0;
    while ((rc = mops_csv_next(csv, &rec, err)) == 1) {
        if (rec.n != l.ncol) {
            rc = mops_err_set(err, MOPS_EINVAL, "line %zu has %zu fields but the header has %zu",
                              rec.line, rec.n, l.ncol);
            break;
        }
        if (s->n == VALIDATION_MAX_ROWS) {
            rc = mops_err_set(err, MOPS_ETOOBIG, "the holdout file has over %zu rows",
                              VALIDATION_MAX_ROWS);
            break;
        }
        scored_grow(s, v->ngroups, s->n + 1);
        size_t i = s->n;
        const char *lab = rec.fields[l.label];
        double y;
        int miss = mops_csv_number(lab, rec.lens[l.label], &y);
        if (s->classifier) {
            if (class_of(mi, numeric, lab, rec.lens[l.label], &s->y_true_c[i]) != 0) {
                rc = mops_err_set(err, MOPS_EINVAL,
                                  "line %zu: label \"%s\" is not a class of the model (%zu "
                                  "classes: %s%s)",
                                  rec.line, mops_text_show(lab), mi->n_classes,
                                  mi->class_labels[0], mi->n_classes > 1 ? ", ..." : "");
                break;
            }
        } else if (miss != 0) {
            rc = mops_err_set(err, MOPS_EINVAL, "line %zu: label \"%s\" is %s", rec.line,
                              mops_text_show(lab), miss > 0 ? "missing" : "not a number");
            break;
        } else {
            s->y_true_r[i] = y;
        }
        double *row = rows + in_batch * F;
        for (size_t k = 0; rc == 1 && k < F; k++) {
            size_t c = l.feature[k];
            if (mops_csv_number(rec.fields[c], rec.lens[c], &row[k]) < 0)
                rc = mops_err_set(err, MOPS_EINVAL, "line %zu, column %s: \"%s\" is not a number",
                                  rec.line, mops_text_show(mi->feature_names
                                                               ? mi->feature_names[k]
                                                               : "(feature)"),
                                  mops_text_show(rec.fields[c]));
        }
        for (size_t g = 0; rc == 1 && g < v->ngroups; g++) {
            int r2 = group_index(s, g, rec.fields[l.group[g]], v->groups[g], rec.line,
                                 &s->group[g][i], err);
            if (r2 != 0)
                rc = r2;
        }
        if (rc != 1)
            break;
        s->n++;
        if (++in_batch == VALIDATION_BATCH) {
            if ((rc = score_batch(m, mi, s, rows, in_batch, labels, scratch, err)) != 0)
                break;
            rc = 1;
            in_batch = 0;
        }
    }
    if (rc == 0 && in_batch)
        rc = score_batch(m, mi, s, rows, in_batch, labels, scratch, err);
    if (rc == 0 && s->n == 0)
        rc = mops_err_set(err, MOPS_EINVAL, "the holdout file has a header but no rows");
    runtime_scratch_free(scratch);
    free(rows);
    free(labels);
    free(numeric);
    free(l.feature);
    mops_csv_close(csv);
    return rc;
}

/* ------------------------------------------------------------ metrics */

static json_t *group_names(const scored_t *s, size_t g)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->nvalues[g]; i++)
        json_array_append_new(a, json_string(s->values[g][i]));
    return a;
}

/* Metrics overall, per group, and fairness into report. */
static int measure(const governance_validation_t *v, const runtime_model_info_t *mi,
                   const scored_t *s, int positive, json_t *report, mops_err_t *err)
{
    json_t *by_group = json_object(), *fairness = json_object();
    int rc = 0;
    if (s->classifier) {
        eval_class_input_t in = {.n = s->n, .n_classes = mi->n_classes, .y_true = s->y_true_c,
                                 .y_pred = s->y_pred_c, .proba = s->proba, .proba_cols = s->w,
                                 .positive = positive};
        eval_class_metrics_t all;
        if ((rc = eval_classification(&in, &all, err)) == 0)
            json_object_set_new(report, "metrics", eval_class_metrics_json(&all, mi->class_labels));
        eval_class_metrics_release(&all);
        for (size_t g = 0; rc == 0 && g < v->ngroups; g++) {
            size_t k = s->nvalues[g];
            eval_class_metrics_t *per = mops_xcalloc(k ? k : 1, sizeof *per);
            json_t *col = json_object();
            rc = eval_classification_by_group(&in, s->group[g], k, per, err);
            for (size_t i = 0; i < k; i++) {
                if (rc == 0)
                    json_object_set_new(col, s->values[g][i],
                                        eval_class_metrics_json(&per[i], mi->class_labels));
                eval_class_metrics_release(&per[i]);
            }
            free(per);
            json_object_set_new(by_group, v->groups[g], col);
            if (rc == 0 && mi->n_classes == 2) {
                eval_fairness_t fa;
                const char **names = mops_xcalloc(k ? k : 1, sizeof *names);
                for (size_t i = 0; i < k; i++)
                    names[i] = s->values[g][i];
                if ((rc = eval_fairness(s->y_true_c, s->y_pred_c, s->n, positive, s->group[g], k,
                                        &fa, err)) == 0)
                    json_object_set_new(fairness, v->groups[g],
                                        eval_fairness_json(&fa, (const char *const *)names));
                eval_fairness_release(&fa);
                free(names);
            }
        }
    } else {
        eval_reg_metrics_t all;
        if ((rc = eval_regression(s->y_true_r, s->y_pred_r, s->n, &all, err)) == 0)
            json_object_set_new(report, "metrics", eval_reg_metrics_json(&all));
        for (size_t g = 0; rc == 0 && g < v->ngroups; g++) {
            size_t k = s->nvalues[g];
            eval_reg_metrics_t *per = mops_xcalloc(k ? k : 1, sizeof *per);
            json_t *col = json_object();
            if ((rc = eval_regression_by_group(s->y_true_r, s->y_pred_r, s->n, s->group[g], k,
                                               per, err)) == 0)
                for (size_t i = 0; i < k; i++)
                    json_object_set_new(col, s->values[g][i], eval_reg_metrics_json(&per[i]));
            free(per);
            json_object_set_new(by_group, v->groups[g], col);
        }
    }
    json_object_set_new(report, "by_group", by_group);
    json_object_set_new(report, "fairness",
                        s->classifier && mi->n_classes == 2 ? fairness : json_null());
    if (!(s->classifier && mi->n_classes == 2))
        json_decref(fairness);
    return rc;
}

/* ------------------------------------------------------------ finishing */

static int report_store(const mops_ctx_t *ctx, const governance_validation_t *v, json_t *report,
                        const char *sha, int64_t size, int64_t rows, int64_t *id,
                        mops_err_t *err)
{
    json_t *groups = json_array();
    for (size_t g = 0; g < v->ngroups; g++)
        json_array_append_new(groups, json_string(v->groups[g]));
    char *gtext = mops_json_dump(groups), *rtext = mops_json_dump(report);
    int rc = store_begin(ctx->db, err);
    if (rc == 0)
        rc = store_query_int(ctx->db, id, err,
                             "INSERT INTO gov_validations (version_id, team_id, name, data_sha256, "
                             "data_size, label, groups, artifact_sha256, rows, report, created_by, "
                             "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                             "iittitttitIi", v->v.version_id, v->v.m.team_id, v->name, sha, size,
                             v->label, gtext, v->v.sha256, rows, rtext, gov_actor(ctx),
                             mops_now_ms());
    json_t *summary = json_pack("{s:I, s:s, s:s, s:I, s:O}", "id", (json_int_t)*id, "name",
                                v->name, "data_sha256", sha, "rows", (json_int_t)rows, "metrics",
                                json_object_get(report, "metrics"));
    if (rc == 0)
        rc = audit_record(ctx, "validation.create", gov_target(ctx, &v->v), v->v.m.team_id,
                          summary, err);
    if (rc == 0)
        rc = gov_notify(ctx, &v->v, "validation.completed", json_incref(summary), err);
    json_decref(summary);
    json_decref(groups);
    free(gtext);
    free(rtext);
    return gov_tx_end(ctx, rc, err);
}

int governance_validation_finish(const mops_ctx_t *ctx, governance_validation_t *v,
                                 json_t **out, mops_err_t *err)
{
    char sha[STORE_BLOB_SHA_HEX] = "";
    int64_t size = v->size;
    int rc;
    if (size == 0) {
        governance_validation_abort(v);
        return mops_err_set(err, MOPS_EINVAL, "the holdout file is empty");
    }
    runtime_model_t *m = NULL;
    FILE *f = NULL;
    rc = registry_version_model_load(ctx, &v->v, &m, err);
    if (rc == 0 && (lseek(v->fd, 0, SEEK_SET) != 0 || !(f = fdopen(v->fd, "rb"))))
        rc = mops_err_set(err, MOPS_EIO, "cannot read the holdout file back: %s",
                          strerror(errno));
    if (f)
        v->fd = -1; /* the FILE has it now */
    runtime_model_info_t mi = {0};
    scored_t s = {0};
    int positive = 1;
    if (rc == 0) {
        runtime_model_info(m, &mi);
        s.classifier = mi.n_classes > 0;
        s.w = s.classifier ? runtime_output_width(m, RUNTIME_OUTPUT_VALUE) : 1;
        if (!s.classifier && runtime_output_width(m, RUNTIME_OUTPUT_VALUE) != 1)
            rc = mops_err_set(err, MOPS_EINVAL, "the model predicts %zu values per row: "
                                                "validation measures single-output regressors",
                              runtime_output_width(m, RUNTIME_OUTPUT_VALUE));
    }
    if (rc == 0 && v->has_positive) {
        int32_t c = -1;
        if (!s.classifier || mi.n_classes != 2)
            rc = mops_err_set(err, MOPS_EINVAL, "positive is for binary classifiers");
        else if (strcmp(mi.class_labels[0], v->positive) == 0)
            c = 0;
        else if (strcmp(mi.class_labels[1], v->positive) == 0)
            c = 1;
        if (rc == 0 && c < 0)
            rc = mops_err_set(err, MOPS_EINVAL, "positive \"%s\" is not a class (classes: %s, %s)",
                              mops_text_show(v->positive), mi.class_labels[0], mi.class_labels[1]);
        positive = c;
    }
    if (rc == 0)
        rc = score_file(v, m, &mi, f, &s, err);
    if (f)
        fclose(f);
    json_t *report = NULL;
    int64_t id = 0;
    if (rc == 0) {
        json_t *groups = json_array(), *classes = json_null();
        for (size_t g = 0; g < v->ngroups; g++)
            json_array_append_new(groups, json_string(v->groups[g]));
        if (s.classifier) {
            classes = json_array();
            for (size_t c = 0; c < mi.n_classes; c++)
                json_array_append_new(classes, json_string(mi.class_labels[c]));
        }
        report = json_pack(
            "{s:s, s:s, s:s, s:I, s:s, s:o, s:{s:s, s:I, s:I}, s:s, s:s, s:s, s:o, s:o}", "name",
            v->name, "team", v->v.m.team, "model", v->v.m.model, "version",
            (json_int_t)v->v.number, "label", v->label, "groups", groups, "data", "sha256", sha,
            "size", (json_int_t)size, "rows", (json_int_t)s.n, "artifact_sha256", v->v.sha256,
            "kind", s.classifier ? "classifier" : "regressor", "objective", mi.objective,
            "classes", classes, "group_values", json_object());
        for (size_t g = 0; g < v->ngroups; g++)
            json_object_set_new(json_object_get(report, "group_values"), v->groups[g],
                                group_names(&s, g));
        rc = measure(v, &mi, &s, positive, report, err);
    }
    /* Valid: keep the file as evidence, then the report. */
    if (rc == 0 && (rc = store_blob_put_file(ctx->env->artifact_dir, v->path, sha, &size,
                                             err)) == 0) {
        json_object_set_new(json_object_get(report, "data"), "sha256", json_string(sha));
        rc = report_store(ctx, v, report, sha, size, (int64_t)s.n, &id, err);
    }
    scored_release(&s, v->ngroups);
    runtime_model_unref(m);
    governance_validation_abort(v);
    if (rc != 0) {
        json_decref(report);
        return rc;
    }
    json_object_set_new(report, "id", json_integer(id));
    json_object_set_new(report, "created_by", json_string(ctx->who ? ctx->who->user : "system"));
    json_object_set_new(report, "created_at", gov_time_json(mops_now_ms()));
    *out = report;
    return 0;
}

/* ------------------------------------------------------------ reading */

static json_t *row_json(store_stmt_t *s)
{
    json_t *r = gov_json_load(store_col_text(s, 1));
    json_object_set_new(r, "id", json_integer(store_col_int(s, 0)));
    json_object_set_new(r, "created_by",
                        json_string(store_col_is_null(s, 2) ? "system" : store_col_text(s, 2)));
    json_object_set_new(r, "created_at", gov_time_json(store_col_int(s, 3)));
    return r;
}

#define REPORT_COLS "SELECT g.id, g.report, u.name, g.created_at FROM gov_validations g " \
                    "LEFT JOIN users u ON u.id = g.created_by "

int gov_validation_latest(const mops_ctx_t *ctx, int64_t version_id, const char *name,
                          json_t **report, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         REPORT_COLS "WHERE g.version_id = ? AND g.name = ? ORDER BY g.id DESC "
                                     "LIMIT 1",
                         "it", version_id, name);
    if (rc != 0)
        return rc;
    *report = NULL;
    if ((rc = store_step(s, err)) == STORE_ROW)
        *report = row_json(s);
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

int governance_validation_list(const mops_ctx_t *ctx, const char *team, const char *model,
                               const char *ref, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          REPORT_COLS "WHERE g.version_id = ? ORDER BY g.id DESC LIMIT 1000", "i",
                          v.version_id)) != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(items, row_json(s));
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int governance_validation_get(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *ref, int64_t id, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err, REPORT_COLS "WHERE g.id = ? AND g.version_id = ?",
                          "ii", id, v.version_id)) != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW)
        *out = row_json(s);
    store_finalize(s);
    if (rc == STORE_DONE)
        return mops_err_set(err, MOPS_ENOTFOUND, "%s has no validation %lld",
                            gov_target(ctx, &v), (long long)id);
    return rc < 0 ? rc : 0;
}
