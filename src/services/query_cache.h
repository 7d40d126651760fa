/*
 * query_cache.h - the vectors of users' recent search queries.
 */
#ifndef VAULT_SERVICES_QUERY_CACHE_H
#define VAULT_SERVICES_QUERY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct query_cache;

/* Room for slots queries of dim floats; the least recently used goes first. */
struct query_cache *query_cache_new(size_t slots, int dim);
void query_cache_free(struct query_cache *c); /* accepts NULL */

/* Copies the vector of user_id's query text into out (dim floats) if it is kept. */
bool query_cache_get(struct query_cache *c, int64_t user_id, const char *text, float *out);

/* Keeps v as the vector of user_id's query text. */
void query_cache_put(struct query_cache *c, int64_t user_id, const char *text, const float *v);

#endif
