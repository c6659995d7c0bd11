/*
 * rules.c — alert rules per deployment (metric, comparison, threshold,
 * window, severity) and their evaluator. The monitoring thread calls
 * mon_rules_evaluate after each write-out: for every enabled rule the
 * deployment's report over the rule's window is computed (shared by the
 * rules of one deployment and window), the rule's figure read from it
 * (the worst over the deployment's versions, and over features when the
 * rule names none), and the rule's alert ("rule:ID") fired or resolved
 * through monitor_alert_fire/monitor_alert_resolve, each in its own
 * transaction. A figure the report cannot give (no traffic, no reference
 * profile, no labels yet) leaves the alert as it is.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/log.h"
#include "core/text.h"
#include "core/time.h"
#include "monitor/monitor_int.h"
#include "registry/registry.h"

#define RULES_PER_DEPLOYMENT 100
#define WINDOW_MIN_MS 60000LL
#define WINDOW_MAX_MS (90LL * 86400000)

/* ------------------------------------------------------------ metrics */

typedef enum {
    SCOPE_SERVICE, /* the deployment's service figures */
    SCOPE_DATASET, /* a version's dataset drift */
    SCOPE_FEATURE, /* a drift statistic of one input feature, or the worst */
    SCOPE_OUTPUT,  /* a drift statistic of one output, or the worst */
    SCOPE_PERF,    /* a version's performance from labels */
} scope_t;

typedef struct metric {
    const char *name;
    const char *kind; /* the alert's kind */
    const char *op;   /* the comparison when the rule gives none */
    scope_t scope;
    const char *stat; /* the key read in the report */
} metric_t;

static const metric_t metrics[] = {
    {"drift_share", "drift", ">=", SCOPE_DATASET, "share"},
    {"psi", "drift", ">", SCOPE_FEATURE, "psi"},
    {"wasserstein", "drift", ">", SCOPE_FEATURE, "wasserstein"},
    {"jensen_shannon", "drift", ">", SCOPE_FEATURE, "jensen_shannon"},
    {"ks_p_value", "drift", "<", SCOPE_FEATURE, "ks_p_value"},
    {"chi2_p_value", "drift", "<", SCOPE_FEATURE, "chi2_p_value"},
    {"prediction_psi", "drift", ">", SCOPE_OUTPUT, "psi"},
    {"accuracy", "accuracy", "<", SCOPE_PERF, "accuracy"},
    {"precision", "accuracy", "<", SCOPE_PERF, "precision"},
    {"recall", "accuracy", "<", SCOPE_PERF, "recall"},
    {"f1", "accuracy", "<", SCOPE_PERF, "f1"},
    {"roc_auc", "accuracy", "<", SCOPE_PERF, "roc_auc"},
    {"log_loss", "accuracy", ">", SCOPE_PERF, "log_loss"},
    {"rmse", "accuracy", ">", SCOPE_PERF, "rmse"},
    {"mae", "accuracy", ">", SCOPE_PERF, "mae"},
    {"r2", "accuracy", "<", SCOPE_PERF, "r2"},
    {"error_rate", "errors", ">", SCOPE_SERVICE, "error_rate"},
    {"availability", "availability", "<", SCOPE_SERVICE, "availability"},
    {"latency_p50", "latency", ">", SCOPE_SERVICE, "p50"},
    {"latency_p95", "latency", ">", SCOPE_SERVICE, "p95"},
    {"latency_p99", "latency", ">", SCOPE_SERVICE, "p99"},
    {"requests", "traffic", "<", SCOPE_SERVICE, "requests"},
    {NULL, NULL, NULL, 0, NULL},
};

static const metric_t *metric_find(const char *name)
{
    for (const metric_t *m = metrics; name && m->name; m++)
        if (!strcmp(m->name, name))
            return m;
    return NULL;
}

static const char *const ops[] = {">", ">=", "<", "<=", NULL};
static const char *const severities[] = {"info", "warning", "critical", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static int breaches(double v, const char *op, double threshold)
{
    if (!strcmp(op, ">"))
        return v > threshold;
    if (!strcmp(op, ">="))
        return v >= threshold;
    if (!strcmp(op, "<"))
        return v < threshold;
    return v <= threshold;
}

/* Is a worse than b for a rule comparing with op? */
static int worse(double a, double b, const char *op)
{
    return op[0] == '>' ? a > b : a < b;
}

/* ------------------------------------------------------------ windows as text */

/* "90s" is refused; "15m", "1h", "7d": a whole number and a unit. */
static int window_parse(const char *s, int64_t *ms, mops_err_t *err)
{
    char *end = NULL;
    long long n = s && *s >= '0' && *s <= '9' ? strtoll(s, &end, 10) : -1;
    int64_t unit = 0;
    if (end && !strcmp(end, "m"))
        unit = 60000;
    else if (end && !strcmp(end, "h"))
        unit = 3600000;
    else if (end && !strcmp(end, "d"))
        unit = 86400000;
    if (n <= 0 || !unit || n > WINDOW_MAX_MS / unit || n * unit < WINDOW_MIN_MS)
        return mops_err_set(err, MOPS_EINVAL,
                            "window must be a duration from 1m to 90d such as \"15m\", \"1h\" "
                            "or \"7d\", not \"%s\"",
                            mops_text_show(s ? s : ""));
    *ms = n * unit;
    return 0;
}

static json_t *window_json(int64_t ms)
{
    if (ms % 86400000 == 0)
        return json_sprintf("%lldd", (long long)(ms / 86400000));
    if (ms % 3600000 == 0)
        return json_sprintf("%lldh", (long long)(ms / 3600000));
    return json_sprintf("%lldm", (long long)(ms / 60000));
}

/* ------------------------------------------------------------ rows */

typedef struct rule {
    int64_t id, team_id, deployment_id;
    char name[MOPS_NAME_MAX + 1], deployment[MOPS_NAME_MAX + 1];
    char metric[32], op[3], severity[16];
    char feature[256]; /* "" when none */
    double threshold;
    int64_t window_ms;
    int enabled;
} rule_t;

#define RULE_COLS                                                                                  \
    "SELECT r.id, r.team_id, r.deployment_id, r.name, d.name, r.metric, r.op, r.severity, "        \
    "r.feature, r.threshold, r.window_ms, r.enabled, r.created_at, r.updated_at, "                 \
    "(SELECT max(a.id) FROM monitor_alerts a WHERE a.team_id = r.team_id AND a.state = 'firing' " \
    "AND a.alert_key = 'rule:' || CAST(r.id AS TEXT)) "                                            \
    "FROM monitor_rules r JOIN deployments d ON d.id = r.deployment_id "

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static void rule_read(store_stmt_t *s, rule_t *r)
{
    r->id = store_col_int(s, 0);
    r->team_id = store_col_int(s, 1);
    r->deployment_id = store_col_int(s, 2);
    copy(r->name, sizeof r->name, store_col_text(s, 3));
    copy(r->deployment, sizeof r->deployment, store_col_text(s, 4));
    copy(r->metric, sizeof r->metric, store_col_text(s, 5));
    copy(r->op, sizeof r->op, store_col_text(s, 6));
    copy(r->severity, sizeof r->severity, store_col_text(s, 7));
    copy(r->feature, sizeof r->feature, store_col_is_null(s, 8) ? "" : store_col_text(s, 8));
    r->threshold = store_col_double(s, 9);
    r->window_ms = store_col_int(s, 10);
    r->enabled = store_col_int(s, 11) != 0;
}

static json_t *rule_row_json(store_stmt_t *s)
{
    rule_t r;
    rule_read(s, &r);
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:f, s:o, s:s, s:b, s:o, s:o, s:b, s:o}",
                     "id", (json_int_t)r.id, "name", r.name, "deployment", r.deployment, "metric",
                     r.metric, "feature", *r.feature ? json_string(r.feature) : json_null(), "op",
                     r.op, "threshold", r.threshold, "window", window_json(r.window_ms),
                     "severity", r.severity, "enabled", r.enabled, "created_at",
                     mops_json_time(store_col_int(s, 12)), "updated_at",
                     mops_json_time(store_col_int(s, 13)), "firing", !store_col_is_null(s, 14),
                     "alert",
                     store_col_is_null(s, 14) ? json_null() : json_integer(store_col_int(s, 14)));
}

/* The live rule named name of deployment dep_id: *r filled, and its JSON
 * when out is not NULL. MOPS_ENOTFOUND. */
static int rule_load(const mops_ctx_t *ctx, int64_t dep_id, const char *name, rule_t *r,
                     json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         RULE_COLS "WHERE r.deployment_id = ? AND r.name = ? AND r.deleted_at IS "
                                   "NULL",
                         "it", dep_id, name);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        rule_read(s, r);
        if (out)
            *out = rule_row_json(s);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_ENOTFOUND, "no alert rule named \"%s\"",
                          mops_text_show(name));
    }
    store_finalize(s);
    return rc;
}

static const char *rule_key(const mops_ctx_t *ctx, int64_t id)
{
    return mops_arena_printf(ctx->arena, "rule:%lld", (long long)id);
}

static const char *rule_target(const mops_ctx_t *ctx, const rule_t *r)
{
    return mops_arena_printf(ctx->arena, "%s/%s", r->deployment, r->name);
}

/* ------------------------------------------------------------ validation */

/* Apply spec's fields to r (create: r holds the defaults) and check the
 * result as a whole. */
static int rule_apply(rule_t *r, const json_t *spec, int create, mops_err_t *err)
{
    int rc;
    const char *name = mops_json_str(spec, "name", NULL);
    if (create && (rc = mops_name_check("name", name, err)) != 0)
        return rc;
    if (name)
        copy(r->name, sizeof r->name, name);
    const char *metric = mops_json_str(spec, "metric", NULL);
    if (metric) {
        const metric_t *m = metric_find(metric);
        if (!m) {
            mops_buf_t b = MOPS_BUF_INIT;
            for (const metric_t *k = metrics; k->name; k++)
                mops_buf_printf(&b, "%s%s", k == metrics ? "" : ", ", k->name);
            rc = mops_err_set(err, MOPS_EINVAL, "metric \"%s\" is not one of %s",
                              mops_text_show(metric), b.data);
            mops_buf_release(&b);
            return rc;
        }
        copy(r->metric, sizeof r->metric, metric);
        if (!json_object_get(spec, "op"))
            copy(r->op, sizeof r->op, m->op);
    }
    const json_t *feature = json_object_get(spec, "feature");
    if (feature) {
        const char *f = json_string_value(feature);
        if (f && (rc = mops_text_check("feature", f, 200, err)) != 0)
            return rc;
        if (f && !*f)
            return mops_err_set(err, MOPS_EINVAL, "feature must not be empty (null: every one)");
        copy(r->feature, sizeof r->feature, f);
    }
    const char *op = mops_json_str(spec, "op", NULL);
    if (op && !in_list(op, ops))
        return mops_err_set(err, MOPS_EINVAL, "op must be >, >=, < or <=");
    if (op)
        copy(r->op, sizeof r->op, op);
    const json_t *th = json_object_get(spec, "threshold");
    if (th) {
        r->threshold = json_number_value(th);
        if (!isfinite(r->threshold))
            return mops_err_set(err, MOPS_EINVAL, "threshold must be a finite number");
    }
    const char *window = mops_json_str(spec, "window", NULL);
    if (window && (rc = window_parse(window, &r->window_ms, err)) != 0)
        return rc;
    const char *sev = mops_json_str(spec, "severity", NULL);
    if (sev && !in_list(sev, severities))
        return mops_err_set(err, MOPS_EINVAL, "severity must be info, warning or critical");
    if (sev)
        copy(r->severity, sizeof r->severity, sev);
    const json_t *en = json_object_get(spec, "enabled");
    if (en)
        r->enabled = json_is_true(en);
    const metric_t *m = metric_find(r->metric);
    if (*r->feature && m->scope != SCOPE_FEATURE && m->scope != SCOPE_OUTPUT)
        return mops_err_set(err, MOPS_EINVAL,
                            "feature applies to drift statistics of one feature (psi, "
                            "wasserstein, jensen_shannon, ks_p_value, chi2_p_value, "
                            "prediction_psi), not to %s",
                            r->metric);
    return 0;
}

/* ------------------------------------------------------------ CRUD */

static int rule_judge_now(const mops_ctx_t *ctx, int64_t id);

int monitor_rule_create(const mops_ctx_t *ctx, const char *deployment, const json_t *spec,
                        json_t **out, mops_err_t *err)
{
    static const mops_json_field_t fields[] = {
        {"name", MOPS_JSON_STRING, 1},     {"metric", MOPS_JSON_STRING, 1},
        {"threshold", MOPS_JSON_NUMBER, 1}, {"feature", MOPS_JSON_NULLABLE_STRING, 0},
        {"op", MOPS_JSON_STRING, 0},       {"window", MOPS_JSON_STRING, 0},
        {"severity", MOPS_JSON_STRING, 0}, {"enabled", MOPS_JSON_BOOL, 0},
        {NULL, 0, 0}};
    rule_t r = {.window_ms = 3600000, .enabled = 1};
    copy(r.severity, sizeof r.severity, "warning");
    int rc = mon_deployment_find(ctx, deployment, AUTH_MONITOR_WRITE, &r.team_id,
                                 &r.deployment_id, err);
    if (rc != 0 || (rc = mops_json_check(spec, "request body", fields, err)) != 0 ||
        (rc = rule_apply(&r, spec, 1, err)) != 0)
        return rc;
    copy(r.deployment, sizeof r.deployment, deployment);
    int64_t n = 0;
    if ((rc = store_begin(ctx->db, err)) != 0)
        return rc;
    rc = store_query_int(ctx->db, &n, err,
                         "SELECT count(*) FROM monitor_rules WHERE deployment_id = ? AND "
                         "deleted_at IS NULL",
                         "i", r.deployment_id);
    if (rc == 0 && n >= RULES_PER_DEPLOYMENT)
        rc = mops_err_set(err, MOPS_EPRECOND, "deployment %s has %d alert rules, the most it may",
                          deployment, RULES_PER_DEPLOYMENT);
    if (rc == 0)
        rc = store_query_int(ctx->db, &n, err,
                             "SELECT count(*) FROM monitor_rules WHERE deployment_id = ? AND "
                             "name = ? AND deleted_at IS NULL",
                             "it", r.deployment_id, r.name);
    if (rc == 0 && n)
        rc = mops_err_set(err, MOPS_ECONFLICT, "deployment %s has an alert rule named %s already",
                          deployment, r.name);
    int64_t now = mops_now_ms();
    if (rc == 0)
        rc = store_query_int(ctx->db, &r.id, err,
                             "INSERT INTO monitor_rules (team_id, deployment_id, name, metric, "
                             "feature, op, threshold, window_ms, severity, enabled, created_by, "
                             "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                             "?, ?) RETURNING id",
                             "iittttditiIii", r.team_id, r.deployment_id, r.name, r.metric,
                             *r.feature ? r.feature : NULL, r.op, r.threshold, r.window_ms,
                             r.severity, (int64_t)r.enabled, ctx->who ? ctx->who->user_id : 0,
                             now, now);
    if (rc == 0)
        rc = audit_record(ctx, "alert_rule.create", rule_target(ctx, &r), r.team_id, spec, err);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    rule_judge_now(ctx, r.id);
    return rule_load(ctx, r.deployment_id, r.name, &r, out, err);
}

int monitor_rule_list(const mops_ctx_t *ctx, const char *deployment, json_t **out,
                      mops_err_t *err)
{
    int64_t team_id, dep_id;
    int rc = mon_deployment_find(ctx, deployment, AUTH_MONITOR_READ, &team_id, &dep_id, err);
    if (rc != 0)
        return rc;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          RULE_COLS "WHERE r.deployment_id = ? AND r.deleted_at IS NULL ORDER BY "
                                    "r.name",
                          "i", dep_id)) != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(items, rule_row_json(s));
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int monitor_rule_get(const mops_ctx_t *ctx, const char *deployment, const char *name,
                     json_t **out, mops_err_t *err)
{
    int64_t team_id, dep_id;
    rule_t r;
    int rc = mon_deployment_find(ctx, deployment, AUTH_MONITOR_READ, &team_id, &dep_id, err);
    return rc ? rc : rule_load(ctx, dep_id, name, &r, out, err);
}

int monitor_rule_update(const mops_ctx_t *ctx, const char *deployment, const char *name,
                        const json_t *spec, json_t **out, mops_err_t *err)
{
    static const mops_json_field_t fields[] = {
        {"metric", MOPS_JSON_STRING, 0},   {"threshold", MOPS_JSON_NUMBER, 0},
        {"feature", MOPS_JSON_NULLABLE_STRING, 0}, {"op", MOPS_JSON_STRING, 0},
        {"window", MOPS_JSON_STRING, 0},   {"severity", MOPS_JSON_STRING, 0},
        {"enabled", MOPS_JSON_BOOL, 0},    {NULL, 0, 0}};
    int64_t team_id, dep_id;
    rule_t r;
    int rc = mon_deployment_find(ctx, deployment, AUTH_MONITOR_WRITE, &team_id, &dep_id, err);
    if (rc != 0 || (rc = rule_load(ctx, dep_id, name, &r, NULL, err)) != 0 ||
        (rc = mops_json_check(spec, "request body", fields, err)) != 0 ||
        (rc = rule_apply(&r, spec, 0, err)) != 0 || (rc = store_begin(ctx->db, err)) != 0)
        return rc;
    rc = store_exec(ctx->db, NULL, err,
                    "UPDATE monitor_rules SET metric = ?, feature = ?, op = ?, threshold = ?, "
                    "window_ms = ?, severity = ?, enabled = ?, updated_at = ? WHERE id = ?",
                    "tttditiii", r.metric,
                    *r.feature ? r.feature : NULL, r.op, r.threshold, r.window_ms, r.severity,
                    (int64_t)r.enabled, mops_now_ms(), r.id);
    /* A rule turned off no longer watches: its alert ends now. */
    if (rc == 0 && !r.enabled)
        rc = monitor_alert_resolve(ctx, r.team_id, rule_key(ctx, r.id), NULL, err);
    if (rc == 0)
        rc = audit_record(ctx, "alert_rule.update", rule_target(ctx, &r), r.team_id, spec, err);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        return rc;
    if (r.enabled)
        rule_judge_now(ctx, r.id);
    return rule_load(ctx, dep_id, name, &r, out, err);
}

int monitor_rule_delete(const mops_ctx_t *ctx, const char *deployment, const char *name,
                        mops_err_t *err)
{
    int64_t team_id, dep_id;
    rule_t r;
    int rc = mon_deployment_find(ctx, deployment, AUTH_MONITOR_WRITE, &team_id, &dep_id, err);
    if (rc != 0 || (rc = rule_load(ctx, dep_id, name, &r, NULL, err)) != 0 ||
        (rc = store_begin(ctx->db, err)) != 0)
        return rc;
    int64_t now = mops_now_ms();
    rc = store_exec(ctx->db, NULL, err,
                    "UPDATE monitor_rules SET deleted_at = ?, updated_at = ? WHERE id = ?", "iii",
                    now, now, r.id);
    if (rc == 0)
        rc = monitor_alert_resolve(ctx, r.team_id, rule_key(ctx, r.id), NULL, err);
    if (rc == 0)
        rc = audit_record(ctx, "alert_rule.delete", rule_target(ctx, &r), r.team_id, NULL, err);
    return store_end(ctx->db, rc, err);
}

/* ------------------------------------------------------------ evaluation */

/* What a rule found in a report: the figure, and where. */
typedef struct finding {
    int found;
    double value;
    int version;         /* index into the report's versions, -1: the deployment */
    const char *feature; /* borrowed from the report, or NULL */
} finding_t;

static void consider(finding_t *f, double v, int version, const char *feature, const char *op)
{
    if (!isfinite(v))
        return;
    if (!f->found || worse(v, f->value, op)) {
        f->found = 1;
        f->value = v;
        f->version = version;
        f->feature = feature;
    }
}

static finding_t rule_find(const rule_t *r, const json_t *rep)
{
    const metric_t *m = metric_find(r->metric);
    finding_t f = {.version = -1};
    if (m->scope == SCOPE_SERVICE) {
        const json_t *svc = json_object_get(rep, "service");
        double requests = json_number_value(json_object_get(svc, "requests"));
        if (!strcmp(m->stat, "requests"))
            consider(&f, requests, -1, NULL, r->op);
        else if (!strcmp(m->stat, "error_rate") && requests > 0)
            consider(&f, json_number_value(json_object_get(svc, "errors")) / requests, -1, NULL,
                     r->op);
        else if (!strcmp(m->stat, "availability") && json_is_number(json_object_get(svc, m->stat)))
            consider(&f, json_number_value(json_object_get(svc, m->stat)), -1, NULL, r->op);
        else if (m->stat[0] == 'p' &&
                 json_is_number(json_object_get(json_object_get(svc, "latency_ms"), m->stat)))
            consider(&f,
                     json_number_value(json_object_get(json_object_get(svc, "latency_ms"),
                                                       m->stat)),
                     -1, NULL, r->op);
        return f;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(rep, "versions"), i, v) {
        const json_t *drift = json_object_get(v, "drift");
        if (m->scope == SCOPE_DATASET) {
            const json_t *x = json_object_get(json_object_get(drift, "dataset"), m->stat);
            if (json_is_number(x))
                consider(&f, json_number_value(x), (int)i, NULL, r->op);
        } else if (m->scope == SCOPE_PERF) {
            const json_t *x = json_object_get(
                json_object_get(json_object_get(v, "performance"), "metrics"), m->stat);
            if (json_is_number(x))
                consider(&f, json_number_value(x), (int)i, NULL, r->op);
        } else {
            size_t j;
            json_t *feat;
            json_array_foreach(json_object_get(drift, m->scope == SCOPE_FEATURE ? "features"
                                                                                : "predictions"),
                               j, feat) {
                const char *name = json_string_value(json_object_get(feat, "name"));
                if (*r->feature && (!name || strcmp(name, r->feature)))
                    continue;
                const json_t *x = json_object_get(json_object_get(feat, "stats"), m->stat);
                if (json_is_number(x))
                    consider(&f, json_number_value(x), (int)i, name, r->op);
            }
        }
    }
    return f;
}

/* The model an alert of a rule is about: the version's, or for service
 * figures the deployment's primary's. 0 when not known. */
static int64_t alert_model(const mops_ctx_t *ctx, const rule_t *r, const finding_t *f,
                           const int64_t *vids)
{
    int64_t vid = 0;
    if (f->version >= 0) {
        vid = vids[f->version];
    } else {
        store_stmt_t *s;
        mops_err_t e;
        if (store_query(ctx->db, &s, &e, "SELECT config FROM deployments WHERE id = ?", "i",
                        r->deployment_id) == 0) {
            if (store_step(s, &e) == STORE_ROW) {
                json_t *c = json_loads(store_col_text(s, 0), 0, NULL);
                vid = json_integer_value(
                    json_object_get(json_object_get(c, "primary"), "version_id"));
                json_decref(c);
            }
            store_finalize(s);
        }
    }
    registry_version_ref_t ref;
    return vid && registry_version_ref_by_id(ctx, vid, &ref, NULL) == 0 ? ref.m.model_id : 0;
}

/* Fire or resolve one rule's alert after what its report says. */
static int rule_judge(const mops_ctx_t *ctx, const rule_t *r, const json_t *rep,
                      const int64_t *vids, mops_err_t *err)
{
    finding_t f = rule_find(r, rep);
    if (!f.found)
        return 0; /* nothing to judge on: the alert stays as it is */
    const metric_t *m = metric_find(r->metric);
    const char *key = rule_key(ctx, r->id);
    int rc = store_begin(ctx->db, err);
    if (rc != 0)
        return rc;
    if (!breaches(f.value, r->op, r->threshold)) {
        rc = monitor_alert_resolve(ctx, r->team_id, key, NULL, err);
        return store_end(ctx->db, rc, err);
    }
    const char *version = f.version >= 0
                              ? json_string_value(json_object_get(
                                    json_array_get(json_object_get(rep, "versions"),
                                                   (size_t)f.version),
                                    "version"))
                              : NULL;
    json_t *window = window_json(r->window_ms);
    const char *message = mops_arena_printf(
        ctx->arena, "deployment %s%s%s: %s%s%s is %.4g (%s %g over %s; rule %s)", r->deployment,
        version ? ", version " : "", version ? version : "", r->metric,
        f.feature ? " of " : "", f.feature ? f.feature : "", f.value, r->op, r->threshold,
        json_string_value(window), r->name);
    json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o, s:o}", "rule", r->name,
                               "deployment", r->deployment, "metric", r->metric, "op", r->op,
                               "window", window, "version",
                               version ? json_string(version) : json_null(), "feature",
                               f.feature ? json_string(f.feature) : json_null());
    monitor_alert_t a = {.team_id = r->team_id,
                         .model_id = alert_model(ctx, r, &f, vids),
                         .deployment_id = r->deployment_id,
                         .source = "monitor",
                         .key = key,
                         .kind = m->kind,
                         .severity = r->severity,
                         .message = message,
                         .value = f.value,
                         .threshold = r->threshold,
                         .detail = detail};
    rc = monitor_alert_fire(ctx, &a, NULL, NULL, err);
    json_decref(detail);
    json_decref(window);
    return store_end(ctx->db, rc, err);
}

int mon_rules_evaluate(store_conn_t *db, const mops_env_t *env, int64_t rule_id,
                       const char *request_id, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(db, &s, err,
                         RULE_COLS "WHERE r.enabled = 1 AND r.deleted_at IS NULL AND d.deleted_at "
                                   "IS NULL AND (? = 0 OR r.id = ?) ORDER BY r.deployment_id, "
                                   "r.window_ms, r.id",
                         "ii", rule_id, rule_id);
    if (rc != 0)
        return rc;
    size_t n = 0, cap = 0;
    rule_t *rules = NULL;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rules = mops_xrealloc(rules, cap * sizeof *rules);
        }
        rule_read(s, &rules[n++]);
    }
    store_finalize(s);
    if (rc < 0) {
        free(rules);
        return rc;
    }
    mops_arena_t *arena = mops_arena_new();
    mops_ctx_t ctx = {.db = db, .request_id = request_id ? request_id : "monitor-rules",
                      .arena = arena, .env = env};
    int64_t now = mops_now_ms(), vids[MON_REPORT_VERSIONS];
    json_t *rep = NULL;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const rule_t *r = &rules[i];
        if (!i || r->deployment_id != r[-1].deployment_id || r->window_ms != r[-1].window_ms) {
            json_decref(rep);
            rep = NULL;
            if ((rc = mon_report_build(&ctx, r->deployment_id, r->deployment,
                                       now - r->window_ms, now + 1, 1, &rep, vids, NULL, err)) != 0) {
                mops_warn("monitor: the report of %s for its alert rules: %s", r->deployment,
                          err->msg);
                failed = rc;
                continue;
            }
        }
        if (rep && (rc = rule_judge(&ctx, r, rep, vids, err)) != 0) {
            mops_warn("monitor: alert rule %s of %s: %s", r->name, r->deployment, err->msg);
            failed = rc;
        }
    }
    json_decref(rep);
    mops_arena_free(arena);
    free(rules);
    return failed ? mops_err_set(err, failed, "some alert rules could not be evaluated") : 0;
}

/* A rule just made or changed is judged at once (by the server, not the
 * caller: the alert is the system's), after this server's pending windows
 * are written out. Failures are logged: the thread tries again. */
static int rule_judge_now(const mops_ctx_t *ctx, int64_t id)
{
    mops_err_t e;
    int rc = monitor_flush(ctx->db, &e);
    if (rc == 0)
        rc = mon_rules_evaluate(ctx->db, ctx->env, id, ctx->request_id, &e);
    if (rc != 0)
        mops_warn("monitor: alert rule %lld: %s", (long long)id, e.msg);
    return rc;
}
