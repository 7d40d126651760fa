/*
 * token.c - `vault token create|list|revoke`: a user's personal access
 * tokens from the command line, for whoever runs the server (the web
 * page's settings and /api/v1/tokens do the same for the user).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "services/auth.h"

static const char usage[] =
    "Usage: vault token create --user EMAIL --name NAME [--scope read|write] [--expires-days N]\n"
    "       vault token list --user EMAIL\n"
    "       vault token revoke --user EMAIL ID\n"
    "\n"
    "create prints the new token alone on standard output (its details go to\n"
    "standard error): it is shown this once and stored only as a hash. A read\n"
    "token reads and searches notes; a write token also changes them. Neither\n"
    "manages tokens or the account. Send it as Authorization: Bearer <token>, or\n"
    "give it to `vault mcp` as VAULT_TOKEN.\n"
    "list shows id, name, scope, created, last used and expiry (never the token).\n"
    "revoke deletes the token with that id: it stops working at once.\n"
    "\n"
    "Options:\n"
    "  --user EMAIL      the account the token belongs to\n"
    "  --name NAME       what the token is for, 1-100 bytes\n"
    "  --scope SCOPE     read (the default) or write\n"
    "  --expires-days N  expires after N days (1-3650); never if left out\n"
    "  -h, --help        show this help\n";

/* A time for people, or what stands for none. */
static const char *when(int64_t ms, const char *none, char buf[TIME_ISO_LEN])
{
	if (!ms)
		return none;
	time_format_iso(ms, buf);
	return buf;
}

static int create(struct svc *svc, int64_t user_id, const char *name, bool write, int64_t days)
{
	struct api_token t;
	struct verror err;
	char *secret, buf[TIME_ISO_LEN];
	enum verr rc = auth_token_create(svc, user_id, name, write, days, &t, &secret, &err);
	if (rc) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		return rc == VERR_INVALID ? EXIT_USAGE : 1;
	}
	fprintf(stderr, "created token %lld \"%s\" (%s), expires %s; it is shown only now:\n",
	        (long long)t.id, t.name, write ? "write" : "read",
	        when(t.expires_at, "never", buf));
	printf("%s\n", secret);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	return 0;
}

static int list(struct svc *svc, int64_t user_id)
{
	struct api_token *tokens;
	size_t n;
	struct verror err;
	if (auth_token_list(svc, user_id, &tokens, &n, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char created[TIME_ISO_LEN], used[TIME_ISO_LEN], expires[TIME_ISO_LEN];
		printf("%lld\t%s\t%s\t%s\t%s\t%s\n", (long long)tokens[i].id, tokens[i].name,
		       tokens[i].write ? "write" : "read", when(tokens[i].created_at, "", created),
		       when(tokens[i].last_used_at, "never used", used),
		       when(tokens[i].expires_at, "never expires", expires));
	}
	free(tokens);
	return 0;
}

static int revoke(struct svc *svc, int64_t user_id, const char *id_text)
{
	struct verror err;
	char *end;
	errno = 0;
	long long id = strtoll(id_text, &end, 10);
	if (errno || *end || id <= 0) {
		fprintf(stderr, "vault: %s: not a token id (see vault token list)\n", id_text);
		return EXIT_USAGE;
	}
	if (auth_token_revoke(svc, user_id, id, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		return 1;
	}
	printf("revoked token %lld\n", id);
	return 0;
}

int cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"user", required_argument, NULL, 'u'},  {"name", required_argument, NULL, 'n'},
	    {"scope", required_argument, NULL, 's'}, {"expires-days", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},        {0}};
	const char *email = NULL, *name = NULL, *scope = "read";
	long long days = 0;
	char *end;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			email = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 's':
			scope = optarg;
			break;
		case 'e':
			errno = 0;
			days = strtoll(optarg, &end, 10);
			if (errno || *end || days < 1 || days > AUTH_TOKEN_DAYS_MAX) {
				fprintf(stderr,
				        "vault: --expires-days: a whole number from 1 to %d\n",
				        AUTH_TOKEN_DAYS_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	const char *action = optind < argc ? argv[optind] : "";
	int args = argc - optind - 1; /* after the action */
	bool ok = email && ((strcmp(action, "create") == 0 && name && args == 0) ||
	                    (strcmp(action, "list") == 0 && args == 0) ||
	                    (strcmp(action, "revoke") == 0 && args == 1));
	if (!ok) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(scope, "read") != 0 && strcmp(scope, "write") != 0) {
		fputs("vault: --scope: read or write\n", stderr);
		return EXIT_USAGE;
	}

	struct config cfg;
	struct svc svc;
	struct verror err;
	int rc = 1;
	cli_load_config(&cfg);
	struct store *st = cli_open_store(&cfg);
	if (store_schema_check(st, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		goto out;
	}
	if (svc_init(&svc, st, &cfg, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		goto out;
	}
	int64_t user_id = cli_user_id(&svc, email);
	if (strcmp(action, "create") == 0)
		rc = create(&svc, user_id, name, strcmp(scope, "write") == 0, days);
	else if (strcmp(action, "list") == 0)
		rc = list(&svc, user_id);
	else
		rc = revoke(&svc, user_id, argv[optind + 1]);
	svc_cleanup(&svc);
out:
	store_close(st);
	config_free(&cfg);
	return rc;
}
