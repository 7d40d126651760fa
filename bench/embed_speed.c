/*
 * embed_speed.c - speed and memory of the local embedder, for bench/embed.sh.
 *
 *   embed_speed NOTES_JSONL
 *
 * Settings come from the environment as `vault serve` reads them
 * (EMBEDDING_MODEL_DIR). NOTES_JSONL is eval/notes.jsonl: its notes are the
 * text of every measurement. Prints a Markdown report on stdout:
 *
 *   1. a core's arithmetic limit, measured: a loop of independent fused
 *      multiply-adds with AVX-512 and with AVX2, per second of CPU time (so
 *      that other jobs on the machine do not lower it), the best of 3;
 *   2. the model's load time and resident memory;
 *   3. chunks of about 200 pieces embedded a second, as many a call as the
 *      worker sends (the embedder's max_batch), on one core and on all: by the wall clock, and per
 *      second of CPU time the process got, with the achieved GFLOP (counted
 *      exactly from the pieces and windows) against a core's limit;
 *   4. the latency of embedding a 10-word query, alone;
 *   5. 2,000 notes (NOTES_JSONL's, repeated under new titles) written with
 *      the notes service into a fresh SQLite database and embedded by the
 *      real worker code (embed_worker_run_once) until none is pending.
 */
#include <immintrin.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "providers/embedder.h"
#include "services/auth.h"
#include "services/chunker.h"
#include "services/notes.h"
#include "services/services.h"
#include "services/worker.h"
#include "store/store.h"

extern char **environ;

#define DIM          512
#define CHUNK_PIECES 200 /* a chunk of the benchmark: at least this many pieces */
#define NCHUNKS      256
#define SECONDS      10.0 /* of chunk embedding per setting */
#define QUERIES      2000
#define NOTES        2000

static void die(const char *what, const struct verror *err)
{
	fprintf(stderr, "embed_speed: %s: %s\n", what, err ? verr_detail(err) : "failed");
	exit(1);
}

/* ------------------------------------------------------------------ */
/* The arithmetic limit                                                 */

#define FMA_ITERS 200000000L /* about 0.3 s a core at full speed */

__attribute__((target("avx512f"))) static float fma512(void)
{
	__m512 c[24], a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
	for (int i = 0; i < 24; i++)
		c[i] = _mm512_set1_ps((float)i);
	for (long n = 0; n < FMA_ITERS; n++)
#pragma GCC unroll 24
		for (int i = 0; i < 24; i++)
			c[i] = _mm512_fmadd_ps(c[i], a, b);
	float s = 0;
	for (int i = 0; i < 24; i++)
		s += _mm512_reduce_add_ps(c[i]);
	return s;
}

__attribute__((target("avx2,fma"))) static float fma256(void)
{
	__m256 c[12], a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
	for (int i = 0; i < 12; i++)
		c[i] = _mm256_set1_ps((float)i);
	for (long n = 0; n < FMA_ITERS; n++)
#pragma GCC unroll 12
		for (int i = 0; i < 12; i++)
			c[i] = _mm256_fmadd_ps(c[i], a, b);
	float s[8], t = 0;
	for (int i = 0; i < 12; i++) {
		_mm256_storeu_ps(s, c[i]);
		for (int k = 0; k < 8; k++)
			t += s[k];
	}
	return t;
}

static volatile float sink;

static double cpu_seconds(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * GFLOP per second of CPU time of the FMA loop (width 512 or 256) on this
 * thread: the best of 3 runs. CPU time, not wall time, so other jobs on the
 * machine do not lower it.
 */
static double peak(int width)
{
	double best = 0, per = width == 512 ? 24.0 * 16 * 2 : 12.0 * 8 * 2; /* FLOPs an iteration */
	for (int run = 0; run < 3; run++) {
		double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
		sink = width == 512 ? fma512() : fma256();
		double g =
		    (double)FMA_ITERS * per / (cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e9;
		best = g > best ? g : best;
	}
	return best;
}

/* ------------------------------------------------------------------ */
/* Texts                                                                */

struct notes {
	char **title, **content;
	size_t n;
};

static struct notes read_notes(const char *path)
{
	struct notes ns = {0};
	json_error_t jerr;
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	if (!f) {
		perror(path);
		exit(1);
	}
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, &jerr);
		const char *t = json_string_value(json_object_get(j, "title"));
		const char *c = json_string_value(json_object_get(j, "content"));
		if (!t || !c) {
			fprintf(stderr, "%s: a line without title and content\n", path);
			exit(1);
		}
		ns.title = xrealloc(ns.title, (ns.n + 1) * sizeof(char *));
		ns.content = xrealloc(ns.content, (ns.n + 1) * sizeof(char *));
		ns.title[ns.n] = xstrdup(t);
		ns.content[ns.n] = xstrdup(c);
		ns.n++;
		json_decref(j);
	}
	free(line);
	fclose(f);
	return ns;
}

static size_t pieces_of(struct embedder *e, const char *text)
{
	int32_t *ids;
	size_t n;
	struct verror err;
	if (embed_use_tokens(e, text, &ids, &n, &err))
		die("tokens", &err);
	free(ids);
	return n;
}

/*
 * NCHUNKS chunks of at least CHUNK_PIECES pieces as the worker embeds them
 * ("title\n\ntext"), words taken in turn from the notes' contents.
 */
static char **make_chunks(struct embedder *e, const struct notes *ns, size_t *pieces)
{
	char **chunks = xcalloc(NCHUNKS, sizeof(char *));
	size_t note = 0;
	char *save = NULL, *copy = xstrdup(ns->content[0]);
	char *word = strtok_r(copy, " \n", &save);
	*pieces = 0;
	for (size_t i = 0; i < NCHUNKS; i++) {
		size_t cap = 4096, len = 0;
		char *s = xmalloc(cap);
		len = (size_t)snprintf(s, cap, "%s\n\n", ns->title[i % ns->n]);
		size_t words = 0, n = 0;
		for (;;) {
			while (!word) { /* next note */
				free(copy);
				note = (note + 1) % ns->n;
				copy = xstrdup(ns->content[note]);
				word = strtok_r(copy, " \n", &save);
			}
			size_t wl = strlen(word);
			if (len + wl + 2 > cap)
				s = xrealloc(s, cap *= 2);
			len += (size_t)sprintf(s + len, "%s%s", words++ ? " " : "", word);
			word = strtok_r(NULL, " \n", &save);
			if (words % 8 == 0 && (n = pieces_of(e, s)) >= CHUNK_PIECES)
				break;
		}
		chunks[i] = s;
		*pieces += n;
	}
	free(copy);
	return chunks;
}

/* FLOPs the encoder spends on a text of n pieces (windows as embed_use.c cuts them). */
static double flops_of(size_t n)
{
	const double dense = 256.0 * 512 + 256.0 * 768 + 256.0 * 512 + 512.0 * 1536 * 2 +
	                     512.0 * 1536 + 512.0 * 512 + 512.0 * 1536 * 2; /* MACs a piece */
	size_t nwin = (n + 127) / 128;
	double attn = 0;
	for (size_t k = 0; k < nwin; k++) {
		double len = (double)(n / nwin + (k < n % nwin));
		attn += 2 * len * len * (256 + 512); /* QK and AV, both layers: MACs */
	}
	return 2 * (dense * (double)n + attn + 512.0 * 512);
}

/* ------------------------------------------------------------------ */
/* Memory                                                               */

/* VmRSS, RssAnon and RssFile of this process, in MiB. */
static void rss(double *total, double *anon, double *file)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	*total = *anon = *file = 0;
	while (f && fgets(line, sizeof(line), f)) {
		long kb;
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			*total = kb / 1024.0;
		else if (sscanf(line, "RssAnon: %ld", &kb) == 1)
			*anon = kb / 1024.0;
		else if (sscanf(line, "RssFile: %ld", &kb) == 1)
			*file = kb / 1024.0;
	}
	if (f)
		fclose(f);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ */

static struct embedder *open_embedder(const struct config *cfg)
{
	struct embedder *e;
	struct verror err;
	if (embedder_new(cfg, &e, &err))
		die("embedder", &err);
	return e;
}

/*
 * Chunks a second with the embedder's threads (the CPUs this process may
 * use); cost[i] is the FLOPs chunks[i] takes, core_limit one core's
 * arithmetic limit. Wall-clock rates depend on what else the machine runs;
 * rates per second of CPU time do much less.
 */
static void chunk_rate(const struct config *cfg, char **chunks, const double *cost, size_t pieces,
                       double core_limit, int cores)
{
	struct embedder *e = open_embedder(cfg);
	size_t batch = e->max_batch; /* what the worker sends at once */
	float *v = xmalloc(batch * DIM * sizeof(float));
	struct verror err;
	size_t done = 0, at = 0;
	double flops = 0, t0 = time_mono_ms(), c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID), ms;
	do {
		if (embedder_embed(e, (const char *const *)chunks + at, batch, v, &err))
			die("embed", &err);
		for (size_t i = 0; i < batch; i++)
			flops += cost[at + i];
		done += batch;
		at = (at + batch) % NCHUNKS;
	} while ((ms = time_mono_ms() - t0) < SECONDS * 1000);
	double cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = ms / 1000;
	printf("| %d | %.1f | %.0f | %.2f | %.1f | %.1f | %.0f %% |\n", cores, done / wall,
	       (double)pieces / NCHUNKS * done / wall, cpu / wall, done / cpu, flops / cpu / 1e9,
	       100 * flops / cpu / 1e9 / core_limit);
	free(v);
	embedder_free(e);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct verror err;
	cpu_set_t all, one;
	double t, a, f, t1, a1, f1;

	if (argc != 2) {
		fputs("usage: embed_speed NOTES_JSONL\n", stderr);
		return 2;
	}
	if (config_load(&cfg, environ, NULL, &err))
		die("config", &err);
	log_init(LOG_WARNING, LOG_JSON, stderr);
	if (cfg.embedding_provider != EMBED_LOCAL) {
		fputs("embed_speed: measures EMBEDDING_PROVIDER=local only\n", stderr);
		return 2;
	}
	struct notes ns = read_notes(argv[1]);
	sched_getaffinity(0, sizeof(all), &all);
	int cpus = CPU_COUNT(&all);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, &one);
			break;
		}

	/* 1. The arithmetic limit. */
	bool avx512 = __builtin_cpu_supports("avx512f");
	double p512 = avx512 ? peak(512) : 0, p256 = peak(256);
	double limit = avx512 ? p512 : p256;
	printf("### Arithmetic limit of a core (measured: independent FMAs, float32, per "
	       "second of CPU time)\n\n| Instructions | 1 core | %d cores |\n|---|---:|---:|\n",
	       cpus);
	if (avx512)
		printf("| AVX-512 | %.0f GFLOP/s | %.0f GFLOP/s |\n", p512, p512 * cpus);
	printf("| AVX2 | %.0f GFLOP/s | %.0f GFLOP/s |\n\n", p256, p256 * cpus);

	/* 2. Load time and memory. */
	rss(&t, &a, &f);
	double loads[5];
	struct embedder *e = NULL;
	for (int i = 0; i < 5; i++) {
		embedder_free(e);
		double t0 = time_mono_ms();
		e = open_embedder(&cfg);
		loads[i] = time_mono_ms() - t0;
	}
	qsort(loads, 5, sizeof(double), cmp_double);
	rss(&t1, &a1, &f1);
	printf("### Model\n\n| Load (median of 5) | Resident after load | of it mapped weights "
	       "(file, shared) | of it private |\n|---:|---:|---:|---:|\n");
	printf("| %.1f ms | +%.1f MiB | +%.1f MiB | +%.1f MiB |\n\n", loads[2], t1 - t, f1 - f,
	       a1 - a);

	/* 3. Chunks a second. */
	size_t pieces;
	char **chunks = make_chunks(e, &ns, &pieces);
	double cost[NCHUNKS];
	for (size_t i = 0; i < NCHUNKS; i++)
		cost[i] = flops_of(pieces_of(e, chunks[i]));
	printf("### Chunks of about %d pieces (%.0f on average), %zu a call as the worker sends "
	       "them\n\n",
	       CHUNK_PIECES, (double)pieces / NCHUNKS, e->max_batch);
	printf("| Cores | chunks/s | pieces/s | CPUs busy | chunks per CPU-second | GFLOP per "
	       "CPU-second | of a core's limit |\n|---|---:|---:|---:|---:|---:|---:|\n");
	sched_setaffinity(0, sizeof(one), &one);
	chunk_rate(&cfg, chunks, cost, pieces, limit, 1);
	sched_setaffinity(0, sizeof(all), &all);
	chunk_rate(&cfg, chunks, cost, pieces, limit, cpus);
	rss(&t1, &a1, &f1);
	printf("\nResident memory of the process after that: %.1f MiB.\n\n", t1);

	/* 4. A query alone. */
	const char *query = "how often should I check the tyre pressure on the car";
	double *lat = xmalloc(QUERIES * sizeof(double));
	float v[DIM];
	double qc0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < QUERIES; i++) {
		double t0 = time_mono_ms();
		if (embedder_embed(e, &query, 1, v, &err))
			die("embed", &err);
		lat[i] = time_mono_ms() - t0;
	}
	double qcpu = (cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - qc0) / QUERIES * 1000;
	qsort(lat, QUERIES, sizeof(double), cmp_double);
	printf("### A 10-word query (%zu pieces), %d times, one after another\n\n"
	       "| p50 | p95 | p99 | CPU time a query |\n|---:|---:|---:|---:|\n"
	       "| %.2f ms | %.2f ms | %.2f ms | %.2f ms |\n\n",
	       pieces_of(e, query), QUERIES, lat[QUERIES / 2], lat[QUERIES * 95 / 100],
	       lat[QUERIES * 99 / 100], qcpu);
	free(lat);

	/* 5. 2,000 notes through the worker; first what its chunks are like. */
	size_t nchunk = 0, cap = 0, *np = NULL, windows = 0;
	for (size_t i = 0; i < ns.n; i++) {
		struct chunk *cs;
		size_t n = chunker_split(ns.title[i], ns.content[i], &cs);
		for (size_t k = 0; k < n; k++) {
			char *in = chunker_embed_input(ns.title[i], cs[k].heading, cs[k].text);
			if (nchunk == cap)
				np = xrealloc(np, (cap = cap ? 2 * cap : 256) * sizeof(*np));
			np[nchunk] = pieces_of(e, in);
			windows += (np[nchunk] + 127) / 128;
			nchunk++;
			free(in);
		}
		chunks_free(cs, n);
	}
	double sum = 0;
	for (size_t i = 0; i < nchunk; i++)
		sum += (double)np[i];
	qsort(np, nchunk, sizeof(*np), cmp_size);
	printf("### The chunks of eval/notes.jsonl as the worker embeds them\n\n"
	       "| Chunks | pieces: mean | median | max | windows of <= 128 a chunk |\n"
	       "|---:|---:|---:|---:|---:|\n| %zu | %.0f | %zu | %zu | %.2f |\n\n",
	       nchunk, sum / (double)nchunk, np[nchunk / 2], np[nchunk - 1],
	       (double)windows / (double)nchunk);
	free(np);

	char dir[] = "/tmp/vault-bench-embed-XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	char *url = xasprintf("sqlite:///%s/vault.db", dir);
	struct store *st;
	struct store_opts opts = {.busy_timeout_ms = 5000, .embedding_dim = DIM};
	struct svc svc;
	struct user u;
	int applied;
	if (store_open(url, &opts, &st, &err) || store_migrate_up(st, -1, &applied, &err) ||
	    svc_init(&svc, st, &cfg, &err) ||
	    auth_register(&svc, "bench@example.com", "bench-password-1", &u, &err))
		die("database", &err);
	for (size_t i = 0; i < NOTES; i++) {
		char *title = xasprintf("%s (%zu)", ns.title[i % ns.n], i / ns.n + 1);
		struct note_fields nf = {.title = title, .content = ns.content[i % ns.n]};
		struct note out;
		if (notes_create(&svc, u.id, &nf, &out, &err))
			die("note", &err);
		note_free(&out);
		free(title);
	}
	size_t chunks_done = 0, embedded, failed;
	double t0 = time_mono_ms(), c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
	do {
		if (embed_worker_run_once(&svc, &embedded, &failed, &err))
			die("worker", &err);
		if (failed)
			die("worker: embedding failed", NULL);
		chunks_done += embedded;
	} while (embedded > 0);
	double secs = (time_mono_ms() - t0) / 1000;
	double cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
	printf("### %d notes of eval/notes.jsonl through the worker (SQLite)\n\n"
	       "| Chunks | Time | notes/s | chunks/s | CPUs busy | CPU time |\n"
	       "|---:|---:|---:|---:|---:|---:|\n| %zu | %.1f s | %.1f | %.1f | %.2f | %.1f s |\n",
	       NOTES, chunks_done, secs, NOTES / secs, chunks_done / secs, cpu / secs, cpu);
	svc_cleanup(&svc);
	store_close(st);
	char *rm = xasprintf("rm -rf '%s'", dir);
	if (system(rm) != 0)
		fprintf(stderr, "embed_speed: could not remove %s\n", dir);
	free(rm);
	free(url);

	for (size_t i = 0; i < NCHUNKS; i++)
		free(chunks[i]);
	free(chunks);
	for (size_t i = 0; i < ns.n; i++) {
		free(ns.title[i]);
		free(ns.content[i]);
	}
	free(ns.title);
	free(ns.content);
	embedder_free(e);
	config_free(&cfg);
	return 0;
}
