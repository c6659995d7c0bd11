/*
 * cmd_user.c — `mops user create|list|show|update`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

#define GROUP "user"

static int user_create(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"display-name", required_argument, NULL, OPT_DISPLAY},
                                         {"email", required_argument, NULL, 'e'},
                                         {"admin", no_argument, NULL, OPT_ADMIN},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_DISPLAY)
            json_object_set_new(body, "display_name", json_string(optarg));
        else if (ch == 'e')
            json_object_set_new(body, "email", json_string(optarg));
        else if (ch == OPT_ADMIN)
            json_object_set_new(body, "admin", json_true());
        else if (ch == OPT_JSON)
            json = 1;
        else {
            json_decref(body);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 1) {
        json_decref(body);
        return cli_usage_error("give one user name");
    }
    json_object_set_new(body, "name", json_string(argv[optind]));
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "POST", "/api/v1/users", body, &out, &err);
    json_decref(body);
    if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0)
        printf("created user %s; give them a token with 'mops token create --user %s "
               "--name ...'\n",
               argv[optind], argv[optind]);
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int user_list(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 0, 0, &json))
        return CLI_USAGE;
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", "/api/v1/users", NULL, &out, &err);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0) {
        cli_table_t *t = cli_table_new(5, "USER", "NAME", "EMAIL", "ADMIN", "DISABLED");
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(out, "items"), i, it)
            cli_table_add(t, cli_cell(json_object_get(it, "name"), 0),
                          cli_cell(json_object_get(it, "display_name"), 1),
                          cli_cell(json_object_get(it, "email"), 2),
                          cli_cell(json_object_get(it, "admin"), 3),
                          cli_cell(json_object_get(it, "disabled"), 4));
        cli_table_print(t);
    }
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static void print_user(const json_t *u)
{
    printf("user:     %s\nname:     %s\nemail:    %s\nadmin:    %s\ndisabled: %s\n"
           "created:  %s\nteams:\n",
           cli_cell(json_object_get(u, "name"), 0), cli_cell(json_object_get(u, "display_name"), 1),
           cli_cell(json_object_get(u, "email"), 2), cli_cell(json_object_get(u, "admin"), 3),
           cli_cell(json_object_get(u, "disabled"), 4),
           cli_time(json_object_get(u, "created_at"), 5));
    cli_print_roles(json_object_get(u, "teams"));
}

static int user_show(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    char *user = cli_escape(argv[optind]);
    char *path = mops_xasprintf("/api/v1/users/%s", user);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print_user(out);
    json_decref(out);
    free(path);
    free(user);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int user_update(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"display-name", required_argument, NULL, OPT_DISPLAY},
                                         {"email", required_argument, NULL, 'e'},
                                         {"admin", no_argument, NULL, OPT_ADMIN},
                                         {"no-admin", no_argument, NULL, OPT_NO_ADMIN},
                                         {"disable", no_argument, NULL, OPT_DISABLE},
                                         {"enable", no_argument, NULL, OPT_ENABLE},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case OPT_DISPLAY: json_object_set_new(body, "display_name", json_string(optarg)); break;
        case 'e': json_object_set_new(body, "email", json_string(optarg)); break;
        case OPT_ADMIN: json_object_set_new(body, "admin", json_true()); break;
        case OPT_NO_ADMIN: json_object_set_new(body, "admin", json_false()); break;
        case OPT_DISABLE: json_object_set_new(body, "disabled", json_true()); break;
        case OPT_ENABLE: json_object_set_new(body, "disabled", json_false()); break;
        case OPT_JSON: json = 1; break;
        default: json_decref(body); return CLI_USAGE;
        }
    }
    if (argc - optind != 1 || !json_object_size(body)) {
        json_decref(body);
        return cli_usage_error("give one user name and at least one change");
    }
    char *user = cli_escape(argv[optind]);
    char *path = mops_xasprintf("/api/v1/users/%s", user);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "PATCH", path, body, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print_user(out);
    json_decref(out);
    json_decref(body);
    free(path);
    free(user);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t subs[] = {
    {"create", "NAME [--display-name N] [--email E] [--admin] [--json]",
     "Create a user (global admins). Add them to teams with 'mops team add-member'.",
     "  --display-name NAME   the person's name\n"
     "  -e, --email ADDRESS   where notifications go\n"
     "  --admin               make them a global administrator\n"
     "  --json                print JSON\n",
     user_create},
    {"list", "[--json]", "List users.", "  --json   print JSON\n", user_list},
    {"show", "NAME [--json]", "Show a user and their roles in the teams you can see.",
     "  --json   print JSON\n", user_show},
    {"update", "NAME [--display-name N] [--email E] [--admin|--no-admin] [--disable|--enable]",
     "Change a user. Disabling a user refuses all their tokens at once.",
     "  --display-name NAME   the person's name\n"
     "  -e, --email ADDRESS   their address\n"
     "  --admin, --no-admin   grant or drop global admin\n"
     "  --disable, --enable   refuse or accept their tokens\n"
     "  --json                print JSON\n",
     user_update},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_user(int argc, char **argv)
{
    return cli_group(GROUP, "Users hold roles in teams and sign in with API tokens.", subs, argc,
                     argv);
}
