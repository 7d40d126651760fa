/*
 * services.c - the shared service context.
 */
#include "services/services.h"

#include <string.h>

#include "core/lane.h"
#include "core/lru.h"
#include "core/ratelimit.h"
#include "services/auth.h"
#include "services/search.h"
#include "services/worker.h"

#define LANE_QUEUE_PER_THREAD 32    /* logins waiting for bcrypt, per thread, before 503 */
#define RATELIMIT_KEYS        65536 /* accounts remembered by the login limiter */
#define QUERY_CACHE_SLOTS     256   /* search queries whose vectors are kept, all users' */

enum verr svc_init(struct svc *svc, struct store *store, const struct config *cfg,
                   struct verror *err)
{
	enum verr rc;
	memset(svc, 0, sizeof(*svc));
	svc->store = store;
	svc->cfg = cfg;
	svc->bcrypt =
	    lane_new(cfg->bcrypt_threads, LANE_QUEUE_PER_THREAD * (size_t)cfg->bcrypt_threads);
	svc->logins =
	    ratelimit_new(cfg->login_rate_per_minute, cfg->login_rate_per_minute, RATELIMIT_KEYS);
	pthread_mutex_init(&svc->dummy_mu, NULL);
	if ((rc = embedder_new(cfg, &svc->embedder, err)) || (rc = llm_new(cfg, &svc->llm, err))) {
		svc_cleanup(svc);
		return rc;
	}
	svc->tokens = auth_token_cache_new();
	svc->queries = lru_new(QUERY_CACHE_SLOTS, (size_t)svc->embedder->dim * sizeof(float));
	return VERR_OK;
}

void svc_cleanup(struct svc *svc)
{
	embed_worker_stop(svc->worker);
	llm_free(svc->llm);
	embedder_free(svc->embedder);
	lru_free(svc->queries);
	lru_free(svc->tokens);
	ratelimit_free(svc->logins);
	lane_free(svc->bcrypt);
	pthread_mutex_destroy(&svc->dummy_mu);
	svc->logins = NULL;
	svc->bcrypt = NULL;
	svc->worker = NULL;
	svc->llm = NULL;
	svc->embedder = NULL;
}

void svc_embedding_model(const struct svc *svc, const char **model, int *dim)
{
	*model = svc->embedder->model;
	*dim = svc->embedder->dim;
}

void svc_metrics_gauges(struct svc *svc, struct metrics_gauges *g)
{
	struct store_stats st;
	struct verror err;
	bool known = store_stats(svc->store, &st, &err) == VERR_OK;
	*g = (struct metrics_gauges){
	    .chunks_pending = known ? st.chunks_pending : -1,
	    .chunks_failed = known ? st.chunks_failed : -1,
	    .pool_open = st.pool_open,
	    .pool_in_use = st.pool_in_use,
	    .pool_max = st.pool_max,
	    .pool_waits = st.pool_waits,
	    .pool_timeouts = st.pool_timeouts,
	    .vector_cache_bytes = st.vector_cache_bytes,
	    .db_writes = st.writes,
	    .db_commits = st.commits,
	};
}

enum verr svc_ping(struct svc *svc, struct verror *err)
{
	if (store_ping(svc->store, err))
		return verr_set(err, VERR_UNAVAILABLE, "database unavailable");
	return VERR_OK;
}
