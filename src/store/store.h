/*
 * store.h - the repository interface: everything vault keeps, behind one API.
 *
 * Written once over two SQL drivers (driver.h; src/store/README.md):
 * callers use the store_* calls below and never see SQL, connections or
 * database errors. Each operation borrows a connection from the driver's
 * pool for its own duration, runs in one transaction where it writes more
 * than one row or reads more than one statement, and the driver
 * translates backend failures into enum verr at this edge:
 *   - a row that does not exist, or belongs to another user: VERR_NOT_FOUND;
 *   - a uniqueness clash (e.g. e-mail taken): VERR_CONFLICT;
 *   - the database busy/locked past its timeout, unreachable, or failing a
 *     read or write of its disk: VERR_UNAVAILABLE;
 *   - its disk full: VERR_STORAGE_FULL (nothing of the operation was saved);
 *   - anything else: VERR_INTERNAL, with the backend's message in err->detail
 *     (it goes to the log, never to a client).
 * Every operation is safe to call from many threads at once.
 *
 * Times are int64 milliseconds since the epoch, UTC. Strings handed in are
 * copied; strings handed out are owned by the out-struct and freed with its
 * *_free function.
 */
#ifndef VAULT_STORE_STORE_H
#define VAULT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define STORE_EMAIL_MAX 254
#define STORE_HASH_MAX  128

struct user {
	int64_t id;
	char email[STORE_EMAIL_MAX + 1];
	char password_hash[STORE_HASH_MAX]; /* bcrypt; never leaves the services layer */
	int64_t created_at;
};

/* Where a note's (or chunk's) embedding stands. */
enum embed_status { EMBED_PENDING = 0, EMBED_READY = 1, EMBED_FAILED = 2 };

struct note {
	int64_t id;
	int64_t user_id;
	char *title;
	char *content;
	char **tags; /* in the order given; ntags entries */
	size_t ntags;
	int64_t created_at;
	int64_t updated_at;
	/* pending if any chunk is, else failed if any chunk is, else ready */
	enum embed_status embedding_status;
	/* An imported note's file, relative to the imported folder; NULL otherwise. */
	char *source_path;
	char **aliases; /* other names, from an imported file's front matter */
	size_t naliases;
};

/* Frees what a note owns (not the struct itself); accepts NULL. */
void note_free(struct note *n);

/* One piece of a note to embed, as the chunker cut it. */
struct chunk_input {
	const char *heading; /* the heading trail above the text, "" if none */
	const char *text;    /* plain text of the chunk */
	const char *hash;    /* hex SHA-256 of the embedder's input (title, heading, text) */
};

/*
 * Values for a new note or a whole replacement; validated by the caller.
 * The chunks replace the note's chunks: a new chunk whose hash matches an
 * old chunk of the same note keeps that chunk's vector (and status), every
 * other one starts pending. The keyword index follows in the same
 * transaction.
 */
struct note_input {
	const char *title;
	const char *content;
	const char *const *tags;
	size_t ntags;
	const struct chunk_input *chunks;
	size_t nchunks;
	/* Update only: write only if the note is still at this updated_at,
	 * else VERR_CONFLICT (0: unconditionally). */
	int64_t if_updated_at;
	/* The owner's quota, 0 for none: a write that takes the number of notes
	 * or their bytes (titles and contents) up and past it is VERR_FORBIDDEN
	 * and changes nothing. Shrinking is always allowed. */
	int64_t max_notes, max_bytes;
	/* The note's times as its source gives them (an imported file's front
	 * matter); 0: now on create, kept (created) or moved forward (updated)
	 * on update. */
	int64_t created_at, updated_at;
	/* An imported file: its path (unique among the user's notes, else
	 * VERR_CONFLICT), the hash of its bytes and the aliases it gives, all
	 * written with the note. NULL: none on create, kept on update. */
	const char *source_path;
	const char *source_hash;
	const char *const *aliases;
	size_t naliases;
};

/* A chunk leased to the embedding worker. */
struct embed_job {
	int64_t chunk_id;
	int64_t user_id;
	char *title, *heading, *text; /* owned; embed_jobs_free() */
	char hash[65];
	int attempts; /* failed attempts so far */
};

void embed_jobs_free(struct embed_job *jobs, size_t n);

/* A user's index, for GET /api/v1/index/status. */
struct index_status {
	int64_t pending, ready, failed;
	int64_t stale; /* ready chunks embedded by another model or dimension */
};

struct keyword_hit {
	int64_t note_id;
	double score; /* BM25 on the user's own figures: higher is better */
};

/* A note near a query vector, at its best chunk. */
struct vector_hit {
	int64_t note_id;
	int64_t chunk_id;
	double similarity; /* cosine, -1..1 */
};

/* A page of a user's notes, newest first (created_at DESC, id DESC). */
struct note_query {
	int64_t user_id;
	int64_t skip;
	int64_t limit;
	const char *const *tags; /* a note must carry all of them */
	size_t ntags;
};

struct note_page {
	struct note *items;
	size_t n;
	int64_t total; /* matching notes before skip/limit */
};

void note_page_free(struct note_page *p);

struct migration_info {
	int version;
	const char *name;
	int64_t applied_at; /* 0 if not applied */
};

struct store_opts {
	bool echo;               /* log every SQL statement (info level, event "sql") */
	int busy_timeout_ms;     /* how long a write waits for a lock */
	bool synchronous_normal; /* SQLite: trade durability for speed (default FULL) */
	/* PostgreSQL: the chunks' vector(embedding_dim) column made by migrations. */
	int embedding_dim;
	/* PostgreSQL pool: pool_size connections kept open, up to max_overflow
	 * more under load; a caller waits at most pool_timeout_ms for one, then
	 * VERR_UNAVAILABLE. Every statement is cancelled after
	 * statement_timeout_ms (0: never). */
	int pool_size, max_overflow, pool_timeout_ms, statement_timeout_ms;
	/* SQLite: the bytes of users' vectors kept between searches (0: 1 GiB). */
	size_t vector_cache_bytes;
};

struct store;

/*
 * Opens the backend named by url's scheme ("sqlite:///relative/path",
 * "sqlite:////absolute/path"). An unknown scheme is VERR_INVALID. For SQLite
 * the parent directory is created if missing.
 */
enum verr store_open(const char *url, const struct store_opts *opts, struct store **out,
                     struct verror *err);
void store_close(struct store *s); /* accepts NULL */

/* A cheap query proving the database answers. */
enum verr store_ping(struct store *s, struct verror *err);

/*
 * Migrations. target -1 means "latest" for up; for down it means "one step".
 * down to 0 reverts everything. *applied / *reverted count the steps taken.
 * Idempotent: up at the latest version does nothing and succeeds.
 * migrate_status lists every known migration, oldest first; caller frees *out.
 * schema_check is VERR_UNAVAILABLE with a clear detail when the database is
 * not at the latest version (e.g. "run `vault migrate up`").
 */
enum verr store_migrate_up(struct store *s, int target, int *applied, struct verror *err);
enum verr store_migrate_down(struct store *s, int target, int *reverted, struct verror *err);
enum verr store_migrate_status(struct store *s, struct migration_info **out, size_t *n,
                               struct verror *err);
enum verr store_schema_check(struct store *s, struct verror *err);

/* Users. E-mails are stored as given (the service case-folds them). */
enum verr store_user_create(struct store *s, const char *email, const char *password_hash,
                            int64_t now, struct user *out, struct verror *err);
enum verr store_user_get(struct store *s, int64_t id, struct user *out, struct verror *err);
enum verr store_user_get_by_email(struct store *s, const char *email, struct user *out,
                                  struct verror *err);
/* All users by id; caller frees *out with free(). */
enum verr store_user_list(struct store *s, struct user **out, size_t *n, struct verror *err);
/* Deletes the user with all their notes, tags, refresh and access tokens. */
enum verr store_user_delete(struct store *s, int64_t id, struct verror *err);

/*
 * Refresh tokens are kept only as hashes (hex SHA-256), grouped in families:
 * one family per login, each rotation adds the next member.
 *
 * token_rotate, atomically: the token with old_hash must exist, be unexpired,
 * unrevoked and unused, else VERR_UNAUTHORIZED. If it was used more than
 * grace_ms before now (a rotated token presented again: a replay), the whole
 * family is revoked and the answer is VERR_UNAUTHORIZED. Used within
 * grace_ms, it is only VERR_UNAUTHORIZED: two clients or servers refreshing
 * the same token at once, one of which won. Otherwise it is marked used,
 * new_hash joins the same family, and *user_id is set. When two callers
 * rotate the same token at once, exactly one succeeds.
 *
 * token_revoke_family revokes the family holding token_hash if it is the
 * user's (unknown: VERR_NOT_FOUND); token_revoke_all revokes all the user's.
 */
enum verr store_token_insert(struct store *s, int64_t user_id, const char *family,
                             const char *token_hash, int64_t expires_at, int64_t now,
                             struct verror *err);
enum verr store_token_rotate(struct store *s, const char *old_hash, const char *new_hash,
                             int64_t new_expires_at, int64_t now, int64_t grace_ms,
                             int64_t *user_id, struct verror *err);
enum verr store_token_revoke_family(struct store *s, int64_t user_id, const char *token_hash,
                                    int64_t now, struct verror *err);
enum verr store_token_revoke_all(struct store *s, int64_t user_id, int64_t now, struct verror *err);

/*
 * Personal access tokens (api_tokens), kept only as hashes (hex SHA-256 of
 * the secret). expires_at and last_used_at are 0 for "never".
 *
 * api_token_create, in one write transaction that makes the user's writes
 * take turns: deletes the user's expired tokens, then refuses with
 * VERR_FORBIDDEN if max_tokens remain, else inserts and fills *out. An
 * unknown user is VERR_NOT_FOUND. api_token_delete is VERR_NOT_FOUND for
 * a token that is not the user's. api_token_find gives the unexpired token
 * with that hash, else VERR_NOT_FOUND. api_token_touch sets last_used_at to
 * now unless it is already after now - every_ms, so a busy token costs one
 * write a period, not one a request.
 */
#define STORE_API_TOKEN_NAME_MAX 100 /* bytes */

struct api_token {
	int64_t id;
	int64_t user_id;
	char name[STORE_API_TOKEN_NAME_MAX + 1];
	bool write; /* scope "write", else "read" */
	int64_t created_at;
	int64_t last_used_at;
	int64_t expires_at;
};

enum verr store_api_token_create(struct store *s, int64_t user_id, const char *name, bool write,
                                 const char *token_hash, int64_t expires_at, int64_t now,
                                 int64_t max_tokens, struct api_token *out, struct verror *err);
/* The user's tokens, oldest first; caller frees *out with free(). */
enum verr store_api_token_list(struct store *s, int64_t user_id, struct api_token **out, size_t *n,
                               struct verror *err);
enum verr store_api_token_delete(struct store *s, int64_t user_id, int64_t id, struct verror *err);
enum verr store_api_token_find(struct store *s, const char *token_hash, int64_t now,
                               struct api_token *out, struct verror *err);
enum verr store_api_token_touch(struct store *s, int64_t id, int64_t now, int64_t every_ms,
                                struct verror *err);

/*
 * Notes. Every call is scoped to user_id: another user's note is
 * VERR_NOT_FOUND, exactly as a missing one. create and update set
 * created_at/updated_at from now and fill *out with the stored note
 * (update replaces title, content and the whole tag list, and moves
 * updated_at forward by at least 1 ms, so every change is told apart).
 */
enum verr store_note_create(struct store *s, int64_t user_id, const struct note_input *in,
                            int64_t now, struct note *out, struct verror *err);
enum verr store_note_get(struct store *s, int64_t user_id, int64_t id, struct note *out,
                         struct verror *err);
enum verr store_note_update(struct store *s, int64_t user_id, int64_t id,
                            const struct note_input *in, int64_t now, struct note *out,
                            struct verror *err);
enum verr store_note_delete(struct store *s, int64_t user_id, int64_t id, struct verror *err);
/*
 * Up to limit of the user's notes after (created_at, id), oldest first (no
 * total): pages that notes added or deleted meanwhile cannot shift.
 */
enum verr store_notes_after(struct store *s, int64_t user_id, int64_t created_at, int64_t id,
                            int64_t limit, struct note_page *out, struct verror *err);
enum verr store_note_list(struct store *s, const struct note_query *q, struct note_page *out,
                          struct verror *err);

/*
 * Several notes by id, scoped to user_id, into out[0..n) in the order of
 * ids; a missing or foreign id leaves out[i].id == 0. Free each with
 * note_free().
 */
enum verr store_notes_get_many(struct store *s, int64_t user_id, const int64_t *ids, size_t n,
                               struct note *out, struct verror *err);

/*
 * Imported notes. A file of an imported folder is known by its path
 * (relative to the folder) and the hash of its bytes, kept on its note.
 */
struct note_source {
	int64_t note_id;
	char *path;
	char *hash;
};

void note_sources_free(struct note_source *v, size_t n); /* accepts NULL */

/* Every imported note of the user, by path in byte order; caller frees *out. */
enum verr store_note_sources(struct store *s, int64_t user_id, struct note_source **out, size_t *n,
                             struct verror *err);

/*
 * Sets the note's source path and hash (a renamed file), or with path NULL
 * clears both. VERR_NOT_FOUND for another user's note; VERR_CONFLICT when
 * another of the user's notes has that path.
 */
enum verr store_note_set_source(struct store *s, int64_t user_id, int64_t id, const char *path,
                                const char *hash, struct verror *err);

/*
 * A link between notes: [[target]] or ![[target]] (embed) as written in
 * the note from_note, to the note it resolves to (0: unresolved, or its
 * note deleted since).
 */
struct note_link {
	int64_t from_note;
	int64_t to_note;
	char *target; /* as written: "Folder/Note" */
	bool embed;
	char *title; /* of the other note (to_note outgoing, from_note backlinks); NULL if none */
};

void note_links_free(struct note_link *v, size_t n); /* accepts NULL */

/* One link to store: to_note 0 (or another user's note) stores it unresolved. */
struct note_link_input {
	const char *target;
	int64_t to_note;
	bool embed;
};

/*
 * Replaces the outgoing links of the user's note id with links[0..n), in
 * order, in one transaction. VERR_NOT_FOUND for another user's note.
 */
enum verr store_note_links_put(struct store *s, int64_t user_id, int64_t id,
                               const struct note_link_input *links, size_t n, struct verror *err);

/*
 * The outgoing links of the user's note id (in order) and its backlinks
 * (the user's notes linking to it, by title), from one snapshot.
 * VERR_NOT_FOUND for another user's note. Caller frees both with
 * note_links_free().
 */
enum verr store_note_links(struct store *s, int64_t user_id, int64_t id, struct note_link **out,
                           size_t *nout, struct note_link **in, size_t *nin, struct verror *err);

/* Every outgoing link of the user's notes, by from_note then order (no titles). */
enum verr store_user_links(struct store *s, int64_t user_id, struct note_link **out, size_t *n,
                           struct verror *err);

/* A note's chunks in order, as store_notes_get_many gives them. */
struct note_chunks {
	size_t n;
	int64_t *ids;
	char **texts;
	char **headings; /* the trail of headings above each ("A > B"), "" if none */
};

void note_chunks_free(struct note_chunks *c); /* accepts NULL */

/*
 * store_notes_get_many, and with chunks not NULL also each found note's
 * chunks into chunks[0..n), all from one read snapshot. Free each with
 * note_chunks_free().
 */
enum verr store_notes_get_many_chunks(struct store *s, int64_t user_id, const int64_t *ids,
                                      size_t n, struct note *out, struct note_chunks *chunks,
                                      struct verror *err);

/* Ids of the user's notes carrying every tag given; caller frees *ids. */
/* A tag and how many of the user's notes carry it. */
struct tag_count {
	char *tag;
	int64_t notes;
};

/* The user's tags, most used first (then by name), at most limit; free with tag_counts_free. */
enum verr store_tags(struct store *s, int64_t user_id, int64_t limit, struct tag_count **out,
                     size_t *n, struct verror *err);
void tag_counts_free(struct tag_count *t, size_t n);

enum verr store_note_ids_with_tags(struct store *s, int64_t user_id, const char *const *tags,
                                   size_t ntags, int64_t **ids, size_t *n, struct verror *err);

/* A note's chunks in order: ids and texts (caller frees each text and both arrays). */
enum verr store_note_chunks(struct store *s, int64_t user_id, int64_t note_id, int64_t **chunk_ids,
                            char ***texts, size_t *n, struct verror *err);

/*
 * The embedding queue, durable and shared by every process on the database.
 *
 * embed_claim leases up to limit pending chunks whose time has come (oldest
 * first): they are not handed out again until now + lease_ms, so a worker
 * that dies mid-batch only delays them. embed_done stores n vectors
 * (L2-normalised, dim floats each, in order) in one transaction and marks
 * each chunk ready, unless its hash no longer matches (the note changed
 * meanwhile: the new text is pending).
 * embed_failed counts a failed attempt: pending again at retry_at, or
 * failed for good with give_up. reindex makes every chunk of user_id (0:
 * every user) pending again, keeping old vectors until new ones replace
 * them, and sets *count. Each of these, and every note write that changes
 * chunks, bumps the owner's index version.
 */
enum verr store_embed_claim(struct store *s, size_t limit, int64_t now, int64_t lease_ms,
                            struct embed_job **out, size_t *n, struct verror *err);
enum verr store_embed_done(struct store *s, const int64_t *chunk_ids, const char *const *hashes,
                           size_t n, const char *model, int dim, const float *vecs, int64_t now,
                           struct verror *err);
enum verr store_embed_failed(struct store *s, int64_t chunk_id, const char *hash, const char *error,
                             int64_t retry_at, bool give_up, struct verror *err);
enum verr store_reindex(struct store *s, int64_t user_id, int64_t *count, struct verror *err);

/* Chunk counts of a user; stale counts ready vectors of another model or dim. */
enum verr store_index_status(struct store *s, int64_t user_id, const char *model, int dim,
                             struct index_status *out, struct verror *err);

/* What GET /metrics shows of the store: no user's figures, only totals. */
struct store_stats {
	int64_t chunks_pending, chunks_failed; /* the whole database's queue, every process's */
	int pool_open, pool_in_use, pool_max;  /* this process's connections */
	uint64_t pool_waits, pool_timeouts;    /* borrowers that waited; that gave up */
	size_t vector_cache_bytes;             /* vectors kept in this process's memory */
	uint64_t writes, commits; /* write transactions asked for; commits that made them durable
	                             (SQLite commits writers that queue together as one) */
};

enum verr store_stats(struct store *s, struct store_stats *out, struct verror *err);

/* A number that changes whenever the user's chunks or vectors change, in any process. */
enum verr store_index_version(struct store *s, int64_t user_id, int64_t *version,
                              struct verror *err);

/*
 * Keyword search over title, content and tags of the user's notes carrying
 * every tag given, best first, at most limit. terms are lower-cased words
 * (letters and digits, any UTF-8 beyond ASCII), stemmed by the backend:
 * a note matches any of them, or with phrase set, all of them as one
 * phrase in its title or one of its tags. Caller frees *out.
 */
enum verr store_keyword_search(struct store *s, int64_t user_id, const char *const *terms,
                               size_t nterms, bool phrase, const char *const *tags, size_t ntags,
                               size_t limit, struct keyword_hit **out, size_t *n,
                               struct verror *err);

/*
 * The user's notes nearest to q (dim floats, L2-normalised) by the vectors
 * model made: each note once, at its best chunk, best first, at most limit.
 * With filter set, only the notes in only[0..nonly) (none when nonly is 0).
 * Caller frees *out.
 */
enum verr store_vector_search(struct store *s, int64_t user_id, const char *model, int dim,
                              const float *q, const int64_t *only, size_t nonly, bool filter,
                              size_t limit, struct vector_hit **out, size_t *n, struct verror *err);

#endif
