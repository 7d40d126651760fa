/*
 * ratelimit.c - token buckets in a fixed open-addressing table (see ratelimit.h).
 */
#include "core/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define KEY_MAX 64 /* longer keys are cut: an IPv6 address and "login:" fit */
#define PROBES  8  /* slots looked at for a key; the stalest is reused when all are taken */

struct bucket {
	char key[KEY_MAX];
	double tokens;
	double seen_ms; /* when tokens was computed; 0 = empty slot */
};

struct ratelimit {
	pthread_mutex_t mu;
	double per_ms, burst;
	struct bucket *slots;
	size_t nslots; /* a power of two */
};

struct ratelimit *ratelimit_new(int per_minute, int burst, size_t max_keys)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));
	pthread_mutex_init(&rl->mu, NULL);
	rl->per_ms = per_minute / 60000.0;
	rl->burst = burst;
	rl->nslots = 16;
	while (rl->nslots < max_keys)
		rl->nslots *= 2;
	rl->slots = xcalloc(rl->nslots, sizeof(*rl->slots));
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->slots);
	free(rl);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

int ratelimit_take(struct ratelimit *rl, const char *key, double now_ms)
{
	char k[KEY_MAX];
	snprintf(k, sizeof(k), "%s", key);
	pthread_mutex_lock(&rl->mu);
	size_t at = hash(k) & (rl->nslots - 1);
	struct bucket *b = NULL, *stalest = NULL;
	for (size_t i = 0; i < PROBES && !b; i++) {
		struct bucket *s = &rl->slots[(at + i) & (rl->nslots - 1)];
		if (s->seen_ms > 0 && strcmp(s->key, k) == 0)
			b = s;
		else if (!stalest || s->seen_ms < stalest->seen_ms)
			stalest = s;
	}
	if (!b) { /* a new key: a full bucket, in an empty slot or the stalest one */
		b = stalest;
		memcpy(b->key, k, sizeof(k));
		b->tokens = rl->burst;
		b->seen_ms = now_ms;
	}
	double t = b->tokens + (now_ms - b->seen_ms) * rl->per_ms;
	b->tokens = t < rl->burst ? t : rl->burst;
	b->seen_ms = now_ms > 0 ? now_ms : 1e-9;
	int wait = 0;
	if (b->tokens >= 1)
		b->tokens -= 1;
	else
		wait = (int)ceil((1 - b->tokens) / rl->per_ms / 1000.0);
	pthread_mutex_unlock(&rl->mu);
	return wait > 0 ? wait : 0;
}
