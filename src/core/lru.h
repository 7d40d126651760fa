/*
 * lru.h - a small cache of fixed-size values, each under a number and a
 * text, the least recently used dropped first.
 */
#ifndef VAULT_CORE_LRU_H
#define VAULT_CORE_LRU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lru;

/* Room for slots values of size bytes. Thread-safe. */
struct lru *lru_new(size_t slots, size_t size);
void lru_free(struct lru *c); /* accepts NULL */

/* Copies the value kept under (id, text) into out if there is one. */
bool lru_get(struct lru *c, int64_t id, const char *text, void *out);

/* Keeps value under (id, text), in place of what was there. */
void lru_put(struct lru *c, int64_t id, const char *text, const void *value);

#endif
