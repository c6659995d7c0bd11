/*
 * cmd_deploy.c — `mops deploy create|list|show|update|rollback|delete`:
 * deployments, the named endpoints that route to model versions (primary,
 * weighted canaries, shadows, sticky routing).
 *
 * Versions are written MODEL@VERSION (VERSION a number, an alias or
 * "latest"; MODEL alone means latest), canaries MODEL@VERSION=WEIGHT.
 * update reads the deployment, applies the options, and writes it back
 * with the revision it read (if_revision), so two people changing one
 * deployment at once cannot overwrite each other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"
#include "core/text.h"

#define GROUP "deploy"

enum { OPT_TEAM = 3000, OPT_PRIMARY, OPT_CANARY, OPT_SHADOW, OPT_STICKY_FIELD, OPT_STICKY_HEADER,
       OPT_NO_STICKY, OPT_NO_CANARIES, OPT_REMOVE_CANARY, OPT_ADD_SHADOW, OPT_REMOVE_SHADOW,
       OPT_NO_SHADOWS, OPT_PROMOTE, OPT_TO };

/* "model@version[=weight]" into {"model", "version"[, "weight"]}; NULL
 * after a usage message. */
static json_t *target_arg(const char *arg, int weighted, const char *opt)
{
    char *copy = mops_xstrdup(arg), *eq = strrchr(copy, '='), *at;
    json_t *t = NULL;
    long long w = 0, n;
    if (weighted && (!eq || mops_parse_i64(eq + 1, &w) != 0 || w > 100)) {
        cli_usage_error("%s \"%s\" must be MODEL@VERSION=WEIGHT (a percentage)", opt, arg);
        goto out;
    }
    if (eq && weighted)
        *eq = '\0';
    at = strchr(copy, '@');
    if (at)
        *at = '\0';
    if (!*copy || (at && !at[1])) {
        cli_usage_error("%s \"%s\" must be MODEL@VERSION%s", opt, arg, weighted ? "=WEIGHT" : "");
        goto out;
    }
    t = json_pack("{s:s}", "model", copy);
    if (at)
        json_object_set_new(t, "version", mops_parse_i64(at + 1, &n) == 0 ? json_integer(n)
                                                                         : json_string(at + 1));
    if (weighted)
        json_object_set_new(t, "weight", json_integer(w));
out:
    free(copy);
    return t;
}

/* Does configured target a (as the server wrote it: version a number) match
 * b as the user wrote it (MODEL alone matches any version of it)? */
static int same_target(const json_t *a, const json_t *b)
{
    return json_equal(json_object_get(a, "model"), json_object_get(b, "model")) &&
           (!json_object_get(b, "version") ||
            json_equal(json_object_get(a, "version"), json_object_get(b, "version")));
}

static void print_target(const char *role, const json_t *t, const char *team, int weight)
{
    char ref[200];
    snprintf(ref, sizeof ref, "%s/%s@%s", team, cli_cell(json_object_get(t, "model"), 0),
             cli_cell(json_object_get(t, "version"), 1));
    if (weight)
        printf("  %-8s %-40s %s%%\n", role, ref, cli_cell(json_object_get(t, "weight"), 2));
    else
        printf("  %-8s %s\n", role, ref);
}

static void print_deployment(const json_t *d)
{
    const json_t *cfg = json_object_get(d, "config");
    const char *team = json_string_value(json_object_get(d, "team"));
    printf("deployment:   %s (team %s), revision %s\n", cli_cell(json_object_get(d, "name"), 0),
           team, cli_cell(json_object_get(d, "revision"), 1));
    if (json_string_length(json_object_get(d, "description")))
        printf("description:  %s\n", cli_cell(json_object_get(d, "description"), 0));
    printf("routes:\n");
    print_target("primary", json_object_get(cfg, "primary"), team, 1);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(cfg, "canaries"), i, t) print_target("canary", t, team, 1);
    json_array_foreach(json_object_get(cfg, "shadows"), i, t) print_target("shadow", t, team, 0);
    const json_t *sticky = json_object_get(cfg, "sticky");
    if (json_is_object(sticky))
        printf("sticky:       %s %s\n", json_object_get(sticky, "field") ? "field" : "header",
               cli_cell(json_object_get(sticky, json_object_get(sticky, "field") ? "field"
                                                                                 : "header"),
                        0));
    const json_t *ep = json_object_get(d, "endpoints");
    printf("endpoints:    POST %s\n              POST %s\n",
           cli_cell(json_object_get(ep, "infer"), 0), cli_cell(json_object_get(ep, "predict"), 1));
    printf("created:      %s by %s; updated %s\n", cli_time(json_object_get(d, "created_at"), 0),
           cli_cell(json_object_get(d, "created_by"), 1),
           cli_time(json_object_get(d, "updated_at"), 2));
}

static void print_stats(const json_t *st, const json_t *log)
{
    if (!json_is_object(st)) {
        printf("traffic:      none on this server yet\n");
        return;
    }
    const json_t *lat = json_object_get(st, "latency_us");
    printf("traffic:      %s requests, %s rows, %s errors since %s (this server)\n",
           cli_cell(json_object_get(st, "requests"), 0), cli_cell(json_object_get(st, "rows"), 1),
           cli_cell(json_object_get(st, "errors"), 2), cli_time(json_object_get(st, "since"), 3));
    printf("latency:      p50 %.0f us, p90 %.0f us, p99 %.0f us\n",
           json_number_value(json_object_get(lat, "p50")),
           json_number_value(json_object_get(lat, "p90")),
           json_number_value(json_object_get(lat, "p99")));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(st, "versions"), i, v)
        printf("  %-8s %-40s %s requests\n", cli_cell(json_object_get(v, "role"), 0),
               cli_cell(json_object_get(v, "version"), 1),
               cli_cell(json_object_get(v, "requests"), 2));
    json_array_foreach(json_object_get(st, "shadows"), i, v) {
        const json_t *a = json_object_get(v, "agreement");
        char agree[32] = "-";
        if (json_is_number(a))
            snprintf(agree, sizeof agree, "%.2f%%", 100.0 * json_number_value(a));
        printf("  %-8s %-40s %s runs, agreement %s, %s errors, %s dropped\n", "shadow",
               cli_cell(json_object_get(v, "version"), 1),
               cli_cell(json_object_get(v, "requests"), 2), agree,
               cli_cell(json_object_get(v, "errors"), 3),
               cli_cell(json_object_get(v, "dropped"), 4));
    }
    const json_t *pl = json_object_get(st, "prediction_log");
    printf("prediction log: %s dropped, %s sampled out for this deployment",
           cli_cell(json_object_get(pl, "dropped"), 0),
           cli_cell(json_object_get(pl, "sampled_out"), 1));
    if (json_is_object(log))
        printf("; queue: %s written, %s dropped, %s sampled out, %s failed%s",
               cli_cell(json_object_get(log, "written"), 0),
               cli_cell(json_object_get(log, "dropped"), 1),
               cli_cell(json_object_get(log, "sampled_out"), 2),
               cli_cell(json_object_get(log, "failed"), 3),
               json_is_false(json_object_get(log, "enabled")) ? " (the log is off)" : "");
    printf("\n");
}

static char *dep_path(const char *name, const char *suffix)
{
    char *e = cli_escape(name);
    char *p = mops_xasprintf("/api/v1/deployments/%s%s", e, suffix);
    free(e);
    return p;
}

/* Print a written deployment (or its JSON). */
static int show_result(int rc, int json, json_t *out, const mops_err_t *err)
{
    if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0)
        print_deployment(out);
    json_decref(out);
    return rc ? cli_fail(err) : CLI_OK;
}

static const struct option create_opts[] = {
    {"team", required_argument, NULL, OPT_TEAM},
    {"primary", required_argument, NULL, OPT_PRIMARY},
    {"canary", required_argument, NULL, OPT_CANARY},
    {"shadow", required_argument, NULL, OPT_SHADOW},
    {"sticky-field", required_argument, NULL, OPT_STICKY_FIELD},
    {"sticky-header", required_argument, NULL, OPT_STICKY_HEADER},
    {"description", required_argument, NULL, 'd'},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0}};

static int deploy_create(cli_client_t *c, int argc, char **argv)
{
    json_t *body = json_object(), *canaries = json_array(), *shadows = json_array(), *t;
    int json = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, create_opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case OPT_TEAM: json_object_set_new(body, "team", json_string(optarg)); break;
        case 'd': json_object_set_new(body, "description", json_string(optarg)); break;
        case OPT_PRIMARY:
            if (!(t = target_arg(optarg, 0, "--primary")))
                rc = CLI_USAGE;
            else
                json_object_set_new(body, "primary", t);
            break;
        case OPT_CANARY:
            if (!(t = target_arg(optarg, 1, "--canary")))
                rc = CLI_USAGE;
            else
                json_array_append_new(canaries, t);
            break;
        case OPT_SHADOW:
            if (!(t = target_arg(optarg, 0, "--shadow")))
                rc = CLI_USAGE;
            else
                json_array_append_new(shadows, t);
            break;
        case OPT_STICKY_FIELD:
            json_object_set_new(body, "sticky", json_pack("{s:s}", "field", optarg));
            break;
        case OPT_STICKY_HEADER:
            json_object_set_new(body, "sticky", json_pack("{s:s}", "header", optarg));
            break;
        case OPT_JSON: json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    if (rc == 0 && argc - optind != 1)
        rc = cli_usage_error("give the deployment's NAME");
    if (rc == 0 && (!json_object_get(body, "team") || !json_object_get(body, "primary")))
        rc = cli_usage_error("give --team and --primary MODEL@VERSION");
    json_t *out = NULL;
    mops_err_t err;
    if (rc == 0) {
        json_object_set_new(body, "name", json_string(argv[optind]));
        json_object_set(body, "canaries", canaries);
        json_object_set(body, "shadows", shadows);
        rc = cli_request(c, "POST", "/api/v1/deployments", body, &out, &err);
        rc = show_result(rc, json, out, &err);
    }
    json_decref(body);
    json_decref(canaries);
    json_decref(shadows);
    return rc;
}

static int deploy_list(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"team", required_argument, NULL, OPT_TEAM},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *team = NULL;
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_TEAM)
            team = optarg;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    char *t = team ? cli_escape(team) : NULL;
    char *path = mops_xasprintf("/api/v1/deployments?limit=1000%s%s", t ? "&team=" : "",
                                t ? t : "");
    json_t *items = NULL;
    int more;
    mops_err_t err;
    int rc = cli_get_pages(c, path, 1, &items, &more, &err);
    if (rc == 0 && json) {
        json_t *o = json_pack("{s:O}", "items", items);
        cli_print_json(o);
        json_decref(o);
    } else if (rc == 0) {
        cli_table_t *tb = cli_table_new(6, "NAME", "TEAM", "REVISION", "PRIMARY", "CANARIES",
                                        "SHADOWS");
        size_t i;
        json_t *d;
        json_array_foreach(items, i, d) {
            const json_t *cfg = json_object_get(d, "config");
            const json_t *p = json_object_get(cfg, "primary");
            char prim[160];
            snprintf(prim, sizeof prim, "%s@%s (%s%%)", cli_cell(json_object_get(p, "model"), 0),
                     cli_cell(json_object_get(p, "version"), 1),
                     cli_cell(json_object_get(p, "weight"), 2));
            mops_buf_t cn = MOPS_BUF_INIT, sh = MOPS_BUF_INIT;
            size_t k;
            json_t *t2;
            json_array_foreach(json_object_get(cfg, "canaries"), k, t2)
                mops_buf_printf(&cn, "%s%s@%s (%s%%)", k ? ", " : "",
                                cli_cell(json_object_get(t2, "model"), 0),
                                cli_cell(json_object_get(t2, "version"), 1),
                                cli_cell(json_object_get(t2, "weight"), 2));
            json_array_foreach(json_object_get(cfg, "shadows"), k, t2)
                mops_buf_printf(&sh, "%s%s@%s", k ? ", " : "",
                                cli_cell(json_object_get(t2, "model"), 0),
                                cli_cell(json_object_get(t2, "version"), 1));
            cli_table_add(tb, cli_cell(json_object_get(d, "name"), 3),
                          cli_cell(json_object_get(d, "team"), 4),
                          cli_cell(json_object_get(d, "revision"), 5), prim,
                          cn.len ? cn.data : "-", sh.len ? sh.data : "-");
            mops_buf_release(&cn);
            mops_buf_release(&sh);
        }
        cli_table_print(tb);
    }
    json_decref(items);
    free(path);
    free(t);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int deploy_show(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    char *path = dep_path(argv[optind], ""), *spath = dep_path(argv[optind], "/stats");
    char *hpath = dep_path(argv[optind], "/history?limit=5");
    json_t *d = NULL, *stats = NULL, *hist = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &d, &err);
    if (rc == 0)
        rc = cli_request(c, "GET", spath, NULL, &stats, &err);
    if (rc == 0)
        rc = cli_request(c, "GET", hpath, NULL, &hist, &err);
    if (rc == 0 && json) {
        json_object_set(d, "stats", json_object_get(stats, "stats"));
        json_object_set(d, "prediction_log", json_object_get(stats, "prediction_log"));
        json_object_set(d, "history", json_object_get(hist, "items"));
        cli_print_json(d);
    } else if (rc == 0) {
        print_deployment(d);
        print_stats(json_object_get(stats, "stats"), json_object_get(stats, "prediction_log"));
        printf("history:\n");
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(hist, "items"), i, h)
            printf("  %-4s %-9s %s by %s\n", cli_cell(json_object_get(h, "revision"), 0),
                   cli_cell(json_object_get(h, "action"), 1),
                   cli_time(json_object_get(h, "at"), 2), cli_cell(json_object_get(h, "by"), 3));
    }
    json_decref(d);
    json_decref(stats);
    json_decref(hist);
    free(path);
    free(spath);
    free(hpath);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* Index of target t in list, or -1. */
static int find_target(const json_t *list, const json_t *t)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) if (same_target(x, t)) return (int)i;
    return -1;
}

/* Apply one update option to the configuration read from the server. */
static int apply(json_t *cfg, json_t *body, int ch, const char *arg)
{
    json_t *canaries = json_object_get(cfg, "canaries"), *shadows = json_object_get(cfg, "shadows");
    json_t *t;
    int k;
    switch (ch) {
    case OPT_PRIMARY:
        if (!(t = target_arg(arg, 0, "--primary")))
            return CLI_USAGE;
        json_object_set_new(body, "primary", t);
        return 0;
    case OPT_CANARY: /* add, or change the weight of, one canary */
        if (!(t = target_arg(arg, 1, "--canary")))
            return CLI_USAGE;
        if ((k = find_target(canaries, t)) >= 0)
            json_array_set_new(canaries, (size_t)k, t);
        else
            json_array_append_new(canaries, t);
        json_object_set(body, "canaries", canaries);
        return 0;
    case OPT_REMOVE_CANARY:
    case OPT_REMOVE_SHADOW: {
        json_t *list = ch == OPT_REMOVE_CANARY ? canaries : shadows;
        if (!(t = target_arg(arg, 0, ch == OPT_REMOVE_CANARY ? "--remove-canary"
                                                                : "--remove-shadow")))
            return CLI_USAGE;
        k = find_target(list, t);
        json_decref(t);
        if (k < 0)
            return cli_usage_error("%s is not a %s of this deployment", arg,
                                   ch == OPT_REMOVE_CANARY ? "canary" : "shadow");
        json_array_remove(list, (size_t)k);
        json_object_set(body, ch == OPT_REMOVE_CANARY ? "canaries" : "shadows", list);
        return 0;
    }
    case OPT_NO_CANARIES:
        json_array_clear(canaries);
        json_object_set(body, "canaries", canaries);
        return 0;
    case OPT_ADD_SHADOW:
        if (!(t = target_arg(arg, 0, "--add-shadow")))
            return CLI_USAGE;
        json_array_append_new(shadows, t);
        json_object_set(body, "shadows", shadows);
        return 0;
    case OPT_NO_SHADOWS:
        json_array_clear(shadows);
        json_object_set(body, "shadows", shadows);
        return 0;
    case OPT_PROMOTE:
        if (!(t = target_arg(arg, 0, "--promote")))
            return CLI_USAGE;
        json_object_set_new(body, "promote", t);
        return 0;
    case OPT_STICKY_FIELD:
        json_object_set_new(body, "sticky", json_pack("{s:s}", "field", arg));
        return 0;
    case OPT_STICKY_HEADER:
        json_object_set_new(body, "sticky", json_pack("{s:s}", "header", arg));
        return 0;
    case OPT_NO_STICKY:
        json_object_set_new(body, "sticky", json_null());
        return 0;
    case 'd':
        json_object_set_new(body, "description", json_string(arg));
        return 0;
    }
    return CLI_USAGE;
}

static int deploy_update(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"primary", required_argument, NULL, OPT_PRIMARY},
        {"canary", required_argument, NULL, OPT_CANARY},
        {"remove-canary", required_argument, NULL, OPT_REMOVE_CANARY},
        {"no-canaries", no_argument, NULL, OPT_NO_CANARIES},
        {"add-shadow", required_argument, NULL, OPT_ADD_SHADOW},
        {"remove-shadow", required_argument, NULL, OPT_REMOVE_SHADOW},
        {"no-shadows", no_argument, NULL, OPT_NO_SHADOWS},
        {"promote", required_argument, NULL, OPT_PROMOTE},
        {"sticky-field", required_argument, NULL, OPT_STICKY_FIELD},
        {"sticky-header", required_argument, NULL, OPT_STICKY_HEADER},
        {"no-sticky", no_argument, NULL, OPT_NO_STICKY},
        {"description", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0}};
    /* Options are applied in order after the deployment is read, so they
     * are collected first. */
    int chs[64], n = 0, json = 0, ch;
    char *args[64];
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_JSON) {
            json = 1;
            continue;
        }
        if (ch == '?' || n == 64)
            return ch == '?' ? CLI_USAGE : cli_usage_error("too many options");
        chs[n] = ch;
        args[n++] = optarg;
    }
    if (argc - optind != 1)
        return cli_usage_error("give the deployment's NAME");
    if (n == 0)
        return cli_usage_error("nothing to change: see mops deploy update --help");
    char *path = dep_path(argv[optind], "");
    json_t *d = NULL, *out = NULL, *body = json_object();
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &d, &err);
    if (rc != 0) {
        rc = cli_fail(&err);
        goto done;
    }
    json_t *cfg = json_object_get(d, "config");
    for (int i = 0; i < n; i++)
        if ((rc = apply(cfg, body, chs[i], args[i])) != 0)
            goto done;
    /* The configuration came back with weights for display; the lists the
     * server takes have none on the primary and shadows. */
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(body, "shadows"), i, t) json_object_del(t, "weight");
    json_object_set(body, "if_revision", json_object_get(d, "revision"));
    rc = cli_request(c, "PATCH", path, body, &out, &err);
    rc = show_result(rc, json, out, &err);
done:
    json_decref(d);
    json_decref(body);
    free(path);
    return rc;
}

static int deploy_rollback(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"to", required_argument, NULL, OPT_TO},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object(), *out = NULL;
    int json = 0, ch;
    long long to;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_TO) {
            if (mops_parse_i64(optarg, &to) != 0) {
                json_decref(body);
                return cli_usage_error("--to takes a revision number");
            }
            json_object_set_new(body, "revision", json_integer(to));
        } else if (ch == OPT_JSON) {
            json = 1;
        } else {
            json_decref(body);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 1) {
        json_decref(body);
        return cli_usage_error("give the deployment's NAME");
    }
    char *path = dep_path(argv[optind], "/rollback");
    mops_err_t err;
    int rc = cli_request(c, "POST", path, body, &out, &err);
    rc = show_result(rc, json, out, &err);
    json_decref(body);
    free(path);
    return rc;
}

static int deploy_delete(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    char *path = dep_path(argv[optind], "");
    mops_err_t err;
    int rc = cli_request(c, "DELETE", path, NULL, NULL, &err);
    if (rc == 0)
        printf("deleted deployment %s (its history is kept)\n", argv[optind]);
    free(path);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t subs[] = {
    {"create",
     "NAME --team TEAM --primary MODEL@VERSION [--canary MODEL@VERSION=WEIGHT]... "
     "[--shadow MODEL@VERSION]... [--sticky-field F | --sticky-header H] [--json]",
     "Create a deployment: an endpoint that routes to versions of the team's models.",
     "  --team TEAM                  the team that owns it (and its models)\n"
     "  --primary MODEL@VERSION      the version that takes the traffic the canaries do not\n"
     "                               (VERSION: a number, an alias or latest)\n"
     "  --canary MODEL@VERSION=W     a canary taking W% of the requests (repeatable)\n"
     "  --shadow MODEL@VERSION       gets a copy of every request; logged, never returned\n"
     "  --sticky-field F             route by the value of request field F (a request\n"
     "                               parameter, or a field of the first instance)\n"
     "  --sticky-header H            route by the value of request header H\n"
     "  -d, --description TEXT       what it is for\n"
     "  --json                       print JSON\n",
     deploy_create},
    {"list", "[--team TEAM] [--json]", "List the deployments you can see.",
     "  --team TEAM   only this team's\n  --json        print JSON\n", deploy_list},
    {"show", "NAME [--json]",
     "Show a deployment: its routes, this server's traffic, latency, shadow agreement, "
     "prediction log drops, and its last revisions.",
     NULL, deploy_show},
    {"update", "NAME [options] [--json]",
     "Change a deployment; the new revision takes effect without failing a request.",
     "  --primary MODEL@VERSION      a new primary\n"
     "  --canary MODEL@VERSION=W     add a canary, or set its weight to W%\n"
     "  --remove-canary MODEL@VERSION\n"
     "  --no-canaries                remove every canary\n"
     "  --promote MODEL@VERSION      the canary becomes the primary (the old one leaves)\n"
     "  --add-shadow MODEL@VERSION\n"
     "  --remove-shadow MODEL@VERSION\n"
     "  --no-shadows                 remove every shadow\n"
     "  --sticky-field F | --sticky-header H | --no-sticky\n"
     "  -d, --description TEXT\n"
     "  --json                       print JSON\n",
     deploy_update},
    {"rollback", "NAME [--to REVISION] [--json]",
     "Return to the previous revision's configuration (or to REVISION's), as a new "
     "revision.",
     "  --to REVISION   the revision whose configuration to restore\n"
     "  --json          print JSON\n",
     deploy_rollback},
    {"delete", "NAME", "Delete a deployment (its history is kept; the name is free again).",
     NULL, deploy_delete},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_deploy(int argc, char **argv)
{
    return cli_group(GROUP,
                     "Deployments: named endpoints that route requests to model versions "
                     "(primary, canaries, shadows) and can be rolled back in one call.",
                     subs, argc, argv);
}
