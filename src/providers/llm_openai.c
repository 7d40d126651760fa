/*
 * llm_openai.c - answers from any OpenAI-compatible /v1/chat/completions
 * (OpenAI, Ollama, vLLM, llama.cpp server), whole or streamed, through the
 * shared client in openai.c.
 *
 * A streamed answer arrives as Server-Sent Events, each a JSON chunk whose
 * choices[0].delta.content is the next piece of text; openai.c splits the
 * events and this file reads them, relays each piece to on_delta and keeps
 * the whole answer. Once a piece has reached on_delta nothing is retried.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "providers/llm.h"
#include "providers/openai.h"

#define ANSWER_MAX   LLM_ANSWER_MAX   /* bytes of answer text we keep */
#define RESPONSE_MAX (ANSWER_MAX * 2) /* bytes of a whole (not streamed) answer's JSON */
#define TEMPERATURE  0.2

struct llm_openai {
	struct llm base; /* first, so a struct llm * is one of these */
	struct openai *client;
};

/* The streamed answer so far. */
struct stream {
	llm_delta_fn on_delta;
	void *ctx;
	struct buf text; /* at most ANSWER_MAX bytes */
};

/* {"model", "messages", "stream", "temperature"}; NULL if a message is not UTF-8. */
static json_t *request_body(const struct llm *l, const struct llm_message *msgs, size_t n,
                            bool stream)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_pack("{s:s?, s:s?}", "role", msgs[i].role, "content",
		                      msgs[i].content ? msgs[i].content : "");
		if (!m) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, m);
	}
	return json_pack("{s:s, s:o, s:b, s:f}", "model", l->model, "messages", arr, "stream",
	                 stream, "temperature", TEMPERATURE);
}

/* One event of the stream: a chat.completion.chunk. */
static int on_event(void *ud, const char *data, size_t len, struct verror *err)
{
	struct stream *s = ud;
	int rc = 0;
	if (!data) /* the provider is silent: is the answer still wanted? */
		return s->on_delta(s->ctx, "", 0) ? OPENAI_EV_CANCEL : 0;
	json_t *j = json_loadb(data, len, 0, NULL);
	if (!json_is_object(j)) {
		verr_set(err, VERR_AI_UNAVAILABLE, "invalid JSON from provider");
		rc = OPENAI_EV_BAD;
		goto out;
	}
	if (json_object_get(j, "error")) {
		/* Its message is not repeated: a provider may echo part of the key. */
		verr_set(err, VERR_AI_UNAVAILABLE, "provider reported an error mid-answer");
		rc = OPENAI_EV_BAD;
		goto out;
	}
	json_t *choices = json_object_get(j, "choices");
	if (choices && !json_is_array(choices)) {
		verr_set(err, VERR_AI_UNAVAILABLE, "invalid answer chunk from provider");
		rc = OPENAI_EV_BAD;
		goto out;
	}
	json_t *choice = json_array_get(choices, 0); /* none in a usage-only chunk */
	if (!choice)
		goto out;
	json_t *content = json_object_get(json_object_get(choice, "delta"), "content");
	if (content && !json_is_string(content) && !json_is_null(content)) {
		verr_set(err, VERR_AI_UNAVAILABLE, "invalid answer chunk from provider");
		rc = OPENAI_EV_BAD;
		goto out;
	}
	size_t n = json_string_length(content);
	if (n > 0) {
		if (buf_add(&s->text, json_string_value(content), n)) {
			verr_set(err, VERR_AI_UNAVAILABLE, "answer from provider too long");
			rc = OPENAI_EV_BAD;
			goto out;
		}
		rc = OPENAI_EV_DELIVERED;
		if (s->on_delta(s->ctx, json_string_value(content), n) != 0)
			rc |= OPENAI_EV_CANCEL;
	}
	json_t *finish = json_object_get(choice, "finish_reason");
	if (json_is_string(finish))
		rc |= OPENAI_EV_FINISH;
out:
	json_decref(j);
	return rc;
}

static enum verr chat_stream(struct llm_openai *lo, json_t *body, llm_delta_fn on_delta, void *ctx,
                             char **answer, struct verror *err)
{
	struct stream s = {.on_delta = on_delta, .ctx = ctx};
	buf_init(&s.text, ANSWER_MAX);
	enum verr rc = openai_stream(lo->client, "chat/completions", body, on_event, &s, err);
	if (rc) {
		buf_free(&s.text);
		return rc;
	}
	*answer = buf_steal(&s.text);
	return VERR_OK;
}

static enum verr chat_whole(struct llm_openai *lo, json_t *body, char **answer, struct verror *err)
{
	json_t *resp = NULL;
	enum verr rc = openai_post(lo->client, "chat/completions", body, RESPONSE_MAX, &resp, err);
	if (rc)
		return rc;
	json_t *content = json_object_get(
	    json_object_get(json_array_get(json_object_get(resp, "choices"), 0), "message"),
	    "content");
	if (!json_is_string(content))
		rc = verr_set(err, VERR_AI_UNAVAILABLE,
		              "AI service unavailable: invalid answer from provider");
	else
		*answer = xstrndup(json_string_value(content), json_string_length(content));
	json_decref(resp);
	return rc;
}

static enum verr chat(struct llm *l, const struct llm_message *msgs, size_t n,
                      llm_delta_fn on_delta, void *ctx, char **answer, struct verror *err)
{
	struct llm_openai *lo = (struct llm_openai *)l;
	*answer = NULL;
	json_t *body = request_body(l, msgs, n, on_delta != NULL);
	if (!body)
		return verr_set(err, VERR_INVALID, "question is not valid UTF-8");
	enum verr rc = on_delta ? chat_stream(lo, body, on_delta, ctx, answer, err)
	                        : chat_whole(lo, body, answer, err);
	json_decref(body);
	return rc;
}

static void openai_llm_free(struct llm *l)
{
	struct llm_openai *lo = (struct llm_openai *)l;
	openai_free(lo->client);
	free(lo);
}

static const struct llm_ops ops = {.chat = chat, .free = openai_llm_free};

enum verr llm_openai_new(const struct config *cfg, struct llm **out, struct verror *err)
{
	*out = NULL;
	struct openai *client;
	enum verr rc = openai_new(cfg, &client, err);
	if (rc)
		return rc;
	struct llm_openai *lo = xcalloc(1, sizeof(*lo));
	lo->base.ops = &ops;
	lo->base.model = cfg->llm_model;
	lo->client = client;
	*out = &lo->base;
	return VERR_OK;
}
