/*
 * worker.c - claims pending chunks in batches, embeds them, stores vectors.
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
#include "core/timeutil.h"
#include "services/chunker.h"

#define POLL_MS                500
#define PAUSE_AFTER_FAILURE_MS 2000
#define BACKOFF_BASE_MS        5000
#define BACKOFF_MAX_MS         (60 * 60 * 1000)

struct embed_worker {
	struct svc *svc;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, kicked;
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

enum verr embed_worker_run_once(struct svc *svc, size_t *embedded, size_t *failed,
                                struct verror *err)
{
	struct embed_job *jobs = NULL;
	size_t n = 0, limit = svc->embedder->max_batch;
	if (limit > (size_t)svc->cfg->embed_batch_size)
		limit = (size_t)svc->cfg->embed_batch_size;
	*embedded = *failed = 0;
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
	if (prc == VERR_OK) {
		int64_t *ids = xcalloc(n, sizeof(int64_t));
		const char **hashes = xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			ids[i] = jobs[i].chunk_id;
			hashes[i] = jobs[i].hash;
		}
		rc = store_embed_done(svc->store, ids, hashes, n, svc->embedder->model, dim, vecs,
		                      now, err);
		free(ids);
		free(hashes);
	}
	for (size_t i = 0; prc != VERR_OK && i < n && rc == VERR_OK; i++) {
		bool give_up = jobs[i].attempts + 1 >= EMBED_MAX_ATTEMPTS;
		rc = store_embed_failed(svc->store, jobs[i].chunk_id, jobs[i].hash,
		                        verr_detail(&perr), now + retry_delay_ms(jobs[i].attempts),
		                        give_up, err);
	}
	if (prc == VERR_OK)
		log_emit(
		    LOG_DEBUG, "embedded",
		    json_pack("{s:I,s:f}", "chunks", (json_int_t)n, "ms", time_mono_ms() - t0));
	else
		log_emit(
		    LOG_WARNING, "embed_failed",
		    json_pack("{s:I,s:s}", "chunks", (json_int_t)n, "error", verr_detail(&perr)));
	for (size_t i = 0; i < n; i++)
		free(inputs[i]);
	free(inputs);
	free(vecs);
	embed_jobs_free(jobs, n);
	*(prc == VERR_OK ? embedded : failed) = n;
	return rc;
}

static void *run(void *arg)
{
	struct embed_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		pthread_mutex_unlock(&w->mu);
		size_t embedded = 0, failed = 0;
		struct verror err;
		if (embed_worker_run_once(w->svc, &embedded, &failed, &err))
			log_emit(LOG_ERROR, "embed_worker_error",
			         json_pack("{s:s}", "error", verr_detail(&err)));
		pthread_mutex_lock(&w->mu);
		if (embedded > 0 || w->stop)
			continue;
		/* Nothing due, or the provider is failing: wait, unless woken for new work. */
		if (!w->kicked || failed > 0) {
			long wait_ms = failed > 0 ? PAUSE_AFTER_FAILURE_MS : POLL_MS;
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += wait_ms * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&w->cv, &w->mu, &until);
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
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

enum verr embed_reindex(struct svc *svc, int64_t user_id, int64_t *count, struct verror *err)
{
	return store_reindex(svc->store, user_id, count, err);
}
