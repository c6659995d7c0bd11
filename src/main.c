/*
 * main.c — the mops binary: every subcommand, the server included, is
 * dispatched by the CLI module.
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
