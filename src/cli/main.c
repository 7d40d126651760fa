/*
 * main.c - `vault COMMAND ...`: dispatch to the commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/openapi.h"
#include "cli/cli.h"
#include "core/log.h"
#include "services/auth.h"
#include "services/pdf.h"

static const char usage[] =
    "Usage: vault COMMAND [OPTIONS]\n"
    "\n"
    "A personal knowledge vault: notes you find again by meaning.\n"
    "\n"
    "Commands:\n"
    "  serve      run the HTTP API (migrates the database first)\n"
    "  worker     run only the embedding worker\n"
    "  migrate    apply, revert or list database migrations\n"
    "  user       create, list or delete accounts\n"
    "  token      create, list or revoke a user's personal access tokens\n"
    "  search     search a user's notes\n"
    "  ask        answer a question from a user's notes\n"
    "  reindex    embed every note again (e.g. after a model change)\n"
    "  mcp        serve an agent on this machine (Model Context Protocol, stdio)\n"
    "  import     import a folder of Markdown files (an Obsidian vault), once or\n"
    "             watching it\n"
    "  export     write a user's notes to a folder as Markdown files\n"
    "  pdf-text   print the text of the PDF on standard input, pages separated by\n"
    "             form feeds\n"
    "  eval       measure search quality on a labelled set\n"
    "  embed      print the vectors the embedder gives texts\n"
    "  openapi    print the API's OpenAPI document (GET /openapi.json)\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help\n"
    "  -V, --version  print the version\n"
    "\n"
    "Run `vault COMMAND --help` for a command's options.\n";

extern char **environ;

void cli_load_config(struct config *cfg)
{
	struct verror err;
	if (config_load(cfg, environ, ".env", &err)) {
		fprintf(stderr, "vault: config error: %s\n", verr_detail(&err));
		exit(EXIT_USAGE);
	}
	log_init(cfg->log_level, cfg->log_format, stderr);
}

struct store *cli_open_store(const struct config *cfg)
{
	struct verror err;
	struct store *st = NULL;
	struct store_opts opts = {
	    .echo = cfg->database_echo,
	    .busy_timeout_ms = 5000,
	    .embedding_dim = cfg->embedding_dim,
	    .pool_size = cfg->db_pool_size,
	    .max_overflow = cfg->db_max_overflow,
	    .pool_timeout_ms = cfg->db_pool_timeout_seconds * 1000,
	    .statement_timeout_ms = cfg->db_statement_timeout_seconds * 1000,
	};
	if (store_open(cfg->database_url, &opts, &st, &err)) {
		fprintf(stderr, "vault: cannot open the database: %s\n", verr_detail(&err));
		exit(1);
	}
	return st;
}

void cli_svc_open(struct config *cfg, struct svc *svc)
{
	struct verror err;
	int applied;
	cli_load_config(cfg);
	struct store *st = cli_open_store(cfg);
	if (store_migrate_up(st, -1, &applied, &err) || svc_init(svc, st, cfg, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		exit(1);
	}
}

void cli_svc_close(struct config *cfg, struct svc *svc)
{
	struct store *st = svc->store;
	svc_cleanup(svc);
	store_close(st);
	config_free(cfg);
}

int64_t cli_user_id(struct svc *svc, const char *email)
{
	struct user u;
	struct verror err;
	if (auth_user_find(svc, email, &u, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		exit(1);
	}
	return u.id;
}

int main(int argc, char **argv)
{
	/* The database and its journal hold hashes and every note: owner only. */
	umask(077);
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		fputc('\n', stdout);
		config_help(stdout);
		return 0;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		printf("vault %s\n", VAULT_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "worker") == 0)
		return cmd_worker(argc - 1, argv + 1);
	if (strcmp(cmd, "migrate") == 0)
		return cmd_migrate(argc - 1, argv + 1);
	if (strcmp(cmd, "user") == 0)
		return cmd_user(argc - 1, argv + 1);
	if (strcmp(cmd, "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	if (strcmp(cmd, "search") == 0)
		return cmd_search(argc - 1, argv + 1);
	if (strcmp(cmd, "ask") == 0)
		return cmd_ask(argc - 1, argv + 1);
	if (strcmp(cmd, "mcp") == 0)
		return cmd_mcp(argc - 1, argv + 1);
	if (strcmp(cmd, "reindex") == 0)
		return cmd_reindex(argc - 1, argv + 1);
	if (strcmp(cmd, "pdf-text") == 0)
		return pdf_text_main(argc == 4 && strcmp(argv[2], "--cpu") == 0 ? atoi(argv[3])
		                                                                : 0);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(argc - 1, argv + 1);
	if (strcmp(cmd, "import") == 0)
		return cmd_import(argc - 1, argv + 1);
	if (strcmp(cmd, "eval") == 0)
		return cmd_eval(argc - 1, argv + 1);
	if (strcmp(cmd, "embed") == 0)
		return cmd_embed(argc - 1, argv + 1);
	if (strcmp(cmd, "openapi") == 0) {
		json_t *doc = api_openapi();
		int rc = json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 && puts("") >= 0 ? 0 : 1;
		json_decref(doc);
		return rc;
	}
	fprintf(stderr, "vault: unknown command '%s'\n\n%s", cmd, usage);
	return EXIT_USAGE;
}
