/*
 * search.h - find a user's notes by meaning, by words, or both.
 *
 * semantic: the query's vector against every chunk vector of the user, in
 * process, over one contiguous array (best chunk per note, cosine).
 * keyword: FTS5 with BM25 over title, content and tags. hybrid (default):
 * both scores fused (search.c, fuse()); an exact match of a note's
 * title or of one of its tags puts that note first. Filters apply before
 * top_k is taken. The similarity floor drops weak semantic matches, so an
 * unrelated query gets an empty list, not noise; in hybrid mode a note that
 * matched the query's words is kept under the default floor (the words are
 * the evidence), while a min_similarity the caller gives applies to every
 * note that has vectors. A note not embedded yet is found by its words.
 */
#ifndef VAULT_SERVICES_SEARCH_H
#define VAULT_SERVICES_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "services/services.h"

#define SEARCH_QUERY_MAX     1000 /* characters */
#define SEARCH_TOP_K_MAX     20
#define SEARCH_TOP_K_DEFAULT 5
#define SEARCH_EXCERPT_MAX   300 /* characters */

enum search_mode { SEARCH_HYBRID, SEARCH_SEMANTIC, SEARCH_KEYWORD };

struct search_query {
	const char *text;
	size_t top_k;
	enum search_mode mode;
	const char *const *tags; /* a note must carry all of them */
	size_t ntags;
	double min_similarity; /* < 0: SEARCH_MIN_SIMILARITY */
};

struct search_hit {
	struct note note;
	double similarity; /* cosine of the best chunk, clamped to 0-1; 0 if not embedded */
	double score;      /* the ranking score of the mode */
	char *excerpt;     /* the best-matching passage */
	char *section;     /* the headings above it ("Setup > Install"; a PDF's "Page 3"), or "" */
	char *passage;     /* the whole best chunk, as context for answers */
};

struct search_result {
	struct search_hit *hits;
	size_t n;
	char
	    *fallback; /* hybrid without its semantic side: why (the provider's error), else NULL */
};

/* Parses "hybrid|semantic|keyword"; false if unknown. */
bool search_mode_parse(const char *s, enum search_mode *out);

const char *search_mode_name(enum search_mode mode);

/*
 * Runs q for user_id. VERR_INVALID for a bad query (empty, too long, top_k
 * out of 1-20); VERR_UNAVAILABLE if semantic search needs an embedder that
 * is down; VERR_CONFLICT when the user's vectors were all made by another
 * model. Caller frees *out with search_result_free().
 */
enum verr search_run(struct svc *svc, int64_t user_id, const struct search_query *q,
                     struct search_result *out, struct verror *err);

void search_result_free(struct search_result *r);

/* The user's chunk counts for the configured model (GET /api/v1/index/status). */
enum verr search_index_status(struct svc *svc, int64_t user_id, struct index_status *out,
                              struct verror *err);

/* The passage of text (at most max characters, cut at words) that best matches query. */
char *search_excerpt(const char *text, const char *query, size_t max);

#endif
