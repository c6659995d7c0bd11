/*
 * cmd.h — internal to the CLI: the subcommand table entry, the list of
 * subcommands, and the helpers they share.
 */
#ifndef MOPS_CLI_CMD_H
#define MOPS_CLI_CMD_H

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_cmd_t;

/* One line per subcommand, in the order `mops --help` lists them. */
#define CLI_COMMANDS                                                               \
    {"server", "run the mops server", cmd_server},                                 \
    {"predict", "score a CSV file with a model file, locally", cmd_predict},

int cmd_server(int argc, char **argv);
int cmd_predict(int argc, char **argv);

#endif
