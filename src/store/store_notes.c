/*
 * store_notes.c - the repository, part two: notes with their tags, chunks
 * and keyword index; the embedding queue; index status and search. Written
 * once over the driver interface (driver.h).
 *
 * A note's write replaces, in its one transaction, its tags (rows of their
 * own where the driver has DB_TAG_ROWS), its chunks (vectors kept for
 * unchanged text), its keyword index row (DB_FTS_ROWS; else the database
 * generates it) and its owner's index version. Where writers lock rows
 * (DB_ROW_LOCKS), every write to a user's notes or chunks locks the user's
 * row first, so no two of them wait on each other in opposite orders.
 */
#include "store/store.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "store/driver.h"

void note_free(struct note *n)
{
	if (!n)
		return;
	free(n->title);
	free(n->content);
	for (size_t i = 0; i < n->ntags; i++)
		free(n->tags[i]);
	free(n->tags);
	free(n->source_path);
	for (size_t i = 0; i < n->naliases; i++)
		free(n->aliases[i]);
	free(n->aliases);
	memset(n, 0, sizeof(*n));
}

void note_page_free(struct note_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		note_free(&p->items[i]);
	free(p->items);
	memset(p, 0, sizeof(*p));
}

void embed_jobs_free(struct embed_job *jobs, size_t n)
{
	for (size_t i = 0; jobs && i < n; i++) {
		free(jobs[i].title);
		free(jobs[i].heading);
		free(jobs[i].text);
	}
	free(jobs);
}

/* ---------------------------------------------------------------- notes */

/* Copies of the strings of a JSON array (anything else: none) into *out, *n. */
static void strings_read(const char *json, char ***out, size_t *n)
{
	json_error_t jerr;
	json_t *a = *json ? json_loads(json, 0, &jerr) : NULL;
	*n = json_array_size(a);
	*out = *n ? xcalloc(*n, sizeof(**out)) : NULL;
	for (size_t i = 0; i < *n; i++) {
		const char *t = json_string_value(json_array_get(a, i));
		(*out)[i] = xstrdup(t ? t : "");
	}
	json_decref(a);
}

/* Copies of v[0..n) (NULL for none). */
static char **strings_copy(const char *const *v, size_t n)
{
	char **out = n ? xcalloc(n, sizeof(*out)) : NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

/*
 * id, title, content, tags as a JSON array, created_at, updated_at,
 * embedding_status, source_path, aliases as a JSON array (or NULL)
 */
static enum verr note_read(struct stmt *st, int64_t user_id, struct note *n, struct verror *err)
{
	json_error_t jerr;
	json_t *tags = json_loads(col_text(st, 3), 0, &jerr);

	n->id = col_i64(st, 0);
	n->user_id = user_id;
	n->title = xstrdup(col_text(st, 1));
	n->content = xstrdup(col_text(st, 2));
	n->created_at = col_i64(st, 4);
	n->updated_at = col_i64(st, 5);
	n->embedding_status = (enum embed_status)col_i64(st, 6);
	n->source_path = col_null(st, 7) ? NULL : xstrdup(col_text(st, 7));
	strings_read(col_text(st, 8), &n->aliases, &n->naliases);
	if (!json_is_array(tags)) {
		json_decref(tags);
		return verr_set(err, VERR_INTERNAL, "note %" PRId64 " has malformed tags", n->id);
	}
	n->ntags = json_array_size(tags);
	n->tags = n->ntags ? xcalloc(n->ntags, sizeof(*n->tags)) : NULL;
	for (size_t i = 0; i < n->ntags; i++) {
		const char *t = json_string_value(json_array_get(tags, i));
		n->tags[i] = xstrdup(t ? t : "");
	}
	json_decref(tags);
	return VERR_OK;
}

/* Fills out with copies of what was just stored. */
static void note_fill(struct note *out, int64_t id, int64_t user_id, const struct note_input *in,
                      int64_t created_at, int64_t updated_at, enum embed_status status)
{
	out->id = id;
	out->user_id = user_id;
	out->title = xstrdup(in->title ? in->title : "");
	out->content = xstrdup(in->content ? in->content : "");
	out->tags = in->ntags ? xcalloc(in->ntags, sizeof(*out->tags)) : NULL;
	for (size_t i = 0; i < in->ntags; i++)
		out->tags[i] = xstrdup(in->tags[i]);
	out->ntags = in->ntags;
	out->created_at = created_at;
	out->updated_at = updated_at;
	out->embedding_status = status;
	out->source_path = in->source_path ? xstrdup(in->source_path) : NULL;
	out->aliases = strings_copy(in->aliases, in->naliases);
	out->naliases = in->naliases;
}

/*
 * The chunks must carry hashes an embed_job can hold (hex SHA-256: 64
 * characters), and a tag stands once in a note (a uniqueness clash).
 */
static enum verr check_input(const struct note_input *in, struct verror *err)
{
	size_t max = sizeof(((struct embed_job *)NULL)->hash) - 1;
	if (in->nchunks > 0 && !in->chunks)
		return verr_set(err, VERR_INVALID, "%zu chunks given without an array",
		                in->nchunks);
	for (size_t i = 0; i < in->nchunks; i++) {
		size_t len = in->chunks[i].hash ? strlen(in->chunks[i].hash) : 0;
		if (len == 0 || len > max)
			return verr_set(err, VERR_INVALID,
			                "chunk %zu: the hash must have 1 to %zu characters", i,
			                max);
	}
	for (size_t i = 0; i < in->ntags; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(in->tags[i], in->tags[j]) == 0)
				return verr_set(err, VERR_CONFLICT, "tag \"%s\" given twice",
				                in->tags[i]);
	return VERR_OK;
}

/*
 * The user's number of notes and their bytes (migration 4's triggers keep
 * them); Q_USAGE_LOCK also makes the user's writes take turns from here to
 * the commit.
 */
static enum verr usage(struct conn *c, int q, int64_t user_id, int64_t use[2], struct verror *err)
{
	struct stmt *st;
	bool row;
	enum verr rc = c->drv->prepare(c, q, &st, err);
	if (rc)
		return rc;
	bind_i64(st, 1, user_id);
	if ((rc = step(st, &row, err)))
		return rc;
	use[0] = row ? col_i64(st, 0) : 0;
	use[1] = row ? col_i64(st, 1) : 0;
	reset(st);
	return VERR_OK;
}

/* After a write in c's transaction: VERR_FORBIDDEN if it took the user past in's quota. */
static enum verr quota(struct conn *c, int64_t user_id, const struct note_input *in,
                       const int64_t before[2], struct verror *err)
{
	int64_t after[2];
	enum verr rc = usage(c, Q_USAGE, user_id, after, err);
	if (rc)
		return rc;
	if (in->max_notes && after[0] > before[0] && after[0] > in->max_notes)
		return verr_set(err, VERR_FORBIDDEN, "Quota exceeded: at most %lld notes",
		                (long long)in->max_notes);
	if (in->max_bytes && after[1] > before[1] && after[1] > in->max_bytes)
		return verr_set(err, VERR_FORBIDDEN,
		                "Quota exceeded: at most %lld bytes of notes (titles and contents)",
		                (long long)in->max_bytes);
	return VERR_OK;
}

enum verr db_bump_version(struct conn *c, int64_t user_id, struct verror *err)
{
	struct stmt *st;
	enum verr rc = c->drv->prepare(c, user_id ? Q_VERSION_BUMP : Q_VERSION_BUMP_ALL, &st, err);
	if (rc)
		return rc;
	if (user_id)
		bind_i64(st, 1, user_id);
	return db_finish(st, err);
}

/* Runs q with the values (note id, user id): the tag rows' writes and deletes. */
static enum verr run_note(struct conn *c, int q, int64_t note_id, int64_t user_id,
                          const struct note_input *in, struct verror *err)
{
	struct stmt *st;
	enum verr rc = c->drv->prepare(c, q, &st, err);
	if (rc)
		return rc;
	bind_i64(st, 1, note_id);
	bind_i64(st, 2, user_id);
	if (in)
		c->drv->bind_texts(st, 3, in->tags, in->ntags);
	return db_finish(st, err);
}

/*
 * Writes the note's keyword index row, its tags joined by spaces, and moves
 * its owner's statistics by it; in the caller's transaction (DB_FTS_ROWS).
 * fresh: a new note, with no row to replace.
 */
static enum verr put_fts(struct conn *c, int64_t note_id, int64_t user_id,
                         const struct note_input *in, bool fresh, struct verror *err)
{
	struct buf tags;
	struct stmt *st;
	int64_t old_len = 0;
	bool row = false; /* the note has a row to replace */
	enum verr rc;

	buf_init(&tags, BUF_NOCAP);
	buf_add(&tags, "", 0);
	for (size_t i = 0; i < in->ntags; i++)
		buf_printf(&tags, i ? " %s" : "%s", in->tags[i]);
	if (!fresh) {
		if ((rc = c->drv->prepare(c, Q_FTS_DOCLEN, &st, err)))
			goto out;
		bind_i64(st, 1, note_id);
		if ((rc = step(st, &row, err)))
			goto out;
		old_len = row ? col_i64(st, 0) : 0;
		reset(st);
	}
	if ((rc = c->drv->prepare(c, Q_FTS_PUT, &st, err)))
		goto out;
	bind_i64(st, 1, note_id);
	bind_text(st, 2, in->title);
	bind_text(st, 3, in->content);
	bind_text(st, 4, tags.p);
	bind_i64(st, 5, user_id);
	if ((rc = db_finish(st, err)) || (rc = c->drv->prepare(c, Q_FTS_STATS, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	bind_i64(st, 2, row ? 0 : 1);
	bind_i64(st, 3, old_len);
	bind_i64(st, 4, note_id);
	rc = db_finish(st, err);
out:
	buf_free(&tags);
	return rc;
}

/* A chunk of a note before an update, and whether a new chunk took its row. */
struct old_chunk {
	int64_t id;
	char *hash;
	bool taken;
};

static int old_chunk_cmp(const void *a, const void *b)
{
	const struct old_chunk *x = a, *y = b;
	int d = strcmp(x->hash, y->hash);
	return d ? d : (x->id > y->id) - (x->id < y->id);
}

/* The oldest chunk of old (sorted by hash, then id) with hash that none took yet, or NULL. */
static struct old_chunk *old_chunk_take(struct old_chunk *old, size_t n, const char *hash)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(old[mid].hash, hash) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && strcmp(old[lo].hash, hash) == 0; lo++)
		if (!old[lo].taken) {
			old[lo].taken = true;
			return &old[lo];
		}
	return NULL;
}

/*
 * Makes in->chunks the note's chunks, inside the caller's transaction.
 * The old chunks first move to negative seqs. A new chunk whose hash
 * matches one of them takes over that row with its id, status, lease and
 * vector, so an embedding in flight for it still lands; every other one is
 * inserted pending; the old rows nobody took are deleted. fresh: a new
 * note, which has no old chunks.
 */
static enum verr put_chunks(struct conn *c, int64_t note_id, int64_t user_id,
                            const struct note_input *in, int64_t now, bool fresh,
                            struct verror *err)
{
	struct old_chunk *old = NULL;
	size_t nold = 0, cap = 0;
	struct stmt *st;
	bool row;
	enum verr rc = VERR_OK;

	if (!fresh) {
		if ((rc = c->drv->prepare(c, Q_CHUNKS_DETACH, &st, err)))
			goto out;
		bind_i64(st, 1, note_id);
		while ((rc = step(st, &row, err)) == VERR_OK && row) {
			if (nold == cap) {
				cap = cap ? 2 * cap : 16;
				old = xrealloc(old, cap * sizeof(*old));
			}
			old[nold++] = (struct old_chunk){col_i64(st, 0), xstrdup(col_text(st, 1))};
		}
		reset(st);
		if (rc)
			goto out;
		if (nold)
			qsort(old, nold, sizeof(*old), old_chunk_cmp);
	}
	for (size_t i = 0; i < in->nchunks; i++) {
		const struct chunk_input *ch = &in->chunks[i];
		struct old_chunk *o = old_chunk_take(old, nold, ch->hash);
		if ((rc = c->drv->prepare(c, o ? Q_CHUNK_REUSE : Q_CHUNK_INSERT, &st, err)))
			goto out;
		if (o) {
			bind_i64(st, 1, o->id);
			bind_i64(st, 2, (int64_t)i);
			bind_text(st, 3, ch->heading);
			bind_text(st, 4, ch->text);
		} else {
			bind_i64(st, 1, note_id);
			bind_i64(st, 2, user_id);
			bind_i64(st, 3, (int64_t)i);
			bind_text(st, 4, ch->hash);
			bind_i64(st, 5, now);
			bind_text(st, 6, ch->heading);
			bind_text(st, 7, ch->text);
		}
		if ((rc = db_finish(st, err)))
			goto out;
	}
	if (nold > 0 && (rc = c->drv->prepare(c, Q_CHUNKS_DROP_DETACHED, &st, err)) == VERR_OK) {
		bind_i64(st, 1, note_id);
		rc = db_finish(st, err);
	}
out:
	for (size_t i = 0; i < nold; i++)
		free(old[i].hash);
	free(old);
	return rc;
}

/* The embedding_status of a note, as the caller's transaction sees it. */
static enum verr note_embed_status(struct conn *c, int64_t id, enum embed_status *out,
                                   struct verror *err)
{
	struct stmt *st;
	bool row;
	enum verr rc = c->drv->prepare(c, Q_NOTE_EMBED_STATUS, &st, err);
	if (rc)
		return rc;
	bind_i64(st, 1, id);
	if ((rc = step(st, &row, err)) == VERR_OK)
		*out = row ? (enum embed_status)col_i64(st, 0) : EMBED_READY;
	reset(st);
	return rc;
}

/* Everything of a note's write after its row: tags, chunks, keyword index, version. */
static enum verr note_parts(struct conn *c, int64_t id, int64_t user_id,
                            const struct note_input *in, int64_t now, bool fresh,
                            struct verror *err)
{
	unsigned caps = c->drv->caps;
	enum verr rc = VERR_OK;
	if (caps & DB_TAG_ROWS) {
		if (!fresh)
			rc = run_note(c, Q_TAGS_DELETE, id, user_id, NULL, err);
		if (rc == VERR_OK && in->ntags)
			rc = run_note(c, Q_TAGS_PUT, id, user_id, in, err);
	}
	if (rc == VERR_OK)
		rc = put_chunks(c, id, user_id, in, now, fresh, err);
	if (rc == VERR_OK && (caps & DB_FTS_ROWS))
		rc = put_fts(c, id, user_id, in, fresh, err);
	return rc ? rc : db_bump_version(c, user_id, err);
}

/*
 * Binds in's source path, hash and aliases (a JSON array or text[]) at
 * positions i, i + 1, i + 2: NULL where not given.
 */
static void bind_source(struct stmt *st, int i, const struct note_input *in)
{
	const struct driver *d = st->conn->drv;
	if (in->source_path) {
		bind_text(st, i, in->source_path);
		bind_text(st, i + 1, in->source_hash);
	} else {
		d->bind_null(st, i);
		d->bind_null(st, i + 1);
	}
	if (in->naliases)
		d->bind_texts(st, i + 2, in->aliases, in->naliases);
	else
		d->bind_null(st, i + 2);
}

/* A note's write: its row, then note_parts(), after the user's usage (Q_USAGE_LOCK: the
 * user's writes take turns from here to the commit). */
struct note_write {
	int64_t user_id, id, now;
	const struct note_input *in;
	int64_t created_at, updated_at; /* update: the row's, after the write */
	enum embed_status status;       /* update: the note's, after the write */
};

static enum verr note_insert(struct conn *c, void *arg, struct verror *err)
{
	struct note_write *w = arg;
	const struct note_input *in = w->in;
	struct stmt *st;
	int64_t before[2];
	bool row;
	enum verr rc;

	if ((rc = usage(c, Q_USAGE_LOCK, w->user_id, before, err)) ||
	    (rc = c->drv->prepare(c, Q_NOTE_INSERT, &st, err)))
		return rc;
	bind_i64(st, 1, w->user_id);
	bind_text(st, 2, in->title);
	bind_text(st, 3, in->content);
	bind_i64(st, 4, w->created_at);
	c->drv->bind_texts(st, 5, in->tags, in->ntags);
	bind_i64(st, 6, w->updated_at);
	bind_source(st, 7, in);
	if ((rc = step(st, &row, err)))
		return rc;
	w->id = row ? col_i64(st, 0) : 0;
	if ((rc = db_finish(st, err)) || (rc = quota(c, w->user_id, in, before, err)))
		return rc;
	return note_parts(c, w->id, w->user_id, in, w->now, true, err);
}

enum verr store_note_create(struct store *s, int64_t user_id, const struct note_input *in,
                            int64_t now, struct note *out, struct verror *err)
{
	int64_t created = in->created_at ? in->created_at : now;
	struct note_write w = {.user_id = user_id,
	                       .in = in,
	                       .now = now,
	                       .created_at = created,
	                       .updated_at = in->updated_at ? in->updated_at : created};
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_input(in, err)) || (rc = db_write(s, note_insert, &w, err)))
		return rc;
	note_fill(out, w.id, user_id, in, w.created_at, w.updated_at,
	          in->nchunks ? EMBED_PENDING : EMBED_READY);
	return VERR_OK;
}

/* One statement: the row, its tags and its status come from one snapshot. */
enum verr store_note_get(struct store *s, int64_t user_id, int64_t id, struct note *out,
                         struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_get(s, false, &c, Q_NOTE_GET, &st, err)))
		goto out;
	bind_i64(st, 1, id);
	bind_i64(st, 2, user_id);
	if ((rc = step(st, &row, err)) == VERR_OK)
		rc = row ? note_read(st, user_id, out, err)
		         : verr_set(err, VERR_NOT_FOUND, "no such note");
out:
	if (rc)
		note_free(out);
	s->drv->conn_put(s, c);
	return rc;
}

/* As create; unchanged chunks keep their vectors (put_chunks). */
static enum verr note_change(struct conn *c, void *arg, struct verror *err)
{
	struct note_write *w = arg;
	const struct note_input *in = w->in;
	struct stmt *st;
	int64_t before[2];
	bool row;
	enum verr rc;

	if ((rc = usage(c, Q_USAGE_LOCK, w->user_id, before, err)) ||
	    (rc = c->drv->prepare(c, Q_NOTE_UPDATE, &st, err)))
		return rc;
	bind_i64(st, 1, w->id);
	bind_i64(st, 2, w->user_id);
	bind_text(st, 3, in->title);
	bind_text(st, 4, in->content);
	bind_i64(st, 5, w->now);
	bind_i64(st, 6, in->if_updated_at);
	c->drv->bind_texts(st, 7, in->tags, in->ntags);
	bind_i64(st, 8, in->created_at);
	bind_i64(st, 9, in->updated_at);
	bind_source(st, 10, in);
	if ((rc = step(st, &row, err)))
		return rc;
	if (!row) {
		/* Missing, or changed since the caller read it. */
		reset(st);
		if ((rc = c->drv->prepare(c, Q_NOTE_GET, &st, err)))
			return rc;
		bind_i64(st, 1, w->id);
		bind_i64(st, 2, w->user_id);
		if ((rc = step(st, &row, err)) == VERR_OK)
			rc = row ? verr_set(err, VERR_CONFLICT, "the note changed meanwhile")
			         : verr_set(err, VERR_NOT_FOUND, "no such note");
		return rc;
	}
	w->created_at = col_i64(st, 0);
	w->updated_at = col_i64(st, 1);
	if ((rc = db_finish(st, err)) || (rc = quota(c, w->user_id, in, before, err)) ||
	    (rc = note_parts(c, w->id, w->user_id, in, w->now, false, err)))
		return rc;
	return note_embed_status(c, w->id, &w->status, err);
}

enum verr store_note_update(struct store *s, int64_t user_id, int64_t id,
                            const struct note_input *in, int64_t now, struct note *out,
                            struct verror *err)
{
	struct note_write w = {.user_id = user_id, .id = id, .in = in, .now = now};
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_input(in, err)) || (rc = db_write(s, note_change, &w, err)))
		return rc;
	note_fill(out, id, user_id, in, w.created_at, w.updated_at, w.status);
	return VERR_OK;
}

enum verr db_expect_row(struct stmt *st, const char *what, struct verror *err)
{
	bool row;
	enum verr rc = step(st, &row, err);
	if (rc == VERR_OK)
		rc = db_finish(st, err);
	else
		reset(st);
	return rc == VERR_OK && !row ? verr_set(err, VERR_NOT_FOUND, "%s", what) : rc;
}

/* Deleting the row cascades to its tags and chunks; the keyword index row follows. */
static enum verr note_remove(struct conn *c, void *arg, struct verror *err)
{
	struct note_write *w = arg;
	struct stmt *st;
	int64_t before[2]; /* unused: the lock is what counts */
	enum verr rc;

	if ((rc = usage(c, Q_USAGE_LOCK, w->user_id, before, err)) ||
	    (rc = c->drv->prepare(c, Q_NOTE_DELETE, &st, err)))
		return rc;
	bind_i64(st, 1, w->id);
	bind_i64(st, 2, w->user_id);
	if ((rc = db_expect_row(st, "no such note", err)))
		return rc;
	return db_bump_version(c, w->user_id, err);
}

enum verr store_note_delete(struct store *s, int64_t user_id, int64_t id, struct verror *err)
{
	struct note_write w = {.user_id = user_id, .id = id};
	return db_write(s, note_remove, &w, err);
}

enum verr store_note_list(struct store *s, const struct note_query *q, struct note_page *out,
                          struct verror *err)
{
	struct conn *c = NULL;
	bool tagged = q->ntags > 0, row;
	struct stmt *st;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (q->skip < 0 || q->limit < 0)
		return verr_set(err, VERR_INVALID, "skip and limit must not be negative");

	/* One read snapshot: the total and the page agree. */
	if ((rc = s->drv->conn_get(s, false, &c, err)) || (rc = db_run(c, Q_BEGIN_READ, err)) ||
	    (rc = s->drv->prepare(c, tagged ? Q_NOTE_COUNT_TAGGED : Q_NOTE_COUNT, &st, err)))
		goto out;
	bind_i64(st, 1, q->user_id);
	if (tagged)
		s->drv->bind_texts(st, 2, q->tags, q->ntags);
	if ((rc = step(st, &row, err)))
		goto out;
	out->total = row ? col_i64(st, 0) : 0;
	reset(st);

	int64_t want = out->total > q->skip ? out->total - q->skip : 0;
	if (want > q->limit)
		want = q->limit;
	if (want > 0) {
		if ((rc = s->drv->prepare(c, tagged ? Q_NOTE_PAGE_TAGGED : Q_NOTE_PAGE, &st, err)))
			goto out;
		bind_i64(st, 1, q->user_id);
		bind_i64(st, 2, want);
		bind_i64(st, 3, q->skip);
		if (tagged)
			s->drv->bind_texts(st, 4, q->tags, q->ntags);
		out->items = xcalloc((size_t)want, sizeof(*out->items));
		while (out->n < (size_t)want && (rc = step(st, &row, err)) == VERR_OK && row)
			if ((rc = note_read(st, q->user_id, &out->items[out->n++], err)))
				goto out;
		reset(st);
		if (rc)
			goto out;
	}
	rc = db_run(c, Q_COMMIT, err);
out:
	if (rc)
		note_page_free(out);
	s->drv->conn_put(s, c);
	return rc;
}

enum verr store_notes_after(struct store *s, int64_t user_id, int64_t created_at, int64_t id,
                            int64_t limit, struct note_page *out, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_get(s, false, &c, Q_NOTES_AFTER, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	bind_i64(st, 2, created_at);
	bind_i64(st, 3, id);
	bind_i64(st, 4, limit);
	out->items = xcalloc((size_t)limit, sizeof(*out->items));
	while (out->n < (size_t)limit && (rc = step(st, &row, err)) == VERR_OK && row)
		if ((rc = note_read(st, user_id, &out->items[out->n++], err)))
			break;
	reset(st);
out:
	if (rc)
		note_page_free(out);
	s->drv->conn_put(s, c);
	return rc;
}

/* A deep copy of src into dst. */
static void note_copy(struct note *dst, const struct note *src)
{
	*dst = *src;
	dst->title = xstrdup(src->title);
	dst->content = xstrdup(src->content);
	dst->tags = src->ntags ? xcalloc(src->ntags, sizeof(*dst->tags)) : NULL;
	for (size_t i = 0; i < src->ntags; i++)
		dst->tags[i] = xstrdup(src->tags[i]);
	dst->source_path = src->source_path ? xstrdup(src->source_path) : NULL;
	dst->aliases = strings_copy((const char *const *)src->aliases, src->naliases);
}

void note_chunks_free(struct note_chunks *c)
{
	for (size_t i = 0; c && i < c->n; i++) {
		free(c->texts[i]);
		free(c->headings[i]);
	}
	if (c) {
		free(c->texts);
		free(c->headings);
		free(c->ids);
		memset(c, 0, sizeof(*c));
	}
}

/* The chunks of the notes out[0..n) found (at the first index asking), in c's transaction. */
static enum verr get_chunks(struct conn *c, int64_t user_id, const int64_t *ids,
                            const struct note *out, size_t n, struct note_chunks *chunks,
                            struct verror *err)
{
	struct stmt *st;
	bool row;
	enum verr rc = c->drv->prepare(c, Q_NOTES_CHUNKS, &st, err);
	if (rc)
		return rc;
	bind_i64(st, 1, user_id);
	c->drv->bind_ids(st, 2, ids, sizeof(*ids), n);
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		int64_t note_id = col_i64(st, 0);
		size_t i = 0;
		while (i < n && !(out[i].id == note_id && ids[i] == note_id))
			i++;
		if (i == n)
			continue;
		struct note_chunks *ch = &chunks[i];
		if ((ch->n & (ch->n - 1)) == 0) {
			ch->ids = xrealloc(ch->ids, (ch->n ? 2 * ch->n : 1) * sizeof(*ch->ids));
			ch->texts =
			    xrealloc(ch->texts, (ch->n ? 2 * ch->n : 1) * sizeof(*ch->texts));
			ch->headings =
			    xrealloc(ch->headings, (ch->n ? 2 * ch->n : 1) * sizeof(*ch->headings));
		}
		ch->ids[ch->n] = col_i64(st, 1);
		ch->headings[ch->n] = xstrdup(col_text(st, 3));
		ch->texts[ch->n++] = xstrdup(col_text(st, 2));
	}
	reset(st);
	return rc;
}

/*
 * A note is placed at the first index asking for it, then copied. With
 * chunks, one read transaction holds both statements.
 */
enum verr store_notes_get_many_chunks(struct store *s, int64_t user_id, const int64_t *ids,
                                      size_t n, struct note *out, struct note_chunks *chunks,
                                      struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	if (n == 0)
		return VERR_OK;
	memset(out, 0, n * sizeof(*out));
	if (chunks)
		memset(chunks, 0, n * sizeof(*chunks));
	if ((rc = s->drv->conn_get(s, false, &c, err)) ||
	    (chunks && (rc = db_run(c, Q_BEGIN_READ, err))) ||
	    (rc = s->drv->prepare(c, Q_NOTES_MANY, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	s->drv->bind_ids(st, 2, ids, sizeof(*ids), n);
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		int64_t id = col_i64(st, 0);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == id) {
				if ((rc = note_read(st, user_id, &out[i], err)))
					goto out;
				break;
			}
	}
	reset(st);
	if (rc || (chunks && ((rc = get_chunks(c, user_id, ids, out, n, chunks, err)) ||
	                      (rc = db_run(c, Q_COMMIT, err)))))
		goto out;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; !out[i].id && j < i; j++)
			if (ids[j] == ids[i] && out[j].id)
				note_copy(&out[i], &out[j]);
	}
out:
	for (size_t i = 0; rc && i < n; i++) {
		note_free(&out[i]);
		if (chunks)
			note_chunks_free(&chunks[i]);
	}
	s->drv->conn_put(s, c);
	return rc;
}

enum verr store_notes_get_many(struct store *s, int64_t user_id, const int64_t *ids, size_t n,
                               struct note *out, struct verror *err)
{
	return store_notes_get_many_chunks(s, user_id, ids, n, out, NULL, err);
}

/* Appends v to the array *a of *n values, whose capacity is *n rounded up to a power of two. */
static void push_i64(int64_t **a, size_t *n, int64_t v)
{
	if ((*n & (*n - 1)) == 0)
		*a = xrealloc(*a, (*n ? *n * 2 : 1) * sizeof(**a));
	(*a)[(*n)++] = v;
}

/* Ascending ids; no tags: every note of the user. */
enum verr store_note_ids_with_tags(struct store *s, int64_t user_id, const char *const *tags,
                                   size_t ntags, int64_t **ids, size_t *n, struct verror *err)
{
	struct conn *c = NULL;
	int64_t *v = NULL;
	size_t len = 0;
	struct stmt *st;
	bool row;
	enum verr rc;

	*ids = NULL;
	*n = 0;
	if ((rc = db_get(s, false, &c, ntags ? Q_NOTE_IDS_TAGGED : Q_NOTE_IDS, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	if (ntags)
		s->drv->bind_texts(st, 2, tags, ntags);
	while ((rc = step(st, &row, err)) == VERR_OK && row)
		push_i64(&v, &len, col_i64(st, 0));
	reset(st);
	if (rc)
		goto out;
	*ids = v;
	*n = len;
	v = NULL;
out:
	s->drv->conn_put(s, c);
	free(v);
	return rc;
}

enum verr store_tags(struct store *s, int64_t user_id, int64_t limit, struct tag_count **out,
                     size_t *n, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_get(s, false, &c, Q_TAGS, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	bind_i64(st, 2, limit);
	*out = xcalloc((size_t)limit, sizeof(**out));
	while ((rc = step(st, &row, err)) == VERR_OK && row && *n < (size_t)limit)
		(*out)[(*n)++] = (struct tag_count){xstrdup(col_text(st, 0)), col_i64(st, 1)};
	reset(st);
	if (rc) {
		tag_counts_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
out:
	s->drv->conn_put(s, c);
	return rc;
}

void tag_counts_free(struct tag_count *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].tag);
	free(t);
}

/* A note's chunks by store_notes_get_many_chunks: the note must be there. */
enum verr store_note_chunks(struct store *s, int64_t user_id, int64_t note_id, int64_t **chunk_ids,
                            char ***texts, size_t *n, struct verror *err)
{
	struct note note;
	struct note_chunks ch;
	enum verr rc = store_notes_get_many_chunks(s, user_id, &note_id, 1, &note, &ch, err);

	*chunk_ids = NULL;
	*texts = NULL;
	*n = 0;
	if (rc == VERR_OK && !note.id)
		rc = verr_set(err, VERR_NOT_FOUND, "no such note");
	if (rc == VERR_OK) {
		*chunk_ids = ch.ids;
		*texts = ch.texts;
		*n = ch.n;
		ch.ids = NULL;
		ch.texts = NULL;
		ch.n = 0;
		for (size_t i = 0; i < *n; i++)
			free(ch.headings[i]);
	}
	note_chunks_free(&ch);
	note_free(&note);
	return rc;
}
