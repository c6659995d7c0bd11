/*
 * lineage.c — dataset version → model versions trained or validated on it
 * → deployments → prediction volumes, and back from a model version.
 *
 * Trained-on comes from a model version's "dataset" field when it holds a
 * canonical reference ("dataset:TEAM/NAME@N"; the registry finds those),
 * and from links recorded here; validated-on from links recorded here
 * (POST /api/v1/lineage/links, or governance's validations through
 * data_lineage_link). Deployments and their prediction counts come from
 * the serving module through the provider it registers at start-up; until
 * one is registered, deployments are reported as unknown (null).
 *
 * Everything shown is what the caller may read: objects in other teams
 * are counted in "hidden", never named.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/text.h"
#include "core/time.h"
#include "data/data_int.h"
#include "registry/registry.h"

static data_deployments_fn deployments_fn;

/* Is v one of the items of array a? */
static int json_contains(const json_t *a, const json_t *v)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (json_equal(x, v))
            return 1;
    }
    return 0;
}

void data_lineage_set_deployments(data_deployments_fn fn)
{
    deployments_fn = fn;
}

static const mops_json_field_t link_fields[] = {
    {"model", MOPS_JSON_STRING, 1},
    {"dataset", MOPS_JSON_STRING, 1},
    {"relation", MOPS_JSON_STRING, 1},
    {"detail", MOPS_JSON_OBJECT, 0},
    {NULL, 0, 0},
};

/* "TEAM/MODEL@N" into its parts (in the arena). */
static int model_ref_parse(const mops_ctx_t *ctx, const char *text, const char **team,
                           const char **model, int64_t *version, mops_err_t *err)
{
    const char *slash = strchr(text, '/'), *at = slash ? strchr(slash, '@') : NULL;
    long long v;
    if (!slash || !at || slash == text || at == slash + 1 || mops_parse_i64(at + 1, &v) != 0 ||
        v < 1)
        return mops_err_set(err, MOPS_EINVAL,
                            "model \"%s\" must be TEAM/MODEL@VERSION (e.g. fraud/churn@3)",
                            mops_text_show(text));
    *team = mops_arena_strndup(ctx->arena, text, (size_t)(slash - text));
    *model = mops_arena_strndup(ctx->arena, slash + 1, (size_t)(at - slash - 1));
    *version = v;
    return 0;
}

static const char *model_id(const mops_ctx_t *ctx, const char *team, const char *model,
                            int64_t version)
{
    return mops_arena_printf(ctx->arena, "model:%s/%s@%lld", team, model, (long long)version);
}

/* The deployments of a model version, or null when no provider is known. */
static int deployments_of(const mops_ctx_t *ctx, const char *team, const char *model,
                          int64_t version, json_t **out, mops_err_t *err)
{
    if (!deployments_fn) {
        *out = json_null();
        return 0;
    }
    return deployments_fn(ctx, team, model, version, out, err);
}

/* ------------------------------------------------------------ links */

int data_lineage_link(const mops_ctx_t *ctx, const json_t *spec, json_t **out, mops_err_t *err)
{
    int rc = mops_json_check(spec, "request body", link_fields, err);
    if (rc != 0)
        return rc;
    const char *team = NULL, *model = NULL, *relation = mops_json_str(spec, "relation", "");
    int64_t number = 0, team_id = 0;
    data_ref_t ref;
    dt_dataset_t d;
    dt_version_t v;
    json_t *mv = NULL;
    if ((rc = model_ref_parse(ctx, mops_json_str(spec, "model", ""), &team, &model, &number,
                              err)) != 0 ||
        (rc = auth_team_resolve(ctx, team, &team_id, err)) != 0)
        return rc;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)number);
    if ((rc = registry_version_get(ctx, team, model, num, &mv, err)) != 0 ||
        (rc = auth_require(ctx, AUTH_VERSION_WRITE, team_id, err)) != 0 ||
        (rc = data_ref_parse(mops_json_str(spec, "dataset", ""), &ref, err)) != 0 ||
        (rc = dt_ref_resolve(ctx, &ref, AUTH_DATASET_READ, &d, &v, err)) != 0)
        goto out;
    if (strcmp(relation, "validated-on") != 0 && strcmp(relation, "trained-on") != 0) {
        rc = mops_err_set(err, MOPS_EINVAL, "relation \"%s\" must be validated-on or trained-on",
                          mops_text_show(relation));
        goto out;
    }
    json_t *detail = json_object_get(spec, "detail");
    char *text = detail ? mops_json_dump(detail) : mops_xstrdup("{}");
    int64_t fresh = 0;
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = store_exec(ctx->db, &fresh, err,
                         "INSERT INTO dataset_lineage (version_id, model_team_id, model_name, "
                         "model_version, relation, detail, created_by, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (version_id, model_team_id, "
                         "model_name, model_version, relation) DO NOTHING",
                         "iitittIi", v.id, team_id, model, number, relation, text,
                         ctx->who ? ctx->who->user_id : 0, mops_now_ms())) == 0 &&
        fresh)
        rc = audit_record(ctx, "dataset.lineage.link", dt_target(ctx, &d, v.number), d.team_id,
                          spec, err);
    free(text);
    if ((rc = store_end(ctx->db, rc, err)) == 0)
        *out = json_pack("{s:s, s:s, s:s, s:b}", "model", model_id(ctx, team, model, number),
                         "dataset", dt_ref_text(ctx, &d, v.number), "relation", relation,
                         "created", fresh != 0);
out:
    json_decref(mv);
    return rc;
}

/* ------------------------------------------------------------ graphs */

typedef struct graph {
    json_t *nodes, *edges, *seen; /* seen: node ids already added */
    int64_t hidden_models, hidden_datasets;
} graph_t;

static void graph_init(graph_t *g)
{
    g->nodes = json_array();
    g->edges = json_array();
    g->seen = json_object();
    g->hidden_models = g->hidden_datasets = 0;
}

static void graph_release(graph_t *g)
{
    json_decref(g->nodes);
    json_decref(g->edges);
    json_decref(g->seen);
}

/* Add a node (stealing it) unless one with its id is there. */
static void add_node(graph_t *g, json_t *node)
{
    const char *id = mops_json_str(node, "id", "");
    if (json_object_get(g->seen, id)) {
        json_decref(node);
        return;
    }
    json_object_set_new(g->seen, id, json_true());
    json_array_append_new(g->nodes, node);
}

static void add_edge(graph_t *g, const char *from, const char *to, const char *relation)
{
    json_array_append_new(g->edges, json_pack("{s:s, s:s, s:s}", "from", from, "to", to,
                                              "relation", relation));
}

/* A dataset version's node: size, quality, PII columns. */
static int dataset_node(const mops_ctx_t *ctx, const dt_dataset_t *d, const dt_version_t *v,
                        json_t **out, mops_err_t *err)
{
    json_t *full;
    int rc = dt_version_json(ctx, d, v->id, &full, err);
    if (rc != 0)
        return rc;
    *out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:O, s:b}", "id",
                     dt_ref_text(ctx, d, v->number), "kind", "dataset_version", "team", d->team,
                     "dataset", d->name, "version", (json_int_t)v->number, "rows",
                     json_object_get(full, "rows"), "pii_columns",
                     json_object_get(full, "pii_columns"), "quality",
                     json_object_get(full, "quality"), "archived", v->archived);
    json_decref(full);
    return 0;
}

/* A model version node with its deployments, and the edges to them. */
static int model_node(const mops_ctx_t *ctx, graph_t *g, const char *team, const char *model,
                      int64_t version, const char *stage, int archived, json_t **deployments,
                      mops_err_t *err)
{
    const char *id = model_id(ctx, team, model, version);
    json_t *deps = NULL;
    int rc = deployments_of(ctx, team, model, version, &deps, err);
    if (rc != 0)
        return rc;
    *deployments = deps;
    if (json_object_get(g->seen, id))
        return 0; /* met before by another relation */
    add_node(g, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "id", id, "kind",
                          "model_version", "team", team, "model", model, "version",
                          (json_int_t)version, "stage", stage, "archived", archived));
    size_t i;
    json_t *dep;
    json_array_foreach(deps, i, dep) {
        const char *dname = mops_json_str(dep, "name", "?");
        const char *did = mops_arena_printf(ctx->arena, "deployment:%s/%s", team, dname);
        json_t *node = json_deep_copy(dep);
        json_object_set_new(node, "id", json_string(did));
        json_object_set_new(node, "kind", json_string("deployment"));
        add_node(g, node);
        add_edge(g, id, did, "deployed-as");
    }
    return 0;
}

/* Links recorded for a dataset version: [team, model, version, relation]. */
static int links_of_version(const mops_ctx_t *ctx, int64_t version_id, json_t **out,
                            int64_t *hidden, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT t.name, l.model_name, l.model_version, l.relation, "
                         "l.model_team_id FROM dataset_lineage l JOIN teams t ON "
                         "t.id = l.model_team_id WHERE l.version_id = ? ORDER BY l.id",
                         "i", version_id);
    if (rc != 0)
        return rc;
    json_t *a = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW) {
        if (!auth_can(ctx->who, AUTH_MODEL_READ, store_col_int(s, 4))) {
            (*hidden)++;
            continue;
        }
        json_array_append_new(a, json_pack("[s, s, I, s]", store_col_text(s, 0),
                                           store_col_text(s, 1), (json_int_t)store_col_int(s, 2),
                                           store_col_text(s, 3)));
    }
    store_finalize(s);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

int data_lineage_dataset(const mops_ctx_t *ctx, const char *team, const char *name,
                         const char *ref, const char *stage, json_t **out, mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    json_t *root = NULL, *trained = NULL, *links = NULL, *production = json_array();
    int64_t hidden = 0;
    graph_t g;
    graph_init(&g);
    int rc;
    if ((rc = dt_resolve(ctx, team, name, ref, AUTH_DATASET_READ, &d, &v, err)) != 0 ||
        (rc = dataset_node(ctx, &d, &v, &root, err)) != 0)
        goto out;
    const char *rid = dt_ref_text(ctx, &d, v.number);
    add_node(&g, json_incref(root));
    if ((rc = registry_version_find_by_dataset(ctx, rid, &trained, &hidden, err)) != 0 ||
        (rc = links_of_version(ctx, v.id, &links, &hidden, err)) != 0)
        goto out;
    /* Both sources as [team, model, version, relation, stage, archived]. */
    json_t *all = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(trained, i, m)
        json_array_append_new(all, json_pack("[O, O, O, s, O, O]", json_object_get(m, "team"),
                                             json_object_get(m, "model"),
                                             json_object_get(m, "version"), "trained-on",
                                             json_object_get(m, "stage"),
                                             json_object_get(m, "archived")));
    json_array_foreach(links, i, m) {
        json_t *mv = NULL;
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(json_array_get(m, 2)));
        mops_err_t ignored;
        if (registry_version_get(ctx, json_string_value(json_array_get(m, 0)),
                                 json_string_value(json_array_get(m, 1)), num, &mv,
                                 &ignored) != 0)
            continue; /* a model the caller cannot see: counted already, or gone */
        json_array_append_new(all, json_pack("[O, O, O, O, O, O]", json_array_get(m, 0),
                                             json_array_get(m, 1), json_array_get(m, 2),
                                             json_array_get(m, 3), json_object_get(mv, "stage"),
                                             json_object_get(mv, "archived")));
        json_decref(mv);
    }
    const char *want = stage ? stage : "production";
    json_array_foreach(all, i, m) {
        const char *mt = json_string_value(json_array_get(m, 0));
        const char *mn = json_string_value(json_array_get(m, 1));
        int64_t num = json_integer_value(json_array_get(m, 2));
        const char *rel = json_string_value(json_array_get(m, 3));
        const char *mstage = json_string_value(json_array_get(m, 4));
        json_t *deps = NULL;
        if ((rc = model_node(ctx, &g, mt, mn, num, mstage, json_is_true(json_array_get(m, 5)),
                             &deps, err)) != 0)
            break;
        const char *mid = model_id(ctx, mt, mn, num);
        add_edge(&g, rid, mid, rel);
        /* one entry per model version, with every way it used the data */
        json_t *entry = NULL;
        size_t j;
        json_t *p;
        json_array_foreach(production, j, p) {
            if (!strcmp(mops_json_str(p, "id", ""), mid))
                entry = p;
        }
        if (entry)
            json_array_append_new(json_object_get(entry, "relations"), json_string(rel));
        else if (!strcmp(mstage, want))
            json_array_append_new(production,
                                  json_pack("{s:s, s:s, s:s, s:I, s:[s], s:s, s:O}", "id", mid,
                                            "team", mt, "model", mn, "version", (json_int_t)num,
                                            "relations", rel, "stage", mstage, "deployments",
                                            deps));
        json_decref(deps);
    }
    json_decref(all);
    if (rc != 0)
        goto out;
    *out = json_pack("{s:s, s:O, s:O, s:O, s:s, s:O, s:{s:I}}", "root", rid, "nodes", g.nodes,
                     "edges", g.edges, "production", production, "stage", want,
                     "deployments_known", deployments_fn ? json_true() : json_false(), "hidden",
                     "model_versions", (json_int_t)hidden);
out:
    json_decref(root);
    json_decref(trained);
    json_decref(links);
    json_decref(production);
    graph_release(&g);
    return rc;
}

/* Datasets linked to a model version: [ref, relation] rows, and how many
 * of them the caller cannot read. */
static int links_of_model(const mops_ctx_t *ctx, int64_t team_id, const char *model,
                          int64_t version, json_t **out, mops_err_t *err)
{
    store_stmt_t *s;
    int rc = store_query(ctx->db, &s, err,
                         "SELECT t.name, d.name, v.number, l.relation FROM dataset_lineage l "
                         "JOIN dataset_versions v ON v.id = l.version_id "
                         "JOIN datasets d ON d.id = v.dataset_id JOIN teams t ON t.id = d.team_id "
                         "WHERE l.model_team_id = ? AND l.model_name = ? AND l.model_version = ? "
                         "ORDER BY l.id",
                         "iti", team_id, model, version);
    if (rc != 0)
        return rc;
    json_t *a = json_array();
    while ((rc = store_step(s, err)) == STORE_ROW)
        json_array_append_new(
            a, json_pack("[s, s]",
                         mops_arena_printf(ctx->arena, "dataset:%s/%s@%lld", store_col_text(s, 0),
                                           store_col_text(s, 1), (long long)store_col_int(s, 2)),
                         store_col_text(s, 3)));
    store_finalize(s);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

/* The model version and its datasets as [ref, relation] pairs: the
 * registry's dataset field (when canonical) and the recorded links. */
static int model_datasets(const mops_ctx_t *ctx, const char *team, const char *model,
                          const char *ref, json_t **mv, json_t **pairs, json_t **other,
                          mops_err_t *err)
{
    int64_t team_id;
    int rc = auth_team_resolve(ctx, team, &team_id, err);
    if (rc != 0 || (rc = registry_version_get(ctx, team, model, ref, mv, err)) != 0)
        return rc;
    int64_t number = json_integer_value(json_object_get(*mv, "version"));
    json_t *links = NULL;
    if ((rc = links_of_model(ctx, team_id, model, number, &links, err)) != 0) {
        json_decref(*mv);
        return rc;
    }
    json_t *p = json_array();
    const char *field = mops_json_str(*mv, "dataset", "");
    data_ref_t r;
    *other = json_null();
    if (*field && data_ref_parse(field, &r, NULL) == 0)
        json_array_append_new(p, json_pack("[s, s]", field, "trained-on"));
    else if (*field)
        *other = json_string(field);
    json_array_extend(p, links);
    json_decref(links);
    *pairs = p;
    return 0;
}

int data_lineage_model(const mops_ctx_t *ctx, const char *team, const char *model,
                       const char *ref, json_t **out, mops_err_t *err)
{
    json_t *mv = NULL, *pairs = NULL, *other = NULL, *deps = NULL;
    graph_t g;
    graph_init(&g);
    int rc = model_datasets(ctx, team, model, ref, &mv, &pairs, &other, err);
    if (rc != 0)
        goto out;
    int64_t number = json_integer_value(json_object_get(mv, "version"));
    const char *mid = model_id(ctx, team, model, number);
    if ((rc = model_node(ctx, &g, team, model, number, mops_json_str(mv, "stage", ""),
                         json_is_true(json_object_get(mv, "archived")), &deps, err)) != 0)
        goto out;
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p) {
        const char *text = json_string_value(json_array_get(p, 0));
        data_ref_t r;
        dt_dataset_t d;
        dt_version_t v;
        json_t *node = NULL;
        mops_err_t e;
        if (data_ref_parse(text, &r, NULL) != 0)
            continue;
        int vis = dt_ref_resolve(ctx, &r, AUTH_DATASET_READ, &d, &v, &e);
        if (vis == MOPS_ENOTFOUND || vis == MOPS_EFORBIDDEN) {
            /* another team's dataset, or one that does not exist (any more) */
            add_node(&g, json_pack("{s:s, s:s, s:b}", "id", text, "kind", "dataset_version",
                                   "visible", 0));
            g.hidden_datasets++;
        } else if (vis != 0) {
            rc = vis;
            if (err)
                *err = e;
            goto out;
        } else {
            d.team = mops_arena_strdup(ctx->arena, r.team);
            d.name = mops_arena_strdup(ctx->arena, r.name);
            if ((rc = dataset_node(ctx, &d, &v, &node, err)) != 0)
                goto out;
            add_node(&g, node);
        }
        add_edge(&g, text, mid, json_string_value(json_array_get(p, 1)));
    }
    *out = json_pack("{s:s, s:O, s:O, s:O, s:O, s:b, s:{s:I}}", "root", mid, "nodes", g.nodes,
                     "edges", g.edges, "deployments", deps ? deps : json_null(), "dataset_field",
                     other, "deployments_known", deployments_fn != NULL, "hidden", "datasets",
                     (json_int_t)g.hidden_datasets);
out:
    json_decref(mv);
    json_decref(pairs);
    json_decref(other);
    json_decref(deps);
    graph_release(&g);
    return rc;
}

/* ------------------------------------------------------------ seams */

int dt_model_training_refs(const mops_ctx_t *ctx, const char *team, const char *model,
                           int64_t version, json_t **out, mops_err_t *err)
{
    json_t *mv = NULL, *pairs = NULL, *other = NULL;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)version);
    int rc = model_datasets(ctx, team, model, num, &mv, &pairs, &other, err);
    if (rc != 0)
        return rc;
    json_t *refs = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p) {
        if (strcmp(json_string_value(json_array_get(p, 1)), "trained-on") != 0)
            continue;
        size_t j;
        json_t *q;
        int dup = 0;
        json_array_foreach(refs, j, q) dup |= json_equal(q, json_array_get(p, 0));
        if (!dup)
            json_array_append(refs, json_array_get(p, 0));
    }
    json_decref(mv);
    json_decref(pairs);
    json_decref(other);
    *out = refs;
    return 0;
}

int data_pii_columns(const mops_ctx_t *ctx, const data_ref_t *ref, json_t **out,
                     mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    json_t *restricted = NULL, *pii = NULL, *approved = NULL;
    int rc = dt_ref_resolve(ctx, ref, AUTH_DATASET_READ, &d, &v, err);
    if (rc != 0 || (rc = dt_restricted_columns(ctx, v.id, &restricted, err)) != 0)
        return rc;
    if ((rc = dt_pii_state(ctx, v.id, &pii, &approved, err)) != 0) {
        json_decref(restricted);
        return rc;
    }
    json_t *cols = json_array();
    const char *col;
    json_t *tags;
    json_object_foreach(restricted, col, tags)
        json_array_append_new(cols, json_pack("{s:s, s:O}", "name", col, "tags", tags));
    json_decref(restricted);
    json_decref(pii);
    *out = json_pack("{s:s, s:o, s:o}", "dataset", dt_ref_text(ctx, &d, v.number), "columns",
                     cols, "approved", approved);
    return 0;
}

int data_governance_dataset(const mops_ctx_t *ctx, int64_t team_id, const char *dataset,
                            json_t **out, mops_err_t *err)
{
    (void)team_id; /* the reference names the dataset's own team */
    data_ref_t ref;
    dt_dataset_t d;
    dt_version_t v;
    json_t *quality = NULL, *pii = NULL, *approved = NULL;
    int rc;
    if ((rc = data_ref_parse(dataset, &ref, err)) != 0 ||
        (rc = dt_ref_resolve(ctx, &ref, AUTH_DATASET_READ, &d, &v, err)) != 0 ||
        (rc = data_quality_status(ctx, &ref, &quality, err)) != 0)
        return rc;
    if ((rc = dt_pii_state(ctx, v.id, &pii, &approved, err)) != 0) {
        json_decref(quality);
        return rc;
    }
    json_object_set_new(quality, "passed",
                        json_boolean(json_is_true(json_object_get(quality, "validated")) &&
                                     json_is_true(json_object_get(quality, "success")) &&
                                     json_is_true(json_object_get(quality, "current"))));
    *out = json_pack("{s:s, s:o, s:o, s:o}", "dataset", dt_ref_text(ctx, &d, v.number),
                     "quality", quality, "pii_columns", pii, "approved_pii_columns", approved);
    return 0;
}

int data_model_pii(const mops_ctx_t *ctx, const char *team, const char *model, int64_t version,
                   json_t **out, mops_err_t *err)
{
    json_t *refs = NULL;
    int rc = dt_model_training_refs(ctx, team, model, version, &refs, err);
    if (rc != 0)
        return rc;
    json_t *datasets = json_array(), *names = json_array(), *unapproved = json_array();
    int unknown = 0;
    mops_sha256_t *h = mops_sha256_new();
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r) {
        data_ref_t ref;
        json_t *pc = NULL;
        mops_err_t e;
        if (data_ref_parse(json_string_value(r), &ref, NULL) != 0)
            continue;
        int got = data_pii_columns(ctx, &ref, &pc, &e);
        if (got != 0) {
            /* Not readable by the caller: its PII cannot be ruled out. */
            unknown = 1;
            json_array_append_new(datasets, json_pack("{s:O, s:b, s:n}", "dataset", r, "readable",
                                                      0, "columns"));
            mops_sha256_update(h, json_string_value(r), strlen(json_string_value(r)));
            continue;
        }
        size_t j;
        json_t *c, *mine = json_array();
        json_array_foreach(json_object_get(pc, "columns"), j, c) {
            json_t *name = json_object_get(c, "name");
            if (!json_contains(names, name))
                json_array_append(names, name);
            if (json_contains(json_object_get(pc, "approved"), name))
                continue;
            json_array_append(mine, name);
            if (!json_contains(unapproved, name))
                json_array_append(unapproved, name);
        }
        char *text = mops_json_dump(pc);
        mops_sha256_update(h, text, strlen(text));
        free(text);
        json_object_set_new(pc, "unapproved", mine);
        json_object_set_new(pc, "readable", json_true());
        json_array_append_new(datasets, pc);
    }
    char fp[MOPS_SHA256_HEX];
    mops_sha256_final(h, fp);
    json_decref(refs);
    *out = json_pack("{s:s, s:o, s:o, s:o, s:b, s:b, s:s}", "model",
                     model_id(ctx, team, model, version), "datasets", datasets, "columns", names,
                     "unapproved", unapproved, "has_pii", json_array_size(names) > 0 || unknown,
                     "has_unapproved_pii", json_array_size(unapproved) > 0 || unknown,
                     "fingerprint", fp);
    return 0;
}

int data_version_sketches(const mops_ctx_t *ctx, const data_ref_t *ref, json_t **out,
                          mops_err_t *err)
{
    dt_dataset_t d;
    dt_version_t v;
    int rc = dt_ref_resolve(ctx, ref, AUTH_DATASET_READ, &d, &v, err);
    if (rc != 0)
        return rc;
    char sha[65];
    int64_t size = 0;
    store_stmt_t *s;
    if ((rc = store_query(ctx->db, &s, err,
                          "SELECT sketches_sha256, sketches_size FROM dataset_files "
                          "WHERE sha256 = ?",
                          "t", v.sha256)) != 0)
        return rc;
    if ((rc = store_step(s, err)) == STORE_ROW) {
        snprintf(sha, sizeof sha, "%s", store_col_text(s, 0));
        size = store_col_int(s, 1);
    }
    store_finalize(s);
    if (rc != STORE_ROW)
        return rc < 0 ? rc : mops_err_set(err, MOPS_ECORRUPT, "no sketches for sha256:%s",
                                          v.sha256);
    json_t *schema = NULL, *sk = NULL;
    char *text = NULL;
    if ((rc = dt_blob_read(ctx, sha, size, &text, err)) != 0)
        return rc;
    sk = json_loads(text, 0, NULL);
    free(text);
    if (!sk)
        return mops_err_set(err, MOPS_ECORRUPT, "the sketches of sha256:%s are unreadable",
                            v.sha256);
    rc = dt_version_doc(ctx, v.id, "schema", &schema, err);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sk, "columns"), i, c) {
        json_t *sc = json_array_get(json_object_get(schema, "columns"), i);
        json_object_set(c, "kind", json_object_get(sc, "type"));
    }
    json_object_set_new(sk, "dataset", json_string(dt_ref_text(ctx, &d, v.number)));
    json_decref(schema);
    if (rc != 0) {
        json_decref(sk);
        return rc;
    }
    *out = sk;
    return 0;
}
