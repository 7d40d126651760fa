/*
 * backend.h - what the store backends (store_sqlite.c, store_pg.c) share:
 * nothing above the store includes it. Defined in store.c.
 */
#ifndef VAULT_STORE_BACKEND_H
#define VAULT_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A growing NUL-terminated string: SQL parameters built from lists. */
struct sbuf {
	char *p;
	size_t len, cap;
};

void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_str(struct sbuf *b, const char *s);

/* Fills out with copies of what was just stored. */
void store_note_fill(struct note *out, int64_t id, int64_t user_id, const struct note_input *in,
                     int64_t created_at, int64_t updated_at, enum embed_status status);

/* A deep copy of src into dst. */
void store_note_copy(struct note *dst, const struct note *src);

/*
 * A user's usage before (count0, bytes0) and after (count1, bytes1) a write
 * in one transaction: VERR_FORBIDDEN if it rose past in's quota.
 */
enum verr store_quota_check(const struct note_input *in, int64_t count0, int64_t bytes0,
                            int64_t count1, int64_t bytes1, struct verror *err);

/* The chunks must carry hashes an embed_job can hold (hex SHA-256: 64 characters). */
enum verr store_chunks_check(const struct note_input *in, struct verror *err);

/*
 * A chunk of a note before an update, and whether a new chunk took its row:
 * an update keeps the row (and vector) of an old chunk with the same hash.
 */
struct old_chunk {
	int64_t id;
	char *hash; /* the caller's: a copy it frees, or in its query result */
	bool taken;
};

/* Sorts old by hash, then id, for store_old_chunk_take. */
void store_old_chunks_sort(struct old_chunk *old, size_t n);

/* The oldest chunk with hash that no new chunk took yet (marking it taken), or NULL. */
struct old_chunk *store_old_chunk_take(struct old_chunk *old, size_t n, const char *hash);

#endif
