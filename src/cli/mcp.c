/*
 * mcp.c - `vault mcp`: the Model Context Protocol over standard input and
 * output, for an agent on this machine (see api/mcp.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/mcp.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/log.h"
#include "services/auth.h"
#include "services/worker.h"

static const char usage[] =
    "Usage: VAULT_TOKEN=vault_pat_... vault mcp [--read-only]\n"
    "       vault mcp --user EMAIL [--read-only]\n"
    "\n"
    "Speaks the Model Context Protocol on standard input and output (one JSON-RPC\n"
    "message a line) for an agent on this machine: its tools search, read, list,\n"
    "create and update notes and ask questions of them.\n"
    "\n"
    "With VAULT_TOKEN (a personal access token: `vault token create`, or the web\n"
    "page's settings) it acts as the token's user with the token's scope: a read\n"
    "token is offered the reading tools only. The token is checked again for\n"
    "every message, so revoking it or its expiry stops the agent at once.\n"
    "--user EMAIL is for whoever runs the server, who can read the database\n"
    "anyway: it acts as EMAIL without a token. Not both.\n"
    "--read-only offers the reading tools only. Log lines go to standard error.\n"
    "Notes it writes are embedded by its own worker, as `vault serve` does.\n";

/*
 * Who the caller is now: the token's user and scope, checked again for each
 * message (a revoked or expired token stops working at once), or the --user
 * given. NULL and err set when the token no longer works.
 */
static const struct mcp_caller *caller(struct svc *svc, const char *token, bool read_only,
                                       struct mcp_caller *who, struct verror *err)
{
	struct auth_caller a;
	if (!token)
		return who;
	if (auth_authenticate(svc, token, &a, err))
		return NULL;
	*who = (struct mcp_caller){.user_id = a.user_id, .can_write = !a.read_only && !read_only};
	return who;
}

/* The answer to msg when the token no longer works: an error for a request, nothing else. */
static json_t *refused(json_t *msg, const struct verror *err)
{
	json_t *id = json_object_get(msg, "id");
	if (!json_object_get(msg, "method") || !(json_is_string(id) || json_is_integer(id)))
		return NULL;
	return json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id, "error", "code",
	                 -32001, "message", verr_detail(err));
}

static void answer(json_t *response)
{
	if (!response)
		return;
	char *text = json_dumps(response, JSON_COMPACT);
	if (text) {
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	free(text);
	json_decref(response);
}

int cmd_mcp(int argc, char **argv)
{
	static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
	                                     {"read-only", no_argument, NULL, 'r'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0}};
	const char *email = NULL;
	bool read_only = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			email = optarg;
			break;
		case 'r':
			read_only = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	const char *token = getenv("VAULT_TOKEN");
	if (token && !*token)
		token = NULL;
	if (!email == !token || optind != argc) {
		fputs(email ? "vault: --user and VAULT_TOKEN: give one, not both\n" : usage,
		      stderr);
		return EXIT_USAGE;
	}
	struct config cfg;
	struct svc svc;
	struct verror err;
	cli_svc_open(&cfg, &svc);
	struct mcp_caller who = {.can_write = !read_only};
	if (email)
		who.user_id = cli_user_id(&svc, email);
	else if (!caller(&svc, token, read_only, &who, &err)) {
		fprintf(stderr, "vault: VAULT_TOKEN: %s\n", verr_detail(&err));
		cli_svc_close(&cfg, &svc);
		return 1;
	}
	if (who.can_write && cfg.embed_worker && embed_worker_start(&svc, &err))
		log_emit(LOG_WARNING, "worker_not_started",
		         json_pack("{s:s}", "detail", verr_detail(&err)));

	/* A line at a time, within MCP_MESSAGE_MAX: a longer one is answered and skipped. */
	struct buf line;
	buf_init(&line, MCP_MESSAGE_MAX);
	bool too_long = false;
	char chunk[65536];
	ssize_t r;
	while ((r = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (r < 0)
			break;
		for (ssize_t i = 0, start = 0; i <= r; i++) {
			if (i < r && chunk[i] != '\n')
				continue;
			size_t n = (size_t)(i - start);
			if (!too_long && buf_add(&line, chunk + start, n))
				too_long = true;
			start = i + 1;
			if (i == r)
				break; /* the line goes on in the next read */
			if (too_long) {
				json_t *e = json_pack("{s:s,s:n,s:{s:i,s:s}}", "jsonrpc", "2.0",
				                      "id", "error", "code", -32700, "message",
				                      "message too large");
				answer(e);
			} else if (line.len) {
				json_t *msg =
				    json_loadb(line.p, line.len, JSON_REJECT_DUPLICATES, NULL);
				const struct mcp_caller *now =
				    caller(&svc, token, read_only, &who, &err);
				answer(now ? mcp_handle(&svc, &cfg, now, msg) : refused(msg, &err));
				json_decref(msg);
			}
			buf_reset(&line);
			too_long = false;
		}
	}
	buf_free(&line);
	cli_svc_close(&cfg, &svc);
	return 0;
}
