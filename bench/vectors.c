/*
 * vectors.c - vector search of the SQLite store on the anchor's vector sets
 * (bench/vectors.sh; ../shared/anchors/pgvector_hnsw/gen.py writes them).
 *
 *   vectors DB_PATH DATA_DIR N DIM [--per-user]
 *
 * Loads base_{N}x{DIM}.f32 into a new SQLite store at DB_PATH through the
 * store's own calls: each row a note of one chunk (store_note_create), its
 * vector written as the embedding worker writes it (store_embed_claim, then
 * store_embed_done). All rows belong to one user, or with --per-user row i
 * to user i % 100 (gen.py's per-user case). Then it sends the 1,000 queries
 * of query_1000x{DIM}.f32 through store_vector_search, the call the
 * server's search makes (limit 10; query i as user i % 100 with
 * --per-user), after one untimed pass that loads the cache, and prints
 * recall@10 against gt_ (user_gt_) and the p50, p99 and mean latency of the
 * timed passes and the process's CPU time per query (which other jobs on a
 * shared machine move less than wall time), with the vector cache's bytes
 * per vector, as key=value lines.
 * A DB_PATH that exists is reused as an earlier run of the same set left it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/store.h"

#define NQ     1000
#define TOPK   10
#define NUSERS 100
#define PASSES 3

static void fail(const char *what, const struct verror *err)
{
	fprintf(stderr, "vectors: %s: %s\n", what, err ? err->detail : "failed");
	exit(1);
}

/* The whole file, which must hold exactly bytes bytes; caller frees. */
static void *read_file(const char *dir, const char *name, size_t bytes)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	void *p = xmalloc(bytes);
	if (fread(p, 1, bytes, f) != bytes || fgetc(f) != EOF) {
		fprintf(stderr, "vectors: %s is not %zu bytes\n", path, bytes);
		exit(1);
	}
	fclose(f);
	return p;
}

/* CPU time of the whole process (the search's helper thread too), in ms. */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The row of note id (notes[] ascending, as created), else -1. */
static long row_of(const int64_t *notes, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (notes[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && notes[lo] == id ? (long)lo : -1;
}

/* The users, and a note of one chunk per row: row i is user i % nusers's note "row i". */
static void load(struct store *st, size_t n, size_t nusers, int64_t *users, int64_t *notes)
{
	struct verror err = {0};
	for (size_t u = 0; u < nusers; u++) {
		struct user usr;
		char email[64];
		snprintf(email, sizeof(email), "u%zu@bench.example", u);
		if (store_user_create(st, email, "$2b$12$bench", 1, &usr, &err))
			fail("user", &err);
		users[u] = usr.id;
	}
	for (size_t i = 0; i < n; i++) {
		char text[32], hash[65];
		snprintf(text, sizeof(text), "row %zu", i);
		snprintf(hash, sizeof(hash), "%064zx", i);
		struct chunk_input ch = {"", text, hash};
		struct note_input in = {
		    .title = text, .content = text, .chunks = &ch, .nchunks = 1};
		struct note note;
		if (store_note_create(st, users[i % nusers], &in, 1, &note, &err))
			fail("note", &err);
		notes[i] = note.id;
		note_free(&note);
	}
}

/* Every chunk's vector, written as the embedding worker writes it: claimed, then done. */
static void load_vectors(struct store *st, const float *base, size_t n, int dim)
{
	struct verror err = {0};
	float *vecs = xmalloc(1000 * (size_t)dim * sizeof(float));
	for (size_t done = 0; done < n;) {
		struct embed_job *jobs = NULL;
		size_t nj = 0;
		int64_t ids[1000];
		const char *hashes[1000];
		if (store_embed_claim(st, 1000, 2, 600000, &jobs, &nj, &err))
			fail("claim", &err);
		if (nj == 0)
			fail("claim: fewer chunks than rows", NULL);
		for (size_t j = 0; j < nj; j++) {
			size_t row = strtoul(jobs[j].text + 4, NULL, 10);
			if (row >= n)
				fail("claim: a chunk of another run", NULL);
			ids[j] = jobs[j].chunk_id;
			hashes[j] = jobs[j].hash;
			memcpy(vecs + j * dim, base + row * dim, dim * sizeof(float));
		}
		if (store_embed_done(st, ids, hashes, nj, "bench", dim, vecs, 3, &err))
			fail("embed_done", &err);
		embed_jobs_free(jobs, nj);
		done += nj;
	}
	free(vecs);
}

int main(int argc, char **argv)
{
	if (argc < 5 || (argc == 6 && strcmp(argv[5], "--per-user") != 0) || argc > 6) {
		fprintf(stderr, "usage: vectors DB_PATH DATA_DIR N DIM [--per-user]\n");
		return 2;
	}
	const char *dir = argv[2];
	size_t n = strtoul(argv[3], NULL, 10);
	int dim = atoi(argv[4]);
	bool per_user = argc == 6;
	size_t nusers = per_user ? NUSERS : 1;
	char name[256], url[4200];
	struct verror err = {0};
	struct store *st = NULL;
	int applied;
	log_init(LOG_WARNING, LOG_JSON, stderr);

	snprintf(name, sizeof(name), "base_%zux%d.f32", n, dim);
	float *base = read_file(dir, name, n * dim * sizeof(float));
	snprintf(name, sizeof(name), "query_%dx%d.f32", NQ, dim);
	float *queries = read_file(dir, name, (size_t)NQ * dim * sizeof(float));
	snprintf(name, sizeof(name), "%sgt_%zux%d.i32", per_user ? "user_" : "", n, dim);
	int32_t *gt = read_file(dir, name, (size_t)NQ * TOPK * sizeof(int32_t));

	struct stat sb;
	bool reuse = stat(argv[1], &sb) == 0;
	snprintf(url, sizeof(url), "sqlite:///%s", argv[1]);
	struct store_opts opts = {.busy_timeout_ms = 5000, .synchronous_normal = true};
	if (store_open(url, &opts, &st, &err) || store_migrate_up(st, -1, &applied, &err))
		fail("open", &err);

	/* A database of an earlier run is reused: its notes are found by their titles. */
	double t0 = time_mono_ms(), t1 = t0, t2 = t0;
	int64_t users[NUSERS], *notes = xcalloc(n, sizeof(*notes));
	if (reuse) {
		for (size_t u = 0; u < nusers; u++) {
			struct user usr;
			char email[64];
			snprintf(email, sizeof(email), "u%zu@bench.example", u);
			if (store_user_get_by_email(st, email, &usr, &err))
				fail("reuse: user", &err);
			users[u] = usr.id;
			for (int64_t at = 0, after = 0;;) {
				struct note_page page;
				if (store_notes_after(st, usr.id, at, after, 1000, &page, &err))
					fail("reuse: notes", &err);
				for (size_t k = 0; k < page.n; k++) {
					size_t row = strtoul(page.items[k].title + 4, NULL, 10);
					if (row < n)
						notes[row] = page.items[k].id;
				}
				if (page.n) {
					at = page.items[page.n - 1].created_at;
					after = page.items[page.n - 1].id;
				}
				size_t got = page.n;
				note_page_free(&page);
				if (got < 1000)
					break;
			}
		}
	} else {
		load(st, n, nusers, users, notes);
		t1 = time_mono_ms();
		load_vectors(st, base, n, dim);
		t2 = time_mono_ms();
	}
	for (size_t i = 1; i < n; i++)
		if (notes[i] <= notes[i - 1])
			fail("note ids out of order", NULL);

	/* One untimed pass (loads each user's vectors into the cache), then the timed ones. */
	double *ms = xmalloc(PASSES * NQ * sizeof(double)), sum = 0;
	long found = 0;
	double cpu0 = 0;
	for (int pass = 0; pass <= PASSES; pass++) {
		if (pass == 1)
			cpu0 = cpu_ms();
		for (int q = 0; q < NQ; q++) {
			struct vector_hit *hits = NULL;
			size_t nh = 0;
			double s = time_mono_ms();
			if (store_vector_search(st, users[q % nusers], "bench", dim,
			                        queries + (size_t)q * dim, NULL, 0, false, TOPK,
			                        &hits, &nh, &err))
				fail("search", &err);
			double took = time_mono_ms() - s;
			if (pass > 0) {
				ms[(pass - 1) * NQ + q] = took;
				sum += took;
			}
			if (pass == PASSES)
				for (size_t h = 0; h < nh; h++) {
					long row = row_of(notes, n, hits[h].note_id);
					for (int k = 0; k < TOPK; k++)
						found += row >= 0 && gt[q * TOPK + k] == row;
				}
			free(hits);
		}
	}
	double cpu = (cpu_ms() - cpu0) / (PASSES * NQ);
	qsort(ms, PASSES * NQ, sizeof(double), cmp_double);
	struct store_stats stats;
	if (store_stats(st, &stats, &err))
		fail("stats", &err);
	printf("set=%zux%d%s\n", n, dim, per_user ? " per-user" : "");
	printf("load_notes_s=%.1f\nload_vectors_s=%.1f\n", (t1 - t0) / 1000, (t2 - t1) / 1000);
	printf("recall_at_10=%.4f\n", (double)found / (NQ * TOPK));
	printf("p50_ms=%.3f\np99_ms=%.3f\nmean_ms=%.3f\n", ms[PASSES * NQ / 2],
	       ms[PASSES * NQ * 99 / 100], sum / (PASSES * NQ));
	printf("cpu_ms_per_query=%.3f\n", cpu);
	printf("cache_bytes=%zu\nbytes_per_vector=%.1f\n", stats.vector_cache_bytes,
	       (double)stats.vector_cache_bytes / (double)n);
	store_close(st);
	free(notes);
	free(ms);
	free(base);
	free(queries);
	free(gt);
	return 0;
}
