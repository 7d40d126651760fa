/*
 * store_pg.c - the PostgreSQL + pgvector driver of the repository
 * (driver.h), on libpq.
 *
 * A handle owns a pool of connections to one database: pool_size kept
 * open, up to max_overflow more under load (closed again when they come
 * back while pool_size are idle), and a bounded wait for a free one; one
 * thread of its own opens the new ones (opener_main). An
 * idle connection is checked before reuse with a poll() of its socket, so
 * after a database restart only the requests in flight fail. Every
 * statement is one of the fixed texts of the query table, prepared on first
 * use per connection and run with PQexecPrepared: every value is a
 * parameter, never spliced into SQL (vectors go in pgvector's binary
 * format, lists as array literals). The one exception is the integer
 * dimension of the vector column in the migration DDL.
 *
 * Where PostgreSQL does a thing differently from SQLite (row locks instead
 * of one write lock, SKIP LOCKED for the queue, tags as an array and a
 * generated tsvector for the keyword index, pgvector for vector search)
 * the comments say why. Writes run at READ COMMITTED, multi-statement
 * reads in one REPEATABLE READ snapshot. The schema and its indexes are
 * described in pg_migrations.c.
 *
 * SQLSTATEs become enum verr here and nowhere else.
 *
 * For tests, VAULT_TEST_PG_EXACT_MAX (read at open) replaces
 * EXACT_SCAN_MAX, the number of vectors up to which vector_search scans a
 * user's vectors exactly; production leaves it unset.
 */
#include "store/store.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/driver.h"
#include "store/pg_migrations.h"

#define POOL_SIZE_DEFAULT       5
#define OVERFLOW_IDLE_MS        10000 /* an overflow connection unused this long is closed */
#define COUNT_SLOTS             64    /* users whose vector count is remembered */
#define POOL_TIMEOUT_DEFAULT_MS 5000
#define EMBEDDING_DIM_DEFAULT   384
#define CONNECT_TIMEOUT_S       "5"

/*
 * vector_search scans a user's vectors exactly while they have at most this
 * many of the model: measured on pgvector 0.8 (100 users x 1,000 rows of
 * 384 floats), the exact scan of one user's rows was recall 1.0 in 0.7 ms,
 * the filtered HNSW scan recall 0.87 in 18 ms. To be tuned by bench/.
 */
#define EXACT_SCAN_MAX 30000

/* The HNSW path fetches this many chunks per note wanted, then keeps each note's best. */
#define HNSW_FETCH_FACTOR 4
#define HNSW_EF_MIN       40
#define HNSW_EF_MAX       1000 /* pgvector's upper bound for hnsw.ef_search */
/* Ten times pgvector's default: a user with few of a large table's rows still gets limit. */
#define HNSW_MAX_SCAN_TUPLES 200000

/* Every migration step holds this advisory lock (any number; "vault" in ASCII). */
#define MIGRATION_LOCK "7627574257"

/* ---------------------------------------------------------------- statements */

/* The driver's own statements, after the repository's. */
enum {
	PQ_STATEMENT_TIMEOUT = Q__SHARED,
	PQ_HAS_PGVECTOR,
	PQ_VECTORS_COUNT,
	PQ_VECTOR_EXACT,
	PQ_VECTOR_EXACT_ONLY,
	PQ_EXACT_SETTINGS,
	PQ_HNSW_SETTINGS,
	PQ_VECTOR_HNSW,
	PQ__COUNT
};

/* A connection tracks the statements it has prepared in a bit set. */
#define PREPARED_WORDS ((PQ__COUNT + 63) / 64)

/*
 * The embedding_status of the note in the row: pending if any chunk is,
 * else failed if any is, else ready (also with no chunks at all). Each
 * EXISTS is one index-only probe of chunks_note_status.
 */
#define EMBED_STATUS                                                                               \
	"CASE WHEN EXISTS (SELECT 1 FROM chunks c WHERE c.note_id = notes.id AND c.status = 0) "   \
	"THEN 0 WHEN EXISTS (SELECT 1 FROM chunks c WHERE c.note_id = notes.id AND c.status = 2) " \
	"THEN 2 ELSE 1 END"

/* The tags come as a JSON array: jansson parses it, no array-literal parser needed. */
#define NOTE_COLUMNS                                                                               \
	"id, title, content, to_json(tags), created_at, updated_at, " EMBED_STATUS                 \
	", source_path, to_json(aliases)"

/*
 * Keyword search. $2 is the query text, $3 the limit, $4 the tags. BM25 on
 * the user's own statistics (pg_migrations.c, 5 keyword_bm25), as SQLite's
 * vault_bm25: t holds each query lexeme as a tsquery and its IDF, from its
 * document frequency counted on the user's postings in notes_search_owned
 * (one index probe a lexeme, once a query). A row's weighted frequency of a
 * lexeme is ts_rank_cd's cover density for that one lexeme: each
 * occurrence is a cover worth its weight, so with weights {D 0.1, C 0.1,
 * B 0.5, A 1} (at most 1 each) ten times it counts title 10, tags 5,
 * content 1 an occurrence. The && on vault_owned_lexemes reads the user's
 * own postings: the notes with any of the query's lexemes; @@ then checks
 * the query itself. A phrase must also stand in the title or in one tag,
 * which this expression checks last.
 */
#define KEYWORD_SQL(TSQUERY, PHRASE, TAGGED)                                                       \
	"WITH t AS MATERIALIZED (SELECT quote_literal(x.l)::tsquery AS tq, x.l, "                  \
	"greatest(ln((u.notes_count - "                                                            \
	"x.df + 0.5) / (x.df + 0.5)), 1e-6) AS idf FROM users u, (SELECT l, c.df FROM "            \
	"unnest(tsvector_to_array(to_tsvector('english', $2::text))) l, LATERAL (SELECT count(*) " \
	"AS df FROM notes d WHERE vault_owned_lexemes(d.user_id, d.search) && "                    \
	"ARRAY[$1::bigint::text || ' ' || l]) c) x WHERE u.id = $1::bigint) "                      \
	"SELECT n.id, (SELECT sum(t.idf * m.f * 2.2 / (m.f + 1.2 * (0.25 + 0.75 * "                \
	"length(n.search) / q.avgdl))) FROM t, LATERAL (SELECT 10 * "                              \
	"ts_rank_cd('{0.1,0.1,0.5,1}', n.search, t.tq)::float8 AS f) m) AS r "                     \
	"FROM notes n, (SELECT " TSQUERY "('english', $2::text) AS q, ARRAY(SELECT "               \
	"$1::bigint::text || ' ' || l FROM t) AS k, (SELECT greatest(keyword_length, 1)::float8 "  \
	"/ greatest(notes_count, 1) FROM users WHERE id = $1::bigint) AS avgdl) q "                \
	"WHERE vault_owned_lexemes(n.user_id, n.search) && q.k AND n.search @@ q.q AND "           \
	"n.user_id = $1::bigint" TAGGED PHRASE " ORDER BY r DESC, n.id LIMIT $3::bigint"
#define KEYWORD_TAGS " AND n.tags @> $4::text[]"
#define PHRASE_FILTER                                                                              \
	" AND (to_tsvector('english', n.title) @@ q.q OR EXISTS (SELECT 1 FROM unnest(n.tags) t "  \
	"WHERE to_tsvector('english', t) @@ q.q))"

/*
 * The exact vector scan: each note's nearest chunk among the user's vectors
 * of the model ($4 the query, binary), nearest first. Sorting by note_id
 * first (DISTINCT ON) keeps the planner off the HNSW index, which only
 * serves ORDER BY distance; the rows come from chunks_user.
 */
#define VECTOR_EXACT_SQL(ONLY)                                                                     \
	"SELECT note_id, id, 1 - d FROM (SELECT DISTINCT ON (note_id) note_id, id, "               \
	"embedding <=> $4::vector AS d FROM chunks WHERE user_id = $1::bigint AND model = "        \
	"$2::text AND dim = $3::integer AND embedding IS NOT NULL" ONLY                            \
	" ORDER BY note_id, d, id) best ORDER BY d, note_id LIMIT $5::bigint"

static const char *const query_sql[PQ__COUNT] = {
    /* Multi-statement reads: the count, the page and its details agree. */
    [Q_BEGIN_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    /* Writes at READ COMMITTED: row locks, not snapshots, make them take turns. */
    [Q_BEGIN_WRITE] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_PING] = "SELECT 1",
    [PQ_STATEMENT_TIMEOUT] = "SELECT set_config('statement_timeout', $1::text, false)",
    /* The version in use: the installed one, else the one CREATE EXTENSION would install. */
    [PQ_HAS_PGVECTOR] = "SELECT COALESCE((SELECT extversion FROM pg_extension WHERE extname = "
                        "'vector'), default_version) FROM pg_available_extensions "
                        "WHERE name = 'vector'",

    /* No statement timeout: waiting for another migrator, or a long step, is fine here. */
    [Q_MIG_LOCK] = "SELECT set_config('statement_timeout', '0', true), "
                   "pg_advisory_xact_lock(" MIGRATION_LOCK ")",
    /* current_schema(), not the search_path: public's tables must not count for ours. */
    [Q_MIG_TABLE_EXISTS] = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
                           "AND tablename = 'schema_migrations'",
    [Q_MIG_LIST] = "SELECT version, applied_at FROM schema_migrations ORDER BY version",
    [Q_MIG_APPLIED] = "SELECT 1 FROM schema_migrations WHERE version = $1::integer",
    [Q_MIG_INSERT] = "INSERT INTO schema_migrations (version, name, applied_at) "
                     "VALUES ($1::integer, $2::text, $3::bigint)",
    [Q_MIG_DELETE] = "DELETE FROM schema_migrations WHERE version = $1::integer",
    /* A vector column's typmod is its dimension. */
    [Q_VECTOR_DIM] = "SELECT a.atttypmod FROM pg_attribute a JOIN pg_class c ON c.oid = "
                     "a.attrelid WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE "
                     "nspname = current_schema()) AND "
                     "c.relname = 'chunks' AND a.attname = 'embedding' AND NOT a.attisdropped",

    [Q_USER_INSERT] = "INSERT INTO users (email, password_hash, created_at) "
                      "VALUES ($1::text, $2::text, $3::bigint) RETURNING id",
    [Q_USER_GET] = "SELECT id, email, password_hash, created_at FROM users WHERE id = $1::bigint",
    [Q_USER_BY_EMAIL] = "SELECT id, email, password_hash, created_at FROM users "
                        "WHERE email = $1::text",
    [Q_USER_LIST] = "SELECT id, email, password_hash, created_at FROM users ORDER BY id",
    [Q_USER_DELETE] = "DELETE FROM users WHERE id = $1::bigint RETURNING id",

    /* Expired rows are dead weight: a used one only matters until it expires. */
    [Q_TOKENS_EXPIRED] = "DELETE FROM refresh_tokens WHERE user_id = $1::bigint "
                         "AND expires_at <= $2::bigint",
    [Q_TOKEN_INSERT] = "INSERT INTO refresh_tokens "
                       "(user_id, family, token_hash, expires_at, created_at) "
                       "VALUES ($1::bigint, $2::text, $3::text, $4::bigint, $5::bigint)",
    /*
     * The race-free half of a rotation: the row lock lets one caller flip
     * used_at; a concurrent one waits, then re-checks the new row version
     * (READ COMMITTED) and finds it used.
     */
    [Q_TOKEN_USE] = "UPDATE refresh_tokens SET used_at = $1::bigint WHERE token_hash = $2::text "
                    "AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1::bigint "
                    "RETURNING user_id, family",
    [Q_TOKEN_LOOKUP] = "SELECT user_id, family, used_at FROM refresh_tokens "
                       "WHERE token_hash = $1::text",
    [Q_TOKEN_FAMILY_OF] = "SELECT family FROM refresh_tokens "
                          "WHERE token_hash = $1::text AND user_id = $2::bigint",
    [Q_TOKEN_REVOKE_FAMILY] = "UPDATE refresh_tokens SET revoked_at = $1::bigint "
                              "WHERE family = $2::text AND revoked_at IS NULL",
    [Q_TOKEN_REVOKE_ALL] = "UPDATE refresh_tokens SET revoked_at = $1::bigint "
                           "WHERE user_id = $2::bigint AND revoked_at IS NULL",

    [Q_API_TOKENS_EXPIRED] = "DELETE FROM api_tokens WHERE user_id = $1::bigint "
                             "AND expires_at <= $2::bigint",
    [Q_API_TOKEN_COUNT] = "SELECT count(*) FROM api_tokens WHERE user_id = $1::bigint",
    [Q_API_TOKEN_INSERT] = "INSERT INTO api_tokens "
                           "(user_id, name, scope, token_hash, created_at, expires_at) "
                           "VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::bigint, "
                           "$6::bigint) RETURNING id",
    [Q_API_TOKEN_LIST] = "SELECT " API_TOKEN_COLUMNS " FROM api_tokens "
                         "WHERE user_id = $1::bigint ORDER BY id",
    [Q_API_TOKEN_DELETE] = "DELETE FROM api_tokens WHERE id = $1::bigint "
                           "AND user_id = $2::bigint RETURNING id",
    [Q_API_TOKEN_FIND] = "SELECT " API_TOKEN_COLUMNS " FROM api_tokens "
                         "WHERE token_hash = $1::text "
                         "AND (expires_at IS NULL OR expires_at > $2::bigint)",
    [Q_API_TOKEN_TOUCH] = "UPDATE api_tokens SET last_used_at = $2::bigint WHERE id = $1::bigint "
                          "AND (last_used_at IS NULL OR last_used_at <= $3::bigint)",

    [Q_NOTE_INSERT] = "INSERT INTO notes (user_id, title, content, tags, created_at, updated_at, "
                      "source_path, source_hash, aliases) "
                      "VALUES ($1::bigint, $2::text, $3::text, $5::text[], $4::bigint, "
                      "$6::bigint, $7::text, $8::text, $9::text[]) RETURNING id",
    [Q_NOTE_GET] = "SELECT " NOTE_COLUMNS " FROM notes WHERE id = $1::bigint "
                   "AND user_id = $2::bigint",
    /* A concurrent update waits for the row lock, then re-checks updated_at. */
    /* $8, $9: times given (0: none); $10..$12: an imported file's source (NULL: kept). */
    [Q_NOTE_UPDATE] = "UPDATE notes SET title = $3::text, content = $4::text, tags = $7::text[], "
                      "created_at = CASE WHEN $8::bigint = 0 THEN created_at ELSE $8::bigint END, "
                      "updated_at = CASE WHEN $9::bigint = 0 "
                      "THEN GREATEST($5::bigint, updated_at + 1) ELSE $9::bigint END, "
                      "source_path = coalesce($10::text, source_path), "
                      "source_hash = CASE WHEN $10::text IS NULL THEN source_hash "
                      "ELSE $11::text END, "
                      "aliases = CASE WHEN $10::text IS NULL THEN aliases ELSE $12::text[] END "
                      "WHERE id = $1::bigint AND user_id = $2::bigint "
                      "AND ($6::bigint = 0 OR updated_at = $6::bigint) "
                      "RETURNING created_at, updated_at",
    [Q_NOTE_DELETE] = "DELETE FROM notes WHERE id = $1::bigint AND user_id = $2::bigint "
                      "RETURNING id",
    [Q_NOTE_COUNT] = "SELECT count(*) FROM notes WHERE user_id = $1::bigint",
    [Q_NOTE_PAGE] = "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = $1::bigint "
                    "ORDER BY created_at DESC, id DESC LIMIT $2::bigint OFFSET $3::bigint",
    [Q_NOTES_AFTER] = "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = $1::bigint "
                      "AND (created_at, id) > ($2::bigint, $3::bigint) "
                      "ORDER BY created_at, id LIMIT $4::bigint",
    [Q_NOTE_COUNT_TAGGED] = "SELECT count(*) FROM notes WHERE user_id = $1::bigint "
                            "AND tags @> $2::text[]",
    [Q_NOTE_PAGE_TAGGED] = "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = $1::bigint "
                           "AND tags @> $4::text[] ORDER BY created_at DESC, id DESC "
                           "LIMIT $2::bigint OFFSET $3::bigint",
    [Q_NOTE_EMBED_STATUS] = "SELECT " EMBED_STATUS " FROM notes WHERE id = $1::bigint",
    [Q_NOTES_MANY] = "SELECT " NOTE_COLUMNS " FROM notes WHERE id = ANY ($2::bigint[]) "
                     "AND user_id = $1::bigint",
    [Q_NOTE_IDS] = "SELECT id FROM notes WHERE user_id = $1::bigint ORDER BY id",
    [Q_NOTE_IDS_TAGGED] = "SELECT id FROM notes WHERE user_id = $1::bigint "
                          "AND tags @> $2::text[] ORDER BY id",
    [Q_TAGS] = "SELECT tag, count(*) AS n FROM notes, unnest(tags) AS tag "
               "WHERE user_id = $1::bigint GROUP BY tag ORDER BY n DESC, tag COLLATE \"C\" "
               "LIMIT $2::bigint",

    [Q_NOTES_CHUNKS] =
        "SELECT note_id, id, text, heading FROM chunks WHERE note_id = ANY ($2::bigint[]) "
        "AND user_id = $1::bigint ORDER BY note_id, seq",
    [Q_VERSION_BUMP] = "UPDATE users SET index_version = index_version + 1 "
                       "WHERE id = $1::bigint",
    [Q_VERSION_BUMP_ALL] = "UPDATE users SET index_version = index_version + 1",
    [Q_USAGE] = "SELECT notes_count, notes_bytes FROM users WHERE id = $1::bigint",
    /* Before a write: the user's writes take turns from here to the commit. */
    [Q_USAGE_LOCK] = "SELECT notes_count, notes_bytes FROM users WHERE id = $1::bigint "
                     "FOR UPDATE",
    /*
     * Before a write to chunks by id: their owners' rows, in id order (the
     * sort comes before the locks). Every write to a user's notes or chunks
     * locks the user's row first, so no two of them wait on each other in
     * opposite orders (a note update holds it while it replaces the chunks).
     */
    [Q_OWNERS_LOCK] = "SELECT id FROM users WHERE id IN (SELECT user_id FROM chunks "
                      "WHERE id = ANY ($1::bigint[])) ORDER BY id FOR NO KEY UPDATE",
    [Q_VERSION_GET] = "SELECT index_version FROM users WHERE id = $1::bigint",

    [Q_CHUNK_INSERT] = "INSERT INTO chunks (note_id, user_id, seq, hash, updated_at, heading, "
                       "text) VALUES ($1::bigint, $2::bigint, $3::integer, $4::text, "
                       "$5::bigint, $6::text, $7::text)",
    /* Moves a note's chunks to negative seqs, out of the way of the new ones. */
    [Q_CHUNKS_DETACH] = "UPDATE chunks SET seq = -1 - seq WHERE note_id = $1::bigint "
                        "RETURNING id, hash",
    [Q_CHUNK_REUSE] = "UPDATE chunks SET seq = $2::integer, heading = $3::text, text = $4::text "
                      "WHERE id = $1::bigint",
    [Q_CHUNKS_DROP_DETACHED] = "DELETE FROM chunks WHERE note_id = $1::bigint AND seq < 0",

    /*
     * One statement: the subquery walks chunks_queue in id order, locks
     * what it takes and skips rows another worker's claim has locked, so
     * concurrent claims get disjoint sets and never wait on each other;
     * a row leased meanwhile is re-checked and dropped. ARRAY() runs the
     * subquery once, whatever plan the outer UPDATE gets.
     */
    [Q_EMBED_CLAIM] = "UPDATE chunks SET next_attempt_at = $1::bigint + $2::bigint WHERE id = "
                      "ANY (ARRAY(SELECT id FROM chunks WHERE status = 0 AND next_attempt_at <= "
                      "$1::bigint ORDER BY id LIMIT $3::bigint FOR UPDATE SKIP LOCKED)) "
                      "RETURNING id, user_id, (SELECT title FROM notes WHERE notes.id = "
                      "chunks.note_id), heading, text, hash, attempts",
    [Q_EMBED_DONE] = "UPDATE chunks SET status = 1, model = $3::text, dim = $4::integer, "
                     "embedding = $5::vector, error = NULL, updated_at = $6::bigint "
                     "WHERE id = $1::bigint AND hash = $2::text RETURNING user_id",
    [Q_EMBED_FAILED] = "UPDATE chunks SET attempts = attempts + 1, error = $3::text, "
                       "status = $4::smallint, next_attempt_at = $5::bigint "
                       "WHERE id = $1::bigint AND hash = $2::text AND status = 0 "
                       "RETURNING user_id",
    /*
     * The next $3 chunks of user $1 (0: of everyone) after id $2, in id
     * order, each with 1 if it was reset (one deleted meanwhile is not).
     */
    [Q_REINDEX_BATCH] = "WITH picked AS (SELECT id FROM chunks WHERE id > $2::bigint AND "
                        "($1::bigint = 0 OR user_id = $1::bigint) ORDER BY id LIMIT $3::bigint), "
                        "done AS (UPDATE chunks SET status = 0, attempts = 0, next_attempt_at = "
                        "0, error = NULL WHERE id IN (SELECT id FROM picked) RETURNING id) "
                        "SELECT p.id, (d.id IS NOT NULL)::int FROM picked p LEFT JOIN done d "
                        "USING (id)",
    /* Index only, on chunks_user. */
    [Q_INDEX_STATUS] = "SELECT count(*) FILTER (WHERE status = 0), "
                       "count(*) FILTER (WHERE status = 1), count(*) FILTER (WHERE status = 2), "
                       "count(*) FILTER (WHERE status = 1 AND (model IS DISTINCT FROM $2::text "
                       "OR dim IS DISTINCT FROM $3::integer)) FROM chunks "
                       "WHERE user_id = $1::bigint",
    /* Pending through the queue's partial index; failed ones by a scan of every chunk (no
     * index has them: a cost each scrape pays, not yet worth a migration). */
    [Q_QUEUE_COUNTS] = "SELECT (SELECT count(*) FROM chunks WHERE status = 0), "
                       "(SELECT count(*) FROM chunks WHERE status = 2)",

    [Q_KEYWORD] = KEYWORD_SQL("websearch_to_tsquery", "", ""),
    [Q_KEYWORD_TAGGED] = KEYWORD_SQL("websearch_to_tsquery", "", KEYWORD_TAGS),
    [Q_PHRASE] = KEYWORD_SQL("phraseto_tsquery", PHRASE_FILTER, ""),
    [Q_PHRASE_TAGGED] = KEYWORD_SQL("phraseto_tsquery", PHRASE_FILTER, KEYWORD_TAGS),

    [Q_SOURCES] = "SELECT id, source_path, source_hash FROM notes "
                  "WHERE user_id = $1::bigint AND source_path IS NOT NULL "
                  "ORDER BY source_path COLLATE \"C\"",
    [Q_SOURCE_SET] = "UPDATE notes SET source_path = $3::text, source_hash = $4::text "
                     "WHERE id = $1::bigint AND user_id = $2::bigint RETURNING id",
    [Q_NOTE_OWNED] = "SELECT id FROM notes WHERE id = $1::bigint AND user_id = $2::bigint",
    [Q_LINKS_DELETE] = "DELETE FROM note_links WHERE from_note = $1::bigint",
    /* The target only if it is the same user's note, else unresolved. */
    [Q_LINK_INSERT] = "INSERT INTO note_links (from_note, seq, target, to_note, kind) "
                      "VALUES ($1::bigint, $2::integer, $3::text, (SELECT id FROM notes "
                      "WHERE id = $4::bigint AND user_id = $5::bigint), $6::text)",
    [Q_LINKS_OUT] = "SELECT l.from_note, l.to_note, l.target, l.kind, t.title FROM note_links l "
                    "LEFT JOIN notes t ON t.id = l.to_note WHERE l.from_note = $1::bigint "
                    "ORDER BY l.seq",
    [Q_LINKS_IN] = "SELECT l.from_note, l.to_note, l.target, l.kind, f.title FROM note_links l "
                   "JOIN notes f ON f.id = l.from_note WHERE l.to_note = $1::bigint "
                   "AND f.user_id = $2::bigint ORDER BY f.title, f.id, l.seq",
    [Q_LINKS_USER] = "SELECT l.from_note, l.to_note, l.target, l.kind, NULL FROM notes n "
                     "JOIN note_links l ON l.from_note = n.id WHERE n.user_id = $1::bigint "
                     "ORDER BY l.from_note, l.seq",

    /*
     * Which plan vector_search takes: the user's vectors of the model,
     * counted no further than $4 (index only, on chunks_user). Only
     * embed_done sets model, always with a vector, whatever the status
     * after: the same rows as SQLite's vectors_load.
     */
    /*
     * The user's index version, and their vectors counted up to $4 only if
     * it is not $5, the version of the count in hand: CASE evaluates the
     * subquery only on that branch.
     */
    [PQ_VECTORS_COUNT] = "SELECT index_version, CASE WHEN index_version = $5::bigint THEN NULL "
                         "ELSE (SELECT count(*) FROM (SELECT 1 FROM chunks WHERE user_id = "
                         "$1::bigint AND model = $2::text AND dim = $3::integer LIMIT $4::bigint) "
                         "t) END FROM users WHERE id = $1::bigint",
    [PQ_VECTOR_EXACT] = VECTOR_EXACT_SQL(""),
    [PQ_VECTOR_EXACT_ONLY] = VECTOR_EXACT_SQL(" AND note_id = ANY ($6::bigint[])"),
    /*
     * The exact scan reads the user's rows through chunks_user. Once they
     * are a large share of the table the planner would rather read every
     * user's rows (a user with 3,226 chunks beside another's 16,515: a
     * sequential scan of 8,105 blocks a search, 0.66x the searches a
     * second of an empty neighbour, bench/isolation.sh), which makes one
     * user's search pay for the others' volume.
     */
    [PQ_EXACT_SETTINGS] = "SELECT set_config('enable_seqscan', 'off', true)",
    /*
     * SET LOCAL cannot take a parameter; set_config(..., true) is the same,
     * for the current transaction only. relaxed_order: the index keeps
     * scanning past rows of other users until it has enough of this one's,
     * in roughly nearest-first order (re-sorted in C).
     */
    /*
     * enable_sort off: with the owner filter's default estimate the planner
     * would rather read every user's rows and sort than walk the index.
     * max_scan_tuples: how far the iterative scan may walk past other
     * users' rows before it gives up short of limit.
     */
    [PQ_HNSW_SETTINGS] = "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                         "set_config('hnsw.ef_search', $1::text, true), "
                         "set_config('hnsw.max_scan_tuples', $2::text, true), "
                         "set_config('enable_sort', 'off', true)",
    /*
     * user_id + 0 keeps the planner off chunks_user (a scan of the user's
     * rows and a sort, what the exact path does on purpose), so ORDER BY
     * distance LIMIT is served by the HNSW index, filtering as it goes.
     */
    [PQ_VECTOR_HNSW] = "SELECT note_id, id, embedding <=> $4::vector AS d FROM chunks "
                       "WHERE user_id + 0 = $1::bigint AND model = $2::text AND dim = $3::integer "
                       "ORDER BY embedding <=> $4::vector LIMIT $5::bigint",
};

/* ---------------------------------------------------------------- handle */

#define MAX_ARGS 12

/*
 * The values of one statement, text unless given in binary (NULL: SQL
 * NULL). Numbers are formatted into the struct itself, so it must not be
 * copied while in use.
 */
struct args {
	int n;
	const char *v[MAX_ARGS];
	int len[MAX_ARGS];
	int fmt[MAX_ARGS];
	char num[MAX_ARGS][24];
	void *owned[MAX_ARGS]; /* lists and vectors formatted here, freed at reset */
};

struct pg_stmt {
	struct stmt base;
	int q;
	struct args a;
	PGresult *r; /* once run */
	int row;     /* the current row of r */
};

struct pg_conn {
	struct conn base;
	PGconn *pg;
	bool echo;
	int64_t idle_since;                /* monotonic ms, while in the idle stack */
	uint64_t prepared[PREPARED_WORDS]; /* bit q set: query q is prepared as "q<q>" */
	struct pg_stmt stmts[PQ__COUNT];
};

struct pg_store {
	struct store base; /* first, so a struct store * is a struct pg_store * */
	char *url;
	bool echo;
	int pool_size, max_open, pool_timeout_ms, statement_timeout_ms, embedding_dim;
	int64_t exact_max; /* vector_search: exact scan up to this many vectors */

	/* Each user's vector count, valid while their index version stays (vector_search). */
	pthread_mutex_t count_mu;
	struct vector_count {
		int64_t user_id, version, count;
		int dim;
		uint64_t model; /* FNV-1a of the model name */
	} counts[COUNT_SLOTS];

	pthread_mutex_t mu;     /* guards the pool below */
	struct waiter *waiters; /* callers waiting for a connection, oldest first */
	int nopen;              /* connections open or being opened, <= max_open */
	int wanted;             /* of those, slots the opener is yet to connect in */
	bool stopping;          /* the handle closes: the opener ends */
	bool opener_started;
	pthread_t opener;       /* opener_main */
	pthread_cond_t open_cv; /* the opener's: wanted or stopping changed */
	int nidle;
	struct pg_conn **idle; /* max_open slots, a stack: the warmest connection goes out first */
	uint64_t waits, timeouts; /* borrowers that found every slot taken; that gave up */
};

static struct pg_store *handle(struct store *s)
{
	return (struct pg_store *)s;
}

/* ---------------------------------------------------------------- errors */

/* The server's (or libpq's) message without its trailing newline, in buf. */
static const char *message(struct pg_conn *c, const PGresult *r, char *buf, size_t size)
{
	const char *m = r ? PQresultErrorMessage(r) : "";
	if (!m || !*m)
		m = PQerrorMessage(c->pg);
	snprintf(buf, size, "%s", m && *m ? m : "unknown error");
	size_t len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	return buf;
}

/*
 * Translates a failed result (NULL: libpq could not even send) on c into
 * err; returns the verr. A lost connection is VERR_UNAVAILABLE and is
 * dropped by conn_put.
 */
static enum verr db_error(struct pg_conn *c, const PGresult *r, struct verror *err)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[VERR_DETAIL_MAX];

	message(c, r, msg, sizeof(msg));
	c->base.retryable = false;
	if (PQstatus(c->pg) != CONNECTION_OK)
		return verr_set(err, VERR_UNAVAILABLE, "database connection lost: %s", msg);
	if (!state)
		return verr_set(err, VERR_INTERNAL, "postgres: %s", msg);
	/* Both can reach a client as 409 or 404: PostgreSQL's DETAIL names keys and
	 * values of rows (another user's id), so only a fixed text goes with them. */
	if (strcmp(state, "23505") == 0)
		return verr_set(err, VERR_CONFLICT, "already exists");
	/* Only ever a parent row (a user, a note) that is not there, as in SQLite. */
	if (strcmp(state, "23503") == 0)
		return verr_set(err, VERR_NOT_FOUND, "Not found");
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
		c->base.retryable = true;
		return verr_set(err, VERR_UNAVAILABLE, "database conflict, try again: %s", msg);
	}
	/* 25006: read-only, as on a standby after a failover. */
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 ||
	    strcmp(state, "53300") == 0 || strcmp(state, "25006") == 0 ||
	    strcmp(state, "55P03") == 0)
		return verr_set(err, VERR_UNAVAILABLE, "database unavailable: %s", msg);
	/* disk_full: no room to extend a file; io_error: a read or a write failed. */
	if (strcmp(state, "53100") == 0)
		return verr_set(err, VERR_STORAGE_FULL, "postgres: %s", msg);
	if (strcmp(state, "58030") == 0)
		return verr_set(err, VERR_UNAVAILABLE, "postgres I/O error: %s", msg);
	if (strcmp(state, "57014") == 0)
		return verr_set(err, VERR_UNAVAILABLE, "database statement timed out: %s", msg);
	return verr_set(err, VERR_INTERNAL, "postgres %s: %s", state, msg);
}

/* ---------------------------------------------------------------- parameters */

/* Puts a value at position i (from 1); positions skipped stay NULL. */
static void arg_set(struct args *a, int i, const char *v, int len, int fmt)
{
	assert(i >= 1 && i <= MAX_ARGS);
	for (; a->n < i; a->n++)
		a->v[a->n] = NULL, a->len[a->n] = 0, a->fmt[a->n] = 0;
	a->v[i - 1] = v;
	a->len[i - 1] = len;
	a->fmt[i - 1] = fmt;
}

static void arg_i64(struct args *a, int i, int64_t v)
{
	snprintf(a->num[i - 1], sizeof(a->num[0]), "%" PRId64, v);
	arg_set(a, i, a->num[i - 1], 0, 0);
}

/* Takes ownership of p, a value at position i freed with the statement. */
static void arg_owned(struct args *a, int i, void *p, int len, int fmt)
{
	free(a->owned[i - 1]);
	a->owned[i - 1] = p;
	arg_set(a, i, p, len, fmt);
}

static struct args *args(struct stmt *st)
{
	return &((struct pg_stmt *)st)->a;
}

static void pg_bind_i64(struct stmt *st, int i, int64_t v)
{
	arg_i64(args(st), i, v);
}

/* s must outlive the statement; NULL is "", as the SQLite driver binds it. */
static void pg_bind_text(struct stmt *st, int i, const char *s)
{
	arg_set(args(st), i, s ? s : "", 0, 0);
}

static void pg_bind_null(struct stmt *st, int i)
{
	arg_set(args(st), i, NULL, 0, 0);
}

/*
 * A text[] literal, {"a","b\"c"}: every element quoted, with " and \
 * escaped, so any string (commas, braces, "NULL") is an element as given.
 * It is a parameter value, never SQL.
 */
static void pg_bind_texts(struct stmt *st, int i, const char *const *v, size_t n)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	buf_adds(&b, "{");
	for (size_t k = 0; k < n; k++) {
		buf_adds(&b, k ? ",\"" : "\"");
		for (const char *p = v[k]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_add(&b, "\\", 1);
			buf_add(&b, p, 1);
		}
		buf_adds(&b, "\"");
	}
	buf_adds(&b, "}");
	arg_owned(args(st), i, buf_steal(&b), 0, 0);
}

/* A bigint[] literal, {3,2,1}. */
static void pg_bind_ids(struct stmt *st, int i, const int64_t *ids, size_t stride, size_t n)
{
	arg_owned(args(st), i, db_id_list(ids, stride, n, "{}"), 0, 0);
}

/*
 * pgvector's binary input (vector_recv): int16 dim, int16 unused (0), then
 * dim float4s, all in network byte order. Caller frees; *len is its size.
 */
static void *vector_binary(const float *v, int dim, size_t *len)
{
	*len = 4 + 4 * (size_t)dim;
	unsigned char *p = xmalloc(*len);
	uint16_t h = htons((uint16_t)dim), zero = 0;
	memcpy(p, &h, 2);
	memcpy(p + 2, &zero, 2);
	for (int i = 0; i < dim; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		u = htonl(u);
		memcpy(p + 4 + 4 * (size_t)i, &u, 4);
	}
	return p;
}

static void pg_bind_vector(struct stmt *st, int i, const float *v, int dim)
{
	size_t len;
	void *p = vector_binary(v, dim, &len);
	arg_owned(args(st), i, p, (int)len, 1);
}

/* ---------------------------------------------------------------- statements */

/*
 * Runs q with a's values (NULL: none) on c, preparing it first if this
 * connection has not yet. On success *res (if res is not NULL) holds the
 * result, which the caller PQclear()s. A serialization failure or
 * deadlock outside a transaction block is retried once at once: the
 * statement was its own transaction and nothing of it remains.
 */
static enum verr run(struct pg_conn *c, int q, const struct args *a, PGresult **res,
                     struct verror *err)
{
	char name[8];
	PGresult *r;
	enum verr rc;

	if (res)
		*res = NULL;
	snprintf(name, sizeof(name), "q%d", (int)q);
	for (int attempt = 0;; attempt++) {
		c->base.retryable = false;
		if (!(c->prepared[q / 64] & (UINT64_C(1) << (q % 64)))) {
			r = PQprepare(c->pg, name, query_sql[q], 0, NULL);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				rc = db_error(c, r, err);
				PQclear(r);
				return rc;
			}
			PQclear(r);
			c->prepared[q / 64] |= UINT64_C(1) << (q % 64);
		}
		if (c->echo && log_enabled(LOG_INFO))
			log_emit(LOG_INFO, "sql", json_pack("{s:s}", "sql", query_sql[q]));
		r = PQexecPrepared(c->pg, name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
		                   a ? a->fmt : NULL, 0);
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (res)
				*res = r;
			else
				PQclear(r);
			return VERR_OK;
		}
		rc = db_error(c, r, err);
		PQclear(r);
		if (!(c->base.retryable && attempt == 0 &&
		      PQtransactionStatus(c->pg) == PQTRANS_IDLE))
			return rc;
	}
}

static void pg_reset(struct stmt *base)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	PQclear(st->r);
	st->r = NULL;
	for (int i = 0; i < MAX_ARGS; i++) {
		free(st->a.owned[i]);
		st->a.owned[i] = NULL;
	}
	st->a.n = 0;
}

static enum verr pg_prepare(struct conn *base, int q, struct stmt **out, struct verror *err)
{
	struct pg_stmt *st = &((struct pg_conn *)base)->stmts[q];
	(void)err;
	assert(q >= 0 && q < PQ__COUNT && query_sql[q]);
	pg_reset(&st->base); /* a use left unfinished ends here */
	st->base.conn = base;
	st->q = q;
	*out = &st->base;
	return VERR_OK;
}

static enum verr pg_step(struct stmt *base, bool *row, struct verror *err)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	*row = false;
	if (!st->r) {
		enum verr rc = run((struct pg_conn *)base->conn, st->q, &st->a, &st->r, err);
		if (rc)
			return rc;
		st->row = -1;
	}
	*row = ++st->row < PQntuples(st->r);
	return VERR_OK;
}

static int64_t pg_col_i64(struct stmt *base, int i)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	return strtoll(PQgetvalue(st->r, st->row, i), NULL, 10);
}

static double pg_col_double(struct stmt *base, int i)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	return strtod(PQgetvalue(st->r, st->row, i), NULL);
}

static const char *pg_col_text(struct stmt *base, int i, size_t *len)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	if (len)
		*len = (size_t)PQgetlength(st->r, st->row, i);
	return PQgetvalue(st->r, st->row, i);
}

static bool pg_col_null(struct stmt *base, int i)
{
	struct pg_stmt *st = (struct pg_stmt *)base;
	return PQgetisnull(st->r, st->row, i);
}

/* ---------------------------------------------------------------- pool */

/* Server notices (NOTICE: ... already exists, skipping) go to the debug log, not stderr. */
static void notice(void *arg, const char *msg)
{
	(void)arg;
	if (log_enabled(LOG_DEBUG))
		log_emit(LOG_DEBUG, "db_notice", json_pack("{s:s}", "message", msg));
}

static void conn_close(struct pg_conn *c)
{
	if (!c)
		return;
	PQfinish(c->pg);
	free(c);
}

/*
 * Opens one connection. The defaults come before the URL (expand_dbname),
 * so the URL's own parameters win: a test's options=-csearch_path=... for
 * one, which is why this never sets search_path itself.
 */
static enum verr conn_open(struct pg_store *s, struct pg_conn **out, struct verror *err)
{
	/* Keepalives and a user timeout: a peer gone without a word (a half-open
	 * connection after a network fault) fails a request within about 30 s
	 * instead of the kernel's retransmission timeout (about 15 min). */
	static const char *const keys[] = {
	    "connect_timeout",     "keepalives",       "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	    "application_name",    "dbname",           NULL};
	const char *vals[] = {CONNECT_TIMEOUT_S, "1",     "10",   "5", "3",
	                      "30000",           "vault", s->url, NULL};
	struct pg_conn *c = xcalloc(1, sizeof(*c));
	c->base.drv = &pg_driver;
	c->echo = s->echo;
	char msg[VERR_DETAIL_MAX];
	enum verr rc = VERR_OK;

	c->pg = PQconnectdbParams(keys, vals, 1);
	if (!c->pg) {
		free(c);
		*out = NULL;
		return verr_set(err, VERR_UNAVAILABLE,
		                "cannot connect to the database: out of memory");
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		rc = verr_set(err, VERR_UNAVAILABLE, "cannot connect to the database: %s",
		              message(c, NULL, msg, sizeof(msg)));
		goto out;
	}
	PQsetNoticeProcessor(c->pg, notice, NULL);
	if (s->statement_timeout_ms > 0) {
		struct args a = {0};
		arg_i64(&a, 1, s->statement_timeout_ms);
		rc = run(c, PQ_STATEMENT_TIMEOUT, &a, NULL, err);
	}
out:
	if (rc) {
		conn_close(c);
		c = NULL;
	}
	*out = c;
	return rc;
}

/*
 * Whether an idle connection still answers, without a round trip: a
 * server that went away (restart, idle timeout) has left an error or
 * EOF on the socket, which PQconsumeInput reads.
 */
static bool conn_alive(struct pg_conn *c)
{
	struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};

	/*
	 * A terminated backend sends its FATAL message, then closes: the first
	 * read takes the message (libpq files it as a notice), only the next
	 * one sees the EOF. So read while there is something to read, a few
	 * times; an idle connection that keeps talking is dropped too.
	 */
	for (int i = 0; i < 4; i++) {
		if (PQstatus(c->pg) != CONNECTION_OK || p.fd < 0)
			return false;
		int n = poll(&p, 1, 0);
		if (n == 0)
			return PQtransactionStatus(c->pg) == PQTRANS_IDLE;
		if (n < 0 || !PQconsumeInput(c->pg))
			return false;
		PQisBusy(c->pg); /* parses what came: notices, NOTIFYs, parameter changes */
	}
	return false;
}

/*
 * A caller waiting for a connection. Waiters are served first come, first
 * served: a connection coming back, or one the opener made, goes straight
 * to the oldest one, so under load no request waits behind ever newer
 * ones, and nobody arriving later takes it first.
 */
struct waiter {
	pthread_cond_t cv;
	struct pg_conn *conn; /* handed over by conn_put or the opener */
	enum verr rc;         /* or the opener's failure to connect, in err */
	struct verror err;
	struct waiter *next;
};

/* With s->mu held: gives c to the oldest waiter. */
static bool hand_over(struct pg_store *s, struct pg_conn *c)
{
	struct waiter *w = s->waiters;
	if (!w)
		return false;
	s->waiters = w->next;
	w->conn = c;
	pthread_cond_signal(&w->cv);
	return true;
}

/* With s->mu held: a slot whose connection is gone goes to the opener if anyone waits. */
static void slot_free_locked(struct pg_store *s)
{
	if (s->waiters) {
		s->wanted++;
		pthread_cond_signal(&s->open_cv);
	} else {
		s->nopen--;
	}
}

static void slot_free(struct pg_store *s)
{
	pthread_mutex_lock(&s->mu);
	slot_free_locked(s);
	pthread_mutex_unlock(&s->mu);
}

/*
 * The opener: connects in the slots reserved for it, one at a time, and
 * gives each connection to the oldest waiter, else to the idle stack.
 * Callers never connect themselves, because a connection takes tens of
 * milliseconds (a backend to fork, a password exchange) while one in use
 * comes back in about one: a burst of logins beyond the idle connections
 * made a GET behind them wait 60-110 ms for a connect of its own, where
 * now it takes the first connection that comes back. A failed connect
 * fails the oldest waiter with its message.
 */
static void *opener_main(void *arg)
{
	struct pg_store *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->wanted && !s->stopping)
			pthread_cond_wait(&s->open_cv, &s->mu);
		if (s->stopping)
			break;
		s->wanted--;
		pthread_mutex_unlock(&s->mu);
		struct pg_conn *c = NULL;
		struct verror err = {0};
		enum verr rc = conn_open(s, &c, &err);
		pthread_mutex_lock(&s->mu);
		if (rc) {
			s->nopen--;
			struct waiter *w = s->waiters;
			if (w) {
				s->waiters = w->next;
				w->rc = rc;
				w->err = err;
				pthread_cond_signal(&w->cv);
			}
		} else if (!hand_over(s, c)) {
			c->idle_since = (int64_t)time_mono_ms();
			s->idle[s->nidle++] = c;
		}
	}
	/* Slots reserved for opens that will not happen now. */
	s->nopen -= s->wanted;
	s->wanted = 0;
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/*
 * Waits in line for a connection, at most the pool timeout; with s->mu
 * held. With a slot free it asks the opener for a new connection, and
 * takes whichever comes first, that one or one returned.
 */
static enum verr wait_turn(struct pg_store *s, struct pg_conn **c, struct verror *err)
{
	struct timespec deadline;
	struct waiter w = {.rc = VERR_OK};
	pthread_condattr_t ca;

	if (s->nopen < s->max_open) {
		s->nopen++;
		s->wanted++;
		pthread_cond_signal(&s->open_cv);
	} else {
		s->waits++;
	}
	/* A monotonic deadline, immune to clock steps. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	struct waiter **end = &s->waiters;
	while (*end)
		end = &(*end)->next;
	*end = &w;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += s->pool_timeout_ms / 1000;
	deadline.tv_nsec += (long)(s->pool_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (!w.conn && !w.rc)
		if (pthread_cond_timedwait(&w.cv, &s->mu, &deadline) == ETIMEDOUT)
			break;
	pthread_cond_destroy(&w.cv);
	*c = w.conn;
	if (w.conn)
		return VERR_OK;
	if (w.rc) {
		*err = w.err;
		return w.rc;
	}
	for (struct waiter **p = &s->waiters; *p; p = &(*p)->next)
		if (*p == &w) {
			*p = w.next;
			break;
		}
	s->timeouts++;
	return verr_set(err, VERR_UNAVAILABLE,
	                "database pool exhausted: all %d connections stayed busy for %d ms",
	                s->max_open, s->pool_timeout_ms);
}

/*
 * Borrows a connection: a live idle one, else the first to come, in turn,
 * of one returned and one the opener makes while fewer than pool_size +
 * max_overflow are open. An idle connection that died is closed, its slot
 * given back, and the search goes on. Waiting longer than the pool timeout
 * is VERR_UNAVAILABLE. Return it with conn_put().
 */
static enum verr conn_get(struct pg_store *s, struct pg_conn **out, struct verror *err)
{
	struct pg_conn *c = NULL;
	enum verr rc = VERR_OK;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		if (s->waiters == NULL && s->nidle > 0)
			c = s->idle[--s->nidle];
		else
			rc = wait_turn(s, &c, err);
		pthread_mutex_unlock(&s->mu);
		if (rc || conn_alive(c))
			break;
		log_emit(LOG_WARNING, "db_connection_lost",
		         json_pack("{s:s}", "detail", PQerrorMessage(c->pg)));
		conn_close(c);
		c = NULL;
		slot_free(s);
	}
	*out = c;
	return rc;
}

/*
 * Returns a borrowed connection (NULL is fine): rolls back a transaction
 * a failed operation left open (so error paths just `goto out`), closes
 * it if it is broken, hands it to the oldest waiter if any, else keeps it
 * for the next caller.
 */
static void conn_put(struct pg_store *s, struct pg_conn *c)
{
	if (!c)
		return;
	for (int q = 0; q < PQ__COUNT; q++)
		if (c->stmts[q].r || c->stmts[q].a.n)
			pg_reset(&c->stmts[q].base);
	if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		run(c, Q_ROLLBACK, NULL, NULL, NULL);
	bool keep = PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
	int64_t now = (int64_t)time_mono_ms();
	struct pg_conn *cold = NULL;

	pthread_mutex_lock(&s->mu);
	if (keep && hand_over(s, c)) {
		c = NULL;
	} else if (keep) {
		c->idle_since = now;
		s->idle[s->nidle++] = c;
		c = NULL;
	} else {
		slot_free_locked(s);
	}
	/*
	 * Past pool_size, the coldest idle connection (the stack's bottom)
	 * goes once unused for OVERFLOW_IDLE_MS: under steady load the
	 * overflow stays open instead of being reconnected for every burst.
	 */
	if (s->nidle > s->pool_size && s->idle[0]->idle_since < now - OVERFLOW_IDLE_MS) {
		cold = s->idle[0];
		memmove(s->idle, s->idle + 1, (size_t)--s->nidle * sizeof(*s->idle));
		s->nopen--;
	}
	pthread_mutex_unlock(&s->mu);
	conn_close(c);
	conn_close(cold);
}

static enum verr pg_conn_get(struct store *s, bool write, struct conn **out, struct verror *err)
{
	struct pg_conn *c = NULL;
	(void)write; /* row locks, not the connection, order the writers */
	enum verr rc = conn_get(handle(s), &c, err);
	*out = c ? &c->base : NULL;
	return rc;
}

static void pg_conn_put(struct store *s, struct conn *c)
{
	conn_put(handle(s), (struct pg_conn *)c);
}

/* No vector cache: pgvector searches in the server. */
static void pg_pool_stats(struct store *base, struct store_stats *out)
{
	struct pg_store *s = handle(base);

	pthread_mutex_lock(&s->mu);
	out->pool_open = s->nopen;
	out->pool_in_use = s->nopen - s->nidle;
	out->pool_max = s->max_open;
	out->pool_waits = s->waits;
	out->pool_timeouts = s->timeouts;
	pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- open/close */

static void pg_close(struct store *base)
{
	struct pg_store *s = handle(base);
	if (!s)
		return;
	if (s->opener_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->open_cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->opener, NULL);
	}
	assert(s->nidle == s->nopen); /* no operation may outlive the handle */
	for (int i = 0; i < s->nidle; i++)
		conn_close(s->idle[i]);
	pthread_cond_destroy(&s->open_cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->count_mu);
	free(s->idle);
	free(s->url);
	free(s);
}

/* A non-negative integer from the environment, else def (test knobs only). */
static int64_t env_count(const char *name, int64_t def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	return errno || *end || n < 0 ? def : (int64_t)n;
}

/* Whether the server can install pgvector; without it there is nothing to migrate to. */
static enum verr check_pgvector(struct pg_conn *c, struct verror *err)
{
	PGresult *r = NULL;
	enum verr rc = run(c, PQ_HAS_PGVECTOR, NULL, &r, err);
	int major = 0, minor = 0;
	if (rc == VERR_OK && PQntuples(r) == 0)
		rc = verr_set(err, VERR_UNAVAILABLE,
		              "PostgreSQL has no pgvector extension: install it on the database "
		              "server (Debian: postgresql-%d-pgvector; see "
		              "https://github.com/pgvector/pgvector)",
		              PQserverVersion(c->pg) / 10000);
	else if (rc == VERR_OK && (sscanf(PQgetvalue(r, 0, 0), "%d.%d", &major, &minor) != 2 ||
	                           major * 100 + minor < 8))
		/* 0.8 brought iterative index scans, which per-user HNSW search relies on. */
		rc =
		    verr_set(err, VERR_UNAVAILABLE,
		             "pgvector %s is too old: vault needs 0.8 or newer; install it and run "
		             "ALTER EXTENSION vector UPDATE",
		             PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

static enum verr pg_open(const char *url, const struct store_opts *opts, struct store **out,
                         struct verror *err)
{
	struct pg_store *s = NULL;
	struct pg_conn *c = NULL;
	enum verr rc;

	*out = NULL;
	/* libpq's own messages about a malformed URL quote it, password and all. */
	char *msg = NULL;
	PQconninfoOption *parsed = PQconninfoParse(url, &msg);
	PQconninfoFree(parsed);
	PQfreemem(msg);
	if (!parsed)
		return verr_set(err, VERR_INVALID,
		                "DATABASE_URL is not a valid PostgreSQL URL "
		                "(postgresql://user:password@host:port/database)");
	s = xcalloc(1, sizeof(*s));
	s->base.drv = &pg_driver;
	s->url = xstrdup(url);
	s->echo = opts && opts->echo;
	s->pool_size = opts && opts->pool_size > 0 ? opts->pool_size : POOL_SIZE_DEFAULT;
	s->max_open = s->pool_size + (opts && opts->max_overflow > 0 ? opts->max_overflow : 0);
	s->pool_timeout_ms =
	    opts && opts->pool_timeout_ms > 0 ? opts->pool_timeout_ms : POOL_TIMEOUT_DEFAULT_MS;
	s->statement_timeout_ms =
	    opts && opts->statement_timeout_ms > 0 ? opts->statement_timeout_ms : 0;
	s->embedding_dim =
	    opts && opts->embedding_dim > 0 ? opts->embedding_dim : EMBEDDING_DIM_DEFAULT;
	s->exact_max = env_count("VAULT_TEST_PG_EXACT_MAX", EXACT_SCAN_MAX);
	s->idle = xcalloc((size_t)s->max_open, sizeof(*s->idle));

	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->open_cv, NULL);
	pthread_mutex_init(&s->count_mu, NULL);

	/* One connection now, so a bad URL or a server without pgvector fails at start-up. */
	s->nopen = 1;
	if ((rc = conn_open(s, &c, err)) || (rc = check_pgvector(c, err))) {
		conn_close(c);
		s->nopen = 0;
		goto out;
	}
	s->idle[s->nidle++] = c;
	int e = pthread_create(&s->opener, NULL, opener_main, s);
	if (e) {
		rc = verr_set(err, VERR_INTERNAL, "cannot start the connection opener: %s",
		              strerror(e));
		goto out;
	}
	s->opener_started = true;
	*out = &s->base;
	s = NULL;
out:
	if (s)
		pg_close(&s->base);
	return rc;
}

/*
 * Runs migration DDL (several statements, so the simple protocol, which
 * takes no parameters: the SQL holds none) with PG_MIGRATION_DIM replaced
 * by the configured dimension.
 */
static enum verr pg_exec(struct store *base, struct conn *conn, const char *sql, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct pg_conn *c = (struct pg_conn *)conn;
	struct buf b;
	size_t tok = strlen(PG_MIGRATION_DIM);
	enum verr rc = VERR_OK;

	buf_init(&b, BUF_NOCAP);
	buf_add(&b, "", 0);
	for (const char *p = sql, *hit; *p; p = hit + tok) {
		if (!(hit = strstr(p, PG_MIGRATION_DIM))) {
			buf_adds(&b, p);
			break;
		}
		buf_add(&b, p, (size_t)(hit - p));
		buf_printf(&b, "%d", s->embedding_dim);
	}
	if (s->echo && log_enabled(LOG_INFO))
		log_emit(LOG_INFO, "sql", json_pack("{s:s}", "sql", b.p));
	PGresult *r = PQexec(c->pg, b.p);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = db_error(c, r, err);
	PQclear(r);
	buf_free(&b);
	return rc;
}

static int pg_vector_dim(const struct store *s)
{
	return ((const struct pg_store *)s)->embedding_dim;
}

/*
 * The text of a tsquery function that never raises on odd input: the terms
 * (words: letters, digits, UTF-8 beyond ASCII) joined with " or " for
 * websearch_to_tsquery (any term), or with spaces for phraseto_tsquery
 * (the phrase). Both stem them as the index did.
 */
static char *pg_keyword_query(int64_t user_id, const char *const *terms, size_t nterms, bool phrase)
{
	struct buf b;
	(void)user_id; /* the SQL scopes by user */
	buf_init(&b, BUF_NOCAP);
	for (size_t i = 0; i < nterms; i++)
		buf_printf(&b, "%s%s", i ? (phrase ? " " : " or ") : "", terms[i]);
	return buf_steal(&b);
}

/* ---------------------------------------------------------------- vector search */

/* Appends the rows (note_id, chunk_id, similarity) of r to hits. */
static int64_t get_i64(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void read_hits(const PGresult *r, struct vector_hit *hits, size_t *n)
{
	for (int i = 0; i < PQntuples(r); i++)
		hits[(*n)++] = (struct vector_hit){get_i64(r, i, 0), get_i64(r, i, 1),
		                                   strtod(PQgetvalue(r, i, 2), NULL)};
}

/* Best first; ties by note id, as the exact scan orders them. */
static int hit_cmp(const void *a, const void *b)
{
	const struct vector_hit *x = a, *y = b;
	if (x->similarity != y->similarity)
		return x->similarity < y->similarity ? 1 : -1;
	return (x->note_id > y->note_id) - (x->note_id < y->note_id);
}

static int hit_note_cmp(const void *a, const void *b)
{
	const struct vector_hit *x = a, *y = b;
	if (x->note_id != y->note_id)
		return (x->note_id > y->note_id) - (x->note_id < y->note_id);
	return hit_cmp(a, b);
}

/*
 * The HNSW path, in one transaction for its SET LOCALs: the nearest
 * HNSW_FETCH_FACTOR * limit chunks of the user (iterative scan, relaxed
 * order), each note's best kept, re-sorted. a holds $1..$4; caller frees
 * *out (set even when *n is 0).
 */
static enum verr search_hnsw(struct pg_conn *c, struct args *a, size_t limit,
                             struct vector_hit **out, size_t *n, struct verror *err)
{
	struct vector_hit *hits = NULL;
	size_t fetch = limit * HNSW_FETCH_FACTOR;
	int64_t ef = (int64_t)fetch < HNSW_EF_MIN ? HNSW_EF_MIN : (int64_t)fetch;
	PGresult *r = NULL;
	struct args e = {0};
	enum verr rc;

	if (ef > HNSW_EF_MAX)
		ef = HNSW_EF_MAX;
	arg_i64(&e, 1, ef);
	arg_i64(&e, 2, HNSW_MAX_SCAN_TUPLES);
	arg_i64(a, 5, (int64_t)fetch);
	if ((rc = run(c, Q_BEGIN_WRITE, NULL, NULL, err)) ||
	    (rc = run(c, PQ_HNSW_SETTINGS, &e, NULL, err)) ||
	    (rc = run(c, PQ_VECTOR_HNSW, a, &r, err)) || (rc = run(c, Q_COMMIT, NULL, NULL, err)))
		goto out;
	/* The query returns distances: similarity is 1 - distance. */
	size_t got = 0;
	hits = xmalloc(((size_t)PQntuples(r) + 1) * sizeof(*hits));
	read_hits(r, hits, &got);
	for (size_t i = 0; i < got; i++)
		hits[i].similarity = 1 - hits[i].similarity;
	/* Each note's best chunk: group by note, best first within it. */
	qsort(hits, got, sizeof(*hits), hit_note_cmp);
	size_t k = 0;
	for (size_t i = 0; i < got; i++)
		if (k == 0 || hits[k - 1].note_id != hits[i].note_id)
			hits[k++] = hits[i];
	qsort(hits, k, sizeof(*hits), hit_cmp);
	*n = k < limit ? k : limit;
out:
	*out = hits;
	PQclear(r);
	return rc;
}

static uint64_t fnv1a(const char *str)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *str; str++)
		h = (h ^ (unsigned char)*str) * 1099511628211ULL;
	return h;
}

/*
 * How many vectors of model and dim the user has, up to exact_max + 1 (all
 * the plan choice needs). The count costs a scan of the user's index
 * entries, milliseconds for a large vault, so it is kept per user and
 * counted again only when their index version moved; the version comes in
 * the same round trip.
 */
static enum verr vector_count(struct pg_store *s, struct pg_conn *c, int64_t user_id,
                              const char *model, int dim, int64_t *count, struct verror *err)
{
	uint64_t mh = fnv1a(model);
	struct vector_count *slot = &s->counts[(uint64_t)user_id % COUNT_SLOTS];
	int64_t known = -1;
	pthread_mutex_lock(&s->count_mu);
	if (slot->user_id == user_id && slot->dim == dim && slot->model == mh) {
		known = slot->version;
		*count = slot->count;
	}
	pthread_mutex_unlock(&s->count_mu);

	struct args a = {0};
	PGresult *r = NULL;
	arg_i64(&a, 1, user_id);
	arg_set(&a, 2, model, 0, 0);
	arg_i64(&a, 3, dim);
	arg_i64(&a, 4, s->exact_max + 1);
	arg_i64(&a, 5, known);
	enum verr rc = run(c, PQ_VECTORS_COUNT, &a, &r, err);
	if (rc == VERR_OK && PQntuples(r) == 0) {
		*count = 0; /* no such user */
	} else if (rc == VERR_OK && !PQgetisnull(r, 0, 1)) {
		*count = get_i64(r, 0, 1);
		pthread_mutex_lock(&s->count_mu);
		*slot = (struct vector_count){user_id, get_i64(r, 0, 0), *count, dim, mh};
		pthread_mutex_unlock(&s->count_mu);
	}
	PQclear(r);
	return rc;
}

/*
 * The user's notes nearest to q, each at its best chunk. The plan is
 * chosen here, not by the planner: filtered by user, the global HNSW index
 * returns too few rows or scans long, while an exact scan of one user's
 * rows through chunks_user is exact and fast for a personal vault, and the
 * planner would not pick it. So: exact up to exact_max vectors (counted no
 * further), and always with an explicit note list; HNSW past it. The
 * vectors are those the SQLite driver scans: model and dim match, whatever
 * the status.
 */
static enum verr pg_vector_search(struct store *base, int64_t user_id, const char *model, int dim,
                                  const float *q, const int64_t *only, size_t nonly, bool filter,
                                  size_t limit, struct vector_hit **out, size_t *n,
                                  struct verror *err)
{
	struct pg_store *s = handle(base);
	struct pg_conn *c = NULL;
	struct vector_hit *hits = NULL;
	PGresult *r = NULL;
	size_t veclen, len = 0;
	enum verr rc;

	/* At most INT32_MAX / 4 rows in any case: past that the limit means "all". */
	if (limit > INT32_MAX / HNSW_FETCH_FACTOR)
		limit = INT32_MAX / HNSW_FETCH_FACTOR;
	struct args a = {0};
	arg_i64(&a, 1, user_id);
	arg_set(&a, 2, model, 0, 0);
	arg_i64(&a, 3, dim);
	void *vec = vector_binary(q, dim, &veclen);
	arg_owned(&a, 4, vec, (int)veclen, 1);
	if ((rc = conn_get(s, &c, err)))
		goto out;
	bool exact = filter;
	if (!exact) {
		int64_t count = 0;
		if ((rc = vector_count(s, c, user_id, model, dim, &count, err)) || count == 0)
			goto out;
		exact = count <= s->exact_max;
	}
	if (exact) {
		arg_i64(&a, 5, (int64_t)limit);
		if (filter)
			arg_owned(&a, 6, db_id_list(only, sizeof(*only), nonly, "{}"), 0, 0);
		if ((rc = run(c, Q_BEGIN_WRITE, NULL, NULL, err)) ||
		    (rc = run(c, PQ_EXACT_SETTINGS, NULL, NULL, err)) ||
		    (rc = run(c, filter ? PQ_VECTOR_EXACT_ONLY : PQ_VECTOR_EXACT, &a, &r, err)) ||
		    (rc = run(c, Q_COMMIT, NULL, NULL, err)))
			goto out;
		hits = xmalloc(((size_t)PQntuples(r) + 1) * sizeof(*hits));
		read_hits(r, hits, &len);
	} else if ((rc = search_hnsw(c, &a, limit, &hits, &len, err))) {
		goto out;
	}
	if (len > 0) {
		*out = hits;
		*n = len;
		hits = NULL;
	}
out:
	PQclear(r);
	conn_put(s, c);
	free(hits);
	for (int i = 0; i < MAX_ARGS; i++)
		free(a.owned[i]);
	return rc;
}

const struct driver pg_driver = {
    .name = "postgresql",
    .caps = DB_ROW_LOCKS | DB_FIXED_DIM,
    .migrations = pg_migrations,
    .redim_sql = pg_redim_sql,
    .open = pg_open,
    .close = pg_close,
    .vector_dim = pg_vector_dim,
    .conn_get = pg_conn_get,
    .conn_put = pg_conn_put,
    .write = db_write_one,
    .pool_stats = pg_pool_stats,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind_i64 = pg_bind_i64,
    .bind_text = pg_bind_text,
    .bind_null = pg_bind_null,
    .bind_texts = pg_bind_texts,
    .bind_ids = pg_bind_ids,
    .bind_vector = pg_bind_vector,
    .step = pg_step,
    .col_i64 = pg_col_i64,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .col_null = pg_col_null,
    .reset = pg_reset,
    .keyword_query = pg_keyword_query,
    .vector_search = pg_vector_search,
};
