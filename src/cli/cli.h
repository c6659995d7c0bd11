/*
 * cli.h — the mops command line: git-style subcommands. Most talk to a
 * server over the HTTP API (cli/client.h); `server` runs one, and a few
 * (`predict`, `audit verify --data`) work on local files.
 *
 * Each subcommand is a function `int cmd_<name>(int argc, char **argv)`
 * (argv[0] is the subcommand's name) returning the process exit status:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 */
#ifndef MOPS_CLI_CLI_H
#define MOPS_CLI_CLI_H

#define MOPS_VERSION "0.1.0"

/* Exit statuses of every command. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Run the command line; returns the exit status. */
int cli_main(int argc, char **argv);

#endif
