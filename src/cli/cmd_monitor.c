/*
 * cmd_monitor.c — `mops monitor report|reference|rules|rule-*|alerts|
 * retraining|retraining-close` and `mops labels upload`: the monitoring
 * report of a deployment, reference profiles, alert rules, alerts,
 * retraining requests, and ground truth from a CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/csv.h"
#include "core/mem.h"

#define GROUP "monitor"

static const char *num(const json_t *v, int slot)
{
    static char bufs[8][32];
    if (!json_is_number(v))
        return "-";
    snprintf(bufs[slot & 7], sizeof bufs[0], "%.4g", json_number_value(v));
    return bufs[slot & 7];
}

static void print_report(const json_t *out)
{
    const json_t *svc = json_object_get(out, "service");
    const json_t *lat = json_object_get(svc, "latency_ms");
    printf("deployment %s, %s to %s\n", json_string_value(json_object_get(out, "deployment")),
           cli_cell(json_object_get(out, "from"), 0), cli_cell(json_object_get(out, "to"), 1));
    printf("service: %s requests, %s errors, availability %s, latency p50 %s ms, p95 %s ms, "
           "p99 %s ms\n",
           cli_cell(json_object_get(svc, "requests"), 0),
           cli_cell(json_object_get(svc, "errors"), 1),
           num(json_object_get(svc, "availability"), 2), num(json_object_get(lat, "p50"), 3),
           num(json_object_get(lat, "p95"), 4), num(json_object_get(lat, "p99"), 5));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(out, "versions"), i, v) {
        const json_t *d = json_object_get(v, "drift");
        printf("\nversion %s: %s requests\n", json_string_value(json_object_get(v, "version")),
               cli_cell(json_object_get(json_object_get(v, "service"), "requests"), 0));
        if (json_object_get(d, "note")) {
            printf("  drift: %s\n", json_string_value(json_object_get(d, "note")));
        } else {
            cli_table_t *t = cli_table_new(7, "FEATURE", "METHOD", "SCORE", "THRESHOLD", "DRIFT",
                                           "PSI", "MISSING");
            const char *kinds[] = {"features", "predictions"};
            for (int k = 0; k < 2; k++) {
                size_t j;
                json_t *f;
                json_array_foreach(json_object_get(d, kinds[k]), j, f) {
                    const json_t *dr = json_object_get(f, "drifted");
                    cli_table_add(t, cli_cell(json_object_get(f, "name"), 0),
                                  cli_cell(json_object_get(f, "method"), 1),
                                  num(json_object_get(f, "score"), 2),
                                  num(json_object_get(f, "threshold"), 3),
                                  json_is_true(dr) ? "FAIL" : json_is_false(dr) ? "pass" : "-",
                                  num(json_object_get(json_object_get(f, "stats"), "psi"), 5),
                                  cli_cell(json_object_get(f, "missing"), 6));
                }
            }
            cli_table_print(t);
            const json_t *ds = json_object_get(d, "dataset");
            printf("  dataset drift: %s of %s features drifted (share %s, threshold %s)%s\n",
                   cli_cell(json_object_get(ds, "drifted"), 0),
                   cli_cell(json_object_get(ds, "features"), 1),
                   num(json_object_get(ds, "share"), 2), num(json_object_get(ds, "threshold"), 3),
                   json_is_true(json_object_get(ds, "drifted_dataset")) ? ": DRIFTED" : "");
        }
        const json_t *p = json_object_get(v, "performance"), *m = json_object_get(p, "metrics");
        if (!json_integer_value(json_object_get(p, "labelled"))) {
            printf("  performance: no labels yet\n");
            continue;
        }
        printf("  performance on %s labelled rows (%s):", cli_cell(json_object_get(p, "labelled"), 0),
               cli_cell(json_object_get(p, "task"), 1));
        const char *keys[] = {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
                              "rmse", "mae", "r2"};
        for (int k = 0; k < 9; k++)
            if (json_object_get(m, keys[k]))
                printf(" %s %s", keys[k], num(json_object_get(m, keys[k]), k));
        printf("\n");
    }
}

static int report_cmd(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *from = NULL, *to = NULL;
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("give one DEPLOYMENT");
    char *d = cli_escape(argv[optind]);
    mops_buf_t q = MOPS_BUF_INIT;
    mops_buf_printf(&q, "/api/v1/deployments/%s/monitoring", d);
    free(d);
    const char *keys[] = {"from", "to"}, *vals[] = {from, to};
    for (int i = 0, n = 0; i < 2; i++)
        if (vals[i]) {
            char *e = cli_escape(vals[i]);
            mops_buf_printf(&q, "%c%s=%s", n++ ? '&' : '?', keys[i], e);
            free(e);
        }
    int rc = cli_show(c, "GET", q.data, NULL, json, print_report);
    mops_buf_release(&q);
    return rc;
}

static void print_reference(const json_t *out)
{
    printf("%s: reference of %s rows\n", json_string_value(json_object_get(out, "version")),
           cli_cell(json_object_get(out, "rows"), 0));
    cli_table_t *t = cli_table_new(3, "COLUMN", "COUNT", "MISSING");
    size_t i;
    json_t *col;
    json_array_foreach(json_object_get(out, "columns"), i, col)
        cli_table_add(t, cli_cell(json_object_get(col, "name"), 0),
                      cli_cell(json_object_get(col, "count"), 1),
                      cli_cell(json_object_get(col, "missing"), 2));
    cli_table_print(t);
}

static int reference_cmd(cli_client_t *c, int argc, char **argv)
{
    int json, rc = cli_json_only(argc, argv, 2, 3, &json);
    if (rc != 0)
        return rc;
    char *path = cli_version_path(argv[optind], argv[optind + 1], "/reference");
    if (!path)
        return CLI_USAGE;
    if (argc - optind == 2) {
        rc = cli_show(c, "GET", path, NULL, json, print_reference);
        free(path);
        return rc;
    }
    json_t *out = NULL;
    mops_err_t err;
    rc = cli_upload_as(c, path, argv[optind + 2], "text/csv", &out, &err);
    free(path);
    if (rc == 0)
        json ? cli_print_json(out) : print_reference(out);
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static void print_alerts(const json_t *out)
{
    cli_table_t *t = cli_table_new(8, "ID", "STATE", "SEVERITY", "KIND", "TEAM", "DEPLOYMENT",
                                   "FIRED", "MESSAGE");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(out, "items"), i, a)
        cli_table_add(t, cli_cell(json_object_get(a, "id"), 0),
                      cli_cell(json_object_get(a, "state"), 1),
                      cli_cell(json_object_get(a, "severity"), 2),
                      cli_cell(json_object_get(a, "kind"), 3),
                      cli_cell(json_object_get(a, "team"), 4),
                      cli_cell(json_object_get(a, "deployment"), 5),
                      cli_time(json_object_get(a, "fired_at"), 6),
                      cli_cell(json_object_get(a, "message"), 7));
    cli_table_print(t);
}

static void print_retraining(const json_t *out)
{
    cli_table_t *t = cli_table_new(7, "ID", "STATE", "TEAM", "MODEL", "OWNER", "KIND", "REASON");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(out, "items"), i, r)
        cli_table_add(t, cli_cell(json_object_get(r, "id"), 0),
                      cli_cell(json_object_get(r, "state"), 1),
                      cli_cell(json_object_get(r, "team"), 2),
                      cli_cell(json_object_get(r, "model"), 3),
                      cli_cell(json_object_get(r, "owner"), 4),
                      cli_cell(json_object_get(r, "kind"), 5),
                      cli_cell(json_object_get(r, "reason"), 6));
    cli_table_print(t);
}

/* alerts and retraining: list with query options. */
static int list_cmd(cli_client_t *c, int argc, char **argv, const char *base, int retraining)
{
    static const struct option opts[] = {
        {"team", required_argument, NULL, 'T'}, {"state", required_argument, NULL, 's'},
        {"source", required_argument, NULL, 'S'}, {"deployment", required_argument, NULL, 'd'},
        {"mine", no_argument, NULL, 'm'}, {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0}};
    const char *keys[] = {"team", "state", "source", "deployment", "mine"};
    const char *vals[5] = {0};
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'T': vals[0] = optarg; break;
        case 's': vals[1] = optarg; break;
        case 'S': if (retraining) return CLI_USAGE; vals[2] = optarg; break;
        case 'd': if (retraining) return CLI_USAGE; vals[3] = optarg; break;
        case 'm': if (!retraining) return CLI_USAGE; vals[4] = "true"; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    mops_buf_t q = MOPS_BUF_INIT;
    mops_buf_puts(&q, base);
    for (int i = 0, n = 0; i < 5; i++)
        if (vals[i]) {
            char *e = cli_escape(vals[i]);
            mops_buf_printf(&q, "%c%s=%s", n++ ? '&' : '?', keys[i], e);
            free(e);
        }
    int rc = cli_show(c, "GET", q.data, NULL, json, retraining ? print_retraining : print_alerts);
    mops_buf_release(&q);
    return rc;
}

static int alerts_cmd(cli_client_t *c, int argc, char **argv)
{
    return list_cmd(c, argc, argv, "/api/v1/alerts", 0);
}

static int retraining_cmd(cli_client_t *c, int argc, char **argv)
{
    return list_cmd(c, argc, argv, "/api/v1/retraining-requests", 1);
}


/* ------------------------------------------------------------ alert rules */

static char *rules_path(const char *dep, const char *rule)
{
    char *d = cli_escape(dep), *r = rule ? cli_escape(rule) : NULL;
    char *p = r ? mops_xasprintf("/api/v1/deployments/%s/alert-rules/%s", d, r)
                : mops_xasprintf("/api/v1/deployments/%s/alert-rules", d);
    free(d);
    free(r);
    return p;
}

static void print_rule(const json_t *r)
{
    const json_t *f = json_object_get(r, "feature");
    printf("rule:       %s (deployment %s)\n", cli_cell(json_object_get(r, "name"), 0),
           cli_cell(json_object_get(r, "deployment"), 1));
    printf("condition:  %s%s%s %s %s over %s\n", cli_cell(json_object_get(r, "metric"), 0),
           json_is_string(f) ? " of " : "", json_is_string(f) ? json_string_value(f) : "",
           cli_cell(json_object_get(r, "op"), 1), num(json_object_get(r, "threshold"), 2),
           cli_cell(json_object_get(r, "window"), 3));
    printf("severity:   %s\n", cli_cell(json_object_get(r, "severity"), 0));
    printf("enabled:    %s\n", cli_cell(json_object_get(r, "enabled"), 0));
    printf("firing:     %s\n", json_is_true(json_object_get(r, "firing")) ? "yes" : "no");
}

static void print_rules(const json_t *out)
{
    cli_table_t *t = cli_table_new(7, "NAME", "METRIC", "FEATURE", "CONDITION", "WINDOW",
                                   "SEVERITY", "STATE");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(out, "items"), i, r) {
        char cond[300];
        snprintf(cond, sizeof cond, "%s %s", cli_cell(json_object_get(r, "op"), 0),
                 num(json_object_get(r, "threshold"), 1));
        const char *state = !json_is_true(json_object_get(r, "enabled")) ? "disabled"
                            : json_is_true(json_object_get(r, "firing")) ? "FIRING"
                                                                          : "ok";
        cli_table_add(t, cli_cell(json_object_get(r, "name"), 2),
                      cli_cell(json_object_get(r, "metric"), 3),
                      cli_cell(json_object_get(r, "feature"), 4), cond,
                      cli_cell(json_object_get(r, "window"), 5),
                      cli_cell(json_object_get(r, "severity"), 6), state);
    }
    cli_table_print(t);
}

static int rules_cmd(cli_client_t *c, int argc, char **argv)
{
    int json, rc = cli_json_only(argc, argv, 1, 1, &json);
    if (rc != 0)
        return rc;
    char *path = rules_path(argv[optind], NULL);
    rc = cli_show(c, "GET", path, NULL, json, print_rules);
    free(path);
    return rc;
}

/* rule-create and rule-update: DEPLOYMENT NAME and the rule's options. */
static int rule_edit(cli_client_t *c, int argc, char **argv, int create)
{
    static const struct option opts[] = {
        {"metric", required_argument, NULL, 'm'}, {"threshold", required_argument, NULL, 't'},
        {"feature", required_argument, NULL, 'f'}, {"op", required_argument, NULL, 'o'},
        {"window", required_argument, NULL, 'w'}, {"severity", required_argument, NULL, 's'},
        {"enable", no_argument, NULL, OPT_ENABLE}, {"disable", no_argument, NULL, OPT_DISABLE},
        {"json", no_argument, NULL, OPT_JSON},    {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int json = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'm': json_object_set_new(body, "metric", json_string(optarg)); break;
        case 't': {
            char *end;
            double v = strtod(optarg, &end);
            if (!*optarg || *end)
                rc = cli_usage_error("--threshold must be a number");
            else
                json_object_set_new(body, "threshold", json_real(v));
            break;
        }
        case 'f':
            json_object_set_new(body, "feature", *optarg ? json_string(optarg) : json_null());
            break;
        case 'o': json_object_set_new(body, "op", json_string(optarg)); break;
        case 'w': json_object_set_new(body, "window", json_string(optarg)); break;
        case 's': json_object_set_new(body, "severity", json_string(optarg)); break;
        case OPT_ENABLE: json_object_set_new(body, "enabled", json_true()); break;
        case OPT_DISABLE: json_object_set_new(body, "enabled", json_false()); break;
        case OPT_JSON: json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give DEPLOYMENT and RULE");
    if (rc == 0 && create &&
        (!json_object_get(body, "metric") || !json_object_get(body, "threshold")))
        rc = cli_usage_error("give --metric and --threshold");
    if (rc == 0 && !create && !json_object_size(body))
        rc = cli_usage_error("nothing to change");
    if (rc == 0) {
        char *path = rules_path(argv[optind], create ? NULL : argv[optind + 1]);
        if (create)
            json_object_set_new(body, "name", json_string(argv[optind + 1]));
        rc = cli_show(c, create ? "POST" : "PATCH", path, body, json, print_rule);
        free(path);
    }
    json_decref(body);
    return rc;
}

static int rule_create_cmd(cli_client_t *c, int argc, char **argv)
{
    return rule_edit(c, argc, argv, 1);
}

static int rule_update_cmd(cli_client_t *c, int argc, char **argv)
{
    return rule_edit(c, argc, argv, 0);
}

static int rule_show_cmd(cli_client_t *c, int argc, char **argv)
{
    int json, rc = cli_json_only(argc, argv, 2, 2, &json);
    if (rc != 0)
        return rc;
    char *path = rules_path(argv[optind], argv[optind + 1]);
    rc = cli_show(c, "GET", path, NULL, json, print_rule);
    free(path);
    return rc;
}

static int rule_delete_cmd(cli_client_t *c, int argc, char **argv)
{
    int json, rc = cli_json_only(argc, argv, 2, 2, &json);
    if (rc != 0)
        return rc;
    char *path = rules_path(argv[optind], argv[optind + 1]);
    json_t *out = NULL;
    mops_err_t err;
    rc = cli_request(c, "DELETE", path, NULL, &out, &err);
    free(path);
    json_decref(out);
    if (rc != 0)
        return cli_fail(&err);
    if (json) {
        json_t *o = json_pack("{s:s, s:b}", "rule", argv[optind + 1], "deleted", 1);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("deleted alert rule %s of deployment %s\n", argv[optind + 1], argv[optind]);
    }
    return CLI_OK;
}

static void print_closed(const json_t *r)
{
    printf("closed retraining request %s on %s/%s\n", cli_cell(json_object_get(r, "id"), 0),
           cli_cell(json_object_get(r, "team"), 1), cli_cell(json_object_get(r, "model"), 2));
}

static int retraining_close_cmd(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"note", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'n': json_object_set_new(body, "note", json_string(optarg)); break;
        case OPT_JSON: json = 1; break;
        default: json_decref(body); return CLI_USAGE;
        }
    }
    int rc;
    if (argc - optind != 1) {
        rc = cli_usage_error("give the retraining request's ID");
    } else {
        char *id = cli_escape(argv[optind]);
        char *path = mops_xasprintf("/api/v1/retraining-requests/%s/close", id);
        free(id);
        rc = cli_show(c, "POST", path, body, json, print_closed);
        free(path);
    }
    json_decref(body);
    return rc;
}

static const cli_sub_t subs[] = {
    {"report", "DEPLOYMENT [--from TIME] [--to TIME] [--json]",
     "Drift per feature (pass/fail), performance from labels, service figures.",
     "  -f, --from TIME   start (RFC 3339; default 24 hours before --to)\n"
     "  -t, --to TIME     end (RFC 3339; default now)\n"
     "  --json            print JSON\n",
     report_cmd},
    {"reference", "TEAM/MODEL VERSION [FILE.csv] [--json]",
     "Upload a version's reference profile from a CSV (training or validation data, features "
     "in the model's order; prediction columns named prediction[_N]), or show it.",
     "  --json   print JSON\n", reference_cmd},
    {"rules", "DEPLOYMENT [--json]", "List a deployment's alert rules and whether they fire.",
     "  --json   print JSON\n", rules_cmd},
    {"rule-create", "DEPLOYMENT RULE --metric M --threshold X [options]",
     "Add an alert rule: it fires when the metric over the window compares with the threshold.",
     "  -m, --metric M      drift_share, psi, wasserstein, jensen_shannon, ks_p_value,\n"
     "                      chi2_p_value, prediction_psi, accuracy, precision, recall, f1,\n"
     "                      roc_auc, log_loss, rmse, mae, r2, error_rate, availability,\n"
     "                      latency_p50, latency_p95, latency_p99 (ms), requests\n"
     "  -t, --threshold X   the threshold\n"
     "  -f, --feature F     the feature (drift statistics; default: the worst feature)\n"
     "  -o, --op OP         >, >=, < or <= (default: the metric's, e.g. > for psi)\n"
     "  -w, --window W      how far back: 15m, 1h, 7d (default 1h)\n"
     "  -s, --severity S    info, warning or critical (default warning)\n"
     "  --disable           create it disabled\n"
     "  --json              print JSON\n",
     rule_create_cmd},
    {"rule-show", "DEPLOYMENT RULE [--json]", "Show an alert rule.", "  --json   print JSON\n",
     rule_show_cmd},
    {"rule-update", "DEPLOYMENT RULE [options]",
     "Change an alert rule (options as rule-create; --feature '' for every feature; "
     "--enable, --disable).",
     "  -m, --metric M  -t, --threshold X  -f, --feature F  -o, --op OP  -w, --window W\n"
     "  -s, --severity S  --enable  --disable  --json\n",
     rule_update_cmd},
    {"rule-delete", "DEPLOYMENT RULE [--json]", "Delete an alert rule (its alert resolves).",
     "  --json   print JSON\n", rule_delete_cmd},
    {"alerts", "[--team T] [--state firing|resolved] [--source monitor|finops] "
               "[--deployment D] [--json]",
     "List alerts, newest first.", "  --json   print JSON\n", alerts_cmd},
    {"retraining", "[--team T] [--state open|closed] [--mine] [--json]",
     "List retraining requests that drift and accuracy alerts opened.",
     "  -m, --mine   only requests on models you own\n  --json       print JSON\n",
     retraining_cmd},
    {"retraining-close", "ID [--note TEXT] [--json]",
     "Close a retraining request (its model's owner, or model.write on its team).",
     "  -n, --note TEXT   what was done\n  --json            print JSON\n",
     retraining_close_cmd},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_monitor(int argc, char **argv)
{
    return cli_group(GROUP, "Monitoring: drift, performance, service figures, alerts.", subs,
                     argc, argv);
}

/* ------------------------------------------------------------ labels */

#define LABELS_BATCH 10000

/* POST the collected labels; empties them. */
static int labels_send(cli_client_t *c, const char *path, json_t *items, int64_t *sent,
                       mops_err_t *err)
{
    json_t *body = json_pack("{s:O}", "labels", items), *out = NULL;
    int rc = cli_request(c, "POST", path, body, &out, err);
    json_decref(body);
    if (rc == 0)
        *sent += json_integer_value(json_object_get(out, "accepted"));
    json_decref(out);
    json_array_clear(items);
    return rc;
}

static int labels_upload_cmd(cli_client_t *c, int argc, char **argv)
{
    int json, rc = cli_json_only(argc, argv, 2, 2, &json);
    if (rc != 0)
        return rc;
    const char *file = argv[optind + 1];
    FILE *f = fopen(file, "r");
    mops_err_t err;
    if (!f) {
        mops_err_set(&err, MOPS_EIO, "cannot open '%s'", file);
        return cli_fail(&err);
    }
    char *d = cli_escape(argv[optind]);
    char *path = mops_xasprintf("/api/v1/deployments/%s/labels", d);
    free(d);
    mops_csv_t *csv = mops_csv_open(f, file);
    mops_csv_record_t rec;
    int header = 1, col_id = -1, col_label = -1, col_row = -1;
    json_t *items = json_array();
    int64_t sent = 0;
    while (rc == 0 && (rc = mops_csv_next(csv, &rec, &err)) == 1) {
        rc = 0;
        if (header) {
            for (size_t i = 0; i < rec.n; i++) {
                if (!strcmp(rec.fields[i], "request_id"))
                    col_id = (int)i;
                else if (!strcmp(rec.fields[i], "label"))
                    col_label = (int)i;
                else if (!strcmp(rec.fields[i], "row"))
                    col_row = (int)i;
            }
            if (col_id < 0 || col_label < 0)
                rc = mops_err_set(&err, MOPS_EINVAL,
                                  "%s: the header must name the columns request_id and label",
                                  file);
            header = 0;
            continue;
        }
        double label, row = 0;
        if ((size_t)col_id >= rec.n || (size_t)col_label >= rec.n ||
            mops_csv_number(rec.fields[col_label], rec.lens[col_label], &label) != 0 ||
            (col_row >= 0 && ((size_t)col_row >= rec.n ||
                              mops_csv_number(rec.fields[col_row], rec.lens[col_row], &row) != 0))) {
            rc = mops_err_set(&err, MOPS_EINVAL, "%s line %zu: needs a request_id and a numeric "
                                                 "label",
                              file, rec.line);
            break;
        }
        json_array_append_new(items, json_pack("{s:s, s:f, s:I}", "request_id",
                                               rec.fields[col_id], "label", label, "row",
                                               (json_int_t)row));
        if (json_array_size(items) == LABELS_BATCH)
            rc = labels_send(c, path, items, &sent, &err);
    }
    if (rc == 0 && json_array_size(items))
        rc = labels_send(c, path, items, &sent, &err);
    json_decref(items);
    mops_csv_close(csv);
    fclose(f);
    free(path);
    if (rc != 0)
        return cli_fail(&err);
    if (json) {
        json_t *o = json_pack("{s:I}", "accepted", (json_int_t)sent);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("%lld labels accepted\n", (long long)sent);
    }
    return CLI_OK;
}

static const cli_sub_t label_subs[] = {
    {"upload", "DEPLOYMENT FILE.csv [--json]",
     "Post ground truth: a CSV with the columns request_id, label (a class index or a number) "
     "and optionally row (the row within the request, default 0).",
     "  --json   print JSON\n", labels_upload_cmd},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_labels(int argc, char **argv)
{
    return cli_group("labels", "Ground truth for a deployment's predictions, by request id.",
                     label_subs, argc, argv);
}
