/*
 * driver.h - the private interface between the repository (store.c,
 * store_notes.c, store_index.c: every use case, written once) and the two
 * SQL drivers under it (store_sqlite.c, store_pg.c). Nothing above the
 * store includes it.
 *
 * As SQLite's pager above sqlite3_io_methods, or curl's TLS logic above
 * struct Curl_ssl: a driver opens a handle whose first member is struct
 * store (its driver pointer), lends connections from its pool, prepares
 * statements by query id from its own table of SQL text, binds values by
 * position, steps through rows and reads columns, and turns its
 * database's errors into enum verr. Where the dialects differ in more than
 * text, the driver says so in caps and the repository asks; where they
 * differ in kind (vectors searched in process or in SQL, the keyword
 * index's query language) the driver has one entry point for it.
 */
#ifndef VAULT_STORE_DRIVER_H
#define VAULT_STORE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The statements the repository runs; each driver has the SQL of each. */
enum query {
	Q_BEGIN_READ,  /* a read snapshot over several statements */
	Q_BEGIN_WRITE, /* a write: SQLite takes its write lock at once */
	Q_COMMIT,
	Q_ROLLBACK,
	Q_PING,
	Q_MIG_LOCK, /* inside a migration's transaction: other migrators wait */
	Q_MIG_TABLE_EXISTS,
	Q_MIG_LIST,
	Q_MIG_APPLIED,
	Q_MIG_INSERT,
	Q_MIG_DELETE,
	Q_VECTOR_DIM, /* DB_FIXED_DIM: the dimension the schema holds */
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
	Q_API_TOKENS_EXPIRED,
	Q_API_TOKEN_COUNT,
	Q_API_TOKEN_INSERT,
	Q_API_TOKEN_LIST,
	Q_API_TOKEN_DELETE,
	Q_API_TOKEN_FIND,
	Q_API_TOKEN_TOUCH,
	Q_NOTE_INSERT,
	Q_NOTE_GET,
	Q_NOTE_UPDATE,
	Q_TAGS_DELETE, /* DB_TAG_ROWS */
	Q_TAGS_PUT,    /* DB_TAG_ROWS */
	Q_NOTE_DELETE,
	Q_NOTE_COUNT,
	Q_NOTE_PAGE,
	Q_NOTES_AFTER,
	Q_NOTE_COUNT_TAGGED,
	Q_NOTE_PAGE_TAGGED,
	Q_NOTE_EMBED_STATUS,
	Q_NOTES_MANY,
	Q_NOTE_IDS,
	Q_NOTE_IDS_TAGGED,
	Q_TAGS,
	Q_NOTES_CHUNKS,
	Q_FTS_DOCLEN, /* DB_FTS_ROWS */
	Q_FTS_PUT,    /* DB_FTS_ROWS */
	Q_FTS_STATS,  /* DB_FTS_ROWS */
	Q_VERSION_BUMP,
	Q_VERSION_BUMP_ALL,
	Q_USAGE,
	Q_USAGE_LOCK,
	Q_OWNERS_LOCK, /* DB_ROW_LOCKS */
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
	Q_QUEUE_COUNTS,
	Q_KEYWORD,
	Q_KEYWORD_TAGGED,
	Q_PHRASE,
	Q_PHRASE_TAGGED,
	Q_SOURCES,      /* a user's imported notes: id, path, hash */
	Q_SOURCE_SET,   /* a note's path and hash (NULL: cleared) */
	Q_NOTE_OWNED,   /* the note's id if it is the user's */
	Q_LINKS_DELETE, /* a note's outgoing links */
	Q_LINK_INSERT,
	Q_LINKS_OUT,
	Q_LINKS_IN,
	Q_LINKS_USER,
	Q__SHARED /* drivers number their own statements from here */
};

/* The columns of an api_tokens row, as store.c reads them (the same on both databases). */
#define API_TOKEN_COLUMNS "id, user_id, name, scope, created_at, last_used_at, expires_at"

/* What a driver's database does that the repository must do itself elsewhere. */
enum db_caps {
	DB_TAG_ROWS = 1 << 0,  /* tags are rows of their own (else an array in the note) */
	DB_FTS_ROWS = 1 << 1,  /* the keyword index is written by the store (else generated) */
	DB_ROW_LOCKS = 1 << 2, /* writers lock rows, so chunk writes lock their owners first */
	DB_FIXED_DIM = 1 << 3, /* the schema fixes the vectors' dimension (Q_VECTOR_DIM) */
};

struct migration {
	int version;
	const char *name;
	const char *up;   /* one or more statements, run in one transaction */
	const char *down; /* undoes up exactly */
};

/* The heads of a driver's connection and statement: their first members. */
struct conn {
	const struct driver *drv;
	bool retryable; /* the last error was a serialization failure or deadlock */
};

struct stmt {
	struct conn *conn;
};

/*
 * The body of a write transaction: its statements on c, between the
 * repository's BEGIN and COMMIT (db_write). It may run twice (a
 * serialization failure is retried once) and, on SQLite, in one
 * transaction with other writers' bodies (group commit), so it starts from
 * arg alone, leaves its results there for the caller to read once
 * db_write returned VERR_OK, and never borrows a connection itself.
 */
typedef enum verr (*write_fn)(struct conn *c, void *arg, struct verror *err);

struct driver {
	const char *name;
	unsigned caps;
	const struct migration *migrations; /* oldest first, ended by a zero version */
	const char *redim_sql; /* DB_FIXED_DIM: changes the vectors' dimension, dropping them */

	enum verr (*open)(const char *url, const struct store_opts *opts, struct store **out,
	                  struct verror *err);
	void (*close)(struct store *s);
	/* The dimension of every vector (DB_FIXED_DIM), else 0. */
	int (*vector_dim)(const struct store *s);

	/* Borrows a connection (write: for a write transaction); conn_put rolls back what is open.
	 */
	enum verr (*conn_get)(struct store *s, bool write, struct conn **out, struct verror *err);
	void (*conn_put)(struct store *s, struct conn *c);
	/* Runs fn in a write transaction and commits it (db_write_one, or together with others). */
	enum verr (*write)(struct store *s, write_fn fn, void *arg, struct verror *err);
	/* The pool's and the vector cache's fields of out. */
	void (*pool_stats)(struct store *s, struct store_stats *out);
	/* Runs a script of statements without parameters (migrations). */
	enum verr (*exec)(struct store *s, struct conn *c, const char *sql, struct verror *err);

	/*
	 * The statement for q on c, with no values bound. Values are bound by
	 * position from 1; text and vectors must outlive the statement's use
	 * (lists are copied). A value past the ones q's text uses is ignored.
	 * A statement is used until reset (or conn_put), one at a time per q.
	 */
	enum verr (*prepare)(struct conn *c, int q, struct stmt **out, struct verror *err);
	void (*bind_i64)(struct stmt *st, int i, int64_t v);
	void (*bind_text)(struct stmt *st, int i, const char *s); /* NULL binds "" */
	void (*bind_null)(struct stmt *st, int i);
	void (*bind_texts)(struct stmt *st, int i, const char *const *v, size_t n);
	void (*bind_ids)(struct stmt *st, int i, const int64_t *ids, size_t stride, size_t n);
	void (*bind_vector)(struct stmt *st, int i, const float *v, int dim);
	/* Runs or advances st: *row tells a row from the end. */
	enum verr (*step)(struct stmt *st, bool *row, struct verror *err);
	int64_t (*col_i64)(struct stmt *st, int i);
	double (*col_double)(struct stmt *st, int i);
	const char *(*col_text)(struct stmt *st, int i, size_t *len); /* NULL reads "" */
	bool (*col_null)(struct stmt *st, int i);
	void (*reset)(struct stmt *st);

	/* The text bound to the Q_KEYWORD statements for terms (a driver's query syntax). */
	char *(*keyword_query)(int64_t user_id, const char *const *terms, size_t nterms,
	                       bool phrase);
	/* store_vector_search, arguments checked; in process (SQLite) or in SQL (pgvector). */
	enum verr (*vector_search)(struct store *s, int64_t user_id, const char *model, int dim,
	                           const float *q, const int64_t *only, size_t nonly, bool filter,
	                           size_t limit, struct vector_hit **out, size_t *n,
	                           struct verror *err);
};

struct store {
	const struct driver *drv;
	uint64_t writes, commits; /* db_write calls, commits of them: atomic, for store_stats */
};

extern const struct driver sqlite_driver, pg_driver;

/* Shorthands for the repository's code. */
static inline void bind_i64(struct stmt *st, int i, int64_t v)
{
	st->conn->drv->bind_i64(st, i, v);
}

static inline void bind_text(struct stmt *st, int i, const char *s)
{
	st->conn->drv->bind_text(st, i, s);
}

static inline int64_t col_i64(struct stmt *st, int i)
{
	return st->conn->drv->col_i64(st, i);
}

static inline const char *col_text(struct stmt *st, int i)
{
	return st->conn->drv->col_text(st, i, NULL);
}

static inline bool col_null(struct stmt *st, int i)
{
	return st->conn->drv->col_null(st, i);
}

static inline enum verr step(struct stmt *st, bool *row, struct verror *err)
{
	return st->conn->drv->step(st, row, err);
}

static inline void reset(struct stmt *st)
{
	st->conn->drv->reset(st);
}

/* A count from the caller's size_t; past INT64_MAX means "no limit" anyway. */
static inline void bind_size(struct stmt *st, int i, size_t v)
{
	bind_i64(st, i, v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* Steps st through its remaining rows, then resets it. */
enum verr db_finish(struct stmt *st, struct verror *err);

/* Runs q, which takes no values, to its end (BEGIN, COMMIT...). */
enum verr db_run(struct conn *c, int q, struct verror *err);

/* Prepares q on *c into *st, borrowing *c first (for a write or not) if it is NULL. */
enum verr db_get(struct store *s, bool write, struct conn **c, int q, struct stmt **st,
                 struct verror *err);

/* Runs st, bound, to its end: VERR_NOT_FOUND with what if it returned no row. */
enum verr db_expect_row(struct stmt *st, const char *what, struct verror *err);

/* Bumps the index version of user_id (0: of every user), inside c's transaction. */
enum verr db_bump_version(struct conn *c, int64_t user_id, struct verror *err);

/*
 * The ids[k] for k < n, each ids + k * stride bytes on, joined by commas
 * inside brackets[0] and brackets[1]: a list parameter's text ([1,2] for
 * json_each, {1,2} for bigint[]). Caller frees.
 */
char *db_id_list(const int64_t *ids, size_t stride, size_t n, const char *brackets);

/* Runs fn in a write transaction of its own, retried once after a serialization failure. */
enum verr db_write_one(struct store *s, write_fn fn, void *arg, struct verror *err);

/* Runs fn in a write transaction and commits it: the repository's one way to write. */
static inline enum verr db_write(struct store *s, write_fn fn, void *arg, struct verror *err)
{
	return s->drv->write(s, fn, arg, err);
}

#endif
