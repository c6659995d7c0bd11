/*
 * rules.c — the policy engine: the table of rule kinds, each one entry
 * {name, the keys it takes, parse, evaluate}, and the evaluation of every
 * rule of the applicable policies for a version, with the lifecycle's own
 * checks (an approval before approved, no traffic before retired).
 *
 * A rule evaluates to pass, fail or flag (freshness: a production version
 * due for review; it blocks nothing) with a message and its evidence. A
 * rule whose evidence comes from a module that is not in this server
 * fails, saying so.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "governance/governance_int.h"

#define COMMON_FIELDS                                                                              \
    {"rule", MOPS_JSON_STRING, 1}, {"name", MOPS_JSON_STRING, 0},                                  \
        {"stage", MOPS_JSON_ANY, 0}, {"description", MOPS_JSON_STRING, 0}

static void result_set(gov_result_t *res, gov_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void result_set(gov_result_t *res, gov_status_t st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    res->status = st;
}

/* A provider's module is not in this server: the rule fails, saying so. */
static int unavailable(gov_result_t *res, const char *module, const char *what)
{
    result_set(res, GOV_FAIL, "%s is not available: the %s module is not part of this server",
               what, module);
    res->evidence = gov_unavailable(module);
    return 0;
}

/* b's text into buf (size bytes), cut with "..." when longer; releases b. */
static void buf_out(mops_buf_t *b, char *buf, size_t size)
{
    snprintf(buf, size, "%s", b->data ? b->data : "");
    if (b->len >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
    mops_buf_release(b);
}

/* "risk-officer or admin" from a JSON array of names. */
static void names_text(const json_t *a, const char *sep, char *buf, size_t size)
{
    mops_buf_t b = MOPS_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) mops_buf_printf(&b, "%s%s", i ? sep : "", json_string_value(v));
    buf_out(&b, buf, size);
}

static int array_has(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return 1;
    return 0;
}

/* A non-empty array of strings, each accepted by check (may be NULL). */
static int string_list(const json_t *rule, const char *key, const char *where,
                       int (*check)(const char *s, const char *where, mops_err_t *err),
                       mops_err_t *err)
{
    json_t *a = json_object_get(rule, key);
    if (!json_is_array(a) || !json_array_size(a))
        return mops_err_set(err, MOPS_EINVAL, "%s: \"%s\" must be a non-empty list", where, key);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v))
            return mops_err_set(err, MOPS_EINVAL, "%s: \"%s\" must list strings", where, key);
        int rc = check ? check(json_string_value(v), where, err) : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int positive_number(const json_t *rule, const char *key, const char *where, int integer,
                           double max, mops_err_t *err)
{
    json_t *v = json_object_get(rule, key);
    if (!v)
        return mops_err_set(err, MOPS_EINVAL, "%s: \"%s\" is required", where, key);
    if (integer ? !json_is_integer(v) : !json_is_number(v))
        return mops_err_set(err, MOPS_EINVAL, "%s: \"%s\" must be %s", where, key,
                            integer ? "an integer" : "a number");
    double d = json_number_value(v);
    if (!(d >= (integer ? 1 : 0)) || d > max)
        return mops_err_set(err, MOPS_EINVAL, "%s: \"%s\" must be from %d to %g", where, key,
                            integer ? 1 : 0, max);
    return 0;
}

/* ------------------------------------------------------------ approvals */

static int role_may_approve(const char *role, const char *where, mops_err_t *err)
{
    unsigned bit;
    int rc = auth_role_parse(role, &bit, err);
    if (rc != 0)
        return mops_err_wrap(err, "%s", where);
    auth_membership_t mem = {1, "t", bit};
    auth_principal_t p = {.user = "x", .nteams = 1, .teams = &mem};
    if (!auth_can(&p, AUTH_REVIEW_DECIDE, 1))
        return mops_err_set(err, MOPS_EINVAL,
                            "%s: role %s cannot approve (approving needs the permission "
                            "review.decide)",
                            where, role);
    return 0;
}

static const mops_json_field_t approvals_fields[] = {
    COMMON_FIELDS, {"count", MOPS_JSON_INT, 1}, {"roles", MOPS_JSON_STRING_ARRAY, 1}, {NULL, 0, 0}};

static int approvals_parse(const json_t *rule, const char *where, mops_err_t *err)
{
    int rc = positive_number(rule, "count", where, 1, 20, err);
    return rc ? rc : string_list(rule, "roles", where, role_may_approve, err);
}

static int approvals_eval(gov_eval_t *ev, const json_t *rule, gov_result_t *res, mops_err_t *err)
{
    if (!ev->approvals) {
        int rc = gov_approvals(ev->ctx, ev->v, ev->fingerprint, &ev->approvals, err);
        if (rc != 0)
            return rc;
    }
    json_int_t need = json_integer_value(json_object_get(rule, "count"));
    const json_t *roles = json_object_get(rule, "roles");
    json_t *counted = json_array(), *not_counted = json_array();
    size_t i, j;
    json_t *a, *r;
    json_array_foreach(ev->approvals, i, a) {
        if (strcmp(mops_json_str(a, "decision", ""), "approve") != 0)
            continue;
        const char *user = mops_json_str(a, "user", "");
        int has_role = 0;
        json_array_foreach(json_object_get(a, "roles"), j, r) has_role |=
            array_has(roles, json_string_value(r));
        if (!json_is_true(json_object_get(a, "counts")))
            json_array_append_new(not_counted, json_pack("{s:s, s:s}", "user", user, "why",
                                                         mops_json_str(a, "why", "")));
        else if (!has_role)
            json_array_append_new(not_counted,
                                  json_pack("{s:s, s:s}", "user", user, "why",
                                            "does not hold a role this rule counts"));
        else
            json_array_append_new(counted, json_string(user));
    }
    char who[160], need_roles[160], skipped[200];
    names_text(counted, ", ", who, sizeof who);
    names_text(roles, " or ", need_roles, sizeof need_roles);
    mops_buf_t b = MOPS_BUF_INIT;
    json_array_foreach(not_counted, i, a) mops_buf_printf(
        &b, "%s%s: %s", i ? "; " : "; not counted: ", mops_json_str(a, "user", ""),
        mops_json_str(a, "why", ""));
    buf_out(&b, skipped, sizeof skipped);
    size_t have = json_array_size(counted);
    if ((json_int_t)have >= need)
        result_set(res, GOV_PASS, "%zu of %lld approvals from %s: %s", have, (long long)need,
                   need_roles, who);
    else
        result_set(res, GOV_FAIL, "needs %lld approvals from %s, has %zu%s%s%s%s",
                   (long long)need, need_roles, have, have ? " (" : "", who, have ? ")" : "",
                   skipped);
    res->evidence = json_pack("{s:I, s:O, s:o, s:o}", "required", (json_int_t)need, "roles",
                              roles, "counted", counted, "not_counted", not_counted);
    return 0;
}

/* ------------------------------------------------------------ model card */

static int card_field_check(const char *field, const char *where, mops_err_t *err)
{
    if (gov_card_field_known(field))
        return 0;
    return mops_err_set(err, MOPS_EINVAL, "%s: \"%s\" is not a model card field (fields: %s)",
                        where, mops_text_show(field), gov_card_field_list());
}

static const mops_json_field_t card_fields[] = {
    COMMON_FIELDS, {"fields", MOPS_JSON_STRING_ARRAY, 1}, {NULL, 0, 0}};

static int card_parse(const json_t *rule, const char *where, mops_err_t *err)
{
    return string_list(rule, "fields", where, card_field_check, err);
}

static int card_eval(gov_eval_t *ev, const json_t *rule, gov_result_t *res, mops_err_t *err)
{
    json_t *fields = NULL;
    int rc = gov_card_fields(ev->ctx, ev->v->version_id, &fields, err);
    if (rc != 0)
        return rc;
    json_t *missing = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(rule, "fields"), i, f) {
        const char *val = mops_json_str(fields, json_string_value(f), "");
        while (*val == ' ' || *val == '\n' || *val == '\t')
            val++;
        if (!*val)
            json_array_append(missing, f);
    }
    json_decref(fields);
    char list[300];
    names_text(missing, ", ", list, sizeof list);
    if (json_array_size(missing))
        result_set(res, GOV_FAIL, "the model card lacks %s", list);
    else
        result_set(res, GOV_PASS, "the model card has every required field");
    res->evidence = json_pack("{s:O, s:o}", "required", json_object_get(rule, "fields"),
                              "missing", missing);
    return 0;
}

/* ------------------------------------------------------------ validation */

static const char *const class_metrics[] = {"accuracy", "precision", "recall", "f1", "roc_auc",
                                            "log_loss", NULL};
static const char *const reg_metrics[] = {"rmse", "mae", "r2", NULL};

/* "auc >= 0.80" -> metric, op and value. */
static int threshold_parse(const char *text, const char *where, char metric[32], char op[3],
                           double *value, mops_err_t *err)
{
    char m[32], o[3], rest[64];
    double v;
    int n = sscanf(text, " %31[a-z_0-9] %2[<>=] %lf %63s", m, o, &v, rest);
    if (n != 3 || (strcmp(o, ">=") && strcmp(o, ">") && strcmp(o, "<=") && strcmp(o, "<")) ||
        !isfinite(v))
        return mops_err_set(err, MOPS_EINVAL,
                            "%s: threshold \"%s\" must read METRIC OP NUMBER, e.g. \"auc >= "
                            "0.80\" or \"rmse <= 12\" (OP: >=, >, <=, <)",
                            where, mops_text_show(text));
    if (!strcmp(m, "auc"))
        snprintf(m, sizeof m, "roc_auc");
    int known = 0;
    for (int i = 0; class_metrics[i]; i++)
        known |= !strcmp(class_metrics[i], m);
    for (int i = 0; reg_metrics[i]; i++)
        known |= !strcmp(reg_metrics[i], m);
    if (!known)
        return mops_err_set(err, MOPS_EINVAL,
                            "%s: unknown metric \"%s\" (metrics: accuracy, precision, recall, f1, "
                            "roc_auc or auc, log_loss, rmse, mae, r2)",
                            where, mops_text_show(m));
    snprintf(metric, 32, "%s", m);
    snprintf(op, 3, "%s", o);
    *value = v;
    return 0;
}

static int dataset_name_check(const json_t *rule, const char *where, mops_err_t *err)
{
    const char *d = mops_json_str(rule, "dataset", "holdout");
    int rc = mops_name_check("dataset", d, err);
    return rc ? mops_err_wrap(err, "%s", where) : 0;
}

static const mops_json_field_t validation_fields[] = {
    COMMON_FIELDS, {"dataset", MOPS_JSON_STRING, 0}, {"threshold", MOPS_JSON_STRING, 1},
    {NULL, 0, 0}};

static int validation_parse(const json_t *rule, const char *where, mops_err_t *err)
{
    char metric[32], op[3];
    double v;
    int rc = dataset_name_check(rule, where, err);
    return rc ? rc
              : threshold_parse(mops_json_str(rule, "threshold", ""), where, metric, op, &v, err);
}

/* The validation report a rule refers to, or a failed result saying why
 * there is none (*report NULL). */
static int rule_report(gov_eval_t *ev, const json_t *rule, gov_result_t *res, json_t **report,
                       mops_err_t *err)
{
    const char *name = mops_json_str(rule, "dataset", "holdout");
    int rc = gov_validation_latest(ev->ctx, ev->v->version_id, name, report, err);
    if (rc != 0)
        return rc;
    if (!*report) {
        result_set(res, GOV_FAIL,
                   "no validation named %s: run mops validate %s/%s %lld --data FILE --label "
                   "COLUMN --name %s",
                   name, ev->v->m.team, ev->v->m.model, (long long)ev->v->number, name);
        res->evidence = json_pack("{s:s, s:n}", "dataset", name, "validation");
    } else if (strcmp(mops_json_str(*report, "artifact_sha256", ""), ev->v->sha256) != 0) {
        result_set(res, GOV_FAIL, "validation %s was made on another artifact", name);
        json_decref(*report);
        *report = NULL;
    }
    return 0;
}

static int validation_eval(gov_eval_t *ev, const json_t *rule, gov_result_t *res,
                           mops_err_t *err)
{
    char metric[32], op[3];
    double want;
    json_t *report = NULL;
    int rc = threshold_parse(mops_json_str(rule, "threshold", ""), "rule", metric, op, &want, err);
    if (rc != 0 || (rc = rule_report(ev, rule, res, &report, err)) != 0 || !report)
        return rc;
    const char *name = mops_json_str(rule, "dataset", "holdout");
    json_t *v = json_object_get(json_object_get(report, "metrics"), metric);
    json_int_t id = json_integer_value(json_object_get(report, "id"));
    if (!json_is_number(v)) {
        result_set(res, GOV_FAIL, "validation %s has no value for %s%s", name, metric,
                   json_is_null(v) ? " (undefined on that data)" : "");
    } else {
        double got = json_number_value(v);
        int ok = !strcmp(op, ">=")  ? got >= want
                 : !strcmp(op, ">") ? got > want
                 : !strcmp(op, "<=") ? got <= want
                                     : got < want;
        result_set(res, ok ? GOV_PASS : GOV_FAIL, "%s = %.6g on %s (%lld rows)%s %s %g", metric,
                   got, name,
                   (long long)json_integer_value(
                       json_object_get(json_object_get(report, "data"), "rows")),
                   ok ? "," : ", needs", op, want);
    }
    res->evidence = json_pack("{s:s, s:s, s:s, s:f, s:O, s:I}", "dataset", name, "metric", metric,
                              "op", op, "threshold", want, "value", v ? v : json_null(),
                              "validation_id", id);
    json_decref(report);
    return 0;
}

/* ------------------------------------------------------------ fairness */

static const mops_json_field_t fairness_fields[] = {
    COMMON_FIELDS,
    {"dataset", MOPS_JSON_STRING, 0},
    {"group", MOPS_JSON_STRING, 1},
    {"metric", MOPS_JSON_STRING, 1},
    {"max_gap", MOPS_JSON_NUMBER, 1},
    {NULL, 0, 0}};

static int fairness_parse(const json_t *rule, const char *where, mops_err_t *err)
{
    const char *metric = mops_json_str(rule, "metric", "");
    int rc = dataset_name_check(rule, where, err);
    if (rc == 0 && strcmp(metric, "positive_rate") && strcmp(metric, "tpr"))
        rc = mops_err_set(err, MOPS_EINVAL, "%s: metric \"%s\" must be positive_rate or tpr",
                          where, mops_text_show(metric));
    if (rc == 0 && !*mops_json_str(rule, "group", ""))
        rc = mops_err_set(err, MOPS_EINVAL, "%s: \"group\" names a column", where);
    return rc ? rc : positive_number(rule, "max_gap", where, 0, 1, err);
}

static int fairness_eval(gov_eval_t *ev, const json_t *rule, gov_result_t *res, mops_err_t *err)
{
    json_t *report = NULL;
    int rc = rule_report(ev, rule, res, &report, err);
    if (rc != 0 || !report)
        return rc;
    const char *name = mops_json_str(rule, "dataset", "holdout");
    const char *group = mops_json_str(rule, "group", "");
    const char *metric = mops_json_str(rule, "metric", "");
    double max_gap = json_number_value(json_object_get(rule, "max_gap"));
    json_t *f = json_object_get(json_object_get(json_object_get(report, "fairness"), group),
                                metric);
    json_t *gap = json_object_get(f, "gap");
    if (!f) {
        result_set(res, GOV_FAIL,
                   "validation %s has no %s breakdown by column %s: run it with --group %s%s",
                   name, metric, group, group,
                   json_object_get(report, "fairness") ? "" : " (on a classifier)");
    } else if (!json_is_number(gap)) {
        result_set(res, GOV_FAIL, "the %s gap by %s is undefined on %s (fewer than two groups%s)",
                   metric, group, name, !strcmp(metric, "tpr") ? " with positive rows" : "");
    } else {
        double g = json_number_value(gap);
        int ok = g <= max_gap;
        result_set(res, ok ? GOV_PASS : GOV_FAIL, "%s gap between the groups of %s is %.4g on %s%s %g",
                   metric, group, g, name, ok ? ", at most" : ", over the limit of", max_gap);
    }
    res->evidence = json_pack("{s:s, s:s, s:s, s:f, s:O, s:O}", "dataset", name, "group", group,
                              "metric", metric, "max_gap", max_gap, "by_group",
                              f ? json_object_get(f, "by_group") : json_null(), "validation_id",
                              json_object_get(report, "id"));
    json_decref(report);
    return 0;
}

/* ------------------------------------------------------------ data */

static const mops_json_field_t plain_fields[] = {COMMON_FIELDS, {NULL, 0, 0}};

/* The PII columns of a dataset's facts (the DataOps provider's answer)
 * whose use no classifier approved: a new array. */
static json_t *unapproved_pii(const json_t *facts)
{
    json_t *approved = json_object_get(facts, "approved_pii_columns"), *open = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(facts, "pii_columns"), i, c) if (!array_has(
        approved, json_string_value(c))) json_array_append(open, c);
    return open;
}

static int data_eval(gov_eval_t *ev, const json_t *rule, gov_result_t *res, mops_err_t *err)
{
    (void)rule;
    (void)err;
    const governance_providers_t *p = gov_providers();
    if (!*ev->v->dataset) {
        result_set(res, GOV_FAIL, "the version names no training dataset (set its \"dataset\")");
        return 0;
    }
    if (!p->dataset)
        return unavailable(res, "data", "the training dataset's quality and PII");
    json_t *facts = NULL;
    mops_err_t perr;
    mops_err_clear(&perr);
    if (p->dataset(ev->ctx, ev->v->m.team_id, ev->v->dataset, &facts, &perr) != 0) {
        result_set(res, GOV_FAIL, "the dataset %s cannot be checked: %s",
                   mops_text_show(ev->v->dataset), perr.msg);
        return 0;
    }
    int passed = json_is_true(json_object_get(json_object_get(facts, "quality"), "passed"));
    json_t *open = unapproved_pii(facts);
    char list[200];
    names_text(open, ", ", list, sizeof list);
    if (!passed)
        result_set(res, GOV_FAIL, "the training dataset %s did not pass its quality suite",
                   mops_text_show(ev->v->dataset));
    else if (json_array_size(open))
        result_set(res, GOV_FAIL, "the training dataset holds PII columns not approved: %s",
                   list);
    else
        result_set(res, GOV_PASS, "the training dataset passed its quality suite; no "
                                  "unapproved PII");
    res->evidence = json_pack("{s:s, s:o, s:o}", "dataset", ev->v->dataset, "facts", facts,
                              "unapproved_pii", open);
    return 0;
}

/* ------------------------------------------------------------ operations */

static int monitoring_eval(gov_eval_t *ev, const json_t *rule, gov_result_t *res,
                           mops_err_t *err)
{
    (void)rule;
    (void)err;
    const governance_providers_t *p = gov_providers();
    if (!p->monitoring)
        return unavailable(res, "monitor", "monitoring");
    json_t *facts = gov_version_fact(ev->ctx, p->monitoring, "monitor", ev->v->version_id);
    int ok = json_is_true(json_object_get(facts, "configured"));
    result_set(res, ok ? GOV_PASS : GOV_FAIL, "%s",
               ok ? "monitoring is configured" : "monitoring is not configured for this version");
    res->evidence = facts;
    return 0;
}

static const mops_json_field_t freshness_fields[] = {
    COMMON_FIELDS, {"max_age_days", MOPS_JSON_INT, 1}, {NULL, 0, 0}};

static int freshness_parse(const json_t *rule, const char *where, mops_err_t *err)
{
    json_t *st = json_object_get(rule, "stage");
    if (st && !(json_is_string(st) && !strcmp(json_string_value(st), "production")))
        return mops_err_set(err, MOPS_EINVAL,
                            "%s: a freshness rule watches production versions; give no stage",
                            where);
    return positive_number(rule, "max_age_days", where, 1, 36500, err);
}

/* When v last entered production (0 when it is not there). */
static int production_since(const mops_ctx_t *ctx, const registry_version_ref_t *v, int64_t *since,
                            mops_err_t *err)
{
    *since = 0;
    if (strcmp(v->stage, "production") != 0)
        return 0;
    int rc = store_query_int(ctx->db, since, err,
                             "SELECT COALESCE(max(created_at), 0) FROM gov_transitions WHERE "
                             "version_id = ? AND to_stage = 'production'",
                             "i", v->version_id);
    if (rc == 0 && !*since)
        *since = v->created_at;
    return rc;
}

static int freshness_eval(gov_eval_t *ev, const json_t *rule, gov_result_t *res, mops_err_t *err)
{
    int64_t since;
    int rc = production_since(ev->ctx, ev->v, &since, err);
    if (rc != 0)
        return rc;
    json_int_t max = json_integer_value(json_object_get(rule, "max_age_days"));
    if (!since) {
        result_set(res, GOV_PASS, "not in production");
        return 0;
    }
    double days = (double)(ev->now - since) / 86400000.0;
    if (days > (double)max)
        result_set(res, GOV_FLAG, "in production for %.1f days, over %lld: due for review", days,
                   (long long)max);
    else
        result_set(res, GOV_PASS, "in production for %.1f days (review after %lld)", days,
                   (long long)max);
    res->evidence = json_pack("{s:o, s:f, s:I}", "since", gov_time_json(since), "age_days", days,
                              "max_age_days", (json_int_t)max);
    return 0;
}

/* ------------------------------------------------------------ cost */

static const mops_json_field_t cost_fields[] = {
    COMMON_FIELDS, {"max_per_1k", MOPS_JSON_NUMBER, 1}, {"currency", MOPS_JSON_STRING, 0},
    {NULL, 0, 0}};

static int cost_parse(const json_t *rule, const char *where, mops_err_t *err)
{
    const char *cur = mops_json_str(rule, "currency", "USD");
    if (strlen(cur) != 3 || strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
        return mops_err_set(err, MOPS_EINVAL, "%s: currency must be an ISO 4217 code (USD)",
                            where);
    return positive_number(rule, "max_per_1k", where, 0, 1e12, err);
}

static int cost_eval(gov_eval_t *ev, const json_t *rule, gov_result_t *res, mops_err_t *err)
{
    (void)err;
    const governance_providers_t *p = gov_providers();
    if (!p->cost_per_1k)
        return unavailable(res, "finops", "the projected cost");
    json_t *facts = gov_version_fact(ev->ctx, p->cost_per_1k, "finops", ev->v->version_id);
    double max = json_number_value(json_object_get(rule, "max_per_1k"));
    const char *want = mops_json_str(rule, "currency", "USD");
    json_t *c = json_object_get(facts, "cost_per_1k");
    const char *cur = mops_json_str(facts, "currency", "USD");
    if (!json_is_number(c))
        result_set(res, GOV_FAIL, "no projected cost per 1000 predictions%s%s",
                   json_object_get(facts, "error") ? ": " : "",
                   mops_json_str(facts, "error", ""));
    else if (strcmp(cur, want) != 0)
        result_set(res, GOV_FAIL, "the projected cost is in %s, the limit in %s", cur, want);
    else
        result_set(res, json_number_value(c) <= max ? GOV_PASS : GOV_FAIL,
                   "projected cost %.4g %s per 1000 predictions, limit %g", json_number_value(c),
                   cur, max);
    res->evidence = facts;
    return 0;
}

/* ------------------------------------------------------------ the table */

static const gov_rule_kind_t kinds[] = {
    {"approvals", "N approvals from given roles (the author never counts)", 1, approvals_fields,
     approvals_parse, approvals_eval},
    {"model_card", "required model card fields", 1, card_fields, card_parse, card_eval},
    {"validation", "a metric computed by mops on a named holdout, against a threshold", 1,
     validation_fields, validation_parse, validation_eval},
    {"fairness", "the largest gap of a metric between the groups of a column", 1,
     fairness_fields, fairness_parse, fairness_eval},
    {"data", "the training dataset passed its quality suite and holds no unapproved PII", 1,
     plain_fields, NULL, data_eval},
    {"monitoring", "monitoring is configured", 1, plain_fields, NULL, monitoring_eval},
    {"freshness", "a production version older than N days is flagged for review", 0,
     freshness_fields, freshness_parse, freshness_eval},
    {"cost", "projected cost per 1000 predictions under a limit", 1, cost_fields, cost_parse,
     cost_eval},
};

const gov_rule_kind_t *gov_rule_kind_find(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].name, name))
            return &kinds[i];
    return NULL;
}

json_t *gov_rule_kind_names(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "rule", kinds[i].name, "what",
                                           kinds[i].summary));
    return a;
}

/* ------------------------------------------------------------ approvals */

int gov_approvals(const mops_ctx_t *ctx, const registry_version_ref_t *v, const char *fingerprint,
                  json_t **out, mops_err_t *err)
{
    int64_t review;
    char state[16];
    int rc = gov_review_current(ctx, v->version_id, &review, state, err);
    if (rc != 0)
        return rc;
    json_t *list = json_array();
    if (!review || !strcmp(state, "rejected") || !strcmp(state, "withdrawn")) {
        *out = list;
        return 0;
    }
    store_stmt_t *s;
    /* Each reviewer's latest decision counts, newest first. */
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT u.name, d.actor_id, d.decision, d.roles, d.comment, "
                          "d.created_at, d.artifact_sha256, d.fingerprint FROM gov_decisions d "
                          "JOIN users u ON u.id = d.actor_id WHERE d.review_id = ? AND d.id = "
                          "(SELECT max(e.id) FROM gov_decisions e WHERE e.review_id = d.review_id "
                          "AND e.actor_id = d.actor_id) ORDER BY d.id",
                          "i", review)) != 0) {
        json_decref(list);
        return rc;
    }
    while ((rc = store_step(s, err)) == STORE_ROW) {
        const char *why = "";
        if (store_col_int(s, 1) == v->created_by)
            why = "the author of the version (separation of duties)";
        else if (strcmp(store_col_text(s, 6), v->sha256) != 0)
            why = "the artifact changed after it";
        else if (strcmp(store_col_text(s, 7), fingerprint) != 0)
            why = "the applicable policies changed after it";
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:o, s:s, s:o, s:b, s:s}", "user", store_col_text(s, 0),
                            "decision", store_col_text(s, 2), "roles",
                            gov_json_load(store_col_text(s, 3)), "comment", store_col_text(s, 4),
                            "at", gov_time_json(store_col_int(s, 5)), "counts", !*why, "why",
                            why));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

/* ------------------------------------------------------------ evaluation */

static const char *status_name(gov_status_t s)
{
    return s == GOV_PASS ? "pass" : s == GOV_FAIL ? "fail" : "flag";
}

static json_t *rule_json(const char *policy, json_int_t policy_version, size_t index,
                         const char *name, const char *kind, const json_t *stages,
                         const gov_result_t *res)
{
    return json_pack("{s:s, s:o, s:o, s:s, s:s, s:O, s:s, s:s, s:O}", "policy", policy,
                     "policy_version", policy_version ? json_integer(policy_version) : json_null(),
                     "index", index ? json_integer((json_int_t)index) : json_null(), "name", name,
                     "rule", kind, "stages", stages, "status", status_name(res->status),
                     "message", res->message, "evidence",
                     res->evidence ? res->evidence : json_null());
}

/* Before a version takes traffic, the PII columns of its registered
 * training dataset must have been approved (dataset.classify), whatever
 * the policies say. Versions whose dataset is not a registered one
 * ("dataset:TEAM/NAME@N"), or servers without DataOps, pass with that as
 * their evidence; a dataset the mover cannot read fails (its PII is
 * unknown). */
/* The training datasets of facts (model_pii's) that hold unapproved PII or
 * cannot be read, as "dataset:..." texts, into buf. */
static void pii_datasets_text(const json_t *facts, char *buf, size_t size)
{
    size_t i, o = 0;
    json_t *d;
    buf[0] = '\0';
    json_array_foreach(json_object_get(facts, "datasets"), i, d) {
        int open = !json_is_true(json_object_get(d, "readable")) ||
                   json_array_size(json_object_get(d, "unapproved")) > 0;
        if (open && o < size)
            o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "",
                                  json_string_value(json_object_get(d, "dataset")));
    }
}

/* Staging and production need every PII column of the version's training
 * data (its "dataset" field and trained-on lineage links) approved for use. */
static void privacy_check(gov_eval_t *ev, gov_result_t *res)
{
    const governance_providers_t *p = gov_providers();
    const registry_version_ref_t *v = ev->v;
    if (!p->model_pii) {
        result_set(res, GOV_PASS, "PII not checked: the data module is not part of this server");
        res->evidence = json_pack("{s:s}", "source", "data is not available");
        return;
    }
    json_t *facts = NULL;
    mops_err_t perr;
    mops_err_clear(&perr);
    int rc = p->model_pii(ev->ctx, v->m.team, v->m.model, v->number, &facts, &perr);
    if (rc != 0) {
        result_set(res, GOV_FAIL, "the training data cannot be checked for PII: %s", perr.msg);
        return;
    }
    const json_t *datasets = json_object_get(facts, "datasets");
    if (!json_array_size(datasets)) {
        result_set(res, GOV_PASS, "no registered training dataset to hold PII");
    } else if (json_is_true(json_object_get(facts, "has_unapproved_pii"))) {
        char names[200], which[400];
        names_text(json_object_get(facts, "unapproved"), ", ", names, sizeof names);
        pii_datasets_text(facts, which, sizeof which);
        result_set(res, GOV_FAIL,
                   "the training data %s holds PII columns without a privacy approval "
                   "(dataset.classify)%s%s",
                   which, *names ? ": " : " (or cannot be read to rule it out)", names);
    } else {
        result_set(res, GOV_PASS, "the training data holds no unapproved PII");
    }
    res->evidence = json_pack("{s:O, s:O}", "datasets", datasets, "unapproved_pii",
                              json_object_get(facts, "unapproved"));
    json_decref(facts);
}

/* The lifecycle's own checks on entering target. */
static int builtin_checks(gov_eval_t *ev, const char *target, json_t *rules, mops_err_t *err)
{
    gov_result_t res = {0};
    json_t *stages = json_pack("[s]", target);
    int rc = 0;
    if (!strcmp(target, "approved")) {
        /* approved means someone other than the author approved. */
        if (!ev->approvals && (rc = gov_approvals(ev->ctx, ev->v, ev->fingerprint,
                                                  &ev->approvals, err)) != 0)
            goto out;
        json_t *who = json_array();
        size_t i;
        json_t *a;
        json_array_foreach(ev->approvals, i, a) if (
            json_is_true(json_object_get(a, "counts")) &&
            !strcmp(mops_json_str(a, "decision", ""), "approve"))
            json_array_append_new(who, json_string(mops_json_str(a, "user", "")));
        char list[200];
        names_text(who, ", ", list, sizeof list);
        if (json_array_size(who))
            result_set(&res, GOV_PASS, "approved by %s", list);
        else
            result_set(&res, GOV_FAIL, "needs an approval (review.decide) that counts: none yet");
        res.evidence = json_pack("{s:o}", "approved_by", who);
        json_array_append_new(rules, rule_json("lifecycle", 0, 0, "review", "review", stages,
                                               &res));
    } else if (!strcmp(target, "staging") || !strcmp(target, "production")) {
        privacy_check(ev, &res);
        json_array_append_new(rules, rule_json("lifecycle", 0, 0, "privacy", "privacy", stages,
                                               &res));
    } else if (!strcmp(target, "retired")) {
        const governance_providers_t *p = gov_providers();
        if (!p->traffic) {
            result_set(&res, GOV_PASS,
                       "no traffic: the serve module is not part of this server, so no "
                       "deployment can send the version any");
            res.evidence = json_pack("{s:b, s:s}", "receiving", 0, "source",
                                     "serve is not available");
        } else {
            res.evidence = gov_version_fact(ev->ctx, p->traffic, "serve", ev->v->version_id);
            json_t *recv = json_object_get(res.evidence, "receiving");
            if (json_is_false(recv))
                result_set(&res, GOV_PASS, "the version receives no traffic");
            else
                result_set(&res, GOV_FAIL, "%s",
                           json_is_true(recv)
                               ? "the version still receives traffic: move its deployments first"
                               : "cannot tell whether the version receives traffic");
        }
        json_array_append_new(rules, rule_json("lifecycle", 0, 0, "no-traffic", "traffic",
                                               stages, &res));
    }
out:
    json_decref(res.evidence);
    json_decref(stages);
    return rc;
}

/* Append "[policy#i rule] message" to the failure list. */
static void fail_line(json_t *failed, const json_t *r)
{
    json_int_t idx = json_integer_value(json_object_get(r, "index"));
    char id[200];
    if (idx)
        snprintf(id, sizeof id, "%s#%lld %s", mops_json_str(r, "policy", ""), (long long)idx,
                 mops_json_str(r, "name", ""));
    else
        snprintf(id, sizeof id, "lifecycle %s", mops_json_str(r, "name", ""));
    json_array_append_new(failed, json_pack("{s:s, s:s}", "rule", id, "message",
                                            mops_json_str(r, "message", "")));
}

/* Every failing rule in at most size bytes: with its reason when that
 * fits, else by name only (the evaluation keeps the details). */
static void fail_text(const json_t *failed, char *buf, size_t size)
{
    size_t n = json_array_size(failed);
    for (int full = 1; full >= 0; full--) {
        mops_buf_t b = MOPS_BUF_INIT;
        mops_buf_printf(&b, "%zu rule%s fail%s: ", n, n == 1 ? "" : "s", n == 1 ? "s" : "");
        size_t i;
        json_t *f;
        json_array_foreach(failed, i, f) {
            if (full)
                mops_buf_printf(&b, "%s[%s] %s", i ? "; " : "", mops_json_str(f, "rule", ""),
                                mops_json_str(f, "message", ""));
            else
                mops_buf_printf(&b, "%s[%s]", i ? ", " : "", mops_json_str(f, "rule", ""));
        }
        if (!full)
            mops_buf_puts(&b, " (mops policy check shows why)");
        if (b.len < size || !full) {
            buf_out(&b, buf, size);
            return;
        }
        mops_buf_release(&b);
    }
}

int gov_evaluate(const mops_ctx_t *ctx, const registry_version_ref_t *v, const char *target,
                 json_t **out, int *passed, char *fail_msg, size_t size, mops_err_t *err)
{
    json_t *policies = NULL;
    char fingerprint[65];
    int rc = gov_policies_applicable(ctx, &v->m, &policies, fingerprint, err);
    if (rc != 0)
        return rc;
    gov_eval_t ev = {.ctx = ctx, .v = v, .fingerprint = fingerprint, .now = mops_now_ms()};
    json_t *rules = json_array(), *plist = json_array();
    size_t i, j;
    json_t *p, *r;
    json_array_foreach(policies, i, p) {
        const char *pname = mops_arena_printf(ctx->arena, "%s/%s", mops_json_str(p, "scope", ""),
                                              mops_json_str(p, "name", ""));
        json_int_t pver = json_integer_value(json_object_get(p, "version"));
        json_array_append_new(plist, json_pack("{s:s, s:s, s:I}", "scope",
                                               mops_json_str(p, "scope", ""), "name",
                                               mops_json_str(p, "name", ""), "version", pver));
        json_array_foreach(json_object_get(json_object_get(p, "document"), "rules"), j, r) {
            const json_t *stages = json_object_get(r, "stages");
            const gov_rule_kind_t *k = gov_rule_kind_find(mops_json_str(r, "rule", ""));
            if (target && (!array_has(stages, target) || !k || !k->needs_stage))
                continue;
            gov_result_t res = {0};
            if (!k)
                result_set(&res, GOV_FAIL, "unknown rule \"%s\"", mops_json_str(r, "rule", ""));
            else if ((rc = k->evaluate(&ev, r, &res, err)) != 0) {
                json_decref(res.evidence);
                goto out;
            }
            json_array_append_new(rules, rule_json(pname, pver, j + 1, mops_json_str(r, "name", ""),
                                                   mops_json_str(r, "rule", ""), stages, &res));
            json_decref(res.evidence);
        }
    }
    if (target && (rc = builtin_checks(&ev, target, rules, err)) != 0)
        goto out;
    json_t *failed = json_array(), *flags = json_array();
    json_array_foreach(rules, i, r) {
        const char *st = mops_json_str(r, "status", "");
        if (!strcmp(st, "fail"))
            fail_line(failed, r);
        else if (!strcmp(st, "flag"))
            json_array_append_new(flags, json_pack("{s:s, s:s}", "rule",
                                                   mops_json_str(r, "name", ""), "message",
                                                   mops_json_str(r, "message", "")));
    }
    *passed = json_array_size(failed) == 0;
    if (fail_msg)
        fail_text(failed, fail_msg, size);
    *out = json_pack("{s:o, s:o, s:s, s:o, s:b, s:o, s:o, s:o}", "target",
                     target ? json_string(target) : json_null(), "policies", plist, "fingerprint",
                     fingerprint, "rules", rules, "passed", *passed, "failed", failed, "flags",
                     flags, "at", gov_time_json(ev.now));
    rules = plist = NULL;
out:
    json_decref(rules);
    json_decref(plist);
    json_decref(policies);
    json_decref(ev.approvals);
    return rc;
}

int governance_policy_check(const mops_ctx_t *ctx, const char *team, const char *model,
                            const char *ref, const char *stage, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc != 0)
        return rc;
    if (stage && !gov_stage_gateable(stage) && strcmp(stage, "retired") != 0)
        return mops_err_set(err, MOPS_EINVAL,
                            "stage \"%s\" is not one rules gate (in_review, approved, staging, "
                            "production, retired)",
                            mops_text_show(stage));
    json_t *ev;
    int passed;
    if ((rc = gov_evaluate(ctx, &v, stage, &ev, &passed, NULL, 0, err)) != 0)
        return rc;
    json_object_set_new(ev, "team", json_string(v.m.team));
    json_object_set_new(ev, "model", json_string(v.m.model));
    json_object_set_new(ev, "version", json_integer(v.number));
    json_object_set_new(ev, "stage", json_string(v.stage));
    *out = ev;
    return 0;
}
