/*
 * cmd_data.c — `mops data create|list|show|register|versions|update|
 * archive|download|sample|profile|diff|tags|suite|validate|results`.
 * Registering streams the CSV file to the dataset's uploads (the server
 * parses, profiles and scans it on the way in), then creates the version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/json.h"
#include "core/mem.h"

#define GROUP "data"

/* /api/v1/datasets/T/N[/versions/V]suffix */
static char *ds_path(const cli_ref_t *r, const char *version, const char *suffix)
{
    if (!version)
        return mops_xasprintf("/api/v1/datasets/%s/%s%s", r->team, r->name, suffix);
    char *v = cli_escape(version);
    char *p = mops_xasprintf("/api/v1/datasets/%s/%s/versions/%s%s", r->team, r->name, v, suffix);
    free(v);
    return p;
}

/* A JSON array of strings as "a, b, c" (or "-"). */
static const char *joined(const json_t *a, int slot)
{
    static char bufs[4][512];
    char *b = bufs[slot & 3];
    size_t o = 0, i;
    json_t *v;
    b[0] = '\0';
    json_array_foreach(a, i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : cli_cell(v, 7);
        o += (size_t)snprintf(b + o, o < 512 ? 512 - o : 0, "%s%s", i ? ", " : "", s);
    }
    return b[0] ? b : "-";
}

static void print_dataset(const json_t *d)
{
    printf("dataset:      %s/%s\n", cli_cell(json_object_get(d, "team"), 0),
           cli_cell(json_object_get(d, "name"), 1));
    printf("description:  %s\n", cli_cell(json_object_get(d, "description"), 0));
    printf("tags:         %s\n", joined(json_object_get(d, "tags"), 0));
    printf("versions:     %s (latest %s)\n", cli_cell(json_object_get(d, "versions"), 0),
           cli_cell(json_object_get(d, "latest_version"), 1));
    printf("suite:        revision %s\n", cli_cell(json_object_get(d, "suite_revision"), 0));
    printf("created:      %s by %s\n", cli_time(json_object_get(d, "created_at"), 0),
           cli_cell(json_object_get(d, "created_by"), 1));
    if (json_is_true(json_object_get(d, "archived")))
        printf("archived:     %s\n", cli_time(json_object_get(d, "archived_at"), 0));
}

static const char *quality_text(const json_t *q)
{
    static char buf[160];
    if (!json_is_object(q))
        return "not validated";
    snprintf(buf, sizeof buf, "%s (result %s, suite revision %s%s, %s)",
             json_is_true(json_object_get(q, "success")) ? "passed" : "FAILED",
             cli_cell(json_object_get(q, "result_id"), 5),
             cli_cell(json_object_get(q, "suite_revision"), 6),
             json_is_true(json_object_get(q, "current")) ? "" : ", not the current suite",
             cli_time(json_object_get(q, "validated_at"), 7));
    return buf;
}

static void print_changes(const json_t *ch)
{
    static const char *const kinds[] = {"added", "removed", "retyped", "nullability"};
    int any = 0;
    for (size_t k = 0; k < 4; k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(ch, kinds[k]), i, c) {
            if (json_object_get(c, "from"))
                printf("  %-12s %s: %s -> %s\n", kinds[k], cli_cell(json_object_get(c, "name"), 0),
                       cli_cell(json_object_get(c, "from"), 1),
                       cli_cell(json_object_get(c, "to"), 2));
            else
                printf("  %-12s %s (%s)\n", kinds[k], cli_cell(json_object_get(c, "name"), 0),
                       cli_cell(json_object_get(c, "type"), 1));
            any = 1;
        }
    }
    if (!any)
        printf("  none\n");
}

static void print_version(const json_t *v)
{
    printf("version:      %s\n", cli_cell(json_object_get(v, "ref"), 0));
    printf("file:         sha256:%s (%s bytes, %s rows)\n", cli_cell(json_object_get(v, "sha256"), 0),
           cli_cell(json_object_get(v, "size"), 1), cli_cell(json_object_get(v, "rows"), 2));
    printf("schema:       %s\n", cli_cell(json_object_get(v, "schema_source"), 0));
    printf("quality:      %s\n", quality_text(json_object_get(v, "quality")));
    printf("pii columns:  %s (approved: %s)\n", joined(json_object_get(v, "pii_columns"), 0),
           joined(json_object_get(v, "approved_pii_columns"), 2));
    printf("source:       %s\n", cli_cell(json_object_get(v, "source_uri"), 0));
    printf("description:  %s\n", cli_cell(json_object_get(v, "description"), 0));
    printf("tags:         %s\n", joined(json_object_get(v, "tags"), 1));
    printf("created:      %s by %s\n", cli_time(json_object_get(v, "created_at"), 0),
           cli_cell(json_object_get(v, "created_by"), 1));
    if (json_is_true(json_object_get(v, "archived")))
        printf("archived:     %s\n", cli_time(json_object_get(v, "archived_at"), 0));
    printf("\n");
    cli_table_t *t = cli_table_new(4, "COLUMN", "TYPE", "NULLABLE", "TAGS");
    json_t *ctags = json_object_get(v, "column_tags");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(v, "schema"), "columns"), i, c) {
        char tags[300] = "";
        size_t o = 0, j;
        json_t *tg;
        json_array_foreach(json_object_get(ctags, json_string_value(json_object_get(c, "name"))), j,
                           tg)
            o += (size_t)snprintf(tags + o, o < sizeof tags ? sizeof tags - o : 0, "%s%s (%s)",
                                  j ? ", " : "", cli_cell(json_object_get(tg, "tag"), 6),
                                  cli_cell(json_object_get(tg, "state"), 7));
        cli_table_add(t, cli_cell(json_object_get(c, "name"), 0),
                      cli_cell(json_object_get(c, "type"), 1),
                      cli_cell(json_object_get(c, "nullable"), 2), tags[0] ? tags : "-");
    }
    cli_table_print(t);
    json_t *ch = json_object_get(v, "schema_changes");
    if (json_is_integer(json_object_get(ch, "against"))) {
        printf("\nchanges since version %s:\n", cli_cell(json_object_get(ch, "against"), 0));
        print_changes(ch);
    }
}

/* GET or POST one path and print it as JSON or with print. */
static int one(cli_client_t *c, const char *method, char *path, int json,
               void (*print)(const json_t *))
{
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, method, path, NULL, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print(out);
    json_decref(out);
    free(path);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* GET every page of a list; print {"items"} as JSON or each item as a table
 * row (table prints them all). */
static int list(cli_client_t *c, const char *path, int json, void (*table)(const json_t *items))
{
    json_t *items = NULL;
    mops_err_t err;
    int more, rc = cli_get_pages(c, path, 1, &items, &more, &err);
    if (rc == 0 && json) {
        json_t *wrap = json_pack("{s:O}", "items", items);
        cli_print_json(wrap);
        json_decref(wrap);
    } else if (rc == 0) {
        table(items);
    }
    json_decref(items);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ------------------------------------------------------------ datasets */

static int parse_edit(int argc, char **argv, json_t *body, int *json, int min, int max)
{
    static const struct option opts[] = {{"description", required_argument, NULL, 'd'},
                                         {"tag", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *tags = NULL;
    int ch;
    *json = 0;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'd') {
            json_object_set_new(body, "description", json_string(optarg));
        } else if (ch == 't') {
            if (!tags) {
                tags = json_array();
                json_object_set_new(body, "tags", tags);
            }
            json_array_append_new(tags, json_string(optarg));
        } else if (ch == OPT_JSON) {
            *json = 1;
        } else {
            return CLI_USAGE;
        }
    }
    int n = argc - optind;
    if (n < min || n > max)
        return cli_usage_error(n < min ? "missing arguments" : "unexpected argument '%s'",
                               n < min ? "" : argv[optind + max]);
    return 0;
}

static int data_create(cli_client_t *c, int argc, char **argv)
{
    json_t *body = json_object(), *out = NULL;
    int json, rc = parse_edit(argc, argv, body, &json, 1, 1);
    const char *slash = rc == 0 ? strchr(argv[optind], '/') : NULL;
    if (rc == 0 && (!slash || slash == argv[optind] || !slash[1]))
        rc = cli_usage_error("\"%s\" is not TEAM/DATASET", argv[optind]);
    mops_err_t err;
    if (rc == 0) {
        json_object_set_new(body, "team",
                            json_stringn(argv[optind], (size_t)(slash - argv[optind])));
        json_object_set_new(body, "name", json_string(slash + 1));
        rc = cli_request(c, "POST", "/api/v1/datasets", body, &out, &err);
        if (rc == 0)
            json ? cli_print_json(out) : print_dataset(out);
        else
            rc = cli_fail(&err);
    }
    json_decref(out);
    json_decref(body);
    return rc;
}

static void dataset_table(const json_t *items)
{
    cli_table_t *t = cli_table_new(5, "DATASET", "VERSIONS", "LATEST", "TAGS", "DESCRIPTION");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        char name[140];
        snprintf(name, sizeof name, "%s/%s", cli_cell(json_object_get(it, "team"), 0),
                 cli_cell(json_object_get(it, "name"), 1));
        cli_table_add(t, name, cli_cell(json_object_get(it, "versions"), 2),
                      cli_cell(json_object_get(it, "latest_version"), 3),
                      joined(json_object_get(it, "tags"), 0),
                      cli_cell(json_object_get(it, "description"), 4));
    }
    cli_table_print(t);
}

static int data_list(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"team", required_argument, NULL, 'T'},
                                         {"tag", required_argument, NULL, 't'},
                                         {"archived", no_argument, NULL, OPT_ARCHIVED},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *team = NULL, *tag = NULL;
    int json = 0, archived = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'T': team = optarg; break;
        case 't': tag = optarg; break;
        case OPT_ARCHIVED: archived = 1; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (argc != optind)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    mops_buf_t q = MOPS_BUF_INIT;
    mops_buf_printf(&q, "/api/v1/datasets?limit=1000&archived=%s", archived ? "true" : "false");
    if (team) {
        char *e = cli_escape(team);
        mops_buf_printf(&q, "&team=%s", e);
        free(e);
    }
    if (tag) {
        char *e = cli_escape(tag);
        mops_buf_printf(&q, "&tag=%s", e);
        free(e);
    }
    int rc = list(c, q.data, json, dataset_table);
    mops_buf_release(&q);
    return rc;
}

static int data_show(cli_client_t *c, int argc, char **argv)
{
    int json;
    cli_ref_t r = {0};
    if (cli_json_only(argc, argv, 1, 2, &json) || cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    const char *version = argc - optind == 2 ? argv[optind + 1] : NULL;
    int rc = one(c, "GET", ds_path(&r, version, ""), json, version ? print_version : print_dataset);
    cli_ref_release(&r);
    return rc;
}

static int data_update(cli_client_t *c, int argc, char **argv)
{
    json_t *body = json_object(), *out = NULL;
    int json, rc = parse_edit(argc, argv, body, &json, 1, 2);
    cli_ref_t r = {0};
    if (rc == 0 && !json_object_size(body))
        rc = cli_usage_error("give --description or --tag");
    if (rc == 0)
        rc = cli_ref_parse(argv[optind], "DATASET", &r);
    if (rc == 0) {
        const char *version = argc - optind == 2 ? argv[optind + 1] : NULL;
        char *path = ds_path(&r, version, "");
        mops_err_t err;
        rc = cli_request(c, "PATCH", path, body, &out, &err);
        if (rc == 0)
            json ? cli_print_json(out) : (version ? print_version : print_dataset)(out);
        else
            rc = cli_fail(&err);
        free(path);
    }
    json_decref(out);
    json_decref(body);
    cli_ref_release(&r);
    return rc;
}

static int data_archive(cli_client_t *c, int argc, char **argv)
{
    int json;
    cli_ref_t r = {0};
    if (cli_json_only(argc, argv, 1, 2, &json) || cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    const char *version = argc - optind == 2 ? argv[optind + 1] : NULL;
    int rc = one(c, "POST", ds_path(&r, version, "/archive"), json,
                 version ? print_version : print_dataset);
    cli_ref_release(&r);
    return rc;
}

/* ------------------------------------------------------------ register */

/* Create TEAM/NAME unless it exists. */
static int ensure_dataset(cli_client_t *c, const char *arg, const cli_ref_t *r, mops_err_t *err)
{
    char *path = ds_path(r, NULL, "");
    int rc = cli_request(c, "GET", path, NULL, NULL, err);
    free(path);
    if (rc != MOPS_ENOTFOUND || !strstr(err->msg, "no dataset named"))
        return rc;
    const char *slash = strchr(arg, '/');
    json_t *body = json_pack("{s:s%, s:s}", "team", arg, (size_t)(slash - arg), "name", slash + 1);
    rc = cli_request(c, "POST", "/api/v1/datasets", body, NULL, err);
    json_decref(body);
    return rc;
}

/* Messages about the upload name the user's file. */
static int fail_file(mops_err_t *err, const char *file)
{
    static const char prefix[] = "the uploaded file";
    if (!strncmp(err->msg, prefix, sizeof prefix - 1)) {
        char rest[MOPS_ERR_MSG_MAX];
        snprintf(rest, sizeof rest, "%s", err->msg + sizeof prefix - 1);
        snprintf(err->msg, sizeof err->msg, "%s%s", file, rest);
    }
    return cli_fail(err);
}

static void print_registered(const json_t *v, const json_t *up)
{
    printf("registered %s (sha256:%s, %s rows, %zu columns%s)\n\n",
           cli_cell(json_object_get(v, "ref"), 0), cli_cell(json_object_get(up, "sha256"), 1),
           cli_cell(json_object_get(up, "rows"), 2),
           json_array_size(json_object_get(json_object_get(v, "schema"), "columns")),
           json_is_true(json_object_get(up, "already_stored")) ? ", bytes already stored" : "");
    json_t *sug = json_object_get(v, "pii_suggestions");
    print_version(v);
    if (json_array_size(sug)) {
        printf("\npersonal data found (tagged now; confirm or change with 'mops data tags'):\n");
        size_t i;
        json_t *s;
        json_array_foreach(sug, i, s)
            printf("  %-20s %-12s %s\n", cli_cell(json_object_get(s, "column"), 0),
                   cli_cell(json_object_get(s, "tag"), 1), cli_cell(json_object_get(s, "reason"), 2));
    }
}

static int data_register(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"description", required_argument, NULL, 'd'},
                                         {"source-uri", required_argument, NULL, OPT_SOURCE_URI},
                                         {"tag", required_argument, NULL, 't'},
                                         {"schema", required_argument, NULL, OPT_SCHEMA},
                                         {"column-tag", required_argument, NULL, OPT_COLUMN_TAG},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *spec = json_object(), *tags = json_array(), *ctags = json_object();
    int json = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'd': json_object_set_new(spec, "description", json_string(optarg)); break;
        case OPT_SOURCE_URI: json_object_set_new(spec, "source_uri", json_string(optarg)); break;
        case 't': json_array_append_new(tags, json_string(optarg)); break;
        case OPT_SCHEMA: {
            json_error_t je;
            json_t *s = json_load_file(optarg, 0, &je);
            if (!json_is_object(s))
                rc = cli_usage_error("--schema %s: not a JSON object (%s)", optarg, je.text);
            else
                json_object_set(spec, "schema", s);
            json_decref(s);
            break;
        }
        case OPT_COLUMN_TAG: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1]) {
                rc = cli_usage_error("--column-tag \"%s\" must be COLUMN=TAG", optarg);
                break;
            }
            char *col = mops_xstrndup(optarg, (size_t)(eq - optarg));
            json_t *list = json_object_get(ctags, col);
            if (!list) {
                list = json_array();
                json_object_set_new(ctags, col, list);
            }
            json_array_append_new(list, json_string(eq + 1));
            free(col);
            break;
        }
        case OPT_JSON: json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    cli_ref_t r = {0};
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM/DATASET and FILE");
    if (rc == 0)
        rc = cli_ref_parse(argv[optind], "DATASET", &r);
    if (rc == 0) {
        if (json_array_size(tags))
            json_object_set(spec, "tags", tags);
        if (json_object_size(ctags))
            json_object_set(spec, "column_tags", ctags);
        mops_err_t err;
        json_t *up = NULL, *out = NULL;
        const char *file = argv[optind + 1];
        char *path = ds_path(&r, NULL, "/uploads");
        rc = ensure_dataset(c, argv[optind], &r, &err);
        if (rc == 0)
            rc = cli_upload(c, path, file, &up, &err);
        free(path);
        if (rc == 0) {
            json_object_set(spec, "sha256", json_object_get(up, "sha256"));
            path = ds_path(&r, NULL, "/versions");
            rc = cli_request(c, "POST", path, spec, &out, &err);
            free(path);
        }
        if (rc == 0 && json)
            cli_print_json(out);
        else if (rc == 0)
            print_registered(out, up);
        else
            rc = fail_file(&err, file);
        json_decref(up);
        json_decref(out);
    }
    cli_ref_release(&r);
    json_decref(spec);
    json_decref(tags);
    json_decref(ctags);
    return rc;
}

/* ------------------------------------------------------------ versions */

static void version_table(const json_t *items)
{
    cli_table_t *t = cli_table_new(7, "VERSION", "ROWS", "COLUMNS", "PII", "QUALITY", "CREATED",
                                   "BY");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *q = json_object_get(it, "quality");
        char ncols[24];
        snprintf(ncols, sizeof ncols, "%zu",
                 json_array_size(json_object_get(json_object_get(it, "schema"), "columns")));
        cli_table_add(t, cli_cell(json_object_get(it, "version"), 0),
                      cli_cell(json_object_get(it, "rows"), 1), ncols,
                      joined(json_object_get(it, "pii_columns"), 0),
                      !json_is_object(q) ? "-"
                      : json_is_true(json_object_get(q, "success")) ? "passed" : "failed",
                      cli_time(json_object_get(it, "created_at"), 2),
                      cli_cell(json_object_get(it, "created_by"), 3));
    }
    cli_table_print(t);
}

static int data_versions(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"archived", no_argument, NULL, OPT_ARCHIVED},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    int json = 0, archived = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_ARCHIVED)
            archived = 1;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    cli_ref_t r = {0};
    if (argc - optind != 1)
        return cli_usage_error("give TEAM/DATASET");
    if (cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    char *path = ds_path(&r, NULL, archived ? "/versions?limit=1000&archived=true"
                                            : "/versions?limit=1000");
    int rc = list(c, path, json, version_table);
    free(path);
    cli_ref_release(&r);
    return rc;
}

static int data_download(cli_client_t *c, int argc, char **argv)
{
    return cli_version_download(c, argc, argv, "datasets", "DATASET", "/data", ".csv");
}

static void print_sample(const json_t *s)
{
    json_t *cols = json_object_get(s, "columns");
    size_t n = json_array_size(cols), i, j;
    json_t *row;
    /* tables have a fixed number of columns: print CSV-like lines instead */
    printf("%s\n", joined(cols, 0));
    json_array_foreach(json_object_get(s, "rows"), i, row) {
        for (j = 0; j < n; j++)
            printf("%s%s", j ? ", " : "", cli_cell(json_array_get(row, j), 0));
        putchar('\n');
    }
    if (json_array_size(json_object_get(s, "masked")))
        printf("(masked: %s)\n", joined(json_object_get(s, "masked"), 1));
}

static int data_sample(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"rows", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *rows = "10";
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'n')
            rows = optarg;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    cli_ref_t r = {0};
    if (argc - optind != 2)
        return cli_usage_error("give TEAM/DATASET and VERSION");
    if (cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    char *e = cli_escape(rows), *suffix = mops_xasprintf("/sample?rows=%s", e);
    int rc = one(c, "GET", ds_path(&r, argv[optind + 1], suffix), json, print_sample);
    free(e);
    free(suffix);
    cli_ref_release(&r);
    return rc;
}

static void print_profile(const json_t *p)
{
    printf("%s: %s rows\n\n", cli_cell(json_object_get(p, "dataset"), 0),
           cli_cell(json_object_get(p, "rows"), 1));
    cli_table_t *t = cli_table_new(10, "COLUMN", "TYPE", "MISSING", "DISTINCT", "MIN", "MAX",
                                   "MEAN", "STD", "MEDIAN", "TOP");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(p, "columns"), i, c) {
        char top[200] = "", distinct[40];
        size_t o = 0, j;
        json_t *tv;
        json_array_foreach(json_object_get(c, "top"), j, tv) {
            if (j >= 3)
                break;
            o += (size_t)snprintf(top + o, o < sizeof top ? sizeof top - o : 0, "%s%s (%s)",
                                  j ? ", " : "", cli_cell(json_object_get(tv, "value"), 6),
                                  cli_cell(json_object_get(tv, "count"), 7));
        }
        if (json_object_get(c, "true"))
            snprintf(top, sizeof top, "true (%s), false (%s)",
                     cli_cell(json_object_get(c, "true"), 6), cli_cell(json_object_get(c, "false"), 7));
        snprintf(distinct, sizeof distinct, "~%s",
                 cli_cell(json_object_get(json_object_get(c, "distinct"), "estimate"), 0));
        cli_table_add(t, cli_cell(json_object_get(c, "name"), 0),
                      cli_cell(json_object_get(c, "type"), 1),
                      cli_cell(json_object_get(c, "missing"), 2), distinct,
                      cli_cell(json_object_get(c, "min"), 3), cli_cell(json_object_get(c, "max"), 4),
                      cli_cell(json_object_get(c, "mean"), 5), cli_cell(json_object_get(c, "std"), 6),
                      cli_cell(json_object_get(json_object_get(c, "quantiles"), "p50"), 7),
                      json_is_true(json_object_get(c, "redacted")) ? "(PII: not shown)"
                      : top[0] ? top : "-");
    }
    cli_table_print(t);
    printf("\nquantiles within ±1.65%% of rank, distinct counts ±1.6%% (one standard error)\n");
}

static int data_profile(cli_client_t *c, int argc, char **argv)
{
    int json;
    cli_ref_t r = {0};
    if (cli_json_only(argc, argv, 2, 2, &json) || cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    int rc = one(c, "GET", ds_path(&r, argv[optind + 1], "/profile"), json, print_profile);
    cli_ref_release(&r);
    return rc;
}

static void print_diff(const json_t *d)
{
    json_t *rows = json_object_get(d, "rows");
    printf("%s -> %s (rows %s -> %s%s)\n", cli_cell(json_object_get(d, "from"), 0),
           cli_cell(json_object_get(d, "to"), 1), cli_cell(json_object_get(rows, "from"), 2),
           cli_cell(json_object_get(rows, "to"), 3),
           json_is_true(json_object_get(d, "same_content")) ? ", same bytes" : "");
    print_changes(d);
}

static int data_diff(cli_client_t *c, int argc, char **argv)
{
    int json;
    cli_ref_t r = {0};
    if (cli_json_only(argc, argv, 2, 3, &json) || cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    /* diff TEAM/NAME A B: the changes from A to B */
    const char *to = argv[optind + (argc - optind == 3 ? 2 : 1)];
    char *suffix = NULL;
    if (argc - optind == 3) {
        char *e = cli_escape(argv[optind + 1]);
        suffix = mops_xasprintf("/diff?against=%s", e);
        free(e);
    }
    int rc = one(c, "GET", ds_path(&r, to, suffix ? suffix : "/diff"), json, print_diff);
    free(suffix);
    cli_ref_release(&r);
    return rc;
}

static void print_tags(const json_t *v)
{
    cli_table_t *t = cli_table_new(4, "COLUMN", "TAG", "STATE", "EVIDENCE");
    const char *col;
    json_t *list;
    json_object_foreach(json_object_get(v, "column_tags"), col, list) {
        size_t i;
        json_t *tg;
        json_array_foreach(list, i, tg)
            cli_table_add(t, col, cli_cell(json_object_get(tg, "tag"), 0),
                          cli_cell(json_object_get(tg, "state"), 1),
                          cli_cell(json_object_get(tg, "evidence"), 2));
    }
    cli_table_print(t);
}

static int data_tags(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"approve", no_argument, NULL, OPT_APPROVE},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    int json = 0, approve = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_JSON)
            json = 1;
        else if (ch == OPT_APPROVE)
            approve = 1;
        else
            return CLI_USAGE;
    }
    cli_ref_t r = {0};
    if (argc - optind < 2)
        return cli_usage_error("give TEAM/DATASET and VERSION");
    if (cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    json_t *cols = json_object();
    for (int i = optind + 2; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            json_decref(cols);
            cli_ref_release(&r);
            return cli_usage_error("\"%s\" must be COLUMN=TAG[,TAG...] (COLUMN= clears)",
                                   argv[i]);
        }
        char *col = mops_xstrndup(argv[i], (size_t)(eq - argv[i]));
        json_t *list = json_array();
        char *copy = mops_xstrdup(eq + 1), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(list, json_string(t));
        json_object_set_new(cols, col, list);
        free(copy);
        free(col);
    }
    if (approve && !json_object_size(cols)) {
        json_decref(cols);
        cli_ref_release(&r);
        return cli_usage_error("--approve needs the columns whose use is approved");
    }
    char *path = ds_path(&r, argv[optind + 1], json_object_size(cols) ? "/column-tags" : "");
    json_t *body = json_object_size(cols)
                       ? json_pack("{s:O, s:b}", "columns", cols, "approve", approve)
                       : NULL;
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, body ? "PUT" : "GET", path, body, &out, &err);
    if (rc == 0)
        json ? cli_print_json(json_object_get(out, "column_tags")) : print_tags(out);
    json_decref(out);
    json_decref(body);
    json_decref(cols);
    free(path);
    cli_ref_release(&r);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* ------------------------------------------------------------ quality */

static void print_suite(const json_t *s)
{
    printf("suite of %s/%s, revision %s\n\n", cli_cell(json_object_get(s, "team"), 0),
           cli_cell(json_object_get(s, "dataset"), 1), cli_cell(json_object_get(s, "revision"), 2));
    cli_table_t *t = cli_table_new(2, "EXPECTATION", "KWARGS");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(s, "expectations"), i, x)
        cli_table_add(t, cli_cell(json_object_get(x, "expectation_type"), 0),
                      cli_cell(json_object_get(x, "kwargs"), 1));
    cli_table_print(t);
}

static int data_suite(cli_client_t *c, int argc, char **argv)
{
    int json;
    cli_ref_t r = {0};
    if (cli_json_only(argc, argv, 1, 2, &json) || cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    json_t *body = NULL, *out = NULL;
    int rc = 0;
    if (argc - optind == 2) {
        json_error_t je;
        body = json_load_file(argv[optind + 1], JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(body)) {
            json_decref(body);
            cli_ref_release(&r);
            return cli_usage_error("%s: not a JSON object (%s, line %d)", argv[optind + 1],
                                   je.text, je.line);
        }
    }
    char *path = ds_path(&r, NULL, "/suite");
    mops_err_t err;
    rc = cli_request(c, body ? "PUT" : "GET", path, body, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print_suite(out);
    json_decref(out);
    json_decref(body);
    free(path);
    cli_ref_release(&r);
    return rc ? cli_fail(&err) : CLI_OK;
}

static void print_result(const json_t *res)
{
    json_t *st = json_object_get(res, "statistics");
    printf("%s: %s, %s of %s expectations met (suite revision %s, result %s)\n\n",
           cli_cell(json_object_get(res, "dataset"), 0),
           json_is_true(json_object_get(res, "success")) ? "PASSED" : "FAILED",
           cli_cell(json_object_get(st, "successful_expectations"), 1),
           cli_cell(json_object_get(st, "evaluated_expectations"), 2),
           cli_cell(json_object_get(res, "suite_revision"), 3),
           cli_cell(json_object_get(res, "id"), 4));
    cli_table_t *t = cli_table_new(5, "", "EXPECTATION", "COLUMN", "UNEXPECTED", "EXAMPLES");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "results"), i, r) {
        json_t *cfg = json_object_get(r, "expectation_config"), *rs = json_object_get(r, "result");
        char unexpected[64] = "-", examples[300] = "";
        if (json_object_get(rs, "unexpected_count"))
            snprintf(unexpected, sizeof unexpected, "%s (%.2f%%)",
                     cli_cell(json_object_get(rs, "unexpected_count"), 0),
                     json_number_value(json_object_get(rs, "unexpected_percent")));
        else if (json_object_get(rs, "observed_value"))
            snprintf(unexpected, sizeof unexpected, "observed %s",
                     cli_cell(json_object_get(rs, "observed_value"), 0));
        size_t o = 0, j;
        json_t *v;
        json_array_foreach(json_object_get(rs, "partial_unexpected_list"), j, v) {
            if (j >= 3)
                break;
            o += (size_t)snprintf(examples + o, o < sizeof examples ? sizeof examples - o : 0,
                                  "%sline %s: %s", j ? "; " : "",
                                  cli_cell(json_array_get(json_object_get(rs,
                                                                          "partial_unexpected_lines"),
                                                          j), 1),
                                  cli_cell(v, 2));
        }
        const char *exc = mops_json_str(json_object_get(r, "exception_info"), "exception_message",
                                        NULL);
        cli_table_add(t, json_is_true(json_object_get(r, "success")) ? "ok" : "FAIL",
                      cli_cell(json_object_get(cfg, "expectation_type"), 3),
                      cli_cell(json_object_get(json_object_get(cfg, "kwargs"), "column"), 4),
                      unexpected, exc ? exc : examples[0] ? examples : "-");
    }
    cli_table_print(t);
}

static int data_validate(cli_client_t *c, int argc, char **argv)
{
    int json;
    cli_ref_t r = {0};
    if (cli_json_only(argc, argv, 2, 2, &json) || cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    char *path = ds_path(&r, argv[optind + 1], "/validations");
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "POST", path, NULL, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print_result(out);
    int failed = rc == 0 && !json_is_true(json_object_get(out, "success"));
    if (failed)
        fprintf(stderr, "mops data validate: %s did not pass its quality suite\n",
                cli_cell(json_object_get(out, "dataset"), 0));
    json_decref(out);
    free(path);
    cli_ref_release(&r);
    return rc ? cli_fail(&err) : failed ? CLI_FAIL : CLI_OK;
}

static void result_table(const json_t *items)
{
    cli_table_t *t = cli_table_new(6, "RESULT", "SUCCESS", "MET", "SUITE", "VALIDATED", "BY");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *st = json_object_get(it, "statistics");
        char met[48];
        snprintf(met, sizeof met, "%s/%s",
                 cli_cell(json_object_get(st, "successful_expectations"), 0),
                 cli_cell(json_object_get(st, "evaluated_expectations"), 1));
        cli_table_add(t, cli_cell(json_object_get(it, "id"), 2),
                      cli_cell(json_object_get(it, "success"), 3), met,
                      cli_cell(json_object_get(it, "suite_revision"), 4),
                      cli_time(json_object_get(it, "validated_at"), 5),
                      cli_cell(json_object_get(it, "run_by"), 6));
    }
    cli_table_print(t);
}

static int data_results(cli_client_t *c, int argc, char **argv)
{
    int json;
    cli_ref_t r = {0};
    if (cli_json_only(argc, argv, 2, 3, &json) || cli_ref_parse(argv[optind], "DATASET", &r) != 0)
        return CLI_USAGE;
    int rc;
    if (argc - optind == 3) {
        char *e = cli_escape(argv[optind + 2]), *suffix = mops_xasprintf("/validations/%s", e);
        rc = one(c, "GET", ds_path(&r, argv[optind + 1], suffix), json, print_result);
        free(e);
        free(suffix);
        cli_ref_release(&r);
        return rc;
    }
    char *path = ds_path(&r, argv[optind + 1], "/validations?limit=1000");
    rc = list(c, path, json, result_table);
    free(path);
    cli_ref_release(&r);
    return rc;
}

static const cli_sub_t subs[] = {
    {"create", "TEAM/DATASET [-d TEXT] [-t TAG...] [--json]", "Create a dataset.",
     "  -d, --description TEXT   what the data is\n"
     "  -t, --tag TAG            a tag (repeat)\n"
     "  --json                   print JSON\n",
     data_create},
    {"list", "[--team T] [--tag X] [--archived] [--json]", "List the datasets you can see.",
     "  --team TEAM   only this team's\n"
     "  -t, --tag X   only datasets with this tag\n"
     "  --archived    archived datasets instead of active ones\n"
     "  --json        print JSON\n",
     data_list},
    {"show", "TEAM/DATASET [VERSION] [--json]",
     "Show a dataset, or one of its versions (schema, column tags, quality).",
     "  --json   print JSON\n", data_show},
    {"register", "TEAM/DATASET FILE.csv [options]",
     "Upload a CSV file as the dataset's next version (creating the dataset if needed): the "
     "server infers its schema, profiles it and scans it for personal data on the way in.",
     "  -d, --description TEXT      what changed\n"
     "  --source-uri URI            where the data comes from\n"
     "  -t, --tag TAG               a version tag (repeat)\n"
     "  --schema FILE.json          a declared schema {\"columns\": [{\"name\", \"type\", "
     "\"nullable\"}]}\n"
     "  --column-tag COLUMN=TAG     tag a column, e.g. email=pii:email (repeat)\n"
     "  --json                      print JSON\n",
     data_register},
    {"versions", "TEAM/DATASET [--archived] [--json]", "List a dataset's versions, newest first.",
     "  --archived   archived versions instead of active ones\n"
     "  --json       print JSON\n",
     data_versions},
    {"update", "TEAM/DATASET [VERSION] [-d TEXT] [-t TAG...] [--json]",
     "Change the description or tags of a dataset or of a version.",
     "  -d, --description TEXT   new description\n"
     "  -t, --tag TAG            a tag (repeat; replaces the tags)\n"
     "  --json                   print JSON\n",
     data_update},
    {"archive", "TEAM/DATASET [VERSION] [--json]",
     "Archive a dataset or a version. Nothing is ever deleted.", "  --json   print JSON\n",
     data_archive},
    {"download", "TEAM/DATASET VERSION [-o FILE]",
     "Download a version's CSV file and check its SHA-256 (audited; PII needs "
     "dataset.download_pii).",
     "  -o, --output FILE   where to write it (default DATASET-VERSION.csv)\n", data_download},
    {"sample", "TEAM/DATASET VERSION [--rows N] [--json]",
     "Show the first rows, PII columns masked unless you may see them.",
     "  -n, --rows N   how many rows (1-1000, default 10)\n"
     "  --json         print JSON\n",
     data_sample},
    {"profile", "TEAM/DATASET VERSION [--json]",
     "Show a version's profile: per column counts, missing, distinct, range, mean, quantiles, "
     "top values.",
     "  --json   print JSON (with histograms and error bounds)\n", data_profile},
    {"diff", "TEAM/DATASET [FROM] TO [--json]",
     "Schema changes between two versions (default: TO against the version before it).",
     "  --json   print JSON\n", data_diff},
    {"tags", "TEAM/DATASET VERSION [COLUMN=TAG[,TAG...]...] [--approve] [--json]",
     "Show the column tags of a version, or set (and confirm) the tags of some columns; "
     "taking a PII tag off, or approving the use of PII columns, needs dataset.classify.",
     "  --approve   approve the use of the listed PII columns (governance's privacy rule)\n"
     "  --json      print JSON\n",
     data_tags},
    {"suite", "TEAM/DATASET [SUITE.json] [--json]",
     "Show the dataset's quality suite, or replace it with a Great Expectations suite file.",
     "  --json   print JSON\n", data_suite},
    {"validate", "TEAM/DATASET VERSION [--json]",
     "Validate a version against the suite and store the result; exit status 1 when it fails.",
     "  --json   print JSON\n", data_validate},
    {"results", "TEAM/DATASET VERSION [RESULT] [--json]",
     "List a version's validation results, or show one.", "  --json   print JSON\n",
     data_results},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_data(int argc, char **argv)
{
    return cli_group(GROUP,
                     "Datasets: versioned CSV files with schemas, profiles, PII tags and quality "
                     "suites.",
                     subs, argc, argv);
}
