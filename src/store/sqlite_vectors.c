/*
 * sqlite_vectors.c - the SQLite driver's vector search: every vector of
 * the user scored in process against the query, from a cache of each
 * user's vectors.
 *
 * A user's vectors are an immutable snapshot (struct vset), contiguous and
 * ordered by note then chunk, made for one index version of theirs
 * (users.index_version, which every write of their chunks or vectors bumps,
 * in any process). A search reads the version and, when the snapshot in
 * hand is older, makes the next one in the same read transaction: from the
 * old one plus the vectors written since (each stamped with the version of
 * its write, chunks.vector_version) and the rows of the notes whose rows
 * went or moved since (vector_notes), read again; so one edit costs its own
 * notes' rows, and a move in place of the rows after them, not a scan of
 * the user's rows or a reload of every vector from the database. Searches that find the snapshot
 * current share it; one load or refresh per user runs at a time, and other users' searches do not
 * wait for it. The cache keeps at most its budget of bytes, dropping the least recently used users'
 * snapshots first (a snapshot in use lives on until its last search releases it).
 */
#include "store/sqlite_vectors.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/vecmath.h"

/*
 * A user's vectors up to this many rows are scanned exactly; past it, their
 * sign codes pick the candidates that are then scored exactly.
 */
#define EXACT_MAX_ROWS 10000

/*
 * Rows scored exactly per hit asked for in a set with sign codes, and at
 * least: on the anchor's 100k sets, 100 rows held 99.9 % of the exact top
 * 10 at 384 dimensions (1-bit codes, numpy).
 */
#define RERANK_PER_HIT 4
#define RERANK_MIN     128

/*
 * Code words a scan has at least to be split over two threads: on 2 cores
 * busy with other jobs (load 6-10) the split won at 100k x 1536 (2.4M
 * words: p50 0.77-1.30 ms against 1.08-1.41 in 4 runs each) and lost at
 * 100k x 384 (0.6M words: 0.40-0.43 against 0.34-0.35).
 */
#define SPLIT_MIN_WORDS ((size_t)1 << 20)

struct vset {
	int refs; /* the cache's, while it holds it, plus one per search using it */
	int64_t version;
	size_t bytes;
	struct vector_set vs;
};

/* One user's place in the cache, for one model and dimension. */
struct slot {
	int64_t user_id;
	char *model;
	int dim;
	struct vset *cur; /* the newest snapshot, NULL until loaded or once evicted */
	int pins;         /* searches between finding the slot and done with it */
	int64_t last_used;
	pthread_mutex_t load_mu; /* one load or refresh of this user at a time */
	struct slot *next;
};

/*
 * A second thread for one large search at a time: it computes the Hamming
 * distances of the second half of the rows while the search does the first
 * (one 100k x 1536 scan reads 19 MB of codes). Started by the first search
 * that wants it; a search that finds it busy does all the rows itself.
 */
struct helper {
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* a job posted, done, or quit */
	pthread_t thread;
	bool started, busy, posted, done, quit;
	const uint64_t *q, *codes; /* the job: vec_hamming_many's arguments */
	size_t n, words;
	uint16_t *out;
};

struct vector_cache {
	struct helper helper;
	pthread_mutex_t mu; /* guards everything below and every slot's fields but load_mu */
	size_t budget, bytes;
	struct vector_tuning tune;
	int64_t clock;
	struct slot *slots;
};

struct vector_cache *vector_cache_new(size_t budget)
{
	struct vector_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->budget = budget;
	c->tune = (struct vector_tuning){EXACT_MAX_ROWS, RERANK_MIN, SPLIT_MIN_WORDS};
	pthread_mutex_init(&c->helper.mu, NULL);
	pthread_cond_init(&c->helper.cv, NULL);
	return c;
}

void vector_set_free(struct vector_set *v)
{
	if (!v)
		return;
	free(v->vecs);
	free(v->chunk_ids);
	free(v->note_ids);
	free(v->codes);
	free(v->centre);
	memset(v, 0, sizeof(*v));
}

static void vset_free(struct vset *v)
{
	if (v) {
		vector_set_free(&v->vs);
		free(v);
	}
}

/* Drops a reference; with c->mu held. Returns the snapshot to free (outside the lock), or NULL. */
static struct vset *vset_unref(struct vset *v)
{
	return v && --v->refs == 0 ? v : NULL;
}

static void slot_free(struct slot *sl)
{
	pthread_mutex_destroy(&sl->load_mu);
	free(sl->model);
	free(sl);
}

void vector_cache_free(struct vector_cache *c)
{
	if (!c)
		return;
	while (c->slots) {
		struct slot *sl = c->slots;
		c->slots = sl->next;
		vset_free(vset_unref(sl->cur));
		slot_free(sl);
	}
	struct helper *h = &c->helper;
	pthread_mutex_lock(&h->mu);
	h->quit = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->started)
		pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void vector_cache_usage(struct store *s, size_t *users, size_t *bytes)
{
	struct vector_cache *c = sqlite_vector_cache(s);
	pthread_mutex_lock(&c->mu);
	*users = 0;
	for (struct slot *sl = c->slots; sl; sl = sl->next)
		*users += sl->cur != NULL;
	*bytes = c->bytes;
	pthread_mutex_unlock(&c->mu);
}

void vector_cache_tune(struct store *s, const struct vector_tuning *t)
{
	struct vector_cache *c = sqlite_vector_cache(s);
	pthread_mutex_lock(&c->mu);
	c->tune = *t;
	pthread_mutex_unlock(&c->mu);
}

#define HUGE_PAGE ((size_t)2 << 20)

/*
 * n floats, 64-byte aligned, so with dim a multiple of 16 every row starts
 * on a cache line. A large array is aligned to and asks for huge pages:
 * filling fresh memory is mostly page faults (614 MB took 1.7 s here in 4
 * KiB pages, 1.2 s in huge ones, against 36 ms for a copy into memory
 * already touched). posix_memalign fails only for want of memory; xmalloc
 * then reports that and aborts, as everywhere else.
 */
static float *floats_alloc(size_t n)
{
	size_t bytes = (n ? n : 1) * sizeof(float);
	bool huge = bytes >= HUGE_PAGE;
	void *p = NULL;
	if (posix_memalign(&p, huge ? HUGE_PAGE : 64, bytes) != 0)
		return xmalloc(bytes);
	if (huge)
		madvise(p, bytes, MADV_HUGEPAGE); /* advice only: without it, small pages */
	return p;
}

/* Rows to allocate for n: room to grow by edits without a new array (unused room costs no memory).
 */
static size_t set_cap(size_t n)
{
	return n + n / 8 + 64;
}

static void set_alloc(struct vector_set *vs, size_t n, int dim)
{
	vs->dim = dim;
	vs->cap = n ? set_cap(n) : 0;
	vs->vecs = n ? floats_alloc(vs->cap * (size_t)dim) : NULL;
	vs->chunk_ids = n ? xmalloc(n * sizeof(*vs->chunk_ids)) : NULL;
	vs->note_ids = n ? xmalloc(n * sizeof(*vs->note_ids)) : NULL;
}

/*
 * The sign codes of every row of vs about the rows' mean: centring makes
 * the bits carry what tells the rows apart (embeddings share a common
 * direction, so uncentred most rows agree on most signs).
 */
static void codes_build(struct vector_set *vs)
{
	size_t words = VEC_CODE_WORDS(vs->dim), dim = (size_t)vs->dim;
	double *sum = xcalloc(dim, sizeof(*sum));
	for (size_t i = 0; i < vs->n; i++)
		for (size_t d = 0; d < dim; d++)
			sum[d] += vs->vecs[i * dim + d];
	vs->centre = xmalloc(dim * sizeof(float));
	for (size_t d = 0; d < dim; d++)
		vs->centre[d] = (float)(sum[d] / (double)(vs->n ? vs->n : 1));
	free(sum);
	vs->codes = xmalloc((vs->cap ? vs->cap : 1) * words * sizeof(uint64_t));
	for (size_t i = 0; i < vs->n; i++)
		vec_sign_code(vs->vecs + i * dim, vs->centre, vs->dim, vs->codes + i * words);
}

/*
 * Gives vs its codes past exact_max rows, drops them at or below. (Distances
 * are 16 bits: a dimension past that, never allowed by the settings, stays
 * an exact scan.)
 */
static void codes_fit(struct vector_set *vs, size_t exact_max)
{
	if (vs->n > exact_max && vs->dim < UINT16_MAX && !vs->codes) {
		codes_build(vs);
	} else if (vs->n <= exact_max && vs->codes) {
		free(vs->codes);
		free(vs->centre);
		vs->codes = NULL;
		vs->centre = NULL;
	}
}

/* Binds user, model and dim, positions 1-3 of every statement here. */
static enum verr prepare(struct conn *c, int q, int64_t user_id, const char *model, int dim,
                         struct stmt **st, struct verror *err)
{
	enum verr rc = c->drv->prepare(c, q, st, err);
	if (rc == VERR_OK) {
		bind_i64(*st, 1, user_id);
		bind_text(*st, 2, model);
		bind_i64(*st, 3, dim);
	}
	return rc;
}

/* The vector of the row in column 2 into dst: dim floats, else VERR_INTERNAL. */
static enum verr read_vector(struct stmt *st, int dim, float *dst, struct verror *err)
{
	size_t bytes, want = (size_t)dim * sizeof(float);
	const void *blob = sqlite_col_blob(st, 2, &bytes);
	if (!blob || bytes != want)
		return verr_set(err, VERR_INTERNAL,
		                "chunk %" PRId64 " has a vector of %zu bytes, expected %zu",
		                col_i64(st, 0), bytes, want);
	memcpy(dst, blob, want);
	return VERR_OK;
}

/*
 * Every vector of the user, in c's transaction: the rows are counted, then
 * each blob is copied straight into the one array (no allocation per row).
 * Every chunk with a vector of model and dim counts, whatever its status: a
 * row's vector always belongs to its current text, so while a reindex runs
 * the old vectors keep answering until new ones replace them.
 */
static enum verr load(struct conn *c, int64_t user_id, const char *model, int dim, size_t exact_max,
                      struct vector_set *out, struct verror *err)
{
	struct stmt *st;
	size_t count = 0, i = 0;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	out->dim = dim;
	if ((rc = prepare(c, SQ_VECTORS_COUNT, user_id, model, dim, &st, err)) ||
	    (rc = step(st, &row, err)))
		return rc;
	count = row ? (size_t)col_i64(st, 0) : 0;
	reset(st);
	if (count == 0)
		return VERR_OK;
	set_alloc(out, count, dim);
	if ((rc = prepare(c, SQ_VECTORS_LOAD, user_id, model, dim, &st, err)))
		goto out;
	while (i < count && (rc = step(st, &row, err)) == VERR_OK && row) {
		if ((rc = read_vector(st, dim, out->vecs + i * (size_t)dim, err)))
			break;
		out->chunk_ids[i] = col_i64(st, 0);
		out->note_ids[i++] = col_i64(st, 1);
	}
	reset(st);
out:
	out->n = i;
	if (rc)
		vector_set_free(out);
	else
		codes_fit(out, exact_max);
	return rc;
}

/* A chunk id and its row in a vector set, to find rows by id. */
struct row_of {
	int64_t id;
	size_t row;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row_of *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* The row of id in by[0..n) (sorted by id), else NULL. */
static const struct row_of *row_find(const struct row_of *by, size_t n, int64_t id)
{
	struct row_of key = {id, 0};
	return n ? bsearch(&key, by, n, sizeof(*by), row_cmp) : NULL;
}

static struct row_of *rows_by_id(const struct vector_set *vs)
{
	struct row_of *by = xmalloc((vs->n ? vs->n : 1) * sizeof(*by));
	for (size_t i = 0; i < vs->n; i++)
		by[i] = (struct row_of){vs->chunk_ids[i], i};
	if (vs->n)
		qsort(by, vs->n, sizeof(*by), row_cmp);
	return by;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t *ids_push(int64_t *v, size_t *n, size_t *cap, int64_t id)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		v = xrealloc(v, *cap * sizeof(*v));
	}
	v[(*n)++] = id;
	return v;
}

/*
 * The user's vectors now, from old (made at version since) and what was
 * written after it, in c's transaction: the vectors written since
 * (chunks.vector_version), and the notes whose rows changed otherwise
 * (vector_notes). Only those notes' rows are read again, each with its new
 * vector if it has one, else its old one; every other note keeps its old
 * rows, so an edit costs its own notes' rows, not a scan of the user's.
 * The sign codes follow (a new row's made about old's centre, which stays,
 * so the old rows' codes stay right). *stale when the changes are too many
 * or too old to follow, or a row has no vector to take (not expected): the
 * caller loads afresh.
 */
static enum verr refresh(struct conn *c, int64_t user_id, const char *model, int dim,
                         size_t exact_max, struct vector_set *old, bool own, int64_t since,
                         struct vector_set *out, bool *stale, struct verror *err)
{
	struct vector_set fresh = {0}, members = {0};
	struct row_of *fresh_by = NULL;
	ptrdiff_t *src = NULL;
	int64_t *notes = NULL;
	size_t nfresh = 0, cap = 0, nmem = 0, nnotes = 0, ncap = 0;
	struct stmt *st;
	bool row;
	enum verr rc;

	*stale = false;
	memset(out, 0, sizeof(*out));
	if ((rc = prepare(c, SQ_VECTORS_FROM, user_id, model, dim, &st, err)))
		goto out;
	bind_i64(st, 4, since);
	if ((rc = step(st, &row, err)) == VERR_OK && row && col_i64(st, 0))
		*stale = true; /* the notes changed since have been forgotten */
	reset(st);
	if (rc || *stale || (rc = prepare(c, SQ_VECTORS_CHANGED, user_id, model, dim, &st, err)))
		goto out;
	bind_i64(st, 4, since);
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		if (nfresh == cap) {
			cap = cap ? 2 * cap : 16;
			fresh.vecs = xrealloc(fresh.vecs, cap * (size_t)dim * sizeof(float));
			fresh.chunk_ids = xrealloc(fresh.chunk_ids, cap * sizeof(int64_t));
		}
		if ((rc = read_vector(st, dim, fresh.vecs + nfresh * (size_t)dim, err)))
			break;
		fresh.chunk_ids[nfresh++] = col_i64(st, 0);
		notes = ids_push(notes, &nnotes, &ncap, col_i64(st, 1));
	}
	reset(st);
	fresh.n = nfresh;
	if (rc || (rc = prepare(c, SQ_VECTORS_MOVED, user_id, model, dim, &st, err)))
		goto out;
	bind_i64(st, 4, since);
	while ((rc = step(st, &row, err)) == VERR_OK && row)
		notes = ids_push(notes, &nnotes, &ncap, col_i64(st, 0));
	reset(st);
	if (rc)
		goto out;
	if (nnotes)
		qsort(notes, nnotes, sizeof(*notes), cmp_i64);
	size_t distinct = 0;
	for (size_t i = 0; i < nnotes; i++)
		if (!distinct || notes[i] != notes[distinct - 1])
			notes[distinct++] = notes[i];
	nnotes = distinct;
	/* Past a quarter of the rows, a query a note costs more than one load. */
	if (4 * (nnotes + nfresh) > old->n + 64) {
		*stale = true;
		goto out;
	}

	/*
	 * The rows now, by note as old's: old's rows of the notes untouched,
	 * and the rows of those changed, read again in order. src[i] >= 0 is
	 * an old row, else fresh row -1 - src[i].
	 */
	fresh_by = rows_by_id(&fresh);
	size_t mcap = old->n + nfresh + 1;
	members.chunk_ids = xmalloc(mcap * sizeof(int64_t));
	members.note_ids = xmalloc(mcap * sizeof(int64_t));
	src = xmalloc(mcap * sizeof(*src));
	bool in_order = own;
	size_t r = 0, last = 0;
	for (size_t k = 0; k <= nnotes; k++) {
		int64_t note = k < nnotes ? notes[k] : INT64_MAX;
		for (; r < old->n && old->note_ids[r] < note; r++) {
			members.chunk_ids[nmem] = old->chunk_ids[r];
			members.note_ids[nmem] = old->note_ids[r];
			src[nmem++] = (ptrdiff_t)r;
		}
		if (k == nnotes)
			break;
		size_t end = r;
		while (end < old->n && old->note_ids[end] == note)
			end++;
		if ((rc = prepare(c, SQ_VECTORS_NOTE, user_id, model, dim, &st, err)))
			goto out;
		bind_i64(st, 4, note);
		while (!*stale && (rc = step(st, &row, err)) == VERR_OK && row) {
			int64_t id = col_i64(st, 0);
			const struct row_of *f = row_find(fresh_by, nfresh, id);
			size_t o = r;
			while (!f && o < end && old->chunk_ids[o] != id)
				o++;
			if ((!f && o == end) || nmem == mcap) {
				*stale = true;
				break;
			}
			members.chunk_ids[nmem] = id;
			members.note_ids[nmem] = note;
			src[nmem++] = f ? -1 - (ptrdiff_t)f->row : (ptrdiff_t)o;
			in_order = in_order && (f || (o >= last && (last = o + 1)));
		}
		reset(st);
		if (rc || *stale)
			goto out;
		r = end;
	}
	in_order = in_order && nmem <= old->cap;
	size_t row_bytes = (size_t)dim * sizeof(float), words = VEC_CODE_WORDS(dim);
	size_t code_bytes = words * sizeof(uint64_t);
	if (in_order) {
		/*
		 * The old rows kept are in their old order (an edit adds and drops
		 * rows): in the old arrays, first close the gaps of the rows gone,
		 * then open those of the rows new, from the end. No fresh memory
		 * is touched, where a copy into a new array costs mostly page faults.
		 */
		float *v = old->vecs;
		uint64_t *k = old->codes;
		size_t kept = 0;
		for (size_t i = 0; i < nmem; i++) {
			if (src[i] < 0)
				continue;
			if ((size_t)src[i] != kept) {
				memmove(v + kept * (size_t)dim, v + (size_t)src[i] * (size_t)dim,
				        row_bytes);
				if (k)
					memmove(k + kept * words, k + (size_t)src[i] * words,
					        code_bytes);
			}
			kept++;
		}
		for (size_t i = nmem; i-- > 0;) {
			if (src[i] >= 0) {
				if (--kept != i) {
					memmove(v + i * (size_t)dim, v + kept * (size_t)dim,
					        row_bytes);
					if (k)
						memmove(k + i * words, k + kept * words,
						        code_bytes);
				}
				continue;
			}
			memmove(v + i * (size_t)dim,
			        fresh.vecs + (size_t)(-1 - src[i]) * (size_t)dim, row_bytes);
			if (k)
				vec_sign_code(v + i * (size_t)dim, old->centre, dim, k + i * words);
		}
		out->vecs = v;
		out->codes = k;
		out->centre = old->centre;
		out->cap = old->cap;
		old->vecs = NULL;
		old->codes = NULL;
		old->centre = NULL;
	} else {
		out->cap = set_cap(nmem);
		out->vecs = floats_alloc(out->cap * (size_t)dim);
		if (old->codes) {
			out->codes = xmalloc(out->cap * code_bytes);
			out->centre = xmalloc(row_bytes);
			memcpy(out->centre, old->centre, row_bytes);
		}
		for (size_t i = 0; i < nmem; i++) {
			float *to = out->vecs + i * (size_t)dim;
			if (src[i] >= 0) {
				memcpy(to, old->vecs + (size_t)src[i] * (size_t)dim, row_bytes);
				if (out->codes)
					memcpy(out->codes + i * words,
					       old->codes + (size_t)src[i] * words, code_bytes);
			} else {
				memcpy(to, fresh.vecs + (size_t)(-1 - src[i]) * (size_t)dim,
				       row_bytes);
				if (out->codes)
					vec_sign_code(to, out->centre, dim, out->codes + i * words);
			}
		}
	}
	out->dim = dim;
	out->n = nmem;
	out->chunk_ids = members.chunk_ids;
	out->note_ids = members.note_ids;
	members.chunk_ids = members.note_ids = NULL;
	codes_fit(out, exact_max);
out:
	free(src);
	free(notes);
	if (rc)
		vector_set_free(out);
	vector_set_free(&fresh);
	vector_set_free(&members);
	free(fresh_by);
	return rc;
}

/* Snapshots dropped under the lock, freed after it. */
struct dead {
	struct vset **v;
	size_t n;
};

static void dead_add(struct dead *d, struct vset *v)
{
	if (!v)
		return;
	if ((d->n & (d->n - 1)) == 0)
		d->v = xrealloc(d->v, (d->n ? 2 * d->n : 1) * sizeof(*d->v));
	d->v[d->n++] = v;
}

/*
 * With c->mu held: drops the least recently used snapshots no search is
 * about to take until the cache is within its budget, keep's last.
 */
static void evict(struct vector_cache *c, struct slot *keep, struct dead *dead)
{
	while (c->bytes > c->budget) {
		struct slot *lru = NULL;
		for (struct slot *sl = c->slots; sl; sl = sl->next)
			if (sl->cur && sl != keep && sl->pins == 0 &&
			    (!lru || sl->last_used < lru->last_used))
				lru = sl;
		if (!lru)
			lru = keep; /* alone past the budget: the caller uses it once */
		if (!lru || !lru->cur)
			break;
		c->bytes -= lru->cur->bytes;
		dead_add(dead, vset_unref(lru->cur));
		lru->cur = NULL;
	}
	/* Slots with nothing in them and nobody on them go. */
	for (struct slot **p = &c->slots; *p;) {
		struct slot *sl = *p;
		if (!sl->cur && sl->pins == 0 && sl != keep) {
			*p = sl->next;
			slot_free(sl);
		} else {
			p = &sl->next;
		}
	}
}

/* The user's slot, made if missing, pinned; with c->mu held. */
static struct slot *slot_get(struct vector_cache *c, int64_t user_id, const char *model, int dim)
{
	struct slot *sl = c->slots;
	while (sl && !(sl->user_id == user_id && sl->dim == dim && strcmp(sl->model, model) == 0))
		sl = sl->next;
	if (!sl) {
		sl = xcalloc(1, sizeof(*sl));
		sl->user_id = user_id;
		sl->model = xstrdup(model);
		sl->dim = dim;
		pthread_mutex_init(&sl->load_mu, NULL);
		sl->next = c->slots;
		c->slots = sl;
	}
	sl->pins++;
	sl->last_used = ++c->clock;
	return sl;
}

/* sl's snapshot if it is at version, referenced for the caller; with c->mu held. */
static struct vset *current(struct slot *sl, int64_t version)
{
	if (!sl->cur || sl->cur->version != version)
		return NULL;
	sl->cur->refs++;
	return sl->cur;
}

/*
 * The user's snapshot at version, in c's read transaction: the cached one,
 * else the next one made from it (or loaded) and cached. Release with
 * vset_release().
 */
static enum verr vset_get(struct vector_cache *c, struct conn *conn, int64_t user_id,
                          const char *model, int dim, int64_t version, struct vset **out,
                          struct verror *err)
{
	struct vset *old = NULL;
	struct dead dead = {0};
	enum verr rc = VERR_OK;

	pthread_mutex_lock(&c->mu);
	struct slot *sl = slot_get(c, user_id, model, dim);
	*out = current(sl, version);
	size_t exact_max = c->tune.exact_max;
	pthread_mutex_unlock(&c->mu);
	if (*out)
		goto unpin;

	pthread_mutex_lock(&sl->load_mu);
	/* A snapshot no search holds is taken out of the cache and refreshed in place. */
	bool own = false;
	pthread_mutex_lock(&c->mu);
	*out = current(sl, version);
	if (!*out && (old = sl->cur)) {
		if ((own = old->refs == 1)) {
			sl->cur = NULL;
			c->bytes -= old->bytes;
		} else {
			old->refs++;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (*out)
		goto unlock;

	struct vset *v = xcalloc(1, sizeof(*v));
	double t0 = time_mono_ms();
	bool stale = !old || old->version > version;
	if (!stale)
		rc = refresh(conn, user_id, model, dim, exact_max, &old->vs, own, old->version,
		             &v->vs, &stale, err);
	if (rc == VERR_OK && stale)
		rc = load(conn, user_id, model, dim, exact_max, &v->vs, err);
	if (rc) {
		free(v);
		goto unlock;
	}
	log_emit(LOG_INFO, "vectors_cached",
	         json_pack("{s:I,s:I,s:s,s:f}", "user_id", (json_int_t)user_id, "rows",
	                   (json_int_t)v->vs.n, "how", stale ? "loaded" : "refreshed", "ms",
	                   time_mono_ms() - t0));
	v->version = version;
	v->bytes = v->vs.n * ((size_t)dim * sizeof(float) + 2 * sizeof(int64_t));
	if (v->vs.codes)
		v->bytes +=
		    v->vs.n * VEC_CODE_WORDS(dim) * sizeof(uint64_t) + (size_t)dim * sizeof(float);
	v->refs = 2; /* the cache's and the caller's */
	pthread_mutex_lock(&c->mu);
	if (sl->cur) {
		c->bytes -= sl->cur->bytes;
		dead_add(&dead, vset_unref(sl->cur));
	}
	sl->cur = v;
	c->bytes += v->bytes;
	evict(c, sl, &dead);
	pthread_mutex_unlock(&c->mu);
	*out = v;
unlock:
	pthread_mutex_unlock(&sl->load_mu);
	pthread_mutex_lock(&c->mu);
	dead_add(&dead, vset_unref(old));
	pthread_mutex_unlock(&c->mu);
unpin:
	pthread_mutex_lock(&c->mu);
	sl->pins--;
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < dead.n; i++)
		vset_free(dead.v[i]);
	free(dead.v);
	return rc;
}

static void vset_release(struct vector_cache *c, struct vset *v)
{
	pthread_mutex_lock(&c->mu);
	struct vset *dead = vset_unref(v);
	pthread_mutex_unlock(&c->mu);
	vset_free(dead);
}

static int hit_cmp(const void *a, const void *b)
{
	const struct vector_hit *x = a, *y = b;
	if (x->similarity != y->similarity)
		return (x->similarity < y->similarity) - (x->similarity > y->similarity);
	return (x->note_id > y->note_id) - (x->note_id < y->note_id);
}

/* Sifts hits[i] down the heap hits[0..n), whose root is its worst hit. */
static void sift_worst(struct vector_hit *hits, size_t n, size_t i)
{
	for (;;) {
		size_t worst = i, l = 2 * i + 1, r = l + 1;
		if (l < n && hit_cmp(&hits[l], &hits[worst]) > 0)
			worst = l;
		if (r < n && hit_cmp(&hits[r], &hits[worst]) > 0)
			worst = r;
		if (worst == i)
			return;
		struct vector_hit t = hits[i];
		hits[i] = hits[worst];
		hits[worst] = t;
		i = worst;
	}
}

/*
 * Moves the best k of hits[0..n) to the front, best first, and returns how
 * many that is. The caller keeps only those: sorting every note of a user
 * (2,000 of them) was a tenth of a search's CPU.
 */
static size_t best_hits(struct vector_hit *hits, size_t n, size_t k)
{
	if (k == 0)
		return 0;
	if (n > k) {
		for (size_t i = k / 2; i-- > 0;)
			sift_worst(hits, k, i);
		for (size_t i = k; i < n; i++)
			if (hit_cmp(&hits[i], &hits[0]) < 0) {
				hits[0] = hits[i];
				sift_worst(hits, k, 0);
			}
		n = k;
	}
	if (n)
		qsort(hits, n, sizeof(*hits), hit_cmp);
	return n;
}

/* A row's distance when filter leaves it out: above any real one. */
#define OUTSIDE UINT16_MAX

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->posted && !h->quit)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->quit)
			break;
		h->posted = false;
		pthread_mutex_unlock(&h->mu);
		vec_hamming_many(h->q, h->codes, h->n, h->words, h->out);
		pthread_mutex_lock(&h->mu);
		h->done = true;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* vec_hamming_many of n codes, half of them on the helper when it is free and they are many. */
static void hamming_split(struct helper *h, const uint64_t *q, const uint64_t *codes, size_t n,
                          size_t words, size_t split_min, uint16_t *out)
{
	size_t half = n / 2;
	bool shared = false;
	if (n * words >= split_min && half > 0) {
		pthread_mutex_lock(&h->mu);
		if (!h->started && !h->quit)
			h->started = pthread_create(&h->thread, NULL, helper_main, h) == 0;
		if (h->started && !h->busy) {
			h->busy = shared = h->posted = true;
			h->done = false;
			h->q = q;
			h->codes = codes + half * words;
			h->n = n - half;
			h->words = words;
			h->out = out + half;
			pthread_cond_broadcast(&h->cv);
		}
		pthread_mutex_unlock(&h->mu);
	}
	vec_hamming_many(q, codes, shared ? half : n, words, out);
	if (shared) {
		pthread_mutex_lock(&h->mu);
		while (!h->done)
			pthread_cond_wait(&h->cv, &h->mu);
		h->busy = false;
		pthread_mutex_unlock(&h->mu);
	}
}

/*
 * scan() of a set with sign codes: the Hamming distance of every row's code
 * to q's ranks the rows, and the nearest (RERANK_PER_HIT per hit wanted,
 * at least rerank_min, and every row as near as the last of them) are
 * scored exactly, each note at its best chunk among them; more when they
 * hold fewer than limit notes. The similarities are exact; a note misses
 * only if its code is farther than that many others'.
 */
static size_t scan_codes(struct helper *h, const struct vector_set *vs, const float *q,
                         const int64_t *only, size_t nonly, bool filter, size_t limit,
                         const struct vector_tuning *tune, struct vector_hit **out)
{
	size_t n = vs->n, dim = (size_t)vs->dim, words = VEC_CODE_WORDS(dim);
	uint64_t *qcode = xmalloc(words * sizeof(*qcode));
	uint16_t *dist = xmalloc(n * sizeof(*dist));
	size_t *hist = xcalloc(dim + 1, sizeof(*hist)), *rows = NULL, allowed = 0;
	struct vector_hit *hits = NULL;
	size_t nhits = 0;

	vec_sign_code(q, vs->centre, vs->dim, qcode);
	hamming_split(h, qcode, vs->codes, n, words, tune->split_min, dist);
	if (filter) /* both ordered by note: one merge */
		for (size_t i = 0, k = 0; i < n; i++) {
			while (k < nonly && only[k] < vs->note_ids[i])
				k++;
			if (k == nonly || only[k] != vs->note_ids[i])
				dist[i] = OUTSIDE;
		}
	for (size_t i = 0; i < n; i++)
		if (dist[i] != OUTSIDE) {
			hist[dist[i]]++;
			allowed++;
		}
	size_t want =
	    limit * RERANK_PER_HIT > tune->rerank_min ? limit * RERANK_PER_HIT : tune->rerank_min;
	for (;;) {
		/* The nearest distance t with at least want rows within it. */
		size_t t = 0, m = hist[0];
		while (m < want && t < dim)
			m += hist[++t];
		rows = xrealloc(rows, (m ? m : 1) * sizeof(*rows));
		hits = xrealloc(hits, (m ? m : 1) * sizeof(*hits));
		m = 0;
		for (size_t i = 0; i < n; i++)
			if (dist[i] <= t)
				rows[m++] = i;
		/* In row order, so a note's rows are together. */
		nhits = 0;
		for (size_t j = 0; j < m;) {
			int64_t note = vs->note_ids[rows[j]];
			size_t best = rows[j];
			float top = -INFINITY;
			for (; j < m && vs->note_ids[rows[j]] == note; j++) {
				float sim;
				vec_dot_many(q, vs->vecs + rows[j] * dim, 1, vs->dim, &sim);
				if (sim > top) {
					top = sim;
					best = rows[j];
				}
			}
			hits[nhits++] = (struct vector_hit){note, vs->chunk_ids[best], top};
		}
		if (nhits >= limit || m >= allowed)
			break;
		want *= RERANK_PER_HIT;
	}
	free(qcode);
	free(dist);
	free(hist);
	free(rows);
	*out = hits;
	return best_hits(hits, nhits, limit);
}

/*
 * The best limit notes of vs for q, each at its best chunk, best first
 * (every row scored, or as scan_codes); with filter, only the notes in only
 * (sorted). Caller frees *out.
 */
static size_t scan(struct helper *h, const struct vector_set *vs, const float *q,
                   const int64_t *only, size_t nonly, bool filter, size_t limit,
                   const struct vector_tuning *tune, struct vector_hit **out)
{
	if (vs->codes && !(filter && nonly * 8 < vs->n))
		return scan_codes(h, vs, q, only, nonly, filter, limit, tune, out);

	float *scores = xmalloc((vs->n ? vs->n : 1) * sizeof(float));
	struct vector_hit *hits = xmalloc((vs->n ? vs->n : 1) * sizeof(*hits));
	size_t n = 0;
	if (filter && nonly * 8 < vs->n) {
		/* A few notes (keyword hits): find their rows by binary search, the
		 * set being ordered by note, rather than scoring every row. */
		for (size_t k = 0; k < nonly; k++) {
			size_t lo = 0, hi = vs->n;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (vs->note_ids[mid] < only[k])
					lo = mid + 1;
				else
					hi = mid;
			}
			size_t best = lo;
			for (size_t r = lo; r < vs->n && vs->note_ids[r] == only[k]; r++) {
				vec_dot_many(q, vs->vecs + r * (size_t)vs->dim, 1, vs->dim,
				             &scores[r]);
				if (scores[r] > scores[best])
					best = r;
			}
			if (best < vs->n && vs->note_ids[best] == only[k])
				hits[n++] =
				    (struct vector_hit){only[k], vs->chunk_ids[best], scores[best]};
		}
	} else {
		vec_dot_many(q, vs->vecs, vs->n, vs->dim, scores);
		for (size_t i = 0; i < vs->n;) {
			int64_t note = vs->note_ids[i];
			size_t best = i;
			for (; i < vs->n && vs->note_ids[i] == note; i++)
				if (scores[i] > scores[best])
					best = i;
			if (!filter || bsearch(&note, only, nonly, sizeof(int64_t), cmp_i64))
				hits[n++] =
				    (struct vector_hit){note, vs->chunk_ids[best], scores[best]};
		}
	}
	free(scores);
	*out = hits;
	return best_hits(hits, n, limit);
}

enum verr sqlite_vector_search(struct store *s, int64_t user_id, const char *model, int dim,
                               const float *q, const int64_t *only, size_t nonly, bool filter,
                               size_t limit, struct vector_hit **out, size_t *n, struct verror *err)
{
	struct vector_cache *cache = sqlite_vector_cache(s);
	struct vset *v = NULL;
	struct conn *c = NULL;
	struct stmt *st;
	int64_t *sorted = NULL;
	bool row;
	enum verr rc;

	/* One read transaction: the version and the vectors loaded for it agree. */
	if ((rc = s->drv->conn_get(s, false, &c, err)) || (rc = db_run(c, Q_BEGIN_READ, err)) ||
	    (rc = s->drv->prepare(c, Q_VERSION_GET, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	if ((rc = step(st, &row, err)) || !row)
		goto out; /* no such user: no vectors */
	int64_t version = col_i64(st, 0);
	reset(st);
	if ((rc = vset_get(cache, c, user_id, model, dim, version, &v, err)) ||
	    (rc = db_run(c, Q_COMMIT, err)))
		goto out;
	s->drv->conn_put(s, c);
	c = NULL;

	if (filter) {
		sorted = xmalloc(nonly * sizeof(*sorted));
		memcpy(sorted, only, nonly * sizeof(*sorted));
		qsort(sorted, nonly, sizeof(*sorted), cmp_i64);
	}
	pthread_mutex_lock(&cache->mu);
	struct vector_tuning tune = cache->tune;
	pthread_mutex_unlock(&cache->mu);
	*n = scan(&cache->helper, &v->vs, q, sorted, nonly, filter, limit, &tune, out);
	if (*n == 0) {
		free(*out);
		*out = NULL;
	}
out:
	s->drv->conn_put(s, c);
	if (v)
		vset_release(cache, v);
	free(sorted);
	return rc;
}

enum verr sqlite_vectors_load(struct store *s, int64_t user_id, const char *model, int dim,
                              struct vector_set *out, struct verror *err)
{
	struct conn *c = NULL;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (dim <= 0 || !model)
		return verr_set(err, VERR_INVALID, "vectors need a model and dim > 0");
	if ((rc = s->drv->conn_get(s, false, &c, err)) == VERR_OK &&
	    (rc = db_run(c, Q_BEGIN_READ, err)) == VERR_OK &&
	    (rc = load(c, user_id, model, dim, SIZE_MAX, out, err)) == VERR_OK)
		rc = db_run(c, Q_COMMIT, err);
	s->drv->conn_put(s, c);
	return rc;
}
