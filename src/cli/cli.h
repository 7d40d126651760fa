/*
 * cli.h - the `vault` command line: shared start-up for every command.
 */
#ifndef VAULT_CLI_CLI_H
#define VAULT_CLI_CLI_H

#include "core/config.h"
#include "store/store.h"

/* Exit statuses: 2 for usage and configuration errors, as the shell does. */
#define EXIT_USAGE 2

/*
 * Loads the configuration (environment over ./.env) and sets up logging to
 * stderr for commands other than serve. On a bad value prints one line and
 * exits with EXIT_USAGE.
 */
void cli_load_config(struct config *cfg);

/* Opens the database named by DATABASE_URL, or prints why and exits 1. */
struct store *cli_open_store(const struct config *cfg);

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_user(int argc, char **argv);

#endif
