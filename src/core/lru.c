/*
 * lru.c - a small cache of fixed-size values under a number and a text.
 *
 * For a few hundred or thousand slots in front of work that takes tens of
 * microseconds or more (an embedding, a token's signature): the slots are
 * scanned under one lock, which costs less than a microsecond per
 * thousand and needs no index to keep in step.
 */
#include "core/lru.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct entry {
	int64_t id;
	uint64_t hash;
	char *text; /* NULL: a free slot */
	uint64_t used;
};

struct lru {
	pthread_mutex_t mu;
	size_t slots, size;
	uint64_t clock;
	struct entry *entries;
	unsigned char *values; /* slots * size: entries[i]'s value at i * size */
};

struct lru *lru_new(size_t slots, size_t size)
{
	struct lru *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->slots = slots;
	c->size = size;
	c->entries = xcalloc(slots, sizeof(*c->entries));
	c->values = xcalloc(slots, size);
	return c;
}

void lru_free(struct lru *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->slots; i++)
		free(c->entries[i].text);
	free(c->entries);
	free(c->values);
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

/* The slot of (id, text), or NULL; under c->mu. */
static struct entry *find(struct lru *c, int64_t id, uint64_t hash, const char *text)
{
	for (size_t i = 0; i < c->slots; i++) {
		struct entry *e = &c->entries[i];
		if (e->text && e->hash == hash && e->id == id && strcmp(e->text, text) == 0)
			return e;
	}
	return NULL;
}

bool lru_get(struct lru *c, int64_t id, const char *text, void *out)
{
	uint64_t hash = text_hash(text);
	pthread_mutex_lock(&c->mu);
	struct entry *e = find(c, id, hash, text);
	if (e) {
		e->used = ++c->clock;
		memcpy(out, c->values + (size_t)(e - c->entries) * c->size, c->size);
	}
	pthread_mutex_unlock(&c->mu);
	return e != NULL;
}

void lru_put(struct lru *c, int64_t id, const char *text, const void *value)
{
	uint64_t hash = text_hash(text);
	char *copy = xstrdup(text);
	pthread_mutex_lock(&c->mu);
	struct entry *e = find(c, id, hash, text);
	if (!e) {
		e = &c->entries[0];
		for (size_t i = 1; i < c->slots && e->text; i++)
			if (!c->entries[i].text || c->entries[i].used < e->used)
				e = &c->entries[i];
		free(e->text);
		*e = (struct entry){id, hash, copy, 0};
		copy = NULL;
	}
	e->used = ++c->clock;
	memcpy(c->values + (size_t)(e - c->entries) * c->size, value, c->size);
	pthread_mutex_unlock(&c->mu);
	free(copy);
}
