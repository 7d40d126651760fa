/*
 * rag.h - answers a question from the user's own notes, with citations.
 *
 * Retrieval is hybrid search; the best passages go into the prompt as
 * numbered sources, within CONTEXT_TOKENS; the model is asked to cite them
 * as [1], [2] and to say when the notes do not hold the answer. The
 * citations returned are exactly the sources the answer cites, checked
 * here: a marker without a source is removed from the answer.
 */
#ifndef VAULT_SERVICES_RAG_H
#define VAULT_SERVICES_RAG_H

#include "providers/llm.h"
#include "services/services.h"

#define ASK_QUESTION_MAX  2000 /* characters */
#define ASK_TOP_K_DEFAULT 5
#define ASK_NOTHING_FOUND "Your notes don't seem to contain anything about this."

struct ask_request {
	const char *question;
	size_t top_k;
	const char *const *tags;
	size_t ntags;
};

struct citation {
	int index; /* the n of [n] in the answer */
	int64_t note_id;
	char *title;
	char *excerpt;
	char *section; /* the headings above the excerpt (a PDF's page), or "" */
};

struct ask_result {
	char *answer;
	struct citation *citations;
	size_t ncitations;
	const char *model; /* borrowed from the provider; NULL if it was not asked */
};

/* What can be refused before any work: a bad question, no LLM configured. */
enum verr rag_check(struct svc *svc, const struct ask_request *req, struct verror *err);

/*
 * Answers req for user_id. With on_delta, the answer is streamed as it
 * arrives (markers already checked); the citations come in *out at the end.
 * VERR_AI_UNAVAILABLE when the model cannot answer; when no note is
 * relevant, answers ASK_NOTHING_FOUND without asking the model.
 */
enum verr rag_ask(struct svc *svc, int64_t user_id, const struct ask_request *req,
                  llm_delta_fn on_delta, void *ctx, struct ask_result *out, struct verror *err);

void ask_result_free(struct ask_result *r);

/*
 * The citation check as a stream filter: feed text in pieces, get it back
 * with every [n] whose n is not in 1..nsources removed, a number repeated
 * in one marker kept once, and the valid ones recorded in cited (nsources +
 * 1 flags). A marker split across pieces is held back until it is complete.
 * Text may be split anywhere, even inside a character: emit only ever gets
 * whole UTF-8 characters (bytes that are not UTF-8 come out as U+FFFD), so
 * each piece can go out as a JSON string.
 */
struct cite_filter {
	int nsources;
	bool *cited;
	char held[32]; /* "[" and what may still become a marker */
	size_t nheld;
	char part[4]; /* a character whose last bytes are still to come */
	size_t npart;
	llm_delta_fn emit;
	void *ctx;
	int stopped; /* emit asked to stop */
	char prev;   /* the character before the current one */
};

void cite_filter_init(struct cite_filter *f, int nsources, bool *cited, llm_delta_fn emit,
                      void *ctx);
int cite_filter_feed(struct cite_filter *f, const char *text, size_t len);
int cite_filter_flush(struct cite_filter *f);

#endif
