/*
 * cmd_token.c — `mops token create|list|revoke`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"
#include "core/text.h"

#define GROUP "token"

static int token_create(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"user", required_argument, NULL, 'u'},
        {"expires-in-days", required_argument, NULL, OPT_EXPIRES_IN_DAYS},
        {"expires-at", required_argument, NULL, OPT_EXPIRES_AT},
        {"infer-only", required_argument, NULL, 'I'},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0}};
    json_t *body = json_object(), *infer = NULL;
    int json = 0, ch;
    long long days;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'n': json_object_set_new(body, "name", json_string(optarg)); break;
        case 'u': json_object_set_new(body, "user", json_string(optarg)); break;
        case OPT_EXPIRES_AT: json_object_set_new(body, "expires_at", json_string(optarg)); break;
        case OPT_EXPIRES_IN_DAYS:
            if (mops_parse_i64(optarg, &days) != 0) {
                json_decref(body);
                return cli_usage_error("--expires-in-days must be a number of days");
            }
            json_object_set_new(body, "expires_in_days", json_integer(days));
            break;
        case 'I': { /* repeatable, and a comma-separated list */
            if (!infer) {
                infer = json_array();
                json_object_set_new(body, "infer_only", infer);
            }
            char *copy = mops_xstrdup(optarg);
            for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
                 t = strtok_r(NULL, ",", &save))
                json_array_append_new(infer, json_string(t));
            free(copy);
            break;
        }
        case OPT_JSON: json = 1; break;
        default: json_decref(body); return CLI_USAGE;
        }
    }
    /* Deployments may also follow the options: --infer-only a b c. */
    while (infer && optind < argc)
        json_array_append_new(infer, json_string(argv[optind++]));
    if (argc != optind || !json_object_get(body, "name")) {
        json_decref(body);
        return cli_usage_error("give --name (what the token is for)");
    }
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "POST", "/api/v1/tokens", body, &out, &err);
    json_decref(body);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0) {
        /* The secret alone on stdout, so it can be captured; the rest on
         * stderr for the person. */
        fprintf(stderr, "token %s for %s (id %s, expires %s%s%s); it is shown only now:\n",
                cli_cell(json_object_get(out, "name"), 0), cli_cell(json_object_get(out, "user"), 1),
                cli_cell(json_object_get(out, "id"), 2),
                cli_time(json_object_get(out, "expires_at"), 3),
                json_is_array(json_object_get(out, "infer_only")) ? "; inference only on " : "",
                json_is_array(json_object_get(out, "infer_only"))
                    ? cli_cell(json_object_get(out, "infer_only"), 4)
                    : "");
        printf("%s\n", json_string_value(json_object_get(out, "token")));
    }
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int token_list(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *user = NULL;
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'u')
            user = optarg;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    char *u = user ? cli_escape(user) : NULL;
    char *path = u ? mops_xasprintf("/api/v1/tokens?user=%s", u) : mops_xstrdup("/api/v1/tokens");
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &out, &err);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0) {
        cli_table_t *t = cli_table_new(7, "ID", "NAME", "PREFIX", "STATE", "CREATED", "EXPIRES",
                                       "LAST USED");
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(out, "items"), i, it)
            cli_table_add(t, cli_cell(json_object_get(it, "id"), 0),
                          cli_cell(json_object_get(it, "name"), 1),
                          cli_cell(json_object_get(it, "prefix"), 2),
                          cli_cell(json_object_get(it, "state"), 3),
                          cli_time(json_object_get(it, "created_at"), 4),
                          cli_time(json_object_get(it, "expires_at"), 5),
                          cli_time(json_object_get(it, "last_used_at"), 6));
        cli_table_print(t);
    }
    json_decref(out);
    free(path);
    free(u);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int token_revoke(cli_client_t *c, int argc, char **argv)
{
    int json;
    long long id;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    if (mops_parse_i64(argv[optind], &id) != 0)
        return cli_usage_error("token id must be a number (see 'mops token list')");
    char *path = mops_xasprintf("/api/v1/tokens/%lld", id);
    mops_err_t err;
    int rc = cli_request(c, "DELETE", path, NULL, NULL, &err);
    if (rc == 0)
        printf("revoked token %lld\n", id);
    free(path);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t subs[] = {
    {"create",
     "--name NAME [--user USER] [--expires-in-days N | --expires-at TIME] "
     "[--infer-only DEPLOYMENT...] [--json]",
     "Create an API token and print it (once: mops keeps only its hash).",
     "  -n, --name NAME          what the token is for\n"
     "  -u, --user USER          whose token (admins; default: yours)\n"
     "  --expires-in-days N      expire after N days (1-3650)\n"
     "  --expires-at TIME        expire at an RFC 3339 time, e.g. 2027-01-31T00:00:00Z\n"
     "  --infer-only DEPLOYMENT...  an application's token: it may only run inference on\n"
     "                           these deployments (repeatable, or comma-separated)\n"
     "  --json                   print JSON\n",
     token_create},
    {"list", "[--user USER] [--json]", "List your tokens (or USER's, for admins), never "
     "their secrets.", "  -u, --user USER   whose tokens\n  --json            print JSON\n",
     token_list},
    {"revoke", "ID", "Revoke a token: it stops working at once.", NULL, token_revoke},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_token(int argc, char **argv)
{
    return cli_group(GROUP, "API tokens: 256 random bits, shown once, stored as SHA-256 hashes.",
                     subs, argc, argv);
}
