/*
 * store_sqlite.c - the SQLite driver of the repository (driver.h).
 *
 * A handle owns a small pool of connections to one database file in WAL
 * mode: each operation borrows a connection for its own duration, so
 * readers run in parallel and writers queue on SQLite's write lock (every
 * multi-statement write starts with BEGIN IMMEDIATE, so no transaction ever
 * has to upgrade a read lock and deadlock). Each connection keeps its
 * prepared statements for the life of the handle; every value is bound,
 * never spliced into SQL. Variable-length lists (the tags of a filter, the
 * note ids of a page) are bound as one JSON array and read with json_each(),
 * which keeps those statements fixed and cached too.
 *
 * Tags are rows of note_tags and the keyword index is an FTS5 table the
 * repository writes (DB_TAG_ROWS, DB_FTS_ROWS); the schema and its indexes
 * are described in sqlite_migrations.c, the keyword index (one per user
 * inside one FTS5 table) in sqlite_fts.c. Vectors are searched in process,
 * from a cache of each user's vectors (sqlite_vectors.c).
 *
 * SQLite result codes become enum verr here and nowhere else.
 */
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/driver.h"
#include "store/sqlite_fts.h"
#include "store/sqlite_vectors.h"

#define POOL_MAX                16
#define BUSY_TIMEOUT_DEFAULT_MS 5000

/* ---------------------------------------------------------------- statements */

/* The notes of user ?1 carrying every tag of the JSON array ?N (duplicates ignored). */
#define TAGGED_NOTE_IDS(N)                                                                         \
	"SELECT note_id FROM note_tags WHERE user_id = ?1 AND tag IN (SELECT value FROM "          \
	"json_each(?" N ")) GROUP BY note_id HAVING COUNT(*) = (SELECT COUNT(DISTINCT value) "     \
	"FROM json_each(?" N "))"

/*
 * The embedding_status of the note in the row: pending if any chunk is,
 * else failed if any is, else ready (also with no chunks at all). Each
 * EXISTS is one seek in chunks_note_status.
 */
#define EMBED_STATUS                                                                               \
	"CASE WHEN EXISTS (SELECT 1 FROM chunks c WHERE c.note_id = notes.id AND c.status = 0) "   \
	"THEN 0 WHEN EXISTS (SELECT 1 FROM chunks c WHERE c.note_id = notes.id AND c.status = 2) " \
	"THEN 2 ELSE 1 END"

/* The note's tags in order as a JSON array, straight from note_tags_order (migration 9). */
#define NOTE_TAGS                                                                                  \
	"(SELECT json_group_array(tag) FROM (SELECT tag FROM note_tags t "                         \
	"WHERE t.note_id = notes.id ORDER BY position))"

#define NOTE_COLUMNS                                                                               \
	"id, title, content, " NOTE_TAGS ", created_at, updated_at, " EMBED_STATUS                 \
	", source_path, aliases"

/*
 * BM25 on user ?1's own statistics (sqlite_fts.c), for the ?3 best rows,
 * with the weights of the notes_fts columns: title, content, tags,
 * user_id; negated, so higher is better. The subqueries are evaluated once
 * per statement.
 */
#define FTS_RANK                                                                                   \
	"-vault_bm25(notes_fts, (SELECT docs FROM keyword_stats WHERE user_id = ?1), "             \
	"(SELECT tokens FROM keyword_stats WHERE user_id = ?1), ?3, 10.0, 1.0, 5.0, 0.0)"
#define FTS_OWNER SQLITE_FTS_OWNER("?5")

/*
 * Ties go to the older note, for a stable order. No "user_id = ?1": every
 * token of the MATCH carries user ?1's prefix (sqlite_fts.c), so only
 * their postings can match, and testing the column read each matching
 * row's stored text: 22 ms of CPU a search at 100k chunks, 10.3 without
 * (bench/search_corpus --keyword-cpu).
 */
#define KEYWORD_SQL(TAGGED)                                                                        \
	"SELECT rowid, " FTS_RANK " AS r FROM notes_fts WHERE notes_fts MATCH ?2 " TAGGED          \
	" ORDER BY r DESC, rowid LIMIT ?3"
/*
 * "+rowid": with a bare rowid IN, FTS5 took the list as one rowid = lookup
 * per tagged note, each a query of its own, so vault_bm25 prepared its IDFs
 * (a pass over every posting of each term) once a row and pruned nothing:
 * 199 ms for a tag on 4,000 of 61,000 notes, 1.8 ms filtering the matches.
 */
#define KEYWORD_TAGS " AND +rowid IN (" TAGGED_NOTE_IDS("4") ")"

static const char *const query_sql[SQ__COUNT] = {
    [Q_BEGIN_READ] = "BEGIN",
    [Q_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_PING] = "SELECT 1",
    /* BEGIN IMMEDIATE has taken the one write lock already. */
    [Q_MIG_LOCK] = "SELECT 1",
    [Q_MIG_TABLE_EXISTS] = "SELECT 1 FROM sqlite_master "
                           "WHERE type = 'table' AND name = 'schema_migrations'",
    [Q_MIG_LIST] = "SELECT version, applied_at FROM schema_migrations ORDER BY version",
    [Q_MIG_APPLIED] = "SELECT 1 FROM schema_migrations WHERE version = ?1",
    [Q_MIG_INSERT] = "INSERT INTO schema_migrations (version, name, applied_at) "
                     "VALUES (?1, ?2, ?3)",
    [Q_MIG_DELETE] = "DELETE FROM schema_migrations WHERE version = ?1",

    [Q_USER_INSERT] = "INSERT INTO users (email, password_hash, created_at) VALUES (?1, ?2, ?3) "
                      "RETURNING id",
    [Q_USER_GET] = "SELECT id, email, password_hash, created_at FROM users WHERE id = ?1",
    [Q_USER_BY_EMAIL] = "SELECT id, email, password_hash, created_at FROM users "
                        "WHERE email = ?1",
    [Q_USER_LIST] = "SELECT id, email, password_hash, created_at FROM users ORDER BY id",
    [Q_USER_DELETE] = "DELETE FROM users WHERE id = ?1 RETURNING id",

    /* Expired rows are dead weight: a used one only matters until it expires. */
    [Q_TOKENS_EXPIRED] = "DELETE FROM refresh_tokens WHERE user_id = ?1 AND expires_at <= ?2",
    [Q_TOKEN_INSERT] = "INSERT INTO refresh_tokens "
                       "(user_id, family, token_hash, expires_at, created_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
    /* The race-free half of a rotation: only one caller can flip used_at. */
    [Q_TOKEN_USE] = "UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2 "
                    "AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1 "
                    "RETURNING user_id, family",
    [Q_TOKEN_LOOKUP] = "SELECT user_id, family, used_at FROM refresh_tokens "
                       "WHERE token_hash = ?1",
    [Q_TOKEN_FAMILY_OF] = "SELECT family FROM refresh_tokens "
                          "WHERE token_hash = ?1 AND user_id = ?2",
    [Q_TOKEN_REVOKE_FAMILY] = "UPDATE refresh_tokens SET revoked_at = ?1 "
                              "WHERE family = ?2 AND revoked_at IS NULL",
    [Q_TOKEN_REVOKE_ALL] = "UPDATE refresh_tokens SET revoked_at = ?1 "
                           "WHERE user_id = ?2 AND revoked_at IS NULL",

    [Q_API_TOKENS_EXPIRED] = "DELETE FROM api_tokens WHERE user_id = ?1 AND expires_at <= ?2",
    [Q_API_TOKEN_COUNT] = "SELECT count(*) FROM api_tokens WHERE user_id = ?1",
    [Q_API_TOKEN_INSERT] = "INSERT INTO api_tokens "
                           "(user_id, name, scope, token_hash, created_at, expires_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
    [Q_API_TOKEN_LIST] = "SELECT " API_TOKEN_COLUMNS " FROM api_tokens WHERE user_id = ?1 "
                         "ORDER BY id",
    [Q_API_TOKEN_DELETE] = "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2 RETURNING id",
    [Q_API_TOKEN_FIND] = "SELECT " API_TOKEN_COLUMNS " FROM api_tokens WHERE token_hash = ?1 "
                         "AND (expires_at IS NULL OR expires_at > ?2)",
    [Q_API_TOKEN_TOUCH] = "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1 "
                          "AND (last_used_at IS NULL OR last_used_at <= ?3)",

    [Q_NOTE_INSERT] = "INSERT INTO notes (user_id, title, content, created_at, updated_at, "
                      "source_path, source_hash, aliases) "
                      "VALUES (?1, ?2, ?3, ?4, ?6, ?7, ?8, ?9) RETURNING id",
    [Q_NOTE_GET] = "SELECT " NOTE_COLUMNS " FROM notes WHERE id = ?1 AND user_id = ?2",
    /* ?8, ?9: times given (0: none); ?10..?12: an imported file's source (NULL: kept). */
    [Q_NOTE_UPDATE] = "UPDATE notes SET title = ?3, content = ?4, "
                      "created_at = CASE WHEN ?8 = 0 THEN created_at ELSE ?8 END, "
                      "updated_at = CASE WHEN ?9 = 0 THEN MAX(?5, updated_at + 1) ELSE ?9 END, "
                      "source_path = coalesce(?10, source_path), "
                      "source_hash = CASE WHEN ?10 IS NULL THEN source_hash ELSE ?11 END, "
                      "aliases = CASE WHEN ?10 IS NULL THEN aliases ELSE ?12 END "
                      "WHERE id = ?1 AND user_id = ?2 AND (?6 = 0 OR updated_at = ?6) "
                      "RETURNING created_at, updated_at",
    [Q_TAGS_DELETE] = "DELETE FROM note_tags WHERE note_id = ?1",
    /* position = the tag's index in the JSON array ?3. */
    [Q_TAGS_PUT] = "INSERT INTO note_tags (note_id, user_id, tag, position) "
                   "SELECT ?1, ?2, value, key FROM json_each(?3)",
    [Q_NOTE_DELETE] = "DELETE FROM notes WHERE id = ?1 AND user_id = ?2 RETURNING id",
    [Q_NOTE_COUNT] = "SELECT COUNT(*) FROM notes WHERE user_id = ?1",
    [Q_NOTE_PAGE] = "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = ?1 "
                    "ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    [Q_NOTES_AFTER] = "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = ?1 "
                      "AND (created_at, id) > (?2, ?3) ORDER BY created_at, id LIMIT ?4",
    [Q_NOTE_COUNT_TAGGED] = "SELECT COUNT(*) FROM (" TAGGED_NOTE_IDS("2") ")",
    [Q_NOTE_PAGE_TAGGED] =
        "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = ?1 "
        "AND id IN (" TAGGED_NOTE_IDS("4") ") "
                                           "ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    [Q_NOTE_EMBED_STATUS] = "SELECT " EMBED_STATUS " FROM notes WHERE id = ?1",
    /*
     * ?2 is a JSON array of note ids. The + keeps the planner off
     * notes_user_created, which would walk all the user's notes.
     */
    [Q_NOTES_MANY] = "SELECT " NOTE_COLUMNS " FROM notes WHERE "
                     "id IN (SELECT value FROM json_each(?2)) AND +user_id = ?1",
    [Q_NOTE_IDS] = "SELECT id FROM notes WHERE user_id = ?1 ORDER BY id",
    [Q_NOTE_IDS_TAGGED] = TAGGED_NOTE_IDS("2") " ORDER BY note_id",
    [Q_TAGS] = "SELECT tag, count(*) AS n FROM note_tags WHERE user_id = ?1 GROUP BY tag "
               "ORDER BY n DESC, tag LIMIT ?2",

    /*
     * ?2 is a JSON array of note ids: seeks in chunks(note_id, seq), in
     * order. The + keeps the planner off chunks_user, which would walk all
     * the user's chunks (a search at 100k chunks took 0.7 s).
     */
    [Q_NOTES_CHUNKS] =
        "SELECT note_id, id, text, heading FROM chunks WHERE note_id IN (SELECT value "
        "FROM json_each(?2)) AND +user_id = ?1 ORDER BY note_id, seq",
    /*
     * The keyword index row of a note, new or replaced, each value behind
     * its owner's marker; the trigger deletes it. Then its owner's
     * statistics: ?2 notes more, and the row's tokens less ?3 (those of
     * the row it replaced).
     */
    [Q_FTS_DOCLEN] = "SELECT vault_doclen(sz) FROM notes_fts_docsize WHERE id = ?1",
    [Q_FTS_PUT] = "INSERT OR REPLACE INTO notes_fts (rowid, title, content, tags, user_id) "
                  "VALUES (?1, " FTS_OWNER " || ?2, " FTS_OWNER " || ?3, " FTS_OWNER " || ?4, ?5)",
    [Q_FTS_STATS] = "INSERT INTO keyword_stats (user_id, docs, tokens) "
                    "SELECT ?1, ?2, vault_doclen(sz) - ?3 FROM notes_fts_docsize WHERE id = ?4 "
                    "ON CONFLICT (user_id) DO UPDATE SET docs = docs + excluded.docs, "
                    "tokens = tokens + excluded.tokens",
    [Q_VERSION_BUMP] = "UPDATE users SET index_version = index_version + 1 WHERE id = ?1",
    [Q_VERSION_BUMP_ALL] = "UPDATE users SET index_version = index_version + 1",
    [Q_USAGE] = "SELECT notes_count, notes_bytes FROM users WHERE id = ?1",
    /* BEGIN IMMEDIATE has made the writes take turns already. */
    [Q_USAGE_LOCK] = "SELECT notes_count, notes_bytes FROM users WHERE id = ?1",
    [Q_VERSION_GET] = "SELECT index_version FROM users WHERE id = ?1",

    [Q_CHUNK_INSERT] = "INSERT INTO chunks (note_id, user_id, seq, hash, updated_at, heading, "
                       "text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* Moves a note's chunks to negative seqs, out of the way of the new ones. */
    [Q_CHUNKS_DETACH] = "UPDATE chunks SET seq = -1 - seq WHERE note_id = ?1 RETURNING id, hash",
    [Q_CHUNK_REUSE] = "UPDATE chunks SET seq = ?2, heading = ?3, text = ?4 WHERE id = ?1",
    [Q_CHUNKS_DROP_DETACHED] = "DELETE FROM chunks WHERE note_id = ?1 AND seq < 0",

    /*
     * One statement, so atomic on its own: it holds the write lock from
     * the subquery's read to the last lease, in every process. The
     * subquery walks chunks_queue in id order and stops at the limit.
     */
    [Q_EMBED_CLAIM] = "UPDATE chunks SET next_attempt_at = ?1 + ?2 WHERE id IN "
                      "(SELECT id FROM chunks WHERE status = 0 AND next_attempt_at <= ?1 "
                      "ORDER BY id LIMIT ?3) "
                      "RETURNING id, user_id, (SELECT title FROM notes WHERE notes.id = "
                      "chunks.note_id), heading, text, hash, attempts",
    /*
     * The vector's stamp is its owner's index version after this write:
     * the repository bumps it once, after the batch, in this transaction.
     */
    [Q_EMBED_DONE] = "UPDATE chunks SET status = 1, model = ?3, dim = ?4, embedding = ?5, "
                     "error = NULL, updated_at = ?6, vector_version = (SELECT index_version + 1 "
                     "FROM users WHERE users.id = chunks.user_id) WHERE id = ?1 AND hash = ?2 "
                     "RETURNING user_id",
    [Q_EMBED_FAILED] = "UPDATE chunks SET attempts = attempts + 1, error = ?3, status = ?4, "
                       "next_attempt_at = ?5 WHERE id = ?1 AND hash = ?2 AND status = 0 "
                       "RETURNING user_id",
    /*
     * The next ?3 chunks of user ?1 (0: of everyone) after id ?2, walking
     * the table in rowid order: one pass over it in all, whatever the
     * number of batches. The write lock is held, so every row picked is
     * reset.
     */
    [Q_REINDEX_BATCH] = "UPDATE chunks SET status = 0, attempts = 0, next_attempt_at = 0, "
                        "error = NULL WHERE id IN (SELECT id FROM chunks WHERE id > ?2 AND "
                        "(?1 = 0 OR user_id = ?1) ORDER BY id LIMIT ?3) RETURNING id, 1",
    /* Covered by chunks_user. */
    [Q_INDEX_STATUS] = "SELECT SUM(status = 0), SUM(status = 1), SUM(status = 2), "
                       "SUM(status = 1 AND (model IS NOT ?2 OR dim IS NOT ?3)) "
                       "FROM chunks WHERE user_id = ?1",
    /* Pending through the queue's partial index; failed ones by a scan of every chunk (no
     * index has them: a cost each scrape pays, not yet worth a migration). */
    [Q_QUEUE_COUNTS] = "SELECT (SELECT count(*) FROM chunks WHERE status = 0), "
                       "(SELECT count(*) FROM chunks WHERE status = 2)",
    /* A phrase is the MATCH expression's business (sqlite_fts_match). */
    [Q_KEYWORD] = KEYWORD_SQL(""),
    [Q_KEYWORD_TAGGED] = KEYWORD_SQL(KEYWORD_TAGS),
    [Q_PHRASE] = KEYWORD_SQL(""),
    [Q_SOURCES] = "SELECT id, source_path, source_hash FROM notes "
                  "WHERE user_id = ?1 AND source_path IS NOT NULL ORDER BY source_path",
    [Q_SOURCE_SET] = "UPDATE notes SET source_path = ?3, source_hash = ?4 "
                     "WHERE id = ?1 AND user_id = ?2 RETURNING id",
    [Q_NOTE_OWNED] = "SELECT id FROM notes WHERE id = ?1 AND user_id = ?2",
    [Q_LINKS_DELETE] = "DELETE FROM note_links WHERE from_note = ?1",
    /* The target only if it is the same user's note, else unresolved. */
    [Q_LINK_INSERT] = "INSERT INTO note_links (from_note, seq, target, to_note, kind) "
                      "VALUES (?1, ?2, ?3, (SELECT id FROM notes WHERE id = ?4 AND user_id = ?5), "
                      "?6)",
    [Q_LINKS_OUT] = "SELECT l.from_note, l.to_note, l.target, l.kind, t.title FROM note_links l "
                    "LEFT JOIN notes t ON t.id = l.to_note WHERE l.from_note = ?1 ORDER BY l.seq",
    [Q_LINKS_IN] = "SELECT l.from_note, l.to_note, l.target, l.kind, f.title FROM note_links l "
                   "JOIN notes f ON f.id = l.from_note WHERE l.to_note = ?1 AND f.user_id = ?2 "
                   "ORDER BY f.title, f.id, l.seq",
    [Q_LINKS_USER] = "SELECT l.from_note, l.to_note, l.target, l.kind, NULL FROM notes n "
                     "JOIN note_links l ON l.from_note = n.id WHERE n.user_id = ?1 "
                     "ORDER BY l.from_note, l.seq",
    [Q_PHRASE_TAGGED] = KEYWORD_SQL(KEYWORD_TAGS),
    SQLITE_VECTORS_SQL};

/* ---------------------------------------------------------------- handle */

struct sq_stmt {
	struct stmt base;
	sqlite3_stmt *st;
	int bind_rc; /* first failed bind since the last step, else SQLITE_OK */
	bool used;   /* by the current operation: reset when the connection goes back */
};

struct sq_conn {
	struct conn base;
	sqlite3 *db;
	struct sq_stmt stmts[SQ__COUNT];
	sqlite3_stmt *trace_stmt; /* echo: the statement traced last, and its counters then */
	int trace_run, trace_vm;
	bool writer; /* holds the store's write_mu until conn_put */
};

struct sqlite_store {
	struct store base; /* first, so a struct store * is a struct sqlite_store * */
	char *path;
	int busy_timeout_ms;
	bool synchronous_normal;
	bool echo;
	struct vector_cache *vectors; /* each user's vectors, kept between searches */

	/*
	 * Writers of this process queue here rather than in SQLite's busy
	 * handler, which sleeps in growing steps and made a few writes under
	 * load wait seconds. Other processes still meet the busy timeout.
	 */
	pthread_mutex_t write_mu;
	pthread_mutex_t group_mu; /* guards the queue of db_write bodies (sq_write) */
	pthread_cond_t group_cv;  /* signalled when a group is done */
	struct write_req *queue, **queue_tail;
	pthread_mutex_t mu; /* guards the pool below */
	pthread_cond_t cv;  /* signalled when a connection is returned or a slot frees */
	int nopen;          /* connections open or being opened, <= POOL_MAX */
	int nidle;
	struct sq_conn *idle[POOL_MAX]; /* a stack: the warmest connection goes out first */
	uint64_t waits, timeouts;       /* borrowers that found none free; that gave up */
};

static struct sqlite_store *handle(struct store *s)
{
	return (struct sqlite_store *)s;
}

struct vector_cache *sqlite_vector_cache(struct store *s)
{
	return handle(s)->vectors;
}

/*
 * Every connection's settings after synchronous (FULL unless the opts say
 * otherwise: the WAL is synced at each commit, so an acknowledged write
 * outlives a power cut, where NORMAL may lose the last ones).
 *
 * No memory map, whatever the build's default: a disk error on a mapped
 * page is a SIGBUS that kills the process, where a failed pread fails one
 * request. Pages are read with pread into the connection's page cache
 * instead, raised from 2 MiB to 64 MiB: a keyword query reads thousands of
 * FTS5 pages, and at 100k chunks the small cache doubled its CPU time
 * (bench/README.md). A connection holds only pages it has read, so the
 * cost is at most 64 MiB per pooled connection, and at most the database's
 * size.
 */
#define CONN_PRAGMAS "PRAGMA foreign_keys = ON; PRAGMA mmap_size = 0; PRAGMA cache_size = -65536"

/* ---------------------------------------------------------------- errors */

/* Translates a SQLite result code on c into err; returns the verr. */
static enum verr db_error(struct sq_conn *c, int rc, struct verror *err)
{
	const char *msg = sqlite3_errmsg(c->db);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return verr_set(err, VERR_UNAVAILABLE, "database is busy: %s", msg);
	case SQLITE_FULL:
		return verr_set(err, VERR_STORAGE_FULL, "sqlite: %s", msg);
	case SQLITE_IOERR:
		/* The disk failed a write (or a read, which SQLite reports as
		 * SQLITE_CORRUPT): this request fails, the process goes on. */
		return verr_set(err, VERR_UNAVAILABLE, "sqlite: %s (code %d, %s)", msg, rc,
		                strerror(sqlite3_system_errno(c->db)));
	case SQLITE_CONSTRAINT:
		/* As on PostgreSQL: a fixed text, since it can reach a client. */
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return verr_set(err, VERR_CONFLICT, "already exists");
		/* Only ever a parent row (a user, a note) that is not there. */
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return verr_set(err, VERR_NOT_FOUND, "Not found");
		break;
	default:
		break;
	}
	return verr_set(err, VERR_INTERNAL, "sqlite: %s (%s)", msg, sqlite3_errstr(rc));
}

/* ---------------------------------------------------------------- statements */

/* The cached statement for q on c, prepared on first use; reset by conn_put. */
static enum verr sq_prepare(struct conn *base, int q, struct stmt **out, struct verror *err)
{
	struct sq_conn *c = (struct sq_conn *)base;
	struct sq_stmt *s = &c->stmts[q];
	assert(q >= 0 && q < SQ__COUNT && query_sql[q]);
	if (!s->st) {
		int rc = sqlite3_prepare_v3(c->db, query_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
		                            &s->st, NULL);
		if (rc != SQLITE_OK)
			return db_error(c, rc, err);
	}
	if (s->used)
		sqlite3_reset(s->st); /* a use left unfinished ends here */
	s->bind_rc = SQLITE_OK;
	s->base.conn = base;
	s->used = true;
	*out = &s->base;
	return VERR_OK;
}

/*
 * Binds never fail for our statements short of a string over SQLite's
 * length limit; such a failure is kept and reported by the next step, so
 * call sites stay one line per value. A position past the statement's
 * parameters is a value this dialect does not use (the tags of a note,
 * rows of their own here), and is ignored.
 */
static void bind_result(struct stmt *st, int rc)
{
	struct sq_stmt *s = (struct sq_stmt *)st;
	if (rc != SQLITE_OK && rc != SQLITE_RANGE && s->bind_rc == SQLITE_OK)
		s->bind_rc = rc;
}

static sqlite3_stmt *raw(struct stmt *st)
{
	return ((struct sq_stmt *)st)->st;
}

static void sq_bind_i64(struct stmt *st, int i, int64_t v)
{
	bind_result(st, sqlite3_bind_int64(raw(st), i, v));
}

/* s must stay valid until the statement is reset (SQLITE_STATIC). */
static void sq_bind_text(struct stmt *st, int i, const char *s)
{
	bind_result(st, sqlite3_bind_text(raw(st), i, s ? s : "", -1, SQLITE_STATIC));
}

static void sq_bind_null(struct stmt *st, int i)
{
	bind_result(st, sqlite3_bind_null(raw(st), i));
}

/* ["a","b"], for json_each(?) in a cached statement; SQLite frees it. */
static void sq_bind_texts(struct stmt *st, int i, const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t k = 0; k < n; k++)
		json_array_append_new(a, json_string_nocheck(v[k]));
	char *json = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (!json)
		abort(); /* only allocation can fail */
	bind_result(st, sqlite3_bind_text(raw(st), i, json, -1, free));
}

/* [3,2,1], for json_each(?); SQLite frees it. */
static void sq_bind_ids(struct stmt *st, int i, const int64_t *ids, size_t stride, size_t n)
{
	bind_result(st, sqlite3_bind_text(raw(st), i, db_id_list(ids, stride, n, "[]"), -1, free));
}

/* dim native-order floats; v must stay valid until the statement is reset. */
static void sq_bind_vector(struct stmt *st, int i, const float *v, int dim)
{
	bind_result(st,
	            sqlite3_bind_blob64(raw(st), i, v, (size_t)dim * sizeof(float), SQLITE_STATIC));
}

static enum verr sq_step(struct stmt *st, bool *row, struct verror *err)
{
	struct sq_stmt *s = (struct sq_stmt *)st;
	struct sq_conn *c = (struct sq_conn *)st->conn;
	*row = false;
	if (s->bind_rc != SQLITE_OK) {
		int rc = s->bind_rc;
		s->bind_rc = SQLITE_OK;
		return db_error(c, rc, err);
	}
	int rc = sqlite3_step(s->st);
	if (rc == SQLITE_ROW) {
		*row = true;
		return VERR_OK;
	}
	return rc == SQLITE_DONE ? VERR_OK : db_error(c, rc, err);
}

static int64_t sq_col_i64(struct stmt *st, int i)
{
	return sqlite3_column_int64(raw(st), i);
}

static double sq_col_double(struct stmt *st, int i)
{
	return sqlite3_column_double(raw(st), i);
}

static const char *sq_col_text(struct stmt *st, int i, size_t *len)
{
	const unsigned char *t = sqlite3_column_text(raw(st), i);
	if (len)
		*len = t ? (size_t)sqlite3_column_bytes(raw(st), i) : 0;
	return t ? (const char *)t : "";
}

static bool sq_col_null(struct stmt *st, int i)
{
	return sqlite3_column_type(raw(st), i) == SQLITE_NULL;
}

const void *sqlite_col_blob(struct stmt *st, int i, size_t *len)
{
	*len = (size_t)sqlite3_column_bytes(raw(st), i);
	return sqlite3_column_blob(raw(st), i);
}

static void sq_reset(struct stmt *st)
{
	sqlite3_reset(raw(st));
}

static enum verr sq_exec(struct store *s, struct conn *base, const char *sql, struct verror *err)
{
	struct sq_conn *c = (struct sq_conn *)base;
	(void)s;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? VERR_OK : db_error(c, rc, err);
}

/* ---------------------------------------------------------------- pool */

/*
 * With echo on: one log line per statement run, its SQL text only, never
 * bound values. A foreign-key action (ON DELETE CASCADE) runs as a trigger
 * program that SQLite reports again with the parent statement's text; it is
 * told apart by the counters: the same statement, no VM steps accounted
 * since (they are added when sqlite3_step returns) and one more run begun.
 * A real re-run always has more steps accounted. A named trigger (the
 * keyword index's) is reported with x = "-- TRIGGER name" and skipped.
 */
static int trace_stmt(unsigned type, void *ctx, void *p, void *x)
{
	struct sq_conn *c = ctx;
	sqlite3_stmt *st = p;
	const char *text = x;

	if (type != SQLITE_TRACE_STMT || (text && strncmp(text, "--", 2) == 0))
		return 0;
	int run = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_RUN, 0);
	int vm = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
	bool nested = st == c->trace_stmt && vm == c->trace_vm && run > c->trace_run;
	c->trace_stmt = st;
	c->trace_run = run;
	c->trace_vm = vm;

	const char *sql = sqlite3_sql(st);
	if (!nested && sql && log_enabled(LOG_INFO))
		log_emit(LOG_INFO, "sql", json_pack("{s:s}", "sql", sql));
	return 0;
}

static void conn_close(struct sq_conn *c)
{
	if (!c)
		return;
	for (int q = 0; q < SQ__COUNT; q++)
		sqlite3_finalize(c->stmts[q].st);
	sqlite3_close(c->db);
	free(c);
}

static int journal_mode_row(void *ctx, int ncol, char **vals, char **names)
{
	(void)names;
	if (ncol > 0 && vals[0])
		snprintf(ctx, 16, "%s", vals[0]);
	return 0;
}

/* Opens and configures one connection. */
static enum verr conn_open(struct sqlite_store *s, struct sq_conn **out, struct verror *err)
{
	struct sq_conn *c = xcalloc(1, sizeof(*c));
	char mode[16] = "";
	enum verr rc = VERR_OK;

	c->base.drv = &sqlite_driver;
	int src =
	    sqlite3_open_v2(s->path, &c->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		rc = verr_set(err, VERR_UNAVAILABLE, "cannot open database %s: %s", s->path,
		              c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(src));
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
	/* Before the trace, which would log the registration's own statement. */
	if ((src = sqlite_fts_register(c->db)) != SQLITE_OK) {
		rc = verr_set(err, VERR_INTERNAL, "cannot register the keyword index: %s",
		              sqlite3_errstr(src));
		goto out;
	}
	if (s->echo)
		sqlite3_trace_v2(c->db, SQLITE_TRACE_STMT, trace_stmt, c);

	/* journal_mode touches the file first, so a bad path or a non-database fails here. */
	src = sqlite3_exec(c->db, "PRAGMA journal_mode = WAL", journal_mode_row, mode, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_exec(c->db,
		                   s->synchronous_normal
		                       ? "PRAGMA synchronous = NORMAL; " CONN_PRAGMAS
		                       : "PRAGMA synchronous = FULL; " CONN_PRAGMAS,
		                   NULL, NULL, NULL);
	if (src != SQLITE_OK) {
		rc = verr_set(err, VERR_UNAVAILABLE, "cannot open database %s: %s", s->path,
		              sqlite3_errmsg(c->db));
		goto out;
	}
	if (strcmp(mode, "wal") != 0)
		log_emit(LOG_WARNING, "sqlite_no_wal",
		         json_pack("{s:s,s:s}", "path", s->path, "journal_mode", mode));
out:
	if (rc) {
		conn_close(c);
		c = NULL;
	}
	*out = c;
	return rc;
}

/*
 * Borrows a connection: an idle one, else a new one while the pool is under
 * POOL_MAX, else waits for one to come back. Waiting longer than the busy
 * timeout is VERR_UNAVAILABLE. Return it with conn_put().
 */
static enum verr conn_get(struct sqlite_store *s, struct sq_conn **out, struct verror *err)
{
	struct timespec deadline;
	bool have_deadline = false;

	*out = NULL;
	pthread_mutex_lock(&s->mu);
	while (s->nidle == 0 && s->nopen >= POOL_MAX) {
		if (!have_deadline) {
			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_sec += s->busy_timeout_ms / 1000;
			deadline.tv_nsec += (long)(s->busy_timeout_ms % 1000) * 1000000L;
			if (deadline.tv_nsec >= 1000000000L) {
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000L;
			}
			have_deadline = true;
			s->waits++;
		}
		if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT &&
		    s->nidle == 0 && s->nopen >= POOL_MAX) {
			s->timeouts++;
			pthread_mutex_unlock(&s->mu);
			return verr_set(err, VERR_UNAVAILABLE,
			                "all %d database connections stayed busy for %d ms",
			                POOL_MAX, s->busy_timeout_ms);
		}
	}
	if (s->nidle > 0) {
		*out = s->idle[--s->nidle];
		pthread_mutex_unlock(&s->mu);
		return VERR_OK;
	}
	s->nopen++; /* reserve the slot, then open without holding the lock */
	pthread_mutex_unlock(&s->mu);

	enum verr rc = conn_open(s, out, err);
	if (rc) {
		pthread_mutex_lock(&s->mu);
		s->nopen--;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

/*
 * Returns a borrowed connection (NULL is fine): resets the statements the
 * operation used, rolls back a transaction a failed operation left open
 * (so error paths just `goto out`), and drops the connection if even that
 * fails.
 */
static void stmts_reset(struct sq_conn *c)
{
	for (int q = 0; q < SQ__COUNT; q++)
		if (c->stmts[q].used) {
			sqlite3_reset(c->stmts[q].st);
			sqlite3_clear_bindings(c->stmts[q].st);
			c->stmts[q].used = false;
			c->stmts[q].bind_rc = SQLITE_OK;
		}
}

static void conn_put(struct sqlite_store *s, struct sq_conn *c)
{
	if (!c)
		return;
	stmts_reset(c);
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	if (c->writer) {
		c->writer = false;
		pthread_mutex_unlock(&s->write_mu);
	}
	if (!sqlite3_get_autocommit(c->db)) {
		conn_close(c);
		pthread_mutex_lock(&s->mu);
		s->nopen--;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		return;
	}

	pthread_mutex_lock(&s->mu);
	s->idle[s->nidle++] = c;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/*
 * Borrows a connection for a write. The turn to write comes first, so
 * queued writers never hold connections that readers need; waiting longer
 * than the busy timeout is VERR_UNAVAILABLE, as in SQLite itself.
 */
static enum verr conn_get_writer(struct sqlite_store *s, struct sq_conn **out, struct verror *err)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += s->busy_timeout_ms / 1000;
	deadline.tv_nsec += (long)(s->busy_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	*out = NULL;
	if (pthread_mutex_timedlock(&s->write_mu, &deadline) != 0)
		return verr_set(err, VERR_UNAVAILABLE, "waited %d ms for a turn to write",
		                s->busy_timeout_ms);
	enum verr rc = conn_get(s, out, err);
	if (rc) {
		pthread_mutex_unlock(&s->write_mu);
		return rc;
	}
	(*out)->writer = true;
	return VERR_OK;
}

static enum verr sq_conn_get(struct store *base, bool write, struct conn **out, struct verror *err)
{
	struct sq_conn *c = NULL;
	enum verr rc =
	    write ? conn_get_writer(handle(base), &c, err) : conn_get(handle(base), &c, err);
	*out = c ? &c->base : NULL;
	return rc;
}

static void sq_conn_put(struct store *base, struct conn *c)
{
	conn_put(handle(base), (struct sq_conn *)c);
}

/* ---------------------------------------------------------------- group commit */

/*
 * Group commit. SQLite has one writer at a time and, with synchronous =
 * FULL, syncs the WAL at every commit, so writers that each commit alone
 * queue behind one fsync apiece. Here a db_write body joins a queue; the
 * writer at its front runs the bodies queued so far (up to GROUP_MAX), its
 * own first, in one transaction, each under a savepoint so a body that
 * fails undoes only its own writes, then commits them all with one sync
 * and wakes their callers. A lone writer runs at once, without a
 * savepoint: nobody waits for company.
 */
#define GROUP_MAX 64

struct write_req {
	write_fn fn;
	void *arg;
	struct verror *err;
	enum verr rc;
	bool done;
	struct write_req *next;
};

static enum verr savepoint(struct sq_conn *c, const char *sql, struct verror *err)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? VERR_OK : db_error(c, rc, err);
}

/* Fails the bodies from r to last that had succeeded, as rc and why say. */
static void group_fail(struct write_req *r, const struct write_req *last, enum verr rc,
                       const struct verror *why)
{
	for (;; r = r->next) {
		if (r->rc == VERR_OK) {
			r->rc = rc;
			*r->err = *why;
		}
		if (r == last)
			return;
	}
}

/*
 * Runs the bodies first..last (in queue order; last->next is not ours to
 * read) and commits them; counts them in the store's writes and commits.
 */
static void group_run(struct sqlite_store *s, struct write_req *first, struct write_req *last)
{
	struct write_req *open = first; /* the open transaction's first body; NULL: none */
	struct sq_conn *c = NULL;
	struct verror why;
	uint64_t n = 0;
	bool committed = false;
	enum verr rc;

	for (struct write_req *r = first;; r = r->next) {
		r->rc = VERR_OK;
		n++;
		if (r == last)
			break;
	}
	if ((rc = conn_get_writer(s, &c, &why)) || (rc = db_run(&c->base, Q_BEGIN_WRITE, &why))) {
		group_fail(first, last, rc, &why);
	} else if (first == last) {
		/* Alone: no savepoint; conn_put rolls a failure back. */
		if ((first->rc = first->fn(&c->base, first->arg, first->err)) == VERR_OK)
			committed = (first->rc = db_run(&c->base, Q_COMMIT, first->err)) == VERR_OK;
	} else {
		for (struct write_req *r = first;; r = r->next) {
			if ((rc = savepoint(c, "SAVEPOINT w", &why))) {
				group_fail(open, last, rc, &why);
				open = NULL;
				break;
			}
			r->rc = r->fn(&c->base, r->arg, r->err);
			stmts_reset(c);
			if (sqlite3_get_autocommit(c->db)) {
				/* An I/O error or a full disk rolled the whole transaction back. */
				group_fail(open, r, r->rc ? r->rc : VERR_INTERNAL, r->err);
				open = r == last ? NULL : r->next;
				if (open && (rc = db_run(&c->base, Q_BEGIN_WRITE, &why))) {
					group_fail(open, last, rc, &why);
					open = NULL;
				}
			} else if ((rc = savepoint(c,
			                           r->rc ? "ROLLBACK TO w; RELEASE w" : "RELEASE w",
			                           &why))) {
				group_fail(open, last, rc, &why);
				open = NULL;
			}
			if (r == last || !open)
				break;
		}
		if (open && (rc = db_run(&c->base, Q_COMMIT, &why)))
			group_fail(open, last, rc, &why);
		committed = open && rc == VERR_OK;
	}
	conn_put(s, c); /* rolls back what failed */
	__atomic_add_fetch(&s->base.writes, n, __ATOMIC_RELAXED);
	if (committed)
		__atomic_add_fetch(&s->base.commits, 1, __ATOMIC_RELAXED);
}

static enum verr sq_write(struct store *base, write_fn fn, void *arg, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct write_req me = {.fn = fn, .arg = arg, .err = err}, *last;

	pthread_mutex_lock(&s->group_mu);
	*s->queue_tail = &me;
	s->queue_tail = &me.next;
	while (!me.done && s->queue != &me)
		pthread_cond_wait(&s->group_cv, &s->group_mu);
	if (me.done) {
		pthread_mutex_unlock(&s->group_mu);
		return me.rc;
	}
	/* At the front: lead the writers queued behind. */
	last = &me;
	for (int k = 1; k < GROUP_MAX && last->next; k++)
		last = last->next;
	pthread_mutex_unlock(&s->group_mu);

	group_run(s, &me, last);

	pthread_mutex_lock(&s->group_mu);
	s->queue = last->next;
	if (!s->queue)
		s->queue_tail = &s->queue;
	for (struct write_req *r = &me, *next; r; r = next) {
		next = r == last ? NULL : r->next;
		r->done = true; /* r may return as soon as the lock is released */
	}
	pthread_cond_broadcast(&s->group_cv);
	pthread_mutex_unlock(&s->group_mu);
	return me.rc;
}

static void sq_pool_stats(struct store *base, struct store_stats *out)
{
	struct sqlite_store *s = handle(base);
	size_t users;

	pthread_mutex_lock(&s->mu);
	out->pool_open = s->nopen;
	out->pool_in_use = s->nopen - s->nidle;
	out->pool_max = POOL_MAX;
	out->pool_waits = s->waits;
	out->pool_timeouts = s->timeouts;
	pthread_mutex_unlock(&s->mu);
	vector_cache_usage(base, &users, &out->vector_cache_bytes);
}

/* ---------------------------------------------------------------- open/close */

/*
 * "sqlite:///" + path, as SQLAlchemy reads it: sqlite:///data/x.db is the
 * relative data/x.db, sqlite:////tmp/x.db the absolute /tmp/x.db. Caller
 * frees *out.
 */
static enum verr url_path(const char *url, char **out, struct verror *err)
{
	static const char prefix[] = "sqlite:///";

	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return verr_set(err, VERR_INVALID,
		                "SQLite URL must be sqlite:///relative/path or "
		                "sqlite:////absolute/path");
	const char *path = url + sizeof(prefix) - 1;
	if (*path == '\0')
		return verr_set(err, VERR_INVALID, "SQLite URL has an empty path");
	/* Every pooled connection would get a database of its own. */
	if (strcmp(path, ":memory:") == 0)
		return verr_set(err, VERR_INVALID,
		                "in-memory SQLite is not supported; give a file");
	*out = xstrdup(path);
	return VERR_OK;
}

/* mkdir -p of the directory holding path (private to the owner: notes live there). */
static enum verr make_parent_dirs(const char *path, struct verror *err)
{
	char *dir = xstrdup(path);
	enum verr rc = VERR_OK;
	char *slash = strrchr(dir, '/');

	if (!slash || slash == dir)
		goto out;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		struct stat st;
		if (mkdir(dir, 0700) != 0 && errno != EEXIST &&
		    !(stat(dir, &st) == 0 && S_ISDIR(st.st_mode))) {
			rc = verr_set(err, VERR_UNAVAILABLE, "cannot create directory %s: %s", dir,
			              strerror(errno));
			goto out;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
out:
	free(dir);
	return rc;
}

static void sq_close(struct store *base)
{
	struct sqlite_store *s = handle(base);
	if (!s)
		return;
	assert(s->nidle == s->nopen); /* no operation may outlive the handle */
	for (int i = 0; i < s->nidle; i++)
		conn_close(s->idle[i]);
	vector_cache_free(s->vectors);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->write_mu);
	pthread_mutex_destroy(&s->group_mu);
	pthread_cond_destroy(&s->group_cv);
	free(s->path);
	free(s);
}

/*
 * SQLite counts every allocation under one process-wide mutex unless told
 * not to; vault never reads the counts, and with many connections busy the
 * lock was a hot spot of searches. Only possible before SQLite starts: if
 * something else started it first, it stays on, which is merely slower.
 */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static enum verr sq_open(const char *url, const struct store_opts *opts, struct store **out,
                         struct verror *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sqlite_setup);
	struct sqlite_store *s = NULL;
	char *path = NULL;
	struct sq_conn *c = NULL;
	pthread_condattr_t ca;
	enum verr rc;

	*out = NULL;
	if ((rc = url_path(url, &path, err)) || (rc = make_parent_dirs(path, err)))
		goto out;

	s = xcalloc(1, sizeof(*s));
	s->base.drv = &sqlite_driver;
	s->path = path;
	path = NULL;
	s->busy_timeout_ms =
	    opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : BUSY_TIMEOUT_DEFAULT_MS;
	s->synchronous_normal = opts && opts->synchronous_normal;
	s->echo = opts && opts->echo;
	s->vectors =
	    vector_cache_new(opts && opts->vector_cache_bytes ? opts->vector_cache_bytes
	                                                      : VECTOR_CACHE_DEFAULT_BYTES);

	/* The pool waits with a monotonic deadline, immune to clock steps. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	pthread_mutex_init(&s->group_mu, NULL);
	pthread_cond_init(&s->group_cv, NULL);
	s->queue_tail = &s->queue;

	/* Open one connection now, so a bad path fails at start-up, not on a request. */
	if ((rc = conn_open(s, &c, err)))
		goto out;
	s->idle[s->nidle++] = c;
	s->nopen = 1;
	*out = &s->base;
	s = NULL;
out:
	if (s)
		sq_close(&s->base);
	free(path);
	return rc;
}

static int sq_vector_dim(const struct store *s)
{
	(void)s;
	return 0; /* a blob of any length */
}

extern const struct migration sqlite_migrations[];

const struct driver sqlite_driver = {
    .name = "sqlite",
    .caps = DB_TAG_ROWS | DB_FTS_ROWS,
    .migrations = sqlite_migrations,
    .open = sq_open,
    .close = sq_close,
    .vector_dim = sq_vector_dim,
    .conn_get = sq_conn_get,
    .conn_put = sq_conn_put,
    .write = sq_write,
    .pool_stats = sq_pool_stats,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .bind_i64 = sq_bind_i64,
    .bind_text = sq_bind_text,
    .bind_null = sq_bind_null,
    .bind_texts = sq_bind_texts,
    .bind_ids = sq_bind_ids,
    .bind_vector = sq_bind_vector,
    .step = sq_step,
    .col_i64 = sq_col_i64,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
    .col_null = sq_col_null,
    .reset = sq_reset,
    .keyword_query = sqlite_fts_match,
    .vector_search = sqlite_vector_search,
};
