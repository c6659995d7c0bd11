/*
 * cmd_lineage.c — `mops lineage model|dataset|link`: the graph from a
 * dataset version to the model versions trained or validated on it, their
 * deployments and prediction volumes, and back; as text, JSON, or Graphviz
 * (--dot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

#define GROUP "lineage"

/* --json, --dot, --stage S. */
static int parse_opts(int argc, char **argv, int *json, int *dot, const char **stage)
{
    static const struct option opts[] = {{"json", no_argument, NULL, OPT_JSON},
                                         {"dot", no_argument, NULL, OPT_DOT},
                                         {"stage", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    *json = *dot = 0;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_JSON)
            *json = 1;
        else if (ch == OPT_DOT)
            *dot = 1;
        else if (ch == 's' && stage)
            *stage = optarg;
        else
            return CLI_USAGE;
    }
    if (*json && *dot)
        return cli_usage_error("give --json or --dot, not both");
    if (argc - optind != 2)
        return cli_usage_error("give TEAM/NAME and VERSION");
    return 0;
}

static const json_t *node_by_id(const json_t *g, const char *id)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(g, "nodes"), i, n) {
        if (!strcmp(json_string_value(json_object_get(n, "id")), id))
            return n;
    }
    return NULL;
}

/* One line describing a node. */
static void describe(const json_t *n, char *buf, size_t size)
{
    const char *kind = json_string_value(json_object_get(n, "kind"));
    const char *id = json_string_value(json_object_get(n, "id"));
    if (!strcmp(kind, "model_version")) {
        snprintf(buf, size, "%s [%s]%s", id, cli_cell(json_object_get(n, "stage"), 0),
                 json_is_true(json_object_get(n, "archived")) ? " (archived)" : "");
    } else if (!strcmp(kind, "dataset_version")) {
        if (json_is_false(json_object_get(n, "visible"))) {
            snprintf(buf, size, "%s (not visible to you)", id);
            return;
        }
        const json_t *q = json_object_get(n, "quality");
        char pii[200] = "";
        size_t o = 0, i;
        json_t *c;
        json_array_foreach(json_object_get(n, "pii_columns"), i, c)
            o += (size_t)snprintf(pii + o, o < sizeof pii ? sizeof pii - o : 0, "%s%s",
                                  i ? ", " : "", json_string_value(c));
        snprintf(buf, size, "%s (%s rows; quality: %s; PII: %s)", id,
                 cli_cell(json_object_get(n, "rows"), 0),
                 !json_is_object(q) ? "not validated"
                 : json_is_true(json_object_get(q, "success")) ? "passed" : "failed",
                 pii[0] ? pii : "none");
    } else {
        snprintf(buf, size, "%s (%s, %s predictions)", id, cli_cell(json_object_get(n, "status"), 0),
                 cli_cell(json_object_get(n, "predictions"), 1));
    }
}

static void print_dot(const json_t *g)
{
    printf("digraph lineage {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    size_t i;
    json_t *n, *e;
    json_array_foreach(json_object_get(g, "nodes"), i, n) {
        const char *kind = json_string_value(json_object_get(n, "kind"));
        char label[400];
        describe(n, label, sizeof label);
        printf("  \"%s\" [shape=%s, label=\"", json_string_value(json_object_get(n, "id")),
               !strcmp(kind, "dataset_version") ? "cylinder"
               : !strcmp(kind, "model_version") ? "box" : "ellipse");
        for (const char *p = label; *p; p++)
            printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
        printf("\"];\n");
    }
    json_array_foreach(json_object_get(g, "edges"), i, e)
        printf("  \"%s\" -> \"%s\" [label=\"%s\"];\n", json_string_value(json_object_get(e, "from")),
               json_string_value(json_object_get(e, "to")),
               json_string_value(json_object_get(e, "relation")));
    printf("}\n");
}

/* The edges leaving (or, upstream, entering) a node, as a tree. */
static void print_tree(const json_t *g, const char *id, int depth, int downstream)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(g, "edges"), i, e) {
        const char *from = json_string_value(json_object_get(e, "from"));
        const char *to = json_string_value(json_object_get(e, "to"));
        const char *other = downstream ? to : from;
        if (strcmp(downstream ? from : to, id) != 0)
            continue;
        const json_t *n = node_by_id(g, other);
        char line[400];
        if (n)
            describe(n, line, sizeof line);
        else
            snprintf(line, sizeof line, "%s", other);
        printf("%*s%s %s %s\n", depth * 2, "", downstream ? "->" : "<-",
               json_string_value(json_object_get(e, "relation")), line);
        if (downstream)
            print_tree(g, other, depth + 1, 1);
    }
}

/* The text after the tree: what each graph adds. */
static void print_dataset_extras(const json_t *g)
{
    json_t *prod = json_object_get(g, "production");
    printf("\nmodels in stage %s that used this data: %s\n",
           cli_cell(json_object_get(g, "stage"), 0), json_array_size(prod) ? "" : "none");
    size_t i;
    json_t *p;
    json_array_foreach(prod, i, p)
        printf("  %s (%s)\n", json_string_value(json_object_get(p, "id")),
               cli_cell(json_object_get(p, "relations"), 0));
    json_int_t hidden =
        json_integer_value(json_object_get(json_object_get(g, "hidden"), "model_versions"));
    if (hidden)
        printf("  and %lld model version%s in teams you cannot see\n", (long long)hidden,
               hidden == 1 ? "" : "s");
}

static void print_model_extras(const json_t *g)
{
    if (json_is_string(json_object_get(g, "dataset_field")))
        printf("  dataset (not a dataset reference): %s\n",
               json_string_value(json_object_get(g, "dataset_field")));
    if (!json_array_size(json_object_get(g, "edges")))
        printf("  no datasets linked (register the version with --dataset "
               "dataset:TEAM/NAME@N)\n");
}

/* `lineage dataset` and `lineage model`: the graph around one version. */
static int show_graph(cli_client_t *c, int argc, char **argv, int of_dataset)
{
    int json, dot;
    const char *stage = NULL;
    char *team, *name;
    if (parse_opts(argc, argv, &json, &dot, of_dataset ? &stage : NULL) != 0)
        return CLI_USAGE;
    if (cli_model_ref(argv[optind], &team, &name) != 0)
        return cli_usage_error("\"%s\" is not TEAM/%s", argv[optind],
                               of_dataset ? "DATASET" : "MODEL");
    char *v = cli_escape(argv[optind + 1]), *s = stage ? cli_escape(stage) : NULL;
    char *path = mops_xasprintf("/api/v1/lineage/%s/%s/%s/versions/%s%s%s",
                                of_dataset ? "datasets" : "models", team, name, v,
                                s ? "?stage=" : "", s ? s : "");
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &out, &err);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0 && dot) {
        print_dot(out);
    } else if (rc == 0) {
        const char *root = json_string_value(json_object_get(out, "root"));
        char line[400];
        describe(node_by_id(out, root), line, sizeof line);
        printf("%s\n", line);
        if (!of_dataset)
            print_tree(out, root, 1, 0); /* the data upstream */
        print_tree(out, root, 1, 1);     /* models, deployments downstream */
        (of_dataset ? print_dataset_extras : print_model_extras)(out);
        if (!json_is_true(json_object_get(out, "deployments_known")))
            printf("(deployments: not known to this server)\n");
    }
    json_decref(out);
    free(path);
    free(v);
    free(s);
    free(team);
    free(name);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int lineage_dataset(cli_client_t *c, int argc, char **argv)
{
    return show_graph(c, argc, argv, 1);
}

static int lineage_model(cli_client_t *c, int argc, char **argv)
{
    return show_graph(c, argc, argv, 0);
}

static int lineage_link(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"relation", required_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *relation = "validated-on";
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'r')
            relation = optarg;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    if (argc - optind != 2)
        return cli_usage_error("give TEAM/MODEL@VERSION and dataset:TEAM/NAME@VERSION");
    json_t *body = json_pack("{s:s, s:s, s:s}", "model", argv[optind], "dataset",
                             argv[optind + 1], "relation", relation);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "POST", "/api/v1/lineage/links", body, &out, &err);
    if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0)
        printf("%s %s %s%s\n", cli_cell(json_object_get(out, "model"), 0), relation,
               cli_cell(json_object_get(out, "dataset"), 1),
               json_is_true(json_object_get(out, "created")) ? "" : " (already recorded)");
    json_decref(body);
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t subs[] = {
    {"dataset", "TEAM/DATASET VERSION [--stage S] [--json | --dot]",
     "The models trained or validated on a dataset version, their deployments and prediction "
     "volumes; and which of them are in production.",
     "  --stage STAGE   the stage to answer \"which models used this data\" for "
     "(default production)\n"
     "  --json          print JSON\n"
     "  --dot           print a Graphviz graph (mops lineage ... --dot | dot -Tsvg)\n",
     lineage_dataset},
    {"model", "TEAM/MODEL VERSION [--json | --dot]",
     "A model version's training and validation data (quality, PII) and its deployments.",
     "  --json   print JSON\n"
     "  --dot    print a Graphviz graph\n",
     lineage_model},
    {"link", "TEAM/MODEL@VERSION dataset:TEAM/NAME@VERSION [--relation R] [--json]",
     "Record that a model version was validated (or trained) on a dataset version.",
     "  -r, --relation R   validated-on (default) or trained-on\n"
     "  --json             print JSON\n",
     lineage_link},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_lineage(int argc, char **argv)
{
    return cli_group(GROUP, "Lineage: from data to models to deployments, and back.", subs, argc,
                     argv);
}
