/*
 * util.c — helpers shared by the CLI commands: subcommand groups, option
 * parsing with --help, error printing, tables and JSON output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"

const char *cli_current_group;
const cli_sub_t *cli_current_sub;

static void group_usage(FILE *f, const char *group, const char *summary, const cli_sub_t *subs)
{
    fprintf(f, "usage: mops %s <command> [options]\n\n%s\n\ncommands:\n", group, summary);
    for (const cli_sub_t *s = subs; s->name; s++)
        fprintf(f, "  %-14s %s\n", s->name, s->summary);
    fprintf(f, "\n'mops %s <command> --help' describes a command.\n", group);
}

void cli_sub_usage(FILE *f, const char *group, const cli_sub_t *sub)
{
    fprintf(f, "usage: mops %s%s%s %s\n\n%s\n", group, *sub->name ? " " : "", sub->name,
            sub->args, sub->summary);
    if (sub->help)
        fprintf(f, "\noptions:\n%s", sub->help);
}

int cli_group(const char *group, const char *summary, const cli_sub_t *subs, int argc,
              char **argv)
{
    if (argc < 2) {
        group_usage(stderr, group, summary, subs);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        group_usage(stdout, group, summary, subs);
        return CLI_OK;
    }
    for (const cli_sub_t *s = subs; s->name; s++) {
        if (strcmp(s->name, argv[1]) != 0)
            continue;
        cli_current_group = group;
        cli_current_sub = s;
        optind = 0; /* a full reset of getopt's state for the sub's own options */
        cli_client_t c;
        mops_err_t err;
        if (cli_client_init(&c, &err) != 0)
            return cli_fail(&err);
        int rc = s->run(&c, argc - 1, argv + 1);
        cli_client_release(&c);
        return rc;
    }
    fprintf(stderr, "mops %s: '%s' is not a command of 'mops %s'\n\n", group, argv[1], group);
    group_usage(stderr, group, summary, subs);
    return CLI_USAGE;
}

int cli_getopt(int argc, char **argv, const struct option *opts, const char *group,
               const cli_sub_t *sub)
{
    /* Build the short-option string from the table's single-letter vals. */
    char shorts[64] = ":h";
    size_t n = 2;
    for (const struct option *o = opts; o->name && n + 2 < sizeof shorts; o++)
        if (o->val > ' ' && o->val < 127 && o->val != 'h') {
            shorts[n++] = (char)o->val;
            if (o->has_arg == required_argument)
                shorts[n++] = ':';
        }
    shorts[n] = '\0';
    struct option all[48];
    int k = 0;
    for (const struct option *o = opts; o->name && k < 46; o++)
        all[k++] = *o;
    all[k++] = (struct option){"help", no_argument, NULL, 'h'};
    all[k] = (struct option){NULL, 0, NULL, 0};
    opterr = 0;
    int c = getopt_long(argc, argv, shorts, all, NULL);
    if (c == 'h') {
        cli_sub_usage(stdout, group, sub);
        exit(CLI_OK);
    }
    if (c == ':') {
        cli_usage_error("option %s needs a value", argv[optind - 1]);
        return '?';
    }
    if (c == '?') {
        cli_usage_error("unknown option %s", argv[optind - 1]);
        return '?';
    }
    return c;
}

int cli_json_only(int argc, char **argv, int min, int max, int *json)
{
    static const struct option opts[] = {{"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    int ch;
    *json = 0;
    while ((ch = cli_getopt(argc, argv, opts, cli_current_group, cli_current_sub)) != -1) {
        if (ch != OPT_JSON)
            return CLI_USAGE;
        *json = 1;
    }
    int n = argc - optind;
    if (n < min || n > max)
        return cli_usage_error(n < min ? "missing arguments" : "unexpected argument '%s'",
                               n < min ? "" : argv[optind + max]);
    return 0;
}

/* "group sub" or, for a command without subcommands, "group". */
static void command_name(FILE *f)
{
    const char *sub = cli_current_sub ? cli_current_sub->name : "";
    fprintf(f, "mops %s%s%s", cli_current_group ? cli_current_group : "", *sub ? " " : "", sub);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    command_name(stderr);
    fprintf(stderr, ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (cli_current_sub) {
        fprintf(stderr, "usage: ");
        command_name(stderr);
        fprintf(stderr, " %s\n", cli_current_sub->args);
    }
    return CLI_USAGE;
}

int cli_fail(const mops_err_t *err)
{
    if (cli_current_sub) {
        command_name(stderr);
        fprintf(stderr, ": %s\n", err->msg);
    } else {
        fprintf(stderr, "mops: %s\n", err->msg);
    }
    return CLI_FAIL;
}

int cli_command(const char *name, const cli_sub_t *cmd, int argc, char **argv)
{
    cli_current_group = name;
    cli_current_sub = cmd;
    optind = 0;
    cli_client_t c;
    mops_err_t err;
    if (cli_client_init(&c, &err) != 0)
        return cli_fail(&err);
    int rc = cmd->run(&c, argc, argv);
    cli_client_release(&c);
    return rc;
}

void cli_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) {
        puts(s);
        free(s);
    }
}

/* ---------------------------------------------------------------- tables */

struct cli_table {
    int ncols;
    size_t nrows, cap;
    char **cells; /* row-major, header first */
};

cli_table_t *cli_table_new(int ncols, ...)
{
    cli_table_t *t = mops_xcalloc(1, sizeof *t);
    t->ncols = ncols;
    va_list ap;
    va_start(ap, ncols);
    t->cap = 16;
    t->cells = mops_xcalloc(t->cap * (size_t)ncols, sizeof *t->cells);
    for (int i = 0; i < ncols; i++)
        t->cells[i] = mops_xstrdup(va_arg(ap, const char *));
    t->nrows = 1;
    va_end(ap);
    return t;
}

void cli_table_add(cli_table_t *t, ...)
{
    if (t->nrows == t->cap) {
        t->cap *= 2;
        t->cells = mops_xrealloc(t->cells, t->cap * (size_t)t->ncols * sizeof *t->cells);
    }
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = mops_xstrdup(s ? s : "-");
    }
    va_end(ap);
    t->nrows++;
}

void cli_table_print(cli_table_t *t)
{
    size_t *w = mops_xcalloc((size_t)t->ncols, sizeof *w);
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            size_t len = strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (len > w[c])
                w[c] = len;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == t->ncols - 1)
                printf("%s", s);
            else
                printf("%-*s  ", (int)w[c], s);
        }
        putchar('\n');
    }
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(w);
    free(t);
}

const char *cli_cell(const json_t *v, int slot)
{
    static char bufs[8][256];
    char *b = bufs[slot & 7];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING: snprintf(b, 256, "%s", *json_string_value(v) ? json_string_value(v) : "-"); break;
    case JSON_INTEGER: snprintf(b, 256, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(b, 256, "%.6g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(b, 256, "yes"); break;
    case JSON_FALSE: snprintf(b, 256, "no"); break;
    case JSON_NULL: snprintf(b, 256, "-"); break;
    default: {
        /* 10 digits for people; --json keeps every digit. */
        char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10));
        snprintf(b, 256, "%s", s ? s : "?");
        free(s);
    }
    }
    return b;
}

const char *cli_time(const json_t *v, int slot)
{
    const char *s = cli_cell(v, slot);
    static char bufs[8][32];
    if (strlen(s) < 16 || s[10] != 'T')
        return s;
    char *b = bufs[slot & 7];
    snprintf(b, 32, "%.10s %.5s", s, s + 11);
    return b;
}

int cli_get_pages(const cli_client_t *c, const char *path, int all, json_t **items, int *more,
                  mops_err_t *err)
{
    json_t *acc = json_array();
    char *page = NULL;
    int rc;
    *more = 0;
    for (;;) {
        char *p = page ? mops_xasprintf("%s%cpage_token=%s", path, strchr(path, '?') ? '&' : '?',
                                        page)
                       : mops_xstrdup(path);
        json_t *out = NULL;
        rc = cli_request(c, "GET", p, NULL, &out, err);
        free(p);
        free(page);
        page = NULL;
        if (rc == 0) {
            json_array_extend(acc, json_object_get(out, "items"));
            json_t *next = json_object_get(out, "next_page_token");
            if (json_is_string(next) && all)
                page = mops_xstrdup(json_string_value(next));
            else
                *more = json_is_string(next);
        }
        json_decref(out);
        if (!page)
            break;
    }
    if (rc != 0) {
        json_decref(acc);
        return rc;
    }
    *items = acc;
    return 0;
}

void cli_print_roles(const json_t *teams)
{
    const char *team;
    json_t *roles;
    json_object_foreach((json_t *)teams, team, roles) {
        printf("  %-20s", team);
        size_t i;
        json_t *r;
        json_array_foreach(roles, i, r) printf("%s%s", i ? ", " : "", json_string_value(r));
        putchar('\n');
    }
}

int cli_model_ref(const char *arg, char **team, char **model)
{
    const char *slash = strchr(arg, '/');
    if (!slash || slash == arg || !slash[1] || strchr(slash + 1, '/'))
        return MOPS_EINVAL;
    char *t = mops_xstrndup(arg, (size_t)(slash - arg));
    *team = cli_escape(t);
    *model = cli_escape(slash + 1);
    free(t);
    return 0;
}

int cli_ref_parse(const char *arg, const char *what, cli_ref_t *r)
{
    if (cli_model_ref(arg, &r->team, &r->name) != 0)
        return cli_usage_error("\"%s\" is not TEAM/%s", arg, what);
    return 0;
}

void cli_ref_release(cli_ref_t *r)
{
    free(r->team);
    free(r->name);
}

int cli_kv_add(json_t *obj, const char *arg, int as_string, const char *what)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_usage_error("%s \"%s\" must be KEY=VALUE", what, arg);
    char *key = mops_xstrndup(arg, (size_t)(eq - arg));
    json_t *v = as_string ? NULL : json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (v && (json_is_object(v) || json_is_array(v) || json_is_string(v))) {
        json_decref(v);
        v = NULL;
    }
    json_object_set_new(obj, key, v ? v : json_string(eq + 1));
    free(key);
    return 0;
}

char *cli_version_path(const char *model_arg, const char *version, const char *suffix)
{
    char *team, *model;
    if (cli_model_ref(model_arg, &team, &model) != 0) {
        cli_usage_error("\"%s\" is not TEAM/MODEL", model_arg);
        return NULL;
    }
    char *v = cli_escape(version);
    char *p = mops_xasprintf("/api/v1/models/%s/%s/versions/%s%s", team, model, v, suffix);
    free(v);
    free(team);
    free(model);
    return p;
}

int cli_version_download(const cli_client_t *c, int argc, char **argv, const char *collection,
                         const char *what, const char *suffix, const char *ext)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const char *output = NULL;
    int ch;
    while ((ch = cli_getopt(argc, argv, opts, cli_current_group, cli_current_sub)) != -1) {
        if (ch == 'o')
            output = optarg;
        else
            return CLI_USAGE;
    }
    cli_ref_t r;
    if (argc - optind != 2)
        return cli_usage_error("give TEAM/%s and VERSION", what);
    if (cli_ref_parse(argv[optind], what, &r) != 0)
        return CLI_USAGE;
    const char *slash = strchr(argv[optind], '/');
    char *file = output ? mops_xstrdup(output)
                        : mops_xasprintf("%s-%s%s", slash + 1, argv[optind + 1], ext);
    char *v = cli_escape(argv[optind + 1]);
    char *path = mops_xasprintf("/api/v1/%s/%s/%s/versions/%s%s", collection, r.team, r.name, v,
                                suffix);
    char sha[65];
    mops_err_t err;
    int rc = cli_download(c, path, file, sha, &err);
    if (rc == 0)
        printf("downloaded %s@%s to %s (sha256:%s verified)\n", argv[optind], argv[optind + 1],
               file, sha);
    free(v);
    free(path);
    free(file);
    cli_ref_release(&r);
    return rc ? cli_fail(&err) : CLI_OK;
}

void cli_print_rules(FILE *to, const json_t *evaluation)
{
    const json_t *rules = json_object_get(evaluation, "rules");
    if (!json_array_size(rules)) {
        fprintf(to, "no rule applies\n");
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        const char *st = json_string_value(json_object_get(r, "status"));
        json_t *idx = json_object_get(r, "index");
        char id[200];
        if (json_is_integer(idx))
            snprintf(id, sizeof id, "%s#%lld %s",
                     json_string_value(json_object_get(r, "policy")),
                     (long long)json_integer_value(idx),
                     json_string_value(json_object_get(r, "name")));
        else
            snprintf(id, sizeof id, "lifecycle %s", json_string_value(json_object_get(r, "name")));
        fprintf(to, "%-5s %-40s %s\n", st ? (strcmp(st, "pass") ? (strcmp(st, "fail") ? "FLAG"
                                                                                     : "FAIL")
                                                                  : "pass")
                                           : "?",
                id, json_string_value(json_object_get(r, "message")));
    }
}

int cli_write_text(const char *file, const char *text, mops_err_t *err)
{
    if (!file || !strcmp(file, "-")) {
        fputs(text, stdout);
        return 0;
    }
    FILE *f = fopen(file, "w");
    if (!f)
        return mops_err_set(err, MOPS_EIO, "cannot create '%s'", file);
    int ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : mops_err_set(err, MOPS_EIO, "cannot write '%s'", file);
}

int cli_show(const cli_client_t *c, const char *method, const char *path, const json_t *body,
             int json, void (*print)(const json_t *out))
{
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, method, path, body, &out, &err);
    if (rc == 0)
        json ? cli_print_json(out) : print(out);
    json_decref(out);
    return rc ? cli_fail(&err) : CLI_OK;
}
