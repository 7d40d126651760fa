/*
 * test_store_pg.c - the PostgreSQL backend of store.h against a real server.
 *
 * The server comes from VAULT_TEST_PG_URL (scripts/pg start prints one);
 * without it every test is skipped. Each test gets a schema of its own,
 * t_vault_<pid>_<n>, through the URL's options=-csearch_path=..., and drops
 * it at the end, so tests run in parallel on one database. Where the
 * interface cannot show an effect, the tests look with a libpq connection
 * of their own (raw), on the same schema.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/pg_test.h"
#include "core/log.h"
#include "store/store.h"
#include "unit/store_import_cases.h"

#define DIM 8 /* the tests' EMBEDDING_DIM */

static struct store *db;
static PGconn *raw;
static char schema[64];
static char url[1024];

/* Runs sql on the raw connection; fails the test on error. */
static void exec_raw(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	PGresult *r = PQexec(raw, sql);
	ExecStatusType st = PQresultStatus(r);
	cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
	          PQresultErrorMessage(r));
	PQclear(r);
}

/* One integer from a query on the raw connection. */
static int64_t query_int(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	PGresult *r = PQexec(raw, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
	cr_assert_eq(PQntuples(r), 1, "%s", sql);
	int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* How chunks.embedding is stored: 'm' (MAIN: in the row) or 'x' (EXTENDED: TOAST's choice). */
static char embedding_storage(void)
{
	return (char)query_int("SELECT ascii(attstorage) FROM pg_attribute WHERE attrelid = "
	                       "'%s.chunks'::regclass AND attname = 'embedding'",
	                       schema);
}

/*
 * Skips the test without a server; else makes the test's schema and the
 * URL that selects it, and opens the raw connection on it.
 */
static void need_pg(void)
{
	static int counter;
	if (!pg_test_url())
		cr_skip_test("VAULT_TEST_PG_URL not set");
	snprintf(schema, sizeof(schema), "t_vault_%d_%d_%ld", (int)getpid(), ++counter,
	         (long)time(NULL) % 100000);
	/* Its own application_name, so a test can find its pool's backends. */
	char extra[96];
	snprintf(extra, sizeof(extra), "application_name=%s", schema);
	char *u = pg_test_schema_url(schema, extra);
	snprintf(url, sizeof(url), "%s", u);
	free(u);
	snprintf(extra, sizeof(extra), "CREATE SCHEMA %s", schema);
	char *msg = pg_test_exec(extra);
	cr_assert_null(msg, "%s: %s", extra, msg);
	raw = PQconnectdb(pg_test_url());
	cr_assert_eq(PQstatus(raw), CONNECTION_OK, "%s", PQerrorMessage(raw));
	PQclear(PQexec(raw, "SET client_min_messages = warning"));
	exec_raw("SET search_path = %s, public", schema);
}

static void setup(void)
{
	db = NULL;
	raw = NULL;
	schema[0] = '\0';
	log_init(LOG_ERROR, LOG_JSON, NULL); /* quiet: migrations log at info */
}

static void teardown(void)
{
	store_close(db);
	db = NULL;
	if (raw && schema[0]) {
		PGresult *r = PQexec(raw, "RESET search_path");
		PQclear(r);
		char sql[128];
		snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", schema);
		PQclear(PQexec(raw, sql));
	}
	PQfinish(raw);
	raw = NULL;
}

TestSuite(store_pg, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------- helpers */

static struct store_opts test_opts(void)
{
	return (struct store_opts){.embedding_dim = DIM};
}

static void open_migrated(const struct store_opts *opts)
{
	struct verror err = {0};
	struct store_opts def = test_opts();
	int applied = -1;
	cr_assert_eq(store_open(url, opts ? opts : &def, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_migrate_up(db, -1, &applied, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(applied, 8);
}

static int64_t make_user(const char *email)
{
	struct verror err = {0};
	struct user u;
	cr_assert_eq(store_user_create(db, email, "$2b$12$hash", 1000, &u, &err), VERR_OK, "%s",
	             err.detail);
	return u.id;
}

static int64_t make_note(int64_t user_id, const char *title, const char *content,
                         const char *const *tags, size_t ntags, int64_t now)
{
	struct verror err = {0};
	struct note_input in = {title, content, tags, ntags};
	struct note n;
	cr_assert_eq(store_note_create(db, user_id, &in, now, &n, &err), VERR_OK, "%s", err.detail);
	int64_t id = n.id;
	note_free(&n);
	return id;
}

static void make_token(int64_t user_id, const char *family, const char *hash, int64_t expires)
{
	struct verror err = {0};
	cr_assert_eq(store_token_insert(db, user_id, family, hash, expires, 1000, &err), VERR_OK,
	             "%s", err.detail);
}

static void assert_tags(const struct note *n, const char *const *want, size_t nwant)
{
	cr_assert_eq(n->ntags, nwant, "note %lld has %zu tags, want %zu", (long long)n->id,
	             n->ntags, nwant);
	for (size_t i = 0; i < nwant; i++)
		cr_assert_str_eq(n->tags[i], want[i]);
}

/* Chunks whose hash is their text: short, unique and readable in these tests. */
static int64_t make_chunked(int64_t uid, const char *title, const char *const *texts, size_t n,
                            int64_t now)
{
	struct verror err = {0};
	struct chunk_input ch[16];
	struct note got;
	cr_assert_leq(n, 16);
	for (size_t i = 0; i < n; i++)
		ch[i] = (struct chunk_input){"", texts[i], texts[i]};
	struct note_input in = {title, "body", NULL, 0, ch, n};
	cr_assert_eq(store_note_create(db, uid, &in, now, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(got.embedding_status, n ? EMBED_PENDING : EMBED_READY);
	int64_t id = got.id;
	note_free(&got);
	return id;
}

static int64_t chunk_id(const char *text)
{
	return query_int("SELECT id FROM chunks WHERE text = '%s'", text);
}

/* Claims and frees; returns how many, their ids in ids (if given). */
static size_t claim(size_t limit, int64_t now, int64_t lease, int64_t *ids)
{
	struct verror err = {0};
	struct embed_job *jobs = NULL;
	size_t n = 99;
	cr_assert_eq(store_embed_claim(db, limit, now, lease, &jobs, &n, &err), VERR_OK, "%s",
	             err.detail);
	for (size_t i = 0; ids && i < n; i++)
		ids[i] = jobs[i].chunk_id;
	embed_jobs_free(jobs, n);
	return n;
}

static void embed_vec(int64_t cid, const char *hash, const char *model, const float *v)
{
	struct verror err = {0};
	cr_assert_eq(store_embed_done(db, &cid, &hash, 1, model, DIM, v, 9000, &err), VERR_OK, "%s",
	             err.detail);
}

/* ---------------------------------------------------------------- migrations */

/* libpq quotes a malformed URL in its messages; vault's must not, it may hold a password. */
Test(store_pg, malformed_url_is_refused_without_quoting_it)
{
	struct verror err = {0};
	const char *bad[] = {"postgresql://vault:hunter2%zz@127.0.0.1:1/vault",
	                     "postgresql://vault:hunter2@[::1:1/vault",
	                     "postgresql://vault:hunter2@127.0.0.1:1/vault?nosuchoption=1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct store *s = (struct store *)&err;
		cr_assert_eq(store_open(bad[i], NULL, &s, &err), VERR_INVALID, "%s", bad[i]);
		cr_assert_null(s);
		cr_assert_null(strstr(err.detail, "hunter2"), "%s", err.detail);
	}
}

Test(store_pg, migrate_up_down_up_and_status)
{
	struct verror err = {0};
	struct store_opts opts = test_opts();
	struct migration_info *mi = NULL;
	size_t n = 0;
	int steps = -1;
	struct user u;

	need_pg();
	cr_assert_eq(store_open(url, &opts, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_migrate_status(db, &mi, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 8);
	cr_assert_eq(mi[0].version, 1);
	cr_assert_str_eq(mi[0].name, "init");
	cr_assert_eq(mi[0].applied_at, 0);
	cr_assert_str_eq(mi[1].name, "search");
	cr_assert_eq(mi[1].applied_at, 0);
	cr_assert_eq(mi[2].version, 3);
	cr_assert_str_eq(mi[2].name, "keyword_per_user");
	cr_assert_eq(mi[2].applied_at, 0);
	cr_assert_eq(mi[3].version, 4);
	cr_assert_str_eq(mi[3].name, "usage");
	cr_assert_eq(mi[4].version, 5);
	cr_assert_str_eq(mi[4].name, "keyword_bm25");
	cr_assert_eq(mi[5].version, 6);
	cr_assert_str_eq(mi[5].name, "api_tokens");
	cr_assert_eq(mi[6].version, 7);
	cr_assert_str_eq(mi[6].name, "import");
	cr_assert_eq(mi[7].version, 8);
	cr_assert_str_eq(mi[7].name, "vectors_inline");
	free(mi);

	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 8);
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 0, "up at the latest version must do nothing");
	cr_assert_eq(embedding_storage(), 'm');
	cr_assert_eq(query_int("SELECT count(*) FROM pg_tables WHERE schemaname = '%s' AND "
	                       "tablename IN ('users','notes','refresh_tokens','chunks')",
	                       schema),
	             4);
	cr_assert_eq(query_int("SELECT atttypmod FROM pg_attribute WHERE attrelid = "
	                       "'%s.chunks'::regclass AND attname = 'embedding'",
	                       schema),
	             DIM);
	cr_assert_eq(store_migrate_status(db, &mi, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_gt(mi[0].applied_at, 0);
	cr_assert_gt(mi[1].applied_at, 0);
	cr_assert_gt(mi[2].applied_at, 0);
	free(mi);
	cr_assert_eq(store_user_create(db, "a@x.org", "h", 1, &u, &err), VERR_OK, "%s", err.detail);

	/* One step down puts vectors back in TOAST's hands. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(embedding_storage(), 'x');

	/* The next reverts import only: the columns, the index and the table go. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT count(*) FROM information_schema.columns WHERE "
	                       "table_schema = '%s' AND column_name IN ('source_path', "
	                       "'source_hash', 'aliases')",
	                       schema),
	             0);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_tables WHERE schemaname = '%s' AND "
	                       "tablename = 'note_links'",
	                       schema),
	             0);

	/* The next reverts api_tokens only. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_tables WHERE schemaname = '%s' AND "
	                       "tablename = 'api_tokens'",
	                       schema),
	             0);
	cr_assert_eq(query_int("SELECT count(*) FROM users"), 1);

	/* The next reverts keyword_bm25 only: the usage trigger stays. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT count(*) FROM information_schema.columns WHERE "
	                       "table_schema = '%s' AND column_name IN ('keyword_length', "
	                       "'notes_count')",
	                       schema),
	             1);
	/* The trigger is migration 4's again: it keeps the counts without keyword_length. */
	int64_t id =
	    query_int("INSERT INTO notes (user_id, title, content, created_at, updated_at) "
	              "VALUES (%lld, 't', 'c', 1, 1) RETURNING id",
	              (long long)u.id);
	cr_assert_eq(query_int("SELECT notes_count FROM users WHERE id = %lld", (long long)u.id),
	             1);
	exec_raw("DELETE FROM notes WHERE id = %lld", (long long)id);

	/* The next reverts usage only. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(
	    query_int("SELECT count(*) FROM information_schema.columns WHERE "
	              "table_schema = '%s' AND column_name IN ('notes_count','notes_bytes')",
	              schema),
	    0);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_proc WHERE proname = 'vault_notes_usage' "
	                       "AND pronamespace = '%s'::regnamespace",
	                       schema),
	             0);

	/* The next reverts keyword_per_user only: the shared index is back. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_indexes WHERE schemaname = '%s' AND "
	                       "indexname IN ('notes_search', 'notes_search_owned')",
	                       schema),
	             1);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_proc WHERE proname = 'vault_owned_lexemes' "
	                       "AND pronamespace = '%s'::regnamespace",
	                       schema),
	             0);

	/* The next one reverts search; the users stay. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT count(*) FROM users"), 1);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_tables WHERE schemaname = '%s' AND "
	                       "tablename = 'chunks'",
	                       schema),
	             0);
	cr_assert_eq(query_int("SELECT count(*) FROM information_schema.columns WHERE "
	                       "table_schema = '%s' AND column_name IN ('index_version','search')",
	                       schema),
	             0);

	cr_assert_eq(store_migrate_down(db, 0, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_tables WHERE schemaname = '%s' AND "
	                       "tablename <> 'schema_migrations'",
	                       schema),
	             0);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_extension WHERE extname = 'vector'"), 1,
	             "down must leave the database-wide extension alone");
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 0);

	/* Up again: the prepared statements must find the new tables; ids start over. */
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 8);
	cr_assert_eq(store_user_create(db, "a@x.org", "h", 1, &u, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(u.id, 1);
	verr_clear(&err);
	cr_assert_eq(store_schema_check(db, &err), VERR_OK, "%s", err.detail);

	cr_assert_eq(store_migrate_up(db, 9, &steps, &err), VERR_INVALID);
	cr_assert_eq(store_migrate_down(db, -2, &steps, &err), VERR_INVALID);
}

Test(store_pg, schema_check_version_and_dimension)
{
	struct verror err = {0};
	struct store_opts opts = test_opts();
	struct store *other = NULL;
	int steps;

	need_pg();
	cr_assert_eq(store_open(url, &opts, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_schema_check(db, &err), VERR_UNAVAILABLE);
	cr_assert(strstr(err.detail, "version 0, expected 8") != NULL, "%s", err.detail);
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	verr_clear(&err);
	cr_assert_eq(store_schema_check(db, &err), VERR_OK, "%s", err.detail);

	/* The same schema read by a build configured for another model's dimension. */
	opts.embedding_dim = 1536;
	cr_assert_eq(store_open(url, &opts, &other, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_schema_check(other, &err), VERR_UNAVAILABLE);
	cr_assert(strstr(err.detail, "vector(8) but EMBEDDING_DIM is 1536") != NULL, "%s",
	          err.detail);
	/* A reindex of every user changes the column; vectors stay in their rows. */
	cr_assert_eq(store_reindex(other, 0, NULL, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(query_int("SELECT atttypmod FROM pg_attribute WHERE attrelid = "
	                       "'%s.chunks'::regclass AND attname = 'embedding'",
	                       schema),
	             1536);
	cr_assert_eq(embedding_storage(), 'm');
	store_close(other);

	exec_raw("INSERT INTO schema_migrations VALUES (99, 'future', 1)");
	cr_assert_eq(store_schema_check(db, &err), VERR_UNAVAILABLE);
	cr_assert(strstr(err.detail, "version 99") != NULL, "%s", err.detail);
	cr_assert_eq(store_migrate_down(db, 0, &steps, &err), VERR_INVALID);
}

/* Two handles migrating one schema at once: the advisory lock lets one do each step. */
static void *migrate_racer(void *arg)
{
	struct verror err = {0};
	struct store_opts opts = test_opts();
	struct store *s = NULL;
	int *applied = arg;
	if (store_open(url, &opts, &s, &err) || store_migrate_up(s, -1, applied, &err))
		*applied = -100;
	store_close(s);
	return NULL;
}

Test(store_pg, concurrent_migrations_apply_each_step_once)
{
	pthread_t t[4];
	int applied[4];
	need_pg();
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, migrate_racer, &applied[i]), 0);
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_geq(applied[i], 0, "racer %d failed", i);
		total += applied[i];
	}
	cr_assert_eq(total, 8);
	cr_assert_eq(query_int("SELECT count(*) FROM schema_migrations"), 8);
}

/* ---------------------------------------------------------------- users, notes */

Test(store_pg, users_crud)
{
	struct verror err = {0};
	struct user u, got, *all = NULL;
	size_t n;
	need_pg();
	open_migrated(NULL);

	cr_assert_eq(store_user_create(db, "ann@x.org", "$2b$hash", 1234, &u, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_gt(u.id, 0);
	cr_assert_eq(store_user_create(db, "ann@x.org", "other", 1, &got, &err), VERR_CONFLICT);
	cr_assert_eq(store_user_get(db, u.id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(got.email, "ann@x.org");
	cr_assert_str_eq(got.password_hash, "$2b$hash");
	cr_assert_eq(got.created_at, 1234);
	cr_assert_eq(store_user_get_by_email(db, "ann@x.org", &got, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(got.id, u.id);
	cr_assert_eq(store_user_get_by_email(db, "nobody@x.org", &got, &err), VERR_NOT_FOUND);
	int64_t bob = make_user("bob@x.org");
	cr_assert_eq(store_user_list(db, &all, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 2);
	cr_assert_eq(all[0].id, u.id);
	cr_assert_eq(all[1].id, bob);
	free(all);

	/* Deleting cascades to notes, chunks and tokens; the id is never reused. */
	const char *texts[] = {"one", "two"};
	make_chunked(u.id, "n", texts, 2, 10);
	make_token(u.id, "fam", "tok", 99999);
	cr_assert_eq(store_user_delete(db, u.id, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_user_delete(db, u.id, &err), VERR_NOT_FOUND);
	cr_assert_eq(query_int("SELECT count(*) FROM notes"), 0);
	cr_assert_eq(query_int("SELECT count(*) FROM chunks"), 0);
	cr_assert_eq(query_int("SELECT count(*) FROM refresh_tokens"), 0);
	cr_assert_eq(store_user_create(db, "ann@x.org", "h", 1, &got, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_gt(got.id, bob);
}

Test(store_pg, quotas_hold_in_the_writing_transaction)
{
	struct verror err = {0};
	struct note n;
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	/* Two notes of 10 bytes each (title + content) at most 25 bytes. */
	struct note_input in = {
	    .title = "t", .content = "123456789", .max_notes = 2, .max_bytes = 25};
	cr_assert_eq(store_note_create(db, ann, &in, 1, &n, &err), VERR_OK, "%s", err.detail);
	int64_t first = n.id;
	note_free(&n);
	cr_assert_eq(store_note_create(db, ann, &in, 2, &n, &err), VERR_OK, "%s", err.detail);
	note_free(&n);
	cr_assert_eq(store_note_create(db, ann, &in, 3, &n, &err), VERR_FORBIDDEN);
	cr_assert(strstr(err.detail, "at most 2 notes"), "%s", err.detail);
	cr_assert_eq(query_int("SELECT notes_count FROM users WHERE id = %lld", (long long)ann), 2);
	cr_assert_eq(query_int("SELECT notes_bytes FROM users WHERE id = %lld", (long long)ann),
	             20);

	/* Growing past the bytes is refused and changes nothing; shrinking is fine. */
	struct note_input big = in;
	big.content = "123456789012345";
	cr_assert_eq(store_note_update(db, ann, first, &big, 4, &n, &err), VERR_FORBIDDEN);
	cr_assert(strstr(err.detail, "at most 25 bytes"), "%s", err.detail);
	cr_assert_eq(store_note_get(db, ann, first, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(n.content, "123456789");
	note_free(&n);
	big.max_bytes = 5; /* lowered below what is stored: a smaller note still saves */
	big.content = "1";
	cr_assert_eq(store_note_update(db, ann, first, &big, 5, &n, &err), VERR_OK, "%s",
	             err.detail);
	note_free(&n);
	cr_assert_eq(query_int("SELECT notes_bytes FROM users WHERE id = %lld", (long long)ann),
	             12);

	/* Deleting gives room back; another user's usage is their own. */
	cr_assert_eq(store_note_delete(db, ann, first, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(query_int("SELECT notes_count FROM users WHERE id = %lld", (long long)ann), 1);
	cr_assert_eq(store_note_create(db, ann, &in, 6, &n, &err), VERR_OK, "%s", err.detail);
	note_free(&n);
	int64_t bob = make_user("bob@x.org");
	cr_assert_eq(store_note_create(db, bob, &in, 7, &n, &err), VERR_OK, "%s", err.detail);
	note_free(&n);
}

Test(store_pg, constraint_errors_name_no_rows)
{
	/* PostgreSQL's DETAIL ("Key (user_id)=(987654) is not present...") went
	 * into the 404 a client read. */
	struct verror err = {0};
	struct user u, dup;
	need_pg();
	open_migrated(NULL);
	cr_assert_eq(store_token_insert(db, 987654, "fam", "hash", 99999, 1, &err), VERR_NOT_FOUND);
	cr_assert(!strstr(err.detail, "987654") && !strstr(err.detail, "user_id"), "%s",
	          err.detail);
	cr_assert_eq(store_user_create(db, "ann@x.org", "h", 1, &u, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(store_user_create(db, "ann@x.org", "h", 1, &dup, &err), VERR_CONFLICT);
	cr_assert(!strstr(err.detail, "ann@") && !strstr(err.detail, "email"), "%s", err.detail);
}

Test(store_pg, note_crud_scoping_and_conflicts)
{
	struct verror err = {0};
	struct note got, upd;
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *tags[] = {"zeta", "alpha", "with \"quote\", comma {brace} \\ NULL"};
	int64_t id = make_note(ann, "Ann's", "body", tags, 3, 100);

	cr_assert_eq(store_note_get(db, ann, id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(got.title, "Ann's");
	cr_assert_str_eq(got.content, "body");
	cr_assert_eq(got.created_at, 100);
	cr_assert_eq(got.updated_at, 100);
	cr_assert_eq(got.embedding_status, EMBED_READY);
	assert_tags(&got, tags, 3);
	note_free(&got);

	/* Another user's note is exactly a missing one. */
	struct note_input in = {"Bob was here", "", NULL, 0};
	cr_assert_eq(store_note_get(db, bob, id, &got, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_update(db, bob, id, &in, 200, &upd, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_delete(db, bob, id, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_get(db, ann, id + 1000, &got, &err), VERR_NOT_FOUND);
	struct note_input dup = {"t", "c", (const char *[]){"a", "a"}, 2};
	cr_assert_eq(store_note_create(db, ann, &dup, 1, &got, &err), VERR_CONFLICT);
	struct note_input nouser = {"t", "c", NULL, 0};
	cr_assert_eq(store_note_create(db, 999999, &nouser, 1, &got, &err), VERR_NOT_FOUND);

	/* Optimistic concurrency: only at the updated_at the caller read. */
	const char *tags2[] = {"beta"};
	struct note_input in2 = {"New", "text", tags2, 1, NULL, 0, 100};
	cr_assert_eq(store_note_update(db, ann, id, &in2, 100, &upd, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(upd.updated_at, 101, "an update moves updated_at by at least 1 ms");
	cr_assert_eq(upd.created_at, 100);
	assert_tags(&upd, tags2, 1);
	note_free(&upd);
	cr_assert_eq(store_note_update(db, ann, id, &in2, 300, &upd, &err), VERR_CONFLICT);
	cr_assert_eq(store_note_get(db, ann, id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(got.updated_at, 101, "a refused update changes nothing");
	note_free(&got);
	in2.if_updated_at = 0;
	cr_assert_eq(store_note_update(db, ann, id, &in2, 300, &upd, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(upd.updated_at, 300);
	note_free(&upd);

	cr_assert_eq(store_note_delete(db, ann, id, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_note_delete(db, ann, id, &err), VERR_NOT_FOUND);
	int64_t again = make_note(ann, "x", "y", NULL, 0, 1);
	cr_assert_gt(again, id, "ids are never reused");
}

/* Sources, times given, aliases, links and backlinks (unit/store_import_cases.h). */
Test(store_pg, import_sources_and_links)
{
	need_pg();
	open_migrated(NULL);
	store_import_cases(db, make_user("ann@x.org"), make_user("bob@x.org"));
}

Test(store_pg, note_list_pages_tags_and_get_many)
{
	struct verror err = {0};
	struct note_page page;
	struct note many[4];
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *ab[] = {"a", "b"}, *a[] = {"a"};
	int64_t n1 = make_note(ann, "1", "", ab, 2, 10);
	int64_t n2 = make_note(ann, "2", "", a, 1, 20);
	int64_t n3 = make_note(ann, "3", "", NULL, 0, 20); /* same time: higher id first */
	int64_t foreign = make_note(bob, "b", "", ab, 2, 5);

	struct note_query q = {ann, 1, 10, NULL, 0};
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 3);
	cr_assert_eq(page.n, 2);
	cr_assert_eq(page.items[0].id, n2);
	cr_assert_eq(page.items[1].id, n1);
	assert_tags(&page.items[1], ab, 2);
	note_page_free(&page);

	struct note_query qt = {ann, 0, 10, (const char *[]){"b", "a", "a"}, 3};
	cr_assert_eq(store_note_list(db, &qt, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 1);
	cr_assert_eq(page.n, 1);
	cr_assert_eq(page.items[0].id, n1);
	note_page_free(&page);

	int64_t *ids = NULL;
	size_t n = 0;
	cr_assert_eq(store_note_ids_with_tags(db, ann, a, 1, &ids, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 2);
	cr_assert_eq(ids[0], n1);
	cr_assert_eq(ids[1], n2);
	free(ids);
	cr_assert_eq(store_note_ids_with_tags(db, ann, NULL, 0, &ids, &n, &err), VERR_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[2], n3);
	free(ids);

	int64_t want[4] = {n3, foreign, n1, n3};
	cr_assert_eq(store_notes_get_many(db, ann, want, 4, many, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(many[0].id, n3);
	cr_assert_eq(many[1].id, 0, "another user's note is left empty");
	cr_assert_eq(many[2].id, n1);
	assert_tags(&many[2], ab, 2);
	cr_assert_eq(many[3].id, n3);
	cr_assert_str_eq(many[3].title, "3");
	for (int i = 0; i < 4; i++)
		note_free(&many[i]);
}

/* ---------------------------------------------------------------- tokens */

Test(store_pg, token_rotate_reuse_and_revoke)
{
	struct verror err = {0};
	int64_t uid = 0;
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "t1", 5000);

	cr_assert_eq(store_token_rotate(db, "t1", "t2", 9000, 2000, 0, &uid, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(uid, ann);
	cr_assert_eq(store_token_rotate(db, "nope", "x", 9000, 2000, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
	/* t1 again: a reuse, the whole family (t2 too) is revoked. */
	cr_assert_eq(store_token_rotate(db, "t1", "t3", 9000, 2100, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert(strstr(err.detail, "reused") != NULL, "%s", err.detail);
	cr_assert_eq(store_token_rotate(db, "t2", "t4", 9000, 2200, 0, &uid, &err),
	             VERR_UNAUTHORIZED);

	make_token(ann, "f2", "e1", 1500); /* expired at 2000 */
	cr_assert_eq(store_token_rotate(db, "e1", "e2", 9000, 2000, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
	make_token(ann, "f3", "r1", 99999);
	cr_assert_eq(store_token_revoke_family(db, ann + 1, "r1", 2000, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_token_revoke_family(db, ann, "r1", 2000, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(store_token_rotate(db, "r1", "r2", 9000, 2000, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
	make_token(ann, "f4", "s1", 99999);
	cr_assert_eq(store_token_revoke_all(db, ann, 2000, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_token_rotate(db, "s1", "s2", 9000, 2000, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
}

Test(store_pg, token_rotate_grace_tells_a_race_from_a_replay)
{
	struct verror err = {0};
	int64_t uid = 0;
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "t1", 99999);

	cr_assert_eq(store_token_rotate(db, "t1", "t2", 99999, 2000, 1000, &uid, &err), VERR_OK,
	             "%s", err.detail);
	/* Within the grace: a concurrent refresh that lost, not a replay. */
	cr_assert_eq(store_token_rotate(db, "t1", "x1", 99999, 2900, 1000, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert(strstr(err.detail, "just now") != NULL, "%s", err.detail);
	cr_assert_eq(store_token_rotate(db, "t2", "t3", 99999, 2950, 1000, &uid, &err), VERR_OK,
	             "the winner's token was revoked by the loser: %s", err.detail);
	/* Past the grace, the same presentation is a replay: the family goes. */
	cr_assert_eq(store_token_rotate(db, "t1", "x2", 99999, 3001, 1000, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert(strstr(err.detail, "reused") != NULL, "%s", err.detail);
	cr_assert_eq(store_token_rotate(db, "t3", "t4", 99999, 3100, 1000, &uid, &err),
	             VERR_UNAUTHORIZED, "the family survived a replay");
}

#define RACERS 8

struct racer {
	pthread_barrier_t *start;
	int index;
	enum verr rc;
	int64_t uid;
};

static void *race_rotate(void *arg)
{
	struct racer *r = arg;
	struct verror err = {0};
	char new_hash[32];
	snprintf(new_hash, sizeof(new_hash), "next-%d", r->index);
	pthread_barrier_wait(r->start);
	r->rc = store_token_rotate(db, "contested", new_hash, 99999, 2000, 0, &r->uid, &err);
	return NULL;
}

Test(store_pg, token_concurrent_rotation_has_one_winner)
{
	pthread_t threads[RACERS];
	struct racer racers[RACERS];
	pthread_barrier_t start;
	struct store_opts opts = test_opts();
	need_pg();
	opts.pool_size = RACERS; /* every racer on a connection of its own, truly at once */
	open_migrated(&opts);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "contested", 99999);

	pthread_barrier_init(&start, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		racers[i] = (struct racer){&start, i, VERR_INTERNAL, 0};
		cr_assert_eq(pthread_create(&threads[i], NULL, race_rotate, &racers[i]), 0);
	}
	int ok = 0, unauthorized = 0;
	for (int i = 0; i < RACERS; i++) {
		pthread_join(threads[i], NULL);
		if (racers[i].rc == VERR_OK) {
			ok++;
			cr_assert_eq(racers[i].uid, ann);
		} else if (racers[i].rc == VERR_UNAUTHORIZED) {
			unauthorized++;
		}
	}
	pthread_barrier_destroy(&start);
	cr_assert_eq(ok, 1, "%d rotations of one token succeeded", ok);
	cr_assert_eq(unauthorized, RACERS - 1);
	cr_assert_eq(query_int("SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE "
	                       "'next-%%'"),
	             1);
}

/* ---------------------------------------------------------------- embedding queue */

Test(store_pg, claim_lease_expiry_and_done)
{
	struct verror err = {0};
	struct embed_job *jobs = NULL;
	size_t n = 0;
	int64_t ids[8];
	float v[DIM] = {1};
	need_pg();
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *texts[] = {"a1", "a2", "a3"};
	int64_t note = make_chunked(uid, "Title", texts, 3, 10);

	cr_assert_eq(store_embed_claim(db, 2, 1000, 500, &jobs, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 2);
	cr_assert_eq(jobs[0].chunk_id, chunk_id("a1"));
	cr_assert_eq(jobs[1].chunk_id, chunk_id("a2"));
	cr_assert_str_eq(jobs[0].title, "Title");
	cr_assert_str_eq(jobs[0].text, "a1");
	cr_assert_str_eq(jobs[0].hash, "a1");
	cr_assert_eq(jobs[0].user_id, uid);
	cr_assert_eq(jobs[0].attempts, 0);
	embed_jobs_free(jobs, n);

	/* Leased until 1500: only a3 is offered meanwhile; after, the two come back. */
	cr_assert_eq(claim(10, 1200, 500, ids), 1);
	cr_assert_eq(ids[0], chunk_id("a3"));
	cr_assert_eq(claim(10, 1400, 500, NULL), 0);
	cr_assert_eq(claim(10, 1500, 500, ids), 2, "an expired lease is offered again");
	cr_assert_eq(ids[0], chunk_id("a1"));

	/* A stale hash is ignored; the right one lands and bumps the version. */
	int64_t before =
	    query_int("SELECT index_version FROM users WHERE id = %lld", (long long)uid);
	int64_t a1 = chunk_id("a1");
	const char *stale = "old";
	cr_assert_eq(store_embed_done(db, &a1, &stale, 1, "m", DIM, v, 2000, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(query_int("SELECT status FROM chunks WHERE id = %lld", (long long)a1), 0);
	cr_assert_eq(query_int("SELECT index_version FROM users WHERE id = %lld", (long long)uid),
	             before, "nothing written, nothing bumped");
	embed_vec(a1, "a1", "m", v);
	cr_assert_eq(query_int("SELECT status FROM chunks WHERE id = %lld", (long long)a1), 1);
	cr_assert_eq(
	    query_int("SELECT vector_dims(embedding) FROM chunks WHERE id = %lld", (long long)a1),
	    DIM);
	cr_assert_gt(query_int("SELECT index_version FROM users WHERE id = %lld", (long long)uid),
	             before);
	cr_assert_eq(store_embed_done(db, &a1, (const char *[]){"a1"}, 1, "m", DIM + 1, v, 1, &err),
	             VERR_INVALID);

	/* Failures: retried, then given up. */
	int64_t a2 = chunk_id("a2");
	cr_assert_eq(store_embed_failed(db, a2, "a2", "boom", 5000, false, &err), VERR_OK);
	cr_assert_eq(query_int("SELECT attempts FROM chunks WHERE id = %lld", (long long)a2), 1);
	cr_assert_eq(store_embed_failed(db, a2, "a2", "boom", 0, true, &err), VERR_OK);
	struct index_status st;
	cr_assert_eq(store_index_status(db, uid, "m", DIM, &st, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(st.pending, 1);
	cr_assert_eq(st.ready, 1);
	cr_assert_eq(st.failed, 1);
	cr_assert_eq(st.stale, 0);
	cr_assert_eq(store_index_status(db, uid, "other", DIM, &st, &err), VERR_OK);
	cr_assert_eq(st.stale, 1);

	/* An update keeps unchanged chunks' vectors; reindex makes all pending, vectors kept. */
	struct chunk_input ch[] = {{"", "a1", "a1"}, {"", "b9", "b9"}};
	struct note_input in = {"Title", "body", NULL, 0, ch, 2};
	struct note upd;
	cr_assert_eq(store_note_update(db, uid, note, &in, 3000, &upd, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(upd.embedding_status, EMBED_PENDING);
	note_free(&upd);
	cr_assert_eq(chunk_id("a1"), a1, "an unchanged chunk keeps its row");
	cr_assert_eq(query_int("SELECT count(*) FROM chunks"), 2);
	int64_t count = 0;
	cr_assert_eq(store_reindex(db, uid, &count, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(count, 2);
	cr_assert_eq(query_int("SELECT count(*) FROM chunks WHERE status = 0 AND embedding IS NOT "
	                       "NULL"),
	             1);

	int64_t *cids = NULL;
	char **ctexts = NULL;
	size_t nc = 0;
	cr_assert_eq(store_note_chunks(db, uid, note, &cids, &ctexts, &nc, &err), VERR_OK);
	cr_assert_eq(nc, 2);
	cr_assert_eq(cids[0], a1);
	cr_assert_str_eq(ctexts[1], "b9");
	for (size_t i = 0; i < nc; i++)
		free(ctexts[i]);
	free(ctexts);
	free(cids);
	cr_assert_eq(store_note_chunks(db, uid + 1, note, &cids, &ctexts, &nc, &err),
	             VERR_NOT_FOUND);
}

#define CLAIMERS    8
#define CLAIM_TOTAL 300

struct claimer {
	struct store *s;
	pthread_barrier_t *start;
	int64_t got[CLAIM_TOTAL];
	size_t n;
	enum verr rc;
};

static void *claim_all(void *arg)
{
	struct claimer *cl = arg;
	pthread_barrier_wait(cl->start);
	for (;;) {
		struct verror err = {0};
		struct embed_job *jobs = NULL;
		size_t n = 0;
		cl->rc = store_embed_claim(cl->s, 3, 1000, 1000000, &jobs, &n, &err);
		if (cl->rc != VERR_OK || n == 0)
			break;
		bool over = cl->n + n > CLAIM_TOTAL;
		for (size_t i = 0; i < n && cl->n < CLAIM_TOTAL; i++)
			cl->got[cl->n++] = jobs[i].chunk_id;
		embed_jobs_free(jobs, n);
		if (over) {
			cl->rc = VERR_CONFLICT;
			break;
		}
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Threads on two handles (two pools, as two processes): SKIP LOCKED keeps them disjoint. */
Test(store_pg, concurrent_claims_never_share_a_chunk)
{
	struct verror err = {0};
	struct store_opts opts = test_opts();
	struct store *other = NULL;
	pthread_t threads[CLAIMERS];
	static struct claimer cl[CLAIMERS];
	static int64_t all[CLAIM_TOTAL + CLAIMERS * 3];
	pthread_barrier_t start;
	need_pg();
	opts.pool_size = CLAIMERS / 2;
	open_migrated(&opts);
	int64_t uid = make_user("ann@x.org");
	cr_assert_eq(store_open(url, &opts, &other, &err), VERR_OK, "%s", err.detail);

	char texts[CLAIM_TOTAL / 10][10][32];
	for (int i = 0; i < CLAIM_TOTAL / 10; i++) {
		const char *t[10];
		for (int k = 0; k < 10; k++) {
			snprintf(texts[i][k], sizeof(texts[i][k]), "c%d-%d", i, k);
			t[k] = texts[i][k];
		}
		make_chunked(uid, "n", t, 10, i);
	}
	pthread_barrier_init(&start, NULL, CLAIMERS);
	for (int i = 0; i < CLAIMERS; i++) {
		cl[i] = (struct claimer){.s = i % 2 ? other : db, .start = &start};
		cr_assert_eq(pthread_create(&threads[i], NULL, claim_all, &cl[i]), 0);
	}
	size_t total = 0;
	for (int i = 0; i < CLAIMERS; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_eq(cl[i].rc, VERR_OK, "claimer %d: %d", i, cl[i].rc);
		for (size_t k = 0; k < cl[i].n; k++)
			all[total++] = cl[i].got[k];
	}
	pthread_barrier_destroy(&start);
	store_close(other);
	cr_assert_eq(total, CLAIM_TOTAL, "every chunk claimed exactly once overall");
	qsort(all, total, sizeof(all[0]), cmp_i64);
	for (size_t i = 1; i < total; i++)
		cr_assert_neq(all[i], all[i - 1], "chunk %lld handed out twice", (long long)all[i]);
}

/* ---------------------------------------------------------------- keyword search */

static size_t kw(int64_t uid, const char *const *terms, size_t nterms, bool phrase,
                 const char *const *tags, size_t ntags, struct keyword_hit *out, size_t max)
{
	struct verror err = {0};
	struct keyword_hit *hits = NULL;
	size_t n = 0;
	cr_assert_eq(
	    store_keyword_search(db, uid, terms, nterms, phrase, tags, ntags, 10, &hits, &n, &err),
	    VERR_OK, "%s", err.detail);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = hits[i];
	free(hits);
	return n;
}

Test(store_pg, keyword_search_ranks_scopes_filters_and_phrases)
{
	struct keyword_hit h[10];
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *work[] = {"work"}, *garden[] = {"gardening tips"};
	int64_t in_title = make_note(ann, "Running shoes", "about feet", NULL, 0, 1);
	int64_t in_body = make_note(ann, "Misc", "I went running in new shoes today", work, 1, 2);
	int64_t in_tag = make_note(ann, "Plants", "roses", garden, 1, 3);
	int64_t other = make_note(ann, "Cooking", "pasta", NULL, 0, 4);
	make_note(bob, "Running shoes", "bob's", NULL, 0, 5);
	(void)other;

	/* Any term, stemmed ("runs" finds "running"); the title outranks the body. */
	const char *q1[] = {"runs", "shoe"};
	cr_assert_eq(kw(ann, q1, 2, false, NULL, 0, h, 10), 2);
	cr_assert_eq(h[0].note_id, in_title);
	cr_assert_eq(h[1].note_id, in_body);
	cr_assert_gt(h[0].score, h[1].score);
	cr_assert_gt(h[1].score, 0);

	/* The tag filter, and the tags themselves are searched. */
	cr_assert_eq(kw(ann, q1, 2, false, work, 1, h, 10), 1);
	cr_assert_eq(h[0].note_id, in_body);
	const char *q2[] = {"gardening"};
	cr_assert_eq(kw(ann, q2, 1, false, NULL, 0, h, 10), 1);
	cr_assert_eq(h[0].note_id, in_tag);

	/* A phrase must stand in the title or a tag, not just anywhere. */
	const char *q3[] = {"running", "shoes"};
	cr_assert_eq(kw(ann, q3, 2, true, NULL, 0, h, 10), 1);
	cr_assert_eq(h[0].note_id, in_title);
	const char *q4[] = {"gardening", "tip"};
	cr_assert_eq(kw(ann, q4, 2, true, NULL, 0, h, 10), 1);
	cr_assert_eq(h[0].note_id, in_tag);
	const char *q5[] = {"shoes", "running"};
	cr_assert_eq(kw(ann, q5, 2, true, NULL, 0, h, 10), 0, "a phrase keeps its order");

	/* Odd input never raises; no words match nothing. */
	const char *q6[] = {"or", "and", "not", "\xc3\xa9t\xc3\xa9"};
	kw(ann, q6, 4, false, NULL, 0, h, 10);
	kw(ann, q6, 4, true, NULL, 0, h, 10);
	cr_assert_eq(kw(ann, NULL, 0, false, NULL, 0, h, 10), 0);

	/* Updates and deletes follow at once. */
	struct verror err = {0};
	struct note upd;
	struct note_input in = {"Cooking", "running late", NULL, 0};
	cr_assert_eq(store_note_update(db, ann, other, &in, 10, &upd, &err), VERR_OK, "%s",
	             err.detail);
	note_free(&upd);
	const char *q7[] = {"late"};
	cr_assert_eq(kw(ann, q7, 1, false, NULL, 0, h, 10), 1);
	cr_assert_eq(store_note_delete(db, ann, other, &err), VERR_OK);
	cr_assert_eq(kw(ann, q7, 1, false, NULL, 0, h, 10), 0);
}

/*
 * A user's keyword results, order and scores, come from their own notes:
 * the same before and after another user writes many notes with their
 * words: BM25's figures (notes, lengths, document frequencies) are the
 * user's own (migration 5), and the search reads only the user's postings
 * (migration 3), which bench/isolation.sh measures.
 */
Test(store_pg, keyword_ranking_uses_only_the_users_own_notes)
{
	struct keyword_hit before[10], after[10];
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	make_note(ann, "Groceries", "milk eggs bread and butter", NULL, 0, 1);
	int64_t ferry = make_note(ann, "Harbour day", "we took the ferry", NULL, 0, 2);
	make_note(ann, "Embassy day", "the visa arrived", NULL, 0, 3);
	make_note(ann, "Passport day", "visa stamps again and again", NULL, 0, 4);
	const char *q[] = {"ferry", "visa"};
	size_t n = kw(ann, q, 2, false, NULL, 0, before, 10);
	cr_assert_eq(n, 3);
	cr_assert_eq(before[0].note_id, ferry);
	for (int i = 0; i < 40; i++)
		make_note(bob, "Ferry", "ferry timetable, ferry fares, visa",
		          (const char *[]){"ferry"}, 1, 10 + i);
	cr_assert_eq(kw(ann, q, 2, false, NULL, 0, after, 10), n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(after[i].note_id, before[i].note_id, "hit %zu", i);
		cr_assert_float_eq(after[i].score, before[i].score, 1e-12, "hit %zu", i);
	}
	cr_assert_eq(kw(bob, q, 2, false, NULL, 0, after, 10), 10, "bob's own, up to the limit");
	for (size_t i = 0; i < 10; i++)
		cr_assert_eq(query_int("SELECT user_id FROM notes WHERE id = %lld",
		                       (long long)after[i].note_id),
		             bob);
}

/* users.keyword_length, BM25's collection length, follows every write of a note. */
Test(store_pg, keyword_length_follows_every_write)
{
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	const char *sum = "SELECT keyword_length - (SELECT coalesce(sum(length(search)), 0) "
	                  "FROM notes WHERE user_id = %lld) FROM users WHERE id = %lld";
	int64_t a = make_note(ann, "Harbour day", "we took the ferry, the ferry", NULL, 0, 1);
	make_note(ann, "Embassy", "visa", (const char *[]){"travel", "papers"}, 2, 2);
	cr_assert_eq(query_int("SELECT keyword_length FROM users WHERE id = %lld", (long long)ann),
	             8, "harbour day took ferri + embassi visa travel paper");
	exec_raw("UPDATE notes SET content = 'a much longer account of the day' WHERE id = %lld",
	         (long long)a);
	cr_assert_eq(query_int(sum, (long long)ann, (long long)ann), 0);
	exec_raw("UPDATE notes SET tags = ARRAY['one', 'two', 'three'] WHERE id = %lld",
	         (long long)a);
	cr_assert_eq(query_int(sum, (long long)ann, (long long)ann), 0);
	exec_raw("DELETE FROM notes WHERE id = %lld", (long long)a);
	cr_assert_eq(query_int("SELECT keyword_length FROM users WHERE id = %lld", (long long)ann),
	             4);
}

/*
 * A note's weighted frequency of a word, as the keyword query reads it
 * (ts_rank_cd of the one lexeme, times 10): 10 an occurrence in the title, 5
 * in a tag, 1 in the content, as SQLite's column weights.
 */
Test(store_pg, weighted_frequency_counts_each_occurrence)
{
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t a = make_note(ann, "Ferry day", "the ferry went, ferry and ferry",
	                      (const char *[]){"ferry", "ferry boats"}, 2, 1);
	cr_assert_eq(query_int("SELECT round(10 * ts_rank_cd('{0.1,0.1,0.5,1}', search, "
	                       "'ferri'::tsquery)) FROM notes WHERE id = %lld",
	                       (long long)a),
	             10 + 2 * 5 + 3);
}

/*
 * Migration 3 on a database with notes: their owner's index is built from
 * them, searches find them, and down brings the shared index back.
 */
Test(store_pg, migrate_keyword_per_user_indexes_existing_notes)
{
	struct verror err = {0};
	struct store_opts opts = test_opts();
	struct keyword_hit h[10];
	int steps;
	need_pg();
	cr_assert_eq(store_open(url, &opts, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_migrate_up(db, 2, &steps, &err), VERR_OK, "%s", err.detail);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	/* Rows as version 2 holds them: the store's code is the latest version's. */
	int64_t mine =
	    query_int("INSERT INTO notes (user_id, title, content, created_at, "
	              "updated_at) VALUES (%lld, 'Harbour day', 'we took the ferry', 1, 1) "
	              "RETURNING id",
	              (long long)ann);
	query_int("INSERT INTO notes (user_id, title, content, created_at, updated_at) VALUES "
	          "(%lld, 'Ferry', 'the ferry port', 2, 2) RETURNING id",
	          (long long)bob);

	cr_assert_eq(store_migrate_up(db, 3, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT count(*) FROM notes WHERE vault_owned_lexemes(user_id, "
	                       "search) @> ARRAY['%lld ferri']",
	                       (long long)ann),
	             1);
	/* The store's queries are the latest version's: search once it is there. */
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	const char *q[] = {"ferries"};
	cr_assert_eq(kw(ann, q, 1, false, NULL, 0, h, 10), 1);
	cr_assert_eq(h[0].note_id, mine);
	/* Migration 5 summed the existing notes' lengths: took, ferri, harbour, day. */
	cr_assert_eq(query_int("SELECT keyword_length FROM users WHERE id = %lld", (long long)ann),
	             4);
	int64_t later = make_note(ann, "Ferry again", "", NULL, 0, 3);
	cr_assert_eq(kw(ann, q, 1, false, NULL, 0, h, 10), 2);
	cr_assert_eq(h[0].note_id, later, "the title outranks the body");

	cr_assert_eq(store_migrate_down(db, 2, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(query_int("SELECT count(*) FROM pg_indexes WHERE indexname = 'notes_search' "
	                       "AND schemaname = '%s'",
	                       schema),
	             1);
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(kw(ann, q, 1, false, NULL, 0, h, 10), 2);
}

/* ---------------------------------------------------------------- vector search */

#define VNOTES  30
#define VCHUNKS 3

/* A deterministic pseudo-random unit vector. */
static void unit_vec(float *v, unsigned *seed)
{
	double norm = 0;
	for (int i = 0; i < DIM; i++) {
		v[i] = (float)(rand_r(seed) % 2001 - 1000) / 1000.0f;
		norm += (double)v[i] * v[i];
	}
	for (int i = 0; i < DIM; i++)
		v[i] = (float)(v[i] / sqrt(norm));
}

static double cosine(const float *a, const float *b)
{
	double d = 0;
	for (int i = 0; i < DIM; i++)
		d += (double)a[i] * b[i];
	return d;
}

struct brute {
	int64_t note_id, chunk_id;
	double sim;
};

static int brute_cmp(const void *a, const void *b)
{
	const struct brute *x = a, *y = b;
	if (x->sim != y->sim)
		return x->sim < y->sim ? 1 : -1;
	return (x->note_id > y->note_id) - (x->note_id < y->note_id);
}

static int64_t vnote[VNOTES], vchunk[VNOTES][VCHUNKS];
static float vvec[VNOTES][VCHUNKS][DIM];

/* VNOTES notes of uid with VCHUNKS embedded chunks each (model "m"), plus noise elsewhere. */
static void make_vectors(int64_t uid, int64_t other_uid)
{
	unsigned seed = 42;
	char texts[VNOTES][VCHUNKS][32];
	for (int i = 0; i < VNOTES; i++) {
		const char *t[VCHUNKS];
		for (int k = 0; k < VCHUNKS; k++) {
			snprintf(texts[i][k], sizeof(texts[i][k]), "v%lld-%d-%d", (long long)uid, i,
			         k);
			t[k] = texts[i][k];
		}
		vnote[i] = make_chunked(uid, "v", t, VCHUNKS, i);
		for (int k = 0; k < VCHUNKS; k++) {
			vchunk[i][k] = chunk_id(texts[i][k]);
			unit_vec(vvec[i][k], &seed);
			embed_vec(vchunk[i][k], texts[i][k], "m", vvec[i][k]);
		}
	}
	/* Another user's vectors and another model's must never be found. */
	for (int i = 0; i < 20; i++) {
		char t[32];
		float v[DIM];
		snprintf(t, sizeof(t), "other-%d", i);
		const char *tp = t;
		make_chunked(other_uid, "o", &tp, 1, i);
		unit_vec(v, &seed);
		embed_vec(chunk_id(t), t, "m", v);
	}
}

/* The brute-force answer for q over the notes in mask (NULL: all). */
static size_t brute_force(const float *q, const bool *mask, struct brute *out)
{
	size_t n = 0;
	for (int i = 0; i < VNOTES; i++) {
		if (mask && !mask[i])
			continue;
		struct brute best = {vnote[i], 0, -2};
		for (int k = 0; k < VCHUNKS; k++) {
			double s = cosine(q, vvec[i][k]);
			if (s > best.sim)
				best = (struct brute){vnote[i], vchunk[i][k], s};
		}
		out[n++] = best;
	}
	qsort(out, n, sizeof(*out), brute_cmp);
	return n;
}

static void assert_exact(const struct vector_hit *hits, size_t n, const struct brute *want,
                         size_t nwant, size_t limit)
{
	cr_assert_eq(n, nwant < limit ? nwant : limit);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(hits[i].note_id, want[i].note_id, "rank %zu", i);
		cr_assert_eq(hits[i].chunk_id, want[i].chunk_id, "rank %zu", i);
		cr_assert_float_eq(hits[i].similarity, want[i].sim, 1e-5, "rank %zu", i);
	}
}

Test(store_pg, vector_search_exact_equals_brute_force)
{
	struct verror err = {0};
	struct vector_hit *hits = NULL;
	struct brute want[VNOTES];
	size_t n = 0;
	float q[DIM];
	unsigned seed = 7;
	need_pg();
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	make_vectors(ann, bob);

	for (int round = 0; round < 5; round++) {
		unit_vec(q, &seed);
		size_t nwant = brute_force(q, NULL, want);
		cr_assert_eq(
		    store_vector_search(db, ann, "m", DIM, q, NULL, 0, false, 10, &hits, &n, &err),
		    VERR_OK, "%s", err.detail);
		assert_exact(hits, n, want, nwant, 10);
		free(hits);
	}

	/* filter: only the listed notes (a foreign id is simply not found); none: nothing. */
	bool mask[VNOTES] = {0};
	int64_t only[6];
	size_t nonly = 0;
	for (int i = 0; i < VNOTES; i += 6) {
		mask[i] = true;
		only[nonly++] = vnote[i];
	}
	only[nonly++] = 999999;
	size_t nwant = brute_force(q, mask, want);
	cr_assert_eq(
	    store_vector_search(db, ann, "m", DIM, q, only, nonly, true, 3, &hits, &n, &err),
	    VERR_OK, "%s", err.detail);
	assert_exact(hits, n, want, nwant, 3);
	free(hits);
	cr_assert_eq(store_vector_search(db, ann, "m", DIM, q, NULL, 0, true, 3, &hits, &n, &err),
	             VERR_OK);
	cr_assert_eq(n, 0);
	free(hits);
	cr_assert_eq(
	    store_vector_search(db, ann, "other", DIM, q, NULL, 0, false, 3, &hits, &n, &err),
	    VERR_OK);
	cr_assert_eq(n, 0, "another model's vectors are not searched");
	free(hits);

	/* A reindexed (pending) chunk keeps answering with its old vector, as in SQLite. */
	int64_t count;
	cr_assert_eq(store_reindex(db, ann, &count, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_vector_search(db, ann, "m", DIM, q, NULL, 0, false, 10, &hits, &n, &err),
	             VERR_OK, "%s", err.detail);
	nwant = brute_force(q, NULL, want);
	assert_exact(hits, n, want, nwant, 10);
	free(hits);
}

Test(store_pg, vector_search_hnsw_past_the_threshold)
{
	struct verror err = {0};
	struct vector_hit *hits = NULL;
	struct brute want[VNOTES];
	size_t n = 0;
	float q[DIM];
	unsigned seed = 11;
	need_pg();
	/* Read at open: this handle takes the HNSW path for any user with over 10 vectors. */
	setenv("VAULT_TEST_PG_EXACT_MAX", "10", 1);
	open_migrated(NULL);
	unsetenv("VAULT_TEST_PG_EXACT_MAX");
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	make_vectors(ann, bob);

	/* 90 rows: HNSW (ef_search 40, iterative) is near exact; recall@10 >= 0.9 each time. */
	for (int round = 0; round < 5; round++) {
		unit_vec(q, &seed);
		size_t nwant = brute_force(q, NULL, want);
		cr_assert_eq(
		    store_vector_search(db, ann, "m", DIM, q, NULL, 0, false, 10, &hits, &n, &err),
		    VERR_OK, "%s", err.detail);
		cr_assert_eq(n, 10);
		int found = 0;
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < 10 && j < nwant; j++)
				found += hits[i].note_id == want[j].note_id;
			for (size_t j = 0; j < i; j++)
				cr_assert_neq(hits[i].note_id, hits[j].note_id, "a note twice");
			if (i)
				cr_assert_geq(hits[i - 1].similarity, hits[i].similarity);
		}
		cr_assert_geq(found, 9, "recall@10 %d/10", found);
		cr_assert_eq(hits[0].note_id, want[0].note_id);
		cr_assert_float_eq(hits[0].similarity, want[0].sim, 1e-5);
		free(hits);
	}
	/* Bob's 20 vectors are past the threshold too: only his notes come back. */
	cr_assert_eq(store_vector_search(db, bob, "m", DIM, q, NULL, 0, false, 50, &hits, &n, &err),
	             VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 20);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < VNOTES; k++)
			cr_assert_neq(hits[i].note_id, vnote[k]);
	free(hits);
}

/*
 * The plan choice remembers a user's vector count by index version: each
 * change must be seen, from none to some (a stale 0 would hide them all)
 * and across the threshold (exact, then HNSW).
 */
Test(store_pg, vector_search_sees_every_change_of_the_count)
{
	struct verror err = {0};
	struct vector_hit *hits = NULL;
	size_t n = 99;
	float v[DIM] = {1};
	need_pg();
	setenv("VAULT_TEST_PG_EXACT_MAX", "2", 1);
	open_migrated(NULL);
	unsetenv("VAULT_TEST_PG_EXACT_MAX");
	int64_t ann = make_user("ann@x.org");
	cr_assert_eq(store_vector_search(db, ann, "m", DIM, v, NULL, 0, false, 10, &hits, &n, &err),
	             VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 0);
	free(hits);

	const char *texts[] = {"a1", "a2", "a3", "a4"};
	for (size_t k = 1; k <= 4; k++) {
		make_chunked(ann, texts[k - 1], &texts[k - 1], 1, 100);
		embed_vec(chunk_id(texts[k - 1]), texts[k - 1], "m", v);
		cr_assert_eq(
		    store_vector_search(db, ann, "m", DIM, v, NULL, 0, false, 10, &hits, &n, &err),
		    VERR_OK, "%s", err.detail);
		cr_assert_eq(n, k, "%zu notes found of %zu embedded", n, k);
		free(hits);
	}
}

/* ---------------------------------------------------------------- pool */

struct slow_rotation {
	enum verr rc;
	double ms;
};

static void *rotate_blocked(void *arg)
{
	struct slow_rotation *sr = arg;
	struct verror err = {0};
	int64_t uid;
	sr->rc = store_token_rotate(db, "locked", "after", 99999, 2000, 0, &uid, &err);
	return NULL;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/*
 * Starts a rotation of the token "locked" that holds one of the pool's
 * connections, waiting on a row lock raw takes: COMMIT releases both.
 */
static void hold_a_connection(struct slow_rotation *sr, pthread_t *t)
{
	exec_raw("BEGIN");
	exec_raw("SELECT 1 FROM refresh_tokens WHERE token_hash = 'locked' FOR UPDATE");
	cr_assert_eq(pthread_create(t, NULL, rotate_blocked, sr), 0);
	for (int i = 0; i < 100 && query_int("SELECT count(*) FROM pg_stat_activity WHERE "
	                                     "application_name = '%s' AND wait_event_type = "
	                                     "'Lock'",
	                                     schema) == 0;
	     i++)
		usleep(20000);
}

/*
 * The only connection is held by a rotation waiting on a row lock the test
 * holds: another operation gets VERR_UNAVAILABLE after the pool timeout,
 * not a hang; once the lock goes, both work again.
 */
Test(store_pg, pool_exhausted_is_unavailable_not_a_hang)
{
	struct verror err = {0};
	struct store_opts opts = test_opts();
	struct slow_rotation sr = {VERR_INTERNAL, 0};
	pthread_t t;
	need_pg();
	opts.pool_size = 1;
	opts.max_overflow = 0;
	opts.pool_timeout_ms = 200;
	open_migrated(&opts);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "locked", 99999);

	hold_a_connection(&sr, &t);
	double t0 = now_ms();
	cr_assert_eq(store_ping(db, &err), VERR_UNAVAILABLE);
	double waited = now_ms() - t0;
	cr_assert(strstr(err.detail, "pool exhausted") != NULL, "%s", err.detail);
	cr_assert(waited >= 150 && waited < 1000, "waited %.0f ms", waited);
	exec_raw("COMMIT");
	pthread_join(t, NULL);
	cr_assert_eq(sr.rc, VERR_OK);
	cr_assert_eq(store_ping(db, &err), VERR_OK, "%s", err.detail);
}

struct queued {
	int index;
	_Atomic int tid; /* set once the thread runs */
	enum verr rc;
	int64_t user_id; /* ids come in the order the one connection served the waiters */
};

static void *create_in_line(void *arg)
{
	struct queued *q = arg;
	struct verror err = {0};
	struct user u = {0};
	char email[32];
	snprintf(email, sizeof(email), "waiter%d@x.org", q->index);
	q->tid = gettid();
	q->rc = store_user_create(db, email, "$2b$12$hash", 1000, &u, &err);
	q->user_id = u.id;
	return NULL;
}

/* Whether thread tid of this process sleeps: a waiter here blocks nowhere but in line. */
static bool sleeping(int tid)
{
	char path[64], stat[256] = "";
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(stat, sizeof(stat), f))
			stat[0] = '\0';
		fclose(f);
	}
	const char *state = strrchr(stat, ')'); /* "pid (comm) S ..." */
	return state && state[1] == ' ' && state[2] == 'S';
}

/*
 * Callers waiting for a busy pool are served in the order they came, none
 * starved. Each waiter is seen asleep in line before the next starts, and the
 * order served is read from the ids the database gave out, so neither a slow
 * thread start nor the moment a waiter returns can reorder them.
 */
Test(store_pg, pool_serves_waiters_in_order)
{
	enum { WAITERS = 6 };
	struct store_opts opts = test_opts();
	struct slow_rotation sr = {VERR_INTERNAL, 0};
	struct queued q[WAITERS];
	pthread_t t, w[WAITERS];
	need_pg();
	opts.pool_size = 1;
	opts.max_overflow = 0;
	opts.pool_timeout_ms = 10000;
	open_migrated(&opts);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "locked", 99999);

	hold_a_connection(&sr, &t);
	for (int i = 0; i < WAITERS; i++) {
		q[i] = (struct queued){.index = i, .rc = VERR_INTERNAL};
		cr_assert_eq(pthread_create(&w[i], NULL, create_in_line, &q[i]), 0);
		double deadline = now_ms() + 10000;
		while (!(q[i].tid && sleeping(q[i].tid)) && now_ms() < deadline)
			usleep(1000);
		cr_assert(q[i].tid && sleeping(q[i].tid), "waiter %d never got in line", i);
	}
	exec_raw("COMMIT");
	pthread_join(t, NULL);
	for (int i = 0; i < WAITERS; i++)
		pthread_join(w[i], NULL);
	cr_assert_eq(sr.rc, VERR_OK);
	for (int i = 0; i < WAITERS; i++) {
		cr_assert_eq(q[i].rc, VERR_OK);
		cr_assert(i == 0 || q[i].user_id > q[i - 1].user_id,
		          "waiter %d was served before waiter %d", i, i - 1);
	}
}

/*
 * A TCP relay in front of the test server: it forwards the first `forward`
 * connections, then holds later ones silent (a connect through it hangs
 * until libpq's connect_timeout) or, without hold, closes them at once.
 */
static struct relay {
	int lfd, forward;
	bool hold;
	_Atomic int accepted;
	int held[16], nheld;
	struct sockaddr_in server;
	pthread_t thread;
} relay;

static void *pump(void *arg)
{
	int *fd = arg;
	struct pollfd p[2] = {{.fd = fd[0], .events = POLLIN}, {.fd = fd[1], .events = POLLIN}};
	char b[8192];
	for (;;) {
		if (poll(p, 2, -1) < 0)
			break;
		int from = p[0].revents ? 0 : 1;
		ssize_t n = read(fd[from], b, sizeof(b));
		if (n <= 0 || write(fd[!from], b, (size_t)n) != n)
			break;
	}
	close(fd[0]);
	close(fd[1]);
	free(fd);
	return NULL;
}

static void *relay_main(void *arg)
{
	(void)arg;
	int fd;
	while ((fd = accept(relay.lfd, NULL, NULL)) >= 0) {
		if (relay.accepted++ < relay.forward) {
			int *fds = malloc(2 * sizeof(int));
			fds[0] = fd;
			fds[1] = socket(AF_INET, SOCK_STREAM, 0);
			cr_assert_eq(
			    connect(fds[1], (struct sockaddr *)&relay.server, sizeof(relay.server)),
			    0);
			pthread_t t;
			pthread_create(&t, NULL, pump, fds);
			pthread_detach(t);
		} else if (relay.hold && relay.nheld < 16) {
			relay.held[relay.nheld++] = fd;
		} else {
			close(fd);
		}
	}
	return NULL;
}

/* Points url at a relay to the test server, which forwards the first `forward` connections. */
static void relay_start(int forward, bool hold)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	relay = (struct relay){.forward = forward, .hold = hold, .server.sin_family = AF_INET};
	if (inet_pton(AF_INET, PQhostaddr(raw), &relay.server.sin_addr) != 1)
		cr_skip_test("the test server is not at an IPv4 address");
	relay.server.sin_port = htons((uint16_t)atoi(PQport(raw)));
	relay.lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(relay.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(relay.lfd, 16), 0);
	getsockname(relay.lfd, (struct sockaddr *)&a, &len);
	char extra[160];
	snprintf(extra, sizeof(extra), "application_name=%s&host=127.0.0.1&port=%d", schema,
	         ntohs(a.sin_port));
	char *u = pg_test_schema_url(schema, extra);
	snprintf(url, sizeof(url), "%s", u);
	free(u);
	pthread_create(&relay.thread, NULL, relay_main, NULL);
}

/* Stops accepting, and lets the held connects fail. */
static void relay_stop(void)
{
	shutdown(relay.lfd, SHUT_RDWR);
	pthread_join(relay.thread, NULL);
	close(relay.lfd);
	for (int i = 0; i < relay.nheld; i++)
		close(relay.held[i]);
}

struct get_user {
	int64_t id;
	_Atomic int tid;
	enum verr rc;
	struct verror err;
	double done_at;
};

static void *get_user(void *arg)
{
	struct get_user *g = arg;
	struct user u;
	g->tid = gettid();
	g->rc = store_user_get(db, g->id, &u, &g->err);
	g->done_at = now_ms();
	return NULL;
}

/*
 * A pool of one connection and one more slot, opened through a relay that
 * forwards only that first connection and holds (hold) or closes the next
 * ones; its connection held by a rotation (hold_a_connection). Returns the
 * user, ann.
 */
static int64_t pool_behind_relay(bool hold, struct slow_rotation *sr, pthread_t *t)
{
	struct store_opts opts = test_opts();
	need_pg();
	relay_start(1, hold);
	opts.pool_size = 1;
	opts.max_overflow = 1;
	opts.pool_timeout_ms = 20000;
	open_migrated(&opts);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "locked", 99999);
	hold_a_connection(sr, t);
	return ann;
}

/*
 * Callers never connect themselves: with the only connection busy and a
 * new one hanging in its connect, a caller takes the busy one as soon as it
 * comes back. (A caller that connected itself waited for its own connect:
 * 20 ms and more each on a loaded server, seconds on a slow network.)
 */
Test(store_pg, a_caller_takes_a_returned_connection_while_a_connect_hangs)
{
	struct slow_rotation sr = {VERR_INTERNAL, 0};
	pthread_t t, g;
	int64_t ann = pool_behind_relay(true, &sr, &t);
	struct get_user gu = {.id = ann, .rc = VERR_INTERNAL};
	cr_assert_eq(pthread_create(&g, NULL, get_user, &gu), 0);
	double deadline = now_ms() + 10000;
	while (!(relay.accepted == 2 && gu.tid && sleeping(gu.tid)) && now_ms() < deadline)
		usleep(1000);
	cr_assert_eq(relay.accepted, 2, "no second connection was asked for");
	cr_assert(sleeping(gu.tid), "the caller never waited");
	double released = now_ms();
	exec_raw("COMMIT");
	pthread_join(t, NULL);
	pthread_join(g, NULL);
	cr_assert_eq(sr.rc, VERR_OK);
	cr_assert_eq(gu.rc, VERR_OK, "%s", gu.err.detail);
	/* libpq gives up on the held connect after 5 s; the caller had the returned one long
	 * before. */
	cr_assert_lt(gu.done_at - released, 2500, "the caller waited %.0f ms after the release",
	             gu.done_at - released);
	relay_stop();
}

/* A connect that fails fails a waiting caller with its own message, at once, not at the pool
 * timeout. */
Test(store_pg, a_failed_connect_fails_the_waiting_caller_with_its_message)
{
	struct slow_rotation sr = {VERR_INTERNAL, 0};
	pthread_t t;
	int64_t ann = pool_behind_relay(false, &sr, &t);
	struct get_user gu = {.id = ann, .rc = VERR_INTERNAL};
	double t0 = now_ms();
	get_user(&gu);
	cr_assert_eq(gu.rc, VERR_UNAVAILABLE);
	cr_assert(strstr(gu.err.detail, "cannot connect to the database") != NULL, "%s",
	          gu.err.detail);
	cr_assert_lt(gu.done_at - t0, 5000);
	exec_raw("COMMIT");
	pthread_join(t, NULL);
	cr_assert_eq(sr.rc, VERR_OK);
	relay_stop();
}

Test(store_pg, statement_timeout_is_unavailable)
{
	struct verror err = {0};
	struct store_opts opts = test_opts();
	int64_t uid;
	need_pg();
	opts.statement_timeout_ms = 200;
	open_migrated(&opts);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "locked", 99999);
	exec_raw("BEGIN");
	exec_raw("SELECT 1 FROM refresh_tokens WHERE token_hash = 'locked' FOR UPDATE");
	double t0 = now_ms();
	cr_assert_eq(store_token_rotate(db, "locked", "x", 99999, 2000, 0, &uid, &err),
	             VERR_UNAVAILABLE);
	cr_assert_lt(now_ms() - t0, 2000);
	exec_raw("COMMIT");
	cr_assert_eq(store_token_rotate(db, "locked", "x", 99999, 2000, 0, &uid, &err), VERR_OK,
	             "%s", err.detail);
}

/* The server drops the pool's idle connections (as in a restart): the next call reconnects. */
Test(store_pg, dead_idle_connections_are_replaced)
{
	struct verror err = {0};
	struct user u;
	struct store_opts opts = test_opts();
	need_pg();
	opts.pool_size = 2;
	open_migrated(&opts);
	int64_t ann = make_user("ann@x.org");
	cr_assert_eq(query_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	                       "WHERE application_name = '%s' AND pid <> pg_backend_pid()",
	                       schema),
	             1);
	usleep(100000);
	cr_assert_eq(store_user_get(db, ann, &u, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_ping(db, &err), VERR_OK, "%s", err.detail);
}

Test(store_pg, open_fails_cleanly_without_a_server)
{
	struct verror err = {0};
	struct store *s = (struct store *)&err;
	need_pg();
	cr_assert_eq(
	    store_open("postgresql://vault@127.0.0.1:1/vault?connect_timeout=2", NULL, &s, &err),
	    VERR_UNAVAILABLE);
	cr_assert_null(s);
}
