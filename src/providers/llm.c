/*
 * llm.c - picks the chat provider LLM_PROVIDER names.
 */
#include "providers/llm.h"

#include "core/metrics.h"
#include "core/timeutil.h"

enum verr llm_new(const struct config *cfg, struct llm **out, struct verror *err)
{
	*out = NULL;
	switch (cfg->llm_provider) {
	case LLM_NONE:
		return llm_none_new(cfg, out, err);
	case LLM_OPENAI: {
		enum verr rc = llm_openai_new(cfg, out, err);
		if (rc == VERR_OK)
			(*out)->provider = "openai";
		return rc;
	}
	}
	return verr_set(err, VERR_INVALID, "LLM_PROVIDER: expected none or openai");
}

enum verr llm_chat(struct llm *l, const struct llm_message *msgs, size_t n, llm_delta_fn on_delta,
                   void *ctx, char **answer, struct verror *err)
{
	double t0 = time_mono_ms();
	enum verr rc = l->ops->chat(l, msgs, n, on_delta, ctx, answer, err);
	if (l->provider)
		metrics_provider_call(l->provider, "chat", rc == VERR_OK,
		                      (time_mono_ms() - t0) / 1000);
	return rc;
}

void llm_free(struct llm *l)
{
	if (l)
		l->ops->free(l);
}
