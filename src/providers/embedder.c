/*
 * embedder.c - picks the embedding provider EMBEDDING_PROVIDER names.
 */
#include "providers/embedder.h"

#include "core/metrics.h"
#include "core/timeutil.h"

enum verr embedder_new(const struct config *cfg, struct embedder **out, struct verror *err)
{
	enum verr rc = VERR_INVALID;
	*out = NULL;
	switch (cfg->embedding_provider) {
	case EMBED_LOCAL:
		rc = embed_use_new(cfg, out, err);
		break;
	case EMBED_HASH:
		rc = embed_hash_new(cfg, out, err);
		break;
	case EMBED_OPENAI:
		rc = embed_openai_new(cfg, out, err);
		break;
	default:
		return verr_set(err, VERR_INVALID,
		                "EMBEDDING_PROVIDER: expected local, hash or openai");
	}
	static const char *const names[] = {
	    [EMBED_LOCAL] = "local", [EMBED_HASH] = "hash", [EMBED_OPENAI] = "openai"};
	if (rc == VERR_OK)
		(*out)->provider = names[cfg->embedding_provider];
	return rc;
}

enum verr embedder_embed(struct embedder *e, const char *const *texts, size_t n, float *out,
                         struct verror *err)
{
	double t0 = time_mono_ms();
	enum verr rc = e->ops->embed(e, texts, n, out, err);
	if (e->provider) /* made by embedder_new, not by a test calling a constructor */
		metrics_provider_call(e->provider, "embed", rc == VERR_OK,
		                      (time_mono_ms() - t0) / 1000);
	return rc;
}

enum verr embedder_embed_query(struct embedder *e, const char *text, float *out, struct verror *err)
{
	if (!e->ops->embed_query)
		return embedder_embed(e, &text, 1, out, err);
	double t0 = time_mono_ms();
	enum verr rc = e->ops->embed_query(e, text, out, err);
	if (e->provider)
		metrics_provider_call(e->provider, "embed_query", rc == VERR_OK,
		                      (time_mono_ms() - t0) / 1000);
	return rc;
}

void embedder_free(struct embedder *e)
{
	if (e)
		e->ops->free(e);
}
