/*
 * cmd_team.c — `mops team create|list|show|add-member|remove-member`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

#define GROUP "team"

static int team_create(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"description", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *desc = NULL;
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'd')
            desc = optarg;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    if (argc - optind != 1)
        return cli_usage_error("give one team name");
    json_t *body = json_pack("{s:s}", "name", argv[optind]), *out = NULL;
    if (desc)
        json_object_set_new(body, "description", json_string(desc));
    mops_err_t err;
    int rc = cli_request(c, "POST", "/api/v1/teams", body, &out, &err);
    json_decref(body);
    if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0)
        printf("created team %s\n", argv[optind]);
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int team_list(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 0, 0, &json))
        return CLI_USAGE;
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", "/api/v1/teams", NULL, &out, &err);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0) {
        cli_table_t *t = cli_table_new(4, "TEAM", "MEMBERS", "CREATED", "DESCRIPTION");
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(out, "items"), i, it)
            cli_table_add(t, cli_cell(json_object_get(it, "name"), 0),
                          cli_cell(json_object_get(it, "members"), 1),
                          cli_time(json_object_get(it, "created_at"), 2),
                          cli_cell(json_object_get(it, "description"), 3));
        cli_table_print(t);
    }
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static void print_members(const json_t *team)
{
    cli_table_t *t = cli_table_new(2, "MEMBER", "ROLES");
    const char *user;
    json_t *roles;
    json_object_foreach(json_object_get(team, "members"), user, roles) {
        mops_buf_t b = MOPS_BUF_INIT;
        size_t i;
        json_t *r;
        json_array_foreach(roles, i, r)
            mops_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(r));
        cli_table_add(t, user, b.data);
        mops_buf_release(&b);
    }
    cli_table_print(t);
}

static int team_show(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    char *team = cli_escape(argv[optind]);
    char *path = mops_xasprintf("/api/v1/teams/%s", team);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &out, &err);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0) {
        printf("team:        %s\ndescription: %s\ncreated:     %s\n\n",
               cli_cell(json_object_get(out, "name"), 0),
               cli_cell(json_object_get(out, "description"), 1),
               cli_time(json_object_get(out, "created_at"), 2));
        print_members(out);
    }
    json_decref(out);
    free(path);
    free(team);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int member_add(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    json_t *roles = json_array();
    int ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'r') {
            json_array_append_new(roles, json_string(optarg));
        } else {
            json_decref(roles);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 2 || !json_array_size(roles)) {
        json_decref(roles);
        return cli_usage_error("give TEAM, USER and at least one --role");
    }
    char *team = cli_escape(argv[optind]), *user = cli_escape(argv[optind + 1]);
    char *path = mops_xasprintf("/api/v1/teams/%s/members/%s", team, user);
    json_t *body = json_pack("{s:o}", "roles", roles);
    mops_err_t err;
    int rc = cli_request(c, "PUT", path, body, NULL, &err);
    if (rc == 0)
        printf("%s is now in team %s\n", argv[optind + 1], argv[optind]);
    json_decref(body);
    free(path);
    free(team);
    free(user);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int member_remove(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 2, 2, &json))
        return CLI_USAGE;
    char *team = cli_escape(argv[optind]), *user = cli_escape(argv[optind + 1]);
    char *path = mops_xasprintf("/api/v1/teams/%s/members/%s", team, user);
    mops_err_t err;
    int rc = cli_request(c, "DELETE", path, NULL, NULL, &err);
    if (rc == 0)
        printf("removed %s from team %s\n", argv[optind + 1], argv[optind]);
    free(path);
    free(team);
    free(user);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t subs[] = {
    {"create", "NAME [--description TEXT] [--json]", "Create a team (global admins).",
     "  -d, --description TEXT   what the team does\n  --json                   print JSON\n",
     team_create},
    {"list", "[--json]", "List the teams you belong to (all of them for admins).",
     "  --json   print JSON\n", team_list},
    {"show", "NAME [--json]", "Show a team and its members' roles.", "  --json   print JSON\n",
     team_show},
    {"add-member", "TEAM USER --role ROLE [--role ROLE...]",
     "Give USER these roles in TEAM (replacing the roles they had there).",
     "  -r, --role ROLE   admin, data-scientist, ml-engineer, risk-officer, finops or viewer\n",
     member_add},
    {"remove-member", "TEAM USER", "Take USER out of TEAM.", NULL, member_remove},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_team(int argc, char **argv)
{
    return cli_group(GROUP, "Teams own models; members hold roles in them.", subs, argc, argv);
}
