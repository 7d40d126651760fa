/*
 * migrate.c - `vault migrate up|down|status`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/timeutil.h"

static const char usage[] =
    "Usage: vault migrate up [--to VERSION]\n"
    "       vault migrate down [--to VERSION]\n"
    "       vault migrate status\n"
    "\n"
    "up applies pending migrations (all, or up to VERSION); down reverts the\n"
    "latest one (or all above VERSION; --to 0 reverts everything); status\n"
    "lists every migration and whether it is applied. DATABASE_URL names the\n"
    "database.\n"
    "\n"
    "Options:\n"
    "  --to VERSION  stop at this version\n"
    "  -h, --help    show this help\n";

static int status_cmd(struct store *st)
{
	struct migration_info *m = NULL;
	size_t n = 0;
	struct verror err;
	if (store_migrate_status(st, &m, &n, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		return 1;
	}
	printf("%-8s %-24s %s\n", "VERSION", "NAME", "APPLIED");
	for (size_t i = 0; i < n; i++) {
		char when[TIME_ISO_LEN] = "no";
		if (m[i].applied_at)
			time_format_iso(m[i].applied_at, when);
		printf("%-8d %-24s %s\n", m[i].version, m[i].name, when);
	}
	free(m);
	return 0;
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'}, {0}};
	int target = -1, c;
	char *end;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			target = (int)strtol(optarg, &end, 10);
			if (*end || !*optarg || target < 0) {
				fprintf(stderr, "vault: --to takes a version number, got '%s'\n",
				        optarg);
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
	const char *action = optind < argc ? argv[optind] : NULL;
	if (!action ||
	    (strcmp(action, "up") && strcmp(action, "down") && strcmp(action, "status"))) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}

	struct config cfg;
	struct verror err;
	int steps = 0, rc = 0;
	cli_load_config(&cfg);
	struct store *st = cli_open_store(&cfg);
	if (strcmp(action, "status") == 0) {
		rc = status_cmd(st);
	} else if (strcmp(action, "up") == 0) {
		if (store_migrate_up(st, target, &steps, &err)) {
			fprintf(stderr, "vault: migrate up failed: %s\n", verr_detail(&err));
			rc = 1;
		} else {
			printf("applied %d migration%s\n", steps, steps == 1 ? "" : "s");
		}
	} else {
		if (store_migrate_down(st, target, &steps, &err)) {
			fprintf(stderr, "vault: migrate down failed: %s\n", verr_detail(&err));
			rc = 1;
		} else {
			printf("reverted %d migration%s\n", steps, steps == 1 ? "" : "s");
		}
	}
	store_close(st);
	config_free(&cfg);
	return rc;
}
