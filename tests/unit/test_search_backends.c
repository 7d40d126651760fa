/*
 * test_search_backends.c - the same notes and queries give the same results
 * on SQLite (vectors scanned in process, FTS5) and on PostgreSQL (pgvector
 * in SQL, tsvector), through the search service.
 *
 * The team's eval set (eval/notes.jsonl, eval/queries.jsonl) is imported on
 * both with the local embedder, so the vectors are the same bytes. Semantic
 * search must agree exactly: same notes in the same order, same
 * similarities. Keyword ranking is BM25 on both, over each engine's own
 * tokens (FTS5's porter, PostgreSQL's English configuration), so keyword
 * and hybrid are held to their quality instead: the eval's relevant note
 * first as often on PostgreSQL as on SQLite, give or take a few queries.
 *
 * Needs VAULT_TEST_PG_URL (a server where CREATE SCHEMA is allowed);
 * skipped without it.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pg_test.h"
#include "core/config.h"
#include "services/auth.h"
#include "services/notes.h"
#include "services/search.h"
#include "services/worker.h"

#define TOP_K 5

struct backend {
	struct config cfg;
	struct store *store;
	struct svc svc;
	int64_t uid;
};

static char schema[64], dir[64] = "/tmp/vault-sb-XXXXXX";
static struct backend sq, pg;

static void pg_exec(const char *sql)
{
	char *msg = pg_test_exec(sql);
	cr_assert_null(msg, "%s: %s", sql, msg);
}

static json_t *read_jsonl(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s (run from the repository's root)", path);
	json_t *all = json_array();
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0)
		if (strspn(line, " \t\r\n") != strlen(line))
			json_array_append_new(all, json_loads(line, 0, NULL));
	free(line);
	fclose(f);
	return all;
}

static void open_backend(struct backend *b, const char *url, json_t *notes)
{
	struct verror err = {0};
	char *const envp[] = {"SECRET_KEY=0123456789abcdef0123456789abcdef", "BCRYPT_ROUNDS=4",
	                      NULL};
	cr_assert_eq(config_load(&b->cfg, envp, NULL, &err), VERR_OK, "%s", err.detail);
	struct store_opts opts = {.embedding_dim = b->cfg.embedding_dim, .busy_timeout_ms = 5000};
	cr_assert_eq(store_open(url, &opts, &b->store, &err), VERR_OK, "%s", err.detail);
	int steps;
	cr_assert_eq(store_migrate_up(b->store, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(svc_init(&b->svc, b->store, &b->cfg, &err), VERR_OK, "%s", err.detail);
	struct user u;
	cr_assert_eq(auth_register(&b->svc, "eval@vault.invalid", "not-a-secret", &u, &err),
	             VERR_OK, "%s", err.detail);
	b->uid = u.id;

	size_t i;
	json_t *n;
	json_array_foreach(notes, i, n)
	{
		json_t *tags = json_object_get(n, "tags");
		const char *tv[16];
		size_t nt = 0;
		for (; nt < json_array_size(tags) && nt < 16; nt++)
			tv[nt] = json_string_value(json_array_get(tags, nt));
		struct note_fields f = {json_string_value(json_object_get(n, "title")),
		                        json_string_value(json_object_get(n, "content")), tv, nt,
		                        true};
		struct note out;
		cr_assert_eq(notes_create(&b->svc, b->uid, &f, &out, &err), VERR_OK, "%s",
		             err.detail);
		note_free(&out);
	}
	size_t embedded, failed;
	do {
		cr_assert_eq(embed_worker_run_once(&b->svc, &embedded, &failed, &err), VERR_OK,
		             "%s", err.detail);
		cr_assert_eq(failed, 0);
	} while (embedded);
}

static void setup(void)
{
	if (!pg_test_url())
		return;
	json_t *notes = read_jsonl("eval/notes.jsonl");
	cr_assert_not_null(mkdtemp(dir));
	char url[512];
	snprintf(url, sizeof(url), "sqlite:///%s/vault.db", dir);
	open_backend(&sq, url, notes);

	snprintf(schema, sizeof(schema), "sb_%ld", (long)getpid());
	snprintf(url, sizeof(url), "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
	         schema);
	pg_exec(url);
	char *pg_url = pg_test_schema_url(schema, NULL);
	open_backend(&pg, pg_url, notes);
	free(pg_url);
	json_decref(notes);
}

static void close_backend(struct backend *b)
{
	if (!b->store)
		return;
	svc_cleanup(&b->svc);
	store_close(b->store);
	config_free(&b->cfg);
}

static void teardown(void)
{
	close_backend(&sq);
	close_backend(&pg);
	if (schema[0]) {
		char sql[128];
		snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
		pg_exec(sql);
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/vault.db", dir);
	unlink(path);
	rmdir(dir);
}

static void search(struct backend *b, const char *query, enum search_mode mode, size_t top_k,
                   struct search_result *r)
{
	struct verror err = {0};
	struct search_query q = {.text = query, .top_k = top_k, .mode = mode, .min_similarity = -1};
	cr_assert_eq(search_run(&b->svc, b->uid, &q, r, &err), VERR_OK, "%s: %s", query,
	             err.detail);
}

/* Whether the first hit is one of the query's relevant notes (by title). */
static bool first_is_relevant(const struct search_result *r, json_t *q)
{
	json_t *rel = json_object_get(q, "relevant");
	for (size_t i = 0; r->n > 0 && i < json_array_size(rel); i++) {
		const char *title = json_string_value(json_array_get(rel, i));
		if (title && strcmp(title, r->hits[0].note.title) == 0)
			return true;
	}
	return false;
}

/*
 * A note both backends returned has the same similarity on both: its best
 * chunk's cosine, whichever way it was found (in keyword mode, only for the
 * hits, through the vector search restricted to them).
 */
static void same_similarities(const char *text, const struct search_result *a,
                              const struct search_result *b)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t k = 0; k < b->n; k++)
			if (strcmp(a->hits[i].note.title, b->hits[k].note.title) == 0)
				cr_assert(
				    fabs(a->hits[i].similarity - b->hits[k].similarity) < 1e-4,
				    "%s: \"%s\" similarity %.6f on SQLite, %.6f on PostgreSQL",
				    text, a->hits[i].note.title, a->hits[i].similarity,
				    b->hits[k].similarity);
}

Test(search_backends, same_results_on_sqlite_and_postgresql, .init = setup, .fini = teardown,
     .timeout = 120)
{
	if (!pg.store)
		cr_skip_test("VAULT_TEST_PG_URL not set");
	json_t *queries = read_jsonl("eval/queries.jsonl");
	int right[3][2] = {{0}}; /* [mode][backend]: relevant note first */
	size_t i;
	json_t *q;
	json_array_foreach(queries, i, q)
	{
		const char *text = json_string_value(json_object_get(q, "query"));
		for (enum search_mode m = SEARCH_HYBRID; m <= SEARCH_KEYWORD; m++) {
			struct search_result a, b;
			search(&sq, text, m, TOP_K, &a);
			search(&pg, text, m, TOP_K, &b);
			right[m][0] += first_is_relevant(&a, q);
			right[m][1] += first_is_relevant(&b, q);
			if (m == SEARCH_SEMANTIC) {
				cr_assert_eq(a.n, b.n,
				             "%s: %zu results on SQLite, %zu on PostgreSQL", text,
				             a.n, b.n);
				for (size_t k = 0; k < a.n; k++) {
					cr_assert_str_eq(a.hits[k].note.title, b.hits[k].note.title,
					                 "%s: #%zu differs", text, k + 1);
					cr_assert(fabs(a.hits[k].similarity -
					               b.hits[k].similarity) < 1e-4,
					          "%s: #%zu similarity %.6f on SQLite, %.6f on "
					          "PostgreSQL",
					          text, k + 1, a.hits[k].similarity,
					          b.hits[k].similarity);
				}
			}
			same_similarities(text, &a, &b);
			search_result_free(&a);
			search_result_free(&b);
		}
		/* One hit: SQLite scores its rows alone (binary search), not every vector. */
		struct search_result a, b;
		search(&sq, text, SEARCH_KEYWORD, 1, &a);
		search(&pg, text, SEARCH_KEYWORD, 1, &b);
		same_similarities(text, &a, &b);
		search_result_free(&a);
		search_result_free(&b);
	}
	size_t n = json_array_size(queries);
	cr_log_info("relevant first, SQLite / PostgreSQL of %zu: hybrid %d/%d, semantic %d/%d, "
	            "keyword %d/%d",
	            n, right[0][0], right[0][1], right[1][0], right[1][1], right[2][0],
	            right[2][1]);
	cr_assert_eq(right[SEARCH_SEMANTIC][0], right[SEARCH_SEMANTIC][1]);
	/* Both rank keywords by BM25 on the user's own figures, over words their
	 * indexes cut differently (FTS5's porter keeps stop words, PostgreSQL's
	 * English configuration drops them): within 2 % of the queries. */
	for (enum search_mode m = SEARCH_HYBRID; m <= SEARCH_KEYWORD; m += 2)
		cr_assert(abs(right[m][0] - right[m][1]) <= (int)n / 50,
		          "%s: the relevant note first for %d queries on SQLite, %d on PostgreSQL",
		          search_mode_name(m), right[m][0], right[m][1]);
	json_decref(queries);
}
