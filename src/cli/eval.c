/*
 * eval.c - `vault eval`: search quality on a labelled set of queries.
 *
 * Each line of the queries file is {"query": ..., "relevant": [titles or
 * ids], "kind": optional label}. With --notes, the notes (one JSON note per
 * line) are imported for a throwaway user in a temporary database and
 * embedded first; without, --user names whose notes to search. Every query
 * runs in keyword, semantic and hybrid mode; the report gives precision@k,
 * recall@k, MRR and nDCG@10 per mode, overall and per kind.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "services/auth.h"
#include "services/notes.h"
#include "services/search.h"
#include "services/worker.h"

#define RANKED    10 /* results asked for: nDCG@10 needs ten */
#define KINDS_MAX 8

static const char usage[] =
    "Usage: vault eval --queries FILE.jsonl (--notes FILE.jsonl | --user EMAIL) [--k K]\n"
    "\n"
    "Measures search quality: precision@K, recall@K (K = 5 by default), MRR and\n"
    "nDCG@10 for keyword, semantic and hybrid search. --notes imports the notes\n"
    "into a throwaway database first (the configured one is not touched).\n";

struct query {
	char *text;
	char *kind;
	int64_t *relevant;
	size_t nrelevant;
};

struct sums {
	double p, r, mrr, ndcg;
	int n;
};

static const enum search_mode modes[] = {SEARCH_KEYWORD, SEARCH_SEMANTIC, SEARCH_HYBRID};

/* Reads a JSON-lines file: one object per non-blank line. Caller decrefs. */
static json_t *read_jsonl(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "vault: cannot open %s\n", path);
		exit(1);
	}
	json_t *all = json_array();
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		json_error_t jerr;
		json_t *v = json_loads(line, 0, &jerr);
		if (!json_is_object(v)) {
			fprintf(stderr, "vault: %s:%d: not a JSON object: %s\n", path, lineno,
			        jerr.text);
			exit(1);
		}
		json_array_append_new(all, v);
	}
	free(line);
	fclose(f);
	return all;
}

/* Imports the notes for a new user and embeds them all; returns the user id. */
static int64_t import(struct svc *svc, json_t *notes)
{
	struct user u;
	struct verror err;
	if (auth_register(svc, "eval@vault.invalid", "eval-password-not-secret", &u, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		exit(1);
	}
	size_t i;
	json_t *n;
	json_array_foreach(notes, i, n)
	{
		json_t *tags = json_object_get(n, "tags");
		const char *tv[64];
		size_t nt = 0;
		for (size_t k = 0; k < json_array_size(tags) && nt < 64; k++)
			tv[nt++] = json_string_value(json_array_get(tags, k));
		struct note_fields f = {json_string_value(json_object_get(n, "title")),
		                        json_string_value(json_object_get(n, "content")), tv, nt,
		                        true};
		struct note out;
		if (notes_create(svc, u.id, &f, &out, &err)) {
			fprintf(stderr, "vault: note %zu: %s\n", i + 1, verr_detail(&err));
			exit(1);
		}
		note_free(&out);
	}
	size_t embedded, failed;
	do {
		if (embed_worker_run_once(svc, &embedded, &failed, &err)) {
			fprintf(stderr, "vault: %s\n", verr_detail(&err));
			exit(1);
		}
		if (failed) {
			fprintf(stderr, "vault: embedding failed; is the provider reachable?\n");
			exit(1);
		}
	} while (embedded > 0);
	return u.id;
}

/* Relevant notes named by title or id, resolved against the user's notes. */
static void resolve(struct svc *svc, int64_t uid, json_t *q, struct query *out)
{
	json_t *rel = json_object_get(q, "relevant");
	const char *kind = json_string_value(json_object_get(q, "kind"));
	out->text = xstrdup(json_string_value(json_object_get(q, "query")));
	out->kind = xstrdup(kind ? kind : "all");
	size_t cap = json_array_size(rel) + 1;
	out->relevant = xcalloc(cap, sizeof(int64_t));
	struct note_page page = {0};
	struct verror err;
	for (int64_t skip = 0;; skip += 100) {
		note_page_free(&page);
		if (notes_list(svc, uid, skip, 100, NULL, 0, &page, &err) || page.n == 0)
			break;
		for (size_t k = 0; k < json_array_size(rel); k++) {
			json_t *r = json_array_get(rel, k);
			for (size_t j = 0; j < page.n; j++) {
				bool hit =
				    json_is_integer(r)
				        ? json_integer_value(r) == page.items[j].id
				        : json_is_string(r) && strcmp(json_string_value(r),
				                                      page.items[j].title) == 0;
				if (!hit)
					continue;
				if (out->nrelevant == cap) /* several notes may share a title */
					out->relevant =
					    xrealloc(out->relevant, (cap *= 2) * sizeof(int64_t));
				out->relevant[out->nrelevant++] = page.items[j].id;
			}
		}
	}
	note_page_free(&page);
}

static bool relevant(const struct query *q, int64_t id)
{
	for (size_t i = 0; i < q->nrelevant; i++)
		if (q->relevant[i] == id)
			return true;
	return false;
}

static void score(const struct query *q, const struct search_result *r, size_t k, struct sums *s)
{
	size_t hits_k = 0;
	double dcg = 0, idcg = 0, rr = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (!relevant(q, r->hits[i].note.id))
			continue;
		if (i < k)
			hits_k++;
		if (rr == 0)
			rr = 1.0 / (double)(i + 1);
		dcg += 1.0 / log2((double)i + 2);
	}
	for (size_t i = 0; i < q->nrelevant && i < RANKED; i++)
		idcg += 1.0 / log2((double)i + 2);
	s->p += (double)hits_k / (double)k;
	s->r += q->nrelevant ? (double)hits_k / (double)q->nrelevant : 0;
	s->mrr += rr;
	s->ndcg += idcg > 0 ? dcg / idcg : 0;
	s->n++;
}

static void report(const char *title, struct sums s[3], size_t k)
{
	printf("\n%s (%d queries)\n\n", title, s[0].n);
	printf("| mode | precision@%zu | recall@%zu | MRR | nDCG@10 |\n|---|---:|---:|---:|---:|\n",
	       k, k);
	for (int m = 0; m < 3; m++) {
		double n = s[m].n ? s[m].n : 1;
		printf("| %s | %.3f | %.3f | %.3f | %.3f |\n", search_mode_name(modes[m]),
		       s[m].p / n, s[m].r / n, s[m].mrr / n, s[m].ndcg / n);
	}
}

int cmd_eval(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"queries", required_argument, NULL, 'q'}, {"notes", required_argument, NULL, 'n'},
	    {"user", required_argument, NULL, 'u'},    {"k", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},          {0}};
	const char *queries_path = NULL, *notes_path = NULL, *email = NULL;
	long k = 5;
	char *end;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			queries_path = optarg;
			break;
		case 'n':
			notes_path = optarg;
			break;
		case 'u':
			email = optarg;
			break;
		case 'k':
			k = strtol(optarg, &end, 10);
			if (*end || k < 1 || k > RANKED) {
				fprintf(stderr, "vault: --k must be 1-%d\n", RANKED);
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
	if (!queries_path || !(notes_path || email) || optind != argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}

	json_t *queries = read_jsonl(queries_path), *notes = NULL;
	char dir[] = "/tmp/vault-eval-XXXXXX";
	if (notes_path) {
		notes = read_jsonl(notes_path);
		if (!mkdtemp(dir)) {
			perror("vault: mkdtemp");
			return 1;
		}
		char *url = xasprintf("sqlite:///%s/eval.db", dir);
		setenv("DATABASE_URL", url, 1);
		setenv("BCRYPT_ROUNDS", "4", 1); /* a throwaway account */
		free(url);
	}
	struct config cfg;
	struct svc svc;
	cli_svc_open(&cfg, &svc);
	int64_t uid = notes ? import(&svc, notes) : cli_user_id(&svc, email);

	char *kinds[KINDS_MAX];
	struct sums all[3] = {0}, by_kind[KINDS_MAX][3] = {0};
	size_t nkinds = 0, i;
	json_t *jq;
	int rc = 0;
	json_array_foreach(queries, i, jq)
	{
		struct query q = {0};
		resolve(&svc, uid, jq, &q);
		if (q.nrelevant == 0)
			fprintf(stderr, "vault: query %zu: no relevant note found\n", i + 1);
		size_t kind = 0;
		while (kind < nkinds && strcmp(kinds[kind], q.kind) != 0)
			kind++;
		if (kind == nkinds && nkinds < KINDS_MAX)
			kinds[nkinds++] = xstrdup(q.kind);
		for (int m = 0; m < 3; m++) {
			struct search_query sq = {.text = q.text,
			                          .top_k = RANKED,
			                          .mode = modes[m],
			                          .min_similarity = -1};
			struct search_result r;
			struct verror err;
			if (search_run(&svc, uid, &sq, &r, &err)) {
				fprintf(stderr, "vault: query %zu: %s\n", i + 1, verr_detail(&err));
				rc = 1;
				continue;
			}
			score(&q, &r, (size_t)k, &all[m]);
			if (kind < KINDS_MAX)
				score(&q, &r, (size_t)k, &by_kind[kind][m]);
			search_result_free(&r);
		}
		free(q.text);
		free(q.kind);
		free(q.relevant);
	}
	const char *model;
	int dim;
	svc_embedding_model(&svc, &model, &dim);
	printf("vault eval: %s, embeddings %s (%d dimensions), min similarity %.2f\n", queries_path,
	       model, dim, cfg.search_min_similarity);
	report("All queries", all, (size_t)k);
	for (size_t n = 0; n < nkinds; n++) {
		if (nkinds > 1) {
			char title[96];
			snprintf(title, sizeof(title), "Kind: %s", kinds[n]);
			report(title, by_kind[n], (size_t)k);
		}
		free(kinds[n]);
	}
	cli_svc_close(&cfg, &svc);
	json_decref(queries);
	json_decref(notes);
	if (notes_path) {
		char *db = xasprintf("%s/eval.db", dir);
		char *wal = xasprintf("%s-wal", db), *shm = xasprintf("%s-shm", db);
		unlink(db), unlink(wal), unlink(shm), rmdir(dir);
		free(db), free(wal), free(shm);
	}
	return rc;
}
