/*
 * cmd_audit.c — `mops audit list|verify`. verify asks the server, or with
 * --data/--db reads the store directly (an auditor's offline check).
 */
#include <stdio.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"
#include "store/store.h"

#define GROUP "audit"

static int audit_list_cmd(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"team", required_argument, NULL, 'T'}, {"actor", required_argument, NULL, 'a'},
        {"action", required_argument, NULL, 'A'}, {"target", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'n'}, {"page-token", required_argument, NULL, OPT_PAGE_TOKEN},
        {"json", no_argument, NULL, OPT_JSON}, {NULL, 0, NULL, 0}};
    static const char *const keys[] = {"team", "actor", "action", "target", "limit",
                                       "page_token"};
    const char *vals[6] = {0};
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'T': vals[0] = optarg; break;
        case 'a': vals[1] = optarg; break;
        case 'A': vals[2] = optarg; break;
        case 't': vals[3] = optarg; break;
        case 'n': vals[4] = optarg; break;
        case OPT_PAGE_TOKEN: vals[5] = optarg; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    mops_buf_t q = MOPS_BUF_INIT;
    mops_buf_puts(&q, "/api/v1/audit");
    for (int i = 0, n = 0; i < 6; i++)
        if (vals[i]) {
            char *e = cli_escape(vals[i]);
            mops_buf_printf(&q, "%c%s=%s", n++ ? '&' : '?', keys[i], e);
            free(e);
        }
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", q.data, NULL, &out, &err);
    mops_buf_release(&q);
    if (rc == 0 && json) {
        cli_print_json(out);
    } else if (rc == 0) {
        cli_table_t *t = cli_table_new(6, "SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME");
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(out, "items"), i, it)
            cli_table_add(t, cli_cell(json_object_get(it, "seq"), 0),
                          cli_cell(json_object_get(it, "time"), 1),
                          cli_cell(json_object_get(it, "actor"), 2),
                          cli_cell(json_object_get(it, "action"), 3),
                          cli_cell(json_object_get(it, "target"), 4),
                          cli_cell(json_object_get(it, "outcome"), 5));
        cli_table_print(t);
        json_t *next = json_object_get(out, "next_page_token");
        if (json_is_string(next))
            fprintf(stderr, "(older entries: --page-token %s)\n", json_string_value(next));
    }
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

/* Verify the chain in a store opened directly. */
static int verify_local(const char *uri, json_t **out, mops_err_t *err)
{
    store_t *st;
    store_conn_t *db;
    int rc = store_open(uri, &st, err);
    if (rc != 0)
        return rc;
    if ((rc = store_conn_acquire(st, &db, err)) == 0) {
        rc = audit_verify(db, out, err);
        store_conn_release(db);
    }
    store_close(st);
    return rc;
}

static int audit_verify_cmd(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, OPT_DATA},
                                         {"db", required_argument, NULL, OPT_DB},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *data = NULL, *db = NULL;
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case OPT_DATA: data = optarg; break;
        case OPT_DB: db = optarg; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    json_t *out = NULL;
    mops_err_t err;
    int rc;
    if (data || db) {
        char *uri = db ? mops_xstrdup(db) : mops_xasprintf("sqlite:%s/mops.db", data);
        rc = verify_local(uri, &out, &err);
        free(uri);
    } else {
        rc = cli_request(c, "GET", "/api/v1/audit/verify", NULL, &out, &err);
    }
    if (rc != 0)
        return cli_fail(&err);
    int ok = json_is_true(json_object_get(out, "ok"));
    if (json)
        cli_print_json(out);
    else if (ok)
        printf("audit chain intact: %s entries, head %s\n",
               cli_cell(json_object_get(out, "entries"), 0),
               cli_cell(json_object_get(out, "head"), 1));
    else
        printf("audit chain BROKEN at entry %s: %s\n",
               cli_cell(json_object_get(out, "first_bad_seq"), 0),
               cli_cell(json_object_get(out, "problem"), 1));
    json_decref(out);
    return ok ? CLI_OK : CLI_FAIL;
}

static const cli_sub_t subs[] = {
    {"list", "[--team T] [--actor U] [--action A] [--target X] [--limit N] [--json]",
     "List audit entries you may read, newest first.",
     "  -T, --team TEAM       entries of this team\n"
     "  -a, --actor USER      entries by this user\n"
     "  -A, --action ACTION   e.g. model.create, or a prefix ending in '.' (model.)\n"
     "  -t, --target TARGET   e.g. fraud/churn@3\n"
     "  -n, --limit N         how many (default 100)\n"
     "  --page-token SEQ      continue below this entry\n"
     "  --json                print JSON\n",
     audit_list_cmd},
    {"verify", "[--data DIR | --db URI] [--json]",
     "Walk the hash chain and name the first entry that was altered. Exit status 1 if broken.",
     "  --data DIR   check the store of a data directory directly (no server needed)\n"
     "  --db URI     check a store by URI (sqlite:PATH or postgresql://...)\n"
     "  --json       print JSON\n",
     audit_verify_cmd},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_audit(int argc, char **argv)
{
    return cli_group(GROUP, "The tamper-evident audit trail: every change and every refusal.",
                     subs, argc, argv);
}
