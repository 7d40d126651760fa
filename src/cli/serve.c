/*
 * serve.c - `vault serve`: migrate, then serve HTTP until SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/server.h"
#include "services/services.h"
#include "services/worker.h"

#define SHUTDOWN_GRACE_MS 30000

static const char usage[] =
    "Usage: vault serve [--host HOST] [--port PORT]\n"
    "\n"
    "Applies pending migrations and serves the API until SIGTERM or SIGINT,\n"
    "then finishes the requests in flight and exits 0.\n"
    "\n"
    "Options:\n"
    "  --host HOST   address to listen on (default: HOST, else 127.0.0.1)\n"
    "  --port PORT   port to listen on; 0 picks a free one (default: PORT, else 8000)\n"
    "  -h, --help    show this help\n";

/* The URL's scheme only: a database URL may hold a password. */
static json_t *scheme_of(const char *url)
{
	const char *p = strstr(url, "://");
	return p ? json_stringn(url, (size_t)(p - url)) : json_string("unknown");
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
	                                     {"port", required_argument, NULL, 'p'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0}};
	const char *host = NULL, *port = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (host)
		setenv("HOST", host, 1);
	if (port)
		setenv("PORT", port, 1);

	struct config cfg;
	struct verror err;
	struct svc svc = {0};
	struct http_server *srv = NULL;
	int status = 1, applied = 0;
	cli_load_config(&cfg);
	log_init(cfg.log_level, cfg.log_format, stdout);
	if (cfg.secret_key_generated)
		log_emit(LOG_WARNING, "secret_key_generated",
		         json_pack("{s:s}", "message",
		                   "SECRET_KEY is not set: using a random key for this run, so "
		                   "tokens end with the process. Set SECRET_KEY to keep them."));

	struct store *st = cli_open_store(&cfg);
	if (store_migrate_up(st, -1, &applied, &err) || store_schema_check(st, &err)) {
		log_emit(LOG_ERROR, "migration_failed",
		         json_pack("{s:s}", "error", verr_detail(&err)));
		goto out;
	}
	if (applied)
		log_emit(LOG_INFO, "migrations_applied", json_pack("{s:i}", "count", applied));
	if (svc_init(&svc, st, &cfg, &err)) {
		log_emit(LOG_ERROR, "startup_failed",
		         json_pack("{s:s}", "error", verr_detail(&err)));
		goto out;
	}

	/* Threads started from here on inherit the mask: only sigwait sees these. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((cfg.embed_worker && embed_worker_start(&svc, &err)) ||
	    http_server_start(&cfg, &svc, &srv, &err)) {
		log_emit(LOG_ERROR, "startup_failed",
		         json_pack("{s:s}", "error", verr_detail(&err)));
		goto out;
	}
	log_emit(LOG_INFO, "server_started",
	         json_pack("{s:s,s:i,s:s,s:o,s:s}", "host", cfg.host, "port", http_server_port(srv),
	                   "version", VAULT_VERSION, "database", scheme_of(cfg.database_url),
	                   "environment",
	                   cfg.environment == ENV_PRODUCTION ? "production" : "development"));

	int sig = 0;
	sigwait(&set, &sig);
	/* A second SIGTERM or Ctrl-C now ends the process at once. */
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	log_emit(LOG_INFO, "shutdown_started", json_pack("{s:s}", "signal", strsignal(sig)));
	http_server_stop(srv, SHUTDOWN_GRACE_MS);
	status = 0;
out:
	svc_cleanup(&svc);
	store_close(st);
	if (status == 0)
		log_emit(LOG_INFO, "server_stopped", NULL);
	config_free(&cfg);
	return status;
}
