/*
 * policy.c — policies as code: documents in YAML or JSON, parsed into one
 * normalised structure and checked rule by rule (rules.c's table), stored
 * with every version kept, attached to a team and/or a risk tier, audited;
 * and which policies apply to a model, with the fingerprint of their
 * versions that approvals record.
 *
 * A policy is addressed by scope and name: the scope is its team's name,
 * or "_global" (never a team name: those start with a letter or digit) for
 * an org-wide policy. In the store the scope is "t<team id>" or "global".
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/text.h"
#include "core/time.h"
#include "governance/governance_int.h"

#define POLICY_SOURCE_MAX (64 * 1024)
#define POLICY_RULES_MAX 100
#define GLOBAL_SCOPE "_global"

/* ------------------------------------------------------------ parsing */

/* A loaded source: its JSON, and the lines of its values when YAML. */
typedef struct loaded {
    json_t *doc;
    gov_yaml_lines_t *lines;
    const char *format;
} loaded_t;

static void loaded_release(loaded_t *l)
{
    json_decref(l->doc);
    gov_yaml_lines_free(l->lines);
}

static int policy_load(const char *source, const char *format, loaded_t *out, mops_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(source);
    if (len > POLICY_SOURCE_MAX)
        return mops_err_set(err, MOPS_ETOOBIG, "the policy is %zu bytes, over the limit of %d",
                            len, POLICY_SOURCE_MAX);
    if (!format) {
        const char *p = source + strspn(source, " \t\r\n");
        format = *p == '{' ? "json" : "yaml";
    }
    int rc;
    if (!strcmp(format, "json")) {
        json_error_t je;
        out->doc = json_loadb(source, len, JSON_REJECT_DUPLICATES, &je);
        rc = out->doc ? 0
                      : mops_err_set(err, MOPS_EINVAL, "policy: malformed JSON at line %d, column "
                                                       "%d: %s",
                                     je.line, je.column, je.text);
    } else if (!strcmp(format, "yaml")) {
        rc = gov_yaml_to_json(source, len, &out->doc, &out->lines, err);
        if (rc != 0)
            mops_err_wrap(err, "policy");
    } else {
        rc = mops_err_set(err, MOPS_EINVAL, "format \"%s\" must be yaml or json",
                          mops_text_show(format));
    }
    if (rc == 0 && !json_is_object(out->doc))
        rc = mops_err_set(err, MOPS_EINVAL, "policy: the document must be a mapping (an object) "
                                            "with name and rules");
    out->format = format;
    if (rc != 0)
        loaded_release(out);
    return rc;
}

static const mops_json_field_t doc_fields[] = {
    {"name", MOPS_JSON_STRING, 1},        {"team", MOPS_JSON_STRING, 0},
    {"risk_tier", MOPS_JSON_STRING, 0},   {"description", MOPS_JSON_STRING, 0},
    {"rules", MOPS_JSON_ARRAY, 1},        {NULL, 0, 0},
};

static int check_tier(const char *tier, mops_err_t *err)
{
    if (!strcmp(tier, "low") || !strcmp(tier, "medium") || !strcmp(tier, "high"))
        return 0;
    return mops_err_set(err, MOPS_EINVAL, "policy: risk_tier \"%s\" must be low, medium or high",
                        mops_text_show(tier));
}

/* Check one rule and append its normalised form to rules. */
static int rule_check(const json_t *r, size_t index, const gov_yaml_lines_t *lines, json_t *rules,
                      mops_err_t *err)
{
    int line = gov_yaml_line(lines, r);
    char where[96];
    if (line)
        snprintf(where, sizeof where, "rule %zu (line %d)", index, line);
    else
        snprintf(where, sizeof where, "rule %zu", index);
    if (!json_is_object(r))
        return mops_err_set(err, MOPS_EINVAL, "%s: a rule is a mapping with a \"rule\" key",
                            where);
    const char *kind = mops_json_str(r, "rule", NULL);
    const gov_rule_kind_t *k = kind ? gov_rule_kind_find(kind) : NULL;
    if (!k) {
        json_t *names = gov_rule_kind_names();
        mops_buf_t b = MOPS_BUF_INIT;
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n) mops_buf_printf(&b, "%s%s", i ? ", " : "",
                                                        mops_json_str(n, "rule", ""));
        int rc = mops_err_set(err, MOPS_EINVAL, kind ? "%s: unknown rule \"%s\" (rules: %s)"
                                                     : "%s: \"rule\" is required%s (rules: %s)",
                              where, kind ? mops_text_show(kind) : "", b.data);
        mops_buf_release(&b);
        json_decref(names);
        return rc;
    }
    int rc = mops_json_check(r, where, k->fields, err);
    if (rc != 0)
        return rc;
    const char *name = mops_json_str(r, "name", k->name);
    if ((rc = mops_name_check("rule name", name, err)) != 0 ||
        (rc = mops_text_check("description", mops_json_str(r, "description", ""), 1024, err)) !=
            0)
        return mops_err_wrap(err, "%s", where);
    /* stage: one stage or a list of them, each one rules gate. */
    json_t *st = json_object_get(r, "stage"), *stages = json_array();
    if (json_is_string(st))
        json_array_append(stages, st);
    else if (json_is_array(st))
        json_array_extend(stages, st);
    else if (st)
        rc = mops_err_set(err, MOPS_EINVAL, "%s: \"stage\" must be a stage or a list of stages",
                          where);
    size_t i;
    json_t *s;
    json_array_foreach(stages, i, s) {
        if (rc != 0)
            break;
        if (!json_is_string(s) || !gov_stage_gateable(json_string_value(s)))
            rc = mops_err_set(err, MOPS_EINVAL,
                              "%s: stage %s is not one a rule gates (in_review, approved, "
                              "staging, production)",
                              where, json_is_string(s) ? mops_text_show(json_string_value(s))
                                                       : "(not a string)");
    }
    if (rc == 0 && k->needs_stage && !json_array_size(stages))
        rc = mops_err_set(err, MOPS_EINVAL,
                          "%s: \"stage\" is required: the stage (or stages) this rule gates",
                          where);
    if (rc == 0 && k->parse)
        rc = k->parse(r, where, err);
    if (rc != 0) {
        json_decref(stages);
        return rc;
    }
    if (!k->needs_stage) {
        json_array_clear(stages);
        json_array_append_new(stages, json_string("production"));
    }
    json_t *norm = json_deep_copy(r);
    json_object_del(norm, "stage");
    json_object_set_new(norm, "name", json_string(name));
    json_object_set_new(norm, "stages", stages);
    if (!json_object_get(norm, "description"))
        json_object_set_new(norm, "description", json_string(""));
    json_array_append_new(rules, norm);
    return 0;
}

/* Check a loaded document and normalise it into *out: {"name", "team"?,
 * "risk_tier"?, "description", "rules": [{"rule", "name", "stages": [...],
 * "description", ...}]}. Messages name the line (YAML) or the field. */
static int policy_check(const loaded_t *l, json_t **out, mops_err_t *err)
{
    const json_t *d = l->doc;
    int rc = mops_json_check(d, "policy", doc_fields, err);
    const char *name = mops_json_str(d, "name", ""), *team = mops_json_str(d, "team", NULL),
               *tier = mops_json_str(d, "risk_tier", NULL),
               *desc = mops_json_str(d, "description", "");
    if (rc != 0 || (rc = mops_name_check("policy name", name, err)) != 0 ||
        (team && (rc = mops_name_check("team", team, err)) != 0) ||
        (tier && (rc = check_tier(tier, err)) != 0) ||
        (rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0)
        return rc;
    json_t *rules = json_object_get(d, "rules");
    if (!json_array_size(rules) || json_array_size(rules) > POLICY_RULES_MAX)
        return mops_err_set(err, MOPS_EINVAL, "policy: \"rules\" must list 1 to %d rules",
                            POLICY_RULES_MAX);
    json_t *norm = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) if ((rc = rule_check(r, i + 1, l->lines, norm, err)) != 0) {
        json_decref(norm);
        return rc;
    }
    json_t *doc = json_pack("{s:s, s:s, s:o}", "name", name, "description", desc, "rules", norm);
    if (team)
        json_object_set_new(doc, "team", json_string(team));
    if (tier)
        json_object_set_new(doc, "risk_tier", json_string(tier));
    *out = doc;
    return 0;
}

/* ------------------------------------------------------------ storage */

static const mops_json_field_t body_fields[] = {
    {"source", MOPS_JSON_STRING, 1},
    {"format", MOPS_JSON_STRING, 0},
    {NULL, 0, 0},
};

/* A policy's scope resolved: team id (0 for org-wide), its store key and
 * the permission that writes it. */
typedef struct scope {
    int64_t team_id;
    char key[32];
    const char *shown; /* team name or "_global" */
    auth_perm_t write;
} scope_t;

static int scope_resolve(const mops_ctx_t *ctx, const char *name, scope_t *out, mops_err_t *err)
{
    if (!name || !strcmp(name, GLOBAL_SCOPE)) {
        out->team_id = 0;
        snprintf(out->key, sizeof out->key, "global");
        out->shown = GLOBAL_SCOPE;
        out->write = AUTH_POLICY_GLOBAL;
        return 0;
    }
    int rc = auth_team_resolve(ctx, name, &out->team_id, err);
    if (rc != 0)
        return rc;
    snprintf(out->key, sizeof out->key, "t%lld", (long long)out->team_id);
    out->shown = mops_arena_strdup(ctx->arena, name); /* name may live in a document */
    out->write = AUTH_POLICY_WRITE;
    return 0;
}

static const char *policy_target(const mops_ctx_t *ctx, const scope_t *sc, const char *name)
{
    return mops_arena_printf(ctx->arena, "policy:%s/%s", sc->shown, name);
}

static int policy_json(const mops_ctx_t *ctx, const scope_t *sc, int64_t id, int64_t version,
                       json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT p.name, p.risk_tier, p.version, p.created_at, p.updated_at, p.archived_at, "
        "v.format, v.source, v.document, v.sha256, u.name, v.created_at, v.version "
        "FROM gov_policies p JOIN gov_policy_versions v ON v.policy_id = p.id "
        "LEFT JOIN users u ON u.id = v.created_by WHERE p.id = ? AND v.version = "
        "COALESCE(?, p.version)",
        "iI", id, version);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) != STORE_ROW) {
        store_finalize(s);
        return rc < 0 ? rc
                      : mops_err_set(err, MOPS_ENOTFOUND, "the policy has no version %lld",
                                     (long long)version);
    }
    json_t *doc = gov_json_load(store_col_text(s, 8));
    int64_t archived = store_col_is_null(s, 5) ? 0 : store_col_int(s, 5);
    json_t *o = json_pack(
        "{s:s, s:s, s:o, s:o, s:I, s:I, s:O, s:O, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:o}",
        "scope", sc->shown, "name", store_col_text(s, 0), "team",
        sc->team_id ? json_string(sc->shown) : json_null(), "risk_tier",
        store_col_is_null(s, 1) ? json_null() : json_string(store_col_text(s, 1)), "version",
        (json_int_t)store_col_int(s, 12), "current_version", (json_int_t)store_col_int(s, 2),
        "description", json_object_get(doc, "description"), "rules",
        json_object_get(doc, "rules"), "format", store_col_text(s, 6), "source",
        store_col_text(s, 7), "sha256", store_col_text(s, 9), "created_by",
        store_col_is_null(s, 10) ? "system" : store_col_text(s, 10), "created_at",
        gov_time_json(store_col_int(s, 3)), "updated_at", gov_time_json(store_col_int(s, 4)),
        "version_created_at", gov_time_json(store_col_int(s, 11)), "archived", archived != 0,
        "archived_at", gov_time_json(archived));
    store_finalize(s);
    json_decref(doc);
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT v.version, v.sha256, u.name, v.created_at FROM "
                          "gov_policy_versions v LEFT JOIN users u ON u.id = v.created_by "
                          "WHERE v.policy_id = ? ORDER BY v.version",
                          "i", id)) != 0) {
        json_decref(o);
        return rc;
    }
    json_t *versions = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(versions,
                              json_pack("{s:I, s:s, s:s, s:o}", "version",
                                        (json_int_t)store_col_int(s, 0), "sha256",
                                        store_col_text(s, 1), "created_by",
                                        store_col_is_null(s, 2) ? "system" : store_col_text(s, 2),
                                        "created_at", gov_time_json(store_col_int(s, 3))));
    store_finalize(s);
    json_object_set_new(o, "versions", versions);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* Insert version `version` of policy id; audits action. */
static int version_insert(const mops_ctx_t *ctx, const scope_t *sc, int64_t id, int64_t version,
                          const char *format, const char *source, const json_t *doc,
                          const char *action, mops_err_t *err)
{
    char sha[MOPS_SHA256_HEX];
    mops_sha256_hex(source, strlen(source), sha);
    char *text = mops_json_dump(doc);
    int rc = store_exec(ctx->db, NULL, err,
                        "INSERT INTO gov_policy_versions (policy_id, version, format, source, "
                        "document, sha256, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        "iittttIi", id, version, format, source, text, sha, gov_actor(ctx),
                        mops_now_ms());
    free(text);
    if (rc == 0) {
        json_t *detail = json_pack("{s:I, s:s, s:s, s:O}", "version", (json_int_t)version,
                                   "format", format, "sha256", sha, "document", doc);
        rc = audit_record(ctx, action, policy_target(ctx, sc, mops_json_str(doc, "name", "")),
                          sc->team_id, detail, err);
        json_decref(detail);
    }
    return rc;
}

/* Check the body, then the document. */
static int body_load(const json_t *spec, loaded_t *l, mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", body_fields, err);
    if (rc == 0)
        rc = policy_load(mops_json_str(spec, "source", ""), mops_json_str(spec, "format", NULL),
                         l, err);
    return rc;
}

int governance_policy_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                             mops_err_t *err)
{
    loaded_t l;
    scope_t sc;
    json_t *doc = NULL;
    /* The document says which team it is for, so it is read first; who may
     * write there is checked before its rules are. */
    int rc = body_load(spec, &l, err);
    if (rc != 0)
        return rc;
    const json_t *team = json_object_get(l.doc, "team");
    if (team && !json_is_string(team))
        rc = mops_err_set(err, MOPS_EINVAL, "policy: \"team\" must be a team's name");
    if (rc == 0)
        rc = scope_resolve(ctx, json_string_value(team), &sc, err);
    if (rc == 0)
        rc = auth_require(ctx, sc.write, sc.team_id, err);
    if (rc == 0)
        rc = policy_check(&l, &doc, err);
    const char *format = l.format;
    if (rc != 0) {
        loaded_release(&l);
        return rc;
    }
    const char *name = mops_json_str(doc, "name", ""), *tier = mops_json_str(doc, "risk_tier", NULL);
    int64_t id = 0, now = mops_now_ms();
    if ((rc = store_begin(ctx->db, err)) == 0) {
        rc = store_query_int(ctx->db, &id, err,
                             "INSERT INTO gov_policies (scope, name, team_id, risk_tier, version, "
                             "created_by, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?) "
                             "RETURNING id",
                             "ttItIii", sc.key, name, sc.team_id, tier, gov_actor(ctx), now, now);
        if (rc == MOPS_ECONFLICT)
            rc = mops_err_set(err, MOPS_ECONFLICT,
                              "%s already has a policy named %s: change it with a new version "
                              "(PUT /api/v1/policies/%s/%s)",
                              sc.team_id ? sc.shown : "the organisation", name, sc.shown, name);
        if (rc == 0)
            rc = version_insert(ctx, &sc, id, 1, format, mops_json_str(spec, "source", ""), doc,
                                "policy.create", err);
        rc = gov_tx_end(ctx, rc, err);
    }
    json_decref(doc);
    loaded_release(&l);
    return rc ? rc : policy_json(ctx, &sc, id, 0, out, err);
}

/* The policy scope/name: its id (and archived state). */
static int policy_find(const mops_ctx_t *ctx, const scope_t *sc, const char *name, int64_t *id,
                       int *archived, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT id, archived_at FROM gov_policies WHERE scope = ? AND name = ?",
                         "tt", sc->key, name);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        *id = store_col_int(s, 0);
        if (archived)
            *archived = !store_col_is_null(s, 1);
    }
    store_finalize(s);
    if (rc == STORE_DONE)
        return mops_err_set(err, MOPS_ENOTFOUND, "no policy named \"%s\" in %s",
                            mops_text_show(name), sc->shown);
    return rc < 0 ? rc : 0;
}

/* The existing policy scope/name, and the caller's right to change it. */
static int policy_writable(const mops_ctx_t *ctx, const char *scope, const char *name,
                           scope_t *sc, int64_t *id, int *archived, mops_err_t *err)
{
    int rc = scope_resolve(ctx, scope, sc, err);
    if (rc == 0)
        rc = policy_find(ctx, sc, name, id, archived, err);
    if (rc == 0)
        rc = auth_require(ctx, sc->write, sc->team_id, err);
    return rc;
}

int governance_policy_update(const mops_ctx_t *ctx, const char *scope, const char *name,
                             const json_t *spec, json_t **out, mops_err_t *err)
{
    scope_t sc;
    int64_t id = 0;
    int archived = 0;
    int rc = policy_writable(ctx, scope, name, &sc, &id, &archived, err);
    if (rc != 0)
        return rc;
    loaded_t l;
    json_t *doc = NULL;
    if ((rc = body_load(spec, &l, err)) != 0)
        return rc;
    rc = policy_check(&l, &doc, err);
    const char *dteam = mops_json_str(doc, "team", NULL);
    if (rc == 0 && strcmp(mops_json_str(doc, "name", ""), name) != 0)
        rc = mops_err_set(err, MOPS_EINVAL,
                          "the document is named %s, the policy %s: a policy keeps its name",
                          mops_json_str(doc, "name", ""), name);
    if (rc == 0 && (sc.team_id ? !dteam || strcmp(dteam, sc.shown) : dteam != NULL))
        rc = mops_err_set(err, MOPS_EINVAL,
                          "the document is for %s%s, the policy belongs to %s%s: a policy cannot "
                          "move; create a new one",
                          dteam ? "team " : "", dteam ? dteam : "the organisation",
                          sc.team_id ? "team " : "", sc.team_id ? sc.shown : "the organisation");
    if (rc == 0 && archived)
        rc = mops_err_set(err, MOPS_EPRECOND, "policy %s/%s is archived", sc.shown, name);
    if (rc == 0 && (rc = store_begin(ctx->db, err)) == 0) {
        int64_t version = 0;
        rc = store_query_int(ctx->db, &version, err,
                             "UPDATE gov_policies SET version = version + 1, risk_tier = ?, "
                             "updated_at = ? WHERE id = ? RETURNING version",
                             "tii", mops_json_str(doc, "risk_tier", NULL), mops_now_ms(), id);
        if (rc == 0)
            rc = version_insert(ctx, &sc, id, version, l.format, mops_json_str(spec, "source", ""),
                                doc, "policy.update", err);
        rc = gov_tx_end(ctx, rc, err);
    }
    json_decref(doc);
    loaded_release(&l);
    return rc ? rc : policy_json(ctx, &sc, id, 0, out, err);
}

int governance_policy_get(const mops_ctx_t *ctx, const char *scope, const char *name,
                          int64_t version, json_t **out, mops_err_t *err)
{
    scope_t sc;
    int64_t id = 0;
    int rc = scope_resolve(ctx, scope, &sc, err);
    /* Org-wide policies bind everyone, so everyone may read them. */
    if (rc != 0 ||
        (sc.team_id && (rc = auth_require(ctx, AUTH_POLICY_READ, sc.team_id, err)) != 0) ||
        (rc = policy_find(ctx, &sc, name, &id, NULL, err)) != 0)
        return rc;
    return policy_json(ctx, &sc, id, version, out, err);
}

int governance_policy_archive(const mops_ctx_t *ctx, const char *scope, const char *name,
                              json_t **out, mops_err_t *err)
{
    scope_t sc;
    int64_t id = 0;
    int archived = 0;
    int rc = policy_writable(ctx, scope, name, &sc, &id, &archived, err);
    if (rc != 0)
        return rc;
    if (!archived && (rc = store_begin(ctx->db, err)) == 0) {
        int64_t now = mops_now_ms();
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE gov_policies SET archived_at = ?, updated_at = ? WHERE id = ?",
                        "iii", now, now, id);
        if (rc == 0)
            rc = audit_record(ctx, "policy.archive", policy_target(ctx, &sc, name), sc.team_id,
                              NULL, err);
        rc = gov_tx_end(ctx, rc, err);
    }
    return rc ? rc : policy_json(ctx, &sc, id, 0, out, err);
}

int governance_policy_list(const mops_ctx_t *ctx, const governance_policy_filter_t *f,
                           json_t **out, mops_err_t *err)
{
    int64_t team_id = 0;
    int rc;
    if (f->team && ((rc = auth_team_resolve(ctx, f->team, &team_id, err)) != 0 ||
                    (rc = auth_require(ctx, AUTH_POLICY_READ, team_id, err)) != 0))
        return rc;
    if (f->risk_tier && (rc = check_tier(f->risk_tier, err)) != 0)
        return rc;
    store_sql_t q;
    store_sql_init(&q, "SELECT p.id, p.team_id, t.name, p.name FROM gov_policies p "
                       "LEFT JOIN teams t ON t.id = p.team_id WHERE (p.team_id IS NULL OR ");
    auth_sql_team_filter(ctx, AUTH_POLICY_READ, "p.team_id", &q);
    store_sql_add(&q, ")", NULL);
    if (team_id)
        store_sql_add(&q, " AND p.team_id = ?", "i", team_id);
    if (f->risk_tier)
        store_sql_add(&q, " AND (p.risk_tier IS NULL OR p.risk_tier = ?)", "t", f->risk_tier);
    if (f->archived == 0)
        store_sql_add(&q, " AND p.archived_at IS NULL", NULL);
    else if (f->archived == 1)
        store_sql_add(&q, " AND p.archived_at IS NOT NULL", NULL);
    store_sql_add(&q, " ORDER BY p.id LIMIT 1000", NULL);
    store_stmt_t *s;
    rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    json_t *ids = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(ids, json_pack("[I, I, s]", (json_int_t)store_col_int(s, 0),
                                             (json_int_t)store_col_int(s, 1),
                                             store_col_is_null(s, 2) ? GLOBAL_SCOPE
                                                                     : store_col_text(s, 2)));
    store_finalize(s);
    json_t *items = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(ids, i, row) {
        if (rc < 0)
            break;
        scope_t sc = {.team_id = json_integer_value(json_array_get(row, 1)),
                      .shown = json_string_value(json_array_get(row, 2))};
        json_t *p;
        if ((rc = policy_json(ctx, &sc, json_integer_value(json_array_get(row, 0)), 0, &p,
                              err)) == 0) {
            json_object_del(p, "source");
            json_array_append_new(items, p);
        }
    }
    json_decref(ids);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

/* ------------------------------------------------------------ applying */

int gov_policies_applicable(const mops_ctx_t *ctx, const registry_model_ref_t *m,
                            json_t **policies, char fingerprint[65], mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(
        ctx->db, &s, err,
        "SELECT p.id, p.name, p.version, t.name, v.document FROM gov_policies p "
        "JOIN gov_policy_versions v ON v.policy_id = p.id AND v.version = p.version "
        "LEFT JOIN teams t ON t.id = p.team_id WHERE p.archived_at IS NULL AND "
        "(p.team_id IS NULL OR p.team_id = ?) AND (p.risk_tier IS NULL OR p.risk_tier = ?) "
        "ORDER BY p.id",
        "it", m->team_id, m->risk_tier);
    if (rc != 0)
        return rc;
    json_t *list = json_array();
    mops_buf_t key = MOPS_BUF_INIT;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        int64_t id = store_col_int(s, 0), version = store_col_int(s, 2);
        mops_buf_printf(&key, "%lld:%lld;", (long long)id, (long long)version);
        json_array_append_new(
            list, json_pack("{s:I, s:s, s:s, s:I, s:o}", "id", (json_int_t)id, "scope",
                            store_col_is_null(s, 3) ? GLOBAL_SCOPE : store_col_text(s, 3), "name",
                            store_col_text(s, 1), "version", (json_int_t)version, "document",
                            gov_json_load(store_col_text(s, 4))));
    }
    store_finalize(s);
    mops_sha256_hex(key.data ? key.data : "", key.len, fingerprint);
    mops_buf_release(&key);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *policies = list;
    return 0;
}
