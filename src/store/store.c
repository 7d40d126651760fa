/*
 * store.c - the repository, part one: opening a store by URL scheme, the
 * migrations runner, users and refresh tokens; store_notes.c has notes,
 * chunks, the embedding queue and search. Written once over the driver
 * interface (driver.h); the SQL is the drivers'.
 */
#include "store/store.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/driver.h"

static const struct {
	const char *scheme;
	const struct driver *drv;
} schemes[] = {
    {"sqlite://", &sqlite_driver},
    {"postgresql://", &pg_driver},
    {"postgres://", &pg_driver},
};

enum verr store_open(const char *url, const struct store_opts *opts, struct store **out,
                     struct verror *err)
{
	*out = NULL;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i].scheme, strlen(schemes[i].scheme)) == 0)
			return schemes[i].drv->open(url, opts, out, err);
	return verr_set(
	    err, VERR_INVALID,
	    "unsupported database URL scheme; expected sqlite:///path or postgresql://...");
}

void store_close(struct store *s)
{
	if (s)
		s->drv->close(s);
}

/* ---------------------------------------------------------------- statements */

enum verr db_finish(struct stmt *st, struct verror *err)
{
	bool row;
	enum verr rc;
	do
		rc = step(st, &row, err);
	while (rc == VERR_OK && row);
	reset(st);
	return rc;
}

enum verr db_run(struct conn *c, int q, struct verror *err)
{
	struct stmt *st;
	enum verr rc = c->drv->prepare(c, q, &st, err);
	return rc ? rc : db_finish(st, err);
}

char *db_id_list(const int64_t *ids, size_t stride, size_t n, const char *brackets)
{
	size_t cap = n * 21 + 3, len = 0;
	char *p = xmalloc(cap);

	p[len++] = brackets[0];
	for (size_t k = 0; k < n; k++) {
		int64_t id;
		memcpy(&id, (const char *)ids + k * stride, sizeof(id));
		len += (size_t)snprintf(p + len, cap - len, k ? ",%" PRId64 : "%" PRId64, id);
	}
	p[len++] = brackets[1];
	p[len] = '\0';
	return p;
}

enum verr db_write_one(struct store *s, write_fn fn, void *arg, struct verror *err)
{
	struct conn *c = NULL;
	int tries = 0;
	enum verr rc = s->drv->conn_get(s, true, &c, err);

	if (rc == VERR_OK)
		do {
			if ((rc = db_run(c, Q_BEGIN_WRITE, err)) == VERR_OK &&
			    (rc = fn(c, arg, err)) == VERR_OK)
				rc = db_run(c, Q_COMMIT, err);
		} while (rc && c->retryable && tries++ == 0 &&
		         db_run(c, Q_ROLLBACK, NULL) == VERR_OK);
	__atomic_add_fetch(&s->writes, 1, __ATOMIC_RELAXED);
	if (rc == VERR_OK)
		__atomic_add_fetch(&s->commits, 1, __ATOMIC_RELAXED);
	s->drv->conn_put(s, c);
	return rc;
}

enum verr db_get(struct store *s, bool write, struct conn **c, int q, struct stmt **st,
                 struct verror *err)
{
	enum verr rc = VERR_OK;
	if (!*c)
		rc = s->drv->conn_get(s, write, c, err);
	return rc ? rc : s->drv->prepare(*c, q, st, err);
}

enum verr store_ping(struct store *s, struct verror *err)
{
	struct conn *c = NULL;
	enum verr rc = s->drv->conn_get(s, false, &c, err);
	if (rc == VERR_OK)
		rc = db_run(c, Q_PING, err);
	s->drv->conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- migrations */

static size_t nmigrations(const struct store *s)
{
	size_t n = 0;
	while (s->drv->migrations[n].version)
		n++;
	return n;
}

static int latest_version(const struct store *s)
{
	size_t n = nmigrations(s);
	return n ? s->drv->migrations[n - 1].version : 0;
}

static const char migrations_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)";

/*
 * Reads schema_migrations: applied_at[i] for each known migration (0 if not
 * applied) and *current, the highest version recorded, known to this build
 * or not. A database without the table is at version 0.
 */
static enum verr read_applied(struct store *s, struct conn *c, int64_t *applied_at, int *current,
                              struct verror *err)
{
	const struct migration *m = s->drv->migrations;
	size_t n = nmigrations(s);
	struct stmt *st;
	bool row;
	enum verr rc;

	memset(applied_at, 0, n * sizeof(*applied_at));
	*current = 0;
	if ((rc = s->drv->prepare(c, Q_MIG_TABLE_EXISTS, &st, err)) || (rc = step(st, &row, err)))
		return rc;
	reset(st);
	if (!row)
		return VERR_OK;
	if ((rc = s->drv->prepare(c, Q_MIG_LIST, &st, err)))
		return rc;
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		int version = (int)col_i64(st, 0);
		if (version > *current)
			*current = version;
		for (size_t i = 0; i < n; i++)
			if (m[i].version == version)
				applied_at[i] = col_i64(st, 1);
	}
	reset(st);
	return rc;
}

/*
 * Applies (up) or reverts one migration together with its schema_migrations
 * row, in one transaction under the migration lock: another process
 * migrating at once waits, then finds the step done and does nothing
 * (*done false). DDL is transactional on both databases, so a failed step
 * leaves nothing behind.
 */
static enum verr migration_step(struct store *s, struct conn *c, const struct migration *m, bool up,
                                bool *done, struct verror *err)
{
	struct stmt *st;
	bool applied;
	enum verr rc;

	*done = false;
	if ((rc = db_run(c, Q_BEGIN_WRITE, err)) || (rc = db_run(c, Q_MIG_LOCK, err)) ||
	    (rc = s->drv->exec(s, c, migrations_table_sql, err)) ||
	    (rc = s->drv->prepare(c, Q_MIG_APPLIED, &st, err)))
		return rc;
	bind_i64(st, 1, m->version);
	if ((rc = step(st, &applied, err)))
		return rc;
	reset(st);
	if (applied == up)
		return db_run(c, Q_COMMIT, err);

	if ((rc = s->drv->exec(s, c, up ? m->up : m->down, err)) ||
	    (rc = s->drv->prepare(c, up ? Q_MIG_INSERT : Q_MIG_DELETE, &st, err)))
		return rc;
	bind_i64(st, 1, m->version);
	if (up) {
		bind_text(st, 2, m->name);
		bind_i64(st, 3, time_now_ms());
	}
	if ((rc = db_finish(st, err)) || (rc = db_run(c, Q_COMMIT, err)))
		return rc;
	*done = true;
	log_emit(LOG_INFO, "migration",
	         json_pack("{s:i,s:s,s:s}", "version", m->version, "name", m->name, "direction",
	                   up ? "up" : "down"));
	return VERR_OK;
}

enum verr store_migrate_up(struct store *s, int target, int *applied, struct verror *err)
{
	const struct migration *m = s->drv->migrations;
	struct conn *c = NULL;
	enum verr rc;
	int n = 0, latest = latest_version(s);

	if (target == -1)
		target = latest;
	if (target < 0 || target > latest) {
		rc = verr_set(err, VERR_INVALID, "no migration %d: versions run from 1 to %d",
		              target, latest);
		goto out;
	}
	if ((rc = s->drv->conn_get(s, true, &c, err)))
		goto out;
	for (size_t i = 0; m[i].version && m[i].version <= target; i++) {
		bool done;
		if ((rc = migration_step(s, c, &m[i], true, &done, err)))
			goto out;
		n += done;
	}
out:
	s->drv->conn_put(s, c);
	if (applied)
		*applied = n;
	return rc;
}

enum verr store_migrate_down(struct store *s, int target, int *reverted, struct verror *err)
{
	const struct migration *m = s->drv->migrations;
	size_t count = nmigrations(s);
	int64_t *applied_at = xcalloc(count + 1, sizeof(*applied_at));
	struct conn *c = NULL;
	int current, n = 0, latest = latest_version(s);
	enum verr rc;

	if (target < -1) {
		rc = verr_set(err, VERR_INVALID, "no migration %d", target);
		goto out;
	}
	if ((rc = s->drv->conn_get(s, true, &c, err)) ||
	    (rc = read_applied(s, c, applied_at, &current, err)))
		goto out;
	if (current > latest && current > target) {
		rc = verr_set(err, VERR_INVALID,
		              "database schema is at version %d, newer than this build of vault "
		              "(%d): revert it with the build that applied it",
		              current, latest);
		goto out;
	}
	if (target == -1) {
		/* One step: down to the known version below the newest applied one. */
		target = current;
		for (size_t i = count; i-- > 0;)
			if (applied_at[i]) {
				target = i ? m[i - 1].version : 0;
				break;
			}
	}
	for (size_t i = count; i-- > 0 && m[i].version > target;) {
		bool done;
		if (!applied_at[i])
			continue;
		if ((rc = migration_step(s, c, &m[i], false, &done, err)))
			goto out;
		n += done;
	}
out:
	s->drv->conn_put(s, c);
	free(applied_at);
	if (reverted)
		*reverted = n;
	return rc;
}

enum verr store_migrate_status(struct store *s, struct migration_info **out, size_t *n,
                               struct verror *err)
{
	const struct migration *m = s->drv->migrations;
	size_t count = nmigrations(s);
	int64_t *applied_at = xcalloc(count + 1, sizeof(*applied_at));
	struct conn *c = NULL;
	int current;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = s->drv->conn_get(s, false, &c, err)) ||
	    (rc = read_applied(s, c, applied_at, &current, err)))
		goto out;
	*out = xcalloc(count + 1, sizeof(**out));
	for (size_t i = 0; i < count; i++)
		(*out)[i] = (struct migration_info){m[i].version, m[i].name, applied_at[i]};
	*n = count;
out:
	s->drv->conn_put(s, c);
	free(applied_at);
	return rc;
}

/*
 * Where the schema fixes the vectors' dimension (pgvector's column type),
 * a different EMBEDDING_DIM would fail every embed_done: say so at start-up.
 */
static enum verr check_dim(struct store *s, struct conn *c, struct verror *err)
{
	struct stmt *st;
	bool row;
	int want = s->drv->vector_dim(s);
	enum verr rc = s->drv->prepare(c, Q_VECTOR_DIM, &st, err);
	if (rc || (rc = step(st, &row, err)))
		return rc;
	int have = row ? (int)col_i64(st, 0) : -1;
	reset(st);
	if (have != want)
		rc = verr_set(err, VERR_UNAVAILABLE,
		              "the database stores vector(%d) but EMBEDDING_DIM is %d: set "
		              "EMBEDDING_DIM=%d, or run `vault reindex` to embed every note "
		              "again at %d dimensions (stop the servers and workers first)",
		              have, want, have, want);
	return rc;
}

enum verr store_schema_check(struct store *s, struct verror *err)
{
	size_t count = nmigrations(s);
	int64_t *applied_at = xcalloc(count + 1, sizeof(*applied_at));
	struct conn *c = NULL;
	int current, latest = latest_version(s);
	enum verr rc;

	if ((rc = s->drv->conn_get(s, false, &c, err)) ||
	    (rc = read_applied(s, c, applied_at, &current, err)))
		goto out;
	if (current > latest) {
		rc = verr_set(err, VERR_UNAVAILABLE,
		              "database schema is at version %d, newer than this build of vault "
		              "expects (%d): upgrade vault, or run `vault migrate down %d` with "
		              "the newer build",
		              current, latest, latest);
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		if (!applied_at[i]) {
			rc = verr_set(err, VERR_UNAVAILABLE,
			              "database schema is at version %d, expected %d: run `vault "
			              "migrate up`",
			              current, latest);
			goto out;
		}
	if (s->drv->caps & DB_FIXED_DIM)
		rc = check_dim(s, c, err);
out:
	s->drv->conn_put(s, c);
	free(applied_at);
	return rc;
}

/* ---------------------------------------------------------------- users */

static enum verr read_user(struct stmt *st, struct user *u, struct verror *err)
{
	size_t email_len, hash_len;
	const char *email = st->conn->drv->col_text(st, 1, &email_len);
	const char *hash = st->conn->drv->col_text(st, 2, &hash_len);

	memset(u, 0, sizeof(*u));
	u->id = col_i64(st, 0);
	if (email_len > STORE_EMAIL_MAX || hash_len >= STORE_HASH_MAX)
		return verr_set(err, VERR_INTERNAL, "user %" PRId64 " has a malformed row", u->id);
	memcpy(u->email, email, email_len);
	memcpy(u->password_hash, hash, hash_len);
	u->created_at = col_i64(st, 3);
	return VERR_OK;
}

enum verr store_user_create(struct store *s, const char *email, const char *password_hash,
                            int64_t now, struct user *out, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (strlen(email) > STORE_EMAIL_MAX)
		return verr_set(err, VERR_INVALID, "e-mail longer than %d bytes", STORE_EMAIL_MAX);
	if (strlen(password_hash) >= STORE_HASH_MAX)
		return verr_set(err, VERR_INVALID, "password hash longer than %d bytes",
		                STORE_HASH_MAX - 1);
	if ((rc = db_get(s, true, &c, Q_USER_INSERT, &st, err)))
		goto out;
	bind_text(st, 1, email);
	bind_text(st, 2, password_hash);
	bind_i64(st, 3, now);
	if ((rc = step(st, &row, err)))
		goto out;
	out->id = row ? col_i64(st, 0) : 0;
	if ((rc = db_finish(st, err)))
		goto out;
	strcpy(out->email, email);
	strcpy(out->password_hash, password_hash);
	out->created_at = now;
out:
	s->drv->conn_put(s, c);
	return rc;
}

/* Runs a user lookup (q binds 1 from id or key) and reads the one row. */
static enum verr user_lookup(struct store *s, int q, int64_t id, const char *key, struct user *out,
                             struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_get(s, false, &c, q, &st, err)))
		goto out;
	if (key)
		bind_text(st, 1, key);
	else
		bind_i64(st, 1, id);
	if ((rc = step(st, &row, err)))
		goto out;
	rc = row ? read_user(st, out, err) : verr_set(err, VERR_NOT_FOUND, "no such user");
out:
	s->drv->conn_put(s, c);
	return rc;
}

enum verr store_user_get(struct store *s, int64_t id, struct user *out, struct verror *err)
{
	return user_lookup(s, Q_USER_GET, id, NULL, out, err);
}

enum verr store_user_get_by_email(struct store *s, const char *email, struct user *out,
                                  struct verror *err)
{
	return user_lookup(s, Q_USER_BY_EMAIL, 0, email, out, err);
}

enum verr store_user_list(struct store *s, struct user **out, size_t *n, struct verror *err)
{
	struct conn *c = NULL;
	struct user *users = NULL;
	size_t len = 0, cap = 0;
	struct stmt *st;
	bool row;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_get(s, false, &c, Q_USER_LIST, &st, err)))
		goto out;
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
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
	s->drv->conn_put(s, c);
	free(users);
	return rc;
}

/* The foreign keys cascade to the user's notes, their tags, chunks and refresh tokens. */
enum verr store_user_delete(struct store *s, int64_t id, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	enum verr rc = db_get(s, true, &c, Q_USER_DELETE, &st, err);
	if (rc == VERR_OK) {
		bind_i64(st, 1, id);
		rc = db_expect_row(st, "no such user", err);
	}
	s->drv->conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- refresh tokens */

static enum verr token_insert(struct conn *c, int64_t user_id, const char *family,
                              const char *token_hash, int64_t expires_at, int64_t now,
                              struct verror *err)
{
	struct stmt *st;
	enum verr rc = c->drv->prepare(c, Q_TOKEN_INSERT, &st, err);
	if (rc)
		return rc;
	bind_i64(st, 1, user_id);
	bind_text(st, 2, family);
	bind_text(st, 3, token_hash);
	bind_i64(st, 4, expires_at);
	bind_i64(st, 5, now);
	return db_finish(st, err);
}

static enum verr revoke_family(struct conn *c, const char *family, int64_t now, struct verror *err)
{
	struct stmt *st;
	enum verr rc = c->drv->prepare(c, Q_TOKEN_REVOKE_FAMILY, &st, err);
	if (rc)
		return rc;
	bind_i64(st, 1, now);
	bind_text(st, 2, family);
	return db_finish(st, err);
}

struct token_write {
	int64_t user_id, expires_at, now, grace_ms;
	const char *family, *hash, *old_hash;
	bool reused; /* rotate: a used token came back, and its family is revoked */
};

/* A login clears the user's expired tokens, so the table does not grow forever. */
static enum verr token_login(struct conn *c, void *arg, struct verror *err)
{
	struct token_write *w = arg;
	struct stmt *st;
	enum verr rc = c->drv->prepare(c, Q_TOKENS_EXPIRED, &st, err);
	if (rc)
		return rc;
	bind_i64(st, 1, w->user_id);
	bind_i64(st, 2, w->now);
	return (rc = db_finish(st, err))
	           ? rc
	           : token_insert(c, w->user_id, w->family, w->hash, w->expires_at, w->now, err);
}

enum verr store_token_insert(struct store *s, int64_t user_id, const char *family,
                             const char *token_hash, int64_t expires_at, int64_t now,
                             struct verror *err)
{
	struct token_write w = {.user_id = user_id,
	                        .family = family,
	                        .hash = token_hash,
	                        .expires_at = expires_at,
	                        .now = now};
	return db_write(s, token_login, &w, err);
}

/*
 * Q_TOKEN_USE marks the token used only if it is still valid; only one
 * caller can flip used_at (SQLite's write lock, PostgreSQL's row lock: the
 * second re-checks the row its rival committed), so of two concurrent
 * callers the second finds used_at set: a lost race within grace_ms, else
 * a reuse, which revokes the family (committed, then reported).
 */
static enum verr token_rotate(struct conn *c, void *arg, struct verror *err)
{
	struct token_write *w = arg;
	struct stmt *st;
	char *family;
	bool row;
	enum verr rc = c->drv->prepare(c, Q_TOKEN_USE, &st, err);

	w->reused = false;
	if (rc)
		return rc;
	bind_i64(st, 1, w->now);
	bind_text(st, 2, w->old_hash);
	if ((rc = step(st, &row, err)))
		return rc;
	if (row) {
		w->user_id = col_i64(st, 0);
		family = xstrdup(col_text(st, 1));
		if ((rc = db_finish(st, err)) == VERR_OK)
			rc = token_insert(c, w->user_id, family, w->hash, w->expires_at, w->now,
			                  err);
		free(family);
		return rc;
	}
	reset(st);

	/* Not usable: find out why. Nothing is written unless it is a reuse. */
	if ((rc = c->drv->prepare(c, Q_TOKEN_LOOKUP, &st, err)))
		return rc;
	bind_text(st, 1, w->old_hash);
	if ((rc = step(st, &row, err)))
		return rc;
	if (!row)
		return verr_set(err, VERR_UNAUTHORIZED, "unknown refresh token");
	w->user_id = col_i64(st, 0);
	bool used = !col_null(st, 2);
	int64_t used_at = col_i64(st, 2);
	family = xstrdup(col_text(st, 1));
	reset(st);
	if (!used)
		rc = verr_set(err, VERR_UNAUTHORIZED, "refresh token expired or revoked");
	else if (used_at > w->now - w->grace_ms)
		rc = verr_set(err, VERR_UNAUTHORIZED,
		              "refresh token rotated just now by another request");
	else
		w->reused = (rc = revoke_family(c, family, w->now, err)) == VERR_OK;
	free(family);
	return rc;
}

enum verr store_token_rotate(struct store *s, const char *old_hash, const char *new_hash,
                             int64_t new_expires_at, int64_t now, int64_t grace_ms,
                             int64_t *user_id, struct verror *err)
{
	struct token_write w = {.old_hash = old_hash,
	                        .hash = new_hash,
	                        .expires_at = new_expires_at,
	                        .now = now,
	                        .grace_ms = grace_ms};
	enum verr rc = db_write(s, token_rotate, &w, err);

	if (rc == VERR_OK && w.reused) {
		log_emit(LOG_WARNING, "refresh_token_reuse",
		         json_pack("{s:I}", "user_id", (json_int_t)w.user_id));
		return verr_set(err, VERR_UNAUTHORIZED,
		                "refresh token reused: its family is revoked");
	}
	if (rc == VERR_OK)
		*user_id = w.user_id;
	return rc;
}

enum verr store_token_revoke_family(struct store *s, int64_t user_id, const char *token_hash,
                                    int64_t now, struct verror *err)
{
	struct conn *c = NULL;
	char *family = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	/* A family never changes and revoking is idempotent, so no transaction is needed. */
	if ((rc = db_get(s, true, &c, Q_TOKEN_FAMILY_OF, &st, err)))
		goto out;
	bind_text(st, 1, token_hash);
	bind_i64(st, 2, user_id);
	if ((rc = step(st, &row, err)))
		goto out;
	if (!row) {
		rc = verr_set(err, VERR_NOT_FOUND, "unknown refresh token");
		goto out;
	}
	family = xstrdup(col_text(st, 0));
	reset(st);
	rc = revoke_family(c, family, now, err);
out:
	s->drv->conn_put(s, c);
	free(family);
	return rc;
}

enum verr store_token_revoke_all(struct store *s, int64_t user_id, int64_t now, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	enum verr rc = db_get(s, true, &c, Q_TOKEN_REVOKE_ALL, &st, err);
	if (rc == VERR_OK) {
		bind_i64(st, 1, now);
		bind_i64(st, 2, user_id);
		rc = db_finish(st, err);
	}
	s->drv->conn_put(s, c);
	return rc;
}

/* ---------------------------------------------------------------- personal access tokens */

static enum verr read_api_token(struct stmt *st, struct api_token *t, struct verror *err)
{
	size_t name_len;
	const char *name = st->conn->drv->col_text(st, 2, &name_len);

	memset(t, 0, sizeof(*t));
	t->id = col_i64(st, 0);
	t->user_id = col_i64(st, 1);
	if (name_len > STORE_API_TOKEN_NAME_MAX)
		return verr_set(err, VERR_INTERNAL, "api token %" PRId64 " has a malformed row",
		                t->id);
	memcpy(t->name, name, name_len);
	t->write = strcmp(col_text(st, 3), "write") == 0;
	t->created_at = col_i64(st, 4);
	t->last_used_at = col_null(st, 5) ? 0 : col_i64(st, 5);
	t->expires_at = col_null(st, 6) ? 0 : col_i64(st, 6);
	return VERR_OK;
}

struct api_token_write {
	int64_t user_id, expires_at, now, max_tokens;
	const char *name, *hash;
	bool write;
	int64_t id;
};

/* The user's row first, locked where the database locks rows: two creations at once take
 * turns, so neither slips past the limit. */
static enum verr api_token_insert(struct conn *c, void *arg, struct verror *err)
{
	struct api_token_write *w = arg;
	struct stmt *st;
	bool row;
	enum verr rc = c->drv->prepare(c, Q_USAGE_LOCK, &st, err);

	if (rc)
		return rc;
	bind_i64(st, 1, w->user_id);
	if ((rc = db_expect_row(st, "no such user", err)) ||
	    (rc = c->drv->prepare(c, Q_API_TOKENS_EXPIRED, &st, err)))
		return rc;
	bind_i64(st, 1, w->user_id);
	bind_i64(st, 2, w->now);
	if ((rc = db_finish(st, err)) || (rc = c->drv->prepare(c, Q_API_TOKEN_COUNT, &st, err)))
		return rc;
	bind_i64(st, 1, w->user_id);
	if ((rc = step(st, &row, err)))
		return rc;
	int64_t count = row ? col_i64(st, 0) : 0;
	reset(st);
	if (count >= w->max_tokens)
		return verr_set(err, VERR_FORBIDDEN,
		                "You have %" PRId64 " tokens, the most allowed: revoke one first",
		                count);
	if ((rc = c->drv->prepare(c, Q_API_TOKEN_INSERT, &st, err)))
		return rc;
	bind_i64(st, 1, w->user_id);
	bind_text(st, 2, w->name);
	bind_text(st, 3, w->write ? "write" : "read");
	bind_text(st, 4, w->hash);
	bind_i64(st, 5, w->now);
	if (w->expires_at)
		bind_i64(st, 6, w->expires_at);
	else
		c->drv->bind_null(st, 6);
	if ((rc = step(st, &row, err)))
		return rc;
	w->id = row ? col_i64(st, 0) : 0;
	return db_finish(st, err);
}

enum verr store_api_token_create(struct store *s, int64_t user_id, const char *name, bool write,
                                 const char *token_hash, int64_t expires_at, int64_t now,
                                 int64_t max_tokens, struct api_token *out, struct verror *err)
{
	struct api_token_write w = {.user_id = user_id,
	                            .name = name,
	                            .write = write,
	                            .hash = token_hash,
	                            .expires_at = expires_at,
	                            .now = now,
	                            .max_tokens = max_tokens};
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if (strlen(name) > STORE_API_TOKEN_NAME_MAX)
		return verr_set(err, VERR_INVALID, "name longer than %d bytes",
		                STORE_API_TOKEN_NAME_MAX);
	if ((rc = db_write(s, api_token_insert, &w, err)))
		return rc;
	out->id = w.id;
	out->user_id = user_id;
	strcpy(out->name, name);
	out->write = write;
	out->created_at = now;
	out->expires_at = expires_at;
	return VERR_OK;
}

enum verr store_api_token_list(struct store *s, int64_t user_id, struct api_token **out, size_t *n,
                               struct verror *err)
{
	struct conn *c = NULL;
	struct api_token *list = NULL;
	size_t len = 0, cap = 0;
	struct stmt *st;
	bool row;
	enum verr rc;

	*out = NULL;
	*n = 0;
	if ((rc = db_get(s, false, &c, Q_API_TOKEN_LIST, &st, err)))
		goto out;
	bind_i64(st, 1, user_id);
	while ((rc = step(st, &row, err)) == VERR_OK && row) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			list = xrealloc(list, cap * sizeof(*list));
		}
		if ((rc = read_api_token(st, &list[len], err)))
			goto out;
		len++;
	}
	if (rc)
		goto out;
	*out = list;
	*n = len;
	list = NULL;
out:
	s->drv->conn_put(s, c);
	free(list);
	return rc;
}

enum verr store_api_token_delete(struct store *s, int64_t user_id, int64_t id, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	enum verr rc = db_get(s, true, &c, Q_API_TOKEN_DELETE, &st, err);
	if (rc == VERR_OK) {
		bind_i64(st, 1, id);
		bind_i64(st, 2, user_id);
		rc = db_expect_row(st, "No such token", err);
	}
	s->drv->conn_put(s, c);
	return rc;
}

enum verr store_api_token_find(struct store *s, const char *token_hash, int64_t now,
                               struct api_token *out, struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	bool row;
	enum verr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_get(s, false, &c, Q_API_TOKEN_FIND, &st, err)))
		goto out;
	bind_text(st, 1, token_hash);
	bind_i64(st, 2, now);
	if ((rc = step(st, &row, err)))
		goto out;
	rc = row ? read_api_token(st, out, err) : verr_set(err, VERR_NOT_FOUND, "no such token");
	reset(st);
out:
	s->drv->conn_put(s, c);
	return rc;
}

enum verr store_api_token_touch(struct store *s, int64_t id, int64_t now, int64_t every_ms,
                                struct verror *err)
{
	struct conn *c = NULL;
	struct stmt *st;
	enum verr rc = db_get(s, true, &c, Q_API_TOKEN_TOUCH, &st, err);
	if (rc == VERR_OK) {
		bind_i64(st, 1, id);
		bind_i64(st, 2, now);
		bind_i64(st, 3, now - every_ms);
		rc = db_finish(st, err);
	}
	s->drv->conn_put(s, c);
	return rc;
}
