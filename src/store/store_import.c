/*
 * store_import.c - the repository, part four: what an imported folder
 * leaves on the notes (each file's path and hash) and the links between
 * notes its [[wikilinks]] make. Written once over the driver interface
 * (driver.h).
 *
 * A link row belongs to the note it comes from and goes with it; its
 * target note is stored only when it is the same user's (Q_LINK_INSERT
 * checks), and becomes unresolved (NULL) when that note is deleted. So
 * every read below, scoped by its note's owner, meets only that owner's
 * notes.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/driver.h"

void note_sources_free(struct note_source *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].path);
		free(v[i].hash);
	}
	free(v);
}

void note_links_free(struct note_link *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].target);
		free(v[i].title);
	}
	free(v);
}

enum verr store_note_sources(struct store *s, int64_t user_id, struct note_source **out, size_t *n,
                             struct verror *err)
{
	struct conn *c = NULL;
	struct note_source *v = NULL;
	size_t len = 0;
	struct stmt *st;
	bool row;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_get(s, false, &c, Q_SOURCES, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		if ((len & (len - 1)) == 0)
			v = xrealloc(v, (len ? 2 * len : 1) * sizeof(*v));
		v[len++] = (struct note_source){col_i64(st, 0), xstrdup(col_text(st, 1)),
		                                xstrdup(col_text(st, 2))};
	}
	reset(st);
	if (rc)
		goto out;
	*out = v;
	*n = len;
	v = NULL;
out:
	note_sources_free(v, len);
	s->drv->conn_put(s, c);
	return rc;
}

enum verr store_note_set_source(struct store *s, int64_t user_id, int64_t id, const char *path,
                                const char *hash, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	enum verr rc;

	if ((rc = db_get(s, true, &c, Q_SOURCE_SET, &st, err)))
		goto out;
	bind_i64(st, 1, id);
	bind_i64(st, 2, user_id);
	if (path) {
		bind_text(st, 3, path);
		bind_text(st, 4, hash);
	} else {
		s->drv->bind_null(st, 3);
		s->drv->bind_null(st, 4);
	}
	rc = db_expect_row(st, "no such note", err);
out:
	s->drv->conn_put(s, c);
	return rc;
}

/* VERR_NOT_FOUND unless note id is the user's, in c's transaction. */
static enum verr owned(struct conn *c, int64_t user_id, int64_t id, struct verror *err)
{
	struct stmt *st;
	enum verr rc = c->drv->prepare(c, Q_NOTE_OWNED, &st, err);
	if (rc)
		return rc;
	bind_i64(st, 1, id);
	bind_i64(st, 2, user_id);
	return db_expect_row(st, "no such note", err);
}

struct links_write {
	int64_t user_id, id;
	const struct note_link_input *links;
	size_t n;
};

static enum verr links_put(struct conn *c, void *arg, struct verror *err)
{
	struct links_write *w = arg;
	struct stmt *st;
	enum verr rc;

	if ((rc = owned(c, w->user_id, w->id, err)) ||
	    (rc = c->drv->prepare(c, Q_LINKS_DELETE, &st, err)))
		return rc;
	bind_i64(st, 1, w->id);
	if ((rc = db_finish(st, err)))
		return rc;
	for (size_t i = 0; i < w->n; i++) {
		if ((rc = c->drv->prepare(c, Q_LINK_INSERT, &st, err)))
			return rc;
		bind_i64(st, 1, w->id);
		bind_i64(st, 2, (int64_t)i);
		bind_text(st, 3, w->links[i].target);
		bind_i64(st, 4, w->links[i].to_note);
		bind_i64(st, 5, w->user_id);
		bind_text(st, 6, w->links[i].embed ? "embed" : "link");
		if ((rc = db_finish(st, err)))
			return rc;
	}
	return VERR_OK;
}

enum verr store_note_links_put(struct store *s, int64_t user_id, int64_t id,
                               const struct note_link_input *links, size_t n, struct verror *err)
{
	struct links_write w = {.user_id = user_id, .id = id, .links = links, .n = n};
	return db_write(s, links_put, &w, err);
}

/*
 * Runs st (bound) and appends its rows to *v (*n of them): from_note,
 * to_note (NULL: 0), target, kind, title (NULL: none).
 */
static enum verr links_read(struct stmt *st, struct note_link **v, size_t *n, struct verror *err)
{
	bool row;
	enum verr rc;
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		if ((*n & (*n - 1)) == 0)
			*v = xrealloc(*v, (*n ? 2 * *n : 1) * sizeof(**v));
		(*v)[(*n)++] = (struct note_link){
		    .from_note = col_i64(st, 0),
		    .to_note = col_null(st, 1) ? 0 : col_i64(st, 1),
		    .target = xstrdup(col_text(st, 2)),
		    .embed = strcmp(col_text(st, 3), "embed") == 0,
		    .title = col_null(st, 4) ? NULL : xstrdup(col_text(st, 4)),
		};
	}
	reset(st);
	return rc;
}

enum verr store_note_links(struct store *s, int64_t user_id, int64_t id, struct note_link **out,
                           size_t *nout, struct note_link **in, size_t *nin, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	enum verr rc;

	*out = *in = NULL;
	*nout = *nin = 0;
	if ((rc = s->drv->conn_get(s, false, &c, err)) || (rc = db_run(c, Q_BEGIN_READ, err)) ||
	    (rc = owned(c, user_id, id, err)) || (rc = c->drv->prepare(c, Q_LINKS_OUT, &st, err)))
		goto out;
	bind_i64(st, 1, id);
	if ((rc = links_read(st, out, nout, err)) ||
	    (rc = c->drv->prepare(c, Q_LINKS_IN, &st, err)))
		goto out;
	bind_i64(st, 1, id);
	bind_i64(st, 2, user_id);
	if ((rc = links_read(st, in, nin, err)))
		goto out;
	rc = db_run(c, Q_COMMIT, err);
out:
	if (rc) {
		note_links_free(*out, *nout);
		note_links_free(*in, *nin);
		*out = *in = NULL;
		*nout = *nin = 0;
	}
	s->drv->conn_put(s, c);
	return rc;
}

enum verr store_user_links(struct store *s, int64_t user_id, struct note_link **out, size_t *n,
                           struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_get(s, false, &c, Q_LINKS_USER, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	if ((rc = links_read(st, out, n, err))) {
		note_links_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
out:
	s->drv->conn_put(s, c);
	return rc;
}
