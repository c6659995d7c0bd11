/*
 * cmd_version.c — `mops version upload|list|show|download|alias|update|
 * archive` (and transition|promote|retire|history, in cmd_lifecycle.c).
 * An upload streams the file to the model's artifact store, then registers
 * the version with its lineage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/fs.h"
#include "core/mem.h"

#define GROUP "version"

static char *version_path(const cli_ref_t *r, const char *version, const char *suffix)
{
    char *v = cli_escape(version);
    char *p = mops_xasprintf("/api/v1/models/%s/%s/versions/%s%s", r->team, r->name, v, suffix);
    free(v);
    return p;
}

static void print_version(const json_t *v)
{
    const json_t *art = json_object_get(v, "artifact");
    printf("version:      %s/%s@%s\n", cli_cell(json_object_get(v, "team"), 0),
           cli_cell(json_object_get(v, "model"), 1), cli_cell(json_object_get(v, "version"), 2));
    printf("stage:        %s\n", cli_cell(json_object_get(v, "stage"), 0));
    printf("aliases:      %s\n", cli_cell(json_object_get(v, "aliases"), 0));
    printf("format:       %s\n", cli_cell(json_object_get(v, "format"), 0));
    printf("framework:    %s %s\n", cli_cell(json_object_get(v, "framework"), 0),
           cli_cell(json_object_get(v, "framework_version"), 1));
    printf("artifact:     sha256:%s (%s bytes)\n", cli_cell(json_object_get(art, "sha256"), 0),
           cli_cell(json_object_get(art, "size"), 1));
    printf("source:       %s\n", cli_cell(json_object_get(v, "source"), 0));
    printf("dataset:      %s\n", cli_cell(json_object_get(v, "dataset"), 0));
    printf("params:       %s\n", cli_cell(json_object_get(v, "params"), 0));
    printf("metrics:      %s\n", cli_cell(json_object_get(v, "metrics"), 0));
    printf("environment:  %s\n", cli_cell(json_object_get(v, "environment"), 0));
    printf("signature:    %s\n", cli_cell(json_object_get(v, "signature"), 0));
    printf("tags:         %s\n", cli_cell(json_object_get(v, "tags"), 0));
    printf("description:  %s\n", cli_cell(json_object_get(v, "description"), 0));
    printf("created:      %s by %s\n", cli_time(json_object_get(v, "created_at"), 0),
           cli_cell(json_object_get(v, "created_by"), 1));
    if (json_is_true(json_object_get(v, "archived")))
        printf("archived:     %s\n", cli_time(json_object_get(v, "archived_at"), 0));
}

static int version_upload(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"framework", required_argument, NULL, 'F'},
        {"framework-version", required_argument, NULL, OPT_FRAMEWORK_VERSION},
        {"description", required_argument, NULL, 'd'},
        {"source-uri", required_argument, NULL, OPT_SOURCE_URI},
        {"source-commit", required_argument, NULL, OPT_SOURCE_COMMIT},
        {"param", required_argument, NULL, 'p'},
        {"params-file", required_argument, NULL, OPT_PARAMS_FILE},
        {"metric", required_argument, NULL, 'm'},
        {"dataset", required_argument, NULL, 'D'},
        {"env", required_argument, NULL, 'e'},
        {"tag", required_argument, NULL, 't'},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0}};
    json_t *spec = json_object(), *params = json_object(), *metrics = json_object(),
           *env = json_object(), *source = json_object(), *tags = json_array();
    int json = 0, ch, rc = 0;
    mops_err_t err;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'f': json_object_set_new(spec, "format", json_string(optarg)); break;
        case 'F': json_object_set_new(spec, "framework", json_string(optarg)); break;
        case OPT_FRAMEWORK_VERSION:
            json_object_set_new(spec, "framework_version", json_string(optarg));
            break;
        case 'd': json_object_set_new(spec, "description", json_string(optarg)); break;
        case 'D': json_object_set_new(spec, "dataset", json_string(optarg)); break;
        case OPT_SOURCE_URI: json_object_set_new(source, "uri", json_string(optarg)); break;
        case OPT_SOURCE_COMMIT: json_object_set_new(source, "commit", json_string(optarg)); break;
        case 'p': rc = cli_kv_add(params, optarg, 0, "--param"); break;
        case 'm': rc = cli_kv_add(metrics, optarg, 0, "--metric"); break;
        case 'e': rc = cli_kv_add(env, optarg, 1, "--env"); break;
        case 't': json_array_append_new(tags, json_string(optarg)); break;
        case OPT_PARAMS_FILE: {
            json_error_t je;
            json_t *p = json_load_file(optarg, 0, &je);
            if (!json_is_object(p))
                rc = cli_usage_error("--params-file %s: not a JSON object (%s)", optarg, je.text);
            else
                json_object_update(params, p);
            json_decref(p);
            break;
        }
        case OPT_JSON: json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    cli_ref_t r = {0};
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM/MODEL and FILE");
    if (rc == 0 && !json_object_get(spec, "format"))
        rc = cli_usage_error("give --format (e.g. xgboost-json, sklearn-json, onnx)");
    if (rc == 0)
        rc = cli_ref_parse(argv[optind], "MODEL", &r);
    if (rc == 0) {
        if (json_object_size(params))
            json_object_set(spec, "params", params);
        if (json_object_size(metrics))
            json_object_set(spec, "metrics", metrics);
        if (json_object_size(env))
            json_object_set(spec, "environment", env);
        if (json_object_size(source))
            json_object_set(spec, "source", source);
        if (json_array_size(tags))
            json_object_set(spec, "tags", tags);
        char *path = mops_xasprintf("/api/v1/models/%s/%s/artifacts", r.team, r.name);
        json_t *art = NULL, *out = NULL;
        rc = cli_upload(c, path, argv[optind + 1], &art, &err);
        free(path);
        if (rc == 0) {
            json_object_set(spec, "artifact_sha256", json_object_get(art, "sha256"));
            path = mops_xasprintf("/api/v1/models/%s/%s/versions", r.team, r.name);
            rc = cli_request(c, "POST", path, spec, &out, &err);
            free(path);
        }
        if (rc == 0 && json)
            cli_print_json(out);
        else if (rc == 0)
            printf("uploaded %s version %s (sha256:%s, %s bytes)\n", argv[optind],
                   cli_cell(json_object_get(out, "version"), 0),
                   cli_cell(json_object_get(art, "sha256"), 1),
                   cli_cell(json_object_get(art, "size"), 2));
        json_decref(art);
        json_decref(out);
        if (rc != 0)
            rc = cli_fail(&err);
    }
    cli_ref_release(&r);
    json_decref(spec);
    json_decref(params);
    json_decref(metrics);
    json_decref(env);
    json_decref(source);
    json_decref(tags);
    return rc;
}

static int version_list(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"stage", required_argument, NULL, 's'},
                                         {"tag", required_argument, NULL, 't'},
                                         {"archived", no_argument, NULL, OPT_ARCHIVED},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *stage = NULL, *tag = NULL;
    int json = 0, archived = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 's': stage = optarg; break;
        case 't': tag = optarg; break;
        case OPT_ARCHIVED: archived = 1; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    cli_ref_t r = {0};
    if (argc - optind != 1)
        return cli_usage_error("give TEAM/MODEL");
    if (cli_ref_parse(argv[optind], "MODEL", &r) != 0)
        return CLI_USAGE;
    mops_buf_t q = MOPS_BUF_INIT;
    mops_buf_printf(&q, "/api/v1/models/%s/%s/versions?limit=1000&archived=%s", r.team, r.name,
                    archived ? "true" : "false");
    if (stage) {
        char *e = cli_escape(stage);
        mops_buf_printf(&q, "&stage=%s", e);
        free(e);
    }
    if (tag) {
        char *e = cli_escape(tag);
        mops_buf_printf(&q, "&tag=%s", e);
        free(e);
    }
    json_t *items = NULL;
    mops_err_t err;
    int more;
    int rc = cli_get_pages(c, q.data, 1, &items, &more, &err);
    mops_buf_release(&q);
    if (rc == 0 && json) {
        json_t *wrap = json_pack("{s:O}", "items", items);
        cli_print_json(wrap);
        json_decref(wrap);
    } else if (rc == 0) {
        cli_table_t *t = cli_table_new(7, "VERSION", "STAGE", "FORMAT", "ALIASES", "CREATED",
                                       "BY", "METRICS");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
            cli_table_add(t, cli_cell(json_object_get(it, "version"), 0),
                          cli_cell(json_object_get(it, "stage"), 1),
                          cli_cell(json_object_get(it, "format"), 2),
                          cli_cell(json_object_get(it, "aliases"), 3),
                          cli_time(json_object_get(it, "created_at"), 4),
                          cli_cell(json_object_get(it, "created_by"), 5),
                          cli_cell(json_object_get(it, "metrics"), 6));
        cli_table_print(t);
    }
    json_decref(items);
    cli_ref_release(&r);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* show and archive: TEAM/MODEL VERSION [--json]. */
static int version_one(cli_client_t *c, int argc, char **argv, const char *method,
                       const char *suffix)
{
    int json;
    cli_ref_t r = {0};
    if (cli_json_only(argc, argv, 2, 2, &json) || cli_ref_parse(argv[optind], "MODEL", &r) != 0)
        return CLI_USAGE;
    char *path = version_path(&r, argv[optind + 1], suffix);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, method, path, NULL, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print_version(out);
    json_decref(out);
    free(path);
    cli_ref_release(&r);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int version_show(cli_client_t *c, int argc, char **argv)
{
    return version_one(c, argc, argv, "GET", "");
}

static int version_archive(cli_client_t *c, int argc, char **argv)
{
    return version_one(c, argc, argv, "POST", "/archive");
}

static int version_update(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"description", required_argument, NULL, 'd'},
                                         {"tag", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object(), *tags = NULL;
    int json = 0, ch;
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
            json = 1;
        } else {
            json_decref(body);
            return CLI_USAGE;
        }
    }
    cli_ref_t r = {0};
    if (argc - optind != 2 || !json_object_size(body) ||
        cli_ref_parse(argv[optind], "MODEL", &r) != 0) {
        json_decref(body);
        return r.team ? CLI_USAGE : cli_usage_error("give TEAM/MODEL, VERSION and a change");
    }
    char *path = version_path(&r, argv[optind + 1], "");
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "PATCH", path, body, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print_version(out);
    json_decref(out);
    json_decref(body);
    free(path);
    cli_ref_release(&r);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int version_download(cli_client_t *c, int argc, char **argv)
{
    return cli_version_download(c, argc, argv, "models", "MODEL", "/artifact", ".bin");
}

static int version_alias(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"delete", no_argument, NULL, OPT_DELETE},
                                         {NULL, 0, NULL, 0}};
    int del = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_DELETE)
            del = 1;
        else
            return CLI_USAGE;
    }
    cli_ref_t r = {0};
    if (argc - optind != (del ? 2 : 3))
        return cli_usage_error(del ? "give TEAM/MODEL and ALIAS" : "give TEAM/MODEL, ALIAS and "
                                                                    "VERSION");
    if (cli_ref_parse(argv[optind], "MODEL", &r) != 0)
        return CLI_USAGE;
    long long number = 0;
    if (!del && (sscanf(argv[optind + 2], "%lld", &number) != 1 || number < 1)) {
        cli_ref_release(&r);
        return cli_usage_error("VERSION must be a version number");
    }
    char *alias = cli_escape(argv[optind + 1]);
    char *path = mops_xasprintf("/api/v1/models/%s/%s/aliases/%s", r.team, r.name, alias);
    json_t *body = del ? NULL : json_pack("{s:I}", "version", (json_int_t)number);
    mops_err_t err;
    int rc = cli_request(c, del ? "DELETE" : "PUT", path, body, NULL, &err);
    if (rc == 0 && del)
        printf("deleted alias %s of %s\n", argv[optind + 1], argv[optind]);
    else if (rc == 0)
        printf("%s@%s now points to version %lld\n", argv[optind], argv[optind + 1], number);
    json_decref(body);
    free(path);
    free(alias);
    cli_ref_release(&r);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t subs[] = {
    {"upload", "TEAM/MODEL FILE --format FORMAT [options]",
     "Upload an artifact and register it as the model's next version, with its lineage.",
     "  -f, --format FORMAT        xgboost-json, sklearn-json, onnx, ...\n"
     "  -F, --framework NAME       e.g. xgboost\n"
     "  --framework-version V      e.g. 1.7.4\n"
     "  -d, --description TEXT     what changed\n"
     "  --source-uri URI           where the training code lives\n"
     "  --source-commit COMMIT     the code's commit\n"
     "  -p, --param KEY=VALUE      a training parameter (repeat)\n"
     "  --params-file FILE         training parameters from a JSON object\n"
     "  -m, --metric NAME=NUMBER   a training metric (repeat)\n"
     "  -D, --dataset REF          the training dataset\n"
     "  -e, --env KEY=VALUE        environment, e.g. python=3.11 (repeat)\n"
     "  -t, --tag TAG              a tag (repeat)\n"
     "  --json                     print JSON\n",
     version_upload},
    {"list", "TEAM/MODEL [--stage S] [--tag X] [--archived] [--json]",
     "List a model's versions, newest first.",
     "  -s, --stage STAGE   only versions in this stage\n"
     "  -t, --tag TAG       only versions with this tag\n"
     "  --archived          archived versions instead of active ones\n"
     "  --json              print JSON\n",
     version_list},
    {"show", "TEAM/MODEL VERSION [--json]",
     "Show a version; VERSION is a number, an alias or 'latest'.", "  --json   print JSON\n",
     version_show},
    {"download", "TEAM/MODEL VERSION [-o FILE]",
     "Download a version's artifact and check its SHA-256.",
     "  -o, --output FILE   where to write it (default MODEL-VERSION.bin)\n", version_download},
    {"alias", "TEAM/MODEL ALIAS VERSION | TEAM/MODEL ALIAS --delete",
     "Point ALIAS (e.g. champion) at VERSION, atomically; or delete it.",
     "  --delete   remove the alias\n", version_alias},
    {"update", "TEAM/MODEL VERSION [--description TEXT] [--tag TAG...]",
     "Change a version's description or tags.",
     "  -d, --description TEXT   new description\n"
     "  -t, --tag TAG            a tag (repeat; replaces the tags)\n"
     "  --json                   print JSON\n",
     version_update},
    {"archive", "TEAM/MODEL VERSION [--json]",
     "Archive a version (it must have no alias). Nothing is ever deleted.",
     "  --json   print JSON\n", version_archive},
    {"transition", "TEAM/MODEL VERSION STAGE --reason TEXT [options]",
     "Move a version to STAGE (draft, in_review, approved, staging, production, deprecated,\n"
     "retired, rejected) along the lifecycle; the policies' rules gating STAGE must pass.\n"
     "A refused move names every failing rule and exits 1.",
     "  -r, --reason TEXT       why (recorded with the move)\n"
     "  --replacement N         to retired: the version that replaces it\n"
     "  --deprecate-others      to production: deprecate the model's other production versions\n"
     "  --json                  print JSON\n",
     cmd_version_transition},
    {"promote", "TEAM/MODEL VERSION [--reason TEXT] [--deprecate-others] [--json]",
     "Move a version one stage towards serving: approved -> staging -> production (or\n"
     "reinstate a deprecated one).",
     "  -r, --reason TEXT       why (default: \"promoted to STAGE\")\n"
     "  --deprecate-others      to production: deprecate the model's other production versions\n"
     "  --json                  print JSON\n",
     cmd_version_promote},
    {"retire", "TEAM/MODEL VERSION --reason TEXT [--replacement N] [--json]",
     "Retire a deprecated version that receives no traffic; keeps a post-retirement summary\n"
     "(mops report, GET .../retirement).",
     "  -r, --reason TEXT       why it is retired\n"
     "  --replacement N         the version that replaces it\n"
     "  --json                  print JSON\n",
     cmd_version_retire},
    {"history", "TEAM/MODEL VERSION [--json]",
     "Show a version's stage history: who moved it, when and why.", "  --json   print JSON\n",
     cmd_version_history},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_version(int argc, char **argv)
{
    return cli_group(GROUP, "Model versions: numbered, content-addressed artifacts with lineage.",
                     subs, argc, argv);
}
