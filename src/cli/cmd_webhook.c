/*
 * cmd_webhook.c — `mops webhook create|list|show|update|delete|ping|
 * deliveries`: where a team's notifications go, and the log of what was
 * sent. A secret is read from a file (or standard input), never from the
 * command line, where other users could see it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/fs.h"
#include "core/mem.h"

#define GROUP "webhook"

static const struct option edit_opts[] = {{"url", required_argument, NULL, 'u'},
                                          {"event", required_argument, NULL, 'e'},
                                          {"secret-file", required_argument, NULL,
                                           OPT_SECRET_FILE},
                                          {"no-secret", no_argument, NULL, OPT_NO_SECRET},
                                          {"max-attempts", required_argument, NULL,
                                           OPT_MAX_ATTEMPTS},
                                          {"backoff-ms", required_argument, NULL, OPT_BACKOFF_MS},
                                          {"enable", no_argument, NULL, OPT_ENABLE_HOOK},
                                          {"disable", no_argument, NULL, OPT_DISABLE_HOOK},
                                          {"json", no_argument, NULL, OPT_JSON},
                                          {NULL, 0, NULL, 0}};

/* The secret in file ("-": standard input), without its line end. */
static int read_secret(const char *file, json_t *body)
{
    char *text = NULL;
    size_t len = 0;
    if (!strcmp(file, "-")) {
        mops_buf_t b = MOPS_BUF_INIT;
        char chunk[256];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0 && b.len < 4096)
            mops_buf_append(&b, chunk, n);
        len = b.len;
        text = b.data ? mops_buf_detach(&b) : mops_xstrdup("");
    } else {
        mops_err_t err;
        if (mops_read_file(file, 4096, &text, &len, &err) != 0)
            return cli_fail(&err);
    }
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    int rc = 0;
    if (!len)
        rc = cli_usage_error("the secret in %s is empty", file);
    else
        json_object_set_new(body, "secret", json_string(text));
    memset(text, 0, len);
    free(text);
    return rc;
}

static int int_opt(const char *arg, const char *name, json_t *body, const char *key)
{
    char *end;
    long long v = strtoll(arg, &end, 10);
    if (*end || !*arg)
        return cli_usage_error("%s must be a number", name);
    json_object_set_new(body, key, json_integer(v));
    return 0;
}

static int parse_edit(int argc, char **argv, json_t *body, int *json)
{
    int ch, rc = 0;
    json_t *events = NULL;
    *json = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, edit_opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'u': json_object_set_new(body, "url", json_string(optarg)); break;
        case 'e':
            if (!events) {
                events = json_array();
                json_object_set_new(body, "events", events);
            }
            json_array_append_new(events, json_string(optarg));
            break;
        case OPT_SECRET_FILE: rc = read_secret(optarg, body); break;
        case OPT_NO_SECRET: json_object_set_new(body, "secret", json_string("")); break;
        case OPT_MAX_ATTEMPTS: rc = int_opt(optarg, "--max-attempts", body, "max_attempts"); break;
        case OPT_BACKOFF_MS: rc = int_opt(optarg, "--backoff-ms", body, "backoff_ms"); break;
        case OPT_ENABLE_HOOK: json_object_set_new(body, "enabled", json_true()); break;
        case OPT_DISABLE_HOOK: json_object_set_new(body, "enabled", json_false()); break;
        case OPT_JSON: *json = 1; break;
        default: rc = CLI_USAGE;
        }
    }
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error("give TEAM and NAME");
    return rc;
}

static char *hook_path(const char *team, const char *name, const char *suffix)
{
    char *t = cli_escape(team), *n = name ? cli_escape(name) : NULL;
    char *p = n ? mops_xasprintf("/api/v1/teams/%s/webhooks/%s%s", t, n, suffix)
                : mops_xasprintf("/api/v1/teams/%s/webhooks%s", t, suffix);
    free(t);
    free(n);
    return p;
}

static void print_hook(const json_t *w)
{
    printf("webhook:      %s/%s\n", cli_cell(json_object_get(w, "team"), 0),
           cli_cell(json_object_get(w, "name"), 1));
    printf("url:          %s\n", cli_cell(json_object_get(w, "url"), 0));
    printf("events:       %s\n", cli_cell(json_object_get(w, "events"), 0));
    printf("signed:       %s\n", cli_cell(json_object_get(w, "has_secret"), 0));
    printf("enabled:      %s\n", cli_cell(json_object_get(w, "enabled"), 0));
    printf("retries:      %s attempts, first wait %s ms (doubling)\n",
           cli_cell(json_object_get(w, "max_attempts"), 0),
           cli_cell(json_object_get(w, "backoff_ms"), 1));
    printf("deliveries:   %s pending, %s failed\n", cli_cell(json_object_get(w, "pending"), 0),
           cli_cell(json_object_get(w, "failed"), 1));
    printf("created:      %s by %s\n", cli_time(json_object_get(w, "created_at"), 0),
           cli_cell(json_object_get(w, "created_by"), 1));
}

static int send_edit(cli_client_t *c, int argc, char **argv, const char *method, int create)
{
    json_t *body = json_object();
    int json, rc = parse_edit(argc, argv, body, &json);
    if (rc == 0 && create && !json_object_get(body, "url"))
        rc = cli_usage_error("give --url");
    if (rc == 0 && !create && !json_object_size(body))
        rc = cli_usage_error("nothing to change");
    if (rc == 0) {
        char *path = create ? hook_path(argv[optind], NULL, "")
                            : hook_path(argv[optind], argv[optind + 1], "");
        if (create)
            json_object_set_new(body, "name", json_string(argv[optind + 1]));
        rc = cli_show(c, method, path, body, json, print_hook);
        free(path);
    }
    json_decref(body);
    return rc;
}

static int hook_create(cli_client_t *c, int argc, char **argv)
{
    return send_edit(c, argc, argv, "POST", 1);
}

static int hook_update(cli_client_t *c, int argc, char **argv)
{
    return send_edit(c, argc, argv, "PATCH", 0);
}

/* TEAM NAME [--json]: method on the webhook (suffix). */
static int hook_one(cli_client_t *c, int argc, char **argv, const char *method,
                    const char *suffix)
{
    int json;
    if (cli_json_only(argc, argv, 2, 2, &json))
        return CLI_USAGE;
    char *path = hook_path(argv[optind], argv[optind + 1], suffix);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, method, path, NULL, &out, &err);
    free(path);
    if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0 && !strcmp(method, "DELETE"))
        printf("deleted webhook %s of team %s\n", argv[optind + 1], argv[optind]);
    else if (rc == 0 && *suffix)
        printf("queued delivery %s (event ping) to webhook %s\n",
               cli_cell(json_object_get(out, "id"), 0), argv[optind + 1]);
    else if (rc == 0)
        print_hook(out);
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int hook_show(cli_client_t *c, int argc, char **argv)
{
    return hook_one(c, argc, argv, "GET", "");
}

static int hook_delete(cli_client_t *c, int argc, char **argv)
{
    return hook_one(c, argc, argv, "DELETE", "");
}

static int hook_ping(cli_client_t *c, int argc, char **argv)
{
    return hook_one(c, argc, argv, "POST", "/ping");
}

static void print_hooks(const json_t *out)
{
    cli_table_t *t = cli_table_new(6, "NAME", "URL", "EVENTS", "ENABLED", "PENDING", "FAILED");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(out, "items"), i, w)
        cli_table_add(t, cli_cell(json_object_get(w, "name"), 0),
                      cli_cell(json_object_get(w, "url"), 1),
                      cli_cell(json_object_get(w, "events"), 2),
                      cli_cell(json_object_get(w, "enabled"), 3),
                      cli_cell(json_object_get(w, "pending"), 4),
                      cli_cell(json_object_get(w, "failed"), 5));
    cli_table_print(t);
}

static int hook_list(cli_client_t *c, int argc, char **argv)
{
    int json;
    if (cli_json_only(argc, argv, 1, 1, &json))
        return CLI_USAGE;
    char *path = hook_path(argv[optind], NULL, "");
    int rc = cli_show(c, "GET", path, NULL, json, print_hooks);
    free(path);
    return rc;
}

static int hook_deliveries(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"webhook", required_argument, NULL, 'w'},
                                         {"state", required_argument, NULL, 's'},
                                         {"event", required_argument, NULL, 'e'},
                                         {"all", no_argument, NULL, OPT_ALL},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *vals[3] = {0};
    static const char *const keys[] = {"webhook", "state", "event"};
    int json = 0, all = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case 'w': vals[0] = optarg; break;
        case 's': vals[1] = optarg; break;
        case 'e': vals[2] = optarg; break;
        case OPT_ALL: all = 1; break;
        case OPT_JSON: json = 1; break;
        default: return CLI_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("give TEAM");
    char *t = cli_escape(argv[optind]);
    mops_buf_t q = MOPS_BUF_INIT;
    mops_buf_printf(&q, "/api/v1/teams/%s/deliveries?limit=100", t);
    free(t);
    for (int i = 0; i < 3; i++)
        if (vals[i]) {
            char *e = cli_escape(vals[i]);
            mops_buf_printf(&q, "&%s=%s", keys[i], e);
            free(e);
        }
    json_t *items = NULL;
    mops_err_t err;
    int more = 0;
    int rc = cli_get_pages(c, q.data, all, &items, &more, &err);
    mops_buf_release(&q);
    if (rc == 0 && json) {
        json_t *wrap = json_pack("{s:O}", "items", items);
        cli_print_json(wrap);
        json_decref(wrap);
    } else if (rc == 0) {
        cli_table_t *tb = cli_table_new(7, "ID", "WHEN", "EVENT", "WEBHOOK", "STATE", "ATTEMPTS",
                                        "LAST");
        size_t i;
        json_t *d;
        json_array_foreach(items, i, d) {
            const char *err_text = json_string_value(json_object_get(d, "last_error"));
            cli_table_add(tb, cli_cell(json_object_get(d, "id"), 0),
                          cli_time(json_object_get(d, "created_at"), 1),
                          cli_cell(json_object_get(d, "event"), 2),
                          cli_cell(json_object_get(d, "webhook"), 3),
                          cli_cell(json_object_get(d, "state"), 4),
                          cli_cell(json_object_get(d, "attempts"), 5),
                          err_text && *err_text ? err_text : "ok");
        }
        cli_table_print(tb);
        if (more)
            fprintf(stderr, "(more deliveries: use --all)\n");
    }
    json_decref(items);
    return rc ? cli_fail(&err) : CLI_OK;
}

#define EDIT_HELP                                                                                 \
    "  -u, --url URL            where to POST (http or https)\n"                                  \
    "  -e, --event EVENT        an event (review.requested), a prefix (review.) or * (repeat)\n" \
    "  --secret-file FILE       sign bodies with the secret in FILE ('-': standard input)\n"     \
    "  --no-secret              stop signing\n"                                                   \
    "  --max-attempts N         give up after N attempts (1-20, default 8)\n"                     \
    "  --backoff-ms MS          wait before the 2nd attempt, doubled each time (default 1000)\n" \
    "  --enable, --disable      (a disabled webhook's deliveries wait)\n"                         \
    "  --json                   print JSON\n"

static const cli_sub_t subs[] = {
    {"create", "TEAM NAME --url URL [options]",
     "Add a webhook to a team: matching events are POSTed to it as JSON, retried with\n"
     "exponential backoff, every attempt logged.",
     EDIT_HELP, hook_create},
    {"list", "TEAM [--json]", "List a team's webhooks.", "  --json   print JSON\n", hook_list},
    {"show", "TEAM NAME [--json]", "Show a webhook (never its secret).", "  --json   print JSON\n",
     hook_show},
    {"update", "TEAM NAME [options]", "Change a webhook.", EDIT_HELP, hook_update},
    {"delete", "TEAM NAME", "Delete a webhook; what it had not received yet is marked failed.",
     NULL, hook_delete},
    {"ping", "TEAM NAME [--json]", "Send a test event (ping) to a webhook.",
     "  --json   print JSON\n", hook_ping},
    {"deliveries", "TEAM [--webhook NAME] [--state S] [--event E] [--all] [--json]",
     "The delivery log: each notification, its state and every attempt.",
     "  -w, --webhook NAME   only this webhook's\n"
     "  -s, --state STATE    pending, delivered or failed\n"
     "  -e, --event EVENT    an event or a prefix ending in '.'\n"
     "  --all                every page\n"
     "  --json               print JSON (with every attempt)\n",
     hook_deliveries},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_webhook(int argc, char **argv)
{
    return cli_group(GROUP, "Webhooks: where a team's notifications go, and what was sent.", subs,
                     argc, argv);
}
