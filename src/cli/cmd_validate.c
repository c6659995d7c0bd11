/*
 * cmd_validate.c — `mops validate TEAM/MODEL VERSION --data FILE --label
 * COLUMN`: send a holdout CSV to the server, which scores it with the
 * version's own model and stores the metrics with the version; or list the
 * reports already there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

static void print_metrics(const json_t *m)
{
    static const char *const order[] = {"accuracy", "precision", "recall", "f1", "roc_auc",
                                        "log_loss", "rmse", "mae", "r2", NULL};
    for (int k = 0; order[k]; k++) {
        json_t *v = json_object_get(m, order[k]);
        if (v)
            printf("  %-10s %s\n", order[k], json_is_number(v) ? cli_cell(v, 0) : "undefined");
    }
    const json_t *cm = json_object_get(m, "confusion_matrix");
    if (cm) {
        printf("  confusion matrix (rows: true, columns: predicted; classes %s):\n",
               cli_cell(json_object_get(cm, "labels"), 0));
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(cm, "matrix"), i, row) printf("    %s\n",
                                                                         cli_cell(row, 0));
    }
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(m, "notes"), i, n) printf("  note: %s\n",
                                                                 json_string_value(n));
}

static void print_report(const json_t *r)
{
    const json_t *data = json_object_get(r, "data");
    printf("validation %s \"%s\" of %s/%s@%s: %s rows of sha256:%s (label %s)\n",
           cli_cell(json_object_get(r, "id"), 0), cli_cell(json_object_get(r, "name"), 1),
           cli_cell(json_object_get(r, "team"), 2), cli_cell(json_object_get(r, "model"), 3),
           cli_cell(json_object_get(r, "version"), 4), cli_cell(json_object_get(data, "rows"), 5),
           cli_cell(json_object_get(data, "sha256"), 6), cli_cell(json_object_get(r, "label"), 7));
    print_metrics(json_object_get(r, "metrics"));
    const char *col;
    json_t *fa;
    json_object_foreach(json_object_get(r, "fairness"), col, fa)
        printf("  fairness by %s: positive rate gap %s, TPR gap %s\n", col,
               cli_cell(json_object_get(json_object_get(fa, "positive_rate"), "gap"), 0),
               cli_cell(json_object_get(json_object_get(fa, "tpr"), "gap"), 1));
}

static int validate(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"label", required_argument, NULL, 'l'},
                                         {"group", required_argument, NULL, 'g'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"positive", required_argument, NULL, 'p'},
                                         {"list", no_argument, NULL, OPT_LIST},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *data = NULL, *label = NULL, *name = NULL, *positive = NULL;
    mops_buf_t groups = MOPS_BUF_INIT;
    int json = 0, list = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, "validate", cli_current_sub)) != -1) {
        switch (ch) {
        case 'd': data = optarg; break;
        case 'l': label = optarg; break;
        case 'g': mops_buf_printf(&groups, "%s%s", groups.len ? "," : "", optarg); break;
        case 'n': name = optarg; break;
        case 'p': positive = optarg; break;
        case OPT_LIST: list = 1; break;
        case OPT_JSON: json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM/MODEL and VERSION");
    if (rc == 0 && !list && (!data || !label))
        rc = cli_usage_error("give --data FILE and --label COLUMN (or --list)");
    mops_buf_t q = MOPS_BUF_INIT;
    if (rc == 0 && !list) {
        const char *keys[] = {"label", "group", "name", "positive"};
        const char *vals[] = {label, groups.data, name, positive};
        for (int i = 0; i < 4; i++)
            if (vals[i]) {
                char *e = cli_escape(vals[i]);
                mops_buf_printf(&q, "%c%s=%s", q.len ? '&' : '?', keys[i], e);
                free(e);
            }
    }
    char *suffix = mops_xasprintf("/validations%s", q.data ? q.data : "");
    char *path = rc == 0 ? cli_version_path(argv[optind], argv[optind + 1], suffix) : NULL;
    if (rc == 0 && !path)
        rc = CLI_USAGE;
    json_t *out = NULL;
    mops_err_t err;
    if (rc == 0) {
        rc = list ? cli_request(c, "GET", path, NULL, &out, &err)
                  : cli_upload_as(c, path, data, "text/csv", &out, &err);
        if (rc != 0)
            rc = cli_fail(&err);
    }
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0 && list) {
        size_t i;
        json_t *r;
        if (!json_array_size(json_object_get(out, "items")))
            printf("no validation of %s@%s yet\n", argv[optind], argv[optind + 1]);
        json_array_foreach(json_object_get(out, "items"), i, r) {
            if (i)
                putchar('\n');
            print_report(r);
        }
    } else if (rc == 0) {
        print_report(out);
    }
    json_decref(out);
    free(path);
    free(suffix);
    mops_buf_release(&q);
    mops_buf_release(&groups);
    return rc;
}

static const cli_sub_t command = {
    "", "TEAM/MODEL VERSION --data FILE --label COLUMN [options] | TEAM/MODEL VERSION --list",
    "Measure a version on a holdout CSV: the server keeps the file, scores it with the\n"
    "version's own model (native runtime) and computes accuracy, precision, recall, F1,\n"
    "ROC AUC, log loss and the confusion matrix (classifiers) or RMSE, MAE and R²\n"
    "(regressors), per group when asked, with the fairness gaps between groups. The report\n"
    "is stored with the version; validation and fairness rules read it by its name.",
    "  -d, --data FILE        the holdout CSV (a header row; the model's feature columns)\n"
    "  -l, --label COLUMN     the column with the true values\n"
    "  -g, --group COLUMN     also measure per value of COLUMN (repeat for several)\n"
    "  -n, --name NAME        the report's name, which rules refer to (default holdout)\n"
    "  -p, --positive LABEL   binary classifiers: the positive class (default: the second)\n"
    "  --list                 list the version's reports instead\n"
    "  --json                 print JSON\n",
    validate};

int cmd_validate(int argc, char **argv)
{
    return cli_command("validate", &command, argc, argv);
}
