/*
 * store_index.c - the repository, part three: the embedding queue, the
 * index's status and version, keyword and vector search. Written once over
 * the driver interface (driver.h).
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/driver.h"

static int job_cmp(const void *a, const void *b)
{
	const struct embed_job *x = a, *y = b;
	return (x->chunk_id > y->chunk_id) - (x->chunk_id < y->chunk_id);
}

/*
 * Q_EMBED_CLAIM leases and returns the chunks in one statement, its own
 * transaction; RETURNING gives no order, so the jobs are sorted by chunk
 * id (oldest first) here.
 */
enum verr store_embed_claim(struct store *s, size_t limit, int64_t now, int64_t lease_ms,
                            struct embed_job **out, size_t *n, struct verror *err)
{
	struct conn *c = NULL;
	struct embed_job *jobs = NULL;
	size_t len = 0, cap = 0;
	struct stmt *st;
	bool row;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if (lease_ms < 0)
		return verr_set(err, VERR_INVALID, "the lease must not be negative");
	if (limit == 0)
		return VERR_OK;
	if ((rc = db_get(s, true, &c, Q_EMBED_CLAIM, &st, err)))
		goto out;
	bind_i64(st, 1, now);
	bind_i64(st, 2, lease_ms);
	bind_size(st, 3, limit);
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		if (len == cap) {
			cap = cap ? 2 * cap : (limit < 64 ? limit : 64);
			jobs = xrealloc(jobs, cap * sizeof(*jobs));
		}
		struct embed_job *j = &jobs[len++];
		size_t hash_len;
		memset(j, 0, sizeof(*j));
		j->chunk_id = col_i64(st, 0);
		j->user_id = col_i64(st, 1);
		j->title = xstrdup(col_text(st, 2));
		j->heading = xstrdup(col_text(st, 3));
		j->text = xstrdup(col_text(st, 4));
		const char *hash = s->drv->col_text(st, 5, &hash_len);
		if (hash_len < sizeof(j->hash))
			memcpy(j->hash, hash, hash_len);
		j->attempts = (int)col_i64(st, 6);
	}
	/* An error past the first row (the commit) undoes every lease: hand out none. */
	reset(st);
	if (rc)
		goto out;
	if (len > 1)
		qsort(jobs, len, sizeof(*jobs), job_cmp);
	*out = jobs;
	*n = len;
	jobs = NULL;
	len = 0;
out:
	s->drv->conn_put(s, c);
	embed_jobs_free(jobs, len);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Where writers lock rows: the owners of chunk_ids[0..n), in id order, before their chunks. */
static enum verr lock_owners(struct conn *c, const int64_t *chunk_ids, size_t n, struct verror *err)
{
	struct stmt *st;
	enum verr rc = VERR_OK;
	if ((c->drv->caps & DB_ROW_LOCKS) &&
	    (rc = c->drv->prepare(c, Q_OWNERS_LOCK, &st, err)) == 0) {
		c->drv->bind_ids(st, 1, chunk_ids, sizeof(*chunk_ids), n);
		rc = db_finish(st, err);
	}
	return rc;
}

/*
 * Runs Q_EMBED_DONE or Q_EMBED_FAILED, already bound, in the caller's
 * transaction; *user_id is the chunk's owner, 0 if the chunk is gone or
 * its hash no longer matches.
 */
static enum verr chunk_write(struct stmt *st, int64_t *user_id, struct verror *err)
{
	bool row;
	enum verr rc = step(st, &row, err);
	*user_id = rc == VERR_OK && row ? col_i64(st, 0) : 0;
	if (rc)
		reset(st);
	else
		rc = db_finish(st, err);
	return rc;
}

struct embed_write {
	const int64_t *chunk_ids;
	const char *const *hashes;
	size_t n;
	const char *model, *error;
	int dim;
	const float *vecs;
	int64_t now, retry_at;
	bool give_up;
	int64_t *owners; /* room for n */
};

/*
 * One transaction for the whole batch: one fsync, and one index version
 * bump per owner (in id order, as every other writer, so two batches never
 * deadlock), so a bulk embed does not make searches reload per chunk. A
 * chunk is written only at its current hash (else the note changed
 * meanwhile and the new text is pending).
 */
static enum verr embed_write(struct conn *c, void *arg, struct verror *err)
{
	struct embed_write *w = arg;
	struct stmt *st;
	int64_t owner;
	size_t nowners = 0;
	enum verr rc;

	if ((rc = lock_owners(c, w->chunk_ids, w->n, err)) ||
	    (rc = c->drv->prepare(c, Q_EMBED_DONE, &st, err)))
		return rc;
	for (size_t i = 0; i < w->n; i++) {
		bind_i64(st, 1, w->chunk_ids[i]);
		bind_text(st, 2, w->hashes[i]);
		bind_text(st, 3, w->model);
		bind_i64(st, 4, w->dim);
		c->drv->bind_vector(st, 5, w->vecs + i * (size_t)w->dim, w->dim);
		bind_i64(st, 6, w->now);
		if ((rc = chunk_write(st, &owner, err)))
			return rc;
		size_t k = 0;
		while (k < nowners && w->owners[k] != owner)
			k++;
		if (owner && k == nowners)
			w->owners[nowners++] = owner;
	}
	if (nowners)
		qsort(w->owners, nowners, sizeof(int64_t), cmp_i64);
	for (size_t k = 0; k < nowners; k++)
		if ((rc = db_bump_version(c, w->owners[k], err)))
			return rc;
	return VERR_OK;
}

enum verr store_embed_done(struct store *s, const int64_t *chunk_ids, const char *const *hashes,
                           size_t n, const char *model, int dim, const float *vecs, int64_t now,
                           struct verror *err)
{
	struct embed_write w = {.chunk_ids = chunk_ids,
	                        .hashes = hashes,
	                        .n = n,
	                        .model = model,
	                        .dim = dim,
	                        .vecs = vecs,
	                        .now = now};
	int fixed = s->drv->vector_dim(s);
	enum verr rc;

	if (dim <= 0 || !vecs || !model || !*model)
		return verr_set(err, VERR_INVALID, "a vector needs a model, a hash and dim > 0");
	for (size_t i = 0; i < n; i++)
		if (!hashes[i])
			return verr_set(err, VERR_INVALID,
			                "a vector needs a model, a hash and dim > 0");
	/* The column's type fixes the dimension (schema_check says so at start-up). */
	if (fixed && dim != fixed)
		return verr_set(err, VERR_INVALID,
		                "a vector of %d floats, but the database stores vector(%d)", dim,
		                fixed);
	w.owners = xcalloc(n ? n : 1, sizeof(int64_t));
	rc = db_write(s, embed_write, &w, err);
	free(w.owners);
	return rc;
}

/* Only a give-up changes what the index holds (the status counts), so only it bumps. */
static enum verr embed_fail(struct conn *c, void *arg, struct verror *err)
{
	struct embed_write *w = arg;
	struct stmt *st;
	int64_t owner;
	enum verr rc;

	if ((w->give_up && (rc = lock_owners(c, w->chunk_ids, 1, err))) ||
	    (rc = c->drv->prepare(c, Q_EMBED_FAILED, &st, err)))
		return rc;
	bind_i64(st, 1, w->chunk_ids[0]);
	bind_text(st, 2, w->hashes[0]);
	bind_text(st, 3, w->error);
	bind_i64(st, 4, w->give_up ? EMBED_FAILED : EMBED_PENDING);
	bind_i64(st, 5, w->retry_at);
	if ((rc = chunk_write(st, &owner, err)) == VERR_OK && w->give_up && owner)
		rc = db_bump_version(c, owner, err);
	return rc;
}

enum verr store_embed_failed(struct store *s, int64_t chunk_id, const char *hash, const char *error,
                             int64_t retry_at, bool give_up, struct verror *err)
{
	struct embed_write w = {.chunk_ids = &chunk_id,
	                        .hashes = &hash,
	                        .n = 1,
	                        .error = error,
	                        .retry_at = retry_at,
	                        .give_up = give_up};
	if (!hash)
		return verr_set(err, VERR_INVALID, "no hash given");
	return db_write(s, embed_fail, &w, err);
}

#define REINDEX_BATCH 2000

/*
 * Where the schema fixes the vectors' dimension and EMBEDDING_DIM changed,
 * a new dimension is a new column type: every user's vectors go at once.
 */
static enum verr redim(struct store *s, int64_t user_id, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	int want = s->drv->vector_dim(s);
	enum verr rc = db_get(s, true, &c, Q_VECTOR_DIM, &st, err);
	if (rc || (rc = step(st, &row, err)))
		goto out;
	int have = row ? (int)col_i64(st, 0) : want;
	reset(st);
	if (have != want && user_id)
		rc = verr_set(err, VERR_CONFLICT,
		              "EMBEDDING_DIM changed from %d to %d: every user's notes must be "
		              "embedded again; run `vault reindex` without --user",
		              have, want);
	else if (have != want)
		rc = s->drv->exec(s, c, s->drv->redim_sql, err);
out:
	s->drv->conn_put(s, c);
	return rc;
}

/*
 * One batch of store_reindex. It counts the rows it picked, not those it
 * changed: a chunk deleted meanwhile must not end the walk early.
 */
struct reindex_batch {
	int64_t user_id, after; /* the batch starts past the chunk id after */
	int64_t last, reset;    /* the highest id it picked; how many it reset */
	size_t got;
};

/* A row per chunk picked: its id, and 1 if it was reset. */
static enum verr reindex_batch(struct conn *c, void *arg, struct verror *err)
{
	struct reindex_batch *b = arg;
	struct stmt *st;
	bool row;
	enum verr rc = c->drv->prepare(c, Q_REINDEX_BATCH, &st, err);

	b->last = b->after;
	b->reset = 0;
	b->got = 0;
	if (rc)
		return rc;
	bind_i64(st, 1, b->user_id);
	bind_i64(st, 2, b->after);
	bind_i64(st, 3, REINDEX_BATCH);
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		if (col_i64(st, 0) > b->last)
			b->last = col_i64(st, 0);
		b->reset += col_i64(st, 1);
		b->got++;
	}
	reset(st);
	return rc;
}

static enum verr bump(struct conn *c, void *arg, struct verror *err)
{
	return db_bump_version(c, *(int64_t *)arg, err);
}

/*
 * Old vectors stay until embed_done replaces them, so search keeps
 * answering meanwhile. The chunks are reset in batches of REINDEX_BATCH,
 * one write transaction each, so other writers wait tens of milliseconds
 * at a time, not the seconds a hundred thousand rows take. A failure part
 * way leaves the batches done so far done, which is harmless: run it again.
 */
enum verr store_reindex(struct store *s, int64_t user_id, int64_t *count, struct verror *err)
{
	struct reindex_batch b = {.user_id = user_id};
	int64_t total = 0;
	enum verr rc;

	if (count)
		*count = 0;
	if ((s->drv->caps & DB_FIXED_DIM) && (rc = redim(s, user_id, err)))
		return rc;
	do {
		if ((rc = db_write(s, reindex_batch, &b, err)))
			return rc;
		total += b.reset;
		b.after = b.last;
	} while (b.got == REINDEX_BATCH);
	if ((rc = db_write(s, bump, &user_id, err)) == VERR_OK && count)
		*count = total;
	return rc;
}

enum verr store_index_status(struct store *s, int64_t user_id, const char *model, int dim,
                             struct index_status *out, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_get(s, false, &c, Q_INDEX_STATUS, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	/* A NULL model counts every ready vector as stale. */
	if (model)
		bind_text(st, 2, model);
	else
		s->drv->bind_null(st, 2);
	bind_i64(st, 3, dim);
	if ((rc = step(st, &row, err)) || !row)
		goto out;
	/* A sum of no rows is NULL, read as 0. */
	out->pending = col_i64(st, 0);
	out->ready = col_i64(st, 1);
	out->failed = col_i64(st, 2);
	out->stale = col_i64(st, 3);
out:
	s->drv->conn_put(s, c);
	return rc;
}

enum verr store_stats(struct store *s, struct store_stats *out, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_get(s, false, &c, Q_QUEUE_COUNTS, &st, err)) || (rc = step(st, &row, err)) ||
	    !row)
		goto out;
	out->chunks_pending = col_i64(st, 0);
	out->chunks_failed = col_i64(st, 1);
out:
	s->drv->conn_put(s, c);
	/* After conn_put, so the scrape's own connection does not count as in use. */
	s->drv->pool_stats(s, out);
	out->writes = __atomic_load_n(&s->writes, __ATOMIC_RELAXED);
	out->commits = __atomic_load_n(&s->commits, __ATOMIC_RELAXED);
	return rc;
}

/* Always read from the database, so another process's writes show at once. */
enum verr store_index_version(struct store *s, int64_t user_id, int64_t *version,
                              struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	*version = 0;
	if ((rc = db_get(s, false, &c, Q_VERSION_GET, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	if ((rc = step(st, &row, err)))
		goto out;
	if (!row)
		rc = verr_set(err, VERR_NOT_FOUND, "no such user");
	else
		*version = col_i64(st, 0);
out:
	s->drv->conn_put(s, c);
	return rc;
}

/*
 * The terms go to the driver's query language (FTS5 MATCH, a tsquery's
 * text), which never reads a term as syntax; user_id is checked again in
 * SQL, so no expression can reach another user's rows. Ties go to the
 * older note.
 */
enum verr store_keyword_search(struct store *s, int64_t user_id, const char *const *terms,
                               size_t nterms, bool phrase, const char *const *tags, size_t ntags,
                               size_t limit, struct keyword_hit **out, size_t *n,
                               struct verror *err)
{
	struct conn *c = NULL;
	struct keyword_hit *hits = NULL;
	const char **words = NULL;
	char *text = NULL;
	size_t len = 0, cap = 0, nwords = 0;
	struct stmt *st;
	bool row;
	enum verr rc = VERR_OK;

	*out = NULL;
	*n = 0;
	if (nterms > 0 && !terms)
		return verr_set(err, VERR_INVALID, "%zu search terms given without an array",
		                nterms);
	words = xcalloc(nterms + 1, sizeof(*words));
	for (size_t i = 0; i < nterms; i++) {
		if (!terms[i]) {
			rc = verr_set(err, VERR_INVALID, "search term %zu is missing", i);
			goto out;
		}
		if (*terms[i])
			words[nwords++] = terms[i];
	}
	if (nwords == 0 || limit == 0)
		goto out; /* no words: nothing matches */
	text = s->drv->keyword_query(user_id, words, nwords, phrase);
	int q =
	    phrase ? (ntags ? Q_PHRASE_TAGGED : Q_PHRASE) : (ntags ? Q_KEYWORD_TAGGED : Q_KEYWORD);
	if ((rc = db_get(s, false, &c, q, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	bind_text(st, 2, text);
	bind_size(st, 3, limit);
	if (ntags)
		s->drv->bind_texts(st, 4, tags, ntags);
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		if (len == cap) {
			cap = cap ? 2 * cap : (limit < 64 ? limit : 64);
			hits = xrealloc(hits, cap * sizeof(*hits));
		}
		hits[len].note_id = col_i64(st, 0);
		hits[len++].score = s->drv->col_double(st, 1);
	}
	reset(st);
	if (rc)
		goto out;
	*out = hits;
	*n = len;
	hits = NULL;
out:
	s->drv->conn_put(s, c);
	free(words);
	free(text);
	free(hits);
	return rc;
}

enum verr store_vector_search(struct store *s, int64_t user_id, const char *model, int dim,
                              const float *q, const int64_t *only, size_t nonly, bool filter,
                              size_t limit, struct vector_hit **out, size_t *n, struct verror *err)
{
	*out = NULL;
	*n = 0;
	if (dim <= 0 || !model || !q)
		return verr_set(err, VERR_INVALID,
		                "a vector search needs a model, a vector and dim > 0");
	if (limit == 0 || (filter && nonly == 0))
		return VERR_OK;
	return s->drv->vector_search(s, user_id, model, dim, q, only, nonly, filter, limit, out, n,
	                             err);
}
