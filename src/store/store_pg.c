/*
 * store_pg.c - the PostgreSQL + pgvector backend of the repository
 * interface (store.h), on libpq.
 *
 * A handle owns a pool of connections to one database: pool_size kept
 * open, up to max_overflow more under load (closed again when they come
 * back while pool_size are idle), and a bounded wait for a free one. An
 * idle connection is checked before reuse with a poll() of its socket, so
 * after a database restart only the requests in flight fail. Every
 * statement is one of the fixed texts of enum query, prepared on first use
 * per connection and run with PQexecPrepared: every value is a parameter,
 * never spliced into SQL (vectors go in pgvector's binary format, lists as
 * array literals). The one exception is the integer dimension of the vector
 * column in the migration DDL.
 *
 * The semantics are store_sqlite.c's, edge cases included; where
 * PostgreSQL does a thing differently (row locks instead of one write lock,
 * SKIP LOCKED for the queue, a generated tsvector for the keyword index,
 * pgvector for vector search) the comments say why. Writes run at READ
 * COMMITTED, multi-statement reads in one REPEATABLE READ snapshot. The
 * schema and its indexes are described in pg_migrations.c.
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

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/backend.h"
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

enum query {
	Q_BEGIN,
	Q_BEGIN_SNAPSHOT,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_PING,
	Q_STATEMENT_TIMEOUT,
	Q_HAS_PGVECTOR,
	Q_MIG_LOCK,
	Q_NO_TIMEOUT,
	Q_MIG_TABLE_EXISTS,
	Q_MIG_LIST,
	Q_MIG_APPLIED,
	Q_MIG_INSERT,
	Q_MIG_DELETE,
	Q_VECTOR_DIM,
	Q_USER_INSERT,
	Q_USER_GET,
	Q_USER_BY_EMAIL,
	Q_USER_LIST,
	Q_USER_DELETE,
	Q_TOKEN_INSERT,
	Q_TOKENS_EXPIRED,
	Q_TOKEN_USE,
	Q_TOKEN_LOOKUP,
	Q_TOKEN_FAMILY_OF,
	Q_TOKEN_REVOKE_FAMILY,
	Q_TOKEN_REVOKE_ALL,
	Q_NOTE_INSERT,
	Q_NOTE_GET,
	Q_NOTE_UPDATE,
	Q_NOTE_DELETE,
	Q_NOTE_COUNT,
	Q_NOTE_PAGE,
	Q_NOTE_COUNT_TAGGED,
	Q_NOTE_PAGE_TAGGED,
	Q_NOTE_EMBED_STATUS,
	Q_NOTES_MANY,
	Q_NOTE_IDS,
	Q_NOTE_IDS_TAGGED,
	Q_NOTE_CHUNKS,
	Q_VERSION_BUMP,
	Q_VERSION_BUMP_ALL,
	Q_USAGE,
	Q_USAGE_LOCK,
	Q_OWNERS_LOCK,
	Q_VERSION_GET,
	Q_CHUNK_INSERT,
	Q_CHUNKS_DETACH,
	Q_CHUNK_REUSE,
	Q_CHUNKS_DROP_DETACHED,
	Q_EMBED_CLAIM,
	Q_EMBED_DONE,
	Q_EMBED_FAILED,
	Q_REINDEX_BATCH,
	Q_INDEX_STATUS,
	Q_KEYWORD,
	Q_KEYWORD_TAGGED,
	Q_PHRASE,
	Q_PHRASE_TAGGED,
	Q_VECTORS_COUNT,
	Q_VECTOR_EXACT,
	Q_VECTOR_EXACT_ONLY,
	Q_EXACT_SETTINGS,
	Q_HNSW_SETTINGS,
	Q_VECTOR_HNSW,
	Q__COUNT
};

/* A connection tracks the statements it has prepared in a bit set. */
#define PREPARED_WORDS ((Q__COUNT + 63) / 64)

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
#define NOTE_COLUMNS "id, title, content, to_json(tags), created_at, updated_at, " EMBED_STATUS

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

static const char *const query_sql[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN",
    /* Multi-statement reads: the count, the page and its details agree. */
    [Q_BEGIN_SNAPSHOT] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_PING] = "SELECT 1",
    [Q_STATEMENT_TIMEOUT] = "SELECT set_config('statement_timeout', $1::text, false)",
    /* The version in use: the installed one, else the one CREATE EXTENSION would install. */
    [Q_HAS_PGVECTOR] = "SELECT COALESCE((SELECT extversion FROM pg_extension WHERE extname = "
                       "'vector'), default_version) FROM pg_available_extensions "
                       "WHERE name = 'vector'",

    [Q_MIG_LOCK] = "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")",
    [Q_NO_TIMEOUT] = "SELECT set_config('statement_timeout', '0', true)",
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

    [Q_NOTE_INSERT] = "INSERT INTO notes (user_id, title, content, tags, created_at, updated_at) "
                      "VALUES ($1::bigint, $2::text, $3::text, $4::text[], $5::bigint, "
                      "$5::bigint) RETURNING id",
    [Q_NOTE_GET] = "SELECT " NOTE_COLUMNS " FROM notes WHERE id = $1::bigint "
                   "AND user_id = $2::bigint",
    /* A concurrent update waits for the row lock, then re-checks updated_at. */
    [Q_NOTE_UPDATE] = "UPDATE notes SET title = $3::text, content = $4::text, tags = $5::text[], "
                      "updated_at = GREATEST($6::bigint, updated_at + 1) "
                      "WHERE id = $1::bigint AND user_id = $2::bigint "
                      "AND ($7::bigint = 0 OR updated_at = $7::bigint) "
                      "RETURNING created_at, updated_at",
    [Q_NOTE_DELETE] = "DELETE FROM notes WHERE id = $1::bigint AND user_id = $2::bigint "
                      "RETURNING id",
    [Q_NOTE_COUNT] = "SELECT count(*) FROM notes WHERE user_id = $1::bigint",
    [Q_NOTE_PAGE] = "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = $1::bigint "
                    "ORDER BY created_at DESC, id DESC LIMIT $2::bigint OFFSET $3::bigint",
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
    /* One row with a NULL chunk id: the note has no chunks; no row: no such note. */
    [Q_NOTE_CHUNKS] = "SELECT c.id, c.text FROM notes n LEFT JOIN chunks c ON c.note_id = n.id "
                      "WHERE n.id = $2::bigint AND n.user_id = $1::bigint ORDER BY c.seq",

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
    /* The next $3 chunks of user $1 (0: of everyone) after id $2, in id order. */
    /*
     * Counted by the rows picked, not the rows updated: a chunk deleted
     * meanwhile is not updated, and must not end the walk early.
     */
    [Q_REINDEX_BATCH] = "WITH picked AS (SELECT id FROM chunks WHERE id > $2::bigint AND "
                        "($1::bigint = 0 OR user_id = $1::bigint) ORDER BY id LIMIT $3::bigint), "
                        "done AS (UPDATE chunks SET status = 0, attempts = 0, next_attempt_at = "
                        "0, error = NULL WHERE id IN (SELECT id FROM picked) RETURNING id) "
                        "SELECT (SELECT count(*) FROM picked), (SELECT max(id) FROM picked), "
                        "(SELECT count(*) FROM done)",
    /* Index only, on chunks_user. */
    [Q_INDEX_STATUS] = "SELECT count(*) FILTER (WHERE status = 0), "
                       "count(*) FILTER (WHERE status = 1), count(*) FILTER (WHERE status = 2), "
                       "count(*) FILTER (WHERE status = 1 AND (model IS DISTINCT FROM $2::text "
                       "OR dim IS DISTINCT FROM $3::integer)) FROM chunks "
                       "WHERE user_id = $1::bigint",

    [Q_KEYWORD] = KEYWORD_SQL("websearch_to_tsquery", "", ""),
    [Q_KEYWORD_TAGGED] = KEYWORD_SQL("websearch_to_tsquery", "", KEYWORD_TAGS),
    [Q_PHRASE] = KEYWORD_SQL("phraseto_tsquery", PHRASE_FILTER, ""),
    [Q_PHRASE_TAGGED] = KEYWORD_SQL("phraseto_tsquery", PHRASE_FILTER, KEYWORD_TAGS),

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
    [Q_VECTORS_COUNT] = "SELECT index_version, CASE WHEN index_version = $5::bigint THEN NULL "
                        "ELSE (SELECT count(*) FROM (SELECT 1 FROM chunks WHERE user_id = "
                        "$1::bigint AND model = $2::text AND dim = $3::integer LIMIT $4::bigint) "
                        "t) END FROM users WHERE id = $1::bigint",
    [Q_VECTOR_EXACT] = VECTOR_EXACT_SQL(""),
    [Q_VECTOR_EXACT_ONLY] = VECTOR_EXACT_SQL(" AND note_id = ANY ($6::bigint[])"),
    /*
     * The exact scan reads the user's rows through chunks_user. Once they
     * are a large share of the table the planner would rather read every
     * user's rows (a user with 3,226 chunks beside another's 16,515: a
     * sequential scan of 8,105 blocks a search, 0.66x the searches a
     * second of an empty neighbour, bench/isolation.sh), which makes one
     * user's search pay for the others' volume.
     */
    [Q_EXACT_SETTINGS] = "SELECT set_config('enable_seqscan', 'off', true)",
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
    [Q_HNSW_SETTINGS] = "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                        "set_config('hnsw.ef_search', $1::text, true), "
                        "set_config('hnsw.max_scan_tuples', $2::text, true), "
                        "set_config('enable_sort', 'off', true)",
    /*
     * user_id + 0 keeps the planner off chunks_user (a scan of the user's
     * rows and a sort, what the exact path does on purpose), so ORDER BY
     * distance LIMIT is served by the HNSW index, filtering as it goes.
     */
    [Q_VECTOR_HNSW] = "SELECT note_id, id, embedding <=> $4::vector AS d FROM chunks "
                      "WHERE user_id + 0 = $1::bigint AND model = $2::text AND dim = $3::integer "
                      "ORDER BY embedding <=> $4::vector LIMIT $5::bigint",
};

/* ---------------------------------------------------------------- handle */

struct conn {
	PGconn *pg;
	int64_t idle_since;                /* monotonic ms, while in the idle stack */
	uint64_t prepared[PREPARED_WORDS]; /* bit q set: query q is prepared as "q<q>" */
	bool retryable; /* the last error was a serialization failure or a deadlock */
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
	int nidle;
	struct conn **idle; /* max_open slots, a stack: the warmest connection goes out first */
};

static struct pg_store *handle(struct store *s)
{
	return (struct pg_store *)s;
}

/* ---------------------------------------------------------------- errors */

/* The server's (or libpq's) message without its trailing newline, in buf. */
static const char *message(struct conn *c, const PGresult *r, char *buf, size_t size)
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
static enum verr db_error(struct conn *c, const PGresult *r, struct verror *err)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[VERR_DETAIL_MAX];

	message(c, r, msg, sizeof(msg));
	c->retryable = false;
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
		c->retryable = true;
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

#define MAX_ARGS 8

/*
 * The values of one statement, text unless given in binary. Numbers are
 * formatted into the struct itself, so it must not be copied while in use.
 */
struct args {
	int n;
	const char *v[MAX_ARGS];
	int len[MAX_ARGS];
	int fmt[MAX_ARGS];
	char num[MAX_ARGS][24];
};

static void arg_i64(struct args *a, int64_t v)
{
	assert(a->n < MAX_ARGS);
	snprintf(a->num[a->n], sizeof(a->num[0]), "%" PRId64, v);
	a->v[a->n] = a->num[a->n];
	a->len[a->n] = 0;
	a->fmt[a->n++] = 0;
}

/* A count from the caller's size_t; past INT64_MAX means "no limit" anyway. */
static void arg_size(struct args *a, size_t v)
{
	arg_i64(a, v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* s must outlive the statement; NULL is "", as the SQLite backend binds it. */
static void arg_text(struct args *a, const char *s)
{
	assert(a->n < MAX_ARGS);
	a->v[a->n] = s ? s : "";
	a->len[a->n] = 0;
	a->fmt[a->n++] = 0;
}

/* p (len bytes, the type's binary input format) must outlive the statement. */
static void arg_binary(struct args *a, const void *p, size_t len)
{
	assert(a->n < MAX_ARGS);
	a->v[a->n] = p;
	a->len[a->n] = (int)len;
	a->fmt[a->n++] = 1;
}

/*
 * A text[] literal, {"a","b\"c"}: every element quoted, with " and \
 * escaped, so any string (commas, braces, "NULL") is an element as given.
 * It is a parameter value, never SQL. Caller frees.
 */
static char *text_array(const char *const *v, size_t n)
{
	struct sbuf b = {0};
	sbuf_str(&b, "{");
	for (size_t i = 0; i < n; i++) {
		sbuf_str(&b, i ? ",\"" : "\"");
		for (const char *p = v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				sbuf_add(&b, "\\", 1);
			sbuf_add(&b, p, 1);
		}
		sbuf_str(&b, "\"");
	}
	sbuf_str(&b, "}");
	return b.p;
}

/* A bigint[] literal, {3,2,1}. Caller frees. */
static char *id_array(const int64_t *ids, size_t n)
{
	size_t cap = n * 21 + 3, len = 0;
	char *p = xmalloc(cap);

	p[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(p + len, cap - len, i ? ",%" PRId64 : "%" PRId64, ids[i]);
	p[len++] = '}';
	p[len] = '\0';
	return p;
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

/* ---------------------------------------------------------------- statements */

/*
 * Runs q with a's values (NULL: none) on c, preparing it first if this
 * connection has not yet. On success *res (if res is not NULL) holds the
 * result, which the caller PQclear()s. A serialization failure or
 * deadlock outside a transaction block is retried once at once: the
 * statement was its own transaction and nothing of it remains.
 */
static enum verr run(struct pg_store *s, struct conn *c, enum query q, const struct args *a,
                     PGresult **res, struct verror *err)
{
	char name[8];
	PGresult *r;
	enum verr rc;

	if (res)
		*res = NULL;
	snprintf(name, sizeof(name), "q%d", (int)q);
	for (int attempt = 0;; attempt++) {
		c->retryable = false;
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
		if (s->echo && log_enabled(LOG_INFO))
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
		if (!(c->retryable && attempt == 0 && PQtransactionStatus(c->pg) == PQTRANS_IDLE))
			return rc;
	}
}

/*
 * Whether a failed transaction should run again: once, after a
 * serialization failure or deadlock (the other transaction has gone on).
 * Rolls back first. *tries counts the runs so far.
 */
static bool again(struct pg_store *s, struct conn *c, enum verr rc, int *tries)
{
	if (rc == VERR_OK || !c || !c->retryable || (*tries)++ > 0)
		return false;
	return run(s, c, Q_ROLLBACK, NULL, NULL, NULL) == VERR_OK;
}

static int64_t get_i64(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A copy of a text value; NULL reads as "". */
static char *get_dup(const PGresult *r, int row, int col)
{
	return xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

/* ---------------------------------------------------------------- pool */

/* Server notices (NOTICE: ... already exists, skipping) go to the debug log, not stderr. */
static void notice(void *arg, const char *msg)
{
	(void)arg;
	if (log_enabled(LOG_DEBUG))
		log_emit(LOG_DEBUG, "db_notice", json_pack("{s:s}", "message", msg));
}

static void conn_close(struct conn *c)
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
static enum verr conn_open(struct pg_store *s, struct conn **out, struct verror *err)
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
	struct conn *c = xcalloc(1, sizeof(*c));
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
		arg_i64(&a, s->statement_timeout_ms);
		rc = run(s, c, Q_STATEMENT_TIMEOUT, &a, NULL, err);
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
static bool conn_alive(struct conn *c)
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
 * served: a connection coming back goes straight to the oldest one (or, if
 * it is closed, its slot does), so under load no request waits behind ever
 * newer ones, and nobody arriving later takes it first.
 */
struct waiter {
	pthread_cond_t cv;
	struct conn *conn; /* handed over by conn_put */
	bool slot;         /* a free slot handed over: open a connection in it */
	struct waiter *next;
};

/* With s->mu held: gives c, or with c NULL a free slot, to the oldest waiter. */
static bool hand_over(struct pg_store *s, struct conn *c)
{
	struct waiter *w = s->waiters;
	if (!w)
		return false;
	s->waiters = w->next;
	w->conn = c;
	w->slot = !c;
	pthread_cond_signal(&w->cv);
	return true;
}

/* A slot whose connection is gone (closed, or never opened): to a waiter, else free. */
static void slot_free(struct pg_store *s)
{
	pthread_mutex_lock(&s->mu);
	if (!hand_over(s, NULL))
		s->nopen--;
	pthread_mutex_unlock(&s->mu);
}

/* Waits in line for a connection or a slot, at most the pool timeout; with s->mu held. */
static enum verr wait_turn(struct pg_store *s, struct conn **c, struct verror *err)
{
	struct timespec deadline;
	struct waiter w = {.conn = NULL};
	pthread_condattr_t ca;

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
	while (!w.conn && !w.slot)
		if (pthread_cond_timedwait(&w.cv, &s->mu, &deadline) == ETIMEDOUT)
			break;
	pthread_cond_destroy(&w.cv);
	*c = w.conn;
	if (w.conn || w.slot)
		return VERR_OK;
	for (struct waiter **p = &s->waiters; *p; p = &(*p)->next)
		if (*p == &w) {
			*p = w.next;
			break;
		}
	return verr_set(err, VERR_UNAVAILABLE,
	                "database pool exhausted: all %d connections stayed busy for %d ms",
	                s->max_open, s->pool_timeout_ms);
}

/*
 * Borrows a connection: a live idle one, else a new one while fewer than
 * pool_size + max_overflow are open, else the next one returned, in turn.
 * An idle connection that died is replaced. Waiting longer than the pool
 * timeout is VERR_UNAVAILABLE. Return it with conn_put().
 */
static enum verr conn_get(struct pg_store *s, struct conn **out, struct verror *err)
{
	struct conn *c = NULL;
	enum verr rc = VERR_OK;

	*out = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->waiters == NULL && s->nidle > 0)
		c = s->idle[--s->nidle];
	else if (s->waiters == NULL && s->nopen < s->max_open)
		s->nopen++; /* reserve the slot, then connect without holding the lock */
	else
		rc = wait_turn(s, &c, err);
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	if (c && !conn_alive(c)) {
		log_emit(LOG_WARNING, "db_connection_lost",
		         json_pack("{s:s}", "detail", PQerrorMessage(c->pg)));
		conn_close(c); /* its slot is ours: reconnect in it */
		c = NULL;
	}
	if (c) {
		*out = c;
		return VERR_OK;
	}
	if ((rc = conn_open(s, out, err)))
		slot_free(s);
	return rc;
}

/*
 * Returns a borrowed connection (NULL is fine): rolls back a transaction
 * a failed operation left open (so error paths just `goto out`), closes
 * it if it is broken, hands it to the oldest waiter if any, else keeps it
 * for the next caller.
 */
static void conn_put(struct pg_store *s, struct conn *c)
{
	if (!c)
		return;
	if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		run(s, c, Q_ROLLBACK, NULL, NULL, NULL);
	bool keep = PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
	int64_t now = (int64_t)time_mono_ms();
	struct conn *cold = NULL;

	pthread_mutex_lock(&s->mu);
	if (keep && hand_over(s, c)) {
		c = NULL;
	} else if (keep) {
		c->idle_since = now;
		s->idle[s->nidle++] = c;
		c = NULL;
	} else if (!hand_over(s, NULL)) {
		s->nopen--;
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

/* ---------------------------------------------------------------- open/close */

static void pg_close(struct store *base)
{
	struct pg_store *s = handle(base);
	if (!s)
		return;
	assert(s->nidle == s->nopen); /* no operation may outlive the handle */
	for (int i = 0; i < s->nidle; i++)
		conn_close(s->idle[i]);
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
static enum verr check_pgvector(struct pg_store *s, struct conn *c, struct verror *err)
{
	PGresult *r = NULL;
	enum verr rc = run(s, c, Q_HAS_PGVECTOR, NULL, &r, err);
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
	struct conn *c = NULL;
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
	s->base.ops = &store_pg_ops;
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
	pthread_mutex_init(&s->count_mu, NULL);

	/* One connection now, so a bad URL or a server without pgvector fails at start-up. */
	s->nopen = 1;
	if ((rc = conn_open(s, &c, err)) || (rc = check_pgvector(s, c, err))) {
		conn_close(c);
		s->nopen = 0;
		goto out;
	}
	s->idle[s->nidle++] = c;
	*out = &s->base;
	s = NULL;
out:
	if (s)
		pg_close(&s->base);
	return rc;
}

static enum verr pg_ping(struct store *base, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c;
	enum verr rc = conn_get(s, &c, err);
	if (rc)
		return rc;
	rc = run(s, c, Q_PING, NULL, NULL, err);
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- migrations */

static int latest_version(void)
{
	return pg_nmigrations ? pg_migrations[pg_nmigrations - 1].version : 0;
}

static const char migrations_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)";

/*
 * Reads schema_migrations: applied_at[i] for each known migration (0 if not
 * applied) and *current, the highest version recorded, known to this build
 * or not. A schema without the table is at version 0.
 */
static enum verr read_applied(struct pg_store *s, struct conn *c, int64_t *applied_at, int *current,
                              struct verror *err)
{
	PGresult *r = NULL;
	enum verr rc;

	memset(applied_at, 0, pg_nmigrations * sizeof(*applied_at));
	*current = 0;
	if ((rc = run(s, c, Q_MIG_TABLE_EXISTS, NULL, &r, err)) || PQntuples(r) == 0)
		goto out;
	PQclear(r);
	if ((rc = run(s, c, Q_MIG_LIST, NULL, &r, err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		int version = (int)get_i64(r, i, 0);
		if (version > *current)
			*current = version;
		for (size_t k = 0; k < pg_nmigrations; k++)
			if (pg_migrations[k].version == version)
				applied_at[k] = get_i64(r, i, 1);
	}
out:
	PQclear(r);
	return rc;
}

/*
 * Runs migration DDL (several statements, so the simple protocol, which
 * takes no parameters: the SQL holds none) with PG_MIGRATION_DIM replaced
 * by the configured dimension.
 */
static enum verr exec_ddl(struct pg_store *s, struct conn *c, const char *sql, struct verror *err)
{
	struct sbuf b = {0};
	char dim[16];
	size_t tok = strlen(PG_MIGRATION_DIM);
	enum verr rc = VERR_OK;

	snprintf(dim, sizeof(dim), "%d", s->embedding_dim);
	sbuf_add(&b, "", 0);
	for (const char *p = sql, *hit; *p; p = hit + tok) {
		if (!(hit = strstr(p, PG_MIGRATION_DIM))) {
			sbuf_str(&b, p);
			break;
		}
		sbuf_add(&b, p, (size_t)(hit - p));
		sbuf_str(&b, dim);
	}
	if (s->echo && log_enabled(LOG_INFO))
		log_emit(LOG_INFO, "sql", json_pack("{s:s}", "sql", b.p));
	PGresult *r = PQexec(c->pg, b.p);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = db_error(c, r, err);
	PQclear(r);
	free(b.p);
	return rc;
}

/*
 * Applies (up) or reverts one migration together with its schema_migrations
 * row, in one transaction under the migration lock: another process
 * migrating at once waits, then finds the step done and does nothing
 * (*done false). DDL is transactional in PostgreSQL, so a failed step
 * leaves nothing behind.
 */
static enum verr migration_step(struct pg_store *s, struct conn *c, const struct pg_migration *m,
                                bool up, bool *done, struct verror *err)
{
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	*done = false;
	/* No statement timeout: waiting for another migrator, or a long step, is fine here. */
	if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
	    (rc = run(s, c, Q_NO_TIMEOUT, NULL, NULL, err)) ||
	    (rc = run(s, c, Q_MIG_LOCK, NULL, NULL, err)) ||
	    (rc = exec_ddl(s, c, migrations_table_sql, err)))
		return rc;
	arg_i64(&a, m->version);
	if ((rc = run(s, c, Q_MIG_APPLIED, &a, &r, err)))
		return rc;
	bool applied = PQntuples(r) > 0;
	PQclear(r);
	if (applied == up)
		return run(s, c, Q_COMMIT, NULL, NULL, err);

	if ((rc = exec_ddl(s, c, up ? m->up : m->down, err)))
		return rc;
	if (up) {
		arg_text(&a, m->name);
		arg_i64(&a, time_now_ms());
	}
	if ((rc = run(s, c, up ? Q_MIG_INSERT : Q_MIG_DELETE, &a, NULL, err)) ||
	    (rc = run(s, c, Q_COMMIT, NULL, NULL, err)))
		return rc;
	*done = true;
	log_emit(LOG_INFO, "migration",
	         json_pack("{s:i,s:s,s:s}", "version", m->version, "name", m->name, "direction",
	                   up ? "up" : "down"));
	return VERR_OK;
}

static enum verr pg_migrate_up(struct store *base, int target, int *applied, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	enum verr rc;
	int n = 0;

	if (target == -1)
		target = latest_version();
	if (target < 0 || target > latest_version()) {
		rc = verr_set(err, VERR_INVALID, "no migration %d: versions run from 1 to %d",
		              target, latest_version());
		goto out;
	}
	if ((rc = conn_get(s, &c, err)) || (rc = check_pgvector(s, c, err)))
		goto out;
	for (size_t i = 0; i < pg_nmigrations && pg_migrations[i].version <= target; i++) {
		bool done;
		if ((rc = migration_step(s, c, &pg_migrations[i], true, &done, err)))
			goto out;
		n += done;
	}
out:
	conn_put(s, c);
	if (applied)
		*applied = n;
	return rc;
}

static enum verr pg_migrate_down(struct store *base, int target, int *reverted, struct verror *err)
{
	struct pg_store *s = handle(base);
	int64_t *applied_at = xcalloc(pg_nmigrations, sizeof(*applied_at));
	struct conn *c = NULL;
	int current, n = 0;
	enum verr rc;

	if (target < -1) {
		rc = verr_set(err, VERR_INVALID, "no migration %d", target);
		goto out;
	}
	if ((rc = conn_get(s, &c, err)) || (rc = read_applied(s, c, applied_at, &current, err)))
		goto out;
	if (current > latest_version() && current > target) {
		rc = verr_set(err, VERR_INVALID,
		              "database schema is at version %d, newer than this build of vault "
		              "(%d): revert it with the build that applied it",
		              current, latest_version());
		goto out;
	}
	if (target == -1) {
		/* One step: down to the known version below the newest applied one. */
		target = current;
		for (size_t i = pg_nmigrations; i-- > 0;)
			if (applied_at[i]) {
				target = i ? pg_migrations[i - 1].version : 0;
				break;
			}
	}
	for (size_t i = pg_nmigrations; i-- > 0 && pg_migrations[i].version > target;) {
		bool done;
		if (!applied_at[i])
			continue;
		if ((rc = migration_step(s, c, &pg_migrations[i], false, &done, err)))
			goto out;
		n += done;
	}
out:
	conn_put(s, c);
	free(applied_at);
	if (reverted)
		*reverted = n;
	return rc;
}

static enum verr pg_migrate_status(struct store *base, struct migration_info **out, size_t *n,
                                   struct verror *err)
{
	struct pg_store *s = handle(base);
	int64_t *applied_at = xcalloc(pg_nmigrations, sizeof(*applied_at));
	struct conn *c = NULL;
	int current;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = conn_get(s, &c, err)) || (rc = read_applied(s, c, applied_at, &current, err)))
		goto out;
	*out = xcalloc(pg_nmigrations, sizeof(**out));
	for (size_t i = 0; i < pg_nmigrations; i++)
		(*out)[i] = (struct migration_info){pg_migrations[i].version, pg_migrations[i].name,
		                                    applied_at[i]};
	*n = pg_nmigrations;
out:
	conn_put(s, c);
	free(applied_at);
	return rc;
}

/*
 * As SQLite's, plus the vector column: its dimension was fixed by the
 * migration, and a different EMBEDDING_DIM would fail every embed_done.
 */
static enum verr pg_schema_check(struct store *base, struct verror *err)
{
	struct pg_store *s = handle(base);
	int64_t *applied_at = xcalloc(pg_nmigrations, sizeof(*applied_at));
	struct conn *c = NULL;
	PGresult *r = NULL;
	int current, latest = latest_version();
	enum verr rc;

	if ((rc = conn_get(s, &c, err)) || (rc = read_applied(s, c, applied_at, &current, err)))
		goto out;
	if (current > latest) {
		rc = verr_set(err, VERR_UNAVAILABLE,
		              "database schema is at version %d, newer than this build of vault "
		              "expects (%d): upgrade vault, or run `vault migrate down %d` with "
		              "the newer build",
		              current, latest, latest);
		goto out;
	}
	for (size_t i = 0; i < pg_nmigrations; i++)
		if (!applied_at[i]) {
			rc = verr_set(err, VERR_UNAVAILABLE,
			              "database schema is at version %d, expected %d: run `vault "
			              "migrate up`",
			              current, latest);
			goto out;
		}
	if ((rc = run(s, c, Q_VECTOR_DIM, NULL, &r, err)))
		goto out;
	int have = PQntuples(r) ? (int)get_i64(r, 0, 0) : -1;
	if (have != s->embedding_dim)
		rc = verr_set(err, VERR_UNAVAILABLE,
		              "the database stores vector(%d) but EMBEDDING_DIM is %d: set "
		              "EMBEDDING_DIM=%d, or run `vault reindex` to embed every note "
		              "again at %d dimensions (stop the servers and workers first)",
		              have, s->embedding_dim, have, s->embedding_dim);
out:
	PQclear(r);
	conn_put(s, c);
	free(applied_at);
	return rc;
}

/* ---------------------------------------------------------------- users */

static enum verr read_user(const PGresult *r, int row, struct user *u, struct verror *err)
{
	size_t email_len = (size_t)PQgetlength(r, row, 1);
	size_t hash_len = (size_t)PQgetlength(r, row, 2);

	memset(u, 0, sizeof(*u));
	u->id = get_i64(r, row, 0);
	if (email_len > STORE_EMAIL_MAX || hash_len >= STORE_HASH_MAX)
		return verr_set(err, VERR_INTERNAL, "user %" PRId64 " has a malformed row", u->id);
	memcpy(u->email, PQgetvalue(r, row, 1), email_len);
	memcpy(u->password_hash, PQgetvalue(r, row, 2), hash_len);
	u->created_at = get_i64(r, row, 3);
	return VERR_OK;
}

static enum verr pg_user_create(struct store *base, const char *email, const char *password_hash,
                                int64_t now, struct user *out, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (strlen(email) > STORE_EMAIL_MAX)
		return verr_set(err, VERR_INVALID, "e-mail longer than %d bytes", STORE_EMAIL_MAX);
	if (strlen(password_hash) >= STORE_HASH_MAX)
		return verr_set(err, VERR_INVALID, "password hash longer than %d bytes",
		                STORE_HASH_MAX - 1);
	arg_text(&a, email);
	arg_text(&a, password_hash);
	arg_i64(&a, now);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_USER_INSERT, &a, &r, err)))
		goto out;
	out->id = get_i64(r, 0, 0);
	strcpy(out->email, email);
	strcpy(out->password_hash, password_hash);
	out->created_at = now;
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

/* Runs a user lookup (q takes $1 from id or key) and reads the one row. */
static enum verr user_lookup(struct pg_store *s, enum query q, int64_t id, const char *key,
                             struct user *out, struct verror *err)
{
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (key)
		arg_text(&a, key);
	else
		arg_i64(&a, id);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, q, &a, &r, err)))
		goto out;
	if (PQntuples(r) == 0)
		rc = verr_set(err, VERR_NOT_FOUND, "no such user");
	else
		rc = read_user(r, 0, out, err);
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

static enum verr pg_user_get(struct store *base, int64_t id, struct user *out, struct verror *err)
{
	return user_lookup(handle(base), Q_USER_GET, id, NULL, out, err);
}

static enum verr pg_user_get_by_email(struct store *base, const char *email, struct user *out,
                                      struct verror *err)
{
	return user_lookup(handle(base), Q_USER_BY_EMAIL, 0, email, out, err);
}

static enum verr pg_user_list(struct store *base, struct user **out, size_t *n, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	struct user *users = NULL;
	PGresult *r = NULL;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_USER_LIST, NULL, &r, err)))
		goto out;
	size_t len = (size_t)PQntuples(r);
	users = len ? xcalloc(len, sizeof(*users)) : NULL;
	for (size_t i = 0; i < len; i++)
		if ((rc = read_user(r, (int)i, &users[i], err)))
			goto out;
	*out = users;
	*n = len;
	users = NULL;
out:
	PQclear(r);
	conn_put(s, c);
	free(users);
	return rc;
}

/* The foreign keys cascade to the user's notes, their chunks and refresh tokens. */
static enum verr pg_user_delete(struct store *base, int64_t id, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	arg_i64(&a, id);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_USER_DELETE, &a, &r, err)))
		goto out;
	if (PQntuples(r) == 0)
		rc = verr_set(err, VERR_NOT_FOUND, "no such user");
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- refresh tokens */

static enum verr token_insert(struct pg_store *s, struct conn *c, int64_t user_id,
                              const char *family, const char *token_hash, int64_t expires_at,
                              int64_t now, struct verror *err)
{
	struct args a = {0};
	arg_i64(&a, user_id);
	arg_text(&a, family);
	arg_text(&a, token_hash);
	arg_i64(&a, expires_at);
	arg_i64(&a, now);
	return run(s, c, Q_TOKEN_INSERT, &a, NULL, err);
}

static enum verr revoke_family(struct pg_store *s, struct conn *c, const char *family, int64_t now,
                               struct verror *err)
{
	struct args a = {0};
	arg_i64(&a, now);
	arg_text(&a, family);
	return run(s, c, Q_TOKEN_REVOKE_FAMILY, &a, NULL, err);
}

static enum verr pg_token_insert(struct store *base, int64_t user_id, const char *family,
                                 const char *token_hash, int64_t expires_at, int64_t now,
                                 struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c;
	struct args a = {0};
	enum verr rc = conn_get(s, &c, err);
	if (rc)
		return rc;
	/* A login clears the user's expired tokens, so the table does not grow forever. */
	arg_i64(&a, user_id);
	arg_i64(&a, now);
	if ((rc = run(s, c, Q_TOKENS_EXPIRED, &a, NULL, err)) == VERR_OK)
		rc = token_insert(s, c, user_id, family, token_hash, expires_at, now, err);
	conn_put(s, c);
	return rc;
}

/*
 * One transaction. Q_TOKEN_USE marks the token used only if it is still
 * valid; its row lock serialises concurrent rotations of one token, and
 * the second, re-checking the row its rival committed, finds used_at set:
 * a lost race within grace_ms, else a reuse, exactly as in SQLite.
 */
static enum verr pg_token_rotate(struct store *base, const char *old_hash, const char *new_hash,
                                 int64_t new_expires_at, int64_t now, int64_t grace_ms,
                                 int64_t *user_id, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	int tries = 0;
	enum verr rc;

	if ((rc = conn_get(s, &c, err)))
		goto out;
retry:;
	struct args a = {0};
	arg_i64(&a, now);
	arg_text(&a, old_hash);
	if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
	    (rc = run(s, c, Q_TOKEN_USE, &a, &r, err)))
		goto out;
	if (PQntuples(r) > 0) {
		int64_t uid = get_i64(r, 0, 0);
		if ((rc = token_insert(s, c, uid, PQgetvalue(r, 0, 1), new_hash, new_expires_at,
		                       now, err)) ||
		    (rc = run(s, c, Q_COMMIT, NULL, NULL, err)))
			goto out;
		*user_id = uid;
		goto out;
	}
	PQclear(r);

	/* Not usable: find out why. Nothing is written unless it is a reuse. */
	struct args b = {0};
	arg_text(&b, old_hash);
	if ((rc = run(s, c, Q_TOKEN_LOOKUP, &b, &r, err)))
		goto out;
	if (PQntuples(r) == 0) {
		rc = verr_set(err, VERR_UNAUTHORIZED, "unknown refresh token");
		goto out;
	}
	int64_t uid = get_i64(r, 0, 0);
	if (PQgetisnull(r, 0, 2)) {
		rc = verr_set(err, VERR_UNAUTHORIZED, "refresh token expired or revoked");
		goto out;
	}
	if (get_i64(r, 0, 2) > now - grace_ms) {
		rc = verr_set(err, VERR_UNAUTHORIZED,
		              "refresh token rotated just now by another request");
		goto out;
	}
	if ((rc = revoke_family(s, c, PQgetvalue(r, 0, 1), now, err)) ||
	    (rc = run(s, c, Q_COMMIT, NULL, NULL, err)))
		goto out;
	log_emit(LOG_WARNING, "refresh_token_reuse",
	         json_pack("{s:I}", "user_id", (json_int_t)uid));
	rc = verr_set(err, VERR_UNAUTHORIZED, "refresh token reused: its family is revoked");
out:
	PQclear(r);
	r = NULL;
	if (again(s, c, rc, &tries))
		goto retry;
	conn_put(s, c);
	return rc;
}

static enum verr pg_token_revoke_family(struct store *base, int64_t user_id, const char *token_hash,
                                        int64_t now, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	/* A family never changes and revoking is idempotent, so no transaction is needed. */
	arg_text(&a, token_hash);
	arg_i64(&a, user_id);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_TOKEN_FAMILY_OF, &a, &r, err)))
		goto out;
	if (PQntuples(r) == 0) {
		rc = verr_set(err, VERR_NOT_FOUND, "unknown refresh token");
		goto out;
	}
	rc = revoke_family(s, c, PQgetvalue(r, 0, 0), now, err);
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

static enum verr pg_token_revoke_all(struct store *base, int64_t user_id, int64_t now,
                                     struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	struct args a = {0};
	enum verr rc;

	arg_i64(&a, now);
	arg_i64(&a, user_id);
	if ((rc = conn_get(s, &c, err)) == VERR_OK)
		rc = run(s, c, Q_TOKEN_REVOKE_ALL, &a, NULL, err);
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- notes */

/* Reads the NOTE_COLUMNS of row into n (user_id is the caller's). */
static enum verr note_read(const PGresult *r, int row, int64_t user_id, struct note *n,
                           struct verror *err)
{
	json_error_t jerr;
	json_t *tags = json_loads(PQgetvalue(r, row, 3), 0, &jerr);

	n->id = get_i64(r, row, 0);
	n->user_id = user_id;
	n->title = get_dup(r, row, 1);
	n->content = get_dup(r, row, 2);
	n->created_at = get_i64(r, row, 4);
	n->updated_at = get_i64(r, row, 5);
	n->embedding_status = (enum embed_status)get_i64(r, row, 6);
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

/*
 * The SQLite backend keeps tags as rows keyed by (note, tag), so a tag
 * twice in one note is a uniqueness clash there; it is one here too.
 */
static enum verr check_tags(const struct note_input *in, struct verror *err)
{
	for (size_t i = 0; i < in->ntags; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(in->tags[i], in->tags[j]) == 0)
				return verr_set(err, VERR_CONFLICT, "tag \"%s\" given twice",
				                in->tags[i]);
	return VERR_OK;
}

/* The chunks must carry hashes an embed_job can hold (hex SHA-256: 64 characters). */
static enum verr check_chunks(const struct note_input *in, struct verror *err)
{
	enum verr rc = store_chunks_check(in, err);
	return rc ? rc : check_tags(in, err);
}

/* Bumps the index version of user_id (0: of every user), inside the caller's transaction. */
/* The user's number of notes and their bytes (migration 4's trigger keeps them). */
static enum verr usage(struct pg_store *s, struct conn *c, enum query q, int64_t user_id,
                       int64_t use[2], struct verror *err)
{
	struct args a = {0};
	PGresult *r = NULL;
	arg_i64(&a, user_id);
	enum verr rc = run(s, c, q, &a, &r, err);
	if (rc == VERR_OK) {
		bool row = PQntuples(r) > 0;
		use[0] = row ? get_i64(r, 0, 0) : 0;
		use[1] = row ? get_i64(r, 0, 1) : 0;
	}
	PQclear(r);
	return rc;
}

/* After a write in c's transaction: VERR_FORBIDDEN if it took the user past in's quota. */
static enum verr quota(struct pg_store *s, struct conn *c, int64_t user_id,
                       const struct note_input *in, const int64_t before[2], struct verror *err)
{
	int64_t after[2];
	enum verr rc = usage(s, c, Q_USAGE, user_id, after, err);
	return rc ? rc : store_quota_check(in, before[0], before[1], after[0], after[1], err);
}

static enum verr bump_version(struct pg_store *s, struct conn *c, int64_t user_id,
                              struct verror *err)
{
	struct args a = {0};
	if (user_id)
		arg_i64(&a, user_id);
	return run(s, c, user_id ? Q_VERSION_BUMP : Q_VERSION_BUMP_ALL, &a, NULL, err);
}

/*
 * Makes in->chunks the note's chunks, inside the caller's transaction, as
 * SQLite's put_chunks: the old chunks move to negative seqs; a new chunk
 * whose hash matches one of them takes over that row with its id, status,
 * lease and vector, so an embedding in flight for it still lands; every
 * other one is inserted pending; the old rows nobody took are deleted.
 * fresh: a new note, which has no old chunks.
 */
static enum verr put_chunks(struct pg_store *s, struct conn *c, int64_t note_id, int64_t user_id,
                            const struct note_input *in, int64_t now, bool fresh,
                            struct verror *err)
{
	struct old_chunk *old = NULL;
	PGresult *detached = NULL;
	size_t nold = 0;
	enum verr rc = VERR_OK;

	if (!fresh) {
		struct args a = {0};
		arg_i64(&a, note_id);
		if ((rc = run(s, c, Q_CHUNKS_DETACH, &a, &detached, err)))
			goto out;
		nold = (size_t)PQntuples(detached);
		old = nold ? xcalloc(nold, sizeof(*old)) : NULL;
		for (size_t i = 0; i < nold; i++)
			old[i] = (struct old_chunk){get_i64(detached, (int)i, 0),
			                            PQgetvalue(detached, (int)i, 1), false};
		store_old_chunks_sort(old, nold);
	}
	for (size_t i = 0; i < in->nchunks; i++) {
		const struct chunk_input *ch = &in->chunks[i];
		struct old_chunk *o = store_old_chunk_take(old, nold, ch->hash);
		struct args a = {0};
		if (o) {
			arg_i64(&a, o->id);
			arg_i64(&a, (int64_t)i);
			arg_text(&a, ch->heading);
			arg_text(&a, ch->text);
		} else {
			arg_i64(&a, note_id);
			arg_i64(&a, user_id);
			arg_i64(&a, (int64_t)i);
			arg_text(&a, ch->hash);
			arg_i64(&a, now);
			arg_text(&a, ch->heading);
			arg_text(&a, ch->text);
		}
		if ((rc = run(s, c, o ? Q_CHUNK_REUSE : Q_CHUNK_INSERT, &a, NULL, err)))
			goto out;
	}
	if (nold > 0) {
		struct args a = {0};
		arg_i64(&a, note_id);
		rc = run(s, c, Q_CHUNKS_DROP_DETACHED, &a, NULL, err);
	}
out:
	free(old);
	PQclear(detached);
	return rc;
}

/* The embedding_status of a note, as the caller's transaction sees it. */
static enum verr note_embed_status(struct pg_store *s, struct conn *c, int64_t id,
                                   enum embed_status *out, struct verror *err)
{
	PGresult *r = NULL;
	struct args a = {0};
	arg_i64(&a, id);
	enum verr rc = run(s, c, Q_NOTE_EMBED_STATUS, &a, &r, err);
	if (rc == VERR_OK)
		*out = PQntuples(r) ? (enum embed_status)get_i64(r, 0, 0) : EMBED_READY;
	PQclear(r);
	return rc;
}

/*
 * One transaction: the note with its tags (the keyword index follows by
 * itself, a generated column), its chunks (all pending) and the owner's
 * index version.
 */
static enum verr pg_note_create(struct store *base, int64_t user_id, const struct note_input *in,
                                int64_t now, struct note *out, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	char *tags = NULL;
	int tries = 0;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_chunks(in, err)))
		return rc;
	tags = text_array(in->tags, in->ntags);
	if ((rc = conn_get(s, &c, err)))
		goto out;
retry:;
	struct args a = {0};
	arg_i64(&a, user_id);
	arg_text(&a, in->title);
	arg_text(&a, in->content);
	arg_text(&a, tags);
	arg_i64(&a, now);
	int64_t before[2];
	if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
	    (rc = usage(s, c, Q_USAGE_LOCK, user_id, before, err)) ||
	    (rc = run(s, c, Q_NOTE_INSERT, &a, &r, err)))
		goto out;
	int64_t id = get_i64(r, 0, 0);
	if ((rc = quota(s, c, user_id, in, before, err)) ||
	    (rc = put_chunks(s, c, id, user_id, in, now, true, err)) ||
	    (rc = bump_version(s, c, user_id, err)) || (rc = run(s, c, Q_COMMIT, NULL, NULL, err)))
		goto out;
	store_note_fill(out, id, user_id, in, now, now, in->nchunks ? EMBED_PENDING : EMBED_READY);
out:
	PQclear(r);
	r = NULL;
	if (again(s, c, rc, &tries))
		goto retry;
	conn_put(s, c);
	free(tags);
	return rc;
}

static enum verr pg_note_get(struct store *base, int64_t user_id, int64_t id, struct note *out,
                             struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	memset(out, 0, sizeof(*out));
	/* One statement: the row, its tags and its status come from one snapshot. */
	arg_i64(&a, id);
	arg_i64(&a, user_id);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_NOTE_GET, &a, &r, err)))
		goto out;
	if (PQntuples(r) == 0)
		rc = verr_set(err, VERR_NOT_FOUND, "no such note");
	else
		rc = note_read(r, 0, user_id, out, err);
out:
	if (rc)
		note_free(out);
	PQclear(r);
	conn_put(s, c);
	return rc;
}

/* One transaction, as create; unchanged chunks keep their vectors (put_chunks). */
static enum verr pg_note_update(struct store *base, int64_t user_id, int64_t id,
                                const struct note_input *in, int64_t now, struct note *out,
                                struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	char *tags = NULL;
	enum embed_status status;
	int tries = 0;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_chunks(in, err)))
		return rc;
	tags = text_array(in->tags, in->ntags);
	if ((rc = conn_get(s, &c, err)))
		goto out;
retry:;
	struct args a = {0};
	arg_i64(&a, id);
	arg_i64(&a, user_id);
	arg_text(&a, in->title);
	arg_text(&a, in->content);
	arg_text(&a, tags);
	arg_i64(&a, now);
	arg_i64(&a, in->if_updated_at);
	int64_t before[2];
	if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
	    (rc = usage(s, c, Q_USAGE_LOCK, user_id, before, err)) ||
	    (rc = run(s, c, Q_NOTE_UPDATE, &a, &r, err)))
		goto out;
	if (PQntuples(r) == 0) {
		/* Missing, or changed since the caller read it. */
		struct args b = {0};
		arg_i64(&b, id);
		arg_i64(&b, user_id);
		PQclear(r);
		if ((rc = run(s, c, Q_NOTE_GET, &b, &r, err)) == VERR_OK)
			rc = PQntuples(r)
			         ? verr_set(err, VERR_CONFLICT, "the note changed meanwhile")
			         : verr_set(err, VERR_NOT_FOUND, "no such note");
		goto out;
	}
	int64_t created_at = get_i64(r, 0, 0);
	int64_t updated_at = get_i64(r, 0, 1);
	if ((rc = quota(s, c, user_id, in, before, err)) ||
	    (rc = put_chunks(s, c, id, user_id, in, now, false, err)) ||
	    (rc = bump_version(s, c, user_id, err)) ||
	    (rc = note_embed_status(s, c, id, &status, err)) ||
	    (rc = run(s, c, Q_COMMIT, NULL, NULL, err)))
		goto out;
	store_note_fill(out, id, user_id, in, created_at, updated_at, status);
out:
	PQclear(r);
	r = NULL;
	if (again(s, c, rc, &tries))
		goto retry;
	conn_put(s, c);
	free(tags);
	return rc;
}

/* Deleting the row cascades to its chunks; its keyword index is in the row itself. */
static enum verr pg_note_delete(struct store *base, int64_t user_id, int64_t id, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	int tries = 0;
	enum verr rc;

	if ((rc = conn_get(s, &c, err)))
		goto out;
retry:;
	struct args a = {0};
	arg_i64(&a, id);
	arg_i64(&a, user_id);
	int64_t before[2]; /* unused: the lock is what counts (see Q_OWNERS_LOCK) */
	if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
	    (rc = usage(s, c, Q_USAGE_LOCK, user_id, before, err)) ||
	    (rc = run(s, c, Q_NOTE_DELETE, &a, &r, err)))
		goto out;
	if (PQntuples(r) == 0) {
		rc = verr_set(err, VERR_NOT_FOUND, "no such note");
		goto out;
	}
	if ((rc = bump_version(s, c, user_id, err)))
		goto out;
	rc = run(s, c, Q_COMMIT, NULL, NULL, err);
out:
	PQclear(r);
	r = NULL;
	if (again(s, c, rc, &tries))
		goto retry;
	conn_put(s, c);
	return rc;
}

static enum verr pg_note_list(struct store *base, const struct note_query *q, struct note_page *out,
                              struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	char *tags = NULL;
	bool tagged = q->ntags > 0;
	PGresult *r = NULL;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (q->skip < 0 || q->limit < 0)
		return verr_set(err, VERR_INVALID, "skip and limit must not be negative");
	if (tagged)
		tags = text_array(q->tags, q->ntags);

	/* One snapshot: the total and the page agree. */
	struct args a = {0};
	arg_i64(&a, q->user_id);
	if (tagged)
		arg_text(&a, tags);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_BEGIN_SNAPSHOT, NULL, NULL, err)) ||
	    (rc = run(s, c, tagged ? Q_NOTE_COUNT_TAGGED : Q_NOTE_COUNT, &a, &r, err)))
		goto out;
	out->total = PQntuples(r) ? get_i64(r, 0, 0) : 0;
	PQclear(r);
	r = NULL;

	int64_t want = out->total > q->skip ? out->total - q->skip : 0;
	if (want > q->limit)
		want = q->limit;
	if (want > 0) {
		struct args b = {0};
		arg_i64(&b, q->user_id);
		arg_i64(&b, want);
		arg_i64(&b, q->skip);
		if (tagged)
			arg_text(&b, tags);
		if ((rc = run(s, c, tagged ? Q_NOTE_PAGE_TAGGED : Q_NOTE_PAGE, &b, &r, err)))
			goto out;
		size_t rows = (size_t)PQntuples(r);
		if (rows > (size_t)want)
			rows = (size_t)want;
		out->items = xcalloc((size_t)want, sizeof(*out->items));
		for (; out->n < rows; out->n++)
			if ((rc =
			         note_read(r, (int)out->n, q->user_id, &out->items[out->n], err))) {
				out->n++;
				goto out;
			}
	}
	rc = run(s, c, Q_COMMIT, NULL, NULL, err);
out:
	if (rc)
		note_page_free(out);
	PQclear(r);
	conn_put(s, c);
	free(tags);
	return rc;
}

/* One statement; a note is placed at the first index asking for it, then copied. */
static enum verr pg_notes_get_many(struct store *base, int64_t user_id, const int64_t *ids,
                                   size_t n, struct note *out, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	char *list = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	if (n == 0)
		return VERR_OK;
	memset(out, 0, n * sizeof(*out));
	list = id_array(ids, n);
	arg_i64(&a, user_id);
	arg_text(&a, list);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_NOTES_MANY, &a, &r, err)))
		goto out;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t id = get_i64(r, row, 0);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == id) {
				if ((rc = note_read(r, row, user_id, &out[i], err)))
					goto out;
				break;
			}
	}
	for (size_t i = 0; i < n; i++) {
		if (out[i].id)
			continue;
		for (size_t j = 0; j < i; j++)
			if (ids[j] == ids[i] && out[j].id) {
				store_note_copy(&out[i], &out[j]);
				break;
			}
	}
out:
	if (rc)
		for (size_t i = 0; i < n; i++)
			note_free(&out[i]);
	PQclear(r);
	conn_put(s, c);
	free(list);
	return rc;
}

/* Ascending ids; no tags: every note of the user. */
static enum verr pg_note_ids_with_tags(struct store *base, int64_t user_id, const char *const *tags,
                                       size_t ntags, int64_t **ids, size_t *n, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	char *list = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	*ids = NULL;
	*n = 0;
	arg_i64(&a, user_id);
	if (ntags) {
		list = text_array(tags, ntags);
		arg_text(&a, list);
	}
	if ((rc = conn_get(s, &c, err)) ||
	    (rc = run(s, c, ntags ? Q_NOTE_IDS_TAGGED : Q_NOTE_IDS, &a, &r, err)))
		goto out;
	size_t len = (size_t)PQntuples(r);
	int64_t *v = len ? xmalloc(len * sizeof(*v)) : NULL;
	for (size_t i = 0; i < len; i++)
		v[i] = get_i64(r, (int)i, 0);
	*ids = v;
	*n = len;
out:
	PQclear(r);
	conn_put(s, c);
	free(list);
	return rc;
}

static enum verr pg_note_chunks(struct store *base, int64_t user_id, int64_t note_id,
                                int64_t **chunk_ids, char ***texts, size_t *n, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	*chunk_ids = NULL;
	*texts = NULL;
	*n = 0;
	arg_i64(&a, user_id);
	arg_i64(&a, note_id);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_NOTE_CHUNKS, &a, &r, err)))
		goto out;
	int rows = PQntuples(r);
	if (rows == 0) {
		rc = verr_set(err, VERR_NOT_FOUND, "no such note");
		goto out;
	}
	if (PQgetisnull(r, 0, 0))
		goto out; /* the note has no chunks */
	int64_t *ids = xmalloc((size_t)rows * sizeof(*ids));
	char **tv = xmalloc((size_t)rows * sizeof(*tv));
	for (int i = 0; i < rows; i++) {
		ids[i] = get_i64(r, i, 0);
		tv[i] = get_dup(r, i, 1);
	}
	*chunk_ids = ids;
	*texts = tv;
	*n = (size_t)rows;
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- embedding queue */

static int job_cmp(const void *a, const void *b)
{
	const struct embed_job *x = a, *y = b;
	return (x->chunk_id > y->chunk_id) - (x->chunk_id < y->chunk_id);
}

/*
 * Q_EMBED_CLAIM leases and returns the chunks in one statement (its own
 * transaction); RETURNING gives no order, so the jobs are sorted by chunk
 * id (oldest first) here.
 */
static enum verr pg_embed_claim(struct store *base, size_t limit, int64_t now, int64_t lease_ms,
                                struct embed_job **out, size_t *n, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	*out = NULL;
	*n = 0;
	if (lease_ms < 0)
		return verr_set(err, VERR_INVALID, "the lease must not be negative");
	if (limit == 0)
		return VERR_OK;
	arg_i64(&a, now);
	arg_i64(&a, lease_ms);
	arg_size(&a, limit);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_EMBED_CLAIM, &a, &r, err)))
		goto out;
	size_t len = (size_t)PQntuples(r);
	if (len == 0)
		goto out;
	struct embed_job *jobs = xcalloc(len, sizeof(*jobs));
	for (size_t i = 0; i < len; i++) {
		struct embed_job *j = &jobs[i];
		int row = (int)i;
		j->chunk_id = get_i64(r, row, 0);
		j->user_id = get_i64(r, row, 1);
		j->title = get_dup(r, row, 2);
		j->heading = get_dup(r, row, 3);
		j->text = get_dup(r, row, 4);
		size_t hash_len = (size_t)PQgetlength(r, row, 5);
		if (hash_len < sizeof(j->hash))
			memcpy(j->hash, PQgetvalue(r, row, 5), hash_len);
		j->attempts = (int)get_i64(r, row, 6);
	}
	if (len > 1)
		qsort(jobs, len, sizeof(*jobs), job_cmp);
	*out = jobs;
	*n = len;
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Locks the rows of the owners of chunk_ids[0..n) (Q_OWNERS_LOCK). */
static enum verr lock_owners(struct pg_store *s, struct conn *c, const int64_t *chunk_ids, size_t n,
                             struct verror *err)
{
	struct args a = {0};
	char *ids = id_array(chunk_ids, n);
	arg_text(&a, ids);
	enum verr rc = run(s, c, Q_OWNERS_LOCK, &a, NULL, err);
	free(ids);
	return rc;
}

/* Adds owner to owners[0..*n) unless it is 0 or there already. */
static void add_owner(int64_t *owners, size_t *n, int64_t owner)
{
	for (size_t k = 0; k < *n; k++)
		if (owners[k] == owner)
			return;
	if (owner)
		owners[(*n)++] = owner;
}

/*
 * One transaction for the whole batch, and one index version bump per
 * owner, so a bulk embed does not make searches reload per chunk. A chunk
 * is written only at its current hash (else the note changed meanwhile and
 * the new text is pending).
 */
static enum verr pg_embed_done(struct store *base, const int64_t *chunk_ids,
                               const char *const *hashes, size_t n, const char *model, int dim,
                               const float *vecs, int64_t now, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	int64_t *owners = NULL;
	void *vec = NULL;
	size_t nowners = 0, veclen;
	int tries = 0;
	enum verr rc;

	if (dim <= 0 || !vecs || !model || !*model)
		return verr_set(err, VERR_INVALID, "a vector needs a model, a hash and dim > 0");
	for (size_t i = 0; i < n; i++)
		if (!hashes[i])
			return verr_set(err, VERR_INVALID,
			                "a vector needs a model, a hash and dim > 0");
	/* The column's type fixes the dimension (schema_check says so at start-up). */
	if (dim != s->embedding_dim)
		return verr_set(err, VERR_INVALID,
		                "a vector of %d floats, but the database stores vector(%d)", dim,
		                s->embedding_dim);
	owners = xcalloc(n ? n : 1, sizeof(int64_t));
	if ((rc = conn_get(s, &c, err)))
		goto out;
retry:
	nowners = 0;
	if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
	    (rc = lock_owners(s, c, chunk_ids, n, err)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct args a = {0};
		free(vec);
		vec = vector_binary(vecs + i * (size_t)dim, dim, &veclen);
		arg_i64(&a, chunk_ids[i]);
		arg_text(&a, hashes[i]);
		arg_text(&a, model);
		arg_i64(&a, dim);
		arg_binary(&a, vec, veclen);
		arg_i64(&a, now);
		if ((rc = run(s, c, Q_EMBED_DONE, &a, &r, err)))
			goto out;
		add_owner(owners, &nowners, PQntuples(r) ? get_i64(r, 0, 0) : 0);
		PQclear(r);
		r = NULL;
	}
	/* In id order, as every other writer, so two batches never deadlock. */
	if (nowners)
		qsort(owners, nowners, sizeof(int64_t), cmp_i64);
	for (size_t k = 0; k < nowners; k++)
		if ((rc = bump_version(s, c, owners[k], err)))
			goto out;
	rc = run(s, c, Q_COMMIT, NULL, NULL, err);
out:
	PQclear(r);
	r = NULL;
	if (again(s, c, rc, &tries))
		goto retry;
	free(vec);
	free(owners);
	conn_put(s, c);
	return rc;
}

/* Only a give-up changes what the index holds (the status counts), so only it bumps. */
static enum verr pg_embed_failed(struct store *base, int64_t chunk_id, const char *hash,
                                 const char *error, int64_t retry_at, bool give_up,
                                 struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	int tries = 0;
	enum verr rc;

	if (!hash)
		return verr_set(err, VERR_INVALID, "no hash given");
	if ((rc = conn_get(s, &c, err)))
		goto out;
retry:;
	struct args a = {0};
	arg_i64(&a, chunk_id);
	arg_text(&a, hash);
	arg_text(&a, error);
	arg_i64(&a, give_up ? EMBED_FAILED : EMBED_PENDING);
	arg_i64(&a, retry_at);
	if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
	    (give_up && (rc = lock_owners(s, c, &chunk_id, 1, err))) ||
	    (rc = run(s, c, Q_EMBED_FAILED, &a, &r, err)))
		goto out;
	int64_t owner = PQntuples(r) ? get_i64(r, 0, 0) : 0;
	if ((give_up && owner && (rc = bump_version(s, c, owner, err))))
		goto out;
	rc = run(s, c, Q_COMMIT, NULL, NULL, err);
out:
	PQclear(r);
	r = NULL;
	if (again(s, c, rc, &tries))
		goto retry;
	conn_put(s, c);
	return rc;
}

#define REINDEX_BATCH 2000

/*
 * Old vectors stay until embed_done replaces them, so search keeps
 * answering meanwhile. The chunks are reset in batches of REINDEX_BATCH,
 * each its own statement, so row locks are held for milliseconds, not the
 * seconds a hundred thousand rows take. A failure part way leaves the
 * batches done so far done, which is harmless: run it again.
 */
static enum verr pg_reindex(struct store *base, int64_t user_id, int64_t *count, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	int64_t after = 0, total = 0;
	size_t got;
	enum verr rc;

	if (count)
		*count = 0;
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_VECTOR_DIM, NULL, &r, err)))
		goto out;
	/* A new dimension is a new column type: every user's vectors go at once. */
	int have = PQntuples(r) ? (int)get_i64(r, 0, 0) : s->embedding_dim;
	PQclear(r);
	r = NULL;
	if (have != s->embedding_dim && user_id) {
		rc = verr_set(err, VERR_CONFLICT,
		              "EMBEDDING_DIM changed from %d to %d: every user's notes must be "
		              "embedded again; run `vault reindex` without --user",
		              have, s->embedding_dim);
		goto out;
	}
	if (have != s->embedding_dim && (rc = exec_ddl(s, c, pg_redim_sql, err)))
		goto out;
	do {
		struct args a = {0};
		arg_i64(&a, user_id);
		arg_i64(&a, after);
		arg_i64(&a, REINDEX_BATCH);
		if ((rc = run(s, c, Q_REINDEX_BATCH, &a, &r, err)))
			goto out;
		got = (size_t)get_i64(r, 0, 0);
		if (got)
			after = get_i64(r, 0, 1);
		total += get_i64(r, 0, 2);
		PQclear(r);
		r = NULL;
	} while (got == REINDEX_BATCH);

	if ((rc = bump_version(s, c, user_id, err)))
		goto out;
	if (count)
		*count = total;
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- search */

static enum verr pg_index_status(struct store *base, int64_t user_id, const char *model, int dim,
                                 struct index_status *out, struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	memset(out, 0, sizeof(*out));
	arg_i64(&a, user_id);
	/* A NULL model counts every ready vector as stale, as SQLite's IS NOT does. */
	if (model)
		arg_text(&a, model);
	else
		a.v[a.n++] = NULL;
	arg_i64(&a, dim);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_INDEX_STATUS, &a, &r, err)) ||
	    PQntuples(r) == 0)
		goto out;
	out->pending = get_i64(r, 0, 0);
	out->ready = get_i64(r, 0, 1);
	out->failed = get_i64(r, 0, 2);
	out->stale = get_i64(r, 0, 3);
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

/* Always read from the database, so another process's writes show at once. */
static enum verr pg_index_version(struct store *base, int64_t user_id, int64_t *version,
                                  struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc;

	*version = 0;
	arg_i64(&a, user_id);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, Q_VERSION_GET, &a, &r, err)))
		goto out;
	if (PQntuples(r) == 0)
		rc = verr_set(err, VERR_NOT_FOUND, "no such user");
	else
		*version = get_i64(r, 0, 0);
out:
	PQclear(r);
	conn_put(s, c);
	return rc;
}

/*
 * Full-text search over the generated tsvector, filtered by user_id and the
 * tags. The terms are words (letters, digits, UTF-8 beyond ASCII) joined
 * into the text of a tsquery function that never raises on odd input:
 * websearch_to_tsquery with " or " between them (any term), or
 * phraseto_tsquery with spaces (the phrase). Both stem them as the index
 * did. Ties go to the older note, as in SQLite.
 */
static enum verr pg_keyword_search(struct store *base, int64_t user_id, const char *const *terms,
                                   size_t nterms, bool phrase, const char *const *tags,
                                   size_t ntags, size_t limit, struct keyword_hit **out, size_t *n,
                                   struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	struct sbuf text = {0};
	char *list = NULL;
	PGresult *r = NULL;
	struct args a = {0};
	enum verr rc = VERR_OK;

	*out = NULL;
	*n = 0;
	if (nterms > 0 && !terms)
		return verr_set(err, VERR_INVALID, "%zu search terms given without an array",
		                nterms);
	for (size_t i = 0; i < nterms; i++) {
		if (!terms[i])
			return verr_set(err, VERR_INVALID, "search term %zu is missing", i);
		if (!*terms[i])
			continue;
		if (text.len)
			sbuf_str(&text, phrase ? " " : " or ");
		sbuf_str(&text, terms[i]);
	}
	if (text.len == 0 || limit == 0)
		goto out; /* no words: nothing matches */
	arg_i64(&a, user_id);
	arg_text(&a, text.p);
	arg_size(&a, limit);
	if (ntags) {
		list = text_array(tags, ntags);
		arg_text(&a, list);
	}
	enum query q =
	    phrase ? (ntags ? Q_PHRASE_TAGGED : Q_PHRASE) : (ntags ? Q_KEYWORD_TAGGED : Q_KEYWORD);
	if ((rc = conn_get(s, &c, err)) || (rc = run(s, c, q, &a, &r, err)))
		goto out;
	size_t len = (size_t)PQntuples(r);
	if (len == 0)
		goto out;
	struct keyword_hit *hits = xmalloc(len * sizeof(*hits));
	for (size_t i = 0; i < len; i++) {
		hits[i].note_id = get_i64(r, (int)i, 0);
		hits[i].score = strtod(PQgetvalue(r, (int)i, 1), NULL);
	}
	*out = hits;
	*n = len;
out:
	PQclear(r);
	conn_put(s, c);
	free(text.p);
	free(list);
	return rc;
}

/* Appends the rows (note_id, chunk_id, similarity) of r to hits. */
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
static enum verr search_hnsw(struct pg_store *s, struct conn *c, struct args *a, size_t limit,
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
	arg_i64(&e, ef);
	arg_i64(&e, HNSW_MAX_SCAN_TUPLES);
	arg_size(a, fetch);
	if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
	    (rc = run(s, c, Q_HNSW_SETTINGS, &e, NULL, err)) ||
	    (rc = run(s, c, Q_VECTOR_HNSW, a, &r, err)) ||
	    (rc = run(s, c, Q_COMMIT, NULL, NULL, err)))
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
static enum verr vector_count(struct pg_store *s, struct conn *c, int64_t user_id,
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
	arg_i64(&a, user_id);
	arg_text(&a, model);
	arg_i64(&a, dim);
	arg_i64(&a, s->exact_max + 1);
	arg_i64(&a, known);
	enum verr rc = run(s, c, Q_VECTORS_COUNT, &a, &r, err);
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
 * vectors are those SQLite's vectors_load loads: model and dim match,
 * whatever the status.
 */
static enum verr pg_vector_search(struct store *base, int64_t user_id, const char *model, int dim,
                                  const float *q, const int64_t *only, size_t nonly, bool filter,
                                  size_t limit, struct vector_hit **out, size_t *n,
                                  struct verror *err)
{
	struct pg_store *s = handle(base);
	struct conn *c = NULL;
	struct vector_hit *hits = NULL;
	char *list = NULL;
	void *vec = NULL;
	PGresult *r = NULL;
	size_t veclen, len = 0;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if (dim <= 0 || !model || !q)
		return verr_set(err, VERR_INVALID,
		                "a vector search needs a model, a vector and dim > 0");
	if (limit == 0 || (filter && nonly == 0))
		return VERR_OK;
	/* At most INT32_MAX / 4 rows in any case: past that the limit means "all". */
	if (limit > INT32_MAX / HNSW_FETCH_FACTOR)
		limit = INT32_MAX / HNSW_FETCH_FACTOR;
	vec = vector_binary(q, dim, &veclen);

	struct args a = {0};
	arg_i64(&a, user_id);
	arg_text(&a, model);
	arg_i64(&a, dim);
	if ((rc = conn_get(s, &c, err)))
		goto out;
	bool exact = filter;
	if (!exact) {
		int64_t count = 0;
		if ((rc = vector_count(s, c, user_id, model, dim, &count, err)))
			goto out;
		if (count == 0)
			goto out;
		exact = count <= s->exact_max;
	}
	arg_binary(&a, vec, veclen);
	if (exact) {
		arg_size(&a, limit);
		if (filter) {
			list = id_array(only, nonly);
			arg_text(&a, list);
		}
		if ((rc = run(s, c, Q_BEGIN, NULL, NULL, err)) ||
		    (rc = run(s, c, Q_EXACT_SETTINGS, NULL, NULL, err)) ||
		    (rc = run(s, c, filter ? Q_VECTOR_EXACT_ONLY : Q_VECTOR_EXACT, &a, &r, err)) ||
		    (rc = run(s, c, Q_COMMIT, NULL, NULL, err)))
			goto out;
		hits = xmalloc(((size_t)PQntuples(r) + 1) * sizeof(*hits));
		read_hits(r, hits, &len);
	} else {
		if ((rc = search_hnsw(s, c, &a, limit, &hits, &len, err)))
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
	free(list);
	free(vec);
	return rc;
}

/* ---------------------------------------------------------------- ops */

/* vectors_load stays NULL: the services use vector_search, which this backend has. */
const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .migrate_up = pg_migrate_up,
    .migrate_down = pg_migrate_down,
    .migrate_status = pg_migrate_status,
    .schema_check = pg_schema_check,
    .user_create = pg_user_create,
    .user_get = pg_user_get,
    .user_get_by_email = pg_user_get_by_email,
    .user_list = pg_user_list,
    .user_delete = pg_user_delete,
    .token_insert = pg_token_insert,
    .token_rotate = pg_token_rotate,
    .token_revoke_family = pg_token_revoke_family,
    .token_revoke_all = pg_token_revoke_all,
    .note_create = pg_note_create,
    .note_get = pg_note_get,
    .note_update = pg_note_update,
    .note_delete = pg_note_delete,
    .note_list = pg_note_list,
    .notes_get_many = pg_notes_get_many,
    .note_ids_with_tags = pg_note_ids_with_tags,
    .note_chunks = pg_note_chunks,
    .embed_claim = pg_embed_claim,
    .embed_done = pg_embed_done,
    .embed_failed = pg_embed_failed,
    .reindex = pg_reindex,
    .index_status = pg_index_status,
    .index_version = pg_index_version,
    .keyword_search = pg_keyword_search,
    .vector_search = pg_vector_search,
};
