/*
 * user.c - `vault user create|list|delete`: accounts from the command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "services/auth.h"

static const char usage[] =
    "Usage: vault user create --email EMAIL\n"
    "       vault user list\n"
    "       vault user delete --email EMAIL\n"
    "\n"
    "create reads the password from standard input (one line; prompted for,\n"
    "without echo, on a terminal), so it never shows in the process list.\n"
    "delete removes the account with all its notes.\n"
    "\n"
    "Options:\n"
    "  --email EMAIL  the account's e-mail address\n"
    "  -h, --help     show this help\n";

/* Reads one line of password from stdin into buf, without echo on a tty. */
static bool read_password(char *buf, size_t size)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fputs("Password: ", stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	bool ok = fgets(buf, (int)size, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ok)
		buf[strcspn(buf, "\r\n")] = '\0';
	return ok;
}

static int create(struct svc *svc, const char *email)
{
	char password[256];
	struct user u;
	struct verror err;
	if (!read_password(password, sizeof(password))) {
		fputs("vault: no password given on standard input\n", stderr);
		return EXIT_USAGE;
	}
	enum verr rc = auth_register(svc, email, password, &u, &err);
	explicit_bzero(password, sizeof(password));
	if (rc) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		return rc == VERR_INVALID ? EXIT_USAGE : 1;
	}
	printf("created user %lld <%s>\n", (long long)u.id, u.email);
	return 0;
}

static int list(struct svc *svc)
{
	struct user *users = NULL;
	size_t n = 0;
	struct verror err;
	if (auth_user_list(svc, &users, &n, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char when[TIME_ISO_LEN];
		time_format_iso(users[i].created_at, when);
		printf("%lld\t%s\t%s\n", (long long)users[i].id, users[i].email, when);
	}
	free(users);
	return 0;
}

static int remove_user(struct svc *svc, const char *email)
{
	struct user u;
	struct verror err;
	if (auth_user_find(svc, email, &u, &err) || auth_user_delete(svc, u.id, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		return 1;
	}
	printf("deleted user %lld <%s> and all their notes\n", (long long)u.id, u.email);
	return 0;
}

int cmd_user(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"email", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *email = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			email = optarg;
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
	bool needs_email = strcmp(action, "create") == 0 || strcmp(action, "delete") == 0;
	if ((!needs_email && strcmp(action, "list") != 0) || (needs_email && !email)) {
		fputs(usage, stderr);
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
	if (strcmp(action, "create") == 0)
		rc = create(&svc, email);
	else if (strcmp(action, "list") == 0)
		rc = list(&svc);
	else
		rc = remove_user(&svc, email);
	svc_cleanup(&svc);
out:
	store_close(st);
	config_free(&cfg);
	return rc;
}
