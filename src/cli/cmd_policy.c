/*
 * cmd_policy.c — `mops policy create|update|list|show|check|archive`:
 * policies as code, from YAML or JSON files, and checking a version
 * against the policies that apply to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/fs.h"
#include "core/mem.h"

#define GROUP "policy"

/* {"source", "format"} from a file; the format from its extension. */
static int source_body(const char *file, json_t **body)
{
    char *text;
    size_t len;
    mops_err_t err;
    if (mops_read_file(file, 1 << 20, &text, &len, &err) != 0)
        return cli_fail(&err);
    const char *dot = strrchr(file, '.');
    json_t *b = json_pack("{s:s%}", "source", text, len);
    free(text);
    if (!b) {
        fprintf(stderr, "mops policy: %s is not UTF-8 text\n", file);
        return CLI_FAIL;
    }
    if (dot && !strcmp(dot, ".json"))
        json_object_set_new(b, "format", json_string("json"));
    else if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")))
        json_object_set_new(b, "format", json_string("yaml"));
    *body = b;
    return 0;
}

/* "SCOPE/NAME" -> "/api/v1/policies/SCOPE/NAME<suffix>". */
static char *policy_path(const char *arg, const char *suffix)
{
    char *scope, *name;
    if (cli_model_ref(arg, &scope, &name) != 0) {
        cli_usage_error("\"%s\" is not SCOPE/NAME (SCOPE: a team, or _global)", arg);
        return NULL;
    }
    char *p = mops_xasprintf("/api/v1/policies/%s/%s%s", scope, name, suffix);
    free(scope);
    free(name);
    return p;
}

static void print_policy(const json_t *p, int source)
{
    printf("policy:       %s/%s (version %s of %s)\n", cli_cell(json_object_get(p, "scope"), 0),
           cli_cell(json_object_get(p, "name"), 1), cli_cell(json_object_get(p, "version"), 2),
           cli_cell(json_object_get(p, "current_version"), 3));
    printf("team:         %s\n", json_is_string(json_object_get(p, "team"))
                                     ? json_string_value(json_object_get(p, "team"))
                                     : "(every team: org-wide)");
    printf("risk tier:    %s\n", json_is_string(json_object_get(p, "risk_tier"))
                                     ? json_string_value(json_object_get(p, "risk_tier"))
                                     : "(every tier)");
    printf("description:  %s\n", cli_cell(json_object_get(p, "description"), 0));
    printf("sha256:       %s\n", cli_cell(json_object_get(p, "sha256"), 0));
    printf("created:      %s by %s\n", cli_time(json_object_get(p, "version_created_at"), 0),
           cli_cell(json_object_get(p, "created_by"), 1));
    if (json_is_true(json_object_get(p, "archived")))
        printf("archived:     %s\n", cli_time(json_object_get(p, "archived_at"), 0));
    printf("rules:\n");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(p, "rules"), i, r) {
        json_t *params = json_deep_copy(r);
        json_object_del(params, "rule");
        json_object_del(params, "name");
        json_object_del(params, "stages");
        json_object_del(params, "description");
        printf("  %zu. %-12s %-20s gates %-28s %s\n", i + 1,
               cli_cell(json_object_get(r, "rule"), 0), cli_cell(json_object_get(r, "name"), 1),
               cli_cell(json_object_get(r, "stages"), 2), cli_cell(params, 3));
        json_decref(params);
    }
    if (source)
        printf("source (%s):\n%s\n", cli_cell(json_object_get(p, "format"), 0),
               json_string_value(json_object_get(p, "source")));
}

static int send_file(cli_client_t *c, const char *method, const char *path, const char *file,
                     int json, const char *done)
{
    json_t *body = NULL, *out = NULL;
    int rc = source_body(file, &body);
    mops_err_t err;
    if (rc == 0 && (rc = cli_request(c, method, path, body, &out, &err)) != 0)
        rc = cli_fail(&err);
    else if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0)
        printf("%s policy %s/%s, version %s\n", done, cli_cell(json_object_get(out, "scope"), 0),
               cli_cell(json_object_get(out, "name"), 1),
               cli_cell(json_object_get(out, "version"), 2));
    json_decref(body);
    json_decref(out);
    return rc;
}

static int policy_create(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    return send_file(c, "POST", "/api/v1/policies", argv[optind], json, "created");
}

static int policy_update(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 2, 2, &json))
        return CLI_USAGE;
    char *path = policy_path(argv[optind], "");
    if (!path)
        return CLI_USAGE;
    int rc = send_file(c, "PUT", path, argv[optind + 1], json, "updated");
    free(path);
    return rc;
}

static int policy_show(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"version", required_argument, NULL, 'v'},
                                         {"source", no_argument, NULL, OPT_SOURCE},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *version = NULL;
    int json = 0, source = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'v')
            version = optarg;
        else if (ch == OPT_SOURCE)
            source = 1;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    if (argc - optind != 1)
        return cli_usage_error("give SCOPE/NAME");
    char *q = version ? cli_escape(version) : NULL;
    char *suffix = q ? mops_xasprintf("?version=%s", q) : mops_xstrdup("");
    char *path = policy_path(argv[optind], suffix);
    free(q);
    free(suffix);
    if (!path)
        return CLI_USAGE;
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &out, &err);
    free(path);
    if (rc == 0)
        json ? cli_print_json(out) : print_policy(out, source);
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int policy_archive(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    char *path = policy_path(argv[optind], "/archive");
    if (!path)
        return CLI_USAGE;
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "POST", path, NULL, &out, &err);
    free(path);
    if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0)
        printf("archived policy %s: it no longer applies\n", argv[optind]);
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int policy_list(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"team", required_argument, NULL, 'T'},
                                         {"risk-tier", required_argument, NULL, 'r'},
                                         {"archived", no_argument, NULL, OPT_ARCHIVED},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *team = NULL, *tier = NULL;
    int json = 0, archived = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'T': team = optarg; break;
        case 'r': tier = optarg; break;
        case OPT_ARCHIVED: archived = 1; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    mops_buf_t q = MOPS_BUF_INIT;
    mops_buf_printf(&q, "/api/v1/policies?archived=%s", archived ? "true" : "false");
    if (team) {
        char *e = cli_escape(team);
        mops_buf_printf(&q, "&team=%s", e);
        free(e);
    }
    if (tier) {
        char *e = cli_escape(tier);
        mops_buf_printf(&q, "&risk_tier=%s", e);
        free(e);
    }
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", q.data, NULL, &out, &err);
    mops_buf_release(&q);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0) {
        cli_table_t *t = cli_table_new(6, "POLICY", "VERSION", "TEAM", "RISK", "RULES", "UPDATED");
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(out, "items"), i, it) {
            char *name = mops_xasprintf("%s/%s", json_string_value(json_object_get(it, "scope")),
                                        json_string_value(json_object_get(it, "name")));
            char n[16];
            snprintf(n, sizeof n, "%zu", json_array_size(json_object_get(it, "rules")));
            cli_table_add(t, name, cli_cell(json_object_get(it, "version"), 0),
                          json_is_string(json_object_get(it, "team"))
                              ? json_string_value(json_object_get(it, "team"))
                              : "(all)",
                          json_is_string(json_object_get(it, "risk_tier"))
                              ? json_string_value(json_object_get(it, "risk_tier"))
                              : "(all)",
                          n, cli_time(json_object_get(it, "updated_at"), 1));
            free(name);
        }
        cli_table_print(t);
    }
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int policy_check(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"stage", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *stage = NULL;
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 's')
            stage = optarg;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    if (argc - optind != 2)
        return cli_usage_error("give TEAM/MODEL and VERSION");
    char *q = stage ? cli_escape(stage) : NULL;
    char *suffix = q ? mops_xasprintf("/policy-check?stage=%s", q) : mops_xstrdup("/policy-check");
    char *path = cli_version_path(argv[optind], argv[optind + 1], suffix);
    free(q);
    free(suffix);
    if (!path)
        return CLI_USAGE;
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &out, &err);
    free(path);
    if (rc != 0)
        return cli_fail(&err);
    int passed = json_is_true(json_object_get(out, "passed"));
    if (json) {
        cli_print_json(out);
    } else {
        printf("%s@%s, stage %s; rules%s%s:\n", argv[optind], argv[optind + 1],
               cli_cell(json_object_get(out, "stage"), 0), stage ? " gating " : "",
               stage ? stage : "");
        cli_print_rules(stdout, out);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(out, "rules"), i, r) {
            char *ev = json_dumps(json_object_get(r, "evidence"), JSON_COMPACT);
            if (ev && strcmp(ev, "null") != 0)
                printf("      %s\n", ev);
            free(ev);
        }
    }
    if (!passed)
        fprintf(stderr, "mops policy check: %zu rule%s fail\n",
                json_array_size(json_object_get(out, "failed")),
                json_array_size(json_object_get(out, "failed")) == 1 ? "" : "s");
    json_decref(out);
    return passed ? CLI_OK : CLI_FAIL;
}

static const cli_sub_t subs[] = {
    {"create", "FILE [--json]",
     "Create a policy from a YAML (.yaml, .yml) or JSON (.json) document naming its team\n"
     "and/or risk tier and its rules (docs/governance.md).",
     "  --json   print JSON\n", policy_create},
    {"update", "SCOPE/NAME FILE [--json]",
     "Store a new version of a policy (the old ones are kept). SCOPE is its team, or\n"
     "_global for an org-wide policy. Approvals made under the old version stop counting.",
     "  --json   print JSON\n", policy_update},
    {"list", "[--team T] [--risk-tier TIER] [--archived] [--json]",
     "List the policies you can see: your teams' and the org-wide ones.",
     "  -T, --team TEAM          only this team's\n"
     "  -r, --risk-tier TIER     only those applying to this tier\n"
     "  --archived               archived policies instead\n"
     "  --json                   print JSON\n",
     policy_list},
    {"show", "SCOPE/NAME [--version N] [--source] [--json]", "Show a policy and its rules.",
     "  -v, --version N   an older version\n"
     "  --source          also print the document as it was written\n"
     "  --json            print JSON\n",
     policy_show},
    {"check", "TEAM/MODEL VERSION [--stage STAGE] [--json]",
     "Evaluate the rules of every policy that applies to a version, with their evidence;\n"
     "exits 1 when a rule fails. --stage: only the rules gating that stage.",
     "  -s, --stage STAGE   in_review, approved, staging, production or retired\n"
     "  --json              print JSON\n",
     policy_check},
    {"archive", "SCOPE/NAME [--json]", "Archive a policy: it stops applying, stays readable.",
     "  --json   print JSON\n", policy_archive},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_policy(int argc, char **argv)
{
    return cli_group(GROUP, "Policies as code: the rules versions must pass to move on.", subs,
                     argc, argv);
}
