/*
 * search.c - semantic, keyword and hybrid search over one user's notes.
 *
 * A search runs in four steps: candidates from each ranking (vectors and
 * FTS5), filtered by tags before anything is cut; fusion (for hybrid, a
 * convex combination of the two scores, see fuse()) and the exact-title/tag
 * lift; the similarity floor; then the top_k notes are loaded with an
 * excerpt of their best passage.
 */
#include "services/search.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/lru.h"
#include "core/mem.h"
#include "core/text.h"
#include "services/notes.h"
#include "store/vecmath.h"

#define CANDIDATES_MAX 200 /* per ranking, before fusion */
#define EXACT_LIFT     1.0 /* added to a fused score: above any fused score */
/* Hybrid fusion (fuse()), tuned on eval/ alone. */
#define FUSE_SEMANTIC   0.5 /* the semantic side's weight; the keyword side has the rest */
#define FUSE_KW_HALF    2.0 /* BM25 a query word at which the keyword side scores 0.5 */
#define QUERY_TERMS_MAX 64

/* ------------------------------------------------------------------ text */

static const char *const stop_words[] = {
    "a",     "about", "after", "all",  "also",  "am",   "an",    "and",   "any",  "are",   "as",
    "at",    "be",    "been",  "but",  "by",    "can",  "could", "did",   "do",   "does",  "for",
    "from",  "had",   "has",   "have", "he",    "her",  "his",   "how",   "i",    "if",    "in",
    "into",  "is",    "it",    "its",  "me",    "my",   "no",    "not",   "of",   "on",    "or",
    "our",   "she",   "so",    "some", "than",  "that", "the",   "their", "them", "then",  "there",
    "these", "they",  "this",  "to",   "was",   "we",   "were",  "what",  "when", "where", "which",
    "who",   "why",   "will",  "with", "would", "you",  "your",
};

static bool is_stop_word(const char *w)
{
	for (size_t i = 0; i < sizeof(stop_words) / sizeof(stop_words[0]); i++)
		if (strcmp(w, stop_words[i]) == 0)
			return true;
	return false;
}

static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80;
}

/* Lower-cased words of s, at most max; stop words dropped when keep_stop is false. */
static size_t words(const char *s, char **out, size_t max, bool keep_stop)
{
	size_t n = 0;
	while (*s && n < max) {
		while (*s && !word_byte((unsigned char)*s))
			s++;
		const char *start = s;
		while (*s && word_byte((unsigned char)*s))
			s++;
		if (s == start)
			break;
		char *w = xstrndup(start, (size_t)(s - start));
		for (char *p = w; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (!keep_stop && is_stop_word(w))
			free(w);
		else
			out[n++] = w;
	}
	return n;
}

static void words_free(char **w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i]);
}

/*
 * How titles, tags and queries compare for the exact-match lift: the whole
 * string, lower-cased (ASCII), white space trimmed and collapsed, all
 * punctuation kept ("C#" is not "C++").
 */
static char *normalized(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *p = out;
	for (; *s; s++) {
		bool space = strchr(" \t\r\n", *s) != NULL;
		if (space && (p == out || p[-1] == ' '))
			continue;
		*p++ = space ? ' ' : (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
	}
	if (p > out && p[-1] == ' ')
		p--;
	*p = '\0';
	return out;
}

/* Whether a word of text starts with term (a cheap stand-in for stemming). */
static bool has_term(const char *text, size_t len, const char *term)
{
	size_t tl = strlen(term);
	if (tl > 5)
		tl = 5; /* "baking" finds "bake", "baked" */
	for (size_t i = 0; i + tl <= len; i++)
		if ((i == 0 || !word_byte((unsigned char)text[i - 1])) &&
		    strncasecmp(text + i, term, tl) == 0)
			return true;
	return false;
}

static size_t count_terms(const char *text, size_t len, char **terms, size_t nterms)
{
	size_t hits = 0;
	for (size_t t = 0; t < nterms; t++)
		hits += has_term(text, len, terms[t]);
	return hits;
}

/* Backs up from i to the start of a UTF-8 sequence. */
static size_t utf8_start(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

char *search_excerpt(const char *text, const char *query, size_t max)
{
	char *terms[QUERY_TERMS_MAX];
	size_t nterms = words(query, terms, QUERY_TERMS_MAX, false);
	size_t len = strlen(text);

	/* The sentence with the most query words opens the excerpt. */
	size_t best = 0, best_hits = 0, start = 0;
	while (start < len) {
		size_t end = start;
		while (end < len && !strchr(".!?\n", text[end]))
			end++;
		size_t hits = count_terms(text + start, end - start, terms, nterms);
		if (hits > best_hits) {
			best_hits = hits;
			best = start;
		}
		start = end + 1;
		while (start < len && strchr(" \t\r\n", text[start]))
			start++;
	}
	words_free(terms, nterms);

	/* max characters from there, cut back to a word boundary. */
	size_t i = best, chars = 0;
	while (i < len && chars < max) {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	size_t end = i;
	if (end < len) {
		while (end > best && text[end] != ' ' && text[end] != '\n')
			end--;
		if (end == best)
			end = utf8_start(text, i);
	}
	while (end > best && strchr(" \t\r\n", text[end - 1]))
		end--;

	size_t n = end - best;
	char *out = xmalloc(n + 8), *p = out;
	if (best > 0)
		p += sprintf(p, "…");
	for (size_t k = 0; k < n; k++)
		*p++ = text[best + k] == '\n' || text[best + k] == '\t' ? ' ' : text[best + k];
	if (end < len)
		p += sprintf(p, "…");
	*p = '\0';
	return out;
}

/* ------------------------------------------------------------------ search */

struct cand {
	int64_t note_id;
	int64_t chunk_id;      /* best chunk by vector, 0 if none */
	double similarity;     /* -1: no vector */
	int sem_rank, kw_rank; /* 1-based; 0: absent from that ranking */
	double score;
	double bm25; /* the keyword side's score, 0 if absent */
	bool exact;
};

/*
 * Candidates in arrival order, and a hash of their note ids (open addressing,
 * slot = index + 1) so that fusing two rankings of 200 is not 200 x 400
 * comparisons. The hash holds while c is only appended to: reordering c
 * (the floor, the final sort) comes after the last pool_add.
 */
struct pool {
	struct cand *c;
	size_t n, cap;
	uint32_t *slot;
	size_t mask; /* slots - 1, a power of two minus one; 0 before the first push */
};

static size_t pool_hash(const struct pool *p, int64_t note_id)
{
	return (size_t)(((uint64_t)note_id * 0x9E3779B97F4A7C15ULL) >> 32) & p->mask;
}

static struct cand *pool_find(struct pool *p, int64_t note_id)
{
	if (!p->slot)
		return NULL;
	for (size_t h = pool_hash(p, note_id); p->slot[h]; h = (h + 1) & p->mask)
		if (p->c[p->slot[h] - 1].note_id == note_id)
			return &p->c[p->slot[h] - 1];
	return NULL;
}

static void pool_index(struct pool *p, size_t i)
{
	size_t h = pool_hash(p, p->c[i].note_id);
	while (p->slot[h])
		h = (h + 1) & p->mask;
	p->slot[h] = (uint32_t)(i + 1);
}

/* Appends a candidate the pool is known not to hold yet. */
static struct cand *pool_push(struct pool *p, int64_t note_id)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->c = xrealloc(p->c, p->cap * sizeof(*p->c));
		free(p->slot); /* at most half full: rebuilt at twice the size */
		p->mask = 2 * p->cap - 1;
		p->slot = xcalloc(p->mask + 1, sizeof(*p->slot));
		for (size_t i = 0; i < p->n; i++)
			pool_index(p, i);
	}
	struct cand *c = &p->c[p->n++];
	*c = (struct cand){.note_id = note_id, .similarity = -1};
	pool_index(p, p->n - 1);
	return c;
}

static struct cand *pool_add(struct pool *p, int64_t note_id)
{
	struct cand *c = pool_find(p, note_id);
	return c ? c : pool_push(p, note_id);
}

static void pool_free(struct pool *p)
{
	free(p->c);
	free(p->slot);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int by_score(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->exact != y->exact)
		return y->exact - x->exact;
	if (x->score != y->score)
		return (x->score < y->score) - (x->score > y->score);
	return (x->note_id < y->note_id) - (x->note_id > y->note_id);
}

/* The user's notes nearest to qv by the embedder's vectors (store_vector_search). */
static enum verr nearest(struct svc *svc, int64_t user_id, const float *qv, const int64_t *only,
                         size_t nonly, bool filter, size_t limit, struct vector_hit **out,
                         size_t *n, struct verror *err)
{
	return store_vector_search(svc->store, user_id, svc->embedder->model, svc->embedder->dim,
	                           qv, only, nonly, filter, limit, out, n, err);
}

static double clamp01(double x)
{
	return fmin(1.0, fmax(0.0, x));
}

/*
 * The notes at or above floor by vector, best first, at most
 * CANDIDATES_MAX, into sem; notes outside allowed (when filter is set) are
 * skipped. strict (semantic mode): finding only vectors of another model is
 * VERR_CONFLICT rather than an empty result.
 */
static enum verr semantic(struct svc *svc, int64_t user_id, const float *qv, const int64_t *allowed,
                          size_t nallowed, bool filter, double floor, bool strict, struct pool *sem,
                          struct verror *err)
{
	struct vector_hit *hits = NULL;
	size_t n = 0;
	enum verr rc =
	    nearest(svc, user_id, qv, allowed, nallowed, filter, CANDIDATES_MAX, &hits, &n, err);
	if (rc == VERR_OK && n == 0 && strict && !filter) {
		/* No vectors of this model: say so if they exist for another one. */
		struct index_status st;
		rc = store_index_status(svc->store, user_id, svc->embedder->model,
		                        svc->embedder->dim, &st, err);
		if (rc == VERR_OK && st.stale > 0)
			rc = verr_set(
			    err, VERR_CONFLICT,
			    "%lld chunks were embedded with another model or dimension than "
			    "%s (%d): run `vault reindex`",
			    (long long)st.stale, svc->embedder->model, svc->embedder->dim);
	}
	for (size_t i = 0; rc == VERR_OK && i < n && clamp01(hits[i].similarity) >= floor; i++) {
		struct cand *c = pool_push(sem, hits[i].note_id);
		c->chunk_id = hits[i].chunk_id;
		c->similarity = clamp01(hits[i].similarity);
		c->sem_rank = (int)sem->n;
	}
	free(hits);
	return rc;
}

/* Orders vector hits by note; a bare note id (bsearch's key) starts a hit. */
_Static_assert(offsetof(struct vector_hit, note_id) == 0, "a hit starts with its note id");
static int hit_by_note(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = ((const struct vector_hit *)b)->note_id;
	return (x > y) - (x < y);
}

/* The best chunk and its similarity for each candidate that has none yet. */
static enum verr similarity_of(struct svc *svc, int64_t user_id, const float *qv, struct cand *c,
                               size_t n, struct verror *err)
{
	int64_t *ids = xmalloc((n ? n : 1) * sizeof(int64_t));
	size_t nids = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i].similarity < 0)
			ids[nids++] = c[i].note_id;
	struct vector_hit *hits = NULL;
	size_t nhits = 0;
	enum verr rc = VERR_OK;
	if (nids) {
		qsort(ids, nids, sizeof(int64_t), cmp_i64);
		rc = nearest(svc, user_id, qv, ids, nids, true, nids, &hits, &nhits, err);
	}
	if (rc == VERR_OK && nhits) {
		qsort(hits, nhits, sizeof(*hits), hit_by_note);
		for (size_t i = 0; i < n; i++) {
			const struct vector_hit *h =
			    bsearch(&c[i].note_id, hits, nhits, sizeof(*hits), hit_by_note);
			if (h) {
				c[i].similarity = clamp01(h->similarity);
				c[i].chunk_id = h->chunk_id;
			}
		}
	}
	free(hits);
	free(ids);
	return rc;
}

/* Notes whose title or one of whose tags is exactly the query. */
static enum verr mark_exact(struct svc *svc, int64_t user_id, const char *query,
                            const char *const *tags, size_t ntags, char **all_words, size_t nall,
                            struct pool *pool, struct verror *err)
{
	if (nall == 0)
		return VERR_OK;
	struct keyword_hit *hits = NULL;
	size_t n = 0;
	enum verr rc = store_keyword_search(svc->store, user_id, (const char *const *)all_words,
	                                    nall, true, tags, ntags, 10, &hits, &n, err);
	if (rc || n == 0) {
		free(hits);
		return rc;
	}
	int64_t *ids = xcalloc(n, sizeof(int64_t));
	struct note *notes = xcalloc(n, sizeof(struct note));
	for (size_t i = 0; i < n; i++)
		ids[i] = hits[i].note_id;
	rc = store_notes_get_many(svc->store, user_id, ids, n, notes, err);
	char *want = normalized(query);
	for (size_t i = 0; rc == VERR_OK && i < n; i++) {
		if (!notes[i].id)
			continue;
		char *t = normalized(notes[i].title);
		bool exact = strcmp(t, want) == 0;
		free(t);
		for (size_t k = 0; !exact && k < notes[i].ntags; k++) {
			t = normalized(notes[i].tags[k]);
			exact = strcmp(t, want) == 0;
			free(t);
		}
		if (exact)
			pool_add(pool, notes[i].id)->exact = true;
	}
	free(want);
	for (size_t i = 0; i < n; i++)
		note_free(&notes[i]);
	free(notes);
	free(ids);
	free(hits);
	return rc;
}

bool search_mode_parse(const char *s, enum search_mode *out)
{
	static const char *const names[] = {"hybrid", "semantic", "keyword"};
	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum search_mode)i;
			return true;
		}
	return false;
}

const char *search_mode_name(enum search_mode mode)
{
	return mode == SEARCH_SEMANTIC ? "semantic" : mode == SEARCH_KEYWORD ? "keyword" : "hybrid";
}

/* The excerpt and passage of a hit: its best chunk by vector, else by query words. */
static void fill_text(const char *query, const struct cand *c, const struct note_chunks *ch,
                      struct search_hit *h)
{
	/* No chunks (none yet, or the note deleted since it was loaded): its text as loaded. */
	const char *best = h->note.content[0] ? h->note.content : h->note.title;
	const char *section = "";
	size_t best_hits = 0;
	char *terms[QUERY_TERMS_MAX];
	size_t nterms = words(query, terms, QUERY_TERMS_MAX, false);
	for (size_t i = 0; i < ch->n; i++) {
		if (c->chunk_id && ch->ids[i] == c->chunk_id) {
			best = ch->texts[i];
			section = ch->headings[i];
			break;
		}
		size_t hits = count_terms(ch->texts[i], strlen(ch->texts[i]), terms, nterms);
		if (i == 0 || hits > best_hits) {
			best = ch->texts[i];
			section = ch->headings[i];
			best_hits = hits;
		}
	}
	words_free(terms, nterms);
	h->passage = xstrdup(best);
	h->section = xstrdup(section);
	h->excerpt = search_excerpt(best, query, SEARCH_EXCERPT_MAX);
}

/*
 * A hybrid score in 0-1: FUSE_SEMANTIC of the similarity above the floor,
 * rescaled to 0-1, plus the rest of the keyword side's BM25 per word of the
 * query (stop words counted, so a long sentence sharing one word with a note
 * counts for little), s, saturated as s^3 / (s^3 + FUSE_KW_HALF^3). The scores, not the ranks:
 * reciprocal rank fusion (k 60, the previous fusion) ranked a note that
 * shares one common word with the query as high as the keyword side's best
 * match, and for queries sharing no word with their answer the semantic
 * ranking's MRR of 0.50 fell to 0.15 (eval/, neural embedder). A word's
 * BM25 says how well the note matches it: it is high when a note holds the
 * query's rare words (a keyword query) and low for incidental matches, which
 * the cube keeps near 0. Measured on eval/ against RRF (k 1-60, weights,
 * floors), max-normalised and saturated BM25 and weights 0.3-0.8:
 * bench/README.md, "Hybrid fusion".
 */
static double fuse(const struct cand *c, double floor, size_t nwords)
{
	double sem =
	    c->similarity >= floor && floor < 1 ? (c->similarity - floor) / (1 - floor) : 0;
	double s = c->kw_rank && nwords ? c->bm25 / (double)nwords : 0;
	double kw =
	    s > 0 ? s * s * s / (s * s * s + FUSE_KW_HALF * FUSE_KW_HALF * FUSE_KW_HALF) : 0;
	return FUSE_SEMANTIC * sem + (1 - FUSE_SEMANTIC) * kw;
}

enum verr search_run(struct svc *svc, int64_t user_id, const struct search_query *q,
                     struct search_result *out, struct verror *err)
{
	struct pool sem = {0}, kw = {0}, fused = {0};
	int64_t *allowed = NULL;
	size_t nallowed = 0;
	float *qv = NULL;
	char *terms[QUERY_TERMS_MAX], *all_words[QUERY_TERMS_MAX];
	size_t nterms = 0, nall = 0;
	struct keyword_hit *hits = NULL;
	size_t nhits = 0;
	char **tags = NULL;
	size_t ntags = 0;
	enum verr rc = VERR_OK;
	double floor = q->min_similarity >= 0 ? q->min_similarity : svc->cfg->search_min_similarity;
	memset(out, 0, sizeof(*out));

	size_t qlen = strlen(q->text);
	if (!text_utf8_valid(q->text, qlen) || text_has_control(q->text, true))
		return verr_set(err, VERR_INVALID, "query: must be valid UTF-8 text");
	size_t chars = text_utf8_len(q->text, qlen);
	nall = words(q->text, all_words, QUERY_TERMS_MAX, true);
	if (chars < 1 || chars > SEARCH_QUERY_MAX || nall == 0) {
		words_free(all_words, nall);
		return verr_set(err, VERR_INVALID,
		                "query: must be 1-%d characters with a word in it",
		                SEARCH_QUERY_MAX);
	}
	if (q->top_k < 1 || q->top_k > SEARCH_TOP_K_MAX) {
		words_free(all_words, nall);
		return verr_set(err, VERR_INVALID, "top_k: must be 1-%d", SEARCH_TOP_K_MAX);
	}

	/* Tags are compared as the notes store them: trimmed, without duplicates. */
	if ((rc = notes_clean_tags(q->tags, q->ntags, "tag", &tags, &ntags, err)))
		goto out;
	if (ntags > 0) {
		rc = store_note_ids_with_tags(svc->store, user_id, (const char *const *)tags, ntags,
		                              &allowed, &nallowed, err);
		if (rc)
			goto out;
		if (nallowed)
			qsort(allowed, nallowed, sizeof(int64_t), cmp_i64);
	}

	/* Semantic side: needed for semantic and hybrid ranking, and for similarity. */
	qv = xmalloc((size_t)svc->embedder->dim * sizeof(float));
	struct verror eerr;
	const char *qtext = q->text;
	/* Keyword search never waits on a remote provider: its similarity needs
	 * the query's vector, which only a local embedder gives for free. */
	enum verr erc = VERR_OK;
	if (!lru_get(svc->queries, user_id, qtext, qv)) {
		erc = q->mode == SEARCH_KEYWORD && !svc->embedder->local
		          ? verr_set(&eerr, VERR_AI_UNAVAILABLE, NULL)
		          : embedder_embed_query(svc->embedder, qtext, qv, &eerr);
		if (erc == VERR_OK) {
			vec_normalize(qv, svc->embedder->dim);
			lru_put(svc->queries, user_id, qtext, qv);
		}
	}
	if (erc && q->mode == SEARCH_SEMANTIC) {
		rc = verr_set(err, erc, "%s", verr_detail(&eerr));
		goto out;
	}
	if (erc && q->mode == SEARCH_HYBRID) /* keyword matches only: the caller is told why */
		out->fallback = xstrdup(verr_detail(&eerr));
	if (erc == VERR_OK && q->mode != SEARCH_KEYWORD) {
		rc = semantic(svc, user_id, qv, allowed, nallowed, ntags > 0, floor,
		              q->mode == SEARCH_SEMANTIC, &sem, err);
		if (rc)
			goto out;
	}

	/* Keyword side. */
	if (q->mode != SEARCH_SEMANTIC) {
		nterms = words(q->text, terms, QUERY_TERMS_MAX, false);
		/* A query of stop words only still finds what it says. */
		rc = store_keyword_search(svc->store, user_id,
		                          (const char *const *)(nterms ? terms : all_words),
		                          nterms ? nterms : nall, false, (const char *const *)tags,
		                          ntags, CANDIDATES_MAX, &hits, &nhits, err);
		if (rc)
			goto out;
		for (size_t i = 0; i < nhits; i++) {
			struct cand *c = pool_add(&kw, hits[i].note_id);
			c->kw_rank = (int)i + 1;
			c->bm25 = hits[i].score;
		}
	}

	/* Fusion. */
	struct pool *sides[] = {&sem, &kw};
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < sides[s]->n; i++) {
			const struct cand *src = &sides[s]->c[i];
			if ((q->mode == SEARCH_SEMANTIC && s == 1) ||
			    (q->mode == SEARCH_KEYWORD && s == 0))
				continue;
			struct cand *c = pool_add(&fused, src->note_id);
			if (s == 0) {
				c->sem_rank = src->sem_rank;
				c->chunk_id = src->chunk_id;
				c->similarity = src->similarity;
			} else {
				c->kw_rank = src->kw_rank;
				c->bm25 = src->bm25;
			}
		}
	if (q->mode != SEARCH_SEMANTIC &&
	    (rc = mark_exact(svc, user_id, q->text, (const char *const *)tags, ntags, all_words,
	                     nall, &fused, err)))
		goto out;
	/* Keyword hits get their similarity, if they have vectors. */
	if (erc == VERR_OK && q->mode == SEARCH_HYBRID &&
	    (rc = similarity_of(svc, user_id, qv, fused.c, fused.n, err)))
		goto out;
	for (size_t i = 0; i < fused.n; i++) {
		struct cand *c = &fused.c[i];
		switch (q->mode) {
		case SEARCH_SEMANTIC:
			c->score = c->similarity;
			break;
		case SEARCH_KEYWORD:
			/* By rank: BM25 has no upper bound to show as a 0-1 score. */
			c->score = c->kw_rank ? 1.0 / c->kw_rank : 0;
			break;
		case SEARCH_HYBRID:
			c->score = fuse(c, floor, nall);
			break;
		}
		if (c->exact)
			c->score += EXACT_LIFT;
	}
	/* A floor the caller asked for holds for every note with vectors; the
	 * default one only for semantic matches (see search.h). */
	if (q->min_similarity >= 0 && q->mode == SEARCH_HYBRID) {
		size_t kept = 0;
		for (size_t i = 0; i < fused.n; i++)
			if (fused.c[i].exact || fused.c[i].similarity < 0 ||
			    fused.c[i].similarity >= floor)
				fused.c[kept++] = fused.c[i];
		fused.n = kept;
	}
	if (fused.n)
		qsort(fused.c, fused.n, sizeof(struct cand), by_score);

	/* The top_k, with their similarity (keyword mode scores only these), loaded. */
	size_t k = fused.n < q->top_k ? fused.n : q->top_k;
	if (erc == VERR_OK && q->mode == SEARCH_KEYWORD &&
	    (rc = similarity_of(svc, user_id, qv, fused.c, k, err)))
		goto out;
	out->hits = xcalloc(k ? k : 1, sizeof(struct search_hit));
	int64_t *ids = xcalloc(k ? k : 1, sizeof(int64_t));
	struct note *notes = xcalloc(k ? k : 1, sizeof(struct note));
	struct note_chunks *chunks = xcalloc(k ? k : 1, sizeof(struct note_chunks));
	for (size_t i = 0; i < k; i++)
		ids[i] = fused.c[i].note_id;
	/* The notes and their chunks (for the excerpts) in one read. */
	rc = store_notes_get_many_chunks(svc->store, user_id, ids, k, notes, chunks, err);
	for (size_t i = 0; i < k && rc == VERR_OK; i++) {
		if (!notes[i].id) /* deleted meanwhile */
			continue;
		struct search_hit *h = &out->hits[out->n++];
		h->note = notes[i];
		notes[i] = (struct note){0};
		h->similarity = fused.c[i].similarity < 0 ? 0 : fused.c[i].similarity;
		h->score = fused.c[i].score;
		fill_text(q->text, &fused.c[i], &chunks[i], h);
	}
	for (size_t i = 0; i < k; i++) {
		note_free(&notes[i]);
		note_chunks_free(&chunks[i]);
	}
	free(chunks);
	free(notes);
	free(ids);
	if (rc)
		search_result_free(out);
out:
	pool_free(&sem);
	pool_free(&kw);
	pool_free(&fused);
	free(allowed);
	notes_tags_free(tags, ntags);
	free(qv);
	free(hits);
	words_free(terms, nterms);
	words_free(all_words, nall);
	return rc;
}

void search_result_free(struct search_result *r)
{
	if (!r)
		return;
	free(r->fallback);
	for (size_t i = 0; i < r->n; i++) {
		note_free(&r->hits[i].note);
		free(r->hits[i].excerpt);
		free(r->hits[i].section);
		free(r->hits[i].passage);
	}
	free(r->hits);
	memset(r, 0, sizeof(*r));
}

enum verr search_index_status(struct svc *svc, int64_t user_id, struct index_status *out,
                              struct verror *err)
{
	return store_index_status(svc->store, user_id, svc->embedder->model, svc->embedder->dim,
	                          out, err);
}
