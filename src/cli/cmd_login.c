/*
 * cmd_login.c — `mops login` saves the server address and a token in the
 * credentials file (mode 0600) after checking them; `mops whoami` shows who
 * a token belongs to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/fs.h"
#include "core/mem.h"

static const char login_help[] =
    "  URL                  server address (default: MOPS_URL, the saved one, or\n"
    "                       http://127.0.0.1:8080)\n"
    "  --token TOKEN        the API token (visible in the process list: prefer the two below)\n"
    "  --token-file FILE    read the token from FILE (e.g. DATA/admin-token)\n"
    "  (neither)            read the token from standard input, without echo on a terminal\n";

static const cli_sub_t login_sub = {"", "[URL] [--token TOKEN | --token-file FILE]",
                                    "Check a token against the server and save both in "
                                    "~/.config/mops/credentials.",
                                    login_help, NULL};

static char *read_token_stdin(void)
{
    struct termios old, quiet;
    int tty = isatty(0) && tcgetattr(0, &old) == 0;
    if (tty) {
        fprintf(stderr, "API token: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSANOW, &quiet);
    }
    char buf[512] = "";
    char *ok = fgets(buf, sizeof buf, stdin);
    if (tty) {
        tcsetattr(0, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    return mops_xstrdup(buf);
}

int cmd_login(int argc, char **argv)
{
    static const struct option opts[] = {
        {"token", required_argument, NULL, 't'},
        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {NULL, 0, NULL, 0},
    };
    cli_current_group = "login";
    cli_current_sub = &login_sub;
    char *token = NULL;
    const char *token_file = NULL;
    int ch;
    optind = 0;
    while ((ch = cli_getopt(argc, argv, opts, "login", &login_sub)) != -1) {
        if (ch == 't')
            token = mops_xstrdup(optarg);
        else if (ch == OPT_TOKEN_FILE)
            token_file = optarg;
        else
            return CLI_USAGE;
    }
    if (argc - optind > 1)
        return cli_usage_error("give at most one URL");
    mops_err_t err;
    if (token_file) {
        size_t len;
        free(token);
        if (mops_read_file(token_file, 4096, &token, &len, &err) != 0)
            return cli_fail(&err);
        token[strcspn(token, "\r\n")] = '\0';
    } else if (!token) {
        token = read_token_stdin();
    }
    if (!token || !*token) {
        free(token);
        return cli_usage_error("no token given");
    }
    cli_client_t c;
    cli_client_init(&c, &err);
    if (optind < argc) {
        free(c.url);
        c.url = mops_xstrdup(argv[optind]);
        size_t n = strlen(c.url);
        while (n && c.url[n - 1] == '/')
            c.url[--n] = '\0';
    }
    free(c.token);
    c.token = token;
    json_t *me = NULL;
    int rc = cli_request(&c, "GET", "/api/v1/whoami", NULL, &me, &err);
    if (rc == 0) {
        char *path = cli_credentials_path(), dir[4096];
        mops_dirname(path, dir, sizeof dir);
        char *text = mops_xasprintf("# mops credentials, written by 'mops login'\n"
                                    "url = %s\ntoken = %s\n",
                                    c.url, c.token);
        if ((rc = mops_mkdir_p(dir, 0700, &err)) == 0 &&
            (rc = mops_write_file_atomic(path, text, strlen(text), 0600, &err)) == 0)
            printf("logged in to %s as %s (saved in %s)\n", c.url,
                   json_string_value(json_object_get(me, "name")), path);
        memset(text, 0, strlen(text));
        free(text);
        free(path);
    }
    json_decref(me);
    cli_client_release(&c);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t whoami_sub = {"", "[--json]", "Show the user the token belongs to, with "
                                     "teams and roles.", "  --json   print JSON\n", NULL};

int cmd_whoami(int argc, char **argv)
{
    cli_current_group = "whoami";
    cli_current_sub = &whoami_sub;
    int json;
    optind = 0;
    if (cli_json_only(argc, argv, 0, 0, &json))
        return CLI_USAGE;
    cli_client_t c;
    mops_err_t err;
    cli_client_init(&c, &err);
    json_t *me = NULL;
    int rc = cli_request(&c, "GET", "/api/v1/whoami", NULL, &me, &err);
    if (rc == 0) {
        if (json) {
            cli_print_json(me);
        } else {
            printf("%s%s at %s\n", json_string_value(json_object_get(me, "name")),
                   json_is_true(json_object_get(me, "admin")) ? " (global admin)" : "", c.url);
            cli_print_roles(json_object_get(me, "teams"));
        }
    }
    json_decref(me);
    cli_client_release(&c);
    return rc ? cli_fail(&err) : CLI_OK;
}
