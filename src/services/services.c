/*
 * services.c - the shared service context.
 */
#include "services/services.h"

#include <string.h>

#include "services/search.h"
#include "services/worker.h"

enum verr svc_init(struct svc *svc, struct store *store, const struct config *cfg,
                   struct verror *err)
{
	enum verr rc;
	memset(svc, 0, sizeof(*svc));
	svc->store = store;
	svc->cfg = cfg;
	if ((rc = embedder_new(cfg, &svc->embedder, err)) || (rc = llm_new(cfg, &svc->llm, err)) ||
	    (rc = password_hash("vault-timing-equaliser", cfg->bcrypt_rounds, svc->dummy_hash,
	                        err))) {
		svc_cleanup(svc);
		return rc;
	}
	svc->vectors = vector_cache_new();
	return VERR_OK;
}

void svc_cleanup(struct svc *svc)
{
	embed_worker_stop(svc->worker);
	vector_cache_free(svc->vectors);
	llm_free(svc->llm);
	embedder_free(svc->embedder);
	svc->worker = NULL;
	svc->vectors = NULL;
	svc->llm = NULL;
	svc->embedder = NULL;
}

enum verr svc_ping(struct svc *svc, struct verror *err)
{
	if (store_ping(svc->store, err))
		return verr_set(err, VERR_UNAVAILABLE, "database unavailable");
	return VERR_OK;
}
