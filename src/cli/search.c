/*
 * search.c - `vault search` and `vault ask`: the search and answer services
 * from the command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "services/rag.h"
#include "services/search.h"

#define TAGS_MAX 32

static const char search_usage[] =
    "Usage: vault search --user EMAIL [--mode hybrid|semantic|keyword] [--top-k N]\n"
    "                    [--tag TAG]... [--min-similarity X] QUERY\n"
    "\n"
    "Searches the notes of the user EMAIL, as GET /api/v1/search does.\n";

static const char ask_usage[] =
    "Usage: vault ask --user EMAIL [--top-k N] [--tag TAG]... QUESTION\n"
    "\n"
    "Answers QUESTION from the notes of the user EMAIL, streaming the\n"
    "answer, then lists the notes it cites.\n";

struct opts {
	const char *user;
	const char *mode;
	long top_k;
	const char *tags[TAGS_MAX];
	size_t ntags;
	double min_similarity;
	const char *text;
};

/* Parses the options shared by search and ask; returns -1 to go on, else an exit status. */
static int parse(int argc, char **argv, const char *usage, struct opts *o)
{
	static const struct option longopts[] = {{"user", required_argument, NULL, 'u'},
	                                         {"mode", required_argument, NULL, 'm'},
	                                         {"top-k", required_argument, NULL, 'k'},
	                                         {"tag", required_argument, NULL, 't'},
	                                         {"min-similarity", required_argument, NULL, 's'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {0}};
	char *end;
	int c;
	*o = (struct opts){.top_k = SEARCH_TOP_K_DEFAULT, .min_similarity = -1};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			o->user = optarg;
			break;
		case 'm':
			o->mode = optarg;
			break;
		case 'k':
			o->top_k = strtol(optarg, &end, 10);
			if (*end || o->top_k < 1 || o->top_k > SEARCH_TOP_K_MAX) {
				fprintf(stderr, "vault: --top-k must be 1-%d\n", SEARCH_TOP_K_MAX);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (o->ntags < TAGS_MAX)
				o->tags[o->ntags++] = optarg;
			break;
		case 's':
			o->min_similarity = strtod(optarg, &end);
			if (*end || !(o->min_similarity >= 0 && o->min_similarity <= 1)) {
				fputs("vault: --min-similarity must be a number from 0 to 1\n",
				      stderr);
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
	if (!o->user || optind != argc - 1) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	o->text = argv[optind];
	return -1;
}

int cmd_search(int argc, char **argv)
{
	struct opts o;
	struct search_query q;
	int rc = parse(argc, argv, search_usage, &o);
	if (rc >= 0)
		return rc;
	q = (struct search_query){.text = o.text,
	                          .top_k = (size_t)o.top_k,
	                          .tags = o.tags,
	                          .ntags = o.ntags,
	                          .min_similarity = o.min_similarity};
	if (o.mode && !search_mode_parse(o.mode, &q.mode)) {
		fputs("vault: --mode must be hybrid, semantic or keyword\n", stderr);
		return EXIT_USAGE;
	}

	struct config cfg;
	struct svc svc;
	struct search_result r;
	struct verror err;
	cli_svc_open(&cfg, &svc);
	int64_t uid = cli_user_id(&svc, o.user);
	rc = 0;
	if (search_run(&svc, uid, &q, &r, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		rc = 1;
	} else {
		if (r.fallback)
			fprintf(stderr, "vault: keyword matches only (%s)\n", r.fallback);
		if (r.n == 0)
			puts("No matching notes.");
		for (size_t i = 0; i < r.n; i++)
			printf("%zu. %s  (#%lld, match %.0f%%)\n   %s\n", i + 1,
			       r.hits[i].note.title, (long long)r.hits[i].note.id,
			       r.hits[i].similarity * 100, r.hits[i].excerpt);
		search_result_free(&r);
	}
	cli_svc_close(&cfg, &svc);
	return rc;
}

static int print_delta(void *ctx, const char *text, size_t len)
{
	(void)ctx;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	return 0;
}

int cmd_ask(int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, ask_usage, &o);
	if (rc >= 0)
		return rc;
	struct ask_request req = {o.text, (size_t)o.top_k, o.tags, o.ntags};
	struct config cfg;
	struct svc svc;
	struct ask_result a;
	struct verror err;
	cli_svc_open(&cfg, &svc);
	int64_t uid = cli_user_id(&svc, o.user);
	rc = 0;
	if (rag_ask(&svc, uid, &req, print_delta, NULL, &a, &err)) {
		fprintf(stderr, "\nvault: %s\n", verr_detail(&err));
		rc = 1;
	} else {
		puts("");
		for (size_t i = 0; i < a.ncitations; i++)
			printf("[%d] %s (#%lld)\n", a.citations[i].index, a.citations[i].title,
			       (long long)a.citations[i].note_id);
		ask_result_free(&a);
	}
	cli_svc_close(&cfg, &svc);
	return rc;
}
