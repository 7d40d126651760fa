/*
 * embed_use.c - the built-in neural embedder (EMBEDDING_PROVIDER=local):
 * Universal Sentence Encoder Lite, 512 dimensions, no network (use.h).
 *
 * The model never saw more than USE_MAX_TOKENS pieces (its graph drops the
 * rest), so a longer text is cut into windows of at most that many, as
 * equal as possible, and each window runs through the transformer alone.
 * The output layer then takes the mean over every piece of every window,
 * which is the model's own mean pooling over the whole text: a text that
 * fits one window gets exactly the model's vector, a longer one a vector
 * every part of it counts in equally. Nothing is cut off.
 *
 * A call spreads its windows over up to one thread per CPU (at most
 * MAX_THREADS), itself included; the threads it may add are counted
 * against that bound across concurrent calls, so several callers never
 * run more encoder threads than there are CPUs. OpenBLAS runs
 * single-threaded inside each. Each thread borrows its scratch memory
 * from a small pool the embedder keeps.
 */
#include "providers/embedder.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "providers/use.h"

/*
 * Texts the worker sends at once: a chunk is up to ~1,200 pieces (10
 * windows; ~21,600 for text NFKC expands), and a stopping server waits for
 * the batch in hand, so 8 keep a batch to a fraction of a second (a few
 * seconds at worst) while still giving both cores windows to share.
 */
#define USE_MAX_BATCH   8
#define MAX_THREADS     8
#define SCRATCH_TOKENS  512 /* pieces one use_encode() call stacks: about 9 MiB of scratch */
#define TOKENS_A_THREAD 64  /* fewer than this per thread and a thread is not worth starting */

struct embed_use {
	struct embedder base; /* first, so a struct embedder * is a struct embed_use * */
	struct use_model *model;
	int threads;     /* encoder threads a call may use, itself included */
	atomic_int busy; /* helper threads running, across calls */
	/*
	 * Scratch memory kept between calls (at most threads of them): a
	 * fresh 9 MiB for every call of 8 chunks cost about a fifth of the
	 * time in page faults.
	 */
	pthread_mutex_t lock; /* guards idle */
	struct use_scratch *idle[MAX_THREADS];
	int nidle;
};

static struct use_scratch *scratch_get(struct embed_use *u)
{
	struct use_scratch *s = NULL;
	pthread_mutex_lock(&u->lock);
	if (u->nidle > 0)
		s = u->idle[--u->nidle];
	pthread_mutex_unlock(&u->lock);
	return s ? s : use_scratch_new(SCRATCH_TOKENS);
}

static void scratch_put(struct embed_use *u, struct use_scratch *s)
{
	pthread_mutex_lock(&u->lock);
	if (u->nidle < u->threads) {
		u->idle[u->nidle++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&u->lock);
	use_scratch_free(s);
}

/* The windows of one call, stacked. */
struct windows {
	int32_t *ids;   /* every text's pieces, one after the other */
	int *lens;      /* pieces per window */
	size_t *start;  /* first piece of each window in ids */
	size_t *text;   /* the text each window belongs to */
	size_t n, cap;  /* windows */
	size_t pieces;  /* total */
	size_t ids_cap; /* room in ids */
};

static void windows_add(struct windows *w, size_t text, const int32_t *ids, size_t count)
{
	size_t nwin = (count + USE_MAX_TOKENS - 1) / USE_MAX_TOKENS;
	if (count == 0)
		return; /* no window: the text pools to zero */
	if (w->n + nwin > w->cap) {
		w->cap = (w->n + nwin) * 2;
		w->lens = xrealloc(w->lens, w->cap * sizeof(*w->lens));
		w->start = xrealloc(w->start, w->cap * sizeof(*w->start));
		w->text = xrealloc(w->text, w->cap * sizeof(*w->text));
	}
	if (w->pieces + count > w->ids_cap) {
		w->ids_cap = (w->pieces + count) * 2;
		w->ids = xrealloc(w->ids, w->ids_cap * sizeof(*w->ids));
	}
	memcpy(w->ids + w->pieces, ids, count * sizeof(*ids));
	/* Equal windows: a 130-piece text is 65 + 65, not 128 + 2. */
	for (size_t k = 0; k < nwin; k++) {
		size_t len = count / nwin + (k < count % nwin);
		w->lens[w->n] = (int)len;
		w->start[w->n] = w->pieces;
		w->text[w->n] = text;
		w->pieces += len;
		w->n++;
	}
}

static void windows_cleanup(struct windows *w)
{
	free(w->ids);
	free(w->lens);
	free(w->start);
	free(w->text);
}

/* What one thread encodes: windows [first, last), sums into sums[window]. */
struct job {
	struct embed_use *u;
	const struct windows *w;
	size_t first, last;
	float *sums;
	pthread_t thread;
};

static void *encode_range(void *arg)
{
	struct job *j = arg;
	const struct windows *w = j->w;
	size_t pieces = 0;
	for (size_t i = j->first; i < j->last; i++)
		pieces += (size_t)w->lens[i];
	if (pieces == 0)
		return NULL;
	struct use_scratch *s = scratch_get(j->u);
	for (size_t i = j->first; i < j->last;) {
		size_t end = i, rows = 0;
		while (end < j->last && rows + (size_t)w->lens[end] <= use_scratch_tokens(s))
			rows += (size_t)w->lens[end++];
		use_encode(j->u->model, w->ids + w->start[i], w->lens + i, end - i, s,
		           j->sums + i * USE_DIM);
		i = end;
	}
	scratch_put(j->u, s);
	return NULL;
}

/* Takes up to want helper slots of the call-wide bound; returns how many. */
static int reserve_helpers(struct embed_use *u, int want)
{
	int busy = atomic_load(&u->busy), got;
	do {
		got = u->threads - 1 - busy;
		if (got > want)
			got = want;
		if (got <= 0)
			return 0;
	} while (!atomic_compare_exchange_weak(&u->busy, &busy, busy + got));
	return got;
}

/* Encodes every window into sums, on this thread and the helpers it may take. */
static void encode_all(struct embed_use *u, const struct windows *w, float *sums)
{
	size_t want = w->pieces / TOKENS_A_THREAD;
	if (want > w->n)
		want = w->n;
	int helpers = want > 1 ? reserve_helpers(u, (int)want - 1) : 0;
	struct job jobs[MAX_THREADS];
	size_t parts = (size_t)helpers + 1, first = 0, done = 0;

	/* Contiguous ranges of about equal pieces each. */
	for (size_t p = 0; p < parts; p++) {
		size_t last = first, goal = w->pieces * (p + 1) / parts;
		while (last < w->n &&
		       (p == parts - 1 || done + (size_t)w->lens[last] <= goal || last == first)) {
			done += (size_t)w->lens[last];
			last++;
		}
		jobs[p] = (struct job){u, w, first, last, sums, 0};
		first = last;
	}
	size_t started = 0;
	for (size_t p = 1; p < parts; p++, started++)
		if (pthread_create(&jobs[p].thread, NULL, encode_range, &jobs[p]) != 0)
			break;
	/* A helper that could not start leaves its range to this thread. */
	for (size_t p = started + 1; p < parts; p++)
		encode_range(&jobs[p]);
	encode_range(&jobs[0]);
	for (size_t p = 1; p <= started; p++)
		pthread_join(jobs[p].thread, NULL);
	atomic_fetch_sub(&u->busy, helpers);
}

static enum verr use_embed(struct embedder *e, const char *const *texts, size_t n, float *out,
                           struct verror *err)
{
	struct embed_use *u = (struct embed_use *)e;
	struct windows w = {0};
	size_t *count = NULL;
	float *sums = NULL;

	for (size_t i = 0; i < n; i++)
		if (!texts[i])
			return verr_set(err, VERR_INVALID, "embed: text %zu is NULL", i);
	if (n == 0)
		return VERR_OK;
	count = xcalloc(n, sizeof(*count));
	for (size_t i = 0; i < n; i++) {
		int32_t *ids;
		count[i] = use_tokenize(&u->model->vocab, texts[i], &ids);
		windows_add(&w, i, ids, count[i]);
		free(ids);
	}
	sums = xmalloc((w.n ? w.n : 1) * USE_DIM * sizeof(float));
	if (w.n)
		encode_all(u, &w, sums);

	/* Mean over each text's pieces (none: the zero vector, as the graph pools it). */
	memset(out, 0, n * USE_DIM * sizeof(float));
	for (size_t k = 0; k < w.n; k++)
		for (int j = 0; j < USE_DIM; j++)
			out[w.text[k] * USE_DIM + j] += sums[k * USE_DIM + j];
	for (size_t i = 0; i < n; i++)
		if (count[i] > 1)
			for (int j = 0; j < USE_DIM; j++)
				out[i * USE_DIM + j] /= (float)count[i];
	use_head(u->model, out, n);

	windows_cleanup(&w);
	free(sums);
	free(count);
	return VERR_OK;
}

static void use_free(struct embedder *e)
{
	struct embed_use *u = (struct embed_use *)e;
	if (!u)
		return;
	for (int i = 0; i < u->nidle; i++)
		use_scratch_free(u->idle[i]);
	pthread_mutex_destroy(&u->lock);
	use_model_free(u->model);
	free(u);
}

static const struct embedder_ops use_ops = {
    .embed = use_embed,
    .free = use_free,
};

enum verr embed_use_tokens(struct embedder *e, const char *text, int32_t **ids, size_t *n,
                           struct verror *err)
{
	*ids = NULL;
	*n = 0;
	if (e->ops != &use_ops)
		return verr_set(
		    err, VERR_INVALID,
		    "only the local model (EMBEDDING_PROVIDER=local) has sentence pieces");
	*n = use_tokenize(&((struct embed_use *)e)->model->vocab, text, ids);
	return VERR_OK;
}

/*
 * The neural embedder from the model in cfg->embedding_model_dir; borrows
 * cfg. VERR_INVALID with one line saying how to fetch the model when its
 * files are missing or not the published ones, or when EMBEDDING_DIM is not
 * 512. Free with embedder_free().
 */
enum verr embed_use_new(const struct config *cfg, struct embedder **out, struct verror *err)
{
	struct use_model *m;
	cpu_set_t cpus;
	enum verr rc;

	*out = NULL;
	if (cfg->embedding_dim != USE_DIM)
		return verr_set(err, VERR_INVALID,
		                "EMBEDDING_DIM: is %d but the local model gives %d dimensions; "
		                "expected %d (or unset)",
		                cfg->embedding_dim, USE_DIM, USE_DIM);
	if ((rc = use_model_load(cfg->embedding_model_dir, &m, err)))
		return rc;
	/* Threads are ours (encode_all); OpenBLAS's own would only compete with them. */
	openblas_set_num_threads(1);

	struct embed_use *u = xcalloc(1, sizeof(*u));
	u->base.ops = &use_ops;
	u->base.model = cfg->embedding_model;
	u->base.dim = USE_DIM;
	u->base.max_batch = USE_MAX_BATCH;
	u->base.local = true;
	u->model = m;
	u->threads = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
	if (u->threads > MAX_THREADS)
		u->threads = MAX_THREADS;
	atomic_init(&u->busy, 0);
	pthread_mutex_init(&u->lock, NULL);
	*out = &u->base;
	return VERR_OK;
}
