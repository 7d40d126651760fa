/*
 * store_sqlite.c - the SQLite backend of the repository interface (store.h).
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
 * For search, a note's write also replaces its chunks (the embedding
 * queue, vectors kept for unchanged text), its keyword index row, its
 * owner's keyword statistics and index version, all in the note's
 * transaction; the schema and its indexes are described in
 * sqlite_migrations.c, the keyword index (one per user inside one FTS5
 * table) in sqlite_fts.c.
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
#include "core/timeutil.h"
#include "store/backend.h"
#include "store/sqlite_fts.h"
#include "store/sqlite_migrations.h"

#define POOL_MAX                16
#define BUSY_TIMEOUT_DEFAULT_MS 5000

/* ---------------------------------------------------------------- statements */

enum query {
	Q_BEGIN,
	Q_BEGIN_IMMEDIATE,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_PING,
	Q_MIG_TABLE_EXISTS,
	Q_MIG_LIST,
	Q_MIG_APPLIED,
	Q_MIG_INSERT,
	Q_MIG_DELETE,
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
	Q_TAG_INSERT,
	Q_NOTE_GET,
	Q_NOTE_TAGS,
	Q_NOTE_UPDATE,
	Q_TAGS_DELETE,
	Q_NOTE_DELETE,
	Q_NOTE_COUNT,
	Q_NOTE_PAGE,
	Q_NOTE_COUNT_TAGGED,
	Q_NOTE_PAGE_TAGGED,
	Q_PAGE_TAGS,
	Q_NOTE_EMBED_STATUS,
	Q_NOTES_MANY,
	Q_NOTE_IDS,
	Q_NOTE_IDS_TAGGED,
	Q_NOTE_CHUNKS,
	Q_FTS_PUT,
	Q_FTS_DOCLEN,
	Q_FTS_STATS,
	Q_VERSION_BUMP,
	Q_VERSION_BUMP_ALL,
	Q_USAGE,
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
	Q_VECTORS_COUNT,
	Q_VECTORS_LOAD,
	Q_KEYWORD,
	Q_KEYWORD_TAGGED,
	Q__COUNT
};

/* A connection tracks the statements an operation touched in a 64-bit mask. */
_Static_assert(Q__COUNT <= 64, "too many cached statements for conn.used");

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

#define NOTE_COLUMNS "id, title, content, created_at, updated_at, " EMBED_STATUS

/*
 * BM25 on user ?1's own statistics (sqlite_fts.c), with the weights of the
 * notes_fts columns: title, content, tags, user_id. The subqueries are
 * evaluated once per statement.
 */
#define FTS_RANK                                                                                   \
	"vault_bm25(notes_fts, (SELECT docs FROM keyword_stats WHERE user_id = ?1), "              \
	"(SELECT tokens FROM keyword_stats WHERE user_id = ?1), 10.0, 1.0, 5.0, 0.0)"
#define FTS_OWNER SQLITE_FTS_OWNER("?5")

static const char *const query_sql[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN",
    [Q_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_PING] = "SELECT 1",

    [Q_MIG_TABLE_EXISTS] = "SELECT 1 FROM sqlite_master "
                           "WHERE type = 'table' AND name = 'schema_migrations'",
    [Q_MIG_LIST] = "SELECT version, applied_at FROM schema_migrations ORDER BY version",
    [Q_MIG_APPLIED] = "SELECT 1 FROM schema_migrations WHERE version = ?1",
    [Q_MIG_INSERT] = "INSERT INTO schema_migrations (version, name, applied_at) "
                     "VALUES (?1, ?2, ?3)",
    [Q_MIG_DELETE] = "DELETE FROM schema_migrations WHERE version = ?1",

    [Q_USER_INSERT] = "INSERT INTO users (email, password_hash, created_at) VALUES (?1, ?2, ?3)",
    [Q_USER_GET] = "SELECT id, email, password_hash, created_at FROM users WHERE id = ?1",
    [Q_USER_BY_EMAIL] = "SELECT id, email, password_hash, created_at FROM users "
                        "WHERE email = ?1",
    [Q_USER_LIST] = "SELECT id, email, password_hash, created_at FROM users ORDER BY id",
    [Q_USER_DELETE] = "DELETE FROM users WHERE id = ?1",

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

    [Q_NOTE_INSERT] = "INSERT INTO notes (user_id, title, content, created_at, updated_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?4)",
    [Q_TAG_INSERT] = "INSERT INTO note_tags (note_id, user_id, tag, position) "
                     "VALUES (?1, ?2, ?3, ?4)",
    [Q_NOTE_GET] = "SELECT " NOTE_COLUMNS " FROM notes WHERE id = ?1 AND user_id = ?2",
    [Q_NOTE_TAGS] = "SELECT tag FROM note_tags WHERE note_id = ?1 ORDER BY position",
    [Q_NOTE_UPDATE] = "UPDATE notes SET title = ?3, content = ?4, "
                      "updated_at = MAX(?5, updated_at + 1) "
                      "WHERE id = ?1 AND user_id = ?2 AND (?6 = 0 OR updated_at = ?6) "
                      "RETURNING created_at, updated_at",
    [Q_TAGS_DELETE] = "DELETE FROM note_tags WHERE note_id = ?1",
    [Q_NOTE_DELETE] = "DELETE FROM notes WHERE id = ?1 AND user_id = ?2",
    [Q_NOTE_COUNT] = "SELECT COUNT(*) FROM notes WHERE user_id = ?1",
    [Q_NOTE_PAGE] = "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = ?1 "
                    "ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    [Q_NOTE_COUNT_TAGGED] = "SELECT COUNT(*) FROM (" TAGGED_NOTE_IDS("2") ")",
    [Q_NOTE_PAGE_TAGGED] =
        "SELECT " NOTE_COLUMNS " FROM notes WHERE user_id = ?1 "
        "AND id IN (" TAGGED_NOTE_IDS("4") ") "
                                           "ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    /* The tags of a whole page at once; ?1 is a JSON array of note ids. */
    [Q_PAGE_TAGS] = "SELECT note_id, tag FROM note_tags "
                    "WHERE note_id IN (SELECT value FROM json_each(?1)) "
                    "ORDER BY note_id, position",
    [Q_NOTE_EMBED_STATUS] = "SELECT " EMBED_STATUS " FROM notes WHERE id = ?1",
    /*
     * ?2 is a JSON array of note ids. The + keeps the planner off
     * notes_user_created, which would walk all the user's notes.
     */
    [Q_NOTES_MANY] = "SELECT " NOTE_COLUMNS " FROM notes WHERE "
                     "id IN (SELECT value FROM json_each(?2)) AND +user_id = ?1",
    [Q_NOTE_IDS] = "SELECT id FROM notes WHERE user_id = ?1 ORDER BY id",
    [Q_NOTE_IDS_TAGGED] = TAGGED_NOTE_IDS("2") " ORDER BY note_id",
    /* One row with a NULL chunk id: the note has no chunks; no row: no such note. */
    [Q_NOTE_CHUNKS] = "SELECT c.id, c.text FROM notes n LEFT JOIN chunks c ON c.note_id = n.id "
                      "WHERE n.id = ?2 AND n.user_id = ?1 ORDER BY c.seq",

    /*
     * The keyword index row of a note, new or replaced, each value behind
     * its owner's marker; the trigger deletes it. Then its owner's
     * statistics: ?2 notes more, and the row's tokens less ?3 (those of
     * the row it replaced).
     */
    [Q_FTS_PUT] = "INSERT OR REPLACE INTO notes_fts (rowid, title, content, tags, user_id) "
                  "VALUES (?1, " FTS_OWNER " || ?2, " FTS_OWNER " || ?3, " FTS_OWNER " || ?4, ?5)",
    [Q_FTS_DOCLEN] = "SELECT vault_doclen(sz) FROM notes_fts_docsize WHERE id = ?1",
    [Q_FTS_STATS] = "INSERT INTO keyword_stats (user_id, docs, tokens) "
                    "SELECT ?1, ?2, vault_doclen(sz) - ?3 FROM notes_fts_docsize WHERE id = ?4 "
                    "ON CONFLICT (user_id) DO UPDATE SET docs = docs + excluded.docs, "
                    "tokens = tokens + excluded.tokens",
    [Q_VERSION_BUMP] = "UPDATE users SET index_version = index_version + 1 WHERE id = ?1",
    [Q_USAGE] = "SELECT notes_count, notes_bytes FROM users WHERE id = ?1",
    [Q_VERSION_BUMP_ALL] = "UPDATE users SET index_version = index_version + 1",
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
    [Q_EMBED_DONE] = "UPDATE chunks SET status = 1, model = ?3, dim = ?4, embedding = ?5, "
                     "error = NULL, updated_at = ?6 WHERE id = ?1 AND hash = ?2 "
                     "RETURNING user_id",
    [Q_EMBED_FAILED] = "UPDATE chunks SET attempts = attempts + 1, error = ?3, status = ?4, "
                       "next_attempt_at = ?5 WHERE id = ?1 AND hash = ?2 AND status = 0 "
                       "RETURNING user_id",
    /*
     * The next ?3 chunks of user ?1 (0: of everyone) after id ?2, walking
     * the table in rowid order: one pass over it in all, whatever the
     * number of batches.
     */
    [Q_REINDEX_BATCH] = "UPDATE chunks SET status = 0, attempts = 0, next_attempt_at = 0, "
                        "error = NULL WHERE id IN (SELECT id FROM chunks WHERE id > ?2 AND "
                        "(?1 = 0 OR user_id = ?1) ORDER BY id LIMIT ?3) RETURNING id",
    /* Covered by chunks_user. */
    [Q_INDEX_STATUS] = "SELECT SUM(status = 0), SUM(status = 1), SUM(status = 2), "
                       "SUM(status = 1 AND (model IS NOT ?2 OR dim IS NOT ?3)) "
                       "FROM chunks WHERE user_id = ?1",
    /* Only embed_done sets model, always with a vector, whatever the status after. */
    [Q_VECTORS_COUNT] = "SELECT COUNT(*) FROM chunks WHERE user_id = ?1 AND model = ?2 "
                        "AND dim = ?3",
    [Q_VECTORS_LOAD] = "SELECT id, note_id, embedding FROM chunks WHERE user_id = ?1 "
                       "AND model = ?2 AND dim = ?3 ORDER BY note_id, seq",
    /* BM25 is lower-is-better; ties go to the older note, for a stable order. */
    [Q_KEYWORD] = "SELECT rowid, " FTS_RANK " AS r FROM notes_fts WHERE notes_fts MATCH ?2 "
                  "AND user_id = ?1 ORDER BY r, rowid LIMIT ?3",
    [Q_KEYWORD_TAGGED] = "SELECT rowid, " FTS_RANK " AS r FROM notes_fts "
                         "WHERE notes_fts MATCH ?2 AND user_id = ?1 "
                         "AND rowid IN (" TAGGED_NOTE_IDS("4") ") ORDER BY r, rowid LIMIT ?3",
};

/* ---------------------------------------------------------------- handle */

struct conn {
	sqlite3 *db;
	uint64_t used; /* bit q set: stmts[q] was used by the current operation */
	int bind_rc;   /* first failed bind of the current statement, else SQLITE_OK */
	sqlite3_stmt *stmts[Q__COUNT];
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

	/*
	 * Writers of this process queue here rather than in SQLite's busy
	 * handler, which sleeps in growing steps and made a few writes under
	 * load wait seconds. Other processes still meet the busy timeout.
	 */
	pthread_mutex_t write_mu;
	pthread_mutex_t mu; /* guards the pool below */
	pthread_cond_t cv;  /* signalled when a connection is returned or a slot frees */
	int nopen;          /* connections open or being opened, <= POOL_MAX */
	int nidle;
	struct conn *idle[POOL_MAX]; /* a stack: the warmest connection goes out first */
};

static struct sqlite_store *handle(struct store *s)
{
	return (struct sqlite_store *)s;
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
static enum verr db_error(struct conn *c, int rc, struct verror *err)
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

/*
 * The cached statement for q on c, prepared on first use. It is reset and its
 * bindings cleared when the connection goes back to the pool.
 */
static enum verr prepare(struct conn *c, enum query q, sqlite3_stmt **out, struct verror *err)
{
	if (!c->stmts[q]) {
		int rc = sqlite3_prepare_v3(c->db, query_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
		                            &c->stmts[q], NULL);
		if (rc != SQLITE_OK)
			return db_error(c, rc, err);
	}
	c->used |= UINT64_C(1) << q;
	*out = c->stmts[q];
	return VERR_OK;
}

/*
 * Binds never fail for our statements short of a string over SQLite's
 * length limit; such a failure is kept in c->bind_rc and reported by the
 * next step, so call sites stay one line per value.
 */
static void bind_result(struct conn *c, int rc)
{
	if (rc != SQLITE_OK && c->bind_rc == SQLITE_OK)
		c->bind_rc = rc;
}

static void bind_i64(struct conn *c, sqlite3_stmt *st, int i, int64_t v)
{
	bind_result(c, sqlite3_bind_int64(st, i, v));
}

/* A count from the caller's size_t; past INT64_MAX means "no limit" anyway. */
static void bind_size(struct conn *c, sqlite3_stmt *st, int i, size_t v)
{
	bind_i64(c, st, i, v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* p must stay valid until the statement is reset (SQLITE_STATIC). */
static void bind_blob(struct conn *c, sqlite3_stmt *st, int i, const void *p, size_t n)
{
	bind_result(c, sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC));
}

/* s must stay valid until the statement is reset (SQLITE_STATIC); NULL binds "". */
static void bind_text(struct conn *c, sqlite3_stmt *st, int i, const char *s)
{
	bind_result(c, sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC));
}

/* Steps st once: *row tells SQLITE_ROW from SQLITE_DONE; anything else is an error. */
static enum verr step(struct conn *c, sqlite3_stmt *st, bool *row, struct verror *err)
{
	*row = false;
	if (c->bind_rc != SQLITE_OK) {
		int rc = c->bind_rc;
		c->bind_rc = SQLITE_OK;
		return db_error(c, rc, err);
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*row = true;
		return VERR_OK;
	}
	if (rc == SQLITE_DONE)
		return VERR_OK;
	return db_error(c, rc, err);
}

/* Steps st through its remaining rows, then resets it for its next use. */
static enum verr finish(struct conn *c, sqlite3_stmt *st, struct verror *err)
{
	bool row;
	enum verr rc;
	do
		rc = step(c, st, &row, err);
	while (rc == VERR_OK && row);
	sqlite3_reset(st);
	return rc;
}

/* Runs a statement that takes no parameters (BEGIN, COMMIT, ...). */
static enum verr run_query(struct conn *c, enum query q, struct verror *err)
{
	sqlite3_stmt *st = NULL;
	enum verr rc = prepare(c, q, &st, err);
	return rc ? rc : finish(c, st, err);
}

static char *column_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrndup((const char *)t, (size_t)sqlite3_column_bytes(st, i)) : xstrdup("");
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
	struct conn *c = ctx;
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

static void conn_close(struct conn *c)
{
	if (!c)
		return;
	for (int q = 0; q < Q__COUNT; q++)
		sqlite3_finalize(c->stmts[q]);
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
static enum verr conn_open(struct sqlite_store *s, struct conn **out, struct verror *err)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	char mode[16] = "";
	enum verr rc = VERR_OK;

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
static enum verr conn_get(struct sqlite_store *s, struct conn **out, struct verror *err)
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
		}
		if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT &&
		    s->nidle == 0 && s->nopen >= POOL_MAX) {
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
static void conn_put(struct sqlite_store *s, struct conn *c)
{
	if (!c)
		return;
	for (uint64_t m = c->used; m; m &= m - 1) {
		sqlite3_stmt *st = c->stmts[__builtin_ctzll(m)];
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	c->used = 0;
	c->bind_rc = SQLITE_OK;

	if (!sqlite3_get_autocommit(c->db)) {
		run_query(c, Q_ROLLBACK, NULL);
		sqlite3_reset(c->stmts[Q_ROLLBACK]);
		c->used = 0;
	}
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

/* Borrows a connection for a write: as conn_get, then waits its turn to write. */
/*
 * Borrows a connection for a write. The turn to write comes first, so
 * queued writers never hold connections that readers need; waiting longer
 * than the busy timeout is VERR_UNAVAILABLE, as in SQLite itself.
 */
static enum verr conn_get_writer(struct sqlite_store *s, struct conn **out, struct verror *err)
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
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->write_mu);
	free(s->path);
	free(s);
}

static enum verr sq_open(const char *url, const struct store_opts *opts, struct store **out,
                         struct verror *err)
{
	struct sqlite_store *s = NULL;
	char *path = NULL;
	struct conn *c = NULL;
	pthread_condattr_t ca;
	enum verr rc;

	*out = NULL;
	if ((rc = url_path(url, &path, err)) || (rc = make_parent_dirs(path, err)))
		goto out;

	s = xcalloc(1, sizeof(*s));
	s->base.ops = &store_sqlite_ops;
	s->path = path;
	path = NULL;
	s->busy_timeout_ms =
	    opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : BUSY_TIMEOUT_DEFAULT_MS;
	s->synchronous_normal = opts && opts->synchronous_normal;
	s->echo = opts && opts->echo;

	/* The pool waits with a monotonic deadline, immune to clock steps. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->write_mu, NULL);

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

static enum verr sq_ping(struct store *base, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c;
	enum verr rc = conn_get(s, &c, err);
	if (rc)
		return rc;
	rc = run_query(c, Q_PING, err);
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- migrations */

static int latest_version(void)
{
	return sqlite_nmigrations ? sqlite_migrations[sqlite_nmigrations - 1].version : 0;
}

static const char *const migrations_table_sql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)";

/*
 * Reads schema_migrations: applied_at[i] for each known migration (0 if not
 * applied) and *current, the highest version recorded, known to this build
 * or not. A database without the table is at version 0.
 */
static enum verr read_applied(struct conn *c, int64_t *applied_at, int *current, struct verror *err)
{
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	memset(applied_at, 0, sqlite_nmigrations * sizeof(*applied_at));
	*current = 0;
	if ((rc = prepare(c, Q_MIG_TABLE_EXISTS, &st, err)) || (rc = step(c, st, &row, err)))
		return rc;
	sqlite3_reset(st);
	if (!row)
		return VERR_OK;

	if ((rc = prepare(c, Q_MIG_LIST, &st, err)))
		return rc;
	while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
		int version = sqlite3_column_int(st, 0);
		if (version > *current)
			*current = version;
		for (size_t i = 0; i < sqlite_nmigrations; i++)
			if (sqlite_migrations[i].version == version)
				applied_at[i] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc;
}

/*
 * Applies (up) or reverts one migration together with its schema_migrations
 * row, in one transaction. Already in the wanted state (another process got
 * there first): nothing happens and *done is false.
 */
static enum verr migration_step(struct conn *c, const struct sqlite_migration *m, bool up,
                                bool *done, struct verror *err)
{
	sqlite3_stmt *st = NULL;
	bool applied;
	enum verr rc;
	int src;

	*done = false;
	if ((rc = run_query(c, Q_BEGIN_IMMEDIATE, err)) ||
	    (rc = prepare(c, Q_MIG_APPLIED, &st, err)))
		return rc;
	bind_i64(c, st, 1, m->version);
	if ((rc = step(c, st, &applied, err)))
		return rc;
	sqlite3_reset(st);
	if (applied == up)
		return run_query(c, Q_COMMIT, err);

	if ((src = sqlite3_exec(c->db, up ? m->up : m->down, NULL, NULL, NULL)) != SQLITE_OK)
		return db_error(c, src, err);
	if (up) {
		if ((rc = prepare(c, Q_MIG_INSERT, &st, err)))
			return rc;
		bind_i64(c, st, 1, m->version);
		bind_text(c, st, 2, m->name);
		bind_i64(c, st, 3, time_now_ms());
	} else {
		if ((rc = prepare(c, Q_MIG_DELETE, &st, err)))
			return rc;
		bind_i64(c, st, 1, m->version);
	}
	if ((rc = finish(c, st, err)) || (rc = run_query(c, Q_COMMIT, err)))
		return rc;
	*done = true;
	log_emit(LOG_INFO, "migration",
	         json_pack("{s:i,s:s,s:s}", "version", m->version, "name", m->name, "direction",
	                   up ? "up" : "down"));
	return VERR_OK;
}

static enum verr sq_migrate_up(struct store *base, int target, int *applied, struct verror *err)
{
	struct sqlite_store *s = handle(base);
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
	if ((rc = conn_get_writer(s, &c, err)))
		goto out;
	int src = sqlite3_exec(c->db, migrations_table_sql, NULL, NULL, NULL);
	if (src != SQLITE_OK) {
		rc = db_error(c, src, err);
		goto out;
	}
	for (size_t i = 0; i < sqlite_nmigrations && sqlite_migrations[i].version <= target; i++) {
		bool done;
		if ((rc = migration_step(c, &sqlite_migrations[i], true, &done, err)))
			goto out;
		n += done;
	}
out:
	conn_put(s, c);
	if (applied)
		*applied = n;
	return rc;
}

static enum verr sq_migrate_down(struct store *base, int target, int *reverted, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	int64_t *applied_at = xcalloc(sqlite_nmigrations, sizeof(*applied_at));
	struct conn *c = NULL;
	int current, n = 0;
	enum verr rc;

	if (target < -1) {
		rc = verr_set(err, VERR_INVALID, "no migration %d", target);
		goto out;
	}
	if ((rc = conn_get_writer(s, &c, err)) || (rc = read_applied(c, applied_at, &current, err)))
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
		for (size_t i = sqlite_nmigrations; i-- > 0;)
			if (applied_at[i]) {
				target = i ? sqlite_migrations[i - 1].version : 0;
				break;
			}
	}
	for (size_t i = sqlite_nmigrations; i-- > 0 && sqlite_migrations[i].version > target;) {
		bool done;
		if (!applied_at[i])
			continue;
		if ((rc = migration_step(c, &sqlite_migrations[i], false, &done, err)))
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

static enum verr sq_migrate_status(struct store *base, struct migration_info **out, size_t *n,
                                   struct verror *err)
{
	struct sqlite_store *s = handle(base);
	int64_t *applied_at = xcalloc(sqlite_nmigrations, sizeof(*applied_at));
	struct conn *c = NULL;
	int current;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = conn_get(s, &c, err)) || (rc = read_applied(c, applied_at, &current, err)))
		goto out;
	*out = xcalloc(sqlite_nmigrations, sizeof(**out));
	for (size_t i = 0; i < sqlite_nmigrations; i++)
		(*out)[i] = (struct migration_info){sqlite_migrations[i].version,
		                                    sqlite_migrations[i].name, applied_at[i]};
	*n = sqlite_nmigrations;
out:
	conn_put(s, c);
	free(applied_at);
	return rc;
}

static enum verr sq_schema_check(struct store *base, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	int64_t *applied_at = xcalloc(sqlite_nmigrations, sizeof(*applied_at));
	struct conn *c = NULL;
	int current, latest = latest_version();
	enum verr rc;

	if ((rc = conn_get(s, &c, err)) || (rc = read_applied(c, applied_at, &current, err)))
		goto out;
	if (current > latest) {
		rc = verr_set(err, VERR_UNAVAILABLE,
		              "database schema is at version %d, newer than this build of vault "
		              "expects (%d): upgrade vault, or run `vault migrate down %d` with "
		              "the newer build",
		              current, latest, latest);
		goto out;
	}
	for (size_t i = 0; i < sqlite_nmigrations; i++)
		if (!applied_at[i]) {
			rc = verr_set(err, VERR_UNAVAILABLE,
			              "database schema is at version %d, expected %d: run `vault "
			              "migrate up`",
			              current, latest);
			goto out;
		}
out:
	conn_put(s, c);
	free(applied_at);
	return rc;
}

/* ---------------------------------------------------------------- users */

static enum verr read_user(sqlite3_stmt *st, struct user *u, struct verror *err)
{
	const unsigned char *email = sqlite3_column_text(st, 1);
	size_t email_len = (size_t)sqlite3_column_bytes(st, 1);
	const unsigned char *hash = sqlite3_column_text(st, 2);
	size_t hash_len = (size_t)sqlite3_column_bytes(st, 2);

	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	if (!email || !hash || email_len > STORE_EMAIL_MAX || hash_len >= STORE_HASH_MAX)
		return verr_set(err, VERR_INTERNAL, "user %" PRId64 " has a malformed row", u->id);
	memcpy(u->email, email, email_len);
	memcpy(u->password_hash, hash, hash_len);
	u->created_at = sqlite3_column_int64(st, 3);
	return VERR_OK;
}

static enum verr sq_user_create(struct store *base, const char *email, const char *password_hash,
                                int64_t now, struct user *out, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (strlen(email) > STORE_EMAIL_MAX)
		return verr_set(err, VERR_INVALID, "e-mail longer than %d bytes", STORE_EMAIL_MAX);
	if (strlen(password_hash) >= STORE_HASH_MAX)
		return verr_set(err, VERR_INVALID, "password hash longer than %d bytes",
		                STORE_HASH_MAX - 1);
	if ((rc = conn_get_writer(s, &c, err)) || (rc = prepare(c, Q_USER_INSERT, &st, err)))
		goto out;
	bind_text(c, st, 1, email);
	bind_text(c, st, 2, password_hash);
	bind_i64(c, st, 3, now);
	if ((rc = finish(c, st, err)))
		goto out;
	out->id = sqlite3_last_insert_rowid(c->db);
	strcpy(out->email, email);
	strcpy(out->password_hash, password_hash);
	out->created_at = now;
out:
	conn_put(s, c);
	return rc;
}

/* Runs a user lookup (q binds ?1 from id or key) and reads the one row. */
static enum verr user_lookup(struct sqlite_store *s, enum query q, int64_t id, const char *key,
                             struct user *out, struct verror *err)
{
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = conn_get(s, &c, err)) || (rc = prepare(c, q, &st, err)))
		goto out;
	if (key)
		bind_text(c, st, 1, key);
	else
		bind_i64(c, st, 1, id);
	if ((rc = step(c, st, &row, err)))
		goto out;
	if (!row)
		rc = verr_set(err, VERR_NOT_FOUND, "no such user");
	else
		rc = read_user(st, out, err);
out:
	conn_put(s, c);
	return rc;
}

static enum verr sq_user_get(struct store *base, int64_t id, struct user *out, struct verror *err)
{
	return user_lookup(handle(base), Q_USER_GET, id, NULL, out, err);
}

static enum verr sq_user_get_by_email(struct store *base, const char *email, struct user *out,
                                      struct verror *err)
{
	return user_lookup(handle(base), Q_USER_BY_EMAIL, 0, email, out, err);
}

static enum verr sq_user_list(struct store *base, struct user **out, size_t *n, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	struct user *users = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = conn_get(s, &c, err)) || (rc = prepare(c, Q_USER_LIST, &st, err)))
		goto out;
	while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			users = xrealloc(users, cap * sizeof(*users));
		}
		if ((rc = read_user(st, &users[len], err)))
			goto out;
		len++;
	}
	if (rc)
		goto out;
	*out = users;
	*n = len;
	users = NULL;
out:
	conn_put(s, c);
	free(users);
	return rc;
}

/* The foreign keys cascade to the user's notes, their tags and refresh tokens. */
static enum verr sq_user_delete(struct store *base, int64_t id, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	enum verr rc;

	if ((rc = conn_get_writer(s, &c, err)) || (rc = prepare(c, Q_USER_DELETE, &st, err)))
		goto out;
	bind_i64(c, st, 1, id);
	if ((rc = finish(c, st, err)))
		goto out;
	if (sqlite3_changes(c->db) == 0)
		rc = verr_set(err, VERR_NOT_FOUND, "no such user");
out:
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- refresh tokens */

static enum verr token_insert(struct conn *c, int64_t user_id, const char *family,
                              const char *token_hash, int64_t expires_at, int64_t now,
                              struct verror *err)
{
	sqlite3_stmt *st = NULL;
	enum verr rc = prepare(c, Q_TOKEN_INSERT, &st, err);
	if (rc)
		return rc;
	bind_i64(c, st, 1, user_id);
	bind_text(c, st, 2, family);
	bind_text(c, st, 3, token_hash);
	bind_i64(c, st, 4, expires_at);
	bind_i64(c, st, 5, now);
	return finish(c, st, err);
}

static enum verr revoke_family(struct conn *c, const char *family, int64_t now, struct verror *err)
{
	sqlite3_stmt *st = NULL;
	enum verr rc = prepare(c, Q_TOKEN_REVOKE_FAMILY, &st, err);
	if (rc)
		return rc;
	bind_i64(c, st, 1, now);
	bind_text(c, st, 2, family);
	return finish(c, st, err);
}

static enum verr sq_token_insert(struct store *base, int64_t user_id, const char *family,
                                 const char *token_hash, int64_t expires_at, int64_t now,
                                 struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c;
	sqlite3_stmt *st = NULL;
	enum verr rc = conn_get_writer(s, &c, err);
	if (rc)
		return rc;
	/* A login clears the user's expired tokens, so the table does not grow forever. */
	if ((rc = prepare(c, Q_TOKENS_EXPIRED, &st, err)) == VERR_OK) {
		bind_i64(c, st, 1, user_id);
		bind_i64(c, st, 2, now);
		if ((rc = finish(c, st, err)) == VERR_OK)
			rc = token_insert(c, user_id, family, token_hash, expires_at, now, err);
	}
	conn_put(s, c);
	return rc;
}

/*
 * One write transaction. Q_TOKEN_USE marks the token used only if it is
 * still valid; BEGIN IMMEDIATE serialises rotations, so of two concurrent
 * callers the second finds used_at set and is treated as a reuse.
 */
static enum verr sq_token_rotate(struct store *base, const char *old_hash, const char *new_hash,
                                 int64_t new_expires_at, int64_t now, int64_t grace_ms,
                                 int64_t *user_id, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	char *family = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	if ((rc = conn_get_writer(s, &c, err)) || (rc = run_query(c, Q_BEGIN_IMMEDIATE, err)) ||
	    (rc = prepare(c, Q_TOKEN_USE, &st, err)))
		goto out;
	bind_i64(c, st, 1, now);
	bind_text(c, st, 2, old_hash);
	if ((rc = step(c, st, &row, err)))
		goto out;
	if (row) {
		int64_t uid = sqlite3_column_int64(st, 0);
		family = column_dup(st, 1);
		if ((rc = finish(c, st, err)) ||
		    (rc = token_insert(c, uid, family, new_hash, new_expires_at, now, err)) ||
		    (rc = run_query(c, Q_COMMIT, err)))
			goto out;
		*user_id = uid;
		goto out;
	}
	sqlite3_reset(st);

	/* Not usable: find out why. Nothing is written unless it is a reuse. */
	if ((rc = prepare(c, Q_TOKEN_LOOKUP, &st, err)))
		goto out;
	bind_text(c, st, 1, old_hash);
	if ((rc = step(c, st, &row, err)))
		goto out;
	if (!row) {
		rc = verr_set(err, VERR_UNAUTHORIZED, "unknown refresh token");
		goto out;
	}
	int64_t uid = sqlite3_column_int64(st, 0);
	bool used = sqlite3_column_type(st, 2) != SQLITE_NULL;
	int64_t used_at = sqlite3_column_int64(st, 2);
	family = column_dup(st, 1);
	sqlite3_reset(st);
	if (!used) {
		rc = verr_set(err, VERR_UNAUTHORIZED, "refresh token expired or revoked");
		goto out;
	}
	if (used_at > now - grace_ms) {
		rc = verr_set(err, VERR_UNAUTHORIZED,
		              "refresh token rotated just now by another request");
		goto out;
	}
	if ((rc = revoke_family(c, family, now, err)) || (rc = run_query(c, Q_COMMIT, err)))
		goto out;
	log_emit(LOG_WARNING, "refresh_token_reuse",
	         json_pack("{s:I}", "user_id", (json_int_t)uid));
	rc = verr_set(err, VERR_UNAUTHORIZED, "refresh token reused: its family is revoked");
out:
	conn_put(s, c);
	free(family);
	return rc;
}

static enum verr sq_token_revoke_family(struct store *base, int64_t user_id, const char *token_hash,
                                        int64_t now, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	char *family = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	/* A family never changes and revoking is idempotent, so no transaction is needed. */
	if ((rc = conn_get_writer(s, &c, err)) || (rc = prepare(c, Q_TOKEN_FAMILY_OF, &st, err)))
		goto out;
	bind_text(c, st, 1, token_hash);
	bind_i64(c, st, 2, user_id);
	if ((rc = step(c, st, &row, err)))
		goto out;
	if (!row) {
		rc = verr_set(err, VERR_NOT_FOUND, "unknown refresh token");
		goto out;
	}
	family = column_dup(st, 0);
	sqlite3_reset(st);
	rc = revoke_family(c, family, now, err);
out:
	conn_put(s, c);
	free(family);
	return rc;
}

static enum verr sq_token_revoke_all(struct store *base, int64_t user_id, int64_t now,
                                     struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	enum verr rc;

	if ((rc = conn_get_writer(s, &c, err)) || (rc = prepare(c, Q_TOKEN_REVOKE_ALL, &st, err)))
		goto out;
	bind_i64(c, st, 1, now);
	bind_i64(c, st, 2, user_id);
	rc = finish(c, st, err);
out:
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- notes */

/* ["a","b"], for json_each(?) in a cached statement. Caller frees. */
static char *json_string_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string_nocheck(v[i]));
	char *out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (!out)
		abort(); /* only allocation can fail */
	return out;
}

/* [3,2,1]: ids[i] for i < n, each ids + i * stride bytes on. Caller frees. */
static char *json_id_array(const void *ids, size_t stride, size_t n)
{
	size_t cap = n * 21 + 3, len = 0;
	char *p = xmalloc(cap);

	p[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		memcpy(&id, (const char *)ids + i * stride, sizeof(id));
		len += (size_t)snprintf(p + len, cap - len, i ? ",%" PRId64 : "%" PRId64, id);
	}
	p[len++] = ']';
	p[len] = '\0';
	return p;
}

/* Appends tag to n->tags, whose capacity is ntags rounded up to a power of two. */
static void note_push_tag(struct note *n, char *tag)
{
	if ((n->ntags & (n->ntags - 1)) == 0)
		n->tags = xrealloc(n->tags, (n->ntags ? n->ntags * 2 : 1) * sizeof(*n->tags));
	n->tags[n->ntags++] = tag;
}

/* Reads the NOTE_COLUMNS of the current row into n (user_id is the caller's). */
static void note_read(sqlite3_stmt *st, int64_t user_id, struct note *n)
{
	n->id = sqlite3_column_int64(st, 0);
	n->user_id = user_id;
	n->title = column_dup(st, 1);
	n->content = column_dup(st, 2);
	n->created_at = sqlite3_column_int64(st, 3);
	n->updated_at = sqlite3_column_int64(st, 4);
	n->embedding_status = (enum embed_status)sqlite3_column_int(st, 5);
}

/* Stores in->tags for the note, position = index, inside the caller's transaction. */
static enum verr insert_tags(struct conn *c, int64_t note_id, int64_t user_id,
                             const struct note_input *in, struct verror *err)
{
	sqlite3_stmt *st = NULL;
	enum verr rc;

	if (in->ntags == 0)
		return VERR_OK;
	if ((rc = prepare(c, Q_TAG_INSERT, &st, err)))
		return rc;
	for (size_t i = 0; i < in->ntags; i++) {
		bind_i64(c, st, 1, note_id);
		bind_i64(c, st, 2, user_id);
		bind_text(c, st, 3, in->tags[i]);
		bind_i64(c, st, 4, (int64_t)i);
		if ((rc = finish(c, st, err)))
			return rc;
	}
	return VERR_OK;
}

/* Bumps the index version of user_id (0: of every user), inside the caller's transaction. */
/* The user's number of notes and their bytes (migration 4's triggers keep them). */
static enum verr usage(struct conn *c, int64_t user_id, int64_t use[2], struct verror *err)
{
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc = prepare(c, Q_USAGE, &st, err);
	if (rc)
		return rc;
	bind_i64(c, st, 1, user_id);
	if ((rc = step(c, st, &row, err)))
		return rc;
	use[0] = row ? sqlite3_column_int64(st, 0) : 0;
	use[1] = row ? sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	return VERR_OK;
}

/* After a write in c's transaction: VERR_FORBIDDEN if it took the user past in's quota. */
static enum verr quota(struct conn *c, int64_t user_id, const struct note_input *in,
                       const int64_t before[2], struct verror *err)
{
	int64_t after[2];
	enum verr rc = usage(c, user_id, after, err);
	return rc ? rc : store_quota_check(in, before[0], before[1], after[0], after[1], err);
}

static enum verr bump_version(struct conn *c, int64_t user_id, struct verror *err)
{
	sqlite3_stmt *st = NULL;
	enum verr rc = prepare(c, user_id ? Q_VERSION_BUMP : Q_VERSION_BUMP_ALL, &st, err);
	if (rc)
		return rc;
	if (user_id)
		bind_i64(c, st, 1, user_id);
	return finish(c, st, err);
}

/*
 * Writes the note's keyword index row, its tags joined by spaces, and moves
 * its owner's statistics by it; in the caller's transaction. fresh: a new
 * note, with no row to replace.
 */
static enum verr put_fts(struct conn *c, int64_t note_id, int64_t user_id,
                         const struct note_input *in, bool fresh, struct verror *err)
{
	struct sbuf tags = {0};
	sqlite3_stmt *st = NULL;
	int64_t old_len = 0;
	bool row = false; /* the note has a row to replace */
	enum verr rc;

	if (!fresh) {
		if ((rc = prepare(c, Q_FTS_DOCLEN, &st, err)))
			goto out;
		bind_i64(c, st, 1, note_id);
		if ((rc = step(c, st, &row, err)))
			goto out;
		old_len = row ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
	}
	sbuf_add(&tags, "", 0);
	for (size_t i = 0; i < in->ntags; i++) {
		if (i)
			sbuf_add(&tags, " ", 1);
		sbuf_add(&tags, in->tags[i], strlen(in->tags[i]));
	}
	if ((rc = prepare(c, Q_FTS_PUT, &st, err)))
		goto out;
	bind_i64(c, st, 1, note_id);
	bind_text(c, st, 2, in->title);
	bind_text(c, st, 3, in->content);
	bind_text(c, st, 4, tags.p);
	bind_i64(c, st, 5, user_id);
	if ((rc = finish(c, st, err)) || (rc = prepare(c, Q_FTS_STATS, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	bind_i64(c, st, 2, row ? 0 : 1);
	bind_i64(c, st, 3, old_len);
	bind_i64(c, st, 4, note_id);
	rc = finish(c, st, err);
out:
	free(tags.p);
	return rc;
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
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc = VERR_OK;

	if (!fresh) {
		if ((rc = prepare(c, Q_CHUNKS_DETACH, &st, err)))
			goto out;
		bind_i64(c, st, 1, note_id);
		while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
			if (nold == cap) {
				cap = cap ? 2 * cap : 16;
				old = xrealloc(old, cap * sizeof(*old));
			}
			old[nold++] = (struct old_chunk){sqlite3_column_int64(st, 0),
			                                 column_dup(st, 1), false};
		}
		sqlite3_reset(st);
		if (rc)
			goto out;
		store_old_chunks_sort(old, nold);
	}
	for (size_t i = 0; i < in->nchunks; i++) {
		const struct chunk_input *ch = &in->chunks[i];
		struct old_chunk *o = store_old_chunk_take(old, nold, ch->hash);
		if (o) {
			if ((rc = prepare(c, Q_CHUNK_REUSE, &st, err)))
				goto out;
			bind_i64(c, st, 1, o->id);
			bind_i64(c, st, 2, (int64_t)i);
			bind_text(c, st, 3, ch->heading);
			bind_text(c, st, 4, ch->text);
		} else {
			if ((rc = prepare(c, Q_CHUNK_INSERT, &st, err)))
				goto out;
			bind_i64(c, st, 1, note_id);
			bind_i64(c, st, 2, user_id);
			bind_i64(c, st, 3, (int64_t)i);
			bind_text(c, st, 4, ch->hash);
			bind_i64(c, st, 5, now);
			bind_text(c, st, 6, ch->heading);
			bind_text(c, st, 7, ch->text);
		}
		if ((rc = finish(c, st, err)))
			goto out;
	}
	if (nold > 0) {
		if ((rc = prepare(c, Q_CHUNKS_DROP_DETACHED, &st, err)))
			goto out;
		bind_i64(c, st, 1, note_id);
		rc = finish(c, st, err);
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
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc = prepare(c, Q_NOTE_EMBED_STATUS, &st, err);
	if (rc)
		return rc;
	bind_i64(c, st, 1, id);
	if ((rc = step(c, st, &row, err)) == VERR_OK)
		*out = row ? (enum embed_status)sqlite3_column_int(st, 0) : EMBED_READY;
	sqlite3_reset(st);
	return rc;
}

/*
 * One transaction: the note, its tags, its chunks (all pending) and its
 * keyword index row, and the owner's index version.
 */
static enum verr sq_note_create(struct store *base, int64_t user_id, const struct note_input *in,
                                int64_t now, struct note *out, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = store_chunks_check(in, err)))
		return rc;
	int64_t before[2];
	if ((rc = conn_get_writer(s, &c, err)) || (rc = run_query(c, Q_BEGIN_IMMEDIATE, err)) ||
	    (rc = usage(c, user_id, before, err)) || (rc = prepare(c, Q_NOTE_INSERT, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	bind_text(c, st, 2, in->title);
	bind_text(c, st, 3, in->content);
	bind_i64(c, st, 4, now);
	if ((rc = finish(c, st, err)))
		goto out;
	int64_t id = sqlite3_last_insert_rowid(c->db);
	if ((rc = quota(c, user_id, in, before, err)) ||
	    (rc = insert_tags(c, id, user_id, in, err)) ||
	    (rc = put_chunks(c, id, user_id, in, now, true, err)) ||
	    (rc = put_fts(c, id, user_id, in, true, err)) || (rc = bump_version(c, user_id, err)) ||
	    (rc = run_query(c, Q_COMMIT, err)))
		goto out;
	store_note_fill(out, id, user_id, in, now, now, in->nchunks ? EMBED_PENDING : EMBED_READY);
out:
	conn_put(s, c);
	return rc;
}

static enum verr sq_note_get(struct store *base, int64_t user_id, int64_t id, struct note *out,
                             struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	/* A read transaction, so the row and its tags come from one snapshot. */
	if ((rc = conn_get(s, &c, err)) || (rc = run_query(c, Q_BEGIN, err)) ||
	    (rc = prepare(c, Q_NOTE_GET, &st, err)))
		goto out;
	bind_i64(c, st, 1, id);
	bind_i64(c, st, 2, user_id);
	if ((rc = step(c, st, &row, err)))
		goto out;
	if (!row) {
		rc = verr_set(err, VERR_NOT_FOUND, "no such note");
		goto out;
	}
	note_read(st, user_id, out);
	sqlite3_reset(st);

	if ((rc = prepare(c, Q_NOTE_TAGS, &st, err)))
		goto out;
	bind_i64(c, st, 1, id);
	while ((rc = step(c, st, &row, err)) == VERR_OK && row)
		note_push_tag(out, column_dup(st, 0));
	sqlite3_reset(st);
	if (rc == VERR_OK)
		rc = run_query(c, Q_COMMIT, err);
out:
	if (rc)
		note_free(out);
	conn_put(s, c);
	return rc;
}

/* One transaction, as create; unchanged chunks keep their vectors (put_chunks). */
static enum verr sq_note_update(struct store *base, int64_t user_id, int64_t id,
                                const struct note_input *in, int64_t now, struct note *out,
                                struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	enum embed_status status;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = store_chunks_check(in, err)))
		return rc;
	int64_t before[2];
	if ((rc = conn_get_writer(s, &c, err)) || (rc = run_query(c, Q_BEGIN_IMMEDIATE, err)) ||
	    (rc = usage(c, user_id, before, err)) || (rc = prepare(c, Q_NOTE_UPDATE, &st, err)))
		goto out;
	bind_i64(c, st, 1, id);
	bind_i64(c, st, 2, user_id);
	bind_text(c, st, 3, in->title);
	bind_text(c, st, 4, in->content);
	bind_i64(c, st, 5, now);
	bind_i64(c, st, 6, in->if_updated_at);
	if ((rc = step(c, st, &row, err)))
		goto out;
	if (!row) {
		/* Missing, or changed since the caller read it. */
		sqlite3_reset(st);
		if ((rc = prepare(c, Q_NOTE_GET, &st, err)))
			goto out;
		bind_i64(c, st, 1, id);
		bind_i64(c, st, 2, user_id);
		if ((rc = step(c, st, &row, err)) == VERR_OK)
			rc = row ? verr_set(err, VERR_CONFLICT, "the note changed meanwhile")
			         : verr_set(err, VERR_NOT_FOUND, "no such note");
		goto out;
	}
	int64_t created_at = sqlite3_column_int64(st, 0);
	int64_t updated_at = sqlite3_column_int64(st, 1);
	if ((rc = finish(c, st, err)) || (rc = quota(c, user_id, in, before, err)) ||
	    (rc = prepare(c, Q_TAGS_DELETE, &st, err)))
		goto out;
	bind_i64(c, st, 1, id);
	if ((rc = finish(c, st, err)) || (rc = insert_tags(c, id, user_id, in, err)) ||
	    (rc = put_chunks(c, id, user_id, in, now, false, err)) ||
	    (rc = put_fts(c, id, user_id, in, false, err)) ||
	    (rc = bump_version(c, user_id, err)) || (rc = note_embed_status(c, id, &status, err)) ||
	    (rc = run_query(c, Q_COMMIT, err)))
		goto out;
	store_note_fill(out, id, user_id, in, created_at, updated_at, status);
out:
	conn_put(s, c);
	return rc;
}

/*
 * Deleting the row cascades to its tags and chunks; the trigger
 * notes_fts_delete removes its keyword index row.
 */
static enum verr sq_note_delete(struct store *base, int64_t user_id, int64_t id, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	enum verr rc;

	if ((rc = conn_get_writer(s, &c, err)) || (rc = run_query(c, Q_BEGIN_IMMEDIATE, err)) ||
	    (rc = prepare(c, Q_NOTE_DELETE, &st, err)))
		goto out;
	bind_i64(c, st, 1, id);
	bind_i64(c, st, 2, user_id);
	if ((rc = finish(c, st, err)))
		goto out;
	if (sqlite3_changes(c->db) == 0) {
		rc = verr_set(err, VERR_NOT_FOUND, "no such note");
		goto out;
	}
	if ((rc = bump_version(c, user_id, err)))
		goto out;
	rc = run_query(c, Q_COMMIT, err);
out:
	conn_put(s, c);
	return rc;
}

/* Loads the tags of items[0..n) with one query; items with id 0 are skipped. */
static enum verr load_tags(struct conn *c, struct note *items, size_t n, struct verror *err)
{
	char *ids = json_id_array(&items[0].id, sizeof(*items), n);
	struct note *cur = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	if ((rc = prepare(c, Q_PAGE_TAGS, &st, err)))
		goto out;
	bind_text(c, st, 1, ids);
	/* Rows come grouped by note id, so the items are searched once per note. */
	while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
		int64_t note_id = sqlite3_column_int64(st, 0);
		if (!cur || cur->id != note_id) {
			cur = NULL;
			for (size_t i = 0; i < n && !cur; i++)
				if (items[i].id == note_id)
					cur = &items[i];
			if (!cur)
				continue;
		}
		note_push_tag(cur, column_dup(st, 1));
	}
	sqlite3_reset(st);
out:
	free(ids);
	return rc;
}

static enum verr sq_note_list(struct store *base, const struct note_query *q, struct note_page *out,
                              struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	char *tags = NULL;
	bool tagged = q->ntags > 0, row;
	sqlite3_stmt *st = NULL;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (q->skip < 0 || q->limit < 0)
		return verr_set(err, VERR_INVALID, "skip and limit must not be negative");
	if (tagged)
		tags = json_string_array(q->tags, q->ntags);

	/* One read transaction: the total, the page and its tags agree. */
	if ((rc = conn_get(s, &c, err)) || (rc = run_query(c, Q_BEGIN, err)) ||
	    (rc = prepare(c, tagged ? Q_NOTE_COUNT_TAGGED : Q_NOTE_COUNT, &st, err)))
		goto out;
	bind_i64(c, st, 1, q->user_id);
	if (tagged)
		bind_text(c, st, 2, tags);
	if ((rc = step(c, st, &row, err)))
		goto out;
	out->total = row ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);

	int64_t want = out->total > q->skip ? out->total - q->skip : 0;
	if (want > q->limit)
		want = q->limit;
	if (want > 0) {
		if ((rc = prepare(c, tagged ? Q_NOTE_PAGE_TAGGED : Q_NOTE_PAGE, &st, err)))
			goto out;
		bind_i64(c, st, 1, q->user_id);
		bind_i64(c, st, 2, want);
		bind_i64(c, st, 3, q->skip);
		if (tagged)
			bind_text(c, st, 4, tags);
		out->items = xcalloc((size_t)want, sizeof(*out->items));
		while (out->n < (size_t)want && (rc = step(c, st, &row, err)) == VERR_OK && row)
			note_read(st, q->user_id, &out->items[out->n++]);
		sqlite3_reset(st);
		if (rc || (out->n > 0 && (rc = load_tags(c, out->items, out->n, err))))
			goto out;
	}
	rc = run_query(c, Q_COMMIT, err);
out:
	if (rc)
		note_page_free(out);
	conn_put(s, c);
	free(tags);
	return rc;
}

/* One read transaction; a note is placed at the first index asking for it, then copied. */
static enum verr sq_notes_get_many(struct store *base, int64_t user_id, const int64_t *ids,
                                   size_t n, struct note *out, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	char *json = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	if (n == 0)
		return VERR_OK;
	memset(out, 0, n * sizeof(*out));
	json = json_id_array(ids, sizeof(*ids), n);
	if ((rc = conn_get(s, &c, err)) || (rc = run_query(c, Q_BEGIN, err)) ||
	    (rc = prepare(c, Q_NOTES_MANY, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	bind_text(c, st, 2, json);
	while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
		int64_t id = sqlite3_column_int64(st, 0);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == id) {
				note_read(st, user_id, &out[i]);
				break;
			}
	}
	sqlite3_reset(st);
	if (rc || (rc = load_tags(c, out, n, err)) || (rc = run_query(c, Q_COMMIT, err)))
		goto out;
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
	conn_put(s, c);
	free(json);
	return rc;
}

/* Ascending ids; no tags: every note of the user. */
static enum verr sq_note_ids_with_tags(struct store *base, int64_t user_id, const char *const *tags,
                                       size_t ntags, int64_t **ids, size_t *n, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	char *json = NULL;
	int64_t *v = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	*ids = NULL;
	*n = 0;
	if (ntags)
		json = json_string_array(tags, ntags);
	if ((rc = conn_get(s, &c, err)) ||
	    (rc = prepare(c, ntags ? Q_NOTE_IDS_TAGGED : Q_NOTE_IDS, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	if (ntags)
		bind_text(c, st, 2, json);
	while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
		if (len == cap) {
			cap = cap ? 2 * cap : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[len++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc)
		goto out;
	*ids = v;
	*n = len;
	v = NULL;
out:
	conn_put(s, c);
	free(json);
	free(v);
	return rc;
}

static enum verr sq_note_chunks(struct store *base, int64_t user_id, int64_t note_id,
                                int64_t **chunk_ids, char ***texts, size_t *n, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	int64_t *ids = NULL;
	char **tv = NULL;
	size_t len = 0, cap = 0;
	bool found = false, row;
	sqlite3_stmt *st = NULL;
	enum verr rc;

	*chunk_ids = NULL;
	*texts = NULL;
	*n = 0;
	if ((rc = conn_get(s, &c, err)) || (rc = prepare(c, Q_NOTE_CHUNKS, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	bind_i64(c, st, 2, note_id);
	while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
		found = true;
		if (sqlite3_column_type(st, 0) == SQLITE_NULL)
			continue; /* the note has no chunks */
		if (len == cap) {
			cap = cap ? 2 * cap : 16;
			ids = xrealloc(ids, cap * sizeof(*ids));
			tv = xrealloc(tv, cap * sizeof(*tv));
		}
		ids[len] = sqlite3_column_int64(st, 0);
		tv[len++] = column_dup(st, 1);
	}
	sqlite3_reset(st);
	if (rc)
		goto out;
	if (!found) {
		rc = verr_set(err, VERR_NOT_FOUND, "no such note");
		goto out;
	}
	*chunk_ids = ids;
	*texts = tv;
	*n = len;
	ids = NULL;
	tv = NULL;
	len = 0;
out:
	conn_put(s, c);
	for (size_t i = 0; i < len; i++)
		free(tv[i]);
	free(tv);
	free(ids);
	return rc;
}

/* ---------------------------------------------------------------- embedding queue */

static int job_cmp(const void *a, const void *b)
{
	const struct embed_job *x = a, *y = b;
	return (x->chunk_id > y->chunk_id) - (x->chunk_id < y->chunk_id);
}

/*
 * Q_EMBED_CLAIM leases and returns the chunks in one statement; RETURNING
 * gives no order, so the jobs are sorted by chunk id (oldest first) here.
 */
static enum verr sq_embed_claim(struct store *base, size_t limit, int64_t now, int64_t lease_ms,
                                struct embed_job **out, size_t *n, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	struct embed_job *jobs = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if (lease_ms < 0)
		return verr_set(err, VERR_INVALID, "the lease must not be negative");
	if (limit == 0)
		return VERR_OK;
	if ((rc = conn_get_writer(s, &c, err)) || (rc = prepare(c, Q_EMBED_CLAIM, &st, err)))
		goto out;
	bind_i64(c, st, 1, now);
	bind_i64(c, st, 2, lease_ms);
	bind_size(c, st, 3, limit);
	while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
		if (len == cap) {
			cap = cap ? 2 * cap : (limit < 64 ? limit : 64);
			jobs = xrealloc(jobs, cap * sizeof(*jobs));
		}
		struct embed_job *j = &jobs[len++];
		memset(j, 0, sizeof(*j));
		j->chunk_id = sqlite3_column_int64(st, 0);
		j->user_id = sqlite3_column_int64(st, 1);
		j->title = column_dup(st, 2);
		j->heading = column_dup(st, 3);
		j->text = column_dup(st, 4);
		const unsigned char *hash = sqlite3_column_text(st, 5);
		size_t hash_len = (size_t)sqlite3_column_bytes(st, 5);
		if (hash && hash_len < sizeof(j->hash))
			memcpy(j->hash, hash, hash_len);
		j->attempts = sqlite3_column_int(st, 6);
	}
	/* An error past the first row (the commit) undoes every lease: hand out none. */
	sqlite3_reset(st);
	if (rc)
		goto out;
	if (len > 1)
		qsort(jobs, len, sizeof(*jobs), job_cmp);
	*out = jobs;
	*n = len;
	jobs = NULL;
	len = 0;
out:
	conn_put(s, c);
	embed_jobs_free(jobs, len);
	return rc;
}

/*
 * Runs Q_EMBED_DONE or Q_EMBED_FAILED, already bound, in the caller's
 * transaction; *user_id is the chunk's owner, 0 if the chunk is gone or
 * its hash no longer matches.
 */
static enum verr chunk_write(struct conn *c, sqlite3_stmt *st, int64_t *user_id, struct verror *err)
{
	bool row;
	enum verr rc = step(c, st, &row, err);
	*user_id = rc == VERR_OK && row ? sqlite3_column_int64(st, 0) : 0;
	if (rc)
		sqlite3_reset(st);
	else
		rc = finish(c, st, err);
	return rc;
}

/*
 * One transaction for the whole batch: one fsync, and one index version bump
 * per owner, so a bulk embed does not make searches reload vectors per chunk.
 */
static enum verr sq_embed_done(struct store *base, const int64_t *chunk_ids,
                               const char *const *hashes, size_t n, const char *model, int dim,
                               const float *vecs, int64_t now, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	int64_t *owners = NULL, owner;
	size_t nowners = 0;
	enum verr rc;

	if (dim <= 0 || !vecs || !model || !*model)
		return verr_set(err, VERR_INVALID, "a vector needs a model, a hash and dim > 0");
	for (size_t i = 0; i < n; i++)
		if (!hashes[i])
			return verr_set(err, VERR_INVALID,
			                "a vector needs a model, a hash and dim > 0");
	if ((rc = conn_get_writer(s, &c, err)) || (rc = run_query(c, Q_BEGIN_IMMEDIATE, err)) ||
	    (rc = prepare(c, Q_EMBED_DONE, &st, err)))
		goto out;
	owners = xcalloc(n ? n : 1, sizeof(int64_t));
	for (size_t i = 0; i < n; i++) {
		bind_i64(c, st, 1, chunk_ids[i]);
		bind_text(c, st, 2, hashes[i]);
		bind_text(c, st, 3, model);
		bind_i64(c, st, 4, dim);
		bind_blob(c, st, 5, vecs + i * (size_t)dim, (size_t)dim * sizeof(*vecs));
		bind_i64(c, st, 6, now);
		if ((rc = chunk_write(c, st, &owner, err)))
			goto out;
		size_t k = 0;
		while (k < nowners && owners[k] != owner)
			k++;
		if (owner && k == nowners)
			owners[nowners++] = owner;
	}
	for (size_t k = 0; k < nowners; k++)
		if ((rc = bump_version(c, owners[k], err)))
			goto out;
	rc = run_query(c, Q_COMMIT, err);
out:
	free(owners);
	conn_put(s, c);
	return rc;
}

/* Only a give-up changes what the index holds (the status counts), so only it bumps. */
static enum verr sq_embed_failed(struct store *base, int64_t chunk_id, const char *hash,
                                 const char *error, int64_t retry_at, bool give_up,
                                 struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	int64_t owner;
	enum verr rc;

	if (!hash)
		return verr_set(err, VERR_INVALID, "no hash given");
	if ((rc = conn_get_writer(s, &c, err)) || (rc = run_query(c, Q_BEGIN_IMMEDIATE, err)) ||
	    (rc = prepare(c, Q_EMBED_FAILED, &st, err)))
		goto out;
	bind_i64(c, st, 1, chunk_id);
	bind_text(c, st, 2, hash);
	bind_text(c, st, 3, error);
	bind_i64(c, st, 4, give_up ? EMBED_FAILED : EMBED_PENDING);
	bind_i64(c, st, 5, retry_at);
	if ((rc = chunk_write(c, st, &owner, err)) ||
	    (give_up && owner && (rc = bump_version(c, owner, err))))
		goto out;
	rc = run_query(c, Q_COMMIT, err);
out:
	conn_put(s, c);
	return rc;
}

#define REINDEX_BATCH 2000

/*
 * Old vectors stay until embed_done replaces them, so search keeps
 * answering meanwhile. The chunks are reset in batches of REINDEX_BATCH,
 * one write transaction each, so other writers (of this process or
 * another) wait tens of milliseconds at a time, not the seconds a hundred
 * thousand rows take. A failure part way leaves the batches done so far
 * done, which is harmless: run it again.
 */
static enum verr sq_reindex(struct store *base, int64_t user_id, int64_t *count, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	int64_t after = 0, total = 0;
	size_t got;
	bool row;
	enum verr rc;

	if (count)
		*count = 0;
	do {
		got = 0;
		if ((rc = conn_get_writer(s, &c, err)) ||
		    (rc = run_query(c, Q_BEGIN_IMMEDIATE, err)) ||
		    (rc = prepare(c, Q_REINDEX_BATCH, &st, err)))
			goto out;
		bind_i64(c, st, 1, user_id);
		bind_i64(c, st, 2, after);
		bind_i64(c, st, 3, REINDEX_BATCH);
		while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
			int64_t id = sqlite3_column_int64(st, 0);
			if (id > after)
				after = id;
			got++;
		}
		sqlite3_reset(st);
		if (rc || (rc = run_query(c, Q_COMMIT, err)))
			goto out;
		conn_put(s, c);
		c = NULL;
		total += (int64_t)got;
	} while (got == REINDEX_BATCH);

	if ((rc = conn_get_writer(s, &c, err)) || (rc = bump_version(c, user_id, err)))
		goto out;
	if (count)
		*count = total;
out:
	conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- search */

static enum verr sq_index_status(struct store *base, int64_t user_id, const char *model, int dim,
                                 struct index_status *out, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = conn_get(s, &c, err)) || (rc = prepare(c, Q_INDEX_STATUS, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	bind_text(c, st, 2, model);
	bind_i64(c, st, 3, dim);
	if ((rc = step(c, st, &row, err)) || !row)
		goto out;
	/* SUM of no rows is NULL, read as 0. */
	out->pending = sqlite3_column_int64(st, 0);
	out->ready = sqlite3_column_int64(st, 1);
	out->failed = sqlite3_column_int64(st, 2);
	out->stale = sqlite3_column_int64(st, 3);
out:
	conn_put(s, c);
	return rc;
}

/* Always read from the file, so another process's writes show at once. */
static enum verr sq_index_version(struct store *base, int64_t user_id, int64_t *version,
                                  struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	*version = 0;
	if ((rc = conn_get(s, &c, err)) || (rc = prepare(c, Q_VERSION_GET, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	if ((rc = step(c, st, &row, err)))
		goto out;
	if (!row)
		rc = verr_set(err, VERR_NOT_FOUND, "no such user");
	else
		*version = sqlite3_column_int64(st, 0);
out:
	conn_put(s, c);
	return rc;
}

/*
 * n floats, 64-byte aligned, so with dim a multiple of 16 every row starts
 * on a cache line. posix_memalign fails only for want of memory; xmalloc
 * then reports that and aborts, as everywhere else.
 */
static float *floats_alloc(size_t n)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, n * sizeof(float)) != 0)
		return xmalloc(n * sizeof(float));
	return p;
}

/*
 * Every chunk of the user whose vector was made by model with dim,
 * whatever its status: a row's vector always belongs to its current text
 * (only embed_done with a matching hash writes one), so while a reindex
 * runs the old vectors keep answering until new ones replace them. One
 * read transaction counts the rows, then copies each blob straight into
 * the one array (no allocation per row).
 */
static enum verr sq_vectors_load(struct store *base, int64_t user_id, const char *model, int dim,
                                 struct vector_set *out, struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	sqlite3_stmt *st = NULL;
	size_t count = 0, i = 0, row_bytes = (size_t)dim * sizeof(float);
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (dim <= 0 || !model)
		return verr_set(err, VERR_INVALID, "vectors need a model and dim > 0");
	out->dim = dim;
	if ((rc = conn_get(s, &c, err)) || (rc = run_query(c, Q_BEGIN, err)) ||
	    (rc = prepare(c, Q_VECTORS_COUNT, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	bind_text(c, st, 2, model);
	bind_i64(c, st, 3, dim);
	if ((rc = step(c, st, &row, err)))
		goto out;
	count = row ? (size_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (count == 0)
		goto done;

	out->vecs = floats_alloc(count * (size_t)dim);
	out->chunk_ids = xmalloc(count * sizeof(*out->chunk_ids));
	out->note_ids = xmalloc(count * sizeof(*out->note_ids));
	if ((rc = prepare(c, Q_VECTORS_LOAD, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	bind_text(c, st, 2, model);
	bind_i64(c, st, 3, dim);
	while (i < count && (rc = step(c, st, &row, err)) == VERR_OK && row) {
		const void *blob = sqlite3_column_blob(st, 2);
		size_t bytes = (size_t)sqlite3_column_bytes(st, 2);
		if (!blob || bytes != row_bytes) {
			rc = verr_set(err, VERR_INTERNAL,
			              "chunk %" PRId64 " has a vector of %zu bytes, expected %zu",
			              (int64_t)sqlite3_column_int64(st, 0), bytes, row_bytes);
			goto out;
		}
		out->chunk_ids[i] = sqlite3_column_int64(st, 0);
		out->note_ids[i] = sqlite3_column_int64(st, 1);
		memcpy(out->vecs + i * (size_t)dim, blob, row_bytes);
		i++;
	}
	sqlite3_reset(st);
	if (rc)
		goto out;
done:
	out->n = i;
	rc = run_query(c, Q_COMMIT, err);
out:
	if (rc) {
		vector_set_free(out);
		out->dim = 0;
	}
	conn_put(s, c);
	return rc;
}

/*
 * FTS5 over the user's own postings (sqlite_fts.c), ranked by BM25 on the
 * user's statistics; user_id is checked again in SQL, so no expression can
 * reach another user's rows whatever it holds.
 */
static enum verr sq_keyword_search(struct store *base, int64_t user_id, const char *const *terms,
                                   size_t nterms, bool phrase, const char *const *tags,
                                   size_t ntags, size_t limit, struct keyword_hit **out, size_t *n,
                                   struct verror *err)
{
	struct sqlite_store *s = handle(base);
	struct conn *c = NULL;
	struct keyword_hit *hits = NULL;
	size_t len = 0, cap = 0;
	char *json = NULL;
	sqlite3_stmt *st = NULL;
	bool row;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if (limit == 0 || nterms == 0)
		return VERR_OK;
	char *match = sqlite_fts_match(user_id, terms, nterms, phrase);
	if (ntags)
		json = json_string_array(tags, ntags);
	if ((rc = conn_get(s, &c, err)) ||
	    (rc = prepare(c, ntags ? Q_KEYWORD_TAGGED : Q_KEYWORD, &st, err)))
		goto out;
	bind_i64(c, st, 1, user_id);
	bind_text(c, st, 2, match);
	bind_size(c, st, 3, limit);
	if (ntags)
		bind_text(c, st, 4, json);
	while ((rc = step(c, st, &row, err)) == VERR_OK && row) {
		if (len == cap) {
			cap = cap ? 2 * cap : (limit < 64 ? limit : 64);
			hits = xrealloc(hits, cap * sizeof(*hits));
		}
		hits[len].note_id = sqlite3_column_int64(st, 0);
		hits[len++].score = -sqlite3_column_double(st, 1);
	}
	sqlite3_reset(st);
	if (rc)
		goto out;
	*out = hits;
	*n = len;
	hits = NULL;
out:
	conn_put(s, c);
	free(match);
	free(json);
	free(hits);
	return rc;
}

/* ---------------------------------------------------------------- ops */

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .ping = sq_ping,
    .migrate_up = sq_migrate_up,
    .migrate_down = sq_migrate_down,
    .migrate_status = sq_migrate_status,
    .schema_check = sq_schema_check,
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .user_get_by_email = sq_user_get_by_email,
    .user_list = sq_user_list,
    .user_delete = sq_user_delete,
    .token_insert = sq_token_insert,
    .token_rotate = sq_token_rotate,
    .token_revoke_family = sq_token_revoke_family,
    .token_revoke_all = sq_token_revoke_all,
    .note_create = sq_note_create,
    .note_get = sq_note_get,
    .note_update = sq_note_update,
    .note_delete = sq_note_delete,
    .note_list = sq_note_list,
    .notes_get_many = sq_notes_get_many,
    .note_ids_with_tags = sq_note_ids_with_tags,
    .note_chunks = sq_note_chunks,
    .embed_claim = sq_embed_claim,
    .embed_done = sq_embed_done,
    .embed_failed = sq_embed_failed,
    .reindex = sq_reindex,
    .index_status = sq_index_status,
    .index_version = sq_index_version,
    .vectors_load = sq_vectors_load,
    .keyword_search = sq_keyword_search,
};
