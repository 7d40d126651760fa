/*
 * reindex.c - `vault reindex`: embed every chunk again, with a progress bar.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "services/worker.h"

static const char usage[] =
    "Usage: vault reindex [--user EMAIL]\n"
    "\n"
    "Marks every chunk of every note (or of EMAIL's notes) for embedding and\n"
    "embeds them now with the configured provider, e.g. after changing\n"
    "EMBEDDING_MODEL. Search keeps answering meanwhile: notes not embedded yet\n"
    "are found by their words. Chunks that fail are left to the worker's retries.\n";

static void progress(size_t done, size_t total)
{
	if (!isatty(STDERR_FILENO))
		return;
	int width = 40, filled = total ? (int)((double)done / (double)total * width) : width;
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu chunks", filled,
	        "########################################", width - filled, "", done, total);
	fflush(stderr);
}

int cmd_reindex(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"user", required_argument, NULL, 'u'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *email = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
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
	if (optind != argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}

	struct config cfg;
	struct svc svc;
	struct verror err;
	int64_t total = 0;
	size_t done = 0, failed = 0;
	int rc = 0;
	cli_svc_open(&cfg, &svc);
	int64_t uid = email ? cli_user_id(&svc, email) : 0;
	if (embed_reindex(&svc, uid, &total, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		rc = 1;
		goto out;
	}
	progress(0, (size_t)total);
	for (;;) {
		size_t embedded, nfailed;
		if (embed_worker_run_once(&svc, &embedded, &nfailed, &err)) {
			fprintf(stderr, "\nvault: %s\n", verr_detail(&err));
			rc = 1;
			goto out;
		}
		if (embedded + nfailed == 0)
			break;
		done += embedded + nfailed;
		failed += nfailed;
		progress(done < (size_t)total ? done : (size_t)total, (size_t)total);
	}
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	const char *model;
	int dim;
	svc_embedding_model(&svc, &model, &dim);
	printf("reindexed %zu chunks with %s (%d dimensions)", done - failed, model, dim);
	if (failed)
		printf("; %zu failed and will be retried by the worker", failed);
	puts("");
	rc = failed ? 1 : 0;
out:
	cli_svc_close(&cfg, &svc);
	return rc;
}
