/*
 * deploy.c — deployments in the store: create, read, list, update (weights,
 * promotion, shadows, stickiness), roll back, delete, their history, and
 * which deployments use a version.
 *
 * Every change validates the new configuration, resolves each version
 * reference (number, alias, "latest") to the version it means now, loads
 * every model (outside the transaction: a big model must not hold the
 * writer lock), then in one transaction writes the next revision, the
 * history row, the routing rows, bumps the change counter other servers
 * poll, and audits; only after the commit is the new configuration
 * published on this server.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "serve/serve_int.h"

static const mops_json_field_t create_fields[] = {
    {"name", MOPS_JSON_STRING, 1},
    {"team", MOPS_JSON_STRING, 1},
    {"description", MOPS_JSON_STRING, 0},
    {"primary", MOPS_JSON_OBJECT, 1},
    {"canaries", MOPS_JSON_ARRAY, 0},
    {"shadows", MOPS_JSON_ARRAY, 0},
    {"sticky", MOPS_JSON_ANY, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t update_fields[] = {
    {"description", MOPS_JSON_STRING, 0},
    {"primary", MOPS_JSON_OBJECT, 0},
    {"canaries", MOPS_JSON_ARRAY, 0},
    {"shadows", MOPS_JSON_ARRAY, 0},
    {"sticky", MOPS_JSON_ANY, 0},
    {"promote", MOPS_JSON_OBJECT, 0},
    {"if_revision", MOPS_JSON_INT, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t rollback_fields[] = {
    {"revision", MOPS_JSON_INT, 0},
    {"if_revision", MOPS_JSON_INT, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t target_fields[] = {
    {"model", MOPS_JSON_STRING, 1},
    {"version", MOPS_JSON_ANY, 0},
    {NULL, 0, 0},
};

static const mops_json_field_t canary_fields[] = {
    {"model", MOPS_JSON_STRING, 1},
    {"version", MOPS_JSON_ANY, 0},
    {"weight", MOPS_JSON_INT, 1},
    {NULL, 0, 0},
};

static const mops_json_field_t sticky_fields[] = {
    {"field", MOPS_JSON_STRING, 0},
    {"header", MOPS_JSON_STRING, 0},
    {NULL, 0, 0},
};

#define MAX_TARGETS 16

/* ----------------------------------------------------------- the row */

typedef struct dep {
    int64_t id, team_id, revision, created_at, updated_at;
    const char *name, *team, *description, *created_by;
    json_t *config; /* owned: release with dep_release */
} dep_t;

static void dep_release(dep_t *d)
{
    json_decref(d->config);
    d->config = NULL;
}

static int not_found(const char *name, mops_err_t *err)
{
    return mops_err_set(err, MOPS_ENOTFOUND, "no deployment named \"%s\"", mops_text_show(name));
}

/* The live deployment name as the caller sees it (another team's is "not
 * found", recorded as a refusal), with perm checked on its team. */
static int dep_find(const mops_ctx_t *ctx, const char *name, auth_perm_t perm, dep_t *d,
                    mops_err_t *err)
{
    memset(d, 0, sizeof *d);
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT d.id, d.team_id, t.name, d.name, d.description, d.revision, "
                         "d.config, d.created_at, d.updated_at, COALESCE(u.name, '') FROM "
                         "deployments d JOIN teams t ON t.id = d.team_id LEFT JOIN users u ON "
                         "u.id = d.created_by WHERE d.name = ? AND d.deleted_at IS NULL",
                         "t", name);
    if (rc != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        d->id = store_col_int(s, 0);
        d->team_id = store_col_int(s, 1);
        d->team = mops_arena_strdup(ctx->arena, store_col_text(s, 2));
        d->name = mops_arena_strdup(ctx->arena, store_col_text(s, 3));
        d->description = mops_arena_strdup(ctx->arena, store_col_text(s, 4));
        d->revision = store_col_int(s, 5);
        d->config = json_loads(store_col_text(s, 6), 0, NULL);
        d->created_at = store_col_int(s, 7);
        d->updated_at = store_col_int(s, 8);
        d->created_by = mops_arena_strdup(ctx->arena, store_col_text(s, 9));
        rc = d->config ? 0
                       : mops_err_set(err, MOPS_ECORRUPT,
                                      "deployment %s has an unreadable configuration", name);
    } else if (rc == STORE_DONE) {
        rc = not_found(name, err);
    }
    store_finalize(s);
    if (rc != 0) {
        dep_release(d);
        return rc;
    }
    if (!auth_can(ctx->who, AUTH_DEPLOYMENT_READ, d->team_id) &&
        !(ctx->who && auth_roles_in(ctx->who, d->team_id))) {
        mops_ctx_deny(ctx, d->team_id);
        dep_release(d);
        return not_found(name, err);
    }
    if ((rc = auth_require(ctx, perm, d->team_id, err)) != 0)
        dep_release(d);
    return rc;
}

/* ------------------------------------------------------- configuration */

/* Resolve one target of spec to {"model", "version", "version_id"} (and
 * "weight" for canaries), checking it may take traffic in role. */
static int target_resolve(const mops_ctx_t *ctx, const char *team, const json_t *t,
                          const char *what, serve_role_t role, json_t **out, mops_err_t *err)
{
    int rc = mops_json_check(t, what, role == SERVE_ROLE_CANARY ? canary_fields : target_fields,
                             err);
    if (rc != 0)
        return rc;
    const char *model = json_string_value(json_object_get(t, "model"));
    json_t *v = json_object_get(t, "version");
    char ref[80];
    if (!v)
        snprintf(ref, sizeof ref, "latest");
    else if (json_is_integer(v) && json_integer_value(v) >= 1)
        snprintf(ref, sizeof ref, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && *json_string_value(v) && strlen(json_string_value(v)) < 64)
        snprintf(ref, sizeof ref, "%s", json_string_value(v));
    else
        return mops_err_set(err, MOPS_EINVAL,
                            "field \"version\" in %s must be a version number, an alias or "
                            "\"latest\"",
                            what);
    if ((rc = mops_name_check("model", model, err)) != 0)
        return rc;
    registry_version_ref_t r;
    if ((rc = registry_version_resolve(ctx, team, model, ref, AUTH_MODEL_READ, &r, err)) != 0)
        return rc;
    if (r.archived)
        return mops_err_set(err, MOPS_EPRECOND, "%s: version %s/%s@%lld is archived", what, team,
                            model, (long long)r.number);
    if (!serve_stage_allows(r.stage, role))
        return mops_err_set(err, MOPS_EPRECOND,
                            "%s: version %s/%s@%lld is in stage %s, which may not take traffic "
                            "as a %s",
                            what, team, model, (long long)r.number, r.stage,
                            serve_role_name(role));
    *out = json_pack("{s:s, s:I, s:I}", "model", r.m.model, "version", (json_int_t)r.number,
                     "version_id", (json_int_t)r.version_id);
    if (role == SERVE_ROLE_CANARY) {
        json_int_t w = json_integer_value(json_object_get(t, "weight"));
        if (w < 0 || w > 100) {
            json_decref(*out);
            return mops_err_set(err, MOPS_EINVAL,
                                "%s: weight must be a percentage from 0 to 100, not %lld", what,
                                (long long)w);
        }
        json_object_set_new(*out, "weight", json_integer(w));
    }
    return 0;
}

static int targets_resolve(const mops_ctx_t *ctx, const char *team, const json_t *list,
                           const char *what, serve_role_t role, json_t **out, mops_err_t *err)
{
    json_t *a = json_array();
    size_t i;
    json_t *t;
    if (json_array_size(list) > MAX_TARGETS) {
        json_decref(a);
        return mops_err_set(err, MOPS_EINVAL, "at most %d %s, not %zu", MAX_TARGETS, what,
                            json_array_size(list));
    }
    json_array_foreach(list, i, t) {
        char where[48];
        snprintf(where, sizeof where, "%s[%zu]", what, i);
        json_t *one;
        int rc = target_resolve(ctx, team, t, where, role, &one, err);
        if (rc != 0) {
            json_decref(a);
            return rc;
        }
        json_array_append_new(a, one);
    }
    *out = a;
    return 0;
}

static int sticky_check(const json_t *sticky, mops_err_t *err)
{
    if (!sticky || json_is_null(sticky))
        return 0;
    int rc = mops_json_check(sticky, "field \"sticky\"", sticky_fields, err);
    if (rc != 0)
        return rc;
    const char *field = mops_json_str(sticky, "field", NULL);
    const char *header = mops_json_str(sticky, "header", NULL);
    if ((field != NULL) == (header != NULL))
        return mops_err_set(err, MOPS_EINVAL,
                            "sticky takes one of \"field\" or \"header\" (or null for none)");
    if (field)
        return mops_text_check("sticky field", field, 128, err) != 0 ? MOPS_EINVAL
               : *field ? 0
                        : mops_err_set(err, MOPS_EINVAL, "sticky field is empty");
    size_t n = strlen(header);
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (header[i] >= 'a' && header[i] <= 'z') || (header[i] >= 'A' && header[i] <= 'Z') ||
             (header[i] >= '0' && header[i] <= '9') || header[i] == '-' || header[i] == '_';
    if (!ok)
        return mops_err_set(err, MOPS_EINVAL,
                            "sticky header \"%s\" is not a header name (letters, digits, '-')",
                            mops_text_show(header));
    return 0;
}

/* The whole configuration: weights add up, no version twice. */
static int config_check(const json_t *config, mops_err_t *err)
{
    json_int_t sum = 0;
    int64_t ids[2 * MAX_TARGETS + 1];
    const char *where[2 * MAX_TARGETS + 1];
    size_t n = 0, i;
    json_t *t;
    ids[n] = json_integer_value(json_object_get(json_object_get(config, "primary"), "version_id"));
    where[n++] = "primary";
    json_array_foreach(json_object_get(config, "canaries"), i, t) {
        sum += json_integer_value(json_object_get(t, "weight"));
        ids[n] = json_integer_value(json_object_get(t, "version_id"));
        where[n++] = "canary";
    }
    json_array_foreach(json_object_get(config, "shadows"), i, t) {
        ids[n] = json_integer_value(json_object_get(t, "version_id"));
        where[n++] = "shadow";
    }
    if (sum > 100)
        return mops_err_set(err, MOPS_EINVAL,
                            "the canaries' weights add up to %lld%%; they may take at most 100%% "
                            "(the primary gets the rest)",
                            (long long)sum);
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < a; b++)
            if (ids[a] == ids[b])
                return mops_err_set(err, MOPS_EINVAL,
                                    "one version is both %s and %s: a version takes one role",
                                    where[b], where[a]);
    return 0;
}

/* The configuration without internal ids, for people and programs. */
static json_t *config_public(const json_t *config)
{
    json_t *c = json_deep_copy(config);
    json_object_del(json_object_get(c, "primary"), "version_id");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(c, "canaries"), i, t) json_object_del(t, "version_id");
    json_array_foreach(json_object_get(c, "shadows"), i, t) json_object_del(t, "version_id");
    json_int_t rest = 100;
    json_array_foreach(json_object_get(c, "canaries"), i, t)
        rest -= json_integer_value(json_object_get(t, "weight"));
    json_object_set_new(json_object_get(c, "primary"), "weight", json_integer(rest));
    return c;
}

/* Load every model of config: the result is published after the commit. */
static int config_load(const mops_ctx_t *ctx, const dep_t *d, const char *name, int64_t team_id,
                       const char *team, int64_t revision, const json_t *config,
                       serve_config_t **out, mops_err_t *err)
{
    return serve__config_build(ctx, d ? d->id : 0, name, team_id, team, revision, config, out,
                               err);
}

/* ---------------------------------------------------------- writing */

static int targets_write(const mops_ctx_t *ctx, int64_t id, const json_t *config,
                         mops_err_t *err)
{
    int rc = store_exec(ctx->db, NULL, err, "DELETE FROM deployment_targets WHERE deployment_id = ?",
                        "i", id);
    json_t *p = json_object_get(config, "primary");
    json_int_t rest = 100;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(config, "canaries"), i, t)
        rest -= json_integer_value(json_object_get(t, "weight"));
    static const char ins[] = "INSERT INTO deployment_targets (deployment_id, version_id, role, "
                              "weight) VALUES (?, ?, ?, ?)";
    if (rc == 0)
        rc = store_exec(ctx->db, NULL, err, ins, "iiti", id,
                        (int64_t)json_integer_value(json_object_get(p, "version_id")), "primary",
                        (int64_t)rest);
    json_array_foreach(json_object_get(config, "canaries"), i, t) {
        if (rc == 0)
            rc = store_exec(ctx->db, NULL, err, ins, "iiti", id,
                            (int64_t)json_integer_value(json_object_get(t, "version_id")),
                            "canary", (int64_t)json_integer_value(json_object_get(t, "weight")));
    }
    json_array_foreach(json_object_get(config, "shadows"), i, t) {
        if (rc == 0)
            rc = store_exec(ctx->db, NULL, err, ins, "iiti", id,
                            (int64_t)json_integer_value(json_object_get(t, "version_id")),
                            "shadow", (int64_t)0);
    }
    return rc;
}

static int revision_write(const mops_ctx_t *ctx, int64_t id, int64_t revision, const char *action,
                          const char *config_text, mops_err_t *err)
{
    return store_exec(ctx->db, NULL, err,
                      "INSERT INTO deployment_revisions (deployment_id, revision, action, config, "
                      "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                      "iittIi", id, revision, action, config_text,
                      ctx->who ? ctx->who->user_id : (int64_t)0, mops_now_ms());
}

static const char *target_name(const mops_ctx_t *ctx, const char *name)
{
    return mops_arena_printf(ctx->arena, "deployment/%s", name);
}

/* ------------------------------------------------------------ reading */

static json_t *stats_json(const serve_config_t *c);

static json_t *dep_json(const mops_ctx_t *ctx, const dep_t *d)
{
    (void)ctx;
    serve_config_t *live = serve__config_get(d->name);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:s, s:{s:s, s:s}}", "name", d->name, "team",
        d->team, "description", d->description, "revision", (json_int_t)d->revision, "config",
        config_public(d->config), "created_at", mops_json_time(d->created_at), "updated_at",
        mops_json_time(d->updated_at), "created_by", d->created_by, "endpoints", "infer",
        mops_arena_printf(ctx->arena, "/v2/models/%s/infer", d->name), "predict",
        mops_arena_printf(ctx->arena, "/api/v1/deployments/%s/predict", d->name));
    json_object_set_new(o, "live_revision",
                        live && live->deployment_id == d->id ? json_integer(live->revision)
                                                             : json_null());
    if (live)
        serve__config_unref(live);
    return o;
}

/* --------------------------------------------------------- public API */

int serve_deployment_create(const mops_ctx_t *ctx, const json_t *spec, json_t **out,
                            mops_err_t *err)
{
    int rc = serve__running(err);
    if (rc != 0)
        return rc;
    const char *team = mops_json_str(spec, "team", NULL);
    int64_t team_id = 0;
    /* Permissions first: the team must be visible and writable. */
    if (json_is_object(spec) && team) {
        if ((rc = auth_team_resolve(ctx, team, &team_id, err)) != 0 ||
            (rc = auth_require(ctx, AUTH_DEPLOYMENT_WRITE, team_id, err)) != 0)
            return rc;
    }
    if ((rc = mops_json_check(spec, "request body", create_fields, err)) != 0)
        return rc;
    const char *name = mops_json_str(spec, "name", "");
    const char *desc = mops_json_str(spec, "description", "");
    if ((rc = mops_name_check("deployment name", name, err)) != 0 ||
        (rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0 ||
        (rc = sticky_check(json_object_get(spec, "sticky"), err)) != 0)
        return rc;
    json_t *primary = NULL, *canaries = NULL, *shadows = NULL;
    if ((rc = target_resolve(ctx, team, json_object_get(spec, "primary"), "primary",
                             SERVE_ROLE_PRIMARY, &primary, err)) != 0 ||
        (rc = targets_resolve(ctx, team, json_object_get(spec, "canaries"), "canaries",
                              SERVE_ROLE_CANARY, &canaries, err)) != 0 ||
        (rc = targets_resolve(ctx, team, json_object_get(spec, "shadows"), "shadows",
                              SERVE_ROLE_SHADOW, &shadows, err)) != 0) {
        json_decref(primary);
        json_decref(canaries);
        return rc;
    }
    json_t *sticky = json_object_get(spec, "sticky");
    json_t *config = json_pack("{s:o, s:o, s:o, s:O}", "primary", primary, "canaries", canaries,
                               "shadows", shadows, "sticky", sticky ? sticky : json_null());
    serve_config_t *c = NULL;
    char *text = mops_json_dump(config);
    if ((rc = config_check(config, err)) != 0 ||
        (rc = config_load(ctx, NULL, name, team_id, team, 1, config, &c, err)) != 0)
        goto out;
    int64_t id = 0, now = mops_now_ms();
    if ((rc = store_begin(ctx->db, err)) != 0)
        goto out;
    rc = store_query_int(ctx->db, &id, err,
                         "INSERT INTO deployments (team_id, name, description, revision, config, "
                         "created_by, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?) "
                         "RETURNING id",
                         "ittt" "Iii", team_id, name, desc, text,
                         ctx->who ? ctx->who->user_id : (int64_t)0, now, now);
    if (rc == MOPS_ECONFLICT)
        rc = mops_err_set(err, MOPS_ECONFLICT, "a deployment named \"%s\" already exists", name);
    if (rc == 0)
        rc = revision_write(ctx, id, 1, "create", text, err);
    if (rc == 0)
        rc = targets_write(ctx, id, config, err);
    if (rc == 0)
        rc = serve__epoch_bump(ctx, err);
    if (rc == 0)
        rc = audit_record(ctx, "deployment.create", target_name(ctx, name), team_id, spec, err);
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        goto out;
    c->deployment_id = id; /* not yet published: still ours to fill */
    serve__publish(c);
    c = NULL;
    dep_t d;
    if ((rc = dep_find(ctx, name, AUTH_DEPLOYMENT_READ, &d, err)) == 0) {
        *out = dep_json(ctx, &d);
        dep_release(&d);
    }
out:
    serve__config_unref(c);
    free(text);
    json_decref(config);
    return rc;
}

int serve_deployment_get(const mops_ctx_t *ctx, const char *name, json_t **out, mops_err_t *err)
{
    dep_t d;
    int rc = serve__running(err);
    if (rc != 0 || (rc = dep_find(ctx, name, AUTH_DEPLOYMENT_READ, &d, err)) != 0)
        return rc;
    *out = dep_json(ctx, &d);
    serve_config_t *live = serve__config_get(name);
    json_object_set_new(*out, "stats",
                        live && live->deployment_id == d.id ? stats_json(live) : json_null());
    serve__config_unref(live);
    dep_release(&d);
    return 0;
}

int serve_deployment_list(const mops_ctx_t *ctx, const serve_deployment_filter_t *f,
                          json_t **out, mops_err_t *err)
{
    int rc = serve__running(err);
    if (rc != 0)
        return rc;
    int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 50;
    store_sql_t q;
    store_sql_init(&q, "SELECT d.name FROM deployments d JOIN teams t ON t.id = d.team_id "
                       "WHERE d.deleted_at IS NULL AND ");
    auth_sql_team_filter(ctx, AUTH_DEPLOYMENT_READ, "d.team_id", &q);
    if (f->team)
        store_sql_add(&q, " AND t.name = ?", "t", f->team);
    if (f->after_id > 0)
        store_sql_add(&q, " AND d.id > ?", "i", f->after_id);
    store_sql_add(&q, " ORDER BY d.id LIMIT ?", "i", (int64_t)limit + 1);
    store_stmt_t *s;
    rc = store_sql_query(ctx->db, &q, &s, err);
    store_sql_release(&q);
    if (rc != 0)
        return rc;
    const char **names = mops_arena_alloc(ctx->arena, sizeof *names * (size_t)(limit + 1));
    int n = 0;
    while ((rc = store_step(s, err)) == STORE_ROW && n <= limit)
        names[n++] = mops_arena_strdup(ctx->arena, store_col_text(s, 0));
    store_finalize(s);
    if (rc < 0)
        return rc;
    int more = n > limit;
    if (more)
        n = limit;
    json_t *items = json_array();
    int64_t last = 0;
    for (int i = 0; i < n; i++) {
        dep_t d;
        if ((rc = dep_find(ctx, names[i], AUTH_DEPLOYMENT_READ, &d, err)) != 0) {
            if (rc == MOPS_ENOTFOUND)
                continue; /* deleted meanwhile */
            json_decref(items);
            return rc;
        }
        last = d.id;
        json_array_append_new(items, dep_json(ctx, &d));
        dep_release(&d);
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next_page_token",
                     more ? json_sprintf("%lld", (long long)last) : json_null());
    return 0;
}

/* Write revision d->revision + 1 with config, audited as action, and
 * publish it. detail goes into the audit entry. */
static int dep_write(const mops_ctx_t *ctx, dep_t *d, const char *action, json_t *config,
                     const char *description, const json_t *detail, int64_t if_revision,
                     mops_err_t *err)
{
    int rc = config_check(config, err);
    serve_config_t *c = NULL;
    if (rc == 0)
        rc = config_load(ctx, d, d->name, d->team_id, d->team, d->revision + 1, config, &c, err);
    if (rc != 0)
        return rc;
    char *text = mops_json_dump(config);
    if ((rc = store_begin(ctx->db, err)) != 0)
        goto out;
    int64_t now = mops_now_ms(), current = 0;
    /* The revision read before loading must still be the current one. */
    rc = store_query_int(ctx->db, &current, err,
                         "SELECT revision FROM deployments WHERE id = ? AND deleted_at IS NULL",
                         "i", d->id);
    if (rc == MOPS_ENOTFOUND)
        rc = not_found(d->name, err);
    else if (rc == 0 && (current != d->revision || (if_revision && if_revision != current)))
        rc = mops_err_set(err, MOPS_ECONFLICT,
                          "deployment %s is at revision %lld%s; read it again and retry",
                          d->name, (long long)current,
                          if_revision && if_revision != current ? ", not the one you named"
                                                                : " (changed meanwhile)");
    if (rc == 0)
        rc = store_exec(ctx->db, NULL, err,
                        "UPDATE deployments SET revision = ?, config = ?, description = ?, "
                        "updated_at = ? WHERE id = ?",
                        "ittii", d->revision + 1, text, description, now, d->id);
    if (rc == 0)
        rc = revision_write(ctx, d->id, d->revision + 1, action, text, err);
    if (rc == 0)
        rc = targets_write(ctx, d->id, config, err);
    if (rc == 0)
        rc = serve__epoch_bump(ctx, err);
    if (rc == 0) {
        char audit_action[48];
        snprintf(audit_action, sizeof audit_action, "deployment.%s", action);
        rc = audit_record(ctx, audit_action, target_name(ctx, d->name), d->team_id, detail, err);
    }
    if ((rc = store_end(ctx->db, rc, err)) != 0)
        goto out;
    serve__publish(c);
    c = NULL;
out:
    serve__config_unref(c);
    free(text);
    return rc;
}

/* Find target t (model and version) among the canaries of config: *index
 * gets its position, or -1 when it is not one. */
static int canary_index(const mops_ctx_t *ctx, const char *team, const json_t *config,
                        const json_t *t, int *index, mops_err_t *err)
{
    json_t *r;
    int rc = target_resolve(ctx, team, t, "promote", SERVE_ROLE_PRIMARY, &r, err);
    if (rc != 0)
        return rc;
    json_int_t vid = json_integer_value(json_object_get(r, "version_id"));
    json_decref(r);
    size_t i;
    json_t *c;
    *index = -1;
    json_array_foreach(json_object_get(config, "canaries"), i, c)
        if (json_integer_value(json_object_get(c, "version_id")) == vid)
            *index = (int)i;
    return 0;
}

int serve_deployment_update(const mops_ctx_t *ctx, const char *name, const json_t *spec,
                            json_t **out, mops_err_t *err)
{
    dep_t d;
    int rc = serve__running(err);
    if (rc != 0 || (rc = dep_find(ctx, name, AUTH_DEPLOYMENT_WRITE, &d, err)) != 0)
        return rc;
    json_t *config = json_deep_copy(d.config), *part = NULL;
    const char *desc = mops_json_str(spec, "description", d.description);
    const char *action = "update";
    if ((rc = mops_json_check(spec, "request body", update_fields, err)) != 0 ||
        (rc = mops_text_check("description", desc, MOPS_TEXT_MAX, err)) != 0 ||
        (rc = sticky_check(json_object_get(spec, "sticky"), err)) != 0)
        goto out;
    if (json_object_size(spec) == 0 ||
        (json_object_size(spec) == 1 && json_object_get(spec, "if_revision"))) {
        rc = mops_err_set(err, MOPS_EINVAL,
                          "nothing to change: give description, primary, canaries, shadows, "
                          "sticky or promote");
        goto out;
    }
    if (json_object_get(spec, "primary")) {
        if ((rc = target_resolve(ctx, d.team, json_object_get(spec, "primary"), "primary",
                                 SERVE_ROLE_PRIMARY, &part, err)) != 0)
            goto out;
        json_object_set_new(config, "primary", part);
    }
    if (json_object_get(spec, "canaries")) {
        if ((rc = targets_resolve(ctx, d.team, json_object_get(spec, "canaries"), "canaries",
                                  SERVE_ROLE_CANARY, &part, err)) != 0)
            goto out;
        json_object_set_new(config, "canaries", part);
    }
    if (json_object_get(spec, "shadows")) {
        if ((rc = targets_resolve(ctx, d.team, json_object_get(spec, "shadows"), "shadows",
                                  SERVE_ROLE_SHADOW, &part, err)) != 0)
            goto out;
        json_object_set_new(config, "shadows", part);
    }
    if (json_object_get(spec, "sticky"))
        json_object_set(config, "sticky", json_object_get(spec, "sticky"));
    if (json_object_get(spec, "promote")) {
        /* The canary becomes the primary; the old primary leaves. */
        int k;
        if ((rc = canary_index(ctx, d.team, config, json_object_get(spec, "promote"), &k, err)) !=
            0)
            goto out;
        if (k < 0) {
            rc = mops_err_set(err, MOPS_EINVAL,
                              "promote: that version is not a canary of deployment %s", name);
            goto out;
        }
        json_t *canaries = json_object_get(config, "canaries");
        json_t *winner = json_deep_copy(json_array_get(canaries, (size_t)k));
        json_object_del(winner, "weight");
        json_array_remove(canaries, (size_t)k);
        json_object_set_new(config, "primary", winner);
        action = "promote";
    }
    /* Re-check every target: a version kept from before may have been
     * archived or moved to a stage that takes no traffic. */
    rc = dep_write(ctx, &d, action, config, desc, spec,
                   json_integer_value(json_object_get(spec, "if_revision")), err);
    if (rc == 0)
        rc = serve_deployment_get(ctx, name, out, err);
out:
    json_decref(config);
    dep_release(&d);
    return rc;
}

int serve_deployment_rollback(const mops_ctx_t *ctx, const char *name, const json_t *spec,
                              json_t **out, mops_err_t *err)
{
    dep_t d;
    int rc = serve__running(err);
    if (rc != 0 || (rc = dep_find(ctx, name, AUTH_DEPLOYMENT_WRITE, &d, err)) != 0)
        return rc;
    json_t *config = NULL;
    if ((rc = mops_json_check(spec, "request body", rollback_fields, err)) != 0)
        goto out;
    json_int_t to = json_object_get(spec, "revision")
                        ? json_integer_value(json_object_get(spec, "revision"))
                        : d.revision - 1;
    if (to < 1 || to >= d.revision) {
        rc = d.revision == 1 && !json_object_get(spec, "revision")
                 ? mops_err_set(err, MOPS_EPRECOND,
                                "deployment %s has no earlier revision to roll back to", name)
                 : mops_err_set(err, MOPS_EINVAL,
                                "revision must be from 1 to %lld (the current one is %lld)",
                                (long long)d.revision - 1, (long long)d.revision);
        goto out;
    }
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT config FROM deployment_revisions WHERE deployment_id = ? AND "
                          "revision = ?",
                          "ii", d.id, (int64_t)to)) != 0)
        goto out;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        config = json_loads(store_col_text(s, 0), 0, NULL);
        rc = config ? 0 : mops_err_set(err, MOPS_ECORRUPT, "revision %lld is unreadable",
                                       (long long)to);
    } else if (rc == STORE_DONE) {
        rc = mops_err_set(err, MOPS_ENOTFOUND, "deployment %s has no revision %lld", name,
                          (long long)to);
    }
    store_finalize(s);
    if (rc != 0)
        goto out;
    /* The old configuration's versions must still be allowed traffic. */
    const char *roles[] = {"primary", "canaries", "shadows"};
    for (int i = 0; i < 3 && rc == 0; i++) {
        json_t *list = json_object_get(config, roles[i]);
        json_t *one = i == 0 ? json_array() : NULL;
        if (one)
            json_array_append(one, list);
        size_t k;
        json_t *t;
        json_array_foreach(one ? one : list, k, t) {
            registry_version_ref_t r;
            if (rc == 0 &&
                (rc = registry_version_ref_by_id(
                     ctx, json_integer_value(json_object_get(t, "version_id")), &r, err)) == 0) {
                serve_role_t role = i == 0 ? SERVE_ROLE_PRIMARY
                                    : i == 1 ? SERVE_ROLE_CANARY
                                             : SERVE_ROLE_SHADOW;
                if (r.archived || !serve_stage_allows(r.stage, role))
                    rc = mops_err_set(err, MOPS_EPRECOND,
                                      "cannot roll back to revision %lld: version %s/%s@%lld is "
                                      "%s%s",
                                      (long long)to, r.m.team, r.m.model, (long long)r.number,
                                      r.archived ? "archived" : "in stage ",
                                      r.archived ? "" : r.stage);
            }
        }
        json_decref(one);
    }
    if (rc == 0) {
        json_t *detail = json_pack("{s:I, s:I}", "from", (json_int_t)d.revision, "to", to);
        rc = dep_write(ctx, &d, "rollback", config, d.description, detail,
                       json_integer_value(json_object_get(spec, "if_revision")), err);
        json_decref(detail);
    }
    if (rc == 0)
        rc = serve_deployment_get(ctx, name, out, err);
out:
    json_decref(config);
    dep_release(&d);
    return rc;
}

int serve_deployment_delete(const mops_ctx_t *ctx, const char *name, mops_err_t *err)
{
    dep_t d;
    int rc = serve__running(err);
    if (rc != 0 || (rc = dep_find(ctx, name, AUTH_DEPLOYMENT_WRITE, &d, err)) != 0)
        return rc;
    char *text = mops_json_dump(d.config);
    int64_t now = mops_now_ms(), changes = 0;
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = store_exec(ctx->db, &changes, err,
                         "UPDATE deployments SET deleted_at = ?, updated_at = ?, revision = "
                         "revision + 1 WHERE id = ? AND deleted_at IS NULL",
                         "iii", now, now, d.id)) == 0) {
        if (changes == 0)
            rc = not_found(name, err);
        if (rc == 0)
            rc = store_query_int(ctx->db, &d.revision, err,
                                 "SELECT revision FROM deployments WHERE id = ?", "i", d.id);
        if (rc == 0)
            rc = revision_write(ctx, d.id, d.revision, "delete", text, err);
        if (rc == 0)
            rc = store_exec(ctx->db, NULL, err,
                            "DELETE FROM deployment_targets WHERE deployment_id = ?", "i", d.id);
        if (rc == 0)
            rc = serve__epoch_bump(ctx, err);
        if (rc == 0)
            rc = audit_record(ctx, "deployment.delete", target_name(ctx, name), d.team_id, NULL,
                              err);
    }
    rc = store_end(ctx->db, rc, err);
    if (rc == 0)
        serve__unpublish(d.id, 1);
    free(text);
    dep_release(&d);
    return rc;
}

int serve_deployment_history(const mops_ctx_t *ctx, const char *name, int64_t before_revision,
                             int limit, json_t **out, mops_err_t *err)
{
    dep_t d;
    int rc = serve__running(err);
    if (rc != 0 || (rc = dep_find(ctx, name, AUTH_DEPLOYMENT_READ, &d, err)) != 0)
        return rc;
    if (limit < 1 || limit > 1000)
        limit = 50;
    store_stmt_t *s;
    rc = store_query(ctx->db, &s, err,
                     "SELECT r.revision, r.action, r.config, COALESCE(u.name, ''), r.created_at "
                     "FROM deployment_revisions r LEFT JOIN users u ON u.id = r.created_by "
                     "WHERE r.deployment_id = ? AND r.revision < ? ORDER BY r.revision DESC "
                     "LIMIT ?",
                     "iii", d.id, before_revision > 0 ? before_revision : INT64_MAX,
                     (int64_t)limit + 1);
    dep_release(&d);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    int n = 0;
    int64_t last = 0;
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (n++ == limit)
            break;
        json_t *config = json_loads(store_col_text(s, 2), 0, NULL);
        last = store_col_int(s, 0);
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:o, s:s, s:o}", "revision", (json_int_t)last, "action",
                             store_col_text(s, 1), "config",
                             config ? config_public(config) : json_null(), "by",
                             store_col_text(s, 3), "at", mops_json_time(store_col_int(s, 4))));
        json_decref(config);
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next_page_token",
                     n > limit ? json_sprintf("%lld", (long long)last) : json_null());
    return 0;
}

/* ------------------------------------------------------------- stats */

static json_t *target_stats(const serve_target_t *t)
{
    char label[200];
    serve__model_label(t->model, label, sizeof label);
    json_t *o = json_pack("{s:s, s:s, s:i, s:I}", "version", label, "role",
                          serve_role_name(t->role), "weight", t->weight, "requests",
                          (json_int_t)atomic_load(&t->requests));
    if (t->role == SERVE_ROLE_SHADOW) {
        uint64_t a = atomic_load(&t->agree), b = atomic_load(&t->disagree);
        json_object_set_new(o, "agree", json_integer((json_int_t)a));
        json_object_set_new(o, "disagree", json_integer((json_int_t)b));
        json_object_set_new(o, "errors", json_integer((json_int_t)atomic_load(&t->errors)));
        json_object_set_new(o, "dropped", json_integer((json_int_t)atomic_load(&t->dropped)));
        json_object_set_new(o, "agreement",
                            a + b ? json_real((double)a / (double)(a + b)) : json_null());
        json_object_del(o, "weight");
    }
    return o;
}

static json_t *stats_json(const serve_config_t *c)
{
    const serve_stats_t *s = c->stats;
    json_t *versions = json_array(), *shadows = json_array();
    for (size_t i = 0; i < c->ntargets; i++)
        json_array_append_new(versions, target_stats(&c->targets[i]));
    for (size_t i = 0; i < c->nshadows; i++)
        json_array_append_new(shadows, target_stats(&c->shadows[i]));
    return json_pack("{s:o, s:I, s:I, s:I, s:{s:f, s:f, s:f}, s:o, s:o, s:{s:I, s:I}, s:I}",
                     "since", mops_json_time(s->since_ms), "requests",
                     (json_int_t)atomic_load(&s->requests), "errors",
                     (json_int_t)atomic_load(&s->errors), "rows",
                     (json_int_t)atomic_load(&s->rows), "latency_us", "p50",
                     serve__stats_quantile(s, 0.5), "p90", serve__stats_quantile(s, 0.9), "p99",
                     serve__stats_quantile(s, 0.99), "versions", versions, "shadows", shadows,
                     "prediction_log", "dropped", (json_int_t)atomic_load(&s->log_dropped),
                     "sampled_out", (json_int_t)atomic_load(&s->log_sampled), "revision",
                     (json_int_t)c->revision);
}

int serve_deployment_stats(const mops_ctx_t *ctx, const char *name, json_t **out,
                           mops_err_t *err)
{
    dep_t d;
    int rc = serve__running(err);
    if (rc != 0 || (rc = dep_find(ctx, name, AUTH_DEPLOYMENT_READ, &d, err)) != 0)
        return rc;
    serve_config_t *live = serve__config_get(name);
    if (!live || live->deployment_id != d.id) {
        /* Not loaded here yet (just started, or created elsewhere). */
        serve__config_unref(live);
        mops_err_t why;
        live = serve__sync(ctx, name, NULL, &why) == 0 ? serve__config_get(name) : NULL;
    }
    size_t nmodels, bytes;
    serve__models_count(&nmodels, &bytes);
    *out = json_pack("{s:s, s:o, s:o, s:{s:I, s:I}}", "deployment", name, "stats",
                     live ? stats_json(live) : json_null(), "prediction_log", serve__log_json(),
                     "models_loaded", "count", (json_int_t)nmodels, "bytes", (json_int_t)bytes);
    serve__config_unref(live);
    dep_release(&d);
    return rc;
}

int serve__deployment_primary(const mops_ctx_t *ctx, const char *name, auth_perm_t perm,
                              int64_t *id, int64_t *team_id, int64_t *version_id, mops_err_t *err)
{
    dep_t d;
    int rc = dep_find(ctx, name, perm, &d, err);
    if (rc != 0)
        return rc;
    *id = d.id;
    *team_id = d.team_id;
    *version_id = json_integer_value(json_object_get(json_object_get(d.config, "primary"),
                                                     "version_id"));
    dep_release(&d);
    return 0;
}

int serve_version_deployments(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                              mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT d.name, t.role, t.weight FROM deployment_targets t JOIN "
                         "deployments d ON d.id = t.deployment_id WHERE t.version_id = ? AND "
                         "d.deleted_at IS NULL ORDER BY d.name, t.role",
                         "i", version_id);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(items, json_pack("{s:s, s:s, s:I}", "name", store_col_text(s, 0),
                                               "role", store_col_text(s, 1), "weight",
                                               (json_int_t)store_col_int(s, 2)));
    store_finalize(s);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}
