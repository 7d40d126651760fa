/*
 * embedder.c - picks the embedding provider EMBEDDING_PROVIDER names.
 */
#include "providers/embedder.h"

enum verr embedder_new(const struct config *cfg, struct embedder **out, struct verror *err)
{
	*out = NULL;
	switch (cfg->embedding_provider) {
	case EMBED_LOCAL:
		return embed_use_new(cfg, out, err);
	case EMBED_HASH:
		return embed_hash_new(cfg, out, err);
	case EMBED_OPENAI:
		return embed_openai_new(cfg, out, err);
	}
	return verr_set(err, VERR_INVALID, "EMBEDDING_PROVIDER: expected local, hash or openai");
}

void embedder_free(struct embedder *e)
{
	if (e)
		e->ops->free(e);
}
