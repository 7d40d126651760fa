/*
 * notes.h - a user's notes: validation, merge on update, listing.
 *
 * Every call is scoped to user_id; another user's note does not exist.
 */
#ifndef VAULT_SERVICES_NOTES_H
#define VAULT_SERVICES_NOTES_H

#include "services/services.h"

#define NOTE_TITLE_MAX      200           /* characters, after trimming */
#define NOTE_CONTENT_MAX    (1024 * 1024) /* bytes */
#define NOTE_INDEX_MAX      (4 * NOTE_CONTENT_MAX)
#define NOTE_TAGS_MAX       32
#define NOTE_TAG_MAX        64 /* characters, after trimming */
#define NOTES_LIMIT_MAX     100
#define NOTES_LIMIT_DEFAULT 20

/* The fields of a create or an update; NULL or !has_tags means "not given". */
struct note_fields {
	const char *title;
	const char *content;
	const char *const *tags;
	size_t ntags;
	bool has_tags;
	/* An imported file's (0 and NULL otherwise): its times (created kept and
	 * updated now when 0), its path and hash and its aliases (store.h
	 * struct note_input), and the text to index when it differs from the
	 * content (its embeds expanded; at most NOTE_INDEX_MAX bytes). */
	int64_t created_at, updated_at;
	const char *source_path, *source_hash;
	const char *const *aliases;
	size_t naliases;
	const char *index_text;
};

/* VERR_INVALID naming the field when a value breaks the rules. */
enum verr notes_create(struct svc *svc, int64_t user_id, const struct note_fields *f,
                       struct note *out, struct verror *err);
enum verr notes_get(struct svc *svc, int64_t user_id, int64_t id, struct note *out,
                    struct verror *err);
/* Merges the given fields into the stored note. */
enum verr notes_update(struct svc *svc, int64_t user_id, int64_t id, const struct note_fields *f,
                       struct note *out, struct verror *err);
enum verr notes_delete(struct svc *svc, int64_t user_id, int64_t id, struct verror *err);
/* The note's outgoing links and its backlinks (store_note_links); free with note_links_free(). */
enum verr notes_links(struct svc *svc, int64_t user_id, int64_t id, struct note_link **out,
                      size_t *nout, struct note_link **in, size_t *nin, struct verror *err);
/* Newest first; a note must carry every tag given. */
#define TAGS_LIMIT_DEFAULT 100
#define TAGS_LIMIT_MAX     1000

/* The user's tags with how many notes carry each, most used first, at most limit
 * (1-TAGS_LIMIT_MAX). */
enum verr notes_tags(struct svc *svc, int64_t user_id, int64_t limit, struct tag_count **out,
                     size_t *n, struct verror *err);

enum verr notes_list(struct svc *svc, int64_t user_id, int64_t skip, int64_t limit,
                     const char *const *tags, size_t ntags, struct note_page *out,
                     struct verror *err);

/*
 * Trims and checks each tag (field names it in errors), drops duplicates
 * (the first one stays), at most NOTE_TAGS_MAX. *out (*n entries) is set
 * even on failure; free it with notes_tags_free().
 */
enum verr notes_clean_tags(const char *const *tags, size_t ntags, const char *field, char ***out,
                           size_t *n, struct verror *err);
void notes_tags_free(char **tags, size_t n);

#endif
