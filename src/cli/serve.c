/*
 * serve.c - `vault serve`: migrate, then serve HTTP until SIGTERM or SIGINT;
 * `vault worker`: the embedding worker alone, for running apart from the
 * servers on a shared PostgreSQL.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/server.h"
#include "services/services.h"
#include "services/worker.h"

static const char usage[] =
    "Usage: vault serve [--host HOST] [--port PORT] [--no-worker]\n"
    "\n"
    "Applies pending migrations and serves the API until SIGTERM or SIGINT,\n"
    "then finishes the requests in flight and exits 0. Unless told not to, it\n"
    "also runs the embedding worker.\n"
    "\n"
    "Options:\n"
    "  --host HOST   address to listen on (default: HOST, else 127.0.0.1)\n"
    "  --port PORT   port to listen on; 0 picks a free one (default: PORT, else 8000)\n"
    "  --no-worker   leave embedding to `vault worker` processes (as EMBED_WORKER=false)\n"
    "  -h, --help    show this help\n";

static const char worker_usage[] =
    "Usage: vault worker\n"
    "\n"
    "Applies pending migrations and runs only the embedding worker until SIGTERM\n"
    "or SIGINT, then finishes its batch and exits 0. Any number of workers and\n"
    "servers may share one database: each chunk is embedded once.\n";

/* The URL's scheme only: a database URL may hold a password. */
static json_t *scheme_of(const char *url)
{
	const char *p = strstr(url, "://");
	return p ? json_stringn(url, (size_t)(p - url)) : json_string("unknown");
}

/* Opens the store at the latest schema and the services; false if either fails (logged). */
static bool open_services(struct config *cfg, struct svc *svc, struct store **st)
{
	struct verror err;
	int applied = 0;
	*st = cli_open_store(cfg);
	if (store_migrate_up(*st, -1, &applied, &err) || store_schema_check(*st, &err)) {
		log_emit(LOG_ERROR, "migration_failed",
		         json_pack("{s:s}", "error", verr_detail(&err)));
		return false;
	}
	if (applied)
		log_emit(LOG_INFO, "migrations_applied", json_pack("{s:i}", "count", applied));
	if (svc_init(svc, *st, cfg, &err)) {
		log_emit(LOG_ERROR, "startup_failed",
		         json_pack("{s:s}", "error", verr_detail(&err)));
		return false;
	}
	return true;
}

/*
 * SIGTERM and SIGINT reach a handler that writes to a pipe, and the main
 * thread waits on that pipe. Threads that libraries start before main (OpenBLAS
 * starts its own as it loads) leave the signals unblocked, so a signal may run
 * the handler on any of them; a sigwait in the main thread would miss those.
 */
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* the pipe is full: a signal is already waiting to be read */
	}
	errno = saved;
}

/*
 * Catches SIGTERM and SIGINT from here on, and blocks them in this thread and
 * in the threads it starts, so that only the wait in wait_signal() (or a
 * library's thread) takes them and no call of ours sees EINTR. A signal during
 * start-up is kept: the process starts, then stops at once.
 */
static void catch_signals(sigset_t *set)
{
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	if (pipe2(sig_pipe, O_CLOEXEC) || fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK)) {
		perror("vault: pipe");
		exit(1);
	}
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Waits for the first signal; a second one then ends the process at once. */
static void wait_signal(const sigset_t *set)
{
	sigset_t during;
	pthread_sigmask(SIG_BLOCK, NULL, &during);
	sigdelset(&during, SIGTERM);
	sigdelset(&during, SIGINT);
	struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
	unsigned char sig = 0;
	/* unblocked only inside ppoll: one left pending by start-up lands here */
	while (ppoll(&pfd, 1, NULL, &during) < 0 && errno == EINTR)
		;
	if (read(sig_pipe[0], &sig, 1) != 1)
		sig = SIGTERM;
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	pthread_sigmask(SIG_UNBLOCK, set, NULL);
	log_emit(LOG_INFO, "shutdown_started", json_pack("{s:s}", "signal", strsignal(sig)));
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
	                                     {"port", required_argument, NULL, 'p'},
	                                     {"no-worker", no_argument, NULL, 'W'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0}};
	bool no_worker = false;
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
		case 'W':
			no_worker = true;
			break;
		case 'h':
			fputs(usage, stdout);
			fputc('\n', stdout);
			config_help(stdout);
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
	struct store *st = NULL;
	struct http_server *srv = NULL;
	int status = 1;
	cli_load_config(&cfg);
	if (no_worker)
		cfg.embed_worker = false;
	log_init(cfg.log_level, cfg.log_format, stdout);
	if (cfg.secret_key_generated)
		log_emit(LOG_WARNING, "secret_key_generated",
		         json_pack("{s:s}", "message",
		                   "SECRET_KEY is not set: using a random key for this run, so "
		                   "tokens end with the process. Set SECRET_KEY to keep them."));

	sigset_t set;
	catch_signals(&set);
	if (!open_services(&cfg, &svc, &st))
		goto out;
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

	wait_signal(&set);
	http_server_stop(srv, cfg.shutdown_grace_seconds * 1000);
	status = 0;
out:
	svc_cleanup(&svc);
	store_close(st);
	if (status == 0)
		log_emit(LOG_INFO, "server_stopped", NULL);
	config_free(&cfg);
	return status;
}

int cmd_worker(int argc, char **argv)
{
	if (argc > 1) {
		bool help = strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0;
		fputs(worker_usage, help ? stdout : stderr);
		return help ? 0 : EXIT_USAGE;
	}
	struct config cfg;
	struct verror err;
	struct svc svc = {0};
	struct store *st = NULL;
	int status = 1;
	cli_load_config(&cfg);
	log_init(cfg.log_level, cfg.log_format, stdout);
	sigset_t set;
	catch_signals(&set);
	if (!open_services(&cfg, &svc, &st))
		goto out;
	if (embed_worker_start(&svc, &err)) {
		log_emit(LOG_ERROR, "startup_failed",
		         json_pack("{s:s}", "error", verr_detail(&err)));
		goto out;
	}
	log_emit(LOG_INFO, "worker_started",
	         json_pack("{s:s,s:o,s:s,s:i}", "version", VAULT_VERSION, "database",
	                   scheme_of(cfg.database_url), "model", cfg.embedding_model, "dim",
	                   cfg.embedding_dim));
	wait_signal(&set);
	status = 0;
out:
	svc_cleanup(&svc); /* stops the worker after its batch */
	store_close(st);
	if (status == 0)
		log_emit(LOG_INFO, "worker_stopped", NULL);
	config_free(&cfg);
	return status;
}
