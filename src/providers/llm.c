/*
 * llm.c - picks the chat provider LLM_PROVIDER names.
 */
#include "providers/llm.h"

enum verr llm_new(const struct config *cfg, struct llm **out, struct verror *err)
{
	*out = NULL;
	switch (cfg->llm_provider) {
	case LLM_NONE:
		return llm_none_new(cfg, out, err);
	case LLM_OPENAI:
		return llm_openai_new(cfg, out, err);
	}
	return verr_set(err, VERR_INVALID, "LLM_PROVIDER: expected none or openai");
}

void llm_free(struct llm *l)
{
	if (l)
		l->ops->free(l);
}
