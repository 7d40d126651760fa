/*
 * pg_migrations.c - the PostgreSQL schema, one versioned step at a time.
 *
 * The repository (store.c) runs each step with its schema_migrations row in one
 * transaction, under an advisory lock, so two processes migrating at once
 * take turns. The SQL here holds no values, only schema; the one
 * substitution is the integer dimension of the vector column
 * (PG_MIGRATION_DIM). Tables go into the first schema of the connection's
 * search_path, so a URL with options=-csearch_path=... gives a test or a
 * tenant a schema of its own.
 */
#include "store/pg_migrations.h"

/*
 * 1 init: users, their notes with their tags, and refresh tokens.
 *
 * pgvector comes first: without it nothing else is worth creating, and its
 * absence is reported before anything is half done.
 *
 * Ids are GENERATED ALWAYS AS IDENTITY: a sequence never hands out a
 * number twice, so a deleted note's id is never reused (AUTOINCREMENT in
 * SQLite). A note's tags are a text[] in the order given, not a table: a
 * note and its tags are read and written as one row.
 *
 * Indexes follow the queries in store_pg.c (each checked with EXPLAIN):
 *   - notes_user_created serves a user's page, newest first, with its
 *     LIMIT/OFFSET and no sort, the count of a user's notes and their ids,
 *     and finds a user's notes for the ON DELETE CASCADE from users.
 *   - notes_tags (GIN) answers tags @> '{a,b}' for the tag filters of
 *     list, keyword search and note_ids_with_tags; the planner ANDs it with
 *     notes_user_created (BitmapAnd) when a tag is rare.
 *   - refresh_tokens: token_hash is UNIQUE (rotation looks it up), family
 *     serves reuse revocation, user_id revoke-all, the login's clean-up of
 *     expired tokens and the cascade.
 */
static const char init_up[] =
    "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public;\n"
    "CREATE TABLE users (\n"
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  email text NOT NULL UNIQUE,\n"
    "  password_hash text NOT NULL,\n"
    "  created_at bigint NOT NULL\n"
    ");\n"
    "CREATE TABLE notes (\n"
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  title text NOT NULL,\n"
    "  content text NOT NULL,\n"
    "  tags text[] NOT NULL DEFAULT '{}',\n"
    "  created_at bigint NOT NULL,\n"
    "  updated_at bigint NOT NULL\n"
    ");\n"
    "CREATE INDEX notes_user_created ON notes (user_id, created_at DESC, id DESC);\n"
    "CREATE INDEX notes_tags ON notes USING gin (tags);\n"
    "CREATE TABLE refresh_tokens (\n"
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  family text NOT NULL,\n"
    "  token_hash text NOT NULL UNIQUE,\n"
    "  expires_at bigint NOT NULL,\n"
    "  created_at bigint NOT NULL,\n"
    "  used_at bigint,\n"
    "  revoked_at bigint\n"
    ");\n"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens (family);\n"
    "CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id, expires_at);\n";

/*
 * Children first, so no drop leaves a dangling foreign key behind. The
 * vector extension stays: it is database-wide, and other schemas of the
 * database (other tenants, other test runs) may have columns of its types.
 */
static const char init_down[] = "DROP TABLE refresh_tokens;\n"
                                "DROP TABLE notes;\n"
                                "DROP TABLE users;\n";

/*
 * 2 search: the chunks of every note with their embeddings and the
 * embedding queue, the keyword index, and a per-user index version.
 *
 * chunks: as in SQLite (sqlite_migrations.c): one row per piece of a note,
 * seq its place; status 0 pending, 1 ready, 2 failed; next_attempt_at both
 * the retry time and the lease of a claimed chunk. embedding is a pgvector
 * vector of the configured dimension, written only by embed_done for the
 * row's current hash, so a vector always belongs to the row's text,
 * whatever the status. Rows cascade from notes; user_id is denormalised for
 * the per-user queries.
 * Indexes, for the queries in store_pg.c:
 *   - UNIQUE (note_id, seq): a note's chunks in order (note_chunks, the
 *     detach of an update) and the cascade from notes;
 *   - chunks_note_status (note_id, status): a note's embedding_status, two
 *     index-only probes per note for get, list and get_many;
 *   - chunks_queue, partial on status = 0, (id): the claim walks pending
 *     chunks in id order and stops after its limit; ready and failed
 *     chunks are not in it, so it stays as small as the queue.
 *     next_attempt_at is deliberately in no index: a claim changes only
 *     it, so its UPDATE can be HOT (no new index entries) when the page
 *     has room, instead of inserting every leased row's vector into the
 *     HNSW graph again (measured: ~6 ms a row with 100k vectors);
 *   - chunks_user (user_id, model, dim, note_id) INCLUDE (status): the
 *     bounded count of a user's vectors of one model (index only), the
 *     exact vector scan of those rows, and index_status's counts of a user
 *     (index only);
 *   - chunks_embedding, HNSW over cosine distance: the approximate search
 *     of a user with more vectors than an exact scan handles quickly. Rows
 *     without a vector are not in it.
 *
 * notes.search: the keyword index, a stored generated tsvector (title
 * weight A, tags B, content C, English stemming) kept by PostgreSQL itself
 * in every write of the row, with a GIN index. array_to_string() is only
 * STABLE, which a generated column refuses, so tags become text through
 * vault_tags_text(), IMMUTABLE: joining strings by a space depends on no
 * setting. Existing notes get their vectors when the column is added;
 * their chunks cannot be computed in SQL, so they start with none
 * (embedding_status ready) until an update gives them some.
 *
 * users.index_version: bumped by every write that changes a user's notes,
 * chunks, vectors or their statuses, so a process caching any of it sees
 * another process's writes.
 */
static const char search_up[] =
    "ALTER TABLE users ADD COLUMN index_version bigint NOT NULL DEFAULT 0;\n"
    "CREATE FUNCTION vault_tags_text(text[]) RETURNS text\n"
    "  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE\n"
    "  RETURN array_to_string($1, ' ');\n"
    "ALTER TABLE notes ADD COLUMN search tsvector GENERATED ALWAYS AS (\n"
    "  setweight(to_tsvector('english'::regconfig, title), 'A') ||\n"
    "  setweight(to_tsvector('english'::regconfig, vault_tags_text(tags)), 'B') ||\n"
    "  setweight(to_tsvector('english'::regconfig, content), 'C')) STORED;\n"
    "CREATE INDEX notes_search ON notes USING gin (search);\n"
    "CREATE TABLE chunks (\n"
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  note_id bigint NOT NULL REFERENCES notes(id) ON DELETE CASCADE,\n"
    "  user_id bigint NOT NULL,\n"
    "  seq integer NOT NULL,\n"
    "  status smallint NOT NULL DEFAULT 0,\n"
    "  attempts integer NOT NULL DEFAULT 0,\n"
    "  next_attempt_at bigint NOT NULL DEFAULT 0,\n"
    "  dim integer,\n"
    "  model text,\n"
    "  hash text NOT NULL,\n"
    "  updated_at bigint NOT NULL,\n"
    "  error text,\n"
    "  heading text NOT NULL,\n"
    "  text text NOT NULL,\n"
    "  embedding vector(" PG_MIGRATION_DIM "),\n"
    "  UNIQUE (note_id, seq)\n"
    ");\n"
    "CREATE INDEX chunks_note_status ON chunks (note_id, status);\n"
    "CREATE INDEX chunks_queue ON chunks (id) WHERE status = 0;\n"
    "CREATE INDEX chunks_user ON chunks (user_id, model, dim, note_id) INCLUDE (status);\n"
    "CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops);\n";

static const char search_down[] = "DROP TABLE chunks;\n"
                                  "ALTER TABLE notes DROP COLUMN search;\n"
                                  "DROP FUNCTION vault_tags_text(text[]);\n"
                                  "ALTER TABLE users DROP COLUMN index_version;\n";

/*
 * 3 keyword_per_user: a keyword index per user. ts_rank needs no
 * collection statistics, so the ranking was already each user's own; the
 * index was not: notes_search keyed its posting lists by lexeme alone, so a
 * user's search read (and, in a BitmapAnd with notes_user_created, merged)
 * the postings of every user who used the same words, plus GIN's pending
 * list of everyone's recent writes (bench/isolation.sh: 479 req/s with the
 * other user at 0 notes, 120 at 50,000). notes_search_owned indexes each
 * note's lexemes prefixed with its owner's id ("42 ferri"), through
 * vault_owned_lexemes(), IMMUTABLE: a user's terms have posting lists of
 * their own, and store_pg.c's query reads only those (its && on the same
 * expression), then checks the exact tsquery on the user's rows.
 * fastupdate off: no pending list, which every search would otherwise scan
 * whole, whoever wrote it; each write updates the index at once instead.
 *
 * search is made again by vault_search_vector(), the same weighted vector,
 * except that a note with more distinct words than a tsvector holds with
 * their positions (1 MiB of lexemes and positions, about 100,000 distinct
 * words; a note may have 1 MiB of text) no longer fails to save: its
 * content is indexed from the start, halving the length until it fits.
 * plpgsql for the exception; it calls only pg_catalog functions, so no
 * search_path can change what it computes. Down restores migration 2's
 * column, which refuses such a note again (down then fails, changing
 * nothing, until it is shortened).
 */
static const char keyword_per_user_up[] =
    "CREATE FUNCTION vault_search_vector(title text, tags text[], content text)\n"
    "  RETURNS tsvector LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$\n"
    "DECLARE\n"
    "  head tsvector := setweight(to_tsvector('english'::regconfig, title), 'A') ||\n"
    "    setweight(to_tsvector('english'::regconfig, array_to_string(tags, ' ')), 'B');\n"
    "  n integer := length(content);\n"
    "BEGIN\n"
    "  LOOP\n"
    "    BEGIN\n"
    "      RETURN head || setweight(to_tsvector('english'::regconfig, left(content, n)), 'C');\n"
    "    EXCEPTION WHEN program_limit_exceeded THEN\n"
    "      n := n / 2;\n"
    "    END;\n"
    "  END LOOP;\n"
    "END $$;\n"
    "ALTER TABLE notes DROP COLUMN search;\n"
    "ALTER TABLE notes ADD COLUMN search tsvector\n"
    "  GENERATED ALWAYS AS (vault_search_vector(title, tags, content)) STORED;\n"
    "CREATE FUNCTION vault_owned_lexemes(bigint, tsvector) RETURNS text[]\n"
    "  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE\n"
    "  RETURN ARRAY(SELECT $1::text || ' ' || l FROM unnest(tsvector_to_array($2)) l);\n"
    "CREATE INDEX notes_search_owned ON notes\n"
    "  USING gin (vault_owned_lexemes(user_id, search)) WITH (fastupdate = off);\n";

/* The column and index as migration 2 made them. */
static const char keyword_per_user_down[] =
    "DROP INDEX notes_search_owned;\n"
    "DROP FUNCTION vault_owned_lexemes(bigint, tsvector);\n"
    "ALTER TABLE notes DROP COLUMN search;\n"
    "DROP FUNCTION vault_search_vector(text, text[], text);\n"
    "ALTER TABLE notes ADD COLUMN search tsvector GENERATED ALWAYS AS (\n"
    "  setweight(to_tsvector('english'::regconfig, title), 'A') ||\n"
    "  setweight(to_tsvector('english'::regconfig, vault_tags_text(tags)), 'B') ||\n"
    "  setweight(to_tsvector('english'::regconfig, content), 'C')) STORED;\n"
    "CREATE INDEX notes_search ON notes USING gin (search);\n";

/*
 * A new EMBEDDING_DIM: the vector column takes the new dimension and every
 * vector goes (they cannot be cast), with the model that made it, so no
 * row claims a vector it lacks; reindex then queues every chunk again. The
 * HNSW index is built for one dimension, so it is made anew (empty, cheap).
 * One transaction, with no statement timeout (it rewrites the table): a
 * failure changes nothing.
 */
const char pg_redim_sql[] =
    "BEGIN;\n"
    "SET LOCAL statement_timeout = 0;\n"
    "DROP INDEX chunks_embedding;\n"
    "ALTER TABLE chunks ALTER COLUMN embedding TYPE vector(" PG_MIGRATION_DIM ") USING NULL;\n"
    "ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;\n" /* a new type resets it */
    "UPDATE chunks SET model = NULL, dim = NULL;\n"
    "CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops);\n"
    "COMMIT;\n";

/*
 * 4 usage: each user's number of notes and their bytes (title and content),
 * kept by a trigger on every write, for the per-user quotas that the store
 * checks in the writing transaction (the users row, locked FOR UPDATE
 * there, also makes one user's writes take turns for the check).
 */
#define USAGE_FUNCTION_V4                                                                          \
	"CREATE OR REPLACE FUNCTION vault_notes_usage() RETURNS trigger LANGUAGE plpgsql AS $$\n"  \
	"BEGIN\n"                                                                                  \
	"  IF TG_OP = 'INSERT' THEN\n"                                                             \
	"    UPDATE users SET notes_count = notes_count + 1, notes_bytes = notes_bytes +\n"        \
	"      octet_length(NEW.title) + octet_length(NEW.content) WHERE id = NEW.user_id;\n"      \
	"  ELSIF TG_OP = 'UPDATE' THEN\n"                                                          \
	"    UPDATE users SET notes_bytes = notes_bytes - octet_length(OLD.title) -\n"             \
	"      octet_length(OLD.content) + octet_length(NEW.title) + octet_length(NEW.content)\n"  \
	"      WHERE id = NEW.user_id;\n"                                                          \
	"  ELSE\n"                                                                                 \
	"    UPDATE users SET notes_count = notes_count - 1, notes_bytes = notes_bytes -\n"        \
	"      octet_length(OLD.title) - octet_length(OLD.content) WHERE id = OLD.user_id;\n"      \
	"  END IF;\n"                                                                              \
	"  RETURN NULL;\n"                                                                         \
	"END $$;\n"

static const char usage_up[] =
    "ALTER TABLE users ADD COLUMN notes_count bigint NOT NULL DEFAULT 0,\n"
    "  ADD COLUMN notes_bytes bigint NOT NULL DEFAULT 0;\n"
    "UPDATE users u SET notes_count = s.n, notes_bytes = s.b FROM (\n"
    "  SELECT user_id, count(*) AS n, sum(octet_length(title) + octet_length(content)) AS b\n"
    "  FROM notes GROUP BY user_id) s WHERE s.user_id = u.id;\n" USAGE_FUNCTION_V4
    "CREATE TRIGGER notes_usage AFTER INSERT OR DELETE OR UPDATE OF title, content ON notes\n"
    "  FOR EACH ROW EXECUTE FUNCTION vault_notes_usage();\n";

static const char usage_down[] =
    "DROP TRIGGER notes_usage ON notes;\n"
    "DROP FUNCTION vault_notes_usage();\n"
    "ALTER TABLE users DROP COLUMN notes_count, DROP COLUMN notes_bytes;\n";

/*
 * 5 keyword_bm25: BM25 on each user's own statistics, as SQLite's
 * vault_bm25 computes it (k1 1.2, b 0.75, title 10, tags 5, content 1, an
 * IDF floor of 1e-6), where ts_rank had no collection statistics at all: a
 * word rare in the user's notes counted no more than a common one, and the
 * relevant note came first for 118 of the eval set's 254 queries against
 * SQLite's 148 (146 now). N is users.notes_count; a term's document
 * frequency is counted at query time on the user's own postings in
 * notes_search_owned (store_pg.c). A note's length is its number of
 * lexemes, length(search), which PostgreSQL reads from the tsvector's
 * header: counting its positions instead cost a pass over every candidate's
 * lexemes in each query (three times the query's time at 1,800 matching
 * notes). The users' sums of those lengths, for the average, are kept in
 * users.keyword_length by the usage trigger, which now also fires on a
 * change of tags (they are indexed too).
 */
static const char keyword_bm25_up[] =
    "ALTER TABLE users ADD COLUMN keyword_length bigint NOT NULL DEFAULT 0;\n"
    "UPDATE users u SET keyword_length = s.t FROM (\n"
    "  SELECT user_id, sum(length(search)) AS t FROM notes GROUP BY user_id) s\n"
    "  WHERE s.user_id = u.id;\n"
    "CREATE OR REPLACE FUNCTION vault_notes_usage() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF TG_OP = 'INSERT' THEN\n"
    "    UPDATE users SET notes_count = notes_count + 1, notes_bytes = notes_bytes +\n"
    "      octet_length(NEW.title) + octet_length(NEW.content),\n"
    "      keyword_length = keyword_length + length(NEW.search) WHERE id = NEW.user_id;\n"
    "  ELSIF TG_OP = 'UPDATE' THEN\n"
    "    UPDATE users SET notes_bytes = notes_bytes - octet_length(OLD.title) -\n"
    "      octet_length(OLD.content) + octet_length(NEW.title) + octet_length(NEW.content),\n"
    "      keyword_length = keyword_length - length(OLD.search) + length(NEW.search)\n"
    "      WHERE id = NEW.user_id;\n"
    "  ELSE\n"
    "    UPDATE users SET notes_count = notes_count - 1, notes_bytes = notes_bytes -\n"
    "      octet_length(OLD.title) - octet_length(OLD.content),\n"
    "      keyword_length = keyword_length - length(OLD.search) WHERE id = OLD.user_id;\n"
    "  END IF;\n"
    "  RETURN NULL;\n"
    "END $$;\n"
    "DROP TRIGGER notes_usage ON notes;\n"
    "CREATE TRIGGER notes_usage AFTER INSERT OR DELETE OR UPDATE OF title, content, tags\n"
    "  ON notes FOR EACH ROW EXECUTE FUNCTION vault_notes_usage();\n";

static const char keyword_bm25_down[] = USAGE_FUNCTION_V4
    "DROP TRIGGER notes_usage ON notes;\n"
    "CREATE TRIGGER notes_usage AFTER INSERT OR DELETE OR UPDATE OF title, content ON notes\n"
    "  FOR EACH ROW EXECUTE FUNCTION vault_notes_usage();\n"
    "ALTER TABLE users DROP COLUMN keyword_length;\n";

/*
 * 6 api_tokens: personal access tokens. Only the SHA-256 of a token is
 * kept; token_hash is UNIQUE, which is the index every authenticated
 * request looks a token up by. api_tokens_user serves a user's list, the
 * count against the per-user limit and the cascade from users, so deleting
 * an account revokes its tokens. expires_at NULL: never expires.
 */
static const char api_tokens_up[] =
    "CREATE TABLE api_tokens (\n"
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  name text NOT NULL,\n"
    "  scope text NOT NULL CHECK (scope IN ('read', 'write')),\n"
    "  token_hash text NOT NULL UNIQUE,\n"
    "  created_at bigint NOT NULL,\n"
    "  last_used_at bigint,\n"
    "  expires_at bigint\n"
    ");\n"
    "CREATE INDEX api_tokens_user ON api_tokens (user_id);\n";

static const char api_tokens_down[] = "DROP TABLE api_tokens;\n";

/*
 * 7 import: what `vault import` keeps. A note made from a file of an
 * imported folder holds the file's path relative to the folder
 * (source_path: one note a path for each user, so a partial unique index
 * that also lists a user's imported files in path order), the hash of the
 * file's bytes (source_hash: an unchanged file is skipped, a renamed one
 * found by it) and its front matter's aliases (text[]; NULL for none).
 * note_links: the [[links]] and ![[embeds]] of a note in text order (seq),
 * each with its target as written and the note it resolved to, NULL when
 * none (then or since: deleting the target sets it NULL, the next import
 * resolves it again). Rows go with their note (the primary key serves the
 * cascade and a note's outgoing links); note_links_to serves backlinks and
 * the SET NULL.
 */
static const char import_up[] =
    "ALTER TABLE notes ADD COLUMN source_path text, ADD COLUMN source_hash text,\n"
    "  ADD COLUMN aliases text[];\n"
    "CREATE UNIQUE INDEX notes_source ON notes (user_id, source_path)\n"
    "  WHERE source_path IS NOT NULL;\n"
    "CREATE TABLE note_links (\n"
    "  from_note bigint NOT NULL REFERENCES notes(id) ON DELETE CASCADE,\n"
    "  seq integer NOT NULL,\n"
    "  target text NOT NULL,\n"
    "  to_note bigint REFERENCES notes(id) ON DELETE SET NULL,\n"
    "  kind text NOT NULL CHECK (kind IN ('link', 'embed')),\n"
    "  PRIMARY KEY (from_note, seq)\n"
    ");\n"
    "CREATE INDEX note_links_to ON note_links (to_note) WHERE to_note IS NOT NULL;\n";

static const char import_down[] =
    "DROP TABLE note_links;\n"
    "DROP INDEX notes_source;\n"
    "ALTER TABLE notes DROP COLUMN aliases, DROP COLUMN source_hash, DROP COLUMN source_path;\n";

/*
 * 8 vectors_inline: a vector past about 2 KB (512 floats and up) was moved
 * to the TOAST table, so the exact scan of a user's rows read three pages a
 * row instead of one: with 2,293 vectors of 512 floats, 7,408 buffers and
 * 27 ms a search, against 1,049 and 6 ms inline (bench/README.md). MAIN
 * keeps a vector in its row, out of line only when nothing else makes the
 * row fit a page (vectors of 3,072 floats still fit). It applies to vectors
 * written from now on; a reindex moves the others.
 */
static const char vectors_inline_up[] =
    "ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;\n";
static const char vectors_inline_down[] =
    "ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE EXTENDED;\n";

const struct migration pg_migrations[] = {
    {1, "init", init_up, init_down},
    {2, "search", search_up, search_down},
    {3, "keyword_per_user", keyword_per_user_up, keyword_per_user_down},
    {4, "usage", usage_up, usage_down},
    {5, "keyword_bm25", keyword_bm25_up, keyword_bm25_down},
    {6, "api_tokens", api_tokens_up, api_tokens_down},
    {7, "import", import_up, import_down},
    {8, "vectors_inline", vectors_inline_up, vectors_inline_down},
    {0, NULL, NULL, NULL},
};
