/*
 * cmd_server.c — `mops server`: parse the configuration and run the server.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "server/server.h"

int cmd_server(int argc, char **argv)
{
    server_config_t cfg;
    mops_err_t err;
    int rc = server_config_load(&cfg, argc, argv, &err);
    if (rc == 1)
        return CLI_OK;
    if (rc != 0) {
        fprintf(stderr, "mops server: %s\n", err.msg);
        return CLI_USAGE;
    }
    rc = server_run(&cfg, &err);
    server_config_release(&cfg);
    if (rc != 0) {
        fprintf(stderr, "mops server: %s\n", err.msg);
        return CLI_FAIL;
    }
    return CLI_OK;
}
