/*
 * card.c — model cards: structured fields per version (intended use,
 * out-of-scope uses, training data, evaluation, limitations, ethical
 * considerations, owner, business KPI), written by the team and rendered
 * to Markdown and to a self-contained HTML page together with the metrics
 * mops computed itself (the latest validation of each name).
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/text.h"
#include "core/time.h"
#include "governance/governance_int.h"

#define CARD_FIELD_MAX (16 * 1024)

/* The fields, once: key and title. */
#define CARD_FIELDS(X)                                                                             \
    X(intended_use, "Intended use")                                                                \
    X(out_of_scope_uses, "Out-of-scope uses")                                                      \
    X(training_data, "Training data")                                                              \
    X(evaluation, "Evaluation")                                                                    \
    X(limitations, "Limitations")                                                                  \
    X(ethical_considerations, "Ethical considerations")                                            \
    X(owner, "Owner")                                                                              \
    X(business_kpi, "Business KPI")

#define CARD_TITLE(k, t) {#k, t},
#define CARD_SPEC(k, t) {#k, MOPS_JSON_STRING, 0},

static const struct {
    const char *key, *title;
} fields[] = {CARD_FIELDS(CARD_TITLE)};

static const mops_json_field_t spec_fields[] = {CARD_FIELDS(CARD_SPEC){NULL, 0, 0}};

#define NFIELDS (sizeof fields / sizeof fields[0])

int gov_card_field_known(const char *key)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (!strcmp(fields[i].key, key))
            return 1;
    return 0;
}

const char *gov_card_field_list(void)
{
    return "intended_use, out_of_scope_uses, training_data, evaluation, limitations, "
           "ethical_considerations, owner, business_kpi";
}

int gov_card_fields(const mops_ctx_t *ctx, int64_t version_id, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err, "SELECT fields FROM gov_cards WHERE version_id = ?",
                         "i", version_id);
    if (rc != 0)
        return rc;
    json_t *stored = NULL;
    if ((rc = store_step(s, err)) == STORE_ROW)
        stored = gov_json_load(store_col_text(s, 0));
    store_finalize(s);
    if (rc < 0) {
        json_decref(stored);
        return rc;
    }
    json_t *f = json_object();
    for (size_t i = 0; i < NFIELDS; i++)
        json_object_set_new(f, fields[i].key,
                            json_string(mops_json_str(stored, fields[i].key, "")));
    json_decref(stored);
    *out = f;
    return 0;
}

/* The latest validation of each name, as {name: {id, rows, kind, metrics,
 * created_at}}. */
static int latest_validations(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                              mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT g.name, g.id, g.rows, g.report, g.created_at FROM "
                         "gov_validations g WHERE g.version_id = ? AND g.id = (SELECT max(h.id) "
                         "FROM gov_validations h WHERE h.version_id = g.version_id AND "
                         "h.name = g.name) ORDER BY g.name",
                         "i", version_id);
    if (rc != 0)
        return rc;
    json_t *o = json_object();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        json_t *report = gov_json_load(store_col_text(s, 3));
        json_object_set_new(o, store_col_text(s, 0),
                            json_pack("{s:I, s:I, s:O, s:O, s:O, s:o}", "id",
                                      (json_int_t)store_col_int(s, 1), "rows",
                                      (json_int_t)store_col_int(s, 2), "kind",
                                      json_object_get(report, "kind"), "metrics",
                                      json_object_get(report, "metrics"), "fairness",
                                      json_object_get(report, "fairness"), "created_at",
                                      gov_time_json(store_col_int(s, 4))));
        json_decref(report);
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static int card_json(const mops_ctx_t *ctx, const registry_version_ref_t *v, json_t **out,
                     mops_err_t *err)
{
    json_t *f = NULL, *vals = NULL;
    int rc = gov_card_fields(ctx, v->version_id, &f, err);
    if (rc == 0)
        rc = latest_validations(ctx, v->version_id, &vals, err);
    store_stmt_t *s = NULL;
    if (rc == 0)
        rc = store_query(ctx->db, &s, err,
                         "SELECT u.name, c.updated_at FROM gov_cards c LEFT JOIN users u ON "
                         "u.id = c.updated_by WHERE c.version_id = ?",
                         "i", v->version_id);
    json_t *by = json_null(), *at = json_null();
    if (rc == 0 && (rc = store_step(s, err)) == STORE_ROW) {
        json_decref(by);
        json_decref(at);
        by = json_string(store_col_is_null(s, 0) ? "system" : store_col_text(s, 0));
        at = gov_time_json(store_col_int(s, 1));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(f);
        json_decref(vals);
        json_decref(by);
        json_decref(at);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "team",
                     v->m.team, "model", v->m.model, "version", (json_int_t)v->number, "stage",
                     v->stage, "risk_tier", v->m.risk_tier, "format", v->format,
                     "artifact_sha256", v->sha256, "fields", f, "updated_by", by, "updated_at",
                     at, "validations", vals);
    return 0;
}

int governance_card_get(const mops_ctx_t *ctx, const char *team, const char *model,
                        const char *ref, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    return rc ? rc : card_json(ctx, &v, out, err);
}

int governance_card_put(const mops_ctx_t *ctx, const char *team, const char *model,
                        const char *ref, const json_t *spec, json_t **out, mops_err_t *err)
{
    registry_version_ref_t v;
    int rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &v, err);
    if (rc != 0 || (rc = auth_require(ctx, AUTH_CARD_WRITE, v.m.team_id, err)) != 0)
        return rc;
    if ((rc = mops_json_check(spec, "request body", spec_fields, err)) != 0)
        return rc;
    json_t *f = json_object();
    for (size_t i = 0; i < NFIELDS && rc == 0; i++) {
        const char *val = mops_json_str(spec, fields[i].key, "");
        if ((rc = mops_text_check(fields[i].key, val, CARD_FIELD_MAX, err)) == 0)
            json_object_set_new(f, fields[i].key, json_string(val));
    }
    if (rc == 0 && v.archived)
        rc = mops_err_set(err, MOPS_EPRECOND, "%s is archived", gov_target(ctx, &v));
    char *text = mops_json_dump(f);
    if (rc == 0 && (rc = store_begin(ctx->db, err)) == 0) {
        rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO gov_cards (version_id, team_id, fields, updated_by, "
                        "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (version_id) DO UPDATE SET "
                        "fields = excluded.fields, updated_by = excluded.updated_by, "
                        "updated_at = excluded.updated_at",
                        "iitIi", v.version_id, v.m.team_id, text, gov_actor(ctx), mops_now_ms());
        if (rc == 0)
            rc = audit_record(ctx, "card.update", gov_target(ctx, &v), v.m.team_id, f, err);
        rc = gov_tx_end(ctx, rc, err);
    }
    free(text);
    json_decref(f);
    return rc ? rc : card_json(ctx, &v, out, err);
}

/* ------------------------------------------------------------ rendering */

static const char *const metric_order[] = {"accuracy", "precision", "recall", "f1", "roc_auc",
                                           "log_loss", "rmse", "mae", "r2", NULL};

/* Markdown text: the author's Markdown kept, HTML in it neutralised. */
static void md_text(mops_buf_t *b, const char *s)
{
    gov_html_escape(b, s);
}

static void render_markdown(const json_t *c, mops_buf_t *b)
{
    const json_t *f = json_object_get(c, "fields");
    mops_buf_puts(b, "# Model card: ");
    md_text(b, mops_json_str(c, "team", ""));
    mops_buf_putc(b, '/');
    md_text(b, mops_json_str(c, "model", ""));
    mops_buf_printf(b, ", version %lld\n\n| | |\n|---|---|\n",
                    (long long)json_integer_value(json_object_get(c, "version")));
    mops_buf_printf(b, "| Stage | %s |\n| Risk tier | %s |\n| Format | %s |\n",
                    mops_json_str(c, "stage", ""), mops_json_str(c, "risk_tier", ""),
                    mops_json_str(c, "format", ""));
    mops_buf_printf(b, "| Artifact | `sha256:%s` |\n", mops_json_str(c, "artifact_sha256", ""));
    if (json_is_string(json_object_get(c, "updated_at"))) {
        mops_buf_printf(b, "| Card updated | %s by ", mops_json_str(c, "updated_at", ""));
        md_text(b, mops_json_str(c, "updated_by", ""));
        mops_buf_puts(b, " |\n");
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *val = mops_json_str(f, fields[i].key, "");
        mops_buf_printf(b, "\n## %s\n\n", fields[i].title);
        if (*val)
            md_text(b, val);
        else
            mops_buf_puts(b, "_Not written._");
        mops_buf_putc(b, '\n');
    }
    mops_buf_puts(b, "\n## Metrics computed by mops\n");
    const char *name;
    json_t *val;
    if (!json_object_size(json_object_get(c, "validations")))
        mops_buf_puts(b, "\n_No validation yet (mops validate)._\n");
    json_object_foreach(json_object_get(c, "validations"), name, val) {
        mops_buf_puts(b, "\n### ");
        md_text(b, name);
        mops_buf_printf(b, " (validation %lld, %lld rows, %s)\n\n| metric | value |\n|---|---|\n",
                        (long long)json_integer_value(json_object_get(val, "id")),
                        (long long)json_integer_value(json_object_get(val, "rows")),
                        mops_json_str(val, "created_at", ""));
        const json_t *m = json_object_get(val, "metrics");
        for (int k = 0; metric_order[k]; k++) {
            json_t *x = json_object_get(m, metric_order[k]);
            if (json_is_number(x))
                mops_buf_printf(b, "| %s | %.6g |\n", metric_order[k], json_number_value(x));
            else if (x)
                mops_buf_printf(b, "| %s | undefined |\n", metric_order[k]);
        }
    }
}

static void render_html(const json_t *c, mops_buf_t *b)
{
    const json_t *f = json_object_get(c, "fields");
    char *title = mops_xasprintf("Model card: %s/%s, version %lld", mops_json_str(c, "team", ""),
                                 mops_json_str(c, "model", ""),
                                 (long long)json_integer_value(json_object_get(c, "version")));
    gov_html_begin(b, title);
    mops_buf_puts(b, "<h1>");
    gov_html_escape(b, title);
    free(title);
    mops_buf_puts(b, "</h1>\n<table>\n");
    static const char *const facts[][2] = {{"stage", "Stage"},
                                           {"risk_tier", "Risk tier"},
                                           {"format", "Format"},
                                           {"artifact_sha256", "Artifact (SHA-256)"},
                                           {"updated_by", "Card updated by"},
                                           {"updated_at", "Card updated at"}};
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        mops_buf_printf(b, "<tr><th>%s</th><td>", facts[i][1]);
        gov_html_value(b, json_object_get(c, facts[i][0]));
        mops_buf_puts(b, "</td></tr>\n");
    }
    mops_buf_puts(b, "</table>\n");
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *val = mops_json_str(f, fields[i].key, "");
        mops_buf_printf(b, "<h2>%s</h2>\n", fields[i].title);
        if (*val) {
            mops_buf_puts(b, "<div class=\"text\">");
            gov_html_escape(b, val);
            mops_buf_puts(b, "</div>\n");
        } else {
            mops_buf_puts(b, "<p class=\"na\">Not written.</p>\n");
        }
    }
    mops_buf_puts(b, "<h2>Metrics computed by mops</h2>\n");
    if (!json_object_size(json_object_get(c, "validations")))
        mops_buf_puts(b, "<p class=\"na\">No validation yet (mops validate).</p>\n");
    const char *name;
    json_t *val;
    json_object_foreach(json_object_get(c, "validations"), name, val) {
        mops_buf_puts(b, "<h3>");
        gov_html_escape(b, name);
        mops_buf_printf(b, " <span class=\"muted\">(validation %lld, %lld rows, ",
                        (long long)json_integer_value(json_object_get(val, "id")),
                        (long long)json_integer_value(json_object_get(val, "rows")));
        gov_html_escape(b, mops_json_str(val, "created_at", ""));
        mops_buf_puts(b, ")</span></h3>\n<table><tr><th>metric</th><th>value</th></tr>\n");
        const json_t *m = json_object_get(val, "metrics");
        for (int k = 0; metric_order[k]; k++) {
            json_t *x = json_object_get(m, metric_order[k]);
            if (!x)
                continue;
            mops_buf_printf(b, "<tr><td>%s</td><td>", metric_order[k]);
            if (json_is_number(x))
                gov_html_value(b, x);
            else
                mops_buf_puts(b, "<span class=\"na\">undefined</span>");
            mops_buf_puts(b, "</td></tr>\n");
        }
        mops_buf_puts(b, "</table>\n");
    }
    gov_html_end(b);
}

int governance_card_render(const mops_ctx_t *ctx, const char *team, const char *model,
                           const char *ref, const char *format, char **text, mops_err_t *err)
{
    int md = !strcmp(format, "markdown");
    if (!md && strcmp(format, "html") != 0)
        return mops_err_set(err, MOPS_EINVAL, "format \"%s\" must be json, markdown or html",
                            mops_text_show(format));
    json_t *c;
    int rc = governance_card_get(ctx, team, model, ref, &c, err);
    if (rc != 0)
        return rc;
    mops_buf_t b = MOPS_BUF_INIT;
    if (md)
        render_markdown(c, &b);
    else
        render_html(c, &b);
    json_decref(c);
    *text = mops_buf_detach(&b);
    return 0;
}
