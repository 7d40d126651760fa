/*
 * embed_openai.c - embeddings from any OpenAI-compatible /v1/embeddings
 * (OpenAI, Ollama, vLLM, llama.cpp server), through the shared client in
 * openai.c.
 *
 * Texts go out EMBED_BATCH_SIZE per request; answers are put back in input
 * order by data[].index, checked for count and EMBEDDING_DIM, and
 * L2-normalised. "dimensions" is sent only for OpenAI's text-embedding-3
 * models, the ones that can shorten their vectors to it: older OpenAI models
 * reject the field, vLLM rejects it for models that cannot shorten, and the
 * rest ignore it, so for every other model EMBEDDING_DIM must be the model's
 * own size and a mismatch is a clear error rather than a silent mix.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "providers/embedder.h"
#include "providers/openai.h"

struct embed_openai {
	struct embedder base; /* first, so a struct embedder * is one of these */
	const struct config *cfg;
	struct openai *client;
	bool send_dimensions;
};

/* Room for one answer: about 32 bytes of JSON per float, plus the envelope. */
static size_t answer_max(size_t n, int dim)
{
	return (size_t)1024 * 1024 + n * (size_t)dim * 32;
}

/* Checks one data[] item and writes its normalised vector to out. */
static enum verr take_vector(const struct embed_openai *eo, json_t *emb, float *out,
                             struct verror *err)
{
	int dim = eo->base.dim;
	if (!json_is_array(emb))
		return verr_set(err, VERR_AI_UNAVAILABLE,
		                "AI service unavailable: invalid embedding from provider");
	size_t got = json_array_size(emb);
	if (got != (size_t)dim)
		return verr_set(
		    err, VERR_AI_UNAVAILABLE,
		    "AI service unavailable: embedding model %s returned %zu dimensions, "
		    "expected %d (EMBEDDING_DIM)",
		    eo->base.model, got, dim);
	/* Scaled by the largest component before squaring, so no finite value
	 * (1e300 included) overflows into inf or NaN on its way to unit length. */
	double max = 0;
	for (int k = 0; k < dim; k++) {
		json_t *v = json_array_get(emb, (size_t)k);
		double x = json_is_number(v) ? json_number_value(v) : NAN;
		if (!isfinite(x))
			return verr_set(err, VERR_AI_UNAVAILABLE,
			                "AI service unavailable: invalid embedding from provider");
		max = fmax(max, fabs(x));
	}
	/* A zero vector stays zero: it matches nothing rather than everything. */
	double sum = 0;
	for (int k = 0; k < dim; k++) {
		double x = max > 0 ? json_number_value(json_array_get(emb, (size_t)k)) / max : 0;
		out[k] = (float)x;
		sum += x * x;
	}
	if (sum > 0) {
		double inv = 1.0 / sqrt(sum);
		for (int k = 0; k < dim; k++)
			out[k] = (float)(out[k] * inv);
	}
	return VERR_OK;
}

/* One request for n <= batch size texts. */
/* once_timeout_s > 0: a query someone waits for, one attempt (see openai_post_once()). */
static enum verr embed_batch(struct embed_openai *eo, const char *const *texts, size_t n,
                             int once_timeout_s, float *out, struct verror *err)
{
	enum verr rc = VERR_OK;
	json_t *resp = NULL;
	bool *seen = NULL;
	json_t *input = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_string(texts[i]);
		if (!s) {
			json_decref(input);
			return verr_set(err, VERR_INVALID, "text %zu to embed is not valid UTF-8",
			                i);
		}
		json_array_append_new(input, s);
	}
	json_t *body = json_pack("{s:s, s:o}", "model", eo->base.model, "input", input);
	if (eo->send_dimensions)
		json_object_set_new(body, "dimensions", json_integer(eo->base.dim));

	rc = once_timeout_s > 0
	         ? openai_post_once(eo->client, "embeddings", body, answer_max(n, eo->base.dim),
	                            once_timeout_s, &resp, err)
	         : openai_post(eo->client, "embeddings", body, answer_max(n, eo->base.dim), &resp,
	                       err);
	if (rc)
		goto out;
	json_t *data = json_object_get(resp, "data");
	if (!json_is_array(data)) {
		rc = verr_set(err, VERR_AI_UNAVAILABLE,
		              "AI service unavailable: invalid embeddings answer from provider");
		goto out;
	}
	if (json_array_size(data) != n) {
		rc = verr_set(
		    err, VERR_AI_UNAVAILABLE,
		    "AI service unavailable: provider returned %zu embeddings for %zu texts",
		    json_array_size(data), n);
		goto out;
	}
	seen = xcalloc(n, sizeof(bool));
	size_t pos;
	json_t *item;
	json_array_foreach(data, pos, item)
	{
		/* Ordered by index; a server that leaves it out is taken in order. */
		json_t *jidx = json_object_get(item, "index");
		json_int_t idx = jidx ? (json_is_integer(jidx) ? json_integer_value(jidx) : -1)
		                      : (json_int_t)pos;
		if (idx < 0 || (size_t)idx >= n || seen[idx]) {
			rc = verr_set(
			    err, VERR_AI_UNAVAILABLE,
			    "AI service unavailable: invalid embeddings answer from provider");
			goto out;
		}
		seen[idx] = true;
		rc = take_vector(eo, json_object_get(item, "embedding"),
		                 out + (size_t)idx * (size_t)eo->base.dim, err);
		if (rc)
			goto out;
	}
out:
	free(seen);
	json_decref(resp);
	json_decref(body);
	return rc;
}

static enum verr embed(struct embedder *e, const char *const *texts, size_t n, float *out,
                       struct verror *err)
{
	struct embed_openai *eo = (struct embed_openai *)e;
	size_t batch = e->max_batch;
	for (size_t i = 0; i < n; i += batch) {
		size_t m = n - i < batch ? n - i : batch;
		enum verr rc = embed_batch(eo, texts + i, m, 0, out + i * (size_t)e->dim, err);
		if (rc)
			return rc;
	}
	return VERR_OK;
}

static enum verr embed_query(struct embedder *e, const char *text, float *out, struct verror *err)
{
	struct embed_openai *eo = (struct embed_openai *)e;
	return embed_batch(eo, &text, 1, eo->cfg->ai_query_timeout_seconds, out, err);
}

static void embed_free(struct embedder *e)
{
	struct embed_openai *eo = (struct embed_openai *)e;
	openai_free(eo->client);
	free(eo);
}

static const struct embedder_ops ops = {
    .embed = embed, .embed_query = embed_query, .free = embed_free};

enum verr embed_openai_new(const struct config *cfg, struct embedder **out, struct verror *err)
{
	*out = NULL;
	struct openai *client;
	enum verr rc = openai_new(cfg, &client, err);
	if (rc)
		return rc;
	struct embed_openai *eo = xcalloc(1, sizeof(*eo));
	eo->base.ops = &ops;
	eo->base.model = cfg->embedding_model;
	eo->base.dim = cfg->embedding_dim;
	eo->base.max_batch = cfg->embed_batch_size > 0 ? (size_t)cfg->embed_batch_size : 64;
	eo->cfg = cfg;
	eo->client = client;
	eo->send_dimensions =
	    cfg->embedding_model && strncmp(cfg->embedding_model, "text-embedding-3", 16) == 0;
	*out = &eo->base;
	return VERR_OK;
}
