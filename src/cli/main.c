/*
 * main.c (cli) — the table of subcommands, top-level help and dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd.h"

static const cli_cmd_t commands[] = {
    CLI_COMMANDS
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mops [--version] [--help] <command> [<args>]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n'mops <command> --help' describes a command.\n"
            "Where the server is and who you are: MOPS_URL and MOPS_TOKEN, or the file\n"
            "~/.config/mops/credentials written by 'mops login'.\n");
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version")) {
        printf("mops %s\n", MOPS_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mops: '%s' is not a mops command; see 'mops --help'\n", name);
    return CLI_USAGE;
}
