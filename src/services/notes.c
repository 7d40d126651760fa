/*
 * notes.c - rules for notes, applied before anything reaches the store.
 */
#include "services/notes.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/security.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "services/chunker.h"
#include "services/worker.h"

#define NOTES_UPDATE_ATTEMPTS 8

/* Validated, normalised values and their chunks, ready for the store; owns its strings. */
struct clean {
	char *title;
	const char *content;
	const char *index_text; /* what the chunks are cut from */
	char **tags;
	size_t ntags;
	struct chunk *chunks;
	struct chunk_input *inputs;
	char (*hashes)[SHA256_HEX_LEN];
	size_t nchunks;
};

static void clean_free(struct clean *c)
{
	free(c->title);
	for (size_t i = 0; i < c->ntags; i++)
		free(c->tags[i]);
	free(c->tags);
	chunks_free(c->chunks, c->nchunks);
	free(c->inputs);
	free(c->hashes);
}

/* Cuts the note into chunks; each is known by the hash of what the embedder will see. */
static void make_chunks(struct clean *c)
{
	c->nchunks = chunker_split(c->title, c->index_text, &c->chunks);
	c->inputs = xcalloc(c->nchunks, sizeof(*c->inputs));
	c->hashes = xcalloc(c->nchunks, sizeof(*c->hashes));
	for (size_t i = 0; i < c->nchunks; i++) {
		char *input =
		    chunker_embed_input(c->title, c->chunks[i].heading, c->chunks[i].text);
		sha256_hex(input, c->hashes[i]);
		free(input);
		c->inputs[i] =
		    (struct chunk_input){c->chunks[i].heading, c->chunks[i].text, c->hashes[i]};
	}
}

static enum verr check_line(const char *field, const char *s, size_t max_chars, struct verror *err)
{
	size_t n = strlen(s);
	if (!text_utf8_valid(s, n))
		return verr_set(err, VERR_INVALID, "%s: must be valid UTF-8", field);
	if (text_has_control(s, false))
		return verr_set(err, VERR_INVALID, "%s: control characters are not allowed", field);
	size_t chars = text_utf8_len(s, n);
	if (chars < 1 || chars > max_chars)
		return verr_set(err, VERR_INVALID, "%s: must be 1-%zu characters after trimming",
		                field, max_chars);
	return VERR_OK;
}

enum verr notes_clean_tags(const char *const *tags, size_t ntags, const char *field, char ***out,
                           size_t *n, struct verror *err)
{
	*out = xcalloc(ntags ? ntags : 1, sizeof(char *));
	*n = 0;
	for (size_t i = 0; i < ntags; i++) {
		char name[48];
		snprintf(name, sizeof(name), "%s[%zu]", field, i);
		char *t = text_trim(tags[i]);
		enum verr rc = check_line(name, t, NOTE_TAG_MAX, err);
		bool dup = false;
		for (size_t k = 0; k < *n && !dup && !rc; k++)
			dup = strcmp((*out)[k], t) == 0;
		if (rc || dup) {
			free(t);
			if (rc)
				return rc;
			continue;
		}
		(*out)[(*n)++] = t;
		if (*n > NOTE_TAGS_MAX)
			return verr_set(err, VERR_INVALID, "%s: at most %d tags", field,
			                NOTE_TAGS_MAX);
	}
	return VERR_OK;
}

/* Trims the title, checks everything, drops duplicate tags (first one kept). */
static enum verr clean_fields(const char *title, const char *content, const char *index_text,
                              const char *const *tags, size_t ntags, struct clean *c,
                              struct verror *err)
{
	enum verr rc;
	memset(c, 0, sizeof(*c));
	c->title = text_trim(title);
	if ((rc = check_line("title", c->title, NOTE_TITLE_MAX, err)))
		return rc;

	size_t clen = strlen(content);
	if (clen > NOTE_CONTENT_MAX)
		return verr_set(err, VERR_INVALID, "content: must be at most %d bytes (1 MiB)",
		                NOTE_CONTENT_MAX);
	if (!text_utf8_valid(content, clen))
		return verr_set(err, VERR_INVALID, "content: must be valid UTF-8");
	if (text_has_control(content, true))
		return verr_set(err, VERR_INVALID,
		                "content: control characters other than tab and newline are not "
		                "allowed");
	c->content = content;
	c->index_text = content;
	if (index_text) {
		/* Ours (the import's), not a client's: only bounded. */
		if (strlen(index_text) > NOTE_INDEX_MAX)
			return verr_set(err, VERR_INVALID, "the text to index is over %d bytes",
			                NOTE_INDEX_MAX);
		c->index_text = index_text;
	}

	if ((rc = notes_clean_tags(tags, ntags, "tags", &c->tags, &c->ntags, err)))
		return rc;
	make_chunks(c);
	return VERR_OK;
}

static struct note_input as_input(const struct svc *svc, const struct clean *c,
                                  const struct note_fields *f)
{
	return (struct note_input){
	    .created_at = f->created_at,
	    .updated_at = f->updated_at,
	    .source_path = f->source_path,
	    .source_hash = f->source_hash,
	    .aliases = f->aliases,
	    .naliases = f->naliases,
	    .title = c->title,
	    .content = c->content,
	    .tags = (const char *const *)c->tags,
	    .ntags = c->ntags,
	    .chunks = c->inputs,
	    .nchunks = c->nchunks,
	    .max_notes = svc->cfg->user_max_notes,
	    .max_bytes = svc->cfg->user_max_bytes,
	};
}

enum verr notes_create(struct svc *svc, int64_t user_id, const struct note_fields *f,
                       struct note *out, struct verror *err)
{
	struct clean c;
	if (!f->title)
		return verr_set(err, VERR_INVALID, "title: field required");
	enum verr rc = clean_fields(f->title, f->content ? f->content : "", f->index_text, f->tags,
	                            f->has_tags ? f->ntags : 0, &c, err);
	if (rc == VERR_OK) {
		struct note_input in = as_input(svc, &c, f);
		rc = store_note_create(svc->store, user_id, &in, time_now_ms(), out, err);
	}
	clean_free(&c);
	if (rc == VERR_OK)
		embed_worker_kick(svc->worker);
	return rc;
}

enum verr notes_get(struct svc *svc, int64_t user_id, int64_t id, struct note *out,
                    struct verror *err)
{
	enum verr rc = store_note_get(svc->store, user_id, id, out, err);
	return rc == VERR_NOT_FOUND ? verr_set(err, rc, "Note not found") : rc;
}

/*
 * Merges the given fields into the note as it is now and writes the result
 * only if nobody changed the note in between; when someone did, merges
 * again onto their version, so concurrent edits of different fields both
 * land.
 */
enum verr notes_update(struct svc *svc, int64_t user_id, int64_t id, const struct note_fields *f,
                       struct note *out, struct verror *err)
{
	enum verr rc = VERR_CONFLICT;
	for (int attempt = 0; attempt < NOTES_UPDATE_ATTEMPTS && rc == VERR_CONFLICT; attempt++) {
		struct note old;
		struct clean c;
		if ((rc = notes_get(svc, user_id, id, &old, err)))
			return rc;
		rc = clean_fields(f->title ? f->title : old.title,
		                  f->content ? f->content : old.content, f->index_text,
		                  f->has_tags ? f->tags : (const char *const *)old.tags,
		                  f->has_tags ? f->ntags : old.ntags, &c, err);
		if (rc == VERR_OK) {
			struct note_input in = as_input(svc, &c, f);
			in.if_updated_at = old.updated_at;
			rc = store_note_update(svc->store, user_id, id, &in, time_now_ms(), out,
			                       err);
		}
		clean_free(&c);
		note_free(&old);
	}
	if (rc == VERR_NOT_FOUND) /* deleted meanwhile */
		verr_set(err, rc, "Note not found");
	if (rc == VERR_CONFLICT)
		verr_set(err, rc, "The note is being changed by someone else; try again");
	if (rc == VERR_OK)
		embed_worker_kick(svc->worker);
	return rc;
}

enum verr notes_delete(struct svc *svc, int64_t user_id, int64_t id, struct verror *err)
{
	enum verr rc = store_note_delete(svc->store, user_id, id, err);
	return rc == VERR_NOT_FOUND ? verr_set(err, rc, "Note not found") : rc;
}

enum verr notes_links(struct svc *svc, int64_t user_id, int64_t id, struct note_link **out,
                      size_t *nout, struct note_link **in, size_t *nin, struct verror *err)
{
	enum verr rc = store_note_links(svc->store, user_id, id, out, nout, in, nin, err);
	return rc == VERR_NOT_FOUND ? verr_set(err, rc, "Note not found") : rc;
}

enum verr notes_tags(struct svc *svc, int64_t user_id, int64_t limit, struct tag_count **out,
                     size_t *n, struct verror *err)
{
	*out = NULL;
	*n = 0;
	if (limit < 1 || limit > TAGS_LIMIT_MAX)
		return verr_set(err, VERR_INVALID, "limit: must be 1-%d", TAGS_LIMIT_MAX);
	return store_tags(svc->store, user_id, limit, out, n, err);
}

enum verr notes_list(struct svc *svc, int64_t user_id, int64_t skip, int64_t limit,
                     const char *const *tags, size_t ntags, struct note_page *out,
                     struct verror *err)
{
	if (skip < 0)
		return verr_set(err, VERR_INVALID, "skip: must be 0 or more");
	if (limit < 1 || limit > NOTES_LIMIT_MAX)
		return verr_set(err, VERR_INVALID, "limit: must be 1-%d", NOTES_LIMIT_MAX);

	/* The same trimming and de-duplication as when tags are stored. */
	char **clean;
	size_t n;
	enum verr rc = notes_clean_tags(tags, ntags, "tag", &clean, &n, err);
	if (rc == VERR_OK) {
		struct note_query q = {
		    .user_id = user_id,
		    .skip = skip,
		    .limit = limit,
		    .tags = (const char *const *)clean,
		    .ntags = n,
		};
		rc = store_note_list(svc->store, &q, out, err);
	}
	notes_tags_free(clean, n);
	return rc;
}

void notes_tags_free(char **tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
}
