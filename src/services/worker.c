/*
 * worker.c - claims pending chunks in batches, embeds them, stores vectors.
 *
 * When the store fails (a full disk, an I/O error, the database gone) the
 * thread backs off, 1 s doubling to 30 s, and keeps the vectors it could
 * not store: the next attempt stores them before claiming anything new, so
 * a full disk never makes the provider embed the same text twice.
 */
#include "services/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "services/chunker.h"

#define POLL_MS                500
#define PAUSE_AFTER_FAILURE_MS 2000
#define BACKOFF_BASE_MS        5000
#define BACKOFF_MAX_MS         (60 * 60 * 1000)
#define STORE_BACKOFF_BASE_MS  1000
#define STORE_BACKOFF_MAX_MS   30000

/* Vectors of claimed chunks that the store failed to take. */
struct unstored {
	struct embed_job *jobs;
	size_t n;
	float *vecs;
};

struct embed_worker {
	struct svc *svc;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, kicked;
	struct unstored held; /* only the thread touches it */
};

/* Long enough for one batch with every retry the provider may take. */
static int64_t lease_ms(const struct config *cfg)
{
	return ((int64_t)cfg->ai_timeout_seconds * (cfg->ai_max_retries + 1) + 60) * 1000;
}

/* Exponential backoff with jitter: about 5 s, 10 s, 20 s ... up to an hour. */
static int64_t retry_delay_ms(int attempts)
{
	int64_t d = BACKOFF_BASE_MS;
	for (int i = 0; i < attempts && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	unsigned r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0;
	return d / 2 + (int64_t)(r % (unsigned)(d / 2 + 1));
}

static void unstored_clear(struct unstored *u)
{
	embed_jobs_free(u->jobs, u->n);
	free(u->vecs);
	*u = (struct unstored){0};
}

/* Stores the vectors (n x the embedder's dim) of jobs. */
static enum verr store_vectors(struct svc *svc, const struct embed_job *jobs, size_t n,
                               const float *vecs, struct verror *err)
{
	int64_t *ids = xcalloc(n, sizeof(int64_t));
	const char **hashes = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		ids[i] = jobs[i].chunk_id;
		hashes[i] = jobs[i].hash;
	}
	enum verr rc = store_embed_done(svc->store, ids, hashes, n, svc->embedder->model,
	                                svc->embedder->dim, vecs, time_now_ms(), err);
	free(ids);
	free(hashes);
	return rc;
}

/*
 * One batch, as embed_worker_run_once. With held (the thread's), vectors
 * the store refuses are kept there, and stored first the next time instead
 * of claiming a batch.
 */
static enum verr run_batch(struct svc *svc, struct unstored *held, size_t *embedded, size_t *failed,
                           struct verror *err)
{
	struct embed_job *jobs = NULL;
	size_t n = 0, limit = svc->embedder->max_batch;
	if (limit > (size_t)svc->cfg->embed_batch_size)
		limit = (size_t)svc->cfg->embed_batch_size;
	*embedded = *failed = 0;
	if (held && held->n > 0) {
		enum verr rc = store_vectors(svc, held->jobs, held->n, held->vecs, err);
		if (rc == VERR_OK) {
			*embedded = held->n;
			metrics_embed_chunks(held->n, true);
			unstored_clear(held);
		}
		return rc;
	}
	enum verr rc =
	    store_embed_claim(svc->store, limit, time_now_ms(), lease_ms(svc->cfg), &jobs, &n, err);
	if (rc || n == 0)
		return rc;

	int dim = svc->embedder->dim;
	char **inputs = xcalloc(n, sizeof(char *));
	float *vecs = xmalloc(n * (size_t)dim * sizeof(float));
	for (size_t i = 0; i < n; i++)
		inputs[i] = chunker_embed_input(jobs[i].title, jobs[i].heading, jobs[i].text);

	struct verror perr;
	verr_clear(&perr);
	double t0 = time_mono_ms();
	enum verr prc = embedder_embed(svc->embedder, (const char *const *)inputs, n, vecs, &perr);
	int64_t now = time_now_ms();
	bool kept = false;
	if (prc == VERR_OK) {
		rc = store_vectors(svc, jobs, n, vecs, err);
		if (rc == VERR_OK)
			log_emit(LOG_DEBUG, "embedded",
			         json_pack("{s:I,s:f}", "chunks", (json_int_t)n, "ms",
			                   time_mono_ms() - t0));
		else if ((kept = held != NULL))
			*held = (struct unstored){.jobs = jobs, .n = n, .vecs = vecs};
	} else {
		log_emit(
		    LOG_WARNING, "embed_failed",
		    json_pack("{s:I,s:s}", "chunks", (json_int_t)n, "error", verr_detail(&perr)));
	}
	for (size_t i = 0; prc != VERR_OK && i < n && rc == VERR_OK; i++) {
		bool give_up = jobs[i].attempts + 1 >= EMBED_MAX_ATTEMPTS;
		rc = store_embed_failed(svc->store, jobs[i].chunk_id, jobs[i].hash,
		                        verr_detail(&perr), now + retry_delay_ms(jobs[i].attempts),
		                        give_up, err);
	}
	if (rc == VERR_OK) {
		*(prc == VERR_OK ? embedded : failed) = n;
		metrics_embed_chunks(n, prc == VERR_OK);
	}
	for (size_t i = 0; i < n; i++)
		free(inputs[i]);
	free(inputs);
	if (!kept) {
		free(vecs);
		embed_jobs_free(jobs, n);
	}
	return rc;
}

enum verr embed_worker_run_once(struct svc *svc, size_t *embedded, size_t *failed,
                                struct verror *err)
{
	return run_batch(svc, NULL, embedded, failed, err);
}

/* The wait after the k-th store failure in a row (from 0): 1 s doubling to 30 s. */
static long store_backoff_ms(int k)
{
	long d = STORE_BACKOFF_BASE_MS;
	for (int i = 0; i < k && d < STORE_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < STORE_BACKOFF_MAX_MS ? d : STORE_BACKOFF_MAX_MS;
}

static void *run(void *arg)
{
	struct embed_worker *w = arg;
	int store_errors = 0; /* in a row */
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		pthread_mutex_unlock(&w->mu);
		size_t embedded = 0, failed = 0;
		long wait_ms = POLL_MS;
		struct verror err;
		if (run_batch(w->svc, &w->held, &embedded, &failed, &err)) {
			/* At once, it would fail the same way; new work cannot help it. */
			wait_ms = store_backoff_ms(store_errors++);
			log_emit(LOG_ERROR, "embed_worker_error",
			         json_pack("{s:s,s:i,s:I}", "error", verr_detail(&err),
			                   "retry_in_ms", (int)wait_ms, "unstored_chunks",
			                   (json_int_t)w->held.n));
		} else {
			store_errors = 0;
			if (failed > 0)
				wait_ms = PAUSE_AFTER_FAILURE_MS;
		}
		pthread_mutex_lock(&w->mu);
		if (w->stop || (store_errors == 0 && embedded > 0))
			continue;
		/*
		 * Nothing due, or the provider is failing: wait, unless woken for
		 * new work. After a store error, wait the whole backoff.
		 */
		if (store_errors > 0 || failed > 0 || !w->kicked) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += wait_ms * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			while (pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT &&
			       store_errors > 0 && !w->stop)
				;
		}
		w->kicked = false;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

enum verr embed_worker_start(struct svc *svc, struct verror *err)
{
	struct embed_worker *w = xcalloc(1, sizeof(*w));
	pthread_condattr_t ca;
	w->svc = svc;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return verr_set(err, VERR_INTERNAL, "cannot start the embedding worker: %s",
		                strerror(errno));
	}
	svc->worker = w;
	static const char *const providers[] = {
	    [EMBED_LOCAL] = "local", [EMBED_HASH] = "hash", [EMBED_OPENAI] = "openai"};
	log_emit(LOG_INFO, "embed_worker_started",
	         json_pack("{s:s,s:s,s:i}", "provider", providers[svc->cfg->embedding_provider],
	                   "model", svc->embedder->model, "dim", svc->embedder->dim));
	return VERR_OK;
}

void embed_worker_kick(struct embed_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->kicked = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void embed_worker_stop(struct embed_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	unstored_clear(&w->held); /* their leases run out, and they are embedded again */
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

enum verr embed_reindex(struct svc *svc, int64_t user_id, int64_t *count, struct verror *err)
{
	return store_reindex(svc->store, user_id, count, err);
}
