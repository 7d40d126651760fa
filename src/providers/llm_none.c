/*
 * llm_none.c - the chat provider of LLM_PROVIDER=none: every question is
 * answered with 503, so search and notes work without any AI service.
 */
#include <stdlib.h>

#include "core/mem.h"
#include "providers/llm.h"

static enum verr chat(struct llm *l, const struct llm_message *msgs, size_t n,
                      llm_delta_fn on_delta, void *ctx, char **answer, struct verror *err)
{
	(void)l, (void)msgs, (void)n, (void)on_delta, (void)ctx;
	*answer = NULL;
	return verr_set(err, VERR_AI_UNAVAILABLE,
	                "AI service unavailable: no LLM provider configured "
	                "(set LLM_PROVIDER=openai)");
}

static void none_free(struct llm *l)
{
	free(l);
}

static const struct llm_ops ops = {.chat = chat, .free = none_free};

enum verr llm_none_new(const struct config *cfg, struct llm **out, struct verror *err)
{
	(void)cfg, (void)err;
	struct llm *l = xcalloc(1, sizeof(*l));
	l->ops = &ops;
	l->model = "none";
	*out = l;
	return VERR_OK;
}
