/*
 * cmd_lifecycle.c — `mops version transition|promote|retire|history`: moving
 * a version through its lifecycle. A move the policies block prints every
 * failing rule and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

/* POST the move; on a refusal by the policies show the rules. */
static int move(cli_client_t *c, const char *model_arg, const char *version, json_t *body,
                int json)
{
    char *path = cli_version_path(model_arg, version, "/transitions");
    if (!path)
        return CLI_USAGE;
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "POST", path, body, &out, &err);
    free(path);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0) {
        printf("%s@%s: %s -> %s\n", model_arg, version,
               json_string_value(json_object_get(out, "from")),
               json_string_value(json_object_get(out, "to")));
        cli_print_rules(stdout, json_object_get(out, "evaluation"));
    } else if (strstr(err.msg, "failed_precondition") && strstr(err.msg, " rule")) {
        /* Blocked: the message names the rules; the check shows them all. */
        cli_fail(&err);
        char *check = cli_version_path(model_arg, version, "/policy-check?stage=");
        char *to = cli_escape(json_string_value(json_object_get(body, "to")));
        char *full = mops_xasprintf("%s%s", check, to);
        json_t *ev = NULL;
        if (cli_request(c, "GET", full, NULL, &ev, &err) == 0) {
            fprintf(stderr, "\nrules gating %s:\n", json_string_value(json_object_get(body, "to")));
            cli_print_rules(stderr, ev);
        }
        json_decref(ev);
        free(check);
        free(to);
        free(full);
        json_decref(out);
        return CLI_FAIL;
    }
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const struct option move_opts[] = {{"reason", required_argument, NULL, 'r'},
                                          {"replacement", required_argument, NULL, OPT_REPLACEMENT},
                                          {"deprecate-others", no_argument, NULL,
                                           OPT_DEPRECATE_OTHERS},
                                          {"json", no_argument, NULL, OPT_JSON},
                                          {NULL, 0, NULL, 0}};

/* Options of a move into body; positional arguments left in argv. */
static int move_parse(int argc, char **argv, json_t *body, int *json)
{
    int ch;
    *json = 0;
    while ((ch = cli_getopt(argc, argv, move_opts, "version", cli_current_sub)) != -1) {
        switch (ch) {
        case 'r': json_object_set_new(body, "reason", json_string(optarg)); break;
        case OPT_REPLACEMENT: {
            char *end;
            long long n = strtoll(optarg, &end, 10);
            if (*end || n < 1)
                return cli_usage_error("--replacement must be a version number");
            json_object_set_new(body, "replacement", json_integer(n));
            break;
        }
        case OPT_DEPRECATE_OTHERS: json_object_set_new(body, "deprecate_others", json_true()); break;
        case OPT_JSON: *json = 1; break;
        default: return CLI_USAGE;
        }
    }
    return 0;
}

int cmd_version_transition(cli_client_t *c, int argc, char **argv)
{
    json_t *body = json_object();
    int json, rc = move_parse(argc, argv, body, &json);
    if (rc == 0 && argc - optind != 3)
        rc = cli_usage_error("give TEAM/MODEL, VERSION and STAGE");
    if (rc == 0 && !json_object_get(body, "reason"))
        rc = cli_usage_error("give --reason: every move records why");
    if (rc == 0) {
        json_object_set_new(body, "to", json_string(argv[optind + 2]));
        rc = move(c, argv[optind], argv[optind + 1], body, json);
    }
    json_decref(body);
    return rc;
}

int cmd_version_retire(cli_client_t *c, int argc, char **argv)
{
    json_t *body = json_object();
    int json, rc = move_parse(argc, argv, body, &json);
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM/MODEL and VERSION");
    if (rc == 0 && !json_object_get(body, "reason"))
        rc = cli_usage_error("give --reason: a retirement records why");
    if (rc == 0) {
        json_object_set_new(body, "to", json_string("retired"));
        rc = move(c, argv[optind], argv[optind + 1], body, json);
    }
    json_decref(body);
    return rc;
}

int cmd_version_promote(cli_client_t *c, int argc, char **argv)
{
    json_t *body = json_object();
    int json, rc = move_parse(argc, argv, body, &json);
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM/MODEL and VERSION");
    char *path = rc == 0 ? cli_version_path(argv[optind], argv[optind + 1], "") : NULL;
    if (rc == 0 && !path)
        rc = CLI_USAGE;
    json_t *v = NULL;
    mops_err_t err;
    if (rc == 0 && cli_request(c, "GET", path, NULL, &v, &err) != 0)
        rc = cli_fail(&err);
    free(path);
    if (rc == 0) {
        /* The next stage forward that serves more. */
        const char *stage = json_string_value(json_object_get(v, "stage"));
        const char *to = !strcmp(stage, "approved")     ? "staging"
                         : !strcmp(stage, "staging")    ? "production"
                         : !strcmp(stage, "deprecated") ? "production"
                                                        : NULL;
        if (!to) {
            fprintf(stderr,
                    "mops version promote: %s@%s is in stage %s; promote moves approved -> "
                    "staging -> production (%s)\n",
                    argv[optind], argv[optind + 1], stage,
                    !strcmp(stage, "draft")       ? "request a review first: mops review request"
                    : !strcmp(stage, "in_review") ? "it needs its approvals: mops review approve"
                                                  : "see mops version transition");
            rc = CLI_FAIL;
        } else {
            json_object_set_new(body, "to", json_string(to));
            if (!json_object_get(body, "reason"))
                json_object_set_new(body, "reason", json_sprintf("promoted to %s", to));
            rc = move(c, argv[optind], argv[optind + 1], body, json);
        }
    }
    json_decref(v);
    json_decref(body);
    return rc;
}

static void print_history(const json_t *out)
{
    printf("stage: %s\n", json_string_value(json_object_get(out, "stage")));
    cli_table_t *t = cli_table_new(5, "WHEN", "FROM", "TO", "BY", "WHY");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(out, "items"), i, it)
        cli_table_add(t, cli_time(json_object_get(it, "at"), 0),
                      cli_cell(json_object_get(it, "from"), 1),
                      cli_cell(json_object_get(it, "to"), 2),
                      cli_cell(json_object_get(it, "actor"), 3),
                      cli_cell(json_object_get(it, "reason"), 4));
    cli_table_print(t);
}

int cmd_version_history(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 2, 2, &json))
        return CLI_USAGE;
    char *path = cli_version_path(argv[optind], argv[optind + 1], "/transitions");
    if (!path)
        return CLI_USAGE;
    int rc = cli_show(c, "GET", path, NULL, json, print_history);
    free(path);
    return rc;
}
