/*
 * query_cache.c - the vectors of users' recent search queries.
 *
 * A query asked again (a reload, the next page, a question asked after
 * searching for it) skips the embedder: on the local model the largest
 * cost of a search, on a remote one a paid call. Entries are keyed by user
 * as well as by text, so whether a text is kept (a faster answer) never
 * tells one user what another searched for. A few hundred slots scanned
 * under one lock cost well under a microsecond next to the milliseconds
 * an embedding takes.
 */
#include "services/query_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct entry {
	int64_t user_id;
	uint64_t hash;
	char *text; /* NULL: a free slot */
	uint64_t used;
};

struct query_cache {
	pthread_mutex_t mu;
	size_t slots;
	int dim;
	uint64_t clock;
	struct entry *entries;
	float *vecs; /* slots * dim: entries[i]'s vector at i * dim */
};

struct query_cache *query_cache_new(size_t slots, int dim)
{
	struct query_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->slots = slots;
	c->dim = dim;
	c->entries = xcalloc(slots, sizeof(*c->entries));
	c->vecs = xcalloc(slots * (size_t)dim, sizeof(float));
	return c;
}

void query_cache_free(struct query_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->slots; i++)
		free(c->entries[i].text);
	free(c->entries);
	free(c->vecs);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* FNV-1a: cheap, and a match is confirmed on the text anyway. */
static uint64_t text_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot of (user_id, text), or NULL; under c->mu. */
static struct entry *find(struct query_cache *c, int64_t user_id, uint64_t hash, const char *text)
{
	for (size_t i = 0; i < c->slots; i++) {
		struct entry *e = &c->entries[i];
		if (e->text && e->hash == hash && e->user_id == user_id &&
		    strcmp(e->text, text) == 0)
			return e;
	}
	return NULL;
}

bool query_cache_get(struct query_cache *c, int64_t user_id, const char *text, float *out)
{
	uint64_t hash = text_hash(text);
	pthread_mutex_lock(&c->mu);
	struct entry *e = find(c, user_id, hash, text);
	if (e) {
		e->used = ++c->clock;
		memcpy(out, c->vecs + (size_t)(e - c->entries) * (size_t)c->dim,
		       (size_t)c->dim * sizeof(float));
	}
	pthread_mutex_unlock(&c->mu);
	return e != NULL;
}

void query_cache_put(struct query_cache *c, int64_t user_id, const char *text, const float *v)
{
	uint64_t hash = text_hash(text);
	char *copy = xstrdup(text);
	pthread_mutex_lock(&c->mu);
	struct entry *e = find(c, user_id, hash, text);
	if (!e) {
		e = &c->entries[0];
		for (size_t i = 1; i < c->slots && e->text; i++)
			if (!c->entries[i].text || c->entries[i].used < e->used)
				e = &c->entries[i];
		free(e->text);
		*e = (struct entry){user_id, hash, copy, 0};
		copy = NULL;
	}
	e->used = ++c->clock;
	memcpy(c->vecs + (size_t)(e - c->entries) * (size_t)c->dim, v,
	       (size_t)c->dim * sizeof(float));
	pthread_mutex_unlock(&c->mu);
	free(copy);
}
