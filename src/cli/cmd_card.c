/*
 * cmd_card.c — `mops card show|edit`: a version's model card, shown as
 * text, Markdown, HTML or JSON, and edited field by field or from a JSON
 * file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

#define GROUP "card"

/* The card's fields, with their options (same names, '-' for '_'). */
static const char *const fields[] = {"intended_use", "out_of_scope_uses", "training_data",
                                     "evaluation", "limitations", "ethical_considerations",
                                     "owner", "business_kpi", NULL};

static int card_show(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *format = NULL, *output = NULL;
    int ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'f')
            format = optarg;
        else if (ch == 'o')
            output = optarg;
        else if (ch == OPT_JSON)
            format = "json";
        else
            return CLI_USAGE;
    }
    if (argc - optind != 2)
        return cli_usage_error("give TEAM/MODEL and VERSION");
    if (format && strcmp(format, "json") && strcmp(format, "markdown") && strcmp(format, "html"))
        return cli_usage_error("--format must be json, markdown or html");
    char *suffix = mops_xasprintf("/card?format=%s", format ? format : "markdown");
    char *path = cli_version_path(argv[optind], argv[optind + 1], suffix);
    free(suffix);
    if (!path)
        return CLI_USAGE;
    mops_err_t err;
    int rc;
    if (format && !strcmp(format, "json")) {
        json_t *out = NULL;
        if ((rc = cli_request(c, "GET", path, NULL, &out, &err)) == 0) {
            char *s = json_dumps(out, JSON_INDENT(2));
            char *t = mops_xasprintf("%s\n", s);
            rc = cli_write_text(output, t, &err);
            free(s);
            free(t);
        }
        json_decref(out);
    } else {
        char *text = NULL;
        if ((rc = cli_get_text(c, path, &text, &err)) == 0)
            rc = cli_write_text(output, text, &err);
        free(text);
    }
    free(path);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int card_edit(cli_client_t *c, int argc, char **argv)
{
    static struct option opts[16];
    size_t n = 0;
    for (; fields[n]; n++) {
        static char names[8][32];
        snprintf(names[n], sizeof names[n], "%s", fields[n]);
        for (char *p = names[n]; *p; p++)
            if (*p == '_')
                *p = '-';
        opts[n] = (struct option){names[n], required_argument, NULL, 2000 + (int)n};
    }
    opts[n++] = (struct option){"file", required_argument, NULL, 'F'};
    opts[n++] = (struct option){"json", no_argument, NULL, OPT_JSON};
    opts[n] = (struct option){NULL, 0, NULL, 0};
    json_t *changes = json_object();
    const char *file = NULL;
    int json = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch >= 2000 && ch < 2000 + 8)
            json_object_set_new(changes, fields[ch - 2000], json_string(optarg));
        else if (ch == 'F')
            file = optarg;
        else if (ch == OPT_JSON)
            json = 1;
        else
            rc = CLI_USAGE;
    }
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM/MODEL and VERSION");
    if (rc == 0 && file) {
        json_error_t je;
        json_t *f = json_load_file(file, 0, &je);
        if (!json_is_object(f))
            rc = cli_usage_error("--file %s: not a JSON object of card fields (%s)", file,
                                 je.text);
        else
            json_object_update_missing(changes, f); /* options win over the file */
        json_decref(f);
    }
    if (rc == 0 && !json_object_size(changes))
        rc = cli_usage_error("nothing to change: give a field (e.g. --intended-use TEXT) or "
                             "--file");
    char *path = rc == 0 ? cli_version_path(argv[optind], argv[optind + 1], "/card") : NULL;
    if (rc == 0 && !path)
        rc = CLI_USAGE;
    json_t *cur = NULL, *out = NULL;
    mops_err_t err;
    /* The card is replaced whole: start from what it holds. */
    if (rc == 0) {
        int r = cli_request(c, "GET", path, NULL, &cur, &err);
        if (r == 0) {
            json_t *body = json_deep_copy(json_object_get(cur, "fields"));
            json_object_update(body, changes);
            r = cli_request(c, "PUT", path, body, &out, &err);
            json_decref(body);
        }
        if (r != 0)
            rc = cli_fail(&err);
        else if (json)
            cli_print_json(out);
        else
            printf("updated the model card of %s@%s\n", argv[optind], argv[optind + 1]);
    }
    json_decref(cur);
    json_decref(out);
    json_decref(changes);
    free(path);
    return rc;
}

static const cli_sub_t subs[] = {
    {"show", "TEAM/MODEL VERSION [--format markdown|html|json] [-o FILE]",
     "Show a version's model card, with the metrics mops computed (default: Markdown).",
     "  -f, --format FORMAT   markdown (default), html (a self-contained page) or json\n"
     "  -o, --output FILE     write it to FILE\n"
     "  --json                the same as --format json\n",
     card_show},
    {"edit", "TEAM/MODEL VERSION [--FIELD TEXT...] [--file CARD.json] [--json]",
     "Change fields of a version's model card; the others stay as they are.",
     "  --intended-use TEXT             what it is for\n"
     "  --out-of-scope-uses TEXT        what it must not be used for\n"
     "  --training-data TEXT            what it learnt from\n"
     "  --evaluation TEXT               how it was evaluated\n"
     "  --limitations TEXT              where it fails\n"
     "  --ethical-considerations TEXT   risks to people\n"
     "  --owner TEXT                    who answers for it\n"
     "  --business-kpi TEXT             the business figure it moves\n"
     "  -F, --file FILE                 fields from a JSON object (options win)\n"
     "  --json                          print JSON\n",
     card_edit},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_card(int argc, char **argv)
{
    return cli_group(GROUP, "Model cards: what a version is for, how it was built and measured.",
                     subs, argc, argv);
}
