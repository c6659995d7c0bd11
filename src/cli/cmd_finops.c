/*
 * cmd_finops.c — `mops costs`, `mops kpis`, `mops budget set|list|delete`,
 * `mops prices show|set` and `mops value show|set|event`: FinOps and the
 * ModelOps KPIs from the command line, over /api/v1/costs, /kpis,
 * /budgets, /prices, /value-events and a model's /value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

/* Append "&key=value" (escaped) to the query *q when value is set. */
static void query_add(char **q, const char *key, const char *value)
{
    if (!value)
        return;
    char *v = cli_escape(value), *next = mops_xasprintf("%s%s%s=%s", *q, **q ? "&" : "?", key, v);
    free(v);
    free(*q);
    *q = next;
}

/* "?team=..&from=..&to=.." with those given (a heap string). */
static char *period_query(const char *team, const char *from, const char *to)
{
    char *q = mops_xstrdup("");
    query_add(&q, "team", team);
    query_add(&q, "from", from);
    query_add(&q, "to", to);
    return q;
}

static const char *money(const json_t *v, int slot)
{
    static char buf[8][32];
    if (!json_is_number(v))
        return "-";
    snprintf(buf[slot], sizeof buf[slot], "%.2f", json_number_value(v));
    return buf[slot];
}

/* ------------------------------------------------------------ costs */

static const char *group_by = "team";

static void print_costs(const json_t *r)
{
    printf("costs from %s to %s (%s, prices v%s)\n\n", cli_time(json_object_get(r, "from"), 0),
           cli_time(json_object_get(r, "to"), 1), cli_cell(json_object_get(r, "currency"), 2),
           cli_cell(json_object_get(r, "price_version"), 3));
    cli_table_t *t = cli_table_new(9, "GROUP", "PREDICTIONS", "CPU", "RAM", "FIXED", "SHARED",
                                   "TOTAL", "PER 1K", "ROI");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r, "items"), i, it) {
        const json_t *c = json_object_get(it, "cost");
        char *name;
        const char *g = json_string_value(json_object_get(r, "group_by"));
        const json_t *key = json_object_get(it, g);
        if (!strcmp(g, "team"))
            name = mops_xstrdup(cli_cell(key, 0));
        else if (!strcmp(g, "version"))
            name = mops_xasprintf("%s/%s@%s", cli_cell(json_object_get(it, "team"), 0),
                                  cli_cell(json_object_get(it, "model"), 1), cli_cell(key, 2));
        else
            name = mops_xasprintf("%s/%s", cli_cell(json_object_get(it, "team"), 0),
                                  json_is_string(key) ? json_string_value(key) : "(none)");
        double shared = json_number_value(json_object_get(c, "overhead")) +
                        json_number_value(json_object_get(c, "idle_capacity"));
        json_t *sh = json_real(shared);
        cli_table_add(t, name, cli_cell(json_object_get(json_object_get(it, "usage"), "predictions"), 0),
                      money(json_object_get(c, "cpu"), 0), money(json_object_get(c, "ram"), 1),
                      money(json_object_get(c, "fixed"), 2), money(sh, 3),
                      money(json_object_get(c, "total"), 4),
                      money(json_object_get(it, "cost_per_1k"), 5),
                      money(json_object_get(it, "roi"), 6));
        json_decref(sh);
        free(name);
    }
    cli_table_print(t);
    const json_t *tot = json_object_get(r, "total");
    printf("\ntotal %s, of which idle deployments %s\n",
           money(json_object_get(json_object_get(tot, "cost"), "total"), 0),
           money(json_object_get(tot, "idle_deployment_cost"), 1));
}

static int costs(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"group-by", required_argument, NULL, 'g'},
                                         {"team", required_argument, NULL, 'T'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"focus", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *team = NULL, *from = NULL, *to = NULL, *focus = NULL;
    int json = 0, ch;
    group_by = "team";
    while ((ch = cli_getopt(argc, argv, opts, "costs", cli_current_sub)) != -1) {
        switch (ch) {
        case 'g': group_by = optarg; break;
        case 'T': team = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'o': focus = optarg; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (argc != optind)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    char *q = period_query(team, from, to);
    int rc;
    if (focus) {
        query_add(&q, "format", "focus");
        char *path = mops_xasprintf("/api/v1/costs/export%s", q), *text = NULL;
        mops_err_t err;
        if ((rc = cli_get_text(c, path, &text, &err)) == 0)
            rc = cli_write_text(focus, text, &err);
        free(text);
        free(path);
        free(q);
        return rc ? cli_fail(&err) : CLI_OK;
    }
    query_add(&q, "group_by", group_by);
    char *path = mops_xasprintf("/api/v1/costs%s", q);
    rc = cli_show(c, "GET", path, NULL, json, print_costs);
    free(path);
    free(q);
    return rc;
}

static const cli_sub_t costs_cmd = {
    "", "[--group-by team|model|version|deployment] [--team T] [--from TIME] [--to TIME]\n"
        "       [--json | --focus FILE]",
    "Measured usage and its cost: CPU, memory, storage, egress, fixed fees, and the shared\n"
    "server overhead and idle capacity allocated in proportion to use; cost per 1,000\n"
    "predictions, value and ROI. Times are RFC 3339 (default: this month so far).",
    "  -g, --group-by G    team (default), model, version or deployment\n"
    "  -T, --team TEAM     one team only\n"
    "  -f, --from TIME     start of the period\n"
    "  -t, --to TIME       end of the period\n"
    "  --focus FILE        write the FinOps FOCUS CSV to FILE ('-': standard output)\n"
    "  --json              the report as JSON\n",
    costs};

int cmd_costs(int argc, char **argv)
{
    return cli_command("costs", &costs_cmd, argc, argv);
}

/* ------------------------------------------------------------ KPIs */

static const char *seconds(const json_t *stats, int slot)
{
    static char buf[4][32];
    const json_t *v = json_object_get(stats, "mean_seconds");
    if (!json_is_number(v))
        return "-";
    double s = json_number_value(v);
    if (s < 120)
        snprintf(buf[slot], sizeof buf[slot], "%.1fs", s);
    else if (s < 7200)
        snprintf(buf[slot], sizeof buf[slot], "%.1fmin", s / 60);
    else
        snprintf(buf[slot], sizeof buf[slot], "%.1fh", s / 3600);
    return buf[slot];
}

static void kpi_row(cli_table_t *t, const char *name, const json_t *k)
{
    const json_t *cov = json_object_get(k, "coverage");
    cli_table_add(t, name, cli_cell(json_object_get(k, "models"), 0),
                  seconds(json_object_get(k, "time_to_business"), 0),
                  seconds(json_object_get(k, "governance_cycle"), 1),
                  cli_cell(json_object_get(json_object_get(k, "freshness"), "production_versions"), 1),
                  money(json_object_get(json_object_get(k, "cost"), "monthly_run_rate"), 0),
                  money(json_object_get(json_object_get(k, "value"), "roi"), 1),
                  money(json_object_get(cov, "owner"), 2), money(json_object_get(cov, "card"), 3));
}

static void print_kpis(const json_t *r)
{
    printf("KPIs from %s to %s (docs/kpis.md)\n\n", cli_time(json_object_get(r, "from"), 0),
           cli_time(json_object_get(r, "to"), 1));
    cli_table_t *t = cli_table_new(9, "TEAM", "MODELS", "READY>BUSINESS", "REVIEW CYCLE",
                                   "IN PROD", "COST/MONTH", "ROI", "OWNER", "CARD");
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(r, "teams"), i, k)
        kpi_row(t, json_string_value(json_object_get(k, "team")), k);
    kpi_row(t, "(all)", json_object_get(r, "org"));
    cli_table_print(t);
}

static int kpis(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"team", required_argument, NULL, 'T'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *team = NULL, *from = NULL, *to = NULL;
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, "kpis", cli_current_sub)) != -1) {
        switch (ch) {
        case 'T': team = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (argc != optind)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    char *q = period_query(team, from, to);
    char *path = mops_xasprintf("/api/v1/kpis%s", q);
    int rc = cli_show(c, "GET", path, NULL, json, print_kpis);
    free(path);
    free(q);
    return rc;
}

static const cli_sub_t kpis_cmd = {
    "", "[--team T] [--from TIME] [--to TIME] [--json]",
    "The ModelOps KPIs per team and for all teams you may see: time from \"model ready\" to\n"
    "\"model in business\", governance cycle time, freshness, availability, incidents,\n"
    "continuing cost, value and ROI, coverage (docs/kpis.md). Default: the last 30 days.",
    "  -T, --team TEAM     one team only\n"
    "  -f, --from TIME     start of the period (RFC 3339)\n"
    "  -t, --to TIME       end of the period\n"
    "  --json              the KPIs as JSON\n",
    kpis};

int cmd_kpis(int argc, char **argv)
{
    return cli_command("kpis", &kpis_cmd, argc, argv);
}

/* ------------------------------------------------------------ budgets */

/* "/api/v1/budgets/TEAM[/MODEL]" from TEAM or TEAM/MODEL. */
static char *budget_path(const char *arg)
{
    if (strchr(arg, '/')) {
        char *t, *m;
        if (cli_model_ref(arg, &t, &m) != 0)
            return NULL;
        char *p = mops_xasprintf("/api/v1/budgets/%s/%s", t, m);
        free(t);
        free(m);
        return p;
    }
    char *t = cli_escape(arg), *p = mops_xasprintf("/api/v1/budgets/%s", t);
    free(t);
    return p;
}

static void print_budget_row(cli_table_t *t, const json_t *b)
{
    char name[160], alerts[96] = "";
    const json_t *model = json_object_get(b, "model");
    snprintf(name, sizeof name, "%s%s%s", cli_cell(json_object_get(b, "team"), 0),
             json_is_string(model) ? "/" : "", json_is_string(model) ? json_string_value(model) : "");
    size_t i, o = 0;
    json_t *a;
    json_array_foreach(json_object_get(b, "alerts"), i, a) o += (size_t)snprintf(
        alerts + o, o < sizeof alerts ? sizeof alerts - o : 0, "%s%s%s", o ? "," : "",
        json_string_value(json_object_get(a, "kind")),
        json_is_string(json_object_get(a, "resolved_at")) ? " (resolved)" : "");
    double used = json_number_value(json_object_get(b, "used")) * 100;
    char pct[16];
    snprintf(pct, sizeof pct, "%.0f%%", used);
    cli_table_add(t, name, money(json_object_get(b, "amount"), 0),
                  money(json_object_get(b, "cost"), 1), pct,
                  money(json_object_get(b, "forecast"), 2), *alerts ? alerts : "-");
}

static void print_budget(const json_t *b)
{
    cli_table_t *t = cli_table_new(6, "BUDGET", "AMOUNT", "SPENT", "USED", "FORECAST", "ALERTS");
    print_budget_row(t, b);
    cli_table_print(t);
}

static void print_budgets(const json_t *r)
{
    cli_table_t *t = cli_table_new(6, "BUDGET", "AMOUNT", "SPENT", "USED", "FORECAST", "ALERTS");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(r, "items"), i, b) print_budget_row(t, b);
    cli_table_print(t);
}

static int budget_set(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 2, 2, &json) != 0)
        return CLI_USAGE;
    char *end;
    double amount = strtod(argv[optind + 1], &end);
    if (*end || end == argv[optind + 1])
        return cli_usage_error("AMOUNT must be a number");
    char *path = budget_path(argv[optind]);
    if (!path)
        return cli_usage_error("\"%s\" is not TEAM or TEAM/MODEL", argv[optind]);
    json_t *body = json_pack("{s:f}", "amount", amount);
    int rc = cli_show(c, "PUT", path, body, json, print_budget);
    json_decref(body);
    free(path);
    return rc;
}

static int budget_list(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 0, 1, &json) != 0)
        return CLI_USAGE;
    char *q = mops_xstrdup("");
    query_add(&q, "team", optind < argc ? argv[optind] : NULL);
    char *path = mops_xasprintf("/api/v1/budgets%s", q);
    int rc = cli_show(c, "GET", path, NULL, json, print_budgets);
    free(path);
    free(q);
    return rc;
}

static void print_nothing(const json_t *out)
{
    (void)out;
}

static int budget_delete(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json) != 0)
        return CLI_USAGE;
    char *path = budget_path(argv[optind]);
    if (!path)
        return cli_usage_error("\"%s\" is not TEAM or TEAM/MODEL", argv[optind]);
    int rc = cli_show(c, "DELETE", path, NULL, 0, print_nothing);
    if (rc == CLI_OK && !json)
        printf("removed the budget of %s\n", argv[optind]);
    free(path);
    return rc;
}

int cmd_budget(int argc, char **argv)
{
    static const cli_sub_t subs[] = {
        {"set", "TEAM[/MODEL] AMOUNT [--json]",
         "Set the monthly budget of a team or of one of its models (budget.write). Alerts fire\n"
         "at 80% and 100% of it and when the month's forecast exceeds it.",
         "  --json              the budget as JSON\n", budget_set},
        {"list", "[TEAM] [--json]", "Budgets with this month's spend, forecast and alerts.",
         "  --json              the list as JSON\n", budget_list},
        {"delete", "TEAM[/MODEL]", "Remove a budget.", NULL, budget_delete},
        {NULL, NULL, NULL, NULL, NULL},
    };
    return cli_group("budget", "Monthly budgets of teams and models, and their alerts.", subs,
                     argc, argv);
}

/* ------------------------------------------------------------ prices */

static void print_prices(const json_t *p)
{
    printf("price sheet v%s (%s), effective from %s\n",
           cli_cell(json_object_get(p, "version"), 0), cli_cell(json_object_get(p, "currency"), 1),
           cli_time(json_object_get(p, "effective_from"), 2));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(p, "prices"), k, v) printf("  %-18s %.8g\n", k,
                                                                   json_number_value(v));
    const json_t *note = json_object_get(p, "note");
    if (json_is_string(note) && *json_string_value(note))
        printf("note: %s\n", json_string_value(note));
}

static int prices_show(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 0, 0, &json) != 0)
        return CLI_USAGE;
    return cli_show(c, "GET", "/api/v1/prices", NULL, json, print_prices);
}

static int prices_set(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"currency", required_argument, NULL, 'c'},
                                         {"note", required_argument, NULL, 'n'},
                                         {"effective-from", required_argument, NULL, 'e'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object(), *prices = json_object();
    json_object_set_new(body, "prices", prices);
    int json = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, "prices", cli_current_sub)) != -1) {
        switch (ch) {
        case 'c': json_object_set_new(body, "currency", json_string(optarg)); break;
        case 'n': json_object_set_new(body, "note", json_string(optarg)); break;
        case 'e': json_object_set_new(body, "effective_from", json_string(optarg)); break;
        case OPT_JSON: json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    for (int i = optind; rc == 0 && i < argc; i++)
        rc = cli_kv_add(prices, argv[i], 0, "price");
    if (rc == 0 && !json_object_size(prices) && !json_object_get(body, "currency"))
        rc = cli_usage_error("give at least one PRICE=VALUE");
    if (rc == 0)
        rc = cli_show(c, "PUT", "/api/v1/prices", body, json, print_prices);
    json_decref(body);
    return rc;
}

int cmd_prices(int argc, char **argv)
{
    static const cli_sub_t subs[] = {
        {"show", "[--json]", "The price sheet in effect now, and its versions.",
         "  --json              the sheet as JSON\n", prices_show},
        {"set", "PRICE=VALUE... [--currency C] [--note TEXT] [--effective-from TIME] [--json]",
         "Write a new version of the price sheet (price.write). Prices: cpu_core_hour,\n"
         "ram_gb_hour, storage_gb_month, gpu_hour, egress_gb, deployment_month; those not\n"
         "given keep their value. It applies to usage from the start of the hour of\n"
         "--effective-from (default: now).",
         "  -c, --currency C    ISO 4217 code (USD)\n"
         "  -n, --note TEXT     why the prices changed\n"
         "  -e, --effective-from TIME  RFC 3339\n"
         "  --json              the new sheet as JSON\n",
         prices_set},
        {NULL, NULL, NULL, NULL, NULL},
    };
    return cli_group("prices", "The price sheet costs are computed with.", subs, argc, argv);
}

/* ------------------------------------------------------------ value */

static char *value_path(const char *arg)
{
    char *t, *m;
    if (cli_model_ref(arg, &t, &m) != 0)
        return NULL;
    char *p = mops_xasprintf("/api/v1/models/%s/%s/value", t, m);
    free(t);
    free(m);
    return p;
}

static void print_rule(const json_t *r)
{
    printf("%s/%s: %.6g per prediction, %.6g per labelled positive outcome\n",
           cli_cell(json_object_get(r, "team"), 0), cli_cell(json_object_get(r, "model"), 1),
           json_number_value(json_object_get(r, "per_prediction")),
           json_number_value(json_object_get(r, "per_positive")));
}

static void print_event(const json_t *e)
{
    printf("value event %s: %.2f for %s/%s at %s\n", cli_cell(json_object_get(e, "id"), 0),
           json_number_value(json_object_get(e, "amount")),
           cli_cell(json_object_get(e, "team"), 1), cli_cell(json_object_get(e, "model"), 2),
           cli_time(json_object_get(e, "at"), 3));
}

static int value_show(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json) != 0)
        return CLI_USAGE;
    char *path = value_path(argv[optind]);
    if (!path)
        return cli_usage_error("\"%s\" is not TEAM/MODEL", argv[optind]);
    int rc = cli_show(c, "GET", path, NULL, json, print_rule);
    free(path);
    return rc;
}

static int number_opt(json_t *body, const char *key, const char *arg, const char *name)
{
    char *end;
    double v = strtod(arg, &end);
    if (*end || end == arg)
        return cli_usage_error("%s must be a number", name);
    json_object_set_new(body, key, json_real(v));
    return 0;
}

static int value_set(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"per-prediction", required_argument, NULL, 'p'},
                                         {"per-positive", required_argument, NULL, 'P'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int json = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, "value", cli_current_sub)) != -1) {
        switch (ch) {
        case 'p': rc = number_opt(body, "per_prediction", optarg, "--per-prediction"); break;
        case 'P': rc = number_opt(body, "per_positive", optarg, "--per-positive"); break;
        case OPT_JSON: json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    if (rc == 0 && argc - optind != 1)
        rc = cli_usage_error("give TEAM/MODEL");
    char *path = rc == 0 ? value_path(argv[optind]) : NULL;
    if (rc == 0 && !path)
        rc = cli_usage_error("\"%s\" is not TEAM/MODEL", argv[optind]);
    if (rc == 0)
        rc = cli_show(c, "PUT", path, body, json, print_rule);
    free(path);
    json_decref(body);
    return rc;
}

static int value_event(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"version", required_argument, NULL, 'v'},
                                         {"at", required_argument, NULL, 'a'},
                                         {"note", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object();
    int json = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, "value", cli_current_sub)) != -1) {
        switch (ch) {
        case 'v': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || !*optarg)
                rc = cli_usage_error("--version must be a number");
            else
                json_object_set_new(body, "version", json_integer(v));
            break;
        }
        case 'a': json_object_set_new(body, "at", json_string(optarg)); break;
        case 'n': json_object_set_new(body, "note", json_string(optarg)); break;
        case OPT_JSON: json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM/MODEL and AMOUNT");
    char *team = NULL, *model = NULL;
    if (rc == 0 && cli_model_ref(argv[optind], &team, &model) != 0)
        rc = cli_usage_error("\"%s\" is not TEAM/MODEL", argv[optind]);
    if (rc == 0)
        rc = number_opt(body, "amount", argv[optind + 1], "AMOUNT");
    if (rc == 0) {
        /* The body takes the names as given, not path-escaped. */
        const char *slash = strchr(argv[optind], '/');
        json_object_set_new(body, "team",
                            json_stringn(argv[optind], (size_t)(slash - argv[optind])));
        json_object_set_new(body, "model", json_string(slash + 1));
        rc = cli_show(c, "POST", "/api/v1/value-events", body, json, print_event);
    }
    free(team);
    free(model);
    json_decref(body);
    return rc;
}

int cmd_value(int argc, char **argv)
{
    static const cli_sub_t subs[] = {
        {"show", "TEAM/MODEL [--json]", "What a model declares its predictions are worth.",
         "  --json              as JSON\n", value_show},
        {"set", "TEAM/MODEL [--per-prediction X] [--per-positive Y] [--json]",
         "Declare the business value of each prediction and of each labelled positive\n"
         "outcome (value.write); ROI in `mops costs` follows from it.",
         "  -p, --per-prediction X  value of one prediction served\n"
         "  -P, --per-positive Y    value of one labelled positive outcome\n"
         "  --json              as JSON\n",
         value_set},
        {"event", "TEAM/MODEL AMOUNT [--version N] [--at TIME] [--note TEXT] [--json]",
         "Record realised value (negative for a loss), as applications do with\n"
         "POST /api/v1/value-events.",
         "  -v, --version N     the version that earned it\n"
         "  -a, --at TIME       when (RFC 3339; default now)\n"
         "  -n, --note TEXT     what it was\n"
         "  --json              the event as JSON\n",
         value_event},
        {NULL, NULL, NULL, NULL, NULL},
    };
    return cli_group("value", "Business value of models: declared per prediction, or posted.",
                     subs, argc, argv);
}
