/*
 * cmd.h — internal to the CLI: the subcommand table, subcommand groups
 * (`mops model create|list|...`), and the helpers commands share for
 * output (tables for people, --json for programs) and errors.
 */
#ifndef MOPS_CLI_CMD_H
#define MOPS_CLI_CMD_H

#include <getopt.h>
#include <jansson.h>

#include "cli/client.h"
#include "core/error.h"

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_cmd_t;

/* One line per subcommand, in the order `mops --help` lists them. */
#define CLI_COMMANDS                                                                              \
    {"server", "run the mops server", cmd_server},                                                \
    {"login", "save the server address and your API token", cmd_login},                          \
    {"whoami", "show who the saved token belongs to", cmd_whoami},                               \
    {"team", "create teams and manage their members", cmd_team},                                 \
    {"user", "create, list and disable users", cmd_user},                                        \
    {"token", "create, list and revoke API tokens", cmd_token},                                  \
    {"model", "register, list, update and archive models", cmd_model},                           \
    {"version", "upload, list, download and alias model versions", cmd_version},                 \
    {"review", "request, approve and reject reviews of versions", cmd_review},                   \
    {"policy", "policies as code: create, change, check versions against them", cmd_policy},     \
    {"validate", "measure a version on a holdout file, scored by mops", cmd_validate},           \
    {"card", "show and edit a version's model card", cmd_card},                                  \
    {"report", "compliance reports of a model or the whole inventory", cmd_report},              \
    {"webhook", "a team's webhooks and their delivery log", cmd_webhook},                        \
    {"audit", "read and verify the audit trail", cmd_audit},                                     \
    {"data", "register, profile, validate and download datasets", cmd_data},                     \
    {"lineage", "trace data to models and deployments, and back", cmd_lineage},                  \
    {"deploy", "create, change, roll back and delete deployments", cmd_deploy},                  \
    {"job", "score a CSV on the server: submit, follow and download batch jobs", cmd_job},     \
    {"predict", "score a CSV file with a model file, locally", cmd_predict},                     \
    {"monitor", "drift, performance and service reports, reference profiles, alerts", cmd_monitor}, \
    {"labels", "post ground truth for a deployment's predictions", cmd_labels},                 \
    {"costs", "measured usage and cost per team, model and deployment; FOCUS export", cmd_costs}, \
    {"kpis", "the ModelOps KPIs per team and for the organisation", cmd_kpis},                   \
    {"budget", "monthly budgets of teams and models, and their alerts", cmd_budget},            \
    {"prices", "the price sheet costs are computed with", cmd_prices},                          \
    {"value", "business value of models: declared per prediction, or posted", cmd_value},

int cmd_server(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_team(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_lineage(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_labels(int argc, char **argv);
int cmd_review(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_webhook(int argc, char **argv);
int cmd_costs(int argc, char **argv);
int cmd_kpis(int argc, char **argv);
int cmd_budget(int argc, char **argv);
int cmd_prices(int argc, char **argv);
int cmd_value(int argc, char **argv);

/* `mops version transition|promote|retire|history` (cmd_lifecycle.c). */
int cmd_version_transition(cli_client_t *c, int argc, char **argv);
int cmd_version_promote(cli_client_t *c, int argc, char **argv);
int cmd_version_retire(cli_client_t *c, int argc, char **argv);
int cmd_version_history(cli_client_t *c, int argc, char **argv);

/* ------------------------------------------------------ subcommand groups */

typedef struct cli_sub {
    const char *name;
    const char *args;    /* "TEAM/MODEL [options]" */
    const char *summary; /* one line */
    const char *help;    /* option lines, or NULL */
    int (*run)(cli_client_t *c, int argc, char **argv); /* argv[0] is the sub name */
} cli_sub_t;

/* Dispatch `mops <group> <sub> ...`, handling --help at both levels and
 * connecting the client. Returns the exit status. */
int cli_group(const char *group, const char *summary, const cli_sub_t *subs, int argc,
              char **argv);

/* Run a command that has no subcommands (`mops validate ...`) as cli_group
 * runs a subcommand: cmd->name is "" and argv[0] the command. */
int cli_command(const char *name, const cli_sub_t *cmd, int argc, char **argv);

/* Print the usage of one subcommand (to stdout for --help, stderr for
 * mistakes). */
void cli_sub_usage(FILE *f, const char *group, const cli_sub_t *sub);

/* Parse options of a subcommand. Handles -h/--help (exit status 0 via
 * *done) and reports unknown options. Returns the option char, -1 at the
 * end, or '?' after printing an error (the caller returns CLI_USAGE). */
int cli_getopt(int argc, char **argv, const struct option *opts, const char *group,
               const cli_sub_t *sub);

/* Values of long-only options (no short letter). */
enum { OPT_JSON = 1000, OPT_ALL, OPT_DELETE, OPT_ADMIN, OPT_NO_ADMIN, OPT_DISABLE, OPT_ENABLE,
       OPT_ARCHIVED, OPT_DATA, OPT_DB, OPT_EXPIRES_IN_DAYS, OPT_EXPIRES_AT, OPT_TOKEN_FILE,
       OPT_SOURCE_URI, OPT_SOURCE_COMMIT, OPT_FRAMEWORK_VERSION, OPT_PARAMS_FILE, OPT_DISPLAY,
       OPT_PAGE_TOKEN, OPT_SCHEMA, OPT_COLUMN_TAG, OPT_DOT, OPT_APPROVE, OPT_REASON,
       OPT_REPLACEMENT, OPT_DEPRECATE_OTHERS, OPT_COMMENT, OPT_STAGE, OPT_LIST, OPT_SHOW,
       OPT_HTML, OPT_INVENTORY, OPT_SOURCE, OPT_SECRET_FILE, OPT_MAX_ATTEMPTS, OPT_BACKOFF_MS,
       OPT_ENABLE_HOOK, OPT_DISABLE_HOOK, OPT_NO_SECRET };

/* For subcommands whose only option is --json: parse, then check that
 * between min and max positional arguments remain (from argv[optind]).
 * Returns 0, or CLI_USAGE after printing why. */
int cli_json_only(int argc, char **argv, int min, int max, int *json);

/* The current subcommand, set by cli_group for cli_usage_error. */
extern const char *cli_current_group;
extern const cli_sub_t *cli_current_sub;

/* Print "mops <group> <sub>: <message>" and return CLI_USAGE / CLI_FAIL. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail(const mops_err_t *err);

/* --------------------------------------------------------------- output */

/* Pretty JSON on stdout. */
void cli_print_json(const json_t *v);

/* A table for people: add rows of strings, print with aligned columns. */
typedef struct cli_table cli_table_t;
cli_table_t *cli_table_new(int ncols, ...);
void cli_table_add(cli_table_t *t, ...); /* ncols const char * */
void cli_table_print(cli_table_t *t);    /* and frees */

/* A JSON value as short text for a table cell ("-" for null/missing). The
 * string is valid until the next call with the same slot (0..7). */
const char *cli_cell(const json_t *v, int slot);
/* "2026-11-23T01:38:05.768Z" -> "2026-11-23 01:38". */
const char *cli_time(const json_t *v, int slot);

/* GET a list endpoint (path already has its query string) and gather the
 * items of every page into *items (a new array), or of the first page only
 * when !all (then *more says whether pages were left). */
int cli_get_pages(const cli_client_t *c, const char *path, int all, json_t **items, int *more,
                  mops_err_t *err);

/* Print a {"team": ["role", ...]} object as indented lines. */
void cli_print_roles(const json_t *teams);

/* Split "TEAM/MODEL" into escaped path segments (heap strings). */
int cli_model_ref(const char *arg, char **team, char **model);

/* A TEAM/NAME argument, escaped for paths; release with cli_ref_release. */
typedef struct {
    char *team, *name;
} cli_ref_t;

/* Parse arg into *r, or print the usage error "\"arg\" is not TEAM/<what>"
 * and return CLI_USAGE. */
int cli_ref_parse(const char *arg, const char *what, cli_ref_t *r);
void cli_ref_release(cli_ref_t *r);

/* "/api/v1/models/T/M/versions/V<suffix>" from a TEAM/MODEL argument and
 * a version reference (a heap string), or NULL after a usage error. */
char *cli_version_path(const char *model_arg, const char *version, const char *suffix);

/* `download TEAM/NAME VERSION [-o FILE]`: fetch
 * /api/v1/<collection>/TEAM/NAME/versions/VERSION<suffix> into FILE
 * (default NAME-VERSION<ext>), its SHA-256 verified; what names NAME in
 * usage errors ("DATASET", "MODEL"). Returns the exit status. */
int cli_version_download(const cli_client_t *c, int argc, char **argv, const char *collection,
                         const char *what, const char *suffix, const char *ext);

/* Send method path (body may be NULL) and show the answer: as JSON when
 * json is set, else with print. Returns the exit status (the error printed
 * on failure). */
int cli_show(const cli_client_t *c, const char *method, const char *path, const json_t *body,
             int json, void (*print)(const json_t *out));

/* Print an evaluation's rules as a table: status, policy, rule, message;
 * and its flags. to is stdout or stderr. */
void cli_print_rules(FILE *to, const json_t *evaluation);

/* Write text to file (or stdout for NULL or "-"). */
int cli_write_text(const char *file, const char *text, mops_err_t *err);

/* Parse "KEY=VALUE" into obj[KEY]: VALUE as JSON when it parses as a
 * number, boolean or null, and as a string otherwise (or always a string
 * when as_string). */
int cli_kv_add(json_t *obj, const char *arg, int as_string, const char *what);

#endif
