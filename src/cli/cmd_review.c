/*
 * cmd_review.c — `mops review request|approve|reject|list|due`: reviews of
 * versions. The author of a version never reviews it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

#define GROUP "review"

/* TEAM/MODEL VERSION [--comment TEXT] [--json]: POST {"comment"} to suffix. */
static int decide(cli_client_t *c, int argc, char **argv, const char *suffix, int need_comment)
{
    static const struct option opts[] = {{"comment", required_argument, NULL, 'm'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int json = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'm')
            json_object_set_new(body, "comment", json_string(optarg));
        else if (ch == OPT_JSON)
            json = 1;
        else
            rc = CLI_USAGE;
    }
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM/MODEL and VERSION");
    if (rc == 0 && need_comment && !json_object_get(body, "comment"))
        rc = cli_usage_error("give --comment: say why");
    char *path = rc == 0 ? cli_version_path(argv[optind], argv[optind + 1], suffix) : NULL;
    if (rc == 0 && !path)
        rc = CLI_USAGE;
    json_t *out = NULL;
    mops_err_t err;
    if (rc == 0 && (rc = cli_request(c, "POST", path, body, &out, &err)) != 0)
        rc = cli_fail(&err);
    else if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0) {
        printf("%s@%s is %s\n", argv[optind], argv[optind + 1],
               json_string_value(json_object_get(out, "stage")));
        if (json_is_object(json_object_get(out, "evaluation")))
            cli_print_rules(stdout, json_object_get(out, "evaluation"));
    }
    free(path);
    json_decref(out);
    json_decref(body);
    return rc;
}

static int review_request(cli_client_t *c, int argc, char **argv)
{
    return decide(c, argc, argv, "/reviews", 0);
}

static int review_approve(cli_client_t *c, int argc, char **argv)
{
    return decide(c, argc, argv, "/approvals", 0);
}

static int review_reject(cli_client_t *c, int argc, char **argv)
{
    return decide(c, argc, argv, "/rejections", 1);
}

static void print_reviews(const json_t *out)
{
    printf("stage: %s\n", json_string_value(json_object_get(out, "stage")));
    size_t i, j;
    json_t *r, *d;
    json_array_foreach(json_object_get(out, "items"), i, r) {
        printf("\nreview %s (%s), requested by %s at %s: %s\n",
               cli_cell(json_object_get(r, "id"), 0), cli_cell(json_object_get(r, "state"), 1),
               cli_cell(json_object_get(r, "requested_by"), 2),
               cli_time(json_object_get(r, "requested_at"), 3),
               cli_cell(json_object_get(r, "comment"), 4));
        cli_table_t *t = cli_table_new(5, "WHEN", "WHO", "DECISION", "ROLES", "COMMENT");
        json_array_foreach(json_object_get(r, "decisions"), j, d)
            cli_table_add(t, cli_time(json_object_get(d, "at"), 0),
                          cli_cell(json_object_get(d, "user"), 1),
                          cli_cell(json_object_get(d, "decision"), 2),
                          cli_cell(json_object_get(d, "roles"), 3),
                          cli_cell(json_object_get(d, "comment"), 4));
        cli_table_print(t);
    }
    printf("\nwhat counts now:\n");
    cli_table_t *t = cli_table_new(4, "WHO", "DECISION", "COUNTS", "WHY NOT");
    json_array_foreach(json_object_get(out, "current_decisions"), i, d)
        cli_table_add(t, cli_cell(json_object_get(d, "user"), 0),
                      cli_cell(json_object_get(d, "decision"), 1),
                      cli_cell(json_object_get(d, "counts"), 2),
                      cli_cell(json_object_get(d, "why"), 3));
    cli_table_print(t);
}

static int review_list(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 2, 2, &json))
        return CLI_USAGE;
    char *path = cli_version_path(argv[optind], argv[optind + 1], "/reviews");
    if (!path)
        return CLI_USAGE;
    int rc = cli_show(c, "GET", path, NULL, json, print_reviews);
    free(path);
    return rc;
}

static void print_due(const json_t *out)
{
    cli_table_t *t = cli_table_new(6, "MODEL", "VERSION", "SINCE", "DAYS", "LIMIT", "POLICY");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(out, "items"), i, it) {
        char *name = mops_xasprintf("%s/%s", json_string_value(json_object_get(it, "team")),
                                    json_string_value(json_object_get(it, "model")));
        cli_table_add(t, name, cli_cell(json_object_get(it, "version"), 0),
                      cli_time(json_object_get(it, "since"), 1),
                      cli_cell(json_object_get(it, "age_days"), 2),
                      cli_cell(json_object_get(it, "max_age_days"), 3),
                      cli_cell(json_object_get(it, "policy"), 4));
        free(name);
    }
    cli_table_print(t);
}

static int review_due(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 0, 0, &json))
        return CLI_USAGE;
    return cli_show(c, "GET", "/api/v1/governance/reviews-due", NULL, json, print_due);
}

static const cli_sub_t subs[] = {
    {"request", "TEAM/MODEL VERSION [--comment TEXT] [--json]",
     "Ask for a version's review (draft -> in_review); the owner and the reviewers are\n"
     "notified. The rules gating in_review must pass.",
     "  -m, --comment TEXT   what to look at\n"
     "  --json               print JSON\n",
     review_request},
    {"approve", "TEAM/MODEL VERSION [--comment TEXT] [--json]",
     "Approve a version under review (never one's own). It moves to approved as soon as the\n"
     "approvals its policies ask for are in; an approval stops counting if the artifact or\n"
     "the policies change.",
     "  -m, --comment TEXT   why\n"
     "  --json               print JSON\n",
     review_approve},
    {"reject", "TEAM/MODEL VERSION --comment TEXT [--json]",
     "Reject a version under review (in_review -> rejected).",
     "  -m, --comment TEXT   why (required)\n"
     "  --json               print JSON\n",
     review_reject},
    {"list", "TEAM/MODEL VERSION [--json]",
     "Show a version's reviews, their decisions and which approvals count now.",
     "  --json   print JSON\n", review_list},
    {"due", "[--json]",
     "List production versions a freshness rule flags for review (in production too long).",
     "  --json   print JSON\n", review_due},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_review(int argc, char **argv)
{
    return cli_group(GROUP, "Reviews of versions: request, approve, reject.", subs, argc, argv);
}
