/*
 * test_governance.c — the governance module on SQLite and PostgreSQL: the
 * lifecycle table and traffic rules, policies (YAML and JSON, errors that
 * name the line or field, versions, scopes), every rule failing for its
 * reason (approvals, model card, validation, fairness via e2e; data,
 * monitoring and cost with and without their providers), separation of
 * duties, approvals voided by a policy or artifact change, freshness
 * flags, retirement and its traffic check, and refused moves recorded.
 *
 * The providers stand in for modules that do not exist yet (serve,
 * monitor, finops, data): they exercise the seam's contract.
 */
#include "testutil.h"
#include "audit/audit.h"
#include "governance/governance.h"
#include "registry/registry.h"

/* ------------------------------------------------------------ fixtures */

typedef struct {
    mops_ctx_t author, ds2, risk1, risk2, mle, viewer, admin, outsider;
} people_t;

static people_t setup(tu_fixture_t *f)
{
    mops_err_t err;
    if (registry_artifacts_init(&f->env, &err) != 0)
        fail_msg("artifacts: %s", err.msg);
    tu_team(f, "a");
    tu_team(f, "b");
    people_t p;
    p.author = tu_as(f, "dana", "a", "[\"data-scientist\", \"risk-officer\"]");
    p.ds2 = tu_as(f, "dave", "a", "[\"data-scientist\"]");
    p.risk1 = tu_as(f, "rob", "a", "[\"risk-officer\"]");
    p.risk2 = tu_as(f, "rita", "a", "[\"risk-officer\"]");
    p.mle = tu_as(f, "eve", "a", "[\"ml-engineer\"]");
    p.viewer = tu_as(f, "vic", "a", "[\"viewer\"]");
    p.admin = tu_as(f, "ada", "a", "[\"admin\"]");
    p.outsider = tu_as(f, "otto", "b", "[\"admin\"]");
    json_t *out = NULL, *spec = tu_json("{\"team\":\"a\",\"name\":\"m\",\"risk_tier\":\"high\"}");
    TU_OK(registry_model_create(&p.author, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    return p;
}

static void upload(const mops_ctx_t *ctx, const char *bytes, char sha[65])
{
    registry_upload_t *u;
    json_t *out = NULL;
    TU_OK(registry_upload_begin(ctx, "a", "m", 1 << 20, &u, &tu_err_));
    TU_OK(registry_upload_write(u, bytes, strlen(bytes), &tu_err_));
    TU_OK(registry_upload_finish(ctx, u, &out, &tu_err_));
    snprintf(sha, 65, "%s", json_string_value(json_object_get(out, "sha256")));
    json_decref(out);
}

/* A new version by ctx; its number as text in ref (16 bytes). */
static void new_version(const mops_ctx_t *ctx, const char *bytes, char *ref)
{
    char sha[65], body[200];
    upload(ctx, bytes, sha);
    snprintf(body, sizeof body,
             "{\"artifact_sha256\":\"%s\",\"format\":\"custom\",\"dataset\":\"ds:churn@1\"}", sha);
    json_t *out = NULL, *spec = tu_json(body);
    TU_OK(registry_version_create(ctx, "a", "m", spec, &out, &tu_err_));
    snprintf(ref, 16, "%lld", (long long)json_integer_value(json_object_get(out, "version")));
    json_decref(spec);
    json_decref(out);
}

static int policy(const mops_ctx_t *ctx, const char *source, json_t **out, mops_err_t *err)
{
    json_t *spec = json_pack("{s:s}", "source", source), *o = NULL;
    int rc = governance_policy_create(ctx, spec, out ? out : &o, err);
    json_decref(spec);
    json_decref(o);
    return rc;
}

static int move(const mops_ctx_t *ctx, const char *ref, const char *to, mops_err_t *err)
{
    json_t *out = NULL, *spec = json_pack("{s:s, s:s}", "to", to, "reason", "test");
    int rc = governance_transition(ctx, "a", "m", ref, spec, &out, err);
    json_decref(spec);
    json_decref(out);
    return rc;
}

static int decide(const mops_ctx_t *ctx, const char *ref, int approve, mops_err_t *err)
{
    json_t *out = NULL, *spec = json_pack("{s:s}", "comment", "c");
    int rc = approve ? governance_review_approve(ctx, "a", "m", ref, spec, &out, err)
                     : governance_review_reject(ctx, "a", "m", ref, spec, &out, err);
    json_decref(spec);
    json_decref(out);
    return rc;
}

static void request_review(const mops_ctx_t *ctx, const char *ref)
{
    json_t *out = NULL, *spec = json_object();
    TU_OK(governance_review_request(ctx, "a", "m", ref, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
}

static const char *stage_of(const mops_ctx_t *ctx, const char *ref, char *buf)
{
    json_t *v = NULL;
    TU_OK(registry_version_get(ctx, "a", "m", ref, &v, &tu_err_));
    snprintf(buf, 24, "%s", json_string_value(json_object_get(v, "stage")));
    json_decref(v);
    return buf;
}

/* The evaluation of ref's rules gating stage (NULL: all). */
static json_t *check(const mops_ctx_t *ctx, const char *ref, const char *stage)
{
    json_t *out = NULL;
    TU_OK(governance_policy_check(ctx, "a", "m", ref, stage, &out, &tu_err_));
    return out;
}

/* The first rule of kind in an evaluation. */
static const json_t *rule_of(const json_t *ev, const char *kind)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(ev, "rules"), i, r) if (
        !strcmp(json_string_value(json_object_get(r, "rule")), kind)) return r;
    fail_msg("no %s rule in the evaluation", kind);
    return NULL;
}

#define STATUS(r) json_string_value(json_object_get((r), "status"))
#define MESSAGE(r) json_string_value(json_object_get((r), "message"))
#define SAYS(msg, s)                                                                               \
    do {                                                                                           \
        if (!strstr((msg), (s)))                                                                   \
            fail_msg("\"%s\" does not say \"%s\"", (msg), (s));                                   \
    } while (0)

/* ------------------------------------------------------------ lifecycle */

static void test_lifecycle_table(void **state)
{
    (void)state;
    assert_true(governance_stage_allows("production", GOVERNANCE_TRAFFIC_PRIMARY));
    assert_true(governance_stage_allows("production", GOVERNANCE_TRAFFIC_SHADOW));
    assert_true(governance_stage_allows("staging", GOVERNANCE_TRAFFIC_CANARY));
    assert_true(governance_stage_allows("staging", GOVERNANCE_TRAFFIC_SHADOW));
    assert_false(governance_stage_allows("staging", GOVERNANCE_TRAFFIC_PRIMARY));
    static const char *const none[] = {"draft", "in_review", "approved", "deprecated", "retired",
                                       "rejected", "nonsense"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        for (int k = 0; k <= GOVERNANCE_TRAFFIC_SHADOW; k++)
            assert_false(governance_stage_allows(none[i], (governance_traffic_t)k));
    assert_true(governance_stage_valid("rejected"));
    assert_false(governance_stage_valid("Production"));
    json_t *l = NULL;
    assert_int_equal(governance_lifecycle(NULL, &l, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(l, "stages")), 8);
    assert_int_equal(json_array_size(json_object_get(l, "transitions")), 12);
    assert_int_equal(json_array_size(json_object_get(l, "rules")), 8);
    json_t *first = json_array_get(json_object_get(l, "transitions"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "permission")),
                        "review.request");
    json_decref(l);
}

static void test_moves_need_their_permission_and_an_edge(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    char v[16], buf[24];
    mops_err_t err;
    new_version(&p.ds2, "v1", v);
    /* No edge: named with where it can go. */
    assert_int_equal(move(&p.admin, v, "production", &err), MOPS_EINVAL);
    SAYS(err.msg, "cannot move to production (from draft: in_review)");
    assert_int_equal(move(&p.admin, v, "prod", &err), MOPS_EINVAL);
    SAYS(err.msg, "is not a stage");
    /* Permissions of each edge. */
    assert_int_equal(move(&p.viewer, v, "in_review", &err), MOPS_EFORBIDDEN);
    SAYS(err.msg, "(review.request)");
    request_review(&p.ds2, v);
    assert_int_equal(decide(&p.mle, v, 1, &err), MOPS_EFORBIDDEN);
    SAYS(err.msg, "(review.decide)");
    assert_int_equal(decide(&p.risk1, v, 1, NULL), 0);
    assert_string_equal(stage_of(&p.viewer, v, buf), "approved");
    assert_int_equal(move(&p.ds2, v, "staging", &err), MOPS_EFORBIDDEN);
    SAYS(err.msg, "(stage.staging)");
    TU_OK(move(&p.mle, v, "staging", &tu_err_));
    assert_int_equal(move(&p.risk1, v, "production", &err), MOPS_EFORBIDDEN);
    SAYS(err.msg, "(stage.production)");
    TU_OK(move(&p.mle, v, "production", &tu_err_));
    /* Another team's version is not there at all. */
    assert_int_equal(move(&p.outsider, v, "deprecated", &err), MOPS_ENOTFOUND);
    /* The body: the reason is required, fields only where they belong. */
    json_t *out = NULL, *spec = tu_json("{\"to\":\"deprecated\"}");
    assert_int_equal(governance_transition(&p.mle, "a", "m", v, spec, &out, &err), MOPS_EINVAL);
    SAYS(err.msg, "\"reason\" is required");
    json_decref(spec);
    spec = tu_json("{\"to\":\"deprecated\",\"reason\":\"x\",\"replacement\":1}");
    assert_int_equal(governance_transition(&p.mle, "a", "m", v, spec, &out, &err), MOPS_EINVAL);
    SAYS(err.msg, "for moves to retired");
    json_decref(spec);
    assert_string_equal(stage_of(&p.viewer, v, buf), "production");

    /* deprecate_others: a new production version retires the old one's
     * place, recorded as its own move. */
    char w[16];
    new_version(&p.ds2, "v2", w);
    request_review(&p.ds2, w);
    TU_OK(decide(&p.risk2, w, 1, &tu_err_));
    TU_OK(move(&p.mle, w, "staging", &tu_err_));
    spec = tu_json("{\"to\":\"production\",\"reason\":\"v2\",\"deprecate_others\":true}");
    TU_OK(governance_transition(&p.mle, "a", "m", w, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    assert_string_equal(stage_of(&p.viewer, v, buf), "deprecated");
    assert_string_equal(stage_of(&p.viewer, w, buf), "production");
    TU_OK(governance_transition_list(&p.viewer, "a", "m", v, &out, &tu_err_));
    json_t *last = json_array_get(json_object_get(out, "items"),
                                  json_array_size(json_object_get(out, "items")) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "reason")),
                        "replaced by version 2");
    json_decref(out);
}

/* ------------------------------------------------------------ policies */

static void test_policy_documents_and_their_errors(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    json_t *out = NULL;
    mops_err_t err;
    TU_OK(policy(&p.risk1,
                 "# comment\n"
                 "name: strict\n"
                 "team: a\n"
                 "risk_tier: high\n"
                 "rules:\n"
                 "  - rule: approvals\n"
                 "    stage: [approved, production]\n"
                 "    count: 2\n"
                 "    roles: [risk-officer, admin]\n"
                 "  - rule: validation\n"
                 "    stage: staging\n"
                 "    threshold: auc >= 0.8\n"
                 "  - rule: freshness\n"
                 "    max_age_days: 30\n",
                 &out, &tu_err_));
    json_t *rules = json_object_get(out, "rules");
    assert_int_equal(json_array_size(rules), 3);
    json_t *r0 = json_deep_copy(json_array_get(rules, 0));
    assert_string_equal(json_string_value(json_object_get(r0, "name")), "approvals");
    assert_int_equal(json_array_size(json_object_get(r0, "stages")), 2);
    assert_int_equal(json_integer_value(json_object_get(r0, "count")), 2);
    assert_string_equal(json_string_value(json_object_get(out, "format")), "yaml");
    assert_string_equal(json_string_value(json_object_get(out, "scope")), "a");
    json_decref(out);
    /* The same in JSON. */
    TU_OK(policy(&p.risk1,
                 "{\"name\":\"strict-json\",\"team\":\"a\",\"rules\":[{\"rule\":\"approvals\","
                 "\"stage\":[\"approved\",\"production\"],\"count\":2,\"roles\":"
                 "[\"risk-officer\",\"admin\"]}]}",
                 &out, &tu_err_));
    assert_true(json_equal(json_array_get(json_object_get(out, "rules"), 0), r0));
    assert_string_equal(json_string_value(json_object_get(out, "format")), "json");
    json_decref(out);
    json_decref(r0);

    static const struct {
        const char *source;
        int rc;
        const char *says;
    } bad[] = {
        {"name: x\nteam: a\nrules:\n  - rule: nope\n    stage: staging\n", MOPS_EINVAL,
         "rule 1 (line 4): unknown rule \"nope\" (rules: approvals, model_card"},
        {"name: x\nteam: a\nrules:\n  - rule: approvals\n    count: 1\n    roles: [admin]\n",
         MOPS_EINVAL, "rule 1 (line 4): \"stage\" is required"},
        {"name: x\nteam: a\nrules:\n  - rule: monitoring\n    stage: retired\n", MOPS_EINVAL,
         "stage retired is not one a rule gates"},
        {"name: x\nteam: a\nrules:\n  - rule: data\n    stage: staging\n  - rule: validation\n"
         "    stage: staging\n    threshold: auc > high\n",
         MOPS_EINVAL, "rule 2 (line 6): threshold \"auc > high\" must read METRIC OP NUMBER"},
        {"name: x\nteam: a\nrules:\n  - rule: validation\n    stage: staging\n"
         "    threshold: speed >= 3\n",
         MOPS_EINVAL, "unknown metric \"speed\""},
        {"name: x\nteam: a\nrules:\n  - rule: fairness\n    stage: production\n    group: g\n"
         "    metric: accuracy\n    max_gap: 0.1\n",
         MOPS_EINVAL, "metric \"accuracy\" must be positive_rate or tpr"},
        {"name: x\nteam: a\nrules:\n  - rule: fairness\n    stage: production\n    group: g\n"
         "    metric: tpr\n    max_gap: 2\n",
         MOPS_EINVAL, "\"max_gap\" must be from 0 to 1"},
        {"name: x\nteam: a\nrules:\n  - rule: approvals\n    stage: approved\n    count: 0\n"
         "    roles: [admin]\n",
         MOPS_EINVAL, "\"count\" must be from 1 to 20"},
        {"name: x\nteam: a\nrules:\n  - rule: approvals\n    stage: approved\n    count: \"2\"\n"
         "    roles: [admin]\n",
         MOPS_EINVAL, "field \"count\" in rule 1 (line 4) must be an integer, not a string"},
        {"name: x\nteam: a\nrules:\n  - rule: approvals\n    stage: approved\n    count: 1\n"
         "    roles: [data-scientist]\n",
         MOPS_EINVAL, "role data-scientist cannot approve"},
        {"name: x\nteam: a\nrules:\n  - rule: approvals\n    stage: approved\n    count: 1\n"
         "    roles: [admin]\n    quorum: 3\n",
         MOPS_EINVAL, "unknown field \"quorum\" in rule 1 (line 4)"},
        {"name: x\nteam: a\nrules:\n  - rule: model_card\n    stage: approved\n"
         "    fields: [colour]\n",
         MOPS_EINVAL, "\"colour\" is not a model card field"},
        {"name: x\nteam: a\nrules:\n  - rule: freshness\n    stage: staging\n"
         "    max_age_days: 3\n",
         MOPS_EINVAL, "a freshness rule watches production versions"},
        {"name: x\nteam: a\nrules:\n  - rule: cost\n    stage: production\n    max_per_1k: 1\n"
         "    currency: dollars\n",
         MOPS_EINVAL, "currency must be an ISO 4217 code"},
        {"name: x\nname: y\nrules: []\n", MOPS_EINVAL, "line 2: key \"name\" appears twice"},
        {"name: x\nteam: a\nrules:\n- rule: data\n  stage: staging\n---\nname: y\n", MOPS_EINVAL,
         "a second YAML document"},
        {"name: x\nteam: a\nrules:\n  - rule: data\n   stage: staging\n", MOPS_EINVAL,
         "malformed YAML at line 5"},
        {"", MOPS_EINVAL, "empty"},
        {"- a\n- b\n", MOPS_EINVAL, "must be a mapping"},
        {"name: x\nteam: a\nrules: []\n", MOPS_EINVAL, "\"rules\" must list 1 to 100 rules"},
        {"name: x y\nteam: a\nrules: [{rule: data, stage: staging}]\n", MOPS_EINVAL,
         "policy name \"x y\" is invalid"},
        {"name: x\nteam: a\nrisk_tier: extreme\nrules: [{rule: data, stage: staging}]\n",
         MOPS_EINVAL, "risk_tier \"extreme\""},
        {"name: x\nteam: zz\nrules: [{rule: data, stage: staging}]\n", MOPS_ENOTFOUND,
         "no team named"},
        {"name: x\nteam: a\ncolour: red\nrules: [{rule: data, stage: staging}]\n", MOPS_EINVAL,
         "unknown field \"colour\" in policy"},
        {"{\"name\": \"x\", \"team\": \"a\", \"rules\": [{\"rule\": \"data\"}]}", MOPS_EINVAL,
         "rule 1: \"stage\" is required"},
        {"{\"name\": \"x\", \"team\": \"a\",", MOPS_EINVAL, "policy: malformed JSON at line 1"},
        {"{\"name\": \"x\", \"name\": \"y\"}", MOPS_EINVAL, "duplicate"},
        /* billion laughs: aliases expand without bound unless counted */
        {"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, "
         "*c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
         MOPS_ETOOBIG, "expands to over"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = policy(&p.risk1, bad[i].source, NULL, &err);
        if (rc != bad[i].rc)
            fail_msg("case %zu: rc %d, not %d (%s)", i, rc, bad[i].rc, err.msg);
        SAYS(err.msg, bad[i].says);
    }
    /* YAML 1.2 core schema: "yes" is a string, not true. */
    assert_int_equal(policy(&p.risk1,
                            "name: x\nteam: a\nrules:\n  - rule: data\n    stage: staging\n"
                            "    description: yes\n",
                            NULL, NULL),
                     0);
    /* Who may write where. */
    assert_int_equal(policy(&p.ds2, "name: y\nteam: a\nrules: [{rule: data, stage: staging}]\n",
                            NULL, &err),
                     MOPS_EFORBIDDEN);
    SAYS(err.msg, "(policy.write)");
    assert_int_equal(policy(&p.admin, "name: y\nrules: [{rule: data, stage: staging}]\n", NULL,
                            &err),
                     MOPS_EFORBIDDEN);
    SAYS(err.msg, "(policy.global)");
    assert_int_equal(policy(&p.outsider, "name: y\nteam: a\nrules: [{rule: data, stage: "
                                         "staging}]\n",
                            NULL, &err),
                     MOPS_ENOTFOUND);
    assert_int_equal(policy(&p.risk1, "name: strict\nteam: a\nrules: [{rule: data, stage: "
                                      "staging}]\n",
                            NULL, &err),
                     MOPS_ECONFLICT);
}

static void test_policy_versions_scopes_and_list(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    mops_err_t err;
    json_t *out = NULL, *spec;
    TU_OK(policy(&p.risk1, "name: p\nteam: a\nrules: [{rule: data, stage: staging}]\n", NULL,
                 &tu_err_));
    TU_OK(policy(&f->sys, "name: org\nrisk_tier: high\nrules: [{rule: monitoring, stage: "
                          "production}]\n",
                 NULL, &tu_err_));
    TU_OK(policy(&f->sys, "name: low-only\nrisk_tier: low\nrules: [{rule: monitoring, stage: "
                          "production}]\n",
                 NULL, &tu_err_));
    spec = tu_json("{\"source\":\"name: p\\nteam: a\\nrules: [{rule: monitoring, stage: "
                   "production}]\\n\"}");
    TU_OK(governance_policy_update(&p.risk2, "a", "p", spec, &out, &tu_err_));
    json_decref(spec);
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
    assert_int_equal(json_array_size(json_object_get(out, "versions")), 2);
    json_decref(out);
    TU_OK(governance_policy_get(&p.viewer, "a", "p", 1, &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(out, "rules"), 0), "rule")),
                        "data");
    json_decref(out);
    assert_int_equal(governance_policy_get(&p.viewer, "a", "p", 3, &out, &err), MOPS_ENOTFOUND);
    assert_int_equal(governance_policy_get(&p.outsider, "a", "p", 0, &out, &err),
                     MOPS_ENOTFOUND);
    TU_OK(governance_policy_get(&p.outsider, "_global", "org", 0, &out, &tu_err_));
    json_decref(out);
    /* A policy keeps its name and scope. */
    spec = tu_json("{\"source\":\"name: q\\nteam: a\\nrules: [{rule: data, stage: staging}]\"}");
    assert_int_equal(governance_policy_update(&p.risk1, "a", "p", spec, &out, &err),
                     MOPS_EINVAL);
    SAYS(err.msg, "a policy keeps its name");
    json_decref(spec);
    spec = tu_json("{\"source\":\"name: p\\nrules: [{rule: data, stage: staging}]\"}");
    assert_int_equal(governance_policy_update(&p.risk1, "a", "p", spec, &out, &err),
                     MOPS_EINVAL);
    SAYS(err.msg, "a policy cannot move");
    json_decref(spec);
    /* What applies to the high-risk model of a: its team's and the
     * org-wide high-tier one, not the low-tier one. */
    char v[16];
    new_version(&p.ds2, "v", v);
    json_t *ev = check(&p.viewer, v, NULL);
    json_t *pol = json_object_get(ev, "policies");
    assert_int_equal(json_array_size(pol), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pol, 0), "name")), "p");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(pol, 0), "version")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pol, 1), "scope")),
                        "_global");
    json_decref(ev);
    governance_policy_filter_t flt = {.archived = 0};
    TU_OK(governance_policy_list(&p.outsider, &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2); /* org-wide only */
    json_decref(out);
    flt.team = "a";
    TU_OK(governance_policy_list(&p.viewer, &flt, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    /* Archived: no longer applies. */
    TU_OK(governance_policy_archive(&p.risk1, "a", "p", &out, &tu_err_));
    json_decref(out);
    ev = check(&p.viewer, v, NULL);
    assert_int_equal(json_array_size(json_object_get(ev, "policies")), 1);
    json_decref(ev);
}

/* ------------------------------------------------------------ approvals */

static void test_separation_of_duties_and_void_approvals(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    char v[16], buf[24];
    mops_err_t err;
    TU_OK(policy(&p.risk1, "name: two\nteam: a\nrules:\n  - rule: approvals\n"
                           "    stage: [approved, production]\n    count: 2\n"
                           "    roles: [risk-officer]\n",
                 NULL, &tu_err_));
    new_version(&p.author, "v", v);
    request_review(&p.author, v);
    /* The author holds risk-officer, and still may not decide. */
    assert_int_equal(decide(&p.author, v, 1, &err), MOPS_EFORBIDDEN);
    SAYS(err.msg, "separation of duties");
    assert_int_equal(decide(&p.author, v, 0, &err), MOPS_EFORBIDDEN);
    SAYS(err.msg, "separation of duties");
    /* An approval from a role the rule does not count, then one that does. */
    TU_OK(decide(&p.admin, v, 1, &tu_err_));
    TU_OK(decide(&p.risk1, v, 1, &tu_err_));
    assert_string_equal(stage_of(&p.viewer, v, buf), "in_review");
    json_t *ev = check(&p.viewer, v, "approved");
    const json_t *r = rule_of(ev, "approvals");
    assert_string_equal(STATUS(r), "fail");
    SAYS(MESSAGE(r), "needs 2 approvals from risk-officer, has 1 (rob)");
    SAYS(MESSAGE(r), "ada: does not hold a role this rule counts");
    json_decref(ev);
    TU_OK(decide(&p.risk2, v, 1, &tu_err_));
    assert_string_equal(stage_of(&p.viewer, v, buf), "approved");
    TU_OK(move(&p.mle, v, "staging", &tu_err_));

    /* A new version of the policy voids the approvals made under the old. */
    json_t *out = NULL, *spec = tu_json(
        "{\"source\":\"name: two\\nteam: a\\nrules:\\n  - rule: approvals\\n    stage: "
        "[approved, production]\\n    count: 2\\n    roles: [risk-officer]\\n"
        "    description: reworded\\n\"}");
    TU_OK(governance_policy_update(&p.risk1, "a", "two", spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    assert_int_equal(move(&p.mle, v, "production", &err), MOPS_EPRECOND);
    SAYS(err.msg, "[a/two#1 approvals] needs 2 approvals from risk-officer, has 0");
    SAYS(err.msg, "rob: the applicable policies changed after it");
    TU_OK(decide(&p.risk1, v, 1, &tu_err_));
    TU_OK(decide(&p.risk2, v, 1, &tu_err_));
    ev = check(&p.viewer, v, "production");
    assert_string_equal(STATUS(rule_of(ev, "approvals")), "pass");
    json_decref(ev);

    /* So does a change of the artifact (the registry never makes one; a
     * tampered row must still not keep its approvals). */
    char sha[65];
    upload(&p.ds2, "other bytes", sha);
    registry_version_ref_t ref;
    TU_OK(registry_version_resolve(&p.viewer, "a", "m", v, AUTH_MODEL_READ, &ref, &tu_err_));
    TU_OK(store_exec(f->db, NULL, &tu_err_, "UPDATE versions SET artifact_sha256 = ? WHERE id = ?",
                     "ti", sha, ref.version_id));
    ev = check(&p.viewer, v, "production");
    r = rule_of(ev, "approvals");
    assert_string_equal(STATUS(r), "fail");
    SAYS(MESSAGE(r), "the artifact changed after it");
    json_decref(ev);

    /* Reviews list what counts and why not. */
    TU_OK(governance_review_list(&p.viewer, "a", "m", v, &out, &tu_err_));
    json_t *cur = json_object_get(out, "current_decisions");
    assert_int_equal(json_array_size(cur), 3); /* ada, rob, rita: each their latest */
    json_decref(out);
}

static void test_reject_and_reopen(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    char v[16], buf[24];
    mops_err_t err;
    new_version(&p.ds2, "v", v);
    request_review(&p.ds2, v);
    json_t *out = NULL, *spec = json_object();
    assert_int_equal(governance_review_reject(&p.risk1, "a", "m", v, spec, &out, &err),
                     MOPS_EINVAL);
    SAYS(err.msg, "\"comment\" is required");
    json_decref(spec);
    TU_OK(decide(&p.risk1, v, 0, &tu_err_));
    assert_string_equal(stage_of(&p.viewer, v, buf), "rejected");
    assert_int_equal(decide(&p.risk2, v, 1, &err), MOPS_EPRECOND); /* nothing to approve */
    TU_OK(move(&p.ds2, v, "draft", &tu_err_));
    request_review(&p.ds2, v);
    /* The rejected review's decisions belong to it: a new review starts
     * with none. */
    TU_OK(governance_review_list(&p.viewer, "a", "m", v, &out, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2);
    assert_int_equal(json_array_size(json_object_get(out, "current_decisions")), 0);
    json_decref(out);
    TU_OK(move(&p.ds2, v, "draft", &tu_err_)); /* withdrawn */
    TU_OK(governance_review_list(&p.viewer, "a", "m", v, &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(out, "items"), 0), "state")),
                        "withdrawn");
    json_decref(out);
}

/* ------------------------------------------------------------ providers */

static int provider_calls;
static int fail_provider;
static json_t *answer; /* what the stubs give (borrowed copy each call) */

static int give(json_t **out, mops_err_t *err)
{
    provider_calls++;
    if (fail_provider)
        return mops_err_set(err, MOPS_EUNAVAIL, "the stub is down");
    *out = json_deep_copy(answer);
    return 0;
}

static int stub_version(const mops_ctx_t *ctx, int64_t version_id, json_t **out, mops_err_t *err)
{
    (void)ctx;
    (void)version_id;
    return give(out, err);
}

static int stub_window(const mops_ctx_t *ctx, int64_t version_id, int64_t from, int64_t to,
                       json_t **out, mops_err_t *err)
{
    (void)ctx;
    (void)version_id;
    assert_true(from <= to);
    return give(out, err);
}

static int stub_dataset(const mops_ctx_t *ctx, int64_t team_id, const char *dataset,
                        json_t **out, mops_err_t *err)
{
    (void)ctx;
    (void)team_id;
    assert_string_equal(dataset, "ds:churn@1");
    return give(out, err);
}

static void set_answer(const char *text)
{
    json_decref(answer);
    answer = tu_json(text);
}

/* The status and message of the rule of kind gating production. */
static const char *production_rule(const mops_ctx_t *ctx, const char *v, const char *kind,
                                   char *msg)
{
    json_t *ev = check(ctx, v, "production");
    const json_t *r = rule_of(ev, kind);
    snprintf(msg, 400, "%s: %s", STATUS(r), MESSAGE(r));
    json_decref(ev);
    return msg;
}

static void test_rules_fed_by_other_modules(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    char v[16], msg[400];
    governance_providers_clear();
    TU_OK(policy(&p.risk1, "name: ops\nteam: a\nrules:\n"
                           "  - rule: data\n    stage: production\n"
                           "  - rule: monitoring\n    stage: production\n"
                           "  - rule: cost\n    stage: production\n    max_per_1k: 0.5\n",
                 NULL, &tu_err_));
    new_version(&p.ds2, "v", v);
    /* No module: each fails, saying which is missing; never a silent pass. */
    SAYS(production_rule(&p.viewer, v, "data", msg),
         "fail: the training dataset's quality and PII is not available: the data module");
    SAYS(production_rule(&p.viewer, v, "monitoring", msg),
         "fail: monitoring is not available: the monitor module");
    SAYS(production_rule(&p.viewer, v, "cost", msg),
         "fail: the projected cost is not available: the finops module");

    governance_providers_t hooks = {.monitoring = stub_version, .cost_per_1k = stub_version,
                                    .dataset = stub_dataset};
    governance_providers_set(&hooks);
    set_answer("{\"quality\":{\"passed\":false},\"pii_columns\":[],\"approved_pii_columns\":[]}");
    SAYS(production_rule(&p.viewer, v, "data", msg), "fail: the training dataset ds:churn@1 did "
                                                     "not pass its quality suite");
    set_answer("{\"quality\":{\"passed\":true},\"pii_columns\":[\"email\",\"age\"],"
               "\"approved_pii_columns\":[\"age\"]}");
    SAYS(production_rule(&p.viewer, v, "data", msg), "fail: the training dataset holds PII "
                                                     "columns not approved: email");
    set_answer("{\"quality\":{\"passed\":true},\"pii_columns\":[\"age\"],"
               "\"approved_pii_columns\":[\"age\"]}");
    SAYS(production_rule(&p.viewer, v, "data", msg), "pass:");
    set_answer("{\"configured\":false}");
    SAYS(production_rule(&p.viewer, v, "monitoring", msg),
         "fail: monitoring is not configured");
    set_answer("{\"configured\":true,\"monitors\":[\"drift\"]}");
    SAYS(production_rule(&p.viewer, v, "monitoring", msg), "pass: monitoring is configured");
    set_answer("{\"cost_per_1k\":0.75,\"currency\":\"USD\"}");
    SAYS(production_rule(&p.viewer, v, "cost", msg),
         "fail: projected cost 0.75 USD per 1000 predictions, limit 0.5");
    set_answer("{\"cost_per_1k\":0.25,\"currency\":\"EUR\"}");
    SAYS(production_rule(&p.viewer, v, "cost", msg), "fail: the projected cost is in EUR");
    set_answer("{\"cost_per_1k\":0.25,\"currency\":\"USD\"}");
    SAYS(production_rule(&p.viewer, v, "cost", msg), "pass:");
    fail_provider = 1;
    SAYS(production_rule(&p.viewer, v, "cost", msg), "fail: no projected cost per 1000 "
                                                     "predictions: the stub is down");
    SAYS(production_rule(&p.viewer, v, "data", msg),
         "fail: the dataset ds:churn@1 cannot be checked: the stub is down");
    fail_provider = 0;
    governance_providers_clear();
    json_decref(answer);
    answer = NULL;
}

static void test_freshness_flags_without_blocking(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    char v[16];
    TU_OK(policy(&p.risk1, "name: fresh\nteam: a\nrules:\n  - rule: freshness\n"
                           "    max_age_days: 30\n",
                 NULL, &tu_err_));
    new_version(&p.ds2, "v", v);
    json_t *ev = check(&p.viewer, v, NULL);
    SAYS(MESSAGE(rule_of(ev, "freshness")), "not in production");
    json_decref(ev);
    request_review(&p.ds2, v);
    TU_OK(decide(&p.risk1, v, 1, &tu_err_));
    TU_OK(move(&p.mle, v, "staging", &tu_err_));
    TU_OK(move(&p.mle, v, "production", &tu_err_)); /* freshness gates nothing */
    json_t *due = NULL;
    TU_OK(governance_reviews_due(&p.viewer, &due, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(due, "items")), 0);
    json_decref(due);
    /* Forty days later. */
    TU_OK(store_exec(f->db, NULL, &tu_err_,
                     "UPDATE gov_transitions SET created_at = created_at - ? WHERE to_stage = "
                     "'production'",
                     "i", (int64_t)40 * 86400000));
    ev = check(&p.viewer, v, NULL);
    const json_t *r = rule_of(ev, "freshness");
    assert_string_equal(STATUS(r), "flag");
    SAYS(MESSAGE(r), "in production for 40.0 days, over 30: due for review");
    assert_true(json_is_true(json_object_get(ev, "passed"))); /* a flag is not a failure */
    assert_int_equal(json_array_size(json_object_get(ev, "flags")), 1);
    json_decref(ev);
    TU_OK(governance_reviews_due(&p.viewer, &due, &tu_err_));
    json_t *it = json_array_get(json_object_get(due, "items"), 0);
    assert_non_null(it);
    assert_int_equal(json_integer_value(json_object_get(it, "max_age_days")), 30);
    assert_string_equal(json_string_value(json_object_get(it, "policy")), "a/fresh");
    json_decref(due);
    TU_OK(governance_reviews_due(&p.outsider, &due, &tu_err_));
    assert_int_equal(json_array_size(json_object_get(due, "items")), 0);
    json_decref(due);
}

static void test_retirement_needs_no_traffic(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    char v[16], w[16], buf[24];
    mops_err_t err;
    new_version(&p.ds2, "v", v);
    new_version(&p.ds2, "w", w);
    request_review(&p.ds2, v);
    TU_OK(decide(&p.risk1, v, 1, &tu_err_));
    TU_OK(move(&p.mle, v, "staging", &tu_err_));
    TU_OK(move(&p.mle, v, "production", &tu_err_));
    TU_OK(move(&p.mle, v, "deprecated", &tu_err_));
    governance_providers_t hooks = {.traffic = stub_version, .predictions = stub_window};
    governance_providers_set(&hooks);
    set_answer("{\"receiving\":true,\"kinds\":[\"shadow\"]}");
    json_t *out = NULL, *spec = json_pack("{s:s, s:s, s:s}", "to", "retired", "reason", "old",
                                          "replacement", "x");
    assert_int_equal(governance_transition(&p.mle, "a", "m", v, spec, &out, &err), MOPS_EINVAL);
    json_decref(spec);
    spec = json_pack("{s:s, s:s, s:i}", "to", "retired", "reason", "old", "replacement", 9);
    assert_int_equal(governance_transition(&p.mle, "a", "m", v, spec, &out, &err), MOPS_EINVAL);
    SAYS(err.msg, "has no version 9");
    json_decref(spec);
    spec = json_pack("{s:s, s:s, s:i}", "to", "retired", "reason", "old", "replacement", 2);
    assert_int_equal(governance_transition(&p.mle, "a", "m", v, spec, &out, &err), MOPS_EPRECOND);
    SAYS(err.msg, "[lifecycle no-traffic] the version still receives traffic");
    assert_string_equal(stage_of(&p.viewer, v, buf), "deprecated");
    /* The refusal is on record: its evaluation and an audit entry. */
    int64_t n = 0;
    TU_OK(store_query_int(f->db, &n, &tu_err_,
                          "SELECT count(*) FROM gov_evaluations WHERE outcome = 'blocked' AND "
                          "to_stage = 'retired'",
                          NULL));
    assert_int_equal(n, 1);
    TU_OK(store_query_int(f->db, &n, &tu_err_,
                          "SELECT count(*) FROM audit_log WHERE action = "
                          "'version.transition.blocked'",
                          NULL));
    assert_int_equal(n, 1);
    set_answer("{\"receiving\":false,\"predictions\":1234}");
    TU_OK(governance_transition(&p.mle, "a", "m", v, spec, &out, &tu_err_));
    json_decref(spec);
    json_decref(out);
    TU_OK(governance_retirement_get(&p.viewer, "a", "m", v, &out, &tu_err_));
    assert_string_equal(json_string_value(json_object_get(out, "reason")), "old");
    assert_int_equal(json_integer_value(json_object_get(out, "replacement")), 2);
    json_t *sum = json_object_get(out, "summary");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(sum, "predictions"),
                                                        "predictions")),
                     1234);
    assert_false(json_is_true(json_object_get(json_object_get(sum, "incidents"), "available")));
    json_decref(out);
    assert_int_equal(governance_retirement_get(&p.viewer, "a", "m", w, &out, &err),
                     MOPS_ENOTFOUND);
    SAYS(err.msg, "is not retired");
    /* Retired is the end. */
    assert_int_equal(move(&p.mle, v, "production", &err), MOPS_EINVAL);
    SAYS(err.msg, "(from retired: none)");
    governance_providers_clear();
    json_decref(answer);
    answer = NULL;
    /* The audit chain holds it all and verifies. */
    TU_OK(audit_verify(f->db, &out, &tu_err_));
    assert_true(json_is_true(json_object_get(out, "ok")));
    json_decref(out);
}

static void test_cards(void **state)
{
    tu_fixture_t *f = *state;
    TU_SKIP(f);
    people_t p = setup(f);
    char v[16];
    mops_err_t err;
    new_version(&p.ds2, "v", v);
    json_t *out = NULL, *spec = tu_json("{\"intended_use\":\"<script>alert(1)</script> & more\","
                                        "\"owner\":\"eve\"}");
    assert_int_equal(governance_card_put(&p.viewer, "a", "m", v, spec, &out, &err),
                     MOPS_EFORBIDDEN);
    TU_OK(governance_card_put(&p.ds2, "a", "m", v, spec, &out, &tu_err_));
    json_decref(spec);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "fields"),
                                                          "owner")),
                        "eve");
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "fields"),
                                                          "limitations")),
                        "");
    json_decref(out);
    char *html = NULL, *md = NULL;
    TU_OK(governance_card_render(&p.viewer, "a", "m", v, "html", &html, &tu_err_));
    assert_null(strstr(html, "<script"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    TU_OK(governance_card_render(&p.viewer, "a", "m", v, "markdown", &md, &tu_err_));
    assert_non_null(strstr(md, "## Intended use"));
    assert_non_null(strstr(md, "_Not written._"));
    free(html);
    free(md);
    assert_int_equal(governance_card_render(&p.viewer, "a", "m", v, "pdf", &md, &err),
                     MOPS_EINVAL);
    spec = tu_json("{\"colour\":\"red\"}");
    assert_int_equal(governance_card_put(&p.ds2, "a", "m", v, spec, &out, &err), MOPS_EINVAL);
    SAYS(err.msg, "unknown field \"colour\"");
    json_decref(spec);
    /* A required field missing blocks the stage it gates. */
    TU_OK(policy(&p.risk1, "name: card\nteam: a\nrules:\n  - rule: model_card\n"
                           "    stage: in_review\n    fields: [intended_use, limitations]\n",
                 NULL, &tu_err_));
    assert_int_equal(move(&p.ds2, v, "in_review", &err), MOPS_EPRECOND);
    SAYS(err.msg, "[a/card#1 model_card] the model card lacks limitations");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_table),
        TU_BOTH(test_moves_need_their_permission_and_an_edge),
        TU_BOTH(test_policy_documents_and_their_errors),
        TU_BOTH(test_policy_versions_scopes_and_list),
        TU_BOTH(test_separation_of_duties_and_void_approvals),
        TU_BOTH(test_reject_and_reopen),
        TU_BOTH(test_rules_fed_by_other_modules),
        TU_BOTH(test_freshness_flags_without_blocking),
        TU_BOTH(test_retirement_needs_no_traffic),
        TU_BOTH(test_cards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
