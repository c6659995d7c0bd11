/*
 * cmd_server.c — `mops server`: placeholder until the server module lands.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cmd.h"

int cmd_server(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mops server: not built yet\n");
    return CLI_FAIL;
}
