/*
 * report.c — compliance reports, for one model or the whole inventory an
 * auditor may read: lineage and versions (the registry's record), stage
 * history, every policy evaluation (allowed and blocked), reviews and
 * approvals, validation and fairness reports, model cards, retirements,
 * the rules as they stand now, excerpts of the audit chain, and the
 * sections other modules feed (deployments, incidents, costs), marked as
 * not available while their module is absent. As JSON, and as one HTML
 * page with no external assets. Generating a report is audited with the
 * SHA-256 of what was produced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/text.h"
#include "core/time.h"
#include "governance/governance_int.h"

/* ------------------------------------------------------------ gathering */

/* Every evaluation of a version, oldest first. */
static int evaluations(const mops_ctx_t *ctx, int64_t version_id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT e.id, e.from_stage, e.to_stage, e.outcome, u.name, e.created_at, "
                         "e.result FROM gov_evaluations e LEFT JOIN users u ON u.id = e.actor_id "
                         "WHERE e.version_id = ? ORDER BY e.id",
                         "i", version_id);
    if (rc != 0)
        return rc;
    json_t *a = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o}", "id",
                         (json_int_t)store_col_int(s, 0), "from", store_col_text(s, 1), "to",
                         store_col_text(s, 2), "outcome", store_col_text(s, 3), "actor",
                         store_col_is_null(s, 4) ? "system" : store_col_text(s, 4), "at",
                         gov_time_json(store_col_int(s, 5)), "result",
                         gov_json_load(store_col_text(s, 6))));
    store_finalize(s);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "seq"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "seq"));
    return x < y ? -1 : x > y;
}

/* Audit entries of the model and its versions, oldest first. */
static json_t *audit_excerpt(const mops_ctx_t *ctx, const registry_model_ref_t *m,
                             const json_t *numbers)
{
    json_t *all = json_array();
    size_t n = json_array_size(numbers) + 1;
    for (size_t i = 0; i < n; i++) {
        const char *target =
            i == 0 ? mops_arena_printf(ctx->arena, "%s/%s", m->team, m->model)
                   : mops_arena_printf(ctx->arena, "%s/%s@%lld", m->team, m->model,
                                       (long long)json_integer_value(json_array_get(numbers,
                                                                                   i - 1)));
        audit_filter_t f = {.target = target, .limit = 1000};
        json_t *got = NULL;
        mops_err_t err;
        if (audit_list(ctx, &f, &got, &err) == 0)
            json_array_extend(all, json_object_get(got, "items"));
        json_decref(got);
    }
    /* By sequence number: the chain's order. */
    size_t k = json_array_size(all);
    json_t **v = mops_xmalloc((k ? k : 1) * sizeof *v);
    for (size_t i = 0; i < k; i++)
        v[i] = json_incref(json_array_get(all, i));
    qsort(v, k, sizeof *v, by_seq);
    json_array_clear(all);
    for (size_t i = 0; i < k; i++)
        json_array_append_new(all, v[i]);
    free(v);
    return all;
}

static int retirement_json(const mops_ctx_t *ctx, const registry_version_ref_t *v, json_t **out,
                           mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT r.reason, rv.number, r.summary, u.name, r.retired_at FROM "
                         "gov_retirements r LEFT JOIN versions rv ON rv.id = "
                         "r.replacement_version_id LEFT JOIN users u ON u.id = r.retired_by "
                         "WHERE r.version_id = ?",
                         "i", v->version_id);
    if (rc != 0)
        return rc;
    *out = json_null();
    if ((rc = store_step(s, err)) == STORE_ROW)
        *out = json_pack("{s:s, s:o, s:o, s:s, s:o}", "reason", store_col_text(s, 0),
                         "replacement",
                         store_col_is_null(s, 1) ? json_null() : json_integer(store_col_int(s, 1)),
                         "summary", gov_json_load(store_col_text(s, 2)), "retired_by",
                         store_col_is_null(s, 3) ? "system" : store_col_text(s, 3), "retired_at",
                         gov_time_json(store_col_int(s, 4)));
    store_finalize(s);
    return rc < 0 ? rc : 0;
}

int governance_retirement_get(const mops_ctx_t *ctx, const char *team, const char *model,
                              const char *ref, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    json_t *r = NULL;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc != 0 || (rc = retirement_json(ctx, &v, &r, err)) != 0)
        return rc;
    if (json_is_null(r))
        return mops_err_set(err, MOPS_ENOTFOUND, "%s is not retired (stage %s)",
                            gov_target(ctx, &v), v.stage);
    json_object_set_new(r, "team", json_string(v.m.team));
    json_object_set_new(r, "model", json_string(v.m.model));
    json_object_set_new(r, "version", json_integer(v.number));
    *out = r;
    return 0;
}

/* Everything about one version. */
static int version_section(const mops_ctx_t *ctx, const registry_version_ref_t *v,
                           const json_t *reg, json_t **out, mops_err_t *err)
{
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)v->number);
    json_t *history = NULL, *evals = NULL, *reviews = NULL, *vals = NULL, *card = NULL,
           *retired = NULL, *now = NULL;
    int passed;
    int rc = governance_transition_list(ctx, v->m.team, v->m.model, ref, &history, err);
    if (rc == 0)
        rc = evaluations(ctx, v->version_id, &evals, err);
    if (rc == 0)
        rc = governance_review_list(ctx, v->m.team, v->m.model, ref, &reviews, err);
    if (rc == 0)
        rc = governance_validation_list(ctx, v->m.team, v->m.model, ref, &vals, err);
    if (rc == 0)
        rc = governance_card_get(ctx, v->m.team, v->m.model, ref, &card, err);
    if (rc == 0)
        rc = retirement_json(ctx, v, &retired, err);
    if (rc == 0)
        rc = gov_evaluate(ctx, v, NULL, &now, &passed, NULL, 0, err);
    if (rc != 0) {
        json_decref(history);
        json_decref(evals);
        json_decref(reviews);
        json_decref(vals);
        json_decref(card);
        json_decref(retired);
        return rc;
    }
    /* Evaluations are listed once, in full; the history refers to them. */
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(history, "items"), i, t) {
        json_t *e = json_object_get(t, "evaluation");
        json_object_set(t, "evaluation_id", json_object_get(e, "id"));
        json_object_del(t, "evaluation");
    }
    const governance_providers_t *p = gov_providers();
    int64_t to = mops_now_ms();
    *out = json_pack(
        "{s:O, s:O, s:o, s:O, s:O, s:O, s:o, s:o, s:o, s:o, s:o}", "registry", reg,
        "stage_history", json_object_get(history, "items"), "evaluations", evals, "reviews",
        json_object_get(reviews, "items"), "current_decisions",
        json_object_get(reviews, "current_decisions"), "validations",
        json_object_get(vals, "items"), "card", json_incref(json_object_get(card, "fields")),
        "retirement", retired, "policy_check", now, "deployments",
        gov_version_fact(ctx, p->deployments, "serve", v->version_id), "operations",
        json_pack("{s:o, s:o, s:o}", "predictions",
                  gov_window(ctx, p->predictions, "finops", v->version_id, v->created_at, to),
                  "incidents",
                  gov_window(ctx, p->incidents, "monitor", v->version_id, v->created_at, to),
                  "costs", gov_window(ctx, p->cost, "finops", v->version_id, v->created_at, to)));
    json_decref(history);
    json_decref(reviews);
    json_decref(vals);
    json_decref(card);
    return 0;
}

/* Everything about one model. */
static int model_section(const mops_ctx_t *ctx, const registry_model_ref_t *m, json_t **out,
                         mops_err_t *err)
{
    json_t *model = NULL, *policies = NULL;
    char fingerprint[65];
    int rc = registry_model_get(ctx, m->team, m->model, &model, err);
    if (rc == 0)
        rc = gov_policies_applicable(ctx, m, &policies, fingerprint, err);
    if (rc != 0) {
        json_decref(model);
        return rc;
    }
    json_t *applied = json_array(), *versions = json_array(), *numbers = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(policies, i, p) json_array_append_new(
        applied, json_pack("{s:O, s:O, s:O, s:O}", "scope", json_object_get(p, "scope"), "name",
                           json_object_get(p, "name"), "version", json_object_get(p, "version"),
                           "description",
                           json_object_get(json_object_get(p, "document"), "description")));
    json_decref(policies);
    registry_version_filter_t f = {.archived = -1, .limit = 1000};
    do {
        json_t *page = NULL, *it;
        if ((rc = registry_version_list(ctx, m->team, m->model, &f, &page, err)) != 0)
            break;
        json_array_foreach(json_object_get(page, "items"), i, it) {
            if (rc != 0)
                break;
            char ref[32];
            json_int_t number = json_integer_value(json_object_get(it, "version"));
            snprintf(ref, sizeof ref, "%lld", (long long)number);
            registry_version_ref_t v;
            json_t *sec = NULL;
            if ((rc = registry_version_resolve(ctx, m->team, m->model, ref, AUTH_MODEL_READ, &v,
                                               err)) == 0 &&
                (rc = version_section(ctx, &v, it, &sec, err)) == 0) {
                json_array_insert_new(versions, 0, sec); /* oldest first */
                json_array_append_new(numbers, json_integer(number));
            }
        }
        json_t *next = json_object_get(page, "next_page_token");
        f.before_number = json_is_string(next) ? atoll(json_string_value(next)) : 0;
        json_decref(page);
    } while (rc == 0 && f.before_number);
    if (rc != 0) {
        json_decref(model);
        json_decref(applied);
        json_decref(versions);
        json_decref(numbers);
        return rc;
    }
    *out = json_pack("{s:o, s:o, s:o, s:o}", "model", model, "policies", applied, "versions",
                     versions, "audit", audit_excerpt(ctx, m, numbers));
    json_decref(numbers);
    return 0;
}

/* Totals over the models of a report. */
static json_t *summary(const json_t *models)
{
    json_int_t nver = 0, prod = 0, retired = 0, flags = 0, blocked = 0;
    size_t i, j, k;
    json_t *m, *v, *e;
    json_array_foreach(models, i, m) json_array_foreach(json_object_get(m, "versions"), j, v)
    {
        const char *stage = mops_json_str(json_object_get(v, "registry"), "stage", "");
        nver++;
        prod += !strcmp(stage, "production");
        retired += !strcmp(stage, "retired");
        flags += (json_int_t)json_array_size(json_object_get(json_object_get(v, "policy_check"),
                                                             "flags"));
        json_array_foreach(json_object_get(v, "evaluations"), k, e) blocked +=
            !strcmp(mops_json_str(e, "outcome", ""), "blocked");
    }
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "models",
                     (json_int_t)json_array_size(models), "versions", nver, "in_production", prod,
                     "retired", retired, "flagged_for_review", flags, "blocked_transitions",
                     blocked);
}

/* Wrap models into a report, digest it, audit its generation. */
static int report_finish(const mops_ctx_t *ctx, const char *kind, const char *target,
                         int64_t team_id, json_t *models, json_t *scope, json_t **out,
                         mops_err_t *err)
{
    int64_t now = mops_now_ms();
    json_t *r = json_pack("{s:s, s:o, s:s, s:o, s:o, s:o}", "kind", kind, "generated_at",
                          gov_time_json(now), "generated_by",
                          ctx->who ? ctx->who->user : "system", "scope", scope, "summary",
                          summary(models), "models", models);
    char *text = mops_json_dump(r), sha[MOPS_SHA256_HEX];
    mops_sha256_hex(text, strlen(text), sha);
    free(text);
    int rc = store_begin(ctx->db, err);
    if (rc == 0) {
        json_t *detail = json_pack("{s:s, s:O, s:s}", "kind", kind, "summary",
                                   json_object_get(r, "summary"), "sha256", sha);
        rc = audit_record(ctx, "report.generate", target, team_id, detail, err);
        json_decref(detail);
    }
    if ((rc = gov_tx_end(ctx, rc, err)) != 0) {
        json_decref(r);
        return rc;
    }
    json_object_set_new(r, "digest",
                        json_pack("{s:s, s:s}", "sha256", sha, "of",
                                  "this report without \"digest\", as compact JSON in this "
                                  "order; recorded in the audit chain (report.generate)"));
    *out = r;
    return 0;
}

int governance_report_model(const mops_ctx_t *ctx, const char *team, const char *model,
                            json_t **out, mops_err_t *err)
{
    registry_model_ref_t m;
    json_t *sec = NULL;
    int rc = registry_model_resolve(ctx, team, model, AUTH_REPORT_READ, &m, err);
    if (rc != 0 || (rc = model_section(ctx, &m, &sec, err)) != 0)
        return rc;
    return report_finish(ctx, "model", mops_arena_printf(ctx->arena, "%s/%s", m.team, m.model),
                         m.team_id, json_pack("[o]", sec),
                         json_pack("{s:s, s:s}", "team", m.team, "model", m.model), out, err);
}

int governance_report_inventory(const mops_ctx_t *ctx, const char *team, json_t **out,
                                mops_err_t *err)
{
    int64_t team_id = 0;
    int rc;
    if (team && ((rc = auth_team_resolve(ctx, team, &team_id, err)) != 0 ||
                 (rc = auth_require(ctx, AUTH_REPORT_READ, team_id, err)) != 0))
        return rc;
    json_t *models = json_array();
    registry_model_filter_t f = {.team = team, .archived = -1, .limit = 1000};
    do {
        json_t *page = NULL, *it;
        size_t i;
        if ((rc = registry_model_list(ctx, &f, &page, err)) != 0)
            break;
        json_array_foreach(json_object_get(page, "items"), i, it) {
            registry_model_ref_t m;
            json_t *sec;
            if (rc != 0)
                break;
            if ((rc = registry_model_resolve(ctx, mops_json_str(it, "team", ""),
                                             mops_json_str(it, "name", ""), AUTH_MODEL_READ, &m,
                                             err)) != 0)
                break;
            if (!auth_can(ctx->who, AUTH_REPORT_READ, m.team_id))
                continue;
            if ((rc = model_section(ctx, &m, &sec, err)) == 0)
                json_array_append_new(models, sec);
        }
        json_t *next = json_object_get(page, "next_page_token");
        f.after_id = json_is_string(next) ? atoll(json_string_value(next)) : 0;
        json_decref(page);
    } while (rc == 0 && f.after_id);
    if (rc != 0) {
        json_decref(models);
        return rc;
    }
    return report_finish(ctx, "inventory", team ? team : "inventory", team_id, models,
                         json_pack("{s:o}", "team", team ? json_string(team) : json_null()), out,
                         err);
}

/* ------------------------------------------------------------ HTML */

static void cell(mops_buf_t *b, const json_t *v)
{
    mops_buf_puts(b, "<td>");
    gov_html_value(b, v);
    mops_buf_puts(b, "</td>");
}

/* A table of the given keys of an array of objects. */
static void table(mops_buf_t *b, const json_t *rows, const char *const *keys,
                  const char *const *titles)
{
    if (!json_array_size(rows)) {
        mops_buf_puts(b, "<p class=\"muted\">None.</p>\n");
        return;
    }
    mops_buf_puts(b, "<table>\n<tr>");
    for (int k = 0; keys[k]; k++)
        mops_buf_printf(b, "<th>%s</th>", titles[k]);
    mops_buf_puts(b, "</tr>\n");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        mops_buf_puts(b, "<tr>");
        for (int k = 0; keys[k]; k++)
            cell(b, json_object_get(r, keys[k]));
        mops_buf_puts(b, "</tr>\n");
    }
    mops_buf_puts(b, "</table>\n");
}

/* A provider-fed section: its data, or why there is none. */
static void provided(mops_buf_t *b, const char *title, const json_t *v)
{
    mops_buf_printf(b, "<h4>%s</h4>\n", title);
    if (json_is_object(v) && json_is_false(json_object_get(v, "available"))) {
        mops_buf_puts(b, "<p class=\"na\">Not available: ");
        gov_html_escape(b, mops_json_str(v, "source", "the module is not part of this server"));
        if (json_object_get(v, "error")) {
            mops_buf_puts(b, " (");
            gov_html_escape(b, mops_json_str(v, "error", ""));
            mops_buf_puts(b, ")");
        }
        mops_buf_puts(b, ".</p>\n");
        return;
    }
    mops_buf_puts(b, "<pre class=\"text\">");
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    gov_html_escape(b, s ? s : "null");
    free(s);
    mops_buf_puts(b, "</pre>\n");
}

static void rules_table(mops_buf_t *b, const json_t *rules)
{
    if (!json_array_size(rules)) {
        mops_buf_puts(b, "<p class=\"muted\">No rule applies.</p>\n");
        return;
    }
    mops_buf_puts(b, "<table>\n<tr><th>policy</th><th>rule</th><th>kind</th><th>stages</th>"
                     "<th>status</th><th>why</th></tr>\n");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        const char *st = mops_json_str(r, "status", "");
        mops_buf_puts(b, "<tr>");
        cell(b, json_object_get(r, "policy"));
        cell(b, json_object_get(r, "name"));
        cell(b, json_object_get(r, "rule"));
        cell(b, json_object_get(r, "stages"));
        mops_buf_printf(b, "<td class=\"%s\">%s</td>",
                        !strcmp(st, "pass") ? "pass" : !strcmp(st, "flag") ? "flag" : "fail",
                        !strcmp(st, "pass") ? "pass" : !strcmp(st, "flag") ? "flag" : "fail");
        cell(b, json_object_get(r, "message"));
        mops_buf_puts(b, "</tr>\n");
    }
    mops_buf_puts(b, "</table>\n");
}

static void metrics_table(mops_buf_t *b, const json_t *m)
{
    static const char *const order[] = {"n", "accuracy", "precision", "recall", "f1", "roc_auc",
                                        "log_loss", "rmse", "mae", "r2", NULL};
    mops_buf_puts(b, "<table><tr>");
    for (int k = 0; order[k]; k++)
        if (json_object_get(m, order[k]))
            mops_buf_printf(b, "<th>%s</th>", order[k]);
    mops_buf_puts(b, "</tr><tr>");
    for (int k = 0; order[k]; k++)
        if (json_object_get(m, order[k]))
            cell(b, json_object_get(m, order[k]));
    mops_buf_puts(b, "</tr></table>\n");
}

static void version_html(mops_buf_t *b, const json_t *v)
{
    const json_t *reg = json_object_get(v, "registry");
    mops_buf_printf(b, "<h3>Version %lld <span class=\"muted\">(",
                    (long long)json_integer_value(json_object_get(reg, "version")));
    gov_html_escape(b, mops_json_str(reg, "stage", ""));
    mops_buf_puts(b, ")</span></h3>\n<table>\n");
    static const char *const facts[][2] = {
        {"format", "Format"},          {"framework", "Framework"},
        {"framework_version", "Framework version"}, {"created_by", "Author"},
        {"created_at", "Created"},     {"dataset", "Training dataset"},
        {"description", "Description"}};
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        mops_buf_printf(b, "<tr><th>%s</th>", facts[i][1]);
        cell(b, json_object_get(reg, facts[i][0]));
        mops_buf_puts(b, "</tr>\n");
    }
    const json_t *art = json_object_get(reg, "artifact");
    mops_buf_puts(b, "<tr><th>Artifact</th><td><code>sha256:");
    gov_html_escape(b, mops_json_str(art, "sha256", ""));
    mops_buf_puts(b, "</code></td></tr>\n");
    static const char *const lineage[][2] = {{"source", "Source"},
                                             {"params", "Parameters"},
                                             {"metrics", "Training metrics (declared)"},
                                             {"environment", "Environment"}};
    for (size_t i = 0; i < sizeof lineage / sizeof lineage[0]; i++) {
        mops_buf_printf(b, "<tr><th>%s</th>", lineage[i][1]);
        cell(b, json_object_get(reg, lineage[i][0]));
        mops_buf_puts(b, "</tr>\n");
    }
    mops_buf_puts(b, "</table>\n<h4>Stage history</h4>\n");
    static const char *const hk[] = {"at", "from", "to", "actor", "reason", "evaluation_id", NULL};
    static const char *const ht[] = {"when", "from", "to", "who", "why", "evaluation"};
    table(b, json_object_get(v, "stage_history"), hk, ht);
    mops_buf_puts(b, "<h4>Policy evaluations</h4>\n");
    size_t i;
    json_t *e;
    if (!json_array_size(json_object_get(v, "evaluations")))
        mops_buf_puts(b, "<p class=\"muted\">None.</p>\n");
    json_array_foreach(json_object_get(v, "evaluations"), i, e) {
        mops_buf_printf(b, "<p>Evaluation %lld: ",
                        (long long)json_integer_value(json_object_get(e, "id")));
        gov_html_escape(b, mops_json_str(e, "from", ""));
        mops_buf_puts(b, " &rarr; ");
        gov_html_escape(b, mops_json_str(e, "to", ""));
        mops_buf_printf(b, ", <span class=\"%s\">%s</span>, by ",
                        !strcmp(mops_json_str(e, "outcome", ""), "allowed") ? "pass" : "fail",
                        !strcmp(mops_json_str(e, "outcome", ""), "allowed") ? "allowed"
                                                                           : "blocked");
        gov_html_escape(b, mops_json_str(e, "actor", ""));
        mops_buf_puts(b, " at ");
        gov_html_escape(b, mops_json_str(e, "at", ""));
        mops_buf_puts(b, "</p>\n");
        rules_table(b, json_object_get(json_object_get(e, "result"), "rules"));
    }
    mops_buf_puts(b, "<h4>Reviews</h4>\n");
    json_t *r;
    if (!json_array_size(json_object_get(v, "reviews")))
        mops_buf_puts(b, "<p class=\"muted\">None.</p>\n");
    json_array_foreach(json_object_get(v, "reviews"), i, r) {
        mops_buf_printf(b, "<p>Review %lld, ", (long long)json_integer_value(json_object_get(r, "id")));
        gov_html_escape(b, mops_json_str(r, "state", ""));
        mops_buf_puts(b, ": requested by ");
        gov_html_escape(b, mops_json_str(r, "requested_by", ""));
        mops_buf_puts(b, " at ");
        gov_html_escape(b, mops_json_str(r, "requested_at", ""));
        mops_buf_puts(b, "</p>\n");
        static const char *const dk[] = {"at", "user", "decision", "roles", "comment",
                                         "same_artifact", "same_policies", NULL};
        static const char *const dt[] = {"when", "who", "decision", "roles", "comment",
                                         "same artifact now", "same policies now"};
        table(b, json_object_get(r, "decisions"), dk, dt);
    }
    mops_buf_puts(b, "<h4>Validation and fairness</h4>\n");
    if (!json_array_size(json_object_get(v, "validations")))
        mops_buf_puts(b, "<p class=\"muted\">None.</p>\n");
    json_array_foreach(json_object_get(v, "validations"), i, r) {
        mops_buf_printf(b, "<p>Validation %lld &ldquo;",
                        (long long)json_integer_value(json_object_get(r, "id")));
        gov_html_escape(b, mops_json_str(r, "name", ""));
        mops_buf_printf(b, "&rdquo; on %lld rows of <code>sha256:",
                        (long long)json_integer_value(
                            json_object_get(json_object_get(r, "data"), "rows")));
        gov_html_escape(b, mops_json_str(json_object_get(r, "data"), "sha256", ""));
        mops_buf_puts(b, "</code>, by ");
        gov_html_escape(b, mops_json_str(r, "created_by", ""));
        mops_buf_puts(b, " at ");
        gov_html_escape(b, mops_json_str(r, "created_at", ""));
        mops_buf_puts(b, "</p>\n");
        metrics_table(b, json_object_get(r, "metrics"));
        const char *col;
        json_t *fa;
        json_object_foreach(json_object_get(r, "fairness"), col, fa) {
            mops_buf_puts(b, "<p>Fairness by ");
            gov_html_escape(b, col);
            mops_buf_puts(b, ": positive rate gap ");
            gov_html_value(b, json_object_get(json_object_get(fa, "positive_rate"), "gap"));
            mops_buf_puts(b, ", TPR gap ");
            gov_html_value(b, json_object_get(json_object_get(fa, "tpr"), "gap"));
            mops_buf_puts(b, "; positive rate by group ");
            gov_html_value(b, json_object_get(json_object_get(fa, "positive_rate"), "by_group"));
            mops_buf_puts(b, "</p>\n");
        }
    }
    mops_buf_puts(b, "<h4>Model card</h4>\n<table>\n");
    const char *k;
    json_t *val;
    json_object_foreach(json_object_get(v, "card"), k, val) {
        mops_buf_puts(b, "<tr><th>");
        gov_html_escape(b, k);
        mops_buf_puts(b, "</th><td class=\"text\">");
        gov_html_value(b, val);
        mops_buf_puts(b, "</td></tr>\n");
    }
    mops_buf_puts(b, "</table>\n<h4>Rules now</h4>\n");
    rules_table(b, json_object_get(json_object_get(v, "policy_check"), "rules"));
    const json_t *ret = json_object_get(v, "retirement");
    if (json_is_object(ret)) {
        mops_buf_puts(b, "<h4>Retirement</h4>\n<table>\n<tr><th>Reason</th>");
        cell(b, json_object_get(ret, "reason"));
        mops_buf_puts(b, "</tr>\n<tr><th>Replaced by version</th>");
        cell(b, json_object_get(ret, "replacement"));
        mops_buf_puts(b, "</tr>\n<tr><th>Retired</th>");
        cell(b, json_object_get(ret, "retired_at"));
        mops_buf_puts(b, "</tr>\n<tr><th>By</th>");
        cell(b, json_object_get(ret, "retired_by"));
        mops_buf_puts(b, "</tr>\n</table>\n");
        provided(b, "Post-retirement summary", json_object_get(ret, "summary"));
    }
    provided(b, "Deployments", json_object_get(v, "deployments"));
    const json_t *ops = json_object_get(v, "operations");
    provided(b, "Predictions", json_object_get(ops, "predictions"));
    provided(b, "Incidents from monitoring", json_object_get(ops, "incidents"));
    provided(b, "Costs", json_object_get(ops, "costs"));
}

char *governance_report_html(const json_t *report)
{
    mops_buf_t b = MOPS_BUF_INIT;
    const json_t *scope = json_object_get(report, "scope");
    char *title = !strcmp(mops_json_str(report, "kind", ""), "model")
                      ? mops_xasprintf("Compliance report: %s/%s", mops_json_str(scope, "team", ""),
                                       mops_json_str(scope, "model", ""))
                      : mops_xasprintf("Compliance report: %s",
                                       json_is_string(json_object_get(scope, "team"))
                                           ? mops_json_str(scope, "team", "")
                                           : "model inventory");
    gov_html_begin(&b, title);
    mops_buf_puts(&b, "<h1>");
    gov_html_escape(&b, title);
    free(title);
    mops_buf_puts(&b, "</h1>\n<p>Generated by ");
    gov_html_escape(&b, mops_json_str(report, "generated_by", ""));
    mops_buf_puts(&b, " at ");
    gov_html_escape(&b, mops_json_str(report, "generated_at", ""));
    mops_buf_puts(&b, ". SHA-256 of this report's JSON form: <code>");
    gov_html_escape(&b, mops_json_str(json_object_get(report, "digest"), "sha256", ""));
    mops_buf_puts(&b, "</code> (recorded in the audit chain).</p>\n<h2>Summary</h2>\n<table>\n");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(report, "summary"), k, v) {
        mops_buf_puts(&b, "<tr><th>");
        gov_html_escape(&b, k);
        mops_buf_puts(&b, "</th>");
        cell(&b, v);
        mops_buf_puts(&b, "</tr>\n");
    }
    mops_buf_puts(&b, "</table>\n");
    size_t i, j;
    json_t *m, *ver;
    json_array_foreach(json_object_get(report, "models"), i, m) {
        const json_t *model = json_object_get(m, "model");
        mops_buf_puts(&b, "<h2>Model ");
        gov_html_escape(&b, mops_json_str(model, "team", ""));
        mops_buf_putc(&b, '/');
        gov_html_escape(&b, mops_json_str(model, "name", ""));
        mops_buf_puts(&b, "</h2>\n<table>\n");
        static const char *const facts[][2] = {
            {"owner", "Owner"},       {"risk_tier", "Risk tier"}, {"purpose", "Purpose"},
            {"description", "Description"}, {"tags", "Tags"},   {"created_by", "Registered by"},
            {"created_at", "Registered"}, {"archived", "Archived"}};
        for (size_t f = 0; f < sizeof facts / sizeof facts[0]; f++) {
            mops_buf_printf(&b, "<tr><th>%s</th>", facts[f][1]);
            cell(&b, json_object_get(model, facts[f][0]));
            mops_buf_puts(&b, "</tr>\n");
        }
        mops_buf_puts(&b, "</table>\n<h3>Policies that apply</h3>\n");
        static const char *const pk[] = {"scope", "name", "version", "description", NULL};
        static const char *const pt[] = {"scope", "name", "version", "description"};
        table(&b, json_object_get(m, "policies"), pk, pt);
        json_array_foreach(json_object_get(m, "versions"), j, ver) version_html(&b, ver);
        mops_buf_puts(&b, "<h3>Audit trail (excerpt)</h3>\n");
        const json_t *audit = json_object_get(m, "audit");
        if (!json_array_size(audit))
            mops_buf_puts(&b, "<p class=\"muted\">None.</p>\n");
        else {
            mops_buf_puts(&b, "<table>\n<tr><th>seq</th><th>time</th><th>actor</th>"
                              "<th>action</th><th>target</th><th>outcome</th><th>hash</th></tr>\n");
            json_t *e;
            json_array_foreach(audit, j, e) {
                mops_buf_puts(&b, "<tr>");
                cell(&b, json_object_get(e, "seq"));
                cell(&b, json_object_get(e, "time"));
                cell(&b, json_object_get(e, "actor"));
                cell(&b, json_object_get(e, "action"));
                cell(&b, json_object_get(e, "target"));
                cell(&b, json_object_get(e, "outcome"));
                mops_buf_puts(&b, "<td><code>");
                gov_html_escape(&b, mops_json_str(e, "hash", ""));
                mops_buf_puts(&b, "</code></td></tr>\n");
            }
            mops_buf_puts(&b, "</table>\n");
        }
    }
    gov_html_end(&b);
    return mops_buf_detach(&b);
}
