/*
 * metrics.h - the process's counters for GET /metrics (Prometheus text format).
 *
 * One registry per process, as Prometheus client libraries keep: the http
 * layer counts requests, providers their calls, the embedding worker its
 * chunks; the /metrics route renders them. Label values are the callers'
 * own static strings (route templates, method and provider names), never
 * anything a client sent, so the number of series stays small and no
 * per-user data gets in. Safe from any thread.
 */
#ifndef VAULT_CORE_METRICS_H
#define VAULT_CORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A request answered: route is its template ("/api/v1/notes/{id}"), or a
 * static label for what no route matched; method is normalised here. */
void metrics_request(const char *route, const char *method, int status, double seconds);

/* Requests being handled: +1 once the body is in, -1 when completed. */
void metrics_in_flight(int delta);

/* A call to an AI provider ("local", "hash", "openai") for operation
 * ("embed", "embed_query", "chat"), and whether it succeeded. */
void metrics_provider_call(const char *provider, const char *operation, bool ok, double seconds);

/* Chunks the embedding worker embedded and stored (ok) or failed to embed. */
void metrics_embed_chunks(size_t n, bool ok);

/* Figures read at the scrape from elsewhere (the store), shown as they are. */
struct metrics_gauges {
	int64_t chunks_pending, chunks_failed; /* -1: unknown, left out */
	int pool_open, pool_in_use, pool_max;
	uint64_t pool_waits, pool_timeouts;
	size_t vector_cache_bytes;
	uint64_t db_writes, db_commits;
};

/* The whole registry and g in the Prometheus text exposition format 0.0.4; caller frees. */
char *metrics_render(const struct metrics_gauges *g);

#endif
