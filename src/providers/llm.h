/*
 * llm.h - chat completions, behind one small interface.
 *
 * llm_openai.c speaks any OpenAI-compatible /v1/chat/completions (OpenAI,
 * Ollama, vLLM, llama.cpp server), streamed or not; llm_none.c answers that
 * no provider is configured. A new provider is one new file plus a line in
 * llm_new().
 */
#ifndef VAULT_PROVIDERS_LLM_H
#define VAULT_PROVIDERS_LLM_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

#define LLM_ANSWER_MAX (4 * 1024 * 1024) /* bytes of answer text a provider passes on */

struct llm_message {
	const char *role; /* "system", "user" or "assistant" */
	const char *content;
};

/*
 * Receives the answer as it arrives when streaming: len bytes of text (not
 * NUL-terminated). Return nonzero to stop the request (e.g. the client went
 * away); chat() then fails with VERR_AI_UNAVAILABLE. While the provider is
 * silent it is also called now and then with len 0, only to ask whether
 * anyone still waits: nonzero stops the request at once.
 */
typedef int (*llm_delta_fn)(void *ctx, const char *text, size_t len);

struct llm;

struct llm_ops {
	/*
	 * Sends the conversation and sets *answer to the whole reply (caller
	 * frees). With on_delta, streams and calls it for each piece first.
	 * VERR_AI_UNAVAILABLE "AI service unavailable: ..." when no provider is
	 * configured, or it is down, slow past AI_TIMEOUT_SECONDS, or answers
	 * garbage; never hangs.
	 */
	enum verr (*chat)(struct llm *l, const struct llm_message *msgs, size_t n,
	                  llm_delta_fn on_delta, void *ctx, char **answer, struct verror *err);
	void (*free)(struct llm *l);
};

struct llm {
	const struct llm_ops *ops;
	const char *model;    /* reported with every answer */
	const char *provider; /* LLM_PROVIDER's name for the metrics, NULL for none; by llm_new */
};

/* The provider cfg names (LLM_PROVIDER); borrows cfg. */
enum verr llm_new(const struct config *cfg, struct llm **out, struct verror *err);

/* l->ops->chat, counted and timed in the metrics (core/metrics.h) for a real provider. */
enum verr llm_chat(struct llm *l, const struct llm_message *msgs, size_t n, llm_delta_fn on_delta,
                   void *ctx, char **answer, struct verror *err);

void llm_free(struct llm *l); /* accepts NULL */

enum verr llm_openai_new(const struct config *cfg, struct llm **out, struct verror *err);
enum verr llm_none_new(const struct config *cfg, struct llm **out, struct verror *err);

#endif
