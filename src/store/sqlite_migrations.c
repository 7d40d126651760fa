/*
 * sqlite_migrations.c - the SQLite schema, one versioned step at a time.
 *
 * The repository (store.c) runs each step with its schema_migrations row
 * in one transaction. Versions rise strictly through the array; append new
 * ones at the end and never edit one that has shipped. The SQL here holds no values, only schema,
 * so nothing in it is ever interpolated.
 */
#include "store/driver.h"
#include "store/sqlite_fts.h"

/*
 * 1 init: users, their notes and tags, and refresh tokens.
 *
 * Indexes follow the queries in store_sqlite.c:
 *   - notes_user_created serves a user's page, newest first, and COUNT(*)
 *     of a user's notes as a covering index; it also finds a user's notes
 *     for the ON DELETE CASCADE from users.
 *   - note_tags is clustered on (note_id, tag) (WITHOUT ROWID), which loads
 *     the tags of a note or a page and serves the cascade from notes;
 *     note_tags_user_tag answers "which of this user's notes carry tag t"
 *     from the index alone.
 *   - refresh_tokens: token_hash is UNIQUE (rotation looks it up), family
 *     serves reuse revocation, user_id revoke-all and the cascade.
 * AUTOINCREMENT on users and notes keeps ids from ever being reused.
 */
static const char init_up[] =
    "CREATE TABLE users (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  email TEXT NOT NULL UNIQUE,\n"
    "  password_hash TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE notes (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  title TEXT NOT NULL,\n"
    "  content TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  updated_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX notes_user_created ON notes(user_id, created_at DESC, id DESC);\n"
    "CREATE TABLE note_tags (\n"
    "  note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,\n"
    "  user_id INTEGER NOT NULL,\n"
    "  tag TEXT NOT NULL,\n"
    "  position INTEGER NOT NULL,\n"
    "  PRIMARY KEY (note_id, tag)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX note_tags_user_tag ON note_tags(user_id, tag, note_id);\n"
    "CREATE TABLE refresh_tokens (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  family TEXT NOT NULL,\n"
    "  token_hash TEXT NOT NULL UNIQUE,\n"
    "  expires_at INTEGER NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  used_at INTEGER,\n"
    "  revoked_at INTEGER\n"
    ");\n"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens(family);\n"
    "CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);\n";

/* Children first, so no drop leaves a dangling foreign key behind. */
static const char init_down[] = "DROP TABLE refresh_tokens;\n"
                                "DROP TABLE note_tags;\n"
                                "DROP TABLE notes;\n"
                                "DROP TABLE users;\n";

/*
 * 2 search: the chunks of every note with their embeddings and the
 * embedding queue, the keyword index, and a per-user index version.
 *
 * chunks: one row per piece of a note as the chunker cut it, seq its place
 * in the note. status is 0 pending, 1 ready, 2 failed; next_attempt_at is
 * both the retry time and the lease of a claimed chunk (claiming sets it to
 * now + lease). embedding holds dim native-order float32s made by model; it
 * is only ever written by embed_done for the row's current hash, so a
 * vector always belongs to the row's text, whatever the status. Small
 * columns come first and the blob last, so reading status or the queue
 * columns never touches an overflow page. Rows cascade from notes (and so
 * from users); user_id is denormalised for the per-user queries.
 * Indexes, for the queries in store_sqlite.c:
 *   - UNIQUE (note_id, seq): a note's chunks in order (note_chunks, update)
 *     and the cascade from notes;
 *   - chunks_note_status (note_id, status): a note's embedding_status with
 *     two index seeks, for get and every note of a listed page;
 *   - chunks_queue, partial on status = 0, (id, next_attempt_at, status):
 *     the claim walks pending chunks oldest first and stops after its
 *     limit, skipping leased ones from the index alone (status is there
 *     only to make it covering); ready and failed chunks are not in it;
 *   - chunks_user (user_id, model, dim, note_id, seq, status): a user's
 *     vectors of one model in (note, seq) order with no sort, and the
 *     status counts of a user from the index alone.
 *
 * notes_fts: FTS5 over title, content and tags (joined by spaces), rowid =
 * note id, user_id stored for scoping but not indexed. store_sqlite.c
 * writes a note's row in the transaction that writes the note; the
 * trigger removes it with the note, also when a user's deletion cascades
 * to their notes. Existing notes are copied in. Their chunks cannot be
 * computed in SQL, so they start with none (embedding_status ready) until
 * an update gives them some.
 *
 * users.index_version: bumped by every write that changes a user's notes,
 * chunks, vectors or their statuses, so a process caching any of it sees
 * another process's writes.
 */
static const char search_up[] =
    "ALTER TABLE users ADD COLUMN index_version INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE TABLE chunks (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,\n"
    "  user_id INTEGER NOT NULL,\n"
    "  seq INTEGER NOT NULL,\n"
    "  status INTEGER NOT NULL DEFAULT 0,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,\n"
    "  dim INTEGER,\n"
    "  model TEXT,\n"
    "  hash TEXT NOT NULL,\n"
    "  updated_at INTEGER NOT NULL,\n"
    "  error TEXT,\n"
    "  heading TEXT NOT NULL,\n"
    "  text TEXT NOT NULL,\n"
    "  embedding BLOB,\n"
    "  UNIQUE (note_id, seq)\n"
    ");\n"
    "CREATE INDEX chunks_note_status ON chunks(note_id, status);\n"
    "CREATE INDEX chunks_queue ON chunks(id, next_attempt_at, status) WHERE status = 0;\n"
    "CREATE INDEX chunks_user ON chunks(user_id, model, dim, note_id, seq, status);\n"
    "CREATE VIRTUAL TABLE notes_fts USING fts5(\n"
    "  title, content, tags, user_id UNINDEXED,\n"
    "  tokenize = 'porter unicode61 remove_diacritics 2'\n"
    ");\n"
    "CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN\n"
    "  DELETE FROM notes_fts WHERE rowid = old.id;\n"
    "END;\n"
    "INSERT INTO notes_fts (rowid, title, content, tags, user_id)\n"
    "  SELECT n.id, n.title, n.content,\n"
    "    COALESCE((SELECT group_concat(tag, ' ') FROM\n"
    "      (SELECT tag FROM note_tags t WHERE t.note_id = n.id ORDER BY position)), ''),\n"
    "    n.user_id\n"
    "  FROM notes n;\n";

static const char search_down[] = "DROP TRIGGER notes_fts_delete;\n"
                                  "DROP TABLE notes_fts;\n"
                                  "DROP TABLE chunks;\n"
                                  "ALTER TABLE users DROP COLUMN index_version;\n";

/*
 * 3 keyword_per_user: the keyword index becomes a private one per user
 * (sqlite_fts.c says how and why). notes_fts is made again with the
 * tokenizer "vault" wrapping the same porter/unicode61, each value opening
 * with its owner's marker, and filled from the notes; keyword_stats holds
 * each user's number of indexed notes and their tokens (all columns), the
 * collection figures of the user's BM25, and goes with the user. The delete
 * trigger now also takes the note out of its owner's figures; store_sqlite.c
 * keeps them on insert and replace. Down restores migration 2's table.
 */
#define NOTE_TAGS_TEXT                                                                             \
	"COALESCE((SELECT group_concat(tag, ' ') FROM\n"                                           \
	"  (SELECT tag FROM note_tags t WHERE t.note_id = n.id ORDER BY position)), '')"
#define OWNER SQLITE_FTS_OWNER("n.user_id")

static const char keyword_per_user_up[] =
    "DROP TRIGGER notes_fts_delete;\n"
    "DROP TABLE notes_fts;\n"
    "CREATE VIRTUAL TABLE notes_fts USING fts5(\n"
    "  title, content, tags, user_id UNINDEXED,\n"
    "  tokenize = 'vault porter unicode61 remove_diacritics 2'\n"
    ");\n"
    "CREATE TABLE keyword_stats (\n"
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,\n"
    "  docs INTEGER NOT NULL,\n"
    "  tokens INTEGER NOT NULL\n"
    ");\n"
    "CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN\n"
    "  UPDATE keyword_stats SET docs = docs - 1, tokens = tokens -\n"
    "    (SELECT vault_doclen(sz) FROM notes_fts_docsize WHERE id = old.id)\n"
    "    WHERE user_id = old.user_id;\n"
    "  DELETE FROM notes_fts WHERE rowid = old.id;\n"
    "END;\n"
    "INSERT INTO notes_fts (rowid, title, content, tags, user_id)\n"
    "  SELECT n.id, " OWNER " || n.title, " OWNER " || n.content,\n"
    "    " OWNER " || " NOTE_TAGS_TEXT ",\n"
    "    n.user_id\n"
    "  FROM notes n;\n"
    "INSERT INTO keyword_stats (user_id, docs, tokens)\n"
    "  SELECT n.user_id, COUNT(*), SUM(vault_doclen(d.sz))\n"
    "  FROM notes n JOIN notes_fts_docsize d ON d.id = n.id GROUP BY n.user_id;\n";

static const char keyword_per_user_down[] =
    "DROP TRIGGER notes_fts_delete;\n"
    "DROP TABLE keyword_stats;\n"
    "DROP TABLE notes_fts;\n"
    "CREATE VIRTUAL TABLE notes_fts USING fts5(\n"
    "  title, content, tags, user_id UNINDEXED,\n"
    "  tokenize = 'porter unicode61 remove_diacritics 2'\n"
    ");\n"
    "CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN\n"
    "  DELETE FROM notes_fts WHERE rowid = old.id;\n"
    "END;\n"
    "INSERT INTO notes_fts (rowid, title, content, tags, user_id)\n"
    "  SELECT n.id, n.title, n.content, " NOTE_TAGS_TEXT ", n.user_id FROM notes n;\n";

/*
 * 4 usage: each user's number of notes and their bytes (title and content,
 * as stored), kept by triggers on every write however it comes, for the
 * per-user quotas (USER_MAX_NOTES, USER_MAX_BYTES) that the store checks in
 * the writing transaction.
 */
#define NOTE_BYTES(row)                                                                            \
	"length(CAST(" row ".title AS BLOB)) + length(CAST(" row ".content AS BLOB))"

static const char usage_up[] =
    "ALTER TABLE users ADD COLUMN notes_count INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE users ADD COLUMN notes_bytes INTEGER NOT NULL DEFAULT 0;\n"
    "UPDATE users SET\n"
    "  notes_count = (SELECT COUNT(*) FROM notes n WHERE n.user_id = users.id),\n"
    "  notes_bytes = (SELECT COALESCE(SUM(" NOTE_BYTES(
        "n") "), 0) FROM notes n\n"
             "                 WHERE n.user_id = users.id);\n"
             "CREATE TRIGGER notes_usage_insert AFTER INSERT ON notes BEGIN\n"
             "  UPDATE users SET notes_count = notes_count + 1,\n"
             "    notes_bytes = notes_bytes + " NOTE_BYTES(
                 "new") " WHERE id = new.user_id;\n"
                        "END;\n"
                        "CREATE TRIGGER notes_usage_update AFTER UPDATE OF title, content ON notes "
                        "BEGIN\n"
                        "  UPDATE users SET notes_bytes = notes_bytes - (" NOTE_BYTES(
                            "old") ") + " NOTE_BYTES("new") "\n"
                                                            "    WHERE id = new.user_id;\n"
                                                            "END;\n"
                                                            "CREATE TRIGGER notes_usage_delete "
                                                            "AFTER DELETE ON notes BEGIN\n"
                                                            "  UPDATE users SET notes_count = "
                                                            "notes_count - 1,\n"
                                                            "    notes_bytes = notes_bytes - "
                                                            "(" NOTE_BYTES(
                                                                "old") ") WHERE id = old.user_id;\n"
                                                                       "END;\n";

static const char usage_down[] = "DROP TRIGGER notes_usage_insert;\n"
                                 "DROP TRIGGER notes_usage_update;\n"
                                 "DROP TRIGGER notes_usage_delete;\n"
                                 "ALTER TABLE users DROP COLUMN notes_count;\n"
                                 "ALTER TABLE users DROP COLUMN notes_bytes;\n";

/*
 * 5 vector_version: each vector stamped with its owner's index version
 * after the write that made it (embed_done), so the in-process vector
 * cache (sqlite_vectors.c) reads only the vectors written since the
 * version it holds; chunks_vector_version finds them. Vectors made before
 * keep 0, which a cache only ever loads whole.
 */
static const char vector_version_up[] =
    "ALTER TABLE chunks ADD COLUMN vector_version INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE INDEX chunks_vector_version ON chunks(user_id, vector_version);\n";

static const char vector_version_down[] = "DROP INDEX chunks_vector_version;\n"
                                          "ALTER TABLE chunks DROP COLUMN vector_version;\n";

/*
 * 6 api_tokens: personal access tokens. Only the SHA-256 of a token is
 * kept; token_hash is UNIQUE, which is the index every authenticated
 * request looks a token up by. api_tokens_user serves a user's list, the
 * count against the per-user limit and the cascade from users, so deleting
 * an account revokes its tokens. expires_at NULL: never expires.
 */
static const char api_tokens_up[] =
    "CREATE TABLE api_tokens (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  name TEXT NOT NULL,\n"
    "  scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),\n"
    "  token_hash TEXT NOT NULL UNIQUE,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  last_used_at INTEGER,\n"
    "  expires_at INTEGER\n"
    ");\n"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id);\n";

static const char api_tokens_down[] = "DROP TABLE api_tokens;\n";

/*
 * 7 import: what `vault import` keeps. A note made from a file of an
 * imported folder holds the file's path relative to the folder
 * (source_path: one note a path for each user, so a partial unique index
 * that also lists a user's imported files in path order), the hash of the
 * file's bytes (source_hash: an unchanged file is skipped, a renamed one
 * found by it) and its front matter's aliases (a JSON array; NULL for none).
 * note_links: the [[links]] and ![[embeds]] of a note in text order (seq),
 * each with its target as written and the note it resolved to, NULL when
 * none (then or since: deleting the target sets it NULL, the next import
 * resolves it again). Rows go with their note (the primary key serves the
 * cascade and a note's outgoing links); note_links_to serves backlinks and
 * the SET NULL.
 */
static const char import_up[] =
    "ALTER TABLE notes ADD COLUMN source_path TEXT;\n"
    "ALTER TABLE notes ADD COLUMN source_hash TEXT;\n"
    "ALTER TABLE notes ADD COLUMN aliases TEXT;\n"
    "CREATE UNIQUE INDEX notes_source ON notes(user_id, source_path)\n"
    "  WHERE source_path IS NOT NULL;\n"
    "CREATE TABLE note_links (\n"
    "  from_note INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,\n"
    "  seq INTEGER NOT NULL,\n"
    "  target TEXT NOT NULL,\n"
    "  to_note INTEGER REFERENCES notes(id) ON DELETE SET NULL,\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('link', 'embed')),\n"
    "  PRIMARY KEY (from_note, seq)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX note_links_to ON note_links(to_note) WHERE to_note IS NOT NULL;\n";

static const char import_down[] = "DROP TABLE note_links;\n"
                                  "DROP INDEX notes_source;\n"
                                  "ALTER TABLE notes DROP COLUMN aliases;\n"
                                  "ALTER TABLE notes DROP COLUMN source_hash;\n"
                                  "ALTER TABLE notes DROP COLUMN source_path;\n";

/*
 * 8 vector_notes: the notes whose vector rows changed other than by a new
 * vector (vector_version shows those): a chunk with a vector deleted, moved
 * within its note, or moved to another model. Each row carries its owner's
 * index version after the write (the version read in the write plus one,
 * as vector_version), so the vector cache re-reads only those notes' rows
 * after an edit instead of every chunk id of the user. A user's rows older
 * than 1,024 versions go, 64 versions at a time: vector_notes_from is the
 * newest version gone, and a cache older than that loads afresh. Nothing
 * is kept for a user being deleted (the users row is gone by then).
 */
static const char vector_notes_up[] =
    "CREATE TABLE vector_notes (\n"
    "  user_id INTEGER NOT NULL,\n"
    "  version INTEGER NOT NULL,\n"
    "  note_id INTEGER NOT NULL,\n"
    "  PRIMARY KEY (user_id, version, note_id)\n"
    ") WITHOUT ROWID;\n"
    "ALTER TABLE users ADD COLUMN vector_notes_from INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE TRIGGER chunks_vector_delete AFTER DELETE ON chunks\n"
    "WHEN old.model IS NOT NULL BEGIN\n"
    "  INSERT OR IGNORE INTO vector_notes\n"
    "  SELECT id, index_version + 1, old.note_id FROM users WHERE id = old.user_id;\n"
    "END;\n"
    "CREATE TRIGGER chunks_vector_move AFTER UPDATE OF seq, model, dim ON chunks\n"
    "WHEN old.model IS NOT NULL AND (new.seq IS NOT old.seq OR new.model IS NOT old.model\n"
    "  OR new.dim IS NOT old.dim) BEGIN\n"
    "  INSERT OR IGNORE INTO vector_notes\n"
    "  SELECT id, index_version + 1, old.note_id FROM users WHERE id = old.user_id;\n"
    "END;\n"
    "CREATE TRIGGER users_vector_notes_prune AFTER UPDATE OF index_version ON users\n"
    "WHEN new.index_version % 64 = 0 AND new.index_version > 1024 BEGIN\n"
    "  DELETE FROM vector_notes WHERE user_id = new.id\n"
    "    AND version <= new.index_version - 1024;\n"
    "  UPDATE users SET vector_notes_from = new.index_version - 1024 WHERE id = new.id;\n"
    "END;\n"
    "CREATE TRIGGER users_vector_notes_delete AFTER DELETE ON users BEGIN\n"
    "  DELETE FROM vector_notes WHERE user_id = old.id;\n"
    "END;\n";

static const char vector_notes_down[] = "DROP TRIGGER users_vector_notes_delete;\n"
                                        "DROP TRIGGER users_vector_notes_prune;\n"
                                        "DROP TRIGGER chunks_vector_move;\n"
                                        "DROP TRIGGER chunks_vector_delete;\n"
                                        "ALTER TABLE users DROP COLUMN vector_notes_from;\n"
                                        "DROP TABLE vector_notes;\n";

/*
 * 9 note_tags_order: a note's tags in their order straight from an index.
 * Without it every note read (a GET, each note of a page or of a search hit)
 * sorted its tags in a temporary b-tree, whose 4 KiB buffer cost more than
 * the rest of the read.
 */
static const char note_tags_order_up[] =
    "CREATE INDEX note_tags_order ON note_tags(note_id, position, tag);\n";

static const char note_tags_order_down[] = "DROP INDEX note_tags_order;\n";

const struct migration sqlite_migrations[] = {
    {1, "init", init_up, init_down},
    {2, "search", search_up, search_down},
    {3, "keyword_per_user", keyword_per_user_up, keyword_per_user_down},
    {4, "usage", usage_up, usage_down},
    {5, "vector_version", vector_version_up, vector_version_down},
    {6, "api_tokens", api_tokens_up, api_tokens_down},
    {7, "import", import_up, import_down},
    {8, "vector_notes", vector_notes_up, vector_notes_down},
    {9, "note_tags_order", note_tags_order_up, note_tags_order_down},
    {0, NULL, NULL, NULL},
};
