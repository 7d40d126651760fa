/*
 * sqlite_vectors.h - vector search of the SQLite driver, in process: each
 * user's vectors cached between searches and scanned. Private to
 * store_sqlite.c (and its tests).
 */
#ifndef VAULT_STORE_SQLITE_VECTORS_H
#define VAULT_STORE_SQLITE_VECTORS_H

#include "store/driver.h"

/* 1 GiB: one user's 100,000 chunks of 1,536 floats take 0.6 GiB. */
#define VECTOR_CACHE_DEFAULT_BYTES ((size_t)1 << 30)

/* The driver's own statements, after the repository's. */
enum {
	SQ_VECTORS_COUNT = Q__SHARED,
	SQ_VECTORS_LOAD,
	SQ_VECTORS_FROM,
	SQ_VECTORS_CHANGED,
	SQ_VECTORS_MOVED,
	SQ_VECTORS_NOTE,
	SQ__COUNT
};

/*
 * Only embed_done sets model, always with a vector, whatever the status
 * after; it stamps the vector with the owner's index version after the
 * write (vector_version). CHANGED walks chunks_vector_version, MOVED the
 * primary key of vector_notes (migration 8), NOTE is covered by
 * chunks_user. Every statement is bound user, model and dim as ?1-?3,
 * whether it uses them or not.
 */
#define SQLITE_VECTORS_SQL                                                                         \
	[SQ_VECTORS_COUNT] = "SELECT COUNT(*) FROM chunks WHERE user_id = ?1 AND model = ?2 "      \
	                     "AND dim = ?3",                                                       \
	[SQ_VECTORS_LOAD] = "SELECT id, note_id, embedding FROM chunks WHERE user_id = ?1 "        \
	                    "AND model = ?2 AND dim = ?3 ORDER BY note_id, seq",                   \
	[SQ_VECTORS_FROM] = "SELECT vector_notes_from > ?4 FROM users WHERE id = ?1",              \
	[SQ_VECTORS_CHANGED] = "SELECT id, note_id, embedding FROM chunks WHERE user_id = ?1 "     \
	                       "AND vector_version > ?4 AND model = ?2 AND dim = ?3",              \
	[SQ_VECTORS_MOVED] =                                                                       \
	    "SELECT note_id FROM vector_notes WHERE user_id = ?1 AND version > ?4",                \
	[SQ_VECTORS_NOTE] =                                                                        \
	    "SELECT id FROM chunks WHERE user_id = ?1 AND model = ?2 AND dim = ?3 "                \
	    "AND note_id = ?4 ORDER BY seq",

/* Every vector of a user made by one model, contiguous for a fast scan. */
struct vector_set {
	size_t n;
	int dim;
	size_t cap;         /* rows vecs has room for */
	float *vecs;        /* n * dim, row i is chunk_ids[i] */
	int64_t *chunk_ids; /* ordered by note, then chunk */
	int64_t *note_ids;
	/* Past the exact scan's rows: each row's sign code about centre
	 * (vec_sign_code), cap rows of VEC_CODE_WORDS(dim) words; else NULL. */
	uint64_t *codes;
	float *centre; /* dim floats: the rows' mean when the codes were first made */
};

void vector_set_free(struct vector_set *v); /* accepts NULL */

struct vector_cache;

/* A cache that keeps at most budget bytes of vectors. */
struct vector_cache *vector_cache_new(size_t budget);
void vector_cache_free(struct vector_cache *c); /* accepts NULL */

/* The driver's cache; a blob column of the SQLite statement st. */
struct vector_cache *sqlite_vector_cache(struct store *s);
const void *sqlite_col_blob(struct stmt *st, int i, size_t *len);

/* The driver's vector_search (driver.h). */
enum verr sqlite_vector_search(struct store *s, int64_t user_id, const char *model, int dim,
                               const float *q, const int64_t *only, size_t nonly, bool filter,
                               size_t limit, struct vector_hit **out, size_t *n,
                               struct verror *err);

/*
 * Every vector of the user made by model with dim, contiguous and ordered
 * by note, then chunk: what the search scans. Free with vector_set_free().
 */
enum verr sqlite_vectors_load(struct store *s, int64_t user_id, const char *model, int dim,
                              struct vector_set *out, struct verror *err);

/* How many users' vectors, and bytes, the cache holds (for tests). */
void vector_cache_usage(struct store *s, size_t *users, size_t *bytes);

/* The cache's thresholds; vector_cache_new sets the defaults. */
struct vector_tuning {
	size_t exact_max;  /* rows a set has at most to be scanned exactly (made from now on) */
	size_t rerank_min; /* rows scored exactly at least past it */
	size_t split_min;  /* code words a scan has at least to be split over two threads */
};

/* For tests. */
void vector_cache_tune(struct store *s, const struct vector_tuning *t);

#endif
