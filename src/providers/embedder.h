/*
 * embedder.h - turns texts into vectors, behind one small interface.
 *
 * A provider fills struct embedder_ops and embeds struct embedder first in
 * its own handle: embed_use.c (the built-in neural model, no network),
 * embed_hash.c (built in, hashed words, no model file) and embed_openai.c
 * (any OpenAI-compatible /v1/embeddings). A new provider is one new file
 * plus a line in embedder_new().
 *
 * Vectors come back L2-normalised, dim floats per text, so cosine
 * similarity is a dot product. Safe to call from several threads at once.
 */
#ifndef VAULT_PROVIDERS_EMBEDDER_H
#define VAULT_PROVIDERS_EMBEDDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

struct embedder;

struct embedder_ops {
	/*
	 * Embeds n texts into out (n * dim floats, caller-allocated). On
	 * failure out is undefined and the error says why: VERR_AI_UNAVAILABLE
	 * "AI service unavailable: ..." when the provider cannot be reached,
	 * times out, answers garbage or wrong dimensions, or its circuit
	 * breaker is open.
	 */
	enum verr (*embed)(struct embedder *e, const char *const *texts, size_t n, float *out,
	                   struct verror *err);
	/*
	 * Optional: one search query, for someone waiting. A remote provider
	 * gives it one attempt of AI_QUERY_TIMEOUT_SECONDS instead of embed()'s
	 * retries; NULL for providers that answer at once anyway.
	 */
	enum verr (*embed_query)(struct embedder *e, const char *text, float *out,
	                         struct verror *err);
	void (*free)(struct embedder *e);
};

struct embedder {
	const struct embedder_ops *ops;
	const char *model; /* recorded with every vector */
	int dim;
	size_t max_batch;     /* texts per embed() call the caller should not exceed */
	bool local;           /* runs in process: cannot fail for want of a network */
	const char *provider; /* EMBEDDING_PROVIDER's name, for the metrics; set by embedder_new */
};

/* The provider cfg names; borrows cfg, which must outlive it. */
enum verr embedder_new(const struct config *cfg, struct embedder **out, struct verror *err);

/* e->ops->embed, counted and timed in the metrics (core/metrics.h). */
enum verr embedder_embed(struct embedder *e, const char *const *texts, size_t n, float *out,
                         struct verror *err);

/* A search query's vector, through embed_query when the provider has one; counted too. */
enum verr embedder_embed_query(struct embedder *e, const char *text, float *out,
                               struct verror *err);

void embedder_free(struct embedder *e); /* accepts NULL */

/*
 * The local model's sentence piece ids for text (*ids caller-freed, NULL
 * when *n is 0), as its embed() cuts it; VERR_INVALID for another provider.
 */
enum verr embed_use_tokens(struct embedder *e, const char *text, int32_t **ids, size_t *n,
                           struct verror *err);

/* Constructors of the providers, used by embedder_new(). */
enum verr embed_use_new(const struct config *cfg, struct embedder **out, struct verror *err);
enum verr embed_hash_new(const struct config *cfg, struct embedder **out, struct verror *err);
enum verr embed_openai_new(const struct config *cfg, struct embedder **out, struct verror *err);

#endif
