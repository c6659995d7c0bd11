/*
 * cmd_report.c — `mops report`: the compliance report of one model or of
 * the whole inventory, as a summary for people, as JSON, or as the
 * self-contained HTML page an auditor reads offline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

static void print_summary(const json_t *r)
{
    printf("compliance report (%s), generated at %s by %s\n",
           cli_cell(json_object_get(r, "kind"), 0), cli_cell(json_object_get(r, "generated_at"), 1),
           cli_cell(json_object_get(r, "generated_by"), 2));
    printf("sha256 %s (recorded in the audit chain)\n\n",
           cli_cell(json_object_get(json_object_get(r, "digest"), "sha256"), 0));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(r, "summary"), k, v) printf("%-22s %s\n", k,
                                                                    cli_cell(v, 0));
    cli_table_t *t = cli_table_new(6, "MODEL", "VERSION", "STAGE", "APPROVALS", "VALIDATIONS",
                                   "FLAGS");
    size_t i, j;
    json_t *m, *ver;
    json_array_foreach(json_object_get(r, "models"), i, m) {
        const json_t *model = json_object_get(m, "model");
        char *name = mops_xasprintf("%s/%s", json_string_value(json_object_get(model, "team")),
                                    json_string_value(json_object_get(model, "name")));
        json_array_foreach(json_object_get(m, "versions"), j, ver) {
            const json_t *reg = json_object_get(ver, "registry");
            size_t approvals = 0, k2;
            json_t *d;
            json_array_foreach(json_object_get(ver, "current_decisions"), k2, d) approvals +=
                json_is_true(json_object_get(d, "counts"));
            char a[16], n[16], f[16];
            snprintf(a, sizeof a, "%zu", approvals);
            snprintf(n, sizeof n, "%zu", json_array_size(json_object_get(ver, "validations")));
            snprintf(f, sizeof f, "%zu",
                     json_array_size(json_object_get(json_object_get(ver, "policy_check"),
                                                     "flags")));
            cli_table_add(t, name, cli_cell(json_object_get(reg, "version"), 0),
                          cli_cell(json_object_get(reg, "stage"), 1), a, n, f);
        }
        free(name);
    }
    putchar('\n');
    cli_table_print(t);
}

static int report(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, OPT_ALL},
                                         {"team", required_argument, NULL, 'T'},
                                         {"html", no_argument, NULL, OPT_HTML},
                                         {"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *team = NULL, *output = NULL;
    int all = 0, html = 0, json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, "report", cli_current_sub)) != -1) {
        switch (ch) {
        case OPT_ALL: all = 1; break;
        case 'T': team = optarg; break;
        case OPT_HTML: html = 1; break;
        case 'o': output = optarg; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (html && json)
        return cli_usage_error("give --html or --json, not both");
    if (argc - optind != (all ? 0 : 1))
        return cli_usage_error(all ? "--all takes no TEAM/MODEL" : "give TEAM/MODEL, or --all");
    if (team && !all)
        return cli_usage_error("--team goes with --all");
    char *path;
    if (all) {
        char *t = team ? cli_escape(team) : NULL;
        path = mops_xasprintf("/api/v1/reports/inventory?format=%s%s%s", html ? "html" : "json",
                              t ? "&team=" : "", t ? t : "");
        free(t);
    } else {
        char *tm, *mm;
        if (cli_model_ref(argv[optind], &tm, &mm) != 0)
            return cli_usage_error("\"%s\" is not TEAM/MODEL", argv[optind]);
        path = mops_xasprintf("/api/v1/models/%s/%s/report?format=%s", tm, mm,
                              html ? "html" : "json");
        free(tm);
        free(mm);
    }
    mops_err_t err;
    int rc;
    if (html) {
        char *text = NULL;
        if ((rc = cli_get_text(c, path, &text, &err)) == 0)
            rc = cli_write_text(output, text, &err);
        if (rc == 0 && output)
            printf("wrote %s\n", output);
        free(text);
    } else {
        json_t *out = NULL;
        if ((rc = cli_request(c, "GET", path, NULL, &out, &err)) == 0 && (json || output)) {
            char *s = json_dumps(out, JSON_INDENT(2));
            char *t = mops_xasprintf("%s\n", s);
            rc = cli_write_text(output, t, &err);
            free(s);
            free(t);
        } else if (rc == 0) {
            print_summary(out);
        }
        json_decref(out);
    }
    free(path);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t command = {
    "", "TEAM/MODEL | --all [--team T]  [--html | --json] [-o FILE]",
    "The compliance report of a model (or, with --all, of every model whose team's reports\n"
    "you may read): lineage, versions, stage history, approvals, policy evaluations,\n"
    "validation and fairness reports, model cards, retirements, audit excerpts, and the\n"
    "deployments, incidents and costs other modules provide. Generating one is audited.",
    "  --all               the inventory instead of one model\n"
    "  -T, --team TEAM     with --all: one team only\n"
    "  --html              a self-contained HTML page (readable offline)\n"
    "  --json              the report as JSON\n"
    "  -o, --output FILE   write it to FILE (default: standard output)\n",
    report};

int cmd_report(int argc, char **argv)
{
    return cli_command("report", &command, argc, argv);
}
