/*
 * cli.h - the `vault` command line: shared start-up for every command.
 */
#ifndef VAULT_CLI_CLI_H
#define VAULT_CLI_CLI_H

#include "core/config.h"
#include <stdint.h>

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

struct svc;

/*
 * For commands that use the services: config, database (migrated to the
 * latest version), providers. Prints why and exits on failure; undo with
 * cli_svc_close().
 */
void cli_svc_open(struct config *cfg, struct svc *svc);
void cli_svc_close(struct config *cfg, struct svc *svc);

/* The id of the user with email, or prints why and exits 1. */
int64_t cli_user_id(struct svc *svc, const char *email);

int cmd_serve(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_token(int argc, char **argv);

#endif
