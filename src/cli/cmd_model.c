/*
 * cmd_model.c — `mops model create|list|show|update|archive`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"
#include "core/text.h"

#define GROUP "model"

static const struct option edit_opts[] = {
    {"description", required_argument, NULL, 'd'},
    {"owner", required_argument, NULL, 'o'},
    {"purpose", required_argument, NULL, 'p'},
    {"risk-tier", required_argument, NULL, 'r'},
    {"tag", required_argument, NULL, 't'},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0}};

/* Options shared by create and update, collected into a JSON body. */
static int parse_edit(int argc, char **argv, json_t *body, int *json)
{
    int ch;
    json_t *tags = NULL;
    *json = 0;
    while ((ch = cli_getopt(argc, argv, edit_opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'd': json_object_set_new(body, "description", json_string(optarg)); break;
        case 'o': json_object_set_new(body, "owner", json_string(optarg)); break;
        case 'p': json_object_set_new(body, "purpose", json_string(optarg)); break;
        case 'r': json_object_set_new(body, "risk_tier", json_string(optarg)); break;
        case 't':
            if (!tags) {
                tags = json_array();
                json_object_set_new(body, "tags", tags);
            }
            json_array_append_new(tags, json_string(optarg));
            break;
        case OPT_JSON: *json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("give one TEAM/MODEL");
    return 0;
}

static void print_model(const json_t *m)
{
    printf("model:        %s/%s\n", cli_cell(json_object_get(m, "team"), 0),
           cli_cell(json_object_get(m, "name"), 1));
    printf("owner:        %s\n", cli_cell(json_object_get(m, "owner"), 0));
    printf("risk tier:    %s\n", cli_cell(json_object_get(m, "risk_tier"), 0));
    printf("purpose:      %s\n", cli_cell(json_object_get(m, "purpose"), 0));
    printf("description:  %s\n", cli_cell(json_object_get(m, "description"), 0));
    printf("tags:         %s\n", cli_cell(json_object_get(m, "tags"), 0));
    printf("versions:     %s (latest %s)\n", cli_cell(json_object_get(m, "versions"), 0),
           cli_cell(json_object_get(m, "latest_version"), 1));
    printf("aliases:      %s\n", cli_cell(json_object_get(m, "aliases"), 0));
    printf("created:      %s by %s\n", cli_time(json_object_get(m, "created_at"), 0),
           cli_cell(json_object_get(m, "created_by"), 1));
    printf("updated:      %s\n", cli_time(json_object_get(m, "updated_at"), 0));
    if (json_is_true(json_object_get(m, "archived")))
        printf("archived:     %s\n", cli_time(json_object_get(m, "archived_at"), 0));
}

static int model_create(cli_client_t *c, int argc, char **argv)
{
    json_t *body = json_object(), *out = NULL;
    int json, rc = parse_edit(argc, argv, body, &json);
    char *team = NULL, *model = NULL;
    if (rc == 0 && cli_model_ref(argv[optind], &team, &model) != 0)
        rc = cli_usage_error("\"%s\" is not TEAM/MODEL", argv[optind]);
    if (rc == 0 && !json_object_get(body, "risk_tier"))
        rc = cli_usage_error("give --risk-tier low, medium or high");
    mops_err_t err;
    if (rc == 0) {
        const char *slash = strchr(argv[optind], '/');
        json_object_set_new(body, "team",
                            json_stringn(argv[optind], (size_t)(slash - argv[optind])));
        json_object_set_new(body, "name", json_string(slash + 1));
        if ((rc = cli_request(c, "POST", "/api/v1/models", body, &out, &err)) != 0)
            rc = cli_fail(&err);
        else if (json)
            cli_print_json(out);
        else
            printf("registered model %s\n", argv[optind]);
    }
    json_decref(out);
    json_decref(body);
    free(team);
    free(model);
    return rc;
}

static int model_update(cli_client_t *c, int argc, char **argv)
{
    json_t *body = json_object(), *out = NULL;
    int json, rc = parse_edit(argc, argv, body, &json);
    char *team = NULL, *model = NULL;
    if (rc == 0 && cli_model_ref(argv[optind], &team, &model) != 0)
        rc = cli_usage_error("\"%s\" is not TEAM/MODEL", argv[optind]);
    if (rc == 0 && !json_object_size(body))
        rc = cli_usage_error("nothing to change");
    mops_err_t err;
    if (rc == 0) {
        char *path = mops_xasprintf("/api/v1/models/%s/%s", team, model);
        if ((rc = cli_request(c, "PATCH", path, body, &out, &err)) != 0)
            rc = cli_fail(&err);
        else
            json ? cli_print_json(out) : print_model(out);
        free(path);
    }
    json_decref(out);
    json_decref(body);
    free(team);
    free(model);
    return rc;
}

/* show and archive: TEAM/MODEL and --json. */
static int model_one(cli_client_t *c, int argc, char **argv, const char *method,
                     const char *suffix)
{
    int json;
    char *team, *model;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    if (cli_model_ref(argv[optind], &team, &model) != 0)
        return cli_usage_error("\"%s\" is not TEAM/MODEL", argv[optind]);
    char *path = mops_xasprintf("/api/v1/models/%s/%s%s", team, model, suffix);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, method, path, NULL, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print_model(out);
    json_decref(out);
    free(path);
    free(team);
    free(model);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int model_show(cli_client_t *c, int argc, char **argv)
{
    return model_one(c, argc, argv, "GET", "");
}

static int model_archive(cli_client_t *c, int argc, char **argv)
{
    return model_one(c, argc, argv, "POST", "/archive");
}

static int model_list(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"team", required_argument, NULL, 'T'}, {"tag", required_argument, NULL, 't'},
        {"stage", required_argument, NULL, 's'}, {"owner", required_argument, NULL, 'o'},
        {"prefix", required_argument, NULL, 'p'}, {"archived", no_argument, NULL, OPT_ARCHIVED},
        {"limit", required_argument, NULL, 'n'}, {"all", no_argument, NULL, OPT_ALL},
        {"json", no_argument, NULL, OPT_JSON}, {NULL, 0, NULL, 0}};
    static const char *const keys[] = {"team", "tag", "stage", "owner", "prefix"};
    const char *vals[5] = {0};
    const char *limit = "50";
    int json = 0, all = 0, archived = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'T': vals[0] = optarg; break;
        case 't': vals[1] = optarg; break;
        case 's': vals[2] = optarg; break;
        case 'o': vals[3] = optarg; break;
        case 'p': vals[4] = optarg; break;
        case 'n': limit = optarg; break;
        case OPT_ARCHIVED: archived = 1; break;
        case OPT_ALL: all = 1; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    mops_buf_t q = MOPS_BUF_INIT;
    char *el = cli_escape(limit);
    mops_buf_printf(&q, "/api/v1/models?limit=%s%s", el, archived ? "&archived=true" : "");
    free(el);
    for (int i = 0; i < 5; i++)
        if (vals[i]) {
            char *e = cli_escape(vals[i]);
            mops_buf_printf(&q, "&%s=%s", keys[i], e);
            free(e);
        }
    json_t *items = NULL;
    mops_err_t err;
    int more = 0;
    int rc = cli_get_pages(c, q.data, all, &items, &more, &err);
    if (rc == 0 && more && !json)
        fprintf(stderr, "(more models: use --all or --limit)\n");
    mops_buf_release(&q);
    if (rc == 0 && json) {
        json_t *wrap = json_pack("{s:O}", "items", items);
        cli_print_json(wrap);
        json_decref(wrap);
    } else if (rc == 0) {
        cli_table_t *t = cli_table_new(6, "MODEL", "OWNER", "RISK", "VERSIONS", "UPDATED", "TAGS");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            char *name = mops_xasprintf("%s/%s", json_string_value(json_object_get(it, "team")),
                                        json_string_value(json_object_get(it, "name")));
            cli_table_add(t, name, cli_cell(json_object_get(it, "owner"), 0),
                          cli_cell(json_object_get(it, "risk_tier"), 1),
                          cli_cell(json_object_get(it, "versions"), 2),
                          cli_time(json_object_get(it, "updated_at"), 3),
                          cli_cell(json_object_get(it, "tags"), 4));
            free(name);
        }
        cli_table_print(t);
    }
    json_decref(items);
    return rc ? cli_fail(&err) : CLI_OK;
}

#define EDIT_HELP                                                                                 \
    "  -d, --description TEXT   what the model does\n"                                            \
    "  -o, --owner USER         the accountable owner (a member of the team)\n"                   \
    "  -p, --purpose TEXT       the business purpose\n"                                           \
    "  -r, --risk-tier TIER     low, medium or high\n"                                            \
    "  -t, --tag TAG            a tag (repeat for several; replaces the tags)\n"                  \
    "  --json                   print JSON\n"

static const cli_sub_t subs[] = {
    {"create", "TEAM/MODEL --risk-tier TIER [options]",
     "Register a model in a team (the owner defaults to you).", EDIT_HELP, model_create},
    {"list", "[--team T] [--tag X] [--stage S] [--owner U] [--prefix P] [--archived] [--all]",
     "List the models you can see.",
     "  -T, --team TEAM     only this team's\n"
     "  -t, --tag TAG       only models with this tag\n"
     "  -s, --stage STAGE   only models with a version in this stage\n"
     "  -o, --owner USER    only models this user owns\n"
     "  -p, --prefix TEXT   only names starting with TEXT\n"
     "  --archived          archived models instead of active ones\n"
     "  -n, --limit N       page size (default 50)\n"
     "  --all               follow every page\n"
     "  --json              print JSON\n",
     model_list},
    {"show", "TEAM/MODEL [--json]", "Show a model.", "  --json   print JSON\n", model_show},
    {"update", "TEAM/MODEL [options]", "Change a model's description, owner, purpose, risk tier "
     "or tags.", EDIT_HELP, model_update},
    {"archive", "TEAM/MODEL [--json]", "Archive a model: it stays readable, takes no new "
     "versions. Nothing is ever deleted.", "  --json   print JSON\n", model_archive},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_model(int argc, char **argv)
{
    return cli_group(GROUP, "Registered models: one per team and name, with an accountable owner.",
                     subs, argc, argv);
}
