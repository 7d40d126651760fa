/*
 * ratelimit.h - token buckets by key, in bounded memory.
 *
 * Each key (a client address, an account) has a bucket of burst tokens
 * that refills at per_minute tokens a minute; a request takes one. The
 * table holds at most max_keys buckets: when it is full, the stalest of a
 * few candidates is forgotten, which can only make a limit more lenient,
 * never use more memory. Thread-safe.
 */
#ifndef VAULT_CORE_RATELIMIT_H
#define VAULT_CORE_RATELIMIT_H

#include <stddef.h>

struct ratelimit;

/* A limiter; per_minute and burst >= 1. */
struct ratelimit *ratelimit_new(int per_minute, int burst, size_t max_keys);

void ratelimit_free(struct ratelimit *rl); /* accepts NULL */

/*
 * Takes a token from key's bucket at time now_ms (a monotonic clock). 0 if
 * the request may go ahead, else the whole seconds until a token is free
 * (for Retry-After, at least 1).
 */
int ratelimit_take(struct ratelimit *rl, const char *key, double now_ms);

#endif
